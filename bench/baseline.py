"""The Jiangmen inpatient calculation written directly in Python: the engine's overhead baseline.

One pack, one version, one visit family: Jiangmen (江门), claims settling in 2022, inpatient and day
surgery (a stay), with the 2022 parameters of domain.md section 7.1 hard-coded below. It does what
the engine does for such a claim, layer by layer, and nothing else (no rule files, no matcher, no
validation models, no trace):

    bill split per line item (6.2) -> basic fund (6.3: deductible per admission, half for a repeat
    admission; ratio by scheme and level, retired +3 points, unfiled cross-province -10 points;
    annual cap shared through basic.annual) -> serious illness (6.5: bands on the cumulative
    in-policy self-pay, resident group modifiers, cap) -> medical aid (6.6: best group's ratio, cap)
    -> secondary aid (6.6: 50% above 5,000 of the cumulative post-aid self-pay, cap) -> personal
    account (6.8, employees).

Decimal throughout; each layer's payout is rounded once to the fen, ROUND_HALF_UP (6.9), and later
layers work on the rounded payouts. Input: the same plain dicts the engine takes (see generate.py).

`settle(claim, accumulators)` returns the payouts by layer id, the bill split and the deductible
applied. `compare(cases, pack)` settles each case both ways and lists every disagreement.

    .venv/bin/python bench/baseline.py [N]     # headline batch: agreement and rates, engine vs baseline
"""

from __future__ import annotations

import sys
import time
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from pathlib import Path

D = Decimal
FEN = D("0.01")
ZERO = D("0.00")
ONE = D(1)

# --- Jiangmen, version 2022-01-01 (domain.md 7.1) -------------------------------------------
B_SHARE_DEFAULT = D("0.10")
DEDUCTIBLE = {
    "resident": {"level1": D("300.00"), "level2": D("500.00"), "level3": D("1000.00")},
    "employee": {"level1": D("300.00"), "level2": D("500.00"), "level3": D("800.00")},
}
REPEAT_FACTOR = D("0.50")  # from the second admission of the year
RATIO = {
    "resident": {"level1": D("0.85"), "level2": D("0.80"), "level3": D("0.65")},
    "employee": {"level1": D("0.90"), "level2": D("0.88"), "level3": D("0.85")},
}
RETIRED_POINTS = D("0.03")
UNFILED_CROSS_PROVINCE_POINTS = D("-0.10")
BASIC_CAP = {"resident": D("300000.00"), "employee": D("560000.00")}

SI_DEDUCTIBLE = D("10000.00")
SI_BAND2_START = D("100000.00")
SI_RATIOS = {"resident": (D("0.60"), D("0.70")), "employee": (D("0.80"), D("0.90"))}
SI_CAP = D("240000.00")
# residents only: (deductible reduction, points, cap lifted); the most favourable applies
SI_GROUPS = (
    ({"tekun", "guer"}, D("0.80"), D("0.20")),
    ({"dibao", "tuopin"}, D("0.70"), D("0.10")),
)

AID_RATIOS = (({"tekun", "guer"}, D("1.00")), ({"dibao"}, D("0.80")), ({"dishouru", "tuopin"}, D("0.70")))
AID_CAP = D("80000.00")

SECONDARY_THRESHOLD = D("5000.00")
SECONDARY_RATIO = D("0.50")
SECONDARY_CAP = D("30000.00")
AID_GROUPS = {"tekun", "guer", "dibao", "tuopin", "dishouru"}

LAYERS = ("basic", "serious_illness", "medical_aid", "secondary_aid", "personal_account")
_CONTEXT = Context(prec=50, rounding=ROUND_HALF_UP)


def _fen(x: Decimal) -> Decimal:
    return x.quantize(FEN, rounding=ROUND_HALF_UP)


def _money(text) -> Decimal:
    return D(text).quantize(FEN) if text is not None else ZERO


def _clamp(r: Decimal) -> Decimal:
    return ONE if r > ONE else (ZERO if r < 0 else r)


def parse_items(items: list[dict]) -> list[tuple]:
    """Line items as (id, category, unit price, quantity, payment standard or None, B share), Decimal."""
    return [(it["id"], it["category"], D(it["unit_price"]), D(it.get("quantity", 1)),
             None if it.get("payment_standard") is None else D(it["payment_standard"]),
             B_SHARE_DEFAULT if it.get("self_pay_share") is None else D(it["self_pay_share"]))
            for it in items]


