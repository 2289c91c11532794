"""The folder a `simulate --out` run writes its reports to, written whole or left as it was.

Every file of a run is written into a folder of its own inside --out (`.benefits-run-*`); only once
all of them are written are they moved into --out, and then the other files the previous run wrote
there (named in `.benefits-simulate`, each run's list of its files) are removed. A run that fails (a
full disk, --strict refusing, an error) removes its own folder and leaves --out as it was: never a
report half written, nor one run's tables beside another's (a `refused.csv` of the run before, say).
Other files in --out are not touched, nor folders, nor anything outside it.

A run killed outright (SIGKILL, a power cut) cannot remove its folder; each folder names its owner
(`.owner`: host and process id), and a later run on the same host removes the folders of runs whose
process is gone. A folder of a live run, of another host, or with no readable owner is left alone.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import tempfile
from pathlib import Path

from benefits.whole import write_whole

MANIFEST = ".benefits-simulate"
PREFIX = ".benefits-run-"
OWNER = ".owner"


class RunFolder:
    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        _remove_abandoned(self.out)
        self.work = Path(tempfile.mkdtemp(prefix=PREFIX, dir=self.out))
        (self.work / OWNER).write_text(f"{socket.gethostname()}\n{os.getpid()}\n", encoding="utf-8")

    def path(self, name: str) -> Path:
        """Where the run writes the file `name` until it is committed."""
        return self.work / name

    def commit(self, written: list[Path]) -> list[Path]:
        """Replace the previous run's files with `written` (paths in the run's own folder); their
        paths in --out, in the same order. Every target is checked before anything moves (a folder
        where a report goes would stop the move halfway); the new files move in first, and only then
        are the previous run's other files removed."""
        final = [self.out / path.name for path in written]
        for target in final:
            if target.is_dir() and not target.is_symlink():
                raise IsADirectoryError(errno.EISDIR, f"a folder is where the report {target.name} goes", str(target))
        for path, target in zip(written, final):
            os.replace(path, target)
        names = {p.name for p in final}
        for name in self._previous():  # names only, in --out itself: never a path elsewhere, never a folder
            if name in names or name != Path(name).name or name in (MANIFEST, "") or name.startswith("."):
                continue
            old = self.out / name
            try:
                if old.is_symlink() or old.is_file():
                    old.unlink()
            except OSError:  # no such name on this file system (too long), gone, or not ours to remove
                pass
        write_whole(self.out / MANIFEST, "".join(f"{p.name}\n" for p in final))
        self.abandon()
        return final

    def abandon(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)

    def _previous(self) -> list[str]:
        try:
            return (self.out / MANIFEST).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            return []


def _remove_abandoned(out: Path) -> None:
    """Remove the run folders in `out` whose run was killed: owned by a process of this host that is gone."""
    host = socket.gethostname()
    for folder in out.glob(PREFIX + "*"):
        try:
            owner_host, pid = (folder / OWNER).read_text(encoding="utf-8").split("\n")[:2]
            if owner_host != host or folder.is_symlink() or _alive(int(pid)):
                continue
        except (OSError, ValueError, UnicodeDecodeError):  # no owner written yet, or not a run's folder
            continue
        shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return True  # not a process id we wrote: leave the folder alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, as another user's process
        return True
    return True
