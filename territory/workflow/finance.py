"""Finance steps on an alignment run: quotas, then the comp plan's stress test and sensitivity.

Each step reads a :class:`~territory.io.runs.PlanFolder` (its only way to the files), computes
with the domain modules (:mod:`territory.domain.quotas`, :mod:`territory.domain.comp`,
:mod:`territory.domain.stress`) and returns frames; the CLI writes them, finance.xlsx as
:func:`finance_sheets` lays it out. Nothing here prints or writes files.
"""

from __future__ import annotations

import hashlib
import json
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
from territory.io.output_rules import engine_version
from territory.io.runs import PlanFolder
from territory.io.sheets import column_spec

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


# ------------------------------------------------------------------------------------------
# finance.xlsx: the sheets, in the order a finance reviewer reads them

FINANCE_SHEETS = (
    "Scenarios", "Sensitivity", "Rep impact", "Quotas", "Payout table", "Cost distribution",
    "Assumptions",
)  # fmt: skip
"""Sheet names of finance.xlsx (Quotas only when the run has quotas)."""

_QUOTA_SHEET_COLUMNS = (
    "territory_id", "rep_id", "role", "measure", "currency", "method", "final_annual_quota",
    "prior_quota_rebased", "yoy_change_pct", "yoy_clip", "quota_to_potential", "quota_to_ote",
    "ramp_factor", "w_history", "potential", "history_basis", "capacity_usd",
    "allocation_share", "over_assignment_factor", "status",
)  # fmt: skip
"""Columns of the Quotas sheet from quotas_annual, periods (q1.. or m01..) after the quota."""


@dataclass(frozen=True)
class FinanceRun:
    """What finance.xlsx is made from: the run folder, its stress step and how it was run.

    ``comp_source`` is the comp plan file's bytes, hashed into the plan fingerprint.
    """

    run: PlanFolder
    step: StressStep
    comp: CompPlan
    seed: int
    n_sims: int
    comp_source: bytes | None = None


def finance_sheets(made: FinanceRun) -> dict[str, pd.DataFrame]:
    """Assemble the sheets of finance.xlsx from a stress step and the run it was made on.

    Every quota row of the run (per rep and measure, annual and by period) goes to Quotas;
    columns without a single value are left out and named in Assumptions, which also records
    the target, methods, simulation settings and the plan's fingerprint. Prior-year quota and
    payout are filled from the inputs when they hold them (see :func:`prior_year_columns`).

    Parameters
    ----------
    made
        The run folder (its quotas, ``quota_summary.json`` and ``solve.json``), the stress
        step's tables, the comp plan and the simulation's seed and size.

    Returns
    -------
    dict
        Sheet name to table, in :data:`FINANCE_SHEETS` order; formats come from the column
        table when written (:func:`territory.io.write_workbook`).
    """
    run, step, comp = made.run, made.step, made.comp
    rep_impact, prior_notes = prior_year_columns(step.rep_impact, run)
    tables: dict[str, pd.DataFrame] = {
        "Scenarios": step.scenarios,
        "Sensitivity": step.sensitivity,
        "Rep impact": rep_impact,
    }
    quotas = run.quotas() if (run.path / "quotas.parquet").exists() else None
    if quotas is not None:
        tables["Quotas"] = quota_sheet(quotas)
    tables["Payout table"] = step.payout_table
    tables["Cost distribution"] = step.cost_distribution
    left_out: list[str] = []
    for name, frame in tables.items():
        empty = [c for c in frame.columns if frame[c].isna().all()]
        if empty and len(frame):
            tables[name] = frame.drop(columns=empty)
            headers = [column_spec(c, currency=comp.currency).header for c in empty]
            left_out.append(f"{name}: {', '.join(headers)}")
    rows = assumption_rows(made)
    rows += prior_notes
    if left_out:
        rows.append(("Columns left out (no data)", "; ".join(left_out), "text", "this workbook"))
    tables["Assumptions"] = pd.DataFrame(
        rows, columns=["setting", "value", "value_kind", "source"]
    ).astype({"value": object})
    return tables