def split_bill(items: list[tuple], detail: list | None = None) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
    """(total, fully self-paid, over-limit, pre-self-paid, policy range) of items from `parse_items`,
    domain.md 6.2. With a `detail` list, each item's (id, amount, fully, over, pre, policy) is
    appended to it."""
    total = fully = over = pre = ZERO
    for item_id, cat, price, qty, std, share in items:
        amount = _fen(price * qty)
        total += amount
        if cat == "C":
            fully += amount
            if detail is not None:
                detail.append((item_id, amount, amount, ZERO, ZERO, ZERO))
            continue
        item_over = item_pre = ZERO
        if std is not None and price > std:  # the amount less the recognised part, round(standard x quantity)
            item_over = amount - _fen(std * qty)
            over += item_over
        if cat == "B":
            item_pre = _fen(share * (amount - item_over))
            pre += item_pre
        if detail is not None:
            detail.append((item_id, amount, ZERO, item_over, item_pre, amount - item_over - item_pre))
    return total, fully, over, pre, total - fully - over - pre


def _bands(before: Decimal, after: Decimal, start: Decimal, ratios: tuple[Decimal, Decimal], points: Decimal) -> Decimal:
    r1, r2 = _clamp(ratios[0] + points), _clamp(ratios[1] + points)
    part1 = max(ZERO, min(after, SI_BAND2_START) - max(before, start))
    part2 = max(ZERO, after - max(before, SI_BAND2_START))
    return part1 * r1 + part2 * r2


def settle(claim: dict, accumulators: dict | None = None, items: list[tuple] | None = None, *,
           detail: bool = False) -> dict:
    """Payouts (by layer id), bill split and deductible applied for one Jiangmen 2022 stay; with
    `detail`, also each line item's split (under "items"). `items`: the claim's line items already
    through `parse_items` (else they are parsed here)."""
    with localcontext(_CONTEXT):
        return _settle(claim, accumulators or {}, items, detail)


def _settle(claim: dict, acc: dict, items: list[tuple] | None = None, detail: bool = False) -> dict:
    if claim["visit"] not in ("inpatient", "day_surgery"):
        raise ValueError(f"baseline: only Jiangmen stays, not {claim['visit']!r}")
    if not str(claim["discharge_date"]).startswith("2022-"):
        raise ValueError("baseline: only claims settling in 2022 (hard-coded 2022 parameters)")
    member = claim["member"]
    scheme, level = member["scheme"], claim["level"]
    groups = set(member.get("groups") or ())
    counters = acc.get("counters") or {}

    def counter(name: str) -> Decimal:
        return _money(counters.get(name))

    item_splits: list | None = [] if detail else None
    if items is not None or claim.get("items") is not None:
        total, fully, over, pre, policy = split_bill(parse_items(claim["items"]) if items is None else items,
                                                     item_splits)
    else:
        b = claim["bill"]
        total, fully, over, pre, policy = (_money(b[k]) for k in
                                           ("total", "fully_self_paid", "over_limit", "pre_self_paid", "policy_range"))

    # 1. basic fund
    deductible = DEDUCTIBLE[scheme][level]
    if acc.get("admissions", 0) >= 1:
        deductible = _fen(deductible * REPEAT_FACTOR)
    applied = min(policy, deductible)
    ratio = RATIO[scheme][level]
    if scheme == "employee" and member.get("member_type") == "retired":
        ratio = _clamp(ratio + RETIRED_POINTS)
    if claim.get("region") == "out_of_province" and claim.get("filed") is False:
        ratio = _clamp(ratio + UNFILED_CROSS_PROVINCE_POINTS)
    cap_left = max(ZERO, BASIC_CAP[scheme] - counter("basic.annual"))
    basic = _fen(min((policy - applied) * ratio, cap_left))
    left = policy - basic  # 合规自付 of this claim

    # 2. serious illness: the most favourable of the member's options
    before = counter("serious_illness.base")
    after = before + left
    ratios = SI_RATIOS[scheme]
    si_cap_left = max(ZERO, SI_CAP - counter("serious_illness.paid"))
    serious = _fen(min(_bands(before, after, SI_DEDUCTIBLE, ratios, ZERO), si_cap_left))
    if scheme == "resident":
        for names, reduction, points in SI_GROUPS:
            if groups & names:
                serious = max(serious, _fen(_bands(before, after, SI_DEDUCTIBLE * (ONE - reduction), ratios, points)))
    left -= serious

    # 3. medical aid: the best ratio among the member's aid groups
    aid = ZERO
    aid_ratio = max((r for names, r in AID_RATIOS if groups & names), default=None)
    if aid_ratio is not None:
        aid_cap_left = max(ZERO, AID_CAP - counter("medical_aid.paid"))
        aid = _fen(min(left * aid_ratio, aid_cap_left))
    left -= aid

    # 4. secondary aid: aid members, on the cumulative post-aid in-policy self-pay
    secondary = ZERO
    if groups & AID_GROUPS:
        before = counter("secondary_aid.base")
        after = before + left
        raw = max(ZERO, after - max(before, SECONDARY_THRESHOLD)) * SECONDARY_RATIO
        secondary = _fen(min(raw, max(ZERO, SECONDARY_CAP - counter("secondary_aid.paid"))))
    left -= secondary

    # 5. personal account (employees): pre-self-pay + what the funds left, up to the balance
    account = min(pre + left, counter("personal_account.balance")) if scheme == "employee" else ZERO

    result = {
        "payouts": {"basic": basic, "serious_illness": serious, "medical_aid": aid, "secondary_aid": secondary,
                    "personal_account": account},
        "bill": {"total": total, "fully_self_paid": fully, "over_limit": over, "pre_self_paid": pre,
                 "policy_range": policy},
        "deductible": applied,
    }
    if detail:
        result["items"] = item_splits
    return result


