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
a members file, also when it then starts with `opening`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterable

from ..columns import OPENING

if TYPE_CHECKING:
    from .problems import Problems

_SEPARATORS = re.compile(r"[\s_.\-]+")
_SHORT = 8  # letters: a money name this short allows one edit, not two, lest words match it ('portal', 'total')
_OPENING = "opening"


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
    known = list(known)
    by_fold = {folded(k): k for k in known}
    out = []
    for column in columns:
        if column in known or (openings and column.startswith(OPENING)):
            continue
        f = folded(column)
        if openings and f.startswith(_OPENING):
            out.append((column, _opening(column)))
        elif f in by_fold:
            out.append((column, by_fold[f]))
        else:
            near = [(edits(f, folded(m), _most(m)), i, m) for i, m in enumerate(money)]
            near = sorted((n, i, m) for n, i, m in near if n <= _most(m))  # the nearest, then the first
            if near:
                out.append((column, near[0][2]))
    return out


def _opening(column: str) -> str:
    """The opening column `column` probably means: `opening.` and the rest in lower case
    (`Opening.basic.annual` -> `opening.basic.annual`); the counter itself is the pack's to check."""
    start = column.lstrip(" _.-")
    rest = start[len(_OPENING):].lstrip(" _.-").lower() if start[:len(_OPENING)].casefold() == _OPENING else ""
    return OPENING + (rest or "<counter>")


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
