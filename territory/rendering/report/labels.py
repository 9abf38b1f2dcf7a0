"""Placing rep names on a map so they overlap neither each other nor the home-base stars.

Kept apart from the map itself: it is a small search (spots around each star, nearest first,
scored by overlap) that only needs the figure's renderer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.figure import Figure

Box = tuple[float, float, float, float]
"""(lon_min, lat_min, lon_max, lat_max) in degrees, or (x0, y0, x1, y1) in pixels."""

FloatArray = npt.NDArray[np.float64]

_LABEL_SPOTS = tuple(
    (radius * dx, radius * dy, ha, va)
    for radius in (1.0, 2.2, 3.6)
    for dx, dy, ha, va in (
        (9, 4, "left", "bottom"),
        (9, -4, "left", "top"),
        (-9, 4, "right", "bottom"),
        (-9, -4, "right", "top"),
        (0, 10, "center", "bottom"),
        (0, -10, "center", "top"),
        (13, 0, "left", "center"),
        (-13, 0, "right", "center"),
    )
)
"""Label offsets (points) around a home base: close ones first, then farther with a leader."""


def _place_labels(
    fig: Figure,
    ax: Axes,
    x: FloatArray,
    y: FloatArray,
    labels: Sequence[str],
    show: npt.NDArray[np.bool_],
    *,
    leave_out: bool = False,
) -> list[int]:
    """Label each home base at the first spot that overlaps nothing already drawn.

    Spots ring the star, nearest first; a far spot gets a thin leader line. Stars count as
    obstacles, so labels do not hide other home bases. A label that fits nowhere takes the
    spot that overlaps least, or with ``leave_out`` is not drawn. Returns the positions of
    the labels left out.
    """
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    points = ax.transData.transform(np.column_stack([x, y]))
    axes_box = ax.get_window_extent(renderer)
    half = 9.0  # half a star's width, pixels
    stars = [
        (float(px) - half, float(py) - half, float(px) + half, float(py) + half)
        for (px, py), good in zip(points.tolist(), show.tolist(), strict=True)
        if good
    ]
    placed: list[Box] = []
    halo = [patheffects.withStroke(linewidth=2.6, foreground="white")]
    order = np.lexsort((np.arange(len(labels)), -y))  # top to bottom, then table order
    left_out: list[int] = []
    for i in order.tolist():
        if not show[i]:
            continue
        own = (points[i][0] - half, points[i][1] - half, points[i][0] + half, points[i][1] + half)
        best: tuple[float, Any] | None = None
        for k, (dx, dy, ha, va) in enumerate(_LABEL_SPOTS):
            far = k >= 8
            text = ax.annotate(
                labels[i], (x[i], y[i]), xytext=(dx, dy), textcoords="offset points", ha=ha,
                va=va, fontsize=8, fontweight="bold", color="#111111", path_effects=halo,
                zorder=8, annotation_clip=False,
                arrowprops={"arrowstyle": "-", "color": "#555555", "linewidth": 0.6,
                            "shrinkA": 0, "shrinkB": 6} if far else None,
            )  # fmt: skip
            box = text.get_window_extent(renderer)
            rect = (box.x0 - 1, box.y0 - 1, box.x1 + 1, box.y1 + 1)
            cost = sum(_overlap(rect, other) for other in placed)
            cost += sum(_overlap(rect, star) for star in stars if star != own)
            cost += 50.0 * (
                max(0.0, axes_box.x0 - rect[0]) + max(0.0, rect[2] - axes_box.x1)
                + max(0.0, axes_box.y0 - rect[1]) + max(0.0, rect[3] - axes_box.y1)
            )  # fmt: skip
            cost += 0.5 * k  # prefer near spots among equals
            if best is None or cost < best[0]:
                if best is not None:
                    best[1].remove()
                best = (cost, text)
            else:
                text.remove()
            if cost < 0.5 * (k + 1):
                break
        if best is not None and leave_out and best[0] >= 0.5 * len(_LABEL_SPOTS):
            best[1].remove()  # overlaps whatever spot it takes: better no label than a smudge
            left_out.append(i)
        elif best is not None:
            box = best[1].get_window_extent(renderer)
            placed.append((box.x0, box.y0, box.x1, box.y1))
    return left_out


def _overlap(a: Box, b: Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0
