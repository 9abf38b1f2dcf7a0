"""LP relaxation of the alignment model, solved by HiGHS from flat arrays.

The relaxation gives the lower bound every backend reports, and its nearly integral vertex
solution is where the heuristic starts: accounts split between reps are few (about two per
binding balance row), so rounding and a short repair land close to the bound.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, replace
from typing import Any

import highspy
import numpy as np
import numpy.typing as npt

from territory.geo import EARTH_RADIUS_KM, unit_vectors
from territory.model import AlignmentProblem

FloatArray = npt.NDArray[np.float64]


def _silence_banner() -> None:
    """HiGHS prints a licence banner on stdout at its first construction in a process.

    Batch jobs pipe our stdout, so the first instance is built with stdout pointed at /dev/null;
    later instances (ours and PuLP's) print nothing.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


_silence_banner()


@dataclass(frozen=True)
class LpResult:
    """What the relaxation proved: ``objective`` is a lower bound when ``optimal`` is true.

    ``x`` holds the fractional value of every candidate pair; ``max_deviation`` is the smallest
    largest relative deviation (soft relaxation only).
    """

    optimal: bool
    infeasible: bool
    objective: float | None
    x: FloatArray | None
    seconds: float
    status: str
    max_deviation: float | None = None
    row_dual: FloatArray | None = None
    violation: float = 0.0
    basis: tuple[npt.NDArray[np.int64], list[Any], list[Any], list[Any]] | None = None
    """Pair keys (account x n_reps + rep), pair, slack and row statuses, for warm starts."""


def _base_matrix(problem: AlignmentProblem) -> tuple[FloatArray, npt.NDArray[np.int32], FloatArray]:
    """Column-wise nonzeros: each pair sits in its account row, its rep's potential and workload."""
    m, n, r = problem.n_pairs, problem.n_accounts, problem.n_reps
    start = (np.arange(m + 1, dtype=np.int64) * 3).astype(np.int32)
    index = np.empty(3 * m, dtype=np.int32)
    value = np.empty(3 * m, dtype=np.float64)
    index[0::3] = problem.pair_account
    index[1::3] = n + problem.pair_rep
    index[2::3] = n + r + problem.pair_rep
    value[0::3] = 1.0
    value[1::3] = problem.potential[problem.pair_account]
    value[2::3] = problem.workload[problem.pair_account]
    return start.astype(np.float64), index, value


def _highs(time_limit_s: float, threads: int = 1, solver: str = "") -> highspy.Highs:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(max(time_limit_s, 0.1)))
    h.setOptionValue("threads", threads)
    h.setOptionValue("random_seed", 0)
    if solver:
        h.setOptionValue("solver", solver)
    return h


def _warm_basis(
    problem: AlignmentProblem, warm: LpResult, n_extra: int
) -> highspy.HighsBasis | None:
    """The previous optimal basis mapped onto this problem's columns; new pairs start at 0.

    Column generation only adds columns, so the old basic set stays a valid basis and the
    simplex resumes where it stopped instead of starting over.
    """
    if warm.basis is None:
        return None
    keys, col_status, extra_status, row_status = warm.basis
    if len(row_status) != problem.n_accounts + 2 * problem.n_reps or len(extra_status) != n_extra:
        return None
    new_keys = problem.pair_account * problem.n_reps + problem.pair_rep
    pos = np.minimum(np.searchsorted(keys, new_keys), keys.size - 1)
    found = keys[pos] == new_keys
    if int(found.sum()) != keys.size:
        return None
    lower = highspy.HighsBasisStatus.kLower
    basis = highspy.HighsBasis()
    basis.col_status = [
        col_status[int(i)] if f else lower for i, f in zip(pos, found, strict=True)
    ] + list(extra_status)
    basis.row_status = list(row_status)
    basis.valid = True
    return basis


