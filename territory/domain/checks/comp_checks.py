"""Compensation and quota checks C3-C10: the pay plan, earning chances and the quotas' record.

C1 and C2, which hold the plan against the company's objectives and market pay, are in
:mod:`territory.domain.checks.comp_fit_checks`.

Each function measures one check and returns a :class:`~territory.domain.checks.model.Finding`; what
the check states, requires and is held to is declared in :mod:`territory.domain.checks.catalogue`,
so
a function starts from inputs that are there and a bound ``rule``. The rules follow the quota
spec, section 3.2.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import norm

from territory.domain.checks import inputs
from territory.domain.checks.evidence import CheckEvidence, as_dict, balance
from territory.domain.checks.formats import listing, num, pct
from territory.domain.checks.helpers import given, numbers, plan_role_names, spearman
from territory.domain.checks.model import Finding, Gauge, Part, Rule, Status
from territory.domain.checks.thresholds import C3, Params
from territory.domain.comp import RolePlan
from territory.domain.payouts import payout_for
from territory.errors import TerritoryError


def c3_pay_mix(ev: CheckEvidence, p: C3, rule: Rule) -> Finding:
    """C3: each role's variable share of OTE inside its band; hunters above farmers."""
    comp = given(ev.comp)
    bands: Mapping[str, Sequence[float]] = p.bands
    parts = []
    in_band = 0
    banded = 0
    variable: dict[str, float] = {}
    for role in comp.roles.values():
        v = role.pay_mix.variable
        for name in plan_role_names(role):
            variable.setdefault(name, v)
        band_key = next((k for k in plan_role_names(role) if k in bands), None)
        if band_key is None:
            parts.append(
                Part.unmeasured(
                    f"{role.name}: {pct(v)} variable, no guideline band for this role",
                    f"a pay-mix band for role '{role.name}' (checks.C3.bands)",
                )
            )
            continue
        lo, hi = bands[band_key]
        ok = lo - 1e-9 <= v <= hi + 1e-9
        banded += 1
        in_band += ok
        parts.append(
            Part.measured(
                ok,
                f"{role.name}: {pct(v)} variable (band {pct(lo)}-{pct(hi)})",
                gauge=Gauge(f"{role.name}: variable share of OTE", v, f"{lo:g}..{hi:g}", "in"),
                action=f"move the {role.name} pay mix into {pct(lo)}-{pct(hi)} variable, or set "
                "a band for this role in checks.C3.bands if the role differs",
            )
        )
    for high, low in p.ordering:
        if high in variable and low in variable:
            parts.append(
                Part.measured(
                    variable[high] >= variable[low] - 1e-9,
                    f"{high} variable {pct(variable[high])} vs {low} {pct(variable[low])} "
                    "(the first should not be lower)",
                    gauge=Gauge(
                        f"{high} variable share minus {low} variable share",
                        variable[high] - variable[low],
                        0.0,
                        ">=",
                    ),
                    action=f"make the {high} plan at least as variable as the {low} plan",
                )
            )
    return Finding(parts, value=in_band / banded if banded else None, n=len(comp.roles))


def _rank_correlation_of_curve(role: RolePlan, a10: float, a90: float) -> float | None:
    """Spearman(A, f(A)) over a lognormal attainment fitted to the role's A10 and A90."""
    if not (a10 > 0 and a90 > a10):
        return None
    z = float(norm.ppf(0.9))
    mu = (math.log(a10) + math.log(a90)) / 2.0
    sigma = (math.log(a90) - math.log(a10)) / (2.0 * z)
    q = (np.arange(2000, dtype=np.float64) + 0.5) / 2000.0
    attainment = np.exp(mu + sigma * norm.ppf(q))
    return spearman(attainment, role.incentive_multiple(attainment))


