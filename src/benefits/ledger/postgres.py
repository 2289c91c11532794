"""The shared store: PostgreSQL (psycopg 3, imported only here and only when such a ledger is opened).

Each request is one READ COMMITTED transaction that first locks its member-year's row in
`member_years` (inserted when new, then SELECT ... FOR UPDATE): requests of one member-year wait for
each other, requests of different members run in parallel. Two requests that take the same new key
for different members at the same moment collide on the key's primary key; the loser is rolled back
and run again (`Retry`), and then sees the winner's row.

A wait for a lock is bounded as SQLite's busy wait is (store.BUSY_SECONDS, as the session's
lock_timeout): a request whose member-year another session holds longer gives up with StoreUnavailable,
rolled back, instead of holding a service's worker thread for as long as the other session lives.
Statements are not timed otherwise (no statement_timeout): one that runs long without waiting for a lock
is making progress (a migration's index over a large table), and cutting it would fail a request no
retry can help.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from . import store
from .errors import StoreUnavailable
from .migrations import STANDING_CLAIM_INDEX, is_current, migrate
from .store import Pool, Retry, SqlTransaction

CONNECT_SECONDS = 10


class PostgresTransaction(SqlTransaction):
    dialect = "postgresql"

    def __init__(self, cursor: Any):
        super().__init__(cursor, "%s")

    def lock(self, member_id: str, year: int) -> None:
        # lock_timeout bounds each wait for a lock, but a request queued behind another waiter waits
        # twice in one statement (the row's tuple lock, then the holder's transaction): the statements
        # taking the member-year are bounded as a whole too, so no request waits longer than BUSY_SECONDS
        deadline = time.monotonic() + store.wait_left()
        for sql in (_CREATE_MEMBER_YEAR, _LOCK_MEMBER_YEAR):
            left = max(1, round((deadline - time.monotonic()) * 1000))
            self._run("SELECT set_config('statement_timeout', ?, true)", (f"{left}ms",))
            self._run(sql, (member_id, year))
        self._run("SET LOCAL statement_timeout TO DEFAULT")


_CREATE_MEMBER_YEAR = "INSERT INTO member_years (member_id, year) VALUES (?, ?) ON CONFLICT DO NOTHING"
_LOCK_MEMBER_YEAR = "SELECT 1 FROM member_years WHERE member_id = ? AND year = ? FOR UPDATE"


def shown_url(url: str) -> str:
    """The URL as a message may show it: without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class PostgresStore:
    """A ledger in a PostgreSQL database (the schema first on the connection's search_path); its
    tables are created or migrated when it is opened."""

    def __init__(self, url: str):
        import psycopg  # here, not at the top: `import benefits` must not pay for a driver it may not use

        self._psycopg = psycopg
        self.url, self.where = url, shown_url(url)
        self._pool = Pool(self._connect)
        try:
            with self.transaction(write=False) as tx:  # as SQLite's: reading the version takes no lock
                current = is_current(lambda sql, params=(): tx.cursor.execute(sql, params), "postgresql", self.where)
            if not current:
                self._migrate()
        except BaseException:
            self._pool.close()
            raise

    def _migrate(self) -> None:
        with self.transaction(write=True) as tx:
            # Two processes opening a new ledger in the same schema at once apply its migrations once.
            tx.cursor.execute("SELECT pg_advisory_xact_lock("
                              "hashtext('benefits.ledger.migrate:' || COALESCE(current_schema(), '')))")
            migrate(lambda sql, params=(): tx.cursor.execute(sql.replace("?", "%s"), params), "postgresql", self.where)

    def _connect(self) -> Any:
        # autocommit: transactions are opened by conn.transaction() only, never implicitly by a read.
        conn = self._psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_SECONDS)
        try:  # for the session, not per transaction: one statement per connection, not one per request
            conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{store.BUSY_SECONDS * 1000:.0f}ms",))
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        errors = self._psycopg.errors
        conn, reused = None, False
        try:
            conn, reused = self._pool.take()
            yield conn
        except errors.UniqueViolation as exc:
            # the key was taken concurrently, or the claim settled concurrently for another member or in
            # another year (each request locks its own member-year): run again, it sees the winner's row
            if exc.diag.constraint_name in ("settlements_pkey", STANDING_CLAIM_INDEX):
                raise Retry() from exc
            raise
        except (errors.SerializationFailure, errors.DeadlockDetected) as exc:
            raise Retry() from exc
        except (errors.LockNotAvailable, errors.QueryCanceled):  # lock_timeout, or the lock statements' bound
            # (the transaction was rolled back; the connection is sound)
            raise StoreUnavailable((), f"the ledger {self.where} is busy: another session held a lock this request "
                                       f"needed (its member-year's, or a table's a migration changes) for more than "
                                       f"{store.BUSY_SECONDS} s; nothing was written, try again") from None
        except (self._psycopg.OperationalError, errors.InvalidSchemaName, errors.InsufficientPrivilege) as exc:
            if reused and (conn.broken or conn.closed):
                # A pooled connection the server has closed since (a restart): the request is run again on a
                # new one. Found broken, or closed when the failure reached the rollback first. Safe even if the commit went through: a settlement or reversal repeated under its
                # key is answered from the ledger, not written twice.
                raise Retry() from exc
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreUnavailable((), f"the ledger {self.where} cannot be used: {reason}") from None
        finally:
            if conn is not None:
                self._pool.give(conn, broken=conn.closed or conn.broken)

    @contextmanager
    def transaction(self, write: bool) -> Iterator[PostgresTransaction]:
        with self._connection() as conn, conn.transaction(), conn.cursor() as cursor:
            if not write:  # one snapshot for all its reads: accumulators and the entries they sum agree
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield PostgresTransaction(cursor)

    def close(self) -> None:
        self._pool.close()