def elastic_penalty(problem: AlignmentProblem) -> float:
    """Cost of a whole target's worth of window violation in the elastic relaxation.

    It dwarfs any travel saving (a hundred times the cost of sending every account to its most
    expensive candidate), so violation survives only where no plan over the priced pairs avoids it.
    """
    worst = np.maximum.reduceat(problem.pair_cost, problem.account_start[:-1])
    return 100.0 * max(float(worst.sum()), 1.0)


def solve_relaxation(
    problem: AlignmentProblem,
    *,
    time_limit_s: float = 60.0,
    warm: LpResult | None = None,
    elastic: bool = False,
) -> LpResult:
    """Solve the LP relaxation with the balance windows as rows.

    ``warm`` is an earlier relaxation of the same problem with fewer pairs, whose basis is reused.
    ``elastic`` lets each window be violated at a large cost (``violation`` reports by how much,
    in fractions of target summed over reps), so that a pruned model that is infeasible still
    has duals to price the pairs it lacks; ``objective`` then excludes the penalty.
    """
    t0 = time.perf_counter()
    m, n, r = problem.n_pairs, problem.n_accounts, problem.n_reps
    start, index, value = _base_matrix(problem)
    n_extra = 4 * r if elastic else 0
    penalty = elastic_penalty(problem) if elastic else 0.0
    lp = highspy.HighsLp()
    lp.num_col_ = m + n_extra
    lp.num_row_ = n + 2 * r
    lp.col_cost_ = np.concatenate([problem.pair_cost, np.full(n_extra, penalty)])
    lp.col_lower_ = np.zeros(m + n_extra)
    lp.col_upper_ = np.concatenate([np.ones(m), np.full(n_extra, highspy.kHighsInf)])
    lp.row_lower_ = np.concatenate([np.ones(n), problem.potential_lo, problem.workload_lo])
    lp.row_upper_ = np.concatenate([np.ones(n), problem.potential_hi, problem.workload_hi])
    if elastic:
        # Slack columns: potential under / over, workload under / over, scaled by the target.
        rows = np.arange(r)
        extra_index = np.concatenate([n + rows, n + rows, n + r + rows, n + r + rows])
        p_t = np.maximum(problem.potential_target, 1e-9)
        w_t = np.maximum(problem.workload_target, 1e-9)
        extra_value = np.concatenate([p_t, -p_t, w_t, -w_t])
        start = np.concatenate([start, 3 * m + np.arange(1, n_extra + 1, dtype=np.float64)])
        index = np.concatenate([index, extra_index.astype(np.int32)])
        value = np.concatenate([value, extra_value])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = start.astype(np.int32)
    lp.a_matrix_.index_ = index
    lp.a_matrix_.value_ = value
    h = _highs(time_limit_s)
    h.passModel(lp)
    basis = _warm_basis(problem, warm, n_extra) if warm is not None else None
    if basis is not None:
        h.setBasis(basis)
    h.run()
    result = _result(h, m + n_extra, t0)
    if not result.optimal or result.x is None or result.objective is None:
        return result
    slack = result.x[m:]
    hb = h.getBasis()
    keys = problem.pair_account * problem.n_reps + problem.pair_rep
    statuses = list(hb.col_status)
    return replace(
        result,
        x=result.x[:m],
        objective=result.objective - penalty * float(slack.sum()),
        violation=float(slack.sum()),
        basis=(keys, statuses[:m], statuses[m:], list(hb.row_status)),
    )


