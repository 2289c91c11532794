"""Fund-impact simulation on the command line: `simulate`, `rules diff` and `calc --compare`.

    benefits simulate CLAIMS --members M --rules A [--compare B [--compare-year YEAR]] [--items FILE]
                     [--out DIR] [--format table|csv|parquet|html ...] [--workers N | --scheduler ADDRESS]
    benefits rules diff A B [--on DATE] [--json]
    benefits calc CLAIM --rules A (--compare B | --compare-on DATE) [--accumulators FILE] [--json]

Errors and exit codes are the other commands' (guard() in app.py): bad input (a file's bad rows,
each with its file, row and column; a pack that does not cover the claims' dates) is exit 2, and so
is a --scheduler that cannot be reached.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from benefits import BenefitsError
from benefits.money import fmt_ratio

from . import inputs
from .arguments import day, year
from .run_folder import RunFolder
from .signals import cleaned_up_on_sigterm, uninterrupted
from .streams import write
from .render import wrap
from .text import Paint, color_enabled, json_text, visible

DebugOpt = Annotated[bool, typer.Option("--debug", help="Show the Python traceback of an error.")]


class Format(str, Enum):
    table = "table"
    csv = "csv"
    parquet = "parquet"
    html = "html"


class Engine(str, Enum):
    auto = "auto"
    vector = "vector"
    scalar = "scalar"


def _app():
    from . import app  # here, not above: app builds this module's commands; neither imports the other at load

    return app


# --- layout ------------------------------------------------------------------------------------
# Everything printed here fits the output width (cli/render.py's output_width: COLUMNS, else the
# terminal, else 80): tables are cli/render.py's Grid (amounts and ids kept whole), and lines of text
# are wrapped by cli/render.py's `wrap`, their continuation lines indented.

def _lines(screen, lines: list[str], style: str = "") -> None:
    """Lines already wrapped to the screen's width, printed as they are."""
    from rich.text import Text

    for line in lines:
        screen.print(Text(line, style=style or ""))


# --- progress ----------------------------------------------------------------------------------


class _Progress:
    """A progress bar on stderr (rich), only when stderr is a terminal; otherwise nothing."""

    def __init__(self, total: int, label: str):
        self.bar = None
        try:
            tty = sys.stderr.isatty()
        except (AttributeError, ValueError):
            tty = False
        if tty and total > 0:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeRemainingColumn(), console=Console(stderr=True), transient=True)
            self.task = self.bar.add_task(label, total=total)

    def __enter__(self):
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()

    def describe(self, text: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, description=text)

    def __call__(self, n: int) -> None:
        if self.bar is not None:
            self.bar.advance(self.task, n)


# --- simulate ----------------------------------------------------------------------------------

SIMULATE_HELP = (
    "Settle a year of claims member by member under a rule pack, and total the result.\n\n"
    "Every member's claims are settled in deciding-date order, each from the accumulators the member's "
    "previous claim left (the first from the member's opening accumulators in the members table). With "
    "--compare, the same claims are settled under pack B too and paired claim by claim: totals of A, B "
    "and B - A, and the claims whose payout changed most. Totals by layer and fund (fund_pay_type), "
    "scheme, hospital level, visit kind, group, district and month, with counts of claims, admissions "
    "and aid person-times. CLAIMS and MEMBERS are Parquet, JSON Lines or CSV (docs/simulation.md has "
    "every column); amounts are decimals or text, never floats. Bad rows are reported with their file, "
    "row and column (exit 2); claims a pack refuses are listed (exit 2 with --strict)."
)
SIMULATE_EPILOG = (
    "Example: benefits simulate claims.parquet --members members.parquet --rules rules/jiangmen "
    "--compare /tmp/jm-cf/jiangmen --out report --format csv --format html"
)


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_TCP_ADDRESS = re.compile(rf"tcp://(?P<host>\[[0-9A-Fa-f:]*:[0-9A-Fa-f:]*\]|{_LABEL}(?:\.{_LABEL})*):(?P<port>[0-9]{{1,5}})")


def _scheduler_address(text: str) -> str:
    """A scheduler's address, tcp://HOST:PORT, told before any file is read: other protocols need what
    this command does not set up (tls:// a certificate, ucx:// its library) and ended as internal errors,
    and a port out of range was waited on for the connect timeout."""
    found = _TCP_ADDRESS.fullmatch(text)
    if found is None or not 0 < int(found["port"]) < 65536:
        raise typer.BadParameter(f"expected the address of a Dask scheduler as tcp://HOST:PORT, such as "
                                 f"tcp://10.0.0.5:8786 (port 1 to 65535), got {text!r}")
    return text


