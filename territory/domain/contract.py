"""The data contract of the two input tables (accounts and reps), declared as pandera schemas.

Each column of :data:`ACCOUNTS_SCHEMA` and :data:`REPS_SCHEMA` says whether it is required, which
values it allows (pandera checks) and, in its metadata, its kind (``id``, ``text``, ``number``,
``tier`` or ``passthrough``), what it holds (``description``, quoted in fixes) and the header
spellings that point at it (``aliases``). The cell rules pandera cannot state live here too: how
a cell as read becomes text or a number (:func:`text_values`, :func:`parse_numbers`). This module
reads no files; :mod:`territory.domain.validation` turns the schemas' failures into
``InputProblem`` s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from territory.domain.arrays import BoolArray, FloatArray, IntArray

__all__ = [
    "ACCOUNTS_SCHEMA",
    "ACCOUNT_OPTIONAL_COLUMNS",
    "ACCOUNT_REQUIRED_COLUMNS",
    "DEFAULT_TIER",
    "MAX_MAGNITUDE",
    "MAX_ROWS_PER_PROBLEM",
    "MAX_TOTAL_MAGNITUDE",
    "REPS_SCHEMA",
    "REP_OPTIONAL_COLUMNS",
    "REP_REQUIRED_COLUMNS",
    "SUPPORTED_FORMATS",
    "TEXT_COLUMNS",
    "TIERS",
    "blank_rows",
    "canonical_columns",
    "fmt_number",
    "has_data",
    "is_blank",
    "is_missing",
    "kind_of",
    "none_for_missing",
    "parse_numbers",
    "shown",
    "text",
    "text_values",
]

SUPPORTED_FORMATS = ("csv", "parquet", "xlsx")
"""File formats the tables are read from and written to, chosen by file extension."""

TIERS = ("A", "B", "C")
"""Allowed rep tiers (upper case after normalisation)."""

DEFAULT_TIER = "B"
"""Tier given to reps whose tier is blank or whose table has no ``tier`` column."""

MAX_ROWS_PER_PROBLEM = 10
"""Rows reported one by one per column and kind of problem before the rest are summarised."""

MAX_MAGNITUDE = 1e12
"""Largest magnitude accepted in any numeric input cell (currency/year, hours/year, ...).

