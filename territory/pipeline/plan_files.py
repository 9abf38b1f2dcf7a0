"""The files of a plan: the tables ``territory align`` and a scenario's align step write.

Kept apart from :mod:`territory.pipeline.steps` (which re-exports both names) so that an
alignment loads neither the quota and stress steps nor their charts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from territory.io import runs, write_outputs
from territory.pipeline.inputs import territory_polygons

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["PlanTables", "write_plan"]


@dataclass(frozen=True)
class PlanTables:
    """A plan and the tables it was made from, as the plan files need them.

    ``accounts`` and ``reps`` are the tables the solver saw (written as the run's inputs, which
    later steps read); ``accounts_before`` are the accounts as they really are today (a
    scenario clears the current rep of a removed rep's accounts for the solver), from which the
    transitions are counted. ``unit_layer`` and ``unit_plan`` draw ``territories.geojson``.
    """

    assignments: pd.DataFrame
    territories: pd.DataFrame
    accounts: pd.DataFrame
    reps: pd.DataFrame
    accounts_before: pd.DataFrame | None = None
    unit_layer: gpd.GeoDataFrame | None = None
    unit_plan: pd.Series | None = None
    unreachable: pd.DataFrame | None = None
    """Accounts left unassigned because no rep reaches them (``--leave-unreachable``)."""

    def tables(self) -> dict[str, pd.DataFrame]:
        """Return assignments, territories and, when today's reps are known, transitions."""
        from territory.domain.transitions import transition_plan

        before = self.accounts if self.accounts_before is None else self.accounts_before
        tables = {"assignments": self.assignments, "territories": self.territories}
        if "current_rep" in before.columns:
            # How to get from today's alignment to this one: moves, reasons, waves, revenue at
            # risk (removed or vacant reps' accounts are vacancies).
            tables["transitions"] = transition_plan(
                before, None, self.assignments[["account_id", "rep_id"]], self.reps
            )
        if self.unreachable is not None:
            tables["unreachable"] = self.unreachable
        return tables

    def files(self) -> dict[str, Callable[[Path], None]]:
        """Return writers of the run's inputs as solved, the plan and the territories' shapes."""
        files = {
            runs.INPUT_ACCOUNTS: runs.parquet_writer(self.accounts),
            runs.INPUT_REPS: runs.parquet_writer(self.reps),
            runs.PLAN: runs.parquet_writer(self.assignments[["account_id", "rep_id"]]),
        }
        if self.unit_layer is not None:
            assert self.unit_plan is not None
            files["territories.geojson"] = territory_polygons(self.unit_layer, self.unit_plan)
        return files


def write_plan(
    folder: Path,
    plan: PlanTables,
    documents: Mapping[str, object],
    output_format: str = "csv",
    *,
    command: str,
    inputs: Iterable[str | Path | None] = (),
    force: bool = False,
) -> None:
    """Write a plan's folder: its tables, ``documents`` (``solve.json`` ...) and files.

    The folder is replaced as a whole (see :func:`territory.io.write_outputs`); ``inputs`` are
    the files the run read, which it may never replace.
    """
    write_outputs(
        folder,
        plan.tables(),
        documents,
        output_format,
        files=plan.files(),
        command=command,
        inputs=[p for p in inputs if p is not None],
        force=force,
    )
