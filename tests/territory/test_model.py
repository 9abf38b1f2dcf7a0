"""Tests for territory.domain.model (targets, windows, candidate pairs, costs) and
territory.domain.geo.

Most tests use six accounts on the equator between three reps ten degrees apart, so that every
distance is a whole number of degrees (1 degree = 111.195 km)::

    lon:  0   1   2   ...   9   10   11   ...   18  19  20
          R0  a0  a1        a2  R1   a3         a4  a5  R2

Every account has potential 100 and workload 10; every rep capacity 1,000 and tier B. The
targets are therefore 200 potential and 20 hours per rep, and the plan
``a0 a1 -> R0, a2 a3 -> R1, a4 a5 -> R2`` meets them exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from territory.domain.geo import EARTH_RADIUS_KM, haversine_km, unit_vectors
from territory.domain.model import (
    DEFAULT_TIER_FACTORS,
    AlignmentProblem,
    AlignmentSettings,
    BalanceRule,
    build_problem,
    targets,
)
from territory.errors import DataValidationError

KM_PER_DEGREE = 2 * math.pi * EARTH_RADIUS_KM / 360
BALANCED = np.array([0, 0, 1, 1, 2, 2])


def _reps(n: int = 3) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rep_id": [f"R{r}" for r in range(n)],
            "lat": [0.0] * n,
            "lon": [10.0 * r for r in range(n)],
            "capacity": [1000.0] * n,
        }
    )


def _accounts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": [f"a{i}" for i in range(6)],
            "lat": [0.0] * 6,
            "lon": [1.0, 2.0, 9.0, 11.0, 18.0, 19.0],
            "potential": [100.0] * 6,
            "workload": [10.0] * 6,
        }
    )


def _with(frame: pd.DataFrame, **columns: list[str | float | None]) -> pd.DataFrame:
    """A copy of ``frame`` with text columns that may hold blanks (None, NaN or "")."""
    out = frame.copy()
    for name, values in columns.items():
        out[name] = np.array(values, dtype=object)
    return out


def _candidates(problem: AlignmentProblem, account: int) -> list[int]:
    lo, hi = problem.account_start[account], problem.account_start[account + 1]
    return sorted(problem.pair_rep[lo:hi].tolist())


class TestSyntheticTargets:
    def test_potential_follows_capacity_times_tier_and_workload_capacity(self) -> None:
        reps = _reps().assign(capacity=[1000.0, 1500.0, 2000.0], tier=["A", "B", "C"])
        problem = build_problem(_accounts(), reps)
        weights = np.array([1000 * 1.15, 1500 * 1.0, 2000 * 0.85])
        assert problem.tier_factor.tolist() == [1.15, 1.0, 0.85]
        assert problem.potential_target == pytest.approx(600 * weights / weights.sum())
        assert problem.workload_target == pytest.approx(60 * np.array([1.0, 1.5, 2.0]) / 4.5)
        assert problem.potential_target.sum() == pytest.approx(600.0)
        assert problem.workload_target.sum() == pytest.approx(60.0)

    def test_custom_tier_factors(self) -> None:
        reps = _reps().assign(tier=["A", "B", "C"])
        settings = AlignmentSettings(tier_factors={"A": 3.0, "B": 2.0, "C": 1.0})
        problem = build_problem(_accounts(), reps, settings)
        assert problem.potential_target == pytest.approx([300.0, 200.0, 100.0])
        assert problem.workload_target == pytest.approx([20.0, 20.0, 20.0])

    def test_default_tier_factors(self) -> None:
        assert dict(DEFAULT_TIER_FACTORS) == {"A": 1.15, "B": 1.0, "C": 0.85}

    def test_targets_split_a_total(self) -> None:
        assert targets(90.0, np.array([1.0, 2.0, 6.0])) == pytest.approx([10.0, 20.0, 60.0])
        assert targets(90.0, np.zeros(3)).tolist() == [0.0, 0.0, 0.0]

    def test_windows_follow_the_rule(self) -> None:
        rule = BalanceRule(potential=0.10, workload=0.05)
        problem = build_problem(_accounts(), _reps(), AlignmentSettings(balance=rule))
        assert problem.potential_lo == pytest.approx([180.0] * 3)
        assert problem.potential_hi == pytest.approx([220.0] * 3)
        assert problem.workload_lo == pytest.approx([19.0] * 3)
        assert problem.workload_hi == pytest.approx([21.0] * 3)

    def test_workload_upper_is_capped_by_capacity(self) -> None:
        """Total workload equals total capacity, so each target is the capacity itself."""
        reps = _reps().assign(capacity=[10.0, 20.0, 30.0])
        problem = build_problem(_accounts(), reps)
        assert problem.workload_target == pytest.approx([10.0, 20.0, 30.0])
        assert problem.workload_hi == pytest.approx([10.0, 20.0, 30.0])
        assert problem.workload_lo == pytest.approx([9.5, 19.0, 28.5])

    def test_overtime_lifts_the_capacity_cap(self) -> None:
        reps = _reps().assign(capacity=[10.0, 20.0, 30.0])
        rule = BalanceRule(allow_overtime=True)
        problem = build_problem(_accounts(), reps, AlignmentSettings(balance=rule))
        assert problem.workload_hi == pytest.approx([10.5, 21.0, 31.5])

    def test_balance_rule_widened(self) -> None:
        rule = BalanceRule(potential=0.05, workload=0.10, soft=True, allow_overtime=True)
        wider = rule.widened(0.20, 0.02)
        assert wider == BalanceRule(potential=0.20, workload=0.10, soft=True, allow_overtime=True)


class TestSyntheticCandidates:
    def test_k_nearest_reps(self) -> None:
        problem = build_problem(_accounts(), _reps(), AlignmentSettings(candidates=2))
        assert [_candidates(problem, a) for a in range(6)] == [
            [0, 1],
            [0, 1],
            [0, 1],  # a2 at lon 9: R1 at 1 degree, R0 at 9, R2 at 11
            [1, 2],
            [1, 2],
            [1, 2],
        ]

    def test_k_larger_than_reps_gives_every_rep(self) -> None:
        problem = build_problem(_accounts(), _reps(), AlignmentSettings(candidates=8))
        assert problem.n_pairs == 18
        assert all(_candidates(problem, a) == [0, 1, 2] for a in range(6))

    def test_current_rep_is_always_a_candidate(self) -> None:
        accounts = _with(_accounts(), current_rep=["R2", None, "", None, "R0", None])
        problem = build_problem(accounts, _reps(), AlignmentSettings(candidates=2))
        assert problem.current.tolist() == [2, -1, -1, -1, 0, -1]
        assert _candidates(problem, 0) == [0, 1, 2]
        assert _candidates(problem, 1) == [0, 1]
        assert _candidates(problem, 4) == [0, 1, 2]

    def test_locked_account_has_only_its_locked_rep(self) -> None:
        accounts = _with(
            _accounts(),
            current_rep=["R1", None, None, None, "R2", None],
            locked_rep=[None, None, None, None, "R0", np.nan],
        )
        problem = build_problem(accounts, _reps(), AlignmentSettings(candidates=3))
        assert problem.locked.tolist() == [-1, -1, -1, -1, 0, -1]
        assert _candidates(problem, 4) == [0]
        assert all(_candidates(problem, a) == [0, 1, 2] for a in (0, 1, 2, 3, 5))

    def test_pair_arrays_are_sorted_csr(self) -> None:
        accounts = _with(
            _accounts(),
            current_rep=["R2", None, None, "R0", None, None],
            locked_rep=[None, "R2", None, None, None, None],
        )
        problem = build_problem(accounts, _reps(4), AlignmentSettings(candidates=2))
        keys = problem.pair_account * problem.n_reps + problem.pair_rep
        assert (np.diff(keys) > 0).all()  # sorted by account, then rep, no duplicates
        assert problem.account_start[0] == 0
        assert problem.account_start[-1] == problem.n_pairs
        assert problem.account_start.shape == (problem.n_accounts + 1,)
        for a in range(problem.n_accounts):
            lo, hi = problem.account_start[a], problem.account_start[a + 1]
            assert hi > lo
            assert (problem.pair_account[lo:hi] == a).all()
        assert problem.pair_distance_km.shape == problem.pair_cost.shape == keys.shape

    def test_coverage_pairs_for_an_out_of_the_way_rep(self) -> None:
        """R3 at lon 40 is nobody's nearest or second-nearest rep.

        Without extra pairs it could hold nothing and its window could never be met, so it
        considers its nearest free accounts (here every free one; a4 is locked to R0).
        """
        accounts = _with(_accounts(), locked_rep=[None, None, None, None, "R0", None])
        problem = build_problem(accounts, _reps(4), AlignmentSettings(candidates=2))
        r3_accounts = problem.pair_account[problem.pair_rep == 3]
        assert sorted(r3_accounts.tolist()) == [0, 1, 2, 3, 5]
        assert _candidates(problem, 4) == [0]
        # The reps that are near enough keep their plain nearest-two candidates.
        assert _candidates(problem, 0) == [0, 1, 3]
        assert _candidates(problem, 5) == [1, 2, 3]

    def test_no_coverage_pairs_when_windows_are_reachable(self) -> None:
        problem = build_problem(_accounts(), _reps(), AlignmentSettings(candidates=2))
        assert problem.n_pairs == 12


class TestSyntheticCosts:
    def test_pair_distance_and_cost_without_history(self) -> None:
        problem = build_problem(_accounts(), _reps(), AlignmentSettings(candidates=3))
        lon = np.array([1.0, 2.0, 9.0, 11.0, 18.0, 19.0])
        degrees = np.abs(lon[problem.pair_account] - 10.0 * problem.pair_rep)
        assert problem.pair_distance_km == pytest.approx(degrees * KM_PER_DEGREE)
        assert problem.pair_cost == pytest.approx(10.0 * degrees * KM_PER_DEGREE)

    def test_disruption_is_charged_only_when_moving_away(self) -> None:
        accounts = _with(
            _accounts().assign(
                workload=[10.0, 20.0, 30.0, 40.0, 50.0, 60.0],
                potential=[100.0, 200.0, 300.0, 400.0, 500.0, 600.0],
            ),
            current_rep=["R2", None, "R1", "R0", None, "R2"],
        )
        settings = AlignmentSettings(candidates=3, disruption_weight=0.5)
        problem = build_problem(accounts, _reps(), settings)
        travel = accounts["workload"].to_numpy()[problem.pair_account] * (problem.pair_distance_km)
        current = np.array([2, -1, 1, 0, -1, 2])[problem.pair_account]
        moved = (current >= 0) & (problem.pair_rep != current)
        potential = accounts["potential"].to_numpy()[problem.pair_account]
        assert problem.pair_cost == pytest.approx(travel + 0.5 * np.where(moved, potential, 0.0))
        # a0 (workload 10, potential 100, current R2) to R0: 1 degree plus half its potential.
        first = int(np.flatnonzero((problem.pair_account == 0) & (problem.pair_rep == 0))[0])
        assert problem.pair_cost[first] == pytest.approx(10 * KM_PER_DEGREE + 50.0)

    def test_objective_loads_violation_on_the_balanced_plan(self) -> None:
        problem = build_problem(_accounts(), _reps(), AlignmentSettings(candidates=2))
        # degrees travelled: 1 + 2 + 1 + 1 + 2 + 1 = 8, at 10 h each
        assert problem.objective(BALANCED) == pytest.approx(80 * KM_PER_DEGREE)
        potential, workload = problem.loads(BALANCED)
        assert potential.tolist() == [200.0, 200.0, 200.0]
        assert workload.tolist() == [20.0, 20.0, 20.0]
        assert problem.violation(BALANCED) == 0.0
        assert problem.is_feasible(BALANCED)

    def test_violation_is_relative_to_target(self) -> None:
        """a2 with R0: R0 holds 300/30 (hi 210/21), R1 100/10 (lo 190/19).

        Each of the four window breaches is 90/200 = 9/20 = 0.45 of its target.
        """
        problem = build_problem(_accounts(), _reps(), AlignmentSettings(candidates=2))
        plan = np.array([0, 0, 0, 1, 2, 2])
        assert problem.loads(plan)[0].tolist() == [300.0, 100.0, 200.0]
        assert problem.violation(plan) == pytest.approx(4 * 0.45)
        assert not problem.is_feasible(plan)
        # a2 now travels 9 degrees instead of 1: (8 + 8) x 10 h degree-hours in all.
        assert problem.objective(plan) == pytest.approx(160 * KM_PER_DEGREE)

    def test_pair_index(self) -> None:
        problem = build_problem(_accounts(), _reps(), AlignmentSettings(candidates=2))
        assert problem.pair_index(BALANCED).tolist() == [0, 2, 5, 6, 9, 11]
        outside = np.array([2, 0, 1, 1, 2, 0])  # R2 is no candidate of a0, nor R0 of a5
        assert problem.pair_index(outside).tolist() == [-1, 2, 5, 6, 9, -1]
        assert not problem.is_feasible(outside)

    def test_sizes(self) -> None:
        problem = build_problem(_accounts(), _reps(), AlignmentSettings(candidates=2))
        assert (problem.n_accounts, problem.n_reps, problem.n_pairs) == (6, 3, 12)
        assert problem.account_ids.tolist() == [f"a{i}" for i in range(6)]
        assert problem.rep_ids.tolist() == ["R0", "R1", "R2"]


class TestSyntheticGeo:
    def test_one_degree_on_the_equator(self) -> None:
        assert float(haversine_km(0.0, 0.0, 0.0, 1.0)) == pytest.approx(111.195, abs=1e-3)
        assert float(haversine_km(0.0, 0.0, 1.0, 0.0)) == pytest.approx(111.195, abs=1e-3)

    def test_new_york_to_los_angeles(self) -> None:
        km = float(haversine_km(40.7128, -74.0060, 34.0522, -118.2437))
        assert km == pytest.approx(3936.0, abs=5.0)

    def test_antipodes_and_same_point(self) -> None:
        assert float(haversine_km(0.0, 0.0, 0.0, 180.0)) == pytest.approx(math.pi * EARTH_RADIUS_KM)
        assert float(haversine_km(12.5, 45.0, 12.5, 45.0)) == 0.0

    def test_symmetric_and_broadcasting(self) -> None:
        lat = np.array([0.0, 10.0, -33.9])
        lon = np.array([0.0, 20.0, 151.2])
        there = haversine_km(lat, lon, 51.5, -0.13)
        back = haversine_km(51.5, -0.13, lat, lon)
        assert there.shape == (3,)
        assert there == pytest.approx(back)
        across_dateline = float(haversine_km(0.0, 179.5, 0.0, -179.5))
        assert across_dateline == pytest.approx(KM_PER_DEGREE)

    def test_unit_vectors_order_like_great_circle(self) -> None:
        xyz = unit_vectors(np.array([0.0, 90.0]), np.array([0.0, 0.0]))
        assert xyz == pytest.approx(np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), abs=1e-12)
        points = unit_vectors(np.array([0.0, 0.0, 0.0]), np.array([1.0, 5.0, 30.0]))
        chord = np.linalg.norm(points - unit_vectors(0.0, 0.0), axis=1)
        assert (np.diff(chord) > 0).all()


class TestErrorsModel:
    def test_unknown_tier_names_the_known_ones(self) -> None:
        reps = _reps().assign(tier=["A", "D", "B"])
        with pytest.raises(DataValidationError, match=r"tier\(s\) \['D'\] have no tier factor"):
            build_problem(_accounts(), reps)

    def test_objective_rejects_a_non_candidate_rep(self) -> None:
        locked = _accounts().assign(locked_rep=["R0"] * 6)
        only_r0 = build_problem(locked, _reps(), AlignmentSettings(candidates=1))
        assert only_r0.n_pairs == 6
        with pytest.raises(ValueError, match="not a candidate"):
            only_r0.objective(BALANCED)
