"""The ledger's errors. Each carries its problems with a path, as a ClaimError does, and the HTTP
status a service answers it with (`status`), so that a caller maps them without a table of its own."""

from __future__ import annotations

from ..errors import BenefitsError, ClaimProblem, Path


class LedgerError(BenefitsError):
    """A request the ledger refuses, or a store it cannot use. `problems[0].path` says which
    part of the request ("key", "of") the refusal is about; empty for the store as a whole."""

    status = 400

    def __init__(self, path: Path, message: str):
        self.problems = [ClaimProblem(path, message)]
        super().__init__(str(self.problems[0]))


class KeyConflict(LedgerError):
    """The caller's key (msgid / settlement id) is taken by a different request: a settlement of
    another claim, or a reversal of another settlement. Retrying cannot help (HTTP 409)."""

    status = 409


class NotFound(LedgerError):
    """No settlement under this key (HTTP 404)."""

    status = 404


class AlreadyReversed(LedgerError):
    """The settlement cannot be reversed (again): it was reversed under another key, or it is
    itself a reversal (冲正的冲正). HTTP 409."""

    status = 409


class HistoryConflict(LedgerError):
    """The member-year's recorded requests do not allow the request (HTTP 409): an opening of a
    member-year that already has a settlement, credit or opening that stands (one not reversed); the
    reversal of an opening or a credit that a standing settlement was made on; a settlement (or
    pre-settlement) of a claim whose settlement under another key stands (path claim.id); a request
    under a pack other than the one the member-year's standing requests were made under (path pack).
    Retrying cannot help; reversing the requests named in the message can."""

    status = 409


class StoreUnavailable(LedgerError):
    """The store cannot be opened or used: unreachable server, locked file, a schema newer than this
    code knows. Nothing was written (HTTP 503)."""

    status = 503
