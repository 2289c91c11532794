"""Layer kind `basic_fund`: 基本医疗保险统筹基金 (domain.md section 6.3).

    pay = min(max(0, policy - deductible_left) x ratio, cap_left)

The deductible (起付线) is per admission (with a lower one from a repeat admission), per year
(consumed through a counter), per claim, or none; the ratio (支付比例) is the first row that holds,
plus every adjustment that holds, in points; every cap (最高支付限额) that holds limits the payout,
per year, month or claim, and the smallest left wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Iterator, Literal

from pydantic import Field

from ..conditions import fields_of
from ..errors import ClaimError
from ..money import RATIO, half_up
from ..rules.files import Adjustment, Cap, Deductible, Row
from ..trace import Step
from .base import BasicPaid, Check, CounterBound, Earlier, Kind, State, record_cap, with_points

if TYPE_CHECKING:
    from ..rules.pack import ParameterValue


class BasicFundLayer(Kind):
    """基本医疗保险统筹基金: deductible, ratio, caps on the policy-range amount."""

    pays_first: ClassVar[bool] = True

    kind: Literal["basic_fund"]
    deductible: Deductible
    ratio: list[Row] = Field(min_length=1)
    adjustments: list[Adjustment] = Field(default_factory=list)
    caps: list[Cap] = Field(default_factory=list)

    # --- loading ------------------------------------------------------------------------------

    def check(self, chk: Check) -> None:
        d = self.deductible
        if d.per == "none" and d.amount:
            chk.problem(("deductible",), "`per: none` takes no `amount` rows")
        if d.per != "none" and not d.amount:
            chk.problem(("deductible", "amount"), "expected at least one row")
        if (d.per == "year") != (d.counter is not None):
            chk.problem(("deductible",), "an annual deductible (per: year) needs a `counter`; other kinds take none")
        if d.repeat_admissions and d.per != "admission":
            chk.problem(("deductible", "repeat_admissions"), "only a per-admission deductible has repeat admissions")
        chk.counter(("deductible", "counter"), d.counter)
        for i, (row, rid) in enumerate(zip(d.amount, self.rule_ids("deductible", d.amount))):
            chk.when(("deductible", "amount", i, "when"), row.when, rid)
            chk.param(("deductible", "amount", i, "value"), row.value, "yuan")
        if d.repeat_admissions:
            chk.param(("deductible", "repeat_admissions", "factor"), d.repeat_admissions.factor, "percent")
        chk.rows("ratio", self.ratio, "percent", self.rule_ids("ratio", self.ratio))
        for i, (adj, rid) in enumerate(zip(self.adjustments, self.rule_ids("adjustments", self.adjustments))):
            chk.when(("adjustments", i, "when"), adj.when, rid)
            chk.param(("adjustments", i, "points"), adj.points, "points")
        for i, (cap, rid) in enumerate(zip(self.caps, self.rule_ids("caps", self.caps))):
            chk.when(("caps", i, "when"), cap.when, rid)
            chk.param(("caps", i, "value"), cap.value, "yuan")
            chk.counter(("caps", i, "counter"), cap.counter)
            chk.period(("caps", i), cap.counter, cap.period)
            if (cap.period == "claim") != (cap.counter is None):
                chk.problem(("caps", i), "a per-claim cap has no counter; a yearly or monthly cap needs one")

    def bounds(self, highest) -> Iterator[CounterBound]:
        for cap, rid in zip(self.caps, self.rule_ids("caps", self.caps)):
            if cap.counter is not None:
                yield CounterBound(cap.counter, highest(cap.value), cap.value, "cap", rid if cap.when else None)

    @property
    def monthly_counters(self) -> set[str]:
        return {c.counter for c in self.caps if c.period == "month"}

    @property
    def cap_ids(self) -> set[str]:
        return {c.id for c in self.caps}

    # --- paying -------------------------------------------------------------------------------

    def pay(self, st: State, earlier: Earlier) -> BasicPaid:
        if earlier.basic is not None:
            raise ClaimError(
                f"pack {st.pack.name!r}: basic-fund layers {earlier.basic.layer!r} and {self.id!r} both apply to "
                "this claim; their `when:` conditions must not overlap")
        plan: _Plan = self.plan(st, self._resolve)
        if plan.error:
            raise ClaimError(plan.error)
        policy = st.left
        deductible = self._deductible(st, plan)
        applied = min(policy, deductible)
        ratio = plan.ratio
        rec = st.rec
        if rec is not None:
            rec.steps.extend(plan.ratio_steps)
        cap_left, keys, cap_lefts = self._cap_left(st, plan)
        eligible = policy - applied
        raw = eligible * ratio  # fen x RATIO
        rounded = half_up(raw, RATIO)
        paid = rounded if cap_left is None or raw <= cap_left * RATIO else cap_left
        if rec is not None:
            rec.add("basic_fund.pay", f"{self.id}.pay", self.when_rule, self.id,
                    {"policy": policy, "deductible": deductible, "applied": applied, "ratio": ratio,
                     "cap_left": cap_left, "raw": raw, "paid": paid})
        for key in keys:
            st.add(key, paid)
        if plan.deductible_counter is not None:
            st.add(plan.deductible_counter, applied)
        return BasicPaid(paid, policy, cap_left, self.id, applied, eligible - rounded, rounded - paid, ratio, eligible,
                         cap_lefts)

    def _resolve(self, st: State) -> "_Plan":
        """The rows that hold for claims like `st`'s and the values they name (see Kind.plan)."""
        d = self.deductible
        base = factor = rid = None
        if d.per != "none":
            hit = st.first(d.amount, self.rule_ids("deductible", d.amount))
            if hit is None:
                return _Plan(error=f"{self.id}: no deductible row of {st.pack.name!r} applies to this claim")
            base, rid = st.param(hit[0].value), hit[1]
            if d.repeat_admissions:
                factor = st.param(d.repeat_admissions.factor)
        hit = st.first(self.ratio, self.rule_ids("ratio", self.ratio))
        if hit is None:
            return _Plan(error=f"{self.id}: no ratio row of {st.pack.name!r} applies to this claim")
        ratio_base = st.param(hit[0].value)
        ratio = ratio_base.units
        # the disease, where the row's condition reads it (a chronic disease's ratio), beside level and scheme
        node = st.pack.rules.get(hit[1])
        disease = st.fact.get("disease") if node is not None and "disease" in fields_of(node) else None
        steps = [Step("basic_fund.ratio", f"{self.id}.ratio", hit[1], self.id,
                      {"ratio": ratio, "level": st.claim.level, "scheme": st.claim.member.scheme.value,
                       "disease": disease}, (ratio_base,))]
        for adj, arid in zip(self.adjustments, self.rule_ids("adjustments", self.adjustments)):
            if arid in st.fired:
                pts = st.param(adj.points)
                new = with_points(ratio, pts.units)
                steps.append(Step("basic_fund.adjustment", f"{self.id}.ratio", arid, self.id,
                                  {"before": ratio, "points": pts.value, "sum": ratio + pts.units, "after": new,
                                   "when": adj.when}, (pts,)))
                ratio = new
        caps = tuple(_CapInForce(cap.id, cap.period, cap.counter, st.param(cap.value), crid)
                     for cap, crid in zip(self.caps, self.rule_ids("caps", self.caps))
                     if cap.when is None or crid in st.fired)
        return _Plan(base, rid, factor, ratio, tuple(steps), caps, d.counter if d.per == "year" else None)

    def _deductible(self, st: State, plan: "_Plan") -> int:
        """The deductible still to be met by this claim (起付线), in fen."""
        d = self.deductible
        base = plan.deductible
        if base is None:
            return 0
        factor = used = None
        if d.per == "admission":
            if plan.factor is not None and st.admissions + 1 >= d.repeat_admissions.from_admission:
                factor = plan.factor
            amount = half_up(base.units * factor.units, RATIO) if factor else base.units
        elif d.per == "year":
            used = st.counter(d.counter)
            amount = max(0, base.units - used)
        else:
            amount = base.units
        if st.rec is not None:
            st.rec.add("basic_fund.deductible", f"{self.id}.deductible", plan.deductible_rule, self.id,
                       {"per": d.per, "admissions": st.admissions, "base": base.units,
                        "factor": factor.units if factor else None, "used": used, "amount": amount},
                       (base, factor) if factor else (base,))
        return amount

    def _cap_left(self, st: State, plan: "_Plan") -> tuple[int | None, list[str], dict[str, int]]:
        """The smallest cap left among those that apply (None: no cap), the counter keys they draw
        on, and each cap's left by cap id."""
        least = None
        keys: list[str] = []
        by_id: dict[str, int] = {}
        rec = st.rec
        for cap in plan.caps:
            if cap.period == "claim":
                left, used = cap.amount.units, 0
            else:
                key = cap.counter if cap.period == "year" else f"{cap.counter}@{st.day.year}-{st.day.month:02d}"
                used = st.counter(key)
                left = cap.amount.units - used
                if left < 0:
                    left = 0
                if key not in keys:
                    keys.append(key)
            if least is None or left < least:
                least = left
            if left < by_id.get(cap.id, left + 1):
                by_id[cap.id] = left
            if rec is not None:
                record_cap(st, self.id, cap.rule, cap.amount, used, left)
        return least, keys, by_id


@dataclass(frozen=True, slots=True)
class _CapInForce:
    """A cap whose row holds for claims like this one, with its value in force."""

    id: str
    period: str  # year | month | claim
    counter: str | None
    amount: ParameterValue
    rule: str


@dataclass(frozen=True, slots=True)
class _Plan:
    """What a basic-fund layer decides from the rules alone (Kind.plan)."""

    deductible: ParameterValue | None = None  # the deductible row's value; None: no deductible
    deductible_rule: str | None = None
    factor: ParameterValue | None = None  # the repeat-admission factor, when the layer has one
    ratio: int = 0  # RATIO units, adjustments included
    ratio_steps: tuple = ()  # the trace steps of the ratio and its adjustments
    caps: tuple[_CapInForce, ...] = ()  # every cap that holds
    deductible_counter: str | None = None  # an annual deductible's counter, which the amount applied adds to
    error: str | None = None  # no row holds: the claim is refused when the layer applies
