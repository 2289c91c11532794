"""The ledger's requests (pre-settle, settle, reverse, open a year, credit) as transactions on a store.

Each request that writes is one transaction that first serialises its member-year, then reads and
appends: the accumulators a settlement starts from are exactly the sum of the entries committed
before it, and a failure anywhere (a claim the engine refuses, a lost connection) leaves nothing.
Every writing request is idempotent on the caller's key: the same request again is answered with
the stored body, byte for byte; a different request under a used key is refused.

Balances that did not come from a settlement in this ledger come in two ways:

- an opening (`open_year`) brings a member-year's accumulators in (a member whose earlier claims of
  the year were settled elsewhere, a personal-account balance carried into the year). It is the
  member-year's first request that stands: refused (HistoryConflict) while a settlement, credit or
  opening of the year stands (is not reversed), so that no balance is ever overwritten or counted
  twice; it appends one entry per non-zero counter, and one for the admissions.
- a credit (`credit`) adds an amount to a balance counter (个人账户划入), at any time. The ledger
  does not know which counters a pack pays from, so without a pack only counters named `*.balance`
  are credited (both packs name the personal account's `personal_account.balance`); given a pack,
  exactly the balance counters of its personal-account layers. A counter of what was used this year
  is not credited: that is an opening.

`reverse` undoes an opening or a credit as it undoes a settlement, but only while no settlement that
stands was made after it (HistoryConflict): such a settlement read balances that held its entries,
and taking them away under it could leave a balance below zero. A wrong opening is corrected by
reversing it, and the settlements on it first, then opening again.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import ValidationError

from ..calculator import evaluate
from ..errors import ClaimError, ClaimProblem, error_message, error_path, first_of, shown
from ..models.accumulators import MAX_NAME, MAX_YEAR, MIN_YEAR, Accumulators
from ..models.checked import validated
from ..models.claim import Claim, member_id_problem
from ..models.platform_out import feedetail, setldetail, setlinfo
from ..models.settlement import Settlement
from ..money import MAX_AMOUNT, fmt_fen, from_fen, parse_money, to_fen
from ..rules.pack import RulePack
from ..surrogates import lone_surrogate, problem
from . import balances
from .bodies import (
    CreditBody, SettleBody, credit_digest, opening_body, opening_digest, reverse_body, reverse_digest,
    reverse_entries_body, settle_digest, settle_digests,
)
from .errors import AlreadyReversed, HistoryConflict, KeyConflict, LedgerError, NotFound, StoreUnavailable
from .records import ADMISSIONS, Credited, Entry, Head, MemberYear, Opened, Record, Reversed, Settled
from .store import Retry, Store, Transaction

T = TypeVar("T")

MAX_KEY = 128
"""The longest key accepted: the platform's msgid is 30 characters, a settlement id fewer."""

ATTEMPTS = 3
"""Runs of one request that lost a race (see store.Retry) before the store is called unavailable."""

BALANCE_SUFFIX = ".balance"
"""Without a pack, a credit goes only to a counter whose name ends so (a balance, not a use)."""

_NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)*")  # a counter's name, as Accumulators spells it
_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")

_WHAT = {"settle": "settlement", "reverse": "reversal", "opening": "opening", "credit": "credit"}
_A = {"settle": "a settlement", "reverse": "a reversal", "opening": "an opening", "credit": "a credit"}


def open_ledger(url: str) -> "Ledger":
    """The ledger at `url`: a file path or `sqlite:///path` (embedded, SQLite), or `postgresql://...`
    (also `postgres://`). Creates or migrates its tables; StoreUnavailable when it cannot."""
    if not isinstance(url, str):
        raise TypeError(f"open_ledger takes a path or URL, not {type(url).__name__}")
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        return Ledger(PostgresStore(url))
    from .sqlite import SqliteStore

    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if "?" in path:  # SQLite would open a file named so: x.db?mode=memory on disk, not in memory
            raise StoreUnavailable((), f"{url}: sqlite:/// takes a file path and no ?options; give the file's path")
        return Ledger(SqliteStore(path))
    if "://" in url:
        raise StoreUnavailable((), f"{url.partition('://')[0]}:// is not a ledger store; "
                                   "expected a file path, sqlite:///path or postgresql://...")
    return Ledger(SqliteStore(url))


def key_problem(value: object) -> str | None:
    """What keeps `value` from being a request's key, or None: the ledger's grammar, which every key it
    holds was written in (a service's own new keys are a narrower one, that URLs and headers carry as
    they are)."""
    if (not isinstance(value, str) or not value or len(value) > MAX_KEY or not value.isprintable()
            or value != value.strip()):
        return (f"expected a key of 1 to {MAX_KEY} printable characters without surrounding spaces (the "
                "platform's msgid or settlement id)")
    return None


def _key(value: object, name: str) -> str:
    problem = key_problem(value)
    if problem:
        raise LedgerError((name,), problem)
    return value


