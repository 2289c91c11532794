"""The rule packs a service settles with: loaded at start, reloaded without a restart.

`Packs` holds one immutable mapping of pack name to loaded pack. A reload loads every pack folder
again and swaps the new mapping in with one assignment; a request that started before keeps the
mapping it read. When any pack fails to load, nothing changes and the problems are answered.

Several worker processes each hold their own `Packs`, and must settle alike. The worker that loads
the folders (at a reload; at start, `benefits serve` itself) publishes the bytes it loaded as a
snapshot and points the server's stamp file at it (snapshots.py). Before it serves a request, every
worker reads the stamp and, when it names another set than its own, loads that snapshot: never the
folders, which may have been edited since. So once `POST /admin/reload` has answered, every worker,
and any worker started later, settles with the packs that reload loaded until the next one.
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
from ..rules.loader import load_rules_and_sources
from ..rules.pack import RulePack
from .problems import ServiceProblem, item, rule_items
from .snapshots import Manifest, SnapshotPack, Snapshots, Unusable, pack_folder

log = logging.getLogger("benefits.service")


@dataclass(frozen=True)
class Loaded:
    """One generation of packs: name -> pack, the folder each came from, the digest of the set (the
    snapshot the workers share), when this worker loaded them."""

    packs: Mapping[str, RulePack]
    folders: Mapping[str, str]
    generation: int
    digest: str
    loaded_at: float = field(default_factory=time.time)

    def describe(self) -> dict:
        return {
            "generation": self.generation,
            "digest": self.digest,
            "loaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.loaded_at)),
            "packs": {name: {"folder": self.folders[name], "title": pack.meta.title,
                             "versions": [str(v.start) for v in pack.versions],
                             "valid_until": str(pack.meta.valid_until), "layers": list(pack.meta.layers)}
                      for name, pack in self.packs.items()},
        }


@dataclass(frozen=True)
class Found:
    """Packs loaded from their folders: name -> pack, its folder, and the bytes it was loaded from."""

    packs: dict[str, RulePack]
    folders: dict[str, str]
    sources: dict[str, dict[str, bytes]]

    def manifest(self, pairs: list[tuple[str | None, str]]) -> Manifest:
        """The snapshot of these packs, for a server given `pairs`."""
        return Manifest(sources=pairs, packs=[SnapshotPack(name=name, folder=self.folders[name],
                                                           content_hash=pack.content_hash)
                                              for name, pack in self.packs.items()])


def folders_of(rules: Mapping[str, str | os.PathLike] | list | tuple) -> list[tuple[str | None, str]]:
    """(name, folder) pairs: a mapping names its packs; a list's packs are named by their pack.yaml."""
    if isinstance(rules, Mapping):
        return [(str(name), os.fspath(folder)) for name, folder in rules.items()]
    return [(None, os.fspath(folder)) for folder in rules]


def load_all(pairs: list[tuple[str | None, str]]) -> Found:
    """Every pack loaded, or a ServiceProblem listing the problems of every pack that failed."""
    packs: dict[str, RulePack] = {}
    folders: dict[str, str] = {}
    sources: dict[str, dict[str, bytes]] = {}
    problems: list[dict] = []
    failed: list[str] = []
    for name, folder in pairs:
        shown = name or Path(folder).name
        try:
            pack, read = load_rules_and_sources(folder)
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
        twin = next((k for k, p in packs.items() if p.name == pack.name), None)
        if twin is not None:  # a ledger records a settlement by its pack's own name
            failed.append(shown)
            problems.append(item([key], f"packs {twin!r} ({folders[twin]}) and {key!r} ({folder}) are both named "
                                        f"{pack.name!r} in their pack.yaml: a ledger records a member-year's settlements "
                                        f"by that name, so a settlement under one would be replayed, and its year "
                                        f"continued, under the other; give one of them another name in its pack.yaml"))
            continue
        packs[key], folders[key], sources[key] = pack, folder, read
    if failed:
        raise ServiceProblem("invalid-rule-pack", f"{len(failed)} of {len(pairs)} rule packs failed to load "
                             f"({', '.join(failed)}); the packs loaded before stay in use", problems)
    if not packs:
        raise ServiceProblem("invalid-rule-pack", "no rule pack to load: give at least one pack folder")
    return Found(packs, folders, sources)


def publish(found: Found, pairs: list[tuple[str | None, str]], snapshots: Snapshots | None) -> str:
    """Make `found` the set every worker of the server settles with (none to share it with: no
    server); its digest. ServiceProblem when it cannot be written: the set before stays in use."""
    manifest = found.manifest(pairs)
    if snapshots is None:
        return manifest.digest
    try:
        return snapshots.publish(manifest, found.sources)
    except OSError as exc:
        raise ServiceProblem("not-ready", f"the rule packs loaded, but cannot be shared with the other workers "
                             f"({exc}); the packs loaded before stay in use", headers={"Retry-After": "1"}) from None