def quota_sheet(quotas: pd.DataFrame) -> pd.DataFrame:
    """Quotas per rep and measure: the annual quota, then one column per period, then bases."""
    periods = [c for c in quotas.columns if c[:1] in ("q", "m") and c[1:].isdigit()]
    keep = [c for c in _QUOTA_SHEET_COLUMNS if c in quotas.columns]
    at = keep.index("final_annual_quota") + 1 if "final_annual_quota" in keep else len(keep)
    return quotas[keep[:at] + periods + keep[at:]].reset_index(drop=True)


def prior_year_columns(
    rep_impact: pd.DataFrame, run: PlanFolder
) -> tuple[pd.DataFrame, list[tuple[str, object, str, str]]]:
    """Fill prior-year quota and payout from the inputs, and say where they came from.

    Prior-year quota: the reps' ``prior_year_quota``, else the sum of the accounts'
    ``quota_last_year`` over each territory (the quota last year's owners carried for the
    accounts the territory holds now). Prior-year payout only from the reps'
    ``prior_year_payout``: this year's comp plan applied to last year's sales would not be
    what was paid. A column the inputs cannot fill is left out, with a note naming the input
    that would fill it.
    """
    frame = rep_impact.copy()
    notes: list[tuple[str, object, str, str]] = []
    reps = run.reps.assign(rep_id=run.reps["rep_id"].astype(str)).set_index("rep_id")
    ids = frame["rep_id"].astype(str)
    quota_source = "stress inputs"
    if frame["prior_year_quota"].isna().all() and "prior_year_quota" in reps.columns:
        frame["prior_year_quota"] = ids.map(pd.to_numeric(reps["prior_year_quota"])).to_numpy()
        quota_source = "reps.prior_year_quota"
    if frame["prior_year_quota"].isna().all() and "quota_last_year" in run.accounts.columns:
        last = pd.to_numeric(run.accounts["quota_last_year"], errors="coerce")
        by_territory = last.groupby(run.rep_of_account.astype(str).to_numpy()).sum(min_count=1)
        frame["prior_year_quota"] = frame["territory_id"].astype(str).map(by_territory).to_numpy()
        quota_source = "accounts.quota_last_year, summed over each territory's accounts"
    if frame["prior_year_payout"].isna().all() and "prior_year_payout" in reps.columns:
        frame["prior_year_payout"] = ids.map(pd.to_numeric(reps["prior_year_payout"])).to_numpy()
    frame["delta_expected_payout"] = frame["expected_payout"] - frame["prior_year_payout"]
    if frame["prior_year_quota"].isna().all():
        frame = frame.drop(columns=["prior_year_quota"])
        notes.append(
            ("Prior-year quota", "not in the inputs: column left out", "text",
             "add quota_last_year to the accounts (or prior_year_quota to the reps)")
        )  # fmt: skip
    else:
        notes.append(("Prior-year quota", "filled", "text", quota_source))
    if frame["prior_year_payout"].isna().all():
        frame = frame.drop(columns=["prior_year_payout", "delta_expected_payout"])
        notes.append(
            ("Prior-year payout", "not in the inputs: columns left out", "text",
             "add prior_year_payout (incentive paid last year) to the reps")
        )  # fmt: skip
    else:
        notes.append(("Prior-year payout", "filled", "text", "reps.prior_year_payout"))
    return frame, notes


