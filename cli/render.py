"""Text renderings of a settlement (calc), its trace (explain) and a pack's parameters (rules show).

Layers, the patient's part and the accumulators are rendered from what the settlement carries, so a
layer or a PatientPart field added to the engine shows up without a change here.

Every text from the claim or the rule pack (ids, names, descriptions, rule text, file names) goes through
`visible()` (Table does it for its cells) before it is coloured: it cannot drive the terminal.
"""

from __future__ import annotations

import dataclasses

import datetime as dt
from decimal import Decimal
from pathlib import Path

from benefits import PatientPart, RulePack, Settlement
from benefits.render import bilingual, input_label

from .text import Paint, Table, money, pad, visible, width

ZERO = Decimal("0.00")

WORDS = {
    "zh": {
        "claim": "理赔", "pack": "规则", "version": "版本", "deciding_date": "决定日期",
        "bill": "费用分解", "amount": "金额", "yuan": "金额单位：元",
        "total": "医疗费总额", "fully_self_paid": "全自费", "over_limit": "超限价自付",
        "pre_self_paid": "乙类先行自付", "policy_range": "政策范围内费用",
        "deductible": "起付线（实际支付）", "ratio": "基本统筹支付比例",
        "payouts": "各层支付", "layer": "层", "name": "名称", "base": "计算基数", "cap_left": "剩余限额",
        "paid": "支付", "no_cap": "不设限额", "all_funds": "基金支付合计", "not_applied": "本次不适用的层：",
        "not_fund": "† 非基金：支付个人负担的一部分，计入个人负担",
        "patient": "个人负担及原因", "accumulators": "年度累计", "counter": "累计项",
        "before": "结算前", "after": "结算后", "change": "变化", "admissions": "本年住院次数",
        "meaning": "含义", "items": "费用明细分解", "item": "明细", "category": "类别",
        "share": "自付比例", "item_parts": ["全自费", "超限价", "先行自付", "政策范围内"],
        "explain_title": "结算说明", "step": "第 {n} 步", "rule": "规则", "inputs": "输入", "basis": "政策依据",
        "formula": "计算", "output": "结果", "cites": "依据", "assumed": "（假设，待正式文件）",
        "general": "总体", "summary": "结算结果", "patient_total": "个人负担",
        "of_which_account": "其中个人账户", "of_which_cash": "其中现金",
    },
    "en": {
        "claim": "claim", "pack": "pack", "version": "version", "deciding_date": "deciding date",
        "bill": "Bill split", "amount": "amount", "yuan": "amounts in yuan",
        "total": "total", "fully_self_paid": "fully self-paid (outside the catalogue)",
        "over_limit": "over the price limit", "pre_self_paid": "pre-self-paid (category-B share)",
        "policy_range": "policy-range amount", "deductible": "deductible applied", "ratio": "basic fund ratio",
        "payouts": "Payouts by layer", "layer": "layer", "name": "name", "base": "base", "cap_left": "cap left",
        "paid": "paid", "no_cap": "no cap", "all_funds": "all funds", "not_applied": "layers that do not apply to this claim: ",
        "not_fund": "† not a fund: pays part of the patient's own share, counted in it",
        "patient": "What the patient pays, and why", "accumulators": "Accumulators", "counter": "counter",
        "before": "before", "after": "after", "change": "change", "admissions": "admissions this year",
        "meaning": "meaning", "items": "Line items", "item": "item", "category": "cat.",
        "share": "B share", "item_parts": ["fully self-paid", "over limit", "pre-self-paid", "policy range"],
        "explain_title": "How this claim was settled", "step": "Step {n}", "rule": "rule", "inputs": "inputs",
        "basis": "policy",
        "formula": "formula", "output": "result", "cites": "source", "assumed": "(assumed, awaiting a published source)",
        "general": "Whole claim", "summary": "Result", "patient_total": "patient pays",
        "of_which_account": "of which personal account", "of_which_cash": "of which cash",
    },
}

# What each part of the patient's share is; a field not listed here is labelled by its description.
PATIENT = {
    "zh": {
        "fully_self_paid": "全自费（目录外）", "over_limit": "超限价自付", "pre_self_paid": "乙类先行自付",
        "deductible": "起付线", "co_pay": "按比例自付", "above_cap": "超过基本统筹限额",
        "relieved_by_later_layers": "减：大病保险及救助等后续各层支付", "total": "个人负担合计",
        "account": "其中个人账户支付", "cash": "其中个人现金支付",
    },
    "en": {
        "fully_self_paid": "fully self-paid (outside the catalogue)", "over_limit": "over the price limit",
        "pre_self_paid": "pre-self-paid (category-B share)", "deductible": "deductible",
        "co_pay": "co-pay above the deductible", "above_cap": "above the basic fund's cap",
        "relieved_by_later_layers": "less: paid by serious illness, aid and later layers",
        "total": "patient pays in all", "account": "of which personal account", "cash": "of which cash",
    },
}
SUBTRACTED = {"relieved_by_later_layers"}  # parts that reduce the patient's total
AFTER_TOTAL = {"account", "cash"}  # how the total is paid, shown under it
AFTER_TOTAL_ORDER = ("account", "cash")


