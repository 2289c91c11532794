"""Converting the columns of one raw input file into typed Arrow arrays (`Reader`): text, words,
money as int64 fen, dates, whole numbers, flags and lists, each bad value a problem of its row.
Money is never read from a float: a money column is decimal or text, or whole fen in a column named
`<name>_fen`; a float column is refused as a whole, with what to write instead."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ...errors import shown
from ...money import MAX_AMOUNT, is_number_text, units_of
from .problems import MAX_PROBLEMS, Problems
from .raw import Raw

MAX_FEN = int(MAX_AMOUNT * 100)
_MONEY_TEXT = r"^[0-9]+(\.[0-9]{1,2})?$"  # the common case, converted by Arrow; anything else by money_fen
_DATE_TEXT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_INT_RE = re.compile(r"^[0-9]+$")
INT64 = (-(1 << 63), (1 << 63) - 1)
_WHOLE_FEN = "whole fen (an integer such as 123450 for 1234.50 yuan)"
_FIRST_DAY, _LAST_DAY = ((d - dt.date(1970, 1, 1)).days for d in (dt.date.min, dt.date.max))  # date32's days
_SPLIT = re.compile(r"[;,\s]+")


def is_arrow(values) -> bool:
    return isinstance(values, pa.Array)


def _arrow_text(values: pa.Array) -> pa.Array | None:
    t = values.type
    if pa.types.is_dictionary(t):
        values = values.cast(t.value_type) if pa.types.is_string(t.value_type) or pa.types.is_large_string(t.value_type) else values
        t = values.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return values.cast(pa.string())
    if pa.types.is_null(t):
        return pa.nulls(len(values), pa.string())
    return None


class Reader:
    """Converts the columns of one Raw file into typed Arrow arrays, collecting problems."""

    def __init__(self, raw: Raw, problems: Problems):
        self.raw, self.p = raw, problems
        self.n = len(raw)
        self.refused: set[str] = set()  # columns refused as a whole (their values are not checked further)

    def _column_problem(self, name: str, message: str) -> None:
        self.refused.add(name)
        self.p.add(None, name, message)

    def row(self, i: int) -> int:
        return int(self.raw.rows[i])

    def has(self, name: str) -> bool:
        return name in self.raw.columns

    def _bad(self, i: int, column: str, message: str) -> None:
        self.p.add(self.row(i), column, message)

    # text ------------------------------------------------------------------------------------
    def text(self, name: str, *, required: bool) -> pa.Array:
        values = self.raw.columns.get(name)
        if values is None:
            if required:
                self.p.add(None, name, "required column is missing")
            return pa.nulls(self.n, pa.string())
        if is_arrow(values):
            out = _arrow_text(values)
            if out is None:
                if pa.types.is_integer(values.type):
                    out = values.cast(pa.string())  # ids written as numbers
                else:
                    self.p.add(None, name, f"expected text, found a {values.type} column")
                    return pa.nulls(self.n, pa.string())
        else:
            clean = []
            for i, v in enumerate(values):
                if v is None or isinstance(v, str):
                    clean.append(v)
                elif isinstance(v, int) and not isinstance(v, bool):
                    clean.append(str(v))
                else:
                    self._bad(i, name, f"expected text, got {shown(v)}")
                    clean.append(None)
            out = pa.array(clean, pa.string())
        if required:
            blank = pc.or_kleene(pc.is_null(out), pc.equal(pc.utf8_trim_whitespace(out), ""))
            for i in np.flatnonzero(blank.fill_null(True).to_numpy(zero_copy_only=False))[:MAX_PROBLEMS]:
                self._bad(int(i), name, "required: empty")
            self.p.count += max(0, int(pc.sum(blank).as_py() or 0) - MAX_PROBLEMS)
        return out

    def word(self, name: str, choices: Iterable[str], *, required: bool, default: str | None = None) -> pa.Array:
        out = self.text(name, required=required)
        allowed = list(choices)
        if default is not None:
            out = out.fill_null(default)
        valid = pc.is_in(out, value_set=pa.array(allowed, pa.string()))
        bad = pc.and_(pc.invert(valid), pc.is_valid(out)).fill_null(False)
        if pc.any(bad).as_py():
            vals = out.to_pylist()
            for i in np.flatnonzero(bad.to_numpy(zero_copy_only=False)):
                self._bad(int(i), name, f"expected one of {', '.join(allowed)}, got {shown(vals[i])}")
        return out

    # money -----------------------------------------------------------------------------------
    def money(self, name: str) -> tuple[pa.Array, bool]:
        """The column `name` (yuan) or `name_fen` (integer fen) as int64 fen; (array, present)."""
        fen_name = f"{name}_fen"
        values = self.raw.columns.get(name)
        fen_values = self.raw.columns.get(fen_name)
        if values is not None and fen_values is not None:
            self._column_problem(name, f"give {name} (yuan) or {fen_name} (fen), not both")
            return pa.nulls(self.n, pa.int64()), True
        if values is None and fen_values is None:
            return pa.nulls(self.n, pa.int64()), False
        if fen_values is not None:
            return self._fen_column(fen_name, fen_values), True
        if is_arrow(values):
            return self._arrow_money(name, values), True
        return self._python_money(name, values), True

    def _fen_column(self, name: str, values) -> pa.Array:
        if is_arrow(values):
            if not pa.types.is_integer(values.type):
                self._column_problem(name, f"a _fen column holds whole fen as integers; found {values.type}")
                return pa.nulls(self.n, pa.int64())
            out = self._arrow_whole(name, values, _WHOLE_FEN)
        else:
            out = self._whole(name, values, _WHOLE_FEN)
        return self._range(name, out)

    def _arrow_whole(self, name: str, values: pa.Array, expected: str) -> pa.Array:
        """An Arrow integer column as int64: an unsigned value beyond int64 is a problem of its row."""
        if values.type == pa.uint64():
            big = pc.greater(values, pa.scalar(INT64[1], pa.uint64())).fill_null(False)
            if pc.any(big).as_py():
                for i in np.flatnonzero(big.to_numpy(zero_copy_only=False)):
                    self._bad(int(i), name, f"expected {expected}, got {values[int(i)].as_py()}, a number far too large")
                values = pc.if_else(big, pa.scalar(None, pa.uint64()), values)
        return values.cast(pa.int64())

    def _whole(self, name: str, values: list, expected: str) -> pa.Array:
        """Python values as int64: integers and digit strings; anything else is a problem of its row."""
        clean = []
        for i, v in enumerate(values):
            if v is None:
                clean.append(None)
            elif isinstance(v, int) and not isinstance(v, bool) or isinstance(v, str) and _INT_RE.fullmatch(v):
                n = int(v)
                if INT64[0] <= n <= INT64[1]:
                    clean.append(n)
                else:  # beyond any column's bounds: the check of its range would overflow
                    self._bad(i, name, f"expected {expected}, got {shown(v)}, a number far too large")
                    clean.append(None)
            else:
                self._bad(i, name, f"expected {expected}, got {shown(v)}")
                clean.append(None)
        return pa.array(clean, pa.int64())

    def _within(self, name: str, values: pa.Array, lo: int, hi: int, problem) -> pa.Array:
        """`values` with those outside lo..hi made null, each a problem of its row (`problem(value)`)."""
        bad = pc.or_(pc.less(values, lo), pc.greater(values, hi)).fill_null(False)
        if pc.any(bad).as_py():
            vals = values.to_pylist()
            for i in np.flatnonzero(bad.to_numpy(zero_copy_only=False)):
                self._bad(int(i), name, problem(vals[i]))
            values = pc.if_else(bad, pa.scalar(None, pa.int64()), values)
        return values

    def _range(self, name: str, fen: pa.Array) -> pa.Array:
        return self._within(name, fen, 0, MAX_FEN, lambda v: "an amount cannot be negative" if v < 0
                            else f"amount above the largest accepted ({MAX_AMOUNT} yuan)")

    def _arrow_money(self, name: str, values: pa.Array) -> pa.Array:
        t = values.type
        if pa.types.is_floating(t):
            self._column_problem(name, f"a {t} column cannot hold money exactly: store amounts as decimal128(18, 2), "
                                   f"as text ('1234.56'), or as whole fen in an integer column named {name}_fen")
            return pa.nulls(self.n, pa.int64())
        if pa.types.is_integer(t):
            self._column_problem(name, f"an integer column is ambiguous for money (yuan or fen?): store yuan as "
                                   f"decimal128(18, 2) or text, or name the column {name}_fen for whole fen")
            return pa.nulls(self.n, pa.int64())
        if pa.types.is_decimal(t):
            hundred = pa.scalar(Decimal(100), pa.decimal128(3, 0))
            try:
                if t.scale > 2:
                    values = values.cast(pa.decimal128(min(38, t.precision), 2))  # refuses lost digits
                scaled = pc.multiply(values, hundred)
                return self._range(name, scaled.cast(pa.int64()))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return self._python_money(name, values.to_pylist())
        text = _arrow_text(values)
        if text is None:
            self._column_problem(name, f"expected amounts in yuan (decimal or text such as '1234.56'), found a {t} column")
            return pa.nulls(self.n, pa.int64())
        ok = pc.match_substring_regex(text, _MONEY_TEXT)
        if not pc.all(ok.fill_null(True)).as_py():
            return self._python_money(name, text.to_pylist())
        try:
            cast = text.cast(pa.decimal128(20, 2))
            return self._range(name, pc.multiply(cast, pa.scalar(Decimal(100), pa.decimal128(3, 0))).cast(pa.int64()))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return self._python_money(name, text.to_pylist())

    def _python_money(self, name: str, values: list) -> pa.Array:
        return self._converted(name, values, money_fen, pa.int64())

    def _converted(self, name: str, values: list, convert, arrow_type: pa.DataType) -> pa.Array:
        """Each value through `convert` (value -> (result, problem or None)); every problem reported
        at its row."""
        out = []
        for i, v in enumerate(values):
            result, problem = convert(v)
            if problem:
                self._bad(i, name, problem)
            out.append(result)
        return pa.array(out, arrow_type)

    # dates, numbers, flags -------------------------------------------------------------------
    def date(self, name: str) -> pa.Array:
        values = self.raw.columns.get(name)
        if values is None:
            return pa.nulls(self.n, pa.date32())
        if is_arrow(values):
            t = values.type
            if pa.types.is_date(t):
                return self._calendar(name, values.cast(pa.date32()))
            if pa.types.is_timestamp(t):
                self.p.add(None, name, f"a date column holds dates (date32, or text YYYY-MM-DD), not timestamps ({t})")
                return pa.nulls(self.n, pa.date32())
            text = _arrow_text(values)
            if text is None:
                self.p.add(None, name, f"expected dates (date32, or text YYYY-MM-DD), found a {t} column")
                return pa.nulls(self.n, pa.date32())
            ok = pc.match_substring_regex(text, _DATE_TEXT).fill_null(True)
            if pc.all(ok).as_py():
                try:
                    return self._calendar(name, text.cast(pa.date32()))
                except pa.ArrowInvalid:
                    pass
            values = text.to_pylist()
        return self._converted(name, values, date_value, pa.date32())

    def _calendar(self, name: str, dates: pa.Array) -> pa.Array:
        """`dates` with those Python's calendar cannot hold (Arrow's can: year 0, day -2^31) made
        null, each a problem of its row."""
        days = dates.view(pa.int32())
        bad = pc.or_(pc.less(days, _FIRST_DAY), pc.greater(days, _LAST_DAY)).fill_null(False)
        if not pc.any(bad).as_py():
            return dates
        for i in np.flatnonzero(bad.to_numpy(zero_copy_only=False)):
            self._bad(int(i), name, "not a date of the calendar (0001-01-01 to 9999-12-31)")
        return pc.if_else(bad, pa.scalar(None, pa.date32()), dates)

    def integer(self, name: str, lo: int, hi: int) -> pa.Array:
        values = self.raw.columns.get(name)
        if values is None:
            return pa.nulls(self.n, pa.int64())
        if is_arrow(values):
            if pa.types.is_integer(values.type):
                out = self._arrow_whole(name, values, "a whole number")
            else:
                text = _arrow_text(values)
                if text is None:
                    self.p.add(None, name, f"expected whole numbers, found a {values.type} column")
                    return pa.nulls(self.n, pa.int64())
                values = text.to_pylist()
                out = None
        else:
            out = None
        if out is None:
            out = self._whole(name, values, "a whole number")
        return self._within(name, out, lo, hi, lambda v: f"expected a whole number from {lo} to {hi}, got {v}")

    def flag(self, name: str) -> pa.Array:
        values = self.raw.columns.get(name)
        if values is None:
            return pa.nulls(self.n, pa.bool_())
        if is_arrow(values) and pa.types.is_boolean(values.type):
            return values
        if is_arrow(values):
            text = _arrow_text(values)
            if text is None:
                self.p.add(None, name, f"expected true or false, found a {values.type} column")
                return pa.nulls(self.n, pa.bool_())
            values = text.to_pylist()
        out = []
        for i, v in enumerate(values):
            if v is None or isinstance(v, bool):
                out.append(v)
            elif isinstance(v, str) and v.lower() in ("true", "false"):
                out.append(v.lower() == "true")
            else:
                self._bad(i, name, f"expected true or false, got {shown(v)}")
                out.append(None)
        return pa.array(out, pa.bool_())

    def words(self, name: str, choices: Iterable[str] | None, what: str) -> pa.Array:
        """A list of words: a list column (Parquet, JSON) or text separated by ';', ',' or spaces."""
        values = self.raw.columns.get(name)
        if values is None:
            return pa.array([[] for _ in range(self.n)], pa.list_(pa.string()))
        allowed = set(choices) if choices is not None else None
        if is_arrow(values):
            if pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
                values = values.to_pylist()
            else:
                text = _arrow_text(values)
                if text is None:
                    self.p.add(None, name, f"expected a list of {what} or text such as 'a;b', found a {values.type} column")
                    return pa.array([[] for _ in range(self.n)], pa.list_(pa.string()))
                values = text.to_pylist()
        out = []
        for i, v in enumerate(values):
            if v is None:
                out.append([])
                continue
            if isinstance(v, str):
                items = [w for w in _SPLIT.split(v.strip()) if w]
            elif isinstance(v, list) and all(isinstance(w, str) for w in v):
                items = [w.strip() for w in v if w.strip()]
            else:
                got = list_holding(v, what) if isinstance(v, list) else shown(v)
                self._bad(i, name, f"expected a list of {what} or text such as 'a;b', got {got}")
                out.append([])
                continue
            if allowed is not None:
                unknown = [w for w in items if w not in allowed]
                if unknown:
                    self._bad(i, name, f"unknown {what} {shown(unknown[0])}; expected some of: {', '.join(sorted(allowed))}")
                    items = [w for w in items if w in allowed]
            out.append(items)
        return pa.array(out, pa.list_(pa.string()))


def list_holding(values: list, what: str) -> str:
    """A list that is not all text, as a message names it: by the first value that is not text ('a list
    holding a null among its codes'); 'got a list' alone would contradict 'expected a list'."""
    odd = next((v for v in values if not isinstance(v, str)), None)
    return f"a list holding {'a null' if odd is None else shown(odd)} among its {what}"


def money_fen(v: object) -> tuple[int | None, str | None]:
    """One amount in yuan (text or Decimal, never a float) as whole fen, or the problem with it."""
    if v is None:
        return None, None
    if isinstance(v, bool) or isinstance(v, float):
        return None, "an amount must be written exactly (e.g. 1234.50 or '1234.50'); floats cannot hold fen exactly"
    if isinstance(v, int):
        v = Decimal(v)
    if isinstance(v, str):  # written as the engine reads it (money.parse_money): 100.500 is 100.50
        if not is_number_text(v):
            return None, f"expected an amount in yuan with at most two decimals, such as 1234.50, got {shown(v)}"
        v = Decimal(v)
    if not isinstance(v, Decimal) or not v.is_finite():
        return None, f"expected an amount in yuan such as 1234.50, got {shown(v)}"
    if v < 0:
        return None, f"an amount cannot be negative, got {v}"
    if v > MAX_AMOUNT:  # first: what is left has few enough digits for the engine's context
        return None, f"amount {v} is above the largest accepted ({MAX_AMOUNT})"
    fen = units_of(v, 100)  # exact whatever the caller's decimal context
    if fen is None:
        return None, f"an amount has at most two decimals (fen), got {v}"
    return fen, None


def date_value(v: object) -> tuple[dt.date | None, str | None]:
    if v is None:
        return None, None
    if type(v) is dt.date:
        return v, None
    if isinstance(v, str) and re.fullmatch(_DATE_TEXT[1:-1], v):
        try:
            return dt.date.fromisoformat(v), None
        except ValueError:
            return None, f"{v!r} is not a date of the calendar"
    return None, f"expected a date written YYYY-MM-DD, got {shown(v)}"
