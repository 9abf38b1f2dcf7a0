"""Instance families that look like what users bring, for benchmarks and tests.

:func:`territory.domain.synthetic.make_instance` rescales potential and workload so that a hidden
grouping meets every target exactly and clips every account to a quarter of the smallest target:
a solver tuned on it alone meets easier books than real ones. The families here add what real
books have: accounts clustered around real ZIP centroids, raw lognormal potential (nothing fitted
to a hidden plan), key accounts worth a large share of a rep's target, workload near capacity,
and inherited alignments far off balance.

Every family is seeded and deterministic, and pure numpy: the ZIP centroids come in as arrays
(read by ``territory.io.zip_regions.zip_centroids``), so this module does no I/O.

Families
--------
``synthetic``
    :func:`~territory.domain.synthetic.make_instance` as it is.
``zip``
    Accounts around real ZIP centroids, raw lognormal potential, one key account per ten reps
    worth 10-38% of an average rep's potential target, workload at :data:`UTILIZATION` of
    capacity, an inherited alignment drawn by proximity, no locks.
``heavy_keys``
    As ``zip`` with one key account per two reps, worth 20-45% of an average target in potential
    and a large share of workload too.
``off_balance``
    As ``zip`` with an inherited alignment far off balance (a third of the reps overloaded by
    80%) that the plan is priced against (disruption weight 0.01 hour-km per currency unit).

The knobs of each ZIP family are one :class:`FamilyShape` in :data:`SHAPES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from territory.domain.arrays import FloatArray, IntArray
from territory.domain.synthetic import (
    _KM_PER_DEG_LAT,
    _KM_PER_DEG_LON_EQUATOR,
    _project_km,
    contract_tables,
    historical_alignment,
    home_bases,
    make_instance,
    potential_targets,
    rep_roster,
    revenue_history,
)

FAMILIES: Final = ("synthetic", "zip", "heavy_keys", "off_balance")
"""Names accepted by :func:`make_family`, easiest first."""

REGIONS: Final[dict[str, tuple[str, ...]]] = {
    "southeast": ("GA", "FL", "AL", "SC"),
    "south_central": ("TX", "OK", "LA"),
    "northeast": ("NY", "NJ", "PA", "CT", "MA"),
    "midwest": ("IL", "IN", "OH", "MI", "WI"),
}
"""US regions (state codes) whose ZIP centroids the ZIP families draw accounts around."""

UTILIZATION: Final = 0.90
"""Total workload over total capacity in the ZIP families."""

JITTER_KM: Final = 2.5
"""Accounts sit within this radius of their ZIP centroid."""


@dataclass(frozen=True)
class FamilyShape:
    """The knobs that tell the ZIP families apart (see the module docstring)."""

    key_per_rep: float = 0.1
    key_share: tuple[float, float] = (0.10, 0.38)
    key_workload_weight: float = 0.0
    """0: key accounts' workload follows the effort curve; 1: proportional to their potential."""
    overloaded_share: float = 0.15
    overload: float = 1.35
    spread: float = 0.12
    disruption_weight: float = 0.0


SHAPES: Final[dict[str, FamilyShape]] = {
    "zip": FamilyShape(),
    "heavy_keys": FamilyShape(key_per_rep=0.5, key_share=(0.20, 0.45), key_workload_weight=0.7),
    "off_balance": FamilyShape(
        overloaded_share=0.33, overload=1.8, spread=0.35, disruption_weight=0.01
    ),
}


def solve_levers(family: str) -> dict[str, float]:
    """Levers an instance of ``family`` is solved with beyond the defaults (its disruption weight).

    Parameters
    ----------
    family : str
        One of :data:`FAMILIES`.

    Returns
    -------
    dict
        ``{"disruption_weight": w}`` when the family prices moves, else empty.
    """
    shape = SHAPES.get(family)
    if shape is None or not shape.disruption_weight:
        return {}
    return {"disruption_weight": shape.disruption_weight}


