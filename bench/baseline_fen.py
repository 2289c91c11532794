"""The hand-written baseline again, in integer fen: what an integer-money design could reach at best.

`baseline.py` settles Jiangmen 2022 stays with `Decimal`, as the engine does; at 7,000-10,000
claims/s it is below the 20,000 the benchmark asks of the engine without the trace, so no tuning
of a `Decimal` engine can reach that target. This module answers the next question: how fast is
the same calculation with money as whole fen (int) and ratios as exact fractions? Same scope,
same parameters (read from `baseline.py`, so there is one copy), same reading of domain.md; only
the arithmetic differs:

    value in fen     = int   (12.34 yuan -> 1234)
    ratio or share   = (numerator, denominator), exact (0.85 -> (85, 100); quantity 0.5 -> (5, 10))
    round half up    = (2 * a + b) // (2 * b)  for a >= 0, b > 0: a / b to the nearest fen, halves up

Every quantity rounded here is >= 0 (the bill split's parts, payouts, capped products), which is
what makes that one-line rounding exact. It returns the same dict as `baseline.settle`, with ints;
`to_decimal` converts it for comparing (tests/test_bench.py holds the two baselines equal, claim by
claim). Like `baseline.settle` without `detail`, it lists no per-item split: the engine's
settlement does, so the engine does more than either baseline.

    .venv/bin/python bench/baseline_fen.py [N]     # agreement with the Decimal baseline, and both rates
"""

from __future__ import annotations

import sys
import time
from decimal import Decimal

import baseline as dec
from generate import fraction

_HUNDRED = 100


def _hundredths(d: Decimal) -> int:
    """A parameter of the Decimal baseline x 100: yuan as fen, a ratio as percent (all are exact)."""
    n = d * _HUNDRED
    if n != int(n):
        raise ValueError(f"baseline_fen: {d} is not a whole number of hundredths")
    return int(n)


# --- the same Jiangmen 2022 parameters, converted once from baseline.py --------------------------
B_SHARE_DEFAULT = (_hundredths(dec.B_SHARE_DEFAULT), _HUNDRED)
DEDUCTIBLE = {s: {lv: _hundredths(v) for lv, v in by.items()} for s, by in dec.DEDUCTIBLE.items()}
REPEAT_PCT = _hundredths(dec.REPEAT_FACTOR)
RATIO = {s: {lv: _hundredths(v) for lv, v in by.items()} for s, by in dec.RATIO.items()}
RETIRED_POINTS = _hundredths(dec.RETIRED_POINTS)
UNFILED_POINTS = _hundredths(dec.UNFILED_CROSS_PROVINCE_POINTS)
BASIC_CAP = {s: _hundredths(v) for s, v in dec.BASIC_CAP.items()}
SI_DEDUCTIBLE = _hundredths(dec.SI_DEDUCTIBLE)
SI_BAND2_START = _hundredths(dec.SI_BAND2_START)
SI_RATIOS = {s: (_hundredths(a), _hundredths(b)) for s, (a, b) in dec.SI_RATIOS.items()}
SI_CAP = _hundredths(dec.SI_CAP)
# (groups, the band's lowered start in fen, points): 10,000 x (1 - 0.80) is exact in Decimal
SI_GROUPS = tuple((names, _hundredths(dec.SI_DEDUCTIBLE * (1 - reduction)), _hundredths(points))
                  for names, reduction, points in dec.SI_GROUPS)
AID_RATIOS = tuple((names, _hundredths(r)) for names, r in dec.AID_RATIOS)
AID_CAP = _hundredths(dec.AID_CAP)
SECONDARY_THRESHOLD = _hundredths(dec.SECONDARY_THRESHOLD)
SECONDARY_PCT = _hundredths(dec.SECONDARY_RATIO)
SECONDARY_CAP = _hundredths(dec.SECONDARY_CAP)
AID_GROUPS = dec.AID_GROUPS


def _half_up(a: int, b: int) -> int:
    """a / b rounded to the nearest integer, halves up (a >= 0, b > 0)."""
    return (2 * a + b) // (2 * b)


