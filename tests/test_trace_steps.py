"""The trace steps a cashier needs to redo a claim by hand (issue 18): the diagnosis and its disease
list, each group modifier's arithmetic, the version chosen; refusals that name the offending value;
the warning when no accumulators are given. Numbers are hand-computed from domain.md 7.1."""

from __future__ import annotations

from decimal import Decimal

import pytest

import benefits
from benefits import ClaimError
from benefits_cli.app import app
from conftest import RULES, claim, cli_runner

JIANGMEN = RULES / "jiangmen"
runner = cli_runner()


def steps(s):
    return {t.step: t for t in s.trace}


def member(group: str) -> dict:
    return {"id": "m1", "scheme": "resident", "member_type": "adult", "groups": [group]}


def test_tekun_serious_illness_modifiers(jiangmen):
    # Resident, level 3, 2021: basic (18500.00 - 1000.00) x 65% = 11375.00; in-policy self-pay 7125.00.
    # 特困: first band starts at 10000.00 x (1 - 80%) = 2000.00; ratios 60% + 20 points = 80%,
    # 70% + 20 points = 90%; no serious-illness cap. Pay (7125.00 - 2000.00) x 80% = 4100.00.
    # Medical aid: 18500.00 - 11375.00 - 4100.00 = 3025.00 x 100% = 3025.00.
    s = benefits.evaluate(claim(member=member("tekun")), jiangmen)
    t = steps(s)
    assert t["serious_illness.deductible"].formula == "10000.00 x (1 - 80%) = 2000.00"
    assert t["serious_illness.deductible"].output == "2000.00"
    assert t["serious_illness.deductible"].explain_zh == "特困人员起付线降低80%"
    assert t["serious_illness.points"].formula == "60% + 20 points = 80%; 70% + 20 points = 90%"
    assert t["serious_illness.points"].output == "80%, 90%"
    assert t["serious_illness.points"].explain_zh == "特困人员各段支付比例提高20个百分点"
    assert t["serious_illness.cap"].explain_zh == "特困人员不设封顶线（一般人员 240000.00）"
    assert t["serious_illness.pay"].formula == "(7125.00 - 2000.00) x 80% = 4100.00 -> 4100.00"
    assert str(s.payouts["serious_illness"]) == "4100.00" and str(s.payouts["medical_aid"]) == "3025.00"
    order = [x.step for x in s.trace if x.layer == "serious_illness"]
    assert order.index("serious_illness.deductible") < order.index("serious_illness.pay")


def test_dibao_serious_illness_modifiers(jiangmen):
    # 低保: first band starts at 10000.00 x (1 - 70%) = 3000.00; ratios 60% + 10 points = 70%,
    # 70% + 10 points = 80%. Pay (7125.00 - 3000.00) x 70% = 2887.50.
    # Medical aid: 7125.00 - 2887.50 = 4237.50 x 80% = 3390.00.
    s = benefits.evaluate(claim(member=member("dibao")), jiangmen)
    t = steps(s)
    assert t["serious_illness.deductible"].formula == "10000.00 x (1 - 70%) = 3000.00"
    assert t["serious_illness.points"].formula == "60% + 10 points = 70%; 70% + 10 points = 80%"
    assert t["serious_illness.pay"].formula == "(7125.00 - 3000.00) x 70% = 2887.50 -> 2887.50"
    assert str(s.payouts["serious_illness"]) == "2887.50" and str(s.payouts["medical_aid"]) == "3390.00"
    cites = [c.parameter for c in t["serious_illness.deductible"].citations]
    assert cites == ["serious_illness.dibao.deductible_reduction"]


def test_a_member_in_no_group_has_no_modifier_steps(jiangmen):
    s = benefits.evaluate(claim(), jiangmen)
    assert not {"serious_illness.deductible", "serious_illness.points"} & set(steps(s))
    # the cap is not lifted: what is left of it is a step, 240000.00 less the 0.00 paid so far
    cap = steps(s)["serious_illness.cap"]
    assert (cap.formula, cap.output, cap.explain_zh) == (
        "max(0, 240000.00 - 0.00) = 240000.00", "240000.00", "大病保险年度最高支付限额（每个险种）剩余")


