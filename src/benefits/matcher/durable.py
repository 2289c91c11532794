"""The production matcher on durable-rules 2.0.28. Every call into durable-rules is here.

What this module designs around (see shared/durable-rules.md and our own measurements):
- Process-wide C state with no locks: one `Host` per matcher (per loaded pack), ruleset names
  unique per process, and one process-wide lock around every call into durable-rules. The lock
  is taken before every fork() and released after it, so that a child never inherits it held by
  a thread it does not have (see "Fork" below).
- A `Host` starts two timer threads that call into the C core every 0.2 s, outside any lock of
  ours, and hold the host forever. Our rules use neither durable-rules timers nor queued actions
  (actions run inside `assert_fact`), so the host here starts none; and the C rulesets are deleted
  when the matcher is dropped. A pack loaded and dropped used to keep 0.45 MB and two threads.
- Each claim is asserted as a *fact* (events fire only the first matching rule) under its own
  sid, and the sid's state is deleted afterwards, so nothing carries over between claims.
- A fact that matches no rule crashes the C core (segfault on the first assertion of a host)
  or raises MessageNotHandledException: a catch-all rule on a field every fact carries makes
  every fact match, in every ruleset. `$nex`, and `$ex` on `sid`, hang the engine: never emitted.
- Actions only record the rule id; all arithmetic happens in Python with Decimal.
- Conditions reach durable-rules in negation-normal form, lists flattened to booleans, so only
  `$and $or $neq $lt $lte $gt $gte` and equality are used.

Size limits. The C core has fixed-size tables and checks few of them: past some it returns an
error after it has already taken a process-wide handle (which then leaks, with its memory), past
others it crashes at the first claim or loops forever in `create_ruleset` holding the GIL (every
thread stops; Ctrl-C does nothing). The measured limits are the C_* constants below. So nothing
big ever reaches it; everything is checked here, in Python, before the first call:
- A rule's top-level `or` becomes one durable-rules rule per alternative (fired ids are a set, so
  the answer is the same); each of these must have at most MAX_JUNCTIONS_PER_RULE `and`/`or`
  groups and at most MAX_LINKS_PER_RULESET - 1 links (below).
- The rules are split across as many rulesets ("chunks") as needed, each of at most
  MAX_LINKS_PER_RULESET links, whatever the pack's size. One small number bounds every per-node
  and per-assertion table of the C core at once (see `_shape`).
- What cannot be split (one alternative too big) raises LimitError, naming the rules, before
  anything is allocated; so does a pack that would need more than MAX_RULESETS_PER_PACK rulesets.
  If anything fails once C rulesets exist, all of them are deleted.

Fork: a fork() made while another thread is between two calls into durable-rules used to leave
the child with the lock held forever (3 children in 20 hung on their first claim). The lock is
now taken before fork() (waiting at most FORK_WAIT seconds) and given back in both processes; if
it could not be taken, the child refuses to use the matchers it inherited (BenefitsError) rather
than hang or read a half-updated C state, and packs it loads itself work.
"""

from __future__ import annotations

import itertools
import os
import threading
import weakref
from typing import Mapping

from ..conditions import And, Cmp, Has, Node, Or
from ..errors import BenefitsError
from ..facts import ALWAYS, group_key
from . import LimitError

# --- what durable-rules 2.0.28 holds: measured ------------------------------------------------
# Measured 2026-11-29 on Python 3.11, x86-64: each case built one ruleset (with our catch-all) from
# JSON conditions in a fresh process under `timeout 10`, then asserted facts that reach the limit,
# looking for an error, a crash (signal) or a hang below, at and past each limit. The C source
# (src/rules/rete.c, events.c, rules.h of jruizgit/rules at 2.0.28) names the tables involved.
# tests/test_durable_limits.py runs these cases again ("canaries"). A "node" is one comparison in
# the C network; comparisons equal in field, operator, value and place are shared between rules;
# the root's children are the first comparison of every rule.

