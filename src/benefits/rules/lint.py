"""Lint a loaded rule pack: what is valid but probably a mistake, for the people who write the rules.

`lint(pack)` finds:

- unused parameters: defined in parameters/ but named by no layer (directly or through a breakdown
  reference such as `inpatient.ratio[scheme][level]`) and not by pack.yaml (`default_b_share`);
- unused counters: declared in pack.yaml but read or written by no layer;
- dead rows: a row of a decision table (the first row whose `when:` holds gives the value) that can
  never be chosen, because for every claim the layer applies to on which its condition holds, an
  earlier row's holds too: a row after one without `when:`, a row repeating an earlier condition, or
  one the earlier rows cover between them;
- how many parameter values are assumed (their source says `assumed`, in whole or in part).

Dead rows are decided exactly, not guessed: a condition only compares fields with constants, so every
claim falls into one of finitely many classes (each value of a word field, each side of each constant
an ordered field is compared with, each group held or not), and the linter tries them all. The layer's
own `when:`, the pack's refusals (a class counts when some claim of it escapes every refusal) and which
member types a scheme has are taken into account. When a table's conditions make more than MAX_CLASSES
classes, or the pack's checks together would make more than MAX_WORK comparisons, what is left is not
decided, and says so (a `not-decided` finding): lint never passes what it did not try.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from dataclasses import dataclass
from pathlib import Path

from .. import conditions
from ..errors import BenefitsError
from ..facts import FieldKind, date_key, field_specs, group_key
from ..models.claim import MAX_AGE, MEMBER_TYPE_NAMES
from ..trace import is_assumed
from ..yamlio import Locator, load_file
from .files import BREAKDOWN_FIELDS, decision_tables
from .pack import RulePack
from .refs import split_ref

MAX_CLASSES = 300_000
"""Classes of claims tried for one table at most: rules/jiangmen's widest has about 28,000, and a table whose
rows read age and date in a layer that reads every group about 250,000 (held as facts: about 150 MB)."""
MAX_WORK = 40_000_000
"""The comparisons lint may make for the whole pack (each class of claims made counts as _MADE): about 400
times what rules/jiangmen needs (0.1 million, a few hundredths of a second), and at most about 15 s (40 to
350 ns a comparison measured). A pack of hundreds of wide conditions took minutes."""


_MADE = 10
"""What making one class's fact costs, in comparisons (a dict built, the member type checked)."""


def _size(cond) -> int:
    """The comparisons in a condition (none for a row without one): what testing it on one class costs."""
    if cond is None:
        return 0
    if isinstance(cond, (conditions.Cmp, conditions.Has)):
        return 1
    if isinstance(cond, conditions.Not):
        return _size(cond.item)
    return sum(map(_size, cond.items))


def _fields(cond) -> set[str]:
    """The fields a condition reads, scheme and member type together: they constrain each other."""
    read = conditions.fields_of(cond) if cond is not None else set()
    return read | {"scheme", "member_type"} if read & {"scheme", "member_type"} else read


def _relevant(refusals: list, conds: list) -> tuple[list, list]:
    """The refusals that can turn away a class of claims `conds` tell apart, and the others. The first read a
    field the conditions read, or one such a refusal reads. A refusal of other fields leaves each class claims the
    pack settles (unless together they refuse every claim: `_Budget.settled`), so trying its fields too
    multiplied the classes of every check in the pack, and two refusals of day surgeries left secondary
    aid's checks undecided."""
    read = set().union(*map(_fields, conds))
    chosen: set[int] = set()
    grew = True
    while grew:
        grew = False
        for i, refusal in enumerate(refusals):
            if i not in chosen and _fields(refusal) & read:
                chosen.add(i)
                read |= _fields(refusal)
                grew = True
    return ([r for i, r in enumerate(refusals) if i in chosen],
            [r for i, r in enumerate(refusals) if i not in chosen])