def scatter_around_zips(
    zip_lat: FloatArray, zip_lon: FloatArray, n: int, jitter_km: float, rng: np.random.Generator
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray]:
    """Place ``n`` accounts around real ZIP centroids, more where ZIPs are dense.

    Metros have many small ZIPs, so drawing a ZIP in proportion to the ZIPs within 10 km of it
    gathers business where it really is; each account then sits uniformly within ``jitter_km``
    of its ZIP's centroid.

    Parameters
    ----------
    zip_lat, zip_lon : numpy.ndarray
        ZIP centroids in degrees.
    n : int
        Number of accounts.
    jitter_km : float
        Radius around the centroid.
    rng : numpy.random.Generator
        Randomness source (drawn from in a fixed order, so callers stay reproducible).

    Returns
    -------
    at : numpy.ndarray of int
        The ZIP (position) of each account, ascending, so ids run in ZIP order as in a CRM.
    lat, lon : numpy.ndarray
        Account coordinates, rounded to 5 decimals (about a metre).
    density : numpy.ndarray
        Per ZIP, how many ZIPs lie within 10 km (itself included).
    """
    xy = _project_km(zip_lat, zip_lon, float(zip_lat.mean()))
    density = np.asarray(cKDTree(xy).query_ball_point(xy, r=10.0, return_length=True), float)
    at = np.sort(rng.choice(zip_lat.size, size=n, p=density / density.sum()), kind="stable")
    radius = jitter_km * np.sqrt(rng.random(n))
    angle = rng.uniform(0.0, 2.0 * np.pi, n)
    lat = zip_lat[at] + radius * np.sin(angle) / _KM_PER_DEG_LAT
    lon = zip_lon[at] + radius * np.cos(angle) / (
        _KM_PER_DEG_LON_EQUATOR * np.cos(np.radians(zip_lat[at]))
    )
    return np.asarray(at, np.int64), np.round(lat, 5), np.round(lon, 5), density


def distinct_nearest_zips(
    zip_lat: FloatArray, zip_lon: FloatArray, lat: FloatArray, lon: FloatArray
) -> IntArray:
    """Snap points (rep home bases) to real ZIP centroids, no ZIP twice while there are enough.

    Points are served in order, each taking its nearest ZIP not yet taken.
    """
    lat0 = float(zip_lat.mean())
    k = min(lat.size, zip_lat.size)
    tree = cKDTree(_project_km(zip_lat, zip_lon, lat0))
    _, near = tree.query(_project_km(lat, lon, lat0), k=k)
    taken: set[int] = set()
    home = np.empty(lat.size, dtype=np.int64)
    for i, options in enumerate(np.asarray(near, np.int64).reshape(lat.size, k).tolist()):
        home[i] = next((z for z in options if z not in taken), options[0])
        taken.add(int(home[i]))
    return home


def _key_potentials(body_total: float, shares: FloatArray, n_reps: int) -> FloatArray:
    """Key accounts worth ``shares`` of an average rep's target once they are in the total.

    With K the keys' total and B the body's, a key's potential is s x (B + K) / R, so
    K = S x B / (R - S) where S is the sum of the shares.
    """
    s_total = float(shares.sum())
    total = body_total * n_reps / max(n_reps - s_total, 1e-9)
    return np.asarray(shares * total / n_reps, dtype=np.float64)


