"""The errors the engine raises. Each says where (file, line, field) and what was expected."""

from __future__ import annotations

import datetime as dt
import reprlib
from decimal import Decimal
from typing import Any, Callable, Sequence


class BenefitsError(Exception):
    """Base class: every error the engine raises on bad input is one of these."""


MAX_LISTED = 50
"""Problems a message lists one by one; the rest are counted. A file of 300,000 bad values would
otherwise make a message of tens of megabytes, which helps nobody."""


def first_of(names: Sequence[str], most: int = 5) -> str:
    """The first `most` of `names` on one line, and how many more: 'a, b, c, d, e and 3 more'."""
    return ", ".join(names[:most]) + (f" and {len(names) - most:,} more" if len(names) > most else "")


def listed(items: Sequence, line: Callable[[Any], str], what: str) -> list[str]:
    """One line for each of the first MAX_LISTED items, then one line counting the rest."""
    out = [line(item) for item in items[:MAX_LISTED]]
    if len(items) > MAX_LISTED:
        out.append(f"... and {len(items) - MAX_LISTED:,} more {what}")
    return out


class RuleFileError(BenefitsError):
    """A rule pack is malformed or inconsistent. Carries every problem found, not only the first
    (`problems`); its message lists the first MAX_LISTED."""

    def __init__(self, problems: list["Problem"]):
        self.problems = problems
        super().__init__("\n".join(listed(problems, str, "problems")))


class Problem:
    """One problem in a rule file: where it is and what was expected."""

    def __init__(self, file: str, line: int | None, where: str, message: str):
        self.file, self.line, self.where, self.message = file, line, where, message

    def __str__(self) -> str:
        at = f"{self.file}:{self.line}" if self.line else self.file
        field = f" [{self.where}]" if self.where else ""
        return f"{at}{field}: {self.message}"

    def __repr__(self) -> str:
        return f"Problem({self!s})"


Path = tuple  # keys and indices from the root of an input: ("claim", "items", 3, "unit_price")


class ClaimProblem:
    """One problem of a claim or its accumulators: where (`path`, from "claim" or "accumulators";
    empty for the claim as a whole, e.g. a pack's refusal) and what was expected."""

    __slots__ = ("path", "message")

    def __init__(self, path: Path, message: str):
        self.path, self.message = tuple(path), message

    def __str__(self) -> str:
        return f"{'.'.join(map(str, self.path))}: {self.message}" if self.path else self.message

    def __repr__(self) -> str:
        return f"ClaimProblem({self!s})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClaimProblem) and (self.path, self.message) == (other.path, other.message)

    def __hash__(self) -> int:
        return hash((self.path, self.message))


class ClaimError(BenefitsError):
    """A claim or its accumulators cannot be settled under the loaded rules. Carries every problem
    found with its path (`problems`), so that a caller holding the input's text can name the line
    of each (the command line does) without reading the message; the message lists MAX_LISTED."""

    offending: str = ""
    """For a pack's refusal: the claim's own value it tests, as a clause to add to the message
    ('; the claim's primary diagnosis 'I1O' is in none of them'). The message itself is the same for
    every claim the refusal catches, so that claims refused in bulk compare equal."""

    def __init__(self, problems: "list[ClaimProblem] | str", *, offending: str = ""):
        self.problems = [ClaimProblem((), problems)] if isinstance(problems, str) else list(problems)
        self.offending = offending
        super().__init__("; ".join(listed(self.problems, str, "errors")))

    @classmethod
    def at(cls, path: Path, message: str) -> "ClaimError":
        """An error about one field."""
        return cls([ClaimProblem(path, message)])


class ConditionSyntaxError(BenefitsError):
    """A `when:` condition does not parse or names an unknown field or value."""

    def __init__(self, text: str, position: int, message: str):
        self.text, self.position = text, position
        super().__init__(f"{message} (at column {position + 1} of {text!r})")


def error_path(err: dict, tags=()) -> tuple:
    """Where a pydantic error is, without pydantic's internal steps: validator names, and the tags of
    a tagged union (`tags`: a layer file's kind appears in the path, which a reader does not need)."""
    return tuple(p for p in err["loc"] if not str(p).startswith("function-") and p not in tags)


EXCERPT = 24
"""Characters of a bad value a message quotes. A value may come from a file the pack was made to
read (a link to a secrets file): a message names a container's type and quotes a scalar's start only."""

