"""A synthetic Jiangmen 2021 (江门 2021 年基金运行), built to reproduce the city's 2021 bulletin (seed 000).

    python -m benefits.simulate.synthetic report --sample 0.01            # the 1% sample CI runs
    python -m benefits.simulate.synthetic report --sample 1 --workers 2   # the whole city
    python -m benefits.simulate.synthetic write --sample 0.01 --out DIR   # members and claims as Parquet

Members are the bulletin's first table, district by district (174.19万 employees, 246.15万
residents; the district rows add to 174.20万 and 246.13万, the bulletin's rounding), with its 56,365
aid-subsidised members (资助参保) as residents in aid groups, in each district as its aid table says.
Residents' claims of 2021 are drawn from utilisation and cost distributions that are assumptions,
every one written in `ASSUMPTIONS` and docs/simulation.md; one of them, the admission-rate factor
`K_INPATIENT`, is fitted so that the year's simulated resident fund spending (basic fund and serious
illness) comes within 1% of the bulletin's 256,145万. Employees are members without claims (their
fund is not what the questions are about); nothing else is fitted.

Reproducible: every member's claims come from their own random streams, seeded by (SEED, member
id, purpose), so a member's year is the same whatever the sample, and the 1% sample is exactly the
1% of the city's members it names. A sample takes every k-th member (k = 1 / sample) of each
stratum (district x aid or not) in the order of their ids; each sampled member stands for N/n
members of their stratum (`weights`).

`report()` settles the year under rules/jiangmen (first half, then the second half from the
members' accumulators of 30 June, under the pack as is and under a counterfactual pack without the
change of 2021-07-01) and states the figures docs/simulation.md discusses; tests recompute them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..money import round_fraction
from .columns import PAID
from .files import CLAIM_SCHEMA, MEMBER_SCHEMA, ClaimTable, MemberTable
from .results import Results

SEED = 20210701
YEAR = 2021
CHANGE_DAY = dt.date(2021, 7, 1)

# --- the bulletin (seed 000) ----------------------------------------------------------------------

# district: employees (persons), residents (persons), aid-subsidised members (资助参保人数)
DISTRICTS: tuple[tuple[str, str, int, int, int], ...] = (
    ("SZ", "市直", 37_600, 0, 0),
    ("PJ", "蓬江", 448_900, 211_700, 1_475),
    ("JH", "江海", 198_500, 75_600, 1_202),
    ("XH", "新会", 371_300, 423_500, 8_127),
    ("TS", "台山", 183_800, 680_300, 16_648),
    ("KP", "开平", 189_700, 464_700, 13_693),
    ("HS", "鹤山", 206_000, 233_800, 5_475),
    ("EP", "恩平", 106_200, 371_700, 9_745),
)
SEED_RESIDENT_SPENDING_WAN = Decimal("256145")  # 居民医保支出 2021, 万元
SEED_AID = {  # 人次, 万元 (医疗救助情况明细表, 全市)
    "outpatient": (202_073, Decimal("1997.34")),
    "inpatient": (22_062, Decimal("4877.83")),
    "secondary": (18_226, Decimal("761.55")),
}
SEED_AID_MEMBERS = 56_365
PLAN_RESIDENT_INPATIENT_SHARE = Decimal("75")  # seed 003 table 1: 城乡居民政策范围内住院费用基金支付比例 (%)
FIT_TOLERANCE = Decimal("0.01")  # the fit: within 1% of the bulletin (full size)

# --- assumptions (docs/simulation.md lists them with the reasons) ----------------------------------

K_INPATIENT = Decimal("0.862")
"""The one fitted number: every admission rate below is multiplied by it (fitted on the full-size
city so that the resident fund spending comes within 1% of 256,145万)."""

RESIDENT_TYPES = (("child", 12), ("student", 14), ("adult", 74))  # % of residents
ADULT_AGES = (((18, 44), 35), ((45, 59), 27), ((60, 74), 25), ((75, 95), 13))  # % of adult residents
# per age band: admissions a year, 门特 prevalence (%), general-outpatient visits a year
BANDS = {
    "child": (Decimal("0.10"), Decimal("0.2"), Decimal("1.5")),
    "student": (Decimal("0.04"), Decimal("0.1"), Decimal("0.8")),
    "18-44": (Decimal("0.07"), Decimal("1.0"), Decimal("0.8")),
    "45-59": (Decimal("0.13"), Decimal("5.0"), Decimal("1.5")),
    "60-74": (Decimal("0.26"), Decimal("13.0"), Decimal("2.5")),
    "75+": (Decimal("0.40"), Decimal("18.0"), Decimal("3.0")),
}
AID_FACTORS = (Decimal("1.8"), Decimal("1.4"), Decimal("1.5"))  # aid members: x admissions, x prevalence, x visits
AID_GROUPS = ((("dibao",), 55), (("dishouru",), 20), (("tekun",), 12), (("tuopin",), 10), (("dibao", "tuopin"), 2),
              (("guer",), 1))  # % of aid members; 孤儿 are children
EMPLOYEE_RETIRED = 25  # % of employees

LEVELS_STAY = (("level1", 22), ("level2", 48), ("level3", 30))
STAY_MEDIAN = {"level1": 2_800, "level2": 5_500, "level3": 10_500}  # yuan, log-normal medians
STAY_SIGMA = 0.85
CATASTROPHIC = (0.005, 80_000, 0.9)  # share of stays from a heavier log-normal: median yuan, sigma
DAY_SURGERY = (0.05, 5_500, 0.45)  # share of level-2/3 stays that are day surgery; median yuan, sigma
STAY_CLIP = (300, 1_500_000)
STAY_SPLIT = ((0.03, 0.10), (0.0, 0.015), (0.04, 0.10))  # fully self-paid, over-limit (of total), pre-self-paid (of the rest)
SPECIAL = {  # disease: % of 门特 patients, claims a year, median yuan, sigma, levels, ICD-10 codes
    "hypertension": (52, ("poisson", 7), 230, 0.5, (("level1", 60), ("level2", 30), ("level3", 10)), ("I10", "I11.9", "I12.9")),
    "diabetes": (38, ("poisson", 7), 280, 0.5, (("level1", 60), ("level2", 30), ("level3", 10)), ("E11.9", "E11.2", "E14.9")),
    "cancer": (6, ("months", 3, 12), 4_500, 0.8, (("level2", 30), ("level3", 70)), ("C34.9", "C16.9", "C50.9", "C22.0", "C18.7")),
    "uraemia": (1.5, ("months", 12, 12), 5_200, 0.15, (("level2", 40), ("level3", 60)), ("N18.5", "N18.6")),
    "transplant": (0.3, ("months", 12, 12), 2_800, 0.35, (("level3", 100),), ("Z94.0", "Z94.1")),
}
SPECIAL_SPLIT = ((0.0, 0.04), (0.0, 0.0), (0.02, 0.08))
GENERAL = (75, 0.6, (10, 1_500), (("level1", 85), ("level2", 11), ("level3", 4)))  # median, sigma, clip, levels
GENERAL_SPLIT = ((0.0, 0.05), (0.0, 0.0), (0.0, 0.06))
STAY_CODES = ("J18.9", "I63.9", "I25.1", "K80.2", "K35.8", "S72.0", "O80", "N20.0", "J44.1", "I50.9", "M17.9", "H25.9")
GENERAL_CODES = ("J06.9", "J20.9", "K30", "M54.5", "R51", "L30.9", "K52.9")

LEFT_OUT = (
    "COVID-19 vaccines and their administration (seed 000: 52,391.84万 sent to the province in 2021, "
    "46,559.83万 borne to 30 November; part of it the resident fund's)",
    "COVID nucleic-acid tests (9,392.67万 to February 2022 and 3,123.31万 for the June 2021 mass testing, both schemes)",
    "门特 diseases outside the pack's five lists (the provincial list has 52+)",
    "care settled outside the city (8.37万 person-times, 5.42亿 reimbursed, both schemes) and cross-region rules",
    "DIP (按病种分值付费) year-end settlements with hospitals; the city's adjustment fund (市调剂金)",
    "timing: 2021 payments for 2020 care and 2021 care paid in 2022",
)
"""Real resident-fund spending the model does not simulate: its fitted care stands in for them."""

ASSUMPTIONS = {
    "members": "the bulletin's district rows (persons = 万 x 10,000); 56,365 aid members, all residents",
    "resident types": RESIDENT_TYPES, "adult ages": ADULT_AGES, "bands": BANDS, "aid factors": AID_FACTORS,
    "aid groups": AID_GROUPS, "K_INPATIENT": K_INPATIENT, "stay levels": LEVELS_STAY, "stay medians": STAY_MEDIAN,
    "stay sigma": STAY_SIGMA, "catastrophic": CATASTROPHIC, "day surgery": DAY_SURGERY, "stay split": STAY_SPLIT,
    "special": SPECIAL, "general": GENERAL, "dates": "uniform over the year; no seasonality",
    "region": "every claim local (no cross-region care)", "employees": "members without claims",
}


# --- random draws -----------------------------------------------------------------------------


def _pick(rng: random.Random, weighted):
    total = sum(w for _, w in weighted)
    x = rng.random() * total
    for value, w in weighted:
        x -= w
        if x < 0:
            return value
    return weighted[-1][0]


def _poisson(u: float, lam: float) -> int:
    """The Poisson(lam) count whose distribution function first passes u (monotone in lam for a fixed u)."""
    k, p = 0, math.exp(-lam)
    cum = p
    while u > cum and k < 1000:
        k += 1
        p *= lam / k
        cum += p
    return k


def _fen(rng: random.Random, median: float, sigma: float, lo: float, hi: float) -> int:
    return round(min(hi, max(lo, median * math.exp(rng.gauss(0.0, sigma)))) * 100)


def _day(rng: random.Random) -> dt.date:
    return dt.date(YEAR, 1, 1) + dt.timedelta(days=rng.randrange(365))


def _split(rng: random.Random, total: int, shares) -> tuple[int, int, int, int, int]:
    (f0, f1), (o0, o1), (p0, p1) = shares
    fully = round(total * rng.uniform(f0, f1))
    over = round(total * rng.uniform(o0, o1))
    pre = round((total - fully - over) * rng.uniform(p0, p1))
    return total, fully, over, pre, total - fully - over - pre


# --- members and claims ---------------------------------------------------------------------------


@dataclass
class District:
    code: str
    name: str
    members: list[dict] = field(default_factory=list)
    claims: list[dict] = field(default_factory=list)
    weight: dict[str, Fraction] = field(default_factory=dict)  # member id -> members it stands for
    stratum: dict[str, str] = field(default_factory=dict)  # member id -> stratum


def _band(member: dict) -> str:
    if member["member_type"] in ("child", "student"):
        return member["member_type"]
    age = member["age"]
    return "18-44" if age < 45 else "45-59" if age < 60 else "60-74" if age < 75 else "75+"


def district(index: int, sample: Fraction = Fraction(1), seed: int = SEED) -> District:
    """One district's sampled members and their 2021 claims."""
    code, name, employees, residents, aid = DISTRICTS[index]
    step = int(1 / sample)
    if Fraction(1, step) != sample:
        raise ValueError(f"a sample is 1 / a whole number (0.01, 0.1, 1), got {sample}")
    out = District(code, name)
    perm = np.random.default_rng([seed, index]).permutation(residents)
    aid_ks = np.sort(perm[:aid])
    other_ks = np.sort(perm[aid:])
    for stratum, ks, is_aid in (("aid", aid_ks, True), ("resident", other_ks, False)):
        chosen = ks[::step].tolist()
        for k in chosen:
            m = _resident(f"JM{code}R{k:07d}", is_aid, seed)
            out.members.append(m)
            out.weight[m["member_id"]] = Fraction(len(ks), len(chosen))
            out.stratum[m["member_id"]] = f"{code}:{stratum}"
            out.claims += _claims(m, is_aid, seed)
    chosen = range(employees)[::step]
    for k in chosen:
        m = _employee(f"JM{code}E{k:07d}", seed)
        m["district"] = name
        out.members.append(m)
        out.weight[m["member_id"]] = Fraction(employees, len(chosen))
        out.stratum[m["member_id"]] = f"{code}:employee"
    for m in out.members:
        m["district"] = name
    return out


