"""The sizing curve of ``territory size``: a PNG chart and a one-page report.

:func:`sizing_chart` draws expected sales (P50 line, P10-P90 band) against headcount with the
target, and the contribution below it with the recommendation marked: the smallest headcount
whose P50 meets the target, the headcount of the largest contribution and the range within 1%
of it (profit is flat over a wide range of sizes, so the range is the answer, not the point).
Headcounts beyond the coverage the history shows are shaded: the model extrapolates there.

:func:`sizing_page` puts the chart, the recommendation, the table and the hiring plan on one
self-contained page (``report.html`` of the sizing folder), in the run report's style.
Both are pure functions of the tables and ``sizing.json``; the PNG is byte-identical on rerun.
"""

from __future__ import annotations

from collections.abc import Mapping
from io import BytesIO
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from territory.rendering.charts import DPI, PNG_METADATA, style_axes
from territory.rendering.report.page import _CSS, ENVIRONMENT
from territory.rendering.report.text import money, pct1, plain, text, text_list
from territory.rendering.report.views import Column, image, kv_table, table

__all__ = ["SIZING_CHART", "SIZING_COMMAND", "sizing_chart", "sizing_page"]

SIZING_CHART = "sizing.png"
"""File name of the chart in the sizing folder."""

SIZING_COMMAND = (
    "territory size --accounts A --reps R --target T --out DIR (writes sizing.png and "
    "report.html beside sizing.csv)"
)

_SALES = "#0072B2"
_CONTRIBUTION = "#009E73"
_TARGET = "#D55E00"
_MUTED = "#666666"
_TEXT = "#333333"


def _millions(value: float, _pos: float | None = None) -> str:
    return f"{value / 1e6:,.1f}M" if abs(value) >= 1e6 else f"{value:,.0f}"


def sizing_chart(sizing: pd.DataFrame, summary: Mapping[str, Any]) -> bytes:
    """Draw the sizing curve as PNG bytes (1000 x 800 pixels).

    Parameters
    ----------
    sizing : pandas.DataFrame
        ``sizing.csv``: ``headcount``, ``sales_p10``/``sales_p50``/``sales_p90``,
        ``contribution`` with ``contribution_p10``/``contribution_p90``, ``supported``.
    summary : mapping
        ``sizing.json``: ``target``, ``smallest_headcount_meeting_target``,
        ``headcount_max_contribution``, ``flat_range``, ``flat_tolerance``.

    Returns
    -------
    bytes
        The PNG (no time or software stamp).
    """
    n = sizing["headcount"].to_numpy(np.float64)
    fig = Figure(figsize=(10.0, 8.0), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(1.2, 1.0))
    for ax in (top, bottom):
        style_axes(ax)
        _shade_unsupported(ax, sizing, label=ax is top)
    _sales_panel(top, sizing, summary)
    _contribution_panel(bottom, sizing, summary)
    bottom.set_xlabel("Headcount (reps)", fontsize=11, color=_TEXT)
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    if n.size > 1:
        bottom.set_xlim(float(n.min()) - 0.5, float(n.max()) + 0.5)
    fig.suptitle("Sales-force size: expected sales and contribution", fontsize=15,
                 fontweight="bold", color=_TEXT)  # fmt: skip
    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata=dict(PNG_METADATA))
    return buffer.getvalue()


def _shade_unsupported(ax: Axes, sizing: pd.DataFrame, *, label: bool) -> None:
    """Shade headcounts whose coverage lies outside what the history shows (to the midpoints)."""
    if "supported" not in sizing.columns:
        return
    n = sizing["headcount"].to_numpy(np.float64)
    outside = ~sizing["supported"].astype(bool).to_numpy()
    edges = np.concatenate([[n[0] - 0.5], (n[1:] + n[:-1]) / 2.0, [n[-1] + 0.5]])
    for k, i in enumerate(np.flatnonzero(outside)):
        named = label and k == 0
        ax.axvspan(edges[i], edges[i + 1], color="#E6E6E6", linewidth=0, zorder=0,
                   label="Beyond the coverage the history shows" if named else None)  # fmt: skip


