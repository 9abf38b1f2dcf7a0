"""Inputs that used to be misread silently: repeated column names, rows longer than the header,
merged XLSX cells, the wrong worksheet; and a fuzz test that only our errors leave the readers."""

from __future__ import annotations

import contextlib
import os
import re
import string
from collections.abc import Callable
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from typer.testing import CliRunner

from cli import EXIT_BAD_INPUT, app
from territory.domain.synthetic import make_instance
from territory.errors import DataValidationError, TerritoryError, UsageError
from territory.io import load_inputs, read_table, sheet_choice

runner = CliRunner()

REPS_CSV = "rep_id,lat,lon,capacity\nR1,40.0,-74.0,1600\nR2,41.0,-73.0,1600\n"
ACCOUNTS_CSV = (
    "account_id,lat,lon,potential,workload\n"
    "A1,40.1,-74.1,1000,10\n"
    "A2,40.9,-73.1,1200,12\n"
    "A3,40.5,-73.5,900,9\n"
)


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    book = Workbook()
    first = True
    for title, rows in sheets.items():
        sheet = book.active if first else book.create_sheet(title)
        assert sheet is not None
        sheet.title = title
        first = False
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def _rows(frame: pd.DataFrame) -> list[list[object]]:
    return [list(frame.columns), *frame.astype(object).values.tolist()]


def _problems(exc: pytest.ExceptionInfo[DataValidationError]) -> str:
    return "\n".join(str(p) for p in exc.value.problems)


def _cli_align(accounts: Path, reps: Path, out: Path, *extra: str) -> object:
    return runner.invoke(
        app,
        ["align", "--accounts", str(accounts), "--reps", str(reps), "--out", str(out)]
        + ["--quiet", "--time-limit", "10", *extra],
    )


def _refused(result: object, out: Path) -> str:
    """Exit 2, no traceback, nothing written; returns the printed message."""
    assert result.exit_code == EXIT_BAD_INPUT, result.output  # type: ignore[attr-defined]
    output = str(result.output)  # type: ignore[attr-defined]
    assert "Traceback" not in output
    assert isinstance(result.exception, SystemExit)  # type: ignore[attr-defined]
    assert not out.exists()
    return " ".join(output.split())  # undo the console's line wrapping


# --------------------------------------------------------------------------------------------
# Duplicate column names
# --------------------------------------------------------------------------------------------


class TestDuplicateColumns:
    def test_csv_names_the_column_and_both_positions(self, tmp_path: Path) -> None:
        path = _write(
            tmp_path,
            "accounts.csv",
            "account_id,lat,lon,potential,workload,potential\nA1,40,-74,10,1,99\n",
        )
        with pytest.raises(DataValidationError) as exc:
            read_table(path)
        (problem,) = exc.value.problems
        assert problem.source == str(path)
        assert problem.column == "potential"
        assert problem.row == 1
        assert "columns 4 (D) and 6 (F)" in problem.message

    def test_three_copies_are_all_listed(self, tmp_path: Path) -> None:
        path = _write(tmp_path, "t.csv", "a,x,x,b,x\n1,2,3,4,5\n")
        with pytest.raises(DataValidationError, match=r"'x' appears 3 times.*2 \(B\) and 3 \(C\) "):
            read_table(path)

    def test_blank_header_cells_are_not_duplicates(self, tmp_path: Path) -> None:
        path = _write(tmp_path, "t.csv", "a,,b,\n1,,2,\n")
        assert list(read_table(path).columns)[0::2] == ["a", "b"]

    def test_a_literal_dot_one_name_is_not_confused_with_a_copy(self, tmp_path: Path) -> None:
        path = _write(tmp_path, "t.csv", "potential,potential.1\n1,2\n")
        assert list(read_table(path).columns) == ["potential", "potential.1"]

    def test_xlsx(self, tmp_path: Path) -> None:
        path = _workbook(
            tmp_path / "reps.xlsx",
            {"Reps": [["rep_id", "capacity", "lat", "capacity"], ["R1", 1, 2, 3]]},
        )
        with pytest.raises(DataValidationError) as exc:
            read_table(path)
        assert "'capacity' appears 2 times" in _problems(exc)
        assert "columns 2 (B) and 4 (D)" in _problems(exc)

    def test_parquet(self, tmp_path: Path) -> None:
        path = tmp_path / "accounts.parquet"
        table = pa.table(
            [pa.array(["A1"]), pa.array([1.0]), pa.array([2.0])],
            names=["account_id", "potential", "potential"],
        )
        pq.write_table(table, path)
        with pytest.raises(DataValidationError) as exc:
            read_table(path)
        (problem,) = exc.value.problems
        assert problem.column == "potential" and "columns 2 and 3" in problem.message

    def test_cli_exit_2(self, tmp_path: Path) -> None:
        accounts = _write(
            tmp_path, "accounts.csv", ACCOUNTS_CSV.replace("workload\n", "workload,potential\n")
        )
        reps = _write(tmp_path, "reps.csv", REPS_CSV)
        message = _refused(_cli_align(accounts, reps, tmp_path / "out"), tmp_path / "out")
        assert str(accounts) in message
        assert "column 'potential'" in message and "columns 4 (D) and 6 (F)" in message


