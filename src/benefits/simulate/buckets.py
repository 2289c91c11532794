"""The simulation's input read in bounded chunks and bucketed by partition on disk, so that the
whole `benefits simulate` command holds a partition at a time, never the year.

    with bucketed(claims, members, items, parts=8) as b:      # every problem raised here, at once
        for rows, claims_part, members_part in b.pieces():    # partition 0, 1, ...: ClaimTable, MemberTable
            ...

One pass over each input file, `CHUNK_ROWS` rows at a time (Parquet by record batches, CSV and JSON
Lines by lines): each chunk is checked as `files` checks a whole table (the same problems, with the
file's own row and line numbers) and its rows are written to a temporary Parquet file of their
partition (`cluster.partition_of` of the member id, as `cluster.split` splits the tables): claims
and members by member, claim ids and line items by a hash of the claim id. The checks that need the
whole file (a claim or member id given twice, a line item of no claim, a claim with both a bill and
line items or neither, a claim of no member) are then made one bucket at a time, since equal ids
are always in the same bucket. Only when no problem was found are the partitions settled, each read
back from its files: its claims in the claims file's order, its members in the members file's, its
line items in the items file's, exactly the tables `cluster.split` takes from whole tables.

Memory: a chunk while reading, a bucket while checking, a partition while settling; nothing is
kept per member or per claim across the year. The temporary folder (in the system's temporary
directory, or `folder`) is removed on leaving the `with`, also on an error.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import heapq
import shutil
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .files import (CHUNK_ROWS, CLAIM_SCHEMA, ITEM_SCHEMA, MAX_PROBLEMS, ClaimTable, InputFilesError, InputProblem,
                    MemberTable, NewColumns, Problems, bill_or_items, claims_from_raw, file_format, item_rows,
                    jsonl_keys, members_from_raw, opens, raw_chunks, unknown_claim, no_bill_without_items)

INDEX, ROW = "_index", "_row"  # a row's place among the file's rows (from 0), and its row or line number


def count_rows(path: str | Path) -> int:
    """About how many rows a table file has, without reading its values (to choose the number of
    partitions before reading): a Parquet file's row count; the non-blank lines of a JSON Lines
    file, or of a CSV file less its header. 0 for a file that cannot be read (reading reports it)."""
    p = Path(path)
    try:
        fmt = file_format(p)
        if fmt == "parquet":
            return pq.ParquetFile(p).metadata.num_rows
        lines = 0
        with p.open("rb") as f:
            for line in f:
                if line.strip():
                    lines += 1
        return max(0, lines - 1) if fmt == "csv" else lines
    except (InputFilesError, OSError, pa.ArrowException):
        return 0


def _bucket_of(ids: pa.Array, parts: int) -> np.ndarray:
    """`cluster.partition_of` of each id; an empty id goes to bucket 0."""
    values = ids.to_pylist()
    return np.fromiter((0 if v is None else zlib.crc32(v.encode("utf-8")) % parts for v in values), np.int64,
                       count=len(values))


class _Files:
    """The temporary Parquet files: `<kind>/<bucket>/<sequence>.parquet`, read back in sequence order."""

    def __init__(self, folder: Path, parts: int):
        self.folder, self.parts = folder, parts

    def write(self, kind: str, seq: int, table: pa.Table, bucket: np.ndarray) -> None:
        if not table.num_rows:
            return
        order = np.argsort(bucket, kind="stable")
        bounds = np.searchsorted(bucket[order], np.arange(self.parts + 1))
        for b in np.flatnonzero(np.diff(bounds)):
            folder = self.folder / kind / f"{b:05d}"
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(table.take(pa.array(order[bounds[b]:bounds[b + 1]])), folder / f"{seq:06d}.parquet",
                           compression="lz4")

    def read(self, kind: str, bucket: int, columns: list[str] | None = None) -> pa.Table | None:
        folder = self.folder / kind / f"{bucket:05d}"
        if not folder.is_dir():
            return None
        tables = [pq.read_table(f, columns=columns) for f in sorted(folder.iterdir())]
        return pa.concat_tables(tables).combine_chunks() if tables else None

    def clear(self, *kinds: str) -> None:
        for kind in kinds:
            shutil.rmtree(self.folder / kind, ignore_errors=True)


class _ByRow:
    """Problems found bucket by bucket, given back in row order (the first MAX_PROBLEMS kept)."""

    def __init__(self):
        self.heap: list = []  # (-row, seq, problem): the largest rows leave first
        self.count = 0

    def add(self, problem: InputProblem) -> None:
        self.count += 1
        item = (-(problem.row or 0), -self.count, problem)
        if len(self.heap) < MAX_PROBLEMS:
            heapq.heappush(self.heap, item)
        else:
            heapq.heappushpop(self.heap, item)

    def into(self, problems: Problems) -> None:
        for _, _, p in sorted(self.heap, key=lambda x: (-x[0], -x[1])):
            if len(problems.kept) < MAX_PROBLEMS:
                problems.kept.append(p)
        problems.count += self.count


class _FileProblems(Problems):
    """A file's problems found chunk by chunk: a problem of a whole column (no row) once, not a chunk."""

    def __init__(self, name: str, unit: str):
        super().__init__(name, unit)
        self.whole: set = set()

    def add(self, row, column, message) -> None:
        if row is None:
            if (column, message) in self.whole:
                return
            self.whole.add((column, message))
        super().add(row, column, message)


