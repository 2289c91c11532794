"""A claim: one outpatient visit or one hospital stay, with its member and its bill."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal
from enum import Enum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, model_validator

from ..dates import Count, Day
from ..errors import described
from ..memo import Memo
from ..money import Money, add_exactly, fmt, parse_decimal
from ..surrogates import lone_surrogate, problem
from .checked import Checked
from .items import MAX_ITEM_ID, LineItems

Share = Annotated[Decimal, Field(ge=0, le=1)]


class Scheme(str, Enum):
    """险种: employee basic (职工, insutype 310) or resident basic (居民, insutype 390)."""

    employee = "employee"
    resident = "resident"


class MemberType(str, Enum):
    """人员类别 where the rules need it: in-service 在职 (1101), retired 退休 (1201), resident kinds."""

    in_service = "in_service"
    retired = "retired"
    adult = "adult"
    child = "child"
    student = "student"


class Group(str, Enum):
    """Member groups that modify benefits (困难群体)."""

    dibao = "dibao"  # 低保 最低生活保障对象
    tekun = "tekun"  # 特困供养人员
    guer = "guer"  # 孤儿
    tuopin = "tuopin"  # 脱贫人口 / 原建档立卡贫困人员
    dishouru = "dishouru"  # 低收入家庭成员


class Visit(str, Enum):
    """就诊类型: inpatient 住院 (med_type 21), day surgery 日间手术 (a stay too), general outpatient
    普通门诊 (11), outpatient special/chronic disease 门特/慢特病 (14), maternity outpatient 生育门诊 (51),
    COVID nucleic-acid test 核酸检测."""

    inpatient = "inpatient"
    day_surgery = "day_surgery"
    general_outpatient = "general_outpatient"
    special_outpatient = "special_outpatient"
    maternity = "maternity"
    covid_test = "covid_test"


STAYS = (Visit.inpatient, Visit.day_surgery)
"""Visit kinds that are admissions: admission and discharge dates, counted in `admissions`."""


class Region(str, Enum):
    """Where the member was treated relative to the insuring place (异地就医)."""

    local = "local"
    in_province = "in_province"
    out_of_province = "out_of_province"


class Category(str, Enum):
    """医保目录类别: A 甲类 (chrgitm_lv 01), B 乙类 (02), C 丙类/自费 (03)."""

    A = "A"
    B = "B"
    C = "C"


def _shallow(value: object) -> object:
    """Before an enum field: Enum() puts repr(value) in its error, which exhausts the stack on a
    list nested thousands deep (Python API input), so such a value is refused here."""
    if type(value) is str:  # the common case
        return value
    level, depth = [value], 0
    while level:
        depth += 1
        if depth > 32:
            raise ValueError("expected a word, got a value nested more than 32 levels deep")
        level = [v for x in level if isinstance(x, (list, tuple, set, dict))
                 for v in (x.values() if isinstance(x, dict) else x)]
    return value


Word = BeforeValidator(_shallow)


MAX_AGE = 150
"""The oldest age a member's record may give."""

MAX_MEMBER_ID = 200
"""The longest member id: the service reads a member's year at /members/{member_id}/{year}."""
MAX_CLAIM_ID = 200
"""The longest claim id: a ledger indexes it to settle a claim once (the national platform's own ids,
setl_id and mdtrt_id, have 30 characters)."""
# C0 and C1 controls and DEL (Python's re, RE2 in Arrow and JSON Schema's ECMA regexes all read \xHH),
# and the line and paragraph separators, written as the characters themselves (each engine spells a
# four-digit escape its own way)
_CONTROLS = r"\x00-\x1f\x7f-\x9f" + "\u2028\u2029"
CONTROL_CHARACTER = f"[{_CONTROLS}]"
"""A control character (NUL, a tab, a line break, U+0085, U+2028, ...), which no member or claim id holds."""
# Characters that show nothing: Unicode's format characters (category Cf: zero-width spaces and joiners,
# byte-order marks, direction marks, soft hyphens, tags), its other default-ignorable code points
# (variation selectors, the combining grapheme joiner, Hangul fillers) and the Braille blank. 'c-77' with
# one inside looks like 'c-77' and would be another claim. Unicode 14, as Python 3.11 has it.
_INVISIBLE_RANGES = (
    (0xAD, 0xAD), (0x34F, 0x34F), (0x600, 0x605), (0x61C, 0x61C), (0x6DD, 0x6DD), (0x70F, 0x70F), (0x890, 0x891),
    (0x8E2, 0x8E2), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x206F), (0x2800, 0x2800), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x13438), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF))


