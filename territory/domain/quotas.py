"""Quota setting: turn the company number into territory quotas that add up to it to the cent.

The steps run in the order the quota spec fixes (§1.9): split the street total on a basis
(history, potential, untapped potential, a blend, capacity or an even split), bound each
territory's change against last year and water-fill what the bounds push out, scale new hires
by their ramp, hold vacant territories under a ``TBH-`` id, round to the cent, then split each
annual quota into quarters or months. Every split goes through one kernel, :func:`allocate`, so
no step can lose or invent a cent.

Pure domain code: frames and arrays in, frames and numbers out; no file I/O, no solver. The work
is split by step: :mod:`territory.domain.quota_config` (settings),
:mod:`territory.domain.quota_allocation` (the kernel), :mod:`territory.domain.quota_bases` (bases,
ramp, caps, seasonality), :mod:`territory.domain.quota_inputs` (the territory table) and
:mod:`territory.domain.quota_plan` (the pipeline). This module holds the accuracy backtest and
re-exports what callers use: the settings, the kernel and the pipeline (the bases are imported
from :mod:`territory.domain.quota_bases` itself).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from territory.domain.quota_allocation import allocate, split_periods
from territory.domain.quota_config import (
    _SOURCE,
    DEFAULT_ROLE_HISTORY_WEIGHTS,
    HISTORY_COLUMNS,
    METHODS,
    AccuracyRule,
    QuotaConfig,
    QuotaMethod,
    RampSchedule,
    Seasonality,
    YearlyCaps,
)
from territory.domain.quota_inputs import _numbers, territory_history
from territory.domain.quota_plan import (
    QuotaPlan,
    QuotaSummary,
    plan_quotas,
    quotas_long,
    set_quotas,
)
from territory.errors import (
    DataValidationError,
    InputProblem,
)

__all__ = [
    "DEFAULT_ROLE_HISTORY_WEIGHTS",
    "HISTORY_COLUMNS",
    "METHODS",
    "AccuracyRule",
    "BacktestResult",
    "QuotaConfig",
    "QuotaMethod",
    "QuotaPlan",
    "QuotaSummary",
    "RampSchedule",
    "Seasonality",
    "YearlyCaps",
    "allocate",
    "backtest",
    "plan_quotas",
    "quotas_long",
    "set_quotas",
    "split_periods",
    "territory_history",
]

# --------------------------------------------------------------------------------------------
# Backtest
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """Last year's quotas, set from the year before, against last year's actuals (spec C8).

    ``company_error`` is ``|actual total - plan| / plan``. ``wmape`` compares the actuals with
    the quotas rescaled to the plan (over-assignment removed): ``sum |S - Q*| / sum S``;
    ``naive_wmape`` does the same for prior-year history x (1 + g). The ``share_within`` fields
    count territories whose attainment of Q* is within the rule's narrow and wide bands.
    """

    table: pd.DataFrame
    plan_target: float
    actual_total: float
    company_error: float
    company_status: str
    wmape: float
    naive_wmape: float
    share_within_narrow_band: float
    share_within_wide_band: float
    status: str


def backtest(
    territories: pd.DataFrame,
    config: QuotaConfig,
    *,
    plan_target: float | None = None,
    rule: AccuracyRule | None = None,
) -> BacktestResult:
    """Re-run the quota method on year t-1 data and score it against year t actuals.

    Needs ``history`` (year t actuals) and ``history_prev`` (year t-1, the basis) per
    territory; ``history_prev2`` becomes the older basis year and ``potential_prev``, when
    present, the potential of the time. Prior quotas, realignment and ramp columns describe
    the coming year, so they are left out. ``plan_target`` is the plan G of year t (default
    ``config.company_target``). Territories without actuals are not scored.

    Parameters
    ----------
    territories
        One row per territory with ``history`` and ``history_prev``.
    config
        The quota configuration to test.
    plan_target
        The plan of year t.
    rule
        The accuracy bands; the defaults when None.

    Returns
    -------
    BacktestResult
        Scores per territory and for the company.
    """
    rule = rule or AccuracyRule()
    frame = territories.reset_index(drop=True)
    problems: list[InputProblem] = [
        InputProblem(
            _SOURCE,
            None,
            c,
            "column is missing; a backtest needs two years of history",
            "merge territory_history with revenue_last_year and revenue_prior_year on rep_id",
        )
        for c in ("history", "history_prev")
        if c not in frame.columns
    ]
    if problems:
        raise DataValidationError(problems)
    actual = _numbers(frame, "history", problems, low=0.0, meaning="revenue, 0 or more")
    basis_year = _numbers(frame, "history_prev", problems, low=0.0, meaning="revenue, 0 or more")
    if problems:
        raise DataValidationError(problems)
    scored = ~np.isnan(actual)
    if not (scored & ~np.isnan(basis_year)).any():
        raise DataValidationError(
            [
                InputProblem(
                    _SOURCE,
                    None,
                    "history_prev",
                    "no territory has both years of history",
                    "fill in revenue for the last two years",
                )
            ]
        )
    past = frame.drop(
        columns=[
            c
            for c in ("prior_quota", "potential_before", "tenure_months", "hire_month", "vacant")
            if c in frame.columns
        ]
    )
    past["history"] = past["history_prev"]
    past["history_prev"] = past["history_prev2"] if "history_prev2" in past.columns else np.nan
    past["history_prev2"] = np.nan
    if "potential_prev" in past.columns:
        past["potential"] = past["potential_prev"]
    target = float(plan_target if plan_target is not None else config.company_target)
    past_config = replace(
        config, company_target=target, non_quota_revenue=min(config.non_quota_revenue, target)
    )
    quotas = plan_quotas(past, past_config).table
    quota = quotas["final_annual_quota"].to_numpy(dtype=np.float64)
    q_sum = float(quota.sum())
    rescaled = quota * target / q_sum if q_sum > 0 else np.zeros_like(quota)
    naive_basis = np.nan_to_num(basis_year, nan=0.0)
    naive = (
        naive_basis * target / float(naive_basis.sum()) if naive_basis.sum() > 0 else naive_basis
    )
    s = np.where(scored, actual, 0.0)
    s_sum = float(s.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        attainment = np.where(scored & (rescaled > 0), actual / rescaled, np.nan)
    wmape = float(np.abs(s - rescaled)[scored].sum()) / s_sum if s_sum > 0 else math.nan
    naive_wmape = float(np.abs(s - naive)[scored].sum()) / s_sum if s_sum > 0 else math.nan
    n_scored = int(scored.sum())
    miss = np.abs(attainment - 1.0)
    narrow = float(np.sum(miss <= rule.narrow_band + 1e-12)) / n_scored
    wide = float(np.sum(miss <= rule.wide_band + 1e-12)) / n_scored
    company_error = abs(s_sum - target) / target
    status = "PASS" if wmape <= rule.wmape_pass else "WARN" if wmape <= rule.wmape_warn else "FAIL"
    table = pd.DataFrame(
        {
            "territory_id": quotas["territory_id"],
            "rep_id": quotas["rep_id"],
            "method": quotas["method"],
            "quota": quota,
            "quota_rescaled": rescaled,
            "naive_rescaled": naive,
            "actual": actual,
            "attainment": attainment,
            "abs_error": np.where(scored, np.abs(s - rescaled), np.nan),
        }
    )
    return BacktestResult(
        table=table,
        plan_target=target,
        actual_total=s_sum,
        company_error=company_error,
        company_status="PASS" if company_error <= rule.company_tolerance else "FAIL",
        wmape=wmape,
        naive_wmape=naive_wmape,
        share_within_narrow_band=narrow,
        share_within_wide_band=wide,
        status=status,
    )
