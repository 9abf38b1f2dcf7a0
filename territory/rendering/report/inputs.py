"""Reading a run folder into the arguments of :func:`territory.rendering.report.render_report`.

The only part of the report that reads files (besides the territory outlines the map reads
through :func:`read_json`), so rendering stays a pure function of its arguments.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from territory.errors import DataValidationError, InputProblem
from territory.io.runs import QUOTAS, load_plan

REPORT_FILE = "report.html"
"""Default name of the page inside a run folder."""

CHECKS_FILE = "checks.json"

CHART_NAMES = ("attainment_distribution", "cost_vs_attainment", "payout_curve", "sensitivity")
"""PNG charts of a run folder (``<name>.png``) that the stress section embeds, in page order."""

CSV_TABLES = ("stress_scenarios", "sensitivity", "rep_impact")
"""CSV tables of a run folder that :func:`render_report` reads from ``tables``."""

_ID_COLUMNS = {"rep_id": str, "territory_id": str, "scenario_id": str, "lever": str}


def collect_report_inputs(folder: str | Path) -> dict[str, Any]:
    """Read a run folder into the keyword arguments of :func:`render_report` (does file I/O).

    Parameters
    ----------
    folder
        A folder written by ``territory align``, possibly completed by ``territory quota``,
        ``territory stress`` and the checks (``checks.json``).

    Returns
    -------
    dict
        ``{"run", "checks", "quota_summary", "stress", "tables", "charts"}``; what the folder
        does not hold is ``None`` (documents) or left out (tables, charts). Annual quotas are
        read from the exact Parquet copy (``quotas.parquet``), falling back to
        ``quotas_annual.csv``.

    Raises
    ------
    DataValidationError
        If the folder is not a complete alignment run (see :func:`territory.io.runs.load_plan`)
        or one of its JSON documents does not parse.
    """
    path = Path(folder)
    run = load_plan(path)
    tables: dict[str, pd.DataFrame] = {}
    if (path / QUOTAS).exists():
        tables["quotas_annual"] = pd.read_parquet(path / QUOTAS)
    elif (path / "quotas_annual.csv").exists():
        tables["quotas_annual"] = pd.read_csv(path / "quotas_annual.csv", dtype=_ID_COLUMNS)
    for name in CSV_TABLES:
        if (path / f"{name}.csv").exists():
            tables[name] = pd.read_csv(path / f"{name}.csv", dtype=_ID_COLUMNS)
    charts = {
        name: (path / f"{name}.png").read_bytes()
        for name in CHART_NAMES
        if (path / f"{name}.png").exists()
    }
    checks = read_json(path / CHECKS_FILE)
    if isinstance(checks, Mapping):  # tolerate {"checks": [...]} as well as a bare list
        checks = checks.get("checks")
    return {
        "run": run,
        "checks": checks,
        "quota_summary": read_json(path / "quota_summary.json"),
        "stress": read_json(path / "stress.json"),
        "tables": tables,
        "charts": charts,
    }


def read_json(path: Path) -> Any:
    """Parse the JSON document at ``path``; None when the file does not exist.

    A run folder's documents are optional (each step adds its own), so absence is normal;
    a file that does not parse is the user's to fix and is reported with its line.

    Raises
    ------
    DataValidationError
        If the file is not valid JSON (names the file, line and column).
    """
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        problem = InputProblem(
            source=str(path),
            row=exc.lineno,
            column=None,
            message=f"not valid JSON ({exc.msg}, column {exc.colno})",
            fix="run again the step that writes it, or delete it to leave its section out",
        )
        raise DataValidationError([problem]) from exc
