"""Reading Excel workbooks: one worksheet as a table, and the headers of every sheet.

openpyxl reads the cells; this module picks the sheet, turns ids and text columns into text
whatever type Excel stored, and refuses merged cells whose value would read as blank in all but
their first cell.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pandas as pd

from territory.domain.contract import TEXT_COLUMNS, is_missing, none_for_missing, text_values
from territory.domain.validation import check_unique_header, file_problem
from territory.errors import DataValidationError, InputProblem

__all__ = ["read_xlsx", "workbook_headers"]


def read_xlsx(p: Path, source: str, sheet: str | None = None) -> pd.DataFrame:
    """Read one worksheet of an .xlsx workbook, ids and text columns as text.

    Parameters
    ----------
    p
        The workbook.
    source
        The file as the user named it (for messages).
    sheet
        The sheet's name (exact, else the one name that matches ignoring case); default the first.

    Returns
    -------
    pandas.DataFrame
        Object columns with ``None`` for empty cells.

    Raises
    ------
    DataValidationError
        The file is not a workbook, lacks the sheet, repeats a column name or has merged cells
        that hide values.
    """
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
        raise file_problem(
            source,
            f"the file cannot be read as an Excel workbook ({type(exc).__name__}: {exc})",
            "open it in Excel and save it again as .xlsx (Excel Workbook), or export it as CSV",
        ) from exc
    where = f"header of sheet '{chosen}'" if len(names) > 1 else "header"
    check_unique_header(header, source, letters=True, where=where)
    frame.columns = pd.Index([str(c) for c in frame.columns], dtype=object)
    _check_merged_cells(p, source, chosen, frame, header)
    columns: dict[str, pd.Series] = {}
    for label in frame.columns:
        values = frame[label]
        if label in TEXT_COLUMNS:
            columns[label] = pd.Series(text_values(values), dtype=object, name=label)
        else:
            columns[label] = none_for_missing(values)
    return pd.DataFrame(columns, columns=frame.columns)


def _pick_sheet(names: list[str], sheet: str | None, source: str) -> str:
    """Pick the sheet asked for (exact name, else the one name that matches ignoring case)."""
    if not names:
        raise file_problem(source, "the workbook has no worksheets", "add a sheet with the table")
    if sheet is None:
        return names[0]
    if sheet in names:
        return sheet
    folded = [n for n in names if n.casefold() == sheet.casefold()]
    if len(folded) == 1:
        return folded[0]
    listed = ", ".join(repr(n) for n in names)
    raise file_problem(
        source,
        f"the workbook has no sheet named '{sheet}'; its sheets are {listed}",
        "pass one of these names with --sheet (quote names with spaces)",
    )


def workbook_headers(path: str | Path) -> dict[str, list[str]]:
    """Return the header row (first row, as text) of every sheet of an .xlsx workbook, in order.

    Used to point at the sheet holding a table when the one read lacks its columns.

    Parameters
    ----------
    path
        The workbook.

    Returns
    -------
    dict
        Sheet name to its header cells; empty for anything that cannot be read as a workbook.
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
        if not (is_missing(value) or (isinstance(value, str) and not value.strip())):
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
