"""The embedded store: one SQLite file (stdlib sqlite3), in WAL mode.

Every write transaction starts with BEGIN IMMEDIATE, which takes the file's write lock at once: the
requests of all members are serialised, which is what an embedded ledger (a command line, a single
service process) needs, and the member-year lock comes with it. Readers do not wait for writers.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..yamlio import is_dir
from . import store
from .errors import StoreUnavailable
from .migrations import is_current, migrate
from .store import Pool, Retry, SqlTransaction


class SqliteTransaction(SqlTransaction):
    def timestamp(self, when: dt.datetime) -> str:
        return when.isoformat()


class SqliteStore:
    """A ledger in one SQLite file, created with its tables when absent."""

    def __init__(self, path: str):
        if path in ("", ":memory:"):
            raise StoreUnavailable((), f"{path or 'an empty path'}: give the ledger a file; an in-memory one "
                                       "would be lost, and each connection would see its own")
        if path.startswith("file:"):
            raise StoreUnavailable((), f"{path}: give the ledger a file path or sqlite:///path, not a file: URI")
        self.where = path
        self._pool = Pool(self._connect)
        try:
            self._migrate()
        except BaseException:
            self._pool.close()
            raise

    def _migrate(self) -> None:
        """Bring the schema up to date. Read first: a ledger at the current schema (every open but the
        first after a release) takes no write lock, so a reader (`ledger show`) does not wait for a
        writer. Otherwise on a connection of its own, with foreign-key enforcement off: a migration
        that rebuilds a table drops the old one while other tables refer to it by name (SQLite's
        documented procedure for changing a table). The references are checked before the commit,
        and the connection is closed: pooled ones always enforce them."""
        with self.transaction(write=False) as tx:
            if is_current(lambda sql, params=(): tx.cursor.execute(sql, params), "sqlite", self.where):
                return
        with self._connection(own=True) as conn:
            conn.execute("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction: set before BEGIN
            with self._begin(conn, write=True) as tx:
                migrate(lambda sql, params=(): tx.cursor.execute(sql, params), "sqlite", self.where)
                broken = conn.execute("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise StoreUnavailable((), f"the ledger {self.where} has {len(broken)} row(s) whose references "
                                               f"do not resolve (first in table {broken[0][0]}); it was changed "
                                               "outside the ledger, and is left as it was")

    def _connect(self) -> sqlite3.Connection:
        if is_dir(Path(self.where)):  # False for a name the system cannot look up (too long): connect says why
            raise sqlite3.OperationalError("is a folder; expected a ledger file")
        # isolation_level=None: the ledger says BEGIN and COMMIT itself, the module adds none.
        # check_same_thread=False: a pooled connection serves one thread at a time, not always the same.
        conn = sqlite3.connect(self.where, timeout=store.BUSY_SECONDS, isolation_level=None, check_same_thread=False)
        try:
            self._into_wal(conn)
            conn.execute("PRAGMA synchronous=FULL")  # a committed settlement survives a power cut
            conn.execute("PRAGMA foreign_keys=ON")
        except BaseException:
            conn.close()
            raise
        return conn

    @staticmethod
    def _into_wal(conn: sqlite3.Connection) -> None:
        """Put the file in WAL mode, waiting as a write would. Switching a new file to WAL reads it and
        then takes its exclusive lock; when several connections do so at once, SQLite answers
        SQLITE_BUSY at once rather than call the busy handler (waiting could deadlock), so the wait
        is ours. The mode is stored in the file, so later connections find it set and never wait."""
        deadline = time.monotonic() + store.BUSY_SECONDS
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise
            time.sleep(0.002)

    @contextmanager
    def _connection(self, own: bool = False) -> Iterator[sqlite3.Connection]:
        """A pooled connection, or with `own` a new one closed afterwards."""
        conn, broken = None, False
        try:
            conn = self._connect() if own else self._pool.take()[0]
            yield conn
        except sqlite3.IntegrityError as exc:
            # Cannot happen under BEGIN IMMEDIATE; answered as PostgreSQL's store answers a lost race.
            if "settlements.key" in str(exc):
                raise Retry() from exc
            raise
        except sqlite3.OperationalError as exc:
            broken = True
            busy = "locked" in str(exc) or "busy" in str(exc)
            raise StoreUnavailable((), f"the ledger {self.where} "
                                       + (f"is busy: another process held it for more than {store.BUSY_SECONDS} s"
                                          if busy else f"cannot be used: {exc}")) from None
        except sqlite3.DatabaseError as exc:
            broken = True
            raise StoreUnavailable((), f"the ledger {self.where} cannot be read: {exc}") from None
        finally:
            if conn is not None:
                if own:
                    conn.close()
                else:
                    self._pool.give(conn, broken)

    @contextmanager
    def transaction(self, write: bool) -> Iterator[SqliteTransaction]:
        with self._connection() as conn, self._begin(conn, write) as tx:
            yield tx

    @staticmethod
    @contextmanager
    def _begin(conn: sqlite3.Connection, write: bool) -> Iterator[SqliteTransaction]:
        bounded = write and store.waits_bounded()
        if bounded:  # the time already spent queueing counts: wait for the file's lock only what is left
            conn.execute(f"PRAGMA busy_timeout = {round(store.wait_left() * 1000)}")
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        finally:
            if bounded:
                conn.execute(f"PRAGMA busy_timeout = {round(store.BUSY_SECONDS * 1000)}")
        try:
            yield SqliteTransaction(conn.cursor())
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        self._pool.close()
