"""Basic units: reading and checking layers, joining accounts, adjacency, dissolving, GeoJSON."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon, box

from territory.domain.districting import DualGraph
from territory.errors import DataValidationError
from territory.io.units import (
    DisconnectedUnitsWarning,
    adjacency,
    aggregate_accounts,
    check_same_crs,
    connectivity,
    coverage_gaps,
    dissolve_territories,
    join_accounts,
    read_adjacency,
    read_units,
    validate_units,
    write_geojson,
)

CELL_M = 1000.0
UTM_33N = "EPSG:32633"


def grid_units(rows: int = 3, cols: int = 3, crs: str | None = UTM_33N) -> gpd.GeoDataFrame:
    """A grid of 1 km squares in UTM 33N, ids ``"r<row>c<col>"``, row 0 at the bottom.

    For 3x3::

        r2c0 | r2c1 | r2c2
        -----+------+-----
        r1c0 | r1c1 | r1c2
        -----+------+-----
        r0c0 | r0c1 | r0c2

    Rook neighbours share a side: 2 * 3 * 2 = 12 edges. Queen adds the 2 * 2 * 2 = 8 diagonals
    through shared corners: 20 edges.
    """
    ids = [f"r{r}c{c}" for r in range(rows) for c in range(cols)]
    cells = [
        box(c * CELL_M, r * CELL_M, (c + 1) * CELL_M, (r + 1) * CELL_M)
        for r in range(rows)
        for c in range(cols)
    ]
    return gpd.GeoDataFrame({"unit_id": ids}, geometry=cells, crs=crs)


def with_island(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The grid plus ``isle``, a 1 km square 2 km east of the grid's right edge."""
    isle = gpd.GeoDataFrame(
        {"unit_id": ["isle"]}, geometry=[box(5 * CELL_M, 0, 6 * CELL_M, CELL_M)], crs=units.crs
    )
    return gpd.GeoDataFrame(pd.concat([units, isle], ignore_index=True), crs=units.crs)


def lonlat_of(units: gpd.GeoDataFrame, xy_m: list[tuple[float, float]]) -> pd.DataFrame:
    """Accounts at projected points, given as WGS84 lat/lon like real account tables."""
    points = gpd.GeoSeries([Point(x, y) for x, y in xy_m], crs=units.crs).to_crs("EPSG:4326")
    return pd.DataFrame(
        {
            "account_id": [f"a{i}" for i in range(len(xy_m))],
            "lat": points.y.to_numpy(),
            "lon": points.x.to_numpy(),
        }
    )


