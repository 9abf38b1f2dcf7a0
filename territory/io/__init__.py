"""Reading, validating and writing the engine's tables: the old single entry point.

The work is done in :mod:`territory.domain.contract` (the tables' schemas and cell rules),
:mod:`territory.domain.validation` (problems a user can act on), :mod:`territory.io.readers` and
:mod:`territory.io.sheets` (files into frames) and :mod:`territory.io.writers` (frames into files);
this module re-exports their functions so that ``from territory.io import ...`` keeps working,
with the limits callers check numbers and formats against (the columns, tiers and schemas are
read from :mod:`territory.domain.contract`). Each name is imported on first use
(:func:`territory.lazy.lazy_exports`): reading the inputs does not load the writers' solver
and workbook libraries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from territory.lazy import lazy_exports

if TYPE_CHECKING:
    from territory.domain.contract import MAX_MAGNITUDE, MAX_TOTAL_MAGNITUDE, SUPPORTED_FORMATS
    from territory.domain.validation import validate_accounts, validate_inputs, validate_reps
    from territory.io.readers import load_inputs, load_table, read_table, sheet_choice
    from territory.io.sheets import workbook_headers
    from territory.io.writers import excel_safe, write_outputs, write_table, write_workbook

__all__ = [
    "MAX_MAGNITUDE",
    "MAX_TOTAL_MAGNITUDE",
    "SUPPORTED_FORMATS",
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
    "write_workbook",
]

__getattr__ = lazy_exports(
    __name__,
    {
        **dict.fromkeys(
            ("MAX_MAGNITUDE", "MAX_TOTAL_MAGNITUDE", "SUPPORTED_FORMATS"),
            "territory.domain.contract",
        ),
        **dict.fromkeys(
            ("validate_accounts", "validate_inputs", "validate_reps"), "territory.domain.validation"
        ),
        **dict.fromkeys(
            ("load_inputs", "load_table", "read_table", "sheet_choice"), "territory.io.readers"
        ),
        "workbook_headers": "territory.io.sheets",
        **dict.fromkeys(
            ("excel_safe", "write_outputs", "write_table", "write_workbook"), "territory.io.writers"
        ),
    },
)
