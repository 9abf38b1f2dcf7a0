"""Finance steps on an alignment run: quotas, then the comp plan's stress test and sensitivity.

Each step reads a :class:`~territory.io.runs.PlanFolder`, computes with the domain modules
(:mod:`territory.domain.quotas`, :mod:`territory.domain.comp`, :mod:`territory.domain.stress`) and
returns frames; the
CLI writes them. Nothing here prints or touches files.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from territory.domain.comp import CompPlan
from territory.domain.payouts import payout_table, sample_calculations
from territory.domain.quotas import (
    BacktestResult,
    QuotaConfig,
    QuotaPlan,
    backtest,
    plan_quotas,
    quotas_long,
    territory_history,
)
from territory.domain.stress import (
    StressConfig,
    StressInputs,
    StressResult,
    run_stress,
    sensitivity_grid,
)
from territory.domain.stress_centre import centre_on_model
from territory.io.runs import PlanFolder

if TYPE_CHECKING:
    from territory.domain.response import ResponseModel


def quota_inputs(run: PlanFolder) -> pd.DataFrame:
    """One row per territory: the plan's potential and capacity with history re-based to it."""
    assignments = pd.DataFrame(
        {
            "account_id": run.accounts["account_id"].astype(str).to_numpy(),
            "rep_id": run.rep_of_account.astype(str).to_numpy(),
        }
    )
    history = territory_history(run.accounts, assignments, run.reps)
    base = run.territories[["rep_id", "potential", "capacity", "n_accounts"]].copy()
    base["rep_id"] = base["rep_id"].astype(str)
    extra = [c for c in history.columns if c not in base.columns or c == "rep_id"]
    merged = base.merge(history[extra], on="rep_id", how="left", validate="one_to_one")
    for column in REP_QUOTA_COLUMNS:
        if column not in merged.columns and column in run.reps.columns:
            merged[column] = run.reps[column].to_numpy()
    return merged


REP_QUOTA_COLUMNS = (
    "segment", "fte", "vacant", "tenure_months", "hire_month", "availability", "ote", "n_deals",
)  # fmt: skip
"""Optional reps columns the quota methods read (new hires, vacancies, part-time reps)."""

REP_STRESS_COLUMNS = ("ote", "months_in_role", "tenure_months", "effectiveness", "segment")
"""Optional reps columns the stress test reads (ramp, vacancy, known effectiveness)."""


@dataclass(frozen=True)
class QuotaStep:
    """Quotas of a plan, with the backtest when two years of history exist."""

    plan: QuotaPlan
    backtest: BacktestResult | None
    inputs: pd.DataFrame
    last_year_target: float | None = None

    def summary_document(self, config: QuotaConfig) -> dict[str, Any]:
        """Build what ``quota_summary.json`` holds: parameters, plan-level numbers, backtest."""
        doc: dict[str, Any] = {"config": asdict(config), "summary": asdict(self.plan.summary)}
        if self.backtest is not None:
            bt = asdict(self.backtest)
            bt.pop("table")
            if self.last_year_target is None:
                # Without last year's plan number the forecast error cannot be measured; the
                # backtest then scores only how quotas were spread (WMAPE against actuals).
                bt["plan_target"] = None
                bt["company_error"] = None
                bt["company_status"] = "NOT_ASSESSABLE"
            doc["backtest"] = bt
        else:
            doc["backtest"] = None
        if self.plan.by_measure is not None:
            # Tells the stress test that quotas_by_measure.csv belongs to these quotas.
            by_measure = self.plan.by_measure.groupby("measure", sort=True)["final_annual_quota"]
            doc["quota_by_measure"] = {
                str(k): round(float(v), 2) for k, v in by_measure.sum().items()
            }
        return doc


