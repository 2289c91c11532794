"""Layer kind `above_cap`: 职工大额医疗补助 (domain.md 7.2), triggered by a basic-fund cap.

With E = the eligible cost (policy-range amount above the deductible), r = the basic ratio and
`left` = what the named cap had left before the claim, the basic fund reached its cap at
E' = left / r of eligible cost; this layer pays its ratio on the rest:

    pay = ratio x max(0, E - left / r), up to the layer's own annual cap left
"""

from __future__ import annotations

from decimal import Decimal

from ..money import ZERO, fmt, round_fen
from ..rules.model import AboveCapLayer
from .context import ClaimContext, capped, cite, pct


def pay_above_cap(layer: AboveCapLayer, ctx: ClaimContext) -> tuple[Decimal, Decimal, Decimal | None] | None:
    """None when no basic-fund layer with the named cap applied to the claim."""
    basic = ctx.basic
    if basic.layer is None or layer.cap not in basic.cap_lefts:
        return None
    ratio = ctx.param(layer.ratio)
    eligible, left, r = basic.eligible, basic.cap_lefts[layer.cap], basic.ratio or ZERO
    # with a zero basic ratio the fund never reaches its cap, so nothing lies beyond it
    beyond = max(ZERO, eligible - left / r) if r > 0 else ZERO
    raw = beyond * ratio.value
    cap, cap_left = ctx.annual_cap_left(layer.id, layer.caps, layer.paid_counter)
    paid = round_fen(raw if cap_left is None else min(raw, cap_left))
    if ctx.trace.enabled:
        formula = capped(f"{pct(ratio.value)} x max(0, {fmt(eligible)} - {fmt(left)} / {pct(r)}) = "
                         f"{pct(ratio.value)} x {fmt(beyond)} = {fmt(raw)}", raw, cap_left)
        ctx.trace.add(
            step=f"{layer.id}.pay", layer=layer.id, rule=f"{layer.id}.when",
            explain_zh=f"基本医疗保险达到最高支付限额（{layer.cap}）后的合规费用，按{pct(ratio.value)}补助",
            explain_en=f"{pct(ratio.value)} of the eligible cost beyond the point where the basic fund reached cap {layer.cap}",
            inputs={"eligible": fmt(eligible), "basic_cap_left": fmt(left), "basic_ratio": pct(r),
                    "cap_left": "none" if cap_left is None else fmt(cap_left)},
            formula=formula + f" -> {fmt(paid)}", output=fmt(paid), citations=cite(ratio, cap),
        )
    ctx.add(layer.paid_counter, paid)
    return paid, eligible, cap_left
