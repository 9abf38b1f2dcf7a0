"""The files an alignment reads besides its two tables, read the same way for every caller.

A spec's file levers (:data:`territory.domain.spec.FILE_LEVERS`) name a unit layer, extra unit
links and
forbidden pairs; :func:`alignment_inputs` reads them, joins the accounts to their units and
records each file's hash, so that ``territory align`` and a scenario with the same levers hand
:func:`territory.workflow.align.align` the same tables.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from territory.domain.spec import AlignmentSpec
from territory.errors import ScenarioError

if TYPE_CHECKING:
    import geopandas as gpd

    from territory.domain.districting import DualGraph

__all__ = [
    "SNAP_KM",
    "AlignmentInputs",
    "alignment_inputs",
    "file_hash",
    "join_units",
    "territory_polygons",
    "unit_graph",
]

SNAP_KM = 5.0
"""Accounts up to this far outside every unit (bays, simplified coasts) join the nearest one."""


def file_hash(path: str | Path) -> str:
    """sha256 of a file's bytes, recorded so a run can be traced to its exact inputs."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


@dataclass(frozen=True)
class AlignmentInputs:
    """What :func:`territory.workflow.align.align` takes besides the reps and the spec.

    ``accounts`` carry a ``unit_id`` column when the spec names units; ``hashes`` hold the
    tables' hashes given and those of every file read here.
    """

    accounts: pd.DataFrame
    forbidden: pd.DataFrame | None = None
    unit_layer: gpd.GeoDataFrame | None = None
    unit_graph: DualGraph | None = None
    hashes: dict[str, str] = field(default_factory=dict)


def alignment_inputs(
    spec: AlignmentSpec,
    accounts: pd.DataFrame,
    hashes: dict[str, str] | None = None,
    *,
    forbidden: pd.DataFrame | None = None,
) -> AlignmentInputs:
    """Read the files ``spec`` names and join the accounts to their units.

    Parameters
    ----------
    spec
        The alignment; ``units``, ``unit_id_column``, ``contiguity``, ``adjacency``, ``links``
        and ``forbidden`` are read here.
    accounts
        The accounts as loaded.
    hashes
        Hashes of the tables already read (``accounts``, ``reps``); the files read here add
        theirs.
    forbidden
        Forbidden pairs already built (a scenario's list); ``spec.forbidden`` is read otherwise.

    Raises
    ------
    ScenarioError
        ``contiguity`` without ``units``, or a links file of the wrong shape.
    DataValidationError
        A unit layer or table that breaks its contract.
    """
    from territory.io import read_table

    hashes = dict(hashes or {})
    layer = None
    if spec.units is not None:
        # Unit-level alignment: every account of a unit goes with the unit (a family).
        from territory.io.units import read_units

        layer = read_units(spec.units, spec.unit_id_column)
        accounts = accounts.assign(unit_id=join_units(accounts, layer))
        hashes["units"] = file_hash(spec.units)
    graph = None
    if spec.contiguity:
        if layer is None:
            raise ScenarioError("--contiguity needs --units (the map the territories live on)")
        graph = unit_graph(layer, spec.adjacency, spec.links)
        if spec.links is not None:
            hashes["links"] = file_hash(spec.links)
    if forbidden is None and spec.forbidden is not None:
        forbidden = read_table(spec.forbidden)
        hashes["forbidden"] = file_hash(spec.forbidden)
    return AlignmentInputs(accounts, forbidden, layer, graph, hashes)


def join_units(accounts: pd.DataFrame, unit_layer: gpd.GeoDataFrame) -> np.ndarray:
    """Find each account's unit: by id, else by location.

    By ``unit_id`` when every account has one that the layer knows, else by location (point in
    polygon, snapping up to :data:`SNAP_KM`).
    """
    from territory.io.units import join_accounts

    known = set(unit_layer["unit_id"].astype(str))
    by_id = "unit_id" in accounts.columns and accounts["unit_id"].astype(str).isin(known).all()
    if by_id and not accounts["unit_id"].isna().any():
        return join_accounts(accounts, unit_layer, by="unit_id").to_numpy()
    return join_accounts(accounts, unit_layer, by="location", snap_km=SNAP_KM).to_numpy()


def unit_graph(unit_layer: gpd.GeoDataFrame, kind: str, links: Path | None) -> DualGraph:
    """Build the units' neighbour graph (``rook`` or ``queen``) with the links of ``links``.

    ``links`` is JSON (a list of ``[unit_a, unit_b]`` pairs, or ``{"manual_links": [...]}``) or
    a table whose first two columns are unit ids.

    Raises
    ------
    ScenarioError
        The links file is not of either shape.
    """
    from territory.io import read_table
    from territory.io.units import adjacency as build_adjacency

    pairs: list[tuple[str, str]] = []
    if links is not None and links.suffix.lower() == ".json":
        data = json.loads(links.read_text())
        raw = data.get("manual_links", []) if isinstance(data, dict) else data
        if not all(isinstance(p, list) and len(p) == 2 for p in raw):
            raise ScenarioError(
                f"{links}: expected a list of [unit_a, unit_b] pairs (or {{'manual_links': [...]}})"
            )
        pairs = [(str(a), str(b)) for a, b in raw]
    elif links is not None:
        table = read_table(links).astype(str)
        if table.shape[1] < 2:
            raise ScenarioError(f"{links}: needs two columns of unit ids (unit_a, unit_b)")
        pairs = list(zip(table.iloc[:, 0], table.iloc[:, 1], strict=True))
    return build_adjacency(unit_layer, kind, pairs)  # type: ignore[arg-type]


def territory_polygons(
    unit_layer: gpd.GeoDataFrame, rep_of_unit: pd.Series
) -> Callable[[Path], None]:
    """Writer of territories.geojson: the units each rep holds, dissolved into one shape."""
    from territory.io.units import dissolve_territories, write_geojson

    held = pd.Series(rep_of_unit.to_numpy(), index=rep_of_unit.index.astype(str))
    held = held[~held.index.duplicated()]
    layer = unit_layer[unit_layer["unit_id"].astype(str).isin(held.index)]
    shapes = dissolve_territories(layer, held)

    def write(path: Path) -> None:
        write_geojson(shapes, path)

    return write
