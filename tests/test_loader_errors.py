"""A malformed pack is refused as a whole, with every problem's file, line and expectation."""

import shutil
from decimal import Decimal

import pytest

import benefits
from benefits import Accumulators
from benefits.errors import RuleFileError

from conftest import RULES, edit


@pytest.fixture
def pack(tmp_path):
    dest = tmp_path / "jiangmen"
    shutil.copytree(RULES / "jiangmen", dest)
    return dest


def line_of(pack, rel, fragment):
    for n, line in enumerate((pack / rel).read_text(encoding="utf-8").splitlines(), 1):
        if fragment in line:
            return n
    raise AssertionError(fragment)


def problems(pack):
    with pytest.raises(RuleFileError) as exc:
        benefits.load_rules(pack, matcher="reference")
    return exc.value.problems


def only(pack):
    found = problems(pack)
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


def test_the_real_pack_loads():
    rules = benefits.load_rules(RULES / "jiangmen")
    assert [l.id for l in rules.layers] == [
        "basic", "basic_outpatient", "basic_special", "basic_covid", "covid_finance", "maternity",
        "serious_illness", "medical_aid", "secondary_aid", "personal_account",
    ]


def test_yaml_syntax_error_names_file_and_line(pack):
    edit(pack, "layers/basic.yaml", "kind: basic_fund", "kind: [basic_fund")
    p = only(pack)
    assert p.file.endswith("layers/basic.yaml") and p.line is not None and "not valid YAML" in p.message


def test_unknown_key(pack):
    edit(pack, "layers/basic.yaml", "adjustments:", "adjustmnets:")
    found = problems(pack)
    assert any(p.where == "adjustmnets" and "unknown key" in p.message
               and p.line == line_of(pack, "layers/basic.yaml", "adjustmnets:") for p in found)


# --- descriptions: {zh, en}, as layers and groups are named -----------------------------------------

COUNTER = "description: {zh: 个人账户余额, en: personal-account balance}"
B_SHARE = 'description: {zh: "乙类先行自付比例（默认）", en: "default pre-self-pay share of category-B items"}'
RATIO = 'description: {zh: "住院基金支付比例", en: "inpatient ratio"}'


@pytest.mark.parametrize("rel, old, new, where", [
    ("pack.yaml", COUNTER, "description: 个人账户余额 / personal-account balance", "counters.11.description"),
    ("parameters/bill.yaml", B_SHARE,
     'description: "乙类先行自付比例（默认）/ default pre-self-pay share of category-B items"',
     "bill.b_share_default.description"),
    ("parameters/basic_inpatient.yaml", RATIO,  # a breakdown
     'description: "住院基金支付比例/ inpatient ratio"', "inpatient.ratio.description"),
])
def test_a_description_in_one_string_is_refused_at_its_line(pack, rel, old, new, where):
    edit(pack, rel, old, new)
    p = only(pack)  # what names the parameter or counter is no second problem
    line = line_of(pack, rel, new)
    assert (p.file, p.line, p.where) == (f"jiangmen/{rel}", line, where)
    assert str(p).startswith(f"jiangmen/{rel}:{line} [{where}]: "
                             "expected a mapping {zh: 中文, en: English}, got the text '")
    assert new.split(": ", 1)[1].strip('"')[:6] in p.message  # the start of what was written


@pytest.mark.parametrize("new, where, message", [
    ("description: {zh: 个人账户余额}", "counters.11.description.en", "required key is missing"),
    ("description: {zh: 个人账户余额, en: ''}", "counters.11.description.en", "at least 1 character"),
    ("description: {zh: 个人账户余额, en: balance, fr: solde}", "counters.11.description.fr", "unknown key"),
    ("description: [个人账户余额, balance]", "counters.11.description",
     "expected a mapping {zh: 中文, en: English}, got a list"),
])
def test_a_description_needs_both_halves_and_nothing_else(pack, new, where, message):
    edit(pack, "pack.yaml", COUNTER, new)
    p = only(pack)
    assert p.where == where and message in p.message and p.line == line_of(pack, "pack.yaml", new)


@pytest.mark.parametrize("folder, name, new", [("parameters", "maternity", "maternity.yml"),
                                               ("layers", "maternity", "maternity.YAML")])
def test_a_file_of_another_yaml_spelling_is_named_not_read(pack, folder, name, new):
    # found by a red team: parameters/maternity.yml was passed over in silence, and the author was told that
    # no file in parameters/ defines the parameters it holds
    (pack / folder / f"{name}.yaml").rename(pack / folder / new)
    found = problems(pack)
    assert [p.message for p in found if p.file.endswith(new)] == [
        f"not read: a pack reads the files of {folder}/ ending in .yaml; rename it {name}.yaml"]
    # beside a file of the name it would take, renaming would overwrite it; a folder or a dangling link is no file
    shutil.copy(pack / folder / new, pack / folder / f"{name}.yaml")
    (pack / folder / "old.yml").mkdir()
    (pack / folder / "gone.yml").symlink_to(pack / "nowhere.yml")
    assert [(p.file.rpartition("/")[2], p.message) for p in problems(pack) if ".yml" in p.file or ".YAML" in p.file] == [
        (new, f"not read: a pack reads the files of {folder}/ ending in .yaml; {name}.yaml beside it is read: merge "
              "what this one holds into it, or remove this one")]


