"""Seeded, reproducible generator of realistic claims for the benchmarks.

Every claim is a plain dict that `benefits.Claim.model_validate` accepts, with the member's
year-to-date accumulators (a dict for `benefits.Accumulators`) that match it: same member, same
year, counters below the caps in force and consistent with one another (the serious-illness paid
amount follows from its base, aid from what the basic fund left, and so on). Amounts are strings
with two decimals, never floats; money is kept in whole fen (int), floats appear only in random draws.

    from generate import headline_batch, mixed_batch
    cases = headline_batch(2000)             # Jiangmen inpatient claims of exactly 50 line items, 2022
    cases = mixed_batch(5000)                # both packs, every visit kind each covers, in realistic shares
    for case in cases:
        benefits.evaluate(case.claim, rules[case.pack], case.accumulators)

The same (n, seed) always gives the same claims: each claim draws from its own random stream,
seeded by (seed, kind, index), so claim 17 does not change when n does.

What "realistic" means here (assumptions, not statistics from the seeds):
- schemes: Jiangmen 42% employee (70% in service, 30% retired), 58% resident (60% adult, 20% child,
  20% student); Anyang 20% employee. Members in an aid group: about 5% of residents, 1% of employees
  (低保, 脱贫, 低收入, a few 特困, 孤儿 among children, some in two groups).
- visit kinds, by claim count. Jiangmen: general outpatient 55%, 门特 17%, COVID test 12%,
  inpatient 10%, day surgery 3%, maternity 3% (employees only). Anyang: 门诊慢特病 70%, inpatient 30%.
- costs are log-normal: general outpatient median 85 yuan; 门特 by disease (hypertension and
  diabetes ~250, dialysis ~450, cancer radio/chemotherapy ~3,500, anti-rejection ~2,500);
  inpatient median 11,000 yuan (clipped to 1,200 .. 800,000), day surgery ~7,000.
- inpatient stays have 20-300 line items (more for dearer stays); 55% category A, 33% B, 12% C by
  count; 6% of A/B items priced above their payment standard; 35% of B items carry their own
  pre-self-pay share, the rest use the pack's default.
- accumulators come from a simulated year so far: earlier admissions, earlier 门特 visits and
  outpatient use, settled with the pack's (approximate) parameters and capped as the pack caps them;
  2% of members are heavy users whose year-to-date spending pushes the caps.

Run it to look at the output:  python bench/generate.py --kind mixed -n 5 [--seed 1] (JSON lines)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import sys
from dataclasses import dataclass

DEFAULT_SEED = 20261123


@dataclass(frozen=True)
class Case:
    """One claim to settle: which pack, the claim dict and the member's accumulators dict."""

    pack: str
    claim: dict
    accumulators: dict

    @property
    def visit(self) -> str:
        return self.claim["visit"]


# --------------------------------------------------------------------------- money in fen

