"""How many reps to have, and when to hire them.

:func:`size_sales_force` evaluates a range of headcounts. For each ``n`` an injected
``plan_for(n) -> (reps, plan)`` places the territories (the alignment or design engine, with
vacancies for seats to fill); the plan is valued in steady state (every rep ramped, no
hand-over loss) under a fitted :class:`~territory.domain.response.ResponseModel`. The table
(``sizing.csv``) gives per ``n`` expected sales with P10/P50/P90, cost, contribution (expected
sales x margin - rep cost) and the expected share of reps at quota. The summary
(``sizing.json``) names the smallest ``n`` whose P50 meets the target, the ``n`` with the
largest expected contribution and every ``n`` within 1% of it: profit is flat over a wide range
of sales-force sizes (Sinha and Zoltners 2001), so the range is the answer, not the point.

The recommendation stays where the history speaks: a headcount is *supported* when its average
coverage lies within the central 80% of the coverage reps had last year
(:attr:`~territory.domain.response.ResponseModel.coverage_central`). The best and the flat range are
chosen among supported headcounts; when the curve beyond the data would pick another, that
headcount is reported too, with a warning, but not recommended. On synthetic worlds with a
known curve, extrapolated optima missed the true best contribution by several percent where
supported ones stayed within about 1%. The optimum under each parameter draw gives an interval
for the best headcount.

:func:`hiring_plan` turns a headcount into months (``hiring_plan.csv``): requisitions, hires
after the time to fill, expected leavers and their backfill, ramped capacity and expected
sales, with the headcount to hold chosen so that the sales run-rate reaches the target once
hires have ramped, despite attrition. Both are pure: ``plan_for`` does the placing, nothing here
reads or writes a file, and the tables passed in are never modified.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from territory.domain.arrays import FloatArray, PlanLike
from territory.domain.response import LITERATURE_RAMP, RampCurve, ResponseModel, plan_array
from territory.domain.value import Economics, value_plan
from territory.errors import ScenarioError

__all__ = [
    "DEFAULT_ANNUAL_ATTRITION",
    "DEFAULT_HORIZON_MONTHS",
    "DEFAULT_TIME_TO_FILL",
    "FLAT_TOLERANCE",
    "HIRING_COLUMNS",
    "SIZING_COLUMNS",
    "HiringAssumptions",
    "HiringPlan",
    "Sizing",
    "hiring_plan",
    "size_sales_force",
]

PlanFor = Callable[[int], tuple[pd.DataFrame, PlanLike]]
QuotaFor = Callable[[pd.DataFrame, npt.NDArray[np.object_]], npt.ArrayLike]

FLAT_TOLERANCE = 0.01
"""Headcounts whose contribution is within this share of the maximum form the flat range."""

DEFAULT_ANNUAL_ATTRITION = 0.20
"""Share of reps leaving in a year [D]: an engine default, to be replaced by the company's."""

DEFAULT_TIME_TO_FILL = 3
"""Months from opening a requisition to the hire's first day [D]."""

DEFAULT_HORIZON_MONTHS = 24
"""Months the hiring plan covers [D]."""

SIZING_COLUMNS = (
    "headcount",
    "expected_sales",
    "sales_p10",
    "sales_p50",
    "sales_p90",
    "cost",
    "contribution",
    "contribution_p10",
    "contribution_p90",
    "share_at_quota",
    "mean_coverage",
    "min_coverage",
    "max_coverage",
    "supported",
)
"""Columns of ``sizing.csv``, in order."""

HIRING_COLUMNS = (
    "month",
    "requisitions",
    "hires",
    "leavers",
    "backfill",
    "headcount",
    "effective_headcount",
    "ramped_capacity",
    "expected_sales",
    "run_rate",
    "cumulative_sales",
)
"""Columns of ``hiring_plan.csv``, in order (capacity in hours per month, sales per month)."""


