"""Realignment levers in the solve: a travel limit and forbidden account-rep pairs."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from territory.domain.geo import haversine_km
from territory.domain.synthetic import make_instance
from territory.errors import DataValidationError, InfeasibleError, ScenarioError
from territory.workflow.api import align


@pytest.fixture(scope="module")
def instance() -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_instance(400, 8, seed=3)


def _distances(accounts: pd.DataFrame, reps: pd.DataFrame) -> np.ndarray:
    return haversine_km(
        accounts["lat"].to_numpy()[:, None],
        accounts["lon"].to_numpy()[:, None],
        reps["lat"].to_numpy()[None, :],
        reps["lon"].to_numpy()[None, :],
    )


class TestSyntheticLevers:
    def test_travel_limit_holds_for_every_account(
        self, instance: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        accounts, reps = instance
        free = align(accounts, reps, solver="heuristic", soft=True)
        nearest = _distances(accounts, reps).min(axis=1).max()
        longest = float(free.assignments["distance_km"].max())
        assert nearest < longest  # so a limit between them binds
        limit = (nearest + longest) / 2
        bounded = align(accounts, reps, solver="heuristic", soft=True, max_distance_km=limit)
        assert bounded.assignments["distance_km"].max() <= limit + 1e-6
        assert bounded.parameters["max_distance_km"] == limit
        # A travel limit only removes plans: no plan under it beats the free problem's bound.
        assert free.report.bound is not None
        assert bounded.report.objective >= free.report.bound - 1e-6

    def test_locked_account_keeps_its_rep_beyond_the_limit(
        self, instance: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        accounts, reps = instance
        distance = _distances(accounts, reps)
        far_rep = int(np.argmax(distance[0]))
        locked = accounts.copy()
        locked["locked_rep"] = None
        locked.loc[0, "locked_rep"] = reps["rep_id"].iloc[far_rep]
        limit = float(distance.min(axis=1).max()) + 50.0
        result = align(locked, reps, solver="heuristic", soft=True, max_distance_km=limit)
        assert result.assignments.loc[0, "rep_id"] == reps["rep_id"].iloc[far_rep]

    @pytest.mark.parametrize("solver", ["heuristic", "mip"])
    def test_forbidden_pairs_never_occur(
        self, instance: tuple[pd.DataFrame, pd.DataFrame], solver: str
    ) -> None:
        accounts, reps = instance
        free = align(accounts, reps, solver="heuristic")
        forbidden = free.assignments[["account_id", "rep_id"]].head(60)
        result = align(accounts, reps, solver=solver, forbidden=forbidden, time_limit_s=20)
        chosen = result.assignments.set_index("account_id")["rep_id"]
        for account, rep in forbidden.itertuples(index=False):
            assert chosen[account] != rep
        assert result.parameters["forbidden_pairs"] == 60
        # The bound still covers every allowed pair: pricing skips forbidden ones.
        assert result.report.bound is not None
        assert result.report.bound <= result.report.objective + 1e-6


class TestErrorsLevers:
    def test_account_out_of_reach_is_explained(
        self, instance: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        accounts, reps = instance
        nearest = _distances(accounts, reps).min(axis=1)
        worst = int(np.argmax(nearest))
        limit = float(nearest[worst]) - 1.0
        with pytest.raises(InfeasibleError, match=f"account {accounts['account_id'][worst]}"):
            align(accounts, reps, solver="heuristic", max_distance_km=limit)

    def test_every_rep_forbidden_is_explained(
        self, instance: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        accounts, reps = instance
        forbidden = pd.DataFrame(
            {"account_id": accounts["account_id"].iloc[0], "rep_id": reps["rep_id"]}
        )
        with pytest.raises(InfeasibleError, match="every rep is forbidden"):
            align(accounts, reps, solver="heuristic", forbidden=forbidden)

    def test_forbidden_pair_with_unknown_ids(
        self, instance: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        accounts, reps = instance
        forbidden = pd.DataFrame({"account_id": ["NOPE"], "rep_id": [reps["rep_id"].iloc[0]]})
        with pytest.raises(DataValidationError, match="account_id 'NOPE'"):
            align(accounts, reps, solver="heuristic", forbidden=forbidden)


class TestSyntheticMoveCaps:
    def test_moved_revenue_cap_holds_and_bound_is_valid(
        self, instance: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        accounts, reps = instance
        free = align(accounts, reps, solver="heuristic")
        revenue = accounts["revenue_last_year"].fillna(0.0).to_numpy()
        moved_share = revenue[free.assignments["moved"].to_numpy(bool)].sum() / revenue.sum()
        assert moved_share > 0.05  # the cap below binds
        capped = align(
            accounts, reps, solver="heuristic", max_moved_revenue_share=0.05, time_limit_s=60
        )
        moved = capped.assignments["moved"].to_numpy(bool)
        assert revenue[moved].sum() <= 0.05 * revenue.sum() * (1 + 1e-9)
        assert capped.report.max_potential_deviation <= 0.05 + 1e-6
        report = capped.report
        assert report.bound is not None and report.bound <= report.objective + 1e-6
        # The objective is travel plus disruption, without the price put on moves.
        assert report.objective == pytest.approx(report.metrics["travel_hour_km"], rel=1e-9)
        # Keeping more accounts in place costs travel: never better than the free plan's bound.
        assert free.report.bound is not None
        assert report.objective >= free.report.bound - 1e-6

    def test_moved_accounts_cap_holds(self, instance: tuple[pd.DataFrame, pd.DataFrame]) -> None:
        accounts, reps = instance
        free = align(accounts, reps, solver="heuristic")
        cap = int(free.assignments["moved"].sum()) // 2
        capped = align(accounts, reps, solver="heuristic", max_moved_accounts=cap, time_limit_s=60)
        assert capped.assignments["moved"].sum() <= cap
        assert capped.parameters["max_moved_accounts"] == cap

    def test_zero_cap_keeps_everyone(self, instance: tuple[pd.DataFrame, pd.DataFrame]) -> None:
        accounts, reps = instance
        # The current alignment overloads some reps, so only soft balance and overtime fit it.
        with pytest.raises(InfeasibleError, match="locked to rep"):
            align(accounts, reps, solver="heuristic", max_moved_accounts=0)
        current = align(
            accounts, reps, solver="heuristic", soft=True, allow_overtime=True,
            max_moved_accounts=0,
        )  # fmt: skip
        assert not current.assignments["moved"].any()


class TestErrorsMoveCaps:
    def test_bad_share_is_rejected(self, instance: tuple[pd.DataFrame, pd.DataFrame]) -> None:
        accounts, reps = instance
        with pytest.raises(ScenarioError, match="max_moved_revenue_share"):
            align(accounts, reps, max_moved_revenue_share=1.5)


def _with_families(accounts: pd.DataFrame, n_families: int = 25) -> pd.DataFrame:
    """Families of 2-4 accounts that are neighbours north to south, with gaps between them."""
    out = accounts.copy()
    family = np.full(len(out), None, dtype=object)
    order = np.argsort(out["lat"].to_numpy(), kind="stable")
    start = 0
    for f in range(n_families):
        size = 2 + f % 3
        family[order[start : start + size]] = f"F{f:02d}"
        start += size + 6
    out["family_id"] = family
    return out


def _family_locked(accounts: pd.DataFrame, reps: list[str]) -> tuple[pd.DataFrame, npt.NDArray]:
    """Accounts in families; the first members of family F03 locked to ``reps``, one each."""
    grouped = _with_families(accounts)
    members = np.flatnonzero(grouped["family_id"].to_numpy() == "F03")
    grouped["locked_rep"] = None
    for member, rep in zip(members, reps, strict=False):
        grouped.loc[member, "locked_rep"] = rep
    return grouped, members


class TestSyntheticFamilies:
    @pytest.mark.parametrize("solver", ["heuristic", "mip"])
    def test_families_stay_together(
        self, instance: tuple[pd.DataFrame, pd.DataFrame], solver: str
    ) -> None:
        accounts, reps = instance
        grouped = _with_families(accounts)
        result = align(grouped, reps, solver=solver, family_column="family_id", time_limit_s=20)
        plan = result.assignments.assign(family=grouped["family_id"].to_numpy())
        assert plan.dropna(subset=["family"]).groupby("family")["rep_id"].nunique().max() == 1
        assert len(result.assignments) == len(accounts)
        # Costs are summed over members exactly: the objective is the account-level travel.
        assert result.report.objective == pytest.approx(
            result.report.metrics["travel_hour_km"], rel=1e-9
        )
        assert result.report.max_potential_deviation <= 0.05 + 1e-6

    def test_a_lock_on_one_member_moves_the_family(
        self, instance: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        accounts, reps = instance
        grouped, members = _family_locked(accounts, [reps["rep_id"].iloc[2]])
        result = align(grouped, reps, solver="heuristic", family_column="family_id")
        assert set(result.assignments.loc[members, "rep_id"]) == {reps["rep_id"].iloc[2]}


class TestErrorsFamilies:
    def test_two_locks_in_one_family_are_rejected(
        self, instance: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        accounts, reps = instance
        grouped, _ = _family_locked(accounts, reps["rep_id"].iloc[:2].tolist())
        with pytest.raises(DataValidationError, match="family 'F03'"):
            align(grouped, reps, solver="heuristic", family_column="family_id")

    def test_missing_family_column(self, instance: tuple[pd.DataFrame, pd.DataFrame]) -> None:
        accounts, reps = instance
        with pytest.raises(DataValidationError, match="family column"):
            align(accounts, reps, family_column="parent_id")
