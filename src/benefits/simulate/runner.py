"""Running a simulation: which engine, how the members are split, where the parts are settled.

    results = simulate(pack, "rules/jiangmen", claims, members)                    # this process
    results = simulate(pack, "rules/jiangmen", claims, members, workers=4)         # 4 local processes
    results = simulate(pack, "rules/jiangmen", claims, members, scheduler="tcp://host:8786")

Members are split into partitions by a stable hash of their id (crc32), each partition with its own
claims and line items, so that every member's claims are settled in order within one partition.
Locally a partition is settled in this process; with `workers` or `scheduler`, on a
dask.distributed cluster, where each worker loads the pack from its folder once (a loaded pack holds
durable-rules C state that cannot be pickled, so the folder is shipped, never the pack). Results
come back in the claims table's row order, identical whatever the split.

Engines: `vector` is the vectorised evaluator (`benefits.simulate.settle_year`), `scalar` settles
each claim with `benefits.evaluate` (`simulate.scalar`); `auto` takes the vectorised one when it is
installed. Both give the same Results, claim by claim.
"""

from __future__ import annotations

import math
import zlib
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import BenefitsError
from ..rules.pack import RulePack
from . import scalar
from .files import ClaimTable, MemberTable
from .results import Results

Progress = Callable[[int], None]


def vector_available() -> bool:
    try:
        from . import engine  # noqa: F401 - the vectorised evaluator, when installed
    except ImportError:
        return False
    return True


def engine_name(engine: str) -> str:
    """The engine `auto` stands for, here."""
    if engine == "auto":
        return "vector" if vector_available() else "scalar"
    if engine == "vector" and not vector_available():
        raise BenefitsError("the vectorised evaluator (benefits.simulate.engine) is not installed here; "
                            "use --engine scalar")
    if engine not in ("vector", "scalar"):
        raise BenefitsError(f"unknown engine {engine!r}; expected auto, vector or scalar")
    return engine


def settle_part(pack: RulePack, claims: pa.Table, members: pa.Table, items: pa.Table | None, year: int,
                engine: str, progress: Progress | None = None) -> Results:
    """One partition in this process, with the engine named ('vector' or 'scalar')."""
    if engine == "scalar":
        return scalar.settle_year(pack, claims, members, items=items, year=year, progress=progress)
    from . import settle_year

    results = settle_year(pack, claims, members, items=items, year=year)
    if progress is not None:
        progress(claims.num_rows)
    return results


_PACKS: dict[str, RulePack] = {}


def _settle_remote(pack_dir: str, claims: pa.Table, members: pa.Table, items: pa.Table | None, year: int,
                   engine: str) -> Results:
    """A partition on a dask worker: the pack is loaded from its folder once per worker process."""
    pack = _PACKS.get(pack_dir)
    if pack is None:
        from ..rules.loader import load_rules

        pack = _PACKS[pack_dir] = load_rules(pack_dir)
    return settle_part(pack, claims, members, items, year, engine)


def partition_of(member_ids: list[str], parts: int) -> np.ndarray:
    """Each member's partition: crc32 of the id (stable across runs and machines) modulo `parts`."""
    return np.fromiter((zlib.crc32(m.encode("utf-8")) % parts for m in member_ids), dtype=np.int64,
                       count=len(member_ids))


def year_of(pack: RulePack, claims: pa.Table) -> int:
    """The accumulator year: that of the earliest deciding date."""
    days = [d for d in scalar.deciding_dates(pack, claims) if d is not None]
    if not days:
        raise BenefitsError("no claims to settle")
    return min(days).year


