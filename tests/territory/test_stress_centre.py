"""The stress test centred on the sales-response model (territory.domain.stress_centre).

A small world of identical territories (same potential, workload, capacity and quota) held by
reps of different tiers: history (the same revenue everywhere) centres every rep alike, the
model centres an A-tier rep above a C-tier one, and the "standard rep" of check C6 stays free
of rep quality.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from territory.domain.comp import ACCOUNT_MANAGER, HUNTER, CompPlan
from territory.domain.response import ResponseModel, literature_model, rep_expected_sales
from territory.domain.stress import StressConfig, StressInputs, held_share, run_stress
from territory.domain.stress_centre import centre_on_model
from territory.errors import DataValidationError

PLAN = CompPlan.of(HUNTER, ACCOUNT_MANAGER, plan_id="test")
RAMP = StressConfig().ramp_schedule
PER_REP = 10


def _world(tiers: list[str], moved_from: dict[str, str] | None = None) -> tuple[pd.DataFrame, ...]:
    """Accounts, reps and plan: ``PER_REP`` equal accounts per rep, each rep fully covering them.

    ``moved_from`` maps a rep to the rep that held its accounts last year (they change hands).
    """
    rep_ids = [f"R{i}" for i in range(len(tiers))]
    owner = np.repeat(rep_ids, PER_REP)
    previous = [(moved_from or {}).get(r, r) for r in owner.tolist()]
    accounts = pd.DataFrame(
        {
            "account_id": [f"A{i:03d}" for i in range(owner.size)],
            "potential": 100_000.0,
            "workload": 10.0,
            "current_rep": previous,
            "revenue_last_year": 40_000.0,
        }
    )
    reps = pd.DataFrame({"rep_id": rep_ids, "capacity": 100.0, "tier": tiers})
    plan = pd.DataFrame({"account_id": accounts["account_id"], "rep_id": owner})
    return accounts, reps, plan


def _inputs(reps: pd.DataFrame, **columns: list[float]) -> StressInputs:
    """History's inputs: every territory the same quota and the same revenue."""
    frame = pd.DataFrame(
        {"rep_id": reps["rep_id"], "role": "hunter", "quota": 440_000.0, "expected_sales": 1.0}
    )
    for name, values in columns.items():
        frame[name] = values
    return StressInputs.from_frame(frame, PLAN, forecast=400_000.0 * len(reps))


def _with(model: ResponseModel, **values: float) -> ResponseModel:
    estimate = model.estimate.copy()
    for name, value in values.items():
        estimate[model.names.index(name)] = value
    return replace(model, estimate=estimate)


Centred = tuple[StressInputs, StressInputs, list[str]]


def _centred(tiers: list[str], **columns: list[float]) -> Centred:
    """History's inputs and the same centred on the literature model, with its warnings."""
    accounts, reps, plan = _world(tiers)
    history = _inputs(reps, **columns)
    model = literature_model(accounts, reps)
    centred, notes = centre_on_model(history, model, accounts, reps, plan, ramp_schedule=RAMP)
    return history, centred, notes


def test_a_tier_rep_is_predicted_to_attain_more_than_a_c_tier_rep() -> None:
    history, centred, _ = _centred(["A", "B", "C"])
    config = StressConfig(n_sims=4000)
    before = run_stress(history, PLAN, config, seed=11).rep_impact
    after = run_stress(centred, PLAN, config, seed=11)
    a, b, c = after.rep_impact["expected_attainment"].to_numpy()
    assert a > b > c
    assert a / c == pytest.approx(1.15 / 0.85, rel=0.03)  # the model's tier multipliers
    p_ge_1 = after.rep_impact["p_attain_ge_1"].to_numpy()
    assert p_ge_1[0] > p_ge_1[2] + 0.2
    # History cannot tell the reps apart: the same revenue, the same quota.
    centre = before["expected_attainment"].to_numpy()
    assert centre.max() / centre.min() == pytest.approx(1.0, abs=0.03)
    # The standard rep (e = 1, check C6) of three identical territories is one rep.
    standard = after.standard_rep["expected_attainment"].to_numpy()
    assert standard.max() / standard.min() == pytest.approx(1.0, abs=0.03)


def test_the_model_splits_the_forecast_it_does_not_resize_it() -> None:
    history, centred, notes = _centred(["A", "B", "C", "C"])
    assert centred.plan_revenue == history.plan_revenue
    np.testing.assert_array_equal(centred.quota, history.quota)
    sales = centred.expected_sales * centred.effectiveness
    assert sales.sum() == pytest.approx(history.plan_revenue)
    np.testing.assert_allclose(centred.effectiveness, [1.15, 1.0, 0.85, 0.85])
    # Identical territories: the centre without the rep's quality is the same for every rep.
    np.testing.assert_allclose(centred.expected_sales, centred.expected_sales[0])
    assert not any("effectiveness column" in n for n in notes)


