"""Input files read as columns (`Raw`), before any value is checked: Parquet, JSON Lines or CSV,
whole or a chunk of rows at a time, each row keeping its own line (or row) number for the problems.
A problem of the whole file (missing, not UTF-8, a bad header) is raised at once; a row of a bad
shape is collected and left out."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pyarrow as pa

from ...jsonio import JsonError, loads  # the engine's reader: exact numbers, no key twice, bounded nesting
from .problems import InputFilesError, InputProblem, Problems

# A JSON escape of half a UTF-16 surrogate pair: alone, it makes a str no file or Arrow column can hold.
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

    _unique_names(pq.read_schema(path).names, name, None, "the file's schema")
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


def jsonl_keys(path: str | Path) -> list[str]:
    """Every key of the objects of a JSON Lines file, in the order they first appear."""
    names: dict[str, None] = {}
    for _, line in _jsonl_lines(Path(path)):
        if line.strip():
            try:
                value = loads(line)
            except JsonError:
                continue
            if isinstance(value, dict):
                names.update(dict.fromkeys(value))
    return list(names)


MAX_KEYS = 1000
"""The most keys a JSON Lines file's lines may use between them: a column is read for every line, so
20,000 lines each with a key of its own took 35 s. The format's columns, the openings of every counter
a pack keeps included, are far fewer."""


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
        if len(names) > MAX_KEYS:  # each key a column of every line: keys x lines of work
            raise InputFilesError([InputProblem(name, None, None, f"more than {MAX_KEYS:,} keys across its lines "
                                                f"({len(names):,}); a file of the format has a few dozen columns")])
        return Raw(name, "jsonl", {n: [r.get(n) for r in records] for n in names},
                   np.array(lines, dtype=np.int64), "line")

    for number, line in _jsonl_lines(path):
        if not line.strip():
            continue
        try:
            value = loads(line)
        except JsonError as exc:
            structure.add(number, None, _not_json(exc))
            continue
        if not isinstance(value, dict):
            structure.add(number, None, f"expected a JSON object (one claim or member a line), got {type(value).__name__}")
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
    header = [h.strip() for h in header]
    _unique_names(header, name, 1, "the header")
    return header


def _unique_names(names: list[str], name: str, row: int | None, where: str) -> None:
    """A nameless or repeated column is an InputFilesError: of two columns of one name, which one a
    claim settles on is not the reader's choice."""
    problems = Problems(name, "line" if row is not None else "row")
    seen = set()
    for h in names:
        if not h:
            problems.add(row, None, f"a column without a name in {where}")
        elif h in seen:
            problems.add(row, h, f"this column appears twice in {where}")
        seen.add(h)
    problems.raise_if_any()


def _not_json(exc: JsonError) -> str:
    what = exc.message.removeprefix("not valid JSON: ")
    return f"not a JSON object: {what}" + (f" (column {exc.column})" if exc.column is not None else "")


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
