"""Design mode against rep capacity, unmatched reps, the design report and the maps' basemap.

A small design on a grid of units in northern New Jersey (inside the shipped Census counties,
so the basemap has something to draw); reps whose capacity is far below an equal share.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli import app
from territory.domain.matching import CapacityLimitError, match_reps, suggest_k
from territory.io.runs import load_plan
from territory.rendering.report import _map_data, _map_figure, _padded_box, map_charts
from territory.rendering.report.basemap import (
    Basemap,
    account_territories,
    draw_basemap,
    load_basemap,
)
from territory.rendering.report.design_page import (
    DESIGN_SECTION_IDS,
    design_maps,
    is_design_folder,
    load_design,
)
from tests.browser import find_chromium, inspect_page
from tests.commands import run_territory
from tests.instances import scattered_accounts, square_grid

runner = CliRunner()
WEST, SOUTH = -74.6, 40.5
CAPACITY = [900.0, 800.0, 700.0, 600.0, 600.0]


def _inputs(folder: Path) -> Path:
    rng = np.random.default_rng(4)
    layer = square_grid(6, 6, size=0.1, west=WEST, south=SOUTH)
    layer.to_file(folder / "units.geojson", driver="GeoJSON")
    accounts = scattered_accounts(
        rng, 300, (SOUTH + 0.01, SOUTH + 0.59), (WEST + 0.01, WEST + 0.59)
    )
    accounts["current_rep"] = rng.choice(["R1", "R2", "R3"], len(accounts))
    reps = pd.DataFrame(
        {
            "rep_id": [f"R{i}" for i in range(1, 6)],
            "name": ["Ada", "Ben", "Cy", "Dee", "Eve"],
            "lat": SOUTH + np.array([0.1, 0.5, 0.3, 0.2, 0.4]),
            "lon": WEST + np.array([0.1, 0.5, 0.3, 0.4, 0.2]),
            "capacity": CAPACITY,
            "tier": ["A", "B", "C", "B", "A"],
        }
    )
    accounts.to_csv(folder / "accounts.csv", index=False)
    reps.to_csv(folder / "reps.csv", index=False)
    return folder


def _design_args(folder: Path, out: Path, *extra: str) -> list[str]:
    return [
        "design", "--units", str(folder / "units.geojson"), "--k", "3",
        "--accounts", str(folder / "accounts.csv"), "--reps", str(folder / "reps.csv"),
        "--out", str(out), "--balance", "0.1", "--method", "heuristic", "--time-limit", "30",
        *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def design_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = _inputs(tmp_path_factory.mktemp("design-report"))
    out = folder / "design"
    done = runner.invoke(app, _design_args(folder, out))
    assert done.exit_code == 0, done.output
    return out, done.output


# --------------------------------------------------------------------------- capacity


def test_design_warns_per_territory_and_suggests_k(design_run: tuple[Path, str]) -> None:
    out, console = design_run
    territories = pd.read_csv(out / "territories.csv")
    assert {"rep_capacity_h", "load"} <= set(territories.columns)
    expected = territories["workload_h"] / territories["rep_capacity_h"]
    assert np.allclose(territories["load"], expected)
    assert (territories["load"] > 1.0).all(), "3 territories of ~1000 h for reps of <= 900 h"
    summary = json.loads((out / "design.json").read_text())
    cap = summary["capacity"]
    assert len(cap["overloaded"]) == 3
    assert cap["suggested_k"] == suggest_k(territories["workload_h"].sum(), np.array(CAPACITY))
    text = " ".join(console.split())
    assert "3 of 3 territories carry more workload than 1.00x" in text
    for row in cap["overloaded"]:
        assert f"{row['territory_id']} ({row['rep_id']}): {row['workload_h']:,.0f} h" in text
    if cap["suggested_k"] is not None:
        assert f"--k {cap['suggested_k']}" in text
    else:
        assert "more reps are needed" in text


def test_unmatched_reps_are_listed_in_console_and_file(design_run: tuple[Path, str]) -> None:
    out, console = design_run
    summary = json.loads((out / "design.json").read_text())
    idle = summary["matching"]["unassigned_reps"]
    assert len(idle) == 2
    unmatched = pd.read_csv(out / "unmatched_reps.csv")
    assert unmatched["rep_id"].tolist() == idle
    assert {"name", "capacity", "reason"} <= set(unmatched.columns)
    assert unmatched["reason"].str.contains("5 reps for 3 territories").all()
    matched = set(pd.read_csv(out / "territories.csv")["rep_id"])
    assert not matched & set(idle)
    text = " ".join(console.split())
    assert "reps matched: 3 of 5" in text
    assert f"reps without a territory: 2 of 5 ({', '.join(idle)})" in text


def test_max_load_refuses_before_designing_and_names_a_k(tmp_path: Path) -> None:
    folder = _inputs(tmp_path)
    out = tmp_path / "strict"
    done = runner.invoke(app, _design_args(folder, out, "--max-load", "1.1"))
    assert done.exit_code == 3, done.output
    text = " ".join(done.output.split())
    assert "need 3 reps with" in text and "--max-load 1.1" in text
    assert "Traceback" not in done.output and not out.exists()


def test_max_load_is_a_rule_of_the_matching() -> None:
    territories = pd.DataFrame(
        {"territory_id": ["T1", "T2"], "potential": [10.0, 10.0], "workload": [1000.0, 500.0],
         "centre_lat": [50.0, 50.0], "centre_lon": [10.0, 10.1]}
    )  # fmt: skip
    reps = pd.DataFrame(
        {"rep_id": ["big", "small"], "lat": [50.0, 50.0], "lon": [10.1, 10.0],
         "capacity": [1000.0, 500.0], "tier": ["C", "A"]}
    )  # fmt: skip
    # Unconstrained, talent and travel put the A-player on T1 at twice their capacity.
    free = match_reps(territories, reps)
    assert free.assignment == {"T1": "small", "T2": "big"}
    assert free.table.set_index("territory_id")["load"]["T1"] == pytest.approx(2.0)
    ruled = match_reps(territories, reps, max_load=1.0)
    assert ruled.assignment == {"T1": "big", "T2": "small"}
    assert (ruled.table["load"] <= 1.0 + 1e-9).all()
    with pytest.raises(CapacityLimitError) as caught:
        match_reps(territories, reps, max_load=0.9)
    assert caught.value.reasons[0].subject == "territory T1"
    vacant = match_reps(territories, reps, max_load=0.9, allow_vacant=True)
    assert "T1" in vacant.vacant


@settings(max_examples=60, deadline=None)
@given(
    total=st.floats(100.0, 1e5),
    capacity=st.lists(st.floats(10.0, 5000.0), min_size=1, max_size=40),
    max_load=st.floats(0.5, 2.0),
)
def test_suggest_k_is_the_smallest_k_that_fits(
    total: float, capacity: list[float], max_load: float
) -> None:
    cap = np.sort(np.array(capacity))[::-1]
    k = suggest_k(total, cap, max_load)
    fits = [cap[j - 1] * max_load * (1 + 1e-9) >= total / j for j in range(1, cap.size + 1)]
    if k is None:
        assert not any(fits)
    else:
        assert fits[k - 1] and not any(fits[: k - 1])


# --------------------------------------------------------------------------- design report


@pytest.fixture(scope="module")
def design_html(design_run: tuple[Path, str]) -> str:
    out, _ = design_run
    done = runner.invoke(app, ["report", "--plan", str(out)])
    assert done.exit_code == 0, done.output
    return (out / "report.html").read_text(encoding="utf-8")


def test_report_on_a_design_folder_shows_its_sections(
    design_run: tuple[Path, str], design_html: str
) -> None:
    out, _ = design_run
    assert is_design_folder(out)
    found = re.findall(r'<section id="([a-z-]+)"', design_html)
    assert tuple(found) == DESIGN_SECTION_IDS
    reps = re.search(r'<section id="reps">(.*?)</section>', design_html, re.S)
    assert reps is not None
    idle = pd.read_csv(out / "unmatched_reps.csv")
    assert "Without a territory: 2 of 5 reps" in reps.group(1)
    for name in idle["name"]:
        assert f'<td class="name">{name}</td>' in reps.group(1)
    capacity = re.search(r'<section id="capacity">(.*?)</section>', design_html, re.S)
    assert capacity is not None and 'id="capacity-chart"' in capacity.group(1)
    assert "3 of 3 territories carry more than 1x" in capacity.group(1)
    assert 'id="map-image"' in design_html


def test_design_report_is_byte_identical_on_rerun(design_run: tuple[Path, str]) -> None:
    out, _ = design_run
    design = load_design(out)
    assert design_maps(design) == design_maps(design)
    first = run_territory("report", "--plan", str(out), "--out", str(out / "again.html"))
    assert first.returncode == 0, first.stderr
    assert (out / "again.html").read_bytes() == (out / "report.html").read_bytes()


def test_design_report_in_a_browser(
    design_run: tuple[Path, str], design_html: str, tmp_path: Path
) -> None:
    if find_chromium() is None:
        pytest.skip("no Chromium (make chromium installs it)")
    out, _ = design_run
    shot = Path(os.environ.get("TERRITORY_SCREENSHOTS", tmp_path)) / "design_report.png"
    page = inspect_page(
        out / "report.html",
        screenshot=shot,
        expressions={
            "sections": "[...document.querySelectorAll('section')].map(s => s.id)",
            "broken": "[...document.images].filter(i => !i.naturalWidth).length",
            "map": "document.querySelector('#map-image img').naturalWidth",
        },
    )
    assert page.console_errors == [] and page.external_requests == []
    assert page.values["sections"] == list(DESIGN_SECTION_IDS)
    assert page.values["broken"] == 0 and page.values["map"] > 600


# --------------------------------------------------------------------------- basemap


def test_basemap_dissolves_counties_into_states() -> None:
    base = load_basemap()
    assert base and len(base.counties) > 100
    assert {s.key for s in base.states} >= {"NJ", "NY", "PA"}
    assert base.land is not None and base.land.contains(shapely.Point(-74.3, 40.8))


def _gids(figure: Any) -> set[str]:
    return {str(c.get_gid()) for c in figure.axes[0].collections if c.get_gid()}


def test_account_map_draws_basemap_and_derived_territories(tmp_path: Path) -> None:
    folder = _inputs(tmp_path)
    out = tmp_path / "aligned"
    done = runner.invoke(
        app,
        ["align", "--accounts", str(folder / "accounts.csv"), "--reps", str(folder / "reps.csv"),
         "--out", str(out), "--quiet", "--solver", "heuristic"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    data = _map_data(load_plan(out))
    assert data.derived and len(data.territories) == 5
    box = _padded_box(data.lon, data.lat, data.cos_lat)
    figure = _map_figure(data, box, "t", "s", labelled=True, frames=[])
    assert {"basemap:counties", "basemap:states"} <= _gids(figure)
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert "County line" in legend and "State line" in legend
    assert any("nearest its accounts" in t for t in legend)
    # The basemap changes the picture, and the picture is the same on every run.
    charts = map_charts(load_plan(out))
    assert charts == map_charts(load_plan(out))


def test_no_basemap_outside_the_shipped_counties() -> None:
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    assert draw_basemap(ax, (10.0, 50.0, 11.0, 51.0)) == 0
    assert draw_basemap(ax, (10.0, 50.0, 11.0, 51.0), Basemap((), (), None)) == 0
    assert draw_basemap(ax, (-74.6, 40.5, -74.0, 41.1)) > 0


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), owners=st.integers(2, 6))
def test_derived_territories_do_not_overlap_and_hold_their_accounts(seed: int, owners: int) -> None:
    rng = np.random.default_rng(seed)
    n = 80
    lon, lat = rng.uniform(-75, -74, n), rng.uniform(40.5, 41.2, n)
    owner = rng.integers(0, owners, n).astype(np.int64)
    keys = [f"R{i}" for i in range(owners)]
    shapes = account_territories(lon, lat, owner, keys, 0.76)
    assert {s.key for s in shapes} == {keys[k] for k in np.unique(owner).tolist()}
    probe = np.column_stack([rng.uniform(-75, -74, 4000), rng.uniform(40.5, 41.2, 4000)])
    covered = np.sum([_inside_rings(s, probe) for s in shapes], axis=0)
    assert (covered > 1).mean() < 0.002, "areas overlap only along shared borders"
    by_key = {s.key: s for s in shapes}
    for k, key in enumerate(keys):
        mine = owner == k
        if mine.any():
            inside = _inside_rings(by_key[key], np.column_stack([lon[mine], lat[mine]]))
            assert inside.mean() > 0.9


def _inside_rings(shape: Any, points: Any) -> Any:
    """Even-odd point-in-shape over the shape's rings (a hole flips its exterior back)."""
    from matplotlib.path import Path as MplPath

    starts = [*np.flatnonzero(shape.codes == MplPath.MOVETO).tolist(), len(shape.codes)]
    count = np.zeros(len(points), dtype=int)
    for a, b in zip(starts[:-1], starts[1:], strict=True):
        count += MplPath(shape.vertices[a:b]).contains_points(points)
    return count % 2 == 1


