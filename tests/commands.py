"""Running the ``territory`` command as users do: a separate process, not the test's own.

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

ROOT = Path(__file__).resolve().parents[1]


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
