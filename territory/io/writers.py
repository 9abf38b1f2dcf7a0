"""Writing the engine's tables and documents: CSV, Parquet, XLSX and JSON, deterministically.

Identical inputs give byte-identical files (fixed timestamps in workbooks and zip entries, sorted
JSON, one line ending), so outputs can be diffed and cached. Text a spreadsheet would run as a
formula is neutralised (:func:`excel_safe`). :func:`write_outputs` writes a whole output folder
atomically (a crash never leaves a half-written folder behind).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import itertools
import json
import math
import re
import shutil
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from territory.domain.contract import SUPPORTED_FORMATS, is_missing
from territory.io.outputs import add_files, is_engine_folder, is_legacy_run_folder, replace_folder
from territory.io.sheets import KINDS, ColumnSpec, Kind, cell_number, column_spec, display_width

__all__ = ["ROW_KIND_COLUMN", "excel_safe", "write_outputs", "write_table", "write_workbook"]

# Characters that make Excel or LibreOffice read a cell as a formula (CSV/formula injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_STARTS = frozenset("=+-@")

# Fixed timestamp for XLSX metadata and zip entries, so repeated writes are byte-identical.
_FIXED_TIMESTAMP = dt.datetime(2000, 1, 1)
_ZIP_TIMESTAMP = (2000, 1, 1, 0, 0, 0)

# Characters that XML 1.0 (and so XLSX) cannot store at all.
_ILLEGAL_XML_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def _is_text_dtype(dtype: Any) -> bool:
    return pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)


def _strippable(char: str) -> bool:
    """Tell whether a spreadsheet or an XML writer may drop ``char`` from a cell's start.

    Whitespace, control and format characters (zero-width space, byte-order mark) are.
    """
    return char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Zs", "Zl", "Zp")


def _formula_risk(text: str) -> bool:
    r"""Tell whether a spreadsheet could run ``text`` as a formula.

    Now or once its leading whitespace and control characters are stripped
    (``"\x01=HYPERLINK(...)"``).
    """
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

    Parameters
    ----------
    frame
        The table to write.

    Returns
    -------
    pandas.DataFrame
        The formula-safe copy.
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
    r"""Write one table deterministically: same frame, same bytes.

    ``csv``: formula-safe (``excel_safe``), UTF-8 without byte-order mark, ``\n`` line endings,
    no index, floats in Python's shortest round-trip form, blank for missing; a carriage return
    inside a text cell is written as ``\n`` (the csv module quotes cells holding the line
    terminator only, and a spreadsheet would end the row at a bare carriage return, turning the
    rest of the cell into a new row's first cell). ``parquet``: the frame as it is (pyarrow, no
    index). ``xlsx``: formula-safe, first sheet named after the file
    stem, header row frozen, fixed timestamps.

    Parameters
    ----------
    frame
        The table.
    path
        The file to write.
    fmt
        ``csv``, ``parquet`` or ``xlsx``.
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
    r"""Copy with ``\r\n`` and ``\r`` as ``\n`` in text cells and labels (see ``write_table``)."""

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
    if is_missing(value):
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
    # Tables written as xlsx are read back as data (territories.xlsx by later steps, an
    # assignments file as next year's input): formats and widths, but the column names kept.
    write_workbook(path, {path.stem: frame}, readable=False)


ROW_KIND_COLUMN = "value_kind"
"""In a sheet with a ``value`` column, the kind (:data:`territory.io.sheets.KINDS`) of each
row's value; the writer formats the value with it and does not write this column."""


