"""Hand-drawn instances shared by several test modules (numbers worked out where they are used)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import box

from territory.domain.synthetic import make_instance

EVIL = '<script>alert("pwned")</script> & <img src=x onerror=alert(1)>'
"""A name that must reach every page as text, never as markup."""

ASSIGNMENT_COLUMNS = [
    "account_id",
    "rep_id",
    "previous_rep",
    "moved",
    "distance_km",
    "potential",
    "workload",
]
"""The columns of ``assignments.csv`` (and of :func:`territory.domain.metrics.assignment_table`)."""

BIG_MIN_BALANCE = 600 * 3000 / (1000 * 1150) - 1  # 0.5652...
"""Smallest potential tolerance at which BIG fits the A rep of :func:`big_account`."""

PROPORTIONAL_MIN_BALANCE = 0.15 / 1.85  # 0.08108...
"""Smallest tolerance any plan of :func:`proportional` can meet (tiers A and C)."""


def six_on_a_line() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Six equal accounts on the equator, two near each of three reps at 0, 10 and 20 degrees.

    Every rep can hold exactly its two nearest accounts: a perfectly balanced plan exists.
    """
    accounts = pd.DataFrame(
        {
            "account_id": [f"a{i}" for i in range(6)],
            "lat": [0.0] * 6,
            "lon": [1.0, 2.0, 9.0, 11.0, 18.0, 19.0],
            "potential": [100.0] * 6,
            "workload": [10.0] * 6,
        }
    )
    reps = pd.DataFrame(
        {
            "rep_id": ["R0", "R1", "R2"],
            "lat": [0.0] * 3,
            "lon": [0.0, 10.0, 20.0],
            "capacity": [1000.0] * 3,
        }
    )
    return accounts, reps


def big_account() -> tuple[pd.DataFrame, pd.DataFrame]:
    """One account (BIG) holds 600 of 1,000 potential; three reps on a line, tiers A, B, C.

    Potential targets are 1000 x (1.15, 1.0, 0.85) / 3; BIG alone is above every one of them.
    """
    accounts = pd.DataFrame(
        {
            "account_id": ["BIG", "s1", "s2", "s3", "s4"],
            "lat": [0.0] * 5,
            "lon": [1.0, 9.0, 11.0, 18.0, 19.0],
            "potential": [600.0, 100.0, 100.0, 100.0, 100.0],
            "workload": [30.0, 15.0, 15.0, 15.0, 15.0],
        }
    )
    reps = pd.DataFrame(
        {
            "rep_id": ["R0A", "R1B", "R2C"],
            "lat": [0.0] * 3,
            "lon": [0.0, 10.0, 20.0],
            "capacity": [1000.0] * 3,
            "tier": ["A", "B", "C"],
        }
    )
    return accounts, reps


def proportional() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Potential is exactly 1,000 x workload, so one split cannot meet both tier targets.

    An A rep wants 1.15 / 2 of the potential and a C rep 0.85 / 2, but both want half the
    workload: the best plan misses each by 0.15 / 1.85.
    """
    n = 20
    workload = 10.0 + np.arange(n, dtype=np.float64)
    accounts = pd.DataFrame(
        {
            "account_id": [f"p{i:02d}" for i in range(n)],
            "lat": np.linspace(0.0, 1.0, n),
            "lon": np.linspace(0.0, 1.0, n),
            "potential": 1000.0 * workload,
            "workload": workload,
        }
    )
    reps = pd.DataFrame(
        {
            "rep_id": ["RA", "RC"],
            "lat": [0.0, 1.0],
            "lon": [0.0, 1.0],
            "capacity": [1000.0, 1000.0],
            "tier": ["A", "C"],
        }
    )
    return accounts, reps


def scattered_accounts(
    rng: np.random.Generator, n: int, lat: tuple[float, float], lon: tuple[float, float]
) -> pd.DataFrame:
    """``n`` accounts A000, A001, ... uniform in a lat/lon box; potential 50-150, workload 5-15."""
    return pd.DataFrame(
        {
            "account_id": [f"A{i:03d}" for i in range(n)],
            "lat": rng.uniform(*lat, n),
            "lon": rng.uniform(*lon, n),
            "potential": rng.uniform(50, 150, n).round(2),
            "workload": rng.uniform(5, 15, n).round(1),
        }
    )


def square_grid(
    rows: int,
    cols: int,
    *,
    size: float,
    west: float,
    south: float,
    column: str = "unit_id",
    prefix: str = "U",
) -> gpd.GeoDataFrame:
    """A rows x cols layer of ``size``-degree squares from (west, south), ids ``U{row}{col}``."""
    cells = [
        (
            f"{prefix}{r}{c}",
            box(west + size * c, south + size * r, west + size * (c + 1), south + size * (r + 1)),
        )
        for r in range(rows)
        for c in range(cols)
    ]
    return gpd.GeoDataFrame(
        {column: [name for name, _ in cells]}, geometry=[g for _, g in cells], crs="EPSG:4326"
    )


def four_quadrants(n_accounts: int, seed: int = 2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`make_instance` accounts spread over the 4 x 4 one-degree squares from (-100, 38).

    Four reps, one in each quadrant of the grid (see :func:`square_grid` with ``size=1``,
    ``west=-100``, ``south=38``); accounts find their square by location (no ``unit_id``).
    """
    accounts, reps = make_instance(n_accounts, 4, seed=seed)
    rng = np.random.default_rng(0)
    accounts["lat"] = rng.uniform(38.05, 41.95, len(accounts))
    accounts["lon"] = rng.uniform(-99.95, -96.05, len(accounts))
    accounts = accounts.drop(columns=["unit_id"], errors="ignore")
    reps["lat"] = [38.5, 38.5, 41.5, 41.5]
    reps["lon"] = [-99.5, -96.5, -99.5, -96.5]
    return accounts, reps
