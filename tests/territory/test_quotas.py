"""Tests for territory.domain.quotas: the allocation kernel, the bases, caps, ramp, vacancy,
seasonality, the quotas table and the backtest.

Most examples share one company number: plan G = 1,000,000, non-quota revenue 100,000 and
over-assignment 10%, so the street total is (1,000,000 - 100,000) x 1.1 = 990,000.00.
Amounts are compared in whole cents, the unit the engine promises to conserve.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from territory.domain.metrics import territory_table
from territory.domain.quota_bases import (
    blended_weights,
    half_at_quota_bound,
    history_baseline,
    peer_weights,
    ramp_months,
    rebase_prior_quota,
    seasonality_shares,
    share_at_quota,
    shrink_profile,
    untapped_weights,
    yearly_bounds,
)
from territory.domain.quotas import (
    METHODS,
    QuotaConfig,
    QuotaMethod,
    RampSchedule,
    Seasonality,
    YearlyCaps,
    allocate,
    backtest,
    plan_quotas,
    quotas_long,
    set_quotas,
    split_periods,
    territory_history,
)
from territory.domain.synthetic import make_instance
from territory.errors import DataValidationError, InfeasibleError, ScenarioError

STREET = 990_000.0
PROPERTY = settings(max_examples=50, deadline=None, derandomize=True)


def cents(values: npt.ArrayLike) -> npt.NDArray[np.int64]:
    return np.rint(np.asarray(values, dtype=np.float64) * 100).astype(np.int64)


def config(method: str = "potential", **kwargs: object) -> QuotaConfig:
    """The shared company number (street total 990,000) with one method.

    No yearly caps unless asked for: with history and no last year's quota they would cap
    against last year's sales (tested in test_quota_measures.py), hiding the basis under test.
    """
    options = {k: v for k, v in kwargs.items() if k in QuotaMethod.__dataclass_fields__}
    rest = {"caps": None} | {k: v for k, v in kwargs.items() if k not in options}
    return QuotaConfig(
        company_target=1_000_000.0,
        non_quota_revenue=100_000.0,
        method=QuotaMethod(name=method, **options),  # type: ignore[arg-type]
        **rest,  # type: ignore[arg-type]
    )


@pytest.fixture
def four() -> pd.DataFrame:
    """Four territories; potential sums to 1,000,000 and history to 700,000.

    ========  ===============  =========  =======  =========
    rep_id    role             potential  history  headroom
    ========  ===============  =========  =======  =========
    A         account_manager  400,000    300,000  100,000
    B         hunter           300,000    150,000  150,000
    C         mixed            200,000    150,000   50,000
    D         hunter           100,000    100,000        0
    ========  ===============  =========  =======  =========
    """
    return pd.DataFrame(
        {
            "rep_id": ["A", "B", "C", "D"],
            "role": ["account_manager", "hunter", "mixed", "hunter"],
            "potential": [400_000.0, 300_000.0, 200_000.0, 100_000.0],
            "history": [300_000.0, 150_000.0, 150_000.0, 100_000.0],
        }
    )


@pytest.fixture
def mixed_bag(four: pd.DataFrame) -> pd.DataFrame:
    """The four territories plus a new one (E, no history), a vacancy (F) and a new hire on B.

    B's rep starts on the first day of the plan year, C has last year's quota on record.
    """
    frame = four.assign(
        territory_id=["T-A", "T-B", "T-C", "T-D"],
        tenure_months=[np.nan, 0.0, np.nan, np.nan],
        prior_quota=[np.nan, np.nan, 160_000.0, np.nan],
        segment=["ent", "ent", "smb", "smb"],
    )
    extra = pd.DataFrame(
        {
            "rep_id": ["E", None],
            "territory_id": ["T-E", "T-F"],
            "role": ["hunter", "mixed"],
            "potential": [200_000.0, 150_000.0],
            "history": [np.nan, 120_000.0],
            "segment": ["smb", "ent"],
        }
    )
    return pd.concat([frame, extra], ignore_index=True)


class TestSyntheticAllocate:
    def test_equal_weights_hand_the_odd_cent_to_the_first(self) -> None:
        # 100 / 3 = 33.333...: every remainder ties, so the first territory gets the cent.
        assert allocate(100.0, [1, 1, 1]).tolist() == [33.34, 33.33, 33.33]

    def test_ceiling_pushes_its_excess_to_the_others(self) -> None:
        # Raw split 100 / 200 / 700; the 700 is held at 500 and the other 500 goes 1:2,
        # 166.666... and 333.333...; the odd cent goes to the larger remainder (.67).
        q = allocate(1000.0, [1, 2, 7], ceilings=[np.inf, np.inf, 500.0])
        assert q.tolist() == [166.67, 333.33, 500.0]

    def test_floor_pulls_from_the_others(self) -> None:
        # Raw 100 / 100 / 800; the first is lifted to 200 and 800 is left for 1:8:
        # 88.888... and 711.111..., the cent going to the .889 remainder.
        q = allocate(1000.0, [1, 1, 8], floors=[200.0, 0.0, 0.0])
        assert q.tolist() == [200.0, 88.89, 711.11]

    def test_floors_and_ceilings_settle_over_several_rounds(self) -> None:
        # Raw 25 / 25 / 50: the first is 5 under its floor of 30, the third 5 over its ceiling
        # of 45. The excess is not smaller than the shortfall, so the ceiling is clamped first;
        # 55 left splits 27.5 / 27.5, the first is then lifted to 30 and the second keeps 25.
        q = allocate(100.0, [1, 1, 2], floors=[30.0, 0, 0], ceilings=[np.inf, np.inf, 45.0])
        assert q.tolist() == [30.0, 25.0, 45.0]

    def test_zero_weight_takes_only_what_the_others_cannot_hold(self) -> None:
        assert allocate(100.0, [1, 0], ceilings=[60.0, np.inf]).tolist() == [60.0, 40.0]
        assert allocate(100.0, [1, 0]).tolist() == [100.0, 0.0]

    def test_bounds_in_fractions_of_a_cent_are_never_crossed(self) -> None:
        # Floors round up and ceilings down to whole cents before the split.
        q = allocate(10.0, [1, 1, 1], floors=[3.331, 0, 0], ceilings=[np.inf, 3.339, np.inf])
        assert q[0] >= 3.34 and q[1] <= 3.33
        assert cents(q).sum() == 1000

    def test_all_zero_weights_split_evenly(self) -> None:
        assert allocate(1.0, [0, 0, 0]).tolist() == [0.34, 0.33, 0.33]

    def test_empty(self) -> None:
        assert allocate(0.0, []).shape == (0,)


class TestSyntheticBases:
    def test_potential_share(self, four: pd.DataFrame) -> None:
        # 990,000 x 0.4 / 0.3 / 0.2 / 0.1.
        q = set_quotas(four, config("potential"))["final_annual_quota"]
        assert q.tolist() == [396_000.0, 297_000.0, 198_000.0, 99_000.0]

    def test_historical_share(self, four: pd.DataFrame) -> None:
        # 990,000 x 3/7, 1.5/7, 1.5/7, 1/7 = 424,285.714..., 212,142.857... (x2), 141,428.571...
        # Cents floor to 98,999,998, two short: the .857 remainders of B and C get them.
        q = set_quotas(four, config("historical"))["final_annual_quota"]
        assert q.tolist() == [424_285.71, 212_142.86, 212_142.86, 141_428.57]

    def test_untapped_headroom(self, four: pd.DataFrame) -> None:
        # Increment 990,000 - 700,000 = 290,000 spread over headroom 100k/150k/50k/0 (300k):
        # A 300,000 + 96,666.67, B 150,000 + 145,000, C 150,000 + 48,333.33, D 100,000.
        q = set_quotas(four, config("untapped"))["final_annual_quota"]
        assert q.tolist() == [396_666.67, 295_000.0, 198_333.33, 100_000.0]

    def test_untapped_by_potential_share(self, four: pd.DataFrame) -> None:
        # The same 290,000 spread by potential share 0.4/0.3/0.2/0.1.
        q = set_quotas(four, config("untapped", increment_basis="potential"))
        assert q["final_annual_quota"].tolist() == [416_000.0, 237_000.0, 208_000.0, 129_000.0]

    def test_untapped_below_last_year_scales_history_down(self) -> None:
        # A total under last year's 700 leaves no increment: history is scaled by 350 / 700.
        w = untapped_weights([300.0, 400.0], [1000.0, 400.0], 350.0)
        assert w.tolist() == [150.0, 200.0]

    def test_blended_single_weight(self, four: pd.DataFrame) -> None:
        # Shares 0.5 x H/700k + 0.5 x P/1M: A 0.2142857 + 0.2 = 0.4142857 -> 410,142.857...;
        # B 0.1071429 + 0.15, C 0.1071429 + 0.1, D 0.0714286 + 0.05; they sum to 1.
        q = set_quotas(four, config("blended", history_weight=0.5))["final_annual_quota"]
        expected = [
            STREET * (0.5 * h / 700_000 + 0.5 * p / 1_000_000)
            for h, p in zip(four["history"], four["potential"], strict=True)
        ]
        assert cents(q).tolist() == [41_014_286, 25_457_143, 20_507_143, 12_021_428]
        assert np.allclose(q, expected, atol=0.01)

    def test_blended_by_role(self, four: pd.DataFrame) -> None:
        # w = 0.7 (account manager), 0.3 (hunter), 0.5 (mixed), 0.3 (hunter). In 70ths:
        # A 0.7 x 3/7 + 0.3 x 0.4 = 29.4/70, B 0.3 x 1.5/7 + 0.7 x 0.3 = 19.2/70,
        # C 14.5/70, D 7.9/70; they sum to 71/70, so Q = 990,000 x share / (71/70):
        # 409,943.662, 267,718.310, 202,183.099, 110,154.930. Floors leave 3 cents, which go
        # to the .986, .958 and .859 remainders (B, D, C).
        table = set_quotas(four, config("blended"))
        assert table["final_annual_quota"].tolist() == [
            409_943.66,
            267_718.31,
            202_183.10,
            110_154.93,
        ]
        assert table["w_history"].tolist() == [0.7, 0.3, 0.5, 0.3]

    def test_even_split(self, four: pd.DataFrame) -> None:
        assert set_quotas(four, config("even"))["final_annual_quota"].tolist() == [247_500.0] * 4

    def test_capacity_with_ramp_and_leave(self) -> None:
        # Full productivity 600,000. A is ramped; B starts on day 1 and sells
        # (0 + .25 + .5 + .75 + 8 x 1) / 12 = 9.5/12 of a year -> 475,000; C is away half the
        # year -> 300,000. Capacity 1,375,000 = street total (1,250,000 x 1.1), so Q = Cap$.
        frame = pd.DataFrame(
            {
                "rep_id": ["A", "B", "C"],
                "role": ["ae", "ae", "ae"],
                "potential": [1.0, 1.0, 1.0],
                "tenure_months": [np.nan, 0.0, np.nan],
                "availability": [1.0, 1.0, 0.5],
            }
        )
        cfg = QuotaConfig(
            company_target=1_250_000.0,
            method=QuotaMethod(name="capacity", full_productivity={"AE": 600_000.0}),
        )
        table = set_quotas(frame, cfg)
        assert table["final_annual_quota"].tolist() == [600_000.0, 475_000.0, 300_000.0]
        assert table["capacity_usd"].tolist() == [600_000.0, 475_000.0, 300_000.0]

    def test_capacity_from_ote(self) -> None:
        # Productivity = 5 x OTE: 5 x 100k and 5 x 150k -> weights 500k : 750k.
        frame = pd.DataFrame(
            {"rep_id": ["A", "B"], "potential": [1.0, 1.0], "ote": [100_000.0, 150_000.0]}
        )
        cfg = QuotaConfig(
            company_target=1_000_000.0,
            over_assignment=0.0,
            method=QuotaMethod(name="capacity", quota_to_ote=5.0),
        )
        table = set_quotas(frame, cfg)
        assert table["final_annual_quota"].tolist() == [400_000.0, 600_000.0]
        assert table["quota_to_ote"].tolist() == [4.0, 4.0]

    def test_multi_year_baseline(self) -> None:
        # 2-1-1 weights, most recent first: (2 x 120 + 100 + 80) / 4 = 105. The second
        # territory only has last year, so its baseline is that year: 50.
        h = np.array([[120.0, 100.0, 80.0], [50.0, np.nan, np.nan]])
        assert history_baseline(h, (2.0, 1.0, 1.0)).tolist() == [105.0, 50.0]
        assert np.isnan(history_baseline(np.array([np.nan]), (1.0,))).all()

    def test_blended_weights_new_territory_is_pure_potential(self) -> None:
        # No history -> w = 0 -> its share is P / sum P = 100 / 400.
        w = blended_weights([100.0, np.nan], [300.0, 100.0], [0.7, 0.7])
        assert w[1] == pytest.approx(0.25)
        assert w[0] == pytest.approx(0.7 * 1.0 + 0.3 * 0.75)


class TestSyntheticNewTerritories:
    def test_historical_new_territory_by_company_ratio(self, four: pd.DataFrame) -> None:
        # E has no history and 200,000 potential. The company's history per potential is
        # 700k / 1M = 0.7, so E weighs 140,000 next to 300k/150k/150k/100k (840k in all):
        # E = 990,000 x 140 / 840 = 165,000.
        frame = pd.concat(
            [four, pd.DataFrame({"rep_id": ["E"], "potential": [200_000.0]})], ignore_index=True
        )
        table = set_quotas(frame, config("historical"))
        assert table["final_annual_quota"].iloc[4] == 165_000.0
        assert table["method"].tolist()[-2:] == ["historical", "potential_peer"]
        assert table["w_history"].iloc[4] == 0.0

    def test_historical_new_territory_by_peers(self, four: pd.DataFrame) -> None:
        # Peers of E (smb, 200k): nobody shares its segment and potential decile, so the
        # decile is dropped; smb peers C (0.75) and D (1.0) give the median ratio 0.875 and
        # E weighs 175,000. Weights 300/150/150/100/175 (875k):
        # 339,428.571, 169,714.286 (x2), 113,142.857, 198,000; the two missing cents go to
        # D (.71) and B (.57, ties with C and comes first).
        frame = pd.concat(
            [four, pd.DataFrame({"rep_id": ["E"], "potential": [200_000.0]})], ignore_index=True
        ).assign(segment=["ent", "ent", "smb", "smb", "smb"])
        frame = frame.drop(columns="role")
        table = set_quotas(frame, config("historical", new_territory_rule="peer"))
        assert table["final_annual_quota"].tolist() == [
            339_428.57,
            169_714.29,
            169_714.28,
            113_142.86,
            198_000.0,
        ]

    def test_peer_weights_fall_back_to_everyone(self) -> None:
        # No segment in common: the median over all ratios (0.5, 1.0, 2.0) is 1.0.
        w = peer_weights([50.0, 100.0, 200.0, np.nan], [100.0] * 4, [["a", "b", "c", "d"]])
        assert w[3] == 100.0

    def test_blended_new_territory_takes_its_potential_share(self) -> None:
        # A has history (w = 0.5), B has none (w = 0): shares 0.5 x 1 + 0.5 x 0.5 = 0.75 and
        # 0.5; normalised 0.6 and 0.4 of 990,000.
        frame = pd.DataFrame(
            {"rep_id": ["A", "B"], "potential": [100.0, 100.0], "history": [50.0, np.nan]}
        )
        table = set_quotas(frame, config("blended", history_weight=0.5))
        assert table["final_annual_quota"].tolist() == [594_000.0, 396_000.0]
        assert table["method"].tolist() == ["blended", "potential_peer"]


class TestSyntheticCaps:
    @staticmethod
    def frame() -> pd.DataFrame:
        """Potential 500k/300k/200k, last year's quota 300k each (caps 255k..375k)."""
        return pd.DataFrame(
            {
                "rep_id": ["A", "B", "C"],
                "potential": [500_000.0, 300_000.0, 200_000.0],
                "prior_quota": [300_000.0] * 3,
            }
        )

    def test_caps_water_fill(self) -> None:
        # Street 990,000 (900,000 x 1.1); raw 495k / 297k / 198k. A is 120k over its 375k
        # ceiling, C 57k under its 255k floor: clamp A first; 615k left splits 3:2 into
        # 369k and 246k, so C is lifted to 255k and B gets 990 - 375 - 255 = 360k.
        cfg = QuotaConfig(company_target=900_000.0, method=QuotaMethod(name="potential"))
        table = set_quotas(self.frame(), cfg)
        assert table["raw_quota"].tolist() == [495_000.0, 297_000.0, 198_000.0]
        assert table["final_annual_quota"].tolist() == [375_000.0, 360_000.0, 255_000.0]
        assert table["yoy_clip"].tolist() == ["ceiling", "none", "floor"]
        assert table["yoy_change_pct"].round(6).tolist() == [25.0, 20.0, -15.0]

    def test_realigned_territory_is_exempt(self) -> None:
        # C's potential moved from 150k to 200k (+33% > 10%): no cap. A is held at 375k and
        # 615k splits 3:2 into 369k (B, under its 375k ceiling) and 246k (C).
        frame = self.frame().assign(potential_before=[500_000.0, 300_000.0, 150_000.0])
        cfg = QuotaConfig(company_target=900_000.0, method=QuotaMethod(name="potential"))
        plan = plan_quotas(frame, cfg)
        assert plan.table["final_annual_quota"].tolist() == [375_000.0, 369_000.0, 246_000.0]
        assert plan.summary.capped_at_ceiling == ("A",)
        assert plan.summary.capped_at_floor == ()

    def test_caps_against_revenue(self) -> None:
        # Reference = last year's revenue 300k/300k/300k: the same bounds as above.
        frame = self.frame().drop(columns="prior_quota").assign(history=[300_000.0] * 3)
        cfg = QuotaConfig(
            company_target=900_000.0,
            method=QuotaMethod(name="potential"),
            caps=YearlyCaps(reference="history"),
        )
        q = set_quotas(frame, cfg)["final_annual_quota"]
        assert q.tolist() == [375_000.0, 360_000.0, 255_000.0]

    def test_no_reference_means_no_cap(self) -> None:
        cfg = QuotaConfig(company_target=900_000.0, method=QuotaMethod(name="potential"))
        table = set_quotas(self.frame().drop(columns="prior_quota"), cfg)
        assert table["final_annual_quota"].tolist() == [495_000.0, 297_000.0, 198_000.0]
        assert (table["yoy_clip"] == "none").all()

    def test_yearly_bounds(self) -> None:
        floors, ceilings, capped = yearly_bounds(
            [100.0, np.nan, 100.0],
            YearlyCaps(),
            potential=[100.0, 100.0, 120.0],
            potential_before=[100.0, 100.0, 100.0],
        )
        assert floors.tolist() == [85.0, 0.0, 0.0]
        assert ceilings.tolist() == [125.0, np.inf, np.inf]
        assert capped.tolist() == [True, False, False]

    def test_rebase_prior_quota_by_history_share(self) -> None:
        # Last year's 1,000 of quota re-based on history shares 1:3.
        assert rebase_prior_quota(1000.0, [100.0, 300.0, np.nan]).tolist()[:2] == [250.0, 750.0]


