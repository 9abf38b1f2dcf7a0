"""Compensation and quota checks C1-C10: the pay plan, earning chances and the quotas' record.

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
from territory.domain.checks.helpers import given, norm_role, numbers, spearman
from territory.domain.checks.model import Finding, Part, Rule, Status
from territory.domain.checks.thresholds import C3, Params
from territory.domain.comp import RolePlan
from territory.domain.payouts import payout_for
from territory.errors import TerritoryError


def _roles_of_rep(role: RolePlan) -> list[str]:
    return [norm_role(role.name), *(norm_role(r) for r in role.rep_roles)]


def c1_objective_alignment(ev: CheckEvidence, p: Params, rule: Rule) -> Finding:
    """C1: every measure names an objective; every objective reaches its roles."""
    comp = given(ev.comp)
    measures = [(role, m) for role in comp.roles.values() for m in role.measures]
    traced = [(r, m) for r, m in measures if m.objective_id]
    share = len(traced) / len(measures)
    untraced = [f"{r.name}/{m.name}" for r, m in measures if not m.objective_id]
    parts = [
        rule.part(
            share,
            f"{len(traced)} of {len(measures)} measures name an objective"
            + (f"; without: {listing(untraced)}" if untraced else ""),
        )
    ]
    if ev.objectives is not None:
        gaps = []
        pairs = 0
        for objective, roles in ev.objectives.items():
            for wanted in roles:
                pairs += 1
                plan_role = next(
                    (r for r in comp.roles.values() if norm_role(wanted) in _roles_of_rep(r)),
                    None,
                )
                if plan_role is None or not any(
                    m.objective_id == objective for m in plan_role.measures
                ):
                    gaps.append(f"{objective}->{wanted}")
        parts.append(
            Part.measured(
                not gaps,
                f"{pairs - len(gaps)} of {pairs} objective-role pairs have a measure"
                + (f"; missing: {listing(gaps)}" if gaps else ""),
            )
        )
    else:
        used = sorted({str(m.objective_id) for _, m in traced})
        parts.append(
            Part.unmeasured("objectives used: " + listing(used, limit=10), inputs.OBJECTIVES.needs)
        )
    return Finding(parts, value=share, n=len(measures))


def _quota_by_rep(ev: CheckEvidence) -> pd.Series | None:
    if ev.quotas is None or "final_annual_quota" not in ev.quotas.columns:
        return None
    return ev.quotas.groupby(ev.quotas["rep_id"].astype(str))["final_annual_quota"].sum()


def c2_market_competitiveness(ev: CheckEvidence, p: Params, rule: Rule) -> Finding:
    """C2: needs market pay data; reports OTE, mix and quota-to-OTE as evidence."""
    lo, hi = p.quota_to_ote_low, p.quota_to_ote_high
    evidence: list[str] = []
    if ev.comp is not None:
        quotas = _quota_by_rep(ev)
        for role in ev.comp.roles.values():
            line = (
                f"{role.name}: OTE {role.ote:,.0f} {ev.comp.currency}, "
                f"{pct(role.pay_mix.variable)} variable"
            )
            if quotas is not None and ev.reps is not None and "role" in ev.reps.columns:
                wanted = set(role.rep_roles)
                ids = ev.reps["rep_id"].astype(str)[ev.reps["role"].astype(str).isin(wanted)]
                q = quotas.reindex(ids).to_numpy(dtype=np.float64)
                ote = np.full(q.shape, role.ote)
                if "ote" in ev.reps.columns:
                    rep_ote = numbers(ev.reps, "ote")[ev.reps["rep_id"].astype(str).isin(ids)]
                    ote = np.where(np.isfinite(rep_ote), rep_ote, role.ote)
                ratio = q / ote
                if np.isfinite(ratio).any():
                    med = float(np.nanmedian(ratio))
                    line += f"; median quota/OTE {med:.1f}x (band {lo:g}-{hi:g}x)"
            evidence.append(line)
    return Finding(
        n=len(ev.comp.roles) if ev.comp else None,
        evidence=evidence or ["no comp plan given"],
        needs=[inputs.MARKET_PAY.needs],
        status=Status.NOT_ASSESSABLE,
    )


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
        for name in _roles_of_rep(role):
            variable.setdefault(name, v)
        band_key = next((k for k in _roles_of_rep(role) if k in bands), None)
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
            Part.measured(ok, f"{role.name}: {pct(v)} variable (band {pct(lo)}-{pct(hi)})")
        )
    for high, low in p.ordering:
        if high in variable and low in variable:
            parts.append(
                Part.measured(
                    variable[high] >= variable[low] - 1e-9,
                    f"{high} variable {pct(variable[high])} vs {low} {pct(variable[low])} "
                    "(the first should not be lower)",
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
        ),
        Part.measured(
            not falling,
            f"{name}: payout never falls as attainment rises"
            if not falling
            else f"{name}: payout falls on {falling}",
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
            )
        )
        parts.append(
            Part.measured(
                f10 <= p.payout_p10_max,
                f"{name}: the 10th-percentile rep ({pct(r.get('attainment_p10'))}) earns "
                f"{num(f10)}x TI (limit {p.payout_p10_max:g})",
            )
        )
        if r.get("cap_binding_rate") is not None:
            cap = float(r["cap_binding_rate"])
            parts.append(
                Part.measured(
                    cap <= p.cap_binding_max,
                    f"{name}: cap binds in {pct(cap)} of rep-draws (limit "
                    f"{pct(p.cap_binding_max)})",
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
        parts.append(
            Part.measured(
                len(weights) <= n_max and rule.holds(low),
                f"{role.name}: {len(weights)} measure(s), lightest "
                f"{pct(low)} of TI (limits: <= {n_max} measures, each "
                f"{rule.comparator} {pct(rule.threshold)})",
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
            )
        )
        parts.append(
            Part.measured(
                math.isfinite(p_spread) and p_spread <= p_max,
                f"chance of reaching quota differs from the median by up to "
                f"{pct(p_spread)} (limit {pct(p_max)})",
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
        return Part(Status.WARN, text + f"; above {pct(p.too_easy_above)} the quotas look too easy")
    return rule.part(share, text)


def _share_paid(share: float, label: str, p: Params, verb: str) -> Part:
    """Nearly every rep earns some incentive."""
    return Part.measured(
        share >= p.share_paid_min,
        f"{label}: {pct(share)} of reps {verb} some incentive (needs >= {pct(p.share_paid_min)})",
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
    )


def c9_plan_understanding(ev: CheckEvidence, p: Params, rule: Rule) -> Finding:
    """C9: needs a survey; reports plan complexity and the calculator as evidence."""
    evidence = []
    if ev.comp is not None:
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
    return Finding(
        n=len(ev.comp.roles) if ev.comp else None,
        evidence=evidence or ["no comp plan given"],
        needs=[
            f"a survey or quiz of reps and leaders (pass at >= {pct(rule.threshold)} able to "
            "calculate their own incentive)"
        ],
        status=Status.NOT_ASSESSABLE,
    )


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
    parts = [
        Part.measured(
            unresolved.size == 0,
            f"{len(reps) - unresolved.size} of {len(reps)} reps resolve to one role plan"
            + (f"; unresolved: {listing(unresolved)}" if unresolved.size else ""),
        ),
        Part.measured(errors == 0, f"dry-run payout at 50/100/150% of quota: {errors} error(s)"),
        _crediting_part(ev),
        Part.unmeasured(
            "payment timeliness and corrections not measured",
            f"payout run dates and an adjustment log (pay within {p.max_days_to_pay} days of "
            f"close, corrections <= {pct(p.max_correction_rate)})",
        ),
    ]
    return Finding(parts, value=1.0 - unresolved.size / max(1, len(reps)), n=len(reps))
