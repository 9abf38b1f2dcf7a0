"""Reading and checking unit layers: one polygon per unit id, every problem named.

:func:`read_units` reads a GeoJSON, GeoPackage or Shapefile layer and :func:`validate_units`
collects every problem (invalid polygon, missing CRS, duplicate or missing id, non-polygon
geometry, overlaps) into one :class:`~territory.errors.DataValidationError` naming the ids and
the fix; :func:`check_same_crs` does the same for a second layer.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
import shapely.errors
from pyproj import CRS
from pyproj.exceptions import CRSError, ProjError

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
    """Units of a layer overlap (their interiors share area).

    The message says how many pairs and how much area, naming the largest overlaps.
    """


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

    Parameters
    ----------
    units
        The layer, one row per unit.
    id_column
        The column holding the unit ids.
    source
        How problems name the layer (its file path).
    repair
        Fix invalid polygons instead of reporting them.

    Returns
    -------
    geopandas.GeoDataFrame
        The checked copy.

    Raises
    ------
    DataValidationError
        With every problem found.
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

    Parameters
    ----------
    units
        The layer, with a ``unit_id`` column.

    Returns
    -------
    list of tuple
        ``(unit_id, unit_id, km²)`` per overlapping pair.
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

    Parameters
    ----------
    units
        The unit layer.
    other
        The layer to overlay on it.
    other_name
        How the message names ``other``.
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


def _metric_crs(units: gpd.GeoDataFrame) -> tuple[CRS, float]:
    """Return a CRS measuring in metres-like units for the layer, and its units per metre.

    Geographic layers get a local azimuthal equidistant projection centred on them.
    """
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
