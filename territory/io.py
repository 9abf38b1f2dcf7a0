"""Reading, validating and writing the engine's tables (CSV, Parquet and XLSX).

All file IO lives here. Reading is strict but lazy: every problem in both input tables (and in the
references between them) is collected and raised as one ``DataValidationError``, each problem
naming the file, the row as the user sees it, the column and a concrete fix. Someone repairing a
spreadsheet wants the whole list at once, not one error per run.

Writing is deterministic (identical inputs give byte-identical files, so outputs can be diffed and
cached) and atomic per output folder (a crash never leaves a half-written folder behind).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import difflib
import enum
import json
import math
import re
import shlex
import shutil
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from io import BytesIO, StringIO
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from territory.errors import DataValidationError, InputProblem, UsageError

__all__ = [
    "ACCOUNT_OPTIONAL_COLUMNS",
    "ACCOUNT_REQUIRED_COLUMNS",
    "DEFAULT_TIER",
    "MAX_MAGNITUDE",
    "MAX_TOTAL_MAGNITUDE",
    "REP_OPTIONAL_COLUMNS",
    "REP_REQUIRED_COLUMNS",
    "SUPPORTED_FORMATS",
    "TIERS",
    "excel_safe",
    "load_inputs",
    "load_table",
    "read_table",
    "sheet_choice",
    "validate_accounts",
    "validate_inputs",
    "validate_reps",
    "workbook_headers",
    "write_outputs",
    "write_table",
]

SUPPORTED_FORMATS = ("csv", "parquet", "xlsx")
"""File formats understood by ``read_table`` and ``write_table``, chosen by file extension."""

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

_MAX_TEXT = f"{MAX_MAGNITUDE:.0e}".replace("+", "")  # "1e12" in messages

MAX_TOTAL_MAGNITUDE = 1e18
"""Largest magnitude accepted for totals (a territory's potential, a company target): a million
rows at :data:`MAX_MAGNITUDE`."""

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

# Cells that mean "no value" in a numeric column. Text columns only treat whitespace as blank, so
# an id such as "NA" (Namibia, a rep's initials) is never silently lost.
_NA_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "#n/a", "-nan"})

# Column contents that pd.to_numeric can parse without help (no booleans or other objects).
_FAST_NUMERIC_KINDS = frozenset({"string", "empty", "floating", "integer", "mixed-integer-float"})

# Characters that make Excel or LibreOffice read a cell as a formula (CSV/formula injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_STARTS = frozenset("=+-@")

# Account columns that the engine does not parse itself but the quota step sums per territory:
# checked for infinite and oversized numbers so that those sums stay finite.
_HISTORY_PASS_THROUGH = ("revenue_prior_year", "revenue_two_years_ago", "quota_last_year")

# Fixed timestamp for XLSX metadata and zip entries, so repeated writes are byte-identical.
_FIXED_TIMESTAMP = dt.datetime(2000, 1, 1)
_ZIP_TIMESTAMP = (2000, 1, 1, 0, 0, 0)

# Floats below this magnitude hold integers exactly, so 123.0 can safely become the id "123".
_EXACT_INT_LIMIT = 2.0**53

# Characters that XML 1.0 (and so XLSX) cannot store at all.
_ILLEGAL_XML_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


# --------------------------------------------------------------------------------------------
# Column contracts
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    """One column of an input table: how to parse it and which values are allowed.

    ``kind`` is ``"id"`` (unique text), ``"text"``, ``"number"`` or ``"tier"``. ``low``/``high``
    bound numbers (``low_open`` makes the lower bound strict). ``meaning`` ends up in fixes, so
    it says what the column holds and in which unit.
    """

    name: str
    kind: str
    required: bool = False
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    meaning: str = ""
    aliases: tuple[str, ...] = ()


_ACCOUNT_SPEC: tuple[_Column, ...] = (
    _Column(
        "account_id",
        "id",
        required=True,
        meaning="a unique id per account",
        aliases=("account", "accountnumber", "accountno", "customerid", "customer", "id"),
    ),
    _Column(
        "lat",
        "number",
        required=True,
        low=-90.0,
        high=90.0,
        meaning="latitude in WGS84 decimal degrees, -90..90",
        aliases=("latitude", "y"),
    ),
    _Column(
        "lon",
        "number",
        required=True,
        low=-180.0,
        high=180.0,
        meaning="longitude in WGS84 decimal degrees, -180..180",
        aliases=("longitude", "lng", "long", "x"),
    ),
    _Column(
        "potential",
        "number",
        required=True,
        low=0.0,
        meaning="sales potential in currency per year, 0 or more",
        aliases=("salespotential", "potentialperyear"),
    ),
    _Column(
        "workload",
        "number",
        required=True,
        low=0.0,
        meaning="workload in hours per year, 0 or more",
        aliases=("workloadhours", "hours", "workloadperyear"),
    ),
    _Column(
        "current_rep",
        "text",
        meaning="the rep_id currently serving the account, or blank",
        aliases=("currentrepid", "rep", "repid", "owner"),
    ),
    _Column(
        "revenue_last_year",
        "number",
        low=0.0,
        meaning="last year's revenue in currency, 0 or more, blank if unknown",
        aliases=("revenue", "lastyearrevenue", "revenuely"),
    ),
    _Column("name", "text", meaning="the account's name", aliases=("accountname",)),
    _Column("segment", "text", meaning="the account's segment"),
    _Column(
        "locked_rep",
        "text",
        meaning="the rep_id the account must stay with, or blank",
        aliases=("lockedrepid", "lock", "lockedto"),
    ),
    _Column(
        "unit_id",
        "text",
        meaning="the geographic unit, e.g. a ZIP code",
        aliases=("unit", "zip", "zipcode", "postcode", "postalcode"),
    ),
)

_REP_SPEC: tuple[_Column, ...] = (
    _Column(
        "rep_id",
        "id",
        required=True,
        meaning="a unique id per rep",
        aliases=("rep", "salesrep", "salesrepid", "id"),
    ),
    _Column(
        "lat",
        "number",
        required=True,
        low=-90.0,
        high=90.0,
        meaning="latitude of the rep's home base in WGS84 decimal degrees, -90..90",
        aliases=("latitude", "y"),
    ),
    _Column(
        "lon",
        "number",
        required=True,
        low=-180.0,
        high=180.0,
        meaning="longitude of the rep's home base in WGS84 decimal degrees, -180..180",
        aliases=("longitude", "lng", "long", "x"),
    ),
    _Column(
        "capacity",
        "number",
        required=True,
        low=0.0,
        low_open=True,
        meaning="the rep's available selling time in hours per year, more than 0",
        aliases=("capacityhours", "hours", "capacityperyear"),
    ),
    _Column("tier", "tier", meaning="the rep's tier: A, B or C, blank meaning B"),
    _Column(
        "rating",
        "number",
        low=0.0,
        high=1.0,
        meaning="a rating between 0 and 1, blank if unknown",
        aliases=("score",),
    ),
    _Column("name", "text", meaning="the rep's name", aliases=("repname",)),
    _Column("role", "text", meaning="the rep's role"),
)

ACCOUNT_REQUIRED_COLUMNS = tuple(c.name for c in _ACCOUNT_SPEC if c.required)
ACCOUNT_OPTIONAL_COLUMNS = tuple(c.name for c in _ACCOUNT_SPEC if not c.required)
REP_REQUIRED_COLUMNS = tuple(c.name for c in _REP_SPEC if c.required)
REP_OPTIONAL_COLUMNS = tuple(c.name for c in _REP_SPEC if not c.required)
_TEXT_COLUMNS = frozenset(c.name for c in _ACCOUNT_SPEC + _REP_SPEC if c.kind != "number")


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def _format_of(path: Path) -> str | None:
    fmt = path.suffix.lower().lstrip(".")
    return fmt if fmt in SUPPORTED_FORMATS else None


def _fail(source: str, message: str, fix: str, row: int | None = None) -> DataValidationError:
    return DataValidationError([InputProblem(source, row, None, message, fix)])


def read_table(path: str | Path, sheet: str | None = None) -> pd.DataFrame:
    """Read a CSV, Parquet or XLSX table (chosen by extension) without interpreting its values.

    CSV cells are read as text (so "00123" stays "00123") with ``None`` for empty cells; blank
    lines are kept as empty rows so that positions still match the file's row numbers (the
    validators skip them). XLSX reads ``sheet`` (default: the first worksheet); id and text
    columns known to the data contract are turned into text. Parquet keeps its stored types.

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
        raise _fail(source, "file not found", _not_found_fix(p))
    if p.is_dir():
        raise _fail(source, "this is a folder, not a file", "give the path of the table file")
    fmt = _format_of(p)
    if fmt is None:
        raise _fail(
            source,
            f"unsupported file type '{p.suffix or '(no extension)'}'",
            _extension_fix(p.suffix.lower()),
        )
    if sheet is not None and fmt != "xlsx":
        raise _fail(
            source,
            f"a sheet ('{sheet}') was asked for, but a .{fmt} file has no sheets",
            "drop the sheet (--sheet) for this file, or give the .xlsx workbook",
        )
    try:
        if fmt == "csv":
            frame = _read_csv(p, source)
        elif fmt == "xlsx":
            frame = _read_xlsx(p, source, sheet)
        else:
            frame = _read_parquet(p, source)
    except OSError as exc:  # permission denied, locked by Excel, vanished, I/O error
        raise _fail(
            source,
            f"the file cannot be opened ({exc.strerror or type(exc).__name__})",
            "close it in other programs (e.g. Excel) and check read permissions",
        ) from exc
    if len(frame.columns) == 0:
        raise _fail(
            source,
            "the file is empty (no header and no data)",
            "export the table again with a header row and at least one data row",
        )
    if not _has_data(frame):
        raise _fail(
            source,
            "the table has a header but no data rows",
            "add at least one data row below the header, or point to the right file",
        )
    return frame


