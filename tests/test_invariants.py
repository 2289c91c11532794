"""Invariants every settlement keeps, checked with hypothesis over generated claims and over
generated years of claims (accumulators carried from one claim to the next), on every pack in
tests/generators.PACKS. docs/guarantees.md states each guarantee and names its test here.

Example counts come from the hypothesis profile (tests/conftest.py): `ci` by default,
HYPOTHESIS_PROFILE=long for a longer search.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections import defaultdict
from decimal import Decimal

import pytest
from generators import (
    PACKS,
    ZERO,
    Tally,
    check_caps_and_counters,
    check_conservation,
    check_items,
    claim_and_accumulators,
    claims,
    coverage,
    days,
    examples,
    fen,
    fired,
    members,
    pack,
)
from hypothesis import given, settings
from hypothesis import strategies as st

import benefits
from benefits import ClaimError
from benefits.models.claim import MEMBER_TYPES, Claim, Scheme
from benefits.kinds import (
    BasicFundLayer,
    CumulativeBandsLayer,
    PersonalAccountLayer,
)

NAMES = list(PACKS)


def settle_and_check(tally: Tally, p, claim: dict, acc):
    """Settle one claim; on a settlement, check every single-claim invariant."""
    s = tally.settle(claim, p, acc)
    if s is not None:
        check_conservation(s)
        check_items(claim, s, p.param(p.meta.default_b_share, s.deciding_date).value)
        check_caps_and_counters(p, claim, s)
    return s


# --- G1-G3 on single claims ------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_every_claim_conserves_money_and_keeps_its_caps(name):
    p = pack(name)
    tally = Tally()

    @settings(max_examples=examples(2))
    @given(data=st.data())
    def run(data):
        claim, acc = claim_and_accumulators(data, p)
        settle_and_check(tally, p, claim, acc)

    run()
    tally.check_enough_settled()


# --- G3, G6 over a year of claims --------------------------------------------------------------


@st.composite
def years(draw, p, max_claims: int = 12, visits: list[str] | None = None, schemes=None):
    """One member's claims of one year, in date order, and the accumulators the year starts with
    (zero but for a personal-account balance)."""
    first, last = coverage(p)
    year = draw(st.integers(first.year, last.year))
    member = draw(members(member_id="m1", schemes=schemes))
    n = draw(st.integers(1, max_claims))
    dates = sorted(draw(st.lists(days(p, year), min_size=n, max_size=n)))
    year_claims = [draw(claims(p, member=member, day=d, visits=visits, claim_id=f"c{i}")) for i, d in enumerate(dates)]
    counters = {}
    for layer in p.layers:
        if isinstance(layer, PersonalAccountLayer):
            counters[layer.balance_counter] = draw(fen(0, 2_000_000))
    return year, year_claims, {"member_id": "m1", "year": year, "counters": counters}


def pay_year(tally: Tally, p, year_claims: list[dict], start: dict):
    """Pay a year's claims one by one, carrying the accumulators; every single-claim invariant
    checked on the way. Returns the settlements and each one's effects."""
    acc = start
    done = []
    for claim in year_claims:
        s = settle_and_check(tally, p, claim, acc)
        if s is None:
            continue
        done.append((claim, s, check_caps_and_counters(p, claim, s)))
        acc = s.accumulators_after
    return done


