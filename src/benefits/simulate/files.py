"""Reading a year of claims as people hold them: a claims table (one row a claim, the bill already
split), an optional line-items table keyed by claim_id, and a members table (scheme, member type,
groups, account balance, opening accumulators). Parquet, JSON Lines or CSV; docs/simulation.md
gives every column.

Everything is read into Arrow tables of a fixed shape (`ClaimTable`, `MemberTable`): text as text,
dates as date32, money as int64 fen. Money is never read from a float: a Parquet money column is
decimal128/decimal256 or text, or integer fen in a column named `<name>_fen`; a float column is
refused as a whole, with what to write instead. Every bad value is reported with its file, row (or
line) and column and what was expected (`InputFilesError.problems`); no row is dropped.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import BenefitsError, listed, shown
from ..models.claim import Group, MemberType, Region, Scheme, Visit
from ..money import MAX_AMOUNT, units_of
from .columns import BILL_COLUMNS, OPENING
from .errors import SimulationInputError

MAX_PROBLEMS = 1000
"""Problems kept one by one; beyond them only counted (a file of a million bad rows makes no better
report with a million lines)."""

MAX_FEN = int(MAX_AMOUNT * 100)
_MONEY_TEXT = r"^[0-9]+(\.[0-9]{1,2})?$"
_MONEY_RE = re.compile(_MONEY_TEXT)
_DATE_TEXT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_INT_RE = re.compile(r"^[0-9]+$")
_INT64 = (-(1 << 63), (1 << 63) - 1)
_WHOLE_FEN = "whole fen (an integer such as 123450 for 1234.50 yuan)"
_FIRST_DAY, _LAST_DAY = ((d - dt.date(1970, 1, 1)).days for d in (dt.date.min, dt.date.max))  # date32's days
# A JSON escape of half a UTF-16 surrogate pair: alone, it makes a str no file or Arrow column can hold.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SPLIT = re.compile(r"[;,\s]+")


# --- problems ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputProblem:
    """One bad value (or row, or column) of an input file: where, and what was expected.

    `row` is the line number for CSV and JSON Lines (the header is line 1 of a CSV) and the 1-based
    row number for Parquet; None for a problem of the whole file or column."""

    file: str
    row: int | None
    column: str | None
    message: str
    unit: str = "row"  # "row" (Parquet) or "line" (CSV, JSON Lines)

    def __str__(self) -> str:
        at = self.file if self.row is None else f"{self.file} {self.unit} {self.row}"
        return f"{at}{f' [{self.column}]' if self.column else ''}: {self.message}"


class InputFilesError(SimulationInputError):
    """Input files of a simulation that cannot be used: every problem found, each with its file, row
    and column (`problems`, the first MAX_PROBLEMS; `count` is how many there were in all). A
    `SimulationInputError` (a BenefitsError) whose `table`, `column` and `row` are the first problem's."""

    def __init__(self, problems: list[InputProblem], count: int | None = None):
        self.problems = list(problems)
        self.count = len(self.problems) if count is None else count
        first = self.problems[0] if self.problems else None
        self.table = first.file if first else ""
        self.column = first.column if first else None
        self.row = first.row if first else None
        lines = listed(self.problems, str, "problems")
        if self.count > len(self.problems):
            lines.append(f"... {self.count:,} problems in all; the first {len(self.problems):,} are kept")
        noun = "problem" if self.count == 1 else "problems"
        BenefitsError.__init__(self, f"the simulation's input has {self.count:,} {noun}:\n" + "\n".join(lines))


class Problems:
    """Collects problems of one file (keeps the first MAX_PROBLEMS, counts the rest)."""

    def __init__(self, name: str, unit: str):
        self.name, self.unit = name, unit
        self.kept: list[InputProblem] = []
        self.count = 0

    def add(self, row: int | None, column: str | None, message: str) -> None:
        self.count += 1
        if len(self.kept) < MAX_PROBLEMS:
            self.kept.append(InputProblem(self.name, row, column, message, self.unit))

    def extend(self, other: "Problems") -> None:
        for p in other.kept:
            if len(self.kept) < MAX_PROBLEMS:
                self.kept.append(p)
        self.count += other.count

    def raise_if_any(self) -> None:
        if self.count:
            raise InputFilesError(self.kept, self.count)


# --- raw files --------------------------------------------------------------------------------


