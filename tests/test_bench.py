"""bench/ stays runnable, and its hand-written baseline keeps agreeing with the engine.

`bench/baseline.py` settles Jiangmen 2022 stays directly from domain.md (its own reading, with
hard-coded parameters), so agreeing with it on generated claims is a differential test of the
engine as well as a check that the benchmark measures correct work."""

import sys
from pathlib import Path

import pytest

import benefits
from conftest import RULES

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import baseline  # noqa: E402
import generate  # noqa: E402


@pytest.fixture(scope="module")
def pack():
    return benefits.load_rules(RULES / "jiangmen")


@pytest.mark.parametrize("batch", ["check", "headline"])
def test_the_baseline_and_the_engine_agree_claim_by_claim(pack, batch):
    cases = generate.check_batch(150) if batch == "check" else generate.headline_batch(60)
    compared, bad = baseline.compare(cases, pack)
    assert compared == len(cases)
    assert not bad, baseline.describe(bad[0])


def test_the_generated_batches_are_reproducible_and_settle(pack):
    first, again = generate.mixed_batch(40), generate.mixed_batch(40)
    assert [c.claim for c in first] == [c.claim for c in again]
    packs = {"jiangmen": pack, "anyang": benefits.load_rules(RULES / "anyang")}
    for case in first:
        s = benefits.evaluate(case.claim, packs[case.pack], case.accumulators)
        assert s.fund_total + s.patient.total == s.bill.total


def test_the_profiling_and_counting_scripts_run(capsys):
    import hotspots

    assert hotspots.main(["-n", "5", "--top", "3", "--no-trace"]) == 0
    assert "5 headline claims, models, trace off" in capsys.readouterr().out
    import instructions  # needs valgrind to run; importing checks it is intact

    assert callable(instructions.main)
