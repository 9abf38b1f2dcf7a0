"""The districting driver: presolve, build the model, solve round after round, report.

Contiguity is enforced the same way on both backends: neither offers lazy constraints through
its Python interface, so the driver solves, finds the districts that fall apart, adds minimal
(a, b)-vertex-separator cuts for all of them and solves again (or, by choice, solves once with
a flow model). A contiguous incumbent seen during a round satisfies every cut, so it starts the
next round.
"""

from __future__ import annotations

import math
import time

import numpy as np
import numpy.typing as npt

from solvers.base import SolveStatus
from solvers.districting.cpsat import CpSatBackend
from solvers.districting.graph import components, neighbours
from solvers.districting.highs import HighsBackend
from solvers.districting.milp import RoundBackend, RoundResult, Row
from solvers.districting.models import Built, build_centred, build_labeling
from solvers.districting.presolve import fmt, presolve_reasons
from solvers.districting.solution import (
    Backend,
    DistrictingSolution,
    FloatArray,
    IntArray,
    Method,
    Objective,
)
from territory.domain.districting import DualGraph, hop_distances

_AUTO_FLOW: dict[str, bool] = {"centred": False, "cut_edges": False}
"""Contiguity by flow (one solve) rather than rounds of separator cuts, per objective. Measured
on 2 cores with HiGHS: OK county MOI 83 s by cuts against no root LP in 120 s by flow; ME/NM
cut edges 2.3/2.0 s by cuts against 3.4/9.2 s by flow. (ME MOI alone favours flow: 21 s vs 32 s.)"""

MAX_CUTS_PER_ROUND = 6000
"""Cap on separator cuts added per round; enough to fix every broken district at once."""


def _as_weights(graph: DualGraph, weights: FloatArray | None) -> FloatArray:
    """Shape the measures as an ``n x q`` array (population when None)."""
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
    """Compute the objective of a plan from the plan itself (not the solver's values)."""
    if objective == "cut_edges":
        return float(np.count_nonzero(plan[graph.edges[:, 0]] != plan[graph.edges[:, 1]]))
    assert cost is not None and centres is not None
    return float(cost[np.arange(graph.n), centres[plan]].sum())


def _contiguous(plan: IntArray, nbrs: list[list[int]]) -> bool:
    """Whether every district of ``plan`` is one connected piece."""
    return all(
        len(components(set(np.flatnonzero(plan == d).tolist()), nbrs)) == 1
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
    every district connected when ``contiguity``.

    Parameters
    ----------
    graph
        The units and their adjacency (:class:`territory.domain.districting.DualGraph`).
    k
        The number of districts.
    weights
        One column per measure (a vector for one); the graph's population when None.
    lower, upper
        Bounds on every district's sum of each measure (one value per measure).
    objective
        ``"centred"`` (needs ``cost``) or ``"cut_edges"``.
    cost
        ``cost[i, j]``: the cost of unit ``i`` in the district centred at ``j`` (n x n).
    contiguity
        Every district must be connected.
    backend
        ``"mip"`` (HiGHS), ``"cpsat"`` (OR-Tools) or ``"auto"`` (HiGHS).
    time_limit_s
        Wall-clock limit for the whole solve, presolve and rounds included.
    warm_start
        A plan to start from (ignored when it does not have ``k`` contiguous districts).
    relative_gap
        Stop when the plan is within this share of the bound.
    threads, seed
        Solver threads and random seed (same seed, same plan).
    method
        Contiguity by ``"flow"``, by separator ``"cuts"``, or ``"auto"`` (per objective).

    Returns
    -------
    DistrictingSolution
        The plan, numbered by first unit, with the proven ``bound``. ``status`` is TIME_LIMIT
        when the limit cut the search short and INFEASIBLE, with ``reasons`` in words, when
        presolve or the solver proves no plan exists.

    Raises
    ------
    ValueError
        ``weights``, ``lower``, ``upper`` or ``cost`` do not fit the graph.
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

    nbrs = neighbours(graph)
    use_flow = contiguity and (method == "flow" or (method == "auto" and _AUTO_FLOW[objective]))
    cost_arr = None if cost is None else np.asarray(cost, dtype=np.float64)
    if objective == "centred":
        assert cost_arr is not None
        built = build_centred(
            graph, k, weights=w, lower=lo, upper=hi, cost=cost_arr, contiguity=contiguity,
            flow=use_flow, nbrs=nbrs,
        )  # fmt: skip
    else:
        built = build_labeling(
            graph, k, weights=w, lower=lo, upper=hi, contiguity=contiguity, flow=use_flow,
            nbrs=nbrs,
        )  # fmt: skip

    pending: dict[tuple[int, ...], Row] = {}

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

    engine: RoundBackend
    cls: type[HighsBackend | CpSatBackend] = HighsBackend if chosen == "mip" else CpSatBackend
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
    result: RoundResult | None = None
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
                f"{fmt(lo[0])}…{fmt(hi[0])} exists ({solver_name} proved the "
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
    """Find a balanced connected plan (hop-distance Hess model) to start the cut-edge model.

    The labeling model rarely finds a connected plan by itself (its LP knows nothing of
    connectivity), while the centred model, whose districts gather around a centre unit, finds
    one quickly; compact districts also tend to cut few edges.
    """
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
    """Map old label -> new label, numbering districts 0..k-1 by their first unit.

    So equal plans compare equal.
    """
    labels, first = np.unique(plan, return_index=True)
    mapping = np.zeros(int(plan.max()) + 1, dtype=np.int64)
    mapping[labels[np.argsort(first)]] = np.arange(labels.size)
    return mapping


def _start_vector(
    built: Built,
    objective: Objective,
    warm: IntArray | None,
    graph: DualGraph,
    cost: FloatArray | None,
    k: int,
    nbrs: list[list[int]],
    contiguity: bool,
) -> FloatArray | None:
    """Encode a warm-start plan as the model's values (None when it does not fit)."""
    if warm is None:
        return None
    plan = np.asarray(warm, dtype=np.int64)
    if plan.shape != (graph.n,) or np.unique(plan).size != k:
        return None
    if contiguity and not _contiguous(plan, nbrs):
        return None
    return built.encode(plan)
