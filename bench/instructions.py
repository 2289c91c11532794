"""Instruction counts under valgrind's callgrind: figures a busy machine cannot move.

Wall-clock rates on a shared machine swing by 2x within minutes (see README.md, Figures); the
number of instructions a piece of work executes does not. This script counts them for

- one evaluation of a 50-line headline claim (models, trace on and off): the count of a run that
  evaluates a batch once more, minus the count of a run that does not, divided by the batch size;
- `benefits calc` on the example claim, end to end, in a new process (bytecode compiled first).

    .venv/bin/python bench/instructions.py                 # about 3 minutes
    .venv/bin/python bench/instructions.py --src OTHER/src # another checkout's src/ (the CLI code stays this one's)

It needs `valgrind` on PATH. Instructions are not time (memory stalls and the interpreter's cache
behaviour differ), but a change that lowers them lowers time on any quiet machine.
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

# Run inside valgrind: warm the pack and its memo on the batch, then evaluate it `rounds` more times.
CHILD = """
import sys
sys.path.insert(0, {bench!r})
import benefits, generate
rules = benefits.load_rules({rules!r})
cases = generate.headline_batch({n})
work = [(benefits.Claim.model_validate(c.claim), benefits.Accumulators.model_validate(c.accumulators)) for c in cases]
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
    ap.add_argument("-n", type=int, default=150, help="claims in the batch (default 150)")
    args = ap.parse_args(argv)
    if not shutil.which("valgrind"):
        print("valgrind is not on PATH (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    src = args.src.resolve()
    env = dict(os.environ, PYTHONPATH=str(src))
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(src), str(ROOT / "cli")], check=False,
                   capture_output=True)
    print(f"instructions (callgrind), src = {src}")
    for trace in (True, False):
        counts = []
        for rounds in (0, 1):
            code = CHILD.format(bench=str(HERE), rules=str(ROOT / "rules" / "jiangmen"), n=args.n,
                                rounds=rounds, trace=trace)
            counts.append(callgrind([sys.executable, "-c", code], env))
        per_claim = (counts[1] - counts[0]) / args.n
        print(f"  one 50-line claim, models, trace {'on ' if trace else 'off'}   {per_claim / 1e6:8.2f} M instructions")
    code = ("import sys; sys.argv = ['benefits', *sys.argv[1:]]; "
            "import benefits_cli.app as app; app.main()")
    total = callgrind([sys.executable, "-c", code, *EXAMPLE], env)
    floor = callgrind([sys.executable, "-c", "pass"], env)
    print(f"  benefits calc (end to end)                {total / 1e6:8.0f} M instructions  (python -c pass: {floor / 1e6:.0f} M)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
