"""Reading the input tables: CSV, Parquet and XLSX files into frames, then validated.

Reading is strict but does not interpret values: :func:`read_table` refuses what it would misread
(a missing file, a wrong extension, text that is not UTF-8, a CSV row longer than its header, a
repeated column name) and returns the cells as they are; :func:`load_inputs` validates them
against the data contract (:mod:`territory.domain.contract`, :mod:`territory.domain.validation`)
and reports
every problem of both tables at once. Workbooks are read by :mod:`territory.io.sheets`.
"""

from __future__ import annotations

import csv
import difflib
import re
import shlex
import warnings
from collections.abc import Iterator, Sequence
from io import BytesIO, StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from territory.domain.contract import (
    ACCOUNTS_SCHEMA,
    MAX_ROWS_PER_PROBLEM,
    REPS_SCHEMA,
    SUPPORTED_FORMATS,
    canonical_columns,
    has_data,
    none_for_missing,
)
from territory.domain.validation import (
    Checked,
    check_unique_header,
    cross_check,
    file_problem,
    validate_table,
)
from territory.errors import DataValidationError, InputProblem, UsageError
from territory.io.sheets import read_xlsx, workbook_headers

__all__ = [
    "format_of",
    "load_inputs",
    "load_table",
    "read_parquet_columns",
    "read_table",
    "sheet_choice",
]


def format_of(path: Path) -> str | None:
    """Return the table format a file name says (``csv``, ``parquet`` or ``xlsx``).

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    str or None
        The format, or ``None`` for an extension the engine does not read.
    """
    fmt = path.suffix.lower().lstrip(".")
    return fmt if fmt in SUPPORTED_FORMATS else None


def read_table(path: str | Path, sheet: str | None = None) -> pd.DataFrame:
    """Read a CSV, Parquet or XLSX table (chosen by extension) without interpreting its values.

    CSV cells are read as text (so "00123" stays "00123") with ``None`` for empty cells; blank
    lines are kept as empty rows so that positions still match the file's row numbers (the
    validators skip them). XLSX reads ``sheet`` (default: the first worksheet); id and text
    columns known to the data contract are turned into text. Parquet keeps its stored types,
    read as Arrow (:func:`read_parquet_columns`); its text columns become Python strings
    (``None`` when missing) in one vectorised step.

    Parameters
    ----------
    path
        The table file.
    sheet
        The worksheet of an .xlsx file (default: the first).

    Returns
    -------
    pandas.DataFrame
        The cells as read, one column per header name.

    Raises
    ------
    DataValidationError
        The file is missing, has an unsupported extension, cannot be parsed, is not UTF-8 (CSV),
        holds no data rows, repeats a column name, has rows with more cells than the header
        (CSV), merged cells that hide values or no sheet named ``sheet`` (XLSX).
    """
    source = str(path)
    p = Path(path)
    if not p.exists():
        raise file_problem(source, "file not found", _not_found_fix(p))
    if p.is_dir():
        raise file_problem(
            source, "this is a folder, not a file", "give the path of the table file"
        )
    fmt = format_of(p)
    if fmt is None:
        raise file_problem(
            source,
            f"unsupported file type '{p.suffix or '(no extension)'}'",
            _extension_fix(p.suffix.lower()),
        )
    if sheet is not None and fmt != "xlsx":
        raise file_problem(
            source,
            f"a sheet ('{sheet}') was asked for, but a .{fmt} file has no sheets",
            "drop the sheet (--sheet) for this file, or give the .xlsx workbook",
        )
    try:
        if fmt == "csv":
            frame = _read_csv(p, source)
        elif fmt == "xlsx":
            frame = read_xlsx(p, source, sheet)
        else:
            frame = _read_parquet(p, source)
    except OSError as exc:  # permission denied, locked by Excel, vanished, I/O error
        raise file_problem(
            source,
            f"the file cannot be opened ({exc.strerror or type(exc).__name__})",
            "close it in other programs (e.g. Excel) and check read permissions",
        ) from exc
    if len(frame.columns) == 0:
        raise file_problem(
            source,
            "the file is empty (no header and no data)",
            "export the table again with a header row and at least one data row",
        )
    if not has_data(frame):
        raise file_problem(
            source,
            "the table has a header but no data rows",
            "add at least one data row below the header, or point to the right file",
        )
    return frame


def _not_found_fix(p: Path) -> str:
    fix = f"check the path and file name (looked for {p.absolute()})"
    parent = p.parent if str(p.parent) else Path(".")
    if parent.is_dir():
        try:
            siblings = sorted(entry.name for entry in parent.iterdir())[:2000]
        except OSError:
            siblings = []
        close = difflib.get_close_matches(p.name, siblings, n=3, cutoff=0.6)
        if close:
            fix += "; similar files in that folder: " + ", ".join(repr(c) for c in close)
    elif str(parent) not in ("", "."):
        fix += f"; the folder {parent} does not exist either"
    return fix


