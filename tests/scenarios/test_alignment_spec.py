"""One specification of an alignment: every CLI lever is a scenario key and reaches the solve.

The command line, scenario files and Python callers build one ``AlignmentSpec``; these tests
pin that no lever is left out of a scenario file, that the file levers (units, contiguity,
compactness, decompose, checkpoint) set in a scenario change the solve (each against a control
run without them), and that the spec refuses what the command line refuses, in its words.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.main import get_command

from cli import app
from scenarios import load_scenario, run_scenario
from scenarios.model import AlignTable
from territory.domain.budget import STAGE_SHARES, Budget
from territory.domain.spec import AlignmentSpec
from territory.errors import ScenarioError, UnknownSolverError, UsageError
from tests.instances import four_quadrants, square_grid

CLI_ONLY = {"accounts", "reps", "out", "output_format", "quiet", "force", "sheet"}
"""Options of `territory align` that say where to read and write, not how to align."""
CLI_TABLE_EDITS = {"lock_file", "leave_unreachable"}
"""Options that edit the accounts table before the spec is applied (a scenario locks accounts
with its ``[locks]`` lever instead); not fields of the spec."""
RENAMED = {"time_limit": "time_limit_s", "tier": "tier_factors"}


def test_every_align_option_is_a_scenario_key() -> None:
    command = get_command(app).commands["align"]  # type: ignore[attr-defined]
    options = {p.name for p in command.params} - CLI_ONLY - CLI_TABLE_EDITS
    keys = {RENAMED.get(name, name) for name in options}
    assert keys == set(AlignmentSpec.model_fields)
    assert set(AlignTable.model_fields) == set(AlignmentSpec.model_fields)


def test_cli_defaults_are_the_spec_defaults() -> None:
    command = get_command(app).commands["align"]  # type: ignore[attr-defined]
    spec = AlignmentSpec()
    for param in command.params:
        key = RENAMED.get(str(param.name), str(param.name))
        if key in AlignmentSpec.model_fields and key != "tier_factors":
            assert param.default == getattr(spec, key), key


class TestSpecRules:
    def test_potential_balance_overrides_balance_once(self) -> None:
        spec = AlignmentSpec(balance=0.04, workload_balance=0.08)
        assert (spec.potential_tolerance, spec.workload_tolerance) == (0.04, 0.08)
        rule = spec.balance_rule
        assert (rule.potential, rule.workload) == (0.04, 0.08)

    @pytest.mark.parametrize(
        ("lever", "value", "error", "says"),
        [
            ("balance", 1.0, UsageError, "balance is 1.0, out of range; allowed:"),
            ("candidates", 0, UsageError, "value >= 1"),
            ("seed", -1, UsageError, "seed is -1"),
            ("compactness", "tight", UsageError, "possible options are: travel, moi"),
            ("solver", "gurobi", UnknownSolverError, "Possible options are"),
            ("max_moved_accounts", -3, ScenarioError, "max_moved_accounts is -3; allowed:"),
            ("tier_factors", {"A": 0.0}, UsageError, "tier A"),
        ],
    )
    def test_build_refuses_in_the_words_of_the_command_line(
        self, lever: str, value: object, error: type[Exception], says: str
    ) -> None:
        with pytest.raises(error, match=says.replace("(", r"\(")):
            AlignmentSpec.build(**{lever: value})

    def test_units_and_family_column_are_one_grouping(self) -> None:
        with pytest.raises(ScenarioError, match="either units"):
            AlignmentSpec.build(units="u.geojson", family_column="parent_id")
        assert AlignmentSpec(units=Path("u.geojson")).families == "unit_id"
        assert AlignmentSpec(family_column="parent_id").families == "parent_id"

    def test_an_unknown_lever_is_a_type_error(self) -> None:
        with pytest.raises(TypeError, match="did you mean 'balance'"):
            AlignmentSpec.build(balanse=0.05)

    def test_a_scenario_reports_a_bad_align_key_with_its_file(self, tmp_path: Path) -> None:
        (tmp_path / "a.csv").write_text("x", encoding="utf-8")
        path = tmp_path / "bad.toml"
        path.write_text(
            '[inputs]\naccounts = "a.csv"\nreps = "a.csv"\n[align]\nbalance = 1.5\n'
            'decompose = "maybe"\n',
            encoding="utf-8",
        )
        with pytest.raises(ScenarioError) as caught:
            load_scenario(path)
        text = str(caught.value)
        assert "key 'align.balance' out of range" in text and "0 <= value < 1" in text
        assert "key 'align.decompose' possible options are: auto, on, off" in text


class TestBudget:
    def test_no_stage_gets_more_than_what_remains(self) -> None:
        spent = Budget(10.0, started=0.0)  # started long ago: nothing remains
        assert spent.remaining() == 0.0
        for stage in STAGE_SHARES:
            assert spent.share(stage, floor=1.0) == 0.0
            assert spent.reserve(stage, floor=1.0) == 0.0

    def test_shares_of_a_fresh_budget(self) -> None:
        budget = Budget(100.0)
        assert budget.share("relaxation") == pytest.approx(50.0, abs=0.1)
        assert budget.reserve("final_write") == pytest.approx(97.0, abs=0.1)
        assert budget.keeps("plan_search") and not budget.past("cap_search")
        short = Budget(0.5)
        assert short.share("capped_attempt", floor=1.0) <= 0.5


# ------------------------------------------------------------------------------------------
# File levers set in a scenario reach the solve
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4 x 4 grid of 1-degree squares (ids in column ``zip``), 320 accounts, 4 reps."""
    folder = tmp_path_factory.mktemp("grid")
    layer = square_grid(4, 4, size=1, west=-100, south=38, column="zip")
    layer.to_file(folder / "units.geojson", driver="GeoJSON")
    accounts, reps = four_quadrants(320, seed=2)
    accounts.to_csv(folder / "accounts.csv", index=False)
    reps.to_csv(folder / "reps.csv", index=False)
    return folder


