"""Tests for territory.domain.stress: the Monte Carlo of attainment and incentive cost.

Most tests use the reference setup of the quota spec (section 2.6): 50 identical reps, OTE
200,000 at 50/50 (TI 100,000), quota 1,000,000, sigma_e 0.15 and sigma_idio 0.20 (so the rep
log-sd is 0.25), the company held at x. Over-assignment OA enters as expected sales of
quota / (1 + OA)::

    rep r:  quota 1.0M   expected sales 1.0M / (1 + OA)   A_r = x e_r eps_r / (1 + OA)

Tolerances are the spec's +-1.5 points for the reference table and +-1 point for the
lognormal shape table; both sit far outside the Monte Carlo error at these sizes.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from territory.domain.comp import ACCOUNT_MANAGER, HUNTER, CompPlan, PayoutCurve, Tier
from territory.domain.payouts import payout_for
from territory.domain.stress import (
    REP_IMPACT_COLUMNS,
    SCENARIO_COLUMNS,
    StressConfig,
    StressInputs,
    StressResult,
    accelerator_slope_for_leverage,
    fenton_wilkinson_sigma,
    held_share,
    p_at_quota,
    run_stress,
    sensitivity_grid,
    sigma_from_deals,
)
from territory.errors import DataValidationError, ScenarioError

PLAN = CompPlan.of(HUNTER, ACCOUNT_MANAGER, plan_id="test")
PTS = 0.015  # +-1.5 points, as a fraction

# Section 2.6: (OA, x, % reps >= quota, f(A90), incentive / TI budget P10, P50, P90, CCOS P50).
REFERENCE = [
    (0.00, 0.90, 29, 1.40, 0.89, 0.95, 1.01, 0.217),
    (0.00, 1.00, 45, 1.67, 1.02, 1.09, 1.16, 0.209),
    (0.00, 1.10, 60, 1.94, 1.17, 1.24, 1.33, 0.204),
    (0.10, 0.90, 18, 1.19, 0.80, 0.84, 0.90, 0.225),
    (0.10, 1.00, 31, 1.43, 0.90, 0.96, 1.02, 0.216),
    (0.10, 1.10, 45, 1.67, 1.02, 1.09, 1.16, 0.209),
]

# Section 2.3 shape table: sigma -> (% in 80-120, % below 80, % above 120) at median 1.
SHAPE = [(0.20, 69, 13, 18), (0.25, 58, 19, 23), (0.30, 50, 23, 27)]


def _reps(
    n: int = 50, oa: float = 0.0, role: str = "hunter", quota: float = 1_000_000.0
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rep_id": [f"R{i:03d}" for i in range(n)],
            "role": role,
            "quota": quota,
            "expected_sales": quota / (1.0 + oa),
        }
    )


def _run(frame: pd.DataFrame, config: StressConfig | None = None, seed: int = 7) -> StressResult:
    return run_stress(StressInputs.from_frame(frame, PLAN), PLAN, config, seed=seed)


@pytest.fixture(scope="module")
def reference_runs() -> dict[float, StressResult]:
    """The section 2.6 setup at OA 0 and 0.10, 10,000 simulations each."""
    return {oa: _run(_reps(oa=oa), StressConfig(), seed=2026) for oa in (0.0, 0.10)}


class TestSyntheticReference:
    @pytest.mark.parametrize(
        ("oa", "x", "pct_quota", "f90", "p10", "p50", "p90", "ccos"), REFERENCE
    )
    def test_reference_table(
        self,
        reference_runs: dict[float, StressResult],
        oa: float,
        x: float,
        pct_quota: float,
        f90: float,
        p10: float,
        p50: float,
        p90: float,
        ccos: float,
    ) -> None:
        result = reference_runs[oa]
        row = result.row(x)
        table = result.scenario_table()
        assert table.loc[row, "pct_reps_ge_quota"] == pytest.approx(pct_quota, abs=1.5)
        pfp = result.pay_for_performance
        at_x = pfp[np.isclose(pfp["company_attainment_x"], x)].iloc[0]
        assert at_x["payout_at_p90"] == pytest.approx(f90, abs=PTS)
        ratio = np.percentile(result.incentive[row], [10, 50, 90]) / result.ti_budget
        np.testing.assert_allclose(ratio, [p10, p50, p90], atol=PTS)
        assert table.loc[row, "incentive_to_ti_budget_p50"] == pytest.approx(p50, abs=PTS)
        assert table.loc[row, "ccos_p50"] == pytest.approx(ccos, abs=PTS)

    def test_example_rows_of_scenario_file(self, reference_runs: dict[float, StressResult]) -> None:
        table = reference_runs[0.10].scenario_table()
        for x, pct in ((0.9, 18), (1.0, 31), (1.1, 45)):
            row = table[np.isclose(table["company_attainment_x"], x)].iloc[0]
            assert row["pct_reps_ge_quota"] == pytest.approx(pct, abs=1.5)
            assert row["pct_reps_paid"] == 100.0

    def test_account_manager_paid_share(self) -> None:
        result = _run(_reps(oa=0.10, role="account_manager"), StressConfig(n_sims=4_000))
        verdicts = result.verdicts
        assert verdicts.expected_share_paid == pytest.approx(0.74, abs=PTS)
        assert verdicts.largest_threshold_for_90pct_paid == pytest.approx(0.64, abs=PTS)
        assert verdicts.roles[0].share_paid == pytest.approx(verdicts.expected_share_paid)
        impact = result.rep_impact
        assert impact["p_below_threshold"].mean() == pytest.approx(0.26, abs=PTS)
        assert (impact["payout_p10"] == 0.0).all()

    def test_jensen_gap_at_plan(self, reference_runs: dict[float, StressResult]) -> None:
        result = reference_runs[0.0]
        mean_ratio = result.incentive[result.row(1.0)].mean() / result.ti_budget
        assert mean_ratio == pytest.approx(1.09, abs=PTS)

    def test_leverage_calibrated_slope(self, reference_runs: dict[float, StressResult]) -> None:
        for oa, slope in ((0.0, 3.0), (0.10, 4.7)):
            verdict = reference_runs[oa].verdicts.roles[0]
            assert verdict.accelerator_slope_needed == pytest.approx(slope, abs=0.1)
            needed = accelerator_slope_for_leverage(verdict.attainment_p90, 2.0)
            assert needed == pytest.approx(verdict.accelerator_slope_needed)
            calibrated = HUNTER.with_accelerator(needed)
            f90 = calibrated.incentive_multiple(np.array([verdict.attainment_p90]))[0]
            assert f90 == pytest.approx(2.0, abs=1e-9)

    def test_verdict_numbers(self, reference_runs: dict[float, StressResult]) -> None:
        v0, v1 = reference_runs[0.0].verdicts, reference_runs[0.10].verdicts
        assert v0.expected_share_at_quota == pytest.approx(0.45, abs=PTS)
        assert v1.expected_share_at_quota == pytest.approx(0.31, abs=PTS)
        assert v1.p_share_at_quota_ge_min < 0.05 < v0.p_share_at_quota_ge_min < 0.5
        assert v0.payout_at_p90 == pytest.approx(1.67, abs=PTS)
        assert v0.over_assignment == pytest.approx(0.0, abs=1e-12)
        assert v1.over_assignment == pytest.approx(0.10)
        assert v0.over_assignment_bound == pytest.approx(-0.03, abs=0.002)
        assert 0.72 <= v0.p_company_within_band <= 0.80
        assert v0.payout_spread < 0.03 and v0.p_attain_spread < 0.03
        assert v0.ccos_p50[1.0] == pytest.approx(0.209, abs=PTS)
        assert v0.n_rate_reps == 50 and v0.n_excluded == 0

    def test_closed_form_share_at_quota(self) -> None:
        assert p_at_quota(0.0, 0.25) == pytest.approx(0.45, abs=0.005)
        assert p_at_quota(0.10, 0.25) == pytest.approx(0.31, abs=0.005)
        assert p_at_quota(0.15, 0.25) == pytest.approx(0.25, abs=0.005)


class TestSyntheticSimulation:
    def test_zero_sigma_reproduces_deterministic_payout(self) -> None:
        frame = pd.DataFrame(
            {
                "rep_id": ["h1", "a1", "h2", "a2", "h3"],
                "role": ["hunter", "account_manager", "hunter", "account_manager", "hunter"],
                "quota": [1.0e6, 0.8e6, 1.2e6, 1.0e6, 0.9e6],
                "expected_sales": [1.1e6, 0.7e6, 1.5e6, 0.72e6, 0.3e6],
                "effectiveness": [1.0, 1.05, 0.9, 1.0, 1.2],
                "months_in_role": [12, 12, 6, 12, 12],
                "tenure_months": [60, 60, 60, 2, 60],
            }
        )
        config = StressConfig(n_sims=20, sigma_company=0.0, sigma_effectiveness=0.0, sigma_idio=0.0)
        result = _run(frame, config)
        inputs = StressInputs.from_frame(frame, PLAN)
        share = held_share(inputs.months_in_role, inputs.tenure_months, config.ramp_schedule)
        attainment = inputs.expected_sales * share * inputs.effectiveness / inputs.quota
        for x in config.scenario_levels():
            expected = sum(
                float(payout_for(PLAN.roles[role], x * a, months_in_role=float(m)).incentive)
                for role, a, m in zip(
                    frame["role"], attainment, frame["months_in_role"], strict=True
                )
            )
            row = result.incentive[result.row(x)]
            np.testing.assert_allclose(row, expected, rtol=1e-12)
        impact = result.rep_impact.set_index("rep_id")
        np.testing.assert_allclose(
            impact.loc[frame["rep_id"], "expected_attainment"], attainment, rtol=1e-12
        )
        np.testing.assert_allclose(impact["payout_p10"], impact["payout_p90"], rtol=1e-12)

    def test_company_total_converges_to_x_times_plan(self) -> None:
        frame = _reps(n=200)
        config = StressConfig(n_sims=2_000, sigma_company=0.0)
        result = _run(frame, config)
        plan_revenue = result.plan_revenue
        assert plan_revenue == pytest.approx(200 * 1.0e6)
        for i, x in enumerate(result.x[:-1].tolist()):
            assert result.revenue[i].mean() / plan_revenue == pytest.approx(x, rel=0.002)
        assert result.revenue[-1].mean() / plan_revenue == pytest.approx(1.0, rel=0.002)

    @pytest.mark.parametrize(("sigma", "inside", "below", "above"), SHAPE)
    def test_lognormal_shape_table(
        self, sigma: float, inside: float, below: float, above: float
    ) -> None:
        config = StressConfig(n_sims=2_000, sigma_effectiveness=0.0, sigma_idio=sigma)
        # The table is for median attainment 1; the draws have mean 1, so lift sales by
        # exp(sigma^2 / 2) to put the median on quota.
        frame = _reps(n=100).assign(expected_sales=1.0e6 * math.exp(sigma**2 / 2))
        result = _run(frame, config)
        hist = result.attainment_histogram()
        shares = hist[hist["scenario_id"] == "x1.00"].set_index("band")["share"]
        assert 100 * (shares["<50"] + shares["50-80"]) == pytest.approx(below, abs=1.0)
        assert 100 * (shares["80-100"] + shares["100-120"]) == pytest.approx(inside, abs=1.0)
        assert 100 * shares[">120"] == pytest.approx(above, abs=1.0)

    def test_linear_curve_conserves_cost(self) -> None:
        linear = HUNTER.model_copy(
            update={"curve": PayoutCurve(tiers=(Tier(start=0.0, slope=1.0),))}
        )
        plan = CompPlan.of(linear)
        inputs = StressInputs.from_frame(_reps(n=100, oa=0.10), plan)
        result = run_stress(inputs, plan, StressConfig(n_sims=2_000), seed=3)
        for x in (0.9, 1.0, 1.1):
            mean = result.incentive[result.row(x)].mean()
            assert mean / result.ti_budget == pytest.approx(x / 1.1, rel=0.003)

    def test_same_seed_same_numbers(self) -> None:
        config = StressConfig(n_sims=500)
        first, second = _run(_reps(), config, seed=11), _run(_reps(), config, seed=11)
        np.testing.assert_array_equal(first.incentive, second.incentive)
        pd.testing.assert_frame_equal(first.rep_impact, second.rep_impact)
        pd.testing.assert_frame_equal(first.scenario_table(), second.scenario_table())
        assert first.seed == 11
        other = _run(_reps(), config, seed=12)
        assert not np.array_equal(first.incentive, other.incentive)

    def test_generator_and_recorded_seed(self) -> None:
        config = StressConfig(n_sims=300)
        inputs = StressInputs.from_frame(_reps(), PLAN)
        with_gen = run_stress(inputs, PLAN, config, seed=np.random.default_rng(5))
        with_int = run_stress(inputs, PLAN, config, seed=5)
        np.testing.assert_array_equal(with_gen.incentive, with_int.incentive)
        assert with_gen.seed is None
        fresh = run_stress(inputs, PLAN, config)
        assert fresh.seed is not None
        again = run_stress(inputs, PLAN, config, seed=fresh.seed)
        np.testing.assert_array_equal(fresh.incentive, again.incentive)

    def test_block_size_does_not_change_totals_when_noise_is_off(self) -> None:
        quiet = StressConfig(n_sims=50, sigma_company=0.0, sigma_effectiveness=0.0, sigma_idio=0.0)
        small = _run(_reps(n=30), replace(quiet, max_cells=120))
        large = _run(_reps(n=30), quiet)
        np.testing.assert_allclose(small.incentive, large.incentive, rtol=1e-12)

    def test_vacancy_and_ramp(self) -> None:
        frame = pd.DataFrame(
            {
                "rep_id": ["full", "half", "TBH-1", "new"],
                "role": "hunter",
                "quota": [1.0e6, 0.5e6, 1.0e6, 0.79166666e6],
                "expected_sales": 1.0e6,
                "months_in_role": [12, 6, 0, 12],
                "tenure_months": [60, 60, 0, 0],
            }
        )
        config = StressConfig(n_sims=10, sigma_company=0.0, sigma_effectiveness=0.0, sigma_idio=0.0)
        result = _run(frame, config)
        share = held_share(
            np.array([12.0, 6.0, 0.0, 12.0]),
            np.array([60.0, 60.0, 0.0, 0.0]),
            (0, 0.25, 0.5, 0.75, 1),
        )
        np.testing.assert_allclose(share, [1.0, 0.5, 0.0, 9.5 / 12])
        # Sales: the two held reps, the vacant half year and the empty territory at 85%.
        expected = 1.0e6 * (1.0 + 0.5 + 0.5 * 0.85 + 0.85 + 9.5 / 12)
        assert result.revenue[result.row(1.0)][0] == pytest.approx(expected)
        assert result.base_cost == pytest.approx(100_000 * (1 + 0.5 + 0 + 1))
        assert result.ti_budget == pytest.approx(100_000 * 2.5)
        impact = result.rep_impact.set_index("rep_id")
        assert np.isnan(impact["expected_attainment"].to_numpy()[2])
        assert impact.loc["TBH-1", "expected_payout"] == 0.0
        assert impact.loc["half", "expected_payout"] == pytest.approx(50_000)
        assert result.verdicts.n_rate_reps == 1 and result.verdicts.n_excluded == 2

    def test_segment_factor_widens_cost_band(self) -> None:
        frame = _reps(n=200).assign(segment=["A", "B"] * 100)
        config = StressConfig(n_sims=2_000)
        plain = _run(frame.drop(columns="segment"), config)
        seg = _run(frame, config)
        row = plain.row(1.0)
        spread_plain = np.ptp(np.percentile(plain.incentive[row], [10, 90]))
        spread_seg = np.ptp(np.percentile(seg.incentive[row], [10, 90]))
        assert spread_seg > 1.5 * spread_plain

    def test_known_effectiveness_is_not_redrawn(self) -> None:
        frame = _reps(n=40).assign(effectiveness=1.2)
        config = StressConfig(n_sims=2_000, sigma_idio=0.0)
        result = _run(frame, config)
        impact = result.rep_impact
        np.testing.assert_allclose(impact["expected_attainment"], 1.2, rtol=1e-12)
        standard = result.standard_rep
        np.testing.assert_allclose(standard["expected_attainment"], 1.0, rtol=1e-12)

    def test_standard_rep_spread_flags_unequal_quota(self) -> None:
        frame = _reps(n=20)
        frame.loc[0, "quota"] = 1.3e6
        result = _run(frame, StressConfig(n_sims=2_000))
        assert result.verdicts.payout_spread > 0.2
        assert result.verdicts.p_attain_spread > 0.15

    def test_potential_calibrated_to_forecast(self) -> None:
        frame = pd.DataFrame(
            {
                "rep_id": ["a", "b"],
                "role": "hunter",
                "quota": [1.0e6, 1.0e6],
                "potential": [4.0e6, 6.0e6],
                "penetration": [0.25, 0.2],
            }
        )
        inputs = StressInputs.from_frame(frame, PLAN, forecast=2.2e6)
        np.testing.assert_allclose(inputs.expected_sales, [1.0e6, 1.2e6])
        assert inputs.plan_revenue == pytest.approx(2.2e6)
        assert inputs.over_assignment == pytest.approx(2.0 / 2.2 - 1.0)


class TestSyntheticOutputs:
    def test_scenario_table_layout(self, reference_runs: dict[float, StressResult]) -> None:
        table = reference_runs[0.10].scenario_table()
        assert list(table.columns) == list(SCENARIO_COLUMNS)
        expected_x = [round(0.80 + 0.05 * i, 2) for i in range(9)]
        np.testing.assert_allclose(table["company_attainment_x"].iloc[:-1], expected_x)
        assert table["scenario_id"].iloc[0] == "x0.80"
        assert table["scenario_id"].iloc[-1] == "unconditional"
        assert np.isnan(table["marginal_cost_of_incremental_revenue"].iloc[0])
        assert (np.diff(table["incentive_p50"].iloc[:-1]) > 0).all()
        marginal = table["marginal_cost_of_incremental_revenue"].iloc[1:-1]
        assert ((marginal > 0.05) & (marginal < 0.3)).all()

    def test_cost_distribution_and_reserve(self, reference_runs: dict[float, StressResult]) -> None:
        result = reference_runs[0.0]
        dist = result.cost_distribution()
        assert list(dist.columns) == ["percentile", "total_incentive", "ccos"]
        assert dist["percentile"].tolist() == [
            "P5",
            "P10",
            "P25",
            "P50",
            "P75",
            "P90",
            "P95",
            "reserve (P90-P50)",
        ]
        assert (np.diff(dist["total_incentive"].iloc[:-1]) > 0).all()
        reserve = dist["total_incentive"].iloc[-1]
        assert reserve == pytest.approx(result.verdicts.reserve)
        assert reserve == pytest.approx(
            dist["total_incentive"].iloc[5] - dist["total_incentive"].iloc[3]
        )

    def test_attainment_histogram_sums_to_one(
        self, reference_runs: dict[float, StressResult]
    ) -> None:
        hist = reference_runs[0.0].attainment_histogram()
        assert list(hist.columns) == ["scenario_id", "band", "share"]
        totals = hist.groupby("scenario_id")["share"].sum()
        np.testing.assert_allclose(totals, 1.0, atol=1e-12)
        assert hist["band"].iloc[:5].tolist() == ["<50", "50-80", "80-100", "100-120", ">120"]

    def test_rep_impact_layout_and_order(self) -> None:
        roles = ["account_manager", "hunter"] * 10
        frame = _reps(n=20).assign(role=roles, prior_year_payout=50_000.0)
        result = _run(frame, StressConfig(n_sims=1_000))
        impact = result.rep_impact
        assert list(impact.columns) == list(REP_IMPACT_COLUMNS)
        assert impact["rep_id"].tolist() == frame["rep_id"].tolist()
        assert impact["role"].tolist() == roles
        np.testing.assert_allclose(
            impact["ti"], [60_000.0 if r == "account_manager" else 100_000.0 for r in roles]
        )
        np.testing.assert_allclose(
            impact["delta_expected_payout"], impact["expected_payout"] - 50_000.0
        )
        assert (impact["payout_p10"] <= impact["payout_p50"]).all()
        assert (impact["payout_p50"] <= impact["payout_p90"]).all()
        hunters = impact[impact["role"] == "hunter"]
        assert hunters["p_attain_ge_1"].mean() == pytest.approx(0.45, abs=0.03)
        assert (hunters["p_below_threshold"] == 0.0).all()

    def test_unconditional_buckets(self, reference_runs: dict[float, StressResult]) -> None:
        buckets = reference_runs[0.0].unconditional_by_bucket()
        assert buckets["n_sims"].sum() == 10_000
        near_plan = buckets[np.isclose(buckets["realised_x"], 1.0)].iloc[0]
        assert near_plan["incentive_to_ti_budget_p50"] == pytest.approx(1.09, abs=0.03)

    def test_sensitivity_grid_over_assignment(self) -> None:
        inputs = StressInputs.from_frame(_reps(n=100), PLAN)
        grid = sensitivity_grid(
            inputs, PLAN, "over_assignment", config=StressConfig(n_sims=1_000), seed=4
        )
        assert list(grid.columns) == [
            "lever",
            "lever_value",
            "company_attainment_x",
            "incentive_to_ti_budget_p50",
            "ccos_p50",
            "pct_reps_ge_quota",
        ]
        assert len(grid) == 5 * 9
        at_plan = grid[np.isclose(grid["company_attainment_x"], 1.0)]
        for oa, pct in zip(at_plan["lever_value"], at_plan["pct_reps_ge_quota"], strict=True):
            assert pct == pytest.approx(100 * p_at_quota(oa, 0.25), abs=1.5)
        assert (np.diff(at_plan["incentive_to_ti_budget_p50"]) < 0).all()

    def test_sensitivity_grid_accelerator_and_sigma(self) -> None:
        inputs = StressInputs.from_frame(_reps(n=50), PLAN)
        config = StressConfig(n_sims=500)
        grid = sensitivity_grid(inputs, PLAN, "accelerator_slope", [1.0, 3.0], config, seed=1)
        at_plan = grid[np.isclose(grid["company_attainment_x"], 1.0)]
        low, high = at_plan["incentive_to_ti_budget_p50"].tolist()
        assert high > low + 0.1
        sigma = sensitivity_grid(inputs, PLAN, "sigma_idio", [0.1, 0.3], config, seed=1)
        at_plan = sigma[np.isclose(sigma["company_attainment_x"], 1.0)]
        narrow, wide = at_plan["incentive_to_ti_budget_p50"].tolist()
        assert wide > narrow


class TestSyntheticHelpers:
    def test_sigma_from_deals(self) -> None:
        assert sigma_from_deals(12, 1.0) == pytest.approx(0.39, abs=0.005)
        cv = np.sqrt(np.expm1(sigma_from_deals(np.array([25.0, 50.0]), 1.0) ** 2))
        np.testing.assert_allclose(cv, [0.28, 0.20], atol=0.005)

    def test_fenton_wilkinson(self) -> None:
        sigma = fenton_wilkinson_sigma(
            np.array([1.0, 1.0, 1.0, 1.0, 5.0]), 0.5, np.array([0, 0, 0, 0, 1]), 3
        )
        expected = math.sqrt(math.log1p(math.expm1(0.25) / 4))
        np.testing.assert_allclose(sigma, [expected, 0.5, 0.0])

    def test_leverage_slope_formula(self) -> None:
        assert accelerator_slope_for_leverage(1.25, 2.0) == pytest.approx(4.0)
        assert accelerator_slope_for_leverage(1.5, 3.0) == pytest.approx(4.0)


class TestErrorsStress:
    def test_missing_columns(self) -> None:
        with pytest.raises(DataValidationError, match=r"column 'quota': required column"):
            StressInputs.from_frame(_reps().drop(columns="quota"), PLAN)

    def test_no_sales_basis(self) -> None:
        with pytest.raises(DataValidationError, match="neither expected_sales nor potential"):
            StressInputs.from_frame(_reps().drop(columns="expected_sales"), PLAN)

    def test_potential_needs_forecast(self) -> None:
        frame = _reps().drop(columns="expected_sales").assign(potential=1.0e6)
        with pytest.raises(DataValidationError, match="pass forecast="):
            StressInputs.from_frame(frame, PLAN)

    def test_unknown_role_value(self) -> None:
        frame = _reps(n=3).assign(role=["hunter", "sdr", "hunter"])
        with pytest.raises(
            DataValidationError, match=r"\['sdr'\] have no plan in 'test' \(reps \['R001'\]\)"
        ):
            StressInputs.from_frame(frame, PLAN)

    def test_quota_must_be_positive(self) -> None:
        frame = _reps(n=3).assign(quota=[1.0e6, 0.0, 1.0e6])
        with pytest.raises(DataValidationError, match=r"not positive for reps \['R001'\]"):
            StressInputs.from_frame(frame, PLAN)

    def test_every_broken_setting_is_named_once_in_field_order(self) -> None:
        with pytest.raises(ScenarioError) as caught:
            StressConfig(n_sims=0, sigma_idio=-0.1, max_cells=0, histogram_log_width=0.0)
        assert str(caught.value) == (
            "invalid stress configuration: sigma_idio = -0.1 must be >= 0; n_sims = 0 must be "
            ">= 1; max_cells and histogram_log_width must be positive"
        )

    def test_bad_config(self) -> None:
        with pytest.raises(ScenarioError, match=r"sigma_idio = -0\.1 must be >= 0"):
            StressConfig(sigma_idio=-0.1)
        with pytest.raises(ScenarioError, match=r"coverage_factor"):
            StressConfig(coverage_factor=1.5)

    def test_unknown_lever_lists_options(self) -> None:
        inputs = StressInputs.from_frame(_reps(n=5), PLAN)
        with pytest.raises(ScenarioError, match=r"possible options are: \['accelerator_slope'"):
            sensitivity_grid(inputs, PLAN, "threshold", config=StressConfig(n_sims=10))

    def test_accelerator_lever_needs_tier_at_quota(self) -> None:
        flat = HUNTER.model_copy(update={"curve": PayoutCurve(tiers=(Tier(start=0.0, slope=1.0),))})
        plan = CompPlan.of(flat)
        inputs = StressInputs.from_frame(_reps(n=5), plan)
        with pytest.raises(ScenarioError, match="no payout tier starts at attainment 1"):
            sensitivity_grid(inputs, plan, "accelerator_slope", [2.0], StressConfig(n_sims=10))

    def test_scenario_not_simulated(self, reference_runs: dict[float, StressResult]) -> None:
        with pytest.raises(ScenarioError, match=r"company attainment 0\.83 was not simulated"):
            reference_runs[0.0].row(0.83)

    def test_leverage_unreachable(self) -> None:
        with pytest.raises(ScenarioError, match="not above quota"):
            accelerator_slope_for_leverage(0.98, 2.0)

    def test_role_missing_from_plan(self) -> None:
        inputs = StressInputs.from_frame(_reps(n=3), PLAN)
        with pytest.raises(ScenarioError, match=r"roles \['hunter'\] are not in comp plan"):
            run_stress(inputs, CompPlan.of(ACCOUNT_MANAGER), StressConfig(n_sims=10))
