"""The JSON the ledger stores and answers with, and the digest that recognises a repeated request.

A settlement's body is `SettleBody` (the settlement as `Settlement.model_dump_json` writes it, in an
envelope naming the key, member-year and pack); a reversal's is `ReverseBody` (the settlement's
amounts negated, as the platform answers 2208 / 2305). An opening's is `OpeningBody` (the
accumulators brought in and the entries that hold them), a credit's `CreditBody`, and the reversal
of either `ReverseEntriesBody`. Each is written once, when the request is first made, and every
replay answers the stored text itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from ..models.accumulators import Accumulators
from ..models.claim import Claim
from ..models.platform_out import FeeLineSplit, SetlDetail, SetlInfo, platform_json
from ..models.settlement import Settlement
from ..money import Money, from_fen, trimmed
from .records import ADMISSIONS

DIGEST_VERSION = "1"
"""Part of every digest: a change of what a digest covers changes it, so an old key never matches a new
request by accident."""
SETTLE_DIGEST_VERSION = "2"
"""A settlement's: 2 reads the claim normalised (`settle_digest`); 1 read its JSON as written."""


def settle_digest(claim: Claim, pack: str) -> str:
    """sha256 of the validated claim, as the engine reads it, and the pack's name (not its content
    hash: a platform retry after the pack was reloaded, or corrected, must still be recognised as the
    same request and answered with the stored settlement, not settled a second time). A retry written
    another way is the same claim: a quantity or share with trailing zeros (12.0, 0.20, 0.00), the
    groups in another order, a diagnosis in either case, `filed: true` given or left out (the rules
    read an absent one as true)."""
    doc = claim.model_dump(mode="json")
    doc["member"]["groups"] = sorted(doc["member"]["groups"])
    doc["diagnoses"] = [code.upper() for code in doc["diagnoses"]]  # the engine reads either case
    if doc["filed"] is None:
        doc["filed"] = True  # as the rules read it (facts.py): filing only matters out of province
    for item in doc.get("items") or ():
        for name in ("quantity", "self_pay_share"):
            if item.get(name) is not None:
                item[name] = _trimmed(item[name])
    return _sha256("settle", pack, json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
                   version=SETTLE_DIGEST_VERSION)


def settle_digests(claim: Claim, pack: str) -> frozenset[str]:
    """The digests a stored settlement of this claim may carry: this version's, and the first
    version's (the claim's JSON as written), so that a retry of a request made before still replays."""
    return frozenset((settle_digest(claim, pack),
                      _sha256("settle", pack, claim.model_dump_json())))


def reverse_digest(of: str) -> str:
    """sha256 of what a reversal asks: which settlement (opening, credit) it reverses."""
    return _sha256("reverse", of)


def opening_digest(opened: Accumulators) -> str:
    """sha256 of what an opening asks: the member-year's accumulators, as the ledger normalises them
    (member and year filled in, zero counters left out, counters in order), so that the same balances
    written twice ('1000' and '1000.00', a zero counter or none) are the same request. Not the pack it
    was checked against: a check changes nothing that is written."""
    return _sha256("opening", opened.model_dump_json())


def credit_digest(member_id: str, year: int, counter: str, fen: int) -> str:
    """sha256 of what a credit asks: which member-year's counter, and how much (in fen)."""
    return _sha256("credit", member_id, str(year), counter, str(fen))


def _sha256(*parts: str, version: str = DIGEST_VERSION) -> str:
    return hashlib.sha256("\0".join((version, *parts)).encode()).hexdigest()


def _trimmed(number: str) -> str:
    """A quantity's or share's text, one for each number (12.0 and 12, 0.20 and 0.2, 0.00 and 0): from
    its digits and exponent, never its text (1.0E-7 and 1.0E-70 end alike, and are not one number)."""
    return str(trimmed(Decimal(number)))


def _signed(value: Decimal) -> str:
    return f"{value:.2f}" if value else "0.00"  # never "-0.00"


def _negated(amount: str) -> Decimal:
    """A stored amount with its sign turned: exact whatever the caller's decimal context (unary
    minus would round to it), and 0.00 stays 0.00."""
    value = Decimal(amount)
    return value.copy_negate() if value else value


def _delta(counter: str, fen: int) -> str:
    return str(fen) if counter == ADMISSIONS else _signed(from_fen(fen))


