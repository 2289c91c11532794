"""The lookup tables a pack builds once at load (rules/pack.py) answer exactly as the plain
definitions they replace: parameters by date, disease lists by ICD-10 code, highest values."""

import datetime as dt
import string

import pytest

import benefits
from conftest import RULES

PACKS = {name: benefits.load_rules(RULES / name, matcher="reference") for name in ("jiangmen", "anyang")}


@pytest.mark.parametrize("name", sorted(PACKS))
def test_parameters_in_force_on_every_day_are_each_parameters_own_value(name):
    pack = PACKS[name]
    first = min(v.start for p in pack.parameters.values() for v in p.values)
    day, last = first - dt.timedelta(days=3), pack.versions[-1].end + dt.timedelta(days=3)
    checked = 0
    while day <= last:
        table = pack.values_on(day)
        for pname, param in pack.parameters.items():
            in_force = [v for v in param.values if v.start <= day]
            if in_force:
                assert table[pname] is in_force[-1] and pack.param(pname, day) is in_force[-1]
                checked += 1
            else:
                assert pname not in table
                with pytest.raises(benefits.ClaimError, match="has no value on"):
                    pack.param(pname, day)
        day += dt.timedelta(days=1)
    assert checked > 1000


@pytest.mark.parametrize("name", sorted(PACKS))
def test_a_diagnosis_falls_in_the_first_disease_list_that_contains_it(name):
    pack = PACKS[name]
    assert pack.diseases, "the pack has disease lists to check"
    codes = [f"{letter}{num:02d}{tail}" for letter in string.ascii_uppercase for num in range(100)
             for tail in ("", ".9")] + [" i10 ", "e11.900", "I1", "", "I²³", "10I", "Z9x"]
    found = set()
    for code in codes:
        expected = next((d.name for d in pack.diseases if d.contains(code)), "none")
        assert pack.disease_of([code, "A00"]) == expected, code
        found.add(expected)
    assert pack.disease_of([]) == "none"
    assert found == {d.name for d in pack.diseases} | {"none"}


@pytest.mark.parametrize("name", sorted(PACKS))
def test_highest_is_the_largest_value_a_parameter_ever_takes(name):
    pack = PACKS[name]
    for pname, param in pack.parameters.items():
        assert pack.highest(pname) == max(v.value for v in param.values)


def test_a_fact_is_its_member_fields_and_its_visit_fields():
    """Counter bounds are kept per combination of the member's fields (RulePack.counter_limits): a
    fact field that is neither a member's nor a visit's would be left out of that key."""
    from benefits.facts import ALWAYS, MEMBER_FIELDS, VISIT_FIELDS, build_fact

    claim = benefits.Claim.model_validate({
        "id": "c", "member": {"id": "m", "scheme": "resident", "member_type": "adult", "age": 70, "groups": ["dibao"]},
        "visit": "inpatient", "level": "level2", "admission_date": "2022-03-01", "discharge_date": "2022-03-05",
        "diagnoses": ["I10"], "bill": {"total": "100.00", "fully_self_paid": "0.00", "over_limit": "0.00",
                                       "pre_self_paid": "0.00", "policy_range": "100.00"}})
    fact = build_fact(claim, dt.date(2022, 3, 5), "hypertension")
    assert set(fact) == set(MEMBER_FIELDS) | VISIT_FIELDS | {ALWAYS}
    assert not set(MEMBER_FIELDS) & VISIT_FIELDS
