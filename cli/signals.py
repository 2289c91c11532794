"""SIGTERM ends a command through its clean-up, as Ctrl-C does, not at once.

`timeout`, `kill` and service managers send SIGTERM, whose default action ends the process where it
stands: a simulation's bucketed input (gigabytes, in the temporary directory) and a server's snapshots
stayed behind. Raised as SystemExit(128 + signal), it runs every `finally` on the way out, and the exit
code is still the one a shell reports for the signal (143).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator


def exit_on_signal(signum, frame) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def cleaned_up_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM raises SystemExit; the handler before is put back after it. Only the
    main thread may set a handler: elsewhere (a command run from another thread) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, exit_on_signal)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