Signed = Annotated[Decimal, PlainSerializer(_signed, return_type=str, when_used="json")]
"""An amount in yuan that may be negative (a reversal's), two decimals; JSON carries it as a string."""


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str  # each body's own Literal; declared here so that it comes first in the JSON
    key: str = Field(description="the caller's key (msgid / settlement id) the request was made under")
    member_id: str
    year: int = Field(description="the accumulator year: the year of the settlement's deciding date")
    pack: str = Field(description="the rule pack's name")
    pack_hash: str = Field(description="sha256 of the rule pack's files (RulePack.content_hash)")
    pack_version: dt.date = Field(description="the parameter version applied (its start date)")


class SettleBody(_Body):
    """A settlement (2207 / 2304) as stored and answered."""

    kind: Literal["settle"] = "settle"
    platform_fields: dict[str, Money] = Field(description="Settlement.platform_fields(): the 2207 amounts")
    setlinfo: SetlInfo = Field(description="the platform's setlinfo block: every field, 0.00 when unused")
    setldetail: list[SetlDetail] = Field(description="one row per fund that applied")
    feedetail: list[FeeLineSplit] = Field(description="each line item split as 2301 returns it")
    settlement: Settlement


class LayerReversed(BaseModel):
    """One layer's payout, negated."""

    layer: str
    fund_code: str | None
    platform_field: str | None
    fund: bool
    paid: Signed


class FundReversed(BaseModel):
    """One `setldetail` row of the settlement reversed, its amounts negated (without the cap left before it,
    a limit, not an amount the reversal moves)."""

    fund_pay_type: str | None
    fund_pay_type_name: str
    inscp_scp_amt: Signed
    fund_payamt: Signed


class EntryReversed(BaseModel):
    """One compensating entry: a counter's change, negated."""

    counter: str
    month: str = Field(description="YYYY-MM for a counter kept per month, '' for a yearly one")
    delta: str = Field(description="yuan with two decimals ('-1234.50'); a whole count for admissions ('-1')")


class ReverseBody(_Body):
    """A reversal (2208 / 2305) as stored and answered: the reversed settlement's amounts, negated."""

    kind: Literal["reverse"] = "reverse"
    of: str = Field(description="the key of the settlement reversed")
    claim_id: str
    bill: dict[str, Signed] = Field(
        description="the bill split: total, fully_self_paid, over_limit, pre_self_paid, policy_range")
    deductible: Signed
    fund_total: Signed
    layers: list[LayerReversed]
    patient: dict[str, Signed] = Field(
        description="the patient's part (PatientPart's fields), account and cash included")
    platform_fields: dict[str, Signed] = Field(
        description="the 2207 amounts, negated as the platform returns them for a reversal "
                    "(balc, a balance, is left out)")
    setlinfo: dict[str, str] = Field(
        description="the settlement's setlinfo block, every field, each amount negated as 2208 / 2305 return it "
                    "('-1234.50', '0.00'); pool_prop_selfpay, a ratio, as it was; balc, a balance, left out")
    setldetail: list[FundReversed] = Field(description="the settlement's setldetail rows, amounts negated")
    entries: list[EntryReversed] = Field(description="the compensating entries appended")
    later: list[str] = Field(description="keys of the member-year's later settlements, not reversed, that counted the "
                                         "reversed amounts (none when it changed no counter); they are not re-settled")


_NOT_AMOUNTS = frozenset({"pool_prop_selfpay"})  # setlinfo's ratio: the same, whichever way the money goes


