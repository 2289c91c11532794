"""Openings (Ledger.open_year) and credits (Ledger.credit) on both stores: balances the ledger did not
settle itself, brought in as entries.

The claims are an in-service employee's, Jiangmen 2022 (domain.md 7.1: employee inpatient deductible
L1 300 / L3 800, half for a repeat admission; ratio L1 90% / L3 85%; serious illness above 10,000 of
cumulative in-policy self-pay at 80% up to 100,000; the personal account pays pre-self-pay plus the
policy-range amount every fund left, up to the balance, domain.md 6.8):

- SMALL, level 1, bill 2,150.00 = 100.00 fully self-paid + 50.00 pre-self-paid + 2,000.00 policy range;
- LARGE, level 3, bill 20,000.00 = 1,000.00 + 500.00 + 18,500.00 (conftest.claim()'s bill).
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal

import pytest

import benefits
from benefits import Accumulators, ClaimError
from benefits.ledger import (
    AlreadyReversed, Credited, HistoryConflict, KeyConflict, LedgerError, Opened, StoreUnavailable, open_ledger,
)
from benefits.ledger import migrations
from conftest import claim
from ledger_fixtures import count, raw

EMPLOYEE = {"id": "e1", "scheme": "employee", "member_type": "in_service", "groups": []}
BALANCE = "personal_account.balance"


def small(n: int = 1, month: int = 3) -> dict:
    return claim(id=f"s{n}", member=EMPLOYEE, level="level1", admission_date=f"2022-{month:02d}-01",
                 discharge_date=f"2022-{month:02d}-10",
                 bill={"total": "2150.00", "fully_self_paid": "100.00", "over_limit": "0.00",
                       "pre_self_paid": "50.00", "policy_range": "2000.00"})


def large(n: int = 1, month: int = 5) -> dict:
    return claim(id=f"l{n}", member=EMPLOYEE, level="level3", admission_date=f"2022-{month:02d}-01",
                 discharge_date=f"2022-{month:02d}-10")


def acc(admissions: int = 0, **counters: str) -> Accumulators:
    """e1's 2022 accumulators; counters by name with '.' written as '__'."""
    return Accumulators(member_id="e1", year=2022, admissions=admissions,
                        counters={k.replace("__", "."): Decimal(v) for k, v in counters.items()})


def fields(body: str) -> dict:
    return json.loads(body)["platform_fields"]


def carried(after: Accumulators) -> Accumulators:
    """Accumulators as the ledger holds them: zero counters left out."""
    return Accumulators(member_id=after.member_id, year=after.year, admissions=after.admissions,
                        counters={k: v for k, v in after.counters.items() if v})


# --- the personal account, opened --------------------------------------------------------------------


def test_an_opened_account_balance_pays_the_in_catalogue_remainder(ledger, jiangmen):
    opened = ledger.open_year("open-e1", "e1", 2022, {"year": 2022, "counters": {BALANCE: "1000.00"}})
    assert isinstance(opened, Opened)
    assert (opened.key, opened.replayed, opened.member_id, opened.year) == ("open-e1", False, "e1", 2022)
    assert json.loads(opened.body) == {
        "kind": "opening", "key": "open-e1", "member_id": "e1", "year": 2022, "pack": None, "pack_hash": None,
        "accumulators": {"member_id": "e1", "year": 2022, "admissions": 0, "counters": {BALANCE: "1000.00"}},
        "entries": [{"counter": BALANCE, "month": "", "delta": "1000.00"}]}
    assert [(e.settlement_key, e.counter, e.delta) for e in ledger.entries("e1", 2022)] == [("open-e1", BALANCE, 100000)]
    assert ledger.accumulators("e1", 2022) == acc(personal_account__balance="1000.00")
    record = ledger.get("open-e1")
    assert (record.kind, record.seq, record.pack, record.pack_hash, record.pack_version) == ("opening", 1, None, None, None)

    # SMALL, level 1: basic = (2,000.00 - 300.00 deductible) x 90% = 1,530.00; the policy range leaves
    # 470.00; the account pays min(50.00 pre-self-pay + 470.00, 1,000.00) = 520.00 (below the balance),
    # leaving 1,000.00 - 520.00 = 480.00; cash = 2,150.00 - 1,530.00 - 520.00 = 100.00 (the fully self-paid part).
    first = fields(ledger.settle("k1", small(), jiangmen).body)
    assert (first["hifp_pay"], first["acct_pay"], first["balc"], first["psn_cash_pay"]) == (
        "1530.00", "520.00", "480.00", "100.00")
    assert ledger.accumulators("e1", 2022).get(BALANCE) == Decimal("480.00")
    assert [(e.counter, e.delta) for e in ledger.entries("e1", 2022) if e.settlement_key == "k1"
            and e.counter == BALANCE] == [(BALANCE, -52000)]

    # LARGE, level 3, the second admission: deductible 50% x 800.00 = 400.00; basic = (18,500.00 - 400.00)
    # x 85% = 15,385.00; in-policy self-pay 18,500.00 - 15,385.00 = 3,115.00, cumulative 470.00 + 3,115.00
    # = 3,585.00, below serious illness's 10,000.00; the remainder 500.00 + 3,115.00 = 3,615.00 is above
    # the 480.00 left: the account pays 480.00 and is empty; cash = 20,000.00 - 15,385.00 - 480.00 = 4,135.00.
    second = fields(ledger.settle("k2", large(), jiangmen).body)
    assert (second["hifp_pay"], second["hifob_pay"], second["acct_pay"], second["balc"], second["psn_cash_pay"]) == (
        "15385.00", "0.00", "480.00", "0.00", "4135.00")
    after = ledger.accumulators("e1", 2022)
    assert after.get(BALANCE) == Decimal("0.00") and BALANCE not in after.counters  # zero: no counter
    assert after == acc(2, basic__annual="16915.00", serious_illness__base="3585.00")  # 1,530 + 15,385; 470 + 3,115


