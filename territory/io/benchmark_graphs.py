"""Reading the districting benchmark files: dual graphs, published plans, centroids, EPSG codes.

The formats are those of ``../shared/benchmarks/`` (DeFord's NetworkX adjacency JSON, cut-edge
and Hess plan JSON, Lykhovyd ``.sol`` files, derived CSVs); the metrics they feed are in
:mod:`territory.domain.districting`.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from territory.domain.districting import (
    DualGraph,
    FloatArray,
    IntArray,
    graph_from_edges,
    plan_from_mapping,
)
from territory.errors import DataValidationError, InputProblem

POPULATION_KEYS = ("TOTPOP", "P0010001")
"""Node fields holding the population, 2010 (DeFord) and 2020 (PL-94 total population)."""


def _bad_file(path: Path, message: str, fix: str) -> DataValidationError:
    return DataValidationError([InputProblem(str(path), None, None, message, fix)])


def _lonlat(nodes: list[dict[str, Any]], lon_key: str, lat_key: str) -> FloatArray | None:
    if not nodes or lon_key not in nodes[0] or lat_key not in nodes[0]:
        return None
    return np.array([[float(nd[lon_key]), float(nd[lat_key])] for nd in nodes], dtype=np.float64)


def load_dual_graph(path: str | Path, population_key: str | None = None) -> DualGraph:
    """Read a NetworkX adjacency JSON dual graph (DeFord's format, as in the benchmark folders).

    The population field is ``population_key`` or else the first of :data:`POPULATION_KEYS`
    present. Node ids may be any hashable JSON value; units are numbered by position.

    Parameters
    ----------
    path
        The JSON file.
    population_key
        Node field holding the population.

    Returns
    -------
    DualGraph
        The graph, with lon/lat where the nodes carry them.

    Raises
    ------
    DataValidationError
        The file cannot be read or lacks what a dual graph needs.
    """
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "nodes" not in data or "adjacency" not in data:
        raise _bad_file(
            path,
            "not a NetworkX adjacency JSON graph (needs 'nodes' and 'adjacency')",
            "export the graph with networkx.readwrite.json_graph.adjacency_data",
        )
    nodes: list[dict[str, Any]] = data["nodes"]
    keys = [population_key] if population_key else list(POPULATION_KEYS)
    key = next((k for k in keys if nodes and k in nodes[0]), None)
    if key is None:
        raise _bad_file(
            path, f"no population field among {keys}", "pass population_key=<field name>"
        )
    index = {nd["id"]: i for i, nd in enumerate(nodes)}
    edges = [(i, index[nbr["id"]]) for i, nbrs in enumerate(data["adjacency"]) for nbr in nbrs]
    graph = graph_from_edges([int(nd[key]) for nd in nodes], edges)
    name_key = next((k for k in ("NAME10", "NAME20", "NAME") if nodes and k in nodes[0]), None)
    point = _lonlat(nodes, "INTPTLON10", "INTPTLAT10")
    if point is None:
        point = _lonlat(nodes, "INTPTLON20", "INTPTLAT20")
    return DualGraph(
        population=graph.population,
        edges=graph.edges,
        names=tuple(str(nd[name_key]) for nd in nodes) if name_key else (),
        centroid_lonlat=_lonlat(nodes, "C_X", "C_Y"),
        point_lonlat=point,
    )


@dataclass(frozen=True)
class LoadedPlan:
    """A plan read from a file, with the centres the file names (if any), keyed by district."""

    assignment: IntArray
    centres: dict[int, int] | None = None


def load_plan(path: str | Path, n: int) -> LoadedPlan:
    """Read a plan file for a graph of ``n`` units.

    Formats: ``{"nodes": [{"index": i, "district": d}, ...]}`` (cut-edge plans) and
    ``{"partitions": {"<centre>": [members, ...]}}`` (Hess plans, districts numbered in file
    order, centres kept).

    Parameters
    ----------
    path
        The JSON plan file.
    n
        Number of units in the graph.

    Returns
    -------
    LoadedPlan
        The plan and, for Hess plans, the centres.
    """
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict) and "nodes" in data:
        mapping = {int(nd["index"]): int(nd["district"]) for nd in data["nodes"]}
        return LoadedPlan(plan_from_mapping(mapping, n, str(path)))
    if isinstance(data, dict) and "partitions" in data:
        mapping = {}
        centres = {}
        for d, (centre, members) in enumerate(data["partitions"].items()):
            centres[d] = int(centre)
            mapping.update({int(u): d for u in members})
        return LoadedPlan(plan_from_mapping(mapping, n, str(path)), centres)
    raise _bad_file(
        path,
        "unknown plan format",
        'write {"nodes": [{"index": i, "district": d}, ...]}',
    )


def load_lykhovyd_solution(
    path: str | Path, state: str, id_mapping_csv: str | Path, n: int
) -> IntArray:
    """Read a Lykhovyd ``.sol`` plan (``node district`` lines) and map it to DeFord node ids.

    ``id_mapping_csv`` is ``derived/lykhovyd_to_deford_county_ids.csv`` of the contiguity benchmark.

    Parameters
    ----------
    path
        The ``.sol`` file.
    state
        The state's code, as in the id mapping.
    id_mapping_csv
        The id mapping file.
    n
        Number of units in the graph.

    Returns
    -------
    numpy.ndarray
        District label per DeFord unit.
    """
    to_deford: dict[int, int] = {}
    with Path(id_mapping_csv).open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["state"] == state:
                to_deford[int(row["lykhovyd_index"])] = int(row["deford_id"])
    mapping: dict[int, int] = {}
    for line in Path(path).read_text(encoding="utf-8").split("\n"):
        parts = line.split()
        if len(parts) >= 2:
            mapping[to_deford[int(parts[0])]] = int(parts[1])
    return plan_from_mapping(mapping, n, str(path))


def load_lonlat_csv(path: str | Path, n: int) -> FloatArray:
    """Read ``id,...,C_X,C_Y`` rows (e.g. the derived MS centroids) into an ``n x 2`` lon/lat.

    Parameters
    ----------
    path
        The CSV file.
    n
        Number of units.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, 2)``: lon, lat.
    """
    out = np.full((n, 2), np.nan)
    with Path(path).open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            out[int(row["id"])] = (float(row["C_X"]), float(row["C_Y"]))
    return out


def load_epsg_by_state(path: str | Path) -> dict[str, int]:
    """Read ``derived/epsg_by_state.csv`` into ``{state: epsg}``.

    Parameters
    ----------
    path
        The CSV file.

    Returns
    -------
    dict
        State code to EPSG code.
    """
    with Path(path).open(newline="", encoding="utf-8") as fh:
        return {row["state"]: int(row["epsg"]) for row in csv.DictReader(fh)}
