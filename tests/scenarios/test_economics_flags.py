"""``territory run`` / ``sweep`` ``--margin`` and ``--rep-cost``: override the ``[value]`` settings.

The flags reach the value step (``value.json`` settings, the contribution), are recorded in the
run's ``manifest.json`` overrides, and show in ``summary.csv`` beside the contribution.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from cli import EXIT_BAD_INPUT
from scenarios import plan_sweep
from scenarios.runner import run_kpis
from scenarios.value_cli import economics_overrides
from territory.errors import UsageError
from tests.commands import invoke
from tests.response_worlds import make_world
from tests.scenarios.small import VALUED, write_inputs


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("economics")
    made = make_world("adbudg", seed=3, n_accounts=300, n_reps=14)  # enough reps for a fit
    write_inputs(folder / "data", made.accounts, made.reps)
    path = folder / "moved.toml"
    path.write_text('description = "realign"\n' + VALUED)
    return path


def test_run_flags_override_the_scenario_settings(scenario: Path) -> None:
    out = scenario.parent / "run"
    args = ["run", str(scenario), "--out", str(out), "--margin", "0.4", "--rep-cost", "90000"]
    done = invoke([*args, "--quiet"])
    assert done.exit_code == 0, done.output
    folder = out / "moved"
    value = json.loads((folder / "value.json").read_text())
    assert value["settings"]["margin"] == 0.4 and value["settings"]["rep_cost"] == 90_000.0
    assert value["total"]["cost"] == pytest.approx(14 * 90_000.0)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["overrides"] == {"value.margin": 0.4, "value.rep_cost": 90_000.0}
    kpis = run_kpis(folder)
    assert (kpis["margin"], kpis["rep_cost"]) == (0.4, 90_000.0)
    assert kpis["contribution"] == pytest.approx(kpis["expected_sales"] * 0.4 - 14 * 90_000.0)


def test_sweep_flags_reach_every_scenario_and_the_summary(scenario: Path) -> None:
    out = scenario.parent / "sweep"
    done = invoke(
        ["sweep", str(scenario), "--grid", "balance=0.05,0.08", "--workers", "1", "--out",
         str(out), "--rep-cost", "120000", "--quiet"]
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    summary = pd.read_csv(out / "summary.csv")
    assert summary["margin"].tolist() == [0.5, 0.5]  # the file's setting, kept
    assert summary["rep_cost"].tolist() == [120_000.0, 120_000.0]
    expected = summary["expected_sales"] * 0.5 - 14 * 120_000.0
    assert summary["contribution"].to_numpy() == pytest.approx(expected.to_numpy())


def test_without_flags_the_tasks_carry_only_the_grid(scenario: Path) -> None:
    tasks = plan_sweep([scenario], scenario.parent / "x", "balance=0.05,0.08")
    assert [t.overrides for t in tasks] == [{"balance": 0.05}, {"balance": 0.08}]
    both = plan_sweep([scenario], scenario.parent / "x", "value.margin=0.3", {"value.margin": 0.7})
    assert both[0].overrides == {"value.margin": 0.3}  # the grid's value wins over the flag
    assert economics_overrides(None, None) == {}
    assert economics_overrides(0.6, 0.0) == {"value.margin": 0.6, "value.rep_cost": 0.0}


@pytest.mark.parametrize("bad", [["--margin", "0"], ["--margin", "1.5"], ["--rep-cost", "-1"]])
def test_bad_flags_are_usage_errors(scenario: Path, bad: list[str]) -> None:
    done = invoke(["run", str(scenario), "--out", str(scenario.parent / "bad"), *bad])
    assert done.exit_code == EXIT_BAD_INPUT and "Traceback" not in done.output
    assert not (scenario.parent / "bad").exists()
    with pytest.raises(UsageError):
        economics_overrides(0.0, None)
