"""Exact repair of the worst reps' neighbourhoods with the MIP, for plans local moves cannot fix.

Penalised moves and swaps (:func:`solvers.heuristic.repair`) stall when every move out of an
overfull rep overfills a neighbour: balance then needs a chain of moves through several reps, or
a whole group of reps that together hold too much. This repair takes the worst rep, grows a
neighbourhood of reps around it (reps that its accounts, and their accounts, could go to) until
the neighbourhood as a whole can meet its windows, frees every account of the neighbourhood that
has another candidate inside it, and solves that sub-problem exactly with HiGHS: minimise cost
plus a penalty on window violation (elastic rows, so a model with no balanced answer still gives
the least violated one). Reps outside keep their accounts and their loads. The plan only ever
changes when the neighbourhood's violation falls, so the repair never makes things worse.

The same loop runs with an LP in place of the MIP (``by_lp=True``): every account of the
neighbourhood is re-placed by :func:`solvers.lp_rounding.lp_rounding` (an LP with narrowed
windows, its few split accounts rounded). It takes much larger neighbourhoods in the same time,
which a rep holding a key account needs: at 1M / 2,000 the MIP over 4-128 reps fixed none of
four such reps in 48 s, the LP (32 reps, then 64) fixed all four in 34 s.

When a neighbourhood cannot be fixed, the next attempt from the same rep takes one twice as
large; :func:`unbalanced_reasons` then explains, for the reps still off, why.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import highspy
import numpy as np

from solvers.interrupt import run_highs
from solvers.lp_rounding import lp_rounding
from territory.domain.arrays import FloatArray, IntArray
from territory.domain.model import AlignmentProblem, window_violation

MIN_REPS = 4
"""A neighbourhood holds at least this many reps (when the instance has them)."""

MAX_ACCOUNTS = 6_000
"""Free accounts in one neighbourhood model: beyond, those with the cheapest alternative stay."""

MAX_TRIES = 6
"""A rep whose neighbourhood could not be fixed this many times (each larger, with twice the
time) is left as it is."""

MAX_REPS = 128
"""No neighbourhood grows beyond this many reps."""

LP_MIN_REPS = 32
"""A neighbourhood re-placed by the LP holds at least this many reps."""

LP_SECONDS = 30.0
"""Seconds a neighbourhood's LP may take on its first try (doubled on each retry); at 1M / 2,000
one over 32 reps (15k accounts, 100k pairs) took 6 s."""

LP_TRIES = 3
"""LP attempts from one rep (32, 64, then 128 reps) before it is left to the MIP."""

TOL = 1e-7
"""Relative window violation (summed over reps) treated as none, as in the decomposed solve."""

WINDOW_MARGIN = 1e-8
"""Windows are tightened by this share of the target inside the MIP, so solver tolerances never
leave a rep a hair outside when checked in exact arithmetic."""


@dataclass
class NeighbourhoodLog:
    """What the repair did: models solved, seconds, neighbourhoods fixed and the largest tried."""

    models: int = 0
    improved: int = 0
    seconds: float = 0.0
    largest: int = 0
    notes: list[str] = field(default_factory=list)


def _rep_graph(problem: AlignmentProblem, assign: IntArray) -> tuple[IntArray, IntArray]:
    """Rep-to-rep edges: rep s is reachable from r when an account of r has s as a candidate.

    Returned as CSR (start per rep, neighbour reps) with each rep's neighbours ordered by how
    many of its accounts could go there, most first.
    """
    r = problem.n_reps
    src = assign[problem.pair_account]
    dst = problem.pair_rep
    keep = src != dst
    key = np.concatenate([src[keep] * r + dst[keep], dst[keep] * r + src[keep]])
    uniq, count = np.unique(key, return_counts=True)
    a, b = uniq // r, uniq % r
    order = np.lexsort((b, -count, a))
    a, b = a[order], b[order]
    start = np.searchsorted(a, np.arange(r + 1))
    return start.astype(np.int64), b.astype(np.int64)


def _fits(problem: AlignmentProblem, region: IntArray, pot: FloatArray, wl: FloatArray) -> bool:
    """Whether the region's total loads lie inside the sum of its windows (with room to spare)."""
    p, w = float(pot[region].sum()), float(wl[region].sum())
    p_lo, p_hi = problem.potential_lo[region].sum(), problem.potential_hi[region].sum()
    w_lo, w_hi = problem.workload_lo[region].sum(), problem.workload_hi[region].sum()
    p_room, w_room = 0.1 * (p_hi - p_lo), 0.1 * (w_hi - w_lo)
    return bool(p_lo + p_room <= p <= p_hi - p_room and w_lo + w_room <= w <= w_hi - w_room)


