"""The array types the domain's signatures name, declared once for every module.

Pure type aliases: numpy arrays by element type, and what a plan may be given as (a rep id per
account as a frame, a series or any array-like).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["BoolArray", "FloatArray", "IntArray", "ObjectArray", "PlanLike"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ObjectArray = npt.NDArray[np.object_]
PlanLike = pd.DataFrame | pd.Series | npt.ArrayLike
