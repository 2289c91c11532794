"""Layer kind `cumulative_bands`: 大病保险 and 二次救助 (domain.md sections 6.5, 6.6).

With `before` = the cumulative amount so far this year and `after` = before + what this claim
leaves to the patient, pay, band by band, the band's ratio times the part of [before, after]
inside the band. The first band starts at the deductible (moved by a group's reduction); a group
may add points to every band and lift the cap. The most favourable option applies (6.7).

A reduced deductible need not be whole fen (10,000.01 x 30%), so band edges are kept exactly, in
fen x RATIO, and the payout in fen x RATIO x RATIO until it is rounded once.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import Iterator, Literal

from pydantic import Field

from ..errors import ClaimError
from ..money import RATIO, fmt_fen, half_up
from ..rules.files import BREAKDOWN_FIELDS, BandRow, GroupModifier, Name, Row
from ..rules.refs import split_ref
from ..trace import Citation
from .base import Check, CounterBound, Earlier, Kind, Paid, State, most_favourable, record_cap, with_points

SCALE = RATIO * RATIO  # the payout's denominator: an amount in fen x RATIO times a ratio


@dataclass(frozen=True, slots=True)
class _Lifted:
    """A cap a group lifts, as the trace cites it: the cap's parameter, no cap, and the policy text
    that lifts it (the cap's own value is in the step's words)."""

    parameter: str
    source: str

    @property
    def citation(self) -> Citation:
        return Citation(self.parameter, "no cap", self.source)


@dataclass(frozen=True, slots=True)
class _Bands:
    """One option's bands, as the rules give them: a fired group's (its reduction and points
    applied), or the plain ones (`group` None)."""

    group: GroupModifier | None
    start: int  # the first band's start, fen x RATIO
    bands: list[tuple[int, int | None, int]]  # (low, high or None, ratio): edges in fen x RATIO
    capped: bool  # the layer's cap applies to this option (a group may lift it)
    modifiers: tuple  # the group's parameters used (deductible reduction, points)
    deductible: int = 0  # the plain deductible, fen (for the trace of a group's reduction)
    reduction: object = None  # the group's deductible reduction (a parameter value), if any
    points: object = None  # the group's points (a parameter value), if any
    base_ratios: tuple = ()  # the bands' ratios before the group's points


@dataclass(slots=True)
class _Option:
    """One option paid on one claim."""

    group: GroupModifier | None
    start: int
    bands: list[tuple[int, int | None, int]]
    cap_left: int | None  # fen left of the cap before the claim; None: no cap
    raw: int  # fen x SCALE
    paid: int  # fen
    modifiers: tuple
    plan: _Bands | None = None  # the bands as the rules give them (for the trace of a group's modifiers)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What a cumulative layer decides from the rules alone (Kind.plan)."""

    options: tuple[_Bands, ...] = ()  # each fired group's bands, then the plain ones
    cap: object = None  # the cap row's value, if one holds
    cap_rule: str = ""  # that row's rule id
    band_rule: str = ""
    cites: tuple = ()  # the deductible and band parameters
    error: str | None = None


MAX_ORDER_CHECKS = 200_000
"""Values a layer's band order is checked with at load (each deductible and band start in force, on
each date one changes): a real pack's are a few; one of hundreds of band rows over hundreds of
versions is refused rather than checked for seconds."""


def bands_rise(deductible: int, later_starts: list[int]) -> bool:
    """Whether each band starts above the one before and the second above the deductible (the first
    band starts at it): a band out of order or below the deductible would pay one stretch twice, or
    self-pay the deductible leaves to the patient. Shared with the vectorised mirror."""
    starts = [deductible, *later_starts]
    return all(lo < hi for lo, hi in zip(starts, starts[1:]))


def _alike(chk: Check, refs: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], dict[str, str]]]:
    """Each combination of the parameters `refs` may name that one claim can read: a breakdown field
    given one value throughout (inpatient.ratio[scheme] and band2_start[scheme] of one scheme), with the
    field values it fixes."""
    choices = []
    for ref in refs:
        fields = split_ref(ref)[1]
        named = {v.name: {f: x for f, x in zip(fields, split_ref(v.name)[1]) if f in BREAKDOWN_FIELDS}
                 for v in chk.values(ref, "yuan")}
        choices.append(list(named.items()))
    for combo in product(*choices):
        fixed: dict[str, str] = {}
        if all(fixed.setdefault(f, x) == x for _, by_field in combo for f, x in by_field.items()):
            yield tuple(name for name, _ in combo), fixed


