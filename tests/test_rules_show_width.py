"""`benefits rules show` and the ledger commands' text fit the terminal (COLUMNS, or 80 when piped), as
calc and explain do (test_terminal_output.py): long cells wrap within their column, ids stay whole, and
nothing is lost: every value with its date, * mark and source, every counter, every layer.

Widths are measured by rich.cells.cell_len: a Chinese character takes two columns."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from rich.cells import cell_len

import benefits
import benefits_cli.app
from benefits_cli.app import app
from conftest import ROOT, RULES, cli_runner

runner = cli_runner()
ANSI = re.compile("\x1b\\[[0-9;]*m")
PACKS = ["jiangmen", "anyang"]


def run(*args, columns: int | None = None):
    r = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": str(columns) if columns else None, "NO_COLOR": None})
    assert r.exit_code == 0, r.stderr
    return r.stdout


def too_wide(text: str, columns: int) -> list[str]:
    return [line for line in ANSI.sub("", text).splitlines() if cell_len(line) > columns]


def bare(text: str) -> str:
    """`text` without any whitespace: what wrapping to a width cannot change."""
    return "".join(text.split())


def indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def block(lines: list[str], at: int) -> str:
    """Line `at` and the lines under it indented further: a row with its wrapped cells and what is shown under it."""
    end = at + 1
    while end < len(lines) and lines[end].strip() and indent(lines[end]) > indent(lines[at]):
        end += 1
    return "\n".join(lines[at:end])


@pytest.fixture(scope="module")
def packs():
    return {name: benefits.load_rules(RULES / name) for name in PACKS}


@pytest.mark.parametrize("columns", [80, 60])
@pytest.mark.parametrize("name", PACKS)
def test_rules_show_fits_the_width_and_keeps_every_value_and_source(name, columns, packs):
    pack = packs[name]
    out = run("rules", "show", RULES / name, columns=columns)
    assert not too_wide(out, columns), too_wide(out, columns)
    assert "\x1b" not in out and all(line == line.rstrip() for line in out.splitlines())
    lines = out.splitlines()

    # every parameter: its name whole on a line of its own, under it each value, its date, * when assumed, its source
    for pname, p in pack.parameters.items():
        (at,) = [i for i, line in enumerate(lines) if line == f"  {pname}"]
        assert bare(block(lines, at)) == bare(pname + "".join(
            f"{v.text} {v.start} {'*' if v.assumed else ''} {v.source}" for v in p.values)), pname
    for file in {v.file for p in pack.parameters.values() for v in p.values}:
        assert bare(str(RULES / file)) in bare(out)  # the heading of the file's parameters

    # every counter: its name whole at the start of a row, its description in the lines of that row
    for c in pack.meta.counters:
        (at,) = [i for i, line in enumerate(lines) if line.split()[:1] == [c.name]]
        assert bare(block(lines, at)) == bare(f"{c.name} {c.description.zh} / {c.description.en}")

    # every layer: id, kind and fund codes on a row, its name (Chinese and English) under it, then each group
    # whose cap it lifts with the source (marked * when assumed)
    for layer in pack.layers:
        (at,) = [i for i, line in enumerate(lines) if line.split()[:2] == [layer.id, layer.kind]]
        codes = ", ".join(f"{scheme} {code}" for scheme, code in layer.fund_code.items()) or "-"
        lifts = "".join(f" no cap for group {g.id}{' *' if g.lift_cap.source.startswith('assumed') else ''}: "
                        f"{g.lift_cap.source}" for g in getattr(layer, "groups", ()) if getattr(g, "lift_cap", None))
        assert bare(block(lines, at)) == bare(f"{layer.id} {layer.kind} {codes} {layer.name.zh} / {layer.name.en}{lifts}")
    assert len(pack.meta.counters) > 5 and len(pack.layers) > 5 and len(pack.parameters) > 30


@pytest.mark.parametrize("columns", [80, 60])
def test_rules_show_named_content_at_the_width(columns):
    out = run("rules", "show", RULES / "jiangmen", columns=columns)
    lines = out.splitlines()
    at = lines.index("  inpatient.ratio[resident][level2]")
    assert lines[at + 1].split()[:3] == ["75%", "2021-01-01", "*"]  # assumed, then seed 001 from July
    later = next(line for line in lines[at + 1:] if "2021-07-01" in line)
    assert later.split()[:4] == ["80%", "2021-07-01", "seed", "001:"]
    assert "在二级定点医疗机构住院，基金支付比例提高至80%" in bare(block(lines, at))
    assert next(line.split() for line in lines if line.split()[:1] == ["medical_aid.deductible_used"])[1] == "医疗救助起付线已累计"
    assert any(line.split() == ["personal_account", "personal_account", "employee", "310200"] for line in lines)
    assert "53 parameters, 65 values shown; * = assumed (37 of 65)" in " ".join(out.split())


def test_rules_show_on_a_date_fits_too():
    out = run("rules", "show", RULES / "jiangmen", "--on", "2021-08-16", columns=60)
    assert not too_wide(out, 60)
    assert "in force on 2021-08-16: version 2021-07-01 (valid 2021-07-01 to 2021-12-31)" in " ".join(out.split())


def test_assumed_values_are_yellow_when_coloured(monkeypatch):
    monkeypatch.setattr(benefits_cli.app, "color_enabled", lambda stream=None: True)  # a terminal
    coloured = run("rules", "show", RULES / "jiangmen", "--on", "2021-08-16", columns=80)
    monkeypatch.undo()
    plain = run("rules", "show", RULES / "jiangmen", "--on", "2021-08-16", columns=80)
    assert "\x1b" not in plain and ANSI.sub("", coloured) == plain and not too_wide(coloured, 80)
    lines = coloured.splitlines()
    assumed = lines[lines.index("  inpatient.deductible.repeat_factor") + 1]  # 50%, assumed
    published = lines[lines.index("  inpatient.ratio[resident][level3]") + 1]  # 65%, seed 001
    assert "\x1b[33m" in assumed and "*" in assumed and "50%" in assumed
    assert "\x1b[33m" not in published and "65%" in published


# --- the ledger's commands -------------------------------------------------------------------------

CLAIM = ROOT / "examples" / "resident-level3-inpatient.yaml"  # member m-1001, 2021
OPENING = ROOT / "examples" / "resident-level3-accumulators.yaml"
OPEN_KEY = "open-m-1001-2021-b07"


def test_ledger_text_fits_60_columns_and_keeps_every_entry(tmp_path):
    book = tmp_path / "book.db"
    said = [run("ledger", "open", "m-1001", "2021", OPENING, "--key", OPEN_KEY, "--rules", RULES / "jiangmen",
                "--ledger", book, columns=60),
            run("settle", CLAIM, "--rules", RULES / "jiangmen", "--key", "2207-0001", "--ledger", book, "--lang", "en",
                columns=60),
            run("ledger", "credit", "m-1001", "2021", "1000.00", "--key", "dep-2021-03-m-1001", "--ledger", book,
                columns=60),
            run("reverse", "2208-0001", "--of", "2207-0001", "--ledger", book, columns=60),
            run("reverse", "2208-0002", "--of", "dep-2021-03-m-1001", "--ledger", book, columns=60)]
    shown = run("ledger", "show", "m-1001", "2021", "--ledger", book, columns=60)
    for out in said + [shown]:
        assert not too_wide(out, 60), too_wide(out, 60)
        assert all(line == line.rstrip() for line in out.splitlines())
    opened, settled, credited, _, _ = (" ".join(x.split()) for x in said)
    assert opened.startswith(f"key {OPEN_KEY}: member m-1001, 2021 opened (checked against pack jiangmen")
    assert settled.startswith("key 2207-0001: settled and recorded (member m-1001, 2021; pack jiangmen")
    assert credited.startswith("key dep-2021-03-m-1001: credited: 1000.00 to personal_account.balance of member m-1001")
    body = json.loads(run("reverse", "2208-0001", "--of", "2207-0001", "--ledger", book, "--json"))
    for field, value in body["platform_fields"].items():  # the amounts returned, one row each
        assert any(line.split() == [field, value] for line in said[3].splitlines()), field
    for e in body["entries"]:
        assert any(line.split() == [e["counter"], e["delta"]] for line in said[3].splitlines()), e

    book_json = json.loads(run("ledger", "show", "m-1001", "2021", "--ledger", book, "--json"))
    lines = shown.splitlines()
    assert lines[0] == "member m-1001, 2021: 5 request(s), 20 entries"
    for name, value in book_json["accumulators"]["counters"].items():
        assert any(line.split() == [name, value] for line in lines), name
    column = next(line for line in lines if line.split()[:2] == ["#", "key"]).index("note")  # the last column
    for r in book_json["settlements"]:  # each request on a row: its number, its key and its kind, whole
        at = next(i for i, line in enumerate(lines) if line.split()[:1] == [str(r["seq"])])
        assert lines[at].split()[1:3] == [r["key"], r["kind"]]
        note = f"reversed by {r['reversed_by']}" if r["reversed_by"] else f"reverses {r['reverses']}" if r["reverses"] else ""
        assert bare("".join(line[column:] for line in block(lines, at).splitlines())) == bare(note)  # wrapped in its column
    # each entry on a line of its own (number, counter, change), under the key of its request
    entries = lines[lines.index("  key"):]
    seen, key = [], None
    for line in entries[2:]:
        if indent(line) == 2:
            key = line.strip()
            continue
        seq, counter, *_, change = line.split()
        e = next(e for e in book_json["entries"] if e["seq"] == int(seq))
        assert (key, counter, Decimal(change)) == (e["settlement_key"], e["counter"], Decimal(e["delta"]))
        seen.append(int(seq))
    assert seen == [e["seq"] for e in book_json["entries"]] and len(seen) == 20
