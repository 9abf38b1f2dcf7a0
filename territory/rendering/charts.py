"""Finance-ready PNG charts of the stress test and the comp plan.

Three charts, each written straight to a PNG file:

* :func:`attainment_distribution_chart` - share of reps per attainment band when the company
  lands on plan, with the share at or above quota and the healthy reference.
* :func:`payout_curve_chart` - payout (multiple of target incentive) against attainment for
  every role of a plan, and for every measure that carries its own curve.
* :func:`cost_band_chart` - total incentive cost against company attainment: P50 line, P10-P90
  band and the compensation cost of sales (CCOS) on a second axis.

Charts are drawn on a :class:`matplotlib.figure.Figure` with the Agg canvas, never through
``pyplot``, so nothing touches global figure state and the functions are safe to call from a
server. Files are 1000 x 600 pixels (10 x 6 inches at 100 dpi) and deterministic: the PNG
carries no software or time stamp, so the same input gives a byte-identical file on the same
matplotlib and font setup.

matplotlib is an optional dependency of the engine: this module needs it, nothing else does.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MultipleLocator, PercentFormatter

from territory.domain.comp import CompPlan, PayoutCurve, RolePlan
from territory.domain.stress import StressResult
from territory.errors import ScenarioError

FloatArray = npt.NDArray[np.float64]

FIGSIZE = (10.0, 6.0)
"""Figure size in inches; with :data:`DPI` the PNG is 1000 x 600 pixels."""

DPI = 100

PNG_METADATA: Mapping[str, str | None] = {"Software": None}
"""PNG text chunks: matplotlib's version stamp is dropped so files depend on the data only."""

HEALTHY_ATTRIBUTE = "healthy_band_shares"
"""Name of the optional ``StressConfig`` field holding a healthy share per attainment band."""

# Colour-blind-safe palette (Okabe-Ito), readable in greyscale print as well.
_PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
_BELOW = "#E69F00"
_AT_OR_ABOVE = "#0072B2"
_STRADDLE = "#9E9E9E"
_MEASURE_STYLES = ("--", ":", "-.")
_TEXT = "#333333"
_MUTED = "#666666"
_ATTAINMENT_MAX = 2.0
_STEP = 0.001
_SUBTITLE_WIDTH = 130


# --------------------------------------------------------------------------- shared helpers


def _new_figure() -> tuple[Figure, Axes]:
    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    return fig, ax


def style_axes(ax: Axes) -> None:
    """Light grid behind the data, no top/right frame, readable tick labels (every chart)."""
    ax.set_axisbelow(True)
    ax.grid(True, which="major", color="#DDDDDD", linewidth=0.8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=10, colors=_TEXT)


def _note(
    ax: Axes,
    text: str,
    xy: tuple[float, float],
    offset: tuple[float, float],
    *,
    ha: str,
    va: str,
    **style: Any,
) -> None:
    """Write ``text`` at ``xy``, moved by ``offset`` points, in the charts' text style."""
    ax.annotate(
        text,
        xy,
        xytext=offset,
        textcoords="offset points",
        ha=ha,
        va=va,
        fontsize=10,
        color=_TEXT,
        **style,
    )


def _titles(fig: Figure, ax: Axes, title: str, subtitle: str) -> None:
    fig.suptitle(title, fontsize=15, fontweight="bold", color=_TEXT)
    ax.set_title(textwrap.fill(subtitle, width=_SUBTITLE_WIDTH), fontsize=10, color=_MUTED)


