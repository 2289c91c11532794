"""Splitting the bill (费用分解, domain.md section 2 and 6.2), in integer fen."""

from __future__ import annotations

from decimal import Decimal

from ..kinds import Bill
from ..models.claim import Category, Claim
from ..models.lazy import Lazy
from ..models.settlement import ItemSplit
from ..money import ZERO, from_fen, to_fen
from ..rules.pack import ParameterValue
from ..trace import Recorder


def split_bill(claim: Claim, default_share: ParameterValue, rec: Recorder | None) -> tuple[Bill, Lazy[ItemSplit]]:
    """The claim's bill split into fully self-paid, over-limit, pre-self-paid and policy-range parts
    (fen), and each line item's share of it (empty for a bill that came already split), listed when
    first read.

    Per item: amount = round(unit price x quantity); 丙 (C) is fully self-paid; for a price above
    the payment standard the fund recognises round(standard x quantity) and the rest of the amount
    is over-limit, so a higher price never lowers the recognised part (domain.md 6.2, ruling of
    2026-11-29); a 乙 (B) item pre-pays its share of what is left, rounded per item. Rounding is
    to the fen, half up. A quantity or share is an exact fraction (Decimal.as_integer_ratio).
    """
    if claim.bill is not None:
        b = claim.bill
        bill = Bill(to_fen(b.total), to_fen(b.fully_self_paid), to_fen(b.over_limit), to_fen(b.pre_self_paid),
                    to_fen(b.policy_range))
        if rec is not None:
            _record(rec, bill, None, default_share, False)
        return bill, Lazy()
    total = fully = over = pre = 0
    parts: list[tuple] = []  # (item, amount, over-limit, pre-self-paid, share), in fen
    append = parts.append
    A, C = Category.A, Category.C  # anything else is B
    used_default = False
    # The hottest loop of an evaluation (50-300 items a stay): locals only, the category compared
    # by identity, and each part computed once.
    for item in claim.items.rows:
        qn, qd = item.quantity.as_integer_ratio()
        amount = (2 * to_fen(item.unit_price) * qn + qd) // (2 * qd)
        total += amount
        if item.category is C:
            fully += amount
            append((item, amount, 0, 0, None))
            continue
        std = item.payment_standard
        item_over = 0
        if std is not None and item.unit_price > std:
            item_over = amount - (2 * to_fen(std) * qn + qd) // (2 * qd)
            over += item_over
        if item.category is A:
            append((item, amount, item_over, 0, None))
            continue
        share: Decimal | None = item.self_pay_share
        if share is None:
            share, used_default = default_share.value, True
        sn, sd = share.as_integer_ratio()
        item_pre = (2 * sn * (amount - item_over) + sd) // (2 * sd)
        pre += item_pre
        append((item, amount, item_over, item_pre, share))
    bill = Bill(total, fully, over, pre, total - fully - over - pre)
    if rec is not None:
        _record(rec, bill, len(parts), default_share, used_default)
    return bill, Lazy(make=lambda: [_item_split(*p) for p in parts])


def _item_split(item, amount: int, over: int, pre: int, share: Decimal | None) -> ItemSplit:
    category = item.category.value
    if category == "C":
        money = from_fen(amount)
        return ItemSplit(item.id, "C", money, None, money, ZERO, ZERO, ZERO)
    return ItemSplit(item.id, category, from_fen(amount), share, ZERO, from_fen(over), from_fen(pre),
                     from_fen(amount - over - pre))


def _record(rec: Recorder, bill: Bill, items: int | None, share: ParameterValue, cited: bool) -> None:
    rec.add("bill", "bill.split", "claim.bill" if items is None else "bill.items", None,
            {"total": bill.total, "fully": bill.fully_self_paid, "over": bill.over_limit, "pre": bill.pre_self_paid,
             "policy": bill.policy_range, "items": items, "default_share": share.units},
            (share,) if cited else ())