def simulate(
    claims: Annotated[str, typer.Argument(metavar="CLAIMS", show_default=False,
                                          help="The claims: .parquet, .jsonl or .csv, one row a claim.")],
    members: Annotated[str, typer.Option("--members", "-m", metavar="FILE", show_default=False,
                                         help="The members table (.parquet, .jsonl, .csv), with opening accumulators.")],
    rules: Annotated[str, typer.Option("--rules", "-r", metavar="DIR", envvar="BENEFITS_RULES", show_default=False,
                                       help="Pack A, e.g. rules/jiangmen.")],
    compare: Annotated[str | None, typer.Option("--compare", metavar="DIR", show_default=False,
                                                help="Pack B: settle the same claims under it too, and show B - A.")] = None,
    compare_year: Annotated[int | None, typer.Option(
        "--compare-year", metavar="YEAR", parser=year, show_default=False,
        help="Settle the claims under B moved to this year (same month and day; 29 Feb -> 28 Feb): for next "
             "year's rules on this year's claims, as B's versions cover only B's dates.")] = None,
    items: Annotated[str | None, typer.Option("--items", metavar="FILE", show_default=False,
                                              help="Line items keyed by claim_id, for claims without a split bill.")] = None,
    out: Annotated[str | None, typer.Option("--out", "-o", metavar="DIR", show_default=False,
                                            help="Folder for csv, parquet and html output (created).")] = None,
    fmt: Annotated[list[Format] | None, typer.Option(
        "--format", "-f", show_default=False,
        help="table (printed; the default), csv, parquet (tables and per-claim results), html (report.html "
             "with charts). Repeat for several.")] = None,
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="Local worker processes (dask).")] = 1,
    partition_size: Annotated[int | None, typer.Option(
        "--partition-size", metavar="CLAIMS", min=1, show_default=False,
        help="Claims a partition (members are split by a hash of their id); memory grows with it, not with "
             "the year. Default 250,000 (vector), 20,000 (scalar).")] = None,
    scheduler: Annotated[str | None, typer.Option("--scheduler", metavar="ADDRESS", show_default=False,
                                                  parser=_scheduler_address,
                                                  help="A dask.distributed scheduler, e.g. tcp://host:8786.")] = None,
    engine: Annotated[Engine, typer.Option("--engine", help="vector, scalar (benefits.evaluate per claim) or auto.")] = Engine.auto,
    top: Annotated[int, typer.Option("--top", min=1, help="How many of the most changed claims to list.")] = 20,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 2 when a pack refuses any claim.")] = False,
    debug: DebugOpt = False,
) -> None:
    app = _app()
    formats = list(dict.fromkeys(fmt or [Format.table]))
    with app.guard(debug):
        from benefits.simulate import buckets
        from benefits.simulate.runner import PARTITION_CLAIMS, engine_name, partition_count

        if any(f is not Format.table for f in formats) and out is None:
            raise BenefitsError("--format csv, parquet and html write files: give --out DIR")
        if compare_year is not None and compare is None:
            raise BenefitsError("--compare-year moves the claims for pack B: give --compare DIR too")
        if workers > 1 and scheduler is not None:
            raise BenefitsError("give --workers N (local processes) or --scheduler ADDRESS, not both")
        pack_a = app.load_pack(rules)
        pack_b = app.load_pack(compare) if compare is not None else None
        # the partitions are chosen before reading (the files are bucketed by partition as they are read)
        per = partition_size or PARTITION_CLAIMS[engine_name(engine.value)]
        parts = partition_count(buckets.count_rows(claims), "vector", workers, workers > 1 or scheduler is not None, per)
        with _writing(out):  # --out with only the printed table: nothing is written there, nothing removed
            run = RunFolder(out) if out is not None and any(f is not Format.table for f in formats) else None
        with cleaned_up_on_sigterm():
            try:
                with buckets.bucketed(claims, members, items, parts=parts) as source:
                    report, per_claim = _settle_buckets(app, source, claims, members, rules, compare, compare_year,
                                                        pack_a, pack_b, formats, run, engine, workers, scheduler, top)
                _refusals(app, report, strict)  # --strict: nothing is written
                labels = (f"A = {rules}",
                          f"B = {compare}" + (f" (claims moved to {compare_year})" if compare_year else ""))
                if Format.table in formats:
                    _print(report, labels)
                if run is not None:
                    with _writing(out):
                        made = _write(run, formats, report, labels, per_claim)
                        with uninterrupted():  # the reports move into place all or none
                            written = run.commit(made)
                    for path in written:
                        write(visible(str(path)) if Format.table not in formats else visible(f"wrote {path}"))
            finally:
                if run is not None:
                    run.abandon()