class TestSyntheticRampAndVacancy:
    def test_ramp_months(self) -> None:
        sched = RampSchedule()
        # Starts on day 1: M1..M12 = 0, .25, .5, .75, then 1 -> 9.5 / 12.
        # Two months in: M3..M14 = .5, .75, then 10 x 1 -> 11.25 / 12.
        # Hired in month 7: months 7-12 are M1..M6 = 0, .25, .5, .75, 1, 1 -> 3.5 / 12.
        months = ramp_months([0.0, 2.0, np.nan, np.nan], [np.nan, np.nan, 7.0, np.nan], sched)
        assert months.mean(axis=1).tolist() == [9.5 / 12, 11.25 / 12, 3.5 / 12, 1.0]
        assert months[2, :6].tolist() == [0.0] * 6

    def test_new_hire_carries_its_ramp_share(self) -> None:
        # Potential 300k/300k/400k; B's rep starts on day 1 (ramp 9.5/12). Weights
        # 300 : 237.5 : 400 (937.5) -> x 990/937.5 = 1.056: 316,800 / 250,800 / 422,400.
        # B carries 9.5/12 of what a ramped rep in its seat (316,800) would.
        frame = pd.DataFrame(
            {
                "rep_id": ["A", "B", "C"],
                "potential": [300_000.0, 300_000.0, 400_000.0],
                "tenure_months": [np.nan, 0.0, np.nan],
            }
        )
        plan = plan_quotas(frame, config("potential"))
        q = plan.table["final_annual_quota"]
        assert q.tolist() == [316_800.0, 250_800.0, 422_400.0]
        assert plan.table["ramp_profile_id"].fillna("").tolist() == ["", "mid_market", ""]
        assert plan.summary.ramping_territories == ("B",)

    def test_ramping_quarters_follow_the_ramp(self) -> None:
        # B (250,800) with an even profile: quarter ramp means 0.25, 0.9167, 1, 1, i.e.
        # 0.75 : 2.75 : 3 : 3 of 9.5 -> 250,800 / 9.5 = 26,400 x those.
        frame = pd.DataFrame(
            {
                "rep_id": ["A", "B", "C"],
                "potential": [300_000.0, 300_000.0, 400_000.0],
                "tenure_months": [np.nan, 0.0, np.nan],
            }
        )
        row = set_quotas(frame, config("potential")).iloc[1]
        assert [row[c] for c in ("q1", "q2", "q3", "q4")] == [
            19_800.0,
            72_600.0,
            79_200.0,
            79_200.0,
        ]

    def test_vacant_territory_keeps_its_quota_under_tbh(self) -> None:
        # F has no rep: its quota stays (no ramp), held by TBH-F; the total still conserves.
        frame = pd.DataFrame(
            {
                "territory_id": ["A", "F", "G"],
                "rep_id": ["rep-a", None, "TBH-G"],
                "potential": [300_000.0, 300_000.0, 390_000.0],
                "tenure_months": [np.nan, 0.0, np.nan],
            }
        )
        plan = plan_quotas(frame, config("potential"))
        assert plan.table["rep_id"].tolist() == ["rep-a", "TBH-F", "TBH-G"]
        assert plan.table["final_annual_quota"].tolist() == [300_000.0, 300_000.0, 390_000.0]
        assert plan.table["ramp_factor"].tolist() == [1.0, 1.0, 1.0]
        assert plan.summary.vacant_territories == ("F", "G")

    def test_vacant_flag_column(self) -> None:
        frame = pd.DataFrame(
            {"rep_id": ["A", "B"], "potential": [1.0, 1.0], "vacant": [False, True]}
        )
        assert set_quotas(frame, config())["rep_id"].tolist() == ["A", "TBH-B"]


