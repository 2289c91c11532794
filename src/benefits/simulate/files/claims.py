"""The claims table (one row a claim, the bill already split) and the line-items table keyed by
claim_id, checked and converted into the fixed shapes the engines read (`CLAIM_SCHEMA`,
`ITEM_SCHEMA`): a stay's dates, a bill that adds up, a bill or line items but not both."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ...errors import shown
from ...money import trimmed
from ...models.claim import Region, Visit
from ..columns import BILL_COLUMNS, OTHER_DIAGNOSES
from .names import refuse_misnamed
from .problems import Problems, repeats
from .raw import Raw, read_raw
from .reader import INT64, Reader, is_arrow, list_holding

BILL = BILL_COLUMNS
"""The bill's parts (domain.md 2): total = fully_self_paid + over_limit + pre_self_paid + policy_range."""
STAY_VISITS = ("inpatient", "day_surgery")

CLAIM_COLUMNS = {
    "claim_id": "text, required, unique: the claim's id (pairs the claim across packs)",
    "member_id": "text, required: a member_id of the members table",
    "visit": "inpatient | day_surgery | general_outpatient | special_outpatient | maternity | covid_test",
    "level": "text, required: one of the pack's hospital levels",
    "region": "local (default) | in_province | out_of_province",
    "filed": "true | false: cross-region filing; required out of province",
    "date": "date, the visit date (outpatient kinds)",
    "admission_date": "date (stays)",
    "discharge_date": "date (stays)",
    "diagnosis": "text: the primary ICD-10 code (or `diagnoses`: codes, primary first, a list or text separated by ';')",
    "service": "text: a fixed-amount service of the pack (maternity)",
    **{b: "money, yuan (decimal or text) or whole fen in <name>_fen" for b in BILL},
}
ITEM_COLUMNS = {
    "claim_id": "text, required: the claim the line belongs to",
    "item_id": "text, optional",
    "category": "A | B | C",
    "unit_price": "money, yuan",
    "quantity": "decimal, default 1",
    "payment_standard": "money, yuan, optional",
    "self_pay_share": "decimal 0..1, optional (B items; the pack's default otherwise)",
    "name": "text, optional",
}

CLAIM_SCHEMA = pa.schema([
    ("claim_id", pa.string()), ("member_id", pa.string()), ("visit", pa.string()),
    ("level", pa.string()), ("region", pa.string()), ("filed", pa.bool_()), ("date", pa.date32()),
    ("admission_date", pa.date32()), ("discharge_date", pa.date32()), ("diagnosis", pa.string()),
    ("service", pa.string()), *[(b, pa.int64()) for b in BILL], (OTHER_DIAGNOSES, pa.list_(pa.string())),
])
"""A claims table as the engines read it (`benefits.simulate.columns`): money in int64 fen, null bill
parts for a claim settled from line items."""

ITEM_SCHEMA = pa.schema([
    ("claim_id", pa.string()), ("category", pa.string()), ("unit_price", pa.int64()),
    ("quantity_num", pa.int64()), ("quantity_den", pa.int64()), ("payment_standard", pa.int64()),
    ("share_num", pa.int64()), ("share_den", pa.int64()),
])


@dataclass
class ClaimTable:
    """Checked claims: `table` (CLAIM_SCHEMA), where each row is in its file (`rows`), and the line
    items (ITEM_SCHEMA) of claims settled from them."""

    name: str  # the file the claims came from
    unit: str  # "row" or "line"
    table: pa.Table
    rows: np.ndarray  # int64, the file row (or line) of each claim
    items: pa.Table | None = None
    items_name: str | None = None
    ignored: list[str] = field(default_factory=list)  # columns present but not part of the format
    bill_given: np.ndarray | None = None  # bool per claim: the file has a total (good or bad) for it

    def where(self, index: int) -> str:
        """`claims.parquet row 5`: where the claim at `index` of the table is in its file."""
        return f"{self.name} {self.unit} {int(self.rows[index])}"

    def __len__(self) -> int:
        return self.table.num_rows


