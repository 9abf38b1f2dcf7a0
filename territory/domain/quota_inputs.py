"""The territory table a quota plan reads: columns parsed, checked and summed from accounts.

:func:`territory_history` sums account history per territory; the private reader turns the
territory table into arrays and reports every bad cell with its row and a fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from territory.domain.arrays import BoolArray, FloatArray, ObjectArray
from territory.domain.contract import MAX_ROWS_PER_PROBLEM, MAX_TOTAL_MAGNITUDE
from territory.domain.quota_bases import _normalise_role, history_baseline
from territory.domain.quota_config import (
    _LIMIT_TEXT,
    _SOURCE,
    HISTORY_COLUMNS,
    QuotaConfig,
)
from territory.errors import (
    DataValidationError,
    InputProblem,
)

# Account columns that territory_history sums per territory, and the column each one feeds.
_ACCOUNT_HISTORY = MappingProxyType(
    {
        "revenue_last_year": "history",
        "revenue_prior_year": "history_prev",
        "revenue_two_years_ago": "history_prev2",
        "quota_last_year": "prior_quota",
    }
)
_MEASURE_SUFFIX = "_last_year"


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


def _blank(values: pd.Series) -> BoolArray:
    text = values.astype(str).str.strip()
    return np.asarray(values.isna().to_numpy() | (text == "").to_numpy(), dtype=np.bool_)


def _row_problems(
    mask: BoolArray, column: str, message: str, fix: str, source: str = _SOURCE
) -> list[InputProblem]:
    rows = np.flatnonzero(mask)
    problems = [
        InputProblem(source, int(r) + 2, column, message, fix)
        for r in rows[:MAX_ROWS_PER_PROBLEM].tolist()
    ]
    if rows.size > MAX_ROWS_PER_PROBLEM:
        problems.append(
            InputProblem(
                source,
                None,
                column,
                f"{rows.size - MAX_ROWS_PER_PROBLEM} more row(s) with the same problem",
                fix,
            )
        )
    return problems


def _numbers(
    frame: pd.DataFrame,
    column: str,
    problems: list[InputProblem],
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    required: bool = False,
    meaning: str = "",
) -> FloatArray:
    """Return a numeric column as floats (NaN for blanks), recording what is wrong with it."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    blank = _blank(raw)
    problems += _row_problems(
        np.isnan(values) & ~blank,
        column,
        f"is not a number ({meaning})",
        "write a plain number without currency symbols or thousands separators",
    )
    if required:
        problems += _row_problems(
            blank, column, f"is blank ({meaning})", "fill in a value for every row"
        )
    with np.errstate(invalid="ignore"):
        huge = np.isinf(values) | (np.abs(values) > MAX_TOTAL_MAGNITUDE)
    for r in np.flatnonzero(huge)[:MAX_ROWS_PER_PROBLEM].tolist():
        problems.append(
            InputProblem(
                _SOURCE,
                r + 2,
                column,
                f"{float(values[r])!r} is beyond the largest magnitude supported "
                f"({_LIMIT_TEXT}; {meaning})",
                "correct the value (a stray exponent or a unit mix-up?)",
            )
        )
    values = np.where(huge, np.nan, values)
    out_of_range = np.zeros(len(frame), dtype=bool)
    if low is not None:
        out_of_range |= (values <= low) if low_open else (values < low)
    if high is not None:
        out_of_range |= values > high
    problems += _row_problems(
        out_of_range & ~np.isnan(values),
        column,
        f"is out of range ({meaning})",
        "correct the value",
    )
    return values


@dataclass(frozen=True, eq=False)
class _Inputs:
    """The territories frame as arrays; NaN marks an unknown number."""

    frame: pd.DataFrame
    territory_id: ObjectArray
    rep_key: ObjectArray
    rep_id: ObjectArray
    vacant: BoolArray
    role: ObjectArray
    potential: FloatArray
    history: FloatArray
    fte: FloatArray
    availability: FloatArray
    tenure: FloatArray
    hire_month: FloatArray
    prior_quota: FloatArray
    potential_before: FloatArray
    ote: FloatArray
    n_deals: FloatArray

    @property
    def n(self) -> int:
        return int(self.potential.shape[0])

    def text(self, column: str) -> ObjectArray:
        """Return an optional text column as objects (None where blank or absent)."""
        if column not in self.frame.columns:
            return np.full(self.n, None, dtype=object)
        values = self.frame[column]
        out = values.astype(str).str.strip().to_numpy(dtype=object)
        out[_blank(values)] = None
        return out


_TRUE = frozenset({"1", "true", "yes", "y", "t", "1.0"})


