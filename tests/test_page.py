"""The settlement page's routes in process (FastAPI's TestClient): the page and its files are served
with their content types, /packs lists the loaded packs, /page/parse reads YAML and JSON exactly
(amounts as text, never floats) with the line of each problem, and POST /trace, which the page
settles through once, carries the platform's blocks. The page in a real browser: test_page_browser.py."""

from __future__ import annotations

import json
import re
import warnings

import pytest

import benefits
from benefits.models import platform_out
from benefits.models.schema import calc_output_schema
from benefits.yamlio import load_file
from conftest import claim
from service_fixtures import PACK_DIRS, ROOT

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note on httpx's successor, not about this code
    from fastapi.testclient import TestClient

from benefits.service import create_app  # noqa: E402

STATIC = ROOT / "src" / "benefits" / "service" / "static"
EXAMPLES = ROOT / "examples"
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    folder = tmp_path_factory.mktemp("page")
    with TestClient(create_app(PACK_DIRS, str(folder / "ledger.db"))) as c:
        yield c


@pytest.mark.parametrize("path", ["/", "/page", "/page?lang=en&print=1"])
def test_the_page_is_served_as_html(client, path):
    r = client.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert "<svg" not in r.text  # drawn by the script, from the API's answer
    for asset in ("/page/static/page.css", "/page/static/page.js"):
        assert asset in r.text
    assert 'id="claim-text"' in r.text and 'type="file"' in r.text and 'id="pack"' in r.text
    assert "中文" in r.text and "English" in r.text


@pytest.mark.parametrize("name, kind", [("page.css", "text/css; charset=utf-8"),
                                        ("page.js", "text/javascript; charset=utf-8"),
                                        ("page.html", "text/html; charset=utf-8")])
def test_the_page_files_are_served_with_their_types(client, name, kind):
    r = client.get(f"/page/static/{name}")
    assert r.status_code == 200 and r.headers["content-type"] == kind
    assert r.content == (STATIC / name).read_bytes()


@pytest.mark.parametrize("name", ["nothing.js", "..%2Fpage.py", "%2E%2E%2Fapp.py", ".hidden.css", "page.py",
                                  "x" * 300 + ".js"])  # a name too long to stat was a 500
def test_nothing_else_is_served_from_the_page_folder(client, name):
    r = client.get(f"/page/static/{name}")
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM


def test_the_page_needs_nothing_from_the_network():
    for path in STATIC.iterdir():
        text = path.read_text(encoding="utf-8").replace("http://www.w3.org/2000/svg", "")  # a namespace, not fetched
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text, re.I), f"{path.name} loads from the network"
        assert "@import" not in text


def test_the_script_never_turns_an_amount_into_a_float_but_for_proportions():
    """Number() appears in one place, the proportions of the bars; no parseFloat, no toFixed."""
    js = (STATIC / "page.js").read_text(encoding="utf-8")
    code = "\n".join(line for line in js.splitlines() if not line.strip().startswith(("*", "/*", "//")))
    assert "parseFloat" not in code and "toFixed" not in code and "toLocaleString" not in code
    uses = [line.strip() for line in code.splitlines() if "Number(" in line]
    assert uses == ["var w = Number(whole), p = Number(part);"]