def claims_from_raw(raw: Raw, problems: Problems | None = None, *, unique: bool = True) -> ClaimTable:
    """Check and convert a raw claims file (raises InputFilesError listing every problem). `unique`:
    check here that claim ids are unique (off for a chunk of a file, whose ids are checked across
    the whole file once it is bucketed: `benefits.simulate.buckets`)."""
    own = problems is None
    problems = problems or Problems(raw.name, raw.unit)
    r = Reader(raw, problems)
    cols: dict[str, pa.Array] = {}
    cols["claim_id"] = r.text("claim_id", required=True)
    cols["member_id"] = r.text("member_id", required=True)
    cols["visit"] = r.word("visit", [v.value for v in Visit], required=True)
    cols["level"] = r.text("level", required=True)
    cols["region"] = r.word("region", [v.value for v in Region], required=False, default="local")
    cols["filed"] = r.flag("filed")
    for d in ("date", "admission_date", "discharge_date"):
        cols[d] = r.date(d)
    cols["diagnosis"], others = _diagnoses(r)
    cols["service"] = r.text("service", required=False)
    present = {}
    for b in BILL:
        cols[b], present[b] = r.money(b)
    if present["total"]:  # a part whose column is absent is 0 in every claim that gives a total
        given = pc.is_valid(cols["total"])
        for b in BILL[1:4]:
            if not present[b]:
                cols[b], present[b] = pc.if_else(given, pa.scalar(0, pa.int64()), pa.scalar(None, pa.int64())), "absent"
    if not present["policy_range"] and all(present[b] for b in BILL[:4]):
        rest = pc.subtract(cols["total"], pc.add(pc.add(cols["fully_self_paid"], cols["over_limit"]), cols["pre_self_paid"]))
        cols["policy_range"] = rest
        present["policy_range"] = "derived"
    cols[OTHER_DIAGNOSES] = others
    table = pa.table(cols, schema=CLAIM_SCHEMA)
    _check_claim_rows(r, table, present, unique)
    known = set(CLAIM_COLUMNS) | {"diagnoses", OTHER_DIAGNOSES} | {f"{b}_fen" for b in BILL}
    wrong = refuse_misnamed(problems, raw.columns, known, [*BILL, *(f"{b}_fen" for b in BILL)])
    ignored = [c for c in raw.columns if c not in known and c not in wrong]
    if own:
        problems.raise_if_any()
    return ClaimTable(raw.name, raw.unit, table, raw.rows, ignored=ignored, bill_given=_raw_given(raw, "total"))


def _diagnoses(r: Reader) -> tuple[pa.Array, pa.Array]:
    """The primary code of each claim, and the codes after it: null where the claim gives no list of
    codes, a list (empty when it gives one code) where it does. Every code is kept as written, an empty
    one too: the engine checks each, so a claim settles only if evaluate would take all of its codes
    (a list of one empty code is refused as `claim.diagnoses.0`)."""
    if r.has("diagnoses") and (r.has("diagnosis") or r.has(OTHER_DIAGNOSES)):
        # a column of the file (in JSON Lines, a key of any line): one spelling a file, as a CSV's header has
        r.p.add(None, "diagnoses", "give diagnoses (codes, primary first), or diagnosis (the primary code) and "
                                   f"{OTHER_DIAGNOSES}, not both in one file (in JSON Lines, not both among its lines)")
    if r.has("diagnoses"):
        lists = _code_lists(r, "diagnoses")
        return (pa.array([codes[0] if codes else None for codes in lists], pa.string()),
                pa.array([codes[1:] if codes else None for codes in lists], pa.list_(pa.string())))
    primary = r.text("diagnosis", required=False)
    if not r.has(OTHER_DIAGNOSES):
        return primary, pa.nulls(r.n, pa.list_(pa.string()))
    return primary, pa.array([codes or None for codes in _code_lists(r, OTHER_DIAGNOSES)], pa.list_(pa.string()))


