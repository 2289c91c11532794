"""The floor of a cold `benefits calc` on this stack: what any command of its shape costs before
a line of ours runs.

A typer command with `calc`'s parameters reads a YAML file, validates one small pydantic model and
prints a small table with rich. The first pydantic model a process builds loads pydantic's model
machinery and its plugin loader (`importlib.metadata`), which `import pydantic` alone does not;
typer 0.29 builds one per parameter when the command runs, and without typer our own models would
(section 9 also times one model after the imports, with no command at all). Section 9 of run.py
times this stub beside `benefits calc` and the three imports target (d) is measured against, so the
part of the target the stack itself takes is measured in the same run:

    .venv/bin/python bench/cold_floor.py examples/resident-level3-inpatient.yaml --rules rules/jiangmen
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
import yaml

app = typer.Typer(add_completion=False)


class Lang(str, Enum):
    zh = "zh"
    en = "en"


@app.command()
def calc(claim: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
         rules: Annotated[Path, typer.Option("--rules", exists=True, file_okay=False)],
         accumulators: Annotated[Path | None, typer.Option("--accumulators")] = None,
         as_json: Annotated[bool, typer.Option("--json")] = False,
         lang: Annotated[Lang, typer.Option("--lang")] = Lang.zh,
         debug: Annotated[bool, typer.Option("--debug")] = False,
         compare: Annotated[str | None, typer.Option("--compare")] = None,
         compare_on: Annotated[dt.datetime | None, typer.Option("--compare-on", formats=["%Y-%m-%d"])] = None) -> None:
    from pydantic import BaseModel
    from rich.console import Console
    from rich.table import Table

    class Claim(BaseModel):
        id: str
        visit: str

    data = yaml.safe_load(claim.read_text(encoding="utf-8"))
    c = Claim.model_validate({"id": str(data.get("id", "")), "visit": str(data.get("visit", ""))})
    table = Table("claim", "visit", box=None)
    table.add_row(c.id, c.visit)
    Console(width=80).print(table)


if __name__ == "__main__":
    app()