@dataclass(frozen=True, eq=False)
class Sizing:
    """Headcount against expected sales, cost and contribution, and what to take from it.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per headcount evaluated, columns :data:`SIZING_COLUMNS`.
    target : float
        Yearly sales target (currency/year, at the model's level).
    meets_target : int or None
        The smallest headcount whose P50 sales reach the target (None: none does).
    best : int
        The supported headcount with the largest expected contribution (any headcount when
        none is supported).
    flat_range : tuple of int
        Smallest and largest supported headcount whose contribution is within
        :data:`FLAT_TOLERANCE` of the best.
    best_interval : tuple of int
        P10 and P90 over the parameter draws of the best supported headcount (the best
        itself twice when the model has no draws).
    best_unrestricted : int
        The headcount with the largest contribution over everything evaluated, extrapolated
        or not.
    economics : Economics
        Margin and rep cost used.
    warnings : tuple of str
        Edges of the range, extrapolated coverage, a target out of reach.
    """

    table: pd.DataFrame
    target: float
    meets_target: int | None
    best: int
    flat_range: tuple[int, int]
    best_interval: tuple[int, int]
    best_unrestricted: int
    economics: Economics
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def sales_at(self, headcount: float) -> float:
        """Interpolate expected yearly sales linearly at a (possibly fractional) headcount.

        Outside the range evaluated the end segments are extended (never below 0).
        """
        n = self.table["headcount"].to_numpy(np.float64)
        s = self.table["expected_sales"].to_numpy(np.float64)
        if n.size == 1:
            return float(s[0] * headcount / n[0]) if n[0] > 0 else 0.0
        if headcount <= n[0]:
            slope = (s[1] - s[0]) / (n[1] - n[0])
            return max(float(s[0] + slope * (headcount - n[0])), 0.0)
        if headcount >= n[-1]:
            slope = (s[-1] - s[-2]) / (n[-1] - n[-2])
            return max(float(s[-1] + slope * (headcount - n[-1])), 0.0)
        return float(np.interp(headcount, n, s))

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as a JSON-ready dict (``sizing.json``)."""
        at_best = self.table["headcount"].to_numpy() == self.best
        peak = float(self.table["contribution"].to_numpy(np.float64)[at_best][0])
        return {
            "target": self.target,
            "smallest_headcount_meeting_target": self.meets_target,
            "headcount_max_contribution": self.best,
            "max_contribution": peak,
            "flat_range": list(self.flat_range),
            "flat_tolerance": FLAT_TOLERANCE,
            "headcount_max_contribution_interval": list(self.best_interval),
            "headcount_max_contribution_unrestricted": self.best_unrestricted,
            "margin": self.economics.margin,
            "rep_cost": self.economics.rep_cost,
            "headcounts": [int(n) for n in self.table["headcount"].tolist()],
            "warnings": list(self.warnings),
        }


def size_sales_force(
    model: ResponseModel,
    accounts: pd.DataFrame,
    plan_for: PlanFor,
    headcounts: Iterable[int],
    *,
    target: float,
    economics: Economics | None = None,
    quota_for: QuotaFor | None = None,
    n_sims: int = 1000,
    seed: int = 0,
) -> Sizing:
    """Evaluate sales-force sizes: sales, cost, contribution and share at quota per headcount.

    Parameters
    ----------
    model : ResponseModel
        A fitted sales-response model.
    accounts : pandas.DataFrame
        The accounts to cover (``account_id``, ``potential``, ``workload``, ``segment``).
    plan_for : callable
        ``plan_for(n) -> (reps, plan)``: ``n`` reps (vacant seats included) and the rep of
        every account; the alignment or design engine in practice.
    headcounts : iterable of int
        The headcounts to evaluate (at least two distinct, all positive).
    target : float
        Yearly sales target, currency/year, at the model's (last year's) level.
    economics : Economics, optional
        Margin and rep cost (:class:`~territory.domain.value.Economics` defaults when omitted).
    quota_for : callable, optional
        ``quota_for(reps, plan) -> quota per rep``; by default the target split over reps by
        the potential they hold.
    n_sims : int
        Simulations behind the percentiles and the share at quota.
    seed : int
        Seed: same inputs and seed, same table.

    Returns
    -------
    Sizing
        The table and the headcounts it recommends.

    Raises
    ------
    ScenarioError
        For fewer than two headcounts, a non-positive headcount or target, or a ``plan_for``
        that returns another number of reps than asked.
    """
    economics = economics or Economics()
    sizes = sorted({int(n) for n in headcounts})
    if len(sizes) < 2 or sizes[0] < 1:
        raise ScenarioError(
            f"headcounts {sizes} must hold at least two different sizes, each of 1 or more"
        )
    if not (target > 0 and math.isfinite(target)):
        raise ScenarioError(f"target = {target} must be a positive amount per year")
    rows = []
    notes: list[str] = []
    by_draw = []
    for n in sizes:
        reps, plan = plan_for(n)
        if len(reps) != n:
            raise ScenarioError(f"plan_for({n}) returned {len(reps)} reps instead of {n}")
        reps_of = plan_array(accounts, plan, source=f"plan for {n} reps")
        value = value_plan(
            model, accounts, reps, reps_of, transition=False, economics=economics,
            n_sims=n_sims, seed=seed,
        )  # fmt: skip
        table = value.reps
        quota = (
            _potential_quota(table, target)
            if quota_for is None
            else np.asarray(quota_for(reps, reps_of), dtype=np.float64).reshape(n)
        )
        at_quota = float((value.samples >= quota[None, :]).mean())
        coverage = table["coverage"].to_numpy(np.float64)
        covered = coverage[np.isfinite(coverage)]
        total = value.total
        mean_coverage = float(table["capacity"].sum() / table["workload"].sum())
        rows.append(
            {
                "headcount": n,
                "expected_sales": total["expected"],
                "sales_p10": total["p10"],
                "sales_p50": total["p50"],
                "sales_p90": total["p90"],
                "cost": total["cost"],
                "contribution": total["contribution"],
                "contribution_p10": total["contribution_p10"],
                "contribution_p90": total["contribution_p90"],
                "share_at_quota": at_quota,
                "mean_coverage": mean_coverage,
                "min_coverage": float(covered.min()) if covered.size else math.nan,
                "max_coverage": float(covered.max()) if covered.size else math.nan,
                "supported": _supported(model, mean_coverage),
            }
        )
        by_draw.append(value.draw_totals * economics.margin - total["cost"])
        notes += [w for w in value.warnings if not _steady_state_note(w)]
    frame = pd.DataFrame(rows, columns=list(SIZING_COLUMNS))
    contribution = frame["contribution"].to_numpy(np.float64)
    supported = frame["supported"].to_numpy(np.bool_)
    pool = supported if supported.any() else np.ones(len(sizes), dtype=np.bool_)
    masked = np.where(pool, contribution, -np.inf)
    best_i = int(np.argmax(masked))
    peak = contribution[best_i]
    near = np.flatnonzero(pool & (contribution >= peak - FLAT_TOLERANCE * abs(peak)))
    flat = (int(sizes[near.min()]), int(sizes[near.max()]))
    draws = np.where(pool[:, None], np.array(by_draw), -np.inf)[:, 1:]
    if draws.shape[1]:
        best_by_draw = np.array(sizes)[np.argmax(draws, axis=0)]
        lo, hi = np.quantile(best_by_draw, [0.1, 0.9], method="nearest")
        interval = (int(lo), int(hi))
    else:
        interval = (int(sizes[best_i]), int(sizes[best_i]))
    unrestricted = int(sizes[int(np.argmax(contribution))])
    meets = frame.loc[frame["sales_p50"] >= target, "headcount"]
    meets_target = int(meets.min()) if len(meets) else None
    notes += _sizing_notes(
        model, frame, sizes, best_i, meets_target, target, near, supported, unrestricted
    )
    return Sizing(
        table=frame,
        target=float(target),
        meets_target=meets_target,
        best=int(sizes[best_i]),
        flat_range=flat,
        best_interval=interval,
        best_unrestricted=unrestricted,
        economics=economics,
        warnings=tuple(dict.fromkeys(notes)),
    )


def _steady_state_note(warning: str) -> bool:
    """Tell a plan valuation's note that sizing answers itself or that does not apply to it.

    Extrapolation is the ``supported`` column; sizing values steady state, so there is no
    uplift over today and new seats count as ramped (the hiring plan holds the ramp).
    """
    return (
        "extrapolated" in warning
        or warning.startswith("no uplift")
        or "valued at full productivity" in warning
    )


def _supported(model: ResponseModel, coverage: float) -> bool:
    """Tell whether an average coverage lies where last year's reps were (P10 to P90)."""
    lo, hi = model.coverage_central
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return True  # literature defaults: nothing to be inside of, the warning says so
    return bool(lo <= coverage <= hi)