def test_the_new_steps_only_with_the_trace(jiangmen):
    with_trace = benefits.evaluate(claim(member=member("tekun"), diagnoses=["I10"]), jiangmen)
    without = benefits.evaluate(claim(member=member("tekun"), diagnoses=["I10"]), jiangmen, trace=False)
    assert without.trace == [] and without.payouts == with_trace.payouts


@pytest.mark.parametrize("code, zh, output", [
    ("I10", "主诊断 I10 属于高血压病种（I10-I15）", "hypertension"),
    ("E11.9", "主诊断 E11.9 属于糖尿病病种（E10-E14）", "diabetes"),
    ("J18.9", "主诊断 J18.9 不属于本规则的任何病种", "none"),
])
def test_the_diagnosis_step_names_the_disease_list(jiangmen, code, zh, output):
    s = benefits.evaluate(claim(diagnoses=[code]), jiangmen)
    t = steps(s)["diagnosis"]
    assert (t.explain_zh, t.output, t.inputs["diagnosis"]) == (zh, output, code)
    assert [x.step for x in s.trace][:2] == ["version", "diagnosis"]  # the version chosen comes first


def test_the_version_step_names_the_dates(jiangmen):
    t = steps(benefits.evaluate(claim(), jiangmen))["version"]
    assert t.explain_zh == "按出院日期2021年3月10日，适用2021年1月1日起施行的政策"  # a stay settles on its discharge
    assert t.explain_en == "the discharge date 2021-03-10 selects the version of 2021-01-01"
    assert t.output == "2021-01-01"


def special(diagnoses: list[str]) -> dict:
    return claim(visit="special_outpatient", date="2021-03-01", admission_date=None, discharge_date=None,
                 diagnoses=diagnoses)


@pytest.mark.parametrize("diagnoses, named", [
    (["I1O"], "the claim's primary diagnosis 'I1O' is in none of them"),  # a letter O, not a zero
    (["J06.9"], "the claim's primary diagnosis 'J06.9' is in none of them"),
    ([], "the claim gives no diagnosis (diagnoses: [])"),
])
def test_a_disease_refusal_names_the_code(jiangmen, tmp_path, diagnoses, named):
    with pytest.raises(ClaimError) as exc:
        benefits.evaluate(special(diagnoses), jiangmen)
    assert "disease lists" in str(exc.value) and exc.value.offending == "; " + named
    path = tmp_path / "claim.yaml"
    path.write_text(
        "id: c1\nmember: {id: m1, scheme: resident, member_type: adult}\nvisit: special_outpatient\n"
        f"level: level3\ndate: 2021-03-01\ndiagnoses: [{', '.join(diagnoses)}]\n"
        "bill: {total: 100.00, fully_self_paid: 0, over_limit: 0, pre_self_paid: 0, policy_range: 100.00}\n",
        encoding="utf-8")
    r = runner.invoke(app, ["calc", str(path), "--rules", str(JIANGMEN)])
    assert r.exit_code == 2 and named in r.stderr and r.stdout == ""


@pytest.mark.parametrize("code", ["hello world", "I", "I10.", "I10.123456789", "110", "I²³"])
def test_a_diagnosis_that_is_not_an_icd10_code_is_refused_with_its_path(jiangmen, code):
    with pytest.raises(ClaimError) as exc:
        benefits.evaluate(claim(diagnoses=[code]), jiangmen)  # an inpatient claim
    (problem,) = exc.value.problems
    assert problem.path == ("claim", "diagnoses", 0)
    assert f"{code!r} is not an ICD-10 code" in problem.message


@pytest.mark.parametrize("code", ["I10", "J18.9", "C34.90", "i10.x00", "Z94.0", "I10.x00x002"])
def test_icd10_shaped_codes_are_accepted(jiangmen, code):
    benefits.evaluate(claim(diagnoses=[code]), jiangmen)


def test_the_cli_names_the_bad_diagnosis_with_file_and_line(tmp_path):
    path = tmp_path / "claim.yaml"
    path.write_text(
        "id: c1\nmember: {id: m1, scheme: resident, member_type: adult}\nvisit: inpatient\nlevel: level3\n"
        "admission_date: 2021-03-01\ndischarge_date: 2021-03-10\ndiagnoses: [hello world]\n"
        "bill: {total: 100.00, fully_self_paid: 0, over_limit: 0, pre_self_paid: 0, policy_range: 100.00}\n",
        encoding="utf-8")
    r = runner.invoke(app, ["calc", str(path), "--rules", str(JIANGMEN)])
    assert r.exit_code == 2
    assert "claim.yaml:7 [diagnoses.0]: 'hello world' is not an ICD-10 code" in r.stderr


