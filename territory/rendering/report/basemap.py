"""What the maps draw under the accounts: county and state outlines, and derived territories.

The outlines are the US Census Bureau's 2016 cartographic boundaries the project ships as a
unit layer (``data/units/ne_counties.geojson``, counties of the demo's states, public
domain); state outlines are not shipped, so they are the counties dissolved by their
``state``. A map of an area the layer does not cover simply has no basemap (the caption says
so). Account-level runs have no territory polygons of their own: :func:`account_territories`
draws each rep's area as the dissolved Voronoi cells of its accounts (every place goes to the
nearest account's rep), clipped to land near the accounts, so outlines never overlap.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
import shapely.affinity
import shapely.geometry
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.path import Path as MplPath

FloatArray = npt.NDArray[np.float64]
CodeArray = npt.NDArray[np.uint8]
Box = tuple[float, float, float, float]

BASEMAP_LAYERS = (Path(__file__).resolve().parents[3] / "data" / "units" / "ne_counties.geojson",)
"""County layers the maps draw outlines from (the first that exists; none: no basemap)."""

COUNTY_EDGE = "#C9C9C9"
STATE_EDGE = "#7A7A7A"
BASEMAP_SOURCE = "US Census Bureau 2016 cartographic boundaries (counties; states dissolved)"

REACH_KM = 12.0
"""A derived territory reaches this far beyond its outermost accounts (where there is land)."""


@dataclass(frozen=True)
class Outline:
    """One shape as a matplotlib path in degrees (lon, lat): rings closed, holes kept."""

    key: str
    vertices: FloatArray
    codes: CodeArray

    @property
    def bounds(self) -> Box:
        """(lon_min, lat_min, lon_max, lat_max) of the shape."""
        x, y = self.vertices[:, 0], self.vertices[:, 1]
        return (float(x.min()), float(y.min()), float(x.max()), float(y.max()))


@dataclass(frozen=True)
class Basemap:
    """County and state outlines, and the land they cover (None when no layer is shipped)."""

    counties: tuple[Outline, ...]
    states: tuple[Outline, ...]
    land: shapely.Geometry | None

    def __bool__(self) -> bool:
        """Say whether there is anything to draw."""
        return bool(self.counties)


def ring_path(ring: Sequence[Sequence[float]], *, hole: bool) -> tuple[FloatArray, CodeArray]:
    """One closed ring; exteriors counter-clockwise, holes clockwise.

    Agg fills with the non-zero winding rule, so a hole only stays open when it runs against
    its exterior; GeoJSON from other tools need not follow that convention.
    """
    points = np.asarray([xy[:2] for xy in ring], dtype=np.float64).reshape(-1, 2)
    x, y = points[:, 0], points[:, 1]
    twice_area = float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))
    if (twice_area < 0) != hole:
        points = points[::-1].copy()
    codes = np.full(len(points), MplPath.LINETO, dtype=np.uint8)
    codes[0] = MplPath.MOVETO
    if len(points) > 1:
        codes[-1] = MplPath.CLOSEPOLY
    return points, codes


def polygon_rings(kind: object, coords: object) -> list[tuple[FloatArray, CodeArray]]:
    """Rings of a GeoJSON Polygon / MultiPolygon's coordinates (other kinds: none)."""
    polygons: Any = [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else []
    return [
        ring_path(ring, hole=k > 0)
        for polygon in polygons or []
        for k, ring in enumerate(polygon)
        if len(ring) > 0
    ]


def outline(key: str, geometry: shapely.Geometry) -> Outline | None:
    """Turn a shapely (multi)polygon into an :class:`Outline` (None when it is empty)."""
    if geometry is None or geometry.is_empty:
        return None
    mapping = shapely.geometry.mapping(geometry)
    kind, coords = mapping["type"], mapping.get("coordinates")
    if kind == "GeometryCollection":
        parts = [g for g in shapely.get_parts(geometry) if g.geom_type.endswith("Polygon")]
        return outline(key, shapely.union_all(parts)) if parts else None
    rings = polygon_rings(kind, coords)
    if not rings:
        return None
    vertices = np.concatenate([v for v, _ in rings])
    return Outline(key, vertices, np.concatenate([c for _, c in rings]))


@functools.lru_cache(maxsize=2)
def load_basemap(layers: tuple[Path, ...] = BASEMAP_LAYERS) -> Basemap:
    """Read the first county layer that exists and dissolve its counties into states.

    Read as plain JSON (WGS84 polygons with a ``state`` property); cached, since every map of a
    page draws the same outlines.
    """
    path = next((p for p in layers if p.is_file()), None)
    if path is None:
        return Basemap((), (), None)
    doc = json.loads(path.read_text(encoding="utf-8"))
    counties: list[Outline] = []
    by_state: dict[str, list[shapely.Geometry]] = {}
    for feature in doc.get("features") or []:
        geometry = (feature or {}).get("geometry")
        if not geometry:
            continue
        shape = shapely.make_valid(shapely.geometry.shape(geometry))
        props = feature.get("properties") or {}
        county = outline(str(props.get("unit_id", "")), shape)
        if county is not None:
            counties.append(county)
        by_state.setdefault(str(props.get("state", "")), []).append(shape)
    dissolved = {state: shapely.union_all(shapes) for state, shapes in sorted(by_state.items())}
    states = [outline(state, shape) for state, shape in dissolved.items()]
    land = shapely.union_all(list(dissolved.values()))
    return Basemap(tuple(counties), tuple(s for s in states if s is not None), land)


def overlaps(a: Box, b: Box) -> bool:
    """Say whether two boxes (x0, y0, x1, y1) share any point."""
    return not (a[2] < b[0] or a[0] > b[2] or a[3] < b[1] or a[1] > b[3])


def draw_basemap(ax: Axes, box: Box, basemap: Basemap | None = None) -> int:
    """Draw county (thin) and state (darker) outlines inside ``box``; returns how many shapes.

    The outlines lie under everything else (zorder below the territories and accounts) and
    carry the ``gid`` ``basemap:counties`` / ``basemap:states`` so tests can find them.
    """
    base = basemap if basemap is not None else load_basemap()
    drawn = 0
    for shapes, colour, width, z, gid in (
        (base.counties, COUNTY_EDGE, 0.45, 0.6, "basemap:counties"),
        (base.states, STATE_EDGE, 1.1, 0.7, "basemap:states"),
    ):
        paths = [MplPath(s.vertices, s.codes) for s in shapes if overlaps(s.bounds, box)]
        if not paths:
            continue
        collection = PathCollection(
            paths, facecolors="none", edgecolors=colour, linewidths=width, zorder=z
        )
        collection.set_gid(gid)
        ax.add_collection(collection, autolim=False)
        drawn += len(paths)
    return drawn


def account_territories(
    lon: FloatArray,
    lat: FloatArray,
    owner: npt.NDArray[np.int64],
    keys: Sequence[str],
    cos_lat: float,
    land: shapely.Geometry | None = None,
) -> tuple[Outline, ...]:
    """Each owner's area: the Voronoi cells of its accounts dissolved, clipped near the accounts.

    Cells are built on the map's projected coordinates (longitude x ``cos_lat``) so they are not
    stretched; accounts at the same place count once (the first one's owner). The area ends
    :data:`REACH_KM` beyond the accounts and, when ``land`` covers the accounts, at the coast.
    """
    ok = np.isfinite(lon) & np.isfinite(lat) & (owner >= 0)
    x, y, who = lon[ok] * cos_lat, lat[ok], owner[ok]
    if x.size < 3:
        return ()
    points, first = np.unique(np.column_stack([x, y]).round(7), axis=0, return_index=True)
    who = who[first]
    if points.shape[0] < 3:
        return ()
    reach = REACH_KM / 111.2
    envelope = shapely.box(
        points[:, 0].min() - 2 * reach, points[:, 1].min() - 2 * reach,
        points[:, 0].max() + 2 * reach, points[:, 1].max() + 2 * reach,
    )  # fmt: skip
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(points), extend_to=envelope, ordered=True)
    )
    region = shapely.concave_hull(shapely.multipoints(points), ratio=0.3).buffer(reach)
    if land is not None:
        # Clip at the coast only where the layer covers the accounts (elsewhere it would cut).
        shore = shapely.affinity.scale(land, cos_lat, 1.0, origin=(0, 0))
        if shapely.contains_xy(shore, points[:, 0], points[:, 1]).mean() >= 0.95:
            region = region.intersection(shore)
    shapes = []
    for index in np.unique(who).tolist():
        # Voronoi cells tile the plane edge to edge: a coverage union is exact and fast.
        area = shapely.coverage_union_all(cells[who == index]).intersection(region)
        area = shapely.affinity.scale(area, 1.0 / cos_lat, 1.0, origin=(0, 0))
        shape = outline(keys[index], area)
        if shape is not None:
            shapes.append(shape)
    return tuple(shapes)
