"""A loaded rule pack: validated files, dated parameters, compiled conditions and a matcher."""

from __future__ import annotations

import datetime as dt
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import cached_property
from decimal import Decimal
from typing import Callable, NamedTuple, TypeVar

from ..conditions import Node, fields_of, possible
from ..facts import MEMBER_FIELDS, VISIT_FIELDS, every_member
from ..errors import ClaimError
from ..matcher import Matcher
from ..memo import keep
from ..money import fmt, fmt_ratio, to_fen, trimmed
from ..trace import Citation, is_assumed
from ..kinds import CounterBound, LayerFile
from .files import PackFile, Text

T = TypeVar("T")


@dataclass(frozen=True)
class ParameterValue:
    """One parameter's value in force on a date, with where it comes from."""

    name: str
    description: Text
    unit: str  # yuan | percent | points
    start: dt.date
    value: Decimal
    source: str
    file: str
    line: int | None
    units: int = 0  # the value as the calculator holds it: fen (yuan), or RATIO units (percent, points)

    @property
    def text(self) -> str:
        if self.unit == "percent":
            return fmt_ratio(self.value)
        if self.unit == "points":
            return f"{trimmed(self.value):+f} points"  # 3 and 3.0 are one value, written one way
        return fmt(self.value)

    @cached_property
    def citation(self) -> Citation:
        """This value as a trace citation (built once)."""
        return Citation(self.name, self.text, self.source)

    @property
    def assumed(self) -> bool:
        return is_assumed(self.source)


@dataclass(frozen=True)
class Parameter:
    name: str
    description: Text
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


_NOTHING_IN_FORCE: dict = {}  # one object: layers key what they decide by the identity of these tables


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
        m = _RANGE.fullmatch(text)
        if not m or (m.group(3) and (m.group(3) != m.group(1) or int(m.group(4)) < int(m.group(2)))):
            raise ValueError(f"expected an ICD-10 category or range such as I10 or I10-I15, got {text!r}")
        lo = int(m.group(2))
        return (m.group(1), lo, int(m.group(4)) if m.group(4) else lo)

    def contains(self, code: str) -> bool:
        """The plain definition; `RulePack.disease_of` answers from a table built from the ranges,
        and tests/test_pack_tables.py holds the two to the same answers."""
        category = icd_category(code)
        return category is not None and any(
            category[0] == l and lo <= category[1] <= hi for l, lo, hi in self.ranges
        )


def icd_category(code: str) -> tuple[str, int] | None:
    """An ICD-10 code's category: 'i10.x00' -> ('I', 10); None when it has none."""
    code = code.strip().upper()
    if len(code) < 3 or not (code[1:3].isascii() and code[1:3].isdigit()):  # '²³' is a digit to isdigit
        return None
    return code[0], int(code[1:3])


@dataclass(frozen=True, slots=True)
class LayerRun:
    """A layer whose `when:` holds on a claim, and the skip steps of the layers before it that do
    not (RulePack.layer_runs); `layer` is None for the steps after the last."""

    skipped: tuple
    layer: LayerFile | None


