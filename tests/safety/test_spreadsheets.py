"""Spreadsheet safety: no text the engine writes becomes a live formula, in CSV or any XLSX sheet.

Neutralisation must look at the final cell text: an XLSX writer drops characters XML cannot hold
("\\x01=HYPERLINK(...)" would become "=HYPERLINK(...)"), and a spreadsheet may trim leading
whitespace before deciding what a cell is.
"""

from __future__ import annotations

import csv
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from typer.testing import CliRunner

from cli import app
from territory.domain.synthetic import make_instance
from territory.io import excel_safe, write_outputs, write_table, write_workbook

runner = CliRunner()

_FORMULA_START = "=+-@"
_STRIPPABLE = (
    "".join(
        chr(c)
        for c in range(0x3000)
        if chr(c).isspace() or unicodedata.category(chr(c)) in ("Cc", "Cf", "Zs", "Zl", "Zp")
    )
    + "\ufeff"
)


def _live(text: str) -> bool:
    """Whether a spreadsheet could take this cell text for a formula."""
    if text.startswith(("=", "+", "-", "@", "\t", "\r")):
        return True
    return text.lstrip(_STRIPPABLE)[:1] in tuple(_FORMULA_START)


_lead = st.text(
    alphabet=st.sampled_from(["\x00", "\x01", "\x08", "\x0b", "\x1f", "\x7f", " ", "\t", "\r",
                              "\n", "\u200b", "\ufeff", "\u00a0", "\u2028"]),
    max_size=3,
)  # fmt: skip
_nasty = st.one_of(
    st.builds(
        lambda lead, start, rest: lead + start + rest,
        _lead,
        st.sampled_from(["=", "+", "-", "@", "\t", "\r", "\n", ""]),
        st.sampled_from(['HYPERLINK("http://x","y")', "1+1", "cmd|' /C calc'!A0", "SUM(A1)", ""]),
    ),
    st.text(max_size=20),
)


def _assert_safe_workbook(path: Path) -> int:
    """No formula cell and no live formula text on any sheet; returns the cells checked."""
    book = load_workbook(path)
    checked = 0
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not _live(cell.value), (sheet.title, cell.coordinate, cell.value)
                    checked += 1
    return checked


def _is_number(field: str) -> bool:
    """A plain number such as -3 or -1.25 (a spreadsheet reads it as a number, not a formula)."""
    try:
        float(field)
    except ValueError:
        return False
    return field == field.strip() and not field.lstrip("+-").lower().startswith(("inf", "nan"))


def _assert_safe_csv(path: Path) -> None:
    with path.open(encoding="utf-8", newline="") as handle:
        for record in csv.reader(handle):
            for field in record:
                assert _is_number(field) or not _live(field), field


def _frame(texts: list[str]) -> pd.DataFrame:
    n = len(texts)
    return pd.DataFrame(
        {
            "account_id": texts,
            "name": list(reversed(texts)),
            "delta": np.linspace(-5.5, 5.5, n) if n else np.array([], dtype=float),
            "mixed": pd.Series([t if i % 2 else -1.25 for i, t in enumerate(texts)], dtype=object),
        }
    )


EXAMPLES = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


