"""Excel workbooks: reading one worksheet as a table, and how every column is written.

openpyxl reads the cells; this module picks the sheet, turns ids and text columns into text
whatever type Excel stored, and refuses merged cells whose value would read as blank in all but
their first cell. For writing, :data:`COLUMNS` is the one table of headers and number formats
(:func:`column_spec`) that :func:`territory.io.writers.write_workbook` applies to every sheet.
"""

from __future__ import annotations

import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from territory.domain.contract import TEXT_COLUMNS, is_missing, none_for_missing, text_values
from territory.domain.validation import check_unique_header, file_problem
from territory.errors import DataValidationError, InputProblem

__all__ = ["COLUMNS", "KINDS", "ColumnSpec", "Kind", "column_spec", "read_xlsx", "workbook_headers"]


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


# --------------------------------------------------------------------------------------------
# Writing: how each column looks in a workbook


@dataclass(frozen=True)
class Kind:
    """How one kind of number is written: its Excel format, its precision and its unit.

    ``decimals`` is the precision values are rounded to when written (None: 15 significant
    digits, which only removes float noise); ``scale`` turns the frame's unit into the
    sheet's (percentage points into fractions); ``unit`` ends the readable header
    (``{currency}`` is replaced by the plan's currency).
    """

    number_format: str
    decimals: int | None
    unit: str = ""
    scale: float = 1.0
    integer: bool = False
    label: bool = False
    """Ids and names: a sheet whose first column is one freezes it beside the header."""


KINDS: dict[str, Kind] = {
    "money": Kind("#,##0", 2, "{currency}"),
    "share": Kind("0.0%", 6),
    "points": Kind("0.0%", 6, scale=0.01),
    "multiple": Kind('0.00"x"', 4),
    "count": Kind("#,##0", 0, integer=True),
    "hours": Kind("#,##0.0", 2, "h/yr"),
    "km": Kind("#,##0.0", 3, "km"),
    "number": Kind("#,##0.00", 4),
    "year": Kind("0", 0, integer=True),
    "general": Kind("General", None),
    "text": Kind("General", None, label=True),
}
"""Every kind of column a workbook holds. Shares are stored as fractions and shown as %."""

COLUMNS: dict[str, tuple[str, str]] = {
    # ids and labels
    "scenario_id": ("Scenario", "text"),
    "rep_id": ("Rep", "text"),
    "territory_id": ("Territory", "text"),
    "territory_name": ("Territory name", "text"),
    "parent_territory_id": ("Parent territory", "text"),
    "account_id": ("Account", "text"),
    "plan_id": ("Comp plan", "text"),
    "run_id": ("Run", "text"),
    "previous_rep": ("Previous rep", "text"),
    "from_rep": ("From rep", "text"),
    "to_rep": ("To rep", "text"),
    "name": ("Name", "text"),
    "role": ("Role", "text"),
    "tier": ("Tier", "text"),
    "measure": ("Measure", "text"),
    "currency": ("Currency", "text"),
    "method": ("Quota method", "text"),
    "lever": ("Lever", "text"),
    "tier_label": ("Tier", "text"),
    "percentile": ("Percentile", "text"),
    "period": ("Period", "text"),
    "reason": ("Reason", "text"),
    "status": ("Status", "text"),
    "yoy_clip": ("Year-over-year cap", "text"),
    "manual_reason": ("Manual adjustment reason", "text"),
    "seasonality_profile_id": ("Seasonality profile", "text"),
    "ramp_profile_id": ("Ramp profile", "text"),
    "effective_start": ("Effective from", "text"),
    "effective_end": ("Effective to", "text"),
    "moved": ("Moved", "general"),
    "setting": ("Setting", "text"),
    "value": ("Value", "general"),
    "source": ("Source", "text"),
    # money per year
    "revenue_p50": ("Revenue P50", "money"),
    "incentive_p10": ("Incentive P10", "money"),
    "incentive_p50": ("Incentive P50", "money"),
    "incentive_p90": ("Incentive P90", "money"),
    "total_comp_p50": ("Total comp P50", "money"),
    "total_incentive": ("Total incentive", "money"),
    "quota": ("Quota", "money"),
    "ote": ("OTE", "money"),
    "ti": ("Target incentive", "money"),
    "payout_p10": ("Payout P10", "money"),
    "payout_p50": ("Payout P50", "money"),
    "payout_p90": ("Payout P90", "money"),
    "expected_payout": ("Expected payout", "money"),
    "expected_total_comp": ("Expected total comp", "money"),
    "prior_year_quota": ("Prior-year quota", "money"),
    "prior_year_payout": ("Prior-year payout", "money"),
    "delta_expected_payout": ("Expected payout minus prior-year payout", "money"),
    "payout_at_sample_ote": ("Payout at sample OTE", "money"),
    "potential": ("Potential", "money"),
    "potential_target": ("Potential target", "money"),
    "history_basis": ("History basis", "money"),
    "capacity_usd": ("Capacity", "money"),
    "raw_quota": ("Quota before caps", "money"),
    "manual_adj": ("Manual adjustment", "money"),
    "final_annual_quota": ("Annual quota", "money"),
    "annual_quota": ("Annual quota", "money"),
    "period_quota": ("Period quota", "money"),
    "prior_quota_rebased": ("Prior-year quota, rebased", "money"),
    "revenue_last_year": ("Revenue last year", "money"),
    "revenue_at_risk": ("Revenue at risk", "money"),
    # shares (fractions) and percentage points
    "company_attainment_x": ("Company attainment", "share"),
    "pct_reps_ge_quota": ("Reps at quota", "points"),
    "pct_reps_ge_quota_p10": ("Reps at quota P10", "points"),
    "pct_reps_ge_quota_p50": ("Reps at quota P50", "points"),
    "pct_reps_ge_quota_p90": ("Reps at quota P90", "points"),
    "pct_reps_paid": ("Reps paid", "points"),
    "pct_reps_ge_excellence": ("Reps at excellence", "points"),
    "pct_reps_capped": ("Reps capped", "points"),
    "yoy_change_pct": ("Change on prior-year quota", "points"),
    "incentive_to_ti_budget_p50": ("Incentive to TI budget P50", "share"),
    "ccos": ("Cost of sales", "share"),
    "ccos_p10": ("Cost of sales P10", "share"),
    "ccos_p50": ("Cost of sales P50", "share"),
    "ccos_p90": ("Cost of sales P90", "share"),
    "marginal_cost_of_incremental_revenue": ("Incentive per extra revenue", "share"),
    "expected_attainment": ("Expected attainment", "share"),
    "p_attain_ge_1": ("Chance of reaching quota", "share"),
    "p_below_threshold": ("Chance below threshold", "share"),
    "attainment": ("Attainment", "share"),
    "w_history": ("History weight", "share"),
    "allocation_share": ("Share of the street total", "share"),
    "ramp_factor": ("Ramp factor", "share"),
    "quota_to_potential": ("Quota to potential", "share"),
    "potential_dev": ("Potential deviation", "share"),
    "workload_dev": ("Workload deviation", "share"),
    "utilization": ("Utilisation", "share"),
    # multiples
    "payout_multiple_of_ti": ("Payout (multiple of TI)", "multiple"),
    "marginal_rate": ("Marginal rate", "multiple"),
    "over_assignment_factor": ("Over-assignment factor", "multiple"),
    "quota_to_ote": ("Quota to OTE", "multiple"),
    # counts, years, other units
    "n_accounts": ("Accounts", "count"),
    "accounts_moved_in": ("Accounts moved in", "count"),
    "accounts_moved_out": ("Accounts moved out", "count"),
    "wave": ("Wave", "count"),
    "seed": ("Seed", "count"),
    "plan_year": ("Plan year", "year"),
    "fte": ("FTE", "number"),
    "lever_value": ("Lever value", "number"),
    "workload": ("Workload", "hours"),
    "workload_target": ("Workload target", "hours"),
    "capacity": ("Capacity", "hours"),
    "distance_km": ("Distance", "km"),
    "mean_distance_km": ("Mean distance", "km"),
    "distance_km_before": ("Distance before", "km"),
    "distance_km_after": ("Distance after", "km"),
}
"""Column name -> (readable header without unit, kind): the one place formats are decided."""

