"""Partitions by member, and settling them on a dask.distributed cluster: the one place that talks
to `distributed`.

Members are split by a stable hash of their id (crc32, the same in every process and run), each
partition with its members' claims and line items, so every member's claims are settled in order
within one partition. The pack is never shipped: a loaded pack holds durable-rules C state that does
not pickle (matcher/durable.py), so each worker is sent the pack's folder and the content hash of the
pack the client loaded, and loads it once per hash; files there that hash otherwise (edited since, or
another host's copy) stop the run (PackMismatchError) rather than settle it under other rules. A worker
settles one partition at a time, and at most two partitions per worker are in flight, so a worker's
memory is bounded by the size of a partition, not of the year. Partitions come back in the order
they were given, each with its rows of the whole claims table: put together they are identical to
settling the year in one process.

    results = run("rules/jiangmen", claims, members, client=client)     # benefits.simulate.run
"""

from __future__ import annotations

import contextlib
import threading
import zlib
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .arrays import as_table
from .errors import ClusterError, PackMismatchError
from .results import Results

_PACKS: dict[str, Any] = {}  # content hash -> loaded pack, once per process
_LOCK = threading.Lock()  # one partition at a time in a process (and one load of each pack)


def load_pack(pack_dir: str, content_hash: str):
    """The pack whose files hash to `content_hash` (RulePack.content_hash), loaded from `pack_dir` once
    per process. Keyed by the hash, not the folder: a worker outlives runs, and a folder edited between
    two of them must not settle the second under the first's rules. PackMismatchError when the files
    in `pack_dir` here hash otherwise."""
    with _LOCK:
        pack = _PACKS.get(content_hash)
        if pack is None:
            pack = _load(pack_dir)
            if pack.content_hash != content_hash:
                raise PackMismatchError(_mismatch(pack_dir, content_hash, pack.content_hash))
        return pack


def _load(pack_dir: str):
    """The pack in `pack_dir` as its files are now, the cached one if its hash is known (with the
    vectorised evaluator compiled for it); call with _LOCK held."""
    from ..rules.loader import load_rules

    pack = load_rules(pack_dir)
    known = _PACKS.get(pack.content_hash)
    if known is not None:
        return known
    # one version a folder: an edit makes the version it replaces one no run loading the folder now
    # asks for (a run still using it finds its folder edited mid-run, and stops)
    for stale in [h for h, p in _PACKS.items() if p.directory == pack.directory]:
        del _PACKS[stale]
    _PACKS[pack.content_hash] = pack
    return pack


def current_pack(pack_dir: str):
    """The pack in `pack_dir` as its files are now (loaded once per version): what a run that begins
    now settles under."""
    with _LOCK:
        return _load(pack_dir)


def _mismatch(pack_dir: str, wanted: str, found: str) -> str:
    try:
        from distributed import get_worker

        where = f"the Dask worker at {get_worker().address}"
    except (ImportError, ValueError):  # not in a worker: this process read the folder a second time
        where = "this process"
    return (f"rule pack {pack_dir}: the files {where} reads there are not those the run loaded (sha256 "
            f"{found[:12]}... there, {wanted[:12]}... in the run): the folder was edited after the run began, "
            "or the copy of it there differs; make the folder the same for every worker, leave it unchanged "
            "while a run lasts, and run again")


def settle(pack, claims: pa.Table, members: pa.Table, items: pa.Table | None, year: int | None,
           engine: str = "vector", progress: Callable[[int], None] | None = None) -> Results:
    """One partition under a loaded pack with the engine named: 'vector' (`settle_year`) or 'scalar'
    (`benefits.evaluate` claim after claim)."""
    if engine == "scalar":
        from .scalar import settle_year as scalar_year

        return scalar_year(pack, claims, members, items=items, year=year, progress=progress)
    from .engine import settle as vector_year

    results = vector_year(pack, claims, members, items=items, year=year)
    if progress is not None:
        progress(claims.num_rows)
    return results


@dataclass(frozen=True)
class Spec:
    """What a worker needs besides the tables to settle one side of a partition."""

    pack_dir: str
    year: int | None
    has_items: bool
    content_hash: str  # RulePack.content_hash of the pack the client loaded: the rules to settle under


def settle_partition(engine: str, specs: list[Spec], *tables: pa.Table) -> list[Results]:
    """Settle one partition under each spec's pack, loaded from its folder (what a worker runs).
    `tables`: each spec's claims, members and (when it has them) items, one after the other."""
    args = iter(tables)
    out = []
    for spec in specs:
        claims, members = next(args), next(args)
        items = next(args) if spec.has_items else None
        pack = load_pack(spec.pack_dir, spec.content_hash)
        with _LOCK:
            out.append(settle(pack, claims, members, items, spec.year, engine))
    return out


# --- partitions ---------------------------------------------------------------------------------


