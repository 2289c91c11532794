"""calc and explain on a terminal and through a pipe (issue 18): no line wider than the terminal,
plain text when piped or with NO_COLOR, layers that do not apply folded into one line, and Chinese
output that is wholly Chinese (no layer, level, scheme or group ids, no rule files)."""

from __future__ import annotations

import re

import pytest

import benefits_cli.app
from benefits_cli.app import app
from benefits_cli.render import output_width
from rich.cells import cell_len as width
from conftest import ROOT, RULES, cli_runner

JIANGMEN = RULES / "jiangmen"
EXAMPLES = ["resident-level3", "employee-serious-illness", "tekun-medical-aid"]
runner = cli_runner()
ANSI = re.compile("\x1b\\[[0-9;]*m")
BOX = re.compile("[\u2500-\u257f]")  # box-drawing characters


def run(command: str, name: str, *extra: str, env: dict | None = None):
    args = [command, str(ROOT / "examples" / f"{name}-inpatient.yaml"), "--rules", str(JIANGMEN),
            "--accumulators", str(ROOT / "examples" / f"{name}-accumulators.yaml"), *extra]
    r = runner.invoke(app, args, env=env)
    assert r.exit_code == 0, r.stderr
    return r


@pytest.mark.parametrize("command", ["calc", "explain"])
@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("name", EXAMPLES)
@pytest.mark.parametrize("columns", ["80", "100", None])
def test_no_line_wider_than_the_terminal_and_plain_when_piped(command, lang, name, columns):
    # the runner's output is not a terminal (a pipe): COLUMNS when set, else 80 columns
    r = run(command, name, "--lang", lang, env={"COLUMNS": columns, "NO_COLOR": None})
    limit = int(columns or 80)
    wide = [line for line in r.stdout.splitlines() if width(line) > limit]
    assert not wide, wide
    assert "\x1b" not in r.stdout and not BOX.search(r.stdout)
    assert all(line == line.rstrip() for line in r.stdout.splitlines())  # no trailing spaces


def test_width_is_80_when_piped_and_columns_is_unset(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)

    class Pipe:
        def isatty(self):
            return False

    assert output_width(Pipe()) == 80
    monkeypatch.setenv("COLUMNS", "132")
    assert output_width(Pipe()) == 132


