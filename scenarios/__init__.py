"""Scenarios: what-if runs of the whole pipeline from one TOML file, and sweeps over many.

``load_scenario(path)`` reads a scenario file (with ``extends`` inheritance) into a typed
:class:`Scenario` (:mod:`scenarios.model`); the levers change the tables
(:mod:`scenarios.levers`); ``run_scenario(scenario, out_root)`` runs align (or evaluate) ->
quota -> stress -> checks -> report into ``out_root/<name>/`` with a manifest
(:mod:`scenarios.runner`); ``plan_sweep`` and ``run_sweep`` run many scenarios on a process pool
or a Dask cluster (:mod:`scenarios.sweep`). The example scenarios
(``base.toml`` and the files extending it) live in this folder.

The names are imported on first use (:func:`territory.lazy.lazy_exports`): ``territory value``
imports :mod:`scenarios.value_cli` without paying for the runner's pages and checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from territory.lazy import lazy_exports

if TYPE_CHECKING:
    from scenarios.levers import apply_levers
    from scenarios.model import Scenario, ScenarioSpec, load_scenario, parse_grid
    from scenarios.runner import RunResult, run_kpis, run_scenario
    from scenarios.sweep import SUMMARY_COLUMNS, SweepResult, SweepTask, plan_sweep, run_sweep

EXAMPLES = Path(__file__).resolve().parent
"""Folder of the example scenario files."""

__all__ = [
    "EXAMPLES",
    "SUMMARY_COLUMNS",
    "RunResult",
    "Scenario",
    "ScenarioSpec",
    "SweepResult",
    "SweepTask",
    "apply_levers",
    "load_scenario",
    "parse_grid",
    "plan_sweep",
    "run_kpis",
    "run_scenario",
    "run_sweep",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "apply_levers": "scenarios.levers",
        **dict.fromkeys(
            ("Scenario", "ScenarioSpec", "load_scenario", "parse_grid"), "scenarios.model"
        ),
        **dict.fromkeys(("RunResult", "run_kpis", "run_scenario"), "scenarios.runner"),
        **dict.fromkeys(
            ("SUMMARY_COLUMNS", "SweepResult", "SweepTask", "plan_sweep", "run_sweep"),
            "scenarios.sweep",
        ),
    },
)
