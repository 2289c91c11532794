"""Splitting the bill (费用分解, domain.md section 2 and 6.2)."""

from __future__ import annotations


from ..models.claim import BillSplit, Category, Claim
from ..models.settlement import ItemSplit
from ..money import ZERO, fmt, round_fen
from ..trace import Trace
from .context import cite, pct
from ..rules.pack import ParameterValue


def split_bill(claim: Claim, default_share: ParameterValue, trace: Trace) -> tuple[BillSplit, list[ItemSplit]]:
    """The claim's bill split into fully self-paid, over-limit, pre-self-paid and policy-range parts,
    and each line item's share of it (empty for a bill that came already split)."""
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
    total = fully = over = pre = policy = ZERO
    splits: list[ItemSplit] = []
    for item in claim.items or []:
        amount = round_fen(item.unit_price * item.quantity)
        item_over = item_pre = ZERO
        share = None
        if item.category is Category.C:
            item_fully = amount
            why = f"丙类全自费 / category C, fully self-paid: {fmt(amount)}"
        else:
            item_fully = ZERO
            if item.payment_standard is not None and item.unit_price > item.payment_standard:
                item_over = round_fen((item.unit_price - item.payment_standard) * item.quantity)
            why = f"({fmt(item.unit_price)} x {item.quantity}) = {fmt(amount)}"
            if item_over:
                why += f"; over limit ({fmt(item.unit_price)} - {fmt(item.payment_standard)}) x {item.quantity} = {fmt(item_over)}"
            if item.category is Category.B:
                share = item.self_pay_share if item.self_pay_share is not None else default_share.value
                item_pre = round_fen(share * (amount - item_over))
                why += f"; B pre-self-pay ({fmt(amount)} - {fmt(item_over)}) x {pct(share)} = {fmt(item_pre)}"
        item_policy = amount - item_fully - item_over - item_pre
        trace.add(
            step="bill.item", rule=f"item {item.id}",
            explain_zh=f"明细 {item.id}（{item.category.value}类）分解", explain_en=f"line item {item.id} (category {item.category.value}) split",
            inputs={"unit_price": fmt(item.unit_price), "quantity": str(item.quantity)},
            formula=why + f"; policy range {fmt(item_policy)}",
            output=fmt(item_policy),
            citations=cite(default_share) if item.category is Category.B and item.self_pay_share is None else [],
        )
        splits.append(ItemSplit(
            id=item.id, category=item.category.value, amount=amount, self_pay_share=share,
            fully_self_paid=item_fully, over_limit=item_over, pre_self_paid=item_pre, policy_range=item_policy,
        ))
        total += amount
        fully += item_fully
        over += item_over
        pre += item_pre
        policy += item_policy
    bill = BillSplit(total=total, fully_self_paid=fully, over_limit=over, pre_self_paid=pre, policy_range=policy)
    trace.add(
        step="bill.split", rule="domain 6.2",
        explain_zh="政策范围内费用 = 总额 - 全自费 - 超限价 - 先行自付",
        explain_en="policy-range amount = total - fully self-paid - over-limit - pre-self-paid",
        inputs={"items": str(len(claim.items or []))},
        formula=f"{fmt(total)} - {fmt(fully)} - {fmt(over)} - {fmt(pre)} = {fmt(policy)}",
        output=fmt(policy),
    )
    return bill, splits


__all__ = ["split_bill"]
