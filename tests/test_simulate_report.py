"""The report folded partition by partition is the report of the whole year: every table, the HTML
and the per-claim Parquet, whatever the number of partitions; and its totals are the results' own
sums, recomputed here from the whole year's results table."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import RULES

import benefits
from benefits.simulate import report as rep
from benefits.simulate import synthetic
from benefits.simulate.compare import pack_without_change
from benefits.simulate.files import ClaimTable
from benefits.simulate.runner import Side, simulate
from benefits_cli.simulate_cmd import settle_and_report

JIANGMEN = RULES / "jiangmen"


@pytest.fixture(scope="module")
def year(tmp_path_factory):
    pack = benefits.load_rules(JIANGMEN)
    folder, _ = pack_without_change(JIANGMEN, tmp_path_factory.mktemp("cf") / "jiangmen", dt.date(2021, 7, 1), "test")
    claims, members = synthetic.tables(synthetic.district(2, Fraction(1, 200)))  # 江海
    t = claims.table.to_pylist()
    for k in range(0, len(t), 200):  # a 门特 visit for a diagnosis in no disease list: refused
        if t[k]["visit"] != "inpatient":
            t[k].update(visit="special_outpatient", diagnosis="J06.9")
    ct = ClaimTable(claims.name, claims.unit, pa.Table.from_pylist(t, schema=claims.table.schema), claims.rows)
    mt = members
    return pack, benefits.load_rules(folder), str(folder), ct, mt


def _report(year, tmp_path, partition_size):
    pack, cf, cf_dir, claims, members = year
    sides = [Side(pack, str(JIANGMEN), claims, members), Side(cf, cf_dir, claims, members)]
    files = [tmp_path / f"a{partition_size}.parquet", tmp_path / f"b{partition_size}.parquet"]
    report = settle_and_report(sides, partition_size=partition_size, top=15, claims_files=files)
    return report, [pq.read_table(rep.ClaimsFile.finish(f)) for f in files]


def test_the_streamed_report_is_the_whole_years(year, tmp_path):
    whole, whole_claims = _report(year, tmp_path, 10**9)  # one partition
    parts, parts_claims = _report(year, tmp_path, 40)  # about 20
    assert len(year[3]) > 15 * 40
    assert whole.a.refused and whole.paired.changed  # the sample has refusals and changed claims
    for got, want in ((parts.tables(), whole.tables()), (parts.compare_tables(), whole.compare_tables()),
                      (rep.tables(parts.b), rep.tables(whole.b))):
        assert [(t.name, t.columns, t.rows) for t in got] == [(t.name, t.columns, t.rows) for t in want]
    assert rep.html_report("t", [], parts) == rep.html_report("t", [], whole)
    for x, y in zip(whole_claims, parts_claims):
        assert x.equals(y.take(pc.sort_indices(y.column("row"))))


def test_the_totals_are_the_results_sums(year):
    pack, cf, cf_dir, claims, members = year
    a = simulate(pack, str(JIANGMEN), claims, members)
    b = simulate(cf, cf_dir, claims, members)
    totals = rep.report_of(pack, a, claims, members)
    report = rep.Report(pack, cf, top=5)
    report.add(rep.view(pack, a, claims, members), rep.view(cf, b, claims, members))
    settled_a = a.column("status") == "settled"
    settled_b = b.column("status") == "settled"
    assert totals.sums["fund_total"] == int(a.column("fund_total")[settled_a].sum()) == report.a.sums["fund_total"]
    assert totals.claims - totals.settled == a.refused
    summary = rep.summary(totals)
    assert summary.row("paid.basic")["value"] == ("money", int(a.column("paid.basic")[settled_a].sum()))
    both = settled_a & settled_b
    delta = np.where(both, b.column("fund_total") - a.column("fund_total"), 0)
    order = sorted(np.flatnonzero(delta), key=lambda i: (-abs(int(delta[i])), i))[:5]
    top = rep.top_changes(report.paired)
    assert [r[0] for r in top.rows] == [a.table.column("claim_id")[int(i)].as_py() for i in order]
    assert [r[7] for r in top.rows] == [int(delta[i]) for i in order]
    assert top.title == "The 5 claims whose fund payout changed most"


def test_the_top_changes_title_counts_the_claims_it_lists(year):
    # it said "The 2 claims whose fund payout changed most" over an empty table when B refused every claim
    pack, cf, cf_dir, claims, members = year
    a = simulate(pack, str(JIANGMEN), claims, members)
    b = simulate(cf, cf_dir, claims, members)
    report = rep.Report(pack, cf, top=10**6)  # more than changed: every changed claim is listed
    report.add(rep.view(pack, a, claims, members), rep.view(cf, b, claims, members))
    tab = rep.top_changes(report.paired)
    n = len(tab.rows)
    assert 0 < n < 10**6 and tab.title == f"The {n} claims whose fund payout changed (every one settled under both)"
    same = rep.Report(pack, pack, top=3)  # the same pack twice: nothing changed
    same.add(rep.view(pack, a, claims, members), rep.view(pack, a, claims, members))
    tab = rep.top_changes(same.paired)
    assert tab.rows == [] and tab.title == "No claim settled under both packs changed its fund payout"
    one = rep.Report(pack, cf, top=1)
    one.add(rep.view(pack, a, claims, members), rep.view(cf, b, claims, members))
    assert rep.top_changes(one.paired).title == "The claim whose fund payout changed most"


def test_the_report_is_the_same_under_a_callers_narrow_decimal_context(year, tmp_path):
    """Money turned back into yuan for Parquet, percentages and chart labels are made from exact
    fen, not under whatever `decimal` context the analyst's session has set (three digits here,
    raising wherever anything would round)."""
    import decimal

    (tmp_path / "wide").mkdir()
    (tmp_path / "narrow").mkdir()
    want, want_claims = _report(year, tmp_path / "wide", 10**9)
    narrow = decimal.Context(prec=3, rounding=decimal.ROUND_FLOOR, traps=[decimal.Inexact, decimal.Rounded])
    with decimal.localcontext(narrow):
        got, got_claims = _report(year, tmp_path / "narrow", 10**9)
        tables = [rep.to_arrow(t) for t in got.tables() + got.compare_tables()]
        page = rep.html_report("t", [], got)
    assert [(t.name, t.rows) for t in got.compare_tables()] == [(t.name, t.rows) for t in want.compare_tables()]
    assert all(x.equals(y) for x, y in zip(tables, [rep.to_arrow(t) for t in want.tables() + want.compare_tables()]))
    assert page == rep.html_report("t", [], want)
    assert all(x.equals(y) for x, y in zip(got_claims, want_claims))
    assert want_claims[0].column("fund_total").type == pa.decimal128(20, 2)
