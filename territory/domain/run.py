"""What the domain reads from an alignment run, whatever holds it.

Checks, transitions and the finance steps measure a finished run: its inputs, its plan, and the
documents later steps added (quotas, stress test). They are written against this protocol;
:class:`territory.io.runs.PlanFolder` is the implementation that reads a run folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import pandas as pd

COMP_COPY = "comp_plan.toml"
"""The comp plan file the stress test used, kept with the run so later steps read the same."""


class RunData(Protocol):
    """A finished alignment run: tables, solve report and what later steps added."""

    @property
    def path(self) -> Path:
        """Where the run lives (names the run in checks and pages)."""
        ...

    @property
    def accounts(self) -> pd.DataFrame:
        """The accounts as the alignment read them."""
        ...

    @property
    def reps(self) -> pd.DataFrame:
        """The reps as the alignment read them."""
        ...

    @property
    def plan(self) -> pd.DataFrame:
        """``account_id``, ``rep_id``: the plan."""
        ...

    @property
    def territories(self) -> pd.DataFrame:
        """One row per rep: potential and workload against target."""
        ...

    @property
    def solve(self) -> dict[str, Any]:
        """The solve report (``solve.json``)."""
        ...

    @property
    def rep_of_account(self) -> pd.Series:
        """Rep id of every account, in the accounts table's order."""
        ...

    def quotas(self) -> pd.DataFrame:
        """Return this plan's quotas (an error naming the step to run when there are none)."""
        ...

    def document(self, name: str) -> dict[str, Any] | None:
        """Return a JSON document a later step added (None when that step has not run)."""
        ...

    def table(self, name: str) -> pd.DataFrame | None:
        """Return a table a later step added (None when that step has not run)."""
        ...

    def plan_revenue(self) -> float | None:
        """Return the company number behind the quotas, less non-quota revenue (None if unknown)."""
        ...
