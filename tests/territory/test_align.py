"""The public workflow, ``territory.workflow.api.align``: plans, locks, reports and explanations.

Hand-built fixtures (all on or near the equator, every rep a candidate of every account):

``big_account``: BIG holds 600 of 1,000 potential; reps R0A (tier A), R1B, R2C of equal
capacity have potential targets 383.33, 333.33 and 283.33, so BIG needs ±56.52%::

    lon:  0    1     9    10   11     18   19   20
          R0A  BIG   s1   R1B  s2     s3   s4   R2C

``proportional``: twenty accounts whose potential is always 1,000 x workload, a tier-A and a
tier-C rep of equal capacity. Each rep's potential is then tied to its workload, while the
targets ask for a 1.15 : 0.85 split of potential and 1 : 1 of workload. Even splitting accounts
fractionally, the best any plan can do is ±(0.15 / 1.85) = ±8.108%.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import territory
from territory import InfeasibleError, SolveError
from territory.domain.synthetic import make_instance
from territory.workflow.api import AlignmentResult, align
from tests.instances import BIG_MIN_BALANCE, PROPORTIONAL_MIN_BALANCE, big_account, proportional

TIME_LIMIT_S = 20.0


def _assignment(result: AlignmentResult) -> np.ndarray:
    """The plan as rep positions in the result's problem."""
    position = {rep: i for i, rep in enumerate(result.problem.rep_ids.tolist())}
    return np.array([position[r] for r in result.assignments["rep_id"]], dtype=np.int64)


def _align(accounts: pd.DataFrame, reps: pd.DataFrame, **options: Any) -> AlignmentResult:
    options.setdefault("time_limit_s", TIME_LIMIT_S)
    return align(accounts, reps, **options)


@pytest.fixture(scope="module")
def medium() -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_instance(300, 6, seed=4)


@pytest.fixture(scope="module", params=["heuristic", "auto"])
def medium_result(
    request: pytest.FixtureRequest, medium: tuple[pd.DataFrame, pd.DataFrame]
) -> AlignmentResult:
    return _align(*medium, solver=request.param, seed=1)


@pytest.fixture(scope="module")
def locked_instance() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """80 accounts, 4 reps; the six smallest accounts are locked away from their current rep."""
    accounts, reps = make_instance(80, 4, seed=21)
    accounts = accounts.copy()
    rep_ids = reps["rep_id"].tolist()
    small = accounts.nsmallest(6, "potential").index
    locked = pd.Series(None, index=accounts.index, dtype=object)
    for k, i in enumerate(small):
        others = [r for r in rep_ids if r != accounts.at[i, "current_rep"]]
        locked[i] = others[k % len(others)]
    accounts["locked_rep"] = locked
    return accounts, reps, locked.dropna()


