"""OR-Tools CP-SAT backend on the pruned candidate pairs, warm-started from a heuristic plan.

CP-SAT needs integer coefficients: money is scaled to cents, hours to hundredths and the cost to a
fixed resolution; the plan it returns is re-checked and re-costed in floating point.
"""

from __future__ import annotations

import math

import numpy as np
from ortools.sat.python import cp_model

from solvers.base import Solution, SolveStatus
from solvers.contiguity import cut_rows, separator_cuts
from solvers.exact import ExactSolver, cut_edge_vars, pairs_by_rep
from solvers.heuristic import chosen_pairs
from solvers.interrupt import solve_cpsat
from territory.domain.budget import Budget
from territory.domain.model import AlignmentProblem


def _scale_for(values: np.ndarray, preferred: float, limit: float = 2.0**52) -> float:
    """Return the preferred scale, reduced by powers of ten until the largest possible sum fits."""
    total = float(np.abs(values).sum()) or 1.0
    scale = preferred
    while total * scale > limit and scale > 1e-6:
        scale /= 10.0
    return scale


class CpSatSolver(ExactSolver):
    """Exact backend: proves optimality on small and medium instances."""

    name = "cpsat"

    def __init__(self, workers: int = 2, relative_gap: float = 1e-6) -> None:
        self.workers = workers
        self.relative_gap = relative_gap

    def available(self) -> bool:
        """OR-Tools is a core dependency; this only fails on a broken install."""
        try:
            cp_model.CpModel()
        except Exception:  # pragma: no cover - broken installation
            return False
        return True

    def _improve(
        self, problem: AlignmentProblem, warm_start: Solution, budget: Budget, seed: int
    ) -> Solution:
        """Solve the assignment model; the warm start is given to CP-SAT as a hint."""
        pa, pr = problem.pair_account, problem.pair_rep
        pot_scale = _scale_for(problem.potential, 100.0)
        wl_scale = _scale_for(problem.workload, 100.0)
        cost_min = np.minimum.reduceat(problem.pair_cost, problem.account_start[:-1])
        cost_scale = _scale_for(problem.pair_cost, 1000.0, limit=2.0**50)
        pot_int = np.rint(problem.potential * pot_scale).astype(np.int64)
        wl_int = np.rint(problem.workload * wl_scale).astype(np.int64)
        cost_int = np.rint(problem.pair_cost * cost_scale).astype(np.int64)

        # Data are ready; build the model.
        model = cp_model.CpModel()
        x = [model.new_bool_var(f"x{p}") for p in range(problem.n_pairs)]

        # Every account goes to exactly one of its candidate reps.
        starts = problem.account_start.tolist()
        for a in range(problem.n_accounts):
            model.add_exactly_one(x[starts[a] : starts[a + 1]])

        # Each rep's potential and workload stay inside their windows.
        for r, members in enumerate(pairs_by_rep(problem)):
            vars_r = [x[p] for p in members]
            pot_expr = cp_model.LinearExpr.weighted_sum(vars_r, pot_int[pa[members]].tolist())
            wl_expr = cp_model.LinearExpr.weighted_sum(vars_r, wl_int[pa[members]].tolist())
            model.add(pot_expr >= math.ceil(problem.potential_lo[r] * pot_scale - 1e-6))
            model.add(pot_expr <= math.floor(problem.potential_hi[r] * pot_scale + 1e-6))
            model.add(wl_expr >= math.ceil(problem.workload_lo[r] * wl_scale - 1e-6))
            model.add(wl_expr <= math.floor(problem.workload_hi[r] * wl_scale + 1e-6))

        # Minimise travel plus disruption (plus the price of cut unit edges).
        goal = cp_model.LinearExpr.weighted_sum(x, cost_int.tolist())
        cut_price = int(round(problem.settings.cut_edge_weight * cost_scale))
        cut_literals = cut_edge_vars(
            problem, x, model.new_bool_var, lambda row, _name: model.add(row)
        )
        for y in cut_literals:
            goal += cut_price * y
        model.minimize(goal)

        # Start from the heuristic plan.
        chosen = chosen_pairs(problem, warm_start.assignment)
        for p, value in enumerate(chosen):
            model.add_hint(x[p], value)

        solver = cp_model.CpSolver()
        remaining = budget.remaining()
        solver.parameters.max_time_in_seconds = remaining
        solver.parameters.num_workers = self.workers
        solver.parameters.random_seed = seed
        solver.parameters.relative_gap_limit = self.relative_gap
        cuts = 0
        cut_off = False
        while True:
            code = solve_cpsat(solver, model)
            if problem.adjacency is None or code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                break
            # Contiguity: cut off every territory that fell apart and solve again (lazy cuts).
            values = np.fromiter((solver.boolean_value(v) for v in x), dtype=bool, count=len(x))
            plan = np.empty(problem.n_accounts, dtype=np.int64)
            plan[pa[values]] = pr[values]
            violated = separator_cuts(problem, plan)
            if not violated:
                break
            remaining = budget.remaining()
            if remaining <= 0.5:
                cut_off = True
                break
            for cut in violated:
                for lhs, rhs in cut_rows(problem, cut):
                    model.add(sum(x[p] for p in lhs) - 1 <= sum(x[p] for p in rhs))
                    cuts += 1
            solver.parameters.max_time_in_seconds = remaining

        lp_bound = warm_start.bound
        rounding_slack = (problem.n_accounts + len(cut_literals)) * 0.5 / cost_scale
        if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            values = np.fromiter((solver.boolean_value(v) for v in x), dtype=bool, count=len(x))
            assignment = np.empty(problem.n_accounts, dtype=np.int64)
            assignment[pa[values]] = pr[values]
            objective = problem.objective(assignment)
            warm_ok = problem.is_feasible(warm_start.assignment, 1e-6)
            if cut_off or (warm_ok and objective > warm_start.objective):
                assignment, objective = warm_start.assignment, warm_start.objective
            cp_bound = solver.best_objective_bound / cost_scale - rounding_slack
            bound = max(cp_bound, lp_bound if lp_bound is not None else -np.inf, cost_min.sum())
            optimal = code == cp_model.OPTIMAL and not cut_off
            status = SolveStatus.OPTIMAL if optimal else SolveStatus.TIME_LIMIT
            source = "CP-SAT" if lp_bound is None or cp_bound >= lp_bound else "LP relaxation"
        elif code == cp_model.INFEASIBLE:
            return self._result(
                budget,
                assignment=warm_start.assignment,
                status=SolveStatus.INFEASIBLE,
                objective=warm_start.objective,
                bound=None,
                bound_source="none",
                stages=(),
            )
        else:
            assignment, objective = warm_start.assignment, warm_start.objective
            bound, source = lp_bound, warm_start.bound_source
            status = SolveStatus.TIME_LIMIT if code == cp_model.UNKNOWN else SolveStatus.ERROR
        return self._result(
            budget,
            assignment=assignment,
            status=status,
            objective=objective,
            bound=bound,
            bound_source=source,
            stages=(*warm_start.stages, ("cpsat", solver.wall_time)),
            detail={
                "cpsat_status": solver.status_name(code),
                "workers": self.workers,
                "contiguity_cuts": cuts,
            },
        )
