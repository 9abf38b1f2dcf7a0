"""The coarse stage of the decomposed solve: micro-clusters, their LP, an account-level start.

:func:`cluster_units` cuts the units into compact micro-clusters; :func:`coarse_start` solves
them as families (the coarse LP, over :data:`COARSE_CANDIDATE_FACTOR` times the candidates),
splits each fractional cluster's accounts between its reps by the LP's shares
(:func:`territory.workflow.rescue.split_clusters`), then re-places the accounts of split clusters
by an account-level LP with narrowed windows (:func:`solvers.lp_rounding.lp_rounding`), so that
rounding leaves every rep inside its window. Without an optimal coarse LP the coarse plan is the
heuristic's (greedy start, repair, local search).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from solvers.flow_start import flow_start
from solvers.heuristic import HeuristicSolver, greedy_start
from solvers.lp import LpResult, rep_prices, solve_relaxation
from solvers.lp_rounding import lp_rounding
from territory.domain.arrays import FloatArray, IntArray
from territory.domain.budget import Budget
from territory.domain.geo import EARTH_RADIUS_KM, unit_vectors
from territory.domain.model import AlignmentProblem, AlignmentSettings, build_problem
from territory.workflow.rescue import settle_whole_clusters, split_clusters

CLUSTER_LEAF = 16
"""Micro-clusters hold at most this many accounts (about n/10 clusters on typical data)."""

CLUSTER_MASS_SHARE = 0.04
"""... and at most this share of the smallest rep's potential or workload target."""

CLUSTER_COUNT = 16_000
"""Past this many clusters the caps are relaxed (x2 on size and mass, x4 on spread, in steps) so
the coarse LP stays small. Its simplex time grows much faster than its size: at 1M accounts /
2,000 reps on ZIP centroids (south-east, seed 1; 2 cores under load 5) 13k clusters took 24 s
and 25k 170 s with nearest-rep pairs, and 53k did not finish in 285 s (the run then fell back to
a greedy start and ended in exit 4)."""

CLUSTER_SPREAD = 0.5
"""... and span at most this fraction of the median distance between neighbouring reps."""

COARSE_PAIRS_PER_SECOND = 15_000
"""Coarse LP pairs (clusters x candidates) the LP gets through per second of its share, at the
least: past this the caps are relaxed as past :data:`CLUSTER_COUNT`, so the coarse LP finishes
in its share. Measured at 100k/500 on ZIP-clustered accounts on 2 busy cores: 33.6k clusters x 16
candidates (538k pairs) took 26-34 s and missed its 21 s share at a 60 s limit."""

CLUSTERS_PER_REP = 32
"""... and past this many clusters per rep: more only slow the coarse LP down (at 100k/500 on
ZIP-clustered accounts, 33.6k clusters at a 120 s limit ended 11% off balance, 16.4k at 60 s 6%;
at 1M/2,000 the measured run had 64k)."""

COARSE_CANDIDATE_FACTOR = 2
"""Clusters consider this many times the account-level candidate reps: a cluster is a large
chunk of a rep's window, so the coarse LP needs more reach to stay feasible (measured at
100k/500: 8 candidates left the coarse LP 31% outside the windows, 16 none)."""

COARSE_CLUSTER_COLUMN = "__micro_cluster"

COARSE_MARGIN = 0.15
"""Share of each window's half-width the coarse LP keeps clear where it can (cheap slack may
use it): splitting its clusters then moves each rep by about one account without leaving the
window."""

REACH_CANDIDATES = 64
"""Reps per cluster the greedy fills before the coarse LP may use (see :func:`_with_reach`)."""

REACH_FILLS = 2
"""Greedy fills, each barred from the pairs of the ones before."""

COARSE_PRICING_ROUNDS = 3
"""Pricing rounds of the coarse LP while it leaves a window (see :func:`_priced`)."""

ROUNDING_UNITS = 60_000
"""Split units past which the account-level LP after the coarse LP is solved by groups of reps."""

ROUNDING_GROUP_REPS = 128
"""Reps per group of :func:`_rounded_by_groups` (neighbouring reps, by bisection)."""

BORDER_NEIGHBOURS = 8
"""Nearest units of each unit of an off-balance rep that :func:`border_pairs` links to it."""

LP_FEASIBLE_TOL = 1e-7

