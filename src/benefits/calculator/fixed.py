"""Layer kind `fixed_amount`: 定额结算, e.g. maternity outpatient services (domain.md 7.1).

    pay = min(the service's fixed amount, the policy-range amount left)
"""

from __future__ import annotations

from decimal import Decimal

from ..errors import ClaimError
from ..money import fmt, round_fen
from ..rules.model import FixedAmountLayer
from .context import ClaimContext, cite


def pay_fixed_amount(layer: FixedAmountLayer, ctx: ClaimContext) -> tuple[Decimal, Decimal, Decimal | None]:
    hit = ctx.first(layer.id, "amount", layer.amount)
    if hit is None:
        raise ClaimError(
            f"{layer.id}: no fixed amount of pack {ctx.pack.name!r} applies to this claim "
            f"(service: {ctx.claim.service or 'none'}); the pack's services: {', '.join(ctx.pack.meta.services) or 'none'}"
        )
    i, row = hit
    fixed = ctx.param(row.value)
    left = ctx.left
    paid = round_fen(min(fixed.value, left))
    if ctx.trace.enabled:
        ctx.trace.add(
            step=f"{layer.id}.pay", layer=layer.id, rule=f"{layer.id}.amount[{i}]",
            explain_zh="定额结算：按定额支付，政策范围内费用低于定额的按实际费用支付",
            explain_en="fixed-amount settlement: the fixed amount, or the policy-range amount if lower",
            inputs={"service": ctx.claim.service or "none", "policy_range_left": fmt(left)},
            formula=f"min({fmt(fixed.value)}, {fmt(left)}) = {fmt(paid)}", output=fmt(paid), citations=cite(fixed),
        )
    return paid, left, fixed.value
