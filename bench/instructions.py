"""Instruction counts under valgrind's callgrind: figures a busy machine cannot move.

Wall-clock rates on a shared machine swing by 2x within minutes (see README.md, Figures); the
number of instructions a piece of work executes does not. This script counts them for

- one evaluation of a claim, for a pre-split Jiangmen stay and a 50-line one, from plain dicts and
  from validated models, trace on and off: the count of a run that evaluates a batch once more,
  minus the count of a run that does not, divided by the batch size;
- `benefits calc` on the example claim, end to end, in a new process (bytecode compiled first).

    .venv/bin/python bench/instructions.py                 # about 8 minutes
    .venv/bin/python bench/instructions.py --src OTHER/src --rules OTHER/rules/jiangmen
                                                           # another checkout (the CLI code stays this one's)
    .venv/bin/python bench/instructions.py --no-gc --only pre-split --only dicts --only off --no-calc
                                                           # one figure, to compare two commits exactly

It needs `valgrind` on PATH. Instructions are not time (memory stalls and the interpreter's cache
behaviour differ), but a change that lowers them lowers time on any quiet machine.

With the garbage collector on (as production runs), when it happens to run moves a claim's count by
a few thousand instructions between two commits; `--no-gc` pauses it in the measured process, so a
small change between two commits shows as it is.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXAMPLE = ["calc", "examples/resident-level3-inpatient.yaml", "--rules", "rules/jiangmen"]
BATCHES = (("presplit_batch", "pre-split"), ("headline_batch", "50-line"))  # generate.py's batches

# Run inside valgrind: warm the pack and its memo on the batch, then evaluate it `rounds` more times.
CHILD = """
import sys{no_gc}
sys.path.insert(0, {bench!r})
import benefits, generate
rules = benefits.load_rules({rules!r})
cases = generate.{batch}({n})
work = [(c.claim, c.accumulators) for c in cases]
if {models}:
    work = [(benefits.Claim.model_validate(c), benefits.Accumulators.model_validate(a)) for c, a in work]
for c, a in work:
    benefits.evaluate(c, rules, a, trace=True)
for _ in range({rounds}):
    for c, a in work:
        benefits.evaluate(c, rules, a, trace={trace})
"""


def callgrind(cmd: list[str], env: dict) -> int:
    """Instructions executed by `cmd` (all its threads), as callgrind counts them."""
    proc = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if proc.returncode != 0 or not found:
        raise SystemExit(f"valgrind failed ({proc.returncode}): {proc.stderr[-500:]}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", type=Path, default=ROOT / "src", help="the src/ folder to measure (default: this checkout's)")
    ap.add_argument("--rules", type=Path, default=ROOT / "rules" / "jiangmen",
                    help="the Jiangmen pack to evaluate under (default: this checkout's; another src may need its own)")
    ap.add_argument("-n", type=int, default=150, help="claims in the batch (default 150)")
    ap.add_argument("--no-gc", action="store_true", help="pause the garbage collector in the measured process")
    ap.add_argument("--only", action="append", default=[], metavar="WORD",
                    help="count only the per-claim figures whose label has WORD (pre-split, 50-line, dicts, models, "
                         "on, off); repeat to narrow")
    ap.add_argument("--no-calc", action="store_true", help="skip `benefits calc` end to end")
    args = ap.parse_args(argv)
    if not shutil.which("valgrind"):
        print("valgrind is not on PATH (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    src = args.src.resolve()
    # string hashing is seeded per process: set orders, and with them a claim's count, moved by up to a few
    # thousand instructions between two runs of the same commit; a fixed seed makes a count repeat exactly
    env = dict(os.environ, PYTHONPATH=str(src), PYTHONHASHSEED=os.environ.get("PYTHONHASHSEED", "0"))
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(src), str(ROOT / "cli")], check=False,
                   capture_output=True)
    no_gc = "; import gc; gc.disable()" if args.no_gc else ""
    print(f"instructions (callgrind), src = {src}, rules = {args.rules}{', garbage collector paused' if no_gc else ''}")
    for batch, label in BATCHES:
        for models in (False, True):
            for trace in (True, False):
                words = {label, "models" if models else "dicts", "on" if trace else "off"}
                if not all(word in words for word in args.only):
                    continue
                counts = []
                for rounds in (0, 1):
                    code = CHILD.format(bench=str(HERE), rules=str(args.rules), batch=batch, n=args.n, models=models,
                                        rounds=rounds, trace=trace, no_gc=no_gc)
                    counts.append(callgrind([sys.executable, "-c", code], env))
                per_claim = (counts[1] - counts[0]) / args.n
                what = f"one {label} claim, {'models' if models else 'dicts '}, trace {'on ' if trace else 'off'}"
                print(f"  {what:<44}{per_claim / 1e3:8.1f} k instructions")
    if args.no_calc:
        return 0
    code = ("import sys; sys.argv = ['benefits', *sys.argv[1:]]; "
            "import benefits_cli.app as app; app.main()")
    total = callgrind([sys.executable, "-c", code, *EXAMPLE], env)
    floor = callgrind([sys.executable, "-c", "pass"], env)
    print(f"  benefits calc (end to end)                {total / 1e6:8.0f} M instructions  (python -c pass: {floor / 1e6:.0f} M)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
