"""Comparing rules: the same claims under pack A and pack B (or one pack on another date).

- `redate(claims, members, years)`: claims moved by whole years, for "next year's rules on this
  year's claims". A pack covers only its versions' dates (domain.md 6.1: a claim whose date no
  version covers is refused), so a 2021 claim cannot be settled under a 2022-only pack as it is;
  moved to 2022 (same month and day; 29 February becomes the 28th), every claim keeps its order,
  its month and its place in the accumulator year. Opening counters kept per month move with it.
- `coverage(pack, claims)`: the claims a pack's versions do not cover, as one clear message.
- `what_if(...)`: one claim under two packs, or one pack on two dates, and the parameters that
  made the difference (`trace_diff`: the parameters the two traces cite, with their values and
  sources, where they differ).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from ..models.accumulators import Accumulators
from ..models.claim import STAYS, Claim
from ..models.settlement import Settlement
from ..rules.pack import RulePack
from .columns import OPENING, ORDER_DAY
from .files import ClaimTable, MemberTable
from .scalar import deciding_dates


def move_year(day: dt.date, years: int) -> dt.date:
    """The same month and day `years` later (29 February -> 28 February when the year has none)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _moved(col: pa.ChunkedArray, years: int) -> pa.Array:
    return pa.array([None if d is None else move_year(d, years) for d in col.to_pylist()], pa.date32())


def redate(claims: ClaimTable, members: MemberTable, years: int,
           pack: RulePack | None = None) -> tuple[ClaimTable, MemberTable]:
    """Claims and members with every date moved by `years` whole years (monthly opening counters too).
    Given the `pack` they are settled under, each claim keeps its place in its member's year: the
    deciding date it had is its `order_day` (a claim of 29 February and one of the 28th would
    otherwise fall on one day and be ordered by claim id, moving the accumulators between them)."""
    if years == 0:
        return claims, members
    t = claims.table
    if pack is not None and ORDER_DAY not in t.column_names:
        t = t.append_column(ORDER_DAY, pa.array(deciding_dates(pack, t), pa.date32()))
    for c in ("date", "admission_date", "discharge_date"):
        t = t.set_column(t.column_names.index(c), c, _moved(t.column(c), years))
    moved = ClaimTable(claims.name, claims.unit, t, claims.rows, claims.items, claims.items_name, claims.ignored)
    m = members.table
    names = []
    for c in m.column_names:
        if c.startswith(OPENING) and "@" in c:
            base, _, month = c.partition("@")
            names.append(f"{base}@{int(month[:4]) + years:04d}{month[4:]}")
        else:
            names.append(c)
    return moved, MemberTable(members.name, members.unit, m.rename_columns(names), members.rows, members.ignored)


def coverage(pack: RulePack, claims: ClaimTable, *, label: str = "", hint: str = "") -> str | None:
    """None when every claim's deciding date is covered by a version of `pack`; otherwise a message
    saying how many are not, the dates the pack and the claims span, one example and `hint`."""
    days = deciding_dates(pack, claims.table)
    first, last = pack.versions[0].start, pack.versions[-1].end
    outside = [i for i, d in enumerate(days) if d is not None and not (first <= d <= last)]
    if not outside:
        return None
    known = [d for d in days if d is not None]
    i = outside[0]
    cid = claims.table.column("claim_id")[i].as_py()
    msg = (f"pack {pack.name!r}{f' ({label})' if label else ''} covers {first} to {last}, but {len(outside):,} of "
           f"{len(days):,} claims settle outside it (the claims span {min(known)} to {max(known)}); the first is "
           f"{claims.where(i)} (claim {cid!r}, deciding date {days[i]})")
    return msg + (f". {hint}" if hint else "")


def year_shift(pack: RulePack, claims: ClaimTable, year: int) -> int:
    """The whole years that move the claims' earliest deciding year to `year`."""
    days = [d for d in deciding_dates(pack, claims.table) if d is not None]
    return year - min(days).year if days else 0


