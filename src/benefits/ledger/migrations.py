"""The ledger's schema, as numbered migrations per SQL dialect, applied when a store is opened.

`schema_version` holds one row per migration applied. Opening first reads the version (`is_current`),
taking no write lock, and when migrations are missing applies them in order, in the same write
transaction as reading the version again, so two processes opening a new ledger at once cannot both
apply them; a ledger written by a newer release (a version this code does not know) is refused
rather than written with assumptions it does not share. A migration is never edited once released:
a change is a new one at the end of the list.

SQLite cannot change a column's constraints in place: a migration that must rebuilds the table
(create the new one, copy, drop the old, rename the new), which SQLite's store runs with foreign-key
enforcement off and checks with PRAGMA foreign_key_check before it commits (sqlite.py).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Callable

from ..models.claim import MAX_CLAIM_ID, MAX_MEMBER_ID, id_problem
from .errors import StoreUnavailable

# Money is integer fen (BIGINT): exact, and summed exactly by both databases. A settlement row's
# `seq` orders the requests of one member-year, which the ledger serialises, so it is gapless there.
_SQLITE_V1 = (
    """CREATE TABLE settlements (
        key TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('settle', 'reverse')),
        member_id TEXT NOT NULL,
        year INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        request_digest TEXT NOT NULL,
        pack TEXT NOT NULL,
        pack_hash TEXT NOT NULL,
        pack_version TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at TEXT NOT NULL,
        reversed_by TEXT REFERENCES settlements (key),
        reverses TEXT REFERENCES settlements (key),
        UNIQUE (member_id, year, seq)
    )""",
    """CREATE TABLE entries (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        member_id TEXT NOT NULL,
        year INTEGER NOT NULL,
        settlement_key TEXT NOT NULL REFERENCES settlements (key),
        counter TEXT NOT NULL,
        month TEXT NOT NULL DEFAULT '',
        delta INTEGER NOT NULL
    )""",
    "CREATE INDEX entries_member_year ON entries (member_id, year, counter, month)",
    "CREATE INDEX entries_settlement ON entries (settlement_key)",
    # Balances are sums of entries: an entry changed or deleted would change history silently.
    """CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
        BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END""",
    """CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
        BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END""",
)

_POSTGRES_V1 = (
    # One row per member-year, locked FOR UPDATE by each request of that member-year.
    """CREATE TABLE member_years (
        member_id TEXT NOT NULL,
        year INTEGER NOT NULL,
        PRIMARY KEY (member_id, year)
    )""",
    """CREATE TABLE settlements (
        key TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('settle', 'reverse')),
        member_id TEXT NOT NULL,
        year INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        request_digest TEXT NOT NULL,
        pack TEXT NOT NULL,
        pack_hash TEXT NOT NULL,
        pack_version TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        reversed_by TEXT REFERENCES settlements (key),
        reverses TEXT REFERENCES settlements (key),
        UNIQUE (member_id, year, seq)
    )""",
    """CREATE TABLE entries (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        member_id TEXT NOT NULL,
        year INTEGER NOT NULL,
        settlement_key TEXT NOT NULL REFERENCES settlements (key),
        counter TEXT NOT NULL,
        month TEXT NOT NULL DEFAULT '',
        delta BIGINT NOT NULL
    )""",
    "CREATE INDEX entries_member_year ON entries (member_id, year, counter, month)",
    "CREATE INDEX entries_settlement ON entries (settlement_key)",
    """CREATE FUNCTION entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'ledger entries are append-only'; END $$""",
    """CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON entries
        FOR EACH STATEMENT EXECUTE FUNCTION entries_append_only()""",
)

# Version 2: openings and credits (Ledger.open_year, Ledger.credit) are stored requests too, of kinds
# 'opening' and 'credit'. They settle no claim, so no parameter version applies to them and a pack only
# when they were checked against one: pack, pack_hash and pack_version may be NULL, except a settlement's.
_COLUMNS = ("key, kind, member_id, year, seq, request_digest, pack, pack_hash, pack_version, body, created_at, "
            "reversed_by, reverses")
_KINDS = "kind IN ('settle', 'reverse', 'opening', 'credit')"
_SETTLE_PACK = "kind <> 'settle' OR (pack IS NOT NULL AND pack_hash IS NOT NULL AND pack_version IS NOT NULL)"

_SQLITE_V2 = (
    f"""CREATE TABLE settlements_v2 (
        key TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK ({_KINDS}),
        member_id TEXT NOT NULL,
        year INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        request_digest TEXT NOT NULL,
        pack TEXT,
        pack_hash TEXT,
        pack_version TEXT,
        body TEXT NOT NULL,
        created_at TEXT NOT NULL,
        reversed_by TEXT REFERENCES settlements (key),
        reverses TEXT REFERENCES settlements (key),
        UNIQUE (member_id, year, seq),
        CHECK ({_SETTLE_PACK})
    )""",
    f"INSERT INTO settlements_v2 ({_COLUMNS}) SELECT {_COLUMNS} FROM settlements",
    "DROP TABLE settlements",
    "ALTER TABLE settlements_v2 RENAME TO settlements",
)

_POSTGRES_V2 = (
    "ALTER TABLE settlements DROP CONSTRAINT settlements_kind_check",
    f"ALTER TABLE settlements ADD CONSTRAINT settlements_kind_check CHECK ({_KINDS})",
    "ALTER TABLE settlements ALTER COLUMN pack DROP NOT NULL, ALTER COLUMN pack_hash DROP NOT NULL, "
    "ALTER COLUMN pack_version DROP NOT NULL",
    f"ALTER TABLE settlements ADD CONSTRAINT settlements_settle_pack CHECK ({_SETTLE_PACK})",
)

# Version 3: a claim is settled once in its member-year: two settlements of one claim id that both stand
# (neither reversed) are refused by a unique index, beside the ledger's own check (Ledger.settle). The
# claim id is read from the stored body (SettleBody.settlement.claim_id), written once and never
# changed, so the rows need no new column and a release that wrote no such column still reads them.
CLAIM_ID = {
    "sqlite": "json_extract(body, '$.settlement.claim_id')",
    "postgresql": "((body::jsonb -> 'settlement') ->> 'claim_id')",
}
"""Per dialect, the SQL of a settlement row's claim id; a query must spell it so to use the index."""
STANDING_SETTLEMENT = "kind = 'settle' AND reversed_by IS NULL"
"""The rows the index covers: settlements not reversed."""


