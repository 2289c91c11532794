"""Safe YAML reading that keeps line numbers and never produces floats.

Numbers written with a decimal point become `Decimal` straight from their text, so 0.1 stays
0.1. A `Locator` maps a path inside the document (('layers', 2, 'ratio')) to its line, which
is how a validation error names the line of a rule file or a claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml

from .errors import BenefitsError


class YamlError(BenefitsError):
    """A file is not readable YAML (syntax, encoding, or a construct we do not accept)."""

    def __init__(self, name: str, line: int | None, message: str):
        self.name, self.line, self.message = name, line, message
        super().__init__(f"{name}{f':{line}' if line else ''}: {message}")


class _Loader(yaml.SafeLoader):
    """SafeLoader with decimal floats. No custom tags, no Python objects."""


def _decimal(loader: _Loader, node: yaml.ScalarNode) -> Decimal:
    text = loader.construct_scalar(node).replace("_", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        mark = node.start_mark
        raise yaml.constructor.ConstructorError(
            None, None, f"expected a finite decimal number, found {text!r}", mark
        )
    return value


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
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_Loader.add_constructor("tag:yaml.org,2002:float", _decimal)
_Loader.add_constructor("tag:yaml.org,2002:map", _mapping)


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


def load_text(text: str, name: str) -> tuple[object, Locator]:
    """Parse YAML text; return the data and a locator. Raises YamlError naming `name` and the line."""
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlError(name, mark.line + 1 if mark else None, f"not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise YamlError(name, None, f"not valid YAML: {exc}") from None
    lines: dict[tuple, int] = {}
    if node is not None:
        _index(node, (), lines)
    return data, Locator(lines)


def load_file(path: Path) -> tuple[object, Locator]:
    """Read a UTF-8 YAML file; see `load_text`."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise YamlError(str(path), None, f"cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlError(str(path), None, f"not UTF-8 text (byte {exc.start})") from None
    return load_text(text, str(path))
