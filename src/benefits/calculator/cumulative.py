"""Layer kind `cumulative_bands`: 大病保险 and 二次救助 (domain.md sections 6.5, 6.6).

With `before` = the cumulative amount so far this year and `after` = before + what this claim
leaves to the patient, pay, band by band, the band's ratio times the part of [before, after]
inside the band. The first band starts at the deductible (moved by a group's reduction).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..errors import ClaimError
from ..money import ONE, ZERO, fmt, round_fen
from ..rules.model import CumulativeBandsLayer, GroupModifier
from ..rules.pack import ParameterValue
from .context import ClaimContext, capped, cite, most_favourable, pct, with_points


@dataclass(slots=True)
class _Option:
    group: GroupModifier | None
    start: Decimal
    bands: list[tuple[Decimal, Decimal | None, Decimal]]  # (low, high or None, ratio)
    cap_left: Decimal | None
    raw: Decimal
    paid: Decimal
    modifiers: list[ParameterValue]  # the group's parameters used (deductible reduction, points)


def _option(layer, ctx, group, deductible, band_params, cap, before, after) -> _Option:
    start = deductible.value
    points = ZERO
    modifiers = []
    if group is not None and group.deductible_reduction:
        red = ctx.param(group.deductible_reduction)
        start = deductible.value * (ONE - red.value)
        modifiers.append(red)
    if group is not None and group.points:
        pts = ctx.param(group.points)
        points = pts.value
        modifiers.append(pts)
    lows = [start] + [b[0].value for b in band_params[1:]]
    highs = lows[1:] + [None]
    bands = [(lo, hi, with_points(b[1].value, points)) for lo, hi, b in zip(lows, highs, band_params, strict=True)]
    raw = ZERO
    for lo, hi, ratio in bands:
        top = after if hi is None else min(after, hi)
        part = top - max(before, lo)
        if part > 0:
            raw += part * ratio
    cap_left = None
    if cap is not None and not (group is not None and group.lift_cap):
        cap_left = max(ZERO, cap.value - ctx.counter(layer.paid_counter))
    paid = round_fen(raw if cap_left is None else min(raw, cap_left))
    return _Option(group, start, bands, cap_left, raw, paid, modifiers)


def pay_cumulative_bands(layer: CumulativeBandsLayer, ctx: ClaimContext) -> tuple[Decimal, Decimal, Decimal | None]:
    amount = ctx.left
    before = ctx.counter(layer.base_counter)
    after = before + amount
    hit_d = ctx.first(layer.id, "deductible", layer.deductible)
    hit_b = ctx.first(layer.id, "bands", layer.bands)
    if hit_d is None or hit_b is None:
        raise ClaimError(f"{layer.id}: no deductible or band row of {ctx.pack.name!r} applies to this claim")
    deductible = ctx.param(hit_d[1].value)
    band_params = [(ctx.param(b.start) if b.start else None, ctx.param(b.ratio)) for b in hit_b[1].bands]
    hit_c = ctx.first(layer.id, "caps", layer.caps)
    cap = ctx.param(hit_c[1].value) if hit_c else None

    groups = [g for g in layer.groups if ctx.fires(f"{layer.id}.groups.{g.id}")]
    options = [_option(layer, ctx, g, deductible, band_params, cap, before, after) for g in groups]
    options.append(_option(layer, ctx, None, deductible, band_params, cap, before, after))
    best = most_favourable(options, lambda o: o.paid)  # groups are listed before `none`
    if ctx.trace.enabled:
        cites = [deductible] + [p for b in band_params for p in b if p is not None] + best.modifiers
        if best.cap_left is not None:
            cites.append(cap)
        _trace(layer, ctx, options, best, hit_b[0], before, amount, after, cites)
    ctx.add(layer.base_counter, amount)
    ctx.add(layer.paid_counter, best.paid)
    return best.paid, amount, best.cap_left


def _trace(layer, ctx, options, best, row, before, amount, after, cites) -> None:
    if len(options) > 1:
        ctx.trace.add(
            step=f"{layer.id}.group", layer=layer.id,
            rule=f"{layer.id}.groups.{best.group.id}" if best.group else f"{layer.id}.when",
            explain_zh="按对本层最有利的身份计算", explain_en="the group most favourable for this layer applies",
            inputs={(o.group.id if o.group else "none"): fmt(o.paid) for o in options},
            formula=f"max -> {best.group.id if best.group else 'none'}",
            output=best.group.id if best.group else "none",
        )
    ctx.trace.add(
        step=f"{layer.id}.cumulative", layer=layer.id, rule=f"{layer.id}.when",
        explain_zh="年度累计合规自付", explain_en="annual cumulative amount left to the patient",
        inputs={layer.base_counter: fmt(before), "this_claim": fmt(amount)},
        formula=f"{fmt(before)} + {fmt(amount)} = {fmt(after)}", output=fmt(after),
    )
    bands_text = "; ".join(
        f"{fmt(lo)}-{'' if hi is None else fmt(hi)}: {pct(r)}" for lo, hi, r in best.bands
    )
    pieces = []
    for lo, hi, ratio in best.bands:
        top = after if hi is None else min(after, hi)
        if top - max(before, lo) > 0:
            pieces.append(f"({fmt(top)} - {fmt(max(before, lo))}) x {pct(ratio)}")
    formula = " + ".join(pieces) or "0 (no part of the cumulative amount lies in a band)"
    formula = capped(formula + f" = {fmt(best.raw)}", best.raw, best.cap_left)
    ctx.trace.add(
        step=f"{layer.id}.pay", layer=layer.id,
        rule=f"{layer.id}.bands[{row}]",
        explain_zh=f"分段支付：{bands_text}", explain_en=f"paid band by band: {bands_text}",
        inputs={"before": fmt(before), "after": fmt(after), "first_band_start": fmt(best.start),
                "cap_left": "none" if best.cap_left is None else fmt(best.cap_left)},
        formula=formula + f" -> {fmt(best.paid)}", output=fmt(best.paid), citations=cite(*cites),
    )
