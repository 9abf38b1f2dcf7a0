"""Invariants of sales-force sizing and the hiring plan, whatever the economics and headcounts."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from territory.domain.response import ResponseModel, fit_response
from territory.domain.sizing import HiringAssumptions, hiring_plan, size_sales_force
from territory.domain.value import Economics
from tests.response_worlds import World, balanced_team, make_world


@cache
def _world() -> tuple[World, ResponseModel]:
    world = make_world("exponential", seed=4, n_accounts=400, n_reps=12)
    return world, fit_response(world.accounts, world.reps, n_boot=10, folds=0, seed=1)


@cache
def _team(n: int) -> tuple[pd.DataFrame, np.ndarray]:
    world, _ = _world()
    return balanced_team(world.accounts, n, float(world.reps["capacity"].mean()))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.sets(st.integers(6, 20), min_size=2, max_size=5),
    margin=st.floats(0.1, 1.0),
    rep_cost=st.floats(1_000.0, 400_000.0),
    target_share=st.floats(0.5, 1.5),
    attrition=st.floats(0.0, 0.5),
    fill=st.integers(0, 4),
)
def test_sizing_orders_its_percentiles_and_costs(
    sizes: set[int],
    margin: float,
    rep_cost: float,
    target_share: float,
    attrition: float,
    fill: int,
) -> None:
    world, model = _world()
    target = target_share * float(world.accounts["revenue_last_year"].sum())
    sizing = size_sales_force(
        model, world.accounts, _team, sizes, target=target,
        economics=Economics(margin=margin, rep_cost=rep_cost), n_sims=100, seed=2,
    )  # fmt: skip
    table = sizing.table
    assert table["headcount"].tolist() == sorted(sizes)
    assert (table["sales_p10"] <= table["sales_p50"]).all()
    assert (table["sales_p50"] <= table["sales_p90"]).all()
    assert (np.diff(table["cost"].to_numpy()) > 0).all()
    np.testing.assert_allclose(
        table["contribution"], table["expected_sales"] * margin - table["cost"]
    )
    meets = table.loc[table["sales_p50"] >= target, "headcount"]
    assert sizing.meets_target == (int(meets.min()) if len(meets) else None)
    lo, hi = sizing.flat_range
    assert lo <= sizing.best <= hi
    assert table["share_at_quota"].between(0.0, 1.0).all()

    hires = hiring_plan(
        sizing.sales_at, current_headcount=12, target_sales=target, capacity_per_rep=1500.0,
        assumptions=HiringAssumptions(annual_attrition=attrition, time_to_fill=fill, months=18),
    )  # fmt: skip
    plan = hires.table
    assert len(plan) == 18
    assert (plan["headcount"] >= 0).all() and (plan["hires"] >= 0).all()
    assert (plan["effective_headcount"] <= plan["headcount"] + 1e-9).all()
    assert (np.diff(plan["cumulative_sales"].to_numpy()) > 0).all()