def _check_member_year(member_id: object, year: object) -> None:
    if not isinstance(member_id, str) or not member_id:
        raise LedgerError(("member_id",), "expected a member id (text)")
    problem = member_id_problem(member_id)
    if problem:
        raise LedgerError(("member_id",), problem)
    if not isinstance(year, int) or isinstance(year, bool) or not MIN_YEAR <= year <= MAX_YEAR:
        raise LedgerError(("year",), f"expected a year from {MIN_YEAR} to {MAX_YEAR}, got {year!r}")


def _claim(claim: Claim | dict) -> Claim:
    claim = validated(Claim, claim, "claim")
    _storable(claim)
    return claim


def _check_reversed_balances(tx: Transaction, original: Record, compensating: list[balances.Delta]) -> None:
    """Every counter of the member-year stays an amount the ledger accepts once `original`'s entries are
    negated. A balance the settlement drew on and a later credit refilled would pass the largest
    amount: written, the member-year would no longer read as accumulators (503 on every request)."""
    member, year = original.member_id, original.year
    after: dict[tuple[str, str], int] = {(c, m): total for c, m, total in tx.sums(member, year)}
    for counter, month, delta in compensating:
        after[(counter, month)] = after.get((counter, month), 0) + delta
    what = f"reversing {_WHAT[original.kind]} {original.key!r}"
    below = sorted(f"{c}@{m}" if m else c for (c, m), total in after.items() if total < 0)
    if below:  # cannot happen while no settlement stands after it; a store changed by hand could
        raise HistoryConflict(("of",), f"{what} would leave {', '.join(below)} below zero")
    most = to_fen(MAX_AMOUNT)
    above = sorted((f"{c}@{m}" if m else c, total) for (c, m), total in after.items() if total > most)
    if above:
        name, total = above[0]
        raise HistoryConflict(("of",), f"{what} would put {name} at {fmt_fen(total)}, above the largest amount "
                                       f"accepted ({MAX_AMOUNT}); reverse a later credit first")


def _storable(claim: Claim) -> None:
    """A claim the ledger can store: no NUL and no lone surrogate in its items' ids and names. PostgreSQL
    refuses a NUL in text and JSON, and SQLite's JSON functions end the text at one; no JSON holds a lone
    surrogate (a Python caller's "\\ud800"; the readers refuse one in text). The engine settles a claim with
    such a name; an id holds neither once validated (models.claim), but a caller may change a validated
    claim's rows in place. The ledger cannot keep them, so it says which field before anything is written."""
    texts = []
    if claim.items is not None:
        for i, row in enumerate(claim.items.rows):  # models.items.Row: id, name first
            texts += [(("claim", "items", i, "id"), row[0]), (("claim", "items", i, "name"), row[1] or "")]
    for path, text in texts:
        if "\0" in text:
            raise ClaimError.at(path, "holds a NUL character (U+0000), which a ledger cannot store")
        at = lone_surrogate(text)
        if at is not None:
            raise ClaimError.at(path, f"is not text: {problem(text, at)}")


def _pack(rules: RulePack) -> RulePack:
    if not isinstance(rules, RulePack):
        raise TypeError(f"rules must be a pack from benefits.load_rules(folder), not {type(rules).__name__}")
    if ADMISSIONS in rules.counters:  # entries count admissions under this name
        raise ClaimError(f"pack {rules.name!r} names a counter {ADMISSIONS!r}, which the ledger keeps for admissions; "
                         "rename the pack's counter")
    return rules


def _invalid(exc: ValidationError, root: str) -> LedgerError:
    """A LedgerError with every problem pydantic found, each under `root`."""
    problems = [ClaimProblem((root,) + error_path(err), error_message(err)) for err in exc.errors()]
    error = LedgerError(problems[0].path, problems[0].message)
    error.problems = problems
    return error


def _pack_for(rules: RulePack | None, year: int) -> RulePack | None:
    """The pack an opening or a credit is checked against, if any: one that settles claims of `year`
    (the member-year is tied to it; one that covers no day of it would refuse every claim there)."""
    if rules is None:
        return None
    pack = _pack(rules)
    problem = pack.year_problem(year)
    if problem:
        raise LedgerError(("year",), problem)
    return pack


