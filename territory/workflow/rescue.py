"""Fallbacks that keep a solve going while time remains and the LP says a plan may exist.

Four pieces, shared by the direct pipeline (:mod:`territory.workflow.align`) and the decomposed
one (:mod:`territory.workflow.scale`):

* :func:`split_clusters` turns the coarse LP's fractional plan over micro-clusters into an
  account-level plan by splitting each fractional cluster's accounts between its reps in
  proportion to the LP's shares: every rep's loads then miss the LP's (which meet the windows)
  by at most about one account per split cluster, where rounding whole clusters missed by a
  cluster each;
* :func:`settle_whole_clusters` re-solves the coarse LP with the clusters it cannot split (single
  key accounts) held to one rep each, before the split;
* :func:`rescue` takes a plan outside the windows and re-places, within the time left, the
  worst reps' neighbourhoods by an LP and rounding, then exactly by the MIP
  (:func:`solvers.neighbourhood.neighbourhood_repair`), then runs local search on the balanced
  plan.
  What it cannot fix is explained by :func:`solvers.neighbourhood.unbalanced_reasons`;
* :func:`window_bound` prices the windows and every account-rep pair for the decomposed
  solve's bound, within a deadline (after refinement when the plan needed the time first).
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np

from solvers.base import Solution, SolveStatus
from solvers.heuristic import HeuristicSolver
from solvers.lp import LpResult, price_pairs, smooth_dual_prices, solve_relaxation
from solvers.neighbourhood import NeighbourhoodLog, neighbourhood_repair
from territory.domain.arrays import BoolArray, FloatArray, IntArray
from territory.domain.budget import Budget
from territory.domain.model import AlignmentProblem

DUAL_ROUNDS = 4
"""Rounds of (climb the dual over the candidates, exact pass over all pairs, add the pairs the
pass prices out); the best exact pass is the bound."""

RAY_SCALES = (0.0, 0.5, 0.75, 1.0)
"""Multiples of the climbed prices the first exact pass evaluates (the bound is concave along
them); 0 keeps the bound at least every account's cheapest cost."""

LATER_RAY_SCALES = (0.75, 1.0)
"""... and the later passes, whose prices were climbed over the pairs the earlier ones added
(each scale adds about a quarter to a pass)."""

HELD_SLACK = 0.1
"""Window violation (targets, summed over reps) the held re-solve may add: rounding the held
clusters without it would add their whole fractions."""

RESCUE_TOL = 1e-7
"""Relative window violation (summed over reps) a rescued plan may keep (as the scale solve)."""


def split_clusters(
    fine: AlignmentProblem, unit_cluster: IntArray, coarse: AlignmentProblem, lp: LpResult
) -> IntArray | None:
    """Account-level plan from the coarse LP: each cluster's units shared out by the LP's shares.

    Parameters
    ----------
    fine
        The unit-level problem (its pairs must include every unit with its cluster's LP reps).
    unit_cluster
        Position in ``coarse`` of the cluster of every unit of ``fine``.
    coarse, lp
        The cluster-level problem and its solved relaxation.

    Returns
    -------
    numpy.ndarray or None
        A rep per unit of ``fine``; None when the LP has no solution.

    Notes
    -----
    Within a cluster the units are ordered by how much cheaper they are with the cluster's main
    rep than with its other reps, and the main rep takes the first share of the cluster's mass
    (potential and workload shares averaged): the parts stay compact and cheap.
    """
    if lp.x is None:
        return None
    used = np.flatnonzero(lp.x > 1e-9)
    c, r, x = coarse.pair_account[used], coarse.pair_rep[used], lp.x[used]
    order = np.lexsort((r, -x, c))
    c, r, x = c[order], r[order], x[order]
    n_clusters = coarse.n_accounts
    first = np.searchsorted(c, np.arange(n_clusters + 1))
    share_sum = np.bincount(c, weights=x, minlength=n_clusters)
    running = np.cumsum(x)
    cum = (running - np.concatenate([[0.0], running])[first[c]]) / np.maximum(share_sum[c], 1e-12)
    last = np.zeros(c.size, dtype=bool)
    last[first[1:][np.diff(first) > 0] - 1] = True
    cum[last] = 1.5  # the last rep of a cluster takes whatever rounding leaves
    main = r[first[:-1].clip(max=max(c.size - 1, 0))]

    n = fine.n_accounts
    units = np.arange(n, dtype=np.int64)
    _, cost_main = fine.pair_costs(units, main[unit_cluster])
    mass_p = fine.potential / np.maximum(
        np.bincount(unit_cluster, weights=fine.potential, minlength=n_clusters)[unit_cluster], 1e-12
    )
    mass_w = fine.workload / np.maximum(
        np.bincount(unit_cluster, weights=fine.workload, minlength=n_clusters)[unit_cluster], 1e-12
    )
    mass = 0.5 * (mass_p + mass_w)
    by = np.lexsort((units, cost_main, unit_cluster))
    cum_mass = np.cumsum(mass[by])
    start_mass = np.concatenate([[0.0], cum_mass])[
        np.searchsorted(unit_cluster[by], unit_cluster[by])
    ]
    middle = cum_mass - start_mass - 0.5 * mass[by]
    pick = np.searchsorted(2.0 * c + cum, 2.0 * unit_cluster[by] + middle, side="right")
    plan = np.empty(n, dtype=np.int64)
    plan[by] = r[np.minimum(pick, c.size - 1)]
    return plan


