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
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter

from territory.domain.metrics import moved_mask
from territory.io.runs import PlanFolder
from territory.rendering.charts import DPI
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
from territory.rendering.report.basemap import draw_basemap
from territory.rendering.report.figures import _png_bytes
from territory.rendering.report.labels import Box, _place_labels
from territory.rendering.report.maps import _inside, _lat_label, _lon_label, basemap_handles

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


@dataclass(frozen=True)
class _Differences:
    """What the difference maps draw, in degrees: the accounts that differ and the reps involved."""

    lon: FloatArray
    lat: FloatArray
    fill: list[str]
    ring: list[str]
    every_lon: FloatArray
    every_lat: FloatArray
    home_lon: FloatArray
    home_lat: FloatArray
    home_colour: list[str]
    labels: list[str]
    cos_lat: float
    legend: str


def difference_maps(
    runs: Sequence[PlanFolder], diff: pd.DataFrame, names: Sequence[str]
) -> list[bytes]:
    """Draw large maps of the accounts whose rep differs between the runs (empty if none).

    The first map fits the differing accounts (every account stays as a grey dot for context,
    county and state lines under them). Each differing account is filled with its rep's colour
    in the last run and ringed with its colour in the first, so a change of hands reads as two
    colours; the home bases of the reps involved are stars. Names that would overlap are left
    out there, and a second map zooms on the home bases they belong to.

    Parameters
    ----------
    runs
        The compared run folders (colours as :func:`shared_rep_colours`).
    diff
        ``assignment_diff`` of :func:`territory.rendering.compare.compare_runs`: ``account_id``
        and one column of rep ids per run, named as in ``names``.
    names
        The run names, in the order of ``runs``.

    Returns
    -------
    list of bytes
        PNG images (the whole frame, then at most one zoom); same runs, same bytes.
    """
    data = _differences(runs, diff, names)
    if data is None:
        return []
    box = _at_least(_padded_box(data.lon, data.lat, data.cos_lat, pad=0.12), 40.0, data.cos_lat)
    title = f"{data.lon.size:,} accounts assigned differently between the runs"
    first, left_out = _diff_panel(data, box, title, "Zoomed to the accounts that differ")
    if not left_out:
        return [first]
    crowd = _at_least(
        _padded_box(data.home_lon[left_out], data.home_lat[left_out], data.cos_lat, pad=0.3),
        20.0, data.cos_lat,
    )  # fmt: skip
    first, _ = _diff_panel(
        data, box, title, "Zoomed to the accounts that differ; names in the dashed frame are on "
        "the next map", frame=crowd,
    )  # fmt: skip
    inside = int(_inside(data.lon, data.lat, crowd).sum())
    zoom, _ = _diff_panel(
        data, crowd, f"Zoom: {inside:,} of the differing accounts, where home bases crowd",
        "The dashed frame of the map above; names that still would overlap are left out",
    )  # fmt: skip
    return [first, zoom]


def _differences(
    runs: Sequence[PlanFolder], diff: pd.DataFrame, names: Sequence[str]
) -> _Differences | None:
    if diff.empty or len(runs) < 2:
        return None
    union = _union_reps(runs)
    points = [_points(run, union) for run in runs]
    _, _, _, cos_lat = _frame(points)
    by_rep = _colours(points, union, cos_lat)
    where = _account_places(runs)
    ids = diff["account_id"].astype(str).tolist()
    lon = np.array([where.get(a, (np.nan, np.nan))[0] for a in ids], dtype=np.float64)
    lat = np.array([where.get(a, (np.nan, np.nan))[1] for a in ids], dtype=np.float64)
    first, last = (diff[n].astype(object).to_numpy() for n in (names[0], names[-1]))
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        return None
    reps = sorted(
        {str(r) for r in np.concatenate([first[ok], last[ok]]) if not _blank(r)} & set(union)
    )
    homes = _homes(runs, reps)
    grey = "#BBBBBB"
    return _Differences(
        lon=lon[ok], lat=lat[ok],
        fill=[grey if _blank(r) else by_rep.get(str(r), grey) for r in last[ok]],
        ring=[grey if _blank(r) else by_rep.get(str(r), grey) for r in first[ok]],
        every_lon=points[0].lon[points[0].known], every_lat=points[0].lat[points[0].known],
        home_lon=np.array([homes[r][0] for r in reps], dtype=np.float64),
        home_lat=np.array([homes[r][1] for r in reps], dtype=np.float64),
        home_colour=[by_rep[r] for r in reps],
        labels=[_mpl_text(_rep_name(runs, r), 20) for r in reps],
        cos_lat=cos_lat,
        legend=f"Account that differs: fill = rep in {_mpl_text(names[-1], 24)}, ring = rep in "
        f"{_mpl_text(names[0], 24)}",
    )  # fmt: skip


