"""The input tables (columns.py) as numpy arrays: codes for words, int64 fen for money,
days for dates, and a `dirty` flag for rows the columns hold but the engine would refuse (an
amount it does not accept, dates that do not fit the visit, bill parts that do not add up, ...).

Structural problems (a missing column, a float amount, an unknown member, a duplicate member)
raise SimulationInputError. A dirty row is not an error here: it is settled, that is refused with
the engine's own message, by the scalar engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..models.claim import (CONTROL_CHARACTER, EDGE_SPACE, INVISIBLE_CHARACTER, LOOKALIKE_PUNCTUATION, MAX_CLAIM_ID,
                            MAX_MEMBER_ID, OTHER_SPACE, REPLACEMENT_CHARACTER, Group, is_icd10)
from ..money import MAX_AMOUNT, parse_money, shifted, to_fen
from .columns import BILL_COLUMNS, OPENING, ORDER_DAY, OTHER_DIAGNOSES, diagnoses_of
from .errors import SimulationInputError

MAX_FEN = to_fen(MAX_AMOUNT)
NO_DAY = np.iinfo(np.int64).min  # a missing date
GROUPS = tuple(g.value for g in Group)  # bit i of a member's groups mask: GROUPS[i]


def as_table(data: Any, name: str) -> pa.Table:
    """A pyarrow Table from a Table or a mapping of column -> sequence."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, Mapping):
        cols = {}
        for key, values in data.items():
            if isinstance(values, (pa.Array, pa.ChunkedArray)):
                cols[key] = values
            elif isinstance(values, np.ndarray) and values.dtype.kind in "iub":
                cols[key] = pa.array(values)
            else:
                cols[key] = pa.array(list(values) if not isinstance(values, list) else values)
        return pa.table(cols)
    raise SimulationInputError(name, None, f"expected a pyarrow.Table or a mapping of columns, not {type(data).__name__}")


def _column(table: pa.Table, tname: str, name: str, required: bool) -> pa.Array | None:
    if name not in table.column_names:
        if required:
            raise SimulationInputError(tname, name, "required column missing")
        return None
    col = table.column(name)
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


def words(arr: pa.Array | None, n: int, default: str | None = None) -> tuple[np.ndarray, list]:
    """A text column as codes into its distinct values (a null or empty text as `default`)."""
    if arr is None:
        return np.zeros(n, np.int64), [default]
    if pa.types.is_dictionary(arr.type):  # already encoded: its dictionary may still repeat a value
        inner, values = words(arr.dictionary, len(arr.dictionary), default)
        codes = np.r_[inner, len(values) - 1][_int64(arr.indices, len(inner))]
        return codes, values
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) or pa.types.is_null(arr.type)):
        arr = arr.cast(pa.string())
    enc = arr.dictionary_encode()
    values = [default if v in (None, "") else v for v in enc.dictionary.to_pylist()]
    indices = enc.indices
    codes = _int64(indices, len(values))
    return codes, values + [default]


def days(arr: pa.Array | None, n: int, tname: str, name: str) -> np.ndarray:
    """A date column as days since 1970-01-01 (NO_DAY where null)."""
    if arr is None or pa.types.is_null(arr.type):
        return np.full(n, NO_DAY, np.int64)
    if not pa.types.is_date32(arr.type):
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) or pa.types.is_date64(arr.type):
            try:
                arr = pc.cast(arr, pa.date32())
            except pa.ArrowInvalid as exc:
                raise SimulationInputError(tname, name, f"expected dates written YYYY-MM-DD: {exc}") from None
        else:
            raise SimulationInputError(tname, name, f"expected dates, not {arr.type}")
    return _days32(arr)


def _days32(arr: pa.Array) -> np.ndarray:
    out = _int64(arr.cast(pa.int32()), 0)
    if arr.null_count:
        out[_nulls(arr)] = NO_DAY
    return out


def integers(arr: pa.Array | None, n: int, tname: str, name: str, default: int) -> tuple[np.ndarray, np.ndarray]:
    """An integer column (nulls as `default`) and where it is null."""
    if arr is None or pa.types.is_null(arr.type):
        return np.full(n, default, np.int64), np.ones(n, bool)
    if not pa.types.is_integer(arr.type):
        raise SimulationInputError(tname, name, f"expected whole numbers, not {arr.type}")
    return _int64(arr, default), _nulls(arr)


