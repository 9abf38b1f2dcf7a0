"""Territory design checks T1-T10: coverage, workload, potential, balance, moves and people.

Each function measures one check and returns a :class:`~territory.domain.checks.model.Finding`; what
the check states, requires and is held to is declared in :mod:`territory.domain.checks.catalogue`,
so
a function starts from inputs that are there and a bound ``rule``. The rules follow the quota
spec, section 3.1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt
import pandas as pd

from territory.domain.checks import inputs
from territory.domain.checks.evidence import CheckEvidence, balance
from territory.domain.checks.formats import listing, num, pct
from territory.domain.checks.helpers import blank, given, numbers, pearson, share_of, spearman
from territory.domain.checks.model import Finding, Gauge, Part, Rule, Status
from territory.domain.checks.thresholds import Params
from territory.domain.metrics import moved_mask, territory_table
from territory.domain.model import DEFAULT_TIER_FACTORS


def t1_coverage(ev: CheckEvidence, p: Params, rule: Rule) -> Finding:
    """T1: potential held by active reps, top accounts covered, nobody over capacity."""
    acc, reps = given(ev.accounts), given(ev.reps)
    plan = ev.plan_ids()
    potential = np.nan_to_num(numbers(acc, "potential"))
    workload = np.nan_to_num(numbers(acc, "workload"))
    active_ids = set(reps["rep_id"].astype(str)[ev.active_reps()])
    held = np.array([r in active_ids for r in plan.tolist()], dtype=np.bool_)
    total = float(potential.sum())
    covered = float(potential[held].sum()) / total if total > 0 else None
    parts = [
        rule.part(
            covered,
            f"(a) {pct(covered)} of potential sits with active reps (needs >= "
            f"{pct(rule.threshold)}); {int((~held).sum())} account(s) with vacant or "
            "to-be-hired reps",
        )
    ]
    k = max(1, math.ceil(p.a_segment_top_share * len(acc)))
    top = np.argsort(-potential, kind="stable")[:k]
    ok = held[top] & (workload[top] > 0)
    a_share = float(ok.mean())
    ids = acc["account_id"].astype(str).to_numpy()[top][~ok]
    parts.append(
        Part.measured(
            a_share >= p.a_segment_covered_min,
            f"(b) {pct(a_share)} of the top {pct(p.a_segment_top_share)} accounts by potential "
            f"({k}) have an active rep and planned hours (needs >= "
            f"{pct(p.a_segment_covered_min)})"
            + (f"; uncovered: {listing(ids)}" if ids.size else ""),
            gauge=Gauge(
                "share of top accounts with an active rep and hours",
                a_share,
                p.a_segment_covered_min,
                ">=",
            ),
            action="give every top account an active rep and planned hours (lock it to one, or "
            "fill the vacant seat)",
        )
    )
    table = given(ev.territory_table())
    active_rows = ev.active_reps()
    util = table["utilization"].to_numpy(dtype=np.float64)[active_rows]
    u_max = p.utilisation_max
    over = table["rep_id"].to_numpy()[active_rows][util > u_max]
    highest = float(util.max()) if util.size else None
    parts.append(
        Part.measured(
            bool(util.size == 0 or util.max() <= u_max),
            f"(c) highest utilisation {num(float(util.max()) if util.size else None)} "
            f"(limit {u_max:g})" + (f"; over: {listing(over)}" if over.size else ""),
            gauge=Gauge("highest utilisation of an active rep", highest, u_max, "<="),
            action="move accounts from the overloaded reps, add capacity or run align with a "
            "tighter workload balance",
        )
    )
    parts.append(
        Part.unmeasured(
            "(d) actual time per account vs potential not measured",
            "CRM activity logs or a time study (hours spent per account)",
            optional=True,
        )
    )
    return Finding(parts, value=covered, n=len(acc), excluded_n=int((~active_rows).sum()))


def t2_realignment_opportunity(ev: CheckEvidence, p: Params, rule: Rule) -> Finding:
    """T2: net uplift of the proposed over the current alignment, net of transition loss."""
    acc, reps = given(ev.accounts), given(ev.reps)
    plan = ev.plan_ids()
    evidence: list[str] = []
    u_flag, p_flag = p.utilisation_flag, p.potential_index_flag
    factors = ev.tier_factors or DEFAULT_TIER_FACTORS

    def flagged(table: pd.DataFrame) -> list[str]:
        index = 1.0 + table["potential_dev"].to_numpy(dtype=np.float64)
        util = table["utilization"].to_numpy(dtype=np.float64)
        return table["rep_id"].astype(str).to_numpy()[(util > u_flag) | (index > p_flag)].tolist()

    proposed = flagged(given(ev.territory_table()))
    evidence.append(
        f"proposed plan: {len(proposed)} rep(s) over {u_flag:g} utilisation or "
        f"{p_flag:g}x their potential target" + (f" ({listing(proposed)})" if proposed else "")
    )
    loss_rate = p.transition_loss_rate
    moved_share = None
    if ev.has_current():
        current = acc["current_rep"].astype("string").str.strip()
        known = set(reps["rep_id"].astype(str))
        if bool(current.isin(known).fillna(False).all()):
            now = flagged(
                territory_table(acc, reps, current.astype(str).to_numpy(dtype=object), factors)
            )
            evidence.append(
                f"current alignment: {len(now)} rep(s) over the same limits"
                + (f" ({listing(now)})" if now else "")
            )
        if ev.has_history():
            revenue = np.nan_to_num(numbers(acc, "revenue_last_year"))
            moved = moved_mask(acc, plan)
            total = float(revenue.sum())
            moved_share = float(revenue[moved].sum()) / total if total > 0 else None
            if moved_share is not None:
                evidence.append(
                    f"expected transition loss {pct(loss_rate * moved_share)} of revenue "
                    f"({loss_rate:g} x {pct(moved_share)} of revenue moved)"
                )
    if ev.realignment_uplift is None:
        return Finding(
            n=len(reps),
            evidence=evidence,
            needs=[inputs.REALIGNMENT_UPLIFT.needs],
            status=Status.NOT_ASSESSABLE,
        )
    u_net = float(ev.realignment_uplift) - loss_rate * (moved_share or 0.0)
    status = rule.judge(u_net)
    evidence.insert(
        0, f"uplift {pct(ev.realignment_uplift)} less transition loss gives U_net {pct(u_net)}"
    )
    return Finding(
        value=u_net,
        n=len(reps),
        inputs=["accounts", "reps", "plan", "realignment_uplift"],
        evidence=evidence,
        status=status,
        notes="" if moved_share is not None else "no revenue history: transition loss taken as 0",
    )


def _reproducibility(ev: CheckEvidence) -> Part:
    """Check that the same inputs and seed give the same plan: by a rerun, else by the record."""
    if ev.rerun_plan is not None and ev.plan is not None:
        a = pd.Series(ev.plan).astype(str).to_numpy()
        b = pd.Series(ev.rerun_plan).astype(str).to_numpy()
        same = a.shape == b.shape and bool((a == b).all())
        differ = int((a != b).sum()) if a.shape == b.shape else -1
        return Part.measured(
            same,
            "rerun from the same inputs and seed gives the identical plan"
            if same
            else f"rerun from the same inputs and seed differs on {differ} account(s)",
        )
    solve = ev.solve or {}
    params = solve.get("parameters") or {}
    hashes = solve.get("inputs") or {}
    seed = solve.get("seed", params.get("seed") if isinstance(params, Mapping) else None)
    recorded = isinstance(seed, int) and bool(hashes) and bool(params)
    if not recorded:
        return Part.measured(
            False,
            "solve.json lacks the seed, input hashes or parameters needed to rerun the plan",
        )
    limit = float(solve.get("time_limit_s") or params.get("time_limit_s") or math.inf)
    seconds = float(solve.get("seconds") or 0.0)
    if seconds >= 0.98 * limit:
        return Part.measured(
            False,
            f"the solve stopped at its {limit:g} s time limit, so a rerun on another machine "
            "may reach a different plan",
            warn=True,
        )
    return Part.measured(
        True,
        f"rerun recipe recorded: seed {seed}, input hashes for {sorted(hashes)}, "
        f"{len(params)} parameters",
    )


def _override_parts(acc: pd.DataFrame, p: Params, rule: Rule) -> tuple[float, list[Part]]:
    """Share of accounts (and of potential) locked by hand, and whether each lock says why."""
    n = len(acc)
    locked = ~blank(acc["locked_rep"]) if "locked_rep" in acc.columns else np.zeros(n, np.bool_)
    potential = np.nan_to_num(numbers(acc, "potential"))
    share_n = share_of(locked, 0.0)
    total = float(potential.sum())
    share_p = float(potential[locked].sum()) / total if total > 0 else 0.0
    value = max(share_n, share_p)
    text = (
        f"{int(locked.sum())} locked account(s): {pct(share_n)} of accounts, "
        f"{pct(share_p)} of potential (pass <= {pct(rule.threshold)}, warn <= {pct(rule.warn)})"
    )
    parts = [rule.part(value, text)]
    if locked.any() and p.require_reason_codes:
        reason_col = next((c for c in ("lock_reason", "override_reason") if c in acc.columns), None)
        missing = (
            int(locked.sum())
            if reason_col is None
            else int((locked & blank(acc[reason_col])).sum())
        )
        if missing:
            parts.append(
                Part(
                    Status.WARN,
                    f"{missing} locked account(s) carry no reason code",
                    "a reason code for every locked account (column lock_reason)",
                )
            )
        else:
            parts.append(Part.measured(True, "every locked account carries a reason code"))
    return value, parts


def t3_objective_criteria(ev: CheckEvidence, p: Params, rule: Rule) -> Finding:
    """T3: balancing rules with tolerances, a reproducible run, few and explained overrides."""
    solve = given(ev.solve)
    params = solve.get("parameters") or {}
    tolerances = {
        name: params.get(f"balance_{name}", solve.get(f"balance_{name}"))
        for name in ("potential", "workload")
    }
    defined = {
        k: float(v)
        for k, v in tolerances.items()
        if isinstance(v, int | float) and math.isfinite(v) and v > 0
    }
    rules = (
        ", ".join(f"{k} within ±{pct(v)} of target" for k, v in defined.items())
        + " (hard constraints, so there are no weights to add up)"
        if defined
        else "none recorded"
    )
    parts = [Part.measured(bool(defined), "balancing rules: " + rules), _reproducibility(ev)]
    if ev.accounts is None:
        parts.append(Part.unmeasured("overrides not counted", "accounts table with locked_rep"))
        return Finding(parts)
    value, overrides = _override_parts(ev.accounts, p, rule)
    return Finding(parts + overrides, value=value, n=len(ev.accounts))


def t4_workload_known(ev: CheckEvidence, p: Params, rule: Rule) -> Finding:
    """T4: every account (and territory) has a workload estimate."""
    acc = given(ev.accounts)
    workload = numbers(acc, "workload")
    has = np.nan_to_num(workload) > 0
    potential = np.nan_to_num(numbers(acc, "potential")) if "potential" in acc else None
    share = share_of(has)
    parts = [
        rule.part(
            share,
            f"{pct(share)} of {len(acc)} accounts have workload > 0 (needs >= "
            f"{pct(rule.threshold)})",
        )
    ]
    if potential is not None and potential.sum() > 0:
        p_share = float(potential[has].sum() / potential.sum())
        p_min = p.potential_with_workload_min
        parts.append(
            Part.measured(
                p_share >= p_min,
                f"{pct(p_share)} of potential is on accounts with workload (needs >= {pct(p_min)})",
                gauge=Gauge("share of potential on accounts with workload", p_share, p_min, ">="),
            )
        )
    if ev.plan is not None:
        per_rep = pd.Series(np.nan_to_num(workload)).groupby(ev.plan_ids()).sum()
        t_share = share_of(per_rep.to_numpy() > 0, 0.0)
        t_min = p.territories_with_workload_min
        parts.append(
            Part.measured(
                t_share >= t_min,
                f"{pct(t_share)} of {len(per_rep)} territories have a workload total "
                f"(needs >= {pct(t_min)})",
                gauge=Gauge("share of territories with a workload total", t_share, t_min, ">="),
            )
        )
    else:
        parts.append(Part.unmeasured("territory workload not summed", inputs.ASSIGNMENT.needs))
    return Finding(parts, value=share, n=len(acc))


def t5_rep_workload(ev: CheckEvidence, p: Params, rule: Rule) -> Finding:
    """T5: every rep's utilisation (workload / capacity) inside the band."""
    lo, hi, wlo, whi = p.band_low, p.band_high, p.warn_low, p.warn_high
    table = given(ev.territory_table())
    active = ev.active_reps()
    util = table["utilization"].to_numpy(dtype=np.float64)[active]
    ids = table["rep_id"].astype(str).to_numpy()[active]
    inside = (util >= lo) & (util <= hi)
    near = (util >= wlo) & (util <= whi)
    share = share_of(inside)
    text = (
        f"utilisation {num(float(util.min()) if util.size else None)} to "
        f"{num(float(util.max()) if util.size else None)} over {util.size} reps"
    )
    if not inside.all():
        text += f"; outside {lo:g}..{hi:g}: {listing(ids[~inside])}"
    return Finding(
        [
            Part.measured(
                bool(inside.all()), text, warn=bool(near.all()), gauge=rule.gauge(None, share)
            )
        ],
        value=share,
        n=int(util.size),
        excluded_n=int((~active).sum()),
        notes=f"PASS needs every rep in {lo:g}..{hi:g}; WARN when all are in {wlo:g}..{whi:g}",
    )