def quota_rows(annual: pd.DataFrame, by_measure: pd.DataFrame | None = None) -> pd.DataFrame:
    """quotas.csv: one row per rep and period with the method, its bases and the change.

    With ``by_measure`` (quotas split over the comp plan's measures) there is one row per rep,
    measure and period: ``period_quota`` and ``annual_quota`` are the measure's, and
    ``rep_annual_quota`` the rep's total over its measures.
    """
    keep = [
        c
        for c in (
            "rep_id", "method", "w_history", "potential", "history_basis", "allocation_share",
            "final_annual_quota", "prior_quota_rebased", "yoy_change_pct", "yoy_clip",
            "ramp_factor", "quota_to_potential",
        )
        if c in annual.columns
    ]  # fmt: skip
    if by_measure is None:
        long = quotas_long(annual)
        return long.merge(annual[keep], on="rep_id", how="left", validate="many_to_one").rename(
            columns={"quota": "period_quota", "final_annual_quota": "annual_quota"}
        )
    long = quotas_long(by_measure)
    measure = by_measure[
        ["rep_id", "measure", "weight", "split_basis", "final_annual_quota", "quota_to_ote"]
    ].rename(columns={"final_annual_quota": "annual_quota"})
    rep = annual[keep].rename(columns={"final_annual_quota": "rep_annual_quota"})
    return (
        long.merge(measure, on=["rep_id", "measure"], how="left", validate="many_to_one")
        .merge(rep, on="rep_id", how="left", validate="many_to_one")
        .rename(columns={"quota": "period_quota"})
    )


def set_plan_quotas(
    run: PlanFolder,
    config: QuotaConfig,
    *,
    period_sales: pd.DataFrame | None = None,
    last_year_target: float | None = None,
    comp: CompPlan | None = None,
) -> QuotaStep:
    """Quotas for every territory of the run; the backtest runs when last year's basis exists.

    ``comp`` (the comp plan) fills each rep's OTE and splits the quotas per measure.
    ``period_sales`` (rep_id, year, period, sales) gives the seasonality its history;
    ``last_year_target`` (the plan number of the year just ended) lets the backtest measure the
    company forecast error too. Without it the backtest compares quotas rescaled to the actual
    total, which scores only how the number was spread.
    """
    inputs = quota_inputs(run)
    plan = plan_quotas(inputs, config, period_sales=period_sales, comp=comp)
    result = None
    if "history_prev" in inputs.columns and inputs["history_prev"].notna().any():
        actual = float(inputs["history"].sum())
        target = last_year_target if last_year_target is not None else actual
        result = backtest(inputs, config, plan_target=target)
    return QuotaStep(plan=plan, backtest=result, inputs=inputs, last_year_target=last_year_target)


def stress_inputs(
    run: PlanFolder, quotas: pd.DataFrame, comp: CompPlan, forecast: float | None
) -> tuple[StressInputs, float]:
    """Per-rep quota, role and expected sales for the simulation, and the forecast used.

    Expected sales follow last year's revenue where the territory has it and potential times
    the company's penetration elsewhere, scaled so they add up to the forecast: by default the
    company target the quotas were set from (less non-quota revenue), so that at 100% of plan
    the over-assignment shows as reps below quota.
    """
    # A vacant seat's quota is held by "TBH-<territory>": look quotas up by territory, whose id
    # is the aligned rep's id.
    key = "territory_id" if "territory_id" in quotas.columns else "rep_id"
    annual = quotas.groupby(quotas[key].astype(str), sort=False)["final_annual_quota"].sum()
    frame = run.territories[["rep_id", "potential"]].copy()
    frame["rep_id"] = frame["rep_id"].astype(str)
    frame["quota"] = frame["rep_id"].map(annual).fillna(0.0).to_numpy()
    roles = (
        run.reps["role"] if "role" in run.reps.columns else pd.Series(None, index=run.reps.index)
    )
    default_role = next(iter(comp.roles.values())).rep_roles[0]
    frame["role"] = roles.fillna(default_role).astype(str).to_numpy()
    history = territory_history(
        run.accounts,
        pd.DataFrame(
            {
                "account_id": run.accounts["account_id"].astype(str).to_numpy(),
                "rep_id": run.rep_of_account.astype(str).to_numpy(),
            }
        ),
        run.reps,
    ).set_index("rep_id")["history"]
    hist = frame["rep_id"].map(history).to_numpy(dtype=np.float64)
    potential = frame["potential"].to_numpy(dtype=np.float64)
    known = ~np.isnan(hist) & (hist > 0)
    penetration = float(hist[known].sum() / potential[known].sum()) if known.any() else 1.0
    frame["expected_sales"] = np.where(known, hist, potential * penetration)
    for column in REP_STRESS_COLUMNS:
        if column in run.reps.columns:
            frame[column] = run.reps[column].to_numpy()
    plan_number = run.plan_revenue()
    if forecast is not None:
        target = forecast
    elif plan_number is not None:
        target = plan_number
    else:
        target = float(frame["quota"].sum())
    return StressInputs.from_frame(frame, comp, forecast=target), target