WARNING = "warning: no accumulators given: settled as the member's first claim of the year"


@pytest.mark.parametrize("args", [["calc"], ["calc", "--json"], ["explain"], ["explain", "--lang", "en"]])
def test_a_warning_on_stderr_without_accumulators(tmp_path, args):
    path = tmp_path / "claim.yaml"
    path.write_text(
        "id: c1\nmember: {id: m1, scheme: resident, member_type: adult}\nvisit: inpatient\nlevel: level3\n"
        "admission_date: 2021-03-01\ndischarge_date: 2021-03-10\n"
        "bill: {total: 100.00, fully_self_paid: 0, over_limit: 0, pre_self_paid: 0, policy_range: 100.00}\n",
        encoding="utf-8")
    r = runner.invoke(app, [args[0], str(path), "--rules", str(JIANGMEN), *args[1:]])
    assert r.exit_code == 0
    assert r.stderr == WARNING + "\n"  # one line, stderr only
    assert "warning" not in r.stdout
    acc = tmp_path / "acc.yaml"
    acc.write_text("year: 2021\n", encoding="utf-8")
    r = runner.invoke(app, [args[0], str(path), "--rules", str(JIANGMEN), "--accumulators", str(acc), *args[1:]])
    assert r.exit_code == 0 and r.stderr == ""


@pytest.mark.parametrize("case,cap_zh", [("jc-09-special-hypertension-l1-disease-cap.yaml", "门特高血压年度支付限额"),
                                         ("jc-10-special-diabetes-l3-65pct.yaml", "门特糖尿病年度支付限额")])
def test_chinese_text_names_a_cap_whose_english_name_starts_with_a_chinese_term(jiangmen, case, cap_zh):
    # "门特高血压年度支付限额 / 门特 hypertension (I10-I15) yearly cap": the English half starts with 门特
    import re

    from benefits.cases import load_case

    c = load_case(RULES.parent / "tests" / "cases" / "jiangmen" / case)
    s = benefits.evaluate(c.claim, jiangmen, c.accumulators)
    caps = [t for t in s.trace if t.step.endswith(".cap")]
    assert f"{cap_zh}剩余" in [t.explain_zh for t in caps]  # beside the shared annual cap
    assert not any(re.search("[A-Za-z]{3,}", t.explain_zh) for t in s.trace), [t.explain_zh for t in s.trace]
    # calc's Chinese text: the counter's meaning in Chinese only
    from benefits_cli.render import settlement_text
    from benefits_cli.text import Paint

    text = settlement_text(s, jiangmen, "zh", Paint(False), columns=200)
    assert cap_zh.replace("年度支付限额", "本年已支付") in text
    assert not re.search("hypertension|diabetes", text)


@pytest.mark.parametrize("pack,case,group,zh", [
    ("anyang", "ay-09-dibao-serious-illness-no-cap-aid-cap-used.yaml", "aid_groups", "特困、低保、脱贫"),
    ("jiangmen", "jc-18-covid-resident-in-province-l2-2022.yaml", "everyone", "全体参保人")])
def test_a_group_is_named_in_chinese_by_the_name_its_layer_gives_it(pack, case, group, zh):
    # a group id no one knows (aid_groups, everyone) is shown by its `name:` in the layer file
    import re

    from benefits.cases import load_case
    from benefits_cli.render import trace_text
    from benefits_cli.text import Paint

    rules = benefits.load_rules(RULES / pack)
    c = load_case(RULES.parent / "tests" / "cases" / pack / case)
    s = benefits.evaluate(c.claim, rules, c.accumulators)
    named = [t.explain_zh for t in s.trace if zh in t.explain_zh]
    assert named and not any(re.search("[A-Za-z]{3,}", t.explain_zh) for t in s.trace), named
    assert any(t.rule.endswith(f".groups.{group}") for t in s.trace)  # the JSON keeps the id
    text = trace_text(s, rules, "zh", Paint(False), columns=200)
    assert zh in text and group not in text


