"""The typed public API: evaluate, errors that say where, schemas, conservation, the trace."""

from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import pytest
from pydantic import ValidationError

import benefits
from benefits import Accumulators, Claim, ClaimError, Settlement
from benefits.cases import load_case, rules_dir
from conftest import ROOT, RULES, claim
from benefits.models.case import CaseFile

D = Decimal
CASES = sorted((Path(__file__).parent / "cases").rglob("*.yaml"))


def test_two_claims_in_a_row_carry_the_accumulators(jiangmen):
    # Claim 1: (18500.00 - 1000.00) x 65% = 11375.00; in-policy self-pay 18500.00 - 11375.00 = 7125.00
    first = benefits.evaluate(claim(), jiangmen)
    assert first.payouts["basic"] == D("11375.00")
    assert first.accumulators_after.admissions == 1
    assert first.accumulators_after.counters["serious_illness.base"] == D("7125.00")
    # Claim 2, second admission: deductible 1000.00 x 50% = 500.00; (10000.00 - 500.00) x 65% = 6175.00
    # self-pay 10000.00 - 6175.00 = 3825.00; cumulative 7125.00 -> 10950.00: (10950.00 - 10000.00) x 60% = 570.00
    second = benefits.evaluate(
        claim(id="c2", admission_date="2021-05-01", discharge_date="2021-05-04",
              bill={"total": "10000.00", "fully_self_paid": "0", "over_limit": "0", "pre_self_paid": "0", "policy_range": "10000.00"}),
        jiangmen, first.accumulators_after)
    assert second.deductible == D("500.00")
    paying = {k: v for k, v in second.payouts.items() if v}
    assert paying == {"basic": D("6175.00"), "serious_illness": D("570.00")}
    assert second.accumulators_after.counters["basic.annual"] == D("17550.00")  # 11375.00 + 6175.00
    assert second.accumulators_after.admissions == 2
    # the inputs are untouched
    assert first.accumulators_after.counters["basic.annual"] == D("11375.00")


