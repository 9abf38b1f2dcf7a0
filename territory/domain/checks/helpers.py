"""Small readers and statistics that several checks share."""

from __future__ import annotations

import math
from typing import TypeVar, overload

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import spearmanr

from territory.domain.comp import RolePlan

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

T = TypeVar("T")


def given(value: T | None) -> T:
    """Return a value the check's declared inputs guarantee is there.

    Raises
    ------
    AssertionError
        When a check reads an input it did not declare.
    """
    assert value is not None, "a check read an input it did not declare"
    return value


@overload
def share_of(mask: npt.ArrayLike, empty: float) -> float: ...
@overload
def share_of(mask: npt.ArrayLike, empty: None = None) -> float | None: ...
def share_of(mask: npt.ArrayLike, empty: float | None = None) -> float | None:
    """Share of rows where ``mask`` holds; ``empty`` when there are no rows."""
    flags = np.asarray(mask, dtype=np.bool_)
    return float(flags.mean()) if flags.size else empty


def norm_role(name: str) -> str:
    """Role name as compared: lower case, words joined by ``_`` (``Field Rep`` = ``field_rep``)."""
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def plan_role_names(role: RolePlan) -> list[str]:
    """Every name a role plan answers to: its own and the reps' roles it covers, compared form."""
    return [norm_role(role.name), *(norm_role(r) for r in role.rep_roles)]


def blank(values: pd.Series) -> BoolArray:
    """Mark missing or empty text cells."""
    text = values.astype("string").str.strip()
    return np.asarray(text.isna() | (text == ""), dtype=np.bool_)


def truthy(values: pd.Series) -> BoolArray:
    """Read a yes/no column written as booleans, numbers or words."""
    if values.dtype == bool:
        return values.fillna(False).to_numpy(dtype=np.bool_)
    text = values.astype("string").str.strip().str.lower()
    return np.asarray(
        text.isin(["1", "1.0", "true", "yes", "y", "t"]).fillna(False), dtype=np.bool_
    )


def numbers(frame: pd.DataFrame, column: str) -> FloatArray:
    """Read a column as floats; cells that are not numbers become NaN."""
    return np.asarray(pd.to_numeric(frame[column], errors="coerce"), dtype=np.float64)


def _finite_pairs(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[FloatArray, FloatArray] | None:
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return a, b


def spearman(x: npt.ArrayLike, y: npt.ArrayLike) -> float | None:
    """Rank correlation, or None with fewer than 3 pairs or a constant side."""
    pairs = _finite_pairs(x, y)
    if pairs is None:
        return None
    rho = float(spearmanr(*pairs).statistic)
    return rho if math.isfinite(rho) else None


def pearson(x: npt.ArrayLike, y: npt.ArrayLike) -> float | None:
    """Linear correlation, or None with fewer than 3 pairs or a constant side."""
    pairs = _finite_pairs(x, y)
    if pairs is None:
        return None
    return float(np.corrcoef(*pairs)[0, 1])
