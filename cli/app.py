"""The `benefits` command line: settle a claim, explain it, run case files, inspect rule packs.

Exit codes: 0 ok; 1 a case failed (`check`); 2 bad input (an unreadable file, an invalid claim,
accumulators or case, an invalid rule pack, a claim date no version of the rules covers);
3 an internal error (a bug: please report it with the output of --debug); 4 an I/O error: stdin could
not be read or stdout could not be written (closed, a full disk, an encoding that cannot show the text,
a closed pipe), so the output is missing or incomplete. A closed pipe (`benefits check ... | head -1`)
exits 4 quietly, with nothing on stderr, like Unix tools; the others print one line naming the problem.

Besides the library's public API it uses modules the library does not export (cli/README.md).
"""

from __future__ import annotations

import datetime as dt
import gc
import sys
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

import benefits
from benefits import (
    Accumulators,
    BenefitsError,
    Claim,
    ClaimError,
    RuleFileError,
    RulePack,
    Settlement,
)
from benefits.errors import Problem, listed
from benefits.whole import write_whole
from benefits.yamlio import is_dir, is_file

from . import inputs
from .arguments import day
from .lazy import lazy_group
from .render import case_text, pack_text, settlement_text, trace_text, wrapped
from . import streams
from .streams import StreamError, write
from .text import Paint, color_enabled, json_text, visible

if TYPE_CHECKING:
    from benefits.models.case import CaseFile

    from .check_output import CaseResult

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_IO = 0, 1, 2, 3, 4

# Each command is a Typer of its own, built (and its module imported) only when it is run or listed:
# `benefits calc` builds calc alone (cli/lazy.py). In the order `benefits --help` lists them.
COMMANDS = {
    "calc": "benefits_cli.app:calc_command",
    "explain": "benefits_cli.app:explain_command",
    "check": "benefits_cli.app:check_command",
    "schema": "benefits_cli.app:schema_command",
    "serve": "benefits_cli.serve_cmd:serve_command",
    "settle": "benefits_cli.ledger_cmds:settle_command",
    "reverse": "benefits_cli.ledger_cmds:reverse_command",
    "simulate": "benefits_cli.simulate_cmd:simulate_command",
    "rules": "benefits_cli.app:rules_app",
    "ledger": "benefits_cli.ledger_cmds:ledger_app",
}

