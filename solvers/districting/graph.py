"""Graph helpers of the contiguity model: neighbours, pieces, separators, lightest paths."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from solvers.districting.solution import FloatArray, IntArray
from territory.domain.districting import DualGraph


def neighbours(graph: DualGraph) -> list[list[int]]:
    """List the neighbours of every unit, in edge order."""
    nbrs: list[list[int]] = [[] for _ in range(graph.n)]
    for u, v in graph.edges.tolist():
        nbrs[u].append(v)
        nbrs[v].append(u)
    return nbrs


def components(members: set[int], nbrs: list[list[int]]) -> list[list[int]]:
    """Split the subgraph induced by ``members`` into connected pieces (each sorted)."""
    seen: set[int] = set()
    pieces: list[list[int]] = []
    for s in sorted(members):
        if s in seen:
            continue
        seen.add(s)
        piece, queue = [s], deque([s])
        while queue:
            u = queue.popleft()
            for v in nbrs[u]:
                if v in members and v not in seen:
                    seen.add(v)
                    piece.append(v)
                    queue.append(v)
        pieces.append(sorted(piece))
    return pieces


def _reach(start: int, blocked: set[int], nbrs: list[list[int]]) -> set[int]:
    """Find the units reachable from ``start`` without entering ``blocked``."""
    seen, queue = {start}, deque([start])
    while queue:
        u = queue.popleft()
        for v in nbrs[u]:
            if v not in blocked and v not in seen:
                seen.add(v)
                queue.append(v)
    return seen


@dataclass(frozen=True)
class Separation:
    """A stray piece of a district, cut off from its main piece by a minimal separator.

    ``a_side`` is the stray piece, ``b_side`` the side holding the main piece ``main``, and
    ``c`` a minimal vertex separator between them (no unit of ``c`` is in the district).
    """

    a_side: list[int]
    b_side: set[int]
    main: list[int]
    c: list[int]


def separations(
    plan: IntArray, nbrs: list[list[int]], weights: FloatArray, anchors: dict[int, int] | None
) -> list[Separation]:
    """Find every stray piece of every disconnected district, with a minimal separator.

    The main piece of a district is the one holding its anchor (centre), else the heaviest.
    """
    found: list[Separation] = []
    for d in np.unique(plan).tolist():
        members = set(np.flatnonzero(plan == d).tolist())
        pieces = components(members, nbrs)
        if len(pieces) < 2:
            continue
        if anchors is not None and d in anchors:
            main = next(p for p in pieces if anchors[d] in p)
        else:
            main = max(pieces, key=lambda p: (float(weights[p, 0].sum()), -p[0]))
        for piece in pieces:
            if piece is main:
                continue
            a_set = set(piece)
            c0 = {v for u in piece for v in nbrs[u] if v not in a_set}
            b_side = _reach(main[0], c0, nbrs)
            c = sorted(v for v in c0 if any(w in b_side for w in nbrs[v]))
            found.append(Separation(piece, b_side, main, c))
    return found


def lightest_path_weight(graph: DualGraph, w: FloatArray) -> FloatArray:
    """Compute ``[i, j]``: the least total unit weight of a path from ``i`` to ``j``.

    Both ends are included, so ``[i, i]`` is the weight of ``i``.
    """
    eps = 1e-9 * max(float(np.abs(w).max(initial=0.0)), 1.0)
    u, v = graph.edges[:, 0], graph.edges[:, 1]
    rows = np.concatenate([u, v])
    cols = np.concatenate([v, u])
    data = w[cols] + eps  # arc weight = weight of the unit entered (eps: keep zero-weight arcs)
    arcs = sparse.csr_matrix((data, (rows, cols)), shape=(graph.n, graph.n))
    dist = np.asarray(csgraph.dijkstra(arcs, directed=True))
    return np.asarray(dist + w[:, None] - eps * graph.n)