def test_opened_counters_then_settlements_equal_the_engines_serial_result(ledger, jiangmen):
    """A member joining the ledger in May with one admission, 20,000.00 of basic fund and 9,000.00 of
    in-policy self-pay already used elsewhere, and 1,000.00 in the account."""
    opening = acc(1, basic__annual="20000.00", serious_illness__base="9000.00", personal_account__balance="1000.00")
    ledger.open_year("open-e1", "e1", 2022, opening)
    assert ledger.accumulators("e1", 2022) == opening

    # LARGE as the second admission: basic 15,385.00 (as above); in-policy self-pay 3,115.00 takes the
    # cumulative from 9,000.00 to 12,115.00, so serious illness pays 80% x (12,115.00 - 10,000.00) = 1,692.00;
    # the remainder 500.00 + (3,115.00 - 1,692.00) = 1,923.00 is above the balance: the account pays
    # 1,000.00; cash = 20,000.00 - 15,385.00 - 1,692.00 - 1,000.00 = 1,923.00.
    done = ledger.settle("k1", large(), jiangmen)
    pf = fields(done.body)
    assert (pf["hifp_pay"], pf["hifob_pay"], pf["acct_pay"], pf["balc"], pf["psn_cash_pay"]) == (
        "15385.00", "1692.00", "1000.00", "0.00", "1923.00")
    expected = benefits.evaluate(large(), jiangmen, opening)  # the engine, serially, from the same opening
    assert json.loads(done.body)["settlement"] == expected.model_dump(mode="json")
    assert ledger.accumulators("e1", 2022) == carried(expected.accumulators_after)
    assert ledger.accumulators("e1", 2022) == acc(2, basic__annual="35385.00", serious_illness__base="12115.00",
                                                  serious_illness__paid="1692.00")  # 20,000 + 15,385; 9,000 + 3,115

    then = benefits.evaluate(small(2, month=7), jiangmen, carried(expected.accumulators_after))
    assert json.loads(ledger.settle("k2", small(2, month=7), jiangmen).body)["settlement"] == then.model_dump(mode="json")
    assert ledger.accumulators("e1", 2022) == carried(then.accumulators_after)
    assert ledger.accumulators("e1", 2022).admissions == 3


# --- idempotence and the rule of one opening ----------------------------------------------------------


def test_an_opening_under_one_key_twice_is_written_once(ledger, ledger_url, jiangmen):
    first = ledger.open_year("open-1", "e1", 2022, acc(1, basic__annual="20000.00", personal_account__balance="1000.00"))
    rows = count(ledger_url, "settlements"), count(ledger_url, "entries")
    assert rows == (1, 3)
    # the same balances, written otherwise: no member id, '1000' for '1000.00', a zero counter, another order
    same = {"year": 2022, "admissions": 1,
            "counters": {BALANCE: "1000", "serious_illness.base": "0.00", "basic.annual": "20000.00"}}
    again = ledger.open_year("open-1", "e1", 2022, same)
    assert (again.replayed, again.body) == (True, first.body)  # byte for byte
    ledger.settle("k1", small(), jiangmen)
    later = ledger.open_year("open-1", "e1", 2022, same, rules=jiangmen)  # still a replay after a settlement
    assert (later.replayed, later.body) == (True, first.body)
    assert count(ledger_url, "settlements") == 2

    with pytest.raises(KeyConflict) as caught:
        ledger.open_year("open-1", "e1", 2022, acc(1, basic__annual="20000.00", personal_account__balance="999.99"))
    assert (caught.value.status, caught.value.problems[0].path) == (409, ("key",))
    assert "already opened other accumulators (member 'e1', 2022)" in str(caught.value)
    with pytest.raises(KeyConflict, match="taken by a settlement"):
        ledger.open_year("k1", "e1", 2022, acc())
    with pytest.raises(KeyConflict, match="taken by an opening"):
        ledger.settle("open-1", small(5), jiangmen)
    with pytest.raises(KeyConflict, match="taken by an opening"):
        ledger.credit("open-1", "e1", 2022, BALANCE, "1.00")


def test_a_second_opening_under_another_key_is_refused(ledger, ledger_url):
    ledger.open_year("open-1", "e1", 2022, acc(personal_account__balance="1000.00"))
    rows = count(ledger_url, "settlements"), count(ledger_url, "entries")
    with pytest.raises(HistoryConflict) as caught:
        ledger.open_year("open-2", "e1", 2022, acc(personal_account__balance="2000.00"))
    assert isinstance(caught.value, LedgerError)
    assert (caught.value.status, caught.value.problems[0].path) == (409, ("member_id",))
    assert str(caught.value) == (
        "member_id: the year 2022 of member 'e1' was already opened, under key 'open-1': an opening never replaces "
        "balances; to correct it, reverse it (and any settlement made on it) and open the year again")
    assert (count(ledger_url, "settlements"), count(ledger_url, "entries")) == rows
    assert ledger.accumulators("e1", 2022) == acc(personal_account__balance="1000.00")
    # other member-years are their own
    assert ledger.open_year("open-3", "e1", 2021, {"year": 2021}).replayed is False
    assert ledger.open_year("open-4", "e2", 2022, {"year": 2022}).replayed is False


def test_an_opening_after_a_settlement_or_a_credit_is_refused_until_they_are_reversed(ledger, ledger_url, jiangmen):
    ledger.settle("k1", small(), jiangmen)
    ledger.credit("d1", "e1", 2022, BALANCE, "300.00")
    rows = count(ledger_url, "settlements"), count(ledger_url, "entries")
    with pytest.raises(HistoryConflict) as caught:
        ledger.open_year("open-1", "e1", 2022, acc(personal_account__balance="1000.00"))
    assert (caught.value.status, caught.value.problems[0].path) == (409, ("member_id",))
    assert "has requests in 2022 that stand (settlement 'k1', credit 'd1'): an opening must be the year's first" in str(
        caught.value)
    assert (count(ledger_url, "settlements"), count(ledger_url, "entries")) == rows

    ledger.reverse("r1", of="k1")
    with pytest.raises(HistoryConflict, match=r"\(credit 'd1'\)"):
        ledger.open_year("open-1", "e1", 2022, acc(personal_account__balance="1000.00"))
    ledger.reverse("r2", of="d1")
    assert ledger.accumulators("e1", 2022) == acc()  # every request reversed: nothing stands
    opened = ledger.open_year("open-1", "e1", 2022, acc(personal_account__balance="1000.00"))
    assert opened.replayed is False
    assert ledger.accumulators("e1", 2022) == acc(personal_account__balance="1000.00")  # exactly the opening
    assert [r.key for r in ledger.history("e1", 2022)] == ["k1", "d1", "r1", "r2", "open-1"]


