"""The reference matcher: evaluates each condition tree directly in Python."""

from __future__ import annotations

from typing import Mapping

from ..conditions import Node, holds


class ReferenceMatcher:
    def __init__(self, rules: Mapping[str, Node]):
        self._rules = dict(rules)

    def fired(self, fact: dict) -> frozenset[str]:
        return frozenset(rid for rid, node in self._rules.items() if holds(node, fact))
