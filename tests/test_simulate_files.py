"""Reading a year of claims as people hold them (benefits.simulate.files): Parquet, JSON Lines and
CSV read alike; money only from decimals or text (or whole fen in `<name>_fen`), never floats; every
bad value reported with its file, row or line, column and what was expected; nothing dropped."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import benefits
from benefits.simulate import SimulationInputError
from benefits.simulate.files import InputFilesError, raw_chunks, read_claims, read_inputs, read_members
from benefits.simulate.runner import check_openings, simulate

CLAIMS = [
    {"claim_id": "c1", "member_id": "m1", "visit": "inpatient", "level": "level2", "admission_date": "2021-03-01",
     "discharge_date": "2021-03-10", "diagnosis": "J18.9", "total": "12000.00", "fully_self_paid": "500.00",
     "over_limit": "0.00", "pre_self_paid": "700.00", "policy_range": "10800.00"},
    {"claim_id": "c2", "member_id": "m1", "visit": "general_outpatient", "level": "level1", "date": "2021-02-01",
     "diagnosis": "J06.9", "total": "100.00", "fully_self_paid": "0.00", "over_limit": "0.00",
     "pre_self_paid": "0.00", "policy_range": "100.00"},
    {"claim_id": "c3", "member_id": "m2", "visit": "special_outpatient", "level": "level3", "date": "2021-09-01",
     "diagnosis": "C34.9", "total": "4000.00", "fully_self_paid": "0.00", "over_limit": "0.00",
     "pre_self_paid": "200.00", "policy_range": "3800.00"},
]
MEMBERS = [
    {"member_id": "m1", "scheme": "resident", "member_type": "adult", "groups": "", "age": "45", "district": "蓬江"},
    {"member_id": "m2", "scheme": "resident", "member_type": "adult", "groups": "dibao", "age": "70", "district": "台山",
     "opening.serious_illness.base": "1000.00"},
]
COLUMNS = ["claim_id", "member_id", "visit", "level", "date", "admission_date", "discharge_date", "diagnosis", "total",
           "fully_self_paid", "over_limit", "pre_self_paid", "policy_range"]
MEMBER_COLUMNS = ["member_id", "scheme", "member_type", "groups", "age", "district", "opening.serious_illness.base"]
MONEY = ("total", "fully_self_paid", "over_limit", "pre_self_paid", "policy_range")


def write_csv(path, rows, columns):
    lines = [",".join(columns)] + [",".join(str(r.get(c, "")) for c in columns) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_jsonl(path, rows):
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def write_parquet_claims(path, rows, money=pa.decimal128(18, 2)):
    cols = {}
    for c in COLUMNS:
        values = [r.get(c) for r in rows]
        if c in ("date", "admission_date", "discharge_date"):
            cols[c] = pa.array([dt.date.fromisoformat(v) if v else None for v in values], pa.date32())
        elif c in MONEY:
            cols[c] = pa.array([v if pa.types.is_string(money) else Decimal(v) for v in values], money)
        else:
            cols[c] = pa.array(values, pa.string())
    pq.write_table(pa.table(cols), path)
    return path


def test_parquet_jsonl_and_csv_read_alike(tmp_path):
    csv_t = read_claims(write_csv(tmp_path / "c.csv", CLAIMS, COLUMNS))
    jsonl_t = read_claims(write_jsonl(tmp_path / "c.jsonl", CLAIMS))
    pq_t = read_claims(write_parquet_claims(tmp_path / "c.parquet", CLAIMS))
    assert csv_t.table.equals(jsonl_t.table) and csv_t.table.equals(pq_t.table)
    # money as int64 fen: 12000.00 yuan = 1,200,000 fen; 10800.00 = 1,080,000
    assert pq_t.table.column("total").to_pylist() == [1_200_000, 10_000, 400_000]
    assert pq_t.table.column("policy_range").to_pylist() == [1_080_000, 10_000, 380_000]
    assert list(csv_t.rows) == [2, 3, 4]  # CSV lines (the header is line 1)
    assert list(pq_t.rows) == [1, 2, 3]  # Parquet rows
    m = read_members(write_csv(tmp_path / "m.csv", MEMBERS, MEMBER_COLUMNS))
    assert m.table.column("groups").to_pylist() == [[], ["dibao"]]
    assert m.table.column("opening.serious_illness.base").to_pylist() == [0, 100_000]
    assert m.counters == ["serious_illness.base"]


def test_money_in_text_columns_and_whole_fen_columns(tmp_path):
    text = write_parquet_claims(tmp_path / "text.parquet", CLAIMS, money=pa.string())
    assert read_claims(text).table.column("total").to_pylist() == [1_200_000, 10_000, 400_000]
    t = pq.read_table(text)
    fen = t.drop_columns(["total"]).append_column("total_fen", pa.array([1_200_000, 10_000, 400_000], pa.int64()))
    pq.write_table(fen, tmp_path / "fen.parquet")
    assert read_claims(tmp_path / "fen.parquet").table.column("total").to_pylist() == [1_200_000, 10_000, 400_000]
    # a decimal with more places is fine when they are zero: 12000.0000 is 12000.00
    wide = write_parquet_claims(tmp_path / "wide.parquet", CLAIMS, money=pa.decimal128(20, 4))
    assert read_claims(wide).table.column("total").to_pylist() == [1_200_000, 10_000, 400_000]


@pytest.mark.parametrize("kind,expect", [
    (pa.float64(), "a double column cannot hold money exactly: store amounts as decimal128(18, 2), as text "
                   "('1234.56'), or as whole fen in an integer column named total_fen"),
    (pa.int64(), "an integer column is ambiguous for money (yuan or fen?)"),
])
def test_a_float_or_integer_money_column_is_refused_as_a_whole(tmp_path, kind, expect):
    t = pq.read_table(write_parquet_claims(tmp_path / "c.parquet", CLAIMS))
    values = [12000.0, 100.0, 4000.0] if kind == pa.float64() else [12000, 100, 4000]
    t = t.set_column(t.column_names.index("total"), "total", pa.array(values, kind))
    pq.write_table(t, tmp_path / "bad.parquet")
    with pytest.raises(InputFilesError) as err:
        read_claims(tmp_path / "bad.parquet")
    [p] = err.value.problems  # one problem for the column, not one a row
    assert (p.file, p.row, p.column) == (str(tmp_path / "bad.parquet"), None, "total")
    assert p.message.startswith(expect)


def test_every_bad_value_is_reported_with_file_line_and_column(tmp_path):
    rows = [dict(r) for r in CLAIMS] + [
        {**CLAIMS[0], "claim_id": "c4", "total": "12.345"},  # line 5: three decimals
        {**CLAIMS[1], "claim_id": "c5", "date": "2021-02-30"},  # line 6: no such day
        {**CLAIMS[1], "claim_id": "c6", "visit": "dental"},  # line 7: unknown visit kind
        {**CLAIMS[1], "claim_id": "c1"},  # line 8: duplicate id
        {**CLAIMS[0], "claim_id": "c7", "policy_range": "10000.00"},  # line 9: parts add to 11200.00, not 12000.00
        {**CLAIMS[0], "claim_id": "c8", "discharge_date": ""},  # line 10: a stay without its discharge
        {**CLAIMS[1], "claim_id": "c9", "total": "-5.00"},  # line 11: negative
    ]
    path = write_csv(tmp_path / "claims.csv", rows, COLUMNS)
    with pytest.raises(InputFilesError) as err:
        read_claims(path)
    exc = err.value
    assert isinstance(exc, SimulationInputError) and isinstance(exc, benefits.BenefitsError)
    got = {(p.row, p.column) for p in exc.problems}
    assert got == {(5, "total"), (6, "date"), (7, "visit"), (8, "claim_id"), (9, "total"), (10, "discharge_date"),
                   (11, "total")}
    by = {(p.row, p.column): p.message for p in exc.problems}
    assert by[(5, "total")] == "an amount has at most two decimals (fen), got 12.345"
    assert by[(6, "date")] == "'2021-02-30' is not a date of the calendar"
    assert by[(7, "visit")].startswith("expected one of inpatient, day_surgery, general_outpatient")
    assert by[(8, "claim_id")] == "claim id 'c1' appears more than once (first at line 2)"
    # 500.00 + 0.00 + 700.00 + 10000.00 = 11200.00
    assert by[(9, "total")].startswith("the parts add up to 11200.00, not to the total 12000.00")
    assert by[(10, "discharge_date")] == "required for a inpatient claim (a stay has admission_date and discharge_date)"
    assert by[(11, "total")] == "an amount cannot be negative, got -5.00"
    assert exc.count == 7
    assert f"{path} line 5 [total]: an amount has at most two decimals" in str(exc)


def test_members_problems_and_unknown_members(tmp_path):
    members = MEMBERS + [{"member_id": "m3", "scheme": "resident", "member_type": "retired", "groups": "dibao;vip"}]
    mpath = write_csv(tmp_path / "m.csv", members, MEMBER_COLUMNS)
    with pytest.raises(InputFilesError) as err:
        read_members(mpath)
    assert {(p.row, p.column) for p in err.value.problems} == {(4, "groups"), (4, "member_type")}
    # a word no scheme has is said once, not again as another scheme's
    mpath = write_csv(tmp_path / "m1.csv", MEMBERS + [{"member_id": "m5", "scheme": "resident", "member_type": "Adult",
                                                       "groups": ""}], MEMBER_COLUMNS)
    with pytest.raises(InputFilesError) as err:
        read_members(mpath)
    [p] = err.value.problems
    assert (p.row, p.column) == (4, "member_type") and "got 'Adult'" in p.message
    cpath = write_csv(tmp_path / "c.csv", [{**CLAIMS[0], "member_id": "nobody"}], COLUMNS)
    mpath = write_csv(tmp_path / "m2.csv", MEMBERS, MEMBER_COLUMNS)
    with pytest.raises(InputFilesError) as err:
        read_inputs(cpath, mpath)
    [p] = err.value.problems
    assert (p.row, p.column, p.message) == (2, "member_id", f"no member 'nobody' in {mpath}")


def test_jsonl_numbers_are_read_from_their_digits(tmp_path):
    path = tmp_path / "c.jsonl"
    row = dict(CLAIMS[1])
    text = json.dumps(row).replace('"total": "100.00"', '"total": 100.10').replace('"policy_range": "100.00"',
                                                                                     '"policy_range": 100.1')
    path.write_text(text + "\n", encoding="utf-8")
    assert read_claims(path).table.column("total").to_pylist() == [10_010]
    path.write_text(json.dumps(row).replace('"total": "100.00"', '"total": NaN') + "\n", encoding="utf-8")
    with pytest.raises(InputFilesError) as err:
        read_claims(path)
    assert err.value.problems[0].row == 1 and "not a JSON object" in err.value.problems[0].message


@pytest.mark.parametrize("name, data, byte", [
    ("bad-header.csv", b"member_id,member_id\n" + b"m1,m2\n" * 5000 + b"\xff\n", 20 + 6 * 5000),
    ("not-csv.csv", b"member_id\n\"" + b"x" * 200_000 + b"\"\nm1\n\xe4\xb8\n", 10 + 200_003 + 3),
    ("half-bom.csv", b"\xef\xbb", 0),
    ("half-bom.jsonl", b"\xef", 0),
])
def test_a_byte_that_is_not_utf8_is_the_problem_of_the_file_read_whole_or_in_chunks(tmp_path, name, data, byte):
    path = tmp_path / name
    path.write_bytes(data)
    expect = [f"{path}: not UTF-8 text (byte {byte})"]
    with pytest.raises(InputFilesError) as whole:
        read_members(path)
    assert [str(p) for p in whole.value.problems] == expect
    with pytest.raises(InputFilesError) as chunked:
        list(raw_chunks(path, 7))
    assert [str(p) for p in chunked.value.problems] == expect


def test_line_items_file_settles_claims_without_a_bill(tmp_path, jiangmen):
    claims = [{"claim_id": "c1", "member_id": "m1", "visit": "general_outpatient", "level": "level1",
               "date": "2021-02-01", "diagnosis": "J06.9"}]
    items = [
        {"claim_id": "c1", "item_id": "1", "category": "A", "unit_price": "30.00", "quantity": "2"},
        {"claim_id": "c1", "item_id": "2", "category": "B", "unit_price": "50.00", "quantity": "1",
         "self_pay_share": "0.20"},
        {"claim_id": "c1", "item_id": "3", "category": "C", "unit_price": "15.50"},
    ]
    cpath = write_jsonl(tmp_path / "c.jsonl", claims)
    ipath = write_jsonl(tmp_path / "i.jsonl", items)
    mpath = write_csv(tmp_path / "m.csv", MEMBERS[:1], MEMBER_COLUMNS)
    c, m = read_inputs(cpath, mpath, ipath)
    assert c.items.num_rows == 3 and c.items.column("quantity_num").to_pylist() == [2, 1, 1]
    for engine in ("scalar", "auto"):
        res = simulate(jiangmen, str(jiangmen.directory), c, m, engine=engine)
        row = res.table.to_pylist()[0]
        # total 60.00 + 50.00 + 15.50 = 125.50; fully self-paid 15.50 (C); pre-self-paid 20% x 50.00 = 10.00;
        # policy range 125.50 - 15.50 - 10.00 = 100.00; resident general outpatient 70% -> 70.00
        assert (row["total"], row["fully_self_paid"], row["pre_self_paid"], row["policy_range"]) == (12550, 1550, 1000, 10000)
        assert row["paid.basic_outpatient"] == 7000
    # items of an unknown claim, and a claim with neither bill nor items, are reported
    write_jsonl(ipath, items + [{"claim_id": "c9", "category": "A", "unit_price": "1.00"}])
    with pytest.raises(InputFilesError) as err:
        read_inputs(cpath, mpath, ipath)
    assert [(p.file, p.row, p.column) for p in err.value.problems] == [(str(ipath), 4, "claim_id")]
    with pytest.raises(InputFilesError) as err:
        read_inputs(cpath, mpath)
    assert [(p.row, p.column) for p in err.value.problems] == [(1, "total")]


def test_an_opening_counter_the_pack_does_not_keep_is_refused(tmp_path, jiangmen):
    members = [dict(MEMBERS[0], **{"opening.serious_illnes.base": "10.00"})]
    m = read_members(write_csv(tmp_path / "m.csv", members, MEMBER_COLUMNS[:-1] + ["opening.serious_illnes.base"]))
    with pytest.raises(InputFilesError) as err:
        check_openings(jiangmen, m)
    [p] = err.value.problems
    assert p.column == "opening.serious_illnes.base" and "keeps no counter 'serious_illnes.base'" in p.message


@pytest.mark.parametrize("absent", [["fully_self_paid"], ["over_limit", "pre_self_paid"],
                                    ["fully_self_paid", "policy_range"]])
def test_a_bill_part_whose_column_is_absent_is_0_for_both_engines(tmp_path, jiangmen, absent):
    # c2: a resident's general outpatient visit, 100.00, every part but the policy range 0.00:
    # 70% of 100.00 = 70.00 from the basic fund, whichever columns of the 0.00 parts are left out
    columns = [c for c in COLUMNS if c not in absent]
    cpath = write_csv(tmp_path / "c.csv", CLAIMS[1:2], columns)
    mpath = write_csv(tmp_path / "m.csv", MEMBERS[:1], MEMBER_COLUMNS)
    c, m = read_inputs(cpath, mpath)
    for engine in ("scalar", "auto"):
        row = simulate(jiangmen, str(jiangmen.directory), c, m, engine=engine).table.to_pylist()[0]
        assert (row["status"], row["total"], row["fully_self_paid"], row["policy_range"]) == ("settled", 10000, 0, 10000)
        assert row["paid.basic_outpatient"] == 7000, engine


def _problems(fn) -> list[tuple]:
    with pytest.raises(InputFilesError) as err:
        fn()
    return [(p.row, p.column, p.message) for p in err.value.problems]


OUTPATIENT = {"claim_id": "c1", "member_id": "m1", "visit": "general_outpatient", "level": "level1",
              "date": "2021-02-01", "diagnosis": "J06.9"}


def test_values_no_column_can_hold_are_problems_of_their_rows_not_crashes(tmp_path):
    """Each of these ended in an internal error (OverflowError, UnicodeEncodeError, ArrowInvalid)."""
    far = "a number far too large"
    # dates Arrow holds and Python's calendar does not
    days = pa.array([-800_000, 2**31 - 1], pa.int32()).cast(pa.date32())
    table = pa.table({**{k: [v, v] for k, v in OUTPATIENT.items() if k != "date"}, "date": days,
                      "total": ["100.00", "100.00"]})
    table = table.set_column(0, "claim_id", pa.array(["c1", "c2"]))
    pq.write_table(table, tmp_path / "d.parquet")
    calendar = "not a date of the calendar (0001-01-01 to 9999-12-31)"
    assert _problems(lambda: read_claims(tmp_path / "d.parquet")) == [(1, "date", calendar), (2, "date", calendar)]
    pq.write_table(pa.table({**{k: [v] for k, v in OUTPATIENT.items()}, "date": ["0000-01-01"], "total": ["1.00"]}),
                   tmp_path / "y0.parquet")
    assert _problems(lambda: read_claims(tmp_path / "y0.parquet")) == [(1, "date", calendar)]
    # whole numbers beyond int64: in text, and in an unsigned Parquet column
    csv_path = write_csv(tmp_path / "c.csv", [{**OUTPATIENT, "total_fen": "99999999999999999999"}],
                         [*OUTPATIENT, "total_fen"])
    assert _problems(lambda: read_claims(csv_path)) == [
        (2, "total_fen", f"expected {'whole fen (an integer such as 123450 for 1234.50 yuan)'}, "
                         f"got '99999999999999999999', {far}")]
    pq.write_table(pa.table({**{k: [v] for k, v in OUTPATIENT.items()}, "total_fen": pa.array([2**64 - 1], pa.uint64())}),
                   tmp_path / "u.parquet")
    assert _problems(lambda: read_claims(tmp_path / "u.parquet")) == [
        (1, "total_fen", f"expected whole fen (an integer such as 123450 for 1234.50 yuan), got {2**64 - 1}, {far}")]
    members = write_csv(tmp_path / "m.csv", [{**MEMBERS[0], "age": "99999999999999999999"}], MEMBER_COLUMNS)
    assert _problems(lambda: read_members(members)) == [(2, "age", f"expected a whole number, got '99999999999999999999', {far}")]
    # half a surrogate pair, escaped in JSON: no UTF-8 text holds it
    lone = tmp_path / "s.jsonl"
    lone.write_text(json.dumps({**OUTPATIENT, "total": "1.00"}).replace('"c1"', '"c\\ud800"') + "\n", encoding="utf-8")
    assert _problems(lambda: read_claims(lone)) == [
        (1, None, "not a JSON object: the string 'c\\ud800' holds a lone surrogate: U+D800 is half of a surrogate "
                  "pair without its other half, not a character (a character beyond U+FFFF is written as itself, or "
                  "escaped as a pair such as \\ud83d\\ude00) (column 16)")]
    # an amount with a line break after it is not an amount
    broken = write_jsonl(tmp_path / "b.jsonl", [{**OUTPATIENT, "total": "12.50\n", "policy_range": "12.50",
                                                 "fully_self_paid": "0.00", "over_limit": "0.00", "pre_self_paid": "0.00"}])
    assert [p[:2] for p in _problems(lambda: read_claims(broken))] == [(1, "total")]


def test_a_quantity_is_held_to_18_digits_trailing_zeros_aside(tmp_path, jiangmen):
    claims = write_jsonl(tmp_path / "c.jsonl", [OUTPATIENT])
    members = write_csv(tmp_path / "m.csv", MEMBERS[:1], MEMBER_COLUMNS)
    items = tmp_path / "i.csv"
    items.write_text("claim_id,category,unit_price,quantity\nc1,A,30.00,2.0000000000000000000\n", encoding="utf-8")
    c, m = read_inputs(claims, members, items)
    row = simulate(jiangmen, str(jiangmen.directory), c, m).table.to_pylist()[0]
    assert (row["status"], row["total"]) == ("settled", 6000)  # 30.00 x 2 = 60.00
    items.write_text("claim_id,category,unit_price,quantity\nc1,A,30.00,0.0000000000000000000001\n", encoding="utf-8")
    assert _problems(lambda: read_inputs(claims, members, items)) == [
        (2, "quantity", "expected at most 18 digits (trailing zeros aside), got '0.0000000000000000000001'")]
    # told from the digits before any number is made: 1e-999999999 (valid JSON) was 10**999999999 (a
    # hang), 5,001 digits as text past Python's 4,300-digit bound on int() (exit 3)
    import signal

    lines = tmp_path / "i.jsonl"
    lines.write_text('{"claim_id": "c1", "category": "B", "unit_price": "30.00", "self_pay_share": 1e-999999999}\n',
                     encoding="utf-8")
    items.write_text("claim_id,category,unit_price,quantity\nc1,A,30.00,1." + "1" * 5000 + "\n", encoding="utf-8")
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError("still reading the number")))
    signal.alarm(20)
    try:
        assert [p[:2] for p in _problems(lambda: read_inputs(claims, members, lines))] == [(1, "self_pay_share")]
        assert [p[:2] for p in _problems(lambda: read_inputs(claims, members, items))] == [(2, "quantity")]
        # trailing zeros aside: 1 and 300,000 zeros is 1, trimmed at once (one zero at a time took 24 s)
        lines.write_text('{"claim_id": "c1", "category": "A", "unit_price": "30.00", "quantity": "1.' + "0" * 300_000
                         + '"}\n', encoding="utf-8")
        c, m = read_inputs(claims, members, lines)
        row = simulate(jiangmen, str(jiangmen.directory), c, m).table.to_pylist()[0]
        assert (row["status"], row["total"]) == ("settled", 3000)  # 30.00 x 1
    finally:
        signal.alarm(0)


def test_a_group_written_twice_is_totalled_under_the_group(tmp_path, jiangmen):
    from benefits.simulate import report

    twice = [{**MEMBERS[0], "groups": "dibao;dibao"}, {**MEMBERS[0], "member_id": "m2", "groups": "dibao"}]
    claims = write_csv(tmp_path / "c.csv", [CLAIMS[1], {**CLAIMS[1], "claim_id": "c9", "member_id": "m2"}], COLUMNS)
    c, m = read_inputs(claims, write_csv(tmp_path / "m.csv", twice, MEMBER_COLUMNS))
    totals = report.report_of(jiangmen, simulate(jiangmen, str(jiangmen.directory), c, m), c, m)
    assert [(row[0], row[1]) for row in report.by(totals, "group").rows] == [("dibao", 2)]


@pytest.mark.parametrize("month", ["2021-13", "2021-00"])
def test_an_opening_counter_of_a_month_no_calendar_has_is_refused(tmp_path, jiangmen, month):
    column = f"opening.outpatient.month@{month}"
    members = [dict(MEMBERS[0], member_type="in_service", scheme="employee", **{column: "10.00"})]
    m = read_members(write_csv(tmp_path / "m.csv", members, MEMBER_COLUMNS[:-1] + [column]))
    with pytest.raises(InputFilesError) as err:
        check_openings(jiangmen, m)
    assert [(p.file, p.column, p.message) for p in err.value.problems] == [
        (str(tmp_path / "m.csv"), column, f"expected a month as YYYY-MM (01 to 12), got {month!r}")]


def test_amount_text_is_read_as_the_engine_reads_it(tmp_path):
    # "100.500" is 100.50 to benefits.evaluate but was refused by the simulation's reader (text
    # only: a JSON number or a Parquet decimal with more places was read); "+100.50" likewise
    rows = [dict(CLAIMS[1], total="100.500", policy_range="100.5000"), dict(CLAIMS[2], total="+4000.00")]
    for path in (write_csv(tmp_path / "c.csv", rows, COLUMNS), write_jsonl(tmp_path / "c.jsonl", rows)):
        t = read_claims(path).table
        assert t.column("total").to_pylist() == [10_050, 400_000]  # fen
        assert t.column("policy_range").to_pylist() == [10_050, 380_000]
    with pytest.raises(InputFilesError) as err:  # a third decimal that is not 0 is still refused
        read_claims(write_csv(tmp_path / "bad.csv", [dict(CLAIMS[1], total="100.505")], COLUMNS))
    assert [p.message for p in err.value.problems] == ["an amount has at most two decimals (fen), got 100.505"]
