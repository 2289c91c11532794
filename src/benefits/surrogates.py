"""Lone surrogates: one half of a UTF-16 pair (U+D800 to U+DFFF) without the other.

JSON (`"\\ud800"`) and YAML (`"\\ud800"`, `"\\U0000d800"`) escapes can write one, and Python keeps it
in a str, but it is no character: UTF-8 cannot hold it, so the ledger, the JSON writer and a terminal
failed on it long after it was read. The readers refuse it where it is written.
"""

from __future__ import annotations

import re

_LONE = re.compile(r"[\ud800-\udfff]")


def lone_surrogate(text: str) -> int | None:
    """The index of the first lone surrogate in `text`, or None."""
    if text.isascii():
        return None
    found = _LONE.search(text)
    return None if found is None else found.start()


def problem(text: str, at: int) -> str:
    """What is wrong with the lone surrogate at `text[at]`, in words."""
    return (f"U+{ord(text[at]):04X} is half of a surrogate pair without its other half, not a character "
            "(a character beyond U+FFFF is written as itself, or escaped as a pair such as \\ud83d\\ude00)")
