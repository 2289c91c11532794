"""The ledger's commands: `settle`, `reverse`, `ledger show`, `ledger open` and `ledger credit`, on a
ledger file or database.

    benefits settle CLAIM --rules DIR --key KEY [--ledger PATH_OR_URL] [--json]
    benefits reverse KEY --of SETTLED_KEY [--ledger PATH_OR_URL] [--json]
    benefits ledger show MEMBER YEAR [--ledger PATH_OR_URL] [--json]
    benefits ledger open MEMBER YEAR ACCUMULATORS_FILE --key KEY [--rules DIR] [--ledger PATH_OR_URL] [--json]
    benefits ledger credit MEMBER YEAR AMOUNT --key KEY [--counter NAME] [--rules DIR] [--ledger PATH_OR_URL] [--json]

Unlike `calc`, `settle` takes no accumulators: it reads them from the ledger and appends what the
claim changed. `--json` prints the stored answer (the body a replay returns). Errors and exit codes
are `calc`'s (guard() in app.py): a refused request (a key taken by another claim, a claim settled
under another key, a member-year kept under another pack, a settlement already reversed, an unknown
key, an unreachable or busy ledger) is one line on stderr and exit 2.
"""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.cells import cell_len
from rich.text import Text

from benefits import Accumulators, BenefitsError, Claim, ClaimError, Settlement

if TYPE_CHECKING:
    from collections.abc import Callable

    from benefits.ledger import Credited, Entry, Head, LedgerError, Opened, Reversed, Settled
    from benefits.rules.pack import RulePack

from . import inputs
from .arguments import year
from .render import Grid, Screen, settlement_text
from .streams import write
from .text import Paint, color_enabled, json_text, money, visible

DEFAULT_LEDGER = "benefits-ledger.db"


class Lang(str, Enum):
    zh = "zh"
    en = "en"


LedgerOpt = Annotated[str, typer.Option(
    "--ledger", metavar="PATH_OR_URL", envvar="BENEFITS_LEDGER", show_envvar=True,
    help="The ledger: a SQLite file (created when absent), sqlite:///PATH or postgresql://... "
         "Default: benefits-ledger.db here, or BENEFITS_LEDGER.")]
JsonOpt = Annotated[bool, typer.Option(
    "--json", help="Print the stored answer as JSON (amounts as strings) and nothing else.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show the Python traceback of an error.")]
LangOpt = Annotated[Lang, typer.Option("--lang", "-l", help="Language of the labels.")]
CheckRulesOpt = Annotated[Optional[str], typer.Option(
    "--rules", "-r", metavar="DIR", envvar="BENEFITS_RULES", show_default=False, show_envvar=True,
    help="A rule pack folder (e.g. rules/jiangmen) to check the counters against. Optional: without it only "
         "their names and months are checked, and the engine refuses a counter its pack does not keep at the "
         "member's next settlement.")]
CreditRulesOpt = Annotated[Optional[str], typer.Option(
    "--rules", "-r", metavar="DIR", envvar="BENEFITS_RULES", show_default=False, show_envvar=True,
    help="A rule pack folder (e.g. rules/jiangmen): the counter must be one of its personal-account balances. "
         "Optional: without it, any counter named *.balance is credited.")]
ShowJsonOpt = Annotated[bool, typer.Option(
    "--json", help="Print the member-year (accumulators, requests and entries) as JSON (amounts as strings) "
                   "and nothing else.")]


def _guard(debug: bool):
    from .app import guard  # here, not above: app builds this module's commands; neither imports the other at load

    return guard(debug)


def _screen(paint: Paint, head: str) -> Screen:
    """The text of an answer, laid out to the terminal's width (see render.Screen), starting with `head`."""
    out = Screen(paint)
    out.print(Text(visible(head), style="bold"))
    return out


def _print_answer(done: Settled | Reversed | Opened | Credited, as_json: bool,
                  text: Callable[[dict, Paint], str]) -> None:
    """A request's stored answer (the body a replay returns): as it is with --json, else as `text(body,
    paint)` tells it."""
    body = json.loads(done.body)
    if as_json:
        write(json_text(body))
        if getattr(done, "reversed_by", None):  # the body is as first answered: the warning goes beside it
            from .app import _stderr

            _stderr(f"warning: key {visible(done.key)} was reversed since, under key {visible(done.reversed_by)}: "
                    "the stored answer no longer counts")
    else:
        write(text(body, Paint(color_enabled())))


