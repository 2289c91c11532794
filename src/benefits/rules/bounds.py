"""The most a counter can hold (domain.md 6.11, ruling of 2026-11-29).

A counter of a fund's payments against a cap that binds every member (each basic-fund cap, medical
aid, secondary aid, the large-amount subsidy) cannot pass the highest value that cap ever had in
the pack, nor an aid-deductible counter the largest aid deductible: accumulators saying otherwise
are impossible input, refused whether or not the claim would read that counter. Serious-illness
counters are not bounded: a member may belong to a no-cap group for part of the year, which is
why a cumulative layer with a cap-lifting group gives no bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Iterable

from ..money import ZERO
from .model import AboveCapLayer, BasicFundLayer, CumulativeBandsLayer, LayerFile, ResidualRatioLayer


@dataclass(frozen=True)
class CounterBound:
    """`counter` (a pack counter; per month as counter@YYYY-MM) holds at most `limit`."""

    counter: str
    limit: Decimal
    parameter: str | None  # the cap or deductible whose highest value is the limit; None: the pack has none
    what: str  # "cap" or "aid deductible", for the message
    rule: str | None = None  # the rule id of the `when:` of the cap row; None: the row binds every member


def counter_bounds(layers: Iterable[LayerFile], highest: Callable[[str], Decimal]) -> dict[str, tuple[CounterBound, ...]]:
    """Counter -> the bounds on it, from the layers' caps and aid deductibles."""
    out: dict[str, list[CounterBound]] = {}

    def add(counter: str | None, parameter: str | None, what: str, rule: str | None = None) -> None:
        if counter is not None:
            limit = highest(parameter) if parameter else ZERO
            out.setdefault(counter, []).append(CounterBound(counter, limit, parameter, what, rule))

    for layer in layers:
        if isinstance(layer, BasicFundLayer):
            for i, cap in enumerate(layer.caps):
                add(cap.counter, cap.value, "cap", cap.when and f"{layer.id}.caps[{i}]")
            continue
        if isinstance(layer, CumulativeBandsLayer) and any(g.lift_cap for g in layer.groups):
            continue
        if isinstance(layer, (ResidualRatioLayer, AboveCapLayer, CumulativeBandsLayer)):
            for i, row in enumerate(layer.caps):
                add(layer.paid_counter, row.value, "cap", row.when and f"{layer.id}.caps[{i}]")
        if isinstance(layer, ResidualRatioLayer) and layer.deductible_counter:
            deductibles = [g.deductible for g in layer.groups if g.deductible]
            largest = max(deductibles, key=highest, default=None)
            add(layer.deductible_counter, largest, "aid deductible")
    return {name: tuple(bounds) for name, bounds in out.items()}
