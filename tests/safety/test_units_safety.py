"""Unit layers: swapped or non-degree coordinates are named errors, overlaps are a warning, and no
pyproj or shapely exception escapes for a bad file."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj.exceptions import CRSError
from shapely.geometry import box
from typer.testing import CliRunner

import territory.io.unit_layers as units_module
from cli import EXIT_BAD_INPUT, app
from territory.errors import DataValidationError
from territory.io.units import (
    OverlappingUnitsWarning,
    adjacency,
    read_units,
    unit_overlaps,
    validate_units,
)

runner = CliRunner()
STEP = 0.5  # degrees per grid cell


def degree_grid(lon0: float = -120.0, lat0: float = 35.0, n: int = 3) -> gpd.GeoDataFrame:
    """n x n cells of STEP degrees in WGS84, ids ``u<row><col>``."""
    cells, ids = [], []
    for r in range(n):
        for c in range(n):
            x, y = lon0 + c * STEP, lat0 + r * STEP
            cells.append(box(x, y, x + STEP, y + STEP))
            ids.append(f"u{r}{c}")
    return gpd.GeoDataFrame({"unit_id": ids}, geometry=cells, crs="EPSG:4326")


def swapped(layer: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The same layer stored latitude first, as some exports do."""
    return layer.set_geometry(shapely.transform(layer.geometry.values, lambda xy: xy[:, ::-1]))


def _save(layer: gpd.GeoDataFrame, path: Path) -> Path:
    layer.to_file(path, driver="GeoJSON")
    return path


def _tables(folder: Path, lon0: float = -120.0, lat0: float = 35.0) -> tuple[Path, Path]:
    rng = np.random.default_rng(3)
    n = 36
    accounts = pd.DataFrame(
        {
            "account_id": [f"A{i:03d}" for i in range(n)],
            "lat": lat0 + 0.05 + rng.random(n) * (3 * STEP - 0.1),
            "lon": lon0 + 0.05 + rng.random(n) * (3 * STEP - 0.1),
            "potential": rng.uniform(1e4, 2e4, n).round(2),
            "workload": rng.uniform(10, 20, n).round(1),
        }
    )
    reps = pd.DataFrame(
        {
            "rep_id": ["R1", "R2", "R3"],
            "lat": [lat0 + 0.3, lat0 + 0.8, lat0 + 1.3],
            "lon": [lon0 + 0.3, lon0 + 0.8, lon0 + 1.3],
            "capacity": [400.0, 400.0, 400.0],
        }
    )
    accounts.to_csv(folder / "accounts.csv", index=False)
    reps.to_csv(folder / "reps.csv", index=False)
    return folder / "accounts.csv", folder / "reps.csv"


def _align(accounts: Path, reps: Path, layer: Path, out: Path) -> object:
    return runner.invoke(
        app,
        ["align", "--accounts", str(accounts), "--reps", str(reps), "--units", str(layer),
         "--out", str(out), "--quiet", "--solver", "heuristic", "--soft", "--time-limit", "10"],
    )  # fmt: skip


def _refused(result: object, out: Path) -> str:
    assert result.exit_code == EXIT_BAD_INPUT, result.output  # type: ignore[attr-defined]
    assert isinstance(result.exception, SystemExit)  # type: ignore[attr-defined]
    text = str(result.output)  # type: ignore[attr-defined]
    assert "Traceback" not in text and "CRSError" not in text
    assert not out.exists()
    return " ".join(text.split())


