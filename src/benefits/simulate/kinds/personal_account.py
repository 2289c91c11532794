"""Vectorised `personal_account` (个人账户, domain.md 6.8), mirroring kinds/personal_account.py:

    pay = min(pre-self-paid + the policy-range amount every fund left, balance); balance -= pay
Not a fund: the calculator does not take it off what is left.
"""

from __future__ import annotations

import numpy as np

from .base import Context, Step, VectorKind


class PersonalAccount(VectorKind):
    kind = "personal_account"

    def resolve(self, ctx: Context) -> bool:
        return True

    def tables(self, rows: list) -> None:
        pass

    def pay(self, st: Step, idx: np.ndarray) -> np.ndarray:
        m = st.m[idx]
        col = self.layout.cols(self.layer.balance_counter, st.month[idx])
        balance = st.C[m, col]
        paid = np.minimum(st.pre[idx] + st.left[idx], balance)
        st.C[m, col] = np.maximum(0, balance - paid)
        return paid
