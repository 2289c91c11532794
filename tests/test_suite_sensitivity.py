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


def load_packs():
    """Each case's own pack, loaded afresh: a layer keeps what it decided per combination of fired
    rules (Kind.plan), which a mutation must not find already made."""
    dirs = {str(rules_dir(c, p, RULES)) for c, p in CASES}
    return {d: benefits.load_rules(d, matcher="reference") for d in dirs}


@pytest.fixture(scope="module")
def packs():
    return load_packs()


def failing_cases(packs) -> int:
    return sum(1 for c, p in CASES if check_case(c, packs[str(rules_dir(c, p, RULES))]))


def half_even(numerator: int, denominator: int) -> int:
    return round(Fraction(numerator, denominator))  # Python rounds halves to even


MUTATIONS = {
    "banker's rounding": [(m, "half_up", half_even) for m in (basic_fund, cumulative_bands, residual_ratio)],
    "ratio points ignored": [(basic_fund, "with_points", lambda r, p: r), (cumulative_bands, "with_points", lambda r, p: r)],
    "caps ignored": [(BasicFundLayer, "_cap_left", lambda layer, st, plan: (None, [], {}))],
    "least favourable group": [(m, "most_favourable", lambda options, paid: min(options, key=paid))
                               for m in (cumulative_bands, residual_ratio)],
    "deductible ignored": [(BasicFundLayer, "_deductible", lambda layer, st, plan: 0)],
}


@pytest.mark.parametrize("name", MUTATIONS)
def test_each_broken_mechanic_fails_some_case(packs, monkeypatch, name):
    assert failing_cases(packs) == 0
    for module, attr, replacement in MUTATIONS[name]:
        monkeypatch.setattr(module, attr, replacement, raising=False)
    assert failing_cases(load_packs()) > 0, f"no case notices: {name}"


def test_the_basic_funds_own_ratio_points_are_noticed(monkeypatch):
    # the basic fund's points alone (retired members, unfiled cross-province stays), not serious illness's
    monkeypatch.setattr(basic_fund, "with_points", lambda r, p: r)
    assert failing_cases(load_packs()) > 0