def settle_whole_clusters(
    coarse: AlignmentProblem,
    whole: BoolArray,
    lp: LpResult,
    time_limit_s: float,
    *,
    margin: float = 0.0,
) -> LpResult:
    """Re-solve the coarse LP with every fractional cluster that cannot be split held to one rep.

    :func:`split_clusters` cannot share a single account (a key account worth half a target)
    between reps: rounding it moves its whole fraction onto one rep. Each such cluster is held
    to its largest share (its other pairs capped at zero) and the LP re-solved from its optimal
    basis (a change of bounds keeps it dual feasible: the dual simplex resumes), so the small
    clusters around it take up the difference. Returns ``lp`` itself when nothing is fractional,
    or the re-solve does not end optimal, or it leaves the windows by more than
    :data:`HELD_SLACK` beyond ``lp``.

    Parameters
    ----------
    coarse, lp
        The cluster-level problem and its solved (elastic) relaxation.
    whole
        Per cluster, whether it cannot be split (one unit).
    time_limit_s
        Seconds the re-solve may take.
    margin
        As ``lp`` was solved with (:func:`solvers.lp.solve_relaxation`).
    """
    if lp.x is None:
        return lp
    pa = coarse.pair_account
    fractional = (lp.x > 1e-6) & (lp.x < 1.0 - 1e-6) & whole[pa]
    held = np.unique(pa[fractional])
    if held.size == 0:
        return lp
    start = coarse.account_start
    upper = np.ones(coarse.n_pairs)
    for cluster in held.tolist():
        lo, hi = int(start[cluster]), int(start[cluster + 1])
        keep = lo + int(np.argmax(lp.x[lo:hi]))
        upper[lo:hi] = 0.0
        upper[keep] = 1.0
    settled = solve_relaxation(
        coarse, time_limit_s=time_limit_s, warm=lp, elastic=True, upper=upper, margin=margin
    )
    if not settled.optimal or settled.violation > max(lp.violation, RESCUE_TOL) + HELD_SLACK:
        return lp
    return settled


def lp_repair(
    problem: AlignmentProblem, start: Solution, deadline: float, *, seed: int, notes: list[str]
) -> Solution:
    """Re-place the worst reps' neighbourhoods by the LP and rounding until ``deadline``.

    The cheap first step of a repair once local moves stall (see :func:`rescue`); a plan
    already within its windows comes back as it is. Adds one line to ``notes``.
    """
    if problem.violation(start.assignment) <= RESCUE_TOL or time.perf_counter() >= deadline:
        return start
    plan, log = neighbourhood_repair(problem, start.assignment, deadline, seed=seed, by_lp=True)
    feasible = problem.violation(plan) <= RESCUE_TOL
    notes.append(
        f"LP repair of {log.models} rep neighbourhood(s) (largest {log.largest} reps, "
        f"{log.improved} improved) in {log.seconds:.1f} s"
        + ("; plan within every window" if feasible else "; windows still not met")
    )
    return replace(
        start, assignment=plan, objective=problem.objective(plan),
        status=SolveStatus.FEASIBLE if feasible else SolveStatus.INFEASIBLE,
    )  # fmt: skip


