"""Reading JSON text with exact numbers: `benefits.loads`, the one JSON reader of the project.

A service receives claims as JSON text. `json.loads` reads 1234.56 as a binary float, which cannot
hold fen exactly (the models refuse floats for that reason), so every JSON number is read here from
its own text: a number with a fraction or an exponent becomes `Decimal` (15000.0 and 15000.00 and
"15000.00" then settle alike, and 15000.001 is refused by the model with its path), a whole number
an `int`. A key given twice in one object, NaN and Infinity, and documents beyond a claim file's
bounds (size, nesting, values) are refused. Claim files named *.json are read here too (yamlio).
"""

from __future__ import annotations

import json
import re
import sys
from decimal import Decimal
from typing import Any

from .errors import BenefitsError
from .surrogates import lone_surrogate, problem
from .yamlio import MAX_BYTES, MAX_DEPTH, MAX_NODES  # a claim file's bounds: JSON costs no more than YAML

MAX_DIGITS = 4300
"""Digits of a whole number: Python's own default bound on reading an int from text (a longer one
raises a bare ValueError that names no place). A process that lowered that bound
(sys.set_int_max_str_digits) gets its own, as a JsonError."""


class JsonError(BenefitsError, ValueError):
    """JSON text that is not read: its syntax, a key twice, a number JSON has no exact value for,
    or a bound. `line` and `column` say where when the parser knows (1-based, else None).

    Also a ValueError, as what `json.loads` raises for bad text is, so that callers written
    against `json.loads` keep catching it."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        self.message, self.line, self.column = message, line, column
        where = f"line {line} column {column}: " if line is not None else ""
        super().__init__(f"{where}{message}")


class _Refusal(ValueError):
    """Raised from inside json.loads by our hooks; turned into a JsonError."""


def _object(pairs: list[tuple[str, Any]]) -> dict:
    # json.loads keeps the last of two equal keys: which value a claim settles on is not a parser's choice
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refusal(f"duplicate key {key!r}")
            seen.add(key)
    return out


def _constant(name: str) -> Any:
    raise _Refusal(f"expected a finite number, found {name}")


def _whole(text: str) -> int:
    process = sys.get_int_max_str_digits()  # 0: the process set no bound
    most = min(MAX_DIGITS, process) if process else MAX_DIGITS
    if len(text.lstrip("-")) > most:
        raise _Refusal(f"a whole number of more than {most} digits")
    return int(text)


def _bounds(data: object) -> None:
    """MAX_DEPTH and MAX_NODES, level by level (no recursion: the data may be deep)."""
    level, depth, values = [data], 0, 0
    while level:
        depth += 1
        values += len(level)
        if depth > MAX_DEPTH:
            raise JsonError(f"not valid JSON: nested more than {MAX_DEPTH} levels deep")
        if values > MAX_NODES:
            raise JsonError(f"too large: more than {MAX_NODES} values")
        level = [v for x in level if isinstance(x, (dict, list))
                 for v in ([*x.keys(), *x.values()] if isinstance(x, dict) else x)]


def loads(text: str | bytes) -> Any:
    """JSON text as Python data with exact numbers: a number with a fraction or exponent as
    `Decimal` (read from its digits, never through a float), a whole number as `int`.

    Refused with a `JsonError` (a `BenefitsError`, also a `ValueError`): bytes that are not UTF-8,
    invalid syntax, a key twice in one object, NaN and Infinity, nesting deeper than MAX_DEPTH, more
    than MAX_NODES values or MAX_BYTES characters.

        claim = benefits.loads(request_body)
        settlement = benefits.evaluate(claim, rules)
    """
    if len(text) > MAX_BYTES:
        raise JsonError(f"too large: more than {MAX_BYTES} {'bytes' if isinstance(text, bytes) else 'characters'}")
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonError(f"not UTF-8 text (byte {exc.start})") from None
    elif not isinstance(text, str):
        raise TypeError(f"expected JSON text (str or bytes), got {type(text).__name__}")
    try:
        data = json.loads(text, parse_float=Decimal, parse_int=_whole, parse_constant=_constant,
                          object_pairs_hook=_object)
    except json.JSONDecodeError as exc:
        raise JsonError(f"not valid JSON: {exc.msg}", exc.lineno, exc.colno) from None
    except _Refusal as exc:
        raise JsonError(f"not valid JSON: {exc}") from None
    except RecursionError:  # the parser recurses per level: far deeper than MAX_DEPTH
        raise JsonError(f"not valid JSON: nested more than {MAX_DEPTH} levels deep") from None
    _bounds(data)
    if _SURROGATE_ESCAPE.search(text) or lone_surrogate(text) is not None:
        _check_surrogates(text, data)
    return data


# An escape of either half of a surrogate pair; a lone one is one not beside its other half (an escaped
# backslash before it, '\\ud800', is text, not an escape: then only the line given may be off)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_HIGH, _LOW = r"\\u[dD][89abAB][0-9a-fA-F]{2}", r"\\u[dD][c-fC-F][0-9a-fA-F]{2}"
_LONE_ESCAPE = re.compile(rf"{_HIGH}(?!{_LOW})|(?<!{_HIGH}){_LOW}")


def _check_surrogates(text: str, data: object) -> None:
    """A string holding a lone surrogate (`"\\ud800"`, or the character itself in str input) is refused,
    naming the string and, where the text shows it, its line and column."""
    level = [data]
    while level:
        for value in level:
            at = lone_surrogate(value) if isinstance(value, str) else None
            if at is not None:
                shown = value if len(value) <= 40 else value[:40] + "..."
                where = lone_surrogate(text)
                if where is None:
                    found = _LONE_ESCAPE.search(text)
                    where = found.start() if found is not None else None
                line = None if where is None else text.count("\n", 0, where) + 1
                column = None if where is None else where - text.rfind("\n", 0, where)
                raise JsonError(f"not valid JSON: the string {shown!r} holds a lone surrogate: {problem(value, at)}",
                                line, column)
        level = [v for x in level if isinstance(x, (dict, list))
                 for v in ([*x.keys(), *x.values()] if isinstance(x, dict) else x)]
