"""Loading a rule pack: read every file, validate it, check every reference, compile conditions.

Every problem found is collected (file, line, field, what was expected) and the pack is
refused as a whole with all of them: a pack is never half-loaded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import math
import os
import re
from bisect import bisect_right
from collections import Counter
from decimal import Decimal
from operator import attrgetter
from pathlib import Path
from typing import Annotated

from pydantic import Field, TypeAdapter, ValidationError

from .. import conditions
from ..dates import Day
from ..errors import ConditionSyntaxError, Problem, RuleFileError, error_message, error_path, first_of
from ..facts import FieldKind, field_specs
from ..matcher import LimitError, make_matcher
from ..models.accumulators import MAX_YEAR, MIN_YEAR
from ..models.claim import MEMBER_TYPE_NAMES
from ..money import POINT, parse_money, ratio_of, shifted, to_fen, trimmed, units_of
from ..yamlio import Locator, YamlError, is_dir, load_bytes, read_file
from ..kinds import KINDS, LayerFile
from .files import BREAKDOWN_FIELDS, NAME_PATTERN, SOURCE_KIND_MISSING, SOURCE_KINDS, BreakdownFile, DatedValue, PackFile, ParameterFile, Text
from .pack import DiseaseList, Parameter, ParameterValue, RulePack, Version
from .refs import split_ref

# Built on first use, not at import: a command that loads no pack (schema, --help) need not pay for them.
_adapters: dict[str, TypeAdapter] = {}


def _adapter(name: str) -> TypeAdapter:
    found = _adapters.get(name)
    if found is None:
        found = _adapters[name] = TypeAdapter({"layer": LayerFile, "date": Day, "values": Annotated[dict[Day, DatedValue], Field(min_length=1)]}[name])
    return found


# Bounds on what a pack may make the loader read and derive, beyond each file's own bounds
# (yamlio). A real pack is tens of kilobytes with a few versions and a few hundred parameters.
MAX_PACK_BYTES = 10_000_000
"""All of a pack's files together (the real packs: 50 kB)."""
MAX_VERSIONS = 400
"""Version dates: more than a year of daily versions."""
MAX_IN_FORCE = 250_000
"""Versions x parameters: the table of values in force per version date (RulePack.values_on)
holds one entry per pair. 2,500 versions x 14,000 parameters took 15 s and 1.1 GB to load."""


class _Collector:
    """Problems found so far, with the current file's locator to turn paths into lines."""

    def __init__(self, root: Path):
        self.root = root
        self.real_root = _real(root)
        self.problems: list[Problem] = []
        self.budget = MAX_PACK_BYTES  # bytes the pack's files may still take
        self.read: dict[Path, bytes] = {}  # the bytes of each file read, for the pack's content hash
        self.broken: set[str] = set()  # parameters defined with a problem: a reference to one is no second problem
        self.unread: list[str] = []  # parameter files refused whole: what they define is not known

    def outside(self, path: Path) -> str | None:
        """Why `path`, links followed, is not a file of the pack's own folder (None: it is)."""
        real = _real(path)
        if real is None or self.real_root is None:
            return "is a link that cannot be followed (a loop, or a name too long)"
        if not real.is_relative_to(self.real_root):
            return "is a link to a file outside the pack's folder; a pack reads only its own files"
        return None

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root.parent))
        except ValueError:
            return str(path)

    def add(self, path: Path, locator: Locator | None, where: tuple, message: str) -> None:
        line = locator.line(where) if locator else None
        self.problems.append(Problem(self.rel(path), line, ".".join(map(str, where)), message))

    def validation(self, path: Path, locator: Locator, exc: ValidationError, prefix: tuple = (),
                   data: object = None) -> None:
        for err in exc.errors():
            self.add(path, locator, prefix + _as_written(data, error_path(err, KINDS)), error_message(err, KINDS))