def _potential_usage(ev: CheckEvidence, w_min: float) -> Part:
    """Potential is a balancing rule of the alignment, or weighs >= w_min in the quota blend."""
    found: list[str] = []
    ok = False
    if ev.solve is not None:
        params = ev.solve.get("parameters") or {}
        tol = params.get("balance_potential", ev.solve.get("balance_potential"))
        if isinstance(tol, int | float) and math.isfinite(tol):
            ok = True
            found.append(
                f"the alignment holds every rep's potential within ±{pct(float(tol))} of "
                "target (one of two balancing rules, weight 0.5)"
            )
    if ev.quotas is not None and "w_history" in ev.quotas.columns:
        w = numbers(ev.quotas, "w_history")
        methods = ev.quotas["method"].astype(str) if "method" in ev.quotas else None
        if methods is not None and bool((methods == "potential").all()):
            weight = 1.0
        else:
            weight = float(np.nanmean(1.0 - w)) if np.isfinite(w).any() else math.nan
        if math.isfinite(weight):
            ok = ok or weight >= w_min
            found.append(f"quota basis puts {num(weight)} weight on potential on average")
    if not found:
        return Part.unmeasured(
            "(c) use of potential not shown", "solve.json or quotas showing how potential is used"
        )
    return Part.measured(
        ok,
        "(c) " + "; ".join(found) + f" (needs weight >= {w_min:g})",
        action="balance territories on potential, or give potential more weight in the quotas",
    )


