"""Contiguous territories: every backend keeps each rep's units in one connected piece."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli import EXIT_BAD_INPUT, app
from solvers.contiguity import separator_cuts
from territory.domain.districting import DualGraph, grid_graph, is_contiguous
from territory.domain.model import disconnected_reps, territory_pieces
from territory.errors import InfeasibleError
from territory.workflow.align import align
from tests.commands import align_args, invoke, write_tables
from tests.instances import scattered_accounts, square_grid

runner = CliRunner()
BACKENDS = ["heuristic", "mip", "cpsat"]


def grid_instance(
    rows: int, cols: int, potential: list[float] | None = None
) -> tuple[pd.DataFrame, DualGraph]:
    """One account per unit of a rows x cols grid of 0.1-degree cells near (50 N, 10 E)."""
    g = grid_graph(rows, cols)
    n = rows * cols
    names = tuple(f"U{i:02d}" for i in range(n))
    lon = 10 + 0.1 * (np.arange(n) % cols)
    lat = 50 + 0.1 * (np.arange(n) // cols)
    graph = DualGraph(
        population=g.population,
        edges=g.edges,
        names=names,
        point_lonlat=np.c_[lon, lat],
        centroid_lonlat=np.c_[lon, lat],
    )
    accounts = pd.DataFrame(
        {
            "account_id": [f"A{i:02d}" for i in range(n)],
            "lat": lat,
            "lon": lon,
            "potential": potential or [100.0] * n,
            "workload": 10.0,
            "unit_id": list(names),
        }
    )
    return accounts, graph


def strip() -> tuple[pd.DataFrame, pd.DataFrame, DualGraph]:
    """Five units in a row; R1 lives above the middle one and carries one unit, R2 four.

    Without contiguity R1 takes the middle unit (its nearest) and R2's four units fall apart
    into two pairs; with contiguity R1 must take an end unit, which costs more travel.
    """
    accounts, graph = grid_instance(1, 5)
    return accounts, reps_at([50.05, 52.0], [10.2, 10.2], [100.0, 400.0]), graph


def reps_at(lat: list[float], lon: list[float], capacity: list[float]) -> pd.DataFrame:
    """Reps R1, R2, ... at the given home bases with the given capacities (hours/year)."""
    return pd.DataFrame(
        {"rep_id": [f"R{i + 1}" for i in range(len(lat))], "lat": lat, "lon": lon,
         "capacity": capacity}
    )  # fmt: skip


def unit_labels(result_plan: pd.Series, graph: DualGraph) -> np.ndarray:
    reps = sorted(set(result_plan))
    return result_plan.reindex(graph.names).map({r: i for i, r in enumerate(reps)}).to_numpy()


class TestStrip:
    def test_without_contiguity_the_optimum_is_split(self) -> None:
        accounts, reps, graph = strip()
        result = align(
            accounts, reps, solver="mip", family_column="unit_id", balance=0.0, time_limit_s=20
        )
        assert result.report.status == "OPTIMAL"
        assert result.plan["A02"] == "R1"

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_every_backend_keeps_territories_whole(self, backend: str) -> None:
        accounts, reps, graph = strip()
        result = align(
            accounts, reps, solver=backend, family_column="unit_id", unit_graph=graph,
            contiguity=True, balance=0.0, time_limit_s=20,
        )  # fmt: skip
        assert result.unit_plan is not None
        labels = unit_labels(result.unit_plan, graph)
        assert is_contiguous(labels, grid_graph(1, 5))
        assert result.plan[["A00", "A04"]].eq("R1").sum() == 1
        assert result.solve_document()["parameters"]["contiguity"] is True
        # The contiguous optimum costs more than the split one and the bound never exceeds it.
        assert result.report.objective == pytest.approx(9055.515, abs=0.01)
        assert result.report.bound is not None
        assert result.report.bound <= result.report.objective + 1e-6
        if backend != "heuristic":
            assert result.report.status == "OPTIMAL"


class TestGrid:
    @pytest.mark.parametrize("backend", BACKENDS)
    def test_grid_with_uneven_potential(self, backend: str) -> None:
        rng = np.random.default_rng(3)
        accounts, graph = grid_instance(5, 5, rng.uniform(50, 150, 25).round(1).tolist())
        reps = reps_at([50.0, 50.4, 50.2], [10.0, 10.1, 10.4], [100.0] * 3)
        result = align(
            accounts, reps, solver=backend, family_column="unit_id", unit_graph=graph,
            contiguity=True, balance=0.15, time_limit_s=30,
        )  # fmt: skip
        assert result.unit_plan is not None
        assert is_contiguous(unit_labels(result.unit_plan, graph), grid_graph(5, 5))
        assert result.report.max_potential_deviation <= 0.15 + 1e-9
        assert result.report.max_workload_deviation <= 0.15 + 1e-9

    def test_empty_unit_connects_a_territory(self) -> None:
        """The middle unit of a 1 x 3 strip has no account; R1's two units join through it."""
        accounts, graph = grid_instance(1, 3)
        accounts = accounts[accounts["unit_id"] != "U01"].reset_index(drop=True)
        reps = reps_at([50.0], [10.1], [100.0])
        result = align(
            accounts, reps, solver="heuristic", family_column="unit_id", unit_graph=graph,
            contiguity=True, balance=0.05, time_limit_s=10,
        )  # fmt: skip
        assert result.unit_plan is not None
        assert result.unit_plan.to_dict() == {"U00": "R1", "U02": "R1", "U01": "R1"}
        assert len(result.assignments) == 2