def _curve_parts(ev: CheckEvidence, r: Mapping[str, Any], p: Params) -> list[Part]:
    """Payout rises with attainment for the role's plan: rank correlation, never falling."""
    name = str(r.get("role"))
    plan_role = ev.comp.roles.get(name) if ev.comp is not None else None
    if plan_role is None:
        return [Part.unmeasured(f"{name}: rank correlation not computed", "the comp plan's curves")]
    rho = _rank_correlation_of_curve(
        plan_role,
        float(r.get("attainment_p10") or math.nan),
        float(r.get("attainment_p90") or math.nan),
    )
    falling = [
        f"{m.name}"
        for m in plan_role.measures
        if any(t.slope < 0 for t in plan_role.curve_of(m).tiers)
    ]
    return [
        Part.measured(
            rho is not None and rho >= p.spearman_min,
            f"{name}: Spearman(attainment, payout) = {num(rho)} (needs >= {p.spearman_min:g})",
            gauge=Gauge(f"{name}: Spearman(attainment, payout)", rho, p.spearman_min, ">="),
            action="remove flat stretches and caps so pay rises with every step of attainment",
        ),
        Part.measured(
            not falling,
            f"{name}: payout never falls as attainment rises"
            if not falling
            else f"{name}: payout falls on {falling}",
            action="give every tier a slope of zero or more",
        ),
    ]


def c4_pay_for_performance(ev: CheckEvidence, p: Params, rule: Rule) -> Finding:
    """C4: payout at the 90th and 10th percentile attainment, rank correlation, cap binding."""
    v = given(ev.stress)
    roles = [as_dict(r) for r in (v.get("roles") or [])]
    if not roles:
        keys = ("payout_at_p90", "payout_at_p10", "attainment_p10", "attainment_p90")
        roles = [{"role": "all", **{k: v.get(k) for k in keys}}]
    parts: list[Part] = []
    evidence: list[str] = []
    lowest = math.inf
    for r in roles:
        name = str(r.get("role"))
        f90 = float(r.get("payout_at_p90") or math.nan)
        f10 = float(r.get("payout_at_p10") or 0.0)
        lowest = min(lowest, f90)
        parts.append(
            rule.part(
                f90,
                f"{name}: the 90th-percentile rep ({pct(r.get('attainment_p90'))} of quota) "
                f"earns {num(f90)}x TI (pass >= {rule.threshold:g}, warn >= {rule.warn:g})",
                metric=f"{name}: payout (x TI) at the 90th-percentile attainment",
                action="steepen the accelerator above quota (or lift the cap) so top performers "
                "earn about twice their target incentive",
            )
        )
        parts.append(
            Part.measured(
                f10 <= p.payout_p10_max,
                f"{name}: the 10th-percentile rep ({pct(r.get('attainment_p10'))}) earns "
                f"{num(f10)}x TI (limit {p.payout_p10_max:g})",
                gauge=Gauge(
                    f"{name}: payout (x TI) at the 10th percentile", f10, p.payout_p10_max, "<="
                ),
                action="raise the threshold or flatten the curve below quota so low performers "
                "earn less",
            )
        )
        if r.get("cap_binding_rate") is not None:
            cap = float(r["cap_binding_rate"])
            parts.append(
                Part.measured(
                    cap <= p.cap_binding_max,
                    f"{name}: cap binds in {pct(cap)} of rep-draws (limit "
                    f"{pct(p.cap_binding_max)})",
                    gauge=Gauge(
                        f"{name}: share of rep-draws at the cap", cap, p.cap_binding_max, "<="
                    ),
                    action="raise or remove the cap",
                )
            )
        slope = r.get("accelerator_slope_needed")
        if slope is not None and math.isfinite(float(slope)):
            evidence.append(
                f"{name}: an accelerator slope of {float(slope):.2f} from quota would pay "
                f"{num(r.get('target_leverage'))}x TI at the 90th percentile"
            )
        parts += _curve_parts(ev, r, p)
    return Finding(
        parts,
        value=lowest if math.isfinite(lowest) else None,
        n=int(v.get("n_rate_reps") or 0),
        excluded_n=int(v.get("n_excluded") or 0),
        evidence=evidence,
    )


