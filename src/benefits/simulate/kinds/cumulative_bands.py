"""Vectorised `cumulative_bands` (大病保险, 二次救助; domain.md 6.5, 6.6), mirroring
kinds/cumulative_bands.py.

With before = the base counter and after = before + what this claim leaves, each option (each
group whose condition holds, in the layer's order, then the plain bands) pays its bands' ratios on
the part of [before, after] in each band, rounded once, up to its cap left unless the group lifts
it; the first of the options paying most applies. Band edges are fen x RATIO (a reduced deductible
need not be whole fen); the payout's exact value is split (exact.banded) so that nothing overflows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...kinds.cumulative_bands import bands_rise
from ...money import RATIO
from ..exact import INF, NONE, banded, paid_from_parts
from .base import Context, Scalar, Step, VectorKind, column

SCALE = RATIO * RATIO


@dataclass(frozen=True, slots=True)
class Option:
    holds: bool
    bands: tuple[tuple[int, int, int], ...]  # (low, high or INF, ratio): edges fen x RATIO
    capped: bool


@dataclass(frozen=True, slots=True)
class Resolved:
    options: tuple[Option, ...]  # one per group of the layer, then the plain bands
    cap: int  # fen; NONE: no cap row holds


class CumulativeBands(VectorKind):
    kind = "cumulative_bands"

    def resolve(self, ctx: Context) -> Resolved:
        layer = self.layer
        hit_d = ctx.first(layer.deductible, layer.rule_ids("deductible", layer.deductible))
        hit_b = ctx.first(layer.bands, layer.rule_ids("bands", layer.bands))
        if hit_d is None or hit_b is None:
            raise Scalar(f"{layer.id}: no deductible or band row applies")
        deductible = ctx.units(hit_d[0].value)
        bands = hit_b[0].bands
        starts = [ctx.units(b.start) if b.start else None for b in bands]
        if not bands_rise(deductible, starts[1:]):
            raise Scalar(f"{layer.id}: bands that do not each start above the one before and the deductible")
        ratios = [ctx.units(b.ratio) for b in bands]
        hit_c = ctx.first(layer.caps, layer.rule_ids("caps", layer.caps))
        cap = ctx.units(hit_c[0].value) if hit_c else NONE
        options = []
        for group, rid in list(zip(layer.groups, layer.group_rules)) + [(None, None)]:
            holds = group is None or rid in ctx.fired
            start, points = deductible * RATIO, 0
            if group is not None and group.deductible_reduction:
                start = deductible * (RATIO - ctx.units(group.deductible_reduction))
            if group is not None and group.points:
                points = ctx.units(group.points)
            lows = [start] + [s * RATIO for s in starts[1:]]
            highs = lows[1:] + [int(INF)]
            edges = tuple((lo, hi, min(RATIO, max(0, r + points))) for lo, hi, r in zip(lows, highs, ratios))
            capped = cap != NONE and not (group is not None and group.lift_cap is not None)
            options.append(Option(holds, edges, capped))
        return Resolved(tuple(options), cap)

    def tables(self, rows: list) -> None:
        n_options = len(self.layer.groups) + 1
        n_bands = max(len(r.bands) for r in self.layer.bands)
        shape = (len(rows), n_options, n_bands)
        self.t_low = np.zeros(shape, np.int64)  # padding bands [0, 0) pay nothing
        self.t_high = np.zeros(shape, np.int64)
        self.t_ratio = np.zeros(shape, np.int64)
        self.t_holds = np.zeros(shape[:2], bool)
        self.t_capped = np.zeros(shape[:2], bool)
        for i, r in enumerate(rows):
            if r is None:
                continue
            for j, o in enumerate(r.options):
                self.t_holds[i, j], self.t_capped[i, j] = o.holds, o.capped
                for b, (lo, hi, ratio) in enumerate(o.bands):
                    self.t_low[i, j, b], self.t_high[i, j, b], self.t_ratio[i, j, b] = lo, hi, ratio
        self.t_cap = column(rows, lambda r: r.cap)

    def pay(self, st: Step, idx: np.ndarray) -> np.ndarray:
        layer, layout = self.layer, self.layout
        c, m, month = st.c[idx], st.m[idx], st.month[idx]
        C = st.C
        base_col = layout.cols(layer.base_counter, month)
        paid_col = layout.cols(layer.paid_counter, month)
        amount = st.left[idx]
        before = C[m, base_col]
        after = before + amount
        so_far = C[m, paid_col]
        cap_left = np.maximum(0, self.t_cap[c] - so_far)
        best = self._option(len(layer.groups), c, before, after, cap_left)  # the plain bands
        for j in range(len(layer.groups) - 1, -1, -1):  # then each group that holds, last to first
            rows = np.flatnonzero(self.t_holds[c, j])
            if len(rows):
                paid = self._option(j, c[rows], before[rows], after[rows], cap_left[rows])
                # the first listed of the options paying most (kinds.base.most_favourable)
                best[rows] = np.where(paid >= best[rows], paid, best[rows])
        if layer.base_counter != layer.paid_counter:
            C[m, base_col] = after
            C[m, paid_col] = so_far + best
        else:  # one counter for both (a pack may): both add to it
            C[m, base_col] = after + best
        return best

    def _option(self, j: int, c, before, after, cap_left) -> np.ndarray:
        q, r = banded(before, after, self.t_low[c, j], self.t_high[c, j], self.t_ratio[c, j])
        return paid_from_parts(q, r, SCALE, np.where(self.t_capped[c, j], cap_left, NONE))
