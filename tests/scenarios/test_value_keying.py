"""A scenario's response model is found again by the commands that read its folder.

The run fits on the input CSV files; ``territory stress`` and ``territory value`` read the
folder's Parquet copies. Both key the model on the history's values
(:func:`~territory.domain.response.history_digest`), so a stress test on the scenario folder uses
the scenario's model, also when the levers changed the inputs (a removed rep).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd
import pytest

from scenarios import load_scenario, run_scenario
from territory.domain.response import history_digest
from tests.commands import DEMO_COMP, invoke
from tests.response_worlds import make_world
from tests.scenarios.small import VALUED, write_inputs

QUOTAS = """extends = "valued.toml"
[inputs]
comp = "data/comp.toml"
[quota]
target = 14_000_000.0
method = "potential"
over_assignment = 0.10
[stress]
sims = 200
"""
"""The valued scenario with quotas from potential and a stress test of the demo comp plan."""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("keying")
    made = make_world("adbudg", seed=3, n_accounts=400, n_reps=16)
    write_inputs(folder / "data", made.accounts, made.reps)
    (folder / "valued.toml").write_text(VALUED)
    return folder


def _run(world: Path, name: str, levers: str = "") -> Path:
    path = world / f"{name}.toml"
    path.write_text(f'description = "{name}"\n{QUOTAS}{levers}')
    result = run_scenario(load_scenario(path), world / "out")
    assert result.steps["value"] == "run" and result.steps["stress"] == "run", result.steps
    return result.folder


def _centre(folder: Path) -> dict[str, str]:
    record = json.loads((folder / "stress.json").read_text())["expected_sales"]
    assert isinstance(record, dict)
    return record


@pytest.mark.parametrize(
    ("name", "levers", "why"),
    [
        ("plain", "", "fitted by territory value on these inputs"),
        ("fewer", '[levers]\nremove_reps = ["R0003"]\n', "scenario run whose levers made"),
    ],
)
def test_stress_on_a_scenario_folder_uses_the_scenarios_model(
    world: Path, name: str, levers: str, why: str
) -> None:
    folder = _run(world, name, levers)
    # The run's own stress step already centred on the model it had just fitted (its report
    # says so) ...
    assert _centre(folder)["source"] == "model"
    page = html.unescape((folder / "report.html").read_text(encoding="utf-8"))
    assert 'id="stress-centre"' in page and "response model's expected sales" in page
    # ... and so does a stress test run on the folder afterwards (it read the Parquet copies).
    done = invoke(
        ["stress", "--plan", str(folder), "--comp", str(DEMO_COMP), "--sims", "200",
         "--seed", "3", "--quiet"]
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    record = _centre(folder)
    assert record["source"] == "model", record
    assert why in record["reason"]


def test_value_on_a_plain_scenario_folder_reuses_its_model(world: Path) -> None:
    folder = world / "out" / "plain"
    if not folder.exists():
        _run(world, "plain")
    saved = (folder / "response.json").read_bytes()
    done = invoke(["value", "--plan", str(folder), "--bootstrap", "20", "--sims", "200",
                   "--seed", "3", "--quiet"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert (folder / "response.json").read_bytes() == saved  # reused, not refitted


def test_the_digest_reads_values_not_file_bytes(tmp_path: Path) -> None:
    made = make_world("adbudg", seed=3, n_accounts=120, n_reps=12)
    accounts, reps = made.accounts, made.reps
    accounts.to_csv(tmp_path / "a.csv", index=False)
    accounts.to_parquet(tmp_path / "a.parquet")
    same = history_digest(pd.read_csv(tmp_path / "a.csv"), reps)
    assert same == history_digest(pd.read_parquet(tmp_path / "a.parquet"), reps)
    assert same == history_digest(accounts, reps)
    # A column the fit does not read changes nothing; one it reads changes its table's digest.
    assert history_digest(accounts.assign(note="x"), reps) == same
    capacity = reps["capacity"].astype(float).to_numpy().copy()
    capacity[0] += 1.0
    changed = history_digest(accounts, reps.assign(capacity=capacity))
    assert changed["accounts"] == same["accounts"] and changed["reps"] != same["reps"]
    whole = reps.assign(capacity=reps["capacity"].astype(float).round().astype("int64"))
    rounded = reps.assign(capacity=reps["capacity"].astype(float).round())
    assert history_digest(accounts, whole) == history_digest(accounts, rounded)
    revenue = accounts["revenue_last_year"].astype(float).to_numpy().copy()
    revenue[5] *= 1.01
    assert (
        history_digest(accounts.assign(revenue_last_year=revenue), reps)["accounts"]
        != (same["accounts"])
    )


def test_the_reason_never_names_the_folder(tmp_path: Path) -> None:
    """stress.json records the reason; a temp or run path in it would break byte-identity."""
    from territory.pipeline.value_commands import saved_model

    folder = tmp_path / "territory-run-x1y2"
    folder.mkdir()
    found = saved_model(folder)
    assert found.model is None and str(folder) not in found.reason and "x1y2" not in found.reason
