"""`benefits settle`, `benefits reverse` and `benefits ledger show`, on both stores.

Amounts come from the engine on the same claim (the ledger keeps the books, the engine computes);
the bookkeeping (admissions, replays, refusals, exit codes) is asserted with explicit values.
"""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import benefits
from benefits.ledger import open_ledger, store
from benefits.yamlio import load_file
from benefits_cli.app import app
from conftest import ROOT, RULES, cli_runner
from ledger_fixtures import holding

JIANGMEN = RULES / "jiangmen"
CLAIM = ROOT / "examples" / "resident-level3-inpatient.yaml"  # member m-1001, discharged 2021-08-16
OTHER = ROOT / "examples" / "tekun-medical-aid-inpatient.yaml"


runner = cli_runner()


def run(*args, env: dict | None = None):
    return runner.invoke(app, [str(a) for a in args], env=env)


def flat(text: str) -> str:
    """`text` with its lines joined: a heading wraps at the terminal's width (80 columns under the runner)."""
    return " ".join(text.split())


def negated(amount: str) -> str:
    value = -Decimal(amount)
    return f"{value:.2f}" if value else "0.00"


def test_settle_reverse_and_show(ledger_url, jiangmen):
    expected = benefits.evaluate(load_file(CLAIM)[0], jiangmen)  # from nothing used this year, as the ledger starts

    first = run("settle", CLAIM, "--rules", JIANGMEN, "--key", "2207-1", "--ledger", ledger_url, "--json")
    assert first.exit_code == 0, first.stderr
    body = json.loads(first.stdout)
    assert (body["kind"], body["key"], body["member_id"], body["year"]) == ("settle", "2207-1", "m-1001", 2021)
    assert body["settlement"] == expected.model_dump(mode="json")
    with open_ledger(ledger_url) as ledger:
        assert json.loads(ledger.get("2207-1").body) == body

    text = run("settle", CLAIM, "--rules", JIANGMEN, "--key", "2207-1", "--ledger", ledger_url, "--lang", "en")
    assert text.exit_code == 0, text.stderr
    assert "key 2207-1: already settled under this key: the stored settlement, nothing written" in flat(text.stdout)
    assert f"{expected.payouts['basic']:.2f}" in text.stdout

    conflict = run("settle", OTHER, "--rules", JIANGMEN, "--key", "2207-1", "--ledger", ledger_url)
    assert conflict.exit_code == 2 and conflict.stdout == ""
    assert conflict.stderr.strip().splitlines() == [
        "error: key: '2207-1' already settled a different claim (member 'm-1001', 2021); a new settlement needs a new key"]

    shown = run("ledger", "show", "m-1001", "2021", "--ledger", ledger_url, "--json")
    assert shown.exit_code == 0, shown.stderr
    book = json.loads(shown.stdout)
    assert book["accumulators"]["admissions"] == 1
    assert book["accumulators"]["counters"] == {k: f"{v:.2f}" for k, v in expected.accumulators_after.counters.items() if v}
    assert [s["key"] for s in book["settlements"]] == ["2207-1"]
    assert [e["settlement_key"] for e in book["entries"]] == ["2207-1"] * len(book["entries"])

    reversal = run("reverse", "2208-1", "--of", "2207-1", "--ledger", ledger_url, "--json")
    assert reversal.exit_code == 0, reversal.stderr
    negative = json.loads(reversal.stdout)
    assert negative["platform_fields"] == {k: negated(v) for k, v in body["platform_fields"].items() if k != "balc"}
    assert negative["later"] == []
    again = run("reverse", "2208-1", "--of", "2207-1", "--ledger", ledger_url)
    assert again.exit_code == 0 and "already reversed under this key" in flat(again.stdout)
    twice = run("reverse", "2208-2", "--of", "2207-1", "--ledger", ledger_url)
    assert twice.exit_code == 2
    assert twice.stderr.strip() == "error: of: settlement '2207-1' was already reversed, under key '2208-1'"
    unknown = run("reverse", "2208-3", "--of", "nope", "--ledger", ledger_url)
    assert (unknown.exit_code, unknown.stderr.strip()) == (2, "error: of: no settlement under key 'nope'")

    # the settlement sent again under its key: the stored answer, which no longer counts
    resent = run("settle", CLAIM, "--rules", JIANGMEN, "--key", "2207-1", "--ledger", ledger_url, "--lang", "en")
    assert resent.exit_code == 0, resent.stderr
    assert ("key 2207-1: already settled under this key: the stored settlement, nothing written; REVERSED since, "
            "under key 2208-1: it no longer counts") in flat(resent.stdout)
    resent = run("settle", CLAIM, "--rules", JIANGMEN, "--key", "2207-1", "--ledger", ledger_url, "--json")
    assert (resent.exit_code, json.loads(resent.stdout)) == (0, body)
    assert resent.stderr.strip() == ("warning: key 2207-1 was reversed since, under key 2208-1: the stored answer "
                                     "no longer counts")

    after = run("ledger", "show", "m-1001", "2021", "--ledger", ledger_url)
    assert after.exit_code == 0, after.stderr
    assert "member m-1001, 2021: 2 request(s)" in after.stdout
    assert "reversed by 2208-1" in after.stdout and "reverses 2207-1" in after.stdout
    shown = json.loads(run("ledger", "show", "m-1001", "2021", "--ledger", ledger_url, "--json").stdout)
    assert shown["accumulators"] == {"member_id": "m-1001", "year": 2021, "admissions": 0, "counters": {}}