def _region(
    problem: AlignmentProblem,
    seed_rep: int,
    graph: tuple[IntArray, IntArray],
    pot: FloatArray,
    wl: FloatArray,
    size: int,
    most: int = MAX_REPS,
) -> IntArray:
    """Breadth-first reps around ``seed_rep``: at least ``size``, more until the totals fit.

    Whole breadth-first levels are taken, up to ``most`` reps (the nearest, by how many accounts
    lead there, first).
    """
    start, nbr = graph
    seen = np.zeros(problem.n_reps, dtype=bool)
    seen[seed_rep] = True
    region = [seed_rep]
    frontier = [seed_rep]
    while frontier and len(region) < most:
        nxt: list[int] = []
        for rep in frontier:
            for s in nbr[start[rep] : start[rep + 1]].tolist():
                if not seen[s]:
                    seen[s] = True
                    region.append(s)
                    nxt.append(s)
        frontier = nxt
        if len(region) >= size and _fits(problem, np.asarray(region), pot, wl):
            break
    return np.asarray(region[:most], dtype=np.int64)


def _solve_region(
    problem: AlignmentProblem,
    assign: IntArray,
    region: IntArray,
    pot: FloatArray,
    wl: FloatArray,
    time_limit_s: float,
    seed: int,
) -> IntArray | None:
    """Best re-assignment of the region's free accounts (None when HiGHS found nothing)."""
    r = problem.n_reps
    inside = np.zeros(r, dtype=bool)
    inside[region] = True
    pa, pr = problem.pair_account, problem.pair_rep
    own = inside[assign[pa]] & inside[pr] & (problem.locked[pa] < 0)
    per_account = np.bincount(pa[own], minlength=problem.n_accounts)
    free = np.flatnonzero(per_account >= 2)
    if free.size == 0:
        return None
    if free.size > MAX_ACCOUNTS:
        # Keep the accounts whose best alternative inside the region costs least extra.
        sel = own & (per_account[pa] >= 2)
        current_cost = problem.pair_cost[problem.pair_index(assign)]
        extra = np.where(sel & (pr != assign[pa]), problem.pair_cost - current_cost[pa], np.inf)
        regret = np.full(problem.n_accounts, np.inf)
        np.minimum.at(regret, pa, extra)
        free = free[np.argsort(regret[free], kind="stable")[:MAX_ACCOUNTS]]
        free.sort()
    is_free = np.zeros(problem.n_accounts, dtype=bool)
    is_free[free] = True
    cols = np.flatnonzero(own & is_free[pa])
    c_acc, c_rep = pa[cols], pr[cols]
    slot = np.full(r, -1, dtype=np.int64)
    slot[region] = np.arange(region.size)
    row_of_acc = np.full(problem.n_accounts, -1, dtype=np.int64)
    row_of_acc[free] = np.arange(free.size)
    m, n_free, k = cols.size, free.size, region.size

    # Loads of the region's reps without the free accounts.
    p_fixed = pot[region] - np.bincount(
        slot[assign[free]], weights=problem.potential[free], minlength=k
    )
    w_fixed = wl[region] - np.bincount(
        slot[assign[free]], weights=problem.workload[free], minlength=k
    )
    p_t = np.maximum(problem.potential_target[region], 1e-12)
    w_t = np.maximum(problem.workload_target[region], 1e-12)
    p_lo = problem.potential_lo[region] + WINDOW_MARGIN * p_t - p_fixed
    p_hi = problem.potential_hi[region] - WINDOW_MARGIN * p_t - p_fixed
    w_lo = problem.workload_lo[region] + WINDOW_MARGIN * w_t - w_fixed
    w_hi = problem.workload_hi[region] - WINDOW_MARGIN * w_t - w_fixed

    # Balance first: one unit of violation (a whole target) costs 1; travel only breaks ties,
    # scaled so that all of it is worth less than a violation of 1e-7, and the search stops as
    # soon as no more than that can be gained (local search then lowers the cost).
    costs = problem.pair_cost[cols]
    costs = 1e-8 * (costs - costs.min()) / max(float(np.ptp(costs)) * n_free, 1e-12)
    penalty = 1.0

    # Columns: pairs (binary), then per rep potential under/over and workload under/over.
    n_cols = m + 4 * k
    index = np.empty(3 * m + 4 * k, dtype=np.int32)
    value = np.empty(3 * m + 4 * k, dtype=np.float64)
    index[0 : 3 * m : 3] = row_of_acc[c_acc]
    index[1 : 3 * m : 3] = n_free + slot[c_rep]
    index[2 : 3 * m : 3] = n_free + k + slot[c_rep]
    value[0 : 3 * m : 3] = 1.0
    value[1 : 3 * m : 3] = problem.potential[c_acc]
    value[2 : 3 * m : 3] = problem.workload[c_acc]
    rows = np.arange(k)
    index[3 * m :] = np.concatenate(
        [n_free + rows, n_free + rows, n_free + k + rows, n_free + k + rows]
    )
    value[3 * m :] = np.concatenate([p_t, -p_t, w_t, -w_t])
    start = np.concatenate([np.arange(m + 1) * 3, 3 * m + np.arange(1, 4 * k + 1)])

    lp = highspy.HighsLp()
    lp.num_col_ = n_cols
    lp.num_row_ = n_free + 2 * k
    lp.col_cost_ = np.concatenate([costs, np.full(4 * k, penalty)])
    lp.col_lower_ = np.zeros(n_cols)
    lp.col_upper_ = np.concatenate([np.ones(m), np.full(4 * k, highspy.kHighsInf)])
    lp.row_lower_ = np.concatenate([np.ones(n_free), p_lo, w_lo])
    lp.row_upper_ = np.concatenate([np.ones(n_free), p_hi, w_hi])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = start.astype(np.int32)
    lp.a_matrix_.index_ = index
    lp.a_matrix_.value_ = value
    lp.integrality_ = [highspy.HighsVarType.kInteger] * m + [highspy.HighsVarType.kContinuous] * (
        4 * k
    )
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(max(time_limit_s, 0.2)))
    h.setOptionValue("threads", 1)
    h.setOptionValue("random_seed", int(seed % 2**31))
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 1e-7)
    # Feasible plans matter here, not proofs: more primal heuristics, fewer cut rounds.
    h.setOptionValue("mip_heuristic_effort", 0.5)
    h.setOptionValue("mip_lp_age_limit", 5)
    h.passModel(lp)
    # Start from the current plan: its pairs at 1, slacks at the violation they leave.
    x0 = np.zeros(n_cols)
    x0[np.flatnonzero(c_rep == assign[c_acc])] = 1.0
    p_load = np.bincount(slot[c_rep], weights=x0[:m] * problem.potential[c_acc], minlength=k)
    w_load = np.bincount(slot[c_rep], weights=x0[:m] * problem.workload[c_acc], minlength=k)
    x0[m:] = np.concatenate(
        [
            np.maximum(p_lo - p_load, 0.0) / p_t,
            np.maximum(p_load - p_hi, 0.0) / p_t,
            np.maximum(w_lo - w_load, 0.0) / w_t,
            np.maximum(w_load - w_hi, 0.0) / w_t,
        ]
    )
    start_sol = highspy.HighsSolution()
    start_sol.col_value = list(x0)
    start_sol.value_valid = True
    h.setSolution(start_sol)
    run_highs(h)
    info = h.getInfo()
    if info.primal_solution_status < 1:
        return None
    x = np.asarray(h.getSolution().col_value, dtype=np.float64)[:m]
    chosen = x > 0.5
    if not (np.bincount(c_acc[chosen], minlength=problem.n_accounts)[free] == 1).all():
        return None
    plan = assign.copy()
    plan[c_acc[chosen]] = c_rep[chosen]
    return plan


