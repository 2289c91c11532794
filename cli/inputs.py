"""Reading the command line's inputs: claim and accumulators files (YAML or JSON, or stdin), with
every error naming the file, the line and the field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ValidationError

from benefits import BenefitsError, yamlio
from benefits.errors import ClaimError, ClaimProblem, error_message, error_path, listed
from benefits.yamlio import Locator, YamlError, is_dir, load_file, load_text

from .streams import read_stdin

STDIN = "-"


@dataclass
class Document:
    """A file's data, its name as the user wrote it, and where each key is."""

    name: str
    data: object
    locator: Locator
    within: tuple = ()  # where this document is in its file: ("claim",) for a case file's claim

    def at(self, path: tuple) -> str:
        """`name:line` of a path inside the document (just `name` when the line is unknown)."""
        line = self.locator.line(path)
        return f"{self.name}:{line}" if line else self.name


def read(path: str) -> Document:
    """Read a YAML or JSON file (JSON is read as YAML: numbers stay exact decimals), or stdin for '-'."""
    if path == STDIN:
        name = "<stdin>"
        raw = read_stdin(yamlio.MAX_BYTES + 1)  # no more: an endless pipe is not read to its end
        if len(raw) > yamlio.MAX_BYTES:
            raise YamlError(name, None, f"too large: more than {yamlio.MAX_BYTES} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise YamlError(name, None, f"not UTF-8 text (byte {exc.start})") from None
        data, loc = load_text(text, name)
    else:
        if is_dir(Path(path)):
            raise YamlError(path, None, "is a folder; expected a YAML or JSON file")
        data, loc = load_file(Path(path))
    return Document(path if path != STDIN else "<stdin>", data, loc)


def part(doc: Document, key: str) -> Document | None:
    """The value under `key` of a mapping document, as a document of its own that keeps the file's name
    and lines (a case file's claim); None where the key is absent."""
    if not isinstance(doc.data, dict) or doc.data.get(key) is None:  # `accumulators: null` as if left out
        return None
    return Document(doc.name, doc.data[key], doc.locator.within(key), doc.within + (key,))


def validate(doc: Document, model: type[BaseModel], what: str, example: str):
    """The document as `model`; a BenefitsError with one line a problem (file:line [field]: expected ...)."""
    if not isinstance(doc.data, dict):
        found = ("nothing" if doc.within else "an empty file") if doc.data is None else f"a {type(doc.data).__name__}"
        raise BenefitsError(f"{doc.name}: expected {what} (a mapping with keys such as {example}), found {found}")
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        def line(err: dict) -> str:
            path = error_path(err)
            field = f" [{'.'.join(map(str, doc.within + path))}]" if doc.within or path else ""
            return f"{doc.at(path)}{field}: {error_message(err)}"

        raise BenefitsError("\n".join(listed(exc.errors(), line, "errors"))) from None
    except ClaimError as exc:  # a validator's own error, with paths from the root (a fee line's total)
        raise BenefitsError(locate(exc, {"claim": doc, "accumulators": doc})) from None


def locate(exc: BenefitsError, docs: dict[str, Document | None]) -> str:
    """An engine error, one line a problem, each prefixed with the file and line it is about: the
    problem's path says which input ("claim" or "accumulators") and where in it."""
    claim = docs.get("claim")
    problems = exc.problems if isinstance(exc, ClaimError) else [ClaimProblem((), str(exc))]

    def line(p: ClaimProblem) -> str:
        doc = docs.get(p.path[0]) if p.path else None
        if doc is not None:
            return f"{doc.at(p.path[1:])}: {p}"
        return f"{claim.name}: {p}" if claim is not None else str(p)

    return "\n".join(listed(problems, line, "errors"))
