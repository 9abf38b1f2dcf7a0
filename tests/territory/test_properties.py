"""Property tests: invariants of ``territory.workflow.api.align`` on random small instances.

Instances are drawn from parameters (6-40 accounts, 2-5 reps, potentials and workloads as
floats, points in a 4 x 6 degree box, up to two locked accounts) with capacities scaled so that
total workload is at most 85% of total capacity and every rep can hold its locked accounts plus
the largest account. Soft mode makes every such instance solvable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from territory.domain.metrics import plan_metrics, territory_table
from territory.workflow.api import AlignmentResult, align

PROPERTY_SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)


@dataclass(frozen=True)
class Instance:
    accounts: pd.DataFrame
    reps: pd.DataFrame
    locked: dict[str, str]  # account id -> rep id


@st.composite
def instances(draw: st.DrawFn) -> Instance:
    n = draw(st.integers(min_value=6, max_value=40), label="n_accounts")
    r = draw(st.integers(min_value=2, max_value=5), label="n_reps")
    money = st.floats(min_value=1_000.0, max_value=500_000.0, allow_nan=False)
    hours = st.floats(min_value=1.0, max_value=200.0, allow_nan=False)
    lat = st.floats(min_value=38.0, max_value=42.0, allow_nan=False)
    lon = st.floats(min_value=-80.0, max_value=-74.0, allow_nan=False)
    potential = draw(st.lists(money, min_size=n, max_size=n), label="potential")
    workload = draw(st.lists(hours, min_size=n, max_size=n), label="workload")
    account_lat = draw(st.lists(lat, min_size=n, max_size=n))
    account_lon = draw(st.lists(lon, min_size=n, max_size=n))
    rep_lat = draw(st.lists(lat, min_size=r, max_size=r))
    rep_lon = draw(st.lists(lon, min_size=r, max_size=r))
    share = draw(st.lists(st.floats(0.5, 1.5), min_size=r, max_size=r), label="capacity share")
    tiers = draw(st.lists(st.sampled_from("ABC"), min_size=r, max_size=r), label="tiers")
    rep_ids = [f"R{i}" for i in range(r)]
    current = draw(st.lists(st.sampled_from([*rep_ids, None]), min_size=n, max_size=n))
    locked_rows = draw(st.lists(st.integers(0, n - 1), max_size=2, unique=True), label="locked")
    locked_reps = draw(st.lists(st.sampled_from(rep_ids), min_size=2, max_size=2))

    account_ids = [f"acc{i:02d}" for i in range(n)]
    locked = {account_ids[i]: locked_reps[k] for k, i in enumerate(locked_rows)}
    accounts = pd.DataFrame(
        {
            "account_id": account_ids,
            "lat": account_lat,
            "lon": account_lon,
            "potential": potential,
            "workload": workload,
            "current_rep": current,
            "locked_rep": [locked.get(a) for a in account_ids],
        }
    )
    share_arr = np.asarray(share)
    wl = np.asarray(workload)
    locked_hours = sum(wl[i] for i in locked_rows)
    scale = max(
        wl.sum() / (0.85 * share_arr.sum()),  # total workload <= 85% of total capacity
        (locked_hours + wl.max()) / share_arr.min(),  # room for locks plus the largest account
    )
    reps = pd.DataFrame(
        {
            "rep_id": rep_ids,
            "lat": rep_lat,
            "lon": rep_lon,
            "capacity": share_arr * scale,
            "tier": tiers,
        }
    )
    return Instance(accounts, reps, locked)


def _solve(instance: Instance) -> AlignmentResult:
    return align(instance.accounts, instance.reps, solver="heuristic", soft=True, time_limit_s=10)


def _assignment(result: AlignmentResult) -> np.ndarray:
    position = {rep: i for i, rep in enumerate(result.problem.rep_ids.tolist())}
    return np.array([position[r] for r in result.assignments["rep_id"]], dtype=np.int64)


class TestSyntheticProperties:
    @PROPERTY_SETTINGS
    @given(instance=instances())
    def test_plan_assigns_every_account_once_and_keeps_totals(self, instance: Instance) -> None:
        result = _solve(instance)
        accounts, reps = instance.accounts, instance.reps
        assignments = result.assignments
        assert assignments["account_id"].tolist() == accounts["account_id"].tolist()
        assert set(assignments["rep_id"]) <= set(reps["rep_id"])
        territories = result.territories
        assert territories["n_accounts"].sum() == len(accounts)
        assert math.isclose(
            territories["potential"].sum(), accounts["potential"].sum(), rel_tol=1e-9
        )
        assert math.isclose(territories["workload"].sum(), accounts["workload"].sum(), rel_tol=1e-9)
        plan = result.plan
        for account, rep in instance.locked.items():
            assert plan[account] == rep

    @PROPERTY_SETTINGS
    @given(instance=instances())
    def test_plan_meets_the_rule_it_reports(self, instance: Instance) -> None:
        result = _solve(instance)
        report = result.report
        assignment = _assignment(result)
        assert result.problem.is_feasible(assignment, 1e-6)
        assert report.balance_potential >= report.balance_requested_potential
        assert report.balance_workload >= report.balance_requested_workload
        assert report.max_potential_deviation <= report.balance_potential * (1 + 1e-6) + 1e-9
        assert report.max_workload_deviation <= report.balance_workload * (1 + 1e-6) + 1e-9
        assert (result.territories["utilization"] <= 1.0 + 1e-9).all()
        assert math.isclose(
            report.objective, result.problem.objective(assignment), rel_tol=1e-9, abs_tol=1e-9
        )
        if report.bound is not None:
            assert report.bound <= report.objective * (1 + 1e-9) + 1e-9

    @PROPERTY_SETTINGS
    @given(instance=instances(), seed=st.integers(0, 2**32 - 1))
    def test_metrics_ignore_row_order(self, instance: Instance, seed: int) -> None:
        accounts, reps = instance.accounts, instance.reps
        result = _solve(instance)
        plan = result.assignments["rep_id"].to_numpy(dtype=object)
        rows = np.random.default_rng(seed).permutation(len(accounts))
        shuffled = accounts.iloc[rows].reset_index(drop=True)
        expected = plan_metrics(accounts, reps, plan)
        got = plan_metrics(shuffled, reps, plan[rows])
        assert got.keys() == expected.keys()
        for name, value in expected.items():
            assert math.isclose(got[name], value, rel_tol=1e-9, abs_tol=1e-6), name
        before = territory_table(accounts, reps, plan)
        after = territory_table(shuffled, reps, plan[rows])
        pd.testing.assert_frame_equal(before, after, check_exact=False, rtol=1e-9, atol=1e-6)
