"""`rules diff`, `calc --compare/--compare-on` and `simulate --compare` fit the output width (COLUMNS;
80 through a pipe): no line wider than it (Chinese characters count two), long text wrapped onto
indented lines, amounts and ids never split, and the content all there. pack.yaml changes read as
items added and removed (never a Python repr), and the Chinese `calc --compare` is wholly Chinese."""

from __future__ import annotations

import re

import pytest
from conftest import RULES, cli_runner
from rich.cells import cell_len

from test_simulate_cli import CLAIMS, MEMBERS, WHAT_IF_CLAIM as CLAIM  # every amount computed by hand there

from benefits_cli.app import app

JIANGMEN = RULES / "jiangmen"
WIDTHS = ["80", "60"]
runner = cli_runner()

# tests/test_simulate_cli.py's data set: under the counterfactual pack only c5 changes: basic
# 22840.00 -> 21412.50 (-1427.50), serious illness +277.50; funds -1150.00


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    (folder / "claims.csv").write_text(CLAIMS, encoding="utf-8")
    (folder / "members.csv").write_text(MEMBERS, encoding="utf-8")
    (folder / "claim.yaml").write_text(CLAIM, encoding="utf-8")
    return folder


def run(columns: str, *args) -> str:
    r = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": columns, "NO_COLOR": "1"})
    assert r.exit_code == 0, r.stderr
    wide = [line for line in r.stdout.splitlines() if cell_len(line) > int(columns)]
    assert not wide, wide
    assert all(line == line.rstrip() for line in r.stdout.splitlines())
    return r.stdout


def words(text: str) -> str:
    """The text with its lines joined: wrapped text reads as it would on one line."""
    return " ".join(text.split())


def cells(text: str, label: str, prefix: bool = False) -> list[str]:
    """The cells of every table row labelled `label` (or, with prefix, a label starting with it, as a label
    wrapped in its column is): a table split into groups of columns repeats the label in each."""
    out = []
    for line in text.splitlines():
        first, *rest = re.split(r"\s{2,}", line.strip())
        if first == label or (prefix and first.startswith(label)):
            out += [c for cell in rest for c in cell.split()]
    return out


# --- rules diff --------------------------------------------------------------------------------------


@pytest.mark.parametrize("columns", WIDTHS)
def test_rules_diff_of_the_counterfactual_fits(columns, counterfactual):
    out = run(columns, "rules", "diff", JIANGMEN, counterfactual)
    text = words(out)
    assert "parameters: 2 changed" in text
    assert "changed basic.annual_cap.resident (yuan):" in text
    assert "2021-07-01: 300000.00 -> 200000.00" in out  # a value change is never split
    assert "2021-07-01: 80% -> 75%" in out
    assert "A source: seed 001:" in out and "B source: assumed: counterfactual, test" in text
    # the description wraps onto lines indented under the parameter's name
    lines = out.splitlines()
    first = next(i for i, line in enumerate(lines) if "changed  basic.annual_cap.resident" in line)
    assert lines[first + 1].startswith(" " * 11) and not lines[first + 1].startswith(" " * 12)
    assert "resident basic annual cap" in text


@pytest.mark.parametrize("columns", WIDTHS)
def test_rules_diff_against_anyang_fits_and_reads_as_items_added_and_removed(columns):
    out = run(columns, "rules", "diff", JIANGMEN, RULES / "anyang")
    text = words(out)
    assert "['" not in out and "{'" not in out and "..." not in out  # no Python repr, nothing cut off
    assert "levels: 3 items -> 4 items removed: level1, level2, level3 added: township, county, city, province" in text
    assert "versions: 3 items -> 1 item removed: 2021-01-01, 2021-07-01" in text
    # a list of mappings by name (counters) and by id (a layer's groups)
    assert "added: chronic.hypertension, chronic.diabetes, large_amount.paid" in text
    assert "removed: outpatient.year, outpatient.month, special.hypertension" in text
    assert "groups: 2 items -> 1 item removed: tekun, dibao added: aid_groups" in text
    # a mapping without an id or name is written out whole, YAML-like
    assert "removed: {when: visit == maternity and service == none, message: a maternity claim names" in text
    assert "jurisdiction: 广东省江门市 -> 河南省安阳市" in out
    assert "2022-01-01: 560000.00 -> 300000.00" in out
    # a long citation is wrapped, not cut: its end is there
    assert "项目结算规则6.5、7.2（domain.md）" in "".join(out.split())


def test_diff_text_keeps_one_line_a_change():
    import benefits
    from benefits.rules.diff import diff_lines, diff_packs, diff_text

    d = diff_packs(benefits.load_rules(JIANGMEN), benefits.load_rules(RULES / "anyang"))
    text = diff_text(d)
    assert text == [str(line) for line in diff_lines(d)]
    assert "  levels: 3 items -> 4 items" in text and "    added: township, county, city, province" in text


# --- calc --compare ----------------------------------------------------------------------------------


ASCII_WORD = re.compile(r"[A-Za-z_]{2,}")


