"""The layered calculator: one claim, the pack's layers in the pack's order, each working on
what the layers before it left to the patient (domain.md section 1).

Input is validated at the edge (pydantic models, `Decimal` yuan); inside, amounts are integer fen
(`kinds.State`); the settlement is written back in `Decimal` yuan. The layers' formulas are their
kinds' (`benefits.kinds`); the trace they record becomes text in `render.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from ..errors import ClaimError
from ..kinds import BasicPaid, CounterBound, Earlier, Paid, State
from ..models.accumulators import MAX_ADMISSIONS, MAX_YEAR, MIN_YEAR, Accumulators
from ..models.checked import trusted, validated
from ..models.claim import STAYS, BillSplit, Claim
from ..models.lazy import Lazy
from ..models.settlement import LayerPayout, PatientPart, Settlement
from ..money import MAX_AMOUNT, ZERO, fmt_fen, from_fen, ratio_decimal, to_fen
from ..render import render
from ..rules.pack import RulePack
from ..trace import Recorder
from .bill import split_bill
from .shape import deciding_path, refuse, shape_of

MAX_FEN = to_fen(MAX_AMOUNT)


def _diagnosis(pack: RulePack, codes: list[str], disease: str) -> dict:
    """The trace data of the primary diagnosis and the disease list it falls in (its ICD-10 ranges)."""
    return {"code": codes[0], "others": codes[1:], "disease": disease, "ranges": pack.disease_ranges.get(disease, ())}


@lru_cache(maxsize=256)
def _version_rule(pack: str, start) -> str:
    """The rule a version step names: the pack and the version's start, `jiangmen@2021-01-01`."""
    return f"{pack}@{start}"


def _check_accumulators(acc: Accumulators, claim: Claim, pack: RulePack, year: int) -> None:
    if acc.year != year:
        raise ClaimError.at(("accumulators", "year"), f"{acc.year}, but the claim settles on a date in {year}")
    if acc.member_id is not None and acc.member_id != claim.member.id:
        raise ClaimError.at(("accumulators", "member_id"), f"{acc.member_id!r} is not the claim's member {claim.member.id!r}")
    if not acc.counters or pack.counters_known(year, acc.counters):
        return
    for name in acc.counters:
        problem = pack.counter_problem(name, year)
        if problem:
            raise ClaimError.at(("accumulators", "counters", name), problem)
    pack.know_counters(year, acc.counters)


def _fresh(claim: Claim, pack: RulePack, day) -> Accumulators:
    """The accumulators of a member with nothing used yet in the year of `day`. The loader keeps a
    pack's days within the years accumulators are kept for; a day outside them is still the claim's
    error at its date, not a validation error of accumulators the caller never gave."""
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise ClaimError.at(deciding_path(claim, pack), f"{day} is outside the years accumulators are kept for, "
                            f"{MIN_YEAR} to {MAX_YEAR}")
    return Accumulators(member_id=claim.member.id, year=day.year)


def _fen(acc: Accumulators) -> dict[str, int]:
    """The counters in fen. They were validated as whole fen, but the dict is the caller's: a value put
    in it since (a float, a third decimal) would be floored here, so it is refused with its path."""
    out = {}
    for key, value in acc.counters.items():
        n, d = value.as_integer_ratio() if type(value) is Decimal and value.is_finite() else (0, 3)
        if 100 % d or n < 0:
            raise ClaimError.at(("accumulators", "counters", key), f"{value!r} is not an amount in whole fen, 0 or "
                                "more; the accumulators were changed after they were validated")
        out[key] = n * 100 // d
    return out


def _check_counter_bounds(counters: dict[str, int], pack: RulePack, limits: dict[str, CounterBound]) -> None:
    """domain.md 6.11: a counter (in fen) beyond the most its caps (or aid deductibles) ever allowed
    this member (`limits`) is impossible input, whether or not this claim reads it."""
    if not counters:
        return
    for key, value in counters.items():
        most = limits.get(key.partition("@")[0])
        if most is not None and value > most.limit:
            allowed = (f"the most {most.what} {most.parameter!r} has ever allowed ({fmt_fen(most.limit)})" if most.parameter
                       else f"what pack {pack.name!r} allows: it has no {most.what}")
            raise ClaimError.at(("accumulators", "counters", key), f"{fmt_fen(value)} is above {allowed}; check the accumulators")


