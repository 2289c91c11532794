"""Accumulators as sums of entries, and the entries a settlement appends (after minus before)."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import ValidationError

from ..errors import error_message, error_path
from ..models.accumulators import Accumulators
from ..money import from_fen, to_fen
from .errors import StoreUnavailable
from .records import ADMISSIONS

Delta = tuple[str, str, int]
"""(counter, month or '', change in fen, or in admissions for `admissions`)."""


def accumulators(member_id: str, year: int, sums: Iterable[Delta]) -> Accumulators:
    """A member's accumulators for a year from the sum of each counter's entries. A counter whose
    entries add up to zero is left out: an absent counter is zero to the engine."""
    admissions, counters = 0, {}
    for counter, month, total in sums:
        if counter == ADMISSIONS:
            admissions += total
        elif total:
            counters[f"{counter}@{month}" if month else counter] = from_fen(total)
    # Validated, not constructed: a store edited by hand must not hand the engine a negative counter.
    try:
        return Accumulators.model_validate(
            {"member_id": member_id, "year": year, "admissions": admissions, "counters": dict(sorted(counters.items()))})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise StoreUnavailable((), f"the ledger's entries of member {member_id!r} for {year} do not add up to valid "
                                   f"accumulators ({'.'.join(map(str, error_path(err)))}: {error_message(err)}); "
                                   "the store was changed outside the ledger") from None


def deltas(before: Accumulators, after: Accumulators) -> list[Delta]:
    """What a settlement changed, counter by counter (zero changes left out), admissions last."""
    out: list[Delta] = []
    for key in sorted(set(before.counters) | set(after.counters)):
        change = to_fen(after.get(key)) - to_fen(before.get(key))
        if change:
            counter, _, month = key.partition("@")
            out.append((counter, month, change))
    if after.admissions != before.admissions:
        out.append((ADMISSIONS, "", after.admissions - before.admissions))
    return out
