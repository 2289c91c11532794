"""Problems of the simulation's input files: each bad value, row or column with its file, row and
column and what was expected, kept up to MAX_PROBLEMS and raised together as one InputFilesError."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from ...errors import BenefitsError, listed
from ..errors import SimulationInputError

MAX_PROBLEMS = 1000
"""Problems kept one by one; beyond them only counted (a file of a million bad rows makes no better
report with a million lines)."""


@dataclass(frozen=True)
class InputProblem:
    """One bad value (or row, or column) of an input file: where, and what was expected.

    `row` is the line number for CSV and JSON Lines (the header is line 1 of a CSV) and the 1-based
    row number for Parquet; None for a problem of the whole file or column."""

    file: str
    row: int | None
    column: str | None
    message: str
    unit: str = "row"  # "row" (Parquet) or "line" (CSV, JSON Lines)

    def __str__(self) -> str:
        at = self.file if self.row is None else f"{self.file} {self.unit} {self.row}"
        return f"{at}{f' [{self.column}]' if self.column else ''}: {self.message}"


class InputFilesError(SimulationInputError):
    """Input files of a simulation that cannot be used: every problem found, each with its file, row
    and column (`problems`, the first MAX_PROBLEMS; `count` is how many there were in all). A
    `SimulationInputError` (a BenefitsError) whose `table`, `column` and `row` are the first problem's."""

    def __init__(self, problems: list[InputProblem], count: int | None = None):
        self.problems = list(problems)
        self.count = len(self.problems) if count is None else count
        first = self.problems[0] if self.problems else None
        self.table = first.file if first else ""
        self.column = first.column if first else None
        self.row = first.row if first else None
        lines = listed(self.problems, str, "problems")
        if self.count > len(self.problems):
            lines.append(f"... {self.count:,} problems in all; the first {len(self.problems):,} are kept")
        noun = "problem" if self.count == 1 else "problems"
        BenefitsError.__init__(self, f"the simulation's input has {self.count:,} {noun}:\n" + "\n".join(lines))


class Problems:
    """Collects problems of one file (keeps the first MAX_PROBLEMS, counts the rest)."""

    def __init__(self, name: str, unit: str):
        self.name, self.unit = name, unit
        self.kept: list[InputProblem] = []
        self.count = 0

    def add(self, row: int | None, column: str | None, message: str) -> None:
        self.count += 1
        if len(self.kept) < MAX_PROBLEMS:
            self.kept.append(InputProblem(self.name, row, column, message, self.unit))

    def extend(self, other: "Problems") -> None:
        for p in other.kept:
            if len(self.kept) < MAX_PROBLEMS:
                self.kept.append(p)
        self.count += other.count

    def raise_if_any(self) -> None:
        if self.count:
            raise InputFilesError(self.kept, self.count)


def repeats(ids: list) -> Iterator[tuple[int, int]]:
    """(index, index of its first occurrence) of every id seen before it in `ids` (None never repeats)."""
    seen: dict = {}
    for i, v in enumerate(ids):
        if v is None:
            continue
        first = seen.setdefault(v, i)
        if first != i:
            yield i, first
