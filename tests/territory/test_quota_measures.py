"""Quotas per comp-plan measure, quota-to-OTE from the comp plan and the yearly-cap fallback."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from territory.domain import comp
from territory.domain.comp import ACCOUNT_MANAGER, HUNTER, CompPlan
from territory.domain.quota_measures import check_measure_quotas
from territory.domain.quotas import (
    QuotaConfig,
    QuotaMethod,
    Seasonality,
    YearlyCaps,
    plan_quotas,
    territory_history,
)
from territory.errors import DataValidationError

# Account managers paid 60/40 on renewals and expansion; hunters on bookings alone.
AM = ACCOUNT_MANAGER.model_copy(
    update={
        "ote": 150_000.0,
        "measures": (
            comp.Measure(name="renewal", weight=0.6),
            comp.Measure(name="expansion", weight=0.4),
        ),
    }
)
PLAN = CompPlan.of(HUNTER, AM, plan_id="two-roles")


def potential_config(target: float = 900_000.0, **kwargs: object) -> QuotaConfig:
    return QuotaConfig(
        company_target=target,
        method=QuotaMethod(name="potential"),
        **kwargs,  # type: ignore[arg-type]
    )


def three(**columns: Any) -> pd.DataFrame:
    """Potential 500k/300k/200k held by a hunter and two account managers."""
    frame = pd.DataFrame(
        {
            "rep_id": ["A", "B", "C"],
            "role": ["hunter", "account_manager", "account_manager"],
            "potential": [500_000.0, 300_000.0, 200_000.0],
        }
    )
    return frame.assign(**columns)


class TestCapFallback:
    def test_caps_use_last_years_sales_without_last_years_quota(self) -> None:
        # 300k sold each, scaled to the 990k street total: 330k each, caps 280.5k..412.5k.
        # Potential asks 495k / 297k / 198k: A is held at 412.5k and C lifted to 280.5k.
        plan = plan_quotas(three(history=[300_000.0] * 3), potential_config())
        assert plan.table["final_annual_quota"].tolist() == [412_500.0, 297_000.0, 280_500.0]
        assert plan.table["yoy_clip"].tolist() == ["ceiling", "none", "floor"]
        (warning,) = plan.summary.warnings
        assert warning.startswith("3 of 3 territories have no last year's quota")
        assert "quota_last_year" in warning and "x 1.100" in warning

    def test_the_fallback_holds_whatever_the_growth(self) -> None:
        # A street total four times last year's sales: unscaled +25% caps could never hold.
        plan = plan_quotas(three(history=[300_000.0] * 3), potential_config(target=3_272_727.27))
        assert plan.table["final_annual_quota"].sum() == pytest.approx(3_600_000.0)
        assert plan.table["yoy_clip"].tolist() == ["ceiling", "none", "floor"]

    def test_only_territories_without_a_quota_fall_back(self) -> None:
        frame = three(history=[300_000.0] * 3, prior_quota=[np.nan, 330_000.0, 330_000.0])
        plan = plan_quotas(frame, potential_config())
        assert plan.table["final_annual_quota"].tolist() == [412_500.0, 297_000.0, 280_500.0]
        assert plan.summary.warnings[0].startswith("1 of 3 territories")
        # The table still reports the change against last year's quota only where there is one.
        assert np.isnan(plan.table["yoy_change_pct"].iloc[0])

    @pytest.mark.parametrize(
        "columns",
        [
            {"prior_quota": [300_000.0] * 3, "history": [300_000.0] * 3},
            {},  # no reference at all: nothing to cap, nothing to say
        ],
    )
    def test_no_warning_when_nothing_falls_back(self, columns: dict[str, Any]) -> None:
        assert plan_quotas(three(**columns), potential_config()).summary.warnings == ()

    def test_caps_on_history_by_choice_say_nothing(self) -> None:
        cfg = potential_config(caps=YearlyCaps(reference="history"))
        plan = plan_quotas(three(history=[300_000.0] * 3), cfg)
        assert plan.summary.warnings == ()
        assert plan.table["yoy_clip"].tolist() == ["ceiling", "none", "floor"]


class TestQuotaToOte:
    def test_role_ote_fills_the_column(self) -> None:
        plan = plan_quotas(three(), potential_config(), comp=PLAN)
        quota = plan.table["final_annual_quota"].to_numpy()
        expected = quota / np.array([HUNTER.ote, 150_000.0, 150_000.0])
        assert plan.table["quota_to_ote"].to_numpy() == pytest.approx(expected)

    def test_a_reps_own_ote_wins(self) -> None:
        plan = plan_quotas(three(ote=[np.nan, 100_000.0, np.nan]), potential_config(), comp=PLAN)
        quota = plan.table["final_annual_quota"].to_numpy()
        assert plan.table["quota_to_ote"].iloc[1] == pytest.approx(quota[1] / 100_000.0)
        assert plan.table["quota_to_ote"].iloc[2] == pytest.approx(quota[2] / 150_000.0)

    def test_empty_without_a_comp_plan(self) -> None:
        plan = plan_quotas(three(), potential_config())
        assert plan.table["quota_to_ote"].isna().all()
        assert plan.by_measure is None

    def test_a_role_without_a_plan_names_the_row(self) -> None:
        with pytest.raises(DataValidationError) as caught:
            plan_quotas(
                three(role=["hunter", "farmer", "account_manager"]), potential_config(), comp=PLAN
            )
        (problem,) = caught.value.problems
        assert (problem.row, problem.column) == (3, "role")
        assert "'farmer'" in problem.message and "account_manager" in problem.fix


class TestQuotasByMeasure:
    def test_split_by_weight(self) -> None:
        plan = plan_quotas(three(), potential_config(), comp=PLAN)
        table = plan.by_measure
        assert table is not None
        assert table["measure"].tolist() == [
            "bookings",
            "renewal",
            "expansion",
            "renewal",
            "expansion",
        ]
        assert table["split_basis"].eq("weight").all()
        # B's 297,000 splits 60/40; each measure's quota carries its weight's share of OTE.
        b = table[table["rep_id"] == "B"].set_index("measure")
        assert b["final_annual_quota"].to_dict() == {"renewal": 178_200.0, "expansion": 118_800.0}
        assert b["quota_to_ote"].to_numpy() == pytest.approx([297_000.0 / 150_000.0] * 2)

    def test_split_by_last_years_sales_of_each_measure(self) -> None:
        frame = three(
            history_renewal=[np.nan, 90_000.0, 50_000.0],
            history_expansion=[np.nan, 10_000.0, 0.0],
        )
        table = plan_quotas(frame, potential_config(), comp=PLAN).by_measure
        assert table is not None
        b = table[table["rep_id"] == "B"].set_index("measure")
        assert b["final_annual_quota"].to_dict() == {"renewal": 267_300.0, "expansion": 29_700.0}
        assert table.set_index(["rep_id", "measure"])["split_basis"].to_dict() == {
            ("A", "bookings"): "weight",
            ("B", "renewal"): "history",
            ("B", "expansion"): "history",
            ("C", "renewal"): "history",
            ("C", "expansion"): "history",
        }

    def test_measure_history_is_summed_from_the_accounts(self) -> None:
        accounts = pd.DataFrame(
            {
                "account_id": ["a1", "a2", "a3"],
                "potential": [1.0, 1.0, 1.0],
                "revenue_last_year": [10.0, 20.0, 30.0],
                "renewal_last_year": [4.0, 5.0, np.nan],
                "quota_last_year": [11.0, 22.0, 33.0],
            }
        )
        history = territory_history(accounts, ["B", "B", "C"])
        assert history["history_renewal"].tolist()[0] == 9.0
        assert np.isnan(history["history_renewal"].tolist()[1])
        assert history["prior_quota"].tolist() == [33.0, 33.0]
        assert "history_quota" not in history.columns and "history_revenue" not in history.columns

    def test_check_accepts_its_own_split(self) -> None:
        plan = plan_quotas(three(), potential_config(), comp=PLAN)
        assert plan.by_measure is not None
        totals = check_measure_quotas(plan.by_measure, plan.table, PLAN, "q.csv")
        assert totals == {"bookings": 495_000.0, "expansion": 198_000.0, "renewal": 297_000.0}

    def test_check_refuses_a_split_for_another_plan(self) -> None:
        plan = plan_quotas(three(), potential_config(), comp=PLAN)
        assert plan.by_measure is not None
        quota = plan.by_measure["final_annual_quota"].to_numpy() + np.array([0.01, 0, 0, 0, 0])
        other = plan.by_measure.assign(
            measure=plan.by_measure["measure"].replace("expansion", "upsell"),
            final_annual_quota=quota,
        )
        with pytest.raises(DataValidationError) as caught:
            check_measure_quotas(other, plan.table, PLAN, "q.csv")
        said = [(p.source, p.row, p.column) for p in caught.value.problems]
        assert said == [
            ("q.csv", 4, "measure"),
            ("q.csv", 6, "measure"),
            ("q.csv", None, "final_annual_quota"),
        ]
        assert "territory A" in caught.value.problems[-1].message


@settings(max_examples=40, deadline=None)
@given(
    potentials=st.lists(st.floats(1_000.0, 5e6), min_size=1, max_size=12),
    roles=st.lists(st.sampled_from(["hunter", "account_manager", None]), min_size=12, max_size=12),
    target=st.floats(10_000.0, 5e8),
    periods=st.sampled_from(["quarter", "month"]),
    by_history=st.booleans(),
)
def test_measures_add_up_to_every_quota(
    potentials: list[float],
    roles: list[str | None],
    target: float,
    periods: str,
    by_history: bool,
) -> None:
    """Per territory, period and measure the cents add up: to the quota, the period, the target."""
    n = len(potentials)
    frame = pd.DataFrame({"rep_id": [f"R{i}" for i in range(n)], "potential": potentials})
    frame["role"] = roles[:n]
    if by_history:
        frame["history_renewal"] = np.linspace(1.0, 3.0, n)
        frame["history_expansion"] = np.linspace(2.0, 0.0, n)
    cfg = potential_config(target, seasonality=Seasonality(periods=periods))  # type: ignore[arg-type]
    plan = plan_quotas(frame, cfg, comp=PLAN)
    table, split = plan.table, plan.by_measure
    assert split is not None
    columns = list(cfg.seasonality.columns)

    def cents(values: pd.Series | pd.DataFrame) -> np.ndarray:
        return np.rint(values.to_numpy(dtype=np.float64) * 100).astype(np.int64)

    # The total still adds up to the street total, and every measure's periods to its year.
    assert cents(split["final_annual_quota"]).sum() == cents(table["final_annual_quota"]).sum()
    assert cents(table["final_annual_quota"]).sum() == round(cfg.street_total * 100)
    assert (cents(split[columns]).sum(axis=1) == cents(split["final_annual_quota"])).all()
    # Per territory: the measures add up to its quota, in the year and in every period.
    per_rep = split.groupby("territory_id", sort=False)[["final_annual_quota", *columns]].sum()
    per_rep = per_rep.reindex(table["territory_id"])
    assert (cents(per_rep) == cents(table[["final_annual_quota", *columns]])).all()
    # Each measure is one its role plan pays, and no quota is negative.
    paid = {"hunter": {"bookings"}, "account_manager": {"renewal", "expansion"}}
    for role_plan, measure in zip(split["role_plan"], split["measure"], strict=True):
        assert measure in paid[role_plan]
    assert (cents(split[columns]) >= 0).all()
