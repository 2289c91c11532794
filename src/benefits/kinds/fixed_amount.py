"""Layer kind `fixed_amount`: 定额结算, e.g. maternity outpatient services (domain.md 7.1).

    pay = min(the service's fixed amount, the policy-range amount left)
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..errors import ClaimError
from ..rules.files import Row
from .base import Check, Earlier, Kind, Paid, State


class FixedAmountLayer(Kind):
    """定额结算 (maternity services): pays the service's fixed amount, or the amount left if lower."""

    kind: Literal["fixed_amount"]
    amount: list[Row] = Field(min_length=1, description="the first row that holds gives the fixed amount")

    def check(self, chk: Check) -> None:
        chk.rows("amount", self.amount, "yuan", self.rule_ids("amount", self.amount))

    def pay(self, st: State, earlier: Earlier) -> Paid:
        hit = st.first(self.amount, self.rule_ids("amount", self.amount))
        if hit is None:
            raise ClaimError(
                f"{self.id}: no fixed amount of pack {st.pack.name!r} applies to this claim "
                f"(service: {st.claim.service or 'none'}); the pack's services: {', '.join(st.pack.meta.services) or 'none'}")
        row, rid = hit
        fixed = st.param(row.value)
        left = st.left
        paid = min(fixed.units, left)
        if st.rec is not None:
            st.rec.add("fixed_amount.pay", f"{self.id}.pay", rid, self.id,
                       {"service": st.claim.service or "none", "fixed": fixed.units, "left": left, "paid": paid}, (fixed,))
        return Paid(paid, left, fixed.units)