def rescue(
    problem: AlignmentProblem,
    start: Solution,
    budget: Budget,
    *,
    reserve_s: float,
    seed: int,
    notes: list[str],
    polish_reserve_s: float = 0.0,
    lp_first: bool = True,
) -> Solution:
    """Repair ``start`` into a plan within every window if time allows, then polish it.

    A ``start`` already within its windows is only polished (local search with the time left).

    Parameters
    ----------
    problem
        The model; its candidate pairs are the moves allowed.
    start
        A complete plan, usually outside some windows.
    budget
        The solve's budget; ``reserve_s`` seconds of it are left for writing the result.
    seed
        Seed of the MIP repairs.
    notes
        Receives one line saying what the rescue did.
    polish_reserve_s
        Seconds more the local search on a balanced plan leaves (for a bound taken after it).
    lp_first
        Run the LP repair (:func:`lp_repair`) before the MIP; False when the caller has just
        run it on the same model (it would try the same neighbourhoods again).

    Returns
    -------
    Solution
        The best plan found (status INFEASIBLE when windows still fail).
    """
    t0 = time.perf_counter()
    deadline = budget.deadline - reserve_s
    plan = start.assignment
    by_lp, log = NeighbourhoodLog(), NeighbourhoodLog()
    if lp_first and problem.violation(plan) > RESCUE_TOL and time.perf_counter() < deadline:
        # The LP first, over large neighbourhoods, with at most half of the time; the MIP over
        # small ones for what it leaves.
        half = time.perf_counter() + 0.5 * (deadline - time.perf_counter())
        plan, by_lp = neighbourhood_repair(problem, plan, half, seed=seed, by_lp=True)
    if problem.violation(plan) > RESCUE_TOL and time.perf_counter() < deadline:
        plan, log = neighbourhood_repair(problem, plan, deadline, seed=seed)
    feasible = problem.violation(plan) <= RESCUE_TOL
    solution = start
    polish_until = deadline - polish_reserve_s
    if feasible and time.perf_counter() < polish_until:
        warm = Solution(
            assignment=plan, status=SolveStatus.FEASIBLE, objective=problem.objective(plan),
            bound=None, bound_source="none", backend="neighbourhood repair", seconds=0.0,
        )  # fmt: skip
        solution = HeuristicSolver(use_lp=False).solve(
            problem, time_limit_s=max(polish_until - time.perf_counter(), 0.1), seed=seed,
            warm_start=warm,
        )  # fmt: skip
        if problem.violation(solution.assignment) > RESCUE_TOL:
            solution = warm
    elif plan is not start.assignment:
        status = SolveStatus.FEASIBLE if feasible else SolveStatus.INFEASIBLE
        solution = Solution(
            assignment=plan, status=status, objective=problem.objective(plan),
            bound=None, bound_source="none", backend="neighbourhood repair", seconds=0.0,
        )  # fmt: skip
    if start.bound is not None:
        solution = replace(solution, bound=start.bound, bound_source=start.bound_source)
    if plan is not start.assignment or not feasible:
        notes.append(
            f"rescue: LP repair of {by_lp.models} rep neighbourhood(s) (largest {by_lp.largest} "
            f"reps, {by_lp.improved} improved), exact repair of {log.models} (largest "
            f"{log.largest} reps, {log.improved} improved) in {time.perf_counter() - t0:.1f} s"
            + ("; plan within every window" if feasible else "; windows still not met")
        )
    return solution


