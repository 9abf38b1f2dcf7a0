"""The 20 checks, declared: what each states, what it needs and the threshold it is held to.

One entry per check, in report order. An entry names the framework statement, the metric and
scope of its row, the inputs the run must hold before the check can be measured
(:mod:`~territory.domain.checks.inputs`), the threshold its headline value is held to (a
:class:`~territory.domain.checks.model.Limit` naming keys of ``data/checks.toml``) and the function
that measures it. What every check shares - looking for the inputs, answering NOT_ASSESSABLE
with their ``needs``, binding the thresholds and writing the row - is
:class:`~territory.domain.checks.model.CheckSpec`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from territory.domain.checks import comp_checks as comp
from territory.domain.checks import inputs
from territory.domain.checks import territory_checks as territory
from territory.domain.checks.model import CheckSpec, Limit

_DECLARED: tuple[CheckSpec[Any], ...] = (
    CheckSpec(
        "T1",
        "Selling time goes where the value is: the valuable customers and prospects sit with "
        "active reps, and no rep is too loaded to cover them.",
        metric="share of potential held by active reps",
        scope="forward",
        limit=Limit(">=", "potential_covered_min"),
        requires=(inputs.PLAN,),
        uses=("accounts.potential", "accounts.workload", "reps", "plan"),
        threshold_when_missing=False,
        measure=territory.t1_coverage,
        notes=(
            "(b) uses planned hours > 0 for the top accounts in place of a call-frequency norm "
            "per segment; a PASS covers the plan, not how reps actually spend their time."
        ),
    ),
    CheckSpec(
        "T2",
        "Redrawing the territories would uncover sales that the present alignment leaves "
        "untouched.",
        metric="net uplift U_net = U - loss rate x moved revenue share",
        scope="forward",
        limit=Limit(">=", "uplift_min"),
        requires=(inputs.PLAN,),
        uses=("accounts", "reps", "plan"),
        measure=territory.t2_realignment_opportunity,
    ),
    CheckSpec(
        "T3",
        "Territories come from written, objective rules that give the same map when rerun, with "
        "few and explained manual exceptions.",
        metric="manual overrides (locked accounts), larger of account and potential share",
        scope="config",
        limit=Limit("<=", "overrides_pass_max", warn_key="overrides_warn_max"),
        requires=(inputs.SOLVE,),
        uses=("solve.json", "accounts.locked_rep"),
        measure=territory.t3_objective_criteria,
    ),
    CheckSpec(
        "T4",
        "We know how many hours of work every account, and so every territory, calls for.",
        metric="share of accounts with workload > 0",
        scope="forward",
        limit=Limit(">=", "accounts_with_workload_min"),
        requires=(inputs.WORKLOAD,),
        uses=("accounts.workload", "accounts.potential", "plan"),
        measure=territory.t4_workload_known,
        notes="segment-default workloads cannot be told apart from account-level estimates",
    ),
    CheckSpec(
        "T5",
        "We know how much work one rep can carry, and each territory is sized to it.",
        metric="share of reps with utilisation in {band_low:g}..{band_high:g}",
        scope="forward",
        limit=Limit(">=", fixed=1.0),
        requires=(inputs.PLAN,),
        uses=("accounts.workload", "reps.capacity", "plan"),
        measure=territory.t5_rep_workload,
    ),
    CheckSpec(
        "T6",
        "Every account has an estimate of what it could buy, and that estimate drives how "
        "territories are drawn.",
        metric="share of accounts with a potential estimate",
        scope="forward",
        limit=Limit(">=", "accounts_with_potential_min"),
        requires=(inputs.POTENTIAL,),
        uses=("accounts.potential", "accounts.revenue_last_year", "solve.json", "quotas"),
        measure=territory.t6_account_potential,
    ),
    CheckSpec(
        "T7",
        "Accounts that change hands go through a managed handover that keeps the customer "
        "relationship intact.",
        metric="share of last year's revenue on accounts that change rep",
        scope="history",
        limit=Limit("<=", "moved_revenue_max"),
        requires=(inputs.CURRENT_REP, inputs.REVENUE_HISTORY, inputs.ASSIGNMENT),
        uses=("accounts.current_rep", "accounts.revenue_last_year", "plan"),
        measure=territory.t7_assignment_changes,
        follow_up=("customer retention or NPS after the change (moved vs unmoved accounts)",),
        notes="whether customers were upset can only be seen after the change",
    ),
    CheckSpec(
        "T8",
        "Territories are refreshed regularly from trustworthy data, through a process people find "
        "easy to follow.",
        metric="share of accounts with a valid rep, potential, segment and location",
        scope="config",
        limit=Limit(">=", "data_quality_min"),
        requires=(inputs.ACCOUNTS,),
        uses=("accounts", "reps", "plan", "solve.json"),
        measure=territory.t8_realignment_data,
    ),
    CheckSpec(
        "T9",
        "Territories are even in opportunity and workload, and quotas follow that opportunity so "
        "every territory is equally hard.",
        metric="largest deviation from target, potential or workload",
        scope="forward",
        limit=Limit(
            "<=",
            "balance_pass_max",
            warn_key="balance_warn_max",
            tightened_by=("strict", "strict_max"),
        ),
        requires=(inputs.TERRITORIES,),
        uses=("territories", "quotas", "rep_impact", "backtest"),
        measure=territory.t9_balance_and_quotas,
    ),
    CheckSpec(
        "T10",
        "The strongest reps hold the territories with the largest opportunity.",
        metric="Spearman(rep performance, territory potential)",
        scope="forward",
        limit=Limit(">=", "spearman_pass_min", warn_key="spearman_warn_min"),
        requires=(inputs.RATED_TERRITORIES,),
        measure=territory.t10_best_reps_best_territories,
    ),
    CheckSpec(
        "C1",
        "Every pay measure rewards behaviour that serves a stated company objective for that role.",
        metric="share of plan measures carrying an objective_id",
        scope="config",
        limit=Limit(">=", "traceability_min"),
        requires=(inputs.COMP,),
        uses=("comp plan", "objectives"),
        measure=comp.c1_objective_alignment,
        follow_up=("a period of results to compare the achieved mix with the objectives",),
        notes="behaviour itself shows only after the period",
    ),
    CheckSpec(
        "C2",
        "Pay is in line with the market, enough to hire and keep strong sellers.",
        metric="OTE and pay mix against market P25-P75",
        scope="config",
        limit=Limit("in", fixed="OTE in market P25..P75, mix within 10 pts"),
        uses=("comp plan", "quotas"),
        measure=comp.c2_market_competitiveness,
    ),
    CheckSpec(
        "C3",
        "The split between base salary and target incentive fits each selling role.",
        metric="share of roles whose variable pay share is inside the role's band",
        scope="config",
        limit=Limit(">=", fixed=1.0),
        requires=(inputs.COMP,),
        uses=("comp plan pay_mix",),
        measure=comp.c3_pay_mix,
    ),
    CheckSpec(
        "C4",
        "Pay climbs steeply with results, and top performers can earn well above target.",
        metric="payout (x TI) at the 90th-percentile attainment, lowest over roles",
        scope="forward",
        limit=Limit(">=", "payout_p90_pass_min", warn_key="payout_p90_warn_min"),
        requires=(inputs.STRESS,),
        uses=("stress verdicts", "comp plan"),
        measure=comp.c4_pay_for_performance,
        notes=(
            "percentiles pooled over ramped full-year reps and simulations at x = 1.00; the rank "
            "correlation is computed on a lognormal fitted to each role's A10 and A90"
        ),
    ),
    CheckSpec(
        "C5",
        "Each plan pays on at most three measures, and each carries at least a fifth of the target "
        "incentive.",
        metric="smallest measure weight over roles",
        scope="config",
        limit=Limit(">=", "min_weight", strict_flag="strict_greater", tolerance=1e-12),
        requires=(inputs.COMP,),
        uses=("comp plan measures",),
        measure=comp.c5_measures,
        notes="every measure that pays money counts; the plan format has no separate kickers",
    ),
    CheckSpec(
        "C6",
        "Every territory offers a similar chance to sell and a similar chance to earn.",
        metric="largest distance from the median of E[payout / TI], standard rep",
        scope="forward",
        limit=Limit("<=", "payout_spread_max"),
        uses=("territories", "stress verdicts", "quotas"),
        measure=comp.c6_earnings_balance,
        notes="standard rep = effectiveness 1 in every territory, at x = 1.00",
    ),
    CheckSpec(
        "C7",
        "Half or more of the reps reach quota and nine in ten earn some incentive.",
        metric="share of reps at or above quota",
        scope="history",
        limit=Limit(">=", "share_at_quota_min"),
        uses=("accounts.revenue_last_year", "quota_last_year", "reps.prior_year_payout"),
        measure=comp.c7_attainment_distribution,
    ),
    CheckSpec(
        "C8",
        "Sales forecasts and quotas land within 10% of what is actually sold.",
        metric="quota WMAPE (quotas rescaled to plan vs actual sales)",
        scope="history",
        limit=Limit("<=", "wmape_pass_max", warn_key="wmape_warn_max"),
        uses=("quota backtest", "quota config"),
        measure=comp.c8_forecast_accuracy,
        notes="a rep-level WMAPE of 10% is demanding (it implies a rep sigma near 0.125)",
    ),
    CheckSpec(
        "C9",
        "Managers and reps can explain how the plan pays and work out their own earnings.",
        metric="share of reps and leaders who can work out their own payout",
        scope="config",
        limit=Limit(">=", "survey_agree_min"),
        uses=("comp plan",),
        measure=comp.c9_plan_understanding,
    ),
    CheckSpec(
        "C10",
        "Systems measure results correctly and pay incentives accurately and on time.",
        metric="share of reps that resolve to exactly one role plan",
        scope="config",
        limit=Limit(">=", fixed=1.0),
        requires=(inputs.COMP_AND_REPS,),
        uses=("comp plan", "reps.role", "quotas.measure"),
        measure=comp.c10_administration,
    ),
)

SPECS: Mapping[str, CheckSpec[Any]] = MappingProxyType({spec.check_id: spec for spec in _DECLARED})
"""The declared checks by id, in report order: territory design, then comp and quota."""
