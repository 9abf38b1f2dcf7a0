"""The 20 checks, declared: what each states, what it needs and the threshold it is held to.

One row per check, in report order, its columns in the order the comment above the table gives
(the options - ``threshold_when_missing``, ``follow_up``, ``notes`` - by name). A row names the
framework statement, the metric and scope of its row, the threshold its headline value is held
to (a :class:`~territory.domain.checks.model.Limit` naming keys of ``data/checks.toml``), the
function that measures it, the inputs the run must hold before the check can be measured
(:mod:`~territory.domain.checks.inputs`) and those its row reports as used. What every check
shares - looking for the inputs, answering NOT_ASSESSABLE with their ``needs``, binding the
thresholds and writing the row - is :class:`~territory.domain.checks.model.CheckSpec`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from territory.domain.checks import comp_checks as comp
from territory.domain.checks import comp_fit_checks as comp_fit
from territory.domain.checks import inputs
from territory.domain.checks import territory_checks as territory
from territory.domain.checks.model import CheckSpec, Limit

_DECLARED: tuple[CheckSpec[Any], ...] = (
    # CheckSpec(id, statement, metric, scope, limit, measure, requires, uses, *options)
    CheckSpec(
        "T1",
        "Selling time goes where the value is: the valuable customers and prospects sit with "
        "active reps, and no rep is too loaded to cover them.",
        "share of potential held by active reps",
        "forward",
        Limit(">=", "potential_covered_min"),
        territory.t1_coverage,
        (inputs.PLAN,),
        ("accounts.potential", "accounts.workload", "reps", "plan"),
        threshold_when_missing=False,
        notes=(
            "(b) uses planned hours > 0 for the top accounts in place of a call-frequency norm "
            "per segment; a PASS covers the plan, not how reps actually spend their time."
        ),
        action=(
            "fill vacant seats or hand their top accounts to active reps, and relieve overloaded "
            "reps"
        ),
    ),
    CheckSpec(
        "T2",
        "Redrawing the territories would uncover sales that the present alignment leaves "
        "untouched.",
        "net uplift U_net = U - loss rate x moved revenue share",
        "forward",
        Limit(">=", "uplift_min", warn_key="uplift_warn_min"),
        territory.t2_realignment_opportunity,
        (inputs.PLAN,),
        ("accounts", "reps", "plan"),
        action=(
            "the proposed map does not gain enough over today's to pay for the moves: keep "
            "today's alignment or try other levers (territory value compares them)"
        ),
    ),
    CheckSpec(
        "T3",
        "Territories come from written, objective rules that give the same map when rerun, with "
        "few and explained manual exceptions.",
        "manual overrides (locked accounts), larger of account and potential share",
        "config",
        Limit("<=", "overrides_pass_max", warn_key="overrides_warn_max"),
        territory.t3_objective_criteria,
        (inputs.SOLVE,),
        ("solve.json", "accounts.locked_rep"),
        action="give every locked account a reason code and keep manual overrides under the limit",
    ),
    CheckSpec(
        "T4",
        "We know how many hours of work every account, and so every territory, calls for.",
        "share of accounts with workload > 0",
        "forward",
        Limit(">=", "accounts_with_workload_min"),
        territory.t4_workload_known,
        (inputs.WORKLOAD,),
        ("accounts.workload", "accounts.potential", "plan"),
        notes="segment-default workloads cannot be told apart from account-level estimates",
        action="estimate yearly workload hours for every account (calls x call time, plus travel)",
    ),
    CheckSpec(
        "T5",
        "We know how much work one rep can carry, and each territory is sized to it.",
        "share of reps with utilisation in {band_low:g}..{band_high:g}",
        "forward",
        Limit(">=", fixed=1.0),
        territory.t5_rep_workload,
        (inputs.PLAN,),
        ("accounts.workload", "reps.capacity", "plan"),
        action="move accounts from reps outside the band, or change the headcount (territory size)",
    ),
    CheckSpec(
        "T6",
        "Every account has an estimate of what it could buy, and that estimate drives how "
        "territories are drawn.",
        "share of accounts with a potential estimate",
        "forward",
        Limit(">=", "accounts_with_potential_min"),
        territory.t6_account_potential,
        (inputs.POTENTIAL,),
        ("accounts.potential", "accounts.revenue_last_year", "solve.json", "quotas"),
        action="estimate potential for every account and let it drive balance and quotas",
    ),
    CheckSpec(
        "T7",
        "Accounts that change hands go through a managed handover that keeps the customer "
        "relationship intact.",
        "share of last year's revenue on accounts that change rep",
        "history",
        Limit("<=", "moved_revenue_max"),
        territory.t7_assignment_changes,
        (inputs.CURRENT_REP, inputs.REVENUE_HISTORY, inputs.ASSIGNMENT),
        ("accounts.current_rep", "accounts.revenue_last_year", "plan"),
        follow_up=("customer retention or NPS after the change (moved vs unmoved accounts)",),
        notes="whether customers were upset can only be seen after the change",
        action=(
            "lock the largest accounts to their current rep (locked_rep) and realign with fewer "
            "moves"
        ),
    ),
    CheckSpec(
        "T8",
        "Territories are refreshed regularly from trustworthy data, through a process people find "
        "easy to follow.",
        "share of accounts with a valid rep, potential, segment and location",
        "config",
        Limit(">=", "data_quality_min"),
        territory.t8_realignment_data,
        (inputs.ACCOUNTS,),
        ("accounts", "reps", "plan", "solve.json", "data dates file", "survey file"),
        action="fix or refresh the data the evidence names, then realign",
    ),
    CheckSpec(
        "T9",
        "Territories are even in opportunity and workload, and quotas follow that opportunity so "
        "every territory is equally hard.",
        "largest deviation from target, potential or workload",
        "forward",
        Limit(
            "<=",
            "balance_pass_max",
            warn_key="balance_warn_max",
            tightened_by=("strict", "strict_max"),
        ),
        territory.t9_balance_and_quotas,
        (inputs.TERRITORIES,),
        ("territories", "quotas", "rep_impact", "backtest"),
        action="rerun align with a tighter balance, and set quotas that follow potential",
    ),
    CheckSpec(
        "T10",
        "The strongest reps hold the territories with the largest opportunity.",
        "Spearman(rep performance, territory potential)",
        "forward",
        Limit(">=", "spearman_pass_min", warn_key="spearman_warn_min"),
        territory.t10_best_reps_best_territories,
        (inputs.RATED_TERRITORIES,),
        (),
        action="give the territories with the most potential to the strongest reps, or say why not",
    ),
    CheckSpec(
        "C1",
        "Every pay measure rewards behaviour that serves a stated company objective for that role.",
        "share of plan measures carrying an objective_id",
        "config",
        Limit(">=", "traceability_min"),
        comp_fit.c1_objective_alignment,
        (inputs.COMP,),
        ("comp plan", "objectives"),
        follow_up=("a period of results to compare the achieved mix with the objectives",),
        notes="behaviour itself shows only after the period",
        action="tie every measure to a listed objective and every objective to its roles' plans",
    ),
    CheckSpec(
        "C2",
        "Pay is in line with the market, enough to hire and keep strong sellers.",
        "share of roles paid within the market: OTE in P25..P75, variable share within "
        "{mix_tolerance:g} of the market's",
        "config",
        Limit(">=", fixed=1.0),
        comp_fit.c2_market_competitiveness,
        (),
        ("comp plan", "quotas"),
        action="bring each role's OTE and pay mix into the market's range",
    ),
    CheckSpec(
        "C3",
        "The split between base salary and target incentive fits each selling role.",
        "share of roles whose variable pay share is inside the role's band",
        "config",
        Limit(">=", fixed=1.0),
        comp.c3_pay_mix,
        (inputs.COMP,),
        ("comp plan pay_mix",),
        action="move each role's pay mix into its band",
    ),
    CheckSpec(
        "C4",
        "Pay climbs steeply with results, and top performers can earn well above target.",
        "payout (x TI) at the 90th-percentile attainment, lowest over roles",
        "forward",
        Limit(">=", "payout_p90_pass_min", warn_key="payout_p90_warn_min"),
        comp.c4_pay_for_performance,
        (inputs.STRESS,),
        ("stress verdicts", "comp plan"),
        notes=(
            "percentiles pooled over ramped full-year reps and simulations at x = 1.00; the rank "
            "correlation is computed on a lognormal fitted to each role's A10 and A90"
        ),
        action=(
            "steepen the accelerator above quota so top performers earn about twice their target"
        ),
    ),
    CheckSpec(
        "C5",
        "Each plan pays on at most three measures, and each carries at least a fifth of the target "
        "incentive.",
        "smallest measure weight over roles",
        "config",
        Limit(">=", "min_weight", strict_flag="strict_greater", tolerance=1e-12),
        comp.c5_measures,
        (inputs.COMP,),
        ("comp plan measures",),
        notes="every measure that pays money counts; the plan format has no separate kickers",
        action="pay on at most three measures, each worth at least a fifth of the target incentive",
    ),
    CheckSpec(
        "C6",
        "Every territory offers a similar chance to sell and a similar chance to earn.",
        "largest distance from the median of E[payout / TI], standard rep",
        "forward",
        Limit("<=", "payout_spread_max"),
        comp.c6_earnings_balance,
        (),
        ("territories", "stress verdicts", "quotas"),
        notes="standard rep = effectiveness 1 in every territory, at x = 1.00",
        action="even out quota-to-potential so every territory offers the same chance to earn",
    ),
    CheckSpec(
        "C7",
        "Half or more of the reps reach quota and nine in ten earn some incentive.",
        "share of reps at or above quota",
        "history",
        Limit(">=", "share_at_quota_min"),
        comp.c7_attainment_distribution,
        (),
        ("accounts.revenue_last_year", "quota_last_year", "reps.prior_year_payout"),
        action="adjust quotas or over-assignment so about half reach quota and nine in ten earn",
    ),
    CheckSpec(
        "C8",
        "Sales forecasts and quotas land within 10% of what is actually sold.",
        "quota WMAPE (quotas rescaled to plan vs actual sales)",
        "history",
        Limit("<=", "wmape_pass_max", warn_key="wmape_warn_max"),
        comp.c8_forecast_accuracy,
        (),
        ("quota backtest", "quota config"),
        notes="a rep-level WMAPE of 10% is demanding (it implies a rep sigma near 0.125)",
        action="blend more history into the quota method and compare with last year x growth",
    ),
    CheckSpec(
        "C9",
        "Managers and reps can explain how the plan pays and work out their own earnings.",
        "share of surveyed reps and leaders who can work out their own incentive",
        "config",
        Limit(">=", "survey_agree_min", warn_key="survey_agree_warn_min"),
        comp.c9_plan_understanding,
        (),
        ("comp plan", "survey file"),
        action=(
            "explain the plan with worked examples and simplify it until reps can work out their "
            "pay"
        ),
    ),
    CheckSpec(
        "C10",
        "Systems measure results correctly and pay incentives accurately and on time.",
        "share of reps that resolve to exactly one role plan",
        "config",
        Limit(">=", fixed=1.0),
        comp.c10_administration,
        (inputs.COMP_AND_REPS,),
        ("comp plan", "reps.role", "quotas.measure", "payouts file"),
        action="give every rep one role plan, map every measure to data and pay soon after close",
    ),
)

SPECS: Mapping[str, CheckSpec[Any]] = MappingProxyType({spec.check_id: spec for spec in _DECLARED})
"""The declared checks by id, in report order: territory design, then comp and quota."""