def _as_written(data: object, where: tuple) -> tuple:
    """A pydantic error's path with each mapping key as the file writes it. Pydantic names a key that
    is not text or a number by its repr (`datetime.date(2024, 1, 1)`), which is neither what the
    author wrote (2024-01-01) nor a path the locator can find a line for."""
    out = []
    node = data
    for part in where:
        if isinstance(node, dict):
            if part not in node:
                part = next((k for k in node if repr(k) == part), part)
            node = node.get(part) if _hashable(part) else None
            out.append(part.isoformat() if isinstance(part, dt.date) else part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            out.append(part)
        else:
            node = None
            out.append(part)
    return tuple(out)


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _lexists(path: Path) -> bool:
    try:
        return os.path.lexists(path)
    except (OSError, ValueError):
        return False


def _real(path: Path) -> Path | None:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a link loop, a name too long
        return None


def _read(col: _Collector, path: Path) -> tuple[object, Locator] | None:
    # A link out of the folder would make the pack a way to read any file and have the loader's
    # messages quote it; the pack is refused instead.
    outside = col.outside(path)
    if outside:
        col.problems.append(Problem(col.rel(path), None, "", outside))
        return None
    try:
        col.budget -= path.stat().st_size
    except OSError:
        pass  # read_file says why it cannot be read
    if col.budget < 0:
        col.problems.append(Problem(col.rel(path), None, "", f"not read: the pack's files take more than {MAX_PACK_BYTES:,} bytes in all"))
        return None
    try:
        raw = read_file(path)
        col.read[path] = raw  # hashed as read: the hash names exactly the bytes the pack came from
        return load_bytes(raw, path)
    except YamlError as exc:
        col.problems.append(Problem(col.rel(path), exc.line, "", exc.message))
        return None


def _model(col: _Collector, path: Path, locator: Locator, data: object, model, prefix: tuple = ()):
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_python(data)
        return model.model_validate(data)
    except ValidationError as exc:
        col.validation(path, locator, exc, prefix, data)
        return None


# --- parameters -------------------------------------------------------------------------


_PERCENT = re.compile(r"([0-9]{1,3}(?:\.[0-9]+)?)%")


def _parse_value(unit: str, raw: object) -> Decimal:
    if unit == "yuan":
        return parse_money(raw)
    if unit == "percent":
        # ASCII digits as written, as every number of a pack: Decimal() alone reads 6.5e1, 1_0, ６５
        # and 1e-999999999 (a ratio of 0)
        written = _PERCENT.fullmatch(raw) if isinstance(raw, str) else None
        if written is None:
            raise ValueError(f"a percent is written like 65% or 12.5%, got {raw!r}")
        number = Decimal(written.group(1))
        if number > 100:
            raise ValueError(f"a percent lies between 0% and 100%, got {raw}")
        return shifted(number, 2)  # exact: a division would round to the caller's context
    if isinstance(raw, bool) or not isinstance(raw, (int, Decimal)):
        raise ValueError(f"points are a number such as -10 or 3, got {raw!r}")
    value = Decimal(raw)
    if not Decimal(-100) <= value <= Decimal(100):
        raise ValueError(f"points lie between -100 and 100, got {raw}")
    if value and abs(value) < 1:
        # every policy encoded moves a ratio by whole points (or at least one): 0.03 is 3% written
        # as a fraction, which would settle at 65% + 0.03 points = 65.03%
        meant = trimmed(shifted(value, -2))
        raise ValueError(f"points are percentage points: 3 means +3% (65% + 3 points = 68%), and {raw} looks like "
                         f"a fraction; write {meant} for {meant:+f} points")
    return value


def _units(unit: str, value: Decimal) -> int:
    """The value as the calculator holds it: fen, or ratio units (parts per million) for a percent
    and for points."""
    if unit == "yuan":
        return to_fen(value)
    if unit == "percent":
        return ratio_of(value)
    units = units_of(value, POINT)
    if units is None:
        raise ValueError(f"points have at most four decimals, got {value}")
    return units


def _repeated_dates(values: object) -> list[tuple[object, object, dt.date]]:
    """Keys of a parameter's `values` naming a date an earlier key names (2022-01-01 and
    '2022-01-01'): validation would keep only one of the two values, silently."""
    if not isinstance(values, dict):
        return []
    seen: dict[dt.date, object] = {}
    out = []
    for key in values:
        try:
            day = _adapter("date").validate_python(key)
        except ValidationError:
            continue  # reported by the model's validation
        if day in seen:
            out.append((key, seen[day], day))
        seen.setdefault(day, key)
    return out


def _written(key: object) -> str:
    return repr(key) if isinstance(key, str) else str(key)


def _other_spellings(col: _Collector, folder: Path) -> None:
    """A file a pack folder holds under another spelling of `.yaml` (`.yml`, `.YAML`): never read, so its
    parameters or layer are missing while its author sees it there."""
    if not is_dir(folder):
        return
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in (".yml", ".yaml") or path.suffix == ".yaml" or not path.is_file():
            continue
        twin = path.with_suffix(".yaml")
        advice = (f"{twin.name} beside it is read: merge what this one holds into it, or remove this one"
                  if _lexists(twin) else f"rename it {twin.name}")
        col.add(path, None, (), f"not read: a pack reads the files of {folder.name}/ ending in .yaml; {advice}")


def _parameters(col: _Collector, root: Path, meta: PackFile, specs) -> dict[str, Parameter]:
    params: dict[str, Parameter] = {}
    where_defined: dict[str, str] = {}
    folder = root / "parameters"
    _other_spellings(col, folder)
    files = sorted(folder.glob("*.yaml")) if is_dir(folder) else []
    if not files:
        col.add(root / "parameters", None, (), "expected a folder parameters/ with at least one .yaml file")
    for path in files:
        read = _read(col, path)
        if read is None or not isinstance(read[0], dict):
            if read is not None:
                col.add(path, read[1], (), "expected a mapping of parameter names to parameters")
            _unread(col, path)
            continue
        data, loc = read
        for name, body in data.items():
            if not isinstance(name, str) or not _is_name(name):
                col.add(path, loc, (name,), f"expected a parameter name of lower-case words joined by '.', got {name!r}")
                continue
            if name in where_defined:
                col.add(path, loc, (name,), f"parameter {name!r} is already defined in {where_defined[name]}")
                continue
            where_defined[name] = col.rel(path)
            if isinstance(body, dict) and "breakdown" in body:
                params.update((p.name, p) for p in _breakdown(col, path, loc, name, body, meta, specs))
                continue
            p = _parameter(col, path, loc, name, body, meta, (name,))
            if p is not None:
                params[name] = p
            else:
                col.broken.add(name)
    return params


_TOP_KEY = re.compile(r"""^["']?([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*)["']?[ \t]*:(?=[ \t\r]|$)""", re.MULTILINE)
"""A parameter's name as a key at the start of a line: the top-level keys of a parameter file."""


def _unread(col: _Collector, path: Path) -> None:
    """A parameter file refused whole (not YAML, not a mapping, not read at all) has had its problem
    reported: the parameters whose names start a line of it are broken, so that what refers to them
    is no second problem; a reference to any other undefined parameter says the file was not read."""
    col.unread.append(col.rel(path))
    raw = col.read.get(path)
    if raw is not None:
        col.broken.update(m.group(1) for m in _TOP_KEY.finditer(raw.decode("utf-8", "replace")))


def _parameter(col: _Collector, path: Path, loc: Locator, name: str, body: object, meta: PackFile,
               at: tuple) -> Parameter | None:
    """One parameter's dated values; `at` is where its body is in the file."""
    if _repeated(col, path, loc, body.get("values") if isinstance(body, dict) else None, at + ("values",)):
        return None
    p = _model(col, path, loc, body, ParameterFile, at)
    return None if p is None else _dated(col, path, loc, name, p.description, p.unit, p.values, meta, at + ("values",))


def _repeated(col: _Collector, path: Path, loc: Locator, values: object, at: tuple) -> bool:
    """Whether a date is given twice in `values` (each reported)."""
    repeated = _repeated_dates(values)
    for key, first, day in repeated:
        col.add(path, loc, at + (key,), f"the date {day} is given twice (as {_written(first)} and as {_written(key)}); one value a date")
    return bool(repeated)


def _dated(col: _Collector, path: Path, loc: Locator, name: str, description: Text, unit: str, dated: dict,
           meta: PackFile, at: tuple) -> Parameter:
    """A parameter from its dated values, each read in its unit; `at` is where the values are."""
    values = []
    for start, dv in sorted(dated.items()):
        where = at + (start,)
        try:
            value = _parse_value(unit, dv.value)
            units = _units(unit, value)
        except (ValueError, ArithmeticError) as exc:
            col.add(path, loc, where, str(exc))
            continue
        if not dv.source.startswith(SOURCE_KINDS):
            col.add(path, loc, where + ("source",), SOURCE_KIND_MISSING)
        if start not in meta.versions:
            col.add(path, loc, where, f"{start} is not one of the pack's version dates {', '.join(map(str, meta.versions))}")
        values.append(ParameterValue(name, description, unit, start, value, dv.source, col.rel(path), loc.line(where), units))
    if dated and min(dated) != meta.versions[0]:
        col.add(path, loc, at, f"the first value must start on the pack's first version date {meta.versions[0]}, not {min(dated)}")
    return Parameter(name, description, unit, tuple(values))


def _breakdown(col: _Collector, path: Path, loc: Locator, name: str, body: dict, meta: PackFile, specs) -> list[Parameter]:
    """A parameter with a `breakdown:`, as one parameter per combination of its fields' values
    (`name[resident][level1]`); every combination must be given, and only those."""
    b = _model(col, path, loc, body, BreakdownFile, (name,))
    if b is None:
        col.broken.add(name)
        return []
    out: list[Parameter] = []

    def walk(node: object, fields: list[str], keys: tuple) -> None:
        at = (name, "values") + keys
        if not fields:  # a leaf: the dated values of one combination
            leaf = name + "".join(f"[{k}]" for k in keys)
            dated = None if _repeated(col, path, loc, node, at) else _model(col, path, loc, node, _adapter("values"), at)
            if dated is not None:
                out.append(_dated(col, path, loc, leaf, _combination(b.description, keys), b.unit, dated, meta, at))
            else:
                col.broken.add(leaf)
            return
        domain = breakdown_domain(fields[0], specs, meta)
        if not isinstance(node, dict):
            col.add(path, loc, at, f"expected a mapping of {fields[0]} values ({', '.join(domain)}) to values")
            return
        for key in node:
            if key not in domain:
                col.add(path, loc, at + (key,), f"{key!r} is not a value of {fields[0]!r}; expected one of: {', '.join(domain)}")
        for value in domain:
            if value not in node:
                col.add(path, loc, at, f"no values for {fields[0]} {value!r}: a breakdown gives every combination")
            else:
                walk(node[value], fields[1:], keys + (value,))

    walk(b.values, list(b.breakdown), ())
    return out


def _combination(description: Text, keys: tuple) -> Text:
    """The description of one combination of a breakdown: in English with the combination's ids
    ('inpatient ratio (resident, level2)'). The Chinese half is the parameter's own: Chinese text that
    names the combination does so in words, from the parameter's name (居民，二级)."""
    return Text(zh=description.zh, en=f"{description.en} ({', '.join(keys)})")


def _is_name(text: str) -> bool:
    return re.fullmatch(NAME_PATTERN, text) is not None  # "$" would let a final line break through


def breakdown_domain(field: str, specs, meta: PackFile) -> tuple[str, ...]:
    """The values a breakdown over `field` gives one value for: the field's, but for `visit` only
    the visit kinds the pack covers (a claim of another kind is refused before any value is read)."""
    return tuple(meta.visits) if field == "visit" else tuple(specs[field].values)


def _reference_problem(params: dict[str, Parameter], name: str, unit: str, specs=None,
                       broken: set[str] = frozenset(), meta: PackFile | None = None,
                       unread: list[str] = ()) -> str | None:
    """What is wrong with a reference to parameter `name` where a value in `unit` is needed. A
    reference with `[field]` parts must find a parameter for every value of each field. A parameter in
    `broken` (defined, but refused for a problem of its own, already reported) is no second problem;
    `unread` are the parameter files refused whole, one of which may define a parameter not found."""
    base, parts = split_ref(name)
    if base in broken:
        return None
    if parts:
        choices = _choices(parts, specs, meta)
        # The combinations are a product of the pack's own lists (levels x diseases x services can
        # be millions); the defined ones are bounded by the files. Counting the defined ones and
        # walking the product only up to the first missing one costs no more than the files.
        def names():
            return _combinations(base, choices)

        missing = next((n for n in names() if n not in params and n not in broken), None)
        if missing is not None:
            allowed = [set(c) for c in choices]
            defined = sum(1 for n in set(params).union(broken) if _one_of(n, base, allowed))
            more = math.prod(len(c) for c in choices) - defined - 1
            return _undefined(missing, unread, f" (and {more} more of its combinations)" if more else "") + _stray(
                parts, specs, meta)
        name = next((n for n in names() if n in params), None)
        if name is None:  # every combination refused for its own problems
            return None
    p = params.get(name)
    if p is None:
        return _undefined(name, unread)
    if p.unit != unit:
        return f"parameter {name!r} is in {p.unit}; expected one in {unit}"
    return None


def _stray(parts: tuple[str, ...], specs, meta: PackFile | None) -> str:
    """Why a reference's `[part]` may be a slip: a part that is neither a field of a breakdown nor a value of
    one ('[levels]' for '[level]') is read as a value no parameter is broken down by."""
    if not specs or meta is None:
        return ""
    for part in parts:
        if part not in BREAKDOWN_FIELDS and not any(part in breakdown_domain(f, specs, meta) for f in BREAKDOWN_FIELDS):
            return (f"; [{part}] is neither a field a parameter is broken down by ({', '.join(BREAKDOWN_FIELDS)}) nor "
                    "a value of one")
    return ""


def _undefined(name: str, unread: list[str], more: str = "") -> str:
    files = " and ".join(unread)
    return (f"refers to parameter {name!r}, which no file in parameters/ defines{more}"
            + (f"; {files} could not be read and may define it" if unread else ""))


def _choices(parts: tuple[str, ...], specs, meta: PackFile | None) -> list[tuple[str, ...]]:
    """The values each `[part]` of a reference may take: a field's (breakdown_domain), or the one value named."""
    return [(breakdown_domain(part, specs, meta) if meta else specs[part].values)
            if specs and part in BREAKDOWN_FIELDS else (part,) for part in parts]


def _combinations(base: str, choices: list[tuple[str, ...]]):
    """The names of the parameters a reference with these choices may name, `base[a][b]`, lazily."""
    return (base + "".join(f"[{k}]" for k in combo) for combo in itertools.product(*choices))


def _one_of(name: str, base: str, allowed: list[set]) -> bool:
    """Whether parameter `name` is `base` with one of the allowed values in each `[part]`."""
    b, parts = split_ref(name)
    return b == base and len(parts) == len(allowed) and all(p in a for p, a in zip(parts, allowed))


# --- layers -----------------------------------------------------------------------------


class _LayerCheck:
    """Checks one layer's references and compiles its conditions."""

    def __init__(self, col, path, loc, layer, params, counters, specs, rules, sites, periods, roles, meta):
        self.col, self.path, self.loc, self.layer, self.meta = col, path, loc, layer, meta
        self.params, self.counters, self.specs = params, counters, specs
        self.rules, self.sites = rules, sites
        self.periods = periods  # counter -> (period, where) of the first cap drawing on it, across layers
        self.roles = roles  # counter -> (role, where) of the first field naming it, across layers
        self.named: dict[tuple, tuple[str, ...]] = {}  # (reference, unit) -> the parameters it may name

    def param(self, where: tuple, name: str | None, unit: str) -> None:
        problem = name and _reference_problem(self.params, name, unit, self.specs, self.col.broken, self.meta,
                                              self.col.unread)
        if problem:
            self.col.add(self.path, self.loc, where, problem)

    def counter(self, where: tuple, name: str | None) -> None:
        if name is None:
            return
        if name not in self.counters:
            self.col.add(self.path, self.loc, where, f"counter {name!r} is not declared under `counters:` in pack.yaml")
            return
        # A counter keeps one thing: what a cap has paid, a deductible used, a cumulative base, a
        # balance. Named by two roles (a yearly deductible on a monthly cap's counter, the basic
        # fund's deductible on medical aid's), each reads the other's amounts as its own.
        role = f"{self.layer.kind} {'.'.join(str(w) for w in where if not isinstance(w, int))}"
        site = f"{self.col.rel(self.path)}:{self.loc.line(where)}"
        first = self.roles.setdefault(name, (role, site))
        if first[0] != role:
            self.col.add(self.path, self.loc, where, f"counter {name!r} is the {first[0]} at {first[1]}, and here the "
                         f"{role}: a counter keeps one thing (a cap's payments, a deductible used, a cumulative base), "
                         "so give each its own")

    def when(self, where: tuple, text: str | None, rule_id: str) -> None:
        """Compile a row's condition under its rule id; every row's site (file:line) is kept, with a
        condition or without, so that the trace can point at it."""
        self.sites[rule_id] = (self.col.rel(self.path), self.loc.line(where))
        if text is None:
            return
        try:
            node = conditions.parse(text, self.specs)
        except ConditionSyntaxError as exc:
            self.col.add(self.path, self.loc, where, f"condition: {exc}")
            return
        self.rules[rule_id] = node

    def period(self, where: tuple, counter: str | None, period: str) -> None:
        """A counter is kept per month or per year, not both: one monthly and one yearly cap on the
        same counter would read one key (name@YYYY-MM) against a year's payments, or the reverse."""
        if counter is None or period == "claim":
            return
        first = self.periods.setdefault(counter, (period, f"{self.col.rel(self.path)}:{self.loc.line(where)}"))
        if first[0] != period:
            self.col.add(self.path, self.loc, where, f"counter {counter!r} is drawn by a {first[0]}ly cap at {first[1]} "
                         f"and by this {period}ly cap: a counter is kept per month or per year, so give each its own")

    def rows(self, section: str, rows, unit: str, rule_ids: tuple) -> None:
        for i, (row, rid) in enumerate(zip(rows, rule_ids)):
            self.when((section, i, "when"), row.when, rid)
            if section == "caps" and split_ref(row.value)[1]:
                # a cap bounds its counter for every member (domain.md 6.11): one parameter a row
                self.problem((section, i, "value"), "a cap names one parameter, not a breakdown; give a row per case")
                continue
            self.param((section, i, "value"), row.value, unit)

    def groups(self, groups, rule_ids: tuple) -> None:
        seen = set()
        for i, (g, rid) in enumerate(zip(groups, rule_ids)):
            if g.id in seen:
                self.problem(("groups", i, "id"), f"group id {g.id!r} appears twice in this layer")
            seen.add(g.id)
            self.when(("groups", i, "when"), g.when, rid)

    def problem(self, where: tuple, message: str) -> None:
        self.col.add(self.path, self.loc, where, message)

    def values(self, ref: str, unit: str) -> list[ParameterValue]:
        """Every value, across versions, of every parameter `ref` may name (one per combination of a
        breakdown's fields); none for a reference with a problem, which is reported where it is made."""
        return [v for name in self._names(ref, unit) for v in self.params[name].values]

    def in_force(self, ref: str, unit: str, day: dt.date) -> list[ParameterValue]:
        """The value in force on `day` of every parameter `ref` may name (see `values`)."""
        found = []
        for name in self._names(ref, unit):
            values = self.params[name].values
            i = bisect_right(values, day, key=_START)
            if i:
                found.append(values[i - 1])
        return found

    def _names(self, ref: str, unit: str) -> tuple[str, ...]:
        names = self.named.get((ref, unit))
        if names is None:
            names = self.named[ref, unit] = _names_of(self.params, ref, unit, self.specs, self.col.broken, self.meta)
        return names

    def together(self, rule_ids: tuple[str, ...], fields: dict[str, str]) -> bool:
        """Whether the conditions of these rows (by rule id) can all hold on one claim whose breakdown
        fields are `fields`: each field two of them read is tried with each of its values (a word or
        yes/no field) or each side of every constant it is compared with (an age, a date, as lint
        tells classes of claims apart); any other field may go either way, so the answer errs
        towards yes."""
        nodes = [self.rules[r] for r in rule_ids if r in self.rules]  # a row with a problem is reported
        reads = [conditions.fields_of(n) for n in nodes]
        shared = sorted({f for i, a in enumerate(reads) for b in reads[i + 1:] for f in a & b} - set(fields) - {"groups"})
        constants = conditions.reads(nodes, self.specs)[2]
        unknown = frozenset(set().union(*reads) - set(fields) - set(shared))
        axes = [(True, False) if self.specs[f].kind is FieldKind.BOOL
                else breakdown_domain(f, self.specs, self.meta) if self.specs[f].kind is FieldKind.ENUM
                else sorted({p for c in constants.get(f, ()) for p in (c - 1, c, c + 1)})
                for f in shared]
        if math.prod(map(len, axes)) > 4096:
            return True
        return any(all(conditions.possible(n, {**fields, **dict(zip(shared, combo))}, unknown) for n in nodes)
                   for combo in itertools.product(*axes))

    def value_problem(self, value: ParameterValue, where: tuple, message: str) -> None:
        """A problem with a parameter's value, at its own file and line, found where this layer reads it."""
        base, parts = split_ref(value.name)
        field = ".".join((base, "values", *parts, value.start.isoformat()))
        read = f"{self.col.rel(self.path)}:{self.loc.line(where)} {'.'.join(map(str, where))}"
        self.col.problems.append(Problem(value.file, value.line, field, f"{message} (read by {read})"))


_START = attrgetter("start")


def _names_of(params: dict[str, Parameter], ref: str, unit: str, specs, broken: set[str], meta: PackFile) -> tuple[str, ...]:
    """Every parameter `ref` may name, in `unit`; none when the reference has a problem (_reference_problem)."""
    if _reference_problem(params, ref, unit, specs, broken, meta):
        return ()
    base, parts = split_ref(ref)
    return tuple(n for n in _combinations(base, _choices(parts, specs, meta)) if n in params)


def _check_order(col: _Collector, path: Path, loc: Locator, layers: list) -> None:
    """Cross-layer rules: the basic-fund layers pay first and what is not a fund (the personal
    account) pays last (domain.md section 1: each layer works on what the layers before it left);
    a layer that follows a cap (the large-amount subsidy) names a cap of a basic-fund layer before it."""
    cap_ids: set[str] = set()
    other = None  # the first layer listed that does not pay first
    for i, layer in enumerate(layers):
        if not layer.pays_first:
            other = other or layer.id
        elif other is not None:
            col.add(path, loc, ("layers", i), f"the basic-fund layer {layer.id!r} pays first, on the policy-range "
                                              f"amount before any other layer: list it before {other!r}")
        if not layer.fund and i != len(layers) - 1:
            col.add(path, loc, ("layers", i), f"the personal-account layer {layer.id!r} pays what every fund left: it must be listed last")
        if layer.follows_cap is not None and layer.follows_cap not in cap_ids:
            col.add(path, loc, ("layers", i), f"layer {layer.id!r} follows cap {layer.follows_cap!r}, which no basic-fund layer listed before it has")
        cap_ids.update(layer.cap_ids)


# --- the pack ---------------------------------------------------------------------------


def load_rules(directory: str | Path, matcher: str = "durable", *, memo: bool = True) -> RulePack:
    """Load, validate and compile the rule pack in `directory`.

    Raises RuleFileError listing every problem (file, line, what was expected); nothing of a
    malformed pack is kept. `matcher` is 'durable' (production) or 'reference' (plain Python);
    `memo` remembers which rules fire per combination of the fields the conditions read.
    """
    return load_rules_and_sources(directory, matcher, memo=memo)[0]


def load_rules_and_sources(directory: str | Path, matcher: str = "durable", *,
                           memo: bool = True) -> tuple[RulePack, dict[str, bytes]]:
    """`load_rules`, and the bytes of every file the pack was loaded from, by its path in the pack
    (`parameters/x.yaml`): the files its content hash covers, read once under the loader's rules (no
    link out of the folder, the size bounds). Whoever copies a pack copies these, not the folder,
    which may have changed since."""
    if not isinstance(directory, (str, Path)):
        raise TypeError(f"load_rules takes a folder path, not {type(directory).__name__}")
    root = Path(directory)
    if not is_dir(root):
        raise RuleFileError([Problem(str(root), None, "", "not a folder: a rule pack is a folder with pack.yaml")])
    col = _Collector(root)
    pack_path = root / "pack.yaml"
    meta, loc = _read_meta(col, pack_path)
    specs = field_specs(tuple(meta.levels), tuple(meta.diseases), tuple(meta.services))
    params = _parameters(col, root, meta, specs)
    _check_derived(col, pack_path, loc, meta, params)
    problem = _reference_problem(params, meta.default_b_share, "percent", broken=col.broken, unread=col.unread)
    if problem:
        col.add(pack_path, loc, ("default_b_share",), problem)
    diseases = _diseases(col, pack_path, loc, meta)
    rules, sites = _refusals(col, pack_path, loc, meta, specs)
    layers = _layers(col, root, pack_path, loc, meta, params, specs, rules, sites)
    if col.problems:
        raise RuleFileError(col.problems)

    compiled = _compile(col, pack_path, rules, sites, matcher, memo)
    read = set().union(*(conditions.fields_of(n) for n in rules.values())) if rules else set()
    ends = [v - dt.timedelta(days=1) for v in meta.versions[1:]] + [meta.valid_until]
    return RulePack(
        meta=meta,
        directory=str(root),
        versions=tuple(Version(s, e) for s, e in zip(meta.versions, ends, strict=True)),
        parameters=params,
        layers=tuple(layers),
        diseases=tuple(diseases),
        rules=rules,
        sites=sites,
        matcher=compiled,
        required_fields=frozenset(read & {"age", "member_type"}),
        counters={c.name: c.description for c in meta.counters},
        monthly_counters=frozenset(set().union(*(layer.monthly_counters for layer in layers))),
        content_hash=_content_hash(root, col.read),
        memo=memo,
    ), {path.relative_to(root).as_posix(): data for path, data in col.read.items()}


def _content_hash(root: Path, files: dict[Path, bytes]) -> str:
    """sha256 of the files the pack was loaded from: each one's path relative to the pack and its
    bytes, in path order, so that a ledger can say which rules settled a claim, whatever the folder
    is called or where it lives."""
    digest = hashlib.sha256()
    for rel, data in sorted((path.relative_to(root).as_posix(), data) for path, data in files.items()):
        digest.update(f"{rel}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _read_meta(col: _Collector, pack_path: Path) -> tuple[PackFile, Locator]:
    """pack.yaml, or the pack is refused at once: nothing else can be checked without it."""
    read = _read(col, pack_path)
    if read is not None:
        data, loc = read
        meta = _model(col, pack_path, loc, data, PackFile)
        if meta is not None:
            _check_meta(col, pack_path, loc, meta)
            return meta, loc
    raise RuleFileError(col.problems)


def _diseases(col: _Collector, pack_path: Path, loc: Locator, meta: PackFile) -> list[DiseaseList]:
    """The disease lists. A diagnosis belongs to one list at most: where two lists share ICD-10
    categories, which one a claim fell in (its deductible, ratio and cap) would be the order of
    pack.yaml's keys, not the policy."""
    diseases = []
    first: dict[tuple[str, int], str] = {}  # ICD-10 category -> the list that names it
    for name, ranges in meta.diseases.items():
        try:
            found = DiseaseList(name, tuple(DiseaseList.parse_range(r) for r in ranges))
        except ValueError as exc:
            col.add(pack_path, loc, ("diseases", name), str(exc))
            continue
        diseases.append(found)
        shared: dict[str, list[str]] = {}
        for letter, lo, hi in found.ranges:
            for number in range(lo, hi + 1):
                other = first.setdefault((letter, number), name)
                if other != name:
                    shared.setdefault(other, []).append(f"{letter}{number:02d}")
        for other, codes in shared.items():
            col.add(pack_path, loc, ("diseases", name),
                    f"shares ICD-10 {first_of(codes)} with disease list {other!r}: a diagnosis belongs to one list")
    return diseases


def _refusals(col: _Collector, pack_path: Path, loc: Locator, meta: PackFile, specs) -> tuple[dict, dict]:
    """The conditions of the pack's refusals: the first rules of the pack (rule id -> condition,
    rule id -> its file and line)."""
    rules, sites = {}, {}
    for i, refusal in enumerate(meta.refusals):
        try:
            rules[f"refusals[{i}]"] = conditions.parse(refusal.when, specs)
            sites[f"refusals[{i}]"] = (col.rel(pack_path), loc.line(("refusals", i, "when")))
        except ConditionSyntaxError as exc:
            col.add(pack_path, loc, ("refusals", i, "when"), f"condition: {exc}")
    return rules, sites


def _layers(col: _Collector, root: Path, pack_path: Path, loc: Locator, meta: PackFile, params, specs,
            rules: dict, sites: dict) -> list:
    """Every layer file in paying order, each checked by its kind; their conditions go into `rules`."""
    counters = {c.name: c.description for c in meta.counters}
    layers: list = []
    periods: dict = {}
    roles: dict = {}
    layer_dir = root / "layers"
    for i, layer_id in enumerate(meta.layers):
        path = layer_dir / f"{layer_id}.yaml"
        if not _lexists(path):  # anything else there (a link, a FIFO) is for _read to refuse
            col.add(pack_path, loc, ("layers", i), f"layer {layer_id!r} has no file layers/{layer_id}.yaml")
            continue
        read = _read(col, path)
        if read is None:
            continue
        data, lloc = read
        layer = _model(col, path, lloc, data, _adapter("layer"))
        if layer is None:
            continue
        if layer.id != layer_id:
            col.add(path, lloc, ("id",), f"the file layers/{layer_id}.yaml must have id: {layer_id}, not {layer.id!r}")
        chk = _LayerCheck(col, path, lloc, layer, params, counters, specs, rules, sites, periods, roles, meta)
        chk.when(("when",), layer.when, layer.when_rule)
        _check_platform_field(chk, layer)
        layer.check(chk)
        layers.append(layer)
    if len(layers) == len(meta.layers):
        _check_order(col, pack_path, loc, layers)
    _other_spellings(col, layer_dir)
    if is_dir(layer_dir):
        for extra in sorted(set(p.stem for p in layer_dir.glob("*.yaml")) - set(meta.layers)):
            col.add(layer_dir / f"{extra}.yaml", None, (), "layer file not listed under `layers:` in pack.yaml")
    return layers


def _check_platform_field(chk: _LayerCheck, layer) -> None:
    """Where the layer's payout goes in setlinfo. Every scheme whose members its `when:` can pay has a field
    (what it paid them would be in none, and the block's funds would not add up to fund_pay_sumamt); the
    personal account's is acct_pay, which no fund may name (setlinfo's acct_pay is the account's payment,
    and a fund's payout there would be in no field)."""
    account = {scheme for scheme, name in layer.platform_field.items() if name == "acct_pay"}
    if layer.fund and account:
        chk.problem(("platform_field", min(account)), "acct_pay is the personal account's payment, which is not a "
                                                      "fund's; name the fund's field (hifp_pay, maf_pay, ...)")
    elif not layer.fund and set(layer.platform_field) - account:
        chk.problem(("platform_field", min(set(layer.platform_field) - account)),
                    "a personal account's payment is acct_pay in setlinfo")
    if layer.when_rule not in chk.rules:  # a `when:` with a problem of its own: reported, and it holds for none
        return
    for scheme in ("employee", "resident"):
        # a member type belongs to one scheme (a retired member is an employee): tried with each of the scheme's
        member_types = (*MEMBER_TYPE_NAMES[scheme], "unknown")
        if scheme not in layer.platform_field and any(
                chk.together((layer.when_rule,), {"scheme": scheme, "member_type": t}) for t in member_types):
            chk.problem(("platform_field",), f"no field for {scheme} members, whom the layer's `when:` can pay: what "
                                             f"it pays them would be in no setlinfo field; add {scheme}: <field> "
                                             "(hifp_pay, maf_pay, ...)")


def _compile(col: _Collector, pack_path: Path, rules: dict, sites: dict, kind: str, memo: bool):
    """The pack's conditions compiled into its matcher; a condition the matcher cannot take is a
    problem at its own file and line."""
    try:
        return make_matcher(rules, kind, memo)
    except LimitError as exc:
        found = [Problem(*sites.get(rid, (col.rel(pack_path), None)), "", f"condition {rid}: {exc.message}")
                 for rid in exc.rule_ids]
        raise RuleFileError(found or [Problem(col.rel(pack_path), None, "", exc.message)]) from None


def _check_derived(col: _Collector, path: Path, loc: Locator, meta: PackFile, params: dict[str, Parameter]) -> None:
    """What the loaded pack would derive is bounded, not only what its files hold."""
    cells = len({v.start for p in params.values() for v in p.values}) * len(params)
    if cells > MAX_IN_FORCE:
        col.add(path, loc, ("versions",), f"{len(meta.versions)} versions of {len(params)} parameters make {cells:,} values "
                f"in force to keep, more than {MAX_IN_FORCE:,}; use fewer versions or parameters")


def _check_meta(col: _Collector, path: Path, loc: Locator, meta: PackFile) -> None:
    if len(meta.versions) > MAX_VERSIONS:
        col.add(path, loc, ("versions",), f"{len(meta.versions)} versions; a pack has at most {MAX_VERSIONS}")
    if meta.versions != sorted(set(meta.versions)):
        col.add(path, loc, ("versions",), "version dates must be increasing, each once")
    if meta.valid_until < meta.versions[-1]:
        col.add(path, loc, ("valid_until",), f"valid_until {meta.valid_until} is before the last version {meta.versions[-1]}")
    # A claim the pack covers settles against accumulators for its year: a year they cannot name
    # would be a day covered whose every claim fails.
    for where, day in [(("versions", i), d) for i, d in enumerate(meta.versions)] + [(("valid_until",), meta.valid_until)]:
        if not MIN_YEAR <= day.year <= MAX_YEAR:
            col.add(path, loc, where, f"{day} is outside the years accumulators are kept for, {MIN_YEAR} to {MAX_YEAR}: "
                    "no claim of that year could be settled")
    for field, values in (("levels", meta.levels), ("layers", meta.layers), ("counters", [c.name for c in meta.counters]),
                          ("services", meta.services)):
        dupes = sorted(v for v, n in Counter(values).items() if n > 1)
        if dupes:
            col.add(path, loc, (field,), f"listed more than once: {first_of(dupes, 10)}")
