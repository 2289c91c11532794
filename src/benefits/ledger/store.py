"""What the ledger needs of a database (`Store`, `Transaction`), and the SQL both stores share.

A store runs each request as one transaction (`Store.transaction`) in which the ledger locks the
member-year, reads, and appends; the SQL is the same for SQLite and PostgreSQL but for the
placeholders and the lock, so it is written once here (`SqlTransaction`), with `?` placeholders.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

from .balances import Delta
from .migrations import CLAIM_ID, STANDING_SETTLEMENT
from .records import Entry, Head, Record

BUSY_SECONDS = 30
"""How long a request waits for another's lock (SQLite: the file's write lock; PostgreSQL: a member-year's
row, a table a migration changes) before the store is called busy (StoreUnavailable, HTTP 503). Read
when a connection is opened."""

_DEADLINE: ContextVar[float | None] = ContextVar("benefits_ledger_deadline", default=None)


@contextmanager
def waiting_until(deadline: float) -> Iterator[None]:
    """Within the block, this request's waits for a lock end by `deadline` (time.monotonic()) in all:
    the time its caller spent queueing for the store (the service's SQLite writers' queue) counts."""
    token = _DEADLINE.set(deadline)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def wait_left() -> float:
    """The seconds this request may still wait for a lock: BUSY_SECONDS, or less inside `waiting_until`."""
    deadline = _DEADLINE.get()
    return BUSY_SECONDS if deadline is None else min(BUSY_SECONDS, max(0.0, deadline - time.monotonic()))


def waits_bounded() -> bool:
    """Whether this request runs inside `waiting_until`."""
    return _DEADLINE.get() is not None


class Retry(Exception):
    """The transaction lost a race it cannot see inside itself (another request took the same key at
    the same moment, a deadlock): it was rolled back, and running it again gives the answer."""


class Transaction(Protocol):
    def lock(self, member_id: str, year: int) -> None:
        """Serialise the member-year: until commit, no other transaction writes in it."""

    def record(self, key: str) -> Record | None: ...
    def sums(self, member_id: str, year: int) -> list[Delta]: ...
    def entries(self, member_id: str, year: int, settlement_key: str | None = None) -> list[Entry]: ...
    def records(self, member_id: str, year: int) -> list[Record]: ...
    def head(self, key: str) -> Head | None: ...
    def heads(self, member_id: str, year: int) -> list[Head]:
        """The member-year's requests in order, without their bodies."""

    def standing_settlement(self, claim_id: str) -> tuple[str, str, int] | None:
        """The key, member and year of the settlement of this claim that stands (is not reversed), if any,
        for whichever member, in whichever year."""

    def reversals_of_claim(self, member_id: str, claim_id: str) -> list[str]:
        """The keys of the reversals of the member's settlements of this claim, in any year, in order."""

    def other_pack(self, member_id: str, year: int, pack: str) -> tuple[str, str, str] | None:
        """The member-year's first standing request made under a pack other than `pack`: its key, kind
        and pack (a settlement's, or the one an opening or a credit was checked against)."""

    def next_seq(self, member_id: str, year: int) -> int: ...
    def insert(self, record: Record) -> None: ...
    def append(self, member_id: str, year: int, settlement_key: str, deltas: list[Delta]) -> None: ...
    def mark_reversed(self, key: str, by: str) -> None: ...
    def ping(self) -> None: ...


class Store(Protocol):
    def transaction(self, write: bool) -> AbstractContextManager[Transaction]:
        """One transaction: committed when the block ends, rolled back when it raises. Raises Retry when
        it lost a race, StoreUnavailable when the database cannot be used."""

    def close(self) -> None: ...


_RECORD = ("key, kind, member_id, year, seq, request_digest, pack, pack_hash, pack_version, body, created_at, "
           "reversed_by, reverses")
_HEAD = "key, kind, member_id, year, seq, reversed_by, reverses, pack, pack_hash, pack_version, created_at"
_ENTRY = "seq, member_id, year, settlement_key, counter, month, delta"


