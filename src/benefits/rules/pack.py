"""A loaded rule pack: validated files, dated parameters, compiled conditions and a matcher."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import cached_property
from decimal import Decimal

from ..conditions import Node
from ..errors import ClaimError
from ..matcher import Matcher
from ..money import fmt, fmt_ratio
from ..trace import Citation
from .model import LayerFile, PackFile


@dataclass(frozen=True)
class ParameterValue:
    """One parameter's value in force on a date, with where it comes from."""

    name: str
    description: str
    unit: str  # yuan | percent | points
    start: dt.date
    value: Decimal
    source: str
    file: str
    line: int | None

    @property
    def text(self) -> str:
        if self.unit == "percent":
            return fmt_ratio(self.value)
        if self.unit == "points":
            return f"{self.value:+f} points"
        return fmt(self.value)

    @cached_property
    def citation(self) -> Citation:
        """This value as a trace citation (built once)."""
        return Citation(self.name, self.text, self.source)

    @property
    def assumed(self) -> bool:
        return self.source.startswith("assumed")


@dataclass(frozen=True)
class Parameter:
    name: str
    description: str
    unit: str
    values: tuple[ParameterValue, ...]  # sorted by start date

    def at(self, day: dt.date) -> ParameterValue:
        current = None
        for v in self.values:
            if v.start <= day:
                current = v
        if current is None:  # the loader guarantees coverage from the first version
            raise ClaimError(f"parameter {self.name!r} has no value on {day}")
        return current


@dataclass(frozen=True)
class Version:
    start: dt.date
    end: dt.date  # inclusive


_RANGE = re.compile(r"^([A-Z])(\d{2})(?:-([A-Z])(\d{2}))?$")


@dataclass(frozen=True)
class DiseaseList:
    """An ICD-10 category range list, e.g. hypertension = I10-I15."""

    name: str
    ranges: tuple[tuple[str, int, int], ...]

    @staticmethod
    def parse_range(text: str) -> tuple[str, int, int]:
        m = _RANGE.match(text)
        if not m or (m.group(3) and (m.group(3) != m.group(1) or int(m.group(4)) < int(m.group(2)))):
            raise ValueError(f"expected an ICD-10 category or range such as I10 or I10-I15, got {text!r}")
        lo = int(m.group(2))
        return (m.group(1), lo, int(m.group(4)) if m.group(4) else lo)

    def contains(self, code: str) -> bool:
        code = code.strip().upper()
        if len(code) < 3 or not (code[1:3].isascii() and code[1:3].isdigit()):  # '²³' is a digit to isdigit
            return False
        letter, num = code[0], int(code[1:3])
        return any(letter == l and lo <= num <= hi for l, lo, hi in self.ranges)


@dataclass
class RulePack:
    """Everything `evaluate` needs from one jurisdiction's rule folder."""

    meta: PackFile
    directory: str
    versions: tuple[Version, ...]
    parameters: dict[str, Parameter]
    layers: tuple[LayerFile, ...]
    diseases: tuple[DiseaseList, ...]
    rules: dict[str, Node]  # rule id -> condition, every `when:` in the pack
    sites: dict[str, tuple[str, int | None]]  # rule id -> (file, line)
    matcher: Matcher
    required_fields: frozenset[str] = frozenset()  # optional member fields the conditions read
    counters: dict[str, str] = field(default_factory=dict)
    monthly_counters: frozenset[str] = frozenset()  # kept per month, as name@YYYY-MM

    @property
    def name(self) -> str:
        return self.meta.pack

    def version_for(self, day: dt.date) -> Version:
        """The parameter version in force on `day`; a day no version covers is refused."""
        for v in self.versions:
            if v.start <= day <= v.end:
                return v
        first, last = self.versions[0].start, self.versions[-1].end
        raise ClaimError(
            f"no version of the rules covers {day}: pack {self.name!r} covers {first} to {last}"
        )

    def param(self, name: str, day: dt.date) -> ParameterValue:
        return self.parameters[name].at(day)

    def highest(self, name: str) -> Decimal:
        """The largest value a parameter takes in any version (a bound for sanity checks)."""
        return max(v.value for v in self.parameters[name].values)

    def disease_of(self, codes: list[str]) -> str:
        """The name of the pack's disease list the primary diagnosis falls in, or 'none'."""
        if codes:
            for d in self.diseases:
                if d.contains(codes[0]):
                    return d.name
        return "none"
