"""The vectorised simulation against the scalar engine, the definition: every member's claims of a
year settled one by one with `benefits.evaluate`, each from the accumulators the member's previous
claim left, and compared claim by claim, field by field, with `simulate.settle_year`."""

from __future__ import annotations

import datetime as dt
import sys
from collections import defaultdict

import numpy as np
import pytest

import benefits
from benefits.errors import ClaimError
from benefits.money import ratio_of, to_fen
from benefits.simulate import settle_year
from benefits.simulate.columns import AFTER, BILL_COLUMNS, PAID
from benefits.simulate.dicts import tables_from_dicts
from benefits.simulate.sample import sample_year

from conftest import ROOT, RULES

STAYS = ("inpatient", "day_surgery")


@pytest.fixture(scope="module")
def packs():
    return {name: benefits.load_rules(RULES / name) for name in ("jiangmen", "anyang")}


def deciding_date(pack, claim: dict) -> str:
    if claim["visit"] in STAYS:
        return claim["discharge_date"] if pack.meta.deciding_date == "settlement" else claim["admission_date"]
    return claim["date"]


def scalar_year(pack, claims: list[dict], openings: dict[str, dict], year: int) -> dict[str, dict]:
    """Each claim settled by benefits.evaluate, member by member in order (deciding date, claim id),
    carrying accumulators_after into the member's next claim; a refused claim changes nothing."""
    by_member: dict[str, list[dict]] = defaultdict(list)
    for claim in claims:
        by_member[claim["member"]["id"]].append(claim)
    out = {}
    for mid, mine in by_member.items():
        acc = openings.get(mid) or {"member_id": mid, "year": year}
        mine.sort(key=lambda c: (deciding_date(pack, c), c["id"]))
        for step, claim in enumerate(mine):
            day = deciding_date(pack, claim)
            if day and dt.date.fromisoformat(day).year != year:  # the simulation keeps one year's accumulators
                out[claim["id"]] = {"status": "refused", "step": step, "message": (
                    f"the claim settles on {day}, outside the year {year} the simulation keeps accumulators for "
                    "(the year of its earliest claim): simulate one year's claims at a time")}
                continue
            try:
                s = benefits.evaluate(claim, pack, acc, trace=False)
            except ClaimError as exc:
                out[claim["id"]] = {"status": "refused", "message": str(exc), "step": step}
                continue
            acc = s.accumulators_after
            out[claim["id"]] = {
                "status": "settled", "step": step, "version": s.version,
                **{name: to_fen(getattr(s.bill, name)) for name in BILL_COLUMNS},
                **{PAID + p.layer: to_fen(p.paid) for p in s.layers},
                "deductible": to_fen(s.deductible), "ratio": None if s.ratio is None else ratio_of(s.ratio),
                "co_pay": to_fen(s.patient.co_pay), "above_cap": to_fen(s.patient.above_cap),
                "fund_total": to_fen(s.fund_total), "patient": to_fen(s.patient.total),
                "account": to_fen(s.patient.account), "cash": to_fen(s.patient.cash),
                "admissions_after": acc.admissions,
                "counters": {k: to_fen(v) for k, v in acc.counters.items()},
            }
    return out


def differences(results, expected: dict[str, dict], limit: int = 20) -> list[str]:
    rows = results.table.to_pylist()
    assert len(rows) == len(expected)
    bad = []
    for row in rows:
        want = expected[row["claim_id"]]
        got_fields = {"status": row["status"], "step": row["step"]}
        want_fields = {"status": want["status"], "step": want["step"]}
        if want["status"] == "refused":
            got_fields["message"], want_fields["message"] = row["message"], want["message"]
        else:
            for name, value in want.items():
                if name in ("status", "step", "counters", "message"):
                    continue
                got_fields[name], want_fields[name] = row[name], value
            for key in results.counter_keys:
                got_fields[AFTER + key] = row[AFTER + key]
                want_fields[AFTER + key] = want["counters"].get(key, 0)
        if got_fields != want_fields:
            diff = {k: (got_fields.get(k), want_fields.get(k)) for k in want_fields if got_fields.get(k) != want_fields[k]}
            bad.append(f"{row['claim_id']} ({row['engine']}): {diff}")
            if len(bad) >= limit:
                break
    return bad


def check_year(pack, claims: list[dict], openings: dict[str, dict], year: int):
    expected = scalar_year(pack, [dict(c) for c in claims], openings, year)
    ct, mt, it = tables_from_dicts(claims, openings)
    results = settle_year(pack, ct, mt, items=it, year=year)
    bad = differences(results, expected)
    assert not bad, "\n".join(bad)
    return results, expected


