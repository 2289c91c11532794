"""Terminal text: colour, amounts, JSON, and text from input files made safe to print. Layout (display
widths, tables, wrapping) is rich's, in render.py.

Colour is used only when the stream is a terminal and NO_COLOR is not set (https://no-color.org);
piped output is plain text.

Text from input files (ids, descriptions, names, file names, error messages quoting them) may hold
control characters: a carriage return that overwrites a FAIL marker, an escape sequence that sets the
window title. `visible()` shows each as an escape (\\r, \\x1b); it is applied where input text enters
a line, before the line is coloured, so our own colour codes are the only raw escapes we print.
render.py's `Grid` applies it to every cell.
"""

from __future__ import annotations

import json
import os
import re
import sys
import unicodedata
from decimal import Decimal


# What is not printable ASCII, looked at one character at a time (`escape`): only in text that is
# not printable as a whole, which almost all text is (Chinese included), so most calls cost one check.
_SUSPECT = re.compile("[^\x20-\x7e]")
# Unicode's default-ignorable code points that Python counts printable (a grapheme joiner, Hangul
# fillers, ...): a terminal shows them as nothing, or as a blank. Not the variation selectors, which a
# terminal draws as part of the character before them (an emoji, a CJK variant).
_IGNORABLE = re.compile("[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\uffa0\U0001bca0-\U0001bca3]")


def visible(text: object, *, newlines: bool = False) -> str:
    """`text` with each character a terminal would not show as itself written as Python writes it in
    a string (\\r, \\t, \\x1b, \\u202e): control characters (C0, DEL, C1), lone surrogates, and
    the invisible ones that reorder or hide text (bidi controls such as U+202E, which turns the rest of
    the line around, zero-width and other format characters, the line and paragraph separators, and
    unassigned code points). Spaces of every width stay as they are.

    newlines=True keeps a newline as a line break, for messages of several lines.
    """
    text = str(text)
    if text.isprintable() and (text.isascii() or not _IGNORABLE.search(text)):
        return text

    def escape(match: re.Match) -> str:
        char = match.group()
        if char == "\n" and newlines or (char.isprintable() or unicodedata.category(char) == "Zs") \
                and not _IGNORABLE.match(char):
            return char
        return f"\\u{ord(char):04x}" if ord(char) < 0x10000 and char.isprintable() else (
            f"\\U{ord(char):08x}" if char.isprintable() else repr(char)[1:-1])

    return _SUSPECT.sub(escape, text)


# JSON escapes C0 itself but leaves DEL, C1 and lone surrogates raw (as the standard allows): escape them too.
_RAW_IN_JSON = re.compile("[\x7f-\x9f\ud800-\udfff]")


def json_text(data: object) -> str:
    """`data` as indented JSON with no raw control character; non-ASCII text stays readable."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    return _RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


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
