"""The trace steps a cashier needs to redo a claim by hand (issue 18): the diagnosis and its disease
list, each group modifier's arithmetic, the version chosen; refusals that name the offending value;
the warning when no accumulators are given. Numbers are hand-computed from domain.md 7.1."""

from __future__ import annotations

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
    assert not {"serious_illness.deductible", "serious_illness.points", "serious_illness.cap"} & set(steps(s))


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
    assert t.explain_zh == "按结算日期2021年3月10日，适用2021年1月1日起施行的政策"
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