def c5_measures(ev: CheckEvidence, p: Params, rule: Rule) -> Finding:
    """C5: at most three measures per plan, each weighing at least 20% of TI."""
    comp = given(ev.comp)
    n_max = int(p.max_measures)
    parts = []
    lightest = math.inf
    for role in comp.roles.values():
        weights = [m.weight for m in role.measures]
        low = min(weights)
        lightest = min(lightest, low)
        gauge = (
            Gauge(f"{role.name}: number of measures", len(weights), n_max, "<=")
            if len(weights) > n_max
            else rule.gauge(f"{role.name}: lightest measure weight", low)
        )
        parts.append(
            Part.measured(
                len(weights) <= n_max and rule.holds(low),
                f"{role.name}: {len(weights)} measure(s), lightest "
                f"{pct(low)} of TI (limits: <= {n_max} measures, each "
                f"{rule.comparator} {pct(rule.threshold)})",
                gauge=gauge,
                action="merge or drop the lightest measures so a plan pays on at most "
                f"{n_max}, each worth at least {pct(rule.threshold)} of the target incentive",
            )
        )
    return Finding(parts, value=lightest, n=len(comp.roles))


def c6_earnings_balance(ev: CheckEvidence, p: Params, rule: Rule) -> Finding:
    """C6: opportunity balanced (potential) and earning chances equal for a standard rep."""
    parts: list[Part] = []
    table = ev.territory_table()
    if table is not None:
        pot, _ = balance(table)
        b_max = p.potential_balance_max
        parts.append(
            Part.measured(
                pot <= b_max,
                f"potential within {pct(pot)} of target for every rep (limit {pct(b_max)})",
                gauge=Gauge("largest deviation of potential from target", pot, b_max, "<="),
                action="rebalance potential (territory align with a tighter potential balance)",
            )
        )
    else:
        parts.append(Part.unmeasured("opportunity balance not measured", inputs.ASSIGNMENT.needs))
    value = None
    stress = ev.stress or {}
    if stress.get("payout_spread") is not None:
        value = float(stress["payout_spread"])
        p_spread = float(stress.get("p_attain_spread") or math.nan)
        p_max = p.p_attain_spread_max
        parts.append(
            rule.part(
                value,
                f"expected payout differs from the median by up to "
                f"{num(value)}x TI (limit {rule.threshold:g})",
                action="set quotas so every territory's expected payout is close to target "
                "(quota-to-potential alike across territories)",
            )
        )
        parts.append(
            Part.measured(
                math.isfinite(p_spread) and p_spread <= p_max,
                f"chance of reaching quota differs from the median by up to "
                f"{pct(p_spread)} (limit {pct(p_max)})",
                gauge=Gauge(
                    "largest distance of P(attainment >= 1) from the median", p_spread, p_max, "<="
                ),
                action="set quotas so every territory is as likely to reach quota",
            )
        )
    else:
        parts.append(Part.unmeasured("earning chances not simulated", inputs.STRESS.needs))
    extra = []
    if ev.quotas is not None and {"final_annual_quota", "potential"} <= set(ev.quotas.columns):
        ratio = numbers(ev.quotas, "final_annual_quota") / numbers(ev.quotas, "potential")
        ratio = ratio[np.isfinite(ratio)]
        if ratio.size and ratio.mean() > 0:
            extra.append(
                f"quota-to-potential differs from its mean by up to "
                f"{pct(float(np.max(np.abs(ratio / ratio.mean() - 1.0))))} (information)"
            )
    return Finding(
        parts,
        value=value,
        n=int(stress.get("n_rate_reps") or 0) or None,
        excluded_n=int(stress.get("n_excluded") or 0),
        evidence=extra,
    )


