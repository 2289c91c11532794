"""What a pack may say, beyond its syntax: packs that loaded and settled wrong money without a word
(bands out of order or below the deductible, a fund listed before the basic fund, a diagnosis in
two disease lists), and a reference whose combinations the loader listed one by one."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
import shutil

import pytest
from conftest import RULES, claim, edit

import benefits
from benefits import ClaimError
from benefits.errors import RuleFileError


@pytest.fixture
def pack(tmp_path):
    dest = tmp_path / "jiangmen"
    shutil.copytree(RULES / "jiangmen", dest)
    return dest


def problems(pack) -> list[str]:
    with pytest.raises(RuleFileError) as exc:
        benefits.load_rules(pack, matcher="reference")
    return [p.message for p in exc.value.problems]


@pytest.mark.parametrize("start", ["5000.00", "10000.00"])  # below the 10,000.00 deductible, and at it
def test_bands_that_do_not_start_above_the_deductible_are_refused(pack, start, monkeypatch):
    # The first band runs from the deductible to band2_start: a second band starting below the
    # deductible paid 70% on self-pay the deductible should have left to the patient.
    assert benefits.evaluate(claim(), benefits.load_rules(pack)).payouts["serious_illness"] >= 0
    edit(pack, "parameters/serious_illness.yaml", "{value: 100000.00,", f"{{value: {start},")
    # refused at load, at the value's line (tests/test_loader_errors.py), not claim by claim
    assert [m.partition(" (read by ")[0] for m in problems(pack)] == [
        f"on 2021-01-01 the bands of serious_illness.bands[0] start at 10000.00 (serious_illness.deductible), {start} "
        "(serious_illness.band2_start): each band must start above the one before, and the second above the deductible"]
    # and were the loader's check skipped, the claim is still refused, not paid twice over
    from benefits.kinds import CumulativeBandsLayer

    monkeypatch.setattr(CumulativeBandsLayer, "_check_band_order", lambda self, chk: None)
    rules = benefits.load_rules(pack)
    with pytest.raises(ClaimError) as exc:
        benefits.evaluate(claim(), rules)
    assert "serious_illness: in pack 'jiangmen', each band of serious_illness.bands[0] must start above the one " \
           "before, and the second above the deductible" in str(exc.value)
    assert f"the deductible is 10000.00 and the later bands start at {start}" in str(exc.value)
    # the vectorised simulation hands such a claim to the engine, which refuses it alike
    from test_simulate_differential import check_year

    results, _ = check_year(rules, [claim()], {}, 2021)
    assert list(results.column("status")) == ["refused"]


def test_the_basic_fund_is_listed_before_every_other_layer(pack):
    edit(pack, "pack.yaml", "layers: [basic, basic_outpatient, basic_special, basic_covid, covid_finance, maternity,\n"
                            "         serious_illness,",
         "layers: [serious_illness, basic, basic_outpatient, basic_special, basic_covid, covid_finance, maternity,\n        ")
    found = problems(pack)
    assert found == [f"the basic-fund layer {b!r} pays first, on the policy-range amount before any other layer: "
                     f"list it before 'serious_illness'" for b in ("basic", "basic_outpatient", "basic_special", "basic_covid")]


def test_a_diagnosis_belongs_to_one_disease_list(pack):
    # E11 (type 2 diabetes) in the hypertension list too: a diabetic's 门特 claim drew on the
    # hypertension cap, because that list came first
    edit(pack, "pack.yaml", "hypertension: [I10-I15]", "hypertension: [I10-I15, E10-E11]")
    assert problems(pack) == ["shares ICD-10 E10, E11 with disease list 'hypertension': a diagnosis belongs to one list"]


def test_a_missing_reference_over_long_lists_is_counted_not_listed(pack):
    # (3 + 40) levels x (5 + 60 diseases and none) x (3 + 40 services and none) = 43 x 66 x 44 = 124,872
    # combinations, none defined: the first is named and the other 124,871 counted.
    edit(pack, "pack.yaml", "levels: [level1, level2, level3]",
         "levels: [level1, level2, level3, " + ", ".join(f"l{i}" for i in range(40)) + "]")
    edit(pack, "pack.yaml", "  transplant: [Z94]", "  transplant: [Z94]\n" + "".join(f"  d{i}: [B{i:02d}]\n" for i in range(60)))
    edit(pack, "pack.yaml", "services: [prenatal_care, termination, iud]",
         "services: [prenatal_care, termination, iud, " + ", ".join(f"s{i}" for i in range(40)) + "]")
    edit(pack, "layers/basic.yaml", '  - {value: "inpatient.ratio[scheme][level]"}',
         '  - {when: age > 200, value: "nope[level][disease][service]"}\n  - {value: "inpatient.ratio[scheme][level]"}')
    found = [m for m in problems(pack) if "nope" in m]
    assert found == ["refers to parameter 'nope[level1][hypertension][prenatal_care]', which no file in parameters/ "
                     "defines (and 124871 more of its combinations)"]


@pytest.mark.parametrize("counter, other", [
    # a yearly deductible on the monthly cap's counter: the vector engine read the month's key, the
    # engine the year's, and they settled the same claims differently
    ("outpatient.month", "the basic_fund caps.counter"),
    # the basic fund's deductible on medical aid's: a pack with no aid deductible bounds it at 0.00,
    # so the engine refused the member's later claims and the vector engine settled them
    ("medical_aid.deductible_used", "the residual_ratio deductible_counter"),
])
def test_a_counter_keeps_one_thing(pack, counter, other):
    edit(pack, "layers/basic_outpatient.yaml", "deductible: {per: none}",
         f"deductible: {{per: year, counter: {counter}, amount: [{{value: maternity.iud}}]}}")
    [found] = problems(pack)
    assert found.startswith(f"counter {counter!r} is the basic_fund deductible.counter at ")
    assert found.endswith(f"and here {other}: a counter keeps one thing (a cap's payments, a deductible used, "
                          "a cumulative base), so give each its own")


def test_a_breakdown_over_visit_gives_the_visit_kinds_the_pack_covers(tmp_path):
    # Anyang covers inpatient and special_outpatient: a breakdown over visit was made to give values for
    # day_surgery, general_outpatient, maternity and covid_test too, claims the pack refuses
    pack = tmp_path / "anyang"
    shutil.copytree(RULES / "anyang", pack)
    with open(pack / "parameters" / "outpatient_disease.yaml", "a", encoding="utf-8") as f:
        f.write("special.ratio.by_visit:\n"
                "  description: {zh: 按就诊类型的比例, en: ratio by visit}\n"
                "  unit: percent\n"
                "  breakdown: [visit]\n"
                "  values:\n"
                "    inpatient:\n      2022-01-01: {value: 80%, source: \"assumed: test\"}\n"
                "    special_outpatient:\n      2022-01-01: {value: 75%, source: \"assumed: test\"}\n")
    edit(pack, "layers/basic_special.yaml", "value: special.ratio}", 'value: "special.ratio.by_visit[visit]"}')
    rules = benefits.load_rules(pack)
    assert rules.param("special.ratio.by_visit[special_outpatient]", dt.date(2022, 3, 1)).text == "75%"
    edit(pack, "parameters/outpatient_disease.yaml", "    special_outpatient:\n      2022-01-01: {value: 75%, "
         "source: \"assumed: test\"}\n", "")
    assert problems(pack)[0] == "no values for visit 'special_outpatient': a breakdown gives every combination"


def test_a_subsidy_whose_cap_the_basic_fund_does_not_hold_refuses_the_claim(tmp_path):
    # found by a red team: the employee cap renamed `annual_employee` (two caps shared the id `annual`), and
    # Anyang's large-amount subsidy, which follows `annual`, paid 0.00 on every employee stay past the cap,
    # with validate and lint silent; medical aid and the patient took its 41,634.78 (tests/cases ay-36)
    from benefits.cases import load_case
    from benefits.simulate import settle_year
    from benefits.simulate.dicts import tables_from_dicts

    folder = tmp_path / "anyang"
    shutil.copytree(RULES / "anyang", folder)
    edit(folder, "layers/basic.yaml", "{id: annual, when: scheme == employee", "{id: annual_employee, when: scheme == employee")
    pack = benefits.load_rules(folder)
    [case_file] = (RULES.parent / "tests" / "cases" / "anyang").glob("ay-36-*.yaml")
    case = load_case(case_file)
    with pytest.raises(ClaimError) as err:
        benefits.evaluate(case.claim, pack, case.accumulators)
    assert str(err.value) == ("pack 'anyang': layer 'large_amount' follows cap 'annual' of the basic fund, but basic-fund "
                              "layer 'basic' holds no cap 'annual' for this claim; give 'basic' a cap 'annual' on every "
                              "claim 'large_amount' applies to")
    # the vectorised simulation sends the claim to the scalar engine, which refuses it alike
    opening = {case.claim.member.id: case.accumulators.model_dump(mode="json")}
    claims, members, items = tables_from_dicts([case.claim.model_dump(mode="json", exclude_none=True)], opening)
    results = settle_year(pack, claims, members, items=items, year=2022)
    assert results.column("status").tolist() == ["refused"] and results.column("engine").tolist() == ["scalar"]
    # a resident's stay, which the subsidy does not apply to, settles as before
    resident = claim(member={"id": "r1", "scheme": "resident", "member_type": "adult"}, level="city",
                     admission_date="2022-03-01", discharge_date="2022-03-10")
    assert benefits.evaluate(resident, pack).payouts == benefits.evaluate(resident, benefits.load_rules(RULES / "anyang")).payouts


def test_a_subsidy_over_a_basic_fund_with_no_cap_for_the_claim_pays_nothing(tmp_path):
    # found by a red team of the refusal above: a basic-fund layer holding no cap for a claim never reaches one,
    # so nothing lies beyond it; that is no mistake of the pack, and the claim settles (it was refused)
    from benefits.cases import load_case

    folder = tmp_path / "anyang"
    shutil.copytree(RULES / "anyang", folder)
    edit(folder, "layers/basic.yaml", "  - {id: annual, when: scheme == employee, value: basic.annual_cap.employee, "
                                      "counter: basic.annual}\n", "")
    [case_file] = (RULES.parent / "tests" / "cases" / "anyang").glob("ay-36-*.yaml")
    case = load_case(case_file)
    s = benefits.evaluate(case.claim, benefits.load_rules(folder), case.accumulators)
    # by hand (ay-36's arithmetic, no cap): basic = (90741.77 - 1200.00) x 87% = 77901.3399 -> 77901.34
    assert s.payouts["basic"] == Decimal("77901.34") and s.payouts["large_amount"] == Decimal("0.00")