def _opening(member_id: str, year: int, value: object, pack: RulePack | None) -> Accumulators:
    """The accumulators an opening brings in, checked and normalised: the member and year filled in,
    zero counters left out, counters in order. Every problem is a LedgerError under "accumulators"."""
    if isinstance(value, Accumulators):
        acc = value
    else:
        try:
            acc = Accumulators.model_validate(value)
        except ValidationError as exc:
            raise _invalid(exc, "accumulators") from None
    if acc.year != year:
        raise LedgerError(("accumulators", "year"), f"{acc.year}, but the opening is for {year}")
    if acc.member_id is not None and acc.member_id != member_id:
        raise LedgerError(("accumulators", "member_id"),
                          f"{acc.member_id!r}, but the opening is for member {member_id!r}")
    for name in acc.counters:
        at = ("accumulators", "counters", name)
        base, _, month = name.partition("@")
        if base == ADMISSIONS:
            raise LedgerError(at, f"the ledger keeps {ADMISSIONS!r} for the admissions count: give it as "
                                  f"`admissions`, not as a counter")
        found = _MONTH.fullmatch(month) if month else None
        if month and (found is None or int(found.group(1)) != year):
            raise LedgerError(at, f"expected a month of {year}, as {base}@{year}-MM")
        problem = pack.counter_problem(name, year) if pack is not None else None
        if problem:
            raise LedgerError(at, problem)
        most = pack.widest_bound(base) if pack is not None else None
        if most is not None and to_fen(acc.counters[name]) > most.limit:  # domain.md 6.11, as the engine reads it
            allowed = (f"the most {most.what} {most.parameter!r} has ever allowed any member ({fmt_fen(most.limit)})"
                       if most.parameter else f"what pack {pack.name!r} allows: it has no {most.what}")
            raise LedgerError(at, f"{fmt_fen(to_fen(acc.counters[name]))} is above {allowed}: every claim of the "
                                  "member-year would be refused; check the accumulators")
    return Accumulators(member_id=member_id, year=year, admissions=acc.admissions,
                        counters={k: v for k, v in sorted(acc.counters.items()) if v})


def _balance_counter(counter: object, pack: RulePack | None) -> str:
    """The counter a credit adds to: a yearly counter, named `*.balance` or (given a pack) one of the
    pack's personal-account balance counters."""
    if not isinstance(counter, str) or len(counter) > MAX_NAME or not _NAME.fullmatch(counter.partition("@")[0]):
        raise LedgerError(("counter",), f"expected a counter's name of at most {MAX_NAME} characters, such as "
                                        f"personal_account.balance, got {shown(counter)}")
    if "@" in counter:
        raise LedgerError(("counter",), f"{counter!r}: a balance is a yearly counter, written without @")
    if pack is not None:
        kept = [c for c in (getattr(layer, "balance_counter", None) for layer in pack.layers) if isinstance(c, str)]
        if counter not in kept:
            raise LedgerError(("counter",), f"{counter!r} is not a balance of pack {pack.name!r}; its personal-account "
                                            f"balance counters: {', '.join(kept) or '(none)'}")
    elif not counter.endswith(BALANCE_SUFFIX):
        raise LedgerError(("counter",), f"{counter!r} is not a balance: a credit adds to a counter named "
                                        f"*{BALANCE_SUFFIX} (personal_account.balance); what was used this year "
                                        "comes in with an opening")
    return counter


def _credit_amount(amount: object) -> int:
    """A credit's amount in fen: a positive amount in yuan (Decimal, int or text), never a float."""
    try:
        value = parse_money(amount)
    except ValueError as exc:
        raise LedgerError(("amount",), str(exc)) from None
    if not value:
        raise LedgerError(("amount",), "a credit adds a positive amount; to take a credit back, reverse it")
    return to_fen(value)


def _listed(records: list[Head], most: int = 5) -> str:
    return first_of([f"{_WHAT[r.kind]} {r.key!r}" for r in records], most)


def _settled_once(tx: Transaction, claim: Claim, member: str, year: int) -> None:
    """A claim is paid once: refused while a settlement of it stands, in this year or another (a stay resent
    with its discharge moved past New Year falls in the next member-year), for this member or another (a
    claim resent with its member id corrected was paid to both). A retry of that settlement comes under its
    own key, and is answered from the store before this is asked."""
    found = tx.standing_settlement(claim.id)
    if found is not None:
        key, whose, settled_in = found
        if whose != member:
            raise HistoryConflict(("claim", "id"), f"claim {claim.id!r} is already settled for member {whose!r} "
                                                   f"({settled_in}), under key {key!r}, not for {member!r}: a claim "
                                                   f"is settled once, whoever's it is. If its member id was wrong, "
                                                   f"reverse {key!r} first, then settle it under the right one")
        settled = (f"({year}) is already settled" if settled_in == year
                   else f"is already settled in {settled_in} (this time it falls in {year})")
        raise HistoryConflict(("claim", "id"), f"claim {claim.id!r} of member {member!r} {settled}, "
                                               f"under key {key!r}: a claim is settled once. To settle it again, "
                                               f"reverse {key!r} first; a retry of that settlement is sent under "
                                               f"{key!r}")
    _in_its_place(tx, claim, member, year)
    _on_reversed_amounts(tx, member, year)


