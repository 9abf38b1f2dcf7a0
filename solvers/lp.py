"""LP relaxation of the alignment model, solved by HiGHS from flat arrays.

The relaxation gives the lower bound every backend reports, and its nearly integral vertex
solution is where the heuristic starts: accounts split between reps are few (about two per
binding balance row), so rounding and a short repair land close to the bound.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import highspy
import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

from solvers.interrupt import run_highs
from territory.domain.geo import EARTH_RADIUS_KM, unit_vectors
from territory.domain.model import AlignmentProblem

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
    bound_source: str = "LP relaxation"
    """Which relaxation proves ``objective`` a lower bound (a Lagrangian one after partial
    pricing, whose value is then below the LP optimum over the candidate pairs)."""


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
    """Map the previous optimal basis onto this problem's columns; new pairs start at 0.

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


MARGIN_PRICE = 1e-3
"""Cost of using a window's margin, relative to leaving the window (both per whole target)."""


@dataclass(frozen=True)
class ElasticWindows:
    """The balance rows of an elastic LP and their slack columns.

    Rows ``0..r-1`` are potential, ``r..2r-1`` workload; each slack column sits in row ``row``
    with coefficient ``value`` (plus or minus the target: one unit of slack is one target).
    ``outer`` marks the slack that leaves the full window; the rest only uses the margin.
    """

    row_lower: FloatArray
    row_upper: FloatArray
    row: npt.NDArray[np.int64]
    value: FloatArray
    cost: FloatArray
    upper: FloatArray
    outer: npt.NDArray[np.bool_]


def elastic_windows(
    problem: AlignmentProblem, penalty: float, margin: float = 0.0
) -> ElasticWindows:
    """Window rows narrowed by ``margin`` of each half-width, with two-tier slack.

    Slack up to the margin costs :data:`MARGIN_PRICE` x ``penalty`` per target, beyond it
    ``penalty``. Without a margin the rows are the windows and only the outer slack exists
    (potential under / over, workload under / over, in that order).
    """
    r = problem.n_reps
    p_t = np.maximum(problem.potential_target, 1e-9)
    w_t = np.maximum(problem.workload_target, 1e-9)
    keep = 1.0 - margin
    p_lo = p_t - keep * (p_t - problem.potential_lo)
    p_hi = p_t + keep * (problem.potential_hi - p_t)
    w_lo = w_t - keep * (w_t - problem.workload_lo)
    w_hi = w_t + keep * (problem.workload_hi - w_t)
    rows = np.arange(r, dtype=np.int64)
    row = np.concatenate([rows, rows, r + rows, r + rows])
    value = np.concatenate([p_t, -p_t, w_t, -w_t])
    outer_cost = np.full(4 * r, penalty)
    unbounded = np.full(4 * r, highspy.kHighsInf)
    if margin <= 0.0:
        return ElasticWindows(
            np.concatenate([problem.potential_lo, problem.workload_lo]),
            np.concatenate([problem.potential_hi, problem.workload_hi]),
            row, value, outer_cost, unbounded, np.ones(4 * r, dtype=bool),
        )  # fmt: skip
    room = np.concatenate(
        [
            (p_lo - problem.potential_lo) / p_t,
            (problem.potential_hi - p_hi) / p_t,
            (w_lo - problem.workload_lo) / w_t,
            (problem.workload_hi - w_hi) / w_t,
        ]
    )
    return ElasticWindows(
        np.concatenate([p_lo, w_lo]),
        np.concatenate([p_hi, w_hi]),
        np.concatenate([row, row]),
        np.concatenate([value, value]),
        np.concatenate([np.full(4 * r, MARGIN_PRICE * penalty), outer_cost]),
        np.concatenate([np.maximum(room, 0.0), unbounded]),
        np.concatenate([np.zeros(4 * r, dtype=bool), np.ones(4 * r, dtype=bool)]),
    )