def test_packs_lists_the_loaded_packs(client):
    r = client.get("/packs")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    packs = {p["name"]: p for p in r.json()["packs"]}
    assert set(packs) == set(PACK_DIRS)
    jm = benefits.load_rules(PACK_DIRS["jiangmen"])
    assert packs["jiangmen"]["title"] == jm.meta.title
    assert packs["jiangmen"]["versions"] == [str(v) for v in jm.meta.versions]
    assert "level3" in packs["jiangmen"]["levels"] and "inpatient" in packs["jiangmen"]["visits"]
    assert packs["jiangmen"]["layers"][0] == "basic"
    assert packs["jiangmen"]["words"]["level3"] == "三级" and packs["jiangmen"]["words"]["inpatient"] == "住院"
    # the labels of the platform's setlinfo fields, every field, in the platform's order
    labels = r.json()["setlinfo"]
    assert list(labels)[:len(platform_out.SETLINFO_FIELDS)] == list(platform_out.SETLINFO_FIELDS)
    assert all(set(label) == {"zh", "en"} and label["zh"] and label["en"] for label in labels.values())
    assert labels["medfee_sumamt"] == {"zh": "医疗费总额", "en": "total"}
    assert labels["pool_prop_selfpay"] == {"zh": "基本医疗保险统筹基金支付比例", "en": "the basic fund's ratio (0.6500 = 65%)"}
    # the JSON Schema (`benefits schema settlement`) describes the field by the same names, and the rest
    schema = calc_output_schema()
    assert schema["properties"]["setlinfo"] == {"$ref": "#/$defs/SetlInfo"}
    described = schema["$defs"]["SetlInfo"]
    assert described["properties"]["pool_prop_selfpay"]["description"] == (
        "基本医疗保险统筹基金支付比例: the basic fund's ratio (0.6500 = 65%); 0.0000 when none applied")
    assert described["properties"]["medfee_sumamt"]["description"] == "医疗费总额: total"


def test_the_page_routes_are_not_in_the_openapi_document(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p in ("/", "/packs") or p.startswith("/page")]