def _potential_quota(table: pd.DataFrame, target: float) -> FloatArray:
    potential = table["potential"].to_numpy(np.float64)
    total = float(potential.sum())
    if total <= 0:
        return np.full(len(table), target / max(len(table), 1))
    return np.asarray(target * potential / total, dtype=np.float64)


def _sizing_notes(
    model: ResponseModel,
    frame: pd.DataFrame,
    sizes: list[int],
    best_i: int,
    meets_target: int | None,
    target: float,
    near: npt.NDArray[np.intp],
    supported: npt.NDArray[np.bool_],
    unrestricted: int,
) -> list[str]:
    notes = []
    pool = np.flatnonzero(supported) if supported.any() else np.arange(len(sizes))
    if best_i in (pool.min(), pool.max()):
        side = "smallest" if best_i == pool.min() else "largest"
        where = "supported " if supported.any() and not supported.all() else ""
        notes.append(
            f"the largest contribution is at the {side} {where}headcount evaluated "
            f"({sizes[best_i]}): the maximum may lie beyond"
            + ("" if where else "; widen the range to find it")
        )
    if near.size != near.max() - near.min() + 1:
        notes.append("the headcounts within 1% of the best contribution are not contiguous")
    if meets_target is None:
        top = float(frame["sales_p50"].max())
        notes.append(
            f"no headcount evaluated reaches the target {target:,.0f} at P50 (the most is "
            f"{top:,.0f}): widen the range or review the target"
        )
    lo, hi = model.coverage_central
    if math.isfinite(lo) and math.isfinite(hi):
        outside = [int(n) for n, ok in zip(sizes, supported.tolist(), strict=True) if not ok]
        if outside:
            notes.append(
                f"at headcount(s) {_ranges(outside)} the average coverage lies outside the "
                f"central range of last year's reps ({lo:.2f} to {hi:.2f}): those figures "
                "extrapolate the curve and are not recommended"
            )
        if not supported.any():
            notes.append(
                "no headcount evaluated keeps the coverage inside what last year's reps had: "
                "every figure is extrapolated"
            )
        elif unrestricted != sizes[best_i]:
            notes.append(
                f"the curve extended beyond the data would put the best contribution at "
                f"{unrestricted} reps; that is extrapolation, so {sizes[best_i]} is recommended"
            )
    else:
        notes.append("the model has no fitted coverage range (literature defaults)")
    return notes


