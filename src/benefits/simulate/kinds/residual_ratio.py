"""Vectorised `residual_ratio` (医疗救助, domain.md 6.6), mirroring kinds/residual_ratio.py:

    pay = half_up(min(ratio x (left - min(left, aid deductible left)), cap_left x RATIO), RATIO)

with the ratio and aid deductible of the member's most favourable group (the first listed of those
paying most); a member in none of the layer's groups gets nothing (the layer is skipped).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...money import RATIO
from ..exact import NONE, capped_half_up
from .base import Context, Step, VectorKind, column


@dataclass(frozen=True, slots=True)
class Resolved:
    holds: tuple[bool, ...]  # per group
    ratios: tuple[int, ...]  # RATIO parts; 0 where the group does not hold
    deductibles: tuple[int, ...]  # fen; NONE: none
    cap: int  # fen; NONE: none


class ResidualRatio(VectorKind):
    kind = "residual_ratio"

    def resolve(self, ctx: Context) -> Resolved | None:
        layer = self.layer
        holds = tuple(g.when is None or rid in ctx.fired for g, rid in zip(layer.groups, layer.group_rules))
        if not any(holds):
            return None
        cap = NONE
        hit = ctx.first(layer.caps, layer.rule_ids("caps", layer.caps))
        if hit is not None and layer.paid_counter is not None:
            cap = ctx.units(hit[0].value)
        ratios = tuple(ctx.units(g.ratio) if h else 0 for g, h in zip(layer.groups, holds))
        deductibles = tuple(ctx.units(g.deductible) if h and g.deductible and layer.deductible_counter else NONE
                            for g, h in zip(layer.groups, holds))
        return Resolved(holds, ratios, deductibles, cap)

    def tables(self, rows: list) -> None:
        n = len(self.layer.groups)
        self.t_holds = np.array([(False,) * n if r is None else r.holds for r in rows], bool).reshape(len(rows), n)
        self.t_ratio = np.array([(0,) * n if r is None else r.ratios for r in rows], np.int64).reshape(len(rows), n)
        self.t_deductible = np.array([(NONE,) * n if r is None else r.deductibles for r in rows],
                                     np.int64).reshape(len(rows), n)
        self.t_cap = column(rows, lambda r: r.cap)

    def pay(self, st: Step, idx: np.ndarray) -> np.ndarray:
        layer, layout = self.layer, self.layout
        c, m, month = st.c[idx], st.m[idx], st.month[idx]
        C = st.C
        left = st.left[idx]
        cap = self.t_cap[c]
        cap_left = None
        if layer.paid_counter is not None:
            paid_col = layout.cols(layer.paid_counter, month)
            cap_left = np.where(cap >= 0, np.maximum(0, cap - C[m, paid_col]), NONE)
        used_so_far = C[m, layout.cols(layer.deductible_counter, month)] if layer.deductible_counter else 0
        best = np.full(len(idx), -1, np.int64)
        best_used = np.zeros(len(idx), np.int64)
        for j in range(len(layer.groups) - 1, -1, -1):  # last to first: the first listed wins a tie
            ded = self.t_deductible[c, j]
            ded_left = np.where(ded >= 0, np.maximum(0, ded - used_so_far), 0)
            used = np.minimum(left, ded_left)
            paid = capped_half_up((left - used) * self.t_ratio[c, j], cap_left, RATIO)
            take = self.t_holds[c, j] & (paid >= best)
            best = np.where(take, paid, best)
            best_used = np.where(take, used, best_used)
        if layer.paid_counter is not None:
            C[m, paid_col] = C[m, paid_col] + best
        if layer.deductible_counter:
            col = layout.cols(layer.deductible_counter, month)
            C[m, col] = C[m, col] + best_used
        return best
