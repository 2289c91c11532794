"""What the layers of one claim share while it is evaluated. Built per claim, never reused."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from ..errors import ClaimError
from ..models.claim import BillSplit, Claim
from ..money import HUNDRED, ONE, ZERO, fmt, fmt_ratio
from ..rules.pack import ParameterValue, RulePack
from ..trace import Citation, Trace


@dataclass
class BasicOutcome:
    """How the basic fund treated the policy-range amount: for the patient's breakdown and for
    a layer that follows one of its caps (大额医疗补助)."""

    layer: str | None = None  # the basic-fund layer that applied, if any
    deductible: Decimal = ZERO
    co_pay: Decimal = ZERO
    above_cap: Decimal = ZERO
    ratio: Decimal | None = None
    eligible: Decimal = ZERO  # policy-range amount above the deductible
    cap_lefts: dict[str, Decimal] = field(default_factory=dict)  # cap id -> left before the claim


@dataclass
class ClaimContext:
    claim: Claim
    pack: RulePack
    day: dt.date  # the deciding date: picks parameter values
    fired: frozenset[str]  # rule ids whose conditions hold for this claim
    bill: BillSplit
    counters: dict[str, Decimal]  # accumulators, updated as layers pay
    admissions_before: int
    trace: Trace
    left: Decimal  # the policy-range amount still left to the patient after the layers so far
    basic: BasicOutcome = field(default_factory=BasicOutcome)
    values: dict[str, ParameterValue] = field(default_factory=dict)  # parameters in force on `day`

    def fires(self, rule_id: str) -> bool:
        return rule_id in self.fired

    def first(self, layer: str, section: str, rows) -> tuple[int, object] | None:
        """The first row of a decision table whose condition holds (a row without one always does)."""
        for i, row in enumerate(rows):
            if row.when is None or f"{layer}.{section}[{i}]" in self.fired:
                return i, row
        return None

    def param(self, name: str) -> ParameterValue:
        value = self.values.get(name)
        return value if value is not None else self.pack.param(name, self.day)

    def counter(self, name: str) -> Decimal:
        return self.counters.get(name, ZERO)

    def annual_cap_left(self, layer: str, rows, paid_counter: str | None) -> tuple[ParameterValue | None, Decimal | None]:
        """The first `caps` row that holds, and what `paid_counter` has left of it (None: no cap)."""
        hit = self.first(layer, "caps", rows)
        if hit is None or paid_counter is None:
            return None, None
        cap = self.param(hit[1].value)
        return cap, max(ZERO, cap.value - self.counter(paid_counter))

    def add(self, name: str, amount: Decimal) -> None:
        self.counters[name] = self.counter(name) + amount


def cite(*values: ParameterValue | None) -> list[Citation]:
    return [v.citation for v in values if v is not None]


def with_points(ratio: Decimal, points: Decimal) -> Decimal:
    """A ratio changed by percentage points (65% - 10 points = 55%), kept within 0%..100%."""
    return min(ONE, max(ZERO, ratio + points / HUNDRED))


def most_favourable(options: list, paid) -> object:
    """The option paying the most (domain.md 6.7); among equals, the first listed."""
    return max(options, key=paid)


def capped(formula: str, raw: Decimal, cap_left: Decimal | None) -> str:
    """The formula, noting the cap where it binds."""
    return formula + f"; capped at {fmt(cap_left)}" if cap_left is not None and cap_left < raw else formula


def pct(ratio: Decimal) -> str:
    return fmt_ratio(ratio)
