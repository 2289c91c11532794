"""Fund-impact simulation speed: a Jiangmen 2021 year through the vectorised evaluator
(`benefits.simulate.settle_year`) and, in the same run, a sample of its members through the scalar
engine (`benefits.evaluate`, claim after claim, carrying the accumulators), with their ratio.

    .venv/bin/python bench/simulate_bench.py [--members 100000] [--line-members 10000] [--sample 1500]
    .venv/bin/python bench/simulate_bench.py --memory [--samples 0.01,0.1] [--partition-size 20000]

`--memory`: peak resident memory (VmHWM; Linux) of the whole `benefits simulate` command (input read
in chunks and bucketed by partition on disk, settled and reported partition by partition, per-claim
results appended to Parquet) on several sizes of the synthetic Jiangmen 2021 year (`python -m
benefits.simulate.synthetic write`) with the same partition size, each in a fresh process; also the
process before the command (Python and the imported libraries). The peak above that should not grow
with the year; its ratio between the largest and the smallest year is printed.

Two years are measured:
- pre-split: every claim's bill already split (total, fully self-paid, over-limit, pre-self-paid);
  the issue's target is >= 1,000,000 claims per second per core;
- 50-line: every claim has 50 line items in an items table keyed by claim, split vectorised
  (domain.md 6.2); target >= 200,000 claims per second per core.
"Per core" is claims per second of CPU time of this process, with numpy and pyarrow on one thread
(the machine may be shared; wall-clock rates are printed beside). The scalar sample is settled
with the trace off. The vectorised results of the sampled members are compared with the scalar
engine's, claim by claim; a difference is reported (and the exit status is 1).

The year is synthetic (our assumptions, as bench/generate.py's): 42% employees (30% of them retired),
5% of residents in an aid group, about ten claims a member (general outpatient 55%, 门特 17%, COVID
test 12%, inpatient 10%, day surgery 3%, maternity 3%, employees only), log-normal costs, 2% heavy
users; members open the year with nothing used but their personal-account balance. Money is
drawn as whole fen.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import benefits  # noqa: E402
from benefits.errors import ClaimError  # noqa: E402
from benefits.money import from_fen, to_fen  # noqa: E402
from benefits.simulate import settle_year  # noqa: E402
from benefits.simulate.columns import AFTER, PAID  # noqa: E402

YEAR = 2021
VISITS = np.array(["general_outpatient", "special_outpatient", "covid_test", "inpatient", "day_surgery", "maternity"])
VISIT_SHARE = [0.55, 0.17, 0.12, 0.10, 0.03, 0.03]
MEDIAN_YUAN = np.array([85, 400, 16, 11_000, 7_000, 900])
SIGMA = np.array([0.8, 0.9, 0.0, 0.95, 0.5, 0.5])
DIAGNOSES = np.array(["J06.9", "I10", "E11.9", "C34.9", "N18.5", "Z94.0", "Z11.5", "Z34.9", "J18.9", "I63.9"])
SERVICES = np.array(["prenatal_care", "termination", "iud"])
GROUPS = np.array(["", "dibao", "tuopin", "dishouru", "tekun", "dibao,tuopin"])


def _fen(rng, median_yuan: np.ndarray, sigma: np.ndarray, lo_yuan: float, hi_yuan: float) -> np.ndarray:
    """Log-normal draws as whole fen (money from here on is int64 fen)."""
    draw = median_yuan * np.exp(rng.normal(0.0, 1.0, len(median_yuan)) * sigma)
    return np.rint(np.clip(draw, lo_yuan, hi_yuan) * 100).astype(np.int64)


def make_year(n_members: int, seed: int = 2021) -> dict:
    """A synthetic Jiangmen year as numpy columns (fen), members and claims."""
    rng = np.random.default_rng(seed)
    employee = rng.random(n_members) < 0.42
    retired = employee & (rng.random(n_members) < 0.30)
    member_type = np.where(employee, np.where(retired, "retired", "in_service"),
                           rng.choice(["adult", "child", "student"], n_members, p=[0.6, 0.2, 0.2]))
    groups = np.where(~employee & (rng.random(n_members) < 0.05), rng.choice(GROUPS[1:], n_members), "")
    heavy = rng.random(n_members) < 0.02
    balance = np.where(employee, _fen(rng, np.full(n_members, 3000.0), np.full(n_members, 0.9), 0, 200_000), 0)
    per_member = rng.poisson(9, n_members) + 1 + heavy * 10
    n = int(per_member.sum())
    member = np.repeat(np.arange(n_members), per_member)
    visit = rng.choice(len(VISITS), n, p=VISIT_SHARE)
    visit = np.where((visit == 5) & ~employee[member], 0, visit)  # maternity: employees
    stay = (visit == 3) | (visit == 4)
    median = MEDIAN_YUAN[visit] * np.where(heavy[member] & stay, 8, 1)
    total = _fen(rng, median.astype(float), SIGMA[visit], 5, 800_000)
    total = np.where(visit == 2, rng.choice([1600, 350, 2800], n), total)
    fully = np.where(visit == 2, 0, total * rng.choice([0, 0, 2, 6, 12], n) // 100)
    over = np.where(visit == 2, 0, (total - fully) * rng.choice([0, 0, 0, 3], n) // 100)
    pre = np.where(visit == 2, 0, (total - fully - over) * rng.choice([0, 5, 10, 15], n) // 100)
    day = rng.integers(0, 365, n)
    los = np.where(visit == 3, rng.integers(1, 20, n), rng.integers(0, 2, n))
    diagnosis = np.select([visit == 0, visit == 1, visit == 2, visit == 5],
                          [0, rng.integers(1, 6, n), 6, 7], rng.choice([8, 9, 1, 3], n))
    region = rng.choice(3, n, p=[0.93, 0.05, 0.02])
    region = np.where(visit == 2, np.minimum(region, 1), region)  # tests out of the province are refused
    filed = np.where(region == 2, rng.random(n) < 0.7, False)
    return {"n_members": n_members, "n": n, "member": member, "employee": employee, "member_type": member_type,
            "groups": groups, "age": rng.integers(1, 90, n_members), "balance": balance, "visit": visit,
            "stay": stay, "level": rng.integers(1, 4, n), "region": region, "filed": filed, "day": day,
            "los": los, "diagnosis": diagnosis, "service": rng.integers(0, 3, n), "total": total, "fully": fully,
            "over": over, "pre": pre, "rng": rng}


def _dates(days: np.ndarray, mask: np.ndarray) -> pa.Array:
    base = np.datetime64(f"{YEAR}-01-01")
    return pa.array((base + days.astype("timedelta64[D]")), pa.date32(), mask=mask)


def tables(y: dict, bills: bool = True) -> tuple[pa.Table, pa.Table]:
    n, stay = y["n"], y["stay"]
    ids = pa.array(np.char.add("c", np.char.zfill(np.arange(n).astype(str), 9)))
    cols = {
        "claim_id": ids,
        "member_id": pa.DictionaryArray.from_arrays(pa.array(y["member"].astype(np.int32)), _member_ids(y)),
        "visit": pa.DictionaryArray.from_arrays(pa.array(y["visit"].astype(np.int32)), pa.array(VISITS)),
        "level": pa.array(np.char.add("level", y["level"].astype(str))),
        "region": pa.array(np.array(["local", "in_province", "out_of_province"])[y["region"]]),
        "filed": pa.array(y["filed"], mask=y["region"] != 2),
        "date": _dates(y["day"], stay),
        "admission_date": _dates(np.maximum(0, y["day"] - y["los"]), ~stay),
        "discharge_date": _dates(y["day"], ~stay),
        "diagnosis": pa.array(DIAGNOSES[y["diagnosis"]]),
        "service": pa.array(SERVICES[y["service"]], mask=y["visit"] != 5),
    }
    if bills:
        cols.update(total=pa.array(y["total"]), fully_self_paid=pa.array(y["fully"]), over_limit=pa.array(y["over"]),
                    pre_self_paid=pa.array(y["pre"]))
    members = pa.table({
        "member_id": _member_ids(y),
        "scheme": pa.array(np.where(y["employee"], "employee", "resident")),
        "member_type": pa.array(y["member_type"]), "groups": pa.array(y["groups"]), "age": pa.array(y["age"]),
        "opening.personal_account.balance": pa.array(y["balance"]),
    })
    return pa.table(cols), members


def _member_ids(y: dict) -> pa.Array:
    if "member_ids" not in y:
        y["member_ids"] = pa.array(np.char.add("m", np.char.zfill(np.arange(y["n_members"]).astype(str), 7)))
    return y["member_ids"]


def line_items(y: dict, lines: int = 50) -> dict:
    """`lines` items a claim adding up to about its total: 55% A, 33% B, 12% C; some quantities
    fractional (0.5, 1.5); 6% priced above their payment standard; 35% of B items their own share."""
    rng, n = y["rng"], y["n"]
    k = n * lines
    claim = np.repeat(np.arange(n), lines)
    weight = np.exp(rng.normal(0, 1.2, k))
    share = weight / np.add.reduceat(weight, np.arange(0, k, lines))[claim]
    target = np.maximum(50, (y["total"][claim] * share).astype(np.int64))
    kind = rng.choice(5, k, p=[0.50, 0.33, 0.10, 0.04, 0.03])
    # quantities as written: whole numbers (num / 1), and 0.5 and 1.5 (num / 10)
    qn = np.select([kind == 0, kind == 1, kind == 2, kind == 3], [1, rng.integers(2, 11, k), rng.integers(11, 61, k), 5], 15)
    qd = np.where(kind >= 3, 10, 1)
    price = np.maximum(1, target * qd // qn)
    category = rng.choice(3, k, p=[0.55, 0.33, 0.12])
    r = rng.random(k)
    standard = np.where(r < 0.06, np.maximum(1, price * rng.integers(60, 96, k) // 100),
                        np.where(r < 0.16, price * rng.choice([100, 110, 125], k) // 100, -1))
    standard = np.where(category == 2, -1, standard)
    own = (category == 1) & (rng.random(k) < 0.35)
    sn = np.where(own, rng.choice([5, 8, 10, 15, 20, 30], k), -1)
    return {"claim": claim, "category": category, "price": price, "qn": qn, "qd": qd, "standard": standard,
            "sn": sn, "sd": np.full(k, 100)}


def items_table(y: dict, it: dict, claims: pa.Table) -> pa.Table:
    return pa.table({
        "claim_id": pa.DictionaryArray.from_arrays(pa.array(it["claim"].astype(np.int32)), claims.column("claim_id").combine_chunks()),
        "category": pa.DictionaryArray.from_arrays(pa.array(it["category"].astype(np.int8)), pa.array(["A", "B", "C"])),
        "unit_price": pa.array(it["price"]), "quantity_num": pa.array(it["qn"]), "quantity_den": pa.array(it["qd"]),
        "payment_standard": pa.array(it["standard"], mask=it["standard"] < 0),
        "share_num": pa.array(it["sn"], mask=it["sn"] < 0), "share_den": pa.array(it["sd"], mask=it["sn"] < 0),
    })


# --- the scalar engine on a sample of the same members ----------------------------------------

def claim_dicts(y: dict, rows: np.ndarray, it: dict | None) -> list[dict]:
    """The sampled rows as the engine's claim dicts."""
    base = np.datetime64(f"{YEAR}-01-01")
    levels = ["level1", "level2", "level3"]
    item_rows = None
    if it is not None:
        item_rows = defaultdict(list)
        wanted = set(rows.tolist())
        for i in np.flatnonzero(np.isin(it["claim"], rows)):
            item_rows[int(it["claim"][i])].append(int(i))
        assert wanted >= set(item_rows)
    out = []
    for row in rows.tolist():
        m = int(y["member"][row])
        member = {"id": f"m{m:07d}", "scheme": "employee" if y["employee"][m] else "resident",
                  "member_type": str(y["member_type"][m]), "age": int(y["age"][m]),
                  "groups": [g for g in str(y["groups"][m]).split(",") if g]}
        day = str(base + int(y["day"][row]))
        claim = {"id": f"c{row:09d}", "member": member, "visit": str(VISITS[y["visit"][row]]),
                 "level": levels[y["level"][row] - 1], "region": ["local", "in_province", "out_of_province"][y["region"][row]],
                 "diagnoses": [str(DIAGNOSES[y["diagnosis"][row]])]}
        if y["region"][row] == 2:
            claim["filed"] = bool(y["filed"][row])
        if y["stay"][row]:
            claim["admission_date"] = str(base + int(max(0, y["day"][row] - y["los"][row])))
            claim["discharge_date"] = day
        else:
            claim["date"] = day
        if y["visit"][row] == 5:
            claim["service"] = str(SERVICES[y["service"][row]])
        if item_rows is None:
            t, f, o, p = (int(y[k][row]) for k in ("total", "fully", "over", "pre"))
            claim["bill"] = {"total": from_fen(t), "fully_self_paid": from_fen(f), "over_limit": from_fen(o),
                             "pre_self_paid": from_fen(p), "policy_range": from_fen(t - f - o - p)}
        else:
            claim["items"] = [_item(it, i, k) for k, i in enumerate(item_rows[row])]
        out.append(claim)
    return out


