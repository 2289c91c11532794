"""stdin and stdout: every way they can fail becomes one StreamError, which the commands turn into
exit 4 (an I/O error) with one line on stderr (none for a closed pipe, see below).

stdout can be closed (`>&-`), a pipe whose reader has gone (`| head -1`), a full disk (`>/dev/full`),
or a terminal whose encoding cannot show our text (PYTHONIOENCODING=latin-1 and Chinese labels).
None of these is a bug (exit 3), and none may pass for success (exit 0) or for a failed case (exit 1).

A closed pipe is reported quietly, like Unix tools: the reader stopped reading on purpose, so the
message is empty and nothing is printed on stderr; the exit code alone (4) says the output is incomplete.
"""

from __future__ import annotations

import os
import sys


class StreamError(Exception):
    """stdin could not be read or stdout could not be written; str() is the message, empty for a closed pipe."""


def write(text: str) -> None:
    """Write `text` and a newline to stdout, flushed now so that a failure is caught here, not at exit."""
    stream = sys.stdout
    if stream is None:  # Python sets sys.stdout to None when it starts with stdout closed (>&-)
        raise StreamError("cannot write output: stdout is closed")
    try:
        stream.write(text + "\n")
        stream.flush()
    except (UnicodeEncodeError, OSError) as exc:
        raise failed(exc) from None


def failed(exc: UnicodeEncodeError | OSError) -> StreamError:
    """The StreamError for a write to stdout that failed with `exc`; stdout is dropped, so that
    nothing still buffered fails again at exit."""
    _drop_stdout()
    if isinstance(exc, UnicodeEncodeError):
        return StreamError(_unencodable(exc, getattr(sys.stdout, "encoding", "?")))
    if isinstance(exc, BrokenPipeError):
        return StreamError("")
    return StreamError(f"cannot write output: {exc.strerror or exc}")


class GuardedStdout:
    """stdout for the console script: a write or flush that fails raises StreamError (see `failed`),
    which is no OSError. Output that typer writes itself (--help, usage) then reaches `main` as the
    I/O error it is; typer would answer a closed pipe with exit 1, the code of a failed case."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except (UnicodeEncodeError, OSError) as exc:
            raise failed(exc) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except (UnicodeEncodeError, OSError) as exc:
            raise failed(exc) from None

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


class ClosedStdout:
    """stdout when the process started with it closed (Python then sets sys.stdout to None): a write
    is the I/O error it is. Without it typer wrote its --help to nowhere and exited 0."""

    encoding = "utf-8"

    def write(self, text: str) -> int:
        raise StreamError("cannot write output: stdout is closed")

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _unencodable(exc: UnicodeEncodeError, encoding: str) -> str:
    char = exc.object[exc.start]
    return (f"cannot write output: its encoding ({encoding}) cannot show {char!r} (U+{ord(char):04X}); "
            "set PYTHONIOENCODING=utf-8 or use a UTF-8 terminal")


def _drop_stdout() -> None:
    """Point the broken stdout at /dev/null: what is still buffered would fail again in Python's flush
    at exit, which prints 'Exception ignored ...' and changes the exit code to 120."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no file descriptor (e.g. a test's captured stdout): nothing to flush later
        pass


def read_stdin(limit: int) -> bytes:
    """Up to `limit` bytes of stdin, read as a file's are: the bytes, so that the caller bounds their
    size and decodes them strictly whatever the locale (under the C locale, Python's text stdin turns
    bad bytes into surrogates). A closed or unreadable stdin is a StreamError naming it."""
    if sys.stdin is None:  # Python sets sys.stdin to None when it starts with stdin closed (<&-)
        raise StreamError("<stdin>: cannot read: stdin is closed; give a file name instead of -")
    try:
        raw = getattr(sys.stdin, "buffer", None)
        if raw is None:  # a text stream without bytes under it (a test's)
            return sys.stdin.read(limit).encode("utf-8", "surrogateescape")
        return raw.read(limit)
    except OSError as exc:
        raise StreamError(f"<stdin>: cannot read: {exc.strerror or exc}") from None
