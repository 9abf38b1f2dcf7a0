"""Every available backend on the same tiny instances, checked against brute force.

The brute-force instances have ten accounts scattered over a 2 x 4 degree box around three reps
(tiers A, B, C) with a ±10% window on potential and workload and every rep a candidate of every
account, so 3**10 = 59,049 plans can be scored at once with numpy::

    reps      lat    lon     capacity  tier
    R0        40.5   -75.5   1,000     A
    R1        41.5   -75.0   1,200     B
    R2        41.0   -72.5   1,500     C

The windows bind: the cheapest plan (every account with its nearest rep) breaks them, so the
optimum is a real trade-off. With a disruption weight, a seeded current rep makes moving cost.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

# isort: off
# `solvers` cannot be imported before `territory` (circular import; see
# TestErrorsBackends.test_solvers_imports_on_its_own), so territory comes first here.
import territory  # noqa: F401

# isort: on
from solvers import SOLVERS, Solution, SolveStatus, get_solver
from solvers.cpsat import CpSatSolver
from solvers.heuristic import HeuristicSolver
from solvers.lp import solve_min_deviation, solve_relaxation
from solvers.mip import MipSolver
from territory.domain.model import AlignmentProblem, AlignmentSettings, BalanceRule, build_problem
from territory.domain.synthetic import make_instance
from territory.errors import SolverUnavailableError
from tests.instances import proportional, six_on_a_line

TIME_LIMIT_S = 20.0
REL = 1e-7  # CP-SAT optimises integer-scaled costs; the plans are re-costed in floating point
EXACT = [name for name in SOLVERS if name != "heuristic"]
# Between them these cases make every window bind (lower and upper, potential and workload).
CASES = [(0, 0.0), (9, 0.0), (11, 0.0), (3, 0.05), (8, 0.05), (10, 0.05)]


def _tiny(seed: int, disruption_weight: float) -> AlignmentProblem:
    rng = np.random.default_rng(seed)
    n = 10
    accounts = pd.DataFrame(
        {
            "account_id": [f"a{i}" for i in range(n)],
            "lat": rng.uniform(40.0, 42.0, n).round(3),
            "lon": rng.uniform(-76.0, -72.0, n).round(3),
            "potential": rng.integers(50, 300, n) * 1000.0,
            "workload": rng.integers(20, 120, n) * 1.0,
            "current_rep": np.random.default_rng(seed + 100).choice(["R0", "R1", "R2"], n),
        }
    )
    reps = pd.DataFrame(
        {
            "rep_id": ["R0", "R1", "R2"],
            "lat": [40.5, 41.5, 41.0],
            "lon": [-75.5, -75.0, -72.5],
            "capacity": [1000.0, 1200.0, 1500.0],
            "tier": ["A", "B", "C"],
        }
    )
    settings = AlignmentSettings(
        balance=BalanceRule(potential=0.10, workload=0.10),
        candidates=3,
        disruption_weight=disruption_weight,
    )
    return build_problem(accounts, reps, settings)


def _brute_force(problem: AlignmentProblem) -> tuple[float, np.ndarray]:
    """Cheapest plan meeting every window, among all n_reps ** n_accounts plans."""
    n, r_count = problem.n_accounts, problem.n_reps
    plans = np.array(list(itertools.product(range(r_count), repeat=n)), dtype=np.int64)
    cost = np.full((n, r_count), np.inf)
    cost[problem.pair_account, problem.pair_rep] = problem.pair_cost
    total = cost[np.arange(n), plans].sum(axis=1)
    ok = np.ones(len(plans), dtype=bool)
    for r in range(r_count):
        member = (plans == r).astype(np.float64)
        potential, workload = member @ problem.potential, member @ problem.workload
        ok &= (potential >= problem.potential_lo[r]) & (potential <= problem.potential_hi[r])
        ok &= (workload >= problem.workload_lo[r]) & (workload <= problem.workload_hi[r])
    total = np.where(ok, total, np.inf)
    best = int(np.argmin(total))
    return float(total[best]), plans[best]


def _backend(name: str, **options: Any) -> Any:
    cls = SOLVERS[name]
    backend = cls(relative_gap=0.0, **options) if name in EXACT else cls(**options)
    if not backend.available():
        pytest.skip(f"backend {name} is not available here")
    return backend


@pytest.fixture(scope="module", params=CASES, ids=[f"seed{s}-dw{w}" for s, w in CASES])
def tiny(request: pytest.FixtureRequest) -> tuple[AlignmentProblem, float, Solution]:
    """The problem, its brute-force optimum and the heuristic's solution (the warm start)."""
    problem = _tiny(*request.param)
    optimum, plan = _brute_force(problem)
    assert np.isfinite(optimum), "the fixture must admit a plan"
    assert problem.is_feasible(plan)
    warm = HeuristicSolver().solve(problem, time_limit_s=TIME_LIMIT_S, seed=1)
    return problem, optimum, warm


