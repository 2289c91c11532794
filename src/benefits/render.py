"""The one place the trace becomes text: recorded steps (trace.Step) -> TraceStep, with the
explanation in Chinese and English, the inputs, the formula with its numbers, the output, the
parameters cited and the rule's site in its pack.

The calculator and the layer kinds record numbers (fen, ratio units) and words only; how a step
reads is decided here, by the step's shape (`Step.what`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Callable

from .money import RATIO, fmt_exact, fmt_fen, fmt_units
from .trace import Step, TraceStep

if TYPE_CHECKING:  # pragma: no cover
    from .rules.files import Text as PackText  # `Text` below is a renderer's result

NO_CAP = "none"
GROUPS_ZH = {"dibao": "低保", "tekun": "特困", "guer": "孤儿", "tuopin": "脱贫", "dishouru": "低收入",
             "low_income": "低收入、脱贫", "none": "无"}
"""Chinese names of the groups the packs use; a group a pack names otherwise shows its id."""
GROUPS_EN = {"dibao": "subsistence allowance (dibao)", "tekun": "extreme poverty (tekun)", "guer": "orphan (guer)",
             "tuopin": "lifted out of poverty (tuopin)", "dishouru": "low-income family (dishouru)",
             "low_income": "low-income or lifted out of poverty", "none": "no group"}
"""English names of the groups (the claim's own words beside them); another group shows its id."""
SCHEMES_ZH = {"resident": "居民", "employee": "职工"}
LEVELS_ZH = {"level1": "一级", "level2": "二级", "level3": "三级",
             "township": "乡镇", "county": "县级", "city": "市级", "province": "省级"}
"""Chinese names of the hospital levels the packs use (the packs' levels are ids); another id shows as is."""
DISEASES_ZH = {"hypertension": "高血压", "diabetes": "糖尿病", "uraemia": "尿毒症透析", "cancer": "恶性肿瘤",
               "transplant": "器官移植术后抗排异", "none": "无"}
MEMBER_TYPES_ZH = {"in_service": "在职", "retired": "退休", "adult": "成年居民", "child": "未成年人", "student": "学生"}
VISITS_ZH = {"inpatient": "住院", "day_surgery": "日间手术", "general_outpatient": "普通门诊",
             "special_outpatient": "门特", "maternity": "生育", "covid_test": "核酸检测"}
SERVICES_ZH = {"prenatal_care": "产前检查", "termination": "门诊终止妊娠", "iud": "放置或取出宫内节育器"}
"""Chinese names of the maternity services settled at fixed amounts (domain.md 7.1)."""
CATEGORIES_ZH = {"A": "甲", "B": "乙", "C": "丙"}
_WORDS_ZH = {**DISEASES_ZH, **GROUPS_ZH, **SCHEMES_ZH, **LEVELS_ZH, **MEMBER_TYPES_ZH, **VISITS_ZH, **SERVICES_ZH}
_ISO_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def date_text(day, lang: str) -> str:
    """A date as a reader in `lang` writes it: 2021年8月16日, or 2021-08-16."""
    text = str(day)
    if lang != "zh":
        return text
    return _ISO_DAY.sub(lambda m: f"{int(m[1])}年{int(m[2])}月{int(m[3])}日", text)


def word(value: str, lang: str) -> str:
    """A value of the trace or the settlement (a group, scheme, level, disease or visit id, a date,
    `none`) as a reader in `lang` reads it; other values as they are."""
    if lang != "zh":
        return value
    if value in _WORDS_ZH:
        return _WORDS_ZH[value]
    return date_text(value, lang) if _ISO_DAY.fullmatch(value) else value


_FORMULA_ZH = (
    ("; capped at ", "；以剩余限额为限："), (" points", " 个百分点"), ("max -> ", "取最多 -> "),
    ("0 (no part of the cumulative amount lies in a band)", "0（累计金额未进入任何分段）"), ("no cap", "不设限额"),
    (", at most ", "，最高为"), (", at least ", "，最低为"),
    ("; ", "；"), (" in ", " 属于 "),
)


def formula_text(text: str, lang: str) -> str:
    """A formula (or a parameter's value) in `lang`: its few words translated, ids and dates named."""
    if lang != "zh":
        return text
    for en, zh in _FORMULA_ZH:
        text = text.replace(en, zh)
    text = re.sub(r"(?<=-> )([a-z_]+)$", lambda m: word(m[1], lang), text)
    return date_text(text, lang)


_DOC_REF = re.compile(r"\s*[（(][^（）()]*domain\.md[^（）()]*[)）]")
_OUR_RULES = re.compile(r"[；;]?\s*结算口径：[^；;]*")
_PIECES = re.compile(r"\s*(?:[；;]|,\s)\s*")  # "a; b", "a, b"; not the comma of 1,200.00
_CJK = re.compile(r"[\u3400-\u9fff]")
_NOTICE = re.compile(r"^notice (\S+?):\s*")


def source_text(source: str, lang: str) -> str:
    """A parameter's source as a reader in `lang` is shown it: in Chinese, the policy's own words
    only, without the project's references (its notes, seed numbers, English remarks; a published
    notice's number stays, as 文号); '' when nothing is left, as for an assumed value (the reader is
    told it is assumed)."""
    if lang != "zh":
        return source
    if source.startswith("assumed"):
        return ""
    text = _DOC_REF.sub("", source)
    notice = _NOTICE.match(text)
    text = re.sub(r"^seed \d+:\s*", "", text[notice.end():] if notice else text).strip()
    words = "；".join(piece for piece in _PIECES.split(text) if _CJK.search(piece))
    return f"文号 {notice[1]}：{words}" if notice and words else words


def basis_text(basis: str, lang: str) -> str:
    """A layer's policy basis (its `citation:`) in `lang`: in Chinese, the published documents only."""
    if lang != "zh":
        return basis
    return _OUR_RULES.sub("", _DOC_REF.sub("", basis)).strip(" ；;")

INPUTS_ZH = {
    "deciding_date": "适用日期", "total": "费用总额", "items": "明细条数", "default_b_share": "乙类先行自付比例（默认）",
    "admissions_before": "本年此前住院次数", "level": "医院等级", "scheme": "险种", "paid_so_far": "已支付",
    "policy_range": "政策范围内费用", "deductible_applied": "起付线（实际支付）", "ratio": "支付比例", "cap_left": "剩余限额",
    "this_claim": "本次", "before": "本次前累计", "after": "本次后累计", "first_band_start": "首段起点",
    "left": "剩余合规自付", "aid_deductible_used": "救助起付线", "aid_deductible_met": "本年已计入救助起付线", "service": "服务项目",
    "diagnosis": "主诊断", "others": "其他诊断", "disease": "病种", "group": "人员类别", "deductible": "起付线",
    "policy_range_left": "剩余政策范围内费用", "eligible": "合规费用", "basic_cap_left": "基本医疗保险剩余限额",
    "basic_ratio": "基本医疗保险支付比例", "pre_self_paid": "先行自付", "balance": "账户余额", "account": "个人账户",
}
"""The trace's input names in Chinese (counters and layer ids show as the pack names them)."""


def input_label(name: str, lang: str) -> str:
    """How an input of a trace step is named to a reader in `lang`."""
    return INPUTS_ZH.get(name, name) if lang == "zh" else name


_OWN_SPACE = ("）", "」", "》", "】")  # full-width closing marks: their glyph carries the space after them


def both_languages(text: PackText) -> str:
    """A pack's text (`{zh, en}`: a counter's or a parameter's description) on one line for a reader
    of either language: '中文 / English', '中文（注）/ English' after a full-width mark, the one text
    when both halves are the same."""
    if text.zh == text.en:
        return text.zh
    return f"{text.zh}{'' if text.zh.endswith(_OWN_SPACE) else ' '}/ {text.en}"


def _cap(cap_left: int | None) -> str:
    return NO_CAP if cap_left is None else fmt_fen(cap_left)


def _capped(formula: str, raw: int, den: int, cap_left: int | None) -> str:
    """The formula, noting the cap where it binds (raw / den is the uncapped amount in fen)."""
    return formula + f"; capped at {fmt_fen(cap_left)}" if cap_left is not None and cap_left * den < raw else formula


def _points(points) -> str:
    return f"{points:+f}"


# Each renderer: (data, parameters cited) -> (explain_zh, explain_en, inputs, formula, output)
Text = tuple[str, str, dict, str, str]


# The claim's date a version is picked by (domain.md 6.1): a stay's discharge (its settlement) or admission,
# another visit's date
_DECIDING = {"discharge_date": ("出院日期", "discharge date"), "admission_date": ("入院日期", "admission date"),
             "date": ("就诊日期", "visit date")}


def _version(d: dict, cites: tuple) -> Text:
    day, start = d["day"], d["start"]
    zh, en = _DECIDING[d["field"]]
    return (f"按{zh}{date_text(day, 'zh')}，适用{date_text(start, 'zh')}起施行的政策",
            f"the {en} {day} selects the version of {start}", {"deciding_date": str(day)}, "", str(start))


def _bill(d: dict, cites: tuple) -> Text:
    total, fully, over, pre, policy = (fmt_fen(d[k]) for k in ("total", "fully", "over", "pre", "policy"))
    formula = f"{total} - {fully} - {over} - {pre} = {policy}"
    if d["items"] is None:
        return "费用已由医疗机构分解", "the bill came already split", {"total": total}, formula, policy
    # the pack's default share is an input only where a B item without its own took it
    default = {} if d["default_share"] is None else {"default_b_share": fmt_units(d["default_share"])}
    return ("逐项分解：丙类全自费；超支付标准部分为超限价自付；乙类按其先行自付比例（未给出的按默认比例）先行自付；其余为政策范围内费用"
            "（各明细的分解见结算单的“费用明细分解”）",
            "item by item: C fully self-paid; the price above the payment standard is over-limit; B pre-pays its "
            "share (its own, else the default); the rest is the policy-range amount (each item's split: the "
            "settlement's line items)",
            {"items": str(d["items"]), **default}, formula, policy)


def _deductible(d: dict, cites: tuple) -> Text:
    per, number, base, amount = d["per"], d["admissions"] + 1, fmt_fen(d["base"]), fmt_fen(d["amount"])
    inputs = {"admissions_before": str(d["admissions"])} if per == "admission" else {}
    if d["factor"] is not None:
        f = fmt_units(d["factor"])
        return (f"本年第{number}次住院，起付线按{f}计", f"admission no. {number} this year: {f} of the deductible",
                inputs, f"{base} x {f} = {amount}", amount)
    if per == "admission":
        return (f"本年第{number}次住院，起付线", f"admission no. {number} this year: the level's deductible",
                inputs, base, amount)
    if per == "year":
        return ("年度起付线未用部分", "the annual deductible not yet used", inputs,
                f"max(0, {base} - {fmt_fen(d['used'])}) = {amount}", amount)
    return "每次起付线", "the per-claim deductible", inputs, base, amount


def _ratio(d: dict, cites: tuple) -> Text:
    r = fmt_units(d["ratio"])
    level, scheme, disease = d["level"], d["scheme"], d["disease"]
    if disease is None:
        return (f"基金支付比例（{word(level, 'zh')}医院，{word(scheme, 'zh')}）", f"the fund's payment ratio ({level}, {scheme})",
                {"level": level, "scheme": scheme}, r, r)
    return (f"基金支付比例（{word(disease, 'zh')}，{word(level, 'zh')}医院，{word(scheme, 'zh')}）",
            f"the fund's payment ratio ({disease}, {level}, {scheme})", {"disease": disease, "level": level, "scheme": scheme},
            r, r)


def _diagnosis(d: dict, cites: tuple) -> Text:
    code, disease = d["code"], d["disease"]
    ranges = ", ".join(f"{l}{lo:02d}" + (f"-{l}{hi:02d}" if hi != lo else "") for l, lo, hi in d["ranges"])
    others = {"others": ", ".join(d["others"])} if d["others"] else {}
    if disease == "none":
        return (f"主诊断 {code} 不属于本规则的任何病种", f"primary diagnosis {code} is in none of the pack's disease lists",
                {"diagnosis": code, **others}, "", disease)
    return (f"主诊断 {code} 属于{word(disease, 'zh')}病种（{ranges}）",
            f"primary diagnosis {code} is in the disease list {disease} ({ranges})",
            {"diagnosis": code, **others}, f"{code} in {ranges}", disease)


def _own(who: str, member) -> list[str]:
    """The member's own groups (ids) to name beside a group named `who` in Chinese: none where the name
    says it or names no identities; else those of them the name lists, or all of them (a 孤儿 paid as
    特困, a 脱贫 member of the group 特困、低保、脱贫)."""
    own = [g.value for g in member]
    parts = who.split("、")
    if not own or who in [word(g, "zh") for g in own] or not all(p in _IDENTITIES for p in parts):
        return []
    return [g for g in own if word(g, "zh") in parts] or own


def _who(group: str, name: "PackText | None", member=()) -> str:
    """A group as a Chinese reader names it: the name its layer gives it, else the one we know for its
    id, with the member's own identity beside it where the name does not say it (`_own`)."""
    who = name.zh if name else word(group, "zh")
    own = _own(who, member)
    return f"{who}（本人：{'、'.join(word(g, 'zh') for g in own)}）" if own else who


def _who_en(group: str, named_as: "PackText | None", member=()) -> str:
    """A group as an English reader names it: the name its layer gives it, else `GROUPS_EN`'s, with the
    member's own identity beside it where `_who` gives it in Chinese: 'extreme poverty (tekun)
    (member: orphan (guer))'."""
    who = named_as.zh if named_as else word(group, "zh")
    parts = who.split("、")
    name = (named_as.en if named_as else None) or GROUPS_EN.get(group) or (
        " / ".join(GROUPS_EN[_IDENTITY_IDS[p]] for p in parts) if all(p in _IDENTITY_IDS for p in parts) else group)
    own = _own(who, member)
    return f"{name} (member: {', '.join(GROUPS_EN.get(g, g) for g in own)})" if own else name


_IDENTITIES = frozenset(GROUPS_ZH.values())
_IDENTITY_IDS = {zh: id_ for id_, zh in GROUPS_ZH.items() if "、" not in zh and id_ != "none"}


def _reduction(d: dict, cites: tuple) -> Text:
    g, base, red = d["group"], fmt_fen(d["deductible"]), fmt_units(d["reduction"])
    start = fmt_exact(d["start"], RATIO)
    return (f"{_who(g, d['name'], d['member'])}人员起付线降低{red}",
            f"{_who_en(g, d['name'], d['member'])}: the deductible lowered by {red}",
            {"group": g, "deductible": base}, f"{base} x (1 - {red}) = {start}", start)


def _points_step(d: dict, cites: tuple) -> Text:
    g, pts, points = d["group"], _points(d["points"]), d["points"]
    sign, size = ("-" if points < 0 else "+"), f"{points.copy_abs():f}"  # copy_abs: exact, whatever the caller's context
    pieces = [f"{fmt_units(b)} {sign} {size} points = {_bounded(s, a)}" for b, s, a in zip(d["before"], d["sums"], d["after"])]
    after = ", ".join(fmt_units(a) for a in d["after"])
    return (f"{_who(g, d['name'], d['member'])}人员各段支付比例{'降低' if points < 0 else '提高'}{size}个百分点",
            f"{_who_en(g, d['name'], d['member'])}: every band's ratio changed by {pts} points",
            {"group": g}, "; ".join(pieces), after)


def _no_cap(d: dict, cites: tuple) -> Text:
    g, cap = d["group"], fmt_fen(d["cap"])
    return (f"{_who(g, d['name'], d['member'])}人员不设封顶线（一般人员 {cap}）",
            f"{_who_en(g, d['name'], d['member'])}: no cap (others: {cap})", {"group": g}, "", "no cap")


def _bounded(total: int, kept: int) -> str:
    """A ratio and its points, as the formula writes it: the sum, and the bound it was kept to (with_points)."""
    if total == kept:
        return fmt_units(total)
    return f"{fmt_units(total)}, {'at most' if total > kept else 'at least'} {fmt_units(kept)}"


def _adjustment(d: dict, cites: tuple) -> Text:
    pts, when, after = _points(d["points"]), d["when"], fmt_units(d["after"])
    return (f"支付比例调整 {pts} 个百分点（{cites[0].description.zh}）", f"ratio changed by {pts} points ({when})", {},
            f"{fmt_units(d['before'])} {pts} points = {_bounded(d['sum'], d['after'])}", after)


def _cap_left(d: dict, cites: tuple) -> Text:
    used, left, what = fmt_fen(d["used"]), fmt_fen(d["left"]), cites[0].description
    return (f"{what.zh}剩余", f"what is left of the {what.en}", {"paid_so_far": used},
            f"max(0, {fmt_fen(d['amount'])} - {used}) = {left}", left)


def _basic_pay(d: dict, cites: tuple) -> Text:
    policy, applied, ratio, paid = fmt_fen(d["policy"]), fmt_fen(d["applied"]), fmt_units(d["ratio"]), fmt_fen(d["paid"])
    inputs = {"policy_range": policy, "deductible_applied": applied, "ratio": ratio, "cap_left": _cap(d["cap_left"])}
    met = applied
    if d["applied"] != d["deductible"]:  # a deductible above the policy-range amount is met up to it (domain.md 6.3)
        deductible = fmt_fen(d["deductible"])
        inputs = {"policy_range": policy, "deductible": deductible, **inputs}
        met = f"min({policy}, {deductible})"
    formula = _capped(f"({policy} - {met}) x {ratio} = {fmt_exact(d['raw'], RATIO)}", d["raw"], RATIO, d["cap_left"])
    return ("统筹基金支付 =（政策范围内费用 - 起付线）x 支付比例，不超过限额",
            "fund pays (policy-range amount - deductible) x ratio, up to the cap", inputs, formula + f" -> {paid}", paid)


def _group(zh: str, en: str) -> Callable[[dict, tuple], Text]:
    def render(d: dict, cites: tuple) -> Text:
        chosen = d["chosen"]
        who, who_en = (f(chosen, d["names"].get(chosen), d["member"]) for f in (_who, _who_en))
        return (f"{zh}：{who}", f"{en}: {who_en}", {k: fmt_fen(v) for k, v in d["options"].items()}, f"max -> {chosen}",
                chosen)
    return render


def _cumulative(d: dict, cites: tuple) -> Text:
    before, amount, after = fmt_fen(d["before"]), fmt_fen(d["amount"]), fmt_fen(d["after"])
    inputs = {d["counter"]: before, "this_claim": amount}
    this_claim = amount
    if d["funds"]:  # this claim's part: the policy-range amount less what each fund before this layer paid
        inputs = {d["counter"]: before, "policy_range": fmt_fen(d["policy"])}
        this_claim = "(" + " - ".join(fmt_fen(x) for x in (d["policy"], *d["funds"])) + ")"
    return ("年度累计合规自付", "annual cumulative amount left to the patient",
            inputs, f"{before} + {this_claim} = {after}", after)


def _bands_pay(d: dict, cites: tuple) -> Text:
    scale = RATIO * RATIO
    before, after = d["before"] * RATIO, d["after"] * RATIO  # the band edges' units
    bands = "; ".join(f"{fmt_exact(lo, RATIO)}-{'' if hi is None else fmt_exact(hi, RATIO)}: {fmt_units(r)}"
                      for lo, hi, r in d["bands"])
    bands_zh = "；".join(f"{fmt_exact(lo, RATIO)}以上部分{fmt_units(r)}" if hi is None else
                        f"{fmt_exact(lo, RATIO)}至{fmt_exact(hi, RATIO)}部分{fmt_units(r)}" for lo, hi, r in d["bands"])
    pieces = []
    for lo, hi, r in d["bands"]:
        top = after if hi is None else min(after, hi)
        if top - max(before, lo) > 0:
            pieces.append(f"({fmt_exact(top, RATIO)} - {fmt_exact(max(before, lo), RATIO)}) x {fmt_units(r)}")
    formula = " + ".join(pieces) or "0 (no part of the cumulative amount lies in a band)"
    formula = _capped(formula + f" = {fmt_exact(d['raw'], scale)}", d["raw"], scale, d["cap_left"])
    paid = fmt_fen(d["paid"])
    return (f"分段支付：{bands_zh}", f"paid band by band: {bands}",
            {"before": fmt_fen(d["before"]), "after": fmt_fen(d["after"]), "first_band_start": fmt_exact(d["start"], RATIO),
             "cap_left": _cap(d["cap_left"])}, formula + f" -> {paid}", paid)


def _aid_deductible(d: dict, cites: tuple) -> Text:
    amount, met, left, used = (fmt_fen(d[k]) for k in ("amount", "met", "left", "used"))
    return ("救助起付线本年尚未达到的部分，以剩余合规自付为限", "the aid deductible not yet met this year, up to what is left",
            {"aid_deductible_met": met, "left": left}, f"min({left}, max(0, {amount} - {met})) = {used}", used)


def _aid_pay(d: dict, cites: tuple) -> Text:
    g, ratio, left, used, paid = d["group"], fmt_units(d["ratio"]), fmt_fen(d["left"]), fmt_fen(d["used"]), fmt_fen(d["paid"])
    # what is left: the policy-range amount less what each fund before this layer paid, as the cumulative step
    # shows it (less the aid deductible this claim meets, where the layer has one)
    parts = [*((d["policy"], *d["funds"]) if d["funds"] else (d["left"],)), *((d["used"],) if d["deductible"] else ())]
    base = " - ".join(map(fmt_fen, parts))
    base = f"({base})" if len(parts) > 1 else base
    formula = _capped(f"{base} x {ratio} = {fmt_exact(d['raw'], RATIO)}", d["raw"], RATIO, d["cap_left"])
    # The kind serves medical aid and a finance share alike (the COVID test's): the layer names the payer.
    return (f"{d['payer']['zh']}按{ratio}支付{_who(g, d['name'], d['member'])}的剩余合规自付",
            f"{d['payer']['en']}: {ratio} of the in-policy self-pay left ({_who_en(g, d['name'], d['member'])})",
            # an aid deductible only where the layer has one (a COVID test's finance share has none)
            {**({"policy_range": fmt_fen(d["policy"])} if d["funds"] else {}), "left": left,
             **({"aid_deductible_used": used} if d["deductible"] else {}), "cap_left": _cap(d["cap_left"])},
            formula + f" -> {paid}", paid)


def _fixed_pay(d: dict, cites: tuple) -> Text:
    left, paid = fmt_fen(d["left"]), fmt_fen(d["paid"])
    return ("定额结算：按定额支付，政策范围内费用低于定额的按实际费用支付",
            "fixed-amount settlement: the fixed amount, or the policy-range amount if lower",
            {"service": d["service"], "policy_range_left": left}, f"min({fmt_fen(d['fixed'])}, {left}) = {paid}", paid)


def _above_cap_pay(d: dict, cites: tuple) -> Text:
    ratio, r, cap, paid = fmt_units(d["ratio"]), fmt_units(d["basic_ratio"]), d["cap"], fmt_fen(d["paid"])
    eligible, left = fmt_fen(d["eligible"]), fmt_fen(d["left"])
    formula = _capped(f"{ratio} x max(0, {eligible} - {left} / {r}) = {ratio} x {fmt_exact(d['beyond'], d['beyond_den'])} "
                      f"= {fmt_exact(d['raw'], d['den'])}", d["raw"], d["den"], d["cap_left"])
    return (f"基本医疗保险达到最高支付限额后的合规费用，按{ratio}补助",
            f"{ratio} of the eligible cost beyond the point where the basic fund reached its {cap} cap",
            {"eligible": eligible, "basic_cap_left": left, "basic_ratio": r, "cap_left": _cap(d["cap_left"])},
            formula + f" -> {paid}", paid)


def _account_pay(d: dict, cites: tuple) -> Text:
    pre, left, balance, paid = (fmt_fen(d[k]) for k in ("pre", "left", "balance", "paid"))
    return ("个人账户支付目录内个人负担部分（先行自付 + 政策范围内未报销部分），以余额为限",
            "the personal account pays the in-catalogue remainder (pre-self-pay + policy-range amount left), up to the balance",
            {"pre_self_paid": pre, "policy_range_left": left, "balance": balance},
            f"min({pre} + {left}, {balance}) = {paid}", paid)


def _skip(d: dict, cites: tuple) -> Text:
    why = f"not ({d['when']})" if not d["own"] else d["unmet"][1]
    # the condition itself is rule text (field ids), shown in the formula; the Chinese says which one failed
    zh = "本层的适用条件不成立" if not d["own"] else d["unmet"][0]
    return f"{d['zh']}不适用于本次结算：{zh}", f"{d['en']} does not apply to this claim", {}, why, "0.00"


def _patient(d: dict, cites: tuple) -> Text:
    total, funds, patient = fmt_fen(d["total"]), fmt_fen(d["funds"]), fmt_fen(d["patient"])
    return ("个人负担 = 总额 - 各项基金支付", "patient pays total - every fund's payout",
            {k: fmt_fen(p.paid) if (p := d["paid"].get(k)) else "0.00" for k in d["funds_order"]},
            f"{total} - {funds} = {patient}", patient)


def _cash(d: dict, cites: tuple) -> Text:
    patient, account, cash = fmt_fen(d["patient"]), fmt_fen(d["account"]), fmt_fen(d["cash"])
    return ("个人现金 = 个人负担 - 个人账户支付", "cash = the patient's part - the personal account's payment",
            {"account": account}, f"{patient} - {account} = {cash}", cash)


RENDERERS: dict[str, Callable[[dict, tuple], Text]] = {
    "version": _version,
    "bill": _bill,
    "basic_fund.deductible": _deductible,
    "diagnosis": _diagnosis,
    "basic_fund.ratio": _ratio,
    "basic_fund.adjustment": _adjustment,
    "cap": _cap_left,
    "basic_fund.pay": _basic_pay,
    "cumulative_bands.group": _group("按对本层最有利的身份计算", "the group most favourable for this layer applies"),
    "cumulative_bands.reduction": _reduction,
    "cumulative_bands.points": _points_step,
    "cumulative_bands.no_cap": _no_cap,
    "cumulative_bands.cumulative": _cumulative,
    "cumulative_bands.pay": _bands_pay,
    "residual_ratio.group": _group("按对本层最有利的救助身份计算", "the aid group most favourable for this layer applies"),
    "residual_ratio.deductible": _aid_deductible,
    "residual_ratio.pay": _aid_pay,
    "fixed_amount.pay": _fixed_pay,
    "above_cap.pay": _above_cap_pay,
    "personal_account.pay": _account_pay,
    "skip": _skip,
    "patient": _patient,
    "cash": _cash,
}


def render(steps: list[Step], sites: dict[str, tuple[str, int | None]], bases: dict[str, str]) -> list[TraceStep]:
    """The recorded steps as text, each with its rule's file:line in the pack where it has one and,
    for a layer's steps, the policy text the layer encodes (`bases`: layer id -> its citation)."""
    out = []
    for what, step, rule, layer, data, cited in steps:  # by position: the recorder appends plain tuples
        cites = tuple(v for v in cited if v is not None)
        zh, en, inputs, formula, output = RENDERERS[what](data, cites)
        site = sites.get(rule)
        where = None if site is None else (f"{site[0]}:{site[1]}" if site[1] else site[0])
        out.append(TraceStep(step, rule, zh, en, output, layer, inputs, formula,
                             [v.citation for v in cites], where, bases.get(layer)))
    return out
