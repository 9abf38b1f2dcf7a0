"""The report's own matplotlib charts: balance per rep and the sensitivity lines.

Shared drawing helpers live here too (figure, style, PNG bytes, safe text), so the maps and
:mod:`territory.rendering.compare` draw with the same look. Figures use the Agg canvas, never
``pyplot``, and the PNG carries no software stamp: same data, same bytes.
"""

from __future__ import annotations

import math
from io import BytesIO

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from territory.io.runs import PlanFolder
from territory.rendering.charts import DPI, PNG_METADATA, style_axes
from territory.rendering.report.text import is_missing, number_at, pct

MAX_LABELLED_REPS = 80
"""Above this many reps the map leaves out name labels and the balance chart per-rep bars."""

_IN_BAND = "#0072B2"
_OUT_OF_BAND = "#D55E00"
_BAND = "#009E73"
_TEXT = "#333333"
_MUTED = "#666666"


def _png_bytes(fig: Figure) -> bytes:
    """Encode the figure as PNG without software or time stamps (byte-identical on rerun)."""
    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata=dict(PNG_METADATA))
    return buffer.getvalue()


def _mpl_text(value: object, width: int = 22) -> str:
    """User text safe for matplotlib: no mathtext (``$``), shortened to ``width`` characters."""
    text = " ".join(str(value).split())
    if len(text) > width:
        text = text[: width - 1] + "\u2026"
    return text.replace("$", r"\$")


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _rep_labels(reps: pd.DataFrame) -> list[str]:
    ids = reps["rep_id"].astype(str).tolist()
    if "name" not in reps.columns:
        return [_mpl_text(i, 14) for i in ids]
    names = reps["name"].tolist()
    return [
        _mpl_text(i if is_missing(n) or str(n).strip() == "" else n, 20)
        for i, n in zip(ids, names, strict=True)
    ]


def balance_chart(run: PlanFolder) -> bytes | None:
    """PNG: every rep's potential and workload deviation from target, with the allowed band.

    One bar per rep (blue inside the band, orange outside); above
    :data:`MAX_LABELLED_REPS` reps, the deviations sorted from lowest to highest instead.
    None when the territories table has no deviations.
    """
    terr = run.territories
    if not {"potential_dev", "workload_dev"} <= set(terr.columns):
        return None
    solve = run.solve
    bands = [
        (name, terr[f"{key}_dev"].to_numpy(np.float64), number_at(solve, f"balance_{key}"))
        for name, key in (("Potential", "potential"), ("Workload", "workload"))
    ]
    n = len(terr)
    labelled = n <= MAX_LABELLED_REPS
    height = max(4.5, 0.2 * n + 2.0) if labelled else 5.5
    fig = _figure(12.0, height)
    axes = fig.subplots(1, 2, sharey=labelled)
    labels = _balance_labels(run)
    for ax, (name, dev, tol) in zip(axes, bands, strict=True):
        style_axes(ax)
        finite = dev[np.isfinite(dev)]
        reach = max([abs(float(v)) for v in finite] + [tol or 0.0]) or 0.05
        limit = max(reach * 1.25, (tol or 0.0) * 1.6)
        inside = np.abs(dev) <= (tol if tol is not None else np.inf) + 1e-9
        colour = np.where(inside, _IN_BAND, _OUT_OF_BAND)
        if labelled:
            pos = np.arange(n)[::-1]
            ax.grid(False, axis="y")
            if tol is not None:
                ax.axvspan(-tol, tol, color=_BAND, alpha=0.13, linewidth=0, zorder=0)
                for edge in (-tol, tol):
                    ax.axvline(edge, color=_BAND, linewidth=1.0, linestyle="--")
            ax.barh(pos, np.nan_to_num(dev), color=list(colour), height=0.72, zorder=2)
            ax.axvline(0.0, color=_TEXT, linewidth=1.0)
            ax.set_xlim(-limit, limit)
            ax.set_yticks(pos, labels)
            ax.set_ylim(-0.7, n - 0.3)
            ax.tick_params(axis="y", labelsize=8 if n > 40 else 9)
            ax.xaxis.set_major_formatter(
                PercentFormatter(xmax=1.0, decimals=0 if limit > 0.08 else 1)
            )
            ax.set_xlabel(f"{name} deviation from target", fontsize=10, color=_TEXT)
        else:
            order = np.argsort(np.nan_to_num(dev), kind="stable")
            rank = np.arange(1, n + 1)
            if tol is not None:
                ax.axhspan(-tol, tol, color=_BAND, alpha=0.13, linewidth=0, zorder=0)
            ax.scatter(rank, dev[order], s=8, c=list(colour[order]), zorder=2)
            ax.axhline(0.0, color=_TEXT, linewidth=1.0)
            ax.set_ylim(-limit, limit)
            ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
            ax.set_xlabel("Reps, lowest to highest", fontsize=10, color=_TEXT)
            ax.set_ylabel(f"{name} deviation from target", fontsize=10, color=_TEXT)
        n_out = int((~inside).sum())
        largest = float(np.max(np.abs(finite))) if finite.size else 0.0
        band_text = "no band" if tol is None else f"allowed \u00b1{pct(tol, 1)}"
        ax.set_title(
            f"{name}: {band_text}; largest {pct(largest, 2)}"
            f"; {n_out:,} rep{'s' if n_out != 1 else ''} outside",
            fontsize=10.5,
            color=_OUT_OF_BAND if n_out else _TEXT,
        )
    if labelled:
        axes[1].tick_params(axis="y", labelleft=False)
    fig.suptitle(
        "Balance: each rep's potential and workload against target",
        fontsize=14,
        fontweight="bold",
        color=_TEXT,
    )
    return _png_bytes(fig)


