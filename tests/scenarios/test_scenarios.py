"""Scenario files (parsing, inheritance, errors), the levers' effects, and `territory run`.

``tiny`` (used by the lever tests): three reps on the equator, two accounts each today::

    lon:   0    1    2    10   11   12   20   21   22
           R1   a1   a2   R2   a3   a4   R3   a5   a6

    workload  a1 10, a2 30 | a3 50, a4 40 | a5 20, a6 10     (capacity 100 each)
    potential a1 100, a2 500 | a3 300, a4 50 | a5 200, a6 20
    revenue   a1 50, a2 100 | a3 400, a4 10 | a5 0, a6 5

So R2 is the most loaded rep (0.9), then R1 (0.4), then R3 (0.3).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import EXIT_BAD_INPUT, app
from scenarios import EXAMPLES, load_scenario, run_scenario
from scenarios.levers import (
    add_reps,
    apply_levers,
    change_capacity,
    forbidden_pairs,
    hire_reps,
    least_loaded_reps,
    lock_accounts,
    mark_vacant,
    remove_reps,
)
from scenarios.model import Locks, NewRep, parse_grid, resolve_key
from scenarios.runner import plan_scenario, prepare_inputs
from territory.domain.synthetic import make_instance
from territory.errors import ScenarioError
from tests.commands import ROOT
from tests.scenarios.small import SCENARIO, write_inputs

runner = CliRunner()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture()
def tiny() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three reps, six accounts (see the module docstring)."""
    accounts = pd.DataFrame(
        {
            "account_id": ["a1", "a2", "a3", "a4", "a5", "a6"],
            "lat": [0.0] * 6,
            "lon": [1.0, 2.0, 11.0, 12.0, 21.0, 22.0],
            "potential": [100.0, 500.0, 300.0, 50.0, 200.0, 20.0],
            "workload": [10.0, 30.0, 50.0, 40.0, 20.0, 10.0],
            "current_rep": ["R1", "R1", "R2", "R2", "R3", "R3"],
            "revenue_last_year": [50.0, 100.0, 400.0, 10.0, 0.0, 5.0],
        }
    )
    reps = pd.DataFrame(
        {
            "rep_id": ["R1", "R2", "R3"],
            "lat": [0.0] * 3,
            "lon": [0.0, 10.0, 20.0],
            "capacity": [100.0] * 3,
            "tier": ["B"] * 3,
            "role": ["hunter", "account_manager", "account_manager"],
        }
    )
    return accounts, reps


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300-account, 6-rep instance as CSV files, and the demo comp plan next to them."""
    folder = tmp_path_factory.mktemp("data")
    accounts, reps = make_instance(300, 6, seed=5)
    # Twenty parent/child families of three neighbouring accounts (north to south).
    family = np.full(len(accounts), "", dtype=object)
    by_latitude = np.argsort(accounts["lat"].to_numpy(), kind="stable")
    for f in range(20):
        family[by_latitude[f * 12 : f * 12 + 3]] = f"F{f:02d}"
    accounts["family_id"] = family
    return write_inputs(folder, accounts, reps)


SMALL = 'description = "small test scenario"\n' + SCENARIO


# ------------------------------------------------------------------------------------------
# Parsing and inheritance
# ------------------------------------------------------------------------------------------


class TestSyntheticScenarioFiles:
    def test_child_overrides_and_tables_merge_deeply(self, tmp_path: Path) -> None:
        write(tmp_path / "data" / "accounts.csv", "x")
        write(tmp_path / "data" / "reps.csv", "x")
        # The base lives in a subfolder: its paths are relative to itself, not to the child.
        write(
            tmp_path / "shared" / "base.toml",
            'description = "base"\n[inputs]\naccounts = "../data/accounts.csv"\n'
            'reps = "../data/reps.csv"\n[align]\nbalance = 0.05\ntime_limit_s = 30.0\n'
            "tier_factors = { A = 1.2, B = 1.0 }\n[levers]\nremove_reps = ['R1', 'R2']\n",
        )
        child = write(
            tmp_path / "child.toml",
            'extends = "shared/base.toml"\n[align]\nbalance = 0.08\n'
            "tier_factors = { C = 0.8 }\n[levers]\nremove_reps = ['R3']\n",
        )
        scenario = load_scenario(child)
        align = scenario.spec.align
        assert align.balance == 0.08
        assert align.time_limit_s == 30.0  # inherited next to an overridden key
        assert align.tier_factors == {"A": 1.2, "B": 1.0, "C": 0.8}  # tables merge key by key
        assert scenario.spec.levers.remove_reps == ["R3"]  # lists are replaced as a whole
        assert Path(scenario.spec.inputs.accounts) == (tmp_path / "data/accounts.csv").resolve()
        assert scenario.name == "child"
        assert scenario.description == ""  # descriptions belong to their own file
        assert scenario.files == (child.resolve(), (tmp_path / "shared/base.toml").resolve())
        resolved = scenario.resolved()
        assert resolved["inputs"]["accounts"] == "data/accounts.csv"

    def test_chains_of_extends(self, tmp_path: Path) -> None:
        write(tmp_path / "a.csv", "x")
        write(tmp_path / "one.toml", 'seed = 1\n[inputs]\naccounts = "a.csv"\nreps = "a.csv"\n')
        write(tmp_path / "two.toml", 'extends = "one.toml"\nseed = 2\n[quota]\ntarget = 5.0\n')
        three = write(tmp_path / "three.toml", 'extends = "two.toml"\n[stress]\nsims = 9\n')
        spec = load_scenario(three).spec
        assert (spec.seed, spec.quota.target, spec.stress.sims) == (2, 5.0, 9)
        assert spec.align_seed == 2 and spec.stress_seed == 2

    def test_overrides_from_a_grid(self, tmp_path: Path) -> None:
        write(tmp_path / "a.csv", "x")
        path = write(tmp_path / "s.toml", '[inputs]\naccounts = "a.csv"\nreps = "a.csv"\n')
        scenario = load_scenario(
            path, overrides={"add_reps": 3, "balance": 0.03, "stress.sims": 50}, name="s-x"
        )
        assert scenario.spec.levers.hire == 3
        assert scenario.spec.align.balance == 0.03
        assert scenario.spec.stress.sims == 50
        assert scenario.name == "s-x"
        assert scenario.overrides == {"levers.hire": 3, "align.balance": 0.03, "stress.sims": 50}

    def test_grid_syntax(self) -> None:
        assert parse_grid("add_reps=0..3") == ("add_reps", [0, 1, 2, 3])
        assert parse_grid("balance=0.03,0.05") == ("balance", [0.03, 0.05])
        assert parse_grid("solver=heuristic,mip") == ("solver", ["heuristic", "mip"])
        assert resolve_key("top_n") == ("locks", "top_n")
        assert resolve_key("max_distance_km") == ("levers", "max_distance_km")
        assert resolve_key("align.seed") == ("align", "seed")

    def test_example_scenarios_load(self) -> None:
        names = {p.stem for p in EXAMPLES.glob("*.toml")}
        assert {
            "base", "current", "balanced", "add_5_reps", "lose_3_reps", "keep_90pct_revenue",
            "lock_top_50",
        } <= names  # fmt: skip
        for path in EXAMPLES.glob("*.toml"):
            scenario = load_scenario(path)
            if path.stem != "base":
                assert scenario.files[-1].name == "base.toml", path
        assert load_scenario(EXAMPLES / "current.toml").spec.mode == "evaluate"
        keep = load_scenario(EXAMPLES / "keep_90pct_revenue.toml").spec
        assert keep.levers.max_moved_revenue_share == pytest.approx(0.10)
        assert load_scenario(EXAMPLES / "lock_top_50.toml").spec.locks.top_n == 50


class TestErrorsScenarioFiles:
    def test_cycle_is_reported(self, tmp_path: Path) -> None:
        write(tmp_path / "a.toml", 'extends = "b.toml"\n')
        write(tmp_path / "b.toml", 'extends = "a.toml"\n')
        with pytest.raises(ScenarioError, match=r"cycle \(a.toml -> b.toml -> a.toml\)"):
            load_scenario(tmp_path / "a.toml")

    def test_self_extension_is_a_cycle(self, tmp_path: Path) -> None:
        write(tmp_path / "a.toml", 'extends = "a.toml"\n')
        with pytest.raises(ScenarioError, match="cycle"):
            load_scenario(tmp_path / "a.toml")

    def test_unknown_key_names_path_and_file(self, tmp_path: Path) -> None:
        write(tmp_path / "a.csv", "x")
        path = write(
            tmp_path / "s.toml",
            '[inputs]\naccounts = "a.csv"\nreps = "a.csv"\n[align]\nbalanse = 0.1\n'
            '[[levers.add_reps]]\nrep_id = "N1"\nlat = 1.0\nlon = 2.0\ncapacity = 5.0\n'
            "latitude = 3.0\n",
        )
        with pytest.raises(ScenarioError) as info:
            load_scenario(path)
        text = str(info.value)
        assert f"{path.resolve()}: key 'align.balanse' is unknown (did you mean 'balance'?)" in text
        assert "key 'levers.add_reps[0].latitude' is unknown" in text

    def test_wrong_type_names_the_file_that_set_it(self, tmp_path: Path) -> None:
        write(tmp_path / "a.csv", "x")
        base = write(
            tmp_path / "base.toml",
            '[inputs]\naccounts = "a.csv"\nreps = "a.csv"\n[align]\nbalance = "tight"\n',
        )
        child = write(tmp_path / "child.toml", 'extends = "base.toml"\n[stress]\nsims = "many"\n')
        with pytest.raises(ScenarioError) as info:
            load_scenario(child)
        text = str(info.value)
        assert f"{base.resolve()}: key 'align.balance'" in text
        assert "'tight'" in text
        assert f"{child.resolve()}: key 'stress.sims'" in text

    def test_missing_input_file(self, tmp_path: Path) -> None:
        write(tmp_path / "reps.csv", "x")
        path = write(tmp_path / "s.toml", '[inputs]\naccounts = "nowhere.csv"\nreps = "reps.csv"\n')
        with pytest.raises(ScenarioError, match=r"key 'inputs.accounts' names .*nowhere.csv"):
            load_scenario(path)

    def test_missing_extends_and_scenario_files(self, tmp_path: Path) -> None:
        path = write(tmp_path / "s.toml", 'extends = "gone.toml"\n')
        with pytest.raises(ScenarioError, match=r"key 'extends' names 'gone.toml'"):
            load_scenario(path)
        with pytest.raises(ScenarioError, match="not found"):
            load_scenario(tmp_path / "absent.toml")

    @pytest.mark.parametrize(
        ("text", "match"),
        [
            pytest.param("seed = 1\n", "key 'inputs' is required", id="no-inputs-section"),
            pytest.param("[align\n", "not valid TOML", id="invalid-toml"),
            pytest.param(
                '[inputs]\naccounts = "a.csv"\nreps = "a.csv"\n[checks.T1]\nnot_a_key = 1\n',
                "not_a_key",
                id="inline-check-thresholds-are-validated",
            ),
            pytest.param(
                'mode = "evaluate"\n[inputs]\naccounts = "a.csv"\nreps = "a.csv"\n'
                '[levers]\nremove_reps = ["R1"]\n',
                r"levers.remove_reps.*mode = 'evaluate'",
                id="evaluate-mode-rejects-levers-that-move-accounts",
            ),
        ],
    )
    def test_a_file_that_cannot_load_says_why(self, tmp_path: Path, text: str, match: str) -> None:
        write(tmp_path / "a.csv", "x")
        path = write(tmp_path / "s.toml", text)
        with pytest.raises(ScenarioError, match=match):
            load_scenario(path)

    def test_bad_grids(self, tmp_path: Path) -> None:
        with pytest.raises(ScenarioError, match="lever=values"):
            parse_grid("balance")
        with pytest.raises(ScenarioError, match="two integers"):
            parse_grid("balance=0.1..0.2")
        with pytest.raises(ScenarioError, match="names no scenario key"):
            resolve_key("colour")


# ------------------------------------------------------------------------------------------
# Levers on tables (pure functions)
# ------------------------------------------------------------------------------------------


class TestSyntheticLevers:
    def test_capacity_changes(self, tiny: tuple[pd.DataFrame, pd.DataFrame]) -> None:
        _, reps = tiny
        before = reps.copy()
        out, records = change_capacity(reps, {"R1": 150.0}, {"R2": 0.5, "*": 2.0})
        assert out["capacity"].tolist() == [300.0, 50.0, 200.0]
        assert [r["rep_id"] for r in records] == ["R1", "R2", "R3"]
        pd.testing.assert_frame_equal(reps, before)  # inputs are never modified
        with pytest.raises(ScenarioError, match=r"levers.capacity.*\['R9'\]"):
            change_capacity(reps, {"R9": 1.0})

    def test_add_reps(self, tiny: tuple[pd.DataFrame, pd.DataFrame]) -> None:
        _, reps = tiny
        new = NewRep(rep_id="R4", lat=1.0, lon=30.0, capacity=80.0, tier="A", rating=0.5)
        out = add_reps(reps, [new])
        assert out["rep_id"].tolist() == ["R1", "R2", "R3", "R4"]
        row = out.iloc[-1]
        assert (row["lon"], row["capacity"], row["tier"], row["rating"]) == (30.0, 80.0, "A", 0.5)
        assert pd.isna(row["role"])
        assert "rating" not in reps.columns
        with pytest.raises(ScenarioError, match=r"\['R1'\] that already exist"):
            add_reps(reps, [new.model_copy(update={"rep_id": "R1"})])

    def test_hires_split_the_most_loaded_territory(
        self, tiny: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        accounts, reps = tiny
        out, records = hire_reps(accounts, reps, 2)
        assert out["rep_id"].tolist() == ["R1", "R2", "R3", "NEW01", "NEW02"]
        # R2 (0.9) is split first: its far account a4 (lon 12) gets the new home base; R2 is
        # then still the most loaded (a3 alone, 0.5) and a3 goes to the second hire.
        assert [r["splits_territory_of"] for r in records] == ["R2", "R2"]
        assert out["lon"].tolist()[3:] == pytest.approx([12.0, 11.0])
        assert out["capacity"].tolist()[3:] == [100.0, 100.0]
        assert out["tier"].tolist()[3:] == ["B", "B"]
        assert out["role"].tolist()[3:] == ["account_manager", "account_manager"]
        again, _ = hire_reps(accounts, reps, 2)
        pd.testing.assert_frame_equal(out, again)

    def test_least_loaded_reps(self, tiny: tuple[pd.DataFrame, pd.DataFrame]) -> None:
        accounts, reps = tiny
        assert least_loaded_reps(accounts, reps, 2) == ["R3", "R1"]
        assert least_loaded_reps(accounts, reps, 0) == []

    def test_removed_reps_free_their_accounts(
        self, tiny: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        accounts, reps = tiny
        out, kept, orphans = remove_reps(accounts, reps, ["R2"])
        assert kept["rep_id"].tolist() == ["R1", "R3"]
        assert out["current_rep"].tolist() == ["R1", "R1", None, None, "R3", "R3"]
        assert orphans.to_dict(orient="records") == [
            {"account_id": "a3", "former_rep": "R2"},
            {"account_id": "a4", "former_rep": "R2"},
        ]
        assert accounts["current_rep"].tolist()[2] == "R2"
        with pytest.raises(ScenarioError, match=r"levers.remove_reps.*\['RX'\]"):
            remove_reps(accounts, reps, ["RX"])
        with pytest.raises(ScenarioError, match="every rep"):
            remove_reps(accounts, reps, ["R1", "R2", "R3"])

    def test_vacancies(self, tiny: tuple[pd.DataFrame, pd.DataFrame]) -> None:
        _, reps = tiny
        out = mark_vacant(reps, ["R1"])
        assert out["vacant"].tolist() == [True, False, False]
        months = out["months_in_role"].to_numpy()
        assert months[0] == 0.0 and np.isnan(months[1:]).all()

    def test_locks(self, tiny: tuple[pd.DataFrame, pd.DataFrame]) -> None:
        accounts, _ = tiny
        out, records = lock_accounts(accounts, Locks(top_n=2, top_by="potential"))
        assert out["locked_rep"].tolist() == [None, "R1", "R2", None, None, None]
        assert out["lock_reason"].tolist()[1] == "scenario: top 2 by potential"
        assert [r["account_id"] for r in records] == ["a2", "a3"]
        out, _ = lock_accounts(accounts, Locks(top_n=1, top_by="revenue"))
        assert out["locked_rep"].tolist()[2] == "R2"  # a3 has the most revenue
        out, _ = lock_accounts(accounts, Locks(accounts=["a5"], assign={"a6": "R1"}))
        assert out["locked_rep"].tolist() == [None, None, None, None, "R3", "R1"]
        with pytest.raises(ScenarioError, match=r"locks.accounts.*\['zz'\]"):
            lock_accounts(accounts, Locks(accounts=["zz"]))

    def test_forbidden_pairs(self, tiny: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path) -> None:
        from scenarios.model import Levers

        levers = Levers.model_validate(
            {
                "forbidden": [
                    {"account_id": "a1", "rep_id": "R2"},
                    {"account_id": "a2", "rep_id": "R3"},
                ]
            }
        )
        frame = forbidden_pairs(levers, removed=["R3"])
        assert frame is not None
        assert frame.to_dict(orient="records") == [{"account_id": "a1", "rep_id": "R2"}]
        path = write(tmp_path / "f.csv", "account_id,rep_id\na1,R2\n")
        from_file = forbidden_pairs(Levers.model_validate({"forbidden": str(path)}))
        assert from_file is not None and from_file.values.tolist() == [["a1", "R2"]]
        assert forbidden_pairs(Levers()) is None

    def test_head_count_hires_or_removes(self, tiny: tuple[pd.DataFrame, pd.DataFrame]) -> None:
        from scenarios.model import ScenarioSpec

        accounts, reps = tiny
        inputs = {"accounts": "a.csv", "reps": "r.csv"}
        fewer = ScenarioSpec.model_validate({"inputs": inputs, "levers": {"head_count": 2}})
        result = apply_levers(accounts, reps, fewer)
        assert result.reps["rep_id"].tolist() == ["R1", "R2"]  # R3 carries the least load
        assert result.accounts_before["current_rep"].tolist()[4:] == ["R3", "R3"]
        assert result.accounts["current_rep"].tolist()[4:] == [None, None]
        more = ScenarioSpec.model_validate({"inputs": inputs, "levers": {"head_count": 4}})
        assert apply_levers(accounts, reps, more).reps["rep_id"].tolist()[-1] == "NEW01"


# ------------------------------------------------------------------------------------------
# Levers in a solve (small instance)
# ------------------------------------------------------------------------------------------


def _solve(data: Path, text: str) -> tuple[pd.DataFrame, dict[str, object], pd.DataFrame]:
    path = write(data.parent / f"solve-{abs(hash(text))}.toml", _data_scenario(data, SMALL + text))
    scenario = load_scenario(path)
    prepared, hashes = prepare_inputs(scenario)
    assignments, _, doc = plan_scenario(scenario, prepared, hashes)
    return assignments, doc, prepared.accounts_before


def _reps(data: Path) -> pd.DataFrame:
    """The reps of the scenario, without the removed one."""
    reps = pd.read_csv(data / "reps.csv", dtype={"rep_id": str})
    return reps[reps["rep_id"] != "R0002"].reset_index(drop=True)


def _data_scenario(data: Path, text: str) -> str:
    """The small scenario's text with paths pointing at ``data`` (scenarios sit beside it)."""
    return text.replace('"data/', f'"{data.name}/')