def window_bound(
    fine: AlignmentProblem,
    deadline: float,
    rounds: int = DUAL_ROUNDS,
    *,
    start: tuple[FloatArray, FloatArray] | None = None,
    climb_on: bool = False,
    finish_by: float | None = None,
    stop_at: float | None = None,
) -> tuple[float, FloatArray, FloatArray, IntArray, IntArray]:
    """Climb the smoothed dual over the candidates, then price all pairs exactly: the bound.

    Each round adds the pairs the exact pass prices out (cheaper at the window prices than all
    of an account's candidates) and climbs again from where the last climb stopped; the best
    exact pass is the bound. The exact passes also try fractions of the prices
    (:data:`RAY_SCALES`, :data:`LATER_RAY_SCALES`): prices climbed over too few pairs can
    overshoot, and zero prices keep the bound at least the sum of every account's cheapest cost
    (never negative).
    The first round always runs, its climb stopping at ``deadline`` (its exact pass comes
    after). A later round starts only when the time to ``finish_by`` (default ``deadline``) holds
    two passes as long as the last, and its climb stops in time for its exact pass (as long as
    the last) to end by then. ``start`` prices (e.g. those an earlier bound returned) replace
    zero prices. Rounds end once no pair prices out, unless
    ``climb_on``: then they climb further while rounds and time remain (50 evaluations a
    temperature rarely reach the top; for a bound taken when the plan no longer needs the time).
    An exact pass still running at ``stop_at`` is abandoned (its round gives no bound).
    Returns the bound, the prices that gave it and the pairs found.
    """
    bound = -math.inf
    found_a: list[IntArray] = []
    found_r: list[IntArray] = []
    # From zero prices by default: the coarse duals price whole clusters and measured a worse
    # start (at 100k/500 their exact bound was 16% below the LP).
    if start is None:
        pi, sigma = np.zeros(fine.n_reps), np.zeros(fine.n_reps)
    else:
        pi, sigma = start[0].astype(np.float64), start[1].astype(np.float64)
    best_pi, best_sigma = pi, sigma
    end = deadline if finish_by is None else max(finish_by, deadline)
    climb_until = deadline
    for k in range(rounds):
        # Each round climbs from the last prices through both temperatures: the coarse one
        # moves them far, which the new pairs need (measured at 10k/100: warm rounds at the fine
        # temperature alone stalled 3-7% below the LP, with both they reached 0.1-0.7%).
        pi, sigma = smooth_dual_prices(fine, pi, sigma, deadline=climb_until)
        t_pass = time.perf_counter()
        priced = price_pairs(
            fine, pi, sigma, account_dual=_best_candidate(fine, pi, sigma),
            scales=LATER_RAY_SCALES if k else RAY_SCALES, stop_at=stop_at,
        )  # fmt: skip
        if not priced.complete:
            break
        if priced.bound > bound:
            bound = priced.bound
            best_pi, best_sigma = priced.scale * pi, priced.scale * sigma
        if priced.accounts.size == 0 and not climb_on:
            break
        if priced.accounts.size:
            found_a.append(priced.accounts)
            found_r.append(priced.reps)
            fine = fine.with_pairs(priced.accounts, priced.reps)
        now = time.perf_counter()
        # Room for a climb and a pass, each as long as the last pass (the first round's climb
        # is long; measured at 100k / 500, requiring a whole round like it left 6 of the late
        # bound's 15 s unused).
        if now + 2.0 * (now - t_pass) > end:
            break
        climb_until = end - (now - t_pass)
    extra_a = np.concatenate(found_a) if found_a else np.empty(0, np.int64)
    extra_r = np.concatenate(found_r) if found_r else np.empty(0, np.int64)
    return bound, best_pi, best_sigma, extra_a, extra_r


def _best_candidate(problem: AlignmentProblem, pi: FloatArray, sigma: FloatArray) -> FloatArray:
    """Each account's cheapest candidate pair at the given window prices (its dual estimate)."""
    pa, pr = problem.pair_account, problem.pair_rep
    priced = problem.pair_cost - problem.potential[pa] * pi[pr] - problem.workload[pa] * sigma[pr]
    return np.asarray(np.minimum.reduceat(priced, problem.account_start[:-1]), dtype=np.float64)
