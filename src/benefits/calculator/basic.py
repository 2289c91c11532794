"""Layer kind `basic_fund`: 基本医疗保险统筹基金 (domain.md section 6.3).

    pay = min(max(0, policy - deductible_left) x ratio, cap_left)
"""

from __future__ import annotations

from decimal import Decimal

from ..errors import ClaimError
from ..money import ZERO, fmt, round_fen
from ..rules.model import BasicFundLayer
from .context import ClaimContext, capped, cite, pct, with_points


def _deductible(layer: BasicFundLayer, ctx: ClaimContext) -> Decimal:
    """The deductible still to be met by this claim (起付线)."""
    d = layer.deductible
    if d.per == "none":
        return ZERO
    hit = ctx.first(layer.id, "deductible", d.amount)
    if hit is None:
        raise ClaimError(f"{layer.id}: no deductible row of {ctx.pack.name!r} applies to this claim")
    i, row = hit
    base = ctx.param(row.value)
    factor = used = None
    if d.per == "admission":
        rep = d.repeat_admissions
        if rep and ctx.admissions_before + 1 >= rep.from_admission:
            factor = ctx.param(rep.factor)
        amount = round_fen(base.value * factor.value) if factor else base.value
    elif d.per == "year":
        used = ctx.counter(d.counter)
        amount = max(ZERO, base.value - used)
    else:
        amount = base.value
    if ctx.trace.enabled:
        _trace_deductible(layer, ctx, f"{layer.id}.deductible[{i}]", base, factor, used, amount)
    return amount


def _trace_deductible(layer, ctx, rule, base, factor, used, amount) -> None:
    per, number = layer.deductible.per, ctx.admissions_before + 1
    if factor is not None:
        explain = (f"本年第{number}次住院，起付线按{pct(factor.value)}计",
                   f"admission no. {number} this year: {pct(factor.value)} of the deductible")
        formula = f"{fmt(base.value)} x {pct(factor.value)} = {fmt(amount)}"
    elif per == "admission":
        explain = (f"本年第{number}次住院，起付线", f"admission no. {number} this year: the level's deductible")
        formula = fmt(base.value)
    elif per == "year":
        explain = ("年度起付线未用部分", "the annual deductible not yet used")
        formula = f"max(0, {fmt(base.value)} - {fmt(used)}) = {fmt(amount)}"
    else:
        explain = ("每次起付线", "the per-claim deductible")
        formula = fmt(base.value)
    ctx.trace.add(
        step=f"{layer.id}.deductible", layer=layer.id, rule=rule,
        explain_zh=explain[0], explain_en=explain[1],
        inputs={"admissions_before": str(ctx.admissions_before)} if per == "admission" else {},
        formula=formula, output=fmt(amount), citations=cite(base, factor),
    )


def _ratio(layer: BasicFundLayer, ctx: ClaimContext) -> Decimal:
    hit = ctx.first(layer.id, "ratio", layer.ratio)
    if hit is None:
        raise ClaimError(f"{layer.id}: no ratio row of {ctx.pack.name!r} applies to this claim")
    i, row = hit
    base = ctx.param(row.value)
    if ctx.trace.enabled:
        ctx.trace.add(
            step=f"{layer.id}.ratio", layer=layer.id, rule=f"{layer.id}.ratio[{i}]",
            explain_zh="基金支付比例", explain_en="the fund's payment ratio",
            inputs={"level": ctx.claim.level, "scheme": ctx.claim.member.scheme.value},
            formula=pct(base.value), output=pct(base.value), citations=cite(base),
        )
    ratio = base.value
    for i, adj in enumerate(layer.adjustments):
        rule = f"{layer.id}.adjustments[{i}]"
        if ctx.fires(rule):
            pts = ctx.param(adj.points)
            new = with_points(ratio, pts.value)
            if ctx.trace.enabled:
                ctx.trace.add(
                    step=f"{layer.id}.ratio", layer=layer.id, rule=rule,
                    explain_zh=f"支付比例调整 {pts.value:+f} 个百分点（{adj.when}）",
                    explain_en=f"ratio changed by {pts.value:+f} points ({adj.when})",
                    formula=f"{pct(ratio)} {pts.value:+f} points = {pct(new)}",
                    output=pct(new), citations=cite(pts),
                )
            ratio = new
    return ratio


