"""Build the shipped unit layers: demo ZIP areas and the counties of the demo's states.

Run from the repository root::

    python data/make_units.py [--out data/units] [--cache ~/.cache/territory]

Writes (deterministic: the same inputs give the same bytes)

* ``demo_zips.geojson``: one polygon per ZIP code used by ``data/demo/accounts.csv``
  (``unit_id``, ``state``). There are no ZIP polygons that can be shipped offline, so each area is
  the Voronoi cell of the ZIP's centroid (the ``zipcodes`` package, as in ``make_demo.py``)
  clipped to the outline of the demo's states. They are approximations, not Census ZCTAs.
* ``ne_counties.geojson``: the counties of the demo's states (``unit_id`` = 5-digit FIPS,
  ``name``, ``state``), a small real county set for design-mode examples.
* ``<layer>.links.json`` for each: the manual links (islands served from the mainland) that
  make the layer's rook adjacency connected; pass them as ``manual_links`` to
  :func:`territory.io.units.adjacency`. An empty list means none are needed.

Boundaries come from the US Census Bureau's 2016 cartographic boundary shapefiles (1:500,000,
public domain), which ship inside the ``plotly-geo`` wheel on PyPI. The script fetches that wheel
with ``pip download plotly-geo==1.0.0 --no-deps`` into ``--cache`` when it is not there yet; the
generated files are committed, so only whoever rebuilds them needs it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

REPO: Final = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as `python data/make_units.py` from a source checkout
    sys.path.insert(0, str(REPO))
if str(REPO / "data") not in sys.path:
    sys.path.insert(0, str(REPO / "data"))

from make_demo import STATES, zip_centroids  # noqa: E402

from territory.io.units import adjacency, connectivity, write_geojson  # noqa: E402

DEFAULT_OUT: Final = REPO / "data" / "units"
DEFAULT_CACHE: Final = Path.home() / ".cache" / "territory"
ACCOUNTS: Final = REPO / "data" / "demo" / "accounts.csv"
PLOTLY_GEO: Final = "plotly-geo==1.0.0"
PACKAGE_DATA: Final = "_plotly_geo/package_data/"
STATE_SHP: Final = "cb_2016_us_state_500k"
COUNTY_SHP: Final = "cb_2016_us_county_500k"
#: Census cartographic boundaries are in NAD83 (the shapefiles in the wheel have no .prj).
NAD83: Final = "EPSG:4269"
#: Contiguous-US Albers equal area (metres): Voronoi cells and simplification are done here.
ALBERS: Final = "EPSG:5070"
STATE_FIPS: Final = {"CT": "09", "MA": "25", "NJ": "34", "NY": "36", "PA": "42"}
#: Simplification tolerance in metres; 1:500k outlines carry detail far below a ZIP's size.
SIMPLIFY_M: Final = 150.0
#: Coastal islets smaller than this (m²) are dropped from the clip outline.
MIN_ISLAND_M2: Final = 1_000_000.0
#: Coordinates are snapped to this grid in degrees (5 decimals, about 1 m).
GRID_DEG: Final = 1e-5


def shapefiles(cache: Path) -> Path:
    """Folder holding the Census shapefiles, unpacked from the plotly-geo wheel (fetched once)."""
    folder = cache / "plotly_geo"
    if all((folder / f"{name}.shp").exists() for name in (STATE_SHP, COUNTY_SHP)):
        return folder
    wheels = sorted(cache.glob("plotly_geo-*.whl"))
    if not wheels:
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", PLOTLY_GEO, "--no-deps", "-d", str(cache)],
            check=True,
        )
        wheels = sorted(cache.glob("plotly_geo-*.whl"))
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheels[-1]) as wheel:
        for name in (STATE_SHP, COUNTY_SHP):
            for ext in ("shp", "shx", "dbf"):
                (folder / f"{name}.{ext}").write_bytes(wheel.read(f"{PACKAGE_DATA}{name}.{ext}"))
    return folder


def _read_census(path: Path) -> gpd.GeoDataFrame:
    frame = gpd.read_file(path)
    return frame.set_crs(NAD83, allow_override=True).to_crs(ALBERS)


def _to_grid(geoms: np.ndarray) -> np.ndarray:
    """WGS84 geometries snapped to the 5-decimal grid, valid and polygonal."""
    snapped = shapely.set_precision(geoms, GRID_DEG)
    fixed = shapely.make_valid(snapped)
    out = []
    for geom in fixed:
        parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and p.area > 0]
        out.append(shapely.union_all(parts) if len(parts) > 1 else parts[0])
    return np.array(out, dtype=object)


def _finish(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Albers layer to WGS84 on the coordinate grid, sorted by unit id."""
    out = frame.to_crs("EPSG:4326")
    out = out.set_geometry(_to_grid(out.geometry.to_numpy()))
    return out.sort_values("unit_id", kind="stable").reset_index(drop=True)


def demo_zip_table(accounts: Path = ACCOUNTS) -> pd.DataFrame:
    """The demo's ZIP codes with their state and centroid (``zip``, ``state``, ``lat``, ``lon``)."""
    used = set(pd.read_csv(accounts, dtype={"unit_id": str})["unit_id"])
    zips = zip_centroids(STATES)
    zips = zips[zips["zip"].isin(used)].reset_index(drop=True)
    missing = sorted(used - set(zips["zip"]))
    if missing:
        raise SystemExit(f"ZIPs of the demo without a centroid in `zipcodes`: {missing[:10]}")
    return zips


