from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"


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
def jiangmen():
    import benefits

    return benefits.load_rules(RULES / "jiangmen")


# --- hypothesis profiles (tests/test_invariants.py, tests/test_fuzz.py) -------------------------
# `ci` is the default: derandomized (the same examples on every run), no example database, a
# couple of minutes at most for the whole suite. `long` is for a longer search, e.g.
#     HYPOTHESIS_PROFILE=long python -m pytest tests/test_invariants.py tests/test_fuzz.py -p no:cacheprovider
# Tests scale their example counts from the profile's max_examples (see tests/generators.py).
import os

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
