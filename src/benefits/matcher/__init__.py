"""Matchers: given the pack's named conditions and one claim's fact, which rules fire.

Two implementations of one small interface:
- `ReferenceMatcher`: plain Python over the condition tree; the semantics tests hold to.
- `DurableMatcher`: the production matcher, the same conditions compiled into durable-rules.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Protocol

from ..conditions import Node
from ..errors import BenefitsError


class LimitError(BenefitsError):
    """Some conditions are too big for the production matcher (durable-rules 2.0.28; the measured
    limits are in matcher/durable.py). Raised by `make_matcher` before anything is built.

    `rule_ids`: the rules at fault, as keys of the `rules` mapping given to `make_matcher`; empty
    when the limit is the process's own (too many packs loaded at once), not a rule's.
    `message`: what is too big, the bound, and what to do (split the condition into rows).
    `reasons`: the same for each rule id alone (rules can be too big in different ways).
    """

    SHOWN = 10  # rule ids named in str(); all of them are in `rule_ids`

    def __init__(self, rule_ids: Iterable[str], message: str, reasons: Mapping[str, str] | None = None):
        self.rule_ids: tuple[str, ...] = tuple(rule_ids)
        self.message = message
        self.reasons: dict[str, str] = {rid: (reasons or {}).get(rid, message) for rid in self.rule_ids}
        named = ", ".join(self.rule_ids[: self.SHOWN])
        if len(self.rule_ids) > self.SHOWN:
            named += f" and {len(self.rule_ids) - self.SHOWN} more"
        super().__init__(f"{named}: {message}" if named else message)


class Matcher(Protocol):
    """Compiled once per loaded pack; `fired` is called once per claim and keeps no state."""

    def fired(self, fact: dict) -> frozenset[str]:
        """The ids of every rule whose condition holds for `fact`."""
        ...


def make_matcher(rules: Mapping[str, Node], kind: str = "durable", memo: bool = True) -> Matcher:
    """Build a matcher of the given kind ('durable' or 'reference') over named conditions; with
    `memo`, answers are remembered per combination of the fields the conditions read.

    Raises LimitError, naming the rules, for conditions the durable matcher cannot hold."""
    if kind == "reference":
        from .durable import plan
        from .reference import ReferenceMatcher

        plan(rules)  # the same limits, so that a pack is valid or not whichever matcher loads it
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


__all__ = ["LimitError", "Matcher", "make_matcher"]