# --------------------------------------------------------------------------------------------
# Rows with more fields than the header
# --------------------------------------------------------------------------------------------


class TestLongRows:
    def test_first_row_longer_is_not_taken_as_an_index(self, tmp_path: Path) -> None:
        # pandas alone would make "A1" the index and shift every value one column left.
        text = REPS_CSV.replace("R1,40.0,-74.0,1600", "R1,40.0,-74.0,1600,extra")
        path = _write(tmp_path, "reps.csv", text)
        with pytest.raises(DataValidationError) as exc:
            read_table(path)
        (problem,) = exc.value.problems
        assert problem.row == 2 and problem.source == str(path)
        assert "this row has 5 fields but the header has 4" in problem.message

    def test_later_row_longer(self, tmp_path: Path) -> None:
        path = _write(tmp_path, "reps.csv", REPS_CSV + "R3,1,2,3,4,5\n")
        with pytest.raises(DataValidationError) as exc:
            read_table(path)
        (problem,) = exc.value.problems
        assert problem.row == 4
        assert "6 fields but the header has 4" in problem.message
        assert "double quotes" in problem.fix

    def test_rows_count_records_not_lines(self, tmp_path: Path) -> None:
        # A quoted line break keeps one record on two lines; the row is the record's number.
        path = _write(tmp_path, "t.csv", 'a,b\n"x\ny",1\n2,3,4\n')
        with pytest.raises(DataValidationError) as exc:
            read_table(path)
        assert [p.row for p in exc.value.problems] == [3]

    def test_many_long_rows_are_summarised(self, tmp_path: Path) -> None:
        body = "".join(f"R{i},1,2,3,,\n" for i in range(25))
        path = _write(tmp_path, "reps.csv", "rep_id,lat,lon,capacity\n" + body)
        with pytest.raises(DataValidationError) as exc:
            read_table(path)
        problems = exc.value.problems
        assert [p.row for p in problems[:10]] == list(range(2, 12))
        assert re.search(
            r"and 15 more rows with more fields than the header \(rows 12, 13", str(problems[-1])
        )

    def test_shorter_rows_are_still_fine(self, tmp_path: Path) -> None:
        path = _write(tmp_path, "t.csv", "a,b,c\n1,2\n3,4,5\n")
        frame = read_table(path)
        assert frame["c"].tolist() == [None, "5"]

    def test_cli_exit_2(self, tmp_path: Path) -> None:
        accounts = _write(tmp_path, "accounts.csv", ACCOUNTS_CSV + "A4,40,-74,1,1,oops\n")
        reps = _write(tmp_path, "reps.csv", REPS_CSV)
        message = _refused(_cli_align(accounts, reps, tmp_path / "out"), tmp_path / "out")
        assert f"{accounts}, row 5" in message
        assert "6 fields but the header has 5" in message