class _Budget:
    """The work lint may still do, and the checks it left undecided (each named as a finding would be)."""

    def __init__(self):
        self.left = MAX_WORK
        self.undecided: list[str] = []

    def settled(self, conds: list, refusals: list, specs, pack: RulePack, what: str,
                tests: int | None = None) -> list[dict] | None:
        """The classes of claims `conds` tell apart that the pack settles (some claim of the class no refusal
        turns away), or None, with `what` recorded as undecided, when there are too many to try. `tests`:
        the comparisons the check makes on each class (default: each of `conds` tested once).

        A field only the refusals read is not a field of the classes: each class is kept when some value of
        it escapes every refusal, so a refusal of day surgeries under 14 does not multiply every check of the
        pack by the ages it names. Refusals that share no field with the check leave every class some claim,
        unless together they refuse every claim of the pack: then no class is settled."""
        relevant, rest = _relevant(refusals, conds)
        axes = _axes(conds + relevant, specs, pack)
        fields, groups, _ = conditions.reads(conds, specs)
        keys = fields | {group_key("groups", g) for g in groups}
        mine = [a for a in axes if a[0][0] in keys]
        theirs = [a for a in axes if a[0][0] not in keys]
        classes = math.prod(map(len, mine))
        cost = classes * (_MADE + (sum(map(_size, conds)) if tests is None else tests))
        if classes > MAX_CLASSES or cost > self.left:
            self.undecided.append(what)
            return None
        self.left -= cost
        free = self._escapes({}, _axes(rest, specs, pack), rest) if rest else True
        kept = []
        for fact in _classes(mine) if free else ():
            escapes = self._escapes(fact, theirs, relevant)
            if escapes is None:
                free = None
                break
            if escapes:
                kept.append(fact)
        if free is None:
            self.undecided.append(what)
            return None
        return kept

    def _escapes(self, fact: dict, axes: list, refusals: list) -> bool | None:
        """Whether some claim of the class `fact`, with a value on each of `axes`, escapes every refusal; None
        when the budget runs out first. Each claim is charged as it is tried (the first usually escapes, but
        in a class every refusal turns away, all are tried), and made one at a time."""
        unknown = {a[0][0] for a in axes}
        unknown |= {"groups"} if any(k.startswith(group_key("groups", "")) for k in unknown) else set()
        refusals = [r for r in refusals if conditions.possible(r, fact, frozenset(unknown))]  # the others never hold
        if any(not _fields(r) & unknown and conditions.holds(r, fact) for r in refusals):
            return False  # refused whatever the other fields hold
        per_claim = _MADE + sum(map(_size, refusals))
        for combo in itertools.product(*axes):
            self.left -= per_claim
            if self.left < 0:
                self.left = 0
                return None
            whole = {**fact, **{k: v for k, v in combo if v is not None}}
            if _member_type_fits(whole) and not any(conditions.holds(r, whole) for r in refusals):
                return True
        return False


@dataclass(frozen=True)
class Finding:
    """One thing lint found: its kind (unused-parameter, unused-counter, dead-row, uncovered,
    never-applies, no-cap, shared-counter, overlapping-basic, unheld-cap, no-basic, not-decided), where, and what."""

    kind: str
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]
    assumed: int  # parameter values whose source says 'assumed', in whole or in part (trace.is_assumed)
    values: int  # parameter values in all
    lifts_assumed: int = 0  # groups' lifted caps (lift_cap) whose source says 'assumed'
    lifts: int = 0  # groups' lifted caps in all


class _Uses:
    """A `Check` (kinds/base.py) that records what a layer names instead of checking it: its
    parameter references and counters. Each kind's own `check` says what it names, so a new kind
    is linted without a change here."""

    def __init__(self):
        self.params: list[str] = []
        self.counters: set[str] = set()

    def when(self, where, text, rule_id) -> None:
        pass

    def param(self, where, name, unit) -> None:
        if name:
            self.params.append(name)

    def counter(self, where, name) -> None:
        if name:
            self.counters.add(name)

    def period(self, where, counter, period) -> None:
        pass

    def rows(self, section, rows, unit, rule_ids) -> None:
        for row in rows:
            self.param(None, row.value, unit)

    def groups(self, groups, rule_ids) -> None:
        pass

    def problem(self, where, message) -> None:
        pass

    def values(self, ref, unit) -> list:
        return []  # no values are read: a check across versions (the order of bands) is the loader's

    def in_force(self, ref, unit, day) -> list:
        return []

    def value_problem(self, value, where, message) -> None:
        pass

    def together(self, rule_ids, fields) -> bool:
        return True


