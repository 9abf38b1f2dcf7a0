"""Per-account rules the command line adds to an alignment: a lock file, unreachable accounts.

``territory align --lock-file FILE`` locks the accounts a table names (see
:mod:`territory.domain.locks`); ``--leave-unreachable`` sets aside the accounts no rep can reach
within ``--max-distance-km`` (see :mod:`territory.domain.reach`), so the rest is planned and
those accounts are listed in ``unreachable.csv`` instead of failing the whole run.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from territory.domain.locks import apply_locks
from territory.domain.reach import reach_summary, smallest_reaching_limit, unreachable_accounts
from territory.errors import UsageError

UNREACHABLE_TABLE = "unreachable"
"""The table of accounts left unassigned (``unreachable.csv`` in the plan folder)."""


def lock_from_file(accounts: pd.DataFrame, reps: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Read a lock file and return the accounts with its locks (see :func:`apply_locks`).

    Raises
    ------
    DataValidationError
        A row naming an unknown account or rep (file, row and column given).
    """
    from territory.io import read_table

    return apply_locks(accounts, reps, read_table(path), Path(path).name)


def set_aside_unreachable(
    accounts: pd.DataFrame, reps: pd.DataFrame, limit_km: float | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split off the accounts no rep reaches within ``limit_km``.

    Returns the accounts to plan and the unreachable ones (``UNREACHABLE_COLUMNS`` of
    :mod:`territory.domain.reach`; empty when every account is in reach).

    Raises
    ------
    UsageError
        No travel limit was given (nothing can be out of reach), or no account is in reach.
    """
    if limit_km is None:
        raise UsageError("--leave-unreachable needs --max-distance-km (the travel limit)")
    far = unreachable_accounts(accounts, reps, limit_km)
    if len(far) and len(far) == len(accounts):
        smallest = smallest_reaching_limit(far["nearest_km"])
        raise UsageError(
            f"{reach_summary(len(far), limit_km, smallest)}; no account is in reach, so there "
            "is nothing to plan"
        )
    kept = accounts[~accounts["account_id"].astype(str).isin(far["account_id"])]
    return kept.reset_index(drop=True), far


def left_out_note(far: pd.DataFrame, file_name: str) -> str:
    """Say how many accounts were left unassigned, where they are listed, what would reach all."""
    limit = float(far["limit_km"].iloc[0])
    smallest = smallest_reaching_limit(far["nearest_km"])
    return (
        f"{len(far):,} account(s) have no rep within {limit:,.1f} km: left unassigned "
        f"(--leave-unreachable) and listed in {file_name}; a limit of {smallest:,.1f} km would "
        "reach them all"
    )