def _diff_panel(
    data: _Differences, box: Box, title: str, subtitle: str, frame: Box | None = None
) -> tuple[bytes, list[int]]:
    """One difference map inside ``box``: PNG bytes and the reps whose names were left out."""
    fig = _diff_figure(box, data.cos_lat)
    ax = fig.axes[0]
    draw_basemap(ax, box)
    ax.scatter(data.every_lon, data.every_lat, s=6, c="#C4C4C4", linewidths=0, zorder=2)
    ax.scatter(
        data.lon, data.lat, s=70, c=data.fill, edgecolors=data.ring, linewidths=2.4, zorder=4
    )
    seen = (
        np.isfinite(data.home_lon) & np.isfinite(data.home_lat)
        & _inside(data.home_lon, data.home_lat, box)
    )  # fmt: skip
    ax.scatter(
        data.home_lon[seen], data.home_lat[seen], s=200, marker="*", edgecolors="black",
        linewidths=1.0, c=[c for c, s in zip(data.home_colour, seen, strict=True) if s],
        zorder=5,
    )  # fmt: skip
    if frame is not None:
        ax.add_patch(
            Rectangle(
                (frame[0], frame[1]), frame[2] - frame[0], frame[3] - frame[1], fill=False,
                edgecolor="#333333", linewidth=1.2, linestyle="--", zorder=6,
            )
        )  # fmt: skip
        seen &= ~_inside(data.home_lon, data.home_lat, frame)
    ax.set_xlim(box[0], box[2])
    ax.set_ylim(box[1], box[3])
    ax.set_aspect(1.0 / data.cos_lat)
    ax.xaxis.set_major_formatter(FuncFormatter(_lon_label))
    ax.yaxis.set_major_formatter(FuncFormatter(_lat_label))
    ax.tick_params(labelsize=9, colors="#666666")
    ax.legend(
        handles=[
            Line2D([], [], marker="o", linestyle="none", color="#C4C4C4", markersize=5,
                   label="Account assigned alike in every run"),
            Line2D([], [], marker="o", linestyle="none", color="#888888", markersize=9,
                   markeredgecolor="#333333", markeredgewidth=2.2, label=data.legend),
            Line2D([], [], marker="*", linestyle="none", color="#888888", markersize=13,
                   markeredgecolor="black", label="Home base of a rep involved"),
            *basemap_handles(box),
        ],
        loc="upper center", bbox_to_anchor=(0.5, -0.06), ncols=2, fontsize=9.5, frameon=False,
    )  # fmt: skip
    fig.suptitle(title, fontsize=14, fontweight="bold", color="#333333")
    ax.set_title(subtitle, fontsize=9.5, color="#666666")
    fig.canvas.draw()
    fig.set_layout_engine("none")
    left_out = _place_labels(
        fig, ax, data.home_lon, data.home_lat, data.labels, seen, leave_out=True
    )
    return _png_bytes(fig), left_out


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or str(value) == ""


def _account_places(runs: Sequence[PlanFolder]) -> dict[str, tuple[float, float]]:
    """Account id -> (lon, lat), first run first."""
    where: dict[str, tuple[float, float]] = {}
    for run in runs:
        frame = run.accounts
        lon = pd.to_numeric(frame["lon"], errors="coerce").to_numpy(np.float64)
        lat = pd.to_numeric(frame["lat"], errors="coerce").to_numpy(np.float64)
        for a, x, y in zip(frame["account_id"].astype(str), lon, lat, strict=True):
            where.setdefault(a, (float(x), float(y)))
    return where


def _homes(runs: Sequence[PlanFolder], reps: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Rep id -> home (lon, lat) from the first run that has the rep."""
    homes: dict[str, tuple[float, float]] = dict.fromkeys(reps, (np.nan, np.nan))
    for run in reversed(runs):
        frame = run.reps.assign(rep_id=run.reps["rep_id"].astype(str))
        for row in frame[frame["rep_id"].isin(homes)].to_dict("records"):
            homes[str(row["rep_id"])] = (float(row["lon"]), float(row["lat"]))
    return homes


def _rep_name(runs: Sequence[PlanFolder], rep: str) -> str:
    for run in runs:
        if "name" not in run.reps.columns:
            continue
        hit = run.reps[run.reps["rep_id"].astype(str) == rep]
        if len(hit) and isinstance(hit["name"].iloc[0], str) and hit["name"].iloc[0].strip():
            return str(hit["name"].iloc[0])
    return rep


def _at_least(box: Box, km: float, cos_lat: float) -> Box:
    """Widen ``box`` around its centre to at least ``km`` across and high."""
    half_y = max((box[3] - box[1]) / 2, km / 2 / 111.2)
    half_x = max((box[2] - box[0]) / 2, km / 2 / 111.2 / cos_lat)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return (cx - half_x, cy - half_y, cx + half_x, cy + half_y)


def _diff_figure(box: Box, cos_lat: float) -> Figure:
    """Make a wide figure (the page's full width) shaped like the frame."""
    aspect = (box[3] - box[1]) / max((box[2] - box[0]) * cos_lat, 1e-9)
    width = 12.0
    height = float(np.clip(width * aspect + 1.6, 5.0, 13.0))
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_facecolor("#FBFBFB")
    return fig
