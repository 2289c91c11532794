"""Layer kinds: one module each, each one class owning its rule-file schema, its load-time checks,
the counters it bounds, its formula (domain.md section 6) and the trace steps it records.

The registry and the rule files' union derive from the classes: a new kind is one new module here
(its class subclasses `Kind` and declares `kind: Literal[...]`).
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Annotated, Union

from pydantic import Field

from .base import BasicPaid, Bill, CounterBound, Earlier, Kind, Paid, State

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

KINDS: dict[str, type[Kind]] = {cls.model_fields["kind"].annotation.__args__[0]: cls for cls in Kind.__subclasses__()}
"""Layer kind name (a file's `kind:`) -> its class."""

LayerFile = Annotated[Union[tuple(KINDS.values())], Field(discriminator="kind")]
"""A layer file, validated into the class of its `kind:`."""

from .above_cap import AboveCapLayer  # noqa: E402  (re-exported: names used by tests and tools)
from .basic_fund import BasicFundLayer  # noqa: E402
from .cumulative_bands import CumulativeBandsLayer  # noqa: E402
from .fixed_amount import FixedAmountLayer  # noqa: E402
from .personal_account import PersonalAccountLayer  # noqa: E402
from .residual_ratio import ResidualRatioLayer  # noqa: E402

__all__ = ["KINDS", "LayerFile", "Kind", "State", "Paid", "Bill", "BasicPaid", "Earlier", "CounterBound",
           "AboveCapLayer", "BasicFundLayer", "CumulativeBandsLayer", "FixedAmountLayer", "PersonalAccountLayer",
           "ResidualRatioLayer"]
