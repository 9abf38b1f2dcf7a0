"""Quotas per comp-plan measure, and each rep's on-target earnings, from the comp plan.

A rep's role plan pays on one or more measures (new bookings; renewals and expansion). The
quota pipeline sets one quota per territory; :func:`measure_quotas` splits it over the measures
of the territory's role plan, so that every measure has the quota its payout curve is read
against and the measures add up to the territory's quota to the cent.

The split rule: when the territory table carries last year's sales of every measure of the role
(``history_<measure>``, summed from the accounts column ``<measure>_last_year``) and they add up
to more than 0, each measure gets its share of those sales; otherwise each measure gets its
weight in the role plan. Each period's quota is split the same way, so the measures add up to
the territory's quota in every period as well as over the year.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from territory.domain.arrays import FloatArray, IntArray, ObjectArray
from territory.domain.comp import CompPlan, RolePlan
from territory.domain.quota_allocation import _split_rows_cents
from territory.domain.quota_config import _SOURCE
from territory.errors import DataValidationError, InputProblem

__all__ = [
    "MEASURE_HISTORY_PREFIX",
    "check_measure_quotas",
    "measure_quotas",
    "ote_of_territories",
    "role_plans",
]

MEASURE_HISTORY_PREFIX = "history_"
"""Territory column of last year's sales of a measure: ``history_<measure>``."""


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or not str(value).strip()


def role_plans(roles: Sequence[object], comp: CompPlan) -> list[RolePlan]:
    """Return the role plan of every territory: its ``role`` value looked up in ``rep_roles``.

    A blank role takes the plan's first role, as the stress test does.

    Raises
    ------
    DataValidationError
        A role value that no role plan lists in ``rep_roles`` (every such row is named).
    """
    by_value = {v: role for role in comp.roles.values() for v in role.rep_roles}
    default = next(iter(comp.roles.values()))
    plans: list[RolePlan] = []
    problems: list[InputProblem] = []
    for row, value in enumerate(roles):
        if _blank(value):
            plans.append(default)
            continue
        plan = by_value.get(str(value).strip())
        if plan is None:
            problems.append(
                InputProblem(
                    _SOURCE,
                    row + 2,
                    "role",
                    f"role '{value}' has no plan in comp plan '{comp.plan_id}'",
                    f"use one of {sorted(by_value)} or add it to a role's rep_roles in the comp "
                    "plan",
                )
            )
            plans.append(default)
        else:
            plans.append(plan)
    if problems:
        raise DataValidationError(problems)
    return plans


def _numeric(frame: pd.DataFrame, column: str, cache: dict[str, FloatArray]) -> FloatArray:
    if column not in cache:
        values = pd.to_numeric(frame[column], errors="coerce")
        cache[column] = np.asarray(values, dtype=np.float64)
    return cache[column]


def _shares(frame: pd.DataFrame, plans: Sequence[RolePlan]) -> tuple[list[FloatArray], ObjectArray]:
    """Each territory's share per measure of its role plan, and which basis set it."""
    shares: list[FloatArray] = []
    basis = np.full(len(plans), "weight", dtype=object)
    cache: dict[str, FloatArray] = {}
    for i, plan in enumerate(plans):
        weights = np.array([m.weight for m in plan.measures], dtype=np.float64)
        columns = [f"{MEASURE_HISTORY_PREFIX}{m.name}" for m in plan.measures]
        if all(c in frame.columns for c in columns):
            sales = np.array([_numeric(frame, c, cache)[i] for c in columns], dtype=np.float64)
            if np.isfinite(sales).all() and (sales >= 0).all() and sales.sum() > 0:
                shares.append(sales / sales.sum())
                basis[i] = "history"
                continue
        shares.append(weights / weights.sum())
    return shares, basis