class TestSyntheticSeasonality:
    def test_profile_split_is_exact(self) -> None:
        # 100,000.01 at 20/30/20/30: 20,000.002 / 30,000.003 / ... floors leave one cent for
        # the largest remainder (.3, Q2 before Q4 on the tie).
        q = split_periods([100_000.01], [[0.2, 0.3, 0.2, 0.3]])
        assert q.tolist() == [[20_000.0, 30_000.01, 20_000.0, 30_000.0]]

    def test_zero_row_splits_evenly(self) -> None:
        assert split_periods([1.0], [[0, 0, 0, 0]]).tolist() == [[0.25] * 4]

    def test_configured_profile_in_the_table(self, four: pd.DataFrame) -> None:
        table = set_quotas(four, config(seasonality=Seasonality(profile=(1.0, 1.0, 1.0, 2.0))))
        # A = 396,000: 79,200 x 3 and 158,400.
        assert [table.loc[0, c] for c in ("q1", "q2", "q3", "q4")] == [
            79_200.0,
            79_200.0,
            79_200.0,
            158_400.0,
        ]
        assert (table["seasonality_profile_id"] == "configured").all()

    def test_months(self, four: pd.DataFrame) -> None:
        table = set_quotas(four, config(seasonality=Seasonality(periods="month")))
        months = [f"m{i:02d}" for i in range(1, 13)]
        assert (cents(table[months]).sum(axis=1) == cents(table["final_annual_quota"])).all()

    @staticmethod
    def sales() -> pd.DataFrame:
        """Two years per territory: A 10/20/30/40, B 25 each quarter."""
        rows = [
            (key, year, q + 1, value)
            for year in (2023, 2024)
            for key, values in (("A", (10, 20, 30, 40)), ("B", (25, 25, 25, 25)))
            for q, value in enumerate(values)
        ]
        return pd.DataFrame(rows, columns=["rep_id", "year", "period", "sales"])

    def test_shares_from_history(self) -> None:
        # Company: (20+50, 40+50, 60+50, 80+50) / 400 = .175 / .225 / .275 / .325.
        own, level = seasonality_shares(self.sales(), ["A", "B", "Z"], 4)
        assert level is not None
        assert np.allclose(level, [0.175, 0.225, 0.275, 0.325])
        assert np.allclose(own[0], [0.1, 0.2, 0.3, 0.4])
        assert np.isnan(own[2]).all()

    def test_shrinkage_by_deal_count(self) -> None:
        # A: 20 deals -> lambda = 20 / 40 = 0.5 -> halfway between company and own:
        # .1375 / .2125 / .2875 / .3625. B: 180 deals -> lambda 0.1 -> .2425 ... .2575.
        own, level = seasonality_shares(self.sales(), ["A", "B"], 4)
        assert level is not None
        shares, lam = shrink_profile(own, level, [20.0, 180.0], 20.0)
        assert lam.tolist() == [0.5, 0.1]
        assert np.allclose(shares[0], [0.1375, 0.2125, 0.2875, 0.3625])
        assert np.allclose(shares[1], [0.2425, 0.2475, 0.2525, 0.2575])

    def test_history_profile_in_the_table(self) -> None:
        frame = pd.DataFrame(
            {"rep_id": ["A", "B"], "potential": [1.0, 1.0], "n_deals": [20.0, np.nan]}
        )
        table = set_quotas(frame, config(), period_sales=self.sales())
        # 495,000 each; A at .1375 / .2125 / .2875 / .3625, B on the company profile.
        assert [table.loc[0, c] for c in ("q1", "q2", "q3", "q4")] == [
            68_062.5,
            105_187.5,
            142_312.5,
            179_437.5,
        ]
        assert table["seasonality_profile_id"].tolist() == ["territory", "company"]

    def test_under_a_year_of_history_is_even(self) -> None:
        sales = self.sales()
        partial = sales[(sales["year"] == 2024) & (sales["period"] < 4)]
        own, level = seasonality_shares(partial, ["A"], 4)
        assert level is None
        frame = pd.DataFrame({"rep_id": ["A"], "potential": [1.0]})
        table = set_quotas(frame, config(), period_sales=partial)
        assert [table.loc[0, c] for c in ("q1", "q2", "q3", "q4")] == [247_500.0] * 4
        assert table.loc[0, "seasonality_profile_id"] == "even"


