"""Year-to-date accumulators (年度累计): input to every claim and output of it, never hidden state."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints

from ..dates import Count
from ..errors import described
from ..money import Money
from .checked import Checked

MAX_ADMISSIONS = 10_000
"""The most admissions a year's accumulators may count: far above any year's stays, it refuses a
typo (or a number too long to print in a trace) before it is settled."""

MIN_YEAR, MAX_YEAR = 1900, 2200
"""The calendar years accumulators are kept for. A pack covers no day outside them (the loader
refuses one), so every claim it settles has a year its accumulators can name."""

MAX_NAME = 100
"""The longest name a pack gives a parameter, a counter or a layer (rules.files.Name)."""

CounterKey = Annotated[str, StringConstraints(max_length=MAX_NAME + len("@YYYY-MM"), pattern=described(
    r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*(@[0-9]{4}-[0-9]{2})?$",
    "a counter's name of lower-case words joined by '.' or '_', and @YYYY-MM for a month's"))]
"""A counter's name as the pack declares it, or `name@YYYY-MM` for a counter kept per month: at most 108
characters, a pack's longest name and a month (a credit to a name of 100,000 characters made every read
of the member-year 200 KB). A key no pack keeps is refused when a pack reads it."""


class Accumulators(Checked):
    """What a member has used this calendar year, before (or after) a claim.

    `counters` are named by the rule pack (its `counters:` list), e.g. `basic.annual`
    (basic fund paid against the shared annual cap) or `serious_illness.base` (cumulative
    in-policy self-pay, 合规自付累计). A counter not listed is zero.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    member_id: str | None = Field(None, description="the member these belong to; checked against the claim")
    year: Count = Field(ge=MIN_YEAR, le=MAX_YEAR)
    admissions: Count = Field(0, ge=0, le=MAX_ADMISSIONS, description="inpatient admissions earlier this year")
    counters: dict[CounterKey, Money] = Field(default_factory=dict)

    def get(self, name: str) -> Decimal:
        """A counter's value, zero when absent."""
        return self.counters.get(name, Decimal("0.00"))