@pytest.mark.parametrize("case,zh", [("jc-14-maternity-prenatal-2021-fixed-1200.yaml", "产前检查"),
                                     ("jc-15-maternity-termination-2022-policy-below-525.yaml", "门诊终止妊娠"),
                                     ("jc-16-maternity-iud-2022-account-pays-rest.yaml", "放置或取出宫内节育器")])
def test_a_maternity_service_is_named_in_chinese(jiangmen, case, zh):
    from benefits.cases import load_case
    from benefits_cli.render import trace_text
    from benefits_cli.text import Paint

    c = load_case(RULES.parent / "tests" / "cases" / "jiangmen" / case)
    text = trace_text(benefits.evaluate(c.claim, jiangmen, c.accumulators), jiangmen, "zh", Paint(False), columns=200)
    assert f"服务项目 = {zh}" in text and c.claim.service not in text


@pytest.mark.parametrize("pack,case,layer,zh", [
    # jc-19: a COVID test of 9.22, 100% paid by the treating city's finance: a finance share, not aid
    ("jiangmen", "jc-19-covid-employee-local-l1-2021.yaml", "covid_finance",
     "就医地财政（核酸检测）按100%支付全体参保人的剩余合规自付"),
    ("anyang", "ay-09-dibao-serious-illness-no-cap-aid-cap-used.yaml", "medical_aid", "医疗救助按")])
def test_a_residual_layer_is_named_as_the_payer_it_is(pack, case, layer, zh):
    from benefits.cases import load_case

    c = load_case(RULES.parent / "tests" / "cases" / pack / case)
    s = benefits.evaluate(c.claim, benefits.load_rules(RULES / pack), c.accumulators)
    (pay,) = [t for t in s.trace if t.step == f"{layer}.pay"]
    assert pay.explain_zh.startswith(zh), pay.explain_zh
    assert ("救助" in pay.explain_zh) == (layer == "medical_aid")


def _stay(pack_level: str, total: str, policy: str, groups: list[str], scheme: str = "resident",
          member_type: str = "adult", days: tuple[str, str] = ("2022-03-01", "2022-03-10")) -> dict:
    return {"id": "t1", "member": {"id": "m1", "scheme": scheme, "member_type": member_type, "groups": groups},
            "visit": "inpatient", "level": pack_level, "admission_date": days[0], "discharge_date": days[1],
            "diagnoses": ["J18.9"], "bill": {"total": total, "fully_self_paid": str(Decimal(total) - Decimal(policy)),
                                              "over_limit": "0.00", "pre_self_paid": "0.00", "policy_range": policy}}


def _acc(admissions: int = 0, **counters: str) -> dict:
    return {"member_id": "m1", "year": 2022, "admissions": admissions,
            "counters": {k.replace("__", "."): v for k, v in counters.items()}}


def test_what_is_left_of_each_layers_cap_is_a_step(jiangmen):
    # Jiangmen 2022, resident 低保, level 3, 20000.00 all in policy range (domain.md 7.1):
    # basic (20000.00 - 1000.00) x 65% = 12350.00; serious illness, first band from
    # 10000.00 x (1 - 70%) = 3000.00 at 60% + 10 points: (7650.00 - 3000.00) x 70% = 3255.00 (no cap
    # for 低保); medical aid on 20000.00 - 12350.00 - 3255.00 = 4395.00 at 80% = 3516.00, but only
    # 80000.00 - 79500.00 = 500.00 of its annual cap is left: pays 500.00. The 500.00 was stated
    # with nothing saying where it came from.
    s = benefits.evaluate(_stay("level3", "20000.00", "20000.00", ["dibao"]), jiangmen,
                          _acc(medical_aid__paid="79500.00"))
    t = steps(s)
    cap = t["medical_aid.cap"]
    assert (cap.inputs, cap.formula, cap.output) == (
        {"paid_so_far": "79500.00"}, "max(0, 80000.00 - 79500.00) = 500.00", "500.00")
    assert cap.explain_zh == "医疗救助年度最高救助限额（门诊与住院共用）剩余"
    assert [c.parameter for c in cap.citations] == ["medical_aid.annual_cap"]
    # where the 4395.00 comes from is in the step, as in the cumulative one: the policy-range amount less
    # each fund before the layer (Jiangmen's medical aid has no aid deductible, so none is subtracted)
    pay = t["medical_aid.pay"]
    assert pay.formula == "(20000.00 - 12350.00 - 3255.00) x 80% = 3516.00; capped at 500.00 -> 500.00"
    assert pay.inputs == {"policy_range": "20000.00", "left": "4395.00", "cap_left": "500.00"}
    order = [x.step for x in s.trace]
    assert order.index("medical_aid.cap") < order.index("medical_aid.pay")
    # a cap a group lifts has no such step: 低保 has no serious-illness cap
    assert t["serious_illness.cap"].output == "no cap"
    # and what lifts it is cited, as a parameter's value is: the cap, no cap, and the policy text (it
    # cited the cap it lifts, 240000.00, and its source, which says the cap is 24万)
    assert [(c.parameter, c.value, c.source) for c in t["serious_illness.cap"].citations] == [
        ("serious_illness.annual_cap", "no cap",
         "seed 001: 上述人员大病保险不设最高支付限额 (低保, 建档立卡; domain.md section 7.1)")]


