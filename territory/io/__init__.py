"""Reading, validating and writing the engine's tables: the old single entry point.

The work is done in :mod:`territory.domain.contract` (the tables' schemas and cell rules),
:mod:`territory.domain.validation` (problems a user can act on), :mod:`territory.io.readers` and
:mod:`territory.io.sheets` (files into frames) and :mod:`territory.io.writers` (frames into files);
this module re-exports their public names so that ``from territory.io import ...`` keeps working.
"""

from __future__ import annotations

from territory.domain.contract import (
    ACCOUNT_OPTIONAL_COLUMNS,
    ACCOUNT_REQUIRED_COLUMNS,
    DEFAULT_TIER,
    MAX_MAGNITUDE,
    MAX_ROWS_PER_PROBLEM,
    MAX_TOTAL_MAGNITUDE,
    REP_OPTIONAL_COLUMNS,
    REP_REQUIRED_COLUMNS,
    SUPPORTED_FORMATS,
    TIERS,
)
from territory.domain.validation import validate_accounts, validate_inputs, validate_reps
from territory.io.readers import load_inputs, load_table, read_table, sheet_choice
from territory.io.sheets import workbook_headers
from territory.io.writers import excel_safe, write_outputs, write_table, write_workbook

__all__ = [
    "ACCOUNT_OPTIONAL_COLUMNS",
    "ACCOUNT_REQUIRED_COLUMNS",
    "DEFAULT_TIER",
    "MAX_MAGNITUDE",
    "MAX_ROWS_PER_PROBLEM",
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
    "write_workbook",
]