def _extension_fix(suffix: str) -> str:
    if suffix in (".xls", ".xlsm", ".xlsb", ".ods"):
        return "open it in Excel or LibreOffice and save it as .xlsx (Excel Workbook) or .csv UTF-8"
    if suffix in (".tsv", ".txt", ".tab"):
        return "save it as comma-separated .csv (UTF-8) or rename it to .csv if it already is one"
    return "save the table as .csv (UTF-8), .parquet or .xlsx; the format is chosen by extension"


def _read_csv(p: Path, source: str) -> pd.DataFrame:
    data = p.read_bytes()
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    data = data[bom:]  # Excel's "CSV UTF-8" writes a byte-order mark; it is not data
    if not data.strip():
        raise file_problem(
            source,
            "the file is empty (no header and no data)",
            "export the table again with a header row and at least one data row",
        )
    _check_utf8(data, source, bom)
    header = _csv_header(data)
    if header is not None:
        check_unique_header(header, source, letters=True)
    try:
        with warnings.catch_warnings():
            # index_col=False: a first row longer than the header must not silently become an
            # index (every column shifted by one); pandas then warns instead, caught here.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                BytesIO(data),
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=False,
                encoding="utf-8",
                index_col=False,
            )
    except pd.errors.EmptyDataError as exc:
        raise file_problem(
            source,
            "the file is empty (no header and no data)",
            "export the table again with a header row and at least one data row",
        ) from exc
    except (pd.errors.ParserError, pd.errors.ParserWarning, csv.Error, ValueError) as exc:
        long_rows = _long_rows(data)
        if long_rows:
            raise DataValidationError(_long_row_problems(long_rows, source)) from exc
        match = re.search(r"line (\d+)", str(exc))
        raise file_problem(
            source,
            f"the CSV cannot be parsed: {exc}".rstrip(),
            "make every row have as many comma-separated cells as the header; put cells that "
            'contain commas, quotes or line breaks inside double quotes ("...")',
            row=int(match.group(1)) if match else None,
        ) from exc
    columns = {}
    for label in frame.columns:
        values = np.array(frame[label].to_numpy(dtype=object), dtype=object)
        values[values == ""] = None
        columns[label] = pd.Series(values, dtype=object, name=label)
    return pd.DataFrame(columns, columns=frame.columns)


def _csv_records(data: bytes) -> Iterator[list[str]]:
    """Split the file into records as the csv module does (quotes and embedded line breaks)."""
    return csv.reader(StringIO(data.decode("utf-8", errors="replace"), newline=""))


_HEADER_BYTES = 1 << 20
"""The header is looked for in this much of a CSV; a longer header is left to pandas."""


def _csv_header(data: bytes) -> list[str] | None:
    """Return the header record, or ``None`` when the csv module cannot split it."""
    head = data[:_HEADER_BYTES]
    try:
        records = _csv_records(head)
        header = next(records, None)
        if header is not None and len(head) < len(data) and next(records, None) is None:
            return None  # the header runs past the part read: it may be cut short
    except csv.Error:
        return None
    return header


def _long_rows(data: bytes) -> list[tuple[int, int, int]]:
    """``(row, fields, header fields)`` of every record with more cells than the header."""
    out: list[tuple[int, int, int]] = []
    try:
        records = _csv_records(data)
        header = next(records, None)
        if header is None:
            return out
        for row, fields in enumerate(records, start=2):
            if len(fields) > len(header):
                out.append((row, len(fields), len(header)))
    except csv.Error:
        return out
    return out


def _long_row_problems(rows: list[tuple[int, int, int]], source: str) -> list[InputProblem]:
    fix = (
        "delete the extra separators (often a trailing comma), put cells that contain commas "
        'inside double quotes ("..."), or add a name to the header for the extra column'
    )
    problems = [
        InputProblem(
            source,
            row,
            None,
            f"the CSV cannot be parsed: this row has {fields} fields but the header has "
            f"{width}, so its cells would shift into the wrong columns",
            fix,
        )
        for row, fields, width in rows[:MAX_ROWS_PER_PROBLEM]
    ]
    rest = rows[MAX_ROWS_PER_PROBLEM:]
    if rest:
        listed = ", ".join(str(r[0]) for r in rest[:5]) + (", ..." if len(rest) > 5 else "")
        problems.append(
            InputProblem(
                source,
                None,
                None,
                f"and {len(rest)} more rows with more fields than the header (rows {listed})",
                fix,
            )
        )
    return problems