def yuan(fen: int) -> str:
    """Whole fen as a yuan string with two decimals: 123456 -> '1234.56'."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def fen(text: str) -> int:
    """A yuan string with at most two decimals as whole fen: '1234.5' -> 123450."""
    whole, _, frac = text.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


def _mul_half_up(fen: int, num: int, den: int) -> int:
    """round_half_up(fen * num / den) for non-negative integers."""
    q, r = divmod(fen * num, den)
    return q + (1 if 2 * r >= den else 0)


def _lognormal_fen(rng: random.Random, median_yuan: float, sigma: float, lo_yuan: float, hi_yuan: float) -> int:
    value = median_yuan * math.exp(rng.gauss(0.0, sigma))
    return round(min(hi_yuan, max(lo_yuan, value)) * 100)


def _pick(rng: random.Random, weighted):
    """One value from [(value, weight), ...]."""
    total = sum(w for _, w in weighted)
    x = rng.random() * total
    for value, w in weighted:
        x -= w
        if x < 0:
            return value
    return weighted[-1][0]


# --------------------------------------------------------------------------- the packs, roughly
# Only what the generator needs to make accumulators consistent; the engine's rule packs are the
# authority. Percentages as (numerator, 100); amounts in fen.

PACK_SHAPES = {
    "jiangmen": {
        "levels_inpatient": [("level1", 20), ("level2", 40), ("level3", 40)],
        "levels_outpatient": [("level1", 60), ("level2", 25), ("level3", 15)],
        "employee_share": 0.42,
        "visits": [("general_outpatient", 55), ("special_outpatient", 17), ("covid_test", 12),
                   ("inpatient", 10), ("day_surgery", 3), ("maternity", 3)],
        "years": [(2022, 75), (2021, 25)],
        "deductible": {"resident": {"level1": 300_00, "level2": 500_00, "level3": 1000_00},
                       "employee": {"level1": 300_00, "level2": 500_00, "level3": 800_00}},
        "ratio": {"resident": {"level1": 85, "level2": 80, "level3": 65},
                  "employee": {"level1": 90, "level2": 88, "level3": 85}},
        "retired_points": 3,
        "basic_cap": {"resident": 300_000_00, "employee": 560_000_00},
        "basic_cap_2021h1": {"resident": 200_000_00, "employee": 560_000_00},
        "si_schemes": ("resident", "employee"),
        "si_deductible": 10_000_00,
        "si_bands": {"resident": [(None, 60), (100_000_00, 70)], "employee": [(None, 80), (100_000_00, 90)]},
        "si_cap": 240_000_00,
        "aid_ratio": {"tekun": 100, "guer": 100, "dibao": 80, "tuopin": 70, "dishouru": 70},
        "aid_deductible": {},
        "aid_cap": 80_000_00,
        "secondary": (5_000_00, 50, 30_000_00),
        "special_caps": {"hypertension": ("special.hypertension", 1_500_00),
                         "diabetes": ("special.diabetes", 2_000_00)},
        "special_ratio": 70,
    },
    "anyang": {
        "levels_inpatient": [("township", 20), ("county", 40), ("city", 30), ("province", 10)],
        "levels_outpatient": [("township", 35), ("county", 35), ("city", 22), ("province", 8)],
        "employee_share": 0.20,
        "visits": [("special_outpatient", 70), ("inpatient", 30)],
        "years": [(2022, 100)],
        "deductible": {"resident": {"township": 200_00, "county": 500_00, "city": 900_00, "province": 1500_00},
                       "employee": {"township": 300_00, "county": 500_00, "city": 800_00, "province": 1200_00}},
        "ratio": {"resident": {"township": 90, "county": 80, "city": 65, "province": 60},
                  "employee": {"township": 92, "county": 90, "city": 88, "province": 85}},
        "retired_points": 2,
        "basic_cap": {"resident": 250_000_00, "employee": 300_000_00},
        "basic_cap_2021h1": None,
        "si_schemes": ("resident",),
        "si_deductible": 15_000_00,
        "si_bands": {"resident": [(None, 60), (50_000_00, 70), (100_000_00, 80)]},
        "si_cap": 400_000_00,
        "aid_ratio": {"tekun": 100, "dibao": 75, "tuopin": 65, "dishouru": 65},
        "aid_deductible": {"dibao": 1000_00, "tuopin": 1000_00, "dishouru": 1000_00},
        "aid_cap": 60_000_00,
        "secondary": None,
        "special_caps": {"hypertension": ("chronic.hypertension", 3_000_00),
                         "diabetes": ("chronic.diabetes", 3_000_00)},
        "special_ratio": 80,
    },
}

# ICD-10 codes a claim may carry. 门特 / 慢特病 codes lie in the packs' disease lists (domain.md 6.11).
SPECIAL_CODES = {
    "hypertension": ["I10", "I11.9", "I12.9", "I13.0", "I15.0"],
    "diabetes": ["E10.9", "E11.9", "E11.2", "E11.6", "E14.9"],
    "uraemia": ["N18.5", "N18.6", "N18.9"],
    "cancer": ["C16.9", "C18.7", "C20", "C22.0", "C34.9", "C50.9", "C53.9", "C61", "C91.0"],
    "transplant": ["Z94.0", "Z94.1", "Z94.4"],
}
SPECIAL_MIX = [("hypertension", 40), ("diabetes", 30), ("cancer", 15), ("uraemia", 10), ("transplant", 5)]
# median yuan, sigma, clip low, clip high, items low, items high
SPECIAL_COST = {
    "hypertension": (250, 0.6, 20, 3000, 1, 6), "diabetes": (260, 0.6, 20, 4000, 1, 8),
    "uraemia": (450, 0.3, 150, 2500, 3, 12), "cancer": (3500, 1.0, 200, 60000, 3, 20),
    "transplant": (2500, 0.6, 300, 20000, 2, 10),
}
# Primary diagnoses of admissions (anything; some in the disease lists, as in real wards).
INPATIENT_CODES = [
    ("J18.9", 12), ("I63.9", 8), ("I25.1", 6), ("I21.9", 4), ("K80.2", 5), ("K35.8", 4), ("S72.0", 4),
    ("O80", 5), ("N20.0", 4), ("J44.1", 6), ("C34.9", 4), ("C16.9", 2), ("C50.9", 2), ("E11.9", 4),
    ("I10", 4), ("N18.5", 2), ("M17.9", 3), ("K29.7", 4), ("H25.9", 4), ("A09.9", 3), ("Z94.0", 1),
    ("I50.9", 4), ("G45.9", 2), ("R07.4", 2),
]
SECONDARY_CODES = ["I10", "E11.9", "E78.5", "K21.9", "J44.9", "N40", "I48.9", "D64.9", "F32.9", "Z86.7"]
GENERAL_CODES = ["J06.9", "J20.9", "K30", "M54.5", "R51", "L30.9", "H10.9", "I10", "E11.9", "K52.9", "Z00.0"]

ITEM_NAMES = {
    "A": ["床位费", "一级护理", "二级护理", "诊查费", "血常规", "尿常规", "肝功能", "肾功能", "电解质",
          "心电图", "胸部X线", "静脉输液", "肌肉注射", "0.9%氯化钠注射液", "5%葡萄糖注射液",
          "阿莫西林胶囊", "布洛芬缓释胶囊", "二甲双胍片", "氨氯地平片", "换药", "吸氧", "雾化吸入"],
    "B": ["头孢曲松钠注射剂", "左氧氟沙星注射液", "CT平扫", "MRI平扫", "彩色多普勒超声", "胃镜检查",
          "一次性使用吻合器", "冠脉支架", "人工髋关节", "胰岛素注射液", "奥美拉唑注射剂", "白蛋白注射液",
          "血液透析", "PET-CT", "靶向药物（谈判）", "手术麻醉", "腹腔镜手术", "病理检查"],
    "C": ["进口人工晶体", "营养餐", "特需病房差价", "美容缝合", "护工费", "保健品", "进口耗材（目录外）",
          "体检套餐", "陪护床"],
}
B_SHARES = ["0.05", "0.08", "0.10", "0.15", "0.20", "0.30"]


# --------------------------------------------------------------------------- line items

def make_items(rng: random.Random, claim_id: str, total_fen: int, n_items: int,
               mix=(("A", 55), ("B", 33), ("C", 12)), kind: str = "inpatient") -> list[dict]:
    """n_items line items whose amounts add up to about total_fen (unit price x quantity)."""
    weights = [math.exp(rng.gauss(0.0, 1.2)) for _ in range(n_items)]
    wsum = sum(weights)
    items = []
    for k, w in enumerate(weights):
        target = max(50, int(total_fen * w / wsum))  # at least 0.50 yuan a line
        if kind == "inpatient":
            qty = _pick(rng, [(1, 50), (rng.randint(2, 10), 33), (rng.randint(11, 60), 10), ("0.5", 4), ("1.5", 3)])
        else:
            qty = _pick(rng, [(1, 60), (rng.randint(2, 6), 30), (rng.randint(7, 30), 10)])
        q_num, q_den = (int(qty * 10), 10) if isinstance(qty, int) else (int(qty.replace(".", "")), 10)
        unit = max(1, _mul_half_up(target, q_den, q_num))  # fen
        category = _pick(rng, list(mix))
        item = {
            "id": f"{claim_id}-{k + 1:03d}",
            "name": rng.choice(ITEM_NAMES[category]),
            "category": category,
            "unit_price": yuan(unit),
            "quantity": str(qty),
        }
        if category != "C":
            r = rng.random()
            if r < 0.06:  # priced above the payment standard: the excess is over-limit
                item["payment_standard"] = yuan(max(1, int(unit * rng.uniform(0.60, 0.95))))
            elif r < 0.16:  # a payment standard at or above the price: no over-limit part
                item["payment_standard"] = yuan(int(unit * rng.choice([1.0, 1.0, 1.1, 1.25])))
        if category == "B" and rng.random() < 0.35:
            item["self_pay_share"] = rng.choice(B_SHARES)
        items.append(item)
    return items


def split_items_fen(items: list[dict], default_share: tuple[int, int]) -> dict[str, int]:
    """domain.md 6.2, in fen: for a claim the generator sends as an already-split bill."""
    total = fully = over = pre = 0
    for it in items:
        unit = fen(it["unit_price"])
        qn, qd = fraction(it["quantity"])
        amount = _mul_half_up(unit, qn, qd)
        item_over = item_pre = 0
        if it["category"] == "C":
            fully += amount
        else:
            if "payment_standard" in it:
                std = fen(it["payment_standard"])
                if unit > std:  # domain.md 6.2: the amount less the recognised round(standard x quantity)
                    item_over = amount - _mul_half_up(std, qn, qd)
            if it["category"] == "B":
                sn, sd = fraction(it["self_pay_share"]) if "self_pay_share" in it else default_share
                item_pre = _mul_half_up(amount - item_over, sn, sd)
        total += amount
        over += item_over
        pre += item_pre
    return {"total": total, "fully_self_paid": fully, "over_limit": over, "pre_self_paid": pre,
            "policy_range": total - fully - over - pre}


def fraction(text: str) -> tuple[int, int]:
    """A decimal string as an exact fraction: "0.5" -> (5, 10), "3" -> (3, 1)."""
    whole, _, frac = text.partition(".")
    den = 10 ** len(frac)
    return int(whole + frac), den


# --------------------------------------------------------------------------- members

RESIDENT_GROUPS = [((), 945), (("dibao",), 20), (("tuopin",), 15), (("dishouru",), 10),
                   (("tekun",), 4), (("dibao", "tuopin"), 5), (("dishouru", "tuopin"), 1)]
EMPLOYEE_GROUPS = [((), 990), (("dishouru",), 7), (("dibao",), 3)]


def make_member(rng: random.Random, pack: str, member_id: str, *, scheme: str | None = None,
                enrich_groups: bool = False) -> dict:
    shape = PACK_SHAPES[pack]
    if scheme is None:
        scheme = "employee" if rng.random() < shape["employee_share"] else "resident"
    if scheme == "employee":
        member_type = "retired" if rng.random() < 0.30 else "in_service"
        age = rng.randint(55, 95) if member_type == "retired" else rng.randint(20, 60)
        groups = list(_pick(rng, EMPLOYEE_GROUPS))
    else:
        member_type = _pick(rng, [("adult", 60), ("child", 20), ("student", 20)])
        age = {"adult": rng.randint(18, 92), "child": rng.randint(0, 17), "student": rng.randint(6, 24)}[member_type]
        groups = list(_pick(rng, RESIDENT_GROUPS))
        if member_type == "child" and rng.random() < 0.005:
            groups = ["guer"]
    if enrich_groups and rng.random() < 0.5:  # for correctness checks: many more aid members
        groups = list(rng.choice([("dibao",), ("tekun",), ("tuopin",), ("dishouru",), ("guer",), ("dibao", "tuopin"),
                                  ("tekun", "dibao"), ("dishouru",)]))
    return {"id": member_id, "scheme": scheme, "member_type": member_type, "groups": groups, "age": age}


# --------------------------------------------------------------------------- accumulators

def _bands_pay(before: int, after: int, start: int, bands: list[tuple[int | None, int]], points: int) -> int:
    """Band payment (fen, floor) of the part of [before, after] in each band; bands[0] starts at `start`."""
    lows = [start] + [b[0] for b in bands[1:]]
    highs = lows[1:] + [None]
    paid = 0
    for lo, hi, (_, pct) in zip(lows, highs, bands):
        top = after if hi is None else min(after, hi)
        part = max(0, top - max(before, lo))
        paid += part * min(100, pct + points) // 100
    return paid


def _best_group(pack: str, groups: list[str]) -> str | None:
    ratios = PACK_SHAPES[pack]["aid_ratio"]
    held = [g for g in groups if g in ratios]
    return max(held, key=lambda g: ratios[g]) if held else None


def _si_modifier(pack: str, scheme: str, groups: list[str]) -> tuple[int, int, bool]:
    """(first-band start as % of the deductible, points, cap lifted) for the member's best group."""
    if scheme != "resident":
        return 100, 0, False
    g = set(groups)
    if pack == "jiangmen":
        if g & {"tekun", "guer"}:
            return 20, 20, True
        if g & {"dibao", "tuopin"}:
            return 30, 10, True
    elif g & {"tekun", "dibao", "tuopin"}:
        return 50, 5, True
    return 100, 0, False