class TestSyntheticTable:
    def test_layout_and_conservation_for_every_method(self, mixed_bag: pd.DataFrame) -> None:
        productivity = {"hunter": 250_000.0, "mixed": 200_000.0, "account_manager": 300_000.0}
        for method in METHODS:
            options = {"full_productivity": productivity} if method == "capacity" else {}
            plan = plan_quotas(mixed_bag, config(method, **options))
            table = plan.table
            assert cents(table["final_annual_quota"]).sum() == cents(STREET), method
            quarters = cents(table[["q1", "q2", "q3", "q4"]]).sum(axis=1)
            assert (quarters == cents(table["final_annual_quota"])).all(), method
            assert (table["final_annual_quota"] >= 0).all()
            assert table["method"].notna().all() and (table["status"] == "draft").all()
            assert plan.summary.quota_total == STREET
            assert table.columns[:5].tolist() == [
                "plan_year",
                "scenario_id",
                "run_id",
                "seed",
                "territory_id",
            ]
            assert table.columns[-1] == "status"

    def test_mixed_bag_details(self, mixed_bag: pd.DataFrame) -> None:
        plan = plan_quotas(mixed_bag, config("blended"))
        table = plan.table.set_index("territory_id")
        assert table.loc["T-F", "rep_id"] == "TBH-T-F"
        assert table.loc["T-E", "method"] == "potential_peer"
        assert table.loc["T-B", "ramp_factor"] == pytest.approx(9.5 / 12)
        assert table.loc["T-C", "prior_quota_rebased"] == 160_000.0
        assert table.loc["T-A", "quota_to_potential"] == pytest.approx(
            float(table["final_annual_quota"]["T-A"]) / 400_000.0
        )
        assert plan.summary.new_territories == ("T-E",)
        assert plan.summary.vacant_territories == ("T-F",)

    def test_long_layout(self, four: pd.DataFrame) -> None:
        long = quotas_long(set_quotas(four, config()))
        assert len(long) == 16
        assert long["period"].tolist()[:4] == ["q1", "q2", "q3", "q4"]
        assert cents(long["quota"]).sum() == cents(STREET)

    def test_over_assignment_levels_compound(self, four: pd.DataFrame) -> None:
        # Three levels at 10% each: 1.1^3 = 1.331 -> WARN (above 20%, below 50%).
        plan = plan_quotas(four, config(over_assignment=(0.10, 0.10, 0.10)))
        assert plan.summary.over_assignment_factor == pytest.approx(1.331)
        assert plan.summary.over_assignment_status == "WARN"
        assert plan.summary.street_total == 900_000 * 1.331

    def test_over_assignment_trade_off(self) -> None:
        # Spec §1.4 (sigma 0.25): OA 0 -> 45% at quota, OA 10% -> 31%, OA 15% -> 25%;
        # the half-at-quota bound is -2%, -3%, -4.4% for sigma 0.20, 0.25, 0.30.
        assert share_at_quota(1.0, 0.25) == pytest.approx(0.45, abs=0.005)
        assert share_at_quota(1.10, 0.25) == pytest.approx(0.31, abs=0.005)
        assert share_at_quota(1.15, 0.25) == pytest.approx(0.25, abs=0.005)
        assert [round(half_at_quota_bound(s), 3) for s in (0.2, 0.25, 0.3)] == [
            -0.02,
            -0.031,
            -0.044,
        ]

    def test_bottom_up_gap(self, four: pd.DataFrame) -> None:
        # History 700k grown 10% gives 770k bottom-up; the street total is 220k above it.
        plan = plan_quotas(four, config(growth=0.10))
        assert plan.summary.bottom_up_total == pytest.approx(770_000.0)
        assert plan.summary.top_down_gap == pytest.approx(220_000.0)

    def test_growth_from_two_years(self, four: pd.DataFrame) -> None:
        frame = four.assign(history_prev=[250_000.0, 150_000.0, 150_000.0, 50_000.0])
        # 700k over 600k: g = 1/6.
        assert plan_quotas(frame, config()).summary.growth == pytest.approx(1 / 6)