def test_secondary_aid_states_its_cap_left(jiangmen):
    # As above with medical aid's cap used up (80000.00 paid): aid pays 0.00; secondary aid's
    # cumulative post-aid self-pay 1000.00 + (20000.00 - 12350.00 - 3255.00 - 0.00) = 5395.00, above
    # 5000.00 at 50%: (5395.00 - 5000.00) x 50% = 197.50, but 30000.00 - 29900.00 = 100.00 is left
    s = benefits.evaluate(_stay("level3", "20000.00", "20000.00", ["dibao"]), jiangmen,
                          _acc(medical_aid__paid="80000.00", secondary_aid__base="1000.00",
                               secondary_aid__paid="29900.00"))
    t = steps(s)
    assert t["secondary_aid.cap"].formula == "max(0, 30000.00 - 29900.00) = 100.00"
    assert t["secondary_aid.pay"].formula == "(5395.00 - 5000.00) x 50% = 197.50; capped at 100.00 -> 100.00"
    assert str(s.payouts["secondary_aid"]) == "100.00"
    # where the claim's 4395.00 comes from is part of the step: the policy-range amount less each fund
    # before the layer (basic 12350.00, serious illness 3255.00, medical aid 0.00)
    cumulative = t["secondary_aid.cumulative"]
    assert cumulative.formula == "1000.00 + (20000.00 - 12350.00 - 3255.00 - 0.00) = 5395.00"
    assert cumulative.inputs == {"secondary_aid.base": "1000.00", "policy_range": "20000.00"}
    assert t["serious_illness.cumulative"].formula == "0.00 + (20000.00 - 12350.00) = 7650.00"


def test_the_aid_deductible_left_is_a_step():
    # Anyang 2022, resident 低保, township, 800.00 in policy range (domain.md 7.2): basic
    # (800.00 - 200.00) x 90% = 540.00; serious illness pays nothing (260.00 is below its start);
    # medical aid's annual deductible is 1000.00, of which 500.00 was met this year: this claim's
    # 260.00 left meets min(260.00, 1000.00 - 500.00) = 260.00 of it, so aid pays
    # (800.00 - 540.00 - 0.00 - 260.00) x 75% = 0.00. The 260.00 was stated with no step saying why.
    anyang = benefits.load_rules(RULES / "anyang")
    s = benefits.evaluate(_stay("township", "800.00", "800.00", ["dibao"], days=("2022-03-01", "2022-03-03")),
                          anyang, _acc(medical_aid__deductible_used="500.00"))
    t = steps(s)
    d = t["medical_aid.deductible"]
    assert (d.inputs, d.formula, d.output) == (
        {"aid_deductible_met": "500.00", "left": "260.00"}, "min(260.00, max(0, 1000.00 - 500.00)) = 260.00", "260.00")
    # 260.00 left is 800.00 less basic 540.00 and serious illness 0.00; the aid deductible's 260.00 comes last
    assert t["medical_aid.pay"].formula == "(800.00 - 540.00 - 0.00 - 260.00) x 75% = 0.00 -> 0.00"
    assert str(s.accumulators_after.counters["medical_aid.deductible_used"]) == "760.00"


