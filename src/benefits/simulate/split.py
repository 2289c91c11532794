"""The bill split (费用分解, domain.md 6.2) of line items, vectorised: items as a table keyed by claim.

Per item, in integer fen, exactly as calculator/bill.py:
    amount      = round(unit price x quantity)                      (half up; quantity qn / qd)
    over-limit  = amount - round(payment standard x quantity)       where the price is above it
    pre-self    = round(share x (amount - over-limit))              乙 (B) items; own share or the default
    丙 (C) items are fully self-paid; the policy-range amount is what is left.
Per claim, the parts are sums over its items. An item whose products could pass int64 is not split
here (`wide`), nor a claim whose items add up past the largest amount accepted (their sum could
pass int64 too): such a claim is settled by the scalar engine, which refuses the second kind.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .arrays import MAX_FEN, Items

_LIMIT = np.int64(1 << 62)
_MOST_ITEMS = int(np.iinfo(np.int64).max) // (MAX_FEN + 1)  # items of one claim whose capped amounts may be summed


@dataclass
class Split:
    total: np.ndarray  # per claim, fen
    fully_self_paid: np.ndarray
    over_limit: np.ndarray
    pre_self_paid: np.ndarray
    policy_range: np.ndarray
    has_items: np.ndarray  # per claim
    dirty: np.ndarray  # per claim: an item the engine refuses, or too large to split here


def _fits(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether 2 x a x b + b stays within int64, per row (a, b >= 0)."""
    return a <= (_LIMIT - np.maximum(b, 1)) // (2 * np.maximum(b, 1))


def _all_fit(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether 2 x a x b + b stays within int64 for every row: checked on the largest values."""
    if len(a) == 0:
        return True
    return 2 * int(a.max()) * int(b.max()) + int(b.max()) < int(_LIMIT)


def _times(value: np.ndarray, num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """round(value x num / den), half up, per row (exact: the products fit int64)."""
    whole = den == 1
    if whole.all():
        return value * num
    out = value * num
    rest = np.flatnonzero(~whole)
    out[rest] = (2 * value[rest] * num[rest] + den[rest]) // (2 * den[rest])
    return out


def split_items(items: Items, n_claims: int, default_num: np.ndarray, default_den: np.ndarray) -> Split:
    """Each claim's bill split from its items; `default_num / default_den`: per claim, the pack's
    default B share in force on its deciding date."""
    claim, category = items.claim, items.category
    price, qn, qd = items.price.fen, items.qn, items.qd
    standard = items.standard.fen
    has_standard = ~items.standard.null
    dirty = items.dirty
    if not (_all_fit(price, qn) and _all_fit(standard, qn)):
        dirty = dirty | ~_fits(price, qn) | ~_fits(standard, qn)
    if dirty.any():  # such an item's claim is settled by the scalar engine: split nothing of it here
        price, qn, qd = np.where(dirty, 0, price), np.where(dirty, 1, qn), np.where(dirty, 1, qd)
    amount = _times(price, qn, qd)
    # over the price limit: the amount less the recognised round(standard x quantity) (A and B items)
    over = np.zeros(len(claim), np.int64)
    above = np.flatnonzero(has_standard & (price > standard) & (category != 2))
    over[above] = amount[above] - _times(standard[above], qn[above], qd[above])
    # pre-self-paid: a B item's share (its own, else the default) of what the over-limit part leaves
    pre = np.zeros(len(claim), np.int64)
    b = np.flatnonzero(category == 1)
    if len(b):
        own = items.sn[b] >= 0
        sn = np.where(own, items.sn[b], default_num[claim[b]])
        sd = np.where(own, items.sd[b], default_den[claim[b]])
        base = amount[b] - over[b]
        if not (_all_fit(base, sd) and _all_fit(sn, base)):
            wide = ~(_fits(base, sd) & _fits(sn, np.maximum(base, 1)))
            dirty = dirty | np.isin(np.arange(len(claim)), b[wide])
            sn, base = np.where(wide, 0, sn), np.where(wide, 0, base)
        pre[b] = (2 * sn * base + sd) // (2 * sd)
    fully = np.where(category == 2, amount, 0)
    group = _Grouping(claim, n_claims)
    counts = group.sum(np.ones(len(claim), np.int64))
    # Each amount capped just above the largest accepted total: their sum stays within int64 for
    # any claim of fewer than 2^63 / MAX_FEN (about 92 million) items, and tells which totals are
    # too large. Every other claim's sums are then exact: each is at most its total.
    too_large = (group.sum(np.minimum(amount, MAX_FEN + 1)) > MAX_FEN) | (counts > _MOST_ITEMS)
    total = np.where(too_large, 0, group.sum(amount))
    fully_c, over_c, pre_c = (np.where(too_large, 0, group.sum(v)) for v in (fully, over, pre))
    bad = group.sum(dirty.astype(np.int64)) > 0 if dirty.any() else np.zeros(n_claims, bool)
    return Split(total, fully_c, over_c, pre_c, total - fully_c - over_c - pre_c, counts > 0, bad | too_large)


class _Grouping:
    """Sums of item values per claim, exact in int64 (np.add.reduceat over items grouped by claim)."""

    def __init__(self, claim: np.ndarray, n_claims: int):
        self.n = n_claims
        self.order = None if np.all(claim[1:] >= claim[:-1]) else np.argsort(claim, kind="stable")
        keys = claim if self.order is None else claim[self.order]
        self.starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.zeros(0, np.int64)
        self.keys = keys[self.starts]

    def sum(self, values: np.ndarray) -> np.ndarray:
        out = np.zeros(self.n, np.int64)
        if len(self.starts):
            vals = values if self.order is None else values[self.order]
            out[self.keys] = np.add.reduceat(vals, self.starts)
        return out
