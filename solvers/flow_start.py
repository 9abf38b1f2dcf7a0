"""A start plan for books whose reps do not sit where the business is: surplus pushed by flows.

When a metro holds many targets' worth of accounts but few reps, every nearest-rep candidate is
overfull and a greedy start piles the metro onto whichever rep still looks emptiest (measured at
1M accounts / 2,000 reps on ZIP centroids in four south-eastern states: reps 15x over target).
Here the surplus is moved the way a planner would: each rep's *cell* (the units nearest to it)
is compared with its targets, a min-cost flow over the neighbouring-rep graph (Delaunay
triangulation plus nearest neighbours, costs in km) says how much each rep hands to each
neighbour, and, rep by rep in the flow's order, the units nearest the receiving neighbour are
handed over. Chains of hand-overs carry a metro's surplus as far as it must go, one border at a
time, so every rep ends near its targets on the two measures combined; repair then fixes each
measure. Deterministic; 8-12 s at 1M units / 2,000 reps (four passes, each one small LP).
"""

from __future__ import annotations

from collections import deque

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog
from scipy.spatial import Delaunay, QhullError, cKDTree

from territory.domain.arrays import FloatArray, IntArray
from territory.domain.geo import haversine_km, unit_vectors
from territory.domain.model import AlignmentProblem

PASSES = (("potential", "workload"), ("potential",), ("workload",), ("potential", "workload"))
"""The measures each push balances: both together first (the bulk of the surplus), then each on
its own (key accounts weigh far more in potential than in workload), then both again."""

NEIGHBOURS = 6
"""Nearest other reps each rep is linked to, besides its Delaunay neighbours."""


def rep_graph(problem: AlignmentProblem) -> tuple[IntArray, FloatArray]:
    """Directed edges (both ways) between neighbouring reps, and their lengths in km.

    Delaunay neighbours on a local equirectangular projection keep the graph connected across
    sparse areas; the nearest neighbours add the short links a skinny triangle can miss.
    """
    r = problem.n_reps
    xyz = unit_vectors(problem.rep_lat, problem.rep_lon)
    k = min(NEIGHBOURS + 1, r)
    _, near = cKDTree(xyz).query(xyz, k=k)
    near = np.asarray(near).reshape(r, k)
    edges = [np.column_stack([np.repeat(np.arange(r), k - 1), near[:, 1:].ravel()])]
    if r >= 4:
        lat0 = np.deg2rad(float(np.mean(problem.rep_lat)))
        flat = np.column_stack(
            [np.deg2rad(problem.rep_lon) * np.cos(lat0), np.deg2rad(problem.rep_lat)]
        )
        try:
            tri = Delaunay(flat, qhull_options="QJ")
            s = tri.simplices
            edges += [s[:, [0, 1]], s[:, [1, 2]], s[:, [0, 2]]]
        except QhullError:  # every rep on one line: the nearest neighbours suffice
            pass
    pairs = np.vstack(edges).astype(np.int64)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    pairs = np.unique(np.sort(pairs, axis=1), axis=0)
    pairs = np.vstack([pairs, pairs[:, ::-1]])
    lat, lon = problem.rep_lat, problem.rep_lon
    km = haversine_km(lat[pairs[:, 0]], lon[pairs[:, 0]], lat[pairs[:, 1]], lon[pairs[:, 1]])
    return pairs, km


def hand_overs(excess: FloatArray, edges: IntArray, km: FloatArray) -> FloatArray:
    """Cheapest flow (target units x km) that takes every rep's excess to the reps short of it.

    ``excess`` sums to zero; returns the flow on each directed edge (zero where the graph
    leaves a rep unconnected to any demand: the rest still flows).
    """
    r, m = excess.size, edges.shape[0]
    if m == 0:
        return np.zeros(0)
    cols = np.arange(m)
    incidence = sp.csr_matrix(
        (np.r_[np.ones(m), -np.ones(m)], (np.r_[edges[:, 0], edges[:, 1]], np.r_[cols, cols])),
        shape=(r, m),
    )
    found = linprog(
        np.maximum(km, 1e-3), A_eq=incidence, b_eq=excess, bounds=(0, None), method="highs"
    )
    if found.status != 0 or found.x is None:
        return np.zeros(m)
    return np.asarray(found.x, dtype=np.float64)