def _balance_labels(run: PlanFolder) -> list[str]:
    ids = run.territories["rep_id"].astype(str).tolist()
    names = dict(zip(run.reps["rep_id"].astype(str), _rep_labels(run.reps), strict=True))
    return [
        f"{_mpl_text(i, 12)}  {names[i]}"
        if names.get(i, i) != _mpl_text(i, 20)
        else _mpl_text(i, 14)
        for i in ids
    ]


def sensitivity_chart(table: pd.DataFrame, current: float | None = None) -> bytes | None:
    """PNG: P50 incentive / TI budget against company attainment, one line per lever value.

    ``current`` (the plan's own lever value) is drawn thicker. None if the table lacks the
    ``lever``, ``lever_value``, ``company_attainment_x`` or ``incentive_to_ti_budget_p50``
    columns or has no rows.
    """
    needed = {"lever", "lever_value", "company_attainment_x", "incentive_to_ti_budget_p50"}
    if not needed <= set(table.columns) or table.empty:
        return None
    frame = table.dropna(subset=["lever_value", "company_attainment_x"])
    if frame.empty:
        return None
    lever = str(frame["lever"].iloc[0])
    values = sorted(float(v) for v in frame["lever_value"].unique())
    fig = _figure(10.0, 6.0)
    ax = fig.add_subplot()
    style_axes(ax)
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    for k, value in enumerate(values):
        rows = frame[np.isclose(frame["lever_value"].astype(float), value)].sort_values(
            "company_attainment_x"
        )
        is_current = current is not None and math.isclose(value, current, abs_tol=1e-9)
        ax.plot(
            rows["company_attainment_x"].to_numpy(np.float64),
            rows["incentive_to_ti_budget_p50"].to_numpy(np.float64),
            color="black" if is_current else cmap(0.1 + 0.8 * k / max(len(values) - 1, 1)),
            linewidth=3.0 if is_current else 1.6,
            marker="o",
            markersize=4,
            label=f"{value:g}" + (" (this plan)" if is_current else ""),
            zorder=3 if is_current else 2,
        )
    ax.axhline(1.0, color=_MUTED, linestyle="--", linewidth=1.1)
    ax.annotate(
        "TI budget (every rep exactly on quota)",
        (0.0, 1.0),
        xycoords=("axes fraction", "data"),
        xytext=(4, 4),
        textcoords="offset points",
        fontsize=9,
        color=_MUTED,
    )
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    ax.set_xlabel("Company attainment (% of plan revenue)", fontsize=11, color=_TEXT)
    ax.set_ylabel("P50 incentive cost (% of TI budget)", fontsize=11, color=_TEXT)
    ax.legend(title=_mpl_text(lever, 40), fontsize=9, title_fontsize=9, loc="upper left")
    fig.suptitle(
        f"Sensitivity: incentive cost by company attainment and {_mpl_text(lever, 40)}",
        fontsize=14,
        fontweight="bold",
        color=_TEXT,
    )
    return _png_bytes(fig)
