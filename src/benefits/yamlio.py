"""Safe YAML (and JSON) reading that keeps line numbers and never produces floats.

Numbers written with a decimal point become `Decimal` straight from their text, so 0.1 stays
0.1. A `Locator` maps a path inside the document (('layers', 2, 'ratio')) to its line, which
is how a validation error names the line of a rule file or a claim.

Plain scalars are resolved by our own rules (`_Resolver`), not YAML 1.1's: a number is written in
decimal digits (`012000` is twelve thousand, never octal; `1:23:20`, `0x10`, `1_000` and `1e3` stay
text, which no amount accepts), a boolean is true or false, a date is YYYY-MM-DD. A `.json` file
is read by a JSON parser (`012000` is not JSON).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import os
import re
import stat

import yaml

from .errors import BenefitsError

# Bounds on what a document may cost to read, so hostile input cannot hang the process or take
# unbounded memory: the file's size, its nesting, and its values, counted as written and again
# once anchors and aliases are expanded (a "billion laughs" bomb is a few hundred bytes that
# expand to 10**9 values). Composing and constructing are Python even with libyaml: 300,000
# values (some 20,000 line items) cost about 200 MB and 7 s (measured 2026-11-23).
MAX_BYTES = 3_000_000
MAX_DEPTH = 64
MAX_NODES = 300_000


class YamlError(BenefitsError):
    """A file is not readable YAML (syntax, encoding, or a construct we do not accept)."""

    def __init__(self, name: str, line: int | None, message: str):
        self.name, self.line, self.message = name, line, message
        super().__init__(f"{name}{f':{line}' if line else ''}: {message}")


try:  # libyaml, when PyYAML has it (its wheels do): scanning and parsing in C, 4x faster
    from yaml._yaml import CParser
except ImportError:  # pragma: no cover - a PyYAML built without libyaml
    CParser = None


class _Resolver(yaml.resolver.BaseResolver):
    """Which plain scalars are not text. A smaller set than YAML 1.1's, close to YAML 1.2's core
    schema: YAML 1.1 reads a zero-padded export `00012000` as octal (5,120), `1:23:20` as base 60
    (5,000) and `yes`/`on` as true, each a wrong number that would settle with no error."""

    yaml_implicit_resolvers: dict = {}


# What a number and a date are written as: plain, and behind an explicit tag (the constructors below)
_INT_TEXT = r"[-+]?[0-9]+"
_FLOAT_TEXT = r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)"
_DATE_TEXT = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"  # a date; a time of day stays text

for _tag, _pattern, _first in [
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", rf"^{_INT_TEXT}$", "-+0123456789"),
    ("float", rf"^{_FLOAT_TEXT}$", "-+.0123456789"),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("timestamp", rf"^{_DATE_TEXT}$", "0123456789"),
    ("merge", r"^<<$", "<"),  # recognised only to be refused (_merge)
]:
    _Resolver.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), list(_first))


if CParser is not None:
    class _Safe(yaml.composer.Composer, CParser, yaml.constructor.SafeConstructor, _Resolver):
        """SafeLoader's parts with libyaml's event parser, but PyYAML's Python composer first in
        the MRO (not CParser's own): composing is where nesting and size are bounded, below."""

        def __init__(self, stream):
            CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            _Resolver.__init__(self)
else:  # pragma: no cover
    class _Safe(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer,
                yaml.constructor.SafeConstructor, _Resolver):
        def __init__(self, stream):
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            _Resolver.__init__(self)


class _Loader(_Safe):
    """SafeLoader with decimal floats. No custom tags, no Python objects."""

    _depth = 0
    _nodes = 0
    aliased = False  # an alias reuses a node: only then can the document expand beyond the counts

    def compose_node(self, parent, index):
        # PyYAML composes recursively: refuse deep nesting before Python's stack runs out,
        # and stop counting values at the bound instead of after composing them all
        self._depth += 1
        self._nodes += 1
        if self.check_event(yaml.events.AliasEvent):
            self.aliased = True
        try:
            if self._depth > MAX_DEPTH or self._nodes > MAX_NODES:
                what = f"nested more than {MAX_DEPTH} levels deep" if self._depth > MAX_DEPTH else f"too large: more than {MAX_NODES} values"
                raise yaml.composer.ComposerError(None, None, what, self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node, deep=False):
        # PyYAML's own constructors raise plain exceptions on some values (2021-13-45, !!int x,
        # !!bool maybe, 0b_, ints of more than 4300 digits): make them YAML errors with a line.
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, ArithmeticError, LookupError, AttributeError) as exc:
            tag = str(node.tag).rsplit(":", 1)[-1]
            value = node.value if isinstance(node.value, str) else ""
            shown = value if len(value) <= 40 else value[:40] + "..."
            why = f" ({str(exc).split(': ')[0][:100]})" if isinstance(exc, (ValueError, ArithmeticError)) else ""
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {shown!r} as {tag}{why}", node.start_mark
            ) from None