def _resident(member_id: str, aid: bool, seed: int) -> dict:
    rng = random.Random(f"{seed}:{member_id}:member")
    groups: tuple[str, ...] = _pick(rng, AID_GROUPS) if aid else ()
    kind = "child" if groups == ("guer",) else _pick(rng, RESIDENT_TYPES)
    if kind == "child":
        age = rng.randint(0, 17)
    elif kind == "student":
        age = rng.randint(6, 22)
    else:
        lo, hi = _pick(rng, ADULT_AGES)
        age = rng.randint(lo, hi)
    return {"member_id": member_id, "scheme": "resident", "member_type": kind, "groups": list(groups), "age": age}


def _employee(member_id: str, seed: int) -> dict:
    rng = random.Random(f"{seed}:{member_id}:member")
    retired = rng.random() * 100 < EMPLOYEE_RETIRED
    return {"member_id": member_id, "scheme": "employee", "member_type": "retired" if retired else "in_service",
            "groups": [], "age": rng.randint(55, 90) if retired else rng.randint(18, 60)}


def _claim(member: dict, cid: str, visit: str, level: str, parts, code: str, **dates) -> dict:
    total, fully, over, pre, policy = parts
    return {"claim_id": cid, "member_id": member["member_id"], "visit": visit, "level": level, "region": "local",
            "filed": None, "date": dates.get("date"), "admission_date": dates.get("admission_date"),
            "discharge_date": dates.get("discharge_date"), "diagnosis": code, "service": None,
            "total": total, "fully_self_paid": fully, "over_limit": over, "pre_self_paid": pre, "policy_range": policy}


