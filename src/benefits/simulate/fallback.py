"""Claims settled by the scalar engine (`benefits.evaluate`) inside a vectorised run: a row of the
columns back into the engine's claim and accumulators dicts, and its settlement back into fen.

The accumulators given are the member's counters at this step, so a claim settled here sees, and
leaves, exactly what a run of `evaluate` claim after claim would.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from ..calculator import evaluate
from ..errors import BenefitsError
from ..money import from_fen, ratio_of, to_fen
from .arrays import NO_DAY, Claims, Items, Members, decimal_text
from .columns import BILL_COLUMNS, outside_year
from .kinds import Layout

EPOCH = dt.date(1970, 1, 1)


def day_text(days: int) -> str | None:
    return None if days == NO_DAY else (EPOCH + dt.timedelta(days=int(days))).isoformat()


def _money(m, row: int, fen: int | None = None):
    """A money value as given (text stays text, for the engine's own message), or from fen."""
    if fen is not None:
        return from_fen(fen)
    if m.raw is None or m.null[row]:
        return None
    value = m.raw[row].as_py()
    return from_fen(value) if isinstance(value, int) else value


@dataclass
class Outcome:
    """A scalar settlement in fen, or the message of the ClaimError refusing it."""

    refused: str | None
    bill: tuple[int, ...] = ()
    paid: tuple[int, ...] = ()
    deductible: int = 0
    ratio: int | None = None
    co_pay: int = 0
    above_cap: int = 0
    fund_total: int = 0
    patient: int = 0
    account: int = 0
    cash: int = 0
    version: dt.date | None = None
    admissions: int = 0
    counters: dict | None = None


class Fallback:
    """Settles single rows of the claims table with `benefits.evaluate`."""

    def __init__(self, pack, claims: Claims, members: Members, items: Items | None, layout: Layout, year: int,
                 day: np.ndarray):
        self.pack, self.claims, self.members, self.items, self.layout, self.year = pack, claims, members, items, layout, year
        self.day = day  # each claim's deciding date, days since EPOCH
        self._item_rows: dict[int, np.ndarray] | None = None

    def claim(self, row: int) -> dict:
        cl, mem = self.claims, self.members
        m = int(cl.member[row])
        member = {"id": mem.member_id[m].as_py(), "scheme": mem.scheme[1][mem.scheme[0][m]],
                  "groups": list(mem.groups_raw[m])}
        member_type = mem.member_type[1][mem.member_type[0][m]]
        if member_type is not None:
            member["member_type"] = member_type
        if mem.age_raw is not None and mem.age_raw[m].is_valid:
            member["age"] = mem.age_raw[m].as_py()
        claim = {"id": cl.claim_id[row].as_py(), "member": {k: v for k, v in member.items() if v is not None},
                 "visit": cl.visit[1][cl.visit[0][row]], "level": cl.level[1][cl.level[0][row]],
                 "region": cl.region[1][cl.region[0][row]]}
        if cl.filed[row] >= 0:
            claim["filed"] = bool(cl.filed[row])
        for key, days in (("date", cl.date), ("admission_date", cl.admission), ("discharge_date", cl.discharge)):
            if days[row] != NO_DAY:
                claim[key] = day_text(days[row])
        claim["diagnoses"] = cl.diagnoses(row)
        service = cl.service[1][cl.service[0][row]]
        if service is not None:
            claim["service"] = service
        if cl.has_bill[row]:
            bill = {name: _money(cl.bill[name], row) for name in BILL_COLUMNS}
            if bill["policy_range"] is None and not any(cl.bill[n].bad[row] or cl.bill[n].null[row] for n in BILL_COLUMNS[:4]):
                bill["policy_range"] = from_fen(int(cl.bill["policy_range"].fen[row]))
            claim["bill"] = {k: v for k, v in bill.items() if v is not None}
        items = self._items(row)
        if items is not None:
            claim["items"] = items
        return {k: v for k, v in claim.items() if v is not None}

    def _items(self, row: int) -> list[dict] | None:
        it = self.items
        if it is None:
            return None
        if self._item_rows is None:
            order = np.argsort(it.claim, kind="stable")
            keys = it.claim[order]
            starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else []
            ends = list(starts[1:]) + [len(keys)]
            self._item_rows = {int(keys[s]): order[s:e] for s, e in zip(starts, ends)}
        rows = self._item_rows.get(row)
        if rows is None:
            return None
        out = []
        for k, i in enumerate(rows):
            i = int(i)
            # numbered within the claim: an id is unique only there, and the claim's own id and a
            # suffix could pass the longest id a line item may have
            item = {"id": str(k + 1), "category": it.category_raw[i].as_py(),
                    "unit_price": _money(it.price, i), "quantity": decimal_text(int(it.qn[i]), int(it.qd[i]))}
            standard = _money(it.standard, i)
            if standard is not None:
                item["payment_standard"] = standard
            if it.sn[i] >= 0:
                item["self_pay_share"] = decimal_text(int(it.sn[i]), int(it.sd[i]))
            out.append(item)
        return out

    def accumulators(self, member: int, admissions: int, counters: np.ndarray) -> dict:
        return {"member_id": self.members.member_id[member].as_py(), "year": self.year, "admissions": int(admissions),
                "counters": {key: from_fen(int(v)) for key, v in zip(self.layout.keys, counters) if v}}

    def settle(self, row: int, admissions: int, counters: np.ndarray) -> Outcome:
        if self.day[row] != NO_DAY:  # as the scalar engine says it, not as accumulators of another year
            day = EPOCH + dt.timedelta(days=int(self.day[row]))
            if day.year != self.year:
                return Outcome(refused=outside_year(day, self.year))
        member = int(self.claims.member[row])
        try:
            claim = self.claim(row)
            s = evaluate(claim, self.pack, self.accumulators(member, admissions, counters), trace=False)
        except BenefitsError as exc:
            return Outcome(refused=str(exc))
        b, p = s.bill, s.patient
        return Outcome(
            None, tuple(to_fen(getattr(b, name)) for name in BILL_COLUMNS), tuple(to_fen(x.paid) for x in s.layers),
            to_fen(s.deductible), None if s.ratio is None else ratio_of(s.ratio), to_fen(p.co_pay), to_fen(p.above_cap),
            to_fen(s.fund_total), to_fen(p.total), to_fen(p.account), to_fen(p.cash), s.version,
            s.accumulators_after.admissions, {k: to_fen(v) for k, v in s.accumulators_after.counters.items()})
