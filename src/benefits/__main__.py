"""`python -m benefits ...` is the `benefits` command line (the package benefits_cli, in cli/):
`python -m benefits calc CLAIM --rules DIR`, `python -m benefits --help`."""

from __future__ import annotations

import sys

if __name__ == "__main__":
    try:
        from benefits_cli.app import main
    except ImportError as exc:  # the library alone on the path, without its command line
        sys.exit(f"python -m benefits: the command line (benefits_cli) is not installed: {exc}; "
                 "install the project with pip install -e .")
    main(prog_name="python -m benefits")