@pytest.mark.parametrize("over, acc, fragment", [
    ({"discharge_date": "2023-01-02"}, None, "no version of the rules covers 2023-01-02"),
    ({"level": "level4"}, None, "claim.level: 'level4' is not a hospital level"),
    ({"visit": "maternity", "date": "2021-03-01", "admission_date": None, "discharge_date": None}, None, "refuses this claim: maternity insurance"),
    ({"discharge_date": "2021-02-01"}, None, "discharge_date 2021-02-01 is before admission_date"),
    ({"bill": {"total": "100.00", "fully_self_paid": "0", "over_limit": "0", "pre_self_paid": "0", "policy_range": "90.00"}},
     None, "add up to 90.00, not to the total 100.00"),
    ({"bill": {"total": 100.5, "fully_self_paid": "0", "over_limit": "0", "pre_self_paid": "0", "policy_range": "100.50"}},
     None, "floats cannot hold fen exactly"),
    ({"bill": {"total": "100.005", "fully_self_paid": "0", "over_limit": "0", "pre_self_paid": "0", "policy_range": "100.005"}},
     None, "at most two decimals"),
    ({"bill": {"total": "-1.00", "fully_self_paid": "0", "over_limit": "0", "pre_self_paid": "0", "policy_range": "-1.00"}},
     None, "cannot be negative"),
    ({"items": [{"id": "a", "category": "A", "unit_price": "1.00"}, {"id": "a", "category": "A", "unit_price": "2.00"}], "bill": None},
     None, "line item id 'a' appears more than once"),
    ({"visit": "surgery"}, None, "claim.visit"),
    ({}, {"year": 2020}, "accumulators.year: 2020, but the claim settles on a date in 2021"),
    ({}, {"year": 2021, "member_id": "other"}, "accumulators.member_id: 'other' is not the claim's member 'm1'"),
    ({}, {"year": 2021, "counters": {"basic.anual": "1.00"}}, "unknown counter 'basic.anual'"),
    ({}, {"year": 2021, "counters": {"basic.annual@2021-03": "1.00"}}, "'basic.annual' is a yearly counter"),
    ({}, {"year": 2021, "counters": {"basic.annual": "3000000.00"}},
     "accumulators.counters.basic.annual: 3000000.00 is above the most cap 'basic.annual_cap.resident' has ever allowed"),
    ({"member": {"id": "m1", "scheme": "resident", "member_type": "adult", "groups": ["dibao"]}},
     {"year": 2021, "counters": {"medical_aid.paid": "90000.00"}}, "medical_aid.paid: 90000.00 is above the most cap"),
    ({"member": {"id": "m1", "scheme": "employee"}}, None, "claim.member.member_type: required"),
    ({"member": {"id": "m\n1", "scheme": "resident", "member_type": "adult"}}, None,
     "claim.member.id: a member id holds no control characters"),
    # 'm1 ' would be another member than 'm1' in a ledger: the member's year opened again
    ({"member": {"id": "m1 ", "scheme": "resident", "member_type": "adult"}}, None,
     "claim.member.id: a member id has no space at either end ('m1 ' and 'm1' would be two members)"),
    ({"member": {"id": "  ", "scheme": "resident", "member_type": "adult"}}, None,
     "claim.member.id: expected a member id (text), got only spaces"),
    ({"member": {"id": "m" * 201, "scheme": "resident", "member_type": "adult"}}, None,
     "claim.member.id: a member id has at most 200 characters, got 201"),
    ({"member": {"id": "m1", "scheme": "employee", "member_type": "adult"}}, None,
     "member_type 'adult' is not a employee member type; expected one of: in_service, retired"),
    ({"region": "out_of_province"}, None, "must say whether it was filed"),
    ({"date": "2021-03-10"}, None, "an inpatient claim has admission_date and discharge_date, not `date`"),
    ({"items": [{"id": "a", "category": "A", "unit_price": "20000.00", "quantity": 100000}], "bill": None},
     None, "cannot be settled within accepted amounts"),
    ({}, {"year": 2021, "counters": {"serious_illness.base": "999999999.00"}}, "cannot be settled within accepted amounts"),
    # a count too long to print in the trace was settled, and failed only when the trace was read
    ({}, {"year": 2021, "admissions": int("9" * 4300)}, "accumulators.admissions: Input should be less than or equal to 10000"),
    ({}, {"year": 2021, "admissions": 10_000},
     "accumulators_after.admissions would be 10001, above the most accepted (10000)"),
])
def test_bad_input_is_refused_with_a_clear_message(jiangmen, over, acc, fragment):
    with pytest.raises(ClaimError) as exc:
        benefits.evaluate(claim(**over), jiangmen, acc)
    assert fragment in str(exc.value)


def test_rules_must_be_a_loaded_pack(jiangmen):
    with pytest.raises(TypeError, match="rules must be a pack from benefits.load_rules"):
        benefits.evaluate(claim(), "rules/jiangmen")


def test_the_callers_decimal_context_does_not_change_a_payout(jiangmen):
    import decimal

    # 7,150.45 x 65% and the rest have more digits than the caller's context holds; what the
    # settlement lists is written when first read, here inside that context
    c = claim(bill={"total": "20123.45", "fully_self_paid": "1000.00", "over_limit": "0.00",
                    "pre_self_paid": "500.00", "policy_range": "18623.45"})
    want = benefits.evaluate(c, jiangmen)
    validated = benefits.Claim.model_validate(c)
    with decimal.localcontext() as ctx:
        ctx.prec, ctx.rounding = 5, decimal.ROUND_FLOOR
        assert benefits.evaluate(validated, jiangmen) == want  # from a model: no validation under the caller's context
        got = benefits.evaluate(c, jiangmen)
        payouts = {k: str(v) for k, v in got.payouts.items()}
        fields = {k: str(v) for k, v in got.platform_fields().items()}
        trace = [t.formula for t in got.trace]
        dumped = got.model_dump_json()
    assert payouts == {k: str(v) for k, v in want.payouts.items()}
    assert fields == {k: str(v) for k, v in want.platform_fields().items()}
    assert trace == [t.formula for t in want.trace]
    assert dumped == want.model_dump_json()


