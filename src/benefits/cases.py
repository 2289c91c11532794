"""Running case files: load one, settle its claim, compare field by field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from .calculator import evaluate
from .errors import BenefitsError, error_message, error_path, listed
from .models.case import CaseFile
from .money import ZERO
from .rules.pack import RulePack
from .yamlio import load_file


@dataclass(frozen=True)
class Mismatch:
    field: str
    expected: object
    actual: object


def load_case(path: str | Path) -> CaseFile:
    """Read and validate a case file; errors name the file and the line."""
    data, loc = load_file(Path(path))
    try:
        return CaseFile.model_validate(data)
    except ValidationError as exc:
        def line(err: dict) -> str:
            parts = error_path(err)
            return f"{path}:{loc.line(parts)} [{'.'.join(map(str, parts))}]: {error_message(err)}"

        raise BenefitsError("\n".join(listed(exc.errors(), line, "errors"))) from None


def rules_dir(case: CaseFile, case_path: Path, rules_root: Path) -> Path:
    """A pack named by folder name is looked up under `rules_root`; a path is taken relative to the case."""
    candidate = Path(case.rules)
    if len(candidate.parts) > 1 or candidate.is_absolute():
        return candidate if candidate.is_absolute() else (case_path.parent / candidate)
    return rules_root / case.rules


def check_case(case: CaseFile, rules: RulePack) -> list[Mismatch]:
    """Every difference between what the case expects and what the engine settles."""
    exp = case.expected
    try:
        s = evaluate(case.claim, rules, case.accumulators)
    except BenefitsError as exc:
        if exp.error is not None and exp.error in str(exc):
            return []
        return [Mismatch("error" if exp.error else "result", exp.error or "a settlement", f"{type(exc).__name__}: {exc}")]
    if exp.error is not None:
        return [Mismatch("error", exp.error, "a settlement (the claim was not refused)")]
    out: list[Mismatch] = []

    def cmp(field: str, want, got) -> None:
        if want is not None and want != got:
            out.append(Mismatch(field, want, got))

    if exp.bill is not None:
        for name in ("total", "fully_self_paid", "over_limit", "pre_self_paid", "policy_range"):
            cmp(f"bill.{name}", getattr(exp.bill, name), getattr(s.bill, name))
    if exp.items is not None:
        got_items = {i.id: i for i in s.items}
        for item_id, want in exp.items.items():
            item = got_items.get(item_id)
            for name in ("fully_self_paid", "over_limit", "pre_self_paid", "policy_range"):
                cmp(f"items.{item_id}.{name}", getattr(want, name), getattr(item, name) if item else "(no such item)")
    cmp("deductible", exp.deductible, s.deductible)
    if exp.payouts is not None:
        got = s.payouts
        for layer in dict.fromkeys(list(exp.payouts) + list(got)):
            cmp(f"payouts.{layer}", exp.payouts.get(layer, ZERO), got.get(layer, "(no such layer)"))
    cmp("patient", exp.patient, s.patient.total)
    cmp("cash", exp.cash, s.patient.cash)
    if exp.accumulators is not None:
        after = s.accumulators_after
        cmp("accumulators.admissions", exp.accumulators.admissions, after.admissions)
        for name, want in exp.accumulators.counters.items():
            cmp(f"accumulators.counters.{name}", want, after.counters.get(name, ZERO))
    return out


def format_mismatches(mismatches: list[Mismatch]) -> str:
    """Expected and actual side by side, one field a line."""
    width = max([len(m.field) for m in mismatches] + [5])
    rows = [f"{'field':<{width}}  {'expected':>14}  {'actual':>14}"]
    rows += [f"{m.field:<{width}}  {str(m.expected):>14}  {str(m.actual):>14}" for m in mismatches]
    return "\n".join(rows)