class TestSyntheticHistory:
    def test_history_is_rebased_to_the_new_plan(self) -> None:
        accounts = pd.DataFrame(
            {
                "account_id": ["a1", "a2", "a3", "a4"],
                "potential": [100.0, 200.0, 300.0, 400.0],
                "current_rep": ["R1", "R1", "R2", None],
                "revenue_last_year": [10.0, 20.0, np.nan, np.nan],
                "quota_last_year": [12.0, 18.0, 30.0, 0.0],
            }
        )
        assignments = pd.DataFrame({"account_id": ["a4", "a3", "a2", "a1"]}).assign(
            rep_id=["R3", "R2", "R2", "R1"]
        )
        reps = pd.DataFrame({"rep_id": ["R1", "R2", "R3"], "role": ["hunter", "farmer", "x"]})
        out = territory_history(accounts, assignments, reps)
        # R1 keeps a1 (10); R2 gets a2 (20) and a3 (unknown): 20; R3 only has a4 (unknown).
        assert out["history"].tolist()[:2] == [10.0, 20.0]
        assert np.isnan(out["history"].iloc[2])
        assert out["prior_quota"].tolist() == [12.0, 48.0, 0.0]
        # Before: R1 held a1 + a2 (300), R2 a3 (300), R3 nothing.
        assert out["potential_before"].tolist() == [300.0, 300.0, 0.0]
        assert out["role"].tolist() == ["hunter", "farmer", "x"]
        aligned = territory_history(accounts, np.array(["R1", "R1", "R2", "R3"], dtype=object))
        assert aligned["history"].tolist()[0] == 30.0


