"""What differs between two rule packs (`benefits rules diff A B [--on DATE]`).

    d = diff_packs(load_rules("rules/jiangmen"), load_rules("/tmp/counterfactual"))
    d.parameters   # added, removed and changed parameters: each dated value with its source
    d.layers       # layers added, removed and changed: each changed key (conditions `when:` among them),
                   # a decision table's rows added, removed and moved with their places in it
    d.pack         # pack.yaml: versions, levels, visits, counters, layer order, refusals, ...
    diff_lines(d)  # as text: a list that changed as its items removed and added; no width (the CLI wraps)

Without a date, parameters are compared version by version (every start date either pack gives a
value on); with `on`, only the values in force on that date. A value counts as changed when its
number or its source text differs. Layers are compared key by key as their files define them (the
loaded models, so formatting and comments do not count). In a decision table the first row that holds
decides, so a row's place is part of what it says: rows added, removed and moved are given with their
places (`added as row 1 of 7`). A list whose items in both packs stand in another order (the layers'
paying order among them) says so, whatever else was added or removed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from ..render import both_languages
from .files import Text, decision_tables
from .pack import Parameter, ParameterValue, RulePack


@dataclass(frozen=True)
class Value:
    start: dt.date
    value: str  # as the trace shows it: 300000.00, 80%, -10 points
    source: str

    @staticmethod
    def of(v: ParameterValue) -> "Value":
        return Value(v.start, v.text, v.source)


@dataclass
class ValueChange:
    start: dt.date | None  # None when comparing the values in force on one date
    a: Value | None
    b: Value | None

    @property
    def what(self) -> str:
        if self.a is None:
            return "added"
        if self.b is None:
            return "removed"
        parts = []
        if self.a.value != self.b.value:
            parts.append("value")
        if self.a.source != self.b.source:
            parts.append("source")
        if self.a.start != self.b.start:
            parts.append("start")
        return "+".join(parts) or "same"


@dataclass
class ParameterDiff:
    name: str
    status: str  # added | removed | changed
    unit: str
    description: Text
    changes: list[ValueChange] = field(default_factory=list)
    unit_b: str | None = None  # when the unit changed
    description_a: Text | None = None  # A's description, when B's (`description`) is another


@dataclass
class RowChange:
    """A row of a decision table added, removed or moved (its place among the rows of both changed)."""

    row: Any  # as the file gives it
    a: int | None  # its place in A's table, counted from 1; None when added
    b: int | None  # its place in B's; None when removed

    @property
    def what(self) -> str:
        return "added" if self.a is None else "removed" if self.b is None else "moved"


@dataclass
class KeyChange:
    path: str  # e.g. ratio[0].value, caps[1].when
    a: Any
    b: Any
    table: bool = False  # a decision table (a and b its rows) changed otherwise than row by row in place

    @property
    def is_condition(self) -> bool:
        return self.path == "when" or self.path.endswith(".when")

    @property
    def rows(self) -> list[RowChange]:
        """A decision table's rows removed, added and moved, with their places; none for any other key."""
        return table_rows(self.a or [], self.b or []) if self.table else []

    @property
    def order(self) -> tuple[list[str], list[str]] | None:
        """The items a list has in both packs, in A's order and in B's, when the orders differ (a decision
        table's rows moved are in `rows` instead); None otherwise."""
        if self.table or not (isinstance(self.a, list) and isinstance(self.b, list)):
            return None
        ka, kb = _keyed(self.a), _keyed(self.b)
        in_a, in_b = [k for k in ka if k in kb], [k for k in kb if k in ka]
        return (in_a, in_b) if in_a != in_b else None


@dataclass
class LayerDiff:
    id: str
    status: str  # added | removed | changed
    kind: str
    changes: list[KeyChange] = field(default_factory=list)


@dataclass
class PackDiff:
    a: str
    b: str
    on: dt.date | None
    pack: list[KeyChange]
    parameters: list[ParameterDiff]
    layers: list[LayerDiff]

    @property
    def empty(self) -> bool:
        return not (self.pack or self.parameters or self.layers)

    def parameter(self, name: str) -> ParameterDiff:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(name)


def _values_dated(p: Parameter | None) -> dict[dt.date, Value]:
    return {} if p is None else {v.start: Value.of(v) for v in p.values}


def _value_on(p: Parameter | None, day: dt.date) -> Value | None:
    if p is None or p.values[0].start > day:
        return None
    return Value.of(p.at(day))