A trillion a year is beyond any single account, rep or comp figure, yet small enough that sums
stay finite and precise: a million accounts at this size total 1e18, far below float64's 1.8e308
(so no target, square or product in the models overflows), and totals of real books (below 1e13)
keep float64 precision to well under a cent. A larger cell is almost always a typo or a unit
mix-up (an exponent, cents for dollars), so it is refused instead of silently overflowing.
"""

MAX_TOTAL_MAGNITUDE = 1e18
"""Largest magnitude accepted for totals (a territory's potential, a company target): a million
rows at :data:`MAX_MAGNITUDE`."""


# Cells that mean "no value" in a numeric column. Text columns only treat whitespace as blank, so
# an id such as "NA" (Namibia, a rep's initials) is never silently lost.
_NA_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "#n/a", "-nan"})

# Column contents that pd.to_numeric can parse without help (no booleans or other objects).
_FAST_NUMERIC_KINDS = frozenset({"string", "empty", "floating", "integer", "mixed-integer-float"})

# Floats below this magnitude hold integers exactly, so 123.0 can safely become the id "123".
_EXACT_INT_LIMIT = 2.0**53


# --------------------------------------------------------------------------------------------
# Cell conversion: how a cell as read becomes text or a number
# --------------------------------------------------------------------------------------------


def is_missing(value: object) -> bool:
    """Tell whether a cell holds no value at all (``None``, NaN, ``pd.NA`` or ``NaT``).

    Blank text is not missing here (see :func:`text`).

    Parameters
    ----------
    value
        The cell to test.

    Returns
    -------
    bool
        True for a missing cell.
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


def is_blank(value: object) -> bool:
    """Tell whether a cell holds nothing: missing (see :func:`is_missing`) or only whitespace.

    Parameters
    ----------
    value
        The cell to test, as read or taken from ``Series.tolist()``.

    Returns
    -------
    bool
        True for a missing cell or blank text.
    """
    return is_missing(value) or (isinstance(value, str) and not value.strip())


def none_for_missing(values: pd.Series) -> pd.Series:
    """Object column with ``None`` (not NaN or ``pd.NA``) for missing cells.

    Parameters
    ----------
    values
        A column as a reader returned it (a Parquet string column holds ``pd.NA`` or NaN).

    Returns
    -------
    pandas.Series
        The same cells, object dtype, missing ones as ``None``.
    """
    if isinstance(values.dtype, pd.StringDtype | pd.ArrowDtype) and pd.api.types.is_string_dtype(
        values.dtype
    ):
        # Arrow-backed text: every missing cell is NA, converted in one vectorised pass.
        obj = values.to_numpy(dtype=object)
        obj[values.isna().to_numpy(dtype=bool)] = None
        return pd.Series(obj, dtype=object, name=values.name)
    obj = values.to_numpy(dtype=object)
    return pd.Series([None if is_missing(v) else v for v in obj], dtype=object, name=values.name)


def text(value: object) -> str | None:
    """Cell as stripped text; numbers that Excel or Parquet stored as numbers become ids.

    Parameters
    ----------
    value
        One cell as read.

    Returns
    -------
    str or None
        The text, or ``None`` for a missing or blank cell (``123.0`` becomes ``"123"``).
    """
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    if is_missing(value):
        return None
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        if number.is_integer() and abs(number) < _EXACT_INT_LIMIT:
            return str(int(number))  # 123.0 from a spreadsheet means id "123"
        return repr(number)
    stripped = str(value).strip()
    return stripped or None


def text_values(values: pd.Series) -> list[str | None]:
    """:func:`text` of every cell of a column (a fast path for all-text columns).

    Parameters
    ----------
    values
        An id or text column as read; Excel or Parquet may hold some ids as numbers.

    Returns
    -------
    list of str or None
        One entry per cell.
    """
    raw = values.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(raw, skipna=True) in ("string", "empty"):
        # Fast path for the usual all-text column: only str and missing values.
        return [(v.strip() or None) if v.__class__ is str else None for v in raw]
    return [text(v) for v in raw]


def parse_numbers(values: pd.Series) -> tuple[FloatArray, BoolArray, BoolArray]:
    """Numbers, blank mask and not-a-number mask of one column (text is parsed here).

    Parameters
    ----------
    values
        One column as read: numbers, text such as ``" 1e3 "`` or NA tokens such as ``"n/a"``.

    Returns
    -------
    numbers : numpy.ndarray
        The parsed values, NaN where the cell is blank or not a number.
    blank : numpy.ndarray
        Cells that are missing, blank or an NA token.
    bad : numpy.ndarray
        Cells that hold something other than a number (booleans included).
    """
    dtype = values.dtype
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        numbers = np.array(values.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
        return numbers, np.isnan(numbers), np.zeros(len(numbers), dtype=bool)
    raw = values.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(raw, skipna=True) in _FAST_NUMERIC_KINDS:
        # pandas parses text (surrounding spaces, "1e3", "inf") in C; only failures are looked at.
        parsed = pd.to_numeric(pd.Series(raw, dtype=object), errors="coerce")
        numbers = np.array(parsed.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
        blank = np.zeros(len(raw), dtype=bool)
        bad = np.zeros(len(raw), dtype=bool)
        for pos in np.flatnonzero(np.isnan(numbers)):
            value = raw[pos]
            if is_missing(value) or (
                isinstance(value, str) and value.strip().lower() in _NA_TOKENS
            ):
                blank[pos] = True
            else:
                bad[pos] = True
        return numbers, blank, bad
    cleaned = np.empty(len(raw), dtype=object)
    blank = np.zeros(len(raw), dtype=bool)
    forced_bad = np.zeros(len(raw), dtype=bool)
    for i, value in enumerate(raw):
        if isinstance(value, str):
            stripped = value.strip()
            if stripped.lower() in _NA_TOKENS:
                blank[i] = True
            else:
                cleaned[i] = stripped
        elif is_missing(value):
            blank[i] = True
        elif isinstance(value, bool | np.bool_):
            forced_bad[i] = True
        elif isinstance(value, int | float | np.integer | np.floating):
            cleaned[i] = value
        else:
            forced_bad[i] = True
    parsed = pd.to_numeric(pd.Series(cleaned, dtype=object), errors="coerce")
    numbers = np.array(parsed.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    bad = forced_bad | (np.isnan(numbers) & ~blank)
    numbers[bad] = np.nan
    return numbers, blank, bad


_SCAN_ROWS = 4096
"""Cells :func:`has_data` turns into Python objects at a time."""


def has_data(frame: pd.DataFrame) -> bool:
    """Whether any cell holds something (stops at the first one, usually in row one).

    Parameters
    ----------
    frame
        A table as read, below its header row (a header with no rows under it is empty too).

    Returns
    -------
    bool
        False when every cell is missing or blank text.
    """
    for i in range(frame.shape[1]):
        for start in range(0, len(frame), _SCAN_ROWS):  # no Python object per cell of a column
            for value in frame.iloc[start : start + _SCAN_ROWS, i].to_numpy(dtype=object):
                if not is_blank(value):
                    return True
    return False


def blank_rows(frame: pd.DataFrame, positions: IntArray) -> BoolArray:
    """Which of ``positions`` are rows where every cell is blank (spreadsheet padding).

    Parameters
    ----------
    frame
        A table as read.
    positions
        Row positions to look at.

    Returns
    -------
    numpy.ndarray
        One flag per position.
    """
    blank = np.ones(len(positions), dtype=bool)
    for i in range(frame.shape[1]):
        if not blank.any():
            break
        column = frame.iloc[positions, i].to_numpy(dtype=object)
        for j in np.flatnonzero(blank):
            if not is_blank(column[j]):
                blank[j] = False
    return blank


def fmt_number(value: float) -> str:
    """Show a number as messages do: integers without ``.0``, others in round-trip form.

    Parameters
    ----------
    value
        The number.

    Returns
    -------
    str
        ``"12"``, ``"0.5"``, ``"inf"`` ...
    """
    value = float(value)
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def shown(value: object) -> str:
    """Quote a cell as messages do: stripped text or the ``repr`` of anything else, cut to 40.

    Parameters
    ----------
    value
        The cell to quote.

    Returns
    -------
    str
        The quoted text.
    """
    out = value.strip() if isinstance(value, str) else repr(value)
    return out if len(out) <= 40 else out[:37] + "..."


# --------------------------------------------------------------------------------------------
# The schemas
# --------------------------------------------------------------------------------------------


def _not_infinite(values: pd.Series) -> pd.Series:
    return ~np.isinf(values)


def _within_magnitude(values: pd.Series) -> pd.Series:
    return np.abs(values) <= MAX_MAGNITUDE


def _passthrough_within_magnitude(values: pd.Series) -> pd.Series:
    numbers = parse_numbers(values)[0]
    with np.errstate(invalid="ignore"):
        huge = np.isinf(numbers) | (np.abs(numbers) > MAX_MAGNITUDE)
    return pd.Series(~huge, index=values.index)


_FINITE = pa.Check(_not_infinite, name="finite")
_MAGNITUDE = pa.Check(_within_magnitude, name="magnitude")


def _meta(kind: str, aliases: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"kind": kind, "aliases": aliases}


def _id(meaning: str, aliases: tuple[str, ...]) -> pa.Column:
    return pa.Column(
        None,
        nullable=False,
        unique=True,
        report_duplicates="exclude_first",
        description=meaning,
        metadata=_meta("id", aliases),
    )


def _number(
    meaning: str, bound: pa.Check, aliases: tuple[str, ...] = (), *, required: bool = True
) -> pa.Column:
    # Columns with an upper bound need no magnitude rule: the range already caps them.
    bounded = bound.name == "in_range"
    return pa.Column(
        float,
        checks=[_FINITE, bound] if bounded else [_FINITE, _MAGNITUDE, bound],
        nullable=not required,
        required=required,
        description=meaning,
        metadata=_meta("number", aliases),
    )


def _text_column(meaning: str, aliases: tuple[str, ...] = ()) -> pa.Column:
    return pa.Column(
        None, nullable=True, required=False, description=meaning, metadata=_meta("text", aliases)
    )


def _passthrough() -> pa.Column:
    # Not parsed by the engine, but the quota step sums it per territory: it must stay finite.
    return pa.Column(
        None,
        checks=pa.Check(_passthrough_within_magnitude, name="passthrough_magnitude"),
        nullable=True,
        required=False,
        description="an amount in currency per year",
        metadata=_meta("passthrough"),
    )


_LAT = ("latitude", "y")
_LON = ("longitude", "lng", "long", "x")

ACCOUNTS_SCHEMA = pa.DataFrameSchema(
    {
        "account_id": _id(
            "a unique id per account",
            ("account", "accountnumber", "accountno", "customerid", "customer", "id"),
        ),
        "lat": _number(
            "latitude in WGS84 decimal degrees, -90..90", pa.Check.in_range(-90.0, 90.0), _LAT
        ),
        "lon": _number(
            "longitude in WGS84 decimal degrees, -180..180", pa.Check.in_range(-180.0, 180.0), _LON
        ),
        "potential": _number(
            "sales potential in currency per year, 0 or more",
            pa.Check.ge(0.0),
            ("salespotential", "potentialperyear"),
        ),
        "workload": _number(
            "workload in hours per year, 0 or more",
            pa.Check.ge(0.0),
            ("workloadhours", "hours", "workloadperyear"),
        ),
        "current_rep": _text_column(
            "the rep_id currently serving the account, or blank",
            ("currentrepid", "rep", "repid", "owner"),
        ),
        "revenue_last_year": _number(
            "last year's revenue in currency, 0 or more, blank if unknown",
            pa.Check.ge(0.0),
            ("revenue", "lastyearrevenue", "revenuely"),
            required=False,
        ),
        "name": _text_column("the account's name", ("accountname",)),
        "segment": _text_column("the account's segment"),
        "locked_rep": _text_column(
            "the rep_id the account must stay with, or blank", ("lockedrepid", "lock", "lockedto")
        ),
        "unit_id": _text_column(
            "the geographic unit, e.g. a ZIP code",
            ("unit", "zip", "zipcode", "postcode", "postalcode"),
        ),
        "revenue_prior_year": _passthrough(),
        "revenue_two_years_ago": _passthrough(),
        "quota_last_year": _passthrough(),
    },
    name="accounts",
    metadata={"noun": "account"},
)
"""The accounts table: one row per account, ``account_id`` first."""

REPS_SCHEMA = pa.DataFrameSchema(
    {
        "rep_id": _id("a unique id per rep", ("rep", "salesrep", "salesrepid", "id")),
        "lat": _number(
            "latitude of the rep's home base in WGS84 decimal degrees, -90..90",
            pa.Check.in_range(-90.0, 90.0),
            _LAT,
        ),
        "lon": _number(
            "longitude of the rep's home base in WGS84 decimal degrees, -180..180",
            pa.Check.in_range(-180.0, 180.0),
            _LON,
        ),
        "capacity": _number(
            "the rep's available selling time in hours per year, more than 0",
            pa.Check.gt(0.0),
            ("capacityhours", "hours", "capacityperyear"),
        ),
        "tier": pa.Column(
            None,
            checks=pa.Check.isin(TIERS),
            required=False,
            description="the rep's tier: A, B or C, blank meaning B",
            metadata=_meta("tier"),
        ),
        "rating": _number(
            "a rating between 0 and 1, blank if unknown",
            pa.Check.in_range(0.0, 1.0),
            ("score",),
            required=False,
        ),
        "name": _text_column("the rep's name", ("repname",)),
        "role": _text_column("the rep's role"),
    },
    name="reps",
    metadata={"noun": "rep"},
)
"""The reps table: one row per rep, ``rep_id`` first."""


def kind_of(column: pa.Column) -> str:
    """Return the column's kind: ``id``, ``text``, ``number``, ``tier`` or ``passthrough``.

    Parameters
    ----------
    column
        A column of :data:`ACCOUNTS_SCHEMA` or :data:`REPS_SCHEMA`.

    Returns
    -------
    str
        The kind from its metadata.
    """
    return str((column.metadata or {})["kind"])


def canonical_columns(schema: pa.DataFrameSchema) -> dict[str, pa.Column]:
    """Return the columns the engine parses, in the order of the normalised frame.

    Parameters
    ----------
    schema
        :data:`ACCOUNTS_SCHEMA` or :data:`REPS_SCHEMA`.

    Returns
    -------
    dict
        Name to column, pass-through columns left out.
    """
    columns: Mapping[str, pa.Column] = schema.columns
    return {name: col for name, col in columns.items() if kind_of(col) != "passthrough"}


def _names(schema: pa.DataFrameSchema, required: bool) -> tuple[str, ...]:
    return tuple(n for n, c in canonical_columns(schema).items() if c.required is required)


ACCOUNT_REQUIRED_COLUMNS = _names(ACCOUNTS_SCHEMA, True)
ACCOUNT_OPTIONAL_COLUMNS = _names(ACCOUNTS_SCHEMA, False)
REP_REQUIRED_COLUMNS = _names(REPS_SCHEMA, True)
REP_OPTIONAL_COLUMNS = _names(REPS_SCHEMA, False)
TEXT_COLUMNS = frozenset(
    name
    for schema in (ACCOUNTS_SCHEMA, REPS_SCHEMA)
    for name, col in canonical_columns(schema).items()
    if kind_of(col) != "number"
)
"""Columns read as text from a workbook (ids, names, tiers), whatever type Excel stored."""
