"""A bounded memo in front of a matcher.

Which rules fire depends only on the fact fields the pack's conditions read (scheme, visit, level,
groups, ...), so a settlement service sees few distinct combinations among many claims. The memo
keys on that projection of the fact and asks the real matcher once per combination; durable-rules
then runs rarely (domain: shared/durable-rules.md, "What follows for speed").
"""

from __future__ import annotations

from typing import Mapping

from ..conditions import Cmp, Has, Node, Not, group_key
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


class MemoMatcher:
    """Same answers as `inner`, remembered per projection; at most `maxsize` entries (then it starts over)."""

    def __init__(self, inner: Matcher, rules: Mapping[str, Node], maxsize: int = 4096):
        self.inner = inner
        self._keys = tuple(sorted(set().union(*(_keys(n) for n in rules.values())) if rules else ()))
        self._memo: dict[tuple, frozenset[str]] = {}
        self.maxsize = maxsize

    def fired(self, fact: dict) -> frozenset[str]:
        key = tuple(fact.get(k) for k in self._keys)
        hit = self._memo.get(key)
        if hit is None:
            hit = self.inner.fired(fact)
            if len(self._memo) >= self.maxsize:  # bounded: a crude but predictable bound
                self._memo.clear()
            self._memo[key] = hit
        return hit

    def __len__(self) -> int:
        return len(self._memo)
