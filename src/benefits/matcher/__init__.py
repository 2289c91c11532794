"""Matchers: given the pack's named conditions and one claim's fact, which rules fire.

Two implementations of one small interface:
- `ReferenceMatcher`: plain Python over the condition tree; the semantics tests hold to.
- `DurableMatcher`: the production matcher, the same conditions compiled into durable-rules.
"""

from __future__ import annotations

from typing import Mapping, Protocol

from ..conditions import Node


class Matcher(Protocol):
    """Compiled once per loaded pack; `fired` is called once per claim and keeps no state."""

    def fired(self, fact: dict) -> frozenset[str]:
        """The ids of every rule whose condition holds for `fact`."""
        ...


def make_matcher(rules: Mapping[str, Node], kind: str = "durable") -> Matcher:
    """Build a matcher of the given kind ('durable' or 'reference') over named conditions."""
    if kind == "reference":
        from .reference import ReferenceMatcher

        return ReferenceMatcher(rules)
    if kind == "durable":
        from .durable import DurableMatcher

        return DurableMatcher(rules)
    raise ValueError(f"unknown matcher {kind!r}; expected 'durable' or 'reference'")


__all__ = ["Matcher", "make_matcher"]
