"""benefits: a medical-insurance benefit-rules engine.

    import benefits
    rules = benefits.load_rules("rules/jiangmen")
    settlement = benefits.evaluate(claim, rules, accumulators)

The claim is paid layer by layer (basic fund, serious illness, medical aid, secondary aid)
as the rule pack says; the settlement carries every layer's payout, the patient's part,
the accumulators after the claim and a trace explaining every number.
"""

from pathlib import Path as _Path
from typing import Any as _Any

from .calculator import evaluate
from .errors import BenefitsError, ClaimError, ClaimProblem, RuleFileError
from .jsonio import loads
from .models.accumulators import Accumulators
from .models.claim import BillSplit, Claim, LineItem, Member
from .models.settlement import LayerPayout, PatientPart, Settlement
from .rules.loader import load_rules
from .rules.pack import RulePack
from .trace import TraceStep
from .yamlio import YamlError, load_file as _load_file

__all__ = [
    "Accumulators", "BenefitsError", "BillSplit", "Claim", "ClaimError", "ClaimProblem", "LayerPayout", "LineItem",
    "Member", "PatientPart", "RuleFileError", "RulePack", "Settlement", "TraceStep", "evaluate", "load_rules",
    "YamlError", "load_file", "loads",
]


def load_file(path: str | _Path) -> _Any:
    """A claim, accumulators or case file read as the command line reads it: YAML, or JSON when
    the name ends in .json; numbers exactly (an amount is never a float) and integers in decimal
    whatever their leading zeros. Raises YamlError (a BenefitsError) naming the file and line."""
    return _load_file(_Path(path))[0]
