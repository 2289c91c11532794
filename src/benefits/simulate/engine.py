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
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import ClaimError
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


def settle(pack: RulePack, claims: Any, members: Any, *, items: Any = None, year: int | None = None) -> Results:
    """`benefits.simulate.settle_year` (its docstring says what it takes and returns)."""
    if not isinstance(pack, RulePack):
        raise TypeError(f"pack must be a pack from benefits.load_rules(folder), not {type(pack).__name__}")
    cp = compiled(pack)
    mem = read_members(members)
    cl = read_claims(claims, mem)
    n = cl.n
    stay_code = np.array([v in STAY_VISITS for v in cl.visit[1]], bool)
    stay = stay_code[cl.visit[0]]
    settlement_day = np.where(stay, cl.discharge, cl.date)
    start_day = np.where(stay, cl.admission, cl.date)
    day = settlement_day if pack.meta.deciding_date == "settlement" else start_day

    dirty = cl.dirty | mem.dirty[cl.member]
    dirty |= np.where(stay, (cl.admission == NO_DAY) | (cl.discharge == NO_DAY) | (cl.date != NO_DAY)
                      | (cl.discharge < cl.admission),
                      (cl.date == NO_DAY) | (cl.admission != NO_DAY) | (cl.discharge != NO_DAY))
    known = day != NO_DAY
    if year is None:
        year = _year_of(day)
    layout = Layout(list(pack.counters), pack.monthly_counters, year)

    # the days claims settle on: version, default B share, and whether the year's accumulators apply
    uniq_days, day_index = _dense(np.where(known, day, 0))
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
    version_ok = np.array([v is not None for v in versions], bool)
    in_year = known & version_ok[day_index]
    month = np.zeros(n, np.int64)
    if known.any():
        month[known] = (day[known].astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12)

    # the bill: given split, or split from line items
    bill = {name: cl.bill[name].fen.copy() for name in BILL_COLUMNS}
    has_items = np.zeros(n, bool)
    it = None
    if items is not None:
        it = read_items(items, cl)
        sp = split_items(it, n, share[day_index, 0], share[day_index, 1])
        has_items = sp.has_items
        dirty |= sp.dirty
        for name in BILL_COLUMNS:
            bill[name] = np.where(has_items, getattr(sp, name), bill[name])
    dirty |= has_items == cl.has_bill  # both or neither
    dirty |= bill["total"] > MAX_FEN

    # the members' counters and admissions, opening the year
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
    A = mem.admissions.copy()

    # combinations, and what the rules decide for each
    combo, combos = _combinations(cp, cl, mem, day, day_index, versions, in_year)
    n_layers = len(pack.layers)
    applies = np.zeros((len(combos), n_layers), bool)
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
    kinds = [None if cls is None else cls(layer, layout) for cls, layer in zip(cp.kinds, pack.layers)]
    for l, kind in enumerate(kinds):
        if kind is not None:
            kind.tables([cb.rows[l] if cb.scalar is None and cb.refusal is None else None for cb in combos])
    # counters no cap bounds (cumulative bases, balances): checked against the largest amount accepted
    bounded = [max((b.limit for b in pack.bounds.get(name, ())), default=None) for name in layout.names]
    unbounded = np.array([b is None or b > MAX_FEN for b in bounded], bool)
    writers = _writers(pack)  # how many layers may add to each counter on one claim (each at most the total)
    growth = np.array([writers.get(name, 0) for name in layout.names], np.int64)[unbounded]
    unbounded_cols = np.flatnonzero(unbounded)

    # why a row goes to the scalar engine, before any step: input, date, combination
    why_text: list[str] = []

    def reason(text: str) -> int:
        if text not in why_text:
            why_text.append(text)
        return why_text.index(text)

    combo_why = np.array([-1 if cb.scalar is None else reason(cb.scalar) for cb in combos] or [-1], np.int64)
    why = combo_why[combo] if n else np.zeros(0, np.int64)
    why[~in_year & ~dirty] = reason(OUT_OF_YEAR)
    if dirty.any():
        why[dirty] = reason(DIRTY)

    # order: member, deciding date, claim id; then by step
    order, rank = _order(cl, day)
    by_step = np.argsort(rank[order].astype(np.int16 if rank.max(initial=0) < 1 << 15 else np.int64), kind="stable")
    P = order[by_step]  # position in step order -> row of the claims table
    counts = np.bincount(rank, minlength=1)
    bounds = np.r_[0, np.cumsum(counts)]

    M, Cc, MON, W = cl.member[P], combo[P], month[P], why[P]
    PRE, POL, STAY, TOT = bill["pre_self_paid"][P], bill["policy_range"][P], stay[P], bill["total"][P]
    REF = refusal[Cc] if len(combos) else np.zeros(0, np.int64)
    out = _Out(n, n_layers, len(layout))  # in the claims table's row order
    for name in BILL_COLUMNS:
        out.bill[name] = bill[name].copy()
    fallback = Fallback(pack, cl, mem, it, layout, year)
    fund = [layer.fund for layer in pack.layers]
    in_bounds = np.zeros(mem.n, bool)  # the member's counters were within bounds at a step settled here

    for k in range(len(counts)):
        s0, s1 = int(bounds[k]), int(bounds[k + 1])
        m, c = M[s0:s1], Cc[s0:s1]
        w = W[s0:s1]  # a view: reasons found here are counted
        vector = w < 0
        # domain.md 6.11, checked until the member's counters are found within bounds: settling
        # keeps them there (a payment never passes a cap), as the engine's own checks would find
        check = np.flatnonzero(vector & ~in_bounds[m])
        if len(check):
            bad = (C[m[check]] > limits[c[check]]).any(axis=1)
            w[check[bad]] = reason(OUT_OF_BOUNDS)
            in_bounds[m[check[~bad]]] = True
        # counters no cap bounds: if this claim could take one past the largest amount accepted,
        # the engine decides (it refuses such a result)
        vector = w < 0
        if len(unbounded_cols):
            reach = C[m[:, None], unbounded_cols] + growth * TOT[s0:s1, None]
            risky = vector & (reach > MAX_FEN).any(axis=1)
            w[risky] = reason(TOO_LARGE)
        vector = w < 0
        refused = vector & (REF[s0:s1] >= 0)
        if refused.any():
            r = s0 + np.flatnonzero(refused)
            out.refuse_many(P[r], REF[r])
            vector &= ~refused
        v = np.flatnonzero(vector)
        if len(v):
            full = len(v) == s1 - s0
            at = slice(s0, s1) if full else s0 + v  # the step's claims settled here, in step order
            rows = P[at]  # ... and their rows
            mv = m[v] if not full else m
            st = Step(C, mv, c[v] if len(v) < len(c) else c, MON[at], A[mv], PRE[at], POL[at], cp.cap_ids)
            funds = np.zeros(len(v), np.int64)
            account = np.zeros(len(v), np.int64)
            app = applies[st.c]
            for l, kind in enumerate(kinds):
                if kind is None:
                    continue
                idx = np.flatnonzero(app[:, l])
                if len(idx):
                    paid = kind.pay(st, idx)
                    out.paid[l, rows[idx]] = paid
                    if fund[l]:
                        st.left[idx] -= paid
                        funds[idx] += paid
                    else:
                        account[idx] += paid
            total = TOT[at]
            out.deductible[rows], out.ratio[rows], out.above_cap[rows] = st.deductible, st.ratio, st.above_cap
            out.co_pay[rows] = np.where(st.ratio == NONE, POL[at], st.co_pay)
            out.fund_total[rows], out.patient[rows], out.account[rows] = funds, total - funds, account
            out.cash[rows] = total - funds - account
            out.version[rows] = 1
            A[mv] += STAY[at]
        for i in np.flatnonzero(w >= 0):
            row, mi = int(P[s0 + i]), int(m[i])
            out.engine[row] = 1
            got = fallback.settle(row, int(A[mi]), C[mi])
            if got.refused is not None:
                out.refuse_one(row, got.refused)
                continue
            out.settled(row, got)
            C[mi] = 0
            for key, fen in got.counters.items():
                C[mi, layout.column[key]] = fen
            A[mi] = got.admissions
        step_rows = P[s0:s1]
        out.after[:, step_rows] = C[m].T
        out.admissions[step_rows] = A[m]

    version_of = np.array([np.datetime64(v, "D") if v else np.datetime64("NaT") for v in versions] or
                          [np.datetime64("NaT")], "datetime64[D]")
    not_vectorised = Counter(why_text[r] for r in W[W >= 0])
    table = out.table(pack, cl, mem, rank, day, version_of[day_index], layout, refusals)
    return Results(table, pack=pack.name, year=year, layers=tuple(layer.id for layer in pack.layers),
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

    def __init__(self, n: int, n_layers: int, n_counters: int):
        self.bill: dict[str, np.ndarray] = {}
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