def _history_attainment(
    ev: CheckEvidence, min_tenure: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64] | None, int] | None:
    """Last year's attainment per rep (and payout when known) from accounts and reps."""
    acc, reps = ev.accounts, ev.reps
    if acc is None or reps is None or not (ev.has_history() and ev.has_current()):
        return None
    revenue = pd.Series(np.nan_to_num(numbers(acc, "revenue_last_year")))
    owner = acc["current_rep"].astype("string").str.strip().to_numpy(dtype=object)
    sales = revenue.groupby(owner).sum()
    ids = reps["rep_id"].astype(str)
    if "prior_year_quota" in reps.columns:
        quota = pd.Series(numbers(reps, "prior_year_quota"), index=ids.to_numpy())
    elif "quota_last_year" in acc.columns:
        quota = pd.Series(np.nan_to_num(numbers(acc, "quota_last_year"))).groupby(owner).sum()
    else:
        return None
    keep = np.ones(len(reps), dtype=np.bool_)
    if "tenure_months" in reps.columns:
        tenure = numbers(reps, "tenure_months")
        keep &= ~(np.isfinite(tenure) & (tenure < min_tenure))
    q = quota.reindex(ids).to_numpy(dtype=np.float64)
    s = sales.reindex(ids).fillna(0.0).to_numpy(dtype=np.float64)
    keep &= np.isfinite(q) & (q > 0)
    payout = None
    if "prior_year_payout" in reps.columns:
        pay = numbers(reps, "prior_year_payout")
        if np.isfinite(pay[keep]).all():
            payout = pay[keep]
    return s[keep] / q[keep], payout, int((~keep).sum())


def _share_at_quota(share: float, label: str, p: Params, rule: Rule) -> Part:
    """Enough reps at quota, but not so many that the quotas look too easy."""
    text = f"{label}: {pct(share)} of reps at or above quota (needs >= {pct(rule.threshold)})"
    if share > p.too_easy_above:
        return Part(
            Status.WARN,
            text + f"; above {pct(p.too_easy_above)} the quotas look too easy",
            gauge=Gauge(f"{label}: share of reps at or above quota", share, p.too_easy_above, "<="),
            action="raise quotas (less over-assignment relief) or the company target",
        )
    return rule.part(
        share,
        text,
        metric=f"{label}: share of reps at or above quota",
        action="lower quotas where they outrun potential, or the over-assignment",
    )


def _share_paid(share: float, label: str, p: Params, verb: str) -> Part:
    """Nearly every rep earns some incentive."""
    return Part.measured(
        share >= p.share_paid_min,
        f"{label}: {pct(share)} of reps {verb} some incentive (needs >= {pct(p.share_paid_min)})",
        gauge=Gauge(f"{label}: share of reps paid some incentive", share, p.share_paid_min, ">="),
        action="lower the payout threshold so nine in ten reps earn some incentive",
    )


def c7_attainment_distribution(ev: CheckEvidence, p: Params, rule: Rule) -> Finding:
    """C7: share of reps at quota and share paid; last year when known, else simulated."""
    history = _history_attainment(ev, float(p.history_min_tenure_months))
    forward: list[Part] = []
    evidence: list[str] = []
    v = ev.stress or {}
    if v.get("expected_share_at_quota") is not None:
        forward.append(
            _share_at_quota(float(v["expected_share_at_quota"]), "simulated at plan", p, rule)
        )
        paid = float(v.get("expected_share_paid") or math.nan)
        forward.append(_share_paid(paid, "simulated at plan", p, "earn"))
        evidence += [
            f"P(share at quota >= {pct(rule.threshold)}) = {pct(v.get('p_share_at_quota_ge_min'))}",
            f"over-assignment {pct(v.get('over_assignment'))}; the largest that still leaves "
            f"half at quota is {pct(v.get('over_assignment_bound'))}",
            f"largest payout threshold compatible with 90% paid: "
            f"{pct(v.get('largest_threshold_for_90pct_paid'))} of quota",
        ]
    if history is not None:
        attainment, payout, excluded = history
        at_quota = float((attainment >= 1.0).mean())
        h_parts = [_share_at_quota(at_quota, "last year", p, rule)]
        if payout is not None:
            h_parts.append(_share_paid(float((payout > 0).mean()), "last year", p, "earned"))
        else:
            h_parts.append(
                Part.unmeasured("last year's payouts unknown", "prior_year_payout per rep")
            )
        if payout is not None or not forward:
            return Finding(
                h_parts,
                value=at_quota,
                n=int(attainment.size),
                excluded_n=excluded,
                evidence=[f"{part.status}: {part.evidence}" for part in forward] + evidence,
            )
        evidence = [f"{part.status}: {part.evidence}" for part in h_parts] + evidence
    if forward:
        return Finding(
            forward,
            value=float(v["expected_share_at_quota"]),
            n=int(v.get("n_rate_reps") or 0),
            excluded_n=int(v.get("n_excluded") or 0),
            inputs=["stress verdicts"],
            evidence=evidence,
            needs=[]
            if history is not None
            else ["last year's quota, sales and payout per rep for the history test"],
            notes="forward mode: expected shares over simulations at x = 1.00, ramped "
            "full-year reps",
            scope="forward",
        )
    return Finding.absent(
        ["last year's quota, sales and payout per rep", "or a stress test (territory stress)"]
    )


