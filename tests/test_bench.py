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
import baseline_fen  # noqa: E402
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
    import stages

    assert stages.main(["-n", "5"]) == 0
    out = capsys.readouterr().out
    for stage in stages.STAGES + ("evaluate (whole)",):
        assert out.count(f"  {stage}") == 2, stage  # 50 lines and pre-split
    assert "target (c) >= 0.5x leaves" in out


def test_the_cold_floor_stub_runs_calc_shaped():
    import cold_floor
    from typer.testing import CliRunner

    root = BENCH.parent
    r = CliRunner().invoke(cold_floor.app, [str(root / "examples" / "resident-level3-inpatient.yaml"),
                                            "--rules", str(RULES / "jiangmen"), "--lang", "en"])
    assert r.exit_code == 0, r.output
    assert r.output.split()[-2:] == ["example-001", "inpatient"]


@pytest.mark.parametrize("batch", ["check", "headline"])
def test_the_integer_fen_baseline_agrees_with_the_decimal_one(batch):
    cases = generate.check_batch(150) if batch == "check" else generate.headline_batch(60)
    assert baseline_fen.disagreements(cases) == []


def test_the_integer_fen_split_rounds_halves_up_per_item():
    items = baseline_fen.parse_items([
        # 0.05 x 0.1 = 0.005 -> 0.01 (half up; banker's would give 0.00)
        {"id": "1", "category": "A", "unit_price": "0.05", "quantity": "0.1"},
        # 0.10 x 1 = 0.10; B at share 0.15: 0.015 -> 0.02 pre-self-paid
        {"id": "2", "category": "B", "unit_price": "0.10", "quantity": "1", "self_pay_share": "0.15"},
        # 12.00 x 3 = 36.00, standard 10.00: over (12.00 - 10.00) x 3 = 6.00;
        # default share 0.10 of 36.00 - 6.00 = 3.00
        {"id": "3", "category": "B", "unit_price": "12.00", "quantity": "3", "payment_standard": "10.00"},
        {"id": "4", "category": "C", "unit_price": "7.50", "quantity": "2"},  # 15.00 fully self-paid
    ])
    # total 1 + 10 + 3600 + 1500 = 5111 fen; policy 5111 - 1500 - 600 - (2 + 300) = 2709
    assert baseline_fen.split_bill(items) == (5111, 1500, 600, 302, 2709)
    with pytest.raises(ValueError, match="whole number of fen"):
        baseline_fen.parse_items([{"id": "x", "category": "A", "unit_price": "0.001"}])


def test_both_baselines_settle_parsed_items_as_they_settle_dicts():
    for case in generate.headline_batch(5):
        claim, acc = case.claim, case.accumulators
        assert baseline.settle(claim, acc, baseline.parse_items(claim["items"])) == baseline.settle(claim, acc)
        assert baseline_fen.settle(claim, acc, baseline_fen.parse_items(claim["items"])) == baseline_fen.settle(claim, acc)


def test_the_service_benchmark_runs_end_to_end(tmp_path):
    # Its warm-up batch and its timed batch shared claim ids, which the ledger settles once whoever's
    # they are: every run stopped at the first 409 and printed no figure.
    import json
    import subprocess

    out = tmp_path / "figures.json"
    run = subprocess.run([sys.executable, str(BENCH / "service.py"), "--settles", "60", "--serial", "20",
                          "--members", "20", "--clients", "3", "--json", str(out)],
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert figures["http_settle_sqlite"]["n"] == 60 and figures["http_calculate"]["n"] == 60
    assert figures["ledger_settle_sqlite"]["n"] == 20 and figures["evaluate_trace_on"]["n"] == 20


def test_the_generator_stops_quietly_when_its_reader_does():
    import subprocess

    proc = subprocess.Popen([sys.executable, str(BENCH / "generate.py"), "--kind", "mixed", "-n", "3000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.read(300)  # a reader that stops early, as `| head -c 300` does
    proc.stdout.close()
    assert proc.wait(timeout=120) == 1
    assert proc.stderr.read() == b""  # was a BrokenPipeError traceback