_DECIMAL = re.compile(rf"{_FLOAT_TEXT}|{_INT_TEXT}")


def _decimal(loader: _Loader, node: yaml.ScalarNode) -> Decimal:
    # By the same rule as a plain number, also for an explicit !!float (which Decimal() alone would
    # read from 1e3, 1_000, " 1000 " or another script's digits)
    text = loader.construct_scalar(node)
    if not _DECIMAL.fullmatch(text):
        raise yaml.constructor.ConstructorError(
            None, None, f"expected a number in decimal digits (such as 1234.50), found {_excerpt(text)}",
            node.start_mark)
    return Decimal(text)


_DECIMAL_INT = re.compile(_INT_TEXT)


def _int(loader: _Loader, node: yaml.ScalarNode) -> int:
    # Decimal, whatever the leading zeros; also for an explicit !!int, which YAML 1.1 reads as
    # octal, hex, binary or base 60.
    text = loader.construct_scalar(node)
    if not _DECIMAL_INT.fullmatch(text):
        raise yaml.constructor.ConstructorError(
            None, None, f"expected a whole number in decimal digits, found {_excerpt(text)}", node.start_mark)
    return int(text)


def _bool(loader: _Loader, node: yaml.ScalarNode) -> bool:
    text = loader.construct_scalar(node)
    if text.lower() not in ("true", "false"):
        raise yaml.constructor.ConstructorError(None, None, f"expected true or false, found {_excerpt(text)}", node.start_mark)
    return text.lower() == "true"


_DATE = re.compile(_DATE_TEXT)


def _date(loader: _Loader, node: yaml.ScalarNode):
    # A date is YYYY-MM-DD, also with an explicit !!timestamp (no time of day: nothing we read has one)
    text = loader.construct_scalar(node)
    if not _DATE.fullmatch(text):
        raise yaml.constructor.ConstructorError(
            None, None, f"expected a date written YYYY-MM-DD, found {_excerpt(text)}", node.start_mark)
    return loader.construct_yaml_timestamp(node)


def _refused(loader: _Loader, node: yaml.Node):
    # Values no file of ours holds, which JSON cannot carry either (bytes, sets, ordered pairs)
    tag = str(node.tag).rsplit(":", 1)[-1]
    raise yaml.constructor.ConstructorError(None, None, f"a !!{tag} value is not accepted here", node.start_mark)


def _merge(loader: _Loader, node: yaml.Node):
    # `<<:` would copy a mapping's keys into another, which a reader of the file does not see where
    # they take effect: every value is written out where it applies
    raise yaml.constructor.ConstructorError(
        None, None, "a merge key (<<) is not accepted: write out the values it would copy", node.start_mark)


def _excerpt(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _mapping(loader: _Loader, node: yaml.MappingNode) -> dict:
    # PyYAML keeps the last of two equal keys; in a rule file that hides a mistake.
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            ) from None
        if duplicate:
            written = key_node.value if isinstance(key_node.value, str) else key  # 2021-07-01, not datetime.date(...)
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {written!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_Loader.add_constructor("tag:yaml.org,2002:float", _decimal)
_Loader.add_constructor("tag:yaml.org,2002:int", _int)
_Loader.add_constructor("tag:yaml.org,2002:bool", _bool)
_Loader.add_constructor("tag:yaml.org,2002:map", _mapping)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _date)
_Loader.add_constructor("tag:yaml.org,2002:merge", _merge)
for _tag in ("binary", "set", "omap", "pairs"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refused)


