"""Parameter references: how a layer file names the parameter a value comes from.

`inpatient.ratio[scheme][level]` names, for a claim of a resident at a level-3 hospital, the
parameter `inpatient.ratio[resident][level3]`, one of those the loader makes from a parameter with
`breakdown: [scheme, level]` (rules/files.BreakdownFile). A part may also be one of the field's
values: `inpatient.ratio[employee][level]`.
"""

from __future__ import annotations

from functools import lru_cache

from .files import BREAKDOWN_FIELDS


@lru_cache(maxsize=4096)
def split_ref(ref: str) -> tuple[str, tuple[str, ...]]:
    """A parameter reference as its name and its `[...]` parts: 'a.b[scheme][level1]' ->
    ('a.b', ('scheme', 'level1')); a plain name has no parts."""
    base, bracket, rest = ref.partition("[")
    return base, tuple(rest.rstrip("]").split("][")) if bracket else ()


def resolve_ref(ref: str, fact: dict) -> str:
    """The parameter a reference names for this claim: each `[field]` part replaced by the claim's
    value of that field ('inpatient.ratio[scheme][level]' -> 'inpatient.ratio[resident][level3]')."""
    base, parts = split_ref(ref)
    return base + "".join(f"[{fact[p] if p in BREAKDOWN_FIELDS else p}]" for p in parts)
