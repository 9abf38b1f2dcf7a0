"""Territory design and quota optimisation engine.

``territory.align(accounts, reps, balance=0.05, ...)`` is the notebook entry point; the modules
hold the domain (model, metrics, feasibility), the table I/O and the workflow (api).
"""

from __future__ import annotations

__version__ = "0.1.0"

from territory.api import AlignmentResult, SolveReport, align  # noqa: E402
from territory.errors import (  # noqa: E402
    DataValidationError,
    InfeasibleError,
    ScenarioError,
    SolveError,
    SolverUnavailableError,
    TerritoryError,
)

__all__ = [
    "AlignmentResult",
    "DataValidationError",
    "InfeasibleError",
    "ScenarioError",
    "SolveError",
    "SolveReport",
    "SolverUnavailableError",
    "TerritoryError",
    "__version__",
    "align",
]