def c8_forecast_accuracy(ev: CheckEvidence, p: Params, rule: Rule) -> Finding:
    """C8: company forecast error and quota WMAPE from the backtest on last year's data."""
    forward = []
    if ev.stress is not None and ev.stress.get("p_company_within_band") is not None:
        forward.append(
            f"simulated chance that company sales land within 10% of plan: "
            f"{pct(ev.stress['p_company_within_band'])} (echoes the assumed company sigma)"
        )
    if inputs.BACKTEST.missing(ev):
        return Finding.absent(
            [inputs.BACKTEST.needs],
            evidence=forward or ["no backtest: fewer than two years of history"],
        )
    bt = given(ev.backtest)
    wmape = float(bt["wmape"])
    parts = [
        rule.part(
            wmape,
            f"quota WMAPE {pct(wmape)} (pass <= {pct(rule.threshold)}, warn <= {pct(rule.warn)})",
        )
    ]
    target = bt.get("plan_target")
    this_year = (ev.quota_config or {}).get("company_target")
    company_error = bt.get("company_error")
    if company_error is None:
        parts.append(Part.unmeasured("company forecast error not given", "last year's plan number"))
    elif target is not None and this_year is not None and float(target) == float(this_year):
        parts.append(
            Part.unmeasured(
                f"company error {pct(float(company_error))} compares last year's sales with "
                "this year's target, not a forecast",
                "last year's plan number (the backtest's plan_target)",
            )
        )
    else:
        parts.append(
            Part.measured(
                float(company_error) <= p.company_error_max,
                f"company forecast error {pct(float(company_error))} (limit "
                f"{pct(p.company_error_max)})",
                gauge=Gauge(
                    "company forecast error", float(company_error), p.company_error_max, "<="
                ),
            )
        )
    parts.append(_against_naive(wmape, bt.get("naive_wmape"), p))
    evidence = [
        f"{pct(bt.get('share_within_narrow_band'))} of territories within ±10% of quota, "
        f"{pct(bt.get('share_within_wide_band'))} within ±20%",
        *forward,
    ]
    return Finding(parts, value=wmape, evidence=evidence)


def _against_naive(wmape: float, naive: float | None, p: Params) -> Part:
    """C8 (c): the method's quotas against the naive rule, last year's sales x growth."""
    if naive is None or not math.isfinite(float(naive)):
        return Part.unmeasured(
            "naive baseline not in the backtest", "a backtest with last year's sales per territory"
        )
    base = float(naive)
    gap = wmape - base
    if gap > 0:
        said = (
            f"the quotas miss actual sales by {pct(wmape)} (WMAPE), {100 * gap:.1f} points more "
            f"than the naive rule, last year's sales x growth ({pct(base)}): the method spreads "
            "the number less accurately than history alone"
        )
    else:
        said = (
            f"the quotas miss actual sales by {pct(wmape)} (WMAPE), no more than the naive rule, "
            f"last year's sales x growth ({pct(base)})"
        )
    limits = (
        f" (pass when no more than {100 * p.naive_gap_pass_max:.1f} points worse, warn up to "
        f"{100 * p.naive_gap_warn_max:.1f})"
    )
    return Part.measured(
        gap <= p.naive_gap_pass_max + 1e-12,
        said + limits,
        warn=gap <= p.naive_gap_warn_max + 1e-12,
        gauge=Gauge(
            "quota WMAPE minus that of last year's sales x growth", gap, p.naive_gap_pass_max, "<="
        ),
        action="blend more history into the quota method (--history-weight) or set quotas from "
        "last year's sales x growth until the method beats it",
    )


