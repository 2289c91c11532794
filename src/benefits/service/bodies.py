"""Request bodies: read as JSON with every number exact (`benefits.loads`), then validated with paths.

A JSON number with a fraction is read as `Decimal`, never a float (money is exact, and the models
refuse floats); `NaN` and `Infinity`, a key given twice in one object, and bodies beyond the
library's bounds (size, nesting, values) are refused as malformed (400).
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

from fastapi import Request
from starlette.requests import ClientDisconnect
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from ..errors import described, shown
from ..jsonio import JsonError, loads
from ..models.accumulators import Accumulators
from ..money import Money
from ..yamlio import MAX_BYTES
from ..models.claim import Claim
from .problems import ServiceProblem, item, validation_items

MAX_BODY = MAX_BYTES
"""Bytes a request body may have: the library's bound on a claim file (a stay of a thousand fee lines
is about 200 KB). A longer body is 413, and is not read past this bound."""

Key = Annotated[str, StringConstraints(pattern=described(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$",
                                                          "a key of 1 to 128 letters, digits and . _ : - "
                                                          "(starting with a letter or digit)"))]
"""A request key (the platform's msgid, 报文ID): 1 to 128 letters, digits and . _ : - (it appears in URLs)."""

PackName = Annotated[str, StringConstraints(min_length=1, max_length=200)]


async def json_object(request: Request) -> dict:
    """The request body as a JSON object, or a problem (413, 415, 400, 422)."""
    content_type = request.headers.get("content-type", "application/json")
    ctype = content_type.split(";")[0].strip().lower()
    if ctype not in ("application/json", "") and not ctype.endswith("+json"):
        raise ServiceProblem("unsupported-media-type", f"expected a JSON body (application/json), got {ctype!r}")
    coding = request.headers.get("content-encoding", "").strip()
    if coding.lower() not in ("", "identity"):
        raise ServiceProblem("unsupported-media-type", f"the body is sent with Content-Encoding {coding!r}; send it "
                                                       "as it is (no compression)")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise ServiceProblem("payload-too-large", f"the body has {int(declared):,} bytes; at most {MAX_BODY:,} are read")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise ServiceProblem("payload-too-large", f"the body has more than {MAX_BODY:,} bytes")
            chunks.append(chunk)
    except ClientDisconnect:  # nothing was read whole, so nothing is done: an answer no one reads, not an error
        raise ServiceProblem("malformed-json", f"the client closed the connection after {size:,} bytes of the body, "
                                               "before its end; nothing was done") from None
    raw = b"".join(chunks)
    _check_charset(content_type, raw)
    if not raw.strip():
        raise ServiceProblem("malformed-json", "the body is empty; expected a JSON object",
                             [item([], "expected a JSON object, got an empty body")])
    try:
        data = loads(raw)
    except JsonError as exc:
        where = {"line": exc.line, "column": exc.column} if exc.line is not None else {}
        raise ServiceProblem("malformed-json", str(exc), [{**item([], exc.message), **where}]) from None
    if not isinstance(data, dict):
        raise ServiceProblem("invalid-request", f"expected a JSON object, got {_kind(data)}",
                             [item([], "expected a JSON object")])
    return data


def single_query_values(request: Request) -> None:
    """Each query parameter at most once, on a route that reads its query: `?trace=true&trace=false` is refused
    (422), not read as one of the two."""
    counts = Counter(name for name, _ in request.query_params.multi_items())
    twice = sorted(name for name, n in counts.items() if n > 1)
    if twice:
        raise ServiceProblem("invalid-request", f"query parameter {twice[0]!r} is given more than once",
                             [item(["query", name], "given more than once; give it once") for name in twice])


MAX_CONTENT_TYPE = 1000
"""Characters a Content-Type header may have: a JSON body's is a few dozen."""
_AS_UTF8 = ("", "utf-8", "utf8", "us-ascii")  # what a JSON body is read as, under any of these labels


def _check_charset(content_type: str, raw: bytes) -> None:
    """JSON is UTF-8, whatever charset a client declares (RFC 8259 defines none, and says one has no effect):
    a body that is not UTF-8 is refused naming the charset it was declared in, and one declared in UTF-16 or
    UTF-32 (whose ASCII text would read as UTF-8 with NULs between its characters) is refused as such."""
    if len(content_type) > MAX_CONTENT_TYPE:
        raise ServiceProblem("unsupported-media-type", f"the Content-Type has {len(content_type):,} characters; at "
                                                       f"most {MAX_CONTENT_TYPE:,} are read")
    label = _parameter(content_type, "charset")
    charset = label.lower()
    if charset in _AS_UTF8:
        return
    declared = f"the body is declared in charset {shown(label)}"
    if charset.startswith(("utf-16", "utf-32", "ucs")):
        raise ServiceProblem("unsupported-media-type", f"{declared}; JSON is read as UTF-8")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ServiceProblem("unsupported-media-type", f"{declared} and is not UTF-8 text (byte {exc.start}); JSON is "
                                                       "read as UTF-8") from None


def _parameter(content_type: str, name: str) -> str:
    """A parameter of a media type ('' when absent): `;`-separated `name=value` pairs after the type, a value
    maybe quoted (a `;` inside quotes is part of it). One pass over the header."""
    pairs, part, quoted = [], [], False
    for ch in content_type:
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            pairs.append("".join(part))
            part = []
        else:
            part.append(ch)
    pairs.append("".join(part))
    for pair in pairs[1:]:
        key, _, value = pair.partition("=")
        if key.strip().lower() == name:
            return value.strip().strip('"')
    return ""


def _kind(value: object) -> str:
    return {list: "a list", str: "a string", bool: "true or false", type(None): "null"}.get(type(value), "a number")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CalculateRequest(_Body):
    """A claim to settle without the ledger: the member's accumulators before it come with it."""

    pack: PackName = Field(description="the rule pack to settle under, by name (GET /ready lists them)")
    claim: Claim
    accumulators: Accumulators | None = Field(None, description="the member's accumulators for the year before "
                                                                "this claim; default: nothing used yet")


class ClaimRequest(_Body):
    """A claim to pre-settle against the member's accumulators in the ledger (2206 / 2303; writes nothing)."""

    pack: PackName
    claim: Claim


class SettleRequest(_Body):
    """A claim to settle and record (2207 / 2304). Sending the same key and claim again returns the
    first answer; the same key with another claim is refused (409)."""

    key: Key = Field(description="the request's key (msgid), unique per request; reuse it to retry")
    pack: PackName
    claim: Claim


class OpeningRequest(_Body):
    """A member-year's opening balances (期初余额), brought from another system before its first
    settlement here; refused (409) once the member-year has a standing request."""

    key: Key = Field(description="the opening's key; reuse it to retry")
    accumulators: Accumulators = Field(description="the member's accumulators for the year so far")
    pack: PackName | None = Field(None, description="check each counter against this pack's (recommended)")


class CreditRequest(_Body):
    """A credit to a balance counter (个人账户划入): the personal account's yearly deposit."""

    key: Key = Field(description="the credit's key; reuse it to retry")
    amount: Money = Field(description="yuan, above zero, at most two decimals (text, or a JSON number)")
    counter: str = Field("personal_account.balance", description="the balance counter credited")
    pack: PackName | None = Field(None, description="check the counter against this pack's balance counters")


class ReverseRequest(_Body):
    """A reversal (2208 / 2305) of the settlement named in the path."""

    key: Key = Field(description="the reversal's own key (msgid); reuse it to retry")


def validated(model: type[BaseModel], data: dict) -> Any:
    """`data` as `model`, or a problem (422) listing every error with its path from the body's root."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        items = validation_items(exc.errors(include_url=False, include_context=True, include_input=True))
        first = items[0] if items else item([], "invalid")
        where = ".".join(map(str, first["path"]))
        more = f" (and {len(items) - 1} more)" if len(items) > 1 else ""
        # the claim's own inputs, in a request that settles one (an opening's accumulators are the request)
        inputs = "claim" in model.model_fields and all(i["path"][:1] in (["claim"], ["accumulators"]) for i in items)
        kind = "invalid-claim" if items and inputs else "invalid-request"
        raise ServiceProblem(kind, f"{where}: {first['message']}{more}" if where else first["message"], items) from None
