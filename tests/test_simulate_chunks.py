"""The simulate command's reading path (benefits.simulate.buckets): input files read a few rows at a
time and bucketed by partition on disk give exactly the partitions, results and report that whole
tables give; and a problem in a later chunk is reported with its file's own row or line number,
together with every other problem, as reading the whole file reports it."""

from __future__ import annotations

import csv
import json
import random
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import RULES

import benefits
from benefits.simulate import buckets, cluster
from benefits.simulate import report as rep
from benefits.simulate.files import InputFilesError, read_inputs
from benefits.simulate.runner import Side
from benefits_cli.simulate_cmd import settle_and_report

JIANGMEN = RULES / "jiangmen"
CLAIM_COLUMNS = ["claim_id", "member_id", "visit", "level", "date", "admission_date", "discharge_date", "diagnosis",
                 "total", "fully_self_paid", "over_limit", "pre_self_paid", "policy_range"]
ITEM_COLUMNS = ["claim_id", "item_id", "category", "unit_price", "quantity", "self_pay_share"]
MEMBER_COLUMNS = ["member_id", "scheme", "member_type", "groups", "age", "district", "opening.serious_illness.base"]


def year(members: int = 60, seed: int = 7) -> tuple[list[dict], list[dict], list[dict]]:
    """Members, claims (some settled from line items) and line items, as a file holds them."""
    rng = random.Random(seed)
    ms, cs, items = [], [], []
    for k in range(members):
        resident = rng.random() < 0.6
        ms.append({"member_id": f"m{k:04d}", "scheme": "resident" if resident else "employee",
                   "member_type": rng.choice(["adult", "child"]) if resident else rng.choice(["in_service", "retired"]),
                   "groups": rng.choice(["", "", "dibao", "tekun;dibao"]), "age": str(rng.randint(1, 90)),
                   "district": rng.choice(["蓬江", "台山"]),
                   "opening.serious_illness.base": f"{rng.randint(0, 3000)}.00"})
    for n in range(members * 4):
        m = ms[rng.randrange(members)]["member_id"]
        month, day = rng.randint(1, 12), rng.randint(1, 20)
        stay = rng.random() < 0.3
        c = {"claim_id": f"c{n:05d}", "member_id": m, "level": rng.choice(["level1", "level2", "level3"]),
             "diagnosis": "J18.9"}
        if stay:
            c.update(visit="inpatient", admission_date=f"2021-{month:02d}-{day:02d}",
                     discharge_date=f"2021-{month:02d}-{day + rng.randint(0, 8):02d}")
        else:
            c.update(visit="general_outpatient", date=f"2021-{month:02d}-{day:02d}")
        if rng.random() < 0.25:
            for j in range(rng.randint(1, 4)):
                items.append({"claim_id": c["claim_id"], "item_id": str(j), "category": rng.choice("ABC"),
                              "unit_price": f"{rng.randint(1, 90000) / 100:.2f}", "quantity": rng.choice(["1", "2", "0.5"]),
                              "self_pay_share": rng.choice(["", "0.10", "0.20"])})
        else:
            total = rng.randint(1000, 5_000_000 if stay else 50_000)
            fsp, over, pre = rng.randint(0, total // 10), rng.randint(0, total // 20), rng.randint(0, total // 10)
            c.update(total=_yuan(total), fully_self_paid=_yuan(fsp), over_limit=_yuan(over), pre_self_paid=_yuan(pre),
                     policy_range=_yuan(total - fsp - over - pre))
        cs.append(c)
    return ms, cs, items


def _yuan(fen: int) -> str:
    return f"{Decimal(fen).scaleb(-2):.2f}"


def write(path, rows: list[dict], columns: list[str]):
    if path.suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(columns)
            for r in rows:
                w.writerow([r.get(c, "") for c in columns])
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps({k: v for k, v in r.items() if v != ""}, ensure_ascii=False) + "\n"
                                for r in rows), encoding="utf-8")
    else:
        pq.write_table(pa.table({c: pa.array([r.get(c) or None for r in rows], pa.string()) for c in columns}), path,
                       row_group_size=50)
    return path