def assumption_rows(made: FinanceRun) -> list[tuple[str, object, str, str]]:
    """Rows (setting, value, kind, source) of the Assumptions sheet: what the numbers rest on."""
    run, step, comp = made.run, made.step, made.comp
    rows: list[tuple[str, object, str, str]] = []
    summary_doc = run.document("quota_summary.json") or {}
    config = summary_doc.get("config") or {}
    summary = summary_doc.get("summary") or {}
    backtest = summary_doc.get("backtest") or {}
    where = "quota_summary.json"
    if config:
        method = config.get("method") or {}
        over = config.get("over_assignment")
        caps = config.get("caps")
        rows += [
            ("Company target", config.get("company_target"), "money", where),
            ("Non-quota revenue", config.get("non_quota_revenue"), "money", where),
            ("Over-assignment", over if not isinstance(over, list) else
             summary.get("over_assignment_factor", 1.0) - 1.0, "share", where),
            ("Over-assignment factor", summary.get("over_assignment_factor"), "multiple", where),
            ("Street total (sum of quotas)", summary.get("street_total"), "money", where),
            ("Last year's plan number", backtest.get("plan_target"), "money", where),
            ("Plan year", config.get("plan_year"), "year", where),
            ("Quota method", method.get("name"), "text", where),
            ("History weight (blended method)", *_history_weight(method), where),
            ("Quota periods", (config.get("seasonality") or {}).get("periods"), "text", where),
            ("Year-over-year caps", _caps_text(caps), "text", where),
        ]  # fmt: skip
    rows += [
        ("Comp plan", comp.plan_id, "text", "comp_plan.toml"),
        ("Currency", comp.currency, "text", "comp_plan.toml"),
        ("Forecast (company sales at 100% of plan)", step.forecast, "money", "stress.json"),
        ("Simulations", made.n_sims, "count", "stress.json"),
        ("Seed", made.seed, "count", "stress.json"),
        ("Sensitivity lever", step.lever, "text", "stress.json"),
    ]
    stress_config = step.result.config
    for label, value in (
        ("Company spread (log-sd)", stress_config.sigma_company),
        ("Segment spread (log-sd)", stress_config.sigma_segment),
        ("Rep effectiveness spread (log-sd)", stress_config.sigma_effectiveness),
        ("Rep idiosyncratic spread (log-sd)", stress_config.sigma_idio),
    ):
        rows.append((label, value, "number", "stress settings"))
    rows.append(("Expected-sales centre", _centre_text(step.expected_sales), "text", "stress.json"))
    inputs = run.solve.get("inputs") or {}
    hashes = {str(k): str(v) for k, v in sorted(inputs.items()) if v}
    if made.comp_source is not None:
        hashes["comp_plan"] = "sha256:" + hashlib.sha256(made.comp_source).hexdigest()
    for name, digest in hashes.items():
        source = "solve.json" if name in inputs else "comp_plan.toml"
        label = f"{name.replace('_', ' ').capitalize()} file (sha256)"
        rows.append((label, digest, "text", source))
    joined = json.dumps(hashes, sort_keys=True).encode()
    fingerprint = hashlib.sha256(joined).hexdigest()[:16]
    rows.append(("Plan fingerprint", fingerprint, "text", "sha256 of the input hashes above"))
    rows.append(("Engine version (align)", run.solve.get("version"), "text", "solve.json"))
    rows.append(("Engine version (stress)", engine_version(), "text", "installed package"))
    return [row for row in rows if row[1] is not None]


def _history_weight(method: dict[str, Any]) -> tuple[object, str]:
    """Give the blend's history weight: one share, or the weights by role as text."""
    fixed = method.get("history_weight")
    if fixed is not None:
        return float(fixed), "share"
    by_role = method.get("role_history_weights") or {}
    parts = [f"{role} {100 * float(w):g}%" for role, w in sorted(by_role.items())]
    other = method.get("other_role_history_weight")
    if other is not None:
        parts.append(f"other roles {100 * float(other):g}%")
    return ("by role: " + ", ".join(parts)) if parts else None, "text"


def _caps_text(caps: dict[str, Any] | None) -> str:
    """Year-over-year caps as a sentence (text that cannot start like a formula)."""
    if not caps:
        return "off"
    low, high = 100 * float(caps.get("min_change", 0.0)), 100 * float(caps.get("max_change", 0.0))
    reference = str(caps.get("reference", "prior_quota")).replace("_", " ")
    return f"change on the {reference} kept between {low:g}% and {high:+g}%"


def _centre_text(expected: dict[str, Any] | None) -> str:
    """Where each rep's attainment was centred, as the stress step recorded it."""
    if not expected or expected.get("source") != "model":
        reason = f" ({expected['reason']})" if expected and expected.get("reason") else ""
        return (
            "history: last year's revenue per territory (potential x the company's "
            f"penetration where none), scaled to the forecast{reason}"
        )
    return f"response model ({expected.get('model_source') or expected.get('reason') or 'saved'})"
