"""Great-circle geometry on WGS84 latitude/longitude, vectorised for millions of points."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from territory.domain.arrays import FloatArray

EARTH_RADIUS_KM = 6371.0088
"""Mean Earth radius (IUGG), the usual radius for haversine distances on WGS84 coordinates."""


def haversine_km(
    lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike, lon2: npt.ArrayLike
) -> FloatArray:
    """Great-circle distance in km between points given in degrees (broadcasts like numpy)."""
    phi1 = np.radians(np.asarray(lat1, dtype=np.float64))
    phi2 = np.radians(np.asarray(lat2, dtype=np.float64))
    dphi = phi2 - phi1
    dlmb = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    a = np.sin(dphi / 2.0) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlmb / 2.0) ** 2
    return np.asarray(2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


def unit_vectors(lat: npt.ArrayLike, lon: npt.ArrayLike) -> FloatArray:
    """Points on the unit sphere; chord length orders neighbours exactly as great-circle distance.

    This lets an ordinary k-d tree answer nearest-neighbour queries on the sphere.
    """
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    lmb = np.radians(np.asarray(lon, dtype=np.float64))
    cos_phi = np.cos(phi)
    return np.column_stack((cos_phi * np.cos(lmb), cos_phi * np.sin(lmb), np.sin(phi)))