@pytest.mark.parametrize("command", ["calc", "explain"])
def test_colour_only_on_a_terminal_and_never_with_no_color(command, monkeypatch):
    monkeypatch.setattr(benefits_cli.app, "color_enabled", lambda stream=None: True)  # a terminal
    coloured = run(command, "tekun-medical-aid", env={"COLUMNS": "80"})
    assert "\x1b[" in coloured.stdout
    assert not [line for line in coloured.stdout.splitlines() if width(ANSI.sub("", line)) > 80]
    monkeypatch.undo()
    plain = run(command, "tekun-medical-aid", env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert "\x1b" not in plain.stdout
    assert ANSI.sub("", coloured.stdout) == plain.stdout  # the same text, only coloured


@pytest.mark.parametrize("command", ["calc", "explain"])
def test_layers_that_do_not_apply_are_folded_into_one_line(command):
    # the tekun example is a resident's inpatient stay: outpatient, 门特, COVID-test, maternity layers
    # and the personal account do not apply
    zh = run(command, "tekun-medical-aid", env={"COLUMNS": "1000"}).stdout
    en = run(command, "tekun-medical-aid", "--lang", "en", env={"COLUMNS": "1000"}).stdout
    (line,) = [x for x in zh.splitlines() if x.strip().startswith("不适用：")]
    for name in ("基本医疗保险统筹基金（普通门诊）", "基本医疗保险统筹基金（门特）", "就医地财政（核酸检测）", "生育保险基金", "个人账户"):
        assert name in line
    (line,) = [x for x in en.splitlines() if x.strip().startswith("not applicable:")]
    assert "maternity insurance fund" in line and "personal account" in line
    assert "不适用于本次结算" not in zh and "does not apply to this claim" not in en  # no step each


@pytest.mark.parametrize("command", ["calc", "explain"])
@pytest.mark.parametrize("name", EXAMPLES)
def test_english_layer_names_are_never_broken_inside_a_word(command, name):
    # at 60 columns a layer's id and name do not both fit: the table gives the name alone, wrapped
    # between words; at 100 both fit, the id whole in its own column
    import json

    data = json.loads(run("calc", name, "--json").stdout)
    applied = [p for p in data["layers"] if p["applied"]]
    for columns, with_ids in (("60", False), ("100", True)):
        out = run(command, name, "--lang", "en", env={"COLUMNS": columns}).stdout
        tokens = set(out.split())
        for p in applied:
            missing = [word for word in p["name_en"].split() if word not in tokens]
            assert not missing, (columns, p["layer"], missing)
        headers = [line.split() for line in out.splitlines() if line.split()[:3] == ["Payouts", "by", "layer"]]
        assert headers and all(("name" in h) == with_ids for h in headers), (columns, headers)


# English ids a Chinese reader must not see: the packs' layer, level, scheme, group and counter ids,
# rule ids and files, and the project's own notes (formulas keep their max() and min()).
ENGLISH_IDS = re.compile(
    r"\b(basic|basic_outpatient|basic_special|basic_covid|covid_finance|maternity|serious_illness|medical_aid|"
    r"secondary_aid|personal_account|level[123]|resident|employee|tekun|dibao|none|admissions|points|"
    r"capped)\b|\.yaml|domain\.md|seed \d|assumed:|\d{4}-\d{2}-\d{2}")


@pytest.mark.parametrize("command", ["calc", "explain"])
@pytest.mark.parametrize("name", EXAMPLES)
def test_chinese_output_is_wholly_chinese(command, name):
    out = run(command, name, env={"COLUMNS": "100"}).stdout
    found = sorted({m.group() for m in ENGLISH_IDS.finditer(out)})
    assert not found, found
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", out)  # dates written the Chinese way


def test_levels_and_schemes_have_chinese_names():
    out = run("explain", "tekun-medical-aid", env={"COLUMNS": "100"}).stdout
    assert "医院等级 = 二级，险种 = 居民" in out
    assert "按出院日期2022年3月21日，适用2022年1月1日起施行的政策" in out


@pytest.mark.parametrize("columns", ["80", "60"])
def test_check_fits_the_terminal_but_keeps_each_file_name_whole(columns, tmp_path):
    from benefits.cases import load_case_at

    failing = tmp_path / "b-fail.yaml"
    failing.write_text((ROOT / "tests" / "cases" / "jiangmen" / "ja-18-line-items-resident-l3.yaml")
                       .read_text(encoding="utf-8").replace("rules: jiangmen", f"rules: {JIANGMEN}"), encoding="utf-8")
    text = failing.read_text(encoding="utf-8")
    paid = re.search(r"basic: \"?([0-9.]+)", text).group(1)
    failing.write_text(text.replace(f"basic: {paid}", "basic: 0.01", 1).replace(f'basic: "{paid}"', 'basic: "0.01"', 1),
                       encoding="utf-8")
    cases = sorted((ROOT / "tests" / "cases").rglob("*.yaml"))
    r = runner.invoke(app, ["check", str(ROOT / "tests" / "cases"), str(failing), "--rules-root", str(RULES)],
                      env={"COLUMNS": columns, "NO_COLOR": None})
    assert r.exit_code == 1, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    limit = int(columns)
    # only a file name alone may make a line wider (a case's status and file, or a failure's file:line:
    # editors and CI logs follow them); a description never does
    alone = re.compile(r"^(ok|FAIL)\s+\S+\.ya?ml$|\.ya?ml:\d+: ")
    wide = [line for line in lines if width(line) > limit and not alone.search(line)]
    assert not wide, wide
    for path in cases + [failing]:
        assert any(str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path) in line for line in lines), path
    # every description is there, whole, once its wrapping is undone
    flat = " ".join(" ".join(lines).split())
    for path in cases[:10]:
        description = " ".join(load_case_at(path)[0].description.split())
        assert description in flat, description
    # the failure's table: the field, the expected and the actual value
    table = next(i for i, line in enumerate(lines) if line.split() == ["field", "expected", "actual"])
    assert lines[table + 1].split()[:2] == ["payouts.basic", "0.01"]


