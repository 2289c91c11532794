"""The result of a simulation: one row a claim, as a pyarrow Table of int64 fen (结算结果表)."""

from __future__ import annotations

from collections import Counter
from typing import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .columns import AFTER, PAID


class Results:
    """A settled year: `table` (columns: `benefits.simulate.columns`, rows in the claims table's
    order), with what it was settled under.

    `layers`: the pack's layer ids in paying order (`paid.<layer>` columns); `counter_keys`: the
    counters kept (`after.<key>` columns); `not_vectorised`: reason -> number of claims settled by
    the scalar engine for that reason (empty when every claim was settled by the vectorised kinds).
    """

    def __init__(self, table: pa.Table, *, pack: str, year: int, layers: tuple[str, ...],
                 counter_keys: tuple[str, ...], not_vectorised: dict[str, int] | None = None):
        self.table = table
        self.pack, self.year, self.layers, self.counter_keys = pack, year, tuple(layers), tuple(counter_keys)
        self.not_vectorised: dict[str, int] = dict(not_vectorised or {})

    def __len__(self) -> int:
        return self.table.num_rows

    def __repr__(self) -> str:
        return (f"Results(pack={self.pack!r}, year={self.year}, claims={len(self)}, refused={self.refused}, "
                f"scalar={sum(self.not_vectorised.values())})")

    @property
    def column_names(self) -> list[str]:
        return self.table.column_names

    def column(self, name: str) -> np.ndarray:
        """One column as numpy: int64 for amounts (a masked array where the column has nulls, as
        `ratio` has for claims without a basic-fund layer), object for text, datetime64 for dates."""
        col = self.table.column(name)
        if pa.types.is_integer(col.type) and col.null_count:
            mask = col.is_null().to_numpy(zero_copy_only=False)
            return np.ma.masked_array(pc.fill_null(col, 0).to_numpy(), mask=mask)
        return col.to_numpy()

    @property
    def refused(self) -> int:
        """How many claims were refused (status `refused`)."""
        return int(pc.sum(pc.equal(self.table.column("status"), "refused")).as_py() or 0)

    def paid(self, layer: str) -> np.ndarray:
        """What layer `layer` paid on each claim, fen."""
        return self.column(PAID + layer)

    def after(self, key: str) -> np.ndarray:
        """Counter `key` after each claim, fen."""
        return self.column(AFTER + key)

    @staticmethod
    def concat(parts: Iterable["Results"]) -> "Results":
        """Results of partitions of one claims table, as one, in the claims table's row order."""
        parts = list(parts)
        if not parts:
            raise ValueError("no results to concatenate")
        first = parts[0]
        for p in parts[1:]:
            if (p.pack, p.year, p.layers, p.counter_keys) != (first.pack, first.year, first.layers, first.counter_keys):
                raise ValueError("results of different packs, years or counters cannot be concatenated")
        table = pa.concat_tables([p.table for p in parts])
        table = table.take(pc.sort_indices(table.column("row")))
        reasons: Counter = Counter()
        for p in parts:
            reasons.update(p.not_vectorised)
        return Results(table.combine_chunks(), pack=first.pack, year=first.year, layers=first.layers,
                       counter_keys=first.counter_keys, not_vectorised=dict(reasons))
