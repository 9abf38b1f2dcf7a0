"""Quota setting: turn the company number into territory quotas that add up to it to the cent.

The steps run in the order the quota spec fixes (§1.9): split the street total on a basis
(history, potential, untapped potential, a blend, capacity or an even split), bound each
territory's change against last year and water-fill what the bounds push out, scale new hires
by their ramp, hold vacant territories under a ``TBH-`` id, round to the cent, then split each
annual quota into quarters or months. Every split goes through one kernel, :func:`allocate`, so
no step can lose or invent a cent.

Pure domain code: frames and arrays in, frames and numbers out; no file I/O, no solver.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt
import pandas as pd

from territory.contract import MAX_TOTAL_MAGNITUDE
from territory.errors import (
    DataValidationError,
    InfeasibilityReason,
    InfeasibleError,
    InputProblem,
    ScenarioError,
)

__all__ = [
    "DEFAULT_ROLE_HISTORY_WEIGHTS",
    "HISTORY_COLUMNS",
    "METHODS",
    "AccuracyRule",
    "BacktestResult",
    "QuotaConfig",
    "QuotaMethod",
    "QuotaPlan",
    "QuotaSummary",
    "RampSchedule",
    "Seasonality",
    "YearlyCaps",
    "allocate",
    "backtest",
    "blended_weights",
    "capacity_weights",
    "even_weights",
    "half_at_quota_bound",
    "historical_weights",
    "history_baseline",
    "peer_weights",
    "plan_quotas",
    "potential_weights",
    "quotas_long",
    "ramp_months",
    "rebase_prior_quota",
    "role_history_weights",
    "seasonality_shares",
    "set_quotas",
    "share_at_quota",
    "shrink_profile",
    "split_periods",
    "territory_history",
    "untapped_weights",
    "yearly_bounds",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ObjectArray = npt.NDArray[np.object_]

MethodName = Literal["historical", "potential", "untapped", "blended", "capacity", "even"]
METHODS: tuple[str, ...] = get_args(MethodName)
"""Allocation bases :class:`QuotaMethod` can select."""

HISTORY_COLUMNS = ("history", "history_prev", "history_prev2")
"""Territory revenue of last year, the year before and the one before that (re-based)."""

DEFAULT_ROLE_HISTORY_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"account_manager": 0.7, "farmer": 0.7, "mixed": 0.5, "hunter": 0.3, "new_logo": 0.3}
)
"""Blended weight on history by role (spec §1.3 [D]): repeat business leans on history."""

_HISTORY_METHODS = frozenset({"historical", "untapped", "blended"})
_MONTHS = 12
_SOURCE = "territories"
_MAX_ROWS_PER_PROBLEM = 10
_LIMIT_TEXT = f"{MAX_TOTAL_MAGNITUDE:.0e}".replace("e+", "e")  # "1e18" in messages

# Account columns that territory_history sums per territory, and the column each one feeds.
_ACCOUNT_HISTORY = MappingProxyType(
    {
        "revenue_last_year": "history",
        "revenue_prior_year": "history_prev",
        "revenue_two_years_ago": "history_prev2",
        "quota_last_year": "prior_quota",
    }
)


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuotaMethod:
    """Which basis splits the street total, with the basis's parameters (spec §1.1-1.5).

    ``name`` picks the basis: ``historical`` (history, optionally a multi-year weighted
    baseline), ``potential`` (share of territory potential), ``untapped`` (history kept, the
    growth increment spread by headroom or by potential, ``increment_basis``), ``blended``
    (history and potential shares mixed with a weight per role), ``capacity`` (full
    productivity x FTE x availability, ramp applied later) or ``even``.

    ``year_weights`` weigh last year, the year before and the one before that (most recent
    first; (2, 1, 1) is the textbook 2-1-1 weighting). ``growth`` only feeds the bottom-up total
    that the top-down number is compared with: a uniform growth rate cancels out of a
    proportional split. ``None`` takes the company's growth over the last two years.

    ``history_weight`` fixes one blend weight for every territory; ``None`` looks it up by role
    in ``role_history_weights`` (roles not listed get ``other_role_history_weight``).

    ``new_territory_rule`` says how territories without history are sized under the history
    bases: ``potential`` (blended: weight 0 on history; historical and untapped: the company's
    quota-per-potential ratio) or ``peer`` (the median ratio of peers with the same segment,
    role and potential decile, widening the peer group until someone qualifies). Either way the
    territory is labelled ``potential_peer``.

    ``full_productivity`` is a fully ramped rep's annual sales by role (currency/year); without
    it the capacity basis uses ``quota_to_ote`` x the ``ote`` column, or else the median
    history per FTE of reps that were fully ramped all of last year.
    """

    name: MethodName = "blended"
    year_weights: tuple[float, ...] = (1.0,)
    growth: float | None = None
    increment_basis: Literal["headroom", "potential"] = "headroom"
    history_weight: float | None = None
    role_history_weights: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_ROLE_HISTORY_WEIGHTS)
    )
    other_role_history_weight: float = 0.5
    new_territory_rule: Literal["potential", "peer"] = "potential"
    full_productivity: Mapping[str, float] | None = None
    quota_to_ote: float | None = None


@dataclass(frozen=True)
class YearlyCaps:
    """How far a territory's quota may move against last year (spec §1.7 [D]).

    Bounds are ``reference x (1 + min_change)`` and ``reference x (1 + max_change)``, where the
    reference is last year's quota re-based to the new alignment (column ``prior_quota``) or
    last year's revenue (column ``history``). Territories without a reference are not capped.
    A territory whose potential moved by more than ``exempt_potential_change`` in the
    realignment (column ``potential_before``) is exempt: the cap stops arbitrary swings, not
    ones the new alignment explains. ``None`` exempts nobody.
    """

    min_change: float = -0.15
    max_change: float = 0.25
    exempt_potential_change: float | None = 0.10
    reference: Literal["prior_quota", "history"] = "prior_quota"


@dataclass(frozen=True)
class RampSchedule:
    """Share of full productivity a new rep reaches in each month since starting (spec §1.5).

    ``monthly[0]`` is the first month; the last value holds from then on. The default is the
    mid-market schedule [D].
    """

    name: str = "mid_market"
    monthly: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class Seasonality:
    """How annual quotas are split over the year (spec §1.6).

    ``profile`` (one share per period) is the company profile; without it the profile comes
    from ``period_sales`` history (the last ``history_years`` complete years), and with less
    than one complete year the split is even. A territory's own pattern is shrunk toward the
    company profile with weight ``shrink_deals / (shrink_deals + n_deals)``, so a territory
    with few deals follows the company; without an ``n_deals`` column every territory does.
    """

    periods: Literal["quarter", "month"] = "quarter"
    profile: tuple[float, ...] | None = None
    history_years: int = 3
    shrink_deals: float = 20.0

    @property
    def n_periods(self) -> int:
        """Number of periods per year."""
        return 4 if self.periods == "quarter" else _MONTHS

    @property
    def columns(self) -> tuple[str, ...]:
        """Period column names in quotas.csv (q1..q4 or m01..m12)."""
        if self.periods == "quarter":
            return tuple(f"q{i}" for i in range(1, 5))
        return tuple(f"m{i:02d}" for i in range(1, _MONTHS + 1))


@dataclass(frozen=True)
class QuotaConfig:
    """Everything that shapes the quotas besides the territory data.

    The street total is ``(company_target - non_quota_revenue) x over_assignment_factor``,
    where ``over_assignment`` is one rate or one rate per management level (they compound,
    spec §1.4). ``capacity_stretch`` flags quotas above capacity x (1 + stretch);
    ``over_assignment_warn``/``_fail`` grade the compounded rate and ``attainment_sigma`` (rep
    log-sd of attainment, spec §2.3) prices it in share of reps at quota.
    """

    company_target: float
    non_quota_revenue: float = 0.0
    over_assignment: float | tuple[float, ...] = 0.10
    method: QuotaMethod = field(default_factory=QuotaMethod)
    caps: YearlyCaps | None = field(default_factory=YearlyCaps)
    ramp: RampSchedule = field(default_factory=RampSchedule)
    seasonality: Seasonality = field(default_factory=Seasonality)
    capacity_stretch: float = 0.10
    over_assignment_warn: float = 0.20
    over_assignment_fail: float = 0.50
    attainment_sigma: float = 0.25
    plan_year: int | None = None
    measure: str = "revenue"
    currency: str = "USD"

    @property
    def over_assignment_levels(self) -> tuple[float, ...]:
        """Over-assignment per management level."""
        oa = self.over_assignment
        return (float(oa),) if isinstance(oa, int | float) else tuple(float(x) for x in oa)

    @property
    def over_assignment_factor(self) -> float:
        """Compounded factor: the product of (1 + rate) over the levels."""
        return math.prod(1.0 + x for x in self.over_assignment_levels)

    @property
    def street_total(self) -> float:
        """Sum of all quotas, in currency, rounded to the cent."""
        raw = (self.company_target - self.non_quota_revenue) * self.over_assignment_factor
        return _cents(raw) / 100.0


@dataclass(frozen=True)
class AccuracyRule:
    """Bands for the quota-accuracy backtest (spec §3, C8).

    The company is accurate when ``|actual - plan| / plan <= company_tolerance``; quota WMAPE
    passes at ``wmape_pass`` and warns up to ``wmape_warn``. The narrow and wide bands count
    territories whose attainment of the rescaled quota lies within ±band of 100%.
    """

    company_tolerance: float = 0.10
    wmape_pass: float = 0.10
    wmape_warn: float = 0.20
    narrow_band: float = 0.10
    wide_band: float = 0.20


# --------------------------------------------------------------------------------------------
# Allocation kernel
# --------------------------------------------------------------------------------------------


def _cents(amount: float) -> int:
    return int(np.rint(amount * 100.0))


def _label(labels: Sequence[str] | None, i: int) -> str:
    return str(labels[i]) if labels is not None else f"territory #{i}"


def _bounds_in_cents(
    n: int, floors: npt.ArrayLike | None, ceilings: npt.ArrayLike | None
) -> tuple[FloatArray, FloatArray]:
    """Floors rounded up and ceilings rounded down to whole cents, so rounding never breaks them."""
    lo = np.zeros(n)
    hi = np.full(n, np.inf)
    if floors is not None:
        f = np.broadcast_to(np.asarray(floors, dtype=np.float64), (n,))
        f = np.where(np.isnan(f), 0.0, np.maximum(f, 0.0))
        lo = np.ceil(np.round(f * 100.0, 4))
    if ceilings is not None:
        c = np.broadcast_to(np.asarray(ceilings, dtype=np.float64), (n,))
        c = np.where(np.isnan(c), np.inf, c)
        hi = np.where(np.isinf(c), np.inf, np.floor(np.round(c * 100.0, 4)))
    return lo, hi


def _check_feasible(
    total_c: int, lo: FloatArray, hi: FloatArray, labels: Sequence[str] | None
) -> None:
    reasons: list[InfeasibilityReason] = []
    for i in np.flatnonzero(lo > hi)[:_MAX_ROWS_PER_PROBLEM].tolist():
        reasons.append(
            InfeasibilityReason(
                constraint="quota_bounds",
                subject=_label(labels, i),
                message=(
                    f"{_label(labels, i)}: floor {lo[i] / 100:,.2f} is above its ceiling "
                    f"{hi[i] / 100:,.2f}"
                ),
                excess=float(lo[i] - hi[i]) / 100,
            )
        )
    floor_sum = float(lo.sum())
    if floor_sum > total_c:
        top = np.argsort(-lo, kind="stable")[:3].tolist()
        biggest = ", ".join(f"{_label(labels, i)} {lo[i] / 100:,.2f}" for i in top)
        reasons.append(
            InfeasibilityReason(
                constraint="quota_floors",
                subject="all territories",
                message=(
                    f"the floors add up to {floor_sum / 100:,.2f}, which is "
                    f"{(floor_sum - total_c) / 100:,.2f} more than the {total_c / 100:,.2f} to "
                    f"allocate (largest floors: {biggest})"
                ),
                excess=(floor_sum - total_c) / 100,
            )
        )
    ceiling_sum = float(hi.sum())
    if ceiling_sum < total_c:
        top = np.argsort(hi, kind="stable")[:3].tolist()
        smallest = ", ".join(f"{_label(labels, i)} {hi[i] / 100:,.2f}" for i in top)
        reasons.append(
            InfeasibilityReason(
                constraint="quota_ceilings",
                subject="all territories",
                message=(
                    f"the ceilings add up to {ceiling_sum / 100:,.2f}, which is "
                    f"{(total_c - ceiling_sum) / 100:,.2f} less than the {total_c / 100:,.2f} "
                    f"to allocate (smallest ceilings: {smallest})"
                ),
                excess=(total_c - ceiling_sum) / 100,
            )
        )
    if reasons:
        raise InfeasibleError(
            reasons, hint="Lower the floors, raise the ceilings or change the total."
        )


def _water_fill(
    total_c: int, weights: FloatArray, lo: FloatArray, hi: FloatArray
) -> tuple[FloatArray, npt.NDArray[np.int8]]:
    """Proportional split with bounds, in (fractional) cents; state -1 floor, +1 ceiling.

    Each round splits what the clamped territories leave over the free ones by weight, then
    clamps the side that is further out of bounds: if the excess over ceilings is at least the
    shortfall under floors, the final multiplier can only be higher, so every territory now
    above its ceiling ends there too (and symmetrically). That makes each clamp final and the
    result equal to ``clip(lambda x weight, floor, ceiling)`` for the one lambda that meets the
    total. Territories without weight share evenly what the weighted ones cannot hold.
    """
    n = weights.shape[0]
    x = np.zeros(n)
    state = np.zeros(n, dtype=np.int8)
    fixed = lo >= hi
    x[fixed] = lo[fixed]
    state[fixed] = -1
    free = ~fixed
    tol = 1e-6 + 1e-13 * abs(total_c)
    for _ in range(n + 1):
        idx = np.flatnonzero(free)
        if idx.size == 0:
            break
        remaining = total_c - float(x[~free].sum())
        w = weights[idx]
        if float(w.sum()) <= 0.0:
            w = np.ones(idx.size)
        share = remaining * w / float(w.sum())
        under = lo[idx] - share
        over = share - hi[idx]
        deficit = float(under[under > tol].sum())
        excess = float(over[over > tol].sum())
        if deficit <= 0.0 and excess <= 0.0:
            x[idx] = share
            break
        if excess >= deficit:
            hit = idx[over > tol]
            x[hit], state[hit] = hi[hit], 1
        else:
            hit = idx[under > tol]
            x[hit], state[hit] = lo[hit], -1
        free[hit] = False
    return x, state


def _round_largest_remainder(
    x: FloatArray, total_c: int, lo: FloatArray, hi: FloatArray, weights: FloatArray
) -> IntArray:
    """Whole cents summing to ``total_c``: floor everything, then hand out the missing cents.

    Cents go to the largest fractional parts (ties to the larger weight, then the earlier
    position), never past a bound, so the rounded split is as close to the exact one as cents
    allow and stays monotone in weight.
    """
    n = x.shape[0]
    base = np.clip(np.floor(x + 1e-7), lo, hi)
    frac = x - base
    position = np.arange(n)
    missing = int(total_c - round(float(base.sum())))
    while missing != 0:
        if missing > 0:
            order = np.lexsort((position, -weights, -frac))
            order = order[base[order] + 1 <= hi[order]][:missing]
            base[order] += 1
        else:
            order = np.lexsort((position, weights, frac))
            order = order[base[order] - 1 >= lo[order]][:-missing]
            base[order] -= 1
        if order.size == 0:
            raise RuntimeError("rounding could not meet the total; the bounds leave no room")
        missing = int(total_c - round(float(base.sum())))
    return base.astype(np.int64)


def _allocate_cents(
    total: float,
    weights: npt.ArrayLike,
    floors: npt.ArrayLike | None = None,
    ceilings: npt.ArrayLike | None = None,
    labels: Sequence[str] | None = None,
) -> tuple[IntArray, npt.NDArray[np.int8]]:
    w = np.asarray(weights, dtype=np.float64).ravel()
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        where = ", ".join(_label(labels, i) for i in np.flatnonzero(bad)[:5].tolist())
        raise ValueError(f"weights must be finite and 0 or more; check {where}")
    if not math.isfinite(total):
        raise ValueError(f"the total to allocate must be a finite amount, got {total}")
    if w.size and float(w.max()) > 0:
        w = w / float(w.max())  # the split only depends on ratios; this keeps sums finite
    total_c = _cents(total)
    lo, hi = _bounds_in_cents(w.shape[0], floors, ceilings)
    _check_feasible(total_c, lo, hi, labels)
    if w.shape[0] == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int8)
    x, state = _water_fill(total_c, w, lo, hi)
    return _round_largest_remainder(x, total_c, lo, hi, w), state


def allocate(
    total: float,
    weights: npt.ArrayLike,
    *,
    floors: npt.ArrayLike | None = None,
    ceilings: npt.ArrayLike | None = None,
    labels: Sequence[str] | None = None,
) -> FloatArray:
    """Split ``total`` in proportion to ``weights`` within per-territory floors and ceilings.

    What a bound pushes out is water-filled over the territories still free, round after
    round, until no bound is crossed; the amounts are then rounded to cents with a
    largest-remainder correction, so they add up to ``total`` (rounded to the cent) exactly.

    Parameters
    ----------
    total
        Amount to split, in currency.
    weights
        One non-negative weight per territory. Zero-weight territories get their floor, plus an
        even share of whatever the weighted ones cannot hold under their ceilings.
    floors, ceilings
        Optional bounds per territory (NaN means none; negative floors count as 0, so the
        result is never negative).
    labels
        Territory ids, used to name territories in error messages.

    Returns
    -------
    Amounts in currency, whole cents.

    Raises
    ------
    InfeasibleError
        When the floors add up to more than the total, the ceilings to less, or a floor lies
        above its ceiling; the reasons give the sums and the gap.
    """
    cents, _ = _allocate_cents(total, weights, floors, ceilings, labels)
    return cents / 100.0


def _split_rows_cents(annual_c: IntArray, shares: FloatArray) -> IntArray:
    """Split each row's whole cents over its periods by the row's shares, exactly."""
    n, p = shares.shape
    s = np.where(np.isfinite(shares) & (shares > 0), shares, 0.0)
    row_sum = s.sum(axis=1, keepdims=True)
    s = np.where(row_sum > 0, s / np.where(row_sum > 0, row_sum, 1.0), 1.0 / p)
    x = annual_c[:, None].astype(np.float64) * s
    base = np.maximum(np.floor(x + 1e-7), 0.0)
    missing = annual_c - np.rint(base.sum(axis=1)).astype(np.int64)
    frac = x - base
    column = np.broadcast_to(np.arange(p), (n, p))
    order = np.lexsort((column, -s, -frac), axis=-1)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, column, axis=1)
    add = (rank < missing[:, None]) & (missing[:, None] > 0)
    cut = (rank >= p + missing[:, None]) & (missing[:, None] < 0)
    return (base + add - cut).astype(np.int64)


def split_periods(annual: npt.ArrayLike, shares: npt.ArrayLike) -> FloatArray:
    """Split each annual amount over periods by its row of shares, each row exact to the cent.

    ``shares`` has one row per territory and one column per period; rows need not sum to 1
    and a row of zeros splits evenly.
    """
    annual_c = np.rint(np.asarray(annual, dtype=np.float64) * 100.0).astype(np.int64)
    return _split_rows_cents(annual_c, np.atleast_2d(np.asarray(shares, dtype=np.float64))) / 100


# --------------------------------------------------------------------------------------------
# Allocation bases: each returns one weight per territory (NaN where it cannot tell)
# --------------------------------------------------------------------------------------------


def history_baseline(history: npt.ArrayLike, year_weights: Sequence[float] = (1.0,)) -> FloatArray:
    """Weighted average of the known years per territory; NaN where no year is known.

    ``history`` has one column per year, most recent first. A territory missing an older year
    averages over the years it has, so a young territory is not dragged down by zeros.
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
    """History x (1 + growth) (spec §1.1); NaN marks a territory without history."""
    return np.asarray(baseline, dtype=np.float64) * (1.0 + growth)