@dataclass
class _Read:
    """What reading one file gave: a problem of the whole file (no file, not UTF-8, a bad header),
    problems of rows' shape, or problems of values (only the first kind found is reported, as
    `files.read_raw` does)."""

    failed: InputFilesError | None
    structure: Problems
    values: _FileProblems
    first: object = None  # the first chunk's checked table (ClaimTable or MemberTable): names, ignored columns

    @property
    def readable(self) -> bool:
        return self.failed is None and not self.structure.count


def _read_file(path, kinds: tuple[str, ...], files: _Files, chunk_rows: int, step) -> _Read:
    """Read a file chunk by chunk, `step(seq, raw, problems)` checking and writing each chunk."""
    name = str(path)
    keys = None
    while True:
        unit = "row" if _format(path) == "parquet" else "line"
        got = _Read(None, Problems(name, unit), _FileProblems(name, unit))
        try:
            for seq, raw in enumerate(raw_chunks(path, chunk_rows, got.structure, keys)):
                if got.structure.count:
                    continue  # only the shape of rows is reported now: the values are not checked
                out = step(seq, raw, got.values)
                if got.first is None:
                    got.first = out
            return got
        except InputFilesError as exc:
            files.clear(*kinds)
            return _Read(exc, got.structure, got.values)
        except NewColumns:  # a JSON Lines key the first chunk did not have: again, knowing every key
            files.clear(*kinds)
            keys = jsonl_keys(path)


def _format(path) -> str:
    try:
        return file_format(path)
    except InputFilesError:
        return "?"


class Buckets:
    """Checked input bucketed by partition in `folder` (`bucketed` makes it): `claims` and `members`
    are the files' tables without rows (their names, units, columns and ignored columns), `count`
    the claims, `parts` the partitions."""

    def __init__(self, folder: Path, parts: int):
        self.files = _Files(folder, parts)
        self.parts = parts
        self.count = 0
        self.items_count = 0
        self.claims: ClaimTable | None = None
        self.members: MemberTable | None = None

    @property
    def folder(self) -> Path:
        return self.files.folder

    def __len__(self) -> int:
        return self.count

    def partition(self, p: int) -> tuple[np.ndarray, ClaimTable, MemberTable] | None:
        """Partition `p`: its claims' rows of the whole claims table (ascending), its claims (with
        their line items) and its members, as `cluster.split` and `runner` make them; None when it
        has no claims."""
        c = self.files.read("claims", p)
        if c is None:
            return None
        m = self.files.read("members", p)
        items = None
        if self.claims.items_name is not None:
            i = self.files.read("items", p)
            if i is None:
                items = ITEM_SCHEMA.empty_table()
            else:
                i = i.take(pc.sort_indices(i.column(INDEX)))
                items = i.select(ITEM_SCHEMA.names).cast(ITEM_SCHEMA)
        mschema = self.members.table.schema
        members = (m.select(mschema.names).cast(mschema) if m is not None else mschema.empty_table())
        mrows = (m.column(ROW).to_numpy() if m is not None else np.zeros(0, np.int64))
        ct = ClaimTable(self.claims.name, self.claims.unit, c.select(CLAIM_SCHEMA.names).cast(CLAIM_SCHEMA),
                        c.column(ROW).to_numpy(), items, self.claims.items_name, self.claims.ignored)
        mt = MemberTable(self.members.name, self.members.unit, members, mrows, self.members.ignored)
        return c.column(INDEX).to_numpy(), ct, mt

    def pieces(self) -> Iterator[tuple[np.ndarray, ClaimTable, MemberTable]]:
        """The partitions that have claims, in partition order, one at a time."""
        for p in range(self.parts):
            got = self.partition(p)
            if got is not None:
                yield got

    def member_rows_given(self, column: str) -> list[int]:
        """The members file's rows (or lines) with an amount other than 0 in `column`, ascending."""
        rows: list[int] = []
        for p in range(self.parts):
            t = self.files.read("members", p, [column, ROW])
            if t is not None:
                rows += t.column(ROW).to_numpy()[opens(t.column(column))].tolist()
        return sorted(rows)

    def scan(self, columns: list[str]) -> Iterator[pa.Table]:
        """Some columns of every partition's claims (with `_index`, each claim's row of the claims table)."""
        for p in range(self.parts):
            t = self.files.read("claims", p, columns + [INDEX])
            if t is not None:
                yield t


