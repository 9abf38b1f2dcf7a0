"""The report map shades territory polygons when the run folder has ``territories.geojson``."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.path import Path as MplPath
from typer.testing import CliRunner

import territory.rendering.compare.maps as compare_maps
from territory.io.runs import load_plan
from territory.rendering.report import (
    NO_REP_COLOUR,
    TERRITORY_SHAPES,
    _map_data,
    _map_figure,
    _padded_box,
    collect_report_inputs,
    map_chart,
    render_report,
    territory_shapes,
)
from tests.commands import align_args, invoke, write_tables
from tests.instances import four_quadrants, square_grid

runner = CliRunner()
N_REPS = 4


def _grid_run(folder: Path, name: str = "plan") -> Path:
    """A 4 x 4 grid of 1-degree squares aligned by ``territory align --units`` to 4 reps."""
    layer = square_grid(4, 4, size=1.0, west=-100.0, south=38.0)
    layer.to_file(folder / "units.geojson", driver="GeoJSON")
    write_tables(folder, *four_quadrants(160))
    out = folder / name
    done = invoke(
        align_args(
            folder, out, "--soft", "--solver", "heuristic",
            "--units", str(folder / "units.geojson"),
        )
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    return out


@pytest.fixture(scope="module")
def grid_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _grid_run(tmp_path_factory.mktemp("report-units"))


def _signed_area(ring: Any) -> float:
    """Shoelace area: positive when the ring runs anticlockwise."""
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def _territory_patches(figure: Any) -> list[Any]:
    (ax,) = figure.axes
    return [p for p in ax.patches if str(p.get_gid() or "").startswith("territory:")]


def test_map_draws_one_patch_per_territory_in_its_rep_colour(grid_run: Path) -> None:
    run = load_plan(grid_run)
    data = _map_data(run)
    n_shapes = len(json.loads((grid_run / TERRITORY_SHAPES).read_text())["features"])
    assert len(data.territories) == n_shapes >= 2
    rep_ids = run.reps["rep_id"].astype(str).tolist()
    for shape in data.territories:
        assert shape.rep_id in rep_ids
        # Same colour as the rep's home base (and so its accounts).
        assert shape.colour == data.home_colour[rep_ids.index(shape.rep_id)]
    whole = _padded_box(data.lon, data.lat, data.cos_lat)
    figure = _map_figure(data, whole, "t", "s", labelled=False, frames=[])
    patches = _territory_patches(figure)
    assert len(patches) == n_shapes
    dots = [c.get_zorder() for c in figure.axes[0].collections]
    assert all(p.get_zorder() < min(dots) for p in patches), "polygons go under the dots"
    assert all(p.get_edgecolor()[3] > 0 for p in patches), "polygons have outlines"
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert any("units dissolved" in text for text in legend)


def test_report_caption_says_the_polygons_are_dissolved_units(grid_run: Path) -> None:
    html = render_report(**collect_report_inputs(grid_run))
    match = re.search(r'<section id="map">(.*?)</section>', html, re.S)
    assert match is not None
    assert "dissolved into one shape" in match.group(1)
    assert 'alt="Map of territory polygons and accounts, coloured by rep"' in match.group(1)


def test_without_the_geojson_the_areas_come_from_the_accounts(
    grid_run: Path, tmp_path: Path
) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    for item in grid_run.iterdir():
        if item.name != TERRITORY_SHAPES:
            (bare / item.name).write_bytes(item.read_bytes())
    run = load_plan(bare)
    data = _map_data(run)
    assert data.derived
    assert {s.rep_id for s in data.territories} == set(run.rep_of_account.astype(str))
    figure = _map_figure(
        data, _padded_box(data.lon, data.lat, data.cos_lat), "t", "s", labelled=False, frames=[]
    )
    assert len(_territory_patches(figure)) == len(data.territories)
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert "Territory: the area nearest its accounts" in legend
    html = render_report(**collect_report_inputs(bare))
    assert "dissolved into one shape" not in html
    assert "the rep of the nearest account" in html


def test_holes_stay_holes_and_unknown_reps_are_grey(tmp_path: Path) -> None:
    square = [[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0], [0.0, 0.0]]
    hole = [[1.0, 1.0], [2.0, 1.0], [2.0, 2.0], [1.0, 2.0], [1.0, 1.0]]
    features = [
        {
            "type": "Feature",
            "properties": {"rep_id": "R1"},
            "geometry": {"type": "Polygon", "coordinates": [square, hole]},
        },
        {
            "type": "Feature",
            "properties": {"rep_id": "ghost"},
            "geometry": {"type": "MultiPolygon", "coordinates": [[square], [square]]},
        },
        {"type": "Feature", "properties": {"rep_id": "R2"}, "geometry": None},
    ]
    doc = {"type": "FeatureCollection", "features": features}
    (tmp_path / TERRITORY_SHAPES).write_text(json.dumps(doc), encoding="utf-8")
    shapes = territory_shapes(tmp_path, {"R1": "#123456"})
    assert [s.rep_id for s in shapes] == ["R1", "ghost"]
    assert shapes[0].colour == "#123456" and shapes[1].colour == NO_REP_COLOUR
    # Agg fills by non-zero winding: the hole (given anticlockwise, like its exterior) must be
    # turned to run against the exterior, or it would be painted over.
    starts = np.flatnonzero(shapes[0].codes == MplPath.MOVETO).tolist() + [len(shapes[0].codes)]
    areas = [_signed_area(shapes[0].vertices[a:b]) for a, b in itertools.pairwise(starts)]
    assert areas[0] > 0 > areas[1]
    assert int((shapes[1].codes == MplPath.MOVETO).sum()) == 2


def test_comparison_maps_shade_territories_too(
    grid_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []

    def fake_panel(data: Any, *args: Any, **kwargs: Any) -> bytes:
        seen.append(len(data.territories))
        return b""

    monkeypatch.setattr(compare_maps, "_map_panel", fake_panel)
    run = load_plan(grid_run)
    compare_maps.comparison_maps([run, run], ["a", "b"])
    assert seen == [len(_map_data(run).territories)] * 2 and seen[0] > 0


def test_map_with_territories_is_deterministic(grid_run: Path) -> None:
    run = load_plan(grid_run)
    assert map_chart(run) == map_chart(run)
