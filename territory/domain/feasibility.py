"""Checks that prove a balance rule impossible before any solver runs, and say why.

Each check is a necessary condition: when it fails no plan can exist, and the reason names the
account or rep involved, by how much the rule is broken and the smallest tolerance that would fix
that reason. Passing every check does not prove feasibility; the LP relaxation goes further.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph  # noqa: F401 - loads sparse.csgraph

from territory.domain.model import AlignmentProblem
from territory.domain.reach import reach_summary, smallest_reaching_limit
from territory.errors import InfeasibilityReason


def _pct(x: float) -> str:
    """Format a fraction as a percentage with enough digits to tell small tolerances apart."""
    return f"{100.0 * x:.3g}%"


def oversized_accounts(problem: AlignmentProblem) -> list[InfeasibilityReason]:
    """Accounts too large for every rep they may go to, even alone in an empty territory."""
    reasons: list[InfeasibilityReason] = []
    rule = problem.settings.balance
    pa, pr = problem.pair_account, problem.pair_rep
    p, w = problem.potential[pa], problem.workload[pa]
    fits = (p <= problem.potential_hi[pr] * (1 + 1e-12)) & (
        w <= problem.workload_hi[pr] * (1 + 1e-12)
    )
    fits_any = np.zeros(problem.n_accounts, dtype=bool)
    np.logical_or.at(fits_any, pa, fits)
    has_pairs = np.diff(problem.account_start) > 0  # accounts without any are stranded, not big
    for a in np.flatnonzero(~fits_any & has_pairs).tolist():
        lo, hi = int(problem.account_start[a]), int(problem.account_start[a + 1])
        reps = problem.pair_rep[lo:hi]
        need_p = problem.potential[a] / np.maximum(problem.potential_target[reps], 1e-12) - 1.0
        need_w = problem.workload[a] / np.maximum(problem.workload_target[reps], 1e-12) - 1.0
        over_cap = problem.workload[a] > problem.capacity[reps] * (1 + 1e-12)
        best = int(np.argmin(np.maximum(need_p, need_w)))
        r = int(reps[best])
        account, rep = problem.account_ids[a], problem.rep_ids[r]
        if problem.potential[a] > problem.potential_hi[r]:
            reasons.append(
                InfeasibilityReason(
                    constraint="potential_upper",
                    subject=f"account {account}",
                    message=(
                        f"account {account} alone holds potential {problem.potential[a]:,.0f}, "
                        f"{_pct(float(need_p[best]))} above the target of rep {rep} "
                        f"({problem.potential_target[r]:,.0f}), the best fit among its candidate "
                        f"reps; at ±{_pct(rule.potential)} no rep can hold it. Smallest potential "
                        f"tolerance that fits it: ±{_pct(float(need_p[best]))}"
                    ),
                    excess=float(problem.potential[a] - problem.potential_hi[r]),
                    min_balance=float(need_p[best]),
                )
            )
        if problem.workload[a] > problem.workload_hi[r]:
            if bool(over_cap.all()):
                message = (
                    f"account {account} alone needs {problem.workload[a]:,.0f} h/year, more than "
                    "the capacity of every candidate rep (largest "
                    f"{problem.capacity[reps].max():,.0f} h/year); allow overtime or split the "
                    "account"
                )
                min_balance = None
            else:
                message = (
                    f"account {account} alone needs {problem.workload[a]:,.0f} h/year, "
                    f"{_pct(float(need_w[best]))} above the workload target of rep {rep} "
                    f"({problem.workload_target[r]:,.0f} h/year). Smallest workload tolerance that "
                    f"fits it: ±{_pct(float(need_w[best]))}"
                )
                min_balance = float(need_w[best])
            reasons.append(
                InfeasibilityReason(
                    constraint="workload_upper",
                    subject=f"account {account}",
                    message=message,
                    excess=float(problem.workload[a] - problem.workload_hi[r]),
                    min_balance=min_balance,
                )
            )
    return reasons


def overloaded_locks(problem: AlignmentProblem) -> list[InfeasibilityReason]:
    """Reps whose locked accounts alone exceed the upper end of a window or the capacity."""
    reasons: list[InfeasibilityReason] = []
    locked = problem.locked >= 0
    if not locked.any():
        return reasons
    reps = problem.locked[locked]
    pot = np.bincount(reps, weights=problem.potential[locked], minlength=problem.n_reps)
    wl = np.bincount(reps, weights=problem.workload[locked], minlength=problem.n_reps)
    for r in np.flatnonzero(pot > problem.potential_hi * (1 + 1e-12)).tolist():
        need = pot[r] / max(problem.potential_target[r], 1e-12) - 1.0
        reasons.append(
            InfeasibilityReason(
                constraint="potential_upper",
                subject=f"rep {problem.rep_ids[r]}",
                message=(
                    f"accounts locked to rep {problem.rep_ids[r]} hold potential {pot[r]:,.0f}, "
                    f"{pot[r] - problem.potential_hi[r]:,.0f} over its upper limit "
                    f"{problem.potential_hi[r]:,.0f}; unlock some of them or allow at least "
                    f"±{_pct(need)} on potential"
                ),
                excess=float(pot[r] - problem.potential_hi[r]),
                min_balance=float(need),
            )
        )
    for r in np.flatnonzero(wl > problem.workload_hi * (1 + 1e-12)).tolist():
        need = wl[r] / max(problem.workload_target[r], 1e-12) - 1.0
        rep = problem.rep_ids[r]
        over_capacity = not problem.settings.balance.allow_overtime and wl[r] > problem.capacity[r]
        if over_capacity:
            # No tolerance helps: the locked workload alone does not fit in the rep's hours.
            limit, what = float(problem.capacity[r]), "its capacity"
            advice = "unlock some of them or allow overtime"
        else:
            limit, what = float(problem.workload_hi[r]), "the upper end of its workload window"
            advice = f"unlock some of them or allow at least ±{_pct(need)} on workload"
        reasons.append(
            InfeasibilityReason(
                constraint="capacity" if over_capacity else "workload_upper",
                subject=f"rep {rep}",
                message=(
                    f"accounts locked to rep {rep} need {wl[r]:,.0f} h/year, "
                    f"{wl[r] - limit:,.0f} h over {what} ({limit:,.0f} h); {advice}"
                ),
                excess=float(wl[r] - limit),
                min_balance=None if over_capacity else float(need),
            )
        )
    return reasons


def total_capacity(problem: AlignmentProblem) -> list[InfeasibilityReason]:
    """Check that the whole workload fits in the team's capacity, unless overtime is allowed."""
    if problem.settings.balance.allow_overtime:
        return []
    total_w, total_c = float(problem.workload.sum()), float(problem.capacity.sum())
    if total_w <= total_c * (1 + 1e-12):
        return []
    return [
        InfeasibilityReason(
            constraint="capacity",
            subject="all reps",
            message=(
                f"the accounts need {total_w:,.0f} h/year but the reps have {total_c:,.0f} h/year "
                f"of capacity ({total_w - total_c:,.0f} h short); add reps, raise capacities or "
                "allow overtime"
            ),
            excess=total_w - total_c,
        )
    ]