@dataclass
class Raw:
    """A file read as columns: Arrow arrays (Parquet) or lists of Python values (CSV, JSON Lines),
    and each row's number as the problems name it."""

    name: str
    fmt: str  # parquet | jsonl | csv
    columns: dict[str, Any]
    rows: np.ndarray  # int64: line (CSV, JSONL) or 1-based row (Parquet) of each row
    unit: str

    def __len__(self) -> int:
        return len(self.rows)


def file_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".txt"):
        return "csv"
    raise InputFilesError([InputProblem(str(path), None, None,
                                             "unknown file type; expected .parquet, .jsonl (JSON Lines) or .csv")])


def read_raw(path: str | Path) -> Raw:
    """Read a table file whole: `raw_chunks` in one chunk. An unreadable file is an InputFilesError
    naming it, and so are rows of a bad shape (every one of them, before any problem of a value)."""
    structure = Problems(str(path), "row" if file_format(path) == "parquet" else "line")
    (raw,) = raw_chunks(path, None, structure)
    structure.raise_if_any()
    return raw


CHUNK_ROWS = 100_000
"""Rows of an input file read at a time by `raw_chunks`."""


class NewColumns(Exception):
    """A JSON Lines file has a key, after its first chunk, that its first chunk did not: its chunks
    must be read again knowing every key (`jsonl_keys`)."""


def raw_chunks(path: str | Path, chunk_rows: int | None = CHUNK_ROWS, structure: Problems | None = None,
               keys: list[str] | None = None) -> Iterator[Raw]:
    """A table file read `chunk_rows` rows at a time (None: all of them, in one chunk, as `read_raw`
    reads it), each chunk a Raw with the file's own row (or line) numbers; at least one chunk (empty
    for a file without rows). A problem of the whole file (no file, not UTF-8, a bad CSV header) is
    raised as InputFilesError; problems of a row's shape (a CSV row with too many fields, a line that
    is not a JSON object) go to `structure` and their rows are left out (the caller reports them
    instead of any problem of a value, as `read_raw` does). A JSON Lines chunk has a column for every
    key of `keys` (when given) and of the first chunk; a later key raises NewColumns."""
    name = str(path)
    fmt = file_format(path)
    p = Path(path)
    if not p.is_file():
        raise InputFilesError([InputProblem(name, None, None, "no such file")])
    structure = structure if structure is not None else Problems(name, "row" if fmt == "parquet" else "line")
    try:
        if fmt == "parquet":
            yield from _parquet_chunks(p, name, chunk_rows)
        elif fmt == "jsonl":
            yield from _jsonl_chunks(p, name, chunk_rows, structure, keys)
        else:
            yield from _csv_chunks(p, name, chunk_rows, structure)
    except UnicodeDecodeError:
        raise InputFilesError([InputProblem(name, None, None, f"not UTF-8 text (byte {_bad_byte(p)})")]) from None
    except (OSError, pa.ArrowException) as exc:
        raise InputFilesError([InputProblem(name, None, None, f"cannot read it: {exc}")]) from None


def _bad_byte(path: Path, block: int = 1 << 22) -> int:
    """Where the first byte that is not UTF-8 is, counted after a BOM (as decoding the whole file
    with "utf-8-sig" counts it)."""
    offset, carry = 0, b""
    with path.open("rb") as f:
        head = f.read(3)
        if head != b"\xef\xbb\xbf":
            carry = head
        while True:
            data = f.read(block)
            data, last = carry + data, not data
            cut = len(data) if last else data.rfind(b"\n") + 1  # a newline byte ends no multi-byte character
            piece, carry = data[:cut], data[cut:]
            try:
                piece.decode("utf-8")
            except UnicodeDecodeError as exc:
                return offset + exc.start
            offset += len(piece)
            if last:
                return offset


def _parquet_chunks(path: Path, name: str, chunk_rows: int | None) -> Iterator[Raw]:
    import pyarrow.parquet as pq

    if chunk_rows is None:
        # the whole file as pyarrow reads a table (whose errors name the file they cannot open)
        yield raw_from_arrow(pq.read_table(path), name)
        return
    f = pq.ParquetFile(path)
    start = 0
    for batch in f.iter_batches(batch_size=chunk_rows):
        raw = raw_from_arrow(pa.Table.from_batches([batch]), name)
        raw.rows += start
        start += len(raw)
        yield raw
    if start == 0:
        yield raw_from_arrow(f.schema_arrow.empty_table(), name)


