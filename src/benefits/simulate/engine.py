"""settle_year: a year of claims, step by step (基金测算的逐步结算).

1. Read the columns (arrays.py); split line items (split.py); find each claim's deciding date.
2. Give each claim its combination (compiled.py): what the rules can tell it apart by.
3. Order each member's claims by deciding date, then claim id; step k holds every member's k-th.
4. Per step: the vectorised kinds pay every claim of the step, layer by layer, reading and writing
   the members' counters (members x counters, int64 fen); claims marked for the scalar engine, and
   those whose counters are out of bounds (domain.md 6.11), are settled by `benefits.evaluate`
   with the same counters (fallback.py).
5. The results, written in the claims table's row order as they are settled (results.py).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import ClaimError
from ..models.accumulators import MAX_ADMISSIONS
from ..rules.pack import RulePack
from .arrays import GROUPS, MAX_FEN, NO_DAY, as_table, days, read_claims, read_items, read_members, words
from .columns import AFTER, BILL_COLUMNS, PAID, result_columns
from .compiled import STAY_VISITS, Combo, CompiledPack, Desc, compiled
from .errors import SimulationInputError
from .exact import INF, NONE
from .fallback import EPOCH, Fallback
from .kinds import Layout, Step
from .results import Results
from .split import split_items

DIRTY = "input the engine refuses (its message is in `message`)"
OUT_OF_YEAR = "deciding date outside the simulated year or every version of the pack"
OUT_OF_BOUNDS = "a counter above the most its cap allows (domain.md 6.11)"
TOO_LARGE = "an amount above the largest the engine accepts after settling"
TOO_MANY = "more admissions than the engine accepts after settling"


def settle(pack: RulePack, claims: Any, members: Any, *, items: Any = None, year: int | None = None) -> Results:
    """`benefits.simulate.settle_year` (its docstring says what it takes and returns)."""
    if not isinstance(pack, RulePack):
        raise TypeError(f"pack must be a pack from benefits.load_rules(folder), not {type(pack).__name__}")
    cp = compiled(pack)
    mem = read_members(members)
    cl = read_claims(claims, mem)
    days = _deciding_days(pack, cl)
    dirty = _dirty_input(cl, mem, days.stay)
    if year is None:
        year = _year_of(days.day)
    layout = Layout(list(pack.counters), pack.monthly_counters, year)
    dates = _dates(pack, days, year)
    bill = _bill(cl, items, dates)
    dirty |= bill.refused
    counters = _opening_counters(pack, mem, layout, year)
    combo, combos = _combinations(cp, cl, mem, days.day, dates.day_index, dates.versions, dates.in_year)
    rules = _rules(pack, cp, layout, combos)
    unbounded = _unbounded(pack, layout)
    why = _Why()
    claim_why = _reasons_before_steps(why, combos, combo, dates.in_year, dirty)
    steps = _steps(cl, np.where(cl.order != NO_DAY, cl.order, days.day))  # moved claims keep their order
    cols = _in_step_order(steps, cl, combo, dates.month, claim_why, bill.fen, days.stay, rules.refusal)
    out = _Out(cl.n, len(pack.layers), len(layout), bill.fen)  # in the claims table's row order
    y = _Year(pack, year, cp.cap_ids, layout, rules, unbounded, fund=[layer.fund for layer in pack.layers],
              counters=counters, admissions=mem.admissions.copy(), in_bounds=np.zeros(mem.n, bool), why=why,
              out=out, fallback=Fallback(pack, cl, mem, bill.items, layout, year, days.day))
    _settle_steps(y, steps, cols)
    return _results(y, cl, mem, days, dates, steps, cols)


# --- the claims: deciding days, versions, bills -------------------------------------------------


class _Days(NamedTuple):
    """Each claim's deciding day (days since EPOCH; NO_DAY where it has none) and whether it is a stay."""

    stay: np.ndarray  # bool: a stay (STAY_VISITS), dated by its admission and discharge
    day: np.ndarray  # int64
    known: np.ndarray  # bool: day != NO_DAY


def _deciding_days(pack: RulePack, cl) -> _Days:
    """Each claim's deciding day: a stay's discharge date (the pack decides by settlement) or its
    admission date (by start); another visit's date."""
    stay_code = np.array([v in STAY_VISITS for v in cl.visit[1]], bool)
    stay = stay_code[cl.visit[0]]
    settlement_day = np.where(stay, cl.discharge, cl.date)
    start_day = np.where(stay, cl.admission, cl.date)
    day = settlement_day if pack.meta.deciding_date == "settlement" else start_day
    return _Days(stay, day, day != NO_DAY)


