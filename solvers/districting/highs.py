"""The HiGHS backend (highspy) of the districting rounds.

The model stays loaded between rounds (cuts are added as rows); every solution HiGHS finds
during a round goes through the contiguity test, so a contiguous incumbent is never lost.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from solvers.base import SolveStatus
from solvers.districting.milp import Milp, RoundBackend, RoundResult, Row
from solvers.districting.solution import FloatArray
from solvers.interrupt import run_highs


class HighsBackend(RoundBackend):
    """HiGHS via highspy; keeps the model between rounds and records contiguous incumbents."""

    name = "highs-mip"

    def _load(self, milp: Milp) -> None:
        import highspy

        self._hs = highspy
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("threads", int(self._threads))
        h.setOptionValue("random_seed", int(self._seed) % 2**31)
        h.setOptionValue("mip_rel_gap", float(self._gap))
        h.setOptionValue("mip_abs_gap", 1e-9)
        h.setOptionValue("mip_feasibility_tolerance", 1e-7)
        n = len(milp.cost)
        inf = highspy.kHighsInf
        h.addVars(n, np.asarray(milp.lb), np.asarray(milp.ub))
        h.changeColsCost(n, np.arange(n, dtype=np.int32), np.asarray(milp.cost))
        ints = np.flatnonzero(np.asarray(milp.integer)).astype(np.int32)
        h.changeColsIntegrality(
            ints.size, ints, np.full(ints.size, highspy.HighsVarType.kInteger, dtype=np.uint8)
        )
        self._h = h
        self._inf = inf
        self.add_rows(milp.rows)

        def on_solution(_type: Any, _msg: str, out: Any, _inp: Any, _data: Any) -> None:
            self.record(np.asarray(out.mip_solution, dtype=np.float64))

        self._on_solution = on_solution

    def add_rows(self, rows: Sequence[Row]) -> None:
        """Add rows, each scaled to a largest coefficient of about 10."""
        if not rows:
            return
        # Rows with large coefficients (populations) are scaled to a largest coefficient of 1,
        # which keeps HiGHS's tolerances meaningful on them.
        scale = np.array(
            [1.0 / max(1.0, float(np.abs(r[1]).max(initial=1.0)) / 10.0) for r in rows]
        )
        starts = np.cumsum([0] + [len(r[0]) for r in rows[:-1]]).astype(np.int32)
        idx = np.concatenate([np.asarray(r[0], dtype=np.int32) for r in rows])
        val = np.concatenate(
            [np.asarray(r[1], dtype=np.float64) * f for r, f in zip(rows, scale, strict=True)]
        )
        lo = np.array(
            [
                r[2] * f if math.isfinite(r[2]) else -self._inf
                for r, f in zip(rows, scale, strict=True)
            ]
        )
        hi = np.array(
            [
                r[3] * f if math.isfinite(r[3]) else self._inf
                for r, f in zip(rows, scale, strict=True)
            ]
        )
        self._h.addRows(len(rows), lo, hi, idx.size, starts, idx, val)

    def solve(self, time_limit: float, start: FloatArray | None) -> RoundResult:
        """Solve one round on a fresh HiGHS thread pool (:func:`solvers.interrupt.run_highs`)."""
        h, hs = self._h, self._hs
        h.setOptionValue("time_limit", max(float(time_limit), 0.01))
        if start is not None:
            sol = hs.HighsSolution()
            sol.col_value = start.tolist()
            sol.value_valid = True
            h.setSolution(sol)
        # HiGHS keeps one thread pool per thread, sized by its first solve: reset it so this
        # model gets its own thread count, and again after so later solves get theirs.
        run_highs(
            h,
            on_event=self._on_solution,
            events=(hs.cb.HighsCallbackType.kCallbackMipSolution,),
            fresh_scheduler=True,
        )
        code = h.getModelStatus()
        info = h.getInfo()
        has = info.primal_solution_status == 2
        bound = float(info.mip_dual_bound) if math.isfinite(info.mip_dual_bound) else None
        values = np.asarray(h.getSolution().col_value, dtype=np.float64) if has else None
        nodes = int(info.mip_node_count)
        if code == hs.HighsModelStatus.kOptimal:
            return RoundResult(SolveStatus.OPTIMAL, values, bound, nodes)
        if code == hs.HighsModelStatus.kInfeasible:
            return RoundResult(SolveStatus.INFEASIBLE, None, None, nodes)
        if code == hs.HighsModelStatus.kTimeLimit:
            return RoundResult(SolveStatus.TIME_LIMIT, values, bound, nodes)
        status = SolveStatus.FEASIBLE if has else SolveStatus.ERROR
        return RoundResult(status, values, bound, nodes)