def _files(tmp_path, suffix: str, data=None):
    ms, cs, items = data or year()
    return (write(tmp_path / f"claims{suffix}", cs, CLAIM_COLUMNS), write(tmp_path / f"members{suffix}", ms, MEMBER_COLUMNS),
            write(tmp_path / f"items{suffix}", items, ITEM_COLUMNS))


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_chunked_and_bucketed_input_settles_as_whole_tables(tmp_path, suffix):
    pack = benefits.load_rules(JIANGMEN)
    claims, members, items = _files(tmp_path, suffix)
    whole_c, whole_m = read_inputs(claims, members, items)
    parts = 5
    with buckets.bucketed(claims, members, items, parts=parts, chunk_rows=7, folder=tmp_path) as b:
        assert len(b) == len(whole_c) == 240 and whole_c.items.num_rows > 50
        assert (b.claims.ignored, b.members.ignored, b.members.counters) == (whole_c.ignored, whole_m.ignored,
                                                                           whole_m.counters)
        got = list(b.pieces())
        want = list(cluster.split(whole_c.table, whole_m.table, whole_c.items, parts))
        assert len(got) == len(want) == parts
        for (rows, c, m), w in zip(got, want):
            assert list(rows) == list(w.rows)
            assert c.table.equals(w.claims) and m.table.equals(w.members) and c.items.equals(w.items)
            assert list(c.rows) == list(whole_c.rows[w.rows]) and list(m.rows) == list(whole_m.rows[w.member_rows])
        streamed = _report(tmp_path / "s.parquet", [Side(pack, str(JIANGMEN), b.claims, b.members, source=b)])
    whole = _report(tmp_path / "w.parquet", [Side(pack, str(JIANGMEN), whole_c, whole_m)], partition_size=len(whole_c) // parts)
    assert [(t.name, t.rows) for t in streamed[0].tables()] == [(t.name, t.rows) for t in whole[0].tables()]
    assert rep.html_report("t", [], streamed[0]) == rep.html_report("t", [], whole[0])
    assert streamed[1].equals(whole[1])
    assert not list(tmp_path.glob("benefits-simulate-*"))  # the bucket folder is gone


def _report(path, sides, partition_size=None):
    report = settle_and_report(sides, partition_size=partition_size, claims_files=[path])
    t = pq.read_table(rep.ClaimsFile.finish(path))
    return report, t.take(pc.sort_indices(t.column("row")))


def _problems(exc: InputFilesError) -> tuple[int, set]:
    return exc.count, {(p.file, p.row, p.column, p.message) for p in exc.problems}


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_problems_of_later_chunks_keep_their_rows(tmp_path, suffix):
    ms, cs, items = year()
    cs[150]["total"] = "12.345"  # a bad amount far from the first chunk
    cs[200]["claim_id"] = cs[3]["claim_id"]  # an id given twice, in different chunks (and members)
    cs[201]["visit"] = "dental"
    items[-1]["claim_id"] = "nowhere"  # a line of no claim
    lone = next(c for c in cs if "total" not in c and c["claim_id"] != cs[3]["claim_id"])
    for b in ("total", "fully_self_paid", "over_limit", "pre_self_paid", "policy_range"):
        lone[b] = "1.00" if b in ("total", "policy_range") else "0.00"  # a bill and line items
    ms[55]["member_id"] = ms[2]["member_id"]  # a member twice
    ms[40]["groups"] = "vip"
    claims, members, items_path = _files(tmp_path, suffix, (ms, cs, items))
    with pytest.raises(InputFilesError) as whole:
        read_inputs(claims, members, items_path)
    with pytest.raises(InputFilesError) as chunked:
        with buckets.bucketed(claims, members, items_path, parts=3, chunk_rows=16, folder=tmp_path):
            pass
    assert _problems(chunked.value) == _problems(whole.value)
    first = 2 if suffix == ".csv" else 1  # the first claim's row or line
    rows = {(p.column, p.row) for p in chunked.value.problems}
    assert {("total", 150 + first), ("claim_id", 200 + first), ("visit", 201 + first)} <= rows
    assert any(p.row == 55 + first and p.column == "member_id" and "first at" in p.message
               for p in chunked.value.problems)
    assert not list(tmp_path.glob("benefits-simulate-*"))


def test_a_claim_of_no_member_and_a_jsonl_key_first_seen_in_a_later_chunk(tmp_path):
    ms, cs, items = year(members=20)
    cs[70]["service"] = "x"  # a key (column) only this line has: the file is read again knowing it
    claims, members, items_path = _files(tmp_path, ".jsonl", (ms, cs, items))
    text = claims.read_text(encoding="utf-8").splitlines()
    text[70] = json.dumps({**json.loads(text[70]), "service": "x"})
    claims.write_text("\n".join(text) + "\n", encoding="utf-8")
    whole_c, _ = read_inputs(claims, members, items_path)
    with buckets.bucketed(claims, members, items_path, parts=2, chunk_rows=16, folder=tmp_path) as b:
        tables = [c.table for _, c, _ in b.pieces()]
    assert pa.concat_tables(tables).sort_by("claim_id").equals(whole_c.table.sort_by("claim_id"))
    assert "service" in whole_c.table.column_names
    cs[60]["member_id"] = "nobody"
    claims = write(tmp_path / "claims.csv", cs, CLAIM_COLUMNS)
    with pytest.raises(InputFilesError) as whole:
        read_inputs(claims, members, items_path)
    with pytest.raises(InputFilesError) as chunked:
        with buckets.bucketed(claims, members, items_path, parts=2, chunk_rows=16, folder=tmp_path):
            pass
    assert _problems(chunked.value) == _problems(whole.value)
    assert [(p.row, p.column) for p in chunked.value.problems] == [(62, "member_id")]
