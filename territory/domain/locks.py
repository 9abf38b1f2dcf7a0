"""Locks from a separate table (``--lock-file``): accounts that keep, or go to, a named rep.

The accounts table's ``locked_rep`` column says the same per row; a lock file lets a planner
keep the locks beside the export instead of editing it. Its columns: ``account_id`` (required),
``rep_id`` (optional: blank means the account's ``current_rep``) and ``lock_reason`` (optional,
read by check T3). A lock in the file replaces the column's lock for that account.
"""

from __future__ import annotations

import pandas as pd

from territory.domain.contract import is_blank
from territory.errors import DataValidationError, InputProblem

LOCK_COLUMNS = ("account_id", "rep_id", "lock_reason")
"""The columns a lock file may have; ``account_id`` is required."""


def _text(value: object) -> str:
    """Return a cell as stripped text; empty for a blank or missing cell."""
    return "" if is_blank(value) else str(value).strip()


def apply_locks(
    accounts: pd.DataFrame, reps: pd.DataFrame, locks: pd.DataFrame, source: str
) -> pd.DataFrame:
    """Return ``accounts`` with ``locked_rep`` (and ``lock_reason``) set from a lock table.

    Parameters
    ----------
    accounts, reps
        The validated tables; rep ids are checked against ``reps``.
    locks
        The lock file as read (text cells, one row per account to lock; blank lines skipped).
    source
        The file's name, for the messages.

    Raises
    ------
    DataValidationError
        Every problem at once, each with the file, row (the header is row 1) and column: no
        ``account_id`` column, an unknown or repeated account, an unknown rep, a blank rep for
        an account without a current rep.
    """
    columns = {str(c).strip().lower(): c for c in locks.columns}
    if "account_id" not in columns:
        raise DataValidationError([InputProblem(
            source, None, "account_id", "the lock file has no account_id column",
            "give a CSV with the columns account_id and, optionally, rep_id and lock_reason",
        )])  # fmt: skip
    unknown_columns = sorted(set(columns) - set(LOCK_COLUMNS))
    problems = [
        InputProblem(source, None, columns[c], "this column is not read from a lock file",
                     f"rename or remove it; the columns read are {', '.join(LOCK_COLUMNS)}")
        for c in unknown_columns
    ]  # fmt: skip
    ids = accounts["account_id"].astype(str).tolist()
    position = {account: i for i, account in enumerate(ids)}
    rep_ids = set(reps["rep_id"].astype(str))
    current = (
        accounts["current_rep"].map(_text).tolist()
        if "current_rep" in accounts.columns
        else [""] * len(ids)
    )
    locked = (
        accounts["locked_rep"].map(_text).tolist()
        if "locked_rep" in accounts.columns
        else [""] * len(ids)
    )
    reason = (
        accounts["lock_reason"].map(_text).tolist()
        if "lock_reason" in accounts.columns
        else [""] * len(ids)
    )
    seen: dict[str, int] = {}
    for i, record in enumerate(locks.to_dict("records")):
        row = i + 2
        cells = {name: _text(record.get(columns[name])) for name in LOCK_COLUMNS if name in columns}
        if not any(cells.values()):
            continue  # a blank line
        account, rep = cells["account_id"], cells.get("rep_id", "")
        where = position.get(account)
        if not account or where is None:
            problems.append(InputProblem(
                source, row, columns["account_id"],
                f"account {account!r} is not in the accounts table" if account
                else "the account_id is blank",
                "use an account_id of the accounts table (ids are compared as text)",
            ))  # fmt: skip
            continue
        if account in seen:
            problems.append(InputProblem(
                source, row, columns["account_id"],
                f"account {account} is locked twice (also on row {seen[account]})",
                "keep one row per account",
            ))  # fmt: skip
            continue
        seen[account] = row
        target = rep or current[where]
        if rep and rep not in rep_ids:
            problems.append(InputProblem(
                source, row, columns["rep_id"], f"rep {rep!r} is not in the reps table",
                "use a rep_id of the reps table, or leave it blank to keep the current rep",
            ))  # fmt: skip
        elif not target:
            problems.append(InputProblem(
                source, row, columns.get("rep_id", "rep_id"),
                f"account {account} has no rep_id here and no current_rep to keep",
                "name the rep it is locked to in rep_id",
            ))  # fmt: skip
        else:
            locked[where] = target
            reason[where] = cells.get("lock_reason", "") or reason[where]
    if problems:
        raise DataValidationError(problems)
    return accounts.assign(
        locked_rep=pd.Series([v or None for v in locked], index=accounts.index, dtype=object),
        lock_reason=pd.Series([v or None for v in reason], index=accounts.index, dtype=object),
    )
