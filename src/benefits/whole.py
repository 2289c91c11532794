"""Files written whole or not at all: a report is written beside its final name and moved into place
(`os.replace`, atomic on one file system), so a full disk, a size limit or a crash midway leaves the
file as it was, never a truncated report read as a complete one.

Only a regular file is replaced. A name that links to a file is written through (the link stays a
link, the file it names is replaced). A device or a pipe (`/dev/null`, a FIFO) is written to as it is,
and so is a name of an open stream (`/dev/stdout`, `/dev/fd/1`, `/proc/self/fd/1`, whatever file the
shell opened for it): replacing it would destroy it (as root, `/dev/null` itself; a build log behind
`/dev/stdout`), and nothing half-written stays behind in it to be read later. The process's own
stdout or stderr is written through the stream itself, after what it already holds, so that what is
printed next follows the report instead of overwriting it.
"""

from __future__ import annotations

import os
import secrets
import stat
import sys
from pathlib import Path

# Names that stand for a process's open files: through them a path names a stream, not a file.
_STREAM_NAMES = (Path("/dev/fd"), Path("/dev/stdin"), Path("/dev/stdout"), Path("/dev/stderr"))


def write_whole(path: str | Path, data: str | bytes) -> None:
    """Write `data` (text as UTF-8) to `path`, replacing what was there only once all of it is written.
    Raises OSError, with nothing changed at `path`."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        found = os.stat(path)  # links followed from the name as given: /dev/stdout is the stream
    except FileNotFoundError:
        found = None
    if found is not None and not stat.S_ISDIR(found.st_mode) and (not stat.S_ISREG(found.st_mode) or _names_a_stream(path)):
        own = _own_stream(found)
        if own is not None:
            own.flush()
            own.buffer.write(raw)
            own.flush()
            return
        with open(path, "ab") as f:  # nothing to replace: written at its end, as the shell's >> would
            f.write(raw)
        return
    _replace(Path(os.path.realpath(path)), raw, None if found is None else stat.S_IMODE(found.st_mode))


def _own_stream(found: os.stat_result):
    """This process's stdout or stderr when it is the file `found` (None otherwise)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            mine = os.fstat(stream.fileno())
        except (AttributeError, OSError, ValueError):  # closed, or not a real file
            continue
        if (mine.st_dev, mine.st_ino) == (found.st_dev, found.st_ino) and hasattr(stream, "buffer"):
            return stream
    return None


def _names_a_stream(path: str | Path) -> bool:
    """Whether the name, or a link or folder link on the way from it, is a process's open file: one of
    /dev/fd, /dev/stdin, /dev/stdout, /dev/stderr or /proc/<pid>/fd/<n>."""
    here = Path(os.path.abspath(path))
    for _ in range(40):  # as many links as the system follows
        if any(here.is_relative_to(name) for name in _STREAM_NAMES) or _in_proc_fd(here):
            return True
        folder = Path(os.path.realpath(here.parent))  # a folder link on the way (fdd -> /proc/self/fd)
        if folder != here.parent:
            here = folder / here.name
            continue
        if not here.is_symlink():
            return False
        here = Path(os.path.abspath(here.parent / os.readlink(here)))
    return False


def _in_proc_fd(path: Path) -> bool:
    parts = path.parts
    return len(parts) >= 4 and parts[1] == "proc" and parts[3] == "fd"


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
