"""Tests for territory.domain.value: what a plan is worth under a fitted response model."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from territory.domain.metrics import moved_mask
from territory.domain.response import LITERATURE_RAMP, ResponseModel, fit_response
from territory.domain.value import VALUE_COLUMNS, Economics, new_hire_mask, value_plan
from territory.errors import ScenarioError
from tests.response_worlds import World, make_world

PROPERTY_SETTINGS = settings(max_examples=12, deadline=None, derandomize=True)


@cache
def fitted(shape: str = "exponential", seed: int = 0) -> tuple[World, ResponseModel]:
    """A world and its fitted model (with a few bootstrap draws), built once per test run."""
    world = make_world(shape, seed, n_accounts=1500, n_reps=30)
    return world, fit_response(world.accounts, world.reps, n_boot=8, folds=0, seed=seed)


def test_value_rows_and_totals_add_up() -> None:
    world, model = fitted()
    economics = Economics(margin=0.5, rep_cost=100_000.0)
    value = value_plan(
        model, world.accounts, world.reps, world.rebalanced, economics=economics, n_sims=400
    )
    rows = value.reps
    assert tuple(rows.columns) == VALUE_COLUMNS
    assert list(rows["rep_id"]) == list(world.reps["rep_id"])
    assert rows["n_accounts"].sum() == len(world.accounts)
    assert rows["potential"].sum() == pytest.approx(world.accounts["potential"].sum())
    np.testing.assert_allclose(rows["coverage"] * rows["utilisation"], 1.0)
    assert (rows["sales_p10"] <= rows["sales_p50"]).all()
    assert (rows["sales_p50"] <= rows["sales_p90"]).all()
    np.testing.assert_allclose(
        rows["contribution"], rows["expected_sales"] * 0.5 - rows["cost"], rtol=1e-12
    )
    total = value.total
    assert total["expected"] == pytest.approx(rows["expected_sales"].sum())
    assert total["p10"] < total["expected"] < total["p90"]
    assert total["contribution"] == pytest.approx(total["expected"] * 0.5 - 100_000.0 * 30)
    assert total["transition_loss"] == pytest.approx(rows["transition_loss"].sum())
    assert value.samples.shape == (400, 30)
    assert value.draw_totals.shape == (1 + model.quality.n_boot,)
    assert value.to_dict()["total"]["expected"] == pytest.approx(total["expected"])


def test_uplift_nets_the_transition_loss() -> None:
    world, model = fitted()
    value = value_plan(model, world.accounts, world.reps, world.rebalanced, n_sims=50)
    up = value.uplift
    assert up is not None
    moved = moved_mask(world.accounts, world.rebalanced)
    assert moved.any()
    assert up["uplift_gross"] > up["uplift"]
    lost = value.total["transition_loss"]
    assert up["uplift_gross"] - up["uplift"] == pytest.approx(lost / up["current_expected"])
    assert up["amount"] == pytest.approx(up["plan_expected"] - up["current_expected"])
    assert up["uplift_p10"] <= up["uplift_p50"] <= up["uplift_p90"]
    # Steady state: no hand-over loss, so no gap between gross and net.
    steady = value_plan(
        model, world.accounts, world.reps, world.rebalanced, transition=False, n_sims=50
    )
    assert steady.uplift is not None
    assert steady.total["transition_loss"] == 0.0
    assert steady.uplift["uplift"] == pytest.approx(steady.uplift["uplift_gross"])


def test_current_plan_has_no_uplift_and_no_loss() -> None:
    world, model = fitted()
    current = world.accounts["current_rep"]
    value = value_plan(model, world.accounts, world.reps, current, n_sims=50)
    assert value.uplift is not None
    assert value.uplift["uplift"] == pytest.approx(0.0, abs=1e-12)
    assert value.uplift["uplift_p10"] == pytest.approx(0.0, abs=1e-12)
    assert value.total["transition_loss"] == 0.0


@settings(max_examples=8, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), shape=st.sampled_from(["adbudg", "power"]))
def test_value_of_the_current_plan_equals_the_in_sample_fit(seed: int, shape: str) -> None:
    """Under the model, today's plan is worth exactly what the fit predicted for last year."""
    world = make_world(shape, seed, n_accounts=500, n_reps=14)
    model = fit_response(world.accounts, world.reps, n_boot=0, folds=0)
    value = value_plan(model, world.accounts, world.reps, world.accounts["current_rep"], n_sims=5)
    assert value.total["expected"] == pytest.approx(model.fitted["predicted"].sum(), rel=1e-9)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_expected_sales_are_never_negative(data: st.DataObject) -> None:
    world, model = fitted()
    n_reps = len(world.reps)
    picks = data.draw(
        st.lists(
            st.integers(0, n_reps - 1), min_size=len(world.accounts), max_size=len(world.accounts)
        )
    )
    plan = world.reps["rep_id"].to_numpy(dtype=object)[picks]
    value = value_plan(model, world.accounts, world.reps, plan, n_sims=20)
    rows = value.reps
    for column in ("expected_sales", "sales_p10", "sales_p50", "sales_p90"):
        assert (rows[column] >= 0).all()
    assert (value.samples >= 0).all()
    # A rep without accounts sells nothing and has no coverage.
    empty = rows["n_accounts"] == 0
    assert (rows.loc[empty, "expected_sales"] == 0).all()
    assert rows.loc[empty, "coverage"].isna().all()