def _plausibility_parts(acc: pd.DataFrame, has: npt.NDArray[np.bool_], p: Params) -> list[Part]:
    """Potential set against last year's revenue: present where sales are, and not below them."""
    potential = numbers(acc, "potential")
    revenue = numbers(acc, "revenue_last_year")
    known = np.isfinite(revenue)
    rev = np.where(known, revenue, 0.0)
    r_min = p.revenue_with_potential_min
    r_share = float(rev[has].sum() / rev.sum()) if rev.sum() > 0 else 1.0
    plausible = (np.nan_to_num(potential) >= rev)[known]
    pl_share = share_of(plausible, 1.0)
    pl_min = p.plausible_min
    low = acc["account_id"].astype(str).to_numpy()[known][~plausible]
    return [
        Part.measured(
            r_share >= r_min,
            f"(a) {pct(r_share)} of last year's revenue is on accounts with potential "
            f"(needs >= {pct(r_min)})",
            gauge=Gauge(
                "share of last year's revenue on accounts with potential", r_share, r_min, ">="
            ),
            action="estimate potential for the accounts that bought last year",
        ),
        Part.measured(
            pl_share >= pl_min,
            f"(b) potential >= last year's revenue for {pct(pl_share)} of accounts with "
            f"history (needs >= {pct(pl_min)})" + (f"; below: {listing(low)}" if low.size else ""),
            gauge=Gauge(
                "share of accounts whose potential covers last year's revenue",
                pl_share,
                pl_min,
                ">=",
            ),
            action="re-estimate potential where it is below what the account already buys",
        ),
    ]


