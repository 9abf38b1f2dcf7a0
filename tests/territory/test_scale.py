"""Decomposed solves (territory.workflow.scale): correctness, bound validity, resume, memory-light
I/O."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from solvers.lp import price_pairs
from territory.domain.model import AlignmentSettings, build_problem
from territory.domain.synthetic import make_instance
from territory.errors import InfeasibleError, ScenarioError
from territory.workflow.align import AlignmentResult
from territory.workflow.api import align
from territory.workflow.coarse import cluster_units, micro_clusters
from territory.workflow.scale import (
    SOLVE_ACCOUNT_COLUMNS,
    SOLVE_REP_COLUMNS,
    CheckpointMismatchError,
    read_parquet_columns,
    should_decompose,
    write_assignments_parquet,
)
from tests.commands import run_territory

DECOMPOSITION_MARGIN = 0.03
"""The decomposed plan may cost at most 3% more than the undecomposed solve of the same case."""


class StopRunError(Exception):
    """Raised by a progress callback to simulate a killed batch job."""


@pytest.fixture(scope="module")
def instance() -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_instance(1500, 12, 5)


def _solve(accounts: pd.DataFrame, reps: pd.DataFrame, **kw: object) -> AlignmentResult:
    options: dict[str, object] = {"time_limit_s": 30.0, "seed": 3}
    options.update(kw)
    return align(accounts, reps, **options)  # type: ignore[arg-type]


def test_micro_clusters_respect_groups_size_and_are_deterministic() -> None:
    rng = np.random.default_rng(0)
    n = 5000
    lat, lon = rng.uniform(30, 45, n), rng.uniform(-120, -80, n)
    mass = rng.lognormal(0, 1, n)
    group = rng.integers(0, 4, n)
    kw = {"leaf": 10, "max_potential": 50.0, "max_workload": 50.0, "max_chord": 0.05}
    labels = micro_clusters(lat, lon, mass, mass, group, **kw)  # type: ignore[arg-type]
    again = micro_clusters(lat, lon, mass, mass, group, **kw)  # type: ignore[arg-type]
    assert np.array_equal(labels, again)
    frame = pd.DataFrame({"label": labels, "group": group, "mass": mass})
    per = frame.groupby("label").agg(groups=("group", "nunique"), size=("group", "size"))
    assert (per["groups"] == 1).all()
    assert per["size"].max() <= 10
    assert set(labels) == set(range(labels.max() + 1))


def test_cluster_caps_relax_to_fit_the_coarse_lp(
    instance: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    # A short time limit allows fewer clusters: the caps relax until the count fits.
    problem = build_problem(*instance, AlignmentSettings())
    full = cluster_units(problem)
    n_full = int(full.max()) + 1
    fewer = cluster_units(problem, max_clusters=n_full // 2)
    n_fewer = int(fewer.max()) + 1
    assert n_fewer <= n_full // 2
    assert set(fewer) == set(range(n_fewer)) and fewer.size == problem.n_accounts


def test_decomposed_plan_is_complete_balanced_and_close_to_direct(
    instance: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    accounts, reps = instance
    direct = _solve(accounts, reps, decompose="off")
    split = _solve(accounts, reps, decompose="on")
    plan = split.assignments
    assert len(plan) == len(accounts)
    assert plan["account_id"].is_unique
    assert set(plan["account_id"]) == set(accounts["account_id"].astype(str))
    assert plan["rep_id"].isin(set(reps["rep_id"].astype(str))).all()
    report = split.report
    assert report.max_potential_deviation <= 0.05 + 1e-9
    assert report.max_workload_deviation <= 0.05 + 1e-9
    assert report.objective <= (1 + DECOMPOSITION_MARGIN) * direct.report.objective
    # The bound holds for every plan, so also for the direct solve's.
    assert report.bound is not None
    assert report.bound <= direct.report.objective + 1e-6
    assert report.bound <= report.objective + 1e-6
    assert "Lagrangian" in report.bound_source
    assert report.bound_scope == "all account-rep pairs"


def test_decomposition_keeps_locks_and_families(
    instance: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    accounts, reps = instance
    accounts = accounts.copy()
    rep_ids = reps["rep_id"].astype(str).tolist()
    accounts["locked_rep"] = None
    accounts.loc[[0, 7, 100], "locked_rep"] = [rep_ids[0], rep_ids[3], rep_ids[0]]
    accounts["family"] = None
    accounts.loc[10:14, "family"] = "F1"
    accounts.loc[[200, 900, 1400], "family"] = "F2"  # far apart: still one rep
    result = _solve(accounts, reps, decompose="on", family_column="family")
    plan = result.plan
    ids = accounts["account_id"].astype(str)
    assert (
        plan[ids[0]] == rep_ids[0] and plan[ids[7]] == rep_ids[3] and plan[ids[100]] == rep_ids[0]
    )
    for members in (ids[10:15], ids[[200, 900, 1400]]):
        assert plan[members].nunique() == 1
    assert result.report.max_potential_deviation <= 0.05 + 1e-9


def test_lagrangian_bound_never_exceeds_the_optimum() -> None:
    accounts, reps = make_instance(40, 3, 11)
    exact = align(accounts, reps, solver="mip", time_limit_s=30, seed=1, decompose="off")
    assert exact.report.status == "OPTIMAL"
    problem = build_problem(accounts, reps, AlignmentSettings())
    rng = np.random.default_rng(1)
    scale_p = exact.report.objective / float(problem.potential.sum())
    scale_w = exact.report.objective / float(problem.workload.sum())
    for _ in range(20):
        pi = rng.normal(0, 3 * scale_p, problem.n_reps)
        sigma = rng.normal(0, 3 * scale_w, problem.n_reps)
        bound = price_pairs(problem, pi, sigma, threads=1).bound
        assert bound <= exact.report.objective * (1 + 1e-9)
    split = align(accounts, reps, time_limit_s=30, seed=1, decompose="on")
    assert split.report.bound is not None
    assert split.report.bound <= exact.report.objective * (1 + 1e-9)


def test_interrupted_run_resumes_from_checkpoint(
    instance: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    accounts, reps = instance
    uninterrupted = _solve(accounts, reps, decompose="on")

    def stop_at_refinement(message: str) -> None:
        if message.startswith("[4/5]"):
            raise StopRunError(message)

    folder = tmp_path / "ckpt"
    with pytest.raises(StopRunError):
        _solve(accounts, reps, decompose="on", checkpoint=folder, progress=stop_at_refinement)
    assert (folder / "coarse.npz").exists() and not (folder / "refined.npz").exists()
    messages: list[str] = []
    resumed = _solve(accounts, reps, decompose="on", checkpoint=folder, progress=messages.append)
    assert not any(m.startswith("[2/5]") for m in messages)  # the coarse solve was not redone
    assert "coarse plan reused from the checkpoint" in resumed.report.notes
    pd.testing.assert_frame_equal(resumed.assignments, uninterrupted.assignments)
    assert resumed.report.objective == uninterrupted.report.objective
    assert resumed.report.bound == uninterrupted.report.bound
    # A finished checkpoint replays without solving anything.
    replay = _solve(accounts, reps, decompose="on", checkpoint=folder)
    assert "refined plan reused from the checkpoint" in replay.report.notes
    pd.testing.assert_frame_equal(replay.assignments, uninterrupted.assignments)
    # Other parameters with the same folder: refused, not silently mixed.
    with pytest.raises(CheckpointMismatchError):
        _solve(accounts, reps, decompose="on", checkpoint=folder, balance=0.06)


def test_decompose_switch() -> None:
    assert not should_decompose("auto", 10_000)
    # A limit too short for the direct pipeline: 10k accounts in 5 s decompose, in 60 s do not;
    # small instances and explicit modes are never switched by the limit.
    assert should_decompose("auto", 10_000, time_limit_s=5.0)
    assert not should_decompose("auto", 10_000, time_limit_s=60.0)
    assert not should_decompose("auto", 2_000, time_limit_s=0.5)
    assert not should_decompose("off", 10_000, time_limit_s=1.0)
    assert not should_decompose("auto", 10_000, "contiguity rules", time_limit_s=1.0)
    assert should_decompose("auto", 1_000_000)
    assert should_decompose("auto", 100_000)
    assert should_decompose("on", 10)
    assert not should_decompose("off", 1_000_000)
    # Rules the decomposition cannot keep: auto solves directly, on says why it cannot.
    assert not should_decompose("auto", 1_000_000, "contiguity rules")
    with pytest.raises(ScenarioError, match="contiguity rules are not supported"):
        should_decompose("on", 1_000_000, "contiguity rules")


def test_memory_light_parquet_round_trip(tmp_path: Path) -> None:
    accounts, reps = make_instance(800, 6, 2)
    accounts.to_parquet(tmp_path / "accounts.parquet", index=False)
    reps.to_parquet(tmp_path / "reps.parquet", index=False)
    light = read_parquet_columns(tmp_path / "accounts.parquet", SOLVE_ACCOUNT_COLUMNS)
    light_reps = read_parquet_columns(tmp_path / "reps.parquet", SOLVE_REP_COLUMNS)
    # Only the solve's columns, ids as Arrow strings (no Python object per account), money float64.
    assert "name" not in light.columns and "segment" not in light.columns
    assert isinstance(light["account_id"].dtype, pd.ArrowDtype)
    assert light["potential"].dtype == np.float64
    assert light.memory_usage(deep=True).sum() < accounts.memory_usage(deep=True).sum()
    result = align(light, light_reps, time_limit_s=20, seed=1, decompose="on")
    full = align(accounts, reps, time_limit_s=20, seed=1, decompose="on")
    assert result.plan.tolist() == full.plan.tolist()
    path = tmp_path / "assignments.parquet"
    write_assignments_parquet(result.assignments, path)
    back = pd.read_parquet(path)
    assert back["account_id"].tolist() == result.assignments["account_id"].tolist()
    assert back["rep_id"].tolist() == result.assignments["rep_id"].tolist()
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temporary left


def test_decomposed_solve_reports_presolve_reasons() -> None:
    """The decomposed path names the account, the rep it fits best and the tolerance it needs."""
    accounts, reps = make_instance(600, 5, 4)
    accounts = accounts.copy()
    accounts.loc[0, "potential"] = float(accounts["potential"].sum())  # one account outweighs all
    with pytest.raises(InfeasibleError) as caught:
        align(accounts, reps, time_limit_s=20, seed=1, decompose="on")
    # By hand: targets split all potential by capacity x tier factor; the largest one fits best.
    weight = reps["capacity"] * reps["tier"].map({"A": 1.15, "B": 1.0, "C": 0.85})
    target = accounts["potential"].sum() * weight / weight.sum()
    best = int(np.argmax(target.to_numpy()))
    best_target = float(target.iloc[best])
    big = float(accounts["potential"].iloc[0])
    need = big / best_target - 1.0
    (reason,) = caught.value.reasons
    assert reason.constraint == "potential_upper"
    assert reason.subject == f"account {accounts['account_id'].iloc[0]}"
    assert reason.min_balance == pytest.approx(need, rel=1e-9)
    assert reason.excess == pytest.approx(big - 1.05 * best_target, rel=1e-9)
    assert f"rep {reps['rep_id'].iloc[best]} ({best_target:,.0f})" in reason.message
    assert f"tolerance that fits it: \u00b1{100 * need:.0f}%" in reason.message
    # The direct solve gives the same reasons.
    with pytest.raises(InfeasibleError) as direct:
        align(accounts, reps, time_limit_s=20, seed=1, decompose="off")
    assert direct.value.reasons == caught.value.reasons


def test_cli_align_decomposes_and_resumes(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli import app

    accounts, reps = make_instance(700, 6, 8)
    accounts.to_parquet(tmp_path / "accounts.parquet", index=False)
    reps.to_parquet(tmp_path / "reps.parquet", index=False)
    args = [
        "align", "--accounts", str(tmp_path / "accounts.parquet"),
        "--reps", str(tmp_path / "reps.parquet"), "--decompose", "on",
        "--checkpoint", str(tmp_path / "ckpt"), "--time-limit", "20", "--quiet",
        "--format", "parquet",
    ]  # fmt: skip
    first = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "a")])
    assert first.exit_code == 0, first.output
    # Resumed by another process, as after a crash: the same plan from the checkpoint.
    again = run_territory(*args, "--out", tmp_path / "b")
    assert again.returncode == 0, again.stderr
    plan_a = pd.read_parquet(tmp_path / "a" / "assignments.parquet")
    plan_b = pd.read_parquet(tmp_path / "b" / "assignments.parquet")
    pd.testing.assert_frame_equal(plan_a, plan_b)
    solve = (tmp_path / "b" / "solve.json").read_text(encoding="utf-8")
    assert "refined plan reused from the checkpoint" in solve
    assert "decomposed" in solve
