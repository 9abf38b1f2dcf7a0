"""The command line imports what a command runs, not the whole engine (issue 13's start-up).

``territory --version`` once imported scipy.stats, matplotlib, jinja2 and every solver library
(3.8 s); an alignment paid the quota, stress and report modules before reading a row. Each
check runs in a fresh interpreter, since this test process has long since imported everything;
they assert which modules are loaded, not how long it takes.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

HEAVY = (
    "scipy.stats", "statsmodels", "matplotlib", "jinja2", "openpyxl", "ortools", "pulp",
    "highspy", "geopandas", "shapely", "dask", "plotly",
)  # fmt: skip
"""Libraries no command needs before its own work starts (pages, charts, solvers, maps)."""

ENGINE = ("territory.workflow", "territory.rendering", "territory.domain.checks", "solvers.base")
"""The solve, the pages and the checks: an alignment loads them only once its inputs are good."""


def _loaded_after(code: str, prefixes: tuple[str, ...]) -> list[str]:
    """Run ``code`` in a fresh interpreter; return the loaded modules under ``prefixes``."""
    probe = (
        f"{code}\nimport json, sys\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({prefixes!r}))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return [m for m in loaded if any(m == p or m.startswith(p + ".") for p in prefixes)]


def test_importing_the_command_line_loads_no_heavy_library() -> None:
    assert _loaded_after("import cli", (*HEAVY, "scipy", "pandas", "numpy", "pyarrow")) == []


def test_importing_the_command_line_loads_no_engine_module() -> None:
    assert _loaded_after("import cli", ENGINE) == []


def test_the_command_line_still_sees_every_command() -> None:
    """The lazy imports lose no command: ``value`` and ``size`` are registered too."""
    import cli

    names = {c.name or c.callback.__name__ for c in cli.app.registered_commands if c.callback}
    assert names == {
        "align", "design", "quota", "stress", "check", "report", "compare", "run", "sweep",
        "payout", "value", "size",
    }  # fmt: skip


def test_an_alignment_with_bad_inputs_stops_before_loading_the_engine(tmp_path: Path) -> None:
    """A run that fails on its inputs has read them with the I/O layer alone (exit 2)."""
    accounts, reps = tmp_path / "accounts.csv", tmp_path / "reps.csv"
    accounts.write_text("account_id,lat,lon,potential,workload\na1,45.0,7.0,-5,10\n")
    reps.write_text("rep_id,lat,lon,capacity\nr1,45.0,7.0,100\n")
    code = (
        "import cli\n"
        f"code = cli.run_command(['align', '--accounts', {str(accounts)!r}, '--reps', "
        f"{str(reps)!r}, '--out', {str(tmp_path / 'out')!r}, '--quiet'])\n"
        "assert code == 2, code"
    )
    # pandera, which validates the tables, registers its geopandas checks itself.
    beyond_validation = tuple(m for m in HEAVY if m not in ("geopandas", "shapely"))
    assert _loaded_after(code, (*beyond_validation, *ENGINE)) == []
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("package", ["scenarios", "solvers", "territory.io", "territory.pipeline"])
def test_every_lazily_exported_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    missing = [name for name in module.__all__ if getattr(module, name, None) is None]
    assert missing == []
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        _ = module.not_a_name
