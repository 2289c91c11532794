"""The synthetic Jiangmen 2021 (benefits.simulate.synthetic), on its 1% sample: every figure the
report states is recomputed here from the settled claims, by code of its own; the fit to the
bulletin holds within what a 1% sample allows; the runner agrees with `benefits.evaluate` claim by
claim; and docs/simulation.md states the figures this sample gives.

Bulletin (seed 000): 246.15万 residents (district rows: 246.13万), 174.19万 employees (rows: 174.20万),
56,365 aid-subsidised members; resident fund spending 256,145万; aid 202,073 / 1,997.34万 (outpatient),
22,062 / 4,877.83万 (inpatient), 18,226 / 761.55万 (secondary). Plan (seed 003): 75%.
"""

from __future__ import annotations

import json
import math
import re
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from conftest import ROOT, RULES

import benefits
from benefits.simulate import synthetic
from benefits.simulate.files import ClaimTable
from benefits.simulate.runner import simulate

SAMPLE = Fraction(1, 100)
# The layers of rules/jiangmen that report to the resident fund (fund_code resident: 390100 basic,
# 390200 serious illness) and to aid (610100, 610102), as the layer files say.
RESIDENT_FUND = ("basic", "basic_outpatient", "basic_special", "basic_covid", "serious_illness")
AID, SECONDARY = "medical_aid", "secondary_aid"
STAYS = ("inpatient", "day_surgery")


@pytest.fixture(scope="module")
def city():
    figs, runs = synthetic.report(SAMPLE, pack_dir=str(RULES / "jiangmen"), keep=True)
    return figs, runs, figs.as_dict()