class TestSyntheticBacktest:
    @staticmethod
    def frame() -> pd.DataFrame:
        """Year t-1 revenue 100k/200k/300k, year t actuals 120k/180k/300k."""
        return pd.DataFrame(
            {
                "rep_id": ["A", "B", "C"],
                "potential": [200_000.0] * 3,
                "history": [120_000.0, 180_000.0, 300_000.0],
                "history_prev": [100_000.0, 200_000.0, 300_000.0],
            }
        )

    def test_historical_backtest(self) -> None:
        # Plan G = 660k, street 726k: quotas 121k/242k/363k, rescaled to G (x 660/726):
        # 110k/220k/330k. Actuals 120k/180k/300k (600k): company error 60/660 = 9.1%;
        # WMAPE (10 + 40 + 30) / 600 = 13.3% -> WARN. Attainment 1.091/0.818/0.909: two of
        # three within ±10%, all within ±20%. The naive H x (1+g) is the same split here.
        cfg = QuotaConfig(company_target=660_000.0, method=QuotaMethod(name="historical"))
        result = backtest(self.frame(), cfg)
        assert result.table["quota"].tolist() == [121_000.0, 242_000.0, 363_000.0]
        assert np.allclose(result.table["quota_rescaled"], [110_000.0, 220_000.0, 330_000.0])
        assert result.company_error == pytest.approx(60 / 660)
        assert result.company_status == "PASS"
        assert result.wmape == pytest.approx(80 / 600)
        assert result.naive_wmape == pytest.approx(80 / 600)
        assert result.status == "WARN"
        assert result.share_within_narrow_band == pytest.approx(2 / 3)
        assert result.share_within_wide_band == 1.0

    def test_potential_backtest_fails(self) -> None:
        # Even potential -> Q* = 220k each: (100 + 40 + 80) / 600 = 36.7% -> FAIL. (Without
        # caps: last year's sales would otherwise bound each quota, see test_quota_measures.)
        cfg = QuotaConfig(company_target=1.0, method=QuotaMethod(name="potential"), caps=None)
        result = backtest(self.frame(), cfg, plan_target=660_000.0)
        assert result.wmape == pytest.approx(220 / 600)
        assert result.status == "FAIL"

    def test_backtest_needs_two_years(self) -> None:
        with pytest.raises(DataValidationError, match="history_prev"):
            backtest(self.frame().drop(columns="history_prev"), config())


