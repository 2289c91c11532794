"""Claims and accumulators as the engine's dicts (`benefits.evaluate`'s input) -> the simulation's
columns (columns.py): for tests, benchmarks, and turning JSON cases into a year to replay.

    claims, members, items = tables_from_dicts(claim_dicts, {member_id: accumulators_dict})

Money stays decimal text (read exactly by the simulation, as by the engine); a line item's quantity
and share become exact fractions (num / den, den a power of ten).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Iterable, Mapping

import pyarrow as pa

from .columns import BILL_COLUMNS, OPENING, OTHER_DIAGNOSES


def fraction(value) -> tuple[int, int]:
    """A decimal (text, int or Decimal) as num / den with den a power of ten: '1.25' -> (125, 100)."""
    d = Decimal(str(value))
    sign, digits, exp = d.as_tuple()
    num = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
    return (num * 10 ** exp, 1) if exp >= 0 else (num, 10 ** -exp)


def _text(value) -> str | None:
    return None if value is None else str(value)


def tables_from_dicts(claims: Iterable[Mapping], accumulators: Mapping[str, Mapping] | None = None
                      ) -> tuple[pa.Table, pa.Table, pa.Table | None]:
    """(claims, members, items) tables of claim dicts and each member's opening accumulators (a dict
    like `benefits.Accumulators`: admissions, counters in yuan). Items is None when no claim has
    line items. A member must be the same dict in every claim that names it."""
    accumulators = accumulators or {}
    cols: dict[str, list] = {name: [] for name in (
        "claim_id", "member_id", "visit", "level", "region", "filed", "date", "admission_date", "discharge_date",
        "diagnosis", OTHER_DIAGNOSES, "service") + BILL_COLUMNS}
    items: dict[str, list] = {name: [] for name in (
        "claim_id", "category", "unit_price", "quantity_num", "quantity_den", "payment_standard", "share_num",
        "share_den")}
    members: dict[str, Mapping] = {}
    for claim in claims:
        member = claim["member"]
        seen = members.setdefault(member["id"], member)
        if seen != member:
            raise ValueError(f"member {member['id']!r} differs between claims")
        cols["claim_id"].append(claim["id"])
        cols["member_id"].append(member["id"])
        for name in ("visit", "level", "region", "date", "admission_date", "discharge_date", "service"):
            cols[name].append(_text(claim.get(name)))
        cols["filed"].append(claim.get("filed"))
        diagnoses = claim.get("diagnoses") or []
        cols["diagnosis"].append(diagnoses[0] if diagnoses else None)
        cols[OTHER_DIAGNOSES].append(list(diagnoses[1:]) if diagnoses else None)  # [""]: an empty primary
        bill = claim.get("bill") or {}
        for name in BILL_COLUMNS:
            cols[name].append(_text(bill.get(name)))
        for item in claim.get("items") or ():
            items["claim_id"].append(claim["id"])
            items["category"].append(item["category"])
            items["unit_price"].append(_text(item["unit_price"]))
            qn, qd = fraction(item.get("quantity", 1))
            items["quantity_num"].append(qn)
            items["quantity_den"].append(qd)
            items["payment_standard"].append(_text(item.get("payment_standard")))
            share = item.get("self_pay_share")
            sn, sd = (None, None) if share is None else fraction(share)
            items["share_num"].append(sn)
            items["share_den"].append(sd)
    kinds = {"filed": pa.bool_(), OTHER_DIAGNOSES: pa.list_(pa.string())}
    claims_table = pa.table({name: pa.array(values, kinds.get(name, pa.string())) for name, values in cols.items()})
    mcols: dict[str, list] = {"member_id": [], "scheme": [], "member_type": [], "groups": [], "age": [],
                              "admissions": []}
    keys = sorted({key for acc in accumulators.values() for key in (acc.get("counters") or {})})
    for key in keys:
        mcols[OPENING + key] = []
    for mid, member in members.items():
        acc = accumulators.get(mid) or {}
        mcols["member_id"].append(mid)
        mcols["scheme"].append(member.get("scheme"))
        mcols["member_type"].append(member.get("member_type"))
        mcols["groups"].append(list(member.get("groups") or []))
        mcols["age"].append(member.get("age"))
        mcols["admissions"].append(int(acc.get("admissions", 0)))
        counters = acc.get("counters") or {}
        for key in keys:
            mcols[OPENING + key].append(_text(counters.get(key)))
    types = {"groups": pa.list_(pa.string()), "age": pa.int64(), "admissions": pa.int64()}
    members_table = pa.table({name: pa.array(values, types.get(name, pa.string())) for name, values in mcols.items()})
    items_table = None
    if items["claim_id"]:
        types = {"quantity_num": pa.int64(), "quantity_den": pa.int64(), "share_num": pa.int64(), "share_den": pa.int64()}
        items_table = pa.table({name: pa.array(values, types.get(name, pa.string())) for name, values in items.items()})
    return claims_table, members_table, items_table
