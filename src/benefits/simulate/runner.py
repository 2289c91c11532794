"""Running a simulation: which engine, how many partitions, where they are settled.

    results = simulate(pack, "rules/jiangmen", claims, members)                    # this process
    results = simulate(pack, "rules/jiangmen", claims, members, workers=4)         # 4 local processes
    results = simulate(pack, "rules/jiangmen", claims, members, scheduler="tcp://host:8786")
    for part in settle_parts([Side(pack_a, dir_a, claims, members), Side(pack_b, dir_b, ...)]):
        ...                                                                        # a partition at a time

Members are split into partitions by a stable hash of their id (`cluster.split`), each partition
with its own claims and line items, so that every member's claims are settled in order within one
partition. Locally the partitions are settled one after another in this process; with `workers` or
`scheduler`, on a dask.distributed cluster (`cluster.on_cluster`), where each worker loads the pack
from its folder once per version (by content hash: the side's pack, never another). `settle_parts`
hands them over one at a time, in partition order, each settled under every side (pack A, and pack
B when comparing), so that a caller can total and write them and let them go: memory is bounded by
the partition size, not by the year. `simulate` puts them together again: results in the claims
table's row order, identical whatever the split.

Engines: `vector` is the vectorised evaluator (`benefits.simulate.settle_year`), `scalar` settles
each claim with `benefits.evaluate` (`simulate.scalar`); `auto` is the vectorised one. Both give the same Results, claim by claim.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import BenefitsError
from ..rules.pack import RulePack
from . import cluster, scalar
from .columns import OPENING
from .files import ClaimTable, MemberTable
from .results import Results

Progress = Callable[[int], None]

PARTITION_CLAIMS = {"vector": 250_000, "scalar": 20_000}
"""Claims a partition by default, per engine (the vectorised engine's working set is about 1 KB a
claim; the scalar engine reports progress within a partition)."""


def engine_name(engine: str) -> str:
    """The engine `auto` stands for, here."""
    if engine == "auto":
        return "vector"
    if engine not in ("vector", "scalar"):
        raise BenefitsError(f"unknown engine {engine!r}; expected auto, vector or scalar")
    return engine


def year_of(pack: RulePack, claims: pa.Table) -> int:
    """The accumulator year: that of the earliest deciding date."""
    days = [d for d in scalar.deciding_dates(pack, claims) if d is not None]
    if not days:
        raise BenefitsError("no claims to settle")
    return min(days).year


@dataclass
class Side:
    """Claims and members to settle under one pack (pack A; pack B when comparing, with its own,
    possibly re-dated, copy of the same claims and members, row for row)."""

    pack: RulePack
    pack_dir: str
    claims: ClaimTable
    members: MemberTable
    year: int | None = None
    source: Any = None
    """Bucketed input files (`buckets.Buckets`) to settle instead of the tables (which are then the
    files' tables without rows): each partition is read from them when it is settled."""
    years: int = 0
    """With `source`: whole years every date is moved by (`compare.redate`), for pack B."""


@dataclass
class Part:
    """One partition settled under every side: `rows` its claims' rows of the whole claims table
    (ascending); per side the partition's claims and members (their file rows kept, so `where` names
    the input file's row) and its results, `row` numbered within the partition."""

    rows: np.ndarray
    claims: list[ClaimTable]
    members: list[MemberTable]
    results: list[Results]


def partition_count(claims: int, engine: str, workers: int = 1, distributed: bool = False,
                    partition_claims: int | None = None) -> int:
    """How many partitions: about `partition_claims` claims each (default per engine); on a cluster
    at least four a worker."""
    per = partition_claims or PARTITION_CLAIMS[engine]
    parts = max(1, math.ceil(claims / per))
    return max(parts, 4 * max(workers, 1)) if distributed else parts


def settle_parts(sides: list[Side], *, engine: str = "auto", workers: int = 1, scheduler: str | None = None,
                 partitions: int | None = None, partition_claims: int | None = None,
                 progress: Progress | None = None) -> Iterator[Part]:
    """Settle the sides' claims partition by partition, yielding each partition (in partition order)
    once every side has settled it."""
    engine = engine_name(engine)
    distributed = workers > 1 or scheduler is not None
    source = sides[0].source
    if source is not None:
        from .buckets import deciding_span

        for side in sides:
            if side.year is None:
                span = deciding_span(side.pack, side.source, side.years)
                if span is None:
                    raise BenefitsError("no claims to settle")
                side.year = span[0].year
        pieces = _read_pieces(sides)
    else:
        for side in sides:
            if side.year is None:
                side.year = year_of(side.pack, side.claims.table)
        if partitions is None:
            partitions = partition_count(len(sides[0].claims), engine, workers, distributed, partition_claims)
        pieces = _split_pieces(sides, partitions)

    if not distributed:
        for rows, tables in pieces:
            results = [cluster.settle(s.pack, c.table, _engine_members(m.table), c.items, s.year, engine, progress)
                       for s, (c, m) in zip(sides, tables)]
            yield Part(rows, [c for c, _ in tables], [m for _, m in tables], results)
        return
    specs = [cluster.Spec(str(Path(s.pack_dir).resolve()), s.year, s.claims.items_name is not None
                          if s.source is not None else s.claims.items is not None, s.pack.content_hash)
             for s in sides]

    def sent():
        for rows, tables in pieces:
            flat = []
            for c, m in tables:
                flat += [c.table, _engine_members(m.table)] + ([c.items] if c.items is not None else [])
            yield (rows, tables), specs, flat

    with cluster.connect(workers, scheduler) as client:
        for (rows, tables), results in cluster.on_cluster(client, sent(), engine):
            if progress is not None:
                progress(len(rows) * len(sides))
            yield Part(rows, [c for c, _ in tables], [m for _, m in tables], results)


def _split_pieces(sides: list[Side], partitions: int):
    """(rows, [(claims, members) of each side]) of each partition of in-memory tables."""
    splits = [cluster.split(s.claims.table, s.members.table, s.claims.items, partitions) for s in sides]
    for same in zip(*splits):  # the same partition of every side (the sides are the same rows)
        yield same[0].rows, [_partition(s, p) for s, p in zip(sides, same)]


def _read_pieces(sides: list[Side]):
    """(rows, [(claims, members) of each side]) of each partition of bucketed files: read once, moved
    for a side whose dates are moved."""
    from .compare import redate

    for rows, claims, members in sides[0].source.pieces():
        yield rows, [redate(claims, members, s.years, s.pack) for s in sides]


def _partition(side: Side, piece: cluster.Piece) -> tuple[ClaimTable, MemberTable]:
    c, m = side.claims, side.members
    return (ClaimTable(c.name, c.unit, piece.claims, c.rows[piece.rows], piece.items, c.items_name, c.ignored),
            MemberTable(m.name, m.unit, piece.members, m.rows[piece.member_rows], m.ignored))


def _engine_members(members: pa.Table) -> pa.Table:
    """The columns the engines read: without `district`."""
    return members.select([c for c in members.column_names if c != "district"])


def simulate(pack: RulePack, pack_dir: str, claims: ClaimTable, members: MemberTable, *, year: int | None = None,
             engine: str = "auto", workers: int = 1, scheduler: str | None = None, partitions: int | None = None,
             progress: Progress | None = None) -> Results:
    """Settle every claim of `claims` under `pack` (loaded from `pack_dir`), member by member: the
    partitions of `settle_parts` put together, in the claims table's row order."""
    parts = settle_parts([Side(pack, pack_dir, claims, members, year)], engine=engine, workers=workers,
                         scheduler=scheduler, partitions=partitions, progress=progress)
    return Results.concat(cluster.renumbered(p.results[0], p.rows) for p in parts)


_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")  # YYYY-MM, as an opening column names a month


def check_openings(pack: RulePack, members: MemberTable, year: int | None = None,
                   given: Callable[[str], list[int]] | None = None) -> None:
    """Every opening counter column names a counter of the pack (a typo would otherwise start every
    member of the column from nothing, silently) and, given the claims' `year`, a month of that year:
    each member with an amount (not 0: an empty cell opens at 0) in a column of another year is a
    problem of its row (`given(column)`: those rows; the members table's own when None)."""
    from .files import InputFilesError, InputProblem

    problems = []
    if year is not None:
        problems += _openings_of_another_year(pack, members, year, given or members.rows_opening)
    for name in members.counters:
        base, _, month = name.partition("@")
        if base not in pack.counters:
            problems.append(InputProblem(members.name, None, f"opening.{name}",
                                         f"pack {pack.name!r} keeps no counter {base!r}; it keeps: {', '.join(pack.counters)}"))
        elif (base in pack.monthly_counters) != bool(month):
            problems.append(InputProblem(members.name, None, f"opening.{name}",
                                         f"{base!r} is kept per month: name the column opening.{base}@YYYY-MM"
                                         if base in pack.monthly_counters else f"{base!r} is a yearly counter, written without @"))
        elif month and not _MONTH.fullmatch(month):
            problems.append(InputProblem(members.name, None, f"opening.{name}",
                                         f"expected a month as YYYY-MM (01 to 12), got {month!r}"))
    if problems:
        raise InputFilesError(problems)


def _openings_of_another_year(pack: RulePack, members: MemberTable, year: int,
                              given: Callable[[str], list[int]]) -> list:
    """The rows whose opening counter is of a month outside `year`. Such a counter opens no month the
    claims settle in: the engine refuses the accumulators that carry it, so the simulation refuses
    the input before settling, whichever engine settles it."""
    from .files import InputProblem

    problems = []
    for name in members.counters:
        base, _, month = name.partition("@")
        if base not in pack.monthly_counters or not _MONTH.fullmatch(month):
            continue  # refused by name, below
        if int(month[:4]) == year:
            continue
        message = (f"a counter of {month}, but the claims are of {year}: pack {pack.name!r} opens "
                   f"{base}@{year}-01 to {base}@{year}-12")
        rows = given(f"{OPENING}{name}")
        problems += [InputProblem(members.name, row, f"{OPENING}{name}", message, members.unit) for row in rows]
        if not rows:
            problems.append(InputProblem(members.name, None, f"{OPENING}{name}", message + " (every amount is 0)"))
    return problems


def refused(results: Results) -> list[tuple[int, str, str]]:
    """(row, claim id, message) of every refused claim."""
    t = results.table
    mask = pc.equal(t.column("status"), "refused").to_numpy(zero_copy_only=False)
    idx = np.flatnonzero(mask)
    rows = t.column("row").to_numpy()
    ids = t.column("claim_id").to_pylist()
    msgs = t.column("message").to_pylist()
    return [(int(rows[i]), ids[i], msgs[i]) for i in idx]