class TestRealWorldQuotas:
    def test_synthetic_instance_end_to_end(self) -> None:
        accounts, reps = make_instance(600, 6, seed=3)
        plan = accounts["current_rep"].to_numpy(dtype=object)
        territories = territory_table(accounts, reps, plan)
        history = territory_history(accounts, plan, reps)
        frame = territories.merge(history, on="rep_id", how="left")
        street = 0.0
        for method in METHODS:
            cfg = QuotaConfig(
                company_target=float(accounts["revenue_last_year"].sum()) * 1.2,
                method=QuotaMethod(name=method),  # type: ignore[arg-type]
            )
            street = cfg.street_total
            table = set_quotas(frame, cfg)
            assert cents(table["final_annual_quota"]).sum() == cents(street), method
            assert (table["final_annual_quota"] >= 0).all()
        assert street > 0


class TestErrorsQuotas:
    def test_floors_above_total(self) -> None:
        with pytest.raises(InfeasibleError, match=r"floors add up to 110\.00.*10\.00 more"):
            allocate(100.0, [1, 1], floors=[60.0, 50.0])

    def test_ceilings_below_total(self) -> None:
        with pytest.raises(InfeasibleError, match=r"ceilings add up to 70\.00.*30\.00 less"):
            allocate(100.0, [1, 1], ceilings=[30.0, 40.0])

    def test_floor_above_ceiling(self) -> None:
        with pytest.raises(InfeasibleError, match="x: floor 5.00 is above its ceiling 4.00"):
            allocate(10.0, [1, 1], floors=[5.0, 0], ceilings=[4.0, 20.0], labels=["x", "y"])

    def test_bad_weights(self) -> None:
        with pytest.raises(ValueError, match="weights"):
            allocate(10.0, [1.0, -1.0])

    def test_caps_infeasible_explained(self) -> None:
        # Ceilings 3 x 125,000 = 375,000 cannot carry a 990,000 street total.
        frame = pd.DataFrame(
            {"rep_id": ["A", "B", "C"], "potential": [1.0] * 3, "prior_quota": [100_000.0] * 3}
        )
        with pytest.raises(InfeasibleError, match=r"375,000\.00.*990,000\.00") as info:
            set_quotas(frame, config(caps=YearlyCaps()))
        assert "caps.min_change/max_change" in str(info.value)

    def test_missing_columns(self) -> None:
        with pytest.raises(DataValidationError, match="potential.*column is missing"):
            set_quotas(pd.DataFrame({"rep_id": ["A"]}), config())

    def test_history_needed(self, four: pd.DataFrame) -> None:
        with pytest.raises(DataValidationError, match="territory_history"):
            set_quotas(four.drop(columns="history"), config("historical"))

    def test_bad_values_are_listed_with_rows(self) -> None:
        frame = pd.DataFrame(
            {"rep_id": ["A", "A"], "potential": ["x", -1.0], "hire_month": [13, 1]}
        )
        with pytest.raises(DataValidationError) as info:
            set_quotas(frame, config())
        text = str(info.value)
        assert "row 2, column 'potential': is not a number" in text
        assert "row 3, column 'potential': is out of range" in text
        assert "column 'hire_month'" in text and "appears more than once" in text

    def test_vacant_without_territory_id(self) -> None:
        frame = pd.DataFrame({"rep_id": ["A", None], "potential": [1.0, 1.0]})
        with pytest.raises(DataValidationError, match="territory_id"):
            set_quotas(frame, config())

    def test_capacity_without_productivity(self) -> None:
        frame = pd.DataFrame({"rep_id": ["A"], "potential": [1.0], "role": ["hunter"]})
        with pytest.raises(DataValidationError, match="full_productivity"):
            set_quotas(frame, config("capacity"))

    def test_unknown_method_lists_the_options(self, four: pd.DataFrame) -> None:
        with pytest.raises(ScenarioError, match="possible options are.*historical"):
            set_quotas(four, config("guess"))

    def test_every_broken_key_is_named_in_key_order(self, four: pd.DataFrame) -> None:
        bad = config(
            "guess",
            seasonality=Seasonality(profile=(1.0, 2.0)),
            attainment_sigma=0.0,
            over_assignment=(0.1, -2.0),
        )
        with pytest.raises(ScenarioError) as caught:
            set_quotas(four, bad)
        parts = str(caught.value).split("; quota config key ")
        keys = [part.split("'")[1] for part in parts]
        assert keys == ["over_assignment", "method.name", "seasonality.profile", "attainment_sigma"]
        assert "is (1.0, 2.0); give 4 non-negative shares with a positive sum" in parts[2]

    def test_bad_profile(self, four: pd.DataFrame) -> None:
        with pytest.raises(ScenarioError, match=r"seasonality\.profile"):
            set_quotas(four, config(seasonality=Seasonality(profile=(1.0, 2.0))))


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------


