"""Dates and whole numbers as input: written as themselves, never coerced from something else.

pydantic's lax mode reads an integer as a Unix timestamp (1627776000 -> 2021-08-01), a date-time
with a zone as its local date, `true` as 1 and '3' as 3: each a plausible typo that would settle
with no error. A date is a `datetime.date` (YAML's 2021-07-01) or the text YYYY-MM-DD; a count is
an int and not a bool.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import BeforeValidator, Strict

from .errors import shown
from .memo import Memo

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_day(value: object) -> dt.date:
    """A calendar date: a `date` that is not a `datetime`, or text YYYY-MM-DD (ASCII digits)."""
    if type(value) is dt.date:
        return value
    return _DAYS_READ[value] if type(value) is str else _read_day(value)


def _read_day(value: object) -> dt.date:
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a date of the calendar") from None
    raise ValueError(f"expected a date written YYYY-MM-DD, got {shown(value)}")


_DAYS_READ = Memo(_read_day, 65536)  # claims and accumulators name the days of a few years, over and over


Day = Annotated[dt.date, BeforeValidator(parse_day)]
"""A date field of a claim, accumulators, case or rule file."""

Count = Annotated[int, Strict()]
"""A whole number written as one (not true, not '3', not 3.0)."""
