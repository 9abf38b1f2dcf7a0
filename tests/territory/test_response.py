"""Tests for territory.domain.response: a fitted response curve on worlds with a known truth."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from territory.domain.metrics import moved_mask
from territory.domain.response import (
    LITERATURE_RAMP,
    RampCurve,
    ResponseCurve,
    ResponseModel,
    fit_response,
    from_json,
    rep_expected_sales,
    rep_loading,
    to_json,
)
from territory.domain.value import value_plan
from territory.errors import DataValidationError
from tests.response_worlds import SHAPES, World, make_world, true_rep_sales

PROPERTY_SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)


def _fit(world: World, **options: Any) -> ResponseModel:
    options.setdefault("n_boot", 0)
    options.setdefault("folds", 0)
    return fit_response(world.accounts, world.reps, **options)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_fitted_curve_predicts_a_rebalanced_plan(shape: str) -> None:
    """Fit on today's alignment, predict another: per-rep MAPE < 10%, uplift within 2 points."""
    world = make_world(shape, seed=0)
    model = _fit(world)
    accounts, reps = world.accounts, world.reps
    current = accounts["current_rep"].to_numpy(dtype=object)
    moved = moved_mask(accounts, world.rebalanced)
    assert moved.mean() > 0.03  # a real realignment, not a relabelling

    predicted = rep_expected_sales(model, accounts, reps, world.rebalanced, moved=moved)
    truth = true_rep_sales(world.truth, accounts, reps, world.rebalanced, moved)
    mape = float(np.mean(np.abs(predicted.sales[0] - truth) / truth))
    assert mape < 0.10

    value = value_plan(model, accounts, reps, world.rebalanced, n_sims=50)
    assert value.uplift is not None
    true_uplift = truth.sum() / true_rep_sales(world.truth, accounts, reps, current).sum() - 1
    assert abs(value.uplift["uplift"] - true_uplift) < 0.02


def test_bootstrap_interval_holds_the_true_uplift_on_most_worlds() -> None:
    """The P10-P90 uplift interval (an 80% interval) contains the truth on most worlds."""
    inside = []
    for shape in sorted(SHAPES):
        for seed in (1, 2):
            world = make_world(shape, seed, n_accounts=1500, n_reps=30)
            model = _fit(world, n_boot=30, seed=seed)
            assert model.quality.n_boot >= 25
            value = value_plan(model, world.accounts, world.reps, world.rebalanced, n_sims=30)
            assert value.uplift is not None
            moved = moved_mask(world.accounts, world.rebalanced)
            after = true_rep_sales(world.truth, world.accounts, world.reps, world.rebalanced, moved)
            before = true_rep_sales(
                world.truth, world.accounts, world.reps, world.accounts["current_rep"]
            )
            truth = after.sum() / before.sum() - 1
            lo, hi = value.uplift["uplift_p10"], value.uplift["uplift_p90"]
            assert lo <= value.uplift["uplift_p50"] <= hi
            inside.append(lo <= truth <= hi)
    assert sum(inside) >= 6, f"the truth fell inside {sum(inside)} of {len(inside)} intervals"


def test_fit_reports_quality_and_cross_validation() -> None:
    model = _fit(make_world("exponential", seed=3), folds=5)
    q = model.quality
    assert q.folds == 5 and q.n_reps == 40 and q.n_cells > 40
    assert 0.5 < q.r2 <= 1.0
    assert 0.0 < q.mape < q.cv_mape < 0.5  # held-out reps are predicted worse, not wildly
    assert np.isfinite(q.cv_r2) and q.cv_r2 < q.r2
    assert model.source == "fitted"


def test_effectiveness_and_segments_are_recovered() -> None:
    """A-tier reps sell more than C-tier ones, and segment levels follow the truth's order."""
    model = _fit(make_world("log", seed=4, n_accounts=3000))
    tiers = model.tiers
    assert tiers["B"] == 1.0
    assert 1.05 < tiers["A"] < 1.4 and 0.6 < tiers["C"] < 0.95
    assert model.parameter("rating") > 0
    segments = model.segments
    assert segments["Enterprise"] < segments["Mid-Market"] <= segments["SMB"] * 1.05


