"""Hypothesis strategies for claims, members, bills and accumulators that a rule pack accepts,
and the invariant checks every settlement must pass (docs/guarantees.md).

Extend by adding to the lists: a pack to PACKS, a visit kind to VISITS (a function giving the
claim's date fields and whatever else the kind needs). A claim is generated only for the visit
kinds and levels its pack declares (pack.meta.visits / pack.meta.levels).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path

from hypothesis import strategies as st

import benefits
from benefits import ClaimError
from benefits.facts import build_fact
from benefits.matcher.reference import ReferenceMatcher
from benefits.models.claim import MEMBER_TYPES, STAYS, Claim, Group, Scheme, Visit
from benefits.kinds import (
    AboveCapLayer,
    BasicFundLayer,
    CumulativeBandsLayer,
    FixedAmountLayer,
    PersonalAccountLayer,
    ResidualRatioLayer,
)

ROOT = Path(__file__).resolve().parents[1]
ZERO = Decimal("0.00")
FEN = Decimal("0.01")

# --- packs -------------------------------------------------------------------------------

PACKS: dict[str, Path] = {
    "jiangmen": ROOT / "rules" / "jiangmen",
    "mini": ROOT / "examples" / "rules" / "mini",
    "anyang": ROOT / "rules" / "anyang",
}
"""Every pack the invariants run on. Add a pack here and every invariant covers it."""


@cache
def pack(name: str, matcher: str = "durable") -> benefits.RulePack:
    """A pack loaded once per process (per matcher)."""
    return benefits.load_rules(PACKS[name], matcher=matcher)


# --- values ------------------------------------------------------------------------------


def fen(low: int, high: int) -> st.SearchStrategy[Decimal]:
    """An amount in yuan between low and high fen, exact to the fen."""
    return st.integers(low, high).map(lambda n: Decimal(n).scaleb(-2))


def money(top_yuan: int = 1_000_000) -> st.SearchStrategy[Decimal]:
    """Amounts of every size up to `top_yuan`: small ones often, large ones (caps, bands) too."""
    top = top_yuan * 100
    return st.one_of(
        st.just(ZERO),
        fen(1, min(top, 500_00)),
        fen(0, min(top, 50_000_00)),
        fen(0, top),
    )


def as_text_or_decimal(value: Decimal) -> st.SearchStrategy[object]:
    """Amounts reach the engine as Decimal (from YAML) or as strings (from JSON)."""
    return st.sampled_from([value, f"{value:.2f}"])


# --- members, dates, bills -------------------------------------------------------------------


@st.composite
def members(draw, member_id: str | None = None, schemes: list[Scheme] | None = None) -> dict:
    scheme = draw(st.sampled_from(schemes or list(Scheme)))
    groups = draw(st.one_of(st.just([]), st.lists(st.sampled_from(list(Group)), unique=True, max_size=3)))
    return {
        "id": member_id or draw(st.sampled_from(["m1", "m2", "成员-3"])),
        "scheme": scheme.value,
        "member_type": draw(st.sampled_from(MEMBER_TYPES[scheme])).value,
        "groups": [g.value for g in groups],
        "age": draw(st.integers(0, 100)),
    }


def coverage(p: benefits.RulePack) -> tuple[dt.date, dt.date]:
    return p.versions[0].start, p.versions[-1].end


def interesting_days(p: benefits.RulePack, first: dt.date, last: dt.date) -> list[dt.date]:
    """Version starts and the day before them, year and month edges: where rules change."""
    days = set()
    for v in p.versions:
        days |= {v.start, v.start - dt.timedelta(days=1), v.end}
    for year in range(first.year, last.year + 1):
        days |= {dt.date(year, 1, 1), dt.date(year, 12, 31), dt.date(year, 6, 30), dt.date(year, 7, 1)}
        days |= {dt.date(year, m, 1) for m in (2, 3)} | {dt.date(year, 2, 28)}
    return sorted(d for d in days if first <= d <= last)


def days(p: benefits.RulePack, year: int | None = None) -> st.SearchStrategy[dt.date]:
    """A deciding date the pack covers (within `year` when given)."""
    first, last = coverage(p)
    if year is not None:
        first, last = max(first, dt.date(year, 1, 1)), min(last, dt.date(year, 12, 31))
    return st.one_of(st.sampled_from(interesting_days(p, first, last)), st.dates(first, last))


@st.composite
def bills(draw) -> dict:
    """A bill already split: the four parts, and their sum as the total."""
    parts = {
        "fully_self_paid": draw(money(50_000)),
        "over_limit": draw(st.one_of(st.just(ZERO), money(5_000))),
        "pre_self_paid": draw(money(50_000)),
        "policy_range": draw(money(800_000)),
    }
    total = sum(parts.values(), ZERO)
    out = {k: draw(as_text_or_decimal(v)) for k, v in parts.items()}
    out["total"] = draw(as_text_or_decimal(total))
    return out


@st.composite
def line_items(draw, max_items: int = 8) -> list[dict]:
    n = draw(st.integers(1, max_items))
    items = []
    for i in range(n):
        price = draw(money(100_000))
        item: dict = {"id": f"i{i}", "category": draw(st.sampled_from(["A", "B", "C"])),
                      "unit_price": draw(as_text_or_decimal(price))}
        quantity = draw(st.one_of(st.none(), st.integers(1, 20), fen(1, 1000).map(str)))
        if quantity is not None:
            item["quantity"] = quantity
        if draw(st.booleans()):
            item["payment_standard"] = draw(st.one_of(money(100_000), st.just(price)))
        if draw(st.booleans()):
            item["self_pay_share"] = str(Decimal(draw(st.integers(0, 100))).scaleb(-2))
        items.append(item)
    return items


# --- visit kinds ---------------------------------------------------------------------------


def _stay(max_days: int):
    def fields(draw, p: benefits.RulePack, day: dt.date) -> dict:
        length = dt.timedelta(days=draw(st.integers(0, max_days)))
        if p.meta.deciding_date == "admission":
            return {"admission_date": day, "discharge_date": day + length}
        return {"admission_date": day - length, "discharge_date": day}
    return fields


def _visit(draw, p: benefits.RulePack, day: dt.date) -> dict:
    return {"date": day}


def _diagnosis(draw, p: benefits.RulePack) -> str:
    """Mostly a code in one of the pack's disease lists; sometimes another code (refused for 门特)."""
    if p.diseases and draw(st.integers(0, 9)) > 0:
        disease = draw(st.sampled_from(p.diseases))
        letter, lo, hi = draw(st.sampled_from(disease.ranges))
        return f"{letter}{draw(st.integers(lo, hi)):02d}{draw(st.sampled_from(['', '.9', '.x01']))}"
    return draw(st.sampled_from(["J45.9", "K35.8", "Z00", "A09"]))