class SqlTransaction:
    """The ledger's queries on a DB-API cursor. `marker` is the driver's placeholder ('?' or '%s');
    `dialect` picks the SQL that is not the same in both (migrations.CLAIM_ID)."""

    dialect = "sqlite"

    def __init__(self, cursor: Any, marker: str = "?"):
        self.cursor, self.marker = cursor, marker

    def _run(self, sql: str, params: tuple = ()) -> Any:
        self.cursor.execute(sql.replace("?", self.marker) if self.marker != "?" else sql, params)
        return self.cursor

    def ping(self) -> None:
        self._run("SELECT 1").fetchone()

    def lock(self, member_id: str, year: int) -> None:
        pass  # a store whose transactions are serial already (SQLite's BEGIN IMMEDIATE) needs nothing more

    def record(self, key: str) -> Record | None:
        row = self._run(f"SELECT {_RECORD} FROM settlements WHERE key = ?", (key,)).fetchone()
        return None if row is None else _record(row)

    def records(self, member_id: str, year: int) -> list[Record]:
        rows = self._run(f"SELECT {_RECORD} FROM settlements WHERE member_id = ? AND year = ? ORDER BY seq",
                         (member_id, year)).fetchall()
        return [_record(row) for row in rows]

    def head(self, key: str) -> Head | None:
        row = self._run(f"SELECT {_HEAD} FROM settlements WHERE key = ?", (key,)).fetchone()
        return None if row is None else _head(row)

    def heads(self, member_id: str, year: int) -> list[Head]:
        rows = self._run(f"SELECT {_HEAD} FROM settlements WHERE member_id = ? AND year = ? ORDER BY seq",
                         (member_id, year)).fetchall()
        return [_head(row) for row in rows]

    def sums(self, member_id: str, year: int) -> list[Delta]:
        rows = self._run("SELECT counter, month, SUM(delta) FROM entries WHERE member_id = ? AND year = ? "
                         "GROUP BY counter, month ORDER BY counter, month", (member_id, year)).fetchall()
        return [(counter, month, int(total)) for counter, month, total in rows]  # PostgreSQL sums as numeric

    def entries(self, member_id: str, year: int, settlement_key: str | None = None) -> list[Entry]:
        sql = f"SELECT {_ENTRY} FROM entries WHERE member_id = ? AND year = ?"
        params: tuple = (member_id, year)
        if settlement_key is not None:
            sql, params = sql + " AND settlement_key = ?", params + (settlement_key,)
        return [Entry(*row) for row in self._run(sql + " ORDER BY seq", params).fetchall()]

    def standing_settlement(self, claim_id: str) -> tuple[str, str, int] | None:
        # Spelt as the unique index migrations.STANDING_CLAIM_INDEX is, so that it is what answers.
        row = self._run(f"SELECT key, member_id, year FROM settlements WHERE {STANDING_SETTLEMENT} "
                        f"AND {CLAIM_ID[self.dialect]} = ?", (claim_id,)).fetchone()
        return None if row is None else (row[0], row[1], int(row[2]))

    def reversals_of_claim(self, member_id: str, claim_id: str) -> list[str]:
        rows = self._run(f"SELECT reversed_by FROM settlements WHERE member_id = ? AND kind = 'settle' AND reversed_by "
                         f"IS NOT NULL AND {CLAIM_ID[self.dialect]} = ? ORDER BY year, seq", (member_id, claim_id))
        return [row[0] for row in rows.fetchall()]

    def other_pack(self, member_id: str, year: int, pack: str) -> tuple[str, str, str] | None:
        row = self._run("SELECT key, kind, pack FROM settlements WHERE member_id = ? AND year = ? AND kind <> 'reverse' "
                        "AND reversed_by IS NULL AND pack IS NOT NULL AND pack <> ? ORDER BY seq LIMIT 1",
                        (member_id, year, pack)).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def next_seq(self, member_id: str, year: int) -> int:
        row = self._run("SELECT COALESCE(MAX(seq), 0) + 1 FROM settlements WHERE member_id = ? AND year = ?",
                        (member_id, year)).fetchone()
        return int(row[0])

    def insert(self, r: Record) -> None:
        self._run(f"INSERT INTO settlements ({_RECORD}) VALUES ({', '.join('?' * 13)})",
                  (r.key, r.kind, r.member_id, r.year, r.seq, r.request_digest, r.pack, r.pack_hash,
                   None if r.pack_version is None else r.pack_version.isoformat(), r.body,
                   self.timestamp(r.created_at), r.reversed_by, r.reverses))

    def timestamp(self, when: dt.datetime) -> Any:
        return when  # PostgreSQL keeps a timestamptz; SQLite's store writes ISO text

    def append(self, member_id: str, year: int, settlement_key: str, deltas: list[Delta]) -> None:
        if deltas:
            self.cursor.executemany(
                "INSERT INTO entries (member_id, year, settlement_key, counter, month, delta) VALUES (?, ?, ?, ?, ?, ?)"
                .replace("?", self.marker),
                [(member_id, year, settlement_key, counter, month, delta) for counter, month, delta in deltas])

    def mark_reversed(self, key: str, by: str) -> None:
        self._run("UPDATE settlements SET reversed_by = ? WHERE key = ? AND reversed_by IS NULL", (by, key))
        if self.cursor.rowcount != 1:  # the ledger locked the member-year and checked: a second reversal is a bug
            raise RuntimeError(f"settlement {key!r} was not open for reversal")


def _record(row: tuple) -> Record:
    (key, kind, member_id, year, seq, digest, pack, pack_hash, version, body, created, reversed_by, reverses) = row
    return Record(key, kind, member_id, int(year), int(seq), digest, pack, pack_hash, _day(version), body,
                  _moment(created), reversed_by, reverses)


def _head(row: tuple) -> Head:
    key, kind, member_id, year, seq, reversed_by, reverses, pack, pack_hash, version, created = row
    return Head(key, kind, member_id, int(year), int(seq), reversed_by, reverses, pack, pack_hash, _day(version),
                _moment(created))


def _day(version: str | None) -> dt.date | None:
    return None if version is None else dt.date.fromisoformat(version)


def _moment(created) -> dt.datetime:
    """A request's time: SQLite stores the text, PostgreSQL's driver reads a timestamp."""
    return dt.datetime.fromisoformat(created) if isinstance(created, str) else created


class Pool:
    """Open connections for reuse, one per concurrent transaction: threads of one process (a service's
    workers) each take one, so a slow request never waits on a connection another one holds."""

    def __init__(self, connect: Callable[[], Any], keep: int = 8):
        self._connect, self._keep = connect, keep
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False

    def take(self) -> tuple[Any, bool]:
        """A connection, and whether it was used before (a server restarted since may have closed it)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the ledger is closed")
            if self._idle:
                return self._idle.pop(), True
        return self._connect(), False

    def give(self, conn: Any, broken: bool = False) -> None:
        with self._lock:
            if not broken and not self._closed and len(self._idle) < self._keep:
                self._idle.append(conn)
                return
        _close(conn)

    def close(self) -> None:
        with self._lock:
            self._closed, idle, self._idle = True, self._idle, []
        for conn in idle:
            _close(conn)


def _close(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # noqa: BLE001 - a connection that cannot even close is gone already
        pass
