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
  :class:`~territory.domain.districting.DualGraph` (node ``i`` is row ``i`` of the unit layer), with
  islands and disconnected parts reported and closed by ``manual_links``;
  :func:`read_adjacency` reads a ready NetworkX adjacency JSON graph instead.
- :func:`aggregate_accounts`: potential, workload, revenue and counts per unit.
- :func:`dissolve_territories` and :func:`write_geojson`: one (multi)polygon per rep, written
  byte-for-byte reproducibly as ``territories.geojson``.

All file IO is in :func:`read_units`, :func:`read_adjacency` and :func:`write_geojson`; the other
functions never modify their inputs. The parts live in :mod:`territory.io.unit_layers` (reading and
checking layers), :mod:`territory.io.unit_joins` (accounts to units) and
:mod:`territory.io.unit_adjacency` (the dual graph); this module dissolves and writes territories
and re-exports their public names.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.errors

from territory.errors import DataValidationError
from territory.io.unit_adjacency import Connectivity, adjacency, connectivity, read_adjacency
from territory.io.unit_joins import (
    aggregate_accounts,
    join_accounts,
    join_accounts_by_id,
    join_accounts_by_location,
)
from territory.io.unit_layers import (
    MAX_IDS_SHOWN,
    OVERLAP_MIN_M2,
    POLYGONAL,
    WGS84,
    DisconnectedUnitsWarning,
    OverlappingUnitsWarning,
    UnitLink,
    _ids_text,
    _metric_geometry,
    _problem,
    check_same_crs,
    read_units,
    unit_overlaps,
    validate_units,
)

__all__ = [
    "Connectivity",
    "DisconnectedUnitsWarning",
    "MAX_IDS_SHOWN",
    "OVERLAP_MIN_M2",
    "OverlappingUnitsWarning",
    "POLYGONAL",
    "UnitLink",
    "WGS84",
    "adjacency",
    "aggregate_accounts",
    "check_same_crs",
    "connectivity",
    "coverage_gaps",
    "dissolve_territories",
    "join_accounts",
    "join_accounts_by_id",
    "join_accounts_by_location",
    "read_adjacency",
    "read_units",
    "unit_overlaps",
    "validate_units",
    "write_geojson",
]


def dissolve_territories(
    units: gpd.GeoDataFrame, unit_to_rep: Mapping[str, Any] | pd.Series
) -> gpd.GeoDataFrame:
    """Merge the units of each rep into one (multi)polygon: ``rep_id, n_units, geometry``.

    Every unit must have a rep and every mapped unit must exist; otherwise the error lists
    the ids. Rows are sorted by ``rep_id``; the CRS is the unit layer's.

    Parameters
    ----------
    units
        The validated unit layer.
    unit_to_rep
        The rep of every unit, by unit id.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per rep.

    Raises
    ------
    DataValidationError
        A unit has no rep, or a mapped unit is not in the layer.
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

    Parameters
    ----------
    gdf
        The layer to write (reprojected to WGS84).
    path
        The file to write.
    sort_by
        Column to order the features by.
    precision
        Decimals kept in coordinates.

    Returns
    -------
    pathlib.Path
        The file written.
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

    Parameters
    ----------
    units
        The validated unit layer.
    min_area_m2
        Smallest gap reported, in m².

    Returns
    -------
    geopandas.GeoDataFrame
        ``geometry``, ``area_m2`` and ``neighbours`` per gap.
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