def _two_reps() -> pd.DataFrame:
    """Two reps of 50 hours side by side on the first row of the grid."""
    return reps_at([50.0, 50.0], [10.0, 10.3], [50.0, 50.0])


class TestInfeasible:
    def test_island_that_cannot_hold_a_territory(self) -> None:
        """Two parts of the map: 3 units and 1 unit, two reps of 2 units each (±0%)."""
        accounts, graph = grid_instance(1, 4)
        cut_graph = DualGraph(
            population=graph.population,
            edges=graph.edges[~((graph.edges[:, 0] == 2) & (graph.edges[:, 1] == 3))],
            names=graph.names,
            point_lonlat=graph.point_lonlat,
            centroid_lonlat=graph.centroid_lonlat,
        )
        with pytest.raises(InfeasibleError) as caught:
            align(
                accounts, _two_reps(), solver="heuristic", family_column="unit_id",
                unit_graph=cut_graph, contiguity=True, balance=0.0, time_limit_s=10,
            )  # fmt: skip
        reason = caught.value.reasons[0]
        assert reason.constraint == "contiguity"
        assert "3 unit(s)" in reason.message and "U00" in reason.message

    def test_mip_proves_a_hidden_infeasibility(self) -> None:
        """A star: the centre and three leaves, two reps of two units each.

        Every part of the map could hold whole territories, yet any pair without the centre
        is two leaves, which are not neighbours: only the exact backend can tell.
        """
        accounts, _ = grid_instance(1, 4)
        star = DualGraph(
            population=np.ones(4, dtype=np.int64),
            edges=np.array([[0, 1], [0, 2], [0, 3]]),
            names=("U00", "U01", "U02", "U03"),
            point_lonlat=accounts[["lon", "lat"]].to_numpy(),
            centroid_lonlat=accounts[["lon", "lat"]].to_numpy(),
        )
        with pytest.raises(InfeasibleError) as caught:
            align(
                accounts, _two_reps(), solver="auto", family_column="unit_id", unit_graph=star,
                contiguity=True, balance=0.0, time_limit_s=10,
            )  # fmt: skip
        reason = caught.value.reasons[0]
        assert reason.constraint == "contiguity"
        assert "proved" in reason.message


class TestCuts:
    def test_cut_separates_a_split_territory(self) -> None:
        g = grid_graph(1, 5)
        plan = np.array([1, 1, 0, 1, 1])
        assert disconnected_reps(g.adjacency(), plan).tolist() == [1]
        assert len(set(territory_pieces(g.adjacency(), plan).tolist())) == 3

    def test_no_cut_on_contiguous_plan(self) -> None:
        accounts, reps, graph = strip()
        result = align(
            accounts, reps, solver="heuristic", family_column="unit_id", unit_graph=graph,
            contiguity=True, balance=0.0, time_limit_s=10,
        )  # fmt: skip
        problem = result.problem  # built over units U00..U04, reps R1, R2
        assert result.unit_plan is not None
        plan = np.array([list(problem.rep_ids).index(r) for r in result.unit_plan])
        assert separator_cuts(problem, plan) == []
        split = np.array([1, 1, 0, 1, 1])
        cuts = separator_cuts(problem, split)
        assert len(cuts) == 1
        cut = cuts[0]
        # The stray pair's only neighbour is the middle unit, held by the other rep.
        assert cut.rep == 1 and set(cut.separator) == {2}


@settings(max_examples=15, deadline=None)
@given(
    potentials=st.lists(st.floats(20, 200), min_size=16, max_size=16),
    seed=st.integers(0, 1000),
)
def test_heuristic_plans_are_contiguous_and_complete(potentials: list[float], seed: int) -> None:
    """Whatever the loads, the soft heuristic returns one connected piece per rep."""
    accounts, graph = grid_instance(4, 4, [round(p, 1) for p in potentials])
    reps = reps_at([50.0, 50.3, 50.1], [10.0, 10.3, 10.3], [100.0] * 3)
    result = align(
        accounts, reps, solver="heuristic", family_column="unit_id", unit_graph=graph,
        contiguity=True, balance=0.10, soft=True, seed=seed, time_limit_s=10,
    )  # fmt: skip
    assert result.unit_plan is not None
    assert is_contiguous(unit_labels(result.unit_plan, graph), grid_graph(4, 4))
    assert len(result.assignments) == 16
    assert result.assignments["account_id"].is_unique
    assert result.territories["potential"].sum() == pytest.approx(accounts["potential"].sum())


