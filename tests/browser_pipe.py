"""Chromium driven through its DevTools protocol over a pipe (`--remote-debugging-pipe`: the browser
reads commands on its fd 3 and writes answers and events on its fd 4, each a JSON message ended by
a NUL byte), so that a test can type into the settlement page and click, with no driver or
websocket library. Only what the page's tests need: open a page, evaluate JavaScript, wait.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from pathlib import Path


class BrowserError(AssertionError):
    """The browser answered a command with an error, or a wait ran out."""


class Browser:
    def __init__(self, executable: str, flags: list[str], profile: Path):
        to_browser, self._commands = os.pipe()
        self._answers, from_browser = os.pipe()

        def onto_3_and_4():  # in the child, before exec: the pipes become its fds 3 and 4
            a, b = os.dup(to_browser), os.dup(from_browser)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen([executable, *flags, "--remote-debugging-pipe", f"--user-data-dir={profile}",
                                      "about:blank"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, pass_fds=(3, 4), preexec_fn=onto_3_and_4)
        os.close(to_browser)
        os.close(from_browser)
        self._next = 0
        self._buffer = b""
        self.session = None

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next += 1
        message = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") == self._next:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer["result"]

    def _read(self, timeout: float = 60.0) -> dict:
        while b"\0" not in self._buffer:
            if not select.select([self._answers], [], [], timeout)[0]:
                raise BrowserError(f"no word from the browser in {timeout} s")
            data = os.read(self._answers, 1 << 16)
            if not data:
                raise BrowserError("the browser closed its pipe")
            self._buffer += data
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def open(self, url: str) -> None:
        """A new tab at `url`, loaded; later calls evaluate in it."""
        target = self.send("Target.createTarget", {"url": url})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.wait_for("location.href !== 'about:blank' && document.readyState === 'complete'")

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the open tab (a promise is awaited)."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True},
                           self.session)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0):
        """Evaluate until the value is truthy; that value."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.05)
        raise BrowserError(f"waited {timeout} s for {expression}")

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (BrowserError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._commands)
        os.close(self._answers)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
