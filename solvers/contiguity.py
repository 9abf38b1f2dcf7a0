"""Connected territories on a graph of basic units: repair, boundary moves and separator cuts.

A territory is contiguous when the units its rep holds form one connected piece of the unit
graph (:attr:`territory.domain.model.AlignmentProblem.adjacency`). The heuristic keeps that
property by
moving only boundary units whose removal leaves the donor connected (the receiver stays
connected because the unit touches it). Exact backends add the separator inequalities of
:func:`separator_cuts` lazily: solve, find the pieces that fell apart, cut them off, solve again.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

from territory.domain.model import AlignmentProblem, territory_pieces

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

MAX_PASSES = 400
"""Upper bound on boundary-move passes; each pass visits every boundary unit once."""


def neighbour_pairs(problem: AlignmentProblem) -> tuple[IntArray, IntArray]:
    """Pairs (unit, rep) for every rep that is a candidate of one of the unit's neighbours.

    Boundary moves need them: a unit can only join a territory it touches.
    """
    adj = problem.adjacency
    assert adj is not None
    coo = adj.tocoo()
    u, v = coo.row.astype(np.int64), coo.col.astype(np.int64)
    counts = problem.account_start[v + 1] - problem.account_start[v]
    units = np.repeat(u, counts)
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    reps = problem.pair_rep[np.repeat(problem.account_start[v], counts) + offsets]
    return units, reps.astype(np.int64)


@dataclass
class _Territories:
    """Mutable plan with per-rep loads and the pair cost of every (unit, rep) candidate."""

    problem: AlignmentProblem
    assign: IntArray
    pot: FloatArray
    wl: FloatArray
    neighbours: list[list[int]]
    cost: dict[int, float]

    @classmethod
    def of(cls, problem: AlignmentProblem, assign: IntArray) -> _Territories:
        adj = problem.adjacency
        assert adj is not None
        indptr, indices = adj.indptr.tolist(), adj.indices.tolist()
        neighbours = [sorted(indices[indptr[i] : indptr[i + 1]]) for i in range(problem.n_accounts)]
        keys = problem.pair_account * problem.n_reps + problem.pair_rep
        pot, wl = problem.loads(assign)
        return cls(
            problem=problem,
            assign=assign.copy(),
            pot=pot,
            wl=wl,
            neighbours=neighbours,
            cost=dict(zip(keys.tolist(), problem.pair_cost.tolist(), strict=True)),
        )

    def pair_cost(self, unit: int, rep: int) -> float | None:
        return self.cost.get(unit * self.problem.n_reps + rep)

    def rep_violation(self, rep: int, pot: float, wl: float) -> float:
        p = self.problem
        over_p = max(pot - p.potential_hi[rep], 0.0) + max(p.potential_lo[rep] - pot, 0.0)
        over_w = max(wl - p.workload_hi[rep], 0.0) + max(p.workload_lo[rep] - wl, 0.0)
        scale_p = max(p.potential_target[rep], 1e-12)
        scale_w = max(p.workload_target[rep], 1e-12)
        return float(over_p / scale_p + over_w / scale_w)

    def rep_spread(self, rep: int, pot: float, wl: float) -> float:
        """Return the squared relative distance of a rep's loads from its targets.

        It pulls loads along chains of territories, where the window violation alone sees no
        gain.
        """
        p = self.problem
        dp = pot / max(p.potential_target[rep], 1e-12) - 1.0
        dw = wl / max(p.workload_target[rep], 1e-12) - 1.0
        return float(dp * dp + dw * dw)

    def shift_delta(self, moves: list[tuple[int, int, int]]) -> tuple[float, float, float] | None:
        """Price moving each ``(unit, from, to)``: (change in window violation, spread, cost).

        None when some unit may not go to its new rep.
        """
        p = self.problem
        d_cost = 0.0
        change: dict[int, list[float]] = {}
        for u, donor, receiver in moves:
            new = self.pair_cost(u, receiver)
            if new is None:
                return None
            old = self.pair_cost(u, donor)
            d_cost += new - (old if old is not None else 0.0)
            for rep, sign in ((donor, -1.0), (receiver, 1.0)):
                entry = change.setdefault(rep, [0.0, 0.0])
                entry[0] += sign * float(p.potential[u])
                entry[1] += sign * float(p.workload[u])
        if self.problem.settings.cut_edge_weight:
            d_cost += self.problem.settings.cut_edge_weight * self._cut_delta(moves)
        d_viol = d_spread = 0.0
        for rep, (dp, dw) in change.items():
            pot, wl = self.pot[rep], self.wl[rep]
            d_viol += self.rep_violation(rep, pot + dp, wl + dw) - self.rep_violation(rep, pot, wl)
            d_spread += self.rep_spread(rep, pot + dp, wl + dw) - self.rep_spread(rep, pot, wl)
        return d_viol, d_spread, d_cost

    def _cut_delta(self, moves: list[tuple[int, int, int]]) -> int:
        """Change in the number of cut unit edges if the moves were made."""
        units = [u for u, _, _ in moves]
        edges = {(min(u, v), max(u, v)) for u in units for v in self.neighbours[u]}
        before = sum(self.assign[u] != self.assign[v] for u, v in edges)
        saved = [int(self.assign[u]) for u in units]
        for u, _, receiver in moves:
            self.assign[u] = receiver
        after = sum(self.assign[u] != self.assign[v] for u, v in edges)
        for u, old in zip(units, saved, strict=True):
            self.assign[u] = old
        return int(after - before)

    def move_delta(self, units: list[int], donor: int, receiver: int) -> tuple[float, float] | None:
        """(change in window violation, change in cost) of moving ``units`` together."""
        delta = self.shift_delta([(u, donor, receiver) for u in units])
        return None if delta is None else (delta[0], delta[2])

    def move(self, units: list[int], receiver: int) -> None:
        p = self.problem
        for u in units:
            donor = int(self.assign[u])
            self.pot[donor] -= p.potential[u]
            self.wl[donor] -= p.workload[u]
            self.pot[receiver] += p.potential[u]
            self.wl[receiver] += p.workload[u]
            self.assign[u] = receiver

    def stays_connected_without(self, unit: int) -> bool:
        """Whether the unit's territory is still one piece once the unit leaves it.

        Enough to check that the unit's same-territory neighbours still reach each other.
        """
        rep = self.assign[unit]
        inside = [v for v in self.neighbours[unit] if self.assign[v] == rep]
        if len(inside) <= 1:
            return True
        targets = set(inside[1:])
        seen = {unit, inside[0]}
        queue = deque([inside[0]])
        while queue and targets:
            w = queue.popleft()
            for v in self.neighbours[w]:
                if v not in seen and self.assign[v] == rep:
                    seen.add(v)
                    targets.discard(v)
                    queue.append(v)
        return not targets


def _main_pieces(problem: AlignmentProblem, assign: IntArray, pieces: IntArray) -> set[int]:
    """Pick the piece each rep keeps: the one with its locked units, else the one with most load."""
    total_p = max(float(problem.potential.sum()), 1e-12)
    total_w = max(float(problem.workload.sum()), 1e-12)
    weight = problem.potential / total_p + problem.workload / total_w
    weight = weight + 10.0 * (problem.locked >= 0)  # a locked unit cannot leave, so keep its piece
    size = np.bincount(pieces, weights=weight + 1e-9)
    best: dict[int, tuple[float, int]] = {}
    for piece in np.unique(pieces).tolist():
        rep = int(assign[np.flatnonzero(pieces == piece)[0]])
        key = (float(size[piece]), -piece)
        if rep not in best or key > best[rep]:
            best[rep] = (key[0], piece)
    return {piece for _, piece in best.values()}


def make_contiguous(problem: AlignmentProblem, assign: IntArray) -> IntArray:
    """Give every stray piece of a territory to a neighbouring territory it touches.

    Pieces are handed over whole (so the receiver stays connected), smallest first, to the
    neighbour whose windows and cost suffer least. Returns the plan; it is contiguous unless a
    piece has no neighbour allowed to take it (a lock, a travel limit or forbidden pairs).
    """
    adj = problem.adjacency
    assert adj is not None
    state = _Territories.of(problem, assign)
    for _ in range(problem.n_accounts):
        pieces = territory_pieces(adj, state.assign)
        main = _main_pieces(problem, state.assign, pieces)
        stray = sorted(
            (int((pieces == p).sum()), p) for p in np.unique(pieces).tolist() if p not in main
        )
        if not stray:
            break
        moved = False
        for _, piece in stray:
            units = np.flatnonzero(pieces == piece).tolist()
            if (problem.locked[units] >= 0).any():
                continue
            donor = int(state.assign[units[0]])
            touching = sorted(
                {
                    int(pieces[v])
                    for u in units
                    for v in state.neighbours[u]
                    if state.assign[v] != donor and pieces[v] in main
                }
            )
            options = []
            for other in touching:
                receiver = int(state.assign[np.flatnonzero(pieces == other)[0]])
                delta = state.move_delta(units, donor, receiver)
                if delta is not None:
                    options.append((delta, receiver))
            if options:
                _, receiver = min(options)
                state.move(units, receiver)
                moved = True
                break  # pieces changed: recompute them
        if not moved:
            break
    return state.assign


def boundary_search(problem: AlignmentProblem, assign: IntArray, deadline: float) -> IntArray:
    """Balance, then cut cost, by moving boundary units that leave their territory connected.

    While some window is broken a move is taken when it lowers the total violation, or keeps it
    and brings loads closer to their targets (so surplus travels along chains of territories);
    once every window holds, when it keeps them and lowers cost. When single moves are stuck,
    swaps of two boundary units between neighbouring territories are tried. Whole passes in
    unit order make the result deterministic.
    """
    state = _Territories.of(problem, assign)
    for _ in range(MAX_PASSES):
        balancing = _violation(state) > 1e-12
        improved = _move_pass(state, deadline, balancing)
        if not improved and time.perf_counter() < deadline:
            improved = _swap_pass(state, deadline, balancing)
        if not improved and balancing and time.perf_counter() < deadline:
            improved = _tabu_escape(state, deadline)
        if not improved and balancing and _violation(state) <= 1e-12:
            improved = True  # windows just closed: go on polishing cost
        if not improved or time.perf_counter() >= deadline:
            break
    return state.assign


def _violation(state: _Territories) -> float:
    return sum(
        state.rep_violation(r, state.pot[r], state.wl[r]) for r in range(state.problem.n_reps)
    )


def _key(delta: tuple[float, float, float], balancing: bool) -> tuple[float, float] | None:
    """How good a change is (lower is better), or None when it is no improvement."""
    d_viol, d_spread, d_cost = delta
    if balancing:
        if d_viol < -1e-12 or (d_viol <= 1e-12 and d_spread < -1e-12):
            return (d_viol, d_spread)
        return None
    if d_viol <= 1e-12 and d_cost < -1e-9:
        return (d_viol, d_cost)
    return None


def _move_pass(state: _Territories, deadline: float, balancing: bool) -> bool:
    problem = state.problem
    locked = problem.locked >= 0
    size = np.bincount(state.assign, minlength=problem.n_reps)
    improved = False
    for u in range(problem.n_accounts):
        if locked[u] or time.perf_counter() >= deadline:
            continue
        donor = int(state.assign[u])
        if size[donor] <= 1:
            continue
        receivers = sorted({int(state.assign[v]) for v in state.neighbours[u]} - {donor})
        best: tuple[tuple[float, float], int] | None = None
        for receiver in receivers:
            delta = state.shift_delta([(u, donor, receiver)])
            key = None if delta is None else _key(delta, balancing)
            if key is not None and (best is None or key < best[0]):
                best = (key, receiver)
        if best is None or not state.stays_connected_without(u):
            continue
        state.move([u], best[1])
        size[donor] -= 1
        size[best[1]] += 1
        improved = True
    return improved


def _swap_pass(state: _Territories, deadline: float, balancing: bool) -> bool:
    """Swap a boundary unit of territory a that touches b with one of b that touches a."""
    problem = state.problem
    locked = problem.locked >= 0
    border: dict[tuple[int, int], list[int]] = {}
    for u in range(problem.n_accounts):
        if locked[u]:
            continue
        a = int(state.assign[u])
        for b in sorted({int(state.assign[v]) for v in state.neighbours[u]} - {a}):
            border.setdefault((a, b), []).append(u)
    improved = False
    for (a, b), units_a in sorted(border.items()):
        if a > b or time.perf_counter() >= deadline:
            continue
        for u in units_a:
            for w in border.get((b, a), []):
                if state.assign[u] != a or state.assign[w] != b:
                    continue
                delta = state.shift_delta([(u, a, b), (w, b, a)])
                if delta is None or _key(delta, balancing) is None:
                    continue
                if not state.stays_connected_without(u):
                    continue
                state.move([u], b)
                if state.stays_connected_without(w) and any(
                    state.assign[v] == a for v in state.neighbours[w]
                ):
                    state.move([w], a)
                    if any(state.assign[v] == b for v in state.neighbours[u]):
                        improved = True
                        break
                    state.move([w], b)  # undo: u touched b only through w
                state.move([u], a)  # undo: w cannot follow
    return improved


TABU_STEPS = 300
"""Uphill moves the balancing search may take to leave a local optimum."""
TABU_TENURE = 12
"""Steps during which a moved unit may not move again."""


def _tabu_escape(state: _Territories, deadline: float) -> bool:
    """Leave a local optimum of the balancing search by the least-bad boundary moves.

    Each step moves the boundary unit whose move worsens (violation, spread) least, never a
    unit moved in the last ``TABU_TENURE`` steps; the best plan seen is kept. Returns whether
    it found a plan with less violation than the one it started from.
    """
    problem = state.problem
    locked = problem.locked >= 0
    start = _violation(state)
    best_viol, best_assign = start, state.assign.copy()
    moved_at: dict[int, int] = {}
    size = np.bincount(state.assign, minlength=problem.n_reps)
    for step in range(TABU_STEPS):
        if time.perf_counter() >= deadline:
            break
        choice: tuple[tuple[float, float], int, int] | None = None
        for u in range(problem.n_accounts):
            if locked[u] or step - moved_at.get(u, -TABU_TENURE) < TABU_TENURE:
                continue
            donor = int(state.assign[u])
            if size[donor] <= 1:
                continue
            for receiver in sorted({int(state.assign[v]) for v in state.neighbours[u]} - {donor}):
                delta = state.shift_delta([(u, donor, receiver)])
                if delta is None:
                    continue
                key = (delta[0], delta[1])
                better = choice is None or key < choice[0]
                if better and state.stays_connected_without(u):
                    choice = (key, u, receiver)
        if choice is None:
            break
        _, u, receiver = choice
        size[state.assign[u]] -= 1
        size[receiver] += 1
        state.move([u], receiver)
        moved_at[u] = step
        viol = _violation(state)
        if viol < best_viol - 1e-12:
            best_viol, best_assign = viol, state.assign.copy()
            if viol <= 1e-12:
                break
    if best_viol < start - 1e-12:
        _reset(state, best_assign)
        return True
    return False


def _reset(state: _Territories, assign: IntArray) -> None:
    state.assign = assign.copy()
    state.pot, state.wl = state.problem.loads(state.assign)


@dataclass(frozen=True)
class SeparatorCut:
    """``x[anchor, rep] + x[u, rep] - 1 <= sum of x[c, rep] over c in separator`` for u in piece.

    Valid for every contiguous plan: if the rep holds both the anchor and ``u``, some unit of
    every vertex set separating them must be the rep's too.
    """

    rep: int
    anchor: int
    piece: tuple[int, ...]
    separator: tuple[int, ...]


def separator_cuts(problem: AlignmentProblem, assign: IntArray) -> list[SeparatorCut]:
    """Find the cuts that the plan violates: one per stray piece of a territory.

    The neighbours of a stray piece separate it from the rest of its territory and none of them
    belongs to the rep (otherwise the piece would be larger), so the cut is violated by 1.
    """
    adj = problem.adjacency
    assert adj is not None
    pieces = territory_pieces(adj, assign)
    main = _main_pieces(problem, assign, pieces)
    indptr, indices = adj.indptr, adj.indices
    cuts: list[SeparatorCut] = []
    for piece in np.unique(pieces).tolist():
        if piece in main:
            continue
        units = np.flatnonzero(pieces == piece)
        rep = int(assign[units[0]])
        rep_units = np.flatnonzero(assign == rep)
        kept = rep_units[np.isin(pieces[rep_units], list(main))]
        anchor = int(kept[np.argmax(problem.potential[kept])]) if kept.size else -1
        if anchor < 0:
            continue
        nbrs = np.unique(np.concatenate([indices[indptr[u] : indptr[u + 1]] for u in units]))
        separator = np.setdiff1d(nbrs, units)
        cuts.append(
            SeparatorCut(
                rep=rep,
                anchor=anchor,
                piece=tuple(int(u) for u in units),
                separator=tuple(int(c) for c in separator),
            )
        )
    return cuts


def contiguous_plan(problem: AlignmentProblem, assign: IntArray, deadline: float) -> IntArray:
    """Connect every territory, then balance and shorten travel with boundary moves."""
    plan = make_contiguous(problem, assign)
    return boundary_search(problem, plan, deadline)


def cut_rows(problem: AlignmentProblem, cut: SeparatorCut) -> list[tuple[list[int], list[int]]]:
    """Express the cut as rows over pair positions: ``sum(lhs) - 1 <= sum(rhs)``, one per unit.

    Separator units for which the rep is no candidate drop out (their variable is zero).
    """
    reps = np.full(len(cut.separator), cut.rep, dtype=np.int64)
    sep_pos = _positions(problem, np.asarray(cut.separator, dtype=np.int64), reps)
    rhs = sep_pos[sep_pos >= 0].tolist()
    anchor = _positions(problem, np.array([cut.anchor]), np.array([cut.rep]))[0]
    piece = np.asarray(cut.piece, dtype=np.int64)
    own = _positions(problem, piece, np.full(piece.size, cut.rep, dtype=np.int64))
    return [([int(anchor), int(p)], rhs) for p in own.tolist() if p >= 0 and anchor >= 0]


def _positions(problem: AlignmentProblem, units: IntArray, reps: IntArray) -> IntArray:
    keys = problem.pair_account * problem.n_reps + problem.pair_rep
    wanted = units * problem.n_reps + reps
    pos = np.minimum(np.searchsorted(keys, wanted), max(keys.size - 1, 0))
    return np.where(keys[pos] == wanted, pos, -1).astype(np.int64)


def cut_edge_links(problem: AlignmentProblem) -> list[list[tuple[int, int]]]:
    """Per unit edge, the pairs (p, q) behind ``y_edge >= x[p] - x[q]`` (q = -1: no x[q]).

    For every candidate rep r of one end, p is that end's pair with r and q the other end's
    (absent when r is no candidate there): if one end holds r and the other does not, the edge
    is cut. Empty unless cut edges carry a price.
    """
    if not problem.settings.cut_edge_weight or problem.adjacency is None:
        return []
    coo = sparse.triu(problem.adjacency, k=1).tocoo()
    keys = problem.pair_account * problem.n_reps + problem.pair_rep
    lookup = dict(zip(keys.tolist(), range(problem.n_pairs), strict=True))
    starts = problem.account_start.tolist()
    links = []
    for u, v in zip(coo.row.tolist(), coo.col.tolist(), strict=True):
        rows = []
        for a, b in ((u, v), (v, u)):
            for p in range(starts[a], starts[a + 1]):
                rows.append((p, lookup.get(b * problem.n_reps + int(problem.pair_rep[p]), -1)))
        links.append(rows)
    return links