def _code_lists(r: Reader, column: str) -> list[list[str]]:
    """Each row's codes in `column`, a list or text (`_codes`); a value that is neither is a problem of its row."""
    values = r.raw.columns[column]
    if is_arrow(values) and not (pa.types.is_list(values.type) or pa.types.is_large_list(values.type)):
        values = r.text(column, required=False)  # text (or ids written as numbers), else refused
    if is_arrow(values):
        values = values.to_pylist()
    lists = []
    for i, v in enumerate(values):
        codes = _codes(v)
        if codes is None:
            got = list_holding(v, "codes") if isinstance(v, list) else shown(v)
            r._bad(i, column, f"expected a list of ICD-10 codes or text such as 'I10;E11.9', got {got}")
            codes = []
        lists.append(codes)
    return lists


_CODE_SEPARATOR = re.compile(r"\s*[;,]\s*")


def _codes(value: object) -> list[str] | None:
    """The codes of one `diagnoses` value (None when it is neither text nor a list of text). In text,
    ';' (or ',') ends a code, so 'I10;;J18.9' and ';C34.9' and 'I10;' hold an empty code, as the
    list they stand for would; codes separated by spaces alone are codes too ('I10 E11.9')."""
    if value is None:
        return []
    if isinstance(value, list):
        return value if all(isinstance(c, str) for c in value) else None
    if not isinstance(value, str):
        return None
    if not value.strip():
        return []
    return [code for piece in _CODE_SEPARATOR.split(value.strip()) for code in (piece.split() or [""])]


def _check_claim_rows(r: Reader, table: pa.Table, present: dict[str, object], unique: bool = True) -> None:
    """Checks across columns: unique ids, dates by visit kind, a bill that adds up."""
    if unique:
        ids = table.column("claim_id").to_pylist()
        for i, first in repeats(ids):
            r._bad(i, "claim_id", f"claim id {ids[i]!r} appears more than once (first at {r.raw.unit} {r.row(first)})")
    visit = table.column("visit").to_numpy(zero_copy_only=False)
    stay = np.isin(visit, STAY_VISITS)
    has = {d: _raw_given(r.raw, d) for d in ("date", "admission_date", "discharge_date")}  # good or bad
    known = visit != None  # noqa: E711 - elementwise on an object array
    for i in np.flatnonzero(known & stay & ~(has["admission_date"] & has["discharge_date"])):
        col = "admission_date" if not has["admission_date"][i] else "discharge_date"
        r._bad(int(i), col, f"required for a {visit[i]} claim (a stay has admission_date and discharge_date)")
    for i in np.flatnonzero(known & stay & has["date"]):
        r._bad(int(i), "date", f"a {visit[i]} claim has admission_date and discharge_date, not date")
    for i in np.flatnonzero(known & ~stay & ~has["date"]):
        r._bad(int(i), "date", f"required for a {visit[i]} claim (the visit date)")
    for i in np.flatnonzero(known & ~stay & (has["admission_date"] | has["discharge_date"])):
        r._bad(int(i), "admission_date" if has["admission_date"][i] else "discharge_date",
               f"a {visit[i]} claim has date (the visit date), not admission or discharge dates")
    both = table.column("admission_date").is_valid().to_numpy(zero_copy_only=False) & \
        table.column("discharge_date").is_valid().to_numpy(zero_copy_only=False)
    if both.any():
        adm = table.column("admission_date").to_numpy(zero_copy_only=False)
        dis = table.column("discharge_date").to_numpy(zero_copy_only=False)
        for i in np.flatnonzero(both):
            if dis[i] < adm[i]:
                r._bad(int(i), "discharge_date", f"{dis[i]} is before admission_date {adm[i]}")
    # the bill: every part, or none (line items); an absent column of a part is 0 except total
    if not present["total"]:
        if any(present[b] for b in BILL[1:]):
            r.p.add(None, "total", "required column is missing (the bill has parts but no total)")
        return  # every claim is settled from line items (checked once they are read)
    if r.refused & set(BILL):
        return  # a bill column refused as a whole: its rows are not checked one by one
    fen = {b: table.column(b).to_pylist() for b in BILL}
    raw_given = {b: _raw_given(r.raw, b) for b in BILL if present[b] is True}
    for i in range(table.num_rows):
        if not any(g[i] for g in raw_given.values()):
            continue  # no part given: from line items, if any
        missing = [b for b, g in raw_given.items() if not g[i]]
        if missing:
            for b in missing:
                r._bad(i, b, "required: every part of the bill is given (0.00 when none), or none of them "
                             "(the claim is settled from its line items)")
            continue
        if any(fen[b][i] is None for b in raw_given):
            continue  # a bad amount, reported already
        parts = sum(fen[b][i] for b in BILL[1:] if present[b] is True)
        total = fen["total"][i]
        if present["policy_range"] == "derived":
            if parts > total:
                r._bad(i, "total", f"fully_self_paid + over_limit + pre_self_paid = {parts / 100:.2f}, "
                                   f"more than the total {total / 100:.2f}")
        elif parts != total:
            r._bad(i, "total", f"the parts add up to {parts / 100:.2f}, not to the total {total / 100:.2f} "
                               "(fully_self_paid + over_limit + pre_self_paid + policy_range = total)")


