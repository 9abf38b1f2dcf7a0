"""What the header and the first four sections show, computed from a run (no markup).

Each ``*_view`` function turns a :class:`~territory.io.runs.PlanFolder` and the documents of
later steps into a frozen dataclass of display text that ``templates/report.html.j2`` lays
out. Keeping the numbers here and the markup in the template means the arithmetic can be
tested without parsing HTML, and the page layout changes without touching the arithmetic.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from territory.io.runs import PlanFolder
from territory.rendering.report.context import RunContext
from territory.rendering.report.figures import MAX_LABELLED_REPS, balance_chart
from territory.rendering.report.maps import TERRITORY_SHAPES, map_charts
from territory.rendering.report.scorecard import status_counts
from territory.rendering.report.text import (
    DASH,
    dec2,
    is_missing,
    money,
    num,
    number,
    number_at,
    param,
    pct,
    pct1,
    pct2,
    share_of_100,
    text,
    text_list,
)
from territory.rendering.report.views import (
    REP_COLUMNS,
    Column,
    Image,
    Kpi,
    KvRow,
    KvTable,
    Notice,
    Table,
    image,
    kv_table,
    table,
)

QUOTA_COMMAND = "territory quota --plan {plan} --target <company target per year>"
ALIGN_COMMAND = "territory align --accounts <accounts> --reps <reps> --out {plan}"

MAX_LISTED_IDS = 30
"""Lists of rep ids in the quota summary stop after this many ("and N more")."""


def run_fingerprint(solve: Mapping[str, Any]) -> str:
    """Short id of an alignment: sha256 of its input hashes, engine version and parameters."""
    core = {
        "inputs": solve.get("inputs"),
        "parameters": solve.get("parameters"),
        "seed": solve.get("seed"),
        "version": solve.get("version"),
    }
    dumped = json.dumps(core, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(dumped.encode("utf-8")).hexdigest()[:16]


# --------------------------------------------------------------------------- header


@dataclass(frozen=True)
class HeaderView:
    """The page header: the run's name, key figures, fingerprint and alignment parameters."""

    name: str
    kpis: tuple[Kpi, ...]
    fingerprint: KvTable
    parameters: KvTable | None


def header_view(
    run: PlanFolder,
    checks: Sequence[Mapping[str, Any]] | None,
    quota_summary: Mapping[str, Any] | None,
    stress: Mapping[str, Any] | None,
    tables: Mapping[str, pd.DataFrame],
) -> HeaderView:
    """Key figures of every step that has run, and what identifies the alignment."""
    solve = run.solve
    metrics = solve.get("metrics") or {}
    n_accounts = len(run.accounts)
    moved = metrics.get("accounts_moved")
    kpis = [
        Kpi("Accounts", num(n_accounts)),
        Kpi("Reps", num(len(run.reps))),
        Kpi(
            "Accounts moved",
            num(moved),
            f"{pct(float(moved) / n_accounts, 1)} of accounts"
            if moved is not None and n_accounts
            else "",
        ),
        _deviation_kpi("Largest potential deviation", solve, "potential"),
        _deviation_kpi("Largest workload deviation", solve, "workload"),
        Kpi(
            "Solve status",
            text(solve.get("status")),
            f"{text(solve.get('backend'))}, gap {pct(solve.get('gap'), 2)}",
            "good" if solve.get("status") == "OPTIMAL" else "",
        ),
    ]
    summary = (quota_summary or {}).get("summary") or {}
    if summary:
        kpis.append(
            Kpi(
                "Sum of quotas",
                num(summary.get("quota_total")),
                f"target {num(summary.get('company_target'))} \u00d7 "
                f"{num(summary.get('over_assignment_factor'), 3)}",
            )
        )
        kpis.append(
            Kpi(
                "Reps at quota if plan is hit",
                pct(summary.get("share_at_quota_if_plan_hit"), 0),
                "expected share (quota model)",
            )
        )
    at_plan = at_plan_row(tables.get("stress_scenarios"), stress)
    if at_plan is not None:
        kpis.append(
            Kpi(
                "P50 incentive at plan",
                num(at_plan.get("incentive_p50")),
                f"{pct(at_plan.get('incentive_to_ti_budget_p50'), 0)} of TI budget",
            )
        )
    if checks:
        counts = status_counts(checks)
        fails, warns = counts.get("FAIL", 0), counts.get("WARN", 0)
        kpis.append(
            Kpi(
                "Checks failing",
                num(fails),
                f"{num(warns)} warn, {num(counts.get('NOT_ASSESSABLE', 0))} not assessable",
                "bad" if fails else "warn" if warns else "good",
                link="#scorecard",
            )
        )
    inputs = solve.get("inputs") or {}
    params = solve.get("parameters") or {}
    name = run.path.name or run.path.as_posix()
    rows = [
        KvRow("Fingerprint (inputs, version, parameters)", run_fingerprint(solve), "mono"),
        KvRow("Generated from folder", name, "code"),
        KvRow("Engine version", text(solve.get("version"))),
        KvRow("Seed", text(solve.get("seed"))),
    ]
    rows += [KvRow(f"Input hash: {key}", text(inputs[key]), "mono hash") for key in sorted(inputs)]
    param_rows = [(str(k), param(params[k])) for k in sorted(params)]
    return HeaderView(
        name=name,
        kpis=tuple(kpis),
        fingerprint=kv_table(rows, "fingerprint"),
        parameters=kv_table(param_rows, "parameters") if param_rows else None,
    )