# --- settle -----------------------------------------------------------------------------------

SETTLE_HELP = (
    "Settle one claim against the member's accumulators in the ledger, and record it.\n\n"
    "The accumulators are read from the ledger (the sum of its entries for the member and the year of the "
    "claim's deciding date); the claim's changes are appended as entries. Idempotent on --key: the same claim "
    "again under the same key prints the stored settlement and writes nothing; another claim under a used key "
    "is refused."
)
SETTLE_EPILOG = ("Example: benefits settle examples/resident-level3-inpatient.yaml --rules rules/jiangmen "
                 "--key 2207-0001 --ledger ledger.db")


def settle(claim: Annotated[str, typer.Argument(metavar="CLAIM", show_default=False,
                                                help="The claim: a YAML or JSON file, or - to read it from stdin.")],
           rules: Annotated[str, typer.Option(
               "--rules", "-r", metavar="DIR", envvar="BENEFITS_RULES", show_default=False, show_envvar=True,
               help="The rule pack folder, e.g. rules/jiangmen. Required, unless BENEFITS_RULES names it.")],
           key: Annotated[str, typer.Option(
               "--key", "-k", metavar="KEY", show_default=False,
               help="The settlement's key: the platform's msgid or settlement id. Required.")],
           ledger: LedgerOpt = DEFAULT_LEDGER, as_json: JsonOpt = False, lang: LangOpt = Lang.zh,
           debug: DebugOpt = False) -> None:
    from .app import load_pack

    with _guard(debug):
        pack = load_pack(rules)
        doc = inputs.read(claim)
        validated = inputs.validate(doc, Claim, "a claim", "id, member, visit, level, bill")
        with _open(ledger) as book:
            try:
                done = book.settle(key, validated, pack)
            except ClaimError as exc:
                raise BenefitsError(inputs.locate(exc, {"claim": doc})) from None
        _print_answer(done, as_json, lambda body, paint: _settled_text(done, body, pack, lang.value, paint))


def _reversed(done: Settled | Opened | Credited) -> str:
    """What a replay of a request reversed since adds to its first line."""
    return f"; REVERSED since, under key {done.reversed_by}: it no longer counts" if done.reversed_by else ""


def _settled_text(done: Settled, body: dict, pack: RulePack, lang: str, paint: Paint) -> str:
    said = ("already settled under this key: the stored settlement, nothing written" if done.replayed
            else "settled and recorded") + _reversed(done)
    head = _screen(paint, f"key {done.key}: {said} (member {done.member_id}, {done.year}; pack {body['pack']} "
                          f"version {body['pack_version']}, files {body['pack_hash'][:12]})")
    return "\n".join([head.text(), "", settlement_text(Settlement.model_validate(body["settlement"]), pack, lang, paint)])


# --- reverse ----------------------------------------------------------------------------------

REVERSE_HELP = (
    "Reverse a recorded settlement: append the negation of its entries, so that every counter is as if it "
    "had not been settled, and print its amounts negated.\n\n"
    "Settlements of the same member and year made after it counted its amounts; they are listed, not "
    "settled again, and its claim is settled again only once they are reversed too (then settle them again, "
    "in order). Idempotent on KEY: the same reversal again prints the stored answer."
)
REVERSE_EPILOG = "Example: benefits reverse 2208-0001 --of 2207-0001 --ledger ledger.db"


def reverse(key: Annotated[str, typer.Argument(metavar="KEY", show_default=False,
                                              help="The reversal's own key: the platform's msgid.")],
            of: Annotated[str, typer.Option("--of", metavar="SETTLED_KEY", show_default=False,
                                            help="The key of the settlement to reverse. Required.")],
            ledger: LedgerOpt = DEFAULT_LEDGER, as_json: JsonOpt = False, debug: DebugOpt = False) -> None:
    with _guard(debug):
        with _open(ledger) as book:
            done = book.reverse(key, of)
        _print_answer(done, as_json, lambda body, paint: _reversal_text(done, body, paint))