def _fen(text) -> int:
    """Money text to fen; exact (the engine refuses money with more than two places)."""
    if text is None:
        return 0
    n, d = fraction(str(text))
    if _HUNDRED % d:
        raise ValueError(f"baseline_fen: {text!r} is not a whole number of fen")
    return n * (_HUNDRED // d)


def _pct_clamp(p: int) -> int:
    return min(max(p, 0), _HUNDRED)


def parse_items(items: list[dict]) -> list[tuple]:
    """Line items as ints: (category, price in fen, quantity n, d, payment standard in fen or None,
    B share n, d). What an integer-money design would hold once a claim is validated."""
    default_n, default_d = B_SHARE_DEFAULT
    parsed = []
    for it in items:
        qn, qd = fraction(str(it.get("quantity", 1)))
        std = it.get("payment_standard")
        share = it.get("self_pay_share")
        sn, sd = (default_n, default_d) if share is None else fraction(share)
        parsed.append((it["category"], _fen(it["unit_price"]), qn, qd, None if std is None else _fen(std), sn, sd))
    return parsed


def split_bill(items: list[tuple]) -> tuple[int, int, int, int, int]:
    """(total, fully self-paid, over-limit, pre-self-paid, policy range) in fen, domain.md 6.2,
    of items from `parse_items`."""
    total = fully = over = pre = 0
    # _half_up written out in place: this loop is the hot part of what the ceiling measures
    for cat, price, qn, qd, std, sn, sd in items:
        amount = (2 * price * qn + qd) // (2 * qd)
        total += amount
        if cat == "C":
            fully += amount
            continue
        item_over = 0
        if std is not None and price > std:  # the amount less the recognised part, round(standard x quantity)
            item_over = amount - (2 * std * qn + qd) // (2 * qd)
            over += item_over
        if cat == "B":
            pre += (2 * sn * (amount - item_over) + sd) // (2 * sd)
    return total, fully, over, pre, total - fully - over - pre


def _bands(before: int, after: int, start: int, ratios: tuple[int, int], points: int) -> int:
    """Serious illness on [before, after) in hundredths of a fen (ratios in percent)."""
    r1, r2 = _pct_clamp(ratios[0] + points), _pct_clamp(ratios[1] + points)
    part1 = max(0, min(after, SI_BAND2_START) - max(before, start))
    part2 = max(0, after - max(before, SI_BAND2_START))
    return part1 * r1 + part2 * r2


def settle(claim: dict, accumulators: dict | None = None, items: list[tuple] | None = None) -> dict:
    """Payouts (by layer id), bill split and deductible applied for one Jiangmen 2022 stay, in fen.
    `items`: the claim's line items already through `parse_items` (else they are parsed here)."""
    acc = accumulators or {}
    if claim["visit"] not in ("inpatient", "day_surgery"):
        raise ValueError(f"baseline_fen: only Jiangmen stays, not {claim['visit']!r}")
    if not str(claim["discharge_date"]).startswith("2022-"):
        raise ValueError("baseline_fen: only claims settling in 2022 (hard-coded 2022 parameters)")
    member = claim["member"]
    scheme, level = member["scheme"], claim["level"]
    groups = set(member.get("groups") or ())
    counters = acc.get("counters") or {}

    def counter(name: str) -> int:
        return _fen(counters.get(name))

    if items is not None or claim.get("items") is not None:
        total, fully, over, pre, policy = split_bill(parse_items(claim["items"]) if items is None else items)
    else:
        b = claim["bill"]
        total, fully, over, pre, policy = (_fen(b[k]) for k in
                                           ("total", "fully_self_paid", "over_limit", "pre_self_paid", "policy_range"))

    # 1. basic fund (amounts times a percentage are in hundredths of a fen until rounded)
    deductible = DEDUCTIBLE[scheme][level]
    if acc.get("admissions", 0) >= 1:
        deductible = _half_up(deductible * REPEAT_PCT, _HUNDRED)
    applied = min(policy, deductible)
    ratio = RATIO[scheme][level]
    if scheme == "employee" and member.get("member_type") == "retired":
        ratio = _pct_clamp(ratio + RETIRED_POINTS)
    if claim.get("region") == "out_of_province" and claim.get("filed") is False:
        ratio = _pct_clamp(ratio + UNFILED_POINTS)
    cap_left = max(0, BASIC_CAP[scheme] - counter("basic.annual"))
    basic = _half_up(min((policy - applied) * ratio, cap_left * _HUNDRED), _HUNDRED)
    left = policy - basic

    # 2. serious illness: the most favourable of the member's options
    before = counter("serious_illness.base")
    after = before + left
    ratios = SI_RATIOS[scheme]
    si_cap_left = max(0, SI_CAP - counter("serious_illness.paid"))
    serious = _half_up(min(_bands(before, after, SI_DEDUCTIBLE, ratios, 0), si_cap_left * _HUNDRED), _HUNDRED)
    if scheme == "resident":
        for names, start, points in SI_GROUPS:
            if groups & names:
                serious = max(serious, _half_up(_bands(before, after, start, ratios, points), _HUNDRED))
    left -= serious

    # 3. medical aid: the best ratio among the member's aid groups
    aid = 0
    aid_ratio = max((r for names, r in AID_RATIOS if groups & names), default=None)
    if aid_ratio is not None:
        aid_cap_left = max(0, AID_CAP - counter("medical_aid.paid"))
        aid = _half_up(min(left * aid_ratio, aid_cap_left * _HUNDRED), _HUNDRED)
    left -= aid

    # 4. secondary aid: aid members, on the cumulative post-aid in-policy self-pay
    secondary = 0
    if groups & AID_GROUPS:
        before = counter("secondary_aid.base")
        after = before + left
        raw = max(0, after - max(before, SECONDARY_THRESHOLD)) * SECONDARY_PCT
        sec_cap_left = max(0, SECONDARY_CAP - counter("secondary_aid.paid"))
        secondary = _half_up(min(raw, sec_cap_left * _HUNDRED), _HUNDRED)
    left -= secondary

    # 5. personal account (employees): pre-self-pay + what the funds left, up to the balance
    account = min(pre + left, counter("personal_account.balance")) if scheme == "employee" else 0

    return {
        "payouts": {"basic": basic, "serious_illness": serious, "medical_aid": aid, "secondary_aid": secondary,
                    "personal_account": account},
        "bill": {"total": total, "fully_self_paid": fully, "over_limit": over, "pre_self_paid": pre,
                 "policy_range": policy},
        "deductible": applied,
    }


def to_decimal(result: dict) -> dict:
    """The result with every fen amount as Decimal yuan (two places), to compare with baseline.settle."""
    def yuan(fen: int) -> Decimal:
        return Decimal(fen).scaleb(-2)

    return {"payouts": {k: yuan(v) for k, v in result["payouts"].items()},
            "bill": {k: yuan(v) for k, v in result["bill"].items()},
            "deductible": yuan(result["deductible"])}


def disagreements(cases) -> list[str]:
    """Each case settled by both baselines; a line per claim where any figure differs."""
    bad = []
    for case in cases:
        ours = to_decimal(settle(case.claim, case.accumulators))
        theirs = dec.settle(case.claim, case.accumulators)
        theirs = {k: theirs[k] for k in ("payouts", "bill", "deductible")}
        if ours != theirs:
            bad.append(f"claim {case.claim['id']}: fen {ours} != Decimal {theirs}")
    return bad


def rate(settle_one, work, rounds: int = 3) -> float:
    """Claims per second of the fastest of `rounds` passes over `work`, tuples of settle_one's arguments."""
    best = None
    for _ in range(rounds):
        start = time.perf_counter()
        for args in work:
            settle_one(*args)
        wall = time.perf_counter() - start
        best = wall if best is None else min(best, wall)
    return len(work) / best


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    n = int(argv[0]) if argv else 1000
    from generate import check_batch, headline_batch

    status = 0
    for name, batch in (("headline", headline_batch(n)), ("check", check_batch(n))):
        bad = disagreements(batch)
        print(f"{name} batch: {len(batch)} claims, {len(bad)} disagreements between the fen and Decimal baselines")
        for line in bad[:5]:
            print("   ", line)
        status = status or (1 if bad else 0)
    batch = headline_batch(n)
    work = [(c.claim, c.accumulators) for c in batch]
    parsed = [(c.claim, c.accumulators, parse_items(c.claim["items"])) for c in batch]
    fen_rate, dec_rate = rate(settle, work), rate(dec.settle, work)
    parsed_rate = rate(settle, parsed)
    print(f"from dicts: baseline in integer fen {fen_rate:,.0f} claims/s, in Decimal {dec_rate:,.0f} claims/s "
          f"(Decimal takes {fen_rate / dec_rate:.1f}x the time)")
    print(f"integer fen, line items parsed beforehand (untimed): {parsed_rate:,.0f} claims/s")
    return status


if __name__ == "__main__":
    sys.exit(main())
