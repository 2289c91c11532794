"""Totals of a simulated year: by layer and fund, scheme, level, visit kind, group, district and
month; counts of claims, admissions and aid person-times; and, for two packs, B minus A and the
claims whose payout changed most. Tables are plain data (`Tab`, money in integer fen); they are
written as CSV or Parquet (money as decimal128(20, 2) yuan) and as a self-contained HTML report
with bar charts drawn here as inline SVG.

The totals are folded one partition at a time (`Report.add`, a `view` of each partition's claims):
what a table shows is kept as sums and counts by key (`Totals`, `Paired`), the claims that changed
most as a bounded top N, so a year is reported in the memory of a partition. Sums are exact (int64
per partition, Python integers across them), so the tables are the same whatever the split.

Definitions (docs/simulation.md):
- a claim counts once, in the month of its deciding date (as the claims file gives it);
- admissions: settled inpatient and day-surgery claims;
- aid person-times (救助人次): claims on which a layer reported in `maf_pay` (medical aid,
  secondary aid) paid more than 0; each such layer also has its own count in the fund table;
- a member's group is the set of groups they belong to (`dibao+tuopin`), `none` without one;
- refused claims are counted apart and add to no total.
"""

from __future__ import annotations

import csv
import html
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..money import fmt_fen, from_fen, round_fraction
from ..rules.pack import RulePack
from .columns import PAID
from .files import ClaimTable, MemberTable
from .results import Results

STAYS = ("inpatient", "day_surgery")
AID_FIELD = "maf_pay"
DIMENSIONS = ("scheme", "level", "visit", "group", "month", "district")


# --- the per-claim view ----------------------------------------------------------------------


@dataclass
class View:
    """Settled claims (a year, or a partition of it), one entry a claim in the claims table's order:
    what the reports total. `rows`: each claim's row of the whole claims table."""

    pack: RulePack
    results: Results
    claims: ClaimTable
    keys: dict[str, np.ndarray]  # dimension -> label per claim (object arrays)
    amounts: dict[str, np.ndarray]  # int64 fen per claim: total, policy_range, paid.<layer>, fund_total, ...
    settled: np.ndarray  # bool
    stay: np.ndarray  # bool
    aid: np.ndarray  # bool: a maf_pay layer paid > 0
    rows: np.ndarray  # int64

    @property
    def layers(self) -> tuple[str, ...]:
        return self.results.layers

    def __len__(self) -> int:
        return len(self.settled)


AMOUNTS = ("total", "fully_self_paid", "over_limit", "pre_self_paid", "policy_range", "fund_total", "patient",
           "account", "cash")


def view(pack: RulePack, results: Results, claims: ClaimTable, members: MemberTable,
         rows: np.ndarray | None = None) -> View:
    """Join results with their claims and members (results rows are claims-table rows, numbered
    from 0; `rows`: the claims' rows of the whole claims table when these are a partition of it)."""
    t = results.table
    order = t.column("row").to_numpy()
    n = claims.table.num_rows
    if len(order) != n or not np.array_equal(order, np.arange(n)):
        raise ValueError("results do not match the claims table row for row")
    mt = members.table
    mids = mt.column("member_id").to_pylist()
    at = {m: k for k, m in enumerate(mids)}
    scheme_m = mt.column("scheme").to_pylist()
    type_m = mt.column("member_type").to_pylist()
    groups_m = ["+".join(sorted(set(g))) if g else "none" for g in mt.column("groups").to_pylist()]  # dibao;dibao is dibao
    district_m = mt.column("district").to_pylist()
    which = np.array([at[m] for m in claims.table.column("member_id").to_pylist()], dtype=np.int64)

    def pick(values: list) -> np.ndarray:
        arr = np.array([v if v is not None else "-" for v in values], dtype=object)
        return arr[which] if len(which) else np.array([], dtype=object)

    days = t.column("deciding_date").to_pylist()
    visit = np.array(claims.table.column("visit").to_pylist(), dtype=object)
    keys = {
        "scheme": pick(scheme_m),
        "member_type": pick(type_m),
        "group": pick(groups_m),
        "district": pick(district_m),
        "visit": visit,
        "level": np.array(claims.table.column("level").to_pylist(), dtype=object),
        "month": np.array([d.strftime("%Y-%m") if d else "-" for d in days], dtype=object),
    }
    amounts = {c: t.column(c).to_numpy().astype(np.int64) for c in AMOUNTS}
    for layer in results.layers:
        amounts[PAID + layer] = t.column(PAID + layer).to_numpy().astype(np.int64)
    settled = np.array(t.column("status").to_pylist(), dtype=object) == "settled"
    aid_layers = [layer.id for layer in pack.layers if AID_FIELD in layer.platform_field.values()]
    aid = np.zeros(n, dtype=bool)
    for layer in aid_layers:
        aid |= amounts[PAID + layer] > 0
    return View(pack, results, claims, keys, amounts, settled, np.isin(visit, STAYS) & settled, aid & settled,
                np.arange(n, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64))


