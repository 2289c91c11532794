"""SIGTERM ends a command through its clean-up (cli/signals.py): never between two reports moved into
--out, and never dropped where Python drops exceptions (a finaliser, a garbage-collector callback)."""

from __future__ import annotations

import os
import signal

import pytest

from benefits_cli.signals import cleaned_up_on_sigterm, uninterrupted


def test_a_signal_during_an_uninterrupted_block_ends_the_command_once_the_block_is_done():
    # raised between two moves of RunFolder.commit, it left one run's reports beside another's in --out
    done = []
    with pytest.raises(SystemExit) as ended:
        with cleaned_up_on_sigterm():
            with uninterrupted():
                os.kill(os.getpid(), signal.SIGTERM)
                done.append("first")
                done.append("second")
            done.append("after")  # not reached: the command ends as the block ends
    assert ended.value.code == 128 + signal.SIGTERM and done == ["first", "second"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the drop is the case tested
def test_a_signal_dropped_in_a_finaliser_still_ends_the_command():
    # the handler's SystemExit raised inside a GC callback is printed and dropped by Python: the run went on
    # and committed its reports with exit 0
    class Finaliser:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGTERM)
            sum(range(1000))  # the handler runs here, inside __del__, where its exception is dropped

    reached = []
    with pytest.raises(SystemExit) as ended:
        with cleaned_up_on_sigterm():
            Finaliser()
            reached.append("went on")
            with uninterrupted():  # what comes next, the reports' commit, does not start
                reached.append("committed")
    assert ended.value.code == 128 + signal.SIGTERM and reached == ["went on"]


def test_without_a_signal_nothing_changes():
    with cleaned_up_on_sigterm():
        with uninterrupted():
            pass
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
