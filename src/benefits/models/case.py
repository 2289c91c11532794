"""A case file (tests/cases/*.yaml): a claim, the accumulators before it, the expected result."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ..money import Money
from .accumulators import Accumulators
from .claim import BillSplit, Claim


class ExpectedAccumulators(BaseModel):
    """Only the keys listed are compared."""

    model_config = ConfigDict(extra="forbid")

    admissions: int | None = None
    counters: dict[str, Money] = Field(default_factory=dict)


class Expected(BaseModel):
    model_config = ConfigDict(extra="forbid")

    error: str | None = Field(None, description="the claim is refused with a message containing this")
    bill: BillSplit | None = None
    deductible: Money | None = None
    payouts: dict[str, Money] | None = Field(None, description="every layer of the pack, by id")
    patient: Money | None = None
    accumulators: ExpectedAccumulators | None = None


class CaseFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str
    rules: str = Field(description="the rule pack: a folder name under rules/, or a path")
    claim: Claim
    accumulators: Accumulators | None = None
    expected: Expected