class TestSyntheticAlign:
    def test_every_account_assigned_once_and_totals_kept(
        self, medium: tuple[pd.DataFrame, pd.DataFrame], medium_result: AlignmentResult
    ) -> None:
        accounts, reps = medium
        assignments = medium_result.assignments
        assert assignments["account_id"].tolist() == accounts["account_id"].tolist()
        assert assignments["account_id"].is_unique
        assert set(assignments["rep_id"]) <= set(reps["rep_id"])
        territories = medium_result.territories
        assert territories["rep_id"].tolist() == reps["rep_id"].tolist()
        assert territories["n_accounts"].sum() == len(accounts)
        assert territories["potential"].sum() == pytest.approx(accounts["potential"].sum())
        assert territories["workload"].sum() == pytest.approx(accounts["workload"].sum())
        counts = assignments["rep_id"].value_counts()
        assert territories.set_index("rep_id")["n_accounts"].to_dict() == {
            rep: int(counts.get(rep, 0)) for rep in reps["rep_id"]
        }

    def test_balance_within_tolerance(self, medium_result: AlignmentResult) -> None:
        territories = medium_result.territories
        assert territories["potential_dev"].abs().max() <= 0.05 + 1e-6
        assert territories["workload_dev"].abs().max() <= 0.05 + 1e-6
        assert (territories["utilization"] <= 1.0 + 1e-9).all()
        report = medium_result.report
        assert report.balance_potential == report.balance_requested_potential == 0.05
        assert report.balance_workload == report.balance_requested_workload == 0.05
        assert report.max_potential_deviation <= 0.05 + 1e-6
        assert report.max_workload_deviation <= 0.05 + 1e-6

    def test_report_fields(self, medium_result: AlignmentResult) -> None:
        report, problem = medium_result.report, medium_result.problem
        assignment = _assignment(medium_result)
        assert problem.is_feasible(assignment, 1e-6)
        assert report.objective == pytest.approx(problem.objective(assignment), rel=1e-9)
        assert report.bound is not None
        assert report.bound <= report.objective * (1 + 1e-9)
        assert report.gap is not None and report.gap >= 0.0
        assert report.gap == pytest.approx((report.objective - report.bound) / report.objective)
        assert report.status in ("OPTIMAL", "FEASIBLE")
        assert (report.n_accounts, report.n_reps, report.n_pairs) == (300, 6, problem.n_pairs)
        assert report.seed == 1
        assert report.soft is False
        assert report.notes == []
        metrics = report.metrics
        assert metrics["max_potential_deviation"] == pytest.approx(
            report.max_potential_deviation, abs=1e-6
        )
        assert metrics["travel_hour_km"] == pytest.approx(
            float(
                (problem.workload * problem.pair_distance_km[problem.pair_index(assignment)]).sum()
            )
        )

    def test_travel_is_the_objective_without_disruption(
        self, medium_result: AlignmentResult
    ) -> None:
        report = medium_result.report
        assert report.metrics["travel_hour_km"] == pytest.approx(report.objective, rel=1e-9)

    def test_plan_series(self, medium_result: AlignmentResult) -> None:
        plan = medium_result.plan
        assert plan.name == "rep_id"
        assert plan.index.tolist() == medium_result.assignments["account_id"].tolist()

    @pytest.mark.parametrize("solver", ["heuristic", "auto"])
    def test_same_seed_same_plan(self, solver: str) -> None:
        accounts, reps = make_instance(120, 4, seed=8)
        first = _align(accounts, reps, solver=solver, seed=3)
        second = _align(accounts, reps, solver=solver, seed=3)
        pd.testing.assert_frame_equal(first.assignments, second.assignments)
        pd.testing.assert_frame_equal(first.territories, second.territories)
        assert first.report.objective == second.report.objective

    @pytest.mark.parametrize("seed", [1, 5])
    def test_heuristic_plan_does_not_depend_on_input_row_order(self, seed: int) -> None:
        accounts, reps = make_instance(60, 3, seed=seed)
        forward = _align(accounts, reps, solver="heuristic", seed=3)
        reversed_rows = accounts.iloc[::-1].reset_index(drop=True)
        backward = _align(reversed_rows, reps, solver="heuristic", seed=3)
        assert backward.assignments["account_id"].tolist() == accounts["account_id"].tolist()[::-1]
        pd.testing.assert_series_equal(forward.plan.sort_index(), backward.plan.sort_index())
        assert backward.report.objective == pytest.approx(forward.report.objective, rel=1e-12)
        pd.testing.assert_frame_equal(forward.territories, backward.territories)

    @pytest.mark.parametrize("solver", ["heuristic", "auto"])
    @pytest.mark.parametrize("disruption_weight", [0.0, 1000.0])
    def test_locked_accounts_stay_with_their_rep(
        self,
        locked_instance: tuple[pd.DataFrame, pd.DataFrame, pd.Series],
        solver: str,
        disruption_weight: float,
    ) -> None:
        accounts, reps, locked = locked_instance
        result = _align(accounts, reps, solver=solver, disruption_weight=disruption_weight)
        plan = result.assignments.set_index("account_id")["rep_id"]
        ids = accounts.loc[locked.index, "account_id"]
        assert plan.loc[ids].tolist() == locked.tolist()
        # Locked away from their current rep, so they count as moved.
        assert result.assignments.set_index("account_id").loc[ids, "moved"].all()
        assert result.report.max_potential_deviation <= 0.05 + 1e-6

    def test_disruption_weight_reduces_moves(self) -> None:
        accounts, reps = make_instance(80, 4, seed=21)
        free = _align(accounts, reps, solver="heuristic", disruption_weight=0.0)
        sticky = _align(accounts, reps, solver="heuristic", disruption_weight=1000.0)
        assert sticky.report.metrics["accounts_moved"] < free.report.metrics["accounts_moved"]
        assert sticky.report.metrics["potential_moved"] < free.report.metrics["potential_moved"]
        assert sticky.report.max_potential_deviation <= 0.05 + 1e-6

    @pytest.mark.parametrize("solver", ["heuristic", "auto"])
    def test_no_moves_when_the_current_plan_is_balanced(self, solver: str) -> None:
        """A balanced plan becomes the current plan: with a heavy disruption weight, keep it."""
        accounts, reps = make_instance(80, 4, seed=21)
        balanced = _align(accounts, reps, solver="heuristic")
        accounts = accounts.assign(current_rep=balanced.assignments["rep_id"].to_numpy())
        result = _align(accounts, reps, solver=solver, disruption_weight=1000.0)
        assert result.report.metrics["accounts_moved"] == 0.0
        assert result.report.metrics["potential_moved"] == 0.0
        assert not result.assignments["moved"].any()
        assert result.territories["accounts_moved_in"].sum() == 0

    def test_disruption_is_part_of_the_objective(self) -> None:
        accounts, reps = make_instance(80, 4, seed=21)
        result = _align(accounts, reps, solver="heuristic", disruption_weight=0.5)
        metrics = result.report.metrics
        assert result.report.objective == pytest.approx(
            metrics["travel_hour_km"] + 0.5 * metrics["potential_moved"], rel=1e-9
        )

    def test_oversized_account_in_soft_mode(self) -> None:
        result = _align(*big_account(), candidates=3, soft=True)
        report = result.report
        assert report.soft is True
        assert report.balance_requested_potential == 0.05
        assert report.balance_potential >= BIG_MIN_BALANCE
        assert report.max_potential_deviation <= report.balance_potential + 1e-9
        assert any("soft mode" in note for note in report.notes)
        assert result.plan["BIG"] == "R0A"
        assert result.problem.is_feasible(_assignment(result), 1e-6)

    def test_tight_balance_in_soft_mode(self) -> None:
        result = _align(*proportional(), balance=0.0001, soft=True)
        report = result.report
        assert report.balance_potential >= PROPORTIONAL_MIN_BALANCE - 1e-6
        assert report.balance_workload >= PROPORTIONAL_MIN_BALANCE - 1e-6
        assert report.max_potential_deviation <= report.balance_potential + 1e-9
        assert report.max_workload_deviation <= report.balance_workload + 1e-9
        assert max(report.max_potential_deviation, report.max_workload_deviation) >= (
            PROPORTIONAL_MIN_BALANCE - 1e-6
        )  # no integer plan beats the fractional bound
        assert any("soft mode" in note for note in report.notes)
        assert result.assignments["rep_id"].notna().all()

    def test_soft_mode_keeps_capacity(self) -> None:
        """Six accounts of potential 1,000 and workload 1, 1, 1, 1, 1, 3; two tier-A reps.

        Targets are 3,000 and 4 h each, capacity 8 / 0.85 / 2 = 4.71 h. Three accounts a rep
        give 5 h and 3 h (over capacity); the 3 h account with one other gives 4 h and 4 h at
        ±33.3% potential, a plan within capacity.
        """
        accounts = pd.DataFrame(
            {
                "account_id": [f"a{i}" for i in range(6)],
                "lat": [38.0] * 6,
                "lon": [-74.0] * 6,
                "potential": [1000.0] * 6,
                "workload": [1.0, 1.0, 1.0, 1.0, 1.0, 3.0],
            }
        )
        reps = pd.DataFrame(
            {
                "rep_id": ["R0", "R1"],
                "lat": [38.0, 38.0],
                "lon": [-74.0, -74.0],
                "capacity": [8 / 0.85 / 2] * 2,
                "tier": ["A", "A"],
            }
        )
        result = _align(accounts, reps, solver="heuristic", soft=True)
        assert (result.territories["workload"] <= result.territories["capacity"] + 1e-9).all()
        assert result.report.status in ("OPTIMAL", "FEASIBLE")
        assert result.problem.is_feasible(_assignment(result), 1e-6)

    def test_soft_mode_changes_nothing_on_a_feasible_instance(self) -> None:
        accounts, reps = make_instance(60, 3, seed=5)
        hard = _align(accounts, reps, solver="heuristic", seed=2)
        soft = _align(accounts, reps, solver="heuristic", seed=2, soft=True)
        pd.testing.assert_frame_equal(hard.assignments, soft.assignments)
        assert soft.report.balance_potential == 0.05
        assert soft.report.notes == []


