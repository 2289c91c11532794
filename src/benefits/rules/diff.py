"""What differs between two rule packs (`benefits rules diff A B [--on DATE]`).

    d = diff_packs(load_rules("rules/jiangmen"), load_rules("/tmp/counterfactual"))
    d.parameters   # added, removed and changed parameters: each dated value with its source
    d.layers       # layers added, removed and changed: each changed key (conditions `when:` among them)
    d.pack         # pack.yaml: versions, levels, visits, counters, layer order, refusals, ...

Without a date, parameters are compared version by version (every start date either pack gives a
value on); with `on`, only the values in force on that date. A value counts as changed when its
number or its source text differs. Layers are compared key by key as their files define them (the
loaded models, so formatting and comments do not count).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

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
    description: str
    changes: list[ValueChange] = field(default_factory=list)
    unit_b: str | None = None  # when the unit changed


@dataclass
class KeyChange:
    path: str  # e.g. ratio[0].value, caps[1].when
    a: Any
    b: Any

    @property
    def is_condition(self) -> bool:
        return self.path == "when" or self.path.endswith(".when")


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
        if not changes and not unit_changed:
            continue
        status = "added" if pa_ is None or (on is not None and changes and changes[0].a is None) else \
                 "removed" if pb is None or (on is not None and changes and changes[0].b is None) else "changed"
        ref = pb or pa_
        out.append(ParameterDiff(name, status, (pa_ or pb).unit, ref.description, changes,
                                 unit_b=pb.unit if unit_changed else None))
    return out


def _walk(a: Any, b: Any, path: str, out: list[KeyChange]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(dict.fromkeys(list(a) + list(b))):
            _walk(a.get(k), b.get(k), f"{path}.{k}" if path else str(k), out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            _walk(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append(KeyChange(path, a, b))


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
            _walk(_layer_doc(x), _layer_doc(y), "", changes)
            if changes:
                out.append(LayerDiff(lid, "changed", y.kind, changes))
    return out


def diff_meta(a: RulePack, b: RulePack) -> list[KeyChange]:
    changes: list[KeyChange] = []
    _walk(a.meta.model_dump(mode="json"), b.meta.model_dump(mode="json"), "", changes)
    return changes


def diff_packs(a: RulePack, b: RulePack, on: dt.date | None = None) -> PackDiff:
    """Everything that differs between packs `a` and `b` (parameters as of `on` when given)."""
    return PackDiff(a.directory, b.directory, on, diff_meta(a, b), diff_parameters(a, b, on), diff_layers(a, b))


def diff_text(d: PackDiff) -> list[str]:
    """The diff as lines of text (English labels; values and sources as the packs write them)."""
    lines = [f"rules diff: A = {d.a}, B = {d.b}" + (f", values in force on {d.on}" if d.on else ", every version")]
    if d.empty:
        return lines + ["no differences"]
    if d.pack:
        lines += ["", "pack.yaml:"]
        lines += [f"  {c.path}: {_short(c.a)} -> {_short(c.b)}" for c in d.pack]
    if d.parameters:
        counts = {s: sum(p.status == s for p in d.parameters) for s in ("added", "removed", "changed")}
        lines += ["", "parameters: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n)]
        for p in d.parameters:
            lines.append(f"  {p.status:8} {p.name} ({p.unit}{' -> ' + p.unit_b if p.unit_b else ''}): {p.description}")
            for c in p.changes:
                at = f"{c.start}" if c.start else f"on {d.on}"
                if c.a is not None and c.b is not None:
                    lines.append(f"           {at}: {c.a.value} -> {c.b.value}")
                    if c.a.source != c.b.source:
                        lines.append(f"             A source: {c.a.source}")
                        lines.append(f"             B source: {c.b.source}")
                    else:
                        lines.append(f"             source (both): {c.a.source}")
                elif c.b is not None:
                    lines.append(f"           {at}: (none) -> {c.b.value}  [{c.b.source}]")
                else:
                    lines.append(f"           {at}: {c.a.value} -> (none)  [{c.a.source}]")
    if d.layers:
        lines += ["", "layers:"]
        for layer in d.layers:
            lines.append(f"  {layer.status:8} {layer.id} ({layer.kind})")
            for c in layer.changes:
                tag = "condition " if c.is_condition else ""
                lines.append(f"           {tag}{c.path}: {_short(c.a)} -> {_short(c.b)}")
    return lines


def _short(v: Any) -> str:
    if v is None:
        return "(none)"
    text = v if isinstance(v, str) else repr(v)
    return text if len(text) <= 200 else text[:200] + "..."
