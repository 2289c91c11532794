"""Vectorised `basic_fund` (基本医疗保险统筹基金, domain.md 6.3), mirroring kinds/basic_fund.py:

    applied  = min(policy, deductible left)
    pay      = half_up(min((policy - applied) x ratio, cap_left x RATIO), RATIO)

The deductible is per admission (the repeat-admission one from `from_admission`), per year (less
its counter), per claim, or none; `cap_left` is the smallest left of the caps that hold; every
counter of those caps takes the payout once, and an annual deductible's counter what was applied.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...money import RATIO
from ..exact import INF, NONE, capped_half_up, half_up
from .base import Context, Scalar, Step, VectorKind, column


@dataclass(frozen=True, slots=True)
class Resolved:
    deductible: int  # fen; NONE: none
    factor: int  # repeat-admission factor, RATIO parts; NONE: none
    ratio: int  # RATIO parts, adjustments included
    caps: tuple[int, ...]  # per cap row: its value in fen, NONE where its condition does not hold


class BasicFund(VectorKind):
    kind = "basic_fund"

    def resolve(self, ctx: Context) -> Resolved:
        layer = self.layer
        if ctx.basic_layer is not None:
            raise Scalar(f"basic-fund layers {ctx.basic_layer!r} and {layer.id!r} both apply")
        d = layer.deductible
        base = factor = NONE
        if d.per != "none":
            hit = ctx.first(d.amount, layer.rule_ids("deductible", d.amount))
            if hit is None:
                raise Scalar(f"{layer.id}: no deductible row applies")
            base = ctx.units(hit[0].value)
            if d.repeat_admissions:
                factor = ctx.units(d.repeat_admissions.factor)
        hit = ctx.first(layer.ratio, layer.rule_ids("ratio", layer.ratio))
        if hit is None:
            raise Scalar(f"{layer.id}: no ratio row applies")
        ratio = ctx.units(hit[0].value)
        for adj, rid in zip(layer.adjustments, layer.rule_ids("adjustments", layer.adjustments)):
            if rid in ctx.fired:
                ratio = min(RATIO, max(0, ratio + ctx.units(adj.points)))  # kinds.base.with_points
        caps, held = [], set()
        for cap, rid in zip(layer.caps, layer.rule_ids("caps", layer.caps)):
            holds = cap.when is None or rid in ctx.fired
            caps.append(ctx.units(cap.value) if holds else NONE)
            if holds:
                held.add(cap.id)
        ctx.basic_layer, ctx.basic_caps = layer.id, frozenset(held)
        return Resolved(base, factor, ratio, tuple(caps))

    def tables(self, rows: list) -> None:
        self.t_deductible = column(rows, lambda r: r.deductible)
        self.t_factor = column(rows, lambda r: r.factor)
        self.t_ratio = column(rows, lambda r: r.ratio)
        n_caps = len(self.layer.caps)
        self.t_caps = np.array([[NONE] * n_caps if r is None else r.caps for r in rows], dtype=np.int64).reshape(
            len(rows), n_caps)

    def pay(self, st: Step, idx: np.ndarray) -> np.ndarray:
        layer, d, layout = self.layer, self.layer.deductible, self.layout
        c, m, month = st.c[idx], st.m[idx], st.month[idx]
        C = st.C
        policy = st.left[idx]
        if d.per == "none":
            amount = np.zeros(len(idx), np.int64)
        else:
            base = self.t_deductible[c]
            if d.per == "admission":
                amount = base
                if d.repeat_admissions:
                    factor = self.t_factor[c]
                    repeat = (factor >= 0) & (st.admissions[idx] + 1 >= d.repeat_admissions.from_admission)
                    amount = np.where(repeat, half_up(base * np.maximum(factor, 0), RATIO), base)
            elif d.per == "year":
                amount = np.maximum(0, base - C[m, layout.cols(d.counter, month)])
            else:
                amount = base
        applied = np.minimum(policy, amount)
        ratio = self.t_ratio[c]

        caps = self.t_caps[c]
        smallest = np.full(len(idx), INF, np.int64)
        by_id: dict[str, np.ndarray] = {}
        drawn: dict[str, np.ndarray] = {}  # counter -> rows where a cap that holds draws on it
        used: dict[str, np.ndarray] = {}  # counter -> what it holds (read once per counter)
        for i, cap in enumerate(layer.caps):
            value = caps[:, i]
            holds = value >= 0
            if cap.period == "claim":
                left = value
            else:
                if cap.counter not in used:
                    used[cap.counter] = C[m, layout.cols(cap.counter, month)]
                left = np.maximum(0, value - used[cap.counter])
                drawn[cap.counter] = drawn.get(cap.counter, False) | holds
            left = np.where(holds, left, INF)
            smallest = np.minimum(smallest, left)
            by_id[cap.id] = np.minimum(by_id.get(cap.id, INF), left)
        cap_left = np.where(smallest == INF, NONE, smallest) if layer.caps else None

        eligible = policy - applied
        raw = eligible * ratio
        paid = capped_half_up(raw, cap_left, RATIO)
        for counter, rows in drawn.items():
            C[m, layout.cols(counter, month)] = used[counter] + np.where(rows, paid, 0)
        if d.per == "year":
            col = layout.cols(d.counter, month)
            C[m, col] = C[m, col] + applied
        rounded = half_up(raw, RATIO)
        st.deductible[idx], st.co_pay[idx], st.above_cap[idx] = applied, eligible - rounded, rounded - paid
        st.ratio[idx], st.eligible[idx] = ratio, eligible
        for cap_id, left in by_id.items():
            if cap_id in st.cap_lefts:
                st.cap_lefts[cap_id][idx] = np.where(left == INF, NONE, left)
        return paid