def _lp_region(
    problem: AlignmentProblem, assign: IntArray, region: IntArray, time_limit_s: float
) -> IntArray | None:
    """Re-place every account of the region among its reps by the LP and rounding (None: no LP)."""
    inside = np.zeros(problem.n_reps, dtype=bool)
    inside[region] = True
    pa, pr = problem.pair_account, problem.pair_rep
    sel = inside[assign[pa]] & inside[pr]
    found = lp_rounding(
        problem, assign, pa[sel], pr[sel], deadline=time.perf_counter() + time_limit_s
    )
    return None if found is None else found.plan


def neighbourhood_repair(
    problem: AlignmentProblem,
    assign: IntArray,
    deadline: float,
    *,
    seed: int = 0,
    by_lp: bool = False,
) -> tuple[IntArray, NeighbourhoodLog]:
    """Fix window violations by solving the worst reps' neighbourhoods, until the deadline.

    Parameters
    ----------
    problem
        The alignment model (its candidate pairs are the moves allowed).
    assign
        A complete plan; it is not modified.
    deadline
        ``time.perf_counter()`` value to stop at.
    seed
        HiGHS's random seed (the result is deterministic for a given seed and time).
    by_lp
        Re-place each neighbourhood by an LP and rounding (:data:`LP_MIN_REPS` reps and up,
        :data:`LP_TRIES` tries a rep) instead of the exact MIP (:data:`MIN_REPS` reps and up,
        :data:`MAX_TRIES` tries).

    Returns
    -------
    plan : numpy.ndarray
        A plan whose total window violation is at most that of ``assign``.
    log : NeighbourhoodLog
        What was done (models solved, improved, seconds, largest neighbourhood).
    """
    log = NeighbourhoodLog()
    t0 = time.perf_counter()
    plan = assign.astype(np.int64).copy()
    smallest, most_tries = (LP_MIN_REPS, LP_TRIES) if by_lp else (MIN_REPS, MAX_TRIES)
    size = np.full(problem.n_reps, smallest, dtype=np.int64)
    tries = np.zeros(problem.n_reps, dtype=np.int64)
    graph: tuple[IntArray, IntArray] | None = None
    while time.perf_counter() < deadline - 0.2:
        pot, wl = problem.loads(plan)
        per_rep = window_violation(pot, wl, problem)
        if float(per_rep.sum()) <= TOL:
            break
        candidates = np.flatnonzero((per_rep > TOL) & (tries < most_tries))
        if candidates.size == 0:
            break
        worst = int(candidates[np.argmax(per_rep[candidates])])
        if graph is None:  # the plan changed (or this is the first round)
            graph = _rep_graph(problem, plan)
        # The LP's neighbourhood is cut at its size: a whole level (at 1M, 159 reps) takes
        # longer than the LP's time.
        most = min(int(size[worst]), MAX_REPS) if by_lp else MAX_REPS
        region = _region(problem, worst, graph, pot, wl, int(size[worst]), most)
        log.largest = max(log.largest, int(region.size))
        left = deadline - time.perf_counter()
        if by_lp:
            trial = _lp_region(problem, plan, region, min(left, LP_SECONDS * 2.0 ** tries[worst]))
        else:
            trial = _solve_region(
                problem,
                plan,
                region,
                pot,
                wl,
                min(left, (2.0 + 0.15 * region.size) * 2.0 ** tries[worst]),
                seed,
            )
        log.models += 1
        before = float(per_rep[region].sum())
        if trial is not None:
            t_pot, t_wl = problem.loads(trial)
            after = float(window_violation(t_pot, t_wl, problem)[region].sum())
            if after < before - 1e-12 or (
                after <= before and problem.objective(trial) < problem.objective(plan)
            ):
                plan = trial
                graph = None
                log.improved += 1
                if after <= TOL:
                    size[region] = smallest
                    tries[region] = 0
                    continue
        # Not (fully) fixed: a larger neighbourhood, and more time, next time this rep is the
        # worst.
        size[worst] = max(2 * int(size[worst]), region.size + 1)
        tries[worst] += 1
    log.seconds += time.perf_counter() - t0
    return plan, log