def simulate(pack: RulePack, pack_dir: str, claims: ClaimTable, members: MemberTable, *, year: int | None = None,
             engine: str = "auto", workers: int = 1, scheduler: str | None = None, partitions: int | None = None,
             progress: Progress | None = None) -> Results:
    """Settle every claim of `claims` under `pack` (loaded from `pack_dir`), member by member."""
    engine = engine_name(engine)
    table = claims.table
    year = year if year is not None else year_of(pack, table)
    member_table = members.engine_table()
    n = table.num_rows
    distributed = workers > 1 or scheduler is not None
    if partitions is None:
        per = 20_000 if engine == "scalar" else 250_000
        partitions = max(1, math.ceil(n / per))
        if distributed:
            partitions = max(partitions, 4 * max(workers, 1))
    if partitions == 1 and not distributed:
        return settle_part(pack, table, member_table, claims.items, year, engine, progress)
    parts = _split(table, member_table, claims.items, partitions)
    if not distributed:
        results = []
        for idx, c, m, it in parts:
            results.append(_renumber(settle_part(pack, c, m, it, year, engine, progress), idx))
        return Results.concat(results)
    return _on_cluster(pack_dir, parts, year, engine, workers, scheduler, progress)


def _split(claims: pa.Table, members: pa.Table, items: pa.Table | None, parts: int):
    cpart = partition_of(claims.column("member_id").to_pylist(), parts)
    mpart = partition_of(members.column("member_id").to_pylist(), parts)
    ipart = None
    if items is not None and items.num_rows:
        owner = dict(zip(claims.column("claim_id").to_pylist(), cpart.tolist()))
        ipart = np.array([owner.get(c, -1) for c in items.column("claim_id").to_pylist()], dtype=np.int64)
    out = []
    for p in range(parts):
        idx = np.flatnonzero(cpart == p)
        if not len(idx):
            continue
        its = items.take(pa.array(np.flatnonzero(ipart == p))) if ipart is not None else None
        out.append((idx, claims.take(pa.array(idx)), members.take(pa.array(np.flatnonzero(mpart == p))), its))
    return out


def _renumber(results: Results, idx: np.ndarray) -> Results:
    """A partition's results with `row` the claim's row in the whole claims table."""
    t = results.table
    rows = pa.array(idx[t.column("row").to_numpy()], pa.int64())
    t = t.set_column(t.column_names.index("row"), "row", rows)
    return Results(t, pack=results.pack, year=results.year, layers=results.layers,
                   counter_keys=results.counter_keys, not_vectorised=results.not_vectorised)


def _on_cluster(pack_dir: str, parts, year: int, engine: str, workers: int, scheduler: str | None,
                progress: Progress | None) -> Results:
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is not None:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        futures = {}
        for idx, c, m, it in parts:
            f = client.submit(_settle_remote, pack_dir, c, m, it, year, engine, pure=False)
            futures[f] = (idx, c.num_rows)
        results = []
        for f in as_completed(list(futures)):
            idx, count = futures[f]
            results.append(_renumber(f.result(), idx))
            if progress is not None:
                progress(count)
        return Results.concat(results)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def check_openings(pack: RulePack, members: MemberTable) -> None:
    """Every opening counter column names a counter of the pack (a typo would otherwise start every
    member of the column from nothing, silently)."""
    from .files import InputFilesError, InputProblem

    problems = []
    for name in members.counters:
        base, _, month = name.partition("@")
        if base not in pack.counters:
            problems.append(InputProblem(members.name, None, f"opening.{name}",
                                         f"pack {pack.name!r} keeps no counter {base!r}; it keeps: {', '.join(pack.counters)}"))
        elif (base in pack.monthly_counters) != bool(month):
            problems.append(InputProblem(members.name, None, f"opening.{name}",
                                         f"{base!r} is kept per month: name the column opening.{base}@YYYY-MM"
                                         if base in pack.monthly_counters else f"{base!r} is a yearly counter, written without @"))
    if problems:
        raise InputFilesError(problems)


def refused(results: Results) -> list[tuple[int, str, str]]:
    """(row, claim id, message) of every refused claim."""
    t = results.table
    mask = pc.equal(t.column("status"), "refused").to_numpy(zero_copy_only=False)
    idx = np.flatnonzero(mask)
    rows = t.column("row").to_numpy()
    ids = t.column("claim_id").to_pylist()
    msgs = t.column("message").to_pylist()
    return [(int(rows[i]), ids[i], msgs[i]) for i in idx]