# --- one claim ----------------------------------------------------------------------------------


def redate_claim(claim: Claim, day: dt.date) -> Claim:
    """The claim settling on `day`: a visit on that date; a stay discharged that day, as long as before."""
    doc = claim.model_dump()
    if claim.visit in STAYS:
        length = claim.discharge_date - claim.admission_date
        doc["discharge_date"], doc["admission_date"] = day, day - length
    else:
        doc["date"] = day
    return Claim.model_validate(doc)


def accumulators_for(acc: Accumulators | None, claim: Claim, day: dt.date) -> Accumulators | None:
    """The accumulators moved to `day`'s year when the claim moved to another year (the same use
    of the year, in the year of the new date); monthly counters move with them."""
    if acc is None or acc.year == day.year:
        return acc
    shift = day.year - acc.year
    counters = {}
    for k, v in acc.counters.items():
        base, _, month = k.partition("@")
        counters[f"{base}@{int(month[:4]) + shift:04d}{month[4:]}" if month else k] = v
    return Accumulators(member_id=acc.member_id, year=day.year, admissions=acc.admissions, counters=counters)


@dataclass
class ParamChange:
    parameter: str
    a: str | None  # value text, None when A's trace does not cite it
    b: str | None
    a_source: str | None = None
    b_source: str | None = None
    steps: list[str] = field(default_factory=list)  # the steps that cite it


@dataclass
class StepChange:
    step: str
    a: str | None
    b: str | None


@dataclass
class TraceDiff:
    parameters: list[ParamChange]  # cited with different values (or by one trace only)
    steps: list[StepChange]  # steps whose result differs (or that one trace only has)


def _citations(s: Settlement) -> dict[str, tuple[str, str, list[str]]]:
    out: dict[str, tuple[str, str, list[str]]] = {}
    for step in s.trace:
        for c in step.citations:
            if c.parameter in out:
                out[c.parameter][2].append(step.step)
            else:
                out[c.parameter] = (c.value, c.source, [step.step])
    return out


def trace_diff(a: Settlement, b: Settlement) -> TraceDiff:
    """What differs between two settlements' traces: the parameters they cite (name, value, source)
    and the steps whose results differ. A parameter cited by both with the same value is left out,
    as is a step with the same result."""
    ca, cb = _citations(a), _citations(b)
    params = []
    for name in list(dict.fromkeys(list(ca) + list(cb))):
        x, y = ca.get(name), cb.get(name)
        if x is not None and y is not None and x[0] == y[0]:
            continue
        params.append(ParamChange(name, x[0] if x else None, y[0] if y else None, x[1] if x else None,
                                  y[1] if y else None, list(dict.fromkeys((x[2] if x else []) + (y[2] if y else [])))))
    sa = {t.step: t.output for t in a.trace}
    sb = {t.step: t.output for t in b.trace}
    steps = [StepChange(k, sa.get(k), sb.get(k)) for k in dict.fromkeys(list(sa) + list(sb)) if sa.get(k) != sb.get(k)]
    return TraceDiff(params, steps)


@dataclass
class WhatIf:
    a: Settlement
    b: Settlement
    a_label: str
    b_label: str
    diff: TraceDiff
    notes: list[str]


def what_if(claim: Claim, pack_a: RulePack, accumulators: Accumulators | None, *, pack_b: RulePack | None = None,
            on: dt.date | None = None, a_label: str = "A", b_label: str = "B") -> WhatIf:
    """Settle `claim` under A, and under B (another pack) or under A on another date `on`."""
    from ..calculator import evaluate

    notes = []
    sa = evaluate(claim, pack_a, accumulators)
    claim_b, acc_b = claim, accumulators
    if on is not None:
        claim_b = redate_claim(claim, on)
        acc_b = accumulators_for(accumulators, claim, on)
        if acc_b is not accumulators:
            notes.append(f"the accumulators are taken as those of {on.year} (they were given for {accumulators.year})")
    sb = evaluate(claim_b, pack_b if pack_b is not None else pack_a, acc_b)
    return WhatIf(sa, sb, a_label, b_label, trace_diff(sa, sb), notes)