C_JUNCTIONS_PER_RULE = 15
"""`$and`/`$or` groups in one rule (2 of 32 expression slots each, MAX_SEQUENCE_EXPRESSIONS):
15 load (an `and` of 14 `or` pairs, or 15 nested); 16 -> create_ruleset error 113, after the
handle is taken: the handle and about 185 KB leak on every try."""

C_CHILDREN_PER_NODE = 511
"""Distinct comparisons directly below one node, any fields (a 512-slot table, NEXT_BUCKET_LENGTH):
rows `age == 1000` ... `age == 1509` plus the catch-all load and answer; one more row fills the
table and the first claim aborts (free(): invalid pointer) or, below a non-root node, hangs; two
more and create_ruleset loops forever holding the GIL. 300 `age` rows + 211 `date` rows do the same:
the slots are shared by all fields."""

C_RULES_PER_NODE = 255
"""Rules whose conditions end at the same node (identical conditions, BETA_LIST_LENGTH 256): 255
answer; 256 load and the first claim segfaults; 257 -> error 108, from a read past the table's end
(a write past it when the memory beyond happens to be zero)."""

C_JOINS_PER_NODE = 128
"""Nested `or` groups joined below one node (NEXT_LIST_LENGTH): 129 -> create_ruleset error 107.
The evaluation stack (next) overflows first."""

C_PENDING_PER_ASSERTION = 64
"""Nodes pending on the evaluation stack of one assertion (MAX_STACK_SIZE): 63 rules `age >= i`
(plus the catch-all) all matching one fact answer; 64 -> assert_fact error 303, after which
delete_state segfaults. 64 rules `age == 5 or age == 6` fail the same way on a fact with age 5.
Which facts overflow depends on the data, so this must hold for every fact: see `_shape`."""

C_RULESETS_PER_PROCESS = 131_071
"""Live rulesets (handles) in one process: MAX_HANDLES - 1, read in rules.h (not run: 131,071
rulesets of about 150 KB each); beyond, create_ruleset fails with error 112 and leaks the ruleset."""

# --- our bounds, below the measured ones ------------------------------------------------------
MAX_JUNCTIONS_PER_RULE = 12
"""`and`/`or` groups in one alternative of a condition (measured limit 15)."""

MAX_LINKS_PER_RULESET = 48
"""Links of one ruleset, catch-all included (measured limit 64 pending, see `_shape`)."""

MAX_RULESETS = 100_000
"""Live rulesets made by this module in one process (measured limit 131,071)."""

MAX_RULESETS_PER_PACK = 100
"""Rulesets of one pack: each keeps about 0.45 MB in the C core and is asked on the first claim of
every new shape (about 60 us each, measured 2026-11-30). A pack of 1,000 rows of 140 alternatives made
3,000 rulesets: 6 s and 1.3 GB to load. The real packs make 3 and 1; 100 is 4,700 comparisons at most."""

FORK_WAIT = 10.0
"""Seconds a fork() waits for the lock (a claim takes microseconds, a very large load seconds)."""