@contextlib.contextmanager
def bucketed(claims: str | Path, members: str | Path, items: str | Path | None = None, *, parts: int,
             chunk_rows: int = CHUNK_ROWS, folder: str | Path | None = None) -> Iterator[Buckets]:
    """Read, check and bucket the input files into `parts` partitions in a temporary folder (under
    `folder`, or the system's temporary directory), removed on leaving, also on an error. Raises
    InputFilesError with every problem of every file, as `files.read_inputs` does, before anything
    is yielded."""
    tmp = Path(tempfile.mkdtemp(prefix="benefits-simulate-", dir=folder))
    try:
        b = Buckets(tmp, max(1, parts))
        _fill(b, claims, members, items, chunk_rows)
        yield b
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _fill(b: Buckets, claims, members, items, chunk_rows: int) -> None:
    """Read the files into `b`'s buckets, check what needs the whole file a bucket at a time, and
    raise InputFilesError with every problem found; else note in `b` the counts and the tables."""
    chunks = _Chunks(b.files, has_items=items is not None)
    read = _read_inputs(b.files, chunks, claims, items, members, chunk_rows)
    late = _Late()
    items_name = str(items) if items is not None else None
    # checks across the whole file, a bucket at a time
    if read.claims.readable and (read.items is None or read.items.readable):
        _check_claims(b.files, read, late, items_name)
    if read.members.readable:
        _check_members(b.files, read, late)
    _raise_problems(read, late)
    b.count = chunks.claims
    b.items_count = chunks.items
    b.claims, b.members = read.claims.first, read.members.first
    if items is not None:
        b.claims.items_name = items_name


