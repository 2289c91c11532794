"""What `benefits check` reports besides its text: which cases `-k` selects, a JUnit XML report
(`--junit FILE`), one JSON document (`--json`), and a progress bar on stderr for long runs.

Every case ends as one `CaseResult`: passed, failed (with the differing fields, each with the line
of its expected value in the case file) or error (the case file or its rule pack could not be read).
"""

from __future__ import annotations

import os
import re
import sys
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterator

from benefits.cases import Mismatch, format_mismatches
from benefits.models.case import CaseFile
from benefits.yamlio import Locator

from .text import visible

PROGRESS_FROM = 10
"""A run of at least this many cases shows a progress bar (when stderr is a terminal)."""


@dataclass
class CaseResult:
    path: Path
    shown: str  # the file as the output names it (relative to the working folder when it can be)
    case: CaseFile | None = None
    status: str = "error"  # passed, failed or error
    mismatches: list[Mismatch] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    locator: Locator | None = None  # of the case file, to find the line of each expected value

    @property
    def case_id(self) -> str | None:
        return self.case.claim.id if self.case is not None else None


def selected(keyword: str | None, shown: str, case: CaseFile | None) -> bool:
    """Whether `-k keyword` keeps a case: its file name (as shown) or its claim id contains the keyword,
    ignoring case, as pytest's -k does for a plain word."""
    if not keyword:
        return True
    word = keyword.casefold()
    return word in shown.casefold() or (case is not None and word in case.claim.id.casefold())


def where_lines(result: CaseResult) -> list[str]:
    """`file:line: field: expected E, got A` for each differing field whose expected value has a line:
    an editor or a CI log links them to the value to look at."""
    return [f"{result.shown}:{m.line}: {m.field}: expected {m.expected}, got {m.actual}"
            for m in result.mismatches if m.line]


def _plain(value: object) -> object:
    """A value for JSON: amounts as strings (as `calc --json` writes them), counts as numbers."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    return str(value)


def json_document(results: list[CaseResult], deselected: int) -> dict:
    """The whole run as one JSON document: each case with its status and differences, and the counts."""
    cases = []
    for r in results:
        cases.append({
            "file": r.shown,
            "id": r.case_id,
            "description": r.case.description if r.case is not None else None,
            "status": r.status,
            "differences": [{"field": m.field, "expected": _plain(m.expected), "actual": _plain(m.actual),
                             "line": m.line} for m in r.mismatches],
            "error": r.error,
            "seconds": round(r.seconds, 4),
        })
    counts = {s: sum(r.status == s for r in results) for s in ("passed", "failed", "error")}
    return {"cases": cases,
            "summary": {"cases": len(results), "passed": counts["passed"], "failed": counts["failed"],
                        "errors": counts["error"], "deselected": deselected}}


_NOT_XML = re.compile("[\ufffe\uffff\ud800-\udfff]")  # what visible() keeps that XML 1.0 cannot hold


def _xml(text: str, newlines: bool = False) -> str:
    """Text from input files as XML 1.0 holds it: made visible, and U+FFFE, U+FFFF and lone surrogates
    written as \\uXXXX (ElementTree writes them as they are, and the report no longer parses)."""
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", visible(text, newlines=newlines))


def junit_xml(results: list[CaseResult], seconds: float) -> str:
    """A JUnit XML report: one testcase a case (classname its folder, name its file), a <failure> with
    the differing fields for a failed case, an <error> for a case that could not be run. Text from
    input files is made visible (XML 1.0 cannot hold most control characters)."""
    failures = sum(r.status == "failed" for r in results)
    errors = sum(r.status == "error" for r in results)
    counts = {"tests": str(len(results)), "failures": str(failures), "errors": str(errors), "skipped": "0",
              "time": f"{seconds:.3f}"}
    suites = ET.Element("testsuites", {"name": "benefits check", **counts})
    suite = ET.SubElement(suites, "testsuite", {"name": "benefits check", **counts})
    for r in results:
        shown = r.shown.replace(os.sep, "/")
        folder, _, name = shown.rpartition("/")
        attrs = {"classname": _xml(folder.strip("/").replace("/", ".") or "."), "name": _xml(name), "file": _xml(shown),
                 "time": f"{r.seconds:.3f}"}
        case = ET.SubElement(suite, "testcase", attrs)
        if r.case is not None:
            props = ET.SubElement(case, "properties")
            ET.SubElement(props, "property", {"name": "description", "value": _xml(r.case.description)})
            ET.SubElement(props, "property", {"name": "claim_id", "value": _xml(r.case.claim.id)})
        if r.status == "failed":
            fields = ", ".join(m.field for m in r.mismatches)
            n = len(r.mismatches)
            failure = ET.SubElement(case, "failure", {
                "type": "mismatch", "message": _xml(f"{n} field{'s' if n != 1 else ''} differ{'s' if n == 1 else ''}: {fields}")})
            failure.text = _xml("\n".join([format_mismatches(r.mismatches), *where_lines(r)]), newlines=True)
        elif r.status == "error":
            error = ET.SubElement(case, "error", {"type": "bad input", "message": _xml((r.error or "").split("\n")[0])})
            error.text = _xml(r.error or "", newlines=True)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _is_terminal(stream) -> bool:
    if stream is None or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def stderr_is_terminal() -> bool:
    return _is_terminal(sys.stderr)


@contextmanager
def progress(total: int) -> Iterator[Callable[[], None]]:
    """A function to call once a case is done: it advances a progress bar on stderr when the run has
    at least PROGRESS_FROM cases and stderr is a terminal; otherwise it does nothing. The bar is removed
    when the run ends; while it runs, lines written to stdout (when stdout is the same terminal) are
    printed above it."""
    if total < PROGRESS_FROM or not stderr_is_terminal():
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(file=sys.stderr, force_terminal=True)
    bar = Progress(TextColumn("checking"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console, transient=True, redirect_stdout=_is_terminal(sys.stdout), redirect_stderr=False)
    with bar:
        task = bar.add_task("check", total=total)
        yield lambda: bar.advance(task)
