"""Layer kind `residual_ratio`: 医疗救助 (domain.md section 6.6).

    pay = ratio x max(0, left - aid_deductible_left), up to the annual cap left

where `left` is what the policy-range amount still leaves after the fund layers before it, and
the ratio and aid deductible are those of the member's most favourable group (6.7). A member in
none of the layer's groups gets nothing from it.
"""

from __future__ import annotations

from functools import cached_property
from typing import ClassVar, Iterator, Literal

from pydantic import Field

from ..money import RATIO, half_up
from ..rules.files import GroupRatio, Name, Row
from .base import Check, CounterBound, Earlier, Kind, Paid, State, most_favourable, record_cap


class ResidualRatioLayer(Kind):
    """医疗救助: a group's ratio on what the earlier layers left, above an annual aid deductible."""

    unmet: ClassVar[tuple[str, str]] = ("参保人不属于本层的任何人员类别", "the member is in none of the layer's groups")
    pays_groups_only: ClassVar[bool] = True  # a claim of a member in none of its groups is not paid

    kind: Literal["residual_ratio"]
    paid_counter: Name | None = Field(None, description="absent: the layer touches no accumulator")
    deductible_counter: Name | None = None
    groups: list[GroupRatio] = Field(min_length=1)
    caps: list[Row] = Field(default_factory=list)

    # --- loading ------------------------------------------------------------------------------

    def check(self, chk: Check) -> None:
        chk.counter(("paid_counter",), self.paid_counter)
        chk.counter(("deductible_counter",), self.deductible_counter)
        chk.rows("caps", self.caps, "yuan", self.rule_ids("caps", self.caps))
        if self.caps and self.paid_counter is None:
            chk.problem(("caps",), "an annual cap needs a `paid_counter` to draw on")
        chk.groups(self.groups, self.group_rules)
        for i, g in enumerate(self.groups):
            chk.param(("groups", i, "ratio"), g.ratio, "percent")
            chk.param(("groups", i, "deductible"), g.deductible, "yuan")
            if g.deductible and self.deductible_counter is None:
                chk.problem(("groups", i, "deductible"), "an aid deductible needs the layer's `deductible_counter`")

    def bounds(self, highest) -> Iterator[CounterBound]:
        if self.paid_counter is not None:
            for row, rid in zip(self.caps, self.rule_ids("caps", self.caps)):
                yield CounterBound(self.paid_counter, highest(row.value), row.value, "cap", rid if row.when else None)
        if self.deductible_counter:
            largest = max((g.deductible for g in self.groups if g.deductible), key=highest, default=None)
            yield CounterBound(self.deductible_counter, highest(largest) if largest else 0, largest, "aid deductible")

    @cached_property  # the same words in every claim's trace
    def payer(self) -> dict[str, str]:
        """Who pays, as the trace names it: the layer's name in both languages."""
        return {"zh": self.name.zh, "en": self.name.en}

    # --- paying -------------------------------------------------------------------------------

    def pay(self, st: State, earlier: Earlier) -> Paid | None:
        groups = [(g, rid) for g, rid in zip(self.groups, self.group_rules) if g.when is None or rid in st.fired]
        if not groups:
            return None
        left = st.left
        cap = cap_left = None
        hit = st.first(self.caps, self.rule_ids("caps", self.caps))
        if hit is not None and self.paid_counter is not None:
            cap = st.param(hit[0].value)
            cap_left = max(0, cap.units - st.counter(self.paid_counter))
        met = st.counter(self.deductible_counter) if self.deductible_counter else 0  # aid deductible met this year
        options = []
        for g, rid in groups:
            ratio = st.param(g.ratio)
            ded = st.param(g.deductible) if g.deductible else None
            ded_left = max(0, ded.units - met) if ded and self.deductible_counter else 0
            used = min(left, ded_left)
            raw = (left - used) * ratio.units
            paid = half_up(raw if cap_left is None else min(raw, cap_left * RATIO), RATIO)
            options.append((paid, g, ratio, ded, used, raw, rid))
        paid, g, ratio, ded, used, raw, rule = most_favourable(options, lambda o: o[0])
        if st.rec is not None:
            if len(options) > 1:
                st.rec.add("residual_ratio.group", f"{self.id}.group", rule, self.id,
                           {"options": {o[1].id: o[0] for o in options}, "chosen": g.id,
                            "names": {o[1].id: o[1].name for o in options if o[1].name},
                            "member": st.claim.member.groups})
            if ded is not None and self.deductible_counter:
                st.rec.add("residual_ratio.deductible", f"{self.id}.deductible", rule, self.id,
                           {"amount": ded.units, "met": met, "left": left, "used": used}, (ded,))
            if cap is not None:
                record_cap(st, self.id, hit[1], cap, st.counter(self.paid_counter), cap_left)
            st.rec.add("residual_ratio.pay", f"{self.id}.pay", rule, self.id,
                       {"group": g.id, "name": g.name, "member": st.claim.member.groups,
                        "payer": self.payer,
                        "left": left, "used": used, "deductible": ded is not None,
                        "policy": st.bill.policy_range, "funds": tuple(st.funds_paid),
                        "ratio": ratio.units, "raw": raw,
                        "cap_left": cap_left, "paid": paid}, (ratio,))
        if self.paid_counter:
            st.add(self.paid_counter, paid)
        if used and self.deductible_counter:
            st.add(self.deductible_counter, used)
        return Paid(paid, left, cap_left)
