"""Numbers: no non-finite value reached from finite input, and no INFEASIBLE plan with exit 0."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from typer.testing import CliRunner

import territory.workflow.align as api
from cli import EXIT_BAD_INPUT, app
from solvers.base import Solution, SolveStatus
from territory.domain.comp import parse_comp
from territory.domain.quota_bases import seasonality_shares
from territory.domain.quotas import QuotaConfig, plan_quotas
from territory.domain.synthetic import make_instance
from territory.errors import DataValidationError, ScenarioError, SolveError
from territory.io import MAX_MAGNITUDE, MAX_TOTAL_MAGNITUDE, load_inputs, validate_inputs

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    accounts, reps = make_instance(60, 4, seed=5)
    accounts["revenue_prior_year"] = accounts["revenue_last_year"]
    return accounts, reps


def _csv(folder: Path, name: str, frame: pd.DataFrame) -> Path:
    path = folder / name
    frame.to_csv(path, index=False)
    return path


def _one(exc: pytest.ExceptionInfo[DataValidationError]) -> str:
    assert len(exc.value.problems) == 1, exc.value.problems
    return str(exc.value.problems[0])


def _no_traceback(result: object, code: int) -> str:
    assert result.exit_code == code, result.output  # type: ignore[attr-defined]
    assert isinstance(result.exception, SystemExit)  # type: ignore[attr-defined]
    assert "Traceback" not in str(result.output)  # type: ignore[attr-defined]
    return " ".join(str(result.output).split())  # type: ignore[attr-defined]


class TestLargestMagnitude:
    def test_constant_keeps_a_million_accounts_finite(self) -> None:
        total = np.full(1_000_000, MAX_MAGNITUDE).sum()
        assert math.isfinite(total) and total == pytest.approx(MAX_TOTAL_MAGNITUDE)
        assert math.isfinite(total * total)  # squares in the MOI objective stay finite

    @pytest.mark.parametrize(
        ("table", "column"),
        [
            ("accounts", "potential"),
            ("accounts", "workload"),
            ("accounts", "revenue_last_year"),
            ("accounts", "revenue_prior_year"),
            ("reps", "capacity"),
        ],
    )
    def test_each_numeric_column_names_file_row_column_value_and_limit(
        self, tables: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path, table: str, column: str
    ) -> None:
        accounts, reps = (t.copy() for t in tables)
        frame = accounts if table == "accounts" else reps
        frame[column] = frame[column].astype(object)
        frame.loc[2, column] = "1e308"
        acc = _csv(tmp_path, "accounts.csv", accounts)
        rep = _csv(tmp_path, "reps.csv", reps)
        with pytest.raises(DataValidationError) as exc:
            load_inputs(acc, rep)
        text = _one(exc)
        source = acc if table == "accounts" else rep
        assert text.startswith(f"{source}, row 4, column '{column}': ")
        assert "1e+308" in text and "largest magnitude supported (1e12)" in text

    def test_the_limit_itself_is_accepted(self, tables: tuple[pd.DataFrame, pd.DataFrame]) -> None:
        accounts, reps = (t.copy() for t in tables)
        accounts.loc[0, "potential"] = MAX_MAGNITUDE
        validate_inputs(accounts, reps)
        accounts.loc[0, "potential"] = np.nextafter(MAX_MAGNITUDE, np.inf)
        with pytest.raises(DataValidationError, match="beyond the largest magnitude"):
            validate_inputs(accounts, reps)

    def test_huge_negative_is_reported_once(
        self, tables: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        accounts, reps = (t.copy() for t in tables)
        accounts.loc[3, "workload"] = -1e300
        with pytest.raises(DataValidationError) as exc:
            validate_inputs(accounts, reps)
        assert "workload -1e+300 is beyond" in _one(exc)

    def test_pass_through_history_infinity(self, tables: tuple[pd.DataFrame, pd.DataFrame]) -> None:
        accounts, reps = (t.copy() for t in tables)
        accounts["revenue_prior_year"] = accounts["revenue_prior_year"].astype(object)
        accounts.loc[1, "revenue_prior_year"] = "inf"
        with pytest.raises(DataValidationError) as exc:
            validate_inputs(accounts, reps)
        assert "row 2, column 'revenue_prior_year'" in _one(exc)

    def test_xlsx_number_cell(
        self, tables: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
    ) -> None:
        accounts, reps = tables
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(list(accounts.columns))
        for row in accounts.astype(object).values.tolist():
            sheet.append(row)
        sheet.cell(row=5, column=list(accounts.columns).index("potential") + 1, value=1e300)
        book.save(tmp_path / "accounts.xlsx")
        with pytest.raises(DataValidationError) as exc:
            load_inputs(tmp_path / "accounts.xlsx", _csv(tmp_path, "reps.csv", reps))
        assert "accounts.xlsx, row 5, column 'potential': potential 1e+300 is beyond" in _one(exc)

    @settings(max_examples=40, deadline=None)
    @given(value=st.floats(min_value=1e12, max_value=1e308, exclude_min=True))
    def test_property_every_oversized_value_is_refused(self, value: float) -> None:
        accounts, reps = make_instance(12, 2, seed=1)
        accounts.loc[5, "potential"] = value
        with pytest.raises(DataValidationError) as exc:
            validate_inputs(accounts, reps)
        problem = exc.value.problems[0]
        assert (problem.row, problem.column) == (6, "potential")

    def test_cli_exit_2_and_nothing_written(
        self, tables: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
    ) -> None:
        accounts, reps = (t.copy() for t in tables)
        accounts.loc[3, "potential"] = 1e308
        acc = _csv(tmp_path, "accounts.csv", accounts)
        rep = _csv(tmp_path, "reps.csv", reps)
        out = tmp_path / "out"
        result = runner.invoke(
            app,
            ["align", "--accounts", str(acc), "--reps", str(rep), "--out", str(out), "--quiet",
             "--solver", "heuristic"],
        )  # fmt: skip
        text = _no_traceback(result, EXIT_BAD_INPUT)
        assert f"{acc}, row 5, column 'potential'" in text and "1e12" in text
        assert not out.exists()


class TestDerivedValues:
    def test_unvalidated_infinite_potential_is_not_solved(
        self, tables: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        accounts, reps = (t.copy() for t in tables)
        accounts.loc[0, "potential"] = np.inf
        with pytest.raises(DataValidationError) as exc:
            api.align(accounts, reps, validate=False, solver="heuristic", time_limit_s=5)
        assert "column 'potential'" in str(exc.value) and "not a finite number" in str(exc.value)

    def test_totals_that_overflow_are_not_solved(
        self, tables: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        accounts, reps = (t.copy() for t in tables)
        accounts["potential"] = 1e307  # finite each, infinite in sum
        with pytest.raises(DataValidationError, match="potential targets are not finite"):
            api.align(accounts, reps, validate=False, solver="heuristic", time_limit_s=5)

    def test_tier_factor_that_overflows_the_targets(
        self, tables: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        accounts, reps = tables
        with pytest.raises(DataValidationError, match=r"potential targets are not finite"):
            api.align(
                accounts, reps, tier_factors={"A": 1e308, "B": 1.0, "C": 1.0},
                solver="heuristic", time_limit_s=5,
            )  # fmt: skip


class _Backend:
    """A stand-in exact backend that ends with a chosen status and plan."""

    name = "fake"

    def __init__(self, status: SolveStatus, keep_warm_start: bool) -> None:
        self.status = status
        self.keep_warm_start = keep_warm_start

    def solve(self, problem: object, *, time_limit_s: float, seed: int, warm_start: Solution
              ) -> Solution:  # fmt: skip
        plan = warm_start.assignment.copy()
        if not self.keep_warm_start:
            plan[:] = 0  # every account on the first rep: far outside every window
        return Solution(plan, self.status, 1e12, None, "none", "fake", 0.0)


def _fake_backend(
    monkeypatch: pytest.MonkeyPatch, status: SolveStatus, keep_warm_start: bool
) -> None:
    real = api.get_solver

    def fake(name: str, **options: object) -> object:
        if name == "mip":
            return _Backend(status, keep_warm_start)
        return real(name, **options)

    monkeypatch.setattr(api, "get_solver", fake)


def _assert_plan_keeps_the_rules(result: api.AlignmentResult) -> None:
    report = result.report
    assert report.status not in ("INFEASIBLE", "ERROR")
    assert report.max_potential_deviation <= report.balance_potential + 1e-6
    assert report.max_workload_deviation <= report.balance_workload + 1e-6
    assert (result.territories["utilization"] <= 1.0 + 1e-9).all()


class TestPlanStatus:
    @pytest.mark.parametrize(
        "status", [SolveStatus.INFEASIBLE, SolveStatus.FEASIBLE, SolveStatus.OPTIMAL]
    )
    def test_a_backend_plan_outside_the_rules_is_never_returned(
        self,
        tables: tuple[pd.DataFrame, pd.DataFrame],
        monkeypatch: pytest.MonkeyPatch,
        status: SolveStatus,
    ) -> None:
        _fake_backend(monkeypatch, status, keep_warm_start=False)
        accounts, reps = tables
        result = api.align(accounts, reps, solver="mip", time_limit_s=20)
        _assert_plan_keeps_the_rules(result)
        assert any("heuristic plan is kept" in note for note in result.report.notes)

    def test_a_plan_checked_feasible_is_relabelled(
        self, tables: tuple[pd.DataFrame, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        _fake_backend(monkeypatch, SolveStatus.INFEASIBLE, keep_warm_start=True)
        accounts, reps = tables
        result = api.align(accounts, reps, solver="mip", time_limit_s=20)
        assert result.report.status == "FEASIBLE"
        assert any("reported INFEASIBLE" in note for note in result.report.notes)
        _assert_plan_keeps_the_rules(result)

    @pytest.mark.parametrize("status", [SolveStatus.INFEASIBLE, SolveStatus.ERROR])
    def test_last_guard_refuses_an_unchecked_plan(
        self, tables: tuple[pd.DataFrame, pd.DataFrame], status: SolveStatus
    ) -> None:
        from territory.domain.model import build_problem

        accounts, reps = validate_inputs(*tables)
        problem = build_problem(accounts, reps)
        plan = np.zeros(problem.n_accounts, dtype=np.int64)
        solution = Solution(plan, status, problem.objective(plan), None, "none", "fake", 0.0)
        with pytest.raises(SolveError, match=f"status {status.value} and its plan breaks"):
            api._require_plan(problem, solution)
        with pytest.raises(SolveError, match="not a finite number"):
            api._require_plan(
                problem, Solution(plan, SolveStatus.FEASIBLE, math.inf, None, "none", "x", 0.0)
            )

    def test_decomposed_soft_plan_over_capacity_is_refused(
        self, tables: tuple[pd.DataFrame, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import territory.workflow.scale as scale

        class Piled:
            """A refinement that piles every account on the first rep and calls it infeasible."""

            def __init__(self, **_: object) -> None:
                pass

            def solve(self, problem: object, **_: object) -> Solution:
                plan = np.zeros(problem.n_accounts, dtype=np.int64)  # type: ignore[attr-defined]
                return Solution(plan, SolveStatus.INFEASIBLE, 1.0, None, "none", "piled", 0.0)

        monkeypatch.setattr(scale, "HeuristicSolver", Piled)
        monkeypatch.setattr(scale, "rescue", lambda _problem, start, *_a, **_k: start)  # no fix
        accounts, reps = tables
        with pytest.raises(SolveError, match="within capacity"):
            api.align(accounts, reps, decompose="on", soft=True, time_limit_s=20)

    def test_cli_writes_only_the_checked_plan(
        self,
        tables: tuple[pd.DataFrame, pd.DataFrame],
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,
    ) -> None:
        import json

        _fake_backend(monkeypatch, SolveStatus.INFEASIBLE, keep_warm_start=False)
        accounts, reps = tables
        acc, rep = _csv(tmp_path, "a.csv", accounts), _csv(tmp_path, "r.csv", reps)
        out = tmp_path / "out"
        result = runner.invoke(
            app,
            ["align", "--accounts", str(acc), "--reps", str(rep), "--out", str(out), "--quiet",
             "--solver", "mip", "--time-limit", "20"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        solve = json.loads((out / "solve.json").read_text())
        assert solve["status"] not in ("INFEASIBLE", "ERROR")
        assignments = pd.read_csv(out / "assignments.csv")
        assert assignments["rep_id"].nunique() > 1  # not the fake's everyone-on-one-rep plan


class TestQuotaAndCompNumbers:
    def _territories(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"rep_id": ["R1", "R2", "R3"], "potential": [1e6, 2e6, 3e6],
             "history": [5e5, 6e5, 7e5]}
        )  # fmt: skip

    def test_company_target_beyond_the_limit(self) -> None:
        with pytest.raises(ScenarioError, match=r"company_target.*at most 1e18"):
            plan_quotas(self._territories(), QuotaConfig(company_target=1e300))

    def test_territory_value_beyond_the_limit(self) -> None:
        territories = self._territories()
        territories.loc[1, "history"] = 1e300
        with pytest.raises(DataValidationError) as exc:
            plan_quotas(territories, QuotaConfig(company_target=5e6))
        (problem,) = exc.value.problems
        assert (problem.row, problem.column) == (3, "history")
        assert "1e+300 is beyond the largest magnitude supported (1e18" in problem.message

    def test_infinite_period_sales(self) -> None:
        sales = pd.DataFrame(
            {"rep_id": ["R1"] * 4, "year": [2024] * 4, "period": [1, 2, 3, 4],
             "sales": [1.0, 2.0, float("inf"), 4.0]}
        )  # fmt: skip
        with pytest.raises(DataValidationError) as exc:
            seasonality_shares(sales, ["R1"], 4)
        (problem,) = exc.value.problems
        assert problem.row == 4 and "at most 1e18" in problem.message

    def test_comp_number_beyond_the_limit(self) -> None:
        import tomllib

        data = tomllib.loads((ROOT / "data" / "demo" / "comp.toml").read_text())
        data["roles"]["hunter"]["curve"]["tiers"][1]["slope"] = 1e300
        with pytest.raises(ScenarioError) as exc:
            parse_comp(data, "comp.toml")
        assert "role 'hunter', key 'curve.tiers[1].slope'" in str(exc.value)
        assert "beyond the largest magnitude supported (1e12)" in str(exc.value)

    def test_cli_payout_with_an_oversized_ote(self, tmp_path: Path) -> None:
        text = (ROOT / "data" / "demo" / "comp.toml").read_text()
        comp = tmp_path / "comp.toml"
        comp.write_text(text.replace("ote = 165000.0", "ote = 1.65e300", 1))
        result = runner.invoke(app, ["payout", "--comp", str(comp), "--attainment", "1.2"])
        message = _no_traceback(result, EXIT_BAD_INPUT)
        assert str(comp) in message and "key 'ote'" in message and "1e12" in message


class TestDesignNumbers:
    @pytest.fixture
    def layer(self, tmp_path: Path) -> Path:
        import geopandas as gpd
        from shapely.geometry import box

        cells = [box(-100 + c, 40, -99 + c, 41) for c in range(4)]
        units = gpd.GeoDataFrame(
            {"unit_id": ["a", "b", "c", "d"], "potential": [1.0, 2.0, 1e300, 4.0]},
            geometry=cells,
            crs="EPSG:4326",
        )
        units.to_file(tmp_path / "units.geojson", driver="GeoJSON")
        return tmp_path / "units.geojson"

    def test_unit_layer_value_beyond_the_limit(self, layer: Path, tmp_path: Path) -> None:
        out = tmp_path / "out"
        result = runner.invoke(
            app, ["design", "--units", str(layer), "--k", "2", "--out", str(out), "--quiet"]
        )
        text = _no_traceback(result, EXIT_BAD_INPUT)
        assert "column 'potential'" in text and "'c' (1e+300)" in text and "(1e18)" in text
        assert not out.exists()

    def test_accounts_without_reps_are_validated(self, layer: Path, tmp_path: Path) -> None:
        accounts = pd.DataFrame(
            {"account_id": ["A1", "A2"], "lat": [40.5, 40.5], "lon": [-99.5, -97.5],
             "potential": ["10", "1e308"], "workload": [1.0, 2.0]}
        )  # fmt: skip
        path = _csv(tmp_path, "accounts.csv", accounts)
        out = tmp_path / "out"
        result = runner.invoke(
            app,
            ["design", "--units", str(layer), "--accounts", str(path), "--k", "2", "--out",
             str(out), "--quiet"],
        )  # fmt: skip
        text = _no_traceback(result, EXIT_BAD_INPUT)
        assert f"{path}, row 3, column 'potential'" in text and "1e12" in text
