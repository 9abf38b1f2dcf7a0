"""Values of a run as display text: numbers with separators, percentages, dashes for gaps.

Everything here returns plain text, never HTML: the templates escape on output, so no
formatter has to remember to.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

DASH = "\u2013"
"""What a missing value shows as."""


def is_missing(value: object) -> bool:
    """Return True for None, pandas' NA/NaT and non-finite floats: the values shown as a dash."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return not math.isfinite(float(value))
    return False


def num(value: object, decimals: int = 0) -> str:
    """Format a number with thousands separators ('1,234,567'); a dash when missing."""
    if is_missing(value):
        return DASH
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    out = f"{number:,.{decimals}f}"
    return "0" if out.lstrip("-").strip("0.,") == "" and decimals == 0 else out


def pct(value: object, decimals: int = 1) -> str:
    """Format a fraction as a percentage: 0.0499 -> '4.99%' with two decimals."""
    if is_missing(value):
        return DASH
    return f"{100.0 * float(value):,.{decimals}f}%"  # type: ignore[arg-type]


def plain(value: object) -> str:
    """Any value of a check row as text: numbers readable, mappings and lists joined."""
    if is_missing(value):
        return DASH
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        number = float(value)
        if number.is_integer() and abs(number) < 1e15:
            return f"{int(number):,}"
        if abs(number) >= 1000:
            return f"{number:,.0f}"
        return f"{number:.4g}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return " \u2013 ".join(plain(v) for v in value) if value else DASH
    return str(value)


def text_list(value: object) -> list[str]:
    """``needs`` / ``evidence`` / ``inputs_used`` as a list of strings (a bare string too)."""
    if is_missing(value) or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable):
        return [str(v) for v in value if not is_missing(v) and str(v) != ""]
    return [str(value)]


def number(value: object) -> float | None:
    """Return a finite float, or None for anything missing or not a number."""
    if value is None or is_missing(value):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def number_at(doc: Mapping[str, Any], key: str) -> float | None:
    """``doc[key]`` as :func:`number` (None when absent): for optional ``solve.json`` fields."""
    return number(doc.get(key))


def currency(quota_summary: Mapping[str, Any] | None) -> str:
    """Return the currency label of ``territory quota``'s configuration, or ''."""
    if not quota_summary:
        return ""
    return str((quota_summary.get("config") or {}).get("currency") or "")


def param(value: object) -> str:
    """Format an alignment parameter; a mapping as sorted ``key=value`` pairs."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_param_text(v)}" for k, v in sorted(value.items()))
    return _param_text(value)


def _param_text(value: object) -> str:
    if is_missing(value):
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,g}"
    return str(value)


# Cell formatters of the tables: one argument each, so a column can name its formatter.


def text(value: object) -> str:
    """Any value as text; a dash when missing."""
    return DASH if is_missing(value) else str(value)


def money(value: object) -> str:
    """Whole units with separators (money, counts, hours)."""
    return num(value, 0)


def dec2(value: object) -> str:
    """Two decimals with separators (weights, ratios, km)."""
    return num(value, 2)


def pct0(value: object) -> str:
    """Format a fraction as a whole percentage."""
    return pct(value, 0)


def pct1(value: object) -> str:
    """Format a fraction as a percentage with one decimal."""
    return pct(value, 1)


def pct2(value: object) -> str:
    """Format a fraction as a percentage with two decimals."""
    return pct(value, 2)


def share_of_100(value: object) -> str:
    """Format a percentage stored as 0..100 (the stress tables' ``pct_*`` columns)."""
    return DASH if is_missing(value) else f"{float(value):,.1f}%"  # type: ignore[arg-type]