def lint(pack: RulePack) -> Report:
    """Everything lint finds in a loaded pack, in file order."""
    specs = field_specs(tuple(pack.meta.levels), tuple(pack.meta.diseases), tuple(pack.meta.services))
    files = _Files(Path(pack.directory))
    findings: list[Finding] = []

    used_params: set[str] = set()
    used_counters: set[str] = set()
    counters_of: dict[str, set[str]] = {}
    for layer in pack.layers:
        uses = _Uses()
        layer.check(uses)
        used_counters |= uses.counters
        counters_of[layer.id] = uses.counters
        for ref in uses.params:
            used_params.update(_named(ref, specs))
    used_params.update(_named(pack.meta.default_b_share, specs))

    unused = set(pack.parameters) - used_params
    for name in sorted(unused, key=lambda n: (*_param_site(pack, files, n)[:1], _param_site(pack, files, n)[1] or 0, n)):
        file, line = _param_site(pack, files, name)
        findings.append(Finding("unused-parameter", file, line,
                                f"parameter {name!r} is named by no layer and not by pack.yaml"))
    for i, counter in enumerate(c.name for c in pack.meta.counters):
        if counter not in used_counters:
            findings.append(Finding("unused-counter", files.rel("pack.yaml"), files.line("pack.yaml", ("counters", i)),
                                    f"counter {counter!r} is read or written by no layer"))
    refusals = [conditions.parse(r.when, specs) for r in pack.meta.refusals if r.when is not None]
    budget = _Budget()
    for layer in pack.layers:
        findings += _dead_rows(pack, layer, specs, files, refusals, budget)
        findings += _uncovered(pack, layer, specs, files, refusals, budget)
        findings += _idle(pack, layer, specs, files, refusals, budget)
        findings += _capless(pack, layer, specs, files, refusals, budget)
    findings += _shared_counters(pack, counters_of, specs, files, budget)
    findings += _overlapping_basics(pack, specs, files, refusals, budget)
    findings += _unheld_followed_caps(pack, specs, files, refusals, budget)
    findings += _without_basic(pack, specs, files, refusals, budget)
    if budget.undecided:
        n, shown = len(budget.undecided), "; ".join(budget.undecided[:5])
        more = f"; and {n - 5} more" if n > 5 else ""
        findings.append(Finding("not-decided", files.rel("pack.yaml"), None,
                                f"{n} check{'s' if n != 1 else ''} not decided, their conditions making too many "
                                f"classes of claims to try (at most {MAX_CLASSES:,} for one, {MAX_WORK:,} for the "
                                f"pack): {shown}{more}. Lint did not try these: each is unchecked"))

    values = [v for p in pack.parameters.values() for v in p.values]
    assumed = sum(v.assumed for v in values)
    lifts = pack.lifted_caps
    return Report(tuple(findings), assumed, len(values), sum(is_assumed(x.source) for x in lifts), len(lifts))


def _named(ref: str, specs) -> set[str]:
    """The parameters a reference can name: itself, or each combination its `[field]` parts can take."""
    base, parts = split_ref(ref)
    if not parts:
        return {ref}
    choices = [specs[p].values if p in BREAKDOWN_FIELDS and p in specs else (p,) for p in parts]
    return {base + "".join(f"[{k}]" for k in combo) for combo in itertools.product(*choices)}


class _Files:
    """The pack's files' locators, each read once, for the line of what lint reports."""

    def __init__(self, root: Path):
        self.root = root
        self.locators: dict[str, Locator | None] = {}

    def rel(self, inside: str) -> str:
        return str(Path(self.root.name) / inside)

    def inside(self, file: str) -> str:
        """A file's name as a loaded pack gives it (the pack folder's name first, none for `.`) within the pack."""
        return str(Path(file).relative_to(Path(self.root.name)))

    def line(self, inside: str, where: tuple) -> int | None:
        if inside not in self.locators:
            path = self.root / inside
            try:  # a pack reads only its own files: a link out of the folder made since it was loaded is not read
                own = path.resolve().is_relative_to(self.root.resolve())
                self.locators[inside] = load_file(path)[1] if own else None
            except (BenefitsError, OSError):  # changed since the pack was loaded: no line
                self.locators[inside] = None
        loc = self.locators[inside]
        return loc.line(where) if loc else None