def t6_account_potential(ev: CheckEvidence, p: Params, rule: Rule) -> Finding:
    """T6: potential present for (nearly) all accounts, plausible against revenue, and used."""
    acc = given(ev.accounts)
    potential = numbers(acc, "potential")
    has = np.isfinite(potential)
    share = share_of(has)
    parts = [
        rule.part(
            share,
            f"(a) {pct(share)} of accounts have potential (needs >= {pct(rule.threshold)}); "
            f"{int((np.nan_to_num(potential) == 0).sum())} at zero",
        )
    ]
    excluded = 0
    if ev.has_history():
        excluded = int((~np.isfinite(numbers(acc, "revenue_last_year"))).sum())
        parts += _plausibility_parts(acc, has, p)
    else:
        parts.append(
            Part.unmeasured(
                "(b) potential cannot be compared with sales: no revenue history",
                inputs.REVENUE_HISTORY.needs,
            )
        )
    parts.append(_potential_usage(ev, p.potential_weight_min))
    return Finding(parts, value=share, n=len(acc), excluded_n=excluded)


def t7_assignment_changes(ev: CheckEvidence, p: Params, rule: Rule) -> Finding:
    """T7: revenue and top accounts moved by the realignment; handover records."""
    acc = given(ev.accounts)
    moved = moved_mask(acc, ev.plan_ids())
    revenue = np.nan_to_num(numbers(acc, "revenue_last_year"))
    total = float(revenue.sum())
    share = float(revenue[moved].sum()) / total if total > 0 else 0.0
    ids = acc["account_id"].astype(str).to_numpy()
    parts = [
        rule.part(
            share,
            f"{int(moved.sum())} account(s) change rep, carrying {pct(share)} of last year's "
            f"revenue (limit {pct(rule.threshold)})",
        )
    ]
    buyers = np.flatnonzero(revenue > 0)
    if buyers.size:
        k = max(1, math.ceil(p.top_accounts_share * buyers.size))
        top = buyers[np.argsort(-revenue[buyers], kind="stable")[:k]]
        top_moved = float(moved[top].mean())
        t_max = p.top_accounts_moved_max
        biggest = top[moved[top]]
        parts.append(
            Part.measured(
                top_moved <= t_max,
                f"{pct(top_moved)} of the top {pct(p.top_accounts_share)} accounts by revenue "
                f"({k}) change rep (limit {pct(t_max)})"
                + (f"; largest moved: {listing(ids[biggest])}" if biggest.size else ""),
                gauge=Gauge("share of top accounts that change rep", top_moved, t_max, "<="),
                action="lock the largest accounts to their current rep (locked_rep) and realign",
            )
        )
    parts += [
        Part.unmeasured(
            "moves of accounts with open late-stage deals not checked",
            "open late-stage pipeline per account",
        ),
        Part.unmeasured(
            "no transition records to check",
            "a transition plan: effective date, from-rep, to-rep, reason and hand-off owner "
            "for every moved account",
        ),
    ]
    return Finding(parts, value=share, n=len(acc))