def _complexity(ev: CheckEvidence) -> list[str]:
    """Plan complexity per role, and where the payout calculator is."""
    if ev.comp is None:
        return ["no comp plan given"]
    evidence = []
    for role in ev.comp.roles.values():
        curves = [role.curve_of(m) for m in role.measures]
        tiers = sum(len(c.tiers) for c in curves)
        thresholds = sum(c.threshold is not None for c in curves)
        caps = sum(c.cap is not None for c in curves)
        evidence.append(
            f"{role.name}: {len(role.measures)} measure(s), {tiers} tier(s), "
            f"{thresholds} threshold(s), {caps} cap(s)"
        )
    evidence.append("payout calculator: payout_table.csv and `territory payout`")
    return evidence


def survey_shares(survey: pd.DataFrame, column: str) -> list[tuple[str, float, int]]:
    """Share agreeing per respondent group (one unnamed group without a ``group`` column).

    Returns ``(group, share, answers)`` for each group with an answer, in name order;
    unanswered rows (NaN) are left out.
    """
    answers = numbers(survey, column)
    groups = (
        survey["group"].astype("string").fillna("").str.strip()
        if "group" in survey.columns
        else pd.Series("", index=survey.index)
    )
    out = []
    for name in sorted(set(groups[np.isfinite(answers)])):
        picked = answers[(groups == name).to_numpy() & np.isfinite(answers)]
        out.append((str(name) or "all respondents", float(picked.mean()), int(picked.size)))
    return out


def c9_plan_understanding(ev: CheckEvidence, p: Params, rule: Rule) -> Finding:
    """C9: share of surveyed reps and leaders who can work out their own pay, per group."""
    evidence = _complexity(ev)
    quiz = f"pass at >= {pct(rule.threshold)} able to calculate their own incentive"
    if ev.survey is None or "can_calculate_pay" not in ev.survey.columns:
        return Finding(
            n=len(ev.comp.roles) if ev.comp else None,
            evidence=evidence,
            needs=[f"a survey or quiz of reps and leaders ({quiz})"],
            status=Status.NOT_ASSESSABLE,
        )
    groups = survey_shares(ev.survey, "can_calculate_pay")
    answered = sum(n for _, _, n in groups)
    if answered < p.min_responses:
        return Finding(
            n=answered,
            inputs=["survey file"],
            evidence=[f"{answered} answer(s) to can_calculate_pay", *evidence],
            needs=[f"at least {p.min_responses} survey answers ({quiz})"],
            status=Status.NOT_ASSESSABLE,
        )
    parts = [
        rule.part(
            share,
            f"{name}: {pct(share)} of {n} can work out their own incentive (pass >= "
            f"{pct(rule.threshold)}, warn >= {pct(rule.warn)})",
            metric=f"{name}: share who can work out their own incentive",
            action="walk reps and leaders through the plan with worked examples (the plan "
            "document and payout calculator), simplify the plan if it stays unclear, then "
            "survey again",
        )
        for name, share, n in groups
    ]
    overall = float(sum(s * n for _, s, n in groups) / answered)
    return Finding(parts, value=overall, n=answered, inputs=["survey file"], evidence=evidence)


def _dry_run_errors(resolved: Sequence[RolePlan | None]) -> int:
    """How many of the resolved role plans fail to pay at 50, 100 and 150% of quota."""
    errors = 0
    for role in {id(r): r for r in resolved if r is not None}.values():
        try:
            pay = payout_for(role, np.array([0.5, 1.0, 1.5]))
            if not np.isfinite(pay.total).all():
                errors += 1
        except (TerritoryError, ValueError, ArithmeticError):
            errors += 1
    return errors


