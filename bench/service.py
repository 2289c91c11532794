"""The settlement service's figures: settles per second and latency through HTTP with each store,
and what the ledger adds to a settlement.

    .venv/bin/python bench/service.py            # 4,000 settles a store over HTTP, 1,000 in process
    .venv/bin/python bench/service.py --quick    # 800 and 300: under half a minute
    .venv/bin/python bench/service.py --json FILE

What it measures, in the order printed:
 1. HTTP: `benefits serve` (a real server process, --workers N, default 2) and C concurrent clients
    (default 8, one keep-alive connection each) settling realistic claims (bench/generate.py, mixed
    batch, spread over a few hundred members), each under its own key, against a fresh SQLite file
    and a fresh PostgreSQL schema: settles/s over the whole run, and the median and p99 latency of a
    request as the client sees it; then POST /calculate (no ledger) the same way, for comparison;
 2. in process, one claim after another: `benefits.evaluate` (trace off, and on as the ledger keeps
    it) against `Ledger.settle` (evaluate, plus the member's accumulators read and the entries and
    body written in one transaction) on each store: median and p99 per claim.

PostgreSQL: BENEFITS_TEST_POSTGRES, else postgresql://postgres@127.0.0.1:5432/test; a store that
does not answer is skipped with the reason. Each run uses a new schema and drops it afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))  # the service tests' server process, claims and load of clients

import service_fixtures as sf  # noqa: E402

import benefits  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))] if values else float("nan")


def out(line: str = "") -> None:
    print(line, flush=True)


# --- stores ----------------------------------------------------------------------------------------


class Postgres:
    """A fresh schema on the PostgreSQL server, or the reason there is none."""

    def __init__(self):
        self.base = os.environ.get("BENEFITS_TEST_POSTGRES") or sf.POSTGRES_DEFAULT
        self.reason: str | None = None
        self.schemas: list[str] = []
        try:
            import psycopg

            with psycopg.connect(self.base, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - any failure: no PostgreSQL figures
            self.reason = f"{type(exc).__name__}: {str(exc).strip()[:160]}"

    def new(self) -> str:
        import psycopg

        name = f"bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.base, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')
        self.schemas.append(name)
        return sf.with_search_path(self.base, name)

    def drop(self) -> None:
        if not self.schemas:
            return
        import psycopg

        with psycopg.connect(self.base, autocommit=True) as conn:
            for name in self.schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        self.schemas.clear()


def stores(folder: Path, pg: Postgres, tag: str) -> list[tuple[str, str | None]]:
    return [("sqlite", str(folder / f"{tag}.db")), ("postgresql", None if pg.reason else pg.new())]


# --- 1. HTTP ---------------------------------------------------------------------------------------


def calculate_load(url: str, claims, clients: int) -> tuple[float, list[float]]:
    """POST /calculate for every claim by `clients` threads: (seconds, latencies)."""
    import threading

    import httpx

    latencies: list[float] = []
    lock = threading.Lock()
    items = list(claims)

    def worker(part):
        mine = []
        with httpx.Client(base_url=url, timeout=60) as client:
            for c in part:
                t0 = time.perf_counter()
                r = client.post("/calculate", json={"pack": c.pack, "claim": c.body})
                mine.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    raise RuntimeError(f"/calculate answered {r.status_code}: {r.text[:200]}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(items[i::clients],)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, latencies


def warm_copy(body: dict) -> dict:
    """A claim as a warm-up settles it: under other claim and member ids. A ledger settles a claim id once,
    whoever's it is, and the timed run must find its claims unsettled and its members untouched (the
    generator numbers claims by their index, so two batches share ids)."""
    return {**body, "id": f"warm-{body['id']}", "member": {**body["member"], "id": f"warm-{body['member']['id']}"}}


def bench_http(args, folder: Path, pg: Postgres, results: dict) -> None:
    out(f"1. HTTP: benefits serve --workers {args.workers}, {args.clients} concurrent clients, "
        f"{args.settles:,} settles of realistic claims over {args.members} members")
    claims = sf.member_claims(args.settles, args.members, seed=args.seed)
    for kind, url in stores(folder, pg, "http"):
        if url is None:
            out(f"   {kind:<11} skipped: PostgreSQL does not answer ({pg.reason})")
            continue
        log = folder / f"server-{kind}.log"
        with sf.ServerProcess(url, log, workers=args.workers) as server:
            warm = [sf.Claim(c.pack, warm_copy(c.body)) for c in sf.member_claims(50, 20, seed=args.seed + 1)]
            sf.run_load(server.url, warm, clients=args.clients, duplicate=0, resend=0, reverse=0, conflict=0,
                        prefix="warm")
            res = sf.run_load(server.url, claims, clients=args.clients, duplicate=0, resend=0, reverse=0,
                              conflict=0, prefix="b")
            if res.unexpected:
                raise RuntimeError(f"{kind}: {res.unexpected[:3]}")
            lat = res.latencies()
            rate = len(res.settled) / res.seconds
            out(f"   {kind:<11} settle     {rate:8.0f} settles/s   median {statistics.median(lat) * 1e3:6.1f} ms   "
                f"p99 {percentile(lat, 0.99) * 1e3:6.1f} ms   ({len(res.settled):,} in {res.seconds:.1f} s)")
            results[f"http_settle_{kind}"] = {"per_s": rate, "median_ms": statistics.median(lat) * 1e3,
                                              "p99_ms": percentile(lat, 0.99) * 1e3, "n": len(res.settled)}
            if kind == "sqlite":
                seconds, lat = calculate_load(server.url, claims, args.clients)
                rate = len(claims) / seconds
                out(f"   {'(no store)':<11} calculate  {rate:8.0f} claims/s    median {statistics.median(lat) * 1e3:6.1f} ms   "
                    f"p99 {percentile(lat, 0.99) * 1e3:6.1f} ms")
                results["http_calculate"] = {"per_s": rate, "median_ms": statistics.median(lat) * 1e3,
                                             "p99_ms": percentile(lat, 0.99) * 1e3, "n": len(claims)}


# --- 2. in process: the ledger's share ----------------------------------------------------------------


def bench_ledger(args, folder: Path, pg: Postgres, results: dict) -> None:
    from benefits.ledger import open_ledger

    out(f"2. in process, one claim after another ({args.serial:,} realistic claims over {args.members // 3} members)")
    packs = {name: benefits.load_rules(d) for name, d in sf.PACK_DIRS.items()}
    claims = sf.member_claims(args.serial, max(10, args.members // 3), seed=args.seed + 2)
    models = [(benefits.Claim.model_validate(c.body), packs[c.pack]) for c in claims]
    warm = [(benefits.Claim.model_validate(warm_copy(c.body)), packs[c.pack]) for c in claims[:30]]

    def timed(label: str, key: str, run) -> None:
        for claim, pack in warm:
            run(claim, pack, warm=True)
        times = []
        for claim, pack in models:
            t0 = time.perf_counter()
            run(claim, pack, warm=False)
            times.append(time.perf_counter() - t0)
        med, p99 = statistics.median(times) * 1e3, percentile(times, 0.99) * 1e3
        out(f"   {label:<34} median {med:7.3f} ms   p99 {p99:7.3f} ms   {len(times) / sum(times):7.0f}/s")
        results[key] = {"median_ms": med, "p99_ms": p99, "per_s": len(times) / sum(times), "n": len(times)}

    timed("evaluate, trace off", "evaluate_trace_off", lambda c, p, warm: benefits.evaluate(c, p, None, trace=False))
    timed("evaluate, trace on", "evaluate_trace_on", lambda c, p, warm: benefits.evaluate(c, p, None))
    timed("evaluate + body JSON (trace on)", "evaluate_json",
          lambda c, p, warm: benefits.evaluate(c, p, None).model_dump_json())
    for kind, url in stores(folder, pg, "serial"):
        if url is None:
            out(f"   Ledger.settle, {kind:<18} skipped: PostgreSQL does not answer ({pg.reason})")
            continue
        ledger = open_ledger(url)
        counter = iter(range(10**9))
        try:
            timed(f"Ledger.settle, {kind}", f"ledger_settle_{kind}",
                  lambda c, p, warm: ledger.settle(f"{'w' if warm else 's'}{next(counter)}", c, p))
        finally:
            ledger.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes: under half a minute")
    ap.add_argument("--settles", type=int, help="settles over HTTP per store; default 4000, quick 800")
    ap.add_argument("--serial", type=int, help="claims settled one by one in process; default 1000, quick 300")
    ap.add_argument("--members", type=int, default=300, help="members the claims are spread over (default 300)")
    ap.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients (default 8)")
    ap.add_argument("--workers", type=int, default=2, help="server worker processes (default 2)")
    ap.add_argument("--seed", type=int, default=20240601, help="generator seed")
    ap.add_argument("--skip", action="append", default=[], choices=["http", "ledger"], help="skip a section")
    ap.add_argument("--json", metavar="FILE", help="also write every figure to FILE as JSON")
    args = ap.parse_args(argv)
    args.settles = args.settles or (800 if args.quick else 4000)
    args.serial = args.serial or (300 if args.quick else 1000)
    results: dict = {"cpus": os.cpu_count(), "args": {k: v for k, v in vars(args).items() if k != "json"}}
    pg = Postgres()
    with tempfile.TemporaryDirectory(prefix="benefits-bench-service-") as tmp:
        try:
            if "http" not in args.skip:
                bench_http(args, Path(tmp), pg, results)
            if "ledger" not in args.skip:
                bench_ledger(args, Path(tmp), pg, results)
        finally:
            pg.drop()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
