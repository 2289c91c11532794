"""A bounded memo in front of a matcher.

Which rules fire depends only on the fact fields the pack's conditions read (scheme, visit, level,
groups, ...), so a settlement service sees few distinct combinations among many claims. The memo
keys on that projection of the fact and asks the real matcher once per combination; durable-rules
then runs rarely (domain: shared/durable-rules.md, "What follows for speed").
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Mapping

from ..conditions import Cmp, Has, Node, Not, group_key
from ..memo import keep
from . import Matcher


def _keys(node: Node) -> set[str]:
    """The fact keys a condition reads (a `has` test reads one flattened boolean)."""
    if isinstance(node, Has):
        return {group_key(node.field, node.value)}
    if isinstance(node, Cmp):
        return {node.field}
    if isinstance(node, Not):
        return _keys(node.item)
    return set().union(*(_keys(i) for i in node.items))


def _numbers(node: Node, found: dict[str, set]) -> None:
    """Each field the conditions compare with numbers (dates as YYYYMMDD, ages), and those numbers."""
    if isinstance(node, Cmp):
        found.setdefault(node.field, set()).add(node.value)
    elif isinstance(node, Not):
        _numbers(node.item, found)
    elif not isinstance(node, Has):
        for item in node.items:
            _numbers(item, found)


class MemoMatcher:
    """Same answers as `inner`, remembered per projection; at most `maxsize` entries (then it starts over).

    A number compared with thresholds (the deciding date, an age) enters the key as its place among
    them: every day between two dates the conditions name fires the same rules, so a year of claims
    needs a handful of entries per combination of the other fields, not one per day."""

    def __init__(self, inner: Matcher, rules: Mapping[str, Node], maxsize: int = 4096):
        self.inner = inner
        self._keys = tuple(sorted(set().union(*(_keys(n) for n in rules.values())) if rules else ()))
        compared: dict[str, set] = {}
        for node in rules.values():
            _numbers(node, compared)
        self._ranked = tuple(
            (i, sorted(values), frozenset(values)) for i, k in enumerate(self._keys)
            if (values := compared.get(k)) and all(type(v) is int for v in values))
        self._memo: dict[tuple, frozenset[str]] = {}
        self.maxsize = maxsize

    def fired(self, fact: dict) -> frozenset[str]:
        key = list(map(fact.get, self._keys))
        for i, points, named in self._ranked:
            v = key[i]
            if type(v) is int:  # absent (None) stays as it is
                key[i] = (bisect_left(points, v), v in named)
        key = tuple(key)
        hit = self._memo.get(key)
        if hit is None:
            hit = keep(self._memo, key, self.inner.fired(fact), self.maxsize)
        return hit

    def __len__(self) -> int:
        return len(self._memo)
