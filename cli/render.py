"""Text renderings of a settlement (calc), its trace (explain) and a pack's parameters (rules show).

Layers, the patient's part and the accumulators are rendered from what the settlement carries, so a
layer or a PatientPart field added to the engine shows up without a change here.

Every text from the claim or the rule pack (ids, names, descriptions, rule text, file names) goes through
`visible()` (Grid does it for its cells) before it is coloured: it cannot drive the terminal.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import os
import re
import shutil
import sys
from decimal import Decimal
from pathlib import Path

from rich.cells import cell_len, chop_cells
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.measure import Measurement
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.table import Table as RichTable
from rich.text import Text

from benefits import PatientPart, RulePack, Settlement
from benefits.explanation import counter_label, layer_name, shown_step
from benefits.money import fmt_ratio
from benefits.render import CATEGORIES_ZH, basis_text, both_languages, date_text
from benefits.trace import is_assumed

from .text import Paint, money, visible

ZERO = Decimal("0.00")

WORDS = {
    "zh": {
        "claim": "就诊", "pack": "统筹地区", "version": "政策版本", "deciding_date": "适用日期",
        "bill": "费用分解", "amount": "金额", "yuan": "金额单位：元",
        "total": "医疗费总额", "fully_self_paid": "全自费", "over_limit": "超限价自付",
        "pre_self_paid": "乙类先行自付", "policy_range": "政策范围内费用",
        "deductible": "起付线（实际支付）", "ratio": "基本统筹支付比例",
        "payouts": "各层支付", "layer": "层", "name": "名称", "base": "计算基数", "cap_left": "剩余限额",
        "paid": "支付", "no_cap": "不设限额", "all_funds": "基金支付合计", "not_applied": "不适用：",
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
        "paid": "paid", "no_cap": "no cap", "all_funds": "all funds", "not_applied": "not applicable: ",
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
        "co_pay_no_basic": "政策范围内费用（无基本统筹支付）",
        "relieved_by_later_layers": "基本统筹以外各项基金支付", "total": "个人负担合计",
        "account": "其中个人账户支付", "cash": "其中个人现金支付",
    },
    "en": {
        "fully_self_paid": "fully self-paid (outside the catalogue)", "over_limit": "over the price limit",
        "pre_self_paid": "pre-self-paid (category-B share)", "deductible": "deductible",
        "co_pay": "co-pay above the deductible", "above_cap": "above the basic fund's cap",
        "co_pay_no_basic": "policy-range amount (no basic fund applied)",
        "relieved_by_later_layers": "paid by funds other than the basic fund",
        "total": "patient pays in all", "account": "of which personal account", "cash": "of which cash",
    },
}
SUBTRACTED = {"relieved_by_later_layers"}  # parts that reduce the patient's total
AFTER_TOTAL = {"account", "cash"}  # how the total is paid, shown under it
AFTER_TOTAL_ORDER = ("account", "cash")


def header(s: Settlement, lang: str, pack: RulePack | None = None) -> list[str]:
    """The settlement's heading, field by field ('claim c1', 'version 2021-07-01', ...): a line
    breaks between fields, never between a field's label and its value (`wrap`)."""
    w = WORDS[lang]
    if lang == "zh":
        where = visible(pack.meta.jurisdiction) if pack is not None else visible(s.pack)
        return [f"{w['claim']} {visible(s.claim_id)}", f"{w['pack']} {where}",
                f"{w['version']} {date_text(s.version, lang)}起", f"{w['deciding_date']} {date_text(s.deciding_date, lang)}",
                f"（{w['yuan']}）"]
    return [f"{w['claim']} {visible(s.claim_id)}", f"{w['pack']} {visible(s.pack)}", f"{w['version']} {s.version}",
            f"{w['deciding_date']} {s.deciding_date}", f"({w['yuan']})"]