class TestSyntheticBackends:
    @pytest.mark.parametrize("seed", sorted({seed for seed, _ in CASES}))
    def test_windows_bind_on_the_fixture(self, seed: int) -> None:
        """The nearest-rep plan breaks a window, so the optimum differs from it."""
        problem = _tiny(seed, 0.0)
        distance = np.full((problem.n_accounts, problem.n_reps), np.inf)
        distance[problem.pair_account, problem.pair_rep] = problem.pair_distance_km
        nearest = distance.argmin(axis=1)
        assert not problem.is_feasible(nearest)
        optimum, plan = _brute_force(problem)
        assert optimum > problem.objective(nearest)
        assert (plan != nearest).any()

    @pytest.mark.parametrize("name", EXACT)
    def test_exact_backend_reaches_the_brute_force_optimum(
        self, name: str, tiny: tuple[AlignmentProblem, float, Solution]
    ) -> None:
        problem, optimum, warm = tiny
        solution = _backend(name).solve(problem, time_limit_s=TIME_LIMIT_S, seed=3, warm_start=warm)
        assert solution.status == SolveStatus.OPTIMAL
        assert problem.is_feasible(solution.assignment, 1e-6)
        assert solution.objective == pytest.approx(optimum, rel=REL)
        assert solution.objective == pytest.approx(problem.objective(solution.assignment))
        assert solution.bound is not None
        assert solution.bound <= solution.objective + 1e-9 * abs(solution.objective)
        assert solution.bound == pytest.approx(optimum, rel=1e-6)
        assert solution.gap is not None and solution.gap <= 1e-6
        assert solution.backend.startswith(name)

    @pytest.mark.parametrize("name", EXACT)
    def test_exact_backend_without_warm_start(self, name: str) -> None:
        problem = _tiny(9, 0.05)
        optimum, _ = _brute_force(problem)
        solution = _backend(name).solve(problem, time_limit_s=TIME_LIMIT_S, seed=3)
        assert solution.status == SolveStatus.OPTIMAL
        assert solution.objective == pytest.approx(optimum, rel=REL)

    def test_heuristic_is_feasible_above_the_optimum_and_bounded_below_it(
        self, tiny: tuple[AlignmentProblem, float, Solution]
    ) -> None:
        problem, optimum, warm = tiny
        assert warm.backend == "heuristic"
        assert warm.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
        assert problem.is_feasible(warm.assignment)
        assert warm.objective == pytest.approx(problem.objective(warm.assignment))
        assert warm.objective >= optimum * (1 - 1e-12)
        assert warm.bound is not None
        assert warm.bound <= optimum * (1 + 1e-9)
        assert warm.gap is not None and warm.gap >= 0.0
        assert warm.bound_source == "LP relaxation"

    def test_heuristic_plan_is_a_local_optimum(
        self, tiny: tuple[AlignmentProblem, float, Solution]
    ) -> None:
        """No single move, nor swap of two accounts, keeps every window and costs less."""
        problem, _, warm = tiny
        plan, cost = warm.assignment, warm.objective
        tol = 1e-9 * max(1.0, abs(cost))
        candidates = [
            set(problem.pair_rep[problem.account_start[a] : problem.account_start[a + 1]].tolist())
            for a in range(problem.n_accounts)
        ]
        for a in range(problem.n_accounts):
            for r in candidates[a] - {int(plan[a])}:
                moved = plan.copy()
                moved[a] = r
                if problem.is_feasible(moved):
                    assert problem.objective(moved) >= cost - tol, (a, r)
        for a, b in itertools.combinations(range(problem.n_accounts), 2):
            ra, rb = int(plan[a]), int(plan[b])
            if ra == rb or rb not in candidates[a] or ra not in candidates[b]:
                continue
            swapped = plan.copy()
            swapped[a], swapped[b] = rb, ra
            if problem.is_feasible(swapped):
                assert problem.objective(swapped) >= cost - tol, (a, b)

    def test_heuristic_without_lp_has_no_bound(self) -> None:
        problem = _tiny(3, 0.0)
        optimum, _ = _brute_force(problem)
        solution = HeuristicSolver(use_lp=False).solve(problem, time_limit_s=TIME_LIMIT_S, seed=1)
        assert problem.is_feasible(solution.assignment)
        assert solution.objective >= optimum * (1 - 1e-12)
        assert solution.bound is None
        assert solution.gap is None
        assert solution.bound_source == "none"

    def test_heuristic_is_deterministic(self) -> None:
        problem = _tiny(9, 0.05)
        first = HeuristicSolver().solve(problem, time_limit_s=TIME_LIMIT_S, seed=5)
        second = HeuristicSolver().solve(problem, time_limit_s=TIME_LIMIT_S, seed=5)
        assert first.assignment.tolist() == second.assignment.tolist()
        assert first.objective == second.objective

    def test_every_available_backend_agrees_on_a_generated_instance(self) -> None:
        accounts, reps = make_instance(24, 3, seed=5)
        settings = AlignmentSettings(balance=BalanceRule(0.05, 0.05), candidates=3)
        problem = build_problem(accounts, reps, settings)
        warm = HeuristicSolver().solve(problem, time_limit_s=TIME_LIMIT_S, seed=1)
        assert problem.is_feasible(warm.assignment)
        objectives = {}
        for name in EXACT:
            backend = SOLVERS[name](relative_gap=0.0)
            if not backend.available():
                continue
            solution = backend.solve(problem, time_limit_s=TIME_LIMIT_S, seed=1, warm_start=warm)
            assert solution.status == SolveStatus.OPTIMAL, name
            assert problem.is_feasible(solution.assignment, 1e-6), name
            assert solution.bound is not None and solution.bound <= solution.objective * (1 + 1e-9)
            objectives[name] = solution.objective
        assert objectives, "no exact backend is available"
        best = min(objectives.values())
        assert all(v == pytest.approx(best, rel=REL) for v in objectives.values()), objectives
        assert warm.objective >= best * (1 - 1e-12)
        assert warm.bound is not None and warm.bound <= best * (1 + 1e-9)

    def test_registry_and_get_solver(self) -> None:
        assert set(SOLVERS) == {"cpsat", "mip", "heuristic"}
        assert isinstance(get_solver("cpsat", relative_gap=0.01), CpSatSolver)
        assert isinstance(get_solver("mip"), MipSolver)
        heuristic = get_solver("heuristic", use_lp=False)
        assert isinstance(heuristic, HeuristicSolver)
        assert heuristic.use_lp is False
        assert get_solver("cpsat", relative_gap=0.01).relative_gap == 0.01  # type: ignore[attr-defined]


