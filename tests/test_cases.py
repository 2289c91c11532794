"""Every case file under tests/cases/ is its own test (expected values are hand-computed)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

import benefits
from benefits.cases import check_case, format_mismatches, load_case, rules_dir

from conftest import RULES

CASES = Path(__file__).parent / "cases"
FILES = sorted(p for p in CASES.rglob("*.yaml"))


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
