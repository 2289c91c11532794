"""The layered calculator: one claim, the pack's layers in the pack's order, each working on
what the layers before it left to the patient (domain.md section 1)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from pydantic import ValidationError

from ..errors import ClaimError, ClaimProblem, error_message, error_path
from ..conditions import possible
from ..facts import VISIT_FIELDS, build_fact
from ..models.accumulators import Accumulators
from ..models.claim import STAYS, BillSplit, Claim, Scheme
from ..models.settlement import LayerPayout, PatientPart, Settlement
from ..models.trusted import trusted
from ..money import MAX_AMOUNT, ZERO, exact, fmt
from ..rules.model import (
    AboveCapLayer,
    BasicFundLayer,
    CumulativeBandsLayer,
    FixedAmountLayer,
    LayerFile,
    PersonalAccountLayer,
    ResidualRatioLayer,
)
from ..rules.pack import RulePack
from ..trace import Trace
from .above_cap import pay_above_cap
from .account import pay_personal_account
from .basic import pay_basic_fund
from .bill import split_bill
from .context import ClaimContext
from .cumulative import pay_cumulative_bands
from .fixed import pay_fixed_amount
from .residual import pay_residual_ratio

# Layer kinds: the formulas of domain.md section 6. Which layers exist, in which order, with
# which parameters, is the rule pack's business.
KINDS: dict[type, Callable] = {
    BasicFundLayer: pay_basic_fund,
    CumulativeBandsLayer: pay_cumulative_bands,
    ResidualRatioLayer: pay_residual_ratio,
    FixedAmountLayer: pay_fixed_amount,
    AboveCapLayer: pay_above_cap,
    PersonalAccountLayer: pay_personal_account,
}
# Layer kinds that are not funds: they pay part of the patient's own share (psn_part_amt).
NOT_FUNDS = (PersonalAccountLayer,)


def _validated(model, value: Any, what: str):
    if isinstance(value, model):
        return value
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise ClaimError([ClaimProblem((what,) + error_path(err), error_message(err)) for err in exc.errors()]) from None


def _check_claim(claim: Claim, pack: RulePack) -> None:
    meta = pack.meta
    if claim.visit.value not in meta.visits:
        raise ClaimError(
            f"pack {pack.name!r} does not cover visit kind {claim.visit.value!r}; it covers: {', '.join(meta.visits)}"
        )
    if claim.level not in meta.levels:
        raise ClaimError.at(("claim", "level"), f"{claim.level!r} is not a hospital level of pack {pack.name!r}; "
                            f"expected one of: {', '.join(meta.levels)}")
    for name in sorted(pack.required_fields):
        if getattr(claim.member, name) is None:
            raise ClaimError.at(("claim", "member", name), f"required: pack {pack.name!r} has conditions on {name}")
    if claim.service is not None and claim.service not in meta.services:
        raise ClaimError.at(("claim", "service"), f"{claim.service!r} is not a service of pack {pack.name!r}; "
                            f"expected one of: {', '.join(meta.services) or '(the pack has none)'}")


def _check_refusals(pack: RulePack, fired: frozenset[str]) -> None:
    for i, refusal in enumerate(pack.meta.refusals):
        if f"refusals[{i}]" in fired:
            raise ClaimError(f"pack {pack.name!r} refuses this claim: {refusal.message} ({refusal.citation})")


def _check_accumulators(acc: Accumulators, claim: Claim, pack: RulePack, year: int) -> None:
    if acc.year != year:
        raise ClaimError.at(("accumulators", "year"), f"{acc.year}, but the claim settles on a date in {year}")
    if acc.member_id is not None and acc.member_id != claim.member.id:
        raise ClaimError.at(("accumulators", "member_id"), f"{acc.member_id!r} is not the claim's member {claim.member.id!r}")
    for name in acc.counters:
        at = ("accumulators", "counters", name)
        base, _, month = name.partition("@")
        if base not in pack.counters:
            raise ClaimError.at(at, f"unknown counter {name!r}; pack {pack.name!r} keeps: {', '.join(pack.counters)}")
        if (base in pack.monthly_counters) != bool(month):
            raise ClaimError.at(at, f"{base!r} is kept per month, as {base}@{year}-MM" if base in pack.monthly_counters
                                else f"{base!r} is a yearly counter, written without @")
        if month and not re.fullmatch(rf"{year}-(0[1-9]|1[0-2])", month):
            raise ClaimError.at(at, f"expected a month of {year}, as {base}@{year}-MM")


def _check_counter_bounds(acc: Accumulators, pack: RulePack, fact: dict) -> None:
    """domain.md 6.11: a counter beyond the most its caps (or aid deductibles) ever allowed this
    member is impossible input, whether or not this claim reads it."""
    for key, value in acc.counters.items():
        bounds = pack.bounds.get(key.partition("@")[0])
        if not bounds or not value:
            continue
        binding = [b for b in bounds if b.rule is None or possible(pack.rules[b.rule], fact, VISIT_FIELDS)]
        if not binding:
            continue
        most = max(binding, key=lambda b: b.limit)
        if value > most.limit:
            allowed = (f"the most {most.what} {most.parameter!r} has ever allowed ({most.limit:.2f})" if most.parameter
                       else f"what pack {pack.name!r} allows: it has no {most.what}")
            raise ClaimError.at(("accumulators", "counters", key), f"{value:.2f} is above {allowed}; check the accumulators")


def evaluate(claim: Claim | dict, rules: RulePack, accumulators: Accumulators | dict | None = None,
             *, trace: bool = True) -> Settlement:
    """Settle one claim under `rules`, starting from the member's `accumulators` for the year.

    Returns the settlement, including the accumulators after the claim; the inputs are not
    changed. Raises ClaimError (a BenefitsError) for a claim the rules cannot settle.
    """
    if not isinstance(rules, RulePack):
        raise TypeError(f"rules must be a pack from benefits.load_rules(folder), not {type(rules).__name__}")
    with exact():  # the caller's decimal context must not change a payout
        try:
            return _evaluate(claim, rules, accumulators, trace)
        except ValidationError as exc:  # a result out of range, e.g. counters beyond the largest amount
            raise ClaimError(f"the claim cannot be settled within accepted amounts: {_first_error(exc)}") from None


@dataclass(frozen=True, slots=True)
class _LayerPlan:
    """What does not change from claim to claim for one layer. Built once per pack."""

    layer: LayerFile
    pay: Callable  # the layer kind's formula
    when: str  # the id of its `when:` rule
    fund: bool
    payout: dict[str, dict]  # scheme -> the payout's fixed fields
    skip: tuple[str, str, str, str]  # the trace step of a layer that does not apply: step, zh, en, why


_OWN_CONDITIONS = "the layer's own conditions (groups, or the basic-fund cap it follows) do not hold"


def _plan(pack: RulePack) -> list[_LayerPlan]:
    plan = pack.derived.get("calculator.plan")
    if plan is None:
        plan = []
        for layer in pack.layers:
            fund = not isinstance(layer, NOT_FUNDS)
            payout = {scheme: {"layer": layer.id, "name_zh": layer.name.zh, "name_en": layer.name.en,
                               "fund_code": layer.fund_code.get(scheme),
                               "platform_field": layer.platform_field.get(scheme), "fund": fund}
                      for scheme in (s.value for s in Scheme)}
            skip = (f"{layer.id}.skip", f"{layer.name.zh}不适用于本次结算",
                    f"{layer.name.en} does not apply to this claim", f"not ({layer.when})")
            plan.append(_LayerPlan(layer, KINDS[type(layer)], f"{layer.id}.when", fund, payout, skip))
        pack.derived["calculator.plan"] = plan
    return plan


def _check_limits(bill: BillSplit, after: Accumulators) -> None:
    """Results must stay within what an input may hold (a ledger would refuse them later)."""
    for name, value in [("bill.total", bill.total)] + [(f"accumulators_after.counters.{k}", v) for k, v in after.counters.items()]:
        if value > MAX_AMOUNT:
            raise ClaimError(
                f"the claim cannot be settled within accepted amounts: {name} would be {fmt(value)}, "
                f"above the largest accepted amount {fmt(MAX_AMOUNT)}"
            )


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    return f"{'.'.join(map(str, error_path(err)))}: {error_message(err)}"


def _evaluate(claim, rules: RulePack, accumulators, trace: bool) -> Settlement:
    claim = _validated(Claim, claim, "claim")
    pack = rules
    _check_claim(claim, pack)
    day = claim.settlement_date if pack.meta.deciding_date == "settlement" else claim.start_date
    version = pack.version_for(day)
    if accumulators is None:
        accumulators = Accumulators(member_id=claim.member.id, year=day.year)
    acc = _validated(Accumulators, accumulators, "accumulators")
    _check_accumulators(acc, claim, pack, day.year)

    fact = build_fact(claim, day, pack.disease_of(claim.diagnoses))
    _check_counter_bounds(acc, pack, fact)
    fired = pack.matcher.fired(fact)
    _check_refusals(pack, fired)
    tr = Trace(trace)
    if tr.enabled:
        tr.add(step="version", rule=f"{pack.name}@{version.start}",
               explain_zh=f"按{day}（{pack.meta.deciding_date}）适用 {version.start} 起的政策",
               explain_en=f"the deciding date {day} ({pack.meta.deciding_date}) selects the version of {version.start}",
               inputs={"deciding_date": str(day)}, formula="", output=str(version.start))
    bill, items = split_bill(claim, pack.param(pack.meta.default_b_share, day), tr)
    ctx = ClaimContext(
        claim=claim, pack=pack, day=day, fired=fired, bill=bill, counters=dict(acc.counters),
        admissions_before=acc.admissions, trace=tr, left=bill.policy_range, values=pack.values_on(day),
    )
    payouts = []
    fund_total = account = ZERO
    scheme = claim.member.scheme._value_
    for plan in _plan(pack):
        layer = plan.layer
        result = plan.pay(layer, ctx) if plan.when in fired else None
        if result is None:
            if tr.enabled:
                step, zh, en, not_when = plan.skip
                tr.add(step, plan.when, zh, en, "0.00", layer.id, {},
                       not_when if plan.when not in fired else _OWN_CONDITIONS)
            paid, base, cap_left, applied = ZERO, ZERO, None, False
        else:
            paid, base, cap_left = result
            applied = True
        if plan.fund:
            ctx.left -= paid
            fund_total += paid
        else:
            account += paid
        fields = dict(plan.payout[scheme])
        fields.update(applied=applied, base=base, limit_left=cap_left, paid=paid)
        payouts.append(trusted(LayerPayout, fields))

    basic = ctx.basic
    if basic.ratio is None:  # no basic layer applied: the policy-range amount is unpaid by it
        basic.co_pay = bill.policy_range
    patient = trusted(PatientPart, {
        "fully_self_paid": bill.fully_self_paid, "over_limit": bill.over_limit, "pre_self_paid": bill.pre_self_paid,
        "deductible": basic.deductible, "co_pay": basic.co_pay, "above_cap": basic.above_cap,
        "relieved_by_later_layers": basic.deductible + basic.co_pay + basic.above_cap - ctx.left,
        "total": bill.total - fund_total, "account": account, "cash": bill.total - fund_total - account,
    })
    if tr.enabled:
        tr.add(step="patient", rule="domain 6.9",
               explain_zh="个人负担 = 总额 - 各项基金支付", explain_en="patient pays total - every fund's payout",
               inputs={p.layer: fmt(p.paid) for p in payouts if p.fund},
               formula=f"{fmt(bill.total)} - {fmt(fund_total)} = {fmt(patient.total)}", output=fmt(patient.total))
    if account and tr.enabled:
        tr.add(step="cash", rule="domain 6.8",
               explain_zh="个人现金 = 个人负担 - 个人账户支付", explain_en="cash = the patient's part - the personal account's payment",
               inputs={"account": fmt(account)},
               formula=f"{fmt(patient.total)} - {fmt(account)} = {fmt(patient.cash)}", output=fmt(patient.cash))
    after = trusted(Accumulators, {
        "member_id": claim.member.id, "year": acc.year,
        "admissions": acc.admissions + (1 if claim.visit in STAYS else 0),
        "counters": dict(sorted(ctx.counters.items())),
    })
    _check_limits(bill, after)
    # Every part is the engine's own arithmetic on validated input: built without re-validating.
    return trusted(Settlement, {
        "claim_id": claim.id, "pack": pack.name, "version": version.start, "deciding_date": day, "bill": bill,
        "items": items, "deductible": basic.deductible, "ratio": basic.ratio, "layers": payouts,
        "fund_total": fund_total, "patient": patient, "accumulators_before": acc, "accumulators_after": after,
        "trace": tr.steps,
    })
