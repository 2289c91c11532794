"""A settlement (结算结果): the bill split, each layer's payout, the patient's part, the
accumulators after the claim, and the trace. Field names follow domain.md section 5."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, get_type_hints

from pydantic import BaseModel, ConfigDict, Field

from ..money import Money
from ..trace import TraceStep
from .accumulators import Accumulators
from .claim import BillSplit
from .lazy import Lazy


def _about(text: str) -> dict:
    """A field's description for the JSON Schema (pydantic reads it from the dataclass field's metadata)."""
    return {"description": text}


# Results are stdlib dataclasses, as TraceStep and ItemSplit are: the engine builds a dozen per
# claim from its own exact values, and pydantic validates, serialises and documents them as
# fields of `Settlement` (a model built field by field costs ten times as much).


@dataclass(slots=True)
class LayerPayout:
    """What one layer paid on this claim."""

    layer: str
    name_zh: str
    name_en: str
    fund_code: Annotated[str | None, Field(description="setldetail fund_pay_type, e.g. 390100")]
    platform_field: Annotated[str | None, Field(description="2207 output field, e.g. hifp_pay")]
    applied: Annotated[bool, Field(description="whether the layer applied to this claim at all")]
    fund: Annotated[bool, Field(description="a fund (counted in fund_pay_sumamt); False for the personal "
                                            "account, which pays part of the patient's own share")]
    base: Annotated[Money, Field(description="the amount it worked on (in-scope amount)")]
    limit_left: Annotated[Money | None, Field(description="crt_payb_lmt_amt: cap left before this claim; None = no cap")]
    paid: Money


@dataclass(slots=True)
class PatientPart:
    """Why the patient pays what they pay (个人负担构成)."""

    fully_self_paid: Annotated[Money, Field(description="outside the catalogue 全自费")]
    over_limit: Annotated[Money, Field(description="above the price limit 超限价")]
    pre_self_paid: Annotated[Money, Field(description="category-B share 先行自付")]
    deductible: Annotated[Money, Field(description="起付线 applied")]
    co_pay: Annotated[Money, Field(description="proportional co-pay 按比例自付 above the deductible")]
    above_cap: Annotated[Money, Field(description="what the basic fund's cap left unpaid 超封顶")]
    relieved_by_later_layers: Annotated[Money, Field(
        description="part of deductible + co-pay + above-cap paid by serious illness and aid")]
    total: Annotated[Money, Field(description="psn_part_amt = total - all funds")]
    account: Annotated[Money, Field(description="acct_pay: paid from the personal account 个人账户")] = Decimal("0.00")
    cash: Annotated[Money, Field(description="psn_cash_pay: paid in cash 个人现金 = total - account")] = Decimal("0.00")

    @classmethod
    def description(cls, name: str) -> str:
        """A field's description, as the JSON Schema gives it."""
        meta = getattr(get_type_hints(cls, include_extras=True)[name], "__metadata__", ())
        return next((m.description for m in meta if getattr(m, "description", None)), name)


@dataclass(slots=True)
class ItemSplit:
    """One line item's share of the bill split (the 2301 fee-line output): its category (A 甲 / B 乙 /
    C 丙, chrgitm_lv 01/02/03), amount (unit price x quantity, to the fen), the B share applied
    (selfpay_prop), and its fully self-paid (fulamt_ownpay_amt), over-limit (overlmt_amt),
    pre-self-paid (preselfpay_amt) and policy-range (inscp_scp_amt) parts."""

    id: str
    category: str
    amount: Money
    self_pay_share: Decimal | None
    fully_self_paid: Money
    over_limit: Money
    pre_self_paid: Money
    policy_range: Money


class Settlement(BaseModel):
    """The result of evaluating one claim."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    claim_id: str
    pack: str
    version: dt.date = Field(description="the parameter version applied (its start date)")
    deciding_date: dt.date
    bill: BillSplit
    items: Lazy[ItemSplit] = Field(default_factory=Lazy, description="each line item's split; empty for a pre-split bill")
    deductible: Money = Field(description="act_pay_dedc, the basic fund's deductible applied")
    ratio: Decimal | None = Field(None, description="the basic fund's ratio applied")
    layers: Lazy[LayerPayout]
    fund_total: Money = Field(description="fund_pay_sumamt")
    patient: PatientPart
    accumulators_before: Accumulators
    accumulators_after: Accumulators
    trace: Lazy[TraceStep] = Field(default_factory=Lazy)

    @property
    def payouts(self) -> dict[str, Decimal]:
        """Each layer's payout by layer id, in layer order."""
        return {p.layer: p.paid for p in self.layers}

    def platform_fields(self) -> dict[str, Decimal]:
        """The national platform's 2207/2304 amount fields this claim gives values to (domain.md
        section 5); `setlinfo()` is the fixed block with every field."""
        from . import platform_out  # here: only a caller of the platform's blocks needs them

        return platform_out.amounts(self)

    def setlinfo(self) -> dict[str, Decimal]:
        """The platform's `setlinfo` block: every field of domain.md section 5, 0.00 when unused."""
        from . import platform_out

        return platform_out.setlinfo(self)

    def setldetail(self) -> list[dict]:
        """The platform's `setldetail`: one row per layer that applied (fund_pay_type, fund_payamt, ...)."""
        from . import platform_out

        return platform_out.setldetail(self)

    def feedetail(self) -> list[dict]:
        """Each line item split as the platform's 2301 returns it (feedetl_sn, inscp_scp_amt, ...)."""
        from . import platform_out

        return platform_out.feedetail(self)