def _claims(member: dict, aid: bool, seed: int) -> list[dict]:
    """A resident's 2021: stays, 门特 visits and general-outpatient visits, each kind from its own stream."""
    mid = member["member_id"]
    inp, prev, gen = BANDS[_band(member)]
    if aid:
        inp, prev, gen = inp * AID_FACTORS[0], prev * AID_FACTORS[1], gen * AID_FACTORS[2]
    out = []
    # stays
    rng = random.Random(f"{seed}:{mid}:stays")
    n = _poisson(rng.random(), float(inp * K_INPATIENT))
    for j in range(n):
        level = _pick(rng, LEVELS_STAY)
        visit = "inpatient"
        if level != "level1" and rng.random() < DAY_SURGERY[0]:
            visit = "day_surgery"
            total = _fen(rng, DAY_SURGERY[1], DAY_SURGERY[2], *STAY_CLIP)
            los = rng.choice((0, 1))
        else:
            if rng.random() < CATASTROPHIC[0]:
                total = _fen(rng, CATASTROPHIC[1], CATASTROPHIC[2], *STAY_CLIP)
            else:
                total = _fen(rng, STAY_MEDIAN[level], STAY_SIGMA, *STAY_CLIP)
            los = max(1, min(120, round(total / 110_000 * math.exp(rng.gauss(0.0, 0.35)))))
        discharge = _day(rng)
        out.append(_claim(member, f"{mid}-S{j + 1:02d}", visit, level, _split(rng, total, STAY_SPLIT),
                          rng.choice(STAY_CODES), admission_date=discharge - dt.timedelta(days=los),
                          discharge_date=discharge))
    # 门特
    rng = random.Random(f"{seed}:{mid}:special")
    if rng.random() * 100 < float(prev):
        disease = _pick(rng, [(d, s[0]) for d, s in SPECIAL.items()])
        _, how, median, sigma, levels, codes = SPECIAL[disease]
        code, level = rng.choice(codes), _pick(rng, levels)
        if how[0] == "poisson":
            days = sorted(_day(rng) for _ in range(max(1, _poisson(rng.random(), how[1]))))
        else:
            months = rng.randint(how[1], how[2])
            first = rng.randint(1, 13 - months)
            days = [dt.date(YEAR, first + m, rng.randint(1, 28)) for m in range(months)]
        for j, day in enumerate(days):
            total = _fen(rng, median, sigma, 20, 200_000)
            out.append(_claim(member, f"{mid}-T{j + 1:02d}", "special_outpatient", level,
                              _split(rng, total, SPECIAL_SPLIT), code, date=day))
    # general outpatient
    rng = random.Random(f"{seed}:{mid}:general")
    median, sigma, (lo, hi), levels = GENERAL
    for j in range(_poisson(rng.random(), float(gen))):
        total = _fen(rng, median, sigma, lo, hi)
        out.append(_claim(member, f"{mid}-G{j + 1:02d}", "general_outpatient", _pick(rng, levels),
                          _split(rng, total, GENERAL_SPLIT), rng.choice(GENERAL_CODES), date=_day(rng)))
    return out


