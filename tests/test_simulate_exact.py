"""The exact int64 arithmetic of the vectorised kinds against Python's unbounded integers: the one
rounding (money.half_up) and the products that pass int64 at real amounts, split so nothing
overflows (simulate/exact.py)."""

from __future__ import annotations

import random

import numpy as np

from benefits.money import RATIO, half_up
from benefits.simulate.exact import INF, NONE, banded, beyond_times, capped_half_up, paid_from_parts

MAX_FEN = 100_000_000_000  # the largest amount the engine accepts, in fen
SCALE = RATIO * RATIO


def _amount(rng: random.Random) -> int:
    """Fen across every size: small, real, and near the largest accepted."""
    return rng.choice([rng.randint(0, 1000), rng.randint(0, 10**8), rng.randint(0, MAX_FEN)])


def test_half_up_and_caps_agree_with_python():
    rng = random.Random(1)
    raw = np.array([rng.randint(0, MAX_FEN * RATIO) for _ in range(5000)], np.int64)
    cap = np.array([rng.choice([NONE, rng.randint(0, MAX_FEN)]) for _ in range(5000)], np.int64)
    got = capped_half_up(raw, cap, RATIO)
    want = [half_up(r if c < 0 else min(r, c * RATIO), RATIO) for r, c in zip(raw.tolist(), cap.tolist())]
    assert got.tolist() == want
    assert capped_half_up(raw, None, RATIO).tolist() == [half_up(r, RATIO) for r in raw.tolist()]


def test_bands_are_exact_beyond_int64():
    """sum of ratio x |[before, after] within each band| (fen x RATIO^2, up to ~1e23) as q, r."""
    rng = random.Random(2)
    rows = 3000
    before = np.array([_amount(rng) for _ in range(rows)], np.int64)
    after = before + np.array([_amount(rng) for _ in range(rows)], np.int64)
    lows, highs, ratios = [], [], []
    for _ in range(rows):
        start = rng.randint(0, 10**7) * rng.choice([RATIO, RATIO - rng.randint(0, RATIO)])  # a reduced deductible
        edges = sorted(rng.randint(start, start + 10**16) for _ in range(2))
        lows.append([start, edges[0], edges[1]])
        highs.append([edges[0], edges[1], int(INF)])
        ratios.append([rng.randint(0, RATIO) for _ in range(3)])
    q, r = banded(before, after, np.array(lows, np.int64), np.array(highs, np.int64), np.array(ratios, np.int64))
    for i in range(rows):
        b, a = int(before[i]) * RATIO, int(after[i]) * RATIO
        exact = sum(max(0, min(a, hi) - max(b, lo)) * ratio for lo, hi, ratio in zip(lows[i], highs[i], ratios[i]))
        assert int(q[i]) * SCALE + int(r[i]) == exact and 0 <= r[i] < SCALE
        cap = rng.choice([-1, rng.randint(0, MAX_FEN)])
        paid = paid_from_parts(q[i:i + 1], r[i:i + 1], SCALE, np.array([cap], np.int64))[0]
        assert paid == half_up(exact if cap < 0 else min(exact, cap * SCALE), SCALE)


def test_the_subsidy_beyond_the_cap_is_exact_beyond_int64():
    """ratio x beyond over den = basic ratio x RATIO, with beyond = E x r - left x RATIO (above_cap)."""
    rng = random.Random(3)
    rows = 5000
    eligible = np.array([_amount(rng) for _ in range(rows)], np.int64)
    r = np.array([rng.choice([0, 1, rng.randint(0, RATIO), RATIO]) for _ in range(rows)], np.int64)
    left = np.array([_amount(rng) for _ in range(rows)], np.int64)
    ratio = np.array([rng.randint(0, RATIO) for _ in range(rows)], np.int64)
    beyond = np.where(r > 0, np.maximum(0, eligible * r - left * RATIO), 0)
    q, rest = beyond_times(beyond, r, ratio)
    for i in range(rows):
        if r[i] == 0:
            assert q[i] == rest[i] == 0
            continue
        den = int(r[i]) * RATIO
        exact = int(beyond[i]) * int(ratio[i])
        assert int(q[i]) * den + int(rest[i]) == exact and 0 <= rest[i] < den
