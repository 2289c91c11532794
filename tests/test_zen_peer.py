"""GoRules ZEN's graph of the Jiangmen 2022 stay (bench/zen/) pays what the engine pays, claim by claim.

bench/zen_peer.py is the benchmark's peer for speed ratios (bench/run.py, section 9); this holds its
decision graph equal to `benefits.evaluate` on generated claims, so the ratios compare equal work.
zen-engine is in the bench lock only (requirements-bench.txt), not in the test lock the README's
test command installs: without it these tests are skipped."""

import sys
from pathlib import Path

import pytest

import benefits
from conftest import RULES

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import zen_peer  # noqa: E402  (imports zen-engine only when it loads the graph)

pytestmark = pytest.mark.skipif(
    not zen_peer.available(),
    reason=f"zen-engine is not installed: it is in the bench lock only ({zen_peer.INSTALL})",
)


@pytest.fixture(scope="module")
def pack():
    return benefits.load_rules(RULES / "jiangmen")


@pytest.fixture(scope="module")
def batches():
    return zen_peer.batches(200)  # 200 claims of each kind: 50-line stays, pre-split stays (realistic and
    # check-flavoured), and the check batch (aid groups, heavy users, counters near their caps)


@pytest.mark.parametrize("kind", range(4), ids=["headline", "pre-split", "pre-split-check", "check"])
def test_the_zen_graph_and_the_engine_agree_claim_by_claim(pack, batches, kind):
    name, cases = batches[kind]
    compared, bad = zen_peer.compare(cases, pack)
    assert compared == len(cases) == 200
    assert not bad, f"{name}: {len(bad)} disagreements; the first:\n{zen_peer.describe(bad[0])}"