class _Chunks:
    """The `step` of `_read_file` for each input file: checks a chunk and writes its rows to their
    buckets, numbering the claims and the line items in the file's order."""

    def __init__(self, files: _Files, has_items: bool):
        self.files, self.parts, self.has_items = files, files.parts, has_items
        self.claims = 0  # the claims so far (the next claim's `_index`)
        self.items = 0  # the line items so far

    def claim(self, seq: int, raw, problems) -> ClaimTable:
        """Claims by member; their ids (with row, bill given, partition) by claim id, for the checks."""
        if seq == 0:
            self.claims = 0
        ct = claims_from_raw(raw, problems, unique=False)
        if not self.has_items:
            no_bill_without_items(ct, problems)
        n = len(ct)
        index = np.arange(self.claims, self.claims + n, dtype=np.int64)
        self.claims += n
        ids = ct.table.column("member_id")
        rows = pa.array(raw.rows, pa.int64())
        table = ct.table.append_column(INDEX, pa.array(index)).append_column(ROW, rows)
        self.files.write("claims", seq, table, _bucket_of(ids, self.parts))
        cids = ct.table.column("claim_id")
        keys = pa.table({"claim_id": cids, ROW: rows, "_given": pa.array(ct.bill_given, pa.bool_()),
                         "_part": pa.array(_bucket_of(ids, self.parts))})
        keys = keys.filter(pc.is_valid(cids))
        self.files.write("claim_ids", seq, keys, _bucket_of(keys.column("claim_id"), self.parts))
        return ClaimTable(ct.name, ct.unit, ct.table.schema.empty_table(), np.zeros(0, np.int64), ignored=ct.ignored)

    def item(self, seq: int, raw, problems) -> bool:
        """Line items and their claim ids (with row, valid), both by claim id."""
        if seq == 0:
            self.items = 0
        cid, valid, table = item_rows(raw, problems)
        cids = pa.array(cid, pa.string())
        keys = pa.table({"claim_id": cids, ROW: pa.array(raw.rows, pa.int64()), "_valid": pa.array(valid)})
        keys = keys.filter(pc.is_valid(cids))
        self.files.write("item_ids", seq, keys, _bucket_of(keys.column("claim_id"), self.parts))
        n = table.num_rows
        table = table.append_column(INDEX, pa.array(np.arange(self.items, self.items + n, dtype=np.int64)))
        self.items += n
        self.files.write("item_lines", seq, table, _bucket_of(table.column("claim_id"), self.parts))
        return True

    def member(self, seq: int, raw, problems) -> MemberTable:
        """Members by member id."""
        mt = members_from_raw(raw, problems, unique=False)
        table = mt.table.append_column(ROW, pa.array(raw.rows, pa.int64()))
        self.files.write("members", seq, table, _bucket_of(mt.table.column("member_id"), self.parts))
        return MemberTable(mt.name, mt.unit, mt.table.schema.empty_table(), np.zeros(0, np.int64), ignored=mt.ignored)


class _Inputs(NamedTuple):
    """What reading each input file gave."""

    claims: _Read
    items: _Read | None  # None without line items, or when the claims file could not be read
    members: _Read


def _read_inputs(files: _Files, chunks: _Chunks, claims, items, members, chunk_rows: int) -> _Inputs:
    """One pass over each file, chunk by chunk, into the buckets; the line items only when the claims
    file could be read."""
    c = _read_file(claims, ("claims", "claim_ids"), files, chunk_rows, chunks.claim)
    i = None
    if items is not None and c.readable:
        i = _read_file(items, ("item_ids", "item_lines"), files, chunk_rows, chunks.item)
    m = _read_file(members, ("members",), files, chunk_rows, chunks.member)
    return _Inputs(c, i, m)


@dataclass
class _Late:
    """The problems that need a whole file, found a bucket at a time."""

    dup_claims: _ByRow = field(default_factory=_ByRow)
    bill_items: _ByRow = field(default_factory=_ByRow)
    unknown_items: _ByRow = field(default_factory=_ByRow)
    dup_members: _ByRow = field(default_factory=_ByRow)
    no_member: _ByRow = field(default_factory=_ByRow)


def _check_claims(files: _Files, read: _Inputs, late: _Late, items_name: str | None) -> None:
    """Per bucket of claim ids (equal ids share one): a claim id given twice; with line items, a
    claim with both a bill and line items or neither, and a line item of no claim; then the line
    items are written to their claim's partition. The claim-id buckets are removed."""
    for k in range(files.parts):
        keys = _claim_keys(files, k)
        first = _duplicate_claims(keys, read.claims, late)
        if read.items is None:
            continue
        lines = _item_keys(files, k)
        _check_bills(keys, lines, read.claims, late, items_name)
        _unknown_items(lines, first, read, late)
        _items_to_partitions(files, k, keys, first)
    files.clear("claim_ids", "item_ids", "item_lines")


class _ClaimKeys(NamedTuple):
    """A bucket's claim ids, in the claims file's order."""

    ids: list[str]
    rows: np.ndarray  # each one's row or line number
    table: pa.Table  # also `_given` (the claim's bill was given) and `_part` (the claim's partition)


def _claim_keys(files: _Files, k: int) -> _ClaimKeys:
    """Bucket `k`'s claim ids (none where it has no file)."""
    keys = files.read("claim_ids", k)
    if keys is None:
        keys = pa.table({"claim_id": pa.array([], pa.string()), ROW: pa.array([], pa.int64()),
                         "_given": pa.array([], pa.bool_()), "_part": pa.array([], pa.int64())})
    return _ClaimKeys(keys.column("claim_id").to_pylist(), keys.column(ROW).to_numpy(), keys)