def test_concurrent_openings_of_one_member_year_write_one(ledger_url):
    start = threading.Barrier(6)

    def post(n: int):
        start.wait()
        try:
            return ledger.open_year(f"open-{n}", "e1", 2022, acc(personal_account__balance=f"{n + 1}00.00"))
        except HistoryConflict as exc:
            return exc

    with open_ledger(ledger_url) as ledger, ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(post, range(6)))
        won = [a for a in answers if isinstance(a, Opened)]
        assert len(won) == 1 and sum(isinstance(a, HistoryConflict) for a in answers) == 5
        n = int(won[0].key.split("-")[1])
        assert ledger.accumulators("e1", 2022) == acc(personal_account__balance=f"{n + 1}00.00")
        assert count(ledger_url, "entries") == 1


# --- reversing an opening --------------------------------------------------------------------------


def test_an_opening_is_reversed_only_while_no_settlement_stands_on_it(ledger, ledger_url, jiangmen):
    ledger.open_year("open-1", "e1", 2022, acc(1, basic__annual="20000.00", personal_account__balance="1000.00"))
    ledger.settle("k1", small(), jiangmen)
    rows = count(ledger_url, "settlements"), count(ledger_url, "entries")
    with pytest.raises(HistoryConflict) as caught:
        ledger.reverse("r0", of="open-1")
    assert (caught.value.status, caught.value.problems[0].path) == (409, ("of",))
    assert str(caught.value) == ("of: opening 'open-1' cannot be reversed: settlement 'k1' of member 'e1', 2022, "
                                 "made after it on its balances, stands; reverse it first")
    assert (count(ledger_url, "settlements"), count(ledger_url, "entries")) == rows

    ledger.reverse("r1", of="k1")
    done = ledger.reverse("r0", of="open-1")
    assert (done.replayed, done.of, done.later) == (False, "open-1", ())
    assert json.loads(done.body) == {
        "kind": "reverse", "key": "r0", "member_id": "e1", "year": 2022, "pack": None, "pack_hash": None,
        "of": "open-1", "of_kind": "opening",
        "entries": [{"counter": "basic.annual", "month": "", "delta": "-20000.00"},
                    {"counter": BALANCE, "month": "", "delta": "-1000.00"},
                    {"counter": "admissions", "month": "", "delta": "-1"}],
        "later": []}
    assert ledger.accumulators("e1", 2022) == acc()
    assert ledger.get("open-1").reversed_by == "r0"
    again = ledger.reverse("r0", of="open-1")
    assert (again.replayed, again.body) == (True, done.body)

    with pytest.raises(AlreadyReversed, match="opening 'open-1' was already reversed, under key 'r0'"):
        ledger.reverse("r9", of="open-1")
    with pytest.raises(AlreadyReversed, match="a reversal is not reversed: make the opening again under a new key"):
        ledger.reverse("r9", of="r0")
    # and the year opens again, with the corrected balances
    assert ledger.open_year("open-2", "e1", 2022, acc(1, basic__annual="2000.00")).replayed is False
    assert ledger.accumulators("e1", 2022) == acc(1, basic__annual="2000.00")


def test_a_counter_the_engine_refuses_is_corrected_by_reversing_the_opening(ledger, ledger_url, jiangmen):
    """Without a pack the ledger cannot know a cap: 600,000.00 of basic fund is more than the employee
    annual cap ever allowed (560,000.00, domain.md 7.1), which the engine refuses at the next settlement,
    saying where the balance comes from (found by a red team: a request that sent no accumulators was
    told about accumulators.counters.basic.annual, and not which request wrote it)."""
    ledger.open_year("open-1", "e1", 2022, acc(basic__annual="600000.00"))
    for attempt in (lambda: ledger.settle("k1", small(), jiangmen), lambda: ledger.pre_settle(small(), jiangmen)):
        with pytest.raises(ClaimError) as caught:
            attempt()
        assert caught.value.problems[0].path == ("accumulators", "counters", "basic.annual")
        assert str(caught.value) == (
            "accumulators.counters.basic.annual: 600000.00 is above the most cap 'basic.annual_cap.employee' has "
            "ever allowed (560000.00); check the accumulators (the ledger's balance, from opening 'open-1')")
    assert count(ledger_url, "settlements") == 1
    ledger.reverse("r1", of="open-1")  # no settlement stands on it
    ledger.open_year("open-2", "e1", 2022, acc(basic__annual="60000.00"))
    assert ledger.settle("k1", small(), jiangmen).replayed is False


def test_a_counter_the_pack_does_not_keep_is_the_ledgers_conflict_naming_what_stands_on_it(ledger, ledger_url,
                                                                                          jiangmen):
    """Found by red teams: a counter an opening checked against no pack brought in, which the pack does not
    keep, refused every later settlement as the claim's error (422 on accumulators the request never sent).
    It is the ledger's (409), naming the standing requests that wrote it: not an opening reversed since, nor
    its reversal."""
    ledger.open_year("o1", "e1", 2022, acc(bogus__thing="5.00"))
    ledger.reverse("r1", of="o1")
    ledger.open_year("o2", "e1", 2022, acc(bogus__thing="7.00"))
    for attempt in (lambda: ledger.settle("k1", small(), jiangmen), lambda: ledger.pre_settle(small(), jiangmen)):
        with pytest.raises(HistoryConflict) as caught:
            attempt()
        assert (caught.value.status, caught.value.problems[0].path) == (409, ("claim", "member", "id"))
        assert str(caught.value).startswith(
            "claim.member.id: member 'e1', 2022: the ledger holds a counter pack 'jiangmen' does not keep (unknown "
            "counter 'bogus.thing'; pack 'jiangmen' keeps: basic.annual,")
        assert str(caught.value).endswith(
            "); written by opening 'o2': reverse it, and bring the counters in again as pack 'jiangmen' keeps them "
            "(an opening checked against it)")
    assert count(ledger_url, "settlements") == 3
    ledger.reverse("r2", of="o2")
    assert ledger.settle("k1", small(), jiangmen).replayed is False