def potential_weights(potential: npt.ArrayLike) -> FloatArray:
    """Territory potential itself: quotas become a share of potential (spec §1.2)."""
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
    """Sales capacity in currency/year: productivity x FTE x availability x ramp (spec §1.5)."""
    return np.asarray(
        np.asarray(full_productivity, dtype=np.float64)
        * np.asarray(fte, dtype=np.float64)
        * np.asarray(availability, dtype=np.float64)
        * np.asarray(ramp_factor, dtype=np.float64),
        dtype=np.float64,
    )


def even_weights(n: int) -> FloatArray:
    """The same weight for every territory (Varicent's "even split")."""
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
    """Blend weight on history per territory from its role; unknown roles get ``other``."""
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
        rows = np.flatnonzero(bad.to_numpy())[:_MAX_ROWS_PER_PROBLEM]
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
    """
    z = (-math.log(over_assignment_factor) - sigma * sigma / 2.0) / sigma
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def half_at_quota_bound(sigma: float) -> float:
    """Largest over-assignment at which half the reps still reach quota on plan: e^(-s^2/2)-1."""
    return math.exp(-sigma * sigma / 2.0) - 1.0


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


def _blank(values: pd.Series) -> BoolArray:
    text = values.astype(str).str.strip()
    return np.asarray(values.isna().to_numpy() | (text == "").to_numpy(), dtype=np.bool_)


def _row_problems(
    mask: BoolArray, column: str, message: str, fix: str, source: str = _SOURCE
) -> list[InputProblem]:
    rows = np.flatnonzero(mask)
    problems = [
        InputProblem(source, int(r) + 2, column, message, fix)
        for r in rows[:_MAX_ROWS_PER_PROBLEM].tolist()
    ]
    if rows.size > _MAX_ROWS_PER_PROBLEM:
        problems.append(
            InputProblem(
                source,
                None,
                column,
                f"{rows.size - _MAX_ROWS_PER_PROBLEM} more row(s) with the same problem",
                fix,
            )
        )
    return problems


def _numbers(
    frame: pd.DataFrame,
    column: str,
    problems: list[InputProblem],
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    required: bool = False,
    meaning: str = "",
) -> FloatArray:
    """A numeric column as floats (NaN for blanks), recording what is wrong with it."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    blank = _blank(raw)
    problems += _row_problems(
        np.isnan(values) & ~blank,
        column,
        f"is not a number ({meaning})",
        "write a plain number without currency symbols or thousands separators",
    )
    if required:
        problems += _row_problems(
            blank, column, f"is blank ({meaning})", "fill in a value for every row"
        )
    with np.errstate(invalid="ignore"):
        huge = np.isinf(values) | (np.abs(values) > MAX_TOTAL_MAGNITUDE)
    for r in np.flatnonzero(huge)[:_MAX_ROWS_PER_PROBLEM].tolist():
        problems.append(
            InputProblem(
                _SOURCE,
                r + 2,
                column,
                f"{float(values[r])!r} is beyond the largest magnitude supported "
                f"({_LIMIT_TEXT}; {meaning})",
                "correct the value (a stray exponent or a unit mix-up?)",
            )
        )
    values = np.where(huge, np.nan, values)
    out_of_range = np.zeros(len(frame), dtype=bool)
    if low is not None:
        out_of_range |= (values <= low) if low_open else (values < low)
    if high is not None:
        out_of_range |= values > high
    problems += _row_problems(
        out_of_range & ~np.isnan(values),
        column,
        f"is out of range ({meaning})",
        "correct the value",
    )
    return values