def header(s: Settlement, lang: str) -> str:
    w = WORDS[lang]
    return (f"{w['claim']} {visible(s.claim_id)}   {w['pack']} {visible(s.pack)}   {w['version']} {s.version}   "
            f"{w['deciding_date']} {s.deciding_date}   ({w['yuan']})")


def settlement_text(s: Settlement, pack: RulePack, lang: str, paint: Paint) -> str:
    w = WORDS[lang]
    out = [paint(header(s, lang), "bold"), ""]

    bill = Table([w["bill"], w["amount"]], "lr")
    for name in ("total", "fully_self_paid", "over_limit", "pre_self_paid", "policy_range"):
        bill.add(w[name], money(getattr(s.bill, name)))
    bill.add(w["deductible"], money(s.deductible))
    if s.ratio is not None:
        bill.add(w["ratio"], f"{(s.ratio * 100).normalize():f}%")
    out += bill.render(paint) + [""]

    if s.items:
        items = Table([w["item"], w["category"], w["amount"], w["share"], *w["item_parts"]], "llrrrrrr")
        for it in s.items:
            share = "" if it.self_pay_share is None else f"{(it.self_pay_share * 100).normalize():f}%"
            items.add(it.id, it.category, money(it.amount), share, money(it.fully_self_paid),
                      money(it.over_limit), money(it.pre_self_paid), money(it.policy_range))
        out += items.render(paint) + [""]

    out += layers_table(s, lang).render(paint)
    notes = layer_notes(s, lang)
    out += [paint("  " + n, "dim") for n in notes] + [""]

    patient = Table([w["patient"], w["amount"]], "lr")
    fields = [f.name for f in dataclasses.fields(PatientPart)]
    for name in fields:
        if name in AFTER_TOTAL or name == "total":
            continue
        value = getattr(s.patient, name)
        patient.add(_patient_label(name, lang), money(-value if name in SUBTRACTED and value else value))
    patient.rule()
    patient.add(_patient_label("total", lang), money(s.patient.total), style=("bold",))
    for name in fields:
        if name in AFTER_TOTAL:
            patient.add("  " + _patient_label(name, lang), money(getattr(s.patient, name)))
    out += patient.render(paint) + [""]

    out += accumulators_table(s, pack, lang).render(paint)
    return "\n".join(out)


def layers_table(s: Settlement, lang: str) -> Table:
    """The layers that applied: the funds, their total, then what pays from the patient's own share."""
    w = WORDS[lang]
    t = Table([w["payouts"], w["name"], w["base"], w["cap_left"], w["paid"]], "llrrr")
    applied = [p for p in s.layers if p.applied]
    for p in [p for p in applied if p.fund]:
        t.add(p.layer, _layer_name(p, lang), money(p.base), _cap(p.limit_left, lang), money(p.paid))
    t.rule()
    t.add(w["all_funds"], "", "", "", money(s.fund_total), style=("bold",))
    for p in [p for p in applied if not p.fund]:
        t.add(p.layer, _layer_name(p, lang) + " †", money(p.base), _cap(p.limit_left, lang), money(p.paid))
    return t


def layer_notes(s: Settlement, lang: str) -> list[str]:
    w = WORDS[lang]
    notes = []
    if any(p.applied and not p.fund for p in s.layers):
        notes.append(w["not_fund"])
    skipped = [p.layer for p in s.layers if not p.applied]
    if skipped:
        notes.append(w["not_applied"] + visible(", ".join(skipped)))
    return notes


def _cap(value: Decimal | None, lang: str) -> str:
    return WORDS[lang]["no_cap"] if value is None else money(value)


def _layer_name(p, lang: str) -> str:
    return p.name_zh if lang == "zh" else p.name_en


def _patient_label(name: str, lang: str) -> str:
    if name in PATIENT[lang]:
        return PATIENT[lang][name]
    return PatientPart.description(name)


def accumulators_table(s: Settlement, pack: RulePack, lang: str) -> Table:
    w = WORDS[lang]
    before, after = s.accumulators_before, s.accumulators_after
    t = Table([w["accumulators"], w["before"], w["after"], w["change"], w["meaning"]], "lrrrl")
    change = after.admissions - before.admissions
    t.add("admissions", str(before.admissions), str(after.admissions), f"{change:+d}" if change else "",
          w["admissions"])
    known = [c for c in pack.counters]
    names = list(dict.fromkeys(known + sorted(set(before.counters) | set(after.counters))))
    for name in names:
        if name not in before.counters and name not in after.counters:
            continue
        b, a = before.get(name), after.get(name)
        meaning = bilingual(pack.counters.get(name.partition("@")[0], ""), lang)
        t.add(name, money(b), money(a), money(a - b, signed=True) if a != b else "", meaning)
    return t


