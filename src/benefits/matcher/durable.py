"""The production matcher on durable-rules 2.0.28. Every call into durable-rules is here.

What this module designs around (see shared/durable-rules.md and our own measurements):
- Process-wide C state: one `Host` per matcher (per loaded pack), ruleset names unique per
  process, and a lock around every call (durable-rules is not thread-safe).
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
from typing import Mapping

from ..conditions import And, Cmp, Has, Node, Or
from ..facts import ALWAYS, group_key

_OPS = {"!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_CATCH_ALL = "__always__"
_names = itertools.count()
_names_lock = threading.Lock()


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


class DurableMatcher:
    def __init__(self, rules: Mapping[str, Node]):
        from durable import engine  # imported here so the reference path never needs the C core

        self._engine = engine
        self._lock = threading.Lock()
        self._fired: list[str] = []
        self._ids: dict[str, str] = {}  # durable rule name -> our rule id
        ruleset: dict[str, dict] = {
            _CATCH_ALL: {"all": [{"m": {"$gte": {ALWAYS: 0}}}], "run": self._noop}
        }
        for n, (rid, node) in enumerate(rules.items()):
            name = f"r{n}"
            self._ids[name] = rid
            ruleset[name] = {"all": [{"m": compile_condition(node)}], "run": self._recorder(name)}
        with _names_lock:
            self._name = f"benefits_{next(_names)}"
        self._host = engine.Host()
        self._host.register_rulesets({self._name: ruleset})
        self._sids = itertools.count()

    @staticmethod
    def _noop(c) -> None:
        pass

    def _recorder(self, name: str):
        def record(c) -> None:
            self._fired.append(name)

        return record

    def fired(self, fact: dict) -> frozenset[str]:
        with self._lock:
            sid = str(next(self._sids))
            self._fired.clear()
            try:
                self._host.assert_fact(self._name, dict(fact, sid=sid))
            finally:
                self._host.delete_state(self._name, sid)
            return frozenset(self._ids[n] for n in self._fired)