@pytest.mark.parametrize("command", ["calc", "explain"])
@pytest.mark.parametrize("lang,label,value", [("zh", "适用日期", "2021年8月16日"), ("en", "deciding date", "2021-08-16")])
def test_the_heading_breaks_between_fields_never_inside_one(command, lang, label, value):
    for columns in range(40, 101, 3):
        r = run(command, "resident-level3", "--lang", lang, env={"COLUMNS": str(columns), "NO_COLOR": None})
        head = r.stdout.split("\n\n")[0].splitlines()
        assert any(f"{label} {value}" in line for line in head), (columns, head)
        assert all(width(line) <= columns for line in head), (columns, head)


@pytest.mark.parametrize("pack", ["jiangmen", "anyang"])
def test_chinese_sources_carry_no_english_remarks(pack):
    # Sources such as "seed 003: table 1, 重点救助对象住院医疗费用救助比例 80%" or "...提高至70%, from
    # 2021-01-01" were printed under 依据 with their English remarks
    from benefits import load_rules
    from benefits.render import source_text

    rules = load_rules(RULES / pack)
    shown = [source_text(v.source, "zh") for p in rules.parameters.values() for v in p.values]
    assert [s for s in shown if re.search("[A-Za-z]{3,}", s)] == []
    assert "重点救助对象住院医疗费用救助比例 80%" in shown or pack == "anyang"


def test_a_notices_source_shows_its_number_and_words_in_chinese():
    # "notice <number>: ..." (README, rule packs) was shown to Chinese readers with its English prefix, where
    # "seed NNN:" is taken away: the number is the reader's to look up, the word `notice` is not theirs
    from benefits.render import source_text

    assert source_text("notice 江医保发〔2021〕14号: 上述人员大病保险不设最高支付限额 (domain.md section 7.1)", "zh") == \
        "文号 江医保发〔2021〕14号：上述人员大病保险不设最高支付限额"
    assert source_text("notice 12: 比例 80%, from 2021-01-01", "zh") == "文号 12：比例 80%"
    assert source_text("notice 12: from 2021-01-01", "zh") == ""  # no words of the policy: nothing to show
    assert source_text("notice 12: 比例 80%", "en") == "notice 12: 比例 80%"


def test_a_value_assumed_in_part_is_marked_assumed(tmp_path):
    # Jiangmen's 2022 resident outpatient ratio: "居民普通门诊支付比例最高 75%; at level 1: assumed":
    # at level 1 the value is assumed, and the Chinese reader was shown neither that nor the remark
    claim = tmp_path / "claim.yaml"
    claim.write_text("id: op1\nmember: {id: m1, scheme: resident, member_type: adult}\nvisit: general_outpatient\n"
                     "level: level1\ndate: 2022-06-15\nbill: {total: '100.00', fully_self_paid: '0.00', "
                     "over_limit: '0.00', pre_self_paid: '0.00', policy_range: '100.00'}\n", encoding="utf-8")
    r = runner.invoke(app, ["explain", str(claim), "--rules", str(JIANGMEN)], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if "= 75%" in x)
    assert line.endswith("（假设，待正式文件）"), line
    assert "居民普通门诊支付比例最高 75%" in r.stdout and "level split" not in r.stdout


