"""Terminal text: display widths (Chinese characters take two columns), aligned tables, colour, and
text from input files made safe to print.

Colour is used only when the stream is a terminal and NO_COLOR is not set (https://no-color.org);
piped output is plain text.

Text from input files (ids, descriptions, names, file names, error messages quoting them) may hold
control characters: a carriage return that overwrites a FAIL marker, an escape sequence that sets the
window title. `visible()` shows each as an escape (\\r, \\x1b); it is applied where input text enters
a line, before the line is coloured, so our own colour codes are the only raw escapes we print.
`Table` applies it to every cell.
"""

from __future__ import annotations

import json
import os
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal


# C0 (ESC among them), DEL and C1 control characters, and lone surrogates (which no encoding can write)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def visible(text: object, *, newlines: bool = False) -> str:
    """`text` with each control character shown as Python writes it in a string (\\r, \\t, \\x1b, \\x9b).

    newlines=True keeps a newline as a line break, for messages of several lines.
    """
    def escape(match: re.Match) -> str:
        char = match.group()
        return char if newlines and char == "\n" else repr(char)[1:-1]

    return _CONTROL.sub(escape, str(text))


# JSON escapes C0 itself but leaves DEL, C1 and lone surrogates raw (as the standard allows): escape them too.
_RAW_IN_JSON = re.compile("[\x7f-\x9f\ud800-\udfff]")


def json_text(data: object) -> str:
    """`data` as indented JSON with no raw control character; non-ASCII text stays readable."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    return _RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def width(text: str) -> int:
    """Columns `text` takes in a terminal: wide and full-width characters count two, combining marks none."""
    total = 0
    for ch in text:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        total += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return total


def pad(text: str, size: int, align: str = "l") -> str:
    """`text` padded with spaces to `size` columns, left ('l') or right ('r') aligned."""
    fill = " " * max(0, size - width(text))
    return text + fill if align == "l" else fill + text


def money(value: Decimal | None, *, signed: bool = False) -> str:
    """An amount with two decimals; '-' for none."""
    if value is None:
        return "-"
    return f"{value:+.2f}" if signed else f"{value:.2f}"


def color_enabled(stream=None) -> bool:
    stream = stream if stream is not None else sys.stdout
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


_CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}


class Paint:
    """Wraps text in ANSI codes, or leaves it alone when colour is off."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __call__(self, text: str, *styles: str) -> str:
        if not self.enabled or not styles or not text:
            return text
        codes = ";".join(_CODES[s] for s in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"


@dataclass
class Table:
    """Rows of cells, each column left ('l') or right ('r') aligned by display width.

    A row given as a plain string is printed as is (a sub-heading); `rule()` adds a line of dashes
    under the amount columns (before a total).
    """

    headers: list[str]
    align: str  # one letter a column, e.g. "lrr"
    indent: str = "  "
    rows: list = field(default_factory=list)

    def add(self, *cells: str, style: tuple[str, ...] = ()) -> None:
        cells = tuple(visible(c) for c in cells) + ("",) * (len(self.headers) - len(cells))
        self.rows.append((cells, style))

    def heading(self, text: str) -> None:
        self.rows.append(visible(text))

    def rule(self) -> None:
        self.rows.append(None)

    def render(self, paint: Paint) -> list[str]:
        cells = [self.headers] + [r[0] for r in self.rows if isinstance(r, tuple)]
        widths = [max(width(row[i]) for row in cells) for i in range(len(self.headers))]
        last = len(self.headers) - 1

        def line(row, style=()) -> str:
            parts = []
            for i, cell in enumerate(row):
                # the last column, left aligned, is not padded (no trailing spaces)
                parts.append(cell if i == last and self.align[i] == "l" else pad(cell, widths[i], self.align[i]))
            return paint((self.indent + "  ".join(parts)).rstrip(), *style)

        out = [line(self.headers, ("bold",))] if any(self.headers) else []
        for row in self.rows:
            if row is None:
                right = [i for i, a in enumerate(self.align) if a == "r"] or [0, last]
                start, end = right[0], right[-1]
                lead = sum(widths[:start]) + 2 * start
                span = sum(widths[start:end + 1]) + 2 * (end - start)
                out.append(self.indent + " " * lead + "-" * span)
            elif isinstance(row, str):
                if len(out) > 1:
                    out.append("")
                out.append(paint(self.indent + row, "bold"))
            else:
                out.append(line(*row))
        return out