def _save(fig: Figure, path: Path) -> None:
    """Write ``fig`` as a PNG without time or software stamps (byte-identical on rerun)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI, metadata=dict(PNG_METADATA))


def _pct(value: float, decimals: int = 0) -> str:
    """Label a fraction as a percentage: 0.455 -> '46%' (or '45.5%' with one decimal)."""
    return f"{value * 100:.{decimals}f}%"


def _money(value: float, _pos: float | None = None) -> str:
    return f"{value:,.0f}"


def _multiple(value: float, _pos: float | None = None) -> str:
    return f"{value:.2f}\u00d7" if value % 0.5 else f"{value:.1f}\u00d7"


# --------------------------------------------------------------------------- attainment chart


def _band_labels(edges: Sequence[float]) -> list[str]:
    pct = [f"{e * 100:g}%" for e in edges]
    labels = [f"below {pct[0]}"]
    labels += [f"{a}\u2013{b}" for a, b in zip(pct[:-1], pct[1:], strict=True)]
    labels += [f"{pct[-1]} and above"]
    return labels


def _quota_position(edges: Sequence[float], quota: float = 1.0) -> float:
    """Where attainment ``quota`` falls on the band axis (bar ``i`` is centred at ``i``)."""
    for k, edge in enumerate(edges):
        if abs(edge - quota) <= 1e-9:
            return k + 0.5
    if quota < edges[0]:
        return 0.0
    if quota > edges[-1]:
        return float(len(edges))
    j = int(np.searchsorted(np.asarray(edges), quota, side="right"))
    lo, hi = edges[j - 1], edges[j]
    return j - 0.5 + (quota - lo) / (hi - lo)


def _band_colours(edges: Sequence[float], quota: float = 1.0) -> list[str]:
    lows = [-math.inf, *edges]
    highs = [*edges, math.inf]
    colours = []
    for lo, hi in zip(lows, highs, strict=True):
        if hi <= quota + 1e-9:
            colours.append(_BELOW)
        elif lo >= quota - 1e-9:
            colours.append(_AT_OR_ABOVE)
        else:
            colours.append(_STRADDLE)
    return colours


def _healthy_shares(
    result: StressResult, healthy: Sequence[float] | Mapping[str, float] | None, labels: list[str]
) -> FloatArray | None:
    """Healthy share per band from the argument or the config, in band order; None if absent."""
    source = healthy if healthy is not None else getattr(result.config, HEALTHY_ATTRIBUTE, None)
    if source is None:
        return None
    n = len(labels)
    if isinstance(source, Mapping):
        raw = dict(source)
        hist_labels = result.attainment_histogram()["band"].iloc[:n].tolist()
        values = []
        for nice, plain in zip(labels, hist_labels, strict=True):
            if plain not in raw and nice not in raw:
                raise ScenarioError(
                    f"healthy reference has no share for band '{plain}' (bands are {hist_labels})"
                )
            values.append(float(raw.get(plain, raw.get(nice, math.nan))))
        shares = np.asarray(values, dtype=np.float64)
    else:
        shares = np.asarray(list(source), dtype=np.float64)
    if shares.shape != (n,):
        raise ScenarioError(
            f"healthy reference has {shares.size} shares; the attainment bands need {n}"
        )
    return shares


def attainment_distribution_chart(
    result: StressResult,
    path: Path,
    *,
    healthy: Sequence[float] | Mapping[str, float] | None = None,
) -> None:
    """Bar chart of rep attainment by band when the company lands on plan.

    Bars are the share of ramped, full-year reps (pooled over simulations) in each band of
    ``config.attainment_bands`` at ``config.plan_attainment`` - the numbers of
    :meth:`StressResult.attainment_histogram`. Bands below quota are orange, at or above quota
    blue. A dashed line marks quota with the expected share of reps at or above it and the
    config's ``min_share_at_quota``. A healthy distribution (one share per band, as a sequence
    or a mapping keyed by band label) is drawn as outlined bars when given as ``healthy`` or
    set on the config as ``healthy_band_shares``; otherwise it is left out.
    """
    config = result.config
    xp = config.plan_attainment
    row = result.row(xp)
    edges = list(config.attainment_bands)
    labels = _band_labels(edges)
    shares = np.asarray(result.band_share[row], dtype=np.float64)
    at_quota = float(np.mean(result.share_ge_quota[row]))
    reference = _healthy_shares(result, healthy, labels)
    n_rate = result.verdicts.n_rate_reps

    fig, ax = _new_figure()
    style_axes(ax)
    ax.grid(False, axis="x")
    pos = np.arange(len(labels), dtype=np.float64)
    heights = np.nan_to_num(shares)
    bars = ax.bar(pos, heights, width=0.7, color=_band_colours(edges), zorder=2)
    for rect, share in zip(bars, shares.tolist(), strict=True):
        if math.isfinite(share):
            x = rect.get_x() + rect.get_width() / 2
            _note(ax, _pct(share, 1), (x, rect.get_height()), (0, 3), ha="center", va="bottom")
    top = float(np.nanmax(heights)) if heights.size else 0.0
    if reference is not None:
        ax.bar(
            pos,
            reference,
            width=0.7,
            fill=False,
            edgecolor="black",
            linestyle="--",
            linewidth=1.4,
            zorder=3,
        )
        top = max(top, float(np.nanmax(reference)))
    top = max(top, 0.05)
    ax.set_ylim(0.0, top * 1.3)

    qx = _quota_position(edges)
    ax.axvline(qx, color=_TEXT, linestyle="--", linewidth=1.2, zorder=4)
    note = f"Quota (100%)\n{_pct(at_quota, 1)} of reps at or above quota"
    if not math.isfinite(at_quota):
        note = "Quota (100%)\nno ramped full-year reps to count"
    note += f"\n(healthy: at least {_pct(config.min_share_at_quota)})"
    _note(
        ax,
        note,
        (qx, top * 1.27),
        (8, 0),
        ha="left",
        va="top",
        zorder=5,
        bbox={"boxstyle": "round,pad=0.35", "facecolor": "white", "edgecolor": "#BBBBBB"},
    )

    ax.set_xticks(pos, labels)
    ax.set_xlabel("Attainment band (% of quota)", fontsize=11, color=_TEXT)
    ax.set_ylabel("Share of ramped full-year reps (%)", fontsize=11, color=_TEXT)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))

    handles = [
        Patch(facecolor=_BELOW, label="Below quota"),
        Patch(facecolor=_AT_OR_ABOVE, label="At or above quota"),
    ]
    if _STRADDLE in _band_colours(edges):
        handles.append(Patch(facecolor=_STRADDLE, label="Band spans quota"))
    if reference is not None:
        handles.append(
            Patch(fill=False, edgecolor="black", linestyle="--", label="Healthy reference")
        )
    ax.legend(handles=handles, loc="upper left", fontsize=10, frameon=False)

    sims = config.n_sims
    _titles(
        fig,
        ax,
        f"Rep attainment when the company lands at {_pct(xp)} of plan",
        f"{n_rate:,} ramped full-year reps \u00d7 {sims:,} simulations"
        + (f" (seed {result.seed})" if result.seed is not None else "")
        + "; reps still ramping or in role part of the year are left out",
    )
    _save(fig, path)


# --------------------------------------------------------------------------- payout curves


def _cap_crossing(curve: PayoutCurve) -> float | None:
    """Attainment where the uncapped curve first reaches its cap (None when uncapped)."""
    if curve.cap is None:
        return None
    cap = curve.cap.payout_multiple
    starts, values = curve.knots()
    for i, tier in enumerate(curve.tiers):
        if values[i] >= cap:
            return float(starts[i])
        if tier.slope > 0:
            hit = float(starts[i]) + (cap - float(values[i])) / tier.slope
            if tier.end is None or hit <= tier.end:
                return hit
    return None


def _kinks(curve: PayoutCurve) -> list[float]:
    """Attainments where the curve bends: its start, tier starts and the cap crossing."""
    starts, _ = curve.knots()
    points = {curve.start, *starts.tolist()}
    crossing = _cap_crossing(curve)
    if crossing is not None:
        points.add(crossing)
    return sorted(p for p in points if 0.0 <= p <= _ATTAINMENT_MAX)


def _grid(kinks: Sequence[float], jumps: Sequence[float]) -> FloatArray:
    """Dense attainment grid holding every kink exactly and a point just before each jump."""
    base = np.round(np.arange(0.0, _ATTAINMENT_MAX + _STEP / 2, _STEP), 10)
    extra = [*kinks, *(j - 1e-9 for j in jumps if j > 0)]
    return np.unique(np.concatenate([base, np.asarray(extra, dtype=np.float64)]))


def _describe(curve: PayoutCurve) -> str:
    """Short legend text: threshold, tiers and cap."""
    parts = []
    if curve.threshold is not None:
        parts.append(
            f"threshold {curve.start * 100:g}% pays {curve.payout_at_start:g}\u00d7"
            if curve.payout_at_start > 0
            else f"threshold {curve.start * 100:g}%"
        )
    for tier in curve.tiers:
        if tier.start >= _ATTAINMENT_MAX:
            continue
        end = "+" if tier.end is None else f"\u2013{tier.end * 100:g}%"
        parts.append(tier.label or f"{tier.slope:g}\u00d7 {tier.start * 100:g}%{end}")
    parts.append(f"cap {curve.cap.payout_multiple:g}\u00d7" if curve.cap else "no cap")
    return ", ".join(parts)


def _role_curves(role: RolePlan) -> list[tuple[str, PayoutCurve | None, float]]:
    """(label suffix, curve or None for the weighted role payout, weight) to draw for a role."""
    own = [m for m in role.measures if m.curve is not None]
    if not own:
        return [("", role.curve, 1.0)]
    out: list[tuple[str, PayoutCurve | None, float]] = [("", None, 1.0)]
    for m in own:
        assert m.curve is not None
        out.append((m.name, m.curve, m.weight))
    return out


def payout_curve_chart(plan: CompPlan, path: Path) -> None:
    """Payout (multiple of target incentive) against attainment, 0% to 200% of quota.

    One solid line per role: its payout when every measure is at the same attainment (the
    weighted sum of the measure curves, which is the role curve when no measure has its own).
    A measure with its own curve adds a dashed line in the role's colour. Dots mark the kinks
    (threshold, tier starts, cap) and a black diamond the on-target point (100%, 1.0x), which
    every valid curve passes through. The legend spells out threshold, tier slopes and cap.
    """
    fig, ax = _new_figure()
    style_axes(ax)
    top = 1.0
    n_roles = len(plan.roles)
    for ri, role in enumerate(plan.roles.values()):
        colour = _PALETTE[ri % len(_PALETTE)]
        # Earlier roles are drawn wider, so where two curves coincide both colours show.
        solid = 2.2 + 1.4 * (n_roles - 1 - ri) / max(n_roles - 1, 1) if n_roles > 1 else 2.4
        curves = [role.curve_of(m) for m in role.measures]
        for si, (measure, curve, weight) in enumerate(_role_curves(role)):
            shown = curves if curve is None else [curve]
            kinks = sorted({k for c in shown for k in _kinks(c)})
            jumps = [c.start for c in shown if c.payout_at_start > 0]
            a = _grid(kinks, jumps)
            if curve is None:
                y = role.incentive_multiple(a)
                yk = role.incentive_multiple(np.asarray(kinks, dtype=np.float64))
                mix = " + ".join(f"{m.weight:.0%} {m.name}" for m in role.measures)
                label = f"{role.name}, every measure at the same attainment: {mix}"
                style = "-"
            else:
                y = curve.payout(a)
                yk = curve.payout(np.asarray(kinks, dtype=np.float64))
                if measure:
                    label = f"{role.name} \u00b7 {measure} ({weight:.0%} of TI): {_describe(curve)}"
                    style = _MEASURE_STYLES[(si - 1) % len(_MEASURE_STYLES)]
                else:
                    label = f"{role.name}: {_describe(curve)}"
                    style = "-"
            width = solid if style == "-" else 1.8
            ax.plot(a, y, color=colour, linestyle=style, linewidth=width, label=label, zorder=3)
            ax.plot(kinks, yk, "o", color=colour, markersize=5, zorder=4)
            top = max(top, float(np.nanmax(y)))

    ax.axvline(1.0, color="#999999", linestyle=":", linewidth=1.0, zorder=1)
    ax.axhline(1.0, color="#999999", linestyle=":", linewidth=1.0, zorder=1)
    ax.plot(
        [1.0],
        [1.0],
        marker="D",
        color="black",
        markersize=9,
        linestyle="none",
        zorder=6,
        label="On target: 100% of quota pays 1.0\u00d7 TI",
    )
    ax.set_xlim(0.0, _ATTAINMENT_MAX)
    ax.set_ylim(0.0, top * 1.1)
    ax.xaxis.set_major_locator(MultipleLocator(0.25))
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    ax.yaxis.set_major_locator(MultipleLocator(0.5 if top <= 4 else 1.0))
    ax.yaxis.set_major_formatter(FuncFormatter(_multiple))
    ax.set_xlabel("Attainment (% of quota)", fontsize=11, color=_TEXT)
    ax.set_ylabel("Incentive paid (multiple of target incentive, TI)", fontsize=11, color=_TEXT)
    ax.legend(loc="upper left", fontsize=9, frameon=True, framealpha=0.95, edgecolor="#CCCCCC")

    tis = ", ".join(
        f"{r.name} {r.target_incentive:,.0f} {plan.currency}" for r in plan.roles.values()
    )
    _titles(
        fig,
        ax,
        f"Payout curves \u2013 plan '{plan.plan_id}'",
        f"Target incentive (TI) per year: {tis}. Dots mark thresholds, accelerator starts"
        " and caps.",
    )
    _save(fig, path)


# --------------------------------------------------------------------------- cost band chart


def cost_band_chart(result: StressResult, path: Path, *, currency: str | None = None) -> None:
    """Total incentive cost against company attainment, with CCOS on a second axis.

    For each simulated company attainment ``x`` (80% to 120% of plan by default) the chart
    shows the median total incentive (P50 line) and the P10-P90 range over simulations (shaded
    band, the spread that rep-level luck adds at a fixed company result), the TI budget (what
    the plan pays when every rep lands exactly on quota) as a reference, and the median
    compensation cost of sales, (base + incentive) / revenue, on the right axis. ``currency``
    only labels the money axis.
    """
    table = result.scenario_table().iloc[:-1]
    x = table["company_attainment_x"].to_numpy(dtype=np.float64)
    p10 = table["incentive_p10"].to_numpy(dtype=np.float64)
    p50 = table["incentive_p50"].to_numpy(dtype=np.float64)
    p90 = table["incentive_p90"].to_numpy(dtype=np.float64)
    ccos = table["ccos_p50"].to_numpy(dtype=np.float64)
    unit = currency or "plan currency"
    budget = result.ti_budget
    xp = result.config.plan_attainment

    fig, ax = _new_figure()
    style_axes(ax)
    band = ax.fill_between(
        x, p10, p90, color=_PALETTE[0], alpha=0.18, linewidth=0, label="P10\u2013P90 range"
    )
    (line,) = ax.plot(
        x, p50, color=_PALETTE[0], linewidth=2.4, marker="o", markersize=5, label="P50 incentive"
    )
    ref = ax.axhline(
        budget,
        color=_MUTED,
        linestyle="--",
        linewidth=1.2,
        label=f"TI budget (all reps exactly on quota): {budget:,.0f}",
    )
    ax.axvline(xp, color="#999999", linestyle=":", linewidth=1.0)
    if np.any(np.abs(x - xp) < 1e-9):
        i = int(np.flatnonzero(np.abs(x - xp) < 1e-9)[0])
        ax.annotate(
            f"On plan: P50 incentive {p50[i]:,.0f} = {_pct(p50[i] / budget)} of TI budget,"
            f" P10\u2013P90 {p10[i]:,.0f} to {p90[i]:,.0f}",
            (x[i], p50[i]),
            xytext=(0.5, 0.03),
            textcoords="axes fraction",
            ha="center",
            va="bottom",
            fontsize=10,
            color=_TEXT,
            arrowprops={"arrowstyle": "-", "color": _MUTED, "linewidth": 0.8},
            bbox={"boxstyle": "round,pad=0.35", "facecolor": "white", "edgecolor": "#BBBBBB"},
        )
    lo = float(np.nanmin(np.concatenate([p10, [budget]])))
    hi = float(np.nanmax(np.concatenate([p90, [budget]])))
    span = hi - lo if hi > lo else 0.1 * max(hi, 1.0)
    # Room above the data for the legend and below it for the on-plan note.
    ax.set_ylim(max(0.0, lo - 0.25 * span), hi + 0.35 * span)
    ax.yaxis.set_major_formatter(FuncFormatter(_money))
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    if x.size > 1:
        ax.set_xlim(float(x.min()) - 0.01, float(x.max()) + 0.01)
        ax.set_xticks(x)
    ax.set_xlabel("Company attainment (% of plan revenue)", fontsize=11, color=_TEXT)
    ax.set_ylabel(f"Total incentive cost per year ({unit})", fontsize=11, color=_TEXT)

    ax2 = ax.twinx()
    (cline,) = ax2.plot(
        x,
        ccos,
        color=_PALETTE[1],
        linewidth=1.8,
        linestyle="--",
        marker="s",
        markersize=4,
        label="CCOS P50 (right axis)",
    )
    finite = ccos[np.isfinite(ccos)]
    if finite.size:
        c_lo, c_hi = float(finite.min()), float(finite.max())
        c_span = max(c_hi - c_lo, 0.01)
        ax2.set_ylim(max(0.0, c_lo - 0.25 * c_span), c_hi + 0.35 * c_span)
    ax2.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=1))
    ax2.set_ylabel(
        "Comp cost of sales, P50 ((base + incentive) \u00f7 revenue)",
        fontsize=11,
        color=_PALETTE[1],
    )
    ax2.tick_params(axis="y", labelsize=10, colors=_PALETTE[1])
    for side in ("top", "left"):
        ax2.spines[side].set_visible(False)
    ax.spines["right"].set_visible(False)

    ax.legend(
        handles=[line, band, ref, cline],
        loc="upper center",
        ncols=2,
        fontsize=10,
        frameon=True,
        framealpha=0.95,
        edgecolor="#CCCCCC",
    )
    _titles(
        fig,
        ax,
        "Incentive cost by company attainment",
        f"{result.config.n_sims:,} simulations per scenario"
        + (f" (seed {result.seed})" if result.seed is not None else "")
        + "; the band is the spread from rep-level outcomes at a fixed company result",
    )
    _save(fig, path)