def _param_site(pack: RulePack, files: _Files, name: str) -> tuple[str, int | None]:
    """Where a parameter is defined: its file, and the line of its name (a breakdown's combination:
    the line of its first value)."""
    first = pack.parameters[name].values[0]
    inside = files.inside(first.file)
    base = split_ref(name)[0]
    line = first.line if base != name else files.line(inside, (name,))
    return first.file, line or first.line


# --- dead rows --------------------------------------------------------------------------


def _dead_rows(pack: RulePack, layer, specs, files: _Files, refusals: list, budget: _Budget) -> list[Finding]:
    out: list[Finding] = []
    layer_when = conditions.parse(layer.when, specs)
    for path, rows in decision_tables(layer):
        rule_ids = layer.rule_ids(path[0], rows)
        conds = [conditions.parse(r.when, specs) if r.when is not None else None for r in rows]
        at = ".".join(map(str, path))
        # on every class, each row is tried with the layer's `when:` and against the rows before it
        sizes = list(map(_size, conds))
        tests = sum(sizes[i] * (len(rows) - i) for i in range(len(rows))) + len(rows) * _size(layer_when)
        classes = budget.settled([c for c in conds if c is not None] + [layer_when], refusals, specs, pack,
                                 f"layer {layer.id!r}: {at} (its dead rows)", tests)
        first = {}  # each condition's first row, and (under None) the first row without one
        for i, cond in enumerate(conds):
            first.setdefault(cond, i)
        for i in range(len(rows)):
            cover = _covered_by(i, conds, layer_when, classes, first)
            if cover is None:
                continue
            file, line = pack.sites.get(rule_ids[i], (files.rel(f"layers/{layer.id}.yaml"), None))
            out.append(Finding("dead-row", file, line, f"layer {layer.id!r}: {at}[{i}] can never be chosen: {cover}"))
    return out


def _uncovered(pack: RulePack, layer, specs, files: _Files, refusals: list, budget: _Budget) -> list[Finding]:
    """Decision tables without a row for some claims the layer applies to (and the pack does not
    refuse): such a claim would be refused at settlement ("no ratio row applies")."""
    out: list[Finding] = []
    layer_when = conditions.parse(layer.when, specs)
    for path, rows in decision_tables(layer):
        if path == ("caps",) or any(r.when is None for r in rows):  # no cap row leaves a claim uncapped: _capless
            continue
        conds = [conditions.parse(r.when, specs) for r in rows]
        at = ".".join(map(str, path))
        classes = budget.settled(conds + [layer_when], refusals, specs, pack,
                                 f"layer {layer.id!r}: {at} (claims no row holds for)")
        if classes is None:
            continue
        missed = next((f for f in classes if conditions.holds(layer_when, f)
                       and not any(conditions.holds(c, f) for c in conds)), None)
        if missed is None:
            continue
        read = conditions.reads(conds + [layer_when], specs)[0]  # the example names what the table and the layer read
        example = ", ".join(f"{k} {v}" for k, v in sorted(missed.items()) if k in read)
        file, line = pack.sites.get(layer.rule_ids(path[0], rows)[0], (files.rel(f"layers/{layer.id}.yaml"), None))
        out.append(Finding("uncovered", file, line, f"layer {layer.id!r}: no row of {at} holds for some claims the layer "
                                                    f"applies to ({example}): such a claim would be refused"))
    return out


def _idle(pack: RulePack, layer, specs, files: _Files, refusals: list, budget: _Budget) -> list[Finding]:
    """Caps, adjustments and groups (each applies wherever its `when:` holds, not the first of a
    table) whose condition never holds on a claim the layer applies to: a cap that never applies
    leaves the layer without it, silently."""
    out: list[Finding] = []
    layer_when = conditions.parse(layer.when, specs)
    for section in ("caps", "adjustments", "groups"):
        items = getattr(layer, section, None) or []
        ids = layer.group_rules if section == "groups" else layer.rule_ids(section, items)
        for i, (item, rid) in enumerate(zip(items, ids)):
            if item.when is None:
                continue
            cond = conditions.parse(item.when, specs)
            classes = budget.settled([cond, layer_when], refusals, specs, pack,
                                     f"layer {layer.id!r}: {section}[{i}] (whether it ever applies)")
            if classes is None or any(conditions.holds(layer_when, f) and conditions.holds(cond, f) for f in classes):
                continue
            file, line = pack.sites.get(rid, (files.rel(f"layers/{layer.id}.yaml"), None))
            out.append(Finding("never-applies", file, line, f"layer {layer.id!r}: {section}[{i}] never applies: its "
                                                            "condition never holds on a claim this layer applies to"))
    return sorted(out, key=lambda f: f.line or 0)  # in file order


