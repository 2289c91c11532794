"""Two members' years settled claim after claim (tests/years/hand-computed.yaml): every figure of
every claim computed by hand from domain.md, by a check that read no code, with its arithmetic in the
file's comments. A Jiangmen resident (低保) of 2021: repeat admissions, the 2021-07-01 version raising
the basic annual cap over what was already paid, serious illness crossing its second band, medical
and secondary aid, a 门特 per-disease cap, the general-outpatient cap, the annual cap binding. An
Anyang employee of 2022: a third admission, the large-amount subsidy past the annual cap, a chronic
disease's cap, the personal account used up.

The year is settled once by `benefits.evaluate` (each claim from the accumulators the one before left)
and once through the ledger, on a real SQLite file and a real PostgreSQL, from its own entries."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

import benefits
from benefits.ledger import open_ledger
from benefits.yamlio import load_file
from conftest import RULES

YEARS = Path(__file__).parent / "years" / "hand-computed.yaml"
MEMBERS = load_file(YEARS)[0]["members"]


def _checked(s, expected: dict, where: str) -> list[str]:
    """The differences between a settlement and the hand-computed figures of its claim."""
    got = {"deductible": s.deductible, "fund_total": s.fund_total, "patient": s.patient.total, "cash": s.patient.cash,
           **{f"payouts.{k}": v for k, v in s.payouts.items()}}
    want = {k: expected[k] for k in ("deductible", "fund_total", "patient", "cash") if k in expected}
    want |= {f"payouts.{k}": v for k, v in (expected.get("payouts") or {}).items()}
    out = [f"{where} {k}: {got.get(k, Decimal('0.00'))} != {v} by hand" for k, v in want.items()
           if got.get(k, Decimal("0.00")) != Decimal(str(v))]
    after = expected.get("accumulators") or {}
    if "admissions" in after and s.accumulators_after.admissions != after["admissions"]:
        out.append(f"{where} admissions: {s.accumulators_after.admissions} != {after['admissions']} by hand")
    out += [f"{where} {k}: {s.accumulators_after.get(k)} != {v} by hand"
            for k, v in (after.get("counters") or {}).items() if s.accumulators_after.get(k) != Decimal(str(v))]
    return out


@pytest.mark.parametrize("member", MEMBERS, ids=[m["member"]["id"] for m in MEMBERS])
def test_a_year_by_the_engine(member):
    rules = benefits.load_rules(RULES / member["rules"])
    first = member["claims"][0]
    acc = {"member_id": member["member"]["id"], **first["accumulators"]}
    bad = []
    for c in member["claims"]:
        s = benefits.evaluate(c["claim"], rules, acc)
        bad += _checked(s, c["expected"], c["claim"]["id"])
        acc = s.accumulators_after
    assert bad == []
    assert len(member["claims"]) >= 5


@pytest.mark.parametrize("member", MEMBERS, ids=[m["member"]["id"] for m in MEMBERS])
def test_a_year_through_the_ledger(ledger_url, member):
    rules = benefits.load_rules(RULES / member["rules"])
    member_id, first = member["member"]["id"], member["claims"][0]
    year = first["accumulators"]["year"]
    bad = []
    with open_ledger(ledger_url) as ledger:
        balance = (first["accumulators"].get("counters") or {}).get("personal_account.balance")
        if balance:  # the year's opening balance of the personal account: a deposit (个人账户划入)
            ledger.credit("deposit", member_id, year, "personal_account.balance", str(balance), rules=rules)
        for i, c in enumerate(member["claims"]):
            settled = ledger.settle(f"k{i}", c["claim"], rules)
            stored = benefits.Settlement.model_validate(json.loads(settled.body)["settlement"])  # as answered
            bad += _checked(stored, c["expected"], c["claim"]["id"])
        last = member["claims"][-1]["expected"]["accumulators"]
        held = ledger.accumulators(member_id, year)
    assert bad == []
    assert held.admissions == last["admissions"]
    assert {k: held.get(k) for k in last["counters"]} == {k: Decimal(str(v)) for k, v in last["counters"].items()}
