"""The `benefits` command line: every command, every bad-input path and its exit code.

Amounts asserted here come from hand-computed case files (tests/cases/jiangmen/ja-18-line-items-resident-l3.yaml:
basic 5252.34, patient 7498.81, policy range 9080.53; accumulators after: basic.annual 5252.34,
serious_illness.base 3828.19), never from the engine's own output.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
import benefits_cli.app
from benefits_cli.app import app
from rich.cells import cell_len as width

from benefits_cli.text import Paint, color_enabled
from conftest import ROOT, RULES, cli_runner

import benefits
from benefits.cases import load_case
from benefits.models.platform_out import platform_json

JIANGMEN = RULES / "jiangmen"
CASES = ROOT / "tests" / "cases"
JA18 = CASES / "jiangmen" / "ja-18-line-items-resident-l3.yaml"
MINI = ROOT / "examples" / "rules" / "mini"


runner = cli_runner()


@pytest.fixture(autouse=True)
def one_jiangmen_load(monkeypatch, jiangmen):
    """Speed: the Jiangmen pack is loaded once per session; any other folder loads for real."""
    real = benefits.load_rules

    def load(directory, *args, **kwargs):
        if Path(directory).resolve() == JIANGMEN.resolve() and not args and not kwargs:
            return jiangmen
        return real(directory, *args, **kwargs)

    monkeypatch.setattr(benefits, "load_rules", load)


def run(*args: str, input: str | None = None, env: dict | None = None):
    return runner.invoke(app, [str(a) for a in args], input=input, env=env)


@pytest.fixture
def ja18(tmp_path):
    """The ja-18 case's claim (as JSON) and accumulators (as YAML), as a cashier would have them."""
    case = load_case(JA18)
    claim = tmp_path / "claim.json"
    claim.write_text(json.dumps(case.claim.model_dump(mode="json", exclude_none=True)), encoding="utf-8")
    acc = tmp_path / "acc.yaml"
    acc.write_text(yaml.safe_dump(case.accumulators.model_dump(mode="json", exclude_none=True)), encoding="utf-8")
    return claim, acc


def no_traceback(result):
    assert "Traceback" not in result.stdout + result.stderr


# --- calc -------------------------------------------------------------------------------------


def test_calc_prints_bill_layers_patient_and_accumulators(ja18):
    claim, acc = ja18
    r = run("calc", claim, "--rules", JIANGMEN, "--accumulators", acc, "--lang", "en")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()

    def row(label):  # the cells of the line that starts with this label (a layer, item or counter id)
        return next(line.split() for line in lines if line.strip().startswith(label + "  "))

    assert row("total")[-1] == "12751.15"
    assert row("policy-range amount")[-1] == "9080.53"
    assert row("deductible applied")[-1] == "1000.00"
    assert row("basic")[-1] == "5252.34"
    assert row("patient pays in all")[-1] == "7498.81"
    assert row("of which cash")[-1] == "7498.81"  # a resident has no personal account
    assert row("basic.annual")[1:4] == ["0.00", "5252.34", "+5252.34"]
    assert row("serious_illness.base")[1:3] == ["0.00", "3828.19"]
    assert row("admissions")[1:4] == ["0", "1", "+1"]
    # the line items' split (domain.md 6.2): i5 over its payment standard, i4 at the default 10% share
    assert row("i5")[1:] == ["B", "9360.00", "15%", "0.00", "960.00", "1260.00", "7140.00"]
    assert row("i4")[1:] == ["B", "164.15", "10%", "0.00", "0.00", "16.42", "147.73"]
    assert "\x1b[" not in r.stdout  # not a terminal: plain text


def test_calc_chinese_by_default_aligned_by_display_width(ja18):
    claim, acc = ja18
    r = run("calc", claim, "--rules", JIANGMEN, "--accumulators", acc)
    assert r.exit_code == 0, r.stderr
    assert "基本医疗保险统筹基金" in r.stdout and "个人负担合计" in r.stdout
    bill = r.stdout.split("\n\n")[1].splitlines()  # the bill-split block: Chinese labels, amounts right-aligned
    assert bill[1].split()[-1] == "12751.15" and len(bill) >= 6
    assert len({width(line) for line in bill}) == 1, bill


@pytest.mark.parametrize("columns", ["99999999999999999999", "1000000000"])
def test_a_huge_columns_is_taken_as_the_widest_we_lay_out(ja18, columns):
    # more digits than an index holds was exit 3; 10**9 columns took minutes and gigabytes
    claim, acc = ja18
    r = run("calc", claim, "--rules", JIANGMEN, "--accumulators", acc, env={"COLUMNS": columns})
    assert r.exit_code == 0, r.stderr
    assert "12751.15" in r.stdout and max(width(line) for line in r.stdout.splitlines()) <= 1000


def test_a_word_wider_than_a_line_is_folded_in_one_pass(monkeypatch):
    # a claim id of 2.9 million letters (under the size bound) took over 30 s: each line measured the rest
    import benefits_cli.render as render

    measured = []
    real = render.cell_len
    monkeypatch.setattr(render, "cell_len", lambda text: measured.append(len(text)) or real(text))
    word = "x" * 100_000
    lines = render.wrap(f"claim {word} pack jiangmen", 40, indent=2, hang=4)
    assert "".join(lines).replace(" ", "") == f"claim{word}packjiangmen"
    assert max(width(line) for line in lines) <= 40 and len(lines) > 2_500
    assert sum(measured) < 10 * len(word)  # linear: the old fold measured some 10**8 characters here


