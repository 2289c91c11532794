"""The vectorised evaluator compiled from a pack: each layer's vectorised kind, and what the rules
decide for each combination of the fields they read (编译后的规则包).

A combination is what the rules can tell claims apart by: visit, level, region, filed, disease,
service, scheme, member type, groups (and age and date when a condition reads them), and the
parameter version in force on the deciding date. For each, once: a representative claim is
validated as the engine validates one, its fact built by the engine's `build_fact`, the pack's own
matcher says which rules fire, and each layer's vectorised kind resolves its rows and parameters
(`Combo`). Claims of a combination the engine would refuse, or that a layer cannot settle
vectorised, are marked for the scalar engine (`Combo.scalar`, the reason).
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from dataclasses import dataclass

from pydantic import ValidationError

from ..calculator import evaluate
from ..calculator.shape import check_claim
from ..conditions import fields_of
from ..errors import ClaimError
from ..facts import build_fact
from ..models.claim import STAYS, Claim
from ..rules.pack import RulePack
from .errors import NotVectorisable
from .kinds import Context, Scalar, VectorKind, vectorised

STAY_VISITS = frozenset(v.value for v in STAYS)


@dataclass(frozen=True)
class Desc:
    """A combination, as the rules see it (see the module's docstring)."""

    visit: str | None
    level: str | None
    region: str | None
    filed: bool | None
    disease: str
    service: str | None
    scheme: str | None
    member_type: str | None
    groups: tuple[str, ...]
    age: int | None  # None unless a condition reads age
    date: dt.date | None  # None unless a condition reads the date
    version: dt.date  # the version in force (parameter values change only at a version's start)


@dataclass(frozen=True)
class Combo:
    """What the rules decide for one combination."""

    scalar: str | None  # why its claims go to the scalar engine; None: settled (or refused) vectorised
    rows: tuple = ()  # per layer: what its vectorised kind resolved, None where it does not apply
    limits: tuple[tuple[str, int], ...] = ()  # (counter, the most it may hold, fen): domain.md 6.11
    refusal: str | None = None  # the pack refuses its claims: the engine's message (its counters in bounds)


class CompiledPack:
    """A pack's layers as vectorised kinds, and the combinations resolved so far (kept with the pack)."""

    MAX_COMBOS = 100_000  # then the cache starts over (a bound on memory, as the engine's memos)

    def __init__(self, pack: RulePack):
        self._pack = weakref.ref(pack)  # kept with the pack (see `compiled`), never keeping it alive
        self.kinds: list[type[VectorKind] | None] = []
        self.reasons: list[str | None] = []
        self._resolvers: list[VectorKind | None] = []
        for layer in pack.layers:
            try:
                resolver = vectorised(layer, None)
            except NotVectorisable as exc:
                self.kinds.append(None)
                self.reasons.append(exc.reason)
                self._resolvers.append(None)
            else:
                self.kinds.append(type(resolver))
                self.reasons.append(None)
                self._resolvers.append(resolver)
        read = set().union(*(fields_of(node) for node in pack.rules.values())) if pack.rules else set()
        self.reads_age = "age" in read
        self.reads_date = "date" in read
        self.cap_ids = tuple(sorted({cap.id for layer in pack.layers if layer.kind == "basic_fund" for cap in layer.caps}))
        self._combos: dict[Desc, Combo] = {}
        self._lock = threading.Lock()

    @property
    def pack(self) -> RulePack:
        return self._pack()

    def combo(self, desc: Desc, diagnosis: str | None, day: dt.date) -> Combo:
        """The combination's decisions; `diagnosis` (a code of its disease) and `day` (a deciding
        date in its version) are those of one of its claims."""
        found = self._combos.get(desc)
        if found is None:
            found = self._resolve(desc, diagnosis, day)
            with self._lock:
                if len(self._combos) >= self.MAX_COMBOS:
                    self._combos.clear()
                self._combos[desc] = found
        return found

    def _resolve(self, desc: Desc, diagnosis: str | None, day: dt.date) -> Combo:
        pack = self.pack
        claim = _representative(desc, diagnosis, day)
        try:
            claim = Claim.model_validate(claim)
        except ValidationError as exc:
            return Combo(scalar=f"invalid claim ({exc.errors()[0]['msg']})")
        meta = pack.meta
        try:
            check_claim(claim, pack)
        except ClaimError:
            return Combo(scalar="a claim the pack does not cover (visit, level, service or a required member field)")
        fact = build_fact(claim, day, pack.disease_of(claim.diagnoses))
        fired = pack.matcher.fired(fact)
        limits = tuple((name, bound.limit) for name, bound in pack.counter_limits(fact).items())
        if any(f"refusals[{i}]" in fired for i in range(len(meta.refusals))):
            # the same message for every claim of the combination: the engine's own, asked once
            try:
                evaluate(_representative(desc, diagnosis, day), pack, trace=False)
            except ClaimError as exc:
                return Combo(None, limits=limits, refusal=str(exc))
            return Combo(scalar="a pack refusal the engine does not raise")  # pragma: no cover
        ctx = Context(pack, day, fact, fired, pack.values_on(day))
        rows = []
        for layer, resolver, reason in zip(pack.layers, self._resolvers, self.reasons):
            if layer.when_rule not in fired:
                rows.append(None)
            elif resolver is None:
                return Combo(scalar=reason)
            else:
                try:
                    rows.append(resolver.resolve(ctx))
                except Scalar as exc:
                    return Combo(scalar=exc.reason)
        return Combo(None, tuple(rows), limits)


def _representative(desc: Desc, diagnosis: str | None, day: dt.date) -> dict:
    """A claim of the combination, as a dict for `Claim.model_validate` (a zero bill: the rules
    never read money)."""
    member = {"id": "m", "scheme": desc.scheme, "groups": list(desc.groups)}
    if desc.member_type is not None:
        member["member_type"] = desc.member_type
    if desc.age is not None:
        member["age"] = desc.age
    claim = {"id": "c", "member": member, "visit": desc.visit, "level": desc.level, "region": desc.region,
             "diagnoses": [diagnosis] if diagnosis else [],
             "bill": {"total": "0", "fully_self_paid": "0", "over_limit": "0", "pre_self_paid": "0",
                      "policy_range": "0"}}
    if desc.filed is not None:
        claim["filed"] = desc.filed
    if desc.service is not None:
        claim["service"] = desc.service
    if desc.visit in STAY_VISITS:
        claim["admission_date"] = claim["discharge_date"] = day
    else:
        claim["date"] = day
    return {k: v for k, v in claim.items() if v is not None}


_COMPILED: dict[int, tuple[weakref.ref, CompiledPack]] = {}
_COMPILED_LOCK = threading.Lock()


def compiled(pack: RulePack) -> CompiledPack:
    """The pack's compiled evaluator, made once per loaded pack and dropped with it."""
    key = id(pack)
    with _COMPILED_LOCK:
        entry = _COMPILED.get(key)
        if entry is not None and entry[0]() is pack:
            return entry[1]
        made = CompiledPack(pack)
        _COMPILED[key] = (weakref.ref(pack, lambda _ref, key=key: _COMPILED.pop(key, None)), made)
        return made
