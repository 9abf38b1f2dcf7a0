"""Tests for territory.domain.checks: the 20 thought-starter checks, thresholds and exit codes.

Most tests share the hand-built plan of four reps in :mod:`tests.territory.four_reps`; its
docstring works out the numbers the assertions below rely on.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from territory.domain.checks import (
    CHECK_COLUMNS,
    CHECK_IDS,
    CHECKS,
    DEFAULT_PARAMS,
    CheckEvidence,
    CheckResult,
    CheckThresholds,
    Status,
    evidence_from_folder,
    exit_code,
    inputs,
    run_checks,
    status_counts,
    thresholds_from_mapping,
    to_frame,
    to_records,
)
from territory.domain.comp import (
    ACCOUNT_MANAGER,
    HUNTER,
    CompPlan,
    Measure,
    PayMix,
    PayoutCurve,
    RolePlan,
    Threshold,
    Tier,
)
from territory.errors import ScenarioError
from territory.io.config_files import load_thresholds
from tests.territory import four_reps as fr
from tests.territory.four_reps import BALANCED, COMP, GOOD_STRESS, REPS, SOLVE, UNBALANCED

ROOT = Path(__file__).resolve().parents[2]


TH = CheckThresholds()


def _run(check_id: str, ev: CheckEvidence, th: CheckThresholds = TH) -> CheckResult:
    return CHECKS[check_id](ev, th)


def _result(check_id: str, status: Status) -> CheckResult:
    """A row of ``check_id`` as the checks write it (no evidence), with the status a test needs."""
    return replace(_run(check_id, CheckEvidence()), status=status)


# --------------------------------------------------------------------------------------------
# Territory checks
# --------------------------------------------------------------------------------------------


class TestSyntheticTerritoryChecks:
    def test_t1_balanced_plan_passes_on_plan_but_lists_activity_data(self) -> None:
        r = _run("T1", fr.evidence())
        # All 4,400 potential sits with active reps; utilisation 0.9 <= 1.15.
        assert r.status == Status.PASS
        assert r.value == pytest.approx(1.0)
        assert any("activity" in n for n in r.needs)

    def test_t1_vacant_rep_uncovers_potential(self) -> None:
        reps = fr.reps().assign(vacant=[False, False, False, True])
        r = _run("T1", fr.evidence(reps=reps))
        # R4's 1,400 of 4,400 is on a vacant rep: covered = 3,000 / 4,400 = 0.6818 < 0.95.
        assert r.status == Status.FAIL
        assert r.value == pytest.approx(3000 / 4400)
        assert r.excluded_n == 1

    def test_t1_overloaded_rep_fails(self) -> None:
        accounts = fr.accounts()
        accounts.loc[[0, 1], "workload"] = 480.0  # R1: 960 h / 800 h = 1.2 > 1.15
        r = _run("T1", fr.evidence(accounts=accounts))
        assert r.status == Status.FAIL
        assert any("1.2" in e and "R1" in e for e in r.evidence)

    def test_t2_needs_a_response_model(self) -> None:
        r = _run("T2", fr.evidence())
        assert r.status == Status.NOT_ASSESSABLE
        assert r.value is None
        assert any("response" in n for n in r.needs)

    @pytest.mark.parametrize(
        ("uplift", "expected"),
        # A1 (revenue 200 of 2,200) moves: loss = 0.15 x 200 / 2,200 = 0.01364.
        [(0.05, Status.PASS), (0.02, Status.WARN), (0.0, Status.FAIL)],
    )
    def test_t2_net_uplift(self, uplift: float, expected: Status) -> None:
        accounts = fr.accounts()
        accounts.loc[0, "current_rep"] = "R2"
        r = _run("T2", fr.evidence(accounts=accounts, realignment_uplift=uplift))
        assert r.status == expected
        assert r.value == pytest.approx(uplift - 0.15 * 200 / 2200)

    def test_t3_passes_with_rules_record_and_no_overrides(self) -> None:
        r = _run("T3", fr.evidence())
        assert r.status == Status.PASS
        assert r.value == 0.0

    def test_t3_overrides_between_limits_warn(self) -> None:
        accounts = fr.accounts().assign(locked_rep=["R1"] + [""] * 7)
        accounts["lock_reason"] = ["key account"] + [""] * 7
        r = _run("T3", fr.evidence(accounts=accounts))
        # 1 of 8 accounts = 0.125 (potential 400 / 4,400 = 0.091): 0.10 < 0.125 <= 0.20.
        assert r.status == Status.WARN
        assert r.value == pytest.approx(0.125)

    def test_t3_many_overrides_fail(self) -> None:
        accounts = fr.accounts().assign(locked_rep=["R1", "R1", "R2"] + [""] * 5)
        r = _run("T3", fr.evidence(accounts=accounts))
        assert r.status == Status.FAIL  # 3 / 8 = 0.375 > 0.20
        assert r.value == pytest.approx(0.375)

    def test_t3_locks_without_reason_codes_warn(self) -> None:
        accounts = fr.accounts().assign(locked_rep=[""] * 7 + ["R4"])
        # One lock is 1 / 8 = 0.125 of accounts; a pass limit of 0.5 leaves only the missing
        # reason code to judge.
        th = thresholds_from_mapping({"checks": {"T3": {"overrides_pass_max": 0.5}}})
        r = _run("T3", fr.evidence(accounts=accounts), th)
        assert r.status == Status.WARN
        assert any("lock_reason" in n for n in r.needs)

    def test_t3_rerun_that_differs_fails(self) -> None:
        rerun = pd.Series(["R2"] + BALANCED[1:])
        r = _run("T3", fr.evidence(rerun_plan=rerun))
        assert r.status == Status.FAIL
        assert any("differs on 1 account" in e for e in r.evidence)

    def test_t3_missing_seed_fails_and_time_limit_warns(self) -> None:
        no_seed = {k: v for k, v in SOLVE.items() if k != "seed"}
        no_seed["parameters"] = {k: v for k, v in SOLVE["parameters"].items() if k != "seed"}
        assert _run("T3", fr.evidence(solve=no_seed)).status == Status.FAIL
        at_limit = {**SOLVE, "seconds": 60.0}
        assert _run("T3", fr.evidence(solve=at_limit)).status == Status.WARN

    def test_t4_workload_coverage(self) -> None:
        assert _run("T4", fr.evidence()).status == Status.PASS
        accounts = fr.accounts()
        accounts.loc[7, "workload"] = 0.0
        r = _run("T4", fr.evidence(accounts=accounts))
        # 7 of 8 accounts = 0.875 < 0.98.
        assert r.status == Status.FAIL
        assert r.value == pytest.approx(0.875)

    @pytest.mark.parametrize(
        ("r1_hours", "expected", "share"),
        # R1 capacity 800: 720 h -> 0.90 (in band), 640 h -> 0.80 (warn band), 400 h -> 0.50.
        [(720.0, Status.PASS, 1.0), (640.0, Status.WARN, 0.75), (400.0, Status.FAIL, 0.75)],
    )
    def test_t5_utilisation_band(self, r1_hours: float, expected: Status, share: float) -> None:
        accounts = fr.accounts()
        accounts.loc[[0, 1], "workload"] = r1_hours / 2
        r = _run("T5", fr.evidence(accounts=accounts))
        assert r.status == expected
        assert r.value == pytest.approx(share)

    def test_t6_passes_with_plausible_potential_used_in_balance(self) -> None:
        r = _run("T6", fr.evidence())
        assert r.status == Status.PASS
        assert r.value == pytest.approx(1.0)

    def test_t6_potential_below_sales_fails(self) -> None:
        accounts = fr.accounts()
        accounts.loc[0, "revenue_last_year"] = 500.0  # above A1's potential of 400
        r = _run("T6", fr.evidence(accounts=accounts))
        # Plausible for 7 of 8 = 0.875 < 0.95.
        assert r.status == Status.FAIL
        assert any("87.5%" in e and "A1" in e for e in r.evidence)

    def test_t7_small_moves_still_need_transition_records(self) -> None:
        accounts = fr.accounts()
        accounts["revenue_last_year"] = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 800.0]
        accounts.loc[0, "current_rep"] = "R2"
        r = _run("T7", fr.evidence(accounts=accounts))
        # A1 moves: 10 / 1,080 = 0.0093 <= 0.10; top 2 accounts (A8, A7) stay. Measured parts
        # pass, but no transition records exist, so the statement cannot pass.
        assert r.status == Status.NOT_ASSESSABLE
        assert r.value is None  # nothing decided: no number is shown as if it were
        assert any("PASS: 1 account(s) change rep, carrying 0.9%" in e for e in r.evidence)
        assert any("transition plan" in n for n in r.needs)

    def test_t7_moving_the_largest_account_fails(self) -> None:
        accounts = fr.accounts()
        accounts["revenue_last_year"] = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 800.0]
        accounts.loc[7, "current_rep"] = "R1"
        r = _run("T7", fr.evidence(accounts=accounts))
        assert r.status == Status.FAIL  # 800 / 1,080 = 0.741 > 0.10
        assert r.value == pytest.approx(800 / 1080)

    def test_t8_bad_locations_fail_and_good_data_is_partial(self) -> None:
        good = _run("T8", fr.evidence())
        assert good.status == Status.NOT_ASSESSABLE
        assert good.value is None
        assert any("data dates file" in n for n in good.needs)
        accounts = fr.accounts()
        accounts.loc[3, "lat"] = np.nan
        r = _run("T8", fr.evidence(accounts=accounts))
        assert r.status == Status.FAIL  # 7 / 8 = 0.875 < 0.98
        assert r.value == pytest.approx(0.875)

    def test_t9_balanced_plan_passes(self) -> None:
        r = _run("T9", fr.evidence())
        # Deviation 0 on both; Spearman(quota, potential) = 1; expected attainment all 0.95.
        assert r.status == Status.PASS
        assert r.value == pytest.approx(0.0, abs=1e-9)

    def test_t9_unbalanced_plan_fails(self) -> None:
        r = _run("T9", fr.evidence(plan=pd.Series(UNBALANCED)))
        # R1: 2,200 / 800 - 1 = 1.75.
        assert r.status == Status.FAIL
        assert r.value == pytest.approx(1.75)
        assert any("R1" in e and "R4" in e for e in r.evidence)

    def test_t9_deviation_in_warn_band_warns(self) -> None:
        territories = pd.DataFrame(
            {
                "rep_id": REPS,
                "potential": [800.0, 1000.0, 1200.0, 1400.0],
                "potential_dev": [0.20, -0.05, 0.0, -0.10],
                "workload_dev": [0.0, 0.0, 0.0, 0.0],
            }
        )
        ev = fr.evidence(accounts=None, plan=None, territories=territories)
        r = _run("T9", ev)
        assert r.status == Status.WARN  # 0.15 < 0.20 <= 0.25
        assert r.value == pytest.approx(0.20)

    def test_t9_strict_mode_tightens_the_limit(self) -> None:
        territories = pd.DataFrame(
            {
                "rep_id": REPS,
                "potential": [800.0, 1000.0, 1200.0, 1400.0],
                "potential_dev": [0.12, 0.0, 0.0, 0.0],
                "workload_dev": [0.0, 0.0, 0.0, 0.0],
            }
        )
        ev = fr.evidence(accounts=None, plan=None, territories=territories)
        assert _run("T9", ev).status == Status.PASS  # 0.12 <= 0.15
        strict = thresholds_from_mapping({"checks": {"T9": {"strict": True}}})
        assert _run("T9", ev, strict).status == Status.WARN  # 0.10 < 0.12 <= 0.25

    def test_t9_quotas_against_potential_and_unequal_difficulty_fail(self) -> None:
        reversed_quotas = fr.quotas([700.0, 600.0, 500.0, 400.0])  # Spearman = -1
        assert _run("T9", fr.evidence(quotas=reversed_quotas)).status == Status.FAIL
        impact = pd.DataFrame({"rep_id": REPS, "expected_attainment": [1.0, 1.0, 1.0, 0.8]})
        r = _run("T9", fr.evidence(rep_impact=impact))
        # Median 1.0; R4 is 0.2 away > 0.10.
        assert r.status == Status.FAIL
        assert any(e.startswith("FAIL") and "R4" in e for e in r.evidence)

    def test_t9_without_quotas_or_stress_is_not_assessable(self) -> None:
        r = _run("T9", fr.evidence(quotas=None, rep_impact=None))
        assert r.status == Status.NOT_ASSESSABLE
        assert any("quota" in n for n in r.needs)
        assert any("stress" in n for n in r.needs)

    @pytest.mark.parametrize(
        ("changes", "status", "value", "excluded_n"),
        [
            # Ratings 0.2..0.8 rise with potential 800..1,400: Spearman = 1.
            ({}, Status.PASS, 1.0, 0),
            # R1 is ramping (6 < 12 months); R2..R4: ratings fall as potential rises -> -1.
            (
                {"rating": [0.8, 0.6, 0.4, 0.2], "tenure_months": [6, 36, 36, 36]},
                Status.FAIL,
                -1.0,
                1,
            ),
        ],
    )
    def test_t10_rank_correlation_of_ratings_with_potential(
        self, changes: dict[str, list[float]], status: Status, value: float, excluded_n: int
    ) -> None:
        r = _run("T10", fr.evidence(reps=fr.reps().assign(**changes)))
        assert (r.status, r.value, r.excluded_n) == (status, pytest.approx(value), excluded_n)

    def test_t10_equal_territories_not_applicable(self) -> None:
        reps = fr.reps().assign(capacity=[1000.0] * 4)
        accounts = fr.accounts()
        accounts["potential"] = 500.0
        accounts["workload"] = 450.0
        r = _run("T10", fr.evidence(reps=reps, accounts=accounts))
        assert r.status == Status.NOT_APPLICABLE  # every territory holds 1,000: CV = 0

    def test_t10_mostly_unrated_reps_not_assessable(self) -> None:
        reps = fr.reps().assign(rating=[0.5, np.nan, np.nan, np.nan])
        r = _run("T10", fr.evidence(reps=reps))
        assert r.status == Status.NOT_ASSESSABLE  # 3 of 4 unrated > 50%


# --------------------------------------------------------------------------------------------
# Compensation checks
# --------------------------------------------------------------------------------------------


def _traced(role: RolePlan, objective: str | None) -> RolePlan:
    measures = tuple(m.model_copy(update={"objective_id": objective}) for m in role.measures)
    return role.model_copy(update={"measures": measures})


class TestSyntheticCompChecks:
    def test_c1_traced_measures_need_the_objectives_register(self) -> None:
        comp = CompPlan.of(_traced(HUNTER, "new-logos"), _traced(ACCOUNT_MANAGER, "retain"))
        r = _run("C1", fr.evidence(comp=comp))
        assert r.status == Status.NOT_ASSESSABLE
        assert r.value is None
        objectives = {"new-logos": ["hunter"], "retain": ["account_manager"]}
        assert _run("C1", fr.evidence(comp=comp, objectives=objectives)).status == Status.PASS
        missing = {"new-logos": ["hunter", "account_manager"]}
        assert _run("C1", fr.evidence(comp=comp, objectives=missing)).status == Status.FAIL

    def test_c1_untraced_measure_fails(self) -> None:
        comp = CompPlan.of(_traced(HUNTER, "new-logos"), ACCOUNT_MANAGER)
        r = _run("C1", fr.evidence(comp=comp))
        assert r.status == Status.FAIL
        assert r.value == pytest.approx(0.5)  # 1 of 2 measures

    def test_c2_without_market_data_reports_quota_to_ote(self) -> None:
        quotas = fr.quotas([1_000_000.0] * 4)
        r = _run("C2", fr.evidence(quotas=quotas))
        # Hunter OTE 200,000: quota / OTE = 5.0x.
        assert r.status == Status.NOT_ASSESSABLE
        assert any("5.0x" in e for e in r.evidence)
        assert any("market" in n for n in r.needs)
        # Without a market pay file: not with the whole run, nor a quota far off the band.
        for ev in (fr.evidence(), fr.evidence(quotas=fr.quotas([1.0] * 4))):
            again = _run("C2", ev)
            assert (again.status, again.value) == (Status.NOT_ASSESSABLE, None)
            assert again.needs == (inputs.MARKET_PAY.needs,)
        assert "comp plan" in _run("C2", CheckEvidence()).needs[0]

    def test_c3_preset_mixes_are_in_band(self) -> None:
        r = _run("C3", fr.evidence())
        assert r.status == Status.PASS  # hunter 50% in 40-60, account manager 30% in 20-40
        assert r.value == pytest.approx(1.0)

    def test_c3_out_of_band_and_unknown_role(self) -> None:
        heavy = HUNTER.model_copy(update={"pay_mix": PayMix(base=0.3, variable=0.7)})
        assert _run("C3", fr.evidence(comp=CompPlan.of(heavy))).status == Status.FAIL
        overlay = HUNTER.model_copy(update={"name": "overlay", "rep_roles": ("overlay",)})
        r = _run("C3", fr.evidence(comp=CompPlan.of(overlay)))
        assert r.status == Status.NOT_ASSESSABLE
        assert any("overlay" in n for n in r.needs)

    def test_c3_ordering_rule(self) -> None:
        th = thresholds_from_mapping({"checks": {"C3": {"bands": {"account_manager": [0.2, 0.6]}}}})
        hunter = HUNTER.model_copy(update={"pay_mix": PayMix(base=0.55, variable=0.45)})
        am = ACCOUNT_MANAGER.model_copy(update={"pay_mix": PayMix(base=0.5, variable=0.5)})
        r = _run("C3", fr.evidence(comp=CompPlan.of(hunter, am)), th)
        # Both inside their bands, but hunters (45%) get less variable pay than AMs (50%).
        assert r.status == Status.FAIL
        # The row shows the ordering that failed, not the (passing) share of roles in band.
        assert r.value == pytest.approx(-0.05)
        assert r.metric == "hunter variable share minus account_manager variable share"
        assert (r.threshold, r.comparator) == (0.0, ">=")

    @pytest.mark.parametrize(
        ("a90", "expected"),
        # Hunter: f(A) = A to quota, then 1 + 2(A - 1): f(1.5) = 2.0, f(1.3) = 1.6, f(1.2) = 1.4.
        [(1.5, Status.PASS), (1.3, Status.WARN), (1.2, Status.FAIL)],
    )
    def test_c4_payout_at_the_90th_percentile(self, a90: float, expected: Status) -> None:
        role = {**GOOD_STRESS["roles"][0], "attainment_p90": a90}
        role["payout_at_p90"] = 1.0 + 2.0 * (a90 - 1.0)
        r = _run(
            "C4", fr.evidence(comp=CompPlan.of(HUNTER), stress={**GOOD_STRESS, "roles": [role]})
        )
        assert r.status == expected
        assert r.value == pytest.approx(role["payout_at_p90"])

    def test_c4_step_payout_breaks_rank_correlation(self) -> None:
        # Pays 0 below 90%, 0.5 at 90%, 1.0 from quota on: on the lognormal fitted to A10 0.55
        # and A90 1.5 about 88% of reps sit on the two flat parts, Spearman ~ 0.89 < 0.95.
        cliff = HUNTER.model_copy(
            update={
                "curve": PayoutCurve(
                    threshold=Threshold(at=0.9, payout_at_threshold=0.5),
                    tiers=(Tier(start=0.9, end=1.0, slope=5.0), Tier(start=1.0, slope=0.0)),
                )
            }
        )
        r = _run("C4", fr.evidence(comp=CompPlan.of(cliff)))
        assert r.status == Status.FAIL
        assert any("Spearman" in e and e.startswith("FAIL") for e in r.evidence)

    def test_c5_measure_count_and_weights(self) -> None:
        assert _run("C5", fr.evidence()).value == pytest.approx(1.0)

        def two(w: float) -> CompPlan:
            role = RolePlan(
                name="hunter",
                ote=100_000.0,
                pay_mix=PayMix(base=0.5, variable=0.5),
                measures=(Measure(name="a", weight=1 - w), Measure(name="b", weight=w)),
                curve=HUNTER.curve,
            )
            return CompPlan.of(role)

        light = _run("C5", fr.evidence(comp=two(0.15)))
        assert (light.status, light.value) == (Status.FAIL, pytest.approx(0.15))
        assert _run("C5", fr.evidence(comp=two(0.2))).status == Status.PASS  # 20% exactly passes
        strict = thresholds_from_mapping({"checks": {"C5": {"strict_greater": True}}})
        assert _run("C5", fr.evidence(comp=two(0.2)), strict).status == Status.FAIL
        # Three measures of 30% or more: inside the default count (3); a limit of two binds on
        # the count alone, since every weight still passes.
        three = RolePlan(
            name="hunter",
            ote=100_000.0,
            pay_mix=PayMix(base=0.5, variable=0.5),
            measures=tuple(
                Measure(name=n, weight=w) for n, w in (("a", 0.4), ("b", 0.3), ("c", 0.3))
            ),
            curve=HUNTER.curve,
        )
        assert _run("C5", fr.evidence(comp=CompPlan.of(three))).status == Status.PASS
        two_at_most = thresholds_from_mapping({"checks": {"C5": {"max_measures": 2}}})
        many = _run("C5", fr.evidence(comp=CompPlan.of(three)), two_at_most)
        assert (many.status, many.value, many.threshold) == (Status.FAIL, 3.0, 2)
        assert many.metric == "hunter: number of measures"
        assert any(e.startswith("FAIL: hunter: 3 measure(s)") for e in many.evidence)

    def test_c6_earnings_spread(self) -> None:
        assert _run("C6", fr.evidence()).status == Status.PASS  # 0.10 and 0.10 <= 0.15
        r = _run("C6", fr.evidence(stress={**GOOD_STRESS, "payout_spread": 0.3}))
        assert (r.status, r.value) == (Status.FAIL, pytest.approx(0.3))

    @pytest.mark.parametrize(
        ("share", "expected"),
        [(0.55, Status.PASS), (0.30, Status.FAIL), (0.85, Status.WARN)],
    )
    def test_c7_forward_share_at_quota(self, share: float, expected: Status) -> None:
        r = _run("C7", fr.evidence(stress={**GOOD_STRESS, "expected_share_at_quota": share}))
        assert (r.status, r.scope) == (expected, "forward")
        assert r.value == pytest.approx(share)

    def test_c7_history_mode(self) -> None:
        # Last year's sales by current rep: 400, 500, 600, 700 against quotas 350, 550, 500,
        # 800 -> attainment 1.14, 0.91, 1.20, 0.88: 2 of 4 at quota = 0.50; all paid.
        reps = fr.reps().assign(
            prior_year_quota=[350.0, 550.0, 500.0, 800.0], prior_year_payout=[10.0] * 4
        )
        r = _run("C7", fr.evidence(reps=reps))
        assert (r.status, r.scope, r.value) == (Status.PASS, "history", pytest.approx(0.5))
        unpaid = reps.assign(prior_year_payout=[10.0, 0.0, 0.0, 10.0])
        assert _run("C7", fr.evidence(reps=unpaid)).status == Status.FAIL  # 0.5 paid < 0.9
        ramping = reps.assign(tenure_months=[12, 36, 36, 36])
        r = _run("C7", fr.evidence(reps=ramping))
        # R1 (12 < 24 months) is left out: 1 of 3 at quota = 0.33 < 0.5.
        assert (r.status, r.excluded_n, r.value) == (Status.FAIL, 1, pytest.approx(1 / 3))

    @pytest.mark.parametrize(
        ("wmape", "expected"),
        [(0.08, Status.PASS), (0.15, Status.WARN), (0.25, Status.FAIL)],
    )
    def test_c8_backtest(self, wmape: float, expected: Status) -> None:
        backtest = {
            "wmape": wmape,
            "company_error": 0.05,
            "plan_target": 1800.0,
            "naive_wmape": 0.12,
            "share_within_narrow_band": 0.5,
            "share_within_wide_band": 0.75,
        }
        r = _run("C8", fr.evidence(backtest=backtest))
        assert (r.status, r.value) == (expected, pytest.approx(wmape))

    def test_c8_company_error_against_this_years_target_is_not_a_forecast(self) -> None:
        backtest = {"wmape": 0.05, "company_error": 0.02, "plan_target": 2000.0}
        r = _run("C8", fr.evidence(backtest=backtest))
        assert r.status == Status.NOT_ASSESSABLE
        assert any("last year's plan" in n for n in r.needs)

    def test_c8_without_two_years_of_history(self) -> None:
        r = _run("C8", fr.evidence())
        assert r.status == Status.NOT_ASSESSABLE
        assert any("revenue_prior_year" in n for n in r.needs)

    def test_c9_needs_a_survey(self) -> None:
        r = _run("C9", fr.evidence())
        assert r.status == Status.NOT_ASSESSABLE
        assert any("survey" in n for n in r.needs)
        assert any("hunter: 1 measure(s), 3 tier(s)" in e for e in r.evidence)

    def test_c10_unknown_role_fails_and_timeliness_needs_dates(self) -> None:
        r = _run("C10", fr.evidence())
        assert r.status == Status.NOT_ASSESSABLE
        assert r.value is None
        assert any("payout run dates" in n for n in r.needs)
        reps = fr.reps().assign(role=["hunter", "hunter", "account_manager", "overlay"])
        r = _run("C10", fr.evidence(reps=reps))
        assert (r.status, r.value) == (Status.FAIL, pytest.approx(0.75))


# --------------------------------------------------------------------------------------------
# The whole report
# --------------------------------------------------------------------------------------------

OPTIONAL = [f.name for f in fields(CheckEvidence)]
FULL = fr.evidence()


class TestSyntheticReport:
    def test_every_check_runs_in_order(self) -> None:
        results = run_checks(fr.evidence())
        assert [r.check_id for r in results] == list(CHECK_IDS)
        assert {r.framework_list for r in results[:10]} == {"territory"}
        assert {r.framework_list for r in results[10:]} == {"comp"}

    def test_no_evidence_means_nothing_passes(self) -> None:
        results = run_checks(CheckEvidence())
        assert {r.status for r in results} == {Status.NOT_ASSESSABLE}
        assert all(r.needs for r in results)

    def test_plan_without_history_leaves_history_statements_not_assessable(self) -> None:
        ev = fr.evidence(accounts=fr.accounts(history=False), stress=None, backtest=None)
        by_id = {r.check_id: r for r in run_checks(ev)}
        for check_id in ("T6", "T7", "C7", "C8"):
            assert by_id[check_id].status == Status.NOT_ASSESSABLE, check_id
            assert by_id[check_id].needs, check_id
        assert any("revenue_last_year" in n for n in by_id["T7"].needs)
        assert by_id["T9"].status == Status.PASS  # the plan itself is still measured

    def test_missing_stress_and_quotas_are_named(self) -> None:
        by_id = {r.check_id: r for r in run_checks(fr.evidence(stress=None, quotas=None))}
        for check_id in ("C4", "C6", "C7"):
            assert by_id[check_id].status == Status.NOT_ASSESSABLE, check_id
            assert any("stress" in n for n in by_id[check_id].needs), check_id
        assert any("quotas" in n for n in by_id["T9"].needs)

    @given(st.sets(st.sampled_from(OPTIONAL)))
    @settings(max_examples=40, deadline=None)
    def test_pass_is_only_given_for_measured_statements(self, dropped: set[str]) -> None:
        ev = replace(FULL, **dict.fromkeys(dropped))
        for r in run_checks(ev):
            assert r.status in set(Status)
            assert "could not read its inputs" not in r.notes, (r.check_id, r.notes)
            if r.status == Status.PASS:
                assert r.value is not None and math.isfinite(r.value), r.check_id
            if r.status == Status.NOT_ASSESSABLE:
                assert r.needs, r.check_id

    def test_frame_and_records_follow_the_checks_csv_layout(self) -> None:
        results = run_checks(fr.evidence())
        frame = to_frame(results, run_id="run-1")
        assert list(frame.columns) == list(CHECK_COLUMNS)
        assert len(frame) == 20 and (frame["run_id"] == "run-1").all()
        records = to_records(results)
        text = json.dumps(records, allow_nan=False)
        assert json.loads(text)[0]["check_id"] == "T1"
        assert isinstance(records[0]["evidence"], list)
        # The CSV joins list fields with " | " and writes thresholds as text; a missing value
        # is NaN in the frame and null in the JSON, never a number.
        for record, row in zip(records, frame.itertuples(index=False), strict=True):
            assert row.evidence == " | ".join(record["evidence"])
            assert row.needs == " | ".join(record["needs"])
            assert row.threshold == (
                None if record["threshold"] is None else str(record["threshold"])
            )
        assert frame["value"].isna().tolist() == [r["value"] is None for r in records]
        assert frame["n"].dtype == "Int64"
        c2 = next(r for r in records if r["check_id"] == "C2")
        assert (c2["value"], c2["threshold"], c2["comparator"]) == (None, 1.0, ">=")

    def test_status_counts_list_every_status(self) -> None:
        counts = status_counts(run_checks(CheckEvidence()))
        assert counts["NOT_ASSESSABLE"] == 20
        assert set(counts) == {str(s) for s in Status}


class TestSyntheticExitCode:
    def test_any_fail_gives_one(self) -> None:
        results = [_result("T7", Status.FAIL), _result("C5", Status.PASS)]
        assert exit_code(results, TH) == 1

    def test_no_fail_gives_zero(self) -> None:
        results = [_result("T7", Status.WARN), _result("C9", Status.NOT_ASSESSABLE)]
        assert exit_code(results, TH) == 0

    def test_report_only_mode(self) -> None:
        assert exit_code([_result("C5", Status.FAIL)], TH, no_fail=True) == 0

    def test_blocking_only_mode(self) -> None:
        assert exit_code([_result("T7", Status.FAIL)], TH, blocking_only=True) == 0
        assert exit_code([_result("C5", Status.FAIL)], TH, blocking_only=True) == 1
        th = thresholds_from_mapping({"checks": {"blocking": ["T7"]}})
        assert exit_code([_result("T7", Status.FAIL)], th, blocking_only=True) == 1


# --------------------------------------------------------------------------------------------
# Thresholds
# --------------------------------------------------------------------------------------------


class TestSyntheticThresholds:
    def test_shipped_file_matches_the_defaults(self) -> None:
        shipped = load_thresholds(ROOT / "data" / "checks.toml")
        assert shipped.blocking == ("C5", "T3")
        for check_id, params in DEFAULT_PARAMS.items():
            for param, value in params.items():
                assert shipped.value(check_id, param) == value, f"checks.{check_id}.{param}"

    def test_toml_overrides_defaults(self, tmp_path: Path) -> None:
        path = tmp_path / "checks.toml"
        path.write_text("[checks.T1]\nutilisation_max = 0.5\n", encoding="utf-8")
        th = load_thresholds(path)
        assert th.number("T1", "utilisation_max") == 0.5
        assert th.number("T1", "potential_covered_min") == 0.95  # untouched keys keep defaults
        # Utilisation 0.9 now breaks the 0.5 limit.
        assert _run("T1", fr.evidence(), th).status == Status.FAIL
        assert _run("T1", fr.evidence()).status == Status.PASS

    def test_band_override_adds_a_role(self) -> None:
        th = thresholds_from_mapping({"checks": {"c3": {"bands": {"Overlay": [0.4, 0.6]}}}})
        overlay = HUNTER.model_copy(update={"name": "overlay", "rep_roles": ("overlay",)})
        assert _run("C3", fr.evidence(comp=CompPlan.of(overlay)), th).status == Status.PASS
        assert th.value("C3", "bands")["hunter"] == [0.40, 0.60]  # defaults kept

    def test_integer_accepted_for_a_number(self) -> None:
        th = thresholds_from_mapping({"checks": {"T5": {"band_high": 2}}})
        assert th.number("T5", "band_high") == 2.0


class TestErrorsThresholds:
    def test_unknown_parameter_names_file_and_key(self, tmp_path: Path) -> None:
        path = tmp_path / "mine.toml"
        path.write_text("[checks.T1]\npotential_coverd_min = 0.9\n", encoding="utf-8")
        with pytest.raises(ScenarioError, match=r"mine\.toml.*checks\.T1\.potential_coverd_min"):
            load_thresholds(path)

    def test_unknown_check_and_top_level_key(self) -> None:
        with pytest.raises(ScenarioError, match=r"checks\.T11"):
            thresholds_from_mapping({"checks": {"T11": {}}})
        with pytest.raises(ScenarioError, match="unknown top-level"):
            thresholds_from_mapping({"check": {}})
        with pytest.raises(ScenarioError, match=r"checks\.blocking.*X9"):
            thresholds_from_mapping({"checks": {"blocking": ["X9"]}})

    @pytest.mark.parametrize(
        ("check_id", "param", "value", "message"),
        [
            ("T1", "utilisation_max", "high", "must be a number, got 'high' (str)"),
            ("T1", "utilisation_max", True, "must be a number, got True (bool)"),
            ("T1", "utilisation_max", math.inf, "must be a finite number, got inf (float)"),
            ("C5", "max_measures", 2.5, "must be a whole number, got 2.5 (float)"),
            ("T9", "strict", 1, "must be true or false, got 1 (int)"),
            (
                "C3",
                "bands",
                {"hunter": [0.6, 0.4]},
                ".hunter' must be [low, high] with 0 <= low <= high <= 1, got [0.6, 0.4]",
            ),
            (
                "C3",
                "bands",
                [0.4, 0.6],
                "must be a table of role = [low, high] variable shares, got [0.4, 0.6] (list)",
            ),
            (
                "C3",
                "ordering",
                ["hunter"],
                'must be a list of ["higher_variable_role", "lower_variable_role"] pairs, '
                "got ['hunter'] (list)",
            ),
        ],
    )
    def test_wrong_type_names_the_key(
        self, check_id: str, param: str, value: object, message: str
    ) -> None:
        with pytest.raises(ScenarioError) as caught:
            thresholds_from_mapping({"checks": {check_id: {param: value}}}, source="x.toml")
        expected = f"x.toml: key 'checks.{check_id}.{param}"
        assert str(caught.value).startswith(expected)
        assert str(caught.value).endswith(message)

    def test_missing_and_malformed_files(self, tmp_path: Path) -> None:
        with pytest.raises(ScenarioError, match="not found"):
            load_thresholds(tmp_path / "nope.toml")
        bad = tmp_path / "bad.toml"
        bad.write_text("[checks\n", encoding="utf-8")
        with pytest.raises(ScenarioError, match="not valid TOML"):
            load_thresholds(bad)


# --------------------------------------------------------------------------------------------
# A real pipeline: synthetic instance -> align -> quotas -> stress -> checks
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> CheckEvidence:
    from territory.domain.quotas import QuotaConfig
    from territory.domain.stress import StressConfig
    from territory.domain.synthetic import make_instance
    from territory.io.runs import QUOTAS, PlanFolder
    from territory.workflow.align import align
    from territory.workflow.finance import set_plan_quotas, stress_plan

    accounts, reps = make_instance(240, 6, seed=11)
    result = align(accounts, reps, solver="heuristic", time_limit_s=20.0, seed=3)
    folder = tmp_path_factory.mktemp("run")
    run = PlanFolder(
        path=folder,
        accounts=accounts,
        reps=reps,
        plan=result.assignments[["account_id", "rep_id"]],
        territories=result.territories,
        solve=result.solve_document(),
    )
    target = float(accounts["revenue_last_year"].sum()) * 1.05
    config = QuotaConfig(company_target=target)
    quota_step = set_plan_quotas(run, config)
    quota_step.plan.table.to_parquet(folder / QUOTAS, index=False)
    stress_step = stress_plan(run, COMP, config=StressConfig(n_sims=400), seed=5, forecast=target)
    return evidence_from_folder(
        run,
        COMP,
        quota_step.summary_document(config),
        {"verdicts": asdict(stress_step.result.verdicts), "seed": 5},
        stress_step.scenarios,
        rep_impact=stress_step.rep_impact,
    )


class TestRealWorldChecks:
    def test_pipeline_evidence_is_complete(self, pipeline: CheckEvidence) -> None:
        assert pipeline.quotas is not None and len(pipeline.quotas) == 6
        assert pipeline.stress is not None and "payout_spread" in pipeline.stress
        assert pipeline.tier_factors == {"A": 1.15, "B": 1.0, "C": 0.85}
        assert pipeline.quota_config is not None and pipeline.backtest is None

    def test_aligned_plan_checks(self, pipeline: CheckEvidence) -> None:
        by_id = {r.check_id: r for r in run_checks(pipeline)}
        assert list(by_id) == list(CHECK_IDS)
        # The aligner holds every rep within 5% of target, below the 15% limit.
        t9 = by_id["T9"]
        balance = next(e for e in t9.evidence if "largest deviation" in e)
        assert balance.startswith("PASS: largest deviation")
        shares = re.findall(r"(?:potential|workload) ([\d.]+)%", balance)
        assert shares and all(float(x) <= 5.0 + 1e-4 for x in shares)
        assert by_id["T1"].status == Status.PASS
        assert by_id["T4"].status == Status.PASS
        assert by_id["C5"].status == Status.PASS
        assert by_id["C8"].status == Status.NOT_ASSESSABLE  # one year of history only
        assert by_id["T7"].status != Status.PASS  # no transition records
        for r in by_id.values():
            assert "could not read its inputs" not in r.notes, r.check_id
            if r.status == Status.PASS:
                assert r.value is not None

    def test_green_field_plan_has_no_history_checks(self, pipeline: CheckEvidence) -> None:
        assert pipeline.accounts is not None
        accounts = pipeline.accounts.drop(columns=["current_rep", "revenue_last_year"])
        by_id = {r.check_id: r for r in run_checks(replace(pipeline, accounts=accounts))}
        assert by_id["T7"].status == Status.NOT_ASSESSABLE
        assert by_id["T6"].status == Status.NOT_ASSESSABLE

    def test_demo_folder_if_present(self) -> None:
        folder = ROOT / "out" / "demo"
        if not (folder / "stress.json").exists() or not (folder / "quota_summary.json").exists():
            pytest.skip("out/demo has not been built (make demo)")
        from territory.io.config_files import load_comp
        from territory.io.runs import load_plan

        run = load_plan(folder)
        ev = evidence_from_folder(
            run,
            load_comp(ROOT / "data" / "demo" / "comp.toml"),
            json.loads((folder / "quota_summary.json").read_text(encoding="utf-8")),
            json.loads((folder / "stress.json").read_text(encoding="utf-8")),
            pd.read_csv(folder / "stress_scenarios.csv"),
            rep_impact=pd.read_csv(folder / "rep_impact.csv"),
        )
        results = run_checks(ev)
        assert len(results) == 20
        assert all("could not read its inputs" not in r.notes for r in results)
        assert all(r.value is not None for r in results if r.status == Status.PASS)
