"""`benefits serve`: the settlement service over HTTP (uvicorn, one or several worker processes).

The command is `serve_command`, built (and this module imported) only when `serve` is run or listed
(app.COMMANDS). The workers are started by uvicorn from an import string and a factory
(`benefits.service.app:from_environment`), so that `--workers N` starts N processes, each loading
the packs and opening its own connection to the store; the configuration reaches them through
environment variables (`BENEFITS_SERVE_*`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import stat
import tempfile
from pathlib import Path
from typing import Annotated

import typer

SERVE_EPILOG = (
    "Examples:\n\n"
    "benefits serve --rules rules/jiangmen --rules rules/anyang\n\n"
    "benefits serve --rules jm=rules/jiangmen --database postgresql://user@db/benefits --workers 4 --port 8080"
)
DEFAULT_DATABASE = "benefits-ledger.db"


def _pack_folders(rules: list[str]) -> list[tuple[str | None, str]]:
    """(name, folder) for each --rules: NAME=DIR or DIR (named by its pack.yaml); none given: every
    pack folder in ./rules."""
    from benefits import BenefitsError

    if not rules:
        root = Path("rules")
        found = sorted(p for p in root.iterdir() if (p / "pack.yaml").is_file()) if root.is_dir() else []
        if not found:
            raise BenefitsError("no rule pack: give --rules DIR (once per pack), or run where ./rules holds pack folders")
        return [(None, str(p.resolve())) for p in found]
    out = []
    for raw in rules:
        name, sep, folder = raw.partition("=")
        if not sep:
            name, folder = None, raw
        elif not name:
            raise BenefitsError(f"--rules {raw}: expected NAME=DIR or DIR")
        if not Path(folder).is_dir():
            raise BenefitsError(f"--rules {raw}: {folder} is not a folder; expected a rule pack folder (with pack.yaml)")
        out.append((name, str(Path(folder).resolve())))
    return out


def _load_packs(pairs: list[tuple[str | None, str]]):
    """Load every pack once here, so that a broken one stops the server before it starts (packs.Found):
    these are the packs the workers will settle with."""
    from benefits import BenefitsError
    from benefits.service.packs import load_all
    from benefits.service.problems import ServiceProblem

    try:
        return load_all(pairs)
    except ServiceProblem as exc:
        lines = [exc.detail]
        for p in exc.problems:
            at = f"{p['file']}:{p['line']}" if p.get("line") else (p.get("file") or "")
            where = ".".join(map(str, p["path"]))
            lines.append(f"  {at + ' ' if at else ''}[{where}]: {p['message']}")
        raise BenefitsError("\n".join(lines)) from None


def _check_store(database: str) -> None:
    """Open the store once before the workers start: a wrong URL or an unreachable server is said now,
    and the ledger's tables are created by one process, not raced for by several."""
    from benefits.ledger import open_ledger

    ledger = open_ledger(database)
    ledger.close()


_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=")
MAX_TOKEN = 4096


def _admin_token(path: str | None) -> str | None:
    """The admin token in the file `path` (one line; a line break after it is not part of it): what POST
    /admin/reload must carry. From a file, not the command line, which other users of the machine see."""
    from benefits import BenefitsError

    if path is None:
        if os.environ.get("BENEFITS_ADMIN_TOKEN_FILE") == "":  # typer reads an empty variable as none given
            raise BenefitsError("BENEFITS_ADMIN_TOKEN_FILE is set but empty: name the token's file, or unset it")
        return None
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would hold the start until someone writes to it
            raise BenefitsError(f"--admin-token-file {path}: expected a file, not a device, pipe or folder")
        with open(path, "rb") as f:
            raw = f.read(MAX_TOKEN + 3)
    except OSError as exc:
        raise BenefitsError(f"--admin-token-file {path}: cannot be read: {exc.strerror or exc}") from None
    text = raw.decode("ascii", "replace")
    token = text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text
    if not 16 <= len(token) <= MAX_TOKEN or not set(token) <= _TOKEN_CHARS:
        raise BenefitsError(f"--admin-token-file {path}: expected one line of 16 to {MAX_TOKEN} characters: letters, "
                            "digits and - . _ ~ + / = (a bearer token, such as `openssl rand -hex 32` writes)")
    return token


