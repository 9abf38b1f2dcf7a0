"""``territory align --objective value``: the balanced plan, then give-backs that raise sales.

A world whose history comes from a known response curve: aligned once for travel and once with
``--objective value``. The value plan keeps every rep inside the balance windows, differs from
the travel plan only by accounts returned to their current rep, sells at least as much by the
full model, and ``solve.json`` reports the linearised gain against its LP bound.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from cli import EXIT_BAD_INPUT
from scenarios import load_scenario, run_scenario
from territory.domain.synthetic import make_instance
from tests.commands import align_args, invoke, write_tables
from tests.response_worlds import make_world
from tests.scenarios.small import VALUED, write_inputs

FAST = ("--solver", "heuristic", "--time-limit", "10", "--seed", "3")


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("objective")
    world = make_world("adbudg", seed=5, n_accounts=400, n_reps=16)
    write_tables(folder, world.accounts, world.reps)
    travel, value = folder / "travel", folder / "value"
    for out, extra in ((travel, ()), (value, ("--objective", "value"))):
        done = invoke(align_args(folder, out, *FAST, *extra))
        assert done.exit_code == 0, done.output
    return travel, value


def test_the_value_plan_returns_accounts_and_sells_more(plans: tuple[Path, Path]) -> None:
    travel, value = plans
    record = json.loads((value / "solve.json").read_text())["value_objective"]
    assert record["objective"] == "value" and "coverage" in record["approximation"]
    assert record["expected_sales"] >= record["expected_sales_solved"]
    solved, final = record["expected_sales_solved"], record["expected_sales"]
    assert record["gain"] == pytest.approx(final - solved)
    # The LP relaxation bounds what any choice of give-backs adds under the linearisation.
    assert record["gain_linearised_first_round"] <= record["bound_linearised"] + 1e-6
    assert 0.0 <= record["gap_linearised"] <= 1.0
    before = pd.read_csv(travel / "assignments.csv", dtype=str).set_index("account_id")["rep_id"]
    after = pd.read_csv(value / "assignments.csv", dtype=str).set_index("account_id")["rep_id"]
    accounts = pd.read_parquet(value / "input_accounts.parquet").set_index("account_id")
    changed = before.index[before != after.reindex(before.index)]
    assert len(changed) == record["accounts_given_back"]
    # Every change is a give-back to today's rep.
    assert (after[changed] == accounts.loc[changed, "current_rep"].astype(str)).all()
    assert "value_objective" not in json.loads((travel / "solve.json").read_text())


def test_the_value_plan_stays_within_the_balance_windows(plans: tuple[Path, Path]) -> None:
    _, value = plans
    solve = json.loads((value / "solve.json").read_text())
    territories = pd.read_csv(value / "territories.csv")
    band = 0.05 + 1e-9
    assert territories["potential_dev"].abs().max() <= band
    assert territories["workload_dev"].abs().max() <= band
    assert solve["max_potential_deviation"] <= band and solve["max_workload_deviation"] <= band
    assert any("objective value" in note for note in solve["notes"])


def test_value_needs_a_history_that_supports_a_fit(tmp_path: Path) -> None:
    write_tables(tmp_path, *make_instance(120, 6, seed=5))
    done = invoke(align_args(tmp_path, tmp_path / "out", *FAST, "--objective", "value"))
    assert done.exit_code == EXIT_BAD_INPUT and "Traceback" not in done.output
    assert not (tmp_path / "out").exists()
    wrong = invoke(align_args(tmp_path, tmp_path / "out", "--objective", "revenue"))
    assert wrong.exit_code == EXIT_BAD_INPUT and "travel, value" in wrong.output


def test_a_scenario_sets_the_objective_in_its_align_table(tmp_path: Path) -> None:
    world = make_world("adbudg", seed=5, n_accounts=400, n_reps=16)
    write_inputs(tmp_path / "data", world.accounts, world.reps)
    path = tmp_path / "valued.toml"
    path.write_text('description = "value"\n' + VALUED)
    scenario = load_scenario(path, overrides={"align.objective": "value"})
    assert scenario.spec.alignment().objective == "value"
    result = run_scenario(scenario, tmp_path / "out")
    record = json.loads((result.folder / "solve.json").read_text())["value_objective"]
    assert record["expected_sales"] >= record["expected_sales_solved"]
    assert result.steps["value"] == "run"  # the value step reused the same fit
