"""Layer kind `residual_ratio`: 医疗救助 (domain.md section 6.6).

    pay = ratio x max(0, left - aid_deductible_left), up to the annual cap left
where `left` is what the policy-range amount still leaves after the fund layers before it.
"""

from __future__ import annotations

from decimal import Decimal

from ..money import ZERO, fmt, round_fen
from ..rules.model import ResidualRatioLayer
from .context import ClaimContext, capped, cite, most_favourable, pct


def pay_residual_ratio(layer: ResidualRatioLayer, ctx: ClaimContext) -> tuple[Decimal, Decimal, Decimal | None] | None:
    """None when the member is in none of the layer's groups."""
    groups = [g for g in layer.groups if g.when is None or ctx.fires(f"{layer.id}.groups.{g.id}")]
    if not groups:
        return None
    left = ctx.left
    cap, cap_left = ctx.annual_cap_left(layer.id, layer.caps, layer.paid_counter)
    options = []
    for g in groups:
        ratio = ctx.param(g.ratio)
        ded = ctx.param(g.deductible) if g.deductible else None
        ded_left = max(ZERO, ded.value - ctx.counter(layer.deductible_counter)) if ded and layer.deductible_counter else ZERO
        used = min(left, ded_left)
        raw = (left - used) * ratio.value
        paid = round_fen(raw if cap_left is None else min(raw, cap_left))
        options.append((paid, g, ratio, ded, used, raw))
    paid, g, ratio, ded, used, raw = most_favourable(options, lambda o: o[0])
    if ctx.trace.enabled:
        if len(options) > 1:
            ctx.trace.add(
                step=f"{layer.id}.group", layer=layer.id, rule=f"{layer.id}.groups.{g.id}",
                explain_zh="按对本层最有利的救助身份计算", explain_en="the aid group most favourable for this layer applies",
                inputs={o[1].id: fmt(o[0]) for o in options}, formula=f"max -> {g.id}", output=g.id,
            )
        formula = capped(f"({fmt(left)} - {fmt(used)}) x {pct(ratio.value)} = {fmt(raw)}", raw, cap_left)
        ctx.trace.add(
            step=f"{layer.id}.pay", layer=layer.id, rule=f"{layer.id}.groups.{g.id}",
            explain_zh=f"救助对象（{g.id}）按{pct(ratio.value)}救助剩余合规自付",
            explain_en=f"aid group {g.id}: {pct(ratio.value)} of the in-policy self-pay left",
            inputs={"left": fmt(left), "aid_deductible_used": fmt(used),
                    "cap_left": "none" if cap_left is None else fmt(cap_left)},
            formula=formula + f" -> {fmt(paid)}", output=fmt(paid), citations=cite(ratio, ded, cap),
        )
    if layer.paid_counter:
        ctx.add(layer.paid_counter, paid)
    if used and layer.deductible_counter:
        ctx.add(layer.deductible_counter, used)
    return paid, left, cap_left