_PERIOD = re.compile(r"([qm])(\d{1,2})")
_WORDS = {"id": "ID", "ti": "TI", "ote": "OTE", "ccos": "CCOS", "fte": "FTE", "km": "km"}


@dataclass(frozen=True)
class ColumnSpec:
    """How one column of a frame is written: its header text and its kind."""

    header: str
    kind: Kind


def column_spec(name: object, *, readable: bool = True, currency: str = "USD") -> ColumnSpec:
    """Return the header and kind of a column, from :data:`COLUMNS` or from its name.

    Columns not in the table keep a general format (numbers lose only float noise) and, with
    ``readable``, get their name with spaces (``segment_code`` -> ``Segment code``).

    Parameters
    ----------
    name
        The frame's column label.
    readable
        Readable headers with units (finance.xlsx); else the column names as they are (tables
        that are read back as data, such as ``territories.xlsx``).
    currency
        Put in the header of money columns.

    Returns
    -------
    ColumnSpec
        The header text and the kind.
    """
    key = str(name)
    period = _PERIOD.fullmatch(key)
    if key in COLUMNS:
        label, kind_name = COLUMNS[key]
    elif period is not None:
        label = f"Q{int(period[2])}" if period[1] == "q" else f"Month {int(period[2])}"
        kind_name = "money"
    else:
        words = key.replace("_", " ").split(" ")
        label = " ".join(_WORDS.get(w.lower(), w) for w in words).strip() or key
        label = label[:1].upper() + label[1:]
        kind_name = "general"
    kind = KINDS[kind_name]
    if not readable:
        return ColumnSpec(key, kind)
    unit = kind.unit.replace("{currency}", currency)
    return ColumnSpec(f"{label} ({unit})" if unit else label, kind)


def cell_number(value: float | int, kind: Kind) -> float | int:
    """Scale and round a number to its column's precision (no float noise in the sheet).

    Parameters
    ----------
    value
        A finite or infinite number (bools are not numbers here and never reach this).
    kind
        The column's kind.

    Returns
    -------
    float or int
        The value as the cell stores it.
    """
    if not math.isfinite(value):
        return value
    scaled = value * kind.scale if kind.scale != 1.0 else value
    if kind.integer:
        return int(round(scaled))
    if kind.decimals is None:
        return scaled if isinstance(scaled, int) else float(f"{scaled:.15g}")
    rounded = round(float(scaled), kind.decimals)
    return rounded + 0.0  # no negative zero


def display_width(value: object, kind: Kind) -> int:
    """Rough width in characters of a cell as Excel shows it (for column widths)."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        return max((len(line) for line in str(value).split("\n")), default=0)
    if not math.isfinite(value):
        return 4
    fmt = kind.number_format
    if fmt.endswith("%"):
        return len(f"{value * 100:,.1f}%")
    if fmt.endswith('"x"'):
        return len(f"{value:,.2f}x")
    if fmt == "0":
        return len(str(int(value)))
    if fmt == "General":
        return len(f"{value:.10g}")
    decimals = len(fmt.rsplit(".", 1)[1]) if "." in fmt else 0
    return len(f"{value:,.{decimals}f}")
