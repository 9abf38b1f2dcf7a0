"""Reading, validating and writing tables: territory.io.

Tiny fixtures are drawn as CSV text. Three accounts and two reps::

    account_id  lat    lon     potential  workload  current_rep  unit_id
    00123       40.71  -74.00  1000       10        R1           02134
    00124       40.73  -73.99  2500       12.5      R2           02135
    A-3         40.75  -73.98  0          0         (blank)      (blank)
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import territory.io.writers as writers
from territory.domain.contract import ACCOUNT_REQUIRED_COLUMNS, ACCOUNTS_SCHEMA
from territory.errors import DataValidationError
from territory.io import (
    SUPPORTED_FORMATS,
    excel_safe,
    load_inputs,
    read_table,
    validate_accounts,
    validate_inputs,
    validate_reps,
    write_outputs,
    write_table,
)

ACCOUNTS_CSV = """\
account_id,lat,lon,potential,workload,current_rep,revenue_last_year,name,segment,locked_rep,unit_id,note
00123,40.71,-74.00,1000,10,R1,900,Acme,SMB,,02134,keep me
00124,40.73,-73.99,2500,12.5,R2,,Beta, Mid ,R2,02135,
A-3,40.75,-73.98,0,0,,0,,,,,
"""

REPS_CSV = """\
rep_id,lat,lon,capacity,tier,rating,name,role
R1,40.70,-74.01,1600,a,0.8,Ann,AE
R2,40.72,-73.97,1200,,,Bob,
"""


def _file(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def _problem(source: str | Path, row: int | None, column: str, text: str) -> str:
    """Regex for one rendered problem: file, row and column, then the message."""
    where = str(source) + (f", row {row}" if row is not None else "")
    return re.escape(f"{where}, column '{column}': ") + f".*{text}"


def _accounts_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": ["00123", "00124", "A-3"],
            "lat": [40.71, 40.73, 40.75],
            "lon": [-74.0, -73.99, -73.98],
            "potential": [1000.0, 2500.0, 0.0],
            "workload": [10.0, 12.5, 0.0],
            "current_rep": ["R1", "R2", None],
            "unit_id": ["02134", "02135", None],
        }
    )


def _reps_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rep_id": ["R1", "R2"],
            "lat": [40.70, 40.72],
            "lon": [-74.01, -73.97],
            "capacity": [1600.0, 1200.0],
        }
    )


@pytest.fixture
def good_files(tmp_path: Path) -> tuple[Path, Path]:
    return _file(tmp_path, "accounts.csv", ACCOUNTS_CSV), _file(tmp_path, "reps.csv", REPS_CSV)


class TestSyntheticRead:
    def test_load_inputs_normalises_types(self, good_files: tuple[Path, Path]) -> None:
        accounts, reps = load_inputs(*good_files)
        assert isinstance(accounts.index, pd.RangeIndex)
        assert accounts["account_id"].tolist() == ["00123", "00124", "A-3"]
        assert accounts["unit_id"].tolist() == ["02134", "02135", None]
        for column in ("account_id", "current_rep", "name", "segment", "locked_rep", "unit_id"):
            assert accounts[column].dtype == object
        for column in ("lat", "lon", "potential", "workload", "revenue_last_year"):
            assert accounts[column].dtype == np.float64
        assert accounts["revenue_last_year"].isna().tolist() == [False, True, False]
        assert accounts.loc[1, "segment"] == "Mid"  # whitespace stripped
        assert accounts.loc[2, "current_rep"] is None
        assert accounts["note"].tolist() == ["keep me", None, None]  # pass-through column
        assert reps["tier"].tolist() == ["A", "B"]
        assert reps["rating"].dtype == np.float64
        assert reps["rating"].isna().tolist() == [False, True]

    def test_optional_columns_are_filled(self) -> None:
        accounts, reps = validate_inputs(_accounts_frame(), _reps_frame())
        assert accounts["locked_rep"].tolist() == [None, None, None]
        assert accounts["revenue_last_year"].isna().all()
        assert reps["tier"].tolist() == ["B", "B"]
        assert list(accounts.columns[:5]) == ["account_id", "lat", "lon", "potential", "workload"]

    def test_numeric_ids_become_text(self) -> None:
        accounts = _accounts_frame().assign(account_id=[1, 2, 3])
        reps = _reps_frame().assign(rep_id=[7.0, 8.0])
        accounts["current_rep"] = ["7", "8", None]
        out_accounts, out_reps = validate_inputs(accounts, reps)
        assert out_accounts["account_id"].tolist() == ["1", "2", "3"]
        assert out_reps["rep_id"].tolist() == ["7", "8"]

    def test_blank_rows_are_skipped_but_row_numbers_kept(self, tmp_path: Path) -> None:
        text = ACCOUNTS_CSV.replace("A-3,40.75", "\n,,,,,,,,,,,\nA-3,140.75")
        path = _file(tmp_path, "accounts.csv", text)
        frame, problems = validate_accounts(read_table(path), str(path))
        assert len(frame) == 3
        assert [(p.row, p.column) for p in problems] == [(6, "lat")]

    def test_validation_is_idempotent(self) -> None:
        accounts, reps = validate_inputs(_accounts_frame(), _reps_frame())
        again_accounts, again_reps = validate_inputs(accounts, reps)
        pd.testing.assert_frame_equal(accounts, again_accounts)
        pd.testing.assert_frame_equal(reps, again_reps)

    def test_xlsx_numeric_id_cells_become_text(self, tmp_path: Path) -> None:
        from openpyxl import Workbook

        workbook = Workbook()
        sheet = workbook.active
        assert sheet is not None
        sheet.append(["rep_id", "lat", "lon", "capacity", "zip"])
        sheet.append([101, 40.5, -74, 1600, 2134])
        sheet.append(["R2", "40.6", "-74.1", "1200", None])
        path = tmp_path / "reps.xlsx"
        workbook.save(path)
        frame, problems = validate_reps(read_table(path), str(path))
        assert problems == []
        assert frame["rep_id"].tolist() == ["101", "R2"]
        assert frame["lat"].tolist() == [40.5, 40.6]
        assert frame["zip"].tolist() == [2134, None]  # pass-through keeps the cell as it is

    def test_text_na_is_an_id_not_a_blank(self, tmp_path: Path) -> None:
        path = _file(tmp_path, "reps.csv", "rep_id,lat,lon,capacity\nNA,1,2,3\n")
        frame, problems = validate_reps(read_table(path), str(path))
        assert problems == []
        assert frame["rep_id"].tolist() == ["NA"]


class TestSyntheticRoundTrip:
    @pytest.mark.parametrize("fmt", SUPPORTED_FORMATS)
    def test_round_trip_keeps_ids_and_values(self, tmp_path: Path, fmt: str) -> None:
        accounts, reps = validate_inputs(_accounts_frame(), _reps_frame())
        accounts_path, reps_path = tmp_path / f"accounts.{fmt}", tmp_path / f"reps.{fmt}"
        write_table(accounts, accounts_path, fmt)
        write_table(reps, reps_path, fmt)
        back_accounts, back_reps = load_inputs(accounts_path, reps_path)
        assert back_accounts["account_id"].tolist() == ["00123", "00124", "A-3"]
        assert back_accounts["unit_id"].tolist() == ["02134", "02135", None]
        pd.testing.assert_frame_equal(back_accounts, accounts)
        pd.testing.assert_frame_equal(back_reps, reps)

    def test_xlsx_sheet_and_frozen_header(self, tmp_path: Path) -> None:
        from openpyxl import load_workbook

        path = tmp_path / "plan.xlsx"
        write_table(_accounts_frame(), path, "xlsx")
        sheet = load_workbook(path).active
        assert sheet is not None
        assert sheet.title == "plan"
        assert sheet.freeze_panes == "B2"  # header row and the id column
        assert sheet["A2"].value == "00123"
        assert sheet["B2"].value == pytest.approx(40.71)

    def test_csv_uses_unix_newlines_and_no_index(self, tmp_path: Path) -> None:
        path = tmp_path / "t.csv"
        write_table(pd.DataFrame({"a": [0.1, np.nan], "b": ["x", None]}), path, "csv")
        assert path.read_bytes() == b"a,b\n0.1,x\n,\n"


class TestSyntheticExcelSafe:
    def test_formula_prefixes_are_neutralised(self) -> None:
        cells = ["=cmd|' /C calc'!A0", "+1", "-x", "@a", "\tx", "\rx", "plain", None]
        frame = pd.DataFrame({"text": cells, "amount": [-1.5, -2, 0, 1, 2, 3, 4, 5]})
        safe = excel_safe(frame)
        assert safe["text"].tolist() == [
            "'=cmd|' /C calc'!A0",
            "'+1",
            "'-x",
            "'@a",
            "'\tx",
            "'\rx",
            "plain",
            None,
        ]
        assert safe["amount"].tolist() == [-1.5, -2, 0, 1, 2, 3, 4, 5]
        assert safe["amount"].dtype == frame["amount"].dtype
        assert frame["text"].iloc[0] == "=cmd|' /C calc'!A0"  # input untouched

    def test_numbers_inside_text_columns_stay_numbers(self) -> None:
        frame = pd.DataFrame({"mixed": pd.Series([-3, "=1+1", 2.5], dtype=object)})
        assert excel_safe(frame)["mixed"].tolist() == [-3, "'=1+1", 2.5]

    def test_string_dtype_columns_are_neutralised(self) -> None:
        frame = pd.DataFrame({"s": pd.Series(["=a", "b"], dtype="string")})
        assert excel_safe(frame)["s"].tolist() == ["'=a", "b"]

    def test_written_csv_and_xlsx_hold_no_formulas(self, tmp_path: Path) -> None:
        from openpyxl import load_workbook

        frame = pd.DataFrame({"name": ['=HYPERLINK("x")'], "delta": [-4.0]})
        write_table(frame, tmp_path / "t.csv", "csv")
        assert "'=HYPERLINK" in (tmp_path / "t.csv").read_text(encoding="utf-8")
        write_table(frame, tmp_path / "t.xlsx", "xlsx")
        sheet = load_workbook(tmp_path / "t.xlsx").active
        assert sheet is not None
        assert sheet["A2"].data_type == "s"
        assert sheet["B2"].value == -4.0


class TestSyntheticWriteOutputs:
    def test_writes_tables_and_documents(self, tmp_path: Path) -> None:
        out = tmp_path / "nested" / "run"
        document = {"b": np.int64(2), "a": np.float64(1.5), "gap": float("nan"), "ids": ("x",)}
        result = write_outputs(out, {"accounts": _accounts_frame()}, {"summary.json": document})
        assert result == out
        assert sorted(p.name for p in out.iterdir()) == [
            ".territory-run.json",
            "accounts.csv",
            "summary.json",
        ]
        marker = json.loads((out / ".territory-run.json").read_text(encoding="utf-8"))
        assert marker["files"] == ["accounts.csv", "summary.json"]
        assert marker["command"] == "write_outputs"
        text = (out / "summary.json").read_text(encoding="utf-8")
        assert text.endswith("}\n")
        assert json.loads(text) == {"a": 1.5, "b": 2, "gap": None, "ids": ["x"]}
        assert text.index('"a"') < text.index('"b"')

    def test_replaces_previous_folder(self, tmp_path: Path) -> None:
        out = tmp_path / "run"
        write_outputs(out, {"old": _reps_frame()}, {})
        write_outputs(out, {"new": _reps_frame()}, {})
        assert sorted(p.name for p in out.iterdir()) == [".territory-run.json", "new.csv"]
        assert [p.name for p in tmp_path.iterdir()] == ["run"]

    @pytest.mark.parametrize("fmt", SUPPORTED_FORMATS)
    def test_repeated_writes_are_byte_identical(self, tmp_path: Path, fmt: str) -> None:
        accounts, reps = validate_inputs(_accounts_frame(), _reps_frame())
        tables = {"accounts": accounts, "reps": reps}
        documents = {"meta.json": {"seed": np.int64(1), "score": 0.1 + 0.2}}
        first = write_outputs(tmp_path / "one", tables, documents, fmt=fmt)
        second = write_outputs(tmp_path / "two", tables, documents, fmt=fmt)
        for name in (f"accounts.{fmt}", f"reps.{fmt}", "meta.json", ".territory-run.json"):
            assert (first / name).read_bytes() == (second / name).read_bytes(), name

    def test_xlsx_carries_no_clock_time(self, tmp_path: Path) -> None:
        # Writing twice within one second would hide a "now" timestamp; check it directly.
        path = tmp_path / "t.xlsx"
        write_table(_reps_frame(), path, "xlsx")
        with zipfile.ZipFile(path) as archive:
            assert {info.date_time for info in archive.infolist()} == {(2000, 1, 1, 0, 0, 0)}
            core = archive.read("docProps/core.xml").decode()
        assert core.count("2000-01-01T00:00:00Z") == 2


class TestErrorsRead:
    def test_file_not_found(self, tmp_path: Path) -> None:
        path = tmp_path / "acounts.csv"
        _file(tmp_path, "accounts.csv", ACCOUNTS_CSV)
        with pytest.raises(DataValidationError, match=re.escape(f"{path}: file not found")) as exc:
            read_table(path)
        assert "'accounts.csv'" in str(exc.value)  # suggests the near-miss file name

    @pytest.mark.parametrize(
        ("name", "text", "pattern"),
        [
            pytest.param(
                "accounts.xls", "x", r"unsupported file type '\.xls'.*\.xlsx", id="extension"
            ),
            pytest.param("accounts.csv", "", "{path}: the file is empty", id="empty_file"),
            pytest.param(
                "reps.csv", "rep_id,lat,lon,capacity\n\n", "{path}: .*no data rows", id="no_rows"
            ),
            pytest.param(
                "reps.csv",
                REPS_CSV + "R3,1,2,3,B,0.5,Cy,AE,extra,more\n",
                r"cannot be parsed.*double quotes",
                id="ragged_csv",
            ),
            pytest.param(
                "reps.xlsx", "not a zip", r"cannot be read as an Excel workbook", id="damaged_xlsx"
            ),
        ],
    )
    def test_unreadable_file_named(
        self, tmp_path: Path, name: str, text: str, pattern: str
    ) -> None:
        """``{path}`` in the pattern stands for the file's own path, matched literally."""
        path = _file(tmp_path, name, text)
        with pytest.raises(
            DataValidationError, match=pattern.replace("{path}", re.escape(str(path)))
        ):
            read_table(path)

    def test_non_utf8_csv(self, tmp_path: Path) -> None:
        path = tmp_path / "accounts.csv"
        path.write_bytes(ACCOUNTS_CSV.replace("Beta", "Bêta").encode("latin-1"))
        offset = ACCOUNTS_CSV.index("Beta") + 1
        pattern = re.escape(f"{path}, row 3: the file is not UTF-8") + f".*byte offset {offset}"
        with pytest.raises(DataValidationError, match=pattern + r".*line 3.*UTF-8"):
            read_table(path)

    def test_utf8_with_byte_order_mark_is_fine(self, tmp_path: Path) -> None:
        path = tmp_path / "reps.csv"
        path.write_bytes(REPS_CSV.encode("utf-8-sig"))
        assert read_table(path).columns[0] == "rep_id"

    def test_read_problems_of_both_files_are_reported_together(self, tmp_path: Path) -> None:
        accounts = _file(tmp_path, "accounts.csv", ACCOUNTS_CSV.replace("40.71", "north"))
        with pytest.raises(DataValidationError) as exc:
            load_inputs(accounts, tmp_path / "missing.parquet")
        rendered = str(exc.value)
        assert "missing.parquet: file not found" in rendered
        assert "'north' is not a number" in rendered