def _settle_buckets(app, source, claims, members, rules, compare, compare_year, pack_a, pack_b, formats,
                    run: RunFolder | None, engine, workers, scheduler, top):
    """Check the bucketed input against the packs (opening counters, dates covered) and settle it
    partition by partition: (the report, the per-claim files written under their temporary names)."""
    from benefits.simulate import buckets
    from benefits.simulate.runner import Side, check_openings

    claim_table, member_table = source.claims, source.members
    for name in claim_table.ignored:
        app._stderr(f"note: {claims}: column {name!r} is not part of the format and is not read")
    for name in member_table.ignored:
        app._stderr(f"note: {members}: column {name!r} is not part of the format and is not read")
    check_openings(pack_a, member_table)
    problem = buckets.coverage(pack_a, source, label="A")
    if problem:
        raise BenefitsError(problem)
    span = buckets.deciding_span(pack_a, source) if any("@" in c for c in member_table.counters) else None
    if span is not None:  # B's year is A's, moved with the members' months by --compare-year
        check_openings(pack_a, member_table, span[0].year, source.member_rows_given)
    b_members, years = member_table, 0
    if pack_b is not None:
        if compare_year is not None:
            from benefits.simulate.compare import redate

            span = buckets.deciding_span(pack_a, source)
            years = compare_year - span[0].year if span else 0
            _, b_members = redate(claim_table, member_table, years)
        check_openings(pack_b, b_members)
        first = pack_b.versions[0].start
        span = buckets.deciding_span(pack_a, source)
        if compare_year is not None:
            hint = "--compare-year moved them; choose a year B covers"
        elif span is not None and span[0].year != first.year:
            hint = (f"To settle these claims under B's rules, add --compare-year {first.year} (every date moved "
                    f"to {first.year}, keeping month and day)")
        else:  # the claims are in B's first year already: moving them would not help
            hint = "B's versions do not cover every day of the claims' year; a claim outside them cannot be settled under B"
        problem = buckets.coverage(pack_b, source, years=years, label="B", hint=hint)
        if problem:
            raise BenefitsError(problem)
    sides = [Side(pack_a, rules, claim_table, member_table, source=source)]
    if pack_b is not None:
        sides.append(Side(pack_b, compare, claim_table, b_members, source=source, years=years))
    per_claim = []
    if run is not None and Format.parquet in formats:
        per_claim = [run.path("a_claims.parquet" if pack_b is not None else "claims.parquet")]
        per_claim += [run.path("b_claims.parquet")] if pack_b is not None else []
    with _Progress(len(source) * len(sides), "settling") as progress, _writing(run.out if run else None):
        report = settle_and_report(sides, engine=engine.value, workers=workers, scheduler=scheduler,
                                   top=top, claims_files=per_claim, progress=progress)
    return report, per_claim


@contextlib.contextmanager
def _writing(out: str | None):
    try:
        yield
    except OSError as exc:
        raise BenefitsError(f"--out {out}: cannot write: {exc.strerror or exc}") from None


def settle_and_report(sides, *, engine: str = "auto", workers: int = 1, scheduler: str | None = None,
                      partition_size: int | None = None, top: int = 20, claims_files=(), progress=None):
    """Settle the sides (pack A; pack B when comparing) partition by partition and fold each partition
    into the report's totals, appending its per-claim results to `claims_files` (one a side, written
    under a temporary name until `ClaimsFile.finish`): nothing of the year is held but the totals."""
    from benefits.simulate import report as rep
    from benefits.simulate.runner import settle_parts

    report = rep.Report(sides[0].pack, sides[1].pack if len(sides) > 1 else None, top=top)
    files = [rep.ClaimsFile(path) for path in claims_files]
    try:
        for part in settle_parts(sides, engine=engine, workers=workers, scheduler=scheduler,
                                 partition_claims=partition_size, progress=progress):
            views = [rep.view(side.pack, res, c, m, part.rows)
                     for side, res, c, m in zip(sides, part.results, part.claims, part.members)]
            report.add(*views)
            for f, v in zip(files, views):
                f.write(v)
    except BaseException:
        for f in files:
            f.close(keep=False)
        raise
    for f in files:
        f.close()
    return report


