"""`benefits simulate`, `benefits rules diff` and `benefits calc --compare/--compare-on`.

The data set: two residents, five claims, every amount below computed by hand (domain.md 7.1).

m1 (no group):
  c2 general outpatient L1, 2021-02-01, policy 100.00: 70% = 70.00
  c1 inpatient L2, out 2021-03-10, policy 10800.00: (10800 - 500) x 75% = 7725.00; self-pay 3075.00
  c5 inpatient L2, out 2021-09-10, policy 28800.00, 2nd admission (deductible 250):
     (28800 - 250) x 80% = 22840.00; self-pay 5960.00; serious-illness base 9035.00 < 10000: 0
m2 (dibao, opening serious-illness base 1000.00):
  c3 inpatient L3, out 2021-08-20, policy 235000.00: (235000 - 1000) x 65% = 152100.00; self-pay 82900.00
     serious illness (dibao: deductible 3000, +10 points): (83900 - 3000) x 70% = 56630.00
     medical aid: (82900 - 56630) x 80% = 21016.00; secondary: (26270 - 21016 - 5000) x 50% = 127.00
  c4 门特 L3 (C34.9), 2021-09-01, policy 3800.00: 65% = 2470.00; self-pay 1330.00
     serious illness 1330 x 70% = 931.00; aid (1330 - 931) x 80% = 319.20; secondary 79.80 x 50% = 39.90
Totals: basic 7725 + 22840 + 152100 = 182665.00; funds 264268.10; 3 admissions; 2 aid person-times.

Counterfactual (2021-07-01 undone): only c5 changes: (28800 - 250) x 75% = 21412.50 (-1427.50); self-pay
7387.50, base 10462.50: serious illness 462.50 x 60% = 277.50 (+277.50); funds -1150.00.
"""

from __future__ import annotations

import csv
import json
import re
from decimal import Decimal

import pyarrow.parquet as pq
import pytest
from conftest import ROOT, RULES
from typer.testing import CliRunner

from benefits_cli.app import app

JIANGMEN = RULES / "jiangmen"
CLAIMS = """claim_id,member_id,visit,level,date,admission_date,discharge_date,diagnosis,total,fully_self_paid,over_limit,pre_self_paid,policy_range
c1,m1,inpatient,level2,,2021-03-01,2021-03-10,J18.9,12000.00,500.00,0.00,700.00,10800.00
c2,m1,general_outpatient,level1,2021-02-01,,,J06.9,100.00,0,0,0,100.00
c3,m2,inpatient,level3,,2021-08-01,2021-08-20,C34.9,250000.00,5000.00,0,10000.00,235000.00
c4,m2,special_outpatient,level3,2021-09-01,,,C34.9,4000.00,0,0,200.00,3800.00
c5,m1,inpatient,level2,,2021-09-01,2021-09-10,J18.9,30000.00,500.00,0.00,700.00,28800.00
"""
# a second stay of a level-2 resident in August 2021: (10500 - 500) x 80% = 8000.00, x 75% = 7500.00 before July
WHAT_IF_CLAIM = """id: w1
member: {id: m1, scheme: resident, member_type: adult}
visit: inpatient
level: level2
admission_date: 2021-08-01
discharge_date: 2021-08-05
bill: {total: 10500.00, fully_self_paid: 0.00, over_limit: 0.00, pre_self_paid: 0.00, policy_range: 10500.00}
"""
MEMBERS = """member_id,scheme,member_type,groups,age,district,opening.serious_illness.base
m1,resident,adult,,45,蓬江,0
m2,resident,adult,dibao,70,台山,1000.00
"""


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


runner = _runner()