def _item(it: dict, i: int, k: int) -> dict:
    qn, qd = int(it["qn"][i]), int(it["qd"][i])
    item = {"id": f"i{k}", "category": "ABC"[it["category"][i]], "unit_price": from_fen(int(it["price"][i])),
            "quantity": str(qn) if qd == 1 else f"{qn // 10}.{qn % 10}"}
    if it["standard"][i] >= 0:
        item["payment_standard"] = from_fen(int(it["standard"][i]))
    if it["sn"][i] >= 0:
        item["self_pay_share"] = f"0.{int(it['sn'][i]):02d}"
    return item


def scalar_settle(pack, y: dict, members: np.ndarray, it: dict | None) -> tuple[dict, float, float, int]:
    """The sampled members' claims through benefits.evaluate, member by member, in order."""
    rows = np.flatnonzero(np.isin(y["member"], members))
    claims = claim_dicts(y, rows, it)
    by_member = defaultdict(list)
    for claim in claims:
        by_member[claim["member"]["id"]].append(claim)
    settled = {}
    wall, cpu = time.perf_counter(), time.process_time()
    for mid, mine in by_member.items():
        m = int(mid[1:])
        acc = {"member_id": mid, "year": YEAR, "counters": {"personal_account.balance": from_fen(int(y["balance"][m]))}
               if y["balance"][m] else {}}
        mine.sort(key=lambda c: (c.get("discharge_date") or c["date"], c["id"]))
        for claim in mine:
            try:
                s = benefits.evaluate(claim, pack, acc, trace=False)
            except ClaimError:
                settled[claim["id"]] = None
                continue
            acc = s.accumulators_after
            settled[claim["id"]] = s
    return settled, time.perf_counter() - wall, time.process_time() - cpu, len(claims)


