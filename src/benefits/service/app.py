"""The settlement service: a FastAPI application over the engine and the ledger.

    from benefits.service import create_app
    app = create_app({"jiangmen": "rules/jiangmen"}, "ledger.db")    # or ["rules/jiangmen", ...],
                                                                     # "postgresql://..."

Stateless:  POST /calculate (?trace=true), POST /trace
Ledger:     POST /settlements/pre-settle, POST /settlements, POST /settlements/{key}/reverse,
            GET /settlements/{key}, GET /members/{member_id}/{year}
Operations: GET /health, GET /ready, POST /admin/reload (SIGHUP too)

A settlement or reversal answers the ledger's stored JSON byte for byte: 201 the first time, 200
(with `Idempotent-Replayed: true`) when the same key and request come again. The ledger is opened
in each worker process (in the application's lifespan, after the fork), never shared across one.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import logging
import os
import signal
import threading
import time
from urllib.parse import quote

try:
    import fcntl
except ImportError:  # pragma: no cover - not a POSIX system: the writers queue in this process only
    fcntl = None  # type: ignore[assignment]
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any, Mapping

from fastapi import Depends, FastAPI, Header, Path, Query
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..calculator import evaluate
from ..errors import BenefitsError, shown
from ..explanation import shown_steps
from ..models.accumulators import MAX_YEAR, MIN_YEAR, Accumulators
from ..models.claim import MAX_MEMBER_ID, MEMBER_ID_PATTERN
from ..models.platform_out import with_blocks
from ..models.schema import calc_output_schema
from ..models.settlement import Settlement
from . import problems
from .bodies import (CalculateRequest, ClaimRequest, CreditRequest, Key, OpeningRequest, ReverseRequest, SettleRequest,
                     json_object, single_query_values, validated)
from .head import HeadAsGet
from .packs import Packs
from .page import install as install_page
from .problems import ServiceProblem, item, responses

log = logging.getLogger("benefits.service")

JSON = "application/json"


# --- the ledger of this process --------------------------------------------------------------------


def _flock_by(fd: int, deadline: float) -> bool:
    """Take the exclusive lock on `fd` by `deadline` (time.monotonic()); False when another process
    still holds it then. Polled: a blocking flock cannot be given a time limit."""
    pause = 0.001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 0.02)


class Store:
    """This process's ledger, opened on first use (or at start-up) and again after a fork: a
    connection is never used by two processes. The ledger serialises its own transactions.

    With SQLite, settlements and reversals also queue here (`writing`): one thread of this process
    at a time, and one process of the server at a time (an exclusive lock on `<file>.writers`). The
    file takes one writer at a time anyway; without the queue, concurrent writers wait in SQLite's
    busy handler, which sleeps in growing steps (up to 100 ms), and the slowest requests wait
    several times longer than the queue makes them. A request waits in the queue at most as long as
    SQLite's busy wait (store.BUSY_SECONDS) in all, then is busy (503): a queue of n writers behind
    a stuck one would otherwise wait n times the bound, one after another."""

    def __init__(self, database: str):
        self.database = database
        self._ledger = None
        self._pid: int | None = None
        self._lock = threading.Lock()
        self._writers = threading.Lock()
        self._queue_file: int | None = None
        self._queue_pid: int | None = None

    @contextmanager
    def writing(self):
        """Around a settlement or reversal: the writers' queue of a SQLite store (nothing for PostgreSQL,
        whose transactions lock one member-year each and run side by side)."""
        if self.kind != "sqlite":
            yield
            return
        from ..ledger import store

        deadline = time.monotonic() + store.BUSY_SECONDS
        if not self._writers.acquire(timeout=store.BUSY_SECONDS):
            raise self._busy(store.BUSY_SECONDS)
        try:
            fd = self._queue()
            if fd is not None and not _flock_by(fd, deadline):
                raise self._busy(store.BUSY_SECONDS)
            try:
                with store.waiting_until(deadline):  # SQLite's own busy wait gets what is left
                    yield
            finally:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._writers.release()

    def _busy(self, seconds: float):
        from ..ledger.errors import StoreUnavailable

        return StoreUnavailable((), f"the ledger {self.database} is busy: other writers held it for more than "
                                    f"{seconds} s; nothing was written, try again")

    def _queue(self) -> int | None:
        """This process's descriptor of the queue's lock file (none where the file cannot be made)."""
        if fcntl is None:
            return None
        if self._queue_pid != os.getpid():
            path = self.database.removeprefix("sqlite:///") + ".writers"
            try:
                self._queue_file = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
            except OSError:
                self._queue_file = None  # a read-only folder: SQLite's own locking still holds
            self._queue_pid = os.getpid()
        return self._queue_file

    @property
    def ledger(self):
        ledger = self._ledger
        if ledger is not None and self._pid == os.getpid():
            return ledger
        with self._lock:
            if self._ledger is None or self._pid != os.getpid():
                from ..ledger import open_ledger

                self._ledger = open_ledger(self.database)  # StoreUnavailable (503) when it cannot be opened
                self._pid = os.getpid()
            return self._ledger

    @property
    def kind(self) -> str:
        return "postgresql" if self.database.startswith(("postgresql:", "postgres:")) else "sqlite"

    def close(self) -> None:
        if self._queue_file is not None and self._queue_pid == os.getpid():
            os.close(self._queue_file)
            self._queue_file = self._queue_pid = None
        with self._lock:
            ledger, self._ledger = self._ledger, None
            if ledger is not None and self._pid == os.getpid():
                try:
                    ledger.close()
                except Exception:  # noqa: BLE001 - closing at shutdown: nothing left to tell the caller
                    log.exception("closing the ledger")

    def ping(self) -> None:
        """Raise StoreUnavailable when the store cannot be used."""
        ledger = self.ledger
        check = getattr(ledger, "ping", None)
        if check is not None:
            check()
        else:  # a read that touches the store
            ledger.accumulators("-", 2000)


# --- response models (for the OpenAPI document) ----------------------------------------------------


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Ready(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: str = Field(examples=["ready"])
    store: str = Field(description="sqlite or postgresql")
    packs: dict[str, Any] = Field(description="the loaded packs by name: folder, title, versions, layers")
    generation: int = Field(description="how many times this worker has loaded the packs")
    digest: str = Field(description="the digest of the pack set: every worker of a server settles with the "
                                    "same set, the one the last successful reload (or the start) loaded")
    worker: int = Field(description="the process id of the worker that answered")


class EntryOut(BaseModel):
    """One change of one counter, appended by a settlement, a reversal, an opening or a credit."""

    seq: int
    settlement_key: str
    counter: str = Field(description="the counter, `name` or `name@YYYY-MM` for one kept per month; "
                                     "`admissions` counts admissions")
    delta: str = Field(description="the change: yuan with two decimals, or a count for admissions")


class RequestOut(BaseModel):
    """One request of the member-year (a settlement, a reversal, an opening or a credit), in the order
    made (GET /settlements/{key} has its body)."""

    seq: int = Field(description="its place in the member-year's requests, from 1")
    key: str
    kind: str = Field(description="settle, reverse, opening or credit")
    pack: str | None = Field(description="the pack it was settled or checked under; null for an opening or "
                                         "credit given without one")
    created_at: str
    reversed_by: str | None = Field(None, description="a settlement's reversal, once there is one")
    reverses: str | None = Field(None, description="a reversal's settlement")


class MemberYear(BaseModel):
    """A member's ledger for one year: the accumulators (sums of the entries), the entries, and the
    settlements and reversals that appended them."""

    member_id: str
    year: int
    accumulators: Accumulators
    entries: list[EntryOut]
    settlements: list[RequestOut]


CALCULATED = "CalculatedSettlement"
"""The OpenAPI component of a settlement computed now: the settlement with the platform's blocks
beside its keys, as `benefits calc --json` prints it (`benefits schema settlement`)."""


def _settlement_ok() -> dict:
    """The response of an endpoint that answers a settlement computed now."""
    return {"description": "the settlement, with the platform's setlinfo, setldetail and feedetail blocks",
            "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{CALCULATED}"}}}}


def _calculated(settlement: Settlement, explained: dict | None = None) -> Response:
    body = with_blocks(settlement)
    if explained is not None:
        body["explained"] = explained
    return _json(json.dumps(body, ensure_ascii=False, separators=(",", ":")))


def _explained(settlement: Settlement, pack) -> dict:
    """The trace as each language's reader is shown it (benefits.explanation), for a page that has no
    renderer: inputs named, formulas and results in the language, parameters by their description."""
    return {lang: [dataclasses.asdict(step) for step in shown_steps(settlement, pack, lang)] for lang in ("zh", "en")}


def _stored(description: str, *names: str) -> dict:
    """The response of an endpoint that answers a stored body, one of the models `names`."""
    refs = [{"$ref": f"#/components/schemas/{n}"} for n in names]
    return {"description": description, "content": {JSON: {"schema": refs[0] if len(refs) == 1 else {"oneOf": refs}}}}


# --- the application -------------------------------------------------------------------------------


def create_app(rules_dirs: Mapping[str, str | os.PathLike] | list | tuple, database: str, *,
               reload_stamp: str | os.PathLike | None = None, joins: bool = False,
               admin_token: str | None = None) -> FastAPI:
    """The service: `rules_dirs` names the pack folders ({name: folder}, or a list of folders named by
    their pack.yaml), `database` the ledger's store (a SQLite file path, sqlite:///path or
    postgresql://...). The packs are loaded now (a ServiceProblem when one fails); the ledger when
    the application starts in its process. `reload_stamp`: a file shared by the worker processes of
    one server, naming the snapshot of the packs they all settle with (packs.py): a worker loads
    that snapshot, not the folders, at start and whenever a reload in another worker changed it.
    `joins`: the stamp was published before this process started (a worker of `benefits serve`), so
    one that has gone (a temporary-files cleaner) is a server that is not ready, never a reason to
    load the folders as they are now. `admin_token`: when given, POST /admin/reload needs it
    (`Authorization: Bearer <token>`); without one, anyone who reaches the service may reload."""
    packs = Packs(rules_dirs, reload_stamp, joins=joins)
    store = Store(database)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        try:
            store.ledger  # opened in this process, after any fork
        except BenefitsError as exc:
            log.error("the ledger cannot be opened yet (requests will try again): %s", exc)
        restore = _on_sighup(packs)
        try:
            yield
        finally:
            restore()
            store.close()

    app = FastAPI(
        title="benefits settlement service",
        version="1",
        summary="Settle Chinese medical-insurance claims layer by layer, with a ledger of accumulators.",
        description=__doc__.split("\n\n", 2)[2] if __doc__ else None,
        lifespan=lifespan,
    )
    app.state.packs, app.state.store = packs, store
    app.add_middleware(HeadAsGet)
    problems.install(app)
    _routes(app, packs, store, admin_token)
    install_page(app)  # the settlement page: GET /, /page, /packs (page.py)
    _openapi(app)
    return app


def _on_sighup(packs: Packs):
    """SIGHUP reloads the packs (in a single-process server; under a supervisor of several workers,
    the supervisor's SIGHUP loads and publishes them, then replaces each worker by one that joins them)."""
    if not hasattr(signal, "SIGHUP") or threading.current_thread() is not threading.main_thread():
        return lambda: None

    def reload(signum, frame):
        def run():
            try:
                packs.reload()
            except ServiceProblem as exc:
                log.error("SIGHUP: the rule packs fail to load; the old ones stay in use: %s", exc.detail)
        threading.Thread(target=run, name="benefits-reload", daemon=True).start()

    try:
        previous = signal.signal(signal.SIGHUP, reload)
    except ValueError:  # not the main thread of the interpreter
        return lambda: None
    return lambda: signal.signal(signal.SIGHUP, previous)


Body = Annotated[dict, Depends(json_object)]


def _stored_key(value: str) -> str:
    from ..ledger import key_problem  # imported when first used, as the ledger is elsewhere in this module

    problem = key_problem(value)
    if problem:
        raise ValueError(problem)
    return value


# A stored request's key as the ledger holds it: one the library or the command line wrote may hold any
# printable character ('结算 9', 'a/b'), percent-encoded in the path; a new request's own key is `Key`.
SettlementKey = Annotated[str, AfterValidator(_stored_key), Path(description="the settlement's key (msgid)")]
_REVERSE = "/reverse"  # the reverse route's last segment: /settlements/{key}/reverse
MemberId = Annotated[str, Path(min_length=1, max_length=MAX_MEMBER_ID, pattern=MEMBER_ID_PATTERN,
                                description="the member's id (no control or invisible characters)")]
def _year_text(value: object) -> object:
    """A year in a path as written there: four ASCII digits. Read as any int, '2_021', '+2021' and
    '2021.0' were the year 2021 too, one member-year under several names."""
    if isinstance(value, str) and not (len(value) == 4 and value.isascii() and value.isdigit()):
        raise ValueError(f"expected a year of four digits, such as 2021, got {shown(value)}")
    return value


Year = Annotated[int, BeforeValidator(_year_text), Path(ge=MIN_YEAR, le=MAX_YEAR, description="the calendar year")]


def _body(model: type[BaseModel], description: str) -> dict:
    return {"requestBody": {"required": True, "description": description, "content": {
        JSON: {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}


def _json(text: str, status: int = 200, headers: dict | None = None) -> Response:
    return Response(content=text, status_code=status, media_type=JSON, headers=headers)


# Printable ASCII but '%' stays as it is in a header value; a key written through the library or the CLI
# may hold any printable character ('撤销-1'), which Latin-1 header bytes cannot carry.
_HEADER_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


def _answer(done, location: str) -> Response:
    """A settlement's or reversal's stored body: 201 the first time, 200 for a replay; a replay of one
    reversed since says so (`Reversed-By`: the reversal's key, percent-encoded where not ASCII): its body
    is as first answered, and a client paying on it would pay what the ledger no longer counts."""
    headers = {"Location": location, "Idempotent-Replayed": "true" if done.replayed else "false"}
    if getattr(done, "reversed_by", None):  # percent-encoded (UTF-8) where not ASCII: a header is Latin-1
        headers["Reversed-By"] = quote(done.reversed_by, safe=_HEADER_SAFE)
    return _json(done.body, 200 if done.replayed else 201, headers)


def _routes(app: FastAPI, packs: Packs, store: Store, admin_token: str | None) -> None:
    # The order the routes are added is the order of the paths in the OpenAPI document.
    _calculate_routes(app, packs)
    _settlement_routes(app, packs, store)
    _member_routes(app, packs, store)
    _reading_routes(app, store)
    _operation_routes(app, packs, store, admin_token)


def _with_pack(model: type, body: dict, packs: Packs):
    """The body as `model`, and the rule pack it names (None where it may name none and does not). A body
    that names an unknown pack and has other problems is told of all of them at once: told of the claim's
    alone, a client fixed the claim and only then heard that the pack does not exist."""
    try:
        req = validated(model, body)
    except ServiceProblem as exc:
        name = body.get("pack") if isinstance(body, dict) else None
        if not isinstance(name, str) or any(p["path"][:1] == ["pack"] for p in exc.problems):
            raise
        try:
            packs.get(name)
        except ServiceProblem as unknown:
            raise ServiceProblem("invalid-request", f"{unknown.detail}; and {exc.detail}",
                                 [*unknown.problems, *exc.problems]) from None
        raise
    return req, (packs.get(req.pack) if req.pack else None)


def _calculate_routes(app: FastAPI, packs: Packs) -> None:
    """POST /calculate and POST /trace: the engine alone, nothing recorded."""
    settlement_ok = _settlement_ok()

    def calculate(body: dict, trace: bool, explain: bool = False) -> Response:
        req, pack = _with_pack(CalculateRequest, body, packs)
        settlement = evaluate(req.claim, pack, req.accumulators, trace=trace)
        return _calculated(settlement, _explained(settlement, pack) if explain else None)

    @app.post("/calculate", tags=["calculate"], summary="Settle a claim without the ledger",
              dependencies=[Depends(single_query_values)], response_class=Response,
              responses={200: settlement_ok, **responses(
                  "malformed-json", "invalid-request", "invalid-claim", "unsupported-media-type", "payload-too-large",
                  "not-ready")},
              openapi_extra=_body(CalculateRequest, "a pack name, a claim and the member's accumulators before it"))
    def post_calculate(body: Body, trace: Annotated[bool, Query(
            description="include the explanation trace (as POST /trace does)")] = False) -> Response:
        """The settlement of one claim from the accumulators given (none: nothing used yet this year).
        Nothing is recorded. Without `trace=true` the settlement's `trace` is empty. The platform's
        setlinfo, setldetail and feedetail blocks are beside the settlement's keys, as in
        `benefits calc --json`."""
        return calculate(body, trace)

    @app.post("/trace", tags=["calculate"], summary="Settle a claim without the ledger, with the trace",
              dependencies=[Depends(single_query_values)], response_class=Response,
              responses={200: settlement_ok, **responses(
                  "malformed-json", "invalid-request", "invalid-claim", "unsupported-media-type", "payload-too-large",
                  "not-ready")},
              openapi_extra=_body(CalculateRequest, "a pack name, a claim and the member's accumulators before it"))
    def post_trace(body: Body, explain: Annotated[bool, Query(
            description="also `explained`: each step as a reader of each language (zh, en) is shown it, inputs "
                        "named, formula and result in the language, parameters by their description, in Chinese "
                        "no English id (as `benefits explain` words it; explain folds the steps of layers that "
                        "did not apply, `<layer>.skip`, into one line)")] = False) -> Response:
        """As POST /calculate, with every step of the explanation trace: rule, file and line,
        formula with the numbers, result, cited parameters."""
        return calculate(body, True, explain)


def _settlement_routes(app: FastAPI, packs: Packs, store: Store) -> None:
    """Pre-settle, settle and reverse: a claim against the ledger."""
    settlement_ok = _settlement_ok()

    @app.post("/settlements/pre-settle", tags=["settlements"], summary="Pre-settle (2206 / 2303): writes nothing",
              response_class=Response, responses={200: settlement_ok, **responses(
                  "malformed-json", "invalid-request", "invalid-claim", "history-conflict", "store-unavailable",
                  "not-ready")},
              openapi_extra=_body(ClaimRequest, "a pack name and a claim"))
    def pre_settle(body: Body) -> Response:
        """The settlement the claim would get now, from the member's accumulators in the ledger."""
        req, pack = _with_pack(ClaimRequest, body, packs)
        return _calculated(store.ledger.pre_settle(req.claim, pack))

    @app.post("/settlements", tags=["settlements"], summary="Settle and record (2207 / 2304), idempotent on the key",
              response_class=Response, status_code=201,
              responses={201: _stored("settled now", "SettleBody"),
                         200: _stored("a replay: the same key and claim again; the first answer, byte for byte",
                                      "SettleBody"),
                         **responses("malformed-json", "invalid-request", "invalid-claim", "key-conflict",
                                     "history-conflict", "store-unavailable", "not-ready")},
              openapi_extra=_body(SettleRequest, "the request's key (msgid), a pack name and the claim"))
    def settle(body: Body) -> Response:
        """Settle the claim from the member's accumulators in the ledger and record it. The body
        answered is stored: sending the same key and claim again answers it again, byte for byte,
        with status 200 and `Idempotent-Replayed: true` (and `Reversed-By: <key>` once it was
        reversed: it no longer counts); the same key with another claim is 409, and
        so is the same claim (id) under another key while its settlement stands (reverse it first), or
        a member-year settled under another pack."""
        req, pack = _with_pack(SettleRequest, body, packs)
        with store.writing():
            done = store.ledger.settle(req.key, req.claim, pack)
        return _answer(done, f"/settlements/{done.key}")

    @app.post("/settlements/{key:path}" + _REVERSE, tags=["settlements"], summary="Reverse a settlement (2208 / 2305)",
              response_class=Response, status_code=201,
              responses={201: _stored("reversed now", "ReverseBody"),
                         200: _stored("a replay of the same reversal, byte for byte", "ReverseBody"),
                         **responses("malformed-json", "invalid-request", "not-found", "key-conflict",
                                     "already-reversed", "store-unavailable")},
              openapi_extra=_body(ReverseRequest, "the reversal's own key (msgid)"))
    def reverse(key: SettlementKey, body: Body) -> Response:
        """Append entries that undo the settlement's; its body lists the member's later settlements,
        which counted its amounts and are not settled again."""
        req = validated(ReverseRequest, body)
        with store.writing():
            done = store.ledger.reverse(req.key, of=key)
        return _answer(done, f"/settlements/{done.key}")


def _member_routes(app: FastAPI, packs: Packs, store: Store) -> None:
    """A member-year's opening balances and credits."""

    @app.post("/members/{member_id:path}/{year}/opening", tags=["members"], status_code=201, response_class=Response,
              summary="Bring a member-year's opening balances into the ledger (期初余额)",
              responses={201: _stored("opened now", "OpeningBody"),
                         200: _stored("a replay of the same opening, byte for byte", "OpeningBody"),
                         **responses("malformed-json", "invalid-request", "key-conflict", "history-conflict",
                                     "store-unavailable", "not-ready")},
              openapi_extra=_body(OpeningRequest, "the opening's key, the accumulators so far and the pack"))
    def open_year(member_id: MemberId, year: Year, body: Body) -> Response:
        """Entries equal to the accumulators given, before the member-year's first settlement here (a
        member coming from another system mid-year, or last year's account balance). Refused (409)
        once the member-year has a standing settlement, credit or opening."""
        req, pack = _with_pack(OpeningRequest, body, packs)
        with store.writing():
            done = store.ledger.open_year(req.key, member_id, year, req.accumulators, rules=pack)
        return _answer(done, f"/settlements/{done.key}")

    @app.post("/members/{member_id:path}/{year}/credits", tags=["members"], status_code=201, response_class=Response,
              summary="Credit a balance: the personal account's deposit (个人账户划入)",
              responses={201: _stored("credited now", "CreditBody"),
                         200: _stored("a replay of the same credit, byte for byte", "CreditBody"),
                         **responses("malformed-json", "invalid-request", "key-conflict", "history-conflict",
                                     "store-unavailable", "not-ready")},
              openapi_extra=_body(CreditRequest, "the credit's key, the amount and the counter"))
    def credit(member_id: MemberId, year: Year, body: Body) -> Response:
        """Adds `amount` to the member's balance counter for the year; reversible by
        POST /settlements/{key}/reverse while no later settlement used it."""
        req, pack = _with_pack(CreditRequest, body, packs)
        with store.writing():
            done = store.ledger.credit(req.key, member_id, year, req.counter, req.amount, rules=pack)
        return _answer(done, f"/settlements/{done.key}")


def _reading_routes(app: FastAPI, store: Store) -> None:
    """GET a stored request, and a member-year's accumulators and entries."""

    @app.get("/settlements/{key:path}", tags=["settlements"], summary="A settlement or reversal, as answered",
             response_class=Response, responses={
                 200: _stored("the request, as answered", "SettleBody", "ReverseBody", "OpeningBody", "CreditBody",
                              "ReverseEntriesBody"),
                 **responses("not-found", "invalid-request", "store-unavailable")})
    def get_settlement(key: SettlementKey) -> Response:
        """The stored body of a settlement or reversal, byte for byte as it was answered."""
        if key.endswith(_REVERSE):  # the reverse route, asked with GET (unless a stored key ends so)
            from ..ledger.errors import NotFound

            try:
                return _json(store.ledger.get(key).body)
            except NotFound:
                raise StarletteHTTPException(405, headers={"Allow": "POST"}) from None
        return _json(store.ledger.get(key).body)

    # a member id may hold '/' (the path converter reads it, %2F or not); the year is the last segment
    @app.get("/members/{member_id:path}/{year}", tags=["members"],
             summary="A member's accumulators and entries for a year",
             response_model=MemberYear, responses=responses("invalid-request", "store-unavailable"))
    def member(member_id: MemberId, year: Year) -> Response:
        """The accumulators (each counter the sum of its entries) and every entry, in order. A member
        with nothing recorded has empty accumulators and no entries."""
        found = store.ledger.member_year(member_id, year)  # one transaction: the three agree
        out = {"member_id": member_id, "year": year, "accumulators": found.accumulators.model_dump(mode="json"),
               "entries": [_entry(e) for e in found.entries], "settlements": [_request(r) for r in found.history]}
        return _json(json.dumps(out, ensure_ascii=False, separators=(",", ":")))


def _operation_routes(app: FastAPI, packs: Packs, store: Store, admin_token: str | None) -> None:
    """Liveness, readiness and reloading the packs."""

    @app.get("/health", tags=["operations"], summary="Liveness", response_model=Health)
    def health() -> dict:
        """The process answers."""
        return {"status": "ok"}

    @app.get("/ready", tags=["operations"], summary="Readiness: the store answers and the packs are loaded",
             response_model=Ready, responses=responses("not-ready"))
    def ready():
        """200 when this worker's store answers and its packs are loaded; 503 otherwise."""
        loaded = packs.current
        try:
            store.ping()
        except BenefitsError as exc:
            return problems.problem_response("not-ready", f"the store does not answer: {exc}",
                                             [item(["store"], str(exc))], headers={"Retry-After": "1"})
        return {"status": "ready", "store": store.kind, **loaded.describe(), "worker": os.getpid()}

    @app.post("/admin/reload", tags=["operations"], summary="Load the rule packs again",
              response_model=Ready, responses=responses("unauthorized", "invalid-rule-pack", "not-ready"))
    def reload(authorization: Annotated[str | None, Header(
            description="`Bearer <token>`: the service's admin token, where it was started with one")] = None):
        """Load every pack folder again and swap the new packs in for every worker: each settles
        with exactly the files loaded now (a copy of them), whatever happens to the folders, until
        the next reload. A pack that fails to load changes nothing in any worker, and its problems
        are answered (422). A service started with an admin token answers 401 without it."""
        _check_admin(admin_token, authorization)
        loaded = packs.reload()
        return {"status": "reloaded", "store": store.kind, **loaded.describe(), "worker": os.getpid()}


def _check_admin(token: str | None, authorization: str | None) -> None:
    """An operations request carries the admin token, where the service has one (compared in constant
    time: how long a refusal takes tells nothing of the token)."""
    if token is None:
        return
    scheme, _, given = (authorization or "").partition(" ")  # the scheme's name in any case (RFC 9110 11.1)
    given = given.lstrip(" ").encode("utf-8", "surrogateescape")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given, token.encode("utf-8")):
        raise ServiceProblem("unauthorized", "this operation needs the service's admin token, sent as "
                             "`Authorization: Bearer <token>`" + ("; the one sent is not it" if authorization else ""),
                             headers={"WWW-Authenticate": 'Bearer realm="benefits admin"'})


def _request(r) -> dict:
    return {"seq": r.seq, "key": r.key, "kind": r.kind, "pack": r.pack, "created_at": r.created_at.isoformat(),
            "reversed_by": r.reversed_by, "reverses": r.reverses}


def _entry(e) -> dict:
    return {"seq": e.seq, "settlement_key": e.settlement_key, "counter": e.accumulator_key, "delta": str(e.amount)}


def _openapi(app: FastAPI) -> None:
    """FastAPI's document, with the request bodies (read by our own JSON reader) and the settlement,
    problem details and their parts as components."""
    models = [CalculateRequest, ClaimRequest, SettleRequest, ReverseRequest, OpeningRequest, CreditRequest]

    def build() -> dict:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, summary=app.summary, description=app.description,
                          routes=app.routes, tags=None)
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        ref = "#/components/schemas/{model}"
        from ..ledger.bodies import CreditBody, OpeningBody, ReverseBody, ReverseEntriesBody, SettleBody

        answers = [Settlement, SettleBody, ReverseBody, OpeningBody, CreditBody, ReverseEntriesBody,
                   problems.ProblemDetails]
        for model, mode in [(m, "validation") for m in models] + [(m, "serialization") for m in answers]:
            schema = model.model_json_schema(ref_template=ref, mode=mode)
            for name, sub in schema.pop("$defs", {}).items():
                schemas.setdefault(name, sub)
            schemas[model.__name__] = schema
        calculated = calc_output_schema(ref)
        for name, sub in calculated.pop("$defs", {}).items():
            schemas.setdefault(name, sub)
        schemas[CALCULATED] = calculated
        app.openapi_schema = doc
        return doc

    app.openapi = build  # type: ignore[method-assign]


# --- the factory uvicorn's workers call -----------------------------------------------------------

ENV_RULES = "BENEFITS_SERVE_RULES"
ENV_DATABASE = "BENEFITS_SERVE_DATABASE"
ENV_STAMP = "BENEFITS_SERVE_RELOAD_STAMP"
ENV_ADMIN_TOKEN = "BENEFITS_SERVE_ADMIN_TOKEN"


def from_environment() -> FastAPI:
    """The application as `benefits serve` configures it for each worker process, through the
    environment: BENEFITS_SERVE_RULES (a JSON object of name -> folder), BENEFITS_SERVE_DATABASE and
    BENEFITS_SERVE_RELOAD_STAMP, and BENEFITS_SERVE_ADMIN_TOKEN where the server has an admin token."""
    rules = json.loads(os.environ[ENV_RULES])
    stamp = os.environ.get(ENV_STAMP) or None
    return create_app(rules, os.environ[ENV_DATABASE], reload_stamp=stamp, joins=stamp is not None,
                      admin_token=os.environ.get(ENV_ADMIN_TOKEN) or None)