def _dirty_input(cl, mem, stay: np.ndarray) -> np.ndarray:
    """The claims whose input the engine refuses (bool per claim): the claim's or its member's values,
    or dates that do not fit the visit (a stay: admission and discharge, in order, and no date;
    another visit: a date only)."""
    dirty = cl.dirty | mem.dirty[cl.member]
    dirty |= np.where(stay, (cl.admission == NO_DAY) | (cl.discharge == NO_DAY) | (cl.date != NO_DAY)
                      | (cl.discharge < cl.admission),
                      (cl.date == NO_DAY) | (cl.admission != NO_DAY) | (cl.discharge != NO_DAY))
    return dirty


class _Dates(NamedTuple):
    """The days claims settle on (the distinct deciding days, ascending) and what each decides."""

    versions: list[dt.date | None]  # per day: its version's start; None outside the year or every version
    share: np.ndarray  # per day: the default B share, (numerator, denominator)
    day_index: np.ndarray  # per claim: its day's place among the days (that of day 0 where it has none)
    in_year: np.ndarray  # bool per claim: its deciding date is known and a version of the year covers it
    month: np.ndarray  # per claim: the month of its deciding date, 0-11 (0 where it has none)

    def of_claims(self) -> np.ndarray:
        """Each claim's version (datetime64[D]; NaT where none covers its deciding date)."""
        version_of = np.array([np.datetime64(v, "D") if v else np.datetime64("NaT") for v in self.versions] or
                              [np.datetime64("NaT")], "datetime64[D]")
        return version_of[self.day_index]


def _dates(pack: RulePack, days: _Days, year: int) -> _Dates:
    """The days claims settle on: version, default B share, and whether the year's accumulators apply."""
    uniq_days, day_index = _dense(np.where(days.known, days.day, 0))
    versions, share = _versions(pack, uniq_days, year)
    version_ok = np.array([v is not None for v in versions], bool)
    in_year = days.known & version_ok[day_index]
    return _Dates(versions, share, day_index, in_year, _months(days))


def _versions(pack: RulePack, uniq_days: np.ndarray, year: int) -> tuple[list[dt.date | None], np.ndarray]:
    """Per day: the start of the pack's version for it and the default B share as a ratio of
    integers; None and 0/1 for a day outside `year` or every version."""
    versions: list[dt.date | None] = []
    share = np.zeros((len(uniq_days), 2), np.int64)
    for i, d in enumerate(uniq_days):
        date = EPOCH + dt.timedelta(days=int(d))
        try:
            if date.year != year:
                raise ClaimError("outside the year")
            versions.append(pack.version_for(date).start)
            share[i] = pack.param(pack.meta.default_b_share, date).value.as_integer_ratio()
        except ClaimError:
            versions.append(None)
            share[i] = (0, 1)
    return versions, share


def _months(days: _Days) -> np.ndarray:
    """Each claim's month of its deciding date, 0-11 (0 where it has none): for monthly counters."""
    known, day = days.known, days.day
    month = np.zeros(len(day), np.int64)
    if known.any():
        month[known] = (day[known].astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12)
    return month


class _Bill(NamedTuple):
    """Each claim's bill, split."""

    fen: dict[str, np.ndarray]  # per bill column (BILL_COLUMNS): int64 fen per claim
    items: Any  # the line items read (arrays.read_items), None without them
    refused: np.ndarray  # bool per claim: a bill the engine refuses


def _bill(cl, items: Any, dates: _Dates) -> _Bill:
    """The bill: given split, or split from line items (at the deciding day's default B share). The
    engine refuses a claim with both or neither, an item it refuses, or a total above the largest
    amount it accepts."""
    bill = {name: cl.bill[name].fen.copy() for name in BILL_COLUMNS}
    has_items = np.zeros(cl.n, bool)
    it = None
    items_dirty = None
    if items is not None:
        it = read_items(items, cl)
        sp = split_items(it, cl.n, dates.share[dates.day_index, 0], dates.share[dates.day_index, 1])
        has_items = sp.has_items
        items_dirty = sp.dirty
        for name in BILL_COLUMNS:
            bill[name] = np.where(has_items, getattr(sp, name), bill[name])
    refused = has_items == cl.has_bill  # both or neither
    refused |= bill["total"] > MAX_FEN
    if items_dirty is not None:
        refused |= items_dirty
    return _Bill(bill, it, refused)


# --- the members' counters, and what the rules decide -------------------------------------------


