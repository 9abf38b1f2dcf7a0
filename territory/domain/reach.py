"""Which accounts no rep can reach within a travel limit, and the smallest limit reaching all.

``--max-distance-km`` removes every pair longer than the limit; an account whose nearest rep is
further away has no rep left and the rules are infeasible. This module measures that before any
solve, so the user reads one summary (how many accounts, the smallest limit that reaches them
all) and can choose to leave those accounts unassigned (``--leave-unreachable``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from territory.domain.contract import is_blank
from territory.domain.geo import haversine_km, unit_vectors

UNREACHABLE_COLUMNS = ("account_id", "nearest_rep", "nearest_km", "limit_km")
"""The columns of ``unreachable.csv``: each account, its nearest rep and how far it is."""


def nearest_reps(accounts: pd.DataFrame, reps: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each account's nearest rep (position in ``reps``) and its great-circle distance in km."""
    rep_xyz = unit_vectors(reps["lat"].to_numpy(), reps["lon"].to_numpy())
    account_xyz = unit_vectors(accounts["lat"].to_numpy(), accounts["lon"].to_numpy())
    _, nearest = cKDTree(rep_xyz).query(account_xyz, k=1)
    nearest = np.asarray(nearest, dtype=np.int64).reshape(-1)
    km = haversine_km(
        accounts["lat"].to_numpy(dtype=np.float64),
        accounts["lon"].to_numpy(dtype=np.float64),
        reps["lat"].to_numpy(dtype=np.float64)[nearest],
        reps["lon"].to_numpy(dtype=np.float64)[nearest],
    )
    return nearest, np.asarray(km, dtype=np.float64)


def unreachable_accounts(
    accounts: pd.DataFrame, reps: pd.DataFrame, limit_km: float
) -> pd.DataFrame:
    """Find the accounts whose nearest rep is beyond ``limit_km`` (locked accounts excepted).

    A lock is the user's explicit word and holds whatever the distance, as in the solve.
    Returns the :data:`UNREACHABLE_COLUMNS`, farthest first (ties by account id).
    """
    nearest, km = nearest_reps(accounts, reps)
    out = km > limit_km
    if "locked_rep" in accounts.columns:
        locked = ~accounts["locked_rep"].map(is_blank).astype(bool)
        out &= ~locked.to_numpy(dtype=bool)
    table = pd.DataFrame(
        {
            "account_id": accounts["account_id"].astype(str).to_numpy()[out],
            "nearest_rep": reps["rep_id"].astype(str).to_numpy()[nearest[out]],
            "nearest_km": np.round(km[out], 3),
            "limit_km": float(limit_km),
        }
    )
    return table.sort_values(
        ["nearest_km", "account_id"], ascending=[False, True], kind="stable"
    ).reset_index(drop=True)


def smallest_reaching_limit(nearest_km: np.ndarray | pd.Series) -> float:
    """Return the smallest limit, rounded up to 0.1 km, under which every account has a rep."""
    largest = float(np.max(np.asarray(nearest_km, dtype=np.float64)))
    return math.ceil(largest * 10.0 - 1e-9) / 10.0


def reach_summary(count: int, limit_km: float, smallest_km: float) -> str:
    """One sentence: how many accounts no rep reaches, and the limit that would reach them all."""
    return (
        f"{count:,} account(s) have no rep within the travel limit of {limit_km:,.1f} km; a "
        f"limit of {smallest_km:,.1f} km reaches them all (--max-distance-km {smallest_km:.1f}), "
        "or --leave-unreachable leaves them unassigned and lists them"
    )
