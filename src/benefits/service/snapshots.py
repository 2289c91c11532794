"""The pack set a server's workers share: snapshots of the pack files, and the stamp naming the current one.

A server's workers must settle with the same packs, whatever happens to the pack folders between
reloads. So the worker (or the supervisor) that loads the folders writes the bytes it loaded into a
snapshot, a folder named by the set's digest beside the stamp file, and then points the stamp at it;
every other worker, and one started later, loads the snapshot the stamp names, never the folders.

    <stamp>                 one line: the digest of the current set
    <stamp>.packs/<digest>/manifest.json       which packs, from which folders, with their content hashes
    <stamp>.packs/<digest>/<i>/<folder name>/  pack i's files, as the loader read them

A snapshot is written whole under a temporary name and renamed, and never changed after: a digest
names one set of bytes. The stamp is replaced by a rename, so it is read whole or not at all.
Publishing takes a lock shared by the server's processes; it keeps the new snapshot and the one
before (a worker may be loading it at that moment) and removes the rest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Mapping

try:
    import fcntl
except ImportError:  # pragma: no cover - not a POSIX system: publishers in one process only
    fcntl = None  # type: ignore[assignment]

from pydantic import BaseModel, ConfigDict

MANIFEST = "manifest.json"
_DIGEST = re.compile(r"[0-9a-f]{64}")
_NEW = ".new-"  # a snapshot being written
_LOCK = ".lock"  # held while one process publishes
_SERVER = ".server"  # held by the server for its life


class InUse(Exception):
    """Another server holds this stamp and its snapshots."""


class Unusable(Exception):
    """A snapshot that cannot be loaded (gone, or not of this server's pack folders)."""


class SnapshotPack(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str  # the name the service knows the pack by
    folder: str  # the pack folder it was loaded from
    content_hash: str  # RulePack.content_hash of the bytes in the snapshot


class Manifest(BaseModel):
    """What a snapshot holds: the (name, folder) pairs the server was given, and each pack loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: list[tuple[str | None, str]]
    packs: list[SnapshotPack]

    def text(self) -> bytes:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode()

    @property
    def digest(self) -> str:
        """sha256 of the manifest, which names every pack's content hash: one digest, one set of bytes."""
        return hashlib.sha256(self.text()).hexdigest()


def pack_folder(index: int, folder: str) -> str:
    """Where pack `index` lies in a snapshot: under its folder's own name, so that a problem or a
    parameter's file reads `jiangmen/parameters/x.yaml` as it does when loaded from the folder."""
    name = Path(folder).name
    return f"{index}/{name if name not in ('', '.', '..') else 'pack'}"


class Snapshots:
    """The stamp file of one server and the snapshots beside it."""

    def __init__(self, stamp: str | os.PathLike):
        self.stamp = Path(stamp)
        self.root = Path(f"{self.stamp}.packs")
        self._seen: tuple[tuple, str | None] = ((), None)  # the stamp's identity when last read, and its digest

    def named(self) -> str | None:
        """The digest the stamp names; None when there is no stamp (or not one of ours). Read before
        every request: the file is read again only when its identity changed (a stamp is replaced by
        a rename, a new file), a stat otherwise."""
        try:
            st = os.stat(self.stamp)
        except OSError:
            return None
        identity = (st.st_ino, st.st_mtime_ns, st.st_size)
        seen, digest = self._seen
        if identity == seen:
            return digest
        try:
            with open(self.stamp, "rb") as f:
                text = f.read(100).decode("ascii", "replace").strip()
        except OSError:
            return None
        digest = text if _DIGEST.fullmatch(text) else None
        self._seen = (identity, digest)
        return digest

    def folder(self, digest: str) -> Path:
        return self.root / digest

    def manifest(self, digest: str) -> Manifest:
        """The manifest of snapshot `digest`; Unusable when it is gone or does not match its name."""
        try:
            raw = (self.folder(digest) / MANIFEST).read_bytes()
            found = Manifest.model_validate_json(raw)
        except (OSError, ValueError) as exc:  # a pydantic ValidationError is a ValueError
            raise Unusable(f"snapshot {digest[:12]}: no readable manifest ({exc})") from None
        if found.digest != digest:
            raise Unusable(f"snapshot {digest[:12]}: its manifest is not the one its name says")
        return found

    def publish(self, manifest: Manifest, files: Mapping[str, Mapping[str, bytes]]) -> str:
        """Write the snapshot of `manifest` (files: pack name -> path in the pack -> bytes) unless it
        is there already, point the stamp at it, and remove the snapshots no worker needs; its digest.
        OSError when it cannot be written: then the stamp still names the set before."""
        digest = manifest.digest
        # parents too: a cleaner of temporary files may have removed the server's whole folder, and a
        # reload is how the server gets its packs back
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self._locked():
            before = self.named()
            if not self._holds(digest, manifest):
                self._write(digest, manifest, files)
            self._point_at(digest)
            self._remove_all_but({digest, before})
        return digest

    @contextlib.contextmanager
    def serving(self):
        """Around a server's life: its stamp and snapshots are its own (InUse when another server
        holds them: one on the same address, which this one would fail to bind anyway, must not see
        its packs replaced or removed), and are removed when it stops. A server killed without its
        clean-up leaves them; the lock goes with the process, and the next server replaces them."""
        self.root.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(self.root / _SERVER, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise InUse(str(self.stamp)) from None
            try:
                yield self
            finally:
                with contextlib.suppress(OSError):
                    os.remove(self.stamp)
                shutil.rmtree(self.root, ignore_errors=True)
        finally:
            os.close(fd)

    def _holds(self, digest: str, manifest: Manifest) -> bool:
        try:
            return (self.folder(digest) / MANIFEST).read_bytes() == manifest.text()
        except OSError:
            return False

    def _write(self, digest: str, manifest: Manifest, files: Mapping[str, Mapping[str, bytes]]) -> None:
        new = Path(tempfile.mkdtemp(prefix=_NEW, dir=self.root))
        try:
            for i, pack in enumerate(manifest.packs):
                base = new / pack_folder(i, pack.folder)
                for rel, data in files[pack.name].items():
                    path = base.joinpath(*_parts(rel))
                    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                    path.write_bytes(data)
            (new / MANIFEST).write_bytes(manifest.text())  # last: a snapshot with a manifest is whole
            target = self.folder(digest)
            shutil.rmtree(target, ignore_errors=True)  # not ours whole (checked above): written again
            os.rename(new, target)
        except BaseException:
            shutil.rmtree(new, ignore_errors=True)
            raise

    def _point_at(self, digest: str) -> None:
        fd, tmp = tempfile.mkstemp(prefix=f".{self.stamp.name}.", dir=self.stamp.parent)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(digest + "\n")
            os.replace(tmp, self.stamp)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise

    def _remove_all_but(self, keep: set[str | None]) -> None:
        # Under the lock no other process is writing one: a `.new-` folder left is a publisher's that died.
        # Never an error: the stamp already names the new set, and one left behind is only disk.
        try:
            entries = list(os.scandir(self.root))
        except OSError:
            return
        for entry in entries:
            if entry.name not in (_LOCK, _SERVER) and entry.name not in keep:
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, ignore_errors=True)
                    else:
                        os.remove(entry.path)

    @contextlib.contextmanager
    def _locked(self):
        if fcntl is None:
            yield
            return
        fd = os.open(self.root / _LOCK, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # and the lock with it


def _parts(rel: str) -> tuple[str, ...]:
    """A path in the pack as the loader names it, checked to stay inside the pack's folder."""
    parts = PurePosixPath(rel).parts
    if not parts or PurePosixPath(rel).is_absolute() or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"not a path inside a pack: {rel!r}")
    return parts