def make_accumulators(rng: random.Random, pack: str, member: dict, claim: dict, *, heavy: bool | None = None,
                      near_caps: bool = False) -> dict:
    """The member's year so far, before this claim, settled roughly as the pack would.

    `near_caps` (for correctness checks, not realistic): each capped counter is, with even odds,
    moved to within a few thousand yuan of its cap (and the cumulative bases raised to match), so
    that the claim meets the caps."""
    shape = PACK_SHAPES[pack]
    scheme, groups = member["scheme"], member["groups"]
    visit = claim["visit"]
    day = dt.date.fromisoformat(claim.get("discharge_date") or claim["date"])
    year_part = (day - dt.date(day.year, 1, 1)).days / 365.0
    if heavy is None:
        heavy = rng.random() < 0.02
    counters: dict[str, int] = {}
    admissions = 0

    # earlier admissions this year
    weights = [(0, 72), (1, 18), (2, 7), (3, 3)] if visit in ("inpatient", "day_surgery") else [(0, 92), (1, 6), (2, 2)]
    admissions = _pick(rng, weights)
    if heavy:
        admissions = max(admissions, rng.randint(1, 4))
    admissions = min(admissions, int(year_part * 12))
    policy_prior = 0  # in-policy amount of earlier stays and 门特 visits (feeds the basic cap and serious illness)
    basic_paid = 0
    ratio = shape["ratio"][scheme]
    points = shape["retired_points"] if member["member_type"] == "retired" else 0
    for k in range(admissions):
        level = _pick(rng, shape["levels_inpatient"])
        p = _lognormal_fen(rng, 100_000 if heavy else 9_000, 0.9 if heavy else 0.8, 800, 900_000)
        ded = shape["deductible"][scheme][level]
        if pack == "jiangmen" and k >= 1:
            ded //= 2
        if pack == "anyang" and k >= 2:
            ded = 0
        policy_prior += p
        basic_paid += max(0, p - ded) * min(100, ratio[level] + points) // 100

    # earlier 门特 / 慢特病 visits (members with a listed disease visit monthly)
    disease = claim.get("_disease")
    if disease is None and rng.random() < 0.10:
        disease = _pick(rng, SPECIAL_MIX)
    if disease is not None:
        visits = int(year_part * 12 * rng.uniform(0.6, 1.4))
        med, sigma, lo, hi, _, _ = SPECIAL_COST[disease]
        spent = sum(_lognormal_fen(rng, med, sigma, lo, hi) for _ in range(visits))
        sratio = 65 if pack == "anyang" and disease in ("hypertension", "diabetes") else shape["special_ratio"]
        paid = spent * sratio // 100
        if disease in shape["special_caps"]:
            name, cap = shape["special_caps"][disease]
            paid = min(paid, cap)
            if paid:
                counters[name] = paid
        policy_prior += spent
        basic_paid += paid

    cap_table = shape["basic_cap"]
    if shape["basic_cap_2021h1"] and day < dt.date(2021, 7, 1):
        cap_table = shape["basic_cap_2021h1"]
    basic_cap = cap_table[scheme]
    over_cap = max(0, basic_paid - basic_cap)
    basic_paid = min(basic_paid, basic_cap)
    if basic_paid:
        counters["basic.annual"] = basic_paid
    if pack == "anyang" and scheme == "employee" and over_cap:
        counters["large_amount.paid"] = min(400_000_00, over_cap * 90 // 100)

    self_pay = max(0, policy_prior - basic_paid)  # 合规自付 so far
    si_paid = 0
    if self_pay and scheme in shape["si_schemes"]:
        start_pct, si_points, lifted = _si_modifier(pack, scheme, groups)
        start = shape["si_deductible"] * start_pct // 100
        si_paid = _bands_pay(0, self_pay, start, shape["si_bands"][scheme], si_points)
        if not lifted:
            si_paid = min(si_paid, shape["si_cap"])
        counters["serious_illness.base"] = self_pay
        if si_paid:
            counters["serious_illness.paid"] = si_paid

    aid_group = _best_group(pack, groups)
    if aid_group and self_pay:
        left = self_pay - si_paid
        ded = min(left, shape["aid_deductible"].get(aid_group, 0))
        aid = min(shape["aid_cap"], (left - ded) * shape["aid_ratio"][aid_group] // 100)
        if aid:
            counters["medical_aid.paid"] = aid
        if ded:
            counters["medical_aid.deductible_used"] = ded
        if shape["secondary"]:
            threshold, pct, cap = shape["secondary"]
            base = left - aid
            if base:
                counters["secondary_aid.base"] = base
            sec = min(cap, max(0, base - threshold) * pct // 100)
            if sec:
                counters["secondary_aid.paid"] = sec

    # general outpatient (Jiangmen): residents by year, employees by month
    if pack == "jiangmen" and (visit == "general_outpatient" or rng.random() < 0.3):
        if scheme == "resident":
            cap = 320_00 if day.year >= 2022 else 240_00
            used = min(cap, int(year_part * rng.uniform(0, 2.0) * cap))
            if used:
                counters["outpatient.year"] = used
        else:
            used = _pick(rng, [(0, 50), (rng.randint(1, 79_99), 35), (80_00, 15)])
            if used:
                counters[f"outpatient.month@{day:%Y-%m}"] = used

    if scheme == "employee":  # personal-account balance
        med = 8000 if member["member_type"] == "retired" else 3000
        balance = 0 if rng.random() < 0.08 else _lognormal_fen(rng, med, 0.9, 1, 200_000)
        if balance:
            counters["personal_account.balance"] = balance

    if near_caps:
        _push_to_caps(rng, pack, scheme, groups, counters, basic_cap)

    return {
        "member_id": member["id"],
        "year": day.year,
        "admissions": admissions,
        "counters": {k: yuan(v) for k, v in sorted(counters.items())},
    }


def _push_to_caps(rng: random.Random, pack: str, scheme: str, groups: list[str], counters: dict[str, int],
                  basic_cap: int) -> None:
    shape = PACK_SHAPES[pack]
    aid = _best_group(pack, groups) is not None
    capped = [("basic.annual", basic_cap, None)]
    if scheme in shape["si_schemes"]:
        capped.append(("serious_illness.paid", shape["si_cap"], ("serious_illness.base", 2_000_000_00)))
    if aid:
        capped.append(("medical_aid.paid", shape["aid_cap"], None))
        if shape["secondary"]:
            capped.append(("secondary_aid.paid", shape["secondary"][2], ("secondary_aid.base", 400_000_00)))
    if pack == "anyang" and scheme == "employee":
        capped.append(("large_amount.paid", 400_000_00, None))
    for name, cap, base in capped:
        if rng.random() < 0.5:
            counters[name] = max(counters.get(name, 0), cap - rng.randint(0, min(cap, 5_000_00)))
            if base:
                counters[base[0]] = max(counters.get(base[0], 0), base[1])


# --------------------------------------------------------------------------- claims

def _date_in(rng: random.Random, year: int) -> dt.date:
    return dt.date(year, 1, 1) + dt.timedelta(days=rng.randrange(365))


def _region(rng: random.Random, visit: str) -> tuple[str, bool | None]:
    if visit in ("inpatient", "day_surgery"):
        region = _pick(rng, [("local", 90), ("in_province", 6), ("out_of_province", 4)])
    elif visit == "covid_test":
        region = _pick(rng, [("local", 95), ("in_province", 5)])  # out-of-province tests are refused
    else:
        region = _pick(rng, [("local", 96), ("in_province", 3), ("out_of_province", 1)])
    filed = (rng.random() < 0.7) if region == "out_of_province" else None
    return region, filed


def make_claim(rng: random.Random, pack: str, index: int, visit: str, *, year: int | None = None,
               n_items: int | None = None, enrich_groups: bool = False, heavy: bool | None = None,
               near_caps: bool = False, presplit_share: float = 0.2) -> Case:
    """One claim of the given visit kind, with a member and accumulators to match."""
    shape = PACK_SHAPES[pack]
    prefix = {"jiangmen": "jm", "anyang": "ay"}[pack]
    claim_id = f"{prefix}-{visit[:3]}-{index:07d}"
    scheme = "employee" if visit == "maternity" else None
    member = make_member(rng, pack, f"{prefix}-m{index:07d}", scheme=scheme, enrich_groups=enrich_groups)
    if year is None:
        year = _pick(rng, shape["years"])
    region, filed = _region(rng, visit)
    claim: dict = {"id": claim_id, "member": member, "visit": visit}
    disease = None
    items: list[dict]
    default_share = (10, 100) if pack == "jiangmen" else (5, 100)

    if visit in ("inpatient", "day_surgery"):
        claim["level"] = _pick(rng, shape["levels_inpatient"])
        if visit == "inpatient":
            total = _lognormal_fen(rng, 11_000, 0.95, 1_200, 800_000)
            los = round(7 * (total / 1_100_000) ** 0.4 * math.exp(rng.gauss(0, 0.35)))
            los = min(120, max(1, los))
            if n_items is None:
                n_items = round(20 * (total / 300_000) ** 0.5 * rng.uniform(0.7, 1.4))
                n_items = min(300, max(20, n_items))
        else:
            total = _lognormal_fen(rng, 7_000, 0.5, 1_500, 40_000)
            los = rng.choice([0, 0, 1])
            if n_items is None:
                n_items = rng.randint(12, 60)
        discharge = _date_in(rng, year)
        claim["admission_date"] = str(discharge - dt.timedelta(days=los))
        claim["discharge_date"] = str(discharge)
        codes = [_pick(rng, INPATIENT_CODES)] + rng.sample(SECONDARY_CODES, rng.randint(0, 3))
        claim["diagnoses"] = codes
        items = make_items(rng, claim_id, total, n_items)
        presplit = False
    else:
        claim["level"] = _pick(rng, shape["levels_outpatient"])
        claim["date"] = str(_date_in(rng, year))
        if visit == "general_outpatient":
            total = _lognormal_fen(rng, 85, 0.8, 5, 3_000)
            items = make_items(rng, claim_id, total, n_items or rng.randint(1, 8),
                               mix=(("A", 65), ("B", 28), ("C", 7)), kind="outpatient")
            claim["diagnoses"] = [rng.choice(GENERAL_CODES)]
        elif visit == "special_outpatient":
            disease = _pick(rng, SPECIAL_MIX)
            med, sigma, lo, hi, n_lo, n_hi = SPECIAL_COST[disease]
            total = _lognormal_fen(rng, med, sigma, lo, hi)
            items = make_items(rng, claim_id, total, n_items or rng.randint(n_lo, n_hi),
                               mix=(("A", 50), ("B", 45), ("C", 5)), kind="outpatient")
            claim["diagnoses"] = [rng.choice(SPECIAL_CODES[disease])] + rng.sample(SECONDARY_CODES, rng.randint(0, 2))
        elif visit == "maternity":
            service, med = _pick(rng, [(("prenatal_care", 900), 70), (("termination", 800), 10), (("iud", 250), 20)])
            claim["service"] = service
            total = _lognormal_fen(rng, med, 0.5, 50, 5_000)
            items = make_items(rng, claim_id, total, n_items or rng.randint(2, 8),
                               mix=(("A", 70), ("B", 25), ("C", 5)), kind="outpatient")
            claim["diagnoses"] = [{"prenatal_care": "Z34.9", "termination": "O04.9", "iud": "Z30.1"}[service]]
        elif visit == "covid_test":
            price = _pick(rng, [("16.00", 50), ("3.50", 40), ("28.00", 10)])
            items = [{"id": f"{claim_id}-001", "name": "新型冠状病毒核酸检测", "category": "A",
                      "unit_price": price, "quantity": "1"}]
            claim["diagnoses"] = ["Z11.5"]
        else:
            raise ValueError(f"unknown visit kind {visit!r}")
        presplit = rng.random() < presplit_share
    claim["region"] = region
    if filed is not None:
        claim["filed"] = filed
    if presplit:
        claim["bill"] = {k: yuan(v) for k, v in split_items_fen(items, default_share).items()}
    else:
        claim["items"] = items
    claim["_disease"] = disease
    acc = make_accumulators(rng, pack, member, claim, heavy=heavy, near_caps=near_caps)
    del claim["_disease"]
    return Case(pack, claim, acc)


def _rng(seed: int, kind: str, index: int) -> random.Random:
    return random.Random(f"{seed}/{kind}/{index}")


def headline_batch(n: int, seed: int = DEFAULT_SEED, lines: int = 50) -> list[Case]:
    """n Jiangmen inpatient claims of exactly `lines` line items, discharged in 2022 (the headline
    figure: "a 50-line inpatient claim"), with realistic members and accumulators."""
    return [make_claim(_rng(seed, "headline", i), "jiangmen", i, "inpatient", year=2022, n_items=lines)
            for i in range(n)]


def inpatient_batch(n: int, seed: int = DEFAULT_SEED, pack: str = "jiangmen", year: int = 2022,
                    enrich_groups: bool = False, heavy_share: float = 0.02, near_caps_share: float = 0.0) -> list[Case]:
    """n stays (inpatient, and 1 in 10 a day surgery) with 20-300 lines. `enrich_groups` puts half the
    members in an aid group, `heavy_share` makes that share of them heavy users and `near_caps_share`
    starts that share of them close to their caps: for correctness checks rather than for rates."""
    out = []
    for i in range(n):
        rng = _rng(seed, f"stay-{enrich_groups}-{heavy_share}-{near_caps_share}", i)
        visit = "day_surgery" if pack == "jiangmen" and i % 10 == 9 else "inpatient"
        out.append(make_claim(rng, pack, i, visit, year=year, enrich_groups=enrich_groups,
                              heavy=rng.random() < heavy_share, near_caps=rng.random() < near_caps_share))
    return out


def check_batch(n: int, seed: int = DEFAULT_SEED) -> list[Case]:
    """Jiangmen 2022 stays for the baseline's agreement check: half the members in aid groups, 30%
    heavy users, 25% starting near their caps, so that every branch of every layer is met."""
    return inpatient_batch(n, seed, enrich_groups=True, heavy_share=0.3, near_caps_share=0.25)


def presplit_batch(n: int, seed: int = DEFAULT_SEED, *, check: bool = False) -> list[Case]:
    """The Jiangmen 2022 stays of `inpatient_batch(n, seed)` (or of `check_batch(n, seed)` with `check`),
    sent as an already-split bill: the same claims and accumulators, each claim's line items replaced
    by their split (domain.md 6.2, `split_items_fen`, the pack's default B share of 10%)."""
    out = []
    for case in (check_batch(n, seed) if check else inpatient_batch(n, seed)):
        claim = {k: v for k, v in case.claim.items() if k != "items"}
        claim["bill"] = {k: yuan(v) for k, v in split_items_fen(case.claim["items"], (10, 100)).items()}
        out.append(Case(case.pack, claim, case.accumulators))
    return out


def mixed_batch(n: int, seed: int = DEFAULT_SEED, anyang_share: float = 0.2) -> list[Case]:
    """n claims of both packs (`anyang_share` of them Anyang), every visit kind each pack covers, in
    the shares described at the top of this file."""
    out = []
    for i in range(n):
        rng = _rng(seed, "mixed", i)
        pack = "anyang" if rng.random() < anyang_share else "jiangmen"
        visit = _pick(rng, PACK_SHAPES[pack]["visits"])
        out.append(make_claim(rng, pack, i, visit))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", choices=["headline", "mixed", "inpatient", "presplit"], default="mixed")
    ap.add_argument("-n", type=int, default=5)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = ap.parse_args(argv)
    batch = {"headline": headline_batch, "mixed": mixed_batch, "inpatient": inpatient_batch,
             "presplit": presplit_batch}[args.kind](args.n, args.seed)
    try:
        for case in batch:
            sys.stdout.write(json.dumps({"pack": case.pack, "claim": case.claim, "accumulators": case.accumulators},
                                        ensure_ascii=False) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # a reader that stopped early (`| head`): it has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the flush at exit cannot fail again
        sys.exit(1)


if __name__ == "__main__":
    main()
