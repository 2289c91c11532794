"""Hostile input, round two: no written number may silently become another number (issue of the
second red-team pass, findings 1-3; docs/guarantees.md G7, G8), and the nesting bound is ours
whichever YAML layer keeps it."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

import benefits
from benefits import ClaimError
from benefits.yamlio import MAX_DEPTH, YamlError, load_file, load_text
from conftest import claim

CLAIM_YAML = """\
id: c1
member: {{id: m1, scheme: resident, member_type: adult, groups: []}}
visit: inpatient
level: level3
admission_date: 2021-03-01
discharge_date: 2021-03-10
admissions_hint: none
bill:
  total: {total}
  fully_self_paid: 0
  over_limit: 0
  pre_self_paid: 0
  policy_range: {total}
""".replace("admissions_hint: none\n", "")


def settle_yaml(text: str, rules) -> benefits.Settlement:
    data, _ = load_text(text, "claim.yaml")
    return benefits.evaluate(data, rules)


# --- 1. YAML 1.1 integers ---------------------------------------------------------------------


@pytest.mark.parametrize("written", ["012000", "00012000", "12000", "12000.00", "012000.00"])
def test_a_zero_padded_amount_is_read_in_decimal(written, jiangmen):
    # YAML 1.1 reads 012000 as octal: 5,120.00 yuan settled with exit 0
    s = settle_yaml(CLAIM_YAML.format(total=written), jiangmen)
    assert s.bill.total == Decimal("12000.00")
    # (12000.00 - 1000.00 deductible) x 65% = 7150.00
    assert s.layers[0].paid == Decimal("7150.00")


@pytest.mark.parametrize("written", ["1:23:20", "0x2EE0", "0o27340", "0b10", "1_2000", "1.2e4", ".inf", ".nan"])
def test_an_amount_in_another_notation_is_refused_not_converted(written, jiangmen):
    with pytest.raises(ClaimError) as exc:
        settle_yaml(CLAIM_YAML.format(total=written), jiangmen)
    assert f"claim.bill.total: expected an amount in yuan such as 1234.50, got {written!r}" in str(exc.value)


@pytest.mark.parametrize("written", ["!!float 1e3", "!!float 1_000", "!!float \u0661\u0660\u0660\u0660",
                                     '!!float " 1000 "', "!!float .inf", "!!int 0x10"])
def test_an_explicit_tag_reads_a_number_by_the_same_rule(written):
    # !!float went straight to Decimal(), which reads 1e3, 1_000 and Arabic-Indic digits as 1000
    with pytest.raises(YamlError) as exc:
        load_text(CLAIM_YAML.format(total=written), "claim.yaml")
    assert exc.value.line == 8
    assert "in decimal digits" in exc.value.message


def test_an_explicit_float_tag_on_digits_is_the_amount(jiangmen):
    s = settle_yaml(CLAIM_YAML.format(total="!!float 12000"), jiangmen)
    assert s.bill.total == Decimal("12000.00")
    assert s.layers[0].paid == Decimal("7150.00")  # (12000.00 - 1000.00) x 65%


@pytest.mark.parametrize("written", ["!!binary MTAwMC4wMA==", "!!set {a}", "!!omap [{a: 1}]", "!!pairs [{a: 1}]",
                                     "!!timestamp 2021-03-10 08:00"])
def test_values_json_cannot_carry_are_refused_where_written(written):
    # !!binary of "1000.00" was settled by the page as 1000.00 and crashed its reader on other bytes
    with pytest.raises(YamlError) as exc:
        load_text(CLAIM_YAML.format(total=written), "claim.yaml")
    assert exc.value.line == 8


def test_a_json_claim_file_is_read_as_json(tmp_path):
    path = tmp_path / "claim.json"
    path.write_text('{\n  "id": "c1",\n  "bill": {"total": 012000}\n}\n', encoding="utf-8")
    with pytest.raises(YamlError) as exc:
        load_file(path)
    assert str(exc.value).startswith(f"{path}:3: not valid JSON: ")


def test_json_numbers_keep_their_digits(tmp_path, jiangmen):
    body = claim(bill={"total": 15000.0, "fully_self_paid": 0, "over_limit": 0, "pre_self_paid": 0,
                       "policy_range": 15000.0})
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    data, _ = load_file(path)
    assert data["bill"]["total"] == Decimal("15000.0")
    assert benefits.evaluate(data, jiangmen).bill.total == Decimal("15000.00")


@pytest.mark.parametrize("text, problem", [
    ('{"a": 1, "a": 2}', "duplicate key 'a'"),
    ('{"a": NaN}', "expected a finite number, found NaN"),
    ('{"a": Infinity}', "expected a finite number, found Infinity"),
    ("[" * 100 + "]" * 100, f"nested more than {MAX_DEPTH} levels deep"),
    ("[" * 100_000 + "]" * 100_000, f"nested more than {MAX_DEPTH} levels deep"),
])
def test_a_bad_json_file_is_refused(tmp_path, text, problem):
    path = tmp_path / "x.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(YamlError) as exc:
        load_file(path)
    assert str(exc.value) == f"{path}: not valid JSON: {problem}"


def test_a_zero_padded_parameter_is_read_in_decimal(tmp_path):
    root = tmp_path / "mini"
    import shutil

    shutil.copytree(Path(__file__).resolve().parents[1] / "examples" / "rules" / "mini", root)
    path = root / "parameters" / "outpatient.yaml"
    text = path.read_text(encoding="utf-8")
    assert "{value: 100.00," in text
    path.write_text(text.replace("{value: 100.00,", "{value: 0100,", 1), encoding="utf-8")
    pack = benefits.load_rules(root)
    assert pack.parameters["outpatient.deductible"].values[0].value == Decimal("100.00")  # not 64


def test_an_explicit_float_parameter_in_other_digits_is_a_load_error(tmp_path):
    root = tmp_path / "mini"
    import shutil

    shutil.copytree(Path(__file__).resolve().parents[1] / "examples" / "rules" / "mini", root)
    path = root / "parameters" / "outpatient.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("{value: 100.00,", "{value: !!float \u0661\u0660\u0660,", 1), encoding="utf-8")
    with pytest.raises(benefits.RuleFileError) as exc:
        benefits.load_rules(root)
    assert "outpatient.yaml" in str(exc.value) and "in decimal digits" in str(exc.value)


# --- 2. lax coercions -------------------------------------------------------------------------


ADMISSIONS = {"year": 2021, "admissions": 0, "counters": {}}


@pytest.mark.parametrize("value", [True, "yes", "1", 1.0])
def test_admissions_are_a_whole_number_not_a_boolean_or_text(value, jiangmen):
    with pytest.raises(ClaimError) as exc:
        benefits.evaluate(claim(), jiangmen, dict(ADMISSIONS, admissions=value))
    assert str(exc.value).startswith("accumulators.admissions: Input should be a valid integer")


@pytest.mark.parametrize("text", ["admissions: yes", "admissions: on", "admissions: true"])
def test_yaml_words_for_true_are_not_one_admission(text, jiangmen):
    acc, _ = load_text(f"year: 2021\n{text}\n", "acc.yaml")
    with pytest.raises(ClaimError):
        benefits.evaluate(claim(), jiangmen, acc)


@pytest.mark.parametrize("value, shown", [
    (1627776000, "1627776000"),
    ("2021-07-01T00:00:00+14:00", "'2021-07-01T00:00:00+14:0'..."),
    ("2021-7-1", "'2021-7-1'"),
    ("２０２１-０７-０１", "'２０２１-０７-０１'"),
])
def test_a_date_is_written_as_a_date(value, shown, jiangmen):
    with pytest.raises(ClaimError) as exc:
        benefits.evaluate(claim(discharge_date=value), jiangmen)
    assert str(exc.value) == f"claim.discharge_date: expected a date written YYYY-MM-DD, got {shown}"


def test_a_date_time_in_yaml_stays_text_and_is_refused(jiangmen):
    data, _ = load_text("d: 2021-07-01T00:00:00+14:00\n", "x.yaml")
    with pytest.raises(ClaimError):
        benefits.evaluate(claim(discharge_date=data["d"]), jiangmen)


@pytest.mark.parametrize("field, value", [
    ("unit_price", "５.00"), ("unit_price", "٥.00"), ("quantity", "２"), ("self_pay_share", "０.1"),
])
def test_amounts_and_quantities_use_ascii_digits(field, value, jiangmen):
    item = {"id": "i1", "category": "B", "unit_price": "5.00", "quantity": "1", field: value}
    with pytest.raises(ClaimError) as exc:
        benefits.evaluate(claim(bill=None, items=[item]), jiangmen)
    assert f"claim.items.0.{field}: expected " in str(exc.value)


@pytest.mark.parametrize("value", ["yes", "true", 1])
def test_filed_is_true_or_false(value, jiangmen):
    with pytest.raises(ClaimError) as exc:
        benefits.evaluate(claim(region="out_of_province", filed=value), jiangmen)
    assert str(exc.value).startswith("claim.filed: Input should be a valid boolean")


@pytest.mark.parametrize("value", [True, "60"])
def test_an_age_is_a_whole_number(value, jiangmen):
    c = claim()
    c["member"] = dict(c["member"], age=value)
    with pytest.raises(ClaimError) as exc:
        benefits.evaluate(c, jiangmen)
    assert str(exc.value).startswith("claim.member.age: Input should be a valid integer")


# --- 3. negative zero ---------------------------------------------------------------------------


def test_negative_zero_is_plain_zero_everywhere(jiangmen):
    bill = {"total": "100.00", "fully_self_paid": "100.00", "over_limit": "-0.00", "pre_self_paid": "-0",
            "policy_range": Decimal("-0.00")}
    s = benefits.evaluate(claim(bill=bill), jiangmen, {"year": 2021, "counters": {"medical_aid.paid": "-0.00"}})
    assert "\"-0" not in json.dumps(s.model_dump(mode="json"))  # no amount string starts "-0"
    fields = s.platform_fields()
    for name in ("psn_part_amt", "psn_cash_pay", "medfee_sumamt", "inscp_scp_amt", "act_pay_dedc"):
        assert not fields[name].is_signed(), name
    assert not s.accumulators_after.counters["medical_aid.paid"].is_signed()


# --- the nesting bound: ours, whichever YAML layer refuses first -------------------------------


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 200, 999, 1000, 1001, 5_000, 100_000])
def test_too_deep_yaml_gets_our_message_and_line(depth):
    text = "a: 1\nb: " + "[" * depth + "]" * depth + "\n"
    with pytest.raises(YamlError) as exc:
        load_text(text, "x.yaml")
    assert str(exc.value) == f"x.yaml:2: not valid YAML: nested more than {MAX_DEPTH} levels deep"


def test_deep_block_yaml_gets_our_message_and_line():
    text = "a:\n" + "".join("  " * i + "- \n" for i in range(1, 300))
    with pytest.raises(YamlError) as exc:
        load_text(text, "x.yaml")
    assert str(exc.value).startswith("x.yaml:") and str(exc.value).endswith(f"nested more than {MAX_DEPTH} levels deep")


def test_nesting_at_the_bound_is_read():
    depth = MAX_DEPTH - 1  # the document's mapping is one level
    data, _ = load_text("b: " + "[" * depth + "]" * depth + "\n", "x.yaml")
    assert isinstance(data["b"], list)


@pytest.mark.parametrize("field", ["quantity", "self_pay_share"])
@pytest.mark.parametrize("value", [Decimal("1e-999999999"), "0." + "0" * 100 + "1", Decimal("0." + "1" * 5000),
                                   "1" * 300_000, Decimal("0E+999999999")])
def test_a_quantity_or_share_of_huge_precision_is_refused_at_once(jiangmen, field, value):
    # JSON's 1e-999999999 is a valid number: read as an exact fraction it was 10**999999999, and one
    # request held a worker (the whole service, with one worker) for minutes. A bound that is never
    # near: the alarm turns a hang back into a failure.
    import signal

    item = {"id": "a", "category": "B", "unit_price": "10.00", field: value}
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError("still reading the number")))
    signal.alarm(20)
    try:
        with pytest.raises(ClaimError) as err:
            benefits.evaluate(claim(bill=None, items=[item]), jiangmen)
    finally:
        signal.alarm(0)
    [problem] = err.value.problems
    assert problem.path == ("claim", "items", 0, field)
    assert "at most 100 digits" in problem.message


def test_a_quantity_of_forty_digits_is_read_exactly(jiangmen):
    # the bound (100 digits) is far from any real quantity: one of forty digits (39 decimals) settles, exactly:
    # 10.00 x 3.000000000000000000000000000000000000003 = 30.00000000000000000000000000000000000003
    # -> 30.00 (half up), all of it policy range for an A item
    item = {"id": "a", "category": "A", "unit_price": "10.00", "quantity": "3.000000000000000000000000000000000000003"}
    s = benefits.evaluate(claim(bill=None, items=[item]), jiangmen)
    assert str(s.bill.total) == "30.00" and str(s.bill.policy_range) == "30.00"