# --- explain ----------------------------------------------------------------------------------


def trace_text(s: Settlement, pack: RulePack, lang: str, paint: Paint) -> str:
    w = WORDS[lang]
    names = {p.layer: visible(p.name_zh if lang == "zh" else p.name_en) for p in s.layers}
    root = Path(pack.directory).parent
    out = [paint(f"{w['explain_title']}: " + header(s, lang), "bold")]
    current: object = ()
    steps = [w["step"].format(n=i) for i in range(1, len(s.trace) + 1)]
    label = max([width(x) for x in steps] + [0])
    keys = [w[k] for k in ("rule", "inputs", "formula", "output", "cites")]
    key_w = max(width(k) for k in keys)
    indent = " " * (label + 2)

    def row(key: str, text: str, style: tuple = ()) -> str:
        return indent + paint(pad(w[key], key_w), "dim") + "  " + paint(visible(text), *style)

    for i, t in enumerate(s.trace):
        if t.layer != current:
            current = t.layer
            title = f"{names.get(t.layer, visible(t.layer))} ({visible(t.layer)})" if t.layer else w["general"]
            out += ["", paint(f"== {title} ==", "cyan", "bold")]
            if t.basis:
                out.append(paint(f"   {w['basis']}: {visible(t.basis)}", "dim"))
        explain = visible(t.explain_zh if lang == "zh" else t.explain_en)
        out.append(paint(pad(steps[i], label), "bold") + "  " + explain)
        where = f"  ({root / t.site})" if t.site else ""  # the settlement carries its rules' sites
        out.append(row("rule", t.rule + where))
        if t.inputs:
            out.append(row("inputs", ", ".join(f"{input_label(k, lang)} = {v}" for k, v in t.inputs.items())))
        if t.formula and t.formula != t.output:
            out.append(row("formula", t.formula))
        out.append(row("output", t.output, ("bold",)))
        for j, c in enumerate(t.citations):
            assumed = c.source.startswith("assumed")
            text = visible(f"{c.parameter} = {c.value}") + (f"  {w['assumed']}" if assumed else "")
            out.append(row("cites", text, ("yellow",) if assumed else ()) if j == 0 else
                       indent + " " * (key_w + 2) + paint(text, *(("yellow",) if assumed else ())))
            out.append(indent + " " * (key_w + 4) + paint(visible(c.source), "dim"))
    out += ["", paint(w["summary"], "cyan", "bold")]
    t = layers_table(s, lang)
    t.rule()
    t.add(w["patient_total"], "", "", "", money(s.patient.total), style=("bold",))
    for name in AFTER_TOTAL_ORDER:
        t.add("  " + _patient_label(name, lang), "", "", "", money(getattr(s.patient, name)))
    out += t.render(paint)
    out += [paint("  " + n, "dim") for n in layer_notes(s, lang)]
    return "\n".join(out)


# --- rules show -------------------------------------------------------------------------------


def parameters_text(pack: RulePack, on: dt.date | None, paint: Paint) -> str:
    meta = pack.meta
    out = [paint(visible(f"pack {pack.name} — {meta.title}"), "bold"),
           visible(f"  folder {pack.directory}   jurisdiction {meta.jurisdiction}")]
    if on is None:
        vs = ", ".join(str(v.start) for v in pack.versions)
        out.append(f"  every value of every version ({vs}; valid until {meta.valid_until})")
    else:
        v = pack.version_for(on)
        out.append(f"  in force on {on}: version {v.start} (valid {v.start} to {v.end})")
    out.append("")
    root = Path(pack.directory).parent
    by_file: dict[str, list] = {}
    assumed = total = 0
    for name in sorted(pack.parameters):
        p = pack.parameters[name]
        values = [p.at(on)] if on is not None else list(p.values)
        by_file.setdefault(values[0].file, []).append((name, values))
    t = Table(["parameter", "value", "since", "", "source"], "lrrll")
    for file in sorted(by_file):
        t.heading(str(root / file))
        for name, values in by_file[file]:
            for i, v in enumerate(values):
                total += 1
                assumed += v.assumed
                t.add(name if i == 0 else "", v.text, str(v.start), "*" if v.assumed else "", v.source,
                      style=("yellow",) if v.assumed else ())
    out += t.render(paint)
    out += ["", (f"  {len(pack.parameters)} parameters, {total} values shown; "
                 f"* = assumed ({assumed} of {total}): no published source yet, the source says why")]
    return "\n".join(out)
