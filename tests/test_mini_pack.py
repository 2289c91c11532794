"""The example pack of the README: annual deductible, monthly, per-visit and yearly caps.
Hand-computed; it also shows the rule language is not Jiangmen-shaped."""

from decimal import Decimal as D
from pathlib import Path

import pytest

import benefits

MINI = Path(__file__).resolve().parents[1] / "examples" / "rules" / "mini"


@pytest.fixture(scope="module")
def mini():
    return benefits.load_rules(MINI)


def visit(day, policy, level="clinic"):
    return {"id": f"v{day}", "member": {"id": "m", "scheme": "employee"}, "visit": "general_outpatient",
            "level": level, "date": day,
            "bill": {"total": policy, "fully_self_paid": "0", "over_limit": "0", "pre_self_paid": "0", "policy_range": policy}}


def test_monthly_cap_binds(mini):
    # deductible left 100.00 - 30.00 = 70.00; (300.00 - 70.00) x 50% = 115.00
    # caps left: month 80.00 - 50.00 = 30.00, visit 60.00, year 500.00 - 200.00 = 300.00 -> 30.00
    acc = {"year": 2022, "counters": {"outpatient.deductible_used": "30.00", "outpatient.month@2022-03": "50.00",
                                      "outpatient.year": "200.00"}}
    s = benefits.evaluate(visit("2022-03-05", "300.00"), mini, acc)
    assert s.deductible == D("70.00") and s.payouts == {"outpatient": D("30.00")}
    c = s.accumulators_after.counters
    assert (c["outpatient.deductible_used"], c["outpatient.month@2022-03"], c["outpatient.year"]) == (
        D("100.00"), D("80.00"), D("230.00"))


def test_next_month_starts_afresh_and_the_visit_cap_binds(mini):
    # April: deductible used up; (200.00 - 0.00) x 40% = 80.00 at a hospital; month left 80.00, visit 60.00 -> 60.00
    acc = {"year": 2022, "counters": {"outpatient.deductible_used": "100.00", "outpatient.month@2022-03": "80.00",
                                      "outpatient.year": "230.00"}}
    s = benefits.evaluate(visit("2022-04-02", "200.00", level="hospital"), mini, acc)
    assert s.deductible == D("0.00") and s.payouts == {"outpatient": D("60.00")}
    assert s.accumulators_after.counters["outpatient.month@2022-04"] == D("60.00")
    assert s.accumulators_after.counters["outpatient.month@2022-03"] == D("80.00")


def test_yearly_cap_binds(mini):
    # (150.00 - 0.00) x 50% = 75.00; month 80.00, visit 60.00, year 500.00 - 480.00 = 20.00 -> 20.00
    acc = {"year": 2022, "counters": {"outpatient.deductible_used": "100.00", "outpatient.year": "480.00"}}
    s = benefits.evaluate(visit("2022-06-01", "150.00"), mini, acc)
    # above the caps: 75.00 - 20.00 = 55.00; co-pay 150.00 - 75.00 = 75.00
    assert s.payouts == {"outpatient": D("20.00")}
    assert (s.patient.above_cap, s.patient.co_pay) == (D("55.00"), D("75.00"))


def test_the_readme_shows_the_example_pack_as_it_is():
    readme = (MINI.parents[2] / "README.md").read_text(encoding="utf-8")
    for rel in ("pack.yaml", "layers/outpatient.yaml"):
        assert (MINI / rel).read_text(encoding="utf-8") in readme, rel