def stranded_accounts(problem: AlignmentProblem) -> list[InfeasibilityReason]:
    """Accounts that no rep may take: every rep is forbidden or beyond the travel limit."""
    stranded = np.flatnonzero(np.diff(problem.account_start) == 0)
    reasons = []
    beyond: list[float] = []
    limit = problem.settings.max_distance_km
    for a in stranded.tolist():
        distance, _ = problem.pair_costs(
            np.full(problem.n_reps, a, dtype=np.int64), np.arange(problem.n_reps, dtype=np.int64)
        )
        nearest = int(np.argmin(distance))
        where = f"the nearest rep, {problem.rep_ids[nearest]}, is {distance[nearest]:,.1f} km away"
        reasons.append(
            InfeasibilityReason(
                constraint="allowed_reps",
                subject=f"account {problem.account_ids[a]}",
                message=(
                    f"account {problem.account_ids[a]} has no rep it may go to: "
                    + (
                        f"the travel limit is {limit:,.1f} km and {where}"
                        if limit is not None
                        else f"every rep is forbidden for it ({where})"
                    )
                    + "; raise the travel limit, drop a forbidden pair or lock it to a rep"
                ),
                excess=float(distance[nearest] - limit) if limit is not None else None,
            )
        )
        if limit is not None and distance[nearest] > limit:
            beyond.append(float(distance[nearest]))
    if beyond and limit is not None:
        # One summary before the per-account list: how many, and the limit that reaches all.
        summary = reach_summary(len(beyond), limit, smallest_reaching_limit(np.array(beyond)))
        reasons.insert(0, InfeasibilityReason("travel_limit", "all accounts", summary))
    return reasons


