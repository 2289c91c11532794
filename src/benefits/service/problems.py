"""Errors as problem details (RFC 9457, `application/problem+json`).

Every error the service answers has the same shape:

    {"type": "tag:benefits,2026:problem/invalid-claim", "title": "The claim cannot be settled",
     "status": 422, "detail": "claim.level: 'level9' is not a hospital level of pack 'jiangmen'; ...",
     "problems": [{"path": ["claim", "level"], "message": "'level9' is not a hospital level ..."}]}

`problems` lists each problem with its `path` from the root of the request body (keys and list
indices, as `ClaimError.problems` has them; empty for the request as a whole). A rule pack's
problems also carry their `file` and `line`. The problem types are tag URIs (RFC 4151): names, not
pages to fetch; `PROBLEM_TYPES` lists them with their titles.

Bad input is never a 500: malformed JSON is 400, a request or claim that does not validate 422,
an unknown settlement 404, a key reused for another claim or a reversal of a reversed settlement
409, a store that cannot be reached 503. A 500 is a bug; its body says so without a traceback.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import MAX_LISTED, BenefitsError, ClaimError, Problem, RuleFileError, error_message
from .head import allowed, method_of

log = logging.getLogger("benefits.service")

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "tag:benefits,2026:problem/"

PROBLEM_TYPES: dict[str, tuple[int, str]] = {
    "malformed-json": (400, "The request body is not valid JSON"),
    "unsupported-media-type": (415, "The request body must be JSON (application/json)"),
    "payload-too-large": (413, "The request body is too large"),
    "invalid-request": (422, "The request is invalid"),
    "invalid-claim": (422, "The claim cannot be settled"),
    "invalid-rule-pack": (422, "A rule pack is invalid"),
    "unauthorized": (401, "The operation needs the service's admin token"),
    "not-found": (404, "Not found"),
    "method-not-allowed": (405, "Method not allowed"),
    "key-conflict": (409, "The key was already used for another request"),
    "already-reversed": (409, "The settlement is already reversed"),
    "history-conflict": (409, "The member-year's history does not allow it (an opening after settlements, "
                              "a reversal of an opening that later settlements used, a claim settled already "
                              "under another key, or another pack than the member-year's)"),
    "ledger-refused": (422, "The ledger refuses the request"),
    "store-unavailable": (503, "The ledger's store cannot be reached"),
    "not-ready": (503, "The service is not ready"),
    "internal-error": (500, "Internal error (a bug, not your input)"),
}


class ProblemItem(BaseModel):
    """One problem: where in the request body (or rule file) and what was expected."""

    model_config = ConfigDict(extra="allow")

    path: list[str | int] = Field(description="keys and list indices from the root of the request body; "
                                              "for a rule pack: the pack, the file, then the key in the file")
    message: str
    file: str | None = Field(None, description="a rule pack's problem: the file it is in")
    line: int | None = Field(None, description="a rule pack's problem: the line it is on")


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, with the problems found one by one."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description=f"the problem type, a tag URI: {TYPE_PREFIX}<name>")
    title: str
    status: int
    detail: str
    problems: list[ProblemItem] = Field(default_factory=list)


class ServiceProblem(Exception):
    """An error the service answers as problem details (raised by the request handlers)."""

    def __init__(self, kind: str, detail: str, problems: Iterable[dict] = (), *, status: int | None = None,
                 headers: dict[str, str] | None = None, **extra: Any):
        self.kind, self.detail, self.problems = kind, detail, list(problems)
        self.status = status or PROBLEM_TYPES[kind][0]
        self.headers, self.extra = headers, extra
        super().__init__(detail)


def problem_body(kind: str, detail: str, problems: Iterable[dict] = (), status: int | None = None, **extra: Any) -> dict:
    default_status, title = PROBLEM_TYPES[kind]
    listed = list(problems)
    body = {"type": TYPE_PREFIX + kind, "title": title, "status": status or default_status, "detail": detail,
            "problems": listed[:MAX_LISTED]}
    if len(listed) > MAX_LISTED:
        body["problems_not_listed"] = len(listed) - MAX_LISTED
    body.update(extra)
    return body


def problem_response(kind: str, detail: str, problems: Iterable[dict] = (), *, status: int | None = None,
                     headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body = problem_body(kind, detail, problems, status, **extra)
    return JSONResponse(jsonable_encoder(body), status_code=body["status"], media_type=MEDIA_TYPE, headers=headers)


def item(path: Iterable, message: str) -> dict:
    return {"path": [p if isinstance(p, int) and not isinstance(p, bool) else str(p) for p in path], "message": message}


def validation_items(errors: Iterable[dict], prefix: tuple = ()) -> list[dict]:
    """pydantic's errors in the words of our formats, each with its path (validator steps left out)."""
    out = []
    for err in errors:
        path = tuple(p for p in err.get("loc", ()) if not str(p).startswith("function-"))
        out.append(item(prefix + path, error_message(err)))
    return out


