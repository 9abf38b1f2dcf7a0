"""``territory sweep --scheduler``: a malformed address is exit 2 at once; a port that is not a
Dask scheduler fails within the connect timeout (exit 2, like an unreachable scheduler: the
address the user gave leads nowhere usable), never a hang or a traceback.

``distributed.Client`` alone waits forever for the handshake of a server that accepts the
connection and stays silent. Servers here listen on 127.0.0.1 only and close at teardown.
"""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import EXIT_BAD_INPUT, app
from scenarios import sweep as sweep_runner
from scenarios.sweep import SweepTask, run_sweep
from territory.domain.arguments import check_scheduler_address
from territory.errors import ScenarioError, UsageError

runner = CliRunner()
BOUND_S = 30.0
"""The issue's limit for giving up on a port that is not a scheduler."""


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("tcp://127.0.0.1", "has no port"),
        ("tcp://127.0.0.1:", "port '' is not a number"),
        ("tcp://127.0.0.1:99999", "port '99999' is not a number from 1 to 65535"),
        ("tcp://127.0.0.1:0", "port '0'"),
        ("tcp://127.0.0.1:http", "port 'http'"),
        ("tcp://:8786", "has no host"),
        ("tcp://bad host:8786", "not a host name"),
        ("tcp://127.0.0.1:8786/path", "port '8786/path'"),
        ("http://127.0.0.1:8787", "web address (the dashboard"),
        ("gopher://127.0.0.1:8786", "protocol 'gopher'"),
        ("inproc://", "names no address"),
        ("", "has no port"),
    ],
)
def test_malformed_addresses_name_the_expected_form(address: str, says: str) -> None:
    with pytest.raises(UsageError) as caught:
        check_scheduler_address(address)
    message = str(caught.value)
    assert says in message and repr(address) in message
    assert "expected tcp://HOST:PORT" in message


@pytest.mark.parametrize(
    ("address", "normal"),
    [
        ("tcp://127.0.0.1:8786", "tcp://127.0.0.1:8786"),
        ("127.0.0.1:8786", "tcp://127.0.0.1:8786"),
        ("TLS://scheduler.example.com:8786", "tls://scheduler.example.com:8786"),
        ("tcp://[::1]:8786", "tcp://[::1]:8786"),
        ("ucx://10.0.0.5:13337", "ucx://10.0.0.5:13337"),
        ("inproc://10.0.0.5/1234/1", "inproc://10.0.0.5/1234/1"),
    ],
)
def test_well_formed_addresses_pass(address: str, normal: str) -> None:
    assert check_scheduler_address(address) == normal


def test_cli_malformed_address_is_exit_2_before_anything_is_written(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    started = time.monotonic()
    done = runner.invoke(
        app, ["sweep", "a.toml", "--scheduler", "tcp://127.0.0.1", "--out", str(out)]
    )
    assert done.exit_code == EXIT_BAD_INPUT, done.output
    text = " ".join(done.output.replace("│", " ").split())
    assert "Invalid value for '--scheduler'" in text and "expected tcp://HOST:PORT" in text
    assert time.monotonic() - started < 5.0  # at once: no connection was tried
    assert not out.exists()


def test_run_sweep_checks_the_address_too(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    with pytest.raises(UsageError, match="has no port"):
        run_sweep([SweepTask("a.toml", "a", str(out))], out, scheduler="tcp://somewhere")
    assert not out.exists()


@pytest.fixture()
def silent_port() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that accepts connections and never says a word."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.1)  # so that the thread notices the end of the test
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join(timeout=5)
    server.close()
    for connection in held:
        connection.close()


@pytest.fixture()
def http_port() -> Iterator[int]:
    """A web server on 127.0.0.1 (answers HTTP, not Dask's protocol)."""

    class Quiet(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _sweep_against(port: int, tmp_path: Path) -> tuple[ScenarioError, float]:
    out = tmp_path / "sweep"
    started = time.monotonic()
    with pytest.raises(ScenarioError) as caught:
        run_sweep(
            [SweepTask("a.toml", "a", str(out))],
            out,
            scheduler=f"tcp://127.0.0.1:{port}",
            connect_timeout_s=1.0,
        )
    assert not out.exists()  # refused before the sweep folder was made
    return caught.value, time.monotonic() - started


def test_a_silent_server_fails_in_bounded_time(silent_port: int, tmp_path: Path) -> None:
    error, seconds = _sweep_against(silent_port, tmp_path)
    assert f"tcp://127.0.0.1:{silent_port}" in str(error)
    assert "did not answer as a Dask scheduler" in str(error)
    assert "dask scheduler" in str(error)  # how to start one
    assert seconds < BOUND_S


def test_a_web_server_fails_in_bounded_time(http_port: int, tmp_path: Path) -> None:
    error, seconds = _sweep_against(http_port, tmp_path)
    assert f"tcp://127.0.0.1:{http_port}" in str(error)
    assert "Dask scheduler" in str(error)
    assert seconds < BOUND_S


def test_cli_silent_server_is_exit_2_without_traceback(
    silent_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sweep_runner, "SCHEDULER_TIMEOUT_S", 1.0)
    out = tmp_path / "sweep"
    started = time.monotonic()
    done = runner.invoke(
        app,
        ["sweep", "a.toml", "--scheduler", f"tcp://127.0.0.1:{silent_port}", "--out", str(out)],
    )
    assert done.exit_code == EXIT_BAD_INPUT, done.output
    assert time.monotonic() - started < BOUND_S
    text = " ".join(done.output.split())
    assert "ScenarioError" in text and "did not answer as a Dask scheduler" in text
    assert "Traceback" not in done.output
    assert not out.exists()


def test_the_default_deadline_is_within_the_bound() -> None:
    assert sweep_runner.SCHEDULER_TIMEOUT_S + sweep_runner.PROBE_MARGIN_S < BOUND_S