def _check_utf8(data: bytes, source: str, skipped: int) -> None:
    """Fail with the byte offset and line of the first byte that is not UTF-8."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start + skipped
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start : min(exc.end, exc.start + 4)]
        hint = ""
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            hint = " (it looks like UTF-16, e.g. Excel's 'Unicode Text')"
        raise file_problem(
            source,
            f"the file is not UTF-8 text{hint}: byte(s) 0x{bad.hex()} at byte offset {offset} "
            f"(line {line}) cannot be decoded",
            "re-save the file with UTF-8 encoding (in Excel: Save As > 'CSV UTF-8 (Comma "
            "delimited)'; in other tools choose encoding UTF-8)",
            row=line,
        ) from exc


def read_parquet_columns(
    path: str | Path,
    columns: Sequence[str] | None = None,
    extra: Sequence[str] = (),
    *,
    widen_floats: bool = True,
) -> pd.DataFrame:
    """Read only the wanted columns of a Parquet file, text as Arrow strings, numbers as stored.

    At a million accounts the full table with Python-object strings takes several times the
    memory of the numbers the solve needs; Arrow-backed strings keep ids compact (one buffer,
    no object per account).

    Parameters
    ----------
    path
        The Parquet file.
    columns, extra
        The columns to read, in this order; names the file lacks are skipped. ``None`` reads
        every column (a stored pandas index comes back as the index, as pandas reads it).
    widen_floats
        Turn float32 columns into float64 (money and coordinates); off, numbers keep the type
        stored.

    Returns
    -------
    pandas.DataFrame
        Text columns as ``pd.ArrowDtype`` strings (missing cells ``pd.NA``).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if columns is None:
        table = pq.read_table(path, use_pandas_metadata=True)
    else:
        names = pq.read_schema(path).names
        table = pq.read_table(path, columns=[c for c in (*columns, *extra) if c in names])
    arrow = {pa.string(): pd.ArrowDtype(pa.string())}
    arrow[pa.large_string()] = pd.ArrowDtype(pa.large_string())
    frame = table.to_pandas(types_mapper=arrow.get)
    for name in frame.columns if widen_floats else ():
        if pd.api.types.is_float_dtype(frame[name].dtype) and frame[name].dtype != np.float64:
            frame[name] = frame[name].astype(np.float64)  # money and coordinates stay float64
    return frame


def _read_parquet(p: Path, source: str) -> pd.DataFrame:
    import pyarrow.parquet as pq

    def damaged(exc: Exception) -> DataValidationError:
        return file_problem(
            source,
            f"the file cannot be read as Parquet ({type(exc).__name__}: {exc})",
            "export the table again as Parquet, or as .csv (UTF-8) or .xlsx",
        )

    try:
        names = pq.read_schema(p).names
    except (PermissionError, FileNotFoundError):
        raise
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for damaged files
        raise damaged(exc) from exc
    # pyarrow refuses to convert a schema that repeats a name, with a cryptic message.
    check_unique_header(names, source, letters=False, where="schema")
    try:
        # Every column: the run writes the accounts and reps it solved with all their columns.
        frame = read_parquet_columns(p, widen_floats=False)
    except (PermissionError, FileNotFoundError):
        raise
    except Exception as exc:
        raise damaged(exc) from exc
    frame = frame.reset_index(drop=True)
    columns = {}
    for label in frame.columns:
        values = frame[label]
        if pd.api.types.is_string_dtype(values.dtype) and not pd.api.types.is_object_dtype(
            values.dtype
        ):
            values = none_for_missing(values)
        columns[label] = values
    return pd.DataFrame(columns, columns=frame.columns)


def _first_row(path: str | Path) -> int:
    return 1 if format_of(Path(path)) == "parquet" else 2