def _reversal_text(done: Reversed, body: dict, paint: Paint) -> str:
    said = "already reversed under this key: the stored answer, nothing written" if done.replayed else "reversed"
    if "of_kind" in body:  # an opening's or a credit's reversal: entries only, no amounts paid
        out = _screen(paint, f"key {body['key']}: {body['of_kind']} {body['of']} {said} (member {body['member_id']}, "
                             f"{body['year']})")
    else:
        out = _screen(paint, f"key {body['key']}: settlement {body['of']} {said} (member {body['member_id']}, "
                             f"{body['year']}; claim {body['claim_id']})")
        amounts = Grid(["amounts returned (2208)", "yuan"], "Lr")
        for name, value in body["platform_fields"].items():
            amounts.add(name, value)
        out.blank()
        out.print(amounts, indent=2)
    out.blank()
    if body["entries"]:
        entries = Grid(["compensating entries", "month", "change"], "LLr")
        for e in body["entries"]:
            entries.add(e["counter"], e["month"], e["delta"])
        out.print(entries, indent=2)
    else:
        out.print(Text("no entries: the settlement changed no counter"), indent=2)
    if body["later"]:
        out.blank()
        out.print(Text(visible("settled later in the same year, on the reversed amounts (not settled again): "
                               + ", ".join(body["later"])), style="yellow"))
    return out.text()


# --- ledger show ------------------------------------------------------------------------------

SHOW_HELP = (
    "Show a member's accumulators for a year, as the sum of the ledger's entries, with the requests "
    "(settlements, reversals, openings, credits) and entries that make them."
)


def show(member: Annotated[str, typer.Argument(metavar="MEMBER", show_default=False, help="The member's id.")],
         year: Annotated[int, typer.Argument(metavar="YEAR", show_default=False, parser=year,
                                             help="The accumulator year.")],
         ledger: LedgerOpt = DEFAULT_LEDGER, as_json: ShowJsonOpt = False, debug: DebugOpt = False) -> None:
    with _guard(debug):
        with _open(ledger) as book:
            found = book.member_year(member, year)
        acc, history, entries = found.accumulators, found.history, found.entries
        if as_json:
            write(json_text({"member_id": member, "year": year, "accumulators": acc.model_dump(mode="json"),
                             "settlements": [_record_json(r) for r in history],
                             "entries": [_entry_json(e) for e in entries]}))
            return
        write(_ledger_text(member, year, acc, history, entries, Paint(color_enabled())))


def _open(url: str):
    """The ledger at `url`. Imported here: the ledger's modules (and a PostgreSQL driver) are not
    what `calc` and the other commands should pay for at start."""
    from benefits.ledger import open_ledger

    return open_ledger(url)


def _record_json(r: Head) -> dict:
    return {"seq": r.seq, "key": r.key, "kind": r.kind, "reverses": r.reverses, "reversed_by": r.reversed_by,
            "pack": r.pack, "pack_hash": r.pack_hash,
            "pack_version": None if r.pack_version is None else r.pack_version.isoformat(),
            "created_at": r.created_at.isoformat()}


def _entry_json(e: Entry) -> dict:
    return {"seq": e.seq, "settlement_key": e.settlement_key, "counter": e.counter, "month": e.month,
            "delta": str(e.amount) if e.counter != "admissions" else str(e.delta)}


def _ledger_text(member: str, year: int, acc, history: tuple[Head, ...], entries: tuple[Entry, ...],
                 paint: Paint) -> str:
    out = _screen(paint, f"member {member}, {year}: {len(history)} request(s), {len(entries)} entries")
    counters = Grid(["accumulators", "value"], "Lr")
    counters.add("admissions", str(acc.admissions))
    for name, value in acc.counters.items():
        counters.add(name, money(value))
    out.blank()
    out.print(counters, indent=2)
    if history:
        requests = Grid(["#", "key", "kind", "pack", "note"], "rLLll")
        for r in history:
            note = (f"reverses {r.reverses}" if r.kind == "reverse"
                    else f"reversed by {r.reversed_by}" if r.reversed_by else "")
            pack = f"{r.pack} {r.pack_version}" if r.pack_version else (r.pack or "-")
            requests.add(str(r.seq), r.key, r.kind, pack, note)
        out.blank()
        out.print(requests, indent=2)
        out.blank()
        _print_entries(out, entries)
    return out.text()