def flow_start(problem: AlignmentProblem) -> IntArray:
    """Place each unit at its cheapest candidate, then hand surpluses down the cheapest flow.

    Locked units stay with their rep; a unit is only handed to a rep it may go to
    (:meth:`~territory.domain.model.AlignmentProblem.allowed`).
    """
    n, r = problem.n_accounts, problem.n_reps
    starts = problem.account_start
    has_pair = np.diff(starts) > 0
    first = np.minimum(starts[:-1], max(problem.n_pairs - 1, 0))
    cheapest = np.zeros(n, dtype=np.int64)
    if problem.n_pairs:
        best = np.minimum.reduceat(problem.pair_cost, first)
        is_best = problem.pair_cost == best[problem.pair_account]
        pos = np.flatnonzero(is_best)
        _, at = np.unique(problem.pair_account[pos], return_index=True)
        cheapest[problem.pair_account[pos[at]]] = problem.pair_rep[pos[at]]
    plan = np.where(problem.locked >= 0, problem.locked, cheapest)
    plan = np.where(has_pair | (problem.locked >= 0), plan, 0).astype(np.int64)
    if r < 2 or n == 0:
        return plan
    p_unit = problem.potential / max(float(problem.potential_target.mean()), 1e-12)
    w_unit = problem.workload / max(float(problem.workload_target.mean()), 1e-12)
    p_target = problem.potential_target / max(float(problem.potential_target.mean()), 1e-12)
    w_target = problem.workload_target / max(float(problem.workload_target.mean()), 1e-12)
    edges, km = rep_graph(problem)
    for measures in PASSES:
        weight = np.asarray([1.0 if "potential" in measures else 0.0,
                             1.0 if "workload" in measures else 0.0])  # fmt: skip
        weight /= weight.sum()
        size = weight[0] * p_unit + weight[1] * w_unit
        excess = np.bincount(plan, weights=size, minlength=r) - (
            weight[0] * p_target + weight[1] * w_target
        )
        excess -= excess.mean()
        _push(problem, plan, size, excess, edges, km)
    return plan


def _push(
    problem: AlignmentProblem,
    plan: IntArray,
    size: FloatArray,
    excess: FloatArray,
    edges: IntArray,
    km: FloatArray,
) -> None:
    """Hand units down the cheapest flow of ``excess`` (in ``size`` units), changing ``plan``."""
    r = problem.n_reps
    flow = hand_overs(excess, edges, km)
    used = flow > 1e-9
    edges, flow = edges[used], flow[used]
    if flow.size == 0:
        return
    unit_xyz = unit_vectors(problem.account_lat, problem.account_lon)
    rep_xyz = unit_vectors(problem.rep_lat, problem.rep_lon)
    movable = problem.locked < 0
    members: list[list[IntArray]] = [[] for _ in range(r)]
    order = np.argsort(plan, kind="stable")
    bounds = np.searchsorted(plan[order], np.arange(r + 1))
    for rep in range(r):
        members[rep].append(order[bounds[rep] : bounds[rep + 1]])
    for giver in _flow_order(r, edges):
        out = np.flatnonzero(edges[:, 0] == giver)
        if out.size == 0:
            continue
        held = np.concatenate(members[giver]) if members[giver] else np.empty(0, np.int64)
        held = np.sort(held[movable[held]], kind="stable")
        kept = np.ones(held.size, dtype=bool)
        here = np.sqrt(((unit_xyz[held] - rep_xyz[giver]) ** 2).sum(axis=1))
        for e in out[np.argsort(-flow[out], kind="stable")]:
            taker = int(edges[e, 1])
            pool = np.flatnonzero(kept)
            if pool.size == 0:
                break
            there = np.sqrt(((unit_xyz[held[pool]] - rep_xyz[taker]) ** 2).sum(axis=1))
            rank = pool[np.lexsort((held[pool], there - here[pool]))]
            cum = np.cumsum(size[held[rank]])
            # Hand over while the running total stays within half a unit of the flow.
            take = rank[(cum - 0.5 * size[held[rank]]) <= flow[e]]
            if take.size == 0:
                continue
            units = held[take]
            dist, _ = problem.pair_costs(units, np.full(units.size, taker, dtype=np.int64))
            ok = problem.allowed(units, np.full(units.size, taker, dtype=np.int64), dist)
            take, units = take[ok], units[ok]
            kept[take] = False
            plan[units] = taker
            members[taker].append(units)


def _flow_order(r: int, edges: IntArray) -> list[int]:
    """Reps in an order where every giver comes before the reps it hands to (Kahn's algorithm).

    A cheapest flow has no cycle with positive length; should rounding leave one, the reps on it
    follow in index order.
    """
    indegree = np.bincount(edges[:, 1], minlength=r)
    out_start = np.searchsorted(edges[np.argsort(edges[:, 0], kind="stable"), 0], np.arange(r + 1))
    targets = edges[np.argsort(edges[:, 0], kind="stable"), 1]
    ready = deque(int(i) for i in np.flatnonzero(indegree == 0))
    seen = np.zeros(r, dtype=bool)
    result: list[int] = []
    while ready:
        node = ready.popleft()
        if seen[node]:
            continue
        seen[node] = True
        result.append(node)
        for nxt in targets[out_start[node] : out_start[node + 1]].tolist():
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                ready.append(nxt)
    result.extend(int(i) for i in np.flatnonzero(~seen))
    return result