def wan(fen: Fraction) -> str:
    d = Decimal(fen.numerator) / Decimal(fen.denominator) / Decimal(1_000_000)
    return str(d.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def rows(results, claims: ClaimTable):
    """(member, visit, status, paid by layer, policy range, patient, fund total) per claim."""
    t = results.table
    cols = {c: t.column(c).to_pylist() for c in t.column_names if c.startswith("paid.") or c in
            ("member_id", "status", "policy_range", "patient", "fund_total", "claim_id")}
    visit = claims.table.column("visit").to_pylist()
    for i in range(t.num_rows):
        yield {"member": cols["member_id"][i], "visit": visit[i], "settled": cols["status"][i] == "settled",
               "paid": {c[5:]: cols[c][i] for c in cols if c.startswith("paid.")}, "policy": cols["policy_range"][i],
               "patient": cols["patient"][i], "funds": cols["fund_total"][i], "claim": cols["claim_id"][i]}


def test_the_layers_named_here_are_the_packs_resident_fund_and_aid_layers(jiangmen):
    assert tuple(synthetic.fund_layers(jiangmen, "390100") + synthetic.fund_layers(jiangmen, "390200")) == RESIDENT_FUND
    assert synthetic.fund_layers(jiangmen, "610100") == [AID] and synthetic.fund_layers(jiangmen, "610102") == [SECONDARY]


def test_members_are_the_bulletins(city):
    figs, runs, d = city
    assert d["members"]["residents"] == 2_461_300  # 21.17 + 7.56 + 42.35 + 68.03 + 46.47 + 23.38 + 37.17 = 246.13万
    assert d["members"]["employees"] == 1_742_000  # 3.76 + 44.89 + ... + 10.62 = 174.20万
    assert d["members"]["aid"] == 56_365 == 1475 + 1202 + 8127 + 16648 + 13693 + 5475 + 9745
    for run in runs:
        code, name, employees, residents, aid = next(r for r in synthetic.DISTRICTS if r[1] == run.district.name)
        members = run.district.members
        in_aid = [m for m in members if m["groups"]]
        assert all(m["scheme"] == "resident" for m in in_aid)
        # every 100th member of each stratum: ceil(N / 100) sampled, each standing for N / n
        assert len(in_aid) == math.ceil(aid / 100)
        assert len([m for m in members if m["scheme"] == "resident"]) - len(in_aid) == math.ceil((residents - aid) / 100)
        assert len([m for m in members if m["scheme"] == "employee"]) == math.ceil(employees / 100)
        for stratum, size in (("aid", aid), ("resident", residents - aid), ("employee", employees)):
            ws = [w for m, w in run.district.weight.items() if run.district.stratum[m] == f"{code}:{stratum}"]
            assert sum(ws) == size


def test_every_stated_figure_is_recomputed(city, jiangmen):
    figs, runs, d = city
    spending = {layer: Fraction(0) for layer in RESIDENT_FUND}
    aid = {"outpatient": [Fraction(0), Fraction(0)], "inpatient": [Fraction(0), Fraction(0)],
           "secondary": [Fraction(0), Fraction(0)]}
    stays = [Fraction(0), Fraction(0), Fraction(0)]  # basic, serious illness, policy range
    counts: dict[str, int] = {}
    for run in runs:
        w = run.district.weight
        for res, claims in ((run.r1, run.h1), (run.r2a, run.h2)):
            for r in rows(res, claims):
                assert r["settled"], r  # the synthetic year has no refused claim
                counts[r["visit"]] = counts.get(r["visit"], 0) + 1
                for layer in RESIDENT_FUND:
                    spending[layer] += w[r["member"]] * r["paid"][layer]
                if r["paid"][AID] > 0:
                    k = aid["inpatient" if r["visit"] in STAYS else "outpatient"]
                    k[0] += w[r["member"]]
                    k[1] += w[r["member"]] * r["paid"][AID]
                if r["paid"][SECONDARY] > 0:
                    aid["secondary"][0] += w[r["member"]]
                    aid["secondary"][1] += w[r["member"]] * r["paid"][SECONDARY]
                if r["visit"] in STAYS:
                    stays[0] += w[r["member"]] * (r["paid"]["basic"] + r["paid"]["basic_special"])
                    stays[1] += w[r["member"]] * r["paid"]["serious_illness"]
                    stays[2] += w[r["member"]] * r["policy"]
    assert d["claims"] == dict(sorted(counts.items()))
    assert d["resident_fund_spending_by_layer_wan"] == {k: wan(v) for k, v in spending.items()}
    total = sum(spending.values(), Fraction(0))
    assert d["resident_fund_spending_wan"] == wan(total)
    fit = (Decimal(d["resident_fund_spending_wan"]) / Decimal("256145") - 1) * 100
    assert d["fit_percent"] == str(fit.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    for k, (n, fen) in aid.items():
        assert d["aid"][k]["person_times"] == int(n + Fraction(1, 2))  # whole person-times, halves up
        assert d["aid"][k]["wan"] == wan(fen)
    assert (d["aid"]["outpatient"]["bulletin_person_times"], d["aid"]["outpatient"]["bulletin_wan"]) == (202_073, "1997.34")
    assert (d["aid"]["inpatient"]["bulletin_person_times"], d["aid"]["inpatient"]["bulletin_wan"]) == (22_062, "4877.83")
    assert (d["aid"]["secondary"]["bulletin_person_times"], d["aid"]["secondary"]["bulletin_wan"]) == (18_226, "761.55")

    def pct(x: Fraction) -> str:
        return str((Decimal(x.numerator) / Decimal(x.denominator) * 100).quantize(Decimal("0.01"), ROUND_HALF_UP))

    assert d["resident_inpatient_share_percent"] == {"basic_and_serious_illness": pct((stays[0] + stays[1]) / stays[2]),
                                                     "basic_only": pct(stays[0] / stays[2]), "plan": "75"}
    # the second half: as is (A) minus the counterfactual (B), claim by claim
    change = {"basic": Fraction(0), "serious_illness": Fraction(0), AID: Fraction(0), SECONDARY: Fraction(0),
              "patient": Fraction(0)}
    changed = Fraction(0)
    for run in runs:
        w = run.district.weight
        for a, b in zip(rows(run.r2a, run.h2), rows(run.r2b, run.h2)):
            assert a["claim"] == b["claim"]
            for layer in change:
                if layer == "patient":
                    change[layer] += w[a["member"]] * (a["patient"] - b["patient"])
                else:
                    change[layer] += w[a["member"]] * (a["paid"][layer] - b["paid"][layer])
            # the basic layers other than inpatient do not change (outpatient and 门特 caps are apart)
            for layer in ("basic_outpatient", "basic_covid"):
                assert a["paid"][layer] == b["paid"][layer]
            change["basic"] += w[a["member"]] * (a["paid"]["basic_special"] - b["paid"]["basic_special"])
            changed += w[a["member"]] * (a["funds"] != b["funds"])
    c = d["h2_cost_of_2021_07_01_wan"]
    assert c["390100"] == wan(change["basic"]) and c["390200"] == wan(change["serious_illness"])
    assert c["resident_fund"] == wan(change["basic"] + change["serious_illness"])
    assert c["610100"] == wan(change[AID]) and c["610102"] == wan(change[SECONDARY]) and c["patient"] == wan(change["patient"])
    assert d["h2_claims_changed"] == int(changed + Fraction(1, 2))
    # each change alone: as is minus the pack with only that parameter's 2021-07-01 value undone
    alone = {}
    for run in runs:
        w = run.district.weight
        for name, res in run.r2_only.items():
            for a, b in zip(rows(run.r2a, run.h2), rows(res, run.h2)):
                alone[name] = alone.get(name, Fraction(0)) + w[a["member"]] * sum(
                    a["paid"][layer] - b["paid"][layer] for layer in RESIDENT_FUND)
    assert sorted(alone) == ["basic.annual_cap.resident", "inpatient.ratio[resident][level2]"]
    assert d["h2_resident_fund_cost_of_each_change_alone_wan"] == {k: wan(v) for k, v in alone.items()}
    assert d["h1_identical"] is True
    assert d["counterfactual"] == [["basic.annual_cap.resident", "300000.00", "200000.00"],
                                   ["inpatient.ratio[resident][level2]", "80%", "75%"]]


def test_the_fit_holds_within_what_a_1_percent_sample_allows(city):
    """The full-size city is fitted within 1% of 256,145万 (docs/simulation.md); a 1% sample estimates
    it with a standard error, recomputed here: stratified, without replacement, per-member totals."""
    figs, runs, d = city
    var = Fraction(0)
    for run in runs:
        per: dict[str, int] = {}
        for res, claims in ((run.r1, run.h1), (run.r2a, run.h2)):
            for r in rows(res, claims):
                per[r["member"]] = per.get(r["member"], 0) + sum(r["paid"][layer] for layer in RESIDENT_FUND)
        for stratum in ("aid", "resident"):
            ms = [m for m, s in run.district.stratum.items() if s.endswith(":" + stratum)]
            n, big = len(ms), run.district.weight[ms[0]] * len(ms)
            ys = [per.get(m, 0) for m in ms]
            s2 = Fraction(n * sum(y * y for y in ys) - sum(ys) ** 2, n * (n - 1))  # the same variance, another formula
            var += big * big * (1 - n / big) * s2 / n
    se = (Decimal(var.numerator) / Decimal(var.denominator)).sqrt().quantize(Decimal(1))
    assert d["standard_error_wan"] == wan(Fraction(int(se)))
    tolerance = Decimal(1) + 3 * se / Decimal(1_000_000) / Decimal(256145) * 100
    assert d["fit_tolerance_percent"] == str(tolerance.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    assert abs(Decimal(d["fit_percent"])) <= Decimal(d["fit_tolerance_percent"])
    assert Decimal(d["fit_tolerance_percent"]) < 15  # a 1% sample pins the spending to a few percent


def test_the_runner_settles_as_benefits_evaluate_does_claim_after_claim(city, jiangmen):
    """The first 150 members with claims of 江海: their whole year, settled here one claim after
    another with benefits.evaluate (accumulators carried by hand), as the runner settled it."""
    figs, runs, d = city
    run = next(r for r in runs if r.district.name == "江海")
    by_id = {}
    for res, claims in ((run.r1, run.h1), (run.r2a, run.h2)):
        for r in rows(res, claims):
            by_id[r["claim"]] = r
    members = {m["member_id"]: m for m in run.district.members}
    claims_of: dict[str, list[dict]] = {}
    for c in run.district.claims:
        claims_of.setdefault(c["member_id"], []).append(c)
    checked = 0
    for mid in sorted(claims_of)[:150]:
        m = members[mid]
        member = {"id": mid, "scheme": m["scheme"], "member_type": m["member_type"], "groups": m["groups"], "age": m["age"]}
        day = lambda c: c["discharge_date"] or c["date"]  # noqa: E731
        acc = None
        for c in sorted(claims_of[mid], key=lambda c: (day(c), c["claim_id"])):
            doc = {"id": c["claim_id"], "member": member, "visit": c["visit"], "level": c["level"],
                   "diagnoses": [c["diagnosis"]],
                   "bill": {k: str(Decimal(c[k]) / 100) for k in ("total", "fully_self_paid", "over_limit",
                                                                  "pre_self_paid", "policy_range")}}
            if c["visit"] in STAYS:
                doc["admission_date"], doc["discharge_date"] = str(c["admission_date"]), str(c["discharge_date"])
            else:
                doc["date"] = str(c["date"])
            s = benefits.evaluate(doc, jiangmen, acc, trace=False)
            got = by_id[c["claim_id"]]
            assert {k: int(v * 100) for k, v in s.payouts.items()} == got["paid"], c["claim_id"]
            assert int(s.patient.total * 100) == got["patient"]
            acc = s.accumulators_after
            checked += 1
    assert checked > 300


def test_the_first_half_settles_alike_under_the_counterfactual(city, jiangmen, tmp_path):
    figs, runs, d = city
    run = next(r for r in runs if r.district.name == "鹤山")
    import datetime as dt
    from benefits.simulate.compare import pack_without_change

    folder, _ = pack_without_change(RULES / "jiangmen", tmp_path / "jiangmen", dt.date(2021, 7, 1), "test")
    cf = benefits.load_rules(folder)
    again = simulate(cf, str(folder), run.h1, run.members, year=2021)
    assert again.table.drop_columns(["engine"]).equals(run.r1.table.drop_columns(["engine"]))


def test_a_members_year_is_the_same_in_every_sample():
    small = synthetic.district(2, Fraction(1, 1000))  # 江海
    large = synthetic.district(2, Fraction(1, 100))
    ids = {m["member_id"] for m in small.members}
    assert ids <= {m["member_id"] for m in large.members}
    assert [c for c in large.claims if c["member_id"] in ids] == small.claims


def test_docs_state_the_figures_of_this_sample(city):
    """docs/simulation.md carries the 1% sample's figures; a change to the generator or the engine
    that moves them must update the docs too."""
    figs, runs, d = city
    text = (ROOT / "docs" / "simulation.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- 1% sample figures -->\s*```json\n(.*?)```", text, re.S)
    assert block, "docs/simulation.md has the 1% sample's figures in a ```json block after <!-- 1% sample figures -->"
    assert json.loads(block.group(1)) == json.loads(json.dumps(d))
