"""Fund-impact simulation (基金测算): a year of claims replayed under a rule pack, member by member.

    import benefits
    from benefits import simulate

    pack = benefits.load_rules("rules/jiangmen")
    results = simulate.settle_year(pack, claims, members)          # one process
    results = simulate.run("rules/jiangmen", claims, members, client=client)   # dask.distributed
    results.table                   # pyarrow.Table, one row a claim (columns: simulate.columns)
    results.column("paid.basic")    # numpy int64, fen
    results.not_vectorised          # why some claims were settled by benefits.evaluate instead

How it settles. Each member's claims are put in order (deciding date, then claim id); step k
settles the k-th claim of every member at once, so every accumulator a claim reads is the one its
member's earlier claims left (domain.md 6.10). Within a step, claims are grouped by what the
rules can tell apart: the fields the pack's conditions and parameter breakdowns read, and the
parameter version in force on the deciding date. The pack's own matcher says once per group which
rules fire; each layer kind then pays every claim of the step in integer fen with numpy, with the
group's parameters, exactly as its scalar `pay()` does (`simulate/kinds/`). Claims the vectorised
kinds cannot settle (a pack refusal, a counter out of bounds, a kind without a vectorised
counterpart: `NotVectorisable`) are settled by `benefits.evaluate` itself, with the same
accumulators, so the results are the scalar engine's, claim by claim, in every case.

Money is int64 fen throughout, ratios integer parts per million, every payout rounded once, half up.
Column schema of claims, items, members and results: `benefits.simulate.columns`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import columns
from .errors import NotVectorisable, SimulationInputError
from .results import Results

if TYPE_CHECKING:
    from distributed import Client

    from ..rules.pack import RulePack

Table = Any  # a pyarrow.Table, or a mapping of column name -> sequence (list, numpy or pyarrow array)


def settle_year(pack: "RulePack", claims: Table, members: Table, *, items: Table | None = None,
                year: int | None = None) -> Results:
    """Settle a year of claims of many members under `pack`, in this process.

    `claims`, `members` (with their opening accumulators) and optional line `items` follow
    `benefits.simulate.columns`. `year` is the calendar year the accumulators are kept for; by
    default, the year of the earliest deciding date (a claim settling in another year is refused,
    as `benefits.evaluate` refuses accumulators of another year).

    Returns one result row per claim, in the claims table's order. A claim the engine refuses (bill
    parts that do not add up, a pack refusal, a counter out of bounds, ...) is not an error: its row
    is `refused`, with the engine's message. Raises SimulationInputError (a BenefitsError) naming
    the table, column and row of input the columns cannot hold: a missing column, a float amount, a
    member id no member has, an opening counter the pack does not keep.
    """
    from .engine import settle

    return settle(pack, claims, members, items=items, year=year)


def run(pack_dir: str, claims: Table, members: Table, *, items: Table | None = None, year: int | None = None,
        client: "Client | None" = None, partitions: int | None = None) -> Results:
    """`settle_year` under the pack in folder `pack_dir`, in process or on a dask cluster.

    The pack is the folder's files as they are when the call begins (loaded once per version). With
    `client=None` the year is settled in this process. With a `distributed.Client`, members are
    split into `partitions` (default: 4 per worker) by a stable hash of their id, each with its own
    claims and items; each worker loads the pack from `pack_dir` itself, once per version (a loaded
    pack holds durable-rules C state that cannot be pickled, so the folder path and the pack's
    content hash are shipped, never the pack; the folder must be readable by the workers and hold
    the same files there, else PackMismatchError), and settles one partition at a time. Results
    come back in the claims table's row order, identical to the in-process run.
    """
    from .cluster import run as _run

    return _run(pack_dir, claims, members, items=items, year=year, client=client, partitions=partitions)


def compile_pack(pack: "RulePack"):
    """The vectorised evaluator compiled from `pack` (its layers, kinds and parameters): what
    `settle_year` uses; compiled once per pack and kept with it. Exposed for benchmarks and tools."""
    from .compiled import compiled

    return compiled(pack)


__all__ = ["NotVectorisable", "Results", "SimulationInputError", "columns", "compile_pack", "run", "settle_year"]