# Dashes but '-' (Unicode's Pd, as Python 3.11 has it: hyphens, en and em dashes, wave dashes), the minus
# sign, and the ideographic full stop (。, what a Chinese input method types for '.'): 'c–77' and 'c−77'
# look like 'c-77', 'c。77' like 'c.77', and each would be another claim.
_DASH_RANGES = ((0x58A, 0x58A), (0x5BE, 0x5BE), (0x1400, 0x1400), (0x1806, 0x1806), (0x2010, 0x2015), (0x2212, 0x2212),
                (0x2E17, 0x2E17), (0x2E1A, 0x2E1A), (0x2E3A, 0x2E3B), (0x2E40, 0x2E40), (0x2E5D, 0x2E5D),
                (0x301C, 0x301C), (0x3030, 0x3030), (0x30A0, 0x30A0), (0xFE31, 0xFE32), (0xFE58, 0xFE58),
                (0xFE63, 0xFE63), (0xFF0D, 0xFF0D), (0x10EAD, 0x10EAD))
_STOP_RANGES = ((0x3002, 0x3002), (0xFF61, 0xFF61))
_PLAIN_PUNCTUATION = {**{c: "-" for a, b in _DASH_RANGES for c in range(a, b + 1)},
                      **{c: "." for a, b in _STOP_RANGES for c in range(a, b + 1)}}


def _class_of(ranges) -> str:
    return "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges)


REPLACEMENT_CHARACTER = "[\ufffd]"
"""U+FFFD, which a decoder writes for bytes that were not UTF-8: ids garbled alike ('张三' and '李四' sent in
GBK, read as UTF-8) would be one member, so no member or claim id holds it."""
_REPLACEMENT = "\ufffd"
_INVISIBLE_BMP = _class_of(r for r in _INVISIBLE_RANGES if r[1] <= 0xFFFF)
_LOOKALIKE_BMP = _class_of(r for r in _DASH_RANGES + _STOP_RANGES if r[1] <= 0xFFFF)
LOOKALIKE_PUNCTUATION = f"[{_class_of(_DASH_RANGES + _STOP_RANGES)}]"
"""A dash but '-', the minus sign or the ideographic full stop, which no member or claim id holds (for
Python's re and RE2, which read characters beyond U+FFFF as themselves)."""
INVISIBLE_CHARACTER = f"[{_class_of(_INVISIBLE_RANGES)}]"
"""A character that shows nothing (a zero-width space, a byte-order mark, a direction mark, a variation
selector, ...), which no member or claim id holds. For Python's re and RE2 (Arrow), which read characters
beyond U+FFFF as themselves."""
_OTHER_SPACES = "\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000"  # every space but U+0020 (str.isspace), as characters
_SPACES = " " + _OTHER_SPACES
OTHER_SPACE = f"[{_OTHER_SPACES}]"
"""A space other than U+0020 (a no-break, ideographic, en or thin space), which no member or claim id holds:
'm 1001' with a no-break space looks like 'm 1001' and would be another member."""
# In the pattern, the invisible characters below U+FFFF only: JSON Schema's ECMA regexes read a string
# as UTF-16, and a character beyond it in a class would be two surrogate halves, refusing every id with
# another character that shares one (a rare Chinese character, an emoji). The engine refuses the rest.
_NEVER = _CONTROLS + _INVISIBLE_BMP + _OTHER_SPACES + _LOOKALIKE_BMP + _REPLACEMENT
MEMBER_ID_PATTERN = described(f"^([^{_SPACES}{_NEVER}]([^{_NEVER}]*[^{_SPACES}{_NEVER}])?)?$",
                              "a member id without control characters (such as NUL, a tab or a line break), "
                              "without invisible characters (such as a zero-width space), without spaces other "
                              "than U+0020, without a dash but '-' or an ideographic full stop, without U+FFFD (what a "
                              "decoder writes for bytes that were not UTF-8), and without a "
                              "space at either end (and in Unicode's NFKC form: "
                              "composed, without full-width letters, digits or punctuation)")
