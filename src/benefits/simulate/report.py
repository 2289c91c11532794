"""Totals of a simulated year: by layer and fund, scheme, level, visit kind, group, district and
month; counts of claims, admissions and aid person-times; and, for two packs, B minus A and the
claims whose payout changed most. Tables are plain data (`Tab`, money in integer fen); they are
written as CSV or Parquet (money as decimal128(20, 2) yuan) and as a self-contained HTML report
with bar charts drawn here as inline SVG.

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
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..money import fmt_fen
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
    """One settled year, one entry a claim (in the claims table's order): what the reports total."""

    pack: RulePack
    results: Results
    claims: ClaimTable
    keys: dict[str, np.ndarray]  # dimension -> label per claim (object arrays)
    amounts: dict[str, np.ndarray]  # int64 fen per claim: total, policy_range, paid.<layer>, fund_total, ...
    settled: np.ndarray  # bool
    stay: np.ndarray  # bool
    aid: np.ndarray  # bool: a maf_pay layer paid > 0

    @property
    def layers(self) -> tuple[str, ...]:
        return self.results.layers

    def __len__(self) -> int:
        return len(self.settled)


AMOUNTS = ("total", "fully_self_paid", "over_limit", "pre_self_paid", "policy_range", "fund_total", "patient",
           "account", "cash")


def view(pack: RulePack, results: Results, claims: ClaimTable, members: MemberTable) -> View:
    """Join a year's results with its claims and members (results rows are claims-table rows)."""
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
    groups_m = ["+".join(sorted(g)) if g else "none" for g in mt.column("groups").to_pylist()]
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
    return View(pack, results, claims, keys, amounts, settled, np.isin(visit, STAYS) & settled, aid & settled)


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


def _paid_layers(v: View) -> list[str]:
    """Layers that paid anything (in pack order), so that tables do not list a dozen zero columns."""
    return [layer for layer in v.layers if v.amounts[PAID + layer][v.settled].sum() != 0]


def summary(v: View) -> Tab:
    s = v.settled
    tab = Tab("summary", "Summary", ["item", "value"], ["text", "money"])
    counts = [("claims settled", int(s.sum())), ("claims refused", int((~s).sum())),
              ("admissions (inpatient and day surgery)", int(v.stay.sum())),
              ("aid person-times (claims with maf_pay > 0)", int(v.aid.sum())),
              ("members with claims", len(set(v.claims.table.column("member_id").to_pylist())))]
    tab.kinds = ["text", "mixed"]
    for label, value in counts:
        tab.rows.append([label, ("count", value)])
    for c in ("total", "policy_range", "fund_total", "patient", "account", "cash"):
        tab.rows.append([c, ("money", int(v.amounts[c][s].sum()))])
    for layer in _paid_layers(v):
        tab.rows.append([f"paid.{layer}", ("money", int(v.amounts[PAID + layer][s].sum()))])
    return tab


def by_fund(v: View) -> Tab:
    """Totals by layer and fund (fund_pay_type per scheme), with the claims each paid on."""
    tab = Tab("by_fund", "By layer and fund (fund_pay_type)", ["layer", "fund_pay_type", "scheme", "claims paid", "paid"],
              ["text", "text", "text", "count", "money"])
    s = v.settled
    for layer in v.pack.layers:
        paid = v.amounts[PAID + layer.id]
        for scheme in sorted(set(v.keys["scheme"][s])):
            m = s & (v.keys["scheme"] == scheme)
            total = int(paid[m].sum())
            if total == 0:
                continue
            tab.rows.append([layer.id, layer.fund_code.get(scheme) or "-", scheme, int((paid[m] > 0).sum()), total])
    return tab


def by(v: View, dim: str) -> Tab:
    """Totals by one dimension: claims, admissions, aid person-times, amounts and each layer's payout."""
    layers = _paid_layers(v)
    cols = [dim, "claims", "admissions", "aid person-times", "total", "policy_range"] + layers + ["fund_total", "patient", "cash"]
    kinds = ["text", "count", "count", "count", "money", "money"] + ["money"] * len(layers) + ["money"] * 3
    tab = Tab(f"by_{dim}", f"By {dim}", cols, kinds)
    s = v.settled
    labels = v.keys[dim]
    for key in sorted(set(labels[s])):
        m = s & (labels == key)
        row = [key, int(m.sum()), int((v.stay & m).sum()), int((v.aid & m).sum()),
               int(v.amounts["total"][m].sum()), int(v.amounts["policy_range"][m].sum())]
        row += [int(v.amounts[PAID + layer][m].sum()) for layer in layers]
        row += [int(v.amounts[c][m].sum()) for c in ("fund_total", "patient", "cash")]
        tab.rows.append(row)
    return tab


def refused_tab(v: View) -> Tab:
    tab = Tab("refused", "Refused claims", ["where", "claim_id", "message"], ["text", "text", "text"])
    t = v.results.table
    ids = t.column("claim_id").to_pylist()
    msgs = t.column("message").to_pylist()
    for i in np.flatnonzero(~v.settled):
        tab.rows.append([v.claims.where(int(i)), ids[i], msgs[i]])
    return tab


def tables(v: View, dims: tuple[str, ...] = DIMENSIONS) -> list[Tab]:
    out = [summary(v), by_fund(v)] + [by(v, d) for d in dims if _useful(v, d)]
    if (~v.settled).any():
        out.append(refused_tab(v))
    return out


def _useful(v: View, dim: str) -> bool:
    return dim != "district" or any(x != "-" for x in v.keys["district"])


# --- B minus A -------------------------------------------------------------------------------


def compare_summary(a: View, b: View) -> Tab:
    tab = Tab("compare_summary", "A and B: totals and B - A", ["item", "A", "B", "B - A"], ["text", "mixed", "mixed", "mixed"])
    both = a.settled & b.settled
    counts = [("claims settled", a.settled.sum(), b.settled.sum()),
              ("admissions", a.stay.sum(), b.stay.sum()),
              ("aid person-times", a.aid.sum(), b.aid.sum())]
    for label, x, y in counts:
        tab.rows.append([label, ("count", int(x)), ("count", int(y)), ("count", int(y) - int(x))])
    for c in ("fund_total", "patient", "account", "cash"):
        x, y = int(a.amounts[c][a.settled].sum()), int(b.amounts[c][b.settled].sum())
        tab.rows.append([c, ("money", x), ("money", y), ("money", y - x)])
    layers = [layer for layer in dict.fromkeys(_paid_layers(a) + _paid_layers(b))]
    for layer in layers:
        x = int(a.amounts[PAID + layer][a.settled].sum()) if PAID + layer in a.amounts else 0
        y = int(b.amounts[PAID + layer][b.settled].sum()) if PAID + layer in b.amounts else 0
        tab.rows.append([f"paid.{layer}", ("money", x), ("money", y), ("money", y - x)])
    tab.rows.append(["claims settled under both", ("count", int(both.sum())), ("count", int(both.sum())), ("count", 0)])
    return tab


def compare_by(a: View, b: View, dim: str) -> Tab:
    tab = Tab(f"compare_by_{dim}", f"B - A by {dim}", [dim, "claims", "funds A", "funds B", "B - A", "change %",
                                                        "patient A", "patient B"],
              ["text", "count", "money", "money", "money", "percent", "money", "money"])
    both = a.settled & b.settled
    labels = a.keys[dim]
    for key in sorted(set(labels[both])):
        m = both & (labels == key)
        x, y = int(a.amounts["fund_total"][m].sum()), int(b.amounts["fund_total"][m].sum())
        pct = (Decimal(y - x) * 100 / Decimal(x)).quantize(Decimal("0.01")) if x else None
        tab.rows.append([key, int(m.sum()), x, y, y - x, pct, int(a.amounts["patient"][m].sum()),
                         int(b.amounts["patient"][m].sum())])
    return tab


def compare_fund(a: View, b: View) -> Tab:
    tab = Tab("compare_by_fund", "B - A by layer and fund", ["layer", "fund_pay_type", "scheme", "A", "B", "B - A"],
              ["text", "text", "text", "money", "money", "money"])
    both = a.settled & b.settled
    ids = list(dict.fromkeys([layer.id for layer in a.pack.layers] + [layer.id for layer in b.pack.layers]))
    codes = {layer.id: layer.fund_code for layer in list(b.pack.layers) + list(a.pack.layers)}
    for layer in ids:
        for scheme in sorted(set(a.keys["scheme"][both])):
            m = both & (a.keys["scheme"] == scheme)
            x = int(a.amounts[PAID + layer][m].sum()) if PAID + layer in a.amounts else 0
            y = int(b.amounts[PAID + layer][m].sum()) if PAID + layer in b.amounts else 0
            if x or y:
                tab.rows.append([layer, codes[layer].get(scheme) or "-", scheme, x, y, y - x])
    return tab


def top_changes(a: View, b: View, n: int = 20) -> Tab:
    """The claims whose fund payout changed most (by the size of the change), with the layers that moved."""
    tab = Tab("top_changes", f"The {n} claims whose fund payout changed most",
              ["claim_id", "member_id", "visit", "level", "deciding_date", "funds A", "funds B", "B - A", "layers (B - A)"],
              ["text", "text", "text", "text", "text", "money", "money", "money", "text"])
    both = a.settled & b.settled
    delta = b.amounts["fund_total"] - a.amounts["fund_total"]
    delta = np.where(both, delta, 0)
    order = np.argsort(-np.abs(delta), kind="stable")[:n]
    t = a.results.table
    ids, mids = t.column("claim_id").to_pylist(), t.column("member_id").to_pylist()
    days = t.column("deciding_date").to_pylist()
    layers = list(dict.fromkeys(a.layers + b.layers))
    for i in order:
        if delta[i] == 0:
            break
        moved = []
        for layer in layers:
            x = int(a.amounts[PAID + layer][i]) if PAID + layer in a.amounts else 0
            y = int(b.amounts[PAID + layer][i]) if PAID + layer in b.amounts else 0
            if x != y:
                moved.append(f"{layer} {'+' if y > x else '-'}{fmt_fen(abs(y - x))}")
        tab.rows.append([ids[i], mids[i], a.keys["visit"][i], a.keys["level"][i], str(days[i]),
                         int(a.amounts["fund_total"][i]), int(b.amounts["fund_total"][i]), int(delta[i]), "; ".join(moved)])
    return tab


def compare_tables(a: View, b: View, dims: tuple[str, ...] = DIMENSIONS, top: int = 20) -> list[Tab]:
    return ([compare_summary(a, b), compare_fund(a, b)] + [compare_by(a, b, d) for d in dims if _useful(a, d)]
            + [top_changes(a, b, top)])


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
        return pa.array([None if v is None else Decimal(int(v)).scaleb(-2) for v in values], pa.decimal128(20, 2))
    if kind == "count":
        return pa.array(values, pa.int64())
    if kind == "percent":
        return pa.array(values, pa.decimal128(12, 2))
    return pa.array([None if v is None else str(v) for v in values], pa.string())


def to_arrow(tab: Tab) -> pa.Table:
    if "mixed" in tab.kinds:  # label, then one or more (kind, value) cells: a value column per cell
        cols = {tab.columns[0]: pa.array([r[0] for r in tab.rows], pa.string())}
        for k, name in enumerate(tab.columns[1:], 1):
            cols[f"{name} (yuan)"] = pa.array([Decimal(r[k][1]).scaleb(-2) if r[k][0] == "money" else None
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
    """The per-claim results with money as decimal128(20, 2) yuan (counters after each claim left out)."""
    t = v.results.table
    keep = [c for c in t.column_names if not c.startswith("after.")]
    cols = {}
    for c in keep:
        col = t.column(c)
        if c in ("row", "step", "admissions_after", "ratio") or not pa.types.is_integer(col.type):
            cols[c] = col
        else:
            cols[c] = pa.array([Decimal(int(x)).scaleb(-2) for x in col.to_numpy()], pa.decimal128(20, 2))
    for dim in ("scheme", "member_type", "group", "district"):
        cols[dim] = pa.array(list(v.keys[dim]), pa.string())
    return pa.table(cols)


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
            shown = f"{Decimal(v) / scale:,.2f}"
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


def html_report(title: str, notes: list[str], a: View, b: View | None = None, *, a_name: str = "A",
                b_name: str = "B", top: int = 20) -> str:
    """A self-contained report: charts of fund payouts by layer, visit kind, level and month (A and B
    side by side when comparing), then every table."""
    esc = html.escape
    parts = [f"<!DOCTYPE html><html lang=\"zh\"><head><meta charset=\"utf-8\"><title>{esc(title)}</title>"
             f"<style>{_STYLE}</style></head><body><h1>{esc(title)}</h1>"]
    parts += [f'<p class="note">{esc(n)}</p>' for n in notes]
    views = [(a_name, a)] + ([(b_name, b)] if b is not None else [])
    layers = list(dict.fromkeys(_paid_layers(a) + (_paid_layers(b) if b is not None else [])))
    series = []
    for name, v in views:
        series.append((name, [int(v.amounts[PAID + layer][v.settled].sum()) if PAID + layer in v.amounts else 0
                              for layer in layers]))
    parts.append(svg_bars("Paid by layer", layers, series))
    for dim in ("visit", "level", "month", "group"):
        keys = sorted(set(a.keys[dim][a.settled]))
        series = [(name, [int(v.amounts["fund_total"][v.settled & (a.keys[dim] == k)].sum()) for k in keys])
                  for name, v in views]
        parts.append(svg_bars(f"All funds by {dim}", keys, series))
    if b is not None:
        both = a.settled & b.settled
        for dim in ("visit", "level", "month"):
            keys = sorted(set(a.keys[dim][both]))
            delta = [int(b.amounts["fund_total"][both & (a.keys[dim] == k)].sum()
                         - a.amounts["fund_total"][both & (a.keys[dim] == k)].sum()) for k in keys]
            parts.append(svg_bars(f"{b_name} - {a_name}, all funds, by {dim}", keys, [(f"{b_name} - {a_name}", delta)]))
        for tab in compare_tables(a, b, top=top):
            parts.append(html_table(tab))
    for name, v in views:
        for tab in tables(v):
            tab = Tab(tab.name, f"{name}: {tab.title}", tab.columns, tab.kinds, tab.rows)
            parts.append(html_table(tab))
    parts.append('<p class="note">Amounts in yuan; charts in 万元 (10,000 yuan).</p>')
    parts.append("</body></html>")
    return "\n".join(parts)
