"""Exact integer arithmetic on int64 columns: the engine's one rounding (money.half_up), and the
products whose exact value can pass int64 (fen x RATIO x RATIO), split so that no step overflows.

Every function takes and returns int64 numpy arrays of non-negative values, as the scalar engine's
fractions are: fen, RATIO parts (parts per million), and their products.
"""

from __future__ import annotations

import numpy as np

from ..money import RATIO

INF = np.int64(1 << 62)  # "no upper edge" / "no cap": above any amount the engine accepts, x RATIO
NONE = np.int64(-1)  # "no value" in a table of parameters (fen or RATIO parts are never negative)


def half_up(num: np.ndarray, den) -> np.ndarray:
    """num / den rounded to a whole number, halves up (num >= 0, den > 0): money.half_up."""
    return (2 * num + den) // (2 * den)


def capped_half_up(raw: np.ndarray, cap_left: np.ndarray | None, den) -> np.ndarray:
    """half_up(min(raw, cap_left x den), den), with cap_left None (or NONE per row) for no cap."""
    if cap_left is None:
        return half_up(raw, den)
    capped = cap_left >= 0
    return np.where(capped & (raw >= cap_left * den), cap_left, half_up(raw, den))


def paid_from_parts(q: np.ndarray, r: np.ndarray, den, cap_left: np.ndarray | None) -> np.ndarray:
    """half_up(min(raw, cap_left x den), den) for raw = q x den + r (0 <= r < den), without forming
    raw: raw >= cap_left x den exactly when q >= cap_left, and then the payout is the cap left."""
    rounded = q + (2 * r >= den)
    if cap_left is None:
        return rounded
    return np.where((cap_left >= 0) & (q >= cap_left), cap_left, rounded)


def banded(before: np.ndarray, after: np.ndarray, lows: np.ndarray, highs: np.ndarray, ratios: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """The exact value of sum over bands of ratio x |[before, after] within [low, high)|, as (q, r)
    with value = q x RATIO^2 + r, 0 <= r < RATIO^2.

    `before`, `after`: fen (one per row); `lows`, `highs`: band edges in fen x RATIO (rows x bands;
    INF for no upper edge); `ratios`: RATIO parts (rows x bands). The value is fen x RATIO x RATIO
    (kinds/cumulative_bands.py), too large for int64 at real amounts, so each band's part (fen x
    RATIO) is split into whole fen and the rest before it is multiplied by its ratio.
    """
    b = (before * RATIO)[:, None]
    a = (after * RATIO)[:, None]
    part = np.maximum(np.minimum(a, highs) - np.maximum(b, lows), 0)
    whole = (part // RATIO * ratios).sum(axis=1)  # fen x RATIO
    rest = (part % RATIO * ratios).sum(axis=1)  # fen x RATIO x RATIO, < bands x RATIO^2
    whole += rest // RATIO
    rest %= RATIO
    return whole // RATIO, whole % RATIO * RATIO + rest


def beyond_times(beyond: np.ndarray, basic_ratio: np.ndarray, ratio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """beyond x ratio as (q, r) over den = basic_ratio x RATIO: value = q x den + r, 0 <= r < den.

    For the large-amount subsidy (kinds/above_cap.py): beyond = E x r - left x RATIO <= E x r, so
    beyond // r <= E fen, and (beyond // r) x ratio fits int64 where beyond x ratio need not.
    Rows with basic_ratio 0 give (0, 0)."""
    r = np.where(basic_ratio > 0, basic_ratio, 1)
    u, w = beyond // r, beyond % r
    big = u * ratio
    q = big // RATIO
    rest = big % RATIO * r + w * ratio  # < 2 x den
    den = r * RATIO
    q = q + rest // den
    rest = rest % den
    zero = basic_ratio <= 0
    return np.where(zero, 0, q), np.where(zero, 0, rest)