def _valid_accounts(
    ev: CheckEvidence, acc: pd.DataFrame
) -> tuple[npt.NDArray[np.bool_], list[str]]:
    """Accounts with a known rep, a non-negative potential, a location and (if kept) a segment."""
    n = len(acc)
    valid = np.ones(n, dtype=np.bool_)
    fields = []
    if ev.plan is not None and ev.reps is not None:
        known = set(ev.reps["rep_id"].astype(str))
        valid &= np.array([r in known for r in ev.plan_ids().tolist()], dtype=np.bool_)
        fields.append("rep")
    potential = numbers(acc, "potential") if "potential" in acc.columns else np.full(n, np.nan)
    valid &= np.isfinite(potential) & (potential >= 0)
    fields.append("potential")
    lat = numbers(acc, "lat") if "lat" in acc.columns else np.full(n, np.nan)
    lon = numbers(acc, "lon") if "lon" in acc.columns else np.full(n, np.nan)
    valid &= np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    fields.append("location")
    if "segment" in acc.columns:
        valid &= ~blank(acc["segment"])
        fields.append("segment")
    return valid, fields


def _months(later: date, earlier: date) -> float:
    return (later - earlier).days / (365.25 / 12)


def _last_quarter_end(day: date) -> date:
    """Return the last day of the calendar quarter before the one ``day`` falls in."""
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1) - timedelta(days=1)