@st.composite
def bounded_problems(
    draw: st.DrawFn,
) -> tuple[int, list[float], list[float], list[float]]:
    """A feasible (total cents, weights, floors, ceilings); bounds in whole cents."""
    n = draw(st.integers(1, 12))
    weights = draw(
        st.lists(
            st.one_of(st.just(0.0), st.floats(0.0, 1e6, allow_nan=False)), min_size=n, max_size=n
        )
    )
    floors_c = draw(st.lists(st.integers(0, 10**8), min_size=n, max_size=n))
    widths_c = draw(st.lists(st.integers(0, 10**8), min_size=n, max_size=n))
    open_top = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    share = draw(st.floats(0.0, 1.0))
    finite = [w for w, o in zip(widths_c, open_top, strict=True) if not o]
    room = sum(finite) if not any(open_top) else 10**9
    total_c = sum(floors_c) + int(share * room)
    ceilings = [
        math.inf if o else (f + w) / 100
        for f, w, o in zip(floors_c, widths_c, open_top, strict=True)
    ]
    return total_c, weights, [f / 100 for f in floors_c], ceilings


class TestProperties:
    @PROPERTY
    @given(
        st.integers(0, 10**11),
        st.lists(st.floats(0.0, 1e7, allow_nan=False), min_size=1, max_size=30),
    )
    def test_unbounded_split_conserves_and_is_monotone(
        self, total_c: int, weights: list[float]
    ) -> None:
        q = allocate(total_c / 100, weights)
        q_c = cents(q)
        assert q_c.sum() == total_c
        assert (q_c >= 0).all()
        w = np.asarray(weights)
        lighter = w[:, None] < w[None, :]
        assert (q_c[:, None] <= q_c[None, :])[lighter].all()

    @PROPERTY
    @given(bounded_problems())
    def test_bounded_split_conserves_and_respects_bounds(
        self, problem: tuple[int, list[float], list[float], list[float]]
    ) -> None:
        total_c, weights, floors, ceilings = problem
        q_c = cents(allocate(total_c / 100, weights, floors=floors, ceilings=ceilings))
        lo, hi = cents(floors), np.asarray(ceilings) * 100
        assert q_c.sum() == total_c
        assert (q_c >= lo).all() and (q_c <= hi + 1e-6).all()
        # Where no bound binds, a lighter territory never gets more.
        w = np.asarray(weights)
        inside = (q_c > lo) & (q_c < hi - 1)
        pair = inside[:, None] & inside[None, :] & (w[:, None] < w[None, :])
        assert (q_c[:, None] <= q_c[None, :])[pair].all()

    @PROPERTY
    @given(
        st.lists(st.floats(0.1, 1e6, allow_nan=False), min_size=2, max_size=10),
        st.integers(0, 9),
        st.floats(1.0, 10.0),
    )
    def test_more_weight_never_means_less_quota(
        self, weights: list[float], pick: int, factor: float
    ) -> None:
        # Without caps, raising one weight cannot lower its quota (by more than rounding).
        k = pick % len(weights)
        before = cents(allocate(1_000_000.0, weights))[k]
        heavier = list(weights)
        heavier[k] *= factor
        after = cents(allocate(1_000_000.0, heavier))[k]
        assert after >= before - 1

    @PROPERTY
    @given(
        st.lists(st.integers(0, 10**9), min_size=1, max_size=8),
        st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4),
    )
    def test_period_split_sums_to_annual(self, annual_c: list[int], profile: list[float]) -> None:
        shares = np.tile(profile, (len(annual_c), 1))
        periods = cents(split_periods(np.asarray(annual_c) / 100, shares))
        assert (periods.sum(axis=1) == np.asarray(annual_c)).all()
        assert (periods >= 0).all()

    @PROPERTY
    @given(
        st.lists(
            st.tuples(
                st.one_of(st.just(0.0), st.floats(0.01, 1e6)),
                st.one_of(st.none(), st.just(0.0), st.floats(0.01, 1e6)),
                st.one_of(st.none(), st.floats(1e3, 1e6, allow_nan=False)),
                st.sampled_from(["hunter", "account_manager", "mixed", None]),
                st.one_of(st.none(), st.integers(0, 12)),
            ),
            min_size=1,
            max_size=10,
        ),
        st.sampled_from(["historical", "potential", "untapped", "blended", "even"]),
        st.floats(1e5, 1e8),
    )
    def test_quotas_sum_to_the_street_total(
        self,
        rows: list[tuple[float, float | None, float | None, str | None, int | None]],
        method: str,
        target: float,
    ) -> None:
        frame = pd.DataFrame(
            {
                "rep_id": [f"R{i}" for i in range(len(rows))],
                "potential": [r[0] for r in rows],
                "history": [np.nan if r[1] is None else r[1] for r in rows],
                "prior_quota": [np.nan if r[2] is None else r[2] for r in rows],
                "role": [r[3] for r in rows],
                "tenure_months": [np.nan if r[4] is None else float(r[4]) for r in rows],
            }
        )
        if method in ("historical", "untapped"):
            frame.loc[0, "history"] = 1_000.0
        cfg = QuotaConfig(
            company_target=target,
            method=QuotaMethod(name=method),  # type: ignore[arg-type]
            caps=YearlyCaps(min_change=-1.0, max_change=1e9),
        )
        table = set_quotas(frame, cfg)
        q_c = cents(table["final_annual_quota"])
        assert q_c.sum() == cents(cfg.street_total)
        assert (q_c >= 0).all()
        assert (cents(table[["q1", "q2", "q3", "q4"]]).sum(axis=1) == q_c).all()
