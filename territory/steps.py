"""The files each finance step adds to a run folder, written in one place.

``territory quota`` / ``territory stress`` and the scenario runner write the same files; both call
these so a run folder looks the same however it was made. Each file is added atomically under the
folder's lock (see :func:`territory.io.write_outputs` and :func:`territory.outputs.add_files`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from territory.charts import attainment_distribution_chart, cost_band_chart, payout_curve_chart
from territory.comp import CompPlan
from territory.finance import QuotaStep, StressStep, quota_rows
from territory.io import write_outputs, write_workbook
from territory.quotas import QuotaConfig
from territory.runs import COMP_COPY, QUOTAS, parquet_writer


def write_quota_step(folder: Path, step: QuotaStep, config: QuotaConfig) -> None:
    """quotas.csv (rep x period), quotas_annual.csv, quota_summary.json and the exact copy."""
    table = step.plan.table
    write_outputs(
        folder,
        {"quotas": quota_rows(table), "quotas_annual": table},
        {"quota_summary.json": step.summary_document(config)},
        "csv",
        files={QUOTAS: parquet_writer(table)},
        keep_existing=True,
        command="quota",
    )


def write_stress_step(
    folder: Path, step: StressStep, comp: CompPlan, comp_path: Path, *, seed: int, n_sims: int
) -> None:
    """The stress tables, stress.json, finance.xlsx, the three charts and the comp plan used."""
    tables = {
        "stress_scenarios": step.scenarios,
        "sensitivity": step.sensitivity,
        "rep_impact": step.rep_impact,
        "payout_table": step.payout_table,
    }
    sheets = {**tables, "cost_distribution": step.cost_distribution}

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
            }
        },
        "csv",
        files={
            "finance.xlsx": lambda path: write_workbook(path, sheets),
            "attainment_distribution.png": lambda path: attainment_distribution_chart(
                step.result, path
            ),
            "payout_curve.png": lambda path: payout_curve_chart(comp, path),
            "cost_vs_attainment.png": lambda path: cost_band_chart(step.result, path),
            COMP_COPY: copy_comp,
        },
        keep_existing=True,
        command="stress",
    )
