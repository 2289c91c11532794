"""Vectorised layer kinds: one module each, mirroring `benefits.kinds` (same module names).

`vectorised(layer, layout)` gives a layer's vectorised counterpart, or raises NotVectorisable for
a kind that has none (its claims are then settled by the scalar engine).
"""

from __future__ import annotations

from ..errors import NotVectorisable
from .above_cap import AboveCap
from .base import Context, Layout, Scalar, Step, VectorKind
from .basic_fund import BasicFund
from .cumulative_bands import CumulativeBands
from .fixed_amount import FixedAmount
from .personal_account import PersonalAccount
from .residual_ratio import ResidualRatio

VECTOR_KINDS: dict[str, type[VectorKind]] = {
    cls.kind: cls for cls in (BasicFund, CumulativeBands, ResidualRatio, AboveCap, FixedAmount, PersonalAccount)}
"""Scalar kind name -> its vectorised counterpart."""


def vectorised(layer, layout: Layout) -> VectorKind:
    cls = VECTOR_KINDS.get(layer.kind)
    if cls is None:
        raise NotVectorisable(f"layer {layer.id!r}: kind {layer.kind!r} has no vectorised counterpart")
    return cls(layer, layout)


__all__ = ["VECTOR_KINDS", "Context", "Layout", "Scalar", "Step", "VectorKind", "vectorised"]
