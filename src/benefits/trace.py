"""The explanation trace: every number of a settlement, as a cashier would re-do it by hand.

The engine records steps as data while it computes (`Recorder`: which step, which rule, the numbers
in fen and ratio units, the parameter values read); `render.py` turns them into the text of
`TraceStep`s, in Chinese and English, once the claim is settled. The layers never write text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

# Plain dataclasses, not pydantic models: a settlement holds dozens of steps, built by the engine
# from its own strings, and constructing models was the largest cost of an evaluation (bench/).
# Pydantic still validates, serialises and documents them as fields of `Settlement`.


_ASSUMED = re.compile(r"(?:^|[:;,]\s*)assumed\b")


def is_assumed(source: str) -> bool:
    """A value whose source says it is assumed, in whole ("assumed: ...") or in part ("...; at
    level 1: assumed"): a reader is told it awaits the published document."""
    return _ASSUMED.search(source) is not None


@dataclass(frozen=True, slots=True)
class Citation:
    """Where a value comes from: a parameter of the pack, its value and its source text."""

    parameter: str
    value: str
    source: str

    @property
    def assumed(self) -> bool:
        return is_assumed(self.source)


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
    site: str | None = None  # file:line of the rule in its pack, so a settlement explains itself without it
    basis: str | None = None  # the policy text the step's layer encodes (its `citation:`)


class Step(NamedTuple):
    """A step as recorded: `what` names its shape for the renderer (e.g. 'basic_fund.deductible'),
    `data` holds its numbers (fen, ratio units) and words, `cites` the parameter values it read.

    A tuple: the recorder appends a step's fields as a plain tuple, one allocation per step (a claim
    records a dozen), and the renderer reads steps by position."""

    what: str
    step: str
    rule: str
    layer: str | None
    data: dict
    cites: tuple = ()


class Recorder:
    """The steps of one claim, in order. The calculator makes one only when a trace is asked for."""

    __slots__ = ("steps",)

    def __init__(self) -> None:
        self.steps: list[Step] = []

    def add(self, what: str, step: str, rule: str, layer: str | None, data: dict, cites: tuple = ()) -> None:
        self.steps.append((what, step, rule, layer, data, cites))
