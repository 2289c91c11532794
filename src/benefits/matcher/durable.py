"""The production matcher on durable-rules 2.0.28. Every call into durable-rules is here.

What this module designs around (see shared/durable-rules.md and our own measurements):
- Process-wide C state with no locks: one `Host` per matcher (per loaded pack), ruleset names
  unique per process, and one process-wide lock around every call into durable-rules.
- A `Host` starts two timer threads that call into the C core every 0.2 s, outside any lock of
  ours, and hold the host forever. Our rules use neither durable-rules timers nor queued actions
  (actions run inside `assert_fact`), so the host here starts none; and the C ruleset is deleted
  when the matcher is dropped. A pack loaded and dropped used to keep 0.45 MB and two threads.
- Each claim is asserted as a *fact* (events fire only the first matching rule) under its own
  sid, and the sid's state is deleted in a `finally`, so nothing carries over between claims.
- A fact that matches no rule crashes the C core (segfault on the first assertion of a host)
  or raises MessageNotHandledException: a catch-all rule on a field every fact carries makes
  every fact match. `$nex`, and `$ex` on `sid`, hang the engine: we never emit them.
- Actions only record the rule id; all arithmetic happens in Python with Decimal.
- Conditions reach durable-rules in negation-normal form, lists flattened to booleans, so only
  `$and $or $neq $lt $lte $gt $gte` and equality are used.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from typing import Mapping

from ..conditions import And, Cmp, Has, Node, Or
from ..facts import ALWAYS, group_key

_OPS = {"!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_CATCH_ALL = "__always__"
_names = itertools.count()
_lock = threading.Lock()  # every call into durable-rules, whichever pack: its handle table is global


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


def _quiet_host(engine):
    class QuietHost(engine.Host):
        """A Host without its timer threads (`_run` starts them; 2.0.28 is pinned)."""

        def _run(self) -> None:
            pass

    return QuietHost()


# Handles of dropped matchers. A finalizer may run inside any allocation, even while this thread
# holds the lock and is inside durable-rules: it deletes the ruleset only if the lock is free (then
# no call into durable-rules is under way anywhere), and otherwise leaves it to the next call.
_dropped: list[int] = []


def _free(handle: int) -> None:
    _dropped.append(handle)
    if _lock.acquire(blocking=False):
        try:
            _delete_dropped()
        finally:
            _lock.release()


def _delete_dropped() -> None:
    """Under the lock: free the C rulesets of matchers dropped since the last call."""
    if _dropped:
        import durable_rules_engine

        while _dropped:
            durable_rules_engine.delete_ruleset(_dropped.pop())


class DurableMatcher:
    def __init__(self, rules: Mapping[str, Node]):
        from durable import engine  # imported here so the reference path never needs the C core

        self._fired: list[str] = []
        self._ids: dict[str, str] = {}  # durable rule name -> our rule id
        ruleset: dict[str, dict] = {
            _CATCH_ALL: {"all": [{"m": {"$gte": {ALWAYS: 0}}}], "run": self._noop}
        }
        for n, (rid, node) in enumerate(rules.items()):
            name = f"r{n}"
            self._ids[name] = rid
            ruleset[name] = {"all": [{"m": compile_condition(node)}], "run": self._recorder(name)}
        with _lock:
            _delete_dropped()
            self._name = f"benefits_{next(_names)}"
            self._host = _quiet_host(engine)
            self._host.register_rulesets({self._name: ruleset})
            handle = self._host.get_ruleset(self._name)._handle
        # Free the C ruleset with the matcher (durable-rules itself never does).
        weakref.finalize(self, _free, handle).atexit = False
        self._sids = itertools.count()

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
            _delete_dropped()
            sid = str(next(self._sids))
            self._fired.clear()
            try:
                self._host.assert_fact(self._name, dict(fact, sid=sid))
            finally:
                self._host.delete_state(self._name, sid)
            return frozenset(self._ids[n] for n in self._fired)
