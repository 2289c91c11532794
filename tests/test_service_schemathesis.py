"""The service against its own OpenAPI document, and generated claims through it.

- schemathesis: for every operation, requests generated from the document are answered with a
  status, media type and body the document declares, and never with a 500 (a few dozen examples
  an operation; BENEFITS_SCHEMATHESIS_EXAMPLES for more).
- hypothesis: claims a pack accepts (tests/generators.py), sent as JSON text with their amounts as
  JSON numbers, are settled by POST /calculate exactly as `benefits.evaluate` settles them, and a
  claim the engine refuses is answered 422 with the same problems and paths.

In process (ASGI), with a SQLite ledger in a temporary folder.
"""

from __future__ import annotations

import atexit
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from decimal import Decimal
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import benefits
import generators
from benefits.models.platform_out import with_blocks
from conftest import ROOT
from service_fixtures import PACK_DIRS

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note on httpx's successor, not about this code
    from fastapi.testclient import TestClient

    from benefits.service import create_app

EXAMPLES = int(os.environ.get("BENEFITS_SCHEMATHESIS_EXAMPLES", "25"))

# The document is loaded when the module is collected (schemathesis' fixture-based loader does not
# run under pytest 9); the app opens its ledger on the first request, in a folder removed afterwards.
FOLDER = tempfile.mkdtemp(prefix="benefits-schemathesis-")
APP = create_app(PACK_DIRS, os.path.join(FOLDER, "ledger.db"))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


# When the process that imported the module ends: every process that collects it makes the folder (each
# pytest-xdist worker, a --collect-only run), whether or not it runs one of its tests; a session fixture
# of the module ran only where one of its tests did, and the others left their folder behind.
@atexit.register
def _cleanup():
    APP.state.store.close()
    shutil.rmtree(FOLDER, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_operation_answers_a_server_error_or_off_its_document(case):
    case.call_and_validate(checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                                   response_schema_conformance])


# --- valid claims (hypothesis): /calculate over HTTP gives what evaluate gives --------------------


def _json_with_numbers(data: object) -> str:
    """JSON text in which every Decimal is a JSON number written with its exact digits."""
    marks: list[str] = []

    def mark(value):
        if isinstance(value, Decimal):
            marks.append(f"{value:f}")
            return f"\0{len(marks) - 1}\0"
        if isinstance(value, (dt.date, dt.datetime)):
            return value.isoformat()
        raise TypeError(type(value).__name__)

    text = json.dumps(data, default=mark, ensure_ascii=False)
    for i, digits in enumerate(marks):
        text = text.replace(f'"\\u0000{i}\\u0000"', digits, 1)
    return text


@pytest.fixture(scope="module")
def client():
    with TestClient(APP) as c:
        yield c


@pytest.mark.parametrize("name", ["jiangmen", "anyang"])
@settings(max_examples=generators.examples(0.5), deadline=None)
@given(data=st.data())
def test_calculate_over_http_gives_what_evaluate_gives(client, name, data):
    p = generators.pack(name)
    claim, acc = generators.claim_and_accumulators(data, p)
    body = {"pack": name, "claim": claim} if acc is None else {"pack": name, "claim": claim, "accumulators": acc}
    r = client.post("/calculate", content=_json_with_numbers(body), headers={"content-type": "application/json"})
    try:
        want = benefits.evaluate(claim, p, acc, trace=False)
    except benefits.ClaimError as exc:
        assert r.status_code == 422, r.text
        assert r.json()["problems"] == [{"path": list(q.path), "message": q.message} for q in exc.problems][:50]
        return
    assert r.status_code == 200, r.text
    assert r.json() == with_blocks(want)


def test_a_process_that_only_collects_this_module_leaves_no_folder(tmp_path):
    # each process that collects the module makes the app's ledger folder (every pytest-xdist worker, a
    # --collect-only run); one that ran none of its tests left the folder in the temporary directory
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    r = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-n", "0", "-p", "no:cacheprovider",
                        str(Path(__file__))], cwd=ROOT, env=dict(os.environ, TMPDIR=str(scratch)),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "tests collected" in r.stdout
    assert [p.name for p in scratch.iterdir()] == []