def solve_min_deviation(problem: AlignmentProblem, *, time_limit_s: float = 60.0) -> LpResult:
    """Smallest largest relative deviation any fractional plan can reach (a bound for soft mode).

    Minimises t subject to every rep's potential within target x (1 ± t) and workload within
    target x (1 ± t), with capacity still a hard limit unless overtime is allowed.
    """
    t0 = time.perf_counter()
    m, n, r = problem.n_pairs, problem.n_accounts, problem.n_reps
    pa, pr = problem.pair_account, problem.pair_rep
    pot_t, wl_t = problem.potential_target, problem.workload_target
    # Rows: accounts | potential up | potential down | workload up | workload down | capacity.
    rows_per_pair = 6 if not problem.settings.balance.allow_overtime else 5
    index = np.empty((m, rows_per_pair), dtype=np.int32)
    value = np.empty((m, rows_per_pair), dtype=np.float64)
    index[:, 0] = pa
    value[:, 0] = 1.0
    for k, (offset, weight) in enumerate(
        (
            (n, problem.potential),
            (n + r, problem.potential),
            (n + 2 * r, problem.workload),
            (n + 3 * r, problem.workload),
        )
    ):
        index[:, k + 1] = offset + pr
        value[:, k + 1] = weight[pa]
    if rows_per_pair == 6:
        index[:, 5] = n + 4 * r + pr
        value[:, 5] = problem.workload[pa]
    n_rows = n + (5 if rows_per_pair == 6 else 4) * r
    t_index = np.concatenate(
        [
            np.arange(n, n + r),
            np.arange(n + r, n + 2 * r),
            np.arange(n + 2 * r, n + 3 * r),
            np.arange(n + 3 * r, n + 4 * r),
        ]
    )
    t_value = np.concatenate([-pot_t, pot_t, -wl_t, wl_t])
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_ = m + 1
    lp.num_row_ = n_rows
    lp.col_cost_ = np.concatenate([np.zeros(m), [1.0]])
    lp.col_lower_ = np.zeros(m + 1)
    lp.col_upper_ = np.concatenate([np.ones(m), [inf]])
    lower = [np.ones(n), np.full(r, -inf), pot_t, np.full(r, -inf), wl_t]
    upper = [np.ones(n), pot_t, np.full(r, inf), wl_t, np.full(r, inf)]
    if rows_per_pair == 6:
        lower.append(np.full(r, -inf))
        upper.append(problem.capacity)
    lp.row_lower_ = np.concatenate(lower)
    lp.row_upper_ = np.concatenate(upper)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.concatenate(
        [np.arange(m + 1, dtype=np.int64) * rows_per_pair, [m * rows_per_pair + 4 * r]]
    ).astype(np.int32)
    lp.a_matrix_.index_ = np.concatenate([index.ravel(), t_index]).astype(np.int32)
    lp.a_matrix_.value_ = np.concatenate([value.ravel(), t_value])
    h = _highs(time_limit_s, solver="ipm")
    h.passModel(lp)
    h.run()
    result = _result(h, m + 1, t0)
    if result.x is None:
        return result
    return LpResult(
        optimal=result.optimal,
        infeasible=result.infeasible,
        objective=result.objective,
        x=result.x[:m],
        seconds=result.seconds,
        status=result.status,
        max_deviation=float(result.x[m]),
    )


def _result(h: highspy.Highs, n_cols: int, t0: float) -> LpResult:
    status = h.getModelStatus()
    name = h.modelStatusToString(status)
    optimal = status == highspy.HighsModelStatus.kOptimal
    infeasible = status in (
        highspy.HighsModelStatus.kInfeasible,
        highspy.HighsModelStatus.kUnboundedOrInfeasible,
    )
    x = None
    objective = None
    row_dual = None
    if optimal:
        solution = h.getSolution()
        x = np.asarray(solution.col_value, dtype=np.float64)[:n_cols]
        row_dual = np.asarray(solution.row_dual, dtype=np.float64)
        objective = float(h.getInfo().objective_function_value)
    return LpResult(
        optimal=optimal,
        infeasible=infeasible,
        objective=objective,
        x=x,
        seconds=time.perf_counter() - t0,
        status=name,
        row_dual=row_dual,
    )


PRICING_PAIR_LIMIT = 250_000_000
"""Above this many account-rep combinations the excluded pairs are not priced (too slow)."""


