"""Tests for territory.domain.transitions: one row per moved account, a reason, a wave, revenue at
risk."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from territory.domain.metrics import distance_km, moved_mask, revenue_moved
from territory.domain.synthetic import make_instance
from territory.domain.transitions import (
    REASONS,
    TRANSITION_COLUMNS,
    WAVES,
    WaveRule,
    transition_plan,
    transition_summary,
)
from territory.errors import DataValidationError, ScenarioError
from territory.workflow.align import align

KM_PER_DEGREE = 111.195  # one degree of longitude on the equator


def hand_example() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Four reps on the equator, one degree (111 km) apart; R3 leaves. Capacity 100 h each.

    ::

        lon   0     0.1  0.2          1          2  2.1           2.9  3
              R1*   A2   A3           R2* A5     R3* A1           A4   R4*
              A7                                                       A8

    ========  =======  =====  ==============  =======  ==============  ======
    account   current  after  why             hours    revenue         wave
    ========  =======  =====  ==============  =======  ==============  ======
    A1        R3       R4     vacancy         10       0               1
    A2        R1       R2     lock (to R2)    10       500             1
    A3        R1       R2     capacity        60       5,000           2
    A4        R2       R4     travel          10       200,000         3
    A5        R2       R1     balance         10       unknown         2
    A6        (new)    R1     not a move      10       0
    A7        R1       R1     stays           40       1,000
    A8        R4       R4     stays           10       0
    ========  =======  =====  ==============  =======  ==============  ======

    R1 carries 110 h before (over capacity) and 60 h after (A5, A6, A7).
    """
    accounts = pd.DataFrame(
        {
            "account_id": [f"A{i}" for i in range(1, 9)],
            "name": [f"Account {i}" for i in range(1, 9)],
            "lat": [0.0] * 8,
            "lon": [2.1, 0.1, 0.2, 2.9, 1.0, 0.5, 0.0, 3.0],
            "potential": [100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0, 800.0],
            "workload": [10.0, 10.0, 60.0, 10.0, 10.0, 10.0, 40.0, 10.0],
            "current_rep": ["R3", "R1", "R1", "R2", "R2", None, "R1", "R4"],
            "locked_rep": [None, "R2", None, None, None, None, None, None],
            "revenue_last_year": [0.0, 500.0, 5000.0, 200_000.0, np.nan, 0.0, 1000.0, 0.0],
        }
    )
    reps = pd.DataFrame(
        {
            "rep_id": ["R1", "R2", "R3", "R4"],
            "lat": [0.0] * 4,
            "lon": [0.0, 1.0, 2.0, 3.0],
            "capacity": [100.0] * 4,
        }
    )
    after = np.array(["R4", "R2", "R2", "R4", "R1", "R1", "R1", "R4"], dtype=object)
    return accounts, reps, after


RULE = WaveRule(small_revenue=1000.0, key_revenue=100_000.0)
EXPECTED = {
    "A1": ("R3", "R4", "vacancy", 1),
    "A2": ("R1", "R2", "lock", 1),
    "A3": ("R1", "R2", "capacity", 2),
    "A4": ("R2", "R4", "travel", 3),
    "A5": ("R2", "R1", "balance", 2),
}


@pytest.fixture(scope="module")
def synthetic() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """300 accounts and 6 reps, balanced by the heuristic (the current plan is off balance)."""
    accounts, reps = make_instance(300, 6, seed=5)
    result = align(accounts, reps, solver="heuristic", time_limit_s=20, seed=1)
    return accounts, reps, result.assignments["rep_id"].to_numpy(dtype=object)


def _hand(**options: object) -> pd.DataFrame:
    accounts, reps, after = hand_example()
    options.setdefault("removed_reps", ("R3",))
    options.setdefault("waves", RULE)
    return transition_plan(accounts, None, after, reps, **options)  # type: ignore[arg-type]