def _run(folder: Path, name: str, align: str) -> Path:
    """`territory run` of a scenario over the grid with these [align] lines; its folder."""
    path = folder / f"{name}.toml"
    path.write_text(
        '[inputs]\naccounts = "accounts.csv"\nreps = "reps.csv"\n'
        '[align]\nsolver = "heuristic"\nsoft = true\ntime_limit_s = 20.0\n' + align,
        encoding="utf-8",
    )
    return run_scenario(load_scenario(path), folder / "out").folder


def _solve(folder: Path) -> dict[str, object]:
    doc: dict[str, object] = json.loads((folder / "solve.json").read_text(encoding="utf-8"))
    return doc


def test_units_contiguity_and_compactness_reach_the_solve(grid: Path) -> None:
    control = _solve(_run(grid, "control", ""))
    folder = _run(
        grid,
        "units",
        'units = "units.geojson"\nunit_id_column = "zip"\ncontiguity = true\n'
        'adjacency = "queen"\ncompactness = "moi"\n',
    )
    solve = _solve(folder)
    parameters, before = solve["parameters"], control["parameters"]
    assert isinstance(parameters, dict) and isinstance(before, dict)
    assert (before["contiguity"], before["compactness"], before["family_units"]) == (
        False, "travel", None,
    )  # fmt: skip
    assert (parameters["contiguity"], parameters["compactness"]) == (True, "moi")
    assert parameters["family_units"] == 16
    inputs = solve["inputs"]
    assert isinstance(inputs, dict) and str(inputs["units"]).startswith("sha256:")
    plan = pd.read_parquet(folder / "input_accounts.parquet")[["account_id", "unit_id"]].merge(
        pd.read_parquet(folder / "plan.parquet"), on="account_id"
    )
    assert (plan.groupby("unit_id")["rep_id"].nunique() == 1).all()
    assert (folder / "territories.geojson").exists()
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["inputs"]["units"]["path"] == "units.geojson"
    assert manifest["parameters"]["align"]["contiguity"] is True
    # The control's manifest lists no key it did not set beyond the ones always listed.
    control_manifest = json.loads(
        (grid / "out" / "control" / "manifest.json").read_text(encoding="utf-8")
    )
    assert "units" not in control_manifest["parameters"]["align"]


def test_decompose_and_checkpoint_reach_the_solve(grid: Path) -> None:
    direct = _solve(_run(grid, "direct", 'decompose = "off"\n'))
    assert direct["backend"] == "heuristic"
    folder = _run(grid, "decomposed", 'decompose = "on"\ncheckpoint = "ckpt"\n')
    assert _solve(folder)["backend"] == "heuristic (decomposed)"
    manifest = json.loads((grid / "ckpt" / "checkpoint.json").read_text(encoding="utf-8"))
    assert manifest["stages"] == ["clusters", "coarse", "bound", "refined"]


def test_a_lever_set_in_align_and_levers_is_refused(grid: Path) -> None:
    path = grid / "twice.toml"
    path.write_text(
        '[inputs]\naccounts = "accounts.csv"\nreps = "reps.csv"\n[align]\n'
        "max_distance_km = 300.0\n[levers]\nmax_distance_km = 400.0\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError, match="align.max_distance_km' and levers.max_distance_km"):
        load_scenario(path)
