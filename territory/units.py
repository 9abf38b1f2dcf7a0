"""Basic units (ZIP codes, counties, postal districts) as geometry: read, join, link, dissolve.

Territories are often drawn from geographic basic units rather than from loose accounts. This
module holds the geometry side of that work:

- :func:`read_units` / :func:`validate_units`: a unit layer (GeoJSON, GeoPackage, Shapefile)
  with one polygon per unit id; every problem (invalid polygon, missing CRS, duplicate or missing
  id, non-polygon geometry) is collected into one :class:`~territory.errors.DataValidationError`
  that names the ids and says how to fix them. :func:`check_same_crs` does the same for a second
  layer in another CRS.
- :func:`join_accounts`: which unit each account lies in, by its ``unit_id`` column or by
  point-in-polygon on its WGS84 ``lat``/``lon``.
- :func:`adjacency`: the rook or queen dual graph as a
  :class:`~territory.districting.DualGraph` (node ``i`` is row ``i`` of the unit layer), with
  islands and disconnected parts reported and closed by ``manual_links``;
  :func:`read_adjacency` reads a ready NetworkX adjacency JSON graph instead.
- :func:`aggregate_accounts`: potential, workload, revenue and counts per unit.
- :func:`dissolve_territories` and :func:`write_geojson`: one (multi)polygon per rep, written
  byte-for-byte reproducibly as ``territories.geojson``.

All file IO is in :func:`read_units`, :func:`read_adjacency` and :func:`write_geojson`; the other
functions never modify their inputs.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
import shapely.errors
from pyproj import CRS
from pyproj.exceptions import CRSError, ProjError
from scipy.sparse import csgraph

from territory.districting import DualGraph, graph_from_edges, load_dual_graph
from territory.errors import DataValidationError, InputProblem

WGS84 = "EPSG:4326"
"""Accounts carry WGS84 latitude/longitude; GeoJSON output is WGS84 too (RFC 7946)."""

POLYGONAL = ("Polygon", "MultiPolygon")

MAX_IDS_SHOWN = 10
"""How many ids one message lists before saying "and N more"."""

UnitLink = tuple[str, str]


class DisconnectedUnitsWarning(UserWarning):
    """The unit graph has islands or several connected parts; the message names them."""


class OverlappingUnitsWarning(UserWarning):
    """Units of a layer overlap (their interiors share area); the message says how many pairs
    and how much area, naming the largest overlaps."""


OVERLAP_MIN_M2 = 1.0
"""Shared area (m²) below which two units count as touching, not overlapping: rounding of
shared vertices leaves slivers far below a square metre."""


def _ids_text(ids: Sequence[Any], limit: int = MAX_IDS_SHOWN) -> str:
    shown = ", ".join(repr(str(i)) for i in ids[:limit])
    more = len(ids) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def _problem(source: str, message: str, fix: str, column: str | None = None) -> InputProblem:
    return InputProblem(source=source, row=None, column=column, message=message, fix=fix)


# --------------------------------------------------------------------------------------------
# Reading and checking unit layers
# --------------------------------------------------------------------------------------------


def read_units(
    path: str | Path, id_column: str, *, layer: str | None = None, repair: bool = False
) -> gpd.GeoDataFrame:
    """Read a unit layer (GeoJSON, GeoPackage, Shapefile) and check it.

    Parameters
    ----------
    path
        Any file :func:`geopandas.read_file` opens.
    id_column
        Column holding the unit id (ZIP code, FIPS code, ...). Ids are kept as strings; store
        them as text in the file so that leading zeros survive.
    layer
        Layer name inside a GeoPackage with several layers.
    repair
        Repair invalid polygons with ``make_valid`` (keeping their polygonal parts) instead of
        reporting them.

    Returns
    -------
    geopandas.GeoDataFrame
        The layer with a string ``unit_id`` column first and a fresh ``RangeIndex``: row ``i`` is
        node ``i`` of :func:`adjacency`.

    Raises
    ------
    DataValidationError
        Listing every problem found (see :func:`validate_units`).
    """
    path = Path(path)
    if not path.exists():
        raise DataValidationError(
            [_problem(str(path), "file not found", "check the path to the unit layer")]
        )
    try:
        frame = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several types; all mean "cannot read this file"
        raise DataValidationError(
            [
                _problem(
                    str(path),
                    f"cannot read the unit layer ({exc})",
                    "save it as GeoJSON, GeoPackage or Shapefile and check that it opens in QGIS",
                )
            ]
        ) from exc
    try:
        return validate_units(frame, id_column, source=str(path), repair=repair)
    except DataValidationError:
        raise
    except (CRSError, ProjError, shapely.errors.ShapelyError, ValueError, TypeError) as exc:
        # A file that opens but whose CRS or geometries the libraries cannot work with.
        raise DataValidationError(
            [
                _problem(
                    str(path),
                    f"the unit layer cannot be used ({type(exc).__name__}: {exc})",
                    "check its coordinate reference system and geometries in QGIS (Vector > "
                    "Geometry Tools > Check Validity) and save it again as GeoJSON or GeoPackage",
                )
            ]
        ) from exc


def validate_units(
    units: gpd.GeoDataFrame,
    id_column: str = "unit_id",
    *,
    source: str = "units",
    repair: bool = False,
) -> gpd.GeoDataFrame:
    """Check a unit layer and return a copy with a string ``unit_id`` column and a ``RangeIndex``.

    Every problem is collected before raising: the id column missing, ids missing or repeated,
    no CRS, empty or non-polygon geometries, and invalid polygons (each named with its id and
    GEOS's reason). With ``repair=True`` invalid polygons are fixed with ``make_valid`` instead.
    """
    problems: list[InputProblem] = []
    if id_column not in units.columns:
        columns = [str(c) for c in units.columns if c != units.geometry.name]
        problems.append(
            _problem(
                source,
                f"no id column '{id_column}'; the columns are {columns}",
                "pass id_column=<the column holding the unit ids>",
                column=id_column,
            )
        )
        raise DataValidationError(problems)

    out = units.copy().reset_index(drop=True)
    raw = out[id_column]
    missing = raw.isna() | (raw.astype(str).str.strip() == "")
    ids = raw.astype(str).str.strip()
    # A stale unit_id column is replaced; the original id column (if another) is kept as is.
    out = out.drop(columns=["unit_id"], errors="ignore")
    out.insert(0, "unit_id", ids.where(~missing, None))

    if missing.any():
        rows = [int(i) + 1 for i in np.flatnonzero(missing.to_numpy())]
        problems.append(
            _problem(
                source,
                f"{len(rows)} unit(s) have no id (features "
                f"{', '.join(map(str, rows[:MAX_IDS_SHOWN]))}, counting from 1)",
                "give every unit an id or delete the features without one",
                column=id_column,
            )
        )
    counts = ids[~missing].value_counts()
    repeated = sorted(counts[counts > 1].index)
    if repeated:
        problems.append(
            _problem(
                source,
                f"{len(repeated)} unit id(s) occur more than once: {_ids_text(repeated)}",
                "merge the pieces of each unit into one MultiPolygon "
                "(units.dissolve(by=id_column)) or give them distinct ids",
                column=id_column,
            )
        )

    if out.crs is None:
        problems.append(
            _problem(
                source,
                "the layer has no coordinate reference system (CRS)",
                "set it with units.set_crs(...) if you know it (for example "
                "set_crs('EPSG:4326') for longitude/latitude degrees) and save the file again",
            )
        )

    geometry = out.geometry
    label = out["unit_id"].fillna("<no id>").to_numpy()
    empty = (geometry.isna() | geometry.is_empty).to_numpy()
    if out.crs is not None and not empty.all():
        problems += _coordinate_problems(out[~empty], source)
    if empty.any():
        problems.append(
            _problem(
                source,
                f"{int(empty.sum())} unit(s) have no geometry: {_ids_text(list(label[empty]))}",
                "draw their polygons or delete these units",
                column="geometry",
            )
        )
    kinds = geometry.geom_type.to_numpy()
    for kind in sorted({str(k) for k in kinds[~empty]} - set(POLYGONAL)):
        which = list(label[(kinds == kind) & ~empty])
        problems.append(
            _problem(
                source,
                f"{len(which)} unit(s) are {kind}s, not polygons: {_ids_text(which)}",
                "units must be areas: use the unit boundaries (Polygon/MultiPolygon), "
                "not their centroids or outlines",
                column="geometry",
            )
        )

    polygonal = ~empty & np.isin(kinds, POLYGONAL)
    invalid = polygonal & ~geometry.is_valid.to_numpy()
    if invalid.any() and repair:
        fixed = shapely.make_valid(geometry.to_numpy()[invalid])
        out.loc[invalid, out.geometry.name] = _polygonal_part(fixed)
    elif invalid.any():
        reasons = shapely.is_valid_reason(geometry.to_numpy()[invalid])
        for unit, reason in zip(label[invalid], reasons, strict=True):
            problems.append(
                _problem(
                    source,
                    f"unit {str(unit)!r} has an invalid polygon ({reason})",
                    "repair it with units.geometry.make_valid() (or .buffer(0) for a "
                    "self-touching ring) and save the file, or pass repair=True",
                    column="geometry",
                )
            )
    if problems:
        raise DataValidationError(problems)
    overlaps = unit_overlaps(out)
    if overlaps:
        warnings.warn(_overlap_message(overlaps, source), OverlappingUnitsWarning, stacklevel=3)
    return out


def _coordinate_problems(units: gpd.GeoDataFrame, source: str) -> list[InputProblem]:
    """Coordinates that cannot be what a geographic CRS says: swapped lat/lon, or metres."""
    crs = CRS(units.crs)
    if not crs.is_geographic:
        return []
    minx, miny, maxx, maxy = (float(v) for v in units.total_bounds)
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        return [
            _problem(
                source,
                "some coordinates are not finite numbers (NaN or infinity)",
                "repair or delete the units with broken coordinates",
                column="geometry",
            )
        ]
    name = crs.to_string()
    ranges = f"x runs {minx:.6g}..{maxx:.6g}, y runs {miny:.6g}..{maxy:.6g}"
    if max(abs(miny), abs(maxy)) <= 90.0 and max(abs(minx), abs(maxx)) <= 360.0:
        return []
    if max(abs(minx), abs(maxx)) <= 90.0 and max(abs(miny), abs(maxy)) <= 180.0:
        return [
            _problem(
                source,
                f"the coordinates look swapped: the layer is in {name} (longitude, latitude "
                f"degrees) but {ranges}, and latitude (y) must lie within -90..90",
                "save the layer with longitude first (x = longitude, y = latitude, as GeoJSON "
                "requires), e.g. in Python: layer = layer.set_geometry(shapely.transform("
                "layer.geometry.values, lambda xy: xy[:, ::-1])); layer.to_file(...)",
                column="geometry",
            )
        ]
    return [
        _problem(
            source,
            f"the coordinates are not degrees: the layer says {name} (longitude, latitude) "
            f"but {ranges}; they look like a projected CRS (metres or feet)",
            "set the CRS the coordinates are really in (units.set_crs('EPSG:...', "
            "allow_override=True), or in QGIS: Layer Properties > Source) and save again",
            column="geometry",
        )
    ]


def unit_overlaps(units: gpd.GeoDataFrame) -> list[tuple[str, str, float]]:
    """Pairs of units whose interiors overlap, with the shared area in km², largest first.

    Units that only share a border do not count, nor slivers below :data:`OVERLAP_MIN_M2`. The
    pairs are found in the layer's own CRS; only the shared pieces are projected to measure them.
    """
    if units.crs is None or len(units) < 2:
        return []
    geoms = units.geometry.to_numpy()
    usable = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = (left < right) & usable[left] & usable[right]
    left, right = left[keep], right[keep]
    if left.size == 0:
        return []
    inner = shapely.relate_pattern(geoms[left], geoms[right], "T********")
    left, right = left[inner], right[inner]
    if left.size == 0:
        return []
    shared = shapely.intersection(geoms[left], geoms[right])
    metric, per_m = _metric_crs(units)
    pieces = gpd.GeoSeries(shared, crs=units.crs)
    if not CRS(units.crs).equals(metric):
        pieces = pieces.to_crs(metric)
    area_m2 = pieces.area.to_numpy() / per_m**2
    ids = units["unit_id"].astype(str).to_numpy()
    found = [
        (str(ids[a]), str(ids[b]), float(m2) / 1e6)
        for a, b, m2 in zip(left.tolist(), right.tolist(), area_m2.tolist(), strict=True)
        if m2 >= OVERLAP_MIN_M2
    ]
    return sorted(found, key=lambda pair: (-pair[2], pair[0], pair[1]))


def _overlap_message(overlaps: list[tuple[str, str, float]], source: str) -> str:
    total = sum(area for _, _, area in overlaps)
    largest = "; ".join(f"{a!r} and {b!r}: {area:.4g} km²" for a, b, area in overlaps[:5])
    more = f" and {len(overlaps) - 5} more" if len(overlaps) > 5 else ""
    return (
        f"{source}: {len(overlaps)} pair(s) of units overlap, {total:.4g} km² in all "
        f"({largest}{more}). An account in an overlap joins only one of the units and territory "
        "maps drawn from them overlap too. Fix: clip the units so that they only share borders "
        "(or delete duplicated features) and save the layer again"
    )


def _polygonal_part(geoms: npt.NDArray[Any]) -> list[Any]:
    """Keep only the polygons of ``make_valid`` results (it can add lines and points)."""
    out = []
    for geom in geoms:
        if geom.geom_type == "GeometryCollection":
            parts = [g for g in shapely.get_parts(geom) if g.geom_type in POLYGONAL]
            geom = shapely.union_all(parts) if parts else shapely.Polygon()
        out.append(geom)
    return out


def check_same_crs(
    units: gpd.GeoDataFrame, other: gpd.GeoDataFrame, other_name: str = "the other layer"
) -> None:
    """Raise :class:`DataValidationError` when two layers are not in the same CRS.

    Overlaying layers in different CRS silently matches nothing, so this is an error, and the
    fix is to reproject one of them with ``to_crs()``.
    """
    problems = []
    for name, frame in (("the unit layer", units), (other_name, other)):
        if frame.crs is None:
            problems.append(
                _problem(
                    name,
                    "the layer has no coordinate reference system (CRS)",
                    "set it with set_crs(...) if you know it",
                )
            )
    if not problems and not CRS(units.crs).equals(CRS(other.crs)):
        problems.append(
            _problem(
                other_name,
                f"CRS mismatch: the unit layer is in {CRS(units.crs).to_string()} but "
                f"{other_name} is in {CRS(other.crs).to_string()}",
                f"reproject with to_crs(), for example {other_name}.to_crs(units.crs)",
            )
        )
    if problems:
        raise DataValidationError(problems)


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
    """Match accounts to units through their ``unit_id`` column (compared as text)."""
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
    """Whether most accounts would lie within a geographic layer's extent if its x and y were
    swapped (a layer stored latitude first; its y still within ±90, so it passed validation)."""
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


# --------------------------------------------------------------------------------------------
# Adjacency
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Connectivity:
    """How the unit graph falls apart: islands, connected parts and links that would join them.

    ``components`` lists the unit ids of each connected part, largest first.
    ``suggested_links`` holds, for every part but the largest, the closest pair of units
    between it and the rest of the map, with their distance in km.
    """

    islands: tuple[str, ...]
    components: tuple[tuple[str, ...], ...]
    suggested_links: tuple[tuple[str, str, float], ...] = ()

    @property
    def connected(self) -> bool:
        """True when the graph is one connected part."""
        return len(self.components) <= 1

    def message(self) -> str:
        """Plain-words summary naming the islands, the parts and the fix."""
        if self.connected:
            return "The unit graph is connected."
        lines = [f"The unit graph has {len(self.components)} connected parts"]
        if self.islands:
            lines[0] += f" and {len(self.islands)} island(s) without neighbours"
            lines.append(f"islands: {_ids_text(self.islands)}")
        sizes = ", ".join(str(len(c)) for c in self.components[:MAX_IDS_SHOWN])
        lines.append(f"part sizes: {sizes}")
        for part in self.components[1:4]:
            lines.append(f"a part of {len(part)} unit(s): {_ids_text(part, 5)}")
        if self.suggested_links:
            pairs = ", ".join(f"({a!r}, {b!r})" for a, b, _ in self.suggested_links[:5])
            lines.append(
                f"fix: pass manual_links=[{pairs}] (nearest units, "
                + ", ".join(f"{d:.1f} km" for _, _, d in self.suggested_links[:5])
                + " apart) for ferries, bridges or water, or raise tolerance_m for gaps"
            )
        else:
            lines.append("fix: pass manual_links=[(unit_a, unit_b), ...] to connect them")
        return ".\n".join(lines)


def connectivity(graph: DualGraph) -> Connectivity:
    """Islands and connected parts of a unit graph (names are its ``names`` or positions)."""
    names = graph.names if graph.names else tuple(str(i) for i in range(graph.n))
    n_parts, labels = csgraph.connected_components(graph.adjacency(), directed=False)
    degree = np.bincount(graph.edges.ravel(), minlength=graph.n) if graph.m else np.zeros(graph.n)
    parts = [np.flatnonzero(labels == k) for k in range(n_parts)]
    parts.sort(key=lambda members: (-len(members), int(members[0])))
    return Connectivity(
        islands=tuple(names[i] for i in np.flatnonzero(degree == 0)),
        components=tuple(tuple(names[i] for i in members) for members in parts),
    )


def _metric_crs(units: gpd.GeoDataFrame) -> tuple[CRS, float]:
    """A CRS measuring in metres-like units for the layer, and how many of its units make one
    metre. Geographic layers get a local azimuthal equidistant projection centred on them."""
    crs = CRS(units.crs)
    if crs.is_geographic:
        minx, miny, maxx, maxy = units.total_bounds
        try:
            local = CRS.from_proj4(
                f"+proj=aeqd +lat_0={(miny + maxy) / 2} +lon_0={(minx + maxx) / 2} "
                "+datum=WGS84 +units=m"
            )
        except (CRSError, ProjError) as exc:
            raise DataValidationError(
                [
                    _problem(
                        "the unit layer",
                        f"its coordinates cannot be projected ({exc}); x runs {minx:.6g}.."
                        f"{maxx:.6g} and y {miny:.6g}..{maxy:.6g} in {crs.to_string()}",
                        "check that the coordinates are longitude, latitude degrees (not "
                        "swapped, not metres) or set the layer's real CRS",
                        column="geometry",
                    )
                ]
            ) from exc
        return local, 1.0
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return crs, 1.0 / float(factor)


def _metric_geometry(units: gpd.GeoDataFrame) -> tuple[npt.NDArray[Any], float, CRS]:
    """Geometries in a projected CRS, how many of its units make one metre, and that CRS.

    Geographic layers go to a local azimuthal equidistant projection centred on the layer.
    """
    metric, per_m = _metric_crs(units)
    if CRS(units.crs).is_geographic:
        return units.geometry.to_crs(metric).to_numpy(), per_m, metric
    return units.geometry.to_numpy(), per_m, metric


def _suggested_links(
    geoms: npt.NDArray[Any], parts: Sequence[Sequence[int]], ids: Sequence[str], per_m: float
) -> tuple[tuple[str, str, float], ...]:
    links = []
    n = len(geoms)
    for members in parts[1:]:
        inside = np.zeros(n, dtype=bool)
        inside[list(members)] = True
        rest = np.flatnonzero(~inside)
        tree = shapely.STRtree(geoms[rest])
        (src, dst), dist = tree.query_nearest(geoms[inside], return_distance=True)
        best = int(np.argmin(dist))
        a, b = int(np.flatnonzero(inside)[src[best]]), int(rest[dst[best]])
        links.append((ids[min(a, b)], ids[max(a, b)], float(dist[best]) / per_m / 1000.0))
    return tuple(links)


def adjacency(
    units: gpd.GeoDataFrame,
    kind: Literal["rook", "queen"] = "rook",
    manual_links: Iterable[UnitLink] = (),
    *,
    tolerance_m: float = 1.0,
    population_column: str | None = None,
    on_disconnected: Literal["warn", "raise", "ignore"] = "warn",
) -> DualGraph:
    """Build the unit graph: node ``i`` is row ``i`` of ``units``, named by its ``unit_id``.

    Parameters
    ----------
    units
        A checked unit layer (:func:`read_units` / :func:`validate_units`).
    kind
        ``"rook"``: units sharing a stretch of boundary longer than ``2.5 * tolerance_m``
        (so that two units touching only at a corner are not neighbours); ``"queen"``: units
        sharing any point, that is closer than ``tolerance_m``.
    manual_links
        Extra ``(unit_id, unit_id)`` pairs (bridges, ferries, islands served from the mainland).
    tolerance_m
        Gaps and slivers narrower than this (in metres) still count as a shared boundary.
        Geographic layers are projected to a local equidistant projection for the measurement.
    population_column
        Whole-number weight per unit stored as the graph's population (1 per unit if omitted).
    on_disconnected
        What to do when the graph has islands or several parts: warn
        (:class:`DisconnectedUnitsWarning`), raise :class:`DataValidationError`, or nothing.
        The message names the parts and suggests the nearest ``manual_links``.
    """
    if kind not in ("rook", "queen"):
        raise ValueError(f'`kind` was "{kind}" but is expected to be in ("rook", "queen")')
    if units.crs is None:
        raise DataValidationError(
            [
                _problem(
                    "the unit layer",
                    "the layer has no coordinate reference system (CRS), so distances "
                    "and the tolerance cannot be measured",
                    "set it with units.set_crs(...) if you know it",
                )
            ]
        )
    ids = tuple(str(u) for u in units["unit_id"])
    geoms, per_m, metric_crs = _metric_geometry(units)
    tol = max(float(tolerance_m), 0.0) * per_m
    tree = shapely.STRtree(geoms)
    if tol > 0:
        left, right = tree.query(geoms, predicate="dwithin", distance=tol)
    else:
        left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    if kind == "rook" and left.size:
        grown = shapely.buffer(geoms, tol) if tol > 0 else geoms
        shared = np.maximum(
            shapely.length(shapely.intersection(shapely.boundary(geoms[left]), grown[right])),
            shapely.length(shapely.intersection(shapely.boundary(geoms[right]), grown[left])),
        )
        # A corner touch shares up to 2 * tol of boundary within the tolerance band.
        floor = 2.5 * tol if tol > 0 else 0.0
        rook = shared > floor
        left, right = left[rook], right[rook]
    edges = np.column_stack([left, right]).astype(np.int64)

    position = {u: i for i, u in enumerate(ids)}
    links = [tuple(link) for link in manual_links]
    unknown = sorted({str(u) for link in links for u in link if str(u) not in position})
    if unknown:
        raise DataValidationError(
            [
                _problem(
                    "manual_links",
                    f"unit ids not found in the unit layer: {_ids_text(unknown)}",
                    "use the ids of the unit layer's unit_id column",
                )
            ]
        )
    extra = np.array(
        [(position[str(a)], position[str(b)]) for a, b in links], dtype=np.int64
    ).reshape(-1, 2)

    if population_column is None:
        population = np.ones(len(units), dtype=np.int64)
    else:
        population = units[population_column].fillna(0).round().to_numpy(np.int64)
    base = graph_from_edges(population, np.vstack([edges, extra]))
    centroids = gpd.GeoSeries(shapely.centroid(geoms), crs=metric_crs)
    inner = gpd.GeoSeries(shapely.point_on_surface(geoms), crs=metric_crs)
    graph = DualGraph(
        population=base.population,
        edges=base.edges,
        names=ids,
        centroid_lonlat=_lonlat(centroids),
        point_lonlat=_lonlat(inner),
    )

    report = connectivity(graph)
    if not report.connected and on_disconnected != "ignore":
        positions = [[position[u] for u in part] for part in report.components]
        report = Connectivity(
            islands=report.islands,
            components=report.components,
            suggested_links=_suggested_links(geoms, positions, ids, per_m),
        )
        if on_disconnected == "raise":
            raise DataValidationError(
                [
                    _problem(
                        "the unit graph",
                        report.message().split(".\nfix: ")[0].replace(".\n", "; "),
                        report.message().split("fix: ")[-1],
                    )
                ]
            )
        warnings.warn(report.message(), DisconnectedUnitsWarning, stacklevel=2)
    return graph


def _lonlat(points: gpd.GeoSeries) -> npt.NDArray[np.float64]:
    """Longitude/latitude degrees of points given in a projected CRS."""
    ll = points.to_crs(WGS84)
    return np.column_stack([ll.x.to_numpy(), ll.y.to_numpy()]).astype(np.float64)


def read_adjacency(path: str | Path, population_key: str | None = None) -> DualGraph:
    """Read a ready NetworkX adjacency JSON graph (as in ``../shared/benchmarks/``).

    Delegates to :func:`territory.districting.load_dual_graph`.
    """
    return load_dual_graph(path, population_key=population_key)


# --------------------------------------------------------------------------------------------
# Territories as polygons
# --------------------------------------------------------------------------------------------


def dissolve_territories(
    units: gpd.GeoDataFrame, unit_to_rep: Mapping[str, Any] | pd.Series
) -> gpd.GeoDataFrame:
    """Merge the units of each rep into one (multi)polygon: ``rep_id, n_units, geometry``.

    Every unit must have a rep and every mapped unit must exist; otherwise the error lists
    the ids. Rows are sorted by ``rep_id``; the CRS is the unit layer's.
    """
    mapping = {str(k): v for k, v in dict(unit_to_rep).items()}
    ids = [str(u) for u in units["unit_id"]]
    problems = []
    unassigned = [u for u in ids if u not in mapping or pd.isna(mapping[u])]
    if unassigned:
        problems.append(
            _problem(
                "unit_to_rep",
                f"{len(unassigned)} unit(s) have no rep: {_ids_text(unassigned)}",
                "assign every unit (use a 'vacant' rep id for open territories) or drop "
                "these units from the layer first",
            )
        )
    unknown = sorted(set(mapping) - set(ids))
    if unknown:
        problems.append(
            _problem(
                "unit_to_rep",
                f"unit ids not found in the unit layer: {_ids_text(unknown)}",
                "use the ids of the unit layer's unit_id column",
            )
        )
    if problems:
        raise DataValidationError(problems)
    frame = gpd.GeoDataFrame(
        {"rep_id": [mapping[u] for u in ids], "n_units": np.ones(len(ids), dtype=np.int64)},
        geometry=units.geometry.to_numpy(),
        crs=units.crs,
    )
    out = frame.dissolve(by="rep_id", aggfunc={"n_units": "sum"}, sort=True).reset_index()
    return out[["rep_id", "n_units", "geometry"]]


def _json_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if pd.isna(value):
        return None
    return str(value)


def _rounded(coords: Any, precision: int) -> Any:
    if isinstance(coords, list | tuple) and coords and isinstance(coords[0], float | int):
        return [round(float(c), precision) for c in coords]
    return [_rounded(c, precision) for c in coords]


def write_geojson(
    gdf: gpd.GeoDataFrame,
    path: str | Path,
    *,
    sort_by: str | None = None,
    precision: int = 6,
) -> Path:
    """Write a layer as RFC 7946 GeoJSON (WGS84), the same bytes for the same content.

    Features are sorted by ``sort_by`` (default ``rep_id`` or ``unit_id`` when present),
    geometries normalised with exterior rings counter-clockwise, coordinates rounded to
    ``precision`` decimals (6 is about 0.1 m) and properties written in column order.
    """
    if gdf.crs is None:
        raise DataValidationError(
            [
                _problem(
                    str(path),
                    "the layer to write has no CRS, so it cannot be converted to WGS84",
                    "set it with set_crs(...) if you know it",
                )
            ]
        )
    key = sort_by or next((c for c in ("rep_id", "unit_id") if c in gdf.columns), None)
    frame = gdf.to_crs(WGS84)
    if key is not None:
        frame = frame.iloc[np.argsort(frame[key].astype(str).to_numpy(), kind="stable")]
    geoms = shapely.orient_polygons(shapely.normalize(frame.geometry.to_numpy()))
    columns = [c for c in frame.columns if c != frame.geometry.name]
    features = []
    for row, geom in zip(frame[columns].itertuples(index=False), geoms, strict=True):
        shape = shapely.geometry.mapping(geom) if geom is not None else None
        if shape is not None:
            shape = {
                "type": shape["type"],
                "coordinates": _rounded(shape["coordinates"], precision),
            }
        features.append(
            {
                "type": "Feature",
                "properties": {str(c): _json_value(v) for c, v in zip(columns, row, strict=True)},
                "geometry": shape,
            }
        )
    text = json.dumps(
        {"type": "FeatureCollection", "features": features},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def coverage_gaps(units: gpd.GeoDataFrame, min_area_m2: float = 0.0) -> gpd.GeoDataFrame:
    """Holes in the map: areas enclosed by units but covered by none (lakes, slivers, errors).

    Returns one polygon per gap larger than ``min_area_m2`` with its ``area_m2`` and the ids
    of the units around it (``neighbours``), so a gap can be checked before building the graph.
    """
    geoms, per_m, metric_crs = _metric_geometry(units)
    union = shapely.union_all(geoms)
    holes = [
        shapely.Polygon(ring)
        for part in shapely.get_parts(union)
        if part.geom_type == "Polygon"
        for ring in part.interiors
    ]
    if not holes:
        return gpd.GeoDataFrame({"area_m2": [], "neighbours": []}, geometry=[], crs=units.crs)
    hole_arr = np.array(holes, dtype=object)
    area = shapely.area(hole_arr) / per_m**2
    big = area > min_area_m2
    tree = shapely.STRtree(geoms)
    ids = units["unit_id"].astype(str).to_numpy()
    around = []
    for hole in hole_arr[big]:
        hit = tree.query(hole, predicate="dwithin", distance=per_m)
        around.append(tuple(sorted(ids[hit])))
    out = gpd.GeoDataFrame(
        {"area_m2": area[big], "neighbours": around}, geometry=hole_arr[big], crs=metric_crs
    )
    return out.to_crs(units.crs).reset_index(drop=True)