def _sales_panel(ax: Axes, sizing: pd.DataFrame, summary: Mapping[str, Any]) -> None:
    n = sizing["headcount"].to_numpy(np.float64)
    ax.fill_between(n, sizing["sales_p10"], sizing["sales_p90"], color=_SALES, alpha=0.18,
                    linewidth=0, label="P10\u2013P90")  # fmt: skip
    ax.plot(n, sizing["sales_p50"], color=_SALES, linewidth=2.2, marker="o", markersize=4,
            label="Expected sales, P50")  # fmt: skip
    target = summary.get("target")
    if isinstance(target, int | float):
        ax.axhline(float(target), color=_TARGET, linestyle="--", linewidth=1.2,
                   label=f"Target {_millions(float(target))}")  # fmt: skip
    meets = summary.get("smallest_headcount_meeting_target")
    if isinstance(meets, int):
        ax.axvline(meets, color=_TARGET, linestyle=":", linewidth=1.2)
        right = meets >= float(n.min() + n.max()) / 2.0  # write the note towards the middle
        ax.annotate(f"target met at P50 from {meets} reps", (meets, 0.04),
                    xytext=(-4 if right else 4, 0), xycoords=("data", "axes fraction"),
                    textcoords="offset points", fontsize=10, color=_TARGET,
                    ha="right" if right else "left", va="bottom")  # fmt: skip
    ax.set_ylabel("Expected sales per year", fontsize=11, color=_TEXT)
    ax.yaxis.set_major_formatter(FuncFormatter(_millions))
    ax.legend(loc="upper left", fontsize=10, framealpha=0.95, edgecolor="#CCCCCC")


def _contribution_panel(ax: Axes, sizing: pd.DataFrame, summary: Mapping[str, Any]) -> None:
    n = sizing["headcount"].to_numpy(np.float64)
    contribution = sizing["contribution"].to_numpy(np.float64)
    flat = summary.get("flat_range") or []
    tolerance = float(summary.get("flat_tolerance") or 0.01)
    if len(flat) == 2:
        span = f"{flat[0]} reps" if flat[0] == flat[1] else f"{flat[0]}\u2013{flat[1]} reps"
        ax.axvspan(float(flat[0]) - 0.5, float(flat[1]) + 0.5, color=_CONTRIBUTION, alpha=0.12,
                   linewidth=0, label=f"Within {tolerance:.0%} of the best: {span}")  # fmt: skip
    if {"contribution_p10", "contribution_p90"} <= set(sizing.columns):
        ax.fill_between(n, sizing["contribution_p10"], sizing["contribution_p90"],
                        color=_CONTRIBUTION, alpha=0.15, linewidth=0)  # fmt: skip
    ax.plot(n, contribution, color=_CONTRIBUTION, linewidth=2.2, marker="o", markersize=4,
            label="Contribution (sales \u00d7 margin \u2212 rep cost), P50")  # fmt: skip
    best = summary.get("headcount_max_contribution")
    at = np.flatnonzero(n == best) if isinstance(best, int) else np.array([], np.int64)
    if at.size:
        peak, where = float(contribution[int(at[0])]), float(n[int(at[0])])
        # The recommendation stays within the coverage history supports (sizing.json says so).
        within = best != summary.get("headcount_max_contribution_unrestricted")
        ax.plot([where], [peak], marker="*", markersize=16, color=_TARGET, linestyle="none",
                label=f"Best{' within the history' if within else ''}: {best} reps, "
                f"{_millions(peak)}")  # fmt: skip
    ax.set_ylabel("Contribution per year", fontsize=11, color=_TEXT)
    ax.yaxis.set_major_formatter(FuncFormatter(_millions))
    ax.legend(loc="lower right", fontsize=10, framealpha=0.95, edgecolor="#CCCCCC")


