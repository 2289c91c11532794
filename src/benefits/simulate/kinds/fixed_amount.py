"""Vectorised `fixed_amount` (定额结算, maternity services), mirroring kinds/fixed_amount.py:

    pay = min(the service's fixed amount, the policy-range amount left)
"""

from __future__ import annotations

import numpy as np

from .base import Context, Scalar, Step, VectorKind, column


class FixedAmount(VectorKind):
    kind = "fixed_amount"

    def resolve(self, ctx: Context) -> int:
        layer = self.layer
        hit = ctx.first(layer.amount, layer.rule_ids("amount", layer.amount))
        if hit is None:
            raise Scalar(f"{layer.id}: no fixed amount applies")
        return ctx.units(hit[0].value)

    def tables(self, rows: list) -> None:
        self.t_fixed = column(rows, lambda r: r)

    def pay(self, st: Step, idx: np.ndarray) -> np.ndarray:
        return np.minimum(self.t_fixed[st.c[idx]], st.left[idx])