def _capless(pack: RulePack, layer, specs, files: _Files, refusals: list, budget: _Budget) -> list[Finding]:
    """A layer with caps under which some claims it pays have none: no row of its caps holds for them,
    so they are paid without a limit (a cap row written `when: scheme == resident` leaves employees
    uncapped). A layer whose groups lift the cap does so by a group, not by a missing row."""
    caps = getattr(layer, "caps", None) or []
    if not caps or any(c.when is None for c in caps):
        return []
    layer_when = conditions.parse(layer.when, specs)
    conds = [conditions.parse(c.when, specs) for c in caps]
    groups = getattr(layer, "groups", None) or []
    paid = [conditions.parse(g.when, specs) for g in groups] if layer.pays_groups_only and all(g.when for g in groups) else []
    classes = budget.settled(conds + [layer_when] + paid, refusals, specs, pack,
                             f"layer {layer.id!r}: caps (claims no cap row holds for)")
    if classes is None:
        return []
    missed = next((f for f in classes if conditions.holds(layer_when, f) and (not paid or any(conditions.holds(g, f) for g in paid))
                   and not any(conditions.holds(c, f) for c in conds)), None)
    if missed is None:
        return []
    example = _example(missed, conds + [layer_when] + paid, specs)
    file, line = pack.sites.get(layer.rule_ids("caps", caps)[0], (files.rel(f"layers/{layer.id}.yaml"), None))
    return [Finding("no-cap", file, line, f"layer {layer.id!r}: no row of caps holds for some claims the layer pays "
                                          f"({example}): such a claim is paid with no cap")]


def _shared_counters(pack: RulePack, counters_of: dict[str, set[str]], specs, files: _Files,
                     budget: _Budget) -> list[Finding]:
    """Two layers that name the same counter and can both apply to one claim: each would add the
    claim to it (a copy of a layer under a new id paid twice, and counted twice). Layers sharing a
    cap for claims of different kinds (the basic fund's inpatient and 门特 layers) never both apply."""
    out: list[Finding] = []
    for a, b in itertools.combinations(pack.layers, 2):
        shared = counters_of[a.id] & counters_of[b.id]
        if not shared:
            continue
        wa, wb = conditions.parse(a.when, specs), conditions.parse(b.when, specs)
        classes = budget.settled([wa, wb], [], specs, pack, f"layers {a.id!r} and {b.id!r} (whether both apply to a claim)")
        if classes is None or not any(conditions.holds(wa, f) and conditions.holds(wb, f) for f in classes):
            continue  # undecided (the budget lists it), or the two never apply to one claim
        i = [layer.id for layer in pack.layers].index(b.id)
        out.append(Finding("shared-counter", files.rel("pack.yaml"), files.line("pack.yaml", ("layers", i)),
                           f"layers {a.id!r} and {b.id!r} both name counter {sorted(shared)[0]!r} and can apply to the "
                           "same claim: each would add the claim to it"))
    return out


def _example(fact: dict, conds: list, specs) -> str:
    """The fields of a class of claims that `conds` read, as an author would write them."""
    read, groups_read, _ = conditions.reads(conds, specs)
    return ", ".join([f"{k} {v}" for k, v in sorted(fact.items()) if k in read]
                     + [f"groups has {g}" for g in sorted(groups_read) if fact.get(group_key("groups", g))])


def _basic_funds(pack: RulePack) -> list:
    return [layer for layer in pack.layers if layer.kind == "basic_fund"]


def _when_site(pack: RulePack, layer, files: _Files) -> tuple[str, int | None]:
    """Where a layer's `when:` is: a finding about the claims the layer applies to is reported there."""
    return pack.sites.get(layer.when_rule, (files.rel(f"layers/{layer.id}.yaml"), None))


