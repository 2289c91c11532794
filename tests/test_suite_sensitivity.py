"""The case suite must fail when the calculator's arithmetic is broken (a suite that cannot fail
is a defect). Each mutation below breaks one mechanic; at least one case must notice."""

from fractions import Fraction
from pathlib import Path

import pytest

import benefits
from benefits.cases import check_case, load_case, rules_dir
from benefits.kinds import basic_fund, cumulative_bands, residual_ratio
from benefits.kinds.basic_fund import BasicFundLayer

from conftest import RULES

PATHS = sorted((Path(__file__).parent / "cases").rglob("*.yaml"))
CASES = [(load_case(p), p) for p in PATHS]


@pytest.fixture(scope="module")
def packs():
    """Each case's own pack, loaded once."""
    dirs = {str(rules_dir(c, p, RULES)) for c, p in CASES}
    return {d: benefits.load_rules(d) for d in dirs}


def failing_cases(packs) -> int:
    return sum(1 for c, p in CASES if check_case(c, packs[str(rules_dir(c, p, RULES))]))


def half_even(numerator: int, denominator: int) -> int:
    return round(Fraction(numerator, denominator))  # Python rounds halves to even


MUTATIONS = {
    "banker's rounding": [(m, "half_up", half_even) for m in (basic_fund, cumulative_bands, residual_ratio)],
    "ratio points ignored": [(basic_fund, "with_points", lambda r, p: r), (cumulative_bands, "with_points", lambda r, p: r)],
    "caps ignored": [(BasicFundLayer, "_cap_left", lambda layer, st: (None, []))],
    "least favourable group": [(m, "most_favourable", lambda options, paid: min(options, key=paid))
                               for m in (cumulative_bands, residual_ratio)],
    "deductible ignored": [(BasicFundLayer, "_deductible", lambda layer, st: 0)],
}


@pytest.mark.parametrize("name", MUTATIONS)
def test_each_broken_mechanic_fails_some_case(packs, monkeypatch, name):
    assert failing_cases(packs) == 0
    for module, attr, replacement in MUTATIONS[name]:
        monkeypatch.setattr(module, attr, replacement, raising=False)
    assert failing_cases(packs) > 0, f"no case notices: {name}"