def _open_text(path: Path):
    """A text file opened to be read as UTF-8 (after a BOM, if any), its line ends kept as they are.
    A file of only the start of a BOM is not UTF-8 (reading it whole says so), though the "utf-8-sig"
    decoder of an open file reads it as empty."""
    with path.open("rb") as f:
        head = f.read(3)
    if head and len(head) < 3 and b"\xef\xbb\xbf".startswith(head):
        raise UnicodeDecodeError("utf-8", head, 0, len(head), "unexpected end of data")
    return path.open(encoding="utf-8-sig", newline="")


_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # what str.splitlines ends a line at


def _jsonl_lines(path: Path, block: int = 1 << 22) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line, numbered as `str.splitlines` numbers them."""
    number, carry = 0, ""
    with _open_text(path) as f:
        while True:
            text = f.read(block)
            lines = (carry + text).splitlines(keepends=True)
            carry = lines.pop() if text and lines else ""  # the last may go on in the next block
            for line in lines:
                number += 1
                yield number, line.rstrip(_BREAKS)
            if not text:
                return


def _lone_surrogate(record: dict) -> bool:
    """Whether a key or a text value of the record (at any depth) cannot be written as UTF-8."""
    stack: list[Any] = [record]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            stack += [*x.keys(), *x.values()]
        elif isinstance(x, list):
            stack += x
        elif isinstance(x, str):
            try:
                x.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False


def jsonl_keys(path: str | Path) -> list[str]:
    """Every key of the objects of a JSON Lines file, in the order they first appear."""
    names: dict[str, None] = {}
    for _, line in _jsonl_lines(Path(path)):
        if line.strip():
            try:
                value = json.loads(line, parse_float=Decimal, parse_constant=_no_constant)
            except ValueError:
                continue
            if isinstance(value, dict):
                names.update(dict.fromkeys(value))
    return list(names)


def _jsonl_chunks(path: Path, name: str, chunk_rows: int | None, structure: Problems,
                  keys: list[str] | None) -> Iterator[Raw]:
    names: dict[str, None] | None = dict.fromkeys(keys) if keys is not None else None
    records: list[dict] = []
    lines: list[int] = []
    first = True

    def chunk() -> Raw:
        nonlocal names
        if names is None:
            names = {}
            for r in records:
                names.update(dict.fromkeys(r))
        else:
            for r in records:
                if not r.keys() <= names.keys():
                    if not first:
                        raise NewColumns(name)
                    names.update(dict.fromkeys(r))
        return Raw(name, "jsonl", {n: [r.get(n) for r in records] for n in names},
                   np.array(lines, dtype=np.int64), "line")

    for number, line in _jsonl_lines(path):
        if not line.strip():
            continue
        try:
            # numbers are read from their digits (Decimal), never through a float
            value = json.loads(line, parse_float=Decimal, parse_constant=_no_constant)
        except ValueError as exc:
            structure.add(number, None, f"not a JSON object: {exc}")
            continue
        if not isinstance(value, dict):
            structure.add(number, None, f"expected a JSON object (one claim or member a line), got {type(value).__name__}")
            continue
        if _SURROGATE_ESCAPE.search(line) and _lone_surrogate(value):
            structure.add(number, None, "text with a lone surrogate escape (\\ud800 to \\udfff without its pair): "
                                        "not a character of Unicode")
            continue
        records.append(value)
        lines.append(number)
        if chunk_rows is not None and len(records) >= chunk_rows:
            yield chunk()
            first, records, lines = False, [], []
    if records or first:
        yield chunk()


def _csv_chunks(path: Path, name: str, chunk_rows: int | None, structure: Problems) -> Iterator[Raw]:
    with _open_text(path) as f:
        reader = csv.reader(f)
        try:
            header = _csv_header(next(reader), name)
        except StopIteration:
            raise InputFilesError([InputProblem(name, None, None, "empty file; expected a header line")]) from None
        except (csv.Error, InputFilesError):
            _decode_rest(f)
            raise
        cols: list[list] = [[] for _ in header]
        lines: list[int] = []
        first = True
        start = reader.line_num + 1
        try:
            for record in reader:
                if not record or (len(record) == 1 and not record[0].strip()):
                    start = reader.line_num + 1
                    continue
                if len(record) != len(header):
                    structure.add(start, None, f"{len(record)} fields, but the header has {len(header)}")
                else:
                    for i, v in enumerate(record):
                        v = v.strip()
                        cols[i].append(v if v != "" else None)
                    lines.append(start)
                start = reader.line_num + 1
                if chunk_rows is not None and len(lines) >= chunk_rows:
                    yield Raw(name, "csv", dict(zip(header, cols)), np.array(lines, dtype=np.int64), "line")
                    first, cols, lines = False, [[] for _ in header], []
        except csv.Error as exc:
            structure.add(reader.line_num, None, f"not CSV: {exc}")
            _decode_rest(f)
        if lines or first:
            yield Raw(name, "csv", dict(zip(header, cols)), np.array(lines, dtype=np.int64), "line")


def _decode_rest(f, block: int = 1 << 22) -> None:
    """Read the rest of a text file a CSV reader stopped in: a byte further on that is not UTF-8 is
    the problem of the file (UnicodeDecodeError), before a bad header or a line that is not CSV."""
    while f.read(block):
        pass


def _csv_header(header: list[str], name: str) -> list[str]:
    """The header's names; a nameless or repeated one is an InputFilesError (raised at once)."""
    problems = Problems(name, "line")
    header = [h.strip() for h in header]
    seen = set()
    for h in header:
        if not h:
            problems.add(1, None, "a column without a name in the header")
        elif h in seen:
            problems.add(1, h, "this column appears twice in the header")
        seen.add(h)
    problems.raise_if_any()
    return header