class TestErrorsValidate:
    def _load(self, folder: Path, accounts: str = ACCOUNTS_CSV, reps: str = REPS_CSV) -> None:
        load_inputs(_file(folder, "accounts.csv", accounts), _file(folder, "reps.csv", reps))

    def test_missing_required_columns_list_found_columns(self, tmp_path: Path) -> None:
        text = ACCOUNTS_CSV.replace("account_id,", "Account ID,").replace(",workload,", ",work,")
        path = tmp_path / "accounts.csv"
        with pytest.raises(DataValidationError) as exc:
            self._load(tmp_path, accounts=text)
        rendered = str(exc.value)
        assert re.search(
            _problem(path, None, "account_id", r"missing.*columns found: 'Account ID', 'lat'")
            + r".*rename column 'Account ID' to 'account_id'",
            rendered,
        )
        assert re.search(_problem(path, None, "workload", "required column 'workload'"), rendered)

    def test_misspelt_optional_column_is_reported(self, tmp_path: Path) -> None:
        text = ACCOUNTS_CSV.replace("locked_rep", "Locked Rep")
        path = tmp_path / "accounts.csv"
        with pytest.raises(
            DataValidationError, match=_problem(path, None, "Locked Rep", "ignored")
        ):
            self._load(tmp_path, accounts=text)

    def test_semicolon_separated_file_gets_a_hint(self, tmp_path: Path) -> None:
        text = ACCOUNTS_CSV.replace(",", ";")
        with pytest.raises(DataValidationError, match="probably uses ';'"):
            self._load(tmp_path, accounts=text)

    def test_reported_rows_are_capped_per_column(self, tmp_path: Path) -> None:
        rows = "".join(f"X{i},40,-74,lots,1\n" for i in range(15))
        path = _file(tmp_path, "accounts.csv", "account_id,lat,lon,potential,workload\n" + rows)
        frame, problems = validate_accounts(read_table(path), str(path))
        assert [p.row for p in problems[:10]] == list(range(2, 12))
        assert problems[10].row is None
        assert "and 5 more rows where potential is not a number (rows 12, 13" in str(problems[10])
        assert len(problems) == 11
        assert frame["potential"].isna().all()

    # One broken cell each: (table, text replaced, replacement, row, column, message pattern).
    ONE_CELL = (
        ("accounts", "A-3,40.75,-73.98,0,0", "A-3,40.75,-73.98,,0", 4, "potential",
         "potential is blank but required"),
        ("accounts", "12.5", "-12.5", 3, "workload", r"workload is negative \(-12\.5\)"),
        ("accounts", ",900,", ",inf,", 2, "revenue_last_year", "revenue_last_year is infinite"),
        ("accounts", "A-3,", "00123,", 4, "account_id", "'00123'.*row 2 and again in row 4"),
        ("accounts", "A-3,", " ,", 4, "account_id", "blank"),
        ("accounts", "40.73,-73.99", "-103.99,40.73", 3, "lat", "outside -90..90.*look swapped"),
        ("reps", "-73.97", "-273.97", 3, "lon", r"lon -273\.97 is outside -180\.\.180"),
        ("reps", "1200", "0", 3, "capacity", "capacity is 0 but must be greater than 0"),
        ("reps", "0.8", "80", 2, "rating", r"rating 80 is outside 0\.\.1"),
        ("reps", ",a,", ",Gold,", 2, "tier", "'Gold' is not A, B or C"),
    )  # fmt: skip

    @pytest.mark.parametrize(
        ("table", "old", "new", "row", "column", "message"),
        ONE_CELL,
        ids=[f"{case[0]}-{case[4]}-{i}" for i, case in enumerate(ONE_CELL)],
    )
    def test_one_broken_cell_names_row_column_and_rule(
        self, tmp_path: Path, table: str, old: str, new: str, row: int, column: str, message: str
    ) -> None:
        original = ACCOUNTS_CSV if table == "accounts" else REPS_CSV
        assert old in original
        pattern = _problem(tmp_path / f"{table}.csv", row, column, message)
        with pytest.raises(DataValidationError, match=pattern):
            self._load(tmp_path, **{table: original.replace(old, new)})

    @pytest.mark.parametrize("column", ["current_rep", "locked_rep"])
    def test_unknown_rep_reference(self, tmp_path: Path, column: str) -> None:
        text = (
            ACCOUNTS_CSV.replace(",R2,", ",R9,")
            if column == "current_rep"
            else (ACCOUNTS_CSV.replace(",R2,0213", ",R9,0213"))
        )
        path = tmp_path / "accounts.csv"
        pattern = _problem(path, 3, column, "'R9' is not a rep_id") + ".*add rep 'R9'.*blank"
        with pytest.raises(DataValidationError, match=pattern):
            self._load(tmp_path, accounts=text)

    def test_empty_reps_table(self) -> None:
        reps = _reps_frame().iloc[0:0]
        pattern = re.escape("reps (DataFrame): the reps table has no data rows")
        with pytest.raises(DataValidationError, match=pattern) as exc:
            validate_inputs(_accounts_frame(), reps)
        assert len(exc.value.problems) == 1  # no flood of "unknown rep" problems

    def test_three_problems_in_one_file_are_all_reported(self, tmp_path: Path) -> None:
        text = ACCOUNTS_CSV.replace("40.71", "abc").replace("12.5", "-1").replace("A-3,", "00124,")
        with pytest.raises(DataValidationError) as exc:
            self._load(tmp_path, accounts=text)
        kinds = {(p.row, p.column) for p in exc.value.problems}
        assert {(2, "lat"), (3, "workload"), (4, "account_id")} <= kinds

    def test_both_tables_and_cross_checks_are_reported_together(self, tmp_path: Path) -> None:
        accounts = ACCOUNTS_CSV.replace("40.71", "abc").replace(",R1,", ",R7,")
        reps = REPS_CSV.replace("1200", "-5")
        with pytest.raises(DataValidationError) as exc:
            self._load(tmp_path, accounts=accounts, reps=reps)
        found = {(Path(p.source).name, p.row, p.column) for p in exc.value.problems}
        assert found == {
            ("accounts.csv", 2, "lat"),
            ("accounts.csv", 2, "current_rep"),
            ("reps.csv", 3, "capacity"),
        }

    def test_dataframe_rows_are_one_based(self) -> None:
        accounts = _accounts_frame()
        accounts.loc[1, "lat"] = np.nan
        pattern = re.escape("accounts (DataFrame), row 2, column 'lat': lat is blank")
        with pytest.raises(DataValidationError, match=pattern):
            validate_inputs(accounts, _reps_frame())

    def test_parquet_rows_are_record_numbers(self, tmp_path: Path) -> None:
        reps = _reps_frame().assign(capacity=[1.0, -1.0])
        path = tmp_path / "reps.parquet"
        reps.to_parquet(path, index=False)
        accounts = _file(tmp_path, "accounts.csv", ACCOUNTS_CSV)
        with pytest.raises(DataValidationError, match=_problem(path, 2, "capacity", "greater")):
            load_inputs(accounts, path)

    def test_xlsx_rows_count_the_header(self, tmp_path: Path) -> None:
        accounts = _accounts_frame()
        accounts.loc[2, "workload"] = -3.0
        path = tmp_path / "accounts.xlsx"
        write_table(accounts, path, "xlsx")
        reps = _file(tmp_path, "reps.csv", REPS_CSV)
        with pytest.raises(DataValidationError, match=_problem(path, 4, "workload", "negative")):
            load_inputs(path, reps)


