"""A case file (tests/cases/*.yaml): a claim, the accumulators before it, the expected result."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..dates import Count
from ..money import Money
from .accumulators import Accumulators
from .claim import BillSplit, Claim
from .filled import Filled


class ExpectedAccumulators(Filled):
    """Only the keys listed are compared."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    admissions: Count | None = None
    counters: dict[str, Money] = Field(default_factory=dict)


class ExpectedItem(Filled):
    """One line item's split (domain.md 6.2)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    fully_self_paid: Money
    over_limit: Money
    pre_self_paid: Money
    policy_range: Money


_REFUSAL = re.compile(r"(claim|accumulators)(\.[^\s:]+)*: \S")
"""An expected refusal: the path of the problem (`claim.diagnoses.0`), a colon, then its words."""


class Expected(Filled):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    error: str | None = Field(None, description=(
        "the claim is refused at this path with a message beginning with these words: "
        "'claim.visit: pack ... does not cover visit kind'; 'claim: ...' for the claim as a whole"))
    bill: BillSplit | None = None
    items: dict[str, ExpectedItem] | None = Field(None, description="line items' splits, by item id")
    deductible: Money | None = None
    payouts: dict[str, Money] | None = Field(
        None, description="payout by layer id; a layer of the pack not listed is expected to pay 0.00"
    )
    patient: Money | None = Field(None, description="psn_part_amt: total - every fund's payout")
    cash: Money | None = Field(None, description="psn_cash_pay: the patient's part less the personal account")
    accumulators: ExpectedAccumulators | None = None

    @field_validator("error")
    @classmethod
    def _words(cls, value: str | None) -> str | None:
        # A word alone is in many messages: `error: maternity` passed whatever refused a maternity claim.
        if value is not None and _REFUSAL.match(value) is None:
            raise ValueError("give the path the claim is refused at (claim, for the claim as a whole), then words "
                             "its message begins with, as the message writes them: 'claim.visit: pack ... does not "
                             f"cover', 'accumulators.counters.basic.annual: 300000.01 is above'; got {value[:60]!r}")
        return value

    @model_validator(mode="after")
    def _expects_something(self) -> "Expected":
        said = {name for name in type(self).model_fields if getattr(self, name) is not None}
        # the items and counters listed are compared, so none listed compares nothing (`items: {}`,
        # `accumulators: {counters: {}}`); `payouts: {}` does say something: every layer pays 0.00
        if self.items == {}:
            said.discard("items")
        if self.accumulators is not None and self.accumulators.admissions is None and not self.accumulators.counters:
            said.discard("accumulators")
        if not said:
            raise ValueError("nothing is expected, so nothing would be checked: give the refusal (error) or at least "
                             "one of bill, items, deductible, payouts, patient, cash, accumulators")
        return self


class CaseFile(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    description: str
    rules: str = Field(min_length=1, description="the rule pack: a folder name under rules/, or a path")
    claim: Claim
    accumulators: Accumulators | None = None
    expected: Expected