def _column_name(position: int, letters: bool) -> str:
    """``4 (D)``: a 1-based column position, with its spreadsheet letter for CSV and XLSX."""
    if not letters:
        return str(position)
    label, n = "", position
    while n > 0:
        n, rest = divmod(n - 1, 26)
        label = chr(65 + rest) + label
    return f"{position} ({label})"


def _check_unique_header(
    names: Sequence[object], source: str, letters: bool, where: str = "header"
) -> None:
    """Refuse a header that names one column twice (readers would rename or drop the second)."""
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
        raise _fail(
            source,
            "the file is empty (no header and no data)",
            "export the table again with a header row and at least one data row",
        )
    _check_utf8(data, source, bom)
    header = _csv_header(data)
    if header is not None:
        _check_unique_header(header, source, letters=True)
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
        raise _fail(
            source,
            "the file is empty (no header and no data)",
            "export the table again with a header row and at least one data row",
        ) from exc
    except (pd.errors.ParserError, pd.errors.ParserWarning, csv.Error, ValueError) as exc:
        long_rows = _long_rows(data)
        if long_rows:
            raise DataValidationError(_long_row_problems(long_rows, source)) from exc
        match = re.search(r"line (\d+)", str(exc))
        raise _fail(
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
    """The file's records as the csv module splits them (quotes and embedded line breaks)."""
    return csv.reader(StringIO(data.decode("utf-8", errors="replace"), newline=""))


_HEADER_BYTES = 1 << 20
"""The header is looked for in this much of a CSV; a longer header is left to pandas."""


def _csv_header(data: bytes) -> list[str] | None:
    """The header record, or ``None`` when the csv module cannot split it (pandas will say)."""
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
        raise _fail(
            source,
            f"the file is not UTF-8 text{hint}: byte(s) 0x{bad.hex()} at byte offset {offset} "
            f"(line {line}) cannot be decoded",
            "re-save the file with UTF-8 encoding (in Excel: Save As > 'CSV UTF-8 (Comma "
            "delimited)'; in other tools choose encoding UTF-8)",
            row=line,
        ) from exc


def _read_xlsx(p: Path, source: str, sheet: str | None = None) -> pd.DataFrame:
    try:
        with pd.ExcelFile(p, engine="openpyxl") as book:
            names = [str(n) for n in book.sheet_names]
            chosen = _pick_sheet(names, sheet, source)
            frame = pd.read_excel(book, sheet_name=chosen, dtype=object)
            worksheet = book.book[chosen]
            first = next(worksheet.iter_rows(min_row=1, max_row=1, values_only=True), ())
            header = list(first)
    except DataValidationError:
        raise
    except OSError:
        raise
    except Exception as exc:  # openpyxl raises many types for damaged or foreign files
        raise _fail(
            source,
            f"the file cannot be read as an Excel workbook ({type(exc).__name__}: {exc})",
            "open it in Excel and save it again as .xlsx (Excel Workbook), or export it as CSV",
        ) from exc
    where = f"header of sheet '{chosen}'" if len(names) > 1 else "header"
    _check_unique_header(header, source, letters=True, where=where)
    frame.columns = pd.Index([str(c) for c in frame.columns], dtype=object)
    _check_merged_cells(p, source, chosen, frame, header)
    columns: dict[str, pd.Series] = {}
    for label in frame.columns:
        values = frame[label]
        if label in _TEXT_COLUMNS:
            columns[label] = pd.Series(_text_values(values), dtype=object, name=label)
        else:
            columns[label] = _none_for_missing(values)
    return pd.DataFrame(columns, columns=frame.columns)


def _pick_sheet(names: list[str], sheet: str | None, source: str) -> str:
    """The sheet asked for (exact name, else the one name that matches ignoring case)."""
    if not names:
        raise _fail(source, "the workbook has no worksheets", "add a sheet with the table")
    if sheet is None:
        return names[0]
    if sheet in names:
        return sheet
    folded = [n for n in names if n.casefold() == sheet.casefold()]
    if len(folded) == 1:
        return folded[0]
    listed = ", ".join(repr(n) for n in names)
    raise _fail(
        source,
        f"the workbook has no sheet named '{sheet}'; its sheets are {listed}",
        "pass one of these names with --sheet (quote names with spaces)",
    )


def workbook_headers(path: str | Path) -> dict[str, list[str]]:
    """The header row (first row, as text) of every sheet of an .xlsx workbook, in order.

    Used to point at the sheet holding a table when the one read lacks its columns; returns an
    empty mapping for anything that cannot be read as a workbook.
    """
    from openpyxl import load_workbook

    headers: dict[str, list[str]] = {}
    try:
        book = load_workbook(path, read_only=True, data_only=True)
        try:
            for worksheet in book.worksheets:
                first = next(worksheet.iter_rows(min_row=1, max_row=1, values_only=True), ())
                headers[str(worksheet.title)] = [
                    str(v).strip() for v in first if v is not None and str(v).strip()
                ]
        finally:
            book.close()
    except Exception:  # a damaged workbook is reported by read_table; this is only a hint
        return {}
    return headers


_MERGE_REF = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?mergeCell\b[^>]*?\bref\s*=\s*[\"']([A-Za-z]+[0-9]+(?::[A-Za-z]+[0-9]+)?)[\"']"
)
_CELL_REF = re.compile(r"([A-Za-z]+)([0-9]+)")


def _sheet_member(archive: zipfile.ZipFile, sheet: str) -> str | None:
    """Path inside the .xlsx zip of the worksheet named ``sheet`` (via workbook.xml and rels)."""
    import xml.etree.ElementTree as ET

    def local(tag: str) -> str:
        return tag.rsplit("}", 1)[-1]

    workbook = ET.fromstring(archive.read("xl/workbook.xml"))
    rel_id = None
    for element in workbook.iter():
        if local(element.tag) == "sheet" and element.get("name") == sheet:
            rel_id = next((v for k, v in element.attrib.items() if local(k) == "id"), None)
    if rel_id is None:
        return None
    rels = ET.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    for element in rels.iter():
        if local(element.tag) == "Relationship" and element.get("Id") == rel_id:
            target = element.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    return None


def _merged_ranges(p: Path, sheet: str) -> list[str]:
    """Every merged range of one worksheet (``A2:A5``), read from the sheet's XML.

    openpyxl's read-only mode (which pandas uses) skips merged cells, and loading the workbook
    in full just for them would cost the whole sheet in memory.
    """
    with zipfile.ZipFile(p) as archive:
        member = _sheet_member(archive, sheet)
        if member is None or member not in archive.namelist():
            return []
        found: list[str] = []
        tail = b""
        with archive.open(member) as stream:
            while chunk := stream.read(1 << 20):
                block = tail + chunk
                cut = block.rfind(b"<")  # a tag cut by the chunk boundary waits for the rest
                cut = len(block) if cut < 0 else cut
                found += [m.decode("ascii") for m in _MERGE_REF.findall(block[:cut])]
                tail = block[cut:]
            found += [m.decode("ascii") for m in _MERGE_REF.findall(tail)]
    return list(dict.fromkeys(r.upper() for r in found if ":" in r))


def _cell_position(ref: str) -> tuple[int, int]:
    """``B3`` -> (row 3, column 2), both 1-based."""
    match = _CELL_REF.fullmatch(ref)
    if match is None:
        raise ValueError(ref)
    column = 0
    for letter in match.group(1).upper():
        column = column * 26 + ord(letter) - 64
    return int(match.group(2)), column


def _check_merged_cells(
    p: Path, source: str, sheet: str, frame: pd.DataFrame, header: list[object]
) -> None:
    """Refuse merged ranges whose value spreads over cells that read as blank."""
    try:
        ranges = _merged_ranges(p, sheet)
    except (zipfile.BadZipFile, KeyError, OSError, SyntaxError, ValueError):
        return  # pandas could read the workbook; an unusual layout only skips this check
    hiding = []
    for ref in ranges:
        try:
            row, column = _cell_position(ref.split(":")[0])
        except ValueError:
            continue
        if row == 1:
            value = header[column - 1] if column <= len(header) else None
        elif row - 2 < len(frame) and column <= frame.shape[1]:
            value = frame.iat[row - 2, column - 1]
        else:
            value = None
        if not (_is_missing(value) or (isinstance(value, str) and not value.strip())):
            hiding.append(ref)
    if not hiding:
        return
    shown = ", ".join(hiding[:20]) + (f" and {len(hiding) - 20} more" if len(hiding) > 20 else "")
    raise DataValidationError(
        [
            InputProblem(
                source,
                None,
                None,
                f"sheet '{sheet}' has merged cells ({shown}): only the first cell of each range "
                "holds the value, every other cell in it reads as blank",
                "select the sheet, unmerge the cells (Home > Merge & Center > Unmerge Cells) and "
                "fill the value into every row, then save; or export the sheet as CSV",
            )
        ]
    )


def _read_parquet(p: Path, source: str) -> pd.DataFrame:
    import pyarrow.parquet as pq

    def damaged(exc: Exception) -> DataValidationError:
        return _fail(
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
    _check_unique_header(names, source, letters=False, where="schema")
    try:
        frame = pd.read_parquet(p)
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
            values = _none_for_missing(values)
        columns[label] = values
    return pd.DataFrame(columns, columns=frame.columns)


def _none_for_missing(values: pd.Series) -> pd.Series:
    """Object column with ``None`` (not NaN or pd.NA) for missing cells."""
    obj = values.to_numpy(dtype=object)
    return pd.Series([None if _is_missing(v) else v for v in obj], dtype=object, name=values.name)


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


# --------------------------------------------------------------------------------------------
# Cell conversion
# --------------------------------------------------------------------------------------------


def _text(value: object) -> str | None:
    """Cell as stripped text; numbers that Excel or Parquet stored as numbers become ids."""
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    if _is_missing(value):
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


def _text_values(values: pd.Series) -> list[str | None]:
    raw = values.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(raw, skipna=True) in ("string", "empty"):
        # Fast path for the usual all-text column: only str and missing values.
        return [(v.strip() or None) if v.__class__ is str else None for v in raw]
    return [_text(v) for v in raw]


def _parse_numbers(values: pd.Series) -> tuple[FloatArray, BoolArray, BoolArray]:
    """Numbers, blank mask and not-a-number mask of one column (text is parsed here)."""
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
            if _is_missing(value) or (
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
        elif _is_missing(value):
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


def _has_data(frame: pd.DataFrame) -> bool:
    """Whether any cell holds something (stops at the first one, usually in row one)."""
    for i in range(frame.shape[1]):
        for value in frame.iloc[:, i].to_numpy(dtype=object):
            if not (_is_missing(value) or (isinstance(value, str) and not value.strip())):
                return True
    return False


def _blank_rows(frame: pd.DataFrame, positions: IntArray) -> BoolArray:
    """Which of ``positions`` are rows where every cell is blank (spreadsheet padding)."""
    blank = np.ones(len(positions), dtype=bool)
    for i in range(frame.shape[1]):
        if not blank.any():
            break
        column = frame.iloc[positions, i].to_numpy(dtype=object)
        for j in np.flatnonzero(blank):
            value = column[j]
            if not (_is_missing(value) or (isinstance(value, str) and not value.strip())):
                blank[j] = False
    return blank


def _fmt(value: float) -> str:
    value = float(value)
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _shown(value: object) -> str:
    text = value.strip() if isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


@dataclass
class _Checked:
    """Result of validating one table; ``rows`` are the user-visible row numbers per frame row."""

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

    def rows_with(
        self,
        column: str,
        positions: IntArray,
        message: Callable[[int], str],
        fix: Callable[[int], str],
        summary: str,
    ) -> None:
        """One problem per position (frame positions), the rest as one summary problem."""
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


def _normalise_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _locate_columns(
    raw: pd.DataFrame, spec: tuple[_Column, ...], report: _Reporter, table: str
) -> dict[str, int]:
    """Position of each known column; reports duplicates, missing and misspelt columns."""
    names = [str(label) for label in raw.columns]
    known = {c.name for c in spec}
    positions: dict[str, int] = {}
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            if seen[name] >= 0:
                count = names.count(name)
                report.table(
                    f"column '{name}' appears {count} times in the header",
                    "keep one column with that name and rename or delete the others",
                    column=name,
                )
                seen[name] = -1
            continue
        seen[name] = i
        if name in known:
            positions[name] = i
    unmatched = [n for n in dict.fromkeys(names) if n not in known]
    shown = ", ".join(repr(n) for n in names[:30]) + (", ..." if len(names) > 30 else "")
    for col in spec:
        if col.name in positions:
            continue
        # Optional columns only match on spelling ("Locked Rep"); their aliases would turn too
        # many innocent pass-through columns ("zip", "owner") into errors.
        wanted = {_normalise_name(col.name), *(col.aliases if col.required else ())}
        near = [n for n in unmatched if _normalise_name(n) in wanted]
        if not near and col.required:
            by_norm = {_normalise_name(n): n for n in unmatched}
            close = difflib.get_close_matches(_normalise_name(col.name), list(by_norm), 1, 0.8)
            near = [by_norm[c] for c in close]
        if col.required:
            if near:
                fix = (
                    f"rename column '{near[0]}' to '{col.name}' (column names are exact: lower "
                    "case, underscores, no spaces)"
                )
            elif len(names) == 1 and any(sep in names[0] for sep in (";", "\t", "|")):
                fix = (
                    "the header is one single column, so the file probably uses ';', tab or '|' "
                    "as separator; save it as comma-separated CSV"
                )
            else:
                fix = f"add a column named '{col.name}' holding {col.meaning}"
            report.table(
                f"required column '{col.name}' is missing from the {table} table "
                f"(columns found: {shown})",
                fix,
                column=col.name,
            )
        elif near:
            report.table(
                f"column '{near[0]}' looks like the optional column '{col.name}' but is not "
                "named exactly so, and would be ignored",
                f"rename it to '{col.name}' ({col.meaning}), or give it a clearly different name "
                "if it means something else",
                column=near[0],
            )
    return positions


def _validate_table(
    raw: pd.DataFrame,
    source: str,
    first_row: int,
    spec: tuple[_Column, ...],
    table: str,
    noun: str,
) -> _Checked:
    if not isinstance(raw, pd.DataFrame):
        raise TypeError(f"{table} must be a pandas DataFrame, got {type(raw).__name__}")
    all_rows = np.arange(len(raw), dtype=np.int64) + first_row
    report = _Reporter(source, all_rows)
    located = _locate_columns(raw, spec, report, table)

    # Fully blank rows are spreadsheet padding: skip them but keep row numbers of the others.
    id_col = spec[0].name
    keep = np.arange(len(raw), dtype=np.int64)
    all_ids: list[str | None] | None = None
    if len(raw):
        if id_col in located:
            all_ids = _text_values(raw.iloc[:, located[id_col]])
            candidates = np.flatnonzero([v is None for v in all_ids])
        else:
            candidates = keep
        if len(candidates):
            blank = _blank_rows(raw, candidates)
            keep = np.setdiff1d(keep, candidates[blank])
    rows = all_rows[keep]
    report.rows = rows
    n = len(keep)
    if n == 0:
        required = ", ".join(c.name for c in spec if c.required)
        report.table(
            f"the {table} table has no data rows",
            f"add at least one {noun} with {required}",
        )

    parsed = {
        col.name: _parse_numbers(raw.iloc[keep, located[col.name]])
        for col in spec
        if col.kind == "number" and col.name in located
    }
    data: dict[Any, pd.Series] = {}
    for col in spec:
        if col.name not in located:
            if col.kind == "number":
                data[col.name] = pd.Series(np.full(n, np.nan), dtype=np.float64)
            elif col.kind == "tier":
                data[col.name] = pd.Series([DEFAULT_TIER] * n, dtype=object)
            else:
                data[col.name] = pd.Series([None] * n, dtype=object)
            continue
        values = raw.iloc[keep, located[col.name]]
        if col.kind == "number":
            partner = parsed["lon"][0] if col.name == "lat" and "lon" in parsed else None
            numbers = _check_numbers(values, parsed[col.name], col, report, noun, partner)
            data[col.name] = pd.Series(numbers, dtype=np.float64)
        elif col.kind == "tier":
            data[col.name] = pd.Series(_check_tiers(values, col, report), dtype=object)
        else:
            if col.kind == "id" and all_ids is not None:
                texts = np.array(all_ids, dtype=object)[keep].tolist()
                _check_ids(texts, col, report, noun)
            else:
                texts = _text_values(values)
            data[col.name] = pd.Series(texts, dtype=object)

    for i, label in enumerate(raw.columns):
        name = str(label)
        if name in located or label in data:
            continue
        data[label] = raw.iloc[keep, i].reset_index(drop=True)
        if table == "accounts" and name in _HISTORY_PASS_THROUGH:
            _check_magnitude(data[label], name, report)
    frame = pd.DataFrame(data, index=pd.RangeIndex(n))
    return _Checked(frame, report.problems, rows, frozenset(located))


def _check_numbers(
    values: pd.Series,
    parsed: tuple[FloatArray, BoolArray, BoolArray],
    col: _Column,
    report: _Reporter,
    noun: str,
    partner: FloatArray | None = None,
) -> FloatArray:
    """Report bad cells of one numeric column; ``partner`` is lon when checking lat."""
    numbers, blank, bad = parsed
    raw = values.to_numpy(dtype=object)
    name = col.name
    report.rows_with(
        name,
        np.flatnonzero(bad),
        lambda p: f"{name} {_shown(raw[p])!r} is not a number",
        lambda p: (
            f"enter {name} as a plain number such as 1234.5, without currency symbols, units, "
            f"thousands separators or a decimal comma ({name} is {col.meaning})"
        ),
        f"{name} is not a number",
    )
    if col.required:
        report.rows_with(
            name,
            np.flatnonzero(blank),
            lambda p: f"{name} is blank but required for every {noun}",
            lambda p: f"fill in {name} ({col.meaning}) or delete the row",
            f"{name} is blank",
        )
    infinite = np.isinf(numbers)
    report.rows_with(
        name,
        np.flatnonzero(infinite),
        lambda p: f"{name} is infinite ({_shown(raw[p])})",
        lambda p: f"enter a finite number ({name} is {col.meaning})",
        f"{name} is infinite",
    )
    finite = np.isfinite(numbers)
    if col.high is None:
        huge = finite & (np.abs(numbers) > MAX_MAGNITUDE)
        report.rows_with(
            name,
            np.flatnonzero(huge),
            lambda p: (
                f"{name} {_fmt(numbers[p])} is beyond the largest magnitude supported ({_MAX_TEXT})"
            ),
            lambda p: (
                f"enter {col.meaning}, at most {_MAX_TEXT}; check for a stray exponent "
                "or a unit mix-up (cents for currency, minutes for hours)"
            ),
            f"{name} is beyond {_MAX_TEXT}",
        )
        finite &= ~huge
    if col.low is not None and col.high is not None:
        low, high = np.float64(col.low), np.float64(col.high)
        outside = finite & ((numbers < low) | (numbers > high))
        report.rows_with(
            name,
            np.flatnonzero(outside),
            lambda p: f"{name} {_fmt(numbers[p])} is outside {_fmt(low)}..{_fmt(high)}",
            lambda p: _range_fix(col, numbers[p], None if partner is None else partner[p]),
            f"{name} is outside {_fmt(low)}..{_fmt(high)}",
        )
    elif col.low is not None and col.low_open:
        low = np.float64(col.low)
        too_small = finite & (numbers <= low)
        report.rows_with(
            name,
            np.flatnonzero(too_small),
            lambda p: f"{name} is {_fmt(numbers[p])} but must be greater than {_fmt(low)}",
            lambda p: (
                f"enter {col.meaning}; remove the {noun} from the table if it has no capacity"
            ),
            f"{name} is not greater than {_fmt(low)}",
        )
    elif col.low is not None:
        low = np.float64(col.low)
        negative = finite & (numbers < low)
        report.rows_with(
            name,
            np.flatnonzero(negative),
            lambda p: f"{name} is negative ({_fmt(numbers[p])})",
            lambda p: f"correct the value: {name} is {col.meaning}",
            f"{name} is negative",
        )
    return numbers


def _check_magnitude(values: pd.Series, name: str, report: _Reporter) -> None:
    """Infinite or oversized numbers in a column the engine passes through (kept as they are)."""
    numbers = _parse_numbers(values)[0]
    with np.errstate(invalid="ignore"):
        huge = np.flatnonzero(np.isinf(numbers) | (np.abs(numbers) > MAX_MAGNITUDE))
    report.rows_with(
        name,
        huge,
        lambda p: (
            f"{name} {_fmt(numbers[p])} is beyond the largest magnitude supported ({_MAX_TEXT})"
        ),
        lambda p: f"enter a finite amount in currency per year, at most {_MAX_TEXT}",
        f"{name} is beyond {_MAX_TEXT}",
    )


def _range_fix(col: _Column, value: float, lon: float | None) -> str:
    # A latitude beyond 90 next to a longitude within 90 is almost always a swapped pair.
    if lon is not None and abs(value) <= 180 and abs(lon) <= 90:
        return (
            f"lat and lon look swapped (lon is {_fmt(lon)}); swap the two values or columns "
            "(lat is north-south, -90..90)"
        )
    return f"correct the value: {col.name} is {col.meaning}"


def _check_tiers(values: pd.Series, col: _Column, report: _Reporter) -> list[str | None]:
    texts = _text_values(values)
    tiers: list[str | None] = [DEFAULT_TIER if t is None else t.upper() for t in texts]
    invalid = np.flatnonzero([t not in TIERS for t in tiers])
    report.rows_with(
        col.name,
        invalid,
        lambda p: f"tier {texts[p]!r} is not A, B or C",
        lambda p: "use A, B or C (case does not matter), or leave it blank for B",
        "tier is not A, B or C",
    )
    return tiers


def _check_ids(texts: list[str | None], col: _Column, report: _Reporter, noun: str) -> None:
    name = col.name
    ids = pd.Series(texts, dtype=object)
    missing = ids.isna().to_numpy()
    report.rows_with(
        name,
        np.flatnonzero(missing),
        lambda p: f"{name} is blank",
        lambda p: f"give every {noun} a unique {name}, or delete the row",
        f"{name} is blank",
    )
    later = (ids.duplicated(keep="first") & ~missing).to_numpy()
    if not later.any():
        return
    first_pos: dict[str | None, int] = {}
    for pos in np.flatnonzero((ids.duplicated(keep=False) & ~missing).to_numpy() & ~later):
        first_pos[texts[int(pos)]] = int(pos)
    rows = report.rows
    report.rows_with(
        name,
        np.flatnonzero(later),
        lambda p: (
            f"duplicate {name} {texts[p]!r}: it appears in row {int(rows[first_pos[texts[p]]])} "
            f"and again in row {int(rows[p])}"
        ),
        lambda p: f"give each {noun} a unique {name}, or delete the repeated row if it is a copy",
        f"{name} repeats an earlier row",
    )


def validate_accounts(
    raw: pd.DataFrame, source: str, first_row: int = 2
) -> tuple[pd.DataFrame, list[InputProblem]]:
    """Normalise an accounts table and list every problem in it (nothing is raised).

    Parameters
    ----------
    raw
        The table as read (``read_table``) or built in memory.
    source
        How problems name the table: the file path, or e.g. ``"accounts (DataFrame)"``.
    first_row
        User-visible row number of the first record: 2 for CSV/XLSX (header is row 1), 1 for
        Parquet and DataFrames.

    Returns
    -------
    The normalised frame (canonical columns first, every optional column present, then the
    pass-through columns; RangeIndex; fully blank rows skipped) and the problems found. The frame
    is only trustworthy when the list is empty.
    """
    checked = _validate_table(raw, source, first_row, _ACCOUNT_SPEC, "accounts", "account")
    return checked.frame, checked.problems


def validate_reps(
    raw: pd.DataFrame, source: str, first_row: int = 2
) -> tuple[pd.DataFrame, list[InputProblem]]:
    """Normalise a reps table and list every problem in it (nothing is raised).

    Same conventions as ``validate_accounts``; ``tier`` is upper-cased and blank tiers become
    ``"B"``.
    """
    checked = _validate_table(raw, source, first_row, _REP_SPEC, "reps", "rep")
    return checked.frame, checked.problems


def _cross_check(
    accounts: _Checked, reps: _Checked, accounts_source: str, reps_source: str
) -> list[InputProblem]:
    """Accounts may only name reps that exist (an unknown rep could never be honoured)."""
    if "rep_id" not in reps.found or len(reps.frame) == 0:
        return []  # already reported; flagging every account would only bury the real cause
    known = set(reps.frame["rep_id"].dropna())
    report = _Reporter(accounts_source, accounts.rows)
    for column in ("current_rep", "locked_rep"):
        if column in accounts.found:
            _report_unknown_reps(report, column, accounts.frame[column], known, reps_source)
    return report.problems


def _report_unknown_reps(
    report: _Reporter, column: str, refs: pd.Series, known: set[str], reps_source: str
) -> None:
    values = refs.to_numpy(dtype=object)
    unknown = np.flatnonzero([v is not None and v not in known for v in values])
    report.rows_with(
        column,
        unknown,
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

    Returns
    -------
    The normalised accounts and reps frames.

    Raises
    ------
    DataValidationError
        With every problem of both tables and of ``current_rep``/``locked_rep`` references.
    """
    acc = _validate_table(
        accounts, accounts_source, accounts_first_row, _ACCOUNT_SPEC, "accounts", "account"
    )
    rep = _validate_table(reps, reps_source, reps_first_row, _REP_SPEC, "reps", "rep")
    problems = acc.problems + rep.problems + _cross_check(acc, rep, accounts_source, reps_source)
    if problems:
        raise DataValidationError(problems)
    return acc.frame, rep.frame


def load_inputs(
    accounts_path: str | Path,
    reps_path: str | Path,
    *,
    accounts_sheet: str | None = None,
    reps_sheet: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read and validate the accounts and reps files, reporting all problems of both at once.

    A table that cannot be read at all is reported together with every problem of the other.
    ``accounts_sheet`` / ``reps_sheet`` name the worksheet of an .xlsx input (default: the
    first); when the sheet read lacks required columns, the problems name the workbook's sheets
    that have them.
    """
    checked: list[_Checked | None] = []
    problems: list[InputProblem] = []
    for path, sheet, spec, table, noun in (
        (accounts_path, accounts_sheet, _ACCOUNT_SPEC, "accounts", "account"),
        (reps_path, reps_sheet, _REP_SPEC, "reps", "rep"),
    ):
        try:
            raw = read_table(path, sheet=sheet)
        except DataValidationError as exc:
            problems.extend(exc.problems)
            checked.append(None)
            continue
        first_row = 1 if _format_of(Path(path)) == "parquet" else 2
        result = _validate_table(raw, str(path), first_row, spec, table, noun)
        if _format_of(Path(path)) == "xlsx":  # "wrong sheet" first: it explains the rest
            problems.extend(_other_sheets_hint(Path(path), sheet, spec, table, result.found))
        problems.extend(result.problems)
        checked.append(result)
    acc, rep = checked
    if acc is not None and rep is not None:
        problems.extend(_cross_check(acc, rep, str(accounts_path), str(reps_path)))
    if problems or acc is None or rep is None:
        raise DataValidationError(problems)
    return acc.frame, rep.frame


def load_table(path: str | Path, table: str, *, sheet: str | None = None) -> pd.DataFrame:
    """Read and validate one input table, ``"accounts"`` or ``"reps"`` (see ``load_inputs``)."""
    if table not in ("accounts", "reps"):
        raise ValueError(f"table must be 'accounts' or 'reps', not {table!r}")
    spec, noun = (_ACCOUNT_SPEC, "account") if table == "accounts" else (_REP_SPEC, "rep")
    raw = read_table(path, sheet=sheet)
    first_row = 1 if _format_of(Path(path)) == "parquet" else 2
    result = _validate_table(raw, str(path), first_row, spec, table, noun)
    problems = list(result.problems)
    if _format_of(Path(path)) == "xlsx":
        problems = _other_sheets_hint(Path(path), sheet, spec, table, result.found) + problems
    if problems:
        raise DataValidationError(problems)
    return result.frame


def _other_sheets_hint(
    path: Path, sheet: str | None, spec: tuple[_Column, ...], table: str, found: frozenset[str]
) -> list[InputProblem]:
    """When the sheet read lacks required columns, name the workbook's sheets that have them."""
    required = [c.name for c in spec if c.required]
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
            targets = [t for t in targets if _format_of(Path(str(paths[t]))) == "xlsx"]
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


def _is_text_dtype(dtype: Any) -> bool:
    return pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)


def _strippable(char: str) -> bool:
    """Characters a spreadsheet, an XML writer or a user's clean-up may drop from a cell's start:
    whitespace, control and format characters (zero-width space, byte-order mark)."""
    return char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Zs", "Zl", "Zp")


def _formula_risk(text: str) -> bool:
    """Whether a spreadsheet could run ``text`` as a formula, now or once its leading
    whitespace and control characters are stripped (``"\x01=HYPERLINK(...)"``)."""
    first = text[:1]
    if not first or first.isalnum():
        return False  # the usual case, decided without a loop
    if text.startswith(_FORMULA_PREFIXES):
        return True
    for char in text:
        if not _strippable(char):
            return char in _FORMULA_STARTS
    return False


def _neutralise(value: object) -> object:
    if isinstance(value, str) and _formula_risk(value):
        return "'" + value
    return value


def excel_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Copy in which text that a spreadsheet would run as a formula starts with an apostrophe.

    Text cells (and text column names) starting with ``=``, ``+``, ``-``, ``@``, tab or carriage
    return get a leading ``'`` (OWASP CSV-injection advice), because account names and pass-through
    columns come from outside and the outputs are opened in Excel. So do cells that would start so
    once leading whitespace and control characters are stripped (an XLSX writer drops control
    characters, a spreadsheet may trim the rest). Numeric columns, and numbers inside object
    columns, are never touched, so negative numbers stay numbers. Text columns come back as
    object dtype with ``None`` for missing cells.
    """
    columns: dict[Any, pd.Series] = {}
    labels = [_neutralise(label) for label in frame.columns]
    for i in range(len(labels)):
        values = frame.iloc[:, i]
        if _is_text_dtype(values.dtype):
            obj = np.array(values.to_numpy(dtype=object), dtype=object)
            risky = [isinstance(v, str) and _formula_risk(v) for v in obj]
            for j in np.flatnonzero(risky):
                obj[j] = "'" + obj[j]
            obj[pd.isna(obj)] = None
            values = pd.Series(obj, dtype=object, index=frame.index)
        else:
            values = values.copy()
        columns[i] = values
    out = pd.DataFrame(columns, index=frame.index)
    out.columns = pd.Index(labels, dtype=object)
    return out


def write_table(frame: pd.DataFrame, path: Path, fmt: str) -> None:
    """Write one table deterministically: same frame, same bytes.

    ``csv``: formula-safe (``excel_safe``), UTF-8 without byte-order mark, ``\\n`` line endings,
    no index, floats in Python's shortest round-trip form, blank for missing; a carriage return
    inside a text cell is written as ``\\n`` (the csv module quotes cells holding the line
    terminator only, and a spreadsheet would end the row at a bare carriage return, turning the
    rest of the cell into a new row's first cell). ``parquet``: the frame as it is (pyarrow, no
    index). ``xlsx``: formula-safe, first sheet named after the file
    stem, header row frozen, fixed timestamps.
    """
    fmt = fmt.lower()
    path = Path(path)
    if fmt == "csv":
        _one_line_breaks(excel_safe(frame)).to_csv(
            path, index=False, encoding="utf-8", lineterminator="\n"
        )
    elif fmt == "parquet":
        frame.to_parquet(path, index=False, engine="pyarrow")
    elif fmt == "xlsx":
        _write_xlsx(excel_safe(frame), path)
    else:
        raise ValueError(
            f"unsupported output format {fmt!r}; possible options are {SUPPORTED_FORMATS}"
        )


def _one_line_breaks(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells and labels with ``\\r\\n`` and ``\\r`` as ``\\n`` (see ``write_table``)."""

    def fixed(value: object) -> object:
        if isinstance(value, str) and "\r" in value:
            return value.replace("\r\n", "\n").replace("\r", "\n")
        return value

    labels = [fixed(label) for label in frame.columns]
    risky = [
        i
        for i in range(frame.shape[1])
        if _is_text_dtype(frame.iloc[:, i].dtype)
        and any(isinstance(v, str) and "\r" in v for v in frame.iloc[:, i].to_numpy(dtype=object))
    ]
    if not risky and labels == list(frame.columns):
        return frame
    out = frame.copy()
    for i in risky:
        out.isetitem(i, np.array([fixed(v) for v in out.iloc[:, i]], dtype=object))
    out.columns = pd.Index(labels, dtype=object)
    return out


class _StableZipFile(zipfile.ZipFile):
    """Zip archive whose entries carry a fixed timestamp instead of the current time."""

    def writestr(
        self,
        zinfo_or_arcname: str | zipfile.ZipInfo,
        data: Any,
        compress_type: int | None = None,
        compresslevel: int | None = None,
    ) -> None:
        if not isinstance(zinfo_or_arcname, zipfile.ZipInfo):
            info = zipfile.ZipInfo(zinfo_or_arcname, date_time=_ZIP_TIMESTAMP)
            info.compress_type = self.compression
            info.external_attr = 0o600 << 16
            zinfo_or_arcname = info
        super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)

    def write(
        self,
        filename: Any,
        arcname: Any = None,
        compress_type: int | None = None,
        compresslevel: int | None = None,
    ) -> None:
        # openpyxl's write-only sheets arrive as temporary files stamped with their mtime.
        info = zipfile.ZipInfo.from_file(filename, arcname)
        info.date_time = _ZIP_TIMESTAMP
        info.compress_type = self.compression if compress_type is None else compress_type
        info.external_attr = 0o600 << 16
        with open(filename, "rb") as source, self.open(info, "w") as target:
            shutil.copyfileobj(source, target, 1 << 20)


def _xlsx_cell(value: object) -> object:
    if _is_missing(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)  # Excel has no time zones
    if isinstance(value, bool | int | float | dt.datetime | dt.date | dt.time):
        return value
    # Neutralise the final text: stripping characters XML cannot hold may expose a formula.
    return _neutralise(_ILLEGAL_XML_CHARS.sub("", str(value)))


def _sheet_title(stem: str) -> str:
    title = _BAD_SHEET_CHARS.sub("_", stem).strip("'")[:31]
    return title or "Sheet1"


def _write_xlsx(frame: pd.DataFrame, path: Path) -> None:
    write_workbook(path, {path.stem: frame}, formatted=False)


_MONEY_WORDS = (
    "incentive",
    "revenue",
    "quota",
    "potential",
    "cost",
    "comp",
    "ote",
    "base",
    "earnings",
    "payout",
    "sales",
    "budget",
    "pay",
    "history",
    "target",
)
_FRACTION_WORDS = (
    "ccos",
    "share",
    "ratio",
    "_to_",
    "_dev",
    "attainment",
    "utilization",
    "p_",
    "weight",
    "factor",
    "slope",
)


def _number_format(column: str) -> str | None:
    """Excel number format for a column, read from its name (finance conventions)."""
    name = column.lower()
    if name.startswith("pct_") or name.endswith("_pct"):
        return '0.0"%"'
    if any(word in name for word in _FRACTION_WORDS):
        return "0.0%"
    if any(word in name for word in _MONEY_WORDS):
        return "#,##0"
    return None


def write_workbook(
    path: Path, sheets: Mapping[str, pd.DataFrame], *, formatted: bool = True
) -> None:
    """One sheet per table, header row frozen, text made Excel-safe, stable bytes.

    With ``formatted`` numbers get formats from their column names (money with thousands
    separators, fractions as percentages) and columns a readable width.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.writer.excel import ExcelWriter

    workbook = Workbook(write_only=True)
    for name, frame in sheets.items():
        safe = excel_safe(frame)
        sheet = workbook.create_sheet(_sheet_title(name))
        sheet.freeze_panes = "A2"
        formats = [_number_format(str(c)) if formatted else None for c in safe.columns]
        if formatted:
            for i, label in enumerate(safe.columns, start=1):
                sheet.column_dimensions[get_column_letter(i)].width = max(12, len(str(label)) + 2)
            header = []
            for label in safe.columns:
                cell = WriteOnlyCell(sheet, value=_xlsx_cell(label))
                cell.font = Font(bold=True)
                header.append(cell)
            sheet.append(header)
        else:
            sheet.append([_xlsx_cell(label) for label in safe.columns])
        for record in safe.itertuples(index=False, name=None):
            if not formatted:
                sheet.append([_xlsx_cell(v) for v in record])
                continue
            row = []
            for value, number_format in zip(record, formats, strict=True):
                cell = WriteOnlyCell(sheet, value=_xlsx_cell(value))
                if number_format and isinstance(cell.value, int | float):
                    cell.number_format = number_format
                row.append(cell)
            sheet.append(row)
    # openpyxl stamps "now" into docProps/core.xml and every zip entry; fix both for stable bytes.
    workbook.properties.created = _FIXED_TIMESTAMP
    workbook.properties.modified = _FIXED_TIMESTAMP
    with _StableZipFile(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(workbook, archive).save()


def _jsonable(value: object, where: str) -> Any:
    """Plain JSON value: numpy scalars unwrapped, NaN/inf as None, keys as text."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.generic):
        return _jsonable(value.item(), where)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, enum.Enum):
        return _jsonable(value.value, where)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Path):
        return value.as_posix()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _jsonable(getattr(value, f.name), f"{where}.{f.name}")
            for f in dataclasses.fields(value)
        }
    if isinstance(value, pd.DataFrame):
        return _jsonable(value.to_dict(orient="records"), where)
    if isinstance(value, pd.Series):
        return _jsonable(value.to_dict(), where)
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist(), where)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            text = str(_jsonable(key, where)) if not isinstance(key, str) else key
            out[text] = _jsonable(item, f"{where}.{text}")
        return out
    if isinstance(value, set | frozenset):
        items = [_jsonable(v, where) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))  # sets have no order
    if isinstance(value, Sequence):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise TypeError(f"cannot write {type(value).__name__} at {where} as JSON")


