"""What the ledger hands back: counter entries (台账分录), stored requests, and the results of a
settlement (结算), a reversal (冲正), an opening (期初余额导入) and a credit (个人账户划入)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from ..models.accumulators import Accumulators
from ..money import from_fen

ADMISSIONS = "admissions"
"""The counter name under which entries count admissions (住院次数), in units, not fen."""

Kind = Literal["settle", "reverse", "opening", "credit"]
"""A stored request's kind. Settlements, openings and credits append entries of their own; a reversal
appends the negation of one of theirs."""


def _stands(kind: Kind, reversed_by: str | None) -> bool:
    return kind != "reverse" and reversed_by is None


@dataclass(frozen=True, slots=True)
class Entry:
    """One change of one counter, appended by a settlement, an opening, a credit or a reversal; never
    changed afterwards. A balance is the sum of its entries. `settlement_key` is the key of the request
    that appended it, whatever its kind."""

    seq: int
    member_id: str
    year: int
    settlement_key: str
    counter: str
    month: str  # 'YYYY-MM' for a counter kept per month, '' for a yearly one
    delta: int  # fen; a count for `admissions`

    @property
    def accumulator_key(self) -> str:
        """The counter's name as `Accumulators.counters` spells it: `name` or `name@YYYY-MM`."""
        return f"{self.counter}@{self.month}" if self.month else self.counter

    @property
    def amount(self) -> Decimal:
        """The delta in yuan (two decimals), or the count for `admissions`."""
        return Decimal(self.delta) if self.counter == ADMISSIONS else from_fen(self.delta)


@dataclass(frozen=True, slots=True)
class Record:
    """A stored request (settlement, reversal, opening or credit) and the body it was answered with.
    An opening or a credit names a pack only when it was checked against one; its `pack_version` is
    None (no date picks a version), as are a reversal's of such a request."""

    key: str
    kind: Kind
    member_id: str
    year: int
    seq: int  # order of the member-year's requests, from 1
    request_digest: str
    pack: str | None
    pack_hash: str | None
    pack_version: dt.date | None
    body: str
    created_at: dt.datetime
    reversed_by: str | None = None  # a settlement's, opening's or credit's reversal, once there is one
    reverses: str | None = None  # a reversal's settlement, opening or credit

    @property
    def stands(self) -> bool:
        """A settlement, opening or credit not reversed: its entries count in the balances."""
        return _stands(self.kind, self.reversed_by)


@dataclass(frozen=True, slots=True)
class Head:
    """A stored request without its body: what the ledger's checks and its listings read of a
    member-year's history. A body holds the whole settlement, each line item's split included
    (megabytes for a long stay), and a check or a listing that read every one of them would grow with
    the member's year; `Ledger.get(key)` reads one body."""

    key: str
    kind: Kind
    member_id: str
    year: int
    seq: int
    reversed_by: str | None
    reverses: str | None
    pack: str | None
    pack_hash: str | None
    pack_version: dt.date | None
    created_at: dt.datetime

    @property
    def stands(self) -> bool:
        """A settlement, opening or credit not reversed: its entries count in the balances."""
        return _stands(self.kind, self.reversed_by)


@dataclass(frozen=True, slots=True)
class MemberYear:
    """A member's year in the ledger, read at one moment: the accumulators, the entries that add up to
    them (in order) and the requests (settlements, reversals, openings, credits) that appended them
    (in order), without their bodies (`Ledger.get(key)` reads one)."""

    member_id: str
    year: int
    accumulators: Accumulators
    entries: tuple[Entry, ...]
    history: tuple[Head, ...]


@dataclass(frozen=True, slots=True)
class Settled:
    """The answer to a settlement (2207 / 2304): `body` is the stored JSON, the same bytes on every
    replay of the same request (`replayed`); a replay of one reversed since names the reversal's key
    (`reversed_by`): the body is as first answered, but the settlement no longer counts."""

    key: str
    body: str
    replayed: bool
    member_id: str
    year: int
    reversed_by: str | None = None


@dataclass(frozen=True, slots=True)
class Opened:
    """The answer to an opening (a member-year's accumulators brought into the ledger): `body` is the
    stored JSON (bodies.OpeningBody), the same bytes on every replay of the same request (`replayed`);
    `reversed_by` as for Settled."""

    key: str
    body: str
    replayed: bool
    member_id: str
    year: int
    reversed_by: str | None = None


@dataclass(frozen=True, slots=True)
class Credited:
    """The answer to a credit (a deposit into a balance counter): `body` is the stored JSON
    (bodies.CreditBody), `balance` the counter's value right after the credit, as stored; `reversed_by`
    as for Settled."""

    key: str
    body: str
    replayed: bool
    member_id: str
    year: int
    counter: str
    balance: Decimal
    reversed_by: str | None = None


@dataclass(frozen=True, slots=True)
class Reversed:
    """The answer to a reversal (2208 / 2305): `body` is the stored JSON (amounts negated), `later`
    the keys of the member-year's settlements made after the reversed one, not reversed themselves,
    that counted its amounts (none when it changed no counter) and are not re-settled; always none
    for the reversal of an opening or a credit, which such settlements forbid."""

    key: str
    body: str
    replayed: bool
    of: str
    member_id: str
    year: int
    later: tuple[str, ...]
