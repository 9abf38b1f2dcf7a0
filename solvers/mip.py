"""MIP backend: the assignment model in PuLP, solved by HiGHS (CBC when HiGHS is missing).

HiGHS receives the heuristic plan as a starting solution, so it improves a feasible plan instead
of searching for one from scratch (which, on 10,000 accounts, it does not find in minutes).
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
import pulp

from solvers.base import IntArray, Solution, SolveStatus
from solvers.contiguity import cut_rows, separator_cuts
from solvers.exact import ExactSolver, cut_edge_vars, pairs_by_rep
from solvers.heuristic import chosen_pairs
from solvers.interrupt import run_highs
from territory.domain.budget import Budget
from territory.domain.model import AlignmentProblem


def _highs_available() -> bool:
    try:
        return bool(pulp.HiGHS(msg=False).available())
    except Exception:  # pragma: no cover - depends on the installation
        return False


def _cbc_available() -> bool:
    try:
        return bool(pulp.PULP_CBC_CMD(msg=False).available())
    except Exception:  # pragma: no cover - depends on the installation
        return False


class _WarmHiGHS(pulp.HiGHS):
    """PuLP's HiGHS adapter, plus the starting solution PuLP does not pass on by itself."""

    def callSolver(self, lp: Any) -> None:  # noqa: N802 - PuLP's method name
        variables = lp.variables()
        start = [0.0] * len(variables)
        for v in variables:
            start[v.index] = float(v.varValue or 0.0)
        if any(start):
            lp.solverModel.setSolution(self._solution(start))
        run_highs(lp.solverModel)

    def findSolutionValues(self, lp: Any) -> Any:  # noqa: N802 - PuLP's method name
        """PuLP has no entry for HiGHS's node/solution limits; values are read before it fails."""
        try:
            return super().findSolutionValues(lp)
        except KeyError:
            return pulp.LpStatusNotSolved, pulp.LpSolutionIntegerFeasible

    @staticmethod
    def _solution(values: list[float]) -> Any:
        import highspy

        solution = highspy.HighsSolution()
        solution.col_value = values
        solution.value_valid = True
        return solution


def _plan_of(problem: AlignmentProblem, values: npt.NDArray[np.bool_]) -> IntArray | None:
    """Read the assignment the chosen pairs describe; None unless each account has exactly one."""
    pa, pr = problem.pair_account, problem.pair_rep
    if not (np.bincount(pa[values], minlength=problem.n_accounts) == 1).all():
        return None
    plan = np.empty(problem.n_accounts, dtype=np.int64)
    plan[pa[values]] = pr[values]
    return plan


