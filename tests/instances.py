"""Hand-drawn instances shared by several test modules (numbers worked out where they are used)."""

from __future__ import annotations

import numpy as np
import pandas as pd

BIG_MIN_BALANCE = 600 * 3000 / (1000 * 1150) - 1  # 0.5652...
"""Smallest potential tolerance at which BIG fits the A rep of :func:`big_account`."""

PROPORTIONAL_MIN_BALANCE = 0.15 / 1.85  # 0.08108...
"""Smallest tolerance any plan of :func:`proportional` can meet (tiers A and C)."""


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
