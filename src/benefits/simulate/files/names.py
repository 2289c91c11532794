"""Column names a file gives that the format does not know, yet that a person would read as one of
its own: a case or separator variant of a known column (`Pre_Self_Paid`, `claim-id`), a money
column misspelt (`pre_self_pay`, `over_limits`), an opening counter not written `opening.<counter>`
(`Opening.basic.annual`). Were it ignored, such a column would leave a bill part at 0 (the derived
policy range taking its amount) or a member starting the year from nothing, and the run would
settle; so each is a problem of its column, naming the column it probably means. Any other column
is not read.

The rule, as docs/simulation.md (section 1) gives it: a name is compared with the format's names
with letter case ignored and `_`, `-`, `.` and spaces removed; it is refused when it then equals a
column of the format, or is within one edit (a letter added, dropped or changed, or two neighbours
swapped) of a money column's name of up to 8 letters (`total`, `totalfen`), two of a longer one; in
a members file, also when it is `opening` in any case, a separator and a counter's name
(`Opening.basic.annual`, `OPENING_basic.annual`; not `opening_date`). It is not refused when the
column it would mean is in the file too (`Level` beside `level`): that one is read, and this one
stands for something else.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Iterable

from ..columns import OPENING

if TYPE_CHECKING:
    from .problems import Problems

_SEPARATORS = re.compile(r"[\s_.\-]+")
_SHORT = 8  # letters: a money name this short allows one edit, not two, lest words match it ('portal', 'total')


def folded(name: str) -> str:
    """`name` as the rule compares it: lower case, without `_`, `-`, `.` and spaces."""
    return _SEPARATORS.sub("", name).casefold()


def edits(a: str, b: str, most: int) -> int:
    """The edits (a letter added, dropped or changed, two neighbours swapped) from `a` to `b`, or
    most + 1 when there are more than `most` (optimal string alignment distance)."""
    if abs(len(a) - len(b)) > most:
        return most + 1  # and a long hostile name costs nothing
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return min(d[-1][-1], most + 1)


def _most(money: str) -> int:
    return 1 if len(folded(money)) <= _SHORT else 2


def misnamed(columns: Iterable[str], known: Iterable[str], money: Iterable[str], *,
             openings: bool = False) -> list[tuple[str, str]]:
    """(column, the column it probably means) for each of `columns` that the format does not know
    (`known`: every column name of the file's format, `<name>_fen` too) but that the rule above
    takes for one of them. `money`: the money columns of `known`; `openings`: a members file, whose
    `opening.<counter>` columns the members reader checks itself."""
    known, columns = list(known), list(columns)
    by_fold = {folded(k): k for k in known}
    given = set(columns)
    out = []
    for column in given:
        if column in known or (openings and column.startswith(OPENING)):
            continue
        f = folded(column)
        opening = _OPENING_COLUMN.fullmatch(column) if openings else None
        meant = (OPENING + opening[1].lower() if opening else by_fold.get(f) or _nearest(f, tuple(money)))
        # the column meant, given too, is read: this one stands for something else ('Level' beside 'level')
        if meant is not None and meant not in given:
            out.append((column, meant))
    return sorted(out, key=lambda found: columns.index(found[0]))


@lru_cache(maxsize=4096)
def _nearest(f: str, money: tuple[str, ...]) -> str | None:
    """The money column `f` (a folded name) is within the rule's edits of, the nearest, then the first."""
    near = []
    for i, m in enumerate(money):
        fm, most = folded(m), _most(m)
        # each edit brings at most one letter `fm` lacks: a cheap bound before the table (names of
        # ordinary length, thousands of them, cost the full table each otherwise)
        if len(set(f) - set(fm)) <= most:
            n = edits(f, fm, most)
            if n <= most:
                near.append((n, i, m))
    return min(near)[2] if near else None


# `opening` in any case, a separator, then a counter's name (words joined by '.'): a column the members
# reader would read, written otherwise. `opening_date` (the account's) is not one.
_OPENING_COLUMN = re.compile(r"\s*opening[\s._-]+([a-z0-9_]+(?:\.[a-z0-9_]+)+(?:@\d{4}-\d{2})?)\s*", re.IGNORECASE)


def misnamed_message(meant: str) -> str:
    """What is said of a column `misnamed` takes for `meant`."""
    return (f"not a column of the format: did you mean {meant}? Column names are matched exactly, so this one "
            f"would not be read and {meant} would be taken as absent; rename it {meant}, or, if it holds "
            "something else, to a name unlike the format's columns")


def refuse_misnamed(problems: "Problems", columns: Iterable[str], known: Iterable[str], money: Iterable[str], *,
                    openings: bool = False) -> set[str]:
    """Each column `misnamed` finds, a problem of its column; returns those columns."""
    found = misnamed(columns, known, money, openings=openings)
    for column, meant in found:
        problems.add(None, column, misnamed_message(meant))
    return {column for column, _ in found}
