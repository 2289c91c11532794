"""Files written whole or not at all: a report is written beside its final name and moved into place
(`os.replace`, atomic on one file system), so a full disk, a size limit or a crash midway leaves the
file as it was, never a truncated report read as a complete one.

Only a regular file is replaced. A name that links to a file is written through (the link stays a
link, the file it names is replaced); a device, a pipe or a stream (`/dev/null`, a FIFO, `/dev/stdout`
and what it names, a file the shell opened with `>>`) is written to as it is, at its end: replacing it
would destroy it (as root, `/dev/null` itself; a build log behind `/dev/stdout`), and nothing
half-written stays behind in it to be read later.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path


def write_whole(path: str | Path, data: str | bytes) -> None:
    """Write `data` (text as UTF-8) to `path`, replacing what was there only once all of it is written.
    Raises OSError, with nothing changed at `path`."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        mode = os.stat(path).st_mode  # links followed from the name as given: /dev/stdout is the stream
    except FileNotFoundError:
        mode = None
    target = Path(os.path.realpath(path))
    if mode is not None and not stat.S_ISDIR(mode) and (not stat.S_ISREG(mode) or _names_a_stream(path)):
        with open(path, "ab") as f:  # nothing to replace: written at its end, as the shell's >> would
            f.write(raw)
        return
    _replace(target, raw, None if mode is None else stat.S_IMODE(mode))


def _names_a_stream(path: str | Path) -> bool:
    """Whether the name, or a link on the way from it, is in /dev or /proc: /dev/stdout names the
    process's open stream (whatever file the shell opened for it), not a file to replace."""
    here = Path(os.path.abspath(path))
    for _ in range(40):  # as many links as the system follows
        if here.is_relative_to("/dev") or here.is_relative_to("/proc"):
            return True
        if not here.is_symlink():
            return False
        here = Path(os.path.abspath(here.parent / os.readlink(here)))
    return False


def _replace(target: Path, raw: bytes, mode: int | None) -> None:
    """Write beside `target`, then move into its place: a new file gets the mode the user's umask gives
    (as any file the shell makes), a file replaced keeps its own."""
    tmp = target.parent / f".{target.name[:100]}.{secrets.token_hex(6)}.partial"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