# --- totals, folded partition by partition ---------------------------------------------------


def _grouped(labels: np.ndarray, mask: np.ndarray, columns: dict[str, np.ndarray]) -> dict[str, dict[str, int]]:
    """Per label of the claims in `mask`: the sum of each column (int64, exact)."""
    chosen = labels[mask]
    if not len(chosen):
        return {}
    keys, inverse = np.unique(chosen, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    starts = np.searchsorted(inverse[order], np.arange(len(keys)))
    out: dict[str, dict[str, int]] = {k: {} for k in keys}
    for name, col in columns.items():
        sums = np.add.reduceat(col[mask].astype(np.int64)[order], starts)
        for k, v in zip(keys, sums.tolist()):
            out[k][name] = v
    return out


def _fold(into: dict, grouped: dict[str, dict[str, int]]) -> None:
    for key, sums in grouped.items():
        cell = into.setdefault(key, Counter())
        cell.update(sums)


class Totals:
    """One pack's year as the tables show it: counts and exact sums over settled claims, in all and
    by key of each dimension, by layer and scheme; and the refused claims."""

    def __init__(self, pack: RulePack):
        self.pack = pack
        self.layers: tuple[str, ...] = tuple(layer.id for layer in pack.layers)
        self.claims = self.settled = self.stays = self.aid = self.members = 0
        self.sums: Counter = Counter()  # AMOUNTS and paid.<layer> over settled claims
        self.fund: dict[str, dict[str, int]] = {}  # scheme -> paid.<layer> and count.<layer> (claims paid)
        self.dims: dict[str, dict[str, Counter]] = {d: {} for d in DIMENSIONS}
        self.district_given = False
        self.refused: list[tuple[int, str, str, str]] = []  # (row, where, claim id, message)

    def add(self, v: View) -> None:
        s = v.settled
        self.layers = v.layers
        self.claims += len(v)
        self.settled += int(s.sum())
        self.stays += int(v.stay.sum())
        self.aid += int(v.aid.sum())
        # members are split between partitions, never shared: their counts add up
        self.members += len(set(v.claims.table.column("member_id").to_pylist()))
        for name, col in v.amounts.items():
            self.sums[name] += int(col[s].sum())
        paid = {}
        for layer in self.pack.layers:
            col = v.amounts[PAID + layer.id]
            paid[PAID + layer.id], paid["count." + layer.id] = col, col > 0
        _fold(self.fund, _grouped(v.keys["scheme"], s, paid))
        per_key = {"claims": np.ones(len(v), dtype=np.int64), "admissions": v.stay, "aid": v.aid, **v.amounts}
        for dim in DIMENSIONS:
            _fold(self.dims[dim], _grouped(v.keys[dim], s, per_key))
        self.district_given = self.district_given or any(x != "-" for x in v.keys["district"])
        if not s.all():
            t = v.results.table
            ids, msgs = t.column("claim_id").to_pylist(), t.column("message").to_pylist()
            for i in np.flatnonzero(~s):
                self.refused.append((int(v.rows[i]), v.claims.where(int(i)), ids[i], msgs[i]))
            self.refused.sort()

    def paid(self, layer: str) -> int:
        """What `layer` paid on settled claims (0 for a layer the pack does not have)."""
        return self.sums.get(PAID + layer, 0)


class Paired:
    """Two packs' years paired claim by claim (the same claims, row for row): sums over the claims
    settled under both by A's keys, and the claims whose fund payout changed most (the top `top`)."""

    def __init__(self, top: int = 20):
        self.top = top
        self.both = 0
        self.dims: dict[str, dict[str, Counter]] = {d: {} for d in DIMENSIONS}
        self.fund: dict[str, dict[str, int]] = {}  # A's scheme -> a.<layer>, b.<layer>
        self.b_funds: dict[str, dict[str, Counter]] = {}  # dim -> A's key -> B's fund_total over B's settled
        self.changed: list[tuple] = []  # (-|B - A|, row, table row), the `top` largest

    def add(self, a: View, b: View) -> None:
        both = a.settled & b.settled
        self.both += int(both.sum())
        for dim in DIMENSIONS:
            _fold(self.dims[dim], _grouped(a.keys[dim], both, {
                "claims": np.ones(len(a), dtype=np.int64), "fa": a.amounts["fund_total"], "fb": b.amounts["fund_total"],
                "pa": a.amounts["patient"], "pb": b.amounts["patient"]}))
            _fold(self.b_funds.setdefault(dim, {}), _grouped(a.keys[dim], b.settled, {"fund_total": b.amounts["fund_total"]}))
        layers = list(dict.fromkeys(a.layers + b.layers))
        paid = {}
        for layer in layers:
            if PAID + layer in a.amounts:
                paid["a." + layer] = a.amounts[PAID + layer]
            if PAID + layer in b.amounts:
                paid["b." + layer] = b.amounts[PAID + layer]
        _fold(self.fund, _grouped(a.keys["scheme"], both, paid))
        self._changes(a, b, both, layers)

    def _changes(self, a: View, b: View, both: np.ndarray, layers: list[str]) -> None:
        delta = np.where(both, b.amounts["fund_total"] - a.amounts["fund_total"], 0)
        order = np.argsort(-np.abs(delta), kind="stable")[:self.top]
        t = a.results.table
        ids, mids = t.column("claim_id").to_pylist(), t.column("member_id").to_pylist()
        days = t.column("deciding_date").to_pylist()
        for i in order:
            if delta[i] == 0:
                break
            moved = []
            for layer in layers:
                x = int(a.amounts[PAID + layer][i]) if PAID + layer in a.amounts else 0
                y = int(b.amounts[PAID + layer][i]) if PAID + layer in b.amounts else 0
                if x != y:
                    moved.append(f"{layer} {'+' if y > x else '-'}{fmt_fen(abs(y - x))}")
            row = [ids[i], mids[i], a.keys["visit"][i], a.keys["level"][i], str(days[i]),
                   int(a.amounts["fund_total"][i]), int(b.amounts["fund_total"][i]), int(delta[i]), "; ".join(moved)]
            self.changed.append((-abs(int(delta[i])), int(a.rows[i]), row))
        # the largest changes first, ties in the claims table's order: the first `top` of the year are
        # among the first `top` of each partition
        self.changed = sorted(self.changed, key=lambda c: c[:2])[:self.top]


class Report:
    """The totals of pack A's year (and of B's, and B paired with A), folded a partition at a time."""

    def __init__(self, pack_a: RulePack, pack_b: RulePack | None = None, top: int = 20):
        self.a = Totals(pack_a)
        self.b = Totals(pack_b) if pack_b is not None else None
        self.paired = Paired(top) if pack_b is not None else None

    def add(self, a: View, b: View | None = None) -> None:
        self.a.add(a)
        if self.b is not None and b is not None:
            self.b.add(b)
            self.paired.add(a, b)

    def tables(self) -> list[Tab]:
        return tables(self.a)

    def compare_tables(self) -> list[Tab]:
        return compare_tables(self.a, self.b, self.paired)


def report_of(pack: RulePack, results: Results, claims: ClaimTable, members: MemberTable) -> Totals:
    """The totals of a whole settled year (one partition)."""
    totals = Totals(pack)
    totals.add(view(pack, results, claims, members))
    return totals


# --- tables ----------------------------------------------------------------------------------


@dataclass
class Tab:
    """A table: `columns` with a kind each (text, count, money in fen, percent as Decimal)."""

    name: str
    title: str
    columns: list[str]
    kinds: list[str]  # text | count | money | percent | date
    rows: list[list] = field(default_factory=list)

    def column(self, name: str) -> list:
        k = self.columns.index(name)
        return [r[k] for r in self.rows]

    def row(self, key: str) -> dict:
        """The row whose first cell is `key`, as a dict."""
        for r in self.rows:
            if r[0] == key:
                return dict(zip(self.columns, r))
        raise KeyError(key)


def _paid_layers(t: Totals) -> list[str]:
    """Layers that paid anything (in pack order), so that tables do not list a dozen zero columns."""
    return [layer for layer in t.layers if t.paid(layer) != 0]


def summary(t: Totals) -> Tab:
    tab = Tab("summary", "Summary", ["item", "value"], ["text", "money"])
    counts = [("claims settled", t.settled), ("claims refused", t.claims - t.settled),
              ("admissions (inpatient and day surgery)", t.stays),
              ("aid person-times (claims with maf_pay > 0)", t.aid),
              ("members with claims", t.members)]
    tab.kinds = ["text", "mixed"]
    for label, value in counts:
        tab.rows.append([label, ("count", value)])
    for c in ("total", "policy_range", "fund_total", "patient", "account", "cash"):
        tab.rows.append([c, ("money", t.sums[c])])
    for layer in _paid_layers(t):
        tab.rows.append([f"paid.{layer}", ("money", t.paid(layer))])
    return tab


def by_fund(t: Totals) -> Tab:
    """Totals by layer and fund (fund_pay_type per scheme), with the claims each paid on."""
    tab = Tab("by_fund", "By layer and fund (fund_pay_type)", ["layer", "fund_pay_type", "scheme", "claims paid", "paid"],
              ["text", "text", "text", "count", "money"])
    for layer in t.pack.layers:
        for scheme in sorted(t.fund):
            sums = t.fund[scheme]
            total = sums.get(PAID + layer.id, 0)
            if total == 0:
                continue
            tab.rows.append([layer.id, layer.fund_code.get(scheme) or "-", scheme, sums["count." + layer.id], total])
    return tab


def by(t: Totals, dim: str) -> Tab:
    """Totals by one dimension: claims, admissions, aid person-times, amounts and each layer's payout."""
    layers = _paid_layers(t)
    cols = [dim, "claims", "admissions", "aid person-times", "total", "policy_range"] + layers + ["fund_total", "patient", "cash"]
    kinds = ["text", "count", "count", "count", "money", "money"] + ["money"] * len(layers) + ["money"] * 3
    tab = Tab(f"by_{dim}", f"By {dim}", cols, kinds)
    for key in sorted(t.dims[dim]):
        c = t.dims[dim][key]
        row = [key, c["claims"], c["admissions"], c["aid"], c["total"], c["policy_range"]]
        row += [c[PAID + layer] for layer in layers]
        row += [c[name] for name in ("fund_total", "patient", "cash")]
        tab.rows.append(row)
    return tab


def refused_tab(t: Totals) -> Tab:
    tab = Tab("refused", "Refused claims", ["where", "claim_id", "message"], ["text", "text", "text"])
    for _, where, claim_id, message in t.refused:
        tab.rows.append([where, claim_id, message])
    return tab


def tables(t: Totals, dims: tuple[str, ...] = DIMENSIONS) -> list[Tab]:
    out = [summary(t), by_fund(t)] + [by(t, d) for d in dims if _useful(t, d)]
    if t.refused:
        out.append(refused_tab(t))
    return out


def _useful(t: Totals, dim: str) -> bool:
    return dim != "district" or t.district_given


# --- B minus A -------------------------------------------------------------------------------


def compare_summary(a: Totals, b: Totals, p: Paired) -> Tab:
    tab = Tab("compare_summary", "A and B: totals and B - A", ["item", "A", "B", "B - A"], ["text", "mixed", "mixed", "mixed"])
    counts = [("claims settled", a.settled, b.settled), ("admissions", a.stays, b.stays),
              ("aid person-times", a.aid, b.aid)]
    for label, x, y in counts:
        tab.rows.append([label, ("count", x), ("count", y), ("count", y - x)])
    for c in ("fund_total", "patient", "account", "cash"):
        x, y = a.sums[c], b.sums[c]
        tab.rows.append([c, ("money", x), ("money", y), ("money", y - x)])
    for layer in dict.fromkeys(_paid_layers(a) + _paid_layers(b)):
        x, y = a.paid(layer), b.paid(layer)
        tab.rows.append([f"paid.{layer}", ("money", x), ("money", y), ("money", y - x)])
    tab.rows.append(["claims settled under both", ("count", p.both), ("count", p.both), ("count", 0)])
    # the totals above are each pack's over the claims it settled: a claim only one refuses counts in the
    # other's alone. The B - A tables by dimension pair the claims settled under both; this row is theirs.
    by_scheme = list(p.dims["scheme"].values())  # every paired claim has a scheme: the sums of all of them
    x, y = sum(int(c["fa"]) for c in by_scheme), sum(int(c["fb"]) for c in by_scheme)
    tab.rows.append(["fund_total, settled under both", ("money", x), ("money", y), ("money", y - x)])
    return tab


def compare_by(p: Paired, dim: str) -> Tab:
    tab = Tab(f"compare_by_{dim}", f"B - A by {dim}", [dim, "claims", "funds A", "funds B", "B - A", "change %",
                                                        "patient A", "patient B"],
              ["text", "count", "money", "money", "money", "percent", "money", "money"])
    for key in sorted(p.dims[dim]):
        c = p.dims[dim][key]
        x, y = c["fa"], c["fb"]
        pct = round_fraction((y - x) * 100, x, 2) if x else None
        tab.rows.append([key, c["claims"], x, y, y - x, pct, c["pa"], c["pb"]])
    return tab


def compare_fund(a: Totals, b: Totals, p: Paired) -> Tab:
    tab = Tab("compare_by_fund", "B - A by layer and fund", ["layer", "fund_pay_type", "scheme", "A", "B", "B - A"],
              ["text", "text", "text", "money", "money", "money"])
    ids = list(dict.fromkeys([layer.id for layer in a.pack.layers] + [layer.id for layer in b.pack.layers]))
    codes = {layer.id: layer.fund_code for layer in list(b.pack.layers) + list(a.pack.layers)}
    for layer in ids:
        for scheme in sorted(p.fund):
            x, y = p.fund[scheme].get("a." + layer, 0), p.fund[scheme].get("b." + layer, 0)
            if x or y:
                tab.rows.append([layer, codes[layer].get(scheme) or "-", scheme, x, y, y - x])
    return tab


def top_changes(p: Paired) -> Tab:
    """The claims whose fund payout changed most (by the size of the change), with the layers that moved."""
    rows = [list(row) for _, _, row in p.changed]
    n = len(rows)
    # the title counts the claims listed: fewer than --top changed (or none) when few claims settle under both
    title = ("No claim settled under both packs changed its fund payout" if n == 0 else
             "The claim whose fund payout changed most" if n == p.top == 1 else
             f"The {n} claims whose fund payout changed most" if n == p.top else
             f"The {n} claim{'s' if n != 1 else ''} whose fund payout changed (every one settled under both)")
    tab = Tab("top_changes", title,
              ["claim_id", "member_id", "visit", "level", "deciding_date", "funds A", "funds B", "B - A", "layers (B - A)"],
              ["text", "text", "text", "text", "text", "money", "money", "money", "text"])
    tab.rows = rows
    return tab


def compare_tables(a: Totals, b: Totals, p: Paired, dims: tuple[str, ...] = DIMENSIONS) -> list[Tab]:
    return ([compare_summary(a, b, p), compare_fund(a, b, p)] + [compare_by(p, d) for d in dims if _useful(a, d)]
            + [top_changes(p)])


# --- writing ---------------------------------------------------------------------------------


def cell_text(kind: str, value) -> str:
    """A cell as text: money as yuan with two decimals, counts as integers."""
    if isinstance(value, tuple):
        kind, value = value
    if value is None:
        return ""
    if kind == "money":
        return fmt_fen(int(value))
    if kind == "percent":
        return f"{value}%"
    return str(value)


def write_csv(tab: Tab, folder: Path) -> Path:
    path = folder / f"{tab.name}.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(tab.columns + (["unit"] if "mixed" in tab.kinds else []))
        for r in tab.rows:
            cells = [cell_text(k, c) for k, c in zip(tab.kinds, r)]
            if "mixed" in tab.kinds:
                kinds = {c[0] for c in r if isinstance(c, tuple)}
                cells.append("yuan" if kinds == {"money"} else "count")
            w.writerow(cells)
    return path


def _arrow_column(kind: str, values: list) -> pa.Array:
    if kind == "money":
        return pa.array([None if v is None else from_fen(int(v)) for v in values], pa.decimal128(20, 2))
    if kind == "count":
        return pa.array(values, pa.int64())
    if kind == "percent":
        return pa.array(values, pa.decimal128(12, 2))
    return pa.array([None if v is None else str(v) for v in values], pa.string())


def to_arrow(tab: Tab) -> pa.Table:
    if "mixed" in tab.kinds:  # label, then one or more (kind, value) cells: a value column per cell
        cols = {tab.columns[0]: pa.array([r[0] for r in tab.rows], pa.string())}
        for k, name in enumerate(tab.columns[1:], 1):
            cols[f"{name} (yuan)"] = pa.array([from_fen(r[k][1]) if r[k][0] == "money" else None
                                               for r in tab.rows], pa.decimal128(20, 2))
            cols[f"{name} (count)"] = pa.array([r[k][1] if r[k][0] == "count" else None for r in tab.rows], pa.int64())
        return pa.table(cols)
    return pa.table({name: _arrow_column(kind, [r[k] for r in tab.rows])
                     for k, (name, kind) in enumerate(zip(tab.columns, tab.kinds))})


def write_parquet(tab: Tab, folder: Path) -> Path:
    import pyarrow.parquet as pq

    path = folder / f"{tab.name}.parquet"
    pq.write_table(to_arrow(tab), path)
    return path


def results_arrow(v: View) -> pa.Table:
    """The per-claim results with money as decimal128(20, 2) yuan (counters after each claim left out);
    `row` is the claim's row of the whole claims table."""
    t = v.results.table
    keep = [c for c in t.column_names if not c.startswith("after.")]
    cols = {}
    for c in keep:
        col = t.column(c)
        if c == "row":
            cols[c] = pa.array(v.rows, pa.int64())
        elif c in ("step", "admissions_after", "ratio") or not pa.types.is_integer(col.type):
            cols[c] = col
        else:
            cols[c] = pa.array([from_fen(int(x)) for x in col.to_numpy()], pa.decimal128(20, 2))
    for dim in ("scheme", "member_type", "group", "district"):
        cols[dim] = pa.array(list(v.keys[dim]), pa.string())
    return pa.table(cols)


class ClaimsFile:
    """Per-claim results (`results_arrow`) appended to a Parquet file a partition at a time, under a
    temporary name (`<name>.part`) until `finish(path)`: rows come partition by partition (`row`
    gives each claim's row of the claims file)."""

    def __init__(self, path: Path):
        self.path = path
        self.writer = None

    @staticmethod
    def part(path: Path) -> Path:
        return path.with_name(path.name + ".part")

    def write(self, v: View) -> None:
        import pyarrow.parquet as pq

        t = results_arrow(v)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.part(self.path), t.schema)
        elif not t.schema.equals(self.writer.schema):
            t = t.cast(self.writer.schema)
        self.writer.write_table(t)

    def close(self, keep: bool = True) -> None:
        try:
            if self.writer is not None:
                writer, self.writer = self.writer, None
                writer.close()  # may fail (a full disk): the part is removed all the same when not kept
        finally:
            if not keep:
                self.part(self.path).unlink(missing_ok=True)

    @classmethod
    def finish(cls, path: Path) -> Path:
        """The file written under its temporary name, renamed to `path`."""
        cls.part(path).replace(path)
        return path