def price_excluded_pairs(
    problem: AlignmentProblem,
    lp: LpResult,
    *,
    per_account: int = 2,
    chunk_pairs: int = 4_000_000,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None:
    """Pairs left out by pruning whose reduced cost is negative, i.e. that could lower the bound.

    An empty answer proves the pruned relaxation's optimum is also the optimum of the relaxation
    over every account-rep pair, so its bound holds for the unpruned problem. Returns ``None`` when
    the instance is too large to price every pair. Locked accounts are never priced.
    """
    n, r = problem.n_accounts, problem.n_reps
    if lp.row_dual is None or n * r > PRICING_PAIR_LIMIT:
        return None
    y = lp.row_dual
    u, pi, sigma = y[:n], y[n : n + r], y[n + r : n + 2 * r]
    free = np.flatnonzero(problem.locked < 0)
    rows = max(1, chunk_pairs // r)
    # Great-circle distance from a matrix product of unit vectors: one arccos per pair instead
    # of haversine's four trigonometric calls, which matters over tens of millions of pairs.
    account_xyz = unit_vectors(problem.account_lat, problem.account_lon)
    rep_xyz_t = unit_vectors(problem.rep_lat, problem.rep_lon).T
    weight = problem.settings.disruption_weight
    found_a: list[npt.NDArray[np.int64]] = []
    found_r: list[npt.NDArray[np.int64]] = []
    for lo in range(0, free.size, rows):
        chunk = free[lo : lo + rows]
        p = problem.potential[chunk][:, None]
        w = problem.workload[chunk][:, None]
        if problem.members is not None:
            # Families: the exact sum over members (slower, and families are few).
            flat_d, flat_c = problem.pair_costs(
                np.repeat(chunk, r), np.tile(np.arange(r, dtype=np.int64), chunk.size)
            )
            distance, cost = flat_d.reshape(chunk.size, r), flat_c.reshape(chunk.size, r)
        else:
            cosine = np.clip(account_xyz[chunk] @ rep_xyz_t, -1.0, 1.0)
            distance = EARTH_RADIUS_KM * np.arccos(cosine)
            cost = problem.settings.travel(w, distance)
        if problem.members is None and (weight or problem.move_cost.size):
            current = problem.current[chunk][:, None]
            moved = (current >= 0) & (np.arange(r)[None, :] != current)
            if weight:
                cost = cost + weight * np.where(moved, p, 0.0)
            if problem.move_cost.size:
                cost = cost + np.where(moved, problem.move_cost[chunk][:, None], 0.0)
        reduced = cost - u[chunk][:, None] - p * pi[None, :] - w * sigma[None, :]
        # Pairs already in the model are priced by the LP itself.
        starts = problem.account_start[chunk]
        counts = problem.account_start[chunk + 1] - starts
        row_of = np.repeat(np.arange(chunk.size), counts)
        offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        reduced[row_of, problem.pair_rep[np.repeat(starts, counts) + offsets]] = np.inf
        # Pairs the rules forbid (travel limit, forbidden list) can never enter the model.
        if problem.settings.max_distance_km is not None or problem.forbidden_keys.size:
            allowed = problem.allowed(
                np.repeat(chunk, r),
                np.tile(np.arange(r, dtype=np.int64), chunk.size),
                distance.ravel(),
            ).reshape(chunk.size, r)
            reduced[~allowed] = np.inf
        negative = reduced < -1e-6 * (1.0 + np.abs(cost))
        if not negative.any():
            continue
        hit = np.flatnonzero(negative.any(axis=1))
        k = min(per_account, r)
        masked = np.where(negative[hit], reduced[hit], np.inf)
        best = np.argsort(masked, axis=1, kind="stable")[:, :k]
        picked = np.take_along_axis(negative[hit], best, axis=1)
        found_a.append(np.repeat(chunk[hit], k).reshape(hit.size, k)[picked])
        found_r.append(best[picked].astype(np.int64))
    if not found_a:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(found_a), np.concatenate(found_r)
