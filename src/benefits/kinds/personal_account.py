"""Layer kind `personal_account`: 个人账户 (domain.md 6.8).

Pays the patient's remaining in-catalogue part (pre-self-pay + the policy-range amount every fund
left), up to the balance. Fully self-paid and over-limit parts are paid in cash. Not a fund: it
pays part of the patient's own share, so it must be the pack's last layer.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from ..rules.files import Name
from .base import Check, Earlier, Kind, Paid, State


class PersonalAccountLayer(Kind):
    """个人账户: pays the patient's remaining in-catalogue part, up to the balance. Must be last."""

    kind: Literal["personal_account"]
    balance_counter: Name
    fund: ClassVar[bool] = False

    def check(self, chk: Check) -> None:
        chk.counter(("balance_counter",), self.balance_counter)

    def pay(self, st: State, earlier: Earlier) -> Paid:
        balance = st.counter(self.balance_counter)
        remaining = st.bill.pre_self_paid + st.left
        paid = min(remaining, balance)
        if st.rec is not None:
            st.rec.add("personal_account.pay", f"{self.id}.pay", self.when_rule, self.id,
                       {"pre": st.bill.pre_self_paid, "left": st.left, "balance": balance, "paid": paid})
        st.counters[self.balance_counter] = max(0, balance - paid)
        return Paid(paid, remaining, balance)
