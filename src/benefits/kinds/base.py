"""What every layer kind shares: the per-claim state it reads and updates, its typed result, the
counter bounds it declares, and the interface of the loader's checks.

Money here is integer fen and ratios are integer parts per million (`money.RATIO`): a layer's
exact payout is a fraction with a power-of-ten denominator (or, for the large-amount subsidy, a
ratio's), rounded once, half up, by `money.half_up`. `Decimal` appears only at the edges: reading
parameters (the loader) and writing the settlement (the calculator).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from operator import itemgetter
from typing import TYPE_CHECKING, ClassVar, Iterator, Protocol

from ..memo import keep
from ..money import RATIO
from ..rules.files import BREAKDOWN_FIELDS, LayerBase
from ..rules.refs import resolve_ref
from ..trace import Recorder, Step

if TYPE_CHECKING:
    from ..models.claim import Claim
    from ..rules.pack import ParameterValue, RulePack


@dataclass(frozen=True)
class CounterBound:
    """`counter` (a pack counter; per month as counter@YYYY-MM) can hold at most `limit` fen
    (domain.md 6.11)."""

    counter: str
    limit: int
    parameter: str | None  # the cap or deductible whose highest value is the limit; None: the pack has none
    what: str  # "cap" or "aid deductible", for the message
    rule: str | None = None  # the rule id of the cap row's `when:`; None: the row binds every member


@dataclass(slots=True)
class Bill:
    """The bill split (费用分解), in fen: total = fully self-paid + over-limit + pre-self-paid + policy range."""

    total: int
    fully_self_paid: int
    over_limit: int
    pre_self_paid: int
    policy_range: int


@dataclass(slots=True)
class Paid:
    """What one layer did on one claim: paid `paid` of the `base` it worked on; `limit_left` is the
    cap (or balance) it had left before the claim, None when nothing limits it. Fen."""

    paid: int
    base: int
    limit_left: int | None


@dataclass(slots=True)
class BasicPaid(Paid):
    """A basic-fund layer's payout, with how it treated the policy-range amount: what the patient's
    breakdown shows (起付线, 按比例自付, 超封顶) and what a layer following one of its caps reads
    (大额医疗补助). Fen; `ratio` in RATIO parts."""

    layer: str = ""
    deductible: int = 0
    co_pay: int = 0
    above_cap: int = 0
    ratio: int = 0
    eligible: int = 0  # policy-range amount above the deductible
    cap_lefts: dict[str, int] = field(default_factory=dict)  # cap id -> left before the claim


@dataclass(slots=True)
class Earlier:
    """What the layers before this one paid on the claim that a later layer may read; handed to
    each layer's `pay` by the calculator, in the pack's order."""

    basic: BasicPaid | None = None  # the basic-fund layer that applied, if one did


class State:
    """What the layers of one claim share while it is evaluated. Built per claim, never reused.

    `left` is the policy-range amount still left to the patient after the fund layers so far; each
    fund layer's payout comes off it (the calculator does that, not the layer), and, when the trace is
    recorded, is listed in `funds_paid`, so a step can show how `left` came about."""

    __slots__ = ("claim", "pack", "day", "fact", "fired", "values", "counters", "admissions", "bill", "left", "rec",
                 "plan_key", "funds_paid")

    def __init__(self, claim: "Claim", pack: "RulePack", day: dt.date, fact: dict, fired: frozenset[str],
                 values: dict[str, "ParameterValue"], counters: dict[str, int], admissions: int, bill: Bill,
                 rec: Recorder | None):
        self.claim, self.pack, self.day, self.fact, self.fired, self.values = claim, pack, day, fact, fired, values
        self.counters, self.admissions, self.bill, self.rec = counters, admissions, bill, rec
        self.left = bill.policy_range
        self.funds_paid: list[int] | None = [] if rec is not None else None  # read by trace steps alone
        # What a layer's plan depends on (Kind.plan): the same for every layer of the claim.
        self.plan_key = (fired, id(values), _breakdown_key(fact))

    def param(self, name: str) -> "ParameterValue":
        """The value in force on the deciding date of the parameter `name` names (a reference with
        `[field]` parts names the parameter of this claim's values of those fields)."""
        value = self.values.get(name)
        if value is None:
            if "[" in name:
                name = resolve_ref(name, self.fact)
                value = self.values.get(name)
            if value is None:
                return self.pack.param(name, self.day)
        return value

    def first(self, rows, rule_ids: tuple[str, ...]):
        """The first row of a decision table whose condition holds (a row without one always does),
        with its rule id; None when none holds."""
        fired = self.fired
        for row, rid in zip(rows, rule_ids):
            if row.when is None or rid in fired:
                return row, rid
        return None

    def counter(self, key: str) -> int:
        return self.counters.get(key, 0)

    def add(self, key: str, fen: int) -> None:
        self.counters[key] = self.counters.get(key, 0) + fen


def record_cap(st: State, layer: str, rule: str, cap: "ParameterValue", used: int, left: int) -> None:
    """The trace step of a cap (最高支付限额) read against what its counter holds: what is left of it
    before this claim, max(0, cap - paid so far), the number a layer's payout is limited by."""
    st.rec.add("cap", f"{layer}.cap", rule, layer, {"amount": cap.units, "used": used, "left": left}, (cap,))


def most_favourable(options: list, paid):
    """The option paying the most (domain.md 6.7); among equals, the first listed."""
    return max(options, key=paid)


def with_points(ratio: int, points: int) -> int:
    """A ratio changed by percentage points (65% - 10 points = 55%), kept within 0%..100%: no fund pays more
    than the amount, or takes from the patient (the trace shows the sum and the bound, render._bounded)."""
    return min(RATIO, max(0, ratio + points))


_breakdown_key = itemgetter(*BREAKDOWN_FIELDS)  # the fields a parameter reference may read


# Rule ids are made once per layer and table, not per claim (a few hundred in a pack).
@lru_cache(maxsize=4096)
def _rule_ids(layer: str, section: str, rows: int) -> tuple[str, ...]:
    return tuple(f"{layer}.{section}[{i}]" for i in range(rows))


@lru_cache(maxsize=4096)
def _group_rules(layer: str, groups: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{layer}.groups.{g}" for g in groups)


class Check(Protocol):
    """What the loader offers a layer kind to check its references with (rules/loader.py), and to
    read the values of the parameters a reference may name (every one, or those in force on a day)
    for checks across versions; none for a reference with a problem, reported where it is made."""

    def when(self, where: tuple, text: str | None, rule_id: str | None) -> None: ...
    def param(self, where: tuple, name: str | None, unit: str) -> None: ...
    def counter(self, where: tuple, name: str | None) -> None: ...
    def period(self, where: tuple, counter: str | None, period: str) -> None: ...
    def rows(self, section: str, rows, unit: str, rule_ids: tuple) -> None: ...
    def groups(self, groups, rule_ids: tuple) -> None: ...
    def problem(self, where: tuple, message: str) -> None: ...

    def values(self, ref: str, unit: str) -> "list[ParameterValue]": ...
    def in_force(self, ref: str, unit: str, day: dt.date) -> "list[ParameterValue]": ...
    def value_problem(self, value: "ParameterValue", where: tuple, message: str) -> None: ...
    def together(self, rule_ids: tuple[str, ...], fields: dict[str, str]) -> bool: ...


class Kind(LayerBase):
    """A layer kind: a rule file's schema (pydantic), its load-time checks, its formula, its trace.

    Subclasses declare `kind: Literal[...]` (the file's `kind:`), and may override `fund`, `check`,
    `bounds` and `pay`. A kind's rule ids (the handles of its conditions in the pack's matcher)
    are made once, from its id and the row's place, in `rule_ids`.
    """

    fund: ClassVar[bool] = True  # a fund (fund_pay_sumamt); the personal account is not, and pays last
    # why the layer did not apply although its `when:` held (its `pay` gave None), for the trace: (zh, en)
    unmet: ClassVar[tuple[str, str]] = ("本层自身的条件不成立", "the layer's own conditions do not hold")
    pays_first: ClassVar[bool] = False  # the basic fund pays before every other kind (domain.md section 1)
    pays_groups_only: ClassVar[bool] = False  # pays only members in one of its `groups:` (its `when:` aside)

    @cached_property  # read for every layer of every claim
    def when_rule(self) -> str:
        """The rule id of the layer's own `when:`."""
        return f"{self.id}.when"

    def rule_ids(self, section: str, rows) -> tuple[str, ...]:
        """The rule id of each row of a table, `<layer>.<section>[i]`: the handle of its `when:` in
        the pack's matcher (a row without one always holds). Made once per layer and section."""
        return _rule_ids(self.id, section, len(rows))

    @cached_property
    def skipped(self) -> tuple[Step, Step]:
        """The trace step of this layer not applying: its `when:` does not hold, or it does and the
        layer's own conditions (groups, the cap it follows) do not. The same for every claim."""
        return tuple(Step("skip", f"{self.id}.skip", self.when_rule, self.id,
                          {"zh": self.name.zh, "en": self.name.en, "when": self.when, "own": own,
                           "unmet": self.unmet}) for own in (False, True))

    @cached_property
    def _plans(self) -> dict:
        return {}

    def plan(self, st: State, build):
        """What this layer decides from the rules alone for claims like this one: the rows that hold,
        the parameter values they name, the trace steps that follow from them. That depends only on
        the rules that fire, the parameters in force and the claim's breakdown fields, so it is
        built once for each such combination (`build(st)`, at most 4,096 kept) and reused."""
        plans = self._plans
        found = plans.get(st.plan_key)
        if found is None:
            found = keep(plans, st.plan_key, build(st))
        return found

    @cached_property  # read for every claim a layer with groups pays
    def group_rules(self) -> tuple[str, ...]:
        """The rule id of each of the layer's groups' `when:` (`<layer>.groups.<id>`), for kinds with groups."""
        return _group_rules(self.id, tuple(g.id for g in getattr(self, "groups", ())))

    @property
    def cap_ids(self) -> set[str]:
        """The ids of the caps a later layer may follow (`follows_cap`)."""
        return set()

    @property
    def follows_cap(self) -> str | None:
        """The id of an earlier basic-fund layer's cap this layer is triggered by, if any."""
        return None

    @property
    def monthly_counters(self) -> set[str]:
        """Counters this layer keeps per month (name@YYYY-MM)."""
        return set()

    def check(self, chk: Check) -> None:
        """Check the references of the kind's own fields (the loader checks the shared ones)."""

    def bounds(self, highest) -> Iterator[CounterBound]:
        """The counters this layer draws against caps, and the most each can hold (domain.md 6.11).
        `highest(parameter)` is the largest value a parameter ever takes, in fen."""
        return iter(())

    def pay(self, st: State, earlier: Earlier) -> Paid | None:  # pragma: no cover - every kind overrides it
        """Pay this claim (its `when:` holds), given what the layers before it paid; None when the
        layer's own conditions do not hold."""
        raise NotImplementedError