def partition_of(member_ids: pa.Array, parts: int) -> np.ndarray:
    """Each member's partition: crc32 of its id (UTF-8) modulo `parts`."""
    return np.fromiter((zlib.crc32(m.encode("utf-8")) % parts for m in member_ids.to_pylist()), np.int64,
                       count=len(member_ids))


def _text(table: pa.Table, name: str) -> pa.Array:
    return table.column(name).combine_chunks().cast(pa.string())


def _groups(part: np.ndarray, parts: int) -> list[np.ndarray]:
    """The rows of each partition, in order (one stable sort, not a scan a partition)."""
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(parts + 1))
    return [order[bounds[p]:bounds[p + 1]] for p in range(parts)]


@dataclass
class Piece:
    """One partition of the tables: `rows` are its claims' rows of the whole claims table (ascending),
    `member_rows` its members' rows of the members table."""

    number: int
    rows: np.ndarray
    member_rows: np.ndarray
    claims: pa.Table
    members: pa.Table
    items: pa.Table | None


def split(claims: pa.Table, members: pa.Table, items: pa.Table | None, parts: int) -> Iterator[Piece]:
    """The partitions that have claims, one at a time (each taken from the tables when it is asked for).
    A claim whose member is not in the members table goes with partition 0 (where the engine names it)."""
    member_ids = _text(members, "member_id")
    member_part = partition_of(member_ids, parts)
    claim_member = pc.index_in(_text(claims, "member_id"), value_set=member_ids)
    claim_part = np.where(claim_member.is_null().to_numpy(zero_copy_only=False), 0,
                          member_part[pc.fill_null(claim_member, 0).to_numpy(zero_copy_only=False)])
    item_groups = None
    if items is not None:
        owner = pc.index_in(_text(items, "claim_id"), value_set=_text(claims, "claim_id"))
        item_part = np.where(owner.is_null().to_numpy(zero_copy_only=False), 0,
                             claim_part[pc.fill_null(owner, 0).to_numpy(zero_copy_only=False)])
        item_groups = _groups(item_part, parts)
    member_groups = _groups(member_part, parts)
    for p, rows in enumerate(_groups(claim_part, parts)):
        if not len(rows):
            continue
        sub_items = None if item_groups is None else items.take(pa.array(item_groups[p]))
        yield Piece(p, rows, member_groups[p], claims.take(pa.array(rows)),
                    members.take(pa.array(member_groups[p])), sub_items)


def renumbered(results: Results, rows: np.ndarray) -> Results:
    """A partition's results with `row` the claim's row in the whole claims table."""
    t = results.table
    whole = pa.array(rows[t.column("row").to_numpy()], pa.int64())
    t = t.set_column(t.column_names.index("row"), "row", whole)
    return Results(t, pack=results.pack, year=results.year, layers=results.layers,
                   counter_keys=results.counter_keys, not_vectorised=results.not_vectorised)


# --- the cluster --------------------------------------------------------------------------------


def _client_of(scheduler: str):
    """A client of the scheduler at `scheduler`, within distributed's connect timeout. A peer that takes
    the connection and never answers held distributed's handshake for ever, and one that answers with
    other bytes ended in its own errors (a MemoryError, a ValueError): the client is made in a thread
    waited for a bounded time, and whatever stops it is ClusterError naming the address."""
    import dask
    from dask.utils import parse_timedelta
    from distributed import Client

    seconds = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), default="s")
    made: dict[str, Any] = {}

    def make() -> None:
        try:
            made["client"] = Client(scheduler, timeout=seconds)
        except BaseException as exc:  # noqa: BLE001 - said below, in the caller's thread
            made["error"] = exc

    thread = threading.Thread(target=make, name="benefits-scheduler-connect", daemon=True)
    thread.start()
    thread.join(seconds + 5)  # its own timeout, and time to say so
    if thread.is_alive():
        raise ClusterError(f"cannot reach the Dask scheduler at {scheduler}: it took the connection and did not "
                           f"answer as a Dask scheduler within {seconds:g} s")
    if "error" in made:
        exc = made["error"]
        if isinstance(exc, OSError):  # refused, unreachable, timed out, a name that does not resolve
            raise ClusterError(f"cannot reach the Dask scheduler at {scheduler}: {exc}"[:1000])
        raise ClusterError(f"cannot reach the Dask scheduler at {scheduler}: what answered there is not a Dask "
                           f"scheduler ({type(exc).__name__})")
    client = made["client"]
    try:  # without workers, each partition waited a connect timeout three times, then was 'lost' 3 times
        client.wait_for_workers(1, timeout=seconds)
    except TimeoutError:
        client.close()
        raise ClusterError(f"the Dask scheduler at {scheduler} has no workers: none joined within {seconds:g} s "
                           f"(distributed.comm.timeouts.connect); start some, such as `dask worker {scheduler}`, "
                           "and run again") from None
    return client


