"""Territory design and quota optimisation engine.

``territory.align(accounts, reps, balance=0.05, ...)`` is the notebook entry point (or
``territory.align(accounts, reps, AlignmentSpec(...))``); the modules hold the domain (model,
metrics, feasibility), the table I/O and the workflow (api).
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any

from territory.errors import (  # noqa: E402
    DataValidationError,
    InfeasibleError,
    ScenarioError,
    SolveError,
    SolverUnavailableError,
    TerritoryError,
)

if TYPE_CHECKING:
    from territory.domain.budget import Budget
    from territory.domain.spec import AlignmentSpec
    from territory.workflow.align import AlignmentResult, SolveReport, align

_WORKFLOW = {"AlignmentResult", "SolveReport", "align"}
_SPEC = {"AlignmentSpec": "territory.domain.spec", "Budget": "territory.domain.budget"}


def __getattr__(name: str) -> Any:
    """Load the workflow on first use: it imports the solver backends, which import our model.

    Importing it eagerly here would make ``import solvers`` on its own circular.
    """
    if name in _WORKFLOW:
        from territory.workflow import align as api

        return getattr(api, name)
    if name in _SPEC:
        import importlib

        return getattr(importlib.import_module(_SPEC[name]), name)
    raise AttributeError(f"module 'territory' has no attribute '{name}'")


__all__ = [
    "AlignmentResult",
    "AlignmentSpec",
    "Budget",
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