class TestContract:
    def test_column_lists_come_from_the_schemas(self) -> None:
        required = tuple(n for n, c in ACCOUNTS_SCHEMA.columns.items() if c.required)
        assert required == ACCOUNT_REQUIRED_COLUMNS
        assert ACCOUNT_REQUIRED_COLUMNS == ("account_id", "lat", "lon", "potential", "workload")

    def test_a_cell_breaking_several_rules_gets_one_problem(self) -> None:
        accounts = _accounts_frame()
        accounts["lat"] = accounts["lat"].astype(float)
        accounts.loc[0, "lat"] = np.inf  # infinite, and so also outside -90..90
        problems = validate_accounts(accounts, "acc", first_row=1)[1]
        assert [(p.row, p.column) for p in problems] == [(1, "lat")]
        assert "lat is infinite" in problems[0].message


class TestErrorsWrite:
    def test_failed_write_keeps_previous_output(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        out = tmp_path / "run"
        write_outputs(out, {"plan": _accounts_frame()}, {"summary.json": {"version": 1}})
        before = {p.name: p.read_bytes() for p in out.iterdir()}
        real_write = writers.write_table

        def failing_write(frame: pd.DataFrame, path: Path, fmt: str) -> None:
            if path.stem == "second":
                raise OSError("disk full")
            real_write(frame, path, fmt)

        monkeypatch.setattr(writers, "write_table", failing_write)
        with pytest.raises(OSError, match="disk full"):
            write_outputs(out, {"first": _reps_frame(), "second": _reps_frame()}, {})
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before
        assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temp folder left

    def test_interrupted_first_write_leaves_nothing(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def interrupted(frame: pd.DataFrame, path: Path, fmt: str) -> None:
            path.write_text("half")
            raise KeyboardInterrupt

        monkeypatch.setattr(writers, "write_table", interrupted)
        with pytest.raises(KeyboardInterrupt):
            write_outputs(tmp_path / "run", {"plan": _accounts_frame()}, {})
        assert list(tmp_path.iterdir()) == []

    def test_nan_free_json_and_unserialisable_document(self, tmp_path: Path) -> None:
        with pytest.raises(TypeError, match=r"object at bad\.json\.x"):
            write_outputs(tmp_path / "run", {}, {"bad.json": {"x": object()}})
        assert list(tmp_path.iterdir()) == []

    def test_output_names_must_be_plain_file_names(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="plain file name"):
            write_outputs(tmp_path / "run", {"../escape": _reps_frame()}, {})

    def test_unknown_format(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="possible options"):
            write_outputs(tmp_path / "run", {"plan": _reps_frame()}, {}, fmt="xls")