# A line breaks at spaces and around each wide (Chinese) character, never inside a word.
_WIDE = "\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6"
_OPEN = "（「『《【〈"  # a line does not break after these
_CLOSE = "，。、；：）」』》】〉！？"  # nor before these
# a line may break at spaces and around each wide (Chinese) character
_TOKEN = re.compile(rf"\s+|[{_OPEN}]*[^\s{_WIDE}]+[{_CLOSE}]*|[{_OPEN}]*[{_WIDE}][{_CLOSE}]*")


def wrap(parts: str | list[str], width: int, indent: int = 0, hang: int = 2, sep: str = " ") -> list[str]:
    """`parts` (one text, or several joined by `sep`) as lines of at most `width` columns: the first
    indented `indent` spaces, the others `indent + hang`. A line breaks between parts when the next one
    fits on a line of its own, else at a space or next to a Chinese character; a word wider than a line
    is folded. The text is printed as given: pass it through `visible()` first."""
    parts = [parts] if isinstance(parts, str) else parts
    indent = min(indent, width // 2)
    hang = min(hang, (width - indent) // 2)
    lines: list[str] = []
    cur = ""

    def room() -> int:
        return width - indent - (hang if lines else 0)

    def flush() -> None:
        nonlocal cur
        lines.append(cur.rstrip())
        cur = ""

    def put(token: str) -> None:
        nonlocal cur
        if token.isspace():
            cur += token if cur else ""
            return
        if cur and cell_len(cur) + cell_len(token) > room():
            flush()
        if cell_len(token) > room():  # a word wider than a line: folded in one pass (an id of 10**6 letters)
            head = chop_cells(token, room())[0]
            cur = head
            flush()
            pieces = chop_cells(token[len(head):], room())  # every line after the first has the same room
            for piece in pieces[:-1]:
                cur = piece
                flush()
            token = pieces[-1] if pieces else ""
        cur += token

    for i, part in enumerate(parts):
        text = (sep if i and cur else "") + part
        if cur and cell_len(cur) + cell_len(text) > room() and cell_len(part) <= width - indent - hang:
            flush()
            text = part
        for token in _TOKEN.findall(text):
            put(token)
    if cur or not lines:
        flush()
    return [(" " * (indent + (hang if i else 0)) + line) if line else "" for i, line in enumerate(lines)]


# --- terminal layout (rich) -------------------------------------------------------------------
# `calc` and `explain` are laid out by rich to the width of the terminal (COLUMNS when set; 80 when
# the output is not a terminal), with plain columns and ASCII dashes: no box characters, so piped
# text stays plain and stable. Colour follows `Paint` (a terminal, and NO_COLOR unset); rich itself
# reads no environment variable.

MIN_WIDTH = 20
MAX_WIDTH = 1000  # COLUMNS beyond it (10**9, or more digits than an index holds) is taken as this
_TRAILING = re.compile(r"(?: |\x1b\[[0-9;]*m)+$", re.M)  # spaces (and colour codes among them) ending a line


def output_width(stream=None) -> int:
    """The columns the output may use: COLUMNS when set, else the terminal's width, else 80."""
    stream = stream if stream is not None else sys.stdout
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isascii() and columns.isdigit() and int(columns) > 0:
        return min(MAX_WIDTH, max(MIN_WIDTH, int(columns)))
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    if tty:
        return min(MAX_WIDTH, max(MIN_WIDTH, shutil.get_terminal_size((80, 24)).columns))
    return 80


class Screen:
    """Renderables laid out to `width` columns; `text()` is the result, without trailing spaces."""

    def __init__(self, paint: Paint, columns: int | None = None):
        self.buffer = io.StringIO()
        colour = paint.enabled
        self.console = Console(file=self.buffer, width=columns or output_width(), force_terminal=colour,
                               color_system="standard" if colour else None, no_color=not colour, highlight=False,
                               markup=False, emoji=False, legacy_windows=False, soft_wrap=False, _environ={})

    def print(self, *items, indent: int = 0) -> None:
        for item in items:
            self.console.print(Padding(item, (0, 0, 0, indent)) if indent else item)

    def blank(self) -> None:
        self.console.print()

    def text(self) -> str:
        def keep_codes(m: re.Match) -> str:
            return m.group().replace(" ", "")

        return _TRAILING.sub(keep_codes, self.buffer.getvalue()).rstrip("\n")


class Grid:
    """A table of plain columns, two spaces apart: 'l' left aligned, 'r' right aligned (an amount), 'L' left
    aligned (an id). `rule()` puts a line of dashes under the amount columns (before a total); `widths`
    gives columns a minimum width, to align the columns of several grids. Every cell goes through
    `visible()`.

    Printed as it is, a Grid lays itself out to the width it is given (see `renderable`): the 'l' columns
    wrap, and ids and amounts are kept whole while the 'l' columns keep room for a word (WORD); on a
    narrower screen the amounts are kept whole, then nothing: a cell is wrapped, never cut off.
    """

    def __init__(self, headers: list[str], align: str, widths: list[int | None] | None = None):
        self.headers, self.align, self.rows = headers, align, []
        self.widths = widths or [None] * len(headers)

    def add(self, *cells: str, style: str = "") -> None:
        self.rows.append(([visible(c) for c in cells] + [""] * (len(self.headers) - len(cells)), style))

    def rule(self) -> None:
        self.rows.append(None)

    def renderable(self, width: int | None = None) -> RichTable:
        """The rich table for `width` columns (any width when None). Kept whole, the first way that fits:
        ids and amounts, on one line with their headers; ids and amounts, their headers wrapped at spaces;
        the amounts only; nothing (every column wraps, rich narrowing the widest first)."""
        n = len(self.headers)
        sizes = self._sizes(headers=False)
        amounts = [a == "r" for a in self.align]
        no_wrap, fixed = [False] * n, [False] * n
        if width is None or self.narrowest() <= width:
            no_wrap = [a in "Lr" for a in self.align]
        elif sum(sizes) + self._gaps() <= width:
            fixed = [a in "Lr" for a in self.align]
        elif sum(s if r else WORD // 2 for s, r in zip(sizes, amounts)) + self._gaps() <= width:
            fixed = amounts
        t = RichTable(box=None, show_edge=False, pad_edge=False, padding=(0, 1), header_style="bold",
                      show_header=any(self.headers))
        for i, (h, a) in enumerate(zip(self.headers, self.align)):
            t.add_column(Text(visible(h)), justify="right" if a == "r" else "left", overflow="fold",
                         min_width=self.widths[i], no_wrap=no_wrap[i], width=sizes[i] if fixed[i] else None)
        for row in self.rows:
            if row is None:
                t.add_row(*map(Text, self._rule_cells()))
            else:
                t.add_row(*[Text(c) for c in row[0]], style=row[1] or None)
        return t

    def _rule_cells(self) -> list[str]:
        """A rule's cells: under each amount column, dashes as wide as its widest cell."""
        return ["-" * max([cell_len(r[0][i]) for r in self.rows if r is not None] + [0]) if a == "r" else ""
                for i, a in enumerate(self.align)]

    def narrowest(self) -> int:
        """The fewest columns the table takes with its ids and amounts, and their headers, whole on one line,
        and each 'l' column as wide as its longest word, or WORD (a line may break after any Chinese
        character)."""
        return sum(self._sizes(headers=True)) + self._gaps()

    def _sizes(self, headers: bool) -> list[int]:
        """Each column's width for narrowest(); with headers=False, the headers count by their longest word."""
        sizes = []
        for i, a in enumerate(self.align):
            cells = [r[0][i] for r in self.rows if r is not None]
            head = visible(self.headers[i])
            if a == "l":
                size = min(max(map(_longest_word, cells + [head])), WORD)
            else:
                size = max(list(map(cell_len, cells)) + [cell_len(head) if headers else _longest_word(head)])
            sizes.append(max(size, self.widths[i] or 0))
        return sizes

    def _gaps(self) -> int:
        return 2 * (len(self.headers) - 1)

    def natural(self) -> list[int] | None:
        """Each column's width with every cell whole on one line (rich's own layout when it fits), or None
        where rich lays the table out otherwise: a cell holding a line break, a cell ending in a space or
        holding one but U+0020 (rich drops or changes them), a column of no width (rich writes it as one
        styled segment)."""
        cells = [[visible(h) for h in self.headers]] if any(self.headers) else []
        cells += [r[0] for r in self.rows if r is not None]
        if any("\n" in c for row in cells for c in row):
            return None
        if any(c != c.rstrip() or _ODD_SPACE.search(c) for row in cells for c in row):
            return None
        sizes = [max([cell_len(row[i]) for row in cells] + [self.widths[i] or 0]) for i in range(len(self.align))]
        return sizes if all(sizes) else None

    def _lines(self, sizes: list[int]) -> RenderResult:
        """The table laid out at `sizes`, line by line, as rich lays out a table that fits (a column's
        cells padded to its width, two spaces between columns, the header bold, a row's style over
        its whole line): rich's table costs about a millisecond a row, and a stay bills thousands."""
        def line(cells: list[str], style) -> list[Segment]:
            out = []
            for i, (cell, size, a) in enumerate(zip(cells, sizes, self.align)):
                if i:
                    out += gap(style)
                pad = " " * (size - cell_len(cell))
                out.append(Segment(pad + cell if a == "r" else cell + pad, style))
            return out

        def gap(style) -> list[Segment]:  # a cell's right padding, the next one's left: as rich writes them
            return [Segment(" ", style), Segment(" ", style)]

        if any(self.headers):
            yield from line([visible(h) for h in self.headers], _BOLD)
            yield Segment.line()
        for row in self.rows:
            if row is None:
                yield from line(self._rule_cells(), None)
            else:
                yield from line(row[0], Style.parse(row[1]) if row[1] else None)
            yield Segment.line()

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        sizes = self.natural()
        if sizes is not None and sum(sizes) + self._gaps() <= options.max_width:
            yield from self._lines(sizes)
        else:
            yield self.renderable(options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.renderable(options.max_width))


_BOLD = Style(bold=True)
_ODD_SPACE = re.compile(r"[^\S ]")  # a space but U+0020 (no-break, ideographic, ...)
WORD = 10  # the room a wrapped column keeps before ids and amounts are wrapped too
_WORD = re.compile(rf"[^\s{_WIDE}]+")  # a run of narrow characters: a line breaks around it


def _longest_word(text: str) -> int:
    """The widest part of `text` a line cannot break: a run of narrow characters between spaces, or one wide
    (Chinese) character."""
    words = [cell_len(w) for w in _WORD.findall(text)]
    wide = [cell_len(c) for c in _WORD.sub(" ", text) if not c.isspace()]
    return max(words + wide + [0])


def under(text: str, indent: int = 2, style: str = "") -> Padding:
    """`text` (from the claim or the pack) on lines of its own under a row, indented and wrapped to the width."""
    return Padding(Text(visible(text), style=style), (0, 0, 0, indent))


def _note(text: str) -> Text:
    return Text(visible(text), style="dim")


def settlement_text(s: Settlement, pack: RulePack, lang: str, paint: Paint, columns: int | None = None) -> str:
    w = WORDS[lang]
    out = Screen(paint, columns)
    out.print(*[Text(line, style="bold") for line in wrap(header(s, lang, pack), out.console.width, hang=0, sep="   ")])
    out.blank()

    bill = Grid([w["bill"], w["amount"]], "lr")
    for name in ("total", "fully_self_paid", "over_limit", "pre_self_paid", "policy_range"):
        bill.add(w[name], money(getattr(s.bill, name)))
    bill.add(w["deductible"], money(s.deductible))
    if s.ratio is not None:
        bill.add(w["ratio"], fmt_ratio(s.ratio))
    out.print(bill, indent=2)
    out.blank()

    if s.items:
        items = Grid([w["item"], w["category"], w["amount"], w["share"], *w["item_parts"]], "Llrrrrrr")
        for it in s.items:
            share = "" if it.self_pay_share is None else fmt_ratio(it.self_pay_share)
            category = CATEGORIES_ZH.get(it.category, it.category) if lang == "zh" else it.category
            items.add(it.id, category, money(it.amount), share, money(it.fully_self_paid),
                      money(it.over_limit), money(it.pre_self_paid), money(it.policy_range))
        out.print(items, indent=2)
        out.blank()

    out.print(layers_table(s, lang, out.console.width - 2), indent=2)
    out.print(*[_note(n) for n in layer_notes(s, lang)], indent=2)
    out.blank()

    patient = Grid([w["patient"], w["amount"]], "lr")
    fields = [f.name for f in dataclasses.fields(PatientPart)]
    for name in fields:
        if name in AFTER_TOTAL or name == "total":
            continue
        value = getattr(s.patient, name)
        # where no basic fund applied (maternity, a COVID test's finance share) the policy-range
        # amount is no co-pay of one
        label = _patient_label("co_pay_no_basic" if name == "co_pay" and s.ratio is None else name, lang)
        patient.add(label, money(-value if name in SUBTRACTED and value else value))
    patient.rule()
    patient.add(_patient_label("total", lang), money(s.patient.total), style="bold")
    for name in fields:
        if name in AFTER_TOTAL:
            patient.add("  " + _patient_label(name, lang), money(getattr(s.patient, name)))
    out.print(patient, indent=2)
    out.blank()

    out.print(accumulators_table(s, pack, lang), indent=2)
    return out.text()


def layers_table(s: Settlement, lang: str, width: int | None = None) -> Grid:
    """The layers that applied: the funds, their total, then what pays from the patient's own share.
    In Chinese, each layer by its Chinese name only; in English, its id and its name, or its name
    only where the two do not fit in `width` columns without breaking a word of the name."""
    if lang == "zh":
        return _layers_grid(s, lang, with_id=False)
    t = _layers_grid(s, lang, with_id=True)
    return t if width is None or t.narrowest() <= width else _layers_grid(s, lang, with_id=False)


def _layers_grid(s: Settlement, lang: str, with_id: bool) -> Grid:
    w = WORDS[lang]
    t = Grid([w["payouts"], w["name"], w["base"], w["cap_left"], w["paid"]], "Llrrr") if with_id else \
        Grid([w["payouts"], w["base"], w["cap_left"], w["paid"]], "lrrr")

    def row(p, mark: str = "", style: str = "") -> None:
        name = layer_name(p, lang) + mark
        cells = [money(p.base), _cap(p.limit_left, lang), money(p.paid)]
        t.add(*([p.layer, name] if with_id else [name]), *cells, style=style)

    applied = [p for p in s.layers if p.applied]
    for p in [p for p in applied if p.fund]:
        row(p)
    t.rule()
    t.add(w["all_funds"], *([""] * (len(t.headers) - 2)), money(s.fund_total), style="bold")
    for p in [p for p in applied if not p.fund]:
        row(p, " †")
    return t


def layer_notes(s: Settlement, lang: str) -> list[str]:
    """The notes under the layers: what † means, and the layers that do not apply, folded into one line."""
    w = WORDS[lang]
    notes = []
    if any(p.applied and not p.fund for p in s.layers):
        notes.append(w["not_fund"])
    skipped = [layer_name(p, lang) for p in s.layers if not p.applied]
    if skipped:
        notes.append(w["not_applied"] + ("、" if lang == "zh" else ", ").join(skipped))
    return notes


def _cap(value: Decimal | None, lang: str) -> str:
    return WORDS[lang]["no_cap"] if value is None else money(value)


def _patient_label(name: str, lang: str) -> str:
    if name in PATIENT[lang]:
        return PATIENT[lang][name]
    return PatientPart.description(name)


def accumulators_table(s: Settlement, pack: RulePack, lang: str) -> Grid:
    w = WORDS[lang]
    zh = lang == "zh"
    before, after = s.accumulators_before, s.accumulators_after
    t = Grid([w["accumulators"], w["before"], w["after"], w["change"]], "lrrr") if zh else \
        Grid([w["accumulators"], w["before"], w["after"], w["change"], w["meaning"]], "Lrrrl")
    change = after.admissions - before.admissions
    cells = [str(before.admissions), str(after.admissions), f"{change:+d}" if change else ""]
    t.add(w["admissions"], *cells) if zh else t.add("admissions", *cells, w["admissions"])
    known = [c for c in pack.counters]
    names = list(dict.fromkeys(known + sorted(set(before.counters) | set(after.counters))))
    for name in names:
        if name not in before.counters and name not in after.counters:
            continue
        b, a = before.get(name), after.get(name)
        cells = [money(b), money(a), money(a - b, signed=True) if a != b else ""]
        if zh:
            t.add(visible(counter_label(name, pack, lang)), *cells)
        else:
            described = pack.counters.get(name.partition("@")[0])
            t.add(name, *cells, described.en if described is not None else "")
    return t


# --- explain ----------------------------------------------------------------------------------


def trace_text(s: Settlement, pack: RulePack, lang: str, paint: Paint, columns: int | None = None) -> str:
    """The trace step by step. Layers that do not apply are folded into one line at the end; in
    Chinese, every id is named (layers, groups, levels, dates) and no rule id or file is shown."""
    w = WORDS[lang]
    zh = lang == "zh"
    names = {p.layer: layer_name(p, lang) for p in s.layers}
    idle = {p.layer for p in s.layers if not p.applied}
    root = Path(pack.directory).parent
    out = Screen(paint, columns)
    head = header(s, lang, pack)
    head[0] = f"{w['explain_title']}{'：' if zh else ': '}{head[0]}"
    out.print(*[Text(line, style="bold") for line in wrap(head, out.console.width, hang=0, sep="   ")])
    shown = [t for t in s.trace if t.step.rpartition(".")[2] != "skip"]
    labels = [w["step"].format(n=i) for i in range(1, len(shown) + 1)]
    label_w = max([cell_len(x) for x in labels] + [0])
    current: object = ()
    grid = None

    def flush() -> None:
        if grid is not None:
            out.print(grid)

    for label, t in zip(labels, shown):
        if t.layer != current:
            flush()
            current = t.layer
            if t.layer is None:
                title = w["general"]
            else:
                title = visible(names.get(t.layer, t.layer)) + ("" if zh else f" ({visible(t.layer)})")
            out.blank()
            out.print(Text(f"== {title} ==", style="cyan bold"))
            basis = basis_text(t.basis, lang) if t.basis else ""
            if basis:
                out.print(Text(f"{w['basis']}{'：' if zh else ': '}{visible(basis)}", style="dim"), indent=3)
            grid = RichTable.grid(padding=(0, 2))
            grid.add_column(min_width=label_w, no_wrap=True)
            grid.add_column(overflow="fold")
        grid.add_row(Text(label, style="bold"), _step_body(t, lang, w, names, idle, pack, root))
    flush()
    out.blank()
    out.print(Text(w["summary"], style="cyan bold"))
    table = layers_table(s, lang, out.console.width - 2)
    table.rule()
    pad_cells = [""] * (len(table.headers) - 2)
    table.add(w["patient_total"], *pad_cells, money(s.patient.total), style="bold")
    for name in AFTER_TOTAL_ORDER:
        table.add("  " + _patient_label(name, lang), *pad_cells, money(getattr(s.patient, name)))
    out.print(table, indent=2)
    out.print(*[_note(n) for n in layer_notes(s, lang)], indent=2)
    return out.text()


def _step_body(t, lang: str, w: dict, names: dict, idle: set, pack: RulePack, root: Path) -> Group:
    zh = lang == "zh"
    shown = shown_step(t, pack, lang, names, idle)
    rows = RichTable.grid(padding=(0, 2))
    rows.add_column(no_wrap=True, style="dim", min_width=max(cell_len(w[k]) for k in ("rule", "inputs", "formula", "output", "cites")))
    rows.add_column(overflow="fold")

    def row(key: str, text: Text | str, style: str = "") -> None:
        rows.add_row(Text(w[key]), text if isinstance(text, Text) else Text(visible(text), style=style))

    if shown.rule is not None:  # the rule and its file:line, for whoever maintains the pack
        row("rule", shown.rule + (f"  ({root / shown.site})" if shown.site else ""))
    if shown.inputs:
        row("inputs", ("，" if zh else ", ").join(f"{k} = {v}" for k, v in shown.inputs))
    if shown.formula:
        row("formula", shown.formula)
    row("output", shown.output, "bold")
    for j, c in enumerate(shown.citations):
        cite = Text(visible(f"{c.name} = {c.value}"), style="yellow" if c.assumed else "")
        if c.assumed:
            cite.append(f"  {w['assumed']}", style="yellow")
        if c.source:
            cite.append("\n  " + visible(c.source), style="dim")
        rows.add_row(Text(w["cites"]) if j == 0 else Text(""), cite)
    return Group(Text(visible(shown.explain)), rows)


def wrapped(text: str, columns: int | None = None) -> str:
    """A line of prose (a summary, a status) wrapped to the output width (`wrap`)."""
    return "\n".join(wrap(visible(text), columns or output_width(), hang=0))


# --- check ------------------------------------------------------------------------------------

CASE_INDENT = 7  # under "FAIL   ": a case's description, differences and notes line up under its file


CASE_STATUS = {"passed": ("ok   ", "green"), "failed": ("FAIL ", "bold red")}


def case_text(status: str, shown: str, description: str, paint: Paint, mismatches=(), columns: int | None = None) -> str:
    """One case of `check` ('passed' or 'failed'): its status and file, then its description, on the
    same line when it fits and else on lines of its own under the file, wrapped; for a failure, the
    differing fields with the expected and the actual value, as a table that fits the width."""
    out = Screen(paint, columns)
    head = Text.assemble(CASE_STATUS[status], "  ", visible(shown))
    description = visible(description)
    if description and cell_len(f"{head.plain}  {description}") <= out.console.width:
        out.print(Text.assemble(head, "  ", description))
    else:  # the file name whole, however long: grep, editors and CI logs find it
        out.console.print(head, no_wrap=True, overflow="ignore", crop=False)
        if description:
            out.print(Text(description), indent=CASE_INDENT)
    if mismatches:
        table = Grid(["field", "expected", "actual"], "lrr")
        for m in mismatches:
            table.add(m.field, str(m.expected), str(m.actual))
        out.print(table, indent=CASE_INDENT)
    return out.text()


# --- rules show -------------------------------------------------------------------------------


def pack_overview(pack: RulePack) -> list:
    """What a pack covers and how it pays: levels, visits, diseases, services and refusals, its counters,
    its layers; grids for pack_text to lay out to the terminal's width."""
    meta = pack.meta
    covers = Grid(["", ""], "Ll")
    covers.add("levels", ", ".join(meta.levels))
    covers.add("visits", ", ".join(meta.visits))
    covers.add("diseases", "; ".join(f"{name} {', '.join(ranges)}" for name, ranges in meta.diseases.items()) or "none")
    covers.add("services", ", ".join(meta.services) or "none")
    covers.add("refusals", str(len(meta.refusals)))
    counters = Grid(["counter", "description"], "Ll")
    for c in meta.counters:
        counters.add(c.name, both_languages(c.description))
    # a layer's name, its longest part, on lines of its own under its row: the rows of all layers aligned alike
    sizes = [max(cell_len(visible(x)) for x in ["layer", *(layer.id for layer in pack.layers)]),
             max(cell_len(visible(x)) for x in ["kind", *(layer.kind for layer in pack.layers)]), None]
    layers = [Grid(["layer", "kind", "fund code"], "LLl", sizes), under("name", style="bold")]
    for layer in pack.layers:
        row = Grid(["", "", ""], "LLl", sizes)
        row.add(layer.id, layer.kind, ", ".join(f"{scheme} {code}" for scheme, code in layer.fund_code.items()) or "-")
        layers += [row, under(f"{layer.name.zh} / {layer.name.en}")]
        for lift in (x for x in pack.lifted_caps if x.layer == layer.id):
            assumed = is_assumed(lift.source)
            layers.append(under(f"no cap for group {lift.group}{' *' if assumed else ''}: {lift.source}",
                                style="yellow" if assumed else ""))
    return [covers, counters, Group(*layers)]


def pack_text(pack: RulePack, on: dt.date | None, paint: Paint, columns: int | None = None) -> str:
    """`rules show`: the pack's header, what it covers (`pack_overview`), then its
    parameters by file: each name on a line of its own, under it its values (value, since, * when assumed,
    source; an assumed value in yellow), the values of every parameter aligned alike."""
    meta = pack.meta
    out = Screen(paint, columns)
    out.print(Text(visible(f"pack {pack.name} — {meta.title}"), style="bold"))
    if on is None:
        vs = ", ".join(str(v.start) for v in pack.versions)
        when = f"every value of every version ({vs}; valid until {meta.valid_until})"
    else:
        v = pack.version_for(on)
        when = f"in force on {on}: version {v.start} (valid {v.start} to {v.end})"
    out.print(Text(visible(f"folder {pack.directory}   jurisdiction {meta.jurisdiction}")), Text(when), indent=2)
    for part in pack_overview(pack):
        out.blank()
        out.print(part, indent=2)
    out.blank()

    root = Path(pack.directory).parent
    by_file: dict[str, list] = {}
    for name in sorted(pack.parameters):
        p = pack.parameters[name]
        values = [p.at(on)] if on is not None else list(p.values)
        by_file.setdefault(values[0].file, []).append((name, values))
    shown = [v for params in by_file.values() for _, values in params for v in values]
    headers = ["value", "since", "", "source"]
    sizes = [max([cell_len(visible(v.text)) for v in shown] + [cell_len(headers[0])]), len("YYYY-MM-DD"), 1, None]
    out.print(Text("parameter", style="bold"), indent=2)
    out.print(Grid(headers, "rrll", sizes), indent=VALUES)
    for file in sorted(by_file):
        out.blank()
        out.print(Text(visible(str(root / file)), style="bold"), indent=2)
        for name, values in by_file[file]:
            out.print(Text(visible(name)), indent=2)
            grid = Grid(["", "", "", ""], "rrll", sizes)
            for v in values:
                grid.add(v.text, str(v.start), "*" if v.assumed else "", v.source, style="yellow" if v.assumed else "")
            out.print(grid, indent=VALUES)
    out.blank()
    assumed = sum(v.assumed for v in shown)
    out.print(Text(f"{len(pack.parameters)} parameters, {len(shown)} values shown; * = assumed ({assumed} of "
                   f"{len(shown)}): no published source yet, the source says why"), indent=2)
    return out.text()


VALUES = 4  # the indent of a parameter's values, under its name
