"""Hostile rule packs, round two: a pack reads only its own regular files, quotes little of a bad
value, and derives bounded tables (docs/guarantees.md G8, G9)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import benefits
from benefits.errors import EXCERPT, RuleFileError
from benefits.rules.loader import MAX_IN_FORCE, MAX_PACK_BYTES, MAX_VERSIONS

ROOT = Path(__file__).resolve().parents[1]
MINI = ROOT / "examples" / "rules" / "mini"
SECRET = "API_TOKEN: s3cr3t-value-that-must-not-leak\n"


@pytest.fixture
def mini(tmp_path) -> Path:
    dest = tmp_path / "packs" / "mini"
    shutil.copytree(MINI, dest)
    return dest


def problems(pack: Path) -> list[str]:
    with pytest.raises(RuleFileError) as exc:
        benefits.load_rules(pack, matcher="reference")
    return [str(p) for p in exc.value.problems]


# --- 8. links that leave the pack ------------------------------------------------------------------


@pytest.mark.parametrize("rel", ["layers/outpatient.yaml", "parameters/outpatient.yaml", "pack.yaml"])
def test_a_link_out_of_the_pack_is_refused_and_its_target_never_quoted(mini, tmp_path, rel):
    secret = tmp_path / "secrets.yaml"
    secret.write_text(SECRET, encoding="utf-8")
    (mini / rel).unlink()
    (mini / rel).symlink_to(secret)
    found = problems(mini)
    assert f"mini/{rel}: is a link to a file outside the pack's folder; a pack reads only its own files" in found
    assert not any("s3cr3t" in p or "API_TOKEN" in p for p in found), found


def test_a_link_to_a_system_file_is_refused(mini):
    (mini / "layers" / "outpatient.yaml").unlink()
    (mini / "layers" / "outpatient.yaml").symlink_to("/etc/passwd")
    found = problems(mini)
    assert found == ["mini/layers/outpatient.yaml: is a link to a file outside the pack's folder; a pack reads only its own files"]


def test_a_linked_folder_out_of_the_pack_is_refused(mini, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    shutil.move(mini / "parameters", elsewhere)
    (mini / "parameters").symlink_to(elsewhere, target_is_directory=True)
    assert "mini/parameters/outpatient.yaml: is a link to a file outside the pack's folder; a pack reads only its own files" in problems(mini)


def test_a_link_inside_the_pack_is_followed(mini):
    shared = mini / "shared"
    shared.mkdir()
    shutil.move(mini / "layers" / "outpatient.yaml", shared / "outpatient.yaml")
    (mini / "layers" / "outpatient.yaml").symlink_to(Path("..") / "shared" / "outpatient.yaml")
    assert [l.id for l in benefits.load_rules(mini, matcher="reference").layers] == ["outpatient"]


def test_a_bad_value_is_quoted_by_its_type_or_a_short_excerpt(mini):
    path = mini / "layers" / "outpatient.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("citation: \"example only\"", "citation: {API_TOKEN: s3cr3t-value}")
                    .replace("id: outpatient\n", "id: outpatient\nkind2: " + "k" * 200 + "\n"), encoding="utf-8")
    found = problems(mini)
    assert any(p.endswith("[citation]: Input should be a valid string (got a mapping)") for p in found), found
    assert not any("s3cr3t" in p for p in found)
    long = [p for p in found if "kkk" in p]
    assert all("k" * (EXCERPT + 1) not in p for p in long)


# --- 9. files that are not regular files ------------------------------------------------------------


def _load_in_a_child(pack: Path) -> subprocess.CompletedProcess:
    code = ("import benefits, sys\n"
            "try:\n    benefits.load_rules(sys.argv[1], matcher='reference')\n"
            "except benefits.RuleFileError as e:\n    print(e)\n")
    return subprocess.run([sys.executable, "-c", code, str(pack)], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("rel", ["pack.yaml", "parameters/outpatient.yaml", "parameters/extra.yaml"])
def test_a_fifo_in_a_pack_is_refused_at_once(mini, rel):
    path = mini / rel
    if path.exists():
        path.unlink()
    os.mkfifo(path)
    out = _load_in_a_child(mini)  # a hang would end the child at the timeout and fail the test
    assert f"mini/{rel}: not a regular file (a FIFO, device or socket is not read)" in out.stdout, out


def test_a_link_to_stdin_is_refused_at_once(mini):
    (mini / "parameters" / "outpatient.yaml").unlink()
    (mini / "parameters" / "outpatient.yaml").symlink_to("/dev/stdin")
    out = _load_in_a_child(mini)
    assert "mini/parameters/outpatient.yaml: is a link to a file outside the pack's folder" in out.stdout, out


# --- 7. what a pack derives -------------------------------------------------------------------------


def _versions(mini: Path, n: int) -> None:
    import datetime as dt

    days = [dt.date(2022, 1, 1) + dt.timedelta(days=i) for i in range(n)]
    path = mini / "pack.yaml"
    text = path.read_text(encoding="utf-8").replace("versions: [2022-01-01]", f"versions: [{', '.join(map(str, days))}]")
    path.write_text(text.replace("valid_until: 2022-12-31", f"valid_until: {days[-1] + dt.timedelta(days=365)}"),
                    encoding="utf-8")


def test_too_many_versions_are_refused(mini):
    _versions(mini, MAX_VERSIONS + 1)
    assert any(p.startswith("mini/pack.yaml:") and p.endswith(f"{MAX_VERSIONS + 1} versions; a pack has at most {MAX_VERSIONS}")
               for p in problems(mini))


def test_the_table_of_values_in_force_is_bounded(mini):
    n_versions = 300
    _versions(mini, n_versions)
    import datetime as dt

    # parameters that change on different dates: the table keeps every parameter on every such date
    per = MAX_IN_FORCE // n_versions + 1
    lines = []
    for i in range(per):
        lines.append(f"filler.p{i}:\n  description: {{zh: 填充, en: filler}}\n  unit: yuan\n  values:")
        lines += [f"    {dt.date(2022, 1, 1) + dt.timedelta(days=d)}: {{value: 1.00, source: 'assumed: test'}}"
                  for d in (0, 1 + i % (n_versions - 1))]
    (mini / "parameters" / "filler.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = problems(mini)
    assert any("values in force to keep, more than" in p and p.startswith("mini/pack.yaml:") for p in found), found[:3]


def test_the_check_of_band_order_across_versions_is_bounded(tmp_path):
    # every band row is checked on every date a value it reads changes: distinct rows over 400
    # versions took seconds to check, so the work is bounded like the table of values in force
    import datetime as dt

    from benefits.kinds.cumulative_bands import MAX_ORDER_CHECKS

    pack = tmp_path / "jiangmen"
    shutil.copytree(ROOT / "rules" / "jiangmen", pack)
    days = [dt.date(2021, 1, 1) + dt.timedelta(days=i) for i in range(MAX_VERSIONS)]
    rows = MAX_ORDER_CHECKS // len(days)  # one deductible and `rows` band starts on every day: just above
    meta = pack / "pack.yaml"
    meta.write_text(meta.read_text(encoding="utf-8").replace(
        "versions: [2021-01-01, 2021-07-01, 2022-01-01]", f"versions: [{', '.join(map(str, days))}]"), encoding="utf-8")
    params = pack / "parameters" / "serious_illness.yaml"
    first = '    2021-01-01: {value: 10000.00, source: "seed 003: 大病保险起赔标准降为 1万元 (domain.md section 7.1)"}\n'
    text = params.read_text(encoding="utf-8")
    assert first in text
    text = text.replace(first, first + "".join(f"    {d}: {{value: {10000 + i}.00, source: 'assumed: test'}}\n"
                                               for i, d in enumerate(days[1:], 1)))
    text += "".join(f"start.s{i}:\n  description: {{zh: x, en: x}}\n  unit: yuan\n  values:\n"
                    f"    2021-01-01: {{value: {200000 + i}.00, source: 'assumed: test'}}\n" for i in range(rows))
    params.write_text(text, encoding="utf-8")
    layer = pack / "layers" / "serious_illness.yaml"
    layer.write_text(layer.read_text(encoding="utf-8").replace("caps:\n", "".join(
        f"  - bands: [{{ratio: serious_illness.resident.band1_ratio}}, {{start: start.s{i}, ratio: serious_illness.resident.band2_ratio}}]\n"
        for i in range(rows)) + "caps:\n", 1), encoding="utf-8")
    each = 2 + rows  # the deductible with the starts of each band row: the pack's two and each new one
    assert len(days) * each > MAX_ORDER_CHECKS
    found = problems(pack)
    line = layer.read_text(encoding="utf-8").splitlines().index("bands:") + 1
    assert found == [f"jiangmen/layers/serious_illness.yaml:{line} [bands]: the order of the bands would be checked "
                     f"{len(days) * each:,} times, more than {MAX_ORDER_CHECKS:,}: {each} combinations of a deductible and "
                     f"band starts on each of the {len(days)} dates their values change on; use fewer band rows or "
                     "versions"], found


def test_a_pack_larger_than_its_budget_is_not_read_further(mini):
    filler = "# " + "x" * 1000 + "\n"
    for i in range(MAX_PACK_BYTES // 2_900_000 + 1):
        (mini / "parameters" / f"big{i}.yaml").write_text(filler * 2_900, encoding="utf-8")
    found = problems(mini)
    assert any(p.endswith(f"not read: the pack's files take more than {MAX_PACK_BYTES:,} bytes in all") for p in found)


# --- days a pack covers ---------------------------------------------------------------------------


def test_a_claim_past_the_years_of_accumulators_is_a_claim_error_not_a_validation_error(mini):
    # The loader refuses a pack covering such a day; a pack whose versions were changed after loading
    # (or made some other way) still gives a ClaimError at the claim's date, not pydantic's ValidationError
    # for accumulators the caller never gave.
    import datetime as dt

    from benefits.rules.pack import Version

    rules = benefits.load_rules(mini, matcher="reference")
    last = rules.versions[-1]
    rules.versions = rules.versions[:-1] + (Version(last.start, dt.date(2201, 12, 31)),)
    claim = {"id": "c", "member": {"id": "m", "scheme": "employee"}, "visit": "general_outpatient", "level": "clinic",
             "date": "2201-03-05", "bill": {"total": "10.00", "fully_self_paid": "0", "over_limit": "0",
                                            "pre_self_paid": "0", "policy_range": "10.00"}}
    with pytest.raises(benefits.ClaimError) as exc:
        benefits.evaluate(claim, rules)
    assert [(p.path, p.message) for p in exc.value.problems] == [
        (("claim", "date"), "2201-03-05 is outside the years accumulators are kept for, 1900 to 2200")]


# --- line breaks only YAML sees ---------------------------------------------------------------------

JIANGMEN = ROOT / "rules" / "jiangmen"
def jiangmen_edited(tmp_path: Path, rel: str, before: str, after: str) -> tuple[Path, int]:
    """A copy of the Jiangmen pack with `before` (found once in `rel`) replaced by `after`, and the line
    `before` starts on."""
    pack = tmp_path / "jiangmen"
    shutil.copytree(JIANGMEN, pack)
    path = pack / rel
    text = path.read_text(encoding="utf-8")
    assert text.count(before) == 1
    path.write_text(text.replace(before, after), encoding="utf-8", newline="")
    return pack, text[:text.index(before)].count("\n") + 1


RATIO_LINE = ('        2021-01-01: {value: 65%, source: "seed 001: 参保人在三级定点医疗机构住院基金支付比例为65% '
              '(domain.md section 7.1)"}\n')


@pytest.mark.parametrize("rel, before, hidden", [
    # found by a red team: a resident's level-3 ratio of 65% read as 6% from 2021-07-01 (basic 5,850.00 paid
    # as 540.00), the file still 77 lines to `wc -l` and one changed line to `git diff`
    ("parameters/basic_inpatient.yaml", RATIO_LINE,
     '   # unchanged since 2021\x85        2021-07-01: {value: 6%, source: "seed 001: x"}'),
    # and residents given the retired members' 3 points (65% paid as 68%)
    ("layers/basic.yaml", "  - {when: region == out_of_province and not filed, points: inpatient.ratio.unfiled_cross_province}\n",
     "   # residents: see 7.1\u2028  - {when: scheme == resident, points: inpatient.ratio.retired_bonus}"),
    ("layers/basic.yaml", "  - {when: region == out_of_province and not filed, points: inpatient.ratio.unfiled_cross_province}\n",
     "   # residents: see 7.1\u2029  - {when: scheme == resident, points: inpatient.ratio.retired_bonus}"),
    # a carriage return alone: a terminal prints the rest of the line over its start
    ("layers/basic.yaml", "  - {when: region == out_of_province and not filed, points: inpatient.ratio.unfiled_cross_province}\n",
     "   # residents: see 7.1\r  - {when: scheme == resident, points: inpatient.ratio.retired_bonus}"),
])
def test_a_line_break_editors_do_not_show_is_refused_where_it_is(tmp_path, rel, before, hidden):
    pack, line = jiangmen_edited(tmp_path, rel, before, before[:-1] + hidden + "\n")
    # (a parameter file that cannot be read leaves the references to its parameters unresolved as well)
    [problem] = [p for p in problems(pack) if "line break" in p]
    column = len(before) + next(i for i, c in enumerate(hidden) if c in "\x85\u2028\u2029\r")
    assert problem.startswith(f"jiangmen/{rel}:{line}: column {column}: ")
    assert "which YAML reads as a line break and editors and diffs do not show as one" in problem
    # CRLF line ends are one line break to both, and an escape in a double-quoted string is text
    text = (JIANGMEN / rel).read_text(encoding="utf-8")
    (pack / rel).write_text(text.replace("\n", "\r\n").replace("seed 001: x", "seed 001: \\u2028"), encoding="utf-8",
                            newline="")
    benefits.load_rules(pack, matcher="reference")


def test_a_claim_file_with_a_hidden_line_break_is_refused_with_its_line(tmp_path):
    claim = (ROOT / "examples" / "resident-level3-inpatient.yaml").read_text(encoding="utf-8")
    assert claim.count("\nlevel: level3\n") == 1
    line = claim[:claim.index("\nlevel: level3\n")].count("\n") + 2
    path = tmp_path / "claim.yaml"
    path.write_text(claim.replace("\nlevel: level3\n", "\nlevel: level3  # as billed\x85level: level1\n"),
                    encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "benefits", "calc", str(path), "--rules", str(JIANGMEN)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stdout
    assert f"claim.yaml:{line}: column 27: U+0085 (NEXT LINE), which YAML reads as a line break" in r.stderr


# --- a key left empty ---------------------------------------------------------------------------------


@pytest.mark.parametrize("rel, before, after, key", [
    # found by a red team: the resident cap emptied of its `when:` bound employees too (an employee's basic fund
    # paid 300,000.00 where 424,320.00 was due); with `~` or `null` alike
    ("layers/basic.yaml", "{id: annual, when: scheme == resident,", "{id: annual, when: ,", "when"),
    ("layers/basic.yaml", "{id: annual, when: scheme == resident,", "{id: annual, when: ~,", "when"),
    # medical aid at 100% for a resident in no aid group
    ("layers/medical_aid.yaml", "{id: tekun, when: groups has tekun or groups has guer,", "{id: tekun, when: null,",
     "when"),
    # an annual cap without its counter is a cap per claim
    ("layers/basic.yaml", "value: basic.annual_cap.resident, counter: basic.annual}",
     "value: basic.annual_cap.resident, counter: }", "counter"),
])
def test_a_key_left_empty_is_refused_not_read_as_left_out(tmp_path, rel, before, after, key):
    pack, line = jiangmen_edited(tmp_path, rel, before, after)
    [problem] = problems(pack)
    assert problem.startswith(f"jiangmen/{rel}:{line} [")
    assert problem.endswith(f"`{key}:` is null (written with nothing after it, ~ or null); give it a value, or "
                            "leave the key out")


def test_every_key_left_empty_in_a_mapping_is_named(tmp_path):
    pack, line = jiangmen_edited(tmp_path, "layers/basic.yaml", "{id: annual, when: scheme == resident,",
                                 "{id: annual, when: , value: , counter: ~}  #")
    assert problems(pack) == [f"jiangmen/layers/basic.yaml:{line} [caps.0]: `when:`, `value:`, `counter:` are null "
                              "(written with nothing after them, ~ or null); give each a value, or leave the keys out"]


@pytest.mark.parametrize("before, after, where", [
    # found by a red team: `disease == none` (meant: a claim in no list) read as this list too, and the other
    # way round: a fracture (S72.0, in no list) got the 3 points a retired member's condition on it gave
    ("  uraemia: [N18]\n", "  uraemia: [N18]\n  none: [J45]\n", "[diseases.none"),
    ("services: [prenatal_care, termination, iud]", "services: [prenatal_care, termination, iud, none]", "[services.3"),
])
def test_a_disease_list_or_service_named_none_is_refused(tmp_path, before, after, where):
    pack, _ = jiangmen_edited(tmp_path, "pack.yaml", before, after)
    [problem] = problems(pack)
    assert problem.startswith("jiangmen/pack.yaml:") and where in problem
    assert "'none' is what conditions read for a claim in no disease list, or naming no service" in problem


def _with_services(pack: Path, names: list[str]) -> Path:
    path = pack / "pack.yaml"
    text = path.read_text(encoding="utf-8")
    before = "services: [prenatal_care, termination, iud]"
    assert text.count(before) == 1
    path.write_text(text.replace(before, f"services: [prenatal_care, termination, iud, {', '.join(names)}]"),
                    encoding="utf-8")
    return pack


def test_the_lists_of_pack_yaml_are_checked_for_repeats_in_linear_time(tmp_path):
    # found by a red team: each name was counted in the whole list, and a valid pack of 150,000 services
    # (1.2 MB, well within the bounds) took 457 s to load, at every `calc`. Timed against itself: eight
    # times the names takes about eight times as long now (a fixed part of the load aside), 64 times before.
    def seconds(n: int) -> float:
        pack = tmp_path / f"s{n}"
        shutil.copytree(JIANGMEN, pack)
        _with_services(pack, [f"s{i}" for i in range(n)])
        start = time.process_time()
        benefits.load_rules(pack, matcher="reference")
        return time.process_time() - start

    seconds(1_000)  # warm
    assert seconds(80_000) < 16 * seconds(10_000)
    # and each name listed twice is named, the first ten of them
    pack = _with_services(shutil.copytree(JIANGMEN, tmp_path / "twice"), [f"s{i % 50_000}" for i in range(100_000)])
    [problem] = problems(pack)
    assert problem.endswith("[services]: listed more than once: s0, s1, s10, s100, s1000, s10000, s10001, s10002, "
                            "s10003, s10004 and 49,990 more")


@pytest.mark.parametrize("before, after, where, words", [
    # found by a red team: each loaded, and the settlement's setlinfo went wrong while its amounts stayed right:
    # serious illness paid 15,590.97 under a field of its own (hifmi_pay read 0.00)...
    ("resident: hifmi_pay", "resident: hifp_pya", "[platform_field.resident",
     "expected 'hifp_pay', 'hifmi_pay', 'hifob_pay', 'cvlserv_pay', 'maf_pay', 'oth_pay' or 'acct_pay', got 'hifp_pya'"),
    # ... or under none, and the funds of the block no longer added up to fund_pay_sumamt
    ("platform_field: {employee: hifob_pay, resident: hifmi_pay}", "platform_field: {employee: hifob_pay}",
     "[platform_field", "no field for resident members, whom the layer's `when:` can pay"),
    # a letter O for a zero went into setldetail as the fund's code
    ('resident: "390200"', 'resident: "39O200"', "[fund_code.resident", "a fund code of six digits, such as 390100"),
])
def test_a_layer_names_a_platform_field_and_fund_code_the_platform_has(tmp_path, before, after, where, words):
    pack, line = jiangmen_edited(tmp_path, "layers/serious_illness.yaml", before, after)
    [problem] = problems(pack)
    assert problem.startswith(f"jiangmen/layers/serious_illness.yaml:{line} {where}") and words in problem


def test_a_layer_for_one_schemes_member_types_needs_no_field_for_the_other(mini):
    # found by a red team: refused, "no field for resident members", though a retired member is an employee
    path = mini / "layers" / "outpatient.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("when: visit == general_outpatient\n",
                                 "when: visit == general_outpatient and member_type == retired\n")
                        .replace('fund_code: {employee: "310100", resident: "390100"}', 'fund_code: {employee: "310100"}')
                        .replace("platform_field: {employee: hifp_pay, resident: hifp_pay}", "platform_field: {employee: hifp_pay}"),
                    encoding="utf-8")
    assert benefits.load_rules(mini, matcher="reference").layers[0].platform_field == {"employee": "hifp_pay"}


def test_a_fund_is_not_paid_into_the_accounts_field(tmp_path):
    # found by a red team: setlinfo's acct_pay is the account's payment, and the basic fund's 40,435.23 named
    # there was in no field (hifp_pay and acct_pay 0.00, fund_pay_sumamt 61,371.68)
    before = "platform_field: {employee: hifp_pay, resident: hifp_pay}"
    pack, line = jiangmen_edited(tmp_path, "layers/basic.yaml", before, "platform_field: {employee: hifp_pay, resident: acct_pay}")
    assert problems(pack) == [f"jiangmen/layers/basic.yaml:{line} [platform_field.resident]: acct_pay is the personal "
                              "account's payment, which is not a fund's; name the fund's field (hifp_pay, maf_pay, ...)"]
    before = "platform_field: {employee: acct_pay}"
    pack, line = jiangmen_edited(tmp_path / "2", "layers/personal_account.yaml", before, "platform_field: {employee: hifp_pay}")
    assert problems(pack) == [f"jiangmen/layers/personal_account.yaml:{line} [platform_field.employee]: a personal "
                              "account's payment is acct_pay in setlinfo"]


def test_a_layer_whose_condition_is_wrong_is_told_that_alone(tmp_path):
    # a `when:` that does not parse holds for no claim: "no field for resident members" followed it
    before = "when: visit == maternity and scheme == employee\n"
    pack, _ = jiangmen_edited(tmp_path, "layers/maternity.yaml", before, before[:-1] + "e\n")
    [problem] = problems(pack)
    assert "'employeee' is not a value of 'scheme'" in problem
