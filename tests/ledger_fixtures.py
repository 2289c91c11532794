"""Ledger stores for tests: the PostgreSQL server to test against, and plain connections to a ledger's
database. The fixtures that make the stores (`postgres_url`, `ledger_url`, `ledger`) are in conftest.py;
this module needs no pytest, so that bench/service.py can use it through service_fixtures.

The server is BENEFITS_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432/test). Several test
runs share it at once, so each test gets a freshly created schema with a unique name (its URL sets the
search_path), dropped afterwards.

    from ledger_fixtures import count, holding, raw
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

POSTGRES_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
POSTGRES = os.environ.get("BENEFITS_TEST_POSTGRES") or POSTGRES_DEFAULT
STORES = ["sqlite", "postgresql"]


def with_search_path(url: str, schema: str) -> str:
    """`url` whose connections use `schema` first (libpq's `options`)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-csearch_path={schema}"))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def store_kind(url: str) -> str:
    """The store a ledger URL names: 'postgresql' or 'sqlite'."""
    return "postgresql" if url.startswith(("postgresql://", "postgres://")) else "sqlite"


def raw(url: str):
    """A plain connection to a ledger's database (SQLite file or PostgreSQL schema), autocommit, to look
    at or tamper with its tables as another program would: `raw(url).execute(sql)`."""
    if url.startswith("postgresql://"):
        import psycopg

        return psycopg.connect(url, autocommit=True)
    import sqlite3

    return sqlite3.connect(url, isolation_level=None)


def count(url: str, table: str) -> int:
    conn = raw(url)
    try:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


@contextmanager
def holding(url: str, member_id: str, year: int):
    """A second connection holding, until the block ends, the lock a request of `member_id`'s `year` needs:
    SQLite's write lock (a write transaction of another process), PostgreSQL's member-year row
    (locked FOR UPDATE by another session, as a slow request would)."""
    conn = raw(url)
    try:
        if store_kind(url) == "postgresql":
            conn.execute("INSERT INTO member_years (member_id, year) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                         (member_id, year))
            conn.autocommit = False  # the next statement opens the transaction that holds the row
            conn.execute("SELECT 1 FROM member_years WHERE member_id = %s AND year = %s FOR UPDATE", (member_id, year))
        else:
            conn.execute("BEGIN IMMEDIATE")
        yield conn
    finally:
        conn.rollback()
        conn.close()