def generated_year(pack_name: str, members: int, year: int, seed: int = 11) -> tuple[list[dict], dict[str, dict]]:
    """A year made with bench/generate.py: each member is a generated claim's member, opening the year
    with that claim's generated accumulators (some near their caps), and has several generated
    claims of the pack's visit kinds (their own bills or line items), all settling in `year`."""
    import random

    sys.path.insert(0, str(ROOT / "bench"))
    import generate

    shape = generate.PACK_SHAPES[pack_name]
    claims, openings = [], {}
    for i in range(members):
        rng = random.Random(f"{seed}/{pack_name}/{i}")
        first = generate.make_claim(rng, pack_name, i * 100, generate._pick(rng, shape["visits"]), year=year,
                                    enrich_groups=True, heavy=rng.random() < 0.3, near_caps=rng.random() < 0.25)
        member = first.claim["member"]
        openings[member["id"]] = first.accumulators
        mine = [first.claim]
        for k in range(1, rng.randint(1, 10)):
            visit = generate._pick(rng, shape["visits"])
            if visit == "maternity" and member["scheme"] != "employee" and rng.random() < 0.8:
                visit = "general_outpatient"
            case = generate.make_claim(rng, pack_name, i * 100 + k, visit, year=year)
            mine.append({**case.claim, "member": member})
        claims.extend(mine)
    return claims, openings


@pytest.mark.parametrize("name, year", [("jiangmen", 2021), ("jiangmen", 2022), ("anyang", 2022)])
def test_a_sample_year_settles_as_the_scalar_engine_settles_it(packs, name, year):
    pack = packs[name]
    sample = sample_year(pack, members=500, year=year, seed=5, impossible_share=0.02)
    results, expected = check_year(pack, sample.claims, sample.openings, year)
    vector = results.column("engine") == "vector"
    assert vector.mean() > 0.95, results.not_vectorised
    if (name, year) == ("jiangmen", 2021):  # the 2021-07-01 version change falls inside the year
        settled = vector & (results.column("status") == "settled")
        versions = set(results.column("version")[settled].astype("datetime64[D]").astype(object))
        assert versions == {dt.date(2021, 1, 1), dt.date(2021, 7, 1)}
        before_july = settled & (results.column("deciding_date") < np.datetime64("2021-07-01"))
        assert (results.after("basic.annual")[before_july] == 200_000_00).any()  # the resident cap before July
        months = [k for k in results.counter_keys if k.startswith("outpatient.month@")]
        assert sum((results.after(k)[settled] == 80_00).sum() for k in months) > 0  # the employee monthly cap
    # the edges were met, on claims the vectorised kinds settled: counters reaching each cap exactly
    settled = vector & (results.column("status") == "settled")
    assert (results.column("above_cap")[settled] > 0).sum() > 10
    for key, cap in CAPS[name]:
        assert (results.after(key)[settled] == cap).any(), f"no claim took {key} to its cap {cap}"
    assert (results.column("admissions_after")[settled] >= 2).any()  # repeat admissions
    assert {"refused"} <= set(results.column("status"))


CAPS = {  # (counter, a cap of it in fen) for domain.md 7.1 and 7.2
    "jiangmen": [("basic.annual", 300_000_00), ("basic.annual", 560_000_00), ("serious_illness.paid", 240_000_00),
                 ("medical_aid.paid", 80_000_00), ("secondary_aid.paid", 30_000_00), ("special.hypertension", 1_500_00)],
    "anyang": [("basic.annual", 250_000_00), ("basic.annual", 300_000_00), ("large_amount.paid", 400_000_00),
               ("medical_aid.paid", 60_000_00), ("chronic.hypertension", 3_000_00)],
}


@pytest.mark.parametrize("name, year", [("jiangmen", 2021), ("anyang", 2022)])
def test_a_year_made_by_the_bench_generator_settles_as_the_scalar_engine_settles_it(packs, name, year):
    claims, openings = generated_year(name, 250, year)
    results, _ = check_year(packs[name], claims, openings, year)
    assert (results.column("engine") == "vector").mean() > 0.9, results.not_vectorised


def test_every_layer_of_both_packs_pays_somewhere_in_the_vectorised_kinds(packs):
    """Each layer (and so every kind the packs use) paid on claims the vectorised kinds settled."""
    for name, year in (("jiangmen", 2021), ("anyang", 2022)):
        pack = packs[name]
        sample = sample_year(pack, members=200, year=year, seed=9)
        ct, mt, it = tables_from_dicts(sample.claims, sample.openings)
        results = settle_year(pack, ct, mt, items=it, year=year)
        vector = results.column("engine") == "vector"
        for layer in pack.layers:
            assert (results.paid(layer.id)[vector] > 0).any(), f"{name}: {layer.id} ({layer.kind}) never paid"
        assert {layer.kind for layer in pack.layers} <= {"basic_fund", "cumulative_bands", "residual_ratio",
                                                          "above_cap", "fixed_amount", "personal_account"}