@pytest.mark.parametrize("columns", WIDTHS)
def test_calc_compare_in_chinese_fits_and_is_wholly_chinese(columns, files, counterfactual):
    out = run(columns, "calc", files / "claim.yaml", "--rules", JIANGMEN, "--compare", counterfactual)
    flat = "".join(out.split())
    assert "对比：就诊w1" in flat
    assert "基本医疗保险统筹基金（住院）" in out  # the basic layer by its name.zh
    assert cells(out, "基本医疗保险统筹基金", prefix=True)[:3] == ["8000.00", "7500.00", "-500.00"]
    assert cells(out, "基本统筹支付比例") == ["80%", "75%", "-5", "个百分点"]
    assert "居民基本医疗保险年度最高支付限额（住院与门特共用）：300000.00->200000.00" in flat
    assert "住院基金支付比例（居民，二级）：80%->75%" in flat
    assert "适用日期2021年8月5日" in flat and "政策版本2021年7月1日起" in flat
    assert "结果不同的计算步骤" in out and "计算步骤" in out
    # nothing English but the pack folders' paths and the sides' letters
    rest = out.replace(str(JIANGMEN), "").replace(str(counterfactual), "")
    assert not ASCII_WORD.findall(rest), ASCII_WORD.findall(rest)
    assert not re.search(r"\b(basic|serious_illness|claim|step)\b", rest) and "deciding date" not in rest


@pytest.mark.parametrize("columns", WIDTHS)
def test_calc_compare_on_a_date_in_chinese(columns, files):
    out = run(columns, "calc", files / "claim.yaml", "--rules", JIANGMEN, "--compare-on", "2021-03-16")
    flat = "".join(out.split())
    # before 2021-07-01: the resident cap 200,000 and the level-2 ratio 75%
    assert "居民基本医疗保险年度最高支付限额（住院与门特共用）：300000.00->200000.00" in flat
    assert "结算日期改为2021年3月16日" in flat and "适用日期2021年3月16日" in flat
    assert cells(out, "政策版本") == ["2021年7月1日", "2021年1月1日"]
    rest = out.replace(str(JIANGMEN), "")
    assert not ASCII_WORD.findall(rest), ASCII_WORD.findall(rest)


@pytest.mark.parametrize("columns", WIDTHS)
def test_calc_compare_in_english_fits(columns, files, counterfactual):
    out = run(columns, "calc", files / "claim.yaml", "--rules", JIANGMEN, "--compare", counterfactual, "--lang", "en")
    text = words(out)
    assert text.startswith("What-if: claim w1 A: ")
    assert cells(out, "basic") == ["8000.00", "7500.00", "-500.00"]
    assert "basic.annual_cap.resident: 300000.00 -> 200000.00 [basic.cap]" in text
    assert "inpatient.ratio[resident][level2]: 80% -> 75% [basic.ratio]" in text
    assert "Parameters that made the difference (cited by the two traces with different values)" in text
    assert "A:seed001:其中基本医疗保险年度内累计最高支付限额为30万(domain.mdsection7.1)" in "".join(out.split())
    assert "deciding date 2021-08-05" in out  # kept on one line
    assert cells(out, "basic.cap") == ["300000.00", "200000.00"]


# --- simulate --compare ------------------------------------------------------------------------------


@pytest.mark.parametrize("columns", WIDTHS)
def test_simulate_compare_fits(columns, files, counterfactual):
    out = run(columns, "simulate", files / "claims.csv", "--members", files / "members.csv", "--rules", JIANGMEN,
              "--compare", counterfactual)
    assert cells(out, "fund_total") == ["264268.10", "263118.10", "-1150.00"]
    assert cells(out, "paid.basic") == ["182665.00", "181237.50", "-1427.50"]
    assert cells(out, "paid.serious_illness") == ["57561.00", "57838.50", "277.50"]
    # the changed claim: its key columns, then its amounts (the key repeated), the layers that moved wrapped
    c5 = cells(out, "c5")
    assert c5[:4] == ["m1", "inpatient", "level2", "2021-09-10"]
    assert ["22840.00", "21690.00", "-1150.00"] == [c for c in c5 if re.fullmatch(r"-?\d+\.\d\d", c)]
    text = words(out)
    assert "basic -1427.50; serious_illness +277.50" in text
    assert cells(out, "level2")[:1] == ["2"]


@pytest.mark.parametrize("columns", WIDTHS)
def test_simulate_fits(columns, files):
    out = run(columns, "simulate", files / "claims.csv", "--members", files / "members.csv", "--rules", JIANGMEN)
    assert cells(out, "paid.basic") == ["182665.00"]
    assert cells(out, "fund_total") == ["264268.10"]
    assert "admissions (inpatient and day surgery)" in words(out)


@pytest.mark.parametrize("columns", ["60"])
def test_a_wrapped_table_repeats_its_whole_key(columns, files, counterfactual):
    # The B - A table by layer and fund, wrapped, repeated only `layer` above its amounts: basic of
    # employees and basic of residents could be told apart by their place alone
    out = run(columns, "simulate", files / "claims.csv", "--members", files / "members.csv", "--rules", JIANGMEN,
              "--compare", counterfactual)
    table = out[out.index("B - A by layer and fund"):]
    table = table[:table.index("B - A by ", 10)]
    blocks = [b for b in table.split("\n\n") if b.strip()]
    assert len(blocks) > 1  # wrapped at this width
    for block in blocks:
        rows = [line.split() for line in block.splitlines()[1:] if line.strip()]
        heading = block.splitlines()[0 if block.startswith("  ") else 1].split()
        assert heading[:3] == ["layer", "fund_pay_type", "scheme"], block
        assert rows and all(r[2] in ("employee", "resident") for r in rows if r[0] != "layer"), block