def test_missing_parameter_reference(pack):
    edit(pack, "layers/basic.yaml", "factor: inpatient.deductible.repeat_factor", "factor: inpatient.deductible.repeat_factr")
    p = only(pack)
    assert "inpatient.deductible.repeat_factr" in p.message and "no file in parameters/ defines" in p.message
    assert p.line == line_of(pack, "layers/basic.yaml", "repeat_factr")


def test_parameter_of_the_wrong_unit(pack):
    edit(pack, "layers/basic.yaml", '"inpatient.ratio[scheme][level]"', "basic.annual_cap.resident")
    assert "is in yuan; expected one in percent" in only(pack).message


# --- breakdowns (PolicyEngine's `breakdown:`): one parameter keyed by fields of the claim ----------------


def test_a_breakdown_reference_needs_every_combination(pack):
    # the resident level-3 ratio removed: a resident at a level-3 hospital would have no ratio
    rel = "parameters/basic_inpatient.yaml"
    edit(pack, rel, "      level3:\n        2021-01-01: {value: 65%", "      level9:\n        2021-01-01: {value: 65%")
    found = [str(p) for p in problems(pack)]
    assert any(f"jiangmen/{rel}:{line_of(pack, rel, 'level9:')} [inpatient.ratio.values.resident.level9]: "
               "'level9' is not a value of 'level'" in p for p in found), found
    assert any("no values for level 'level3': a breakdown gives every combination" in p for p in found), found
    assert any("refers to parameter 'inpatient.ratio[resident][level3]', which no file in parameters/ defines" in p
               for p in found), found


def test_a_breakdown_field_listed_twice_is_one_problem_at_its_line(pack):
    # found by a red team: `breakdown: [scheme, scheme]` was told "no values for scheme 'employee'" and
    # "'level1' is not a value of 'scheme'", never that the field is listed twice
    edit(pack, "parameters/basic_inpatient.yaml", "breakdown: [scheme, level]", "breakdown: [scheme, scheme]")
    p = only(pack)
    assert (p.line, p.where, p.message) == (line_of(pack, "parameters/basic_inpatient.yaml", "breakdown: [scheme, scheme]"),
                                           "inpatient.deductible.breakdown",
                                           "field 'scheme' is listed twice; list each field once")


def test_a_misspelt_field_in_a_reference_is_named(pack):
    # found by a red team: '[levels]' for '[level]' was read as a value, and the author told only that
    # 'inpatient.deductible[employee][levels]' is defined by no file
    edit(pack, "layers/basic.yaml", '"inpatient.deductible[scheme][level]"', '"inpatient.deductible[scheme][levels]"')
    p = only(pack)
    assert p.message.endswith("; [levels] is neither a field a parameter is broken down by (scheme, member_type, level, "
                              "visit, region, disease, service) nor a value of one"), p.message
    assert p.line == line_of(pack, "layers/basic.yaml", "[levels]")


def test_a_reference_with_a_field_the_breakdown_lacks(pack):
    edit(pack, "layers/basic.yaml", '"inpatient.ratio[scheme][level]"', '"inpatient.ratio[level][scheme]"')
    p = only(pack)
    assert "refers to parameter 'inpatient.ratio[level1][employee]', which no file" in p.message
    assert "(and 5 more of its combinations)" in p.message


def test_a_cap_names_one_parameter_not_a_breakdown(pack):
    edit(pack, "layers/medical_aid.yaml", "- {value: medical_aid.annual_cap}", '- {value: "inpatient.ratio[scheme][level]"}')
    p = only(pack)
    assert p.where == "caps.0.value" and "a cap names one parameter, not a breakdown" in p.message


def test_a_breakdown_reads_the_claims_own_values(pack):
    # one ratio changed in the breakdown changes exactly the claims of that scheme and level
    import datetime as dt

    rules = benefits.load_rules(pack, matcher="reference")
    assert rules.param("inpatient.ratio[employee][level2]", dt.date(2021, 3, 1)).value == Decimal("0.88")
    edit(pack, "parameters/basic_inpatient.yaml", "{value: 88%", "{value: 87%")
    changed = benefits.load_rules(pack, matcher="reference")
    claim = {"id": "c", "member": {"id": "m", "scheme": "employee", "member_type": "in_service"}, "visit": "inpatient",
             "level": "level2", "admission_date": "2021-03-01", "discharge_date": "2021-03-02",
             "bill": {"total": "10500.00", "fully_self_paid": "0", "over_limit": "0", "pre_self_paid": "0",
                      "policy_range": "10500.00"}}
    # (10500.00 - 500.00) x 88% = 8800.00, then x 87% = 8700.00
    assert benefits.evaluate(claim, rules).payouts["basic"] == Decimal("8800.00")
    assert benefits.evaluate(claim, changed).payouts["basic"] == Decimal("8700.00")
    other = dict(claim, level="level3")
    assert benefits.evaluate(other, rules).payouts["basic"] == benefits.evaluate(other, changed).payouts["basic"]


