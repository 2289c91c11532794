"""The `benefits` command line (installed as the package `benefits_cli`)."""