def _age_part(
    dates: Mapping[str, date], key: str, what: str, limits: tuple[int, int], action: str
) -> Part:
    """How old a dated piece of the data is on the assessment date: passes, warns or fails."""
    when = dates.get(key)
    pass_max, warn_max = limits
    if when is None:
        return Part.unmeasured(f"{what} unknown", f"{key} in the data dates file")
    age = _months(dates["assessed_on"], when)
    return Part.measured(
        age <= pass_max,
        f"{what} {when.isoformat()}: {age:.1f} months before {dates['assessed_on'].isoformat()} "
        f"(pass <= {pass_max}, warn <= {warn_max})",
        warn=age <= warn_max,
        gauge=Gauge(f"months since the {what}", age, pass_max, "<="),
        action=action,
    )


def _date_parts(dates: Mapping[str, date], p: Params) -> list[Part]:
    """Freshness of potential, history up to the last closed period, a recent review."""
    parts = [
        _age_part(
            dates,
            "potential_as_of",
            "potential estimate",
            (p.max_data_age_months, p.data_age_warn_months),
            "refresh the account potential estimates before realigning",
        )
    ]
    through = dates.get("history_through")
    closed = dates.get("last_closed_period_end") or _last_quarter_end(dates["assessed_on"])
    if through is None:
        parts.append(
            Part.unmeasured(
                "end of the revenue history unknown", "history_through in the data dates file"
            )
        )
    else:
        behind = max(0.0, _months(closed, through))
        parts.append(
            Part.measured(
                through >= closed,
                f"revenue history runs to {through.isoformat()}; the last closed period ended "
                f"{closed.isoformat()}",
                gauge=Gauge("months of closed periods missing from the history", behind, 0, "<="),
                action="reload revenue_last_year through the last closed period before realigning",
            )
        )
    parts.append(
        _age_part(
            dates,
            "last_review",
            "last alignment review",
            (p.max_review_age_months, p.review_age_warn_months),
            "review the alignment (this run can be that review: record its date)",
        )
    )
    return parts


def _process_part(ev: CheckEvidence, p: Params) -> Part:
    """Whether the people who use the realignment process find it clear (survey), optional."""
    survey = ev.survey
    if survey is None or "process_is_clear" not in survey.columns:
        return Part.unmeasured(
            "ease of the process not measured",
            "a user survey of the realignment process (column process_is_clear)",
            optional=True,
        )
    answers = numbers(survey, "process_is_clear")
    answers = answers[np.isfinite(answers)]
    if not answers.size:
        return Part.unmeasured(
            "nobody answered process_is_clear", "answers to process_is_clear", optional=True
        )
    share = float(answers.mean())
    need = p.process_clear_min
    return Part.measured(
        share >= need,
        f"{pct(share)} of {answers.size} surveyed find the realignment process clear "
        f"(needs >= {pct(need)})",
        gauge=Gauge("share who find the realignment process clear", share, need, ">="),
        action="explain each territory change to the people it affects (the change report) "
        "and ask what was unclear",
    )


def t8_realignment_data(ev: CheckEvidence, p: Params, rule: Rule) -> Finding:
    """T8: account data quality, fresh data, a recent review and a reproducible run."""
    acc = given(ev.accounts)
    valid, fields = _valid_accounts(ev, acc)
    share = share_of(valid)
    parts = [
        rule.part(
            share,
            f"{pct(share)} of accounts have a valid {', '.join(fields)} (needs >= "
            f"{pct(rule.threshold)})",
            action="fix the accounts with a missing rep, potential, segment or location",
        )
    ]
    if "segment" not in acc.columns:
        parts.append(Part.unmeasured("no segment column to check", "segment per account"))
    if ev.solve is not None:
        parts.append(_reproducibility(ev))
    else:
        parts.append(Part.unmeasured("reproducibility not checked", "solve.json of the run"))
    if ev.data_dates is not None:
        parts += _date_parts(ev.data_dates, p)
    else:
        parts.append(
            Part.unmeasured(
                "age of the data and of the last review unknown",
                f"a data dates file: potential as-of date (at most {p.max_data_age_months} "
                "months old), end of the revenue history, date of the last alignment review "
                f"(at most {p.max_review_age_months} months ago)",
            )
        )
    parts.append(_process_part(ev, p))
    return Finding(parts, value=share, n=len(acc))


