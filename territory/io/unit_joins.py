"""Accounts to units: which unit each account lies in, and totals per unit.

By the accounts' ``unit_id`` column or by point-in-polygon on their WGS84 ``lat``/``lon``;
:func:`aggregate_accounts` sums potential, workload, revenue and counts per unit.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
from pyproj import CRS

from territory.errors import DataValidationError, InputProblem
from territory.io.unit_adjacency import _metric_geometry
from territory.io.unit_layers import WGS84, _ids_text, _problem

# --------------------------------------------------------------------------------------------
# Accounts to units
# --------------------------------------------------------------------------------------------


def join_accounts(
    accounts: pd.DataFrame,
    units: gpd.GeoDataFrame,
    *,
    by: Literal["unit_id", "location"] = "unit_id",
    outside: Literal["raise", "drop"] = "raise",
    source: str = "accounts",
    snap_km: float = 0.0,
) -> pd.Series:
    """Return the ``unit_id`` of every account (a Series aligned with ``accounts``).

    ``by="unit_id"`` reads the accounts' ``unit_id`` column; ``by="location"`` places the
    accounts' WGS84 ``lat``/``lon`` in the unit polygons (a point on a shared boundary goes to
    the unit that comes first in the layer). Accounts that match no unit are listed in a
    :class:`DataValidationError`, or with ``outside="drop"`` get ``None`` (and a warning);
    ``snap_km`` lets a location join take the nearest unit for points just outside every unit.

    Parameters
    ----------
    accounts
        The validated accounts.
    units
        The validated unit layer.
    by
        Join on the accounts' ``unit_id`` column or on their location.
    outside
        Refuse accounts that match no unit, or drop them.
    source
        How problems name the accounts (their file path).
    snap_km
        Largest distance to the nearest unit for a location outside every unit.

    Returns
    -------
    pandas.Series
        The unit id per account (``None`` where dropped).

    Raises
    ------
    DataValidationError
        Accounts match no unit (with ``outside="raise"``), or lack the columns to join on.
    """
    if by == "unit_id":
        return join_accounts_by_id(accounts, units, outside=outside, source=source)
    if by == "location":
        return join_accounts_by_location(
            accounts, units, outside=outside, source=source, snap_km=snap_km
        )
    raise ValueError(f'`by` was "{by}" but is expected to be in ("unit_id", "location")')


def _account_ids(accounts: pd.DataFrame) -> npt.NDArray[Any]:
    if "account_id" in accounts.columns:
        return accounts["account_id"].astype(str).to_numpy()
    return accounts.index.astype(str).to_numpy()


def _unmatched(
    result: pd.Series,
    lost: npt.NDArray[np.bool_],
    accounts: pd.DataFrame,
    outside: str,
    problem: InputProblem,
) -> pd.Series:
    if not lost.any():
        return result
    if outside == "raise":
        raise DataValidationError([problem])
    warnings.warn(f"{problem} (dropped: their unit_id is None)", UserWarning, stacklevel=3)
    return result


def join_accounts_by_id(
    accounts: pd.DataFrame,
    units: gpd.GeoDataFrame,
    *,
    outside: Literal["raise", "drop"] = "raise",
    source: str = "accounts",
) -> pd.Series:
    """Match accounts to units through their ``unit_id`` column (compared as text).

    Parameters
    ----------
    accounts, units, outside, source
        As for :func:`join_accounts`.

    Returns
    -------
    pandas.Series
        The unit id per account.
    """
    if "unit_id" not in accounts.columns:
        raise DataValidationError(
            [
                _problem(
                    source,
                    "no 'unit_id' column to join the accounts to the units",
                    "add a unit_id column, or join by location with by='location'",
                    column="unit_id",
                )
            ]
        )
    raw = accounts["unit_id"]
    given = raw.astype(str).str.strip().where(raw.notna(), None)
    known = set(units["unit_id"])
    lost = ~given.isin(known).to_numpy()
    result = given.where(~lost, None).rename("unit_id")
    names = _account_ids(accounts)
    missing_ids = sorted({str(v) for v in given[lost] if pd.notna(v)})
    blank = int(given[lost].isna().sum())
    parts = []
    if missing_ids:
        parts.append(f"unit ids not found in the unit layer: {_ids_text(missing_ids)}")
    if blank:
        parts.append(f"{blank} account(s) have no unit_id")
    problem = _problem(
        source,
        f"{int(lost.sum())} account(s) match no unit ({'; '.join(parts)}); "
        f"accounts {_ids_text(list(names[lost]))}",
        "correct the accounts' unit_id (same spelling and leading zeros as the unit layer's "
        "ids), add the missing units to the layer, or join by location with by='location'",
        column="unit_id",
    )
    return _unmatched(result, lost, accounts, outside, problem)


def join_accounts_by_location(
    accounts: pd.DataFrame,
    units: gpd.GeoDataFrame,
    *,
    lat: str = "lat",
    lon: str = "lon",
    outside: Literal["raise", "drop"] = "raise",
    source: str = "accounts",
    snap_km: float = 0.0,
) -> pd.Series:
    """Match accounts to units by point-in-polygon on their WGS84 ``lat``/``lon`` columns.

    ``snap_km`` gives an account that falls outside every unit (in a bay, across a simplified
    coastline) to the nearest unit within that distance.

    Parameters
    ----------
    accounts, units, outside, source, snap_km
        As for :func:`join_accounts`.
    lat, lon
        The accounts' coordinate columns.

    Returns
    -------
    pandas.Series
        The unit id per account.
    """
    if units.crs is None:
        raise DataValidationError(
            [
                _problem(
                    "the unit layer",
                    "the layer has no coordinate reference system (CRS), so account "
                    "coordinates cannot be placed in it",
                    "set it with units.set_crs(...) if you know it",
                )
            ]
        )
    absent = [c for c in (lat, lon) if c not in accounts.columns]
    if absent:
        raise DataValidationError(
            [
                _problem(
                    source,
                    f"no {absent} column(s) for the account locations",
                    f"add WGS84 '{lat}'/'{lon}' columns in degrees, or join by unit_id",
                )
            ]
        )
    y = pd.to_numeric(accounts[lat], errors="coerce").to_numpy(np.float64)
    x = pd.to_numeric(accounts[lon], errors="coerce").to_numpy(np.float64)
    points = gpd.GeoDataFrame(
        {"position": np.arange(len(accounts))},
        geometry=gpd.points_from_xy(x, y),
        crs=WGS84,
    ).to_crs(units.crs)
    shapes = gpd.GeoDataFrame(
        {"unit_position": np.arange(len(units))}, geometry=units.geometry.to_numpy(), crs=units.crs
    )
    hits = gpd.sjoin(points, shapes, how="inner", predicate="intersects")
    first = hits.groupby("position")["unit_position"].min()
    unit_pos = np.full(len(accounts), -1, dtype=np.int64)
    unit_pos[first.index.to_numpy()] = first.to_numpy()
    lost = unit_pos < 0
    if snap_km > 0 and lost.any():
        _, _, metric = _metric_geometry(units)
        near = gpd.sjoin_nearest(
            points[lost].to_crs(metric),
            shapes.to_crs(metric),
            how="inner",
            max_distance=snap_km * 1000.0,
        )
        nearest = near.groupby("position")["unit_position"].min()
        unit_pos[nearest.index.to_numpy()] = nearest.to_numpy()
        lost = unit_pos < 0
    unit_ids = units["unit_id"].to_numpy()
    values = [unit_ids[p] if p >= 0 else None for p in unit_pos]
    result = pd.Series(values, index=accounts.index, name="unit_id", dtype=object)
    names = _account_ids(accounts)
    bad_coords = int((np.isnan(x) | np.isnan(y))[lost].sum())
    note = f" ({bad_coords} without coordinates)" if bad_coords else ""
    fix = (
        "check their coordinates (lat/lon swapped? sign of the longitude?), add the units that "
        "cover them, or pass outside='drop' to leave them without a unit"
    )
    if lost.all() and _layer_looks_swapped(units, x, y):
        fix = (
            "the unit layer's coordinates look swapped: its x values run over the accounts' "
            "latitudes and its y values over their longitudes; save the layer with longitude "
            "first (x = longitude, y = latitude, as GeoJSON requires)"
        )
    problem = _problem(
        source,
        f"{int(lost.sum())} account(s) lie outside every unit{note}: "
        f"{_ids_text(list(names[lost]))}",
        fix,
        column=f"{lat}/{lon}",
    )
    return _unmatched(result, lost, accounts, outside, problem)


def _layer_looks_swapped(
    units: gpd.GeoDataFrame, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
) -> bool:
    """Tell whether most accounts would lie within a geographic layer if its x and y were swapped.

    A layer stored latitude first; its y still within ±90, so it passed validation.
    """
    if units.crs is None or not CRS(units.crs).is_geographic or len(x) == 0:
        return False
    minx, miny, maxx, maxy = (float(v) for v in units.total_bounds)
    inside = (y >= minx) & (y <= maxx) & (x >= miny) & (x <= maxy)
    return bool(inside.mean() >= 0.5)


def aggregate_accounts(
    accounts: pd.DataFrame,
    unit_of_account: pd.Series | Sequence[Any],
    unit_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Sum accounts per unit: ``unit_id, potential, workload, n_accounts, revenue``.

    ``unit_of_account`` is aligned with ``accounts`` (as returned by :func:`join_accounts`);
    accounts whose unit is ``None`` are left out. ``revenue`` is 0 when the accounts have no
    revenue column. With ``unit_ids`` (for example ``units["unit_id"]``) the result has one row
    per unit in that order, zeros for units without accounts, so that row ``i`` matches node
    ``i`` of the unit graph; otherwise it lists the units that have accounts, sorted by id.

    Parameters
    ----------
    accounts
        The validated accounts.
    unit_of_account
        The unit id per account.
    unit_ids
        The units to report, in order.

    Returns
    -------
    pandas.DataFrame
        One row per unit.
    """
    unit = pd.Series(np.asarray(unit_of_account, dtype=object), name="unit_id")
    if len(unit) != len(accounts):
        raise ValueError(
            f"unit_of_account has {len(unit)} entries for {len(accounts)} accounts; "
            "pass the Series returned by join_accounts for these accounts"
        )
    frame = pd.DataFrame(
        {
            "unit_id": unit.to_numpy(),
            "potential": accounts["potential"].to_numpy(np.float64),
            "workload": accounts["workload"].to_numpy(np.float64),
            "n_accounts": np.ones(len(accounts), dtype=np.int64),
            "revenue": (
                accounts["revenue"].fillna(0.0).to_numpy(np.float64)
                if "revenue" in accounts.columns
                else np.zeros(len(accounts))
            ),
        }
    ).dropna(subset=["unit_id"])
    frame["unit_id"] = frame["unit_id"].astype(str)
    totals = frame.groupby("unit_id", sort=True).sum()
    if unit_ids is not None:
        order = pd.Index([str(u) for u in unit_ids], name="unit_id")
        unknown = sorted(set(totals.index) - set(order))
        if unknown:
            raise DataValidationError(
                [
                    _problem(
                        "accounts",
                        f"accounts refer to unit ids not in unit_ids: {_ids_text(unknown)}",
                        "join the accounts to the same unit layer whose ids you pass",
                        column="unit_id",
                    )
                ]
            )
        totals = totals.reindex(order, fill_value=0)
    totals["n_accounts"] = totals["n_accounts"].astype(np.int64)
    return totals.reset_index()[["unit_id", "potential", "workload", "n_accounts", "revenue"]]
