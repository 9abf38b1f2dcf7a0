"""What the stress-test section shows: verdicts, charts, scenarios, sensitivity, rep impact.

Computed from ``stress.json`` and the tables and PNGs of ``territory stress`` (see
:func:`territory.rendering.report.inputs.collect_report_inputs`); markup is the template's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from territory.rendering.report.context import RunContext
from territory.rendering.report.figures import sensitivity_chart
from territory.rendering.report.inputs import CHART_NAMES
from territory.rendering.report.text import (
    dec2,
    is_missing,
    money,
    num,
    pct,
    pct0,
    pct1,
    pct2,
    plain,
    share_of_100,
    text,
    text_list,
)
from territory.rendering.report.views import (
    REP_COLUMNS,
    Cell,
    Image,
    KvTable,
    Notice,
    Row,
    Table,
    image,
    kv_table,
    table,
)

STRESS_COMMAND = "territory stress --plan {plan} --comp <comp plan .toml>"

CHART_CAPTIONS = {
    "attainment_distribution": "Share of reps per attainment band when the company lands on plan.",
    "cost_vs_attainment": "Total incentive cost (P50 line, P10\u2013P90 band) and comp cost "
    "of sales by company result.",
    "payout_curve": "What the plan pays (multiple of target incentive) at each attainment, "
    "per role.",
    "sensitivity": "Incentive cost as a share of the TI budget by company result, for each "
    "value of the design lever.",
}
"""Captions of the stress charts; any other chart is captioned with its name."""


@dataclass(frozen=True)
class StressView:
    """Everything the stress section shows; empty parts are None or empty and left out.

    ``notice`` alone is set when nothing of ``territory stress`` is in the folder;
    ``stress_missing`` when its tables or charts are there but ``stress.json`` is not.
    """

    notice: Notice | None
    lead: str = ""
    centre: str = ""
    verdicts: KvTable | None = None
    roles: Table | None = None
    charts: tuple[Image, ...] = ()
    unit: str = ""
    scenarios: Table | None = None
    lever: str = ""
    grid: Table | None = None
    impact: Table | None = None
    samples: tuple[str, ...] = ()
    stress_missing: Notice | None = None


def stress_view(
    ctx: RunContext,
    stress: Mapping[str, Any] | None,
    tables: Mapping[str, pd.DataFrame],
    charts: Mapping[str, bytes],
) -> StressView:
    """Show the comp plan's stress test on this plan's quotas, as far as the folder holds it."""
    scenarios = tables.get("stress_scenarios")
    if stress is None and scenarios is None and not charts:
        return StressView(
            ctx.missing(
                "The comp plan has not been stress-tested on this plan's quotas yet.",
                STRESS_COMMAND,
            )
        )
    doc = stress or {}
    verdicts = doc.get("verdicts") or {}
    cur = ctx.unit
    lead = ""
    if doc:
        lead = (
            f"Comp plan '{doc.get('comp_plan', '?')}', {plain(doc.get('n_sims'))} "
            f"simulations per scenario, seed {plain(doc.get('seed'))}, forecast "
            f"{num(doc.get('forecast'))}{cur}. Each scenario fixes the company's result "
            "at a share of plan and draws every rep's attainment around it."
        )
    sens = tables.get("sensitivity")
    grid = _sensitivity_grid(sens) if sens is not None and not sens.empty else None
    impact = tables.get("rep_impact")
    return StressView(
        notice=None,
        lead=lead,
        centre=expected_sales_centre(doc.get("expected_sales"), ctx.plan) if doc else "",
        verdicts=_verdicts(verdicts, cur) if verdicts else None,
        roles=_roles(verdicts.get("roles") or []) if verdicts else None,
        charts=_charts(charts, sens, verdicts),
        unit=cur,
        scenarios=_scenarios(scenarios) if scenarios is not None and not scenarios.empty else None,
        lever=str(sens["lever"].iloc[0]) if grid is not None and sens is not None else "",
        grid=grid,
        impact=_impact(ctx, impact) if impact is not None and not impact.empty else None,
        samples=tuple(text_list(doc.get("sample_calculations"))),
        stress_missing=(
            ctx.missing("stress.json is missing, so verdicts are not shown.", STRESS_COMMAND)
            if stress is None
            else None
        ),
    )


HISTORY_CENTRE = "last year's revenue of each rep's territory, scaled to the forecast"
MODEL_CENTRE = (
    "the response model's expected sales of each rep (coverage, tier and rating, ramp, "
    "hand-over loss), scaled to the forecast"
)


def expected_sales_centre(record: Any, plan: str) -> str:
    """Say what the reps' attainment was centred on, and why (``stress.json`` ``expected_sales``).

    ``territory stress --expected-sales auto`` (the default) takes the model ``territory value``
    saved when it was fitted on this run's history, else history: the recorded reason says
    which and why. A stress test that found no ``response.json`` records nothing.
    """
    if not isinstance(record, Mapping):
        return (
            f"Attainment is centred on {HISTORY_CENTRE}: the run folder held no response model "
            f"when the stress test ran (`territory value --plan {plan}` fits one; a stress test "
            "run after it centres on the model)."
        )
    reason = text(record.get("reason"))
    if record.get("source") == "model":
        fitted = text(record.get("model_source"))
        how = "literature defaults" if fitted == "literature" else "fitted to the history"
        warnings = "; ".join(text_list(record.get("warnings")))
        return f"Attainment is centred on {MODEL_CENTRE} (model {how}): {reason}." + (
            f" Model warnings: {warnings}." if warnings else ""
        )
    if reason.startswith("asked for"):
        return f"Attainment is centred on {HISTORY_CENTRE}: {reason}."
    return (
        f"Attainment is centred on {HISTORY_CENTRE}: the saved response model was not used "
        f"(--expected-sales auto) because {reason}."
    )


def _verdicts(v: Mapping[str, Any], cur: str) -> KvTable:
    rows = [
        ("Company result the verdicts use", pct(v.get("plan_attainment"), 0) + " of plan"),
        (
            "Reps counted (ramped, full year)",
            f"{num(v.get('n_rate_reps'))} ({num(v.get('n_excluded'))} left out)",
        ),
        ("Expected share of reps at or above quota", pct1(v.get("expected_share_at_quota"))),
        (
            "Chance that at least the healthy share reaches quota",
            pct1(v.get("p_share_at_quota_ge_min")),
        ),
        ("Expected share of reps paid any incentive", pct1(v.get("expected_share_paid"))),
        ("Over-assignment used", pct1(v.get("over_assignment"))),
        (
            "Largest over-assignment with half the reps at quota",
            pct1(v.get("over_assignment_bound")),
        ),
        (
            "Largest threshold that still pays 90% of reps",
            pct1(v.get("largest_threshold_for_90pct_paid")) + " attainment",
        ),
        (
            "Attainment P10 / P90",
            f"{pct1(v.get('attainment_p10'))} / {pct1(v.get('attainment_p90'))}",
        ),
        (
            "Payout at P10 / P90 attainment (\u00d7 TI)",
            f"{dec2(v.get('payout_at_p10'))} / {dec2(v.get('payout_at_p90'))}",
        ),
        (f"Cost reserve P90 \u2212 P50{cur}", num(v.get("reserve"))),
        (
            "Chance the company lands within \u00b110% of plan",
            pct1(v.get("p_company_within_band")),
        ),
    ]
    ccos = v.get("ccos_p50") or {}
    if isinstance(ccos, Mapping) and ccos:
        rows.append(
            (
                "Comp cost of sales (P50) at 90/100/110% of plan",
                " / ".join(
                    f"{pct(float(k), 0)}: {pct(share, 1)}"
                    for k, share in sorted(ccos.items(), key=lambda kv: float(kv[0]))
                ),
            )
        )
    return kv_table(rows, "stress-verdicts")


def _roles(roles: Any) -> Table | None:
    if not roles:
        return None
    return table(
        pd.DataFrame(list(roles)),
        [
            ("Role", "role", text, False),
            ("Reps", "n_reps", money, True),
            ("At quota", "share_at_quota", pct1, True),
            ("Paid", "share_paid", pct1, True),
            ("Attainment P10", "attainment_p10", pct1, True),
            ("Attainment P90", "attainment_p90", pct1, True),
            ("Payout at P10 (\u00d7 TI)", "payout_at_p10", dec2, True),
            ("Payout at P90 (\u00d7 TI)", "payout_at_p90", dec2, True),
            ("Accelerator needed", "accelerator_slope_needed", dec2, True),
            ("Cap binding", "cap_binding_rate", pct2, True),
        ],
    )


def _charts(
    charts: Mapping[str, bytes], sens: pd.DataFrame | None, verdicts: Mapping[str, Any]
) -> tuple[Image, ...]:
    """Order the folder's charts; draw the sensitivity chart here when the folder lacks it."""
    own = dict(charts)
    if "sensitivity" not in own and sens is not None:
        current = None
        if "lever" in sens.columns and not sens.empty:
            lever = str(sens["lever"].iloc[0])
            if not is_missing(verdicts.get(lever)):
                current = float(verdicts[lever])
        drawn = sensitivity_chart(sens, current)
        if drawn is not None:
            own["sensitivity"] = drawn
    names = [n for n in CHART_NAMES if n in own] + sorted(n for n in own if n not in CHART_NAMES)
    return tuple(
        image(own[name], f"Chart: {name.replace('_', ' ')}", _caption(name)) for name in names
    )