class LiftedCapAt(NamedTuple):
    """A group of a layer whose cap it lifts, and the policy text that lifts it."""

    layer: str
    group: str
    source: str


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
    counters: dict[str, Text] = field(default_factory=dict)  # name -> its description
    monthly_counters: frozenset[str] = frozenset()  # kept per month, as name@YYYY-MM
    content_hash: str = ""  # sha256 of the files it was loaded from (loader._content_hash)
    memo: bool = True  # remember which rules fire per shape of claim (load_rules' `memo`)
    # Lookup tables derived once from the above, so that a claim does dictionary lookups only.
    _starts: list[dt.date] = field(init=False, repr=False)  # every date a parameter changes on
    _in_force: list[dict[str, ParameterValue]] = field(init=False, repr=False)  # per start: values in force
    _highest: dict[str, Decimal] = field(init=False, repr=False)
    _disease: dict[tuple[str, int], str] = field(init=False, repr=False)  # ICD-10 category -> first list
    bounds: dict[str, tuple[CounterBound, ...]] = field(init=False, repr=False)  # counter -> what it may hold
    # What follows from a claim's features alone, worked out once per combination (memo.keep)
    _limits: dict[tuple, dict[str, CounterBound]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _runs: dict[frozenset, tuple[LayerRun, ...]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _known: dict[tuple, bool] = field(default_factory=dict, init=False, repr=False, compare=False)
    _disease_by_code: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)
    _shapes: dict[tuple, object] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._starts = sorted({v.start for p in self.parameters.values() for v in p.values})
        self._in_force = [{name: p.at(day) for name, p in self.parameters.items() if p.values[0].start <= day}
                          for day in self._starts]
        self._highest = {name: max(v.value for v in p.values) for name, p in self.parameters.items()}
        bounds: dict[str, list[CounterBound]] = {}
        for layer in self.layers:
            for b in layer.bounds(lambda name: to_fen(self.highest(name))):
                bounds.setdefault(b.counter, []).append(b)
        self.bounds = {name: tuple(found) for name, found in bounds.items()}
        self._disease = {}
        for d in self.diseases:
            for letter, lo, hi in d.ranges:
                for num in range(lo, hi + 1):
                    self._disease.setdefault((letter, num), d.name)

    @cached_property
    def bases(self) -> dict[str, str]:
        """Layer id -> the policy text the layer encodes (its `citation:`), for the trace."""
        return {layer.id: layer.citation for layer in self.layers}

    @cached_property
    def fund_layer_ids(self) -> tuple[str, ...]:
        """The ids of the layers that are funds (not the personal account), in paying order."""
        return tuple(layer.id for layer in self.layers if layer.fund)

    @cached_property
    def disease_ranges(self) -> dict[str, tuple]:
        """Disease list name -> its ICD-10 ranges."""
        return {d.name: d.ranges for d in self.diseases}

    @cached_property
    def group_names(self) -> dict[str, Text]:
        """Group id -> the name a layer gives the group (`name:` of its `groups:` row), where one does;
        the first layer's, in paying order."""
        found: dict = {}
        for layer in self.layers:
            for group in getattr(layer, "groups", ()):
                if group.name is not None:
                    found.setdefault(group.id, group.name)
        return found

    @cached_property
    def lifted_caps(self) -> tuple[LiftedCapAt, ...]:
        """Each group whose layer's cap it lifts (`lift_cap:`), in paying order: policy values sourced where
        they are written, in a layer's group, not parameters."""
        return tuple(LiftedCapAt(layer.id, group.id, lift.source) for layer in self.layers
                     for group in getattr(layer, "groups", ()) if (lift := getattr(group, "lift_cap", None)) is not None)

    @property
    def name(self) -> str:
        return self.meta.pack

    def values_on(self, day: dt.date) -> dict[str, ParameterValue]:
        """Every parameter's value in force on `day` (one without a value yet is absent)."""
        i = bisect_right(self._starts, day)
        return self._in_force[i - 1] if i else _NOTHING_IN_FORCE

    def counter_limits(self, fact: dict) -> dict[str, CounterBound]:
        """Per counter, the bound that binds this member with the largest limit (domain.md 6.11):
        bounds whose cap row's condition can hold for the member on some claim. It depends only on
        the member's own fields, so it is worked out once per combination of them (at most 4,096
        kept; then it starts over)."""
        key = tuple(map(fact.get, MEMBER_FIELDS))
        found = self._limits.get(key)
        return found if found is not None else keep(self._limits, key, self._binding(fact))

    def widest_bound(self, counter: str) -> CounterBound | None:
        """The most `counter` may hold for any member (the largest of counter_limits over every member),
        for accumulators brought in without the member's fields (a ledger's opening); None when some
        member is held to no bound (a group that lifts the cap), and when a bound turns on the member's
        age, which an opening does not give (a cap for residents of 60 and over, above the others')."""
        if any(b.rule is not None and "age" in fields_of(self.rules[b.rule]) for b in self.bounds.get(counter, ())):
            return None
        widest = None
        for fact in every_member():
            bound = self.counter_limits(fact).get(counter)
            if bound is None:
                return None
            if widest is None or bound.limit > widest.limit:
                widest = bound
        return widest

    def _binding(self, fact: dict) -> dict[str, CounterBound]:
        found = {}
        for counter, bounds in self.bounds.items():
            binding = [b for b in bounds if b.rule is None or possible(self.rules[b.rule], fact, VISIT_FIELDS)]
            if binding:
                found[counter] = max(binding, key=lambda b: b.limit)
        return found

    @cached_property
    def fields_read(self) -> frozenset[str]:
        """The fact fields the pack's conditions read (facts.field_specs)."""
        return frozenset(set().union(*(fields_of(n) for n in self.rules.values())))

    def shape(self, key: tuple, build: Callable[[], T]) -> T:
        """What the calculator works out from a claim's shape alone (calculator/shape.py): `build()`
        once per `key`, at most 4,096 kept; then it starts over. Every time for a pack loaded with
        memo=False, which asks its matcher on every claim."""
        if not self.memo:
            return build()
        found = self._shapes.get(key)
        return found if found is not None else keep(self._shapes, key, build())

    def __reduce_ex__(self, protocol):
        # A pack's matcher holds durable-rules C state whose recorders write to the pack they were
        # made for: a deep copy settled every claim of a new kind as if no rule fired (the whole bill
        # to the patient), and pickling failed on a local class. Copying and pickling are refused alike.
        raise TypeError(f"a loaded rule pack ({self.name!r}) is not copied or pickled: load it again with "
                        f"benefits.load_rules({self.directory!r}) where it is needed (each process, each worker)")

    def counter_problem(self, name: str, year: int) -> str | None:
        """What keeps `name` from being a counter of this pack's accumulators in `year`: `name`, or
        `name@YYYY-MM` (a month of `year`) for a counter kept per month. None when it is one."""
        base, at, month = name.partition("@")
        if base not in self.counters:
            return f"unknown counter {name!r}; pack {self.name!r} keeps: {', '.join(self.counters)}"
        if (base in self.monthly_counters) != bool(at):
            return (f"{base!r} is kept per month, as {base}@{year}-MM" if base in self.monthly_counters
                    else f"{base!r} is a yearly counter, written without @")
        if at and not re.fullmatch(rf"{year}-(0[1-9]|1[0-2])", month):
            return f"expected a month of {year}, as {base}@{year}-MM"
        return None

    def counters_known(self, year: int, names) -> bool:
        """Whether this set of accumulator counter names was found to be the pack's before (each a
        counter it keeps, per month in `year` where it keeps it per month): a member's accumulators
        name the same few counters claim after claim."""
        return (year, *names) in self._known

    def know_counters(self, year: int, names) -> None:
        """Remember that this set of counter names is the pack's (at most 4,096 sets; then it starts over)."""
        keep(self._known, (year, *names), True)

    def layer_runs(self, fired: frozenset[str]) -> tuple[LayerRun, ...]:
        """The layers whose `when:` holds, in paying order, each after the trace steps of the layers
        before it that do not apply; a last run with no layer holds the steps of those after the
        last. Which layers apply depends only on the rules that fire, so a claim walks only the
        layers that may pay (at most 4,096 combinations kept; then it starts over)."""
        found = self._runs.get(fired)
        if found is None:
            runs, skipped = [], []
            for layer in self.layers:
                if layer.when_rule in fired:
                    runs.append(LayerRun(tuple(skipped), layer))
                    skipped = []
                else:
                    skipped.append(layer.skipped[False])
            runs.append(LayerRun(tuple(skipped), None))
            found = keep(self._runs, fired, tuple(runs))
        return found

    def version_for(self, day: dt.date) -> Version:
        """The parameter version in force on `day`; a day no version covers is refused."""
        for v in self.versions:
            if v.start <= day <= v.end:
                return v
        first, last = self.versions[0].start, self.versions[-1].end
        raise ClaimError(f"no version of the rules covers {day}: pack {self.name!r} covers {first} to {last}")

    def year_problem(self, year: int) -> str | None:
        """What keeps this pack from settling any claim of `year` (no version covers a day of it), or None."""
        first, last = self.versions[0].start, self.versions[-1].end
        if first.year <= year <= last.year:
            return None
        return f"pack {self.name!r} covers {first} to {last}, no day of {year}"

    def param(self, name: str, day: dt.date) -> ParameterValue:
        value = self.values_on(day).get(name)
        return value if value is not None else self.parameters[name].at(day)  # raises the right error

    def highest(self, name: str) -> Decimal:
        """The largest value a parameter takes in any version (a bound for sanity checks)."""
        return self._highest[name]

    def disease_of(self, codes: list[str]) -> str:
        """The name of the pack's first disease list the primary diagnosis falls in, or 'none'.
        Remembered per code (at most 4,096; then it starts over): a year's claims repeat codes."""
        if not codes:
            return "none"
        code = codes[0]
        found = self._disease_by_code.get(code)
        if found is None:
            category = icd_category(code)
            found = keep(self._disease_by_code, code, self._disease.get(category, "none") if category else "none")
        return found