def test_a_member_settled_under_one_scheme_then_claiming_under_another_is_the_claims_error(ledger, jiangmen):
    """Found by a red team: an employee's basic fund of 339,320.00 (within the employee cap, 560,000.00) is
    above what a resident's cap ever allowed (300,000.00); a resident claim of the same member is the
    claim's error (its scheme), never advice to reverse the employee's valid settlement."""
    stay = dict(small(), bill={"total": "400000.00", "fully_self_paid": "0.00", "over_limit": "0.00",
                               "pre_self_paid": "0.00", "policy_range": "400000.00"})
    paid = json.loads(ledger.settle("k1", stay, jiangmen).body)["settlement"]["accumulators_after"]
    resident = dict(small(), id="s2", member={"id": "e1", "scheme": "resident", "member_type": "adult", "groups": []},
                    admission_date="2022-06-01", discharge_date="2022-06-10")
    with pytest.raises(ClaimError) as caught:
        ledger.settle("k2", resident, jiangmen)
    assert caught.value.problems[0].path == ("accumulators", "counters", "basic.annual")
    assert str(caught.value) == (
        f"accumulators.counters.basic.annual: {paid['counters']['basic.annual']} is above the most cap "
        "'basic.annual_cap.resident' has ever allowed (300000.00); check the accumulators (the ledger's balance, "
        "from settlement 'k1')")


# --- what an opening accepts -------------------------------------------------------------------------


def test_an_opening_is_checked_and_writes_nothing_when_refused(ledger, ledger_url, jiangmen):
    cases = [
        ({"year": 2021}, None, ("accumulators", "year"), "2021, but the opening is for 2022"),
        ({"year": 2022, "member_id": "e2"}, None, ("accumulators", "member_id"), "'e2', but the opening is for member 'e1'"),
        ({"year": 2022, "counters": {"admissions": "1.00"}}, None, ("accumulators", "counters", "admissions"),
         "give it as `admissions`"),
        ({"year": 2022, "counters": {"outpatient.month@2021-03": "80.00"}}, None,
         ("accumulators", "counters", "outpatient.month@2021-03"), "expected a month of 2022"),
        ({"year": 2022, "counters": {"outpatient.month@2022-13": "80.00"}}, None,
         ("accumulators", "counters", "outpatient.month@2022-13"), "expected a month of 2022"),
        ({"year": 2022, "counters": {"basic.annual": 1000.5}}, None, ("accumulators", "counters", "basic.annual"),
         "floats cannot hold fen exactly"),
        ({"year": 2022, "counters": {"basic.annual": "-1.00"}}, None, ("accumulators", "counters", "basic.annual"),
         "cannot be negative"),
        ({"year": 2022, "admissions": 10_001}, None, ("accumulators", "admissions"),
         "should be less than or equal to 10000 (got 10001)"),
        ({"year": 2022, "colour": "red"}, None, ("accumulators", "colour"), ""),
        ("not a mapping", None, ("accumulators",), ""),
        ({"year": 2022, "counters": {"basic.yearly": "1.00"}}, jiangmen, ("accumulators", "counters", "basic.yearly"),
         "unknown counter 'basic.yearly'; pack 'jiangmen' keeps: basic.annual"),
        ({"year": 2022, "counters": {"outpatient.month": "80.00"}}, jiangmen,
         ("accumulators", "counters", "outpatient.month"), "kept per month, as outpatient.month@2022-MM"),
        ({"year": 2022, "counters": {"basic.annual@2022-03": "80.00"}}, jiangmen,
         ("accumulators", "counters", "basic.annual@2022-03"), "a yearly counter, written without @"),
    ]
    for value, pack, path, words in cases:
        with pytest.raises(LedgerError) as caught:
            ledger.open_year("open-1", "e1", 2022, value, rules=pack)
        assert (caught.value.status, caught.value.problems[0].path) == (400, path), value
        assert words in str(caught.value), (value, str(caught.value))
    for key, member, year, path in [("", "e1", 2022, ("key",)), ("o", "", 2022, ("member_id",)),
                                    ("o", "e1", 1800, ("year",)), ("o", "e1", "2022", ("year",))]:
        with pytest.raises(LedgerError) as caught:
            ledger.open_year(key, member, year, {"year": 2022})
        assert caught.value.problems[0].path == path
    assert count(ledger_url, "settlements") == count(ledger_url, "entries") == 0

    # checked against the pack: the monthly counter in its form, and the pack named in the body
    done = ledger.open_year("open-1", "e1", 2022, {"year": 2022, "counters": {"outpatient.month@2022-03": "80.00"}},
                            rules=jiangmen)
    body = json.loads(done.body)
    assert (body["pack"], body["pack_hash"]) == ("jiangmen", jiangmen.content_hash)
    assert body["entries"] == [{"counter": "outpatient.month", "month": "2022-03", "delta": "80.00"}]
    assert (ledger.get("open-1").pack, ledger.get("open-1").pack_version) == ("jiangmen", None)


def test_an_opening_above_what_any_member_may_hold_is_refused_with_the_pack(ledger, ledger_url, jiangmen):
    # domain.md 6.11: Jiangmen's medical aid cap is 80,000.00 for every member (7.1), so 999,999.00 paid
    # is impossible: opened, every claim of the member-year was refused until it was reversed. Serious
    # illness has none for 特困 members (the cap is lifted), so any amount may be opened for it.
    with pytest.raises(LedgerError) as caught:
        ledger.open_year("o1", "e1", 2021, {"year": 2021, "counters": {"medical_aid.paid": "999999.00"}},
                         rules=jiangmen)
    assert caught.value.problems[0].path == ("accumulators", "counters", "medical_aid.paid")
    assert caught.value.problems[0].message == (
        "999999.00 is above the most cap 'medical_aid.annual_cap' has ever allowed any member (80000.00): every claim "
        "of the member-year would be refused; check the accumulators")
    assert count(ledger_url, "settlements") == 0
    opened = ledger.open_year("o2", "e1", 2021, {"year": 2021, "counters": {
        "medical_aid.paid": "80000.00", "serious_illness.paid": "999999.00"}}, rules=jiangmen)
    assert opened.replayed is False
    # without the pack nothing says what the caps are: the opening is taken as it is
    assert ledger.open_year("o3", "e2", 2021, {"year": 2021, "counters": {"medical_aid.paid": "999999.00"}}).replayed is False


