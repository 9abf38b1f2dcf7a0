"""End-to-end runs of the command line on small real-shaped data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import EXIT_BAD_INPUT, EXIT_INFEASIBLE, EXIT_SOLVER, app
from solvers.base import Solution, SolveStatus
from solvers.heuristic import HeuristicSolver
from territory.domain.model import AlignmentProblem
from territory.domain.synthetic import make_instance
from tests.commands import ROOT, align_args, invoke, run_territory, write_tables
from tests.instances import ASSIGNMENT_COLUMNS, four_quadrants, square_grid

runner = CliRunner()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """400 accounts and 8 reps written as CSV, as a sales-ops analyst would export them."""
    folder = tmp_path_factory.mktemp("inputs")
    accounts, reps = make_instance(400, 8, seed=3)
    accounts.loc[1, "account_id"] = "=HYPERLINK(evil)"
    accounts.to_csv(folder / "accounts.csv", index=False)
    reps.to_csv(folder / "reps.csv", index=False)
    return folder / "accounts.csv", folder / "reps.csv"


def _align(inputs: tuple[Path, Path], out: Path, *extra: str) -> object:
    accounts, reps = inputs
    return runner.invoke(
        app,
        ["align", "--accounts", str(accounts), "--reps", str(reps), "--out", str(out), *extra],
    )


class TestSyntheticCli:
    def test_align_writes_the_three_outputs(
        self, inputs: tuple[Path, Path], tmp_path: Path
    ) -> None:
        out = tmp_path / "q1"
        result = _align(inputs, out, "--quiet", "--time-limit", "30")
        assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
        assert sorted(p.name for p in out.iterdir()) == [
            ".territory-run.json",
            "assignments.csv",
            "input_accounts.parquet",
            "input_reps.parquet",
            "plan.parquet",
            "solve.json",
            "territories.csv",
            "transitions.csv",
        ]
        # The exact copy keeps the raw id that the Excel-safe CSV prefixes.
        kept = pd.read_parquet(out / "plan.parquet")
        assert "=HYPERLINK(evil)" in set(kept["account_id"])
        assignments = pd.read_csv(out / "assignments.csv", dtype={"account_id": str})
        assert list(assignments.columns) == ASSIGNMENT_COLUMNS
        assert assignments["account_id"].is_unique and len(assignments) == 400
        # The transition plan lists exactly the accounts that change rep.
        transitions = pd.read_csv(out / "transitions.csv", dtype={"account_id": str})
        assert set(transitions["account_id"]) == set(
            assignments.loc[assignments["moved"], "account_id"]
        )
        # A formula-like id reaches Excel as text, never as a formula.
        assert "'=HYPERLINK(evil)" in set(assignments["account_id"])
        territories = pd.read_csv(out / "territories.csv")
        assert territories["potential_dev"].abs().max() <= 0.05 + 1e-6
        assert territories["workload_dev"].abs().max() <= 0.05 + 1e-6
        assert (territories["utilization"] <= 1 + 1e-9).all()
        solve = json.loads((out / "solve.json").read_text())
        for key in ("objective", "bound", "gap", "seconds", "status", "backend", "inputs", "seed"):
            assert key in solve
        assert solve["bound"] <= solve["objective"] + 1e-6
        assert solve["inputs"]["accounts"].startswith("sha256:")

    def test_same_seed_gives_byte_identical_tables(
        self, inputs: tuple[Path, Path], tmp_path: Path
    ) -> None:
        """Two separate processes (each its own hash seed and caches) write the same bytes."""
        accounts, reps = inputs
        first, second = tmp_path / "a", tmp_path / "b"
        for out in (first, second):
            done = run_territory(
                "align", "--accounts", accounts, "--reps", reps, "--out", out, "--quiet",
                "--seed", "7",
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
        names = sorted(p.name for p in first.iterdir())
        assert names == sorted(p.name for p in second.iterdir())
        assert {"assignments.csv", "territories.csv", "plan.parquet"} <= set(names)
        for name in names:
            if name != "solve.json":
                assert (first / name).read_bytes() == (second / name).read_bytes(), name
        doc_a = json.loads((first / "solve.json").read_text())
        doc_b = json.loads((second / "solve.json").read_text())
        for doc in (doc_a, doc_b):
            doc.pop("seconds")
            doc.pop("stages")
        assert doc_a == doc_b

    @pytest.mark.parametrize("fmt", ["parquet", "xlsx"])
    def test_other_output_formats(
        self, inputs: tuple[Path, Path], tmp_path: Path, fmt: str
    ) -> None:
        out = tmp_path / fmt
        assert _align(inputs, out, "--quiet", "--format", fmt).exit_code == 0  # type: ignore[attr-defined]
        table = (
            pd.read_parquet(out / f"assignments.{fmt}")
            if fmt == "parquet"
            else pd.read_excel(out / f"assignments.{fmt}", dtype={"account_id": str})
        )
        assert len(table) == 400

    def test_summary_is_printed(self, inputs: tuple[Path, Path], tmp_path: Path) -> None:
        result = _align(inputs, tmp_path / "s")
        assert result.exit_code == 0  # type: ignore[attr-defined]
        assert "lower bound" in result.output  # type: ignore[attr-defined]


class TestErrorsCli:
    def test_bad_input_exits_2_and_writes_nothing(
        self, inputs: tuple[Path, Path], tmp_path: Path
    ) -> None:
        accounts, reps = inputs
        bad = tmp_path / "accounts.csv"
        frame = pd.read_csv(accounts, dtype=str)
        frame.loc[4, "potential"] = "-12"
        frame.loc[7, "lat"] = "95"
        frame.to_csv(bad, index=False)
        out = tmp_path / "out"
        result = _align((bad, reps), out)
        assert result.exit_code == EXIT_BAD_INPUT  # type: ignore[attr-defined]
        text = result.output  # type: ignore[attr-defined]
        assert "row 6" in text and "potential" in text
        assert "row 9" in text and "lat" in text
        assert not out.exists()

    def test_infeasible_exits_3_with_explanation(
        self, inputs: tuple[Path, Path], tmp_path: Path
    ) -> None:
        accounts, reps = inputs
        frame = pd.read_csv(accounts, dtype=str)
        frame.loc[0, "potential"] = "1e12"
        bad = tmp_path / "accounts.csv"
        frame.to_csv(bad, index=False)
        result = _align((bad, reps), tmp_path / "out")
        assert result.exit_code == EXIT_INFEASIBLE  # type: ignore[attr-defined]
        assert frame.loc[0, "account_id"] in result.output  # type: ignore[attr-defined]
        soft = _align((bad, reps), tmp_path / "soft", "--soft", "--quiet")
        assert soft.exit_code == 0  # type: ignore[attr-defined]

    def test_solver_failure_exits_4(
        self, inputs: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The backend runs out of time before it finds a plan the LP relaxation allows.

        Nothing proves the rules infeasible (that would be 3), so the solver failed: exit 4,
        with what to do, no traceback, and nothing written.
        """

        def out_of_time(
            self: HeuristicSolver, problem: AlignmentProblem, **_options: object
        ) -> Solution:
            crowded = np.zeros(problem.n_accounts, dtype=np.int64)  # all on the first rep
            return Solution(
                crowded, SolveStatus.TIME_LIMIT, problem.objective(crowded), None, "none",
                self.name, 0.0,
            )  # fmt: skip

        monkeypatch.setattr(HeuristicSolver, "solve", out_of_time)
        # ... and the neighbourhood rescue finds nothing either (it would fix this plan).
        monkeypatch.setattr(
            "territory.workflow.align.rescue", lambda _problem, start, *_a, **_k: start
        )
        out = tmp_path / "out"
        result = _align(inputs, out, "--solver", "heuristic")
        text = " ".join(result.output.split())  # type: ignore[attr-defined]
        assert result.exit_code == EXIT_SOLVER, text  # type: ignore[attr-defined]
        assert "SolveError" in text and "LP relaxation did not rule one out" in text
        assert "Raise --time-limit" in text and "Traceback" not in text
        assert not out.exists()

    def test_previous_output_survives_a_failed_run(
        self, inputs: tuple[Path, Path], tmp_path: Path
    ) -> None:
        out = tmp_path / "q1"
        assert _align(inputs, out, "--quiet").exit_code == 0  # type: ignore[attr-defined]
        before = (out / "assignments.csv").read_bytes()
        missing = (tmp_path / "nope.csv", inputs[1])
        assert _align(missing, out).exit_code == EXIT_BAD_INPUT  # type: ignore[attr-defined]
        assert (out / "assignments.csv").read_bytes() == before

    def test_unknown_solver_lists_options(self, inputs: tuple[Path, Path], tmp_path: Path) -> None:
        result = _align(inputs, tmp_path / "x", "--solver", "gurobi")
        assert result.exit_code == EXIT_BAD_INPUT  # type: ignore[attr-defined]
        text = " ".join(result.output.replace("│", " ").split())  # type: ignore[attr-defined]
        assert "Possible options are: auto, heuristic, cpsat, mip" in text


