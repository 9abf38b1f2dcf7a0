"""The one interface every backend implements, and the result it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from solvers.lp import LpResult
from territory.domain.budget import Budget
from territory.domain.model import AlignmentProblem

IntArray = npt.NDArray[np.int64]


class SolveStatus(StrEnum):
    """Outcome of a solve, mapped explicitly by each adapter from its backend's own codes."""

    OPTIMAL = "OPTIMAL"
    FEASIBLE = "FEASIBLE"
    TIME_LIMIT = "TIME_LIMIT"
    INFEASIBLE = "INFEASIBLE"
    ERROR = "ERROR"


@dataclass(frozen=True)
class Solution:
    """A plan found by a backend, with what it proves about the plan's quality.

    ``assignment`` holds the rep index of every account. ``bound`` is a proven lower bound on the
    objective of any feasible plan (``bound_source`` says which relaxation proves it).
    """

    assignment: IntArray
    status: SolveStatus
    objective: float
    bound: float | None
    bound_source: str
    backend: str
    seconds: float
    stages: tuple[tuple[str, float], ...] = ()
    detail: dict[str, float | int | str] = field(default_factory=dict)

    @property
    def gap(self) -> float | None:
        """Relative optimality gap (objective - bound) / objective, 0 for a proven optimum."""
        if self.bound is None:
            return None
        if self.objective <= 1e-12:
            return 0.0
        return max(0.0, (self.objective - self.bound) / abs(self.objective))


@dataclass(frozen=True)
class SolveCall:
    """One call of :meth:`Solver.solve`: the problem, the running clock, what the caller gave."""

    problem: AlignmentProblem
    budget: Budget
    seed: int
    warm_start: Solution | None = None
    relaxation: LpResult | None = None


class Solver:
    """A backend: constructed with options only, does its work in :meth:`solve`.

    :meth:`solve` is the one entry point and starts the clock; each backend implements
    :meth:`_run`, which receives the running :class:`Budget` so no stage can outlive the limit.
    """

    name = ""

    def available(self) -> bool:
        """Return True when the libraries this backend needs can run here."""
        return True

    def solve(
        self,
        problem: AlignmentProblem,
        *,
        time_limit_s: float,
        seed: int,
        warm_start: Solution | None = None,
        relaxation: LpResult | None = None,
    ) -> Solution:
        """Return the best plan found within the time limit (never nothing once one exists).

        ``warm_start`` is a plan to improve; ``relaxation`` an LP relaxation the caller has
        solved already (backends that round one use it instead of solving their own).
        """
        return self._run(SolveCall(problem, Budget(time_limit_s), seed, warm_start, relaxation))

    def _run(self, call: SolveCall) -> Solution:
        """Search within ``call.budget``: the backend's own work."""
        raise NotImplementedError