def run(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


@pytest.fixture
def data(tmp_path):
    claims = tmp_path / "claims.csv"
    claims.write_text(CLAIMS, encoding="utf-8")
    members = tmp_path / "members.csv"
    members.write_text(MEMBERS, encoding="utf-8")
    return claims, members


def rows_of(text: str, title: str) -> dict[str, list[str]]:
    """The printed table under `title`: first cell -> the other cells."""
    lines = text.splitlines()
    start = lines.index(title) + 2
    out = {}
    for line in lines[start:]:
        if not line.strip():
            break
        cells = line.split()
        out[cells[0]] = cells[1:]
    return out


def test_simulate_prints_the_totals(data):
    claims, members = data
    r = run("simulate", claims, "--members", members, "--rules", JIANGMEN)
    assert r.exit_code == 0, r.stderr
    summary = rows_of(r.stdout, "Summary")
    assert summary["paid.basic"] == ["182665.00"]
    assert summary["paid.serious_illness"] == ["57561.00"]  # 56630.00 + 931.00
    assert summary["paid.medical_aid"] == ["21335.20"]  # 21016.00 + 319.20
    assert summary["paid.secondary_aid"] == ["166.90"]  # 127.00 + 39.90
    assert summary["fund_total"] == ["264268.10"]
    assert re.search(r"admissions \(inpatient and day surgery\) +3\n", r.stdout)
    assert re.search(r"aid person-times \(claims with maf_pay > 0\) +2\n", r.stdout)
    funds = rows_of(r.stdout, "By layer and fund (fund_pay_type)")
    assert funds["basic"] == ["390100", "resident", "3", "182665.00"]
    assert funds["secondary_aid"] == ["610102", "resident", "2", "166.90"]
    months = rows_of(r.stdout, "By month")
    assert months["2021-09"][:3] == ["2", "1", "1"]  # c4 and c5; one admission (c5); one aid claim (c4)
    assert "settling" not in r.stderr  # no progress bar without a terminal


def test_compare_pairs_claims_and_names_the_changed_ones(data, counterfactual, tmp_path):
    claims, members = data
    out = tmp_path / "out"
    # a terminal wide enough for the table of changed claims on one line a claim (tests/test_compare_width.py
    # has it on narrower ones)
    r = run("simulate", claims, "--members", members, "--rules", JIANGMEN, "--compare", counterfactual,
            "--out", out, "-f", "table", "-f", "csv", "-f", "parquet", "-f", "html", env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.stderr
    summary = rows_of(r.stdout, "A and B: totals and B - A")
    assert summary["fund_total"] == ["264268.10", "263118.10", "-1150.00"]
    assert summary["paid.basic"] == ["182665.00", "181237.50", "-1427.50"]
    assert summary["paid.serious_illness"] == ["57561.00", "57838.50", "277.50"]
    assert "c5        m1         inpatient  level2  2021-09-10     22840.00  21690.00  -1150.00  " \
           "basic -1427.50; serious_illness +277.50" in r.stdout
    with (out / "compare_by_level.csv").open(encoding="utf-8") as f:
        level = {row["level"]: row for row in csv.DictReader(f)}
    assert (level["level2"]["funds A"], level["level2"]["funds B"], level["level2"]["B - A"]) == \
        ("30565.00", "29415.00", "-1150.00")  # 7725.00 + 22840.00; 7725.00 + 21690.00
    claims_a = pq.read_table(out / "a_claims.parquet")
    assert str(claims_a.schema.field("paid.basic").type) == "decimal128(20, 2)"
    assert claims_a.column("paid.basic").to_pylist()[4] == Decimal("22840.00")
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count("<svg") >= 8 and "<script" not in html
    assert "-1150.00" in html


def test_a_pack_that_does_not_cover_the_claims_dates_is_a_clear_error(data):
    claims, members = data
    r = run("simulate", claims, "--members", members, "--rules", JIANGMEN, "--compare", RULES / "anyang")
    assert r.exit_code == 2
    assert ("pack 'anyang' (B) covers 2022-01-01 to 2022-12-31, but 5 of 5 claims settle outside it (the claims "
            "span 2021-02-01 to 2021-09-10)") in r.stderr
    assert "add --compare-year 2022" in r.stderr


def test_next_years_rules_on_this_years_claims(data):
    claims, members = data
    r = run("simulate", claims, "--members", members, "--rules", JIANGMEN, "--compare", JIANGMEN,
            "--compare-year", "2022")
    assert r.exit_code == 0, r.stderr
    # moved to 2022: c2 general outpatient L1 75% (was 70%): 75.00 (+5.00); c1 L2 at 80% (was 75%):
    # (10800 - 500) x 80% = 8240.00 (+515.00); c3, c4, c5 as before (c5's base 2560 + 5960 < 10000)
    summary = rows_of(r.stdout, "A and B: totals and B - A")
    assert summary["fund_total"] == ["264268.10", "264788.10", "520.00"]
    months = rows_of(r.stdout, "B - A by month")
    assert months["2021-03"] == ["1", "7725.00", "8240.00", "515.00", "6.67%", "4275.00", "3760.00"]


@pytest.mark.parametrize("engine", ["vector", "scalar"])
def test_claims_moved_to_another_year_keep_their_order(tmp_path, engine):
    # 29 February and the 28th both became the 28th: the two stays were put in claim-id order under B,
    # and the deductible and ratio of the second admission moved between them (B - A = -197.50, exit 0)
    import shutil

    leap = tmp_path / "jiangmen-2020"  # Jiangmen's 2021-2022 rules a year earlier: 2020 is a leap year
    shutil.copytree(JIANGMEN, leap)
    for path in leap.rglob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        path.write_text(re.sub(r"\b2022-(\d\d-\d\d)", r"2021-\1", re.sub(r"\b2021-(\d\d-\d\d)", r"2020-\1", text)),
                        encoding="utf-8")
    claims, members = tmp_path / "claims.csv", tmp_path / "members.csv"
    claims.write_text("claim_id,member_id,visit,level,admission_date,discharge_date,total,policy_range\n"
                      "s1,r1,inpatient,level3,2020-02-20,2020-02-29,10000.00,10000.00\n"
                      "s2,r1,inpatient,level1,2020-02-20,2020-02-28,10000.00,10000.00\n", encoding="utf-8")
    members.write_text("member_id,scheme,member_type\nr1,resident,adult\n", encoding="utf-8")
    r = run("simulate", claims, "--members", members, "--rules", leap, "--compare", JIANGMEN, "--compare-year", "2021",
            "--engine", engine)
    assert r.exit_code == 0, r.stderr
    # s2 (the 28th) first under both: L1 first admission (10000 - 300) x 85% = 8245.00, then s1 L3 second
    # admission (10000 - 1000 x 50%) x 65% = 6175.00: 14420.00 under A and under B, the same rules
    assert rows_of(r.stdout, "A and B: totals and B - A")["fund_total"] == ["14420.00", "14420.00", "0.00"]


def test_bad_rows_are_exit_2_naming_file_line_and_column(data):
    claims, members = data
    claims.write_text(CLAIMS.replace("c2,m1,general_outpatient,level1,2021-02-01,,,J06.9,100.00",
                                     "c2,m1,general_outpatient,level1,2021-02-01,,,J06.9,100.5x"), encoding="utf-8")
    r = run("simulate", claims, "--members", members, "--rules", JIANGMEN)
    assert r.exit_code == 2
    assert f"{claims} line 3 [total]: expected an amount in yuan with at most two decimals" in r.stderr
    assert "Traceback" not in r.stderr


def test_refused_claims_are_listed_and_strict_makes_them_an_error(data):
    claims, members = data
    claims.write_text(CLAIMS + "c6,m1,special_outpatient,level1,2021-04-01,,,J06.9,50.00,0,0,0,50.00\n", encoding="utf-8")
    r = run("simulate", claims, "--members", members, "--rules", JIANGMEN)
    assert r.exit_code == 0
    assert "pack A (jiangmen) refused 1 claim; they add to no total" in r.stderr
    assert f"{claims} line 7 (claim 'c6'): claim.diagnoses.0: pack 'jiangmen' refuses this claim" in r.stderr
    assert rows_of(r.stdout, "Summary")["claims"] == ["refused", "1"]
    r = run("simulate", claims, "--members", members, "--rules", JIANGMEN, "--strict")
    assert r.exit_code == 2


def test_the_summary_reconciles_each_packs_totals_with_the_paired_tables(tmp_path, counterfactual):
    # B refused the claim A settled, and the summary's B - A counted its A payout as a saving, while every
    # table by dimension (claims settled under both) added up to another B - A, with nothing to say why
    claims, members = tmp_path / "claims.csv", tmp_path / "members.csv"
    claims.write_text("claim_id,member_id,visit,level,admission_date,discharge_date,total,policy_range\n"
                      "k1,p1,inpatient,level2,2021-08-01,2021-08-10,10500.00,10500.00\n"
                      "k2,p2,inpatient,level2,2021-08-01,2021-08-10,10500.00,10500.00\n", encoding="utf-8")
    members.write_text("member_id,scheme,member_type,opening.basic.annual\n"
                       "p1,resident,adult,0\np2,resident,adult,250000.00\n", encoding="utf-8")  # above B's 200,000 cap
    r = run("simulate", claims, "--members", members, "--rules", JIANGMEN, "--compare", counterfactual,
            env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.stderr
    summary = rows_of(r.stdout, "A and B: totals and B - A")
    # A: both first stays at L2, (10500 - 500) x 80% = 8000.00 each; B refuses p2 and pays p1 at 75%: 7500.00
    assert summary["fund_total"] == ["16000.00", "7500.00", "-8500.00"]
    assert r.stdout.count("fund_total, settled under both") == 1
    line = next(x for x in r.stdout.splitlines() if x.strip().startswith("fund_total, settled under both"))
    assert line.split()[-3:] == ["8000.00", "7500.00", "-500.00"]
    assert rows_of(r.stdout, "B - A by month")["2021-08"][:4] == ["1", "8000.00", "7500.00", "-500.00"]


def test_the_out_folder_holds_one_whole_run(data, tmp_path):
    # a run's tables were written one by one into --out: a failure left some new beside some old, and
    # a run without refusals left the refused.csv of the run before, naming claims it never had
    claims, members = data
    out = tmp_path / "out"
    refused = CLAIMS + "c6,m1,special_outpatient,level1,2021-04-01,,,J06.9,50.00,0,0,0,50.00\n"
    claims.write_text(refused, encoding="utf-8")
    r = run("simulate", claims, "--members", members, "--rules", JIANGMEN, "--out", out, "-f", "csv", "-f", "parquet")
    assert r.exit_code == 0, r.stderr
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert "refused.csv" in first and "claims.parquet" in first
    # --strict refuses the run: --out is left as it was, with nothing of the new run in it
    r = run("simulate", claims, "--members", members, "--rules", JIANGMEN, "--out", out, "-f", "csv", "--strict")
    assert r.exit_code == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first
    # a run without refusals, csv only: the tables of the run before go, the user's own file stays
    claims.write_text(CLAIMS, encoding="utf-8")
    r = run("simulate", claims, "--members", members, "--rules", JIANGMEN, "--out", out, "-f", "csv")
    assert r.exit_code == 0, r.stderr
    names = sorted(p.name for p in out.iterdir())
    assert "refused.csv" not in names and "claims.parquet" not in names and "notes.txt" in names
    assert "summary.csv" in names and not [n for n in names if n.startswith(".benefits-run-")]
    kept = {p.name: p.read_bytes() for p in out.iterdir()}
    # a run that prints its table only writes nothing to --out, and removes nothing from it
    r = run("simulate", claims, "--members", members, "--rules", JIANGMEN, "--out", out)
    assert r.exit_code == 0, r.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == kept
    # a name of the run before that is now a folder is left alone (it stopped the run after its files moved in)
    (out / "odd").mkdir()
    (out / ".benefits-simulate").write_text("odd\nsummary.csv\n" + "x" * 300 + "\n", encoding="utf-8")  # too long a name
    r = run("simulate", claims, "--members", members, "--rules", JIANGMEN, "--out", out, "-f", "csv")
    assert r.exit_code == 0, r.stderr
    assert (out / "odd").is_dir() and (out / "summary.csv").is_file()
    kept = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    # a folder where a report goes stops the run before anything moves: the run before stays whole
    (out / "by_level.csv").unlink()
    (out / "by_level.csv").mkdir()
    kept = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    r = run("simulate", claims, "--members", members, "--rules", JIANGMEN, "--out", out, "-f", "csv")
    assert r.exit_code == 2 and "by_level.csv" in r.stderr, r.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == kept


def test_a_run_that_cannot_write_its_reports_leaves_the_out_folder_as_it_was(data, tmp_path):
    import resource
    import subprocess
    import sys

    claims, members = data
    out = tmp_path / "out"
    r = run("simulate", claims, "--members", members, "--rules", JIANGMEN, "--out", out, "-f", "csv", "-f", "html")
    assert r.exit_code == 0, r.stderr
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    limit = max(len(b) for b in before.values()) - 1  # the largest report can no longer be written

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run([sys.executable, "-m", "benefits", "simulate", str(claims), "--members", str(members),
                           "--rules", str(JIANGMEN), "--compare", str(JIANGMEN), "--out", str(out), "-f", "csv",
                           "-f", "html"], capture_output=True, text=True, preexec_fn=small_files)
    assert done.returncode == 2 and "cannot write" in done.stderr, done.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_engines_and_workers_give_the_same_tables(data, tmp_path):
    claims, members = data
    outs = []
    for extra in (("--engine", "scalar"), ("--engine", "auto"), ("--workers", "2")):
        out = tmp_path / "-".join(extra)
        r = run("simulate", claims, "--members", members, "--rules", JIANGMEN, "--out", out, "-f", "csv", *extra)
        assert r.exit_code == 0, r.stderr
        outs.append({p.name: p.read_text(encoding="utf-8") for p in sorted(out.glob("*.csv"))})
    assert outs[0] == outs[1] == outs[2]
    assert "by_fund.csv" in outs[0]


def test_calc_compare_on_another_date_names_the_parameters(tmp_path):
    claim = ROOT / "examples" / "resident-level3-inpatient.yaml"
    acc = ROOT / "examples" / "resident-level3-accumulators.yaml"
    r = run("calc", claim, "--rules", JIANGMEN, "--accumulators", acc, "--compare-on", "2021-03-16", "--lang", "en")
    assert r.exit_code == 0, r.stderr
    # the resident cap was 200,000 before 2021-07-01 (300,000 after); level-3 ratio 65% either way
    assert "basic.annual_cap.resident: 300000.00 -> 200000.00   [basic.cap]" in r.stdout
    assert "A: rules" not in r.stdout and "deciding date 2021-03-16" in r.stdout


def test_calc_compare_with_another_pack(tmp_path, counterfactual):
    claim = tmp_path / "claim.yaml"
    claim.write_text(WHAT_IF_CLAIM, encoding="utf-8")
    r = run("calc", claim, "--rules", JIANGMEN, "--compare", counterfactual, "--lang", "en")
    assert r.exit_code == 0, r.stderr
    # (10500 - 500) x 80% = 8000.00 under A, x 75% = 7500.00 under B
    lines = {line.split()[0]: line.split()[1:] for line in r.stdout.splitlines() if line.strip()}
    assert lines["basic"] == ["8000.00", "7500.00", "-500.00"]
    assert lines["basic"] and "inpatient.ratio[resident][level2]: 80% -> 75%" in r.stdout
    assert "basic.annual_cap.resident: 300000.00 -> 200000.00" in r.stdout
    r = run("calc", claim, "--rules", JIANGMEN, "--compare", counterfactual, "--json")
    doc = json.loads(r.stdout)
    assert doc["difference"]["amounts"]["layer:basic"] == {"a": "8000.00", "b": "7500.00", "b_minus_a": "-500.00"}
    assert {p["parameter"] for p in doc["difference"]["parameters"]} == {
        "basic.annual_cap.resident", "inpatient.ratio[resident][level2]"}
    assert (doc["a"]["fund_total"], doc["b"]["fund_total"]) == ("8000.00", "7500.00")  # self-pay < 10000: no serious illness
    assert doc["b"]["label"] == str(counterfactual) and doc["b"]["setlinfo"]["hifp_pay"] == "7500.00"
    r = run("calc", claim, "--rules", JIANGMEN, "--compare", counterfactual, "--compare-on", "2021-03-01")
    assert r.exit_code == 2 and "not both" in r.stderr
    # days beyond the years accumulators hold were internal errors (exit 3)
    for day in ("0001-01-01", "1899-12-31", "2201-01-01"):
        r = run("calc", claim, "--rules", JIANGMEN, "--compare-on", day)
        assert r.exit_code == 2 and "expectedadatefrom1900-01-01to2200-12-31" in unboxed(r.stderr), r.stderr


def unboxed(text: str) -> str:
    """Text without its spaces and the box click's errors are drawn in (wrapped to the terminal)."""
    return "".join(text.replace("\u2502", "").split())


def test_rules_diff_command(counterfactual):
    r = run("rules", "diff", JIANGMEN, counterfactual)
    assert r.exit_code == 0, r.stderr
    assert "parameters: 2 changed" in r.stdout
    assert "2021-07-01: 300000.00 -> 200000.00" in r.stdout
    r = run("rules", "diff", JIANGMEN, counterfactual, "--on", "2021-03-01", "--json")
    assert json.loads(r.stdout)["empty"] is True
    r = run("rules", "diff", JIANGMEN, counterfactual, "--on", "2021-08-01", "--json")
    doc = json.loads(r.stdout)
    # a day no version covers is refused as `rules show --on` refuses it: it said "no differences"
    for day in ("1900-01-01", "2030-01-01"):
        r = run("rules", "diff", JIANGMEN, counterfactual, "--on", day)
        assert r.exit_code == 2 and f"no version of the rules covers {day}" in r.stderr, r.stdout + r.stderr
    for written, problem in [("2021-8-1", "expected a date written YYYY-MM-DD"), ("2021-02-30", "not a date of the"),
                             ("0001-01-01", "expected a date from 1900-01-01 to 2200-12-31")]:
        r = run("rules", "diff", JIANGMEN, counterfactual, "--on", written)
        assert r.exit_code == 2 and unboxed(problem) in unboxed(r.stderr), r.stderr
    assert [(p["name"], p["changes"][0]["a"]["value"], p["changes"][0]["b"]["value"]) for p in doc["parameters"]] == [
        ("basic.annual_cap.resident", "300000.00", "200000.00"), ("inpatient.ratio[resident][level2]", "80%", "75%")]
    # each description as the parameter file gives it, {zh, en}; a breakdown's combination named in English
    assert [p["description"] for p in doc["parameters"]] == [
        {"zh": "居民基本医疗保险年度最高支付限额（住院与门特共用）", "en": "resident basic annual cap, inpatient and 门特 shared"},
        {"zh": "住院基金支付比例", "en": "inpatient ratio (resident, level2)"}]
    # the text has both halves on the parameter's line
    flat = "".join(run("rules", "diff", JIANGMEN, counterfactual, "--on", "2021-08-01").stdout.split())
    assert "".join("inpatient.ratio[resident][level2] (percent): 住院基金支付比例/ inpatient ratio "
                   "(resident, level2)".split()) in flat


def test_a_dask_scheduler_gives_the_same_totals(data, tmp_path):
    distributed = pytest.importorskip("distributed")
    claims, members = data
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        r = run("simulate", claims, "--members", members, "--rules", JIANGMEN, "--scheduler", cluster.scheduler_address)
    assert r.exit_code == 0, r.stderr
    assert rows_of(r.stdout, "Summary")["fund_total"] == ["264268.10"]


def test_the_progress_bar_is_drawn_on_a_terminal_only(monkeypatch):
    import io

    from benefits_cli.simulate_cmd import _Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    assert _Progress(10, "settling").bar is None  # pytest's stderr is no terminal
    fake = Terminal()
    monkeypatch.setattr("sys.stderr", fake)
    with _Progress(10, "settling under A") as progress:
        assert progress.bar is not None
        progress(4)
        progress(6)
        assert progress.bar.tasks[0].completed == 10


def test_calc_compare_says_when_the_parameters_that_differ_moved_no_amount(counterfactual):
    def compare(name: str, lang: str) -> str:
        examples = ROOT / "examples"
        r = run("calc", examples / f"{name}-inpatient.yaml", "--rules", JIANGMEN, "--accumulators",
                examples / f"{name}-accumulators.yaml", "--compare", counterfactual, "--lang", lang)
        assert r.exit_code == 0, r.stderr
        return " ".join(r.stdout.split())

    # a level-3 stay far below the resident cap: the cap (300000.00 -> 200000.00) is cited, nothing moves
    same = compare("resident-level3", "en")
    assert "Parameters that differ (cited by the two traces with different values; no amount changed)" in same
    assert "basic.annual_cap.resident: 300000.00 -> 200000.00" in same
    assert "结算金额相同" in compare("resident-level3", "zh")
    # a level-2 stay: (21061.35 - 500.00) x 80% = 16449.08, x 75% = 15421.0125 -> 15421.01; -1028.07
    moved = compare("tekun-medical-aid", "en")
    assert "Parameters that made the difference" in moved and "-1028.07" in moved
    assert "造成差异的参数" in compare("tekun-medical-aid", "zh")


@pytest.mark.parametrize("engine", ["vector", "scalar"])
def test_a_claim_outside_the_simulated_year_is_refused_naming_the_year(tmp_path, engine):
    # One outpatient claim of 2021-12-31 makes 2021 the simulated year (the earliest claim's): the
    # 2022 stay is refused. The vectorised engine's refusal spoke of accumulators no one gave
    # ("accumulators.year: 2021, but the claim settles on a date in 2022").
    claims, members = tmp_path / "claims.csv", tmp_path / "members.csv"
    claims.write_text("claim_id,member_id,visit,level,date,admission_date,discharge_date,total,policy_range\n"
                      "old,m1,general_outpatient,level1,2021-12-31,,,100.00,100.00\n"
                      "c1,m2,inpatient,level2,,2022-03-01,2022-03-10,20000.00,20000.00\n", encoding="utf-8")
    members.write_text("member_id,scheme,member_type\nm1,resident,adult\nm2,resident,adult\n", encoding="utf-8")
    r = run("simulate", claims, "--members", members, "--rules", JIANGMEN, "--engine", engine)
    assert r.exit_code == 0, r.stderr
    assert (f"{claims} line 3 (claim 'c1'): the claim settles on 2022-03-10, outside the year 2021 the simulation "
            "keeps accumulators for (the year of its earliest claim): simulate one year's claims at a "
            "time") in " ".join(r.stderr.split())


def test_a_killed_runs_folder_is_removed_by_the_next_run(data, tmp_path):
    # A run killed with SIGKILL left its `.benefits-run-*` folder inside --out for good
    import signal
    import socket
    import subprocess
    import sys

    claims, members = data
    out = tmp_path / "out"
    out.mkdir()
    killed = subprocess.run([sys.executable, "-c", "import os, signal\nfrom benefits_cli.run_folder import RunFolder\n"
                             f"run = RunFolder({str(out)!r})\n(run.work / 'summary.csv').write_text('half')\n"
                             "os.kill(os.getpid(), signal.SIGKILL)"], check=False)
    assert killed.returncode == -signal.SIGKILL
    assert len(list(out.glob(".benefits-run-*"))) == 1
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        for name, host, pid in (("live", socket.gethostname(), sleeper.pid),
                                ("elsewhere", "another-host.example", 2 ** 22 + 1)):
            folder = out / f".benefits-run-{name}"
            folder.mkdir()
            (folder / ".owner").write_text(f"{host}\n{pid}\n", encoding="utf-8")
        (out / ".benefits-run-unowned").mkdir()  # a folder with no owner: not ours to judge
        r = run("simulate", claims, "--members", members, "--rules", JIANGMEN, "--out", out, "-f", "csv")
        assert r.exit_code == 0, r.stderr
        left = sorted(p.name for p in out.iterdir() if p.name.startswith(".benefits-run-"))
        assert left == [".benefits-run-elsewhere", ".benefits-run-live", ".benefits-run-unowned"]
        assert (out / "summary.csv").read_text(encoding="utf-8") != "half"
    finally:
        sleeper.send_signal(signal.SIGKILL)
        sleeper.wait()


@pytest.mark.parametrize("engine", ["vector", "scalar"])
def test_a_member_the_engine_refuses_is_worded_as_the_engine_words_it(tmp_path, engine):
    # the scalar engine wrote pydantic's dump ("the member cannot be read: 1 validation error for
    # Member ... https://errors.pydantic.dev/...") where the vectorised one wrote the engine's line
    claims, members = tmp_path / "claims.jsonl", tmp_path / "members.jsonl"
    claims.write_text('{"claim_id": "c1", "member_id": "m-e ", "visit": "general_outpatient", "level": "level1", '
                      '"date": "2021-03-01", "total": "100.00", "policy_range": "100.00"}\n', encoding="utf-8")
    members.write_text('{"member_id": "m-e ", "scheme": "resident", "member_type": "adult"}\n', encoding="utf-8")
    r = run("simulate", claims, "--members", members, "--rules", JIANGMEN, "--engine", engine)
    assert r.exit_code == 0, r.stderr
    assert (f"{claims} line 1 (claim 'c1'): claim.member.id: a member id has no space at either end ('m-e ' and "
            "'m-e' would be two members)") in " ".join((r.stdout + r.stderr).split())


def test_a_run_ended_by_sigterm_removes_its_temporary_folders(tmp_path):
    # `timeout` and service managers send SIGTERM, which ended the process where it stood: the bucketed
    # input (a copy of the year, in the temporary directory) and the run folder inside --out stayed behind
    import os
    import signal
    import subprocess
    import sys
    import time

    claims, members = tmp_path / "claims.csv", tmp_path / "members.csv"
    n = 3000
    members.write_text("member_id,scheme,member_type\n" + "".join(f"m{i},resident,adult\n" for i in range(n)),
                       encoding="utf-8")
    claims.write_text("claim_id,member_id,visit,level,date,diagnosis,total,fully_self_paid,over_limit,"
                      "pre_self_paid,policy_range\n" + "".join(
                          f"c{i},m{i % n},general_outpatient,level1,2021-03-{i % 28 + 1:02d},J06.9,100.00,0,0,0,100.00\n"
                          for i in range(10 * n)), encoding="utf-8")
    scratch, out = tmp_path / "tmp", tmp_path / "out"
    scratch.mkdir()
    env = dict(os.environ, TMPDIR=str(scratch))
    proc = subprocess.Popen([sys.executable, "-m", "benefits", "simulate", str(claims), "--members", str(members),
                             "--rules", str(JIANGMEN), "--engine", "scalar", "--out", str(out), "-f", "csv"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not list(scratch.glob("benefits-simulate-*")) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be stopped"
        assert list(out.glob(".benefits-run-*")) and list(scratch.glob("benefits-simulate-*"))
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr.read()
    assert list(scratch.iterdir()) == [] and list(out.glob(".benefits-run-*")) == []


STAY_L3 = """claim_id,member_id,visit,level,admission_date,discharge_date,diagnosis,total,fully_self_paid,over_limit,pre_self_paid
c1,m1,inpatient,level3,2021-03-01,2021-03-10,J18.9,20000.00,1000.00,0,500.00
"""
RESIDENT = "member_id,scheme,member_type,groups,age\nm1,resident,adult,,40\n"


def test_a_pack_edited_between_two_runs_on_one_scheduler_settles_the_second_under_the_edit(tmp_path):
    # a worker kept the pack it first loaded from a folder for its whole life: the second run, after the
    # edit, was paid under the rules of the first, exit 0
    import shutil

    from conftest import edit

    distributed = pytest.importorskip("distributed")
    pack = tmp_path / "jiangmen"
    shutil.copytree(JIANGMEN, pack)
    claims, members = tmp_path / "claims.csv", tmp_path / "members.csv"
    claims.write_text(STAY_L3, encoding="utf-8")
    members.write_text(RESIDENT, encoding="utf-8")
    # policy range 20000 - 1000 - 0 - 500 = 18500; resident level 3 deductible 1000:
    # (18500 - 1000) x 65% = 11375.00; after the edit (18500 - 1000) x 50% = 8750.00
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        first = run("simulate", claims, "--members", members, "--rules", pack, "--scheduler", cluster.scheduler_address)
        edit(pack, "parameters/basic_inpatient.yaml", '2021-01-01: {value: 65%, source: "seed 001: 参保人在三级',
             '2021-01-01: {value: 50%, source: "seed 001: 参保人在三级')
        second = run("simulate", claims, "--members", members, "--rules", pack, "--scheduler", cluster.scheduler_address)
    assert first.exit_code == 0 and second.exit_code == 0, first.stderr + second.stderr
    assert rows_of(first.stdout, "Summary")["paid.basic"] == ["11375.00"]
    assert rows_of(second.stdout, "Summary")["paid.basic"] == ["8750.00"]