def test_ratio_above_100_percent(pack):
    edit(pack, "parameters/basic_inpatient.yaml", "{value: 65%", "{value: 165%")
    p = only(pack)
    assert "between 0% and 100%" in p.message
    assert p.line == line_of(pack, "parameters/basic_inpatient.yaml", "165%")


def test_money_with_three_decimals(pack):
    edit(pack, "parameters/basic_inpatient.yaml", "value: 300.00,", "value: 300.005,")
    assert "at most two decimals" in only(pack).message


@pytest.mark.parametrize("rel, old", [
    ("parameters/serious_illness.yaml", "{value: 10000.00,"),   # yuan: true read as 1.00
    ("parameters/basic_inpatient.yaml", "{value: 300000.00,"),  # a cap: false read as 0.00
])
def test_true_or_false_is_not_a_number(pack, rel, old):
    edit(pack, rel, old, "{value: true,")
    p = only(pack)
    assert p.message.endswith("expected a number such as 1000.00 or -10, or a percent such as 65%, got true")
    assert p.line == line_of(pack, rel, "value: true")


def test_condition_on_unknown_field(pack):
    edit(pack, "layers/basic.yaml", "when: scheme == employee and member_type == retired",
         "when: scheme == employee and membertype == retired")
    p = only(pack)
    assert "unknown field 'membertype'" in p.message
    assert p.line == line_of(pack, "layers/basic.yaml", "membertype")


def test_condition_value_outside_the_domain(pack):
    edit(pack, "layers/basic.yaml", "when: scheme == employee and member_type == retired",
         "when: scheme == employee and level == level4")
    assert "'level4' is not a value of 'level'" in only(pack).message


def test_parameter_date_not_a_version(pack):
    edit(pack, "parameters/basic_inpatient.yaml", "2021-07-01: {value: 80%", "2021-08-01: {value: 80%")
    assert "2021-08-01 is not one of the pack's version dates" in only(pack).message


def test_parameter_starting_late_leaves_a_gap(pack):
    edit(pack, "parameters/serious_illness.yaml", "    2021-01-01: {value: 10000.00", "    2021-07-01: {value: 10000.00")
    assert "must start on the pack's first version date 2021-01-01" in only(pack).message


def test_source_must_say_what_kind(pack):
    edit(pack, "parameters/bill.yaml", 'source: "assumed:', 'source: "guess:')
    assert "a source starts with" in only(pack).message


def test_duplicate_key(pack):
    edit(pack, "parameters/bill.yaml", "  unit: percent", "  unit: percent\n  unit: yuan")
    first = only(pack)  # the file cannot be read; what refers to its parameters is no second problem
    assert first.file.endswith("parameters/bill.yaml") and first.line == 5 and "duplicate key 'unit'" in first.message


def test_undeclared_counter(pack):
    edit(pack, "layers/medical_aid.yaml", "paid_counter: medical_aid.paid", "paid_counter: medical_aid.payed")
    assert "counter 'medical_aid.payed' is not declared" in only(pack).message


def test_missing_layer_file_and_layer_id_mismatch(pack):
    (pack / "layers" / "secondary_aid.yaml").unlink()
    edit(pack, "layers/medical_aid.yaml", "id: medical_aid", "id: aid")
    found = [str(p) for p in problems(pack)]
    assert any("layer 'secondary_aid' has no file layers/secondary_aid.yaml" in p for p in found)
    assert any("must have id: medical_aid" in p for p in found)


def test_unknown_layer_kind(pack):
    edit(pack, "layers/medical_aid.yaml", "kind: residual_ratio", "kind: lottery")
    assert "unknown layer kind 'lottery'" in only(pack).message


def test_every_problem_is_reported_not_only_the_first(pack):
    edit(pack, "parameters/basic_inpatient.yaml", "{value: 65%", "{value: 165%")
    edit(pack, "layers/basic.yaml", "adjustments:", "adjustmnets:")
    edit(pack, "layers/serious_illness.yaml", "when: scheme == resident\n", "when: scheme = resident\n")
    found = problems(pack)
    files = {p.file.split("/")[-1] for p in found}
    assert {"basic_inpatient.yaml", "basic.yaml", "serious_illness.yaml"} <= files
    assert len(found) >= 3


def test_not_a_folder(tmp_path):
    with pytest.raises(RuleFileError, match="not a folder"):
        benefits.load_rules(tmp_path / "nowhere")


def test_versions_must_increase(pack):
    edit(pack, "pack.yaml", "versions: [2021-01-01, 2021-07-01, 2022-01-01]", "versions: [2021-01-01, 2022-01-01, 2021-07-01]")
    assert any("increasing" in p.message for p in problems(pack))


def test_first_band_has_no_start(pack):
    edit(pack, "layers/serious_illness.yaml", "- {ratio: serious_illness.resident.band1_ratio}",
         "- {start: serious_illness.band2_start, ratio: serious_illness.resident.band1_ratio}")
    assert "the first band starts at the deductible" in only(pack).message


@pytest.mark.parametrize("bad", ["abc%", "0.65", "65"])
def test_percent_must_be_written_as_a_percent(pack, bad):
    edit(pack, "parameters/basic_inpatient.yaml", "{value: 65%", f"{{value: {bad}")
    assert "a percent is written like 65%" in only(pack).message


