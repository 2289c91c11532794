"""What a simulation raises, or records instead of raising."""

from __future__ import annotations

from ..errors import BenefitsError


class SimulationInputError(BenefitsError):
    """Input the simulation's columns cannot hold: a missing column, a float amount, a member id no
    member has, bill parts that do not add up, ... The message names the table, column and row."""

    def __init__(self, table: str, column: str | None, message: str, row: int | None = None):
        self.table, self.column, self.row = table, column, row
        where = table + (f".{column}" if column else "") + (f" row {row}" if row is not None else "")
        super().__init__(f"{where}: {message}")


class ClusterError(BenefitsError):
    """The Dask cluster could not settle a partition: its worker was lost each time it was sent, or the
    scheduler went away. Neither the input nor a bug; nothing is written, and the run can be repeated."""


class NotVectorisable(Exception):
    """Something in a pack the vectorised evaluator does not settle itself (a layer kind without a
    vectorised counterpart, say). Raised while compiling; the claims it concerns are settled by
    the scalar engine (`benefits.evaluate`), and `reason` is counted in `Results.not_vectorised`."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class PackMismatchError(BenefitsError):
    """A worker's rule pack folder does not hold the files the run loaded (edited since the run began,
    or another host's copy): settling there would use other rules than the run reports."""