def _nulls(arr: pa.Array) -> np.ndarray:
    """Where a column is null."""
    if arr.null_count == 0:
        return np.zeros(len(arr), bool)
    return arr.is_null().to_numpy(zero_copy_only=False)


def _int64(arr: pa.Array, default: int) -> np.ndarray:
    """An integer column as int64 numpy (nulls as `default`), without copying what need not be."""
    if arr.null_count:
        arr = pc.fill_null(arr, default)
    return arr.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)


@dataclass
class Money:
    """A money column: fen (0 where null or unreadable), where it is null, where the engine would
    refuse it (negative, above the largest amount, more than two decimals, not a number)."""

    fen: np.ndarray
    null: np.ndarray
    bad: np.ndarray
    raw: pa.Array | None  # as given, for a row the scalar engine settles


def money(arr: pa.Array | None, n: int, tname: str, name: str) -> Money:
    if arr is None or pa.types.is_null(arr.type):
        return Money(np.zeros(n, np.int64), np.ones(n, bool), np.zeros(n, bool), None)
    if pa.types.is_floating(arr.type):
        raise SimulationInputError(tname, name, "money is never a float (floats cannot hold fen exactly): "
                                   "give integer fen or decimal yuan text")
    null = _nulls(arr)
    if pa.types.is_integer(arr.type):
        fen = _int64(arr, 0)
        bad = (fen < 0) | (fen > MAX_FEN)  # a null reads as 0: never bad
        return Money(np.where(bad, 0, fen) if bad.any() else fen, null, bad, arr)
    if pa.types.is_decimal(arr.type) or pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        enc = arr.dictionary_encode()
        parsed = []
        for value in enc.dictionary.to_pylist():
            try:
                parsed.append(to_fen(parse_money(value)))
            except (ValueError, TypeError, ArithmeticError):
                parsed.append(-1)
        table = np.array(parsed + [0], np.int64)
        fen = table[pc.fill_null(enc.indices, len(parsed)).to_numpy(zero_copy_only=False)]
        bad = ~null & (fen < 0)
        return Money(np.where(bad, 0, fen), null, bad, arr)
    raise SimulationInputError(tname, name, f"expected integer fen or decimal yuan text, not {arr.type}")


@dataclass
class Claims:
    n: int
    claim_id: pa.Array
    member: np.ndarray  # index into the members
    visit: tuple[np.ndarray, list]  # (codes, values) of each text column
    level: tuple[np.ndarray, list]
    region: tuple[np.ndarray, list]
    diagnosis: tuple[np.ndarray, list]
    service: tuple[np.ndarray, list]
    filed: np.ndarray  # -1 null, 0 false, 1 true
    date: np.ndarray  # days, NO_DAY where null
    admission: np.ndarray
    discharge: np.ndarray
    bill: dict[str, Money]
    has_bill: np.ndarray  # any bill part given
    dirty: np.ndarray
    order: np.ndarray  # days of ORDER_DAY (the day that places a claim in its member's year), NO_DAY where none
    others: pa.Array | None = None  # list<string>: the codes after the primary (null: none)

    def diagnoses(self, row: int) -> list[str]:
        """The claim's codes as `benefits.evaluate` takes them."""
        others = self.others[row].as_py() if self.others is not None else None
        return diagnoses_of(self.diagnosis[1][self.diagnosis[0][row]], others)


@dataclass
class Members:
    n: int
    member_id: pa.Array
    scheme: tuple[np.ndarray, list]
    member_type: tuple[np.ndarray, list]
    groups: np.ndarray  # bit mask over GROUPS
    groups_raw: "GroupsText"  # per member: the words as given
    age: np.ndarray  # -1 where null
    age_raw: pa.Array | None
    admissions: np.ndarray
    opening: dict[str, Money]  # counter key -> opening value
    dirty: np.ndarray


@dataclass
class Items:
    n: int
    claim: np.ndarray  # index into the claims
    category: np.ndarray  # 0 A, 1 B, 2 C, 3 anything else
    category_raw: pa.Array
    price: Money
    qn: np.ndarray
    qd: np.ndarray
    standard: Money
    sn: np.ndarray  # -1 where null: the pack's default share
    sd: np.ndarray
    dirty: np.ndarray


