"""Layer kind `above_cap`: 职工大额医疗补助 (domain.md 7.2), triggered by a basic-fund cap.

With E = the eligible cost (policy-range amount above the deductible), r = the basic ratio and
`left` = what the named cap had left before the claim, the basic fund reached its cap at
E' = left / r of eligible cost; this layer pays its ratio on the rest:

    pay = ratio x max(0, E - left / r), up to the layer's own annual cap left

Exactly: ratio x (E x r - left) / r, a fraction whose denominator is r's, rounded once.
"""

from __future__ import annotations

from typing import ClassVar, Iterator, Literal

from pydantic import Field

from ..errors import ClaimError
from ..money import RATIO, half_up
from ..rules.files import Name, Row
from .base import Check, CounterBound, Earlier, Kind, Paid, State, record_cap


class AboveCapLayer(Kind):
    """大额医疗补助: pays a ratio of the eligible cost lying beyond the point where a basic-fund
    cap was reached: ratio x max(0, E - cap_left / basic_ratio)."""

    unmet: ClassVar[tuple[str, str]] = ("本次结算未适用设有最高支付限额的基本医疗保险统筹基金",
                                        "no basic-fund layer with a cap for the claim applied to it")

    kind: Literal["above_cap"]
    cap: Name = Field(description="the id of the basic-fund cap whose exhaustion triggers this layer")
    ratio: Name
    paid_counter: Name
    caps: list[Row] = Field(default_factory=list)

    @property
    def follows_cap(self) -> str:
        return self.cap

    def check(self, chk: Check) -> None:
        chk.param(("ratio",), self.ratio, "percent")
        chk.counter(("paid_counter",), self.paid_counter)
        chk.rows("caps", self.caps, "yuan", self.rule_ids("caps", self.caps))

    def bounds(self, highest) -> Iterator[CounterBound]:
        for row, rid in zip(self.caps, self.rule_ids("caps", self.caps)):
            yield CounterBound(self.paid_counter, highest(row.value), row.value, "cap", rid if row.when else None)

    def pay(self, st: State, earlier: Earlier) -> Paid | None:
        """None when no basic-fund layer applied to the claim, or one applied with no cap for it (it never
        reaches a cap, so nothing lies beyond one). One that holds other caps for the claim but not the
        named one is the pack's mistake (a cap renamed, or held for fewer claims than this layer pays):
        paying nothing would have settled the subsidy's share as the patient's, or medical aid's, silently."""
        basic = earlier.basic
        if basic is None or not basic.cap_lefts:
            return None
        if self.cap not in basic.cap_lefts:
            raise ClaimError(f"pack {st.pack.name!r}: layer {self.id!r} follows cap {self.cap!r} of the basic fund, "
                             f"but basic-fund layer {basic.layer!r} holds no cap {self.cap!r} for this claim; give "
                             f"{basic.layer!r} a cap {self.cap!r} on every claim {self.id!r} applies to")
        ratio = st.param(self.ratio)
        eligible, left, r = basic.eligible, basic.cap_lefts[self.cap], basic.ratio
        # beyond = E - left / r = (E x r - left x RATIO) / r fen; with a zero basic ratio the fund
        # never reaches its cap, so nothing lies beyond it
        beyond = max(0, eligible * r - left * RATIO) if r > 0 else 0
        den = r * RATIO if r > 0 else RATIO
        raw = beyond * ratio.units  # fen x den
        cap = cap_left = None
        hit = st.first(self.caps, self.rule_ids("caps", self.caps))
        if hit is not None:
            cap = st.param(hit[0].value)
            cap_left = max(0, cap.units - st.counter(self.paid_counter))
        paid = half_up(raw if cap_left is None else min(raw, cap_left * den), den)
        if st.rec is not None:
            if cap is not None:
                record_cap(st, self.id, hit[1], cap, st.counter(self.paid_counter), cap_left)
            st.rec.add("above_cap.pay", f"{self.id}.pay", self.when_rule, self.id,
                       {"cap": self.cap, "ratio": ratio.units, "eligible": eligible, "left": left, "basic_ratio": r,
                        "beyond": beyond, "beyond_den": r if r > 0 else 1, "raw": raw, "den": den,
                        "cap_left": cap_left, "paid": paid}, (ratio,))
        st.add(self.paid_counter, paid)
        return Paid(paid, eligible, cap_left)