@dataclass
class Locator:
    """Finds the line of a path inside a YAML document."""

    lines: dict[tuple, int]

    def line(self, path: tuple) -> int | None:
        """The line of `path`, or of the deepest enclosing node that has one."""
        path = tuple(str(part) for part in path)  # keys as written: dates, numbers and all
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def within(self, key: object) -> "Locator":
        """The locator of the value under `key`: its paths from there (a case file's claim)."""
        key = str(key)
        return Locator({path[1:]: n for path, n in self.lines.items() if path[:1] == (key,)})


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_size(root: yaml.Node, name: str) -> None:
    """Refuse a document whose anchors and aliases expand beyond MAX_NODES values or MAX_DEPTH
    levels, or refer to themselves. Iterative, and each shared node is measured once."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    open_: set[int] = set()  # nodes on the current path
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            open_.discard(key)
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            if size[key] > MAX_NODES or depth[key] > MAX_DEPTH:
                what = f"more than {MAX_NODES} values" if size[key] > MAX_NODES else f"more than {MAX_DEPTH} levels"
                raise YamlError(name, node.start_mark.line + 1, f"too large: anchors and aliases expand it to {what}")
            continue
        if key in size:
            continue
        if key in open_:
            raise YamlError(name, node.start_mark.line + 1, "an alias refers to a node that contains it (a recursive structure)")
        open_.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in _children(node) if id(k) not in size)


def _index(node: yaml.Node, path: tuple, lines: dict[tuple, int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[path + (key,)] = key_node.start_mark.line + 1
            _index(value_node, path + (key,), lines)
            if not isinstance(value_node, yaml.ScalarNode):
                lines[path + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, path + (str(i),), lines)


# Line breaks to YAML 1.1 (which PyYAML reads) that editors, terminals, `git diff` and `wc -l` do not show as
# one: after one of them, what reads as the rest of a comment is a line of YAML, a value or a rule no
# reviewer saw. A carriage return alone is one too (a terminal prints the rest of the line over its start).
_HIDDEN_BREAK = re.compile("\r(?!\n)|[\x85\u2028\u2029]")
_BREAK_NAMES = {"\r": "a carriage return (U+000D) not followed by a line feed", "\x85": "U+0085 (NEXT LINE)",
                "\u2028": "U+2028 (LINE SEPARATOR)", "\u2029": "U+2029 (PARAGRAPH SEPARATOR)"}


def _check_line_breaks(text: str, name: str) -> None:
    found = _HIDDEN_BREAK.search(text)
    if found is not None:
        line = text.count("\n", 0, found.start()) + 1
        column = found.start() - (text.rfind("\n", 0, found.start()) + 1) + 1
        raise YamlError(name, line, f"column {column}: {_BREAK_NAMES[found.group()]}, which YAML reads as a line "
                                    "break and editors and diffs do not show as one (what follows it could be "
                                    "a line no reviewer sees); end lines with a line feed, and write such a "
                                    "character in a double-quoted string as an escape (\\u2028)")


def load_text(text: str, name: str) -> tuple[object, Locator]:
    """Parse YAML text; return the data and a locator. Raises YamlError naming `name` and the line."""
    if len(text) > MAX_BYTES:
        raise YamlError(name, None, f"too large: more than {MAX_BYTES} characters")
    _check_line_breaks(text, name)
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is not None and loader.aliased:  # without aliases the composer's own bounds hold
                _check_size(node, name)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context
        if problem and "maximum nesting depth" in problem:
            # libyaml (PyYAML 6.0.4 on) refuses nesting itself, at a depth far above ours, before
            # our composer sees it: the bound and its words are ours whichever layer keeps it
            problem = f"nested more than {MAX_DEPTH} levels deep"
        if mark and problem == "found character that cannot start any token":  # libyaml does not say which
            line = text.split("\n")[mark.line] if mark.line < text.count("\n") + 1 else ""
            if mark.column < len(line):
                problem = f"found character {line[mark.column]!r} that cannot start any token"
        raise YamlError(name, mark.line + 1 if mark else None, f"not valid YAML: {problem}") from None
    except yaml.reader.ReaderError as exc:  # a character YAML refuses (NUL, ...): its line, not its offset
        # libyaml counts the offset in the UTF-8 bytes it reads, PyYAML's own reader in characters
        before = (text.encode("utf-8", "surrogatepass")[:exc.position] if CParser is not None
                  else text[:exc.position]) if isinstance(exc.position, int) else None
        line = before.count(b"\n" if isinstance(before, bytes) else "\n") + 1 if before is not None else None
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        raise YamlError(name, line, f"not valid YAML: unacceptable character U+{code:04X} ({exc.reason})") from None
    except yaml.YAMLError as exc:
        raise YamlError(name, None, f"not valid YAML: {exc}") from None
    except UnicodeEncodeError as exc:  # libyaml reads UTF-8: text with a lone surrogate has none
        line = text.count("\n", 0, exc.start) + 1
        raise YamlError(name, line, f"not valid YAML: character {exc.object[exc.start]!r} is not Unicode text") from None
    lines: dict[tuple, int] = {}
    if node is not None:
        _index(node, (), lines)
    return data, Locator(lines)


def is_dir(path: Path) -> bool:
    """`Path.is_dir`, but False rather than an exception for a path the system cannot look up at
    all, such as a name longer than the file system allows (Python 3.11 raises ENAMETOOLONG)."""
    try:
        return path.is_dir()
    except OSError:
        return False


def is_file(path: Path) -> bool:
    """`Path.is_file`, but False rather than an exception for a path the system cannot look up."""
    try:
        return path.is_file()
    except OSError:
        return False


def load_json_text(text: str, name: str) -> tuple[object, Locator]:
    """Parse JSON text by JSON's rules with `benefits.loads` (numbers exact: a fraction or exponent
    becomes `Decimal`), within the same bounds as YAML; lines for the locator come from reading the
    same text as YAML, when it can be."""
    from .jsonio import JsonError, loads  # here, not above: jsonio takes its bounds from this module

    if len(text) > MAX_BYTES:
        raise YamlError(name, None, f"too large: more than {MAX_BYTES} characters")
    try:
        data = loads(text)
    except JsonError as exc:
        column = f" (column {exc.column})" if exc.column is not None else ""
        raise YamlError(name, exc.line, f"{exc.message}{column}") from None
    try:
        _, locator = load_text(text, name)
    except YamlError:  # valid JSON that PyYAML cannot read: no line numbers, the data stands
        locator = Locator({})
    return data, locator


def load_file(path: str | os.PathLike) -> tuple[object, Locator]:
    """Read a UTF-8 YAML file, or a JSON file when its name ends in .json; see `load_text`."""
    path = Path(path)
    return load_bytes(read_file(path), path)


def read_file(path: Path) -> bytes:
    """A file's bytes, at most MAX_BYTES. Only a regular file is read: a FIFO or a device (a link
    to /dev/stdin) would block for ever."""
    try:
        # O_NONBLOCK: opening a FIFO without a writer must not wait; it changes nothing for a file
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise YamlError(str(path), None, f"cannot read: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise YamlError(str(path), None, "not a regular file (a FIFO, device or socket is not read)")
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise YamlError(str(path), None, f"cannot read: {exc.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise YamlError(str(path), None, f"too large: more than {MAX_BYTES} bytes")
    return raw


def load_bytes(raw: bytes, path: Path) -> tuple[object, Locator]:
    """The bytes of file `path` read as `load_file` reads them."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlError(str(path), None, f"not UTF-8 text (byte {exc.start})") from None
    if path.suffix.lower() == ".json":
        return load_json_text(text, str(path))
    return load_text(text, str(path))