def disagreements(results, settled: dict) -> int:
    t = results.table
    ids = t.column("claim_id").to_pylist()
    where = {cid: i for i, cid in enumerate(ids)}
    bad = 0
    cols = {name: t.column(name).to_numpy() for name in t.column_names if name.startswith((PAID, AFTER))
            or name in ("fund_total", "cash", "account", "deductible")}
    for cid, s in settled.items():
        i = where[cid]
        if s is None:
            bad += t.column("status")[i].as_py() != "refused"
            continue
        want = {PAID + p.layer: to_fen(p.paid) for p in s.layers}
        want.update({AFTER + k: to_fen(v) for k, v in s.accumulators_after.counters.items()})
        want.update(fund_total=to_fen(s.fund_total), cash=to_fen(s.patient.cash), account=to_fen(s.patient.account),
                    deductible=to_fen(s.deductible))
        got = {name: int(col[i]) for name, col in cols.items()}
        bad += any(got.get(k, 0) != v for k, v in want.items()) or any(
            v and k.startswith(AFTER) and k not in want for k, v in got.items())
    return bad


def timed(fn, rounds: int) -> tuple[object, float, float]:
    """The result of fn() and the best wall and CPU seconds of `rounds` runs."""
    best_wall = best_cpu = None
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        best_wall = wall if best_wall is None else min(best_wall, wall)
        best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
    return result, best_wall, best_cpu