def clip_outline(folder: Path) -> shapely.Geometry:
    """Union of the demo's state outlines in Albers, simplified, islets dropped."""
    states = _read_census(folder / f"{STATE_SHP}.shp")
    states = states[states["STATEFP"].isin(STATE_FIPS.values())]
    union = shapely.union_all(states.geometry.to_numpy())
    parts = [p for p in shapely.get_parts(union) if p.area >= MIN_ISLAND_M2]
    outline = shapely.simplify(shapely.MultiPolygon(parts), SIMPLIFY_M, preserve_topology=True)
    return shapely.make_valid(outline)


def voronoi_zips(zips: pd.DataFrame, outline: shapely.Geometry) -> gpd.GeoDataFrame:
    """One Voronoi cell per ZIP centroid (in Albers metres), clipped to ``outline``."""
    lonlat = gpd.points_from_xy(zips["lon"], zips["lat"])
    points = gpd.GeoSeries(lonlat, crs="EPSG:4326").to_crs(ALBERS)
    xy = np.column_stack([points.x.to_numpy(), points.y.to_numpy()])
    # Two ZIPs on one centroid would share one cell; nudge repeats 30 m east, deterministically.
    seen: dict[tuple[float, float], int] = {}
    for i, (x, y) in enumerate(xy.tolist()):
        key = (round(x, 1), round(y, 1))
        xy[i, 0] += 30.0 * seen.get(key, 0)
        seen[key] = seen.get(key, 0) + 1
    sites = shapely.MultiPoint(xy)
    cells = shapely.voronoi_polygons(sites, extend_to=shapely.box(*outline.bounds), ordered=True)
    clipped = shapely.intersection(np.array(shapely.get_parts(cells), dtype=object), outline)
    return gpd.GeoDataFrame(
        {"unit_id": zips["zip"].to_numpy(), "state": zips["state"].to_numpy()},
        geometry=clipped,
        crs=ALBERS,
    )


def counties(folder: Path) -> gpd.GeoDataFrame:
    """The demo states' counties, simplified as a coverage so neighbours still share edges."""
    frame = _read_census(folder / f"{COUNTY_SHP}.shp")
    code_to_state = {v: k for k, v in STATE_FIPS.items()}
    frame = frame[frame["STATEFP"].isin(code_to_state)].reset_index(drop=True)
    geoms = shapely.make_valid(frame.geometry.to_numpy())
    simplified = shapely.coverage_simplify(geoms, SIMPLIFY_M)
    return gpd.GeoDataFrame(
        {
            "unit_id": frame["GEOID"].astype(str).to_numpy(),
            "name": frame["NAME"].astype(str).to_numpy(),
            "state": frame["STATEFP"].map(code_to_state).to_numpy(),
        },
        geometry=simplified,
        crs=ALBERS,
    )


def island_links(units: gpd.GeoDataFrame) -> list[tuple[str, str]]:
    """Links joining every island or detached part to its nearest unit in the largest part.

    The demo's accounts are served by car and ferry alike, so an island ZIP (Nantucket,
    Martha's Vineyard, ...) belongs with the closest mainland ZIP rather than being left out.
    """
    parts = connectivity(adjacency(units, "rook", on_disconnected="ignore")).components
    if len(parts) <= 1:
        return []
    ids = units["unit_id"].astype(str).to_numpy()
    geoms = units.to_crs(ALBERS).geometry.to_numpy()
    main = np.isin(ids, list(parts[0]))
    tree = shapely.STRtree(geoms[main])
    links = []
    for part in parts[1:]:
        inside = np.flatnonzero(np.isin(ids, list(part)))
        (src, dst), dist = tree.query_nearest(
            geoms[inside], return_distance=True, all_matches=False
        )
        best = int(np.lexsort((ids[inside][src], dist))[0])
        pair = sorted((str(ids[inside][src[best]]), str(ids[main][dst[best]])))
        links.append((pair[0], pair[1]))
    return sorted(links)


def main(argv: list[str] | None = None) -> int:
    """Write the unit layers and the ZIP links file; print what was written."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(argv)
    folder = shapefiles(args.cache)

    zips = _finish(voronoi_zips(demo_zip_table(), clip_outline(folder)))
    county_layer = _finish(counties(folder))
    for name, layer in (("demo_zips", zips), ("ne_counties", county_layer)):
        path = write_geojson(layer, args.out / f"{name}.geojson", precision=5)
        links = island_links(layer)
        link_doc = {
            "about": "Manual links for territory.io.units.adjacency(units, 'rook', "
            f"manual_links=...) "
            f"on {name}.geojson: each joins an island or detached part to its nearest unit in the "
            "largest connected part, so the rook graph is connected.",
            "manual_links": [list(link) for link in links],
        }
        links_path = args.out / f"{name}.links.json"
        links_path.write_text(json.dumps(link_doc, indent=2) + "\n", encoding="utf-8")
        size = path.stat().st_size / 1e6
        print(f"{path}: {len(layer)} units, {size:.2f} MB; manual links {links}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
