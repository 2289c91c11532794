"""The scalar simulation engine: a year of claims settled one by one with `benefits.evaluate`.

Each member's claims are settled in order (deciding date, then claim id), each starting from the
accumulators the member's previous claim left (`accumulators_after`), the first from the member's
opening accumulators. The result is the same `Results` table (`benefits.simulate.columns`) that the
vectorised evaluator returns, with `engine` = scalar on every row, so that either can be used and
each can check the other. It is the reference and the fallback: about 15,000 claims a second.

Input is the checked tables of `simulate.files` (money in int64 fen): claims (CLAIM_SCHEMA),
members (MEMBER_SCHEMA with `opening.<counter>` columns) and line items (ITEM_SCHEMA).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Callable

import numpy as np
import pyarrow as pa
from pydantic import ValidationError

from ..calculator import evaluate
from ..errors import BenefitsError, ClaimError, ClaimProblem, error_message, error_path
from ..models.accumulators import Accumulators
from ..models.claim import Member
from ..money import from_fen, ratio_of, shifted, to_fen
from ..rules.pack import RulePack
from .columns import AFTER, OPENING, ORDER_DAY, OTHER_DIAGNOSES, PAID, diagnoses_of, outside_year, result_columns
from .results import Results

STAYS = ("inpatient", "day_surgery")
SCALAR_REASON = "settled by the scalar engine (benefits.evaluate), as asked"


def counter_keys(pack: RulePack, year: int) -> tuple[str, ...]:
    """Every counter key a year keeps: a counter kept per month once per month of `year`."""
    keys: list[str] = []
    for name in pack.counters:
        if name in pack.monthly_counters:
            keys += [f"{name}@{year}-{m:02d}" for m in range(1, 13)]
        else:
            keys.append(name)
    return tuple(keys)


def deciding_dates(pack: RulePack, claims: pa.Table) -> list[dt.date | None]:
    """Each claim's deciding date under `pack` (domain.md 6.1): the discharge (or, for a pack that
    decides by admission, the admission) of a stay, the visit date otherwise."""
    visit = claims.column("visit").to_pylist()
    date = claims.column("date").to_pylist()
    stay_day = claims.column("admission_date" if pack.meta.deciding_date == "admission" else "discharge_date").to_pylist()
    return [s if v in STAYS else d for v, d, s in zip(visit, date, stay_day)]


def member_order(member_ids: list, days: list, claim_ids: list) -> dict[str, list[int]]:
    """Claim indices per member, in settling order: deciding date, then claim id."""
    per: dict[str, list[int]] = {}
    for i, m in enumerate(member_ids):
        per.setdefault(m, []).append(i)
    for idx in per.values():
        idx.sort(key=lambda i: (days[i], claim_ids[i]))
    return per


def _items_by_claim(items: pa.Table | None) -> dict[str, list[dict]]:
    if items is None or items.num_rows == 0:
        return {}
    cols = {n: items.column(n).to_pylist() for n in items.column_names}
    out: dict[str, list[dict]] = {}
    for k in range(items.num_rows):
        cid = cols["claim_id"][k]
        lst = out.setdefault(cid, [])
        item = {"id": str(len(lst) + 1), "category": cols["category"][k], "unit_price": from_fen(cols["unit_price"][k]),
                "quantity": _exact(cols["quantity_num"][k], cols["quantity_den"][k]) if cols["quantity_num"][k] is not None
                else Decimal(1)}
        if cols["payment_standard"][k] is not None:
            item["payment_standard"] = from_fen(cols["payment_standard"][k])
        if cols["share_num"][k] is not None:
            item["self_pay_share"] = _exact(cols["share_num"][k], cols["share_den"][k])
        lst.append(item)
    return out


def _exact(num: int, den: int | None) -> Decimal:
    den = den or 1
    places = len(str(den)) - 1
    if den != 10 ** places:
        raise BenefitsError(f"a denominator must be a power of ten, got {den}")
    return shifted(num, places)


def settle_year(pack: RulePack, claims: pa.Table, members: pa.Table, *, items: pa.Table | None = None,
                year: int | None = None, progress: Callable[[int], None] | None = None) -> Results:
    """Settle every member's claims in order under `pack`, carrying accumulators from claim to claim.

    `progress(n)` is called after every n claims settled (a few hundred at a time). A claim the
    engine refuses is recorded with status `refused` and its message; it changes no accumulator.
    A claim settling outside `year` (default: the year of the earliest deciding date) is refused so.
    """
    n = claims.num_rows
    days = deciding_dates(pack, claims)
    known_days = [d for d in days if d is not None]
    if year is None:
        year = min(known_days).year if known_days else dt.date.today().year
    keys = counter_keys(pack, year)
    layers = tuple(layer.id for layer in pack.layers)
    cols = {c: claims.column(c).to_pylist() for c in claims.column_names}
    order_days = cols.pop(ORDER_DAY, None)  # claims moved to another year keep their own dates' order
    per_member = member_order(cols["member_id"], days if order_days is None else order_days, cols["claim_id"])
    items_of = _items_by_claim(items)
    members_by_id = _members(members)

    names = result_columns(layers, keys)
    out: dict[str, list] = {c: [None] * n for c in names}
    done = 0
    for member_id, order in per_member.items():
        info = members_by_id.get(member_id)
        if info is None:
            from .errors import SimulationInputError

            raise SimulationInputError("claims", "member_id", f"no member {member_id!r} in the members table",
                                       row=order[0])
        member, acc = info[0], _opening(info[1], info[2], member_id, year)
        for step, i in enumerate(order):
            acc = _settle_one(pack, cols, i, step, days[i], year, member, acc, items_of, layers, keys, out)
            done += 1
            if progress is not None and done % 500 == 0:
                progress(500)
    if progress is not None and done % 500:
        progress(done % 500)
    table = _table(out, names)
    return Results(table, pack=pack.name, year=year, layers=layers, counter_keys=keys,
                   not_vectorised={SCALAR_REASON: n} if n else {})


def _members(members: pa.Table) -> dict[str, tuple[Member | Exception, int, dict[str, int]]]:
    cols = {c: members.column(c).to_pylist() for c in members.column_names}
    opening = [c for c in members.column_names if c.startswith(OPENING)]
    out = {}
    for k, mid in enumerate(cols["member_id"]):
        doc = {"id": mid, "scheme": cols["scheme"][k], "groups": cols["groups"][k] or []}
        if cols.get("member_type") and cols["member_type"][k] is not None:
            doc["member_type"] = cols["member_type"][k]
        if cols.get("age") and cols["age"][k] is not None:
            doc["age"] = cols["age"][k]
        try:
            member: Member | Exception = Member.model_validate(doc)
        except ValidationError as exc:  # reported on each of the member's claims, as the engine words it
            member = ClaimError([ClaimProblem(("claim", "member") + error_path(err), error_message(err))
                                 for err in exc.errors()])
        counters = {c[len(OPENING):]: cols[c][k] for c in opening if cols[c][k]}
        out[mid] = (member, (cols.get("admissions") or [0] * len(cols["member_id"]))[k] or 0, counters)
    return out


def _opening(admissions: int, counters: dict[str, int], member_id: str, year: int) -> Accumulators:
    return Accumulators.model_construct(member_id=member_id, year=year, admissions=admissions,
                                        counters={k: from_fen(v) for k, v in counters.items()})


def _claim_doc(cols: dict, i: int, member: Member, items_of: dict) -> dict:
    doc = {"id": cols["claim_id"][i], "member": member, "visit": cols["visit"][i], "level": cols["level"][i],
           "region": cols["region"][i] or "local"}
    if cols["filed"][i] is not None:
        doc["filed"] = cols["filed"][i]
    if cols["visit"][i] in STAYS:
        doc["admission_date"], doc["discharge_date"] = cols["admission_date"][i], cols["discharge_date"][i]
    else:
        doc["date"] = cols["date"][i]
    others = cols.get(OTHER_DIAGNOSES)
    codes = diagnoses_of(cols["diagnosis"][i], others[i] if others is not None else None)
    if codes:
        doc["diagnoses"] = codes
    if cols["service"][i] is not None:
        doc["service"] = cols["service"][i]
    if cols["total"][i] is not None:
        doc["bill"] = {b: from_fen(cols[b][i]) for b in ("total", "fully_self_paid", "over_limit", "pre_self_paid",
                                                          "policy_range")}
    else:
        doc["items"] = items_of.get(cols["claim_id"][i], [])
    return doc


def _settle_one(pack, cols, i, step, day, year, member, acc, items_of, layers, keys, out) -> Accumulators:
    """Settle claim `i` into row `i` of `out`; the member's accumulators after it (unchanged if refused)."""
    out["row"][i], out["claim_id"][i], out["member_id"][i], out["step"][i] = i, cols["claim_id"][i], cols["member_id"][i], step
    out["deciding_date"][i] = day
    message = None
    settlement = None
    if isinstance(member, Exception):
        message = str(member)
    elif day is not None and day.year != year:
        message = outside_year(day, year)
    else:
        try:
            settlement = evaluate(_claim_doc(cols, i, member, items_of), pack, acc, trace=False)
        except BenefitsError as exc:
            message = str(exc)
        except ValueError as exc:  # pydantic's ValidationError of the claim
            message = str(exc).replace("\n", "; ")
    if settlement is None:
        out["status"][i], out["engine"][i], out["message"][i], out["version"][i] = "refused", "scalar", message, None
        for c in ("total", "fully_self_paid", "over_limit", "pre_self_paid", "policy_range", "deductible", "co_pay",
                  "above_cap", "fund_total", "patient", "account", "cash"):
            out[c][i] = 0
        out["ratio"][i] = None
        for layer in layers:
            out[PAID + layer][i] = 0
        _after(out, i, keys, acc)
        return acc
    out["status"][i], out["engine"][i], out["message"][i], out["version"][i] = "settled", "scalar", None, settlement.version
    bill = settlement.bill
    out["total"][i], out["fully_self_paid"][i], out["over_limit"][i] = to_fen(bill.total), to_fen(bill.fully_self_paid), to_fen(bill.over_limit)
    out["pre_self_paid"][i], out["policy_range"][i] = to_fen(bill.pre_self_paid), to_fen(bill.policy_range)
    patient = settlement.patient
    out["deductible"][i] = to_fen(settlement.deductible)
    out["ratio"][i] = None if settlement.ratio is None else ratio_of(settlement.ratio)
    out["co_pay"][i], out["above_cap"][i] = to_fen(patient.co_pay), to_fen(patient.above_cap)
    for layer, paid in settlement.payouts.items():
        out[PAID + layer][i] = to_fen(paid)
    out["fund_total"][i], out["patient"][i] = to_fen(settlement.fund_total), to_fen(patient.total)
    out["account"][i], out["cash"][i] = to_fen(patient.account), to_fen(patient.cash)
    after = settlement.accumulators_after
    _after(out, i, keys, after)
    return after


