"""ZIP centroids of US regions, read from the ``zipcodes`` package (a dev / demo extra).

The instance families of :mod:`territory.domain.families` draw accounts around these points; the
domain takes them as arrays, so the package is only needed where instances are generated (the
benchmarks, the tests, ``data/make_demo.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from territory.domain.arrays import FloatArray
from territory.domain.families import REGIONS


@lru_cache(maxsize=8)
def _centroids(states: tuple[str, ...]) -> tuple[FloatArray, FloatArray]:
    try:
        import zipcodes
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "the ZIP instance families need the 'zipcodes' package: pip install zipcodes "
            "(or install the project with its dev or demo extra)"
        ) from None
    rows = sorted(
        (z["zip_code"], float(z["lat"]), float(z["long"]))
        for state in states
        for z in zipcodes.filter_by(state=state)
        if z["zip_code_type"] == "STANDARD" and z["active"] and z["lat"] and z["long"]
    )
    lat = np.array([r[1] for r in rows], dtype=np.float64)
    lon = np.array([r[2] for r in rows], dtype=np.float64)
    lat.setflags(write=False)
    lon.setflags(write=False)
    return lat, lon


def zip_centroids(region: str | Sequence[str]) -> tuple[FloatArray, FloatArray]:
    """Latitudes and longitudes of the STANDARD, active ZIPs of a region, sorted by ZIP.

    Parameters
    ----------
    region : str or sequence of str
        A key of :data:`territory.domain.families.REGIONS`, or state codes.

    Returns
    -------
    lat, lon : numpy.ndarray
        Read-only arrays in degrees, one entry per ZIP.
    """
    if isinstance(region, str):
        if region not in REGIONS:
            raise ValueError(f"unknown region {region!r}; choose one of {', '.join(REGIONS)}")
        states = REGIONS[region]
    else:
        states = tuple(region)
    return _centroids(tuple(states))