SPLIT_VIOLATION = 0.5
"""An optimal coarse LP outside the windows by up to this much (targets, summed over reps) is
still split and rounded: its few reps off need far less repair than a greedy start (measured at
100k/500 in Texas, Oklahoma and Louisiana: 0.04 targets off in the LP; the greedy start left 152
reps off, up to 13%)."""
"""Elastic violation (targets, summed over reps) below which the coarse LP meets its windows."""


# --------------------------------------------------------------------------------------------
# Micro-clusters


def micro_clusters(
    lat: FloatArray,
    lon: FloatArray,
    potential: FloatArray,
    workload: FloatArray,
    group: IntArray,
    *,
    leaf: int,
    max_potential: float,
    max_workload: float,
    max_chord: float,
) -> IntArray:
    """Label each point with a compact micro-cluster, never mixing two values of ``group``.

    Recursive bisection, all segments of a level at once: a segment splits at its median along
    its widest axis (on the unit sphere) while it holds more than ``leaf`` points, more than the
    mass caps, or spans more than ``max_chord``. Deterministic (stable sorts); O(n log n).
    """
    n = lat.shape[0]
    if n == 0:
        return np.empty(0, np.int64)
    xyz = unit_vectors(lat, lon)
    order = np.lexsort((np.arange(n), group))
    g = group[order]
    bounds = np.flatnonzero(np.concatenate([[True], g[1:] != g[:-1], [True]])).astype(np.int64)
    bounds[-1] = n
    while True:
        starts, size = bounds[:-1], np.diff(bounds)
        pts = xyz[order]
        p_sum = np.add.reduceat(potential[order], starts)
        w_sum = np.add.reduceat(workload[order], starts)
        extent = np.maximum.reduceat(pts, starts, axis=0) - np.minimum.reduceat(pts, starts, axis=0)
        wide = np.sqrt((extent**2).sum(axis=1)) > max_chord
        split = (size > 1) & (
            (size > leaf) | (p_sum > max_potential) | (w_sum > max_workload) | wide
        )
        if not split.any():
            break
        seg = np.repeat(np.arange(starts.size), size)
        axis = np.argmax(extent, axis=1)
        coord = np.where(split[seg], pts[np.arange(n), axis[seg]], 0.0)
        order = order[np.lexsort((np.arange(n), coord, seg))]
        bounds = np.union1d(bounds, (starts + size // 2)[split]).astype(np.int64)
    labels = np.empty(n, dtype=np.int64)
    labels[order] = np.repeat(np.arange(bounds.size - 1), np.diff(bounds))
    return labels


def _rep_spacing(problem: AlignmentProblem) -> float:
    """Median chord distance (unit sphere) from a rep to its nearest other rep."""
    if problem.n_reps < 2:
        return 2.0
    xyz = unit_vectors(problem.rep_lat, problem.rep_lon)
    dist, _ = cKDTree(xyz).query(xyz, k=2)
    return float(np.median(dist[:, 1]))


def cluster_units(problem: AlignmentProblem, max_clusters: int = CLUSTER_COUNT) -> IntArray:
    """Micro-cluster of every unit (account or family) of an account-level problem.

    The caps are relaxed in steps while there are more than ``max_clusters`` clusters.
    """
    r = problem.n_reps
    group = np.zeros(problem.n_accounts, dtype=np.int64)
    if problem.settings.disruption_weight > 0:
        # Priced disruption: a cluster should move as one only if its accounts share a rep.
        group = np.where(problem.current >= 0, problem.current + 1, 0)
    group = np.where(problem.locked >= 0, r + 1 + problem.locked, group)
    spacing = _rep_spacing(problem)
    labels = np.empty(0, np.int64)
    for relax in (1, 2, 4, 8):
        # Too many clusters for the coarse LP: coarser caps (bigger, wider clusters), in steps.
        labels = micro_clusters(
            problem.account_lat,
            problem.account_lon,
            problem.potential,
            problem.workload,
            group,
            leaf=CLUSTER_LEAF * relax,
            max_potential=relax * CLUSTER_MASS_SHARE * float(problem.potential_target.min()),
            max_workload=relax * CLUSTER_MASS_SHARE * float(problem.workload_target.min()),
            max_chord=relax**2 * CLUSTER_SPREAD * spacing,
        )
        if int(labels.max(initial=-1)) + 1 <= max_clusters:
            break
    return labels


# --------------------------------------------------------------------------------------------
# The coarse solve


def cluster_budget(n_reps: int, candidates: int, seconds: float) -> int:
    """Most micro-clusters the coarse LP gets through in ``seconds`` (at least 8 per rep)."""
    fits = int(COARSE_PAIRS_PER_SECOND * seconds / (COARSE_CANDIDATE_FACTOR * candidates))
    return max(min(CLUSTER_COUNT, fits, CLUSTERS_PER_REP * n_reps), 8 * n_reps)


@dataclass(frozen=True)
class CoarseStart:
    """An account-level plan from the coarse stage, and the pairs the coarse LP used."""

    plan: IntArray
    support_units: IntArray
    support_reps: IntArray
    lp_seconds: float
    prices: tuple[FloatArray, FloatArray] | None = None
    """The coarse LP's potential and workload window duals per rep (None without an optimal
    LP): Lagrangian prices for the account-level bound that need no climb."""


def coarse_start(
    fine: AlignmentProblem,
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    settings: AlignmentSettings,
    unit_cluster: IntArray,
    budget: Budget,
    *,
    forbidden: pd.DataFrame | None,
    seed: int,
    notes: list[str],
) -> CoarseStart:
    """Solve the micro-clusters as families and turn the result into a plan per unit.

    Parameters
    ----------
    fine
        The unit-level problem the plan is for.
    accounts, reps, settings, forbidden
        What ``fine`` was built from (the coarse problem is built from them too).
    unit_cluster
        Micro-cluster of every unit of ``fine``.
    budget
        The solve's budget: the coarse LP takes its ``coarse_lp`` share, the account-level LP
        its ``coarse_plan`` share.
    seed
        Seed of the heuristic used when the coarse LP is not solved.
    notes
        Receives a line per step taken.
    """
    t_built = time.perf_counter()
    account_cluster = unit_cluster if fine.members is None else unit_cluster[fine.members.unit_of]
    labelled = accounts.assign(**{COARSE_CLUSTER_COLUMN: account_cluster})
    coarse = build_problem(
        labelled,
        reps,
        replace(settings, candidates=COARSE_CANDIDATE_FACTOR * settings.candidates),
        forbidden=forbidden,
        family_column=COARSE_CLUSTER_COLUMN,
    )
    margin = COARSE_MARGIN
    coarse = _with_reach(coarse, notes)
    t_flow = time.perf_counter()
    flowed = flow_start(fine)
    coarse = _with_flow_reach(coarse, fine, flowed, notes)
    notes.append(
        f"coarse problem and its reach pairs built in {time.perf_counter() - t_built:.1f} s "
        f"(flow start {time.perf_counter() - t_flow:.1f} s)"
    )
    lp = solve_relaxation(
        coarse, time_limit_s=budget.share("coarse_lp"), elastic=True, margin=margin
    )
    coarse, lp = _priced(coarse, lp, budget, margin, notes)
    support_a, support_r = _support_pairs(fine, coarse, lp)
    plan: IntArray | None = None
    if lp.optimal and lp.violation <= SPLIT_VIOLATION:
        assert coarse.members is not None
        of_unit = _per_unit(fine, coarse.members.unit_of)
        whole = np.bincount(of_unit, minlength=coarse.n_accounts) == 1
        # Measured at 1M / 2,000: with half of the time left this re-solve ran 80 s and was not
        # used, and the LP repair at refinement then balanced the key accounts' reps in 23 s;
        # before that repair existed, a key account's rep ended 7.9-18% off either way.
        t_settle = time.perf_counter()
        settled = settle_whole_clusters(
            coarse, whole, lp, budget.share("held_resolve"), margin=margin
        )
        if settled is lp and time.perf_counter() - t_settle > 1.0:
            notes.append(
                "coarse LP re-solve with its single-unit clusters held whole not used "
                f"({time.perf_counter() - t_settle:.1f} s)"
            )
        if settled is not lp:
            notes.append(
                f"coarse LP re-solved with its single-unit clusters held whole "
                f"({settled.seconds:.1f} s)"
            )
            lp = settled
            support_a, support_r = _support_pairs(fine, coarse, lp)
        split = split_clusters(fine.with_pairs(support_a, support_r), of_unit, coarse, lp)
        plan = split
        notes.append(
            f"coarse plan: the coarse LP ({coarse.n_pairs:,} pairs, {lp.seconds:.1f} s) split "
            "by its shares"
        )
        if split is not None:
            plan = _rounded(fine, split, support_a, support_r, budget, notes)
    if plan is None and not lp.optimal:
        # No time for the coarse LP: the flow start, which already carries every surplus to
        # the reps short of it (a greedy start piles a crowded metro onto a few reps).
        notes.append(f"coarse LP not solved ({lp.status}): the flow start is the coarse plan")
        plan = flowed
    if plan is None:
        # An LP outside the windows: its rounding, repaired (solving it again would only spend
        # the time twice).
        if lp.optimal:
            notes.append(
                f"coarse LP {lp.violation:.3g} targets outside the windows: heuristic start"
            )
        else:
            notes.append(f"coarse LP not solved ({lp.status}): greedy start")
        solved = HeuristicSolver(use_lp=lp.optimal).solve(
            coarse,
            time_limit_s=budget.share("coarse_plan"),
            seed=seed,
            relaxation=lp if lp.optimal else None,
        )
        assert coarse.members is not None
        plan = _per_unit(fine, solved.assignment[coarse.members.unit_of])
    prices = rep_prices(coarse, lp) if lp.optimal and lp.row_dual is not None else None
    return CoarseStart(plan, support_a, support_r, lp.seconds, prices)


def _with_reach(coarse: AlignmentProblem, notes: list[str]) -> AlignmentProblem:
    """Add, per cluster, the rep a greedy fill over its nearest reps gives it.

    Where clusters crowd round too few reps (a city with more work than its nearest reps can
    take) every nearest-rep candidate is full and the coarse LP leaves the windows; pricing
    after the LP costs a second solve. Here the clusters are placed greedily first (largest
    first, each with its cheapest rep among its :data:`REACH_CANDIDATES` nearest that still has
    room: :func:`solvers.heuristic.greedy_start`), and that rep joins its candidates: crowded
    clusters reach the reps beyond, and the LP has a nearly balanced plan within its pairs.
    """
    n, r = coarse.n_accounts, coarse.n_reps
    k = min(REACH_CANDIDATES, r)
    if k <= 1 or n == 0:
        return coarse
    xyz = unit_vectors(coarse.account_lat, coarse.account_lon)
    _, near = cKDTree(unit_vectors(coarse.rep_lat, coarse.rep_lon)).query(xyz, k=k)
    # Costs at the cluster centres (exact for a point cluster): the greedy only ranks reps.
    pa = np.repeat(np.arange(n, dtype=np.int64), k)
    pr = near.ravel().astype(np.int64)
    distance = _centre_km(xyz[pa], unit_vectors(coarse.rep_lat, coarse.rep_lon)[pr])
    wide = replace(
        coarse, pair_account=pa, pair_rep=pr, pair_distance_km=distance,
        pair_cost=coarse.settings.travel(coarse.workload[pa], distance),
        account_start=np.arange(n + 1, dtype=np.int64) * k,
    )  # fmt: skip
    found = []
    for _ in range(REACH_FILLS):
        greedy = greedy_start(wide)
        found.append(greedy)
        # The next fill may not use these pairs: another plan, other reps in reach.
        keep = wide.pair_rep != greedy[wide.pair_account]
        counts = np.bincount(wide.pair_account[keep], minlength=n)
        wide = replace(
            wide, pair_account=wide.pair_account[keep], pair_rep=wide.pair_rep[keep],
            pair_distance_km=wide.pair_distance_km[keep], pair_cost=wide.pair_cost[keep],
            account_start=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        )  # fmt: skip
    before = coarse.n_pairs
    coarse = coarse.with_pairs(
        np.tile(np.arange(n, dtype=np.int64), len(found)), np.concatenate(found)
    )
    notes.append(
        f"coarse LP: {coarse.n_pairs - before:,} cluster-rep pairs beyond the nearest reps, "
        f"from a greedy fill over each cluster's {k} nearest reps"
    )
    return coarse


def _with_flow_reach(
    coarse: AlignmentProblem, fine: AlignmentProblem, flowed: IntArray, notes: list[str]
) -> AlignmentProblem:
    """Add, per cluster, the reps the flow start hands its units to.

    Where reps do not sit where the accounts are (a metro with many targets' worth of accounts
    and few reps), nearest-rep candidates leave the coarse LP far outside the windows, and the
    greedy fill of :func:`_with_reach` cannot pass a surplus on through a chain of reps. The
    flow start (:func:`solvers.flow_start.flow_start`) does; its reps give the LP a plan
    balanced on the two measures combined within its pairs. Measured at 1M accounts / 2,000
    reps on ZIP centroids in four south-eastern states (13k clusters): 1,580 targets outside
    the windows with the nearest and greedy reps, 0.38 with these pairs added.
    """
    assert coarse.members is not None
    of_unit = _per_unit(fine, coarse.members.unit_of)
    keys = np.unique(of_unit * coarse.n_reps + flowed)
    before = coarse.n_pairs
    coarse = coarse.with_pairs(keys // coarse.n_reps, keys % coarse.n_reps)
    notes.append(
        f"coarse LP: {coarse.n_pairs - before:,} cluster-rep pairs from the flow start "
        "(surpluses handed from rep to neighbouring rep)"
    )
    return coarse


def _chord_km(chord: FloatArray) -> FloatArray:
    """Great-circle kilometres of chords on the unit sphere."""
    return np.asarray(2.0 * EARTH_RADIUS_KM * np.arcsin(np.minimum(chord / 2.0, 1.0)))


def _centre_km(a: FloatArray, b: FloatArray) -> FloatArray:
    """Great-circle kilometres between rows of unit vectors."""
    return _chord_km(np.sqrt(((a - b) ** 2).sum(axis=1)))


def _priced(
    coarse: AlignmentProblem, lp: LpResult, budget: Budget, margin: float, notes: list[str]
) -> tuple[AlignmentProblem, LpResult]:
    """Add cluster-rep pairs the coarse LP's duals ask for while it leaves a window.

    Nearest-rep candidates can leave a rep out of reach of enough clusters (sparse regions):
    the elastic LP then pays to leave the window and its duals price every cluster-rep pair.
    Pairs are priced at the cluster's centre (its workload times the distance, which is the
    exact cost for a point cluster) and the cheapest two per cluster with a negative reduced
    cost join the model; the LP resumes from its basis (new columns keep it valid). Measured at
    100k/500 in Texas, Oklahoma and Louisiana: one round took the violation from 1.71 targets
    to none (Oklahoma City's clusters reach farther reps); the warm re-solve took 19 s against
    30 s cold (and more with the primal simplex), on 2 cores under a load of 8-10.
    """
    added = 0
    for _ in range(COARSE_PRICING_ROUNDS):
        if not lp.optimal or lp.row_dual is None or lp.violation <= LP_FEASIBLE_TOL:
            break
        # A round must end (judged by the last solve's time) with half of the limit left for
        # the plan: at 1M / 2,000 a second round of about 100 s took the coarse stage to 82% of
        # the limit, and refinement then lacked the time to balance the last two reps.
        if budget.remaining() - lp.seconds < 0.5 * budget.limit_s:
            break
        clusters, reps = _negative_pairs(coarse, lp)
        if clusters.size == 0:
            break
        added += clusters.size
        coarse = coarse.with_pairs(clusters, reps)
        lp = solve_relaxation(
            coarse,
            time_limit_s=budget.share("coarse_lp"),
            warm=lp,
            elastic=True,
            margin=margin,
        )
    if added:
        notes.append(
            f"coarse LP: {added:,} cluster-rep pairs added by pricing; "
            + (f"{lp.violation:.3g} targets still outside the windows" if lp.optimal else lp.status)
        )
    return coarse, lp


def _negative_pairs(coarse: AlignmentProblem, lp: LpResult) -> tuple[IntArray, IntArray]:
    """Up to two cluster-rep pairs per cluster, outside the model, with negative reduced cost."""
    assert lp.row_dual is not None
    n, r = coarse.n_accounts, coarse.n_reps
    pi, sigma = rep_prices(coarse, lp)
    dual = lp.row_dual[:n]
    rep_xyz = unit_vectors(coarse.rep_lat, coarse.rep_lon)
    xyz = unit_vectors(coarse.account_lat, coarse.account_lon)
    rows = max(1, 4_000_000 // max(r, 1))
    found_a: list[IntArray] = []
    found_r: list[IntArray] = []
    for lo in range(0, n, rows):
        chunk = np.arange(lo, min(lo + rows, n), dtype=np.int64)
        chord = np.sqrt(np.maximum(2.0 - 2.0 * xyz[chunk] @ rep_xyz.T, 0.0))
        distance = _chord_km(chord)
        w = coarse.workload[chunk][:, None]
        cost = coarse.settings.travel(np.broadcast_to(w, distance.shape), distance)
        reduced = (
            cost
            - coarse.potential[chunk][:, None] * pi[None, :]
            - w * sigma[None, :]
            - dual[chunk][:, None]
        )
        best = np.argsort(reduced, axis=1, kind="stable")[:, :2]
        value = np.take_along_axis(reduced, best, axis=1)
        pick = value < -1e-9 * max(float(np.abs(dual).max(initial=1.0)), 1.0)
        found_a.append(np.repeat(chunk, 2)[pick.ravel()])
        found_r.append(best.ravel()[pick.ravel()].astype(np.int64))
    clusters = np.concatenate(found_a)
    reps = np.concatenate(found_r)
    keys = clusters * r + reps
    have = coarse.pair_account * r + coarse.pair_rep
    new = ~np.isin(keys, have)
    return clusters[new], reps[new]


def _rounded(
    fine: AlignmentProblem,
    split: IntArray,
    support_a: IntArray,
    support_r: IntArray,
    budget: Budget,
    notes: list[str],
) -> IntArray:
    """Re-place the units the coarse LP split between reps by :func:`lp_rounding`.

    Those units may go to any of their cluster's LP reps; the better plan of the split and the
    rounded one (less window violation) is kept. Past :data:`ROUNDING_UNITS` units in play the
    LP is solved by groups of neighbouring reps (:func:`_rounded_by_groups`).
    """
    counts = np.bincount(support_a, minlength=fine.n_accounts)
    in_play = counts[support_a] >= 2
    units, reps = support_a[in_play], support_r[in_play]
    deadline = time.perf_counter() + budget.share("coarse_plan")
    free = np.unique(units).size
    if free > ROUNDING_UNITS:
        plan, solved, seconds, trail = _rounded_by_groups(fine, split, units, reps, deadline)
        better = fine.violation(plan) <= fine.violation(split)
        notes.append(
            f"account-level LP over {free:,} units of split clusters, by {solved} groups of "
            f"neighbouring reps, in {seconds:.1f} s (window violation "
            + " -> ".join(f"{v:.3g}" for v in trail)
            + " targets)"
            + ("" if better else "; the split plan was better and is kept")
        )
        return plan if better else split
    rounded = lp_rounding(fine, split, units, reps, deadline=deadline)
    if rounded is None:
        notes.append("account-level LP over the split clusters not solved in time")
        return split
    better = fine.violation(rounded.plan) <= fine.violation(split)
    notes.append(
        f"account-level LP over {rounded.free:,} units of split clusters ({rounded.pairs:,} "
        f"pairs, {rounded.held} held whole, {rounded.split} rounded) in {rounded.seconds:.1f} s"
        + ("" if better else "; the split plan was better and is kept")
    )
    return rounded.plan if better else split


def _rounded_by_groups(
    fine: AlignmentProblem, plan: IntArray, units: IntArray, reps: IntArray, deadline: float
) -> tuple[IntArray, int, float, list[float]]:
    """:func:`lp_rounding` group by group of neighbouring reps, then over the units between groups.

    One LP over every split unit of a million-account book does not finish in its share (measured
    at 1M / 2,000: about 300k units). Each unit whose reps all lie in one group is re-placed by
    that group's LP (every other unit's load fixed); the units whose reps span groups go last,
    together, once the groups have settled. A group's LP that does not finish keeps its split.
    Returns the plan, the number of LPs solved, the seconds taken and the window violation
    (targets, summed over reps) before, after the groups and at the end.
    """
    t0 = time.perf_counter()
    ones = np.ones(fine.n_reps)
    group = micro_clusters(
        fine.rep_lat, fine.rep_lon, ones, ones, np.zeros(fine.n_reps, dtype=np.int64),
        leaf=ROUNDING_GROUP_REPS, max_potential=np.inf, max_workload=np.inf, max_chord=np.inf,
    )  # fmt: skip
    of_pair = group[reps]
    lowest = np.full(fine.n_accounts, np.iinfo(np.int64).max)
    highest = np.full(fine.n_accounts, -1)
    np.minimum.at(lowest, units, of_pair)
    np.maximum.at(highest, units, of_pair)
    inside = lowest[units] == highest[units]
    order = np.argsort(of_pair, kind="stable")
    order = order[inside[order]]
    bounds = np.searchsorted(of_pair[order], np.arange(int(group.max(initial=-1)) + 2))
    out = plan.copy()
    solved = 0
    pieces = [order[bounds[g] : bounds[g + 1]] for g in range(bounds.size - 1)]
    pieces.append(np.flatnonzero(~inside))
    trail = [fine.violation(out)]
    for k, pick in enumerate(pieces):
        if k == len(pieces) - 1:
            trail.append(fine.violation(out))
        left = deadline - time.perf_counter()
        if left <= 0.5:
            break
        if pick.size == 0:
            continue
        # Each piece gets an even share of the time left; the units between groups the rest.
        share = left if k == len(pieces) - 1 else left / (len(pieces) - k)
        found = lp_rounding(
            fine, out, units[pick], reps[pick], deadline=time.perf_counter() + share
        )
        if found is not None and fine.violation(found.plan) <= fine.violation(out):
            out = found.plan
            solved += 1
    trail.append(fine.violation(out))
    return out, solved, time.perf_counter() - t0, trail


def border_pairs(
    problem: AlignmentProblem, plan: IntArray, reps: IntArray, neighbours: int = BORDER_NEIGHBOURS
) -> tuple[IntArray, IntArray]:
    """Pairs that let the given reps take or give the units along their territories' borders.

    A rep the flow start or the coarse LP sent far from home (a metro's surplus handed on) holds
    units whose nearest-rep candidates do not include it, nor do their neighbours': local moves
    cannot reach it. Every unit among the ``neighbours`` nearest of a unit on one of ``reps``
    gets that rep as a candidate. Measured at 1M / 2,000 after the coarse stage: with these
    26k pairs, local search took the reps off balance from 292 to 1 in 60 s (none moved
    without them).
    """
    on = np.flatnonzero(np.isin(plan, reps))
    if on.size == 0 or problem.n_accounts < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    xyz = unit_vectors(problem.account_lat, problem.account_lon)
    k = min(neighbours + 1, problem.n_accounts)
    _, near = cKDTree(xyz).query(xyz[on], k=k)
    near = np.asarray(near, dtype=np.int64).reshape(on.size, k)
    units = near.ravel()
    owner = np.repeat(plan[on], k)
    new = plan[units] != owner
    return units[new], owner[new]


def _support_pairs(
    fine: AlignmentProblem, coarse: AlignmentProblem, lp: LpResult
) -> tuple[IntArray, IntArray]:
    """Unit-rep pairs behind the coarse LP's support: every member of a cluster with its reps.

    The coarse fractional plan, copied to each member, is a fractional plan over these pairs, so
    with them the account-level candidate LP is feasible whenever the coarse one was: its dual,
    which :func:`smooth_dual_prices` climbs, stays bounded.
    """
    empty = np.empty(0, np.int64)
    if lp.x is None or coarse.members is None:
        return empty, empty
    used = np.flatnonzero(lp.x > 1e-9)
    clusters, reps = coarse.pair_account[used], coarse.pair_rep[used]
    cluster_of_unit = _per_unit(fine, coarse.members.unit_of)
    order = np.argsort(cluster_of_unit, kind="stable")
    start = np.searchsorted(cluster_of_unit[order], np.arange(coarse.n_accounts + 1))
    counts = start[clusters + 1] - start[clusters]
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    units = order[np.repeat(start[clusters], counts) + offsets]
    return units.astype(np.int64), np.repeat(reps, counts).astype(np.int64)


def _per_unit(problem: AlignmentProblem, per_account: IntArray) -> IntArray:
    """Map a rep per account to the problem's units (families' members agree by design)."""
    if problem.members is None:
        return per_account.astype(np.int64)
    first = problem.members.index[problem.members.start[:-1]]
    return per_account[first].astype(np.int64)