def test_the_large_amount_subsidy_states_its_cap_left():
    # Anyang 2022, employee: the basic annual cap (300000.00) used up; the subsidy pays 90% of the
    # eligible cost beyond it, at least 90% x (100000.00 - 1500.00) = 88650.00 whatever the
    # deductible, but 400000.00 - 350000.00 = 50000.00 of its cap is left: pays 50000.00
    anyang = benefits.load_rules(RULES / "anyang")
    s = benefits.evaluate(_stay("province", "100000.00", "100000.00", [], scheme="employee", member_type="retired",
                                days=("2022-03-01", "2022-04-01")),
                          anyang, _acc(1, basic__annual="300000.00", large_amount__paid="350000.00"))
    t = steps(s)
    assert t["large_amount.cap"].formula == "max(0, 400000.00 - 350000.00) = 50000.00"
    assert str(s.payouts["large_amount"]) == "50000.00"
    assert t["large_amount.pay"].explain_en == (  # it read "reached cap annual"
        "90% of the eligible cost beyond the point where the basic fund reached its annual cap")


def test_a_deductible_above_the_policy_range_amount_is_met_up_to_it(jiangmen):
    # Jiangmen 2022, resident, level 3: the deductible is 1000.00 but only 700.00 is in the policy
    # range, so 700.00 of it is met and the fund pays (700.00 - 700.00) x 65% = 0.00. The step said
    # 起付线 = 700.00 after a deductible step of 1000.00.
    s = benefits.evaluate(_stay("level3", "800.00", "700.00", []), jiangmen)
    t = steps(s)
    assert t["basic.deductible"].output == "1000.00"
    pay = t["basic.pay"]
    assert pay.formula == "(700.00 - min(700.00, 1000.00)) x 65% = 0.00 -> 0.00"
    assert (pay.inputs["deductible"], pay.inputs["deductible_applied"]) == ("1000.00", "700.00")
    assert str(s.deductible) == "700.00"
    # where the deductible is met in full the formula is as before
    s = benefits.evaluate(_stay("level3", "20000.00", "20000.00", []), jiangmen)
    assert steps(s)["basic.pay"].formula == "(20000.00 - 1000.00) x 65% = 12350.00 -> 12350.00"
    assert "deductible" not in steps(s)["basic.pay"].inputs


def test_a_layer_that_does_not_apply_says_which_condition_failed(jiangmen):
    # the Chinese text said only "X不适用于本次结算"; the English gave the rule's condition alone
    s = benefits.evaluate(claim(), jiangmen)  # a resident's stay: no maternity, no personal account, no aid group
    t = steps(s)
    assert t["maternity.skip"].explain_zh == "生育保险基金不适用于本次结算：本层的适用条件不成立"
    assert t["maternity.skip"].formula.startswith("not (")
    assert t["medical_aid.skip"].explain_zh == (
        "医疗救助不适用于本次结算：参保人不属于本层的任何人员类别")


def test_a_group_named_for_several_identities_says_which_is_the_members():
    # Anyang's serious-illness group is named "特困、低保、脱贫": for a member who is 脱贫 only the
    # step read as if the member were all three
    anyang = benefits.load_rules(RULES / "anyang")
    s = benefits.evaluate(_stay("province", "300000.00", "300000.00", ["tuopin"], days=("2022-03-01", "2022-04-01")),
                          anyang, _acc(serious_illness__base="10000.00"))
    assert steps(s)["serious_illness.group"].explain_zh == "按对本层最有利的身份计算：特困、低保、脱贫（本人：脱贫）"
    assert steps(s)["serious_illness.group"].explain_en == (
        # the pack's English name for the group, the member's own beside it
        "the group most favourable for this layer applies: tekun, dibao and tuopin members (member: lifted out of "
        "poverty (tuopin))")