def test_a_description_is_shown_in_the_readers_language(ja18):
    """A counter's and a parameter's description is {zh, en} in the pack (rules/jiangmen/pack.yaml,
    parameters/basic_inpatient.yaml): Chinese text shows the zh half only, English text the en half only."""
    claim, acc = ja18
    counter_zh, counter_en = "基本医疗保险统筹基金年度已支付（住院、日间手术与门特共用限额）", "basic fund paid against the shared annual cap"
    ratio_zh = "住院基金支付比例"  # inpatient.ratio[resident][level3], cited by the basic fund's step
    cap_zh = "居民基本医疗保险年度最高支付限额（住院与门特共用）"  # basic.annual_cap.resident
    wide = {"COLUMNS": "200"}  # a row on one line
    calc = {lang: run("calc", claim, "--rules", JIANGMEN, "--accumulators", acc, "--lang", lang, env=wide).stdout
            for lang in ("zh", "en")}
    explain = {lang: run("explain", claim, "--rules", JIANGMEN, "--accumulators", acc, "--lang", lang).stdout
               for lang in ("zh", "en")}
    explain = {lang: "".join(text.split()) for lang, text in explain.items()}  # undo the wrapping
    # calc: the accumulators' rows, in Chinese by the counter's meaning, in English by its id and meaning
    rows = {lang: [line.split() for line in calc[lang].splitlines() if "5252.34" in line][-1] for lang in ("zh", "en")}
    assert rows["zh"] == [counter_zh, "0.00", "5252.34", "+5252.34"]
    assert rows["en"] == ["basic.annual", "0.00", "5252.34", "+5252.34", *counter_en.split()]
    assert counter_en not in calc["zh"] and counter_zh not in calc["en"]
    # explain: Chinese names the parameters by their Chinese half, English by their names
    assert f"{ratio_zh}=65%" in explain["zh"] and f"第6步{cap_zh}剩余" in explain["zh"]
    assert "inpatient.ratio[resident][level3]" not in explain["zh"] and "inpatientratio" not in explain["zh"]
    assert "inpatient.ratio[resident][level3]=65%" in explain["en"]
    # (the source text quoted in both languages has the words 住院基金支付比例 too: the name is the label)
    assert f"{ratio_zh}=" not in explain["en"] and cap_zh not in explain["en"]