"""A member id's characters, as a pattern for the schema and the service's path (with its length)."""
_ITEM_NEVER = _CONTROLS + _INVISIBLE_BMP
ITEM_ID_PATTERN = described(f"^([^{_SPACES}{_ITEM_NEVER}]([^{_ITEM_NEVER}]*[^{_SPACES}{_ITEM_NEVER}])?)?$",
                            "a line item id without control characters (such as NUL, a tab or a line break), "
                            "without invisible characters (such as a zero-width space) and without a space at "
                            "either end")
"""A line item's id's characters, as a pattern for the schema (with its length)."""
EDGE_SPACE = f"^[{_SPACES}]|[{_SPACES}]$"
"""A space that begins or ends an id, an ideographic or no-break one too: 'm-1001　' would be another
member than 'm-1001' in a ledger."""
_CONTROL = re.compile(CONTROL_CHARACTER)
_INVISIBLE = re.compile(INVISIBLE_CHARACTER)
_OTHER_SPACE = re.compile(OTHER_SPACE)
_LOOKALIKE = re.compile(LOOKALIKE_PUNCTUATION)


def id_problem(value: str, what: str = "member", most: int = MAX_MEMBER_ID, forms: bool = True) -> str | None:
    """What keeps `value` from being a member's (or a claim's) id, or None: a ledger stores it as text
    and finds a member or a claim by it (PostgreSQL refuses a NUL in text, an index refuses a key of
    kilobytes, 'c-77 ' would be another claim than 'c-77'), and a line break would split a log line."""
    if not value:
        return f"expected a {what} id (text)"
    if len(value) > most:
        return f"a {what} id has at most {most} characters, got {len(value)}"
    at = lone_surrogate(value)
    if at is not None:  # a JSON escape, or a byte not UTF-8 in a command line's argument
        return f"a {what} id is text: {problem(value, at)}"
    if _CONTROL.search(value):
        return f"a {what} id holds no control characters (such as NUL, a tab or a line break)"
    if _INVISIBLE.search(value):
        return (f"a {what} id holds no invisible characters (such as a zero-width space, a byte-order mark, a "
                f"direction mark or a variation selector): {value!r} would look like another {what}")
    if value[0].isspace() or value[-1].isspace():
        if not value.strip():
            return f"expected a {what} id (text), got only spaces"
        return f"a {what} id has no space at either end ({value!r} and {value.strip()!r} would be two {what}s)"
    if not forms:  # the rest keeps two ids that look alike apart, which the ledger finds claims and members by
        return None
    if _OTHER_SPACE.search(value):
        return (f"a {what} id holds no space but U+0020 (no no-break, ideographic or thin space): {value!r} would "
                f"look like another {what}")
    if _REPLACEMENT in value:
        return (f"a {what} id holds no U+FFFD, the character a decoder writes for bytes that were not UTF-8: "
                f"{value!r} would be the same {what} as every id garbled alike; send it in UTF-8")
    if _LOOKALIKE.search(value):
        return (f"a {what} id holds no dash but '-' (U+002D), no minus sign and no ideographic full stop: {value!r} "
                f"would be another {what} than {value.translate(_PLAIN_PUNCTUATION)!r}")
    if not unicodedata.is_normalized("NFC", value):
        return (f"a {what} id is written in Unicode's composed form (NFC): {value!r} and "
                f"{unicodedata.normalize('NFC', value)!r} look alike and would be two {what}s")
    # full-width letters, digits and punctuation (what a Chinese input method types in its full-width mode),
    # ligatures, circled and superscript digits, Kangxi radicals: each the compatibility form of another
    # character (NFKC, which implies NFC), so 'ｃ-77' would be another claim than 'c-77'
    if not unicodedata.is_normalized("NFKC", value):
        return (f"a {what} id holds no compatibility characters (such as full-width letters, digits or "
                f"punctuation; Unicode's NFKC form): {value!r} and {unicodedata.normalize('NFKC', value)!r} would "
                f"be two {what}s")
    return None


def member_id_problem(value: str) -> str | None:
    """What keeps `value` from being a member id (`id_problem`), or None."""
    return id_problem(value)


def _checked_id(value: str, what: str, most: int, forms: bool = True) -> str:
    # the common case at once: printable ASCII (a non-ASCII id may hold a character that shows nothing and
    # that Python calls printable, such as a variation selector)
    if len(value) <= most and value.isascii() and value.isprintable() and value[:1] != " " != value[-1:]:
        return value
    problem = id_problem(value, what, most, forms)
    if problem:
        raise ValueError(problem)
    return value