def load_inputs(
    accounts_path: str | Path,
    reps_path: str | Path,
    *,
    accounts_sheet: str | None = None,
    reps_sheet: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read and validate the accounts and reps files, reporting all problems of both at once.

    A table that cannot be read at all is reported together with every problem of the other.

    Parameters
    ----------
    accounts_path, reps_path
        The two tables (CSV, Parquet or XLSX).
    accounts_sheet, reps_sheet
        The worksheet of an .xlsx input (default: the first); when the sheet read lacks required
        columns, the problems name the workbook's sheets that have them.

    Returns
    -------
    accounts : pandas.DataFrame
        The normalised accounts (see :func:`territory.domain.validation.validate_accounts`).
    reps : pandas.DataFrame
        The normalised reps.

    Raises
    ------
    DataValidationError
        With every problem of both files and of the references between them.
    """
    checked: list[Checked | None] = []
    problems: list[InputProblem] = []
    for path, sheet, schema in (
        (accounts_path, accounts_sheet, ACCOUNTS_SCHEMA),
        (reps_path, reps_sheet, REPS_SCHEMA),
    ):
        try:
            raw = read_table(path, sheet=sheet)
        except DataValidationError as exc:
            problems.extend(exc.problems)
            checked.append(None)
            continue
        result = validate_table(raw, str(path), _first_row(path), schema)
        if format_of(Path(path)) == "xlsx":  # "wrong sheet" first: it explains the rest
            problems.extend(_other_sheets_hint(Path(path), sheet, schema, result.found))
        problems.extend(result.problems)
        checked.append(result)
    acc, rep = checked
    if acc is not None and rep is not None:
        problems.extend(cross_check(acc, rep, str(accounts_path), str(reps_path)))
    if problems or acc is None or rep is None:
        raise DataValidationError(problems)
    return acc.frame, rep.frame


def load_table(path: str | Path, table: str, *, sheet: str | None = None) -> pd.DataFrame:
    """Read and validate one input table (see :func:`load_inputs`).

    Parameters
    ----------
    path
        The table file.
    table
        ``"accounts"`` or ``"reps"``.
    sheet
        The worksheet of an .xlsx file (default: the first).

    Returns
    -------
    pandas.DataFrame
        The normalised table.

    Raises
    ------
    DataValidationError
        With every problem of the file.
    """
    if table not in ("accounts", "reps"):
        raise ValueError(f"table must be 'accounts' or 'reps', not {table!r}")
    schema = ACCOUNTS_SCHEMA if table == "accounts" else REPS_SCHEMA
    raw = read_table(path, sheet=sheet)
    result = validate_table(raw, str(path), _first_row(path), schema)
    problems = list(result.problems)
    if format_of(Path(path)) == "xlsx":
        problems = _other_sheets_hint(Path(path), sheet, schema, result.found) + problems
    if problems:
        raise DataValidationError(problems)
    return result.frame


def _other_sheets_hint(
    path: Path, sheet: str | None, schema: pa.DataFrameSchema, found: frozenset[str]
) -> list[InputProblem]:
    """When the sheet read lacks required columns, name the workbook's sheets that have them."""
    table = str(schema.name)
    required = [n for n, c in canonical_columns(schema).items() if c.required]
    if all(name in found for name in required):
        return []
    headers = workbook_headers(path)
    if not headers:
        return []
    read = sheet if sheet in headers else next(iter(headers))
    if sheet is not None and sheet not in headers:
        folded = [n for n in headers if n.casefold() == sheet.casefold()]
        read = folded[0] if len(folded) == 1 else read
    having = [
        name
        for name, columns in headers.items()
        if name != read and all(c in columns for c in required)
    ]
    listed = ", ".join(f"'{n}'" for n in headers)
    if having:
        message = (
            f"sheet '{read}' lacks the {table} table's required columns, but sheet(s) "
            + ", ".join(f"'{n}'" for n in having)
            + f" have them (sheets in the workbook: {listed})"
        )
        fix = f"choose that sheet with --sheet {shlex.quote(f'{table}={having[0]}')}"
    elif len(headers) > 1:
        message = (
            f"sheet '{read}' lacks the {table} table's required columns and no other sheet has "
            f"all of them (sheets in the workbook: {listed})"
        )
        fix = f"put the {table} table with a header row in row 1 of one sheet"
    else:
        return []
    return [InputProblem(str(path), None, None, message, fix)]


def sheet_choice(
    values: Sequence[str], accounts_path: str | Path | None, reps_path: str | Path | None
) -> tuple[str | None, str | None]:
    """Which worksheet to read for the accounts and the reps, from ``--sheet`` values.

    Each value is ``NAME`` (every .xlsx input) or ``accounts=NAME`` / ``reps=NAME``.

    Parameters
    ----------
    values
        The ``--sheet`` values, in order.
    accounts_path, reps_path
        The two input files (None when not given).

    Returns
    -------
    tuple
        The sheet for the accounts and for the reps (None: the first sheet).

    Raises
    ------
    UsageError
        A value is blank, repeats a table, or names a sheet while no input is a workbook.
    """
    chosen: dict[str, str] = {}
    for value in values:
        table, sep, name = value.partition("=")
        if sep and table.strip().lower() in ("accounts", "reps"):
            targets = [table.strip().lower()]
        else:
            targets, name = ["accounts", "reps"], value
            paths = {"accounts": accounts_path, "reps": reps_path}
            targets = [t for t in targets if paths[t] is not None]
            targets = [t for t in targets if format_of(Path(str(paths[t]))) == "xlsx"]
            if not targets:
                raise UsageError(
                    f"--sheet '{value}': neither the accounts nor the reps file is an .xlsx "
                    "workbook; drop --sheet"
                )
        if not name.strip():
            raise UsageError(f"--sheet '{value}' names no sheet; use NAME or accounts=NAME")
        for target in targets:
            if target in chosen and chosen[target] != name:
                raise UsageError(
                    f"--sheet gives two sheets for the {target} table ('{chosen[target]}' and "
                    f"'{name}'); give one"
                )
            chosen[target] = name
    return chosen.get("accounts"), chosen.get("reps")


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------
