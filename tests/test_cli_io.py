"""The installed `benefits` command when stdin or stdout cannot be used: a closed pipe, a closed stdin or
stdout, a full disk, an encoding that cannot show the text. Each is exit 4 (an I/O error), never 0
(a settlement silently lost), 1 (a failed case) or 3 (a bug); each but the closed pipe says so on stderr.

Real processes under bash, since these are properties of file descriptors a test runner cannot fake.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, RULES

EXIT_IO = 4
SCRIPT = Path(sys.executable).parent / "benefits"
JA18 = ROOT / "tests" / "cases" / "jiangmen" / "ja-18-line-items-resident-l3.yaml"
CLAIM = [str(ROOT / "examples" / "resident-level3-inpatient.yaml"), "--rules", str(RULES / "jiangmen"),
         "--accumulators", str(ROOT / "examples" / "resident-level3-accumulators.yaml")]

pytestmark = pytest.mark.skipif(os.name != "posix" or not shutil.which("bash") or not SCRIPT.exists(),
                                reason="needs bash and the installed console script")


def benefits(shell: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `benefits ARGS` inside the bash command `shell`, where "$@" stands for `benefits ARGS`."""
    env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    return subprocess.run(["bash", "-c", shell, "bash", str(SCRIPT), *args], capture_output=True, env=env,
                          timeout=120, check=False)


def said(done: subprocess.CompletedProcess) -> str:
    return done.stderr.decode("utf-8", "replace")


def not_a_bug(done: subprocess.CompletedProcess) -> None:
    assert "internal error" not in said(done) and "Traceback" not in said(done), said(done)


@pytest.fixture
def passing_cases(tmp_path):
    """Eight passing cases whose lines (64 KB descriptions) fill a pipe long before the last one."""
    folder = tmp_path / "cases"
    folder.mkdir()
    text = JA18.read_text(encoding="utf-8")
    long = "description: " + "x" * 65536 + "\n"
    for n in range(8):
        lines = [long if line.startswith("description:") else line for line in text.splitlines(keepends=True)]
        (folder / f"case-{n}.yaml").write_text("".join(lines), encoding="utf-8")
    return folder


def test_check_into_a_closed_pipe_is_an_io_error_not_a_failed_case(passing_cases):
    everything = benefits('"$@" >/dev/null', "check", str(passing_cases), "--rules-root", str(RULES))
    assert everything.returncode == 0, said(everything)  # every case passes
    # the reader takes one line and goes: the rest of the output meets a closed pipe (EPIPE)
    done = benefits('"$@" | head -n 1 >/dev/null; exit "${PIPESTATUS[0]}"',
                    "check", str(passing_cases), "--rules-root", str(RULES))
    assert done.returncode != 1 and done.returncode == EXIT_IO, said(done)
    assert said(done) == ""  # quiet, like Unix tools: the reader stopped on purpose


def test_closed_stdin_is_an_io_error_naming_stdin():
    done = benefits('"$@" <&-', "calc", "-", "--rules", str(RULES / "jiangmen"))
    assert done.returncode == EXIT_IO, said(done)
    assert "stdin" in said(done)
    not_a_bug(done)


@pytest.mark.parametrize("args", [["calc", *CLAIM], ["check", str(JA18), "--rules-root", str(RULES)],
                                  ["--help"], ["calc", "--help"], ["--version"]])  # typer's own: exit 0 to nowhere
def test_closed_stdout_is_an_io_error_not_a_silent_success(args):
    done = benefits('"$@" >&-', *args)
    assert done.returncode == EXIT_IO, said(done)
    assert "stdout" in said(done)
    not_a_bug(done)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
@pytest.mark.parametrize("args", [["calc", *CLAIM], ["check", str(JA18), "--rules-root", str(RULES)],
                                  ["schema", "claim"], ["--help"]])
def test_a_full_disk_is_an_io_error_naming_it(args):
    done = benefits('"$@" >/dev/full', *args)
    assert done.returncode == EXIT_IO, said(done)
    assert "cannot write output" in said(done) and os.strerror(errno.ENOSPC) in said(done)
    not_a_bug(done)
    assert said(done).count("\n") == 1  # one line: no 'Exception ignored' from Python's flush at exit


def test_an_encoding_that_cannot_show_the_text_is_a_clear_io_error():
    latin1 = {"PYTHONIOENCODING": "latin-1"}
    done = benefits('"$@"', "calc", *CLAIM, env=latin1)  # Chinese labels by default
    assert done.returncode == EXIT_IO, said(done)
    assert done.stdout == b""  # nothing half-written
    assert "PYTHONIOENCODING=utf-8" in said(done)
    not_a_bug(done)
    for args in (["calc", *CLAIM, "--lang", "en"], ["calc", *CLAIM, "--json"], ["explain", *CLAIM, "--lang", "en"]):
        done = benefits('"$@"', *args, env=latin1)
        # English may fit in latin-1; whatever does not is the same clear error, never a bug or empty success
        assert done.returncode in (0, EXIT_IO), (args, said(done))
        assert (done.returncode == 0 and done.stdout) or "PYTHONIOENCODING=utf-8" in said(done), args
        not_a_bug(done)


@pytest.mark.parametrize("args", [["--help"], ["calc", "--help"], ["schema", "claim"], ["calc", *CLAIM]])
def test_a_pipe_closed_before_any_output_is_a_quiet_io_error(args):
    # the reader is gone before the first write: every write meets EPIPE, whoever writes it (typer's
    # help included, which typer itself would answer with exit 1, a failed case's code)
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run([str(SCRIPT), *args], stdout=write, stderr=subprocess.PIPE, timeout=120, check=False,
                              env={**os.environ, "NO_COLOR": "1"})
    finally:
        os.close(write)
    assert done.returncode == EXIT_IO, said(done)
    assert said(done) == ""
