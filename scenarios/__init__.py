"""Scenarios: what-if runs of the whole pipeline from one TOML file, and sweeps over many.

``load_scenario(path)`` reads a scenario file (with ``extends`` inheritance) into a typed
:class:`Scenario` (:mod:`scenarios.model`); the levers change the tables
(:mod:`scenarios.levers`); ``run_scenario(scenario, out_root)`` runs align (or evaluate) ->
quota -> stress -> checks -> report into ``out_root/<name>/`` with a manifest
(:mod:`scenarios.runner`); ``plan_sweep`` and ``run_sweep`` run many scenarios on a process pool
or a Dask cluster (:mod:`scenarios.sweep`). The example scenarios
(``base.toml`` and the files extending it) live in this folder.
"""

from __future__ import annotations

from pathlib import Path

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