def test_report_on_a_design_without_reps(tmp_path: Path) -> None:
    folder = _inputs(tmp_path)
    out = tmp_path / "no-reps"
    args = [a for a in _design_args(folder, out) if a != str(folder / "reps.csv")]
    args.remove("--reps")
    done = runner.invoke(app, [*args, "--format", "parquet", "--quiet"])
    assert done.exit_code == 0, done.output
    assert not (out / "unmatched_reps.parquet").exists()
    done = runner.invoke(app, ["report", "--plan", str(out)])
    assert done.exit_code == 0, done.output
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "No reps were matched" in html and "Reps matched" not in html
    assert "workload cannot be set against capacity" in html
    labels = load_design(out)
    assert labels.matching is None and len(labels.territories) == 3


def test_max_load_without_capacities_is_bad_input(tmp_path: Path) -> None:
    folder = _inputs(tmp_path)
    reps = pd.read_csv(folder / "reps.csv").drop(columns=["capacity"])
    reps.to_csv(folder / "reps.csv", index=False)
    out = tmp_path / "no-capacity"
    done = runner.invoke(app, _design_args(folder, out, "--max-load", "1.0"))
    assert done.exit_code == 2, done.output
    assert "capacity" in done.output and "Traceback" not in done.output
    assert not out.exists()
