"""What a districting solve returns, and the names of its choices."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from solvers.base import SolveStatus

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

Objective = Literal["centred", "cut_edges"]
"""What a plan minimises: the centred (p-median) cost, or the number of cut edges."""
Backend = Literal["mip", "cpsat", "auto"]
"""Which solver runs the model: HiGHS (``mip``), OR-Tools CP-SAT, or HiGHS by default."""
Method = Literal["flow", "cuts", "auto"]
"""How contiguity is enforced: a flow model (one solve), separator cuts (rounds), or either."""


@dataclass(frozen=True)
class DistrictingSolution:
    """A plan with what the backend proves about it.

    ``plan`` is the district index (``0..k-1``) of every unit, empty when there is no plan.
    ``bound`` is a proven lower bound on the objective of every feasible plan. ``reasons`` says in
    words why the instance is infeasible when ``status`` is INFEASIBLE.
    """

    plan: IntArray
    centres: IntArray | None
    status: SolveStatus
    objective: float | None
    bound: float | None
    seconds: float
    backend: str
    reasons: tuple[str, ...] = ()
    detail: dict[str, float | int | str] = field(default_factory=dict)

    @property
    def gap(self) -> float | None:
        """Relative optimality gap (objective - bound) / objective, 0 for a proven optimum."""
        if self.bound is None or self.objective is None:
            return None
        if abs(self.objective) <= 1e-12:
            return 0.0
        return max(0.0, (self.objective - self.bound) / abs(self.objective))