def _print_entries(out: Screen, entries: tuple[Entry, ...]) -> None:
    """The entries in order, under the key of the request that made them: a key, often long, on a line of
    its own, its entries under it, the entries of every key aligned alike."""
    headers, align = ["entry", "counter", "month", "change"], "rLLr"
    rows = [(e.settlement_key, [str(e.seq), e.counter, e.month,
                                f"{e.delta:+d}" if e.counter == "admissions" else money(e.amount, signed=True)])
            for e in entries]
    sizes = [max(cell_len(visible(c)) for c in [h] + [r[1][i] for r in rows]) for i, h in enumerate(headers)]
    out.print(Text("key", style="bold"), indent=2)
    out.print(Grid(headers, align, sizes), indent=ENTRIES)
    for key, group in itertools.groupby(rows, key=lambda r: r[0]):
        out.print(Text(visible(key)), indent=2)
        grid = Grid([""] * len(headers), align, sizes)
        for _, cells in group:
            grid.add(*cells)
        out.print(grid, indent=ENTRIES)


ENTRIES = 4  # the indent of a request's entries, under its key


# --- ledger open and ledger credit ---------------------------------------------------------------

OPEN_HELP = (
    "Bring a member's accumulators for a year into the ledger (期初余额导入): a member whose earlier claims "
    "of the year were settled elsewhere, or a personal-account balance carried into the year.\n\n"
    "The file is an accumulators file as calc takes it (year, admissions, counters; member_id optional, but "
    "the member's when given). It is written as entries, and the member's next settlement starts from it. "
    "Allowed only as the year's first request that stands: refused once a settlement, credit or opening of "
    "the member's year is recorded and not reversed, so that no balance is overwritten. A wrong opening is "
    "reversed (benefits reverse KEY --of OPENING_KEY, while no settlement stands on it) and made again. "
    "Idempotent on --key."
)
OPEN_EPILOG = ("Example: benefits ledger open m-1001 2021 examples/resident-level3-accumulators.yaml "
               "--key open-m-1001-2021 --rules rules/jiangmen --ledger ledger.db")


def open_year(member: Annotated[str, typer.Argument(metavar="MEMBER", show_default=False, help="The member's id.")],
              year: Annotated[int, typer.Argument(metavar="YEAR", show_default=False, parser=year,
                                                  help="The accumulator year.")],
              accumulators: Annotated[str, typer.Argument(
                  metavar="ACCUMULATORS_FILE", show_default=False,
                  help="The accumulators to open with: a YAML or JSON file, or - to read them from stdin.")],
              key: Annotated[str, typer.Option("--key", "-k", metavar="KEY", show_default=False,
                                               help="The opening's key (the migration batch's id for the member). "
                                                    "Required.")],
              rules: CheckRulesOpt = None, ledger: LedgerOpt = DEFAULT_LEDGER, as_json: JsonOpt = False,
              debug: DebugOpt = False) -> None:
    from benefits.ledger import LedgerError

    from .app import load_pack

    with _guard(debug):
        pack = load_pack(rules) if rules else None
        doc = inputs.read(accumulators)
        validated = inputs.validate(doc, Accumulators, "accumulators", "year, admissions, counters")
        with _open(ledger) as book:
            try:
                done = book.open_year(key, member, year, validated, rules=pack)
            except LedgerError as exc:
                raise _in_file(exc, doc) from None
        _print_answer(done, as_json, lambda body, paint: _opening_text(done, body, paint))