def _member_id(value: str) -> str:
    return _checked_id(value, "member", MAX_MEMBER_ID)


def _claim_id(value: str) -> str:
    return _checked_id(value, "claim", MAX_CLAIM_ID)


def _item_id(value: str) -> str:
    # Text a settlement lists and a ledger stores, and nothing that shows nothing: 'i1' and 'i1' with a
    # zero-width space would pass as two fee lines where one was sent twice. Unlike a claim's or a member's
    # id, no ledger finds anything by it, so the forms a hospital's system writes (full-width brackets,
    # 'Ⅱ', '㎎') are taken as they are.
    return _checked_id(value, "line item", MAX_ITEM_ID, forms=False)


ItemId = Annotated[str, AfterValidator(_item_id), Field(
    min_length=1, json_schema_extra={"maxLength": MAX_ITEM_ID, "pattern": ITEM_ID_PATTERN})]
"""A line item's id (a platform fee line's feedetl_sn, 费用明细流水号)."""


def _a(visit: Visit) -> str:
    return ("an " if visit.value[0] in "aeiou" else "a ") + visit.value


ICD10 = re.compile(r"[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,8})?")
"""The shape of an ICD-10 code: a letter, two digits (or a digit and a letter), then up to eight
characters after a dot: I10, J18.9, C34.90, and the national insurance extension codes that claims
carry (医保版疾病诊断代码, I10.x00x002); letters may be written in lower case."""


def is_icd10(code: str) -> bool:
    """Whether the claim model reads `code` as a diagnosis (the simulation asks before it settles)."""
    return ICD10.fullmatch(code.upper()) is not None


def _read_icd10(code: str) -> str:
    if not is_icd10(code):
        shown = code if len(code) <= 40 else code[:40] + "..."
        raise ValueError(f"{shown!r} is not an ICD-10 code; expected a letter, two digits and up to eight "
                         "characters after a dot, such as I10, J18.9 or I10.x00x002")
    return code


_CODES_READ = Memo(_read_icd10, 65536)  # a year's claims name a few thousand codes, over and over


def _icd10(code: str) -> str:
    return _CODES_READ[code]  # after pydantic's str validation: an exact str, safe as a key


class _Strict(BaseModel):
    # revalidate_instances: a member or bill given as an instance is validated as its data would be
    # (one made by model_construct holds anything); the claim's own mark says it was (models.checked)
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False, defer_build=True,
                              revalidate_instances="always")


MEMBER_TYPES = {
    Scheme.employee: (MemberType.in_service, MemberType.retired),
    Scheme.resident: (MemberType.adult, MemberType.child, MemberType.student),
}
MEMBER_TYPE_NAMES = {scheme.value: frozenset(t.value for t in types) for scheme, types in MEMBER_TYPES.items()}
"""MEMBER_TYPES by name: for what reads the words (the simulation's files, lint's classes of claims)."""


class Member(_Strict):
    """The insured person (参保人)."""

    id: Annotated[str, AfterValidator(_member_id)] = Field(
        min_length=1, json_schema_extra={"maxLength": MAX_MEMBER_ID, "pattern": MEMBER_ID_PATTERN})
    scheme: Annotated[Scheme, Word]
    member_type: Annotated[MemberType, Word] | None = Field(None, description="required when the pack's conditions use it")
    groups: list[Annotated[Group, Word]] = Field(default_factory=list)
    age: Count | None = Field(default=None, ge=0, le=MAX_AGE)

    @model_validator(mode="after")
    def _type_fits_scheme(self) -> "Member":
        allowed = MEMBER_TYPES[self.scheme]
        if self.member_type is not None and self.member_type not in allowed:
            raise ValueError(
                f"member_type {self.member_type.value!r} is not a {self.scheme.value} member type; "
                f"expected one of: {', '.join(t.value for t in allowed)}"
            )
        return self