# --------------------------------------------------------------------------------------------
# XLSX: merged cells and sheets
# --------------------------------------------------------------------------------------------


class TestMergedCells:
    def _accounts_book(self, path: Path, merge: str) -> Path:
        accounts = pd.read_csv(StringIO(ACCOUNTS_CSV))
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.title = "Accounts"
        for row in _rows(accounts):
            sheet.append(row)
        sheet.merge_cells(merge)
        book.save(path)
        return path

    def test_merged_range_hiding_values_is_named(self, tmp_path: Path) -> None:
        # B2:B3 merged: A2's latitude spreads over A3's row, which then reads blank.
        path = self._accounts_book(tmp_path / "accounts.xlsx", "B2:B3")
        with pytest.raises(DataValidationError) as exc:
            read_table(path)
        (problem,) = exc.value.problems
        assert problem.source == str(path)
        assert "sheet 'Accounts' has merged cells (B2:B3)" in problem.message
        assert "Unmerge" in problem.fix

    def test_merged_blank_cells_hide_nothing(self, tmp_path: Path) -> None:
        path = self._accounts_book(tmp_path / "accounts.xlsx", "H2:I4")
        assert len(read_table(path)) == 3

    def test_cli_exit_2(self, tmp_path: Path) -> None:
        accounts = self._accounts_book(tmp_path / "accounts.xlsx", "D3:D4")
        reps = _write(tmp_path, "reps.csv", REPS_CSV)
        message = _refused(_cli_align(accounts, reps, tmp_path / "out"), tmp_path / "out")
        assert str(accounts) in message and "D3:D4" in message


class TestSheets:
    @pytest.fixture
    def book(self, tmp_path: Path) -> Path:
        accounts, reps = make_instance(40, 3, seed=2)
        return _workbook(
            tmp_path / "plan.xlsx",
            {"Read me": [["notes"], ["exported 2025"]], "Accounts": _rows(accounts),
             "Reps": _rows(reps)},
        )  # fmt: skip

    def test_sheet_by_name(self, book: Path) -> None:
        assert list(read_table(book, sheet="Reps").columns)[0] == "rep_id"
        assert list(read_table(book, sheet="reps").columns)[0] == "rep_id"  # case-insensitive

    def test_unknown_sheet_lists_the_sheets(self, book: Path) -> None:
        with pytest.raises(DataValidationError) as exc:
            read_table(book, sheet="Acounts")
        (problem,) = exc.value.problems
        assert "no sheet named 'Acounts'" in problem.message
        assert "'Read me', 'Accounts', 'Reps'" in problem.message

    def test_sheet_for_a_csv_is_refused(self, tmp_path: Path) -> None:
        path = _write(tmp_path, "reps.csv", REPS_CSV)
        with pytest.raises(DataValidationError, match="a .csv file has no sheets"):
            read_table(path, sheet="Reps")

    def test_first_sheet_without_the_columns_names_the_sheets_that_have_them(
        self, book: Path
    ) -> None:
        with pytest.raises(DataValidationError) as exc:
            load_inputs(book, book)
        text = _problems(exc)
        assert "sheet 'Read me' lacks the accounts table's required columns, but sheet(s) " \
               "'Accounts' have them" in text  # fmt: skip
        assert "--sheet accounts=Accounts" in text
        assert "--sheet reps=Reps" in text
        # The hint comes first: it explains the missing-column problems after it.
        assert "Read me" in str(exc.value.problems[0])

    def test_load_inputs_with_sheets(self, book: Path) -> None:
        accounts, reps = load_inputs(book, book, accounts_sheet="Accounts", reps_sheet="Reps")
        assert len(accounts) == 40 and len(reps) == 3

    def test_sheet_choice(self, tmp_path: Path) -> None:
        book, csv = tmp_path / "b.xlsx", tmp_path / "r.csv"
        assert sheet_choice([], book, csv) == (None, None)
        assert sheet_choice(["Data"], book, csv) == ("Data", None)
        assert sheet_choice(["Data"], book, book) == ("Data", "Data")
        assert sheet_choice(["accounts=A", "reps=R"], book, book) == ("A", "R")
        assert sheet_choice(["a=b"], book, csv) == ("a=b", None)  # a sheet named "a=b"
        with pytest.raises(UsageError, match="neither the accounts nor the reps file"):
            sheet_choice(["Data"], csv, csv)
        with pytest.raises(UsageError, match="two sheets for the reps table"):
            sheet_choice(["reps=A", "reps=B"], book, book)
        with pytest.raises(UsageError, match="names no sheet"):
            sheet_choice(["accounts= "], book, book)

    def test_cli_lists_sheets_then_reads_the_chosen_ones(self, book: Path, tmp_path: Path) -> None:
        out = tmp_path / "out"
        message = _refused(_cli_align(book, book, out), out)
        assert "--sheet accounts=Accounts" in message and "--sheet reps=Reps" in message
        result = _cli_align(book, book, out, "--sheet", "accounts=Accounts", "--sheet", "reps=Reps")
        assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
        assert len(pd.read_csv(out / "assignments.csv")) == 40

    def test_cli_unknown_sheet(self, book: Path, tmp_path: Path) -> None:
        out = tmp_path / "out"
        message = _refused(_cli_align(book, book, out, "--sheet", "reps=Staff"), out)
        assert "no sheet named 'Staff'" in message and "'Read me', 'Accounts', 'Reps'" in message

    def test_cli_sheet_without_a_workbook(self, tmp_path: Path) -> None:
        accounts = _write(tmp_path, "accounts.csv", ACCOUNTS_CSV)
        reps = _write(tmp_path, "reps.csv", REPS_CSV)
        out = tmp_path / "out"
        message = _refused(_cli_align(accounts, reps, out, "--sheet", "Data"), out)
        assert "--sheet 'Data'" in message and "neither the accounts nor the reps" in message