def _database(database: str) -> str:
    """A plain path made absolute (the workers may start elsewhere); URLs as given."""
    if "://" in database or database.startswith(("sqlite:", "postgresql:", "postgres:")):
        return database
    return str(Path(database).resolve())


serve_command = typer.Typer(add_completion=False)


@serve_command.command(epilog=SERVE_EPILOG, help=(
    "Serve the settlement API over HTTP: stateless /calculate and /trace, and the ledger: pre-settle, "
    "settle (idempotent on the request's key), reverse, look up settlements and a member's accumulators.\n\n"
    "The rule packs are loaded at start; POST /admin/reload (or SIGHUP) loads them again without a restart, "
    "keeping the old ones when one fails. Every worker settles with the files last loaded, not with later "
    "edits to the folders. The OpenAPI document is at /openapi.json, its pages at /docs."
))
def serve(
    rules: Annotated[list[str] | None, typer.Option(
        "--rules", "-r", metavar="[NAME=]DIR", envvar="BENEFITS_RULES", show_default=False, show_envvar=True,
        help="A rule pack folder, as NAME=DIR or DIR (named by its pack.yaml); repeat for each pack. "
             "Default: every pack folder in ./rules.")] = None,
    database: Annotated[str, typer.Option(
        "--database", "-d", metavar="URL", envvar="BENEFITS_DATABASE", show_envvar=True,
        help="The ledger's store: a SQLite file (a path or sqlite:///path) or postgresql://user@host/db.")]
    = DEFAULT_DATABASE,
    host: Annotated[str, typer.Option("--host", help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="The port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(
        "--workers", "-w", min=1, max=256,
        help="Worker processes, each with its own connection to the store.")] = 1,
    log_level: Annotated[str, typer.Option(
        "--log-level", help="uvicorn's log level: critical, error, warning, info, debug.")] = "info",
    access_log: Annotated[bool, typer.Option(
        "--access-log/--no-access-log", help="Log every request.")] = True,
    admin_token_file: Annotated[str | None, typer.Option(
        "--admin-token-file", metavar="FILE", envvar="BENEFITS_ADMIN_TOKEN_FILE", show_envvar=True,
        help="A file holding the admin token that POST /admin/reload must carry (Authorization: Bearer TOKEN). "
             "Without one, anyone who can reach the service may reload its packs; SIGHUP works either way.")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show the Python traceback of an error.")] = False,
) -> None:
    from .app import guard

    with guard(debug):
        token = _admin_token(admin_token_file)
        pairs = _pack_folders(list(rules or []))
        found = _load_packs(pairs)
        database = _database(database)
        _check_store(database)
        _run(found, database, host, port, workers, log_level, access_log, token)


def _run(found, database: str, host: str, port: int, workers: int, log_level: str, access_log: bool,
         token: str | None = None) -> None:
    import uvicorn

    from benefits import BenefitsError
    from benefits.service.app import ENV_ADMIN_TOKEN, ENV_DATABASE, ENV_RULES, ENV_STAMP
    from benefits.service.snapshots import InUse, Snapshots

    stamp, made = _stamp_path(host, port)
    snapshots = Snapshots(stamp)
    try:
        with snapshots.serving():
            # The workers are given the packs by name, and settle with the files loaded above (a
            # snapshot of them), not with whatever the folders hold when each worker starts.
            named = [(name, folder) for name, folder in found.folders.items()]
            _publish(found, named, snapshots)
            os.environ[ENV_RULES] = json.dumps(found.folders)
            os.environ[ENV_DATABASE] = database
            os.environ[ENV_STAMP] = stamp
            if token is None:  # the workers' token is this command's, never one left in the environment
                os.environ.pop(ENV_ADMIN_TOKEN, None)
            else:
                os.environ[ENV_ADMIN_TOKEN] = token
            options = dict(factory=True, host=host, port=port, workers=workers, log_level=log_level,
                           access_log=access_log, timeout_graceful_shutdown=30)
            # uvicorn ends a server stopped by SIGTERM by raising the signal again to the handler it
            # found: this one, so that the clean-up runs (the default handler would end the process at once).
            from .signals import cleaned_up_on_sigterm

            with cleaned_up_on_sigterm():
                if workers == 1:
                    uvicorn.run(APP, **options)
                else:
                    _run_workers(uvicorn.Config(APP, **options), lambda: _reload(named, snapshots))
    except InUse:
        raise BenefitsError(f"another benefits serve is running on {host}:{port}") from None
    finally:
        if made:
            shutil.rmtree(made, ignore_errors=True)


def _publish(found, pairs: list[tuple[str, str]], snapshots) -> None:
    from benefits import BenefitsError
    from benefits.service.packs import publish
    from benefits.service.problems import ServiceProblem

    try:
        publish(found, pairs, snapshots)
    except ServiceProblem as exc:
        raise BenefitsError(exc.detail) from None


def _reload(pairs: list[tuple[str, str]], snapshots) -> bool:
    """SIGHUP to the supervisor: load the pack folders and publish them to the workers; whether it did.
    When one fails to load or cannot be published, the workers keep the packs they have (and are not
    replaced: new ones would join a set that may be gone)."""
    import logging

    from benefits.service.packs import load_all, publish
    from benefits.service.problems import ServiceProblem

    try:
        publish(load_all(pairs), pairs, snapshots)
    except ServiceProblem as exc:
        logging.getLogger("benefits.service").error("SIGHUP: the rule packs fail to load; the old ones stay in "
                                                    "use: %s", exc.detail)
        return False
    return True


def _stamp_path(host: str, port: int) -> tuple[str, str | None]:
    """The file through which a reload in one worker reaches the others, with the snapshots of the
    packs beside it (service/snapshots.py): one per address, in a folder of this user's (a server
    killed without its clean-up leaves them, and the next server on that address replaces them).
    Port 0 (any free port) gets a folder of its own, removed on exit."""
    if port:
        folder = os.path.join(tempfile.gettempdir(), f"benefits-serve-{os.getuid() if hasattr(os, 'getuid') else 0}")
        with contextlib.suppress(OSError):
            os.makedirs(folder, mode=0o700, exist_ok=True)
            st = os.lstat(folder)
            if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077:
                name = "".join(c if c.isalnum() or c in ".-" else "_" for c in host)
                return os.path.join(folder, f"{name}-{port}.stamp"), None
    made = tempfile.mkdtemp(prefix="benefits-serve-")
    return os.path.join(made, "packs.stamp"), made


APP = "benefits.service.app:from_environment"


def _run_workers(config, reload) -> None:
    """uvicorn's supervisor of several workers (as `uvicorn.run` starts it), with a listening socket
    that says it is TCP. uvicorn's own is opened without naming its protocol, so asyncio does not set
    TCP_NODELAY on the connections the workers accept, and every answer written in two parts (head,
    then body) waits out the client's delayed acknowledgement: 40 ms a request instead of one.
    `reload` is called on SIGHUP, before the workers are replaced."""
    from uvicorn.supervisors import Multiprocess

    class Supervisor(Multiprocess):
        def handle_hup(self) -> None:
            # The new workers join the published packs: publish the folders' packs first, and replace
            # the workers only when that worked (the ones running keep settling with theirs).
            if reload():
                super().handle_hup()

    bound = config.bind_socket()
    sock = socket.socket(bound.family, bound.type, socket.IPPROTO_TCP, fileno=bound.detach())
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited by accepted sockets on Linux
    sock.set_inheritable(True)
    try:
        Supervisor(config, sockets=[sock]).run()
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