def _read_inputs(territories: pd.DataFrame, config: QuotaConfig) -> _Inputs:
    frame = territories.reset_index(drop=True)
    n = len(frame)
    problems: list[InputProblem] = []
    for column, fix in (
        ("rep_id", "add the rep id of each territory (blank for a vacant territory)"),
        ("potential", "add each territory's potential, e.g. from territories.csv"),
    ):
        if column not in frame.columns:
            problems.append(InputProblem(_SOURCE, None, column, "column is missing", fix))
    if problems:
        raise DataValidationError(problems)

    rep_blank = _blank(frame["rep_id"])
    rep_text = frame["rep_id"].astype(str).str.strip().to_numpy(dtype=object)
    has_tid = "territory_id" in frame.columns
    tid_blank = _blank(frame["territory_id"]) if has_tid else np.ones(n, dtype=bool)
    territory_id = np.where(
        tid_blank, rep_text, frame["territory_id"].astype(str).str.strip() if has_tid else ""
    ).astype(object)
    problems += _row_problems(
        rep_blank & tid_blank,
        "rep_id",
        "is blank and the row has no territory_id, so a vacant territory cannot be named",
        "give the row a territory_id (its quota is then held by TBH-<territory_id>)",
    )
    dup = pd.Series(territory_id).duplicated(keep=False).to_numpy() & ~(rep_blank & tid_blank)
    problems += _row_problems(
        dup,
        "territory_id" if has_tid else "rep_id",
        "appears more than once; each territory needs one row",
        "merge the duplicate rows or give them distinct ids",
    )

    potential = _numbers(
        frame, "potential", problems, low=0.0, required=True, meaning="currency/year, 0 or more"
    )
    history = np.column_stack(
        [
            _numbers(frame, c, problems, low=0.0, meaning="revenue in currency, 0 or more")
            for c in HISTORY_COLUMNS
        ]
    )
    fte = _numbers(frame, "fte", problems, low=0.0, low_open=True, meaning="more than 0")
    availability = _numbers(
        frame, "availability", problems, low=0.0, high=1.0, meaning="share of the year, 0..1"
    )
    tenure = _numbers(frame, "tenure_months", problems, low=0.0, meaning="months, 0 or more")
    hire_month = _numbers(frame, "hire_month", problems, low=1.0, high=12.0, meaning="1..12")
    prior_quota = _numbers(frame, "prior_quota", problems, low=0.0, meaning="0 or more")
    potential_before = _numbers(frame, "potential_before", problems, low=0.0, meaning=">= 0")
    ote = _numbers(frame, "ote", problems, low=0.0, meaning="currency/year, 0 or more")
    n_deals = _numbers(frame, "n_deals", problems, low=0.0, meaning="deals/year, 0 or more")

    method = config.method
    if method.name in {"historical", "untapped"}:
        if "history" not in frame.columns:
            problems.append(
                InputProblem(
                    _SOURCE,
                    None,
                    "history",
                    f"column is missing; the {method.name} method needs last year's revenue",
                    "merge territory_history(accounts, assignments) on rep_id, or use the "
                    "potential or blended method",
                )
            )
        elif np.isnan(history_baseline(history, method.year_weights)).all():
            problems.append(
                InputProblem(
                    _SOURCE,
                    None,
                    "history",
                    f"no territory has history, so the {method.name} method has nothing to scale",
                    "fill in last year's revenue or use the potential or blended method",
                )
            )
    if (
        config.caps is not None
        and config.caps.reference == "history"
        and "history" not in frame.columns
    ):
        problems.append(
            InputProblem(
                _SOURCE,
                None,
                "history",
                "column is missing; the yearly caps are set to use last year's revenue",
                "merge territory_history(accounts, assignments) on rep_id, or set "
                "caps.reference to 'prior_quota'",
            )
        )
    if problems:
        raise DataValidationError(problems)

    if "vacant" in frame.columns:
        flag = frame["vacant"].astype(str).str.strip().str.lower().isin(_TRUE).to_numpy()
    else:
        flag = np.zeros(n, dtype=bool)
    tbh = np.array([str(r).upper().startswith("TBH-") for r in rep_text], dtype=bool)
    vacant = flag | rep_blank | tbh
    rep_id = np.where(
        vacant & ~tbh, np.array([f"TBH-{t}" for t in territory_id], dtype=object), rep_text
    ).astype(object)
    roles = (
        frame["role"].to_numpy(dtype=object)
        if "role" in frame.columns
        else np.full(n, None, dtype=object)
    )
    return _Inputs(
        frame=frame,
        territory_id=territory_id,
        rep_key=np.array(
            [None if b else r for b, r in zip(rep_blank, rep_text, strict=True)], dtype=object
        ),
        rep_id=rep_id,
        vacant=np.asarray(vacant, dtype=np.bool_),
        role=np.array([_normalise_role(r) for r in roles], dtype=object),
        potential=potential,
        history=history,
        fte=np.where(np.isnan(fte), 1.0, fte),
        availability=np.where(np.isnan(availability), 1.0, availability),
        tenure=tenure,
        hire_month=hire_month,
        prior_quota=prior_quota,
        potential_before=potential_before,
        ote=ote,
        n_deals=n_deals,
    )