def test_a_ramping_rep_sells_what_the_model_predicts_over_its_held_months() -> None:
    accounts, reps, plan = _world(["B", "B", "B", "B"])
    model = literature_model(accounts, reps)
    model = _with(model, base=0.3 * model.parameter("saturation"))  # relationships keep buying
    months, tenure = [12.0, 12.0, 6.0, 6.0], [0.0, 1200.0, 1200.0, 0.0]
    history = _inputs(reps, months_in_role=months, tenure_months=tenure)
    centred, _ = centre_on_model(history, model, accounts, reps, plan, ramp_schedule=RAMP)
    share = held_share(history.months_in_role, history.tenure_months, RAMP)
    held = history.months_in_role / 12.0
    full = rep_expected_sales(model, accounts, reps, plan).sales[0]
    ramped = rep_expected_sales(model, accounts, reps, plan, productivity=share / held).sales[0]
    scale = history.plan_revenue / full.sum()
    simulated = centred.expected_sales * centred.effectiveness * share
    np.testing.assert_allclose(simulated, scale * held * ramped)
    # Ramping, the model sells more than the schedule's share of a full year (its base level).
    assert simulated[0] > scale * full[0] * share[0]
    # A fully ramped rep, whether it holds the year or half of it, is centred on the model.
    np.testing.assert_allclose(centred.expected_sales[1:3], scale * full[1:3])


def test_accounts_changing_hands_lower_the_receiving_reps_centre() -> None:
    accounts, reps, plan = _world(["B", "B", "B"], moved_from={"R1": "R2"})
    model = literature_model(accounts, reps)
    centred, _ = centre_on_model(_inputs(reps), model, accounts, reps, plan, ramp_schedule=RAMP)
    loss = model.parameter("transition_loss")
    assert centred.expected_sales[1] / centred.expected_sales[0] == pytest.approx(1.0 - loss)
    assert centred.expected_sales[2] == pytest.approx(centred.expected_sales[0])


def test_the_models_effectiveness_replaces_a_reps_column() -> None:
    _, centred, notes = _centred(["A", "C"], effectiveness=[0.5, 2.0])
    np.testing.assert_allclose(centred.effectiveness, [1.15, 0.85])
    assert any("effectiveness column is replaced" in n for n in notes)


def test_quotas_of_reps_the_model_does_not_know_are_refused() -> None:
    accounts, reps, plan = _world(["A", "B"])
    stranger = _inputs(reps.assign(rep_id=["R0", "X9"]))
    with pytest.raises(DataValidationError, match="X9"):
        centre_on_model(
            stranger, literature_model(accounts, reps), accounts, reps, plan, ramp_schedule=RAMP
        )


def test_a_model_that_expects_no_sales_is_refused() -> None:
    accounts, reps, plan = _world(["B", "B"])
    model = _with(literature_model(accounts, reps), saturation=0.0)
    with pytest.raises(DataValidationError, match="expects no sales"):
        centre_on_model(_inputs(reps), model, accounts, reps, plan, ramp_schedule=RAMP)


def test_same_inputs_and_seed_same_stress_numbers() -> None:
    _, centred, _ = _centred(["A", "B", "C"])
    config = StressConfig(n_sims=500)
    first, again = (run_stress(centred, PLAN, config, seed=3) for _ in range(2))
    pd.testing.assert_frame_equal(first.rep_impact, again.rep_impact)
    np.testing.assert_array_equal(first.incentive, again.incentive)


@settings(max_examples=25, deadline=None)
@given(
    potentials=st.lists(st.floats(1_000.0, 1e6), min_size=6, max_size=6),
    capacities=st.lists(st.floats(20.0, 400.0), min_size=3, max_size=3),
    tiers=st.lists(st.sampled_from(["A", "B", "C"]), min_size=3, max_size=3),
)
def test_fully_ramped_centres_add_up_to_the_forecast_in_the_models_proportions(
    potentials: list[float], capacities: list[float], tiers: list[str]
) -> None:
    accounts, reps, plan = _world(tiers)
    accounts["potential"] = np.tile(potentials, 5)
    reps["capacity"] = capacities
    model = literature_model(accounts, reps)
    history = _inputs(reps)
    centred, _ = centre_on_model(history, model, accounts, reps, plan, ramp_schedule=RAMP)
    sales = centred.expected_sales * centred.effectiveness
    assert np.isfinite(sales).all() and (sales >= 0).all()
    assert sales.sum() == pytest.approx(history.plan_revenue)
    predicted = rep_expected_sales(model, accounts, reps, plan).sales[0]
    np.testing.assert_allclose(sales / sales.sum(), predicted / predicted.sum(), rtol=1e-9)
