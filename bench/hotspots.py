"""Where the time of a 50-line claim goes: cProfile over the headline batch, in steady state.

    .venv/bin/python bench/hotspots.py                # models, trace on; top 25 by own time
    .venv/bin/python bench/hotspots.py --no-trace --dicts --top 40 --sort cumulative

The batch is evaluated twice untimed first (the matcher memo fills, as in a running service), then
once under the profiler. cProfile adds a cost per call, so functions called per line item look
dearer than they are; use it to find where to look, and `run.py` / `instructions.py` to judge a
change.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import benefits  # noqa: E402
from generate import DEFAULT_SEED, headline_batch  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=1000, help="claims in the batch (default 1000)")
    ap.add_argument("--no-trace", action="store_true", help="evaluate with trace=False")
    ap.add_argument("--dicts", action="store_true", help="pass plain dicts, so validation is profiled too")
    ap.add_argument("--top", type=int, default=25, help="functions to list (default 25)")
    ap.add_argument("--sort", default="tottime", choices=["tottime", "cumulative", "ncalls"])
    args = ap.parse_args(argv)

    rules = benefits.load_rules(HERE.parent / "rules" / "jiangmen")
    cases = headline_batch(args.n, DEFAULT_SEED)
    if args.dicts:
        work = [(c.claim, c.accumulators) for c in cases]
    else:
        work = [(benefits.Claim.model_validate(c.claim), benefits.Accumulators.model_validate(c.accumulators))
                for c in cases]
    trace = not args.no_trace
    for _ in range(2):
        for claim, acc in work:
            benefits.evaluate(claim, rules, acc, trace=trace)
    profiler = cProfile.Profile()
    profiler.enable()
    for claim, acc in work:
        benefits.evaluate(claim, rules, acc, trace=trace)
    profiler.disable()
    print(f"{len(work)} headline claims, {'dicts' if args.dicts else 'models'}, trace {'on' if trace else 'off'}; "
          f"per-claim figures: divide by {len(work)}")
    pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