class TestNeutralisation:
    @pytest.mark.parametrize(
        "value",
        ["\x01=HYPERLINK(\"http://evil\",\"x\")", "\x00+1", "\x1f-2+3", "\u200b=1", " =1+1",
         "\n@SUM(A1)", "\r=1", "\t=1", "\ufeff=1"],
    )  # fmt: skip
    def test_control_characters_do_not_hide_a_formula(self, value: str) -> None:
        assert excel_safe(pd.DataFrame({"t": [value]}))["t"].item() == "'" + value

    def test_plain_text_and_numbers_are_untouched(self) -> None:
        frame = pd.DataFrame(
            {"t": ["Acme", "O'Brien", "", "x=1", None], "n": [-1.0, -2.5, 0.0, 3.0, np.nan]}
        )
        safe = excel_safe(frame)
        assert safe["t"].tolist() == ["Acme", "O'Brien", "", "x=1", None]
        assert safe["n"].tolist()[:4] == [-1.0, -2.5, 0.0, 3.0]

    def test_xlsx_cell_after_stripping_control_characters(self, tmp_path: Path) -> None:
        path = tmp_path / "t.xlsx"
        write_table(pd.DataFrame({"name": ['\x01=HYPERLINK("http://evil","x")']}), path, "xlsx")
        cell = load_workbook(path).worksheets[0]["A2"]
        assert cell.data_type == "s" and cell.value == '\'=HYPERLINK("http://evil","x")'

    def test_header_from_user_data(self, tmp_path: Path) -> None:
        frame = pd.DataFrame({"\x02=cmd()": ["a"], "-note": ["b"], "ok": [-3]})
        write_table(frame, tmp_path / "t.xlsx", "xlsx")
        write_table(frame, tmp_path / "t.csv", "csv")
        _assert_safe_workbook(tmp_path / "t.xlsx")
        _assert_safe_csv(tmp_path / "t.csv")
        sheet = load_workbook(tmp_path / "t.xlsx").worksheets[0]
        assert sheet["C2"].data_type == "n" and sheet["C2"].value == -3

    @EXAMPLES
    @given(texts=st.lists(_nasty, max_size=12))
    def test_property_csv_and_xlsx_tables(self, tmp_path: Path, texts: list[str]) -> None:
        frame = _frame(texts)
        write_table(frame, tmp_path / "t.csv", "csv")
        write_table(frame, tmp_path / "t.xlsx", "xlsx")
        _assert_safe_csv(tmp_path / "t.csv")
        _assert_safe_workbook(tmp_path / "t.xlsx")
        sheet = load_workbook(tmp_path / "t.xlsx").worksheets[0]
        for i in range(len(texts)):  # negative numbers stay numbers
            cell = sheet.cell(row=i + 2, column=3)
            assert cell.data_type == "n" and cell.value == pytest.approx(frame["delta"][i])

    @EXAMPLES
    @given(texts=st.lists(_nasty, min_size=1, max_size=8), labels=st.lists(_nasty, max_size=3))
    def test_property_every_sheet_of_a_workbook(
        self, tmp_path: Path, texts: list[str], labels: list[str]
    ) -> None:
        # finance.xlsx: several sheets, formatted, user text in cells and in column names.
        extra = pd.DataFrame({f"{label}{i}": texts[:1] for i, label in enumerate(labels)})
        sheets = {
            "rep_impact": _frame(texts),
            "payout_table": pd.DataFrame({"role": texts, "payout": -np.arange(len(texts)) * 1.5}),
            "stress_scenarios": extra if len(extra.columns) else _frame(texts[:1]),
        }
        write_workbook(tmp_path / "finance.xlsx", sheets)
        _assert_safe_workbook(tmp_path / "finance.xlsx")
        payout = load_workbook(tmp_path / "finance.xlsx")["payout_table"]
        assert all(c.data_type == "n" for c in payout["B"][1:])


def test_cli_align_xlsx_and_csv_outputs_hold_no_formulas(tmp_path: Path) -> None:
    accounts, reps = make_instance(50, 3, seed=4)
    nasty = ['\x01=HYPERLINK("http://evil","x")', "\x00+1", "\u200b@SUM(A1)", " -2+3", "\t=1"]
    for i, text in enumerate(nasty):
        accounts.loc[i, "account_id"] = f"{text}#{i}"
        accounts.loc[i, "name"] = text
    accounts["segment"] = accounts["segment"].astype(object)
    accounts.loc[0, "segment"] = "\x1f=cmd()"
    accounts.to_csv(tmp_path / "accounts.csv", index=False)
    reps.to_csv(tmp_path / "reps.csv", index=False)
    for fmt in ("xlsx", "csv"):
        out = tmp_path / f"out-{fmt}"
        result = runner.invoke(
            app,
            ["align", "--accounts", str(tmp_path / "accounts.csv"), "--reps",
             str(tmp_path / "reps.csv"), "--out", str(out), "--format", fmt, "--quiet",
             "--time-limit", "10"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        written = sorted(out.glob(f"*.{fmt}"))
        assert {p.stem for p in written} >= {"assignments", "territories"}
        for path in written:
            if fmt == "xlsx":
                _assert_safe_workbook(path)
            else:
                _assert_safe_csv(path)
    sheet = load_workbook(tmp_path / "out-xlsx" / "assignments.xlsx").worksheets[0]
    ids = {c.value for c in sheet["A"][1:]}
    assert '\'=HYPERLINK("http://evil","x")#0' in ids  # the control character is gone


def test_write_outputs_documents_are_not_spreadsheets(tmp_path: Path) -> None:
    # JSON keeps the raw text (machines read it); only the tables are neutralised.
    out = write_outputs(
        tmp_path / "run", {"t": pd.DataFrame({"a": ["=1"]})}, {"d.json": {"a": "=1"}}, "csv"
    )
    assert (out / "t.csv").read_text() == "a\n'=1\n"
    assert '"=1"' in (out / "d.json").read_text()
