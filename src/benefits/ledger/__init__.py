"""The ledger of accumulators (累计台账): settled claims and the counter entries they wrote.

    from benefits.ledger import open_ledger
    with open_ledger("ledger.db") as ledger:            # or sqlite:///path, postgresql://...
        done = ledger.settle("msgid-1", claim, rules)   # idempotent on the key
        ledger.reverse("msgid-2", of="msgid-1")         # compensating entries, amounts negated
        ledger.open_year("open-1", "m2", 2022, accumulators)            # balances brought in mid-year
        ledger.credit("dep-1", "m2", 2022, "personal_account.balance", "1000.00")   # 个人账户划入

A member's accumulators for a year are never stored as such: they are the sum of the entries each
settlement appended (its accumulators after minus before), each opening (the accumulators brought
in) and credit (the amount deposited) appended, and each reversal appended (the negation of what it
reverses). Every request is one transaction that serialises the member-year.
"""

from __future__ import annotations

from .errors import AlreadyReversed, HistoryConflict, KeyConflict, LedgerError, NotFound, StoreUnavailable
from .records import Credited, Entry, Head, MemberYear, Opened, Record, Reversed, Settled
from .service import Ledger, key_problem, open_ledger

__all__ = [
    "AlreadyReversed", "Credited", "Entry", "Head", "HistoryConflict", "KeyConflict", "Ledger", "LedgerError", "MemberYear",
    "NotFound", "Opened", "Record", "Reversed", "Settled", "StoreUnavailable", "key_problem", "open_ledger",
]