def _crediting_part(ev: CheckEvidence) -> Part:
    """Every plan measure matches a data field the payout can be computed from."""
    comp = given(ev.comp)
    fields = set()
    if ev.accounts is not None:
        fields |= set(ev.accounts.columns)
    if ev.quotas is not None and "measure" in ev.quotas.columns:
        fields |= set(ev.quotas["measure"].astype(str))
    if ev.quota_config and ev.quota_config.get("measure"):
        fields.add(str(ev.quota_config["measure"]))
    names = sorted({m.name for r in comp.roles.values() for m in r.measures})
    unmapped = [m for m in names if m not in fields]
    if unmapped:
        return Part.unmeasured(
            f"measure(s) {listing(unmapped)} do not match a data field",
            "a crediting rule mapping each plan measure to a data field",
        )
    return Part.measured(True, f"every measure ({listing(names)}) matches a data field")


def _timeliness_parts(ev: CheckEvidence, p: Params) -> list[Part]:
    """Median days from period close to payment, and the share of payments corrected later."""
    if ev.payouts is None:
        return [
            Part.unmeasured(
                "payment timeliness and corrections not measured",
                f"payout run dates and an adjustment log (pay within {p.max_days_to_pay} days "
                f"of close, corrections <= {pct(p.max_correction_rate)})",
            )
        ]
    runs = ev.payouts
    days = (pd.to_datetime(runs["paid_on"]) - pd.to_datetime(runs["period_end"])).dt.days
    median = float(days.median())
    d_max, d_warn = p.max_days_to_pay, p.days_to_pay_warn_max
    payments = float(numbers(runs, "payments").sum())
    rate = float(numbers(runs, "corrections").sum()) / payments if payments > 0 else 0.0
    c_max, c_warn = p.max_correction_rate, p.correction_rate_warn_max
    return [
        Part.measured(
            median <= d_max,
            f"median {num(median)} days from period close to payment over {len(runs)} payout "
            f"run(s) (pass <= {d_max}, warn <= {d_warn})",
            warn=median <= d_warn,
            gauge=Gauge("median days from period close to payment", median, d_max, "<="),
            action="shorten the payout cycle: lock crediting data sooner after close and "
            "automate the calculation",
        ),
        Part.measured(
            rate <= c_max + 1e-12,
            f"{pct(rate)} of {payments:,.0f} payments corrected after payment (pass <= "
            f"{pct(c_max)}, warn <= {pct(c_warn)})",
            warn=rate <= c_warn + 1e-12,
            gauge=Gauge("share of payments corrected after payment", rate, c_max, "<="),
            action="find why payments are corrected (crediting, late deals, plan terms) and "
            "fix the source data or rules",
        ),
    ]


def c10_administration(ev: CheckEvidence, p: Params, rule: Rule) -> Finding:
    """C10: every rep maps to one plan and a dry-run payout works; timeliness needs dates."""
    comp, reps = given(ev.comp), given(ev.reps)
    default_role = next(iter(comp.roles.values())).rep_roles[0]
    roles = (
        reps["role"].astype("string").fillna(default_role)
        if "role" in reps.columns
        else pd.Series(default_role, index=reps.index)
    )
    resolved: list[RolePlan | None] = []
    for value in roles.astype(str):
        try:
            resolved.append(comp.role_for(value))
        except TerritoryError:
            resolved.append(None)
    unresolved = reps["rep_id"].astype(str).to_numpy()[[r is None for r in resolved]]
    errors = _dry_run_errors(resolved)
    resolving = 1.0 - unresolved.size / max(1, len(reps))
    parts = [
        Part.measured(
            unresolved.size == 0,
            f"{len(reps) - unresolved.size} of {len(reps)} reps resolve to one role plan"
            + (f"; unresolved: {listing(unresolved)}" if unresolved.size else ""),
            action="give every rep a role that one role plan lists under rep_roles",
            gauge=rule.gauge(None, resolving),
        ),
        Part.measured(
            errors == 0,
            f"dry-run payout at 50/100/150% of quota: {errors} error(s)",
            gauge=Gauge("role plans whose dry-run payout fails", errors, 0, "<="),
            action="fix the comp plan curves so every role pays a finite amount",
        ),
        _crediting_part(ev),
        *_timeliness_parts(ev, p),
    ]
    return Finding(parts, value=resolving, n=len(reps))
