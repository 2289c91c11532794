"""No figure depends on the caller's decimal context.

A settlement service or an analyst's notebook may set a narrow `decimal` context of its own. The
packs, the settlements (and what they list when first read), the platform's blocks, the
simulation's input and its report must come out the same under it, to the fen and the digit.
The context here has three digits, rounds down, and in the `traps` runs raises wherever anything
would be rounded, so any arithmetic done under it shows.
"""

from __future__ import annotations

import datetime as dt
import decimal
import shutil
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import pytest
from conftest import RULES

import benefits
from benefits.cases import load_case, rules_dir
from benefits.money import fmt, fmt_ratio, ratio_of, round_fraction
from benefits.simulate import synthetic
from benefits.simulate.arrays import decimal_text
from benefits.simulate.files import money_fen

CASES = Path(__file__).parent / "cases"
FILES = sorted(CASES.rglob("*.yaml"))


def _narrow(traps: bool) -> decimal.localcontext:
    ctx = decimal.Context(prec=3, rounding=decimal.ROUND_FLOOR)
    if traps:
        ctx.traps[decimal.Inexact] = ctx.traps[decimal.Rounded] = True
    return decimal.localcontext(ctx)


@lru_cache(maxsize=None)
def _pack(path: str) -> benefits.RulePack:
    return benefits.load_rules(path)


def _everything(s: benefits.Settlement) -> tuple:
    """A settlement as text, with what it lists (items, layers, trace) and the platform's blocks."""
    blocks = (s.setlinfo(), s.setldetail(), s.feedetail())
    return s.model_dump_json(), repr(blocks)


@pytest.mark.parametrize("traps", [False, True])
def test_every_case_settles_the_same_under_a_narrow_context(traps):
    want, got = [], []
    for path in FILES:
        case = load_case(path)
        if case.expected.error is not None:
            continue
        pack = _pack(str(rules_dir(case, path, RULES)))
        claim = case.claim.model_dump(mode="json")  # validated again, under the narrow context
        acc = case.accumulators.model_dump(mode="json") if case.accumulators else None
        want.append(_everything(benefits.evaluate(claim, pack, acc)))
        with _narrow(traps):
            got.append(_everything(benefits.evaluate(claim, pack, acc)))
    assert len(want) >= 60
    assert got == want


@pytest.mark.parametrize("traps", [False, True])
def test_packs_load_the_same_under_a_narrow_context(traps):
    for name in ("jiangmen", "anyang"):
        with _narrow(traps):
            narrow = benefits.load_rules(RULES / name)
        wide = _pack(str(RULES / name))
        assert narrow.values_on(narrow.versions[-1].start) == wide.values_on(wide.versions[-1].start)
        for path in FILES:
            case = load_case(path)
            if rules_dir(case, path, RULES).name == name and case.expected.error is None:
                assert benefits.evaluate(case.claim, narrow, case.accumulators) == \
                    benefits.evaluate(case.claim, wide, case.accumulators)


def test_a_percent_of_six_digits_loads_whole_under_a_narrow_context(tmp_path):
    folder = tmp_path / "jiangmen"
    shutil.copytree(RULES / "jiangmen", folder)
    bill = folder / "parameters" / "bill.yaml"
    bill.write_text(bill.read_text(encoding="utf-8").replace("value: 10%", "value: 12.3456%"), encoding="utf-8")
    with _narrow(False):  # 12.3456 / 100 in three digits would be 0.123
        share = benefits.load_rules(folder).values_on(dt.date(2021, 6, 1))["bill.b_share_default"]
    assert (share.value, share.units) == (Decimal("0.123456"), 123456)


@pytest.mark.parametrize("traps", [False, True])
def test_conversions_are_exact_under_a_narrow_context(traps):
    with _narrow(traps):
        # a ratio of six digits in units: three digits would make it 123000
        assert ratio_of(Decimal("0.123456")) == 123456
        assert fmt_ratio(Decimal("0.123456")) == "12.3456%"
        assert fmt(Decimal("5252.3445")) == "5252.3445"
        # the simulation's input: an amount as a Decimal (a Parquet decimal column) and as text
        assert money_fen(Decimal("123456.78")) == (12345678, None)
        assert money_fen(Decimal("123.456"))[1] == "an amount has at most two decimals (fen), got 123.456"
        assert decimal_text(123456, 1000) == "123.456"
        # the report's percentages and the synthetic bulletin's 万元: the exact fraction, halves up
        assert round_fraction(1, 8, 2) == Decimal("0.13") and round_fraction(-1, 8, 2) == Decimal("-0.13")
        assert round_fraction(123456789, 1000, 2) == Decimal("123456.79")
        assert synthetic.wan(Fraction(2561454999, 1)) == Decimal("2561.45")
        assert synthetic.wan(Fraction(2561455000, 1)) == Decimal("2561.46")


@pytest.mark.parametrize("traps", [False, True])
def test_the_trace_reads_a_group_s_points_whole_under_a_one_digit_context(tmp_path, traps):
    # abs(points) ran under the caller's context: 15 points read "提高20个百分点" at one digit, or raised
    pack_dir = tmp_path / "jiangmen"
    shutil.copytree(RULES / "jiangmen", pack_dir)
    path = pack_dir / "parameters" / "serious_illness.yaml"
    text = path.read_text(encoding="utf-8")
    assert "{value: 10, source: \"seed 001: 支付比例提高 10 个百分点" in text
    path.write_text(text.replace("{value: 10, source: \"seed 001: 支付比例提高 10 个百分点",
                                 "{value: 15, source: \"seed 001: 支付比例提高 10 个百分点"), encoding="utf-8")
    pack = benefits.load_rules(pack_dir)
    claim = {"id": "c1", "member": {"id": "m1", "scheme": "resident", "member_type": "adult", "groups": ["dibao"]},
             "visit": "inpatient", "level": "level3", "admission_date": "2021-03-01", "discharge_date": "2021-03-10",
             "bill": {"total": "100000.00", "fully_self_paid": "0", "over_limit": "0", "pre_self_paid": "0",
                      "policy_range": "100000.00"}}
    want = benefits.evaluate(claim, pack).model_dump_json()
    ctx = decimal.Context(prec=1, rounding=decimal.ROUND_HALF_EVEN)
    if traps:
        ctx.traps[decimal.Inexact] = ctx.traps[decimal.Rounded] = True
    with decimal.localcontext(ctx):
        got = benefits.evaluate(claim, pack).model_dump_json()
    assert got == want and "提高15个百分点" in got
