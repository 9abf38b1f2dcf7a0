"""Plan metrics as pure functions of (accounts, reps, plan): no I/O, inputs never modified.

A plan is the rep id of every account, aligned with the accounts table's rows. ``METRICS`` lists
the plan-level numbers that reports and scenario comparisons show.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from territory.domain.geo import haversine_km
from territory.domain.model import DEFAULT_TIER_FACTORS, targets, tier_factors_of

PlanArray = npt.NDArray[np.object_]


def _rep_positions(reps: pd.DataFrame, plan: PlanArray) -> npt.NDArray[np.int64]:
    ids = reps["rep_id"].astype(str).to_numpy()
    order = np.argsort(ids, kind="stable")
    pos = np.searchsorted(ids[order], plan.astype(str))
    pos = np.minimum(pos, len(ids) - 1)
    if not (ids[order][pos] == plan.astype(str)).all():
        unknown = sorted(set(plan.astype(str).tolist()) - set(ids.tolist()))
        raise ValueError(f"plan names reps that are not in the reps table: {unknown[:5]}")
    return order[pos].astype(np.int64)


def _previous(accounts: pd.DataFrame) -> PlanArray:
    if "current_rep" not in accounts.columns:
        return np.full(len(accounts), None, dtype=object)
    return accounts["current_rep"].to_numpy(dtype=object)


def distance_km(
    accounts: pd.DataFrame, reps: pd.DataFrame, plan: PlanArray
) -> npt.NDArray[np.float64]:
    """Great-circle km from each account to its rep's home base."""
    pos = _rep_positions(reps, plan)
    return haversine_km(
        accounts["lat"].to_numpy(dtype=np.float64),
        accounts["lon"].to_numpy(dtype=np.float64),
        reps["lat"].to_numpy(dtype=np.float64)[pos],
        reps["lon"].to_numpy(dtype=np.float64)[pos],
    )


def moved_mask(accounts: pd.DataFrame, plan: PlanArray) -> npt.NDArray[np.bool_]:
    """Accounts whose rep changes; accounts without a current rep are new, not moved."""
    prev = _previous(accounts)
    has_prev = np.array([p is not None and p == p and p != "" for p in prev.tolist()], dtype=bool)
    return has_prev & (prev.astype(str) != plan.astype(str))