# --- HTML with inline SVG charts ---------------------------------------------------------------

_STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI','Noto Sans CJK SC','Microsoft YaHei',sans-serif;margin:2em;color:#222}
h1{font-size:1.5em} h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0 1.5em 0;font-size:.85em}
th,td{border:1px solid #ddd;padding:3px 8px} th{background:#f4f4f4} td.n{text-align:right;font-variant-numeric:tabular-nums}
.neg{color:#b00} .pos{color:#060} p.note{color:#555;font-size:.9em;max-width:60em}
"""
_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948")


def svg_bars(title: str, labels: list[str], series: list[tuple[str, list[int]]], unit: str = "万元",
             scale: int = 1_000_000) -> str:
    """Horizontal grouped bars, one group a label, one bar a series; values in fen shown in `unit`
    (fen / scale: 1,000,000 fen = 1万元). Negative values draw leftwards from the zero line."""
    esc = html.escape
    values = [v for _, vals in series for v in vals] or [0]
    lo, hi = min(0, min(values)), max(0, max(values))
    span = (hi - lo) or 1
    bar, gap, label_w, plot_w, value_w = 14, 10, 170, 460, 110
    group_h = bar * len(series) + gap
    legend_h = 22 if len(series) > 1 else 0
    height = 30 + legend_h + group_h * len(labels)
    width = label_w + plot_w + value_w
    zero = label_w + plot_w * (-lo) / span
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'aria-label="{esc(title)}" font-size="12">',
           f'<text x="0" y="16" font-weight="bold">{esc(title)} ({esc(unit)})</text>']
    for k, (name, _) in enumerate(series if len(series) > 1 else []):
        x = label_w + k * 150
        out.append(f'<rect x="{x}" y="24" width="12" height="12" fill="{_COLOURS[k % len(_COLOURS)]}"/>'
                   f'<text x="{x + 16}" y="34">{esc(name)}</text>')
    top = 30 + legend_h
    for g, label in enumerate(labels):
        y0 = top + g * group_h
        out.append(f'<text x="{label_w - 6}" y="{y0 + bar * len(series) / 2 + 4:.1f}" text-anchor="end">{esc(label)}</text>')
        for k, (name, vals) in enumerate(series):
            v = vals[g]
            w = plot_w * abs(v) / span
            x = zero if v >= 0 else zero - w
            y = y0 + k * bar
            shown = f"{round_fraction(int(v), scale, 2):,.2f}"
            out.append(f'<rect x="{x:.1f}" y="{y}" width="{max(w, 0.5):.1f}" height="{bar - 2}" '
                       f'fill="{_COLOURS[k % len(_COLOURS)]}"><title>{esc(name)}: {shown}</title></rect>')
            out.append(f'<text x="{label_w + plot_w + 4}" y="{y + bar - 4}" fill="#444">{shown}</text>')
    out.append(f'<line x1="{zero:.1f}" y1="{top - 2}" x2="{zero:.1f}" y2="{height}" stroke="#888"/>')
    out.append("</svg>")
    return "".join(out)


def html_table(tab: Tab) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in tab.columns)
    body = []
    for r in tab.rows:
        cells = []
        for kind, c in zip(tab.kinds, r):
            k = c[0] if isinstance(c, tuple) else kind
            text = cell_text(kind, c)
            numeric = k in ("money", "count", "percent")
            neg = numeric and text.startswith("-")
            cls = ' class="n neg"' if neg else ' class="n"' if numeric else ""
            cells.append(f"<td{cls}>{esc(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<h2>{esc(tab.title)}</h2><table><tr>{head}</tr>{''.join(body)}</table>"


def html_report(title: str, notes: list[str], report: Report, *, a_name: str = "A", b_name: str = "B") -> str:
    """A self-contained report: charts of fund payouts by layer, visit kind, level and month (A and B
    side by side when comparing), then every table."""
    esc = html.escape
    a, b, p = report.a, report.b, report.paired
    parts = [f"<!DOCTYPE html><html lang=\"zh\"><head><meta charset=\"utf-8\"><title>{esc(title)}</title>"
             f"<style>{_STYLE}</style></head><body><h1>{esc(title)}</h1>"]
    parts += [f'<p class="note">{esc(n)}</p>' for n in notes]
    views = [(a_name, a)] + ([(b_name, b)] if b is not None else [])
    layers = list(dict.fromkeys(_paid_layers(a) + (_paid_layers(b) if b is not None else [])))
    series = [(name, [t.paid(layer) for layer in layers]) for name, t in views]
    parts.append(svg_bars("Paid by layer", layers, series))
    for dim in ("visit", "level", "month", "group"):
        keys = sorted(a.dims[dim])
        series = [(a_name, [a.dims[dim][k]["fund_total"] for k in keys])]
        if b is not None:  # B's claims by A's keys
            series.append((b_name, [p.b_funds[dim].get(k, {}).get("fund_total", 0) for k in keys]))
        parts.append(svg_bars(f"All funds by {dim}", keys, series))
    if b is not None:
        for dim in ("visit", "level", "month"):
            keys = sorted(p.dims[dim])
            delta = [p.dims[dim][k]["fb"] - p.dims[dim][k]["fa"] for k in keys]
            parts.append(svg_bars(f"{b_name} - {a_name}, all funds, by {dim}", keys, [(f"{b_name} - {a_name}", delta)]))
        for tab in report.compare_tables():
            parts.append(html_table(tab))
    for name, t in views:
        for tab in tables(t):
            tab = Tab(tab.name, f"{name}: {tab.title}", tab.columns, tab.kinds, tab.rows)
            parts.append(html_table(tab))
    parts.append('<p class="note">Amounts in yuan; charts in 万元 (10,000 yuan).</p>')
    parts.append("</body></html>")
    return "\n".join(parts)