def _duplicate_claims(keys: _ClaimKeys, c: _Read, late: _Late) -> dict[str, int]:
    """Each claim id's first place among the bucket's; a later one is a problem."""
    unit = c.structure.unit
    first: dict[str, int] = {}
    for j, cid in enumerate(keys.ids):
        at = first.setdefault(cid, j)
        if at != j:
            late.dup_claims.add(InputProblem(c.values.name, int(keys.rows[j]), "claim_id", f"claim id {cid!r} "
                                             f"appears more than once (first at {unit} {int(keys.rows[at])})", unit))
    return first


class _ItemKeys(NamedTuple):
    """A bucket's line items' claim ids, in the items file's order."""

    ids: list[str]
    rows: np.ndarray | list  # each one's row or line number
    valid: list[bool]  # the line item's values are valid


def _item_keys(files: _Files, k: int) -> _ItemKeys:
    """Bucket `k`'s line items' claim ids (none where it has no file)."""
    lines = files.read("item_ids", k)
    if lines is None:
        return _ItemKeys([], [], [])
    return _ItemKeys(lines.column("claim_id").to_pylist(), lines.column(ROW).to_numpy(),
                     lines.column("_valid").to_pylist())


def _check_bills(keys: _ClaimKeys, lines: _ItemKeys, c: _Read, late: _Late, items_name: str | None) -> None:
    """A claim needs either a bill or valid line items (`files.bill_or_items`)."""
    unit = c.structure.unit
    seen = {x for x, ok in zip(lines.ids, lines.valid) if ok}
    for j, (cid, given) in enumerate(zip(keys.ids, keys.table.column("_given").to_pylist())):
        problem = bill_or_items(cid, given, cid in seen, items_name)
        if problem:
            late.bill_items.add(InputProblem(c.values.name, int(keys.rows[j]), "total", problem, unit))


def _unknown_items(lines: _ItemKeys, first: dict[str, int], read: _Inputs, late: _Late) -> None:
    """A line item whose claim id no claim has is a problem."""
    i = read.items
    for j, x in enumerate(lines.ids):
        if x not in first:
            late.unknown_items.add(InputProblem(i.values.name, int(lines.rows[j]), "claim_id",
                                                unknown_claim(x, read.claims.values.name), i.values.unit))


def _items_to_partitions(files: _Files, k: int, keys: _ClaimKeys, first: dict[str, int]) -> None:
    """The bucket's line items written to their claim's partition (bucket 0 for an item of no claim)."""
    data = files.read("item_lines", k)
    if data is not None:
        part = keys.table.column("_part").to_numpy()
        owner = np.array([part[first[x]] if x in first else 0 for x in data.column("claim_id").to_pylist()],
                         dtype=np.int64)
        files.write("items", k, data, owner)


def _check_members(files: _Files, read: _Inputs, late: _Late) -> None:
    """Per partition (a member and its claims share one): a member id given twice; a claim of no member."""
    for p in range(files.parts):
        known = _duplicate_members(files, p, read.members, late)
        if read.claims.readable:
            _claims_without_member(files, p, known, read, late)


def _duplicate_members(files: _Files, p: int, m: _Read, late: _Late) -> dict[str, int]:
    """Each member id's first place among the partition's members; a later one is a problem."""
    unit = m.structure.unit
    t = files.read("members", p, ["member_id", ROW])
    known: dict[str, int] = {}
    if t is not None:
        ids, rows = t.column("member_id").to_pylist(), t.column(ROW).to_numpy()
        for j, mid in enumerate(ids):
            if mid is None:
                continue
            at = known.setdefault(mid, j)
            if at != j:
                late.dup_members.add(InputProblem(m.values.name, int(rows[j]), "member_id", f"member id {mid!r} "
                                                  f"appears more than once (first at {unit} {int(rows[at])})", unit))
    return known


