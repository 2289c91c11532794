"""The national platform's shapes in and out (domain.md section 5): fee lines in the 2204/2301 shape
read as our line items (models/platform_in.py), and a settlement as setlinfo, setldetail and the
per-line split (models/platform_out.py), also on `benefits calc --json`. Every number is computed
by hand in the comments, under rules/jiangmen (domain.md 7.1)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import get_args

import jsonschema
import pytest
import yaml
from conftest import RULES, claim
from typer.testing import CliRunner

import benefits
from benefits import ClaimError
from benefits.models.platform_in import claim_from_platform, is_fee_line, item_from_fee_line, items_from_fee_lines
from benefits.models.platform_out import SETLINFO_FIELDS, platform_json
from benefits.rules.files import PlatformField
from benefits.models.schema import calc_output_schema
from benefits_cli.app import app

D = Decimal

# A resident adult's stay at a level-3 hospital, March 2021 (version 2021-01-01), as the platform
# uploads its fee lines (2301 feedetail):
#   1  甲 (01)  1500.00 x 2                  = 3000.00, all of it in the policy range
#   2  乙 (02)  88.85 x 1.5 = 133.275        -> 133.28 (half up); its price limit 80.00 x 1.5 = 120.00 is
#               recognised, over the limit 133.28 - 120.00 = 13.28; its own share 10% of 120.00 = 12.00
#               is pre-self-paid; policy range 133.28 - 13.28 - 12.00 = 108.00
#   3  丙 (03)  45.00 x 4                    = 180.00, fully self-paid
# Bill: total 3000.00 + 133.28 + 180.00 = 3313.28; fully self-paid 180.00; over the limit 13.28;
# pre-self-paid 12.00; policy range 3000.00 + 108.00 = 3108.00 (180.00 + 13.28 + 12.00 + 3108.00 = 3313.28)
FEE_LINES = [
    {"feedetl_sn": "1", "chrgitm_lv": "01", "pric": "1500.00", "cnt": "2", "det_item_fee_sumamt": "3000.00",
     "med_list_codg": "001201000010000-120100001", "hilist_name": "床位费"},
    {"feedetl_sn": "2", "chrgitm_lv": "02", "pric": "88.85", "cnt": "1.5", "det_item_fee_sumamt": "133.28",
     "pric_uplmt_amt": "80.00", "selfpay_prop": "0.10", "medins_list_name": "注射液"},
    {"feedetl_sn": "3", "chrgitm_lv": "03", "pric": "45.00", "cnt": "4", "det_item_fee_sumamt": "180.00"},
]
OUR_ITEMS = [
    {"id": "1", "name": "床位费", "category": "A", "unit_price": D("1500.00"), "quantity": D("2")},
    {"id": "2", "name": "注射液", "category": "B", "unit_price": D("88.85"), "quantity": D("1.5"),
     "payment_standard": D("80.00"), "self_pay_share": D("0.10")},
    {"id": "3", "category": "C", "unit_price": D("45.00"), "quantity": D("4")},
]
RESIDENT = {"id": "m1", "scheme": "resident", "member_type": "adult", "groups": []}
EMPLOYEE = {"id": "m1", "scheme": "employee", "member_type": "in_service"}


def platform_claim(member=RESIDENT, lines=FEE_LINES) -> dict:
    return claim(member=member, bill=None, items=lines)


def settle(jiangmen, member=RESIDENT, acc=None) -> benefits.Settlement:
    return benefits.evaluate(platform_claim(member), jiangmen, acc)  # fee lines as the platform sends them


def rows(s: benefits.Settlement) -> list[tuple]:
    """setldetail's rows without the names: (fund_pay_type, inscp_scp_amt, crt_payb_lmt_amt, fund_payamt)."""
    return [(r["fund_pay_type"], r["inscp_scp_amt"], r["crt_payb_lmt_amt"], r["fund_payamt"]) for r in s.setldetail()]


# --- in: fee lines as our line items ------------------------------------------------------------


def test_fee_lines_read_as_our_line_items():
    assert [is_fee_line(line) for line in FEE_LINES] == [True, True, True]
    assert not is_fee_line(OUR_ITEMS[0]) and not is_fee_line("feedetl_sn")
    assert items_from_fee_lines(FEE_LINES) == OUR_ITEMS
    assert item_from_fee_line(FEE_LINES[1], 1) == OUR_ITEMS[1]
    assert items_from_fee_lines(OUR_ITEMS) is OUR_ITEMS  # our own shape passes as it is