@pytest.mark.parametrize("name", NAMES)
def test_a_year_of_claims_keeps_every_cap_and_adds_up(name):
    p = pack(name)
    tally = Tally()
    crossed = []

    @settings(max_examples=examples(0.75))
    @given(data=st.data())
    def run(data):
        _year, year_claims, start = data.draw(years(p), label="year")
        done = pay_year(tally, p, year_claims, start)
        if not done:
            return
        versions = {s.version for _, s, _ in done}
        crossed.append(len(versions) > 1)
        # G3: over the year, what each cap's counter gathered stays within the cap (start: zero)
        drawn: dict[str, Decimal] = defaultdict(lambda: ZERO)
        most: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for _, _, fx in done:
            for _, key, paid, amount in fx.drawn:
                drawn[key] += paid
                most[key] = max(most[key], amount)
        for key, total in drawn.items():
            assert total <= most[key], f"{key}: {total} paid over the year against a cap of at most {most[key]}"
        # G6: the accumulators the engine reports at the end are the start plus what each claim paid
        end = done[-1][1].accumulators_after
        loose = set().union(*(fx.loose for _, _, fx in done))
        for key in set(end.counters) | set(start["counters"]):
            if key in loose:
                continue
            begin = Decimal(start["counters"].get(key, ZERO))
            spent = sum((fx.balance.get(key, ZERO) for _, _, fx in done), ZERO)
            added = sum((fx.deltas.get(key, ZERO) for _, _, fx in done), ZERO)
            assert end.get(key) == begin + added - spent, key
        stays = sum(1 for c, _, _ in done if Claim.model_validate(c).visit in benefits.models.claim.STAYS)
        assert end.admissions == stays

    run()
    tally.check_enough_settled()
    if len({v.start.year for v in p.versions}) < len(p.versions):  # a version starts mid-year
        assert any(crossed), "no generated year crossed a parameter change date"


# --- G4 monotonicity ----------------------------------------------------------------------------


def _more_cost(data, claim: dict) -> dict:
    """The same claim with some cost added: to one part of a split bill, or to the line items."""
    more = {k: v for k, v in claim.items()}
    extra = data.draw(fen(1, 10_000_000), label="extra")
    if "bill" in claim:
        part = data.draw(st.sampled_from(["policy_range", "fully_self_paid", "over_limit", "pre_self_paid"]), label="part")
        bill = {k: Decimal(str(v)) for k, v in claim["bill"].items()}
        bill[part] += extra
        bill["total"] += extra
        more["bill"] = bill
        return more
    items = [dict(i) for i in claim["items"]]
    how = data.draw(st.sampled_from(["new item", "quantity", "price"]), label="how")
    if how == "new item":
        items.append({"id": "extra", "category": data.draw(st.sampled_from("ABC")), "unit_price": extra})
    else:
        k = data.draw(st.integers(0, len(items) - 1), label="item")
        if how == "quantity":
            items[k]["quantity"] = Decimal(str(items[k].get("quantity", 1))) + data.draw(st.integers(1, 5))
        else:
            items[k]["unit_price"] = Decimal(str(items[k]["unit_price"])) + extra
    more["items"] = items
    return more


@pytest.mark.parametrize("name", NAMES)
def test_adding_cost_never_lowers_a_fund_payout_or_the_patients_part(name):
    p = pack(name)
    tally = Tally()

    @settings(max_examples=examples(1.5))
    @given(data=st.data())
    def run(data):
        claim, acc = claim_and_accumulators(data, p)
        s = tally.settle(claim, p, acc)
        if s is None:
            return
        more = _more_cost(data, claim)
        t = benefits.evaluate(more, p, acc)  # the same claim with more cost is never refused
        assert t.bill.total >= s.bill.total
        for a, b in zip(s.layers, t.layers, strict=True):
            if a.fund:
                assert b.paid >= a.paid, f"{a.layer}: {a.paid} -> {b.paid} after adding cost"
        assert t.patient.total >= s.patient.total
        assert t.patient.cash >= s.patient.cash

    run()
    tally.check_enough_settled()


def test_raising_a_price_above_its_standard_never_lowers_a_fund_payout():
    # found by test_adding_cost_never_lowers_a_fund_payout_or_the_patients_part (long profile):
    # 0.01 x 1.5 = 0.015 -> 0.02 policy range, 75% -> 0.02 paid. At 0.02 the amount is 0.03 and the
    # recognised part round(0.01 x 1.5) = 0.02 (domain.md 6.2, ruling of 2026-11-29), so the policy
    # range stays 0.02; the former rule, round((0.02 - 0.01) x 1.5) = 0.02 over-limit, left 0.01.
    def visit(price: str) -> dict:
        return {"id": "c", "member": {"id": "m", "scheme": "employee", "member_type": "in_service"},
                "visit": "general_outpatient", "level": "level1", "date": dt.date(2021, 1, 1),
                "items": [{"id": "i", "category": "A", "unit_price": price, "quantity": "1.50",
                           "payment_standard": "0.01"}]}

    p = pack("jiangmen")
    before, after = benefits.evaluate(visit("0.01"), p), benefits.evaluate(visit("0.02"), p)
    assert after.bill.total > before.bill.total
    assert after.bill.policy_range >= before.bill.policy_range
    assert after.fund_total >= before.fund_total