def _in_its_place(tx: Transaction, claim: Claim, member: str, year: int) -> None:
    """A claim reversed while later settlements of its member-year stood (the reversal's `later`) is settled
    again in that year only once they are reversed too. They were paid on counters that held its amounts
    (a repeat admission's deductible, the serious-illness bands above it); settled again now, on theirs, it
    would be paid on the same stretch of the bands once more: two stays of 100,000.00 were paid 6,130.00
    above the two settled in order. Settled again after them, each is paid in its place. (Another year's
    counters are its own: a stay resent with its discharge moved past New Year is settled on them.) The
    refusal of any claim in such a year (`_on_reversed_amounts`) covers this one too; this names it."""
    for reversal in tx.reversals_of_claim(member, claim.id):
        head = tx.head(reversal)
        if head is None or head.year != year:
            continue
        standing = _standing_on(tx, reversal)
        if standing:
            raise HistoryConflict(("claim", "id"), f"claim {claim.id!r} of member {member!r} was reversed under key "
                                                   f"{reversal!r} while later settlements of its year stood; "
                                                   f"{_still_stand(standing)}, paid on its amounts (or on those of a "
                                                   "settlement reversed since that was paid on them); settled again "
                                                   "now it would be paid on their bands once more. Reverse "
                                                   f"{_from_first(tx, standing)} first, settle the claim again, then "
                                                   "settle the later claims again, in order")


def _on_reversed_amounts(tx: Transaction, member: str, year: int) -> None:
    """No claim is settled in a member-year while settlements paid on amounts reversed since stand in it
    (a reversal's `later`): their counters hold what they were paid on top of amounts the year no longer
    has, and a claim settled on them is paid on the same stretch of the bands again. The same stay resent
    under a new claim id, after the first stay was reversed under the second, was paid 6,130.00 above the
    two settled in order. Once they are reversed, every claim settles in its place."""
    for head in tx.heads(member, year):
        if head.kind != "reverse":
            continue
        standing = _standing_on(tx, head.key)
        if standing:
            raise HistoryConflict(("claim",), f"member {member!r}, {year}: {_still_stand(standing)}, settled on "
                                              f"the amounts of {head.reverses!r}, which was reversed under key "
                                              f"{head.key!r}; a claim settled now would be paid on their counters, "
                                              "on the stretch of the bands they were paid on, once more. Reverse "
                                              f"{_from_first(tx, standing)} first, then settle the claims again, "
                                              "in order")


def _still_stand(keys: list[str]) -> str:
    return f"{first_of(list(map(repr, keys)))} still {'stands' if len(keys) == 1 else 'stand'}"


def _from_first(tx: Transaction, standing: list[str]) -> str:
    """The settlements to reverse so that none stands on reversed amounts: from the first of `standing`
    on, every settlement of its member-year that stands (each later one was paid on it), named at once
    rather than found one refusal at a time."""
    first = min((tx.head(key) for key in standing), key=lambda r: r.seq)
    return first_of([repr(r.key) for r in tx.heads(first.member_id, first.year)
                     if r.kind == "settle" and r.stands and r.seq >= first.seq])


def _standing_on(tx: Transaction, reversal: str) -> list[str]:
    """The settlements standing on the amounts a reversal took back: its `later` ones that stand, and,
    for each reversed since, those its own reversal listed, and so on. A settlement made after the first
    reversal on one paid on the claim's amounts (stay 3 on stay 2's bands, stay 2 on stay 1's) stands
    on them too: stay 1 settled again on stay 3's counters was paid on stay 3's bands once more."""
    standing, seen, reversals = [], set(), deque([reversal])
    while reversals:
        record = tx.record(reversals.popleft())
        for key in json.loads(record.body).get("later", []) if record is not None else []:
            found = tx.head(key) if key not in seen else None
            seen.add(key)
            if found is not None and found.reversed_by is None:
                standing.append(key)
            elif found is not None:
                reversals.append(found.reversed_by)
    return standing


def _one_pack(tx: Transaction, member: str, year: int, pack: str) -> None:
    """A member-year counts one pack's claims: each city's fund pools its own, and its caps and deductibles
    read only its own accumulators, which the ledger keeps per member and year, not per pack."""
    found = tx.other_pack(member, year, pack)
    if found is not None:
        key, kind, other = found
        raise HistoryConflict(("pack",), f"member {member!r}'s {year} is kept under pack {other!r} ({_WHAT[kind]} "
                                         f"{key!r} stands), not {pack!r}: the funds of two packs pool separately, and "
                                         f"{pack!r} cannot count {other!r}'s accumulators. Use {other!r}, keep "
                                         f"{pack!r}'s claims in a ledger of its own, or reverse the year's "
                                         f"{other!r} requests first")