def _refusals(app, report, strict: bool) -> None:
    for label, t in [("A", report.a)] + ([("B", report.b)] if report.b is not None else []):
        n = len(t.refused)
        if not n:
            continue
        lines = [f"{where} (claim {claim_id!r}): {message}" for _, where, claim_id, message in t.refused[:10]]
        text = (f"pack {label} ({t.pack.name}) refused {n:,} claim{'s' if n != 1 else ''}; they add to no total"
                + "".join(f"\n  {line}" for line in lines) + (f"\n  ... and {n - 10:,} more" if n > 10 else ""))
        if strict:
            raise BenefitsError(text)
        app._stderr(visible(f"warning: {text}", newlines=True))


def _tab_grids(tab, width: int) -> list:
    """`tab` as Grids that fit `width` columns: the whole table when it fits, else its columns split into
    as few groups as fit, printed one under the other, each group with the row's key again (its leading
    text columns: layer, fund_pay_type and scheme in the table by fund, or rows of one layer could not be
    told apart); a group breaks between columns of different kinds where it can (funds A and funds B stay
    together). Amounts and ids are kept whole; a text with spaces (a label, the layers of a changed
    claim) wraps at its spaces."""
    from rich.cells import cell_len

    from benefits.simulate.report import cell_text

    from .render import Grid

    rows = [[cell_text(k, c) for k, c in zip(tab.kinds, r)] for r in tab.rows]
    n = len(tab.columns)

    def spaced(i: int) -> bool:
        return any(" " in r[i].strip() for r in rows)

    align = "".join(("l" if spaced(i) else "L") if k == "text" else "r" for i, k in enumerate(tab.kinds))

    def grid(cols: list[int]) -> Grid:
        g = Grid([tab.columns[i] for i in cols], "".join(align[i] for i in cols))
        for r in rows:
            g.add(*[r[i] for i in cols])
        return g

    def narrowest(i: int) -> int:  # a column's fewest columns: a text wraps at spaces, never inside a word
        if align[i] != "l":
            return grid([i]).narrowest()
        return max(cell_len(w) for c in [tab.columns[i]] + [r[i] for r in rows] for w in c.split() + [""])

    size = [narrowest(i) for i in range(n)]
    lead = 1  # the key's columns
    while lead < n and tab.kinds[lead] == "text" and tab.kinds[lead - 1] == "text":
        lead += 1
    key = sum(size[:lead]) + 2 * (lead - 1)
    if lead == n or key + 2 + max(size[lead:]) > width:  # no room beside the whole key: the first column alone
        lead, key = 1, size[0]

    def fits(a: int, b: int) -> bool:  # columns a..b-1 after the key
        return key + sum(size[a:b]) + 2 * (b - a) <= width

    def kind(i: int) -> str:
        return tab.kinds[i] if tab.kinds[i] != "count" else "money"

    # best[a]: the fewest groups for columns a.., then the fewest breaks between columns of the same
    # kind, then the fullest groups first
    best: dict[int, tuple] = {n: (0, 0, ())}
    for a in range(n - 1, lead - 1, -1):
        options = []
        for b in range(a + 1, n + 1):
            if b > a + 1 and not fits(a, b):
                break
            k, same, sizes = best[b]
            same += b < n and kind(b - 1) == kind(b)
            options.append((k + 1, same, (-(b - a),) + sizes))
        best[a] = min(options)
    groups, a = [], lead
    for length in best[lead][2] if n > lead else ():
        groups.append(list(range(lead)) + list(range(a, a - length)))
        a -= length
    return [grid(g) for g in groups] or [grid(list(range(lead)))]


def _print(report, labels) -> None:
    from .render import Screen, output_width

    width = output_width()
    out = Screen(Paint(color_enabled()), width)
    b = report.b
    head = [f"Simulation: {labels[0]}" + ("," if b is not None else "")] + ([labels[1]] if b is not None else [])
    _lines(out, wrap([visible(h) for h in head] + ["(amounts in yuan)"], width, hang=2), "bold")
    tabs = report.compare_tables() if b is not None else [t for t in report.tables() if t.name != "refused"]
    for tab in tabs:
        out.blank()
        _lines(out, wrap(visible(tab.title), width), "bold")
        for i, g in enumerate(_tab_grids(tab, width - 2)):
            if i:
                out.blank()
            out.print(g, indent=2)
    write(out.text())


