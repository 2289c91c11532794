"""Reading a year of claims as people hold them: a claims table (one row a claim, the bill already
split), an optional line-items table keyed by claim_id, and a members table (scheme, member type,
groups, account balance, opening accumulators). Parquet, JSON Lines or CSV; docs/simulation.md
gives every column.

Everything is read into Arrow tables of a fixed shape (`ClaimTable`, `MemberTable`): text as text,
dates as date32, money as int64 fen. Money is never read from a float. Every bad value is reported
with its file, row (or line) and column and what was expected (`InputFilesError.problems`); no row
is dropped.

The rooms: `problems` (what is wrong, where), `raw` (files read as columns), `reader` (columns
converted, value by value), `claims` and `members` (each table's columns and the checks across
them); `read_inputs` reads all of them at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .claims import (BILL, CLAIM_COLUMNS, CLAIM_SCHEMA, ITEM_COLUMNS, ITEM_SCHEMA, STAY_VISITS, ClaimTable,
                     bill_or_items, claims_from_raw, item_rows, no_bill_without_items, read_claims, unknown_claim)
from .members import (ENGINE_MEMBER_COLUMNS, MEMBER_COLUMNS, MEMBER_SCHEMA, MemberTable, check_members_of_claims,
                      members_from_raw, opens, read_members)
from .problems import MAX_PROBLEMS, InputFilesError, InputProblem, Problems, repeats
from .raw import (CHUNK_ROWS, NewColumns, Raw, file_format, jsonl_keys, raw_chunks, raw_from_arrow, raw_from_rows,
                  read_raw)
from .reader import MAX_FEN, Reader, date_value, money_fen

__all__ = [
    "BILL", "CHUNK_ROWS", "CLAIM_COLUMNS", "CLAIM_SCHEMA", "ENGINE_MEMBER_COLUMNS", "ITEM_COLUMNS", "ITEM_SCHEMA",
    "MAX_FEN", "MAX_PROBLEMS", "MEMBER_COLUMNS", "MEMBER_SCHEMA", "STAY_VISITS", "ClaimTable", "InputFilesError",
    "InputProblem", "MemberTable", "NewColumns", "Problems", "Raw", "Reader", "bill_or_items",
    "check_members_of_claims", "claims_from_raw", "date_value", "file_format", "item_rows", "jsonl_keys",
    "members_from_raw", "money_fen", "no_bill_without_items", "opens", "raw_chunks", "raw_from_arrow", "raw_from_rows",
    "read_claims", "read_inputs", "read_members", "read_raw", "repeats", "unknown_claim",
]


def read_inputs(claims: str | Path, members: str | Path, items: str | Path | None = None) -> tuple[ClaimTable, MemberTable]:
    """Read and check both tables (and line items); every problem of every file is reported at once."""
    errors: list[InputProblem] = []
    count = 0
    out: list[Any] = [None, None]
    for k, fn in enumerate((lambda: read_claims(claims, items), lambda: read_members(members))):
        try:
            out[k] = fn()
        except InputFilesError as exc:
            errors += exc.problems
            count += exc.count
    if count:
        raise InputFilesError(errors[:MAX_PROBLEMS], count)
    check_members_of_claims(out[0], out[1])
    return out[0], out[1]
