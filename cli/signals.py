"""SIGTERM ends a command through its clean-up, as Ctrl-C does, not at once.

`timeout`, `kill` and service managers send SIGTERM, whose default action ends the process where it
stands: a simulation's bucketed input (gigabytes, in the temporary directory) and a server's snapshots
stayed behind. Raised as SystemExit(128 + signal), it runs every `finally` on the way out, and the exit
code is still the one a shell reports for the signal (143).

Two places need more than raising where the signal lands. Within `uninterrupted()` (moving finished
reports into place) the signal waits for the block's end: raised between two moves, it left one run's
reports beside another's. And an exception raised inside a garbage-collector callback or a finaliser
is printed and dropped by Python, so the signal is also noted, and the command ends when it next asks
(`uninterrupted()`'s start, the block's end), not with exit 0.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

_received: list[int] = []  # the signal noted, until the command ends on it
_held = 0  # depth of uninterrupted() blocks


def exit_on_signal(signum, frame) -> None:
    if not _received:
        _received.append(signum)
    if not _held:
        raise SystemExit(128 + signum)


def _end_if_received() -> None:
    if _received:
        raise SystemExit(128 + _received[0])


@contextlib.contextmanager
def cleaned_up_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM raises SystemExit; the handler before is put back after it. Only the
    main thread may set a handler: elsewhere (a command run from another thread) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _received.clear()
    previous = signal.signal(signal.SIGTERM, exit_on_signal)
    try:
        yield
        _end_if_received()  # one dropped where it landed (a collector's callback) ends the command here
    finally:
        signal.signal(signal.SIGTERM, previous)
        _received.clear()


@contextlib.contextmanager
def uninterrupted() -> Iterator[None]:
    """A block SIGTERM does not cut in two: a signal noted before it ends the command before it starts,
    one that arrives during it ends the command once it is done."""
    global _held
    _end_if_received()
    _held += 1
    try:
        yield
    finally:
        _held -= 1
    _end_if_received()