def _ranges(values: list[int]) -> str:
    """Write ``[3, 4, 5, 9]`` as ``3-5, 9``."""
    runs: list[list[int]] = []
    for v in values:
        if runs and v == runs[-1][-1] + 1:
            runs[-1].append(v)
        else:
            runs.append([v])
    return ", ".join(f"{r[0]}" if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


# --------------------------------------------------------------------------- hiring plan


@dataclass(frozen=True)
class HiringAssumptions:
    """How hiring works: ramp, attrition and time to fill (every default an engine default [D]).

    Parameters
    ----------
    ramp : RampCurve
        Productivity of a new hire by month since start (:data:`LITERATURE_RAMP`).
    annual_attrition : float
        Share of reps leaving per year, 0..1 (:data:`DEFAULT_ANNUAL_ATTRITION`); spread evenly
        over months as a constant hazard.
    time_to_fill : int
        Months from requisition to first day (:data:`DEFAULT_TIME_TO_FILL`).
    months : int
        Months the plan covers (:data:`DEFAULT_HORIZON_MONTHS`).
    """

    ramp: RampCurve = LITERATURE_RAMP
    annual_attrition: float = DEFAULT_ANNUAL_ATTRITION
    time_to_fill: int = DEFAULT_TIME_TO_FILL
    months: int = DEFAULT_HORIZON_MONTHS

    def __post_init__(self) -> None:
        """Refuse rates outside 0..1 and negative or zero durations."""
        problems = []
        if not 0.0 <= self.annual_attrition < 1.0:
            problems.append(f"annual_attrition = {self.annual_attrition} must be in [0, 1)")
        if self.time_to_fill < 0:
            problems.append(f"time_to_fill = {self.time_to_fill} must be 0 or more months")
        if self.months < 1:
            problems.append(f"months = {self.months} must be at least 1")
        if problems:
            raise ScenarioError("invalid hiring assumptions: " + "; ".join(problems))

    @property
    def monthly_attrition(self) -> float:
        """Monthly hazard equivalent to the annual attrition rate."""
        return 1.0 - (1.0 - self.annual_attrition) ** (1.0 / 12.0)


@dataclass(frozen=True, eq=False)
class HiringPlan:
    """Month-by-month hiring that reaches a sales run-rate despite ramp and attrition.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per month, columns :data:`HIRING_COLUMNS`; headcounts and leavers are expected
        values (attrition is a rate), requisitions and hires whole people.
    headcount : int
        Headcount held (filled seats plus open requisitions) throughout the plan.
    needed : float
        Fully productive reps the target needs (from the sizing curve).
    target_sales : float
        Yearly sales the run-rate must reach.
    month_target_met : int or None
        First month whose run-rate (12 x the month's expected sales) reaches the target.
    first_year_sales : float
        Expected sales over the first twelve months.
    assumptions : HiringAssumptions
        Ramp, attrition and time to fill used.
    warnings : tuple of str
        A target out of reach within the horizon, a headcount above the search limit.
    """

    table: pd.DataFrame
    headcount: int
    needed: float
    target_sales: float
    month_target_met: int | None
    first_year_sales: float
    assumptions: HiringAssumptions
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """Return the plan's summary as a JSON-ready dict."""
        a = self.assumptions
        return {
            "headcount": self.headcount,
            "needed_productive_reps": self.needed,
            "target_sales": self.target_sales,
            "month_target_met": self.month_target_met,
            "first_year_sales": self.first_year_sales,
            "hires": int(self.table["hires"].sum()),
            "ramp": list(a.ramp.monthly),
            "annual_attrition": a.annual_attrition,
            "time_to_fill": a.time_to_fill,
            "months": a.months,
            "warnings": list(self.warnings),
        }


def hiring_plan(
    sales_at: Callable[[float], float],
    *,
    current_headcount: int,
    target_sales: float,
    capacity_per_rep: float,
    assumptions: HiringAssumptions | None = None,
    headcount: int | None = None,
    max_headcount: int | None = None,
) -> HiringPlan:
    """Plan hires month by month so the sales run-rate reaches the target after ramp-up.

    Each month, expected leavers (the attrition hazard x headcount) leave; requisitions are
    opened so that filled seats plus open requisitions equal the headcount held (whole people,
    rounding the expected gap); a requisition becomes a hire ``time_to_fill`` months later and
    ramps by the ramp curve. A month's expected sales are the sizing curve at the effective
    (ramp-weighted) headcount, divided by 12. Unless ``headcount`` is given, the plan holds the
    smallest headcount whose run-rate reaches the target by the end of the horizon: with
    attrition some seats are always empty or ramping, so it can exceed the productive reps
    needed.

    Parameters
    ----------
    sales_at : callable
        Expected yearly sales at a (fractional) number of fully productive reps, such as
        :meth:`Sizing.sales_at`.
    current_headcount : int
        Reps in seat (and ramped) at the start.
    target_sales : float
        Yearly sales the run-rate must reach.
    capacity_per_rep : float
        Hours per year of one rep (for the ramped capacity column).
    assumptions : HiringAssumptions, optional
        Ramp, attrition, time to fill and horizon (defaults when omitted).
    headcount : int, optional
        Hold this headcount instead of searching for one.
    max_headcount : int, optional
        Upper limit of the search (default: three times the need, at least 10 more than today).

    Returns
    -------
    HiringPlan
        The monthly table and its summary.
    """
    a = assumptions or HiringAssumptions()
    if current_headcount < 0:
        raise ScenarioError(f"current_headcount = {current_headcount} must be 0 or more")
    if not (target_sales > 0 and math.isfinite(target_sales)):
        raise ScenarioError(f"target_sales = {target_sales} must be a positive amount per year")
    needed = _productive_reps_needed(sales_at, target_sales, current_headcount)
    notes: list[str] = []
    if headcount is None:
        limit = max_headcount or max(int(math.ceil(3 * needed)), current_headcount + 10)
        start = max(int(math.floor(needed)), 1)
        chosen = None
        for h in range(start, limit + 1):
            table = _simulate_hiring(sales_at, current_headcount, h, capacity_per_rep, a)
            if float(table["run_rate"].iloc[-1]) >= target_sales:
                chosen = h
                break
        if chosen is None:
            chosen = limit
            notes.append(
                f"no headcount up to {limit} reaches the target run-rate within {a.months} "
                "months: the plan holds the limit"
            )
        headcount = chosen
    if headcount < 0:
        raise ScenarioError(f"headcount = {headcount} must be 0 or more")
    table = _simulate_hiring(sales_at, current_headcount, headcount, capacity_per_rep, a)
    met = table.loc[table["run_rate"] >= target_sales, "month"]
    month_met = int(met.min()) if len(met) else None
    if month_met is None and not notes:
        notes.append(f"the run-rate does not reach the target within {a.months} months")
    first_year = float(table.loc[table["month"] <= 12, "expected_sales"].sum())
    return HiringPlan(
        table=table,
        headcount=int(headcount),
        needed=needed,
        target_sales=float(target_sales),
        month_target_met=month_met,
        first_year_sales=first_year,
        assumptions=a,
        warnings=tuple(notes),
    )


def _productive_reps_needed(
    sales_at: Callable[[float], float], target: float, current: int
) -> float:
    """Fewest fully productive reps whose expected sales reach the target (bisection)."""
    lo, hi = 0.0, max(float(current), 1.0)
    while sales_at(hi) < target:
        lo, hi = hi, hi * 2.0
        if hi > 1e6:
            raise ScenarioError(
                f"the target {target:,.0f} is out of reach: even {hi:,.0f} reps would not sell it"
            )
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if sales_at(mid) >= target:
            hi = mid
        else:
            lo = mid
    return hi


def _simulate_hiring(
    sales_at: Callable[[float], float],
    current: int,
    hold: int,
    capacity_per_rep: float,
    a: HiringAssumptions,
) -> pd.DataFrame:
    """Simulate the expected month-by-month course of one headcount to hold."""
    hazard = a.monthly_attrition
    tenured = float(current)
    cohorts: list[list[float]] = []  # [start month, people still here]
    pipeline: list[list[int]] = []  # [month the hires start, people]
    rows: list[dict[str, Any]] = []
    cumulative = 0.0
    for month in range(1, a.months + 1):
        arriving = sum(p for m, p in pipeline if m == month)
        pipeline = [x for x in pipeline if x[0] != month]
        if arriving:
            cohorts.append([float(month), float(arriving)])
        before = tenured + sum(c[1] for c in cohorts)
        leavers = before * hazard
        tenured *= 1.0 - hazard
        for c in cohorts:
            c[1] *= 1.0 - hazard
        seated = tenured + sum(c[1] for c in cohorts)
        waiting = sum(p for _, p in pipeline)
        gap = hold - seated - waiting
        reqs = max(int(math.floor(gap + 0.5)), 0)
        growth = max(min(reqs, hold - current - _opened(rows)), 0)
        if reqs:
            start = month + a.time_to_fill
            if a.time_to_fill == 0:
                cohorts.append([float(month), float(reqs)])
                seated += reqs
            else:
                pipeline.append([start, reqs])
        effective = tenured + sum(
            c[1] * float(a.ramp.productivity(np.array([month - c[0] + 1]))[0]) for c in cohorts
        )
        sales = sales_at(effective) / 12.0
        cumulative += sales
        rows.append(
            {
                "month": month,
                "requisitions": reqs,
                "hires": int(arriving) + (reqs if a.time_to_fill == 0 else 0),
                "leavers": leavers,
                "backfill": reqs - growth,
                "headcount": seated,
                "effective_headcount": effective,
                "ramped_capacity": effective * capacity_per_rep / 12.0,
                "expected_sales": sales,
                "run_rate": 12.0 * sales,
                "cumulative_sales": cumulative,
            }
        )
    return pd.DataFrame(rows, columns=list(HIRING_COLUMNS))


def _opened(rows: list[dict[str, Any]]) -> int:
    """Growth requisitions opened so far (requisitions that are not backfill)."""
    return sum(int(r["requisitions"]) - int(r["backfill"]) for r in rows)
