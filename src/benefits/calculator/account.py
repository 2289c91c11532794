"""Layer kind `personal_account`: 个人账户 (domain.md 6.8).

Pays the patient's remaining in-catalogue part (pre-self-pay + the policy-range amount every
fund left), up to the balance. Fully self-paid and over-limit parts are paid in cash.
"""

from __future__ import annotations

from decimal import Decimal

from ..money import ZERO, fmt
from ..rules.model import PersonalAccountLayer
from .context import ClaimContext


def pay_personal_account(layer: PersonalAccountLayer, ctx: ClaimContext) -> tuple[Decimal, Decimal, Decimal | None]:
    balance = ctx.counter(layer.balance_counter)
    remaining = ctx.bill.pre_self_paid + ctx.left
    paid = min(remaining, balance)  # both are whole fen already
    if ctx.trace.enabled:
        ctx.trace.add(
            step=f"{layer.id}.pay", layer=layer.id, rule=f"{layer.id}.when",
            explain_zh="个人账户支付目录内个人负担部分（先行自付 + 政策范围内未报销部分），以余额为限",
            explain_en="the personal account pays the in-catalogue remainder (pre-self-pay + policy-range amount left), up to the balance",
            inputs={"pre_self_paid": fmt(ctx.bill.pre_self_paid), "policy_range_left": fmt(ctx.left), "balance": fmt(balance)},
            formula=f"min({fmt(ctx.bill.pre_self_paid)} + {fmt(ctx.left)}, {fmt(balance)}) = {fmt(paid)}",
            output=fmt(paid),
        )
    ctx.counters[layer.balance_counter] = max(ZERO, balance - paid)
    return paid, remaining, balance