_SIZING_COLUMNS: tuple[Column, ...] = (
    ("Reps", "headcount", plain, True),
    ("Sales P10", "sales_p10", money, True),
    ("Sales P50", "sales_p50", money, True),
    ("Sales P90", "sales_p90", money, True),
    ("Cost", "cost", money, True),
    ("Contribution", "contribution", money, True),
    ("Share at quota", "share_at_quota", pct1, True),
    ("Mean coverage", "mean_coverage", lambda v: f"{float(v):.2f}", True),
    ("Within history", "supported", lambda v: "yes" if bool(v) else "no", False),
)

_HIRING_COLUMNS: tuple[Column, ...] = (
    ("Month", "month", plain, True),
    ("Requisitions", "requisitions", plain, True),
    ("Hires", "hires", plain, True),
    ("Leavers", "leavers", lambda v: f"{float(v):.1f}", True),
    ("Headcount", "headcount", plain, True),
    ("Effective headcount", "effective_headcount", lambda v: f"{float(v):.1f}", True),
    ("Expected sales", "expected_sales", money, True),
)


def sizing_page(
    name: str,
    sizing: pd.DataFrame,
    summary: Mapping[str, Any],
    hiring: pd.DataFrame | None,
    chart: bytes,
) -> str:
    """Render the sizing folder's page: recommendation, chart, table, hiring plan, fit.

    Parameters
    ----------
    name : str
        The folder as the user named it (the page's title).
    sizing, summary, hiring : pandas.DataFrame, mapping, pandas.DataFrame or None
        ``sizing.csv``, ``sizing.json`` and ``hiring_plan.csv``.
    chart : bytes
        :func:`sizing_chart` of the same tables.

    Returns
    -------
    str
        One self-contained HTML document (no scripts, no clock).
    """
    flat = summary.get("flat_range") or ["?", "?"]
    fit = summary.get("fit") or {}
    plan = summary.get("hiring") or {}
    recommendation = kv_table(
        [
            ("Target (expected sales per year)", money(summary.get("target"))),
            (
                "Smallest headcount meeting it at P50",
                text(summary.get("smallest_headcount_meeting_target")),
            ),
            (
                "Headcount of the largest contribution",
                text(summary.get("headcount_max_contribution")),
            ),
            ("Largest contribution per year", money(summary.get("max_contribution"))),
            (
                f"Headcounts within {float(summary.get('flat_tolerance') or 0.01):.0%} of it",
                f"{flat[0]} to {flat[-1]}",
            ),
            ("Today's headcount", text(summary.get("current_headcount"))),
            (
                "Margin / rep cost per year",
                f"{pct1(summary.get('margin'))} / {money(summary.get('rep_cost'))}",
            ),
            (
                "Hiring plan: headcount held, hires",
                f"{text(plan.get('headcount'))}, {text(plan.get('hires'))}",
            ),
            (
                "Response model (R\u00b2, cross-validated error per rep)",
                f"{text(fit.get('source'))}: R\u00b2 {_decimal(fit.get('r2'))}, "
                f"CV error {pct1(fit.get('cv_mape'))}",
            ),
        ],  # fmt: skip
        "sizing-recommendation",
    )
    warnings = [*text_list(summary.get("warnings")), *text_list(plan.get("warnings"))]
    return ENVIRONMENT.get_template("sizing.html.j2").render(
        title=f"Sales-force sizing \u2013 {name}",
        css=Markup(_CSS),
        name=name,
        recommendation=recommendation,
        chart=image(chart, "Expected sales and contribution by headcount", ident="sizing-chart"),
        warnings=warnings,
        notes=text_list(summary.get("notes")),
        sizing=table(sizing, _SIZING_COLUMNS),
        hiring=table(hiring, _HIRING_COLUMNS) if hiring is not None and len(hiring) else None,
    )


def _decimal(value: object) -> str:
    return f"{float(value):.2f}" if isinstance(value, int | float) else text(value)
