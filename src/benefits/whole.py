"""Files written whole or not at all: a report is written beside its final name and moved into place
(`os.replace`, atomic on one file system), so a full disk, a size limit or a crash midway leaves the
file as it was, never a truncated report read as a complete one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_whole(path: str | Path, data: str | bytes) -> None:
    """Write `data` (text as UTF-8) to `path`, replacing what was there only once all of it is written.
    Raises OSError, with nothing changed at `path`."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
