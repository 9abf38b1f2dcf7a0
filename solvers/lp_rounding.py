"""An account-level plan from a small LP over the accounts a coarse plan leaves undecided.

Splitting a coarse (clustered) LP's fractional clusters between their reps puts every rep's
loads within about one account of the LP's, and the LP's loads sit on the window edges: a third
or more of the reps then fall just outside. Here the accounts still in play (the caller says
which, with their allowed reps) get an LP of their own, with every other account's load fixed,
whose windows are *narrowed* by :data:`MARGIN_SHARE` of their width (elastically: a cheap slack
may use the margin, an expensive one may leave the window). Its vertex splits few accounts;
large split accounts are held to their largest share and the LP re-solved from its basis (a
change of column bounds keeps the basis dual feasible, so the dual simplex resumes), the rest
are rounded. Rounding moves each rep by about one small account, which the margin absorbs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np

from solvers.interrupt import run_highs
from solvers.lp import elastic_windows
from territory.domain.arrays import IntArray
from territory.domain.model import AlignmentProblem

MARGIN_SHARE = 0.2
"""Share of each window's half-width the LP keeps free for rounding (±4% of ±5%)."""

HOLD_ROUNDS = 3
"""Re-solves that hold large split accounts to their largest share before the rest round."""

HOLD_SIZE = 0.25
"""A split account is held when it weighs more than this share of its rep's margin."""


@dataclass(frozen=True)
class RoundedLp:
    """An account-level plan from :func:`lp_rounding`, and what its LP said.

    ``violation`` is the LP's window violation outside the full windows (in targets, summed over
    reps): above zero the accounts in play cannot balance their reps even fractionally.
    """

    plan: IntArray
    free: int
    pairs: int
    held: int
    split: int
    violation: float
    seconds: float


def _pairs_of(
    problem: AlignmentProblem, plan: IntArray, units: IntArray, reps: IntArray
) -> tuple[IntArray, IntArray]:
    """Return the unique (unit, rep) pairs, plan reps added, of unlocked units with a choice."""
    own = np.unique(units)
    units = np.concatenate([units, own])
    reps = np.concatenate([reps, plan[own]])
    keys = np.unique(units * problem.n_reps + reps)
    pa, pr = keys // problem.n_reps, keys % problem.n_reps
    per_unit = np.bincount(pa, minlength=problem.n_accounts)
    keep = (per_unit[pa] >= 2) & (problem.locked[pa] < 0)
    return pa[keep].astype(np.int64), pr[keep].astype(np.int64)