class TestSyntheticSolution:
    @staticmethod
    def _solution(objective: float, bound: float | None) -> Solution:
        return Solution(
            assignment=np.zeros(1, dtype=np.int64),
            status=SolveStatus.FEASIBLE,
            objective=objective,
            bound=bound,
            bound_source="test",
            backend="test",
            seconds=0.0,
        )

    def test_gap_is_relative_to_the_objective(self) -> None:
        assert self._solution(200.0, 150.0).gap == pytest.approx(0.25)
        assert self._solution(200.0, 200.0).gap == 0.0

    def test_gap_without_a_bound_is_unknown(self) -> None:
        assert self._solution(200.0, None).gap is None

    def test_gap_of_a_zero_objective_is_zero(self) -> None:
        assert self._solution(0.0, -5.0).gap == 0.0

    def test_gap_is_never_negative(self) -> None:
        assert self._solution(200.0, 200.0 + 1e-9).gap == 0.0

    def test_status_values(self) -> None:
        assert [s.value for s in SolveStatus] == [
            "OPTIMAL",
            "FEASIBLE",
            "TIME_LIMIT",
            "INFEASIBLE",
            "ERROR",
        ]


class TestSyntheticRelaxations:
    def test_lp_bound_is_below_the_integer_optimum(
        self, tiny: tuple[AlignmentProblem, float, Solution]
    ) -> None:
        problem, optimum, _ = tiny
        lp = solve_relaxation(problem, time_limit_s=TIME_LIMIT_S)
        assert lp.optimal and not lp.infeasible
        assert lp.objective is not None and lp.x is not None
        assert lp.objective <= optimum * (1 + 1e-9)
        # The cheapest candidate of every account bounds the LP from below.
        cheapest = np.minimum.reduceat(problem.pair_cost, problem.account_start[:-1]).sum()
        assert lp.objective >= cheapest * (1 - 1e-9)
        # Each account's fractions sum to one.
        per_account = np.bincount(problem.pair_account, weights=lp.x)
        assert per_account == pytest.approx(np.ones(problem.n_accounts), abs=1e-6)

    def test_min_deviation_is_zero_when_perfectly_balanceable(self) -> None:
        """Six equal accounts, two per rep by geography: exactly on target."""
        accounts, reps = six_on_a_line()
        problem = build_problem(accounts, reps, AlignmentSettings(candidates=2))
        result = solve_min_deviation(problem, time_limit_s=TIME_LIMIT_S)
        assert result.optimal
        assert result.max_deviation == pytest.approx(0.0, abs=1e-7)

    def test_min_deviation_when_every_account_is_locked_to_one_rep(self) -> None:
        """Two equal reps, everything locked to R0: R0 holds twice its target, R1 nothing.

        The smallest tolerance is therefore exactly 100%.
        """
        accounts = pd.DataFrame(
            {
                "account_id": ["a0", "a1", "a2", "a3"],
                "lat": [0.0] * 4,
                "lon": [1.0, 2.0, 8.0, 9.0],
                "potential": [100.0, 200.0, 300.0, 400.0],
                "workload": [10.0, 20.0, 30.0, 40.0],
                "locked_rep": ["R0"] * 4,
            }
        )
        reps = pd.DataFrame(
            {"rep_id": ["R0", "R1"], "lat": [0.0, 0.0], "lon": [0.0, 10.0], "capacity": 1000.0}
        )
        problem = build_problem(accounts, reps)
        assert solve_relaxation(problem).infeasible
        result = solve_min_deviation(problem, time_limit_s=TIME_LIMIT_S)
        assert result.optimal
        assert result.max_deviation is not None
        assert result.max_deviation == pytest.approx(1.0, abs=1e-6)

    def test_min_deviation_when_potential_follows_workload(self) -> None:
        """Tier A and C reps of equal capacity; every account has potential = 1,000 x workload.

        Giving the A rep a share (1 + u) / 2 of the workload gives it the same share of the
        potential, against targets 1.15 / 2 and 0.85 / 2. The largest deviation
        max(u, (0.15 - u) / 0.85) is smallest at u = 0.15 / 1.85 = 8.108%.
        """
        accounts, reps = proportional()
        problem = build_problem(accounts, reps)
        result = solve_min_deviation(problem, time_limit_s=TIME_LIMIT_S)
        assert result.optimal
        assert result.max_deviation == pytest.approx(0.15 / 1.85, abs=1e-6)


