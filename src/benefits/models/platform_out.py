"""A settlement in the national platform's output shapes (domain.md section 5), so that a service
maps them one to one: `setlinfo` (结算信息, the 2207 / 2304 amounts), `setldetail` (基金分项结算信息,
one row per fund) and `feedetail` (each fee line split as 2301 returns it).

Choices the platform's specification leaves to us, fixed here:

- `setlinfo` always has every field of section 5's table, whatever the claim's scheme or visit, an
  unused amount as 0.00 (a layer's `platform_field` is one of the table's, which the loader checks).
  Amounts are Decimal yuan with two places (strings in JSON).
- `pool_prop_selfpay` is the basic fund's ratio (0.6500 for 65%), as domain.md section 5 says
  ("ratio in pool_prop_selfpay") and the specification's own description of the field does
  (基本医疗保险统筹基金支付比例), although its name reads "self-pay proportion"; 0.0000 when no
  basic fund paid by ratio. Four decimals, the field's width, unless the ratio has more.
- `balc` (余额) is the personal account's balance after the claim, 0.00 for a member whose claim no
  account layer served (a resident, or a pack without one): the block keeps one key set.
- `setldetail` has a row for every layer that applied, in paying order, the personal account
  (310200) included; `fund_pay_type` is the layer's fund code, null for a layer the platform has
  no code for (the city's finance share of a COVID test, reported in `oth_pay`).
  `crt_payb_lmt_amt` is the cap left before the claim, null when the layer has no cap.
- `feedetail`'s `selfpay_prop` is the share of the line the patient pays first: a 乙 line's share
  (its own, else the pack's default), 0 for a 甲 line, 1 for a 丙 line (all of it self-paid). A bill
  given already split has no lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, PlainSerializer

from ..money import Money, ZERO, exact, quantized

if TYPE_CHECKING:  # pragma: no cover
    from .settlement import ItemSplit, Settlement

Proportion = Annotated[Decimal, PlainSerializer(str, return_type=str, when_used="json")]
"""A ratio as the platform writes it: 0.6500 (JSON: a string)."""

_FOUR = Decimal("0.0001")
LEVEL_OF_CATEGORY = {"A": "01", "B": "02", "C": "03"}
"""Our catalogue category -> chrgitm_lv (收费项目等级)."""
_WHOLE_LINE = {"A": Decimal("0.0000"), "C": Decimal("1.0000")}  # selfpay_prop of a 甲 / 丙 line


@dataclass(frozen=True)
class Label:
    """A field of the platform's blocks as readers know it: the specification's Chinese name and a
    short English one, which the settlement page shows (GET /packs), and what else a reader of the
    JSON Schema is told (`more`). The JSON Schema describes the field as '中文: English; more'."""

    zh: str
    en: str
    more: str = ""

    @property
    def description(self) -> str:
        return f"{self.zh}: {self.en}" + (f"; {self.more}" if self.more else "")

    def __get_pydantic_json_schema__(self, core_schema, handler) -> dict:
        schema = handler(core_schema)
        schema["description"] = self.description
        return schema


def labels(shape: type[BaseModel]) -> dict[str, Label]:
    """Each field of a block's shape (SetlInfo, ...) with its Label, in the shape's order."""
    return {name: next(m for m in f.metadata if isinstance(m, Label)) for name, f in shape.model_fields.items()}


class _Shape(BaseModel):
    """The shape of a block's JSON, for its JSON Schema and its documentation; the functions below
    return plain dicts of these keys (a settlement's blocks are read far more often than described)."""

    model_config = ConfigDict(defer_build=True)


class SetlInfo(_Shape):
    """`setlinfo`: the settlement's amounts as 2207 / 2304 return them (结算信息)."""

    medfee_sumamt: Annotated[Money, Label("医疗费总额", "total")]
    fulamt_ownpay_amt: Annotated[Money, Label("全自费金额", "fully self-paid (丙类, outside the catalogue)")]
    overlmt_selfpay: Annotated[Money, Label("超限价自费费用", "over the price limit")]
    preselfpay_amt: Annotated[Money, Label("先行自付金额", "乙类 pre-self-pay")]
    inscp_scp_amt: Annotated[Money, Label("符合政策范围金额", "policy-range amount")]
    act_pay_dedc: Annotated[Money, Label("实际支付起付线", "deductible applied")]
    hifp_pay: Annotated[Money, Label("基本医疗保险统筹基金支出", "basic pooled fund")]
    pool_prop_selfpay: Annotated[Proportion, Label("基本医疗保险统筹基金支付比例", "the basic fund's ratio (0.6500 = 65%)",
                                                   "0.0000 when none applied")]
    hifmi_pay: Annotated[Money, Label("居民大病保险资金支出", "resident serious illness")]
    hifob_pay: Annotated[Money, Label("职工大额医疗费用补助基金支出", "employee serious illness / large-amount subsidy")]
    cvlserv_pay: Annotated[Money, Label("公务员医疗补助资金支出", "civil-servant subsidy")]
    maf_pay: Annotated[Money, Label("医疗救助基金支出", "medical aid, secondary aid included")]
    oth_pay: Annotated[Money, Label("其他支出", "other payers (the COVID-test finance share)")]
    fund_pay_sumamt: Annotated[Money, Label("基金支付总额", "all funds")]
    psn_part_amt: Annotated[Money, Label("个人负担总金额", "the patient's part = total - all funds")]
    acct_pay: Annotated[Money, Label("个人账户支出", "paid from the personal account")]
    balc: Annotated[Money, Label("余额", "the personal account's balance after the claim", "0.00 without one")]
    psn_cash_pay: Annotated[Money, Label("个人现金支出", "paid in cash")]


SETLINFO_FIELDS = tuple(SetlInfo.model_fields)
"""Every key of `setlinfo`, in the order of domain.md section 5's table."""


class SetlDetail(_Shape):
    """One row of `setldetail` (基金分项结算信息): what one fund did on this claim."""

    fund_pay_type: Annotated[str | None, Label("基金支付类型", "the layer's fund code (390100, 610100, ...)",
                                               "null for a layer the platform has no code for")]
    fund_pay_type_name: Annotated[str, Label("基金支付类型名称", "the layer's name")]
    inscp_scp_amt: Annotated[Money, Label("符合政策范围金额", "the amount the layer worked on")]
    crt_payb_lmt_amt: Annotated[Money | None, Label("本次可支付限额金额", "the cap left before this claim",
                                                    "null when the layer has no cap")]
    fund_payamt: Annotated[Money, Label("基金支付金额", "what the layer paid")]


class FeeLineSplit(_Shape):
    """One row of `feedetail`: a fee line split as 2301 returns it (费用明细分割)."""

    feedetl_sn: Annotated[str, Label("费用明细流水号", "the line's id")]
    det_item_fee_sumamt: Annotated[Money, Label("明细项目费用总额", "round(unit price x quantity)")]
    fulamt_ownpay_amt: Annotated[Money, Label("全自费金额", "fully self-paid part")]
    overlmt_amt: Annotated[Money, Label("超限价金额", "over-limit part")]
    preselfpay_amt: Annotated[Money, Label("先行自付金额", "pre-self-paid part")]
    inscp_scp_amt: Annotated[Money, Label("符合政策范围金额", "policy-range part")]
    chrgitm_lv: Annotated[str, Label("收费项目等级", "01 甲类, 02 乙类, 03 丙类")]
    selfpay_prop: Annotated[Proportion, Label("自付比例", "乙类 the share applied, 甲类 0, 丙类 1")]


def _proportion(ratio: Decimal | None) -> Decimal:
    """A ratio with the platform's four decimals (more when it has more: nothing is rounded away)."""
    if ratio is None:
        return Decimal("0.0000")
    four = quantized(ratio, _FOUR)
    return four if four == ratio else ratio


def amounts(s: Settlement) -> dict[str, Decimal]:
    """The amounts the claim gives values to, by platform field: the bill split, the deductible,
    the funds' totals, every layer's payout summed by its `platform_field`, the account and cash,
    and `balc` when an account layer applied. (`Settlement.platform_fields()`; `setlinfo` is
    these with every other field of the table at 0.00.)"""
    with exact():  # sums of amounts, whatever decimal context the caller has set
        out = {
            "medfee_sumamt": s.bill.total,
            "fulamt_ownpay_amt": s.bill.fully_self_paid,
            "overlmt_selfpay": s.bill.over_limit,
            "preselfpay_amt": s.bill.pre_self_paid,
            "inscp_scp_amt": s.bill.policy_range,
            "act_pay_dedc": s.deductible,
            "fund_pay_sumamt": s.fund_total,
            "psn_part_amt": s.patient.total,
        }
        for p in s.layers:
            if p.platform_field:
                out[p.platform_field] = out.get(p.platform_field, ZERO) + p.paid
        out["acct_pay"] = s.patient.account
        out["psn_cash_pay"] = s.patient.cash
        for p in s.layers:
            if not p.fund and p.applied and p.limit_left is not None:
                out["balc"] = p.limit_left - p.paid  # the account balance after the claim
        return out


def setlinfo(s: Settlement, found: dict[str, Decimal] | None = None) -> dict[str, Decimal]:
    """`setlinfo`: every field of SetlInfo, in its order, unused amounts 0.00 (see the module's notes
    on pool_prop_selfpay and balc). `found`: the settlement's `amounts`, when the caller has them already."""
    found = amounts(s) if found is None else dict(found)
    with exact():
        found["pool_prop_selfpay"] = _proportion(s.ratio)
    return {name: found.get(name, ZERO) for name in SETLINFO_FIELDS}


def setldetail(s: Settlement) -> list[dict]:
    """`setldetail`: one SetlDetail row per layer that applied, in paying order."""
    return [{"fund_pay_type": p.fund_code, "fund_pay_type_name": p.name_zh, "inscp_scp_amt": p.base,
             "crt_payb_lmt_amt": p.limit_left, "fund_payamt": p.paid}
            for p in s.layers if p.applied]


def feedetail(s: Settlement) -> list[dict]:
    """`feedetail`: one FeeLineSplit row per line item, in the claim's order; empty for a bill given
    already split."""
    with exact():
        return [_line(it) for it in s.items]


def _line(it: ItemSplit) -> dict:
    return {"feedetl_sn": it.id, "det_item_fee_sumamt": it.amount, "fulamt_ownpay_amt": it.fully_self_paid,
            "overlmt_amt": it.over_limit, "preselfpay_amt": it.pre_self_paid, "inscp_scp_amt": it.policy_range,
            "chrgitm_lv": LEVEL_OF_CATEGORY[it.category],
            "selfpay_prop": _proportion(it.self_pay_share) if it.category == "B" else _WHOLE_LINE[it.category]}


_PROPORTIONS = frozenset({"pool_prop_selfpay", "selfpay_prop"})


def _json_value(key: str, value: object) -> object:
    if isinstance(value, Decimal):
        if key in _PROPORTIONS:
            return str(value)
        return f"{value:.2f}" if value else "0.00"  # as Money is written: never "-0.00"
    return value


def platform_json(s: Settlement) -> dict:
    """The three blocks as JSON data (amounts and ratios as strings), keyed `setlinfo`, `setldetail`
    and `feedetail`: what `benefits calc --json` adds to the settlement's own keys."""
    def row(d: dict) -> dict:
        return {k: _json_value(k, v) for k, v in d.items()}

    return {"setlinfo": row(setlinfo(s)), "setldetail": [row(r) for r in setldetail(s)],
            "feedetail": [row(r) for r in feedetail(s)]}


def with_blocks(s: Settlement) -> dict:
    """The settlement as JSON data with the three blocks beside its keys: what `benefits calc --json`
    prints and the service's calculating endpoints answer (`benefits schema settlement`)."""
    return s.model_dump(mode="json") | platform_json(s)