@pytest.mark.parametrize("old, bad, meant", [
    ("{value: 3, source", "0.03", "write 3 for +3 points"),      # the retired bonus
    ("{value: -10, source", "-0.10", "write -10 for -10 points"),  # unfiled cross-province
    ("{value: 3, source", "0.5", "write 50 for +50 points"),
])
def test_points_written_as_a_fraction_are_refused(pack, old, bad, meant):
    # 0.03 (meant as +3 points) settled a retired employee at 85.03% instead of 88%
    rel = "parameters/basic_inpatient.yaml"
    edit(pack, rel, old, f"{{value: {bad}, source")
    p = only(pack)
    assert (p.file, p.line) == (f"jiangmen/{rel}", line_of(pack, rel, f"value: {bad},"))
    assert p.where.endswith(".values.2021-01-01")
    assert p.message == (f"points are percentage points: 3 means +3% (65% + 3 points = 68%), and {bad} looks like "
                         f"a fraction; {meant}")


@pytest.mark.parametrize("points", ["0", "1", "-1", "1.5", "-2.25"])
def test_points_of_one_or_more_or_none_are_accepted(pack, points):
    edit(pack, "parameters/basic_inpatient.yaml", "{value: 3, source", f"{{value: {points}, source")
    rules = benefits.load_rules(pack, matcher="reference")
    assert rules.parameters["inpatient.ratio.retired_bonus"].values[0].value == Decimal(points)


YEARS = "outside the years accumulators are kept for, 1900 to 2200: no claim of that year could be settled"


def test_a_pack_valid_past_the_years_of_accumulators_is_refused(pack):
    # a 2201 claim without accumulators ended in pydantic's ValidationError for Accumulators.year (exit 3)
    edit(pack, "pack.yaml", "valid_until: 2022-12-31", "valid_until: 2201-12-31")
    p = only(pack)
    assert (p.file, p.line, p.where) == ("jiangmen/pack.yaml", line_of(pack, "pack.yaml", "valid_until:"), "valid_until")
    assert p.message == f"2201-12-31 is {YEARS}"


def test_a_version_before_the_years_of_accumulators_is_refused(pack):
    edit(pack, "pack.yaml", "versions: [2021-01-01,", "versions: [1899-07-01, 2021-01-01,")
    found = problems(pack)  # the parameters starting later than the first version are problems too
    line = line_of(pack, "pack.yaml", "versions:")
    assert any((p.file, p.line, p.where, p.message) == ("jiangmen/pack.yaml", line, "versions.0", f"1899-07-01 is {YEARS}")
               for p in found), [str(p) for p in found]


def test_the_years_of_a_pack_are_those_of_accumulators(pack):
    from benefits.models.accumulators import MAX_YEAR, MIN_YEAR

    assert Accumulators(year=MIN_YEAR).year == MIN_YEAR and Accumulators(year=MAX_YEAR).year == MAX_YEAR
    edit(pack, "pack.yaml", "valid_until: 2022-12-31", f"valid_until: {MAX_YEAR}-12-31")
    assert benefits.load_rules(pack, matcher="reference").versions[-1].end.year == MAX_YEAR


SI = "parameters/serious_illness.yaml"
BAND2 = '    2021-01-01: {value: 100000.00, source: "assumed: reference sheet, domain.md section 7.1 (serious-illness bands)"}'
RISE = "each band must start above the one before, and the second above the deductible"


def test_a_band_starting_below_the_deductible_from_a_version_is_refused_at_its_line(pack):
    # validated and linted clean; then every 2022 serious-illness claim was refused, naming the claim file
    edit(pack, SI, BAND2, BAND2 + '\n    2022-01-01: {value: 5000.00, source: "assumed: typo for 50000"}')
    p = only(pack)  # the employees' band row reads the same start: one problem
    assert (p.file, p.line, p.where) == (f"jiangmen/{SI}", line_of(pack, SI, "value: 5000.00"),
                                         "serious_illness.band2_start.values.2022-01-01")
    read = line_of(pack, "layers/serious_illness.yaml", "- when: scheme == resident")
    assert p.message == ("on 2022-01-01 the bands of serious_illness.bands[0] start at 10000.00 (serious_illness.deductible), "
                         f"5000.00 (serious_illness.band2_start): {RISE} (read by jiangmen/layers/serious_illness.yaml:{read} bands.0)")


def test_a_deductible_raised_above_a_band_is_the_value_refused(pack):
    edit(pack, SI, "    2021-01-01: {value: 10000.00,", '    2021-07-01: {value: 100000.00, source: "assumed: test"}\n'
         "    2021-01-01: {value: 10000.00,")
    p = only(pack)
    assert (p.line, p.where) == (line_of(pack, SI, "2021-07-01: {value: 100000.00"), "serious_illness.deductible.values.2021-07-01")
    assert p.message.startswith("on 2021-07-01 the bands of serious_illness.bands[0] start at 100000.00 "
                                "(serious_illness.deductible), 100000.00 (serious_illness.band2_start):")