def test_parse_reads_a_yaml_claim_exactly_with_lines(client):
    text = (EXAMPLES / "resident-level3-inpatient.yaml").read_text(encoding="utf-8")
    r = client.post("/page/parse", json={"text": text, "name": "claim"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"]["bill"] == {"total": "68450.30", "fully_self_paid": "3120.00", "over_limit": "215.40",
                                    "pre_self_paid": "2406.85", "policy_range": "62708.05"}
    assert body["data"]["admission_date"] == "2021-08-02" and body["data"]["member"]["groups"] == ["dibao"]
    lines = text.splitlines()
    assert lines[body["lines"]["bill.total"] - 1].strip() == "total: 68450.30"
    # what the page sends on settles as the file does
    packs = benefits.load_rules(PACK_DIRS["jiangmen"])
    data, _ = load_file(EXAMPLES / "resident-level3-inpatient.yaml")
    r = client.post("/calculate", json={"pack": "jiangmen", "claim": body["data"]})
    assert r.json() == platform_out.with_blocks(benefits.evaluate(data, packs, trace=False))


def test_parse_reads_json_numbers_exactly(client):
    text = json.dumps(claim())[:-1] + ', "note_amount": 0.1000000000000000055511151231257827}'
    text = text.replace('"20000.00"', "20000.10")
    r = client.post("/page/parse", json={"text": text})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["bill"]["total"] == "20000.10"
    assert data["note_amount"] == "0.1000000000000000055511151231257827"
    assert client.post("/page/parse", json={"text": '{"n": 12345678901234567890}'}).json()["data"]["n"] == \
        "12345678901234567890"  # beyond a browser's exact integers: text


@pytest.mark.parametrize("text, line, fragment", [
    ("id: c1\nbill: {total: [1,\n", 3, "not valid YAML"),
    ('{"id": "c1",\n "bill": {"total" 1.5}}', 2, "not valid JSON"),  # neither JSON nor YAML: JSON's problem
    ("id: c1\nid: c2\n", 2, "id"),
    ('{"id": "c1",\n "items": [{"id": "\\ud800"}]}', 2, "lone surrogate"),  # was a 500
])
def test_parse_problems_name_the_line(client, text, line, fragment):
    r = client.post("/page/parse", json={"text": text, "name": "claim"})
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["problems"][0]["path"] == ["text"] and body["problems"][0]["line"] == line
    assert fragment in body["detail"]


def test_parse_writes_json_numbers_as_the_amounts_they_are(client):
    # str(Decimal) gave '1.5E+4', which no amount reads: the page refused what /calculate settles
    total = json.dumps(claim()).replace('"20000.00"', "2.000000E4").replace('"0.00"', "0E-10")
    r = client.post("/page/parse", json={"text": total})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["bill"]["total"] == "20000.00" and data["bill"]["over_limit"] == "0.0000000000"
    page = client.post("/calculate", json={"pack": "jiangmen", "claim": data})
    api = client.post("/calculate", content=total.join(['{"pack": "jiangmen", "claim": ', "}"]),
                      headers={"content-type": "application/json"})
    assert page.status_code == api.status_code == 200, (page.text, api.text)
    assert page.json()["setlinfo"]["medfee_sumamt"] == api.json()["setlinfo"]["medfee_sumamt"] == "20000.00"
    # a number no amount holds stays short text, not a billion digits
    assert client.post("/page/parse", json={"text": '{"n": 1e999999999}'}).json()["data"]["n"] == "1E+999999999"


def test_parse_reads_flow_yaml_that_starts_like_json(client):
    # '{id: c1, ...}' is YAML (benefits calc reads it): it was refused as "not valid JSON"
    r = client.post("/page/parse", json={"text": "{id: c1, bill: {total: 012000.00, over_limit: 1e3}}"})
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {"id": "c1", "bill": {"total": "12000.00", "over_limit": "1e3"}}


@pytest.mark.parametrize("text, line, message", [
    ("id: c1\nbill:\n  total: !!binary /w==\n", 3, "!!binary"),  # bytes that are not UTF-8: a 500
    ("id: c1\nbill:\n  total: !!binary MTAwMC4wMA==\n", 3, "!!binary"),  # b"1000.00": settled as 1000.00
    ("id: c1\nmember:\n  true: 1\n", 2, "a key is text, got True"),  # sent on as 'True'; the line of its mapping
])
def test_parse_refuses_what_json_cannot_carry_with_its_line(client, text, line, message):
    r = client.post("/page/parse", json={"text": text, "name": "claim"})
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text
    problem = r.json()["problems"][0]
    assert problem["line"] == line and message in problem["message"]


@pytest.mark.parametrize("body", [{"text": "   "}, {"text": "- a\n- b\n"}, {"text": "x", "extra": 1}, {}])
def test_parse_refuses_what_is_no_mapping(client, body):
    r = client.post("/page/parse", json=body)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM


@pytest.mark.parametrize("example", ["resident-level3", "employee-serious-illness", "tekun-medical-aid"])
def test_trace_gives_the_blocks_the_page_shows(client, example):
    data, _ = load_file(EXAMPLES / f"{example}-inpatient.yaml")
    acc, _ = load_file(EXAMPLES / f"{example}-accumulators.yaml")
    parsed = client.post("/page/parse", json={"text": (EXAMPLES / f"{example}-inpatient.yaml").read_text()}).json()
    parsed_acc = client.post("/page/parse", json={"text": (EXAMPLES / f"{example}-accumulators.yaml").read_text()})
    r = client.post("/trace", json={"pack": "jiangmen", "claim": parsed["data"], "accumulators": parsed_acc.json()["data"]})
    assert r.status_code == 200, r.text
    want = platform_out.platform_json(benefits.evaluate(data, benefits.load_rules(PACK_DIRS["jiangmen"]), acc))
    got = r.json()
    assert got["setlinfo"] == want["setlinfo"] and got["setldetail"] == want["setldetail"]
    assert list(got["setlinfo"])[:len(platform_out.SETLINFO_FIELDS)] == list(platform_out.SETLINFO_FIELDS)
    # a setldetail row per layer that applied, in layer order: the page names each row by its layer
    applied = [p for p in got["layers"] if p["applied"]]
    assert [row["fund_payamt"] for row in got["setldetail"]] == [p["paid"] for p in applied]
