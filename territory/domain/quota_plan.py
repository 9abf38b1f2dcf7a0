"""The quota pipeline: company number to territory quotas that add up to it to the cent.

:func:`plan_quotas` runs the steps in the order the quota spec fixes (basis, caps, ramp, vacant
territories, rounding, periods) and returns the quota table with its summary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from territory.domain.arrays import BoolArray, FloatArray, IntArray, ObjectArray
from territory.domain.comp import CompPlan
from territory.domain.quota_allocation import _allocate_cents, _split_rows_cents
from territory.domain.quota_bases import (
    _normalise_role,
    blended_weights,
    capacity_weights,
    even_weights,
    half_at_quota_bound,
    historical_weights,
    history_baseline,
    peer_weights,
    potential_weights,
    ramp_months,
    role_history_weights,
    seasonality_shares,
    share_at_quota,
    shrink_profile,
    untapped_weights,
    yearly_bounds,
)
from territory.domain.quota_config import _HISTORY_METHODS, _MONTHS, QuotaConfig, YearlyCaps
from territory.domain.quota_inputs import _Inputs, _read_inputs, _row_problems
from territory.domain.quota_measures import measure_quotas, ote_of_territories
from territory.domain.quota_rules import check_config
from territory.errors import (
    DataValidationError,
    InfeasibleError,
)

# --------------------------------------------------------------------------------------------
# The pipeline
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Basis:
    weights: FloatArray
    method: ObjectArray
    w_history: FloatArray
    history_basis: FloatArray
    full_productivity: FloatArray


def _full_productivity(inp: _Inputs, config: QuotaConfig, baseline: FloatArray) -> FloatArray:
    """Return a fully ramped rep's annual sales per territory; NaN where nothing tells."""
    m = config.method
    if m.full_productivity is not None:
        table = {_normalise_role(k): float(v) for k, v in m.full_productivity.items()}
        return np.array([table.get(r, np.nan) for r in inp.role], dtype=np.float64)
    if m.quota_to_ote is not None and "ote" in inp.frame.columns:
        return np.asarray(m.quota_to_ote * inp.ote, dtype=np.float64)
    # Median production per FTE of reps ramped for all of last year, by role, then overall.
    ramped_all_year = np.isnan(inp.hire_month) & (
        np.isnan(inp.tenure) | (inp.tenure >= _MONTHS + len(config.ramp.monthly) - 1)
    )
    per_fte = baseline / inp.fte
    usable = ramped_all_year & ~inp.vacant & ~np.isnan(per_fte)
    if not usable.any():
        return np.full(inp.n, np.nan)
    by_role = pd.Series(per_fte[usable]).groupby(inp.role[usable]).median()
    out = pd.Series(inp.role).map(by_role).to_numpy(dtype=np.float64)
    return np.where(np.isnan(out), float(np.median(per_fte[usable])), out)


def _basis(inp: _Inputs, config: QuotaConfig, street: float) -> _Basis:
    m = config.method
    baseline = history_baseline(inp.history, m.year_weights)
    new = np.isnan(baseline)
    method = np.full(inp.n, m.name, dtype=object)
    w_history = np.full(inp.n, np.nan)
    productivity = _full_productivity(inp, config, baseline)

    if m.name == "potential":
        weights = potential_weights(inp.potential)
        w_history[:] = 0.0
    elif m.name == "even":
        weights = even_weights(inp.n)
    elif m.name == "capacity":
        missing = np.isnan(productivity)
        if missing.any():
            raise DataValidationError(
                _row_problems(
                    missing,
                    "role",
                    "has no full productivity for the capacity method",
                    "set method.full_productivity for this role, give an ote column with "
                    "method.quota_to_ote, or provide history for fully ramped reps",
                )
            )
        weights = capacity_weights(productivity, inp.fte, inp.availability)
    elif m.name == "blended":
        if m.history_weight is not None:
            w = np.full(inp.n, float(m.history_weight))
        else:
            w = role_history_weights(inp.role, m.role_history_weights, m.other_role_history_weight)
        weights = blended_weights(baseline, inp.potential, w)
        w_history = np.where(new, 0.0, w)
        if m.new_territory_rule == "peer" and new.any():
            weights = _size_new(np.where(new, np.nan, weights), inp, "peer")
    else:
        if m.name == "historical":
            weights = historical_weights(baseline)
            w_history = np.where(new, 0.0, 1.0)
        else:
            weights = untapped_weights(baseline, inp.potential, street, m.increment_basis)
            w_history = np.where(new, 0.0, np.nan)
        weights = _size_new(weights, inp, m.new_territory_rule)
    if m.name in _HISTORY_METHODS:
        method[new] = "potential_peer"
    return _Basis(
        weights=np.maximum(np.nan_to_num(weights, nan=0.0), 0.0),
        method=method,
        w_history=w_history,
        history_basis=baseline,
        full_productivity=productivity,
    )