def lp_rounding(
    problem: AlignmentProblem,
    plan: IntArray,
    units: IntArray,
    reps: IntArray,
    *,
    deadline: float,
    margin: float = MARGIN_SHARE,
) -> RoundedLp | None:
    """Re-place the given units by an LP with narrowed windows, then round; others stay put.

    Parameters
    ----------
    problem
        The account-level model (its windows and targets; its candidate pairs are not used).
    plan
        A complete plan: the rep of every unit not in ``units``, and a start for those in it.
    units, reps
        The pairs allowed for the units in play (each unit also keeps its ``plan`` rep).
    deadline
        ``time.perf_counter()`` value at which to stop (the LP is then not used).
    margin
        Share of each window's half-width kept free for rounding.

    Returns
    -------
    RoundedLp or None
        None when no unit has a choice or the first LP did not end optimal in time (a hold
        re-solve cut short rounds the last optimal solution instead).
    """
    t0 = time.perf_counter()
    pa, pr = _pairs_of(problem, plan.astype(np.int64), units, reps)
    if pa.size == 0:
        return None
    free, row_of = np.unique(pa, return_inverse=True)
    r = problem.n_reps
    m, n_free = pa.size, free.size
    fixed = np.ones(problem.n_accounts, dtype=bool)
    fixed[free] = False
    p_fix = np.bincount(plan[fixed], weights=problem.potential[fixed], minlength=r)
    w_fix = np.bincount(plan[fixed], weights=problem.workload[fixed], minlength=r)
    _, cost = problem.pair_costs(pa, pr)
    worst = np.zeros(n_free)
    np.maximum.at(worst, row_of, cost)
    windows = elastic_windows(problem, 100.0 * max(float(worst.sum()), 1.0), margin)
    n_slack = windows.cost.size
    index = np.empty(3 * m + n_slack, dtype=np.int32)
    value = np.empty(3 * m + n_slack, dtype=np.float64)
    index[0 : 3 * m : 3] = row_of
    index[1 : 3 * m : 3] = n_free + pr
    index[2 : 3 * m : 3] = n_free + r + pr
    value[0 : 3 * m : 3] = 1.0
    value[1 : 3 * m : 3] = problem.potential[pa]
    value[2 : 3 * m : 3] = problem.workload[pa]
    index[3 * m :] = n_free + windows.row
    value[3 * m :] = windows.value
    start = np.concatenate([np.arange(m + 1) * 3, 3 * m + np.arange(1, n_slack + 1)])
    fixed_load = np.concatenate([p_fix, w_fix])
    lp = highspy.HighsLp()
    lp.num_col_ = m + n_slack
    lp.num_row_ = n_free + 2 * r
    lp.col_cost_ = np.concatenate([cost, windows.cost])
    lp.col_lower_ = np.zeros(m + n_slack)
    lp.col_upper_ = np.concatenate([np.ones(m), windows.upper])
    lp.row_lower_ = np.concatenate([np.ones(n_free), windows.row_lower - fixed_load])
    lp.row_upper_ = np.concatenate([np.ones(n_free), windows.row_upper - fixed_load])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = start.astype(np.int32)
    lp.a_matrix_.index_ = index
    lp.a_matrix_.value_ = value
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("random_seed", 0)
    h.passModel(lp)
    # Large accounts, relative to the room around the target of the reps they could go to, are
    # held whole: rounding them would move a rep by more than the margin absorbs.
    room_p = np.maximum(problem.potential_hi - problem.potential_lo, 1e-12) * max(margin, 0.05) / 2
    room_w = np.maximum(problem.workload_hi - problem.workload_lo, 1e-12) * max(margin, 0.05) / 2
    big = np.maximum(problem.potential[pa] / room_p[pr], problem.workload[pa] / room_w[pr])
    x = None
    held = 0
    upper = np.ones(m)
    for _ in range(HOLD_ROUNDS + 1):
        left = deadline - time.perf_counter()
        if left <= 0.1:
            break
        h.setOptionValue("time_limit", float(left))
        run_highs(h)
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            break  # a hold re-solve cut short: round the last optimal solution
        x = np.asarray(h.getSolution().col_value, dtype=np.float64)
        split = (x[:m] > 1e-6) & (x[:m] < 1 - 1e-6)
        hold_rows = np.unique(row_of[split & (big > HOLD_SIZE)])
        if hold_rows.size == 0:
            break
        # Hold each at its largest share: the other pairs' upper bounds drop to zero.
        order = np.lexsort((-x[:m], row_of))
        first = order[np.searchsorted(row_of[order], hold_rows)]
        drop = np.isin(row_of, hold_rows)
        drop[first] = False
        cols = np.flatnonzero(drop & (upper > 0))
        upper[cols] = 0.0
        h.changeColsBounds(
            cols.size, cols.astype(np.int32), np.zeros(cols.size), np.zeros(cols.size)
        )
        held += hold_rows.size
    if x is None:
        return None
    order = np.lexsort((-x[:m], row_of))
    first = order[np.searchsorted(row_of[order], np.arange(n_free))]
    out = plan.astype(np.int64).copy()
    out[free] = pr[first]
    split = (x[:m] > 1e-6) & (x[:m] < 1 - 1e-6)
    return RoundedLp(
        plan=out,
        free=int(n_free),
        pairs=int(m),
        held=held,
        split=int(np.unique(row_of[split]).size),
        violation=float(x[m:][windows.outer].sum()),
        seconds=time.perf_counter() - t0,
    )
