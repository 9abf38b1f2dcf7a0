"""``territory align --lock-file`` and ``--leave-unreachable``, end to end on a small instance."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import EXIT_BAD_INPUT, EXIT_INFEASIBLE, app
from territory.domain.reach import smallest_reaching_limit, unreachable_accounts
from territory.domain.synthetic import make_instance
from tests.commands import write_tables

runner = CliRunner()
LIMIT_KM = 600.0


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, pd.DataFrame]:
    accounts, reps = make_instance(60, 4, seed=1)
    folder = tmp_path_factory.mktemp("accounts")
    accounts_csv, reps_csv = write_tables(folder, accounts, reps)
    return accounts_csv, reps_csv, accounts


def _align(accounts: Path, reps: Path, out: Path, *extra: str) -> tuple[int, str]:
    args = ["align", "--accounts", str(accounts), "--reps", str(reps), "--out", str(out)]
    done = runner.invoke(app, [*args, "--solver", "heuristic", "--soft", *extra])
    return done.exit_code, " ".join(done.output.split())


def test_lock_file_locks_accounts_to_the_named_or_current_rep(
    instance: tuple[Path, Path, pd.DataFrame], tmp_path: Path
) -> None:
    accounts_csv, reps_csv, accounts = instance
    first, second = accounts["account_id"].iloc[0], accounts["account_id"].iloc[1]
    current = accounts.set_index("account_id")["current_rep"]
    other = next(r for r in ("R0001", "R0002", "R0003", "R0004") if r != current[first])
    locks = tmp_path / "locks.csv"
    locks.write_text(f"account_id,rep_id,lock_reason\n{first},{other},key account\n{second},,\n")
    code, text = _align(accounts_csv, reps_csv, tmp_path / "out", "--lock-file", str(locks))
    assert code == 0, text
    chosen = pd.read_csv(tmp_path / "out" / "assignments.csv").set_index("account_id")["rep_id"]
    assert chosen[first] == other and chosen[second] == current[second]
    solved = pd.read_parquet(tmp_path / "out" / "input_accounts.parquet").set_index("account_id")
    assert solved.loc[first, "lock_reason"] == "key account"
    assert "lock_file" in json.loads((tmp_path / "out" / "solve.json").read_text())["inputs"]


def test_lock_file_errors_name_file_row_and_column(
    instance: tuple[Path, Path, pd.DataFrame], tmp_path: Path
) -> None:
    accounts_csv, reps_csv, accounts = instance
    first = accounts["account_id"].iloc[0]
    locks = tmp_path / "locks.csv"
    locks.write_text(f"account_id,rep_id\n{first},R0001\nNOPE,R0001\n{first},R0002\nA0000003,R9\n")
    code, text = _align(accounts_csv, reps_csv, tmp_path / "out", "--lock-file", str(locks))
    assert code == EXIT_BAD_INPUT
    assert "locks.csv, row 3, column 'account_id': account 'NOPE' is not in the accounts" in text
    assert f"locks.csv, row 4, column 'account_id': account {first} is locked twice" in text
    assert "locks.csv, row 5, column 'rep_id': rep 'R9' is not in the reps table" in text
    assert not (tmp_path / "out").exists()


def test_unreachable_accounts_are_summarised_before_the_list(
    instance: tuple[Path, Path, pd.DataFrame], tmp_path: Path
) -> None:
    accounts_csv, reps_csv, accounts = instance
    far = unreachable_accounts(accounts, make_instance(60, 4, seed=1)[1], LIMIT_KM)
    assert 0 < len(far) < len(accounts)
    smallest = smallest_reaching_limit(far["nearest_km"])
    code, text = _align(
        accounts_csv, reps_csv, tmp_path / "out", "--max-distance-km", str(LIMIT_KM)
    )
    assert code == EXIT_INFEASIBLE
    summary = (
        f"{len(far)} account(s) have no rep within the travel limit of 600.0 km; a limit of "
        f"{smallest:,.1f} km reaches them all"
    )
    assert summary in text
    assert text.index(summary) < text.index(f"account {far['account_id'].iloc[0]} has no rep")
    # The limit the summary names is enough: every account then has a rep in reach.
    code, text = _align(accounts_csv, reps_csv, tmp_path / "ok", "--max-distance-km", str(smallest))
    assert code == 0, text


def test_leave_unreachable_plans_the_rest_and_lists_them(
    instance: tuple[Path, Path, pd.DataFrame], tmp_path: Path
) -> None:
    accounts_csv, reps_csv, accounts = instance
    out = tmp_path / "out"
    code, text = _align(
        accounts_csv, reps_csv, out, "--max-distance-km", str(LIMIT_KM), "--leave-unreachable"
    )
    assert code == 0, text
    listed = pd.read_csv(out / "unreachable.csv")
    assigned = pd.read_csv(out / "assignments.csv")
    assert set(listed["account_id"]).isdisjoint(assigned["account_id"])
    assert set(listed["account_id"]) | set(assigned["account_id"]) == set(accounts["account_id"])
    assert (listed["nearest_km"] > LIMIT_KM).all()
    assert f"{len(listed)} account(s) have no rep within 600.0 km: left unassigned" in text
    assert "listed in unreachable.csv" in text
    assert json.loads((out / "solve.json").read_text())["unreachable_accounts"] == len(listed)


def test_leave_unreachable_needs_a_travel_limit(
    instance: tuple[Path, Path, pd.DataFrame], tmp_path: Path
) -> None:
    accounts_csv, reps_csv, _ = instance
    code, text = _align(accounts_csv, reps_csv, tmp_path / "out", "--leave-unreachable")
    assert code == EXIT_BAD_INPUT
    assert "--leave-unreachable needs --max-distance-km" in text
