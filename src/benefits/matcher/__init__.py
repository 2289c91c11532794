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


def make_matcher(rules: Mapping[str, Node], kind: str = "durable", memo: bool = True) -> Matcher:
    """Build a matcher of the given kind ('durable' or 'reference') over named conditions; with
    `memo`, answers are remembered per combination of the fields the conditions read."""
    if kind == "reference":
        from .reference import ReferenceMatcher

        inner: Matcher = ReferenceMatcher(rules)
    elif kind == "durable":
        from .durable import DurableMatcher

        inner = DurableMatcher(rules)
    else:
        raise ValueError(f"unknown matcher {kind!r}; expected 'durable' or 'reference'")
    if not memo:
        return inner
    from .memo import MemoMatcher

    return MemoMatcher(inner, rules)


__all__ = ["Matcher", "make_matcher"]