_SCOPES = {  # the columns a claim is settled once within, and how a message says it
    "member-year": (("member_id", "year"), "its member-year"),
    "member": (("member_id",), "two years of its member"),
    "ledger": ((), "the ledger, for two members or in two years"),
}


def _no_claim_settled_twice(dialect: str, scope: str) -> Callable[[Callable[..., Any], str], None]:
    """A step of a migration, before its unique index: the rows must not hold a claim settled twice
    already (before the ledger refused it), in one member-year (migration 3), in any two of a member's
    years (migration 4), or for any two members (migration 7). Such a ledger is refused, left unchanged at
    the version before, with the claims and keys named: which settlement to reverse is the fund's decision,
    not the migration's."""
    claim = CLAIM_ID[dialect]
    columns, said = _SCOPES[scope]
    group = ", ".join((*columns, claim))
    where = "".join(f"{c} = ? AND " for c in columns)

    def check(execute: Callable[..., Any], store: str) -> None:
        twice = execute(f"SELECT {group}, COUNT(*) FROM settlements WHERE {STANDING_SETTLEMENT} "
                        f"GROUP BY {group} HAVING COUNT(*) > 1 ORDER BY {group}").fetchall()
        if not twice:
            return
        listed = []
        for row in twice[:5]:
            owner, claim_id = row[:-2], row[-2]
            keys = [repr(key) if scope == "member-year" else f"{key!r} ({member!r}, {year})" if scope == "ledger"
                    else f"{key!r} ({year})"
                    for key, member, year in execute(f"SELECT key, member_id, year FROM settlements WHERE "
                                                     f"{STANDING_SETTLEMENT} AND {where}{claim} = ? ORDER BY member_id, "
                                                     "year, seq", (*owner, claim_id))]
            whose = (f" of member {owner[0]!r} ({owner[1]})" if scope == "member-year"
                     else f" of member {owner[0]!r}" if scope == "member" else "")
            listed.append(f"claim {claim_id!r}{whose} under keys {', '.join(keys)}")
        more = f", and {len(twice) - 5} more" if len(twice) > 5 else ""
        raise StoreUnavailable((), f"the ledger {store} holds {len(twice)} claim(s) settled more than once in "
                                   f"{said}, each settlement standing: {'; '.join(listed)}{more}. This release "
                                   "settles a claim once and cannot open it; it was left unchanged. Reverse all but "
                                   "one settlement of each claim with the release that wrote them, then open it again")

    return check