def _opening_counters(pack: RulePack, mem, layout: Layout, year: int) -> np.ndarray:
    """The members' counters opening the year (members x counters, int64 fen) from their `opening.<key>`
    columns; an amount the engine does not accept, or a key that is not one of the pack's counters,
    is an input error."""
    C = np.zeros((mem.n, len(layout)), np.int64)
    for key, m in mem.opening.items():
        if m.bad.any():
            raise SimulationInputError("members", f"opening.{key}", "an amount the engine does not accept",
                                       int(np.flatnonzero(m.bad)[0]))
        col = layout.column.get(key)
        if col is None:
            raise SimulationInputError("members", f"opening.{key}", f"not a counter of pack {pack.name!r} for {year}; "
                                       f"its counters: {', '.join(layout.keys)}")
        C[:, col] = m.fen
    return C


class _Rules(NamedTuple):
    """What the rules decide for each combination (indexed by combination)."""

    applies: np.ndarray  # combinations x layers, bool: the layer pays its claims (vectorised combinations)
    limits: np.ndarray  # combinations x counters: the most a cap lets the counter hold (INF: none)
    refusals: list[str]  # the pack's refusal messages, each once
    refusal: np.ndarray  # per combination: its refusal's place in `refusals`, -1 where the pack pays
    kinds: list  # per layer: its vectorised kind, tables made, or None (the scalar engine's)


def _rules(pack: RulePack, cp: CompiledPack, layout: Layout, combos: list[Combo]) -> _Rules:
    """Which layers pay each combination's claims, the caps' limits on its counters, whether the
    pack refuses it; and the vectorised kinds' tables of it."""
    applies = np.zeros((len(combos), len(pack.layers)), bool)
    limits = np.full((len(combos), len(layout)), INF, np.int64)
    col_of = {}
    for k, name in enumerate(layout.names):
        col_of.setdefault(name, []).append(k)
    refusals: list[str] = []
    refusal = np.full(len(combos), -1, np.int64)
    for j, cb in enumerate(combos):
        if cb.scalar is None and cb.refusal is None:
            applies[j] = [r is not None for r in cb.rows]
        for name, limit in cb.limits:
            limits[j, col_of[name]] = limit
        if cb.refusal is not None:
            if cb.refusal not in refusals:
                refusals.append(cb.refusal)
            refusal[j] = refusals.index(cb.refusal)
    return _Rules(applies, limits, refusals, refusal, _kinds(pack, cp, layout, combos))


def _kinds(pack: RulePack, cp: CompiledPack, layout: Layout, combos: list[Combo]) -> list:
    """Per layer its vectorised kind (None where the scalar engine pays it), its tables made from the
    combinations' resolved rows (none for a combination settled by the scalar engine or refused)."""
    kinds = [None if cls is None else cls(layer, layout) for cls, layer in zip(cp.kinds, pack.layers)]
    for l, kind in enumerate(kinds):
        if kind is not None:
            kind.tables([cb.rows[l] if cb.scalar is None and cb.refusal is None else None for cb in combos])
    return kinds


class _Unbounded(NamedTuple):
    """Counters no cap bounds (cumulative bases, balances): checked against the largest amount accepted."""

    cols: np.ndarray  # their columns of the counter matrix
    growth: np.ndarray  # per such counter: how many layers may add to it on one claim (each at most the total)


def _unbounded(pack: RulePack, layout: Layout) -> _Unbounded:
    """The counters no cap bounds below the largest amount accepted, and how fast a claim may grow them."""
    bounded = [max((b.limit for b in pack.bounds.get(name, ())), default=None) for name in layout.names]
    unbounded = np.array([b is None or b > MAX_FEN for b in bounded], bool)
    writers = _writers(pack)  # how many layers may add to each counter on one claim (each at most the total)
    growth = np.array([writers.get(name, 0) for name in layout.names], np.int64)[unbounded]
    return _Unbounded(np.flatnonzero(unbounded), growth)


# --- the scalar engine's claims, and the steps --------------------------------------------------


class _Why:
    """Why rows go to the scalar engine: each reason's text once, in the order first given; a row
    holds its reason's place (-1: none, the vectorised kinds settle it)."""

    def __init__(self):
        self.texts: list[str] = []

    def code(self, text: str) -> int:
        """The reason's place (added the first time it is given)."""
        if text not in self.texts:
            self.texts.append(text)
        return self.texts.index(text)