NARROW_BILL = {"total": "20123.45", "fully_self_paid": "1000.00", "over_limit": "0.00", "pre_self_paid": "500.00",
               "policy_range": "18623.45"}


def _narrow(ctx, traps: bool) -> None:
    """Three digits, rounding down, and (with `traps`) an exception wherever anything rounds."""
    import decimal

    ctx.prec, ctx.rounding = 3, decimal.ROUND_FLOOR
    if traps:
        ctx.traps[decimal.Inexact] = ctx.traps[decimal.Rounded] = True


@pytest.mark.parametrize("traps", [False, True])
def test_validating_under_a_narrow_caller_context_rounds_nothing(traps, jiangmen):
    import decimal

    want = benefits.evaluate(claim(bill=NARROW_BILL), jiangmen)
    # 20100.00 = 1000 + 500 + 18623.45 to three digits, rounded down: the parts must still be summed exactly
    off = dict(NARROW_BILL, total="20100.00")
    items = [{"id": "i1", "category": "B", "unit_price": "12345.67", "quantity": "1.5", "self_pay_share": "0.15"},
             {"id": "i2", "category": "A", "unit_price": Decimal("9876.54"), "quantity": 2}]
    with decimal.localcontext() as ctx:
        _narrow(ctx, traps)
        validated = benefits.Claim.model_validate(claim(bill=NARROW_BILL))
        assert validated.bill.total == Decimal("20123.45")
        with pytest.raises(ValidationError, match="add up to 20123.45, not to the total 20100.00"):
            benefits.Claim.model_validate(claim(bill=off))
        with pytest.raises(ClaimError, match="add up to 20123.45, not to the total 20100.00"):
            benefits.evaluate(claim(bill=off), jiangmen)
        got = benefits.evaluate(claim(bill=NARROW_BILL), jiangmen)
        from_items = benefits.evaluate(claim(bill=None, items=items), jiangmen)
        amounts = [str(x) for x in (got.fund_total, got.patient.total, from_items.bill.total, from_items.fund_total)]
    assert benefits.evaluate(validated, jiangmen) == want and got == want
    # 12345.67 x 1.5 = 18518.505 -> 18518.51; 9876.54 x 2 = 19753.08
    assert amounts[:2] == [str(want.fund_total), str(want.patient.total)] and amounts[2] == "38271.59"
    assert amounts[3] == str(benefits.evaluate(claim(bill=None, items=items), jiangmen).fund_total)


def test_json_schemas_exist_for_every_public_document():
    for model in (benefits.Claim, Accumulators, Settlement, CaseFile):
        schema = model.model_json_schema()
        assert schema["type"] == "object" and schema["properties"]


def test_settlement_round_trips_through_json_with_money_as_strings(jiangmen):
    s = benefits.evaluate(claim(), jiangmen)
    data = s.model_dump(mode="json")
    assert data["layers"][0]["paid"] == "11375.00"
    assert Settlement.model_validate_json(s.model_dump_json()) == s


def test_platform_fields_map_one_to_one(jiangmen):
    s = benefits.evaluate(claim(member={"id": "m1", "scheme": "resident", "member_type": "adult", "groups": ["dibao"]}), jiangmen)
    f = s.platform_fields()
    assert f["hifp_pay"] == s.payouts["basic"]
    assert f["hifmi_pay"] == s.payouts["serious_illness"]
    assert f["maf_pay"] == s.payouts["medical_aid"] + s.payouts["secondary_aid"]
    assert f["fund_pay_sumamt"] + f["psn_part_amt"] == f["medfee_sumamt"]
    assert s.layers[0].fund_code == "390100"


