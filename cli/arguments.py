"""Command-line values read by the rules of the files: a date is YYYY-MM-DD and a year four digits,
in ASCII, within the years a claim or the ledger holds (click alone reads `2021-7-1` as a date and
`2_021`, `+2021` or ` 2021` as a year)."""

from __future__ import annotations

import datetime as dt
import re

import typer

from benefits.dates import parse_day
from benefits.models.accumulators import MAX_YEAR as LAST_YEAR
from benefits.models.accumulators import MIN_YEAR as FIRST_YEAR  # the years accumulators and the ledger hold


def day(text: str) -> dt.date:
    """A date written YYYY-MM-DD (as a claim's, `benefits.dates.parse_day`), from FIRST_YEAR to LAST_YEAR."""
    if isinstance(text, dt.date):  # a default
        return text
    try:
        value = parse_day(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise typer.BadParameter(f"expected a date from {FIRST_YEAR}-01-01 to {LAST_YEAR}-12-31, got {text}")
    return value


def year(text: str) -> int:
    """A year written in four digits, from FIRST_YEAR to LAST_YEAR."""
    if isinstance(text, int):  # a default
        return text
    if not re.fullmatch(r"[0-9]{4}", text):
        raise typer.BadParameter(f"expected a year written in four digits, such as 2021, got {text!r}")
    value = int(text)
    if not FIRST_YEAR <= value <= LAST_YEAR:
        raise typer.BadParameter(f"expected a year from {FIRST_YEAR} to {LAST_YEAR}, got {value}")
    return value