def _overlapping_basics(pack: RulePack, specs, files: _Files, refusals: list, budget: _Budget) -> list[Finding]:
    """Two basic-fund layers that can apply to one claim: the engine refuses every such claim (one fund
    reads one deductible, ratio and cap per claim), so the pack cannot settle claims it means to cover."""
    out: list[Finding] = []
    for a, b in itertools.combinations(_basic_funds(pack), 2):
        wa, wb = conditions.parse(a.when, specs), conditions.parse(b.when, specs)
        classes = budget.settled([wa, wb], refusals, specs, pack,
                                 f"basic-fund layers {a.id!r} and {b.id!r} (whether both apply to a claim)")
        both = next((f for f in classes or () if conditions.holds(wa, f) and conditions.holds(wb, f)), None)
        if both is None:
            continue
        out.append(Finding("overlapping-basic", *_when_site(pack, b, files),
                           f"basic-fund layers {a.id!r} and {b.id!r} both apply to some claims "
                           f"({_example(both, [wa, wb], specs)}): each such claim is refused"))
    return out


def _unheld_followed_caps(pack: RulePack, specs, files: _Files, refusals: list, budget: _Budget) -> list[Finding]:
    """A layer that follows a basic-fund cap (the large-amount subsidy) on claims where a basic-fund layer
    applies without that cap (a cap renamed, or held for fewer claims): the engine refuses each such claim."""
    out: list[Finding] = []
    basics = _basic_funds(pack)
    for layer in pack.layers:
        followed = getattr(layer, "follows_cap", None)
        if not followed:
            continue
        lw = conditions.parse(layer.when, specs)
        for basic in basics:
            rows = [c for c in basic.caps if c.id == followed]
            others = [c for c in basic.caps if c.id != followed]
            if any(c.when is None for c in rows) or not others:
                continue  # held on every claim the basic fund pays, or the fund holds no other cap
            bw = conditions.parse(basic.when, specs)
            conds = [conditions.parse(c.when, specs) for c in rows]
            other = [conditions.parse(c.when, specs) for c in others if c.when is not None]
            always = any(c.when is None for c in others)
            classes = budget.settled([lw, bw, *conds, *other], refusals, specs, pack,
                                     f"layer {layer.id!r}: cap {followed!r} of basic-fund layer {basic.id!r}")
            # a claim the fund holds another cap for, not this one (with no cap at all, it never reaches one)
            missed = next((f for f in classes or () if conditions.holds(lw, f) and conditions.holds(bw, f)
                           and not any(conditions.holds(c, f) for c in conds)
                           and (always or any(conditions.holds(c, f) for c in other))), None)
            if missed is None:
                continue
            file, _ = _when_site(pack, layer, files)
            out.append(Finding("unheld-cap", file, files.line(files.inside(file), ("cap",)),
                               f"layer {layer.id!r} follows cap {followed!r}, which basic-fund layer {basic.id!r} "
                               f"does not hold for some claims both apply to ({_example(missed, [lw, bw, *conds], specs)})"
                               f", holding another cap: each such claim is refused"))
    return out


def _without_basic(pack: RulePack, specs, files: _Files, refusals: list, budget: _Budget) -> list[Finding]:
    """Serious illness (cumulative bands) or aid (a residual ratio paying named groups) on claims no basic-fund
    or fixed-amount layer before it pays: it works on the whole policy-range amount, as if the fund had paid
    nothing (a visit kind taken out of the basic fund's `when:` and given no layer of its own). A residual
    ratio paying every member (a city's finance share of a COVID test) is no such layer."""
    out: list[Finding] = []
    if not _basic_funds(pack):
        return out
    for i, layer in enumerate(pack.layers):
        aid = layer.kind == "residual_ratio" and all(g.when is not None for g in layer.groups)
        if layer.kind != "cumulative_bands" and not aid:
            continue
        basics = [conditions.parse(e.when, specs) for e in pack.layers[:i] if e.kind in ("basic_fund", "fixed_amount")]
        lw = conditions.parse(layer.when, specs)
        classes = budget.settled([lw, *basics], refusals, specs, pack,
                                 f"layer {layer.id!r} (claims no basic-fund layer applies to)")
        alone = next((f for f in classes or () if conditions.holds(lw, f)
                      and not any(conditions.holds(b, f) for b in basics)), None)
        if alone is None:
            continue
        out.append(Finding("no-basic", *_when_site(pack, layer, files),
                           f"layer {layer.id!r} applies to some claims no basic-fund or fixed-amount layer before it "
                           "applies to "
                           f"({_example(alone, [lw, *basics], specs)}): it works on their whole policy-range amount"))
    return out