def _no_constant(text: str):
    raise ValueError(f"{text} is not a number")


# --- converting columns -------------------------------------------------------------------------


def _is_arrow(values) -> bool:
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
        if _is_arrow(values):
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
        if _is_arrow(values):
            return self._arrow_money(name, values), True
        return self._python_money(name, values), True

    def _fen_column(self, name: str, values) -> pa.Array:
        if _is_arrow(values):
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
            big = pc.greater(values, pa.scalar(_INT64[1], pa.uint64())).fill_null(False)
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
                if _INT64[0] <= n <= _INT64[1]:
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
        if _is_arrow(values):
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
        if _is_arrow(values):
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
        if _is_arrow(values) and pa.types.is_boolean(values.type):
            return values
        if _is_arrow(values):
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
        if _is_arrow(values):
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
                self._bad(i, name, f"expected a list of {what} or text such as 'a;b', got {shown(v)}")
                out.append([])
                continue
            if allowed is not None:
                unknown = [w for w in items if w not in allowed]
                if unknown:
                    self._bad(i, name, f"unknown {what} {shown(unknown[0])}; expected some of: {', '.join(sorted(allowed))}")
                    items = [w for w in items if w in allowed]
            out.append(items)
        return pa.array(out, pa.list_(pa.string()))


def money_fen(v: object) -> tuple[int | None, str | None]:
    """One amount in yuan (text or Decimal, never a float) as whole fen, or the problem with it."""
    if v is None:
        return None, None
    if isinstance(v, bool) or isinstance(v, float):
        return None, "an amount must be written exactly (e.g. 1234.50 or '1234.50'); floats cannot hold fen exactly"
    if isinstance(v, int):
        v = Decimal(v)
    if isinstance(v, str):
        if not _MONEY_RE.fullmatch(v):
            if v.startswith("-"):
                return None, f"an amount cannot be negative, got {shown(v)}"
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


# --- claims -------------------------------------------------------------------------------------

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
    ("service", pa.string()), *[(b, pa.int64()) for b in BILL],
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
    cols["diagnosis"] = _primary(r)
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
    table = pa.table(cols, schema=CLAIM_SCHEMA)
    _check_claim_rows(r, table, present, unique)
    known = set(CLAIM_COLUMNS) | {"diagnoses"} | {f"{b}_fen" for b in BILL}
    ignored = [c for c in raw.columns if c not in known]
    if own:
        problems.raise_if_any()
    return ClaimTable(raw.name, raw.unit, table, raw.rows, ignored=ignored, bill_given=_raw_given(raw, "total"))


def _primary(r: Reader) -> pa.Array:
    if r.has("diagnosis") and r.has("diagnoses"):
        r.p.add(None, "diagnoses", "give diagnosis (the primary code) or diagnoses (codes, primary first), not both")
    if r.has("diagnoses"):
        lists = r.words("diagnoses", None, "ICD-10 codes")
        return pa.array([v[0] if v else None for v in lists.to_pylist()], pa.string())
    return r.text("diagnosis", required=False)


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
    if _is_arrow(values):
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
        _no_bill_without_items(claims, problems)
    problems.raise_if_any()
    return claims