def tables(d: District) -> tuple[ClaimTable, MemberTable]:
    """A district's claims and members as the checked tables `benefits simulate` reads."""
    claims = pa.Table.from_pylist(d.claims, schema=CLAIM_SCHEMA)
    schema = pa.schema(list(MEMBER_SCHEMA) + [pa.field("district", pa.string())])
    rows = [{**m, "admissions": 0} for m in d.members]
    members = pa.Table.from_pylist(rows, schema=schema)
    name = f"synthetic {d.name}"
    return (ClaimTable(f"{name} claims", "row", claims, np.arange(1, claims.num_rows + 1, dtype=np.int64)),
            MemberTable(f"{name} members", "row", members, np.arange(1, members.num_rows + 1, dtype=np.int64)))


# --- settling the year ------------------------------------------------------------------------------


@dataclass
class DistrictRun:
    """One district's year: H1 under the pack, H2 under the pack (A) and the counterfactual (B)."""

    district: District
    members: MemberTable
    h1: ClaimTable
    h2: ClaimTable
    r1: Results
    r2a: Results
    r2b: Results
    opening_h2: MemberTable
    r2_only: dict[str, Results] = field(default_factory=dict)  # parameter -> H2 with only its change undone


def _halves(claims: ClaimTable) -> tuple[ClaimTable, ClaimTable]:
    t = claims.table
    visit = t.column("visit").to_pylist()
    date = t.column("date").to_pylist()
    dis = t.column("discharge_date").to_pylist()
    days = [dis[i] if visit[i] in ("inpatient", "day_surgery") else date[i] for i in range(t.num_rows)]
    first = np.array([d < CHANGE_DAY for d in days], dtype=bool)
    out = []
    for mask in (first, ~first):
        idx = np.flatnonzero(mask)
        out.append(ClaimTable(claims.name, claims.unit, t.take(pa.array(idx)), claims.rows[idx]))
    return out[0], out[1]


def run_district(d: District, pack, pack_dir: str, cf_pack, cf_dir: str, *, engine: str = "auto",
                 workers: int = 1, progress=None, keep_claims: bool = True,
                 singles: dict[str, tuple] | None = None) -> DistrictRun:
    """Settle one district's year: H1 under the pack; H2 from the members' accumulators of 30 June
    under the pack, the counterfactual and each of `singles` ({parameter: (pack, folder)}, packs
    with only that parameter's change undone)."""
    from .runner import simulate
    from .scalar import closing_accumulators

    claims, members = tables(d)
    if not keep_claims:
        d.claims = []  # the tables hold them now
    h1, h2 = _halves(claims)
    kw = dict(year=YEAR, engine=engine, workers=workers, progress=progress)
    r1 = simulate(pack, pack_dir, h1, members, **kw)
    opening = closing_accumulators(r1, members.table)
    opening = opening.select([c for c in opening.column_names if c != "district"]).append_column(
        "district", members.table.column("district"))
    m2 = MemberTable(members.name, members.unit, opening, members.rows)
    r2a = simulate(pack, pack_dir, h2, m2, **kw)
    r2b = simulate(cf_pack, cf_dir, h2, m2, **kw)
    only = {name: simulate(p, str(folder), h2, m2, **kw) for name, (p, folder) in (singles or {}).items()}
    return DistrictRun(d, members, h1, h2, r1, r2a, r2b, m2, only)


