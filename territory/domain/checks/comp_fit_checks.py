"""How the comp plan fits what lies outside it: C1 (the company's objectives), C2 (market pay).

Both are measured against files the user supplies (an objectives file, a market pay file; read
by :mod:`territory.io.check_inputs`); without them each names the file it needs. Like the other
comp checks, each function returns a :class:`~territory.domain.checks.model.Finding` and is
declared in :mod:`territory.domain.checks.catalogue`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from territory.domain.checks import inputs
from territory.domain.checks.evidence import CheckEvidence
from territory.domain.checks.formats import listing, num, pct
from territory.domain.checks.helpers import given, norm_role, numbers, plan_role_names
from territory.domain.checks.model import Finding, Gauge, Part, Rule, Status
from territory.domain.checks.thresholds import Params
from territory.domain.comp import CompPlan, Measure, RolePlan


def _applies_to(roles: Sequence[str], plan_role: RolePlan) -> bool:
    names = set(plan_role_names(plan_role))
    return any(norm_role(r) in names for r in roles)


def _weight_gap_part(ev: CheckEvidence, comp: CompPlan, p: Params) -> Part | None:
    """How far each role's incentive weights stray from the weights of the objectives it serves."""
    weights = ev.objective_weights
    if not weights or ev.objectives is None:
        return None
    worst, where = 0.0, ""
    for plan_role in comp.roles.values():
        applying = {
            o: weights.get(o, 0.0) for o, r in ev.objectives.items() if _applies_to(r, plan_role)
        }
        total = sum(applying.values())
        if total <= 0:
            continue
        for objective, weight in applying.items():
            paid = sum(m.weight for m in plan_role.measures if m.objective_id == objective)
            gap = abs(paid - weight / total)
            if gap > worst + 1e-12:
                worst = gap
                where = (
                    f"{plan_role.name} pays {pct(paid)} of its incentive on {objective}, which "
                    f"weighs {pct(weight / total)} of the objectives the role serves"
                )
    limit = p.weight_gap_warn_max
    return Part.measured(
        worst <= limit + 1e-12,
        f"largest gap between an objective's weight and a role's incentive weight on it "
        f"{pct(worst)} (limit {pct(limit)})" + (f": {where}" if where else ""),
        warn=True,
        gauge=Gauge(
            "largest gap between objective weight and incentive weight", worst, limit, "<="
        ),
        action="re-weight the role's measures toward the objectives that matter most, or "
        "correct the objective weights",
    )


def c1_objective_alignment(ev: CheckEvidence, p: Params, rule: Rule) -> Finding:
    """C1: every measure names a listed objective; every objective reaches its roles."""
    comp = given(ev.comp)
    listed = None if ev.objectives is None else set(ev.objectives)
    measures = [(role, m) for role in comp.roles.values() for m in role.measures]

    def traced(m: Measure) -> bool:
        return bool(m.objective_id) and (listed is None or m.objective_id in listed)

    share = sum(traced(m) for _, m in measures) / len(measures)
    untraced = [
        f"{r.name}/{m.name}"
        + (f" ({m.objective_id} is not in the objectives file)" if m.objective_id else "")
        for r, m in measures
        if not traced(m)
    ]
    parts = [
        rule.part(
            share,
            f"{len(measures) - len(untraced)} of {len(measures)} measures name "
            + ("an objective of the objectives file" if listed is not None else "an objective")
            + (f"; without: {listing(untraced)}" if untraced else ""),
            action="give every measure in the comp plan an objective_id that the objectives "
            "file lists",
        )
    ]
    if ev.objectives is None:
        used = sorted({str(m.objective_id) for _, m in measures if m.objective_id})
        parts.append(
            Part.unmeasured("objectives used: " + listing(used, limit=10), inputs.OBJECTIVES.needs)
        )
        return Finding(parts, value=share, n=len(measures))
    weights = ev.objective_weights or {}
    gaps, pairs = [], 0
    for objective, roles in ev.objectives.items():
        if weights.get(objective, 1.0) <= 0:
            continue
        for wanted in roles:
            pairs += 1
            plan_role = next(
                (r for r in comp.roles.values() if norm_role(wanted) in plan_role_names(r)), None
            )
            if plan_role is None or not any(
                m.objective_id == objective for m in plan_role.measures
            ):
                gaps.append(f"{objective} -> {wanted}")
    covered = (pairs - len(gaps)) / pairs if pairs else 1.0
    parts.append(
        Part.measured(
            not gaps,
            f"{pairs - len(gaps)} of {pairs} objective-role pairs have a measure"
            + (f"; missing: {listing(gaps)}" if gaps else ""),
            gauge=Gauge("share of objective-role pairs with a measure", covered, 1.0, ">="),
            action="add a measure serving each listed objective to the plan of every role it "
            "applies to, or take the role off the objective",
        )
    )
    gap_part = _weight_gap_part(ev, comp, p)
    if gap_part is not None:
        parts.append(gap_part)
    return Finding(parts, value=share, n=len(measures), inputs=["comp plan", "objectives file"])


