"""Solver backends behind one interface, looked up by name.

The backends are imported when a solve asks for one (:func:`get_solver`, :data:`SOLVERS`), not
by ``import solvers.interrupt``: the command line installs its signal handlers without loading
OR-Tools, PuLP and HiGHS.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from territory.errors import SolverUnavailableError, UnknownSolverError
from territory.lazy import lazy_exports

if TYPE_CHECKING:
    from solvers.base import Solution, Solver, SolveStatus

    SOLVERS: dict[str, type[Any]]
    """Backends by name; ``auto`` (see :func:`territory.workflow.align.align`) chooses among
    them."""


@cache
def _backends() -> dict[str, type[Any]]:
    """Return the backends by name, in the order error messages list them."""
    from solvers.cpsat import CpSatSolver
    from solvers.heuristic import HeuristicSolver
    from solvers.mip import MipSolver

    return {"cpsat": CpSatSolver, "mip": MipSolver, "heuristic": HeuristicSolver}


_exports = lazy_exports(
    __name__, dict.fromkeys(("Solution", "SolveStatus", "Solver"), "solvers.base")
)


def __getattr__(name: str) -> Any:
    if name == "SOLVERS":
        return _backends()
    return _exports(name)


def get_solver(name: str, **options: Any) -> Solver:
    """Build the backend called ``name`` with ``options``; unknown names list the valid ones."""
    backends = _backends()
    try:
        cls = backends[name]
    except KeyError:
        options_text = ", ".join(backends)
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