def test_calc_json_is_the_settlement_and_nothing_else(ja18):
    claim, acc = ja18
    r = run("calc", claim, "--rules", JIANGMEN, "--accumulators", acc, "--json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert {p["layer"]: p["paid"] for p in data["layers"]}["basic"] == "5252.34"
    assert data["patient"]["total"] == "7498.81"
    assert data["accumulators_after"]["counters"]["serious_illness.base"] == "3828.19"
    case = load_case(JA18)
    api = benefits.evaluate(case.claim, benefits.load_rules(JIANGMEN), case.accumulators)
    # the API's dump, and the national platform's blocks beside its keys (tests/test_platform_fields.py)
    assert data == api.model_dump(mode="json") | platform_json(api)
    assert set(data) - set(api.model_dump(mode="json")) == {"setlinfo", "setldetail", "feedetail"}
    benefits.Settlement.model_validate_json(r.stdout)  # the API's schema


def test_calc_reads_the_claim_from_stdin(ja18):
    claim, _ = ja18
    r = run("calc", "-", "--rules", JIANGMEN, "--json", input=claim.read_text(encoding="utf-8"))
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["fund_total"] == "5252.34"


def test_stdin_is_read_as_a_file_is(ja18):
    # under the C locale a bad byte on stdin was a surrogate ("'\\udcff' is not Unicode text"), and
    # stdin's bound counted characters where a file's counts bytes
    r = run("calc", "-", "--rules", JIANGMEN, input=b"id: c1\nbill: \xff\n")
    assert r.exit_code == 2 and r.stderr.strip() == "error: <stdin>: not UTF-8 text (byte 13)"
    r = run("calc", "-", "--rules", JIANGMEN, input=b"a: " + "\u4e2d".encode() * 1_000_001)
    assert r.exit_code == 2 and r.stderr.strip() == "error: <stdin>: too large: more than 3000000 bytes"


def test_a_case_file_settles_with_its_own_accumulators_and_pack(monkeypatch, tmp_path):
    # A rule author reads why a case settles as it does with `explain CASE`: the case's claim, its
    # accumulators and its `rules:` (looked up under ./rules), no file to cut out by hand. The payouts
    # are the case's own expected values, computed by hand (its comments).
    case = CASES / "anyang" / "ay-32-employee-retired-dialysis-items-basic-cap-crossed-large-amount-80pct-not-82.yaml"
    monkeypatch.chdir(ROOT)
    r = run("calc", case, "--json")
    assert r.exit_code == 0, r.stderr
    assert r.stderr == ""  # the accumulators came with the case: no warning that none were given
    paid = {p["layer"]: p["paid"] for p in json.loads(r.stdout)["layers"]}
    assert (paid["basic_special"], paid["large_amount"], paid["personal_account"]) == ("1000.00", "1594.44", "453.56")
    r = run("explain", case, "--lang", "en")
    assert r.exit_code == 0 and r.stderr == "" and "1594.44" in r.stdout, r.stderr
    # --rules still chooses the pack: Jiangmen does not know Anyang's hospital level
    r = run("calc", case, "--rules", JIANGMEN)
    assert r.exit_code == 2 and "'township' is not a hospital level of pack 'jiangmen'" in r.stderr
    # its accumulators are the case's own
    acc = tmp_path / "acc.yaml"
    acc.write_text("year: 2022\n", encoding="utf-8")
    r = run("calc", case, "--accumulators", acc)
    assert r.exit_code == 2
    assert r.stderr.strip() == f"error: {case}: a case file brings its own accumulators; leave out --accumulators"
    # an error in the case's claim names the case file's own line, and the field as check names it
    broken = tmp_path / "case.yaml"
    broken.write_text(case.read_text(encoding="utf-8").replace("level: township", "level: 7"), encoding="utf-8")
    line = case.read_text(encoding="utf-8").splitlines().index("  level: township") + 1
    r = run("calc", broken, "--rules", RULES / "anyang")
    assert r.exit_code == 2 and r.stderr.startswith(f"error: {broken}:{line} [claim.level]: "), r.stderr
    # `accumulators: null` is none given, as check reads it
    text = case.read_text(encoding="utf-8")
    start, end = text.index("accumulators:"), text.index("expected:")
    broken.write_text(text[:start] + "accumulators: null\n" + text[end:], encoding="utf-8")
    r = run("calc", broken, "--rules", RULES / "anyang", "--json")
    assert r.exit_code == 0 and r.stderr.startswith("warning: no accumulators given"), r.stderr
    paid = {p["layer"]: p["paid"] for p in json.loads(r.stdout)["layers"]}
    assert paid["basic_special"] == "2417.28"  # nothing used yet: 3021.60 x 80%, the cap far away


def test_a_case_file_keeps_its_pack_whatever_benefits_rules_says(monkeypatch, tmp_path):
    # BENEFITS_RULES filled --rules: a case was settled under the pack the shell named, without a word,
    # and calc disagreed with check on the same file (here Anyang's case under Jiangmen: refused)
    case = CASES / "anyang" / "ay-32-employee-retired-dialysis-items-basic-cap-crossed-large-amount-80pct-not-82.yaml"
    monkeypatch.chdir(ROOT)
    r = run("calc", case, "--json", env={"BENEFITS_RULES": str(JIANGMEN)})
    assert r.exit_code == 0, r.stderr
    paid = {p["layer"]: p["paid"] for p in json.loads(r.stdout)["layers"]}
    assert paid["large_amount"] == "1594.44"  # the case's own expected value, by hand
    # a claim that is not a case still takes it
    claim = tmp_path / "claim.json"
    claim.write_text(json.dumps(load_case(CASES / "jiangmen" / "jc-19-covid-employee-local-l1-2021.yaml").claim.model_dump(
        mode="json", exclude_none=True)), encoding="utf-8")
    assert run("calc", claim, env={"BENEFITS_RULES": str(JIANGMEN)}).exit_code == 0


def test_a_case_file_that_names_its_pack_by_folder_needs_a_rules_folder(monkeypatch, tmp_path):
    case = tmp_path / "case.yaml"
    shutil.copy(CASES / "jiangmen" / "jc-19-covid-employee-local-l1-2021.yaml", case)
    monkeypatch.chdir(tmp_path)
    line = case.read_text(encoding="utf-8").splitlines().index("rules: jiangmen") + 1
    r = run("explain", case)
    assert r.exit_code == 2
    assert r.stderr.strip() == (f"error: {case}:{line}: rules: 'jiangmen' names a pack folder, but there is no rules/ "
                                "folder here; give --rules DIR")
    # BENEFITS_RULES naming a pack: the case's own is looked up beside it
    r = run("explain", case, env={"BENEFITS_RULES": str(RULES / "jiangmen")})
    assert r.exit_code == 0, r.stderr
    shutil.copytree(RULES / "jiangmen", tmp_path / "rules" / "jiangmen")
    assert run("explain", case).exit_code == 0
    # and a claim that is not a case still needs --rules
    claim = tmp_path / "claim.json"
    claim.write_text(json.dumps(load_case(case).claim.model_dump(mode="json", exclude_none=True)), encoding="utf-8")
    r = run("calc", claim, env={"BENEFITS_RULES": None})
    assert r.exit_code == 2 and r.stderr.strip() == ("error: --rules DIR is required (or BENEFITS_RULES): the rule pack "
                                                     "folder, e.g. rules/jiangmen; a case file names its own (`rules:`)")


def test_calc_rules_from_the_environment(ja18):
    claim, _ = ja18
    r = run("calc", claim, "--json", env={"BENEFITS_RULES": str(JIANGMEN)})
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["patient"]["total"] == "7498.81"


def test_calc_examples_settle():
    for name in ("resident-level3", "employee-serious-illness", "tekun-medical-aid"):
        claim = ROOT / "examples" / f"{name}-inpatient.yaml"
        acc = ROOT / "examples" / f"{name}-accumulators.yaml"
        r = run("calc", claim, "--rules", JIANGMEN, "--accumulators", acc, "--json")
        assert r.exit_code == 0, (name, r.stderr)
        paid = {p["layer"]: p["paid"] for p in json.loads(r.stdout)["layers"]}
        if name == "employee-serious-illness":
            assert paid["serious_illness"] != "0.00"
        if name == "tekun-medical-aid":
            assert paid["medical_aid"] != "0.00"


# --- explain ----------------------------------------------------------------------------------


def test_explain_every_step_with_formula_rule_site_and_citation(ja18):
    # Updated for issue 18: the text is laid out to the terminal's width (80 columns when piped), so
    # long lines wrap and are compared without whitespace; layers that do not apply are folded into
    # one line (their skip steps are not numbered); Chinese shows no rule ids or files.
    claim, acc = ja18
    case = load_case(JA18)
    s = benefits.evaluate(case.claim, benefits.load_rules(JIANGMEN), case.accumulators)
    zh = run("explain", claim, "--rules", JIANGMEN, "--accumulators", acc)
    en = run("explain", claim, "--rules", JIANGMEN, "--accumulators", acc, "--lang", "en")
    assert zh.exit_code == 0 and en.exit_code == 0, zh.stderr + en.stderr
    flat_zh, flat_en = ("".join(r.stdout.split()) for r in (zh, en))

    def flat(text: str) -> str:
        return "".join(text.split())

    shown = [t for t in s.trace if not t.step.endswith(".skip")]
    skipped = [t for t in s.trace if t.step.endswith(".skip")]
    assert skipped and len(shown) < len(s.trace)
    for i, step in enumerate(shown, 1):
        assert f"第 {i} 步" in zh.stdout and flat(step.explain_zh) in flat_zh
        assert f"Step {i}" in en.stdout and flat(step.explain_en) in flat_en
        assert flat(step.rule) in flat_en
        if step.formula:
            assert flat(step.formula) in flat_en
        for c in step.citations:
            assert flat(f"{c.parameter} = {c.value}") in flat_en and flat(c.source) in flat_en
    assert f"Step {len(shown) + 1}" not in en.stdout
    assert "not applicable:" in en.stdout and "不适用：" in zh.stdout
    assert "9080.53" in en.stdout and "5252.34" in en.stdout
    assert flat("inpatient.ratio[resident][level3] = 65%") in flat_en
    assert flat(str(Path("jiangmen") / "layers" / "basic.yaml") + ":") in flat_en  # the rule's file and line
    assert flat("(assumed, awaiting a published source)") in flat_en
    assert "结算说明" in zh.stdout and "Step 1" not in zh.stdout
    assert "basic.yaml" not in zh.stdout and "domain.md" not in zh.stdout


# --- check ------------------------------------------------------------------------------------


@pytest.fixture
def cases(tmp_path):
    """A folder outside the repo: one passing case, one failing, one invalid, one in a subfolder."""
    folder = tmp_path / "cases"
    (folder / "sub").mkdir(parents=True)
    text = JA18.read_text(encoding="utf-8")
    (folder / "a-pass.yaml").write_text(text, encoding="utf-8")
    (folder / "b-fail.yaml").write_text(
        text.replace("basic: 5252.34", "basic: 5252.35").replace("patient: 7498.81", "patient: 7498.80"),
        encoding="utf-8")
    (folder / "sub" / "c-pass.yml").write_text(text, encoding="utf-8")
    return folder


def test_check_passing_cases_outside_the_repo(cases, tmp_path, monkeypatch):
    (cases / "b-fail.yaml").unlink()
    monkeypatch.chdir(tmp_path)  # no rules/ here
    r = run("check", cases, "--rules-root", RULES)
    assert r.exit_code == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    heads = [line for line in lines if not line.startswith(" ")]  # a case's description is indented under it
    assert len(heads) == 3 and lines[-1] == "2 cases: 2 passed"
    assert all(line.startswith("ok") for line in heads[:2])
    assert all(len(line) <= 80 or not line.startswith(" ") for line in lines)  # piped: 80 columns
    assert "sub/c-pass.yml" in r.stdout.replace(os.sep, "/")


def test_check_failure_shows_expected_and_actual_side_by_side(cases):
    r = run("check", cases, "--rules-root", RULES)
    assert r.exit_code == 1, r.stdout + r.stderr
    out = r.stdout.splitlines()
    fail = next(i for i, line in enumerate(out) if line.startswith("FAIL"))
    assert "b-fail.yaml" in out[fail]
    table = next(i for i in range(fail, len(out)) if out[i].split() == ["field", "expected", "actual"])
    assert out[table + 1].split() == ["payouts.basic", "5252.35", "5252.34"]
    assert out[table + 2].split() == ["patient", "7498.80", "7498.81"]
    assert out[-1] == "3 cases: 2 passed, 1 failed"


def test_check_loads_each_pack_once(cases, monkeypatch):
    calls = []
    real = benefits.load_rules
    monkeypatch.setattr(benefits, "load_rules", lambda d, *a, **k: calls.append(d) or real(d, *a, **k))
    r = run("check", cases, "--rules-root", RULES)
    assert r.exit_code == 1 and len(calls) == 1


def test_check_rules_root_defaults_to_rules_here(cases, monkeypatch):
    monkeypatch.chdir(ROOT)
    r = run("check", cases / "a-pass.yaml")
    assert r.exit_code == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1] == "1 case: 1 passed"


