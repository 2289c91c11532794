"""A bounded memo (备忘): what a pure function gave for each key seen, so that work repeated claim
after claim (reading the same price text, validating the same diagnosis code, working out what
the rules decide for the same kind of claim) is done once.

Bounded so that memory stays flat over millions of claims: at `limit` entries it starts over. That
is crude but predictable, and cheaper per hit than a least-recently-used order. A memo changes no
result: only a function of its key alone may be kept in one, and a key is stored only once the
function returned (an input it refuses is refused again next time).
"""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Memo(dict, Generic[K, V]):
    """`memo[key]` is `read(key)`, worked out the first time only; `build(key, make)` is the same
    for a function that needs more than its key."""

    __slots__ = ("read", "limit")

    def __init__(self, read: Callable[[K], V] | None = None, limit: int = 4096):
        super().__init__()
        self.read = read
        self.limit = limit

    def __missing__(self, key: K) -> V:
        if self.read is None:
            raise KeyError(key)
        return self.keep(key, self.read(key))

    def build(self, key: K, make: Callable[[], V]) -> V:
        """The value kept for `key`, or `make()` kept for it now."""
        found = self.get(key)
        if found is None:
            found = self.keep(key, make())
        return found

    def keep(self, key: K, value: V) -> V:
        """Keep `value` for `key` (starting over first if the memo is full); returns it."""
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value