def test_the_patients_part_names_what_paid_when_no_basic_fund_applied(tmp_path):
    # Jiangmen 2021, employee, maternity 门诊终止妊娠: the maternity fund pays its fixed 500.00 of the
    # 800.00 policy-range amount (domain.md 7.1). No basic fund applied, so nothing is a co-pay
    # 按比例自付 above a deductible, and what relieved the patient is the maternity fund, not
    # serious illness or aid: 50.00 + 800.00 - 500.00 = 350.00 is the patient's.
    claim = tmp_path / "claim.yaml"
    claim.write_text("id: mat1\nmember: {id: m1, scheme: employee, member_type: in_service}\nvisit: maternity\n"
                     "service: termination\nlevel: level2\ndate: 2021-06-15\nbill: {total: '850.00', "
                     "fully_self_paid: '50.00', over_limit: '0.00', pre_self_paid: '0.00', policy_range: '800.00'}\n",
                     encoding="utf-8")
    for lang, co_pay, relieved in (("zh", "政策范围内费用（无基本统筹支付）", "基本统筹以外各项基金支付"),
                                   ("en", "policy-range amount (no basic fund applied)",
                                    "paid by funds other than the basic fund")):
        r = runner.invoke(app, ["calc", str(claim), "--rules", str(JIANGMEN), "--lang", lang], env={"COLUMNS": "120"})
        assert r.exit_code == 0, r.stderr
        rows = {line.rsplit(None, 1)[0].strip(): line.rsplit(None, 1)[1] for line in r.stdout.splitlines()
                if re.fullmatch(r"\s+\S.*\s-?\d+\.\d\d", line)}
        assert rows[co_pay] == "800.00" and rows[relieved] == "-500.00", rows
        # one sign, not two: the minus says it is subtracted, so the label does not say "less" as well
        assert not [label for label, value in rows.items() if value.startswith("-") and label.startswith(("减", "less"))]
        assert "按比例自付" not in r.stdout and "co-pay above the deductible" not in r.stdout
    # a claim the basic fund paid keeps its co-pay line
    out = run("calc", "resident-level3", env={"COLUMNS": "120"}).stdout
    assert "按比例自付" in out and "基本统筹以外各项基金支付" in out


@pytest.mark.parametrize("pack", ["jiangmen", "anyang"])
def test_every_layer_has_a_policy_basis_in_chinese(pack):
    # Jiangmen's personal account cited only our own settlement notes, which Chinese text leaves
    # out: its section had no 政策依据 line at all. (Anyang's layers whose values are all assumed
    # say so, awaiting the province's and the city's documents.)
    from benefits import load_rules
    from benefits.render import basis_text

    shown = {layer.id: basis_text(layer.citation, "zh") for layer in load_rules(RULES / pack).layers}
    assert [k for k, v in shown.items() if not re.search("《.+》|待河南省、安阳市正式文件", v)] == []


# --- a table laid out without rich's table ----------------------------------------------------------


def _grids():
    from benefits_cli.render import Grid

    items = Grid(["明细", "类别", "金额", "自付比例", "全自费"], "Llrrr")
    for n in range(12):
        items.add(f"i{n}" * (n % 4 + 1), "乙", f"{n * 1234.5:.2f}", "15%" if n % 3 else "", "0.00")
    items.rule()
    items.add("合计", "", "99999.00", "", "1.00", style="bold")
    layers = Grid(["", "layer", "base", "paid"], "llrr", widths=[None, 14, None, 12])
    layers.add("basic", "基本医疗保险统筹基金（住院）", "1000.00", "650.00", style="yellow")
    layers.add("serious_illness", "serious illness insurance", "0.00", "0.00", style="dim")
    layers.rule()
    layers.add("all funds", "", "", "650.00", style="bold")
    # laid out by rich's table: a right-aligned cell ending in a space (rich drops it), an empty column
    check = Grid(["field", "expected", "actual"], "lrr")
    check.add("error", "no version ", "a settlement (the claim was not refused)")
    empty = Grid(["", "3基é", "", "\u0301c", ""], "LLlrl", [None, None, None, 2, 4])
    empty.add("a", "b", "", "c", "")
    empty.rule()
    spaced = Grid(["name", "paid"], "lr")  # rich writes a no-break space at a cell's end as a space
    spaced.add("基金\u00a0", "1.00")
    return items, layers, check, empty, spaced


@pytest.mark.parametrize("colour", [False, True])
@pytest.mark.parametrize("columns", [140, 100, 80])
def test_a_table_that_fits_is_laid_out_as_richs_table_lays_it_out(colour, columns):
    # thousands of line items are laid out without rich's table (about a millisecond a row: a 5,000-line
    # stay took 6 s to print); what is printed is the same, byte for byte, in colour and plain
    from benefits_cli.render import Screen
    from benefits_cli.text import Paint

    for grid in _grids():
        ours, theirs = Screen(Paint(colour), columns), Screen(Paint(colour), columns)
        ours.print(grid, indent=2)
        theirs.print(grid.renderable(columns - 2), indent=2)
        assert ours.text() == theirs.text()
        assert ("\x1b[" in ours.text()) == colour
    assert [grid.natural() is None for grid in _grids()] == [False, False, True, True, True]