_OPS = {"!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_CATCH_ALL = "__always__"
_names = itertools.count()
_lock = threading.Lock()  # every call into durable-rules, whichever pack: its handle table is global
_live: set[int] = set()  # handles of the C rulesets this module made and has not deleted
_epoch = 0  # bumped in a child forked while the lock could not be taken: older matchers refuse


def compile_condition(node: Node) -> dict:
    """Our condition tree as a durable-rules JSON condition."""
    if isinstance(node, Cmp):
        if node.op == "==":
            return {node.field: node.value}
        return {_OPS[node.op]: {node.field: node.value}}
    if isinstance(node, Has):
        return {group_key(node.field, node.value): not node.negated}
    if isinstance(node, (And, Or)):
        items = [compile_condition(i) for i in node.items]
        if len(items) == 1:
            return items[0]
        return {"$and" if isinstance(node, And) else "$or": items}
    raise TypeError(f"condition not in negation-normal form: {node!r}")


# --- planning: what goes into which ruleset (pure Python; no call into durable-rules) ----------


def alternatives(node: Node) -> list[Node]:
    """The alternatives of a top-level `or` (nested top-level `or`s flattened); else the node.
    Each becomes its own durable-rules rule recording the same rule id."""
    if isinstance(node, Or):
        return [alt for item in node.items for alt in alternatives(item)]
    return [node]


def _shape(condition: dict) -> tuple[int, int]:
    """(junctions, links) of a compiled condition, as durable-rules builds it.

    Junctions are its `$and`/`$or` groups (C_JUNCTIONS_PER_RULE). Links are the entries it adds
    to the C network's per-node tables: one per comparison (in its parent's table of children)
    and one per alternative of a nested `or` (joining the `or`'s end node). Sharing of equal
    comparisons between rules only removes links, so the sum over a ruleset's rules (+1 for the
    catch-all) bounds, whatever the facts:
    - the children of any node (C_CHILDREN_PER_NODE) and the `or` joins below it (C_JOINS_PER_NODE);
    - the rules ending at any node (C_RULES_PER_NODE): each rule has links of its own;
    - the evaluation stack (C_PENDING_PER_ASSERTION). It is walked depth first: a node popped
      pushes at most one entry per link below it, and the entries pending at any moment were
      pushed by nodes on one path from the root, which uses each link once.
    """
    ((key, value),) = condition.items()  # every compiled node has exactly one key
    if key not in ("$and", "$or"):
        return 0, 1
    shapes = [_shape(item) for item in value]
    junctions = 1 + sum(j for j, _ in shapes)
    links = sum(n for _, n in shapes) + (len(value) if key == "$or" else 0)
    return junctions, links


def _too_big(junctions: int, links: int) -> str | None:
    """Why one alternative cannot be a durable-rules rule, with the bound and the remedy; or None."""
    if junctions > MAX_JUNCTIONS_PER_RULE:
        return (f"a condition is too big for durable-rules: {junctions} `and`/`or` groups in one "
                f"alternative, where at most {MAX_JUNCTIONS_PER_RULE} are allowed (durable-rules 2.0.28 "
                f"fails at {C_JUNCTIONS_PER_RULE + 1}); split the condition into several rows")
    if links > MAX_LINKS_PER_RULESET - 1:
        return (f"a condition is too big for durable-rules: {links} comparisons and nested `or` "
                f"alternatives in one alternative, where at most {MAX_LINKS_PER_RULESET - 1} are allowed "
                f"(durable-rules 2.0.28 crashes at {C_PENDING_PER_ASSERTION}); split the condition into "
                f"several rows (an `or` at the top is split for you; an `and` over a long `in [...]` list is not)")
    return None


Part = tuple[str, str, dict, int]  # (durable rule name, our rule id, compiled condition, links)


def plan(rules: Mapping[str, Node]) -> list[list[Part]]:
    """The rules as durable-rules rules, grouped into rulesets that hold whatever the pack's size.

    Raises LimitError naming every rule with an alternative too big for any ruleset, or, for a pack
    that needs more than MAX_RULESETS_PER_PACK rulesets, its largest rules."""
    parts: list[Part] = []
    refused: dict[str, str] = {}
    for rid, node in rules.items():
        for alt in alternatives(node):
            condition = compile_condition(alt)
            junctions, links = _shape(condition)
            why = _too_big(junctions, links)
            if why:
                refused.setdefault(rid, why)
            parts.append((f"r{len(parts)}", rid, condition, links))
    if refused:
        raise LimitError(refused, "; ".join(dict.fromkeys(refused.values())), refused)
    chunks = _chunks(parts)
    if len(chunks) > MAX_RULESETS_PER_PACK:
        raise _too_many_rulesets(parts, len(chunks))
    return chunks


def _too_many_rulesets(parts: list[Part], count: int) -> LimitError:
    """The error of a pack too big as a whole, naming its largest rules: where to look first."""
    size: dict[str, int] = {}
    for _, rid, _, links in parts:
        size[rid] = size.get(rid, 0) + links
    largest = sorted(size, key=lambda rid: -size[rid])[:5]
    return LimitError(largest, f"the pack's conditions are too big for durable-rules together: {len(size):,} "
                      f"conditions of {sum(size.values()):,} comparisons and alternatives (at most {size[largest[0]]:,} "
                      f"in one) make {count:,} rulesets, where a pack has at most {MAX_RULESETS_PER_PACK} (each keeps "
                      f"about 0.45 MB and is asked on every new kind of claim). Shown at its {len(largest)} largest "
                      f"conditions; write ranges (age >= 60) instead of lists of values, or fewer rows")


def _chunks(parts: list[Part]) -> list[list[Part]]:
    """Consecutive parts, as many per ruleset as its links allow (the catch-all takes one)."""
    budget = MAX_LINKS_PER_RULESET - 1
    chunks: list[list[Part]] = []
    used = 0
    for part in parts:
        if not chunks or used + part[3] > budget:
            chunks.append([])
            used = 0
        chunks[-1].append(part)
        used += part[3]
    return chunks


# --- the C rulesets ---------------------------------------------------------------------------


def _quiet_host(engine):
    class QuietHost(engine.Host):
        """A Host without its timer threads (`_run` starts them; 2.0.28 is pinned)."""

        def _run(self) -> None:
            pass

        def adopt(self, name: str, definition: dict) -> int:
            """Create one ruleset and return its C handle at once. (`register_rulesets` creates
            all it is given first and loses every handle if a later one fails.)"""
            ruleset = engine.Ruleset(name, self, definition)  # create_ruleset in C
            self._ruleset_directory[name] = ruleset
            return ruleset._handle

    return QuietHost()


def _create(host, definitions: list[tuple[str, dict, tuple[str, ...]]]) -> list[int]:
    """Under the lock: create every ruleset (name, definition, its rule ids); all or none.

    A failure after some were created deletes those. A create_ruleset that fails inside the C core
    leaks the handle it took (it is never returned); the bounds above keep that from happening, and
    should it happen all the same it is reported as a LimitError naming that ruleset's rules."""
    import durable_rules_engine

    if len(_live) + len(definitions) > MAX_RULESETS:
        raise LimitError((), f"this process already holds {len(_live):,} durable-rules rulesets and this "
                             f"pack needs {len(definitions):,} more, where at most {MAX_RULESETS:,} may be "
                             f"alive at once (durable-rules 2.0.28 has {C_RULESETS_PER_PROCESS:,}); drop "
                             "packs no longer used")
    made: list[int] = []
    try:
        for name, definition, rule_ids in definitions:
            try:
                made.append(host.adopt(name, definition))
            except durable_rules_engine.error as exc:
                raise LimitError(rule_ids, f"durable-rules 2.0.28 cannot hold these rules ({exc}), although "
                                           "they are within the bounds measured in matcher/durable.py: "
                                           "split their conditions into rows, and report this") from exc
            _live.add(made[-1])
    except BaseException:
        _delete(made)
        raise
    return made


def _delete(handles) -> None:
    """Under the lock: free C rulesets."""
    import durable_rules_engine

    for handle in handles:
        _live.discard(handle)
        durable_rules_engine.delete_ruleset(handle)


# Handles of dropped matchers. A finalizer may run inside any allocation, even while this thread
# holds the lock and is inside durable-rules: it deletes the rulesets only if the lock is free
# (then no call into durable-rules is under way anywhere), and otherwise leaves them to the next call.
_dropped: list[int] = []


def _free(handles: tuple[int, ...]) -> None:
    _dropped.extend(handles)
    if _lock.acquire(blocking=False):
        try:
            _delete_dropped()
        finally:
            _lock.release()


def _delete_dropped() -> None:
    """Under the lock: free the C rulesets of matchers dropped since the last call."""
    while _dropped:
        _delete([_dropped.pop()])


# --- fork -------------------------------------------------------------------------------------
_held_for_fork = False


def _before_fork() -> None:
    global _held_for_fork
    _held_for_fork = _lock.acquire(timeout=FORK_WAIT)


def _after_fork_in_parent() -> None:
    if _held_for_fork:
        _lock.release()


def _after_fork_in_child() -> None:
    """A new lock: the copied one may be held by a thread the child does not have. If the fork did
    not get the lock, another thread may have been between two calls into durable-rules (a claim
    half asserted, a ruleset half made): the matchers inherited refuse (`_epoch`)."""
    global _lock, _epoch
    _lock = threading.Lock()
    if not _held_for_fork:
        _epoch += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                        after_in_child=_after_fork_in_child)


