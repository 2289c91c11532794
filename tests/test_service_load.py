"""The service under load (issue 16, part 7): a real `benefits serve` with two worker processes, eight
concurrent clients settling realistic claims of a few hundred members, with the same request sent
twice at once, sent again once answered, reversals and reused keys mixed in; then `kill -9` of the
whole server, several times, in the middle of such a load. Afterwards every member's ledger must
equal a serial replay of the acknowledged requests: nothing lost, nothing doubled, every answer for
a key the same bytes. Both stores: a SQLite file and PostgreSQL.

Each run settles BENEFITS_LOAD_SETTLES claims (default 1,000: 125 per client, about ten seconds a
store) over BENEFITS_LOAD_MEMBERS members (default 300). For the issue's larger figure, e.g.
8 clients x 1,000 settles each:

    BENEFITS_LOAD_SETTLES=8000 python -m pytest tests/test_service_load.py -s
"""

from __future__ import annotations

import os
import threading
import time

import httpx
import pytest

import benefits
from ledger_fixtures import store_kind
from service_fixtures import PACK_DIRS, ServerProcess, check_against_serial_replay, member_claims, run_load

CLIENTS = 8
SETTLES = int(os.environ.get("BENEFITS_LOAD_SETTLES", "1000"))
MEMBERS = int(os.environ.get("BENEFITS_LOAD_MEMBERS", "300"))
WORKERS = 2
KILLS = 3


@pytest.fixture(scope="module")
def packs():
    return {name: benefits.load_rules(folder) for name, folder in PACK_DIRS.items()}


def _p99(latencies: list[float]) -> float:
    return latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0


def test_concurrent_clients_lose_nothing_and_double_nothing(ledger_url, tmp_path, packs):
    kind = store_kind(ledger_url)
    claims = member_claims(SETTLES, MEMBERS)
    with ServerProcess(ledger_url, tmp_path / "server.log", workers=WORKERS) as server:
        result = run_load(server.url, claims, clients=CLIENTS)
        assert not result.unexpected, "\n".join(result.unexpected[:10])
        assert len(result.settled) == SETTLES and result.conflicts and result.reversed
        # nothing went unanswered but the answers the clients hung up on: no 503, no dropped connection
        assert result.hung_up and result.retries == 0
        # the same request twice at once or again later: one 201 (unless the client hung up on it), the
        # rest 200 with the same bytes
        for key, answers in result.answers.items():
            created = sum(a.status == 201 for a in answers)
            assert created == 1 or (created == 0 and key in result.abandoned), key
        hung_up_on_a_commit = sum(1 for k in result.abandoned if not any(a.status == 201 for a in result.answers[k]))
        assert hung_up_on_a_commit  # some commits were never acknowledged, and their retries were replays
        with httpx.Client(base_url=server.url, timeout=30) as client:
            replay = check_against_serial_replay(client, result, packs)
        sent = sum(len(a) for a in result.answers.values()) + len(result.conflicts)
        print(f"\n{kind}: {sent} requests by {CLIENTS} clients in {result.seconds:.1f} s "
              f"({len(result.settled) / result.seconds:.0f} settles/s, p99 {_p99(result.latencies()) * 1000:.0f} ms); "
              f"{result.hung_up} answers hung up on, {hung_up_on_a_commit} of them after the commit "
              f"(answered by a replay); {replay.summary()}")
        assert replay.ok, replay.problems()
        assert replay.settlements == SETTLES and replay.reversals == len(result.reversed)


def test_kill_9_during_the_load_then_retries_settle_each_claim_exactly_once(ledger_url, tmp_path, packs):
    kind = store_kind(ledger_url)
    claims = member_claims(SETTLES, MEMBERS, seed=20240601)
    marks = [SETTLES * (k + 1) // (KILLS + 2) for k in range(KILLS)]  # e.g. at 200, 400 and 600 of 1,000
    acked = {"n": 0}
    kills: list[float] = []
    failures: list[str] = []

    def on_ack(result) -> None:
        acked["n"] = len(result.settled)

    server = ServerProcess(ledger_url, tmp_path / "server.log", workers=WORKERS).start()

    def killer() -> None:
        try:
            for mark in marks:
                while acked["n"] < mark:
                    time.sleep(0.002)
                server.kill()  # kill -9 of the supervisor and both workers, requests in flight
                t0 = time.monotonic()
                server.start()
                kills.append(time.monotonic() - t0)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(f"{type(exc).__name__}: {exc}")

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        result = run_load(server.url, claims, clients=CLIENTS, on_ack=on_ack, prefix="c", seed=11, give_up=900)
        thread.join(120)
        assert not failures, failures
        assert len(kills) == KILLS, f"{len(kills)} kills"
        assert not result.unexpected, "\n".join(result.unexpected[:10])
        assert len(result.settled) == SETTLES
        assert result.retries > 0  # requests did go unanswered, and were sent again under their keys
        assert all(sum(a.status == 201 for a in answers) <= 1 for answers in result.answers.values())
        # committed just before a kill (or a hang-up), never answered: the retry under the same key was a replay
        unanswered = [k for k, answers in result.answers.items() if not any(a.status == 201 for a in answers)]
        in_a_kill = sum(1 for k in unanswered if k not in result.abandoned)
        with httpx.Client(base_url=server.url, timeout=30) as client:
            replay = check_against_serial_replay(client, result, packs)
        print(f"\n{kind}: {KILLS} x kill -9 (restarts took {', '.join(f'{k:.1f}' for k in kills)} s), "
              f"{result.retries} requests sent again after no answer, {in_a_kill} keys committed just before a "
              f"kill and {len(unanswered) - in_a_kill} before a hang-up, each answered later by a replay; "
              f"{replay.summary()}")
        assert replay.ok, replay.problems()
        assert replay.settlements == SETTLES
    finally:
        server.stop()
