"""Vectorised `above_cap` (职工大额医疗补助, domain.md 7.2), mirroring kinds/above_cap.py:

    pay = ratio x max(0, E - left / r), up to the layer's own annual cap left

with E the basic fund's eligible cost, r its ratio and `left` what the named cap had left before
the claim. Exactly: ratio x (E x r - left x RATIO) / (r x RATIO), rounded once (exact.beyond_times).
It applies where a basic-fund layer applied with the named cap holding; where none applied, or one with no
cap for the claim, it is skipped; where one applied holding other caps but not the named one, the claim goes
to the scalar engine, which refuses it.
"""

from __future__ import annotations

import numpy as np

from ...money import RATIO
from ..exact import NONE, beyond_times, paid_from_parts
from .base import Context, Scalar, Step, VectorKind, column


class AboveCap(VectorKind):
    kind = "above_cap"

    def resolve(self, ctx: Context) -> tuple[int, int] | None:
        layer = self.layer
        if ctx.basic_layer is None or not ctx.basic_caps:  # no basic fund, or one with no cap for the claim
            return None
        if layer.cap not in ctx.basic_caps:  # the pack's mistake, which the scalar engine refuses (kinds/above_cap.py)
            raise Scalar(f"{layer.id}: basic-fund layer {ctx.basic_layer!r} holds no cap {layer.cap!r}")
        cap = NONE
        hit = ctx.first(layer.caps, layer.rule_ids("caps", layer.caps))
        if hit is not None:
            cap = ctx.units(hit[0].value)
        return ctx.units(layer.ratio), cap

    def tables(self, rows: list) -> None:
        self.t_ratio = column(rows, lambda r: r[0])
        self.t_cap = column(rows, lambda r: r[1])

    def pay(self, st: Step, idx: np.ndarray) -> np.ndarray:
        layer = self.layer
        c, m = st.c[idx], st.m[idx]
        col = self.layout.cols(layer.paid_counter, st.month[idx])
        eligible, r, left = st.eligible[idx], st.ratio[idx], st.cap_lefts[layer.cap][idx]
        beyond = np.where(r > 0, np.maximum(0, eligible * r - left * RATIO), 0)
        q, rest = beyond_times(beyond, r, self.t_ratio[c])
        cap = self.t_cap[c]
        cap_left = np.where(cap >= 0, np.maximum(0, cap - st.C[m, col]), NONE)
        den = np.where(r > 0, r, 1) * RATIO
        paid = paid_from_parts(q, rest, den, cap_left)
        st.C[m, col] = st.C[m, col] + paid
        return paid