def _quota_by_rep(ev: CheckEvidence) -> pd.Series | None:
    if ev.quotas is None or "final_annual_quota" not in ev.quotas.columns:
        return None
    return ev.quotas.groupby(ev.quotas["rep_id"].astype(str))["final_annual_quota"].sum()


def _quota_to_ote_lines(ev: CheckEvidence, p: Params) -> list[str]:
    """Each role's OTE and mix, and its median quota-to-OTE against the usual band."""
    lo, hi = p.quota_to_ote_low, p.quota_to_ote_high
    comp, evidence = given(ev.comp), []
    quotas = _quota_by_rep(ev)
    for role in comp.roles.values():
        mix = pct(role.pay_mix.variable)
        line = f"{role.name}: OTE {role.ote:,.0f} {comp.currency}, {mix} variable"
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
                line += f"; median quota/OTE {med:.1f}x (band {lo:g}-{hi:g}x, information)"
        evidence.append(line)
    return evidence


def _market_parts(role: RolePlan, row: Mapping[Any, Any], p: Params) -> tuple[list[Part], bool]:
    """OTE against the market P25..P75 (a little outside warns), mix against the market median."""
    low, mid, high, ote = row["ote_p25"], row["ote_p50"], row["ote_p75"], role.ote
    slack = p.ote_band_slack
    inside = low <= ote <= high
    near = low * (1 - slack) <= ote <= high * (1 + slack)
    side = "below" if ote < low else "above"
    parts = [
        Part.measured(
            inside,
            f"{role.name}: OTE {ote:,.0f} vs market P25 {low:,.0f}, P50 {mid:,.0f}, P75 "
            f"{high:,.0f} ({num(ote / mid)}x the median)",
            warn=near,
            gauge=Gauge(f"{role.name}: OTE", ote, f"{low:,.0f}..{high:,.0f}", "in"),
            action=f"{role.name} OTE is {side} the market's middle half: "
            + (
                "raise it toward the market median to hire and keep sellers"
                if side == "below"
                else "check the premium is intended; lower it toward the median otherwise"
            ),
        )
    ]
    ok = inside
    market_mix = row.get("variable_share_p50", math.nan)
    if math.isfinite(market_mix):
        gap = abs(role.pay_mix.variable - market_mix)
        tol, warn = p.mix_tolerance, p.mix_warn_tolerance
        parts.append(
            Part.measured(
                gap <= tol + 1e-9,
                f"{role.name}: {pct(role.pay_mix.variable)} variable vs market "
                f"{pct(market_mix)} ({pct(gap)} apart, limit {pct(tol)})",
                warn=gap <= warn + 1e-9,
                gauge=Gauge(
                    f"{role.name}: distance of the variable share from market", gap, tol, "<="
                ),
                action=f"move the {role.name} pay mix toward the market's {pct(market_mix)} "
                "variable",
            )
        )
        ok = ok and gap <= tol + 1e-9
    else:
        parts.append(
            Part.unmeasured(
                f"{role.name}: market pay mix not given",
                f"the market variable share of OTE for role '{role.name}' (variable_share_p50)",
            )
        )
    return parts, ok


def c2_market_competitiveness(ev: CheckEvidence, p: Params, rule: Rule) -> Finding:
    """C2: each role's OTE inside the market's P25..P75 and its mix near the market's."""
    if ev.comp is None:
        return Finding.absent([inputs.COMP.needs, inputs.MARKET_PAY.needs])
    evidence = _quota_to_ote_lines(ev, p)
    if ev.market_pay is None:
        return Finding(
            n=len(ev.comp.roles),
            evidence=evidence,
            needs=[inputs.MARKET_PAY.needs],
            status=Status.NOT_ASSESSABLE,
        )
    market = {norm_role(str(r["role"])): r for r in ev.market_pay.to_dict("records")}
    parts: list[Part] = []
    in_market = assessed = 0
    for role in ev.comp.roles.values():
        row = next((market[k] for k in plan_role_names(role) if k in market), None)
        if row is None:
            parts.append(
                Part.unmeasured(
                    f"{role.name}: no market row",
                    f"a market pay row for role '{role.name}' (or one of {list(role.rep_roles)})",
                )
            )
            continue
        role_parts, ok = _market_parts(role, row, p)
        parts += role_parts
        assessed += 1
        in_market += ok
    return Finding(
        parts,
        value=in_market / assessed if assessed else None,
        n=len(ev.comp.roles),
        inputs=["comp plan", "market pay file", "quotas"],
        evidence=evidence,
    )