class MipSolver(ExactSolver):
    """Exact backend through PuLP; ``engine`` is ``"highs"``, ``"cbc"`` or ``"auto"``."""

    name = "mip"

    def __init__(self, engine: str = "auto", relative_gap: float = 1e-6, threads: int = 1) -> None:
        self.engine = engine
        self.relative_gap = relative_gap
        self.threads = threads

    def available(self) -> bool:
        """Return True when HiGHS or CBC can be called through PuLP."""
        return _highs_available() or _cbc_available()

    def _engine(self) -> str:
        if self.engine == "auto":
            return "highs" if _highs_available() else "cbc"
        return self.engine

    def _improve(
        self, problem: AlignmentProblem, warm_start: Solution, budget: Budget, seed: int
    ) -> Solution:
        """Build the PuLP model, start it from the warm start and solve within the time limit."""
        pa, pr = problem.pair_account, problem.pair_rep
        model = pulp.LpProblem("alignment", pulp.LpMinimize)
        x = [model.add_variable(f"x{p}", 0, 1, cat=pulp.LpBinary) for p in range(problem.n_pairs)]

        # Every account goes to exactly one of its candidate reps.
        starts = problem.account_start.tolist()
        for a in range(problem.n_accounts):
            members = x[starts[a] : starts[a + 1]]
            model += pulp.LpAffineExpression([(v, 1.0) for v in members]) == 1, f"one_{a}"

        # Each rep's potential and workload stay inside their windows.
        for r, members in enumerate(pairs_by_rep(problem)):
            pot = pulp.LpAffineExpression(
                [(x[p], float(problem.potential[pa[p]])) for p in members]
            )
            wl = pulp.LpAffineExpression([(x[p], float(problem.workload[pa[p]])) for p in members])
            model += pot >= float(problem.potential_lo[r]), f"pot_lo_{r}"
            model += pot <= float(problem.potential_hi[r]), f"pot_hi_{r}"
            model += wl >= float(problem.workload_lo[r]), f"wl_lo_{r}"
            model += wl <= float(problem.workload_hi[r]), f"wl_hi_{r}"

        # Minimise travel plus disruption (plus the price of cut unit edges).
        objective = pulp.LpAffineExpression(
            [(v, float(c)) for v, c in zip(x, problem.pair_cost.tolist(), strict=True)]
        )
        new_var = partial(model.add_variable, lowBound=0, upBound=1)
        for cut_var in cut_edge_vars(problem, x, new_var, model.addConstraint):
            objective += problem.settings.cut_edge_weight * cut_var
        model += objective

        # Start from the heuristic plan.
        chosen = chosen_pairs(problem, warm_start.assignment)
        for v, value in zip(x, chosen, strict=True):
            v.setInitialValue(1.0 if value else 0.0)

        remaining = budget.remaining()
        engine = self._engine()
        solver: Any
        if engine == "highs":
            solver = _WarmHiGHS(
                msg=False,
                timeLimit=remaining,
                gapRel=self.relative_gap,
                threads=self.threads,
                random_seed=seed,
                mip_feasibility_tolerance=1e-7,
            )
        else:
            solver = pulp.PULP_CBC_CMD(
                msg=False,
                timeLimit=remaining,
                gapRel=self.relative_gap,
                warmStart=True,
                threads=self.threads,
                options=[f"randomSeed {seed % 2**31}", f"randomCbcSeed {seed % 2**31}"],
            )
        t_solve = time.perf_counter()
        cuts = 0
        while True:
            model.solve(solver)
            status, bound = self._status_and_bound(model, engine)
            values = np.fromiter(((v.varValue or 0.0) > 0.5 for v in x), dtype=bool, count=len(x))
            if problem.adjacency is None or status == SolveStatus.INFEASIBLE:
                break
            # Contiguity: cut off every territory that fell apart and solve again (lazy cuts).
            plan = _plan_of(problem, values)
            violated = [] if plan is None else separator_cuts(problem, plan)
            if not violated:
                break
            remaining = budget.remaining()
            if remaining <= 0.5:
                status = SolveStatus.TIME_LIMIT
                values = np.zeros(len(x), dtype=bool)
                break
            for cut in violated:
                for lhs, rhs in cut_rows(problem, cut):
                    model += (
                        pulp.lpSum(x[p] for p in lhs) - 1 <= pulp.lpSum(x[p] for p in rhs),
                        f"cut_{cuts}",
                    )
                    cuts += 1
            for v, value in zip(x, chosen, strict=True):
                v.setInitialValue(1.0 if value else 0.0)
            solver.timeLimit = remaining
        solve_seconds = time.perf_counter() - t_solve

        lp_bound = warm_start.bound
        if (
            status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE, SolveStatus.TIME_LIMIT)
            and (np.bincount(pa[values], minlength=problem.n_accounts) == 1).all()
        ):
            assignment = np.empty(problem.n_accounts, dtype=np.int64)
            assignment[pa[values]] = pr[values]
            if not problem.is_feasible(assignment, 1e-6):
                assignment = warm_start.assignment
        else:
            assignment = warm_start.assignment
        objective = problem.objective(assignment)
        if problem.is_feasible(warm_start.assignment, 1e-6) and warm_start.objective < objective:
            assignment, objective = warm_start.assignment, warm_start.objective
        best_bound = max(b for b in (bound, lp_bound, -np.inf) if b is not None)
        source = (
            "HiGHS MIP"
            if bound is not None and (lp_bound is None or bound >= lp_bound)
            else (warm_start.bound_source)
        )
        if status == SolveStatus.OPTIMAL and objective - best_bound > 1e-6 * max(1.0, objective):
            status = SolveStatus.FEASIBLE
        return self._result(
            budget,
            assignment=assignment,
            status=status,
            objective=objective,
            bound=None if best_bound == -np.inf else float(best_bound),
            bound_source=source,
            backend=f"{self.name}:{engine}",
            stages=(*warm_start.stages, (f"mip_{engine}", solve_seconds)),
            detail={"engine": engine, "contiguity_cuts": cuts},
        )

    @staticmethod
    def _status_and_bound(model: pulp.LpProblem, engine: str) -> tuple[SolveStatus, float | None]:
        """Our status from the engine's own code (PuLP folds a time limit into 'optimal')."""
        if engine == "highs":
            import highspy

            h = model.solverModel
            code = h.getModelStatus()
            info = h.getInfo()
            has_solution = info.primal_solution_status == 2
            bound = float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else None
            if code == highspy.HighsModelStatus.kOptimal:
                return SolveStatus.OPTIMAL, bound
            if code == highspy.HighsModelStatus.kInfeasible:
                return SolveStatus.INFEASIBLE, None
            if code == highspy.HighsModelStatus.kTimeLimit:
                return (SolveStatus.TIME_LIMIT if has_solution else SolveStatus.TIME_LIMIT), bound
            return (SolveStatus.FEASIBLE if has_solution else SolveStatus.ERROR), bound
        code = model.status
        sol = model.sol_status
        if code == pulp.LpStatusOptimal and sol == pulp.LpSolutionOptimal:
            return SolveStatus.OPTIMAL, None
        if code == pulp.LpStatusInfeasible:
            return SolveStatus.INFEASIBLE, None
        if sol in (pulp.LpSolutionIntegerFeasible, pulp.LpSolutionOptimal):
            return SolveStatus.TIME_LIMIT, None
        return SolveStatus.ERROR, None
