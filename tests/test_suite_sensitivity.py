"""The case suite must fail when the calculator's arithmetic is broken (a suite that cannot fail
is a defect). Each mutation below breaks one mechanic; at least one case must notice."""

from decimal import ROUND_HALF_EVEN
from pathlib import Path

import pytest

from benefits.calculator import basic, bill, cumulative, residual
from benefits.cases import check_case, load_case
from benefits.money import FEN

CASES = [load_case(p) for p in sorted((Path(__file__).parent / "cases").rglob("*.yaml"))]


def failing_cases(rules) -> int:
    return sum(1 for c in CASES if check_case(c, rules))


def half_even(value):
    return value.quantize(FEN, rounding=ROUND_HALF_EVEN)


MUTATIONS = {
    "banker's rounding": [(m, "round_fen", half_even) for m in (basic, cumulative, residual, bill)],
    "ratio points ignored": [(basic, "with_points", lambda r, p: r), (cumulative, "with_points", lambda r, p: r)],
    "caps ignored": [(basic, "_cap_left", lambda layer, ctx: (None, []))],
    "least favourable group": [(m, "most_favourable", lambda options, paid: min(options, key=paid))
                               for m in (cumulative, residual)],
    "deductible ignored": [(basic, "_deductible", lambda layer, ctx: basic.ZERO)],
}


@pytest.mark.parametrize("name", MUTATIONS)
def test_each_broken_mechanic_fails_some_case(jiangmen, monkeypatch, name):
    assert failing_cases(jiangmen) == 0
    for module, attr, replacement in MUTATIONS[name]:
        monkeypatch.setattr(module, attr, replacement, raising=False)
    assert failing_cases(jiangmen) > 0, f"no case notices: {name}"