def test_a_platform_claim_settles_as_the_same_claim_in_our_shape(jiangmen):
    ours = benefits.evaluate(claim(member=RESIDENT, bill=None, items=OUR_ITEMS), jiangmen)
    assert settle(jiangmen) == ours
    assert (ours.bill.total, ours.bill.fully_self_paid, ours.bill.over_limit, ours.bill.pre_self_paid,
            ours.bill.policy_range) == (D("3313.28"), D("180.00"), D("13.28"), D("12.00"), D("3108.00"))


@pytest.mark.parametrize("line, path, message", [
    # 88.85 x 1.5 = 133.275, which rounds half up to 133.28, not down to 133.27
    ({"det_item_fee_sumamt": "133.27"}, ("det_item_fee_sumamt",),
     "133.27 is not pric x cnt = 88.85 x 1.5 rounded to the fen, half up (133.28)"),
    ({"chrgitm_lv": "2"}, ("chrgitm_lv",), "expected '01', '02' or '03', got '2'"),
    ({"pric": "88.855"}, ("pric",), "an amount has at most two decimals (fen), got 88.855"),
    ({"cnt": "0"}, ("cnt",), "Input should be greater than 0 (got 0)"),
    ({"selfpay_prop": "1.5"}, ("selfpay_prop",), "Input should be less than or equal to 1 (got 1.5)"),
    ({"selfpay_porp": "0.10"}, ("selfpay_porp",), "unknown key (not part of the format)"),
    ({"feedetl_sn": None}, ("feedetl_sn",), "Input should be a valid string (got null)"),
])
def test_a_bad_fee_line_is_refused_with_the_platforms_field_and_its_path(line, path, message, jiangmen):
    lines = [FEE_LINES[0], {**FEE_LINES[1], **line}, FEE_LINES[2]]
    for read in (claim_from_platform, lambda doc: benefits.evaluate(doc, jiangmen)):
        with pytest.raises(ClaimError) as exc:
            read(platform_claim(lines=lines))
        assert [(p.path, p.message) for p in exc.value.problems] == [(("claim", "items", 1) + path, message)]


def test_every_bad_fee_line_is_listed():
    lines = [{**FEE_LINES[0], "det_item_fee_sumamt": "3000.01"}, FEE_LINES[1], {**FEE_LINES[2], "pric": "-1"}]
    with pytest.raises(ClaimError) as exc:
        items_from_fee_lines(lines)
    assert [p.path for p in exc.value.problems] == [("claim", "items", 0, "det_item_fee_sumamt"),
                                                    ("claim", "items", 2, "pric")]


def test_a_list_mixing_both_shapes_is_refused():
    with pytest.raises(ClaimError) as exc:
        items_from_fee_lines([FEE_LINES[0], OUR_ITEMS[1], FEE_LINES[2]])
    (problem,) = exc.value.problems
    assert problem.path == ("claim", "items", 1)
    assert problem.message.startswith("a line item in our shape (id, category, unit_price, ...) among fee lines")
    with pytest.raises(ClaimError) as exc:
        items_from_fee_lines([OUR_ITEMS[0], FEE_LINES[1]])
    assert [p.path for p in exc.value.problems] == [("claim", "items", 1)]
    assert exc.value.problems[0].message.startswith("a fee line in the platform's shape")


# --- out: setlinfo, setldetail, feedetail -------------------------------------------------------


def test_setlinfo_of_the_resident_claim(jiangmen):
    s = settle(jiangmen)
    # basic fund, level 3: (3108.00 - 1000.00 deductible) x 65% = 2108.00 x 0.65 = 1370.20
    # in-policy self-pay 3108.00 - 1370.20 = 1737.80: below the serious-illness deductible 10,000, it pays 0
    # no aid group, no personal account; the patient 3313.28 - 1370.20 = 1943.08, all of it cash
    assert {k: str(v) for k, v in s.setlinfo().items()} == {
        "medfee_sumamt": "3313.28", "fulamt_ownpay_amt": "180.00", "overlmt_selfpay": "13.28",
        "preselfpay_amt": "12.00", "inscp_scp_amt": "3108.00", "act_pay_dedc": "1000.00",
        "hifp_pay": "1370.20", "pool_prop_selfpay": "0.6500", "hifmi_pay": "0.00", "hifob_pay": "0.00",
        "cvlserv_pay": "0.00", "maf_pay": "0.00", "oth_pay": "0.00", "fund_pay_sumamt": "1370.20",
        "psn_part_amt": "1943.08", "acct_pay": "0.00", "balc": "0.00", "psn_cash_pay": "1943.08",
    }


