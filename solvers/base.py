"""The one interface every backend implements, and the result it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import numpy as np
import numpy.typing as npt

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


class Solver(Protocol):
    """A backend: constructed with options only, does its work in :meth:`solve`."""

    name: str

    def available(self) -> bool:
        """Return True when the libraries this backend needs can run here."""
        ...

    def solve(
        self,
        problem: AlignmentProblem,
        *,
        time_limit_s: float,
        seed: int,
        warm_start: Solution | None = None,
    ) -> Solution:
        """Return the best plan found within the time limit (never nothing once one exists)."""
        ...
