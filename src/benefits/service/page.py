"""The settlement page (结算单): a cashier's page over the stateless API, served by `benefits serve`.

    GET  /  and  /page          the page (static/page.html); ?lang=en, ?print=1, #pack=...&claim=...
    GET  /page/static/{file}    its stylesheet and script
    GET  /packs                 the loaded packs: name, title, versions, levels, visits, layers;
                                and the Chinese and English labels of the platform's setlinfo fields
    POST /page/parse            a claim or accumulators pasted as YAML or JSON, read by the library's
                                reader (numbers exact): the data with every amount as a string, and
                                the line of each path; problems as problem details with the line

The page itself settles through POST /trace, once: the answer carries the settlement, its trace and
the platform's setlinfo and setldetail blocks. It does no arithmetic on amounts (it shows the
strings the API answers). None of these routes is in the OpenAPI document: they serve the page.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.responses import Response
from pydantic import Field

from ..errors import shown
from ..models import platform_out
from ..render import GROUPS_ZH, SCHEMES_ZH, word
from ..yamlio import YamlError, load_json_text, load_text
from .bodies import _Body, json_object, validated
from .packs import Packs
from .problems import ServiceProblem, item

STATIC = Path(__file__).resolve().parent / "static"
TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
"""The page's files by suffix: only these are served, and only from STATIC itself."""

Body = Annotated[dict, Depends(json_object)]
_DIGITS = 40  # digits either side of the point a number's positional text may have
_SAFE_INT = 2 ** 53 - 1  # beyond this a browser's JSON.parse changes an integer: sent as text instead


class ParseRequest(_Body):
    """Text to read as a claim or as accumulators: YAML, or JSON (JSON is YAML to the reader)."""

    text: str = Field(max_length=3_000_000)
    name: Annotated[str, Field(max_length=200)] = "claim"


def install(app: FastAPI) -> None:
    """Add the page's routes to the service (create_app's `app`, whose `state.packs` are the packs)."""
    packs: Packs = app.state.packs

    def page() -> Response:
        return _file("page.html")

    app.get("/", include_in_schema=False)(page)
    app.get("/page", include_in_schema=False)(page)

    @app.get("/page/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        return _file(name)

    @app.get("/packs", include_in_schema=False)
    def list_packs() -> dict:
        loaded = packs.current
        return {"packs": [{"name": name, "title": pack.meta.title, "versions": [str(v) for v in pack.meta.versions],
                           "valid_until": str(pack.meta.valid_until), "levels": list(pack.meta.levels),
                           "visits": list(pack.meta.visits), "layers": list(pack.meta.layers),
                           "words": _words(pack)}
                          for name, pack in loaded.packs.items()],
                "setlinfo": {name: {"zh": label.zh, "en": label.en}
                             for name, label in platform_out.labels(platform_out.SetlInfo).items()}}

    @app.post("/page/parse", include_in_schema=False)
    def parse(body: Body) -> dict:
        req = validated(ParseRequest, body)
        text = req.text.lstrip("\ufeff")
        if not text.strip():
            raise ServiceProblem("invalid-request", f"{req.name}: nothing to read", [item(["text"], "empty")])
        try:
            data, locator = _read(text, req.name)
        except YamlError as exc:
            entry = {**item(["text"], exc.message), **({"line": exc.line} if exc.line else {})}
            raise ServiceProblem("invalid-request", str(exc), [entry]) from None
        if not isinstance(data, dict):
            raise ServiceProblem("invalid-request", f"{req.name}: expected a mapping (key: value lines or a JSON object)",
                                 [item(["text"], "expected a mapping")])
        lines = {".".join(map(str, path)): line for path, line in locator.lines.items() if path}
        return {"data": _plain(data, (req.name,), locator), "lines": lines}


def _read(text: str, name: str):
    """Text read as JSON when it is JSON (its numbers by JSON's rules, 1.5e4 included), else as YAML,
    which a text starting with '{' may be too (`{id: c1, ...}`, as `benefits calc` reads it)."""
    if text.lstrip().startswith(("{", "[")):
        try:
            return load_json_text(text, name)
        except YamlError as exc:
            try:
                return load_text(text, name)
            except YamlError:
                raise exc from None  # it looked like JSON: say what is wrong with it as JSON
    return load_text(text, name)


def _words(pack) -> dict:
    """The Chinese names of a pack's levels and visits, and of the schemes and groups (as the trace has them)."""
    ids = [*pack.meta.levels, *pack.meta.visits, *SCHEMES_ZH, *GROUPS_ZH]
    return {i: word(i, "zh") for i in ids if word(i, "zh") != i}


def _plain(value: object, path: tuple, locator) -> object:
    """Read data as JSON for a browser: Decimal amounts and dates as their text, never a float. An
    amount's text is positional (1.5e4 is '15000', never '1.5E+4', which no amount reads)."""
    if isinstance(value, dict):
        for k in value:
            if not isinstance(k, str):
                line = locator.line((*path[1:], k))
                raise ServiceProblem("invalid-request", f"{path[0]}{f':{line}' if line else ''}: a key is text, got {k!r}",
                                     [{**item(list(path), f"a key is text, got {k!r}"), **({"line": line} if line else {})}])
        return {k: _plain(v, (*path, k), locator) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, (*path, i), locator) for i, v in enumerate(value)]
    if isinstance(value, Decimal):
        if value.is_finite() and value.as_tuple().exponent >= -_DIGITS and value.adjusted() <= _DIGITS:
            return format(value, "f")
        return str(value)  # 1e999999999 is not written out in a billion digits; no amount reads it either way
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _SAFE_INT:
        return str(value)
    if isinstance(value, float):  # the reader makes none; never send one if it did
        return repr(value)
    return value


def _file(name: str) -> Response:
    # a name is looked up among the page's own files, never on the file system: no path to escape
    # through, and no name too long for the system to stat (an OSError, a 500)
    if name not in _SERVED:
        raise ServiceProblem("not-found", f"no such file of the page: {shown(name)}")
    path = STATIC / name
    return Response(path.read_bytes(), media_type=TYPES[path.suffix], headers={"Cache-Control": "no-cache"})


_SERVED = frozenset(p.name for p in STATIC.iterdir() if p.suffix in TYPES and p.is_file() and not p.name.startswith("."))
