"""Splitting the bill (费用分解, domain.md section 2 and 6.2)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from ..models.claim import BillSplit, Category, Claim
from ..models.settlement import ItemSplit
from ..models.trusted import trusted
from ..money import FEN, ZERO, fmt
from ..rules.pack import ParameterValue
from ..trace import Trace
from .context import cite, pct


def split_bill(claim: Claim, default_share: ParameterValue, trace: Trace) -> tuple[BillSplit, list[ItemSplit]]:
    """The claim's bill split into fully self-paid, over-limit, pre-self-paid and policy-range parts,
    and each line item's share of it (empty for a bill that came already split).

    Per item: amount = round(unit price x quantity); 丙 (C) is fully self-paid; for a price above
    the payment standard the fund recognises round(standard x quantity) and the rest of the amount
    is over-limit, so a higher price never lowers the recognised part (domain.md 6.2, ruling of
    2026-11-29); a 乙 (B) item pre-pays its share of what is left, rounded per item. Rounding is
    to the fen, ROUND_HALF_UP. The settlement's `items` carry
    every item's split, so the trace records the totals once rather than one step per item.
    """
    if claim.bill is not None:
        b = claim.bill
        trace.add(
            step="bill.split", rule="claim.bill",
            explain_zh="费用已由医疗机构分解", explain_en="the bill came already split",
            inputs={"total": fmt(b.total)},
            formula=f"{fmt(b.total)} - {fmt(b.fully_self_paid)} - {fmt(b.over_limit)} - {fmt(b.pre_self_paid)} = {fmt(b.policy_range)}",
            output=fmt(b.policy_range),
        )
        return b, []
    total = fully = over = pre = ZERO
    splits: list[ItemSplit] = []
    append, quantize = splits.append, Decimal.quantize
    A, C = Category.A, Category.C  # anything else is B
    default = default_share.value
    used_default = False
    # The hottest loop of an evaluation (50-300 items a stay): locals only, the category compared
    # by identity, and the item's parts computed once.
    for item in claim.items or ():
        price, qty, category = item.unit_price, item.quantity, item.category
        amount = quantize(price * qty, FEN, ROUND_HALF_UP)
        total += amount
        if category is C:
            fully += amount
            append(ItemSplit(item.id, "C", amount, None, amount, ZERO, ZERO, ZERO))
            continue
        std = item.payment_standard
        item_over = ZERO
        if std is not None and price > std:
            item_over = amount - quantize(std * qty, FEN, ROUND_HALF_UP)
            over += item_over
        if category is A:
            append(ItemSplit(item.id, "A", amount, None, ZERO, item_over, ZERO, amount - item_over))
            continue
        share = item.self_pay_share
        if share is None:
            share, used_default = default, True
        item_pre = quantize(share * (amount - item_over), FEN, ROUND_HALF_UP)
        pre += item_pre
        append(ItemSplit(item.id, "B", amount, share, ZERO, item_over, item_pre, amount - item_over - item_pre))
    policy = total - fully - over - pre
    bill = trusted(BillSplit, {"total": total, "fully_self_paid": fully, "over_limit": over,
                               "pre_self_paid": pre, "policy_range": policy})
    if trace.enabled:
        trace.add(
            step="bill.split", rule="domain 6.2",
            explain_zh="逐项分解：丙类全自费；超支付标准部分为超限价自付；乙类按比例先行自付；其余为政策范围内费用（明细见 items）",
            explain_en="item by item: C fully self-paid; the price above the payment standard is over-limit; "
                       "B pre-pays its share; the rest is the policy-range amount (each item's split: items)",
            inputs={"items": str(len(splits)), "default_b_share": pct(default)},
            formula=f"{fmt(total)} - {fmt(fully)} - {fmt(over)} - {fmt(pre)} = {fmt(policy)}",
            output=fmt(policy), citations=cite(default_share) if used_default else [],
        )
    return bill, splits


__all__ = ["split_bill"]