def _no_bill_without_items(claims: ClaimTable, problems: Problems) -> None:
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
        if has_price and price[i] is None and (raw_price[i].as_py() if _is_arrow(raw_price) else raw_price[i]) is None:
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


def repeats(ids: list) -> Iterator[tuple[int, int]]:
    """(index, index of its first occurrence) of every id seen before it in `ids` (None never repeats)."""
    seen: dict = {}
    for i, v in enumerate(ids):
        if v is None:
            continue
        first = seen.setdefault(v, i)
        if first != i:
            yield i, first


def _fraction(d: Decimal) -> tuple[int, int]:
    """An exact decimal as (numerator, a power of ten): 0.5 -> (5, 10), 3 -> (3, 1)."""
    sign, digits, exp = d.as_tuple()
    num = int("".join(map(str, digits)) or "0")
    return (num * 10 ** exp, 1) if exp >= 0 else (num, 10 ** -exp)


def _decimals(r: Reader, name: str, default, *, lo: Decimal, lo_open: bool, hi: Decimal) -> list:
    values = r.raw.columns.get(name)
    if values is None:
        return [default] * r.n
    if _is_arrow(values):
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
        elif max(_fraction(_trimmed(d))) > _INT64[1]:  # held as a fraction of two int64
            r._bad(i, name, f"expected at most 18 digits (trailing zeros aside), got {shown(v)}")
            out.append(default)
        else:
            out.append(_trimmed(d))
    return out


def _trimmed(d: Decimal) -> Decimal:
    """The same number without trailing zeros after the point (2.000 -> 2), exactly."""
    sign, digits, exp = d.as_tuple()
    while exp < 0 and len(digits) > 1 and digits[-1] == 0:
        digits, exp = digits[:-1], exp + 1
    return Decimal((sign, digits, exp))


# --- members ------------------------------------------------------------------------------------

MEMBER_COLUMNS = {
    "member_id": "text, required, unique",
    "scheme": "employee | resident",
    "member_type": "in_service | retired (employees); adult | child | student (residents); optional unless the pack reads it",
    "groups": "dibao | tekun | guer | tuopin | dishouru: a list, or text separated by ';' or ',' (empty: none)",
    "age": "whole number 0..150, optional",
    "district": "text, optional: a label to total by (e.g. 蓬江); not read by the rules",
    "admissions": "whole number: admissions earlier in the year (default 0)",
    "opening.<counter>": "money: an opening counter of the pack, e.g. opening.serious_illness.base, "
                         "opening.personal_account.balance (the account balance), opening.outpatient.month@2021-06",
}

MEMBER_SCHEMA = pa.schema([
    ("member_id", pa.string()), ("scheme", pa.string()), ("member_type", pa.string()),
    ("groups", pa.list_(pa.string())), ("age", pa.int64()), ("admissions", pa.int64()),
])
ENGINE_MEMBER_COLUMNS = tuple(MEMBER_SCHEMA.names)


@dataclass
class MemberTable:
    """Checked members: `table` (MEMBER_SCHEMA, one int64 fen column `opening.<counter>` per opening
    counter, and `district`), and where each member is in its file (`rows`)."""

    name: str
    unit: str
    table: pa.Table
    rows: np.ndarray
    ignored: list[str] = field(default_factory=list)

    def where(self, index: int) -> str:
        return f"{self.name} {self.unit} {int(self.rows[index])}"

    @property
    def counters(self) -> list[str]:
        return [c[len(OPENING):] for c in self.table.column_names if c.startswith(OPENING)]

    def engine_table(self) -> pa.Table:
        """The columns the engines read (`benefits.simulate.columns`): without `district`."""
        return self.table.select([c for c in self.table.column_names if c != "district"])

    def __len__(self) -> int:
        return self.table.num_rows


_COUNTER_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*(@[0-9]{4}-[0-9]{2})?$")