# --- G5 determinism -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def twins(tmp_path_factory):
    """Every pack loaded again (durable and reference), and a second version of Jiangmen with
    one ratio changed, all in this one process next to the packs of generators.pack()."""
    root = tmp_path_factory.mktemp("v2") / "jiangmen"
    shutil.copytree(PACKS["jiangmen"], root)
    path = root / "parameters" / "basic_inpatient.yaml"
    text = path.read_text(encoding="utf-8")
    at = text.index("      level3:", text.index("inpatient.ratio:"))
    i = text.index("{value: 65%", at)
    path.write_text(text[:i] + "{value: 60%" + text[i + len("{value: 65%"):], encoding="utf-8")
    return {
        "again": {n: benefits.load_rules(PACKS[n]) for n in NAMES},
        "reference": {n: pack(n, "reference") for n in NAMES},
        "jiangmen_v2": benefits.load_rules(root),
    }


def outcome(claim, p, acc, trace=True):
    try:
        return benefits.evaluate(claim, p, acc, trace=trace)
    except ClaimError as exc:
        return f"refused: {exc}"


def test_two_versions_of_a_pack_in_one_process_keep_their_own_numbers(twins):
    claim = {"id": "v", "member": {"id": "m", "scheme": "resident", "member_type": "adult"}, "visit": "inpatient",
             "level": "level3", "admission_date": dt.date(2021, 3, 1), "discharge_date": dt.date(2021, 3, 9),
             "bill": {"total": "11000.00", "fully_self_paid": "0", "over_limit": "0", "pre_self_paid": "0",
                      "policy_range": "11000.00"}}
    v1, v2 = pack("jiangmen"), twins["jiangmen_v2"]
    for _ in range(3):  # interleaved: (11000.00 - 1000.00) x 65% and x 60%
        assert benefits.evaluate(claim, v1).payouts["basic"] == Decimal("6500.00")
        assert benefits.evaluate(claim, v2).payouts["basic"] == Decimal("6000.00")


@pytest.mark.parametrize("name", NAMES)
def test_same_inputs_same_settlement_and_trace_in_any_order_after_reloading(name, twins):
    p = pack(name)
    others = [pack(n) for n in NAMES if n != name] + [twins["jiangmen_v2"]]

    @settings(max_examples=examples(0.3))
    @given(data=st.data())
    def run(data):
        inputs = []
        for i in range(3):
            claim, acc = claim_and_accumulators(data, p, claim_id=f"c{i}", suffix=f" {i}")
            inputs.append((claim, acc))
        first = [outcome(c, p, a) for c, a in inputs]
        for k, (c, a) in reversed(list(enumerate(inputs))):  # reversed, reloaded, other packs in between
            other = others[k % len(others)]
            outcome(data.draw(claims(other), label="other pack's claim"), other, None)
            assert outcome(c, twins["again"][name], a) == first[k]
            assert outcome(c, twins["reference"][name], a) == first[k]
            assert outcome(c, p, a) == first[k]
            quiet = outcome(c, p, a, trace=False)
            if isinstance(quiet, str):
                assert quiet == first[k]
            else:
                assert quiet.trace == [] and quiet.model_copy(update={"trace": first[k].trace}) == first[k]

    run()


# --- G6 splitting: a year paid claim by claim against the year paid at once -------------------------


def _cumulative(p) -> CumulativeBandsLayer | None:
    return next((x for x in p.layers if isinstance(x, CumulativeBandsLayer)), None)


CUMULATIVE = [n for n in NAMES if _cumulative(pack(n)) is not None and "inpatient" in pack(n).meta.visits]