def deductible_by_scheme(pack, resident: str, employee: str, more: str = "") -> None:
    """The serious-illness deductible given per scheme (`resident`, `employee`: its values in YAML),
    `more` parameters beside it."""
    edit(pack, SI, "serious_illness.band2_start:", f"""serious_illness.deductible.by_scheme:
  description: {{zh: 起付标准, en: deductible}}
  unit: yuan
  breakdown: [scheme]
  values:
    resident: {resident}
    employee: {employee}
{more}serious_illness.band2_start:""")
    edit(pack, "layers/serious_illness.yaml", "{value: serious_illness.deductible}",
         '{value: "serious_illness.deductible.by_scheme[scheme]"}')


def test_every_value_of_a_deductible_breakdown_is_checked_against_the_bands(pack):
    deductible_by_scheme(pack, '{2021-01-01: {value: 10000.00, source: "assumed: test"}}',
                         '{2021-01-01: {value: 10000.00, source: "assumed: test"}, '
                         '2022-01-01: {value: 120000.00, source: "assumed: test"}}')
    p = only(pack)
    assert (p.line, p.where) == (line_of(pack, SI, "value: 120000.00"),
                                 "serious_illness.deductible.by_scheme.values.employee.2022-01-01")
    assert "(serious_illness.deductible.by_scheme[employee]), 100000.00 (serious_illness.band2_start)" in p.message


def test_a_deductible_above_the_bands_of_other_members_is_no_fault(pack):
    # The employees' deductible (150,000.00) is above the residents' second band (100,000.00), but no
    # claim reads both: the residents' band row holds for residents alone, and the deductible's
    # breakdown gives them 10,000.00. Compared with every band row, the pack was refused.
    deductible_by_scheme(pack, '{2021-01-01: {value: 10000.00, source: "assumed: test"}}',
                         '{2021-01-01: {value: 150000.00, source: "assumed: test"}}',
                         """serious_illness.employee.band2_start:
  description: {zh: 第2段起点, en: second band}
  unit: yuan
  values:
    2021-01-01: {value: 200000.00, source: "assumed: test"}
""")
    edit(pack, "layers/serious_illness.yaml", "{start: serious_illness.band2_start, ratio: serious_illness.employee.band2_ratio}",
         "{start: serious_illness.employee.band2_start, ratio: serious_illness.employee.band2_ratio}")
    benefits.load_rules(pack)
    # and the residents' own deductible above their second band is still refused
    edit(pack, SI, 'resident: {2021-01-01: {value: 10000.00, source: "assumed: test"}}',
         'resident: {2021-01-01: {value: 100000.00, source: "assumed: test"}}')
    p = only(pack)  # both from the same date: the later band's start is the one named
    assert ("the bands of serious_illness.bands[0] start at 100000.00 (serious_illness.deductible.by_scheme[resident]), "
            "100000.00 (serious_illness.band2_start)") in p.message


def test_bands_and_deductibles_for_ages_that_never_meet_are_no_fault(pack):
    # the over-60s' deductible (20,000.00) is above the under-60s' second band (15,000.00): no claim
    # reads both, but ages were taken to meet whatever the conditions said
    edit(pack, SI, "serious_illness.band2_start:", """serious_illness.senior.deductible:
  description: {zh: 起付标准, en: deductible}
  unit: yuan
  values:
    2021-01-01: {value: 20000.00, source: "assumed: test"}
serious_illness.young.band2_start:
  description: {zh: 第2段起点, en: second band}
  unit: yuan
  values:
    2021-01-01: {value: 15000.00, source: "assumed: test"}
serious_illness.band2_start:""")
    layer = "layers/serious_illness.yaml"
    edit(pack, layer, "  - {value: serious_illness.deductible}",
         "  - {when: age < 60, value: serious_illness.deductible}\n  - {when: age >= 60, value: serious_illness.senior.deductible}")
    edit(pack, layer, "  - when: scheme == resident\n", "  - when: scheme == resident and age < 60\n")
    edit(pack, layer, "{start: serious_illness.band2_start, ratio: serious_illness.resident.band2_ratio}",
         "{start: serious_illness.young.band2_start, ratio: serious_illness.resident.band2_ratio}")
    edit(pack, layer, "  - when: scheme == employee\n", "  - when: scheme == employee and age >= 60\n")
    benefits.load_rules(pack)
    # the under-60s' own deductible above their second band is still refused
    edit(pack, layer, "  - {when: age < 60, value: serious_illness.deductible}",
         "  - {when: age < 61, value: serious_illness.senior.deductible}")
    assert "start at 20000.00 (serious_illness.senior.deductible), 15000.00 (serious_illness.young.band2_start)" in only(pack).message


@pytest.fixture
def anyang(tmp_path):
    dest = tmp_path / "anyang"
    shutil.copytree(RULES / "anyang", dest)
    return dest


def test_a_later_band_below_the_one_before_is_refused(anyang):
    # one version: the deductible and every start begin on the same date; the later band is the one named
    rel = "parameters/serious_illness.yaml"
    edit(anyang, rel, "{value: 100000.00, source: \"assumed: reference sheet, domain.md section 7.2 (resident serious illness bands)",
         "{value: 40000.00, source: \"assumed: reference sheet, domain.md section 7.2 (resident serious illness bands)")
    p = only(anyang)
    assert (p.file, p.line, p.where) == (f"anyang/{rel}", line_of(anyang, rel, "value: 40000.00"),
                                         "serious_illness.band3_start.values.2022-01-01")
    assert p.message.startswith("on 2022-01-01 the bands of serious_illness.bands[0] start at 15000.00 (serious_illness.deductible), "
                                "50000.00 (serious_illness.band2_start), 40000.00 (serious_illness.band3_start): " + RISE)


