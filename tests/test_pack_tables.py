"""The lookup tables a pack builds once at load (rules/pack.py) answer exactly as the plain
definitions they replace: parameters by date, disease lists by ICD-10 code, highest values."""

import datetime as dt
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import benefits
from conftest import RULES, edit
from generators import accumulators, claims, deciding_day, members

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


def _reads_date_and_age(root) -> benefits.RulePack:
    """A copy of Jiangmen whose retired employees' bonus holds from 2022-07-01 and from age 60: a
    pack whose conditions read the deciding date and the age, which the shipped packs' do not."""
    import shutil

    shutil.copytree(RULES / "jiangmen", root)
    edit(root, "layers/basic.yaml", "{when: scheme == employee and member_type == retired, points:",
         "{when: scheme == employee and member_type == retired and date >= 2022-07-01 and age >= 60, points:")
    return benefits.load_rules(root)


@pytest.fixture(scope="module")
def shape_packs(tmp_path_factory):
    """Pairs of one pack loaded twice: remembering what follows from a claim's shape, and not."""
    root = tmp_path_factory.mktemp("dated") / "jiangmen_dated"
    dated = _reads_date_and_age(root)
    assert {"date", "age"} <= dated.fields_read
    return {"jiangmen": (benefits.load_rules(RULES / "jiangmen"), benefits.load_rules(RULES / "jiangmen", memo=False)),
            "dated": (dated, benefits.load_rules(root, memo=False))}


def _outcome(pack, claim, acc):
    try:
        return benefits.evaluate(claim, pack, acc, trace=True).model_dump(mode="json")
    except benefits.BenefitsError as exc:
        return str(exc)


@pytest.mark.parametrize("name", ["jiangmen", "dated"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_claim_settles_alike_whether_its_shape_was_seen_before_or_not(shape_packs, name, data):
    """What the calculator keeps per shape of claim (calculator/shape.py: which rules fire, the
    claim's refusal, the counters' bounds) answers as working it out for every claim: the same
    settlement, trace and error, on a pack whose conditions read the date and age too. Several
    claims of one member on days either side of the pack's dates share what they can."""
    remembering, plain = shape_packs[name]
    member = data.draw(members(member_id="m1"), label="member")
    for i in range(4):
        claim = data.draw(claims(remembering, member=dict(member, age=data.draw(st.sampled_from([59, 60, 61]))),
                                 claim_id=f"c{i}"), label=f"claim {i}")
        acc = data.draw(st.one_of(st.none(), accumulators(remembering, "m1", deciding_day(remembering, claim).year)))
        assert _outcome(remembering, claim, acc) == _outcome(plain, claim, acc)


def test_the_shapes_kept_are_bounded_and_one_per_shape():
    """A pack keeps one entry per shape of claim, however many claims share it, and at most 4,096."""
    pack = benefits.load_rules(RULES / "jiangmen")
    builds = []
    for i in range(3):
        assert pack.shape(("a",), lambda: builds.append(1) or "first") == "first"
    assert builds == [1]
    for i in range(5000):
        pack.shape((i,), lambda: i)
    assert len(pack._shapes) <= 4096