def _write(run: RunFolder, formats, report, labels, per_claim: list[Path]) -> list[Path]:
    from benefits.simulate import report as rep

    folder = run.work
    written: list[Path] = []
    b = report.b
    sets = [("a_" if b is not None else "", report.a)] + ([("b_", b)] if b is not None else [])
    tabs = []
    for prefix, totals in sets:
        for tab in rep.tables(totals):
            tabs.append(rep.Tab(prefix + tab.name, tab.title, tab.columns, tab.kinds, tab.rows))
    if b is not None:
        tabs += report.compare_tables()
    if Format.csv in formats:
        written += [rep.write_csv(t, folder) for t in tabs]
    if Format.parquet in formats:
        written += [rep.write_parquet(t, folder) for t in tabs]
        written += [rep.ClaimsFile.finish(path) for path in per_claim]
    if Format.html in formats:
        notes = [labels[0]] + ([labels[1]] if b is not None else [])
        html = rep.html_report("基金测算 / fund-impact simulation", notes, report)
        path = folder / "report.html"
        path.write_text(html, encoding="utf-8")
        written.append(path)
    return written


# --- rules diff --------------------------------------------------------------------------------

DIFF_HELP = (
    "Show what differs between two rule packs: parameters added, removed and changed (each dated value "
    "with its source), layers added, removed and changed (conditions among them; a decision table's rows "
    "added, removed and moved with their places), and pack.yaml (the layers' paying order included).\n\n"
    "With --on, only the parameter values in force on that date are compared."
)
DIFF_EPILOG = "Example: benefits rules diff rules/jiangmen /tmp/jm-cf/jiangmen --on 2021-08-01"


def rules_diff(
    a: Annotated[str, typer.Argument(metavar="A", show_default=False, help="A rule pack folder.")],
    b: Annotated[str, typer.Argument(metavar="B", show_default=False, help="Another rule pack folder.")],
    on: Annotated[dt.date | None, typer.Option("--on", metavar="DATE", parser=day, show_default=False,
                                                   help="Compare the values in force on this date (YYYY-MM-DD).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the differences as JSON.")] = False,
    debug: DebugOpt = False,
) -> None:
    app = _app()
    with app.guard(debug):
        from benefits.rules.diff import diff_packs

        d = diff_packs(app.load_pack(a), app.load_pack(b), on)
        if as_json:
            write(json_text(_diff_json(d)))
        else:
            write(_diff_text(d))


def _diff_text(d, columns: int | None = None) -> str:
    """The diff's lines, each wrapped to the output width (its continuation lines indented)."""
    from benefits.rules.diff import diff_lines

    from .render import output_width

    columns = columns or output_width()
    out = []
    for line in diff_lines(d):
        out += wrap([visible(part) for part in line.parts], columns, line.indent, line.hang, line.sep)
    return "\n".join(out)


def _change_json(c) -> dict:
    """A changed key: its path, both values, the order of a list's items of both when it changed, and a
    decision table's rows removed, added and moved with their places (counted from 1; null: none)."""
    order = c.order
    return {"path": c.path, "a": c.a, "b": c.b, "order": {"a": order[0], "b": order[1]} if order else None,
            "rows": [{"what": r.what, "row": r.row, "a": r.a, "b": r.b} for r in c.rows]}


def _diff_json(d) -> dict:
    def value(v):
        return None if v is None else {"start": str(v.start), "value": v.value, "source": v.source}

    return {
        "a": d.a, "b": d.b, "on": str(d.on) if d.on else None, "empty": d.empty,
        "pack": [_change_json(c) for c in d.pack],
        "parameters": [{"name": p.name, "status": p.status, "unit": p.unit, "unit_b": p.unit_b,
                        "description": p.description.model_dump(),
                        "description_a": p.description_a.model_dump() if p.description_a is not None else None,
                        "changes": [{"start": str(c.start) if c.start else None, "what": c.what, "a": value(c.a),
                                     "b": value(c.b)} for c in p.changes]} for p in d.parameters],
        "layers": [{"id": layer.id, "status": layer.status, "kind": layer.kind,
                    "changes": [{**_change_json(c), "condition": c.is_condition} for c in layer.changes]}
                   for layer in d.layers],
    }


# --- calc --compare ----------------------------------------------------------------------------

# Row labels are `benefits calc`'s (cli/render.py WORDS); the words of this view only are here.
ROW_WORDS = {"total": "total", "policy_range": "policy_range", "deductible": "deductible", "ratio": "ratio",
             "fund_total": "all_funds", "patient": "patient_total", "account": "of_which_account",
             "cash": "of_which_cash"}