# --- what was expected, in the words of the rule files (not pydantic's, PyYAML's or Python's) -------------

PYTHON_WORDS = ("Input should be a valid dictionary", "instance of", "PackFile", "ParameterFile", "extract fields",
                "discriminator", "Decimal(", "datetime", "None", "tag:yaml.org")


def in_our_words(message):
    assert not [w for w in PYTHON_WORDS if w in message], message


PACK_KEYS = ("pack, title, jurisdiction, deciding_date, versions, valid_until, levels, visits, diseases, services, "
             "refusals, default_b_share, counters, layers")
LAYER_KEYS = ("kind: one of 'above_cap', 'basic_fund', 'cumulative_bands', 'fixed_amount', 'personal_account', "
              "'residual_ratio', and the keys of that kind")


@pytest.mark.parametrize("rel, text, line, message", [
    ("pack.yaml", "", None, f"expected a mapping of pack.yaml's keys ({PACK_KEYS}), got nothing"),
    ("pack.yaml", "- just\n- a list\n", 1, f"expected a mapping of pack.yaml's keys ({PACK_KEYS}), got a list"),
    ("pack.yaml", "jiangmen\n", 1, f"expected a mapping of pack.yaml's keys ({PACK_KEYS}), got the text 'jiangmen'"),
    ("layers/maternity.yaml", "- kind\n- fixed_amount\n", 1, f"expected a mapping of a layer's keys ({LAYER_KEYS}), got a list"),
    ("layers/maternity.yaml", "", None, f"expected a mapping of a layer's keys ({LAYER_KEYS}), got nothing"),
])
def test_a_file_that_is_not_a_mapping_says_what_it_should_hold(pack, rel, text, line, message):
    (pack / rel).write_text(text, encoding="utf-8")
    p = only(pack)
    assert (p.file, p.line, p.where, p.message) == (f"jiangmen/{rel}", line, "", message)
    in_our_words(p.message)


@pytest.mark.parametrize("body, got", [("7", "7"), ("[7, 8]", "a list"), ("", "nothing"), ("text", "the text 'text'")])
def test_a_parameter_that_is_not_a_mapping_says_what_it_should_hold(pack, body, got):
    rel = "parameters/serious_illness.yaml"
    edit(pack, rel, "serious_illness.deductible:", f"serious_illness.extra: {body}\nserious_illness.deductible:")
    p = only(pack)
    assert (p.file, p.line, p.where) == (f"jiangmen/{rel}", line_of(pack, rel, "serious_illness.extra:"), "serious_illness.extra")
    assert p.message == f"expected a mapping of a parameter's keys (description, unit, values), got {got}"
    in_our_words(p.message)


def test_a_dated_value_that_is_not_a_mapping_says_what_it_should_hold(pack):
    rel = "parameters/bill.yaml"
    edit(pack, rel, "2021-01-01: {value: 10%, source:", "2021-01-01: 10%\n    2021-07-01: {value: 10%, source:")
    found = [p for p in problems(pack) if p.file == f"jiangmen/{rel}"]
    assert [(p.line, p.where, p.message) for p in found][:1] == [
        (line_of(pack, rel, "2021-01-01: 10%"), "bill.b_share_default.values.2021-01-01",
         "expected a mapping of a dated value's keys (value, source), got the text '10%'")]


def test_a_layer_without_kind_names_the_kinds(pack):
    from benefits.kinds import KINDS

    edit(pack, "layers/basic.yaml", "kind: basic_fund\n", "")
    p = only(pack)
    assert (p.file, p.line) == ("jiangmen/layers/basic.yaml", line_of(pack, "layers/basic.yaml", "id: basic"))
    assert p.message == ("required key 'kind' is missing; expected the layer's kind, one of "
                         + ", ".join(repr(k) for k in sorted(KINDS)))
    in_our_words(p.message)


def test_a_layer_kind_that_is_not_text_is_quoted_as_written(pack):
    edit(pack, "layers/basic.yaml", "kind: basic_fund\n", "kind: [basic_fund]\n")
    p = only(pack)
    assert p.message.startswith("unknown layer kind a list; expected one of 'above_cap', ") and "[" not in p.message


@pytest.mark.parametrize("rel, old, new, where, got", [
    ("layers/basic.yaml", "from_admission: 2,", "from_admission: 2.0,", "deductible.repeat_admissions.from_admission",
     "Input should be a valid integer (got 2.0)"),
    ("layers/basic.yaml", "from_admission: 2,", "from_admission: 0.0000001,", "deductible.repeat_admissions.from_admission",
     "Input should be a valid integer (got 0.0000001)"),
    ("pack.yaml", "jurisdiction: 广东省江门市", "jurisdiction: 2021-01-01", "jurisdiction",
     "Input should be a valid string (got 2021-01-01)"),
    ("pack.yaml", "jurisdiction: 广东省江门市", "jurisdiction: true", "jurisdiction", "Input should be a valid string (got true)"),
    # (a key whose value is null is refused as left empty: test_hostile_packs)
    ("pack.yaml", "levels: [level1, level2, level3]", "levels: [level1, level2, null]", "levels.2",
     "Input should be a valid string (got null)"),
])
def test_a_value_is_quoted_as_the_file_writes_it(pack, rel, old, new, where, got):
    edit(pack, rel, old, new)
    p = only(pack)
    assert (p.line, p.where, p.message) == (line_of(pack, rel, new), where, got)
    in_our_words(p.message)


