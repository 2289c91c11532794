"""Command-line conventions: --version, shell completion, and `check`'s -k, --junit, --json, the file:line
of each differing expected value, one message for a missing rules root, and the progress bar.

Amounts come from the hand-computed case tests/cases/jiangmen/ja-18-line-items-resident-l3.yaml
(basic 5252.34, patient 7498.81); the failing copy expects 5252.35 and 7498.80.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib.metadata import version
from pathlib import Path

import pytest
import benefits_cli.check_output
from benefits_cli.app import app
from conftest import ROOT, RULES
from typer.testing import CliRunner

try:
    runner = CliRunner(mix_stderr=False)
except TypeError:
    runner = CliRunner()

JA18 = ROOT / "tests" / "cases" / "jiangmen" / "ja-18-line-items-resident-l3.yaml"


def run(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


@pytest.fixture
def cases(tmp_path):
    """a-pass.yaml (ja-18 as is), b-fail.yaml (two expected values changed), c-other.yaml (ja-18, claim id c-other)."""
    folder = tmp_path / "cases"
    folder.mkdir()
    text = JA18.read_text(encoding="utf-8")
    (folder / "a-pass.yaml").write_text(text, encoding="utf-8")
    (folder / "b-fail.yaml").write_text(
        text.replace("basic: 5252.34", "basic: 5252.35").replace("patient: 7498.81", "patient: 7498.80"), encoding="utf-8")
    (folder / "c-other.yaml").write_text(text.replace("id: c-ja18", "id: c-other"), encoding="utf-8")
    return folder


def line_of(path, fragment):
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if fragment in line)


# --- --version, completion --------------------------------------------------------------------------


def test_version_from_the_package_metadata():
    r = run("--version")
    assert r.exit_code == 0
    assert r.stdout == f"benefits {version('benefits')}\n"


def test_shell_completion_is_offered(monkeypatch):
    r = run("--help")
    assert r.exit_code == 0 and "--install-completion" in r.stdout and "--show-completion" in r.stdout
    # Typer finds the shell among this process's ancestors, and there may be none (a CI runner, a
    # service manager); its documented switch for tests makes the option take the shell named.
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    r = run("--show-completion", "bash")
    assert r.exit_code == 0 and "complete" in r.stdout and "_BENEFITS_COMPLETE" in r.stdout


# --- file:line of each differing expected value -------------------------------------------------------


def test_a_failure_names_the_line_of_each_expected_value(cases):
    r = run("check", cases / "b-fail.yaml", "--rules-root", RULES)
    assert r.exit_code == 1
    fail = cases / "b-fail.yaml"
    lines = [line.strip() for line in r.stdout.splitlines()]
    assert f"{fail}:{line_of(fail, 'basic: 5252.35')}: payouts.basic: expected 5252.35, got 5252.34" in lines
    assert f"{fail}:{line_of(fail, 'patient: 7498.80')}: patient: expected 7498.80, got 7498.81" in lines


# --- -k ------------------------------------------------------------------------------------------------


def test_k_selects_by_file_name(cases):
    r = run("check", cases, "--rules-root", RULES, "-k", "FAIL")  # ignoring case, as pytest -k
    assert r.exit_code == 1
    assert [line.split()[0] for line in r.stdout.splitlines() if line[:1] in "Fo"] == ["FAIL"]
    assert r.stdout.splitlines()[-1] == "1 case: 0 passed, 1 failed, 2 deselected (-k)"


def test_k_selects_by_claim_id(cases):
    r = run("check", cases, "--rules-root", RULES, "-k", "c-other")
    assert r.exit_code == 0
    assert "c-other.yaml" in r.stdout and "a-pass.yaml" not in r.stdout
    assert r.stdout.splitlines()[-1] == "1 case: 1 passed, 2 deselected (-k)"


def test_k_that_selects_nothing_is_bad_input(cases):
    r = run("check", cases, "--rules-root", RULES, "-k", "nothing-like-this")
    assert r.exit_code == 2 and "-k nothing-like-this: no case file name or claim id contains it (3 cases searched)" in r.stderr


# --- --json --------------------------------------------------------------------------------------------


def test_json_is_one_document_with_each_case_and_its_differences(cases):
    r = run("check", cases, "--rules-root", RULES, "--json", "-k", "fail")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)  # nothing else on stdout
    assert doc["summary"] == {"cases": 1, "passed": 0, "failed": 1, "errors": 0, "deselected": 2}
    (case,) = doc["cases"]
    assert case["status"] == "failed" and case["id"] == "c-ja18" and case["file"].endswith("b-fail.yaml")
    fail = cases / "b-fail.yaml"
    assert case["differences"] == [
        {"field": "payouts.basic", "expected": "5252.35", "actual": "5252.34", "line": line_of(fail, "basic: 5252.35")},
        {"field": "patient", "expected": "7498.80", "actual": "7498.81", "line": line_of(fail, "patient: 7498.80")},
    ]
    r = run("check", cases, "--rules-root", RULES, "--json")
    doc = json.loads(r.stdout)
    assert [(c["file"][-11:], c["status"]) for c in doc["cases"]] == [
        ("a-pass.yaml", "passed"), ("b-fail.yaml", "failed"), ("-other.yaml", "passed")]


def test_json_reports_a_case_that_cannot_be_read(cases):
    (cases / "d-bad.yaml").write_text(JA18.read_text(encoding="utf-8").replace("scheme: resident", "scheme: residnt"),
                                      encoding="utf-8")
    r = run("check", cases, "--rules-root", RULES, "--json")
    assert r.exit_code == 2
    bad = json.loads(r.stdout)["cases"][-1]
    assert bad["status"] == "error" and bad["id"] is None and "[claim.member.scheme]" in bad["error"]


# --- --junit -------------------------------------------------------------------------------------------


def test_junit_report_one_testcase_a_case_failures_with_the_fields(cases, tmp_path):
    (cases / "d-bad.yaml").write_text("description: [\n", encoding="utf-8")
    report = tmp_path / "report.xml"
    r = run("check", cases, "--rules-root", RULES, "--junit", report)
    assert r.exit_code == 2  # bad input outranks a failure; the text output is still printed
    assert r.stdout.splitlines()[-1] == "4 cases: 2 passed, 1 failed, 1 not run (bad input)"
    root = ET.parse(report).getroot()
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "1", "1")
    by_name = {c.get("name"): c for c in suite.findall("testcase")}
    assert sorted(by_name) == ["a-pass.yaml", "b-fail.yaml", "c-other.yaml", "d-bad.yaml"]
    assert by_name["a-pass.yaml"].find("failure") is None and by_name["a-pass.yaml"].find("error") is None
    failure = by_name["b-fail.yaml"].find("failure")
    assert failure.get("message") == "2 fields differ: payouts.basic, patient"
    assert "payouts.basic" in failure.text and "5252.35" in failure.text and "5252.34" in failure.text
    assert f"b-fail.yaml:{line_of(cases / 'b-fail.yaml', 'patient: 7498.80')}: patient" in failure.text
    assert "not valid YAML" in by_name["d-bad.yaml"].find("error").get("message")


def test_junit_report_that_cannot_be_written_whole_leaves_the_old_one(cases, tmp_path):
    # the report was written in place: a size limit left 2 KB of truncated XML where the old report was
    report = tmp_path / "report.xml"
    report.write_text("<old/>", encoding="utf-8")
    limit = 1024

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run([sys.executable, "-m", "benefits", "check", str(cases), "--rules-root", str(RULES),
                           "--junit", str(report)], capture_output=True, text=True, preexec_fn=small_files)
    assert done.returncode == 2 and "cannot write the report" in done.stderr, done.stderr
    assert report.read_text(encoding="utf-8") == "<old/>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cases", "report.xml"]  # no piece left beside it
    whole = subprocess.run([sys.executable, "-m", "benefits", "check", str(cases), "--rules-root", str(RULES),
                            "--junit", str(report)], capture_output=True, text=True)
    assert whole.returncode == 1 and len(report.read_bytes()) > limit  # the report the limit cut
    assert ET.parse(report).getroot().find("testsuite").get("tests") == "3"


def test_junit_report_holds_what_xml_cannot_as_escapes(cases, tmp_path):
    # U+FFFE in a description made the report XML that no parser reads
    case = cases / "a-pass.yaml"
    text = case.read_text(encoding="utf-8")
    case.write_text(text.replace("description: ", 'description: "odd \\ufffe and \\uffff" #', 1), encoding="utf-8")
    report = tmp_path / "report.xml"
    run("check", case, "--rules-root", RULES, "--junit", report)
    [prop] = [p for p in ET.parse(report).iter("property") if p.get("name") == "description"]
    assert prop.get("value") == "odd \\ufffe and \\uffff"


def test_junit_to_a_folder_that_does_not_exist_is_bad_input(cases, tmp_path):
    r = run("check", cases / "a-pass.yaml", "--rules-root", RULES, "--junit", tmp_path / "no" / "report.xml")
    assert r.exit_code == 2 and "--junit" in r.stderr and "cannot write the report" in r.stderr


def test_junit_to_a_pipe_or_through_a_link_keeps_what_is_there(cases, tmp_path):
    # The report was written beside the name and moved over it: a FIFO (or, as root, /dev/null itself)
    # became a regular file, and a link to a report became a file of its own.
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    r = run("check", cases / "a-pass.yaml", "--rules-root", RULES, "--junit", fifo)
    reader.join(10)
    assert r.exit_code == 0 and stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert ET.fromstring(got[0]).find("testsuite").get("tests") == "1"
    kept = tmp_path / "reports" / "report.xml"
    kept.parent.mkdir()
    kept.write_text("<old/>", encoding="utf-8")
    os.chmod(kept, 0o640)
    link = tmp_path / "latest.xml"
    link.symlink_to(kept)
    assert run("check", cases / "a-pass.yaml", "--rules-root", RULES, "--junit", link).exit_code == 0
    assert link.is_symlink() and os.readlink(link) == str(kept)
    assert ET.parse(kept).getroot().find("testsuite").get("tests") == "1"
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o640  # a report replaced keeps its mode
    assert sorted(p.name for p in kept.parent.iterdir()) == ["report.xml"]


def test_junit_to_dev_stdout_is_written_to_the_stream(cases, tmp_path):
    # /dev/stdout resolves to the file the shell opened for it: the report was written beside that
    # file and moved over it, so a build log appended to (>>) lost its earlier lines and the check's
    # own text; into a pipe, the report was 'No such file or directory'
    command = [sys.executable, "-m", "benefits", "check", str(cases / "a-pass.yaml"), "--rules-root", str(RULES),
               "--junit", "/dev/stdout"]
    log = tmp_path / "build.log"
    log.write_text("earlier line\n", encoding="utf-8")
    with log.open("ab") as out:
        assert subprocess.run(command, stdout=out, stderr=subprocess.PIPE).returncode == 0
    text = log.read_text(encoding="utf-8")
    assert text.startswith("earlier line\nok ") and text.index("1 case: 1 passed") < text.index("<?xml")
    piped = subprocess.run(command, capture_output=True, text=True)
    assert piped.returncode == 0 and "<testsuites" in piped.stdout, piped.stderr
    # the report and the JSON after it, into one file opened with >: the JSON went out at stdout's own
    # position, over the report
    with (tmp_path / "out.txt").open("wb") as out:
        assert subprocess.run(command + ["--json"], stdout=out, stderr=subprocess.PIPE).returncode == 0
    both = (tmp_path / "out.txt").read_text(encoding="utf-8")
    xml, _, rest = both.partition("</testsuites>")
    assert ET.fromstring(xml[xml.index("<testsuites"):] + "</testsuites>").get("tests") == "1"
    assert json.loads(rest)["summary"]["passed"] == 1
    # through a folder link: fd -> /proc/self/fd, the report at fd/1
    (tmp_path / "fd").symlink_to("/proc/self/fd")
    log.write_text("earlier line\n", encoding="utf-8")
    with log.open("ab") as out:
        assert subprocess.run(command[:-1] + [str(tmp_path / "fd" / "1")], stdout=out, stderr=subprocess.PIPE).returncode == 0
    assert log.read_text(encoding="utf-8").startswith("earlier line\nok ")
    # a regular file under /dev (a RAM disk) is a file: replaced, not appended to
    if Path("/dev/shm").is_dir():
        shm = Path("/dev/shm") / f"benefits-test-{os.getpid()}.xml"
        try:
            for _ in range(2):
                assert subprocess.run(command[:-1] + [str(shm)], capture_output=True).returncode == 0
            assert shm.read_text(encoding="utf-8").count("<?xml") == 1
        finally:
            shm.unlink(missing_ok=True)


def test_a_new_junit_report_has_the_mode_the_umask_gives(cases, tmp_path):
    # written with mkstemp's 0600, a CI's report was unreadable to the job that collects it
    old = os.umask(0o022)
    try:
        assert run("check", cases / "a-pass.yaml", "--rules-root", RULES, "--junit", tmp_path / "r.xml").exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "r.xml").st_mode) == 0o644


# --- a missing rules root: one message -------------------------------------------------------------------


def test_a_missing_rules_root_is_one_message_not_one_a_case(cases, tmp_path, monkeypatch):
    relative = cases / "e-path.yaml"
    relative.write_text(JA18.read_text(encoding="utf-8").replace("rules: jiangmen", f"rules: {RULES / 'jiangmen'}"),
                        encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # no rules/ here
    r = run("check", cases)
    assert r.exit_code == 2
    lines = r.stdout.splitlines()
    errors = [line for line in lines if line.startswith("ERROR")]
    assert len(errors) == 1 and "3 cases name a rule pack by folder name (jiangmen)" in errors[0]
    assert "--rules-root DIR" in errors[0]
    assert [line.split()[0] for line in lines[1:-1] if not line.startswith(" ")] == ["ok"]  # the case with a path still runs
    assert lines[-1] == "4 cases: 1 passed, 3 not run (bad input)"


# --- the progress bar ------------------------------------------------------------------------------------


def _many(cases, n):
    for i in range(n):
        shutil.copy(cases / "a-pass.yaml", cases / f"p{i:02}.yaml")


def test_no_progress_bar_when_stderr_is_not_a_terminal(cases):
    _many(cases, 12)
    r = run("check", cases, "--rules-root", RULES)
    assert r.stderr == "" and r.stdout.splitlines()[-1].startswith("15 cases:")


def test_a_progress_bar_on_a_terminal_for_a_long_run(cases, monkeypatch):
    monkeypatch.setattr(benefits_cli.check_output, "stderr_is_terminal", lambda: True)
    _many(cases, 12)
    r = run("check", cases, "--rules-root", RULES)
    assert "checking" in r.stderr and "15/15" in r.stderr
    assert "checking" not in r.stdout and r.stdout.splitlines()[-1] == "15 cases: 14 passed, 1 failed"
    # a short run has none
    r = run("check", cases / "a-pass.yaml", "--rules-root", RULES)
    assert r.stderr == ""