def read_members(data: Any) -> Members:
    t = as_table(data, "members")
    n = t.num_rows
    ids = _column(t, "members", "member_id", True).cast(pa.string())
    if ids.null_count:
        raise SimulationInputError("members", "member_id", "a member has no id")
    if pc.count_distinct(ids).as_py() != n:
        raise SimulationInputError("members", "member_id", "member ids must be unique")
    scheme = words(_column(t, "members", "scheme", True), n)
    member_type = words(_column(t, "members", "member_type", False), n)
    groups_col = _column(t, "members", "groups", False)
    groups, groups_raw, dirty = _groups(groups_col, n)
    dirty |= _refused_ids(ids, MAX_MEMBER_ID)
    age_col = _column(t, "members", "age", False)
    age, age_null = integers(age_col, n, "members", "age", -1)
    dirty |= ~age_null & ((age < 0) | (age > 150))
    admissions, _ = integers(_column(t, "members", "admissions", False), n, "members", "admissions", 0)
    dirty |= admissions < 0
    opening = {}
    for name in t.column_names:
        if name.startswith(OPENING):
            m = money(_column(t, "members", name, True), n, "members", name)
            dirty |= m.bad
            opening[name[len(OPENING):]] = m
    return Members(n, ids, scheme, member_type, groups, groups_raw, age, age_col, admissions, opening, dirty)


def _refused_ids(ids: pa.Array, most: int) -> np.ndarray:
    """Where an id is one the engine refuses (empty, too long, a control or invisible character, a space but
    U+0020, a dash but '-', U+FFFD, a space at an end, not in NFKC: models.claim.id_problem): such a member's or
    claim's claims go to the engine, which says why."""
    length = pc.utf8_length(ids)
    return pc.or_(pc.or_(pc.or_(pc.equal(length, 0), pc.greater(length, most)),
                         pc.not_equal(pc.utf8_normalize(ids, "NFKC"), ids)),
                  pc.or_(pc.match_substring_regex(ids, f"{CONTROL_CHARACTER}|{INVISIBLE_CHARACTER}|{OTHER_SPACE}|"
                                                         f"{LOOKALIKE_PUNCTUATION}|{REPLACEMENT_CHARACTER}"),
                         pc.match_substring_regex(ids, EDGE_SPACE))).to_numpy(zero_copy_only=False)


def _groups(col: pa.Array | None, n: int) -> tuple[np.ndarray, "GroupsText", np.ndarray]:
    """Each member's groups as a bit mask over GROUPS, the words as given, and whether a word is
    not a group (the engine refuses such a member's claims)."""
    if col is None or pa.types.is_null(col.type):
        return np.zeros(n, np.int64), GroupsText(None), np.zeros(n, bool)
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type) or pa.types.is_dictionary(col.type):
        codes, values = words(col, n)
        parsed = [_words_mask([w.strip() for w in v.split(",") if w.strip()] if v else []) for v in values]
        mask = np.array([p[0] for p in parsed], np.int64)[codes]
        dirty = np.array([p[1] for p in parsed], bool)[codes]
        return mask, GroupsText(col), dirty
    if pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
        flat = pc.list_flatten(col)
        parent = pc.list_parent_indices(col).to_numpy(zero_copy_only=False)
        codes, values = words(flat, len(flat))
        parsed = [_words_mask([v] if v else []) for v in values]
        bits = np.array([p[0] for p in parsed], np.int64)[codes]
        unknown = np.array([p[1] or not v for p, v in zip(parsed, values)], bool)[codes]
        mask = np.zeros(n, np.int64)
        dirty = np.zeros(n, bool)
        for i, bit in enumerate(1 << np.arange(len(GROUPS))):
            mask[parent[(bits & bit) > 0]] |= bit
        dirty[parent[unknown]] = True
        return mask, GroupsText(col), dirty
    raise SimulationInputError("members", "groups", f"expected a list of words or comma-separated text, not {col.type}")


_BIT = {g: 1 << i for i, g in enumerate(GROUPS)}


def _words_mask(words_: list[str]) -> tuple[int, bool]:
    return sum({_BIT[w] for w in words_ if w in _BIT}), any(w not in _BIT for w in words_)


