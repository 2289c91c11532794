"""A settlement's trace as a reader of one language is shown it, step by step (结算说明): each
input by its name, the formula and result in that language, each parameter cited by its
description with its source, and in Chinese no id of the pack's (layers, groups, counters,
parameters) where the pack names it.

`render.py` writes a step's sentences when the engine records it; this module names what the step
holds, with the pack beside it. The command line (`benefits explain`) and the settlement page
(`POST /trace?explain=true`) lay out the same `ShownStep`s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .models.settlement import Settlement
from .render import basis_text, date_text, formula_text, input_label, source_text, word
from .rules.pack import RulePack
from .trace import TraceStep

NO_CAP_ZH = "不设限额"
_ASCII = re.compile(r"[\x00-\x7f]*")
_GROUP_CHOSEN = re.compile(r"(?<=-> )([a-z_]+)$")  # a group choice's formula: max -> <group id>


@dataclass(frozen=True, slots=True)
class ShownCitation:
    """A parameter a step read: its name (in Chinese its description), value, source as the reader
    is shown it ('' when there is none to show), and whether the value is assumed."""

    name: str
    value: str
    source: str
    assumed: bool


@dataclass(frozen=True, slots=True)
class ShownStep:
    """One step as a reader of one language is shown it. `rule` and `site` (file:line in the pack)
    are for whoever maintains the pack: English only. `formula` is '' where it is the result;
    `basis` the policy its layer encodes ('' for a step of the whole claim)."""

    step: str
    layer: str | None
    explain: str
    rule: str | None
    site: str | None
    inputs: tuple[tuple[str, str], ...]
    formula: str
    output: str
    citations: tuple[ShownCitation, ...]
    basis: str


def shown_steps(s: Settlement, pack: RulePack, lang: str) -> list[ShownStep]:
    """Every step of the settlement's trace, in `lang` ('zh' or 'en')."""
    names = {p.layer: layer_name(p, lang) for p in s.layers}
    idle = {p.layer for p in s.layers if not p.applied}
    return [shown_step(t, pack, lang, names, idle) for t in s.trace]


def shown_step(t: TraceStep, pack: RulePack, lang: str, names: dict[str, str], idle: set[str]) -> ShownStep:
    """One step in `lang`; `names`: each layer's name in it, `idle`: the layers that did not apply
    (a step's input naming one is left out: it paid nothing)."""
    zh = lang == "zh"
    inputs = tuple((_input_name(k, names, pack, lang), _input_value(k, v, pack, lang))
                   for k, v in t.inputs.items() if k not in idle)
    formula = ""
    if zh and t.step.endswith(".skip"):  # its formula is the rule's condition: rule text, as `rule` is
        pass
    elif t.formula and t.formula != t.output:
        formula = formula_text(_GROUP_CHOSEN.sub(lambda m: group_name(m[1], pack, lang), t.formula), lang)
    cites = tuple(ShownCitation(parameter_name(c.parameter, pack, lang), formula_text(c.value, lang),
                                source_text(c.source, lang), c.assumed) for c in t.citations)
    return ShownStep(t.step, t.layer, t.explain_zh if zh else t.explain_en, None if zh else t.rule,
                     None if zh else t.site, inputs, formula, formula_text(word(group_name(t.output, pack, lang), lang), lang),
                     cites, basis_text(t.basis, lang) if t.basis else "")


def layer_name(payout, lang: str) -> str:
    """A layer (a LayerPayout) by its name in `lang`."""
    return payout.name_zh if lang == "zh" else payout.name_en


def counter_label(name: str, pack: RulePack, lang: str) -> str:
    """A counter as a reader in `lang` knows it: in Chinese by its meaning (and month), else its id."""
    base, _, month = name.partition("@")
    meaning = pack.counters[base].zh if base in pack.counters else ""
    if not meaning or _ASCII.fullmatch(meaning):  # a pack may leave a Chinese half in English
        return name
    return meaning + (f"（{date_text(month + '-01', 'zh')[:-2]}）" if month else "")


def group_name(value: str, pack: RulePack, lang: str) -> str:
    """A group id in Chinese text: the name the pack's layer gives it, where it gives one."""
    return pack.group_names[value].zh if lang == "zh" and value in pack.group_names else value


def parameter_name(name: str, pack: RulePack, lang: str) -> str:
    """A parameter as a reader in `lang` knows it: in Chinese by its description, else its id."""
    if lang != "zh":
        return name
    p = pack.parameters.get(name)
    label = p.description.zh if p is not None else ""
    return label if label and not _ASCII.fullmatch(label) else name


def _input_name(key: str, names: dict[str, str], pack: RulePack, lang: str) -> str:
    if lang != "zh":
        return key
    if key in names:
        return names[key]
    if key in pack.counters:
        return counter_label(key, pack, lang)
    if key in pack.group_names:  # a group choice's options
        return group_name(key, pack, lang)
    return word(input_label(key, lang), lang)


def _input_value(key: str, value: str, pack: RulePack, lang: str) -> str:
    if lang == "zh" and key == "cap_left" and value == "none":
        return NO_CAP_ZH
    return word(group_name(value, pack, lang) if key == "group" else value, lang)