class TestErrorsAlign:
    def test_oversized_account_is_named_with_its_tolerance(self) -> None:
        with pytest.raises(InfeasibleError, match=r"account BIG alone holds potential 600") as err:
            _align(*big_account(), candidates=3)
        assert err.value.min_balance == pytest.approx(BIG_MIN_BALANCE, rel=1e-12)
        assert [r.subject for r in err.value.reasons] == ["account BIG"]
        assert "soft mode" in str(err.value)

    def test_tight_balance_names_a_rep_with_the_lp_tolerance(self) -> None:
        with pytest.raises(InfeasibleError, match=r"leaves rep RA with") as err:
            _align(*proportional(), balance=0.0001)
        (reason,) = err.value.reasons
        assert reason.subject == "rep RA"
        assert reason.constraint in ("potential_balance", "workload_balance")
        assert err.value.min_balance == pytest.approx(PROPORTIONAL_MIN_BALANCE, abs=1e-6)
        assert "8.11%" in str(err.value)

    def test_tolerance_just_above_the_lp_bound_is_not_refused_by_the_lp(self) -> None:
        """At ±10% the fractional bound (8.1%) no longer rules a plan out."""
        result = _align(*proportional(), balance=0.10)
        assert result.report.max_potential_deviation <= 0.10 + 1e-6
        assert result.report.max_workload_deviation <= 0.10 + 1e-6

    def test_tight_balance_on_generated_data_fails_with_advice(self) -> None:
        """Fractional plans meet ±0.01% here, so the LP cannot explain it; the search gives up."""
        accounts, reps = make_instance(40, 4, seed=2)
        with pytest.raises(SolveError, match=r"use --soft"):
            _align(accounts, reps, balance=0.0001, solver="heuristic", time_limit_s=5.0)
        result = _align(accounts, reps, balance=0.0001, solver="heuristic", soft=True)
        assert result.report.balance_potential > 0.0001
        assert any("soft mode" in note for note in result.report.notes)

    def test_workload_above_capacity(self) -> None:
        accounts, reps = proportional()
        reps["capacity"] = [150.0, 150.0]  # 300 h for 390 h of work
        with pytest.raises(InfeasibleError, match=r"capacity \(90 h short\)") as err:
            _align(accounts, reps)
        assert [r.subject for r in err.value.reasons] == ["all reps"]
        assert "need 390 h/year but the reps have 300 h/year" in str(err.value)
        assert err.value.min_balance is None

    def test_soft_mode_cannot_create_capacity(self) -> None:
        accounts, reps = proportional()
        reps["capacity"] = [150.0, 150.0]
        with pytest.raises(InfeasibleError, match="capacity"):
            _align(accounts, reps, soft=True)

    def test_unknown_solver(self) -> None:
        accounts, reps = make_instance(30, 3, seed=1)
        with pytest.raises(territory.SolverUnavailableError, match="Possible options are"):
            _align(accounts, reps, solver="gurobi")

    def test_invalid_input_is_reported(self) -> None:
        accounts, reps = big_account()
        accounts.loc[0, "lat"] = 123.0
        with pytest.raises(territory.DataValidationError, match="lat"):
            _align(accounts, reps)
