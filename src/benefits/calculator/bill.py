"""Splitting the bill (费用分解, domain.md section 2 and 6.2), in integer fen."""

from __future__ import annotations

from decimal import Decimal

from ..kinds import Bill
from ..models.claim import Category, Claim
from ..models.items import Row
from ..models.lazy import Lazy
from ..models.settlement import ItemSplit
from ..money import ZERO, from_fen, half_up, parse_decimal, to_fen
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
    to the fen, half up. A quantity or share is an exact fraction.
    """
    if claim.bill is not None:
        b = claim.bill
        bill = Bill(to_fen(b.total), to_fen(b.fully_self_paid), to_fen(b.over_limit), to_fen(b.pre_self_paid),
                    to_fen(b.policy_range))
        if rec is not None:
            _record(rec, bill, None, default_share, False)
        return bill, Lazy()
    total = fully = over = pre = 0
    A, C = Category.A, Category.C  # anything else is B
    dn, dd = default_share.value.as_integer_ratio()
    used_default = False
    rows = claim.items.rows
    # The hottest loop of an evaluation (50-300 items a stay): integers only, the category compared
    # by identity, each part computed once and nothing kept per item; `_item_split` is the same
    # arithmetic for the listing, made only when it is read (tests hold the listing to the totals).
    for _, _, category, price, qn, qd, std, share, _, _ in rows:  # models.items.Row's fields
        amount = (2 * price * qn + qd) // (2 * qd)
        total += amount
        if category is C:
            fully += amount
            continue
        item_over = 0
        if std is not None and price > std:
            item_over = amount - (2 * std * qn + qd) // (2 * qd)
            over += item_over
        if category is A:
            continue
        if share is None:
            sn, sd = dn, dd
            used_default = True
        else:
            sn, sd = share
        pre += (2 * sn * (amount - item_over) + sd) // (2 * sd)
    bill = Bill(total, fully, over, pre, total - fully - over - pre)
    if rec is not None:
        _record(rec, bill, len(rows), default_share, used_default)
    return bill, Lazy(make=lambda: [_item_split(Row._make(row), (dn, dd), default_share.value) for row in rows])


def _item_split(row: Row, default: tuple[int, int], default_share: Decimal) -> ItemSplit:
    """One line item's parts, as `split_bill` adds them up: amount = round(price x quantity); over
    the payment standard, the amount less round(standard x quantity); a B item's share of the rest."""
    qn, qd = row.qn, row.qd
    amount = half_up(row.price * qn, qd)
    category = row.category.value
    if category == "C":
        money = from_fen(amount)
        return ItemSplit(row.id, "C", money, None, money, ZERO, ZERO, ZERO)
    std = row.standard
    over = amount - half_up(std * qn, qd) if std is not None and row.price > std else 0
    pre = 0
    share = None
    if category == "B":
        sn, sd = default if row.share is None else row.share
        pre = half_up(sn * (amount - over), sd)
        share = default_share if row.share is None else parse_decimal(row.self_pay_share)
    return ItemSplit(row.id, category, from_fen(amount), share, ZERO, from_fen(over), from_fen(pre),
                     from_fen(amount - over - pre))


def _record(rec: Recorder, bill: Bill, items: int | None, share: ParameterValue, cited: bool) -> None:
    rec.add("bill", "bill.split", "claim.bill" if items is None else "bill.items", None,
            {"total": bill.total, "fully": bill.fully_self_paid, "over": bill.over_limit, "pre": bill.pre_self_paid,
             "policy": bill.policy_range, "items": items, "default_share": share.units if cited else None},
            (share,) if cited else ())
