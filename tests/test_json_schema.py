"""`benefits schema claim` against the engine: every claim the JSON Schema refuses, the engine refuses
too (a service may check a claim with the schema first and lose no claim the engine settles), and the
claims the engine refuses that JSON Schema cannot express are listed by name below (ENGINE_ONLY), so
that a change on either side shows.

The claims: the refused and hostile claims of the suite (tests/test_hostile_input.py,
tests/test_hostile_numbers.py, tests/test_api.py, tests/fuzz_corpus/claims, the case files with
their expected refusals and settlements), the examples, and our own lists (REFUSED_BY_BOTH,
REFUSED_BY_THE_ENGINE_ALONE, SETTLED). Each is written as JSON text and read back with
`benefits.loads`, then given to the Draft 2020-12 validator (formats checked) and to the engine. The
validator reads the schema with `benefits.loads` too, so that `multipleOf: 0.01` is checked in
decimals (models/schema.py says why).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import pytest
import test_api
import test_hostile_input
import test_hostile_numbers
from conftest import ROOT, RULES, claim
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import ValidationError

import benefits
from benefits.models.case import CaseFile
from benefits.models.platform_in import claim_from_platform
from benefits.models.schema import (
    MONEY_TEXT,
    POSITIVE_TEXT,
    SHARE_TEXT,
    accumulators_schema,
    calc_output_schema,
    case_schema,
    claim_schema,
)
from benefits.money import parse_decimal, parse_money
from benefits.yamlio import MAX_DEPTH, load_file, load_text

D = Decimal
VALIDATOR = Draft202012Validator(benefits.loads(json.dumps(claim_schema())),
                                 format_checker=Draft202012Validator.FORMAT_CHECKER)


@lru_cache(maxsize=None)
def pack(name: str) -> benefits.RulePack:
    return benefits.load_rules(RULES / name)


# --- the claims -------------------------------------------------------------------------------


def params(test) -> list[tuple]:
    """The argument tuples of a parametrized test of the suite, as it lists them."""
    (mark,) = [m for m in test.pytestmark if m.name == "parametrize"]
    return [p if isinstance(p, tuple) else (p,) for p in mark.args[1]]


def bill(total, policy=None) -> dict:
    return {"total": total, "fully_self_paid": "0", "over_limit": "0", "pre_self_paid": "0",
            "policy_range": total if policy is None else policy}


def item(**over) -> dict:
    return {"id": "i1", "category": "B", "unit_price": "10.00", **over}


FEE_LINE = {"feedetl_sn": "1", "chrgitm_lv": "02", "pric": "88.85", "cnt": "1.5", "det_item_fee_sumamt": "133.28",
            "pric_uplmt_amt": "80.00", "selfpay_prop": "0.10"}
OUTPATIENT = {"visit": "general_outpatient", "level": "level1", "date": "2021-03-01",
              "admission_date": None, "discharge_date": None}

REFUSED_BY_BOTH = {
    "both bill and items": claim(items=[item()]),
    "neither bill nor items": claim(bill=None),
    "bill null and items null": claim(bill=None, items=None) | {"bill": None, "items": None},
    "empty items": claim(bill=None, items=[]),
    "stay without discharge_date": claim(discharge_date=None),
    "stay with a visit date too": claim(date="2021-03-05"),
    "outpatient without a date": claim(**(OUTPATIENT | {"date": None})),
    "outpatient with admission_date": claim(**(OUTPATIENT | {"admission_date": "2021-03-01"})),
    "out of province, filed not said": claim(region="out_of_province"),
    "negative amount": claim(bill=bill("-5.00")),
    "negative amount as a number": claim(bill=bill(D("-5.00"))),
    "three decimals": claim(bill=bill("100.001")),
    "three decimals as a number": claim(bill=bill(D("100.001"))),
    "three decimals on a fee line": claim(bill=None, items=[FEE_LINE | {"pric": "88.855"}]),
    "above the largest amount": claim(bill=bill("1000000000.01")),
    "above the largest amount as a number": claim(bill=bill(D("1000000000.01"))),
    "float-looking text 1e3": claim(bill=bill("1e3")),
    "amount with a comma": claim(bill=bill("1,000.00")),
    "amount in full-width digits": claim(bill=bill("１０.00")),
    "amount that is true": claim(bill=bill(True)),
    "unknown scheme": claim(member={"id": "m1", "scheme": "farmer"}),
    "unknown visit": claim(visit="surgery"),
    "unknown region": claim(region="abroad"),
    "unknown member type": claim(member={"id": "m1", "scheme": "resident", "member_type": "elder"}),
    "unknown group": claim(member={"id": "m1", "scheme": "resident", "member_type": "adult", "groups": ["rich"]}),
    "unknown category": claim(bill=None, items=[item(category="D")]),
    "unknown charge level": claim(bill=None, items=[FEE_LINE | {"chrgitm_lv": "04"}]),
    "employee with a resident member type": claim(member={"id": "m1", "scheme": "employee", "member_type": "adult"}),
    "extra field on the claim": claim(colour="red"),
    "extra field on the member": claim(member={"id": "m1", "scheme": "resident", "member_type": "adult", "x": 1}),
    "extra field on an item": claim(bill=None, items=[item(colour="red")]),
    "extra field on a fee line": claim(bill=None, items=[FEE_LINE | {"selfpay_porp": "0.10"}]),
    "fee lines mixed with ours": claim(bill=None, items=[item(), FEE_LINE]),
    "quantity 0": claim(bill=None, items=[item(quantity=0)]),
    "quantity 0 as text": claim(bill=None, items=[item(quantity="0.000")]),
    "quantity below 0 as text": claim(bill=None, items=[item(quantity="-1")]),
    "share above 1": claim(bill=None, items=[item(self_pay_share=D("1.01"))]),
    "share above 1 as text": claim(bill=None, items=[item(self_pay_share="1.01")]),
    "share below 0 as text": claim(bill=None, items=[item(self_pay_share="-0.1")]),
    "date not of the calendar": claim(discharge_date="2021-02-30"),
    "date in full-width digits": claim(discharge_date="２０２１-０３-１０"),
    "date with a time": claim(discharge_date="2021-03-10T08:00:00"),
    "empty id": claim(id=""),
    "age -1": claim(member={"id": "m1", "scheme": "resident", "member_type": "adult", "age": -1}),
}
REFUSED_BY_THE_ENGINE_ALONE = {  # JSON Schema cannot say it
    "bill parts not adding up": claim(bill=bill("100.00", "90.00")),
    "duplicate item ids": claim(bill=None, items=[item(), item(category="A")]),
    "discharge before admission": claim(discharge_date="2021-02-28"),
    "a date no version covers": claim(admission_date="2023-01-01", discharge_date="2023-01-02"),
    "a level the pack does not have": claim(level="level4"),
    "a fee line's total not its price x quantity": claim(bill=None,
                                                         items=[FEE_LINE | {"det_item_fee_sumamt": "133.27"}]),
    "quantity above a million as text": claim(bill=None, items=[item(quantity="1000001")]),
}
SETTLED = {  # spellings the engine reads, and the platform's shape
    "a valid claim": claim(),
    "amounts as numbers": claim(bill={"total": D("20000.0"), "fully_self_paid": 1000, "over_limit": 0,
                                      "pre_self_paid": D("500.00"), "policy_range": D("18500")}),
    "negative zero, zero-padded, trailing zeros": claim(bill={"total": "020000.000", "fully_self_paid": "1000.",
                                                              "over_limit": "-0.00", "pre_self_paid": "+500",
                                                              "policy_range": "18500.00"}),
    "fee lines": claim(bill=None, items=[FEE_LINE, FEE_LINE | {"feedetl_sn": "2", "chrgitm_lv": "03"}]),
    "an outpatient visit": claim(**OUTPATIENT),
    "a filed cross-province stay": claim(region="out_of_province", filed=True),
}


def suite() -> dict[str, tuple[object, object, str]]:
    """Every claim: name -> (claim, accumulators, pack name)."""
    out: dict[str, tuple[object, object, str]] = {}
    for name, (c, acc, _) in test_hostile_input.CLAIMS.items():
        out[f"hostile input: {name}"] = (c, acc, "jiangmen")
    for over, acc, fragment in params(test_api.test_bad_input_is_refused_with_a_clear_message):
        out[f"api: {fragment}"] = (claim(**over), acc, "jiangmen")
    numbers = test_hostile_numbers
    for (written,) in params(numbers.test_an_amount_in_another_notation_is_refused_not_converted):
        out[f"hostile numbers: total {written}"] = (load_text(numbers.CLAIM_YAML.format(total=written), "c")[0], None,
                                                    "jiangmen")
    for (written,) in params(numbers.test_a_zero_padded_amount_is_read_in_decimal):
        out[f"hostile numbers: total {written}"] = (load_text(numbers.CLAIM_YAML.format(total=written), "c")[0], None,
                                                    "jiangmen")
    for field, value in params(numbers.test_amounts_and_quantities_use_ascii_digits):
        line = {"id": "i1", "category": "B", "unit_price": "5.00", "quantity": "1", field: value}
        out[f"hostile numbers: {field} {value}"] = (claim(bill=None, items=[line]), None, "jiangmen")
    for value, _ in params(numbers.test_a_date_is_written_as_a_date):
        out[f"hostile numbers: discharge_date {value}"] = (claim(discharge_date=value), None, "jiangmen")
    for (value,) in params(numbers.test_filed_is_true_or_false):
        out[f"hostile numbers: filed {value!r}"] = (claim(region="out_of_province", filed=value), None, "jiangmen")
    for (value,) in params(numbers.test_an_age_is_a_whole_number):
        c = claim()
        out[f"hostile numbers: age {value!r}"] = (c | {"member": c["member"] | {"age": value}}, None, "jiangmen")
    for path in sorted((Path(__file__).parent / "fuzz_corpus" / "claims").glob("*.yaml")):
        doc, _ = load_file(path)
        if isinstance(doc, dict) and "claim" in doc:
            out[f"fuzz corpus: {path.stem}"] = (doc["claim"], doc.get("accumulators"), doc.get("pack", "jiangmen"))
        else:
            out[f"fuzz corpus: {path.stem}"] = (doc, None, "jiangmen")
    for path in sorted((Path(__file__).parent / "cases").rglob("*.yaml")):
        doc, _ = load_file(path)
        out[f"case: {path.stem}"] = (doc["claim"], doc.get("accumulators"), doc["rules"])
    for path in sorted((ROOT / "examples").glob("*-inpatient.yaml")):
        acc, _ = load_file(path.with_name(path.name.replace("-inpatient", "-accumulators")))
        out[f"example: {path.stem}"] = (load_file(path)[0], acc, "jiangmen")
    for name, c in {**REFUSED_BY_BOTH, **REFUSED_BY_THE_ENGINE_ALONE, **SETTLED}.items():
        out[f"own: {name}"] = (c, None, "jiangmen")
    return out


class _TooDeep(Exception):
    pass


def json_text(value, depth: int = 0) -> str:
    """`value` as JSON text, numbers written as their digits (a Decimal's own, a float's shortest)."""
    if depth > MAX_DEPTH + 1:
        raise _TooDeep
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {json_text(v, depth + 1)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(json_text(v, depth + 1) for v in value) + "]"
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else json.dumps(float(value))  # NaN, Infinity: loads refuses them
    if isinstance(value, dt.date):
        return json.dumps(value.isoformat())
    if value is None or isinstance(value, (bool, int, float, str)):
        return json.dumps(value)
    raise TypeError(type(value))


def read_back(value) -> object:
    """`value` as a service receives it: written as JSON text and read with benefits.loads; None when
    the text itself is refused (then neither the schema nor the engine sees it)."""
    try:
        return benefits.loads(json_text(value))
    except (_TooDeep, benefits.BenefitsError):
        return None


CLAIMS = suite()
# refused as JSON text: nested beyond the reader's bound, or holding a lone surrogate (written as JSON, an escape)
NOT_READ = {"hostile input: deeply nested input", "hostile input: lone surrogate in a line item's id"}

# The claims the engine refuses and JSON Schema cannot: sums, uniqueness, order of dates, what a pack
# covers, the accumulators, and a fee line's total against its price and quantity.
ENGINE_ONLY = {
    # a rule pack's coverage: levels, dates, disease lists, refusals, visits it settles
    "hostile input: unknown hospital level", "api: claim.level: 'level4' is not a hospital level",
    "own: a level the pack does not have",
    "hostile input: date before every version", "hostile input: date after every version",
    "api: no version of the rules covers 2023-01-02", "own: a date no version covers",
    "api: refuses this claim: maternity insurance", "fuzz corpus: superscript-diagnosis",
    "case: ja-19-refused-discharge-2020-12-31", "case: ja-20-refused-discharge-2023-01-02",
    "case: jc-13-special-asthma-no-disease-list", "case: jc-17-maternity-resident-refused",
    "case: jc-20-covid-out-of-province-refused", "case: ay-16-refuse-general-outpatient",
    "case: ay-17-refuse-2021-claim", "case: ay-18-refuse-special-outpatient-asthma",
    "api: claim.member.member_type: required",
    # sums and relations between values
    "hostile input: discharge before admission", "api: discharge_date 2021-02-01 is before admission_date",
    "own: discharge before admission",
    "api: add up to 90.00, not to the total 100.00", "own: bill parts not adding up",
    "hostile input: duplicate line-item ids", "api: line item id 'a' appears more than once",
    "own: duplicate item ids", "own: a fee line's total not its price x quantity",
    "api: cannot be settled within accepted amounts", "own: quantity above a million as text",
    # the accumulators
    "hostile input: accumulators of another year", "hostile input: accumulators of another member",
    "hostile input: counter with an empty month", "hostile input: negative admissions",
    "hostile input: counter with a name no pack declares",
    "hostile input: accumulators that are not a mapping", "hostile input: amount that is null",
    "api: accumulators.year: 2020, but the claim settles on a date in 2021",
    "api: accumulators.member_id: 'other' is not the claim's member 'm1'",
    "api: unknown counter 'basic.anual'", "api: 'basic.annual' is a yearly counter",
    "api: accumulators.counters.basic.annual: 3000000.00 is above the most cap 'basic.annual_cap.resident' "
    "has ever allowed",
    "api: medical_aid.paid: 90000.00 is above the most cap",
    "api: accumulators.admissions: Input should be less than or equal to 10000",
    "api: accumulators_after.admissions would be 10001, above the most accepted (10000)",
    "fuzz corpus: counter-1e999999", "fuzz corpus: counter-with-empty-month",
    "case: jd-05-refuse-basic-annual-above-resident-cap-on-general-outpatient",
    "case: jd-06-refuse-medical-aid-paid-above-its-cap-member-in-no-group",
    "case: jd-07-refuse-secondary-aid-paid-above-its-cap",
    "case: jd-08-refuse-aid-deductible-used-without-an-aid-deductible",
    "case: jd-09-refuse-employee-month-counter-above-monthly-cap-on-inpatient",
    "case: ay-20-refuse-aid-deductible-used-above-the-largest",
    "case: ay-21-refuse-large-amount-paid-above-its-cap-resident-claim",
    "case: ay-26-refuse-chronic-diabetes-counter-above-cap-on-inpatient",
    "case: je-15-refuse-maternity-with-diabetes-disease-counter-above-cap",
    "case: ay-30-refuse-employee-maternity",  # a visit kind the pack does not cover: the schema is every pack's
}


def outcomes() -> dict[str, tuple[bool, bool]]:
    """name -> (the schema accepts, the engine settles), for every claim read back."""
    out = {}
    for name, (c, acc, rules) in CLAIMS.items():
        data = read_back(c)
        if data is None:
            continue
        with decimal.localcontext() as ctx:  # multipleOf on a Decimal of 60 digits needs room
            ctx.prec = 200
            schema_ok = VALIDATOR.is_valid(data)
        try:
            benefits.evaluate(claim_from_platform(data), pack(rules), read_back(acc) if acc is not None else None)
            engine_ok = True
        except benefits.BenefitsError:
            engine_ok = False
        out[name] = (schema_ok, engine_ok)
    return out


OUTCOMES = outcomes()


def test_the_suite_is_collected():
    assert {name for name in CLAIMS if read_back(CLAIMS[name][0]) is None} == NOT_READ
    sources = {name.split(":")[0] for name in OUTCOMES}
    assert sources == {"hostile input", "api", "hostile numbers", "fuzz corpus", "case", "example", "own"}
    assert len(OUTCOMES) > 200


def test_every_claim_the_schema_refuses_the_engine_refuses():
    settled_but_refused = sorted(n for n, (schema_ok, engine_ok) in OUTCOMES.items() if engine_ok and not schema_ok)
    assert settled_but_refused == []


def test_the_claims_only_the_engine_refuses_are_the_listed_ones():
    engine_only = {n for n, (schema_ok, engine_ok) in OUTCOMES.items() if schema_ok and not engine_ok}
    assert sorted(engine_only - ENGINE_ONLY) == [], "refused by the engine alone, not listed"
    assert sorted(ENGINE_ONLY - engine_only) == [], "listed, but the schema refuses it or the engine settles it"


def test_our_own_claims_fall_where_they_are_listed():
    def fell(names) -> set[tuple[bool, bool]]:
        return {OUTCOMES[f"own: {name}"] for name in names}

    assert fell(REFUSED_BY_BOTH) == {(False, False)}
    assert fell(REFUSED_BY_THE_ENGINE_ALONE) == {(True, False)}
    assert fell(SETTLED) == {(True, True)}


def test_the_examples_and_every_case_that_settles_pass_the_schema():
    settled = [n for n, (_, e) in OUTCOMES.items() if e and n.split(":")[0] in ("example", "case")]
    assert len(settled) > 80
    assert all(OUTCOMES[n][0] for n in settled)


def test_the_case_schema_gives_an_expected_value_or_leaves_it_out():
    # found by a red team: the schema let `deductible: null` through, which the loader refuses (left empty, it
    # was not checked)
    validator = Draft202012Validator(case_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)
    case = load_file(ROOT / "tests" / "cases" / "jiangmen" / "ja-01-resident-l3-first-admission.yaml")[0]
    case = benefits.loads(json.dumps(case, default=str))  # as a JSON case file writes it
    assert not list(validator.iter_errors(case))
    for where, key in (("expected", "deductible"), ("expected", "cash"), ("accumulators", "admissions")):
        nulled = {**case, "expected": {**case["expected"], "accumulators": {"admissions": 1}}}
        nulled["expected"] = ({**nulled["expected"], key: None} if where == "expected"
                              else {**nulled["expected"], "accumulators": {key: None}})
        assert list(validator.iter_errors(nulled)), key
        with pytest.raises(ValidationError, match=f"`{key}:` is null"):
            CaseFile.model_validate(nulled)


@pytest.mark.parametrize("made", [claim_schema, accumulators_schema, case_schema, calc_output_schema])
def test_each_schema_is_a_draft_2020_12_schema(made):
    Draft202012Validator.check_schema(made())


# --- the number patterns: exactly the text the models read -------------------------------------


def reads(parse, text: str, bounds=lambda d: True) -> bool:
    try:
        return bounds(parse(text))
    except ValueError:
        return False


SPELLINGS = ["0", "00", "-0", "-0.00", "+0", "0.", ".0", "-.0", ".", "-", "+", "", "5.", ".5", "+5", "+.5", "-5",
             "12.50", "12.500", "12.501", "012000", "1e3", "1E3", " 1", "1 ", "1_0", "１", "0x10", "999999999.99",
             "1000000000", "1000000000.00", "1000000000.01", "01000000000.0", "10000000000", "0.5", "1", "1.0",
             "1.000", "1.01", "0.333333333333", "00.1", "-0.1", "-1", "1000000", "1000000.5"]
TEXTS = st.one_of(st.sampled_from(SPELLINGS), st.text(alphabet="0123456789.+-", max_size=13))


@pytest.mark.parametrize("text", SPELLINGS)
def test_the_patterns_on_each_spelling(text):
    assert (re.search(MONEY_TEXT, text) is not None) == reads(parse_money, text), text
    assert (re.search(SHARE_TEXT, text) is not None) == reads(parse_decimal, text, lambda d: 0 <= d <= 1), text
    # quantities: above 0 (the bound of a million is the engine's alone)
    assert (re.search(POSITIVE_TEXT, text) is not None) == reads(parse_decimal, text, lambda d: d > 0), text


@given(TEXTS)
def test_the_patterns_read_what_the_models_read(text):
    test_the_patterns_on_each_spelling(text)


def test_multiple_of_is_exact_on_numbers_read_as_decimals():
    for amount, ok in [("0.07", True), ("15000.07", True), ("1e3", True), ("0.001", False), ("15000.001", False)]:
        data = benefits.loads(json_text(claim(bill=bill("x"))).replace('"x"', amount))  # total and policy range
        assert VALIDATOR.is_valid(data) == ok, amount


# --- ids: the schema's pattern refuses what the models refuse ---------------------------------------

IDS = ["m-1001", "m 1001", "会员-1001", "m-1001 ", " m-1001", "m-1001\u3000", "\u00a0m", "m\t1", "m\x851", "m\u20281",
       "m-1001\u200b", "\ufeffm-1001", "m\u200e1", "m\u00ad1", "m\u20601", "m\u06dd", "m\u034f", "m\ufe0f",
       "m\u3164", "m\u2800", "张\U00020021", "m\U0001f47b", "m\U0001f600", "m\ue000", "m\u00a01", "会员\u3000一",
       "m\u20091", "김민수", "é", "m\u20131", "m\u22121", "m\u30021", "m\uff611", "m\u058a1", "m\uff0d1", "张三-1", "m\ufffd", "\ufffd"]
ASTRAL_INVISIBLE = ["m\U000e0041", "m\U0001d173", "m\U000e0100", "m\U0001bca0", "m\U00010ead"]  # the last a dash
NOT_COMPOSED = ["e\u0301", "\u1100\u1161"]  # é and 가 decomposed (NFD): no pattern can tell
COMPATIBILITY = ["\uff4d-1001", "m-\uff11", "\u2f08-1"]  # full-width m and 1; the Kangxi radical 人


@pytest.mark.parametrize("value", IDS)
def test_the_id_pattern_takes_the_ids_the_models_take(value):
    from benefits.models.claim import MEMBER_ID_PATTERN, id_problem

    assert (re.search(MEMBER_ID_PATTERN, value) is not None) == (id_problem(value) is None), value


@pytest.mark.parametrize("value", NOT_COMPOSED)
def test_ids_not_in_composed_form_are_the_engines_to_refuse(value):
    from benefits.models.claim import MEMBER_ID_PATTERN, id_problem

    assert re.search(MEMBER_ID_PATTERN, value) is not None
    assert "is written in Unicode's composed form (NFC)" in id_problem(value)


@pytest.mark.parametrize("value", COMPATIBILITY)
def test_ids_in_compatibility_characters_are_the_engines_to_refuse(value):
    from benefits.models.claim import MEMBER_ID_PATTERN, id_problem

    assert re.search(MEMBER_ID_PATTERN, value) is not None
    assert "holds no compatibility characters (such as full-width letters" in id_problem(value)


@pytest.mark.parametrize("value", ASTRAL_INVISIBLE)
def test_invisible_characters_beyond_u_ffff_are_the_engines_to_refuse(value):
    # the pattern holds no character beyond U+FFFF: JSON Schema's regexes read UTF-16, and one in a class
    # would be two surrogate halves, refusing '张𠀡' or an emoji with them. The engine refuses these ids.
    from benefits.models.claim import MEMBER_ID_PATTERN, id_problem

    assert re.search(MEMBER_ID_PATTERN, value) is not None
    assert "holds no invisible characters" in id_problem(value) or "holds no dash but '-'" in id_problem(value)
    assert all(ord(c) <= 0xFFFF for c in MEMBER_ID_PATTERN)


def test_every_format_character_is_invisible_to_an_id():
    import sys
    import unicodedata

    from benefits.models.claim import INVISIBLE_CHARACTER

    assert unicodedata.unidata_version == "14.0.0"  # the table in models/claim.py is Unicode 14's
    invisible = re.compile(INVISIBLE_CHARACTER)
    missed = [hex(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"
              and not invisible.fullmatch(chr(c))]
    assert missed == []