@dataclass(frozen=True, eq=False)
class _Inputs:
    """The territories frame as arrays; NaN marks an unknown number."""

    frame: pd.DataFrame
    territory_id: ObjectArray
    rep_key: ObjectArray
    rep_id: ObjectArray
    vacant: BoolArray
    role: ObjectArray
    potential: FloatArray
    history: FloatArray
    fte: FloatArray
    availability: FloatArray
    tenure: FloatArray
    hire_month: FloatArray
    prior_quota: FloatArray
    potential_before: FloatArray
    ote: FloatArray
    n_deals: FloatArray

    @property
    def n(self) -> int:
        return int(self.potential.shape[0])

    def text(self, column: str) -> ObjectArray:
        """An optional text column as objects (None where blank or absent)."""
        if column not in self.frame.columns:
            return np.full(self.n, None, dtype=object)
        values = self.frame[column]
        out = values.astype(str).str.strip().to_numpy(dtype=object)
        out[_blank(values)] = None
        return out


_TRUE = frozenset({"1", "true", "yes", "y", "t", "1.0"})


def _read_inputs(territories: pd.DataFrame, config: QuotaConfig) -> _Inputs:
    frame = territories.reset_index(drop=True)
    n = len(frame)
    problems: list[InputProblem] = []
    for column, fix in (
        ("rep_id", "add the rep id of each territory (blank for a vacant territory)"),
        ("potential", "add each territory's potential, e.g. from territories.csv"),
    ):
        if column not in frame.columns:
            problems.append(InputProblem(_SOURCE, None, column, "column is missing", fix))
    if problems:
        raise DataValidationError(problems)

    rep_blank = _blank(frame["rep_id"])
    rep_text = frame["rep_id"].astype(str).str.strip().to_numpy(dtype=object)
    has_tid = "territory_id" in frame.columns
    tid_blank = _blank(frame["territory_id"]) if has_tid else np.ones(n, dtype=bool)
    territory_id = np.where(
        tid_blank, rep_text, frame["territory_id"].astype(str).str.strip() if has_tid else ""
    ).astype(object)
    problems += _row_problems(
        rep_blank & tid_blank,
        "rep_id",
        "is blank and the row has no territory_id, so a vacant territory cannot be named",
        "give the row a territory_id (its quota is then held by TBH-<territory_id>)",
    )
    dup = pd.Series(territory_id).duplicated(keep=False).to_numpy() & ~(rep_blank & tid_blank)
    problems += _row_problems(
        dup,
        "territory_id" if has_tid else "rep_id",
        "appears more than once; each territory needs one row",
        "merge the duplicate rows or give them distinct ids",
    )

    potential = _numbers(
        frame, "potential", problems, low=0.0, required=True, meaning="currency/year, 0 or more"
    )
    history = np.column_stack(
        [
            _numbers(frame, c, problems, low=0.0, meaning="revenue in currency, 0 or more")
            for c in HISTORY_COLUMNS
        ]
    )
    fte = _numbers(frame, "fte", problems, low=0.0, low_open=True, meaning="more than 0")
    availability = _numbers(
        frame, "availability", problems, low=0.0, high=1.0, meaning="share of the year, 0..1"
    )
    tenure = _numbers(frame, "tenure_months", problems, low=0.0, meaning="months, 0 or more")
    hire_month = _numbers(frame, "hire_month", problems, low=1.0, high=12.0, meaning="1..12")
    prior_quota = _numbers(frame, "prior_quota", problems, low=0.0, meaning="0 or more")
    potential_before = _numbers(frame, "potential_before", problems, low=0.0, meaning=">= 0")
    ote = _numbers(frame, "ote", problems, low=0.0, meaning="currency/year, 0 or more")
    n_deals = _numbers(frame, "n_deals", problems, low=0.0, meaning="deals/year, 0 or more")

    method = config.method
    if method.name in {"historical", "untapped"}:
        if "history" not in frame.columns:
            problems.append(
                InputProblem(
                    _SOURCE,
                    None,
                    "history",
                    f"column is missing; the {method.name} method needs last year's revenue",
                    "merge territory_history(accounts, assignments) on rep_id, or use the "
                    "potential or blended method",
                )
            )
        elif np.isnan(history_baseline(history, method.year_weights)).all():
            problems.append(
                InputProblem(
                    _SOURCE,
                    None,
                    "history",
                    f"no territory has history, so the {method.name} method has nothing to scale",
                    "fill in last year's revenue or use the potential or blended method",
                )
            )
    if (
        config.caps is not None
        and config.caps.reference == "history"
        and "history" not in frame.columns
    ):
        problems.append(
            InputProblem(
                _SOURCE,
                None,
                "history",
                "column is missing; the yearly caps are set to use last year's revenue",
                "merge territory_history(accounts, assignments) on rep_id, or set "
                "caps.reference to 'prior_quota'",
            )
        )
    if problems:
        raise DataValidationError(problems)

    if "vacant" in frame.columns:
        flag = frame["vacant"].astype(str).str.strip().str.lower().isin(_TRUE).to_numpy()
    else:
        flag = np.zeros(n, dtype=bool)
    tbh = np.array([str(r).upper().startswith("TBH-") for r in rep_text], dtype=bool)
    vacant = flag | rep_blank | tbh
    rep_id = np.where(
        vacant & ~tbh, np.array([f"TBH-{t}" for t in territory_id], dtype=object), rep_text
    ).astype(object)
    roles = (
        frame["role"].to_numpy(dtype=object)
        if "role" in frame.columns
        else np.full(n, None, dtype=object)
    )
    return _Inputs(
        frame=frame,
        territory_id=territory_id,
        rep_key=np.array(
            [None if b else r for b, r in zip(rep_blank, rep_text, strict=True)], dtype=object
        ),
        rep_id=rep_id,
        vacant=np.asarray(vacant, dtype=np.bool_),
        role=np.array([_normalise_role(r) for r in roles], dtype=object),
        potential=potential,
        history=history,
        fte=np.where(np.isnan(fte), 1.0, fte),
        availability=np.where(np.isnan(availability), 1.0, availability),
        tenure=tenure,
        hire_month=hire_month,
        prior_quota=prior_quota,
        potential_before=potential_before,
        ote=ote,
        n_deals=n_deals,
    )


