"""Tests for territory.domain.metrics on a plan small enough to compute by hand.

Every point lies on the equator, where one degree of longitude is 2 * pi * R / 360 = 111.195 km
(R = 6371.0088 km), so every distance is a whole number of those degrees::

    lon:  -2   0   1   ...   10  11   ...   20  21
          a2  R1  a1         R2  a3         R3  a5
                             a4             a6

    rep  capacity  tier   accounts (potential / workload)      current -> planned
    R1   1000      A      a1 100/10, a2 200/20                 a1, a2 stay with R1
    R2   1000      B      a3 300/30, a4 400/40                 a3 from R1, a4 from R3
    R3   2000      C      a5 500/50, a6 600/60                 a5 stays, a6 is new (no rep)

Totals: potential 2,100 and workload 210. Potential targets share 2,100 by capacity x tier
factor (1,150 : 1,000 : 1,700), workload targets share 210 by capacity (1 : 1 : 2).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from territory.domain.metrics import (
    METRICS,
    accounts_moved,
    assignment_table,
    distance_km,
    max_potential_deviation,
    max_utilization,
    max_workload_deviation,
    mean_distance_km,
    moved_mask,
    plan_metrics,
    potential_moved,
    rep_targets,
    revenue_moved,
    territory_table,
    travel_hour_km,
)
from tests.instances import ASSIGNMENT_COLUMNS

KM_PER_DEGREE = 2 * math.pi * 6371.0088 / 360  # 111.195 km along the equator
WEIGHTS = np.array([1000 * 1.15, 1000 * 1.0, 2000 * 0.85])
POTENTIAL_TARGET = 2100.0 * WEIGHTS / WEIGHTS.sum()  # 627.27, 545.45, 927.27
WORKLOAD_TARGET = np.array([52.5, 52.5, 105.0])


def _accounts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": ["a1", "a2", "a3", "a4", "a5", "a6"],
            "lat": [0.0] * 6,
            "lon": [1.0, -2.0, 11.0, 10.0, 21.0, 20.0],
            "potential": [100.0, 200.0, 300.0, 400.0, 500.0, 600.0],
            "workload": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0],
            "current_rep": ["R1", "R1", "R1", "R3", "R3", None],
            "revenue_last_year": [1.0, 2.0, 1000.0, np.nan, 5.0, 6.0],
        }
    )


def _reps() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rep_id": ["R1", "R2", "R3"],
            "lat": [0.0, 0.0, 0.0],
            "lon": [0.0, 10.0, 20.0],
            "capacity": [1000.0, 1000.0, 2000.0],
            "tier": ["A", "B", "C"],
        }
    )


def _plan() -> np.ndarray:
    return np.array(["R1", "R1", "R2", "R2", "R3", "R3"], dtype=object)


@pytest.fixture
def accounts() -> pd.DataFrame:
    return _accounts()


@pytest.fixture
def reps() -> pd.DataFrame:
    return _reps()


@pytest.fixture
def plan() -> np.ndarray:
    return _plan()


# Hand-computed value of every registered metric on the fixture.
EXPECTED_METRICS = {
    "max_potential_deviation": 1.0 - 300.0 / POTENTIAL_TARGET[0],  # R1: 300 vs 627.27
    "max_workload_deviation": 1.0 - 30.0 / 52.5,  # R1: 30 vs 52.5
    "travel_hour_km": (10 * 1 + 20 * 2 + 30 * 1 + 40 * 0 + 50 * 1 + 60 * 0) * KM_PER_DEGREE,
    "mean_distance_km": (1 + 2 + 1 + 0 + 1 + 0) / 6 * KM_PER_DEGREE,
    "accounts_moved": 2.0,  # a3 and a4
    "potential_moved": 300.0 + 400.0,
    "revenue_moved": 1000.0,  # a4's revenue is unknown (NaN) and counts as 0
    "max_utilization": 70.0 / 1000.0,  # R2
}


class TestSyntheticMetrics:
    def test_every_registered_metric_has_a_hand_computed_value(self) -> None:
        assert set(METRICS) == set(EXPECTED_METRICS)

    @pytest.mark.parametrize("name", sorted(EXPECTED_METRICS))
    def test_registered_metric_value(
        self, name: str, accounts: pd.DataFrame, reps: pd.DataFrame, plan: np.ndarray
    ) -> None:
        value = plan_metrics(accounts, reps, plan)[name]
        assert isinstance(value, float)
        # Deviations and utilisation go through territory_table, rounded to 6 decimals.
        assert value == pytest.approx(EXPECTED_METRICS[name], rel=1e-9, abs=1e-6)

    def test_metric_functions_agree_with_registry(
        self, accounts: pd.DataFrame, reps: pd.DataFrame, plan: np.ndarray
    ) -> None:
        assert max_potential_deviation(accounts, reps, plan) == pytest.approx(0.521739, abs=1e-6)
        assert max_workload_deviation(accounts, reps, plan) == pytest.approx(0.428571, abs=1e-6)
        assert travel_hour_km(accounts, reps, plan) == pytest.approx(130 * KM_PER_DEGREE)
        assert mean_distance_km(accounts, reps, plan) == pytest.approx(92.6626, abs=1e-4)
        assert accounts_moved(accounts, reps, plan) == 2.0
        assert potential_moved(accounts, reps, plan) == 700.0
        assert revenue_moved(accounts, reps, plan) == 1000.0
        assert max_utilization(accounts, reps, plan) == pytest.approx(0.07)

    def test_revenue_moved_is_zero_without_history(
        self, accounts: pd.DataFrame, reps: pd.DataFrame, plan: np.ndarray
    ) -> None:
        assert revenue_moved(accounts.drop(columns="revenue_last_year"), reps, plan) == 0.0

    def test_no_current_rep_means_nothing_moved(
        self, accounts: pd.DataFrame, reps: pd.DataFrame, plan: np.ndarray
    ) -> None:
        green_field = accounts.drop(columns="current_rep")
        assert not moved_mask(green_field, plan).any()
        assert accounts_moved(green_field, reps, plan) == 0.0
        table = territory_table(green_field, reps, plan)
        assert (
            table[["accounts_moved_in", "accounts_moved_out"]].to_numpy().tolist() == [[0, 0]] * 3
        )

    def test_distance_km_on_the_equator(
        self, accounts: pd.DataFrame, reps: pd.DataFrame, plan: np.ndarray
    ) -> None:
        km = distance_km(accounts, reps, plan)
        assert km == pytest.approx(np.array([1, 2, 1, 0, 1, 0]) * KM_PER_DEGREE, abs=1e-9)
        assert km[0] == pytest.approx(111.195, abs=1e-3)

    def test_moved_mask(self, accounts: pd.DataFrame, plan: np.ndarray) -> None:
        # a6 has no current rep: it is new, not moved.
        assert moved_mask(accounts, plan).tolist() == [False, False, True, True, False, False]

    def test_moved_mask_treats_blank_and_nan_as_new(self, plan: np.ndarray) -> None:
        accounts = _accounts()
        accounts["current_rep"] = ["R2", "", np.nan, None, "R3", "R1"]
        assert moved_mask(accounts, plan).tolist() == [True, False, False, False, False, True]

    def test_rep_targets_default_tier_factors(
        self, accounts: pd.DataFrame, reps: pd.DataFrame
    ) -> None:
        potential, workload = rep_targets(accounts, reps)
        # 2100 x 1150/3850, 2100 x 1000/3850, 2100 x 1700/3850
        assert potential == pytest.approx([627.2727273, 545.4545455, 927.2727273])
        assert workload == pytest.approx(WORKLOAD_TARGET)
        assert potential.sum() == pytest.approx(2100.0)
        assert workload.sum() == pytest.approx(210.0)

    def test_tier_factors_shape_potential_targets_only(
        self, accounts: pd.DataFrame, reps: pd.DataFrame
    ) -> None:
        """Equal capacities: the A rep's potential target is 1.15/0.85 of the C rep's."""
        equal = reps.assign(capacity=[1000.0, 1000.0, 1000.0])
        potential, workload = rep_targets(accounts, equal)
        assert potential[0] / potential[2] == pytest.approx(1.15 / 0.85)
        assert potential[1] / potential[2] == pytest.approx(1.0 / 0.85)
        assert workload == pytest.approx([70.0, 70.0, 70.0])

    def test_custom_tier_factors(self, accounts: pd.DataFrame, reps: pd.DataFrame) -> None:
        factors = {"A": 2.0, "B": 1.0, "C": 0.5}  # weights 2000 : 1000 : 1000
        potential, workload = rep_targets(accounts, reps, factors)
        assert potential == pytest.approx([1050.0, 525.0, 525.0])
        assert workload == pytest.approx(WORKLOAD_TARGET)
        table = territory_table(accounts, reps, _plan(), factors)
        assert table["potential_target"].tolist() == pytest.approx([1050.0, 525.0, 525.0])
        assert table["potential_dev"].tolist() == pytest.approx(
            [300 / 1050 - 1, 700 / 525 - 1, 1100 / 525 - 1], abs=1e-6
        )
        assert max_potential_deviation(accounts, reps, _plan(), factors) == pytest.approx(
            1100 / 525 - 1, abs=1e-6
        )

    def test_missing_tier_column_counts_as_tier_b(self, accounts: pd.DataFrame) -> None:
        reps = _reps().drop(columns="tier")
        potential, _ = rep_targets(accounts, reps)
        assert potential == pytest.approx([525.0, 525.0, 1050.0])  # by capacity alone
        assert territory_table(accounts, reps, _plan())["tier"].tolist() == ["B", "B", "B"]

    def test_territory_table(
        self, accounts: pd.DataFrame, reps: pd.DataFrame, plan: np.ndarray
    ) -> None:
        table = territory_table(accounts, reps, plan)
        assert table["rep_id"].tolist() == ["R1", "R2", "R3"]
        assert table["tier"].tolist() == ["A", "B", "C"]
        assert table["n_accounts"].tolist() == [2, 2, 2]
        assert table["potential"].tolist() == [300.0, 700.0, 1100.0]
        assert table["potential_target"].to_numpy() == pytest.approx(POTENTIAL_TARGET)
        assert table["potential_dev"].tolist() == pytest.approx(
            [-0.521739, 0.283333, 0.186275], abs=1e-6
        )
        assert table["workload"].tolist() == [30.0, 70.0, 110.0]
        assert table["workload_target"].tolist() == pytest.approx([52.5, 52.5, 105.0])
        assert table["workload_dev"].tolist() == pytest.approx(
            [30 / 52.5 - 1, 70 / 52.5 - 1, 110 / 105 - 1], abs=1e-6
        )
        assert table["capacity"].tolist() == [1000.0, 1000.0, 2000.0]
        assert table["utilization"].tolist() == pytest.approx([0.03, 0.07, 0.055])
        assert table["mean_distance_km"].tolist() == pytest.approx(
            [1.5 * KM_PER_DEGREE, 0.5 * KM_PER_DEGREE, 0.5 * KM_PER_DEGREE], abs=1e-3
        )
        assert table["accounts_moved_in"].tolist() == [0, 2, 0]
        assert table["accounts_moved_out"].tolist() == [1, 0, 1]

    def test_territory_table_keeps_empty_reps(
        self, accounts: pd.DataFrame, reps: pd.DataFrame
    ) -> None:
        everyone_to_r3 = np.array(["R3"] * 6, dtype=object)
        table = territory_table(accounts, reps, everyone_to_r3)
        assert table["n_accounts"].tolist() == [0, 0, 6]
        assert table["potential"].tolist() == [0.0, 0.0, 2100.0]
        assert table["potential_dev"].tolist()[:2] == [-1.0, -1.0]
        assert table["mean_distance_km"].tolist()[:2] == [0.0, 0.0]
        # a1, a2, a3 leave R1 and a4 stays with R3; a6 is new.
        assert table["accounts_moved_out"].tolist() == [3, 0, 0]
        assert table["accounts_moved_in"].tolist() == [0, 0, 3]

    def test_assignment_table(
        self, accounts: pd.DataFrame, reps: pd.DataFrame, plan: np.ndarray
    ) -> None:
        table = assignment_table(accounts, reps, plan)
        assert list(table.columns) == ASSIGNMENT_COLUMNS
        assert table["account_id"].tolist() == ["a1", "a2", "a3", "a4", "a5", "a6"]
        assert table["rep_id"].tolist() == ["R1", "R1", "R2", "R2", "R3", "R3"]
        assert table["previous_rep"].tolist()[:5] == ["R1", "R1", "R1", "R3", "R3"]
        assert pd.isna(table["previous_rep"].iloc[5])
        assert table["moved"].tolist() == [False, False, True, True, False, False]
        assert table["distance_km"].tolist() == [111.195, 222.39, 111.195, 0.0, 111.195, 0.0]
        assert table["potential"].tolist() == accounts["potential"].tolist()
        assert table["workload"].tolist() == accounts["workload"].tolist()

    def test_metrics_do_not_modify_inputs(
        self, accounts: pd.DataFrame, reps: pd.DataFrame, plan: np.ndarray
    ) -> None:
        accounts_before, reps_before, plan_before = accounts.copy(), reps.copy(), plan.copy()
        plan_metrics(accounts, reps, plan, {"A": 2.0, "B": 1.0, "C": 0.5})
        assignment_table(accounts, reps, plan)
        territory_table(accounts, reps, plan)
        rep_targets(accounts, reps)
        distance_km(accounts, reps, plan)
        moved_mask(accounts, plan)
        pd.testing.assert_frame_equal(accounts, accounts_before)
        pd.testing.assert_frame_equal(reps, reps_before)
        assert plan.tolist() == plan_before.tolist()

    @pytest.mark.parametrize("seed", [0, 1, 2])
    def test_metrics_are_invariant_to_row_order(
        self, seed: int, accounts: pd.DataFrame, reps: pd.DataFrame, plan: np.ndarray
    ) -> None:
        rng = np.random.default_rng(seed)
        rows = rng.permutation(len(accounts))
        rep_rows = rng.permutation(len(reps))
        shuffled_accounts = accounts.iloc[rows].reset_index(drop=True)
        shuffled_reps = reps.iloc[rep_rows].reset_index(drop=True)
        expected = plan_metrics(accounts, reps, plan)
        got = plan_metrics(shuffled_accounts, shuffled_reps, plan[rows])
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)
        table = territory_table(shuffled_accounts, shuffled_reps, plan[rows])
        pd.testing.assert_frame_equal(
            table.set_index("rep_id").sort_index(),
            territory_table(accounts, reps, plan).set_index("rep_id").sort_index(),
        )


class TestSyntheticDepartedRep:
    def test_accounts_of_a_rep_who_left_count_as_moved_in_only(self) -> None:
        """R0 left the team: its two accounts move in to R1 and R2 and no row counts them out."""
        accounts = _accounts()
        accounts.loc[[0, 2], "current_rep"] = "R0"
        table = territory_table(accounts, _reps(), _plan())
        assert table["accounts_moved_in"].tolist() == [1, 2, 0]  # a1 to R1; a3 and a4 to R2
        assert table["accounts_moved_out"].tolist() == [0, 0, 1]  # only a4 leaves a rep on the team
        assert accounts_moved(accounts, _reps(), _plan()) == 3.0


class TestErrorsMetrics:
    def test_unknown_rep_in_plan(self, accounts: pd.DataFrame, reps: pd.DataFrame) -> None:
        plan = np.array(["R1", "R1", "R2", "R9", "R3", "R3"], dtype=object)
        with pytest.raises(ValueError, match=r"not in the reps table: \['R9'\]"):
            territory_table(accounts, reps, plan)
        with pytest.raises(ValueError, match="R9"):
            distance_km(accounts, reps, plan)

    def test_unknown_tier(self, accounts: pd.DataFrame, reps: pd.DataFrame) -> None:
        from territory.errors import DataValidationError

        with pytest.raises(DataValidationError, match=r"tier\(s\) \['C'\] have no tier factor"):
            rep_targets(accounts, reps, {"A": 1.2, "B": 1.0})
