"""One money contract for JSON text: a number with at most two decimals is an amount, read from its
digits (never through a float), as is the same amount written as a string; a third decimal is
refused with its path. `benefits.loads` is the reader for services; claim files named *.json are read
by it too; a claim parsed by `json.loads` (floats) is refused with a message that names the reader."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from conftest import RULES, claim
from typer.testing import CliRunner

import benefits
from benefits.jsonio import JsonError
from benefits.yamlio import MAX_DEPTH, YamlError, load_file
from benefits_cli.app import app

D = Decimal
JIANGMEN = str(RULES / "jiangmen")


def body(total: str) -> str:
    """A claim's JSON text with `total` written as it is (a number's digits, or a quoted string)."""
    c = claim(bill={"total": "T", "fully_self_paid": "0", "over_limit": "0", "pre_self_paid": "0", "policy_range": "T"})
    return json.dumps(c).replace('"T"', total)


SPELLINGS = ["15000.0", "15000.00", '"15000.00"', "15000", "1.5e4"]


@pytest.mark.parametrize("total", SPELLINGS)
def test_every_spelling_of_an_amount_settles_alike(total, jiangmen):
    s = benefits.evaluate(benefits.loads(body(total)), jiangmen)
    # level 3, resident: (15000.00 - 1000.00 deductible) x 65% = 9100.00
    assert (s.bill.total, s.payouts["basic"]) == (D("15000.00"), D("9100.00"))
    assert s == benefits.evaluate(benefits.loads(body('"15000.00"')), jiangmen)


@pytest.mark.parametrize("total", ["15000.001", '"15000.001"'])
def test_a_third_decimal_is_refused_with_its_path(total, jiangmen):
    with pytest.raises(benefits.ClaimError) as exc:
        benefits.evaluate(benefits.loads(body(total)), jiangmen)
    assert [(p.path, p.message) for p in exc.value.problems] == [
        (("claim", "bill", "total"), "an amount has at most two decimals (fen), got 15000.001"),
        (("claim", "bill", "policy_range"), "an amount has at most two decimals (fen), got 15000.001"),
    ]


def test_json_loads_floats_are_refused_and_the_message_names_the_reader(jiangmen):
    with pytest.raises(benefits.ClaimError) as exc:
        benefits.evaluate(json.loads(body("15000.0")), jiangmen)
    assert exc.value.problems[0].path == ("claim", "bill", "total")
    assert exc.value.problems[0].message.endswith(
        "floats cannot hold fen exactly; read JSON text with benefits.loads(text), not json.loads: "
        "it keeps every number exact")


@pytest.mark.parametrize("total", SPELLINGS + ["15000.001"])
@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_the_command_line_reads_a_json_claim_by_the_same_contract(tmp_path, total, suffix):
    path = tmp_path / f"claim{suffix}"
    path.write_text(body(total), encoding="utf-8")
    r = CliRunner().invoke(app, ["calc", str(path), "--rules", JIANGMEN, "--json"])
    if total == "15000.001":
        assert r.exit_code == 2
        assert r.stderr.startswith(f"error: {path}:1 [bill.total]: an amount has at most two decimals (fen)")
    elif total == "1.5e4" and suffix == ".yaml":  # YAML reads 1.5e4 as text, which no amount accepts
        assert r.exit_code == 2 and "got '1.5e4'" in r.stderr
    else:
        assert r.exit_code == 0, r.stderr
        assert json.loads(r.stdout)["setlinfo"]["hifp_pay"] == "9100.00"


# --- benefits.loads ---------------------------------------------------------------------------


def test_loads_reads_a_surrogate_pair_and_an_escaped_backslash():
    assert benefits.loads('{"a": "\\ud83d\\ude00", "b": "\\\\ud800"}') == {"a": "\U0001f600", "b": "\\ud800"}


def test_loads_keeps_numbers_exact():
    assert benefits.loads('{"a": 0.1, "b": 12, "c": -0.0, "d": "0.10", "e": 1E+2}') == {
        "a": D("0.1"), "b": 12, "c": D("-0.0"), "d": "0.10", "e": D("1E+2")}
    assert type(benefits.loads("12")) is int
    assert benefits.loads('{"名": "江门"}'.encode("utf-8")) == {"名": "江门"}


LONE = (" is half of a surrogate pair without its other half, not a character (a character beyond U+FFFF is "
        "written as itself, or escaped as a pair such as \\ud83d\\ude00)")


@pytest.mark.parametrize("text, message", [
    ('{"a": 1, "a": 2}', "not valid JSON: duplicate key 'a'"),
    ('{"a": NaN}', "not valid JSON: expected a finite number, found NaN"),
    ('{"a": -Infinity}', "not valid JSON: expected a finite number, found -Infinity"),
    ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), f"not valid JSON: nested more than {MAX_DEPTH} levels deep"),
    ("[" * 100_000 + "]" * 100_000, f"not valid JSON: nested more than {MAX_DEPTH} levels deep"),
    ("9" * 4301, "not valid JSON: a whole number of more than 4300 digits"),
    ('{"a": 1,\n "b": }', "line 2 column 7: not valid JSON: Expecting value"),
    (b"\xff{}", "not UTF-8 text (byte 0)"),
    # found by a red team: a lone surrogate (half of a UTF-16 pair) was read, and failed as a 500 where the
    # settlement's JSON or the ledger wrote it
    ('{"items": [{"id": "x\\ud800"}]}',
     "line 1 column 21: not valid JSON: the string 'x\\ud800' holds a lone surrogate: U+D800" + LONE),
    ('{"a":\n ["\\udfff"]}', "line 2 column 4: not valid JSON: the string '\\udfff' holds a lone surrogate: U+DFFF" + LONE),
    ('{"a": "\ud800"}', "line 1 column 8: not valid JSON: the string '\\ud800' holds a lone surrogate: U+D800" + LONE),
    ("", "line 1 column 1: not valid JSON: Expecting value"),
])
def test_loads_refuses_what_has_no_exact_reading(text, message):
    with pytest.raises(JsonError) as exc:
        benefits.loads(text)
    assert str(exc.value) == message
    assert isinstance(exc.value, benefits.BenefitsError) and isinstance(exc.value, ValueError)


def test_a_process_that_lowered_pythons_digit_bound_gets_a_json_error_at_its_own_bound():
    import sys

    before = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(640)
    try:
        with pytest.raises(JsonError) as exc:
            benefits.loads('{"admissions": ' + "7" * 700 + "}")
        assert benefits.loads('{"a": ' + "7" * 640 + "}")["a"] == int("7" * 640)
    finally:
        sys.set_int_max_str_digits(before)
    assert str(exc.value) == "not valid JSON: a whole number of more than 640 digits"


def test_a_json_claim_file_with_a_huge_whole_number_is_bad_input_not_a_crash(tmp_path):
    # json.loads raises a bare ValueError past Python's 4300 digits: the file reader named no place
    path = tmp_path / "claim.json"
    path.write_text('{"a": ' + "9" * 5000 + "}", encoding="utf-8")
    with pytest.raises(YamlError) as exc:
        load_file(path)
    assert str(exc.value) == f"{path}: not valid JSON: a whole number of more than 4300 digits"