def test_an_opening_is_not_refused_by_a_cap_that_turns_on_age(ledger, jiangmen, tmp_path):
    # An opening gives no age: a cap for residents of 60 and over (700,000.00, above the others') was
    # never counted, and 650,000.00 used, valid for a 65-year-old, was refused as above every cap.
    import shutil

    from conftest import RULES, edit

    pack = tmp_path / "jiangmen"
    shutil.copytree(RULES / "jiangmen", pack)
    edit(pack, "layers/basic.yaml", "  - {id: annual, when: scheme == resident,",
         "  - {id: annual, when: scheme == resident and age >= 60, value: basic.annual_cap.senior, counter: basic.annual}\n"
         "  - {id: annual, when: scheme == resident,")
    with (pack / "parameters" / "basic_inpatient.yaml").open("a", encoding="utf-8") as f:
        f.write('\nbasic.annual_cap.senior:\n  description: {zh: 年度最高支付限额（60岁以上）, en: "cap, 60 and over"}\n'
                '  unit: yuan\n  values:\n    2021-01-01: {value: 700000.00, source: "assumed: test"}\n')
    rules = benefits.load_rules(pack)
    done = ledger.open_year("o1", "e1", 2022, {"year": 2022, "counters": {"basic.annual": "650000.00"}}, rules=rules)
    assert done.replayed is False


# --- credits -------------------------------------------------------------------------------------------


def test_a_reversal_that_would_lift_a_balance_past_the_largest_amount_is_refused(ledger, ledger_url, jiangmen):
    # SMALL draws 520.00 of a 1000.00 balance (480.00 left); a credit of 999,999,520.00 fills it to the
    # largest amount, 1,000,000,000.00. Reversing SMALL would give the 520.00 back: 1,000,000,520.00.
    # Written, the member-year no longer read as accumulators: 503 on every request, for good.
    ledger.credit("d1", "e1", 2022, BALANCE, "1000.00")
    assert fields(ledger.settle("k1", small(), jiangmen).body)["acct_pay"] == "520.00"
    ledger.credit("d2", "e1", 2022, BALANCE, "999999520.00")
    with pytest.raises(HistoryConflict) as caught:
        ledger.reverse("r1", of="k1")
    assert caught.value.problems[0].path == ("of",)
    assert str(caught.value.problems[0].message) == (
        "reversing settlement 'k1' would put personal_account.balance at 1000000520.00, above the largest amount "
        "accepted (1000000000.00); reverse a later credit first")
    assert ledger.accumulators("e1", 2022).get(BALANCE) == Decimal("1000000000.00")  # readable, unchanged
    ledger.reverse("r2", of="d2")
    assert ledger.reverse("r1", of="k1").replayed is False
    assert ledger.accumulators("e1", 2022).get(BALANCE) == Decimal("1000.00")


def test_a_credit_adds_to_the_balance_the_account_then_pays_from(ledger, ledger_url, jiangmen):
    done = ledger.credit("d1", "e1", 2022, BALANCE, "1000.00")
    assert isinstance(done, Credited)
    assert (done.key, done.replayed, done.counter, done.balance) == ("d1", False, BALANCE, Decimal("1000.00"))
    assert json.loads(done.body) == {"kind": "credit", "key": "d1", "member_id": "e1", "year": 2022, "pack": None,
                                     "pack_hash": None, "counter": BALANCE, "amount": "1000.00", "balance": "1000.00"}
    # SMALL: the account pays 520.00 of it (as in the opening test), 480.00 left
    assert fields(ledger.settle("k1", small(), jiangmen).body)["acct_pay"] == "520.00"
    more = ledger.credit("d2", "e1", 2022, BALANCE, Decimal("300"), rules=jiangmen)
    assert more.balance == Decimal("780.00")  # 480.00 + 300.00
    assert json.loads(more.body)["pack"] == "jiangmen"
    again = ledger.credit("d2", "e1", 2022, BALANCE, "300.00")
    assert (again.replayed, again.body, again.balance) == (True, more.body, Decimal("780.00"))
    assert ledger.accumulators("e1", 2022).get(BALANCE) == Decimal("780.00")
    # LARGE: the remainder 3,615.00 (as above) is above 780.00: the account pays all of it
    pf = fields(ledger.settle("k2", large(), jiangmen).body)
    assert (pf["acct_pay"], pf["balc"]) == ("780.00", "0.00")

    with pytest.raises(KeyConflict, match="already credited another amount or counter"):
        ledger.credit("d2", "e1", 2022, BALANCE, "300.01")
    # a credit is reversed only while no settlement stands after it
    with pytest.raises(HistoryConflict, match="credit 'd1' cannot be reversed: settlement 'k1', settlement 'k2'"):
        ledger.reverse("r1", of="d1")
    ledger.reverse("r2", of="k2")
    reversed_credit = ledger.reverse("r3", of="d2")
    assert json.loads(reversed_credit.body)["entries"] == [{"counter": BALANCE, "month": "", "delta": "-300.00"}]
    assert ledger.accumulators("e1", 2022).get(BALANCE) == Decimal("480.00")  # back to after k1
    assert count(ledger_url, "settlements") == 6