def _parameters_of(layer: CumulativeBandsLayer) -> set[str]:
    names = {r.value for r in layer.deductible} | {r.value for r in layer.caps}
    for row in layer.bands:
        names |= {b.ratio for b in row.bands} | {b.start for b in row.bands if b.start}
    for g in layer.groups:
        names |= {g.deductible_reduction, g.points} - {None}
    return names


def _applies(p, layer, scheme: Scheme) -> bool:
    """Whether `layer` applies to some inpatient claim of a member of `scheme`."""
    day = p.versions[0].start
    claim = Claim.model_validate({
        "id": "probe", "member": {"id": "m", "scheme": scheme.value, "member_type": MEMBER_TYPES[scheme][0].value},
        "visit": "inpatient", "level": p.meta.levels[0], "admission_date": day, "discharge_date": day,
        "bill": {"total": 0, "fully_self_paid": 0, "over_limit": 0, "pre_self_paid": 0, "policy_range": 0}})
    return f"{layer.id}.when" in fired(p, claim, day)


def _exhausted_basic(p, claim: dict, day: dt.date) -> dict[str, Decimal]:
    """Counters at which every basic-fund cap applying to `claim` is used up, so the basic fund
    pays nothing and the cumulative layer works on the whole policy-range amount."""
    rules = fired(p, Claim.model_validate(claim), day)
    counters: dict[str, Decimal] = {}
    for layer in p.layers:
        if not isinstance(layer, BasicFundLayer) or f"{layer.id}.when" not in rules:
            continue
        for i, cap in enumerate(layer.caps):
            if cap.period == "claim" or (cap.when is not None and f"{layer.id}.caps[{i}]" not in rules):
                continue
            key = cap.counter if cap.period == "year" else f"{cap.counter}@{day:%Y-%m}"
            counters[key] = min(counters.get(key, p.highest(cap.value)), p.highest(cap.value))
    return counters


@pytest.mark.parametrize("name", CUMULATIVE)
def test_a_cumulative_layer_paid_claim_by_claim_drifts_at_most_half_a_fen_a_claim(name):
    """Serious illness works on the year's cumulative amount: paying the year's claims one by one
    gives what one claim of the whole amount gives, but for each claim's rounding (<= 0.005)."""
    p = pack(name)
    layer = _cumulative(p)
    tally = Tally()
    checked = []
    schemes = [s for s in Scheme if _applies(p, layer, s)]

    @settings(max_examples=examples(0.75))
    @given(data=st.data())
    def run(data):
        year, year_claims, start = data.draw(years(p, max_claims=10, visits=["inpatient"], schemes=schemes), label="year")
        start["counters"] = {}
        done = pay_year(tally, p, year_claims, start)
        mine = [(c, s, s.payouts[layer.id]) for c, s, _ in done if {x.layer: x for x in s.layers}[layer.id].applied]
        if len(mine) != len(done) or not mine:
            checked.append(False)
            return
        days_ = [s.deciding_date for _, s, _ in mine]
        if any(p.param(n, d).value != p.param(n, days_[0]).value for n in _parameters_of(layer) for d in days_):
            checked.append(False)
            return
        amount = sum(({x.layer: x for x in s.layers}[layer.id].base for _, s, _ in mine), ZERO)
        last_claim, last, _ = mine[-1]
        whole = dict(last_claim, id="whole", items=None,
                     bill={"total": amount, "fully_self_paid": 0, "over_limit": 0, "pre_self_paid": 0, "policy_range": amount})
        whole.pop("items")
        acc = {"member_id": "m1", "year": year, "counters": _exhausted_basic(p, whole, last.deciding_date)}
        once = benefits.evaluate(whole, p, acc)
        out = {x.layer: x for x in once.layers}[layer.id]
        if out.base != amount:  # a layer before it still paid something: not comparable
            checked.append(False)
            return
        checked.append(True)
        by_claim = sum((paid for _, _, paid in mine), ZERO)
        assert abs(by_claim - out.paid) <= Decimal("0.005") * (len(mine) + 1), (by_claim, out.paid, len(mine))

    run()
    tally.check_enough_settled()
    assert sum(checked) >= 0.3 * len(checked), f"only {sum(checked)} of {len(checked)} years were comparable"