def relaxation_model(
    problem: AlignmentProblem,
    *,
    elastic: bool = False,
    margin: float = 0.0,
    upper: FloatArray | None = None,
) -> tuple[highspy.HighsLp, ElasticWindows]:
    """Build the LP of :func:`solve_relaxation`: pairs, then window slack if ``elastic``."""
    m, n, r = problem.n_pairs, problem.n_accounts, problem.n_reps
    start, index, value = _base_matrix(problem)
    windows = elastic_windows(problem, elastic_penalty(problem) if elastic else 0.0, margin)
    n_extra = windows.cost.size if elastic else 0
    lp = highspy.HighsLp()
    lp.num_col_ = m + n_extra
    lp.num_row_ = n + 2 * r
    lp.col_cost_ = np.concatenate([problem.pair_cost, windows.cost[:n_extra]])
    lp.col_lower_ = np.zeros(m + n_extra)
    pair_upper = np.ones(m) if upper is None else upper
    lp.col_upper_ = np.concatenate([pair_upper, windows.upper[:n_extra]])
    lp.row_lower_ = np.concatenate([np.ones(n), windows.row_lower])
    lp.row_upper_ = np.concatenate([np.ones(n), windows.row_upper])
    if elastic:
        start = np.concatenate([start, 3 * m + np.arange(1, n_extra + 1, dtype=np.float64)])
        index = np.concatenate([index, (n + windows.row).astype(np.int32)])
        value = np.concatenate([value, windows.value])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = start.astype(np.int32)
    lp.a_matrix_.index_ = index
    lp.a_matrix_.value_ = value
    return lp, windows


def solve_relaxation(
    problem: AlignmentProblem,
    *,
    time_limit_s: float = 60.0,
    warm: LpResult | None = None,
    elastic: bool = False,
    upper: FloatArray | None = None,
    margin: float = 0.0,
) -> LpResult:
    """Solve the LP relaxation with the balance windows as rows.

    ``warm`` is an earlier relaxation of the same problem with fewer pairs, whose basis is reused.
    ``upper`` caps each pair's value (default 1); a pair capped at 0 is out of the model, and a
    warm basis stays dual feasible, so the dual simplex resumes from it.
    ``elastic`` lets each window be violated at a large cost (``violation`` reports by how much,
    in fractions of target summed over reps), so that a pruned model that is infeasible still
    has duals to price the pairs it lacks; ``objective`` then excludes the penalty. With a
    ``margin`` (elastic only) the windows are narrowed by that share of their half-width and the
    margin is cheap to use (:func:`elastic_windows`): loads stay clear of the edges where they
    can, so that rounding the vertex keeps them inside.
    """
    t0 = time.perf_counter()
    m = problem.n_pairs
    lp, windows = relaxation_model(problem, elastic=elastic, margin=margin, upper=upper)
    n_extra = windows.cost.size if elastic else 0
    h = _highs(time_limit_s)
    h.passModel(lp)
    basis = _warm_basis(problem, warm, n_extra) if warm is not None else None
    if basis is not None:
        h.setBasis(basis)
    run_highs(h)
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
        objective=result.objective - float(windows.cost[:n_extra] @ slack),
        violation=float(slack[windows.outer[:n_extra]].sum()),
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
    run_highs(h)
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

PRICING_CHUNK_PAIRS = 4_000_000
"""Pairs priced at once by one thread: bounds the pricing pass's memory whatever the size."""

PRICING_THREADS = 2
"""Pricing chunks run on this many threads (numpy releases the GIL)."""

PRICED_PAIRS_PER_SECOND = 24_000_000
"""Pairs an exact pricing pass covers a second, ray scales included, to plan a pass ahead:
measured at 1M / 2,000 (2 billion pairs) on two cores at load 1, about 83 s."""

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Pricing:
    """One pass over every allowed account-rep pair at given rep prices.

    ``accounts``/``reps`` are pairs outside the model with negative reduced cost (at most
    ``per_account`` per account, cheapest first). ``bound`` is the Lagrangian bound at the prices:
    valid for every plan over all pairs, whatever the prices (``-inf`` if some account has no
    allowed rep). ``potential``/``workload`` are the per-rep loads of the plan that sends each
    account to its cheapest rep at those prices (the subgradient's ingredients).
    """

    accounts: IntArray
    reps: IntArray
    bound: float
    potential: FloatArray
    workload: FloatArray
    scale: float = 1.0
    """Multiple of the prices that gave ``bound`` (see ``scales`` of :func:`price_pairs`)."""
    complete: bool = True
    """False when the pass stopped at its ``stop_at`` time: no bound and no pairs then."""


def rep_prices(problem: AlignmentProblem, lp: LpResult) -> tuple[FloatArray, FloatArray]:
    """Return the duals of the potential and workload rows of a solved relaxation."""
    assert lp.row_dual is not None
    n, r = problem.n_accounts, problem.n_reps
    y = lp.row_dual
    return y[n : n + r].copy(), y[n + r : n + 2 * r].copy()


def _window_term(pi: FloatArray, lo: FloatArray, hi: FloatArray) -> float:
    """max(pi, 0) x lo - max(-pi, 0) x hi: the least pi x load can be with load in [lo, hi]."""
    return float(np.maximum(pi, 0.0) @ lo - np.maximum(-pi, 0.0) @ hi)