def test_check_without_a_rules_root_says_how_to_give_one(cases, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run("check", cases / "a-pass.yaml")
    assert r.exit_code == 2
    assert "--rules-root" in r.stdout and "ERROR" in r.stdout
    no_traceback(r)


def test_check_rules_as_a_path_relative_to_the_case(cases):
    relative = os.path.relpath(JIANGMEN, cases)
    case = cases / "a-pass.yaml"
    case.write_text(case.read_text(encoding="utf-8").replace("rules: jiangmen", f"rules: {relative}"), encoding="utf-8")
    r = run("check", case)
    assert r.exit_code == 0, r.stdout + r.stderr


@pytest.mark.parametrize("written", ["./jiangmen", "jiangmen/"])
def test_check_rules_written_as_a_path_is_the_pack_beside_the_case(cases, written):
    # './jiangmen' has one part, as 'jiangmen' has: it ran the rules root's pack, silently
    beside = cases / "jiangmen"
    shutil.copytree(JIANGMEN, beside)
    ratios = beside / "parameters" / "basic_inpatient.yaml"
    text = ratios.read_text(encoding="utf-8")
    assert text.count("{value: 65%,") >= 1
    ratios.write_text(text.replace("{value: 65%,", "{value: 70%,"), encoding="utf-8")
    case = cases / "a-pass.yaml"
    case.write_text(case.read_text(encoding="utf-8").replace("rules: jiangmen", f"rules: {written}"), encoding="utf-8")
    r = run("check", case, "--rules-root", RULES)
    assert r.exit_code == 1, r.stdout + r.stderr  # 70%, not the 65% the case expects
    assert "payouts.basic" in r.stdout


@pytest.mark.parametrize("expected, problem", [
    ("{}", "nothing is expected"),
    ("{error: ' '}", "give the path the claim is refused at (claim, for the claim as a whole), then words its "
                     "message begins with"),
    # found by a red team: a word alone is in many messages ('maternity' passed whatever refused the claim)
    ("{error: maternity}", "give the path the claim is refused at (claim, for the claim as a whole), then words "
                           "its message begins with, as the message writes them: 'claim.visit: pack ... does not "
                           "cover', 'accumulators.counters.basic.annual: 300000.01 is above'; got 'maternity'"),
])
def test_check_a_case_that_would_check_nothing_is_bad_input(cases, expected, problem):
    text = (cases / "a-pass.yaml").read_text(encoding="utf-8")
    (cases / "a-pass.yaml").write_text(text[:text.index("\nexpected:")] + f"\nexpected: {expected}\n", encoding="utf-8")
    r = run("check", cases / "a-pass.yaml", "--rules-root", RULES)
    assert r.exit_code == 2 and problem in r.stdout, r.stdout


@pytest.mark.parametrize("name, actual", [
    ("basci.annual", "(unknown counter 'basci.annual')"),  # read as 0.00: a typo passed
    ("basic.annual@2021-13", "('basic.annual' is a yearly counter, written without @)"),
])
def test_check_an_expected_counter_the_pack_does_not_keep_fails(cases, name, actual):
    text = (cases / "a-pass.yaml").read_text(encoding="utf-8")
    (cases / "a-pass.yaml").write_text(
        text[:text.index("\nexpected:")] + f"\nexpected: {{accumulators: {{counters: {{'{name}': 0.00}}}}}}\n",
        encoding="utf-8")
    r = run("check", cases / "a-pass.yaml", "--rules-root", RULES, "--json")
    assert r.exit_code == 1, r.stdout
    [case] = json.loads(r.stdout)["cases"]
    assert [(d["field"], d["actual"]) for d in case["differences"]] == [(f"accumulators.counters.{name}", actual)]


def test_check_invalid_case_is_bad_input_naming_file_line_and_field(cases):
    bad = cases / "d-bad.yaml"
    text = JA18.read_text(encoding="utf-8").replace("scheme: resident", "scheme: residnt")
    bad.write_text(text, encoding="utf-8")
    line = next(n for n, t in enumerate(text.splitlines(), 1) if "residnt" in t)
    r = run("check", cases, "--rules-root", RULES)
    assert r.exit_code == 2  # bad input outranks a failure
    assert f"d-bad.yaml:{line} [claim.member.scheme]" in r.stdout
    assert r.stdout.splitlines()[-1] == "4 cases: 2 passed, 1 failed, 1 not run (bad input)"
    no_traceback(r)


def test_check_missing_path_and_empty_folder(tmp_path):
    r = run("check", tmp_path / "nowhere")
    assert r.exit_code == 2 and "nowhere: no such file or folder" in r.stderr
    r = run("check", tmp_path)
    assert r.exit_code == 2 and "no case files" in r.stderr


def test_check_the_repo_cases():
    r = run("check", CASES / "jiangmen", "--rules-root", RULES)
    files = sorted((CASES / "jiangmen").rglob("*.yaml"))
    assert r.stdout.splitlines()[-1].startswith(f"{len(files)} cases:")
    assert r.exit_code in (0, 1), r.stdout  # other work may have a case failing; none is unreadable


# --- bad input --------------------------------------------------------------------------------


def _claim(tmp_path, text: str, name="claim.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """\
id: c1
member: {id: m1, scheme: resident, member_type: adult}
visit: inpatient
level: level3
admission_date: 2021-03-01
discharge_date: 2021-03-10
bill: {total: 20000.00, fully_self_paid: 1000.00, over_limit: 0.00, pre_self_paid: 500.00, policy_range: 18500.00}
"""


def test_good_claim_without_accumulators(tmp_path):
    # domain.md 7.1: (18500.00 - 1000.00) x 65% = 11375.00 (ja-01's hand arithmetic)
    r = run("calc", _claim(tmp_path, GOOD), "--rules", JIANGMEN, "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["fund_total"] == "11375.00"


@pytest.mark.parametrize("text, expected", [
    (GOOD.replace("scheme: resident", "scheme: residnt"),
     "claim.yaml:2 [member.scheme]: Input should be 'employee' or 'resident'"),
    (GOOD.replace("total: 20000.00", "total: 20001.00"), "claim.yaml:7 [bill]: the four parts add up to 20000.00, not to the total 20001.00"),
    (GOOD.replace("level: level3", "level: level9"), "claim.yaml:4: claim.level: 'level9' is not a hospital level"),
    (GOOD.replace("2021-03-01", "2023-03-01").replace("2021-03-10", "2023-03-10"),
     "claim.yaml:6: claim.discharge_date: no version of the rules covers 2023-03-10"),
    ("id: [\n", "claim.yaml:2: not valid YAML"),
    ("", "claim.yaml: expected a claim (a mapping with keys such as id, member"),
    ("- 1\n", "claim.yaml: expected a claim"),
    (GOOD.replace("visit: inpatient\n", ""), "claim.yaml:1 [visit]: required key is missing"),
])
def test_bad_claim_exits_2_naming_file_line_and_field(tmp_path, text, expected):
    r = run("calc", _claim(tmp_path, text), "--rules", JIANGMEN)
    assert r.exit_code == 2, r.stdout
    assert r.stdout == ""
    assert expected in r.stderr.replace(str(tmp_path) + os.sep, ""), r.stderr
    assert r.stderr.startswith("error: ")
    no_traceback(r)


@pytest.mark.parametrize("text, expected", [
    ("year: 2020\n", "acc.yaml:1: accumulators.year: 2020, but the claim settles on a date in 2021"),
    ("year: 2021\ncounters: {nope: 1.00}\n", "acc.yaml:2: accumulators.counters.nope: unknown counter 'nope'"),
    ("year: 2021\ncounters:\n  basic.annual: 1.5.0\n", "acc.yaml:3 [counters.basic.annual]: expected an amount"),
    ("year: 2021\nextra: 1\n", "acc.yaml:2 [extra]: unknown key"),
    # a counter's name has dots: its line comes from the error's path, not from splitting the message
    ("year: 2021\ncounters:\n  serious_illness.base: 0.00\n  basic.annual: 3000000.00\n",
     "acc.yaml:4: accumulators.counters.basic.annual: 3000000.00 is above the most cap"),
])
def test_bad_accumulators_exit_2(tmp_path, text, expected):
    acc = _claim(tmp_path, text, "acc.yaml")
    r = run("calc", _claim(tmp_path, GOOD), "--rules", JIANGMEN, "--accumulators", acc)
    assert r.exit_code == 2
    assert expected in r.stderr.replace(str(tmp_path) + os.sep, ""), r.stderr
    no_traceback(r)


def test_unreadable_inputs_exit_2(tmp_path):
    r = run("calc", tmp_path / "missing.yaml", "--rules", JIANGMEN)
    assert r.exit_code == 2 and "missing.yaml: cannot read: No such file or directory" in r.stderr
    r = run("explain", tmp_path, "--rules", JIANGMEN)
    assert r.exit_code == 2 and "is a folder; expected a YAML or JSON file" in r.stderr
    r = run("calc", _claim(tmp_path, GOOD), "--rules", tmp_path / "norules")
    assert r.exit_code == 2 and "norules: not a folder" in r.stderr
    r = run("calc", "-", "--rules", JIANGMEN, "--accumulators", "-", input=GOOD)
    assert r.exit_code == 2 and "only one of CLAIM and --accumulators" in r.stderr
    r = run("calc", _claim(tmp_path, GOOD), env={"BENEFITS_RULES": None})
    assert r.exit_code == 2 and "--rules" in r.stderr


def test_debug_shows_the_traceback(tmp_path):
    r = run("calc", _claim(tmp_path, GOOD.replace("level3", "level9")), "--rules", JIANGMEN, "--debug")
    assert r.exit_code == 2
    assert "Traceback" in r.stderr and "error: " in r.stderr


def test_a_bug_is_exit_3_without_traceback(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(benefits, "evaluate", broken)
    r = run("calc", _claim(tmp_path, GOOD), "--rules", JIANGMEN)
    assert r.exit_code == 3
    assert "internal error" in r.stderr and "ZeroDivisionError: boom" in r.stderr and "--debug" in r.stderr
    no_traceback(r)


# --- rules ------------------------------------------------------------------------------------


def test_rules_validate_ok():
    r = run("rules", "validate", JIANGMEN)
    assert r.exit_code == 0, r.stdout
    assert "ok — pack jiangmen" in r.stdout


def test_rules_validate_reports_every_problem_with_file_and_line(tmp_path):
    pack = tmp_path / "mini"
    shutil.copytree(MINI, pack)
    params = pack / "parameters" / "outpatient.yaml"
    text = params.read_text(encoding="utf-8")
    params.write_text(text.replace("value: 100.00, source: \"assumed:", "value: 100.00, source: \"guessed:", 1),
                      encoding="utf-8")
    p_line = next(n for n, t in enumerate(params.read_text(encoding="utf-8").splitlines(), 1) if "guessed:" in t)
    layer = pack / "layers" / "outpatient.yaml"
    layer.write_text(layer.read_text(encoding="utf-8").replace("value: outpatient.ratio.clinic",
                                                               "value: outpatient.ratio.nowhere"), encoding="utf-8")
    l_line = next(n for n, t in enumerate(layer.read_text(encoding="utf-8").splitlines(), 1) if "nowhere" in t)
    r = run("rules", "validate", pack)
    assert r.exit_code == 2
    out = r.stdout.replace(str(tmp_path) + os.sep, "").replace(os.sep, "/")
    assert out.splitlines()[0] == "mini: 2 problems"
    assert f"mini/parameters/outpatient.yaml:{p_line}" in out
    assert f"mini/layers/outpatient.yaml:{l_line}" in out and "outpatient.ratio.nowhere" in out
    no_traceback(r)
    # the same pack given to calc: exit 2, the problems on stderr
    r = run("calc", _claim(tmp_path, GOOD), "--rules", pack)
    assert r.exit_code == 2 and "is invalid (2 problems)" in r.stderr


def test_rules_show_on_a_date_with_sources_and_assumed_marks():
    # README: the resident level-2 ratio is 75% (assumed) from 2021-01-01 and 80% (seed 001) from 2021-07-01
    before = run("rules", "show", JIANGMEN, "--on", "2021-06-30")
    after = run("rules", "show", JIANGMEN, "--on", "2021-07-01")
    assert before.exit_code == 0 and after.exit_code == 0, before.stderr

    def row(out, name):  # a parameter's name on a line of its own, its value (one, with --on) on the next
        lines = out.splitlines()
        at = next(i for i, line in enumerate(lines) if line.split() == [name])
        return [name] + lines[at + 1].split()

    assert row(before.stdout, "inpatient.ratio[resident][level2]")[1:4] == ["75%", "2021-01-01", "*"]
    assert row(after.stdout, "inpatient.ratio[resident][level2]")[1:5] == ["80%", "2021-07-01", "seed", "001:"]
    assert row(after.stdout, "inpatient.ratio[resident][level3]")[1:3] == ["65%", "2021-01-01"]
    assert "version 2021-07-01" in after.stdout


def test_rules_show_lists_each_lifted_cap_with_its_source():
    # a group's lifted cap is sourced in its layer, not a parameter: `rules show` listed no source for it,
    # so an assumed one (Anyang's, domain.md 7.2) was missed by a reader looking for what awaits a document
    flat = {pack: " ".join(run("rules", "show", RULES / pack, env={"COLUMNS": "200"}).stdout.split())
            for pack in ("jiangmen", "anyang")}
    assert "no cap for group dibao: seed 001: 上述人员大病保险不设最高支付限额" in flat["jiangmen"]
    assert "no cap for group tekun: seed 001:" in flat["jiangmen"]
    assert "no cap for group aid_groups *: assumed: reference sheet, domain.md section 7.2" in flat["anyang"]


def test_rules_show_every_version_and_bad_dates():
    r = run("rules", "show", JIANGMEN)
    assert r.exit_code == 0
    assert "75%" in r.stdout and "80%" in r.stdout  # both values of the level-2 ratio
    r = run("rules", "show", JIANGMEN, "--on", "2030-01-01")
    assert r.exit_code == 2 and "no version of the rules covers 2030-01-01" in r.stderr
    r = run("rules", "show", JIANGMEN, "--on", "1 July")
    assert r.exit_code == 2


# --- schema -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name, model", [
    ("claim", benefits.Claim), ("accumulators", benefits.Accumulators),
    ("settlement", benefits.Settlement), ("case", None),
])
def test_schema(name, model):
    # each is pydantic's schema of the model with what models/schema.py adds (the rules of the input
    # formats; calc --json's platform blocks beside the settlement's keys): the same properties
    from benefits.models import schema
    from benefits.models.case import CaseFile

    r = run("schema", name)
    assert r.exit_code == 0
    printed = json.loads(r.stdout)
    made = {"claim": schema.claim_schema, "accumulators": schema.accumulators_schema,
            "settlement": schema.calc_output_schema, "case": schema.case_schema}[name]()
    assert printed == json.loads(json.dumps(made))
    plain = (model or CaseFile).model_json_schema()
    assert set(plain["properties"]) <= set(printed["properties"])
    assert plain["required"] == printed["required"][:len(plain["required"])]


def test_schema_unknown_name():
    r = run("schema", "bill")
    assert r.exit_code == 2


def test_help_on_every_command_has_an_example():
    for args in (["--help"], ["calc", "--help"], ["explain", "--help"], ["check", "--help"],
                 ["schema", "--help"], ["rules", "--help"], ["rules", "validate", "--help"],
                 ["rules", "show", "--help"]):
        r = run(*args)
        assert r.exit_code == 0, args
        assert "Example" in r.stdout and "benefits " in r.stdout, args


# --- terminal text ----------------------------------------------------------------------------


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert color_enabled(_Tty()) and not color_enabled(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not color_enabled(_Tty())
    assert Paint(False)("x", "bold") == "x" and Paint(True)("x", "bold") == "\x1b[1mx\x1b[0m"


# --- the installed console script -------------------------------------------------------------


def test_console_script_runs(ja18):
    script = Path(sys.executable).parent / ("benefits.exe" if os.name == "nt" else "benefits")
    assert script.exists(), f"no console script next to {sys.executable}: install the project (pip install -e .)"
    claim, acc = ja18
    env = {**os.environ, "NO_COLOR": "1"}
    done = subprocess.run([str(script), "calc", str(claim), "--rules", str(JIANGMEN), "--accumulators", str(acc),
                           "--lang", "en"], check=False, capture_output=True, text=True, encoding="utf-8", env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "5252.34" in done.stdout and "7498.81" in done.stdout and "\x1b[" not in done.stdout
    env.pop("BENEFITS_RULES", None)
    done = subprocess.run([sys.executable, "-m", "benefits", "calc", str(claim), "--json"],
                          check=False, capture_output=True, text=True, encoding="utf-8", env=env, timeout=60)
    assert done.returncode == 2 and "--rules" in done.stderr  # python -m benefits is the same command line


def test_paths_too_long_for_the_system_are_bad_input_not_a_bug(tmp_path):
    long = tmp_path / ("x" * 5000)
    for args, expected in [
        (("calc", long, "--rules", JIANGMEN), "cannot read: File name too long"),
        (("calc", ROOT / "examples" / "resident-level3-inpatient.yaml", "--rules", long), "not a folder"),
        (("check", long), "no such file or folder"),
        (("check", CASES, "--rules-root", long), "not a folder"),
        (("rules", "validate", long), "not a folder"),
    ]:
        r = run(*args)
        assert r.exit_code == 2 and expected in r.stderr + r.stdout, (args[0], r.exit_code, r.stderr[-200:])
        no_traceback(r)


def test_a_claim_file_with_many_bad_items_lists_fifty_lines_and_counts_the_rest(tmp_path):
    items = "".join(f"  - {{id: i{n}, category: A, unit_price: x}}\n" for n in range(120))
    text = GOOD.replace("bill: {total: 20000.00, fully_self_paid: 1000.00, over_limit: 0.00, pre_self_paid: 500.00, "
                        "policy_range: 18500.00}\n", "items:\n" + items)
    r = run("calc", _claim(tmp_path, text), "--rules", JIANGMEN)
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 51 and lines[-1] == "error: ... and 70 more errors", lines[-3:]
    assert lines[1].endswith("claim.yaml:9 [items.1.unit_price]: expected an amount in yuan such as 1234.50, got 'x'")
    no_traceback(r)


def test_check_a_folder_nested_deeper_than_the_system_allows_is_bad_input(tmp_path):
    if os.mkdir not in os.supports_dir_fd:
        pytest.skip("mkdir relative to a folder's descriptor is needed to build the tree")
    root = tmp_path / "deep"
    root.mkdir()
    shutil.copy(JA18, root / "a-pass.yaml")
    fd = os.open(root, os.O_RDONLY)
    try:  # 20 levels of 250 characters: a path over 5000 bytes, longer than PATH_MAX (4096)
        for _ in range(20):
            os.mkdir("d" * 250, dir_fd=fd)
            below = os.open("d" * 250, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = below
    finally:
        os.close(fd)
    try:
        r = run("check", root, "--rules-root", RULES)
        assert r.exit_code == 2, r.stderr[-300:]
        assert str(root) in r.stderr  # names the folder given
        assert "internal error" not in r.stderr
        no_traceback(r)
    finally:
        shutil.rmtree(root)  # removes by descriptors, whatever the depth


# --- text from input files cannot drive the terminal -------------------------------------------

# Raw control characters other than a newline: C0 (ESC among them), DEL, C1.
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")
HOSTILE = "\\rok   \\e]0;pwned\\a\\x9b2J\\x7f"  # YAML escapes: CR, an OSC that sets the window title, CSI (C1), DEL


def test_a_case_description_cannot_overwrite_the_fail_marker_or_set_the_title(tmp_path, monkeypatch):
    case = tmp_path / "b-fail.yaml"
    text = JA18.read_text(encoding="utf-8").replace("basic: 5252.34", "basic: 5252.35")
    case.write_text(re.sub(r"(?m)^description:.*$", lambda _: f'description: "{HOSTILE}"', text), encoding="utf-8")
    r = run("check", case, "--rules-root", RULES)
    assert r.exit_code == 1, r.stdout + r.stderr
    out = r.stdout_bytes.decode("utf-8")
    assert not RAW_CONTROL.search(out), repr(out[:300])
    assert out.startswith("FAIL") and "\\rok" in out and "\\x1b]0;pwned\\x07" in out  # shown, escaped
    # on a terminal our own colours still work, and they are the only escape sequences
    monkeypatch.setattr(benefits_cli.app, "color_enabled", lambda stream=None: True)
    r = run("check", case, "--rules-root", RULES)
    out = r.stdout_bytes.decode("utf-8")
    assert out.startswith("\x1b[1;31mFAIL")
    assert not RAW_CONTROL.search(re.sub("\x1b\\[[0-9;]*m", "", out)), repr(out[:300])


def test_a_line_item_id_with_control_characters_is_refused_and_shown_escaped(tmp_path):
    # a line item's id is held to a claim id's rule (models.claim.id_problem); the refusal writes no control
    # character of it
    items = GOOD.split("bill:")[0] + f'items:\n  - {{id: "i1{HOSTILE}", category: A, unit_price: 100.00}}\n'
    claim = _claim(tmp_path, items)
    for extra in ([], ["--json"]):
        r = run("calc", claim, "--rules", JIANGMEN, *extra)
        assert r.exit_code == 2 and "[items.0.id]: a line item id holds no control characters" in r.stderr, r.stderr
        assert not RAW_CONTROL.search(r.stderr_bytes.decode("utf-8").replace("\n", ""))
        assert r.stdout == ""


def test_a_claim_id_with_control_characters_is_refused_and_shown_escaped(tmp_path):
    # a ledger settles a claim once by its id: 'c1\r...' is refused (models.claim.id_problem), and the
    # refusal quotes it escaped
    claim = _claim(tmp_path, GOOD.replace("id: c1", f'id: "c1{HOSTILE}"', 1))
    r = run("calc", claim, "--rules", JIANGMEN)
    assert r.exit_code == 2 and "a claim id holds no control characters" in r.stderr
    assert not RAW_CONTROL.search(r.stderr_bytes.decode("utf-8").replace("\n", ""))


def test_an_id_that_would_reorder_the_line_is_refused_and_shown_escaped(tmp_path):
    # U+202E turned the rest of a terminal line around; U+2028 and U+200B passed through raw
    # ... and every other format character (a soft hyphen, a Mongolian vowel separator, a tag character):
    # 'c\u00ad1' printed as 'c1', another claim's id to the eye. A claim's or a line item's id with any of
    # them is refused, and the refusal quotes it escaped.
    odd = "c1\\u202e9.99\\u2028\\u200bok\\xad\\u180e\\U000e0001\\u034f\\u3164"
    claim = _claim(tmp_path, GOOD.split("bill:")[0] + f'items:\n  - {{id: "{odd}", category: A, unit_price: 100.00}}\n')
    r = run("calc", claim, "--rules", JIANGMEN)
    assert r.exit_code == 2 and "[items.0.id]: a line item id holds no" in r.stderr, r.stderr
    assert not re.search("[\u202e\u2028\u200b\xad\u180e\U000e0001\u034f\u3164]", r.stderr), r.stderr


def test_text_a_terminal_draws_is_shown_as_it_is():
    from benefits_cli.text import visible

    # an emoji's presentation selector and a CJK variant are drawn with the character before them
    for text in ("住院起付线 ⚠\ufe0f", "\u2714\ufe0f covered", "葛\U000e0100飾", "中文（测试）\u3000全角", "12,751.15 yuan"):
        assert visible(text) == text


def test_file_names_and_messages_that_quote_input_are_shown_escaped(tmp_path):
    hostile = "x\r\x1b]0;pwned\x07\x9b"
    r = run("calc", tmp_path / f"{hostile}.yaml", "--rules", JIANGMEN)  # no such file: the message names it
    assert r.exit_code == 2 and "x\\r\\x1b]0;pwned" in r.stderr
    assert not RAW_CONTROL.search(r.stderr_bytes.decode("utf-8")), repr(r.stderr)
    folder = tmp_path / "cases"
    folder.mkdir()
    shutil.copy(JA18, folder / f"{hostile}.yaml")
    r = run("check", folder, "--rules-root", RULES)
    assert r.exit_code == 0, r.stdout + r.stderr
    assert not RAW_CONTROL.search(r.stdout_bytes.decode("utf-8")), repr(r.stdout)