def _special(draw, p: benefits.RulePack, day: dt.date) -> dict:
    return {"date": day, "diagnoses": [_diagnosis(draw, p)]}


def _maternity(draw, p: benefits.RulePack, day: dt.date) -> dict:
    out: dict = {"date": day}
    if p.meta.services:
        out["service"] = draw(st.sampled_from(p.meta.services))
    return out


VISITS = {
    "inpatient": _stay(60),
    "day_surgery": _stay(1),
    "general_outpatient": _visit,
    "special_outpatient": _special,
    "maternity": _maternity,
    "covid_test": _visit,
}
"""Visit kind -> the fields a claim of that kind needs. Add a kind here and every invariant covers it."""
assert set(VISITS) == {v.value for v in Visit}, "a visit kind has no generator: add it to VISITS"


def visit_kinds(p: benefits.RulePack) -> list[str]:
    return [v for v in p.meta.visits if v in VISITS]


@st.composite
def claims(draw, p: benefits.RulePack, member: dict | None = None, day: dt.date | None = None,
           visits: list[str] | None = None, claim_id: str = "c1") -> dict:
    """A claim of pack `p`: one of its visit kinds, one of its levels, on a date it covers."""
    visit = draw(st.sampled_from(visits or visit_kinds(p)))
    day = day or draw(days(p))
    region = draw(st.sampled_from(["local", "local", "local", "in_province", "out_of_province"]))
    claim: dict = {
        "id": claim_id,
        "member": member or draw(members()),
        "visit": visit,
        "level": draw(st.sampled_from(p.meta.levels)),
        "region": region,
    }
    if region == "out_of_province":
        claim["filed"] = draw(st.booleans())
    claim.update(VISITS[visit](draw, p, day))
    if draw(st.integers(0, 3)) == 0:
        claim["items"] = draw(line_items())
    else:
        claim["bill"] = draw(bills())
    return claim