def _on_balances(tx: Transaction, claim: Claim, rules: RulePack, before: Accumulators) -> Settlement:
    """The claim settled on the member-year's balances. A counter the pack does not keep (brought in by an
    opening checked against no pack, or under another pack's names) is the ledger's problem, not the
    request's, which sent no accumulators: a HistoryConflict naming the requests that stand on it, to be
    reversed. A counter the engine refuses for this claim (above what its member's caps ever allowed: a
    resident's cap is not an employee's) may be the claim's as much as the ledger's: the claim's error,
    saying which requests the counter's balance comes from."""
    # the engine's own memo of counter sets it found the pack's: a member's names recur claim after claim
    for name in () if rules.counters_known(before.year, before.counters) else before.counters:
        problem = rules.counter_problem(name, before.year)
        if problem:
            writers = _standing_writers(tx, before, name)
            fix = (f"; written by {_listed(writers)}: reverse {'it' if len(writers) == 1 else 'them'}, and bring the "
                   f"counters in again as pack {rules.name!r} keeps them (an opening checked against it)"
                   if writers else "")
            raise HistoryConflict(("claim", "member", "id"), f"member {before.member_id!r}, {before.year}: the ledger "
                                                             f"holds a counter pack {rules.name!r} does not keep "
                                                             f"({problem}){fix}")
    try:
        return evaluate(claim, rules, before)
    except ClaimError as exc:
        if not any(p.path[:2] == ("accumulators", "counters") for p in exc.problems):
            raise
        raise ClaimError([_from_ledger(tx, before, p) for p in exc.problems], offending=exc.offending) from None


def _from_ledger(tx: Transaction, before: Accumulators, problem: ClaimProblem) -> ClaimProblem:
    """A problem of a counter, with where the ledger's balance of it comes from."""
    if problem.path[:2] != ("accumulators", "counters") or len(problem.path) < 3:
        return problem
    writers = _standing_writers(tx, before, problem.path[2])
    return ClaimProblem(problem.path, f"{problem.message} (the ledger's balance, from {_listed(writers)})"
                        if writers else problem.message)


def _standing_writers(tx: Transaction, before: Accumulators, counter: str) -> list[Head]:
    """The requests that stand (not reversed, not reversals) whose entries make up a counter's balance
    (`name` or `name@YYYY-MM`), in order."""
    keys = {e.settlement_key for e in tx.entries(before.member_id, before.year) if e.accumulator_key == counter}
    return sorted((h for h in map(tx.head, keys) if h is not None and h.stands), key=lambda h: h.seq)


def claim_member_year(claim: Claim, rules: RulePack) -> tuple[str, int]:
    """Whose accumulators, and of which year, a claim settles against: the year of its deciding date,
    as the engine picks it (domain.md 6.1)."""
    day = claim.settlement_date if rules.meta.deciding_date == "settlement" else claim.start_date
    return claim.member.id, day.year