def test_each_line_split_as_2301_returns_it(jiangmen):
    s = settle(jiangmen)
    rows = [[str(v) for v in row.values()] for row in s.feedetail()]
    assert list(s.feedetail()[0]) == ["feedetl_sn", "det_item_fee_sumamt", "fulamt_ownpay_amt", "overlmt_amt",
                                      "preselfpay_amt", "inscp_scp_amt", "chrgitm_lv", "selfpay_prop"]
    # the per-line arithmetic is in the comment on FEE_LINES; 甲 pays nothing first (0), 丙 all (1)
    assert rows == [
        ["1", "3000.00", "0.00", "0.00", "0.00", "3000.00", "01", "0.0000"],
        ["2", "133.28", "0.00", "13.28", "12.00", "108.00", "02", "0.1000"],
        ["3", "180.00", "180.00", "0.00", "0.00", "0.00", "03", "1.0000"],
    ]
    assert benefits.evaluate(claim(), jiangmen).feedetail() == []  # a bill given already split has no lines


def test_setldetail_of_the_resident_claim(jiangmen):
    # basic 390100 on the policy range 3108.00, its 2021-01 cap 200,000.00 untouched; serious illness
    # 390200 on the in-policy self-pay 1737.80, its cap 240,000.00, paying 0.00
    assert settle(jiangmen).setldetail() == [
        {"fund_pay_type": "390100", "fund_pay_type_name": "基本医疗保险统筹基金（住院）", "inscp_scp_amt": D("3108.00"),
         "crt_payb_lmt_amt": D("200000.00"), "fund_payamt": D("1370.20")},
        {"fund_pay_type": "390200", "fund_pay_type_name": "大病保险", "inscp_scp_amt": D("1737.80"),
         "crt_payb_lmt_amt": D("240000.00"), "fund_payamt": D("0.00")},
    ]


def test_every_field_a_layer_may_name_is_a_field_of_setlinfo():
    # the loader refuses any other (rules/files.PlatformField): a layer's payout always lands in the block
    assert set(get_args(PlatformField)) <= set(SETLINFO_FIELDS) - {"pool_prop_selfpay", "balc"}


def test_the_employee_claim_has_the_same_setlinfo_keys_and_its_account_rows(jiangmen):
    s = settle(jiangmen, EMPLOYEE, {"year": 2021, "counters": {"personal_account.balance": "2000.00"}})
    # in service, level 3: (3108.00 - 800.00) x 85% = 2308.00 x 0.85 = 1961.80; in-policy self-pay
    # 3108.00 - 1961.80 = 1146.20 (below 10,000: serious illness 0); the account pays the pre-self-pay and
    # what the funds left, 12.00 + 1146.20 = 1158.20, of its 2000.00 (841.80 left);
    # patient 3313.28 - 1961.80 = 1351.48, cash 1351.48 - 1158.20 = 193.28 (= 180.00 + 13.28)
    info = s.setlinfo()
    assert list(info) == list(settle(jiangmen).setlinfo()) == list(SETLINFO_FIELDS)
    assert (info["hifp_pay"], info["pool_prop_selfpay"], info["act_pay_dedc"], info["hifob_pay"]) == (
        D("1961.80"), D("0.8500"), D("800.00"), D("0.00"))
    assert (info["fund_pay_sumamt"], info["psn_part_amt"], info["acct_pay"], info["balc"], info["psn_cash_pay"]) == (
        D("1961.80"), D("1351.48"), D("1158.20"), D("841.80"), D("193.28"))
    assert rows(s) == [
        ("310100", D("3108.00"), D("560000.00"), D("1961.80")),
        ("330100", D("1146.20"), D("240000.00"), D("0.00")),
        ("310200", D("1158.20"), D("2000.00"), D("1158.20")),
    ]