def deciding_day(p: benefits.RulePack, claim: dict) -> dt.date:
    stay = claim["visit"] in {v.value for v in STAYS}
    if not stay:
        return claim["date"]
    return claim["discharge_date"] if p.meta.deciding_date == "settlement" else claim["admission_date"]


# --- accumulators --------------------------------------------------------------------------


def counter_bounds(p: benefits.RulePack) -> dict[str, Decimal]:
    """The most each counter may hold before the engine refuses the accumulators as implausible:
    a counter drawn against a cap may not exceed the highest value that cap ever had."""
    bounds: dict[str, Decimal] = {}

    def bound(name: str | None, parameter: str) -> None:
        if name:
            bounds[name] = min(bounds.get(name, p.highest(parameter)), p.highest(parameter))

    for layer in p.layers:
        if isinstance(layer, BasicFundLayer):
            for cap in layer.caps:
                if cap.counter:
                    bound(cap.counter, cap.value)
        elif isinstance(layer, (ResidualRatioLayer, AboveCapLayer)):
            for row in layer.caps:
                bound(layer.paid_counter, row.value)
    return bounds


def monthly(p: benefits.RulePack) -> frozenset[str]:
    return p.monthly_counters


@st.composite
def accumulators(draw, p: benefits.RulePack, member_id: str, year: int) -> dict:
    """Accumulators the pack accepts for a member's year, often close to a cap."""
    bounds = counter_bounds(p)
    counters: dict[str, Decimal] = {}
    for name in p.counters:
        if draw(st.integers(0, 2)) == 0:
            continue
        top = int(bounds.get(name, Decimal(400_000)) * 100)
        value = draw(st.one_of(st.just(ZERO), fen(0, top), fen(max(0, top - 100_00), top)))
        if name in monthly(p):
            for month in draw(st.lists(st.integers(1, 12), unique=True, max_size=3)):
                counters[f"{name}@{year}-{month:02d}"] = value
        else:
            counters[name] = value
    return {"member_id": member_id, "year": year, "admissions": draw(st.integers(0, 4)), "counters": counters}


# --- settling, with refusals counted ---------------------------------------------------------


@dataclass
class Tally:
    """Claims settled and refused in one test, so a test fails when almost everything is refused
    (generators that only produce refusals check nothing)."""

    settled: int = 0
    refused: Counter = field(default_factory=Counter)

    def settle(self, claim, p: benefits.RulePack, acc=None):
        """The settlement, or None for a claim the pack refuses (ClaimError), counted by reason."""
        try:
            s = benefits.evaluate(claim, p, acc)
        except ClaimError as exc:
            reason = str(exc)
            # our generators keep every amount and counter within accepted bounds: this is a bug
            assert "cannot be settled within accepted amounts" not in reason, reason
            self.refused[reason.split(":")[0][:60]] += 1
            return None
        self.settled += 1
        return s

    def check_enough_settled(self, share: float = 0.5) -> None:
        total = self.settled + sum(self.refused.values())
        assert total > 0
        assert self.settled >= share * total, (
            f"only {self.settled} of {total} generated claims settled; refusals: {self.refused.most_common(5)}"
        )


# --- the invariants --------------------------------------------------------------------------


def claim_and_accumulators(data, p: benefits.RulePack, claim_id: str = "c1", suffix: str = "") -> tuple[dict, dict | None]:
    """Draw from `data` (hypothesis' st.data()) a claim of `p` and either no accumulators or
    accumulators for its member in the year of its deciding date."""
    claim = data.draw(claims(p, claim_id=claim_id), label="claim" + suffix)
    year = deciding_day(p, claim).year
    acc = data.draw(st.one_of(st.none(), accumulators(p, claim["member"]["id"], year)), label="accumulators" + suffix)
    return claim, acc