def price_pairs(
    problem: AlignmentProblem,
    pi: FloatArray,
    sigma: FloatArray,
    *,
    account_dual: FloatArray | None = None,
    per_account: int = 2,
    chunk_pairs: int = PRICING_CHUNK_PAIRS,
    threads: int = PRICING_THREADS,
    scales: Sequence[float] = (1.0,),
    stop_at: float | None = None,
) -> Pricing:
    """Lagrangian bound over all account-rep pairs and (with ``account_dual``) the pairs to add.

    Relaxing the balance windows with prices ``pi`` (potential) and ``sigma`` (workload) leaves
    one choice per account: sum_a min_r (c_ar - p_a pi_r - w_a sigma_r) plus the least
    sum_r pi_r x load_r can be inside the windows is a lower bound on every plan, for any prices.
    At the duals of an LP over the candidate pairs it equals that LP's optimum minus the total
    negative reduced cost of the pairs left out, so it is also the column-generation test.
    Chunks run on ``threads`` threads (numpy releases the GIL) and are summed in order, so the
    result does not depend on scheduling.

    ``scales`` evaluates the bound at each multiple t of the prices in the same pass (the costs,
    the expensive part, are computed once). The bound is concave in t, so a few points on
    [0, 1] guard against prices that overshoot away from the candidate pairs they were climbed
    on, and t = 0 (the cheapest rep of every account) keeps it at least zero when costs are
    non-negative. Column generation (``account_dual``) uses the prices as given.

    Past ``stop_at`` (a ``time.perf_counter()`` value) no chunk starts and the pass comes back
    incomplete (``complete`` false, no bound): a solve's time limit holds even when the pass
    runs slower than planned.
    """
    n, r = problem.n_accounts, problem.n_reps
    rows = max(1, chunk_pairs // max(r, 1))
    account_xyz = unit_vectors(problem.account_lat, problem.account_lon)
    rep_xyz_t = unit_vectors(problem.rep_lat, problem.rep_lon).T
    weight = problem.settings.disruption_weight
    rules = (
        problem.settings.max_distance_km is not None
        or problem.forbidden_keys.size > 0
        or bool((problem.locked >= 0).any())
    )
    all_reps = np.arange(r, dtype=np.int64)

    ts = np.asarray(scales, dtype=np.float64)
    if ts.size == 0:
        ts = np.ones(1)

    def one(lo: int) -> tuple[FloatArray, FloatArray, FloatArray, IntArray, IntArray] | None:
        if stop_at is not None and time.perf_counter() > stop_at:
            return None
        chunk = np.arange(lo, min(lo + rows, n), dtype=np.int64)
        p = problem.potential[chunk][:, None]
        w = problem.workload[chunk][:, None]
        if problem.members is not None:
            # Families: the exact sum over members (slower, and families are few).
            flat_d, flat_c = problem.pair_costs(np.repeat(chunk, r), np.tile(all_reps, chunk.size))
            distance, cost = flat_d.reshape(chunk.size, r), flat_c.reshape(chunk.size, r)
        else:
            # Great-circle distance from a matrix product of unit vectors: one arccos per pair
            # instead of haversine's four trigonometric calls.
            cosine = np.clip(account_xyz[chunk] @ rep_xyz_t, -1.0, 1.0)
            distance = EARTH_RADIUS_KM * np.arccos(cosine)
            cost = problem.settings.travel(w, distance)
            if weight or problem.move_cost.size:
                current = problem.current[chunk][:, None]
                moved = (current >= 0) & (all_reps[None, :] != current)
                if weight:
                    cost = cost + weight * np.where(moved, p, 0.0)
                if problem.move_cost.size:
                    cost = cost + np.where(moved, problem.move_cost[chunk][:, None], 0.0)
        price = p * pi[None, :] + w * sigma[None, :]
        if rules:
            allowed = problem.allowed(
                np.repeat(chunk, r), np.tile(all_reps, chunk.size), distance.ravel()
            ).reshape(chunk.size, r)
            cost[~allowed] = np.inf
        priced = cost - price
        best = np.argmin(priced, axis=1)
        value = np.empty(ts.size)
        scaled = np.empty_like(price) if (ts != 1.0).any() else price
        for i, t in enumerate(ts.tolist()):
            if t == 1.0:
                low = priced[np.arange(chunk.size), best]
            elif t == 0.0:
                low = cost.min(axis=1)
            else:
                np.multiply(price, -t, out=scaled)
                low = np.add(scaled, cost, out=scaled).min(axis=1)
            value[i] = float(low.sum()) if np.isfinite(low).all() else -np.inf
        pot = np.bincount(best, weights=problem.potential[chunk], minlength=r).astype(np.float64)
        wl = np.bincount(best, weights=problem.workload[chunk], minlength=r).astype(np.float64)
        empty = np.empty(0, np.int64)
        if account_dual is None:
            return value, pot, wl, empty, empty
        reduced = priced - account_dual[chunk][:, None]
        # Pairs already in the model are priced by the LP itself; locked accounts never move.
        starts = problem.account_start[chunk]
        counts = problem.account_start[chunk + 1] - starts
        row_of = np.repeat(np.arange(chunk.size), counts)
        offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        reduced[row_of, problem.pair_rep[np.repeat(starts, counts) + offsets]] = np.inf
        reduced[problem.locked[chunk] >= 0] = np.inf
        negative = reduced < -1e-6 * (1.0 + np.abs(cost))
        if not negative.any():
            return value, pot, wl, empty, empty
        hit = np.flatnonzero(negative.any(axis=1))
        k = min(per_account, r)
        masked = np.where(negative[hit], reduced[hit], np.inf)
        order = np.argsort(masked, axis=1, kind="stable")[:, :k]
        picked = np.take_along_axis(negative[hit], order, axis=1)
        found_a = np.repeat(chunk[hit], k).reshape(hit.size, k)[picked]
        return value, pot, wl, found_a, order[picked].astype(np.int64)

    starts = list(range(0, n, rows))
    if threads > 1 and len(starts) > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            parts = list(pool.map(one, starts))
    else:
        parts = [one(lo) for lo in starts]
    if any(part is None for part in parts):
        empty = np.empty(0, np.int64)
        return Pricing(empty, empty, -math.inf, np.zeros(r), np.zeros(r), complete=False)
    done = [part for part in parts if part is not None]
    window = _window_term(pi, problem.potential_lo, problem.potential_hi) + _window_term(
        sigma, problem.workload_lo, problem.workload_hi
    )
    # Window terms are positively homogeneous: at t x prices they are t x the terms at prices.
    bounds = [
        math.fsum(part[0][i] for part in done) + t * window for i, t in enumerate(ts.tolist())
    ]
    pick = int(np.argmax(bounds))
    bound = bounds[pick]
    pot = np.sum([part[1] for part in done], axis=0) if parts else np.zeros(r)
    wl = np.sum([part[2] for part in done], axis=0) if parts else np.zeros(r)
    accounts = [part[3] for part in done if part[3].size]
    reps = [part[4] for part in done if part[4].size]
    return Pricing(
        accounts=np.concatenate(accounts) if accounts else np.empty(0, np.int64),
        reps=np.concatenate(reps) if reps else np.empty(0, np.int64),
        bound=float(bound) if math.isfinite(bound) else -math.inf,
        potential=np.asarray(pot, dtype=np.float64),
        workload=np.asarray(wl, dtype=np.float64),
        scale=float(ts[pick]),
    )


def price_excluded_pairs(
    problem: AlignmentProblem,
    lp: LpResult,
    *,
    per_account: int = 2,
    chunk_pairs: int = PRICING_CHUNK_PAIRS,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None:
    """Pairs left out by pruning whose reduced cost is negative, i.e. that could lower the bound.

    An empty answer proves the pruned relaxation's optimum is also the optimum of the relaxation
    over every account-rep pair, so its bound holds for the unpruned problem. Returns ``None`` when
    the instance is too large to price every pair. Locked accounts are never priced.
    """
    n, r = problem.n_accounts, problem.n_reps
    if lp.row_dual is None or n * r > PRICING_PAIR_LIMIT:
        return None
    pi, sigma = rep_prices(problem, lp)
    priced = price_pairs(
        problem,
        pi,
        sigma,
        account_dual=lp.row_dual[:n],
        per_account=per_account,
        chunk_pairs=chunk_pairs,
    )
    return priced.accounts, priced.reps


DUAL_PRICE_CAP = 20.0
"""Cap on window prices in :func:`smooth_dual_prices` (see there)."""

DUAL_SMOOTHING = (0.02, 0.002)
"""Softmin temperatures, as shares of the typical candidate cost spread, from coarse to fine.

Measured at 20k/100: two temperatures with 50 evaluations each reach the bound of three with 150
each (within 0.03%) in a seventh of the time."""


class _ClimbTimeoutError(Exception):
    """Raised inside the smoothed dual's evaluation once the climb's deadline has passed."""


def smooth_dual_prices(
    problem: AlignmentProblem,
    pi: FloatArray,
    sigma: FloatArray,
    *,
    deadline: float,
    max_evaluations: int = 50,
    price_cap: float = DUAL_PRICE_CAP,
) -> tuple[FloatArray, FloatArray]:
    """Window prices that (nearly) maximise the Lagrangian dual over the candidate pairs.

    The dual is concave but not smooth; replacing each account's min by a softmin of
    temperature tau makes it smooth, so L-BFGS-B climbs it in tens of evaluations (a subgradient
    method needs hundreds). Prices are split into positive and negative parts (the window terms
    are linear in each) and scaled by the targets. Temperatures shrink in steps so the last
    prices are close to the unsmoothed optimum. Only the candidate pairs are used, which makes an
    evaluation cheap; the caller evaluates the exact bound over all pairs at the prices returned
    (:func:`price_pairs`), which is what makes it valid. Where the candidates cannot fill a
    rep's window the candidate dual is unbounded, so each price (times its target) is capped at
    ``price_cap`` x the typical cost spread x accounts per rep, like the elastic LP's penalty;
    the caller then adds the pairs the exact pass finds and climbs again. The climb stops at
    ``deadline``, inside a temperature too (with that temperature's best prices so far).
    """
    from scipy.optimize import minimize

    r = problem.n_reps
    pa, pr, cost = problem.pair_account, problem.pair_rep, problem.pair_cost
    starts = problem.account_start[:-1]
    pot, wl = problem.potential[pa], problem.workload[pa]
    t_p = np.maximum(problem.potential_target, 1e-12)
    t_w = np.maximum(problem.workload_target, 1e-12)
    lo_p, hi_p = problem.potential_lo / t_p, problem.potential_hi / t_p
    lo_w, hi_w = problem.workload_lo / t_w, problem.workload_hi / t_w
    spread = np.maximum.reduceat(cost, starts) - np.minimum.reduceat(cost, starts)
    scale = float(np.median(spread[spread > 0])) if (spread > 0).any() else 1.0

    cap = price_cap * scale * max(problem.n_accounts / max(r, 1), 1.0)

    def unpack(x: FloatArray) -> tuple[FloatArray, FloatArray]:
        return (x[:r] - x[r : 2 * r]) / t_p, (x[2 * r : 3 * r] - x[3 * r :]) / t_w

    def negative_dual(x: FloatArray, tau: float) -> tuple[float, FloatArray]:
        p_price, w_price = unpack(x)
        v = cost - pot * p_price[pr] - wl * w_price[pr]
        low = np.minimum.reduceat(v, starts)
        e = np.exp(-(v - low[pa]) / tau)
        z = np.add.reduceat(e, starts)
        value = float(low.sum() - tau * np.log(z).sum())
        value += float(x[:r] @ lo_p - x[r : 2 * r] @ hi_p + x[2 * r : 3 * r] @ lo_w)
        value -= float(x[3 * r :] @ hi_w)
        share = e / z[pa]
        d_pi = -np.bincount(pr, weights=share * pot, minlength=r) / t_p
        d_sigma = -np.bincount(pr, weights=share * wl, minlength=r) / t_w
        grad = np.concatenate([d_pi + lo_p, -d_pi - hi_p, d_sigma + lo_w, -d_sigma - hi_w])
        return -value, -grad

    q_p, q_w = pi * t_p, sigma * t_w
    x = np.concatenate(
        [np.maximum(q_p, 0.0), np.maximum(-q_p, 0.0), np.maximum(q_w, 0.0), np.maximum(-q_w, 0.0)]
    )
    x = np.minimum(x, cap)
    best: list[Any] = [math.inf, x]

    def timed(y: FloatArray, tau: float) -> tuple[float, FloatArray]:
        if time.perf_counter() > deadline:
            raise _ClimbTimeoutError
        value, grad = negative_dual(y, tau)
        if value < best[0]:
            best[:] = [value, y.copy()]
        return value, grad

    # L-BFGS-B's vector steps are BLAS calls on a few thousand numbers: woken BLAS threads cost
    # more than the work (measured on 2 busy cores: 27 ms an iteration with them, 1.5 ms with
    # one), and outweighed the dual's own evaluation.
    with threadpool_limits(limits=1, user_api="blas"):
        for share in DUAL_SMOOTHING:
            if time.perf_counter() >= deadline:
                break
            best[:] = [math.inf, x]
            try:
                result = minimize(
                    timed,
                    x,
                    args=(share * scale,),
                    jac=True,
                    method="L-BFGS-B",
                    bounds=[(0.0, cap)] * (4 * r),
                    options={"maxfun": max_evaluations, "maxiter": max_evaluations},
                )
                x = np.asarray(result.x, dtype=np.float64)
            except _ClimbTimeoutError:
                x = np.asarray(best[1], dtype=np.float64)
                break
    return unpack(x)