class TestCli:
    def test_align_units_with_contiguity(self, tmp_path: Path) -> None:
        """A 4 x 4 grid of 0.5-degree squares, accounts inside, two reps far apart."""
        layer = square_grid(4, 4, size=0.5, west=10.0, south=50.0, column="zip")
        layer.to_file(tmp_path / "units.geojson", driver="GeoJSON")
        accounts = scattered_accounts(np.random.default_rng(5), 160, (50.01, 51.99), (10.01, 11.99))
        write_tables(tmp_path, accounts, reps_at([50.2, 51.8], [10.2, 11.8], [2000, 2000]))
        out = tmp_path / "out"
        done = invoke(
            align_args(
                tmp_path, out, "--soft", "--solver", "mip",
                "--units", str(tmp_path / "units.geojson"), "--unit-id-column", "zip",
                "--contiguity", "--time-limit", "30",
            )
        )  # fmt: skip
        assert done.exit_code == 0, done.output
        shapes = gpd.read_file(out / "territories.geojson")
        assert sorted(shapes["rep_id"]) == ["R1", "R2"]
        assert (shapes.geometry.geom_type == "Polygon").all()  # one piece each

    def test_contiguity_without_units_is_explained(self, tmp_path: Path) -> None:
        accounts, reps, _ = strip()
        accounts.to_csv(tmp_path / "a.csv", index=False)
        reps.to_csv(tmp_path / "r.csv", index=False)
        done = runner.invoke(
            app,
            [
                "align", "--accounts", str(tmp_path / "a.csv"), "--reps", str(tmp_path / "r.csv"),
                "--out", str(tmp_path / "out"), "--quiet", "--contiguity",
            ],
        )  # fmt: skip
        assert done.exit_code == EXIT_BAD_INPUT, done.output
        assert "--units" in done.output and "Traceback" not in done.output
        assert not (tmp_path / "out").exists()


class TestCompactness:
    def reps(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "rep_id": ["R1", "R2"],
                "lat": [50.0, 50.3],
                "lon": [10.0, 10.3],
                "capacity": [80.0, 80.0],
            }
        )

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_priced_borders_straighten_the_split(self, backend: str) -> None:
        """A 4 x 4 grid split in two halves: with borders priced high the split is a straight
        line (4 cut edges), the fewest any balanced split of the grid can have."""
        accounts, graph = grid_instance(4, 4)
        result = align(
            accounts, self.reps(), solver=backend, family_column="unit_id", unit_graph=graph,
            contiguity=True, balance=0.0, cut_edge_weight=1e5, time_limit_s=30,
        )  # fmt: skip
        labels = unit_labels(result.unit_plan, graph)  # type: ignore[arg-type]
        from territory.domain.districting import cut_edges

        assert cut_edges(labels, grid_graph(4, 4)) == 4
        assert result.problem.cut_edges(result.problem.expand(np.asarray(labels))) == 4
        travel = result.problem.objective(np.asarray(labels)) - 4e5
        assert result.report.objective == pytest.approx(travel + 4e5)
        assert any("4 of 24 unit borders" in note for note in result.report.notes)

    def test_moment_of_inertia_prices_squared_km(self) -> None:
        accounts, graph = grid_instance(2, 2)
        travel = align(
            accounts, self.reps(), solver="mip", family_column="unit_id", balance=0.0,
            time_limit_s=10,
        )  # fmt: skip
        moi = align(
            accounts, self.reps(), solver="mip", family_column="unit_id", balance=0.0,
            compactness="moi", time_limit_s=10,
        )  # fmt: skip
        from territory.domain.geo import haversine_km

        reps = self.reps().set_index("rep_id")
        home = reps.loc[moi.plan.reindex(accounts["account_id"]).to_numpy()]
        km = haversine_km(
            accounts["lat"].to_numpy(), accounts["lon"].to_numpy(),
            home["lat"].to_numpy(), home["lon"].to_numpy(),
        )  # fmt: skip
        expected = float((accounts["workload"].to_numpy() * km**2).sum())
        assert moi.report.objective == pytest.approx(float(expected), rel=1e-9)
        assert moi.solve_document()["parameters"]["compactness"] == "moi"
        assert travel.solve_document()["parameters"]["compactness"] == "travel"

    def test_cut_edge_weight_needs_contiguity(self) -> None:
        from territory.errors import ScenarioError

        accounts, _ = grid_instance(2, 2)
        with pytest.raises(ScenarioError, match="--contiguity"):
            align(accounts, self.reps(), family_column="unit_id", cut_edge_weight=1.0)