def _with_new_hire(world: World) -> tuple[pd.DataFrame, np.ndarray]:
    """A TBH seat taking over the first rep's accounts."""
    reps = world.reps.copy()
    first = str(reps.loc[0, "rep_id"])
    reps.loc[0, "rep_id"] = "TBH-001"
    plan = world.accounts["current_rep"].astype(str).replace(first, "TBH-001").to_numpy(object)
    return reps, plan


def test_new_hire_flags_add_to_tbh_ids() -> None:
    reps = pd.DataFrame(
        {
            "rep_id": ["TBH-1", "R2", "R3", "R4"],
            "vacant": [False, True, False, False],
            "new_hire": ["no", "", "yes", None],
        }
    )
    assert new_hire_mask(reps).tolist() == [True, True, True, False]


def test_new_hires_ramp_only_with_a_ramp_curve() -> None:
    world, model = fitted()
    reps, plan = _with_new_hire(world)
    assert new_hire_mask(reps).tolist() == [True] + [False] * (len(reps) - 1)
    today = world.reps
    flat = value_plan(model, world.accounts, reps, plan, current_reps=today, n_sims=20)
    assert any("no ramp curve was given" in w for w in flat.warnings)
    assert flat.reps.loc[0, "productivity"] == 1.0
    ramped = value_plan(
        model, world.accounts, reps, plan, current_reps=today, ramp=LITERATURE_RAMP,
        time_to_fill=3.0, n_sims=20,
    )  # fmt: skip
    assert ramped.reps.loc[0, "productivity"] == pytest.approx((0.25 + 0.5 + 0.75 + 5) / 12)
    first_ramped = float(ramped.reps["expected_sales"].to_numpy()[0])
    assert first_ramped < float(flat.reps["expected_sales"].to_numpy()[0])
    np.testing.assert_allclose(
        ramped.reps["expected_sales"].iloc[1:], flat.reps["expected_sales"].iloc[1:]
    )
    # Every account of the seat changed hands: the uplift pays the transition loss on them.
    assert ramped.uplift is not None and ramped.uplift["uplift"] < 0


def test_uplift_needs_the_current_reps() -> None:
    world, model = fitted()
    reps, plan = _with_new_hire(world)
    value = value_plan(model, world.accounts, reps, plan, n_sims=20)
    assert value.uplift is None
    assert any("not in the reps table of the current alignment" in w for w in value.warnings)


def test_same_seed_same_numbers() -> None:
    world, model = fitted()
    a = value_plan(model, world.accounts, world.reps, world.rebalanced, n_sims=100, seed=3)
    b = value_plan(model, world.accounts, world.reps, world.rebalanced, n_sims=100, seed=3)
    pd.testing.assert_frame_equal(a.reps, b.reps)
    assert a.to_dict() == b.to_dict()


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ScenarioError, match="margin"):
        Economics(margin=1.5)
    with pytest.raises(ScenarioError, match="rep_cost"):
        Economics(rep_cost=-1.0)
    world, model = fitted()
    with pytest.raises(ScenarioError, match="quantiles"):
        value_plan(model, world.accounts, world.reps, world.rebalanced, quantiles=(0.1, 0.9))
    costs = Economics(rep_cost=5.0).costs(world.reps.assign(cost=[1.0] + [np.nan] * 29))
    assert costs[0] == 1.0 and (costs[1:] == 5.0).all()
