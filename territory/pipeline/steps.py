"""The steps of a run, each adding its files to one run folder: align, quota, stress, check, report.

``territory align`` / ``quota`` / ``stress`` / ``check`` / ``report`` and the scenario runner
(:func:`scenarios.runner.run_scenario`) call these same functions, so a run folder looks the
same however it was made. Each step takes the folder's lock and adds its files atomically (see
:func:`territory.io.write_outputs` and :func:`territory.io.outputs.add_files`).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from territory.domain.arguments import EXPECTED_SALES, quota_method
from territory.domain.comp import CompPlan
from territory.domain.quotas import QuotaConfig, QuotaMethod, Seasonality, YearlyCaps
from territory.domain.stress import StressConfig
from territory.errors import DataValidationError, InputProblem, ScenarioError
from territory.io import read_table, runs, write_outputs, write_workbook
from territory.io.config_files import load_comp
from territory.io.outputs import run_folder
from territory.pipeline.plan_files import PlanTables, write_plan
from territory.rendering.charts import (
    attainment_distribution_chart,
    cost_band_chart,
    payout_curve_chart,
)
from territory.workflow.finance import (
    FinanceRun,
    QuotaStep,
    StressStep,
    finance_sheets,
    quota_rows,
    set_plan_quotas,
    stress_plan,
)

if TYPE_CHECKING:
    from territory.domain.checks import CheckResult, CheckThresholds
    from territory.domain.response import ResponseModel
    from territory.io.check_inputs import CheckInputs

__all__ = [
    "PlanTables",
    "check_step",
    "check_thresholds",
    "expected_sales_source",
    "quota_config",
    "quota_step",
    "report_html",
    "stress_step",
    "write_plan",
    "write_quota_step",
    "write_stress_step",
]


# ------------------------------------------------------------------------------------------
# Quota

QUOTAS_BY_MEASURE = "quotas_by_measure"
"""Table of quotas per territory and comp-plan measure, written when the quota step has a plan."""


def quota_config(
    *,
    target: float,
    method: str = "blended",
    history_weight: float | None = None,
    over_assignment: float | Sequence[float] = 0.10,
    non_quota_revenue: float = 0.0,
    periods: str = "quarter",
    profile: Sequence[float] | None = None,
    caps: bool = True,
    year: int | None = None,
) -> QuotaConfig:
    """Build the quota settings from the command line's or a scenario's values."""
    over = (
        tuple(over_assignment) if not isinstance(over_assignment, float | int) else over_assignment
    )
    return QuotaConfig(
        company_target=target,
        non_quota_revenue=non_quota_revenue,
        over_assignment=over,
        method=QuotaMethod(name=quota_method(method), history_weight=history_weight),  # type: ignore[arg-type]
        caps=YearlyCaps() if caps else None,
        seasonality=Seasonality(
            periods=periods,  # type: ignore[arg-type]
            profile=tuple(profile) if profile is not None else None,
        ),
        plan_year=year,
    )


def quota_step(
    folder: Path,
    config: QuotaConfig,
    *,
    period_sales: str | Path | None = None,
    last_year_target: float | None = None,
    comp: str | Path | None = None,
) -> QuotaStep:
    """Set the quotas of the plan in ``folder`` and add the quota files to it.

    ``period_sales`` names the sales history table (rep_id, year, period, sales) that gives the
    seasonality; it is read before the plan. ``comp`` names the comp plan: with it each rep's
    OTE fills ``quota_to_ote`` and the quotas are split over its measures
    (``quotas_by_measure.csv``; quotas.csv then has a row per rep, measure and period).
    """
    history = read_table(period_sales) if period_sales is not None else None
    plan = load_comp(comp) if comp is not None else None
    with run_folder(folder, command="quota"):
        step = set_plan_quotas(
            runs.load_plan(folder),
            config,
            period_sales=history,
            last_year_target=last_year_target,
            comp=plan,
        )
        write_quota_step(folder, step, config)
    return step


def write_quota_step(folder: Path, step: QuotaStep, config: QuotaConfig) -> None:
    """quotas.csv (rep x period), quotas_annual.csv, quota_summary.json and the exact copy."""
    table, by_measure = step.plan.table, step.plan.by_measure
    tables = {"quotas": quota_rows(table, by_measure), "quotas_annual": table}
    if by_measure is not None:
        tables[QUOTAS_BY_MEASURE] = by_measure
    write_outputs(
        folder,
        tables,
        {"quota_summary.json": step.summary_document(config)},
        "csv",
        files={runs.QUOTAS: runs.parquet_writer(table)},
        keep_existing=True,
        command="quota",
    )


# ------------------------------------------------------------------------------------------
# Stress


def stress_step(
    folder: Path,
    comp_path: str | Path,
    *,
    sims: int,
    seed: int,
    forecast: float | None = None,
    lever: str = "over_assignment",
    comp: CompPlan | None = None,
    expected_sales: str = "auto",
) -> StressStep:
    """Stress-test the quotas in ``folder`` under a comp plan and add the finance files.

    ``comp`` is the plan read from ``comp_path`` when the caller has it already.
    ``expected_sales`` centres attainment on the response model ``territory value`` saved in
    the folder (``model``), on last year's revenue (``history``), or on the model when one was
    fitted on the run's inputs (``auto``); see :func:`expected_sales_source`.
    """
    comp = comp if comp is not None else load_comp(comp_path)
    config = replace(StressConfig(), n_sims=sims)
    with run_folder(folder, command="stress"):
        run = runs.load_plan(folder)
        model, record = expected_sales_source(folder, expected_sales)
        step = stress_plan(
            run, comp, config=config, seed=seed, forecast=forecast, lever=lever,
            quotas=run.quotas(), model=model,
        )  # fmt: skip
        if record is not None:
            step = replace(step, expected_sales={**record, **(step.expected_sales or {})})
        step = replace(step, quota_by_measure=measure_quotas_read(run, comp))
        write_stress_step(folder, step, comp, Path(comp_path), seed=seed, n_sims=sims)
    return step


def measure_quotas_read(run: runs.PlanFolder, comp: CompPlan) -> dict[str, float] | None:
    """Read and check the quotas per measure the quota step split for ``comp`` (None: none).

    Only a quota step given a comp plan records them in ``quota_summary.json``; a split left
    by an earlier run is not read.
    """
    from territory.domain.quota_measures import check_measure_quotas

    name = f"{QUOTAS_BY_MEASURE}.csv"
    table = run.table(name)
    if "quota_by_measure" not in (run.document("quota_summary.json") or {}) or table is None:
        return None
    return check_measure_quotas(table, run.quotas(), comp, str(run.path / name))


def expected_sales_source(
    folder: Path, choice: str
) -> tuple[ResponseModel | None, dict[str, Any] | None]:
    """Pick the centre of the attainment distribution: the saved response model or history.

    Returns the model to use (None: history) and what ``stress.json`` records under
    ``expected_sales`` (``source`` and ``reason``). Nothing is recorded when the folder holds
    no ``response.json`` and history is used, so such a run's files are those of a stress test
    that knows no model.

    Raises
    ------
    ScenarioError
        ``choice`` is not one of :data:`territory.domain.arguments.EXPECTED_SALES`.
    DataValidationError
        ``model`` was asked for but the folder holds no usable model (the reason says why).
    """
    from territory.pipeline.value_commands import RESPONSE_FILE, saved_model

    if choice not in EXPECTED_SALES:
        raise ScenarioError(
            f"expected sales '{choice}' is not an option; possible options are: "
            + ", ".join(EXPECTED_SALES)
        )
    if choice == "history":
        found = (folder / RESPONSE_FILE).exists()
        reason = "asked for (--expected-sales history)"
        return None, {"source": "history", "reason": reason} if found else None
    saved = saved_model(folder)
    if saved.model is not None:
        return saved.model, {"source": "model", "reason": saved.reason}
    if choice == "model":
        raise DataValidationError(
            [
                InputProblem(
                    str(folder), None, None,
                    f"--expected-sales model: {saved.reason}",
                    f"run `territory value --plan {folder}` first, or use --expected-sales "
                    "history",
                )
            ]
        )  # fmt: skip
    return None, {"source": "history", "reason": saved.reason} if saved.present else None


def write_stress_step(
    folder: Path, step: StressStep, comp: CompPlan, comp_path: Path, *, seed: int, n_sims: int
) -> None:
    """Write the stress tables, stress.json, finance.xlsx, three charts and the comp plan used."""
    tables = {
        "stress_scenarios": step.scenarios,
        "sensitivity": step.sensitivity,
        "rep_impact": step.rep_impact,
        "payout_table": step.payout_table,
    }
    run = runs.load_plan(folder)
    made = FinanceRun(run, step, comp, seed, n_sims, comp_source=comp_path.read_bytes())
    sheets = finance_sheets(made)

    def copy_comp(target: Path) -> None:
        # The plan as run, so that checks and the report read the same file later.
        shutil.copyfile(comp_path, target)

    write_outputs(
        folder,
        tables,
        {
            "stress.json": {
                "seed": seed,
                "n_sims": n_sims,
                "forecast": step.forecast,
                "lever": step.lever,
                "comp_plan": comp.plan_id,
                "verdicts": step.result.verdicts,
                "sample_calculations": step.samples,
                # Only when a response model is in play, so that runs without one are unchanged.
                **({"expected_sales": step.expected_sales} if step.expected_sales else {}),
                **({"quota_by_measure": step.quota_by_measure} if step.quota_by_measure else {}),
            }
        },
        "csv",
        files={
            "finance.xlsx": lambda path: write_workbook(path, sheets, currency=comp.currency),
            "attainment_distribution.png": lambda path: attainment_distribution_chart(
                step.result, path
            ),
            "payout_curve.png": lambda path: payout_curve_chart(comp, path),
            "cost_vs_attainment.png": lambda path: cost_band_chart(step.result, path),
            runs.COMP_COPY: copy_comp,
        },
        keep_existing=True,
        command="stress",
    )


# ------------------------------------------------------------------------------------------
# Checks and report


def check_thresholds(source: str | Path | Mapping[str, Any] | None, where: str) -> CheckThresholds:
    """Read the check thresholds: a TOML file, an inline ``[checks]`` table, or the defaults.

    ``where`` names an inline table in messages (``scenario.toml [checks]``).
    """
    from territory.domain.checks import CheckThresholds, thresholds_from_mapping
    from territory.io.config_files import load_thresholds

    if isinstance(source, str | Path):
        return load_thresholds(source)
    if isinstance(source, Mapping):
        return thresholds_from_mapping({"checks": dict(source)}, source=where)
    return CheckThresholds.default()


def check_step(
    folder: Path,
    limits: CheckThresholds,
    *,
    run_id: str,
    comp: Path | None = None,
    inputs: CheckInputs | None = None,
) -> list[CheckResult]:
    """Run the checks on the run in ``folder`` and add checks.csv and checks.json to it.

    ``comp`` overrides the comp plan the stress step kept; ``inputs`` names the user's files
    for checks the run cannot settle; ``run_id`` names the run in the tables.
    """
    from territory.domain.checks import to_frame, to_records
    from territory.io.run_checks import check_run

    with run_folder(folder, command="check"):
        results = check_run(runs.load_plan(folder), limits, comp, inputs)
        write_outputs(
            folder,
            {"checks": to_frame(results, run_id)},
            {"checks.json": to_records(results, run_id)},
            "csv",
            keep_existing=True,
            command="check",
        )
    return results


def report_html(folder: Path, shown_as: Path | None = None) -> str:
    """Render the report page of the run in ``folder``.

    ``shown_as`` is the folder the page names (its title and hints) when ``folder`` is a
    workspace that becomes it later.
    """
    from territory.pipeline.value_commands import SIZING_FILE, sizing_report
    from territory.rendering.report import REPORT_FILE, collect_report_inputs, render_report
    from territory.rendering.report.design_page import design_report_html, is_design_folder

    with run_folder(folder, command="report"):
        if is_design_folder(folder):
            return design_report_html(folder, shown_as)
        if (folder / SIZING_FILE).is_file() and not (folder / runs.PLAN).exists():
            return sizing_report(folder, shown_as)[REPORT_FILE].decode("utf-8")
        inputs = collect_report_inputs(folder)
        if shown_as is not None:
            inputs["run"] = replace(inputs["run"], path=shown_as)
        return render_report(**inputs)
