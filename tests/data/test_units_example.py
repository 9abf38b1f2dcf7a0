"""The shipped unit layers (data/units, built by data/make_units.py) work with
territory.io.units."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from territory.io.units import (
    DisconnectedUnitsWarning,
    adjacency,
    connectivity,
    join_accounts,
    read_units,
)

DATA = Path(__file__).resolve().parents[2] / "data"
UNITS = DATA / "units"
LAYERS = ("demo_zips", "ne_counties")
STATES = {"CT", "MA", "NJ", "NY", "PA"}


@pytest.fixture(scope="module", params=LAYERS)
def layer(request: pytest.FixtureRequest) -> tuple[str, gpd.GeoDataFrame]:
    name = str(request.param)
    return name, read_units(UNITS / f"{name}.geojson", "unit_id")


@pytest.fixture(scope="module")
def accounts() -> pd.DataFrame:
    return pd.read_csv(DATA / "demo" / "accounts.csv", dtype={"unit_id": str})


def _links(name: str) -> list[tuple[str, str]]:
    doc = json.loads((UNITS / f"{name}.links.json").read_text(encoding="utf-8"))
    return [(str(a), str(b)) for a, b in doc["manual_links"]]


def test_layers_load_valid_with_unique_ids(layer: tuple[str, gpd.GeoDataFrame]) -> None:
    name, units = layer
    assert units.crs is not None and units.crs.to_epsg() == 4326
    assert units["unit_id"].is_unique
    assert units["unit_id"].str.fullmatch(r"\d{5}").all()
    assert units.geometry.is_valid.all() and not units.geometry.is_empty.any()
    assert set(units["state"]) == STATES
    assert list(units["unit_id"]) == sorted(units["unit_id"]), "files are sorted by unit_id"
    assert (UNITS / f"{name}.geojson").stat().st_size < 3_000_000


def test_every_demo_account_joins_a_zip_unit(accounts: pd.DataFrame) -> None:
    units = read_units(UNITS / "demo_zips.geojson", "unit_id")
    assert set(units["unit_id"]) == set(accounts["unit_id"])
    joined = join_accounts(accounts, units)
    assert joined.notna().all()


def test_counties_cover_the_demo_accounts(accounts: pd.DataFrame) -> None:
    units = read_units(UNITS / "ne_counties.geojson", "unit_id")
    assert len(units) == 172  # CT 8 + MA 14 + NJ 21 + NY 62 + PA 67
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the warning lists the dropped accounts
        joined = join_accounts(accounts, units, by="location", outside="drop")
    # Accounts are jittered ~2 km around their ZIP centroid; a few land in water off the coast.
    assert joined.notna().mean() > 0.98


def test_rook_graph_is_connected_with_the_shipped_links(
    layer: tuple[str, gpd.GeoDataFrame],
) -> None:
    name, units = layer
    with warnings.catch_warnings():
        warnings.simplefilter("error", DisconnectedUnitsWarning)
        graph = adjacency(units, "rook", _links(name))
    assert graph.n == len(units) and graph.m >= len(units) - 1
    assert connectivity(graph).connected


def test_county_islands_are_the_ones_the_links_close() -> None:
    units = read_units(UNITS / "ne_counties.geojson", "unit_id")
    report = connectivity(adjacency(units, "rook", on_disconnected="ignore"))
    # Dukes (Martha's Vineyard) and Nantucket, linked to Barnstable (Cape Cod) by ferry.
    assert set(report.islands) == {"25007", "25019"}
    assert _links("ne_counties") == [("25001", "25007"), ("25001", "25019")]