def _raw_given(raw: Raw, name: str) -> np.ndarray:
    """Per row: whether the file has a value (good or bad) in column `name` (or `name_fen`)."""
    values = raw.columns.get(name, raw.columns.get(f"{name}_fen"))
    if values is None:
        return np.zeros(len(raw), dtype=bool)
    if is_arrow(values):
        return values.is_valid().to_numpy(zero_copy_only=False)
    return np.array([v is not None for v in values], dtype=bool)


def read_claims(path: str | Path, items: str | Path | None = None) -> ClaimTable:
    """Read and check a claims file, and its line-items file if given."""
    raw = read_raw(path)
    problems = Problems(raw.name, raw.unit)
    claims = claims_from_raw(raw, problems)
    if items is not None:
        _attach_items(claims, read_raw(items), problems)
    else:
        no_bill_without_items(claims, problems)
    problems.raise_if_any()
    return claims


def no_bill_without_items(claims: ClaimTable, problems: Problems) -> None:
    for i in np.flatnonzero(~claims.bill_given):
        problems.add(int(claims.rows[i]), "total", "required: the claim's bill (total, fully_self_paid, over_limit, "
                                                   "pre_self_paid, policy_range), or its line items in an items file")


def _attach_items(claims: ClaimTable, raw: Raw, problems: Problems) -> None:
    ip = Problems(raw.name, raw.unit)
    cid, valid, items = item_rows(raw, ip)
    seen = {c for c, ok in zip(cid, valid) if ok}
    table = claims.table
    given = claims.bill_given
    ids = table.column("claim_id").to_pylist()
    for i, c in enumerate(ids):
        problem = bill_or_items(c, bool(given[i]), c in seen, raw.name)
        if problem:
            problems.add(int(claims.rows[i]), "total", problem)
    known = set(ids)
    for i, c in enumerate(cid):
        if c is not None and c not in known:
            ip.add(r_row(raw, i), "claim_id", unknown_claim(c, claims.name))
    problems.extend(ip)
    claims.items, claims.items_name = items, raw.name


def r_row(raw: Raw, i: int) -> int:
    return int(raw.rows[i])


def bill_or_items(claim_id: str | None, given: bool, has_items: bool, items_name: str) -> str | None:
    """The problem of a claim with both a bill and line items, or with neither (None when fine)."""
    if claim_id is None:
        return None
    if given and has_items:
        return f"claim {claim_id!r} has both a bill and line items in {items_name}; give one"
    if not given and not has_items:
        return f"claim {claim_id!r} has no bill and no line items in {items_name}"
    return None


def unknown_claim(claim_id: str, claims_name: str) -> str:
    return f"a line of claim {claim_id!r}, which is not in {claims_name}"