def _json_text(document: object, name: str) -> str:
    return json.dumps(_jsonable(document, name), indent=2, sort_keys=True, allow_nan=False) + "\n"


def _check_file_name(name: str) -> None:
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise ValueError(f"output name {name!r} must be a plain file name without folders")


def write_outputs(
    out_dir: str | Path,
    tables: Mapping[str, pd.DataFrame],
    documents: Mapping[str, object],
    fmt: str = "csv",
    *,
    files: Mapping[str, Callable[[Path], None]] | None = None,
    keep_existing: bool = False,
    command: str = "write_outputs",
    inputs: Iterable[str | Path | None] = (),
    force: bool = False,
) -> Path:
    """Write tables and JSON documents into ``out_dir``, replacing it as a whole.

    Everything is first written into a hidden sibling folder, which then takes the place of
    ``out_dir`` by rename (atomic on one file system). If anything fails, or the user presses
    Ctrl-C, the sibling is removed and any previous ``out_dir`` is left as it was, so a folder of
    results is always complete. Only an absent or empty folder, or one this engine wrote (its
    marker, :data:`territory.outputs.MARKER`), is replaced: see
    :func:`territory.outputs.check_output_folder`, applied again at the moment of the swap.

    Parameters
    ----------
    out_dir
        Folder to (re)create; parent folders are created.
    tables
        ``name -> frame``, written as ``<name>.<fmt>`` with ``write_table``.
    documents
        ``file name -> object`` (names include ``.json``), written as sorted, indented JSON;
        numpy scalars are unwrapped and NaN/infinity become ``null``.
    fmt
        One of ``SUPPORTED_FORMATS``.
    files
        ``file name -> writer``: other files (charts, workbooks, Parquet copies of the inputs),
        each writer called with the path to create inside the staging folder.
    keep_existing
        Add these files to an existing run folder instead (a later step: quota, stress, check):
        each file is renamed into place under the folder's lock, the others stay
        (:func:`territory.outputs.add_files`). An absent or empty folder is created.
    command
        Recorded in the folder's marker.
    inputs
        Files and folders the outputs are made from: ``out_dir`` may hold none of them.
    force
        Replace a non-empty folder the engine did not write (within the limits of
        :func:`territory.outputs.check_output_folder`).

    Returns
    -------
    The output folder.

    Raises
    ------
    OutputFolderError
        ``out_dir`` may not be written (it holds files the engine did not write, is a file, ...).
    """
    from territory.outputs import add_files, is_engine_folder, is_legacy_run_folder, replace_folder

    fmt = fmt.lower()
    if fmt not in SUPPORTED_FORMATS:
        raise ValueError(
            f"unsupported output format {fmt!r}; possible options are {SUPPORTED_FORMATS}"
        )
    target = Path(out_dir)
    extra = dict(files or {})
    names = [f"{name}.{fmt}" for name in tables] + list(documents) + list(extra)
    for file_name in names:
        _check_file_name(file_name)
    repeated = sorted({f for f in names if names.count(f) > 1})
    if repeated:
        raise ValueError(f"two outputs would be written to the same file: {repeated}")

    writers: dict[str, Callable[[Path], None]] = dict(extra)
    for name, frame in tables.items():
        writers[f"{name}.{fmt}"] = _table_writer(frame, fmt)
    for name, document in documents.items():
        writers[name] = _document_writer(document, name)
    addable = target.is_dir() and (is_engine_folder(target) or is_legacy_run_folder(target))
    if keep_existing and addable:
        add_files(target, writers, command=command, option="folder")
        return target
    replace_folder(target, writers, command=command, inputs=inputs, force=force)
    return target


def _table_writer(frame: pd.DataFrame, fmt: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        write_table(frame, path, fmt)

    return write


def _document_writer(document: object, name: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_text(_json_text(document, name), encoding="utf-8", newline="\n")

    return write