def _v3(dialect: str) -> tuple[str | Callable[[Callable[..., Any], str], None], ...]:
    return (_no_claim_settled_twice(dialect, "member-year"),
            f"CREATE UNIQUE INDEX settlements_standing_claim ON settlements (member_id, year, {CLAIM_ID[dialect]}) "
            f"WHERE {STANDING_SETTLEMENT}")


# Version 4: a claim is settled once for its member, whatever the year: a stay resent with its discharge
# moved past 31 December fell in another member-year, where version 3's index did not look, and was paid
# in both. The index over the member's years replaces version 3's, which it implies.
def _v4(dialect: str) -> tuple[str | Callable[[Callable[..., Any], str], None], ...]:
    return (_no_claim_settled_twice(dialect, "member"),
            "DROP INDEX settlements_standing_claim",
            f"CREATE UNIQUE INDEX settlements_standing_member_claim ON settlements (member_id, {CLAIM_ID[dialect]}) "
            f"WHERE {STANDING_SETTLEMENT}")


# Versions 5 and 6: nothing stands under an id this release refuses. Earlier releases took ids that look like
# others (a no-break space, a zero-width character, a decomposed or full-width letter, a space at an end, the
# U+FFFD of bytes that were not UTF-8): such a claim, resent with the id as the platform now writes it, is
# another claim or another member's, and would be paid again. Version 5 checked settlements; version 6 checks
# openings and credits too, and the ids refused since, so version 5's check is version 6's. Only the rows
# whose ids could be refused are read, by a filter each database runs (a character outside printable ASCII,
# a space at an end, a length past the bound); `id_problem` decides, on the claim id as the stored body
# holds it. SQLite's text functions and json_extract stop at a NUL, which earlier releases stored too: there
# a NUL in the member id's bytes, or one written in the body (JSON's \u0000), makes a row suspect.
# PostgreSQL's text holds no NUL.
_SUSPECT = {  # no '%' in them: psycopg reads one as a placeholder
    "sqlite": "({v} GLOB '*[^ -~]*' OR substr({v}, 1, 1) = ' ' OR substr({v}, -1) = ' ' OR length({v}) > {most} "
              "OR {v} = '')",
    "postgresql": "({v} ~ '[^ -~]' OR left({v}, 1) = ' ' OR right({v}, 1) = ' ' OR length({v}) > {most} "
                  "OR {v} = '')",
}
_NUL_IN_BODY = {"sqlite": "instr(body, '\\u0000') > 0", "postgresql": "FALSE"}
_SUSPECT_NUL = {"sqlite": f"instr(CAST(member_id AS BLOB), x'00') > 0 OR {_NUL_IN_BODY['sqlite']}",
                "postgresql": "FALSE"}


_STANDING = "kind <> 'reverse' AND reversed_by IS NULL"  # settlements, openings and credits not reversed
_STANDING_WHAT = {"settle": "settlement", "opening": "opening", "credit": "credit"}


def _nothing_under_a_refused_id(dialect: str) -> Callable[[Callable[..., Any], str], None]:
    """A step of migration 6: refuse a ledger where a settlement, an opening or a credit stands under a member
    or claim id this release refuses, left unchanged, naming them: reversing them (with the release that wrote
    them) and making them again under the ids as they are now written is the fund's step, not the
    migration's. An opening's counters under an id now refused were out of reach of the same member's claims
    under the id as now written, which started from zero: 555,000.00 of the basic cap already used was paid
    again."""
    suspect = " OR ".join((_SUSPECT[dialect].format(v="member_id", most=MAX_MEMBER_ID),
                           _SUSPECT[dialect].format(v=CLAIM_ID[dialect], most=MAX_CLAIM_ID), _SUSPECT_NUL[dialect]))

    def check(execute: Callable[..., Any], store: str) -> None:
        # the body is read (a settlement's is kilobytes) only where it writes a NUL: the claim id may hold it
        rows = execute(f"SELECT key, kind, year, member_id, {CLAIM_ID[dialect]}, CASE WHEN {_NUL_IN_BODY[dialect]} "
                       f"THEN body END FROM settlements WHERE {_STANDING} AND ({suspect}) "
                       "ORDER BY member_id, year, seq")
        refused = []
        for key, kind, year, member, claim_id, body in rows:
            if body is not None:
                claim_id = json.loads(body).get("settlement", {}).get("claim_id")
            problem = id_problem(member, "member", MAX_MEMBER_ID) or (
                isinstance(claim_id, str) and id_problem(claim_id, "claim", MAX_CLAIM_ID))
            if problem:
                whose = f"claim {claim_id!r} of member {member!r}" if kind == "settle" else f"member {member!r}"
                refused.append(f"{_STANDING_WHAT[kind]} {key!r} ({whose}, {year}): {problem}")
        if not refused:
            return
        more = f"; and {len(refused) - 5} more" if len(refused) > 5 else ""
        raise StoreUnavailable((), f"the ledger {store} holds {len(refused)} request(s) standing under an id this "
                                   f"release refuses: {'; '.join(refused[:5])}{more}. Resent with the id as written "
                                   "now, such a claim would be taken for another and paid again, and a member's "
                                   "opening or credit would be out of reach of their claims. This release cannot "
                                   "open the ledger; it was left unchanged. Reverse those requests with the release "
                                   "that wrote them, then open it again and make them again under the ids as the "
                                   "platform now writes them")

    return check