class CumulativeBandsLayer(Kind):
    """大病保险 / 二次救助: ratio bands on the annual cumulative amount left to the patient."""

    kind: Literal["cumulative_bands"]
    base_counter: Name
    paid_counter: Name
    deductible: list[Row] = Field(min_length=1)
    bands: list[BandRow] = Field(min_length=1)
    caps: list[Row] = Field(default_factory=list)
    groups: list[GroupModifier] = Field(default_factory=list)

    # --- loading ------------------------------------------------------------------------------

    def check(self, chk: Check) -> None:
        chk.counter(("base_counter",), self.base_counter)
        chk.counter(("paid_counter",), self.paid_counter)
        chk.rows("deductible", self.deductible, "yuan", self.rule_ids("deductible", self.deductible))
        chk.rows("caps", self.caps, "yuan", self.rule_ids("caps", self.caps))
        for i, (row, rid) in enumerate(zip(self.bands, self.rule_ids("bands", self.bands))):
            chk.when(("bands", i, "when"), row.when, rid)
            for j, band in enumerate(row.bands):
                if (j == 0) != (band.start is None):
                    chk.problem(("bands", i, "bands", j),
                                "the first band starts at the deductible (no `start`); every later band needs a `start`")
                chk.param(("bands", i, "bands", j, "start"), band.start, "yuan")
                chk.param(("bands", i, "bands", j, "ratio"), band.ratio, "percent")
        chk.groups(self.groups, self.group_rules)
        for i, g in enumerate(self.groups):
            chk.param(("groups", i, "deductible_reduction"), g.deductible_reduction, "percent")
            chk.param(("groups", i, "points"), g.points, "points")
        self._check_band_order(chk)

    def _check_band_order(self, chk: Check) -> None:
        """Each band row's bands rise (`bands_rise`) from the deductible, on every date the values in
        force change, wherever one claim can read both: a band out of order passed the loader, then
        refused every claim of its version at settlement, naming the claim. A deductible row and a band
        row are compared only where their conditions can hold on one claim, and a breakdown's values
        only with those of the same fields (deductible[scheme] and band2_start[scheme] of one scheme):
        an employees' deductible above the residents' second band is no fault. A group's reduction
        lowers only the first band's start, so the plain bands are the ones to check. Each value out of
        order is reported once, at its own file and line: of the first two starts out of order, the one
        that changed last."""
        sets = self._read_together(chk)
        if not sets:
            return
        days = sorted({v.start for _, names in sets for name in names for v in chk.values(name, "yuan")})
        if len(days) * len(sets) > MAX_ORDER_CHECKS:
            chk.problem(("bands",), f"the order of the bands would be checked {len(days) * len(sets):,} times, more "
                        f"than {MAX_ORDER_CHECKS:,}: {len(sets)} combinations of a deductible and band starts on each "
                        f"of the {len(days)} dates their values change on; use fewer band rows or versions")
            return
        reported: set[tuple] = set()
        rule_ids = self.rule_ids("bands", self.bands)
        for day in days:
            for i, names in sets:
                in_force = [chk.in_force(name, "yuan", day) for name in names]
                if not all(in_force):
                    continue  # a value with a problem of its own, reported where it is named
                starts = [found[0] for found in in_force]
                deductible = starts[0]
                if bands_rise(deductible.units, [v.units for v in starts[1:]]):
                    continue
                k = next(k for k in range(2, len(starts) + 1)
                         if not bands_rise(deductible.units, [v.units for v in starts[1:k]]))
                lower, upper = starts[k - 2], starts[k - 1]
                culprit = lower if lower.start > upper.start else upper
                if (culprit.name, culprit.start) not in reported:
                    reported.add((culprit.name, culprit.start))
                    shown = ", ".join(f"{fmt_fen(v.units)} ({v.name})" for v in starts)
                    chk.value_problem(culprit, ("bands", i),
                                      f"on {day} the bands of {rule_ids[i]} start at {shown}: each band must start "
                                      "above the one before, and the second above the deductible")

    def _read_together(self, chk: Check) -> list[tuple[int, tuple[str, ...]]]:
        """(band row, the parameters one claim reads together: a deductible, then each later band's
        start), for every deductible row and band row whose conditions can hold on one claim."""
        d_ids, b_ids = self.rule_ids("deductible", self.deductible), self.rule_ids("bands", self.bands)
        found: dict[tuple[int, tuple[str, ...]], None] = {}
        for j, row in enumerate(self.bands):
            later = tuple(b.start for b in row.bands[1:])
            if not later or not all(later):  # one band, or a later band without a start (refused on its own)
                continue
            for i, d in enumerate(self.deductible):
                rules = tuple(rid for rid, when in ((d_ids[i], d.when), (b_ids[j], row.when)) if when is not None)
                for names, fields in _alike(chk, (d.value, *later)):
                    if len(found) > MAX_ORDER_CHECKS:
                        return list(found)  # the count alone refuses the layer (_check_band_order)
                    if chk.together(rules, fields):
                        found[j, names] = None
        return list(found)

    def bounds(self, highest) -> Iterator[CounterBound]:
        # A group that lifts the cap (serious illness for 低保/特困) lets the paid counter pass it
        # legally (domain.md 6.11); secondary aid has none, so its paid counter is bounded.
        if any(g.lift_cap is not None for g in self.groups):
            return
        for row, rid in zip(self.caps, self.rule_ids("caps", self.caps)):
            yield CounterBound(self.paid_counter, highest(row.value), row.value, "cap", rid if row.when else None)

    # --- paying -------------------------------------------------------------------------------

    def pay(self, st: State, earlier: Earlier) -> Paid:
        plan: _Plan = self.plan(st, self._resolve)
        if plan.error:
            raise ClaimError(plan.error)
        amount = st.left
        before = st.counter(self.base_counter)
        after = before + amount
        paid_so_far = st.counter(self.paid_counter)
        options = [self._option(o, plan.cap, paid_so_far, before, after) for o in plan.options]
        # groups are listed before `none`
        best = options[0] if len(options) == 1 else most_favourable(options, lambda o: o.paid)
        if st.rec is not None:
            self._record(st, options, best, plan, before, amount, after, paid_so_far)
        st.add(self.base_counter, amount)
        st.add(self.paid_counter, best.paid)
        return Paid(best.paid, amount, best.cap_left)

    def _resolve(self, st: State) -> "_Plan":
        """The rows that hold for claims like `st`'s, the values they name and each group's bands
        (see Kind.plan)."""
        hit_d = st.first(self.deductible, self.rule_ids("deductible", self.deductible))
        hit_b = st.first(self.bands, self.rule_ids("bands", self.bands))
        if hit_d is None or hit_b is None:
            return _Plan(error=f"{self.id}: no deductible or band row of {st.pack.name!r} applies to this claim")
        deductible = st.param(hit_d[0].value)
        band_params = [(st.param(b.start) if b.start else None, st.param(b.ratio)) for b in hit_b[0].bands]
        starts = [deductible.units] + [b[0].units for b in band_params[1:]]
        if not bands_rise(starts[0], starts[1:]):
            return _Plan(error=f"{self.id}: in pack {st.pack.name!r}, each band of {hit_b[1]} must start above the one "
                               f"before, and the second above the deductible; on {st.day} the deductible is "
                               f"{fmt_fen(starts[0])} and the later bands start at {', '.join(fmt_fen(x) for x in starts[1:])}")
        hit_c = st.first(self.caps, self.rule_ids("caps", self.caps))
        cap = st.param(hit_c[0].value) if hit_c else None
        groups = [g for g, rid in zip(self.groups, self.group_rules) if rid in st.fired] + [None]
        options = tuple(self._bands(st, g, deductible, band_params, cap) for g in groups)
        cites = (deductible, *(p for b in band_params for p in b if p is not None))
        return _Plan(options, cap, hit_c[1] if hit_c else "", hit_b[1], cites)

    @staticmethod
    def _bands(st: State, group, deductible, band_params, cap) -> _Bands:
        """A group's bands (or, for `group` None, the plain ones): its first band starts at the
        deductible less its reduction, and its points add to every band."""
        start = deductible.units * RATIO
        points = 0
        modifiers: tuple = ()
        red = pts = None
        if group is not None and group.deductible_reduction:
            red = st.param(group.deductible_reduction)
            start = deductible.units * (RATIO - red.units)
            modifiers += (red,)
        if group is not None and group.points:
            pts = st.param(group.points)
            points = pts.units
            modifiers += (pts,)
        lows = [start] + [b[0].units * RATIO for b in band_params[1:]]
        highs: list[int | None] = lows[1:] + [None]
        bands = [(lo, hi, with_points(b[1].units, points)) for lo, hi, b in zip(lows, highs, band_params, strict=True)]
        capped = cap is not None and not (group is not None and group.lift_cap is not None)
        return _Bands(group, start, bands, capped, modifiers, deductible.units, red, pts,
                      tuple(b[1].units for b in band_params))

    @staticmethod
    def _option(o: _Bands, cap, paid_so_far: int, before: int, after: int) -> _Option:
        """The option paid on this claim's part [before, after] of the cumulative amount."""
        b, a = before * RATIO, after * RATIO
        raw = 0
        for lo, hi, ratio in o.bands:
            part = (a if hi is None else min(a, hi)) - max(b, lo)
            if part > 0:
                raw += part * ratio
        cap_left = max(0, cap.units - paid_so_far) if o.capped else None
        paid = half_up(raw if cap_left is None else min(raw, cap_left * SCALE), SCALE)
        return _Option(o.group, o.start, o.bands, cap_left, raw, paid, o.modifiers, o)

    def _record_modifiers(self, st: State, group: GroupModifier, o: _Bands, cap) -> None:
        """The arithmetic of the chosen group's modifiers, each a step a cashier can redo: the first
        band's start lowered by the reduction, every band's ratio raised by the points, the cap lifted."""
        rule = f"{self.id}.groups.{group.id}"
        name = group.name  # the pack's {zh, en}, or None: the renderer names it by its id
        member = st.claim.member.groups
        if o.reduction is not None:
            st.rec.add("cumulative_bands.reduction", f"{self.id}.deductible", rule, self.id,
                       {"group": group.id, "name": name, "member": member, "deductible": o.deductible,
                        "reduction": o.reduction.units, "start": o.start}, (o.reduction,))
        if o.points is not None:
            st.rec.add("cumulative_bands.points", f"{self.id}.points", rule, self.id,
                       {"group": group.id, "name": name, "member": member, "points": o.points.value, "before": o.base_ratios,
                        "sums": tuple(r + o.points.units for r in o.base_ratios), "after": tuple(b[2] for b in o.bands)},
                       (o.points,))
        if group.lift_cap is not None and cap is not None:
            st.rec.add("cumulative_bands.no_cap", f"{self.id}.cap", rule, self.id,
                       {"group": group.id, "name": name, "member": member, "cap": cap.units},
                       (_Lifted(cap.name, group.lift_cap.source),))

    def _record(self, st: State, options, best: _Option, plan: _Plan, before: int, amount: int, after: int,
                paid_so_far: int) -> None:
        group = best.group.id if best.group else "none"
        if len(options) > 1:
            st.rec.add("cumulative_bands.group", f"{self.id}.group",
                       f"{self.id}.groups.{best.group.id}" if best.group else self.when_rule, self.id,
                       {"options": {(o.group.id if o.group else "none"): o.paid for o in options}, "chosen": group,
                        "names": {o.group.id: o.group.name for o in options if o.group and o.group.name},
                        "member": st.claim.member.groups})
        if best.group is not None and best.plan is not None:
            self._record_modifiers(st, best.group, best.plan, plan.cap)
        st.rec.add("cumulative_bands.cumulative", f"{self.id}.cumulative", self.when_rule, self.id,
                   {"counter": self.base_counter, "before": before, "amount": amount, "after": after,
                    "policy": st.bill.policy_range, "funds": tuple(st.funds_paid)})
        if best.cap_left is not None:
            record_cap(st, self.id, plan.cap_rule, plan.cap, paid_so_far, best.cap_left)
        st.rec.add("cumulative_bands.pay", f"{self.id}.pay", plan.band_rule, self.id,
                   {"before": before, "after": after, "start": best.start, "bands": best.bands, "raw": best.raw,
                    "cap_left": best.cap_left, "paid": best.paid}, plan.cites + best.modifiers)