def diff_parameters(a: RulePack, b: RulePack, on: dt.date | None = None) -> list[ParameterDiff]:
    out = []
    for name in sorted(set(a.parameters) | set(b.parameters)):
        pa_, pb = a.parameters.get(name), b.parameters.get(name)
        if on is not None:
            va, vb = _value_on(pa_, on), _value_on(pb, on)
            if va is None and vb is None:
                continue
            changes = [] if (va is not None and vb is not None and (va.value, va.source) == (vb.value, vb.source)) \
                else [ValueChange(None, va, vb)]
        else:
            da, db = _values_dated(pa_), _values_dated(pb)
            changes = [ValueChange(d, da.get(d), db.get(d)) for d in sorted(set(da) | set(db))
                       if d not in da or d not in db or (da[d].value, da[d].source) != (db[d].value, db[d].source)]
        unit_changed = pa_ is not None and pb is not None and pa_.unit != pb.unit
        # the description is the parameter's name in Chinese text (calc, explain): a change of it is one
        described = pa_ is not None and pb is not None and pa_.description != pb.description
        if not changes and not unit_changed and not described:
            continue
        status = "added" if pa_ is None or (on is not None and changes and changes[0].a is None) else \
                 "removed" if pb is None or (on is not None and changes and changes[0].b is None) else "changed"
        ref = pb or pa_
        out.append(ParameterDiff(name, status, (pa_ or pb).unit, ref.description, changes,
                                 unit_b=pb.unit if unit_changed else None,
                                 description_a=pa_.description if described else None))
    return out


def _scalars(items: list) -> bool:
    return all(not isinstance(x, (dict, list)) for x in items)


def _edited_in_place(a: list, b: list) -> bool:
    """Whether each row of two tables of one length that differs was edited where it stands: neither
    its old text nor its new one is found elsewhere in the other table (a row moved, or one added
    above and another removed below, would read as every row between them edited). Rows are looked
    up by their text, so a long table is not compared row against row."""
    in_a, in_b = set(map(value_text, a)), set(map(value_text, b))
    return all(x == y or (value_text(x) not in in_b and value_text(y) not in in_a) for x, y in zip(a, b))