def test_platform_fields_of_an_employee_with_a_personal_account(jiangmen):
    # in-service, level 3: (18500.00 - 800.00) x 85% = 15045.00; in-policy self-pay 3455.00 (below the
    # serious-illness deductible); the account pays pre-self-pay 500.00 + 3455.00 = 3955.00 of its 5000.00
    s = benefits.evaluate(claim(member={"id": "m1", "scheme": "employee", "member_type": "in_service"}), jiangmen,
                          {"year": 2021, "counters": {"personal_account.balance": "5000.00"}})
    f = s.platform_fields()
    assert f["hifp_pay"] == D("15045.00") and f["fund_pay_sumamt"] == D("15045.00")
    assert f["psn_part_amt"] == D("20000.00") - D("15045.00")
    assert (f["acct_pay"], f["balc"], f["psn_cash_pay"]) == (D("3955.00"), D("1045.00"), D("1000.00"))
    assert s.accumulators_after.counters["personal_account.balance"] == D("1045.00")


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_conservation_on_every_case(path):
    case = load_case(path)
    if case.expected.error:
        return
    s = benefits.evaluate(case.claim, _pack(str(rules_dir(case, path, RULES))), case.accumulators)
    b, p = s.bill, s.patient
    assert b.fully_self_paid + b.over_limit + b.pre_self_paid + b.policy_range == b.total
    assert sum(l.paid for l in s.layers if l.fund) + p.total == b.total
    assert p.account + p.cash == p.total and p.cash >= b.fully_self_paid + b.over_limit
    assert p.fully_self_paid + p.over_limit + p.pre_self_paid + p.deductible + p.co_pay + p.above_cap \
        - p.relieved_by_later_layers == p.total
    assert p.total >= b.fully_self_paid + b.over_limit
    assert all(v >= 0 for v in s.payouts.values())


@lru_cache(maxsize=None)
def _pack(path: str):
    return benefits.load_rules(path)


def test_the_trace_lets_a_cashier_redo_the_numbers(jiangmen):
    s = benefits.evaluate(claim(member={"id": "m1", "scheme": "resident", "member_type": "adult", "groups": ["tekun"]}), jiangmen)
    steps = {t.step: t for t in s.trace}
    assert steps["basic.pay"].formula == "(18500.00 - 1000.00) x 65% = 11375.00 -> 11375.00"
    # tekun: first band starts at 10000.00 x (1 - 80%) = 2000.00, ratio 60% + 20 points = 80%
    assert steps["serious_illness.pay"].formula == "(7125.00 - 2000.00) x 80% = 4100.00 -> 4100.00"
    ratio = steps["basic.ratio"]
    assert ratio.citations[0].source.startswith("seed 001") and ratio.citations[0].value == "65%"
    assert all(t.rule and t.explain_zh and t.explain_en and t.output for t in s.trace)


def test_without_the_trace_the_numbers_are_the_same(jiangmen):
    with_trace = benefits.evaluate(claim(), jiangmen)
    without = benefits.evaluate(claim(), jiangmen, trace=False)
    assert without.trace == [] and without.payouts == with_trace.payouts


def test_line_items_split_per_item(jiangmen):
    # A 100.00 x 2; B 50.00 x 3 at the default 10%: 150.00 x 10% = 15.00;
    # B 120.00 x 1 above its standard 100.00: over 20.00, pre-self-pay (120.00 - 20.00) x 20% = 20.00; C 33.33
    items = [
        {"id": "1", "category": "A", "unit_price": "100.00", "quantity": 2},
        {"id": "2", "category": "B", "unit_price": "50.00", "quantity": 3},
        {"id": "3", "category": "B", "unit_price": "120.00", "payment_standard": "100.00", "self_pay_share": "0.20"},
        {"id": "4", "category": "C", "unit_price": "33.33"},
    ]
    s = benefits.evaluate(claim(bill=None, items=items), jiangmen)
    assert (s.bill.total, s.bill.fully_self_paid, s.bill.over_limit, s.bill.pre_self_paid, s.bill.policy_range) == (
        D("503.33"), D("33.33"), D("20.00"), D("35.00"), D("415.00"))