def zip_instance(
    zip_lat: FloatArray,
    zip_lon: FloatArray,
    n_accounts: int,
    n_reps: int,
    seed: int,
    shape: FamilyShape | None = None,
    *,
    sigma: float = 1.0,
    median_potential: float = 50_000.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Accounts clustered around real ZIP centroids, with raw (unfitted) lognormal potential.

    Parameters
    ----------
    zip_lat, zip_lon : numpy.ndarray
        ZIP centroids in degrees (any order; sorted input gives stable ids).
    n_accounts, n_reps : int
        Table sizes.
    seed : int
        Seed of the one generator everything is drawn from.
    shape : FamilyShape, optional
        Key accounts and inherited alignment (default: the ``zip`` family's).
    sigma, median_potential : float
        Log-sd and median (currency/year) of the ordinary accounts' potential.

    Returns
    -------
    accounts, reps : pandas.DataFrame
        Contract columns (:data:`~territory.domain.synthetic.ACCOUNT_COLUMNS` and
        :data:`~territory.domain.synthetic.REP_COLUMNS`).
    """
    if n_reps < 1 or n_accounts < n_reps:
        raise ValueError(f"need n_accounts >= n_reps >= 1, got {n_accounts} and {n_reps}")
    shape = shape or FamilyShape()
    rng = np.random.default_rng(seed)
    z_lat = np.asarray(zip_lat, np.float64)
    z_lon = np.asarray(zip_lon, np.float64)
    at, lat, lon, density = scatter_around_zips(z_lat, z_lon, n_accounts, JITTER_KM, rng)
    roster = rep_roster(n_reps, rng)
    capacity, tier, rating = roster.capacity, roster.tier, roster.rating

    # Potential: raw lognormal, a little richer in dense areas; key accounts in metros.
    urban = (density[at] / np.median(density)) ** 0.15
    potential = median_potential * urban * np.exp(rng.normal(0.0, sigma, n_accounts))
    n_key = min(max(1, int(round(shape.key_per_rep * n_reps))), n_accounts // 2)
    key = rng.choice(n_accounts, size=n_key, replace=False, p=urban / urban.sum())
    is_key = np.zeros(n_accounts, dtype=bool)
    is_key[key] = True
    shares = rng.uniform(*shape.key_share, n_key)
    potential[key] = _key_potentials(float(potential[~is_key].sum()), shares, n_reps)
    potential = np.round(potential, 2)

    # Workload: overhead plus a concave effort curve, scaled to the utilisation of capacity;
    # heavy key accounts take a share of hours closer to their share of potential.
    effort = potential**0.6 * np.exp(rng.normal(0.0, 0.3, n_accounts))
    hours = 0.2 * effort[~is_key].mean() + effort
    if shape.key_workload_weight:
        mean_ratio = float(hours[~is_key].sum() / potential[~is_key].sum())
        heavy = potential[key] * mean_ratio
        blend = shape.key_workload_weight
        hours[key] = (1 - blend) * hours[key] + blend * heavy
    workload = np.maximum(np.round(hours * UTILIZATION * capacity.sum() / hours.sum(), 1), 0.1)

    # Home bases where the business is, snapped to distinct real ZIP centroids.
    h_lat, h_lon = home_bases(lat, lon, potential, n_reps, rng)
    home = distinct_nearest_zips(z_lat, z_lon, h_lat, h_lon)
    rep_lat, rep_lon = z_lat[home], z_lon[home]

    current = historical_alignment(
        lat, lon, rep_lat, rep_lon, potential, potential_targets(potential.sum(), capacity, tier),
        rng, spread=shape.spread, overloaded_share=shape.overloaded_share,
        overload=shape.overload,
    )  # fmt: skip
    revenue = revenue_history(potential, rating, current, rng)

    columns = {"lat": lat, "lon": lon, "potential": potential, "workload": workload}
    accounts, reps = contract_tables(
        {**columns, "revenue_last_year": revenue}, current, rep_lat, rep_lon, roster, rng
    )
    return accounts, reps


def make_family(
    family: str,
    n_accounts: int,
    n_reps: int,
    seed: int,
    *,
    zip_lat: FloatArray | None = None,
    zip_lon: FloatArray | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One instance of ``family`` (see the module docstring); the ZIP families need centroids.

    Parameters
    ----------
    family : str
        One of :data:`FAMILIES`.
    n_accounts, n_reps, seed : int
        Size and seed.
    zip_lat, zip_lon : numpy.ndarray, optional
        ZIP centroids of the region (required for every family but ``synthetic``).

    Returns
    -------
    accounts, reps : pandas.DataFrame
        Contract tables.

    Raises
    ------
    ValueError
        An unknown family, or a ZIP family without centroids.
    """
    if family == "synthetic":
        return make_instance(n_accounts, n_reps, seed)
    if family not in SHAPES:
        raise ValueError(f"unknown instance family {family!r}; choose one of {', '.join(FAMILIES)}")
    if zip_lat is None or zip_lon is None or len(zip_lat) == 0:
        raise ValueError(f"the {family!r} family needs ZIP centroids (zip_lat, zip_lon)")
    return zip_instance(zip_lat, zip_lon, n_accounts, n_reps, seed, SHAPES[family])