def _walk(a: Any, b: Any, path: str, out: list[KeyChange], tables: frozenset[str] = frozenset()) -> None:
    """The keys that differ between `a` and `b`: mappings key by key, lists of mappings of the same
    length item by item (path[i]); any other list that differs (a list of ids, say) is one change. A
    decision table (its path in `tables`) is compared row by row only when its rows were edited in
    place; otherwise it is one change, read as rows added, removed and moved (`KeyChange.rows`)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(dict.fromkeys(list(a) + list(b))):
            _walk(a.get(k), b.get(k), f"{path}.{k}" if path else str(k), out, tables)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and not (_scalars(a) and _scalars(b)) \
            and (path not in tables or _edited_in_place(a, b)):
        for i, (x, y) in enumerate(zip(a, b)):
            _walk(x, y, f"{path}[{i}]", out)
    elif a != b:  # a table in one kind may be a single name in another (ratio): a table only where both are
        table = path in tables and all(v is None or isinstance(v, list) for v in (a, b))
        out.append(KeyChange(path, a, b, table=table))


def table_rows(a: list, b: list) -> list[RowChange]:
    """The rows of table `a` removed in `b` (in A's order), those added and those moved (in B's), each
    with its places counted from 1. The two tables are aligned on a longest run of rows kept in order,
    so a row that only shifts because one was added or removed above it has not moved; a row left out
    of the run in A and put back elsewhere in B, the same text, has."""
    ta, tb = [value_text(x) for x in a], [value_text(y) for y in b]
    kept_a, kept_b = set(), set()
    for m in SequenceMatcher(None, ta, tb, autojunk=False).get_matching_blocks():
        kept_a.update(range(m.a, m.a + m.size))
        kept_b.update(range(m.b, m.b + m.size))
    left: dict[str, list[int]] = {}  # the rows of A out of the run, by text: each met again in B moved
    for i, t in enumerate(ta):
        if i not in kept_a:
            left.setdefault(t, []).append(i)
    added, moved = [], []
    for j, t in enumerate(tb):
        if j in kept_b:
            continue
        if left.get(t):
            moved.append(RowChange(b[j], left[t].pop(0) + 1, j + 1))
        else:
            added.append(RowChange(b[j], None, j + 1))
    removed = [RowChange(a[i], i + 1, None) for i in sorted(i for places in left.values() for i in places)]
    return removed + added + moved


def _layer_doc(layer) -> dict:
    return layer.model_dump(mode="json", exclude_none=True)


def diff_layers(a: RulePack, b: RulePack) -> list[LayerDiff]:
    la = {layer.id: layer for layer in a.layers}
    lb = {layer.id: layer for layer in b.layers}
    out = []
    for lid in list(dict.fromkeys(list(la) + list(lb))):
        x, y = la.get(lid), lb.get(lid)
        if x is None:
            out.append(LayerDiff(lid, "added", y.kind))
        elif y is None:
            out.append(LayerDiff(lid, "removed", x.kind))
        else:
            changes: list[KeyChange] = []
            tables = frozenset(".".join(path) for layer in (x, y) for path, _ in decision_tables(layer))
            _walk(_layer_doc(x), _layer_doc(y), "", changes, tables)
            if changes:
                out.append(LayerDiff(lid, "changed", y.kind, changes))
    return out


def diff_meta(a: RulePack, b: RulePack) -> list[KeyChange]:
    changes: list[KeyChange] = []
    _walk(a.meta.model_dump(mode="json"), b.meta.model_dump(mode="json"), "", changes)
    return changes


def diff_packs(a: RulePack, b: RulePack, on: dt.date | None = None) -> PackDiff:
    """Everything that differs between packs `a` and `b` (parameters as of `on` when given: a day one
    of them has no version for is refused, as a claim of that day is, not compared as no values)."""
    if on is not None:
        a.version_for(on)
        b.version_for(on)
    return PackDiff(a.directory, b.directory, on, diff_meta(a, b), diff_parameters(a, b, on), diff_layers(a, b))


@dataclass(frozen=True)
class Line:
    """A line of the diff: its `parts` joined by `sep`, after `indent` spaces. Wrapped to a width, it
    breaks between parts first, and its continuation lines are indented `hang` more."""

    indent: int
    parts: tuple[str, ...]
    hang: int = 2
    sep: str = " "

    @property
    def text(self) -> str:
        return self.sep.join(self.parts)

    def __str__(self) -> str:
        return " " * self.indent + self.text


def _line(indent: int, *parts: str, hang: int = 2, sep: str = " ") -> Line:
    return Line(indent, parts, hang, sep)


def diff_lines(d: PackDiff) -> list[Line]:
    """The diff as lines (English labels; values and sources as the packs write them; a list that
    changed as the items added and removed, a mapping in it by its id or name)."""
    lines = [_line(0, f"rules diff: A = {d.a},", f"B = {d.b}" + (f", values in force on {d.on}" if d.on else ", every version"))]
    if d.empty:
        return lines + [_line(0, "no differences")]
    if d.pack:
        lines += [_line(0, ""), _line(0, "pack.yaml:")]
        for c in d.pack:
            lines += change_lines(c, 2)
    if d.parameters:
        counts = {s: sum(p.status == s for p in d.parameters) for s in ("added", "removed", "changed")}
        lines += [_line(0, ""), _line(0, "parameters: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n))]
        for p in d.parameters:
            unit = p.unit + (f" -> {p.unit_b}" if p.unit_b else "")
            lines.append(_line(2, f"{p.status:8} {p.name} ({unit}):", both_languages(p.description), hang=9))
            if p.description_a is not None:
                lines.append(_line(11, f"description: {both_languages(p.description_a)}",
                                   f"-> {both_languages(p.description)}", hang=4))
            for c in p.changes:
                at = f"{c.start}" if c.start else f"on {d.on}"
                if c.a is not None and c.b is not None:
                    lines.append(_line(11, f"{at}: {c.a.value} -> {c.b.value}"))
                    if c.a.source != c.b.source:
                        lines.append(_line(13, f"A source: {c.a.source}", hang=10))
                        lines.append(_line(13, f"B source: {c.b.source}", hang=10))
                    else:
                        lines.append(_line(13, f"source (both): {c.a.source}", hang=15))
                elif c.b is not None:
                    lines.append(_line(11, f"{at}: (none) -> {c.b.value}", f"[{c.b.source}]", sep="  "))
                else:
                    lines.append(_line(11, f"{at}: {c.a.value} -> (none)", f"[{c.a.source}]", sep="  "))
    if d.layers:
        lines += [_line(0, ""), _line(0, "layers:")]
        for layer in d.layers:
            lines.append(_line(2, f"{layer.status:8} {layer.id} ({layer.kind})", hang=9))
            for c in layer.changes:
                lines += change_lines(c, 11, conditions=True)
    return lines


def diff_text(d: PackDiff) -> list[str]:
    """The diff as lines of text (`diff_lines`, each indented)."""
    return [str(line) for line in diff_lines(d)]


def change_lines(c: KeyChange, indent: int, conditions: bool = False) -> list[Line]:
    """A changed key as lines: `path: old -> new` for a value; for a list, a line naming it, then under it
    the items removed and added (a mapping by its id or name, else written out), for a mapping with
    an id or name in both lists, what changed in it (path[id].key: old -> new), and the order of the
    items of both when it changed; for a decision table, its rows removed, added and moved, each with
    its place (`added as row 1 of 7: {...}`)."""
    tag = "condition " if conditions and c.is_condition else ""
    a, b = c.a, c.b
    lists = isinstance(a, list) or isinstance(b, list)
    if not lists or not all(v is None or isinstance(v, list) for v in (a, b)):
        return [_line(indent, f"{tag}{c.path}: {value_text(a)}", f"-> {value_text(b)}")]
    xs, ys = a or [], b or []
    lines = [_line(indent, f"{tag}{c.path}: {_count(a)} -> {_count(b)}")]
    if c.table:
        for r in c.rows:
            place = _place(r, len(xs), len(ys))
            lines.append(_line(indent + 2, f"{place}: {value_text(r.row)}", hang=len(place) + 2))
        return lines
    ka, kb = _keyed(xs), _keyed(ys)
    removed = [k for k in ka if k not in kb]
    added = [k for k in kb if k not in ka]
    named = all(_name(x) is not None for x in xs + ys if isinstance(x, dict))
    for label, keys, items in (("removed", removed, ka), ("added", added, kb)):
        if not keys:
            continue
        if named or all(not isinstance(items[k], dict) for k in keys):
            lines.append(_line(indent + 2, f"{label}: " + ", ".join(keys), hang=len(label) + 2))
        else:
            lines += [_line(indent + 2, f"{label}: {k}", hang=len(label) + 2) for k in keys]
    for k in ka:
        if k in kb and ka[k] != kb[k]:
            sub: list[KeyChange] = []
            _walk(ka[k], kb[k], f"{c.path}[{k}]", sub)
            for s in sub:
                lines += change_lines(s, indent + 2, conditions)
    if c.order is not None:
        in_a, in_b = c.order
        lines.append(_line(indent + 2, "order: " + ", ".join(in_a), "-> " + ", ".join(in_b), hang=7))
    return lines


def _place(r: RowChange, rows_a: int, rows_b: int) -> str:
    """Where a row of a table went: added as row 1 of 7, removed from row 3 of 6, moved from row 3 to row 1."""
    if r.a is None:
        return f"added as row {r.b} of {rows_b}"
    if r.b is None:
        return f"removed from row {r.a} of {rows_a}"
    return f"moved from row {r.a} to row {r.b}"


def _name(item: Any) -> str | None:
    """A mapping's id or name (how a list of mappings names its items), None when it has neither."""
    for key in ("id", "name"):
        if isinstance(item, dict) and isinstance(item.get(key), (str, int)):
            return str(item[key])
    return None


def _keyed(items: list) -> dict[str, Any]:
    """The items of a list by how they are named in the diff: a mapping by its id or name, anything
    else by its text."""
    out: dict[str, Any] = {}
    for x in items:
        name = key = _name(x) or value_text(x)
        n = 1
        while key in out:  # a name given twice (two caps with id annual): the second is annual#2
            n += 1
            key = f"{name}#{n}"
        out[key] = x
    return out


def _count(items: list | None) -> str:
    if items is None:
        return "(none)"
    return f"{len(items)} item" + ("" if len(items) == 1 else "s")


def value_text(v: Any) -> str:
    """A value of a pack file as YAML writes it in flow style: text as it is, a list [a, b], a mapping
    {key: value}, (none) for a key not given."""
    if v is None:
        return "(none)"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {value_text(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(value_text(x) for x in v) + "]"
    return str(v)