class TestSyntheticTransitions:
    def test_hand_example_rows_reasons_and_waves(self) -> None:
        table = _hand()
        assert list(table.columns) == list(TRANSITION_COLUMNS)
        got = {
            row.account_id: (row.from_rep, row.to_rep, row.reason, row.wave)
            for row in table.itertuples()
        }
        assert got == EXPECTED

    def test_rows_cover_exactly_the_moved_accounts(self) -> None:
        accounts, _, after = hand_example()
        table = _hand()
        moved = accounts["account_id"].to_numpy()[moved_mask(accounts, after)]
        assert sorted(table["account_id"]) == sorted(moved)
        assert "A6" not in set(table["account_id"])  # new account: no current rep, not a move

    def test_rows_cover_the_moved_accounts_of_a_real_alignment(
        self, synthetic: tuple[pd.DataFrame, pd.DataFrame, np.ndarray]
    ) -> None:
        accounts, reps, after = synthetic
        table = transition_plan(accounts, None, after, reps)
        mask = moved_mask(accounts, after)
        assert mask.sum() > 0
        assert table["account_id"].is_unique
        assert set(table["account_id"]) == set(accounts["account_id"][mask])
        rows = accounts.set_index("account_id").loc[table["account_id"]]
        assert (table["from_rep"].to_numpy() == rows["current_rep"].to_numpy()).all()
        new_rep = dict(zip(accounts["account_id"], after, strict=True))
        assert (table["to_rep"] == table["account_id"].map(new_rep)).all()
        assert (table["from_rep"] != table["to_rep"]).all()
        assert set(table["reason"]) <= set(REASONS)

    def test_distances_match_the_metrics(
        self, synthetic: tuple[pd.DataFrame, pd.DataFrame, np.ndarray]
    ) -> None:
        accounts, reps, after = synthetic
        table = transition_plan(accounts, None, after, reps).set_index("account_id")
        ids = accounts["account_id"].to_numpy()
        d_after = pd.Series(distance_km(accounts, reps, after), index=ids)
        before = accounts["current_rep"].to_numpy(dtype=object)
        d_before = pd.Series(distance_km(accounts, reps, before), index=ids)
        np.testing.assert_allclose(
            table["distance_km_after"], d_after[table.index].round(3), atol=1e-9
        )
        np.testing.assert_allclose(
            table["distance_km_before"], d_before[table.index].round(3), atol=1e-9
        )

    @pytest.mark.parametrize(
        ("how", "options"),
        [
            ("vacant_reps", {"removed_reps": (), "vacant_reps": ("R3",)}),
            ("removed from the reps table", {"removed_reps": ()}),
            ("vacant column", {"removed_reps": ()}),
            ("TBH placeholder", {"removed_reps": ()}),
        ],
    )
    def test_vacancy_is_recognised_every_way(self, how: str, options: dict[str, object]) -> None:
        accounts, reps, after = hand_example()
        if how == "removed from the reps table":
            reps_after = reps[reps["rep_id"] != "R3"]
            table = transition_plan(accounts, None, after, reps_after, reps_before=reps, waves=RULE)
        else:
            if how == "vacant column":
                reps = reps.assign(vacant=["no", "no", "yes", "no"])
            elif how == "TBH placeholder":
                accounts = accounts.replace({"current_rep": {"R3": "TBH-3"}})
                reps = reps.replace({"rep_id": {"R3": "TBH-3"}})
            else:
                pass
            table = transition_plan(accounts, None, after, reps, waves=RULE, **options)  # type: ignore[arg-type]
        reason = table.set_index("account_id")["reason"]
        assert reason["A1"] == "vacancy"
        assert reason["A5"] == "balance"

    def test_vacancy_is_not_assumed_for_a_rep_who_stays(self) -> None:
        table = _hand(removed_reps=())
        reason = table.set_index("account_id")["reason"]
        # R3 is still in the reps table and not flagged: A1 moves farther away, for balance.
        assert reason["A1"] == "balance"

    def test_lock_from_an_argument_overrides_the_column(self) -> None:
        table = _hand(locked={"A5": "R1"})
        reason = table.set_index("account_id")["reason"]
        assert reason["A5"] == "lock"
        assert reason["A2"] == "capacity"  # the column's lock is replaced, R1 was overloaded

    def test_lock_to_another_rep_is_not_the_reason(self) -> None:
        table = _hand(locked={"A5": "R4"})
        assert table.set_index("account_id").loc["A5", "reason"] == "balance"

    def test_capacity_needs_the_old_rep_to_end_within_capacity(self) -> None:
        # R1 carries 60 h after; a capacity of 45 h keeps R1 over its limit after the move.
        table = _hand(capacity_after={"R1": 45.0})
        assert table.set_index("account_id").loc["A3", "reason"] == "balance"
        # Before-side capacity lifted: R1 was never over capacity.
        table = _hand(capacity_before={"R1": 200.0})
        assert table.set_index("account_id").loc["A3", "reason"] == "balance"

    def test_capacity_from_territory_tables(self) -> None:
        before = pd.DataFrame({"rep_id": ["R1", "R2"], "utilization": [0.9, 0.2]})
        table = _hand(territories_before=before)
        assert table.set_index("account_id").loc["A3", "reason"] == "balance"
        before = pd.DataFrame({"rep_id": ["R2"], "utilization": [1.3]})
        after = pd.DataFrame({"rep_id": ["R2"], "utilization": [0.4]})
        table = _hand(territories_before=before, territories_after=after)
        assert table.set_index("account_id").loc["A5", "reason"] == "capacity"

    def test_travel_needs_the_margin(self) -> None:
        table = _hand(travel_margin_km=250.0)
        assert table.set_index("account_id").loc["A4", "reason"] == "balance"
        table = _hand(travel_margin_share=0.99)
        assert table.set_index("account_id").loc["A4", "reason"] == "balance"
        assert _hand().set_index("account_id").loc["A4", "distance_km_before"] == pytest.approx(
            1.9 * KM_PER_DEGREE, rel=1e-3
        )

    def test_waves_are_ordered_by_risk(
        self, synthetic: tuple[pd.DataFrame, pd.DataFrame, np.ndarray]
    ) -> None:
        accounts, reps, after = synthetic
        table = transition_plan(accounts, None, after, reps)
        assert table["wave"].is_monotonic_increasing  # low-risk moves first
        assert set(table["wave"]) <= set(WAVES)
        revenue = table.groupby("wave")["revenue_last_year"]
        highest, lowest = revenue.max(), revenue.min()
        for low, high in zip(WAVES, WAVES[1:], strict=False):
            if low in highest.index and high in lowest.index:
                assert highest[low] <= lowest[high]
        prospects = table[table["revenue_last_year"] == 0]
        assert (prospects["wave"] == 1).all()

    def test_default_thresholds_are_quantiles_of_buyers(self) -> None:
        revenue = np.array([0.0, 10.0, 20.0, 30.0, 40.0, np.nan])
        small, key = WaveRule(small_quantile=0.5, key_quantile=1.0).thresholds(revenue)
        assert (small, key) == (25.0, 40.0)

    def test_key_segments_go_last(self) -> None:
        accounts, reps, after = hand_example()
        accounts = accounts.assign(segment=["SMB", "Key", "SMB", "SMB", "SMB", "SMB", "SMB", "SMB"])
        rule = WaveRule(small_revenue=1000.0, key_revenue=100_000.0, key_segments=("Key",))
        table = transition_plan(accounts, None, after, reps, removed_reps=("R3",), waves=rule)
        assert table.set_index("account_id").loc["A2", "wave"] == 3
        assert table["wave"].is_monotonic_increasing

    def test_revenue_at_risk_and_totals(
        self, synthetic: tuple[pd.DataFrame, pd.DataFrame, np.ndarray]
    ) -> None:
        accounts, reps, after = synthetic
        table = transition_plan(accounts, None, after, reps, risk_rate=0.2)
        np.testing.assert_allclose(
            table["revenue_at_risk"], (table["revenue_last_year"] * 0.2).round(2)
        )
        summary = transition_summary(table)
        assert summary["moves"] == len(table) == int(moved_mask(accounts, after).sum())
        assert summary["revenue_last_year"] == pytest.approx(revenue_moved(accounts, reps, after))
        assert summary["revenue_at_risk"] == pytest.approx(
            0.2 * revenue_moved(accounts, reps, after), abs=0.01 * len(table)
        )
        assert [w["wave"] for w in summary["waves"]] == list(WAVES)
        assert sum(w["moves"] for w in summary["waves"]) == summary["moves"]
        assert sum(w["revenue_at_risk"] for w in summary["waves"]) == pytest.approx(
            summary["revenue_at_risk"]
        )
        assert sum(summary["reasons"].values()) == summary["moves"]
        assert list(summary["reasons"]) == list(REASONS)

    def test_hand_summary(self) -> None:
        summary = transition_summary(_hand())
        assert summary["moves"] == 5
        assert summary["revenue_last_year"] == 205_500.0  # A5's unknown revenue counts as 0
        assert summary["revenue_at_risk"] == pytest.approx(0.15 * 205_500.0)
        assert [w["moves"] for w in summary["waves"]] == [2, 2, 1]
        assert summary["reasons"] == dict.fromkeys(REASONS, 1)
        risk = _hand().set_index("account_id")["revenue_at_risk"]
        assert math.isnan(float(risk["A5"]))

    def test_plans_in_every_shape_agree(self) -> None:
        accounts, reps, after = hand_example()
        base = _hand()
        by_frame = pd.DataFrame({"account_id": accounts["account_id"][::-1], "rep_id": after[::-1]})
        by_series = pd.Series(after, index=accounts["account_id"])
        before = accounts["current_rep"].tolist()
        for plan in (by_frame, by_series, list(after)):
            table = transition_plan(accounts, before, plan, reps, removed_reps=("R3",), waves=RULE)
            pd.testing.assert_frame_equal(table, base)

    def test_inputs_are_not_modified(self) -> None:
        accounts, reps, after = hand_example()
        copies = accounts.copy(), reps.copy(), after.copy()
        transition_plan(accounts, None, after, reps, removed_reps=("R3",))
        pd.testing.assert_frame_equal(accounts, copies[0])
        pd.testing.assert_frame_equal(reps, copies[1])
        assert (after == copies[2]).all()

    def test_no_moves_gives_an_empty_table(self) -> None:
        accounts, reps, _ = hand_example()
        current = ["R4", "R2", "R2", "R4", "R1", None, "R1", "R4"]
        accounts = accounts.assign(current_rep=np.array(current, dtype=object))
        _, _, after = hand_example()
        table = transition_plan(accounts, None, after, reps)
        assert table.empty and list(table.columns) == list(TRANSITION_COLUMNS)
        assert transition_summary(table)["moves"] == 0


