"""What every vectorised layer kind shares: the per-combination context it resolves its rows in,
the step it pays, and the counter layout it reads and writes.

A vectorised kind mirrors one scalar kind of `benefits.kinds` (same module name). It works in two
phases:
- `resolve(ctx)`, once per combination of the fields the rules read (and the version in force):
  which of its rows hold and the parameter values they name, as plain integers (fen, RATIO
  parts), read with the engine's own `State.first` and `State.param`; `None` when the layer's own
  conditions do not hold (it is then skipped, as its `pay()` returning None);
- `pay(step, idx)`, once per step: the payout of every claim `idx` of the step, from the table of
  resolved rows (`tables`) and the members' counters, in int64 fen, exactly as `pay()` computes it.
A claim the scalar kind would refuse (no row holds, ...) raises `Scalar` in `resolve`: the
combination's claims are then settled by the scalar engine, which raises the same error.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ...kinds import Bill, State
from ..exact import NONE


class Scalar(Exception):
    """This combination's claims are settled by the scalar engine; `reason` says why."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass
class Context:
    """One combination: its representative fact, the rules that fire, the values in force, and
    what the layers resolved before the current one decided (the basic-fund layer that applied,
    and the ids of its caps that hold, for a layer following a cap)."""

    pack: Any
    day: dt.date
    fact: dict
    fired: frozenset
    values: dict
    basic_layer: str | None = None
    basic_caps: frozenset = frozenset()
    _state: State | None = field(default=None, repr=False)

    @property
    def state(self) -> State:
        """An engine `State` for reading rows and parameters (`first`, `param`); no claim, no money."""
        if self._state is None:
            self._state = State(None, self.pack, self.day, self.fact, self.fired, self.values, {}, 0,
                                Bill(0, 0, 0, 0, 0), None)
        return self._state

    def first(self, rows, rule_ids):
        return self.state.first(rows, rule_ids)

    def units(self, ref: str) -> int:
        """The value in force of the parameter `ref` names, in fen or RATIO parts."""
        return self.state.param(ref).units


class Layout:
    """Where each counter lives in the members' counter matrix (members x columns): a yearly counter
    has one column, a counter kept per month twelve (January first) for the simulated year."""

    def __init__(self, counters: list[str], monthly: frozenset[str], year: int):
        self.year = year
        self.keys: list[str] = []
        self.base: dict[str, int] = {}
        self.monthly = frozenset(monthly)
        for name in counters:
            self.base[name] = len(self.keys)
            if name in self.monthly:
                self.keys.extend(f"{name}@{year}-{m:02d}" for m in range(1, 13))
            else:
                self.keys.append(name)
        self.column = {key: i for i, key in enumerate(self.keys)}
        self.names = [k.partition("@")[0] for k in self.keys]  # each column's counter name

    def __len__(self) -> int:
        return len(self.keys)

    def cols(self, name: str, month: np.ndarray):
        """The column of counter `name` for each row (month: 0-11 per row), as the engine keys it
        (`name@YYYY-MM` for a counter kept per month)."""
        base = self.base[name]
        return base + month if name in self.monthly else base


class Step:
    """The claims of one step settled by the vectorised kinds: one claim per member, so scattering
    into the counter matrix by member never collides. Arrays are per claim of the step."""

    def __init__(self, counters: np.ndarray, member: np.ndarray, combo: np.ndarray, month: np.ndarray,
                 admissions: np.ndarray, pre: np.ndarray, policy: np.ndarray, cap_ids: tuple[str, ...]):
        n = len(member)
        self.C, self.m, self.c, self.month, self.admissions, self.pre = counters, member, combo, month, admissions, pre
        self.left = policy.copy()  # policy-range amount left to the patient after the fund layers so far
        # the basic fund's outcome (kinds.BasicPaid), NONE ratio where no basic-fund layer applied
        self.deductible = np.zeros(n, np.int64)
        self.co_pay = np.zeros(n, np.int64)
        self.above_cap = np.zeros(n, np.int64)
        self.ratio = np.full(n, NONE, np.int64)
        self.eligible = np.zeros(n, np.int64)
        self.cap_lefts = {cap: np.full(n, NONE, np.int64) for cap in cap_ids}


class VectorKind:
    """A vectorised layer kind (see the module's docstring). `kind`: the scalar kind's name."""

    kind: ClassVar[str] = ""

    def __init__(self, layer, layout: Layout):
        self.layer, self.layout = layer, layout
        self.fund = layer.fund

    def resolve(self, ctx: Context):  # pragma: no cover - every kind overrides it
        raise NotImplementedError

    def tables(self, rows: list) -> None:  # pragma: no cover
        """Stack the resolved rows (one per combination; None where the layer does not apply) into
        arrays indexed by combination."""
        raise NotImplementedError

    def pay(self, st: Step, idx: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


def column(rows: list, pick, fill=NONE, dtype=np.int64) -> np.ndarray:
    """One value per combination from its resolved row (`pick(row)`), `fill` where there is none."""
    return np.array([fill if r is None else pick(r) for r in rows], dtype=dtype)