def _opening_text(done: Opened, body: dict, paint: Paint) -> str:
    said = ("already opened under this key: the stored opening, nothing written" if done.replayed
            else "opened") + _reversed(done)
    checked = (f"checked against pack {body['pack']}, files {body['pack_hash'][:12]}" if body["pack"]
               else "not checked against a pack")
    out = _screen(paint, f"key {done.key}: member {done.member_id}, {done.year} {said} ({checked})")
    table = Grid(["accumulators opened", "value"], "Lr")
    table.add("admissions", str(body["accumulators"]["admissions"]))
    for name, value in body["accumulators"]["counters"].items():
        table.add(name, money(Decimal(value)))
    out.blank()
    out.print(table, indent=2)
    return out.text()


def _in_file(exc: LedgerError, doc: inputs.Document) -> BenefitsError:
    """A ledger refusal, as it is; one about the accumulators, with the file and line of each problem."""
    if not any(p.path[:1] == ("accumulators",) for p in exc.problems):
        return exc
    return BenefitsError("\n".join(f"{doc.at(p.path[1:])}: {p}" if p.path[:1] == ("accumulators",) else str(p)
                                   for p in exc.problems))


CREDIT_HELP = (
    "Add an amount to a member's balance counter for a year: a deposit into the personal account "
    "(个人账户划入).\n\n"
    "Only a balance is credited: without --rules, a counter named *.balance; with them, a personal-account "
    "balance counter of the pack. A credit may come at any time of the year; reversing it (benefits reverse "
    "KEY --of CREDIT_KEY) is refused once a settlement that stands was made after it. Idempotent on --key."
)
CREDIT_EPILOG = "Example: benefits ledger credit e-2001 2022 1000.00 --key dep-2022-03-e-2001 --ledger ledger.db"


def credit(member: Annotated[str, typer.Argument(metavar="MEMBER", show_default=False, help="The member's id.")],
           year: Annotated[int, typer.Argument(metavar="YEAR", show_default=False, parser=year,
                                               help="The accumulator year.")],
           amount: Annotated[str, typer.Argument(metavar="AMOUNT", show_default=False,
                                                 help="Yuan, at most two decimals, above zero: 1000.00")],
           key: Annotated[str, typer.Option("--key", "-k", metavar="KEY", show_default=False,
                                            help="The credit's key (the deposit's id). Required.")],
           counter: Annotated[str, typer.Option("--counter", metavar="NAME",
                                                help="The balance counter.")] = "personal_account.balance",
           rules: CreditRulesOpt = None, ledger: LedgerOpt = DEFAULT_LEDGER, as_json: JsonOpt = False,
           debug: DebugOpt = False) -> None:
    from .app import load_pack

    with _guard(debug):
        pack = load_pack(rules) if rules else None
        with _open(ledger) as book:
            done = book.credit(key, member, year, counter, amount, rules=pack)
        _print_answer(done, as_json, lambda body, paint: _credit_text(done, body, paint))


def _credit_text(done: Credited, body: dict, paint: Paint) -> str:
    said = ("already credited under this key: the stored credit, nothing written" if done.replayed
            else "credited") + _reversed(done)
    return _screen(paint, f"key {done.key}: {said}: {money(Decimal(body['amount']))} to {body['counter']} of member "
                          f"{done.member_id}, {done.year}; balance after it {money(Decimal(body['balance']))}").text()


# The commands, each built (and this module imported) only when it is run or listed (app.COMMANDS).
settle_command = typer.Typer(add_completion=False)
settle_command.command("settle", help=SETTLE_HELP, epilog=SETTLE_EPILOG)(settle)
reverse_command = typer.Typer(add_completion=False)
reverse_command.command("reverse", help=REVERSE_HELP, epilog=REVERSE_EPILOG)(reverse)
ledger_app = typer.Typer(name="ledger", help="Look into a ledger, or bring balances into it.\n\n"
                                             "Example: benefits ledger show m1 2022 --ledger ledger.db",
                         no_args_is_help=True, add_completion=False)
ledger_app.command("show", help=SHOW_HELP, epilog="Example: benefits ledger show m1 2022 --ledger ledger.db")(show)
ledger_app.command("open", help=OPEN_HELP, epilog=OPEN_EPILOG)(open_year)
ledger_app.command("credit", help=CREDIT_HELP, epilog=CREDIT_EPILOG)(credit)