class TestErrorsTransitions:
    def test_plan_of_the_wrong_length(self) -> None:
        accounts, reps, after = hand_example()
        with pytest.raises(DataValidationError, match="7 rep"):
            transition_plan(accounts, None, after[:7], reps)

    def test_account_without_a_rep_after(self) -> None:
        accounts, reps, after = hand_example()
        after = after.copy()
        after[2] = None
        with pytest.raises(DataValidationError, match="no rep after the change, e.g. A3"):
            transition_plan(accounts, None, after, reps)

    def test_account_missing_from_a_plan_frame(self) -> None:
        accounts, reps, after = hand_example()
        frame = pd.DataFrame({"account_id": accounts["account_id"][1:], "rep_id": after[1:]})
        with pytest.raises(DataValidationError, match="not in the plan, e.g. A1"):
            transition_plan(accounts, None, frame, reps)

    def test_no_current_rep_column(self) -> None:
        accounts, reps, after = hand_example()
        with pytest.raises(DataValidationError, match="pass plan_before"):
            transition_plan(accounts.drop(columns="current_rep"), None, after, reps)

    @pytest.mark.parametrize(
        ("options", "message"),
        [
            ({"risk_rate": 1.5}, "risk_rate = 1.5"),
            ({"capacity_limit": 0.0}, "capacity_limit"),
            ({"travel_margin_share": -0.1}, "travel_margin_share"),
            ({"waves": WaveRule(small_quantile=0.95, key_quantile=0.9)}, "small_quantile"),
            ({"waves": WaveRule(key_revenue=-1.0)}, "key_revenue = -1.0"),
        ],
    )
    def test_bad_settings_are_named(self, options: dict[str, object], message: str) -> None:
        accounts, reps, after = hand_example()
        with pytest.raises(ScenarioError, match=message):
            transition_plan(accounts, None, after, reps, **options)  # type: ignore[arg-type]
