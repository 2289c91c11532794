"""Where one evaluation's time goes, stage by stage, beside the budget target (c) of section 9 allows.

Target (c) asks the engine, from validated models with the trace off, for half the rate of
`baseline_fen.py` on items parsed beforehand: a budget per claim of twice the baseline's time. This
script times, in one process, the stages `benefits.calculator._evaluate` runs (the same functions,
called in the same order, each timed alone), and the baseline, on the same claims:

    .venv/bin/python bench/stages.py              # 300 claims of 50 lines and 300 pre-split, about 10 s
    .venv/bin/python bench/stages.py -n 1000

The stage "settlement" is writing the public result: the `Settlement` and `Accumulators` models,
the bill split, the patient's part, every amount as `Decimal`. Its cost is set by the public types
(pydantic models with `Decimal` fields), not by the arithmetic; the bill split's cost is set by the
line items. Their sum beside the budget says how far tuning alone can go. Whole loops are timed
in CPU time, stages in wall time (reading the CPU clock costs about a microsecond); each figure is
the fastest of 5 rounds; read them as proportions (the machine is shared).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import baseline_fen  # noqa: E402
import generate  # noqa: E402

import benefits  # noqa: E402
from benefits import calculator as calc  # noqa: E402
from benefits.calculator.bill import split_bill  # noqa: E402
from benefits.calculator.shape import shape_of  # noqa: E402
from benefits.kinds import State  # noqa: E402
from benefits.money import to_fen  # noqa: E402

STAGES = ("shape and checks", "bill split", "layers", "settlement")


def _stages(claim, pack, acc, clock, spent: dict) -> None:
    """One evaluation from validated models, trace off, as `_evaluate` runs it, each stage timed."""
    t0 = clock()
    day = claim.settlement_date if pack.meta.deciding_date == "settlement" else claim.start_date
    disease = pack.disease_of(claim.diagnoses)
    shape = shape_of(claim, pack, day, disease)
    version = pack.version_for(day)
    calc._check_accumulators(acc, claim, pack, day.year)
    counters = {k: to_fen(v) for k, v in acc.counters.items()}
    calc._check_counter_bounds(counters, pack, shape.limits)
    t1 = clock()
    bill, items = split_bill(claim, pack.param(pack.meta.default_b_share, day), None)
    t2 = clock()
    st = State(claim, pack, day, shape.fact, shape.fired, pack.values_on(day), dict(counters), acc.admissions,
               bill, None)
    paid = calc._pay_layers(st)
    t3 = clock()
    calc._settlement(claim, pack, version.start, day, bill, items, acc, counters, st, paid)
    t4 = clock()
    for name, a, b in zip(STAGES, (t0, t1, t2, t3), (t1, t2, t3, t4)):
        spent[name] += b - a


def measure(cases, pack, rounds: int = 5) -> dict[str, float]:
    """Microseconds per claim: each stage, the whole evaluation, and baseline_fen; the fastest round."""
    models = [(benefits.Claim.model_validate(c.claim), benefits.Accumulators.model_validate(c.accumulators))
              for c in cases]
    parsed = [(c.claim, c.accumulators, baseline_fen.parse_items(c.claim["items"])) for c in cases
              if "items" in c.claim]
    best: dict[str, float] = {}
    clock = time.process_time_ns
    for _ in range(rounds):
        spent = dict.fromkeys(STAGES, 0)
        for claim, acc in models:  # wall clock here: reading the CPU clock costs about a microsecond
            _stages(claim, pack, acc, time.perf_counter_ns, spent)
        t0 = clock()
        for claim, acc in models:
            benefits.evaluate(claim, pack, acc, trace=False)
        spent["evaluate"] = clock() - t0
        if parsed:
            t0 = clock()
            for one in parsed:
                baseline_fen.settle(*one)
            spent["baseline_fen"] = clock() - t0
        for name, ns in spent.items():
            us = ns / len(models) / 1000
            best[name] = min(best.get(name, us), us)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=300, help="claims of each kind (default 300)")
    args = ap.parse_args(argv)
    pack = benefits.load_rules(str(HERE.parent / "rules" / "jiangmen"))
    for label, cases in (("50 line items", generate.headline_batch(args.n)), ("pre-split", generate.presplit_batch(args.n))):
        us = measure(cases, pack)
        print(f"{label}, from validated models, trace off ({args.n} Jiangmen 2022 stays), us per claim:")
        for name in STAGES:
            print(f"  {name:<18}{us[name]:7.1f}")
        print(f"  {'evaluate (whole)':<18}{us['evaluate']:7.1f}")
        if "baseline_fen" in us:
            budget = 2 * us["baseline_fen"]
            fixed = us["bill split"] + us["settlement"]
            print(f"  baseline_fen {us['baseline_fen']:.1f} us; target (c) >= 0.5x leaves {budget:.1f} us a claim, "
                  f"of which the bill split and writing the settlement alone take {fixed:.1f} us ({fixed / budget:.0%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