def _quota_part(ev: CheckEvidence, p: Params) -> Part:
    """Quotas follow potential: rank correlation, or equal quotas for equal potential."""
    quotas = ev.quotas
    if quotas is None or not {"final_annual_quota", "potential"} <= set(quotas.columns):
        return Part.unmeasured("quotas not set yet", "quotas (territory quota)")
    q = numbers(quotas, "final_annual_quota")
    pot = numbers(quotas, "potential")
    methods = quotas["method"].astype(str) if "method" in quotas else pd.Series([])
    potential_only = len(methods) > 0 and bool((methods == "potential").all())
    r_min = p.quota_spearman_min_potential_only if potential_only else p.quota_spearman_min
    rho = spearman(q, pot)
    if rho is None and np.ptp(np.nan_to_num(pot)) == 0:
        equal_q = bool(np.ptp(np.nan_to_num(q)) <= 1e-6 * max(1.0, float(np.nanmax(q))))
        return Part.measured(
            equal_q,
            "all territories have equal potential; quotas "
            + ("are equal too" if equal_q else "differ"),
        )
    return Part.measured(
        rho is not None and rho >= r_min,
        f"Spearman(quota, potential) = {num(rho)} over {len(q)} territories (needs >= {r_min:g})",
        gauge=Gauge("Spearman(quota, territory potential)", rho, r_min, ">="),
        action="give potential more weight in the quota method (blended or potential)",
    )


def _difficulty_part(ev: CheckEvidence, p: Params) -> Part:
    """Every territory equally hard: simulated expected attainment close to the median."""
    if inputs.REP_IMPACT.missing(ev):
        return Part.unmeasured("equal difficulty not simulated", inputs.REP_IMPACT.needs)
    impact = given(ev.rep_impact)
    ea = numbers(impact, "expected_attainment")
    keep = np.isfinite(ea)
    if keep.sum() < 2:
        return Part.unmeasured("too few reps simulated", "stress rep_impact for 2+ reps")
    d_max = p.difficulty_max
    med = float(np.median(ea[keep]))
    spread = np.abs(ea / med - 1.0)
    worst = float(np.nanmax(spread))
    ids = impact["rep_id"].astype(str).to_numpy()
    outside = f"; outside: {listing(ids[keep & (spread > d_max)])}" if worst > d_max else ""
    return Part.measured(
        worst <= d_max,
        f"expected attainment at plan: median {pct(med)}, largest distance from it "
        f"{pct(worst)} (limit {pct(d_max)})" + outside,
        gauge=Gauge("largest distance of expected attainment from the median", worst, d_max, "<="),
        action="even out quota-to-potential across territories so each is as hard to reach",
    )


def t9_balance_and_quotas(ev: CheckEvidence, p: Params, rule: Rule) -> Finding:
    """T9: potential and workload within tolerance of target; quotas follow potential."""
    table = given(ev.territory_table())
    pot, wl = balance(table)
    worst = max(pot, wl)
    text = (
        f"largest deviation from target: potential {pct(pot)}, workload {pct(wl)} "
        f"(pass <= {pct(rule.threshold)}, warn <= {pct(rule.warn)})"
    )
    if worst > rule.threshold:
        dev = np.maximum(
            np.abs(table["potential_dev"].to_numpy(dtype=np.float64)),
            np.abs(table["workload_dev"].to_numpy(dtype=np.float64)),
        )
        outside = table["rep_id"].astype(str).to_numpy()[dev > rule.threshold]
        text += f"; outside: {listing(outside)}"
    parts = [rule.part(worst, text), _quota_part(ev, p), _difficulty_part(ev, p)]
    bt_table = (ev.backtest or {}).get("table")
    if isinstance(bt_table, pd.DataFrame) and {"attainment", "quota_rescaled"} <= set(
        bt_table.columns
    ):
        r = pearson(numbers(bt_table, "attainment"), numbers(bt_table, "quota_rescaled"))
        c_max = p.backtest_size_corr_max
        parts.append(
            Part(
                Status.PASS if r is not None and abs(r) <= c_max else Status.WARN,
                f"backtest: Pearson(attainment, territory size) = {num(r)} (limit ±{c_max:g})",
                optional=True,
            )
        )
    return Finding(
        parts,
        value=worst,
        n=len(table),
        notes="targets follow capacity and tier factors, so deviations are from each rep's "
        "own target" + ("; strict mode" if p.strict else ""),
    )


