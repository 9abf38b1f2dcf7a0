"""Writing workbooks: formats, headers and layout from the one column table, read back.

Every test opens the written file with openpyxl and looks at what Excel would show: the number
format of each cell, the header text, frozen panes, the autofilter and the stored value.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from territory.domain.stress_results import REP_IMPACT_COLUMNS, SCENARIO_COLUMNS
from territory.io import write_table, write_workbook
from territory.io.runs import PlanFolder
from territory.io.sheets import COLUMNS, KINDS, cell_number, column_spec
from territory.io.writers import ROW_KIND_COLUMN
from territory.workflow.finance import _QUOTA_SHEET_COLUMNS, prior_year_columns

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _sheet(path: Path, name: str | None = None) -> Worksheet:
    book = load_workbook(path)
    sheet = book[name] if name is not None else book.worksheets[0]
    assert isinstance(sheet, Worksheet)
    return sheet


def _column(sheet: Worksheet, header: str) -> int:
    """1-based position of the column whose header reads ``header``."""
    headers = [c.value for c in sheet[1]]
    assert header in headers, headers
    return headers.index(header) + 1


def _scenarios() -> pd.DataFrame:
    """A stress_scenarios-shaped table with the values issue 15 saw formatted wrongly."""
    return pd.DataFrame(
        {
            "scenario_id": ["x0.80", "x1.00"],
            "company_attainment_x": [0.8, 1.0],
            "pct_reps_ge_quota": [8.883, 50.0],
            "incentive_to_ti_budget_p50": [0.614, 1.02],
            "total_comp_p50": [5508434.533438869, 6000000.0],
            "ccos_p50": [0.0417, 0.0375],
        }
    )


def _payout() -> pd.DataFrame:
    """Two rows of a payout table: a small and a large multiple of target incentive."""
    columns = ["plan_id", "attainment", "payout_multiple_of_ti", "payout_at_sample_ote"]
    return pd.DataFrame([("p/hunter", 0.05, 0.05, 4500.0), ("p/hunter", 1.3, 2.5, 225000.0)],
                        columns=columns)  # fmt: skip


class TestColumnTable:
    def test_money_headers_name_the_currency(self) -> None:
        assert column_spec("total_comp_p50", currency="EUR").header == "Total comp P50 (EUR)"
        assert column_spec("ti").header == "Target incentive (USD)"
        assert column_spec("ti", readable=False).header == "ti"

    def test_every_kind_is_defined_and_headers_are_not_snake_case(self) -> None:
        for name, (header, kind) in COLUMNS.items():
            assert kind in KINDS, name
            assert "_" not in header, name

    @pytest.mark.parametrize(
        "name",
        [*SCENARIO_COLUMNS, *REP_IMPACT_COLUMNS, *_QUOTA_SHEET_COLUMNS, "ccos_p10", "ccos_p90"],
    )
    def test_finance_columns_are_in_the_table(self, name: str) -> None:
        assert name in COLUMNS

    def test_periods_and_unknown_columns(self) -> None:
        assert column_spec("q3").header == "Q3 (USD)"
        assert column_spec("m07").header == "Month 7 (USD)"
        unknown = column_spec("segment_code")
        assert unknown.header == "Segment code"
        assert unknown.kind is KINDS["general"]

    @pytest.mark.parametrize(
        ("kind", "value", "written"),
        [
            ("points", 8.883, 0.08883),
            ("share", 0.6144581481900276, 0.614458),
            ("multiple", 0.05, 0.05),
            ("money", 1490.4000000000005, 1490.4),
            ("hours", 1490.4000000000005, 1490.4),
            ("count", 12.0, 12),
            ("general", 0.1 + 0.2, 0.3),
        ],
    )
    def test_values_are_rounded_to_the_column_precision(
        self, kind: str, value: float, written: float
    ) -> None:
        out = cell_number(value, KINDS[kind])
        assert out == written
        assert isinstance(out, int) == (kind == "count")

    @settings(max_examples=200, deadline=None)
    @given(value=st.floats(min_value=-1e12, max_value=1e12, allow_nan=False))
    def test_property_rounding_moves_a_value_by_at_most_half_a_unit(self, value: float) -> None:
        for name in ("money", "share", "multiple", "hours", "km", "number"):
            kind = KINDS[name]
            assert kind.decimals is not None
            out = cell_number(value, kind)
            # half a unit of the last kept decimal, plus the float spacing at this magnitude
            assert abs(out - value) <= 0.5 * 10**-kind.decimals + 2 * math.ulp(value)
            assert cell_number(out, kind) == out  # rounding twice changes nothing
        assert math.isclose(cell_number(value, KINDS["general"]), value, rel_tol=1e-14)


class TestFinanceWorkbook:
    @pytest.fixture
    def path(self, tmp_path: Path) -> Path:
        path = tmp_path / "finance.xlsx"
        assumptions = pd.DataFrame(
            {
                "setting": ["Company target", "Over-assignment", "Seed", "Quota method"],
                "value": pd.Series([165_000_000.0, 0.1, 7, "blended"], dtype=object),
                ROW_KIND_COLUMN: ["money", "share", "count", "text"],
                "source": ["quota_summary.json"] * 3 + ["quota_summary.json"],
            }
        )
        sheets = {"Scenarios": _scenarios(), "Payout table": _payout(), "Assumptions": assumptions}
        write_workbook(path, sheets, currency="USD")
        return path

    def test_sheet_names_in_order(self, path: Path) -> None:
        assert load_workbook(path).sheetnames == ["Scenarios", "Payout table", "Assumptions"]

    def test_formats_and_values_of_the_issue_cases(self, path: Path) -> None:
        sheet = _sheet(path, "Scenarios")
        total = sheet.cell(2, _column(sheet, "Total comp P50 (USD)"))
        assert total.number_format == "#,##0" and total.value == pytest.approx(5508434.53)
        at_quota = sheet.cell(2, _column(sheet, "Reps at quota"))
        assert at_quota.number_format == "0.0%" and at_quota.value == pytest.approx(0.08883)
        budget = sheet.cell(2, _column(sheet, "Incentive to TI budget P50"))
        assert budget.number_format == "0.0%" and budget.value == pytest.approx(0.614)
        assert sheet.cell(3, _column(sheet, "Company attainment")).number_format == "0.0%"
        payout = _sheet(path, "Payout table")
        multiple = _column(payout, "Payout (multiple of TI)")
        assert [payout.cell(r, multiple).value for r in (2, 3)] == [0.05, 2.5]
        assert payout.cell(2, multiple).number_format == '0.00"x"'

    def test_layout_header_freeze_filter_widths(self, path: Path) -> None:
        sheet = _sheet(path, "Scenarios")
        assert [c.value for c in sheet[1]] == [
            "Scenario", "Company attainment", "Reps at quota", "Incentive to TI budget P50",
            "Total comp P50 (USD)", "Cost of sales P50",
        ]  # fmt: skip
        assert all(c.font.bold for c in sheet[1])
        assert sheet.freeze_panes == "B2"
        assert sheet.auto_filter.ref == "A1:F3"
        for cell in sheet[1]:
            width = sheet.column_dimensions[cell.column_letter].width
            assert len(str(cell.value)) < width <= 60

    def test_assumption_values_are_formatted_by_row(self, path: Path) -> None:
        sheet = _sheet(path, "Assumptions")
        assert [c.value for c in sheet[1]] == ["Setting", "Value", "Source"]
        formats = [(sheet.cell(r, 2).value, sheet.cell(r, 2).number_format) for r in range(2, 6)]
        assert formats == [
            (165000000, "#,##0"), (0.1, "0.0%"), (7, "#,##0"), ("blended", "General"),
        ]  # fmt: skip

    def test_same_tables_same_bytes(self, path: Path, tmp_path: Path) -> None:
        again = tmp_path / "again.xlsx"
        sheets = {"Scenarios": _scenarios(), "Payout table": _payout()}
        write_workbook(again, sheets)
        other = tmp_path / "other.xlsx"
        write_workbook(other, sheets)
        assert again.read_bytes() == other.read_bytes()


class TestDataTables:
    """``align --format xlsx``: the same care, but column names kept for reading back."""

    def _territories(self) -> pd.DataFrame:
        """Two territories with float noise (sums of hours) and a formula-like rep id."""
        rows = [
            ("=R1", 144, 12116253.860000005, -0.049641, 1490.4000000000005, 0.881893, 18.633),
            ("R2", 117, 11097422.83, 0.048879, 1385.7999999999997, 0.839879, 3.657),
        ]
        columns = ["rep_id", "n_accounts", "potential", "potential_dev", "workload",
                   "utilization", "mean_distance_km"]  # fmt: skip
        return pd.DataFrame(rows, columns=columns)

    def test_formats_no_float_noise_names_kept(self, tmp_path: Path) -> None:
        path = tmp_path / "territories.xlsx"
        write_table(self._territories(), path, "xlsx")
        sheet = _sheet(path)
        assert sheet.title == "territories"
        assert [c.value for c in sheet[1]] == list(self._territories().columns)
        assert sheet.freeze_panes == "B2" and sheet.auto_filter.ref == "A1:G3"
        row = {c.value: sheet.cell(2, c.column) for c in sheet[1]}
        assert row["rep_id"].value == "'=R1" and row["rep_id"].data_type == "s"
        assert (row["workload"].value, row["workload"].number_format) == (1490.4, "#,##0.0")
        assert (row["potential"].value, row["potential"].number_format) == (12116253.86, "#,##0")
        assert row["potential_dev"].value == -0.049641  # negative numbers stay numbers
        assert row["potential_dev"].number_format == "0.0%"
        assert row["n_accounts"].value == 144 and row["n_accounts"].number_format == "#,##0"
        assert row["mean_distance_km"].number_format == "#,##0.0"
        back = pd.read_excel(path)
        assert back["workload"].tolist() == [1490.4, 1385.8]

    def test_no_cell_starts_like_a_formula(self, tmp_path: Path) -> None:
        frame = self._territories().assign(
            name=["-2+3", "\x01@SUM(A1)"], note=["+x", "\t=1"], delta=[-1.5, -2.0]
        )
        write_table(frame, tmp_path / "t.xlsx", "xlsx")
        write_workbook(tmp_path / "f.xlsx", {"Sheet": frame.rename(columns={"note": "=note"})})
        for name in ("t.xlsx", "f.xlsx"):
            for row in _sheet(tmp_path / name).iter_rows():
                for cell in row:
                    if isinstance(cell.value, str):
                        assert not cell.value.startswith(FORMULA_STARTS), cell.value
                    assert cell.data_type != "f"


def _run(accounts: pd.DataFrame, reps: pd.DataFrame, plan_reps: list[str]) -> PlanFolder:
    plan = pd.DataFrame({"account_id": accounts["account_id"], "rep_id": plan_reps})
    return PlanFolder(Path("."), accounts, reps, plan, pd.DataFrame(), {})


def _impact(ids: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame({c: np.full(len(ids), np.nan) for c in REP_IMPACT_COLUMNS})
    frame["rep_id"] = ids
    frame["territory_id"] = ids
    frame["expected_payout"] = [50_000.0, 40_000.0][: len(ids)]
    return frame


class TestPriorYearColumns:
    def test_filled_from_the_accounts_and_reps(self) -> None:
        accounts = pd.DataFrame(
            {"account_id": ["a", "b", "c"], "quota_last_year": [100.0, 50.0, np.nan]}
        )
        reps = pd.DataFrame({"rep_id": ["R1", "R2"], "prior_year_payout": [45_000.0, 30_000.0]})
        frame, notes = prior_year_columns(
            _impact(["R1", "R2"]), _run(accounts, reps, ["R1"] * 2 + ["R2"])
        )
        assert frame["prior_year_quota"].tolist()[0] == 150.0
        assert np.isnan(frame["prior_year_quota"].tolist()[1])  # R2's only account has none
        assert frame["delta_expected_payout"].tolist() == [5_000.0, 10_000.0]
        assert [n[1] for n in notes] == ["filled", "filled"]

    def test_left_out_with_a_note_when_the_inputs_lack_them(self) -> None:
        accounts = pd.DataFrame({"account_id": ["a", "b"]})
        reps = pd.DataFrame({"rep_id": ["R1", "R2"]})
        frame, notes = prior_year_columns(_impact(["R1", "R2"]), _run(accounts, reps, ["R1", "R2"]))
        assert not {"prior_year_quota", "prior_year_payout", "delta_expected_payout"} & set(
            frame.columns
        )
        assert [n[0] for n in notes] == ["Prior-year quota", "Prior-year payout"]
        assert "quota_last_year" in str(notes[0][3])