def unsplittable_parts(problem: AlignmentProblem) -> list[InfeasibilityReason]:
    """Parts of the unit graph that cannot hold a whole number of contiguous territories.

    Under contiguity a territory lies inside one connected part, so each part must carry the
    windows of some number ``a`` of reps: between the ``a`` smallest lower limits and the ``a``
    largest upper limits, on potential and on workload alike.
    """
    if problem.adjacency is None:
        return []
    n_parts, part = sparse.csgraph.connected_components(problem.adjacency, directed=False)
    if n_parts <= 1:
        return []
    lo_p = np.cumsum(np.sort(problem.potential_lo))
    hi_p = np.cumsum(np.sort(problem.potential_hi)[::-1])
    lo_w = np.cumsum(np.sort(problem.workload_lo))
    hi_w = np.cumsum(np.sort(problem.workload_hi)[::-1])
    pot = np.bincount(part, weights=problem.potential, minlength=n_parts)
    wl = np.bincount(part, weights=problem.workload, minlength=n_parts)
    reasons: list[InfeasibilityReason] = []
    for c in range(n_parts):
        if pot[c] <= 0 and wl[c] <= 0:
            continue
        tol = 1e-9 * max(1.0, pot[c])
        fits = (
            (lo_p <= pot[c] + tol)
            & (pot[c] <= hi_p + tol)
            & (lo_w <= wl[c] + 1e-9 * max(1.0, wl[c]))
            & (wl[c] <= hi_w + 1e-9 * max(1.0, wl[c]))
        )
        if fits.any():
            continue
        units = np.flatnonzero(part == c)
        names = ", ".join(str(problem.account_ids[u]) for u in units[:5].tolist())
        more = f" and {units.size - 5} more" if units.size > 5 else ""
        reasons.append(
            InfeasibilityReason(
                constraint="contiguity",
                subject=str(problem.account_ids[units[0]]),
                message=(
                    f"the separate part of the unit graph made of {units.size} unit(s) "
                    f"({names}{more}) holds potential {pot[c]:,.0f} and workload {wl[c]:,.1f} h, "
                    "which no whole number of contiguous territories can carry within the "
                    f"windows (one territory needs at least {lo_p[0]:,.0f} potential and "
                    f"{lo_w[0]:,.1f} h and at most {hi_p[0]:,.0f} and {hi_w[0]:,.1f} h); link "
                    "it to its neighbours (manual links) or align without contiguity"
                ),
            )
        )
    return reasons


def presolve_reasons(problem: AlignmentProblem) -> list[InfeasibilityReason]:
    """Every reason found before solving why the rules cannot all hold (empty if none found)."""
    return (
        stranded_accounts(problem)
        + total_capacity(problem)
        + overloaded_locks(problem)
        + oversized_accounts(problem)
        + unsplittable_parts(problem)
    )
