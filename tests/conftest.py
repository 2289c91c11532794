from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"


@pytest.fixture(scope="session")
def jiangmen():
    import benefits

    return benefits.load_rules(RULES / "jiangmen")