def test_the_default_ledger_is_a_file_here_or_benefits_ledger(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BENEFITS_LEDGER", raising=False)
    assert run("settle", CLAIM, "--rules", JIANGMEN, "--key", "k1").exit_code == 0
    assert (tmp_path / "benefits-ledger.db").is_file()
    elsewhere = tmp_path / "elsewhere.db"
    done = run("settle", CLAIM, "--rules", JIANGMEN, "--key", "k1", env={"BENEFITS_LEDGER": str(elsewhere)})
    assert done.exit_code == 0 and "settled and recorded" in flat(done.stdout)  # a new ledger: not a replay
    with open_ledger(str(elsewhere)) as ledger:
        assert ledger.accumulators("m-1001", 2021).admissions == 1


def test_a_bad_claim_file_names_its_line_and_writes_nothing(tmp_path):
    bad = tmp_path / "claim.yaml"
    bad.write_text(CLAIM.read_text(encoding="utf-8").replace("level: level3", "level: level9"), encoding="utf-8")
    ledger = tmp_path / "book.db"
    done = run("settle", bad, "--rules", JIANGMEN, "--key", "k1", "--ledger", ledger)
    assert done.exit_code == 2
    line = next(i for i, text in enumerate(bad.read_text(encoding="utf-8").splitlines(), 1) if "level9" in text)
    assert done.stderr.startswith(f"error: {bad}:{line}: claim.level: 'level9' is not a hospital level")
    with open_ledger(str(ledger)) as book:
        assert book.history("m-1001", 2021) == []


def test_an_unusable_ledger_is_one_line_and_exit_2(tmp_path):
    done = run("ledger", "show", "m1", "2021", "--ledger", tmp_path / "no" / "such" / "book.db")
    assert done.exit_code == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "cannot be used" in done.stderr
    for written in ("twenty", "2_021", "+2021", " 2021", "2021.0", "1899"):  # click read 2_021 and +2021 as 2021
        year = run("ledger", "show", "m1", written, "--ledger", tmp_path / "book.db")
        assert year.exit_code == 2 and "Invalidvaluefor'YEAR'" in "".join(year.stderr.split()), (written, year.stderr)
    # a file name longer than the file system allows was an internal error (exit 3)
    done = run("ledger", "show", "m1", "2021", "--ledger", tmp_path / ("a" * 300 + ".db"))
    assert done.exit_code == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_a_member_year_held_by_another_session_is_busy_and_exit_2(ledger_url, monkeypatch):
    """Another session holds the member-year longer than the stores' bound: the settlement gives up, one
    line and exit 2, nothing written (PostgreSQL waited as long as the other session lived)."""
    monkeypatch.setattr(store, "BUSY_SECONDS", 1)
    open_ledger(ledger_url).close()  # the tables, and PostgreSQL's member_years, exist
    with ThreadPoolExecutor(max_workers=1) as pool, holding(ledger_url, "m-1001", 2021):  # let go before the wait
        waiting = pool.submit(run, "settle", CLAIM, "--rules", JIANGMEN, "--key", "2207-1", "--ledger", ledger_url)
        done = waiting.result(timeout=15)
    assert done.exit_code == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1
    assert "is busy:" in done.stderr and "more than 1 s" in done.stderr
    with open_ledger(ledger_url) as book:
        assert book.history("m-1001", 2021) == []


def test_show_reads_while_another_process_writes_the_ledger_file(tmp_path, monkeypatch):
    """A read-only command does not wait for a writer: opening a ledger at the current schema only reads
    its version (it took the file's write lock to check it, and failed busy after the bound)."""
    monkeypatch.setattr(store, "BUSY_SECONDS", 1)
    book = str(tmp_path / "book.db")
    assert run("settle", CLAIM, "--rules", JIANGMEN, "--key", "2207-1", "--ledger", book).exit_code == 0
    with holding(book, "m-1001", 2021) as writer:
        writer.execute("INSERT INTO entries (member_id, year, settlement_key, counter, month, delta) "
                       "VALUES ('m-1001', 2021, '2207-1', 'basic.annual', '', 1)")  # uncommitted: not seen
        start = time.monotonic()
        shown = run("ledger", "show", "m-1001", "2021", "--ledger", book, "--json")
        assert time.monotonic() - start < 1
    assert shown.exit_code == 0, shown.stderr
    assert [s["key"] for s in json.loads(shown.stdout)["settlements"]] == ["2207-1"]
    assert json.loads(shown.stdout)["accumulators"]["admissions"] == 1


def test_a_claim_resent_under_a_new_key_is_refused_until_reversed(ledger_url):
    assert run("settle", CLAIM, "--rules", JIANGMEN, "--key", "2207-1", "--ledger", ledger_url).exit_code == 0
    resent = run("settle", CLAIM, "--rules", JIANGMEN, "--key", "2207-2", "--ledger", ledger_url)
    assert resent.exit_code == 2 and resent.stdout == ""
    claim_id = load_file(CLAIM)[0]["id"]
    assert resent.stderr.strip().splitlines() == [
        f"error: claim.id: claim {claim_id!r} of member 'm-1001' (2021) is already settled, under key '2207-1': a "
        "claim is settled once. To settle it again, reverse '2207-1' first; a retry of that settlement is sent "
        "under '2207-1'"]
    assert run("reverse", "2208-1", "--of", "2207-1", "--ledger", ledger_url).exit_code == 0
    again = run("settle", CLAIM, "--rules", JIANGMEN, "--key", "2207-2", "--ledger", ledger_url, "--json")
    assert again.exit_code == 0, again.stderr
    with open_ledger(ledger_url) as book:
        assert book.accumulators("m-1001", 2021).admissions == 1


def test_open_credit_and_reverse_an_opening(ledger_url, tmp_path):
    """`benefits ledger open` and `benefits ledger credit`; the employee claim of examples/ pays from them."""
    employee_claim = ROOT / "examples" / "employee-serious-illness-inpatient.yaml"
    claim_doc = load_file(employee_claim)[0]
    member, year = claim_doc["member"]["id"], int(str(claim_doc["discharge_date"])[:4])
    opening = tmp_path / "opening.yaml"
    opening.write_text(f"year: {year}\nadmissions: 1\ncounters:\n  basic.annual: 20000.00\n"
                       "  personal_account.balance: 1000.00\n", encoding="utf-8")

    first = run("ledger", "open", member, year, opening, "--key", "open-1", "--rules", JIANGMEN,
                "--ledger", ledger_url, "--json")
    assert first.exit_code == 0, first.stderr
    body = json.loads(first.stdout)
    assert (body["kind"], body["key"], body["member_id"], body["year"], body["pack"]) == (
        "opening", "open-1", member, year, "jiangmen")
    assert body["accumulators"] == {"member_id": member, "year": year, "admissions": 1,
                                    "counters": {"basic.annual": "20000.00", "personal_account.balance": "1000.00"}}
    text = run("ledger", "open", member, year, opening, "--key", "open-1", "--ledger", ledger_url)
    assert text.exit_code == 0, text.stderr
    assert f"key open-1: member {member}, {year} already opened under this key: the stored opening" in flat(text.stdout)
    assert re.search(r"personal_account\.balance +1000\.00\n", text.stdout)

    second = run("ledger", "open", member, year, opening, "--key", "open-2", "--ledger", ledger_url)
    assert (second.exit_code, second.stdout) == (2, "")
    assert second.stderr.strip() == (
        f"error: member_id: the year {year} of member '{member}' was already opened, under key 'open-1': an opening "
        "never replaces balances; to correct it, reverse it (and any settlement made on it) and open the year again")

    deposit = run("ledger", "credit", member, year, "500.00", "--key", "dep-1", "--ledger", ledger_url)
    assert deposit.exit_code == 0, deposit.stderr
    assert (f"key dep-1: credited: 500.00 to personal_account.balance of member {member}, {year}; "
            "balance after it 1500.00") in flat(deposit.stdout)
    wrong = run("ledger", "credit", member, year, "5", "--key", "dep-2", "--counter", "basic.annual",
                "--ledger", ledger_url)
    assert wrong.exit_code == 2 and wrong.stderr.startswith("error: counter: 'basic.annual' is not a balance")

    with open_ledger(ledger_url) as ledger:
        opened = ledger.accumulators(member, year)
    assert opened.get("personal_account.balance") == Decimal("1500.00")  # 1,000.00 opened + 500.00 credited
    expected = benefits.evaluate(claim_doc, benefits.load_rules(JIANGMEN), opened)
    settled = run("settle", employee_claim, "--rules", JIANGMEN, "--key", "2207-1", "--ledger", ledger_url, "--json")
    assert settled.exit_code == 0, settled.stderr
    assert json.loads(settled.stdout)["settlement"] == expected.model_dump(mode="json")

    blocked = run("reverse", "r-open", "--of", "open-1", "--ledger", ledger_url)
    assert blocked.exit_code == 2
    assert blocked.stderr.strip() == (f"error: of: opening 'open-1' cannot be reversed: settlement '2207-1' of member "
                                      f"'{member}', {year}, made after it on its balances, stands; reverse it first")
    assert run("reverse", "r-1", "--of", "2207-1", "--ledger", ledger_url).exit_code == 0
    undone = run("reverse", "r-open", "--of", "open-1", "--ledger", ledger_url)
    assert undone.exit_code == 0, undone.stderr
    assert f"key r-open: opening open-1 reversed (member {member}, {year})" in flat(undone.stdout)
    assert re.search(r"personal_account\.balance +-1000\.00\n", undone.stdout)

    shown = json.loads(run("ledger", "show", member, year, "--ledger", ledger_url, "--json").stdout)
    assert shown["accumulators"]["counters"] == {"personal_account.balance": "500.00"}  # the credit stands
    assert [(r["key"], r["kind"], r["pack_version"]) for r in shown["settlements"]] == [
        ("open-1", "opening", None), ("dep-1", "credit", None), ("2207-1", "settle", str(expected.version)),
        ("r-1", "reverse", str(expected.version)), ("r-open", "reverse", None)]
    assert run("ledger", "show", member, year, "--ledger", ledger_url).exit_code == 0


def test_an_opening_file_with_a_wrong_year_names_its_line(tmp_path):
    opening = tmp_path / "opening.yaml"
    opening.write_text("member_id: m-1001\nyear: 2021\ncounters:\n  basic.yearly: 1.00\n", encoding="utf-8")
    ledger = tmp_path / "book.db"
    done = run("ledger", "open", "m-1001", "2022", opening, "--key", "o1", "--ledger", ledger)
    assert (done.exit_code, done.stderr.strip()) == (
        2, f"error: {opening}:2: accumulators.year: 2021, but the opening is for 2022")
    checked = run("ledger", "open", "m-1001", "2021", opening, "--key", "o1", "--rules", JIANGMEN, "--ledger", ledger)
    assert checked.exit_code == 2
    assert checked.stderr.startswith(f"error: {opening}:4: accumulators.counters.basic.yearly: unknown counter "
                                     "'basic.yearly'; pack 'jiangmen' keeps: basic.annual")
    with open_ledger(str(ledger)) as book:
        assert book.history("m-1001", 2021) == []