def test_a_dibao_resident_has_aid_rows_and_no_serious_illness_cap(jiangmen):
    s = benefits.evaluate(claim(member=dict(RESIDENT, groups=["dibao"])), jiangmen)
    # bill 20000.00: fully self-paid 1000.00, pre-self-paid 500.00, policy range 18500.00
    # basic (18500.00 - 1000.00) x 65% = 11375.00; in-policy self-pay 7125.00
    # serious illness, 低保: deductible 10,000 x 30% = 3,000, 60% + 10 points: (7125.00 - 3000.00) x 70% = 2887.50, no cap
    # medical aid 80% of what is left, 18500.00 - 11375.00 - 2887.50 = 4237.50: 3390.00 (cap 80,000)
    # secondary aid on 4237.50 - 3390.00 = 847.50, below its 5,000 threshold: 0.00 (cap 30,000)
    assert rows(s) == [
        ("390100", D("18500.00"), D("200000.00"), D("11375.00")),
        ("390200", D("7125.00"), None, D("2887.50")),
        ("610100", D("4237.50"), D("80000.00"), D("3390.00")),
        ("610102", D("847.50"), D("30000.00"), D("0.00")),
    ]
    info = s.setlinfo()
    # funds 11375.00 + 2887.50 + 3390.00 = 17652.50; patient 20000.00 - 17652.50 = 2347.50
    assert (info["hifmi_pay"], info["maf_pay"], info["fund_pay_sumamt"], info["psn_part_amt"]) == (
        D("2887.50"), D("3390.00"), D("17652.50"), D("2347.50"))


def test_a_covid_test_has_a_row_for_the_city_finance_with_no_fund_code(jiangmen):
    c = {"id": "c2", "member": RESIDENT, "visit": "covid_test", "level": "level2", "date": "2022-07-19",
         "bill": {"total": "28.00", "fully_self_paid": "0", "over_limit": "0", "pre_self_paid": "0",
                  "policy_range": "28.00"}}
    s = benefits.evaluate(c, jiangmen)
    # resident general-outpatient ratio at level 2 in 2022: 70% of 28.00 = 19.60, outside every cap;
    # the city's finance pays the 8.40 left (oth_pay), which the platform has no fund code for
    assert rows(s) == [
        ("390100", D("28.00"), None, D("19.60")), (None, D("8.40"), None, D("8.40"))]
    info = s.setlinfo()
    assert (info["hifp_pay"], info["oth_pay"], info["pool_prop_selfpay"], info["psn_part_amt"]) == (
        D("19.60"), D("8.40"), D("0.7000"), D("0.00"))


def test_the_caller_decimal_context_changes_no_block(jiangmen):
    import decimal

    want = platform_json(settle(jiangmen))
    with decimal.localcontext() as ctx:
        ctx.prec, ctx.rounding = 3, decimal.ROUND_FLOOR
        assert platform_json(settle(jiangmen)) == want


# --- calc --json ----------------------------------------------------------------------------------


def test_calc_json_carries_the_three_blocks(tmp_path, jiangmen):
    path = tmp_path / "claim.yaml"
    ours = claim(member=RESIDENT, bill=None, items=[{k: str(v) for k, v in i.items()} for i in OUR_ITEMS])
    path.write_text(yaml.safe_dump(ours, allow_unicode=True), encoding="utf-8")
    r = CliRunner().invoke(app, ["calc", str(path), "--rules", str(RULES / "jiangmen"), "--json"])
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["setlinfo"]["hifp_pay"] == "1370.20" and data["setlinfo"]["pool_prop_selfpay"] == "0.6500"
    assert data["setldetail"][0] == {"fund_pay_type": "390100", "fund_pay_type_name": "基本医疗保险统筹基金（住院）",
                                     "inscp_scp_amt": "3108.00", "crt_payb_lmt_amt": "200000.00",
                                     "fund_payamt": "1370.20"}
    assert data["feedetail"][1]["overlmt_amt"] == "13.28"
    assert data["layers"][0]["paid"] == "1370.20"  # the settlement's own keys are unchanged
    jsonschema.Draft202012Validator(calc_output_schema()).validate(data)  # `benefits schema settlement`
