"""Ledger stores for tests: a SQLite file under tmp_path, and a PostgreSQL schema of its own.

Several test runs share the PostgreSQL server at once, so each test gets a freshly created schema
with a unique name (its URL sets the search_path), dropped afterwards. The server is
BENEFITS_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432/test); when it cannot be reached
the PostgreSQL tests are skipped with the reason, or fail when BENEFITS_REQUIRE_POSTGRES=1.

    from ledger_fixtures import ledger, ledger_url, postgres_url  # noqa: F401 (fixtures)
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import quote

import pytest

from benefits.ledger import open_ledger

POSTGRES = os.environ.get("BENEFITS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
STORES = ["sqlite", "postgresql"]

_unreachable: list[str] = []  # the reason, once a connection has failed: not tried again for every test


def admin():
    """An autocommit connection to the test server, or the test skipped (failed when required)."""
    import psycopg

    if not _unreachable:
        try:
            return psycopg.connect(POSTGRES, autocommit=True, connect_timeout=5)
        except psycopg.Error as exc:
            _unreachable.append(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
    reason = f"PostgreSQL at {POSTGRES} is not reachable ({_unreachable[0]}); set BENEFITS_TEST_POSTGRES"
    if os.environ.get("BENEFITS_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"{reason} (BENEFITS_REQUIRE_POSTGRES=1: the PostgreSQL tests must run)")
    pytest.skip(reason)


def with_schema(url: str, schema: str) -> str:
    """`url` with its connections' search_path set to `schema`."""
    return f"{url}{'&' if '?' in url else '?'}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture
def postgres_url():
    """A URL of the test server whose search_path is a new, empty schema, dropped after the test."""
    schema = f"ledger_test_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    with admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield with_schema(POSTGRES, schema)
    finally:
        with admin() as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=STORES)
def ledger_url(request, tmp_path):
    """A new, empty ledger's URL: a SQLite file, then a PostgreSQL schema."""
    if request.param == "sqlite":
        return str(tmp_path / "ledger.db")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def ledger(ledger_url):
    """An open ledger on each store, closed after the test."""
    with open_ledger(ledger_url) as opened:
        yield opened


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