@contextlib.contextmanager
def connect(workers: int = 1, scheduler: str | None = None):
    """A client of the scheduler at `scheduler`, or of a LocalCluster of `workers` processes (one
    thread each) started here and closed on exit."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with _client_of(scheduler) as client:
            yield client
        return
    # ":0": the scheduler serves HTTP even without a dashboard, on 8787 unless told; a random port
    # spares a second run on the machine the warning that 8787 is taken
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0") as lc, \
            Client(lc) as client:
        yield client


def worker_count(client) -> int:
    return max(1, len(client.scheduler_info().get("workers", {})))


SENDS = 3
"""Times a partition is sent before the run gives up: its tables live only on the worker they were
scattered to, so when that worker is lost the scheduler cannot compute them again; they are sent again."""


def _lost(exc: BaseException) -> bool:
    """Whether `exc` says the cluster lost the work (a worker killed, a connection closed), not that
    the work failed (the engine's own errors, which would fail again the same way)."""
    from concurrent.futures import CancelledError

    from distributed import KilledWorker

    return isinstance(exc, (CancelledError, KilledWorker, OSError, TimeoutError))


def _scheduler_gone(client) -> bool:
    """Whether the client has given up its scheduler (killed mid-run: distributed tries to reconnect for
    its timeout, then closes the client, and every call after fails with its own RuntimeError)."""
    return getattr(client, "status", "running") in ("closing", "closed")


def _said(exc: BaseException, client) -> BaseException:
    """`exc` as the run reports it: ClusterError where the scheduler is gone, else `exc` itself."""
    if not _scheduler_gone(client):
        return exc
    return ClusterError(f"lost the Dask scheduler ({type(exc).__name__}: {exc}); nothing was written; run again "
                        "once the scheduler is back")


def on_cluster(client, pieces: Iterable[tuple[Any, list[Spec], list[pa.Table]]], engine: str = "vector"
               ) -> Iterator[tuple[Any, list[Results]]]:
    """Settle each piece (tag, specs, tables) on the cluster (`settle_partition`), yielding (tag,
    results per spec) in the order the pieces were given. At most two pieces a worker are in flight,
    so neither this process nor a worker holds more than that many partitions at a time. A piece whose
    worker is lost is sent again (SENDS in all); then ClusterError."""
    window = 2 * worker_count(client)
    source = iter(pieces)
    flight: deque = deque()

    def send(tables: list[pa.Table], specs: list[Spec]):
        # the partition's tables go to a worker directly (not through the scheduler), and the task
        # runs where they are; hash=False: equal tables of two partitions (an empty items table, the
        # same claims under packs A and B) get keys of their own, which one partition's release
        # cannot take from the other
        sent = client.scatter(list(tables), direct=True, hash=False)
        return client.submit(settle_partition, engine, specs, *sent, pure=False), sent

    def submit() -> bool:
        try:
            tag, specs, tables = next(source)
        except StopIteration:
            return False
        try:
            future, sent = send(tables, specs)
        except Exception as exc:  # noqa: BLE001 - sent again when its turn comes (or given up then)
            if not _lost(exc) or _scheduler_gone(client):
                raise _said(exc, client) from None
            future, sent = None, []
        flight.append((tag, specs, tables, future, sent))
        return True

    while len(flight) < window and submit():
        pass
    while flight:
        tag, specs, tables, future, sent = flight.popleft()
        for attempt in range(1, SENDS + 1):
            try:
                if future is None:
                    future, sent = send(tables, specs)
                got = future.result()
                break
            except Exception as exc:  # noqa: BLE001 - the cluster's failures, told from the engine's
                if not _lost(exc) or _scheduler_gone(client):
                    raise _said(exc, client) from None
                if attempt == SENDS:
                    raise ClusterError(f"the Dask cluster lost the partition's worker {SENDS} times "
                                       f"({type(exc).__name__}: {exc}); nothing was written; run again, "
                                       "or with fewer or more stable workers") from None
                future = None
        future.release()
        for f in sent:
            f.release()
        submit()
        yield tag, got


def run(pack_dir: str, claims: Any, members: Any, *, items: Any = None, year: int | None = None, client=None,
        partitions: int | None = None) -> Results:
    """`benefits.simulate.run` (its docstring says what it does)."""
    pack_dir = str(Path(pack_dir).resolve())
    claims, members = as_table(claims, "claims"), as_table(members, "members")
    items = None if items is None else as_table(items, "items")
    pack = current_pack(pack_dir)
    if client is None:
        return settle(pack, claims, members, items, year)
    from .engine import default_year

    if year is None:  # decided once for the whole year, not per partition
        year = default_year(pack, claims)
    parts = partitions or 4 * worker_count(client)
    spec = [Spec(pack_dir, year, items is not None, pack.content_hash)]
    pieces = ((p.rows, spec, [t for t in (p.claims, p.members, p.items) if t is not None])
              for p in split(claims, members, items, parts))
    results = [renumbered(got[0], rows) for rows, got in on_cluster(client, pieces)]
    if not results:
        return settle(pack, claims, members, items, year)
    return Results.concat(results)