def territory_history(
    accounts: pd.DataFrame,
    assignments: pd.DataFrame | Sequence[object] | npt.NDArray[Any],
    reps: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Re-base account history to the new territories: one row per rep.

    History follows the accounts, not the old territory (spec §0), so each account's
    ``revenue_last_year`` is summed under the rep the new plan gives it. Optional account
    columns ``revenue_prior_year``, ``revenue_two_years_ago`` and ``quota_last_year`` become
    ``history_prev``, ``history_prev2`` and ``prior_quota`` the same way, and any other
    ``<measure>_last_year`` column (last year's sales of one comp-plan measure) becomes
    ``history_<measure>``. A territory whose
    accounts all lack a value gets NaN, which the quota methods read as "no history yet"
    (unlike 0, "no revenue"). ``potential_before`` sums potential under ``current_rep``, to
    exempt territories that the realignment changed from the yearly caps.

    Parameters
    ----------
    accounts
        Accounts table with ``account_id`` and ``potential`` (and the optional columns above).
    assignments
        ``assignments.csv`` (``account_id``, ``rep_id``), or the rep id of every account in
        the accounts' row order.
    reps
        Optional reps table: its order and ``role`` column are carried over, and reps without
        accounts still get a row.

    Returns
    -------
    Columns ``rep_id`` and whichever of ``history``, ``history_prev``, ``history_prev2``,
    ``prior_quota``, ``potential_before`` and ``role`` the inputs allow; merge it into the
    territories table on ``rep_id``.
    """
    problems = [
        InputProblem("accounts", None, c, "column is missing", f"add the '{c}' column")
        for c in ("account_id", "potential")
        if c not in accounts.columns
    ]
    if isinstance(assignments, pd.DataFrame):
        problems += [
            InputProblem("assignments", None, c, "column is missing", f"add the '{c}' column")
            for c in ("account_id", "rep_id")
            if c not in assignments.columns
        ]
    if problems:
        raise DataValidationError(problems)
    account_ids = accounts["account_id"].astype(str)
    if isinstance(assignments, pd.DataFrame):
        lookup = pd.Series(
            assignments["rep_id"].astype(str).to_numpy(),
            index=assignments["account_id"].astype(str).to_numpy(),
        )
        lookup = lookup[~lookup.index.duplicated(keep="last")]
        plan = account_ids.map(lookup)
    else:
        plan = pd.Series(np.asarray(assignments, dtype=object), dtype=object)
        if len(plan) != len(accounts):
            raise DataValidationError(
                [
                    InputProblem(
                        "assignments",
                        None,
                        None,
                        f"has {len(plan)} entries for {len(accounts)} accounts",
                        "pass one rep id per account, in the accounts' row order",
                    )
                ]
            )
        plan = plan.astype(str)
    missing = plan.isna().to_numpy()
    if missing.any():
        raise DataValidationError(
            _row_problems(
                missing,
                "account_id",
                "has no rep in the assignments",
                "assign every account before setting quotas",
                source="accounts",
            )
        )
    if reps is not None:
        rep_order = reps["rep_id"].astype(str).tolist()
    else:
        rep_order = sorted(set(plan.tolist()))
    out = pd.DataFrame({"rep_id": rep_order})
    keys = plan.to_numpy()
    # Last year's sales per comp-plan measure (<measure>_last_year) split quotas by measure.
    by_measure = {
        str(c): f"history_{str(c).removesuffix(_MEASURE_SUFFIX)}"
        for c in accounts.columns
        if str(c).endswith(_MEASURE_SUFFIX) and c not in _ACCOUNT_HISTORY
    }
    for source, target in {**_ACCOUNT_HISTORY, **by_measure}.items():
        if source in accounts.columns:
            values = pd.to_numeric(accounts[source], errors="coerce").to_numpy(np.float64)
            sums = pd.Series(values).groupby(keys).sum(min_count=1)
            out[target] = out["rep_id"].map(sums).to_numpy(dtype=np.float64)
    if "current_rep" in accounts.columns:
        current = accounts["current_rep"]
        known = ~_blank(current)
        potential = pd.to_numeric(accounts["potential"], errors="coerce").to_numpy(np.float64)
        before = (
            pd.Series(potential[known])
            .groupby(current[known].astype(str).str.strip().to_numpy())
            .sum()
        )
        out["potential_before"] = out["rep_id"].map(before).fillna(0.0).to_numpy(np.float64)
    if reps is not None and "role" in reps.columns:
        out["role"] = reps["role"].to_numpy(dtype=object)
    return out
