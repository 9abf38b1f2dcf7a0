"""The dual graph of a unit layer: which units touch (rook or queen), islands linked.

:func:`adjacency` builds a :class:`~territory.domain.districting.DualGraph` (node ``i`` is row
``i`` of
the layer), reporting islands and disconnected parts and closing them with ``manual_links``;
:func:`read_adjacency` reads a ready NetworkX adjacency JSON graph instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
import shapely.errors
from scipy.sparse import csgraph

from territory.domain.districting import DualGraph, graph_from_edges
from territory.errors import DataValidationError
from territory.io.benchmark_graphs import load_dual_graph
from territory.io.unit_layers import (
    MAX_IDS_SHOWN,
    WGS84,
    DisconnectedUnitsWarning,
    UnitLink,
    _ids_text,
    _metric_geometry,
    _problem,
)

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
    """Islands and connected parts of a unit graph (names are its ``names`` or positions).

    Parameters
    ----------
    graph
        The unit graph, read from a file or built from polygons.

    Returns
    -------
    Connectivity
        Its islands (units without a neighbour) and connected parts, largest first; no
        suggested links (those need the polygons: :func:`adjacency` adds them).
    """
    names = graph.names if graph.names else tuple(str(i) for i in range(graph.n))
    n_parts, labels = csgraph.connected_components(graph.adjacency(), directed=False)
    degree = np.bincount(graph.edges.ravel(), minlength=graph.n) if graph.m else np.zeros(graph.n)
    parts = [np.flatnonzero(labels == k) for k in range(n_parts)]
    parts.sort(key=lambda members: (-len(members), int(members[0])))
    return Connectivity(
        islands=tuple(names[i] for i in np.flatnonzero(degree == 0)),
        components=tuple(tuple(names[i] for i in members) for members in parts),
    )


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

    Delegates to :func:`territory.io.benchmark_graphs.load_dual_graph`.

    Parameters
    ----------
    path, population_key
        As for :func:`territory.io.benchmark_graphs.load_dual_graph`.

    Returns
    -------
    DualGraph
        Node ``i`` is the file's ``i``-th node.
    """
    return load_dual_graph(path, population_key=population_key)


# --------------------------------------------------------------------------------------------
# Territories as polygons
# --------------------------------------------------------------------------------------------
