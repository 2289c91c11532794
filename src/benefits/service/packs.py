"""The rule packs a service settles with: loaded at start, reloaded without a restart.

`Packs` holds one immutable mapping of pack name to loaded pack. A reload loads every pack folder
again and swaps the new mapping in with one assignment; a request that started before keeps the
mapping it read. When any pack fails to load, nothing changes and the problems are answered.

Several worker processes each hold their own `Packs`. A reload in one worker writes a stamp file
(its path shared by all workers through `stamp`); every worker compares the stamp's identity with
the one it last loaded before it serves a request, and loads the packs again when it changed. So
once `POST /admin/reload` has answered, every worker settles with the new packs.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from ..errors import BenefitsError, RuleFileError
from ..rules.loader import load_rules
from ..rules.pack import RulePack
from .problems import ServiceProblem, item, rule_items

log = logging.getLogger("benefits.service")


@dataclass(frozen=True)
class Loaded:
    """One generation of packs: name -> pack, the folder each came from, when they were loaded."""

    packs: Mapping[str, RulePack]
    folders: Mapping[str, str]
    generation: int
    loaded_at: float = field(default_factory=time.time)

    def describe(self) -> dict:
        return {
            "generation": self.generation,
            "loaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.loaded_at)),
            "packs": {name: {"folder": self.folders[name], "title": pack.meta.title,
                             "versions": [str(v.start) for v in pack.versions],
                             "valid_until": str(pack.meta.valid_until), "layers": list(pack.meta.layers)}
                      for name, pack in self.packs.items()},
        }


def folders_of(rules: Mapping[str, str | os.PathLike] | list | tuple) -> list[tuple[str | None, str]]:
    """(name, folder) pairs: a mapping names its packs; a list's packs are named by their pack.yaml."""
    if isinstance(rules, Mapping):
        return [(str(name), os.fspath(folder)) for name, folder in rules.items()]
    return [(None, os.fspath(folder)) for folder in rules]


def load_all(pairs: list[tuple[str | None, str]]) -> tuple[dict[str, RulePack], dict[str, str]]:
    """Every pack loaded, or a ServiceProblem listing the problems of every pack that failed."""
    packs: dict[str, RulePack] = {}
    folders: dict[str, str] = {}
    problems: list[dict] = []
    failed: list[str] = []
    for name, folder in pairs:
        shown = name or Path(folder).name
        try:
            pack = load_rules(folder)
        except RuleFileError as exc:
            failed.append(shown)
            problems += rule_items(exc, shown)
            continue
        except BenefitsError as exc:  # e.g. a condition that does not parse
            failed.append(shown)
            problems.append(item([shown], str(exc)))
            continue
        except OSError as exc:
            failed.append(shown)
            problems.append(item([shown], f"{folder}: cannot read: {exc.strerror or exc}"))
            continue
        key = name or pack.name
        if key in packs:
            failed.append(shown)
            problems.append(item([key], f"two packs are named {key!r} ({folders[key]} and {folder}); name them"))
            continue
        packs[key], folders[key] = pack, folder
    if failed:
        raise ServiceProblem("invalid-rule-pack", f"{len(failed)} of {len(pairs)} rule packs failed to load "
                             f"({', '.join(failed)}); the packs loaded before stay in use", problems)
    if not packs:
        raise ServiceProblem("invalid-rule-pack", "no rule pack to load: give at least one pack folder")
    return packs, folders


class Packs:
    """The current packs of this process; `reload()` swaps in a new generation atomically."""

    def __init__(self, rules: Mapping[str, str | os.PathLike] | list | tuple, stamp: str | os.PathLike | None = None):
        self.pairs = folders_of(rules)
        self.stamp = os.fspath(stamp) if stamp is not None else None
        self._lock = threading.Lock()
        self._seen = self._stamp_id()
        packs, folders = load_all(self.pairs)
        self._current = Loaded(packs, folders, 1)

    @property
    def current(self) -> Loaded:
        """The packs to use for one request (reloaded first when another worker reloaded them)."""
        if self.stamp is not None and self._stamp_id() != self._seen:
            self._follow()
        return self._current

    def get(self, name: object) -> RulePack:
        loaded = self.current
        pack = loaded.packs.get(name) if isinstance(name, str) else None
        if pack is None:
            names = ", ".join(sorted(loaded.packs))
            raise ServiceProblem("invalid-request", f"pack: unknown rule pack {name!r}; this service has: {names}",
                                 [item(["pack"], f"unknown rule pack; expected one of: {names}")])
        return pack

    def reload(self) -> Loaded:
        """Load every pack again and swap them in; on any failure keep the current ones (ServiceProblem)."""
        with self._lock:
            seen = self._stamp_id()
            packs, folders = load_all(self.pairs)
            self._current = Loaded(packs, folders, self._current.generation + 1)
            self._seen = self._touch() if self.stamp is not None else seen
            log.info("rule packs reloaded: %s", ", ".join(sorted(packs)))
            return self._current

    def _follow(self) -> None:
        with self._lock:
            seen = self._stamp_id()
            if seen == self._seen:
                return  # another thread of this process followed it first
            try:
                packs, folders = load_all(self.pairs)
            except ServiceProblem as exc:
                log.error("rule packs changed in another worker but fail to load here; keeping the old ones: %s",
                          exc.detail)
            else:
                self._current = Loaded(packs, folders, self._current.generation + 1)
            self._seen = seen

    def _stamp_id(self) -> tuple | None:
        if self.stamp is None:
            return None
        try:
            st = os.stat(self.stamp)
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def _touch(self) -> tuple | None:
        """Write a new stamp (a new file renamed into place: a new identity for every worker to see)."""
        tmp = f"{self.stamp}.{os.getpid()}.{threading.get_ident()}"
        with open(tmp, "w") as f:
            f.write(f"{time.time_ns()} {os.getpid()}\n")
        os.replace(tmp, self.stamp)
        return self._stamp_id()