def scenario_bands(result: StressResult) -> pd.DataFrame:
    """Return the scenario table with P10/P90 next to P50 for cost of sales and share at quota.

    Finance asks for the spread of every headline number at each company attainment, not only
    of incentive cost: the band says how much the outcome moves when the company total does not.
    """
    table = result.scenario_table()
    ccos = np.percentile(result.ccos, [10, 90], axis=1)
    at_quota = 100.0 * np.percentile(result.share_ge_quota, [10, 50, 90], axis=1)
    position = table.columns.get_loc("ccos_p50")
    assert isinstance(position, int)
    table.insert(position, "ccos_p10", ccos[0])
    table.insert(position + 2, "ccos_p90", ccos[1])
    position = table.columns.get_loc("pct_reps_ge_quota")
    assert isinstance(position, int)
    for offset, (name, values) in enumerate(
        zip(
            ("pct_reps_ge_quota_p10", "pct_reps_ge_quota_p50", "pct_reps_ge_quota_p90"),
            at_quota,
            strict=True,
        ),
        start=1,
    ):
        table.insert(position + offset, name, values)
    return table


@dataclass(frozen=True)
class StressStep:
    """The stress test's tables, ready to write, plus the result for charts."""

    result: StressResult
    scenarios: pd.DataFrame
    sensitivity: pd.DataFrame
    rep_impact: pd.DataFrame
    payout_table: pd.DataFrame
    cost_distribution: pd.DataFrame
    attainment_histogram: pd.DataFrame
    samples: list[str]
    forecast: float
    lever: str
    expected_sales: dict[str, Any] | None = None
    """Where attainment was centred when a response model was used (None: history only)."""
    quota_by_measure: dict[str, float] | None = None
    """Quota per comp-plan measure the stress read (None: quotas were set without a plan)."""


def stress_plan(
    run: PlanFolder,
    comp: CompPlan,
    *,
    config: StressConfig | None = None,
    seed: int = 7,
    forecast: float | None = None,
    lever: str = "over_assignment",
    quotas: pd.DataFrame | None = None,
    model: ResponseModel | None = None,
) -> StressStep:
    """Monte Carlo stress test of the run's quotas under the comp plan, and its sensitivity.

    ``quotas`` defaults to those ``territory quota`` stored in the run folder; pass
    ``set_plan_quotas(...).plan.table`` to stress quotas not written anywhere yet. With a
    ``model`` each rep's attainment is centred on the model's expected sales under the plan
    (:func:`~territory.domain.stress_centre.centre_on_model`) instead of last year's revenue.
    """
    table = quotas if quotas is not None else run.quotas()
    inputs, target = stress_inputs(run, table, comp, forecast)
    centre = None
    if model is not None:
        ramp = (config or StressConfig()).ramp_schedule
        inputs, notes = centre_on_model(
            inputs, model, run.accounts, run.reps, run.plan[["account_id", "rep_id"]],
            ramp_schedule=ramp,
        )  # fmt: skip
        centre = {"source": "model", "model_source": model.source, "warnings": notes}
    result = run_stress(inputs, comp, config, seed=seed)
    grid = sensitivity_grid(inputs, comp, lever, config=config, seed=seed)
    return StressStep(
        result=result,
        scenarios=scenario_bands(result),
        sensitivity=grid,
        rep_impact=result.rep_impact,
        payout_table=payout_table(comp),
        cost_distribution=result.cost_distribution(),
        attainment_histogram=result.attainment_histogram(),
        samples=sample_calculations(comp),
        forecast=target,
        lever=lever,
        expected_sales=centre,
    )