def fired(p: benefits.RulePack, claim: Claim, day: dt.date) -> frozenset[str]:
    """The pack's rules that hold for the claim, by the plain-Python reference matcher."""
    return ReferenceMatcher(p.rules).fired(build_fact(claim, day, p.disease_of(claim.diagnoses)))


def first_row(layer_id: str, section: str, rows, rules: frozenset[str]):
    for i, row in enumerate(rows):
        if row.when is None or f"{layer_id}.{section}[{i}]" in rules:
            return row
    return None


def check_conservation(s: benefits.Settlement) -> None:
    """Conservation to the fen, layer bounds, and the patient's floor (docs/guarantees.md G1, G2)."""
    b, pt = s.bill, s.patient
    assert b.fully_self_paid + b.over_limit + b.pre_self_paid + b.policy_range == b.total
    fund_total = sum((p.paid for p in s.layers if p.fund), ZERO)
    account = sum((p.paid for p in s.layers if not p.fund), ZERO)
    assert s.fund_total == fund_total
    assert fund_total + pt.total == b.total
    assert pt.account == account and pt.account + pt.cash == pt.total
    assert sum((p.paid for p in s.layers), ZERO) + pt.cash == b.total
    left = b.policy_range
    for p in s.layers:
        assert p.paid >= 0 and p.base >= 0, p
        assert p.applied or p.paid == 0, p
        assert p.paid <= p.base, f"{p.layer} paid {p.paid} on {p.base}"
        if p.fund:
            assert p.paid <= left, f"{p.layer} paid {p.paid}, more than the {left} of the policy range left"
            left -= p.paid
        else:
            assert p.paid <= b.pre_self_paid + left, f"{p.layer} paid {p.paid} beyond the in-catalogue part"
    assert fund_total <= b.policy_range
    assert pt.total >= b.fully_self_paid + b.over_limit
    assert pt.cash >= b.fully_self_paid + b.over_limit
    assert (pt.fully_self_paid + pt.over_limit + pt.pre_self_paid + pt.deductible + pt.co_pay + pt.above_cap
            - pt.relieved_by_later_layers) == pt.total
    f = s.platform_fields()
    assert f["fund_pay_sumamt"] + f["psn_part_amt"] == f["medfee_sumamt"]
    for value in (b.total, pt.total, pt.cash, *(p.paid for p in s.layers)):
        assert value == value.quantize(FEN)


def check_items(claim: dict, s: benefits.Settlement, default_share: Decimal) -> None:
    """Per-item split: the parts add up per item and to the bill; rounding per item drifts from
    exact arithmetic by at most half a fen an item (docs/guarantees.md G6)."""
    if not claim.get("items"):
        return
    n = len(claim["items"])
    exact_total = exact_pre = Decimal(0)
    for item, split in zip(claim["items"], s.items, strict=True):
        assert split.id == item["id"]
        assert split.fully_self_paid + split.over_limit + split.pre_self_paid + split.policy_range == split.amount
        price, qty = Decimal(str(item["unit_price"])), Decimal(str(item.get("quantity", 1)))
        exact_total += price * qty
        if item["category"] == "B":
            share = Decimal(item["self_pay_share"]) if "self_pay_share" in item else default_share
            exact_pre += share * (split.amount - split.over_limit)
    assert sum((i.amount for i in s.items), ZERO) == s.bill.total
    for part in ("fully_self_paid", "over_limit", "pre_self_paid", "policy_range"):  # the 2301 lines add to 2207's
        assert sum((getattr(i, part) for i in s.items), ZERO) == getattr(s.bill, part), part
    assert abs(s.bill.total - exact_total) <= Decimal("0.005") * n
    assert abs(s.bill.pre_self_paid - exact_pre) <= Decimal("0.005") * n


@dataclass
class Effects:
    """What one settlement should have done to the accumulators, and the caps it drew on."""

    deltas: dict[str, Decimal] = field(default_factory=dict)  # counter key -> amount added
    balance: dict[str, Decimal] = field(default_factory=dict)  # account balance counter -> paid from it
    loose: set[str] = field(default_factory=set)  # counters a layer moves without reporting how much
    drawn: list[tuple[str, str, Decimal, Decimal]] = field(default_factory=list)  # (layer, key, paid, cap amount)

    def add(self, key: str, amount: Decimal) -> None:
        self.deltas[key] = self.deltas.get(key, ZERO) + amount