class TestRealWorldCli:
    def test_installed_command_on_demo_data(self, tmp_path: Path) -> None:
        """The console script as `make demo` runs it, on the shipped demo data."""
        out = tmp_path / "demo"
        done = run_territory(
            "align", "--accounts", ROOT / "data/demo/accounts.csv",
            "--reps", ROOT / "data/demo/reps.csv", "--out", out, "--quiet", "--solver", "heuristic",
            timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout == ""
        territories = pd.read_csv(out / "territories.csv")
        assert len(territories) == 40
        assert territories["potential_dev"].abs().max() <= 0.05 + 1e-6
        assignments = pd.read_csv(out / "assignments.csv", dtype=str)
        assert len(assignments) == 5000


class TestUnitsCli:
    def test_units_stay_whole_and_territories_are_polygons(self, tmp_path: Path) -> None:
        """A 4 x 4 grid of 1-degree squares; accounts find their square by location."""
        import geopandas as gpd

        layer = square_grid(4, 4, size=1.0, west=-100.0, south=38.0, column="zip")
        layer.to_file(tmp_path / "units.geojson", driver="GeoJSON")
        write_tables(tmp_path, *four_quadrants(320))
        out = tmp_path / "out"
        done = invoke(
            align_args(
                tmp_path, out, "--soft", "--solver", "heuristic",
                "--units", str(tmp_path / "units.geojson"), "--unit-id-column", "zip",
            )
        )  # fmt: skip
        assert done.exit_code == 0, done.output
        plan = pd.read_parquet(out / "input_accounts.parquet")[["account_id", "unit_id"]].merge(
            pd.read_parquet(out / "plan.parquet"), on="account_id"
        )
        assert (plan.groupby("unit_id")["rep_id"].nunique() == 1).all()
        shapes = gpd.read_file(out / "territories.geojson")
        assert set(shapes["rep_id"]) == set(plan["rep_id"])
        assert shapes.to_crs("EPSG:6933").area.sum() == pytest.approx(
            layer.to_crs("EPSG:6933").area.sum(), rel=1e-6
        )