# --------------------------------------------------------------------------------------------
# Fuzz: only our errors leave the readers
# --------------------------------------------------------------------------------------------

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_csvish = st.lists(
    st.sampled_from(list(string.ascii_letters[:6] + string.digits + ',;"\n\r\t .-e=')
                    + ["\x00", "\ufeff", "é", "\u2028", "∞", "inf", "nan", "1e999", "potential",
                       "account_id", "lat", "lon", "workload", ",,", '""']),
    max_size=120,
).map("".join)  # fmt: skip

_header = st.lists(
    st.sampled_from(
        ["account_id", "lat", "lon", "potential", "workload", "current_rep", "locked_rep",
         "revenue_last_year", "revenue_prior_year", "name", "rep_id", "capacity", "tier",
         "rating", "", "x", "Account ID"]
    ),
    min_size=1,
    max_size=8,
)  # fmt: skip

_cell = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["1e308", "-1e400", "inf", "NaN", "A", "R1", "  ", "=1+1", "00123"]),
)


def _only_ours(action: Callable[[], object]) -> None:
    """Run a reader: any exception other than one of ours fails the test."""
    with contextlib.suppress(TerritoryError):
        action()


class TestFuzzReaders:
    @FUZZ
    @given(data=st.binary(max_size=400), ext=st.sampled_from(["csv", "xlsx", "parquet"]))
    def test_random_bytes(self, tmp_path: Path, data: bytes, ext: str) -> None:
        path = tmp_path / f"t.{ext}"
        path.write_bytes(data)
        _only_ours(lambda: read_table(path))

    @FUZZ
    @given(text=_csvish)
    def test_random_csv_text(self, tmp_path: Path, text: str) -> None:
        path = tmp_path / "accounts.csv"
        path.write_bytes(text.encode("utf-8"))
        reps = _write(tmp_path, "reps.csv", REPS_CSV)
        _only_ours(lambda: read_table(path))
        _only_ours(lambda: load_inputs(path, reps))

    @FUZZ
    @given(
        header=_header,
        rows=st.lists(st.lists(_cell, min_size=0, max_size=9), min_size=0, max_size=5),
        ext=st.sampled_from(["csv", "xlsx", "parquet"]),
    )
    def test_random_frames(
        self, tmp_path: Path, header: list[str], rows: list[list[object]], ext: str
    ) -> None:
        path = tmp_path / f"accounts.{ext}"
        width = len(header)
        cells = [(row + [None] * width)[:width] for row in rows]
        if ext == "csv":
            lines = [",".join(header)]
            lines += [",".join("" if c is None else str(c).replace(",", " ") for c in r)
                      for r in cells]  # fmt: skip
            path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
        elif ext == "xlsx":
            book = Workbook()
            sheet = book.active
            assert sheet is not None
            sheet.append(header)
            for r in cells:
                sheet.append([_xlsx_value(c) for c in r])
            book.save(path)
        else:
            if len(set(header)) != len(header):
                columns = [pa.array([None] * len(cells), type=pa.string()) for _ in header]
                pq.write_table(pa.table(columns, names=header), path)
            else:
                frame = pd.DataFrame(
                    {
                        h: pd.Series([r[i] for r in cells], dtype=object)
                        for i, h in enumerate(header)
                    }
                )
                try:
                    frame.to_parquet(path)
                except (pa.ArrowException, ValueError, TypeError, OverflowError):
                    frame.astype(str).to_parquet(path)  # mixed objects: store them as text
        reps = _write(tmp_path, "reps.csv", REPS_CSV)
        _only_ours(lambda: read_table(path))
        _only_ours(lambda: load_inputs(path, reps))
        _only_ours(lambda: load_inputs(reps, path))


