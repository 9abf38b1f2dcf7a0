"""Validating the input tables: the contract's failures as problems a user can act on.

:mod:`territory.domain.contract` declares what the accounts and reps tables must hold; this module
normalises a table as read (columns found by name, blank rows skipped, cells turned into text and
numbers), runs the schema lazily and turns pandera's failure cases into ``InputProblem`` s, each
naming the file, the row as the user sees it, the column and a fix. One cell gets one problem
(the first rule it breaks); past :data:`~territory.domain.contract.MAX_ROWS_PER_PROBLEM` rows a
rule's
remaining rows are summarised in one problem. The rules no schema states stay small functions
here: near-miss column names and references from accounts to reps.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from territory.domain.arrays import FloatArray, IntArray
from territory.domain.contract import (
    ACCOUNTS_SCHEMA,
    DEFAULT_TIER,
    MAX_MAGNITUDE,
    MAX_ROWS_PER_PROBLEM,
    REPS_SCHEMA,
    blank_rows,
    canonical_columns,
    fmt_number,
    kind_of,
    parse_numbers,
    shown,
    text,
    text_values,
)
from territory.errors import DataValidationError, InputProblem

__all__ = [
    "Checked",
    "check_unique_header",
    "cross_check",
    "file_problem",
    "validate_accounts",
    "validate_inputs",
    "validate_reps",
    "validate_table",
]


_MAX_TEXT = f"{MAX_MAGNITUDE:.0e}".replace("+", "")  # "1e12" in messages

# A rule's three texts for one cell at frame position p: message, fix, and the summary of the
# rows past MAX_ROWS_PER_PROBLEM ("and 12 more rows where <summary>").
_Texts = tuple[Callable[[int], str], Callable[[int], str], str]


@dataclass
class Checked:
    """Result of validating one table; ``rows`` are the user-visible row numbers per frame row.

    Attributes
    ----------
    frame
        The normalised table: every canonical column, then the pass-through columns.
    problems
        Everything wrong with it; the frame is trustworthy only when this is empty.
    rows
        The row number the user sees for each frame row.
    found
        The canonical columns the table had.
    """

    frame: pd.DataFrame
    problems: list[InputProblem]
    rows: IntArray
    found: frozenset[str]


class _Reporter:
    """Adds problems, capping rows per column and kind so huge files stay readable."""

    def __init__(self, source: str, rows: IntArray) -> None:
        self.source = source
        self.rows = rows
        self.problems: list[InputProblem] = []

    def table(self, message: str, fix: str, column: str | None = None) -> None:
        self.problems.append(InputProblem(self.source, None, column, message, fix))

    def rows_with(self, column: str, positions: IntArray, texts: _Texts) -> None:
        """One problem per position (frame positions), the rest as one summary problem."""
        message, fix, summary = texts
        for pos in positions[:MAX_ROWS_PER_PROBLEM]:
            p = int(pos)
            self.problems.append(
                InputProblem(self.source, int(self.rows[p]), column, message(p), fix(p))
            )
        rest = positions[MAX_ROWS_PER_PROBLEM:]
        if len(rest):
            listed = ", ".join(str(int(self.rows[int(p)])) for p in rest[:5])
            if len(rest) > 5:
                listed += ", ..."
            self.problems.append(
                InputProblem(
                    self.source,
                    None,
                    column,
                    f"and {len(rest)} more rows where {summary} (rows {listed})",
                    fix(int(rest[0])),
                )
            )


# --------------------------------------------------------------------------------------------
# Files and headers
# --------------------------------------------------------------------------------------------


def file_problem(
    source: str, message: str, fix: str, row: int | None = None
) -> DataValidationError:
    """Build the error for a file that cannot be read as a table at all (one problem, no column).

    Parameters
    ----------
    source
        The file as the user named it.
    message, fix
        What is wrong and how to repair it.
    row
        The line the problem is on, when known.

    Returns
    -------
    DataValidationError
        Ready to raise.
    """
    return DataValidationError([InputProblem(source, row, None, message, fix)])


def _column_name(position: int, letters: bool) -> str:
    """``4 (D)``: a 1-based column position, with its spreadsheet letter for CSV and XLSX."""
    if not letters:
        return str(position)
    label, n = "", position
    while n > 0:
        n, rest = divmod(n - 1, 26)
        label = chr(65 + rest) + label
    return f"{position} ({label})"


def check_unique_header(
    names: Sequence[object], source: str, letters: bool, where: str = "header"
) -> None:
    """Refuse a header that names one column twice (readers would rename or drop the second).

    Parameters
    ----------
    names
        The header's cells in order (blank ones are ignored).
    source
        The file as the user named it.
    letters
        Show column positions with their spreadsheet letter (CSV, XLSX) and the header as row 1.
    where
        How messages name the header (``"header of sheet 'X'"``, ``"schema"``).

    Raises
    ------
    DataValidationError
        One problem per repeated name.
    """
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(names, start=1):
        if name is None or (isinstance(name, float) and math.isnan(name)):
            continue
        text = str(name)
        if text.strip():
            seen.setdefault(text, []).append(i)
    problems = []
    for name, places in seen.items():
        if len(places) < 2:
            continue
        shown = " and ".join(_column_name(i, letters) for i in places)
        problems.append(
            InputProblem(
                source,
                1 if letters else None,
                name,
                f"the column name '{name}' appears {len(places)} times in the {where} "
                f"(columns {shown}); only one of them would be read",
                f"keep one column named '{name}' and rename or delete the other(s)",
            )
        )
    if problems:
        raise DataValidationError(problems)


# --------------------------------------------------------------------------------------------
# Columns: found by exact name; near misses are reported
# --------------------------------------------------------------------------------------------


def _normalise_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@dataclass
class _Header:
    """Where the canonical columns are, and the header problems found on the way."""

    positions: dict[str, int]
    repeated: list[InputProblem] = field(default_factory=list)
    near: dict[str, str] = field(default_factory=dict)  # column -> the header name close to it


def _locate_columns(raw: pd.DataFrame, schema: pa.DataFrameSchema, source: str) -> _Header:
    names = [str(label) for label in raw.columns]
    columns = canonical_columns(schema)
    header = _Header({})
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            if seen[name] >= 0:
                header.repeated.append(
                    InputProblem(
                        source,
                        None,
                        name,
                        f"column '{name}' appears {names.count(name)} times in the header",
                        "keep one column with that name and rename or delete the others",
                    )
                )
                seen[name] = -1
            continue
        seen[name] = i
        if name in columns:
            header.positions[name] = i
    unmatched = [n for n in dict.fromkeys(names) if n not in columns]
    for name, col in columns.items():
        if name in header.positions:
            continue
        # Optional columns only match on spelling ("Locked Rep"); their aliases would turn too
        # many innocent pass-through columns ("zip", "owner") into errors.
        aliases = (col.metadata or {})["aliases"] if col.required else ()
        wanted = {_normalise_name(name), *aliases}
        near = [n for n in unmatched if _normalise_name(n) in wanted]
        if not near and col.required:
            by_norm = {_normalise_name(n): n for n in unmatched}
            close = difflib.get_close_matches(_normalise_name(name), list(by_norm), 1, 0.8)
            near = [by_norm[c] for c in close]
        if near:
            header.near[name] = near[0]
    return header


def _missing_required(
    name: str, col: pa.Column, header: _Header, raw: pd.DataFrame, table: str, source: str
) -> InputProblem:
    names = [str(label) for label in raw.columns]
    listed = ", ".join(repr(n) for n in names[:30]) + (", ..." if len(names) > 30 else "")
    if name in header.near:
        fix = (
            f"rename column '{header.near[name]}' to '{name}' (column names are exact: lower "
            "case, underscores, no spaces)"
        )
    elif len(names) == 1 and any(sep in names[0] for sep in (";", "\t", "|")):
        fix = (
            "the header is one single column, so the file probably uses ';', tab or '|' "
            "as separator; save it as comma-separated CSV"
        )
    else:
        fix = f"add a column named '{name}' holding {col.description}"
    return InputProblem(
        source,
        None,
        name,
        f"required column '{name}' is missing from the {table} table (columns found: {listed})",
        fix,
    )


def _header_problems(
    schema: pa.DataFrameSchema, header: _Header, missing: set[str], raw: pd.DataFrame, source: str
) -> list[InputProblem]:
    """Repeated names first, then per column in contract order: missing or misspelt."""
    problems = list(header.repeated)
    for name, col in canonical_columns(schema).items():
        if name in missing:
            problems.append(_missing_required(name, col, header, raw, schema.name, source))
        elif name not in header.positions and not col.required and name in header.near:
            near = header.near[name]
            problems.append(
                InputProblem(
                    source,
                    None,
                    near,
                    f"column '{near}' looks like the optional column '{name}' but is not "
                    "named exactly so, and would be ignored",
                    f"rename it to '{name}' ({col.description}), or give it a clearly different "
                    "name if it means something else",
                )
            )
    return problems


# --------------------------------------------------------------------------------------------
# Cells: normalise, validate against the schema, word the failures
# --------------------------------------------------------------------------------------------


@dataclass
class _Cells:
    """A table's kept rows, parsed: what the schema validates and what messages quote."""

    frame: pd.DataFrame  # located canonical columns (parsed) and pass-through columns
    raw: dict[str, pd.Series]  # the located columns' cells as read (boxed only when quoted)
    unparsed: dict[str, IntArray]  # positions of number cells that are not numbers
    ids: list[str | None] = field(default_factory=list)