# Version 7: a claim is settled once, whoever's it is: the platform's claim ids (setl_id, mdtrt_id) are its
# own, not a member's, and a claim resent with its member id corrected (a typo, a card issued again) was
# paid to both. The index over the claim id alone replaces version 4's, which it implies.
STANDING_CLAIM_INDEX = "settlements_standing_claim_id"
"""The unique index on the standing settlements by claim id (a store maps a race lost on it to a retry)."""


def _v7(dialect: str) -> tuple[str | Callable[[Callable[..., Any], str], None], ...]:
    return (_no_claim_settled_twice(dialect, "ledger"),
            "DROP INDEX settlements_standing_member_claim",
            f"CREATE UNIQUE INDEX {STANDING_CLAIM_INDEX} ON settlements ({CLAIM_ID[dialect]}) WHERE {STANDING_SETTLEMENT}")


MIGRATIONS: dict[str, list[tuple[Any, ...]]] = {
    "sqlite": [_SQLITE_V1, _SQLITE_V2, _v3("sqlite"), _v4("sqlite"), (), (_nothing_under_a_refused_id("sqlite"),),
               _v7("sqlite")],
    "postgresql": [_POSTGRES_V1, _POSTGRES_V2, _v3("postgresql"), _v4("postgresql"), (),
                   (_nothing_under_a_refused_id("postgresql"),), _v7("postgresql")],
}
"""Per dialect, migration n (from 1) is MIGRATIONS[dialect][n - 1]: its steps in order, each a statement
or a check `step(execute, where)` that raises StoreUnavailable to leave the ledger as it was."""

_VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"


_HAS_VERSION_TABLE = {
    "sqlite": "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
    "postgresql": "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'schema_version'",
}


def is_current(execute: Callable[..., Any], dialect: str, where: str) -> bool:
    """Whether the schema is up to date, found by reading only, so that opening a ledger at the current
    schema takes no write lock (a reader need not wait for a writer). False for a new store, True when
    `migrate` has nothing to do; a schema newer than this code is refused here as there."""
    if not execute(_HAS_VERSION_TABLE[dialect]).fetchone()[0]:
        return False
    return _version(execute, dialect, where) == len(MIGRATIONS[dialect])


def _version(execute: Callable[..., Any], dialect: str, where: str) -> int:
    known = MIGRATIONS[dialect]
    found = execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0
    if found > len(known):
        raise StoreUnavailable((), f"the ledger {where} has schema version {found}, newer than this release knows "
                                   f"({len(known)}): open it with the release that wrote it, or a later one")
    return found


def migrate(execute: Callable[..., Any], dialect: str, where: str) -> int:
    """Bring the schema up to date inside the caller's transaction; the version it is at.
    `execute(sql, params=())` runs a statement and returns its cursor; `where` names the store. Reads
    the version again itself: another process may have migrated since `is_current` said no."""
    known = MIGRATIONS[dialect]
    execute(_VERSION_TABLE)
    found = _version(execute, dialect, where)
    for version in range(found + 1, len(known) + 1):
        for step in known[version - 1]:
            if callable(step):
                step(execute, where)
            else:
                execute(step)
        execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                (version, dt.datetime.now(dt.timezone.utc).isoformat()))
    return len(known)