app = typer.Typer(
    cls=lazy_group(COMMANDS),
    name="benefits",
    help=(
        "Settle Chinese medical-insurance claims layer by layer (basic fund, serious illness, medical aid, "
        "secondary aid) under a declarative rule pack, and explain every number.\n\n"
        "Example: benefits calc examples/resident-level3-inpatient.yaml --rules rules/jiangmen "
        "--accumulators examples/resident-level3-accumulators.yaml\n\n"
        "Exit codes: 0 ok, 1 a case failed (check), 2 bad input, 3 internal error, "
        "4 I/O error (stdin unreadable or stdout unwritable; quiet for a closed pipe)."
    ),
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish and PowerShell
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
rules_app = typer.Typer(
    name="rules",
    help="Check a rule pack and show its parameters.\n\n"
         "Example: benefits rules validate rules/jiangmen",
    no_args_is_help=True,
    add_completion=False,
    cls=lazy_group({"diff": "benefits_cli.simulate_cmd:diff_command"}),
)


def package_version() -> str:
    """The installed package's version (its metadata), as `benefits --version` prints it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("benefits")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _print_version(value: bool) -> None:
    if value:
        write(f"benefits {package_version()}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(version: Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=_print_version,
        help="Print the version (benefits <version>) and exit.")] = False) -> None:
    """The options before any command."""


class Lang(str, Enum):
    zh = "zh"
    en = "en"


class SchemaName(str, Enum):
    claim = "claim"
    accumulators = "accumulators"
    settlement = "settlement"
    case = "case"


SCHEMAS = {"claim": "claim_schema", "accumulators": "accumulators_schema", "settlement": "calc_output_schema",
           "case": "case_schema"}
"""Each format's function in benefits.models.schema, imported by `schema` alone."""

ClaimArg = Annotated[str, typer.Argument(
    metavar="CLAIM", show_default=False, help="The claim: a YAML or JSON file, or - to read it from stdin.")]
RulesOpt = Annotated[str | None, typer.Option(
    "--rules", "-r", metavar="DIR", envvar="BENEFITS_RULES", show_default=False, show_envvar=True,
    help="The rule pack folder, e.g. rules/jiangmen. Required, unless BENEFITS_RULES names it or CLAIM is a "
         "case file (its `rules:`).")]
AccOpt = Annotated[str | None, typer.Option(
    "--accumulators", "-a", metavar="FILE", show_default=False,
    help="The member's year-to-date accumulators before the claim (YAML or JSON, - for stdin). "
         "Default: nothing used yet this year.")]
LangOpt = Annotated[Lang, typer.Option("--lang", "-l", help="Language of the labels and explanations.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show the Python traceback of an error.")]


# --- errors -----------------------------------------------------------------------------------


def _stderr(text: str) -> None:
    try:
        typer.echo(text, err=True)
    except (OSError, ValueError):  # stderr itself is unusable: the exit code is all we can still give
        pass


def _error(message: str) -> None:
    """The message on stderr, `error: ` before each line; it may quote input, so it is made visible."""
    paint = Paint(color_enabled(sys.stderr))
    for line in visible(message, newlines=True).splitlines() or [""]:
        _stderr(f"{paint('error:', 'red', 'bold')} {line}")


def _traceback() -> None:
    """The current exception's traceback on stderr (--debug); it may quote input, so it is made visible."""
    _stderr(visible(traceback.format_exc(), newlines=True).rstrip("\n"))


@contextmanager
def guard(debug: bool):
    """Bad input -> one message naming file, line and field, exit 2; stdin or stdout unusable -> exit 4;
    a bug -> exit 3. --debug adds the traceback."""
    try:
        yield
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except StreamError as exc:
        if str(exc):  # empty for a closed pipe: the reader stopped on purpose, no news to report
            _error(str(exc))
        raise typer.Exit(EXIT_IO) from None
    except RuleFileError as exc:
        if debug:
            _traceback()
        _error(rule_problems(exc))
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except BenefitsError as exc:
        if debug:
            _traceback()
        _error(str(exc))
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except Exception as exc:  # noqa: BLE001 - any other error is a bug: say so, exit 3
        if debug:
            _traceback()
        _error(f"internal error (a bug, not your input): {type(exc).__name__}: {exc}"
               + ("" if debug else "; run again with --debug for the traceback"))
        raise typer.Exit(EXIT_INTERNAL) from None


def rule_problems(exc: RuleFileError, directory: str | None = None) -> str:
    """A pack's problems, one a line (the first 50, then a count), with paths the user can open from here."""
    def line(p: Problem) -> str:
        name = p.file
        if directory is not None:
            here = Path(directory).parent / p.file
            name = str(here) if is_file(here) or is_dir(here) else p.file
        at = f"{name}:{p.line}" if p.line else name
        return f"{at}{f' [{p.where}]' if p.where else ''}: {p.message}"

    return "\n".join(listed(exc.problems, line, "problems"))


def load_pack(directory: str) -> RulePack:
    try:
        return benefits.load_rules(directory)
    except RuleFileError as exc:
        count = len(exc.problems)
        raise BenefitsError(f"rule pack {directory} is invalid ({count} problem{'s' if count != 1 else ''}):\n"
                            + rule_problems(exc, directory)) from None


# --- calc and explain -------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimInput:
    """What `calc` and `explain` settle: the claim and accumulators validated, the documents they came
    from (for the lines of later errors), and the rule pack folder."""

    claim: Claim
    claim_doc: inputs.Document
    accumulators: Accumulators | None
    accumulators_doc: inputs.Document | None
    rules: str

    @property
    def docs(self) -> dict[str, inputs.Document | None]:
        return {"claim": self.claim_doc, "accumulators": self.accumulators_doc}


NO_RULES = "--rules DIR is required (or BENEFITS_RULES): the rule pack folder, e.g. rules/jiangmen"


def read_claim(claim_path: str, rules: str | None, accumulators: str | None, *,
               default_rules: str | None = None) -> ClaimInput:
    """The claim and accumulators read and validated, and the pack folder: `rules`, else
    `default_rules` (BENEFITS_RULES). A case file (tests/cases/) gives all three: its claim, its
    accumulators and, unless `rules` names another, its own `rules:` (never the environment's: a
    case settled under a pack the shell happens to name would not be the case `check` runs)."""
    if claim_path == inputs.STDIN and accumulators == inputs.STDIN:
        raise BenefitsError("only one of CLAIM and --accumulators can be read from stdin (-)")
    claim_doc = inputs.read(claim_path)
    acc_doc = None
    if isinstance(claim_doc.data, dict) and {"claim", "expected"} <= claim_doc.data.keys():
        if accumulators is not None:
            raise BenefitsError(f"{claim_doc.name}: a case file brings its own accumulators; leave out --accumulators")
        if rules is None:
            rules = _case_rules(claim_doc, claim_path, default_rules)
        case = claim_doc
        claim_doc = inputs.part(case, "claim") or inputs.Document(case.name, None, case.locator.within("claim"), ("claim",))
        acc_doc = inputs.part(case, "accumulators")
    elif rules is None:
        rules = default_rules
        if rules is None:
            raise BenefitsError(f"{NO_RULES}; a case file names its own (`rules:`)")
    claim = inputs.validate(claim_doc, Claim, "a claim", "id, member, visit, level, bill")
    acc = None
    if accumulators is not None:
        acc_doc = inputs.read(accumulators)
    if acc_doc is not None:
        acc = inputs.validate(acc_doc, Accumulators, "accumulators", "year, admissions, counters")
    return ClaimInput(claim, claim_doc, acc, acc_doc, rules)


def _case_rules(doc: inputs.Document, case_path: str, beside: str | None) -> str:
    """The pack folder a case file names: a folder name under ./rules (else in the folder of the pack
    BENEFITS_RULES names, `beside`), or a path from the case file."""
    from benefits.cases import by_name, pack_dir

    written = doc.data.get("rules")
    if not isinstance(written, str) or not written:
        raise BenefitsError(f"{doc.at(('rules',))} [rules]: expected the case's rule pack (a folder name under "
                            f"rules/, or a path); or give --rules DIR")
    root = Path("rules") if is_dir(Path("rules")) or beside is None else Path(beside).parent
    if by_name(written) and not is_dir(root):
        raise BenefitsError(f"{doc.at(('rules',))}: rules: {written!r} names a pack folder, but there is no rules/ "
                            "folder here; give --rules DIR")
    return str(pack_dir(written, Path(case_path).parent if case_path != inputs.STDIN else Path("."), root))


def rules_given(ctx: typer.Context, rules: str | None) -> tuple[str | None, str | None]:
    """--rules as (given on the command line, given by BENEFITS_RULES): a case file's own `rules:`
    gives way to the first, not to the second."""
    source = ctx.get_parameter_source("rules")
    return (None, rules) if source is not None and source.name == "ENVIRONMENT" else (rules, None)


def settle(claim_path: str, rules: tuple[str | None, str | None], accumulators: str | None) -> tuple[Settlement, RulePack, bool]:
    """Read, validate and settle; every error names the file (and line and field where it can). Also
    whether the member's accumulators were given (by --accumulators or in a case file)."""
    given = read_claim(claim_path, rules[0], accumulators, default_rules=rules[1])
    pack = load_pack(given.rules)
    try:
        s = benefits.evaluate(given.claim, pack, given.accumulators)
    except BenefitsError as exc:
        # a refusal names the claim's own value it tests (which diagnosis), carried beside its message
        raise BenefitsError(inputs.locate(exc, given.docs)
                            + (exc.offending if isinstance(exc, ClaimError) else "")) from None
    return s, pack, given.accumulators is not None


NO_ACCUMULATORS = "warning: no accumulators given: settled as the member's first claim of the year"


def _warn_without_accumulators(given: bool) -> None:
    """One line on stderr when the member's year so far was not given (the exit code is unchanged)."""
    if not given:
        paint = Paint(color_enabled(sys.stderr))
        _stderr(paint("warning:", "yellow", "bold") + NO_ACCUMULATORS.removeprefix("warning:"))


CALC_EPILOG = (
    "Example: benefits calc examples/resident-level3-inpatient.yaml --rules rules/jiangmen "
    "--accumulators examples/resident-level3-accumulators.yaml --lang en"
)


calc_command = typer.Typer(add_completion=False)


@calc_command.command(epilog=CALC_EPILOG, help=(
    "Settle one claim and print the settlement.\n\n"
    "The bill split, each layer's payout, what the patient pays and why (deductible, co-pay, above the cap, "
    "personal account, cash), and the accumulators after the claim: feed those to the member's next claim "
    "with --accumulators."
))
def calc(ctx: typer.Context, claim: ClaimArg, rules: RulesOpt = None, accumulators: AccOpt = None,
         as_json: Annotated[bool, typer.Option(
             "--json", help="Print the settlement as JSON (the API's Settlement, amounts as strings) with the "
                            "platform's setlinfo, setldetail and feedetail blocks, and nothing else.")] = False,
         lang: LangOpt = Lang.zh, debug: DebugOpt = False,
         compare: Annotated[str | None, typer.Option(
             "--compare", metavar="DIR", show_default=False,
             help="What-if: settle the claim under this pack too; both side by side, and the parameters that differ.")] = None,
         compare_on: Annotated[dt.date | None, typer.Option(
             "--compare-on", metavar="DATE", parser=day, show_default=False,
             help="What-if: settle the claim under the same pack on this date too (YYYY-MM-DD).")] = None) -> None:
    with guard(debug):
        if compare is not None or compare_on is not None:  # cli/simulate_cmd.py
            from .simulate_cmd import calc_compare
            return calc_compare(claim, rules_given(ctx, rules), accumulators, compare, compare_on,
                                as_json, lang.value)
        s, pack, given = settle(claim, rules_given(ctx, rules), accumulators)
        _warn_without_accumulators(given)
        if as_json:
            from benefits.models.platform_out import with_blocks

            write(json_text(with_blocks(s)))
        else:
            write(settlement_text(s, pack, lang.value, Paint(color_enabled())))


EXPLAIN_EPILOG = (
    "Example: benefits explain examples/tekun-medical-aid-inpatient.yaml --rules rules/jiangmen "
    "--accumulators examples/tekun-medical-aid-accumulators.yaml --lang en"
)


explain_command = typer.Typer(add_completion=False)


@explain_command.command(epilog=EXPLAIN_EPILOG, help=(
    "Explain a claim's settlement step by step (Chinese by default, --lang en).\n\n"
    "Every step as a cashier re-does it by hand: the inputs, the formula with the numbers, the result, and "
    "the parameters it cites with their source text, under each layer the policy it encodes. Values marked "
    "assumed have no published source yet. The Chinese text names no rule id or file; --lang en adds each "
    "step's rule with its file and line, and the source text of assumed values."
))
def explain(ctx: typer.Context, claim: ClaimArg, rules: RulesOpt = None, accumulators: AccOpt = None,
            lang: LangOpt = Lang.zh, debug: DebugOpt = False) -> None:
    with guard(debug):
        s, pack, given = settle(claim, rules_given(ctx, rules), accumulators)
        _warn_without_accumulators(given)
        write(trace_text(s, pack, lang.value, Paint(color_enabled())))


# --- check ------------------------------------------------------------------------------------


def _cases_in(folder: Path, raw: str) -> list[Path]:
    """The *.yaml and *.yml files in a folder and below; a folder that cannot be searched (e.g. nested
    deeper than the system's longest path) is bad input naming it, not a bug."""
    from benefits.cases import case_files

    try:
        return case_files(folder)
    except OSError as exc:
        where = str(exc.filename or folder)
        if len(where) > 200:  # a path too long for the system is too long to read: its two ends
            where = f"{where[:80]} ... {where[-80:]} ({len(where)} characters)"
        raise BenefitsError(f"{raw}: cannot search this folder: {where}: {exc.strerror or exc}") from None


def _case_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if is_dir(p):
            found = _cases_in(p, raw)
            if not found:
                raise BenefitsError(f"{raw}: no case files (*.yaml, *.yml) in this folder or below")
            files += found
        elif is_file(p):
            files.append(p)
        else:
            raise BenefitsError(f"{raw}: no such file or folder; expected a case file or a folder of them")
    return list(dict.fromkeys(files))


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class _Packs:
    """Each pack loaded once, and each broken pack reported once per case that names it."""

    def __init__(self, root: Path | None):
        self.root = root
        self.loaded: dict[Path, RulePack | BenefitsError] = {}

    def for_case(self, case: CaseFile, path: Path) -> RulePack:
        from benefits.cases import by_name, rules_dir

        if by_name(case.rules) and self.root is None:
            raise BenefitsError(
                f"{path}: rules: {case.rules!r} names a pack folder, but there is no rules/ folder here; "
                "give --rules-root DIR (the folder that holds it) or a path relative to the case file")
        directory = rules_dir(case, path, self.root or Path("rules"))
        key = directory.resolve()
        if key not in self.loaded:
            try:
                self.loaded[key] = load_pack(str(directory))
            except BenefitsError as exc:
                self.loaded[key] = exc
        got = self.loaded[key]
        if isinstance(got, BenefitsError):
            raise got
        return got


CHECK_EPILOG = (
    "Examples:\n\n"
    "benefits check tests/cases\n\n"
    "benefits check tests/cases/jiangmen/ja-18-line-items-resident-l3.yaml\n\n"
    "benefits check ~/work/cases --rules-root ~/work/rules"
)


check_command = typer.Typer(add_completion=False)


@check_command.command(epilog=CHECK_EPILOG, help=(
    "Run case files and compare each settlement with what the case expects.\n\n"
    "One line a case; under a failure, each differing field with expected and actual side by side, then "
    "the file:line of each expected value that differs. Each rule pack is loaded once. Exit 1 if a case "
    "fails, 2 if a case file or its rule pack cannot be read, 4 if the output cannot be written. The format "
    "is in tests/cases/README.md; `benefits schema case` gives its JSON Schema."
))
def check(paths: Annotated[list[str], typer.Argument(
              metavar="PATH...", show_default=False,
              help="Case files, or folders searched recursively for *.yaml and *.yml.")],
          rules_root: Annotated[str | None, typer.Option(
              "--rules-root", metavar="DIR", show_default=False,
              help="Where a case's `rules: <name>` is looked up (DIR/<name>). Default: ./rules if it exists. "
                   "A `rules:` with a slash is a path relative to the case file.")] = None,
          keyword: Annotated[str | None, typer.Option(
              "-k", "--keyword", metavar="PATTERN", show_default=False,
              help="Run only the cases whose file name or claim id contains PATTERN (ignoring case).")] = None,
          junit: Annotated[str | None, typer.Option(
              "--junit", metavar="FILE", show_default=False,
              help="Also write a JUnit XML report to FILE: one testcase a case, failures with the differing fields.")] = None,
          as_json: Annotated[bool, typer.Option(
              "--json", help="Print one JSON document (each case with its status and differences, and the counts) "
                             "instead of the text.")] = False,
          debug: DebugOpt = False) -> None:
    # imported here, not above: only `check` reads case files
    from benefits.cases import by_name

    from .check_output import json_document, junit_xml, progress

    paint = Paint(color_enabled())
    text = not as_json

    def say(line: str) -> None:
        if text:
            write(line)

    with guard(debug):
        started = time.perf_counter()
        files = _case_files(paths)
        root = _rules_root(rules_root)
        results, deselected = _selected_cases(files, keyword)
        packs = _Packs(root)
        unrooted = [r for r in results if r.case is not None and root is None and by_name(r.case.rules)]
        if unrooted:  # one message for them all, not one a case
            message = _unrooted_message(unrooted)
            say(f"{paint('ERROR', 'red', 'bold')}  {visible(message)}")
            for r in unrooted:
                r.error = message
        with progress(len(results)) as advance:
            for r in results:
                if r.error is None:
                    _run_case(r, packs, debug)
                advance()
                if r not in unrooted:
                    say(_case_report(r, paint))
        passed, failed, errors = (sum(r.status == s for r in results) for s in ("passed", "failed", "error"))
        parts = ([f"{passed} passed"] + [f"{failed} failed"] * bool(failed) + [f"{errors} not run (bad input)"] * bool(errors)
                 + [f"{deselected} deselected (-k)"] * bool(deselected))
        summary = f"{len(results)} case{'s' if len(results) != 1 else ''}: " + ", ".join(parts)
        say(paint(summary, "bold", "green" if not (failed or errors) else "red"))
        if junit is not None:
            try:
                write_whole(junit, junit_xml(results, time.perf_counter() - started))
            except OSError as exc:
                raise BenefitsError(f"--junit {junit}: cannot write the report: {exc.strerror or exc}") from None
        if as_json:
            write(json_text(json_document(results, deselected)))
    if errors:
        raise typer.Exit(EXIT_BAD_INPUT)
    if failed:
        raise typer.Exit(EXIT_FAILED)


def _rules_root(given: str | None) -> Path | None:
    """Where cases' `rules: <name>` are looked up: --rules-root, else ./rules when it exists."""
    if given is None:
        return Path("rules") if Path("rules").is_dir() else None
    if not is_dir(Path(given)):
        raise BenefitsError(f"--rules-root {given}: not a folder; expected the folder that holds the rule packs")
    return Path(given)


def _unrooted_message(unrooted: list[CaseResult]) -> str:
    names = ", ".join(sorted({r.case.rules for r in unrooted}))
    return (f"{len(unrooted)} case{'s' if len(unrooted) != 1 else ''} name{'s' if len(unrooted) == 1 else ''} "
            f"a rule pack by folder name ({names}), but there is no rules/ folder here; give --rules-root DIR "
            "(the folder that holds the packs), run from the folder that holds rules/, or write `rules:` "
            "as a path relative to the case file")


def _case_report(r: CaseResult, paint: Paint) -> str:
    """A case's lines in `check`'s text: its status and file, then its description, its error, or its
    differing fields and where each expected value is (file:line, kept whole for editors and CI logs)."""
    from .check_output import where_lines

    if r.status == "error":
        lines = [f"{paint('ERROR', 'red', 'bold')}  {visible(r.shown)}"]
        return "\n".join(lines + [f"       {line}" for line in visible(r.error, newlines=True).splitlines()])
    if r.status == "failed":
        text = case_text("failed", r.shown, r.case.description, paint, r.mismatches)
        return "\n".join([text] + [f"       {visible(line)}" for line in where_lines(r)])
    return case_text("passed", r.shown, r.case.description, paint)


def _selected_cases(files: list[Path], keyword: str | None) -> tuple[list[CaseResult], int]:
    """Each case file read (or the reason it cannot be), and those `-k` keeps; with the count left out.
    A file that cannot be read is kept when its name contains the keyword: it has no claim id to match."""
    from benefits.cases import load_case_at

    from .check_output import CaseResult, selected

    out: list[CaseResult] = []
    for path in files:
        r = CaseResult(path, _shown(path))
        try:
            r.case, r.locator = load_case_at(path)
        except BenefitsError as exc:
            r.error = str(exc)
        if selected(keyword, r.shown, r.case):
            out.append(r)
    if keyword and not out:
        raise BenefitsError(f"-k {keyword}: no case file name or claim id contains it ({len(files)} "
                            f"case{'s' if len(files) != 1 else ''} searched)")
    return out, len(files) - len(out)


def _run_case(r: CaseResult, packs: "_Packs", debug: bool) -> None:
    """Settle one case's claim and compare; the result goes into `r`."""
    from benefits.cases import check_case, locate

    started = time.perf_counter()
    try:
        mismatches = check_case(r.case, packs.for_case(r.case, r.path))
    except BenefitsError as exc:
        if debug:
            _traceback()
        r.status, r.error = "error", str(exc)
        return
    finally:
        r.seconds = time.perf_counter() - started
    r.mismatches = locate(mismatches, r.locator)
    r.status = "failed" if mismatches else "passed"


# --- rules ------------------------------------------------------------------------------------

DirArg = Annotated[str, typer.Argument(metavar="DIR", show_default=False, help="A rule pack folder (with pack.yaml).")]


@rules_app.command(epilog="Example: benefits rules validate rules/jiangmen", help=(
    "Load a rule pack and report every problem in it.\n\n"
    "Each problem names its file, line and key and says what was expected. Exit 2 if there is any."
))
def validate(directory: DirArg, debug: DebugOpt = False) -> None:
    with guard(debug):
        try:
            pack = benefits.load_rules(directory)
        except RuleFileError as exc:
            if debug:
                _traceback()
            n = len(exc.problems)
            write(visible(f"{directory}: {n} problem{'s' if n != 1 else ''}"))
            for line in visible(rule_problems(exc, directory), newlines=True).splitlines():
                write(f"  {line}")
            raise typer.Exit(EXIT_BAD_INPUT) from None
        versions = ", ".join(str(v.start) for v in pack.versions)
        layers = f"{len(pack.layers)} layer{'s' if len(pack.layers) != 1 else ''}"
        write(wrapped(f"{directory}: ok — pack {pack.name}, {layers} ({', '.join(pack.meta.layers)}), "
                      f"{len(pack.parameters)} parameters, versions {versions} (valid until {pack.meta.valid_until})"))


@rules_app.command(epilog="Example: benefits rules show rules/jiangmen --on 2021-08-16", help=(
    "Show a rule pack: its levels, visits, diseases, services, counters and layers, then its parameters "
    "with values, start dates and sources.\n\n"
    "Layers in paying order with their kind, name and fund codes. Parameters grouped by file; values "
    "assumed (no published source yet) are marked *."
))
def show(directory: DirArg,
         on: Annotated[dt.date | None, typer.Option(
             "--on", metavar="DATE", parser=day, show_default=False,
             help="Show the values in force on this date (YYYY-MM-DD). Default: every value of every version.")] = None,
         debug: DebugOpt = False) -> None:
    with guard(debug):
        pack = load_pack(directory)
        write(pack_text(pack, on, Paint(color_enabled())))


@rules_app.command(epilog="Example: benefits rules lint rules/jiangmen --strict", help=(
    "Find what is valid in a rule pack but probably a mistake.\n\n"
    "Parameters no layer or pack.yaml names, counters no layer reads or writes, rows of a decision table "
    "that can never be chosen (an earlier row holds whenever they do: a row after one without `when:`, "
    "a repeated condition, rows covered by the earlier ones), tables with no row for some claims the layer "
    "applies to, caps, adjustments and groups that never apply, layers with caps under which some claims are "
    "paid with none, two layers that would add one claim to the same counter, two basic-fund layers that can "
    "apply to one claim, a followed cap the basic fund does not hold, serious-illness or aid layers on claims "
    "no basic-fund or fixed-amount layer before them pays, and checks not decided (too "
    "many classes of claims to try); then how many values are assumed. "
    "Exit 0 with the findings listed; with --strict, exit 1 if there is any. Exit 2 if the pack is invalid."
))
def lint(directory: DirArg,
         strict: Annotated[bool, typer.Option("--strict", help="Exit 1 if there is any finding.")] = False,
         debug: DebugOpt = False) -> None:
    from benefits.rules.lint import lint as lint_pack

    with guard(debug):
        pack = load_pack(directory)
        report = lint_pack(pack)
        root = Path(directory).parent
        for f in report.findings:
            here = root / f.file
            name = str(here) if is_file(here) else f.file
            write(visible(f"{name}:{f.line}: {f.message}" if f.line else f"{name}: {f.message}"))
        kinds = {}
        for f in report.findings:
            kinds[f.kind] = kinds.get(f.kind, 0) + 1
        n = len(report.findings)
        detail = f" ({', '.join(f'{c} {k}' for k, c in kinds.items())})" if kinds else ""
        lifts = (f"; {report.lifts_assumed} of {report.lifts} lifted cap{'s' if report.lifts != 1 else ''} assumed"
                 if report.lifts else "")
        write(wrapped(f"{directory}: {n} finding{'s' if n != 1 else ''}{detail}; {report.assumed} of {report.values} "
                      f"parameter values assumed (source says 'assumed'){lifts}"))
    if strict and report.findings:
        raise typer.Exit(EXIT_FAILED)


# --- schema -----------------------------------------------------------------------------------


schema_command = typer.Typer(add_completion=False)


@schema_command.command(epilog="Example: benefits schema claim > claim.schema.json", help=(
    "Print the JSON Schema of a file format.\n\n"
    "claim, accumulators, settlement (what calc --json prints) or case (a case file for check)."
))
def schema(name: Annotated[SchemaName, typer.Argument(metavar="claim|accumulators|settlement|case",
                                                      show_default=False, help="Which file format.")]) -> None:
    with guard(debug=False):
        from benefits.models import schema as schemas  # only this command builds schemas

        write(json_text(getattr(schemas, SCHEMAS[name.value])()))


# --- entry point ------------------------------------------------------------------------------


def main(prog_name: str = "benefits") -> None:
    """The console script `benefits` (and `python -m benefits`).

    Every command writes through streams.write inside guard(), so a closed pipe is exit 4 there; typer's
    own output (--help) that cannot be written is exit 4 here, with the same message.
    """
    sys.stdout = streams.GuardedStdout(sys.stdout) if sys.stdout is not None else streams.ClosedStdout()
    try:
        app(prog_name=prog_name)
    except StreamError as exc:
        if str(exc):
            _error(str(exc))
        raise SystemExit(EXIT_IO) from None
    except (OSError, UnicodeEncodeError) as exc:
        problem = str(streams.failed(exc))
        if problem:
            _error(problem)
        raise SystemExit(EXIT_IO) from None
    finally:
        # The process ends here. Python's shutdown would search every object still alive for cycles
        # (a loaded pack and its models: 30-40 ms, a tenth of `calc`); frozen, they go with the process.
        # Nothing here waits on a collection: files, stores and clusters are closed where they are used,
        # and stdout is flushed at shutdown either way.
        gc.freeze()