WHATIF_WORDS = {
    "zh": {"title": "对比", "change": "变化", "step": "计算步骤", "on": "结算日期改为{day}",
           "params": "造成差异的参数（两次结算的说明所引用、取值不同者）", "steps": "结果不同的计算步骤",
           "params_same": "取值不同的参数（两次结算的说明所引用；结算金额相同）",
           "none": "两次结算的说明引用的参数取值相同", "only": "仅一方引用", "note": "注："},
    "en": {"title": "What-if", "change": "B - A", "step": "step", "on": "on {day}",
           "params": "Parameters that made the difference (cited by the two traces with different values)",
           "params_same": "Parameters that differ (cited by the two traces with different values; no amount changed)",
           "steps": "Steps whose results differ", "none": "the two traces cite the same parameter values",
           "only": "cited by one only", "note": "note: "},
}
# a trace step (the part of its id after the layer) as a Chinese reader names it: cli/render.py WORDS["zh"]
# (key) or benefits.render.INPUTS_ZH (a "=" before the key), else the words here; a step not named here
# shows its explanation
STEPS_ZH = {"version": "version", "bill.split": "bill", "deductible": "=deductible", "ratio": "=ratio",
            "cap": "cap_left", "pay": "paid", "group": "=group", "patient": "patient_total", "cash": "of_which_cash",
            "diagnosis": "病种", "cumulative": "年度累计合规自付", "points": "各段支付比例调整",
            "adjustment": "支付比例调整", "reduction": "起付线降低", "no_cap": "不设限额", "skip": "不适用"}
_NOTES_ZH = ((re.compile(r"the accumulators are taken as those of (\d+) \(they were given for (\d+)\)"),
              r"年度累计按 \1 年计（所给为 \2 年）"),)


def calc_compare(claim_path: str, rules: tuple[str | None, str | None], accumulators: str | None, compare: str | None,
                 compare_on: dt.date | None, as_json: bool, lang: str) -> None:
    """`calc --compare B` / `--compare-on DATE`: the claim settled twice, side by side, and why they differ."""
    from benefits.simulate.compare import what_if

    app = _app()
    if compare is not None and compare_on is not None:
        raise BenefitsError("give --compare DIR (another pack) or --compare-on DATE (this pack on another date), not both")
    given = app.read_claim(claim_path, rules[0], accumulators, default_rules=rules[1])
    rules = given.rules
    pack_a = app.load_pack(rules)
    pack_b = app.load_pack(compare) if compare is not None else None
    a_label = rules
    b_label = compare if compare is not None else f"{rules} on {compare_on}"
    try:
        w = what_if(given.claim, pack_a, given.accumulators, pack_b=pack_b, on=compare_on, a_label=a_label, b_label=b_label)
    except BenefitsError as exc:
        raise BenefitsError(inputs.locate(exc, given.docs)) from None
    if as_json:
        write(json_text(_what_if_json(w)))
    else:
        labels = (rules, compare if compare is not None else rules)
        write(_what_if_text(w, lang, Paint(color_enabled()), (pack_a, pack_b or pack_a), labels, compare_on))


def _rows(w) -> list[tuple[str, object, object, str]]:
    """(key, A, B, kind) for the side-by-side table: bill, basic ratio, each layer that paid, totals."""
    a, b = w.a, w.b
    rows = [("total", a.bill.total, b.bill.total, "money"), ("policy_range", a.bill.policy_range, b.bill.policy_range, "money"),
            ("deductible", a.deductible, b.deductible, "money"), ("ratio", a.ratio, b.ratio, "ratio")]
    pa_, pb = a.payouts, b.payouts
    for layer in dict.fromkeys(list(pa_) + list(pb)):
        x, y = pa_.get(layer), pb.get(layer)
        if (x or 0) or (y or 0):
            rows.append((f"layer:{layer}", x, y, "money"))
    rows += [("fund_total", a.fund_total, b.fund_total, "money"), ("patient", a.patient.total, b.patient.total, "money"),
             ("account", a.patient.account, b.patient.account, "money"), ("cash", a.patient.cash, b.patient.cash, "money")]
    return rows


def _fmt(v, kind: str) -> str:
    if v is None:
        return "-"
    if kind == "ratio":
        return fmt_ratio(v)
    return f"{v:.2f}"


def _parameter_zh(name: str, packs) -> str:
    """A parameter as a Chinese reader knows it: the Chinese half of its description, with the ids in
    its name ([resident][level2]) named (居民，二级); its name when it has no Chinese description."""
    from benefits.explanation import parameter_name
    from benefits.render import word

    for pack in packs:
        label = parameter_name(name, pack, "zh") if pack is not None else name
        if label != name:
            keys = re.findall(r"\[([^\]]+)\]", name)
            return label + (f"（{'，'.join(word(k, 'zh') for k in keys)}）" if keys else "")
    return name