def _size_new(weights: FloatArray, inp: _Inputs, rule: str) -> FloatArray:
    """Weights for territories without history: potential x a ratio taken from the others."""
    todo = np.isnan(weights)
    if not todo.any():
        return weights
    if rule == "peer":
        keys = [inp.text(c).tolist() for c in ("segment",) if c in inp.frame.columns]
        if "role" in inp.frame.columns:
            keys.append(inp.role.tolist())
        return peer_weights(weights, inp.potential, keys)
    known = ~todo
    p_known = float(inp.potential[known].sum())
    ratio = float(weights[known].sum()) / p_known if p_known > 0 else 0.0
    return np.where(todo, ratio * inp.potential, weights)


def _seasonal_split(
    inp: _Inputs,
    config: QuotaConfig,
    quota_c: IntArray,
    monthly_ramp: FloatArray,
    period_sales: pd.DataFrame | None,
) -> tuple[IntArray, ObjectArray]:
    s = config.seasonality
    p = s.n_periods
    level: FloatArray | None = None
    level_id = "even"
    own = np.full((inp.n, p), np.nan)
    if period_sales is not None:
        keys = (
            inp.territory_id if "territory_id" in period_sales.columns else inp.rep_key
        ).tolist()
        own, level = seasonality_shares(period_sales, [str(k) for k in keys], p, s.history_years)
        level_id = "company" if level is not None else "even"
    if s.profile is not None:
        level = np.asarray(s.profile, dtype=np.float64) / float(sum(s.profile))
        level_id = "configured"
    if level is None:
        level = np.full(p, 1.0 / p)
        own = np.full((inp.n, p), np.nan)
    shares, lam = shrink_profile(own, level, inp.n_deals, s.shrink_deals)
    profile_id = np.where(lam < 1.0, "territory", level_id).astype(object)
    # A ramping rep sells less early on, so its quarters follow its ramp as well.
    per_period = monthly_ramp.reshape(inp.n, p, _MONTHS // p).mean(axis=2)
    adjusted = shares * per_period
    usable = adjusted.sum(axis=1, keepdims=True) > 0
    return _split_rows_cents(quota_c, np.where(usable, adjusted, shares)), profile_id


@dataclass(frozen=True)
class QuotaSummary:
    """Plan-level numbers to show next to the quotas.

    ``share_at_quota_if_plan_hit`` prices the over-assignment: the share of reps expected at
    quota in a year the company lands exactly on plan (spec §1.4), next to
    ``half_at_quota_over_assignment``, the largest rate that still gives half. The bottom-up
    total adds history x (1 + growth) per territory, or capacity where there is no history;
    ``top_down_gap`` is the street total minus it, the decision spec §1.4 wants made openly.
    """

    company_target: float
    non_quota_revenue: float
    over_assignment_factor: float
    over_assignment_status: str
    street_total: float
    quota_total: float
    share_at_quota_if_plan_hit: float
    half_at_quota_over_assignment: float
    growth: float
    bottom_up_total: float
    top_down_gap: float
    capacity_total: float
    over_capacity: tuple[str, ...]
    capped_at_floor: tuple[str, ...]
    capped_at_ceiling: tuple[str, ...]
    new_territories: tuple[str, ...]
    vacant_territories: tuple[str, ...]
    ramping_territories: tuple[str, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class QuotaPlan:
    """The quotas table (quotas.csv layout, spec §4.2) and its plan-level summary.

    ``by_measure`` splits each territory's quota over the measures of its role's comp plan
    (:func:`~territory.domain.quota_measures.measure_quotas`); None without a comp plan.
    """

    table: pd.DataFrame
    summary: QuotaSummary
    by_measure: pd.DataFrame | None = None


def _company_growth(inp: _Inputs, config: QuotaConfig) -> float:
    if config.method.growth is not None:
        return float(config.method.growth)
    last, prev = inp.history[:, 0], inp.history[:, 1]
    both = ~np.isnan(last) & ~np.isnan(prev)
    prev_sum = float(prev[both].sum())
    return float(last[both].sum()) / prev_sum - 1.0 if prev_sum > 0 else 0.0


def _cap_reference(
    inp: _Inputs, caps: YearlyCaps, street: float
) -> tuple[FloatArray, tuple[str, ...]]:
    """Return the amount each territory's yearly cap applies to, and a warning on fallback.

    Caps on last year's quota need ``prior_quota``. A territory without it is capped against
    last year's sales scaled to this year's street total (so the caps bound how far its share
    moves, and can always hold), with a warning naming the column; never left uncapped unsaid.
    """
    sales = inp.history[:, 0]
    if caps.reference == "history":
        return sales, ()
    fallback = np.isnan(inp.prior_quota) & ~np.isnan(sales)
    total = float(np.nansum(sales))
    if not fallback.any() or total <= 0:
        return inp.prior_quota, ()
    growth = street / total
    warning = (
        f"{int(fallback.sum())} of {inp.n} territories have no last year's quota, so their "
        f"yearly change caps use last year's sales x {growth:.3f} (this year's street total over "
        "last year's sales) instead; add a quota_last_year column to the accounts (prior_quota "
        "in a territory table) to cap against last year's quotas"
    )
    return np.where(fallback, sales * growth, inp.prior_quota), (warning,)


def plan_quotas(
    territories: pd.DataFrame,
    config: QuotaConfig,
    *,
    period_sales: pd.DataFrame | None = None,
    comp: CompPlan | None = None,
) -> QuotaPlan:
    """Set every territory's annual and period quotas from the company number.

    Steps (spec §1.9): basis allocation of the street total; yearly change caps with
    water-filling; ramp; ``TBH-`` ids for vacant territories; rounding to the cent; split into
    periods. The ramp multiplies the capped full-year quota, and the relief it creates is
    water-filled together with the caps' residual, so the quotas still add up to the street
    total to the cent and a new hire carries its ramp share of what a ramped rep in the same
    territory would. A vacant territory keeps a full-year, unramped quota under
    ``TBH-<territory_id>`` (spec §1.8), so the total is conserved whoever fills the seat.

    Parameters
    ----------
    territories
        One row per territory. Required: ``rep_id`` (blank for a vacant territory) and
        ``potential`` (currency/year, as in territories.csv). Optional: ``territory_id``
        (defaults to ``rep_id``), ``territory_name``, ``parent_territory_id``, ``role``,
        ``segment``, ``fte`` (default 1), ``history``/``history_prev``/``history_prev2``
        (re-based revenue, see :func:`territory_history`; blank means no history yet),
        ``prior_quota`` (last year's quota re-based), ``potential_before`` (potential under
        the old alignment), ``vacant`` (true/false), ``tenure_months`` (months worked at plan
        start), ``hire_month`` (1-12), ``availability`` (share of the year not on leave,
        default 1), ``ote``, ``n_deals`` (deals/year, for seasonality shrinkage),
        ``effective_start``, ``effective_end``. Other columns are ignored.
    config
        Method, company number, over-assignment, caps, ramp and seasonality.
    period_sales
        Optional long table of past sales by ``territory_id`` (or ``rep_id``), ``year``,
        ``period`` and ``sales``, for history-based seasonality.
    comp
        Optional comp plan: territories without an ``ote`` take their role's OTE (so
        ``quota_to_ote`` is filled) and :attr:`QuotaPlan.by_measure` splits the quotas over
        each role's measures.

    Raises
    ------
    DataValidationError
        A needed column is missing or holds unusable values (every problem is listed), or
        a territory's ``role`` has no plan in ``comp``.
    ScenarioError
        The configuration is invalid.
    InfeasibleError
        The yearly caps cannot hold while the quotas add up to the street total.
    """
    check_config(config)
    inp = _read_inputs(territories, config)
    if comp is not None:
        roles = inp.frame["role"].tolist() if "role" in inp.frame.columns else [None] * inp.n
        inp = replace(inp, ote=ote_of_territories(roles, inp.ote, comp))
    street = config.street_total
    basis = _basis(inp, config, street)
    labels = [str(t) for t in inp.territory_id]

    # Step 1: basis allocation, before any cap or ramp (reported as raw_quota).
    raw_c, _ = _allocate_cents(street, basis.weights, labels=labels)

    # Steps 2-3: yearly caps on the full-year quota, then ramp, water-filled together.
    monthly = ramp_months(inp.tenure, inp.hire_month, config.ramp)
    monthly[inp.vacant] = 1.0
    ramp = monthly.mean(axis=1)
    warnings: tuple[str, ...] = ()
    if config.caps is not None:
        reference, warnings = _cap_reference(inp, config.caps, street)
        floors, ceilings, capped = yearly_bounds(
            reference, config.caps, inp.potential, inp.potential_before
        )
    else:
        floors, ceilings = np.zeros(inp.n), np.full(inp.n, np.inf)
        capped = np.zeros(inp.n, dtype=bool)
    scaled_ceilings = np.where(
        ramp == 0, 0.0, np.where(np.isinf(ceilings), np.inf, ceilings * ramp)
    )
    try:
        quota_c, state = _allocate_cents(
            street,
            basis.weights * ramp,
            floors=floors * ramp,
            ceilings=scaled_ceilings,
            labels=labels,
        )
    except InfeasibleError as exc:
        caps = config.caps or YearlyCaps()
        raise InfeasibleError(
            exc.reasons,
            hint=(
                f"The yearly change caps ({caps.min_change:+.0%} to {caps.max_change:+.0%} on "
                f"{int(capped.sum())} capped territories) cannot hold while the quotas add up "
                f"to the street total {street:,.2f}. Widen caps.min_change/max_change, exempt "
                "realigned territories (potential_before) or change company_target or "
                "over_assignment."
            ),
        ) from exc

    # Steps 5-6: quotas are whole cents already; split each into periods exactly.
    periods_c, profile_id = _seasonal_split(inp, config, quota_c, monthly, period_sales)

    table = _quota_table(
        inp, config, basis, raw_c, quota_c, periods_c, profile_id, state, capped, ramp
    )
    summary = replace(_summary(inp, config, basis, table, street, ramp), warnings=warnings)
    by_measure = (
        None
        if comp is None
        else measure_quotas(table, inp.frame, comp, config.seasonality.columns, inp.ote)
    )
    return QuotaPlan(table=table, summary=summary, by_measure=by_measure)


def set_quotas(
    territories: pd.DataFrame,
    config: QuotaConfig,
    *,
    period_sales: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Return the quotas table of :func:`plan_quotas` (quotas.csv layout, spec §4.2).

    One row per territory and measure for the plan year, with the period quotas as columns
    (``q1``..``q4`` or ``m01``..``m12``); :func:`quotas_long` turns it into one row per
    territory and period. See :func:`plan_quotas` for the expected columns.

    Parameters
    ----------
    territories
        One row per territory (see :func:`plan_quotas`).
    config
        The quota configuration.
    period_sales
        Past sales per territory and period, for the seasonality profile.

    Returns
    -------
    pandas.DataFrame
        The quotas table.
    """
    return plan_quotas(territories, config, period_sales=period_sales).table


def _quota_table(
    inp: _Inputs,
    config: QuotaConfig,
    basis: _Basis,
    raw_c: IntArray,
    quota_c: IntArray,
    periods_c: IntArray,
    profile_id: ObjectArray,
    state: npt.NDArray[np.int8],
    capped: BoolArray,
    ramp: FloatArray,
) -> pd.DataFrame:
    n = inp.n
    reference = inp.prior_quota
    quota = quota_c / 100.0
    weight_sum = float(basis.weights.sum())
    share = basis.weights / weight_sum if weight_sum > 0 else np.zeros(n)
    capacity = capacity_weights(basis.full_productivity, inp.fte, inp.availability, ramp)
    clip = np.where(
        capped & (state == 1), "ceiling", np.where(capped & (state == -1), "floor", "none")
    )
    ramping = ~inp.vacant & (~np.isnan(inp.tenure) | ~np.isnan(inp.hire_month))
    with np.errstate(divide="ignore", invalid="ignore"):
        yoy = np.where(reference > 0, (quota / reference - 1.0) * 100.0, np.nan)
        to_potential = np.where(inp.potential > 0, quota / inp.potential, np.nan)
        to_ote = np.where(inp.ote > 0, quota / inp.ote, np.nan)
    none = np.full(n, None, dtype=object)
    columns: dict[str, Any] = {
        "plan_year": np.full(n, config.plan_year, dtype=object),
        "scenario_id": none,
        "run_id": none,
        "seed": none,
        "territory_id": inp.territory_id,
        "territory_name": inp.text("territory_name"),
        "parent_territory_id": inp.text("parent_territory_id"),
        "rep_id": inp.rep_id,
        "role": inp.text("role"),
        "fte": inp.fte,
        "effective_start": inp.text("effective_start"),
        "effective_end": inp.text("effective_end"),
        "measure": np.full(n, config.measure, dtype=object),
        "currency": np.full(n, config.currency, dtype=object),
        "method": basis.method,
        "w_history": basis.w_history,
        "potential": inp.potential,
        "history_basis": basis.history_basis,
        "capacity_usd": np.round(capacity, 2),
        "allocation_share": share,
        "raw_quota": raw_c / 100.0,
        "yoy_clip": clip.astype(object),
        "ramp_factor": ramp,
        "manual_adj": np.zeros(n),
        "manual_reason": none,
        "over_assignment_factor": np.full(n, config.over_assignment_factor),
        "final_annual_quota": quota,
    }
    for j, name in enumerate(config.seasonality.columns):
        columns[name] = periods_c[:, j] / 100.0
    columns |= {
        "seasonality_profile_id": profile_id,
        "ramp_profile_id": np.array(
            [config.ramp.name if r else None for r in ramping], dtype=object
        ),
        "prior_quota_rebased": reference,
        "yoy_change_pct": yoy,
        "quota_to_potential": to_potential,
        "quota_to_ote": to_ote,
        "expected_attainment": np.full(n, np.nan),
        "p_attain_ge_1": np.full(n, np.nan),
        "status": np.full(n, "draft", dtype=object),
    }
    return pd.DataFrame(columns)


def _summary(
    inp: _Inputs,
    config: QuotaConfig,
    basis: _Basis,
    table: pd.DataFrame,
    street: float,
    ramp: FloatArray,
) -> QuotaSummary:
    growth = _company_growth(inp, config)
    quota = table["final_annual_quota"].to_numpy(dtype=np.float64)
    capacity = table["capacity_usd"].to_numpy(dtype=np.float64)
    bottom_up = np.where(
        ~np.isnan(basis.history_basis), basis.history_basis * (1.0 + growth), capacity
    )
    bottom_up_total = float(np.nansum(bottom_up)) if (~np.isnan(bottom_up)).any() else math.nan
    over = ~np.isnan(capacity) & (quota > capacity * (1.0 + config.capacity_stretch) + 0.005)
    factor = config.over_assignment_factor
    rate = factor - 1.0
    status = (
        "FAIL"
        if rate > config.over_assignment_fail
        else "WARN"
        if rate > config.over_assignment_warn
        else "PASS"
    )
    ids = inp.territory_id
    clip = table["yoy_clip"].to_numpy()

    def pick(mask: BoolArray) -> tuple[str, ...]:
        return tuple(str(t) for t in ids[mask])

    ramping = table["ramp_profile_id"].notna().to_numpy()
    return QuotaSummary(
        company_target=float(config.company_target),
        non_quota_revenue=float(config.non_quota_revenue),
        over_assignment_factor=factor,
        over_assignment_status=status,
        street_total=street,
        quota_total=int(np.rint(quota * 100).sum()) / 100.0,
        share_at_quota_if_plan_hit=share_at_quota(factor, config.attainment_sigma),
        half_at_quota_over_assignment=half_at_quota_bound(config.attainment_sigma),
        growth=growth,
        bottom_up_total=bottom_up_total,
        top_down_gap=street - bottom_up_total,
        capacity_total=float(np.nansum(capacity)) if (~np.isnan(capacity)).any() else math.nan,
        over_capacity=pick(over),
        capped_at_floor=pick(clip == "floor"),
        capped_at_ceiling=pick(clip == "ceiling"),
        new_territories=pick(np.isnan(basis.history_basis)),
        vacant_territories=pick(inp.vacant),
        ramping_territories=pick(ramping & (ramp < 1.0)),
    )


def quotas_long(quotas: pd.DataFrame) -> pd.DataFrame:
    """One row per territory and period: plan_year, territory_id, rep_id, measure, period, quota.

    Parameters
    ----------
    quotas
        The quotas table (:func:`set_quotas`).

    Returns
    -------
    pandas.DataFrame
        The long table.
    """
    periods = [c for c in quotas.columns if c[:1] in ("q", "m") and c[1:].isdigit()]
    keys = ["plan_year", "territory_id", "rep_id", "measure"]
    long = quotas[keys + periods].melt(
        id_vars=keys, value_vars=periods, var_name="period", value_name="quota"
    )
    order = {p: i for i, p in enumerate(periods)}
    long["_order"] = long["period"].map(order)
    long["_row"] = np.tile(np.arange(len(quotas)), len(periods))
    return (
        long.sort_values(["_row", "_order"]).drop(columns=["_order", "_row"]).reset_index(drop=True)
    )