def members_from_raw(raw: Raw, problems: Problems | None = None, *, unique: bool = True) -> MemberTable:
    """Check and convert a raw members file; `unique` as for `claims_from_raw`."""
    own = problems is None
    problems = problems or Problems(raw.name, raw.unit)
    r = Reader(raw, problems)
    cols: dict[str, pa.Array] = {}
    cols["member_id"] = r.text("member_id", required=True)
    cols["scheme"] = r.word("scheme", [s.value for s in Scheme], required=True)
    cols["member_type"] = r.word("member_type", [t.value for t in MemberType], required=False)
    cols["groups"] = r.words("groups", [g.value for g in Group], "groups")
    cols["age"] = r.integer("age", 0, 150)
    cols["admissions"] = r.integer("admissions", 0, 1000).fill_null(0)
    fields = list(MEMBER_SCHEMA)
    for c in raw.columns:
        base = c[:-4] if c.endswith("_fen") else c
        if base.startswith(OPENING) and base not in cols:
            name = base[len(OPENING):]
            if not _COUNTER_RE.match(name):
                problems.add(None, c, "expected opening.<counter>, e.g. opening.serious_illness.base or "
                                      "opening.outpatient.month@2021-06")
                continue
            cols[base] = r.money(base)[0].fill_null(0)
            fields.append(pa.field(base, pa.int64()))
    cols["district"] = r.text("district", required=False)
    fields.append(pa.field("district", pa.string()))
    table = pa.table(cols, schema=pa.schema(fields))
    if unique:
        ids = table.column("member_id").to_pylist()
        for i, first in repeats(ids):
            r._bad(i, "member_id", f"member id {ids[i]!r} appears more than once (first at {raw.unit} {r.row(first)})")
    _check_member_types(r, table)
    ignored = [c for c in raw.columns if c not in MEMBER_COLUMNS and not c.startswith(OPENING)]
    if own:
        problems.raise_if_any()
    return MemberTable(raw.name, raw.unit, table, raw.rows, ignored=ignored)


def _check_member_types(r: Reader, table: pa.Table) -> None:
    from ..models.claim import MEMBER_TYPES

    allowed = {s.value: {t.value for t in types} for s, types in MEMBER_TYPES.items()}
    schemes = table.column("scheme").to_pylist()
    types = table.column("member_type").to_pylist()
    for i, (s, t) in enumerate(zip(schemes, types)):
        if s in allowed and t is not None and t not in allowed[s]:
            r._bad(i, "member_type", f"{t!r} is not a {s} member type; expected one of: {', '.join(sorted(allowed[s]))}")


def read_members(path: str | Path) -> MemberTable:
    return members_from_raw(read_raw(path))


def check_members_of_claims(claims: ClaimTable, members: MemberTable) -> None:
    """Every claim's member is in the members table."""
    known = set(members.table.column("member_id").to_pylist())
    problems = Problems(claims.name, claims.unit)
    for i, m in enumerate(claims.table.column("member_id").to_pylist()):
        if m is not None and m not in known:
            problems.add(int(claims.rows[i]), "member_id", f"no member {m!r} in {members.name}")
    problems.raise_if_any()


def read_inputs(claims: str | Path, members: str | Path, items: str | Path | None = None) -> tuple[ClaimTable, MemberTable]:
    """Read and check both tables (and line items); every problem of every file is reported at once."""
    errors: list[InputProblem] = []
    count = 0
    out: list[Any] = [None, None]
    for k, fn in enumerate((lambda: read_claims(claims, items), lambda: read_members(members))):
        try:
            out[k] = fn()
        except InputFilesError as exc:
            errors += exc.problems
            count += exc.count
    if count:
        raise InputFilesError(errors[:MAX_PROBLEMS], count)
    check_members_of_claims(out[0], out[1])
    return out[0], out[1]


def raw_from_rows(rows: list[dict], name: str = "<rows>") -> Raw:
    """Rows of Python values (as a JSON Lines file holds them) as a Raw file: for tests and generators."""
    names: dict[str, None] = {}
    for r in rows:
        names.update(dict.fromkeys(r))
    return Raw(name, "jsonl", {n: [r.get(n) for r in rows] for n in names},
               np.arange(1, len(rows) + 1, dtype=np.int64), "row")


def raw_from_arrow(table: pa.Table, name: str) -> Raw:
    """An Arrow table (as a Parquet file holds it) as a Raw file."""
    cols = {n: (c.combine_chunks() if c.num_chunks != 1 else c.chunk(0)) for n, c in zip(table.column_names, table.columns)}
    return Raw(name, "parquet", cols, np.arange(1, table.num_rows + 1, dtype=np.int64), "row")