def _models(value):
    """Every pydantic model inside a settlement, with the model itself first."""
    if isinstance(value, benefits.Settlement.__mro__[1]):  # pydantic.BaseModel
        yield value
        for name in type(value).model_fields:
            yield from _models(getattr(value, name))
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _models(v)


@pytest.mark.parametrize("trace", [True, False])
def test_results_built_without_validation_equal_validated_ones(jiangmen, trace):
    """The engine builds its results from its own values without validating them again
    (`model_construct`, and dataclasses for the layers and the patient's part): each model must hold
    every field, and validating its own dump must give the settlement back unchanged."""
    items = [{"id": "i1", "category": "B", "unit_price": "1200.00", "quantity": "2"},
             {"id": "i2", "category": "C", "unit_price": "300.00"},
             {"id": "i3", "category": "A", "unit_price": "90.00", "quantity": "3", "payment_standard": "80.00"}]
    result = benefits.evaluate(claim(bill=None, items=items, member={
        "id": "m1", "scheme": "resident", "member_type": "adult", "groups": ["dibao"]}), jiangmen, trace=trace)
    models = list(_models(result))
    assert {type(m).__name__ for m in models} >= {"Settlement", "BillSplit", "Accumulators"}
    assert Settlement.model_validate(result.model_dump()) == result
    for m in models:
        assert set(m.__dict__) == set(type(m).model_fields), type(m).__name__
        assert type(m).model_validate(m.model_dump()) == m, type(m).__name__
        assert type(m).model_construct(**m.__dict__) == m
    again = Settlement.model_validate_json(result.model_dump_json())
    assert again == result and again.model_dump(mode="json") == result.model_dump(mode="json")


def _unvalidated_claims():
    from benefits import BillSplit, Claim

    valid = Claim.model_validate(claim())  # 20000.00, all in the policy range
    floats = {k: float(v) for k, v in valid.bill.model_dump().items()}
    yield "float bill", valid.model_copy(update={"bill": BillSplit.model_construct(**floats)}), ("claim", "bill", "total")
    unbalanced = dict(total=Decimal("100.00"), fully_self_paid=Decimal(0), over_limit=Decimal(0),
                      pre_self_paid=Decimal(0), policy_range=Decimal("5000.00"))
    yield "parts adding up to 5000.00", valid.model_copy(update={"bill": BillSplit.model_construct(**unbalanced)}), \
        ("claim", "bill")
    yield "dict for the bill", valid.model_copy(update={"bill": {"total": "1.00"}}), ("claim", "bill", "fully_self_paid")
    yield "nothing at all", Claim.model_construct(), ("claim", "id")


@pytest.mark.parametrize("name, made, path", list(_unvalidated_claims()), ids=[n for n, _, _ in _unvalidated_claims()])
def test_an_instance_made_without_validation_is_validated_as_its_data(jiangmen, tmp_path, name, made, path):
    # model_construct and model_copy(update=...) validate nothing: a float bill paid 1 fen less (and came
    # back as a float), a bill of 100.00 paid 2600.00 leaving the patient -2500.00, a dict raised a raw
    # AttributeError
    with pytest.raises(ClaimError) as exc:
        benefits.evaluate(made, jiangmen)
    assert exc.value.problems[0].path[:len(path)] == path, exc.value.problems
    from benefits.ledger import open_ledger

    with open_ledger(str(tmp_path / "ledger.db")) as ledger:  # the ledger trusted instances too
        with pytest.raises(ClaimError):
            ledger.settle("k1", made, jiangmen)
        assert ledger.entries("m1", 2021) == []


