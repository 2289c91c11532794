"""Quick rates for the evaluator: pack load time, claims per second with each matcher, with and
without the trace. A first measurement; the full benchmark suite is its own piece of work.

    .venv/bin/python bench/quick.py [N]
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

import benefits

RULES = Path(__file__).resolve().parents[1] / "rules" / "jiangmen"
GROUPS = [[], [], [], [], ["dibao"], ["tekun"], ["tuopin"], ["dishouru"]]


def claims(n: int, seed: int = 7):
    rng = random.Random(seed)
    for i in range(n):
        scheme = rng.choice(["resident", "employee"])
        policy = rng.randint(500_00, 300_000_00)
        fully = rng.randint(0, 5_000_00)
        yield {
            "id": f"b{i}",
            "member": {"id": f"m{i}", "scheme": scheme,
                       "member_type": rng.choice(["in_service", "retired"]) if scheme == "employee" else "adult",
                       "groups": rng.choice(GROUPS)},
            "visit": "inpatient", "level": rng.choice(["level1", "level2", "level3"]),
            "admission_date": "2022-03-01", "discharge_date": "2022-03-09",
            "bill": {"total": f"{(policy + fully) / 100:.2f}", "fully_self_paid": f"{fully / 100:.2f}",
                     "over_limit": "0", "pre_self_paid": "0", "policy_range": f"{policy / 100:.2f}"},
        }


def rate(rules, batch, trace: bool) -> float:
    start = time.perf_counter()
    for c in batch:
        benefits.evaluate(c, rules, trace=trace)
    return len(batch) / (time.perf_counter() - start)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    start = time.perf_counter()
    durable = benefits.load_rules(RULES, matcher="durable")
    load_ms = (time.perf_counter() - start) * 1000
    reference = benefits.load_rules(RULES, matcher="reference")
    batch = [benefits.Claim.model_validate(c) for c in claims(n)]
    print(f"load + compile jiangmen (durable): {load_ms:.1f} ms")
    for name, rules in (("durable", durable), ("reference", reference)):
        for trace in (True, False):
            print(f"{name:>9} matcher, trace {'on ' if trace else 'off'}: {rate(rules, batch, trace):8.0f} claims/s")
    from benefits.facts import build_fact

    facts = [build_fact(c, c.settlement_date, durable.disease_of(c.diagnoses)) for c in batch]
    for name, rules in (("durable", durable), ("reference", reference)):
        start = time.perf_counter()
        for f in facts:
            rules.matcher.fired(f)
        print(f"{name:>9} matcher alone: {n / (time.perf_counter() - start):8.0f} facts/s")


if __name__ == "__main__":
    main()