def _normalise(
    raw: pd.DataFrame, schema: pa.DataFrameSchema, located: dict[str, int], keep: IntArray
) -> _Cells:
    data: dict[Any, pd.Series] = {}
    cells = _Cells(pd.DataFrame(), {}, {})
    for name, col in canonical_columns(schema).items():
        if name not in located:
            continue
        values = raw.iloc[keep, located[name]]
        cells.raw[name] = values.reset_index(drop=True)
        kind = kind_of(col)
        if kind == "number":
            numbers, _, bad = parse_numbers(values)
            cells.unparsed[name] = np.flatnonzero(bad)
            data[name] = pd.Series(numbers, dtype=np.float64)
        elif kind == "tier":
            tiers = [DEFAULT_TIER if t is None else t.upper() for t in text_values(values)]
            data[name] = pd.Series(tiers, dtype=object)
        else:
            data[name] = pd.Series(text_values(values), dtype=object)
    for i, label in enumerate(raw.columns):
        if str(label) in located or label in data:
            continue
        data[label] = raw.iloc[keep, i].reset_index(drop=True)
    cells.frame = pd.DataFrame(data, index=pd.RangeIndex(len(keep)))
    return cells


def _failures(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> pd.DataFrame:
    """Collect pandera's failure cases (all of them, lazily); empty when the frame passes."""
    try:
        schema.validate(frame, lazy=True, inplace=True)
    except SchemaErrors as exc:
        return exc.failure_cases
    return pd.DataFrame(columns=["column", "check", "check_number", "failure_case", "index"])


def _rule(check: str, number: object, col: pa.Column) -> str:
    if number is None or (isinstance(number, float) and np.isnan(number)):
        return check  # not_nullable, field_uniqueness, dtype(...)
    return str(col.checks[int(number)].name)  # type: ignore[call-overload]


def _rules(col: pa.Column) -> list[str]:
    """List the column's rules in the order a cell is judged (its first broken rule is reported)."""
    rules = ["not_a_number"] if kind_of(col) == "number" else []
    if not col.nullable:
        rules.append("not_nullable")
    if col.unique:
        rules.append("field_uniqueness")
    return rules + [str(check.name) for check in col.checks]


# What each rule says about a cell: message, fix and the summary of the rows past
# MAX_ROWS_PER_PROBLEM. Keys are ``kind.rule`` or just ``rule``; the fields are filled per cell
# (see _Fields): name, meaning, noun, low, high, value (the number), cell (the cell as read,
# quoted), text (the cell as text), row, first_row (of a repeated id) and range_fix.
_WORDS: dict[str, tuple[str, str, str]] = {
    "number.not_a_number": (
        "{name} {cell!r} is not a number",
        "enter {name} as a plain number such as 1234.5, without currency symbols, units, "
        "thousands separators or a decimal comma ({name} is {meaning})",
        "{name} is not a number",
    ),
    "number.not_nullable": (
        "{name} is blank but required for every {noun}",
        "fill in {name} ({meaning}) or delete the row",
        "{name} is blank",
    ),
    "id.not_nullable": (
        "{name} is blank",
        "give every {noun} a unique {name}, or delete the row",
        "{name} is blank",
    ),
    "id.field_uniqueness": (
        "duplicate {name} {text!r}: it appears in row {first_row} and again in row {row}",
        "give each {noun} a unique {name}, or delete the repeated row if it is a copy",
        "{name} repeats an earlier row",
    ),
    "finite": (
        "{name} is infinite ({cell})",
        "enter a finite number ({name} is {meaning})",
        "{name} is infinite",
    ),
    "magnitude": (
        "{name} {value} is beyond the largest magnitude supported (" + _MAX_TEXT + ")",
        "enter {meaning}, at most " + _MAX_TEXT + "; check for a stray exponent or a unit mix-up "
        "(cents for currency, minutes for hours)",
        "{name} is beyond " + _MAX_TEXT,
    ),
    "passthrough_magnitude": (
        "{name} {value} is beyond the largest magnitude supported (" + _MAX_TEXT + ")",
        "enter a finite amount in currency per year, at most " + _MAX_TEXT,
        "{name} is beyond " + _MAX_TEXT,
    ),
    "in_range": (
        "{name} {value} is outside {low}..{high}",
        "{range_fix}",
        "{name} is outside {low}..{high}",
    ),
    "greater_than": (
        "{name} is {value} but must be greater than {low}",
        "enter {meaning}; remove the {noun} from the table if it has no capacity",
        "{name} is not greater than {low}",
    ),
    "greater_than_or_equal_to": (
        "{name} is negative ({value})",
        "correct the value: {name} is {meaning}",
        "{name} is negative",
    ),
    "tier.isin": (
        "tier {text!r} is not A, B or C",
        "use A, B or C (case does not matter), or leave it blank for B",
        "tier is not A, B or C",
    ),
}


class _Wording:
    """The texts of each rule for one column of one table, filled in per cell."""

    def __init__(self, name: str, col: pa.Column, noun: str, cells: _Cells, rows: IntArray):
        self.name, self.col, self.rows = name, col, rows
        self.frame, self.raw = cells.frame, cells.raw.get(name)
        self.kind = kind_of(col)
        self.fixed: dict[str, object] = {"name": name, "meaning": col.description, "noun": noun}
        for check in col.checks:
            for key, bound in (check.statistics or {}).items():
                if key in ("min_value", "max_value") and isinstance(bound, int | float):
                    self.fixed["low" if key == "min_value" else "high"] = fmt_number(bound)
        self.numbers: FloatArray | None = None
        if self.kind == "number" and name in self.frame.columns:
            self.numbers = self.frame[name].to_numpy(dtype=np.float64)
        elif self.kind == "passthrough":
            self.numbers = parse_numbers(self.frame[name])[0]
        self._first: dict[object, int] | None = None

    def texts(self, rule: str) -> _Texts:
        words = _WORDS.get(f"{self.kind}.{rule}") or _WORDS.get(rule)
        if words is None:  # a rule without wording would be a bug in the contract
            words = (
                f"{{name}} breaks the rule {rule}",
                "correct the value: {name} is {meaning}",
                rule,
            )
        message, fix, summary = words
        return (
            lambda p: message.format_map(_Fields(self, p)),
            lambda p: fix.format_map(_Fields(self, p)),
            summary.format_map(_Fields(self, -1)),
        )

    def field(self, key: str, p: int) -> object:
        if key == "value":
            assert self.numbers is not None
            return fmt_number(self.numbers[p])
        if key == "cell":
            return shown(self._cell(p))
        if key == "text":
            return text(self._cell(p))
        if key == "row":
            return int(self.rows[p])
        if key == "first_row":
            return int(self.rows[self._first_of()[self.frame[self.name].iat[p]]])
        if key == "range_fix":
            return self._range_fix(p)
        raise KeyError(key)

    def _cell(self, p: int) -> object:
        assert self.raw is not None
        return self.raw.iloc[p : p + 1].to_numpy(dtype=object)[0]  # as read: no numpy scalar

    def _first_of(self) -> dict[object, int]:
        """Position of the first row of every repeated id."""
        if self._first is None:
            ids = pd.Series(self.frame[self.name], dtype=object)
            missing = ids.isna().to_numpy()
            first = (ids.duplicated(keep=False) & ~ids.duplicated(keep="first")).to_numpy()
            self._first = {ids.iat[int(i)]: int(i) for i in np.flatnonzero(first & ~missing)}
        return self._first

    def _range_fix(self, p: int) -> str:
        # A latitude beyond 90 next to a longitude within 90 is almost always a swapped pair.
        if self.name == "lat" and "lon" in self.frame.columns and self.numbers is not None:
            lon = float(self.frame["lon"].to_numpy(dtype=np.float64)[p])
            if abs(self.numbers[p]) <= 180 and abs(lon) <= 90:
                return (
                    f"lat and lon look swapped (lon is {fmt_number(lon)}); swap the two values "
                    "or columns (lat is north-south, -90..90)"
                )
        return f"correct the value: {self.name} is {self.fixed['meaning']}"


class _Fields(dict[str, object]):
    """The fields of one cell's texts, each computed when a template asks for it."""

    def __init__(self, wording: _Wording, p: int) -> None:
        super().__init__(wording.fixed)
        self.wording, self.p = wording, p

    def __missing__(self, key: str) -> object:
        return self.wording.field(key, self.p)


def _cell_problems(
    schema: pa.DataFrameSchema, cells: _Cells, failures: pd.DataFrame, report: _Reporter
) -> None:
    """Word every failing cell, column by column (contract order, then pass-through columns)."""
    cell_failures = failures[failures["index"].notna()]
    found: dict[tuple[str, str], list[int]] = {}
    for column, check, number, index in zip(
        cell_failures["column"],
        cell_failures["check"],
        cell_failures["check_number"],
        cell_failures["index"],
        strict=True,
    ):
        rule = _rule(str(check), number, schema.columns[column])
        found.setdefault((str(column), rule), []).append(int(index))
    for name, positions in cells.unparsed.items():
        found[(name, "not_a_number")] = positions.tolist()
    present = [str(label) for label in cells.frame.columns]
    order = [n for n in canonical_columns(schema) if n in present]
    order += [n for n in present if n in schema.columns and n not in order]
    noun = str(schema.metadata["noun"])
    n = len(cells.frame)
    for name in order:
        col = schema.columns[name]
        wording = _Wording(name, col, noun, cells, report.rows)
        judged = np.zeros(n, dtype=bool)
        for rule in _rules(col):
            positions = np.unique(np.asarray(found.get((name, rule), []), dtype=np.int64))
            positions = positions[~judged[positions]]
            judged[positions] = True
            if len(positions):
                report.rows_with(name, positions, wording.texts(rule))


def validate_table(
    raw: pd.DataFrame, source: str, first_row: int, schema: pa.DataFrameSchema
) -> Checked:
    """Normalise one table and list every problem in it against its schema (nothing is raised).

    Parameters
    ----------
    raw
        The table as read (``read_table``) or built in memory.
    source
        How problems name the table: the file path, or e.g. ``"accounts (DataFrame)"``.
    first_row
        User-visible row number of the first record: 2 for CSV/XLSX (header is row 1), 1 for
        Parquet and DataFrames.
    schema
        :data:`~territory.domain.contract.ACCOUNTS_SCHEMA` or
        :data:`~territory.domain.contract.REPS_SCHEMA`.

    Returns
    -------
    Checked
        The normalised frame, the problems, the row numbers and the columns found.
    """
    table, noun = str(schema.name), str(schema.metadata["noun"])
    if not isinstance(raw, pd.DataFrame):
        raise TypeError(f"{table} must be a pandas DataFrame, got {type(raw).__name__}")
    all_rows = np.arange(len(raw), dtype=np.int64) + first_row
    header = _locate_columns(raw, schema, source)
    located = header.positions
    columns = canonical_columns(schema)

    # Fully blank rows are spreadsheet padding: skip them but keep row numbers of the others.
    id_col = next(iter(columns))
    keep = np.arange(len(raw), dtype=np.int64)
    if len(raw):
        if id_col in located:
            all_ids = text_values(raw.iloc[:, located[id_col]])
            candidates = np.flatnonzero([v is None for v in all_ids])
        else:
            candidates = keep
        if len(candidates):
            keep = np.setdiff1d(keep, candidates[blank_rows(raw, candidates)])
    rows = all_rows[keep]
    cells = _normalise(raw, schema, located, keep)
    failures = _failures(schema, cells.frame)
    missing = set(failures.loc[failures["check"] == "column_in_dataframe", "failure_case"])
    report = _Reporter(source, rows)
    report.problems = _header_problems(schema, header, missing, raw, source)
    if len(keep) == 0:
        required = ", ".join(n for n, c in columns.items() if c.required)
        report.table(
            f"the {table} table has no data rows", f"add at least one {noun} with {required}"
        )
    _cell_problems(schema, cells, failures, report)
    return Checked(_complete(cells.frame, columns), report.problems, rows, frozenset(located))


def _complete(frame: pd.DataFrame, columns: dict[str, pa.Column]) -> pd.DataFrame:
    """Every canonical column (absent ones blank, tiers ``B``) first, then the others."""
    n = len(frame)
    data: dict[Any, pd.Series] = {}
    for name, col in columns.items():
        if name in frame.columns:
            data[name] = frame[name]
        elif kind_of(col) == "number":
            data[name] = pd.Series(np.full(n, np.nan), dtype=np.float64)
        elif kind_of(col) == "tier":
            data[name] = pd.Series([DEFAULT_TIER] * n, dtype=object)
        else:
            data[name] = pd.Series([None] * n, dtype=object)
    for label in frame.columns:
        if label not in data:
            data[label] = frame[label]
    return pd.DataFrame(data, index=pd.RangeIndex(n))


def validate_accounts(
    raw: pd.DataFrame, source: str, first_row: int = 2
) -> tuple[pd.DataFrame, list[InputProblem]]:
    """Normalise an accounts table and list every problem in it (nothing is raised).

    Parameters
    ----------
    raw, source, first_row
        As for :func:`validate_table`.

    Returns
    -------
    frame : pandas.DataFrame
        The normalised frame (canonical columns first, every optional column present, then the
        pass-through columns; RangeIndex; fully blank rows skipped), trustworthy only when the
        list of problems is empty.
    problems : list of InputProblem
        The problems found.
    """
    checked = validate_table(raw, source, first_row, ACCOUNTS_SCHEMA)
    return checked.frame, checked.problems


def validate_reps(
    raw: pd.DataFrame, source: str, first_row: int = 2
) -> tuple[pd.DataFrame, list[InputProblem]]:
    """Normalise a reps table and list every problem in it (nothing is raised).

    Same conventions as :func:`validate_accounts`; ``tier`` is upper-cased and blank tiers become
    ``"B"``.

    Parameters
    ----------
    raw, source, first_row
        The reps as read, how problems name them and the number of their first row (see
        :func:`validate_table`).

    Returns
    -------
    frame : pandas.DataFrame
        The normalised reps, ``rep_id`` first.
    problems : list of InputProblem
        Everything wrong with the table.
    """
    checked = validate_table(raw, source, first_row, REPS_SCHEMA)
    return checked.frame, checked.problems


def cross_check(
    accounts: Checked, reps: Checked, accounts_source: str, reps_source: str
) -> list[InputProblem]:
    """Accounts may only name reps that exist (an unknown rep could never be honoured).

    Parameters
    ----------
    accounts, reps
        The two validated tables.
    accounts_source, reps_source
        How problems name the two tables.

    Returns
    -------
    list of InputProblem
        One per ``current_rep`` or ``locked_rep`` cell naming an unknown rep (grouped past
        :data:`~territory.domain.contract.MAX_ROWS_PER_PROBLEM`).
    """
    if "rep_id" not in reps.found or len(reps.frame) == 0:
        return []  # already reported; flagging every account would only bury the real cause
    known = set(reps.frame["rep_id"].dropna())
    report = _Reporter(accounts_source, accounts.rows)
    for column in ("current_rep", "locked_rep"):
        if column not in accounts.found:
            continue
        values = accounts.frame[column].to_numpy(dtype=object)
        unknown = np.flatnonzero([v is not None and v not in known for v in values])
        report.rows_with(column, unknown, _unknown_rep_texts(column, values, reps_source))
    return report.problems


def _unknown_rep_texts(column: str, values: npt.NDArray[Any], reps_source: str) -> _Texts:
    return (
        lambda p: f"{column} {values[p]!r} is not a rep_id in the reps table ({reps_source})",
        lambda p: f"add rep {values[p]!r} to the reps table, or blank this cell",
        f"{column} names an unknown rep",
    )


def validate_inputs(
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    accounts_source: str = "accounts (DataFrame)",
    reps_source: str = "reps (DataFrame)",
    accounts_first_row: int = 1,
    reps_first_row: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate and normalise both tables and the references between them.

    Parameters
    ----------
    accounts, reps
        The two tables as read or built in memory.
    accounts_source, reps_source
        How problems name the two tables.
    accounts_first_row, reps_first_row
        User-visible row number of each table's first record.

    Returns
    -------
    accounts : pandas.DataFrame
        The normalised accounts.
    reps : pandas.DataFrame
        The normalised reps.

    Raises
    ------
    DataValidationError
        With every problem of both tables and of ``current_rep``/``locked_rep`` references.
    """
    acc = validate_table(accounts, accounts_source, accounts_first_row, ACCOUNTS_SCHEMA)
    rep = validate_table(reps, reps_source, reps_first_row, REPS_SCHEMA)
    problems = acc.problems + rep.problems + cross_check(acc, rep, accounts_source, reps_source)
    if problems:
        raise DataValidationError(problems)
    return acc.frame, rep.frame