def test_every_step_naming_a_group_says_the_members_own_identity(jiangmen):
    # A 孤儿 is paid as the group the pack names 特困: with one group to choose from there was no
    # group step, and the aid step read "按100%支付特困的剩余合规自付" for a member who is not 特困
    s = benefits.evaluate(_stay("level3", "20000.00", "20000.00", ["guer"]), jiangmen)
    t = steps(s)
    assert t["medical_aid.pay"].explain_zh == "医疗救助按100%支付特困（本人：孤儿）的剩余合规自付"
    assert t["serious_illness.deductible"].explain_zh == "特困（本人：孤儿）人员起付线降低80%"
    # found by an audit of the traces: the English named the pack's group id alone ('group tekun', 'group
    # low_income' for a member who is 脱贫), never the member's own
    assert t["medical_aid.pay"].explain_en == (
        "medical aid: 100% of the in-policy self-pay left (extreme poverty (tekun) (member: orphan (guer)))")
    assert t["serious_illness.deductible"].explain_en == (
        "extreme poverty (tekun) (member: orphan (guer)): the deductible lowered by 80%")
    s = benefits.evaluate(_stay("level3", "20000.00", "20000.00", ["tuopin"]), jiangmen)
    assert steps(s)["medical_aid.pay"].explain_en == ("medical aid: 70% of the in-policy self-pay left (low-income or "
                                                      "lifted out of poverty (member: lifted out of poverty (tuopin)))")
    # a member the group's name already names is shown as before
    s = benefits.evaluate(_stay("level3", "20000.00", "20000.00", ["tekun"]), jiangmen)
    assert steps(s)["medical_aid.pay"].explain_zh == "医疗救助按100%支付特困的剩余合规自付"
    assert steps(s)["medical_aid.pay"].explain_en == (
        "medical aid: 100% of the in-policy self-pay left (extreme poverty (tekun))")


def test_a_layer_without_an_aid_deductible_shows_none(jiangmen):
    # the COVID test's finance share (a residual_ratio layer with no aid deductible) listed 救助起付线 = 0.00
    from benefits.cases import load_case

    c = load_case(RULES.parent / "tests" / "cases" / "jiangmen" / "jc-18-covid-resident-in-province-l2-2022.yaml")
    t = steps(benefits.evaluate(c.claim, jiangmen, c.accumulators))
    assert "aid_deductible_used" not in t["covid_finance.pay"].inputs and "left" in t["covid_finance.pay"].inputs
    # an aid deductible is shown where the layer has one (Anyang: 1000.00 a year, 500.00 met)
    anyang = benefits.load_rules(RULES / "anyang")
    s = benefits.evaluate(_stay("township", "800.00", "800.00", ["dibao"], days=("2022-03-01", "2022-03-03")),
                          anyang, _acc(medical_aid__deductible_used="500.00"))
    assert steps(s)["medical_aid.pay"].inputs["aid_deductible_used"] == "260.00"


def test_a_ratio_chosen_by_disease_says_the_disease():
    # Anyang's chronic-disease ratio (65%, domain.md 7.2) is chosen by the disease, and the step
    # named only the level and scheme
    anyang = benefits.load_rules(RULES / "anyang")
    c = {"id": "s1", "member": {"id": "m1", "scheme": "employee", "member_type": "in_service", "groups": []},
         "visit": "special_outpatient", "level": "county", "date": "2022-05-01", "diagnoses": ["I10"],
         "bill": {"total": "500.00", "fully_self_paid": "0.00", "over_limit": "0.00", "pre_self_paid": "0.00",
                  "policy_range": "500.00"}}
    t = steps(benefits.evaluate(c, anyang))["basic_special.ratio"]
    assert (t.explain_zh, t.output) == ("基金支付比例（高血压，县级医院，职工）", "65%")
    assert t.inputs == {"disease": "hypertension", "level": "county", "scheme": "employee"}


