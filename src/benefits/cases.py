"""Running case files: load one, settle its claim, compare field by field."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from pydantic import ValidationError

from .calculator import evaluate
from .errors import BenefitsError, ClaimProblem, error_message, error_path, listed
from .models.case import CaseFile
from .money import ZERO
from .rules.pack import RulePack
from .yamlio import Locator, load_file


@dataclass(frozen=True)
class Mismatch:
    field: str
    expected: object
    actual: object
    path: tuple = ()  # where the expected value is in the case file: ("expected", "payouts", "basic")
    line: int | None = None  # its line, once located (`locate`)


CASE_SUFFIXES = (".yaml", ".yml")


def case_files(folder: Path) -> list[Path]:
    """The case files in a folder and below (*.yaml and *.yml), in order: what `benefits check` runs,
    and what the test suite runs. OSError when the folder cannot be searched."""
    return sorted(f for f in folder.rglob("*") if f.suffix in CASE_SUFFIXES and f.is_file())


def load_case(path: str | Path) -> CaseFile:
    """Read and validate a case file; errors name the file and the line."""
    return load_case_at(path)[0]


def load_case_at(path: str | Path) -> tuple[CaseFile, Locator]:
    """`load_case`, with the locator of the file, which finds the line of each expected value."""
    data, loc = load_file(Path(path))
    try:
        return CaseFile.model_validate(data), loc
    except ValidationError as exc:
        def line(err: dict) -> str:
            parts = error_path(err)
            return f"{path}:{loc.line(parts)} [{'.'.join(map(str, parts))}]: {error_message(err)}"

        raise BenefitsError("\n".join(listed(exc.errors(), line, "errors"))) from None


def rules_dir(case: CaseFile, case_path: Path, rules_root: Path) -> Path:
    """The folder of the case's pack (`pack_dir`)."""
    return pack_dir(case.rules, case_path.parent, rules_root)


def by_name(written: str) -> bool:
    """Whether a case's `rules:` names a folder under the rules root (`jiangmen`), not a path (anything
    with a slash, as written: `./jiangmen` and `jiangmen/` too, or `.` and `..`)."""
    return not ("/" in written or "\\" in written or written in (".", "..") or Path(written).is_absolute())


def pack_dir(written: str, case_folder: Path, rules_root: Path) -> Path:
    """A pack named by folder name is looked up under `rules_root`; a path is taken from the case's folder."""
    return rules_root / written if by_name(written) else case_folder / written


def refused_as(exc: BenefitsError, expected: str) -> bool:
    """Whether the refusal has a problem at the expected path whose message begins with the expected
    words (`claim.visit: pack 'anyang' does not cover`; `claim: ...` for the claim as a whole, such as a
    pack whose table has no row for it)."""
    path, _, words = expected.partition(": ")
    problems = getattr(exc, "problems", None) or [ClaimProblem((), str(exc))]
    return any((".".join(map(str, p.path)) or "claim") == path and p.message.startswith(words) for p in problems)


def check_case(case: CaseFile, rules: RulePack) -> list[Mismatch]:
    """Every difference between what the case expects and what the engine settles."""
    exp = case.expected
    try:
        s = evaluate(case.claim, rules, case.accumulators)
    except BenefitsError as exc:
        if exp.error is not None and refused_as(exc, exp.error):
            return []
        return [Mismatch("error" if exp.error else "result", exp.error or "a settlement", f"{type(exc).__name__}: {exc}",
                         ("expected", "error") if exp.error else ("expected",))]
    if exp.error is not None:
        return [Mismatch("error", exp.error, "a settlement (the claim was not refused)", ("expected", "error"))]
    out: list[Mismatch] = []

    def cmp(path: tuple, want, got) -> None:
        if want is not None and want != got:
            out.append(Mismatch(".".join(map(str, path)), want, got, ("expected",) + path))

    if exp.bill is not None:
        for name in ("total", "fully_self_paid", "over_limit", "pre_self_paid", "policy_range"):
            cmp(("bill", name), getattr(exp.bill, name), getattr(s.bill, name))
    if exp.items is not None:
        got_items = {i.id: i for i in s.items}
        for item_id, want in exp.items.items():
            item = got_items.get(item_id)
            for name in ("fully_self_paid", "over_limit", "pre_self_paid", "policy_range"):
                cmp(("items", item_id, name), getattr(want, name), getattr(item, name) if item else "(no such item)")
    cmp(("deductible",), exp.deductible, s.deductible)
    if exp.payouts is not None:
        got = s.payouts
        for layer in dict.fromkeys(list(exp.payouts) + list(got)):
            cmp(("payouts", layer), exp.payouts.get(layer, ZERO), got.get(layer, "(no such layer)"))
    cmp(("patient",), exp.patient, s.patient.total)
    cmp(("cash",), exp.cash, s.patient.cash)
    if exp.accumulators is not None:
        after = s.accumulators_after
        cmp(("accumulators", "admissions"), exp.accumulators.admissions, after.admissions)
        for name, want in exp.accumulators.counters.items():
            # a name the pack does not keep would read as 0.00 and pass unnoticed (a typo checks nothing)
            problem = rules.counter_problem(name, after.year)
            cmp(("accumulators", "counters", name), want,
                f"({problem.split(';')[0]})" if problem else after.counters.get(name, ZERO))
    return out


def locate(mismatches: list[Mismatch], locator: Locator) -> list[Mismatch]:
    """Each mismatch with the line of its expected value in the case file (for a value the case does not
    give, such as a layer's payout left out of `payouts:`, the line of the nearest enclosing key)."""
    return [replace(m, line=locator.line(m.path)) if m.path else m for m in mismatches]


def format_mismatches(mismatches: list[Mismatch]) -> str:
    """Expected and actual side by side, one field a line."""
    width = max([len(m.field) for m in mismatches] + [5])
    rows = [f"{'field':<{width}}  {'expected':>14}  {'actual':>14}"]
    rows += [f"{m.field:<{width}}  {str(m.expected):>14}  {str(m.actual):>14}" for m in mismatches]
    return "\n".join(rows)