def changed_rows(a_fund: np.ndarray, b_fund: np.ndarray) -> np.ndarray:
    """Indices of claims whose fund payout differs, largest change first."""
    delta = b_fund - a_fund
    idx = np.flatnonzero(delta)
    return idx[np.argsort(-np.abs(delta[idx]), kind="stable")]


# --- counterfactual packs -------------------------------------------------------------------------


def _yaml_value(v) -> str:
    """A parameter value as its file writes it: 200000.00, 75%, -10."""
    from ..money import fmt_ratio

    if v.unit == "percent":
        return fmt_ratio(v.value)
    if v.unit == "yuan":
        return f"{v.value:.2f}"
    return f"{v.value:f}"


def pack_with_values(src: str | Path, dst: str | Path, overrides: dict[tuple[str, dt.date], tuple[str, str]]) -> Path:
    """A copy of the pack in `src` at `dst` with some dated values replaced: {(parameter, start):
    (value as the file writes it, source)}. The copy's files are the original's with only those
    entries' lines changed (each entry written on a line of its own, `DATE: {value: ..., source:
    "..."}`, as the packs write them), so that line numbers, comments and every other value stay as
    they were. Every entry is checked before anything is written, the copy is made beside `dst` and
    loaded, and it takes `dst`'s name only once it loads and differs from the pack in exactly the
    values asked: a bad override (a line holding more than one entry, a line other values alias, a
    value the pack refuses) is a ValueError, with nothing left at `dst`. A line break in a source is
    written as a space (a source is one line)."""
    import shutil
    import tempfile

    from ..errors import BenefitsError
    from ..rules.loader import load_rules

    src, dst = Path(src).resolve(), Path(dst).resolve()
    if dst.exists():
        raise ValueError(f"{dst} exists; give a folder that does not")
    if dst == src or src in dst.parents:
        raise ValueError(f"{dst} is inside the pack {src}; give a folder outside it")
    if not overrides:
        raise ValueError("no values to replace")
    pack = load_rules(src)
    edits: dict[Path, dict[int, tuple[str, str, str, dt.date]]] = {}
    for (name, start), (value, source) in overrides.items():
        param = pack.parameters.get(name)
        found = [v for v in (param.values if param else ()) if v.start == start]
        if not found:
            raise ValueError(f"pack {pack.name!r} has no value of {name!r} starting {start}")
        v = found[0]
        rel = Path(*Path(v.file).parts[1:])  # named from the pack folder's parent: jiangmen/parameters/x.yaml
        edits.setdefault(rel, {})[v.line] = (str(value), str(source), name, start)
    texts = {rel: (src / rel).read_text(encoding="utf-8").split("\n") for rel in edits}
    for rel, lines in edits.items():
        for line, (value, source, name, start) in lines.items():
            texts[rel][line - 1] = _replaced(texts[rel][line - 1], value, source, f"{src / rel}:{line}", name, start)
    dst.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", dir=dst.parent))
    try:
        copy = work / dst.name
        shutil.copytree(src, copy)
        for rel, text in texts.items():
            (copy / rel).write_text("\n".join(text), encoding="utf-8")
        try:
            made = load_rules(copy)
        except BenefitsError as exc:
            raise ValueError(f"the pack with these values does not load: {exc}") from None
        _check_only(pack, made, overrides)
        copy.rename(dst)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dst