def report(title: str, n: int, wall: float, cpu: float, target: int, scalar: tuple, bad: int) -> None:
    per_core = n / cpu
    _, s_wall, s_cpu, s_n = scalar
    s_rate = s_n / s_cpu
    ok = "meets" if per_core >= target else "BELOW"
    print(f"{title}: {n:,} claims")
    print(f"  vectorised       {per_core:>12,.0f} claims/s per core  (target >= {target:,}: {ok}; "
          f"{n / wall:,.0f}/s wall, {cpu:.2f} s CPU)")
    print(f"  scalar engine    {s_rate:>12,.0f} claims/s per core  ({s_n:,} claims of the same year, "
          f"{s_n / s_wall:,.0f}/s wall)")
    print(f"  ratio            {per_core / s_rate:>12,.1f}x")
    print(f"  agreement        {s_n - bad:,} of {s_n:,} sampled claims equal the scalar engine's, field by field")


def _vm(field: str) -> int:
    """A VmHWM / VmRSS figure of this process, kB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise OSError(f"no {field} in /proc/self/status")


def memory_child(folder: str, partition_size: int) -> None:
    """One measurement (run in a fresh process): the whole `benefits simulate` command, in this
    process; prints its peak resident memory (MB) and the claims it settled."""
    import json
    import tempfile

    from benefits_cli.app import app

    with tempfile.TemporaryDirectory() as out:
        args = ["simulate", str(Path(folder) / "claims.parquet"), "--members", str(Path(folder) / "members.parquet"),
                "--rules", str(ROOT / "rules" / "jiangmen"), "--out", out, "-f", "csv", "-f", "parquet",
                "--engine", "vector"] + (["--partition-size", str(partition_size)] if partition_size else [])
        base = _vm("VmRSS")
        try:
            app(args, prog_name="benefits", standalone_mode=False)
        except SystemExit as exc:
            if exc.code:
                raise
        import pyarrow.parquet as pq

        claims = pq.ParquetFile(Path(out) / "claims.parquet").metadata.num_rows
    print(json.dumps({"claims": claims, "base": base // 1024, "peak": _vm("VmHWM") // 1024}))


def memory(samples: list[str], partition_size: int, keep: str | None = None) -> int:
    import json
    import subprocess
    import tempfile
    from fractions import Fraction

    from benefits.simulate.synthetic import write_inputs

    print(f"Peak memory of the whole `benefits simulate` command (vectorised engine, one process, per-claim "
          f"Parquet written), partitions of {partition_size:,} claims\n")
    print(f"  {'sample':>7} {'claims':>10} {'input':>9} {'before':>8} {'peak':>8} {'peak - before':>14}")
    above = []
    with tempfile.TemporaryDirectory() as tmp:
        for sample in samples:
            folder = Path(keep or tmp) / sample
            if not (folder / "claims.parquet").is_file():
                write_inputs(Fraction(sample), folder)
            size = sum(f.stat().st_size for f in folder.glob("*.parquet")) // 2**20
            got = subprocess.run([sys.executable, __file__, "--memory-child", str(folder), "--partition-size",
                                  str(partition_size)], capture_output=True, text=True)
            if got.returncode:
                print(got.stdout, got.stderr, file=sys.stderr)
                return 1
            m = json.loads(got.stdout.splitlines()[-1])
            above.append(m["peak"] - m["base"])
            print(f"  {sample:>7} {m['claims']:>10,} {size:>6,} MB {m['base']:>5,} MB {m['peak']:>5,} MB "
                  f"{above[-1]:>11,} MB")
    print(f"\n  peak above the process before the command, largest / smallest year: {above[-1] / above[0]:.2f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--memory", action="store_true", help="measure peak memory on two year sizes instead")
    ap.add_argument("--samples", default="0.01,0.1", help="--memory: the synthetic year's samples")
    ap.add_argument("--partition-size", type=int, default=20_000, help="--memory: claims a partition")
    ap.add_argument("--memory-child", metavar="DIR", help=argparse.SUPPRESS)
    ap.add_argument("--inputs", metavar="DIR", help="--memory: keep the synthetic inputs in DIR/<sample> (reused)")
    ap.add_argument("--members", type=int, default=100_000, help="members of the pre-split year (about 10 claims each)")
    ap.add_argument("--line-members", type=int, default=10_000, help="members of the 50-line year")
    ap.add_argument("--sample", type=int, default=1_500, help="members settled by the scalar engine too")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child, args.partition_size)
        return 0
    if args.memory:
        return memory(args.samples.split(","), args.partition_size, args.inputs)
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    pack = benefits.load_rules(ROOT / "rules" / "jiangmen")
    status = 0
    print(f"Jiangmen {YEAR} (versions 2021-01-01 and 2021-07-01), numpy {np.__version__}, pyarrow {pa.__version__}\n")

    y = make_year(args.members)
    claims, members = tables(y)
    settle_year(pack, claims.slice(0, 20_000), members)  # compile the pack and the common combinations
    results, wall, cpu = timed(lambda: settle_year(pack, claims, members), args.rounds)
    sample = np.arange(min(args.sample, args.members))
    scalar = scalar_settle(pack, y, sample, None)
    bad = disagreements(results, scalar[0])
    report("pre-split year", y["n"], wall, cpu, 1_000_000, scalar, bad)
    print(f"  settled by the scalar engine inside the run: {sum(results.not_vectorised.values()):,}; "
          f"refused: {results.refused:,}\n")
    status |= bad > 0

    y = make_year(args.line_members, seed=50)
    it = line_items(y)
    claims, members = tables(y, bills=False)
    items = items_table(y, it, claims)
    results, wall, cpu = timed(lambda: settle_year(pack, claims, members, items=items), args.rounds)
    sample = np.arange(min(args.sample // 3, args.line_members))
    scalar = scalar_settle(pack, y, sample, it)
    bad = disagreements(results, scalar[0])
    report("50-line year (line items split vectorised)", y["n"], wall, cpu, 200_000, scalar, bad)
    print(f"  line items: {len(it['claim']):,}")
    status |= bad > 0
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