class TestSyntheticUnits:
    def test_rook_and_queen_edge_counts(self) -> None:
        units = validate_units(grid_units())
        rook = adjacency(units, "rook")
        queen = adjacency(units, "queen")
        assert isinstance(rook, DualGraph)
        assert (rook.n, rook.m, queen.m) == (9, 12, 20)
        assert rook.names[4] == "r1c1"
        centre_neighbours = {rook.names[v] for u, v in rook.edges if rook.names[u] == "r0c1"}
        assert centre_neighbours == {"r0c2", "r1c1"}

    def test_small_gap_still_rook_within_tolerance(self) -> None:
        """Shrinking every cell by 20 cm leaves 40 cm gaps; a 1 m tolerance bridges them."""
        units = grid_units()
        units = units.set_geometry(units.geometry.buffer(-0.2, join_style="mitre"))
        assert adjacency(units, "rook", tolerance_m=1.0).m == 12
        assert adjacency(units, "queen", tolerance_m=1.0).m == 20
        with pytest.warns(DisconnectedUnitsWarning):
            assert adjacency(units, "rook", tolerance_m=0.0).m == 0

    def test_geographic_layer_gives_same_graph(self) -> None:
        units = grid_units().to_crs("EPSG:4326")
        assert adjacency(units, "rook").m == 12
        assert adjacency(units, "queen").m == 20

    def test_island_reported_and_manual_link_connects_it(self) -> None:
        units = with_island(grid_units())
        with pytest.warns(
            DisconnectedUnitsWarning, match=r"(?s)isle.*manual_links=\[\('r0c2', 'isle'\)"
        ):
            graph = adjacency(units, "rook")
        report = connectivity(graph)
        assert report.islands == ("isle",)
        assert [len(c) for c in report.components] == [9, 1]
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            linked = adjacency(units, "rook", manual_links=[("r0c2", "isle")])
        assert linked.m == 13
        assert connectivity(linked).connected

    def test_population_column_and_coordinates(self) -> None:
        units = grid_units().assign(pop=np.arange(9) * 10)
        graph = adjacency(units, population_column="pop")
        assert graph.population.tolist() == list(range(0, 90, 10))
        assert graph.centroid_lonlat is not None
        assert graph.centroid_lonlat.shape == (9, 2)
        expected = gpd.GeoSeries([Point(500, 500)], crs=UTM_33N).to_crs("EPSG:4326")
        assert graph.centroid_lonlat[0] == pytest.approx([expected.x[0], expected.y[0]])

    def test_join_by_location_with_account_outside(self) -> None:
        units = grid_units()
        accounts = lonlat_of(units, [(500, 500), (2500, 1500), (1500, 2500), (9000, 9000)])
        with pytest.raises(DataValidationError, match=r"1 account\(s\) lie outside.*'a3'"):
            join_accounts(accounts, units, by="location")
        with pytest.warns(UserWarning, match="outside every unit"):
            unit = join_accounts(accounts, units, by="location", outside="drop")
        assert unit.tolist() == ["r0c0", "r1c2", "r2c1", None]

    def test_join_by_unit_id(self) -> None:
        units = grid_units()
        accounts = pd.DataFrame({"account_id": ["a", "b"], "unit_id": ["r0c0", "r2c2"]})
        assert join_accounts(accounts, units).tolist() == ["r0c0", "r2c2"]

    def test_aggregation_sums(self) -> None:
        accounts = pd.DataFrame(
            {
                "potential": [100.0, 50.0, 7.0, 1.0],
                "workload": [10.0, 5.0, 1.0, 2.0],
                "revenue": [20.0, 0.0, 3.0, 4.0],
            }
        )
        unit_of = ["r0c0", "r0c0", "r1c1", None]
        table = aggregate_accounts(accounts, unit_of)
        assert table["unit_id"].tolist() == ["r0c0", "r1c1"]
        assert table["potential"].tolist() == [150.0, 7.0]
        assert table["workload"].tolist() == [15.0, 1.0]
        assert table["n_accounts"].tolist() == [2, 1]
        assert table["revenue"].tolist() == [20.0, 3.0]
        full = aggregate_accounts(accounts, unit_of, unit_ids=grid_units()["unit_id"])
        assert len(full) == 9
        assert full["potential"].sum() == 157.0
        assert full.loc[full["unit_id"] == "r2c2", "n_accounts"].item() == 0

    def test_dissolve_one_polygon_per_rep_area_preserved(self) -> None:
        units = grid_units()
        rep = {u: ("west" if u.endswith("c0") else "east") for u in units["unit_id"]}
        territories = dissolve_territories(units, rep)
        assert territories["rep_id"].tolist() == ["east", "west"]
        assert territories["n_units"].tolist() == [6, 3]
        assert (territories.geom_type == "Polygon").all()
        assert territories.area.sum() == pytest.approx(units.area.sum())
        assert territories.area.tolist() == pytest.approx([6e6, 3e6])

    def test_geojson_written_twice_is_byte_identical(self, tmp_path: Path) -> None:
        units = grid_units()
        rep = {u: f"rep{int(u[1]) % 2}" for u in units["unit_id"]}
        territories = dissolve_territories(units, rep)
        first = write_geojson(territories, tmp_path / "a" / "territories.geojson")
        shuffled = territories.iloc[::-1]
        second = write_geojson(shuffled, tmp_path / "b" / "territories.geojson")
        assert first.read_bytes() == second.read_bytes()
        data = json.loads(first.read_text(encoding="utf-8"))
        assert [f["properties"]["rep_id"] for f in data["features"]] == ["rep0", "rep1"]
        assert data["features"][0]["geometry"]["type"] == "MultiPolygon"
        back = gpd.read_file(first)
        assert back.crs is not None and back.crs.to_epsg() == 4326

    def test_read_units_round_trip(self, tmp_path: Path) -> None:
        path = tmp_path / "units.gpkg"
        grid_units().rename(columns={"unit_id": "zip"}).to_file(path)
        units = read_units(path, "zip")
        assert units.columns[0] == "unit_id"
        assert units["unit_id"].tolist()[:2] == ["r0c0", "r0c1"]
        assert adjacency(units, "queen").m == 20

    def test_read_ready_adjacency_graph(self, tmp_path: Path) -> None:
        path = tmp_path / "graph.json"
        nodes = [{"id": i, "TOTPOP": 10 + i} for i in range(3)]
        adjacency_lists = [[{"id": 1}], [{"id": 0}, {"id": 2}], [{"id": 1}]]
        path.write_text(json.dumps({"nodes": nodes, "adjacency": adjacency_lists}))
        graph = read_adjacency(path)
        assert (graph.n, graph.m) == (3, 2)
        assert graph.population.tolist() == [10, 11, 12]

    def test_coverage_gap_found(self) -> None:
        units = grid_units()
        units = units[units["unit_id"] != "r1c1"]
        gaps = coverage_gaps(units)
        assert len(gaps) == 1
        assert gaps["area_m2"].item() == pytest.approx(1e6)
        assert len(gaps["neighbours"].item()) == 8


