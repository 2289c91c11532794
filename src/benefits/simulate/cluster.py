"""`run`: settle_year in this process, or partitioned by member on a dask.distributed cluster.

Members are split by a stable hash of their id (crc32, the same in every process and run), each
partition with its members' claims and line items, so every member's claims are settled in order
within one partition. The pack is never shipped: a loaded pack holds durable-rules C state that does
not pickle (matcher/durable.py), so each worker is sent the pack's folder and loads it once. A worker
settles one partition at a time, and at most two partitions per worker are in flight, so a worker's
memory is bounded by the size of a partition, not of the year. Results are put back in the claims
table's row order: identical to settling the year in one process.
"""

from __future__ import annotations

import threading
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .arrays import as_table
from .results import Results

_PACKS: dict[str, Any] = {}  # pack folder -> loaded pack, once per process
_LOCK = threading.Lock()  # one partition at a time in a process (and one load of each pack)


def load_pack(pack_dir: str):
    """The pack in `pack_dir`, loaded once per process."""
    from ..rules.loader import load_rules

    with _LOCK:
        pack = _PACKS.get(pack_dir)
        if pack is None:
            pack = _PACKS[pack_dir] = load_rules(pack_dir)
        return pack


def settle_partition(pack_dir: str, claims: pa.Table, members: pa.Table, items: pa.Table | None,
                     year: int | None) -> Results:
    """Settle one partition with the pack of `pack_dir` (what a worker runs)."""
    from .engine import settle

    pack = load_pack(pack_dir)
    with _LOCK:
        return settle(pack, claims, members, items=items, year=year)


def partition_of(member_ids: pa.Array, parts: int) -> np.ndarray:
    """Each member's partition: crc32 of its id (UTF-8) modulo `parts`."""
    return np.array([zlib.crc32(m.encode("utf-8")) % parts for m in member_ids.to_pylist()], np.int64)


def run(pack_dir: str, claims: Any, members: Any, *, items: Any = None, year: int | None = None, client=None,
        partitions: int | None = None) -> Results:
    pack_dir = str(Path(pack_dir).resolve())
    claims, members = as_table(claims, "claims"), as_table(members, "members")
    items = None if items is None else as_table(items, "items")
    if client is None:
        return settle_partition(pack_dir, claims, members, items, year)
    from .engine import default_year

    if year is None:  # decided once for the whole year, not per partition
        year = default_year(load_pack(pack_dir), claims)
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    parts = partitions or 4 * workers
    member_ids = members.column("member_id").combine_chunks().cast(pa.string())
    member_part = partition_of(member_ids, parts)
    claim_member = pc.index_in(claims.column("member_id").combine_chunks().cast(pa.string()), value_set=member_ids)
    claim_part = np.where(claim_member.is_null().to_numpy(zero_copy_only=False), 0,
                          member_part[pc.fill_null(claim_member, 0).to_numpy(zero_copy_only=False)])
    item_part = None
    if items is not None:
        owner = pc.index_in(items.column("claim_id").combine_chunks().cast(pa.string()),
                            value_set=claims.column("claim_id").combine_chunks().cast(pa.string()))
        item_part = np.where(owner.is_null().to_numpy(zero_copy_only=False), 0,
                             claim_part[pc.fill_null(owner, 0).to_numpy(zero_copy_only=False)])

    def part(p: int):
        rows = np.flatnonzero(claim_part == p)
        sub_items = None if items is None else items.take(pa.array(np.flatnonzero(item_part == p)))
        return rows, (claims.take(pa.array(rows)), members.take(pa.array(np.flatnonzero(member_part == p))), sub_items)

    from distributed import as_completed

    results: list[Results] = []
    pending = [p for p in range(parts) if np.any(claim_part == p)]
    rows_of: dict[Any, np.ndarray] = {}
    window = as_completed()
    in_flight = 0

    def submit() -> None:
        nonlocal in_flight
        rows, data = part(pending.pop(0))
        # the partition's tables go to a worker directly (not through the scheduler), and the
        # task runs where they are
        sent = client.scatter([t for t in data if t is not None], direct=True)
        args = iter(sent)
        c, m, i = (None if t is None else next(args) for t in data)
        future = client.submit(settle_partition, pack_dir, c, m, i, year, pure=False)
        rows_of[future.key] = (rows, sent)
        window.add(future)
        in_flight += 1

    while pending and in_flight < 2 * workers:  # at most two partitions a worker in flight
        submit()
    for future in window:
        in_flight -= 1
        got: Results = future.result()
        rows, sent = rows_of.pop(future.key)
        results.append(_renumbered(got, rows))
        future.release()
        for f in sent:
            f.release()
        if pending:
            submit()
    if not results:
        return settle_partition(pack_dir, claims, members, items, year)
    return Results.concat(results)


def _renumbered(results: Results, rows: np.ndarray) -> Results:
    """A partition's results with `row` the claim's row in the whole claims table."""
    t = results.table
    whole = pa.array(rows[t.column("row").to_numpy()], pa.int64())
    t = t.set_column(t.column_names.index("row"), "row", whole)
    return Results(t, pack=results.pack, year=results.year, layers=results.layers,
                   counter_keys=results.counter_keys, not_vectorised=results.not_vectorised)
