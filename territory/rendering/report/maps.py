"""The territory map: accounts coloured by rep, home bases labelled, crowds zoomed.

Drawn with matplotlib's Agg canvas into PNG bytes that the page embeds. Longitude is scaled
by cos(mean latitude) so distances look right; neighbouring territories get different
colours; above :data:`MAX_MAP_ACCOUNTS` accounts an even, seeded sample is drawn, so large
runs render quickly and the same run gives the same picture.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ParamSpec

import numpy as np
import numpy.typing as npt
from matplotlib import patheffects
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch, Rectangle
from matplotlib.path import Path as MplPath
from matplotlib.ticker import FuncFormatter

from territory.domain.metrics import moved_mask
from territory.io.runs import PlanFolder
from territory.rendering.charts import DPI
from territory.rendering.report.basemap import (
    COUNTY_EDGE,
    STATE_EDGE,
    account_territories,
    draw_basemap,
    load_basemap,
    overlaps,
    polygon_rings,
)
from territory.rendering.report.figures import (
    _MUTED,
    _TEXT,
    MAX_LABELLED_REPS,
    _png_bytes,
    _rep_labels,
)
from territory.rendering.report.inputs import read_json
from territory.rendering.report.labels import Box, _overlap, _place_labels

TERRITORY_SHAPES = "territories.geojson"
"""Territory polygons written by ``territory align --units``; the map shades them when present."""

NO_REP_COLOUR = "#BBBBBB"
"""Fill of a territory polygon whose rep is not in the reps table."""

MAX_MAP_ACCOUNTS = 50_000
"""Above this many accounts the map draws an even, seeded sample (the caption says so)."""

ZOOM_MIN_REPS = 6
"""A zoomed map is drawn where at least this many home bases crowd together."""

MAX_ZOOMS = 4
"""At most this many zoomed maps (two levels deep) follow the whole map."""

# Sasha Trubetskoy's "20 distinct colours" without white, black, grey and the pale ones that
# vanish on a light map; neighbouring territories differ by greedy colouring, so 14 suffice.
MAP_PALETTE = (
    "#E6194B", "#3CB44B", "#4363D8", "#F58231", "#911EB4", "#42D4F4", "#F032E6", "#BFEF45",
    "#469990", "#9A6324", "#800000", "#808000", "#000075", "#E6BE00",
)  # fmt: skip

FloatArray = npt.NDArray[np.float64]
_P = ParamSpec("_P")


def rep_colours(
    x: FloatArray, y: FloatArray, rep_index: npt.NDArray[np.int64], n_reps: int
) -> list[str]:
    """Pick a palette colour per rep such that territories that touch get different colours.

    Two territories touch when one's account is among the 8 nearest accounts of the other's
    (on the map's projected coordinates). Reps are coloured greedily, most-touching first,
    each with the colour its already coloured neighbours use least (weighted by contacts).
    """
    from scipy.sparse import coo_matrix
    from scipy.spatial import cKDTree

    palette = len(MAP_PALETTE)
    if n_reps == 0:
        return []
    indptr: npt.NDArray[np.int64] = np.zeros(n_reps + 1, dtype=np.int64)
    indices: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
    weights: FloatArray = np.zeros(0)
    if x.size > 1:
        k = min(9, x.size)
        _, nearest = cKDTree(np.column_stack([x, y])).query(np.column_stack([x, y]), k=k)
        a = np.repeat(rep_index, k - 1)
        b = rep_index[nearest[:, 1:].ravel()]
        keep = a != b
        ones = np.ones(int(keep.sum()))
        matrix = coo_matrix((ones, (a[keep], b[keep])), shape=(n_reps, n_reps)).tocsr()
        matrix = (matrix + matrix.T).tocsr()
        matrix.sum_duplicates()
        matrix.sort_indices()
        indptr = matrix.indptr.astype(np.int64)
        indices = matrix.indices.astype(np.int64)
        weights = matrix.data.astype(np.float64)
    degree = np.add.reduceat(weights, indptr[:-1]) if weights.size else np.zeros(n_reps)
    degree = np.where(np.diff(indptr) > 0, degree, 0.0)
    colour = np.full(n_reps, -1, dtype=np.int64)
    for rep in np.argsort(-degree, kind="stable").tolist():
        penalty = np.zeros(palette)
        for j in range(int(indptr[rep]), int(indptr[rep + 1])):
            other = int(colour[indices[j]])
            if other >= 0:
                penalty[other] += weights[j]
        # Among equally free colours prefer the least used so far, for an even spread.
        used = np.bincount(colour[colour >= 0], minlength=palette)
        colour[rep] = int(np.lexsort((np.arange(palette), used, penalty))[0])
    return [MAP_PALETTE[c] for c in colour.tolist()]


@dataclass(frozen=True)
class TerritoryShape:
    """One rep's dissolved units as a matplotlib path (degrees): rings closed, holes kept."""

    rep_id: str
    colour: str
    vertices: FloatArray
    codes: npt.NDArray[np.uint8]


def territory_shapes(folder: Path, colour_of: Mapping[str, str]) -> tuple[TerritoryShape, ...]:
    """Read the run folder's ``territories.geojson`` as paths coloured by rep (empty if absent).

    Read as plain JSON (Polygon / MultiPolygon in WGS84, as ``write_geojson`` writes them) so the
    report needs no GIS stack; features without geometry are skipped. Holes are separate rings of
    one compound path, so they stay open when the patch is filled.
    """
    doc = read_json(folder / TERRITORY_SHAPES)
    if not isinstance(doc, dict):
        return ()
    shapes = []
    for feature in doc.get("features") or []:
        geometry = (feature or {}).get("geometry") or {}
        rings = polygon_rings(geometry.get("type"), geometry.get("coordinates") or [])
        if not rings:
            continue
        rep_id = str((feature.get("properties") or {}).get("rep_id", ""))
        shapes.append(
            TerritoryShape(
                rep_id=rep_id,
                colour=colour_of.get(rep_id, NO_REP_COLOUR),
                vertices=np.concatenate([v for v, _ in rings]),
                codes=np.concatenate([c for _, c in rings]),
            )
        )
    return tuple(shapes)


@dataclass(frozen=True)
class _MapData:
    """Everything the map panels draw, in plot coordinates (degrees)."""

    lon: FloatArray
    lat: FloatArray
    colour: npt.NDArray[np.object_]
    moved: npt.NDArray[np.bool_]
    home_lon: FloatArray
    home_lat: FloatArray
    home_colour: list[str]
    home_ok: npt.NDArray[np.bool_]
    labels: list[str]
    cos_lat: float
    mean_lat: float
    n_accounts: int
    n_moved: int
    n_reps: int
    territories: tuple[TerritoryShape, ...] = ()
    derived: bool = False
    dot_label: str = "Account (colour = its rep)"
    territory_label: str = "the rep's units dissolved"


def with_outlines(
    data: _MapData, rep_index: npt.NDArray[np.int64], rep_ids: Sequence[str]
) -> _MapData:
    """Give an account-level map (no territory polygons) the derived area of each rep.

    ``rep_index`` is each drawn account's position in ``rep_ids``; see
    :func:`territory.rendering.report.basemap.account_territories`.
    """
    if data.territories:
        return data
    colour_of = dict(zip(rep_ids, data.home_colour, strict=True))
    derived = account_territories(
        data.lon, data.lat, rep_index, rep_ids, data.cos_lat, load_basemap().land
    )
    shapes = tuple(
        TerritoryShape(s.key, colour_of.get(s.key, NO_REP_COLOUR), s.vertices, s.codes)
        for s in derived
    )
    return replace(data, territories=shapes, derived=bool(shapes))


def _map_data(run: PlanFolder) -> _MapData:
    accounts, reps = run.accounts, run.reps
    plan = run.rep_of_account.astype(str).to_numpy(dtype=object)
    rep_ids = reps["rep_id"].astype(str).tolist()
    position = {r: i for i, r in enumerate(rep_ids)}
    rep_index = np.array([position.get(r, -1) for r in plan.tolist()], dtype=np.int64)
    lat = accounts["lat"].to_numpy(dtype=np.float64)
    lon = accounts["lon"].to_numpy(dtype=np.float64)
    home_lat = reps["lat"].to_numpy(dtype=np.float64)
    home_lon = reps["lon"].to_numpy(dtype=np.float64)
    moved = moved_mask(accounts, plan)
    known = (rep_index >= 0) & np.isfinite(lat) & np.isfinite(lon)
    all_lat = np.concatenate([lat[known], home_lat[np.isfinite(home_lat)]])
    mean_lat = float(np.mean(all_lat)) if all_lat.size else 0.0
    cos_lat = max(math.cos(math.radians(mean_lat)), 0.05)
    # Colours come from all accounts, so drawing a sample does not change them.
    colours = rep_colours(lon[known] * cos_lat, lat[known], rep_index[known], len(rep_ids))
    shown = np.flatnonzero(known)
    if shown.size > MAX_MAP_ACCOUNTS:
        rng = np.random.default_rng(0)
        shown = np.sort(rng.choice(shown, size=MAX_MAP_ACCOUNTS, replace=False))
    data = _MapData(
        lon=lon[shown],
        lat=lat[shown],
        colour=np.array(colours, dtype=object)[rep_index[shown]],
        moved=moved[shown],
        home_lon=home_lon,
        home_lat=home_lat,
        home_colour=colours,
        home_ok=np.isfinite(home_lat) & np.isfinite(home_lon),
        labels=_rep_labels(reps),
        cos_lat=cos_lat,
        mean_lat=mean_lat,
        n_accounts=int(known.sum()),
        n_moved=int(moved[known].sum()),
        n_reps=len(rep_ids),
        territories=territory_shapes(run.path, dict(zip(rep_ids, colours, strict=True))),
    )
    return with_outlines(data, rep_index[shown], rep_ids)


def _padded_box(lon: FloatArray, lat: FloatArray, cos_lat: float, pad: float = 0.04) -> Box:
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        return (-1.0, -1.0, 1.0, 1.0)
    lo_x, hi_x = float(lon[ok].min()), float(lon[ok].max())
    lo_y, hi_y = float(lat[ok].min()), float(lat[ok].max())
    # Pad to at least ~5 km so a single town still gets a readable frame.
    pad_x = max((hi_x - lo_x) * pad, 0.05 / cos_lat)
    pad_y = max((hi_y - lo_y) * pad, 0.05)
    return (lo_x - pad_x, lo_y - pad_y, hi_x + pad_x, hi_y + pad_y)


def _zoom_tree(data: _MapData, whole: Box) -> list[tuple[int, Box, int]]:
    """Zoom frames as ``(number, frame, parent number)``, parent 0 being the whole map.

    Crowds on the whole map get a zoom each; a crowd still too dense inside a zoom gets one
    more level. At most :data:`MAX_ZOOMS` in all, numbered in page order.
    """
    out: list[tuple[int, Box, int]] = []

    def visit(box: Box, parent: int, depth: int) -> None:
        for frame in _dense_boxes(data, box):
            if len(out) >= MAX_ZOOMS:
                return
            area = (frame[2] - frame[0]) * (frame[3] - frame[1])
            if parent and area > 0.4 * (box[2] - box[0]) * (box[3] - box[1]):
                continue  # hardly closer than its parent: no help
            out.append((len(out) + 1, frame, parent))
            if depth < 2:
                visit(frame, len(out), depth + 1)

    visit(whole, 0, 1)
    return out


def _dense_boxes(data: _MapData, box: Box, limit: int = 2) -> list[Box]:
    """Up to ``limit`` areas inside ``box`` where home bases crowd too much to label them.

    A crowd is a home base with at least :data:`ZOOM_MIN_REPS` - 1 others within 5% of the
    box's diagonal; its zoom frame covers them with a margin. Frames do not overlap.
    """
    ok = np.flatnonzero(data.home_ok & _inside(data.home_lon, data.home_lat, box))
    if ok.size < ZOOM_MIN_REPS:
        return []
    x = data.home_lon[ok] * data.cos_lat
    y = data.home_lat[ok]
    diagonal = math.hypot((box[2] - box[0]) * data.cos_lat, box[3] - box[1])
    radius = 0.05 * diagonal
    distance = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    free = np.ones(ok.size, dtype=bool)
    boxes: list[Box] = []
    while len(boxes) < limit:
        counts = ((distance <= radius) & free[None, :] & free[:, None]).sum(axis=1)
        centre = int(np.argmax(counts))
        if counts[centre] < ZOOM_MIN_REPS:
            break
        members = free & (distance[centre] <= 1.5 * radius)
        lon_m, lat_m = data.home_lon[ok][members], data.home_lat[ok][members]
        span = max(
            float(lon_m.max() - lon_m.min()) * data.cos_lat, float(lat_m.max() - lat_m.min())
        )
        margin = max(0.35 * span, 0.4 * radius)
        frame = (
            float(lon_m.min()) - margin / data.cos_lat,
            float(lat_m.min()) - margin,
            float(lon_m.max()) + margin / data.cos_lat,
            float(lat_m.max()) + margin,
        )
        if any(_overlap(frame, other) > 0 for other in boxes):
            free &= ~members
            continue
        boxes.append(frame)
        inside = (
            (data.home_lon[ok] >= frame[0]) & (data.home_lon[ok] <= frame[2])
            & (data.home_lat[ok] >= frame[1]) & (data.home_lat[ok] <= frame[3])
        )  # fmt: skip
        free &= ~(members | inside)
    return boxes


def map_charts(run: PlanFolder) -> list[bytes]:
    """PNG maps: the whole area first, then a zoom on each crowd of home bases (at most 2).

    Accounts are coloured by rep (neighbouring territories differ, see :func:`rep_colours`),
    accounts that move to a new rep have a black ring, home bases are stars labelled with the
    rep's name. Longitude is scaled by cos(mean latitude) (an equirectangular projection), so
    distances look right at the map's latitude. Above :data:`MAX_MAP_ACCOUNTS` accounts an even
    seeded sample is drawn. Home bases inside a zoom frame are labelled on the zoom only.
    """
    data = _map_data(run)
    title = (
        f"Territories: {data.n_accounts:,} accounts, {data.n_reps:,} reps, "
        f"{data.n_moved:,} accounts moved"
    )
    return charts_of(data, title)


def charts_of(data: _MapData, title: str, dots: str = "accounts") -> list[bytes]:
    """Draw the whole-area map of ``data`` and its zooms (see :func:`map_charts`).

    ``dots`` names what the dots are in the subtitle when a sample is drawn.
    """
    outlines = [t.vertices for t in data.territories]
    whole = _padded_box(
        np.concatenate([data.lon, data.home_lon, *(v[:, 0] for v in outlines)]),
        np.concatenate([data.lat, data.home_lat, *(v[:, 1] for v in outlines)]),
        data.cos_lat,
    )
    labelled = data.n_reps <= MAX_LABELLED_REPS
    zooms = _zoom_tree(data, whole) if labelled else []
    sample = (
        f"; an even sample of {data.lon.size:,} of {data.n_accounts:,} {dots} is drawn"
        if data.lon.size < data.n_accounts
        else ""
    )
    subtitle = (
        f"Longitude scaled by cos(mean latitude) so distances are true to scale at "
        f"{data.mean_lat:.1f}\u00b0{sample}"
    )
    if zooms:
        subtitle += "; crowded areas are labelled on the zoomed maps below"
    top = [(number, frame) for number, frame, parent in zooms if parent == 0]
    pngs = [_map_panel(data, whole, title, subtitle, labelled=labelled, frames=top)]
    for number, frame, parent in zooms:
        inside = _inside(data.home_lon, data.home_lat, frame) & data.home_ok
        km = (frame[2] - frame[0]) * data.cos_lat * 111.2
        where = "the whole map" if parent == 0 else f"zoom {parent}"
        pngs.append(
            _map_panel(
                data,
                frame,
                f"Zoom {number}: {int(inside.sum()):,} home bases in about {km:,.0f} km across",
                f"The dashed frame 'Zoom {number}' on {where}; same colours, accounts outside "
                "the frame are not shown",
                labelled=True,
                frames=[(n, f) for n, f, p in zooms if p == number],
            )
        )
    return pngs


def map_chart(run: PlanFolder) -> bytes:
    """Draw the whole-area map of :func:`map_charts` only (PNG bytes)."""
    return map_charts(run)[0]


def _inside(lon: FloatArray, lat: FloatArray, box: Box) -> npt.NDArray[np.bool_]:
    return (lon >= box[0]) & (lon <= box[2]) & (lat >= box[1]) & (lat <= box[3])


def _map_figure(
    data: _MapData,
    box: Box,
    title: str,
    subtitle: str,
    *,
    labelled: bool,
    frames: Sequence[tuple[int, Box]],
) -> Figure:
    """Territory polygons (if any) under the account dots, home-base stars and zoom frames.

    Kept apart from the PNG encoding so tests can count what is drawn instead of reading pixels.
    """
    span_x = (box[2] - box[0]) * data.cos_lat
    span_y = box[3] - box[1]
    aspect = span_y / max(span_x, 1e-9)
    width = float(np.clip((10.5 - 1.2) / aspect, 7.0, 12.0))  # tall areas: narrower, not taller
    height = float(np.clip(width * aspect + 1.2, 4.5, 10.5))
    fig = Figure(figsize=(width, height), dpi=DPI, layout="compressed")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_facecolor("#FBFBFB")
    ax.grid(True, color="#E4E4E4", linewidth=0.6)
    ax.set_axisbelow(True)
    visible = _inside(data.lon, data.lat, box)
    n_visible = int(visible.sum())
    size = float(np.clip(40_000.0 / max(n_visible, 1), 4.0, 36.0))
    still = visible & ~data.moved
    ringed = visible & data.moved
    draw_basemap(ax, box)
    tint = 0.2 if data.derived else 0.3
    for shape in data.territories:
        # A light tint of the rep's colour, so the same-coloured dots stay visible on top.
        ax.add_patch(
            PathPatch(
                MplPath(shape.vertices, shape.codes), facecolor=to_rgba(shape.colour, tint),
                edgecolor="#444444", linewidth=0.7, zorder=1, gid=f"territory:{shape.rep_id}",
            )
        )  # fmt: skip
    ax.scatter(
        data.lon[still], data.lat[still], s=size, c=list(data.colour[still]), linewidths=0,
        zorder=2,
    )  # fmt: skip
    ax.scatter(
        data.lon[ringed], data.lat[ringed], s=size * 1.8, c=list(data.colour[ringed]),
        edgecolors="#111111", linewidths=0.55, zorder=3,
    )  # fmt: skip
    ok = data.home_ok
    ax.scatter(
        data.home_lon[ok], data.home_lat[ok], s=_star_size(data.n_reps), marker="*",
        c=[data.home_colour[i] for i in np.flatnonzero(ok)], edgecolors="black",
        linewidths=1.0, zorder=5,
    )  # fmt: skip
    for k, frame in frames:
        ax.add_patch(
            Rectangle(
                (frame[0], frame[1]), frame[2] - frame[0], frame[3] - frame[1], fill=False,
                edgecolor="#333333", linewidth=1.2, linestyle="--", zorder=6,
            )
        )  # fmt: skip
        ax.annotate(
            f"Zoom {k}", (frame[0], frame[3]), xytext=(2, 3), textcoords="offset points",
            fontsize=9, fontweight="bold", color="#333333", zorder=7,
            path_effects=[patheffects.withStroke(linewidth=2.6, foreground="white")],
        )  # fmt: skip
    ax.set_xlim(box[0], box[2])
    ax.set_ylim(box[1], box[3])
    ax.set_aspect(1.0 / data.cos_lat)
    ax.xaxis.set_major_formatter(FuncFormatter(_lon_label))
    ax.yaxis.set_major_formatter(FuncFormatter(_lat_label))
    ax.tick_params(labelsize=9, colors=_MUTED)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    handles: list[Artist] = [
        Line2D([], [], marker="o", linestyle="none", color="#888888", markersize=6,
               label=data.dot_label),
        Line2D([], [], marker="*", linestyle="none", color="#888888", markeredgecolor="black",
               markersize=14, label="Rep home base"),
    ]  # fmt: skip
    if data.moved.any():
        handles.insert(1, Line2D(
            [], [], marker="o", linestyle="none", color="#888888", markeredgecolor="#111111",
            markeredgewidth=1.0, markersize=8, label="Account moving to a new rep (black ring)",
        ))  # fmt: skip
    if data.territories:
        what = "the area nearest its accounts" if data.derived else data.territory_label
        handles.append(
            Patch(facecolor=to_rgba("#888888", tint), edgecolor="#444444", linewidth=0.7,
                  label=f"Territory: {what}")
        )  # fmt: skip
    handles += basemap_handles(box)
    fig.legend(
        handles=handles, loc="outside lower center", ncols=3,
        fontsize=9.5, frameon=False,
    )  # fmt: skip
    fig.suptitle(title, fontsize=14, fontweight="bold", color=_TEXT)
    ax.set_title(subtitle, fontsize=9.5, color=_MUTED)
    if labelled:
        fig.canvas.draw()  # settle the layout before measuring label boxes
        fig.set_layout_engine("none")
        show = ok & _inside(data.home_lon, data.home_lat, box)
        for _, frame in frames:
            show &= ~_inside(data.home_lon, data.home_lat, frame)
        _place_labels(fig, ax, data.home_lon, data.home_lat, data.labels, show)
    return fig


def basemap_handles(box: Box) -> list[Artist]:
    """Legend entries for the county and state outlines, when the map shows any."""
    base = load_basemap()
    if not any(overlaps(s.bounds, box) for s in base.states):
        return []
    return [
        Line2D([], [], color=COUNTY_EDGE, linewidth=0.8, label="County line"),
        Line2D([], [], color=STATE_EDGE, linewidth=1.4, label="State line"),
    ]


def _as_png(draw: Callable[_P, Figure]) -> Callable[_P, bytes]:
    """Wrap a drawing function so that it returns the figure encoded as PNG bytes."""

    def png(*args: _P.args, **kwargs: _P.kwargs) -> bytes:
        return _png_bytes(draw(*args, **kwargs))

    return png


_map_panel = _as_png(_map_figure)
"""One map as PNG bytes: :func:`_map_figure`'s arguments (tests replace it to count the maps)."""


def _star_size(n_reps: int) -> float:
    """Star area (points squared): large for a few reps, smaller when there are hundreds."""
    return float(np.clip(230.0 * math.sqrt(40.0 / max(n_reps, 1)), 70.0, 230.0))


def _lon_label(value: float, _pos: float | None = None) -> str:
    return f"{abs(value):g}\u00b0{'W' if value < 0 else 'E' if value > 0 else ''}"


def _lat_label(value: float, _pos: float | None = None) -> str:
    return f"{abs(value):g}\u00b0{'S' if value < 0 else 'N' if value > 0 else ''}"