def rule_items(exc: RuleFileError, pack: str | None = None) -> list[dict]:
    """A pack's problems: path [pack, file, key...], with file and line."""
    out = []
    for p in exc.problems:
        assert isinstance(p, Problem)
        where = [w for w in (p.where or "").split(".") if w]
        entry = item(([pack] if pack else []) + [p.file] + where, p.message)
        entry.update(file=p.file, line=p.line)
        out.append(entry)
    return out


def _detail(items: list[dict], fallback: str) -> str:
    if not items:
        return fallback
    first = items[0]
    where = ".".join(map(str, first["path"]))
    more = f" (and {len(items) - 1} more)" if len(items) > 1 else ""
    return f"{where}: {first['message']}{more}" if where else f"{first['message']}{more}"


def _ledger_kind(exc: BenefitsError) -> str | None:
    """The problem type of a ledger error, by its class name (the ledger's classes, when it has them)."""
    try:
        from .. import ledger
    except ImportError:  # pragma: no cover - the ledger is part of the package
        return None
    table = (("KeyConflict", "key-conflict"), ("AlreadyReversed", "already-reversed"),
             ("HistoryConflict", "history-conflict"), ("NotFound", "not-found"),
             ("StoreUnavailable", "store-unavailable"), ("LedgerError", "ledger-refused"))
    for name, kind in table:
        cls = getattr(ledger, name, None)
        if isinstance(cls, type) and isinstance(exc, cls):
            return kind
    return None


def benefits_problem(exc: BenefitsError) -> JSONResponse:
    """Any error of the library or the ledger, with its problems."""
    headers = None
    kind = _ledger_kind(exc)
    if kind is not None:
        problems = [item(p.path, p.message) for p in getattr(exc, "problems", ()) if hasattr(p, "path")]
        if kind == "store-unavailable":
            headers = {"Retry-After": "1"}
        return problem_response(kind, str(exc) or PROBLEM_TYPES[kind][1], problems, headers=headers)
    if isinstance(exc, RuleFileError):
        items = rule_items(exc)
        return problem_response("invalid-rule-pack", _detail(items, str(exc)), items)
    if isinstance(exc, ClaimError):
        items = [item(p.path, p.message) for p in exc.problems]
        return problem_response("invalid-claim", _detail(items, str(exc)), items)
    return problem_response("invalid-claim", str(exc), [item((), str(exc))])


def install(app: FastAPI) -> None:
    """Answer every error as problem details."""

    @app.exception_handler(ServiceProblem)
    async def _service(request: Request, exc: ServiceProblem):
        return problem_response(exc.kind, exc.detail, exc.problems, status=exc.status, headers=exc.headers, **exc.extra)

    @app.exception_handler(BenefitsError)
    async def _benefits(request: Request, exc: BenefitsError):
        return benefits_problem(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        items = validation_items(exc.errors())
        return problem_response("invalid-request", _detail(items, "the request is invalid"), items)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        kind = {404: "not-found", 405: "method-not-allowed", 413: "payload-too-large",
                415: "unsupported-media-type"}.get(exc.status_code)
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if kind is None:
            kind = "invalid-request" if 400 <= exc.status_code < 500 else "internal-error"
        headers = getattr(exc, "headers", None)
        method = method_of(request.scope)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such resource: {method} {request.url.path}"
        elif exc.status_code == 405 and headers and headers.get("Allow"):
            headers = {**headers, "Allow": allowed(headers["Allow"])}
            detail = f"{method} is not allowed on {request.url.path}; allowed: {headers['Allow']}"
        return problem_response(kind, detail, status=exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception):
        log.exception("internal error on %s %s", request.method, request.url.path)
        return problem_response("internal-error", f"internal error (a bug, not your input): {type(exc).__name__}")


def responses(*kinds: str) -> dict:
    """OpenAPI `responses` for the problem types an operation may answer."""
    by_status: dict[int, list[str]] = {}
    for kind in kinds:
        by_status.setdefault(PROBLEM_TYPES[kind][0], []).append(kind)
    return {status: {"description": "; ".join(PROBLEM_TYPES[k][1] for k in names) + " (problem details)",
                     "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}}
            for status, names in sorted(by_status.items())}
