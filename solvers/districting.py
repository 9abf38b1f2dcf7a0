"""Exact districting backends: connected, balanced partitions of a dual graph into k districts.

Two objectives, the two of the US benchmarks in ``../shared/benchmarks``:

- ``"centred"``: the Hess / p-median model. ``x[i, j]`` puts unit ``i`` in the district centred at
  unit ``j``; the caller's ``cost[i, j]`` (``p_i D_ij^2`` for the moment of inertia, ``p_i h_ij``
  for hop-Hess) is minimised. Its LP bound is strong, so HiGHS solves it with little branching.
- ``"cut_edges"``: the labeling model. ``x[i, d]`` puts unit ``i`` in district ``d``, ``y[e]``
  marks a cut edge. Districts are interchangeable, so a cumulative (orbitope-like) ordering
  removes relabelled copies of each plan; its LP bound is weak, whatever the solver.

Contiguity is enforced the same way on both backends (HiGHS through highspy, CP-SAT): neither
offers lazy constraints through its Python interface, so we solve, find the districts that fall
apart, add minimal (a, b)-vertex-separator cuts for all of them and solve again. This is the
lazy-cut (LCUT) scheme of Validi, Buchanan & Lykhovyd with a restart per round instead of a
callback. A contiguous incumbent seen during a round satisfies every cut, so it is passed on as the
next round's start. In the centred model, ``x[i, j]`` is fixed to 0 when the lightest path from
``i`` to ``j`` already weighs more than ``U`` (no connected district can hold both), which removes
most variables on county graphs.

Infeasibility is explained in words with numbers: presolve proofs (a unit heavier than ``U``,
``k L > P``, a graph component that cannot hold a whole number of districts) and, failing those,
the solver's proof that no connected partition exists.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.sparse import csgraph

from solvers.base import SolveStatus
from territory.districting import DualGraph
from territory.interrupt import run_highs, solve_cpsat

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

Objective = Literal["centred", "cut_edges"]
Backend = Literal["mip", "cpsat", "auto"]
Method = Literal["flow", "cuts", "auto"]

_AUTO_FLOW: dict[str, bool] = {"centred": False, "cut_edges": False}
"""Contiguity by flow (one solve) rather than rounds of separator cuts, per objective. Measured
on 2 cores with HiGHS: OK county MOI 83 s by cuts against no root LP in 120 s by flow; ME/NM
cut edges 2.3/2.0 s by cuts against 3.4/9.2 s by flow. (ME MOI alone favours flow: 21 s vs 32 s.)"""

MAX_CUTS_PER_ROUND = 6000
"""Cap on separator cuts added per round; enough to fix every broken district at once."""


@dataclass(frozen=True)
class DistrictingSolution:
    """A plan with what the backend proves about it.

    ``plan`` is the district index (``0..k-1``) of every unit, empty when there is no plan.
    ``bound`` is a proven lower bound on the objective of every feasible plan. ``reasons`` says in
    words why the instance is infeasible when ``status`` is INFEASIBLE.
    """

    plan: IntArray
    centres: IntArray | None
    status: SolveStatus
    objective: float | None
    bound: float | None
    seconds: float
    backend: str
    reasons: tuple[str, ...] = ()
    detail: dict[str, float | int | str] = field(default_factory=dict)

    @property
    def gap(self) -> float | None:
        """Relative optimality gap (objective - bound) / objective, 0 for a proven optimum."""
        if self.bound is None or self.objective is None:
            return None
        if abs(self.objective) <= 1e-12:
            return 0.0
        return max(0.0, (self.objective - self.bound) / abs(self.objective))


# --------------------------------------------------------------------------------------------
# Presolve: infeasibility proofs that need no solver
# --------------------------------------------------------------------------------------------


def _fmt(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.6g}"


def _unit_name(graph: DualGraph, i: int) -> str:
    return f"unit {i} ({graph.names[i]})" if graph.names else f"unit {i}"


def presolve_reasons(
    graph: DualGraph,
    k: int,
    weights: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    contiguity: bool,
) -> list[str]:
    """Reasons, each with its numbers, why no plan can exist; empty when none is found here."""
    reasons: list[str] = []
    q = weights.shape[1]
    label = (lambda m: "") if q == 1 else (lambda m: f" (measure {m})")
    for m in range(q):
        w, lo, hi = weights[:, m], float(lower[m]), float(upper[m])
        if lo > hi:
            reasons.append(f"L = {_fmt(lo)} > U = {_fmt(hi)}{label(m)}: the bounds are empty")
        heavy = np.flatnonzero(w > hi)
        for i in heavy[np.argsort(-w[heavy], kind="stable")][:5]:
            reasons.append(
                f"{_unit_name(graph, int(i))} has {_fmt(w[i])} > U = {_fmt(hi)} by "
                f"{_fmt(w[i] - hi)}{label(m)}: no district can hold it"
            )
        if heavy.size > 5:
            reasons.append(f"... and {heavy.size - 5} more units heavier than U{label(m)}")
        total = float(w.sum())
        if k * lo > total:
            reasons.append(
                f"k·L = {k} × {_fmt(lo)} = {_fmt(k * lo)} exceeds the total {_fmt(total)} by "
                f"{_fmt(k * lo - total)}{label(m)}"
            )
        if k * hi < total:
            reasons.append(
                f"k·U = {k} × {_fmt(hi)} = {_fmt(k * hi)} is below the total {_fmt(total)} by "
                f"{_fmt(total - k * hi)}{label(m)}"
            )
    if not contiguity or reasons:
        return reasons
    n_comp, comp = csgraph.connected_components(graph.adjacency(), directed=False)
    if n_comp == 1:
        return reasons
    a_min_total, a_max_total = 0, 0
    for c in range(n_comp):
        members = np.flatnonzero(comp == c)
        sums = weights[members].sum(axis=0)
        lo_a, hi_a = 1, k
        for m in range(q):
            # a districts fit iff a·L <= P_c <= a·U.
            if upper[m] > 0:
                lo_a = max(lo_a, math.ceil(sums[m] / upper[m] - 1e-12))
            if lower[m] > 0:
                hi_a = min(hi_a, math.floor(sums[m] / lower[m] + 1e-12))
        shown = ", ".join(str(int(i)) for i in members[:8]) + (", …" if members.size > 8 else "")
        if lo_a > hi_a:
            reasons.append(
                f"component of {members.size} units {{{shown}}} has {_fmt(sums[0])}: between "
                f"{_fmt(sums[0] / upper[0])} and {_fmt(sums[0] / lower[0])} districts of "
                f"{_fmt(lower[0])}…{_fmt(upper[0])}, so no whole number of connected districts"
            )
        a_min_total += lo_a
        a_max_total += hi_a
    if not reasons and not a_min_total <= k <= a_max_total:
        reasons.append(
            f"the {n_comp} graph components need between {a_min_total} and {a_max_total} "
            f"connected districts in total, not k = {k}"
        )
    return reasons


# --------------------------------------------------------------------------------------------
# A solver-neutral MILP, so that both backends get the very same model and cuts
# --------------------------------------------------------------------------------------------


@dataclass
class _Milp:
    cost: list[float] = field(default_factory=list)
    lb: list[float] = field(default_factory=list)
    ub: list[float] = field(default_factory=list)
    integer: list[bool] = field(default_factory=list)
    rows: list[tuple[list[int], list[float], float, float]] = field(default_factory=list)

    def var(self, cost: float = 0.0, lb: float = 0.0, ub: float = 1.0, integer: bool = True) -> int:
        self.cost.append(cost)
        self.lb.append(lb)
        self.ub.append(ub)
        self.integer.append(integer)
        return len(self.cost) - 1

    def row(self, idx: list[int], val: list[float], lo: float, hi: float) -> None:
        self.rows.append((idx, val, lo, hi))


@dataclass
class _RoundResult:
    status: SolveStatus
    values: FloatArray | None
    bound: float | None
    nodes: int = 0


class _HighsBackend:
    """HiGHS via highspy; keeps the model between rounds and records contiguous incumbents."""

    name = "highs-mip"

    def __init__(
        self,
        milp: _Milp,
        threads: int,
        seed: int,
        relative_gap: float,
        accept: Callable[[FloatArray], bool],
    ) -> None:
        import highspy

        self._hs = highspy
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("threads", int(threads))
        h.setOptionValue("random_seed", int(seed) % 2**31)
        h.setOptionValue("mip_rel_gap", float(relative_gap))
        h.setOptionValue("mip_abs_gap", 1e-9)
        h.setOptionValue("mip_feasibility_tolerance", 1e-7)
        n = len(milp.cost)
        inf = highspy.kHighsInf
        h.addVars(n, np.asarray(milp.lb), np.asarray(milp.ub))
        h.changeColsCost(n, np.arange(n, dtype=np.int32), np.asarray(milp.cost))
        ints = np.flatnonzero(np.asarray(milp.integer)).astype(np.int32)
        h.changeColsIntegrality(
            ints.size, ints, np.full(ints.size, highspy.HighsVarType.kInteger, dtype=np.uint8)
        )
        self._h = h
        self._inf = inf
        self.add_rows(milp.rows)
        self.best: FloatArray | None = None
        self.best_obj = math.inf
        self._accept = accept
        self._cost = np.asarray(milp.cost)

        def on_solution(_type: Any, _msg: str, out: Any, _inp: Any, _data: Any) -> None:
            values = np.asarray(out.mip_solution, dtype=np.float64)
            obj = float(self._cost @ values)
            if self._accept(values) and obj < self.best_obj - 1e-9:
                self.best, self.best_obj = values.copy(), obj

        self._on_solution = on_solution

    def add_rows(self, rows: Sequence[tuple[list[int], list[float], float, float]]) -> None:
        if not rows:
            return
        # Rows with large coefficients (populations) are scaled to a largest coefficient of 1,
        # which keeps HiGHS's tolerances meaningful on them.
        scale = np.array(
            [1.0 / max(1.0, float(np.abs(r[1]).max(initial=1.0)) / 10.0) for r in rows]
        )
        starts = np.cumsum([0] + [len(r[0]) for r in rows[:-1]]).astype(np.int32)
        idx = np.concatenate([np.asarray(r[0], dtype=np.int32) for r in rows])
        val = np.concatenate(
            [np.asarray(r[1], dtype=np.float64) * f for r, f in zip(rows, scale, strict=True)]
        )
        lo = np.array(
            [
                r[2] * f if math.isfinite(r[2]) else -self._inf
                for r, f in zip(rows, scale, strict=True)
            ]
        )
        hi = np.array(
            [
                r[3] * f if math.isfinite(r[3]) else self._inf
                for r, f in zip(rows, scale, strict=True)
            ]
        )
        self._h.addRows(len(rows), lo, hi, idx.size, starts, idx, val)

    def solve(self, time_limit: float, start: FloatArray | None) -> _RoundResult:
        h, hs = self._h, self._hs
        h.setOptionValue("time_limit", max(float(time_limit), 0.01))
        if start is not None:
            sol = hs.HighsSolution()
            sol.col_value = start.tolist()
            sol.value_valid = True
            h.setSolution(sol)
        # HiGHS keeps one thread pool per thread, sized by its first solve: reset it so this
        # model gets its own thread count, and again after so later solves get theirs.
        run_highs(
            h,
            on_event=self._on_solution,
            events=(hs.cb.HighsCallbackType.kCallbackMipSolution,),
            fresh_scheduler=True,
        )
        code = h.getModelStatus()
        info = h.getInfo()
        has = info.primal_solution_status == 2
        bound = float(info.mip_dual_bound) if math.isfinite(info.mip_dual_bound) else None
        values = np.asarray(h.getSolution().col_value, dtype=np.float64) if has else None
        nodes = int(info.mip_node_count)
        if code == hs.HighsModelStatus.kOptimal:
            return _RoundResult(SolveStatus.OPTIMAL, values, bound, nodes)
        if code == hs.HighsModelStatus.kInfeasible:
            return _RoundResult(SolveStatus.INFEASIBLE, None, None, nodes)
        if code == hs.HighsModelStatus.kTimeLimit:
            return _RoundResult(SolveStatus.TIME_LIMIT, values, bound, nodes)
        status = SolveStatus.FEASIBLE if has else SolveStatus.ERROR
        return _RoundResult(status, values, bound, nodes)


def _integer_scale(values: FloatArray) -> int:
    """Smallest power of ten (up to 1e6) that makes ``values`` integral, for CP-SAT."""
    for power in range(7):
        scaled = values * 10**power
        if np.allclose(scaled, np.round(scaled), rtol=1e-9, atol=1e-6):
            return int(10**power)
    raise ValueError(
        "CP-SAT needs integer coefficients; these need more than 6 decimals. Round the costs "
        "or weights, or use backend='mip'."
    )


class _CpSatBackend:
    """OR-Tools CP-SAT on the same model; integer coefficients (scaled by a power of ten)."""

    name = "cpsat"

    def __init__(
        self,
        milp: _Milp,
        threads: int,
        seed: int,
        relative_gap: float,
        accept: Callable[[FloatArray], bool],
    ) -> None:
        from ortools.sat.python import cp_model

        self._cp = cp_model
        self._model = cp_model.CpModel()
        self._vars = [
            self._model.new_int_var(math.ceil(lo - 1e-9), math.floor(hi + 1e-9), f"v{i}")
            for i, (lo, hi) in enumerate(zip(milp.lb, milp.ub, strict=True))
        ]
        cost = np.asarray(milp.cost)
        self._scale = _integer_scale(cost)
        icost = np.round(cost * self._scale).astype(np.int64)
        nz = np.flatnonzero(icost)
        self._model.minimize(
            cp_model.LinearExpr.weighted_sum([self._vars[i] for i in nz], icost[nz].tolist())
        )
        self._threads, self._seed, self._gap = threads, seed, relative_gap
        self.best: FloatArray | None = None
        self.best_obj = math.inf
        self._accept = accept
        self._cost = cost
        self.add_rows(milp.rows)

    def add_rows(self, rows: Sequence[tuple[list[int], list[float], float, float]]) -> None:
        for idx, val, lo, hi in rows:
            arr = np.asarray(val, dtype=np.float64)
            bounds = np.asarray([b for b in (lo, hi) if math.isfinite(b)], dtype=np.float64)
            s = _integer_scale(np.concatenate([arr, bounds]))
            coef = np.round(arr * s).astype(np.int64).tolist()
            expr = self._cp.LinearExpr.weighted_sum([self._vars[i] for i in idx], coef)
            if math.isfinite(lo) and math.isfinite(hi) and lo == hi:
                self._model.add(expr == round(lo * s))
                continue
            if math.isfinite(lo):
                self._model.add(expr >= round(lo * s))
            if math.isfinite(hi):
                self._model.add(expr <= round(hi * s))

    def solve(self, time_limit: float, start: FloatArray | None) -> _RoundResult:
        from ortools.sat.python import cp_model

        cp = self._cp
        self._model.clear_hints()
        if start is not None:
            for v, value in zip(self._vars, start.tolist(), strict=True):
                self._model.add_hint(v, round(value))
        solver = cp.CpSolver()
        solver.parameters.max_time_in_seconds = max(float(time_limit), 0.01)
        solver.parameters.num_workers = int(threads_or_one(self._threads))
        solver.parameters.random_seed = int(self._seed) % 2**31
        # Deterministic across runs: workers take turns in fixed-size batches.
        solver.parameters.interleave_search = True
        solver.parameters.relative_gap_limit = float(self._gap)
        backend = self

        class _Recorder(cp_model.CpSolverSolutionCallback):
            def on_solution_callback(self) -> None:
                values = np.array([self.value(v) for v in backend._vars], dtype=np.float64)
                obj = float(backend._cost @ values)
                if backend._accept(values) and obj < backend.best_obj - 1e-9:
                    backend.best, backend.best_obj = values, obj

        code = solve_cpsat(solver, self._model, _Recorder())
        bound = float(solver.best_objective_bound) / self._scale
        nodes = int(solver.num_branches)
        if code in (cp.OPTIMAL, cp.FEASIBLE):
            values = np.array([solver.value(v) for v in self._vars], dtype=np.float64)
            status = SolveStatus.OPTIMAL if code == cp.OPTIMAL else SolveStatus.TIME_LIMIT
            return _RoundResult(status, values, bound, nodes)
        if code == cp.INFEASIBLE:
            return _RoundResult(SolveStatus.INFEASIBLE, None, None, nodes)
        if code == cp.UNKNOWN:
            return _RoundResult(SolveStatus.TIME_LIMIT, None, bound, nodes)
        return _RoundResult(SolveStatus.ERROR, None, None, nodes)


def threads_or_one(threads: int) -> int:
    """At least one worker."""
    return max(1, int(threads))


# --------------------------------------------------------------------------------------------
# Graph helpers: neighbours, separators, lightest paths
# --------------------------------------------------------------------------------------------


def _neighbours(graph: DualGraph) -> list[list[int]]:
    nbrs: list[list[int]] = [[] for _ in range(graph.n)]
    for u, v in graph.edges.tolist():
        nbrs[u].append(v)
        nbrs[v].append(u)
    return nbrs


def _components(members: set[int], nbrs: list[list[int]]) -> list[list[int]]:
    """Connected pieces of the subgraph induced by ``members`` (each piece sorted)."""
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
    seen, queue = {start}, deque([start])
    while queue:
        u = queue.popleft()
        for v in nbrs[u]:
            if v not in blocked and v not in seen:
                seen.add(v)
                queue.append(v)
    return seen


@dataclass(frozen=True)
class _Separation:
    """A stray piece ``a_side`` of a district, the side ``b_side`` holding its main piece, and a
    minimal vertex separator ``c`` between them (no unit of ``c`` is in the district)."""

    a_side: list[int]
    b_side: set[int]
    main: list[int]
    c: list[int]


def _separations(
    plan: IntArray, nbrs: list[list[int]], weights: FloatArray, anchors: dict[int, int] | None
) -> list[_Separation]:
    """Every stray piece of every disconnected district, with a minimal separator from its main
    piece (the one holding the anchor/centre, else the heaviest)."""
    found: list[_Separation] = []
    for d in np.unique(plan).tolist():
        members = set(np.flatnonzero(plan == d).tolist())
        pieces = _components(members, nbrs)
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
            found.append(_Separation(piece, b_side, main, c))
    return found


def _lightest_path_weight(graph: DualGraph, w: FloatArray) -> FloatArray:
    """``[i, j]``: least total unit weight of a path from ``i`` to ``j``, both ends included."""
    eps = 1e-9 * max(float(np.abs(w).max(initial=0.0)), 1.0)
    u, v = graph.edges[:, 0], graph.edges[:, 1]
    rows = np.concatenate([u, v])
    cols = np.concatenate([v, u])
    data = w[cols] + eps  # arc weight = weight of the unit entered (eps: keep zero-weight arcs)
    arcs = sparse.csr_matrix((data, (rows, cols)), shape=(graph.n, graph.n))
    dist = np.asarray(csgraph.dijkstra(arcs, directed=True))
    return np.asarray(dist + w[:, None] - eps * graph.n)


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


@dataclass
class _Built:
    milp: _Milp
    decode: Callable[[FloatArray], tuple[IntArray, IntArray | None]]
    cuts: Callable[[IntArray, IntArray | None], list[tuple[list[int], list[float], float, float]]]
    detail: dict[str, float | int | str]
    encode: Callable[[IntArray], FloatArray | None]


def _build_centred(
    graph: DualGraph,
    k: int,
    weights: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    cost: FloatArray,
    contiguity: bool,
    flow: bool,
    nbrs: list[list[int]],
) -> _Built:
    n, q = graph.n, weights.shape[1]
    allowed = np.ones((n, n), dtype=bool)
    if contiguity:
        for m in range(q):
            allowed &= _lightest_path_weight(graph, weights[:, m]) <= upper[m] + 1e-9
    np.fill_diagonal(allowed, True)
    milp = _Milp()
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

    def cuts(
        plan: IntArray, centres: IntArray | None
    ) -> list[tuple[list[int], list[float], float, float]]:
        assert centres is not None
        anchors = {d: int(c) for d, c in enumerate(centres.tolist())}
        out: list[tuple[list[int], list[float], float, float]] = []
        for sep in _separations(plan, nbrs, weights, anchors):
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
    return _Built(milp, decode, cuts, detail, encode)


def _build_labeling(
    graph: DualGraph,
    k: int,
    weights: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    contiguity: bool,
    flow: bool,
    nbrs: list[list[int]],
) -> _Built:
    n, q = graph.n, weights.shape[1]
    # Symmetry: districts are numbered in order of their first unit in ``order`` (heaviest first,
    # as heavy units anchor districts). Then unit at position p can only be in districts 0..p, and
    # district d may start only after district d-1 has started.
    order = np.argsort(-weights[:, 0], kind="stable")
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    milp = _Milp()
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

    def cuts(
        plan: IntArray, _centres: IntArray | None
    ) -> list[tuple[list[int], list[float], float, float]]:
        out: list[tuple[list[int], list[float], float, float]] = []
        for sep in _separations(plan, nbrs, weights, None):
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

    return _Built(milp, decode, cuts, {"x_variables": n * k}, encode)


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def _as_weights(graph: DualGraph, weights: FloatArray | None) -> FloatArray:
    if weights is None:
        return graph.population.astype(np.float64).reshape(-1, 1)
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 1:
        w = w.reshape(-1, 1)
    if w.shape[0] != graph.n:
        raise ValueError(f"weights has {w.shape[0]} rows but the graph has {graph.n} units.")
    return w


def _objective_value(
    objective: Objective,
    plan: IntArray,
    centres: IntArray | None,
    graph: DualGraph,
    cost: FloatArray | None,
) -> float:
    if objective == "cut_edges":
        return float(np.count_nonzero(plan[graph.edges[:, 0]] != plan[graph.edges[:, 1]]))
    assert cost is not None and centres is not None
    return float(cost[np.arange(graph.n), centres[plan]].sum())


def _contiguous(plan: IntArray, nbrs: list[list[int]]) -> bool:
    return all(
        len(_components(set(np.flatnonzero(plan == d).tolist()), nbrs)) == 1
        for d in np.unique(plan).tolist()
    )


def solve_districting(
    graph: DualGraph,
    k: int,
    *,
    weights: FloatArray | None = None,
    lower: npt.ArrayLike,
    upper: npt.ArrayLike,
    objective: Objective,
    cost: FloatArray | None = None,
    contiguity: bool = True,
    backend: Backend = "auto",
    time_limit_s: float = 600.0,
    warm_start: IntArray | None = None,
    relative_gap: float = 0.0,
    threads: int = 2,
    seed: int = 7,
    method: Method = "auto",
) -> DistrictingSolution:
    """Partition ``graph`` into ``k`` districts with every measure in ``[lower, upper]``.

    Minimises the centred cost ``sum_i cost[i, centre(i)]`` or the number of cut edges, with
    every district connected when ``contiguity``. ``bound`` is the solver's proven lower bound;
    ``status`` is TIME_LIMIT when the limit cut the search short.
    """
    t0 = time.perf_counter()
    deadline = t0 + float(time_limit_s)
    w = _as_weights(graph, weights)
    lo = np.atleast_1d(np.asarray(lower, dtype=np.float64))
    hi = np.atleast_1d(np.asarray(upper, dtype=np.float64))
    if lo.shape != (w.shape[1],) or hi.shape != (w.shape[1],):
        raise ValueError(f"lower and upper need one value per measure ({w.shape[1]}).")
    if objective == "centred" and (cost is None or np.shape(cost) != (graph.n, graph.n)):
        raise ValueError(f"objective='centred' needs cost as an {graph.n} x {graph.n} matrix.")
    chosen = "mip" if backend == "auto" else backend
    label = "highs-mip" if chosen == "mip" else "cpsat"
    empty = np.zeros(0, dtype=np.int64)

    reasons = presolve_reasons(graph, k, w, lo, hi, contiguity)
    if reasons:
        return DistrictingSolution(
            empty, None, SolveStatus.INFEASIBLE, None, None, time.perf_counter() - t0, label,
            tuple(reasons), {"proof": "presolve"},
        )  # fmt: skip

    nbrs = _neighbours(graph)
    use_flow = contiguity and (method == "flow" or (method == "auto" and _AUTO_FLOW[objective]))
    cost_arr = None if cost is None else np.asarray(cost, dtype=np.float64)
    if objective == "centred":
        assert cost_arr is not None
        built = _build_centred(graph, k, w, lo, hi, cost_arr, contiguity, use_flow, nbrs)
    else:
        built = _build_labeling(graph, k, w, lo, hi, contiguity, use_flow, nbrs)

    pending: dict[tuple[int, ...], tuple[list[int], list[float], float, float]] = {}

    def accept(values: FloatArray) -> bool:
        """Every solution the solver finds: keep it if contiguous, else harvest its cuts."""
        if not contiguity:
            return True
        plan, centres = built.decode(values)
        if _contiguous(plan, nbrs):
            return True
        if not use_flow and len(pending) < MAX_CUTS_PER_ROUND:
            for cut in built.cuts(plan, centres):
                pending.setdefault(tuple(cut[0]), cut)
        return False

    engine: _HighsBackend | _CpSatBackend
    cls = _HighsBackend if chosen == "mip" else _CpSatBackend
    try:
        engine = cls(built.milp, threads, seed, relative_gap, accept)
    except (ImportError, ValueError) as exc:
        return DistrictingSolution(
            empty, None, SolveStatus.ERROR, None, None, time.perf_counter() - t0, label,
            (str(exc),), {},
        )  # fmt: skip

    if objective == "cut_edges" and contiguity and warm_start is None:
        warm_start = _connected_start(graph, k, w, lo, hi, deadline, threads, seed)
    start = _start_vector(built, objective, warm_start, graph, cost_arr, k, nbrs, contiguity)
    rounds, cuts_added, nodes = 0, 0, 0
    bound: float | None = None
    result: _RoundResult | None = None
    while True:
        result = engine.solve(deadline - time.perf_counter(), start)
        rounds += 1
        nodes += result.nodes
        if result.bound is not None:
            bound = result.bound if bound is None else max(bound, result.bound)
        if result.status == SolveStatus.INFEASIBLE:
            seconds = time.perf_counter() - t0
            what = "connected districts" if contiguity else "districts"
            solver_name = "HiGHS" if chosen == "mip" else "CP-SAT"
            text = (
                f"no partition of the {graph.n} units into {k} {what} of "
                f"{_fmt(lo[0])}…{_fmt(hi[0])} exists ({solver_name} proved the "
                f"{'contiguity ' if contiguity else ''}model infeasible in {seconds:.1f} s"
                + (f" after {cuts_added} separator cuts in {rounds} rounds)" if rounds > 1 else ")")
            )
            return DistrictingSolution(
                empty, None, SolveStatus.INFEASIBLE, None, None, seconds, label, (text,),
                {"rounds": rounds, "cuts": cuts_added, "nodes": nodes, "proof": "solver"},
            )  # fmt: skip
        if result.values is None:
            break
        plan, centres = built.decode(result.values)
        if not contiguity or _contiguous(plan, nbrs):
            break
        if time.perf_counter() >= deadline - 0.05:
            break
        for cut in built.cuts(plan, centres):
            pending.setdefault(tuple(cut[0]), cut)
        new = list(pending.values())
        pending.clear()
        if not new:  # cannot happen for a disconnected plan; guard against looping
            break
        engine.add_rows(new)
        cuts_added += len(new)
        start = engine.best

    seconds = time.perf_counter() - t0
    detail: dict[str, float | int | str] = {
        "rounds": rounds,
        "cuts": cuts_added,
        "nodes": nodes,
        "contiguity": ("flow" if use_flow else "separator cuts, re-solved per round")
        if contiguity
        else "none",
        **{key: val for key, val in built.detail.items() if not key.startswith("_")},
    }
    final: FloatArray | None = None
    if result is not None and result.values is not None:
        plan, centres = built.decode(result.values)
        if not contiguity or _contiguous(plan, nbrs):
            final = result.values
    final_status = result.status if result is not None else SolveStatus.ERROR
    if final is None and engine.best is not None:
        final, final_status = engine.best, SolveStatus.TIME_LIMIT
    if final is None:
        status = SolveStatus.TIME_LIMIT if time.perf_counter() >= deadline - 0.1 else final_status
        if status == SolveStatus.OPTIMAL:
            status = SolveStatus.ERROR
        return DistrictingSolution(empty, None, status, None, bound, seconds, label, (), detail)
    plan, centres = built.decode(final)
    value = _objective_value(objective, plan, centres, graph, cost_arr)
    if objective == "cut_edges" and bound is not None:
        bound = float(math.ceil(bound - 1e-6))  # an integer objective
    if bound is not None:
        bound = min(bound, value)
    status = final_status
    # OPTIMAL means proven: a plan accepted within relative_gap > 0 is reported as FEASIBLE.
    if status == SolveStatus.OPTIMAL and (
        bound is None or value - bound > max(1e-6 * abs(value), 1e-6)
    ):
        status = SolveStatus.FEASIBLE
    mapping = _relabelling(plan)
    if centres is not None:
        ordered = np.empty_like(centres)
        ordered[mapping[np.arange(centres.size)]] = centres
        centres = ordered
    return DistrictingSolution(
        mapping[plan], centres if objective == "centred" else None, status, value, bound,
        seconds, label, (), detail,
    )  # fmt: skip


WARM_START_SHARE = 0.3
"""Share of the time a cut-edge solve may spend on finding a connected plan to start from."""


def _connected_start(
    graph: DualGraph,
    k: int,
    w: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    deadline: float,
    threads: int,
    seed: int,
) -> IntArray | None:
    """A balanced connected plan from the hop-distance Hess model, to start the cut-edge model.

    The labeling model rarely finds a connected plan by itself (its LP knows nothing of
    connectivity), while the centred model, whose districts gather around a centre unit, finds
    one quickly; compact districts also tend to cut few edges.
    """
    from territory.districting import hop_distances

    budget = WARM_START_SHARE * (deadline - time.perf_counter())
    if budget < 1.0:
        return None
    hops = hop_distances(graph)
    finite = np.isfinite(hops)
    hops = np.where(finite, hops, 10.0 * (hops[finite].max(initial=1.0) + 1.0))  # other parts
    cost = w[:, :1] * hops
    found = solve_districting(
        graph, k, weights=w, lower=lo, upper=hi, objective="centred", cost=cost,
        contiguity=True, time_limit_s=budget, relative_gap=0.05, threads=threads, seed=seed,
    )  # fmt: skip
    return found.plan if found.plan.size else None


def _relabelling(plan: IntArray) -> IntArray:
    """Map old label -> new label, numbering districts 0..k-1 by their first unit, so equal
    plans compare equal."""
    labels, first = np.unique(plan, return_index=True)
    mapping = np.zeros(int(plan.max()) + 1, dtype=np.int64)
    mapping[labels[np.argsort(first)]] = np.arange(labels.size)
    return mapping


def _start_vector(
    built: _Built,
    objective: Objective,
    warm: IntArray | None,
    graph: DualGraph,
    cost: FloatArray | None,
    k: int,
    nbrs: list[list[int]],
    contiguity: bool,
) -> FloatArray | None:
    """The model's values for a warm-start plan (None when it does not fit)."""
    if warm is None:
        return None
    plan = np.asarray(warm, dtype=np.int64)
    if plan.shape != (graph.n,) or np.unique(plan).size != k:
        return None
    if contiguity and not _contiguous(plan, nbrs):
        return None
    return built.encode(plan)
