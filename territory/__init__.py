"""Territory design and quota optimisation engine.

The notebook entry point is :mod:`territory.workflow.api`
(``from territory.workflow.api import align, AlignmentSpec, Budget``); the subpackages hold the
domain (model, metrics, feasibility), the file I/O, the workflow and the pages. This package
itself imports only the errors, so ``import solvers`` (which imports the domain) needs nothing
that imports the solvers back.
"""

from __future__ import annotations

__version__ = "0.1.0"

from territory.errors import (  # noqa: E402
    DataValidationError,
    InfeasibleError,
    ScenarioError,
    SolveError,
    SolverUnavailableError,
    TerritoryError,
)

__all__ = [
    "DataValidationError",
    "InfeasibleError",
    "ScenarioError",
    "SolveError",
    "SolverUnavailableError",
    "TerritoryError",
    "__version__",
]
