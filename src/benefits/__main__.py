"""`python -m benefits CLAIM --rules DIR [--accumulators FILE] [--json]`: settle one claim.

A stand-in until the `benefits` command line lands; it uses only the public API.
"""

from __future__ import annotations

import argparse
import json
import sys

from . import BenefitsError, evaluate, load_rules
from .money import fmt
from .yamlio import load_file


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benefits", description="Settle one claim and explain it.")
    ap.add_argument("claim", help="claim file (YAML or JSON)")
    ap.add_argument("--rules", required=True, help="rule pack folder, e.g. rules/jiangmen")
    ap.add_argument("--accumulators", help="the member's accumulators before the claim (YAML)")
    ap.add_argument("--json", action="store_true", help="print the settlement as JSON")
    args = ap.parse_args(argv)
    try:
        rules = load_rules(args.rules)
        claim, _ = load_file(args.claim)
        acc = load_file(args.accumulators)[0] if args.accumulators else None
        s = evaluate(claim, rules, acc)  # validates claim and accumulators alike
    except BenefitsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(s.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return 0
    b = s.bill
    print(f"claim {s.claim_id}  pack {s.pack}  version {s.version}  deciding date {s.deciding_date}")
    for label, value in [("total 医疗费总额", b.total), ("fully self-paid 全自费", b.fully_self_paid),
                         ("over limit 超限价", b.over_limit), ("pre-self-paid 先行自付", b.pre_self_paid),
                         ("policy range 政策范围内", b.policy_range), ("deductible 起付线", s.deductible)]:
        print(f"  {label:<28}{fmt(value):>14}")
    for p in s.layers:
        print(f"  {p.layer + ' ' + p.name_zh:<28}{fmt(p.paid):>14}")
    print(f"  {'patient pays 个人负担':<28}{fmt(s.patient.total):>14}")
    print("trace:")
    for t in s.trace:
        print(f"  [{t.rule}] {t.explain_en}: {t.formula or t.output}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # output piped into `head`
        sys.exit(0)
