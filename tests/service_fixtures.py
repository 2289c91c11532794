"""What the service's tests share: realistic claims spread over a few hundred members, a real server
process, a load of concurrent clients and the serial replay that checks a ledger against what the
clients were told. The stores (a SQLite file, a fresh PostgreSQL schema) are conftest.py's
`ledger_url` fixture, as for the ledger's tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from ledger_fixtures import POSTGRES_DEFAULT, with_search_path  # noqa: F401 (bench/service.py uses them)

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"
PACK_DIRS = {"jiangmen": str(RULES / "jiangmen"), "anyang": str(RULES / "anyang")}
BENCH = ROOT / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import generate  # noqa: E402  (bench/generate.py: realistic claims)


# --- claims ----------------------------------------------------------------------------------------


@dataclass
class Claim:
    pack: str
    body: dict  # the claim, as sent

    @property
    def member(self) -> str:
        return self.body["member"]["id"]


def member_claims(n: int, members: int, seed: int = generate.DEFAULT_SEED) -> list[Claim]:
    """n realistic claims of both packs (bench/generate.mixed_batch) spread over about `members`
    members: each claim's member is replaced by one of a pool of the same pack and scheme, so that a
    member has several claims of one kind of cover. The generated accumulators are dropped: in a
    ledger, a member starts from nothing and the ledger keeps the rest."""
    cases = generate.mixed_batch(n, seed)
    pools: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for case in cases[:members]:
        pools[(case.pack, case.claim["member"]["scheme"])].append(case.claim["member"])
    out = []
    rng = random.Random(seed)
    for case in cases:
        pool = pools.get((case.pack, case.claim["member"]["scheme"]))
        claim = dict(case.claim)
        if pool:
            claim["member"] = dict(rng.choice(pool))
        out.append(Claim(case.pack, claim))
    return out


# --- a server process ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`benefits serve` in a process group of its own (the supervisor and its workers), on one port
    for its whole life: a restart after `kill()` listens where the clients already send."""

    def __init__(self, database: str, log: Path, *, workers: int = 2, packs: dict[str, str] | None = None,
                 port: int | None = None, extra_env: dict[str, str] | None = None):
        self.database, self.log_path, self.workers = database, log, workers
        self.packs = packs or PACK_DIRS
        self.chosen = port is None  # a port we picked may be taken before the server binds it
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.env = {**os.environ, **(extra_env or {})}
        self.starts = 0

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "benefits", "serve", "--database", self.database, "--port", str(self.port),
               "--workers", str(self.workers), "--no-access-log", "--log-level", "warning"]
        for name, folder in self.packs.items():
            cmd += ["--rules", f"{name}={folder}"]
        return cmd

    def start(self, timeout: float = 90) -> "ServerProcess":
        for _ in range(3):
            try:
                return self._start(timeout)
            except RuntimeError as exc:
                # free_port() closes its socket before the server binds: another process may take
                # the port in between. Only a first start moves: a restart keeps the clients' port.
                if not (self.chosen and self.starts == 1 and "address already in use" in str(exc).lower()):
                    raise
                self.starts = 0
                self.port = free_port()
                self.url = f"http://127.0.0.1:{self.port}"
        return self._start(timeout)

    def _start(self, timeout: float) -> "ServerProcess":
        log = open(self.log_path, "ab")
        log.write(f"\n--- start {self.starts + 1} ---\n".encode())
        log.flush()
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=self.env, cwd=str(ROOT), start_new_session=True)
        log.close()
        self.starts += 1
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
            try:
                # every worker must answer: ask as many times as there are workers, on new connections
                if all(httpx.get(self.url + "/ready", timeout=2).status_code == 200 for _ in range(self.workers)):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the server was not ready within {timeout} s:\n{self.log()[-4000:]}")

    def kill(self) -> None:
        """kill -9 of the whole process group: the supervisor and every worker, mid-request."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._reap()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._reap()

    def _reap(self) -> None:
        """Wait until no process of the group is left (workers die with their supervisor's signal)."""
        if self.proc is None:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# --- a load of concurrent clients ------------------------------------------------------------------


@dataclass
class Op:
    kind: str  # settle, reverse, conflict (a used key with another claim: 409)
    key: str
    claim: Claim | None = None
    of: str | None = None

    def request(self) -> tuple[str, dict]:
        if self.kind == "reverse":
            return f"/settlements/{self.of}/reverse", {"key": self.key}
        return "/settlements", {"key": self.key, "pack": self.claim.pack, "claim": self.claim.body}


@dataclass
class Answer:
    status: int
    text: str
    seconds: float


@dataclass
class LoadResult:
    answers: dict[str, list[Answer]] = field(default_factory=lambda: defaultdict(list))  # key -> answers
    conflicts: list[Answer] = field(default_factory=list)
    settled: dict[str, Claim] = field(default_factory=dict)  # acknowledged settle key -> claim
    reversed: dict[str, str] = field(default_factory=dict)  # acknowledged reversal key -> settlement key
    retries: int = 0  # requests sent again after no answer (a dead server, a 503)
    abandoned: set[str] = field(default_factory=set)  # keys whose first answer the client did not wait for
    hung_up: int = 0  # requests whose answer the client did not wait for (sent again)
    unexpected: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def latencies(self) -> list[float]:
        return sorted(a.seconds for answers in self.answers.values() for a in answers)


def run_load(url: str, claims: list[Claim], *, clients: int = 8, duplicate: float = 0.1, resend: float = 0.1,
             reverse: float = 0.08, conflict: float = 0.01, abandon: float = 0.03, seed: int = 7,
             give_up: float = 600, on_ack=None, prefix: str = "k") -> LoadResult:
    """Settle every claim through `clients` concurrent clients, each request under its own key; mix
    in the same request sent twice at once (`duplicate`), sent again once answered (`resend`),
    reversals of answered settlements (`reverse`, a fifth of them sent twice), a used key with
    another claim (`conflict`, expecting 409), and requests whose answer the client does not wait
    for (`abandon`: it hangs up after half a millisecond, as a client whose acknowledgement was lost,
    and sends the request again). A request without an answer (connection refused or dropped, a 503)
    is sent again with the same key until it is answered. `on_ack(result)` is called after each
    acknowledged settlement (the crash test kills the server from there)."""
    import httpx

    rng = random.Random(seed)
    work: queue.Queue = queue.Queue()
    result = LoadResult()
    lock = threading.Lock()
    for i, claim in enumerate(claims):
        op = Op("settle", f"{prefix}{i:06d}", claim)
        work.put(op)
        if rng.random() < duplicate:
            work.put(op)  # the next free client takes it: usually in flight at the same time as the first
    deadline = time.monotonic() + give_up

    def later(op: Op) -> None:
        with lock:
            roll = rng.random()
        if roll < resend:
            work.put(op)

    def send(client: httpx.Client, op: Op) -> Answer:
        path, body = op.request()
        with lock:
            hang_up = op.kind != "conflict" and op.key not in result.answers and rng.random() < abandon
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no answer for {op.kind} {op.key} within {give_up} s")
            t0 = time.perf_counter()
            try:
                if hang_up:
                    hang_up = False
                    with lock:
                        result.abandoned.add(op.key)
                    try:
                        r = client.post(path, json=body, timeout=httpx.Timeout(10, read=0.0005))
                    except httpx.ReadTimeout:  # hung up before the answer, as planned: send it again
                        with lock:
                            result.hung_up += 1
                        continue
                else:
                    r = client.post(path, json=body)
            except httpx.TransportError:  # refused, reset, timed out: the server may be gone; same key again
                with lock:
                    result.retries += 1
                time.sleep(0.05)
                continue
            if r.status_code == 503:
                with lock:
                    result.retries += 1
                time.sleep(0.05)
                continue
            return Answer(r.status_code, r.text, time.perf_counter() - t0)

    def worker() -> None:
        with httpx.Client(base_url=url, timeout=httpx.Timeout(60, connect=5)) as client:
            while True:
                op = work.get()
                if op is None:
                    work.task_done()
                    return
                try:
                    handle(client, op)
                except BaseException as exc:  # noqa: BLE001 - reported by the test, never a silent thread death
                    with lock:
                        result.unexpected.append(f"{op.kind} {op.key}: {type(exc).__name__}: {exc}")
                finally:
                    work.task_done()

    def handle(client: httpx.Client, op: Op) -> None:
        answer = send(client, op)
        if op.kind == "conflict":
            with lock:
                result.conflicts.append(answer)
            if answer.status != 409:
                with lock:
                    result.unexpected.append(f"conflict {op.key}: {answer.status} {answer.text[:300]}")
            return
        with lock:
            result.answers[op.key].append(answer)
        if answer.status not in (200, 201):
            with lock:
                result.unexpected.append(f"{op.kind} {op.key}: {answer.status} {answer.text[:300]}")
            return
        if op.kind == "reverse":
            with lock:
                result.reversed[op.key] = op.of
            later(op)
            return
        with lock:
            first = op.key not in result.settled
            result.settled[op.key] = op.claim
            roll, roll2, roll3 = rng.random(), rng.random(), rng.random()
        if first:
            if roll < reverse:
                rev = Op("reverse", "r" + op.key, of=op.key)
                work.put(rev)
                if roll2 < 0.2:
                    work.put(rev)
            if roll3 < conflict:
                other = dict(op.claim.body, id=op.claim.body["id"] + "-other")
                work.put(Op("conflict", op.key, Claim(op.claim.pack, other)))
            later(op)
            if on_ack is not None:
                on_ack(result)

    threads = [threading.Thread(target=worker, name=f"client-{i}", daemon=True) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    work.join()
    result.seconds = time.perf_counter() - t0
    for _ in threads:
        work.put(None)
    for t in threads:
        t.join(10)
    return result


# --- the serial replay -----------------------------------------------------------------------------


@dataclass
class Replay:
    members: int = 0
    settlements: int = 0
    reversals: int = 0
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.doubled or self.unknown or self.mismatches)

    def summary(self) -> str:
        return (f"{self.members} member-years, {self.settlements} settlements, {self.reversals} reversals: "
                f"{len(self.lost)} lost, {len(self.doubled)} doubled, {len(self.unknown)} unknown, "
                f"{len(self.mismatches)} differing from a serial replay")

    def problems(self) -> str:
        return "\n".join((self.lost + self.doubled + self.unknown + self.mismatches)[:20])


def _without_zeros(acc: dict) -> dict:
    return {k: v for k, v in acc.items() if v}


def check_against_serial_replay(client, result: LoadResult, packs: dict) -> Replay:
    """Every member-year the load touched, read back through the API, against the acknowledged requests:
    each acknowledged settlement and reversal is in the ledger once (none lost), nothing else is (none
    doubled or unknown), every answer for a key is the same bytes as the stored body, and replaying the
    ledger's requests one after another with `benefits.evaluate` from empty accumulators gives each
    stored settlement and the accumulators the ledger holds now. `client`: an httpx client on the server."""
    import benefits

    out = Replay()
    by_key = dict(result.settled)
    for key, answers in result.answers.items():
        texts = {a.text for a in answers if a.status in (200, 201)}
        if len(texts) > 1:
            out.mismatches.append(f"{key}: answered with {len(texts)} different bodies")
        if sum(a.status == 201 for a in answers) > 1:
            out.doubled.append(f"{key}: 201 (settled now) answered {sum(a.status == 201 for a in answers)} times")
    member_years: dict[tuple[str, int], None] = {}
    for key in list(result.settled) + list(result.reversed):
        answer = next(a for a in result.answers[key] if a.status in (200, 201))
        env = json.loads(answer.text)
        member_years[(env["member_id"], env["year"])] = None
        stored = client.get(f"/settlements/{key}")
        if stored.status_code != 200:
            out.lost.append(f"{key}: acknowledged, but GET /settlements/{key} answers {stored.status_code}")
        elif stored.text != answer.text:
            out.mismatches.append(f"{key}: the stored body differs from the answer")
    claim_ids: dict[str, str] = {}
    for (member, year) in member_years:
        out.members += 1
        got = client.get(f"/members/{member}/{year}").json()
        history = got["settlements"]
        acc_counters: dict[str, Decimal] = {}
        admissions = 0
        deltas: dict[str, tuple[dict, int]] = {}
        seen = set()
        for rec in history:
            key = rec["key"]
            if key in seen:
                out.doubled.append(f"{key}: twice in the history of {member} {year}")
            seen.add(key)
            if rec["kind"] == "settle":
                out.settlements += 1
                claim = by_key.get(key)
                if claim is None:
                    out.unknown.append(f"{key}: settled in the ledger of {member} {year}, never acknowledged")
                    continue
                if claim.body["id"] in claim_ids:
                    out.doubled.append(f"claim {claim.body['id']}: settled under {claim_ids[claim.body['id']]} and {key}")
                claim_ids[claim.body["id"]] = key
                before = {"member_id": member, "year": year, "admissions": admissions,
                          "counters": {k: f"{v:.2f}" for k, v in sorted(_without_zeros(acc_counters).items())}}
                s = benefits.evaluate(claim.body, packs[claim.pack], before)
                stored = json.loads(client.get(f"/settlements/{key}").text)["settlement"]
                if stored != json.loads(s.model_dump_json()):
                    out.mismatches.append(f"{key}: the stored settlement differs from the serial replay's")
                after = s.accumulators_after
                change = {k: after.get(k) - Decimal(before["counters"].get(k, "0"))
                          for k in set(after.counters) | set(before["counters"])}
                deltas[key] = (change, after.admissions - admissions)
                for k, v in change.items():
                    acc_counters[k] = acc_counters.get(k, Decimal(0)) + v
                admissions = after.admissions
            else:
                out.reversals += 1
                of = rec["reverses"]
                if result.reversed.get(key) != of:
                    out.unknown.append(f"{key}: a reversal of {of} in the ledger, never acknowledged")
                change, adm = deltas.get(of, ({}, 0))
                for k, v in change.items():
                    acc_counters[k] = acc_counters.get(k, Decimal(0)) - v
                admissions -= adm
        for key, claim in by_key.items():
            if claim.member == member and key not in seen:
                env = json.loads(next(a for a in result.answers[key] if a.status in (200, 201)).text)
                if env["year"] == year:
                    out.lost.append(f"{key}: acknowledged, missing from the history of {member} {year}")
        for key, of in result.reversed.items():
            if of in seen and key not in seen:
                out.lost.append(f"{key}: reversal acknowledged, missing from the history of {member} {year}")
        want = {"member_id": member, "year": year, "admissions": admissions,
                "counters": {k: f"{v:.2f}" for k, v in sorted(_without_zeros(acc_counters).items())}}
        if got["accumulators"] != want:
            out.mismatches.append(f"{member} {year}: accumulators {got['accumulators']} != serial replay {want}")
    return out