# --- the matcher ------------------------------------------------------------------------------


class DurableMatcher:
    def __init__(self, rules: Mapping[str, Node]):
        import durable_rules_engine  # imported here so the reference path never needs the C core
        from durable import engine

        chunks = plan(rules)  # LimitError before anything is allocated
        self._fired: list[str] = []
        self._ids = {name: rid for chunk in chunks for name, rid, _, _ in chunk}  # durable rule -> rule id
        self._c_error = durable_rules_engine.error
        self._host = _quiet_host(engine)
        self._epoch = _epoch
        definitions = [self._ruleset(chunk) for chunk in chunks]
        self._rulesets = [name for name, _, _ in definitions]
        with _lock:
            _delete_dropped()
            handles = _create(self._host, definitions)
        # Free the C rulesets with the matcher (durable-rules itself never does).
        weakref.finalize(self, _free, tuple(handles)).atexit = False
        self._sids = itertools.count()

    def _ruleset(self, chunk: list[Part]) -> tuple[str, dict, tuple[str, ...]]:
        """(unique name, definition, rule ids) of one ruleset: the catch-all (so that every fact
        matches; see the module docstring) and the chunk's rules."""
        definition: dict[str, dict] = {_CATCH_ALL: {"all": [{"m": {"$gte": {ALWAYS: 0}}}], "run": self._noop}}
        for name, _, condition, _ in chunk:
            definition[name] = {"all": [{"m": condition}], "run": self._recorder(name)}
        rule_ids = tuple(dict.fromkeys(rid for _, rid, _, _ in chunk))
        return f"benefits_{next(_names)}", definition, rule_ids

    @staticmethod
    def _noop(c) -> None:
        pass

    def _recorder(self, name: str):
        fired = self._fired  # not self: the host must not keep the matcher alive

        def record(c) -> None:
            fired.append(name)

        return record

    def fired(self, fact: dict) -> frozenset[str]:
        with _lock:
            if self._epoch != _epoch:
                raise BenefitsError("this rule pack was loaded before a fork() made while another thread was using "
                                    "durable-rules; load it again in this process")
            _delete_dropped()
            sid = str(next(self._sids))
            fact = dict(fact, sid=sid)
            self._fired.clear()
            for ruleset in self._rulesets:
                self._assert(ruleset, fact, sid)
            return frozenset(self._ids[n] for n in self._fired)

    def _assert(self, ruleset: str, fact: dict, sid: str) -> None:
        """Under the lock: assert the fact into one ruleset, run its actions, delete the sid's state."""
        try:
            self._host.assert_fact(ruleset, fact)
        except self._c_error:
            # The C core failed half-way (the bounds above should make this impossible): deleting
            # the state it left was measured to segfault, so it is left (a small leak) and we fail.
            raise
        except BaseException:
            self._host.delete_state(ruleset, sid)
            raise
        self._host.delete_state(ruleset, sid)