def _caption(name: str) -> str:
    return CHART_CAPTIONS.get(name, name.replace("_", " "))


def _scenarios(scenarios: pd.DataFrame) -> Table:
    return table(
        scenarios,
        [
            ("Scenario", "scenario_id", text, False),
            ("Company result", "company_attainment_x", pct0, True),
            ("Revenue P50", "revenue_p50", money, True),
            ("Reps at quota", "pct_reps_ge_quota", share_of_100, True),
            ("Reps paid", "pct_reps_paid", share_of_100, True),
            ("Incentive P10", "incentive_p10", money, True),
            ("Incentive P50", "incentive_p50", money, True),
            ("Incentive P90", "incentive_p90", money, True),
            ("P50 / TI budget", "incentive_to_ti_budget_p50", pct1, True),
            ("Total comp P50", "total_comp_p50", money, True),
            ("CCOS P50", "ccos_p50", pct1, True),
            ("Marginal cost of revenue", "marginal_cost_of_incremental_revenue", pct1, True),
        ],
    )


def _sensitivity_grid(sens: pd.DataFrame) -> Table | None:
    """Tabulate P50 incentive / TI budget by company result (rows) and lever (columns)."""
    needed = {"lever", "lever_value", "company_attainment_x", "incentive_to_ti_budget_p50"}
    if not needed <= set(sens.columns):
        return None
    grid = sens.pivot_table(
        index="company_attainment_x",
        columns="lever_value",
        values="incentive_to_ti_budget_p50",
        aggfunc="first",
    ).sort_index()
    headers = (("Company result", False),) + tuple((f"{float(c):g}", True) for c in grid.columns)
    rows = tuple(
        Row((Cell(pct(x, 0), "num"),) + tuple(Cell(pct(v, 0), "num") for v in values.tolist()))
        for x, values in grid.iterrows()
    )
    return Table(headers, rows, ident="sensitivity-grid")


def _impact(ctx: RunContext, impact: pd.DataFrame) -> Table:
    frame = impact.copy()
    if "rep_id" in frame.columns:
        frame["rep_id"] = frame["rep_id"].map(ctx.rep_id)
        frame["name"] = frame["rep_id"].map(ctx.rep_names)
    cur = ctx.unit
    return table(
        frame,
        [
            *REP_COLUMNS,
            (f"Quota{cur}", "quota", money, True),
            (f"OTE{cur}", "ote", money, True),
            ("Expected attainment", "expected_attainment", pct1, True),
            ("P(at quota)", "p_attain_ge_1", pct1, True),
            ("P(below threshold)", "p_below_threshold", pct1, True),
            *[(f"Payout P{q}", f"payout_p{q}", money, True) for q in (10, 50, 90)],
            ("Expected total comp", "expected_total_comp", money, True),
            ("Change vs last year", "delta_expected_payout", money, True),
        ],
    )
