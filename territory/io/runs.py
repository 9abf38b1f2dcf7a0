"""A run's folder (``--out`` of ``territory align``) as later steps read it back.

Besides the user-facing tables, ``align`` keeps exact Parquet copies of its inputs and of the
plan (``input_accounts.parquet``, ``input_reps.parquet``, ``plan.parquet``): CSV outputs are made
safe for Excel (a leading ``'`` on formula-like ids), so they are not a faithful source for ids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from territory.domain.run import COMP_COPY as COMP_COPY
from territory.errors import DataValidationError, InputProblem

INPUT_ACCOUNTS = "input_accounts.parquet"
INPUT_REPS = "input_reps.parquet"
PLAN = "plan.parquet"
QUOTAS = "quotas.parquet"


@dataclass(frozen=True)
class PlanFolder:
    """Everything a later step needs from an alignment run."""

    path: Path
    accounts: pd.DataFrame
    reps: pd.DataFrame
    plan: pd.DataFrame
    territories: pd.DataFrame
    solve: dict[str, Any]

    @property
    def rep_of_account(self) -> pd.Series:
        """Rep id of every account, in the accounts table's order."""
        return self.plan["rep_id"]

    def quotas(self) -> pd.DataFrame:
        """Read the quotas set by ``territory quota`` on this plan."""
        path = self.path / QUOTAS
        if not path.exists():
            raise DataValidationError(
                [
                    InputProblem(
                        source=str(self.path),
                        row=None,
                        column=None,
                        message="no quotas have been set for this plan",
                        fix=f"run `territory quota --plan {self.path} --target ...` first",
                    )
                ]
            )
        return pd.read_parquet(path)

    def document(self, name: str) -> dict[str, Any] | None:
        """Read a JSON document a later step wrote into the folder (None when it has not run)."""
        path = self.path / name
        if not path.exists():
            return None
        loaded = json.loads(path.read_text(encoding="utf-8"))
        return loaded if isinstance(loaded, dict) else {"items": loaded}

    def table(self, name: str) -> pd.DataFrame | None:
        """Read a CSV table a later step wrote into the folder (None when it has not run)."""
        path = self.path / name
        return pd.read_csv(path) if path.exists() else None

    def plan_revenue(self) -> float | None:
        """Give the company number the quotas were set from, less non-quota revenue (None: unknown).

        At 100% of plan the company sells this much; quotas add up to more by over-assignment.
        """
        path = self.path / "quota_summary.json"
        if not path.exists():
            return None
        summary = json.loads(path.read_text(encoding="utf-8")).get("summary", {})
        target, other = summary.get("company_target"), summary.get("non_quota_revenue") or 0.0
        return None if target is None else float(target) - float(other)


def _missing(folder: Path, name: str) -> InputProblem:
    return InputProblem(
        source=str(folder),
        row=None,
        column=None,
        message=f"'{name}' is missing, so this is not a complete alignment run",
        fix=f"run `territory align ... --out {folder}` first (or point --plan at such a folder)",
    )


def load_plan(folder: str | Path) -> PlanFolder:
    """Read an alignment run's folder; every missing piece is named in one error."""
    path = Path(folder)
    needed = [INPUT_ACCOUNTS, INPUT_REPS, PLAN, "solve.json"]
    territory_files = [path / f"territories.{fmt}" for fmt in ("csv", "parquet", "xlsx")]
    problems = [_missing(path, name) for name in needed if not (path / name).exists()]
    found = [p for p in territory_files if p.exists()]
    if not found:
        problems.append(_missing(path, "territories.csv"))
    if problems:
        raise DataValidationError(problems)
    accounts = pd.read_parquet(path / INPUT_ACCOUNTS)
    reps = pd.read_parquet(path / INPUT_REPS)
    plan = pd.read_parquet(path / PLAN)
    territory_file = found[0]
    if territory_file.suffix == ".parquet":
        territories = pd.read_parquet(territory_file)
    elif territory_file.suffix == ".xlsx":
        territories = pd.read_excel(territory_file)
    else:
        territories = pd.read_csv(territory_file)
    # Ids in the user-facing tables may carry Excel's leading apostrophe: take them from reps.
    territories["rep_id"] = reps["rep_id"].astype(str).to_numpy()
    solve = json.loads((path / "solve.json").read_text(encoding="utf-8"))
    return PlanFolder(
        path=path, accounts=accounts, reps=reps, plan=plan, territories=territories, solve=solve
    )


def parquet_writer(frame: pd.DataFrame) -> Any:
    """Make a writer for :func:`territory.io.write_outputs`' ``files``: exact Parquet, no index."""

    def write(target: Path) -> None:
        frame.to_parquet(target, index=False)

    return write
