"""Small-multiple maps of several runs: one extent and one colour per rep id over all of them.

Drawing goes through the report's map renderer (:mod:`territory.rendering.report.maps`), so a run's
map
on the comparison page looks like the one of its own report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from territory.domain.metrics import moved_mask
from territory.io.runs import PlanFolder
from territory.rendering.compare.kpis import plan_array, run_names
from territory.rendering.report import (
    MAX_MAP_ACCOUNTS,
    _map_panel,
    _MapData,
    _mpl_text,
    _padded_box,
    _rep_labels,
    rep_colours,
    territory_shapes,
)

MAX_LABELLED_REPS = 40
"""Small-multiple maps label home bases up to this many reps."""

MAX_COLOURING_POINTS = 200_000
"""Above this many accounts over all runs, colours are chosen from an even seeded sample."""

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class _RunPoints:
    """One run's accounts in map terms: where they are, whose they are, whether they move."""

    lat: FloatArray
    lon: FloatArray
    rep_index: npt.NDArray[np.int64]
    known: npt.NDArray[np.bool_]
    moved: npt.NDArray[np.bool_]
    home_lat: FloatArray
    home_lon: FloatArray


def _union_reps(runs: Sequence[PlanFolder]) -> dict[str, int]:
    """Position of every rep id of any run, in order of first appearance."""
    union: dict[str, int] = {}
    for run in runs:
        for rep in run.reps["rep_id"].astype(str).tolist():
            union.setdefault(rep, len(union))
    return union


def _points(run: PlanFolder, union: Mapping[str, int]) -> _RunPoints:
    lat = pd.to_numeric(run.accounts["lat"], errors="coerce").to_numpy(np.float64)
    lon = pd.to_numeric(run.accounts["lon"], errors="coerce").to_numpy(np.float64)
    plan = plan_array(run)
    rep_index = np.array([union.get(r, -1) for r in plan.tolist()], dtype=np.int64)
    return _RunPoints(
        lat=lat,
        lon=lon,
        rep_index=rep_index,
        known=(rep_index >= 0) & np.isfinite(lat) & np.isfinite(lon),
        moved=moved_mask(run.accounts, plan),
        home_lat=pd.to_numeric(run.reps["lat"], errors="coerce").to_numpy(np.float64),
        home_lon=pd.to_numeric(run.reps["lon"], errors="coerce").to_numpy(np.float64),
    )


def _frame(points: Sequence[_RunPoints]) -> tuple[FloatArray, FloatArray, float, float]:
    """All plotted longitudes and latitudes, their mean latitude and its cosine."""
    lat = np.concatenate([p.lat[p.known] for p in points] + [p.home_lat for p in points])
    lon = np.concatenate([p.lon[p.known] for p in points] + [p.home_lon for p in points])
    finite = np.isfinite(lat) & np.isfinite(lon)
    mean_lat = float(lat[finite].mean()) if finite.any() else 0.0
    return lon, lat, mean_lat, max(math.cos(math.radians(mean_lat)), 0.05)


def shared_rep_colours(runs: Sequence[PlanFolder]) -> dict[str, str]:
    """Choose one map colour per rep id over all runs (as ``report.rep_colours`` does).

    Colours are chosen once from the accounts of every run together, so a rep id has the same
    colour on every map and territories that touch in any run get different colours. Above
    :data:`MAX_COLOURING_POINTS` accounts an even seeded sample decides.

    Parameters
    ----------
    runs
        The compared run folders; their accounts and reps' home bases are read.

    Returns
    -------
    dict
        Rep id -> colour (``#rrggbb``), for every rep id of any run.
    """
    union = _union_reps(runs)
    points = [_points(run, union) for run in runs]
    _, _, _, cos_lat = _frame(points)
    return _colours(points, union, cos_lat)


def _colours(
    points: Sequence[_RunPoints], union: Mapping[str, int], cos_lat: float
) -> dict[str, str]:
    x = np.concatenate([p.lon[p.known] for p in points]) * cos_lat
    y = np.concatenate([p.lat[p.known] for p in points])
    index = np.concatenate([p.rep_index[p.known] for p in points])
    if x.size > MAX_COLOURING_POINTS:
        pick = np.sort(
            np.random.default_rng(0).choice(x.size, size=MAX_COLOURING_POINTS, replace=False)
        )
        x, y, index = x[pick], y[pick], index[pick]
    colours = rep_colours(x, y, index, len(union))
    return dict(zip(union, colours, strict=True))


def comparison_maps(runs: Sequence[PlanFolder], names: Sequence[str] | None = None) -> list[bytes]:
    """Draw one PNG map per run on the same extent, each rep id in one colour on every map.

    Colours come from :func:`shared_rep_colours`. Accounts that move from their current rep
    have a black ring; stars are home bases, labelled up to :data:`MAX_LABELLED_REPS` reps.
    Above :data:`MAX_MAP_ACCOUNTS` accounts a run's map draws an even seeded sample. A run
    with a ``territories.geojson`` (``align --units``) also shows its territory polygons.

    Parameters
    ----------
    runs
        The compared run folders.
    names
        The title of each map; :func:`territory.rendering.compare.run_names` by default.

    Returns
    -------
    list of bytes
        PNG images, one per run, in order. Same runs, same bytes.
    """
    labels = list(names) if names is not None else list(run_names(runs))
    union = _union_reps(runs)
    points = [_points(run, union) for run in runs]
    all_lon, all_lat, mean_lat, cos_lat = _frame(points)
    by_rep = _colours(points, union, cos_lat)
    palette = np.array([by_rep[r] for r in union], dtype=object)
    box = _padded_box(all_lon, all_lat, cos_lat)
    pngs = []
    for label, run, p in zip(labels, runs, points, strict=True):
        shown = np.flatnonzero(p.known)
        if shown.size > MAX_MAP_ACCOUNTS:
            rng = np.random.default_rng(0)
            shown = np.sort(rng.choice(shown, size=MAX_MAP_ACCOUNTS, replace=False))
        rep_ids = run.reps["rep_id"].astype(str).tolist()
        data = _MapData(
            lon=p.lon[shown],
            lat=p.lat[shown],
            colour=palette[p.rep_index[shown]],
            moved=p.moved[shown],
            home_lon=p.home_lon,
            home_lat=p.home_lat,
            home_colour=[by_rep[r] for r in rep_ids],
            home_ok=np.isfinite(p.home_lat) & np.isfinite(p.home_lon),
            labels=_rep_labels(run.reps),
            cos_lat=cos_lat,
            mean_lat=mean_lat,
            n_accounts=int(p.known.sum()),
            n_moved=int(p.moved[p.known].sum()),
            n_reps=len(rep_ids),
            territories=territory_shapes(run.path, by_rep),
        )
        sample = (
            f"; an even sample of {shown.size:,} of {data.n_accounts:,} accounts"
            if shown.size < data.n_accounts
            else ""
        )
        pngs.append(
            _map_panel(
                data,
                box,
                f"{_mpl_text(label, 40)}: {data.n_reps:,} reps, "
                f"{data.n_moved:,} of {data.n_accounts:,} accounts moved",
                "Same extent and the same colour for a rep on every map" + sample,
                labelled=data.n_reps <= MAX_LABELLED_REPS,
                frames=[],
            )
        )
    return pngs