class Ledger:
    """Settlements, reversals and the accumulators they add up to, in one store."""

    def __init__(self, store: Store):
        self._store = store

    # --- requests ---------------------------------------------------------------------------------

    def pre_settle(self, claim: Claim | dict, rules: RulePack) -> Settlement:
        """Pre-settlement (预结算, 2206 / 2303): the claim settled against the member's accumulators
        as the ledger has them now; nothing is written. Refused as `settle` would refuse it
        (HistoryConflict) when the claim is settled already, or the member-year kept under another
        pack: either way the accumulators it would start from are not the ones its settlement will."""
        claim, rules = _claim(claim), _pack(rules)
        member, year = claim_member_year(claim, rules)

        def read(tx: Transaction) -> Settlement:
            _settled_once(tx, claim, member, year)
            _one_pack(tx, member, year, rules.name)
            return _on_balances(tx, claim, rules, balances.accumulators(member, year, tx.sums(member, year)))

        return self._read(read)

    def settle(self, key: str, claim: Claim | dict, rules: RulePack) -> Settled:
        """Settlement (结算, 2207 / 2304) under the caller's `key`: the claim settled against the member's
        accumulators, its changes appended as entries, the answer stored. The same claim again under the
        same key is answered from the store (`replayed`); another claim under it is a KeyConflict.

        HistoryConflict (409) when the claim (its id) has a settlement that stands for the member, in
        this year or another, under another key (reverse that one first), or when the member-year's
        standing requests were made under another pack: two cities' funds keep their own accumulators."""
        key, claim, rules = _key(key, "key"), _claim(claim), _pack(rules)
        digest = settle_digest(claim, rules.name)
        member, year = claim_member_year(claim, rules)

        def run(tx: Transaction) -> Settled:
            tx.lock(member, year)
            found = tx.record(key)
            if found is not None:
                return _replay_settle(found, settle_digests(claim, rules.name))
            _settled_once(tx, claim, member, year)
            _one_pack(tx, member, year, rules.name)
            before = balances.accumulators(member, year, tx.sums(member, year))
            settlement = _on_balances(tx, claim, rules, before)
            fields = settlement.platform_fields()
            body = SettleBody(key=key, member_id=member, year=year, pack=rules.name, pack_hash=rules.content_hash,
                              pack_version=settlement.version, platform_fields=fields,
                              setlinfo=setlinfo(settlement, fields), setldetail=setldetail(settlement),
                              feedetail=feedetail(settlement), settlement=settlement).model_dump_json()
            tx.insert(Record(key, "settle", member, year, tx.next_seq(member, year), digest, rules.name,
                             rules.content_hash, settlement.version, body, _now()))
            tx.append(member, year, key, balances.deltas(before, settlement.accumulators_after))
            return Settled(key, body, False, member, year)

        return self._write(run)

    def reverse(self, key: str, of: str) -> Reversed:
        """Reversal (冲正 / 撤销结算, 2208 / 2305) under the caller's `key` of the settlement under `of`:
        the negation of its entries appended, so every counter is as if it had not been settled, and its
        amounts answered negated. Settlements made after it in the member-year are listed (`later`),
        not re-settled; its claim is settled again only once they are reversed too (HistoryConflict).
        NotFound for an unknown `of`; AlreadyReversed when it was reversed under another key, or is
        itself a reversal.

        `of` may also be an opening or a credit: its entries are negated the same way (the body is a
        ReverseEntriesBody), but only while no settlement made after it stands (HistoryConflict
        otherwise: reverse those first)."""
        key, of = _key(key, "key"), _key(of, "of")
        digest = reverse_digest(of)

        def run(tx: Transaction) -> Reversed:
            original = tx.record(of)
            if original is None:
                found = tx.record(key)
                if found is not None:
                    return _replay_reverse(found, digest, of)
                raise NotFound(("of",), f"no settlement under key {of!r}")
            tx.lock(original.member_id, original.year)
            found = tx.record(key)  # read under the lock: a concurrent request with this key has committed
            if found is not None:
                return _replay_reverse(found, digest, of)
            original = tx.record(of)  # reread under the lock: it may have been reversed meanwhile
            if original.kind == "reverse":
                undone = json.loads(original.body).get("of_kind", "settle")
                again = ("settle the claim again" if undone == "settle"
                         else f"make the {_WHAT[undone]} again")
                raise AlreadyReversed(("of",), f"{of!r} is a reversal (of {original.reverses!r}); a reversal is not "
                                               f"reversed: {again} under a new key")
            if original.reversed_by is not None:
                raise AlreadyReversed(("of",), f"{_WHAT[original.kind]} {of!r} was already reversed, "
                                               f"under key {original.reversed_by!r}")
            member, year = original.member_id, original.year
            compensating = [(e.counter, e.month, -e.delta) for e in tx.entries(member, year, of)]
            if original.kind != "settle":
                return self._reverse_entries(tx, key, digest, original, compensating)
            # Later settlements read balances that held this one's entries; none did when it wrote none.
            later = [r.key for r in tx.heads(member, year)
                     if r.kind == "settle" and r.seq > original.seq and r.reversed_by is None] if compensating else []
            _check_reversed_balances(tx, original, compensating)
            body = reverse_body(key, original.body, compensating, later).model_dump_json()
            tx.insert(Record(key, "reverse", member, year, tx.next_seq(member, year), digest, original.pack,
                             original.pack_hash, original.pack_version, body, _now(), reverses=of))
            tx.append(member, year, key, compensating)
            tx.mark_reversed(of, key)
            return Reversed(key, body, False, of, member, year, tuple(later))

        return self._write(run)

    @staticmethod
    def _reverse_entries(tx: Transaction, key: str, digest: str, original: Record,
                         compensating: list[balances.Delta]) -> Reversed:
        """The reversal of an opening or a credit, inside reverse()'s transaction (the member-year locked)."""
        member, year, of = original.member_id, original.year, original.key
        standing = [r for r in tx.heads(member, year) if r.kind == "settle" and r.seq > original.seq and r.stands]
        if standing:
            raise HistoryConflict(("of",), f"{_WHAT[original.kind]} {of!r} cannot be reversed: {_listed(standing)} "
                                           f"of member {member!r}, {year}, made after it on its balances, "
                                           f"{'stands' if len(standing) == 1 else 'stand'}; reverse "
                                           f"{'it' if len(standing) == 1 else 'them'} first")
        _check_reversed_balances(tx, original, compensating)
        body = reverse_entries_body(key, original.body, compensating).model_dump_json()
        tx.insert(Record(key, "reverse", member, year, tx.next_seq(member, year), digest, original.pack,
                         original.pack_hash, original.pack_version, body, _now(), reverses=of))
        tx.append(member, year, key, compensating)
        tx.mark_reversed(of, key)
        return Reversed(key, body, False, of, member, year, ())

    def open_year(self, key: str, member_id: str, year: int, accumulators: Accumulators | dict, *,
                  rules: RulePack | None = None) -> Opened:
        """Opening (期初余额导入) under the caller's `key`: the member's `accumulators` for `year`
        brought into the ledger as entries (one per non-zero counter, and the admissions), so that the
        next settlement starts from them. Their `year` must be `year`, their `member_id` (when given)
        `member_id`. Given `rules`, each counter must be one the pack keeps, written as it keeps it
        (yearly, or per month); without, only names and months are checked, and a counter the pack
        does not keep refuses the member's next settlement (HistoryConflict naming the opening: reverse
        it and open again), and a value above what its caps ever allowed is refused by the engine, as the
        claim's error naming where the balance comes from.

        Allowed only as the member-year's first request that stands: HistoryConflict (409, path
        `member_id`) while a settlement, a credit or an earlier opening of the year is not reversed.
        The same opening again under the same key is answered from the store (`replayed`), even
        after later requests; another request under it is a KeyConflict."""
        key = _key(key, "key")
        _check_member_year(member_id, year)
        pack = _pack_for(rules, year)
        opened = _opening(member_id, year, accumulators, pack)
        digest = opening_digest(opened)

        def run(tx: Transaction) -> Opened:
            tx.lock(member_id, year)
            found = tx.record(key)
            if found is not None:
                return _replay_opening(found, digest)
            standing = [r for r in tx.heads(member_id, year) if r.stands]
            earlier = [r for r in standing if r.kind == "opening"]
            if earlier:
                raise HistoryConflict(("member_id",), f"the year {year} of member {member_id!r} was already opened, "
                                                      f"under key {earlier[0].key!r}: an opening never replaces "
                                                      "balances; to correct it, reverse it (and any settlement made "
                                                      "on it) and open the year again")
            if standing:
                raise HistoryConflict(("member_id",), f"member {member_id!r} has requests in {year} that stand "
                                                      f"({_listed(standing)}): an opening must be the year's first, "
                                                      "so that no balance is overwritten or counted twice; reverse "
                                                      "them first, or credit a balance instead")
            if any(total for _, _, total in tx.sums(member_id, year)):
                raise StoreUnavailable((), f"the ledger's entries of member {member_id!r} for {year} do not add up to "
                                           "zero, though every request of the year was reversed; the store was "
                                           "changed outside the ledger")
            entries = balances.deltas(Accumulators(member_id=member_id, year=year), opened)
            body = opening_body(key, opened, entries, pack.name if pack else None,
                                pack.content_hash if pack else None).model_dump_json()
            tx.insert(Record(key, "opening", member_id, year, tx.next_seq(member_id, year), digest,
                             pack.name if pack else None, pack.content_hash if pack else None, None, body, _now()))
            tx.append(member_id, year, key, entries)
            return Opened(key, body, False, member_id, year)

        return self._write(run)

    def credit(self, key: str, member_id: str, year: int, counter: str, amount: object, *,
               rules: RulePack | None = None) -> Credited:
        """Credit (个人账户划入) under the caller's `key`: `amount` yuan (a Decimal, int or text; never a
        float; above zero) added to the member's balance `counter` for `year`, at any time of the year.
        Without `rules`, only a counter named `*.balance` (personal_account.balance); with them, one of
        the pack's personal-account balance counters. The balance after it may not pass the largest
        amount the engine accepts. The same credit again under the same key is answered from the store
        (`replayed`); another request under it is a KeyConflict."""
        key = _key(key, "key")
        _check_member_year(member_id, year)
        pack = _pack_for(rules, year)
        counter = _balance_counter(counter, pack)
        fen = _credit_amount(amount)
        digest = credit_digest(member_id, year, counter, fen)

        def run(tx: Transaction) -> Credited:
            tx.lock(member_id, year)
            found = tx.record(key)
            if found is not None:
                return _replay_credit(found, digest)
            if pack is not None:
                _one_pack(tx, member_id, year, pack.name)
            before = sum(total for c, m, total in tx.sums(member_id, year) if c == counter and m == "")
            after = before + fen
            if after > to_fen(MAX_AMOUNT):
                raise LedgerError(("amount",), f"the balance of {counter} would be {fmt_fen(after)}, above the largest "
                                               f"amount accepted ({MAX_AMOUNT})")
            body = CreditBody(key=key, member_id=member_id, year=year, pack=pack.name if pack else None,
                              pack_hash=pack.content_hash if pack else None, counter=counter, amount=from_fen(fen),
                              balance=from_fen(after)).model_dump_json()
            tx.insert(Record(key, "credit", member_id, year, tx.next_seq(member_id, year), digest,
                             pack.name if pack else None, pack.content_hash if pack else None, None, body, _now()))
            tx.append(member_id, year, key, [(counter, "", fen)])
            return Credited(key, body, False, member_id, year, counter, from_fen(after))

        return self._write(run)

    # --- reading ----------------------------------------------------------------------------------

    def get(self, key: str) -> Record:
        """The request (settlement, reversal, opening, credit) stored under `key`, with its body; NotFound
        when there is none."""
        key = _key(key, "key")
        found = self._read(lambda tx: tx.record(key))
        if found is None:
            raise NotFound(("key",), f"nothing was settled, reversed, opened or credited under key {key!r}")
        return found

    def accumulators(self, member_id: str, year: int) -> Accumulators:
        """The member's accumulators for the year: the sum of every entry (zero counters left out)."""
        _check_member_year(member_id, year)
        return self._read(lambda tx: balances.accumulators(member_id, year, tx.sums(member_id, year)))

    def entries(self, member_id: str, year: int) -> list[Entry]:
        """Every entry of the member-year, in the order appended."""
        _check_member_year(member_id, year)
        return self._read(lambda tx: tx.entries(member_id, year))

    def history(self, member_id: str, year: int) -> list[Record]:
        """The member-year's requests (settlements, reversals, openings, credits), in the order made, each
        with its body (`member_year` lists them without)."""
        _check_member_year(member_id, year)
        return self._read(lambda tx: tx.records(member_id, year))

    def member_year(self, member_id: str, year: int) -> MemberYear:
        """The member's accumulators, entries and requests for the year, read in one transaction (the three
        agree with each other even while other requests write). The requests come without their bodies:
        a year of long stays holds megabytes of them, and a listing needs none (`get` reads one)."""
        _check_member_year(member_id, year)

        def read(tx: Transaction) -> MemberYear:
            return MemberYear(member_id, year, balances.accumulators(member_id, year, tx.sums(member_id, year)),
                              tuple(tx.entries(member_id, year)), tuple(tx.heads(member_id, year)))

        return self._read(read)

    def ping(self) -> None:
        """Use the store once (a readiness check); StoreUnavailable when it cannot be used."""
        self._read(lambda tx: tx.ping())

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- one transaction --------------------------------------------------------------------------

    def _write(self, run: Callable[[Transaction], T]) -> T:
        return self._run(run, write=True)

    def _read(self, run: Callable[[Transaction], T]) -> T:
        return self._run(run, write=False)

    def _run(self, run: Callable[[Transaction], T], write: bool) -> T:
        for _ in range(ATTEMPTS):
            try:
                with self._store.transaction(write=write) as tx:
                    return run(tx)
            except Retry:
                continue
        raise StoreUnavailable((), f"the ledger is too busy: the request lost {ATTEMPTS} races in a row; try again")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _taken(found: Record, what: str) -> KeyConflict:
    by = (f"the reversal of {found.reverses!r}" if found.kind == "reverse"
          else f"{_A[found.kind]} (member {found.member_id!r}, {found.year})")
    return KeyConflict(("key",), f"{found.key!r} is taken by {by}; {what} needs a new key")


