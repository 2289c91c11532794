"""The facts a condition can test, and how a claim becomes a fact.

One flat dict of strings, integers and booleans per claim: the only thing either matcher sees.
Money never goes in (durable-rules has no decimals); list fields are flattened to one boolean
per value, so no matcher needs array operators.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from .dates import parse_day
from .models.claim import Claim, Group, MemberType, Region, Scheme, Visit


class FieldKind(Enum):
    ENUM = "enum"  # one of a fixed set of words
    BOOL = "bool"
    INT = "int"
    DATE = "date"  # compared as YYYYMMDD integers
    SET = "set"  # a list of words, tested with `has`


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: FieldKind
    values: tuple[str, ...] = ()
    description: str = ""

    @property
    def ordered(self) -> bool:
        return self.kind in (FieldKind.INT, FieldKind.DATE)

    def parse_value(self, text: str) -> object:
        """A literal from a condition, in the fact's representation; ValueError names what fits."""
        if self.kind in (FieldKind.ENUM, FieldKind.SET):
            if text not in self.values:
                raise ValueError(f"{text!r} is not a value of {self.name!r}; expected one of: {', '.join(self.values)}")
            return text
        if self.kind is FieldKind.BOOL:
            if text not in ("true", "false"):
                raise ValueError(f"{self.name!r} is true or false, not {text!r}")
            return text == "true"
        if self.kind is FieldKind.INT:
            if not re.fullmatch(r"-?\d+", text):
                raise ValueError(f"{self.name!r} compares with a whole number, not {text!r}")
            return int(text)
        try:  # YYYY-MM-DD alone, as every date of a pack: fromisoformat() also reads 20210701 and 2021W27
            return date_key(parse_day(text))
        except ValueError as exc:
            raise ValueError(f"{self.name!r} compares with a date: {exc}") from None


def date_key(day: dt.date) -> int:
    """2021-07-01 -> 20210701: dates travel to the matcher as integers."""
    return day.year * 10000 + day.month * 100 + day.day


def _words(enum: type[Enum]) -> tuple[str, ...]:
    return tuple(e.value for e in enum)


def field_specs(levels: tuple[str, ...], diseases: tuple[str, ...], services: tuple[str, ...] = ()) -> dict[str, FieldSpec]:
    """The fields a pack's conditions may use; levels, disease and service names come from the pack."""
    specs = [
        FieldSpec("scheme", FieldKind.ENUM, _words(Scheme), "险种"),
        FieldSpec("member_type", FieldKind.ENUM, _words(MemberType) + ("unknown",), "人员类别"),
        FieldSpec("visit", FieldKind.ENUM, _words(Visit), "就诊类型"),
        FieldSpec("level", FieldKind.ENUM, levels, "医院等级"),
        FieldSpec("region", FieldKind.ENUM, _words(Region), "就医地"),
        FieldSpec("filed", FieldKind.BOOL, (), "异地备案"),
        FieldSpec("groups", FieldKind.SET, _words(Group), "困难群体"),
        FieldSpec("age", FieldKind.INT, (), "年龄"),
        FieldSpec("disease", FieldKind.ENUM, diseases + ("none",), "病种 (the pack's disease lists)"),
        FieldSpec("service", FieldKind.ENUM, services + ("none",), "定额服务 (the pack's fixed-amount services)"),
        FieldSpec("date", FieldKind.DATE, (), "the deciding date"),
    ]
    return {s.name: s for s in specs}


def group_key(field: str, value: str) -> str:
    """A list field's membership is flattened into one boolean per value in the fact."""
    return f"{field}__{value}"


# What a claim says about its visit rather than its member: a cap conditioned on these binds the
# member on some claim, which is enough to bound its counter (rules/bounds.py).
VISIT_FIELDS = frozenset({"visit", "level", "region", "filed", "disease", "service", "date"})

# Always present, so that a catch-all rule matches every fact (see matcher/durable.py).
ALWAYS = "claim"


_GROUP_KEYS = tuple((g, group_key("groups", g.value)) for g in Group)

MEMBER_FIELDS = ("scheme", "member_type", "age", *(key for _, key in _GROUP_KEYS))
"""The fields of a fact that describe the member, all but VISIT_FIELDS (and the constant ALWAYS)."""


def every_member() -> list[dict]:
    """One fact of member fields for every member a claim can name by scheme, member type (or none)
    and groups, age left out (a condition on it may hold): what holds for each holds for any member."""
    from itertools import product

    from .models.claim import MEMBER_TYPES

    groups = [dict(zip((key for _, key in _GROUP_KEYS), flags)) for flags in product((False, True), repeat=len(_GROUP_KEYS))]
    return [{"scheme": scheme.value, "member_type": kind, **flags}
            for scheme, kinds in MEMBER_TYPES.items() for kind in (*(k.value for k in kinds), "unknown") for flags in groups]


def build_fact(claim: Claim, deciding_date: dt.date, disease: str) -> dict:
    """The claim as the flat fact both matchers test."""
    # Enum members' `_value_`, not `.value`: the same string, without a property call (per claim).
    m = claim.member
    fact: dict[str, object] = {
        ALWAYS: 1,
        "scheme": m.scheme._value_,
        "member_type": m.member_type._value_ if m.member_type else "unknown",
        "visit": claim.visit._value_,
        "level": claim.level,
        "region": claim.region._value_,
        "filed": True if claim.filed is None else claim.filed,  # filing only matters out of province
        "disease": disease,
        "service": claim.service or "none",
        "date": date_key(deciding_date),
    }
    if m.age is not None:
        fact["age"] = m.age
    fact.update(_group_flags(tuple(m.groups)))
    return fact


@lru_cache(maxsize=1024)  # members hold a handful of combinations of five groups
def _group_flags(groups: tuple[Group, ...]) -> dict[str, bool]:
    """One boolean per group (`groups__dibao`, ...): whether the member is in it."""
    return {key: g in groups for g, key in _GROUP_KEYS}
