"""The install is reproducible: the locks pin every package with hashes, agree with pyproject.toml,
and are what this environment runs; CI runs the README's test command (README, "Set-up")."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
# bench.txt: the test lock plus the bench extra (zen-engine, for bench/ only); this environment runs test.txt.
LOCKS = {name: ROOT / f"requirements-{name}.txt" for name in ("run", "test", "bench")}
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^ \\\n]+)", re.M)
HASHED = re.compile(r"^([A-Za-z0-9_.-]+)==[^ \\\n]+ \\\n    --hash=sha256:", re.M)


def _digest_module():
    spec = importlib.util.spec_from_file_location("lock_digest", ROOT / "scripts" / "lock_digest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pins(lock: Path) -> dict[str, str]:
    """Package -> pinned version; every pin must carry at least one hash."""
    text = lock.read_text(encoding="utf-8")
    out = {canonicalize_name(n): v for n, v in PIN.findall(text)}
    hashed = {canonicalize_name(n) for n in HASHED.findall(text)}
    assert set(out) == hashed, f"{lock.name}: pins without hashes: {sorted(set(out) - hashed)}"
    return out


def asked(which: str) -> list[Requirement]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    specs = data["build-system"]["requires"] + data["project"]["dependencies"]
    if which in ("test", "bench"):
        specs += data["project"]["optional-dependencies"]["test"]
    if which == "bench":
        specs += data["project"]["optional-dependencies"]["bench"]
    return [Requirement(s) for s in specs]


@pytest.mark.parametrize("which", sorted(LOCKS))
def test_each_lock_was_made_from_this_pyproject(which):
    digest = _digest_module()
    first = LOCKS[which].read_text(encoding="utf-8").splitlines()[0]
    assert first == digest.PREFIX + digest.digest(ROOT / "pyproject.toml"), (
        f"requirements-{which}.txt was not made from this pyproject.toml: run scripts/lock"
    )


@pytest.mark.parametrize("which", sorted(LOCKS))
def test_each_lock_pins_every_direct_dependency_within_its_bounds(which):
    pinned = pins(LOCKS[which])
    for req in asked(which):
        name = canonicalize_name(req.name)
        assert name in pinned, f"requirements-{which}.txt does not pin {req.name}: run scripts/lock"
        assert req.specifier.contains(pinned[name], prereleases=True), (
            f"requirements-{which}.txt pins {req.name}=={pinned[name]}, outside pyproject.toml's {req}"
        )


def test_direct_dependencies_have_an_upper_bound():
    for req in asked("bench"):  # every direct dependency: runtime, build backend, test and bench extras
        ops = {s.operator for s in req.specifier}
        assert ops & {"<", "==", "~="}, f"{req} has no upper bound"


def test_the_test_lock_holds_the_run_lock():
    run, test = pins(LOCKS["run"]), pins(LOCKS["test"])
    assert {n: v for n, v in test.items() if n in run} == run


def test_the_bench_lock_holds_the_test_lock():
    """Installing the bench lock over the test lock only adds packages (zen-engine): it never moves a
    pin the suite runs."""
    test, bench = pins(LOCKS["test"]), pins(LOCKS["bench"])
    assert {n: v for n, v in bench.items() if n in test} == test


@pytest.mark.skipif(os.environ.get("BENEFITS_UNLOCKED") == "1", reason="scripts/try-newest runs newer releases on purpose")
def test_this_environment_runs_the_locked_versions():
    wrong = {}
    for name, version in pins(LOCKS["test"]).items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            wrong[name] = (version, installed)
    assert not wrong, f"locked vs installed: {wrong}; install with the README's test command"


def test_ci_runs_exactly_the_readmes_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [line.strip() for line in readme.splitlines()
                if line.startswith(("    python3.11 -m venv", "    scripts/install-browser && python3.11 -m venv"))]
    assert len(commands) == 2 and "requirements-run.txt" in commands[0] and "requirements-test.txt" in commands[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert ci == commands[1]


def test_every_package_folder_is_installed():
    # benefits.simulate.files was left out of the list: a wheel lacked it and the runner failed to import
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    folders = {"": ROOT / "src"} | {name: ROOT / where for name, where in tool["package-dir"].items() if name}
    found = {"benefits_cli"} | {".".join(p.parent.relative_to(folders[""]).parts)
                                for p in (ROOT / "src" / "benefits").rglob("__init__.py")}
    assert sorted(tool["packages"]) == sorted(found)