def _step_zh(step: str, traces, names: dict[str, str], layer_only: bool = False) -> str:
    """A trace step as a Chinese reader knows it: its layer's name and what the step computes (with
    layer_only, the name of its layer, when it has one)."""
    from benefits.render import INPUTS_ZH

    from .render import WORDS

    t = next((t for trace in traces for t in trace if t.step == step), None)
    layer = t.layer if t is not None else None
    if layer_only and layer:
        return names.get(layer, layer)
    kind = step[len(layer) + 1:] if layer and step.startswith(layer + ".") else step
    key = STEPS_ZH.get(kind)
    if key is None:
        what = t.explain_zh if t is not None else step
    elif key.startswith("="):
        what = INPUTS_ZH.get(key[1:], key[1:])
    else:
        what = WORDS["zh"].get(key, key)
    return f"{names.get(layer, layer)} {what}" if layer else what


def _what_if_text(w, lang: str, paint: Paint, packs=None, labels=None, on: dt.date | None = None,
                  columns: int | None = None) -> str:
    """The two settlements side by side, the parameters that made the difference and the steps whose
    results differ, laid out to the output width. In Chinese every label is Chinese (the words of
    `benefits calc`), layers, parameters and steps are named, and dates are written as calc writes them."""
    from .render import Screen, output_width

    zh = lang == "zh"
    packs = packs or (None, None)
    width = columns or output_width()
    out = Screen(paint, width)
    names = {p.layer: (p.name_zh if zh else p.layer) for s in (w.a, w.b) for p in s.layers}
    _what_if_heading(out, w, lang, packs, labels or (w.a_label, w.b_label), on, width)
    moved = _what_if_amounts(out, w, lang, names)
    _what_if_parameters(out, w, lang, packs, names, moved, width)
    _what_if_steps(out, w, lang, names, width)
    return out.text()


def _what_if_heading(out, w, lang: str, packs, labels, on: dt.date | None, width: int) -> None:
    """The claim, each side's pack, version and deciding date, and the notes on the comparison."""
    from rich.cells import cell_len

    from benefits.render import date_text

    from .render import WORDS

    zh = lang == "zh"
    words, calc = WHATIF_WORDS[lang], WORDS[lang]
    colon = "：" if zh else ": "
    _lines(out, wrap(visible(f"{words['title']}{colon}{calc['claim']} {w.a.claim_id}"), width), "bold")
    for side, s, pack, label in (("A", w.a, packs[0], labels[0]), ("B", w.b, packs[1], labels[1])):
        if zh:
            moved = [words["on"].format(day=date_text(on, lang))] if side == "B" and on is not None else []
            where = pack.meta.jurisdiction if pack is not None else s.pack
            parts = [f"{side}：{label}", *moved, f"{calc['pack']} {where}",
                     f"{calc['version']} {date_text(s.version, lang)}起",
                     f"{calc['deciding_date']} {date_text(s.deciding_date, lang)}"]
            _lines(out, wrap([visible(x) for x in parts], width, indent=2, hang=3, sep="   "))
        else:
            label = f"{label} {words['on'].format(day=on)}" if side == "B" and on is not None else label
            parts = [f"{side}: {label}", f"({s.pack}@{s.version}),", f"deciding date {s.deciding_date}"]
            _lines(out, wrap([visible(x) for x in parts], width, indent=2, hang=3))
    for note in w.notes:
        if zh:
            for pattern, text in _NOTES_ZH:
                note = pattern.sub(text, note)
        _lines(out, wrap(visible(words["note"] + note), width, indent=2, hang=cell_len(words["note"])))
    out.blank()


def _what_if_amounts(out, w, lang: str, names: dict[str, str]) -> bool:
    """The amounts of A and B and their change; whether any amount or ratio differs."""
    from benefits.render import formula_text

    from .render import WORDS, Grid

    words, calc = WHATIF_WORDS[lang], WORDS[lang]
    t = Grid(["", "A", "B", words["change"]], "lrrr")
    moved = False
    for key, x, y, kind in _rows(w):
        label = names.get(key[6:], key[6:]) if key.startswith("layer:") else calc[ROW_WORDS[key]]
        if kind == "ratio":
            delta = "" if x == y or x is None or y is None else \
                formula_text(f"{((y - x) * 100).normalize():+f} points", lang)
        else:
            delta = "" if (x or 0) == (y or 0) else f"{(y or 0) - (x or 0):+.2f}"
        moved = moved or bool(delta)
        t.add(label, _fmt(x, kind), _fmt(y, kind), delta, style="bold" if key == "fund_total" else "")
    out.print(t, indent=2)
    out.blank()
    return moved