class Packs:
    """The current packs of this process; `reload()` swaps in a new generation atomically."""

    def __init__(self, rules: Mapping[str, str | os.PathLike] | list | tuple, stamp: str | os.PathLike | None = None,
                 *, joins: bool = False):
        self.pairs = folders_of(rules)
        self.snapshots = Snapshots(stamp) if stamp is not None else None
        self.joins = joins  # the stamp was published before this process: without it, settle nothing
        self._lock = threading.Lock()
        self._current: Loaded | None = self._join()

    @property
    def current(self) -> Loaded:
        """The packs to use for one request: first the set the stamp names, when another worker
        published one since (a ServiceProblem, 503, while it cannot be loaded here: settling with
        any other set would pay differently from the other workers)."""
        loaded = self._current
        if self.snapshots is not None:
            named = self.snapshots.named()
            if loaded is None or (named is not None and named != loaded.digest):
                loaded = self._follow()
        return loaded

    def get(self, name: object) -> RulePack:
        loaded = self.current
        pack = loaded.packs.get(name) if isinstance(name, str) else None
        if pack is None:
            names = ", ".join(sorted(loaded.packs))
            raise ServiceProblem("invalid-request", f"pack: unknown rule pack {name!r}; this service has: {names}",
                                 [item(["pack"], f"unknown rule pack; expected one of: {names}")])
        return pack

    def reload(self) -> Loaded:
        """Load every pack folder again, publish them to every worker and swap them in; on any failure
        nothing changes, here or in another worker (ServiceProblem)."""
        with self._lock:
            found = load_all(self.pairs)
            digest = publish(found, self.pairs, self.snapshots)
            self._current = Loaded(found.packs, found.folders, self._generation() + 1, digest)
            log.info("rule packs reloaded: %s", ", ".join(sorted(found.packs)))
            return self._current

    def _join(self) -> Loaded | None:
        """At start: the set the stamp names (`benefits serve` publishes one before it starts its
        workers); none when it cannot be loaded, so that this worker settles nothing rather than
        differently from the others. No stamp yet: the folders, loaded and published, unless this
        process joins a set published before it (then the stamp has gone, and so has that set)."""
        named = self.snapshots.named() if self.snapshots is not None else None
        if named is None and self.joins:
            log.error("the server's stamp %s has gone: this worker settles nothing until a reload", self.snapshots.stamp)
            return None
        if named is None:
            found = load_all(self.pairs)
            return Loaded(found.packs, found.folders, 1, publish(found, self.pairs, self.snapshots))
        try:
            return self._from_snapshot(named, 1)
        except Unusable as exc:
            log.error("this worker cannot load the rule packs the server settles with: %s", exc)
            return None

    def _follow(self) -> Loaded:
        with self._lock:
            named = self.snapshots.named()
            problem = "the server's stamp names no packs"
            for _ in range(5):
                if self._current is not None and named in (None, self._current.digest):
                    return self._current  # nothing new published, or another thread followed it first
                if named is None:
                    break
                try:
                    self._current = self._from_snapshot(named, self._generation() + 1)
                    return self._current
                except Unusable as exc:
                    problem = str(exc)
                again = self.snapshots.named()
                if again == named:
                    break
                named = again  # a reload replaced that snapshot meanwhile (and may have removed it)
            log.error("this worker cannot load the rule packs the server settles with: %s", problem)
            raise ServiceProblem("not-ready", f"this worker cannot load the rule packs the server settles with "
                                 f"({problem}); it settles nothing until it can (POST /admin/reload loads the "
                                 f"pack folders again for every worker)", headers={"Retry-After": "1"})

    def _generation(self) -> int:
        return self._current.generation if self._current is not None else 0

    def _from_snapshot(self, digest: str, generation: int) -> Loaded:
        manifest = self.snapshots.manifest(digest)
        if [tuple(p) for p in manifest.sources] != [tuple(p) for p in self.pairs]:
            raise Unusable(f"snapshot {digest[:12]} holds other pack folders than this server's")
        folder = self.snapshots.folder(digest)
        pairs = [(p.name, str(folder / pack_folder(i, p.folder))) for i, p in enumerate(manifest.packs)]
        try:
            found = load_all(pairs)
        except ServiceProblem as exc:
            raise Unusable(f"snapshot {digest[:12]} fails to load: {exc.detail}") from None
        for p in manifest.packs:
            if found.packs[p.name].content_hash != p.content_hash:
                raise Unusable(f"snapshot {digest[:12]}: pack {p.name!r} is not the one published")
        return Loaded(found.packs, {p.name: p.folder for p in manifest.packs}, generation, digest)