class GroupsText:
    """The groups column as given: a member's words, read when the scalar engine needs them."""

    def __init__(self, col: pa.Array | None):
        self.col = col

    def __getitem__(self, member: int) -> list:
        if self.col is None:
            return []
        value = self.col[member].as_py()
        if value is None:
            return []
        if isinstance(value, str):
            return [w.strip() for w in value.split(",") if w.strip()]
        return list(value)


def read_claims(data: Any, members: Members) -> Claims:
    t = as_table(data, "claims")
    n = t.num_rows
    ids = _column(t, "claims", "claim_id", True).cast(pa.string())
    if ids.null_count:
        raise SimulationInputError("claims", "claim_id", "a claim has no id")
    mid = _column(t, "claims", "member_id", True)
    member = _index_in(mid, members.member_id)
    if member.null_count:
        row = int(np.flatnonzero(member.is_null().to_numpy(zero_copy_only=False))[0])
        raise SimulationInputError("claims", "member_id", f"{mid[row].as_py()!r} is in no row of the members table", row)
    filed_col = _column(t, "claims", "filed", False)
    if filed_col is None or pa.types.is_null(filed_col.type):
        filed = np.full(n, -1, np.int8)
    elif pa.types.is_boolean(filed_col.type):
        filed = np.where(filed_col.is_null().to_numpy(zero_copy_only=False), -1,
                         pc.fill_null(filed_col, False).to_numpy(zero_copy_only=False).astype(np.int8)).astype(np.int8)
    else:
        raise SimulationInputError("claims", "filed", f"expected true or false, not {filed_col.type}")
    bill = {name: money(_column(t, "claims", name, False), n, "claims", name) for name in BILL_COLUMNS}
    has_bill = np.zeros(n, bool)
    dirty = _refused_ids(ids, MAX_CLAIM_ID)
    for name in BILL_COLUMNS[:4]:
        has_bill |= ~bill[name].null
    for name in BILL_COLUMNS:
        dirty |= bill[name].bad
    parts = sum(bill[name].fen for name in BILL_COLUMNS[1:4])
    policy = bill["policy_range"]
    given = ~policy.null
    # every part given, and they add up (domain.md 6.2); policy_range left out is the remainder
    dirty |= has_bill & (bill["total"].null | bill["fully_self_paid"].null | bill["over_limit"].null
                         | bill["pre_self_paid"].null)
    remainder = bill["total"].fen - parts
    dirty |= has_bill & ((given & (policy.fen != remainder)) | (~given & (remainder < 0)))
    policy.fen = np.where(has_bill & ~given, np.maximum(remainder, 0), policy.fen)
    diagnosis = words(_column(t, "claims", "diagnosis", False), n)
    others = _other_diagnoses(_column(t, "claims", OTHER_DIAGNOSES, False))
    dirty |= _refused_codes(diagnosis, others, n)
    return Claims(
        n, ids, member.to_numpy(zero_copy_only=False).astype(np.int64),
        words(_column(t, "claims", "visit", True), n), words(_column(t, "claims", "level", True), n),
        words(_column(t, "claims", "region", False), n, "local"), diagnosis,
        words(_column(t, "claims", "service", False), n), filed,
        days(_column(t, "claims", "date", False), n, "claims", "date"),
        days(_column(t, "claims", "admission_date", False), n, "claims", "admission_date"),
        days(_column(t, "claims", "discharge_date", False), n, "claims", "discharge_date"),
        bill, has_bill, dirty, days(_column(t, "claims", ORDER_DAY, False), n, "claims", ORDER_DAY), others)


def _other_diagnoses(col: pa.Array | None) -> pa.Array | None:
    if col is None or pa.types.is_null(col.type):
        return None
    if not (pa.types.is_list(col.type) or pa.types.is_large_list(col.type)) or not (
            pa.types.is_string(col.type.value_type) or pa.types.is_large_string(col.type.value_type)
            or pa.types.is_null(col.type.value_type)):
        raise SimulationInputError("claims", OTHER_DIAGNOSES, f"expected a list of ICD-10 codes, not {col.type}")
    return col.cast(pa.list_(pa.string()))