class TestErrorsUnits:
    def test_invalid_polygon_names_the_id(self) -> None:
        units = grid_units()
        bowtie = Polygon([(0, 0), (1000, 1000), (1000, 0), (0, 1000)])
        units.loc[units["unit_id"] == "r1c1", "geometry"] = bowtie
        with pytest.raises(DataValidationError, match=r"unit 'r1c1' has an invalid polygon") as err:
            validate_units(units)
        assert "make_valid" in str(err.value) and "buffer(0)" in str(err.value)
        repaired = validate_units(units, repair=True)
        assert repaired.geometry.is_valid.all()

    def test_missing_crs(self) -> None:
        with pytest.raises(DataValidationError, match=r"no coordinate reference.*set_crs\("):
            validate_units(grid_units(crs=None))

    def test_crs_mismatch(self) -> None:
        units = grid_units()
        other = units.to_crs("EPSG:4326")
        with pytest.raises(DataValidationError, match=r"CRS mismatch.*to_crs\(\)"):
            check_same_crs(units, other, "accounts layer")
        check_same_crs(units, units.copy())

    def test_duplicate_missing_ids_and_non_polygons(self) -> None:
        units = grid_units()
        units.loc[1, "unit_id"] = "r0c0"
        units.loc[2, "unit_id"] = None
        units.loc[3, "geometry"] = Point(0, 0)
        units.loc[4, "geometry"] = LineString([(0, 0), (1, 1)])
        with pytest.raises(DataValidationError) as err:
            validate_units(units)
        text = str(err.value)
        assert "4 problem(s)" in text
        assert "occur more than once: 'r0c0'" in text
        assert "have no id (features 3" in text
        assert "are Points, not polygons: 'r1c0'" in text
        assert "are LineStrings, not polygons: 'r1c1'" in text

    def test_missing_id_column_lists_columns(self) -> None:
        with pytest.raises(DataValidationError, match=r"no id column 'zip'.*\['unit_id'\]"):
            validate_units(grid_units(), "zip")

    def test_unit_ids_not_found(self) -> None:
        accounts = pd.DataFrame({"account_id": ["a", "b", "c"], "unit_id": ["r0c0", "x9", None]})
        with pytest.raises(
            DataValidationError, match=r"not found in the unit layer: 'x9'.*'b', 'c'"
        ):
            join_accounts(accounts, grid_units())

    def test_disconnected_can_raise_and_unknown_manual_link(self) -> None:
        units = with_island(grid_units())
        with pytest.raises(DataValidationError, match=r"islands: 'isle'.*manual_links"):
            adjacency(units, on_disconnected="raise")
        with pytest.raises(DataValidationError, match=r"not found in the unit layer: 'nowhere'"):
            adjacency(units, manual_links=[("isle", "nowhere")], on_disconnected="ignore")

    def test_dissolve_needs_every_unit(self) -> None:
        units = grid_units()
        with pytest.raises(DataValidationError, match=r"(?s)8 unit\(s\) have no rep.*'ghost'"):
            dissolve_territories(units, {"r0c0": "a", "ghost": "b"})

    def test_read_units_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(DataValidationError, match="file not found"):
            read_units(tmp_path / "nope.geojson", "zip")


def test_shapely_box_grid_is_valid() -> None:
    assert shapely.is_valid(grid_units().geometry.to_numpy()).all()


def test_location_join_snaps_points_just_outside() -> None:
    """A point 300 m east of the grid joins the nearest cell with snap_km, not without."""
    units = grid_units(1, 2)
    accounts = lonlat_of(units, [(500.0, 500.0), (2300.0, 500.0)])
    with pytest.raises(DataValidationError, match="outside every unit"):
        join_accounts(accounts, units, by="location")
    assert join_accounts(accounts, units, by="location", snap_km=0.5).tolist() == ["r0c0", "r0c1"]
    with pytest.raises(DataValidationError):
        join_accounts(accounts, units, by="location", snap_km=0.2)