class BillSplit(_Strict):
    """A bill already split into its four parts (费用分解); they must add up to the total."""

    total: Money
    fully_self_paid: Money  # 全自费 fulamt_ownpay_amt
    over_limit: Money  # 超限价 overlmt_selfpay
    pre_self_paid: Money  # 先行自付 preselfpay_amt
    policy_range: Money  # 政策范围内 inscp_scp_amt

    @model_validator(mode="after")
    def _adds_up(self) -> "BillSplit":
        # summed under the engine's context: under the caller's, which may be narrow, a sum rounds
        parts = add_exactly(self.fully_self_paid, self.over_limit, self.pre_self_paid, self.policy_range)
        if parts != self.total:
            raise ValueError(
                f"the four parts add up to {fmt(parts)}, not to the total {fmt(self.total)} "
                "(fully_self_paid + over_limit + pre_self_paid + policy_range = total)"
            )
        return self


def _characters(value: str) -> str:
    """Text of characters: pydantic's str takes a lone surrogate (an escape such as "\\ud800" in data a
    caller parsed), which no settlement's JSON, ledger or terminal can write."""
    at = lone_surrogate(value)
    if at is not None:
        raise ValueError(problem(value, at))
    return value


Characters = Annotated[str, AfterValidator(_characters)]


class LineItem(_Strict):
    """One fee line (费用明细)."""

    id: ItemId
    name: Characters | None = None
    category: Annotated[Category, Word]
    unit_price: Money
    quantity: Annotated[Decimal, Field(gt=0, le=1000000), BeforeValidator(parse_decimal)] = Decimal(1)
    payment_standard: Money | None = None  # 支付标准 / 限价: the unit price the fund recognises
    # 乙类先行自付比例; the pack default when absent
    self_pay_share: Annotated[Share | None, BeforeValidator(parse_decimal)] = None


class Claim(Checked, _Strict):
    """One claim: a visit or a stay, settled as a whole (一次结算)."""

    id: Annotated[str, AfterValidator(_claim_id)] = Field(
        min_length=1, json_schema_extra={"maxLength": MAX_CLAIM_ID, "pattern": MEMBER_ID_PATTERN})
    member: Member
    visit: Annotated[Visit, Word]
    level: str = Field(min_length=1, description="hospital level, one of the rule pack's levels")
    region: Annotated[Region, Word] = Region.local
    filed: StrictBool | None = Field(None, description="cross-region filing (异地备案) done; required out of province")
    date: Day | None = Field(None, description="visit date (outpatient)")
    admission_date: Day | None = None
    discharge_date: Day | None = None
    diagnoses: list[Annotated[str, AfterValidator(_icd10)]] = Field(
        default_factory=list, description="ICD-10 codes, primary first, e.g. I10 or J18.9 (letters in either case)")
    service: str | None = Field(None, min_length=1, max_length=64,
                                description="a fixed-amount service, e.g. maternity prenatal_care; one of the pack's services")
    bill: BillSplit | None = None
    items: LineItems | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "Claim":
        if (self.bill is None) == (self.items is None):
            raise ValueError("give either `bill` (already split) or `items` (line items), not both or neither")
        if self.items is not None:
            if not self.items:
                raise ValueError("`items` is empty: a claim needs at least one line item")
            ids = [row[0] for row in self.items.rows]  # each row's id (items.Row), checked as it was read
            if len(set(ids)) < len(ids):
                seen: set[str] = set()
                for id_ in ids:
                    if id_ in seen:
                        raise ValueError(f"line item id {id_!r} appears more than once")
                    seen.add(id_)
        if self.region is Region.out_of_province and self.filed is None:
            raise ValueError("an out-of-province claim must say whether it was filed (filed: true or false)")
        if self.visit in STAYS:
            if self.admission_date is None or self.discharge_date is None:
                raise ValueError(f"{_a(self.visit)} claim needs admission_date and discharge_date")
            if self.date is not None:
                raise ValueError(f"{_a(self.visit)} claim has admission_date and discharge_date, not `date`")
            if self.discharge_date < self.admission_date:
                raise ValueError(
                    f"discharge_date {self.discharge_date} is before admission_date {self.admission_date}"
                )
        elif self.date is None or self.admission_date or self.discharge_date:
            raise ValueError(f"{_a(self.visit)} claim has `date` (the visit date), not admission or discharge dates")
        return self

    @property
    def settlement_date(self) -> dt.date:
        """The date the claim settles on: discharge for a stay, the visit date otherwise."""
        return self.discharge_date if self.visit in STAYS else self.date  # type: ignore[return-value]

    @property
    def start_date(self) -> dt.date:
        """Admission for a stay, the visit date otherwise."""
        return self.admission_date if self.visit in STAYS else self.date  # type: ignore[return-value]
