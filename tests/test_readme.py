"""The README's examples work as written: its library snippet runs, as a script, from the
repository's root, and prints the numbers its comments give (the first stay of the example member
was settled elsewhere; this second one: (62708.05 - 500.00) x 65% = 40435.2325 -> 40435.23 from the
basic fund, and the patient pays 7078.62 of 68450.30 after serious illness and medical aid)."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import ROOT


def test_the_library_snippet_runs_and_prints_what_its_comments_say():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    snippet = re.search(r"## Using the library\n\n```python\n(.*?)```", readme, re.S).group(1)
    done = subprocess.run([sys.executable, "-"], input=snippet, cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["40435.23", "7078.62", "40435.23"]
    # each printed value is the one its comment names
    commented = re.findall(r"^print\(.*?\)\s+# ([0-9.]+);", snippet, re.M)
    assert commented == done.stdout.split()