def _check_only(pack, made, overrides: dict) -> None:
    """The copy differs from the pack in exactly the values asked: an edit that reached another
    value (a line that anchors a value others alias, a `value:` inside a source) is refused."""
    for name, param in pack.parameters.items():
        for v in param.values:
            got = made.parameters[name].at(v.start)
            asked = overrides.get((name, v.start))
            if asked is None and (got.value, got.source) != (v.value, v.source):
                raise ValueError(f"the edit changed {name!r} of {v.start} too (its line is shared with a value "
                                 "asked, by a YAML anchor or otherwise): write that value out on a line of its own")
            if asked is not None and (got.source != _one_line(asked[1])
                                      or got.text.removesuffix(" points") != _written(asked[0], got.unit)):
                raise ValueError(f"{name!r} of {v.start} reads {got.text!r} ({got.source!r}) after the edit, not "
                                 f"{asked[0]!r}: write its line `{v.start}: {{value: ..., source: \"...\"}}`")


def _one_line(source: object) -> str:
    """A source as written into its line: every line break (YAML's, which are Python's) a space."""
    return " ".join(str(source).splitlines())


def _written(value: str, unit: str) -> str:
    """A value as the file writes it, as a loaded parameter's text shows it (for the check above);
    the text itself when it is no number (the check then refuses it)."""
    from decimal import Decimal, InvalidOperation

    from ..money import fmt, fmt_ratio, shifted, trimmed

    text = str(value).strip()
    if len(text) > 1 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    try:
        if unit == "percent":
            return fmt_ratio(shifted(Decimal(text.removesuffix("%")), 2)) if text.endswith("%") else text
        if unit == "yuan":
            return fmt(Decimal(text))
        return f"{trimmed(Decimal(text)):+f}"
    except InvalidOperation:
        return text


def _replaced(line: str, value: str, source: str, where: str, name: str, start: dt.date) -> str:
    """`line`, an entry `DATE: {value: ..., source: "..."}` of its own, with that value and source."""
    import re

    if len(str(value).splitlines()) != 1:
        raise ValueError(f"{where}: the value of {name!r} is one line, not {value!r}")
    entries = re.findall(r"\bvalue:", line)
    if not re.match(rf"\s*['\"]?{start}['\"]?\s*:", line) or len(entries) != 1:
        raise ValueError(f"{where}: expected the line `{start}: {{value: ..., source: \"...\"}}` of {name!r} alone; "
                         "write each dated value on a line of its own")
    quoted = '"' + _one_line(source).replace("\\", "\\\\").replace('"', '\\"') + '"'
    new, n = re.subn(r"value:\s*[^,}]+", lambda _: f"value: {value}", line, count=1)
    new, m = re.subn(r'source:\s*"(?:[^"\\]|\\.)*"', lambda _: f"source: {quoted}", new, count=1)
    if n != 1 or m != 1:
        raise ValueError(f"{where}: expected `{start}: {{value: ..., source: \"...\"}}` (a double-quoted source) "
                         f"for {name!r}")
    return new


def pack_without_change(src: str | Path, dst: str | Path, day: dt.date, why: str,
                        only: set[str] | None = None) -> tuple[Path, list[str]]:
    """A copy of the pack in which every value starting on `day` (of the parameters in `only`, when
    given) equals the value in force the day before (the change of `day` undone, the version kept):
    the counterfactual for what the change cost. Returns the copy's folder and the parameters
    changed; each new source says `why`."""
    from ..rules.loader import load_rules

    if not isinstance(day, dt.date):
        raise TypeError(f"day is a datetime.date, not {type(day).__name__}")
    pack = load_rules(src)
    if only is not None and set(only) - set(pack.parameters):
        raise ValueError(f"pack {pack.name!r} has no parameter {sorted(set(only) - set(pack.parameters))[0]!r}")
    overrides = {}
    for name, param in pack.parameters.items():
        if only is not None and name not in only:
            continue
        for k, v in enumerate(param.values):
            if v.start == day and k > 0:
                before = param.values[k - 1]
                overrides[(name, day)] = (_yaml_value(before), f"assumed: counterfactual, {why}: the value of {before.start} kept")
    if not overrides:
        raise ValueError(f"no value of pack {pack.name!r}{' among those asked' if only else ''} starts on {day}: "
                         "nothing to undo")
    return pack_with_values(src, dst, overrides), sorted(n for n, _ in overrides)
