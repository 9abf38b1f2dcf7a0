"""The two districting models, written as a :class:`~solvers.districting.milp.Milp`.

- ``centred`` (Hess / p-median): ``x[i, j]`` puts unit ``i`` in the district centred at ``j``;
- ``cut_edges`` (labeling): ``x[i, d]`` puts unit ``i`` in district ``d``, ``y[e]`` marks a cut
  edge, with a cumulative ordering that removes relabelled copies of each plan.

Each builder returns a :class:`Built`: the model, how to read a plan from its values, the
separator cuts that mend a disconnected plan, and how to write a plan as a warm start.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from solvers.districting.graph import lightest_path_weight, separations
from solvers.districting.milp import Milp, Row
from solvers.districting.solution import FloatArray, IntArray
from territory.domain.districting import DualGraph


@dataclass
class Built:
    """A model and what the driver needs to run it round after round.

    ``decode`` reads ``(plan, centres)`` from the solver's values (centres None for the
    labeling model); ``cuts`` gives the separator rows that a disconnected plan violates;
    ``encode`` writes a plan as values for a warm start (None when the model cannot hold it);
    ``detail`` is reported with the solution.
    """

    milp: Milp
    decode: Callable[[FloatArray], tuple[IntArray, IntArray | None]]
    cuts: Callable[[IntArray, IntArray | None], list[Row]]
    detail: dict[str, float | int | str]
    encode: Callable[[IntArray], FloatArray | None]


def build_centred(
    graph: DualGraph,
    k: int,
    *,
    weights: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    cost: FloatArray,
    contiguity: bool,
    flow: bool,
    nbrs: list[list[int]],
) -> Built:
    """Build the centred (Hess / p-median) model: minimise ``sum_i cost[i, centre(i)]``.

    Parameters
    ----------
    graph
        The units and their adjacency.
    k
        The number of districts (centres).
    weights, lower, upper
        One column per measure; every district's sum of a measure lies in its bounds.
    cost
        ``cost[i, j]``: the cost of unit ``i`` in the district centred at ``j`` (n x n).
    contiguity
        Districts must be connected: ``x[i, j]`` is fixed to 0 when the lightest path from
        ``i`` to ``j`` outweighs ``upper``, and each unit needs a neighbour in its district.
    flow
        Enforce contiguity by Shirabe's flow (one solve) instead of rounds of cuts.
    nbrs
        The neighbours of every unit (:func:`solvers.districting.graph.neighbours`).

    Returns
    -------
    Built
        The model with its decoder, cut generator and warm-start encoder.
    """
    n, q = graph.n, weights.shape[1]
    allowed = np.ones((n, n), dtype=bool)
    if contiguity:
        for m in range(q):
            allowed &= lightest_path_weight(graph, weights[:, m]) <= upper[m] + 1e-9
    np.fill_diagonal(allowed, True)
    milp = Milp()
    index = np.full((n, n), -1, dtype=np.int64)
    for j in range(n):  # centre variables first, then the assignments
        index[j, j] = milp.var(float(cost[j, j]))
    for i in range(n):
        for j in np.flatnonzero(allowed[i]).tolist():
            if i != j:
                index[i, j] = milp.var(float(cost[i, j]))
    for i in range(n):
        cols = index[i][index[i] >= 0].tolist()
        milp.row(cols, [1.0] * len(cols), 1.0, 1.0)
    milp.row([int(index[j, j]) for j in range(n)], [1.0] * n, float(k), float(k))
    for j in range(n):
        members = np.flatnonzero(index[:, j] >= 0)
        centre = int(index[j, j])
        for i in members.tolist():
            if i != j:
                milp.row([int(index[i, j]), centre], [1.0, -1.0], -math.inf, 0.0)
        cols = index[members, j].tolist()
        for m in range(q):
            vals = weights[members, m].tolist()
            jpos = int(np.flatnonzero(members == j)[0])
            lo_vals = list(vals)
            lo_vals[jpos] -= float(lower[m])
            hi_vals = list(vals)
            hi_vals[jpos] -= float(upper[m])
            milp.row(cols, lo_vals, 0.0, math.inf)
            milp.row(cols, hi_vals, -math.inf, 0.0)

    if contiguity and flow:
        # SHIR (Shirabe's flow): centre j sends one unit of flow to each member, along arcs
        # inside its district only, so every member is reached from the centre.
        for j in range(n):
            members = np.flatnonzero(index[:, j] >= 0)
            big = float(members.size - 1)
            inflow: dict[int, list[tuple[int, float]]] = {int(i): [] for i in members}
            for u in members.tolist():
                for v in nbrs[u]:
                    if v == j or index[v, j] < 0:
                        continue
                    f = milp.var(0.0, 0.0, big, integer=False)
                    milp.row([f, int(index[v, j])], [1.0, -big], -math.inf, 0.0)
                    inflow[v].append((f, 1.0))
                    inflow[u].append((f, -1.0))
            for i in members.tolist():
                if i == j:
                    continue
                terms = inflow[i]
                milp.row(
                    [t[0] for t in terms] + [int(index[i, j])],
                    [t[1] for t in terms] + [-1.0],
                    0.0,
                    0.0,
                )
    if contiguity:
        # A unit in a connected district of two or more units has a neighbour in it: the
        # separator cut with C = N(i), added upfront because most strays are single units.
        for i in range(n):
            for j in np.flatnonzero(index[i] >= 0).tolist():
                if i == j:
                    continue
                c_cols = [int(index[c, j]) for c in nbrs[i] if index[c, j] >= 0]
                milp.row([int(index[i, j]), *c_cols], [1.0] + [-1.0] * len(c_cols), -math.inf, 0.0)

    def decode(values: FloatArray) -> tuple[IntArray, IntArray | None]:
        centres = np.array([j for j in range(n) if values[index[j, j]] > 0.5], dtype=np.int64)
        plan = np.empty(n, dtype=np.int64)
        for i in range(n):
            cols = index[i, centres]
            ok = cols >= 0
            best = int(np.argmax(np.where(ok, values[np.where(ok, cols, 0)], -1.0)))
            plan[i] = best
        return plan, centres

    def cuts(plan: IntArray, centres: IntArray | None) -> list[Row]:
        assert centres is not None
        anchors = {d: int(c) for d, c in enumerate(centres.tolist())}
        out: list[Row] = []
        for sep in separations(plan, nbrs, weights, anchors):
            # Unit a joins centre j only if some unit of the separator C does too.
            for j in sorted(sep.b_side):
                c_cols = [int(index[c, j]) for c in sep.c if index[c, j] >= 0]
                for a in sep.a_side:
                    if index[a, j] < 0:
                        continue
                    out.append(
                        ([int(index[a, j]), *c_cols], [1.0] + [-1.0] * len(c_cols), -math.inf, 0.0)
                    )
        return out

    def encode(plan: IntArray) -> FloatArray | None:
        values = np.zeros(len(milp.cost))
        for d in np.unique(plan).tolist():
            members = np.flatnonzero(plan == d)
            centre = int(members[np.argmin(cost[np.ix_(members, members)].sum(axis=0))])
            cols = index[members, centre]
            if (cols < 0).any():
                return None
            values[cols] = 1.0
        return values

    free = int(allowed.sum())
    detail: dict[str, float | int | str] = {"variables_fixed": n * n - free, "x_variables": free}
    return Built(milp, decode, cuts, detail, encode)


def build_labeling(
    graph: DualGraph,
    k: int,
    *,
    weights: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    contiguity: bool,
    flow: bool,
    nbrs: list[list[int]],
) -> Built:
    """Build the labeling model: minimise the number of cut edges.

    The parameters are those of :func:`build_centred` without ``cost``. With ``contiguity``,
    a unit lighter than ``lower`` shares its district with a neighbour, and ``flow`` sends a
    flow from one root per district to every member instead of rounds of cuts.

    Returns
    -------
    Built
        The model with its decoder, cut generator and warm-start encoder.
    """
    n, q = graph.n, weights.shape[1]
    # Symmetry: districts are numbered in order of their first unit in ``order`` (heaviest first,
    # as heavy units anchor districts). Then unit at position p can only be in districts 0..p, and
    # district d may start only after district d-1 has started.
    order = np.argsort(-weights[:, 0], kind="stable")
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    milp = Milp()
    x = np.full((n, k), -1, dtype=np.int64)
    for i in range(n):
        for d in range(k):
            x[i, d] = milp.var(0.0, 0.0, 1.0 if d <= pos[i] else 0.0)
    y = [milp.var(1.0, 0.0, 1.0, integer=False) for _ in range(graph.m)]
    for i in range(n):
        milp.row(x[i].tolist(), [1.0] * k, 1.0, 1.0)
    for d in range(k):
        for m in range(q):
            milp.row(x[:, d].tolist(), weights[:, m].tolist(), float(lower[m]), float(upper[m]))
    for e, (u, v) in enumerate(graph.edges.tolist()):
        for d in range(k):
            milp.row([y[e], int(x[u, d]), int(x[v, d])], [1.0, -1.0, 1.0], 0.0, math.inf)
            milp.row([y[e], int(x[u, d]), int(x[v, d])], [1.0, 1.0, -1.0], 0.0, math.inf)
    # s[p, d] = number of units among the first p+1 in ``order`` that are in district d.
    s = np.full((n, k), -1, dtype=np.int64)
    for d in range(k - 1):
        for p in range(n):
            s[p, d] = milp.var(0.0, 0.0, float(p + 1), integer=False)
            unit = int(order[p])
            if p == 0:
                milp.row([int(s[p, d]), int(x[unit, d])], [1.0, -1.0], 0.0, 0.0)
            else:
                milp.row(
                    [int(s[p, d]), int(s[p - 1, d]), int(x[unit, d])], [1.0, -1.0, -1.0], 0.0, 0.0
                )
    for d in range(1, k):
        for p in range(1, n):
            unit = int(order[p])
            if d <= p:
                milp.row([int(x[unit, d]), int(s[p - 1, d - 1])], [1.0, -1.0], -math.inf, 0.0)

    if contiguity and flow:
        # Flow from one root unit per district to every member, along arcs inside the district.
        big = float(n - 1)
        for d in range(k):
            roots = [
                milp.var(0.0, 0.0, float(x_ub)) for x_ub in (milp.ub[x[i, d]] for i in range(n))
            ]
            milp.row(roots, [1.0] * n, 1.0, 1.0)
            net: list[list[tuple[int, float]]] = [[] for _ in range(n)]
            for u, v in graph.edges.tolist():
                for a, b in ((u, v), (v, u)):
                    f = milp.var(0.0, 0.0, big, integer=False)
                    milp.row([f, int(x[a, d])], [1.0, -big], -math.inf, 0.0)
                    milp.row([f, int(x[b, d])], [1.0, -big], -math.inf, 0.0)
                    net[b].append((f, 1.0))
                    net[a].append((f, -1.0))
            for i in range(n):
                milp.row([roots[i], int(x[i, d])], [1.0, -1.0], -math.inf, 0.0)
                milp.row(
                    [t[0] for t in net[i]] + [int(x[i, d]), roots[i]],
                    [t[1] for t in net[i]] + [-1.0, big + 1.0],
                    0.0,
                    math.inf,
                )
    if contiguity:
        # Unit i, too light to be a district alone, shares its district with a neighbour.
        for i in range(n):
            if any(weights[i, m] < lower[m] for m in range(q)):
                for d in range(k):
                    c_cols = [int(x[c, d]) for c in nbrs[i]]
                    milp.row([int(x[i, d]), *c_cols], [1.0] + [-1.0] * len(c_cols), -math.inf, 0.0)

    def decode(values: FloatArray) -> tuple[IntArray, IntArray | None]:
        return np.argmax(values[x], axis=1).astype(np.int64), None

    def cuts(plan: IntArray, _centres: IntArray | None) -> list[Row]:
        out: list[Row] = []
        for sep in separations(plan, nbrs, weights, None):
            # Units a and b share a district only if some unit of the separator C joins them.
            touching = [b for b in sep.main if any(c in sep.c for c in nbrs[b])] or sep.main
            for a in sep.a_side:
                for b in touching[:5]:
                    for d in range(k):
                        c_cols = [int(x[c, d]) for c in sep.c]
                        out.append(
                            (
                                [int(x[a, d]), int(x[b, d]), *c_cols],
                                [1.0, 1.0] + [-1.0] * len(c_cols),
                                -math.inf,
                                1.0,
                            )
                        )
        return out

    def encode(plan: IntArray) -> FloatArray | None:
        # Number the districts in order of their first unit in ``order``, as the model does.
        labels: dict[int, int] = {}
        for unit in order.tolist():
            labels.setdefault(int(plan[unit]), len(labels))
        ours = np.array([labels[int(d)] for d in plan.tolist()], dtype=np.int64)
        values = np.zeros(len(milp.cost))
        values[x[np.arange(n), ours]] = 1.0
        values[y] = (ours[graph.edges[:, 0]] != ours[graph.edges[:, 1]]).astype(np.float64)
        for d in range(k - 1):
            values[s[:, d]] = np.cumsum(ours[order] == d)
        return values

    return Built(milp, decode, cuts, {"x_variables": n * k}, encode)