def test_transition_loss_is_fitted_when_a_prior_year_had_moves() -> None:
    world = make_world("exponential", seed=5, prior_year=True, prior_moves=0.3)
    model = _fit(world)
    assert "transition_loss" not in model.fixed
    assert abs(model.transition_loss - world.truth.transition_loss) < 0.08
    assert "prior_year" in model.names


def test_transition_loss_defaults_to_the_revenue_at_risk_rate() -> None:
    model = _fit(make_world("power", seed=0))
    assert model.fixed == ("transition_loss",)
    assert model.transition_loss == pytest.approx(0.15)


def _equally_loaded(world: World) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same accounts with capacities set so every rep is 85% loaded."""
    load = world.accounts.groupby("current_rep")["workload"].sum()
    reps = world.reps.copy()
    reps["capacity"] = reps["rep_id"].map(load).to_numpy() / 0.85
    return world.accounts, reps


def test_refuses_a_fit_when_every_rep_is_loaded_alike() -> None:
    accounts, reps = _equally_loaded(make_world("adbudg", seed=0))
    with pytest.raises(DataValidationError) as info:
        fit_response(accounts, reps, n_boot=0, folds=0)
    text = str(info.value)
    assert "loaded alike" in text and "0.85 to 0.85" in text
    assert "literature defaults" in text  # says what to do


def test_literature_defaults_only_when_asked() -> None:
    accounts, reps = _equally_loaded(make_world("adbudg", seed=0))
    model = fit_response(accounts, reps, defaults="literature")
    assert model.source == "literature"
    assert any(
        "literature defaults, not fitted" in w and "loaded alike" in w for w in model.warnings
    )
    # The level is calibrated: today's plan is predicted at last year's revenue.
    total = rep_expected_sales(model, accounts, reps, accounts["current_rep"]).sales[0].sum()
    assert total == pytest.approx(accounts["revenue_last_year"].sum(), rel=1e-9)
    # Data that supports a fit is fitted even when the fallback is allowed.
    assert _fit(make_world("adbudg", seed=0), defaults="literature").source == "fitted"


def test_refuses_without_revenue_or_with_too_few_reps() -> None:
    world = make_world("power", seed=0)
    with pytest.raises(DataValidationError, match="revenue_last_year"):
        fit_response(world.accounts.drop(columns="revenue_last_year"), world.reps)
    small = make_world("power", seed=0, n_accounts=300, n_reps=6)
    with pytest.raises(DataValidationError, match="only 6 rep"):
        fit_response(small.accounts, small.reps)
    with pytest.raises(ValueError, match="defaults"):
        fit_response(world.accounts, world.reps, defaults="guess")  # type: ignore[arg-type]


def test_bad_revenue_names_the_row() -> None:
    world = make_world("power", seed=0)
    accounts = world.accounts.copy()
    accounts.loc[3, "revenue_last_year"] = -5.0
    with pytest.raises(DataValidationError, match=r"row 5, column 'revenue_last_year'"):
        fit_response(accounts, world.reps)
    accounts = world.accounts.copy()
    accounts.loc[0, "current_rep"] = "NOBODY"
    with pytest.raises(DataValidationError, match="'NOBODY' is not in the reps table"):
        fit_response(accounts, world.reps)


def test_json_round_trip_and_determinism() -> None:
    world = make_world("adbudg", seed=6)
    model = _fit(world, n_boot=5, folds=3, seed=11)
    document = to_json(model)
    # Sorted keys, as the run folder's JSON writer does: the draws keep their columns.
    text = json.dumps(document, allow_nan=False, sort_keys=True)
    again = from_json(json.loads(text))
    assert to_json(again) == document
    before = rep_expected_sales(
        model, world.accounts, world.reps, world.rebalanced, with_draws=True
    )
    after = rep_expected_sales(again, world.accounts, world.reps, world.rebalanced, with_draws=True)
    np.testing.assert_array_equal(before.sales, after.sales)
    assert to_json(_fit(world, n_boot=5, folds=3, seed=11)) == document
    with pytest.raises(DataValidationError, match="format"):
        from_json({**document, "format": "something/2"})
    with pytest.raises(DataValidationError, match="incomplete"):
        from_json({k: v for k, v in document.items() if k != "quality"})


def test_loading_is_capacity_over_workload() -> None:
    accounts = pd.DataFrame(
        {"account_id": ["a", "b", "c"], "workload": [10.0, 30.0, 50.0], "potential": [1, 2, 3]}
    )
    reps = pd.DataFrame({"rep_id": ["X", "Y", "Z"], "capacity": [80.0, 100.0, 50.0]})
    loading = rep_loading(accounts, reps, ["X", "X", "Y"])
    np.testing.assert_allclose(loading.workload, [40.0, 50.0, 0.0])
    np.testing.assert_allclose(loading.coverage[:2], [2.0, 2.0])
    assert np.isinf(loading.coverage[2])
    np.testing.assert_allclose(loading.utilisation, [0.5, 0.5, 0.0])
    with pytest.raises(DataValidationError, match="not in the reps table"):
        rep_loading(accounts, reps, ["X", "Q", "Y"])
    frame = pd.DataFrame({"account_id": ["c", "a", "b"], "rep_id": ["Y", "X", "X"]})
    np.testing.assert_array_equal(rep_loading(accounts, reps, frame).position, [0, 0, 1])


curves = st.builds(
    lambda a, share, g, half: ResponseCurve(a, a * share, g, half),
    st.floats(0.01, 5.0),
    st.floats(0.0, 0.95),
    st.floats(0.25, 8.0),
    st.floats(0.02, 50.0),
)


@PROPERTY_SETTINGS
@given(curve=curves, c=st.lists(st.floats(0.0, 100.0), min_size=2, max_size=20))
def test_response_is_monotone_and_bounded(curve: ResponseCurve, c: list[float]) -> None:
    x = np.sort(np.array(c))
    r = curve(x)
    assert np.all(np.diff(r) >= -1e-12)
    assert np.all(r >= curve.base - 1e-12) and np.all(r <= curve.saturation + 1e-12)
    assert curve(np.inf) == pytest.approx(curve.saturation)
    assert curve(0.0) == pytest.approx(curve.base)
    assert np.all(curve.elasticity(x) >= 0)


@PROPERTY_SETTINGS
@given(
    monthly=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=12),
    tenure=st.floats(0.0, 40.0),
    delay=st.floats(0.0, 12.0),
)
def test_ramp_share_is_a_share_and_grows_with_tenure(
    monthly: list[float], tenure: float, delay: float
) -> None:
    ramp = RampCurve(tuple(sorted(monthly)))
    share = float(ramp.year_share(tenure, start_delay=delay)[0])
    assert 0.0 <= share <= 1.0
    assert float(ramp.year_share(tenure + 1.0, start_delay=delay)[0]) >= share - 1e-12
    assert float(ramp.year_share(tenure, start_delay=delay + 1.0)[0]) <= share + 1e-12


def test_literature_ramp_is_the_engine_default() -> None:
    assert LITERATURE_RAMP.monthly == (0.0, 0.25, 0.5, 0.75, 1.0)
    assert LITERATURE_RAMP.months_to_full == 5
    assert float(LITERATURE_RAMP.year_share(0.0)[0]) == pytest.approx((1.5 + 8) / 12)
    with pytest.raises(ValueError, match="between 0 and 1"):
        RampCurve((0.5, 1.5))


def test_elasticity_is_finite_where_the_curve_underflows() -> None:
    """Found by hypothesis: a coverage so small that (c/half)^g underflows gave 0/0."""
    curve = ResponseCurve(saturation=1.0, base=0.0, shape=4.0, half=1.0)
    tiny = curve.elasticity(np.array([2.5e-98, 1e-300]))
    assert np.all(np.isfinite(tiny)) and tiny == pytest.approx([4.0, 4.0])
    with_base = ResponseCurve(saturation=1.0, base=0.2, shape=4.0, half=1.0)
    assert with_base.elasticity(np.array([1e-300, 1e300])) == pytest.approx([0.0, 0.0])