def test_a_merge_key_is_refused_in_our_words(pack):
    edit(pack, "layers/basic.yaml", "kind: basic_fund\n", "kind: basic_fund\n<<: {citation: x}\n")
    p = only(pack)
    assert (p.file, p.line) == ("jiangmen/layers/basic.yaml", line_of(pack, "layers/basic.yaml", "<<:"))
    assert p.message == "not valid YAML: a merge key (<<) is not accepted: write out the values it would copy"
    in_our_words(p.message)


# --- a parameter file refused whole: what refers to its parameters is no second problem ----------------


def test_a_parameter_file_that_is_not_yaml_is_the_one_problem(pack):
    # the layers refer to eleven of its parameters, each of which was reported as defined by no file
    rel = "parameters/basic_inpatient.yaml"
    edit(pack, rel, "inpatient.deductible.repeat_factor:", "inpatient.deductible.repeat_factor: [\n")
    p = only(pack)
    assert p.file == f"jiangmen/{rel}" and p.message.startswith("not valid YAML: ")


def test_a_reference_to_a_parameter_file_not_read_says_so(pack):
    # the file holds no names to tell what it would define: what refers to them names it
    rel = "parameters/serious_illness.yaml"
    (pack / rel).write_text("- a list\n", encoding="utf-8")
    found = problems(pack)
    assert str(found[0]) == f"jiangmen/{rel}:1: expected a mapping of parameter names to parameters"
    assert found[1:] and all(p.message.endswith(f"which no file in parameters/ defines; jiangmen/{rel} could not be read "
                                                "and may define it") for p in found[1:]), [str(p) for p in found]


def test_an_undefined_parameter_is_still_reported_beside_a_file_not_read(pack):
    edit(pack, "parameters/basic_inpatient.yaml", "inpatient.deductible.repeat_factor:",
         "inpatient.deductible.repeat_factor: [\n")
    edit(pack, "layers/medical_aid.yaml", "- {value: medical_aid.annual_cap}", "- {value: medical_aid.annual_cpa}")
    found = problems(pack)
    assert len(found) == 2 and found[0].message.startswith("not valid YAML: "), [str(p) for p in found]
    assert found[1].message == ("refers to parameter 'medical_aid.annual_cpa', which no file in parameters/ defines; "
                                "jiangmen/parameters/basic_inpatient.yaml could not be read and may define it")


def test_error_paths_hide_the_layer_kind(pack):
    # pydantic puts the union's tag (the file's kind) in the path; a rule author did not write it
    from benefits.kinds import KINDS

    assert set(KINDS) == {"basic_fund", "cumulative_bands", "residual_ratio", "fixed_amount", "above_cap",
                          "personal_account"}
    edit(pack, "layers/basic.yaml", "adjustments:", "adjustments: 7\nold_adjustments:")
    found = problems(pack)
    assert {p.where for p in found} == {"adjustments", "old_adjustments"}, found


def test_the_personal_account_must_pay_last(pack):
    edit(pack, "pack.yaml", "secondary_aid, personal_account]", "personal_account, secondary_aid]")
    p = only(pack)
    assert p.file.endswith("pack.yaml") and p.line == line_of(pack, "pack.yaml", "personal_account, secondary_aid]")
    assert "'personal_account' pays what every fund left: it must be listed last" in p.message


def test_a_refusal_condition_is_checked_with_its_line(pack):
    edit(pack, "pack.yaml", "when: visit == maternity and scheme == resident", "when: visit == maternity and schema == resident")
    p = only(pack)
    assert p.line == line_of(pack, "pack.yaml", "schema == resident") and p.where == "refusals.1.when"
    assert "unknown field 'schema'" in p.message


def test_a_service_condition_names_a_service_of_the_pack(pack):
    edit(pack, "layers/maternity.yaml", "service == iud", "service == ivf")
    p = only(pack)
    assert p.line == line_of(pack, "layers/maternity.yaml", "service == ivf")
    assert "'ivf' is not a value of 'service'" in p.message


def test_an_above_cap_layer_needs_the_cap_it_follows():
    import pathlib
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        dest = pathlib.Path(tmp) / "anyang"
        shutil.copytree(RULES / "anyang", dest)
        edit(dest, "layers/large_amount.yaml", "cap: annual", "cap: yearly")
        p = only(dest)
        assert p.file.endswith("pack.yaml") and "follows cap 'yearly', which no basic-fund layer listed before it has" in p.message