def test_accumulators_made_without_validation_are_validated_as_their_data(jiangmen):
    bad = Accumulators.model_construct(year=2021, admissions=-3, member_id=None, counters={"medical_aid.paid": 7.25})
    with pytest.raises(ClaimError) as exc:
        benefits.evaluate(claim(), jiangmen, bad)
    assert {p.path for p in exc.value.problems} >= {("accumulators", "admissions")}
    # the engine's own results are settled as they are: a year chained claim by claim, and an equal
    # copy validated anew
    first = benefits.evaluate(claim(), jiangmen)
    second = benefits.evaluate(claim(id="c2"), jiangmen, first.accumulators_after)
    copied = Accumulators.model_construct(**dict(first.accumulators_after))
    assert benefits.evaluate(claim(id="c2"), jiangmen, copied) == second


@pytest.mark.parametrize("change, path", [
    ({"discharge_date": "2023-01-02"}, ("claim", "discharge_date")),  # no version covers the deciding date
    ({"visit": "special_outpatient", "date": "2021-03-10", "admission_date": None, "discharge_date": None,
      "diagnoses": ["J18.9"]}, ("claim", "diagnoses", 0)),  # a 门特 diagnosis in no disease list
    ({"visit": "maternity", "date": "2021-03-10", "admission_date": None, "discharge_date": None,
      "service": "iud"}, ("claim", "member", "scheme")),  # a resident's maternity claim
    ({"visit": "covid_test", "date": "2021-03-10", "admission_date": None, "discharge_date": None,
      "region": "out_of_province", "filed": True}, ("claim", "region")),
])
def test_a_refusal_names_the_field_it_turns_on(jiangmen, change, path):
    # these refusals carried an empty path, so the command line could not name the line
    with pytest.raises(ClaimError) as exc:
        benefits.evaluate(claim(**change), jiangmen)
    assert [p.path for p in exc.value.problems] == [path]


def test_a_refusal_of_the_visit_kind_names_it():
    mini = benefits.load_rules(ROOT / "examples" / "rules" / "mini")
    with pytest.raises(ClaimError) as exc:
        benefits.evaluate(claim(), mini)
    assert exc.value.problems[0].path == ("claim", "visit")


def test_a_claim_error_carries_each_problem_with_its_path(jiangmen):
    bad = claim(level="level9")
    bad["member"] = dict(bad["member"], age="x")
    bad["bill"] = dict(bad["bill"], total="abc")
    with pytest.raises(ClaimError) as exc:
        benefits.evaluate(bad, jiangmen)
    assert [p.path for p in exc.value.problems] == [("claim", "member", "age"), ("claim", "bill", "total")]
    assert str(exc.value) == "; ".join(str(p) for p in exc.value.problems)
    with pytest.raises(ClaimError) as exc:
        benefits.evaluate(claim(), jiangmen, {"year": 2021, "counters": {"basic.annual": "3000000.00"}})
    (problem,) = exc.value.problems
    assert problem.path == ("accumulators", "counters", "basic.annual")
    assert problem.message.startswith("3000000.00 is above the most cap")


def test_load_file_reads_a_claim_file_as_the_command_line_does(tmp_path, jiangmen):
    examples = ROOT / "examples"
    claim = benefits.load_file(examples / "resident-level3-inpatient.yaml")
    acc = benefits.load_file(str(examples / "resident-level3-accumulators.yaml"))
    s = benefits.evaluate(claim, jiangmen, acc)
    # second stay of the year: deductible 1000.00 x 50% = 500.00; (62708.05 - 500.00) x 65% = 40435.2325
    assert s.payouts["basic"] == Decimal("40435.23") and s.deductible == Decimal("500.00")
    # amounts are read exactly (never floats), zero-padded integers in decimal, JSON by its suffix
    (tmp_path / "c.yaml").write_text("total: 012000.10\ncount: 010\n")
    (tmp_path / "c.json").write_text('{"total": 0.1, "count": 10}')
    assert benefits.load_file(tmp_path / "c.yaml") == {"total": Decimal("12000.10"), "count": 10}
    assert benefits.load_file(tmp_path / "c.json") == {"total": Decimal("0.1"), "count": 10}
    (tmp_path / "bad.yaml").write_text("a: 1\nb: [\n")
    with pytest.raises(benefits.YamlError) as caught:
        benefits.load_file(tmp_path / "bad.yaml")
    assert caught.value.name.endswith("bad.yaml") and caught.value.line is not None
    assert isinstance(caught.value, benefits.BenefitsError)