def test_only_a_balance_is_credited(ledger, ledger_url, jiangmen):
    cases = [
        ("basic.annual", "1.00", None, ("counter",), "'basic.annual' is not a balance"),
        ("Personal.Balance", "1.00", None, ("counter",), "expected a counter's name"),
        (BALANCE + "@2022-03", "1.00", None, ("counter",), "a balance is a yearly counter"),
        ("other.balance", "1.00", jiangmen, ("counter",),
         "not a balance of pack 'jiangmen'; its personal-account balance counters: personal_account.balance"),
        ("basic.annual", "1.00", jiangmen, ("counter",), "not a balance of pack 'jiangmen'"),
        (BALANCE, 1000.0, None, ("amount",), "floats cannot hold fen exactly"),
        (BALANCE, "0.00", None, ("amount",), "a credit adds a positive amount"),
        (BALANCE, "-5.00", None, ("amount",), "cannot be negative"),
        (BALANCE, "1.005", None, ("amount",), "at most two decimals"),
        (BALANCE, True, None, ("amount",), "floats cannot hold fen exactly"),
        # a name no pack can declare (it made every read of the member-year 200 KB long)
        ("x" * 100_000 + ".balance", "1.00", None, ("counter",), "expected a counter's name of at most 100 characters"),
    ]
    for counter, amount, pack, path, words in cases:
        with pytest.raises(LedgerError) as caught:
            ledger.credit("d1", "e1", 2022, counter, amount, rules=pack)
        assert (caught.value.status, caught.value.problems[0].path) == (400, path), (counter, amount)
        assert words in str(caught.value), (counter, amount, str(caught.value))
    # a pack that settles no claim of the year: the member-year would be tied to it, every claim refused
    with pytest.raises(LedgerError) as caught:
        ledger.credit("d1", "e1", 2030, BALANCE, "1.00", rules=jiangmen)
    assert caught.value.problems[0].path == ("year",)
    assert "pack 'jiangmen' covers 2021-01-01 to" in str(caught.value) and "no day of 2030" in str(caught.value)
    with pytest.raises(LedgerError) as caught:
        ledger.open_year("o1", "e1", 2030, {"year": 2030}, rules=jiangmen)
    assert caught.value.problems[0].path == ("year",) and "no day of 2030" in str(caught.value)
    assert count(ledger_url, "settlements") == 0

    ledger.credit("d1", "e1", 2022, "other.balance", "999999999.00")  # any *.balance without a pack
    with pytest.raises(LedgerError) as caught:  # 999,999,999.00 + 1.01 passes the largest amount, 1,000,000,000.00
        ledger.credit("d2", "e1", 2022, "other.balance", "1.01")
    assert caught.value.problems[0].path == ("amount",)
    assert "would be 1000000000.01, above the largest amount accepted" in str(caught.value)
    assert ledger.credit("d2", "e1", 2022, "other.balance", "1.00").balance == Decimal("1000000000.00")


# --- the schema --------------------------------------------------------------------------------------


def versions(ledger_url: str) -> list[int]:
    """The schema migrations applied to the ledger, in order."""
    conn = raw(ledger_url)
    try:
        return [row[0] for row in conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall()]
    finally:
        conn.close()


def refused_at_open(ledger_url: str) -> str:
    """The message of the store's refusal to open the ledger (StoreUnavailable)."""
    with pytest.raises(StoreUnavailable) as caught:
        open_ledger(ledger_url)
    return str(caught.value)


@contextmanager
def previous_release(ledger_url: str, version: int):
    """The ledger opened as the release whose schema ends at `version` opens it (the later migrations left out)."""
    dialect = "postgresql" if ledger_url.startswith("postgresql://") else "sqlite"
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(migrations.MIGRATIONS, dialect, migrations.MIGRATIONS[dialect][:version])
        with open_ledger(ledger_url) as old:
            yield old


def test_a_ledger_of_the_previous_schema_is_migrated_with_its_history(ledger_url, jiangmen):
    dialect = "postgresql" if ledger_url.startswith("postgresql://") else "sqlite"
    with previous_release(ledger_url, 1) as old:  # the previous release: schema version 1 only
        settled = old.settle("k1", small(), jiangmen)
        old.settle("k2", large(), jiangmen)
        reversed_ = old.reverse("r2", of="k2")
        before = old.member_year("e1", 2022)
    assert versions(ledger_url) == [1]

    with open_ledger(ledger_url) as ledger:
        assert versions(ledger_url) == [1, 2, 3, 4, 5, 6, 7]
        assert ledger.member_year("e1", 2022) == before
        assert (ledger.get("k1").body, ledger.get("r2").body) == (settled.body, reversed_.body)
        with pytest.raises(HistoryConflict):
            ledger.open_year("open-1", "e1", 2022, acc())
        ledger.reverse("r1", of="k1")
        assert ledger.open_year("open-1", "e1", 2022, acc(personal_account__balance="1000.00")).replayed is False
        assert ledger.settle("k3", small(3), jiangmen).replayed is False

    conn = raw(ledger_url)
    try:
        marker = "%s" if dialect == "postgresql" else "?"
        row = ("bad", "settle", "e9", 2022, 1, "d", None, None, None, "{}", "2022-01-01T00:00:00+00:00", None, None)
        with pytest.raises(Exception, match="(?i)check"):  # a settlement names its pack
            conn.execute(f"INSERT INTO settlements VALUES ({', '.join([marker] * 13)})", row)
        with pytest.raises(Exception, match="(?i)check"):
            conn.execute(f"INSERT INTO settlements VALUES ({', '.join([marker] * 13)})", ("bad", "refund") + row[2:])
        if dialect == "sqlite":
            conn.execute("PRAGMA foreign_keys=ON")
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
            with pytest.raises(Exception, match="FOREIGN KEY"):  # entries still refer to the rebuilt table
                conn.execute("INSERT INTO entries (member_id, year, settlement_key, counter, month, delta) "
                             "VALUES ('e1', 2022, 'nope', 'x', '', 1)")
            with pytest.raises(Exception, match="append-only"):
                conn.execute("DELETE FROM entries")
    finally:
        conn.close()


def test_a_ledger_holding_a_claim_settled_twice_is_not_migrated_until_one_is_reversed(ledger_url, jiangmen):
    """Schema version 3 refuses a claim settled twice. A ledger of version 2 that already holds one (the
    claim resent under a new key, before the ledger refused it) is not migrated silently, nor half: it
    is refused, unchanged, naming the claim and both keys, until all but one is reversed."""
    dialect = "postgresql" if ledger_url.startswith("postgresql://") else "sqlite"
    marker = "%s" if dialect == "postgresql" else "?"

    with previous_release(ledger_url, 2) as old:  # the previous release: schema version 2
        old.settle("k1", small(), jiangmen)
        old.settle("k2", large(), jiangmen)
        conn = raw(ledger_url)  # k1's claim again under k3, as that release settled it (its entries left out)
        conn.execute(f"INSERT INTO settlements SELECT {marker}, kind, member_id, year, 3, request_digest, pack, "
                     f"pack_hash, pack_version, body, created_at, reversed_by, reverses FROM settlements "
                     f"WHERE key = {marker}", ("k3", "k1"))
        conn.close()
    assert versions(ledger_url) == [1, 2]

    message = refused_at_open(ledger_url)
    assert "holds 1 claim(s) settled more than once" in message
    assert "claim 's1' of member 'e1' (2022) under keys 'k1', 'k3'" in message
    assert "left unchanged" in message and "Reverse all but one settlement of each claim" in message
    assert versions(ledger_url) == [1, 2]
    assert count(ledger_url, "settlements") == 3

    with previous_release(ledger_url, 2) as old:
        old.reverse("r3", of="k3")
    with open_ledger(ledger_url) as ledger:
        assert versions(ledger_url) == [1, 2, 3, 4, 5, 6, 7]
        with pytest.raises(HistoryConflict):
            ledger.settle("k4", small(), jiangmen)
        ledger.reverse("r2", of="k2")  # settled after k1, on its amounts: reversed first, so s1 is paid in its place
        ledger.reverse("r1", of="k1")
        assert ledger.settle("k4", small(), jiangmen).replayed is False