def test_one_counter_for_a_monthly_and_a_yearly_cap_is_refused(pack):
    # the employee's monthly cap drawn on the residents' yearly counter: outpatient.year@2022-03 would
    # be read against a cap whose other users write outpatient.year
    rel = "layers/basic_outpatient.yaml"
    edit(pack, rel, "counter: outpatient.month, period: month", "counter: outpatient.year, period: month")
    p = only(pack)
    yearly = line_of(pack, rel, "counter: outpatient.year}")
    assert (p.file, p.line, p.where) == ("jiangmen/" + rel, line_of(pack, rel, "counter: outpatient.year, period: month"), "caps.1")
    assert p.message == (f"counter 'outpatient.year' is drawn by a yearly cap at jiangmen/{rel}:{yearly} and by this "
                         "monthly cap: a counter is kept per month or per year, so give each its own")


def test_one_counter_for_monthly_caps_of_two_layers_is_accepted(pack):
    rel = "layers/basic_special.yaml"
    edit(pack, rel, "counter: special.hypertension}", "counter: special.hypertension, period: month}")
    edit(pack, rel, "counter: special.diabetes}", "counter: special.hypertension, period: month}")
    benefits.load_rules(pack, matcher="reference")


def test_a_breakdown_combination_without_values_is_refused(pack):
    # found by the long fuzz profile: `level2: {}` made a parameter with no value and the pack
    # failed to load with IndexError instead of our error
    rel = "parameters/basic_inpatient.yaml"
    text = (pack / rel).read_text(encoding="utf-8")
    start = text.index("      level2:\n", text.index("inpatient.deductible:"))
    end = text.index("      level3:\n", start)
    (pack / rel).write_text(text[:start] + "      level2: {}\n" + text[end:], encoding="utf-8")
    p = next(p for p in problems(pack) if p.file == f"jiangmen/{rel}")
    assert p.where == "inpatient.deductible.values.resident.level2"
    assert p.line == line_of(pack, rel, "level2: {}") and "at least 1 item" in p.message


def test_a_parameter_name_ending_in_a_line_break_is_not_a_name(pack):
    # a quoted key can end in a line break; no reference (a pattern to its end) could ever name it
    edit(pack, "parameters/basic_inpatient.yaml", "inpatient.deductible.repeat_factor:",
         '"inpatient.deductible.repeat_factor\\n":')
    found = problems(pack)
    assert any(p.message == "expected a parameter name of lower-case words joined by '.', got "
                            "'inpatient.deductible.repeat_factor\\n'" for p in found), [str(p) for p in found]


# --- a lifted cap is a policy value: it names its source ------------------------------------------

LIFT = 'lift_cap: {source: "seed 001: 上述人员大病保险不设最高支付限额 (低保, 建档立卡; domain.md section 7.1)"}'


def test_a_cap_lifted_without_its_source_is_refused_at_its_line(pack):
    # `lift_cap: true` lifted the cap with nothing to cite: the trace cited the cap it lifted (240000.00)
    edit(pack, "layers/serious_illness.yaml", LIFT, "lift_cap: true")
    p = only(pack)
    assert p.message.endswith('a lifted cap names the policy text that lifts it: lift_cap: {source: "seed NNN: ..."} '
                              "(or leave the key out)"), p.message
    assert p.line == line_of(pack, "layers/serious_illness.yaml", "lift_cap: true")


def test_a_lifted_caps_source_says_what_kind_it_is(pack):
    edit(pack, "layers/serious_illness.yaml", LIFT, 'lift_cap: {source: "上述人员大病保险不设最高支付限额"}')
    p = only(pack)
    assert p.message.endswith("a source starts with 'seed NNN:', 'notice <number>:' or 'assumed:'"), p.message
    assert p.line == line_of(pack, "layers/serious_illness.yaml", "lift_cap: {source: \"上述")


def test_a_cap_not_lifted_is_false_or_left_out(pack):
    # 低保 with `lift_cap: false`: the serious-illness cap binds them again. A 低保 resident with
    # 239000.00 of serious illness paid this year, a level-3 stay of 100000.00 in policy range: basic
    # (100000.00 - 1000.00) x 65% = 64350.00; self-pay 35650.00 from 0.00, first band from
    # 10000.00 x 30% = 3000.00 at 70%: (35650.00 - 3000.00) x 70% = 22855.00, capped at 240000.00 - 239000.00
    # = 1000.00. Lifted, it pays the 22855.00.
    claim = {"id": "c-lift", "visit": "inpatient", "level": "level3", "admission_date": "2022-03-01",
             "discharge_date": "2022-03-05", "diagnoses": ["J18.9"],
             "member": {"id": "m-lift", "scheme": "resident", "member_type": "adult", "groups": ["dibao"]},
             "bill": {"total": "100000.00", "fully_self_paid": "0.00", "over_limit": "0.00", "pre_self_paid": "0.00",
                      "policy_range": "100000.00"}}
    acc = {"year": 2022, "counters": {"serious_illness.paid": "239000.00"}}
    lifted = benefits.evaluate(claim, benefits.load_rules(pack), acc)
    assert lifted.payouts["serious_illness"] == Decimal("22855.00")
    edit(pack, "layers/serious_illness.yaml", LIFT, "lift_cap: false")
    assert benefits.evaluate(claim, benefits.load_rules(pack), acc).payouts["serious_illness"] == Decimal("1000.00")
