"""A seeded sample year (样本年度): members with several claims each across one calendar year, as
the engine's dicts, read from a pack (its levels, visits, services, disease lists, counters and the
bounds of its caps), for checks and benchmarks.

    year = sample_year(pack, members=500, year=2021, seed=7)
    year.claims          # claim dicts for benefits.evaluate (each with its member)
    year.openings        # member id -> opening accumulators dict

It aims at the edges the rules have: heavy users whose stays cross the basic cap, the serious-illness
band edges and caps, aid caps and deductibles, the monthly and yearly outpatient caps, the
personal-account balance; members who start the year near their caps; repeat admissions; stays on
both sides of a mid-year version change; line items with fractional quantities, payment standards
and B shares; and a few claims the pack refuses. Amounts are whole fen, written as yuan text.
Assumptions about shares and sizes are ours (not statistics).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass

from ..money import fmt_fen
from ..rules.pack import RulePack

VISIT_WEIGHTS = {"general_outpatient": 35, "special_outpatient": 20, "inpatient": 22, "day_surgery": 5,
                 "covid_test": 10, "maternity": 8}
AID_GROUPS = [("dibao",), ("tekun",), ("guer",), ("tuopin",), ("dishouru",), ("dibao", "tuopin"), ("tekun", "dibao")]
OTHER_CODES = ["J18.9", "K80.2", "S72.0", "J06.9", "K29.7", "O80", "M17.9"]


@dataclass
class Year:
    year: int
    claims: list[dict]
    openings: dict[str, dict]


def _pick(rng: random.Random, weighted: dict):
    return rng.choices(list(weighted), weights=list(weighted.values()))[0]


def _lognormal(rng: random.Random, median_yuan: float, sigma: float, lo: float, hi: float) -> int:
    return to_fen_int(min(hi, max(lo, median_yuan * math.exp(rng.gauss(0, sigma)))))


def to_fen_int(yuan: float) -> int:
    """A random draw in yuan as whole fen (draws are floats; money from here on is integer fen)."""
    return int(round(yuan * 100))


def sample_year(pack: RulePack, *, members: int, year: int, seed: int = 0, claims_per_member: int = 8,
                heavy_share: float = 0.12, aid_share: float = 0.3, near_caps_share: float = 0.2,
                items_share: float = 0.25, impossible_share: float = 0.0, id_prefix: str = "") -> Year:
    """`members` members of `pack` and their claims settling in `year` (see the module's docstring)."""
    rng = random.Random(f"{pack.name}/{year}/{seed}")
    meta = pack.meta
    visits = {v: w for v, w in VISIT_WEIGHTS.items() if v in meta.visits}
    codes = {d.name: [f"{letter}{num:02d}.9" for letter, lo, hi in d.ranges for num in (lo, hi)] for d in pack.diseases}
    plain = [c for c in OTHER_CODES if pack.disease_of([c]) == "none"]
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    claims: list[dict] = []
    openings: dict[str, dict] = {}
    for i in range(members):
        mid = f"{id_prefix}m{i:06d}"
        member = _member(rng, mid, aid_share)
        heavy = rng.random() < heavy_share
        count = rng.randint(4, 3 * claims_per_member) if heavy else rng.randint(1, claims_per_member)
        for k in range(count):
            visit = _pick(rng, visits)
            if visit == "inpatient" and not heavy and rng.random() < 0.5:
                visit = _pick(rng, {v: w for v, w in visits.items() if v != "inpatient"} or visits)
            if visit == "maternity" and member["scheme"] != "employee" and rng.random() < 0.9:
                visit = "general_outpatient" if "general_outpatient" in visits else "special_outpatient"
            claims.append(_claim(rng, pack, f"{mid}-c{k:03d}", member, visit, heavy, start, end, codes, plain,
                                 items_share))
        openings[mid] = _opening(rng, pack, member, year, near_caps_share, impossible_share)
    return Year(year, claims, openings)


def _member(rng: random.Random, mid: str, aid_share: float) -> dict:
    if rng.random() < 0.4:
        member = {"id": mid, "scheme": "employee", "member_type": rng.choice(["in_service", "in_service", "retired"])}
        member["age"] = rng.randint(55, 90) if member["member_type"] == "retired" else rng.randint(20, 59)
    else:
        member = {"id": mid, "scheme": "resident", "member_type": rng.choice(["adult", "adult", "child", "student"])}
        member["age"] = {"adult": rng.randint(18, 90), "child": rng.randint(0, 17), "student": rng.randint(6, 24)}[
            member["member_type"]]
    member["groups"] = list(rng.choice(AID_GROUPS)) if rng.random() < aid_share else []
    return member


def _claim(rng, pack: RulePack, cid: str, member: dict, visit: str, heavy: bool, start: dt.date, end: dt.date,
           codes: dict, plain: list, items_share: float) -> dict:
    meta = pack.meta
    claim: dict = {"id": cid, "member": member, "visit": visit}
    stay = visit in ("inpatient", "day_surgery")
    claim["level"] = rng.choice(meta.levels)
    region = _pick(rng, {"local": 88, "in_province": 7, "out_of_province": 5})
    claim["region"] = region
    if region == "out_of_province":
        claim["filed"] = rng.random() < 0.6
    day = start + dt.timedelta(days=rng.randrange((end - start).days + 1))
    if stay:
        claim["admission_date"] = str(max(start, day - dt.timedelta(days=rng.randint(0, 20))))
        claim["discharge_date"] = str(day)
    else:
        claim["date"] = str(day)
    diseases = list(codes)
    if visit == "special_outpatient":
        claim["diagnoses"] = [rng.choice(codes[rng.choice(diseases)])] if diseases and rng.random() < 0.97 else [rng.choice(plain)]
        total = _lognormal(rng, 4000 if heavy else 400, 0.9, 20, 60000)
    elif stay:
        claim["diagnoses"] = [rng.choice(codes[rng.choice(diseases)]) if diseases and rng.random() < 0.3 else rng.choice(plain)]
        total = _lognormal(rng, 110_000 if heavy else 9_000, 0.9 if heavy else 0.8, 800, 700_000)
        if visit == "day_surgery":
            total = _lognormal(rng, 7000, 0.5, 1500, 40_000)
    elif visit == "maternity":
        claim["service"] = rng.choice(meta.services) if meta.services and rng.random() < 0.97 else None
        claim["diagnoses"] = ["Z34.9"]
        total = _lognormal(rng, 900, 0.6, 50, 5000)
    elif visit == "covid_test":
        claim["diagnoses"] = ["Z11.5"]
        total = to_fen_int(rng.choice([16.0, 3.5, 28.0]))
    else:
        claim["diagnoses"] = [rng.choice(plain)]
        total = _lognormal(rng, 90, 0.9, 5, 3000)
    claim = {k: v for k, v in claim.items() if v is not None}
    if visit != "covid_test" and rng.random() < items_share:
        claim["items"] = _items(rng, cid, total)
    else:
        claim["bill"] = _bill(rng, total, visit == "covid_test")
    return claim


def _bill(rng: random.Random, total: int, simple: bool) -> dict:
    if simple:
        fully = over = pre = 0
    else:
        fully = total * rng.choice([0, 0, 1, 3, 8, 15]) // 100
        over = (total - fully) * rng.choice([0, 0, 0, 2, 5]) // 100
        pre = (total - fully - over) * rng.choice([0, 3, 6, 10]) // 100
    return {"total": fmt_fen(total), "fully_self_paid": fmt_fen(fully), "over_limit": fmt_fen(over),
            "pre_self_paid": fmt_fen(pre), "policy_range": fmt_fen(total - fully - over - pre)}


def _items(rng: random.Random, cid: str, total: int) -> list[dict]:
    n = rng.randint(1, 30)
    out = []
    for k in range(n):
        target = max(50, total // n)
        qty = rng.choice(["1", "1", "2", "3", "0.5", "1.5", "0.25", "12"])
        qn, qd = (int(qty.replace(".", "")), 10 ** (len(qty.partition(".")[2])))
        price = max(1, target * qd // qn)
        item = {"id": f"{cid}-{k + 1:03d}", "category": rng.choice("AAABBC"), "unit_price": fmt_fen(price),
                "quantity": qty}
        r = rng.random()
        if item["category"] != "C" and r < 0.15:
            item["payment_standard"] = fmt_fen(max(1, price * rng.choice([60, 85, 95, 100, 120]) // 100))
        if item["category"] == "B" and rng.random() < 0.4:
            item["self_pay_share"] = rng.choice(["0.05", "0.1", "0.15", "0.2", "0.333"])
        out.append(item)
    return out


def _opening(rng, pack: RulePack, member: dict, year: int, near_caps_share: float, impossible_share: float) -> dict:
    counters: dict[str, int] = {}
    if member["scheme"] == "employee" and "personal_account.balance" in pack.counters:
        counters["personal_account.balance"] = _lognormal(rng, 2500, 1.0, 0, 30_000) if rng.random() < 0.9 else 0
    if rng.random() < near_caps_share:
        for name, bounds in pack.bounds.items():
            if rng.random() < 0.6:
                limit = min(b.limit for b in bounds)
                key = f"{name}@{year}-{rng.randint(1, 12):02d}" if name in pack.monthly_counters else name
                counters[key] = max(0, limit - rng.randint(0, min(limit, 5_000_00)))
        for name in pack.counters:
            if name.endswith(".base") and rng.random() < 0.5:
                counters[name] = rng.randint(0, 150_000_00)
    if rng.random() < impossible_share and pack.bounds:
        name = rng.choice(sorted(pack.bounds))
        if name not in pack.monthly_counters:
            counters[name] = max(b.limit for b in pack.bounds[name]) + 1
    admissions = rng.choice([0, 0, 0, 1, 2]) if rng.random() < 0.3 else 0
    return {"member_id": member["id"], "year": year, "admissions": admissions,
            "counters": {k: fmt_fen(v) for k, v in sorted(counters.items()) if v}}
