"""Allocation bases and per-territory adjustments for quota setting (spec 1.1-1.7).

Each basis returns one weight per territory (NaN where it cannot tell); ramp, yearly caps and
seasonality shape the quotas after the split, and the over-assignment trade-off prices the
street total in share of reps at quota.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from territory.domain.arrays import BoolArray, FloatArray, IntArray, ObjectArray
from territory.domain.contract import MAX_ROWS_PER_PROBLEM, MAX_TOTAL_MAGNITUDE
from territory.domain.quota_config import (
    _LIMIT_TEXT,
    _MONTHS,
    DEFAULT_ROLE_HISTORY_WEIGHTS,
    RampSchedule,
    YearlyCaps,
)
from territory.errors import (
    DataValidationError,
    InputProblem,
)

# --------------------------------------------------------------------------------------------
# Allocation bases: each returns one weight per territory (NaN where it cannot tell)
# --------------------------------------------------------------------------------------------


def history_baseline(history: npt.ArrayLike, year_weights: Sequence[float] = (1.0,)) -> FloatArray:
    """Weighted average of the known years per territory; NaN where no year is known.

    ``history`` has one column per year, most recent first. A territory missing an older year
    averages over the years it has, so a young territory is not dragged down by zeros.

    Parameters
    ----------
    history
        Revenue per territory, one column per year, most recent first; NaN where unknown.
    year_weights
        Weight of each year, most recent first (``(2, 1, 1)`` for the 2-1-1 rule).

    Returns
    -------
    numpy.ndarray
        One baseline per territory.
    """
    h = np.asarray(history, dtype=np.float64)
    if h.ndim == 1:
        h = h[:, None]
    k = min(h.shape[1], len(year_weights))
    h = h[:, :k]
    wy = np.asarray(year_weights[:k], dtype=np.float64)
    known = ~np.isnan(h)
    num = np.where(known, h, 0.0) @ wy
    den = known.astype(np.float64) @ wy
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(den > 0, num / den, np.nan), dtype=np.float64)


def historical_weights(baseline: npt.ArrayLike, growth: float = 0.0) -> FloatArray:
    """History x (1 + growth) (spec §1.1); NaN marks a territory without history.

    Parameters
    ----------
    baseline
        History baseline per territory (:func:`history_baseline`).
    growth
        Growth rate applied to every territory.

    Returns
    -------
    numpy.ndarray
        History x (1 + growth); NaN where history is unknown.
    """
    return np.asarray(baseline, dtype=np.float64) * (1.0 + growth)


def potential_weights(potential: npt.ArrayLike) -> FloatArray:
    """Territory potential itself: quotas become a share of potential (spec §1.2).

    Parameters
    ----------
    potential
        Potential per territory, currency/year.

    Returns
    -------
    numpy.ndarray
        The potential as floats.
    """
    return np.asarray(potential, dtype=np.float64).copy()


def untapped_weights(
    history: npt.ArrayLike,
    potential: npt.ArrayLike,
    total: float,
    increment_basis: Literal["headroom", "potential"] = "headroom",
) -> FloatArray:
    """History kept, growth increment spread by headroom or by potential (spec §1.2 variant).

    The weights are the quotas before caps: ``H + (total - sum H) x basis / sum basis`` where
    the basis is ``max(P - H, 0)`` (headroom) or ``P``. When the total is below last year's
    revenue there is no increment to spread, and history is scaled down instead, so nobody
    goes negative. NaN history stays NaN (a new territory, sized by the caller).

    Parameters
    ----------
    history
        Last year's revenue per territory; NaN for a new territory.
    potential
        Potential per territory (the increment's basis), currency/year.
    total
        The street total to allocate.
    increment_basis
        Spread the increment by ``headroom`` (potential above history) or by ``potential``.

    Returns
    -------
    numpy.ndarray
        The quotas before caps; NaN for a territory without history.
    """
    h = np.asarray(history, dtype=np.float64)
    p = np.asarray(potential, dtype=np.float64)
    known = ~np.isnan(h)
    hk = np.where(known, h, 0.0)
    h_sum = float(hk.sum())
    delta = total - h_sum
    room = np.maximum(p - hk, 0.0) if increment_basis == "headroom" else p.copy()
    room = np.where(known, room, 0.0)
    if delta >= 0 and float(room.sum()) > 0:
        out = hk + delta * room / float(room.sum())
    elif h_sum > 0:
        out = hk * total / h_sum
    else:
        out = np.zeros_like(hk)
    return np.asarray(np.where(known, out, np.nan), dtype=np.float64)


def blended_weights(
    history: npt.ArrayLike, potential: npt.ArrayLike, history_weight: npt.ArrayLike
) -> FloatArray:
    """``w x H / sum H + (1 - w) x P / sum P`` per territory (spec §1.3).

    Territories without history take ``w = 0``, i.e. their potential share. With weights that
    differ by role the shares need not add up to 1; the kernel normalises them.

    Parameters
    ----------
    history
        Last year's revenue per territory; NaN for a new territory.
    potential
        Potential per territory, currency/year.
    history_weight
        Blend weight ``w`` on history, one per territory or one for all.

    Returns
    -------
    numpy.ndarray
        The blended share per territory.
    """
    h = np.asarray(history, dtype=np.float64)
    p = np.asarray(potential, dtype=np.float64)
    known = ~np.isnan(h)
    w = np.where(known, np.broadcast_to(np.asarray(history_weight, np.float64), h.shape), 0.0)
    hk = np.where(known, h, 0.0)
    h_share = hk / float(hk.sum()) if float(hk.sum()) > 0 else np.zeros_like(hk)
    p_share = p / float(p.sum()) if float(p.sum()) > 0 else np.zeros_like(p)
    return np.asarray(w * h_share + (1.0 - w) * p_share, dtype=np.float64)


def capacity_weights(
    full_productivity: npt.ArrayLike,
    fte: npt.ArrayLike = 1.0,
    availability: npt.ArrayLike = 1.0,
    ramp_factor: npt.ArrayLike = 1.0,
) -> FloatArray:
    """Sales capacity in currency/year: productivity x FTE x availability x ramp (spec §1.5).

    Parameters
    ----------
    full_productivity
        A fully ramped rep's annual sales per territory.
    fte, availability, ramp_factor
        Full-time equivalent, share of the year available and ramp share, per territory or one
        for all.

    Returns
    -------
    numpy.ndarray
        Sales capacity per territory, currency/year.
    """
    return np.asarray(
        np.asarray(full_productivity, dtype=np.float64)
        * np.asarray(fte, dtype=np.float64)
        * np.asarray(availability, dtype=np.float64)
        * np.asarray(ramp_factor, dtype=np.float64),
        dtype=np.float64,
    )


def even_weights(n: int) -> FloatArray:
    """Return the same weight for every territory (Varicent's "even split").

    Parameters
    ----------
    n
        Number of territories.

    Returns
    -------
    numpy.ndarray
        ``n`` ones.
    """
    return np.ones(n, dtype=np.float64)


def _normalise_role(role: object) -> str:
    if role is None or (isinstance(role, float) and math.isnan(role)):
        return ""
    return str(role).strip().lower().replace("-", "_").replace(" ", "_")


def role_history_weights(
    roles: Sequence[object] | ObjectArray,
    weights: Mapping[str, float] = DEFAULT_ROLE_HISTORY_WEIGHTS,
    other: float = 0.5,
) -> FloatArray:
    """Blend weight on history per territory from its role; unknown roles get ``other``.

    Parameters
    ----------
    roles
        Role per territory (case and spaces do not matter).
    weights
        Weight on history by role.
    other
        Weight for roles not in ``weights``.

    Returns
    -------
    numpy.ndarray
        One weight per territory, between 0 and 1.
    """
    table = {_normalise_role(k): float(v) for k, v in weights.items()}
    return np.array([table.get(_normalise_role(r), other) for r in roles], dtype=np.float64)


def _potential_decile(potential: FloatArray) -> IntArray:
    n = potential.shape[0]
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(potential, kind="stable")] = np.arange(n)
    return (10 * rank) // max(n, 1)


def peer_weights(
    weights: npt.ArrayLike,
    potential: npt.ArrayLike,
    peer_keys: Sequence[Sequence[object]] = (),
    *,
    use_decile: bool = True,
) -> FloatArray:
    """Fill NaN weights with ``median peer (weight / potential) x potential`` (spec §1.8).

    Peers share every key in ``peer_keys`` (e.g. segment, role) and, with ``use_decile``, the
    potential decile. Where nobody qualifies the last key is dropped, then the next, down to
    all territories with a weight.

    Parameters
    ----------
    weights
        Weight per territory, NaN where it is to be filled.
    potential
        Potential per territory, currency/year.
    peer_keys
        Columns that peers must share, most important first (one value per territory each).
    use_decile
        Peers must also share the potential decile.

    Returns
    -------
    numpy.ndarray
        The weights with NaN filled where a peer group exists.
    """
    w = np.asarray(weights, dtype=np.float64).copy()
    p = np.asarray(potential, dtype=np.float64)
    todo = np.isnan(w)
    if not todo.any():
        return w
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(~todo & (p > 0), w / p, np.nan)
    source = ~np.isnan(ratio)
    keys: list[Sequence[object]] = list(peer_keys)
    if use_decile:
        keys.append(_potential_decile(p).tolist())
    for depth in range(len(keys), -1, -1):
        if not todo.any() or not source.any():
            break
        if depth == 0:
            w[todo] = float(np.median(ratio[source])) * p[todo]
            todo[:] = False
            break
        combo = pd.Series(["\x1f".join(str(k[i]) for k in keys[:depth]) for i in range(w.shape[0])])
        medians = pd.Series(ratio[source]).groupby(combo[source].to_numpy()).median()
        found = combo[todo].map(medians).to_numpy(dtype=np.float64)
        rows = np.flatnonzero(todo)
        ok = ~np.isnan(found)
        w[rows[ok]] = found[ok] * p[rows[ok]]
        todo[rows[ok]] = False
    return w


# --------------------------------------------------------------------------------------------
# Ramp, caps and seasonality
# --------------------------------------------------------------------------------------------


def ramp_months(
    tenure_months: npt.ArrayLike, hire_month: npt.ArrayLike, schedule: RampSchedule
) -> FloatArray:
    """Productivity share in each of the plan year's 12 months, one row per territory.

    ``tenure_months`` counts months the rep had already worked when the plan year starts;
    ``hire_month`` (1-12) is the plan month a new rep starts in, before which nothing is sold.
    Both NaN means a fully ramped rep (all ones).

    Parameters
    ----------
    tenure_months
        Months worked before the plan year starts, per territory; NaN for a new hire.
    hire_month
        Plan month (1-12) a new rep starts in; NaN for a rep already on board.
    schedule
        The ramp schedule.

    Returns
    -------
    numpy.ndarray
        Shape ``(territories, 12)``, shares between 0 and 1.
    """
    tenure = np.atleast_1d(np.asarray(tenure_months, dtype=np.float64))
    hire = np.broadcast_to(np.asarray(hire_month, dtype=np.float64), tenure.shape)
    curve = np.asarray(schedule.monthly, dtype=np.float64)
    month = np.arange(_MONTHS, dtype=np.float64)[None, :]
    since = np.where(
        ~np.isnan(hire)[:, None],
        month - (np.nan_to_num(hire, nan=1.0)[:, None] - 1.0),
        np.nan_to_num(tenure, nan=0.0)[:, None] + month,
    )
    step = np.clip(since, 0, curve.shape[0] - 1).astype(np.int64)
    out = np.where(since < 0, 0.0, curve[step])
    ramped = np.isnan(tenure) & np.isnan(hire)
    out[ramped] = 1.0
    return np.asarray(out, dtype=np.float64)


def yearly_bounds(
    reference: npt.ArrayLike,
    caps: YearlyCaps,
    potential: npt.ArrayLike | None = None,
    potential_before: npt.ArrayLike | None = None,
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Floors, ceilings and the capped mask from last year's reference (spec §1.7).

    Uncapped territories (no reference, or exempt because the realignment moved their
    potential by more than the exemption) get floor 0 and no ceiling.

    Parameters
    ----------
    reference
        Last year's quota or revenue per territory; NaN where unknown.
    caps
        The yearly caps.
    potential, potential_before
        Potential after and before the realignment, to find exempt territories.

    Returns
    -------
    floors : numpy.ndarray
        Lowest quota per territory.
    ceilings : numpy.ndarray
        Highest quota per territory (infinite when uncapped).
    capped : numpy.ndarray
        Which territories the caps apply to.
    """
    ref = np.asarray(reference, dtype=np.float64)
    capped = ~np.isnan(ref) & (ref >= 0)
    if (
        caps.exempt_potential_change is not None
        and potential is not None
        and potential_before is not None
    ):
        p = np.asarray(potential, dtype=np.float64)
        before = np.asarray(potential_before, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            change = np.abs(p / before - 1.0)
        moved = ~np.isnan(before) & ((before <= 0) | (change > caps.exempt_potential_change))
        capped &= ~moved
    floors = np.where(capped, ref * (1.0 + caps.min_change), 0.0)
    ceilings = np.where(capped, ref * (1.0 + caps.max_change), np.inf)
    return floors, ceilings, capped


def rebase_prior_quota(prior_total: float, history: npt.ArrayLike) -> FloatArray:
    """Last year's total quota re-based to the new territories by history share (spec §1.7).

    The fallback when account-level quotas are not available; NaN where history is unknown.

    Parameters
    ----------
    prior_total
        Last year's total quota.
    history
        Last year's revenue per new territory.

    Returns
    -------
    numpy.ndarray
        Last year's quota per new territory.
    """
    h = np.asarray(history, dtype=np.float64)
    h_sum = float(np.nansum(h))
    if h_sum <= 0:
        return np.full(h.shape, np.nan)
    return np.asarray(prior_total * h / h_sum, dtype=np.float64)


def seasonality_shares(
    period_sales: pd.DataFrame,
    keys: Sequence[str],
    n_periods: int,
    years: int = 3,
) -> tuple[FloatArray, FloatArray | None]:
    """Each territory's and the company's share of sales per period (spec §1.6).

    ``period_sales`` is long: ``territory_id`` (or ``rep_id``), ``year``, ``period`` (1..n) and
    ``sales``. Only the last ``years`` complete company years count. Returns the territory
    shares (NaN rows where a territory sold nothing) and the company profile, ``None`` when
    there is less than one complete year.

    Parameters
    ----------
    period_sales
        Sales per territory, year and period (long format).
    keys
        The territory ids, in the order of the returned rows.
    n_periods
        4 (quarters) or 12 (months).
    years
        How many complete company years count.

    Returns
    -------
    shares : numpy.ndarray
        Shape ``(len(keys), n_periods)``.
    profile : numpy.ndarray or None
        The company profile.
    """
    key_col = "territory_id" if "territory_id" in period_sales.columns else "rep_id"
    problems = [
        InputProblem("period_sales", None, c, "column is missing", f"add a '{c}' column")
        for c in (key_col, "year", "period", "sales")
        if c not in period_sales.columns
    ]
    if problems:
        raise DataValidationError(problems)
    frame = pd.DataFrame(
        {
            "key": period_sales[key_col].astype(str).to_numpy(),
            "year": pd.to_numeric(period_sales["year"], errors="coerce").to_numpy(),
            "period": pd.to_numeric(period_sales["period"], errors="coerce").to_numpy(),
            "sales": pd.to_numeric(period_sales["sales"], errors="coerce").to_numpy(),
        }
    )
    bad = (
        frame["period"].isna()
        | ~frame["period"].between(1, n_periods)
        | frame["year"].isna()
        | frame["sales"].isna()
        | (frame["sales"] < 0)
        | (frame["sales"] > MAX_TOTAL_MAGNITUDE)  # infinity too: sums must stay finite
    )
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())[:MAX_ROWS_PER_PROBLEM]
        raise DataValidationError(
            [
                InputProblem(
                    "period_sales",
                    int(r) + 2,
                    None,
                    f"needs a year, a period between 1 and {n_periods} and sales of 0 or more "
                    f"(at most {_LIMIT_TEXT})",
                    "correct or remove the row",
                )
                for r in rows.tolist()
            ]
        )
    frame["period"] = frame["period"].astype(np.int64)
    periods_seen = frame.groupby("year")["period"].nunique()
    complete = sorted(periods_seen.index[periods_seen == n_periods])[-years:]
    n = len(keys)
    if not complete:
        return np.full((n, n_periods), np.nan), None
    used = frame[frame["year"].isin(complete)]
    level = used.groupby("period")["sales"].sum().reindex(range(1, n_periods + 1), fill_value=0.0)
    level_arr = level.to_numpy(dtype=np.float64)
    level_arr = level_arr / level_arr.sum()
    own = (
        used.groupby(["key", "period"])["sales"]
        .sum()
        .unstack(fill_value=0)
        .reindex(index=[str(k) for k in keys], columns=range(1, n_periods + 1), fill_value=0.0)
        .to_numpy(dtype=np.float64)
    )
    totals = own.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        own = np.where(totals > 0, own / totals, np.nan)
    return np.asarray(own, dtype=np.float64), np.asarray(level_arr, dtype=np.float64)


def shrink_profile(
    own: npt.ArrayLike, level: npt.ArrayLike, n_deals: npt.ArrayLike, shrink_deals: float
) -> tuple[FloatArray, FloatArray]:
    """Blend a territory's own profile toward the level profile by its deal count (spec §1.6).

    Returns the blended shares and the weight on the level profile,
    ``shrink_deals / (shrink_deals + n_deals)``; 1 where the deal count or own history is
    missing.

    Parameters
    ----------
    own
        Each territory's own shares, shape ``(territories, periods)``; NaN rows where unknown.
    level
        The profile shrunk toward (the company's), one row or one per territory.
    n_deals
        Deals per territory behind its own profile.
    shrink_deals
        Deal count at which own and level profile weigh the same.

    Returns
    -------
    shares : numpy.ndarray
        The blended shares.
    weight : numpy.ndarray
        Weight on the level profile per territory.
    """
    own_arr = np.atleast_2d(np.asarray(own, dtype=np.float64))
    level_arr = np.asarray(level, dtype=np.float64)
    deals = np.broadcast_to(np.asarray(n_deals, dtype=np.float64), (own_arr.shape[0],))
    den = shrink_deals + deals
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = np.where(np.isnan(deals) | (den <= 0), 1.0, shrink_deals / den)
    lam = np.where(np.isnan(own_arr).any(axis=1), 1.0, lam)
    blended = lam[:, None] * level_arr[None, :] + (1.0 - lam[:, None]) * np.nan_to_num(own_arr)
    return np.asarray(blended, dtype=np.float64), np.asarray(lam, dtype=np.float64)


# --------------------------------------------------------------------------------------------
# Over-assignment trade-off
# --------------------------------------------------------------------------------------------


def share_at_quota(over_assignment_factor: float, sigma: float) -> float:
    """Share of reps at or above quota when the company lands exactly on plan (spec §1.4).

    Attainment is lognormal with log-sd ``sigma`` and mean ``1 / factor``, which gives
    ``Phi((-ln factor - sigma^2 / 2) / sigma)``.

    Parameters
    ----------
    over_assignment_factor
        Compounded over-assignment factor (1.1 for 10%).
    sigma
        Log-sd of rep attainment.

    Returns
    -------
    float
        Share of reps at quota, between 0 and 1.
    """
    z = (-math.log(over_assignment_factor) - sigma * sigma / 2.0) / sigma
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def half_at_quota_bound(sigma: float) -> float:
    """Largest over-assignment at which half the reps still reach quota on plan: e^(-s^2/2)-1.

    Parameters
    ----------
    sigma
        Log-sd of rep attainment.

    Returns
    -------
    float
        The over-assignment rate (0.03 for 3%).
    """
    return math.exp(-sigma * sigma / 2.0) - 1.0