def item_rows(raw: Raw, ip: Problems) -> tuple[list, np.ndarray, pa.Table]:
    """Check a raw line-items file (or a chunk of it): each row's claim id (None when empty), which
    rows are usable lines, and those lines (ITEM_SCHEMA), in the file's order."""
    r = Reader(raw, ip)
    money = ("unit_price", "payment_standard")
    refuse_misnamed(ip, raw.columns, [*ITEM_COLUMNS, *(f"{m}_fen" for m in money)], [*money, *(f"{m}_fen" for m in money)])
    cid = r.text("claim_id", required=True).to_pylist()
    cat = r.word("category", ["A", "B", "C"], required=True).to_pylist()
    price, has_price = r.money("unit_price")
    if not has_price:
        ip.add(None, "unit_price", "required column is missing")
    price = price.to_pylist()
    std = r.money("payment_standard")[0].to_pylist()
    qty = _decimals(r, "quantity", Decimal(1), lo=Decimal(0), lo_open=True, hi=Decimal(1000000))
    share = _decimals(r, "self_pay_share", None, lo=Decimal(0), lo_open=False, hi=Decimal(1))
    raw_price = raw.columns.get("unit_price")
    rows: dict[str, list] = {n: [] for n in ITEM_SCHEMA.names}
    valid = np.zeros(len(raw), dtype=bool)
    for i in range(len(raw)):
        if has_price and price[i] is None and (raw_price[i].as_py() if is_arrow(raw_price) else raw_price[i]) is None:
            ip.add(r.row(i), "unit_price", "required: empty")
        if cid[i] is None or cat[i] is None or price[i] is None:
            continue
        valid[i] = True
        qn, qd = _fraction(qty[i])
        rows["claim_id"].append(cid[i])
        rows["category"].append(cat[i])
        rows["unit_price"].append(price[i])
        rows["quantity_num"].append(qn)
        rows["quantity_den"].append(qd)
        rows["payment_standard"].append(std[i])
        sn, sd = _fraction(share[i]) if share[i] is not None else (None, None)
        rows["share_num"].append(sn)
        rows["share_den"].append(sd)
    return cid, valid, pa.table(rows, schema=ITEM_SCHEMA)


def _fraction(d: Decimal) -> tuple[int, int]:
    """An exact decimal as (numerator, a power of ten): 0.5 -> (5, 10), 3 -> (3, 1)."""
    sign, digits, exp = d.as_tuple()
    num = int("".join(map(str, digits)) or "0")
    return (num * 10 ** exp, 1) if exp >= 0 else (num, 10 ** -exp)


def _fits_int64(d: Decimal) -> bool:
    """Whether a trimmed decimal is a fraction of two int64, as the arrays hold it: told from its digits
    and exponent before any number is made (1e-999999999 would be 10**999999999, minutes of a CPU)."""
    _, digits, exp = d.as_tuple()
    return len(digits) <= 18 and exp >= -18 and max(_fraction(d)) <= INT64[1]


def _decimals(r: Reader, name: str, default, *, lo: Decimal, lo_open: bool, hi: Decimal) -> list:
    values = r.raw.columns.get(name)
    if values is None:
        return [default] * r.n
    if is_arrow(values):
        if pa.types.is_floating(values.type):
            r.p.add(None, name, f"a {values.type} column is not exact: store decimals as decimal128 or text")
            return [default] * r.n
        values = values.to_pylist()
    out = []
    for i, v in enumerate(values):
        if v is None:
            out.append(default)
            continue
        d = None
        if isinstance(v, str) and re.fullmatch(r"[0-9]+(\.[0-9]+)?", v):
            d = Decimal(v)
        elif isinstance(v, int) and not isinstance(v, bool):
            d = Decimal(v)
        elif isinstance(v, Decimal) and v.is_finite():
            d = v
        if d is None:
            r._bad(i, name, f"expected a decimal number such as 0.10, got {shown(v)}")
            out.append(default)
        elif d < lo or (lo_open and d == lo) or d > hi:
            r._bad(i, name, f"expected a number {'above' if lo_open else 'from'} {lo} {'and at most' if lo_open else 'to'} {hi}, got {d}")
            out.append(default)
        elif not _fits_int64(trimmed(d)):
            r._bad(i, name, f"expected at most 18 digits (trailing zeros aside), got {shown(v)}")
            out.append(default)
        else:
            out.append(trimmed(d))
    return out
