"""The HTTP service in process (FastAPI's TestClient), against a SQLite file and PostgreSQL: each
endpoint with real numbers, errors as problem details with paths, idempotent replays byte for byte,
reloading the rule packs; and a real `benefits serve` for what needs processes (SIGHUP, workers)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote, unquote

import httpx
import pytest

import benefits
from benefits.models.platform_out import with_blocks
from benefits.ledger import NotFound, open_ledger, store
from conftest import claim
from ledger_fixtures import holding
from service_fixtures import PACK_DIRS, ROOT, ServerProcess, generate, member_claims

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note on httpx's successor, not about this code
    from fastapi.testclient import TestClient

from benefits.service import create_app  # noqa: E402

D = Decimal
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def packs():
    return {name: benefits.load_rules(folder) for name, folder in PACK_DIRS.items()}


@pytest.fixture
def api(ledger_url):
    """The service in process, on a new ledger of each store (conftest.py's `ledger_url`)."""
    with TestClient(create_app(PACK_DIRS, ledger_url)) as client:
        yield client


@pytest.fixture(scope="module")
def stateless(tmp_path_factory):
    """For the endpoints that need no ledger: one app for the module."""
    folder = tmp_path_factory.mktemp("stateless")
    with TestClient(create_app(list(PACK_DIRS.values()), str(folder / "ledger.db"))) as client:
        yield client


def problem(r: httpx.Response, status: int, kind: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["type"] == f"tag:benefits,2026:problem/{kind}"
    assert body["status"] == status and body["title"] and body["detail"]
    assert isinstance(body["problems"], list)
    assert "Traceback" not in r.text
    return body


def paths(body: dict) -> list[list]:
    return [p["path"] for p in body["problems"]]


# --- stateless: /calculate and /trace --------------------------------------------------------------


def test_calculate_gives_what_evaluate_gives_for_realistic_claims(stateless, packs):
    for case in generate.mixed_batch(40):
        body = {"pack": case.pack, "claim": case.claim, "accumulators": case.accumulators}
        r = stateless.post("/calculate", json=body)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        want = benefits.evaluate(case.claim, packs[case.pack], case.accumulators, trace=False)
        assert r.json() == with_blocks(want)  # the settlement, and the platform's blocks beside its keys
        assert r.json()["trace"] == []


def test_trace_and_calculate_with_trace_true_give_the_trace(stateless, packs):
    case = generate.inpatient_batch(1)[0]
    body = {"pack": case.pack, "claim": case.claim, "accumulators": case.accumulators}
    want = with_blocks(benefits.evaluate(case.claim, packs["jiangmen"], case.accumulators))
    traced = stateless.post("/trace", json=body)
    assert traced.status_code == 200 and traced.json() == want and len(want["trace"]) > 5
    assert stateless.post("/calculate?trace=true", json=body).json() == want
    assert stateless.post("/calculate?trace=false", json=body).json()["trace"] == []



def test_trace_explained_gives_each_language_as_explain_prints_it(stateless):
    # A page has no renderer: `explained` is the trace as `benefits explain` words it. Jiangmen, a
    # resident's stay discharged 2021-03-10: the basic annual cap in force is 200,000 (300,000 from
    # 2021-07-01, domain.md 7.1), nothing paid yet: 已支付 = 0.00, max(0, 200000.00 - 0.00) = 200000.00
    body = {"pack": "jiangmen", "claim": claim()}
    plain = stateless.post("/trace", json=body).json()
    r = stateless.post("/trace?explain=true", json=body)
    assert r.status_code == 200
    got = r.json()
    assert {k: v for k, v in got.items() if k != "explained"} == plain and "explained" not in plain
    zh, en = got["explained"]["zh"], got["explained"]["en"]
    assert [s["step"] for s in zh] == [s["step"] for s in en] == [s["step"] for s in plain["trace"]]
    cap = next(s for s in zh if s["step"] == "basic.cap")
    assert cap["inputs"] == [["已支付", "0.00"]] and cap["formula"] == "max(0, 200000.00 - 0.00) = 200000.00"
    assert cap["rule"] is None and cap["site"] is None and cap["citations"][0]["assumed"]  # 200,000 is assumed
    assert all(s["rule"] for s in en) and next(s for s in en if s["step"] == "basic.cap")["site"]
    import re
    english = re.compile(r"[A-Za-z]{3,}")
    for s in zh:
        words = [s["explain"], s["formula"], s["output"], s["basis"], *(x for kv in s["inputs"] for x in kv),
                 *(c["name"] for c in s["citations"]), *(c["source"] for c in s["citations"])]
        assert not [w for w in words if english.search(w.replace("max(", "").replace("min(", ""))], s


def test_calculate_with_hand_computed_numbers_and_json_numbers_read_exactly(stateless):
    # (18500.00 - 1000.00) x 65% = 11375.00 (domain.md 7.1: resident, level 3, 2021)
    r = stateless.post("/calculate", json={"pack": "jiangmen", "claim": claim()})
    s = r.json()
    assert s["layers"][0]["layer"] == "basic" and s["layers"][0]["paid"] == "11375.00"
    after = s["accumulators_after"]
    assert after["admissions"] == 1 and after["year"] == 2021
    assert {k: v for k, v in after["counters"].items() if v != "0.00"} == {
        "basic.annual": "11375.00", "serious_illness.base": "7125.00"}
    # the platform's blocks: 20000.00 = 1000.00 fully self-paid + 500.00 B share + 18500.00 in policy
    # range; the basic fund (390100, resident) pays 11375.00; the patient 20000.00 - 11375.00 = 8625.00
    info = s["setlinfo"]
    assert (info["medfee_sumamt"], info["hifp_pay"], info["fund_pay_sumamt"], info["psn_part_amt"]) == \
        ("20000.00", "11375.00", "11375.00", "8625.00")
    # a row per fund that applied: serious illness (390200) applies to every stay, and pays nothing
    # on 7125.00 of self-pay, below its start line
    assert [(row["fund_pay_type"], row["fund_payamt"]) for row in s["setldetail"]] == \
        [("390100", "11375.00"), ("390200", "0.00")]
    assert s["feedetail"] == []  # a bill given already split has no fee lines
    # amounts as JSON numbers are read as exact decimals, never floats: 18500.10 stays 18500.10
    text = ('{"pack": "jiangmen", "claim": {"id": "c1", "member": {"id": "m1", "scheme": "resident", '
            '"member_type": "adult", "groups": []}, "visit": "inpatient", "level": "level3", '
            '"admission_date": "2021-03-01", "discharge_date": "2021-03-10", "bill": {"total": 20000.10, '
            '"fully_self_paid": 1000.00, "over_limit": 0, "pre_self_paid": 500.00, "policy_range": 18500.10}}}')
    r = stateless.post("/calculate", content=text, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json()["layers"][0]["paid"] == "11375.07"  # 17500.10 x 65% = 11375.065 -> 11375.07, half up
    # the second admission of the year: the accumulators come with the request
    acc = r.json()["accumulators_after"]
    r2 = stateless.post("/calculate", json={"pack": "jiangmen", "accumulators": acc, "claim": claim(
        id="c2", admission_date="2021-05-01", discharge_date="2021-05-04",
        bill={"total": "10000.00", "fully_self_paid": "0", "over_limit": "0", "pre_self_paid": "0",
              "policy_range": "10000.00"})})
    assert r2.json()["deductible"] == "500.00" and r2.json()["layers"][0]["paid"] == "6175.00"


# --- problem details ---------------------------------------------------------------------------------


def test_malformed_json_is_400_with_where(stateless):
    body = problem(stateless.post("/calculate", content=b'{"pack": "jiangmen",', headers={"content-type": "application/json"}),
                   400, "malformed-json")
    assert "line 1 column" in body["detail"]
    for raw, fragment in [(b'{"pack": NaN}', "NaN"), (b'{"pack": "a", "pack": "b"}', "duplicate key 'pack'"),
                          (b"", "empty"), (b"\xff\xfe{}", "UTF-8"), (b"[" * 100_000 + b"]" * 100_000, "levels deep"),
                          (b'{"n": 1' + b"0" * 5000 + b"}", "digits")]:
        body = problem(stateless.post("/calculate", content=raw, headers={"content-type": "application/json"}),
                       400, "malformed-json")
        assert fragment in body["detail"]


def test_request_and_claim_problems_have_paths(stateless):
    r = stateless.post("/calculate", json=[1, 2])
    assert paths(problem(r, 422, "invalid-request")) == [[]]
    r = stateless.post("/calculate", json={"pack": "nowhere", "claim": claim()})
    body = problem(r, 422, "invalid-request")
    assert paths(body) == [["pack"]] and "jiangmen" in body["problems"][0]["message"]
    r = stateless.post("/calculate", json={"pack": "jiangmen", "claim": claim(), "extra": 1})
    assert ["extra"] in paths(problem(r, 422, "invalid-request"))
    items = [{"id": "a", "category": "A", "unit_price": "1.00", "quantity": "1"}] * 3
    items = [dict(i, id=str(n)) for n, i in enumerate(items)]
    items.append({"id": "x", "category": "A", "unit_price": "1.005", "quantity": "1"})
    r = stateless.post("/calculate", json={"pack": "jiangmen", "claim": claim(bill=None, items=items)})
    body = problem(r, 422, "invalid-claim")
    assert paths(body) == [["claim", "items", 3, "unit_price"]]
    assert "at most two decimals" in body["problems"][0]["message"]
    r = stateless.post("/calculate", json={"pack": "jiangmen", "claim": claim(level="level9")})
    assert paths(problem(r, 422, "invalid-claim")) == [["claim", "level"]]
    r = stateless.post("/calculate", json={"pack": "jiangmen", "claim": claim(), "accumulators": {"year": 2020}})
    body = problem(r, 422, "invalid-claim")
    assert paths(body) == [["accumulators", "year"]] and "2021" in body["detail"]
    r = stateless.post("/calculate", json={"pack": "jiangmen", "claim": claim(discharge_date="2023-01-02")})
    assert "no version of the rules covers 2023-01-02" in problem(r, 422, "invalid-claim")["detail"]
    r = stateless.post("/calculate", json={"pack": "jiangmen", "claim": {"id": "c"}})
    assert {("claim", "member"), ("claim", "visit")} <= {tuple(p) for p in paths(problem(r, 422, "invalid-claim"))}
    # an unknown pack beside a bad claim: both at once (only the claim's were listed, so a client fixed the
    # claim and only then heard that the pack does not exist)
    for route, extra in (("/calculate", {}), ("/settlements/pre-settle", {}), ("/settlements", {"key": "k-nowhere"})):
        r = stateless.post(route, json={"pack": "nowhere", "claim": {"id": "c"}, **extra})
        body = problem(r, 422, "invalid-request")
        assert paths(body)[0] == ["pack"] and {("claim", "member"), ("claim", "visit")} <= set(map(tuple, paths(body)))
        assert body["detail"].startswith("pack: unknown rule pack 'nowhere'; this service has: ")
    r = stateless.post("/members/m-1/2022/credits", json={"key": "cr-1", "amount": "1.001", "pack": "nowhere"})
    assert [["pack"], ["amount"]] == paths(problem(r, 422, "invalid-request"))


def test_transport_problems(stateless):
    problem(stateless.post("/calculate", content=b"pack=x", headers={"content-type": "application/x-www-form-urlencoded"}),
            415, "unsupported-media-type")
    # found by red teams: a compressed body was refused as "not UTF-8 text (byte 1)", and one declared in another
    # charset, and not UTF-8, without naming the charset; a charset label has no effect on JSON (RFC 8259), so
    # UTF-8 text is read whatever it is labelled (old clients label it ISO-8859-1)
    body = b'{"pack": "jiangmen"}'
    assert "Content-Encoding 'gzip'" in problem(stateless.post("/calculate", content=body, headers={
        "content-encoding": "gzip"}), 415, "unsupported-media-type")["detail"]
    latin = '{"pack": "Jiangmen café"}'.encode("latin-1")
    for label, said in (("latin-1", "'latin-1'"), ('"ISO-8859-1"; q="a;b"', "'ISO-8859-1'")):
        detail = problem(stateless.post("/calculate", content=latin, headers={
            "content-type": f"application/json; charset={label}"}), 415, "unsupported-media-type")["detail"]
        assert detail == f"the body is declared in charset {said} and is not UTF-8 text (byte 22); JSON is read as UTF-8"
    # found by a red team: a header with a quote left open before 100,000 semicolons held a worker for 14 s in
    # the standard library's MIME parser; the label of a UTF-16 body (ASCII text and NULs) went unsaid
    long = 'application/json; x="' + ";" * 100_000
    assert problem(stateless.post("/calculate", content=body, headers={"content-type": long}), 415,
                   "unsupported-media-type")["detail"] == "the Content-Type has 100,021 characters; at most 1,000 are read"
    assert problem(stateless.post("/calculate", content='{"pack": "x"}'.encode("utf-16-le"), headers={
        "content-type": "application/json; charset=utf-16le"}), 415, "unsupported-media-type")["detail"] == (
        "the body is declared in charset 'utf-16le'; JSON is read as UTF-8")
    for headers in ({"content-type": "application/json; charset=UTF-8"}, {"content-encoding": "identity"},
                    {"content-type": "application/json; charset=us-ascii"},
                    {"content-type": "application/json; charset=ISO-8859-1"},
                    {"content-type": 'application/json; foo="a;charset=latin1"'}):
        assert paths(problem(stateless.post("/calculate", content=body, headers=headers), 422,
                             "invalid-claim")) == [["claim"]]
    big = b'{"pack": "' + b"x" * (4 * 1024 * 1024) + b'"}'
    problem(stateless.post("/calculate", content=big, headers={"content-type": "application/json"}), 413,
            "payload-too-large")
    # found by a red team: a lone surrogate in a line item was read, then failed to be written (500)
    lone = json.dumps({"key": "k-lone", "pack": "jiangmen", "claim": claim(bill=None, items=[
        {"id": "x", "name": "\udfff", "category": "A", "unit_price": "1.00"}])})
    assert '"\\udfff"' in lone
    for route in ("/calculate", "/trace", "/settlements/pre-settle", "/settlements"):
        assert "holds a lone surrogate" in problem(stateless.post(route, content=lone, headers={
            "content-type": "application/json"}), 400, "malformed-json")["detail"]
    problem(stateless.get("/nowhere"), 404, "not-found")
    refused = stateless.get("/calculate")
    assert problem(refused, 405, "method-not-allowed")["detail"] == "GET is not allowed on /calculate; allowed: POST"
    assert refused.headers["allow"] == "POST"
    # HEAD is answered wherever GET is (RFC 9110 9.3.2): it was 405 on every route, /health included
    got, head = stateless.get("/health"), stateless.head("/health")
    assert (head.status_code, head.content) == (200, b"") and head.headers["content-length"] == str(len(got.content))
    assert (stateless.head("/nowhere").status_code, stateless.head("/nowhere").content) == (404, b"")
    refused = stateless.head("/calculate")
    assert (refused.status_code, refused.content, refused.headers["allow"]) == (405, b"", "POST")
    refused = stateless.post("/health")
    assert problem(refused, 405, "method-not-allowed")["detail"] == "POST is not allowed on /health; allowed: GET, HEAD"
    assert refused.headers["allow"] == "GET, HEAD"
    # found by a red team: one of the two values was taken, and the request answered 200
    body = problem(stateless.post("/calculate?trace=true&explain=1&trace=false", json={}), 422, "invalid-request")
    assert paths(body) == [["query", "trace"]] and "'trace' is given more than once" in body["detail"]
    assert stateless.get("/health?x=1&x=2").status_code == 200  # a route that reads no query ignores it
    body = problem(stateless.get("/members/m1/nineteen"), 422, "invalid-request")
    assert paths(body) == [["path", "year"]]
    # one member-year has one name: read as any int, these were the year 2021 as well
    for other in ("2_021", "+2021", "2021.0", "02021"):
        body = problem(stateless.get(f"/members/m1/{other}"), 422, "invalid-request")
        assert paths(body) == [["path", "year"]] and "expected a year of four digits" in body["problems"][0]["message"]
    body = problem(stateless.post("/settlements", json={"key": "a/b c", "pack": "jiangmen", "claim": claim()}), 422,
                   "invalid-request")
    assert paths(body) == [["key"]]
    assert "letters, digits and . _ : -" in body["problems"][0]["message"]


def test_a_member_id_with_a_control_character_is_a_problem_on_either_store(api):
    # PostgreSQL refuses NUL in text: the store's error was a 500
    body = problem(api.get("/members/nul%00x/2021"), 422, "invalid-request")
    assert paths(body) == [["path", "member_id"]]
    assert "a member id without control characters" in body["problems"][0]["message"]  # not "lower-case words"
    nul = claim(member={"id": "nul\x00x", "scheme": "resident", "member_type": "adult", "groups": []})
    body = problem(api.post("/settlements", json={"key": "k1", "pack": "jiangmen", "claim": nul}), 422, "invalid-claim")
    assert paths(body) == [["claim", "member", "id"]]
    assert api.get("/members/m1/2021").json()["accumulators"]["admissions"] == 0


def test_a_member_id_with_an_invisible_format_character_is_a_problem(api):
    # 'm1' with a zero-width space after it looks like m1 and would be another member's year
    body = problem(api.get("/members/m1%E2%80%8B/2021"), 422, "invalid-request")
    assert paths(body) == [["path", "member_id"]]
    assert "without invisible characters" in body["problems"][0]["message"]
    zwsp = claim(member={"id": "m1\u200b", "scheme": "resident", "member_type": "adult", "groups": []})
    body = problem(api.post("/settlements", json={"key": "k1", "pack": "jiangmen", "claim": zwsp}), 422, "invalid-claim")
    assert paths(body) == [["claim", "member", "id"]]
    assert api.get("/members/m1/2021").json()["settlements"] == []


def test_a_member_path_that_is_not_utf8_is_a_problem_not_one_member_for_all(api, ledger_url):
    # 张三 and 李四 percent-encoded in GBK, read as UTF-8, were both '\ufffd\ufffd\ufffd\ufffd': one member-year
    # took both credits (300.00, then a balance of 800.00)
    for n, gbk in enumerate(("%D5%C5%C8%FD", "%C0%EE%CB%C4")):
        credit = {"key": f"gbk-{n}", "amount": "300.00"}
        body = problem(api.post(f"/members/{gbk}/2022/credits", json=credit), 422, "invalid-request")
        assert paths(body) == [["path", "member_id"]]
        assert "without U+FFFD" in body["problems"][0]["message"]
        problem(api.get(f"/members/{gbk}/2022"), 422, "invalid-request")
    with open_ledger(ledger_url) as ledger:
        for key in ("gbk-0", "gbk-1"):
            with pytest.raises(NotFound):
                ledger.get(key)


def test_a_replay_names_a_reversal_made_under_any_key(api, ledger_url):
    # a reversal made through the library or the CLI may have a key the service's pattern refuses; naming
    # it raw in the header was a 500 (a header is Latin-1) on every retry of the settlement
    first = {"key": "k-1", "pack": "jiangmen", "claim": claim()}
    assert api.post("/settlements", json=first).status_code == 201
    with open_ledger(ledger_url) as ledger:
        ledger.reverse("撤销 1%", of="k-1")
    replay = api.post("/settlements", json=first)
    assert replay.status_code == 200 and replay.headers["reversed-by"] == "%E6%92%A4%E9%94%80 1%25"
    assert unquote(replay.headers["reversed-by"]) == "撤销 1%"


def test_a_member_whose_id_holds_a_slash_is_read_opened_and_credited_over_http(api):
    # a member id may hold '/' ('2021/0001'); the path reads it as one segment, written %2F or not
    member = {"id": "a/b-3", "scheme": "employee", "member_type": "in_service", "groups": []}
    opening = {"key": "open-ab", "accumulators": {"year": 2022, "counters": {"personal_account.balance": "600.00"}}}
    assert api.post("/members/a%2Fb-3/2022/opening", json=opening).status_code == 201
    assert api.post("/members/a/b-3/2022/credits", json={"key": "credit-ab", "amount": "400.00"}).status_code == 201
    stay = claim(id="s1", member=member, level="level1", admission_date="2022-03-01", discharge_date="2022-03-10",
                 bill={"total": "2150.00", "fully_self_paid": "100.00", "over_limit": "0.00",
                       "pre_self_paid": "50.00", "policy_range": "2000.00"})
    r = api.post("/settlements", json={"key": "msg-ab", "pack": "jiangmen", "claim": stay})
    assert r.status_code == 201, r.text
    # the account paid 50.00 + (2,000.00 - 1,530.00) = 520.00 of the 1,000.00 opened and credited
    year = api.get("/members/a%2Fb-3/2022").json()
    assert (year["member_id"], year["accumulators"]["counters"]["personal_account.balance"]) == ("a/b-3", "480.00")
    assert [s["key"] for s in year["settlements"]] == ["open-ab", "credit-ab", "msg-ab"]
    assert api.get("/members/a/2022").json()["settlements"] == []  # another member
    problem(api.get("/members/a/b-3/2022/opening"), 422, "invalid-request")  # a year of 'opening'


def test_the_openapi_document_has_the_schemas(stateless):
    doc = stateless.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert {"Settlement", "SettleBody", "ReverseBody", "ProblemDetails", "CalculateRequest", "SettleRequest",
            "ReverseRequest", "Claim", "Accumulators", "MemberYear"} <= set(schemas)
    assert schemas["Settlement"]["properties"]["fund_total"]["type"] == "string"  # money is a string in JSON
    assert set(doc["paths"]) >= {"/calculate", "/trace", "/settlements", "/settlements/pre-settle",
                                 "/settlements/{key}", "/settlements/{key}/reverse", "/members/{member_id}/{year}",
                                 "/health", "/ready", "/admin/reload"}
    settle = doc["paths"]["/settlements"]["post"]
    assert settle["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/SettleRequest")
    assert {"200", "201", "409", "422"} <= set(settle["responses"])
    assert PROBLEM in settle["responses"]["409"]["content"]


# --- the ledger through the service ------------------------------------------------------------------


def test_settle_replay_conflict_reverse_and_the_members_numbers(api, packs):
    def member():
        r = api.get("/members/m1/2021")
        assert r.status_code == 200
        return r.json()

    assert member()["accumulators"] == {"member_id": "m1", "year": 2021, "admissions": 0, "counters": {}}
    first = {"key": "msg-0001", "pack": "jiangmen", "claim": claim()}
    r = api.post("/settlements", json=first)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == "/settlements/msg-0001" and r.headers["idempotent-replayed"] == "false"
    body = r.json()
    assert body["key"] == "msg-0001" and body["member_id"] == "m1" and body["year"] == 2021
    assert body["settlement"]["layers"][0]["paid"] == "11375.00"
    assert body["platform_fields"]["hifp_pay"] == "11375.00"
    assert body["setlinfo"]["hifp_pay"] == "11375.00" and body["setlinfo"]["cvlserv_pay"] == "0.00"  # every field
    assert [(r["fund_pay_type"], r["fund_payamt"]) for r in body["setldetail"]][0] == ("390100", "11375.00")
    got = member()
    assert got["accumulators"]["admissions"] == 1
    assert got["accumulators"]["counters"] == {"basic.annual": "11375.00", "serious_illness.base": "7125.00"}
    assert [s["key"] for s in got["settlements"]] == ["msg-0001"]

    # the same request again: the first answer, byte for byte, 200
    again = api.post("/settlements", json=first)
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.content == r.content
    assert api.get("/settlements/msg-0001").content == r.content
    head = api.head("/settlements/msg-0001")  # a cache revalidating it: GET's status and headers, no content
    assert (head.status_code, head.content, head.headers["content-length"]) == (200, b"", str(len(r.content)))
    # the same key with another claim: 409, nothing written
    other = dict(first, claim=claim(id="c-other"))
    assert paths(problem(api.post("/settlements", json=other), 409, "key-conflict")) == [["key"]]
    assert member()["accumulators"]["admissions"] == 1

    # pre-settle the second stay: from the ledger's accumulators, and nothing written
    second_claim = claim(id="c2", admission_date="2021-05-01", discharge_date="2021-05-04",
                         bill={"total": "10000.00", "fully_self_paid": "0", "over_limit": "0", "pre_self_paid": "0",
                               "policy_range": "10000.00"})
    pre = api.post("/settlements/pre-settle", json={"pack": "jiangmen", "claim": second_claim})
    assert pre.status_code == 200, pre.text
    assert pre.json()["deductible"] == "500.00" and pre.json()["layers"][0]["paid"] == "6175.00"
    assert pre.json()["accumulators_before"]["admissions"] == 1
    assert member()["accumulators"]["admissions"] == 1
    r2 = api.post("/settlements", json={"key": "msg-0002", "pack": "jiangmen", "claim": second_claim})
    assert r2.status_code == 201
    s2 = r2.json()["settlement"]
    assert s2["layers"][0]["paid"] == "6175.00"
    assert [p["paid"] for p in s2["layers"] if p["layer"] == "serious_illness"] == ["570.00"]
    assert member()["accumulators"]["admissions"] == 2
    assert member()["accumulators"]["counters"]["basic.annual"] == "17550.00"

    # reverse the first: its amounts negated, the later settlement listed, admissions back to 1
    rev = api.post("/settlements/msg-0001/reverse", json={"key": "rev-0001"})
    assert rev.status_code == 201, rev.text
    rb = rev.json()
    assert rb["of"] == "msg-0001" and rb["later"] == ["msg-0002"] and rb["fund_total"].startswith("-")
    assert rb["platform_fields"]["hifp_pay"] == "-11375.00"
    got = member()
    assert got["accumulators"]["admissions"] == 1
    assert got["accumulators"]["counters"]["basic.annual"] == "6175.00"
    assert [(s["key"], s["kind"], s["reversed_by"], s["reverses"]) for s in got["settlements"]] == [
        ("msg-0001", "settle", "rev-0001", None), ("msg-0002", "settle", None, None),
        ("rev-0001", "reverse", None, "msg-0001")]
    assert sum(int(e["delta"]) for e in got["entries"] if e["counter"] == "admissions") == 1
    # the reversal again: the same bytes; under another key: already reversed; unknown: 404
    rev2 = api.post("/settlements/msg-0001/reverse", json={"key": "rev-0001"})
    assert rev2.status_code == 200 and rev2.content == rev.content
    assert paths(problem(api.post("/settlements/msg-0001/reverse", json={"key": "rev-0002"}), 409,
                         "already-reversed")) == [["of"]]
    assert paths(problem(api.post("/settlements/rev-0001/reverse", json={"key": "rev-0003"}), 409,
                         "already-reversed")) == [["of"]]
    problem(api.post("/settlements/msg-9999/reverse", json={"key": "rev-0004"}), 404, "not-found")
    problem(api.get("/settlements/msg-9999"), 404, "not-found")
    assert paths(problem(api.post("/settlements", json={"key": "rev-0001", "pack": "jiangmen", "claim": claim()}),
                         409, "key-conflict")) == [["key"]]
    # the first settlement sent again after its reversal: its first answer, saying it was reversed since
    # (a client paying on the body alone paid 11,375.00 the ledger no longer counts)
    replay = api.post("/settlements", json=first)
    assert (replay.status_code, replay.content) == (200, r.content)
    assert replay.headers["reversed-by"] == "rev-0001" and "reversed-by" not in again.headers
    # reverse the second too: admissions 0 and no counter left
    assert api.post("/settlements/msg-0002/reverse", json={"key": "rev-0005"}).status_code == 201
    assert member()["accumulators"] == {"member_id": "m1", "year": 2021, "admissions": 0, "counters": {}}


def test_a_member_year_held_by_another_session_is_503_and_the_service_still_answers(ledger_url, monkeypatch):
    """Another session holds member m1's year longer than the stores' bound: its settlement is 503
    store-unavailable with Retry-After, nothing written, and the worker is free again: /health and
    another member's settlement answer (on PostgreSQL the request waited for as long as the other
    session lived, and such requests used up the worker's threads)."""
    monkeypatch.setattr(store, "BUSY_SECONDS", 1)  # before the app opens its connections
    with TestClient(create_app(PACK_DIRS, ledger_url)) as client, ThreadPoolExecutor(max_workers=1) as pool:
        with holding(ledger_url, "m1", 2021):
            waiting = pool.submit(client.post, "/settlements", json={"key": "k1", "pack": "jiangmen", "claim": claim()})
            body = problem(waiting.result(timeout=15), 503, "store-unavailable")
            assert "is busy:" in body["detail"] and waiting.result().headers["retry-after"] == "1"
            if ledger_url.startswith("postgresql://"):  # SQLite's one write lock is the whole file's
                assert client.get("/health").status_code == 200
                other = {"key": "k2", "pack": "jiangmen", "claim": claim(id="c2", member={"id": "m2", "scheme": "resident",
                                                                                "member_type": "adult", "groups": []})}
                assert client.post("/settlements", json=other).status_code == 201
        assert client.get("/settlements/k1").status_code == 404
        assert client.post("/settlements", json={"key": "k1", "pack": "jiangmen", "claim": claim()}).status_code == 201



def test_the_sqlite_writers_queue_waits_the_bound_in_all(tmp_path, monkeypatch):
    """Settlements on SQLite queue in the service (one thread, one process at a time): a writer
    queued behind one that held the queue longer than the bound waited the bound for the queue and
    then the bound again in SQLite, n writers n times the bound. Each now gives up within it."""
    import subprocess

    from benefits.errors import BenefitsError
    from benefits.service.app import Store

    monkeypatch.setattr(store, "BUSY_SECONDS", 1)
    ledger = tmp_path / "ledger.db"
    queue = Store(str(ledger))
    started, release = threading.Event(), threading.Event()

    def hold() -> None:
        with queue.writing():
            started.set()
            release.wait(10)

    def wait_to_write() -> float:
        start = time.monotonic()
        with pytest.raises(BenefitsError) as caught:
            with queue.writing():
                pass
        assert caught.value.status == 503 and "is busy" in str(caught.value)
        return time.monotonic() - start

    with ThreadPoolExecutor(max_workers=3) as pool:  # threads of this process
        holder = pool.submit(hold)
        assert started.wait(5)
        waited = [f.result(timeout=10) for f in [pool.submit(wait_to_write) for _ in range(2)]]
        release.set()
        holder.result(timeout=5)
    assert all(0.9 <= w < 1.5 for w in waited), waited
    # another process of the server holding the queue's file lock
    other = subprocess.Popen([sys.executable, "-c", "import fcntl, os, sys, time\n"
                              f"fd = os.open({str(ledger) + '.writers'!r}, os.O_RDWR | os.O_CREAT)\n"
                              "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(10)"],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "held"
        waited = wait_to_write()
        assert 0.9 <= waited < 1.5, waited
    finally:
        other.kill()
        other.wait()
    with queue.writing():  # and free again once the other let go
        pass



def test_time_in_the_writers_queue_counts_against_sqlites_busy_wait(tmp_path, monkeypatch):
    """Behind a writer stuck on the file's lock (another process's transaction), a settlement queued for
    half the bound then waited SQLite's whole busy wait again: 1.5 times the bound. Its waits end by
    the bound in all."""
    from benefits.errors import BenefitsError
    from benefits.ledger import open_ledger
    from benefits.service.app import Store

    monkeypatch.setattr(store, "BUSY_SECONDS", 1)
    ledger_file = str(tmp_path / "ledger.db")
    jiangmen = benefits.load_rules(PACK_DIRS["jiangmen"])
    with open_ledger(ledger_file) as ledger:  # made and migrated before the file is held
        ledger.settle("k0", claim(), jiangmen)
    queue = Store(ledger_file)

    def settle(key: str, member: str) -> float:
        start = time.monotonic()
        with pytest.raises(BenefitsError) as caught:
            with queue.writing():
                queue.ledger.settle(key, claim(id=key, member={"id": member, "scheme": "resident",
                                                               "member_type": "adult", "groups": []}), jiangmen)
        assert caught.value.status == 503
        return time.monotonic() - start

    queue.ledger  # opened before the file is held, as a running service's is
    with holding(ledger_file, "m1", 2021), ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(settle, "k1", "m1")
        time.sleep(0.5)
        second = pool.submit(settle, "k2", "m2")
        waited = [first.result(timeout=10), second.result(timeout=10)]
    assert 0.9 <= waited[0] < 1.4 and 0.9 <= waited[1] < 1.3, waited


def test_a_claim_resent_under_a_new_key_is_409_until_reversed(api):
    first = api.post("/settlements", json={"key": "msg-A", "pack": "jiangmen", "claim": claim()})
    assert first.status_code == 201, first.text
    resent = {"key": "msg-B", "pack": "jiangmen", "claim": claim()}
    body = problem(api.post("/settlements", json=resent), 409, "history-conflict")
    assert paths(body) == [["claim", "id"]]
    assert "claim 'c1' of member 'm1' (2021) is already settled, under key 'msg-A'" in body["detail"]
    assert "reverse 'msg-A' first" in body["detail"]
    problem(api.post("/settlements/pre-settle", json={"pack": "jiangmen", "claim": claim()}), 409, "history-conflict")
    # resent with the member id corrected: another member, the same claim (it was paid to both)
    corrected = claim(member={"id": "m2", "scheme": "resident", "member_type": "adult", "groups": []})
    body = problem(api.post("/settlements", json={"key": "msg-C", "pack": "jiangmen", "claim": corrected}), 409,
                   "history-conflict")
    assert paths(body) == [["claim", "id"]]
    assert "claim 'c1' is already settled for member 'm1' (2021), under key 'msg-A', not for 'm2'" in body["detail"]
    assert api.get("/members/m2/2021").json()["settlements"] == []
    assert api.post("/settlements", json={"key": "msg-A", "pack": "jiangmen", "claim": claim()}).content == first.content
    assert api.get("/members/m1/2021").json()["accumulators"]["admissions"] == 1
    assert api.post("/settlements/msg-A/reverse", json={"key": "rev-A"}).status_code == 201
    assert api.post("/settlements", json=resent).status_code == 201
    assert api.get("/members/m1/2021").json()["accumulators"]["admissions"] == 1


def test_a_member_year_settled_under_one_pack_is_409_under_another(api):
    jiangmen = claim(admission_date="2022-03-01", discharge_date="2022-03-10")
    assert api.post("/settlements", json={"key": "j1", "pack": "jiangmen", "claim": jiangmen}).status_code == 201
    case = benefits.yamlio.load_file(ROOT / "tests" / "cases" / "anyang" /
                                     "ay-01-resident-township-first-line-items.yaml")[0]["claim"]
    anyang = json.loads(json.dumps(dict(case, member=dict(case["member"], id="m1")), default=str))  # dates, amounts
    body = problem(api.post("/settlements", json={"key": "a1", "pack": "anyang", "claim": anyang}), 409,
                   "history-conflict")
    assert paths(body) == [["pack"]] and "'jiangmen'" in body["detail"] and "'anyang'" in body["detail"]
    problem(api.post("/settlements/pre-settle", json={"pack": "anyang", "claim": anyang}), 409, "history-conflict")
    assert api.get("/settlements/a1").status_code == 404
    assert [s["key"] for s in api.get("/members/m1/2022").json()["settlements"]] == ["j1"]


def test_an_opening_and_a_credit_then_the_account_pays(api):
    """An in-service employee, Jiangmen 2022 (domain.md 7.1, 6.8), whose account balance comes from an
    opening of 600.00 and a credit of 400.00 over HTTP."""
    employee = {"id": "e1", "scheme": "employee", "member_type": "in_service", "groups": []}
    opening = {"key": "open-e1", "pack": "jiangmen",
               "accumulators": {"year": 2022, "counters": {"personal_account.balance": "600.00"}}}
    r = api.post("/members/e1/2022/opening", json=opening)
    assert r.status_code == 201, r.text
    assert api.post("/members/e1/2022/opening", json=opening).content == r.content  # a replay
    r = api.post("/members/e1/2022/credits", json={"key": "credit-e1", "amount": 400.00, "pack": "jiangmen"})
    assert r.status_code == 201, r.text
    assert r.json()["balance"] == "1000.00"  # 600.00 + 400.00 (a JSON number, read exactly)
    # a second opening, now that the member-year has a credit: refused, nothing written
    other = {"key": "open-e1-again", "accumulators": {"year": 2022, "counters": {"personal_account.balance": "1.00"}}}
    assert paths(problem(api.post("/members/e1/2022/opening", json=other), 409, "history-conflict")) == [["member_id"]]

    # level 1, bill 2,150.00 = 100.00 fully self-paid + 50.00 pre-self-paid + 2,000.00 policy range:
    # basic = (2,000.00 - 300.00 deductible) x 90% = 1,530.00; the account pays 50.00 + 470.00 = 520.00,
    # below the balance of 1,000.00, leaving 480.00; cash = 2,150.00 - 1,530.00 - 520.00 = 100.00.
    stay = claim(id="s1", member=employee, level="level1", admission_date="2022-03-01", discharge_date="2022-03-10",
                 bill={"total": "2150.00", "fully_self_paid": "100.00", "over_limit": "0.00",
                       "pre_self_paid": "50.00", "policy_range": "2000.00"})
    r = api.post("/settlements", json={"key": "msg-e1", "pack": "jiangmen", "claim": stay})
    assert r.status_code == 201, r.text
    fields = r.json()["platform_fields"]
    assert (fields["hifp_pay"], fields["acct_pay"], fields["balc"], fields["psn_cash_pay"]) == (
        "1530.00", "520.00", "480.00", "100.00")
    # the credit was used by a later settlement: it cannot be reversed under it
    problem(api.post("/settlements/credit-e1/reverse", json={"key": "rev-credit"}), 409, "history-conflict")
    assert api.get("/members/e1/2022").json()["accumulators"]["counters"]["personal_account.balance"] == "480.00"


@pytest.mark.parametrize("accumulators, where", [
    (None, ["accumulators"]),
    ({"year": 2022, "counters": {"basic.annual": "-5"}}, ["accumulators", "counters", "basic.annual"]),
    ({"year": 2022, "counters": {"basic.annual": "abc"}}, ["accumulators", "counters", "basic.annual"]),
])
def test_a_bad_opening_is_an_invalid_request_not_a_claim(api, accumulators, where):
    # found by a red team: titled "The claim cannot be settled", in a request that has no claim
    body = problem(api.post("/members/m1/2022/opening", json={"key": "o1", "accumulators": accumulators}),
                   422, "invalid-request")
    assert paths(body) == [where] and body["title"] == "The request is invalid"
    assert api.get("/members/m1/2022").json()["settlements"] == []


def test_settling_realistic_claims_matches_a_serial_evaluate(api, packs):
    claims = member_claims(60, 12)
    want: dict[tuple, dict] = {}
    for i, c in enumerate(claims):
        r = api.post("/settlements", json={"key": f"s{i}", "pack": c.pack, "claim": c.body})
        assert r.status_code == 201, r.text
        body = r.json()
        mid, year = body["member_id"], body["year"]
        before = want.get((mid, year))
        s = benefits.evaluate(c.body, packs[c.pack], before)
        assert body["settlement"] == json.loads(s.model_dump_json()), f"claim {i}"
        after = s.accumulators_after.model_dump(mode="json")  # the ledger keeps no counter at zero
        want[(mid, year)] = dict(after, counters={k: v for k, v in after["counters"].items() if Decimal(v)})
    for (mid, year), acc in want.items():
        assert api.get(f"/members/{mid}/{year}").json()["accumulators"] == acc


def test_claim_problems_through_the_ledger_write_nothing(api):
    r = api.post("/settlements", json={"key": "k1", "pack": "jiangmen", "claim": claim(level="level9")})
    assert paths(problem(r, 422, "invalid-claim")) == [["claim", "level"]]
    problem(api.get("/settlements/k1"), 404, "not-found")
    r = api.post("/settlements/pre-settle", json={"pack": "jiangmen", "claim": claim(discharge_date="2030-01-01")})
    problem(r, 422, "invalid-claim")
    assert api.get("/members/m1/2021").json()["entries"] == []


def test_health_and_ready(api, ledger_url):
    assert api.get("/health").json() == {"status": "ok"}
    r = api.get("/ready")
    assert r.status_code == 200
    ready = r.json()
    assert ready["status"] == "ready" and set(ready["packs"]) == {"jiangmen", "anyang"}
    assert ready["store"] == ("postgresql" if ledger_url.startswith("postgresql") else "sqlite")
    assert ready["packs"]["jiangmen"]["versions"] == ["2021-01-01", "2021-07-01", "2022-01-01"]


def test_the_sqlite_store_is_wal(tmp_path):
    database = str(tmp_path / "ledger.db")
    with TestClient(create_app(PACK_DIRS, database)) as api:
        assert api.post("/settlements", json={"key": "k1", "pack": "jiangmen", "claim": claim()}).status_code == 201
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_unreachable_store_is_503_not_a_traceback():
    url = "postgresql://nobody@127.0.0.1:1/none"
    with TestClient(create_app(PACK_DIRS, url)) as client:
        assert client.get("/health").status_code == 200
        body = problem(client.get("/ready"), 503, "not-ready")
        assert body["problems"][0]["path"] == ["store"]
        r = client.post("/settlements", json={"key": "k1", "pack": "jiangmen", "claim": claim()})
        problem(r, 503, "store-unavailable")
        assert r.headers["retry-after"] == "1"
        assert client.post("/calculate", json={"pack": "jiangmen", "claim": claim()}).status_code == 200


# --- reloading the packs -----------------------------------------------------------------------------


def _copy_pack(tmp_path: Path) -> Path:
    folder = tmp_path / "jiangmen"
    shutil.copytree(PACK_DIRS["jiangmen"], folder)
    return folder


def _set_level3_deductible(folder: Path, value: str) -> None:
    path = folder / "parameters" / "basic_inpatient.yaml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    # the resident level-3 deductible is the first `level3:` of the file; its value is on the next line
    at = next(i for i, line in enumerate(lines) if line.strip() == "level3:")
    head, _, tail = lines[at + 1].partition("value: ")
    lines[at + 1] = head + "value: " + value + tail[tail.index(","):]
    path.write_text("".join(lines), encoding="utf-8")


def _basic(client_or_url, **kw) -> str:
    post = client_or_url.post if not isinstance(client_or_url, str) else (
        lambda path, **a: httpx.post(client_or_url + path, **a))
    r = post("/calculate", json={"pack": "jiangmen", "claim": claim()}, **kw)
    assert r.status_code == 200, r.text
    return r.json()["layers"][0]["paid"]


def test_reload_swaps_the_packs_and_keeps_the_old_ones_when_one_fails(tmp_path):
    folder = _copy_pack(tmp_path)
    with TestClient(create_app({"jiangmen": folder}, str(tmp_path / "ledger.db"))) as client:
        assert _basic(client) == "11375.00"
        _set_level3_deductible(folder, "2000.00")
        assert _basic(client) == "11375.00"  # loaded at start: a changed file waits for a reload
        r = client.post("/admin/reload")
        assert r.status_code == 200 and r.json()["generation"] == 2
        assert _basic(client) == "10725.00"  # (18500.00 - 2000.00) x 65%
        # a broken pack: the problems with file and line, and the packs loaded before stay in use
        (folder / "parameters" / "bill.yaml").write_text("bill.b_share_default: [unclosed\n", encoding="utf-8")
        body = problem(client.post("/admin/reload"), 422, "invalid-rule-pack")
        first = body["problems"][0]
        assert first["path"][0] == "jiangmen" and first["file"].endswith("bill.yaml") and first["line"] in (1, 2)
        assert _basic(client) == "10725.00"
        assert client.get("/ready").json()["generation"] == 2


TOKEN = "0123456789abcdef0123456789abcdef"


def test_a_service_with_an_admin_token_reloads_only_with_it(tmp_path):
    # /admin/reload was open to anyone who reached the service: with a token, only its holder reloads
    with TestClient(create_app(PACK_DIRS, str(tmp_path / "ledger.db"), admin_token=TOKEN)) as client:
        for headers, why in (({}, ""), ({"Authorization": "Bearer 0123"}, "; the one sent is not it"),
                             ({"Authorization": TOKEN}, "; the one sent is not it")):
            r = client.post("/admin/reload", headers=headers)
            body = problem(r, 401, "unauthorized")
            assert body["detail"] == ("this operation needs the service's admin token, sent as `Authorization: "
                                      "Bearer <token>`" + why)
            assert r.headers["www-authenticate"] == 'Bearer realm="benefits admin"'
        assert client.get("/ready").json()["generation"] == 1  # nothing was reloaded
        r = client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200 and r.json()["status"] == "reloaded"
        assert client.get("/ready").json()["generation"] == 2
        # the scheme's name is case-insensitive, and one or more spaces may follow it (RFC 9110 11.1)
        for header in (f"bearer {TOKEN}", f"BEARER  {TOKEN}"):
            assert client.post("/admin/reload", headers={"Authorization": header}).status_code == 200
        for header in (f"Basic {TOKEN}", f"Bearer {TOKEN}x", f"Bearer{TOKEN}", f"Bearer {TOKEN[:-1]}"):
            problem(client.post("/admin/reload", headers={"Authorization": header}), 401, "unauthorized")
        assert client.post("/calculate", json={"pack": "jiangmen", "claim": claim()}).status_code == 200  # no token


def test_benefits_serve_takes_its_admin_token_from_a_file_and_every_worker_asks_for_it(tmp_path):
    token_file = tmp_path / "admin-token"
    token_file.write_text(TOKEN + "\n", encoding="ascii")  # as `openssl rand -hex 16 > file` writes it
    with ServerProcess(str(tmp_path / "ledger.db"), tmp_path / "server.log", workers=2,
                       extra_env={"BENEFITS_ADMIN_TOKEN_FILE": str(token_file)}) as server:
        # new connections are spread over both workers: each refuses without the token, reloads with it
        assert {httpx.post(server.url + "/admin/reload").status_code for _ in range(8)} == {401}
        assert {httpx.post(server.url + "/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"}).status_code
                for _ in range(8)} == {200}
    # the workers' token is the command's: one left in the environment from elsewhere does not apply
    with ServerProcess(str(tmp_path / "ledger.db"), tmp_path / "server1.log", workers=1,
                       extra_env={"BENEFITS_SERVE_ADMIN_TOKEN": TOKEN}) as server:
        assert httpx.post(server.url + "/admin/reload").status_code == 200


def test_an_empty_admin_token_variable_stops_the_server_instead_of_leaving_reload_open(tmp_path):
    # a deployment template that left BENEFITS_ADMIN_TOKEN_FILE empty started a server anyone could reload
    from benefits_cli.app import app as cli_app
    from typer.testing import CliRunner

    r = CliRunner().invoke(cli_app, ["serve", "--rules", str(PACK_DIRS["jiangmen"]), "--database",
                                     str(tmp_path / "ledger.db")], env={"BENEFITS_ADMIN_TOKEN_FILE": ""})
    assert r.exit_code == 2, r.output
    assert "BENEFITS_ADMIN_TOKEN_FILE is set but empty" in r.output
    assert not (tmp_path / "ledger.db").exists()


@pytest.mark.parametrize("text, words", [
    ("short\n", "expected one line of 16 to 4096 characters"),
    (TOKEN + " x\n", "expected one line of 16 to 4096 characters"),
    (TOKEN + "\n\n", "expected one line of 16 to 4096 characters"),
    ("", "expected one line of 16 to 4096 characters"),
    (None, "cannot be read"),
    ("fifo", "expected a file, not a device, pipe or folder"),  # opening it waited for a writer for ever
])
def test_an_admin_token_file_that_cannot_be_used_stops_the_server_before_it_starts(tmp_path, text, words):
    from benefits_cli.app import app as cli_app
    from typer.testing import CliRunner

    token_file = tmp_path / "admin-token"
    if text == "fifo":
        os.mkfifo(token_file)
    elif text is not None:
        token_file.write_text(text, encoding="ascii")
    r = CliRunner().invoke(cli_app, ["serve", "--rules", str(PACK_DIRS["jiangmen"]), "--database",
                                     str(tmp_path / "ledger.db"), "--admin-token-file", str(token_file)])
    assert r.exit_code == 2, r.output
    assert f"--admin-token-file {token_file}: {words}" in " ".join(r.output.split())
    assert not (tmp_path / "ledger.db").exists()  # stopped before it opened anything


def test_reload_reaches_every_worker_and_sighup_reloads(tmp_path):
    folder = _copy_pack(tmp_path)
    with ServerProcess(str(tmp_path / "ledger.db"), tmp_path / "server.log", workers=2,
                       packs={"jiangmen": str(folder)}) as server:
        assert _basic(server.url) == "11375.00"
        _set_level3_deductible(folder, "2000.00")
        assert httpx.post(server.url + "/admin/reload").status_code == 200
        # new connections are spread over both workers: every one answers with the new pack now
        assert {_basic(server.url) for _ in range(12)} == {"10725.00"}
        # SIGHUP to the supervisor: each worker replaced by one that loads the packs afresh
        _set_level3_deductible(folder, "3000.00")
        server.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while {_basic(server.url) for _ in range(8)} != {"10075.00"}:  # (18500.00 - 3000.00) x 65%
            assert time.monotonic() < deadline, server.log()[-3000:]
    with ServerProcess(str(tmp_path / "ledger.db"), tmp_path / "server1.log", workers=1,
                       packs={"jiangmen": str(folder)}) as server:
        assert _basic(server.url) == "10075.00"
        _set_level3_deductible(folder, "1000.00")
        server.proc.send_signal(signal.SIGHUP)  # one process: it reloads in place
        deadline = time.monotonic() + 30
        while _basic(server.url) != "11375.00":
            assert time.monotonic() < deadline, server.log()[-3000:]
        assert server.proc.poll() is None


def _set_level3_ratio(folder: Path, percent: str) -> None:
    """The resident level-3 inpatient ratio (65% in the pack) set to `percent`."""
    path = folder / "parameters" / "basic_inpatient.yaml"
    source = ', source: "seed 001: 参保人在三级'
    text, n = re.subn(r"\{value: [0-9.]+%" + re.escape(source), "{value: " + percent + source,
                      path.read_text(encoding="utf-8"))
    assert n == 1, "the level-3 ratio is not where it was"
    path.write_text(text, encoding="utf-8")


def _each_worker(url: str, workers: int = 2, at_least: int = 16, timeout: float = 60) -> dict[int, dict]:
    """Per worker (its process id, from /ready): the set's digest and what the basic fund pays for
    conftest's claim(). Each round is a new connection, answered by one worker; the rounds go on until
    every worker has answered and `at_least` rounds were made."""
    seen: dict[int, dict] = {}
    rounds = 0
    deadline = time.monotonic() + timeout
    while len(seen) < workers or rounds < at_least:
        assert time.monotonic() < deadline, f"only workers {sorted(seen)} answered in {rounds} rounds"
        with httpx.Client(base_url=url) as client:  # one connection: both requests reach one worker
            ready = client.get("/ready").json()
            found = seen.setdefault(ready["worker"], {"digest": set(), "paid": set()})
            found["digest"].add(ready["digest"])
            found["paid"].add(_basic(client))
        rounds += 1
    return seen


def test_every_worker_settles_with_the_last_reload_whatever_the_folder_holds_since(tmp_path):
    folder = _copy_pack(tmp_path)
    with ServerProcess(str(tmp_path / "ledger.db"), tmp_path / "server.log", workers=2,
                       packs={"jiangmen": str(folder)}) as server:
        _set_level3_ratio(folder, "70%")
        assert httpx.post(server.url + "/admin/reload").status_code == 200
        _set_level3_ratio(folder, "99%")  # edited again, not reloaded
        # conftest's claim(): a resident's level-3 stay, policy-range amount 18500.00, deductible 1000.00
        # (domain.md 7.1); the basic fund pays (18500.00 - 1000.00) x 70% = 12250.00 as reloaded.
        # The folder's 99% would pay 17325.00: no worker may.
        seen = _each_worker(server.url)
        assert {pid: found["paid"] for pid, found in seen.items()} == {pid: {"12250.00"} for pid in seen}
        digests = set().union(*(found["digest"] for found in seen.values()))
        assert len(digests) == 1
        # a worker that dies is replaced by one that joins the same set, not the folder as it is now
        os.kill(next(iter(seen)), signal.SIGKILL)
        deadline = time.monotonic() + 60
        while not set(after := _each_worker(server.url, at_least=4)) - set(seen):
            assert time.monotonic() < deadline, server.log()[-3000:]
        assert {pid: found["paid"] for pid, found in after.items()} == {pid: {"12250.00"} for pid in after}
        assert set().union(*(found["digest"] for found in after.values())) == digests


def test_a_failed_reload_changes_no_worker_and_answers_the_problems(tmp_path):
    folder = _copy_pack(tmp_path)
    with ServerProcess(str(tmp_path / "ledger.db"), tmp_path / "server.log", workers=2,
                       packs={"jiangmen": str(folder)}) as server:
        _set_level3_ratio(folder, "70%")
        before = httpx.post(server.url + "/admin/reload").json()["digest"]
        _set_level3_ratio(folder, "99%")
        (folder / "parameters" / "bill.yaml").write_text("bill.b_share_default: [unclosed\n", encoding="utf-8")
        body = problem(httpx.post(server.url + "/admin/reload"), 422, "invalid-rule-pack")
        assert body["problems"][0]["file"].endswith("bill.yaml")
        # every worker keeps the set the last successful reload loaded: (18500.00 - 1000.00) x 70% = 12250.00
        seen = _each_worker(server.url)
        assert {pid: (found["digest"], found["paid"]) for pid, found in seen.items()} == \
            {pid: ({before}, {"12250.00"}) for pid in seen}


def test_workers_sharing_a_stamp_settle_with_the_snapshot_not_the_folder(tmp_path):
    """The same, in one process: two `Packs` on one stamp stand for two workers of a server."""
    from benefits.service.packs import Packs
    from benefits.service.problems import ServiceProblem

    folder = _copy_pack(tmp_path)
    stamp = tmp_path / "run" / "packs.stamp"
    stamp.parent.mkdir()
    first, second = Packs({"jiangmen": folder}, stamp), Packs({"jiangmen": folder}, stamp)
    assert first.current.digest == second.current.digest

    def pays(packs: Packs) -> str:
        settlement = benefits.evaluate(claim(), packs.get("jiangmen"))
        return str(settlement.layers[0].paid)

    assert pays(first) == pays(second) == "11375.00"  # (18500.00 - 1000.00) x 65%
    _set_level3_ratio(folder, "70%")
    first.reload()
    _set_level3_ratio(folder, "99%")
    later = Packs({"jiangmen": folder}, stamp)  # a worker started after the reload
    assert pays(first) == pays(second) == pays(later) == "12250.00"  # (18500.00 - 1000.00) x 70%
    (folder / "parameters" / "bill.yaml").write_text("bill.b_share_default: [unclosed\n", encoding="utf-8")
    with pytest.raises(ServiceProblem):
        second.reload()
    assert pays(first) == pays(second) == pays(later) == "12250.00"
    # the snapshots kept: the current set and the one before it, not one per reload
    shutil.copy(PACK_DIRS["jiangmen"] + "/parameters/bill.yaml", folder / "parameters" / "bill.yaml")
    for percent in ("71%", "72%", "73%"):
        _set_level3_ratio(folder, percent)
        later.reload()
    assert pays(first) == "12775.00"  # (18500.00 - 1000.00) x 73%
    kept = [p.name for p in Path(f"{stamp}.packs").iterdir() if not p.name.startswith(".")]
    assert len(kept) == 2 and first.current.digest in kept
    # a worker that starts when the published set cannot be loaded settles nothing (rather than with
    # the folder as it is now) until a reload publishes one it can load
    shutil.rmtree(Path(f"{stamp}.packs") / first.current.digest)
    stranded = Packs({"jiangmen": folder}, stamp)
    with pytest.raises(ServiceProblem) as caught:
        stranded.get("jiangmen")
    assert caught.value.status == 503
    _set_level3_ratio(folder, "74%")
    first.reload()
    assert pays(stranded) == pays(second) == "12950.00"  # (18500.00 - 1000.00) x 74%
    # a worker of `benefits serve` joins the set published before it: with the stamp gone (a cleaner
    # of temporary files), it loaded the folder as it was and published it to every worker, an edit
    # nobody reloaded going live; now it settles nothing until a reload
    _set_level3_ratio(folder, "99%")
    stamp.unlink()
    restarted = Packs({"jiangmen": folder}, stamp, joins=True)
    with pytest.raises(ServiceProblem) as caught:
        restarted.get("jiangmen")
    assert caught.value.status == 503 and not stamp.exists()
    assert pays(first) == "12950.00"  # the others keep the set they settle with
    restarted.reload()
    assert pays(restarted) == pays(first) == "17325.00"  # reloaded: (18500.00 - 1000.00) x 99%


def test_several_workers_answer_without_waiting_for_delayed_acks(tmp_path):
    # uvicorn's supervisor opens its socket without TCP_NODELAY reaching the accepted connections: each
    # answer (head, then body) then waited ~40 ms for the client's delayed ACK; `benefits serve` sets it
    with ServerProcess(str(tmp_path / "ledger.db"), tmp_path / "server.log", workers=2) as server, \
            httpx.Client(base_url=server.url) as client:
        times = []
        for _ in range(30):
            t0 = time.perf_counter()
            assert client.get("/health").status_code == 200
            times.append(time.perf_counter() - t0)
        assert sorted(times)[15] < 0.02, f"median {sorted(times)[15] * 1000:.0f} ms a request"


def test_a_test_server_whose_chosen_port_was_taken_meanwhile_starts_on_another(tmp_path, monkeypatch):
    """free_port() closes its socket before the server binds the port: when another process took it
    in between, the server is started again on a new port instead of failing the test."""
    import socket

    import service_fixtures

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = iter([port])
        real = service_fixtures.free_port
        monkeypatch.setattr(service_fixtures, "free_port", lambda: next(ports, None) or real())
        with ServerProcess(str(tmp_path / "ledger.db"), tmp_path / "server.log", workers=1) as server:
            assert server.port != port
            assert httpx.get(server.url + "/health").status_code == 200
    assert "address already in use" in server.log().lower()


def test_a_client_that_hangs_up_mid_body_is_one_quiet_line(tmp_path):
    # found by a red team: each left two tracebacks in the log (starlette's ClientDisconnect, then uvicorn's
    # "Exception in ASGI application"), as if the service had failed
    import socket

    body = json.dumps({"key": "k-half", "pack": "jiangmen", "claim": claim()}).encode()
    with ServerProcess(str(tmp_path / "ledger.db"), tmp_path / "server.log", workers=1) as server:
        for route, sent in (("/calculate", b"{}"), ("/settlements", body[: len(body) // 2])):
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
                conn.sendall(f"POST {route} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {len(body) + 10}\r\nConnection: close\r\n\r\n".encode() + sent)
            time.sleep(0.5)  # the worker reads on, then finds the client gone
        year = httpx.get(server.url + "/members/m1/2021").json()
        assert year["accumulators"]["admissions"] == 0 and year["accumulators"]["counters"] == {}  # nothing written
        r = httpx.post(server.url + "/settlements", content=b"", headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["problems"] == [
            {"path": [], "message": "expected a JSON object, got an empty body"}]
        log = server.log()
    assert "Traceback" not in log and "internal error" not in log and "Exception in ASGI" not in log, log[-3000:]


# --- the command line --------------------------------------------------------------------------------


def _serve(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benefits", "serve", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=str(ROOT))


def test_serve_refuses_a_broken_pack_or_store_before_it_starts(tmp_path):
    folder = _copy_pack(tmp_path)
    (folder / "parameters" / "bill.yaml").write_text("bill.b_share_default: [unclosed\n", encoding="utf-8")
    r = _serve("--rules", str(folder), "--database", str(tmp_path / "l.db"), "--port", "1")
    assert r.returncode == 2, r.stderr
    assert "bill.yaml:" in r.stderr and "Traceback" not in r.stderr
    r = _serve("--rules", PACK_DIRS["jiangmen"], "--database", "mysql://x/y", "--port", "1")
    assert r.returncode == 2 and "not a ledger store" in r.stderr
    r = _serve("--rules", str(tmp_path / "nowhere"), "--port", "1")
    assert r.returncode == 2 and "not a folder" in r.stderr


def test_two_packs_served_under_two_names_but_one_pack_name_are_refused(tmp_path, ledger_url):
    # A ledger records a member-year's settlements by the name in pack.yaml: served as jm and cf, a copy
    # of Jiangmen with another ratio replayed jm's settlement for the same key under cf, and let a
    # member-year settled under jm continue under cf.
    from benefits.service.app import create_app
    from benefits.service.problems import ServiceProblem

    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "rules" / "jiangmen", copy)
    with pytest.raises(ServiceProblem) as caught:
        create_app({"jm": ROOT / "rules" / "jiangmen", "cf": copy}, ledger_url)
    assert "packs 'jm'" in str(caught.value.problems) and "are both named 'jiangmen' in their pack.yaml" in str(
        caught.value.problems)
    # renamed in its pack.yaml, it is served beside the other
    text = (copy / "pack.yaml").read_text(encoding="utf-8")
    (copy / "pack.yaml").write_text(re.sub(r"(?m)^pack: jiangmen$", "pack: jiangmen_cf", text), encoding="utf-8")
    with TestClient(create_app({"jm": ROOT / "rules" / "jiangmen", "cf": copy}, ledger_url)) as client:
        assert sorted(p["name"] for p in client.get("/packs").json()["packs"]) == ["cf", "jm"]


def test_a_reload_makes_the_servers_folder_again_when_a_cleaner_removed_it(tmp_path):
    # The folder of stamp and snapshots removed whole (a cleaner of temporary files): every reload
    # answered 503 ("cannot be shared ... No such file or directory") until a restart.
    from benefits.service.packs import Packs

    folder = _copy_pack(tmp_path)
    stamp = tmp_path / "run" / "packs.stamp"
    stamp.parent.mkdir()
    worker = Packs({"jiangmen": folder}, stamp, joins=False)
    shutil.rmtree(stamp.parent)
    _set_level3_ratio(folder, "70%")
    worker.reload()
    assert stamp.exists()
    joined = Packs({"jiangmen": folder}, stamp, joins=True)
    settled = benefits.evaluate(claim(), joined.get("jiangmen"))
    assert str(settled.layers[0].paid) == "12250.00"  # (18500.00 - 1000.00) x 70%


def test_a_key_the_library_wrote_is_read_and_reversed_over_http(api, ledger_url):
    """Found by a red team: `benefits settle --key '结算 9'` was accepted (the ledger takes any printable
    key) and listed by GET /members, but GET /settlements/{key} and its reverse answered 422: the
    settlement could be reversed from the command line only. A stored request's key is the ledger's."""
    packs = benefits.load_rules(PACK_DIRS["jiangmen"])
    with open_ledger(ledger_url) as ledger:
        first = ledger.settle("结算 9", claim(id="c-9"), packs)
        ledger.settle("a/b", claim(id="c-10", admission_date="2021-05-01", discharge_date="2021-05-10"), packs)
    assert [s["key"] for s in api.get("/members/m1/2021").json()["settlements"]] == ["结算 9", "a/b"]
    got = api.get("/settlements/" + quote("结算 9"))
    assert (got.status_code, got.text) == (200, first.body)
    assert json.loads(api.get("/settlements/a%2Fb").text)["key"] == "a/b"
    for key, reversal in (("a/b", "r-10"), ("结算 9", "r-9")):  # the later one first: nothing stands on it
        r = api.post(f"/settlements/{quote(key, safe='')}/reverse", json={"key": reversal})
        assert r.status_code == 201, r.text
        assert r.json()["of"] == key
    assert api.get("/members/m1/2021").json()["accumulators"]["counters"] == {}
    # the reverse route asked with GET is still 405 (found by a red team: it read as the key 'k/reverse')
    refused = api.get("/settlements/" + quote("结算 9") + "/reverse")
    assert problem(refused, 405, "method-not-allowed")["detail"].endswith("allowed: POST")
    # a key the ledger cannot hold is still refused, naming it
    body = problem(api.get("/settlements/" + quote(" k")), 422, "invalid-request")
    assert paths(body) == [["path", "key"]] and "without surrounding spaces" in body["detail"]
