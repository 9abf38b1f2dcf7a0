"""Districting evaluator: tiny drawn graphs, then the published optima of the US benchmarks.

The real-world tests re-evaluate the published optimal plans in ``../shared/benchmarks`` (beside
the project) and must reproduce the published objective values exactly (cut edges, hop-Hess) or
within the printed rounding (moment of inertia, 2 decimals). They are skipped only when that
folder is absent.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from bench.published import (
    BENCH,
    BENCH_PRESENT,
    CUT,
    CUT_EDGES_COUNTY,
    CUT_EDGES_TRACT,
    HOP,
    HOP_HESS_2020,
    MOI,
    MOI_COUNTY,
    TRACT_FIPS,
    TRACT_K,
    county_graph_path,
)
from territory.domain.districting import (
    DualGraph,
    balance_bounds,
    cut_edges,
    district_components,
    evaluate_plan,
    geodesic_miles,
    graph_from_edges,
    grid_graph,
    hess_hop_objective,
    hop_distances,
    is_contiguous,
    moment_of_inertia,
    noncontiguous_districts,
    plan_from_mapping,
    population_balance,
    project_lonlat,
    rounded_km_distances,
)
from territory.errors import DataValidationError
from territory.io.benchmark_graphs import (
    load_dual_graph,
    load_epsg_by_state,
    load_lonlat_csv,
    load_lykhovyd_solution,
    load_plan,
)

needs_bench = pytest.mark.skipif(
    not BENCH_PRESENT, reason=f"benchmark folder {BENCH} is absent (it sits beside the project)"
)

ROWS = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])


@pytest.fixture
def three_by_three_grid() -> DualGraph:
    """Rook grid, one person per cell, nodes numbered row-major::

    0 - 1 - 2
    |   |   |
    3 - 4 - 5
    |   |   |
    6 - 7 - 8
    """
    return grid_graph(3, 3)


class TestSyntheticDistricting:
    def test_grid_shape(self, three_by_three_grid: DualGraph) -> None:
        assert (three_by_three_grid.n, three_by_three_grid.m) == (9, 12)

    def test_graph_from_edges_dedups_both_directions(self) -> None:
        g = graph_from_edges([1, 1, 1], [(0, 1), (1, 0), (1, 2), (2, 2)])
        assert g.edges.tolist() == [[0, 1], [1, 2]]

    def test_cut_edges_rows(self, three_by_three_grid: DualGraph) -> None:
        # The three vertical edges between each pair of rows are cut.
        assert cut_edges(ROWS, three_by_three_grid) == 6
        assert cut_edges(np.zeros(9, dtype=int), three_by_three_grid) == 0

    def test_contiguity(self, three_by_three_grid: DualGraph) -> None:
        # District 0 = {0, 2}: two corners that do not touch.
        split = np.array([0, 1, 0, 1, 1, 1, 2, 2, 2])
        assert district_components(split, three_by_three_grid) == {0: 2, 1: 1, 2: 1}
        assert noncontiguous_districts(split, three_by_three_grid) == [0]
        assert not is_contiguous(split, three_by_three_grid)
        assert is_contiguous(ROWS, three_by_three_grid)
        assert cut_edges(split, three_by_three_grid) == 7

    def test_population_balance(self, three_by_three_grid: DualGraph) -> None:
        # P = 9, k = 3: L = ceil(2.985) = 3 = floor(3.015) = U.
        ok = population_balance(ROWS, three_by_three_grid.population)
        assert (ok.lower, ok.upper, ok.ideal) == (3, 3, 3.0)
        assert ok.within_bounds and ok.max_relative_deviation == 0.0
        bad = population_balance(np.array([0, 0, 0, 0, 1, 1, 2, 2, 2]), np.ones(9, dtype=int))
        assert bad.district_populations.tolist() == [4, 2, 3]
        assert bad.max_relative_deviation == pytest.approx(1 / 3)
        assert not bad.within_bounds

    def test_hop_hess_rows(self, three_by_three_grid: DualGraph) -> None:
        # Each row is centred on its middle cell: 1 + 1 hops per row.
        result = hess_hop_objective(ROWS, three_by_three_grid)
        assert result.value == 6
        assert result.centres == {0: 1, 1: 4, 2: 7}
        assert hess_hop_objective(ROWS, three_by_three_grid, centres={0: 0}).value == 3 + 2 + 2

    def test_hop_hess_uses_whole_graph_hops(self, three_by_three_grid: DualGraph) -> None:
        # U-shaped district {0,2,3,5,6,7,8} around {1,4}: 0 -> 2 is 2 hops through 1, not 6.
        u_shape = np.array([0, 1, 0, 0, 1, 0, 0, 0, 0])
        result = hess_hop_objective(u_shape, three_by_three_grid)
        assert result.district_costs == {0: 12.0, 1: 1.0}
        assert result.centres[0] == 3
        assert hop_distances(three_by_three_grid, [0])[0, 2] == 2

    def test_moment_of_inertia_rounded_km(self, three_by_three_grid: DualGraph) -> None:
        # Cells 1 km apart (coordinates in metres), so D is the whole-km grid distance.
        col, row = np.arange(9) % 3, np.arange(9) // 3
        dist = rounded_km_distances(col * 1000.0 + 0.4, row * 1000.0)
        result = moment_of_inertia(ROWS, three_by_three_grid.population, dist)
        assert result.value == 6.0
        assert result.centres == {0: 1, 1: 4, 2: 7}
        assert moment_of_inertia(ROWS, np.ones(9), dist, scale=1e-6).value == pytest.approx(6e-6)

    def test_moment_of_inertia_grid_benchmark_definition(self) -> None:
        # gN definition (Validi et al.): D = int(100 * Euclidean), objective sum D^2, unscaled.
        col, row = np.arange(9) % 3, np.arange(9) // 3
        dist = np.floor(100 * np.hypot(col[:, None] - col, row[:, None] - row))
        assert moment_of_inertia(ROWS, np.ones(9), dist).value == 3 * 2 * 100**2
        # A column of a 3x3 grid is the same shape.
        assert moment_of_inertia(col, np.ones(9), dist).value == 60000

    def test_balance_bounds_published(self) -> None:
        assert balance_bounds(3751351, 5) == (746519, 754021)  # OK 2010
        assert balance_bounds(1852994, 3) == (614577, 620752)  # WV 2010 in the cut-edges paper
        assert balance_bounds(3959353, 5, deviation=0.02) == (783952, 799789)  # OK 2020, ±1%

    def test_metrics_ignore_label_values(self, three_by_three_grid: DualGraph) -> None:
        relabelled = np.array([7, 7, 7, 3, 3, 3, 9, 9, 9])
        assert cut_edges(relabelled, three_by_three_grid) == cut_edges(ROWS, three_by_three_grid)
        assert evaluate_plan(relabelled, three_by_three_grid).contiguous
        assert hess_hop_objective(relabelled, three_by_three_grid).value == 6


class TestErrorsDistricting:
    def test_plan_length_mismatch(self, three_by_three_grid: DualGraph) -> None:
        with pytest.raises(ValueError, match="one district label per unit"):
            cut_edges(np.zeros(4, dtype=int), three_by_three_grid)

    def test_float_labels(self, three_by_three_grid: DualGraph) -> None:
        with pytest.raises(ValueError, match="must be integers"):
            cut_edges(np.zeros(9), three_by_three_grid)

    def test_centre_outside_district(self, three_by_three_grid: DualGraph) -> None:
        with pytest.raises(ValueError, match="is not in district 0"):
            hess_hop_objective(ROWS, three_by_three_grid, centres={0: 8})

    def test_unassigned_units(self) -> None:
        with pytest.raises(DataValidationError, match="have no district"):
            plan_from_mapping({0: 0, 1: 0}, 3)

    def test_edges_outside_graph(self) -> None:
        with pytest.raises(ValueError, match="outside 0..1"):
            graph_from_edges([1, 1], [(0, 5)])

    def test_bad_files(self, tmp_path: Path) -> None:
        bad = tmp_path / "g.json"
        bad.write_text(json.dumps({"nodes": []}))
        with pytest.raises(DataValidationError, match="adjacency JSON"):
            load_dual_graph(bad)
        bad.write_text(json.dumps({"nodes": [{"id": 0}], "adjacency": [[]]}))
        with pytest.raises(DataValidationError, match="population_key"):
            load_dual_graph(bad)
        bad.write_text(json.dumps({"plan": {}}))
        with pytest.raises(DataValidationError, match="unknown plan format"):
            load_plan(bad, 1)


def _county_graph(state: str) -> DualGraph:
    return load_dual_graph(county_graph_path(state))


@needs_bench
class TestRealWorldDistricting:
    @pytest.mark.parametrize("state", sorted(CUT_EDGES_COUNTY))
    def test_cut_edges_county(self, state: str) -> None:
        _, lower, upper, published, _ = CUT_EDGES_COUNTY[state]
        graph = _county_graph(state)
        n = graph.n
        plan = load_plan(
            CUT / "results/optimal_plans_table13" / f"{state}-county-labeling-lcut.json", n
        )
        result = evaluate_plan(plan.assignment, graph)
        assert result.cut_edges == published
        assert (result.balance.lower, result.balance.upper) == (lower, upper)
        assert result.balance.within_bounds
        assert result.balance.max_relative_deviation <= 0.005
        assert result.contiguous

    @pytest.mark.parametrize("state", sorted(CUT_EDGES_TRACT))
    def test_cut_edges_tract(self, state: str) -> None:
        graph = load_dual_graph(CUT / "tract" / f"tract{TRACT_FIPS[state]:02d}.json")
        plan = load_plan(
            CUT / "results/optimal_plans_table13" / f"{state}-tract-labeling-lcut.json", graph.n
        ).assignment
        result = evaluate_plan(plan, graph)
        assert result.cut_edges == CUT_EDGES_TRACT[state]
        assert result.k == TRACT_K[state]
        assert result.balance.within_bounds
        assert result.contiguous

    @pytest.mark.parametrize("state", sorted(MOI_COUNTY))
    def test_moment_of_inertia_county(self, state: str) -> None:
        _, lower, upper, hess_value, lcut_value = MOI_COUNTY[state]
        graph = _county_graph(state)
        if graph.centroid_lonlat is not None:
            lonlat = graph.centroid_lonlat
        else:  # MS: the DeFord JSON has no C_X/C_Y; use the centroids derived from its shapefile.
            lonlat = load_lonlat_csv(
                MOI / "derived/MS_county_centroids_from_shapefile.csv", graph.n
            )
        epsg = load_epsg_by_state(MOI / "derived/epsg_by_state.csv")[state]
        x_m, y_m = project_lonlat(lonlat[:, 0], lonlat[:, 1], epsg)
        dist_km = rounded_km_distances(x_m, y_m)
        mapping = MOI / "derived/lykhovyd_to_deford_county_ids.csv"
        for model, published, contiguous in (
            ("hess", hess_value, None),
            ("lcut", lcut_value, True),
        ):
            sol = MOI / "results/county_solutions" / model / f"{state}_{model}.sol"
            plan = load_lykhovyd_solution(sol, state, mapping, graph.n)
            value = moment_of_inertia(plan, graph.population, dist_km, scale=1e-6).value
            assert value == pytest.approx(published, abs=0.005), model
            check = evaluate_plan(plan, graph, bounds=(lower, upper))
            assert check.balance.within_bounds, model
            if contiguous:
                assert check.contiguous, model

    @pytest.mark.parametrize("state", sorted(HOP_HESS_2020))
    def test_hop_hess_2020(self, state: str) -> None:
        published, k, lower, upper = HOP_HESS_2020[state]
        graph = load_dual_graph(HOP / "dual_graphs" / f"{state}_counties.json")
        plan = load_plan(HOP / "results/optimal_plans_hess" / f"Hess_{state}.json", graph.n)
        assert plan.centres is not None
        assert hess_hop_objective(plan.assignment, graph).value == published
        assert hess_hop_objective(plan.assignment, graph, centres=plan.centres).value == published
        result = evaluate_plan(plan.assignment, graph)
        assert result.k == k
        assert (result.balance.lower, result.balance.upper) == (lower, upper)
        assert result.balance.within_bounds
        assert result.contiguous

    def test_moment_of_inertia_geodesic_miles_ok2010(self) -> None:
        graph = _county_graph("OK")
        assert graph.centroid_lonlat is not None
        miles = geodesic_miles(graph.centroid_lonlat[:, 0], graph.centroid_lonlat[:, 1])
        data = json.loads((CUT / "derived/OK2010_moi_geodesic_miles_plans.json").read_text())
        for key, contiguous in (("moi_no_contiguity", False), ("moi_with_contiguity", True)):
            entry = data[key]
            plan = plan_from_mapping({int(u): d for u, d in entry["assignment"].items()}, graph.n)
            value = moment_of_inertia(plan, graph.population, miles).value
            assert math.isclose(value, entry["published_objective"], rel_tol=1e-9), key
            assert population_balance(plan, graph.population).within_bounds
            assert is_contiguous(plan, graph) or not contiguous

    def test_moment_of_inertia_geodesic_miles_ok2020(self) -> None:
        graph = load_dual_graph(HOP / "dual_graphs/OK_counties.json")
        assert graph.point_lonlat is not None
        miles = geodesic_miles(graph.point_lonlat[:, 0], graph.point_lonlat[:, 1])
        data = json.loads((HOP / "derived/OK2020_moi_geodesic_miles_plan_dev2pct.json").read_text())
        entry = data["moi_with_contiguity"]
        plan = plan_from_mapping({int(u): d for u, d in entry["assignment"].items()}, graph.n)
        value = moment_of_inertia(plan, graph.population, miles).value
        assert math.isclose(value, entry["published_objective"], rel_tol=1e-9)
        balance = population_balance(plan, graph.population, deviation=0.02)
        assert (balance.lower, balance.upper) == (783952, 799789)
        assert balance.within_bounds
        # At ±0.5% Oklahoma County alone (796,292) exceeds U = 795,829.
        assert balance_bounds(int(graph.population.sum()), 5)[1] == 795829
        assert int(graph.population.max()) == 796292
        assert is_contiguous(plan, graph)
