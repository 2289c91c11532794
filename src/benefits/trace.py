"""The explanation trace: every number of a settlement, as a cashier would re-do it by hand."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Citation(BaseModel):
    """Where a value comes from: a parameter of the pack and its source text."""

    model_config = ConfigDict(frozen=True)

    parameter: str
    value: str
    source: str


class TraceStep(BaseModel):
    """One step: which rule fired, on what, with which formula, giving what, and why."""

    model_config = ConfigDict(frozen=True)

    step: str = Field(description="what this step computes, e.g. basic.deductible")
    layer: str | None = None
    rule: str = Field(description="the rule (file entry) that fired")
    explain_zh: str
    explain_en: str
    inputs: dict[str, str] = Field(default_factory=dict)
    formula: str = ""
    output: str
    citations: list[Citation] = Field(default_factory=list)


class Trace:
    """Collects steps while a claim is evaluated; a no-op when the caller does not want a trace."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.steps: list[TraceStep] = []

    def add(self, **fields) -> None:
        # Built from the engine's own strings: construct without re-validating (a measured cost).
        if self.enabled:
            fields.setdefault("layer", None)
            fields.setdefault("inputs", {})
            fields.setdefault("formula", "")
            fields.setdefault("citations", [])
            self.steps.append(TraceStep.model_construct(**fields))
