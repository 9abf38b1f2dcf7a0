"""What a scenario's plan is worth: the value step of a run, its KPIs, the sweep and compare.

One small world with a known response curve (400 accounts, 16 reps, enough for a fit) swept
over two scenarios: ``moved`` realigns, ``kept`` evaluates today's alignment (no move, so an
uplift of exactly 0 and T2 in its WARN band). A third run on six reps cannot support a fit: its
figures are blank and every table says why.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app
from scenarios import SUMMARY_COLUMNS, load_scenario, plan_sweep, run_scenario, run_sweep
from scenarios.runner import run_kpis
from territory.domain.synthetic import make_instance
from territory.rendering.compare.kpis import VALUE_KPIS
from tests.commands import ROOT
from tests.response_worlds import make_world
from tests.scenarios.small import VALUED, write_inputs

runner = CliRunner()

FAST = VALUED


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``moved`` and ``kept`` swept with two workers; the sweep folder."""
    folder = tmp_path_factory.mktemp("valued")
    write_inputs(folder / "data", *_world())
    (folder / "moved.toml").write_text('description = "realign"\n' + FAST)
    (folder / "kept.toml").write_text('description = "today"\nmode = "evaluate"\n' + FAST)
    out = folder / "out"
    result = run_sweep(
        plan_sweep([folder / "moved.toml", folder / "kept.toml"], out), out, workers=2
    )
    assert (result.summary["status"] == "OK").all(), result.summary["error"].tolist()
    return out


def _world() -> tuple[pd.DataFrame, pd.DataFrame]:
    world = make_world("adbudg", seed=3, n_accounts=400, n_reps=16)
    return world.accounts, world.reps


def _checks(folder: Path) -> dict[str, dict[str, Any]]:
    return {c["check_id"]: c for c in json.loads((folder / "checks.json").read_text())}


def test_a_valued_run_has_the_figures_in_its_summary(sweep: Path) -> None:
    summary = pd.read_csv(sweep / "summary.csv").set_index("scenario")
    assert set(VALUE_KPIS) | {"value_note"} <= set(SUMMARY_COLUMNS)
    for name in ("moved", "kept"):
        row = summary.loc[name]
        assert row["expected_sales_p10"] <= row["expected_sales"] <= row["expected_sales_p90"]
        assert row["uplift_p10"] <= row["uplift"] <= row["uplift_p90"]
        assert pd.isna(row["value_note"])
        value = json.loads((sweep / name / "value.json").read_text())
        # Contribution = P50 sales x the scenario's margin - the cost of the 16 reps.
        assert value["total"]["cost"] == pytest.approx(16 * 150_000.0)
        assert row["contribution"] == pytest.approx(row["expected_sales"] * 0.5 - 16 * 150_000.0)
        manifest = json.loads((sweep / name / "manifest.json").read_text())
        assert manifest["steps"]["value"] == "run"
        assert manifest["parameters"]["value"]["margin"] == 0.5
    # Today's alignment valued against itself: no move, no uplift in any draw.
    kept = summary.loc["kept"]
    assert (kept["uplift_p10"], kept["uplift"], kept["uplift_p90"]) == (0.0, 0.0, 0.0)


def test_the_sweep_fits_one_model(sweep: Path) -> None:
    # Two worker processes, one history and settings: the same response.json byte for byte.
    first, second = ((sweep / name / "response.json").read_bytes() for name in ("moved", "kept"))
    assert first == second
    assert json.loads(first)["fitted_on"]["n_boot"] == 20


def test_t2_is_measured_from_the_model(sweep: Path) -> None:
    kept = _checks(sweep / "kept")["T2"]
    assert (kept["status"], kept["value"]) == ("WARN", 0.0)  # 0 <= U_net < uplift_min
    moved = _checks(sweep / "moved")["T2"]
    gross = json.loads((sweep / "moved" / "value.json").read_text())["uplift"]["uplift_gross"]
    assert moved["status"] != "NOT_ASSESSABLE"
    assert float(moved["value"]) < gross  # the moves' transition loss is charged
    expected = "PASS" if moved["value"] >= 0.02 else "WARN" if moved["value"] >= 0 else "FAIL"
    assert moved["status"] == expected


def test_compare_shows_the_new_rows(sweep: Path, tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    done = runner.invoke(
        app, ["compare", str(sweep / "moved"), str(sweep / "kept"), "--out", str(out), "--quiet"]
    )
    assert done.exit_code == 0, done.output
    table = pd.read_csv(out / "comparison.csv").set_index("kpi")
    summary = pd.read_csv(sweep / "summary.csv").set_index("scenario")
    for key in VALUE_KPIS:
        for name in ("moved", "kept"):
            shown = pd.to_numeric(table[name], errors="coerce")[key]
            assert shown == pytest.approx(summary.loc[name, key]), key
    page = (out / "comparison.html").read_text(encoding="utf-8")
    assert "Expected sales (P50, response model)" in page and "Contribution" in page


def test_rerun_is_byte_identical(sweep: Path, tmp_path: Path) -> None:
    # A fresh process fits the model again: the value files come out the same.
    scenario = sweep.parent / "moved.toml"
    done = subprocess.run(
        [sys.executable, "-m", "cli", "run", str(scenario), "--out", str(tmp_path), "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    for name in ("value.csv", "value.json", "response.json", "checks.json"):
        assert (tmp_path / "moved" / name).read_bytes() == (sweep / "moved" / name).read_bytes()


def test_history_without_a_fit_leaves_the_figures_blank_and_says_why(tmp_path: Path) -> None:
    write_inputs(tmp_path / "data", *make_instance(120, 6, seed=5))
    path = tmp_path / "six.toml"
    path.write_text('description = "six reps"\n' + FAST)
    result = run_scenario(load_scenario(path), tmp_path / "out")
    step = result.steps["value"]
    assert step.startswith("skipped: the history cannot support a sales-response fit")
    assert "11" in step  # the number of selling reps the fit needs
    assert not (result.folder / "value.json").exists()
    kpis = run_kpis(result.folder)
    assert all(kpis[key] is None for key in VALUE_KPIS)
    assert kpis["value_note"] == f"value step {step}"
    assert _checks(result.folder)["T2"]["status"] == "NOT_ASSESSABLE"