def _check_replay(found: Record, digest: str | frozenset[str], kind: str, new: str, did: str) -> None:
    """`found`, stored under a request's key, must be that same request made before: of its `kind` (else
    the key is taken, and `new` needs a new key) and with its digest, or one of its digests (else a
    KeyConflict: the key `did` something else)."""
    if found.kind != kind:
        raise _taken(found, new)
    if found.request_digest not in ({digest} if isinstance(digest, str) else digest):
        raise KeyConflict(("key",), f"{found.key!r} {did}; a new {_WHAT[kind]} needs a new key")


def _replay_settle(found: Record, digest: frozenset[str]) -> Settled:
    _check_replay(found, digest, "settle", "a new settlement",
                  f"already settled a different claim (member {found.member_id!r}, {found.year})")
    return Settled(found.key, found.body, True, found.member_id, found.year, found.reversed_by)


def _replay_reverse(found: Record, digest: str, of: str) -> Reversed:
    if found.kind != "reverse":  # a reversal is told what took its key, without the member-year
        raise KeyConflict(("key",), f"{found.key!r} is taken by {_A[found.kind]}; a reversal needs a new key")
    _check_replay(found, digest, "reverse", "a reversal", f"already reversed {found.reverses!r}, not {of!r}")
    later = tuple(json.loads(found.body)["later"])  # as answered the first time
    return Reversed(found.key, found.body, True, of, found.member_id, found.year, later)


def _replay_opening(found: Record, digest: str) -> Opened:
    _check_replay(found, digest, "opening", "an opening",
                  f"already opened other accumulators (member {found.member_id!r}, {found.year})")
    return Opened(found.key, found.body, True, found.member_id, found.year, found.reversed_by)


def _replay_credit(found: Record, digest: str) -> Credited:
    _check_replay(found, digest, "credit", "a credit",
                  f"already credited another amount or counter (member {found.member_id!r}, {found.year})")
    body = json.loads(found.body)
    return Credited(found.key, found.body, True, found.member_id, found.year, body["counter"],
                    Decimal(body["balance"]), found.reversed_by)