def test_a_ledger_holding_a_claim_settled_in_two_years_is_not_migrated_until_one_is_reversed(ledger_url,
                                                                                           jiangmen):
    """Schema version 4 settles a claim once for its member, whatever the year. A ledger of version 3 that
    holds one claim standing in two years (resent with its discharge moved past New Year) is refused,
    unchanged, naming the claim and its keys with their years, until all but one is reversed."""
    dialect = "postgresql" if ledger_url.startswith("postgresql://") else "sqlite"
    marker = "%s" if dialect == "postgresql" else "?"

    january = claim(id="s1", member=EMPLOYEE, level="level1", admission_date="2022-12-28",
                    discharge_date="2023-01-04",
                    bill={"total": "2150.00", "fully_self_paid": "100.00", "over_limit": "0.00",
                          "pre_self_paid": "50.00", "policy_range": "2000.00"})
    with previous_release(ledger_url, 3) as old:  # the previous release: schema version 3
        old.settle("k1", small(), jiangmen)
        old.settle("k2", large(), jiangmen)
        conn = raw(ledger_url)  # k1's claim again in 2023 under k3, as that release settled it (no entries)
        conn.execute(f"INSERT INTO settlements SELECT {marker}, kind, member_id, 2023, 1, request_digest, pack, "
                     f"pack_hash, pack_version, body, created_at, reversed_by, reverses FROM settlements "
                     f"WHERE key = {marker}", ("k3", "k1"))
        conn.close()
    assert versions(ledger_url) == [1, 2, 3]

    message = refused_at_open(ledger_url)
    assert "holds 1 claim(s) settled more than once in two years of its member" in message
    assert "claim 's1' of member 'e1' under keys 'k1' (2022), 'k3' (2023)" in message
    assert "left unchanged" in message
    assert versions(ledger_url) == [1, 2, 3]
    assert count(ledger_url, "settlements") == 3

    with previous_release(ledger_url, 3) as old:
        old.reverse("r3", of="k3")
    with open_ledger(ledger_url) as ledger:
        assert versions(ledger_url) == [1, 2, 3, 4, 5, 6, 7]
        with pytest.raises(HistoryConflict, match="already settled in 2022 \\(this time it falls in 2023\\)"):
            ledger.settle("k4", january, jiangmen)


def as_written(ledger_url: str, *statements: tuple[str, tuple]) -> None:
    """Rows changed as an earlier release wrote them, before it checked what this one checks ({m} in each
    statement: the driver's placeholder)."""
    marker = "%s" if ledger_url.startswith("postgresql://") else "?"
    conn = raw(ledger_url)
    try:
        for sql, params in statements:
            conn.execute(sql.format(m=marker), params)
    finally:
        conn.close()


def test_a_ledger_holding_a_claim_settled_for_two_members_is_not_migrated_until_one_is_reversed(ledger_url,
                                                                                              jiangmen):
    """Schema version 7 settles a claim once, whoever's it is. A ledger of version 6 that holds one claim
    standing for two members (resent with the member id corrected, and paid to both) is refused, unchanged,
    naming the claim and its keys with their members, until all but one is reversed."""
    other = dict(EMPLOYEE, id="e2")
    with previous_release(ledger_url, 6) as old:  # the previous release: schema version 6
        old.settle("k1", small(), jiangmen)
        old.settle("k3", small(2, month=4), jiangmen)
    as_written(ledger_url, ("INSERT INTO settlements SELECT {m}, kind, {m}, year, 1, request_digest, pack, pack_hash, "
                            "pack_version, body, created_at, reversed_by, reverses FROM settlements WHERE key = {m}",
                            ("k2", "e2", "k1")))  # k1's claim again for e2, as that release settled it (no entries)
    rows = count(ledger_url, "settlements")

    message = refused_at_open(ledger_url)
    assert "holds 1 claim(s) settled more than once in the ledger, for two members or in two years" in message
    assert "claim 's1' under keys 'k1' ('e1', 2022), 'k2' ('e2', 2022)" in message
    assert "left unchanged" in message
    assert versions(ledger_url) == [1, 2, 3, 4, 5, 6] and count(ledger_url, "settlements") == rows

    with previous_release(ledger_url, 6) as old:
        old.reverse("r2", of="k2")
    with open_ledger(ledger_url) as ledger:
        assert versions(ledger_url) == [1, 2, 3, 4, 5, 6, 7]
        with pytest.raises(HistoryConflict, match="already settled for member 'e1' \\(2022\\), under key 'k1'"):
            ledger.settle("k4", claim(**{**small(), "member": other}), jiangmen)


