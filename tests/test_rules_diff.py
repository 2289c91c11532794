"""`benefits.rules.diff`: parameters added, removed and changed (values and sources), layers and their
conditions, pack.yaml; and the counterfactual pack builder it checks (simulate.compare)."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from decimal import Decimal

import pytest
from benefits_cli.app import app
from conftest import ROOT, RULES, cli_runner, edit

import benefits
from benefits.rules.diff import diff_packs, diff_text
from benefits.simulate.compare import pack_with_values, pack_without_change

JIANGMEN = RULES / "jiangmen"
JULY = dt.date(2021, 7, 1)


@pytest.fixture(scope="module")
def counterfactual(counterfactual_made):
    folder, changed = counterfactual_made
    return benefits.load_rules(folder), changed


def test_a_pack_against_itself_has_no_differences(jiangmen):
    d = diff_packs(jiangmen, jiangmen)
    assert d.empty
    assert diff_text(d)[-1] == "no differences"


def test_the_counterfactual_changes_exactly_the_two_values_of_2021_07_01(jiangmen, counterfactual):
    cf, changed = counterfactual
    # domain.md 7.1: of 2021-07-01 the resident basic cap went 200,000 -> 300,000 and the resident
    # level-2 inpatient ratio 75% -> 80%; the counterfactual keeps the 2021-01-01 values.
    assert changed == ["basic.annual_cap.resident", "inpatient.ratio[resident][level2]"]
    d = diff_packs(jiangmen, cf)
    assert not d.pack and not d.layers
    assert [p.name for p in d.parameters] == changed
    cap = d.parameter("basic.annual_cap.resident")
    assert cap.status == "changed" and cap.unit == "yuan"
    [c] = cap.changes
    assert (c.start, c.a.value, c.b.value, c.what) == (JULY, "300000.00", "200000.00", "value+source")
    assert c.a.source.startswith("seed 001:") and c.b.source.startswith("assumed: counterfactual")
    [r] = d.parameter("inpatient.ratio[resident][level2]").changes
    assert (r.a.value, r.b.value) == ("80%", "75%")
    # before the change both packs agree: on 2021-03-01 nothing differs; after it, the same two
    assert diff_packs(jiangmen, cf, on=dt.date(2021, 3, 1)).empty
    on = diff_packs(jiangmen, cf, on=dt.date(2021, 8, 1))
    assert [(p.name, p.changes[0].a.value, p.changes[0].b.value) for p in on.parameters] == [
        ("basic.annual_cap.resident", "300000.00", "200000.00"), ("inpatient.ratio[resident][level2]", "80%", "75%")]
    text = "\n".join(diff_text(on))
    assert "on 2021-08-01: 300000.00 -> 200000.00" in text and "B source: assumed: counterfactual" in text


def test_a_description_is_written_with_both_halves(jiangmen):
    """The text gives a parameter's description ({zh, en} in its file) as '中文 / English' ('中文（注）/
    English' after a full-width bracket, which carries its own space), and as one text when the two
    halves are the same (a pack with no Chinese for it)."""
    from benefits.render import both_languages
    from benefits.rules.files import Text

    mini = benefits.load_rules(ROOT / "examples" / "rules" / "mini")
    day = dt.date(2022, 3, 1)
    lines = diff_text(diff_packs(mini, jiangmen, on=day))
    assert "  removed  outpatient.deductible (yuan): 门诊年度起付线 / annual outpatient deductible" in lines
    assert ("  changed  bill.b_share_default (percent): 乙类先行自付比例（默认）/ default pre-self-pay share of "
            "category-B items") in lines
    assert both_languages(Text(zh="B share", en="B share")) == "B share"
    assert both_languages(Text(zh="起付线", en="deductible")) == "起付线 / deductible"


def test_the_counterfactual_pack_settles_a_level2_stay_at_75_percent(counterfactual):
    cf, _ = counterfactual
    claim = {"id": "c", "member": {"id": "m", "scheme": "resident", "member_type": "adult"}, "visit": "inpatient",
             "level": "level2", "admission_date": "2021-08-01", "discharge_date": "2021-08-05",
             "bill": {"total": "10500.00", "fully_self_paid": "0.00", "over_limit": "0.00", "pre_self_paid": "0.00",
                      "policy_range": "10500.00"}}
    # (10500 - 500 deductible) x 75% = 7500.00 (the pack as is: x 80% = 8000.00)
    assert benefits.evaluate(claim, cf).payouts["basic"] == Decimal("7500.00")
    assert benefits.evaluate(claim, benefits.load_rules(JIANGMEN)).payouts["basic"] == Decimal("8000.00")


def test_values_and_sources_are_replaced_on_their_own_line(tmp_path, jiangmen):
    folder = pack_with_values(JIANGMEN, tmp_path / "jiangmen", {
        ("serious_illness.deductible", dt.date(2021, 1, 1)): ("8000.00", "assumed: test value")})
    d = diff_packs(jiangmen, benefits.load_rules(folder))
    [p] = d.parameters
    assert (p.name, p.changes[0].a.value, p.changes[0].b.value) == ("serious_illness.deductible", "10000.00", "8000.00")
    assert p.changes[0].b.source == "assumed: test value"
    with pytest.raises(ValueError, match="no value of 'serious_illness.deductible' starting 2021-07-01"):
        pack_with_values(JIANGMEN, tmp_path / "other", {("serious_illness.deductible", JULY): ("1.00", "assumed: x")})


def test_a_line_of_several_dated_values_is_refused_not_misedited(tmp_path):
    # the edit went to the first value on the line: 2021-01-01 "changed" to itself, 2021-07-01's
    # 300,000 kept, and the counterfactual paid 110,000 where it should pay 10,000
    src = tmp_path / "jiangmen"
    shutil.copytree(JIANGMEN, src)
    path = src / "parameters" / "basic_inpatient.yaml"
    text = path.read_text(encoding="utf-8")
    one_line, n = re.subn(r"(basic\.annual_cap\.resident:\n(?:  [a-z].*\n){2})  values:\n    2021-01-01: (\{[^\n]*\})\n"
                          r"    2021-07-01: (\{[^\n]*\})", r"\1  values: {2021-01-01: \2, 2021-07-01: \3}", text)
    assert n == 1
    path.write_text(one_line, encoding="utf-8")
    benefits.load_rules(src)  # a valid pack
    with pytest.raises(ValueError, match="write each dated value on a line of its own"):
        pack_without_change(src, tmp_path / "cf", JULY, "undone")
    assert not (tmp_path / "cf").exists()


@pytest.mark.parametrize("overrides, problem", [
    ({("inpatient.ratio[resident][level2]", JULY): ("77", "assumed: x")}, "does not load"),  # a percent without %
    ({("inpatient.ratio[resident][level2]", JULY): ("77%", "no kind prefix")}, "does not load"),
])
def test_values_the_pack_refuses_leave_nothing(tmp_path, overrides, problem):
    with pytest.raises(ValueError, match=problem):
        pack_with_values(JIANGMEN, tmp_path / "out", overrides)
    assert not (tmp_path / "out").exists() and [p.name for p in tmp_path.iterdir()] == []


def test_a_source_is_written_as_given(tmp_path):
    # the source went through re.subn as a template: a backslash raised re.error or vanished
    source = r'assumed: 50\% of C:\x, "quoted", \1'
    folder = pack_with_values(JIANGMEN, tmp_path / "jiangmen", {("inpatient.ratio[resident][level2]", JULY): ("77%", source)})
    value = benefits.load_rules(folder).parameters["inpatient.ratio[resident][level2]"].at(JULY)
    assert (value.value, value.source) == (Decimal("0.77"), source)


def test_nothing_to_undo_and_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="nothing to undo"):
        pack_without_change(JIANGMEN, tmp_path / "a", dt.date(2021, 7, 2), "x")
    with pytest.raises(TypeError):
        pack_without_change(JIANGMEN, tmp_path / "b", "2021-07-01", "x")
    with pytest.raises(ValueError, match="has no parameter 'no.such'"):
        pack_without_change(JIANGMEN, tmp_path / "c", JULY, "x", only={"no.such"})
    shutil.copytree(JIANGMEN, tmp_path / "j")
    with pytest.raises(ValueError, match="inside the pack"):  # the copy was written into the pack itself
        pack_without_change(tmp_path / "j", tmp_path / "j" / "sub", JULY, "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["j"]


def test_a_changed_item_among_items_of_one_id_is_listed(tmp_path, jiangmen):
    # the two caps named annual (residents, employees): a change to the second, with a cap added, was
    # hidden: the diff kept the first of each name only
    folder = tmp_path / "jiangmen"
    shutil.copytree(JIANGMEN, folder)
    edit(folder, "layers/basic.yaml", "{id: annual, when: scheme == employee, value: basic.annual_cap.employee,",
         "{id: annual, when: scheme == employee, value: basic.annual_cap.resident,")
    edit(folder, "layers/basic.yaml", "basic.annual_cap.resident, counter: basic.annual}\n  - {id: annual, when: scheme == employee",
         "basic.annual_cap.resident, counter: basic.annual}\n  - {id: claim, value: basic.annual_cap.resident, "
         "period: claim}\n  - {id: annual, when: scheme == employee")
    text = "\n".join(diff_text(diff_packs(jiangmen, benefits.load_rules(folder))))
    assert "added: claim" in text
    assert "caps[annual#2].value: basic.annual_cap.employee -> basic.annual_cap.resident" in " ".join(text.split())


def test_a_description_changed_is_a_difference_and_a_value_respelled_is_none(tmp_path, jiangmen):
    folder = tmp_path / "jiangmen"
    shutil.copytree(JIANGMEN, folder)
    # the description is the parameter's name in Chinese text: its change was "no differences"
    edit(folder, "parameters/basic_inpatient.yaml", 'zh: "住院基金支付比例"', 'zh: "住院比例"')
    # 3 and 3.0 points are one value: the diff said "+3 points -> +3.0 points"
    edit(folder, "parameters/basic_inpatient.yaml", "{value: 3, source:", "{value: 3.0, source:")
    edit(folder, "parameters/basic_inpatient.yaml", "{value: -10, source:", "{value: -10.00, source:")
    d = diff_packs(jiangmen, benefits.load_rules(folder))
    # the breakdown's six combinations, each with the description changed and no value
    assert len(d.parameters) == 6 and all(p.name.startswith("inpatient.ratio[") for p in d.parameters)
    assert all(p.changes == [] and p.description_a.zh.startswith("住院基金支付比例")
               and p.description.zh.startswith("住院比例") for p in d.parameters)
    assert any("description: 住院基金支付比例" in line for line in diff_text(d))


def test_parameters_and_layers_added_and_removed_between_jiangmen_and_anyang(jiangmen):
    anyang = benefits.load_rules(RULES / "anyang")
    d = diff_packs(jiangmen, anyang)
    status = {p.name: p.status for p in d.parameters}
    assert status["chronic.ratio"] == "added"  # Anyang's outpatient chronic-disease ratio (65%)
    assert status["covid.finance_share"] == "removed"  # Jiangmen's COVID-test finance share
    assert status["basic.annual_cap.resident"] == "changed"
    added = d.parameter("chronic.ratio").changes
    assert [(c.start, c.a, c.b.value) for c in added] == [(dt.date(2022, 1, 1), None, "65%")]
    layers = {layer.id: layer.status for layer in d.layers}
    assert layers["large_amount"] == "added" and layers["basic_outpatient"] == "removed"
    assert layers["basic"] == "changed"
    paths = {c.path for c in d.pack}
    assert {"pack", "versions", "levels", "visits", "layers"} <= paths


def test_a_changed_condition_is_named_as_such(tmp_path, jiangmen):
    folder = tmp_path / "jiangmen"
    shutil.copytree(JIANGMEN, folder)
    edit(folder, "layers/medical_aid.yaml", "- {id: dibao, when: groups has dibao, ratio: medical_aid.ratio.dibao}",
         "- {id: dibao, when: groups has dibao or groups has tuopin, ratio: medical_aid.ratio.dibao}")
    d = diff_packs(jiangmen, benefits.load_rules(folder))
    assert not d.parameters
    [layer_diff] = d.layers
    assert (layer_diff.id, layer_diff.status, layer_diff.kind) == ("medical_aid", "changed", "residual_ratio")
    [change] = layer_diff.changes
    assert change.path == "groups[1].when" and change.is_condition
    assert (change.a, change.b) == ("groups has dibao", "groups has dibao or groups has tuopin")
    assert "condition groups[1].when: groups has dibao -> groups has dibao or groups has tuopin" in "\n".join(diff_text(d))


@pytest.mark.parametrize("old, new, name", [
    # a line written source first, with 'value:' inside its source: the edit landed in the source
    ('    2021-07-01: {value: 300000.00, source: "seed 001: 其中基本医疗保险年度内累计最高支付限额为30万 (domain.md section 7.1)"}',
     '    2021-07-01: {source: "seed 001: 30万 (maxvalue: 300000, domain.md section 7.1)", value: 300000.00}',
     "basic.annual_cap.resident"),
])
def test_an_edit_that_misses_its_value_is_refused(tmp_path, old, new, name):
    src = tmp_path / "jiangmen"
    shutil.copytree(JIANGMEN, src)
    edit(src, "parameters/basic_inpatient.yaml", old, new)
    benefits.load_rules(src)
    with pytest.raises(ValueError, match="after the edit"):
        pack_with_values(src, tmp_path / "out", {(name, JULY): ("100000.00", "assumed: lower cap")})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jiangmen"]


def test_an_edit_that_reaches_another_value_is_refused(tmp_path):
    # an anchor on the resident's level-2 deductibles, aliased by the employee's: the edit changed both
    src = tmp_path / "jiangmen"
    shutil.copytree(JIANGMEN, src)
    resident = ('      level2:\n        2021-01-01: {value: 500.00, source: "assumed: reference sheet, domain.md section 7.1 '
                '(resident inpatient deductible)"}\n')
    employee = ('      level2:\n        2021-01-01: {value: 500.00, source: "assumed: reference sheet, domain.md section 7.1 '
                '(employee inpatient deductible)"}\n')
    edit(src, "parameters/basic_inpatient.yaml", resident, resident.replace("level2:", "level2: &L2"))
    edit(src, "parameters/basic_inpatient.yaml", employee, "      level2: *L2\n")
    benefits.load_rules(src)
    with pytest.raises(ValueError, match="too"):
        pack_with_values(src, tmp_path / "out", {("inpatient.deductible[employee][level2]", dt.date(2021, 1, 1)):
                                                 ("450.00", "assumed: x")})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jiangmen"]


@pytest.mark.parametrize("value, source", [
    ("77%", "assumed: one\rtwo\u2028three\x85four\n"),  # YAML breaks lines at each: later lines moved on
    ("'77%'", "assumed: quoted value"),  # as a file may write it
    ("77.00%", "assumed: more zeros"),
])
def test_a_value_and_source_stay_on_their_line(tmp_path, value, source):
    folder = pack_with_values(JIANGMEN, tmp_path / "jiangmen", {("inpatient.ratio[resident][level2]", JULY): (value, source)})
    pack, copy = benefits.load_rules(JIANGMEN), benefits.load_rules(folder)
    for name, param in pack.parameters.items():  # every other value on the line it was on
        assert [v.line for v in param.values] == [v.line for v in copy.parameters[name].values], name
    got = copy.parameters["inpatient.ratio[resident][level2]"].at(JULY)
    assert got.value == Decimal("0.77") and got.source == " ".join(source.splitlines())


# --- order: a decision table's rows, the pack's layers ----------------------------------------------

RESIDENT_ROWS = "ratio:\n  - {when: scheme == resident and level == level1"
CATCH_ALL = "{when: scheme == resident, value: outpatient.ratio.resident.level3}"
LEVEL3 = "{when: scheme == resident and level == level3, value: outpatient.ratio.resident.level3}"
EMPLOYEE3 = "{when: scheme == employee and level == level3, value: outpatient.ratio.employee.level3}"


def _diff_of_edited(tmp_path, name: str, *edits: tuple[str, str, str], removed: tuple[str, ...] = ()):
    """The diff of rules/jiangmen against a copy of it (folder `name`) with `edits` (file, old, new) and
    the files `removed`; and the copy."""
    folder = tmp_path / name
    shutil.copytree(JIANGMEN, folder)
    for rel, old, new in edits:
        edit(folder, rel, old, new)
    for rel in removed:
        (folder / rel).unlink()
    return diff_packs(benefits.load_rules(JIANGMEN), benefits.load_rules(folder)), folder


def _diff_json(folder) -> dict:
    """`benefits rules diff rules/jiangmen FOLDER --json`."""
    r = cli_runner().invoke(app, ["rules", "diff", str(JIANGMEN), str(folder), "--json"])
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def _rows_json(folder) -> list[dict]:
    """The JSON's rows added, removed and moved of basic_outpatient's ratio table, its one change."""
    [layer] = _diff_json(folder)["layers"]
    [change] = layer["changes"]
    assert (layer["id"], change["path"]) == ("basic_outpatient", "ratio")
    return change["rows"]


def test_a_row_added_to_a_table_is_given_its_place(tmp_path):
    # the first row that holds decides: on top, the catch-all pays every resident level 3's ratio; at
    # the bottom it is never reached. Both read "added: {...}", the same diff.
    top, top_folder = _diff_of_edited(tmp_path, "top", ("layers/basic_outpatient.yaml", RESIDENT_ROWS,
                                                        f"ratio:\n  - {CATCH_ALL}\n" + RESIDENT_ROWS[len("ratio:\n"):]))
    bottom, bottom_folder = _diff_of_edited(tmp_path, "bottom", ("layers/basic_outpatient.yaml", EMPLOYEE3,
                                                                 f"{EMPLOYEE3}\n  - {CATCH_ALL}"))
    assert f"             added as row 1 of 7: {CATCH_ALL}" in diff_text(top)
    assert f"             added as row 7 of 7: {CATCH_ALL}" in diff_text(bottom)
    row = {"when": "scheme == resident", "value": "outpatient.ratio.resident.level3"}
    assert _rows_json(top_folder) == [{"what": "added", "row": row, "a": None, "b": 1}]
    assert _rows_json(bottom_folder) == [{"what": "added", "row": row, "a": None, "b": 7}]


def test_a_row_moved_within_a_table_is_reported_as_moved(tmp_path):
    # the resident level-3 row put first: the same rows in another order (it read as rows 1 to 3 each
    # with another condition and value)
    d, folder = _diff_of_edited(tmp_path, "moved", ("layers/basic_outpatient.yaml", f"  - {LEVEL3}\n", ""),
                                ("layers/basic_outpatient.yaml", "ratio:\n", f"ratio:\n  - {LEVEL3}\n"))
    text = diff_text(d)
    assert text[-2:] == ["           ratio: 6 items -> 6 items", f"             moved from row 3 to row 1: {LEVEL3}"]
    [layer] = d.layers
    [change] = layer.changes
    assert (change.path, [(r.what, r.a, r.b) for r in change.rows]) == ("ratio", [("moved", 3, 1)])
    row = {"when": "scheme == resident and level == level3", "value": "outpatient.ratio.resident.level3"}
    assert _rows_json(folder) == [{"what": "moved", "row": row, "a": 3, "b": 1}]


def test_a_row_added_on_top_and_one_removed_below_are_not_every_row_changed(tmp_path):
    # one length before and after: it read as each of the six rows given another condition and value
    d, _ = _diff_of_edited(tmp_path, "shifted", ("layers/basic_outpatient.yaml", f"  - {EMPLOYEE3}\n", ""),
                           ("layers/basic_outpatient.yaml", "ratio:\n", f"ratio:\n  - {CATCH_ALL}\n"))
    assert diff_text(d)[-3:] == ["           ratio: 6 items -> 6 items",
                                 f"             removed from row 6 of 6: {EMPLOYEE3}",
                                 f"             added as row 1 of 6: {CATCH_ALL}"]


def test_a_row_edited_where_it_stands_is_still_shown_key_by_key(tmp_path):
    # as before: places are for rows that came, went or moved
    d, _ = _diff_of_edited(tmp_path, "edited", ("layers/basic_outpatient.yaml", LEVEL3,
                                                LEVEL3.replace("value: outpatient.ratio.resident.level3",
                                                               "value: outpatient.ratio.resident.level2")))
    [layer] = d.layers
    assert [c.path for c in layer.changes] == ["ratio[2].value"]
    assert diff_text(d)[-1] == "           ratio[2].value: outpatient.ratio.resident.level3 -> outpatient.ratio.resident.level2"


def test_the_layer_order_is_reported_when_a_layer_is_also_removed(tmp_path):
    # covid_finance removed and serious illness swapped with medical aid: only the removal was reported,
    # though aid and serious illness now pay in the other order
    d, folder = _diff_of_edited(tmp_path, "layers", ("pack.yaml", "covid_finance, ", ""),
                                ("pack.yaml", "serious_illness, medical_aid", "medical_aid, serious_illness"),
                                removed=("layers/covid_finance.yaml",))
    both = ["basic", "basic_outpatient", "basic_special", "basic_covid", "maternity", "serious_illness", "medical_aid",
            "secondary_aid", "personal_account"]
    swapped = both[:5] + ["medical_aid", "serious_illness"] + both[7:]
    text = diff_text(d)
    at = text.index("  layers: 10 items -> 9 items")
    assert text[at + 1:at + 3] == ["    removed: covid_finance", f"    order: {', '.join(both)} -> {', '.join(swapped)}"]
    [layers] = [c for c in d.pack if c.path == "layers"]
    assert layers.order == (both, swapped)
    [pack_layers] = [c for c in _diff_json(folder)["pack"] if c["path"] == "layers"]
    assert pack_layers["order"] == {"a": both, "b": swapped} and pack_layers["rows"] == []


def test_a_value_that_is_a_table_in_the_other_packs_kind_is_one_change(tmp_path):
    # found by a red team: `ratio` is a table of a basic_fund layer and a parameter's name in an above_cap
    # one; --json listed the name's 18 letters as rows removed ("removed 'l' row 1, 'a' row 2, ...")
    anyang, folder = RULES / "anyang", tmp_path / "anyang"
    shutil.copytree(anyang, folder)
    edit(folder, "layers/large_amount.yaml", "kind: above_cap", "kind: basic_fund")
    edit(folder, "layers/large_amount.yaml", "cap: annual                       # the basic-fund cap whose exhaustion triggers it\n",
         "deductible: {per: none}\n")
    edit(folder, "layers/large_amount.yaml", "ratio: large_amount.ratio\npaid_counter: large_amount.paid\n",
         "ratio: [{value: large_amount.ratio}]\n")
    edit(folder, "layers/large_amount.yaml", "  - {value: large_amount.annual_cap}",
         "  - {id: annual, value: large_amount.annual_cap, counter: large_amount.paid}")
    r = cli_runner().invoke(app, ["rules", "diff", str(anyang), str(folder), "--json"])
    assert r.exit_code == 0, r.stderr
    [layer] = json.loads(r.stdout)["layers"]
    ratio = next(c for c in layer["changes"] if c["path"] == "ratio")
    assert (ratio["a"], ratio["b"], ratio["rows"]) == ("large_amount.ratio", [{"value": "large_amount.ratio"}], [])
