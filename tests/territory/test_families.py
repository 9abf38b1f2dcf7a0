"""Instance families that look like users' books (issue 13): shape, determinism, a plan each."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from solvers.base import Solution, SolveStatus
from solvers.lp import solve_relaxation
from solvers.neighbourhood import neighbourhood_repair, unbalanced_reasons
from territory.domain.budget import Budget
from territory.domain.families import (
    FAMILIES,
    SHAPES,
    UTILIZATION,
    make_family,
    solve_levers,
)
from territory.domain.model import build_problem
from territory.domain.spec import AlignmentSpec
from territory.domain.synthetic import make_instance, potential_targets
from territory.io.zip_regions import zip_centroids
from territory.workflow.api import align
from territory.workflow.rescue import lp_repair, rescue, settle_whole_clusters
from tests.commands import run_territory

N_ACCOUNTS, N_REPS = 1_200, 8


def family(
    name: str, seed: int = 3, region: str = "southeast"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    lat, lon = zip_centroids(region) if name != "synthetic" else (None, None)
    return make_family(name, N_ACCOUNTS, N_REPS, seed, zip_lat=lat, zip_lon=lon)


@pytest.mark.parametrize("name", FAMILIES)
def test_family_is_seeded_and_deterministic(name: str) -> None:
    a1, r1 = family(name)
    a2, r2 = family(name)
    pd.testing.assert_frame_equal(a1, a2)
    pd.testing.assert_frame_equal(r1, r2)
    a3, _ = family(name, seed=4)
    assert not a3["potential"].equals(a1["potential"])


@pytest.mark.parametrize("name", ["zip", "heavy_keys", "off_balance"])
def test_zip_families_are_raw_and_loaded_like_real_books(name: str) -> None:
    accounts, reps = family(name)
    assert accounts["account_id"].is_unique and reps["rep_id"].is_unique
    targets = potential_targets(accounts["potential"].sum(), reps["capacity"], reps["tier"])
    biggest = accounts["potential"].max() / targets.mean()
    assert 0.1 < biggest <= SHAPES[name].key_share[1] + 1e-6
    used = accounts["workload"].sum() / reps["capacity"].sum()
    assert used == pytest.approx(UTILIZATION, abs=0.01)
    lat, lon = zip_centroids("southeast")
    assert lat.min() - 0.1 <= accounts["lat"].min() and accounts["lat"].max() <= lat.max() + 0.1
    assert set(accounts["current_rep"]) <= set(reps["rep_id"])


def test_off_balance_current_alignment_is_far_off() -> None:
    accounts, reps = family("off_balance")
    targets = potential_targets(accounts["potential"].sum(), reps["capacity"], reps["tier"])
    held = accounts.groupby("current_rep")["potential"].sum().reindex(reps["rep_id"]).fillna(0.0)
    assert np.abs(held.to_numpy() / targets - 1.0).max() > 0.3
    assert solve_levers("off_balance")["disruption_weight"] > 0
    assert solve_levers("zip") == {}


def test_unknown_family_and_missing_centroids_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown instance family"):
        make_family("nope", 100, 2, 1)
    with pytest.raises(ValueError, match="needs ZIP centroids"):
        make_family("zip", 100, 2, 1)
    with pytest.raises(ValueError, match="unknown region"):
        zip_centroids("atlantis")


@pytest.mark.parametrize("name", FAMILIES)
def test_every_family_gets_a_balanced_plan(name: str) -> None:
    accounts, reps = family(name)
    spec = AlignmentSpec(balance=0.05, solver="heuristic", time_limit_s=30, seed=1)
    spec = spec.model_copy(update=solve_levers(name))
    result = align(accounts, reps, spec)
    plan = result.assignments
    assert len(plan) == len(accounts) and plan["account_id"].is_unique
    assert set(plan["account_id"]) == set(accounts["account_id"])
    assert result.report.max_potential_deviation <= 0.05 + 1e-6
    assert result.report.max_workload_deviation <= 0.05 + 1e-6


def test_cli_from_parquet_exit_codes(tmp_path: Path) -> None:
    # Small on purpose (seconds, not a minute): the command, Parquet in and out, and exit codes.
    lat, lon = zip_centroids("southeast")
    accounts, reps = make_family("zip", 300, 4, 3, zip_lat=lat, zip_lon=lon)
    accounts.to_parquet(tmp_path / "a.parquet", index=False)
    reps.to_parquet(tmp_path / "r.parquet", index=False)
    done = run_territory(
        "align", "--accounts", tmp_path / "a.parquet", "--reps", tmp_path / "r.parquet",
        "--out", tmp_path / "plan", "--time-limit", "5", "--solver", "heuristic",
        "--format", "parquet", "--quiet",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    solved = json.loads((tmp_path / "plan" / "solve.json").read_text(encoding="utf-8"))
    assert solved["max_potential_deviation"] <= 0.05 + 1e-6
    assert solved["max_workload_deviation"] <= 0.05 + 1e-6
    plan = pd.read_parquet(tmp_path / "plan" / "assignments.parquet")
    assert sorted(plan["account_id"]) == sorted(accounts["account_id"])
    # One account larger than any rep's window: infeasible rules, exit 3, nothing written.
    accounts.loc[0, "potential"] = accounts["potential"].sum()
    accounts.to_parquet(tmp_path / "big.parquet", index=False)
    done = run_territory(
        "align", "--accounts", tmp_path / "big.parquet", "--reps", tmp_path / "r.parquet",
        "--out", tmp_path / "plan-big", "--time-limit", "5", "--quiet",
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "plan-big").exists()


@pytest.mark.parametrize("by_lp", [False, True], ids=["mip", "lp"])
def test_neighbourhood_repair_balances_a_broken_plan(by_lp: bool) -> None:
    accounts, reps = family("zip", seed=5)
    problem = build_problem(accounts, reps, AlignmentSpec(balance=0.05).settings())
    result = align(accounts, reps, balance=0.05, solver="heuristic", time_limit_s=30, seed=1)
    index = {rid: i for i, rid in enumerate(problem.rep_ids.tolist())}
    good = result.assignments["rep_id"].map(index).to_numpy(np.int64)
    # Break it: hand every account of one rep that could go elsewhere to its second candidate.
    broken = good.copy()
    for a in np.flatnonzero(good == good[0]):
        reps_of = problem.pair_rep[problem.account_start[a] : problem.account_start[a + 1]]
        others = reps_of[reps_of != good[0]]
        if others.size:
            broken[a] = others[0]
    assert problem.violation(broken) > 1e-3
    assert unbalanced_reasons(problem, broken)  # names the reps left off
    repaired, log = neighbourhood_repair(problem, broken, deadline=_far(), seed=1, by_lp=by_lp)
    assert log.improved >= 1
    assert problem.violation(repaired) <= 1e-7
    assert unbalanced_reasons(problem, repaired) == []


def test_lp_repair_balances_a_broken_plan_and_leaves_a_balanced_one() -> None:
    accounts, reps = family("heavy_keys", seed=2)
    problem = build_problem(accounts, reps, AlignmentSpec(balance=0.05).settings())
    result = align(accounts, reps, balance=0.05, solver="heuristic", time_limit_s=30, seed=1)
    index = {rid: i for i, rid in enumerate(problem.rep_ids.tolist())}
    good = result.assignments["rep_id"].map(index).to_numpy(np.int64)
    start = Solution(
        assignment=good, status=SolveStatus.FEASIBLE, objective=problem.objective(good),
        bound=None, bound_source="none", backend="test", seconds=0.0,
    )  # fmt: skip
    notes: list[str] = []
    assert lp_repair(problem, start, _far(), seed=1, notes=notes) is start
    assert notes == []
    # Hand the largest account to another of its candidates: its old rep falls short, the new
    # one overflows.
    broken = good.copy()
    big = int(np.argmax(problem.potential))
    reps_of = problem.pair_rep[problem.account_start[big] : problem.account_start[big + 1]]
    broken[big] = int(reps_of[reps_of != good[big]][0])
    assert problem.violation(broken) > 1e-3
    repaired = lp_repair(problem, replace(start, assignment=broken), _far(), seed=1, notes=notes)
    assert problem.violation(repaired.assignment) <= 1e-7
    assert repaired.status == SolveStatus.FEASIBLE
    assert repaired.objective == pytest.approx(problem.objective(repaired.assignment))
    assert notes and "plan within every window" in notes[0]
    # Every account still on one of its candidate reps.
    assert (problem.pair_index(repaired.assignment) >= 0).all()
    # A rescue told the LP repair has just run goes straight to the exact repair.
    broken_start = replace(start, assignment=broken)
    rescued_notes: list[str] = []
    rescued = rescue(
        problem, broken_start, Budget(30.0), reserve_s=0.0, seed=1, notes=rescued_notes,
        lp_first=False,
    )  # fmt: skip
    assert problem.violation(rescued.assignment) <= 1e-7
    assert rescued_notes[0].startswith("rescue: LP repair of 0 rep neighbourhood(s)")


def _far() -> float:
    import time

    return time.perf_counter() + 60.0


def test_settle_holds_fractional_single_accounts_to_one_rep() -> None:
    # Every account its own cluster: the LP's fractional accounts are the ones rounding moves.
    accounts, reps = make_instance(400, 6, 2)
    problem = build_problem(accounts, reps, AlignmentSpec(balance=0.05).settings())
    lp = solve_relaxation(problem, time_limit_s=30, elastic=True)
    assert lp.x is not None
    start = problem.account_start
    largest = np.maximum.reduceat(lp.x, start[:-1])
    split = np.flatnonzero(largest < 1.0 - 1e-6)
    assert split.size > 0
    settled = settle_whole_clusters(problem, np.ones(problem.n_accounts, bool), lp, 30.0)
    assert settled is not lp and settled.x is not None
    assert settled.violation <= 1e-7
    held = np.maximum.reduceat(settled.x, start[:-1])
    assert (held[split] >= 1.0 - 1e-6).all()
    # Nothing fractional left to hold: the LP comes back as it is.
    assert settle_whole_clusters(problem, np.zeros(problem.n_accounts, bool), lp, 30.0) is lp
