"""Where one evaluation's time goes, stage by stage, beside the budget target (c) of section 9 allows.

Target (c) asks the engine, from validated models with the trace off, for half the rate of
`baseline_fen.py` on items parsed beforehand: a budget per claim of twice the baseline's time. This
script times, in one process, the stages of `benefits.evaluate` (the calculator's own stage
functions, timed where it calls them; "shape and checks" is the rest, with the timing's own
overhead), and the baseline, on the same claims:

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

STAGES = ("shape and checks", "bill split", "layers", "settlement")
_TIMED = {"bill split": "split_bill", "layers": "_pay_layers", "settlement": "_settlement"}  # calculator's names


def _staged(models, pack, spent: dict) -> None:
    """Evaluate each claim from models, trace off, with the calculator's own stage functions timed
    where `_evaluate` calls them (wrapped for the loop, then put back); the rest of the evaluation
    (validation of nothing, the claim's shape, the checks) is the whole less those three."""
    clock = time.perf_counter_ns  # wall clock here: reading the CPU clock costs about a microsecond

    def timed(name, fn):
        def run(*args):
            t0 = clock()
            try:
                return fn(*args)
            finally:
                spent[name] += clock() - t0
        return run

    originals = {attr: getattr(calc, attr) for attr in _TIMED.values()}
    for name, attr in _TIMED.items():
        setattr(calc, attr, timed(name, originals[attr]))
    try:
        t0 = clock()
        for claim, acc in models:
            benefits.evaluate(claim, pack, acc, trace=False)
        whole = clock() - t0
    finally:
        for attr, fn in originals.items():
            setattr(calc, attr, fn)
    spent["shape and checks"] += whole - sum(spent[name] for name in _TIMED)


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
        _staged(models, pack, spent)
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
