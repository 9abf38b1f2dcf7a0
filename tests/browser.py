"""Find and drive a headless Chromium for page tests: console errors, DOM and a screenshot.

The browser is driven through the DevTools protocol over ``--remote-debugging-pipe`` (file
descriptors 3 and 4, NUL-terminated JSON messages), so the standard library is enough: no
websocket client, no Selenium or Playwright. POSIX only (Linux CI, macOS).

One call, :func:`inspect_page`, opens a local HTML file and returns what a test needs:

* console errors (``console.error``), uncaught exceptions and browser log errors (a failed
  image, a blocked request, a Content-Security-Policy violation);
* every network request that was not ``file:``, ``data:`` or ``about:`` (a self-contained
  page makes none; all host names resolve to nothing, so no request leaves the machine);
* the DOM after load (``document.documentElement.outerHTML``) and the values of JavaScript
  expressions evaluated in the page;
* a full-page PNG screenshot.

Chromium always runs in its own process group with a throw-away profile, every wait has a
deadline (at most :data:`MAX_TIMEOUT_S`), and the group is killed on the way out.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_TIMEOUT_S = 60.0
"""Upper bound on any one browser session, launch to exit."""

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
FALLBACK_PATHS = ("/usr/bin/chromium", "/usr/lib/chromium/chromium", "/snap/bin/chromium")

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-dev-shm-usage",
    "--mute-audio",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    # No name resolves: a page that tries the network fails fast and offline.
    "--host-resolver-rules=MAP * ~NOTFOUND",
)
"""Command-line flags for every launch (the profile folder is added per launch)."""

_LOCAL_SCHEMES = ("file:", "data:", "about:", "chrome:", "devtools:")


def find_chromium() -> str | None:
    """Path of a Chromium or Chrome executable, or None when none is installed.

    ``$CHROMIUM`` wins when it names an executable; then the usual names on ``PATH``
    (Debian's package installs ``chromium``), then a few fixed paths.
    """
    override = os.environ.get("CHROMIUM")
    if override and shutil.which(override):
        return shutil.which(override)
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    for path in FALLBACK_PATHS:
        if os.access(path, os.X_OK):
            return path
    return None


class BrowserError(RuntimeError):
    """Chromium could not be started, answered with an error or ran out of time."""


@dataclass
class PageReport:
    """What :func:`inspect_page` saw while loading one page."""

    url: str
    console_errors: list[str] = field(default_factory=list)
    """``console.error``/``console.assert`` messages, uncaught exceptions, log errors."""
    console_messages: list[str] = field(default_factory=list)
    """Every console message, ``level: text``."""
    external_requests: list[str] = field(default_factory=list)
    """URLs requested that are not ``file:``, ``data:`` or ``about:``."""
    dom: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    screenshot: bytes = b""
    seconds: float = 0.0


def inspect_page(
    path: str | Path,
    *,
    expressions: Mapping[str, str] | None = None,
    screenshot: str | Path | None = None,
    width: int = 1400,
    max_height: int = 16_000,
    timeout_s: float = 45.0,
    settle_s: float = 0.3,
    chromium: str | None = None,
) -> PageReport:
    """Load a local HTML file in headless Chromium and report what happened.

    Parameters
    ----------
    path
        The HTML file.
    expressions
        ``name -> JavaScript expression``, evaluated after load; JSON-able results land in
        :attr:`PageReport.values` (for example ``{"imgs": "document.images.length"}``).
    screenshot
        Where to write a full-page PNG (``width`` wide, as tall as the page up to
        ``max_height``); the bytes are also kept in :attr:`PageReport.screenshot`.
    timeout_s
        Deadline for the whole session, capped at :data:`MAX_TIMEOUT_S`.
    settle_s
        Quiet time after the load event, to catch late console errors.
    chromium
        Executable to run; :func:`find_chromium` by default.

    Raises
    ------
    BrowserError
        If no browser is found, it exits early, reports a protocol error or the deadline
        passes. Chromium is killed in every case.
    """
    exe = chromium or find_chromium()
    if exe is None:
        raise BrowserError("no Chromium found: install it (Debian: apt-get install chromium)")
    url = Path(path).resolve().as_uri()
    deadline = time.monotonic() + min(timeout_s, MAX_TIMEOUT_S)
    report = PageReport(url=url)
    started = time.monotonic()
    with _launch(exe, deadline) as cdp:
        target = cdp.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            cdp.call(f"{domain}.enable", session=session)
        cdp.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        mark = cdp.mark()  # only a load event after this navigation counts
        navigated = cdp.call("Page.navigate", {"url": url}, session=session)
        if navigated.get("errorText"):
            raise BrowserError(f"could not open {url}: {navigated['errorText']}")
        cdp.wait_for("Page.loadEventFired", session, since=mark)
        cdp.drain(settle_s)
        for name, expression in (expressions or {}).items():
            report.values[name] = cdp.evaluate(expression, session)
        report.dom = str(cdp.evaluate("document.documentElement.outerHTML", session))
        if screenshot is not None:
            height = int(cdp.evaluate("document.documentElement.scrollHeight", session) or 900)
            height = max(1, min(height, max_height))
            cdp.call(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                session=session,
            )
            shot = cdp.call(
                "Page.captureScreenshot",
                {"format": "png", "captureBeyondViewport": True, "fromSurface": True},
                session=session,
            )
            report.screenshot = base64.b64decode(shot["data"])
            Path(screenshot).write_bytes(report.screenshot)
        cdp.drain(0.0)
        report.console_errors = list(cdp.errors)
        report.console_messages = list(cdp.messages)
        report.external_requests = list(cdp.external)
    report.seconds = time.monotonic() - started
    return report


def screenshot(path: str | Path, png: str | Path, *, width: int = 1400) -> bytes:
    """Full-page PNG of a local HTML file (a shortcut for :func:`inspect_page`)."""
    return inspect_page(path, screenshot=png, width=width).screenshot


class _Cdp:
    """Minimal DevTools client over the two pipes; collects console and network events."""

    def __init__(
        self, write_fd: int, read_fd: int, process: subprocess.Popen[bytes], deadline: float
    ):
        self._write = write_fd
        self._read = read_fd
        self._process = process
        self._deadline = deadline
        self._buffer = b""
        self._next_id = 0
        self.errors: list[str] = []
        self.messages: list[str] = []
        self.external: list[str] = []
        self._seen: list[dict[str, Any]] = []

    # -- protocol

    def call(
        self, method: str, params: Mapping[str, Any] | None = None, *, session: str | None = None
    ) -> dict[str, Any]:
        self._next_id += 1
        ident = self._next_id
        message: dict[str, Any] = {"id": ident, "method": method, "params": dict(params or {})}
        if session is not None:
            message["sessionId"] = session
        data = json.dumps(message).encode("utf-8") + b"\0"
        while data:
            written = os.write(self._write, data)
            data = data[written:]
        while True:
            reply = self._receive(self._deadline)
            if reply.get("id") == ident:
                if "error" in reply:
                    raise BrowserError(f"{method} failed: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self._event(reply)

    def evaluate(self, expression: str, session: str) -> Any:
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session=session,
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"evaluating {expression!r} threw: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def mark(self) -> int:
        """Position in the event history, for :meth:`wait_for`'s ``since``."""
        return len(self._seen)

    def wait_for(self, event: str, session: str, *, since: int = 0) -> None:
        for seen in self._seen[since:]:
            if seen.get("method") == event and seen.get("sessionId") == session:
                return
        while True:
            message = self._receive(self._deadline)
            self._event(message)
            if message.get("method") == event and message.get("sessionId") == session:
                return

    def drain(self, seconds: float) -> None:
        """Handle the events that arrive within ``seconds`` (0: those already sent)."""
        until = min(time.monotonic() + seconds, self._deadline)
        while True:
            try:
                message = self._receive(until, quiet=True)
            except TimeoutError:
                return
            self._event(message)

    def _receive(self, until: float, *, quiet: bool = False) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = until - time.monotonic()
            if left <= 0:
                if quiet:
                    raise TimeoutError
                raise BrowserError(
                    f"Chromium did not answer within {MAX_TIMEOUT_S:.0f} s (or the test's limit)"
                )
            ready, _, _ = select.select([self._read], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise BrowserError(f"Chromium exited early (code {self._process.poll()})")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        message: dict[str, Any] = json.loads(raw)
        return message

    # -- events

    def _event(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        params = message.get("params") or {}
        if method is None:
            return
        self._seen.append({"method": method, "sessionId": message.get("sessionId")})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(_remote_text(a) for a in params.get("args", []))
            level = params.get("type", "log")
            self.messages.append(f"{level}: {text}")
            if level in ("error", "assert"):
                self.errors.append(f"console.{level}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            description = details.get("exception", {}).get("description") or details.get("text")
            self.errors.append(f"uncaught: {description} at {details.get('url', '?')}")
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            self.messages.append(f"{entry.get('level')}: {entry.get('text')}")
            if entry.get("level") == "error":
                where = entry.get("url") or ""
                self.errors.append(
                    f"log ({entry.get('source')}): {entry.get('text')} {where}".strip()
                )
        elif method == "Network.requestWillBeSent":
            request_url = str(params.get("request", {}).get("url", ""))
            if not request_url.startswith(_LOCAL_SCHEMES):
                self.external.append(request_url)


def _remote_text(arg: Mapping[str, Any]) -> str:
    if "value" in arg:
        return str(arg["value"])
    return str(arg.get("description") or arg.get("type", ""))


@contextlib.contextmanager
def _launch(exe: str, deadline: float) -> Iterator[_Cdp]:
    """Start Chromium with the DevTools pipe on fds 3/4; kill its process group afterwards."""
    to_browser_r, to_browser_w = os.pipe()
    from_browser_r, from_browser_w = os.pipe()

    def child_fds() -> None:
        # Move the pipe ends to 3 and 4 without clobbering one with the other.
        a, b = os.dup(to_browser_r), os.dup(from_browser_w)
        os.dup2(a, 3)
        os.dup2(b, 4)
        for fd in {a, b, to_browser_r, from_browser_w} - {3, 4}:
            os.close(fd)

    with (
        tempfile.TemporaryDirectory(
            prefix="report-chromium-", ignore_cleanup_errors=True
        ) as profile,
        tempfile.TemporaryFile() as log,
    ):
        command = [exe, *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={profile}"]
        process: subprocess.Popen[bytes] | None = None
        try:
            process = subprocess.Popen(
                [*command, "about:blank"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                pass_fds=(3, 4),
                preexec_fn=child_fds,  # only dup2/close between fork and exec
                start_new_session=True,  # its own process group, killed as a whole below
                close_fds=True,
            )
            os.close(to_browser_r)
            os.close(from_browser_w)
            to_browser_r = from_browser_w = -1
            cdp = _Cdp(to_browser_w, from_browser_r, process, deadline)
            try:
                yield cdp
            except BrowserError as exc:
                log.seek(0)
                tail = log.read()[-2000:].decode("utf-8", "replace")
                raise BrowserError(f"{exc}\nChromium stderr (last lines):\n{tail}") from exc
            with contextlib.suppress(BrowserError, OSError):
                cdp.call("Browser.close")
        finally:
            for fd in (to_browser_r, from_browser_w, to_browser_w, from_browser_r):
                if fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            if process is not None:
                _stop(process)


def _stop(process: subprocess.Popen[bytes], grace_s: float = 3.0) -> None:
    """Let Chromium exit after Browser.close, else kill its whole process group."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # renderer and zygote children too
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)


def chromium_version(chromium: str | None = None) -> str | None:
    """``Chromium 1xx...`` as the executable reports it, or None."""
    exe = chromium or find_chromium()
    if exe is None:
        return None
    try:
        done = subprocess.run(
            [exe, "--version"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


__all__: Sequence[str] = (
    "BrowserError",
    "PageReport",
    "chromium_version",
    "find_chromium",
    "inspect_page",
    "screenshot",
)