# --- comparing with the engine ---------------------------------------------------------------

def compare(cases, rules) -> tuple[int, list[dict]]:
    """Settle every case with the engine (`rules`: the loaded Jiangmen pack) and the baseline.
    Returns (claims compared, disagreements); a disagreement lists each differing field."""
    import benefits

    compared, bad = 0, []
    for case in cases:
        claim, acc = case.claim, case.accumulators
        ours = settle(claim, acc, detail=True)
        s = benefits.evaluate(claim, rules, acc, trace=False)
        theirs = s.payouts
        diffs = {}
        for layer, paid in theirs.items():
            expected = ours["payouts"].get(layer, ZERO)
            if paid != expected:
                diffs[f"payouts.{layer}"] = (str(paid), str(expected))
        for layer in LAYERS:
            if layer not in theirs:
                diffs[f"payouts.{layer}"] = ("(missing)", str(ours["payouts"][layer]))
        for part, value in ours["bill"].items():
            if getattr(s.bill, part) != value:
                diffs[f"bill.{part}"] = (str(getattr(s.bill, part)), str(value))
        if s.deductible != ours["deductible"]:
            diffs["deductible"] = (str(s.deductible), str(ours["deductible"]))
        engine_items = {i.id: i for i in (getattr(s, "items", None) or [])}
        by_id = {it["id"]: it for it in claim.get("items") or []}
        shown = 0
        for item_id, amount, fully, over, pre, policy in ours.get("items") or []:
            e = engine_items.get(item_id)
            if e is None or shown >= 3:
                continue
            theirs_item = (e.amount, e.fully_self_paid, e.over_limit, e.pre_self_paid, e.policy_range)
            if theirs_item != (amount, fully, over, pre, policy):
                it = by_id[item_id]
                what = (f"unit_price {it['unit_price']} x quantity {it.get('quantity', 1)}, category {it['category']}"
                        + (f", payment_standard {it['payment_standard']}" if it.get("payment_standard") else "")
                        + (f", self_pay_share {it['self_pay_share']}" if it.get("self_pay_share") else ""))
                diffs[f"item {item_id} ({what}): amount/fully/over/pre/policy"] = (
                    " / ".join(map(str, theirs_item)), " / ".join(map(str, (amount, fully, over, pre, policy))))
                shown += 1
        compared += 1
        if diffs:
            bad.append({"claim": claim["id"], "diffs": diffs, "case": case})
    return compared, bad


def describe(disagreement: dict) -> str:
    """A disagreement in a few lines: the claim's member, level, region, bill and accumulators."""
    case = disagreement["case"]
    c, a = case.claim, case.accumulators
    m = c["member"]
    filed = "" if c.get("filed") is None else f" filed={c['filed']}"
    head = (f"claim {c['id']}: {m['scheme']}/{m.get('member_type')} groups={m.get('groups')} {c['visit']} "
            f"{c['level']} {c.get('region', 'local')}{filed} discharged {c['discharge_date']}, "
            f"{len(c.get('items') or [])} items; accumulators admissions={a.get('admissions', 0)} {a.get('counters')}")
    lines = [head]
    for field, (engine, baseline) in disagreement["diffs"].items():
        lines.append(f"    {field}: engine {engine}, baseline {baseline}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    n = int(argv[0]) if argv else 1000
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from generate import check_batch, headline_batch

    import benefits

    rules = benefits.load_rules(Path(__file__).resolve().parents[1] / "rules" / "jiangmen")
    status = 0
    for name, batch in (("headline (50-line stays)", headline_batch(n)),
                        ("check batch (aid groups, heavy users, near caps)", check_batch(n))):
        compared, bad = compare(batch, rules)
        print(f"{name}: {compared} claims compared, {len(bad)} disagreements")
        for d in bad[:5]:
            print(describe(d))
        status = status or (1 if bad else 0)
    batch = headline_batch(n)
    start = time.perf_counter()
    for case in batch:
        settle(case.claim, case.accumulators)
    base = time.perf_counter() - start
    start = time.perf_counter()
    for case in batch:
        benefits.evaluate(case.claim, rules, case.accumulators)
    eng = time.perf_counter() - start
    print(f"baseline {n / base:,.0f} claims/s; engine (dicts, trace on) {n / eng:,.0f} claims/s; "
          f"engine/baseline time ratio {eng / base:.1f}x")
    return status


if __name__ == "__main__":
    sys.exit(main())