def territory_history(
    accounts: pd.DataFrame,
    assignments: pd.DataFrame | Sequence[object] | npt.NDArray[Any],
    reps: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Re-base account history to the new territories: one row per rep.

    History follows the accounts, not the old territory (spec §0), so each account's
    ``revenue_last_year`` is summed under the rep the new plan gives it. Optional account
    columns ``revenue_prior_year``, ``revenue_two_years_ago`` and ``quota_last_year`` become
    ``history_prev``, ``history_prev2`` and ``prior_quota`` the same way. A territory whose
    accounts all lack a value gets NaN, which the quota methods read as "no history yet"
    (unlike 0, "no revenue"). ``potential_before`` sums potential under ``current_rep``, to
    exempt territories that the realignment changed from the yearly caps.

    Parameters
    ----------
    accounts
        Accounts table with ``account_id`` and ``potential`` (and the optional columns above).
    assignments
        ``assignments.csv`` (``account_id``, ``rep_id``), or the rep id of every account in
        the accounts' row order.
    reps
        Optional reps table: its order and ``role`` column are carried over, and reps without
        accounts still get a row.

    Returns
    -------
    Columns ``rep_id`` and whichever of ``history``, ``history_prev``, ``history_prev2``,
    ``prior_quota``, ``potential_before`` and ``role`` the inputs allow; merge it into the
    territories table on ``rep_id``.
    """
    problems = [
        InputProblem("accounts", None, c, "column is missing", f"add the '{c}' column")
        for c in ("account_id", "potential")
        if c not in accounts.columns
    ]
    if isinstance(assignments, pd.DataFrame):
        problems += [
            InputProblem("assignments", None, c, "column is missing", f"add the '{c}' column")
            for c in ("account_id", "rep_id")
            if c not in assignments.columns
        ]
    if problems:
        raise DataValidationError(problems)
    account_ids = accounts["account_id"].astype(str)
    if isinstance(assignments, pd.DataFrame):
        lookup = pd.Series(
            assignments["rep_id"].astype(str).to_numpy(),
            index=assignments["account_id"].astype(str).to_numpy(),
        )
        lookup = lookup[~lookup.index.duplicated(keep="last")]
        plan = account_ids.map(lookup)
    else:
        plan = pd.Series(np.asarray(assignments, dtype=object), dtype=object)
        if len(plan) != len(accounts):
            raise DataValidationError(
                [
                    InputProblem(
                        "assignments",
                        None,
                        None,
                        f"has {len(plan)} entries for {len(accounts)} accounts",
                        "pass one rep id per account, in the accounts' row order",
                    )
                ]
            )
        plan = plan.astype(str)
    missing = plan.isna().to_numpy()
    if missing.any():
        raise DataValidationError(
            _row_problems(
                missing,
                "account_id",
                "has no rep in the assignments",
                "assign every account before setting quotas",
                source="accounts",
            )
        )
    if reps is not None:
        rep_order = reps["rep_id"].astype(str).tolist()
    else:
        rep_order = sorted(set(plan.tolist()))
    out = pd.DataFrame({"rep_id": rep_order})
    keys = plan.to_numpy()
    for source, target in _ACCOUNT_HISTORY.items():
        if source in accounts.columns:
            values = pd.to_numeric(accounts[source], errors="coerce").to_numpy(np.float64)
            sums = pd.Series(values).groupby(keys).sum(min_count=1)
            out[target] = out["rep_id"].map(sums).to_numpy(dtype=np.float64)
    if "current_rep" in accounts.columns:
        current = accounts["current_rep"]
        known = ~_blank(current)
        potential = pd.to_numeric(accounts["potential"], errors="coerce").to_numpy(np.float64)
        before = (
            pd.Series(potential[known])
            .groupby(current[known].astype(str).str.strip().to_numpy())
            .sum()
        )
        out["potential_before"] = out["rep_id"].map(before).fillna(0.0).to_numpy(np.float64)
    if reps is not None and "role" in reps.columns:
        out["role"] = reps["role"].to_numpy(dtype=object)
    return out


# --------------------------------------------------------------------------------------------
# The pipeline
# --------------------------------------------------------------------------------------------


def _check_config(config: QuotaConfig) -> None:
    """Reject settings that make no sense, naming the key and what is allowed."""
    errors: list[str] = []
    m, s = config.method, config.seasonality

    def need(ok: bool, key: str, value: object, allowed: str) -> None:
        if not ok:
            errors.append(f"quota config key '{key}' is {value!r}; {allowed}")

    def finite(x: float) -> bool:
        # Also bounded: a target of 1e308 is finite but overflows every sum built from it.
        return isinstance(x, int | float) and math.isfinite(x) and abs(x) <= MAX_TOTAL_MAGNITUDE

    need(
        finite(config.company_target) and config.company_target > 0,
        "company_target",
        config.company_target,
        f"use the plan in currency, more than 0 and at most {_LIMIT_TEXT}",
    )
    need(
        finite(config.non_quota_revenue) and 0 <= config.non_quota_revenue <= config.company_target,
        "non_quota_revenue",
        config.non_quota_revenue,
        "use an amount between 0 and company_target",
    )
    need(
        all(finite(x) and x > -1 for x in config.over_assignment_levels),
        "over_assignment",
        config.over_assignment,
        "use rates above -1, e.g. 0.10 or (0.10, 0.05) for two levels",
    )
    need(m.name in METHODS, "method.name", m.name, f"possible options are {list(METHODS)}")
    need(
        m.increment_basis in ("headroom", "potential"),
        "method.increment_basis",
        m.increment_basis,
        "possible options are ['headroom', 'potential']",
    )
    need(
        m.new_territory_rule in ("potential", "peer"),
        "method.new_territory_rule",
        m.new_territory_rule,
        "possible options are ['potential', 'peer']",
    )
    need(
        1 <= len(m.year_weights) <= len(HISTORY_COLUMNS)
        and all(finite(x) and x >= 0 for x in m.year_weights)
        and sum(m.year_weights) > 0,
        "method.year_weights",
        m.year_weights,
        f"give 1 to {len(HISTORY_COLUMNS)} non-negative weights, most recent year first",
    )
    blend = [m.other_role_history_weight, *m.role_history_weights.values()]
    if m.history_weight is not None:
        blend.append(m.history_weight)
    need(
        all(finite(x) and 0 <= x <= 1 for x in blend),
        "method.history_weight",
        blend,
        "blend weights lie between 0 and 1",
    )
    if m.full_productivity is not None:
        need(
            all(finite(x) and x >= 0 for x in m.full_productivity.values()),
            "method.full_productivity",
            dict(m.full_productivity),
            "give a non-negative amount per role",
        )
    if m.quota_to_ote is not None:
        need(
            finite(m.quota_to_ote) and m.quota_to_ote > 0,
            "method.quota_to_ote",
            m.quota_to_ote,
            "use a ratio above 0",
        )
    if config.caps is not None:
        c = config.caps
        need(
            finite(c.min_change) and finite(c.max_change) and -1 <= c.min_change <= c.max_change,
            "caps.min_change/max_change",
            (c.min_change, c.max_change),
            "need -1 <= min_change <= max_change",
        )
        need(
            c.reference in ("prior_quota", "history"),
            "caps.reference",
            c.reference,
            "possible options are ['prior_quota', 'history']",
        )
    ramp = config.ramp.monthly
    need(
        len(ramp) > 0 and all(finite(x) and 0 <= x <= 1 for x in ramp) and ramp[-1] > 0,
        "ramp.monthly",
        ramp,
        "give monthly shares between 0 and 1, ending above 0",
    )
    need(
        s.periods in ("quarter", "month"),
        "seasonality.periods",
        s.periods,
        "possible options are ['quarter', 'month']",
    )
    if s.profile is not None and s.periods in ("quarter", "month"):
        need(
            len(s.profile) == s.n_periods
            and all(finite(x) and x >= 0 for x in s.profile)
            and sum(s.profile) > 0,
            "seasonality.profile",
            s.profile,
            f"give {s.n_periods} non-negative shares with a positive sum",
        )
    need(s.history_years >= 1, "seasonality.history_years", s.history_years, "use 1 or more")
    need(s.shrink_deals >= 0, "seasonality.shrink_deals", s.shrink_deals, "use 0 or more")
    need(config.capacity_stretch >= 0, "capacity_stretch", config.capacity_stretch, "use 0+")
    need(config.attainment_sigma > 0, "attainment_sigma", config.attainment_sigma, "use > 0")
    if errors:
        raise ScenarioError("; ".join(errors))


@dataclass(frozen=True, eq=False)
class _Basis:
    weights: FloatArray
    method: ObjectArray
    w_history: FloatArray
    history_basis: FloatArray
    full_productivity: FloatArray


def _full_productivity(inp: _Inputs, config: QuotaConfig, baseline: FloatArray) -> FloatArray:
    """A fully ramped rep's annual sales per territory; NaN where nothing tells."""
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


@dataclass(frozen=True, eq=False)
class QuotaPlan:
    """The quotas table (quotas.csv layout, spec §4.2) and its plan-level summary."""

    table: pd.DataFrame
    summary: QuotaSummary


def _company_growth(inp: _Inputs, config: QuotaConfig) -> float:
    if config.method.growth is not None:
        return float(config.method.growth)
    last, prev = inp.history[:, 0], inp.history[:, 1]
    both = ~np.isnan(last) & ~np.isnan(prev)
    prev_sum = float(prev[both].sum())
    return float(last[both].sum()) / prev_sum - 1.0 if prev_sum > 0 else 0.0


def plan_quotas(
    territories: pd.DataFrame,
    config: QuotaConfig,
    *,
    period_sales: pd.DataFrame | None = None,
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

    Raises
    ------
    DataValidationError
        A needed column is missing or holds unusable values (every problem is listed).
    ScenarioError
        The configuration is invalid.
    InfeasibleError
        The yearly caps cannot hold while the quotas add up to the street total.
    """
    _check_config(config)
    inp = _read_inputs(territories, config)
    street = config.street_total
    basis = _basis(inp, config, street)
    labels = [str(t) for t in inp.territory_id]

    # Step 1: basis allocation, before any cap or ramp (reported as raw_quota).
    raw_c, _ = _allocate_cents(street, basis.weights, labels=labels)

    # Steps 2-3: yearly caps on the full-year quota, then ramp, water-filled together.
    monthly = ramp_months(inp.tenure, inp.hire_month, config.ramp)
    monthly[inp.vacant] = 1.0
    ramp = monthly.mean(axis=1)
    if config.caps is not None:
        reference = inp.prior_quota if config.caps.reference == "prior_quota" else inp.history[:, 0]
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
            street, basis.weights * ramp, floors * ramp, scaled_ceilings, labels
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
    summary = _summary(inp, config, basis, table, street, ramp)
    return QuotaPlan(table=table, summary=summary)


def set_quotas(
    territories: pd.DataFrame,
    config: QuotaConfig,
    *,
    period_sales: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The quotas table of :func:`plan_quotas` (quotas.csv layout, spec §4.2).

    One row per territory and measure for the plan year, with the period quotas as columns
    (``q1``..``q4`` or ``m01``..``m12``); :func:`quotas_long` turns it into one row per
    territory and period. See :func:`plan_quotas` for the expected columns.
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
    """One row per territory and period: plan_year, territory_id, rep_id, measure, period, quota."""
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


# --------------------------------------------------------------------------------------------
# Backtest
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """Last year's quotas, set from the year before, against last year's actuals (spec C8).

    ``company_error`` is ``|actual total - plan| / plan``. ``wmape`` compares the actuals with
    the quotas rescaled to the plan (over-assignment removed): ``sum |S - Q*| / sum S``;
    ``naive_wmape`` does the same for prior-year history x (1 + g). The ``share_within`` fields
    count territories whose attainment of Q* is within the rule's narrow and wide bands.
    """

    table: pd.DataFrame
    plan_target: float
    actual_total: float
    company_error: float
    company_status: str
    wmape: float
    naive_wmape: float
    share_within_narrow_band: float
    share_within_wide_band: float
    status: str


def backtest(
    territories: pd.DataFrame,
    config: QuotaConfig,
    *,
    plan_target: float | None = None,
    rule: AccuracyRule | None = None,
) -> BacktestResult:
    """Re-run the quota method on year t-1 data and score it against year t actuals.

    Needs ``history`` (year t actuals) and ``history_prev`` (year t-1, the basis) per
    territory; ``history_prev2`` becomes the older basis year and ``potential_prev``, when
    present, the potential of the time. Prior quotas, realignment and ramp columns describe
    the coming year, so they are left out. ``plan_target`` is the plan G of year t (default
    ``config.company_target``). Territories without actuals are not scored.
    """
    rule = rule or AccuracyRule()
    frame = territories.reset_index(drop=True)
    problems: list[InputProblem] = [
        InputProblem(
            _SOURCE,
            None,
            c,
            "column is missing; a backtest needs two years of history",
            "merge territory_history with revenue_last_year and revenue_prior_year on rep_id",
        )
        for c in ("history", "history_prev")
        if c not in frame.columns
    ]
    if problems:
        raise DataValidationError(problems)
    actual = _numbers(frame, "history", problems, low=0.0, meaning="revenue, 0 or more")
    basis_year = _numbers(frame, "history_prev", problems, low=0.0, meaning="revenue, 0 or more")
    if problems:
        raise DataValidationError(problems)
    scored = ~np.isnan(actual)
    if not (scored & ~np.isnan(basis_year)).any():
        raise DataValidationError(
            [
                InputProblem(
                    _SOURCE,
                    None,
                    "history_prev",
                    "no territory has both years of history",
                    "fill in revenue for the last two years",
                )
            ]
        )
    past = frame.drop(
        columns=[
            c
            for c in ("prior_quota", "potential_before", "tenure_months", "hire_month", "vacant")
            if c in frame.columns
        ]
    )
    past["history"] = past["history_prev"]
    past["history_prev"] = past["history_prev2"] if "history_prev2" in past.columns else np.nan
    past["history_prev2"] = np.nan
    if "potential_prev" in past.columns:
        past["potential"] = past["potential_prev"]
    target = float(plan_target if plan_target is not None else config.company_target)
    past_config = replace(
        config, company_target=target, non_quota_revenue=min(config.non_quota_revenue, target)
    )
    quotas = plan_quotas(past, past_config).table
    quota = quotas["final_annual_quota"].to_numpy(dtype=np.float64)
    q_sum = float(quota.sum())
    rescaled = quota * target / q_sum if q_sum > 0 else np.zeros_like(quota)
    naive_basis = np.nan_to_num(basis_year, nan=0.0)
    naive = (
        naive_basis * target / float(naive_basis.sum()) if naive_basis.sum() > 0 else naive_basis
    )
    s = np.where(scored, actual, 0.0)
    s_sum = float(s.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        attainment = np.where(scored & (rescaled > 0), actual / rescaled, np.nan)
    wmape = float(np.abs(s - rescaled)[scored].sum()) / s_sum if s_sum > 0 else math.nan
    naive_wmape = float(np.abs(s - naive)[scored].sum()) / s_sum if s_sum > 0 else math.nan
    n_scored = int(scored.sum())
    miss = np.abs(attainment - 1.0)
    narrow = float(np.sum(miss <= rule.narrow_band + 1e-12)) / n_scored
    wide = float(np.sum(miss <= rule.wide_band + 1e-12)) / n_scored
    company_error = abs(s_sum - target) / target
    status = "PASS" if wmape <= rule.wmape_pass else "WARN" if wmape <= rule.wmape_warn else "FAIL"
    table = pd.DataFrame(
        {
            "territory_id": quotas["territory_id"],
            "rep_id": quotas["rep_id"],
            "method": quotas["method"],
            "quota": quota,
            "quota_rescaled": rescaled,
            "naive_rescaled": naive,
            "actual": actual,
            "attainment": attainment,
            "abs_error": np.where(scored, np.abs(s - rescaled), np.nan),
        }
    )
    return BacktestResult(
        table=table,
        plan_target=target,
        actual_total=s_sum,
        company_error=company_error,
        company_status="PASS" if company_error <= rule.company_tolerance else "FAIL",
        wmape=wmape,
        naive_wmape=naive_wmape,
        share_within_narrow_band=narrow,
        share_within_wide_band=wide,
        status=status,
    )