def _reasons_before_steps(why: _Why, combos: list[Combo], combo: np.ndarray, in_year: np.ndarray,
                          dirty: np.ndarray) -> np.ndarray:
    """Why each claim goes to the scalar engine, before any step (int64 per claim, -1: it does not):
    its combination's reason, overridden by a date outside the year, overridden by refused input."""
    combo_why = np.array([-1 if cb.scalar is None else why.code(cb.scalar) for cb in combos] or [-1], np.int64)
    claim_why = combo_why[combo] if len(combo) else np.zeros(0, np.int64)
    claim_why[~in_year & ~dirty] = why.code(OUT_OF_YEAR)
    if dirty.any():
        claim_why[dirty] = why.code(DIRTY)
    return claim_why


class _Steps(NamedTuple):
    """The claims in step order: step k holds every member's k-th claim (by deciding date, then claim
    id), in order of member."""

    rank: np.ndarray  # per row of the claims table: its step
    rows: np.ndarray  # per place in step order: its row of the claims table
    bounds: np.ndarray  # step k is the places bounds[k]:bounds[k + 1]


def _steps(cl, day: np.ndarray) -> _Steps:
    """Order: member, deciding date, claim id; then by step."""
    order, rank = _order(cl, day)
    by_step = np.argsort(rank[order].astype(np.int16 if rank.max(initial=0) < 1 << 15 else np.int64), kind="stable")
    counts = np.bincount(rank, minlength=1)
    return _Steps(rank, order[by_step], np.r_[0, np.cumsum(counts)])


class _InSteps(NamedTuple):
    """Per-claim columns in step order (indexed by place, as `_Steps.rows`)."""

    member: np.ndarray
    combo: np.ndarray
    month: np.ndarray
    why: np.ndarray  # why the claim goes to the scalar engine (-1: it does not); steps add reasons
    pre_self_paid: np.ndarray
    policy_range: np.ndarray
    stay: np.ndarray
    total: np.ndarray
    refusal: np.ndarray  # its combination's refusal (-1: none)


def _in_step_order(steps: _Steps, cl, combo: np.ndarray, month: np.ndarray, why: np.ndarray,
                   bill: dict[str, np.ndarray], stay: np.ndarray, refusal: np.ndarray) -> _InSteps:
    """The columns the steps read, taken in step order."""
    P = steps.rows
    c = combo[P]
    return _InSteps(cl.member[P], c, month[P], why[P], bill["pre_self_paid"][P], bill["policy_range"][P], stay[P],
                    bill["total"][P], refusal[c] if len(refusal) else np.zeros(0, np.int64))


# --- settling the steps -------------------------------------------------------------------------


@dataclass
class _Year:
    """The year while its steps are settled: what the rules decide, the members' counters (members x
    counters, int64 fen) and admissions as the claims settled so far left them, and the results."""

    pack: RulePack
    year: int
    cap_ids: tuple[str, ...]
    layout: Layout
    rules: _Rules
    unbounded: _Unbounded
    fund: list[bool]  # per layer: it pays from the fund (else from the personal account)
    counters: np.ndarray
    admissions: np.ndarray
    in_bounds: np.ndarray  # per member: its counters were within bounds at a step settled here
    why: _Why
    out: _Out
    fallback: Fallback


class _StepClaims(NamedTuple):
    """One step's claims: the places start:stop in step order, their members and combinations, and why
    they go to the scalar engine (a view of `_InSteps.why`: reasons found here are counted)."""

    start: int
    stop: int
    member: np.ndarray
    combo: np.ndarray
    why: np.ndarray


def _settle_steps(y: _Year, steps: _Steps, cols: _InSteps) -> None:
    """The steps in order: each member's claim reads the counters its claim of the step before left."""
    for k in range(len(steps.bounds) - 1):
        s0, s1 = int(steps.bounds[k]), int(steps.bounds[k + 1])
        s = _StepClaims(s0, s1, cols.member[s0:s1], cols.combo[s0:s1], cols.why[s0:s1])
        _settle_step(y, cols, steps.rows, s)


def _settle_step(y: _Year, cols: _InSteps, P: np.ndarray, s: _StepClaims) -> None:
    """One step: the claims the vectorised kinds must not settle go to the scalar engine, those the
    pack refuses are refused, the rest are settled layer by layer (vectorised), then the scalar
    engine's one by one; each claim's counters and admissions after it are recorded."""
    _check_bounds(y, s)
    _check_growth(y, s, cols.total[s.start:s.stop], cols.stay[s.start:s.stop])
    v = np.flatnonzero(_refuse(y, cols, P, s))
    if len(v):
        _settle_vectorised(y, cols, P, s, v)
    _settle_scalar(y, P, s)
    step_rows = P[s.start:s.stop]
    y.out.after[:, step_rows] = y.counters[s.member].T
    y.out.admissions[step_rows] = y.admissions[s.member]


