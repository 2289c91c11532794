"""The explanation trace: every number of a settlement, as a cashier would re-do it by hand."""

from __future__ import annotations

from dataclasses import dataclass, field

# Plain dataclasses, not pydantic models: a settlement holds dozens of steps, built by the engine
# from its own strings, and constructing models was the largest cost of an evaluation (bench/).
# Pydantic still validates, serialises and documents them as fields of `Settlement`.


@dataclass(frozen=True, slots=True)
class Citation:
    """Where a value comes from: a parameter of the pack, its value and its source text."""

    parameter: str
    value: str
    source: str


@dataclass(slots=True)
class TraceStep:
    """One step: which rule fired (`rule`), what it computes (`step`, e.g. basic.deductible), on
    what (`inputs`), with which formula and numbers, giving what (`output`), and why (the
    explanations and the citations of the parameters used)."""

    step: str
    rule: str
    explain_zh: str
    explain_en: str
    output: str
    layer: str | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    formula: str = ""
    citations: list[Citation] = field(default_factory=list)


class Trace:
    """Collects steps while a claim is evaluated; a no-op when the caller does not want a trace."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.steps: list[TraceStep] = []

    def add(self, step: str, rule: str, explain_zh: str, explain_en: str, output: str, layer: str | None = None,
            inputs: dict[str, str] | None = None, formula: str = "", citations: list[Citation] | None = None) -> None:
        """Record a step (callers build its text only when `enabled`: formatting is most of its cost)."""
        if self.enabled:
            self.steps.append(TraceStep(step, rule, explain_zh, explain_en, output, layer,
                                        {} if inputs is None else inputs, formula, [] if citations is None else citations))
