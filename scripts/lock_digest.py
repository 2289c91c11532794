"""The fingerprint of what pyproject.toml asks for (dependencies, extras, build requirements).

`scripts/lock` writes it into each lock file; tests/test_lock.py recomputes it, so a change to
pyproject.toml without a refreshed lock fails the suite instead of installing something unlocked.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tomllib
from pathlib import Path

PREFIX = "# pyproject.toml requirements sha256: "


def digest(pyproject: Path) -> str:
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    asked = {
        "build-system": data["build-system"]["requires"],
        "dependencies": data["project"]["dependencies"],
        "optional-dependencies": data["project"].get("optional-dependencies", {}),
        "requires-python": data["project"].get("requires-python"),
    }
    return hashlib.sha256(json.dumps(asked, sort_keys=True).encode()).hexdigest()


if __name__ == "__main__":
    print(digest(Path(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml")))
