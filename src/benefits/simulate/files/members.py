"""The members table (scheme, member type, groups, age, admissions and opening accumulators, one
row a member), checked and converted into the shape the engines read (`MEMBER_SCHEMA` and one
int64 fen column `opening.<counter>` per opening counter)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ...models.claim import MAX_AGE, MEMBER_TYPE_NAMES, Group, MemberType, Scheme
from ..columns import OPENING
from .claims import ClaimTable
from .names import refuse_misnamed
from .problems import Problems, repeats
from .raw import Raw, read_raw
from .reader import Reader

MEMBER_COLUMNS = {
    "member_id": "text, required, unique",
    "scheme": "employee | resident",
    "member_type": "in_service | retired (employees); adult | child | student (residents); optional unless the pack reads it",
    "groups": "dibao | tekun | guer | tuopin | dishouru: a list, or text separated by ';' or ',' (empty: none)",
    "age": "whole number 0..150, optional",
    "district": "text, optional: a label to total by (e.g. 蓬江); not read by the rules",
    "admissions": "whole number: admissions earlier in the year (default 0)",
    "opening.<counter>": "money: an opening counter of the pack, e.g. opening.serious_illness.base, "
                         "opening.personal_account.balance (the account balance), opening.outpatient.month@2021-06",
}

MEMBER_SCHEMA = pa.schema([
    ("member_id", pa.string()), ("scheme", pa.string()), ("member_type", pa.string()),
    ("groups", pa.list_(pa.string())), ("age", pa.int64()), ("admissions", pa.int64()),
])
ENGINE_MEMBER_COLUMNS = tuple(MEMBER_SCHEMA.names)

MEMBER_TYPE_WORDS = [t.value for t in MemberType]  # every scheme's


@dataclass
class MemberTable:
    """Checked members: `table` (MEMBER_SCHEMA, one int64 fen column `opening.<counter>` per opening
    counter, and `district`), and where each member is in its file (`rows`)."""

    name: str
    unit: str
    table: pa.Table
    rows: np.ndarray
    ignored: list[str] = field(default_factory=list)

    def where(self, index: int) -> str:
        return f"{self.name} {self.unit} {int(self.rows[index])}"

    @property
    def counters(self) -> list[str]:
        return [c[len(OPENING):] for c in self.table.column_names if c.startswith(OPENING)]

    def rows_opening(self, column: str) -> list[int]:
        """The file rows (or lines) of the members whose `column` opens an amount, ascending."""
        return [int(r) for r in self.rows[opens(self.table.column(column))]]

    def engine_table(self) -> pa.Table:
        """The columns the engines read (`benefits.simulate.columns`): without `district`."""
        return self.table.select([c for c in self.table.column_names if c != "district"])

    def __len__(self) -> int:
        return self.table.num_rows


def opens(column) -> np.ndarray:
    """Where an opening counter's column opens an amount: not 0, and not empty (an empty cell opens nothing)."""
    return pc.not_equal(column, 0).fill_null(False).to_numpy(zero_copy_only=False)


_COUNTER_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*(@[0-9]{4}-[0-9]{2})?$")


def members_from_raw(raw: Raw, problems: Problems | None = None, *, unique: bool = True) -> MemberTable:
    """Check and convert a raw members file; `unique` as for `claims_from_raw`."""
    own = problems is None
    problems = problems or Problems(raw.name, raw.unit)
    r = Reader(raw, problems)
    cols: dict[str, pa.Array] = {}
    cols["member_id"] = r.text("member_id", required=True)
    cols["scheme"] = r.word("scheme", [s.value for s in Scheme], required=True)
    cols["member_type"] = r.word("member_type", MEMBER_TYPE_WORDS, required=False)
    cols["groups"] = r.words("groups", [g.value for g in Group], "groups")
    cols["age"] = r.integer("age", 0, MAX_AGE)
    cols["admissions"] = r.integer("admissions", 0, 1000).fill_null(0)
    fields = list(MEMBER_SCHEMA)
    for c in raw.columns:
        base = c[:-4] if c.endswith("_fen") else c
        if base.startswith(OPENING) and base not in cols:
            name = base[len(OPENING):]
            if not _COUNTER_RE.fullmatch(name):
                problems.add(None, c, "expected opening.<counter>, e.g. opening.serious_illness.base or "
                                      "opening.outpatient.month@2021-06")
                continue
            cols[base] = r.money(base)[0].fill_null(0)
            fields.append(pa.field(base, pa.int64()))
    cols["district"] = r.text("district", required=False)
    fields.append(pa.field("district", pa.string()))
    table = pa.table(cols, schema=pa.schema(fields))
    if unique:
        ids = table.column("member_id").to_pylist()
        for i, first in repeats(ids):
            r._bad(i, "member_id", f"member id {ids[i]!r} appears more than once (first at {raw.unit} {r.row(first)})")
    _check_member_types(r, table)
    wrong = refuse_misnamed(problems, raw.columns, [c for c in MEMBER_COLUMNS if not c.startswith(OPENING)], [],
                            openings=True)
    ignored = [c for c in raw.columns if c not in MEMBER_COLUMNS and not c.startswith(OPENING) and c not in wrong]
    if own:
        problems.raise_if_any()
    return MemberTable(raw.name, raw.unit, table, raw.rows, ignored=ignored)


def _check_member_types(r: Reader, table: pa.Table) -> None:
    schemes = table.column("scheme").to_pylist()
    types = table.column("member_type").to_pylist()
    for i, (s, t) in enumerate(zip(schemes, types)):
        if s in MEMBER_TYPE_NAMES and t in MEMBER_TYPE_WORDS and t not in MEMBER_TYPE_NAMES[s]:  # else said already
            r._bad(i, "member_type", f"{t!r} is not a {s} member type; expected one of: "
                                      f"{', '.join(sorted(MEMBER_TYPE_NAMES[s]))}")


def read_members(path: str | Path) -> MemberTable:
    return members_from_raw(read_raw(path))


def check_members_of_claims(claims: ClaimTable, members: MemberTable) -> None:
    """Every claim's member is in the members table."""
    known = set(members.table.column("member_id").to_pylist())
    problems = Problems(claims.name, claims.unit)
    for i, m in enumerate(claims.table.column("member_id").to_pylist()):
        if m is not None and m not in known:
            problems.add(int(claims.rows[i]), "member_id", f"no member {m!r} in {members.name}")
    problems.raise_if_any()