def test_a_settlement_pickles_before_its_lists_are_read(jiangmen):
    # the lazy lists held a closure: pickle failed until model_dump_json() had built them (a settlement
    # returned from a process pool or a worker, a pickle cache)
    import pickle

    items = [{"id": "i1", "category": "B", "unit_price": "1200.00", "quantity": "2"}]
    for trace in (True, False):
        s = benefits.evaluate(claim(bill=None, items=items), jiangmen, trace=trace)
        again = pickle.loads(pickle.dumps(s))
        assert again == s and again.model_dump_json() == s.model_dump_json()
        assert [i.pre_self_paid for i in again.items] == [Decimal("240.00")]  # 10% of 2400.00


def test_a_claim_of_line_items_copied_or_pickled_settles_as_itself(jiangmen):
    # the line items were copied as models where their rows belong: the copy could not be read
    import copy
    import pickle

    items = [{"id": "i1", "category": "B", "unit_price": "12.46", "quantity": "2.5", "payment_standard": "8.33"}]
    original = benefits.Claim.model_validate(claim(bill=None, items=items))
    want = benefits.evaluate(original, jiangmen).model_dump_json()
    for made in (copy.copy(original), copy.deepcopy(original), pickle.loads(pickle.dumps(original))):
        assert made == original and benefits.evaluate(made, jiangmen).model_dump_json() == want


def test_a_loaded_pack_is_not_copied(jiangmen):
    # a deep copy's matcher recorded what fired into the original's list: every claim of a kind the
    # original had not seen settled with no layer applying, the whole bill to the patient
    import copy
    import pickle

    for copier in (copy.copy, copy.deepcopy, pickle.dumps):
        with pytest.raises(TypeError, match="load it again with benefits.load_rules"):
            copier(jiangmen)


def test_accumulators_changed_after_validation_are_refused_not_floored(jiangmen):
    # the counters dict is the caller's: a float put in it after validation lost a fen, silently
    acc = Accumulators.model_validate({"year": 2021, "counters": {"basic.annual": "21400.00"}})
    acc.counters["basic.annual"] = 21400.1
    with pytest.raises(ClaimError) as exc:
        benefits.evaluate(claim(), jiangmen, acc)
    assert exc.value.problems[0].path == ("accumulators", "counters", "basic.annual")
    acc.counters["basic.annual"] = Decimal("21400.105")
    with pytest.raises(ClaimError):
        benefits.evaluate(claim(), jiangmen, acc)


def test_a_negative_counter_put_in_after_validation_is_refused(jiangmen):
    acc = Accumulators.model_validate({"year": 2021, "counters": {"serious_illness.base": "100.00"}})
    acc.counters["serious_illness.base"] = Decimal("-5000.00")  # validation refuses it; so does settling
    with pytest.raises(ClaimError) as exc:
        benefits.evaluate(claim(), jiangmen, acc)
    assert exc.value.problems[0].path == ("accumulators", "counters", "serious_illness.base")


def test_instances_validated_beforehand_stay_validated_however_many(jiangmen):
    # The registry of validated instances was bounded and started over at 4,096 entries: a service
    # that validated a batch of claims first validated each one again when it settled it.
    from benefits.models import checked

    first = Claim.model_validate(claim())
    batch = [Claim.model_validate(claim(id=f"c{i}")) for i in range(5000)]
    settled = benefits.evaluate(first, jiangmen)
    assert checked.validated(Claim, first, "claim") is first
    assert all(checked.validated(Claim, c, "claim") is c for c in batch[::499])
    # and it holds only live instances: entries go with their instances
    held = len(checked._CHECKED)
    del batch, settled
    assert len(checked._CHECKED) <= held - 5000
