"""The quota allocation kernel: split an amount to the cent under per-row bounds.

Every quota split (street total to territories, annual quota to periods) goes through
:func:`allocate`: bounds are water-filled and cents rounded by largest remainder, so no step can
lose or invent a cent, and infeasible bounds are explained.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypedDict, Unpack

import numpy as np
import numpy.typing as npt

from territory.domain.arrays import FloatArray, IntArray
from territory.domain.contract import MAX_ROWS_PER_PROBLEM
from territory.errors import (
    InfeasibilityReason,
    InfeasibleError,
)

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


def _sum_reason(
    kind: str, bounds: FloatArray, excess_c: float, total_c: int, labels: Sequence[str] | None
) -> InfeasibilityReason:
    """Explain floors adding up to more, or ceilings to less, than the total (all in cents)."""
    floors = kind == "floors"
    top = np.argsort(-bounds if floors else bounds, kind="stable")[:3].tolist()
    named = ", ".join(f"{_label(labels, i)} {bounds[i] / 100:,.2f}" for i in top)
    return InfeasibilityReason(
        constraint=f"quota_{kind}",
        subject="all territories",
        message=(
            f"the {kind} add up to {float(bounds.sum()) / 100:,.2f}, which is "
            f"{excess_c / 100:,.2f} {'more' if floors else 'less'} than the {total_c / 100:,.2f} "
            f"to allocate ({'largest' if floors else 'smallest'} {kind}: {named})"
        ),
        excess=excess_c / 100,
    )


def _check_feasible(
    total_c: int, lo: FloatArray, hi: FloatArray, labels: Sequence[str] | None
) -> None:
    reasons: list[InfeasibilityReason] = []
    for i in np.flatnonzero(lo > hi)[:MAX_ROWS_PER_PROBLEM].tolist():
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
        reasons.append(_sum_reason("floors", lo, floor_sum - total_c, total_c, labels))
    ceiling_sum = float(hi.sum())
    if ceiling_sum < total_c:
        reasons.append(_sum_reason("ceilings", hi, total_c - ceiling_sum, total_c, labels))
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


class Bounds(TypedDict, total=False):
    """Per-territory bounds of a split and the names its errors use."""

    floors: npt.ArrayLike | None
    """Lowest amount per territory (NaN: none; negative counts as 0)."""
    ceilings: npt.ArrayLike | None
    """Highest amount per territory (NaN or inf: none)."""
    labels: Sequence[str] | None
    """Territory ids, to name territories in error messages."""


def _allocate_cents(
    total: float, weights: npt.ArrayLike, **bounds: Unpack[Bounds]
) -> tuple[IntArray, npt.NDArray[np.int8]]:
    floors, ceilings, labels = bounds.get("floors"), bounds.get("ceilings"), bounds.get("labels")
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


def allocate(total: float, weights: npt.ArrayLike, **bounds: Unpack[Bounds]) -> FloatArray:
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
    **bounds
        Optional ``floors`` and ``ceilings`` per territory (NaN means none; negative floors
        count as 0, so the result is never negative) and ``labels``, the territory ids that
        error messages name (see :class:`Bounds`).

    Returns
    -------
    Amounts in currency, whole cents.

    Raises
    ------
    InfeasibleError
        When the floors add up to more than the total, the ceilings to less, or a floor lies
        above its ceiling; the reasons give the sums and the gap.
    """
    cents, _ = _allocate_cents(total, weights, **bounds)
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

    Parameters
    ----------
    annual
        Annual amount per territory.
    shares
        Share per territory and period.

    Returns
    -------
    numpy.ndarray
        Amount per territory and period; each row adds up to its annual amount.
    """
    annual_c = np.rint(np.asarray(annual, dtype=np.float64) * 100.0).astype(np.int64)
    return _split_rows_cents(annual_c, np.atleast_2d(np.asarray(shares, dtype=np.float64))) / 100