def _check_bounds(y: _Year, s: _StepClaims) -> None:
    """Claims whose member's counters are above the most a cap allows go to the scalar engine."""
    m, w = s.member, s.why
    vector = w < 0
    # domain.md 6.11, checked until the member's counters are found within bounds: settling
    # keeps them there (a payment never passes a cap), as the engine's own checks would find
    check = np.flatnonzero(vector & ~y.in_bounds[m])
    if len(check):
        bad = (y.counters[m[check]] > y.rules.limits[s.combo[check]]).any(axis=1)
        w[check[bad]] = y.why.code(OUT_OF_BOUNDS)
        y.in_bounds[m[check[~bad]]] = True


def _check_growth(y: _Year, s: _StepClaims, total: np.ndarray, stay: np.ndarray) -> None:
    """Claims that could take a counter no cap bounds, or the admissions, too far go to the scalar
    engine (which refuses such a result)."""
    crowded = (s.why < 0) & (y.admissions[s.member] + stay > MAX_ADMISSIONS)
    if crowded.any():
        s.why[crowded] = y.why.code(TOO_MANY)
    # counters no cap bounds: if this claim could take one past the largest amount accepted,
    # the engine decides (it refuses such a result)
    vector = s.why < 0
    if len(y.unbounded.cols):
        reach = y.counters[s.member[:, None], y.unbounded.cols] + y.unbounded.growth * total[:, None]
        risky = vector & (reach > MAX_FEN).any(axis=1)
        s.why[risky] = y.why.code(TOO_LARGE)


def _refuse(y: _Year, cols: _InSteps, P: np.ndarray, s: _StepClaims) -> np.ndarray:
    """Refuses the step's claims whose combination the pack refuses (those not sent to the scalar
    engine); returns the claims left to the vectorised kinds (bool per claim of the step)."""
    vector = s.why < 0
    refused = vector & (cols.refusal[s.start:s.stop] >= 0)
    if refused.any():
        r = s.start + np.flatnonzero(refused)
        y.out.refuse_many(P[r], cols.refusal[r])
        vector &= ~refused
    return vector


def _settle_vectorised(y: _Year, cols: _InSteps, P: np.ndarray, s: _StepClaims, v: np.ndarray) -> None:
    """Settles the step's claims `v` (places in the step) with the vectorised kinds, layer by layer;
    writes their results and adds their stays to their members' admissions."""
    m, c = s.member, s.combo
    full = len(v) == s.stop - s.start
    at = slice(s.start, s.stop) if full else s.start + v  # the step's claims settled here, in step order
    rows = P[at]  # ... and their rows
    mv = m[v] if not full else m
    st = Step(y.counters, mv, c[v] if len(v) < len(c) else c, cols.month[at], y.admissions[mv], cols.pre_self_paid[at],
              cols.policy_range[at], y.cap_ids)
    paid = _pay_layers(y, st, rows)
    y.out.vectorised(rows, st, cols.policy_range[at], cols.total[at], paid)
    y.admissions[mv] += cols.stay[at]


class _Paid(NamedTuple):
    """What the layers paid the claims of a step (int64 fen per claim)."""

    funds: np.ndarray  # by the fund layers
    account: np.ndarray  # by the personal-account layers


def _pay_layers(y: _Year, st: Step, rows: np.ndarray) -> _Paid:
    """The layers in order, each paying the claims it applies to (reading and writing the counters):
    a fund layer's payment is no longer left to the patient for the layers after it; a personal-
    account layer's is the account's."""
    funds = np.zeros(len(st.m), np.int64)
    account = np.zeros(len(st.m), np.int64)
    app = y.rules.applies[st.c]
    for l, kind in enumerate(y.rules.kinds):
        if kind is None:
            continue
        idx = np.flatnonzero(app[:, l])
        if len(idx):
            paid = kind.pay(st, idx)
            y.out.paid[l, rows[idx]] = paid
            if y.fund[l]:
                st.left[idx] -= paid
                funds[idx] += paid
            else:
                account[idx] += paid
    return _Paid(funds, account)


def _settle_scalar(y: _Year, P: np.ndarray, s: _StepClaims) -> None:
    """The step's claims sent to the scalar engine, one by one with their members' counters
    (fallback.py); the counters and admissions it leaves become the members'."""
    for i in np.flatnonzero(s.why >= 0):
        row, mi = int(P[s.start + i]), int(s.member[i])
        y.out.engine[row] = 1
        got = y.fallback.settle(row, int(y.admissions[mi]), y.counters[mi])
        if got.refused is not None:
            y.out.refuse_one(row, got.refused)
            continue
        y.out.settled(row, got)
        y.counters[mi] = 0
        for key, fen in got.counters.items():
            y.counters[mi, y.layout.column[key]] = fen
        y.admissions[mi] = got.admissions