def test_every_cumulative_step_adds_up_from_the_funds_before_it():
    # Over every case file: a cumulative step's formula is before + (policy-range amount - each fund
    # layer's payout before it, in the pack's order) = after, and its numbers are the settlement's own.
    import re

    from benefits.cases import load_case, rules_dir

    root = RULES.parent / "tests" / "cases"
    packs: dict = {}
    seen = 0
    for path in sorted(root.rglob("*.yaml")):
        case = load_case(path)
        if case.expected.error is not None:
            continue
        folder = rules_dir(case, path, RULES)
        pack = packs.setdefault(folder, benefits.load_rules(folder))
        s = benefits.evaluate(case.claim, pack, case.accumulators)
        paid = [p.paid for p in s.layers if p.applied and p.fund]
        order = [p.layer for p in s.layers if p.applied and p.fund]
        for step in s.trace:
            if not step.step.endswith(".cumulative"):
                continue
            seen += 1
            m = re.fullmatch(r"(\S+) \+ \((.*)\) = (\S+)|(\S+) \+ (\S+) = (\S+)", step.formula)
            assert m, (path.name, step.formula)
            if m[1] is None:  # no fund paid before this layer: the whole policy-range amount is the claim's
                before, amounts, after = Decimal(m[4]), [Decimal(m[5])], Decimal(m[6])
                assert amounts == [s.bill.policy_range] and order.index(step.layer) == 0, (path.name, step.formula)
            else:
                before, amounts, after = Decimal(m[1]), [Decimal(x) for x in m[2].split(" - ")], Decimal(m[3])
                assert amounts[0] == s.bill.policy_range, (path.name, step.formula)
                assert amounts[1:] == paid[:order.index(step.layer)], (path.name, step.formula, paid)
            assert before + amounts[0] - sum(amounts[1:]) == after == Decimal(step.output), (path.name, step.formula)
    assert seen > 40  # most cases have serious illness or secondary aid


def test_the_bill_step_gives_the_default_b_share_only_where_an_item_took_it(jiangmen):
    """Found by an audit of the traces: the step gave the pack's default share (10%) as its input where
    every B item had its own, and a cashier re-doing it with 10% got another pre-self-pay. Jiangmen 2021:
    a B item of 100.00 at its own 20% pre-pays 20.00; a B item of 50.00 at the default 10%, 5.00."""
    own = claim(bill=None, items=[{"id": "b1", "category": "B", "unit_price": "100.00", "self_pay_share": "0.2"}])
    t = steps(benefits.evaluate(own, jiangmen))["bill.split"]
    assert (t.inputs, t.formula) == ({"items": "1"}, "100.00 - 0.00 - 0.00 - 20.00 = 80.00")
    assert t.citations == []
    both = claim(bill=None, items=[{"id": "b1", "category": "B", "unit_price": "100.00", "self_pay_share": "0.2"},
                                   {"id": "b2", "category": "B", "unit_price": "50.00"}])
    t = steps(benefits.evaluate(both, jiangmen))["bill.split"]
    assert (t.inputs, t.formula) == ({"items": "2", "default_b_share": "10%"}, "150.00 - 0.00 - 0.00 - 25.00 = 125.00")


def test_a_ratio_kept_within_100_percent_says_so(tmp_path):
    # found by a red team: 99% + 3 points was written "= 100%" (the engine keeps a ratio within 0%..100%); the
    # bound follows the sum with a comma, as the bands of a group are parted by semicolons
    import shutil

    from benefits.render import formula_text
    from conftest import edit

    folder = tmp_path / "jiangmen"
    shutil.copytree(RULES / "jiangmen", folder)
    edit(folder, "parameters/basic_inpatient.yaml", "{value: 3, source:", "{value: 15, source:")
    edit(folder, "parameters/serious_illness.yaml", "{value: 20, source:", "{value: 35, source:")
    pack = benefits.load_rules(folder)
    retired = {"id": "m1", "scheme": "employee", "member_type": "retired", "groups": []}
    s = benefits.evaluate(claim(member=retired, level="level1"), pack)
    t = steps(s)
    # employee level 1: 90% + 15 points = 105%, kept at 100%: (18500.00 - 300.00) x 100% = 18200.00
    assert t["basic.ratio"].formula == "90% +15 points = 105%, at most 100%"
    assert formula_text(t["basic.ratio"].formula, "zh") == "90% +15 个百分点 = 105%，最高为100%"
    assert t["basic.ratio"].output == "100%" and s.payouts["basic"] == Decimal("18200.00")
    # 特困 bands: 60% + 35 points = 95%; 70% + 35 points = 105%, kept at 100%
    s = benefits.evaluate(claim(member=member("tekun")), pack)
    assert steps(s)["serious_illness.points"].formula == "60% + 35 points = 95%; 70% + 35 points = 105%, at most 100%"
