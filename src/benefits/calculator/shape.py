"""A claim's shape (就诊特征): the fields of a claim the pack's conditions can tell claims apart by,
and what follows from them alone.

Which rules fire, whether the pack covers the claim or refuses it, and what the member's counters
may hold depend only on the visit, level, region, filing, service, disease, the member's scheme,
type and groups, and the age and deciding date where a condition reads them. A settlement service
sees few such shapes among many claims, so this is worked out once per shape (`RulePack.shape`)
instead of once per claim: the fact the matcher tests is built, and the matcher asked, on the first
claim of a shape only.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

from ..errors import ClaimError, ClaimProblem
from ..facts import build_fact, date_key
from ..kinds import CounterBound
from ..models.claim import STAYS, Claim
from ..rules.pack import RulePack


@dataclass(frozen=True, slots=True)
class Shape:
    """What the pack decides for every claim of one shape."""

    fact: dict  # the flat fact of the shape's first claim (its date, where no condition reads it, is that claim's)
    fired: frozenset[str]  # the rules whose conditions hold
    limits: dict[str, CounterBound]  # per counter, the most it may hold for this member (domain.md 6.11)
    refusal: int | None  # the first of the pack's refusals that holds, if one does


def shape_of(claim: Claim, pack: RulePack, day: dt.date, disease: str) -> Shape:
    """The claim's shape under `pack` on its deciding `day`; a claim the pack does not cover raises
    ClaimError (and no shape is kept)."""
    m = claim.member
    reads = pack.fields_read
    key = (claim.visit, claim.level, claim.region, claim.filed, claim.service, disease, m.scheme, m.member_type,
           tuple(m.groups), m.age if "age" in reads else None, date_key(day) if "date" in reads else None)
    return pack.shape(key, lambda: _shape(claim, pack, day, disease))


def _shape(claim: Claim, pack: RulePack, day: dt.date, disease: str) -> Shape:
    check_claim(claim, pack)
    fact = build_fact(claim, day, disease)
    fired = pack.matcher.fired(fact)
    refusal = next((i for i, rule in enumerate(_refusal_rules(len(pack.meta.refusals))) if rule in fired), None)
    return Shape(fact, fired, pack.counter_limits(fact), refusal)


def check_claim(claim: Claim, pack: RulePack) -> None:
    """The pack covers the claim's visit kind, level and service, and has the member fields its
    conditions read."""
    meta = pack.meta
    if claim.visit._value_ not in meta.visits:
        raise ClaimError.at(("claim", "visit"), f"pack {pack.name!r} does not cover visit kind "
                            f"{claim.visit._value_!r}; it covers: {', '.join(meta.visits)}")
    if claim.level not in meta.levels:
        raise ClaimError.at(("claim", "level"), f"{claim.level!r} is not a hospital level of pack {pack.name!r}; "
                            f"expected one of: {', '.join(meta.levels)}")
    missing = [name for name in pack.required_fields if getattr(claim.member, name) is None]
    if missing:
        name = min(missing)
        raise ClaimError.at(("claim", "member", name), f"required: pack {pack.name!r} has conditions on {name}")
    if claim.service is not None and claim.service not in meta.services:
        raise ClaimError.at(("claim", "service"), f"{claim.service!r} is not a service of pack {pack.name!r}; "
                            f"expected one of: {', '.join(meta.services) or '(the pack has none)'}")


def refuse(pack: RulePack, index: int, claim: Claim) -> ClaimError:
    """The error of the pack's refusal `index`, naming the claim's value it tests."""
    refusal = pack.meta.refusals[index]
    problem = ClaimProblem(_refused_path(refusal.when, claim),
                           f"pack {pack.name!r} refuses this claim: {refusal.message} ({refusal.citation})")
    return ClaimError([problem], offending=_offending(refusal.when, claim))


_MEMBER_FIELDS = ("scheme", "member_type", "groups", "age")
_FIELD = re.compile(r"\b(scheme|member_type|groups|age|visit|level|region|filed|disease|service|date)\b")


def deciding_path(claim: Claim, pack: RulePack) -> tuple:
    """Where the claim's deciding date is: a stay's discharge (or, in a pack deciding by admission,
    its admission), another visit's date."""
    if claim.visit not in STAYS:
        return ("claim", "date")
    return ("claim", "admission_date" if pack.meta.deciding_date == "admission" else "discharge_date")


def _refused_path(when: str | None, claim: Claim) -> tuple:
    """The claim's field a refusal turns on: its diagnosis when it reads the disease, else the last
    field it names (`visit == maternity and scheme == resident`: the scheme)."""
    named = _FIELD.findall(when or "")
    if not named:
        return ("claim",)
    field = "disease" if "disease" in named else named[-1]
    if field == "disease":
        return ("claim", "diagnoses", 0) if claim.diagnoses else ("claim", "diagnoses")
    if field in _MEMBER_FIELDS:
        return ("claim", "member", field)
    return ("claim", field) if field != "date" else ("claim",)


@lru_cache(maxsize=256)
def _refusal_rules(count: int) -> tuple[str, ...]:
    return tuple(f"refusals[{i}]" for i in range(count))


def _offending(when: str | None, claim: Claim) -> str:
    """The claim's value a refusal tests, named ('' when it tests none we name): which diagnosis put
    the claim in no disease list."""
    if not when or "disease" not in when:
        return ""
    if not claim.diagnoses:
        return "; the claim gives no diagnosis (diagnoses: [])"
    return f"; the claim's primary diagnosis {claim.diagnoses[0]!r} is in none of them"
