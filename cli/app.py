"""Placeholder: the typer application lands with the command-line issue."""


def main() -> None:  # pragma: no cover
    raise SystemExit("benefits: the command line is not built yet; use python -m benefits")