def rep_targets(
    accounts: pd.DataFrame, reps: pd.DataFrame, tier_factors: Mapping[str, float] | None = None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Potential target (capacity x tier factor share) and workload target (capacity share)."""
    factors = tier_factors_of(reps, tier_factors or DEFAULT_TIER_FACTORS)
    capacity = reps["capacity"].to_numpy(dtype=np.float64)
    return (
        targets(float(accounts["potential"].sum()), capacity * factors),
        targets(float(accounts["workload"].sum()), capacity),
    )


def assignment_table(accounts: pd.DataFrame, reps: pd.DataFrame, plan: PlanArray) -> pd.DataFrame:
    """One row per account: where it goes, where it was, how far and how big (assignments.csv)."""
    return pd.DataFrame(
        {
            "account_id": accounts["account_id"].astype(str).to_numpy(dtype=object),
            "rep_id": plan.astype(str).astype(object),
            "previous_rep": _previous(accounts),
            "moved": moved_mask(accounts, plan),
            "distance_km": np.round(distance_km(accounts, reps, plan), 3),
            "potential": accounts["potential"].to_numpy(dtype=np.float64),
            "workload": accounts["workload"].to_numpy(dtype=np.float64),
        }
    )


def territory_table(
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    plan: PlanArray,
    tier_factors: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """One row per rep: totals against targets, utilisation, travel and moves (territories.csv).

    ``potential_dev`` and ``workload_dev`` are relative deviations from target (0.03 = 3% over).
    """
    pos = _rep_positions(reps, plan)
    n_reps = len(reps)
    pot_target, wl_target = rep_targets(accounts, reps, tier_factors)
    potential = np.bincount(
        pos, weights=accounts["potential"].to_numpy(np.float64), minlength=n_reps
    )
    workload = np.bincount(pos, weights=accounts["workload"].to_numpy(np.float64), minlength=n_reps)
    count = np.bincount(pos, minlength=n_reps)
    dist_sum = np.bincount(pos, weights=distance_km(accounts, reps, plan), minlength=n_reps)
    moved = moved_mask(accounts, plan)
    moved_in = np.bincount(pos[moved], minlength=n_reps)
    prev = _previous(accounts)
    moved_out = np.zeros(n_reps, dtype=np.int64)
    if moved.any():
        # A former rep who left the team (a "lose reps" scenario) has no row to count against.
        known = set(reps["rep_id"].astype(str).tolist())
        leavers = prev[moved].astype(str)
        still_here = np.array([rep in known for rep in leavers.tolist()], dtype=bool)
        moved_out = np.bincount(
            _rep_positions(reps, leavers[still_here].astype(object)), minlength=n_reps
        )
    capacity = reps["capacity"].to_numpy(dtype=np.float64)
    tiers = reps["tier"] if "tier" in reps.columns else pd.Series("B", index=reps.index)
    with np.errstate(divide="ignore", invalid="ignore"):
        pot_dev = np.where(pot_target > 0, potential / pot_target - 1.0, 0.0)
        wl_dev = np.where(wl_target > 0, workload / wl_target - 1.0, 0.0)
        mean_dist = np.where(count > 0, dist_sum / np.maximum(count, 1), 0.0)
    return pd.DataFrame(
        {
            "rep_id": reps["rep_id"].astype(str).to_numpy(dtype=object),
            "tier": tiers.fillna("B").astype(str).to_numpy(dtype=object),
            "n_accounts": count.astype(np.int64),
            "potential": potential,
            "potential_target": pot_target,
            "potential_dev": np.round(pot_dev, 6),
            "workload": workload,
            "workload_target": wl_target,
            "workload_dev": np.round(wl_dev, 6),
            "capacity": capacity,
            "utilization": np.round(workload / capacity, 6),
            "mean_distance_km": np.round(mean_dist, 3),
            "accounts_moved_in": moved_in.astype(np.int64),
            "accounts_moved_out": moved_out.astype(np.int64),
        }
    )


@dataclass(frozen=True)
class TerritoryExtreme:
    """A plan metric: the largest value over reps of one :func:`territory_table` column.

    Targets follow ``tier_factors`` (capacity x tier factor shares for potential, capacity
    alone for workload); ``absolute`` ranks deviations by size, whichever side they fall on.
    """

    column: str
    absolute: bool = False

    def __call__(
        self,
        accounts: pd.DataFrame,
        reps: pd.DataFrame,
        plan: PlanArray,
        tier_factors: Mapping[str, float] | None = None,
    ) -> float:
        """Return the column's largest (absolute) value over the plan's reps."""
        values = territory_table(accounts, reps, plan, tier_factors)[self.column]
        return float((values.abs() if self.absolute else values).max())


max_potential_deviation = TerritoryExtreme("potential_dev", absolute=True)
"""Largest |potential / target - 1| over reps (targets: capacity x tier factor shares)."""
max_workload_deviation = TerritoryExtreme("workload_dev", absolute=True)
"""Largest |workload / target - 1| over reps; workload targets follow capacity alone."""
max_utilization = TerritoryExtreme("utilization")
"""Highest workload / capacity over reps (above 1 means overtime)."""


def travel_hour_km(accounts: pd.DataFrame, reps: pd.DataFrame, plan: PlanArray) -> float:
    """Workload-weighted travel: sum of hours/year x km to the rep's home base."""
    return float(
        (accounts["workload"].to_numpy(np.float64) * distance_km(accounts, reps, plan)).sum()
    )


def mean_distance_km(accounts: pd.DataFrame, reps: pd.DataFrame, plan: PlanArray) -> float:
    """Average km from an account to its rep's home base."""
    return float(distance_km(accounts, reps, plan).mean()) if len(accounts) else 0.0


def accounts_moved(accounts: pd.DataFrame, reps: pd.DataFrame, plan: PlanArray) -> float:
    """How many accounts change rep."""
    return float(moved_mask(accounts, plan).sum())


def potential_moved(accounts: pd.DataFrame, reps: pd.DataFrame, plan: PlanArray) -> float:
    """Potential (currency/year) on accounts that change rep."""
    return float(accounts["potential"].to_numpy(np.float64)[moved_mask(accounts, plan)].sum())


def revenue_moved(accounts: pd.DataFrame, reps: pd.DataFrame, plan: PlanArray) -> float:
    """Last year's revenue (currency/year) on accounts that change rep; 0 without history."""
    if "revenue_last_year" not in accounts.columns:
        return 0.0
    revenue = accounts["revenue_last_year"].to_numpy(np.float64)
    return float(np.nansum(revenue[moved_mask(accounts, plan)]))


Metric = Callable[..., float]

METRICS: dict[str, Metric] = {
    "max_potential_deviation": max_potential_deviation,
    "max_workload_deviation": max_workload_deviation,
    "travel_hour_km": travel_hour_km,
    "mean_distance_km": mean_distance_km,
    "accounts_moved": accounts_moved,
    "potential_moved": potential_moved,
    "revenue_moved": revenue_moved,
    "max_utilization": max_utilization,
}
"""Plan-level metrics by name, in the order reports list them."""


def plan_metrics(
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    plan: PlanArray,
    tier_factors: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Every registered metric of one plan (targets use the given tier factors)."""
    return {
        name: metric(accounts, reps, plan, tier_factors)
        if isinstance(metric, TerritoryExtreme)
        else metric(accounts, reps, plan)
        for name, metric in METRICS.items()
    }