def _deviation_kpi(label: str, solve: Mapping[str, Any], measure: str) -> Kpi:
    dev = number_at(solve, f"max_{measure}_deviation")
    tol = number_at(solve, f"balance_{measure}")
    tone = ""
    if dev is not None and tol is not None:
        tone = "good" if dev <= tol + 1e-9 else "bad"
    note = f"allowed \u00b1{pct(tol, 1)}" if tol is not None else ""
    return Kpi(label, pct(dev, 2), note, tone)


def at_plan_row(
    scenarios: pd.DataFrame | None, stress: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    """Find the stress scenario where the company lands exactly on plan (None if none)."""
    if scenarios is None or scenarios.empty or "company_attainment_x" not in scenarios.columns:
        return None
    plan_x = 1.0
    verdicts = (stress or {}).get("verdicts") or {}
    if not is_missing(verdicts.get("plan_attainment")):
        plan_x = float(verdicts["plan_attainment"])
    x = pd.to_numeric(scenarios["company_attainment_x"], errors="coerce").to_numpy(np.float64)
    hit = np.flatnonzero(np.isfinite(x) & (np.abs(x - plan_x) < 1e-9))
    if hit.size == 0:
        return None
    return {str(k): v for k, v in scenarios.iloc[int(hit[0])].items()}


# --------------------------------------------------------------------------- map


@dataclass(frozen=True)
class MapView:
    """The whole-area map, then its zooms."""

    images: tuple[Image, ...]


def map_view(run: PlanFolder) -> MapView:
    """Caption the maps of :func:`territory.rendering.report.maps.map_charts`."""
    pngs = map_charts(run)
    labels = (
        "Stars mark rep home bases, labelled with the rep's name."
        if len(run.reps) <= MAX_LABELLED_REPS
        else f"Stars mark rep home bases (names left out above {MAX_LABELLED_REPS} reps)."
    )
    shapes = ""
    alt = "Map of accounts coloured by rep"
    if (run.path / TERRITORY_SHAPES).exists():
        shapes = (
            " Shaded areas with outlines are the territories: the basic units (ZIP codes, "
            f"counties, ...) each rep holds, dissolved into one shape ({TERRITORY_SHAPES})."
        )
        alt = "Map of territory polygons and accounts, coloured by rep"
    else:
        shapes = (
            " Shaded areas are each rep's territory drawn from its accounts: every place goes "
            "to the rep of the nearest account (no unit layer was given to the alignment)."
        )
    shapes += " Grey lines are county and state borders (US Census cartographic boundaries)."
    caption = (
        "Each dot is an account in the colour of its rep; neighbouring territories get "
        f"different colours. Accounts with a black ring move to a new rep in this plan. {labels}"
        + shapes
    )
    images = [image(pngs[0], alt, caption, ident="map-image")]
    images += [
        image(
            png,
            f"Zoom {k} of the territory map",
            f"Zoom {k}: a dashed frame above, where home bases crowd.",
            ident=f"map-zoom-{k}",
        )
        for k, png in enumerate(pngs[1:], start=1)
    ]
    return MapView(tuple(images))


# --------------------------------------------------------------------------- balance


@dataclass(frozen=True)
class BalanceView:
    """The balance chart and territory table, or the command to rerun when deviations lack.

    ``rerun`` is "" when the territories table has its deviations.
    """

    rerun: str
    image: Image | None = None
    table: Table | None = None
    n_reps: int = 0
    n_off: int = 0


def balance_view(run: PlanFolder) -> BalanceView:
    """Each rep's potential and workload against target, flagging reps outside the band."""
    png = balance_chart(run)
    if png is None:
        return BalanceView(rerun=ALIGN_COMMAND.format(plan=run.path.as_posix()))
    solve = run.solve
    tol_p, tol_w = number_at(solve, "balance_potential"), number_at(solve, "balance_workload")
    req_p = number_at(solve, "balance_requested_potential")
    req_w = number_at(solve, "balance_requested_workload")
    relaxed = ""
    if (req_p is not None and tol_p is not None and tol_p > req_p + 1e-12) or (
        req_w is not None and tol_w is not None and tol_w > req_w + 1e-12
    ):
        relaxed = (
            f" The requested band (potential \u00b1{pct(req_p, 1)}, workload "
            f"\u00b1{pct(req_w, 1)}) could not be met and was widened (soft mode)."
        )
    marks = "Bars" if len(run.territories) <= MAX_LABELLED_REPS else "Dots (reps sorted)"
    caption = (
        f"{marks} show how far each rep's potential (left) and workload (right) sit from "
        "their target; the green band is the allowed deviation, orange ones fall outside it. "
        "Targets share total potential by capacity and tier, and total workload by capacity."
        + relaxed
    )
    rep_ids = run.reps["rep_id"].astype(str)
    terr = run.territories.copy()
    terr["rep_id"] = terr["rep_id"].astype(str)
    terr["name"] = terr["rep_id"].map(dict(zip(rep_ids, _names(run.reps), strict=True)))
    if "role" in run.reps.columns:
        terr["role"] = terr["rep_id"].map(dict(zip(rep_ids, run.reps["role"], strict=True)))
    tol = {"potential": tol_p, "workload": tol_w}

    def off(row: pd.Series) -> str:
        for m in ("potential", "workload"):
            limit = tol[m]
            value = number(row.get(f"{m}_dev"))
            if limit is not None and value is not None and abs(value) > limit + 1e-9:
                return "off"
        return ""

    columns: list[Column] = [
        *REP_COLUMNS,
        ("Tier", "tier", text, False),
        ("Accounts", "n_accounts", money, True),
        ("Potential", "potential", money, True),
        ("Potential target", "potential_target", money, True),
        ("Potential dev.", "potential_dev", pct2, True),
        ("Workload (h)", "workload", money, True),
        ("Workload target (h)", "workload_target", money, True),
        ("Workload dev.", "workload_dev", pct2, True),
        ("Capacity (h)", "capacity", money, True),
        ("Utilisation", "utilization", pct1, True),
        ("Mean km", "mean_distance_km", dec2, True),
        ("Moved in", "accounts_moved_in", money, True),
        ("Moved out", "accounts_moved_out", money, True),
    ]
    total = {
        "rep_id": "Total",
        "n_accounts": money(terr["n_accounts"].sum()) if "n_accounts" in terr else "",
        "potential": money(terr["potential"].sum()) if "potential" in terr else "",
        "workload": money(terr["workload"].sum()) if "workload" in terr else "",
        "capacity": money(terr["capacity"].sum()) if "capacity" in terr else "",
    }
    return BalanceView(
        rerun="",
        image=image(png, "Potential and workload deviation from target per rep", caption),
        table=table(terr, columns, total=total, row_class=off),
        n_reps=len(terr),
        n_off=sum(1 for _, r in terr.iterrows() if off(r)),
    )


def _names(reps: pd.DataFrame) -> list[str]:
    if "name" not in reps.columns:
        return [""] * len(reps)
    return ["" if is_missing(n) else str(n) for n in reps["name"].tolist()]


# --------------------------------------------------------------------------- solve


def solve_view(run: PlanFolder) -> KvTable:
    """List what the solver did and proved: status, objective, bound, gap, time, deviations."""
    s = run.solve
    metrics = s.get("metrics") or {}
    notes = text_list(s.get("notes"))
    bound = DASH
    if not is_missing(s.get("bound")):
        bound = f"{num(s.get('bound'), 1)} ({text(s.get('bound_source'))})"
    rows = [
        KvRow("Backend", text(s.get("backend"))),
        KvRow("Status", text(s.get("status"))),
        KvRow("Objective (hour-km + disruption)", num(s.get("objective"), 1)),
        KvRow("Lower bound", bound),
        KvRow("Bound valid over", text(s.get("bound_scope"))),
        KvRow("Gap", pct(s.get("gap"), 3)),
        KvRow("Seconds", num(s.get("seconds"), 2)),
        KvRow(
            "Largest potential deviation",
            f"{pct(s.get('max_potential_deviation'), 2)} (allowed "
            f"\u00b1{pct(s.get('balance_potential'), 2)})",
        ),
        KvRow(
            "Largest workload deviation",
            f"{pct(s.get('max_workload_deviation'), 2)} (allowed "
            f"\u00b1{pct(s.get('balance_workload'), 2)})",
        ),
        KvRow(
            "Accounts / reps / pairs",
            f"{num(s.get('n_accounts'))} / {num(s.get('n_reps'))} / {num(s.get('n_pairs'))}",
        ),
        KvRow("Accounts moved", num(metrics.get("accounts_moved"))),
        KvRow("Potential moved", num(metrics.get("potential_moved"))),
        KvRow("Revenue moved", num(metrics.get("revenue_moved"))),
        KvRow("Mean distance to home base (km)", num(metrics.get("mean_distance_km"), 1)),
        KvRow("Largest utilisation", pct(metrics.get("max_utilization"), 1)),
        KvRow("Soft balance", param(s.get("soft"))),
        KvRow("Notes", DASH, bullets=tuple(notes) if notes else None),
    ]
    stages = s.get("stages") or {}
    if stages:
        rows.append(
            KvRow(
                "Seconds by stage",
                ", ".join(f"{k} {float(v):.2f}" for k, v in sorted(stages.items())),
            )
        )
    return kv_table(rows)


# --------------------------------------------------------------------------- quotas


@dataclass(frozen=True)
class QuotaView:
    """The quota summary and the annual quota per rep, or what to run to get them."""

    notice: Notice | None
    summary: KvTable | None = None
    n_reps: int = 0
    table: Table | None = None


def quota_view(
    ctx: RunContext, quota_summary: Mapping[str, Any] | None, annual: pd.DataFrame | None
) -> QuotaView:
    """``territory quota``'s totals and checks, then one row per rep."""
    if annual is None or annual.empty:
        return QuotaView(ctx.missing("No quotas have been set for this plan yet.", QUOTA_COMMAND))
    frame = annual.copy()
    frame["rep_id"] = frame["rep_id"].map(ctx.rep_id)
    frame["name"] = frame["rep_id"].map(ctx.rep_names)
    cur = ctx.unit
    columns: list[Column] = [
        *REP_COLUMNS,
        ("Method", "method", text, False),
        ("History weight", "w_history", dec2, True),
        (f"Potential{cur}", "potential", money, True),
        (f"History basis{cur}", "history_basis", money, True),
        (f"Annual quota{cur}", "final_annual_quota", money, True),
        ("Quota / potential", "quota_to_potential", pct1, True),
        ("Change vs last year", "yoy_change_pct", share_of_100, True),
        ("Change cap", "yoy_clip", text, False),
        ("Ramp", "ramp_factor", dec2, True),
    ]
    total: dict[str, str] = {"rep_id": "Total"}
    for column in ("potential", "history_basis", "final_annual_quota"):
        if column in frame.columns:
            total[column] = money(frame[column].sum(min_count=1))
    if {"final_annual_quota", "potential"} <= set(frame.columns):
        pot = float(frame["potential"].sum())
        total["quota_to_potential"] = (
            pct1(float(frame["final_annual_quota"].sum()) / pot) if pot else ""
        )
    return QuotaView(
        notice=None,
        summary=_quota_summary(quota_summary, cur),
        n_reps=len(frame),
        table=table(frame, columns, total=total, defaults={"ramp_factor": 1.0, "yoy_clip": "none"}),
    )


def _quota_summary(quota_summary: Mapping[str, Any] | None, cur: str) -> KvTable | None:
    summary = (quota_summary or {}).get("summary") or {}
    if not summary:
        return None
    config = (quota_summary or {}).get("config") or {}
    method = (config.get("method") or {}).get("name")
    rows = [
        ("Method", text(method)),
        (f"Company target{cur}", num(summary.get("company_target"))),
        (f"Non-quota revenue{cur}", num(summary.get("non_quota_revenue"))),
        ("Over-assignment factor", num(summary.get("over_assignment_factor"), 3)),
        (f"Street total (target \u00d7 factor){cur}", num(summary.get("street_total"))),
        (f"Sum of quotas{cur}", num(summary.get("quota_total"))),
        (f"Bottom-up total{cur}", num(summary.get("bottom_up_total"))),
        (f"Capacity total{cur}", num(summary.get("capacity_total"))),
        (f"Top-down gap{cur}", num(summary.get("top_down_gap"))),
        ("Reps at quota if the plan is hit", pct1(summary.get("share_at_quota_if_plan_hit"))),
        (
            "Over-assignment for half the reps at quota",
            pct1(summary.get("half_at_quota_over_assignment")),
        ),
        ("Over-assignment check", text(summary.get("over_assignment_status"))),
    ]
    for key, label in (
        ("capped_at_floor", "Capped at the yearly floor"),
        ("capped_at_ceiling", "Capped at the yearly ceiling"),
        ("over_capacity", "Quota above capacity"),
        ("new_territories", "New territories"),
        ("vacant_territories", "Vacant territories"),
        ("ramping_territories", "Ramping territories"),
    ):
        ids = text_list(summary.get(key))
        if ids:
            shown = ", ".join(ids[:MAX_LISTED_IDS])
            if len(ids) > MAX_LISTED_IDS:
                shown += f" and {len(ids) - MAX_LISTED_IDS:,} more"
            rows.append((f"{label} ({len(ids):,})", shown))
    backtest = (quota_summary or {}).get("backtest")
    if isinstance(backtest, Mapping):
        rows.append(
            (
                "Backtest on last year",
                f"company error {pct(backtest.get('company_error'), 1)}, quota WMAPE "
                f"{pct(backtest.get('wmape'), 1)} ({text(backtest.get('status'))})",
            )
        )
    return kv_table(rows, "quota-summary")
