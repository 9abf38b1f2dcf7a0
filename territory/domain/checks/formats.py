"""How numbers are written in evidence lines.

Evidence is read by people, so numbers are written the same way everywhere: shares as
percentages with one decimal, other numbers with three significant digits, id lists cut at five.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def pct(x: float | None) -> str:
    """Format a share as a percentage with one decimal, ``n/a`` when unknown."""
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.1f}%"


def num(x: float | None, digits: int = 3) -> str:
    """Format a number with ``digits`` significant digits, ``n/a`` when unknown."""
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}g}"


def listing(values: Iterable[object], limit: int = 5) -> str:
    """List the first ``limit`` values and count the rest, so evidence lines stay short."""
    items = [str(v) for v in values]
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
