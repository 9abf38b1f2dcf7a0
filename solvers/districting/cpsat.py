"""The OR-Tools CP-SAT backend of the districting rounds: the same model in integers.

CP-SAT needs integer coefficients: the costs and every row are scaled by the smallest power of
ten that makes them whole (:func:`integer_scale`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from solvers.base import SolveStatus
from solvers.districting.milp import Milp, RoundBackend, RoundResult, Row
from solvers.districting.solution import FloatArray
from solvers.interrupt import solve_cpsat


def integer_scale(values: FloatArray) -> int:
    """Find the smallest power of ten (up to 1e6) that makes ``values`` integral, for CP-SAT.

    Raises
    ------
    ValueError
        The values need more than 6 decimals.
    """
    for power in range(7):
        scaled = values * 10**power
        if np.allclose(scaled, np.round(scaled), rtol=1e-9, atol=1e-6):
            return int(10**power)
    raise ValueError(
        "CP-SAT needs integer coefficients; these need more than 6 decimals. Round the costs "
        "or weights, or use backend='mip'."
    )


class CpSatBackend(RoundBackend):
    """OR-Tools CP-SAT on the same model; integer coefficients (scaled by a power of ten)."""

    name = "cpsat"

    def _load(self, milp: Milp) -> None:
        from ortools.sat.python import cp_model

        self._cp = cp_model
        self._model = cp_model.CpModel()
        self._vars = [
            self._model.new_int_var(math.ceil(lo - 1e-9), math.floor(hi + 1e-9), f"v{i}")
            for i, (lo, hi) in enumerate(zip(milp.lb, milp.ub, strict=True))
        ]
        cost = np.asarray(milp.cost)
        self._scale = integer_scale(cost)
        icost = np.round(cost * self._scale).astype(np.int64)
        nz = np.flatnonzero(icost)
        self._model.minimize(
            cp_model.LinearExpr.weighted_sum([self._vars[i] for i in nz], icost[nz].tolist())
        )
        self.add_rows(milp.rows)

    def add_rows(self, rows: Sequence[Row]) -> None:
        """Add rows as integer constraints, each scaled by its own power of ten."""
        for idx, val, lo, hi in rows:
            arr = np.asarray(val, dtype=np.float64)
            bounds = np.asarray([b for b in (lo, hi) if math.isfinite(b)], dtype=np.float64)
            s = integer_scale(np.concatenate([arr, bounds]))
            coef = np.round(arr * s).astype(np.int64).tolist()
            expr = self._cp.LinearExpr.weighted_sum([self._vars[i] for i in idx], coef)
            if math.isfinite(lo) and math.isfinite(hi) and lo == hi:
                self._model.add(expr == round(lo * s))
                continue
            if math.isfinite(lo):
                self._model.add(expr >= round(lo * s))
            if math.isfinite(hi):
                self._model.add(expr <= round(hi * s))

    def solve(self, time_limit: float, start: FloatArray | None) -> RoundResult:
        """Solve one round, deterministically (interleaved workers), hinted with ``start``."""
        from ortools.sat.python import cp_model

        cp = self._cp
        self._model.clear_hints()
        if start is not None:
            for v, value in zip(self._vars, start.tolist(), strict=True):
                self._model.add_hint(v, round(value))
        solver = cp.CpSolver()
        solver.parameters.max_time_in_seconds = max(float(time_limit), 0.01)
        solver.parameters.num_workers = int(threads_or_one(self._threads))
        solver.parameters.random_seed = int(self._seed) % 2**31
        # Deterministic across runs: workers take turns in fixed-size batches.
        solver.parameters.interleave_search = True
        solver.parameters.relative_gap_limit = float(self._gap)
        backend = self

        class _Recorder(cp_model.CpSolverSolutionCallback):
            def on_solution_callback(self) -> None:
                backend.record(np.array([self.value(v) for v in backend._vars], dtype=np.float64))

        code = solve_cpsat(solver, self._model, _Recorder())
        bound = float(solver.best_objective_bound) / self._scale
        nodes = int(solver.num_branches)
        if code in (cp.OPTIMAL, cp.FEASIBLE):
            values = np.array([solver.value(v) for v in self._vars], dtype=np.float64)
            status = SolveStatus.OPTIMAL if code == cp.OPTIMAL else SolveStatus.TIME_LIMIT
            return RoundResult(status, values, bound, nodes)
        if code == cp.INFEASIBLE:
            return RoundResult(SolveStatus.INFEASIBLE, None, None, nodes)
        if code == cp.UNKNOWN:
            return RoundResult(SolveStatus.TIME_LIMIT, None, bound, nodes)
        return RoundResult(SolveStatus.ERROR, None, None, nodes)


def threads_or_one(threads: int) -> int:
    """Give at least one worker."""
    return max(1, int(threads))