def _covered_by(i: int, conds: list, layer_when, classes, first: dict) -> str | None:
    """Why row `i` is never chosen (an earlier row always holds where it does), or None. `first`: each
    condition's first row, None's the first row without one."""
    j = first.get(None, i)
    if j < i:
        return f"{'the row' if i - j == 1 else f'row {j}'} before it has no `when:` and always holds"
    j = first[conds[i]]
    if j < i:
        return f"row {j} has the same condition"
    if classes is None:
        return None  # too many classes of claims to try
    reach = [f for f in classes if conditions.holds(layer_when, f) and (conds[i] is None or conditions.holds(conds[i], f))]
    if not reach:
        return "its condition never holds on a claim this layer applies to"
    if all(any(conditions.holds(conds[j], f) for j in range(i)) for f in reach):
        alone = [j for j in range(i) if all(conditions.holds(conds[j], f) for f in reach)]
        if alone:
            return f"row {alone[0]} holds whenever it does"
        some = [j for j in range(i) if any(conditions.holds(conds[j], f) for f in reach)]
        return f"rows {', '.join(map(str, some))} before it hold, between them, whenever it does"
    return None


def _days_around(key: int) -> tuple[int, ...]:
    """A date constant (YYYYMMDD) and the days either side of it, as dates: 20210630 -> 20210629,
    20210630, 20210701 (20210631, its integer neighbour, is no day a claim can have)."""
    day = dt.date(key // 10000, key // 100 % 100, key % 100)
    out = [key]
    for step in (-1, 1):
        try:
            out.append(date_key(day + dt.timedelta(days=step)))
        except OverflowError:  # before 0001-01-01 or after 9999-12-31: no claim's day
            pass
    return tuple(out)


def _axes(conds: list, specs, pack: RulePack) -> list[list[tuple[str, object]]]:
    """Per field the conditions read, the values that stand for its classes: only claims the engine settles
    under `pack`, of a visit kind it covers, dated within its versions, with the member fields its
    conditions require."""
    fields, groups, constants = conditions.reads(conds, specs)
    first, last = date_key(pack.versions[0].start), date_key(pack.versions[-1].end)
    axes: list[list[tuple[str, object]]] = []
    for name in sorted(fields):
        spec = specs[name]
        if spec.kind is FieldKind.ENUM:
            values = pack.meta.visits if name == "visit" else spec.values
            if name == "member_type" and name in pack.required_fields:
                values = [v for v in values if v != "unknown"]
            axes.append([(name, v) for v in values])
        elif spec.kind is FieldKind.BOOL:
            axes.append([(name, True), (name, False)])
        elif spec.kind is FieldKind.DATE:  # each side of each constant, within the versions
            points = sorted({p for c in constants.get(name, ()) for p in _days_around(c) if first <= p <= last})
            axes.append([(name, p) for p in points or [first]])
        else:  # each side of each constant within the ages a claim holds, and (age may be omitted) absent
            points = sorted({p for c in constants.get(name, ()) for p in (c - 1, c, c + 1) if 0 <= p <= MAX_AGE})
            optional = name == "age" and name not in pack.required_fields
            axes.append([(name, p) for p in points or [0]] + ([(name, None)] if optional else []))
    for g in sorted(groups):
        axes.append([(group_key("groups", g), True), (group_key("groups", g), False)])
    return axes


def _classes(axes: list[list[tuple[str, object]]]) -> list[dict]:
    """One fact for each class of claims: each combination of the axes' values a member can have."""
    facts = ({k: v for k, v in combo if v is not None} for combo in itertools.product(*axes))
    return [f for f in facts if _member_type_fits(f)]


def _member_type_fits(fact: dict) -> bool:
    """A claim's member type is one of its scheme's (an employee is never an adult resident)."""
    scheme, kind = fact.get("scheme"), fact.get("member_type")
    return scheme is None or kind in (None, "unknown") or kind in MEMBER_TYPE_NAMES[scheme]
