"""Sweeps: a local process pool and a real Dask LocalCluster give the same summary.

Three scenarios on one small instance: ``plain`` (a realignment), ``tight`` (±3% balance) and
``broken`` (its accounts file does not exist). The broken one must come back as an error row
while the other two complete.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app
from scenarios import SUMMARY_COLUMNS, plan_sweep, run_sweep
from scenarios.sweep import TIMING_COLUMNS, SweepResult
from territory.domain.synthetic import make_instance
from territory.errors import ScenarioError
from tests.scenarios.small import SCENARIO, write_inputs

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """plain.toml, tight.toml (extends plain) and broken.toml (missing accounts file)."""
    folder = tmp_path_factory.mktemp("sweep")
    write_inputs(folder / "data", *make_instance(240, 5, seed=11))
    plain = folder / "plain.toml"
    plain.write_text(SCENARIO)
    tight = folder / "tight.toml"
    tight.write_text('extends = "plain.toml"\n[align]\nbalance = 0.03\n')
    broken = folder / "broken.toml"
    broken.write_text('extends = "plain.toml"\n[inputs]\naccounts = "data/missing.csv"\n')
    return [plain, tight, broken]


@pytest.fixture(scope="module")
def local(files: list[Path]) -> SweepResult:
    out = files[0].parent / "out-local"
    return run_sweep(plan_sweep(files, out), out, workers=2)


def _comparable(summary: pd.DataFrame) -> pd.DataFrame:
    return summary.drop(columns=[*TIMING_COLUMNS, "folder"]).reset_index(drop=True)


class TestRealWorldSweep:
    def test_local_pool_isolates_the_failure(self, local: SweepResult) -> None:
        summary = local.summary
        assert list(summary.columns) == list(SUMMARY_COLUMNS)
        assert summary["scenario"].tolist() == ["plain", "tight", "broken"]
        assert summary["status"].tolist() == ["OK", "OK", "ERROR"]
        error = str(summary["error"].iloc[2])
        assert error.startswith("ScenarioError") and "inputs.accounts" in error
        assert "missing.csv" in error
        ok = summary.iloc[:2]
        assert (ok["solve_status"].isin(["OPTIMAL", "FEASIBLE"])).all()
        assert float(ok["max_potential_deviation"].iloc[1]) <= 0.03 + 1e-9
        for column in ("travel_hour_km", "share_at_quota_at_plan", "ccos_p50_at_plan"):
            assert ok[column].notna().all(), column
        assert (local.folder / "plain" / "manifest.json").exists()
        assert not (local.folder / "broken").exists()

    def test_summary_and_chart_are_written(self, local: SweepResult) -> None:
        written = pd.read_csv(local.summary_file)
        assert written["scenario"].tolist() == ["plain", "tight", "broken"]
        assert local.chart_file.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    def test_dask_cluster_gives_the_same_summary(
        self, files: list[Path], local: SweepResult
    ) -> None:
        from distributed import LocalCluster

        out = files[0].parent / "out-dask"
        with LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster:
            result = run_sweep(plan_sweep(files, out), out, scheduler=cluster.scheduler_address)
        pd.testing.assert_frame_equal(_comparable(result.summary), _comparable(local.summary))
        # Same runs, same bytes: the plan files of both sweeps agree.
        for name in ("assignments.csv", "quotas.csv", "stress_scenarios.csv", "checks.csv"):
            assert (out / "plain" / name).read_bytes() == (
                local.folder / "plain" / name
            ).read_bytes(), name

    def test_grid_over_head_count_from_the_cli(self, files: list[Path]) -> None:
        out = files[0].parent / "out-grid"
        done = runner.invoke(
            app,
            ["sweep", str(files[0]), "--grid", "add_reps=0..1", "--workers", "2", "--out",
             str(out), "--quiet"],
        )  # fmt: skip
        assert done.exit_code == 0, done.output
        summary = pd.read_csv(out / "summary.csv")
        assert summary["scenario"].tolist() == ["plain-add_reps-0", "plain-add_reps-1"]
        assert summary["n_reps"].tolist() == [5, 6]
        assert summary["lever"].tolist() == ["add_reps", "add_reps"]
        assert (out / "plain-add_reps-1" / "report.html").exists()


class TestErrorsSweep:
    def test_cli_exit_code_when_a_scenario_fails(self, files: list[Path]) -> None:
        out = files[0].parent / "out-fail"
        done = runner.invoke(app, ["sweep", str(files[2]), "--out", str(out), "--quiet"])
        assert done.exit_code == 1
        assert pd.read_csv(out / "summary.csv")["status"].tolist() == ["ERROR"]

    def test_variant_names_must_not_collide(self, files: list[Path], tmp_path: Path) -> None:
        with pytest.raises(ScenarioError, match="same folder"):
            plan_sweep([files[0], files[0]], tmp_path)

    def test_grid_needs_a_known_lever(self, files: list[Path], tmp_path: Path) -> None:
        with pytest.raises(ScenarioError, match="names no scenario key"):
            plan_sweep(files[:1], tmp_path, grid="colour=1,2")

    def test_unreachable_scheduler(self, files: list[Path], tmp_path: Path) -> None:
        tasks = plan_sweep(files[:1], tmp_path)
        with pytest.raises(ScenarioError, match="cannot reach the Dask scheduler"):
            run_sweep(tasks, tmp_path, scheduler="tcp://127.0.0.1:9", connect_timeout_s=1.0)