def _claims_without_member(files: _Files, p: int, known: dict[str, int], read: _Inputs, late: _Late) -> None:
    """A claim whose member id no member of its partition has is a problem."""
    c, mp = read.claims, read.members.values
    ct = files.read("claims", p, ["member_id", ROW])
    if ct is not None:
        for mid, row in zip(ct.column("member_id").to_pylist(), ct.column(ROW).to_numpy()):
            if mid is not None and mid not in known:
                late.no_member.add(InputProblem(c.values.name, int(row), "member_id",
                                                f"no member {mid!r} in {mp.name}", c.structure.unit))


def _raise_problems(read: _Inputs, late: _Late) -> None:
    """The problems as `files.read_inputs` gives them: the claims file's (with its line items'), the
    members'; a claim of no member only when there is no other problem."""
    errors: list[InputProblem] = []
    count = 0
    for side in _claims_side(read.claims, read.items, late), _members_side(read.members, late):
        errors += side.kept
        count += side.count
    if count:
        raise InputFilesError(errors[:MAX_PROBLEMS], count)
    if late.no_member.count:
        p = Problems(read.claims.values.name, read.claims.structure.unit)
        late.no_member.into(p)
        p.raise_if_any()


def _failed(r: _Read) -> Problems:
    p = Problems(r.structure.name, r.structure.unit)
    p.kept, p.count = list(r.failed.problems), r.failed.count
    return p


def _claims_side(c: _Read, i: _Read | None, late: _Late) -> Problems:
    if c.failed is not None:
        return _failed(c)
    if c.structure.count:
        return c.structure
    if i is not None and i.failed is not None:
        return _failed(i)
    if i is not None and i.structure.count:
        return i.structure
    p = c.values
    late.dup_claims.into(p)
    late.bill_items.into(p)
    if i is not None:
        late.unknown_items.into(i.values)
        p.extend(i.values)
    return p


def _members_side(m: _Read, late: _Late) -> Problems:
    if m.failed is not None:
        return _failed(m)
    if m.structure.count:
        return m.structure
    late.dup_members.into(m.values)
    return m.values


# --- what the command needs of the whole year, a partition at a time ----------------------------


def _days(pack, t: pa.Table, years: int) -> list[dt.date | None]:
    from .compare import _moved
    from .scalar import deciding_dates

    if years:
        for name in ("date", "admission_date", "discharge_date"):
            t = t.set_column(t.column_names.index(name), name, _moved(t.column(name), years))
    return deciding_dates(pack, t)


def deciding_span(pack, b: Buckets, years: int = 0) -> tuple[dt.date, dt.date] | None:
    """The earliest and latest deciding date of the claims under `pack` (moved by `years`)."""
    lo = hi = None
    for t in b.scan(["visit", "date", "admission_date", "discharge_date"]):
        days = [d for d in _days(pack, t, years) if d is not None]
        if days:
            lo = min(days) if lo is None else min(lo, min(days))
            hi = max(days) if hi is None else max(hi, max(days))
    return None if lo is None else (lo, hi)


def coverage(pack, b: Buckets, *, years: int = 0, label: str = "", hint: str = "") -> str | None:
    """`compare.coverage` of the bucketed claims (moved by `years`), a partition at a time."""
    first, last = pack.versions[0].start, pack.versions[-1].end
    outside = 0
    lo = hi = None
    example = None  # (index, row, claim id, day) of the first claim outside, in the claims file's order
    for t in b.scan(["claim_id", "visit", "date", "admission_date", "discharge_date", ROW]):
        days = _days(pack, t, years)
        index = t.column(INDEX).to_numpy()
        for j, d in enumerate(days):
            if d is None:
                continue
            lo = d if lo is None else min(lo, d)
            hi = d if hi is None else max(hi, d)
            if not (first <= d <= last):
                outside += 1
                if example is None or index[j] < example[0]:
                    example = (int(index[j]), int(t.column(ROW)[j].as_py()), t.column("claim_id")[j].as_py(), d)
    if not outside:
        return None
    _, row, cid, day = example
    msg = (f"pack {pack.name!r}{f' ({label})' if label else ''} covers {first} to {last}, but {outside:,} of "
           f"{b.count:,} claims settle outside it (the claims span {lo} to {hi}); the first is "
           f"{b.claims.name} {b.claims.unit} {row} (claim {cid!r}, deciding date {day})")
    return msg + (f". {hint}" if hint else "")