def test_a_ledger_holding_a_claim_under_an_id_now_refused_is_not_migrated_until_it_is_reversed(ledger_url,
                                                                                              jiangmen):
    """Schema version 5: no claim stands under an id this release refuses. Earlier releases settled a
    member id with a no-break space, or a claim id with a decomposed letter; resent as the platform writes
    them now, those were another member's claim and another claim, paid again. Such a ledger is refused,
    unchanged, naming the settlements, until they are reversed; an id of Chinese characters is not one."""
    dialect = "postgresql" if ledger_url.startswith("postgresql://") else "sqlite"
    marker = "%s" if dialect == "postgresql" else "?"
    spaced, decomposed = "e\u00a01", "s1-cafe\u0301"
    chinese = claim(id="s9", member=dict(EMPLOYEE, id="张三"), level="level1", admission_date="2022-04-01",
                    discharge_date="2022-04-10",
                    bill={"total": "100.00", "fully_self_paid": "0.00", "over_limit": "0.00",
                          "pre_self_paid": "0.00", "policy_range": "100.00"})
    with previous_release(ledger_url, 4) as old:  # the previous release: schema version 4
        old.settle("k1", small(1), jiangmen)
        old.settle("k2", small(2, month=4), jiangmen)
        old.settle("k3", large(), jiangmen)
        old.settle("k9", chinese, jiangmen)
    conn = raw(ledger_url)  # the ids as an earlier release wrote them, before it checked them
    try:
        conn.execute(f"UPDATE settlements SET member_id = {marker} WHERE key = 'k1'", (spaced,))
        set_claim = ("json_set(body, '$.settlement.claim_id', ?)" if dialect == "sqlite"
                     else "jsonb_set(body::jsonb, '{settlement,claim_id}', to_jsonb(%s::text))::text")
        conn.execute(f"UPDATE settlements SET body = {set_claim} WHERE key = 'k2'", (decomposed,))
        if dialect == "sqlite":  # a NUL, which SQLite's text functions and json_extract stop at (PostgreSQL
            # refuses one in text): in a member id, and in a claim id, as the body writes it (\u0000)
            conn.execute("UPDATE settlements SET member_id = ? WHERE key = 'k3'", ("e1\x00",))
            conn.execute("UPDATE settlements SET body = replace(body, '\"claim_id\":\"s9\"', "
                         "'\"claim_id\":\"s9\\u0000\"') WHERE key = 'k9'")
            assert conn.execute("SELECT json_extract(body, '$.settlement.claim_id') FROM settlements "
                                "WHERE key = 'k9'").fetchone() == ("s9",)
    finally:
        conn.close()
    assert versions(ledger_url) == [1, 2, 3, 4]

    message = refused_at_open(ledger_url)
    held = 4 if dialect == "sqlite" else 2
    assert f"holds {held} request(s) standing under an id this release refuses" in message
    assert f"settlement 'k1' (claim 's1' of member {spaced!r}, 2022): a member id holds no space but U+0020" in message
    assert f"settlement 'k2' (claim {decomposed!r} of member 'e1', 2022): a claim id is written in Unicode's composed " \
           "form (NFC)" in message
    if dialect == "sqlite":
        assert "settlement 'k3' (claim 'l1' of member 'e1\\x00', 2022): a member id holds no control characters" in message
        assert "settlement 'k9' (claim 's9\\x00' of member '张三', 2022): a claim id holds no control characters" in message
    else:
        assert "k3" not in message and "k9" not in message
    assert "left unchanged" in message
    assert versions(ledger_url) == [1, 2, 3, 4]

    with previous_release(ledger_url, 4) as old:
        old.reverse("r1", of="k1")
        old.reverse("r3", of="k3")  # on SQLite, under a member id refused; elsewhere, it would stand on k2's amounts
        if dialect == "sqlite":
            old.reverse("r9", of="k9")
    with pytest.raises(StoreUnavailable, match="holds 1 request"):  # k2's claim still stands
        open_ledger(ledger_url)
    with previous_release(ledger_url, 4) as old:
        old.reverse("r2", of="k2")
    with open_ledger(ledger_url) as ledger:
        assert versions(ledger_url) == [1, 2, 3, 4, 5, 6, 7]
        assert ledger.settle("k4", small(1), jiangmen).replayed is False  # s1 of 'e1', as written now
        with pytest.raises(ClaimError, match="no space but U\\+0020"):
            ledger.settle("k5", claim(id="s5", member=dict(EMPLOYEE, id=spaced), level="level1",
                                      admission_date="2022-06-01", discharge_date="2022-06-10"), jiangmen)


def test_a_ledger_holding_an_opening_or_credit_under_an_id_now_refused_is_not_migrated_until_reversed(ledger_url,
                                                                                                  jiangmen):
    """Schema version 6: no opening or credit stands under an id this release refuses either, nor anything
    under an id with U+FFFD (bytes that were not UTF-8, as a decoder writes them). An opening of 555,000.00 of
    the basic cap used, stored under 'e\u00a02', was out of reach of the member's claims under 'e 2', which
    started from zero and were paid the cap again; 张三 and 李四 sent in GBK were one member '\ufffd\ufffd'."""
    spaced, garbled = "e\u00a02", "\ufffd\ufffd\ufffd\ufffd"
    opened = {"year": 2022, "admissions": 2, "counters": {"basic.annual": "555000.00"}}
    with previous_release(ledger_url, 5) as old:  # the previous release: schema version 5
        old.open_year("o2", "e2", 2022, opened)
        old.credit("a3", "e3", 2022, BALANCE, "300.00")
        old.settle("k4", claim(id="s4", member=dict(EMPLOYEE, id="e4"), level="level1"), jiangmen)
        old.settle("k1", small(1), jiangmen)  # an id this release takes
    as_written(ledger_url, *[("UPDATE settlements SET member_id = {m} WHERE key = {m}", (member, key))  # as an
                             for key, member in (("o2", spaced), ("a3", garbled), ("k4", garbled))])  # earlier release did
    rows = count(ledger_url, "settlements")

    message = refused_at_open(ledger_url)
    assert "holds 3 request(s) standing under an id this release refuses" in message
    assert f"opening 'o2' (member {spaced!r}, 2022): a member id holds no space but U+0020" in message
    assert f"credit 'a3' (member {garbled!r}, 2022): a member id holds no U+FFFD" in message
    assert f"settlement 'k4' (claim 's4' of member {garbled!r}, 2021): a member id holds no U+FFFD" in message
    assert "k1" not in message and "left unchanged" in message
    assert versions(ledger_url) == [1, 2, 3, 4, 5] and count(ledger_url, "settlements") == rows

    with previous_release(ledger_url, 5) as old:
        for n, key in enumerate(("o2", "a3")):
            old.reverse(f"r{n}", of=key)
    with pytest.raises(StoreUnavailable, match="holds 1 request"):  # k4 still stands
        open_ledger(ledger_url)
    with previous_release(ledger_url, 5) as old:
        old.reverse("r4", of="k4")
    with open_ledger(ledger_url) as ledger:
        assert versions(ledger_url) == [1, 2, 3, 4, 5, 6, 7]
        assert ledger.open_year("o2-again", "e 2", 2022, opened).replayed is False