def evaluate(claim: Claim | dict, rules: RulePack, accumulators: Accumulators | dict | None = None,
             *, trace: bool = True) -> Settlement:
    """Settle one claim under `rules`, starting from the member's `accumulators` for the year.

    Returns the settlement, including the accumulators after the claim; the inputs are not
    changed. Raises ClaimError (a BenefitsError) for a claim the rules cannot settle.
    """
    if not isinstance(rules, RulePack):
        raise TypeError(f"rules must be a pack from benefits.load_rules(folder), not {type(rules).__name__}")
    # The caller's decimal context cannot change a payout, so none is set here: validation rounds
    # nothing under it (money.parse_money, money.add_exactly), past validation the arithmetic
    # is in integers, and every Decimal the settlement is written in is made under the engine's own
    # context (money.py).
    return _evaluate(claim, rules, accumulators, trace)


def _evaluate(claim, pack: RulePack, accumulators, trace: bool) -> Settlement:
    claim = validated(Claim, claim, "claim")
    day = claim.settlement_date if pack.meta.deciding_date == "settlement" else claim.start_date
    disease = pack.disease_of(claim.diagnoses)
    shape = shape_of(claim, pack, day, disease)  # refuses a claim the pack does not cover
    try:
        version = pack.version_for(day)
    except ClaimError as exc:
        raise ClaimError.at(deciding_path(claim, pack), str(exc)) from None
    if accumulators is None:
        accumulators = _fresh(claim, pack, day)
    acc = validated(Accumulators, accumulators, "accumulators")
    _check_accumulators(acc, claim, pack, day.year)
    counters = _fen(acc)
    _check_counter_bounds(counters, pack, shape.limits)
    if shape.refusal is not None:
        raise refuse(pack, shape.refusal, claim)

    rec = Recorder() if trace else None
    if rec is not None:
        rec.add("version", "version", _version_rule(pack.name, version.start), None,
                {"day": day, "start": version.start, "field": deciding_path(claim, pack)[-1]})
        if claim.diagnoses:
            rec.add("diagnosis", "diagnosis", "claim.diagnoses", None, _diagnosis(pack, claim.diagnoses, disease))
    bill, items = split_bill(claim, pack.param(pack.meta.default_b_share, day), rec)
    st = State(claim, pack, day, shape.fact, shape.fired, pack.values_on(day), dict(counters), acc.admissions,
               bill, rec)
    return _settlement(claim, pack, version.start, day, bill, items, acc, counters, st, _pay_layers(st))


@dataclass(slots=True)
class _Payments:
    """What the layers paid on one claim: each layer that paid, by layer id (one whose `when:` or
    own conditions do not hold is absent), the basic-fund layer's payout, and the sums in fen."""

    by_layer: dict[str, Paid] = field(default_factory=dict)
    basic: BasicPaid | None = None
    funds: int = 0  # fund_pay_sumamt
    account: int = 0  # paid from the personal account, part of the patient's own share


def _pay_layers(st: State) -> _Payments:
    """Each layer whose `when:` holds, in the pack's order, given what the layers before it paid."""
    out = _Payments()
    earlier = Earlier()
    steps = st.rec.steps if st.rec is not None else None
    for run in st.pack.layer_runs(st.fired):
        if steps is not None:
            steps.extend(run.skipped)
        layer = run.layer
        if layer is None:
            break
        paid = layer.pay(st, earlier)
        if paid is None:
            if steps is not None:
                steps.append(layer.skipped[True])
            continue
        if layer.fund:
            st.left -= paid.paid
            out.funds += paid.paid
            if steps is not None:
                st.funds_paid.append(paid.paid)
        else:
            out.account += paid.paid
        if isinstance(paid, BasicPaid):
            earlier.basic = paid
        out.by_layer[layer.id] = paid
    out.basic = earlier.basic
    return out


