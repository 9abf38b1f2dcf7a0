"""Progress of long runs: stage, elapsed seconds, share of the time limit and the current gap."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from cli import app
from territory.pipeline.console import RunStatus
from tests.commands import write_instance

runner = CliRunner()


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_instance(tmp_path_factory.mktemp("progress"), 60, 4, seed=1)


def _align(tables: tuple[Path, Path], out: Path, *extra: str) -> str:
    accounts, reps = tables
    done = runner.invoke(app, ["align", "--accounts", str(accounts), "--reps", str(reps),
                               "--out", str(out), "--solver", "mip", "--time-limit", "30",
                               *extra])  # fmt: skip
    assert done.exit_code == 0, done.output
    return done.output


def test_a_log_gets_one_line_per_stage_with_time_share_and_gap(
    tables: tuple[Path, Path], tmp_path: Path
) -> None:
    lines = [
        line for line in _align(tables, tmp_path / "out").splitlines() if line.startswith("...")
    ]
    clock = re.compile(r"\| \d+ s elapsed, \d+% of the 30 s limit")
    assert lines and all(clock.search(line) for line in lines), lines
    stages = [line.split(" | ")[0] for line in lines]
    assert "... checking feasibility" in stages
    heuristic = next(line for line in lines if line.startswith("... heuristic plan: gap "))
    gap = re.search(r"gap (\d+\.\d+%)", heuristic)
    assert gap is not None
    # Later stages carry the last gap reported until a stage reports a new one.
    after = lines[lines.index(heuristic) + 1]
    assert after.startswith("... mip: improving") and f"current gap {gap.group(1)}" in after
    assert re.search(r"\.\.\. mip: OPTIMAL, gap \d+\.\d+%", "\n".join(lines))


def test_quiet_shows_no_progress(tables: tuple[Path, Path], tmp_path: Path) -> None:
    assert "elapsed" not in _align(tables, tmp_path / "out", "--quiet")


def test_the_live_line_counts_on_each_redraw() -> None:
    status = RunStatus(time_limit_s=60)
    status.started -= 12.4  # as if the run had started 12 s ago
    status.update("heuristic plan: gap 0.84%")
    status.update("mip: improving from the heuristic plan")
    screen = io.StringIO()
    Console(file=screen, force_terminal=True, width=200, color_system=None).print(status)
    assert screen.getvalue().strip() == (
        "mip: improving from the heuristic plan | 12 s elapsed, 21% of the 60 s limit | "
        "current gap 0.84%"
    )
    status.started -= 60  # past the limit: the share stops at 100%
    assert "100% of the 60 s limit" in status.line()


def test_no_limit_shows_elapsed_only() -> None:
    status = RunStatus()
    status.update("[2/5] coarse solve (3 s elapsed, 5% of the time limit)")
    assert status.line() == "[2/5] coarse solve (3 s elapsed, 5% of the time limit)"
