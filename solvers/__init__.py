"""Solver backends behind one interface, looked up by name."""

from __future__ import annotations

from typing import Any

from solvers.base import Solution, Solver, SolveStatus
from solvers.cpsat import CpSatSolver
from solvers.heuristic import HeuristicSolver
from solvers.mip import MipSolver
from territory.errors import SolverUnavailableError, UnknownSolverError

SOLVERS: dict[str, type[Any]] = {
    "cpsat": CpSatSolver,
    "mip": MipSolver,
    "heuristic": HeuristicSolver,
}
"""Backends by name; ``auto`` (see :func:`territory.workflow.align.align`) chooses among them."""


def get_solver(name: str, **options: Any) -> Solver:
    """Build the backend called ``name`` with ``options``; unknown names list the valid ones."""
    try:
        cls = SOLVERS[name]
    except KeyError:
        options_text = ", ".join(SOLVERS)
        hint = " ('auto' is chosen by align(), not here)" if name == "auto" else ""
        raise UnknownSolverError(
            f"unknown solver '{name}'{hint}. Possible options are: {options_text}"
        ) from None
    solver: Solver = cls(**options)
    if not solver.available():
        raise SolverUnavailableError(
            f"solver '{name}' cannot run here (its library is missing); "
            "reinstall the project or choose --solver heuristic"
        )
    return solver


__all__ = ["SOLVERS", "Solution", "SolveStatus", "Solver", "get_solver"]
