"""The column schema of a fund-impact simulation (基金测算): claims, line items, members, results.

Inputs are `pyarrow.Table`s, or mappings of column name to a sequence (list, numpy array, pyarrow
array). Money is integer fen (int64) or decimal yuan text ("1234.50", at most two decimals, read
as the engine reads it); floats are refused, as everywhere in the engine. Dates are
`datetime.date`, date32 or ISO text. Text columns may be dictionary-encoded (an items table's
claim_id is best given so: each distinct id is then looked up once). Columns not listed are ignored.

CLAIMS (费用结算记录, one row a claim; a year of them, in any order)
    claim_id          string   required, unique
    member_id         string   required, one of the members table's
    visit             string   required: inpatient, day_surgery, general_outpatient,
                               special_outpatient, maternity, covid_test (就诊类型)
    level             string   required: a hospital level of the pack (医院等级)
    region            string   local (default), in_province, out_of_province (就医地)
    filed             bool     异地备案; null = not said (required out of province)
    date              date     the visit date (outpatient kinds); null for a stay
    admission_date    date     a stay's admission (inpatient, day_surgery)
    discharge_date    date     a stay's discharge: its deciding date (domain.md 6.1)
    diagnosis         string   the primary ICD-10 code (主诊断); null or "" for none
    other_diagnoses   list<string> optional: the codes after the primary (其他诊断), as given; the
                               engine checks each (an empty code is no code: the claim is refused)
    service           string   a fixed-amount service of the pack (maternity); null for none
    total             money    医疗费用总额 \
    fully_self_paid   money    全自费         | the bill already split (domain.md 6.2, 费用分解);
    over_limit        money    超限价自付     | null on every one of them for a claim whose line
    pre_self_paid     money    先行自付       | items are in the items table. policy_range may be
    policy_range      money    政策范围内费用 / left out: it is then total - the other three.
    order_day         date     optional: the day that places the claim in its member's year, where
                               that is not its deciding date (null or absent: the deciding date).
                               `compare.redate` sets it: claims moved to another year keep the
                               order of their own dates (29 February and the 28th become one day).

ITEMS (费用明细, optional: line items keyed by claim; a claim has a split bill or items, not both)
    claim_id          string   required, a claim of the claims table
    category          string   required: A (甲), B (乙), C (丙)
    unit_price        money    required (单价)
    quantity_num      int64    quantity = quantity_num / quantity_den, exactly (default 1 / 1);
    quantity_den      int64    quantity_den a power of ten (0.5 = 5 / 10)
    payment_standard  money    支付标准 (限价); null for none
    share_num         int64    乙类先行自付比例 = share_num / share_den;
    share_den         int64    null: the pack's default share

MEMBERS (参保人, one row a member)
    member_id         string   required, unique
    scheme            string   required: employee, resident (险种)
    member_type       string   in_service, retired (employee); adult, child, student (resident);
                               required when the pack's conditions read it
    groups            list<string> or comma-separated string: dibao, tekun, guer, tuopin,
                               dishouru (困难群体); null or empty for none
    age               int      null when unknown; required when the pack's conditions read it
    admissions        int      admissions earlier in the year (default 0)
    opening.<counter> money    the opening accumulators (年度累计, default 0): one column per
                               counter key the member starts the year with, named by the pack's
                               counters: `opening.basic.annual`, `opening.personal_account.balance`,
                               `opening.outpatient.month@2022-03` for a counter kept per month

RESULTS (one row a claim, in the claims table's row order)
    row               int64    the claim's row in the claims table
    claim_id, member_id        as given
    step              int32    the claim's place in its member's year (0 = first), by deciding
                               date, then claim id
    deciding_date     date32   the date that picks the version (domain.md 6.1)
    version           date32   the start of the version the claim settled under; null if refused
    status            string   settled | refused (a claim the scalar engine refuses, with its
                               ClaimError's message in `message`; a refused claim changes no
                               accumulator, and every amount of its row is 0)
    engine            string   vector | scalar (settled by `benefits.evaluate`: see
                               `Results.not_vectorised` for why)
    message           string   null when settled
    total .. policy_range      money (int64 fen): the bill split
    deductible        int64    起付线 applied (act_pay_dedc)
    ratio             int64    the basic fund's ratio in parts per million; null without one
    co_pay, above_cap int64    the patient's co-pay and what the basic fund's cap left unpaid
    paid.<layer>      int64    what each layer of the pack paid (fen), in the pack's order
    fund_total        int64    fund_pay_sumamt: every fund layer
    patient           int64    psn_part_amt = total - fund_total
    account           int64    acct_pay: the personal account
    cash              int64    psn_cash_pay = patient - account
    admissions_after  int64    admissions this year after the claim
    after.<counter>   int64    every counter after the claim (fen); a counter kept per month has
                               one column per month of the year: `after.outpatient.month@2022-03`
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

MONEY = "money"  # int64 fen, or decimal yuan text
OPENING = "opening."  # member columns of opening counters: opening.<counter key>
PAID = "paid."  # result columns of layer payouts: paid.<layer id>
AFTER = "after."  # result columns of counters after the claim: after.<counter key>
ORDER_DAY = "order_day"  # claims column: the day that places a claim in its member's year (see CLAIMS)
OTHER_DIAGNOSES = "other_diagnoses"  # claims column: the codes after the primary (see CLAIMS)


def diagnoses_of(primary: str | None, others: list[str] | None) -> list[str]:
    """A claim's `diagnoses` as `benefits.evaluate` takes them: the primary code first, then the
    others. Where the claim gave a list of codes (`others` not None), a missing primary stands as ""
    (a list whose first code is empty, which the engine refuses) rather than promoting the second
    code to primary, or dropping a list of one empty code."""
    if others is not None:
        return [primary or "", *others]
    return [primary] if primary else []


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # string, bool, date, money, int, list<string>
    required: bool
    description: str


CLAIM_COLUMNS: tuple[Column, ...] = (
    Column("claim_id", "string", True, "unique claim id"),
    Column("member_id", "string", True, "the member (members table)"),
    Column("visit", "string", True, "就诊类型: inpatient, day_surgery, general_outpatient, special_outpatient, "
                                     "maternity, covid_test"),
    Column("level", "string", True, "医院等级: one of the pack's levels"),
    Column("region", "string", False, "就医地: local (default), in_province, out_of_province"),
    Column("filed", "bool", False, "异地备案; null when not said"),
    Column("date", "date", False, "visit date (outpatient kinds)"),
    Column("admission_date", "date", False, "admission (stays)"),
    Column("discharge_date", "date", False, "discharge (stays): the deciding date"),
    Column("diagnosis", "string", False, "primary ICD-10 code"),
    Column(OTHER_DIAGNOSES, "list<string>", False, "the codes after the primary (其他诊断)"),
    Column("service", "string", False, "fixed-amount service (maternity)"),
    Column("total", MONEY, False, "医疗费用总额 (null: line items)"),
    Column("fully_self_paid", MONEY, False, "全自费"),
    Column("over_limit", MONEY, False, "超限价自付"),
    Column("pre_self_paid", MONEY, False, "先行自付"),
    Column("policy_range", MONEY, False, "政策范围内费用 (absent: total - the other three)"),
)

ITEM_COLUMNS: tuple[Column, ...] = (
    Column("claim_id", "string", True, "the claim the line belongs to"),
    Column("category", "string", True, "A 甲, B 乙, C 丙"),
    Column("unit_price", MONEY, True, "单价"),
    Column("quantity_num", "int", False, "quantity numerator (default 1)"),
    Column("quantity_den", "int", False, "quantity denominator, a power of ten (default 1)"),
    Column("payment_standard", MONEY, False, "支付标准; null for none"),
    Column("share_num", "int", False, "乙类先行自付比例 numerator; null: the pack's default"),
    Column("share_den", "int", False, "乙类先行自付比例 denominator"),
)

MEMBER_COLUMNS: tuple[Column, ...] = (
    Column("member_id", "string", True, "unique member id"),
    Column("scheme", "string", True, "险种: employee, resident"),
    Column("member_type", "string", False, "人员类别: in_service, retired, adult, child, student"),
    Column("groups", "list<string>", False, "困难群体: list, or comma-separated text"),
    Column("age", "int", False, "age; null when unknown"),
    Column("admissions", "int", False, "admissions earlier in the year (default 0)"),
)

BILL_COLUMNS = ("total", "fully_self_paid", "over_limit", "pre_self_paid", "policy_range")
RESULT_HEAD = ("row", "claim_id", "member_id", "step", "deciding_date", "version", "status", "engine", "message")
RESULT_AMOUNTS = BILL_COLUMNS + ("deductible", "ratio", "co_pay", "above_cap")
RESULT_TOTALS = ("fund_total", "patient", "account", "cash", "admissions_after")


def result_columns(layers: tuple[str, ...], counter_keys: tuple[str, ...]) -> tuple[str, ...]:
    """The result table's columns, in order, for a pack's layer ids and counter keys (a counter kept
    per month as one key per month of the year)."""
    return (RESULT_HEAD + RESULT_AMOUNTS + tuple(PAID + layer for layer in layers) + RESULT_TOTALS
            + tuple(AFTER + key for key in counter_keys))


def outside_year(day: "dt.date", year: int) -> str:
    """Why a claim settling on `day` is refused in a simulation keeping accumulators for `year`."""
    return (f"the claim settles on {day}, outside the year {year} the simulation keeps accumulators for (the "
            "year of its earliest claim): simulate one year's claims at a time")