_CONTAINERS = ((dict, "a mapping"), ((list, tuple), "a list"), ((set, frozenset), "a set"))


def shown(value: object) -> str:
    """An input as a message may quote it: a container by its type, a scalar as a short escaped excerpt
    (a hostile input can be megabytes long, nested too deep for repr(), or someone else's secret).
    A number, a date, true, false and null are quoted as a YAML or JSON file writes them (2.0,
    2021-01-01), not as Python names them (Decimal('2.0'), datetime.date(2021, 1, 1))."""
    for kinds, name in _CONTAINERS:
        if isinstance(value, kinds):
            return name
    if isinstance(value, str):
        return repr(value) if len(value) <= EXCERPT else repr(value[:EXCERPT]) + "..."
    text = _written(value)
    return text if len(text) <= EXCERPT else text[:EXCERPT] + "..."


def _written(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        # as written (0.0000001, not 1E-7), unless the exponent would spell out thousands of digits
        return f"{value:f}" if value.is_finite() and -EXCERPT < value.as_tuple().exponent < EXCERPT else str(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return reprlib.repr(value)


FLOAT_HINT = "read JSON text with benefits.loads(text), not json.loads: it keeps every number exact"
"""Said after every refusal of a float: a float in a claim almost always comes from json.loads."""


_PATTERNS: dict[str, str] = {}


def described(pattern: str, what: str) -> str:
    """`pattern`, with `what` a text matching it is in a refusal's words ("a member id without control
    characters"): the module that defines a pattern says what it means, so that a refusal names the
    thing expected rather than the regular expression."""
    _PATTERNS[pattern] = what
    return pattern


_MAPPINGS: dict[str, str] = {}


def mapping_of(what: str) -> Callable[[type], type]:
    """Class decorator: a model's input that is not a mapping is refused as "expected a mapping of
    `what` (its keys)" ("pack.yaml's keys"), not by the class's name, which whoever wrote the file
    never saw."""

    def register(cls: type) -> type:
        _MAPPINGS[cls.__name__] = f"{what} ({', '.join(cls.model_fields)})"
        return cls

    return register


def _got(value: object) -> str:
    """What a mapping was expected in place of: nothing (an empty file, a key without a value), text, a list."""
    if value is None:
        return "nothing"
    return f"the text {shown(value)}" if isinstance(value, str) else shown(value)


def error_message(err: dict, tags=()) -> str:
    """A pydantic error in the words of our file formats. `tags`: the layer kinds, when the error is a
    layer file's (the tagged union of the kinds, which says what `kind:` may be only when it is wrong)."""
    if type(err.get("input")) is float:
        return f"{_message(err, tags)}; {FLOAT_HINT}"
    return _message(err, tags)


def _message(err: dict, tags) -> str:
    kind = err["type"]
    kinds = ", ".join(map(repr, sorted(tags)))
    if kind == "model_type":
        what = _MAPPINGS.get(err.get("ctx", {}).get("class_name"))
        return f"expected a mapping{f' of {what}' if what else ''}, got {_got(err.get('input'))}"
    if kind == "model_attributes_type":  # a layer file: the kinds' tagged union
        what = f" of a layer's keys (kind: one of {kinds}, and the keys of that kind)" if tags else ""
        return f"expected a mapping{what}, got {_got(err.get('input'))}"
    if kind == "union_tag_not_found":
        key = err.get("ctx", {}).get("discriminator", "").strip("'")
        return f"required key {key!r} is missing" + (f"; expected the layer's kind, one of {kinds}" if tags else "")
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key (not part of the format)"
    if kind == "string_pattern_mismatch":
        pattern = err.get("ctx", {}).get("pattern", "")
        what = _PATTERNS.get(pattern, f"text matching {pattern}")
        return f"expected {what}, got {shown(err.get('input'))}"
    if kind == "literal_error":
        return f"expected {err['ctx']['expected']}, got {shown(err.get('input'))}"
    if kind == "union_tag_invalid":
        key, given = err["ctx"]["discriminator"].strip("'"), err.get("input")
        tag = shown(given[key]) if isinstance(given, dict) and key in given else repr(err["ctx"]["tag"])
        return f"unknown layer kind {tag}; expected one of {err['ctx']['expected_tags']}"
    msg = err["msg"].removeprefix("Value error, ")
    return msg if kind == "value_error" else f"{msg} (got {shown(err.get('input'))})"