def _what_if_parameters(out, w, lang: str, packs, names: dict[str, str], moved: bool, width: int) -> None:
    """The parameters the two traces cite with different values, each with its sources."""
    from benefits.render import source_text
    from benefits.trace import is_assumed

    from .render import WORDS

    zh = lang == "zh"
    words, calc = WHATIF_WORDS[lang], WORDS[lang]
    colon = "：" if zh else ": "
    # parameters the two traces cite with different values moved nothing when no amount differs
    _lines(out, wrap(words["params" if moved else "params_same"], width, hang=2), "bold")
    if not w.diff.parameters:
        _lines(out, wrap(words["none"], width, indent=2))
    for p in w.diff.parameters:
        a_val, b_val = (_what_if_value(v, lang) if v is not None else "-" for v in (p.a, p.b))
        only = "" if p.a is not None and p.b is not None else f"（{words['only']}）" if zh else f"  ({words['only']})"
        if zh:
            where = "、".join(dict.fromkeys(_step_zh(x, (w.a.trace, w.b.trace), names, layer_only=True) for x in p.steps))
            parts = [f"{_parameter_zh(p.parameter, packs)}：{a_val} -> {b_val}{only}", f"【{where}】"]
        else:
            parts = [f"{p.parameter}: {a_val} -> {b_val}{only}", f"[{', '.join(p.steps)}]"]
        _lines(out, wrap([visible(x) for x in parts], width, indent=2, hang=4, sep="" if zh else "   "))
        for side, source in (("A", p.a_source), ("B", p.b_source if p.b_source != p.a_source else None)):
            # in Chinese, the policy's words (source_text), and that the value is assumed where it is
            text = source if not zh or source is None else \
                "".join((source_text(source, lang), calc["assumed"] if is_assumed(source) else ""))
            if text:
                _lines(out, wrap(visible(f"{side}{colon}{text}"), width, indent=6, hang=3), "dim")


def _what_if_steps(out, w, lang: str, names: dict[str, str], width: int) -> None:
    """The steps whose results differ between A and B."""
    from .render import Grid

    if not w.diff.steps:
        return
    zh = lang == "zh"
    words = WHATIF_WORDS[lang]
    out.blank()
    _lines(out, wrap(words["steps"], width), "bold")
    t = Grid([words["step"], "A", "B"], "lrr" if zh else "Lrr")
    for st in w.diff.steps:
        label = _step_zh(st.step, (w.a.trace, w.b.trace), names) if zh else st.step
        t.add(label, *(_what_if_value(v, lang) if v is not None else "-" for v in (st.a, st.b)))
    out.print(t, indent=2)


def _what_if_value(v: str, lang: str) -> str:
    """A parameter's or a step's value as the trace writes it, in the language asked."""
    from benefits.render import formula_text, word

    return formula_text(word(v, lang), lang)


def _what_if_json(w) -> dict:
    from benefits.models.platform_out import with_blocks

    def side(s, label):
        return {"label": label} | with_blocks(s)

    rows = {}
    for key, x, y, kind in _rows(w):
        if kind == "money":
            rows[key] = {"a": _fmt(x, kind), "b": _fmt(y, kind), "b_minus_a": f"{(y or 0) - (x or 0):.2f}"}
        else:
            rows[key] = {"a": None if x is None else str(x), "b": None if y is None else str(y)}
    return {
        "a": side(w.a, w.a_label), "b": side(w.b, w.b_label), "notes": w.notes,
        "difference": {
            "amounts": rows,
            "parameters": [{"parameter": p.parameter, "a": p.a, "b": p.b, "a_source": p.a_source,
                            "b_source": p.b_source, "steps": p.steps} for p in w.diff.parameters],
            "steps": [{"step": s.step, "a": s.a, "b": s.b} for s in w.diff.steps],
        },
    }


# `simulate` and `rules diff`, each built (and this module imported) only when it is run or listed
# (app.COMMANDS, app.rules_app).
simulate_command = typer.Typer(add_completion=False)
simulate_command.command(name="simulate", help=SIMULATE_HELP, epilog=SIMULATE_EPILOG)(simulate)
diff_command = typer.Typer(add_completion=False)
diff_command.command(name="diff", help=DIFF_HELP, epilog=DIFF_EPILOG)(rules_diff)
