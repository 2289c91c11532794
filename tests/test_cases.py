"""Every case file under tests/cases/ is its own test (expected values are hand-computed)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

import benefits
from benefits.cases import case_files, check_case, format_mismatches, load_case, rules_dir

from conftest import RULES

CASES = Path(__file__).parent / "cases"
FILES = case_files(CASES)  # as `benefits check` finds them: a case saved as .yml was passed over


@lru_cache(maxsize=None)
def _pack(path: str):
    return benefits.load_rules(path)


def test_there_are_enough_cases():
    assert len(FILES) >= 30


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(CASES)) for p in FILES])
def test_case(path: Path):
    case = load_case(path)
    mismatches = check_case(case, _pack(str(rules_dir(case, path, RULES))))
    if mismatches:
        pytest.fail(f"{path.name}: {case.description}\n{format_mismatches(mismatches)}", pytrace=False)


def test_the_suite_runs_the_case_files_benefits_check_runs(tmp_path):
    """Found by a red team: a case saved as .yml was run by `benefits check` but passed over here, so a
    wrong expected value in one passed CI."""
    for name in ("a.yaml", "b/c.yml", "d.txt", "e.yaml.bak"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x: 1\n")
    assert [p.relative_to(tmp_path).as_posix() for p in case_files(tmp_path)] == ["a.yaml", "b/c.yml"]


def test_an_expected_refusal_is_a_problem_at_its_path_whose_message_begins_with_its_words():
    """Found by red teams: the words were looked for anywhere in the whole message, so a refusal at
    another field, or words from the middle of another problem, passed."""
    from benefits.errors import ClaimError, ClaimProblem
    from benefits.cases import refused_as

    refused = ClaimError([ClaimProblem(("claim", "visit"), "pack 'anyang' does not cover visit kind 'maternity'"),
                          ClaimProblem(("accumulators", "counters", "basic.annual"), "1.00 is above the most cap")])
    assert refused_as(refused, "claim.visit: pack 'anyang' does not cover visit kind 'maternity'")
    assert refused_as(refused, "accumulators.counters.basic.annual: 1.00 is above")
    assert not refused_as(refused, "claim.visit: does not cover")  # words from the middle
    assert not refused_as(refused, "claim.level: pack 'anyang' does not cover")  # another field
    whole = ClaimError("basic: no ratio row of 'mini' applies to this claim")  # a problem of the claim as a whole
    assert refused_as(whole, "claim: basic: no ratio row of 'mini' applies")
    assert not refused_as(whole, "claim.visit: basic: no ratio row")
