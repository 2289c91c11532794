"""GoRules ZEN side by side with the engine: a peer for speed ratios, held equal to it claim by claim.

ZEN (PyPI `zen-engine`) is a decision engine written in Rust with Python bindings: decision graphs
in JSON (JDM) of decision tables, expression nodes and switches, evaluated with decimal numbers
(rust_decimal). `bench/zen/jiangmen_2022_inpatient.json` is the calculation `bench/baseline.py`
makes, as one such graph: Jiangmen (江门) stays settling in 2022 (inpatient and day surgery), the
bill split per line item (domain.md 6.2, ruling of 2026-11-29) or a bill given already split, then
the basic fund, serious illness, medical aid, secondary aid and personal account (6.3-6.9, 7.1).
Decision tables hold the parameters, expression nodes the arithmetic. It explains nothing (no
trace of ours; ZEN's own trace is off) and knows one pack, one version, one visit family.

    .venv/bin/pip install --require-hashes -r requirements-bench.txt   # zen-engine, pinned (the bench lock)
    .venv/bin/python bench/zen_peer.py [N]     # N claims of each of 4 kinds through both engines (default 1000)

`settle(claim, accumulators)` takes the plain dicts `bench/generate.py` makes (the same dicts
`benefits.evaluate` takes) and returns the payouts by layer id, the bill split and the deductible
applied (Decimal), and each line item's split as ZEN gives it (strings: [id, amount, fully
self-paid, over-limit, pre-self-paid, policy range]). The dicts go to ZEN as they are, wrapped in
{"claim": ..., "accumulators": ...}: amounts stay strings and the graph reads them with number(),
which parses them exactly into decimals; what comes back is strings too (the binding would hand
fractional numbers back as floats), turned into Decimal here. That wrapping and conversion is the
adapter, and settle's time includes it. `check(n)` settles n claims of each of four kinds both ways
and lists every disagreement; run as a script, it exits 1 on any.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
GRAPH = HERE / "zen" / "jiangmen_2022_inpatient.json"
KEY = "jiangmen_2022_inpatient"
BILL = ("total", "fully_self_paid", "over_limit", "pre_self_paid", "policy_range")
INSTALL = ".venv/bin/pip install --require-hashes -r requirements-bench.txt"

_evaluate = None  # the loaded graph's evaluate(key, context), set by load()

# ZEN's round(x, 2) rounds halves away from zero (rust_decimal's MidpointAwayFromZero), which is
# ROUND_HALF_UP as Python's decimal has it, not banker's rounding; rounding a small negative to zero
# gives 0.00, not -0.00 (its arithmetic never leaves a negative zero; only a literal -0 would).
# load() checks these on the installed version before anything uses the graph.
ROUNDING = {"string(round(0.125, 2))": "0.13", "string(round(2.675, 2))": "2.68", "string(round(1.005, 2))": "1.01",
            "string(round(0.124999, 2))": "0.12", "string(round(-0.125, 2))": "-0.13",
            "string(round(-0.001, 2))": "0.00", "string(4.20 - 4.20)": "0.00"}


def available() -> bool:
    """Whether zen-engine is installed here (it is in the bench lock only, not the test lock). Not
    `import zen`: with bench/ on sys.path, the folder bench/zen/ (the graph) imports as an empty
    namespace package of that name when zen-engine is absent; an installed package wins over it."""
    spec = importlib.util.find_spec("zen")
    return spec is not None and spec.origin is not None


def load(path: Path = GRAPH) -> None:
    """Load and compile the graph, once. ZenEngine with a static loader compiles every expression
    once and evaluates by key on the calling thread; `create_decision(...).evaluate` would build a
    new tokio runtime per call (100-200 µs more CPU per claim here), which no service would pay."""
    global _evaluate
    import zen

    for expression, expected in ROUNDING.items():
        got = zen.evaluate_expression(expression)
        if got != expected:
            raise RuntimeError(f"zen-engine {expression} gives {got!r}, not {expected!r}: the graph's rounding "
                               "is no longer ROUND_HALF_UP to the fen (domain.md 6.9)")
    text = path.read_text(encoding="utf-8")
    engine = zen.ZenEngine({"loader": {"type": "static", "content": {KEY: json.loads(text)}}})
    engine.create_decision(zen.ZenDecisionContent(text)).validate()  # a broken graph fails here, not mid-run
    _evaluate = engine.evaluate


def settle(claim: dict, accumulators: dict | None = None) -> dict:
    """One claim through the ZEN graph: {"payouts": {layer: Decimal}, "bill": {part: Decimal},
    "deductible": Decimal, "items": [[id, amount, fully, over, pre, policy] as strings, ...]}."""
    if _evaluate is None:
        load()
    out = _evaluate(KEY, {"claim": claim, "accumulators": accumulators or {}})["result"]
    payouts, bill = out["payouts"], out["bill"]
    return {"payouts": {k: Decimal(v) for k, v in payouts.items()},
            "bill": {k: Decimal(v) for k, v in bill.items()},
            "deductible": Decimal(out["deductible"]),
            "items": out["items"]}


# --- held equal to the engine ------------------------------------------------------------------

def batches(n: int, seed: int | None = None) -> list[tuple[str, list]]:
    """The claims check() compares: n of each kind, all Jiangmen 2022 stays."""
    from generate import DEFAULT_SEED, check_batch, headline_batch, presplit_batch

    seed = DEFAULT_SEED if seed is None else seed
    return [("headline (50 lines)", headline_batch(n, seed)),
            ("pre-split stays", presplit_batch(n, seed)),
            ("pre-split check stays", presplit_batch(n, seed, check=True)),
            ("check batch (aid groups, heavy users, near caps)", check_batch(n, seed))]


def compare(cases, rules) -> tuple[int, list[dict]]:
    """Each case settled by benefits.evaluate (`rules`: the loaded Jiangmen pack) and by ZEN: the five
    payouts (every other layer of the engine must pay 0.00), the bill split, the deductible applied
    and each line item's split. Returns (claims compared, disagreements)."""
    import benefits

    compared, bad = 0, []
    for case in cases:
        claim, acc = case.claim, case.accumulators
        s = benefits.evaluate(claim, rules, acc, trace=False)
        z = settle(claim, acc)
        diffs = {}
        for layer, paid in s.payouts.items():
            if paid != z["payouts"].get(layer, Decimal(0)):
                diffs[f"payouts.{layer}"] = (str(paid), str(z["payouts"].get(layer, "(not computed: 0)")))
        for part in BILL:
            if getattr(s.bill, part) != z["bill"][part]:
                diffs[f"bill.{part}"] = (str(getattr(s.bill, part)), str(z["bill"][part]))
        if s.deductible != z["deductible"]:
            diffs["deductible"] = (str(s.deductible), str(z["deductible"]))
        ours = [(i.id, i.amount, i.fully_self_paid, i.over_limit, i.pre_self_paid, i.policy_range)
                for i in (s.items or [])]
        theirs = [(i[0], *map(Decimal, i[1:])) for i in z["items"]]
        if ours != theirs:
            first = next((k for k, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
            diffs[f"items ({len(ours)} vs {len(theirs)}), first differing #{first}"] = (
                " / ".join(map(str, ours[first])) if first < len(ours) else "-",
                " / ".join(map(str, theirs[first])) if first < len(theirs) else "-")
        negative = [v for v in (*z["payouts"].values(), *z["bill"].values(), z["deductible"]) if v.is_signed()]
        if negative:  # a negative amount or a negative zero: neither may leave the graph
            diffs["ZEN output signed"] = ("", ", ".join(map(str, negative)))
        compared += 1
        if diffs:
            bad.append({"claim": claim["id"], "diffs": diffs, "case": case})
    return compared, bad


def describe(d: dict) -> str:
    c, a = d["case"].claim, d["case"].accumulators
    m = c["member"]
    lines = [f"claim {c['id']}: {m['scheme']}/{m.get('member_type')} groups={m.get('groups')} {c['visit']} {c['level']} "
             f"{c.get('region', 'local')} filed={c.get('filed')} discharged {c['discharge_date']}, "
             f"{len(c['items']) if 'items' in c else 'pre-split'} items; admissions={a.get('admissions', 0)} {a.get('counters')}"]
    lines += [f"    {field}: engine {ours}, ZEN {theirs}" for field, (ours, theirs) in d["diffs"].items()]
    return "\n".join(lines)


def check(n: int = 1000, seed: int | None = None, rules=None, show: int = 5, out=print) -> tuple[int, int]:
    """n claims of each kind of `batches` through both engines; prints a line per kind and the first
    `show` disagreements of each. Returns (claims compared, disagreements)."""
    import benefits

    rules = rules or benefits.load_rules(HERE.parent / "rules" / "jiangmen")
    total = bad_total = 0
    for name, cases in batches(n, seed):
        compared, bad = compare(cases, rules)
        total, bad_total = total + compared, bad_total + len(bad)
        out(f"  ZEN vs engine, {name}: {compared:,} claims, {len(bad)} disagreements")
        for d in bad[:show]:
            out("    " + describe(d).replace("\n", "\n    "))
    return total, bad_total


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not available():
        print(f"zen-engine is not installed here; the bench lock has it: {INSTALL}")
        return 2
    sys.path.insert(0, str(HERE))
    total, bad = check(int(argv[0]) if argv else 1000)
    print(f"{total:,} claims compared, {bad} disagreements")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