def _settlement(claim: Claim, pack: RulePack, version, day, bill, items, acc: Accumulators, start: dict[str, int],
                st: State, paid: _Payments) -> Settlement:
    basic = paid.basic
    if basic is None:  # no basic-fund layer applied: none of the policy-range amount was paid by one
        basic = BasicPaid(0, bill.policy_range, None, co_pay=bill.policy_range)
    patient = bill.total - paid.funds
    account = paid.account
    rec = st.rec
    if rec is not None:
        rec.add("patient", "patient", "settlement.patient", None,  # every fund layer, 0 where it paid nothing
                {"paid": paid.by_layer, "funds_order": pack.fund_layer_ids, "total": bill.total,
                 "funds": paid.funds, "patient": patient})
        if account:
            rec.add("cash", "cash", "settlement.cash", None, {"patient": patient, "account": account, "cash": patient - account})
    counters = st.counters
    admissions = acc.admissions + (1 if claim.visit in STAYS else 0)
    _check_limits(bill.total, counters, admissions)
    split = claim.bill if claim.bill is not None else _BLANK_SPLIT.model_copy(update=dict(
        total=from_fen(bill.total), fully_self_paid=from_fen(bill.fully_self_paid),
        over_limit=from_fen(bill.over_limit), pre_self_paid=from_fen(bill.pre_self_paid),
        policy_range=from_fen(bill.policy_range)))
    deductible = from_fen(basic.deductible)
    patient_total = from_fen(patient)
    by_layer = paid.by_layer
    return _BLANK.model_copy(update=dict(
        claim_id=claim.id, pack=pack.name, version=version, deciding_date=day, bill=split, items=items,
        deductible=deductible, ratio=ratio_decimal(basic.ratio) if basic.layer else None,
        layers=Lazy(make=lambda: _payouts(pack, by_layer, claim.member.scheme._value_)),
        fund_total=from_fen(paid.funds),
        patient=PatientPart(
            split.fully_self_paid, split.over_limit, split.pre_self_paid, deductible, from_fen(basic.co_pay),
            from_fen(basic.above_cap), from_fen(basic.deductible + basic.co_pay + basic.above_cap - st.left),
            patient_total, from_fen(account), from_fen(patient - account) if account else patient_total),
        accumulators_before=acc,
        accumulators_after=trusted(acc.model_copy(update=dict(
            member_id=claim.member.id, admissions=admissions,
            counters=_counters_after(acc.counters, start, counters)))),
        trace=Lazy(make=lambda: render(rec.steps, pack.sites, pack.bases)) if rec is not None else Lazy(),
    ))


# Every field of a settlement (and of a bill the engine split) is given, from values the engine made
# exactly: copying a blank with all of them set is pydantic's cheapest public way to a model that
# needs no validation (about half of what `model_construct`, which looks up aliases and defaults per
# field, costs per claim).
_BLANK = Settlement.model_construct(**dict.fromkeys(Settlement.model_fields))
_BLANK_SPLIT = BillSplit.model_construct(**dict.fromkeys(BillSplit.model_fields))


def _counters_after(before: dict[str, Decimal], start: dict[str, int], now: dict[str, int]) -> dict[str, Decimal]:
    """The counters after the claim, by name: the amount given where the claim left it as it was."""
    out = {}
    for key in sorted(now):
        fen = now[key]
        out[key] = before[key] if start.get(key) == fen else from_fen(fen)
    return out


def _payouts(pack: RulePack, paid_by: dict[str, Paid], scheme: str) -> list[LayerPayout]:
    out = []
    for layer in pack.layers:
        r = paid_by.get(layer.id)
        out.append(LayerPayout(layer.id, layer.name.zh, layer.name.en, layer.fund_code.get(scheme),
                               layer.platform_field.get(scheme), r is not None, layer.fund,
                               from_fen(r.base) if r else ZERO,
                               from_fen(r.limit_left) if r and r.limit_left is not None else None,
                               from_fen(r.paid) if r else ZERO))
    return out


def _check_limits(total: int, counters: dict[str, int], admissions: int) -> None:
    """Results must stay within what an input may hold (a ledger would refuse them later)."""
    if admissions > MAX_ADMISSIONS:
        raise ClaimError.at(("accumulators", "admissions"), f"the claim cannot be settled within accepted counts: "
                            f"accumulators_after.admissions would be {admissions}, above the most accepted "
                            f"({MAX_ADMISSIONS})")
    if total <= MAX_FEN and (not counters or max(counters.values()) <= MAX_FEN):
        return
    # a total only line items can take beyond the bound; a counter, the accumulators brought in
    over = [("bill.total", total, ("claim", "items"))] if total > MAX_FEN else []
    over += [(f"accumulators_after.counters.{k}", v, ("accumulators", "counters", k))
             for k, v in sorted(counters.items()) if v > MAX_FEN]
    if over:
        name, value, path = over[0]
        raise ClaimError.at(path, f"the claim cannot be settled within accepted amounts: {name} would be "
                            f"{fmt_fen(value)}, above the largest accepted amount {fmt_fen(MAX_FEN)}")
