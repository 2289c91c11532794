"""Bounded memos (备忘): what a pure function gave for each key seen, so that work repeated claim
after claim (reading the same price text, validating the same diagnosis code, working out what
the rules decide for the same kind of claim) is done once.

Bounded so that memory stays flat over millions of claims: at its limit a memo starts over. That
is crude but predictable, and cheaper per hit than a least-recently-used order. A memo changes no
result: only a function of its key alone may be kept in one, and a key is kept only once the
function returned (an input it refuses is refused again next time).

A memo read on every claim is a plain dict, looked up with `get` and filled with `keep`: a dict
subclass is measurably slower to look up in. `Memo` is the same policy as a dict subclass that
calls its function itself, for memos of text read during validation.
"""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

LIMIT = 4096
"""The entries a memo of the calculator's keeps (one per kind of claim seen): far above the few
hundred kinds a year of claims shows."""


def keep(memo: dict, key, value, limit: int = LIMIT):
    """Keep `value` for `key` in `memo`, starting over first if it holds `limit` entries; returns `value`."""
    if len(memo) >= limit:
        memo.clear()
    memo[key] = value
    return value


class Memo(dict, Generic[K, V]):
    """`memo[key]` is `read(key)`, worked out the first time only."""

    __slots__ = ("read", "limit")

    def __init__(self, read: Callable[[K], V], limit: int = LIMIT):
        super().__init__()
        self.read = read
        self.limit = limit

    def __missing__(self, key: K) -> V:
        return keep(self, key, self.read(key), self.limit)
