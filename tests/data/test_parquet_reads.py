"""Parquet inputs are read as Arrow, column-aware, and validated exactly as before (issue 13).

:func:`territory.io.readers.read_parquet_columns` reads the wanted columns with Arrow strings;
``territory align`` reads its Parquet inputs through it (every column: the run writes them all
back as its inputs) and turns text into Python strings in one vectorised step. The problems a
user sees still name the file, the row and the column, and quote cells as written.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from territory.errors import DataValidationError
from territory.io import load_inputs, read_table
from territory.io.readers import read_parquet_columns

ACCOUNTS: dict[str, list[object]] = {
    "account_id": ["00123", "A-2", None, "A-4"],
    "lat": [40.71, 40.73, 40.75, 40.77],
    "lon": [-74.0, -73.99, -73.98, -73.97],
    "potential": [1000.0, 2500.0, 0.0, 10.0],
    "workload": [10.0, 12.5, 0.0, 1.0],
    "current_rep": ["R1", None, "R2", " "],
    "name": ["Acme", "Beta", None, "Delta"],
    "note": ["keep me", None, "x", "y"],
}
REPS: dict[str, list[object]] = {
    "rep_id": ["R1", "R2"],
    "lat": [40.7, 40.8],
    "lon": [-74.0, -73.9],
    "capacity": [50.0, 60.0],
}


def _parquet(
    folder: Path, name: str, columns: dict[str, list[object]], **types: pa.DataType
) -> Path:
    fields = [
        pa.field(k, types.get(k, pa.string() if k in TEXT else pa.float64())) for k in columns
    ]
    path = folder / name
    pq.write_table(pa.table(columns, schema=pa.schema(fields)), path)
    return path


TEXT = {"account_id", "current_rep", "name", "note", "rep_id", "segment"}


class TestReadParquetColumns:
    def test_reads_the_wanted_columns_in_order_and_skips_absent_ones(self, tmp_path: Path) -> None:
        path = _parquet(tmp_path, "accounts.parquet", ACCOUNTS)
        frame = read_parquet_columns(path, ("workload", "account_id", "segment"), ("lat",))
        assert list(frame.columns) == ["workload", "account_id", "lat"]

    def test_text_is_arrow_and_float32_becomes_float64(self, tmp_path: Path) -> None:
        path = _parquet(tmp_path, "accounts.parquet", ACCOUNTS, potential=pa.float32())
        frame = read_parquet_columns(path, ("account_id", "potential"))
        assert isinstance(frame["account_id"].dtype, pd.ArrowDtype)
        assert frame["account_id"].isna().tolist() == [False, False, True, False]
        assert frame["potential"].dtype == np.float64
        kept = read_parquet_columns(path, ("potential",), widen_floats=False)
        assert kept["potential"].dtype == np.float32

    def test_without_a_column_list_every_column_is_read(self, tmp_path: Path) -> None:
        path = _parquet(tmp_path, "accounts.parquet", ACCOUNTS)
        assert list(read_parquet_columns(path).columns) == list(ACCOUNTS)


class TestReadTable:
    def test_text_cells_are_python_strings_or_none(self, tmp_path: Path) -> None:
        path = _parquet(tmp_path, "accounts.parquet", ACCOUNTS, workload=pa.float32())
        frame = read_table(path)
        for name in ("account_id", "current_rep", "name", "note"):
            assert frame[name].dtype == object
            assert frame[name].tolist() == ACCOUNTS[name]  # None, not NaN or pd.NA
        assert frame["workload"].dtype == np.float32  # stored types are kept

    def test_parquet_and_csv_inputs_validate_to_the_same_table(self, tmp_path: Path) -> None:
        accounts: dict[str, list[object]] = {
            **ACCOUNTS,
            "account_id": ["00123", "A-2", "A-3", "A-4"],
        }
        parquet = _parquet(tmp_path, "accounts.parquet", accounts)
        reps = _parquet(tmp_path, "reps.parquet", REPS)
        csv = tmp_path / "accounts.csv"
        pd.DataFrame(accounts).to_csv(csv, index=False)
        from_parquet, _ = load_inputs(parquet, reps)
        from_csv, _ = load_inputs(csv, reps)
        assert from_parquet["account_id"].dtype == object
        pd.testing.assert_frame_equal(from_parquet, from_csv)


class TestProblemsNameFileRowColumn:
    def _problems(self, accounts: Path, reps: Path) -> str:
        with pytest.raises(DataValidationError) as caught:
            load_inputs(accounts, reps)
        return str(caught.value)

    def test_cells_breaking_rules(self, tmp_path: Path) -> None:
        broken: dict[str, list[object]] = {
            **ACCOUNTS,
            "account_id": ["00123", "A-2", "A-2", ""],
            "lat": [40.0, np.inf, 1.0, 2.0],
        }
        broken["potential"] = [1.0, 2.0, -5.0, 1.0]
        accounts = _parquet(tmp_path, "accounts.parquet", broken)
        text = self._problems(accounts, _parquet(tmp_path, "reps.parquet", REPS))
        where = re.escape(str(accounts))
        # Parquet rows are record numbers (the first record is row 1); cells are quoted as
        # written (a Python float, not a numpy scalar's repr).
        assert re.search(where + r", row 2, column 'lat': lat is infinite \(inf\)", text)
        assert re.search(where + r", row 3, column 'account_id': duplicate account_id 'A-2'", text)
        assert re.search(where + r", row 4, column 'account_id': account_id is blank", text)
        assert re.search(where + r", row 3, column 'potential'", text)

    def test_text_in_a_number_column_is_quoted(self, tmp_path: Path) -> None:
        accounts = _parquet(
            tmp_path, "accounts.parquet", {**ACCOUNTS, "workload": ["10", "lots", "1", "2"]},
            workload=pa.string(),
        )  # fmt: skip
        text = self._problems(accounts, _parquet(tmp_path, "reps.parquet", REPS))
        assert re.search(re.escape(str(accounts)) + r", row 2, column 'workload': .*'lots'", text)

    def test_a_missing_required_column_is_named(self, tmp_path: Path) -> None:
        reps = _parquet(
            tmp_path, "reps.parquet", {k: v for k, v in REPS.items() if k != "capacity"}
        )
        text = self._problems(_parquet(tmp_path, "accounts.parquet", ACCOUNTS), reps)
        assert f"{reps}, column 'capacity': required column 'capacity' is missing" in text