class TestSwappedCoordinates:
    def test_latitude_beyond_90_says_swapped_and_how_to_fix(self, tmp_path: Path) -> None:
        path = _save(swapped(degree_grid()), tmp_path / "zips.geojson")
        with pytest.raises(DataValidationError) as exc:
            read_units(path, "unit_id")
        (problem,) = exc.value.problems
        assert problem.source == str(path) and problem.column == "geometry"
        assert "coordinates look swapped" in problem.message
        assert "y runs -120..-118.5" in problem.message
        assert "longitude first" in problem.fix

    def test_metres_labelled_as_degrees(self) -> None:
        layer = degree_grid().to_crs("EPSG:32611").set_crs("EPSG:4326", allow_override=True)
        with pytest.raises(DataValidationError, match=r"coordinates are not degrees.*projected"):
            validate_units(layer)

    def test_a_correct_layer_passes(self) -> None:
        assert len(validate_units(degree_grid())) == 9

    def test_cli_align_exit_2(self, tmp_path: Path) -> None:
        accounts, reps = _tables(tmp_path)
        layer = _save(swapped(degree_grid()), tmp_path / "zips.geojson")
        out = tmp_path / "out"
        message = _refused(_align(accounts, reps, layer, out), out)
        assert f"{layer}, column 'geometry'" in message and "look swapped" in message

    def test_cli_design_exit_2(self, tmp_path: Path) -> None:
        layer = _save(swapped(degree_grid()), tmp_path / "zips.geojson")
        out = tmp_path / "out"
        result = runner.invoke(
            app, ["design", "--units", str(layer), "--k", "2", "--out", str(out), "--quiet"]
        )
        assert "look swapped" in _refused(result, out)

    def test_swap_within_range_is_named_when_no_account_fits(self, tmp_path: Path) -> None:
        # Eastern US: swapped, y stays within ±90, so only the accounts can tell.
        accounts, reps = _tables(tmp_path, lon0=-75.0, lat0=40.0)
        layer = _save(swapped(degree_grid(-75.0, 40.0)), tmp_path / "zips.geojson")
        out = tmp_path / "out"
        message = _refused(_align(accounts, reps, layer, out), out)
        assert "lie outside every unit" in message
        assert "unit layer's coordinates look swapped" in message

    def test_projection_errors_become_named_errors(self) -> None:
        # adjacency() on a layer that skipped validation: pyproj would raise a CRSError.
        with pytest.raises(DataValidationError, match="cannot be projected"):
            adjacency(swapped(degree_grid()))

    def test_library_exceptions_from_a_bad_file_are_named(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        path = _save(degree_grid(), tmp_path / "zips.geojson")

        def broken(*_: object, **__: object) -> gpd.GeoDataFrame:
            raise CRSError("Invalid projection: +proj=nonsense")

        monkeypatch.setattr(units_module, "validate_units", broken)
        with pytest.raises(DataValidationError) as exc:
            read_units(path, "unit_id")
        (problem,) = exc.value.problems
        assert problem.source == str(path) and "CRSError" in problem.message

    def test_damaged_file_is_named(self, tmp_path: Path) -> None:
        path = tmp_path / "zips.geojson"
        path.write_text('{"type": "FeatureCollection", "features": [{"type": "Feat')
        with pytest.raises(DataValidationError, match="cannot read the unit layer"):
            read_units(path, "unit_id")


class TestOverlaps:
    def test_touching_units_do_not_warn(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("error", OverlappingUnitsWarning)
            validate_units(degree_grid())
        assert unit_overlaps(degree_grid()) == []

    def test_warning_counts_pairs_and_area(self) -> None:
        utm = degree_grid().to_crs("EPSG:32611")
        layer = gpd.GeoDataFrame(
            {"unit_id": ["a", "b", "c", "d"]},
            geometry=[box(0, 0, 1000, 1000), box(500, 0, 1500, 1000),  # 0.5 km² shared
                      box(3000, 0, 4000, 1000), box(3000, 0, 4000, 1000)],  # a duplicate: 1 km²
            crs=utm.crs,
        )  # fmt: skip
        assert unit_overlaps(layer) == [
            ("c", "d", pytest.approx(1.0)),
            ("a", "b", pytest.approx(0.5)),
        ]
        with pytest.warns(OverlappingUnitsWarning) as record:
            validate_units(layer, source="zips.gpkg")
        message = str(record[0].message)
        assert "zips.gpkg: 2 pair(s) of units overlap, 1.5 km² in all" in message
        assert "'c' and 'd': 1 km²" in message and "'a' and 'b': 0.5 km²" in message

    def test_area_is_measured_in_km2_for_degree_layers(self) -> None:
        layer = degree_grid()
        shifted = layer.geometry.iloc[1]
        layer.loc[1, "geometry"] = shapely.affinity.translate(shifted, xoff=-STEP / 2)
        ((a, b, km2),) = [o for o in unit_overlaps(layer) if {o[0], o[1]} == {"u00", "u01"}]
        expected = degree_grid().iloc[[0]].to_crs("EPSG:32611").area.item() / 2 / 1e6
        assert km2 == pytest.approx(expected, rel=0.01)

    def test_cli_prints_the_warning_and_still_runs(self, tmp_path: Path) -> None:
        accounts, reps = _tables(tmp_path)
        layer = degree_grid()
        layer.loc[1, "geometry"] = shapely.affinity.translate(
            layer.geometry.iloc[1], xoff=-STEP / 4
        )
        path = _save(layer, tmp_path / "zips.geojson")
        out = tmp_path / "out"
        with pytest.warns(OverlappingUnitsWarning, match=r"1 pair\(s\) of units overlap"):
            result = _align(accounts, reps, path, out)
        assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
        assert (out / "territories.geojson").exists()