ROOT = Path(__file__).resolve().parents[2]


def _import_in_subprocess(modules: str) -> str:
    """Import in a fresh interpreter (nothing imported yet); returns stderr on failure."""
    result = subprocess.run(
        [sys.executable, "-c", f"import {modules}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return "" if result.returncode == 0 else result.stderr


class TestErrorsBackends:
    @pytest.mark.parametrize("module", ["solvers", "solvers.lp", "solvers.heuristic"])
    def test_solvers_imports_on_its_own(self, module: str) -> None:
        assert _import_in_subprocess(module) == ""

    def test_solvers_imports_after_territory(self) -> None:
        """The control for the test above: the environment itself can import both."""
        assert _import_in_subprocess("territory, solvers.lp, solvers.heuristic") == ""

    def test_unknown_solver_lists_the_options(self) -> None:
        with pytest.raises(
            SolverUnavailableError,
            match=r"unknown solver 'gurobi'\. Possible options are: cpsat, mip, heuristic",
        ):
            get_solver("gurobi")

    @pytest.mark.parametrize("name", list(SOLVERS))
    def test_impossible_windows_give_infeasible(self, name: str) -> None:
        """The proportional fixture at ±0.01%: not even a fractional plan exists (it needs 8.1%)."""
        accounts, reps = proportional()
        settings = AlignmentSettings(balance=BalanceRule(0.0001, 0.0001), candidates=2)
        problem = build_problem(accounts, reps, settings)
        solution = _backend(name).solve(problem, time_limit_s=TIME_LIMIT_S, seed=1)
        assert solution.status == SolveStatus.INFEASIBLE
        assert solution.bound is None
        assert solution.gap is None
        assert not problem.is_feasible(solution.assignment)
        assert solution.assignment.shape == (problem.n_accounts,)
