"""Running the ``territory`` command in tests: as users do (a separate process) or in-process.

Determinism is only shown by two processes: one process can reuse caches, module state and a
hash seed that a second one does not share. :func:`run_territory` starts the installed console
script (or ``cli.py`` when it is not installed) with the project on ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner, Result

from cli import app
from territory.domain.synthetic import make_instance

ROOT = Path(__file__).resolve().parents[1]
DEMO_COMP = ROOT / "data" / "demo" / "comp.toml"
"""The demo comp plan (``data/demo/comp.toml``), as ``make demo`` stress-tests it."""
_RUNNER = CliRunner()


def territory_command() -> list[str]:
    """The argv prefix that runs the ``territory`` command of this checkout."""
    exe = shutil.which("territory", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, str(ROOT / "cli.py")]


def territory_env(**extra: str) -> dict[str, str]:
    """The environment of a child ``territory`` process: ours, the project on ``PYTHONPATH``."""
    return {**os.environ, "PYTHONPATH": str(ROOT), **extra}


def run_territory(*args: str | Path, timeout: float = 600.0) -> subprocess.CompletedProcess[str]:
    """Run ``territory ARGS`` in a new process and return what it did (never raises on exit)."""
    return subprocess.run(
        [*territory_command(), *(str(a) for a in args)],
        capture_output=True,
        text=True,
        env=territory_env(),
        timeout=timeout,
        check=False,
    )


def write_tables(folder: Path, accounts: pd.DataFrame, reps: pd.DataFrame) -> tuple[Path, Path]:
    """Write ``accounts.csv`` and ``reps.csv`` into ``folder`` as an analyst exports them."""
    folder.mkdir(parents=True, exist_ok=True)
    accounts.to_csv(folder / "accounts.csv", index=False)
    reps.to_csv(folder / "reps.csv", index=False)
    return folder / "accounts.csv", folder / "reps.csv"


def write_instance(folder: Path, n_accounts: int, n_reps: int, seed: int) -> tuple[Path, Path]:
    """Write a synthetic instance (``make_instance``) as CSV files into ``folder``."""
    return write_tables(folder, *make_instance(n_accounts, n_reps, seed=seed))


def align_args(folder: Path, out: Path | str, *extra: str) -> list[str]:
    """``territory align`` on the ``accounts.csv`` and ``reps.csv`` in ``folder``, quietly."""
    return [
        "align", "--accounts", str(folder / "accounts.csv"), "--reps", str(folder / "reps.csv"),
        "--out", str(out), "--quiet", *extra,
    ]  # fmt: skip


def invoke(args: list[str]) -> Result:
    """Run the command line in this process (typer's runner), for the cases a test patches."""
    return _RUNNER.invoke(app, args)


def small_plan(folder: Path) -> Path:
    """A 300-account, 6-rep instance aligned by the CLI (heuristic), as the finance steps need."""
    write_instance(folder, 300, 6, seed=5)
    out = folder / "plan"
    done = invoke(align_args(folder, out, "--solver", "heuristic"))
    assert done.exit_code == 0, done.output
    return out