# --- the figures ------------------------------------------------------------------------------------

WAN = Decimal(1_000_000)  # fen in 1万元


def wan(fen: Fraction | int) -> Decimal:
    """Fen (possibly a weighted fraction) as 万元, rounded half up to 0.01万 (100 yuan)."""
    f = Fraction(fen) / 1_000_000
    return round_fraction(f.numerator, f.denominator, 2)


def _nearest_root(x: Fraction) -> int:
    """The square root of x >= 0 to the nearest whole number, halves up, exactly."""
    k = math.isqrt(math.floor(x))
    return k + 1 if x >= (k + Fraction(1, 2)) ** 2 else k


def _count(x: Fraction) -> int:
    return int((x * 2 + 1) // 2)  # half up


def fund_layers(pack, code: str) -> list[str]:
    """The layers reporting to fund `code` (fund_pay_type) for residents."""
    return [layer.id for layer in pack.layers if layer.fund_code.get("resident") == code]


@dataclass
class Figures:
    """Every figure the report states, on the city's scale (sample totals x N/n per stratum)."""

    sample: Fraction
    members: dict[str, int]
    claims: dict[str, int]
    resident_spending_fen: dict[str, Fraction]  # fund layer -> weighted fen (390100 and 390200 layers)
    resident_spending_se_fen: Decimal
    aid: dict[str, tuple[Fraction, Fraction]]  # outpatient / inpatient / secondary -> (person-times, fen)
    inpatient_share: dict[str, Fraction]  # basic / serious_illness / policy_range, resident stays
    h2_change: dict[str, Fraction]  # A - B per fund code and patient
    h2_claims_changed: Fraction
    h2_change_only: dict[str, Fraction] = field(default_factory=dict)  # parameter -> resident fund A - (only it undone)
    h1_identical: bool = False  # the counterfactual differs from the pack only from 2021-07-01 on (rules diff)
    counterfactual: list[tuple[str, str, str]] = field(default_factory=list)  # (parameter, as is, counterfactual)
    notes: list[str] = field(default_factory=list)

    @property
    def resident_spending(self) -> Decimal:
        return wan(sum(self.resident_spending_fen.values(), Fraction(0)))

    @property
    def fit(self) -> Decimal:
        """Simulated / bulletin - 1, in percent (2 decimals)."""
        f = (Fraction(self.resident_spending) / Fraction(SEED_RESIDENT_SPENDING_WAN) - 1) * 100
        return round_fraction(f.numerator, f.denominator, 2)

    @property
    def tolerance(self) -> Decimal:
        """What the fit may be off by at this sample size, in percent: 1% + 3 standard errors."""
        se = Fraction(self.resident_spending_se_fen) / Fraction(WAN) / Fraction(SEED_RESIDENT_SPENDING_WAN) * 100
        f = Fraction(FIT_TOLERANCE) * 100 + 3 * se
        return round_fraction(f.numerator, f.denominator, 2)

    def share(self, with_serious_illness: bool) -> Decimal:
        paid = self.inpatient_share["basic"] + (self.inpatient_share["serious_illness"] if with_serious_illness else 0)
        f = paid / self.inpatient_share["policy_range"] * 100
        return round_fraction(f.numerator, f.denominator, 2)

    def as_dict(self) -> dict:
        """The stated figures: 万元 with two decimals, counts rounded to whole persons and person-times."""
        return {
            "sample": str(self.sample),
            "members": self.members,
            "claims": self.claims,
            "resident_fund_spending_wan": str(self.resident_spending),
            "resident_fund_spending_by_layer_wan": {k: str(wan(v)) for k, v in self.resident_spending_fen.items()},
            "bulletin_resident_fund_spending_wan": str(SEED_RESIDENT_SPENDING_WAN),
            "fit_percent": str(self.fit),
            "fit_tolerance_percent": str(self.tolerance),
            "standard_error_wan": str(wan(Fraction(self.resident_spending_se_fen))),
            "aid": {k: {"person_times": _count(n), "wan": str(wan(f)), "bulletin_person_times": SEED_AID[k][0],
                        "bulletin_wan": str(SEED_AID[k][1])} for k, (n, f) in self.aid.items()},
            "resident_inpatient_share_percent": {"basic_and_serious_illness": str(self.share(True)),
                                                 "basic_only": str(self.share(False)),
                                                 "plan": str(PLAN_RESIDENT_INPATIENT_SHARE)},
            "h2_cost_of_2021_07_01_wan": {k: str(wan(v)) for k, v in self.h2_change.items()},
            "h2_claims_changed": _count(self.h2_claims_changed),
            "h2_resident_fund_cost_of_each_change_alone_wan": {k: str(wan(v)) for k, v in self.h2_change_only.items()},
            "h1_identical": self.h1_identical,
            "counterfactual": [list(c) for c in self.counterfactual],
        }


@dataclass
class Partial:
    """One district's sums, in fen and claims, per stratum (weights are per stratum: sum, then weigh)."""

    weights: dict[str, Fraction]  # stratum -> members each sampled member stands for
    sums: dict[tuple[str, str], int]  # (stratum, what) -> integer sum
    claims: dict[str, int]  # visit kind -> claims settled in the sample
    sampled: int
    variance: Fraction  # of the estimated resident spending (fen^2)


def _strata_index(run: DistrictRun, member_ids: list[str], names: list[str]) -> np.ndarray:
    at = {s: k for k, s in enumerate(names)}
    stratum = run.district.stratum
    return np.fromiter((at[stratum[m]] for m in member_ids), dtype=np.int64, count=len(member_ids))


def partial(run: DistrictRun, pack) -> Partial:
    """The sums the figures are made of, for one district (integer fen and counts, per stratum)."""
    d = run.district
    names = sorted(set(d.stratum.values()))
    weights = {s: next(d.weight[m] for m, t in d.stratum.items() if t == s) for s in names}
    groups = {"390100": fund_layers(pack, "390100"), "390200": fund_layers(pack, "390200"),
              "610100": fund_layers(pack, "610100"), "610102": fund_layers(pack, "610102")}
    sums: dict[tuple[str, str], int] = {}

    def add(what: str, idx: np.ndarray, values: np.ndarray) -> None:
        per = np.zeros(len(names), dtype=np.int64)
        np.add.at(per, idx, values.astype(np.int64))
        for k, v in enumerate(per):
            sums[(names[k], what)] = sums.get((names[k], what), 0) + int(v)

    claims: dict[str, int] = {}
    member_ids = [m["member_id"] for m in d.members]
    per_member = dict.fromkeys(member_ids, 0)
    for part, res in ((run.h1, run.r1), (run.h2, run.r2a)):
        t = res.table
        mids = t.column("member_id").to_pylist()
        idx = _strata_index(run, mids, names)
        settled = np.array(t.column("status").to_pylist(), dtype=object) == "settled"
        visit = np.array(part.table.column("visit").to_pylist(), dtype=object)
        for v in sorted(set(visit[settled])):
            claims[v] = claims.get(v, 0) + int((settled & (visit == v)).sum())
        paid = {layer: np.where(settled, t.column(PAID + layer).to_numpy(), 0) for layer in res.layers}
        stay = np.isin(visit, ("inpatient", "day_surgery")) & settled
        resident_fund = np.zeros(t.num_rows, dtype=np.int64)
        for code in ("390100", "390200"):
            for layer in groups[code]:
                add(f"spend:{layer}", idx, paid[layer])
                resident_fund += paid[layer]
        for m, v in zip(mids, resident_fund.tolist()):
            per_member[m] += v
        for layer in groups["610100"]:
            hit = paid[layer] > 0
            add("aid:inpatient:n", idx, hit & stay)
            add("aid:inpatient:fen", idx, np.where(stay, paid[layer], 0))
            add("aid:outpatient:n", idx, hit & ~stay)
            add("aid:outpatient:fen", idx, np.where(stay, 0, paid[layer]))
        for layer in groups["610102"]:
            add("aid:secondary:n", idx, paid[layer] > 0)
            add("aid:secondary:fen", idx, paid[layer])
        add("share:basic", idx, np.where(stay, sum(paid[layer] for layer in groups["390100"]), 0))
        add("share:serious_illness", idx, np.where(stay, sum(paid[layer] for layer in groups["390200"]), 0))
        add("share:policy_range", idx, np.where(stay, t.column("policy_range").to_numpy(), 0))
    ta, tb = run.r2a.table, run.r2b.table
    idx = _strata_index(run, ta.column("member_id").to_pylist(), names)
    for code, layers in groups.items():
        for layer in layers:
            add(f"change:{code}", idx, ta.column(PAID + layer).to_numpy() - tb.column(PAID + layer).to_numpy())
    add("change:patient", idx, ta.column("patient").to_numpy() - tb.column("patient").to_numpy())
    add("changed", idx, ta.column("fund_total").to_numpy() != tb.column("fund_total").to_numpy())
    for name, res in run.r2_only.items():
        to = res.table
        for layer in groups["390100"] + groups["390200"]:
            add(f"only:{name}", idx, ta.column(PAID + layer).to_numpy() - to.column(PAID + layer).to_numpy())
    return Partial(weights, sums, claims, len(d.members), _spending_variance(d, names, weights, per_member))


def _spending_variance(d, names: list[str], weights: dict, per_member: dict[str, int]) -> Fraction:
    """The variance of the estimated resident fund spending (stratified sampling without replacement:
    N^2 (1 - n/N) s^2 / n per resident stratum, from each sampled member's fen)."""
    variance = Fraction(0)
    for s in names:
        if s.endswith(":employee"):
            continue
        ys = [per_member[m] for m, t in d.stratum.items() if t == s]
        n = len(ys)
        big_n = weights[s] * n
        if n < 2 or big_n == n:
            continue
        mean = Fraction(sum(ys), n)
        s2 = sum((Fraction(y) - mean) ** 2 for y in ys) / (n - 1)
        variance += big_n * big_n * (1 - Fraction(n) / big_n) * s2 / n
    return variance


def figures(parts: list[Partial], pack, sample: Fraction) -> Figures:
    """The stated figures from the districts' sums: each stratum's sum times its weight, added up."""
    def total(what: str) -> Fraction:
        return sum((p.weights[s] * v for p in parts for (s, w), v in p.sums.items() if w == what), Fraction(0))

    layers = fund_layers(pack, "390100") + fund_layers(pack, "390200")
    spending = {layer: total(f"spend:{layer}") for layer in layers}
    aid = {k: (total(f"aid:{k}:n"), total(f"aid:{k}:fen")) for k in SEED_AID}
    share = {k: total(f"share:{k}") for k in ("basic", "serious_illness", "policy_range")}
    change = {code: total(f"change:{code}") for code in ("390100", "390200", "610100", "610102", "patient")}
    change["resident_fund"] = change["390100"] + change["390200"]
    names = sorted({w[5:] for p in parts for (_, w) in p.sums if w.startswith("only:")})
    only = {name: total(f"only:{name}") for name in names}
    claims: dict[str, int] = {}
    for p in parts:
        for k, v in p.claims.items():
            claims[k] = claims.get(k, 0) + v
    variance = sum((p.variance for p in parts), Fraction(0))
    se = Decimal(_nearest_root(variance))
    members = {"residents": sum(r[3] for r in DISTRICTS), "employees": sum(r[2] for r in DISTRICTS),
               "aid": sum(r[4] for r in DISTRICTS), "sampled": sum(p.sampled for p in parts)}
    return Figures(sample, members, dict(sorted(claims.items())), spending, se, aid, share, change, total("changed"),
                   h2_change_only=only)


def report(sample: Fraction | str | float = Fraction(1, 100), *, pack_dir: str = "rules/jiangmen", workers: int = 1,
           engine: str = "auto", seed: int = SEED, keep: bool = False, progress=None, log=None
           ) -> tuple[Figures, list[DistrictRun]]:
    """Generate the city (or a sample), settle 2021 and compute the figures. `keep` returns the
    district runs (for tests that recompute the figures), else an empty list."""
    from ..rules.diff import diff_packs
    from ..rules.loader import load_rules
    from .compare import pack_without_change

    sample = Fraction(str(sample)) if not isinstance(sample, Fraction) else sample
    pack = load_rules(pack_dir)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        cf_dir, changed = pack_without_change(pack_dir, Path(tmp) / Path(pack_dir).name, CHANGE_DAY,
                                              "the change of 2021-07-01 undone")
        cf_pack = load_rules(cf_dir)
        diff = diff_packs(pack, cf_pack)
        changes = [(p.name, c.a.value, c.b.value) for p in diff.parameters for c in p.changes]
        # the first half settles alike under both packs when they differ only from 2021-07-01 on
        h1_identical = not diff.pack and not diff.layers and all(c.start >= CHANGE_DAY for p in diff.parameters
                                                                 for c in p.changes)
        singles = {}
        for k, name in enumerate(changed if len(changed) > 1 else []):
            folder, _ = pack_without_change(pack_dir, Path(tmp) / f"only{k}" / Path(pack_dir).name, CHANGE_DAY,
                                            f"only the change of 2021-07-01 to {name} undone", only={name})
            singles[name] = (load_rules(folder), folder)
        parts = []
        for index in range(len(DISTRICTS)):
            started = time.perf_counter()
            d = district(index, sample, seed)
            if not d.claims:
                continue
            n = len(d.claims)
            run = run_district(d, pack, pack_dir, cf_pack, str(cf_dir), engine=engine, workers=workers,
                               progress=progress, keep_claims=keep, singles=singles)
            parts.append(partial(run, pack))
            if log is not None:
                log(f"{d.name}: {n:,} claims generated and settled (H1, H2 twice) in {time.perf_counter() - started:.0f} s")
            if keep:
                runs.append(run)
            del run, d  # the whole city does not fit in memory at once: one district at a time
        figs = figures(parts, pack, sample)
    figs.h1_identical = h1_identical
    figs.counterfactual = changes
    figs.notes.append("counterfactual pack: " + "; ".join(f"{n} of 2021-07-01 {a} -> {b}" for n, a, b in changes)
                      + " (the 2021-01-01 values)")
    return figs, (runs if keep else [])


def markdown(f: Figures) -> str:
    d = f.as_dict()
    lines = [f"# Synthetic Jiangmen 2021 (sample {d['sample']})", "",
             f"Members: {d['members']['residents']:,} residents, {d['members']['employees']:,} employees, "
             f"{d['members']['aid']:,} in aid groups; {d['members']['sampled']:,} sampled.",
             "Claims settled (sample): " + ", ".join(f"{k} {v:,}" for k, v in d["claims"].items()), "",
             "| figure | simulated | bulletin / plan |", "|---|---:|---:|",
             f"| resident fund spending, 万元 (basic fund + serious illness) | {d['resident_fund_spending_wan']} | "
             f"{d['bulletin_resident_fund_spending_wan']} |",
             f"| fit (simulated / bulletin - 1) | {d['fit_percent']}% | within ±{d['fit_tolerance_percent']}% |"]
    for layer, v in d["resident_fund_spending_by_layer_wan"].items():
        lines.append(f"| of which {layer}, 万元 | {v} | |")
    names = {"outpatient": "outpatient aid", "inpatient": "inpatient aid", "secondary": "secondary aid"}
    for k, v in d["aid"].items():
        lines.append(f"| {names[k]}, person-times | {v['person_times']:,} | {v['bulletin_person_times']:,} |")
        lines.append(f"| {names[k]}, 万元 | {v['wan']} | {v['bulletin_wan']} |")
    s = d["resident_inpatient_share_percent"]
    lines.append(f"| resident policy-range inpatient fund share (basic + serious illness) | {s['basic_and_serious_illness']}% | {s['plan']}% |")
    lines.append(f"| the same, basic fund only | {s['basic_only']}% | |")
    c = d["h2_cost_of_2021_07_01_wan"]
    lines += ["", "Cost of the 2021-07-01 change (resident cap 20万 -> 30万, level-2 ratio 75% -> 80%), H2 2021, "
                  "万元 (as is minus counterfactual):", "",
              f"- resident fund: {c['resident_fund']} (basic fund 390100: {c['390100']}, serious illness 390200: {c['390200']})",
              f"- medical aid 610100: {c['610100']}; secondary aid 610102: {c['610102']}; patients: {c['patient']}",
              f"- claims whose payout changed: {d['h2_claims_changed']:,}"]
    for name, v in d["h2_resident_fund_cost_of_each_change_alone_wan"].items():
        lines.append(f"- resident fund, the change of {name} alone (as is minus the pack with only it undone): {v}")
    lines += [f"- {n}" for n in f.notes]
    lines += ["", "The bulletin's 256,145万 is all the resident fund spent; the model simulates the care above only, "
                  "so that care stands in for what it leaves out:"]
    lines += [f"- {n}" for n in LEFT_OUT]
    return "\n".join(lines)


def write_inputs(sample: Fraction, out: Path, seed: int = SEED) -> tuple[Path, Path]:
    """The city's (or a sample's) members and claims as Parquet files `benefits simulate` reads:
    money as decimal128(18, 2) yuan, dates as date32."""
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    claim_parts, member_parts = [], []
    for index in range(len(DISTRICTS)):
        c, m = tables(district(index, sample, seed))
        claim_parts.append(c.table)
        member_parts.append(m.table)
    claims = pa.concat_tables(claim_parts)
    for b in ("total", "fully_self_paid", "over_limit", "pre_self_paid", "policy_range"):
        yuan = pa.array([Decimal(int(v)).scaleb(-2) for v in claims.column(b).to_numpy()], pa.decimal128(18, 2))
        claims = claims.set_column(claims.column_names.index(b), b, yuan)
    members = pa.concat_tables(member_parts).drop_columns(["admissions"])
    pq.write_table(claims, out / "claims.parquet")
    pq.write_table(members, out / "members.parquet")
    return out / "claims.parquet", out / "members.parquet"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benefits.simulate.synthetic", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("report", help="settle the synthetic 2021 and print the figures (Markdown, or JSON)")
    r.add_argument("--sample", default="0.01", help="1 / a whole number: 0.01 (default), 0.1, 1 (the city)")
    r.add_argument("--workers", type=int, default=1)
    r.add_argument("--engine", default="auto", choices=["auto", "vector", "scalar"])
    r.add_argument("--rules", default="rules/jiangmen")
    r.add_argument("--json", action="store_true")
    w = sub.add_parser("write", help="write members.parquet and claims.parquet for `benefits simulate`")
    w.add_argument("--sample", default="0.01")
    w.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    sample = Fraction(args.sample)
    if args.command == "write":
        for p in write_inputs(sample, Path(args.out)):
            print(p)
        return 0
    started = time.perf_counter()
    figs, _ = report(sample, pack_dir=args.rules, workers=args.workers, engine=args.engine,
                     log=lambda text: print(text, file=sys.stderr, flush=True))
    print(f"{time.perf_counter() - started:.0f} s in all", file=sys.stderr)
    if args.json:
        import json

        print(json.dumps(figs.as_dict(), ensure_ascii=False, indent=2))
    else:
        print(markdown(figs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