def _cap_left(layer: BasicFundLayer, ctx: ClaimContext) -> tuple[Decimal | None, list[str]]:
    """The smallest cap left among those that apply, and the counter keys they draw on."""
    lefts: list[Decimal] = []
    by_id = ctx.basic.cap_lefts
    keys: list[str] = []
    for i, cap in enumerate(layer.caps):
        rule = f"{layer.id}.caps[{i}]"
        if cap.when is not None and not ctx.fires(rule):
            continue
        amount = ctx.param(cap.value)
        if cap.period == "claim":
            left, used, key = amount.value, ZERO, None
        else:
            key = cap.counter if cap.period == "year" else f"{cap.counter}@{ctx.day:%Y-%m}"
            used = ctx.counter(key)
            left = max(ZERO, amount.value - used)
            if key not in keys:
                keys.append(key)
        lefts.append(left)
        by_id[cap.id] = min(left, by_id.get(cap.id, left))
        if ctx.trace.enabled:
            ctx.trace.add(
                step=f"{layer.id}.cap", layer=layer.id, rule=rule,
                explain_zh=f"最高支付限额（{cap.id}）剩余", explain_en=f"cap {cap.id}: what is left of it",
                inputs={"paid_so_far": fmt(used)},
                formula=f"max(0, {fmt(amount.value)} - {fmt(used)}) = {fmt(left)}",
                output=fmt(left), citations=cite(amount),
            )
    return (min(lefts) if lefts else None), keys


def pay_basic_fund(layer: BasicFundLayer, ctx: ClaimContext) -> tuple[Decimal, Decimal, Decimal | None]:
    """Returns (paid, the amount it worked on, cap left before the claim)."""
    if ctx.basic.layer is not None:
        raise ClaimError(
            f"pack {ctx.pack.name!r}: basic-fund layers {ctx.basic.layer!r} and {layer.id!r} both apply to this "
            "claim; their `when:` conditions must not overlap"
        )
    ctx.basic.layer = layer.id
    policy = ctx.left
    deductible_left = _deductible(layer, ctx)
    applied = min(policy, deductible_left)
    ratio = _ratio(layer, ctx)
    cap_left, keys = _cap_left(layer, ctx)
    eligible = policy - applied
    uncapped = eligible * ratio
    paid = round_fen(uncapped if cap_left is None else min(uncapped, cap_left))
    if ctx.trace.enabled:
        formula = capped(f"({fmt(policy)} - {fmt(applied)}) x {pct(ratio)} = {fmt(uncapped)}", uncapped, cap_left)
        ctx.trace.add(
            step=f"{layer.id}.pay", layer=layer.id, rule=f"{layer.id}.when",
            explain_zh="统筹基金支付 =（政策范围内费用 - 起付线）x 支付比例，不超过限额",
            explain_en="fund pays (policy-range amount - deductible) x ratio, up to the cap",
            inputs={"policy_range": fmt(policy), "deductible_applied": fmt(applied), "ratio": pct(ratio),
                    "cap_left": "none" if cap_left is None else fmt(cap_left)},
            formula=formula + f" -> {fmt(paid)}", output=fmt(paid),
        )
    for key in keys:
        ctx.add(key, paid)
    if layer.deductible.per == "year":
        ctx.add(layer.deductible.counter, applied)
    rounded = round_fen(uncapped)
    ctx.basic.deductible = applied
    ctx.basic.co_pay = eligible - rounded
    ctx.basic.above_cap = rounded - paid
    ctx.basic.ratio = ratio
    ctx.basic.eligible = eligible
    return paid, policy, cap_left