def check_caps_and_counters(p: benefits.RulePack, claim: dict, s: benefits.Settlement) -> Effects:
    """Every cap that applies holds (a group whose cap is lifted is the only exception), and the
    accumulators after the claim are those before plus what each layer reports it paid
    (docs/guarantees.md G3, G6)."""
    model = Claim.model_validate(claim)
    day = s.deciding_date
    rules = fired(p, model, day)
    before, after = s.accumulators_before, s.accumulators_after
    paid = {x.layer: x for x in s.layers}
    fx = Effects()
    for layer in p.layers:
        out = paid[layer.id]
        if not out.applied:
            continue
        if isinstance(layer, BasicFundLayer):
            keys = []
            for i, cap in enumerate(layer.caps):
                if cap.when is not None and f"{layer.id}.caps[{i}]" not in rules:
                    continue
                amount = p.param(cap.value, day).value
                if cap.period == "claim":
                    assert out.paid <= amount, f"{layer.id} cap {cap.id}: paid {out.paid} > {amount} a claim"
                    continue
                key = cap.counter if cap.period == "year" else f"{cap.counter}@{day:%Y-%m}"
                left = max(ZERO, amount - before.get(key))
                assert out.paid <= left, f"{layer.id} cap {cap.id}: paid {out.paid} with {left} left"
                fx.drawn.append((layer.id, key, out.paid, amount))
                if key not in keys:
                    keys.append(key)
            for key in keys:
                fx.add(key, out.paid)
            if layer.deductible.per == "year":
                fx.add(layer.deductible.counter, s.deductible)
        elif isinstance(layer, CumulativeBandsLayer):
            fx.add(layer.base_counter, out.base)
            fx.add(layer.paid_counter, out.paid)
            lifted = any(g.lift_cap is not None and f"{layer.id}.groups.{g.id}" in rules for g in layer.groups)
            row = first_row(layer.id, "caps", layer.caps, rules)
            if row is not None and not lifted:
                amount = p.param(row.value, day).value
                assert out.paid <= max(ZERO, amount - before.get(layer.paid_counter)), layer.id
                fx.drawn.append((layer.id, layer.paid_counter, out.paid, amount))
        elif isinstance(layer, (ResidualRatioLayer, AboveCapLayer)):
            if layer.paid_counter:
                fx.add(layer.paid_counter, out.paid)
            if getattr(layer, "deductible_counter", None):
                fx.loose.add(layer.deductible_counter)
            row = first_row(layer.id, "caps", layer.caps, rules)
            if row is not None:
                amount = p.param(row.value, day).value
                assert out.paid <= max(ZERO, amount - before.get(layer.paid_counter)), layer.id
                fx.drawn.append((layer.id, layer.paid_counter, out.paid, amount))
        elif isinstance(layer, FixedAmountLayer):
            row = first_row(layer.id, "amount", layer.amount, rules)
            assert row is not None and out.paid <= p.param(row.value, day).value
        elif isinstance(layer, PersonalAccountLayer):
            assert out.paid <= before.get(layer.balance_counter)
            fx.balance[layer.balance_counter] = out.paid
    for key in set(before.counters) | set(after.counters):
        if key in fx.loose:
            assert after.get(key) >= before.get(key), key
        elif key in fx.balance:
            assert after.get(key) == before.get(key) - fx.balance[key], key
        else:
            assert after.get(key) == before.get(key) + fx.deltas.get(key, ZERO), (
                f"{key}: {before.get(key)} + {fx.deltas.get(key, ZERO)} != {after.get(key)}"
            )
    stay = claim["visit"] in {v.value for v in STAYS}
    assert after.admissions == before.admissions + (1 if stay else 0)
    return fx


def examples(factor: float = 1.0) -> int:
    """An example count scaled from the active hypothesis profile (ci or long, tests/conftest.py)."""
    from hypothesis import settings

    return max(5, int(settings.default.max_examples * factor))