def unbalanced_reasons(problem: AlignmentProblem, assign: IntArray, *, most: int = 5) -> list[str]:
    """Say, for the reps furthest outside their windows, why no repair balanced them.

    Each line names the rep, its deviation, and the most telling cause found: an account too
    large for the room its window leaves, or a neighbourhood (the reps its accounts can reach)
    that as a whole holds more or less than its windows allow.
    """
    pot, wl = problem.loads(assign)
    per_rep = window_violation(pot, wl, problem)
    off = np.flatnonzero(per_rep > TOL)
    off = off[np.argsort(-per_rep[off], kind="stable")]
    rest = off[most:]
    off = off[:most]
    graph = _rep_graph(problem, assign)
    lines = []
    for rep in off.tolist():
        p_dev = pot[rep] / max(problem.potential_target[rep], 1e-12) - 1.0
        w_dev = wl[rep] / max(problem.workload_target[rep], 1e-12) - 1.0
        mine = np.flatnonzero(assign == rep)
        why = ""
        if mine.size:
            big = int(mine[np.argmax(problem.potential[mine])])
            p_share = problem.potential[big] / max(problem.potential_target[rep], 1e-12)
            w_share = problem.workload[big] / max(problem.workload_target[rep], 1e-12)
            if abs(p_share - w_share) > problem.settings.balance.potential + (
                problem.settings.balance.workload
            ):
                why = (
                    f"its largest account {problem.account_ids[big]} brings {100 * p_share:.0f}% "
                    f"of its potential target but {100 * w_share:.0f}% of its workload target, so "
                    "the accounts placed around it must make up the difference in the other "
                    "measure"
                )
        start, nbr = graph
        reach = np.concatenate([[rep], nbr[start[rep] : start[rep + 1]]])
        if not why:
            p_sum = pot[reach].sum() / max(problem.potential_target[reach].sum(), 1e-12) - 1.0
            w_sum = wl[reach].sum() / max(problem.workload_target[reach].sum(), 1e-12) - 1.0
            why = (
                f"it and the {reach.size - 1} reps its accounts can go to hold "
                f"{100 * p_sum:+.1f}% potential and {100 * w_sum:+.1f}% workload against their "
                "targets together"
            )
        lines.append(
            f"rep {problem.rep_ids[rep]}: potential {100 * p_dev:+.1f}%, workload "
            f"{100 * w_dev:+.1f}% ({why})"
        )
    if rest.size:
        lines.append(
            f"and {rest.size} more rep(s), each outside its windows by at most "
            f"{100 * float(per_rep[rest].max()):.2f}% of its targets"
        )
    return lines