@pytest.fixture(scope="module")
def control(data: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The small scenario solved without levers: the plan each lever test must change."""
    assignments, _, before = _solve(data, "")
    return assignments, before


class TestSyntheticLeversInSolve:
    def test_removed_reps_lose_every_account_and_count_as_moves(self, data: Path) -> None:
        assignments, doc, before = _solve(
            data,
            _data_scenario(
                data, '[levers]\nremove_reps = ["R0002"]\ncapacity_factor = { "*" = 1.25 }\n'
            ),
        )
        assert "R0002" not in set(assignments["rep_id"])
        mine = (before["current_rep"] == "R0002").to_numpy()
        assert mine.any() and assignments["moved"].to_numpy()[mine].all()
        assert (assignments["previous_rep"].to_numpy()[mine] == "R0002").all()
        metrics = doc["metrics"]
        assert isinstance(metrics, dict)
        assert metrics["accounts_moved"] == float(assignments["moved"].sum())
        # The transition plan gives the departure as the reason for every one of those moves.
        from territory.domain.transitions import transition_plan

        moves = transition_plan(before, None, assignments[["account_id", "rep_id"]], _reps(data))
        theirs = moves[moves["from_rep"] == "R0002"]
        assert len(theirs) == int(mine.sum())
        assert set(theirs["reason"]) == {"vacancy"}

    def test_top_accounts_keep_their_rep(
        self, data: Path, control: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        assignments, _, before = _solve(data, _data_scenario(data, "[locks]\ntop_n = 10\n"))
        top = before["potential"].astype(float).nlargest(10).index
        free, _ = control
        assert (free.loc[top, "rep_id"] != before.loc[top, "current_rep"]).any()  # lever binds
        assert (assignments.loc[top, "rep_id"] == before.loc[top, "current_rep"]).all()

    def test_forbidden_pairs_never_occur(
        self, data: Path, control: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        accounts = pd.read_csv(data / "accounts.csv")
        pairs = accounts[["account_id", "current_rep"]].head(40)
        rows = "\n".join(
            f'  {{ account_id = "{a}", rep_id = "{r}" }},' for a, r in pairs.itertuples(index=False)
        )
        assignments, _, _ = _solve(
            data, _data_scenario(data, f"[levers]\nforbidden = [\n{rows}\n]\n")
        )
        free = dict(zip(control[0]["account_id"], control[0]["rep_id"], strict=True))
        assert any(free[a] == r for a, r in pairs.itertuples(index=False))  # lever binds
        got = dict(zip(assignments["account_id"], assignments["rep_id"], strict=True))
        assert all(got[a] != r for a, r in pairs.itertuples(index=False))

    def test_moved_revenue_cap_holds(
        self, data: Path, control: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        assignments, _, before = _solve(
            data, _data_scenario(data, "[levers]\nmax_moved_revenue_share = 0.05\n")
        )
        revenue = before["revenue_last_year"].astype(float).to_numpy()
        free_moved = control[0]["moved"].to_numpy(dtype=bool)
        assert revenue[free_moved].sum() > 0.05 * revenue.sum()  # lever binds
        moved = assignments["moved"].to_numpy(dtype=bool)
        assert revenue[moved].sum() <= 0.05 * revenue.sum() + 1e-6

    def test_travel_limit_holds(self, data: Path) -> None:
        """The control plan's longest trip is above the limit; the limited plan's is not."""
        from territory.domain.geo import haversine_km

        accounts = pd.read_csv(data / "accounts.csv")
        reps = pd.read_csv(data / "reps.csv")
        nearest = haversine_km(
            accounts["lat"].to_numpy()[:, None],
            accounts["lon"].to_numpy()[:, None],
            reps["lat"].to_numpy()[None, :],
            reps["lon"].to_numpy()[None, :],
        ).min(axis=1)
        # An account far from every rep fixes the longest trip whatever the plan (so no limit
        # could bind): this test keeps the accounts with a rep within 800 km.
        near = data.parent / "near"
        near.mkdir(exist_ok=True)
        accounts[nearest < 800].to_csv(near / "accounts.csv", index=False)
        reps.to_csv(near / "reps.csv", index=False)
        (near / "comp.toml").write_bytes((data / "comp.toml").read_bytes())

        def trips(text: str) -> tuple[pd.DataFrame, dict[str, object]]:
            assignments, doc, _ = _solve(near, text)
            return assignments, doc

        free, _ = trips("")
        longest = np.sort(free["distance_km"].to_numpy())[-2:]
        limit = float(np.floor(longest.mean()))  # between the control's two longest trips
        assert free["distance_km"].max() > limit  # the lever binds
        assignments, doc = trips(f"[levers]\nmax_distance_km = {limit}\n")
        assert assignments["distance_km"].max() <= limit
        parameters = doc["parameters"]
        assert isinstance(parameters, dict) and parameters["max_distance_km"] == limit

    def test_families_stay_together(
        self, data: Path, control: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        assignments, _, before = _solve(
            data, _data_scenario(data, '[levers]\nfamilies = "family_id"\n')
        )
        families = pd.DataFrame({"family": before["family_id"], "rep": assignments["rep_id"]})
        families = families[families["family"].notna() & (families["family"] != "")]
        assert families["family"].nunique() == 20
        free = families.assign(rep=control[0]["rep_id"].to_numpy()[families.index])
        assert (free.groupby("family")["rep"].nunique() > 1).any()  # lever binds
        assert (families.groupby("family")["rep"].nunique() == 1).all()


# ------------------------------------------------------------------------------------------
# territory run, end to end
# ------------------------------------------------------------------------------------------

RUN = (
    SMALL
    + """
[levers]
vacancies = ["R0002"]
[locks]
top_n = 5
"""
)


@pytest.fixture(scope="module")
def run_folder(data: Path) -> tuple[Path, Path]:
    """`territory run` of a small scenario with a vacancy and locks; (scenario file, out)."""
    path = write(data.parent / "small.toml", _data_scenario(data, RUN))
    out = data.parent / "out"
    done = runner.invoke(app, ["run", str(path), "--out", str(out), "--quiet"])
    assert done.exit_code == 0, done.output
    return path, out / "small"


class TestRealWorldRun:
    def test_run_writes_the_whole_pipeline(self, run_folder: tuple[Path, Path]) -> None:
        _, folder = run_folder
        for name in (
            "assignments.csv", "territories.csv", "solve.json", "quotas.csv", "stress.json",
            "finance.xlsx", "checks.csv", "report.html", "manifest.json", "timings.json",
            "levers.json", "plan.parquet", "transitions.csv",
        ):  # fmt: skip
            assert (folder / name).exists(), name
        moves = pd.read_csv(folder / "transitions.csv", dtype=str)
        assigned = pd.read_csv(folder / "assignments.csv", dtype=str)
        assert set(moves["account_id"]) == set(
            assigned.loc[assigned["moved"] == "True", "account_id"]
        )
        solve = json.loads((folder / "solve.json").read_text())
        assert "seconds" not in solve and "stages" not in solve
        timings = json.loads((folder / "timings.json").read_text())
        assert {"align", "quota", "stress", "check", "report"} <= set(timings["steps_s"])
        assert timings["solve"]["seconds"] > 0
        quotas = pd.read_csv(folder / "quotas_annual.csv")
        assert "TBH-R0002" in set(quotas["rep_id"])  # the vacancy is held as to-be-hired
        checks = pd.read_csv(folder / "checks.csv")
        assert set(checks["run_id"]) == {"small"}
        assert "<title>Territory plan report \u2013 small</title>" in (
            folder / "report.html"
        ).read_text(encoding="utf-8")

    def test_manifest(self, run_folder: tuple[Path, Path], data: Path) -> None:
        _, folder = run_folder
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["scenario"] == "small"
        # Paths as seen from the scenario file, so the manifest does not depend on the checkout.
        assert manifest["inputs"]["accounts"]["path"] == f"{data.name}/accounts.csv"
        assert manifest["inputs"]["accounts"]["sha256"].startswith("sha256:")
        assert manifest["parameters"]["levers"]["vacancies"] == ["R0002"]
        assert manifest["parameters"]["stress"]["sims"] == 200
        assert manifest["seed"] == {"align": 3, "stress": 3}
        assert set(manifest["versions"]) >= {"territory", "ortools", "highspy", "pulp", "numpy"}
        outputs = manifest["outputs"]
        assert "manifest.json" not in outputs and "timings.json" not in outputs
        assert "report.html" in outputs
        levers = json.loads((folder / "levers.json").read_text())
        assert levers["vacancies"] == ["R0002"] and len(levers["locks"]) == 5

    def test_rerun_is_byte_identical(self, run_folder: tuple[Path, Path]) -> None:
        path, folder = run_folder
        first = {p.name: p.read_bytes() for p in folder.iterdir()}
        # The rerun is a process of its own: nothing carried over in memory can make it agree.
        done = subprocess.run(
            [sys.executable, "-m", "cli", "run", str(path), "--out", str(folder.parent), "--quiet"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        second = {p.name: p.read_bytes() for p in folder.iterdir()}
        assert set(first) == set(second)
        changed = sorted(name for name in first if first[name] != second[name])
        assert changed == ["timings.json"]

    def test_evaluate_mode_takes_the_current_alignment(self, data: Path) -> None:
        path = write(
            data.parent / "now.toml",
            _data_scenario(data, SMALL.replace("seed = 3", 'seed = 3\nmode = "evaluate"')),
        )
        result = run_scenario(load_scenario(path), data.parent / "out")
        solve = json.loads((result.folder / "solve.json").read_text())
        assert solve["status"] == "EVALUATED" and solve["bound"] is None
        assignments = pd.read_csv(result.folder / "assignments.csv")
        assert not assignments["moved"].any()
        assert (assignments["rep_id"] == assignments["previous_rep"]).all()
        assert result.kpis["accounts_moved"] == 0.0
        assert result.kpis["share_at_quota_at_plan"] is not None


class TestErrorsRun:
    def test_bad_scenario_exits_with_bad_input(self, tmp_path: Path) -> None:
        path = write(tmp_path / "bad.toml", "[align]\nbalance = 1\n")
        done = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
        assert done.exit_code == EXIT_BAD_INPUT
        assert not (tmp_path / "out" / "bad").exists()

    def test_unknown_rep_in_a_lever_writes_nothing(self, data: Path, tmp_path: Path) -> None:
        text = _data_scenario(data, SMALL + '[levers]\nvacancies = ["NOBODY"]\n')
        path = write(data.parent / "nobody.toml", text)
        done = runner.invoke(app, ["run", str(path), "--out", str(tmp_path)])
        assert done.exit_code == EXIT_BAD_INPUT
        assert "levers.vacancies" in done.output and "NOBODY" in done.output
        assert not (tmp_path / "nobody").exists()