def write_workbook(
    path: Path,
    sheets: Mapping[str, pd.DataFrame],
    *,
    readable: bool = True,
    currency: str = "USD",
) -> None:
    """One sheet per table, formatted from the column table, text made Excel-safe, stable bytes.

    Every column's header, number format and precision come from
    :func:`territory.io.sheets.column_spec`: money with thousands separators, shares stored as
    fractions and shown as percentages, multiples as ``0.00"x"``, counts as integers; numbers
    are rounded to their column's precision, so no float noise reaches the sheet. The header
    row is bold and frozen (and the first column when it holds ids or labels), an autofilter
    covers the table and columns are as wide as their content. With ``readable``, a sheet with
    a :data:`ROW_KIND_COLUMN` formats its ``value`` column row by row.

    Parameters
    ----------
    path
        The .xlsx file to write.
    sheets
        Sheet name (cut to Excel's 31 characters) to table, in order.
    readable
        Readable headers with units (``Total comp P50 (USD)``); else the column names as
        they are, for tables that are read back as data.
    currency
        Named in the headers of money columns.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.writer.excel import ExcelWriter

    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    for name, frame in sheets.items():
        row_kinds = None
        if readable and ROW_KIND_COLUMN in frame.columns and "value" in frame.columns:
            row_kinds = [KINDS[str(k)] for k in frame[ROW_KIND_COLUMN]]
            frame = frame.drop(columns=[ROW_KIND_COLUMN])
        specs = [column_spec(c, readable=readable, currency=currency) for c in frame.columns]
        specs = _unique_headers(specs) if readable else specs
        kinds = [spec.kind for spec in specs]
        value_at = list(frame.columns).index("value") if row_kinds is not None else -1
        records = _typed_rows(excel_safe(frame), kinds, row_kinds, value_at)
        head = list(itertools.islice(records, _WIDTH_SAMPLE))
        sheet = workbook.create_sheet(_sheet_title(name))
        # Widths, panes and filter go before the first row: write-only sheets stream them first.
        for i, spec in enumerate(specs):
            seen = [display_width(row[i][0], row[i][1]) for row in head]
            width = max([len(spec.header), *seen]) + 2
            sheet.column_dimensions[get_column_letter(i + 1)].width = min(max(width, 8), 60)
        sheet.freeze_panes = "B2" if len(specs) > 2 and kinds[0].label else "A2"
        if specs:
            sheet.auto_filter.ref = f"A1:{get_column_letter(len(specs))}{len(frame) + 1}"
        header = []
        for spec in specs:
            cell = WriteOnlyCell(sheet, value=_xlsx_cell(spec.header))
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        # One cell object per column, reused row after row (each row is serialised at once):
        # numbers carry the column's format, text and booleans none.
        numbers = [WriteOnlyCell(sheet) for _ in specs]
        for cell, kind in zip(numbers, kinds, strict=True):
            cell.number_format = kind.number_format
        texts = [WriteOnlyCell(sheet) for _ in specs]
        for row in itertools.chain(head, records):
            out: list[Any] = []
            for i, (value, kind) in enumerate(row):
                if value is None:
                    out.append(None)
                    continue
                is_number = isinstance(value, int | float) and not isinstance(value, bool)
                cell = numbers[i] if is_number else texts[i]
                if is_number and i == value_at:
                    cell.number_format = kind.number_format
                cell.value = value
                out.append(cell)
            sheet.append(out)
    # openpyxl stamps "now" into docProps/core.xml and every zip entry; fix both for stable bytes.
    workbook.properties.created = _FIXED_TIMESTAMP
    workbook.properties.modified = _FIXED_TIMESTAMP
    with _StableZipFile(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(workbook, archive).save()


_WIDTH_SAMPLE = 2000
"""Rows looked at to size a column (a long table's widths come from its first rows)."""


def _typed_rows(
    safe: pd.DataFrame, kinds: list[Kind], row_kinds: list[Kind] | None, value_at: int
) -> Iterator[list[tuple[object, Kind]]]:
    """Yield each row's cells as (value as stored, kind): numbers scaled and rounded."""
    for r, record in enumerate(safe.itertuples(index=False, name=None)):
        row = []
        for i, value in enumerate(record):
            kind = row_kinds[r] if i == value_at and row_kinds is not None else kinds[i]
            cell = _xlsx_cell(value)
            if isinstance(cell, int | float) and not isinstance(cell, bool):
                cell = cell_number(cell, kind)
            row.append((cell, kind))
        yield row


def _unique_headers(specs: list[ColumnSpec]) -> list[ColumnSpec]:
    """Keep headers distinct: a repeated header gets the column's position appended."""
    seen: set[str] = set()
    out = []
    for i, spec in enumerate(specs, start=1):
        header = spec.header
        if header in seen:
            header = f"{header} ({i})"
        seen.add(header)
        out.append(ColumnSpec(header, spec.kind))
    return out


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
    marker, :data:`territory.io.outputs.MARKER`), is replaced: see
    :func:`territory.io.outputs.check_output_folder`, applied again at the moment of the swap.

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
        (:func:`territory.io.outputs.add_files`). An absent or empty folder is created.
    command
        Recorded in the folder's marker.
    inputs
        Files and folders the outputs are made from: ``out_dir`` may hold none of them.
    force
        Replace a non-empty folder the engine did not write (within the limits of
        :func:`territory.io.outputs.check_output_folder`).

    Returns
    -------
    The output folder.

    Raises
    ------
    OutputFolderError
        ``out_dir`` may not be written (it holds files the engine did not write, is a file, ...).
    """
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
