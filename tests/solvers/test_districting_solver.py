"""Exact districting backends: drawn graphs checked by brute force, then published county optima.

The drawn instances are chosen so that contiguity changes the answer, and every expected value
is computed by enumerating all plans, not typed in. The county tests read
``../shared/benchmarks`` and are skipped when that folder is absent.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bench.published import (
    BENCH,
    BENCH_PRESENT,
    CUT_EDGES_COUNTY,
    MOI,
    MOI_COUNTY,
    county_graph_path,
)
from solvers.base import SolveStatus
from solvers.districting import Backend, DistrictingSolution, Objective, solve_districting
from territory.domain.districting import (
    DualGraph,
    cut_edges,
    evaluate_plan,
    graph_from_edges,
    grid_graph,
    is_contiguous,
    moment_of_inertia,
    project_lonlat,
    rounded_km_distances,
)
from territory.io.benchmark_graphs import load_dual_graph, load_epsg_by_state

needs_bench = pytest.mark.skipif(
    not BENCH_PRESENT, reason=f"benchmark folder {BENCH} is absent (it sits beside the project)"
)
BACKENDS: list[Backend] = ["mip", "cpsat"]
OBJECTIVES: tuple[Objective, ...] = ("cut_edges", "centred")


def _colour_cost(graph: DualGraph) -> np.ndarray:
    """3x3 grid cost: 1 between cells of the same anti-diagonal colour (row + col) mod 3, which
    never touch, 10 otherwise, so the best plan without contiguity is not connected."""
    colour = (np.arange(9) // 3 + np.arange(9) % 3) % 3
    cost = np.where(colour[:, None] == colour[None, :], 1.0, 10.0)
    np.fill_diagonal(cost, 0.0)
    return cost * graph.population[:, None]


def _brute_force(
    graph: DualGraph, k: int, lo: int, hi: int, score: str, cost: np.ndarray | None = None
) -> dict[bool, float]:
    """Best objective over all plans, without (False) and with (True) contiguity."""
    best = {False: np.inf, True: np.inf}
    for labels in itertools.product(range(k), repeat=graph.n):
        plan = np.asarray(labels)
        if plan[0] != 0 or len(set(labels)) != k:
            continue
        pops = np.bincount(plan, weights=graph.population, minlength=k)
        if (pops < lo).any() or (pops > hi).any():
            continue
        if score == "cut_edges":
            value = float(cut_edges(plan, graph))
        else:
            assert cost is not None
            value = moment_of_inertia(plan, graph.population, np.sqrt(cost)).value
        best[False] = min(best[False], value)
        if value < best[True] and is_contiguous(plan, graph):
            best[True] = value
    return best


def _check(sol: DistrictingSolution, graph: DualGraph, k: int, lo: int, hi: int) -> None:
    result = evaluate_plan(sol.plan, graph, bounds=(lo, hi))
    assert result.k == k
    assert result.balance.within_bounds


@pytest.mark.parametrize("backend", BACKENDS)
def test_grid_centred_contiguity_changes_the_optimum(backend: Backend) -> None:
    graph = grid_graph(3, 3)
    cost = _colour_cost(graph)
    # moment_of_inertia squares the distance, so pass sqrt(cost) to brute-force the same sum.
    expected = _brute_force(graph, 3, 3, 3, "centred", cost)
    assert expected[False] < expected[True]
    for contiguity in (False, True):
        sol = solve_districting(
            graph, 3, lower=[3], upper=[3], objective="centred", cost=cost,
            contiguity=contiguity, backend=backend,
            time_limit_s=30,
        )  # fmt: skip
        assert sol.status == SolveStatus.OPTIMAL
        assert sol.objective == pytest.approx(expected[contiguity])
        assert sol.bound == pytest.approx(expected[contiguity])
        assert sol.gap == pytest.approx(0.0)
        assert sol.centres is not None and sol.centres.size == 3
        _check(sol, graph, 3, 3, 3)
        assert is_contiguous(sol.plan, graph) or not contiguity
    assert not is_contiguous(
        solve_districting(
            graph, 3, lower=[3], upper=[3], objective="centred", cost=cost, contiguity=False,
            backend=backend,
        ).plan,
        graph,
    )  # fmt: skip


def _clique_with_pendants() -> tuple[DualGraph, int, int]:
    """A 4-clique {0,1,2,3} with pendants 4 (on 0) and 5 (on 2), populations (1,1,1,1,2,2).

    Two districts of 4: the two pendants together cut only their 2 edges but are not
    connected; a connected plan must split the clique.
    """
    edges = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3), (0, 4), (2, 5)]
    return graph_from_edges([1, 1, 1, 1, 2, 2], edges), 4, 4


@pytest.mark.parametrize("backend", BACKENDS)
def test_cut_edges_contiguity_on_drawn_graph(backend: Backend) -> None:
    graph, lo, hi = _clique_with_pendants()
    expected = _brute_force(graph, 2, lo, hi, "cut_edges")
    assert expected[False] < expected[True] < np.inf
    for contiguity in (False, True):
        sol = solve_districting(
            graph, 2, lower=[lo], upper=[hi], objective="cut_edges", contiguity=contiguity,
            backend=backend,
            time_limit_s=30,
        )  # fmt: skip
        assert sol.status == SolveStatus.OPTIMAL, sol
        assert sol.objective == expected[contiguity]
        assert sol.bound == expected[contiguity]
        _check(sol, graph, 2, lo, hi)
        assert is_contiguous(sol.plan, graph) or not contiguity


@pytest.mark.parametrize("backend", BACKENDS)
def test_grid_cut_edges_matches_brute_force(backend: Backend) -> None:
    graph = grid_graph(3, 3, [1, 2, 1, 2, 3, 2, 1, 2, 1])
    expected = _brute_force(graph, 3, 4, 6, "cut_edges")
    sol = solve_districting(
        graph, 3, lower=[4], upper=[6], objective="cut_edges", backend=backend,
        time_limit_s=30,
    )  # fmt: skip
    assert sol.status == SolveStatus.OPTIMAL
    assert sol.objective == expected[True]
    assert is_contiguous(sol.plan, graph)


@pytest.mark.parametrize("backend", BACKENDS)
def test_star_is_infeasible_with_contiguity(backend: Backend) -> None:
    # Centre 0 (population 2) with four leaves: the district without the centre holds three
    # leaves that touch only through the centre.
    star = graph_from_edges([2, 1, 1, 1, 1], [(0, 1), (0, 2), (0, 3), (0, 4)])
    for objective in OBJECTIVES:
        cost = np.ones((5, 5)) - np.eye(5)
        sol = solve_districting(
            star, 2, lower=[3], upper=[3], objective=objective,
            cost=cost, backend=backend,
            time_limit_s=30,
        )  # fmt: skip
        assert sol.status == SolveStatus.INFEASIBLE
        assert sol.plan.size == 0
        assert "no partition of the 5 units into 2 connected districts of 3…3" in sol.reasons[0]
        free = solve_districting(
            star, 2, lower=[3], upper=[3], objective=objective,
            cost=cost, contiguity=False, backend=backend,
        )  # fmt: skip
        assert free.status == SolveStatus.OPTIMAL


def test_presolve_unit_too_large_and_totals() -> None:
    graph = grid_graph(1, 3, [3, 3, 10])
    sol = solve_districting(graph, 2, lower=[4], upper=[5], objective="cut_edges")
    assert sol.status == SolveStatus.INFEASIBLE
    assert sol.detail["proof"] == "presolve"
    assert "unit 2 has 10 > U = 5 by 5: no district can hold it" in sol.reasons
    assert any("k·U = 2 × 5 = 10 is below the total 16 by 6" in r for r in sol.reasons)


def test_presolve_component_cannot_hold_whole_districts() -> None:
    # Components {0,1} (population 1 + 4 = 5) and {2,3} (3 + 4 = 7); three districts of 3..4.
    # {2,3} can hold two districts but {0,1} neither one (5 > 4) nor two (5 < 6).
    graph = graph_from_edges([1, 4, 3, 4], [(0, 1), (2, 3)])
    sol = solve_districting(graph, 3, lower=[3], upper=[4], objective="cut_edges")
    assert sol.status == SolveStatus.INFEASIBLE
    assert sol.detail["proof"] == "presolve"
    assert sol.reasons[0].startswith("component of 2 units {0, 1} has 5: between 1.25 and 1.66667")
    # Without contiguity {1}, {3}, {0, 2} is a plan.
    free = solve_districting(
        graph, 3, lower=[3], upper=[4], objective="cut_edges", contiguity=False
    )
    assert free.status == SolveStatus.OPTIMAL


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_measures(backend: Backend) -> None:
    # Population is even across rows and columns; the second measure (say, workload) sits in
    # the top row, so only the left/right split balances both.
    graph = grid_graph(2, 2)
    second = np.array([1.0, 1.0, 0.0, 0.0])
    weights = np.column_stack([graph.population.astype(float), second])
    sol = solve_districting(
        graph, 2, weights=weights, lower=[2, 0], upper=[2, 1], objective="cut_edges",
        backend=backend,
    )  # fmt: skip
    assert sol.status == SolveStatus.OPTIMAL
    assert sol.plan.tolist() == [0, 1, 0, 1]
    heavy = solve_districting(
        graph, 2, weights=weights, lower=[2, 0], upper=[2, 0.5], objective="cut_edges",
        backend=backend,
    )  # fmt: skip
    assert heavy.status == SolveStatus.INFEASIBLE
    assert any("unit 0 has 1 > U = 0.5 by 0.5 (measure 1)" in r for r in heavy.reasons)


@pytest.mark.parametrize("backend", BACKENDS)
def test_deterministic(backend: Backend) -> None:
    graph = grid_graph(3, 3)
    cost = _colour_cost(graph)
    runs = [
        solve_districting(
            graph, 3, lower=[3], upper=[3], objective=objective,
            cost=cost, backend=backend,
        )
        for objective in OBJECTIVES
        for _ in range(2)
    ]  # fmt: skip
    assert runs[0].plan.tolist() == runs[1].plan.tolist()
    assert runs[2].plan.tolist() == runs[3].plan.tolist()


def test_bad_arguments() -> None:
    graph = grid_graph(2, 2)
    with pytest.raises(ValueError, match="needs cost"):
        solve_districting(graph, 2, lower=[2], upper=[2], objective="centred")
    with pytest.raises(ValueError, match="one value per measure"):
        solve_districting(graph, 2, lower=[2, 1], upper=[2], objective="cut_edges")


def _county(state: str) -> DualGraph:
    return load_dual_graph(county_graph_path(state))


def _moi_cost(graph: DualGraph, state: str) -> tuple[np.ndarray, np.ndarray]:
    assert graph.centroid_lonlat is not None
    epsg = load_epsg_by_state(MOI / "derived/epsg_by_state.csv")[state]
    x_m, y_m = project_lonlat(graph.centroid_lonlat[:, 0], graph.centroid_lonlat[:, 1], epsg)
    dist = rounded_km_distances(x_m, y_m).astype(float)
    return graph.population[:, None] * dist**2 * 1e-6, dist


@needs_bench
@pytest.mark.parametrize("contiguity", [True, False])
def test_maine_moment_of_inertia(contiguity: bool) -> None:
    # CP-SAT: on this instance (k = 2, contiguity raises the optimum by 77%) it needs about
    # 16 s on 2 cores against about 30 s for HiGHS, which keeps the file under a minute.
    k, lower, upper, without_c, with_c = MOI_COUNTY["ME"]
    published = with_c if contiguity else without_c
    graph = _county("ME")
    cost, dist = _moi_cost(graph, "ME")
    sol = solve_districting(
        graph, k, lower=[lower], upper=[upper], objective="centred", cost=cost,
        contiguity=contiguity, backend="cpsat", time_limit_s=120,
    )  # fmt: skip
    assert sol.status == SolveStatus.OPTIMAL
    assert sol.objective == pytest.approx(published, abs=0.005)
    assert sol.bound == pytest.approx(published, abs=0.005)
    value = moment_of_inertia(sol.plan, graph.population, dist, scale=1e-6).value
    assert value == pytest.approx(published, abs=0.005)
    assert is_contiguous(sol.plan, graph) == contiguity


@needs_bench
@pytest.mark.parametrize("state", ["ME", "NM"])
def test_county_cut_edges(state: str) -> None:
    k, lo, hi, with_c, without_c = CUT_EDGES_COUNTY[state]
    graph = _county(state)
    for contiguity, published in ((True, with_c), (False, without_c)):
        sol = solve_districting(
            graph, k, lower=[lo], upper=[hi], objective="cut_edges", contiguity=contiguity,
            time_limit_s=60,
        )  # fmt: skip
        assert sol.status == SolveStatus.OPTIMAL
        assert sol.objective == published == cut_edges(sol.plan, graph)
        _check(sol, graph, k, lo, hi)
        if contiguity:
            assert is_contiguous(sol.plan, graph)


@needs_bench
def test_new_hampshire_infeasible_with_contiguity() -> None:
    graph = _county("NH")
    cost, _ = _moi_cost(graph, "NH")
    sol = solve_districting(
        graph, 2, lower=[654944], upper=[661526], objective="centred", cost=cost, time_limit_s=60
    )
    assert sol.status == SolveStatus.INFEASIBLE
    assert "no partition of the 10 units into 2 connected districts" in sol.reasons[0]
    free = solve_districting(
        graph, 2, lower=[654944], upper=[661526], objective="centred", cost=cost,
        contiguity=False, time_limit_s=60,
    )  # fmt: skip
    assert free.status == SolveStatus.OPTIMAL
    assert not is_contiguous(free.plan, graph)