def _refused_codes(diagnosis: tuple[np.ndarray, list], others: pa.Array | None, n: int) -> np.ndarray:
    """Where a claim has a code the engine refuses (bool per claim). A claim of the same disease
    list as a good one would otherwise settle on the good one's decisions (combinations are by
    disease, not code): such claims go to the engine, which says why."""
    codes, values = diagnosis
    bad = np.array([v is not None and not is_icd10(v) for v in values], bool)[codes]
    if others is None:
        return bad
    # a list of codes given without a primary (['', 'E11.9'], or [''] alone): its first code is ""
    bad |= pc.is_valid(others).to_numpy(zero_copy_only=False) & np.array([v is None for v in values], bool)[codes]
    flat = pc.list_flatten(others)
    if len(flat):
        parent = pc.list_parent_indices(others).to_numpy(zero_copy_only=False)
        enc = pc.fill_null(flat, "").dictionary_encode()
        refused = np.array([not is_icd10(v) for v in enc.dictionary.to_pylist()], bool)
        at = parent[refused[enc.indices.to_numpy(zero_copy_only=False)]]
        bad[at] = True
    return bad


def read_items(data: Any, claims: Claims) -> Items:
    t = as_table(data, "items")
    n = t.num_rows
    cid = _column(t, "items", "claim_id", True)
    claim = _index_in(cid, claims.claim_id)
    if claim.null_count:
        row = int(np.flatnonzero(claim.is_null().to_numpy(zero_copy_only=False))[0])
        raise SimulationInputError("items", "claim_id", f"{cid[row].as_py()!r} is in no row of the claims table", row)
    if pc.count_distinct(claims.claim_id).as_py() != claims.n:
        raise SimulationInputError("claims", "claim_id", "with line items, claim ids must be unique")
    cat_col = _column(t, "items", "category", True)
    codes, values = words(cat_col, n)
    lookup = np.array([{"A": 0, "B": 1, "C": 2}.get(v, 3) for v in values], np.int64)
    qn, qn_null = integers(_column(t, "items", "quantity_num", False), n, "items", "quantity_num", 1)
    qd, qd_null = integers(_column(t, "items", "quantity_den", False), n, "items", "quantity_den", 1)
    if not _powers_of_ten(qd):
        raise SimulationInputError("items", "quantity_den", "a quantity's denominator is a power of ten (1, 10, 100, ...)")
    sn, sn_null = integers(_column(t, "items", "share_num", False), n, "items", "share_num", -1)
    sd, sd_null = integers(_column(t, "items", "share_den", False), n, "items", "share_den", 1)
    if np.any(~sn_null & sd_null) or not _powers_of_ten(sd[~sn_null]):
        raise SimulationInputError("items", "share_den", "a share is share_num / share_den (a power of ten), both given")
    price = money(_column(t, "items", "unit_price", True), n, "items", "unit_price")
    standard = money(_column(t, "items", "payment_standard", False), n, "items", "payment_standard")
    category = lookup[codes]
    # what LineItem refuses: no price, a quantity not in (0, 1,000,000], a share outside [0, 1], ...
    dirty = (category == 3) | price.null | price.bad | standard.bad
    dirty |= (qn <= 0) | (qn > 1_000_000 * qd)
    dirty |= ~sn_null & ((sn < 0) | (sn > sd))
    return Items(n, claim.to_numpy(zero_copy_only=False).astype(np.int64), category, cat_col, price, qn, qd,
                 standard, np.where(sn_null, -1, sn), sd, dirty)


def _index_in(ids: pa.Array, known: pa.Array) -> pa.Array:
    """Each id's row among `known` (null where it is not there); a dictionary-encoded column's
    distinct ids are looked up once."""
    if pa.types.is_dictionary(ids.type):
        return pc.take(pc.index_in(ids.dictionary.cast(pa.string()), value_set=known), ids.indices)
    return pc.index_in(ids.cast(pa.string()), value_set=known)


def _powers_of_ten(values: np.ndarray) -> bool:
    v = values[(values != 1) & (values != 10) & (values != 100)]  # the common ones, at a glance
    if np.any(v <= 0):
        return False
    for _ in range(19):
        tens = v % 10 == 0
        if not tens.any():
            break
        v = np.where(tens, v // 10, v)
    return bool(np.all(v == 1))


def decimal_text(num: int, den: int) -> str:
    """An exact fraction with a power-of-ten denominator as decimal text: (15, 10) -> '1.5'."""
    return str(shifted(num, len(str(den)) - 1))
