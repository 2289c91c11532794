"""The national platform's fee lines (费用明细, transactions 2204 outpatient / 2301 inpatient) read
as our line items, so that a service can pass a hospital system's upload on unchanged.

A fee line names its fields as the platform's interface specification does (domain.md section 5):

| platform field | meaning | our line item |
|---|---|---|
| `feedetl_sn` | 费用明细流水号 | `id` |
| `chrgitm_lv` | 收费项目等级: '01' 甲类, '02' 乙类, '03' 丙类 | `category` A, B, C |
| `pric` | 单价 | `unit_price` |
| `cnt` | 数量 | `quantity` |
| `det_item_fee_sumamt` | 明细项目费用总额 | checked: round(pric x cnt) to the fen, half up |
| `pric_uplmt_amt` | 定价上限金额 (optional) | `payment_standard` |
| `selfpay_prop` | 自付比例 (optional) | `self_pay_share` |
| `hilist_name`, else `medins_list_name` | 医保 / 医药机构目录名称 (optional) | `name` |
| `med_list_codg`, `medins_list_codg` | 医疗 / 医药机构目录编码 (optional) | read, not kept |

Any other key is refused, as in our own shape: a misspelt `selfpay_porp` must not settle with the
pack's default share. A list is in one shape or the other; a list mixing both is refused.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from ..errors import ClaimError, ClaimProblem, error_message, error_path
from ..money import Money, exact, parse_decimal
from .claim import ItemId

CATEGORY_OF_LEVEL = {"01": "A", "02": "B", "03": "C"}
"""chrgitm_lv (收费项目等级) -> our catalogue category (医保目录类别)."""


class FeeLine(BaseModel):
    """One fee line as the platform uploads it (2204 / 2301 `feedetail`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    feedetl_sn: ItemId = Field(description="费用明细流水号: the line's id")
    chrgitm_lv: Literal["01", "02", "03"] = Field(description="收费项目等级: 01 甲类 (A), 02 乙类 (B), 03 丙类 (C)")
    pric: Money = Field(description="单价: the unit price")
    cnt: Annotated[Decimal, Field(gt=0, le=1000000), BeforeValidator(parse_decimal)] = Field(
        description="数量: the quantity")
    det_item_fee_sumamt: Money = Field(description="明细项目费用总额: round(pric x cnt) to the fen, half up")
    pric_uplmt_amt: Money | None = Field(None, description="定价上限金额: the price the fund recognises (支付标准)")
    selfpay_prop: Annotated[Decimal | None, Field(ge=0, le=1), BeforeValidator(parse_decimal)] = Field(
        None, description="自付比例: a 乙类 line's pre-self-pay share; the pack's default when absent")
    med_list_codg: str | None = Field(None, description="医疗目录编码 (not used to settle)")
    medins_list_codg: str | None = Field(None, description="医药机构目录编码 (not used to settle)")
    hilist_name: str | None = Field(None, description="医保目录名称: the line's name")
    medins_list_name: str | None = Field(None, description="医药机构目录名称: the name when hilist_name is absent")


_FEE_KEYS = frozenset(FeeLine.model_fields)


def is_fee_line(d: object) -> bool:
    """Whether `d` is a line in the platform's shape: a mapping with any of the fee line's keys
    (they share none with our line item's, so a line with one of each is read as a fee line and
    refused for the other)."""
    return isinstance(d, dict) and not _FEE_KEYS.isdisjoint(d)


def _problems(exc: ValidationError, index: int) -> list[ClaimProblem]:
    return [ClaimProblem(("claim", "items", index) + error_path(err), error_message(err)) for err in exc.errors()]


def _fen(amount: Decimal) -> int:
    """An amount (two decimals at most) in fen; integer arithmetic, whatever the decimal context."""
    n, d = amount.as_integer_ratio()
    return 100 * n // d


def _rounded_fen(price: Decimal, quantity: Decimal) -> int:
    """round(price x quantity) in fen, half up, exactly: the bill split's own rounding (domain.md 6.2)."""
    (pn, pd), (qn, qd) = price.as_integer_ratio(), quantity.as_integer_ratio()
    num, den = 100 * pn * qn, pd * qd
    return (2 * num + den) // (2 * den)


def item_from_fee_line(d: object, index: int) -> dict[str, Any]:
    """Fee line number `index` of a claim as our line item (the dict `LineItem` reads), its values
    already validated. A ClaimError lists every problem of the line, each with its path
    ("claim", "items", index, field) naming the platform's field."""
    try:
        with exact():  # the amounts' checks must not round under a caller's narrow decimal context
            line = FeeLine.model_validate(d)
    except ValidationError as exc:
        raise ClaimError(_problems(exc, index)) from None
    fen = _rounded_fen(line.pric, line.cnt)
    if _fen(line.det_item_fee_sumamt) != fen:
        raise ClaimError.at(("claim", "items", index, "det_item_fee_sumamt"),
                            f"{line.det_item_fee_sumamt} is not pric x cnt = {line.pric} x {line.cnt} "
                            f"rounded to the fen, half up ({fen // 100}.{fen % 100:02d})")
    item: dict[str, Any] = {"id": line.feedetl_sn, "category": CATEGORY_OF_LEVEL[line.chrgitm_lv],
                            "unit_price": line.pric, "quantity": line.cnt}
    name = line.hilist_name if line.hilist_name is not None else line.medins_list_name
    optional = (("name", name), ("payment_standard", line.pric_uplmt_amt), ("self_pay_share", line.selfpay_prop))
    for key, value in optional:
        if value is not None:
            item[key] = value
    return item


_MIXED = {  # by whether the odd line out is a fee line
    True: "a fee line in the platform's shape (feedetl_sn, chrgitm_lv, pric, ...) among line items in ours "
          "(id, category, unit_price, ...); give every line in one shape",
    False: "a line item in our shape (id, category, unit_price, ...) among fee lines in the platform's "
           "(feedetl_sn, chrgitm_lv, pric, ...); give every line in one shape",
}


def items_from_fee_lines(value: object) -> object:
    """A claim's `items`: a list of fee lines becomes our line items; anything else is returned as
    it is (our own shape, or a mistake our validation names). A list mixing both shapes is refused,
    each line of the shape its first line does not have named. Every problem of every line is
    listed in one ClaimError."""
    if type(value) is not list or not any(is_fee_line(v) for v in value):
        return value
    platform = is_fee_line(value[0])
    items, problems = [], []
    for i, line in enumerate(value):
        if isinstance(line, dict) and is_fee_line(line) != platform:
            problems.append(ClaimProblem(("claim", "items", i), _MIXED[not platform]))  # the line's own shape
            continue
        if not platform:  # our shape: validated as ours, after the mixture is refused
            continue
        try:
            items.append(item_from_fee_line(line, i))
        except ClaimError as exc:
            problems += exc.problems
    if problems:
        raise ClaimError(problems)
    return items if platform else value


def claim_from_platform(doc: object) -> object:
    """A claim (a dict) whose `items` may be the platform's fee lines, with its items in our shape;
    anything else as it is. Until the claim model reads fee lines itself, this is how a caller
    settles one: `benefits.evaluate(claim_from_platform(doc), rules)`."""
    if not isinstance(doc, dict) or "items" not in doc:
        return doc
    items = items_from_fee_lines(doc["items"])
    return doc if items is doc["items"] else {**doc, "items": items}