def measure_quotas(
    quotas: pd.DataFrame,
    territories: pd.DataFrame,
    comp: CompPlan,
    period_columns: Sequence[str],
    ote: FloatArray,
) -> pd.DataFrame:
    """Split every territory's quota over the measures of its role plan, exactly to the cent.

    Parameters
    ----------
    quotas
        The quota table (one row per territory, with the period columns).
    territories
        The territory table the quotas were set from, in the same row order: its ``role`` picks
        the role plan and its ``history_<measure>`` columns, when present, the split.
    comp
        The comp plan.
    period_columns
        The period columns (``q1``..``q4`` or ``m01``..``m12``).
    ote
        Each territory's on-target earnings (NaN where unknown).

    Returns
    -------
    pandas.DataFrame
        One row per territory and measure: ``plan_year``, ``territory_id``, ``rep_id``,
        ``role``, ``role_plan``, ``measure``, ``weight``, ``split_basis`` (``weight`` or
        ``history``), ``measure_share``, ``final_annual_quota``, the period columns, ``ote``
        and ``quota_to_ote`` (the measure's quota over the share of OTE its weight carries).
    """
    frame = territories.reset_index(drop=True)
    roles = frame["role"].tolist() if "role" in frame.columns else [None] * len(frame)
    plans = role_plans(roles, comp)
    shares, basis = _shares(frame, plans)
    periods_c: IntArray = np.rint(
        quotas[list(period_columns)].to_numpy(dtype=np.float64) * 100.0
    ).astype(np.int64)
    rows: list[dict[str, object]] = []
    for i, plan in enumerate(plans):
        share = shares[i]
        # Each period's cents split over the measures; a measure's year is the sum of its periods.
        split = _split_rows_cents(periods_c[i], np.tile(share, (periods_c.shape[1], 1)))
        for j, measure in enumerate(plan.measures):
            annual = float(split[:, j].sum()) / 100.0
            carried = ote[i] * measure.weight
            rows.append(
                {
                    "plan_year": quotas.at[i, "plan_year"],
                    "territory_id": quotas.at[i, "territory_id"],
                    "rep_id": quotas.at[i, "rep_id"],
                    "role": roles[i],
                    "role_plan": plan.name,
                    "measure": measure.name,
                    "weight": measure.weight,
                    "split_basis": basis[i],
                    "measure_share": float(share[j]),
                    "final_annual_quota": annual,
                    **{p: float(split[k, j]) / 100.0 for k, p in enumerate(period_columns)},
                    "ote": ote[i],
                    "quota_to_ote": annual / carried if carried > 0 else np.nan,
                }
            )
    return pd.DataFrame(rows)


def ote_of_territories(roles: Sequence[object], rep_ote: FloatArray, comp: CompPlan) -> FloatArray:
    """Each territory's on-target earnings: the rep's ``ote`` where given, else its role's OTE."""
    plans = role_plans(roles, comp)
    role_ote = np.array([p.ote for p in plans], dtype=np.float64)
    return np.where(np.isfinite(rep_ote) & (rep_ote > 0), rep_ote, role_ote)


def check_measure_quotas(
    by_measure: pd.DataFrame, quotas: pd.DataFrame, comp: CompPlan, source: str
) -> dict[str, float]:
    """Check quotas per measure against the territory quotas and the comp plan being run.

    Each territory's measures must be those of its role plan in ``comp`` and add up to its
    quota to the cent, so that a stress test never reads a split made for another plan.

    Parameters
    ----------
    by_measure
        The table of :func:`measure_quotas` (``quotas_by_measure.csv``).
    quotas
        The territory quotas (``territory_id``, ``final_annual_quota``).
    comp
        The comp plan the caller is about to use.
    source
        The file ``by_measure`` came from, for messages.

    Returns
    -------
    dict
        The quota of each measure over all territories.

    Raises
    ------
    DataValidationError
        A measure the role plan does not pay, or a territory whose measures do not add up to
        its quota.
    """
    fix = "run `territory quota ... --comp <this comp plan>` again"
    frame = by_measure.reset_index(drop=True)
    needed = {"territory_id", "role_plan", "measure", "final_annual_quota"}
    missing = sorted(needed - set(frame.columns))
    if missing:
        raise DataValidationError(
            [InputProblem(source, None, c, "column is missing", fix) for c in missing]
        )
    problems: list[InputProblem] = []
    for row, (plan_name, measure) in enumerate(
        zip(frame["role_plan"].astype(str), frame["measure"].astype(str), strict=True)
    ):
        plan = comp.roles.get(plan_name)
        if plan is None or measure not in {m.name for m in plan.measures}:
            problems.append(
                InputProblem(
                    source,
                    row + 2,
                    "measure",
                    f"measure '{measure}' of role '{plan_name}' is not in comp plan "
                    f"'{comp.plan_id}'",
                    fix,
                )
            )
    cents = np.rint(frame["final_annual_quota"].to_numpy(dtype=np.float64) * 100.0)
    split = pd.Series(cents).groupby(frame["territory_id"].astype(str).to_numpy()).sum()
    total = pd.Series(
        np.rint(quotas["final_annual_quota"].to_numpy(dtype=np.float64) * 100.0),
        index=quotas["territory_id"].astype(str).to_numpy(),
    )
    for territory in total.index[(split.reindex(total.index) != total).to_numpy()]:
        problems.append(
            InputProblem(
                source,
                None,
                "final_annual_quota",
                f"the measures of territory {territory} do not add up to its quota "
                f"({total[territory] / 100:,.2f})",
                fix,
            )
        )
    if problems:
        raise DataValidationError(problems)
    by_name = frame.groupby(frame["measure"].astype(str), sort=True)["final_annual_quota"].sum()
    return {str(k): round(float(v), 2) for k, v in by_name.items()}