def _performance(reps: pd.DataFrame) -> tuple[npt.NDArray[np.float64], str] | None:
    """Rep performance measure: effectiveness from history, else rating, else tier rank."""
    for column in ("effectiveness", "rating"):
        if column in reps.columns and bool(
            pd.to_numeric(reps[column], errors="coerce").notna().any()
        ):
            return numbers(reps, column), column
    if "tier" in reps.columns:
        rank = {"A": 3.0, "B": 2.0, "C": 1.0}
        tiers = reps["tier"].astype("string").str.strip().str.upper()
        return np.array([rank.get(str(t), np.nan) for t in tiers], dtype=np.float64), "tier rank"
    return None


def t10_best_reps_best_territories(ev: CheckEvidence, p: Params, rule: Rule) -> Finding:
    """T10: rank correlation of rep performance with territory potential (ramped reps)."""
    reps = given(ev.reps)
    potential = given(ev.territory_table())["potential"].to_numpy(dtype=np.float64)
    fte = numbers(reps, "fte") if "fte" in reps.columns else np.ones(len(reps))
    fte = np.where(np.isfinite(fte) & (fte > 0), fte, 1.0)
    per_fte = potential / fte
    cv = float(np.std(per_fte) / np.mean(per_fte)) if np.mean(per_fte) > 0 else 0.0
    if cv < p.equal_cv_max:
        return Finding(
            n=len(reps),
            inputs=["territories", "reps"],
            evidence=[
                f"CV of potential per FTE is {num(cv)} (< {p.equal_cv_max:g}): "
                "territories are equal, so none has the most potential"
            ],
            status=Status.NOT_APPLICABLE,
        )
    perf = _performance(reps)
    if perf is None:
        return Finding.absent(["rep performance: effectiveness from history, or a rating"])
    score, source = perf
    keep = ev.active_reps()
    if "tenure_months" in reps.columns:
        tenure = numbers(reps, "tenure_months")
        keep &= ~(np.isfinite(tenure) & (tenure < float(p.ramped_after_months)))
    excluded = int((~keep).sum())
    known = keep & np.isfinite(score)
    missing_share = 1.0 - float(known.sum()) / max(1, int(keep.sum()))
    if missing_share > p.max_missing_share:
        return Finding(
            n=int(keep.sum()),
            excluded_n=excluded,
            inputs=["reps", source],
            evidence=[f"{pct(missing_share)} of ramped reps have no {source}"],
            needs=["a year of results per rep to measure effectiveness"],
            status=Status.NOT_ASSESSABLE,
        )
    rho = spearman(score[known], potential[known])
    evidence = [
        f"Spearman({source}, territory potential) = {num(rho)} over {int(known.sum())} "
        f"ramped reps (pass >= {rule.threshold:g}, warn >= {rule.warn:g})"
    ]
    top_q = potential[known] >= np.quantile(potential[known], 0.75) if known.any() else None
    if top_q is not None and top_q.any():
        above = score[known] > np.median(score[known])
        evidence.append(
            f"{pct(float(above[top_q].mean()))} of top-quartile-potential territories are "
            "held by above-median reps (random ~ 50%)"
        )
    proxy = source != "effectiveness"
    return Finding(
        value=rho,
        n=int(known.sum()),
        excluded_n=excluded,
        inputs=["territories.potential", f"reps.{source.split()[0]}"],
        evidence=evidence,
        needs=["rep effectiveness from 1-2 years of sales vs expected sales"] if proxy else [],
        status=Status.NOT_ASSESSABLE if rho is None else rule.judge(rho),
        notes=f"performance taken from {source}"
        + (", a proxy for the history-based effectiveness" if proxy else "")
        + "; pulls against strict balance (T9), read both",
    )