def _after(out: dict, i: int, keys: tuple[str, ...], acc: Accumulators) -> None:
    out["admissions_after"][i] = acc.admissions
    counters = acc.counters
    for key in keys:
        v = counters.get(key)
        out[AFTER + key][i] = to_fen(v) if v is not None else 0


def _table(out: dict, names: tuple[str, ...]) -> pa.Table:
    types = {"row": pa.int64(), "claim_id": pa.string(), "member_id": pa.string(), "step": pa.int32(),
             "deciding_date": pa.date32(), "version": pa.date32(), "status": pa.string(), "engine": pa.string(),
             "message": pa.string()}
    arrays = []
    for c in names:
        t = types.get(c, pa.int64())
        arrays.append(pa.array(out[c], t))
    return pa.Table.from_arrays(arrays, names=list(names))


def closing_accumulators(results: Results, members: pa.Table) -> pa.Table:
    """Each member's accumulators after their last claim (or their opening ones without claims), as a
    members table with `opening.<counter>` columns: the next period's opening accumulators."""
    t = results.table
    keys = results.counter_keys
    n = members.num_rows
    at = {m: j for j, m in enumerate(members.column("member_id").to_pylist())}
    admissions = np.array(members.column("admissions").to_pylist() if "admissions" in members.column_names
                          else [0] * n, dtype=object)
    admissions = np.array([a or 0 for a in admissions], dtype=np.int64)
    values = {}
    for k in keys:
        name = OPENING + k
        values[k] = (np.nan_to_num(members.column(name).to_numpy(zero_copy_only=False)).astype(np.int64)
                     if name in members.column_names else np.zeros(n, dtype=np.int64))
    if t.num_rows:
        mids = t.column("member_id").to_pylist()
        steps = t.column("step").to_numpy(zero_copy_only=False)
        last: dict[str, int] = {}
        for i, m in enumerate(mids):
            j = last.get(m)
            if j is None or steps[i] > steps[j]:
                last[m] = i
        rows = np.fromiter(last.values(), dtype=np.int64, count=len(last))
        where = np.fromiter((at[m] for m in last), dtype=np.int64, count=len(last))
        admissions[where] = t.column("admissions_after").to_numpy(zero_copy_only=False)[rows]
        for k in keys:
            values[k][where] = t.column(AFTER + k).to_numpy(zero_copy_only=False)[rows]
    base = members.select([c for c in members.column_names if not c.startswith(OPENING) and c != "admissions"])
    base = base.append_column("admissions", pa.array(admissions, pa.int64()))
    for k in keys:
        base = base.append_column(OPENING + k, pa.array(values[k], pa.int64()))
    return base