def reverse_body(key: str, settled: str, entries: list[tuple[str, str, int]], later: list[str]) -> ReverseBody:
    """The reversal of the settlement whose stored body is `settled`, with the compensating entries
    appended (counter, month, change) and the later settlements."""
    env = json.loads(settled)
    s = env["settlement"]
    # a settlement stored before its body carried the platform's blocks has them made from its own amounts
    blocks = env if "setlinfo" in env else platform_json(Settlement.model_validate(s))
    return ReverseBody(
        key=key, of=env["key"], member_id=env["member_id"], year=env["year"], pack=env["pack"],
        pack_hash=env["pack_hash"], pack_version=env["pack_version"], claim_id=s["claim_id"],
        bill={name: _negated(v) for name, v in s["bill"].items()},
        deductible=_negated(s["deductible"]), fund_total=_negated(s["fund_total"]),
        layers=[LayerReversed(layer=p["layer"], fund_code=p["fund_code"], platform_field=p["platform_field"],
                              fund=p["fund"], paid=_negated(p["paid"])) for p in s["layers"]],
        patient={name: _negated(v) for name, v in s["patient"].items()},
        platform_fields={name: _negated(v) for name, v in env["platform_fields"].items() if name != "balc"},
        setlinfo={name: v if name in _NOT_AMOUNTS else _signed(_negated(v))
                  for name, v in blocks["setlinfo"].items() if name != "balc"},
        setldetail=[FundReversed(fund_pay_type=row["fund_pay_type"], fund_pay_type_name=row["fund_pay_type_name"],
                                 inscp_scp_amt=_negated(row["inscp_scp_amt"]), fund_payamt=_negated(row["fund_payamt"]))
                    for row in blocks["setldetail"]],
        entries=[EntryReversed(counter=c, month=m, delta=_delta(c, d)) for c, m, d in entries],
        later=later,
    )


# --- openings and credits ---------------------------------------------------------------------------


class EntryAppended(BaseModel):
    """One entry an opening appended: a counter's change."""

    counter: str
    month: str = Field(description="YYYY-MM for a counter kept per month, '' for a yearly one")
    delta: str = Field(description="yuan with two decimals ('1000.00'); a whole count for admissions ('1')")


class _Unpriced(BaseModel):
    """The envelope of a request that settles no claim: no parameter version applies to it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    key: str = Field(description="the caller's key the request was made under")
    member_id: str
    year: int = Field(description="the accumulator year")
    pack: str | None = Field(description="the rule pack whose counters the request was checked against; "
                                         "null when it was not checked against one")
    pack_hash: str | None = Field(description="sha256 of that pack's files; null when unchecked")


class OpeningBody(_Unpriced):
    """An opening (期初余额导入) as stored and answered: a member-year's accumulators brought into the
    ledger (a member joining it mid-year, a personal-account balance carried into the year)."""

    kind: Literal["opening"] = "opening"
    accumulators: Accumulators = Field(
        description="the accumulators opened, as the ledger holds them right after the opening "
                    "(zero counters left out)")
    entries: list[EntryAppended] = Field(description="the entries appended, one a non-zero counter, admissions last")


class CreditBody(_Unpriced):
    """A credit (个人账户划入) as stored and answered: an amount added to a balance counter."""

    kind: Literal["credit"] = "credit"
    counter: str = Field(description="the balance counter credited (a yearly counter)")
    amount: Money = Field(description="the amount added, in yuan")
    balance: Money = Field(description="the counter's value right after the credit")


class ReverseEntriesBody(_Unpriced):
    """The reversal of an opening or a credit as stored and answered: its entries, negated. (A
    settlement's reversal is a ReverseBody.)"""

    kind: Literal["reverse"] = "reverse"
    of: str = Field(description="the key of the opening or credit reversed")
    of_kind: Literal["opening", "credit"] = Field(description="what was reversed")
    entries: list[EntryReversed] = Field(description="the compensating entries appended")
    later: list[str] = Field(description="always empty: an opening or a credit is not reversed once a settlement "
                                         "that stands was made on it")


def opening_body(key: str, opened: Accumulators, entries: list[tuple[str, str, int]], pack: str | None,
                 pack_hash: str | None) -> OpeningBody:
    return OpeningBody(key=key, member_id=opened.member_id, year=opened.year, pack=pack, pack_hash=pack_hash,
                       accumulators=opened,
                       entries=[EntryAppended(counter=c, month=m, delta=_delta(c, d)) for c, m, d in entries])


def reverse_entries_body(key: str, stored: str, entries: list[tuple[str, str, int]]) -> ReverseEntriesBody:
    """The reversal of the opening or credit whose stored body is `stored`, with the compensating
    entries appended (counter, month, change)."""
    env = json.loads(stored)
    return ReverseEntriesBody(key=key, member_id=env["member_id"], year=env["year"], pack=env["pack"],
                              pack_hash=env["pack_hash"], of=env["key"], of_kind=env["kind"],
                              entries=[EntryReversed(counter=c, month=m, delta=_delta(c, d)) for c, m, d in entries],
                              later=[])