def test_a_kind_without_a_vectorised_counterpart_is_settled_by_the_scalar_engine(monkeypatch):
    """NotVectorisable: the claims a layer of such a kind applies to go to benefits.evaluate, with
    the same results, and the reason is reported."""
    from benefits.simulate import kinds

    monkeypatch.delitem(kinds.VECTOR_KINDS, "cumulative_bands")
    pack = benefits.load_rules(RULES / "jiangmen")  # a fresh pack: compiled without that kind
    sample = sample_year(pack, members=60, year=2021, seed=2)
    results, _ = check_year(pack, sample.claims, sample.openings, 2021)
    reason = "layer 'serious_illness': kind 'cumulative_bands' has no vectorised counterpart"
    assert results.not_vectorised.get(reason, 0) > 0
    scalar = results.column("engine") == "scalar"
    assert scalar.any() and (~scalar).any()


def test_claims_of_the_longest_ids_with_line_items_settle_in_the_scalar_engine_too(monkeypatch):
    """The scalar engine rebuilds a claim's line items from the columns: their ids must be ones the
    claim accepts whatever the claim's own id (they were the claim's id and '-1', past 200 characters)."""
    from benefits.simulate import kinds

    monkeypatch.delitem(kinds.VECTOR_KINDS, "basic_fund")  # every stay goes to the scalar engine
    pack = benefits.load_rules(RULES / "jiangmen")
    member = {"id": "m-long", "scheme": "resident", "member_type": "adult", "groups": []}
    claims = [{"id": f"c{n}-" + "x" * (200 - 3), "member": member, "visit": "inpatient", "level": "level3",
               "admission_date": f"2021-0{n}-01", "discharge_date": f"2021-0{n}-05", "diagnoses": ["J18.9"],
               "items": [{"id": "i1", "category": "A", "unit_price": "15000.00"},
                         {"id": "i2", "category": "B", "unit_price": "100.00", "quantity": "2"}]} for n in (1, 2)]
    results, expected = check_year(pack, claims, {}, 2021)
    assert (results.column("engine") == "scalar").all()
    # by hand, domain.md 6.2-6.3 and 7 (Jiangmen 2021, resident, level 3: deductible 1,000.00, 50% of it on
    # a repeat admission, ratio 65%; B default share 10%): policy range 15,000.00 + 200.00 - 20.00 = 15,180.00;
    # stay 1 (15,180.00 - 1,000.00) x 65% = 9,217.00; stay 2 (15,180.00 - 500.00) x 65% = 9,542.00
    assert [expected[c["id"]]["status"] for c in claims] == ["settled", "settled"]
    assert results.paid("basic").tolist() == [921700, 954200]


def test_amounts_near_the_largest_accepted_stay_exact(packs):
    """Products of fen and ratios beyond int64 (serious-illness bands, the large-amount subsidy) are
    split, never overflowed: huge stays of a 特困 resident (no serious-illness cap) and of an Anyang
    employee beyond the basic cap settle as the scalar engine settles them. The resident's fourth stay
    would take her cumulative self-pay past the largest amount accepted: the engine refuses it, so
    the simulation hands it to the engine."""
    huge = {"total": "600000000.00", "fully_self_paid": "0.00", "over_limit": "0.00", "pre_self_paid": "0.01",
            "policy_range": "599999999.99"}
    odd = {"total": "123456789.17", "fully_self_paid": "3.33", "over_limit": "0.01", "pre_self_paid": "7.77",
           "policy_range": "123456778.06"}
    for name, member, level in (
        ("jiangmen", {"id": "t1", "scheme": "resident", "member_type": "adult", "groups": ["tekun"]}, "level2"),
        ("anyang", {"id": "e1", "scheme": "employee", "member_type": "retired", "groups": ["dibao"]}, "city"),
    ):
        claims = [{"id": f"{member['id']}-{k}", "member": member, "visit": "inpatient", "level": level,
                   "admission_date": f"2022-0{k + 1}-01", "discharge_date": f"2022-0{k + 1}-05", "bill": bill}
                  for k, bill in enumerate([odd, huge, odd, huge])]
        counters = {"personal_account.balance": "1.00"} if member["scheme"] == "employee" else {}
        openings = {member["id"]: {"member_id": member["id"], "year": 2022, "counters": counters}}
        results, expected = check_year(packs[name], claims, openings, 2022)
        last = ("scalar", "refused") if name == "jiangmen" else ("vector", "settled")  # Anyang: capped counters only
        assert list(results.column("engine")) == ["vector"] * 3 + [last[0]]
        assert [expected[c["id"]]["status"] for c in claims] == ["settled"] * 3 + [last[1]]


def test_the_mini_pack_annual_deductible_and_claim_and_month_caps():
    """The README's mini pack: an annual deductible consumed through a counter, and monthly,
    per-claim and yearly caps on one layer (kinds of rows the real packs do not use)."""
    pack = benefits.load_rules(ROOT / "examples" / "rules" / "mini")
    sample = sample_year(pack, members=200, year=2022, seed=1, near_caps_share=0.3)
    results, _ = check_year(pack, sample.claims, sample.openings, 2022)
    vector = results.column("engine") == "vector"
    assert vector.all()
    assert (results.column("deductible")[vector] > 0).any() and (results.column("above_cap")[vector] > 0).any()