def _xlsx_value(value: object) -> object:
    """What openpyxl can store: text without XML-illegal characters, bounded integers."""
    if isinstance(value, str):
        return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]", "", value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        return float(value)
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    return value


def _odd_arrays() -> dict[str, pa.Array]:
    """Parquet column types a database export may hold, none of them plain text or float."""
    import datetime as dt
    import decimal

    return {
        "list": pa.array([[1.0], [2.0]]),
        "struct": pa.array([{"a": 1}, {"a": 2}]),
        "binary": pa.array([b"\x00\xff", b"1"]),
        "timestamp": pa.array([dt.datetime(2020, 1, 1), None], type=pa.timestamp("ns")),
        "timestamp_tz": pa.array([dt.datetime(2020, 1, 1), None], type=pa.timestamp("ns", "UTC")),
        "duration": pa.array([1, 2], type=pa.duration("s")),
        "decimal": pa.array([decimal.Decimal("2"), decimal.Decimal("1e30")], pa.decimal256(76, 0)),
        "dictionary": pa.array(["x", "y"]).dictionary_encode(),
        "bool": pa.array([True, False]),
        "null": pa.array([None, None], type=pa.null()),
        "uint64": pa.array(np.array([2**64 - 1, 1], dtype=np.uint64)),
        "date": pa.array([dt.date(2020, 1, 1), None]),
        "map": pa.array([[("k", 1)], [("k", 2)]], type=pa.map_(pa.string(), pa.int64())),
    }


@pytest.mark.parametrize("kind", sorted(_odd_arrays()))
def test_parquet_column_types_give_only_our_errors(tmp_path: Path, kind: str) -> None:
    reps = _write(tmp_path, "reps.csv", REPS_CSV)
    for column in ("account_id", "potential", "lat", "current_rep", "revenue_prior_year", "x"):
        base = {
            "account_id": pa.array(["A1", "A2"]),
            "lat": pa.array([40.0, 40.5]),
            "lon": pa.array([-74.0, -73.5]),
            "potential": pa.array([1.0, 2.0]),
            "workload": pa.array([1.0, 1.0]),
        }
        base[column] = _odd_arrays()[kind]
        path = tmp_path / "accounts.parquet"
        pq.write_table(pa.table(base), path)
        _only_ours(lambda: load_inputs(path, reps))  # noqa: B023 - called at once