def _results(y: _Year, cl, mem, days: _Days, dates: _Dates, steps: _Steps, cols: _InSteps) -> Results:
    """The results in the claims table's row order, with how many claims each reason sent to the scalar engine."""
    pack, layout = y.pack, y.layout
    version = dates.of_claims()
    not_vectorised = Counter(y.why.texts[r] for r in cols.why[cols.why >= 0])
    table = y.out.table(pack, cl, mem, steps.rank, days.day, version, layout, y.rules.refusals)
    return Results(table, pack=pack.name, year=y.year, layers=tuple(layer.id for layer in pack.layers),
                   counter_keys=tuple(layout.keys), not_vectorised=dict(not_vectorised))


def _dense(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(values, return_inverse=True) for int64 values: by a table over their range when it
    is small (days of a year, combinations), else by sorting."""
    if len(values) == 0:
        return values[:0], np.zeros(0, np.int64)
    lo, hi = int(values.min()), int(values.max())
    if hi - lo > max(1 << 16, 4 * len(values)):
        uniq, inverse = np.unique(values, return_inverse=True)
        return uniq, inverse.reshape(-1)
    seen = np.zeros(hi - lo + 1, bool)
    seen[values - lo] = True
    uniq = np.flatnonzero(seen)
    index = np.cumsum(seen) - 1
    return uniq + lo, index[values - lo]


def _mixed(parts: list[tuple[np.ndarray, int]]) -> np.ndarray:
    """Codes of several columns as one int64 number each (mixed radix: code x the sizes before it)."""
    key = np.zeros(len(parts[0][0]), np.int64)
    span = 1
    for codes, size in parts:
        if span * size >= 1 << 62:
            raise SimulationInputError("claims", None, "too many distinct values to tell combinations apart")
        key += codes * span
        span *= size
    return key


def _writers(pack: RulePack) -> dict[str, int]:
    """Per counter, how many of the pack's layers may add to it on one claim."""
    out: dict[str, int] = {}
    for layer in pack.layers:
        names = set()
        for field in ("base_counter", "paid_counter", "deductible_counter"):
            names.add(getattr(layer, field, None))
        deductible = getattr(layer, "deductible", None)
        names.add(getattr(deductible, "counter", None))
        names.update(cap.counter for cap in getattr(layer, "caps", ()) if hasattr(cap, "counter"))
        for name in names - {None}:
            out[name] = out.get(name, 0) + 1
    return out


def _year_of(day: np.ndarray) -> int:
    """The year of the earliest deciding date (this year's, when there is none)."""
    known = day != NO_DAY
    return (EPOCH + dt.timedelta(days=int(day[known].min()))).year if known.any() else dt.date.today().year


def default_year(pack: RulePack, claims: Any) -> int:
    """The year `settle_year` settles `claims` in when none is given: that of the earliest deciding date."""
    t = as_table(claims, "claims")
    n = t.num_rows
    col = lambda name: t.column(name).combine_chunks() if name in t.column_names else None  # noqa: E731
    codes, values = words(col("visit"), n)
    stay = np.array([v in STAY_VISITS for v in values], bool)[codes]
    date = days(col("date"), n, "claims", "date")
    admission = days(col("admission_date"), n, "claims", "admission_date")
    discharge = days(col("discharge_date"), n, "claims", "discharge_date")
    day = np.where(stay, discharge if pack.meta.deciding_date == "settlement" else admission, date)
    return _year_of(day)


class _Out:
    """The result columns while the year is settled, in the claims table's row order (per layer and
    per counter a row of the matrices `paid` and `after`)."""

    def __init__(self, n: int, n_layers: int, n_counters: int, bill: dict[str, np.ndarray]):
        self.bill: dict[str, np.ndarray] = {name: bill[name].copy() for name in BILL_COLUMNS}
        self.paid = np.zeros((n_layers, n), np.int64)
        self.deductible, self.co_pay, self.above_cap = (np.zeros(n, np.int64) for _ in range(3))
        self.ratio = np.full(n, NONE, np.int64)
        self.fund_total, self.patient, self.account, self.cash = (np.zeros(n, np.int64) for _ in range(4))
        self.after = np.zeros((n_counters, n), np.int64)
        self.admissions = np.zeros(n, np.int64)
        self.engine = np.zeros(n, np.int8)  # 0 vector, 1 scalar
        self.version = np.zeros(n, np.int8)  # 0 refused, 1 the version of its deciding date, 2 the scalar engine's
        self.status = np.zeros(n, np.int8)  # 0 settled, 1 refused
        self.refusal = np.full(n, -1, np.int64)  # a pack refusal: its message's place in the list of them
        self.messages: dict[int, str] = {}  # messages of claims the scalar engine refused
        self.scalar_version: dict[int, dt.date] = {}

    def refuse_many(self, p: np.ndarray, refusal: np.ndarray) -> None:
        """Claims a pack refuses (their amounts are 0 and they change no counter)."""
        self.status[p] = 1
        self.refusal[p] = refusal
        for name in BILL_COLUMNS:
            self.bill[name][p] = 0

    def refuse_one(self, p: int, message: str) -> None:
        self.refuse_many(np.array([p]), np.array([-1]))
        self.messages[p] = message

    def vectorised(self, rows: np.ndarray, st: Step, policy: np.ndarray, total: np.ndarray, paid) -> None:
        """Claims the vectorised kinds settled: the basic fund's outcome (`st`), and what the fund,
        the patient, the personal account and cash paid (`paid`: a `_Paid`)."""
        self.deductible[rows], self.ratio[rows], self.above_cap[rows] = st.deductible, st.ratio, st.above_cap
        self.co_pay[rows] = np.where(st.ratio == NONE, policy, st.co_pay)
        self.fund_total[rows], self.patient[rows], self.account[rows] = paid.funds, total - paid.funds, paid.account
        self.cash[rows] = total - paid.funds - paid.account
        self.version[rows] = 1

    def settled(self, p: int, got) -> None:
        for name, fen in zip(BILL_COLUMNS, got.bill):
            self.bill[name][p] = fen
        self.paid[:, p] = got.paid
        self.deductible[p], self.co_pay[p], self.above_cap[p] = got.deductible, got.co_pay, got.above_cap
        self.ratio[p] = NONE if got.ratio is None else got.ratio
        self.fund_total[p], self.patient[p], self.account[p], self.cash[p] = (
            got.fund_total, got.patient, got.account, got.cash)
        self.version[p] = 2
        self.scalar_version[p] = got.version

    def table(self, pack, cl, mem, rank: np.ndarray, day: np.ndarray, version: np.ndarray, layout: Layout,
              refusals: list[str]) -> pa.Table:
        n = len(rank)
        version = version.copy()
        for row, v in self.scalar_version.items():
            version[row] = np.datetime64(v, "D")
        version[self.version == 0] = np.datetime64("NaT")
        texts = refusals + sorted(set(self.messages.values()))
        msg = self.refusal.copy()
        for row, text in self.messages.items():
            msg[row] = texts.index(text)
        days = np.where(day == NO_DAY, 0, day).astype("datetime64[D]")
        back = pa.array
        cols: dict[str, pa.Array] = {
            "row": pa.array(np.arange(n, dtype=np.int64)),
            "claim_id": cl.claim_id,
            "member_id": mem.member_id.take(pa.array(cl.member)),
            "step": pa.array(rank.astype(np.int32)),
            "deciding_date": pa.array(days, pa.date32(), mask=day == NO_DAY),
            "version": pa.array(version, pa.date32(), mask=np.isnat(version)),
            "status": pa.array(["settled", "refused"]).take(pa.array(self.status)),
            "engine": pa.array(["vector", "scalar"]).take(pa.array(self.engine)),
            "message": pa.array(texts or [""], pa.string()).take(pa.array(msg, mask=msg < 0)),
        }
        for name in BILL_COLUMNS:
            cols[name] = back(self.bill[name])
        ratio = self.ratio
        cols["deductible"] = back(self.deductible)
        cols["ratio"] = pa.array(np.where(ratio == NONE, 0, ratio), pa.int64(), mask=ratio == NONE)
        cols["co_pay"] = back(self.co_pay)
        cols["above_cap"] = back(self.above_cap)
        for l, layer in enumerate(pack.layers):
            cols[PAID + layer.id] = pa.array(self.paid[l])
        for name in ("fund_total", "patient", "account", "cash"):
            cols[name] = back(getattr(self, name))
        cols["admissions_after"] = back(self.admissions)
        for k, key in enumerate(layout.keys):
            cols[AFTER + key] = pa.array(self.after[k])
        names = result_columns(tuple(layer.id for layer in pack.layers), tuple(layout.keys))
        return pa.table({name: cols[name] for name in names})


def _combinations(cp: CompiledPack, cl, mem, day, day_index, versions, in_year) -> tuple[np.ndarray, list]:
    """Each claim's combination (an index into the returned list of `Combo`s)."""
    pack = cp.pack
    n = cl.n
    diag_values = cl.diagnosis[1]
    disease_names: list[str] = []
    disease_of_code = []
    for code in diag_values:
        name = pack.disease_of([code]) if code else "none"
        if name not in disease_names:
            disease_names.append(name)
        disease_of_code.append(disease_names.index(name))
    disease = np.array(disease_of_code, np.int64)[cl.diagnosis[0]]
    m = cl.member
    starts = sorted({v for v in versions if v is not None})
    version_index = np.array([0 if v is None else 1 + starts.index(v) for v in versions] or [0], np.int64)
    claim_parts = [
        (cl.visit[0], len(cl.visit[1])), (cl.level[0], len(cl.level[1])), (cl.region[0], len(cl.region[1])),
        (cl.filed.astype(np.int64) + 1, 3), (disease, len(disease_names)), (cl.service[0], len(cl.service[1])),
        (np.where(in_year, version_index[day_index], 0), len(starts) + 1),
    ]
    if cp.reads_date:
        claim_parts.append((np.where(in_year, day_index, 0), len(versions) + 1))
    member_parts = [(mem.scheme[0], len(mem.scheme[1])), (mem.member_type[0], len(mem.member_type[1])),
                    (mem.groups, 1 << len(GROUPS))]
    if cp.reads_age:
        member_parts.append((mem.age + 1, 152))
    # claims' own fields and members' fields apart (each small), then the pairs that occur
    _, of_claim = _dense(_mixed(claim_parts))
    member_kinds, of_member = _dense(_mixed(member_parts))
    uniq, combo = _dense(of_claim * len(member_kinds) + of_member[m])
    first = np.zeros(len(uniq), np.int64)
    first[combo] = np.arange(n)  # a claim of each combination (which one does not matter)
    combos = []
    groups_of: dict[int, tuple[str, ...]] = {}
    for j, row in enumerate(first):
        mi = m[row]
        d = int(day_index[row])
        version = versions[d] if in_year[row] else None
        if version is None:  # settled by the scalar engine: the date decides
            combos.append(_NO_VERSION)
            continue
        mask = int(mem.groups[mi])
        if mask not in groups_of:
            groups_of[mask] = tuple(g for i, g in enumerate(GROUPS) if mask >> i & 1)
        filed = int(cl.filed[row])
        date = EPOCH + dt.timedelta(days=int(day[row]))
        desc = Desc(cl.visit[1][cl.visit[0][row]], cl.level[1][cl.level[0][row]], cl.region[1][cl.region[0][row]],
                    None if filed < 0 else bool(filed), disease_names[disease[row]], cl.service[1][cl.service[0][row]],
                    mem.scheme[1][mem.scheme[0][mi]], mem.member_type[1][mem.member_type[0][mi]], groups_of[mask],
                    int(mem.age[mi]) if cp.reads_age and mem.age[mi] >= 0 else None,
                    date if cp.reads_date else None, version)
        combos.append(cp.combo(desc, diag_values[cl.diagnosis[0][row]], date))
    return combo.astype(np.int64).reshape(-1), combos


_NO_VERSION = Combo(scalar=OUT_OF_YEAR)  # claims no version of the simulated year covers


def _order(cl, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows in order of member, deciding date, claim id (then row), and each row's place in its
    member's year (its step)."""
    n = cl.n
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    known = day != NO_DAY
    low = int(day[known].min()) if known.any() else 0
    rel = np.where(known, day - low + 1, 0)  # a claim without a date first: it is refused anyway
    key = cl.member * (int(rel.max()) + 1) + rel
    order = np.argsort(key, kind="stable")
    ks = key[order]
    tied = np.zeros(n, bool)
    same = ks[1:] == ks[:-1]
    tied[1:] |= same
    tied[:-1] |= same
    if tied.any():  # the same member and date: by claim id (code point order), then row
        at = np.flatnonzero(tied)
        rows = order[at]
        ids = cl.claim_id.take(pa.array(rows))
        by_id = pc.sort_indices(pa.table({"k": pa.array(ks[at]), "id": ids, "row": pa.array(rows)}),
                                sort_keys=[("k", "ascending"), ("id", "ascending"), ("row", "ascending")])
        order[at] = rows[by_id.to_numpy()]
    member_sorted = cl.member[order]
    starts = np.flatnonzero(np.r_[True, member_sorted[1:] != member_sorted[:-1]])
    lengths = np.diff(np.r_[starts, n])
    rank_sorted = np.arange(n) - np.repeat(starts, lengths)
    rank = np.empty(n, np.int64)
    rank[order] = rank_sorted
    return order, rank
