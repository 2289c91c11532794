import os
import uuid
from pathlib import Path

import pytest
from ledger_fixtures import POSTGRES, STORES, with_search_path

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"


def edit(folder: Path, rel: str, old: str, new: str, count: int = 1) -> None:
    """In a copy of a pack, replace `old` (which must be there) with `new` in its file `rel`."""
    path = folder / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def claim(**over) -> dict:
    """A small valid Jiangmen inpatient claim (a pre-split bill); keyword arguments replace its keys,
    and a key given as None is left out."""
    base = {
        "id": "c1", "member": {"id": "m1", "scheme": "resident", "member_type": "adult", "groups": []},
        "visit": "inpatient", "level": "level3",
        "admission_date": "2021-03-01", "discharge_date": "2021-03-10",
        "bill": {"total": "20000.00", "fully_self_paid": "1000.00", "over_limit": "0.00",
                 "pre_self_paid": "500.00", "policy_range": "18500.00"},
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture(scope="session")
def counterfactual_made(tmp_path_factory):
    """rules/jiangmen with its 2021-07-01 change undone (each value starting then set back to the one
    in force the day before): (its folder, the values changed)."""
    import datetime as dt

    from benefits.simulate.compare import pack_without_change

    return pack_without_change(RULES / "jiangmen", tmp_path_factory.mktemp("cf") / "jiangmen", dt.date(2021, 7, 1), "test")


@pytest.fixture
def counterfactual(counterfactual_made):
    """The folder of the counterfactual Jiangmen pack (`counterfactual_made`)."""
    return counterfactual_made[0]


@pytest.fixture(scope="session")
def jiangmen():
    import benefits

    return benefits.load_rules(RULES / "jiangmen")


def cli_runner():
    """typer's CliRunner, with stderr kept apart from stdout (typer releases built on click 8.1 mix
    them unless told not to)."""
    from typer.testing import CliRunner

    try:
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


# --- ledger stores (the ledger's, the command line's and the service's tests) ----------------------
# A SQLite file under tmp_path, and a PostgreSQL schema of the test's own on BENEFITS_TEST_POSTGRES
# (see ledger_fixtures.py). When the server does not answer, the PostgreSQL tests are skipped with the
# reason, or fail when BENEFITS_REQUIRE_POSTGRES=1.

_unreachable: list[str] = []  # the reason, once a connection has failed: not tried again for every test


def _postgres_admin():
    """An autocommit connection to the test server, or the test skipped (failed when required)."""
    if not _unreachable:
        try:
            import psycopg

            return psycopg.connect(POSTGRES, autocommit=True, connect_timeout=5)
        except Exception as exc:  # noqa: BLE001 - any failure to connect means: no server to test against
            detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            _unreachable.append(f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__)
    reason = f"PostgreSQL at {POSTGRES} does not answer ({_unreachable[0]}); set BENEFITS_TEST_POSTGRES"
    if os.environ.get("BENEFITS_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"{reason} (BENEFITS_REQUIRE_POSTGRES=1: the PostgreSQL tests must run)")
    pytest.skip(reason)


@pytest.fixture
def postgres_url():
    """A URL of the test server whose search_path is a new, empty schema, dropped after the test."""
    schema = f"test_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    with _postgres_admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield with_search_path(POSTGRES, schema)
    finally:
        with _postgres_admin() as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=STORES)
def ledger_url(request, tmp_path):
    """A new, empty ledger store's URL: a SQLite file, then a PostgreSQL schema."""
    if request.param == "sqlite":
        return str(tmp_path / "ledger.db")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def ledger(ledger_url):
    """An open ledger on each store, closed after the test."""
    from benefits.ledger import open_ledger

    with open_ledger(ledger_url) as opened:
        yield opened


# --- hypothesis profiles (tests/test_invariants.py, tests/test_fuzz.py) -------------------------
# `ci` is the default: derandomized (the same examples on every run), no example database, a
# couple of minutes at most for the whole suite. `long` is for a longer search, e.g.
#     HYPOTHESIS_PROFILE=long python -m pytest tests/test_invariants.py tests/test_fuzz.py -p no:cacheprovider
# Tests scale their example counts from the profile's max_examples (see tests/generators.py).
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, derandomize=True, database=None, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "long", max_examples=3000, database=None, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
