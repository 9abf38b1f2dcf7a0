"""What the checks read: the evidence of one run, and the views of it several checks share.

:class:`CheckEvidence` holds data already loaded (plan, quotas, comp plan, stress verdicts);
nothing here computes a verdict. Its methods derive what more than one check reads (the
per-rep table, who is active, whether history exists); the per-rep table is computed once per
evidence object.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, is_dataclass
from datetime import date
from functools import cached_property
from typing import Any, TypedDict

import numpy as np
import numpy.typing as npt
import pandas as pd

from territory.domain.checks.helpers import BoolArray, blank, given, truthy
from territory.domain.comp import CompPlan
from territory.domain.metrics import territory_table
from territory.domain.model import DEFAULT_TIER_FACTORS
from territory.domain.run import RunData as PlanFolder
from territory.errors import DataValidationError


@dataclass(frozen=True, eq=False)
class CheckEvidence:
    """Everything a check may read; each field is None when its step has not run.

    ``plan`` is the rep id of every account in the accounts table's order. ``quota_summary``
    is the ``summary`` part of ``quota_summary.json`` and ``quota_config`` its ``config``;
    ``backtest`` the backtest document (it may carry the per-territory ``table`` when built in
    process). ``stress`` is the ``verdicts`` of ``stress.json`` (a :class:`StressVerdicts` as
    a dict), ``scenarios`` the ``stress_scenarios.csv`` table and ``rep_impact`` the
    ``rep_impact.csv`` table. ``objectives`` maps each strategic objective id to the roles it
    applies to (for C1); ``realignment_uplift`` is the relative gain in expected sales of the
    proposed over the current alignment from a sales-response model (for T2);
    ``rerun_plan`` is the plan of a second run from the same inputs and seed (for T3, T8).

    The rest come from files a user supplies (:mod:`territory.io.check_inputs` reads and
    validates them): ``objective_weights`` weighs each objective (C1); ``market_pay`` has a
    row per role with ``ote_p25``, ``ote_p50``, ``ote_p75`` and ``variable_share_p50`` (C2);
    ``survey`` a row per respondent with ``group`` and the 0/1 answers ``can_calculate_pay``
    (C9) and ``process_is_clear`` (T8), NaN when not asked; ``payouts`` a row per payout run
    with ``period_end``, ``paid_on``, ``payments`` and ``corrections`` (C10); ``data_dates``
    the dates of the data by name, ``assessed_on`` always among them (T8).
    """

    accounts: pd.DataFrame | None = None
    reps: pd.DataFrame | None = None
    plan: pd.Series | None = None
    territories: pd.DataFrame | None = None
    solve: Mapping[str, Any] | None = None
    quotas: pd.DataFrame | None = None
    quota_summary: Mapping[str, Any] | None = None
    quota_config: Mapping[str, Any] | None = None
    backtest: Mapping[str, Any] | None = None
    comp: CompPlan | None = None
    stress: Mapping[str, Any] | None = None
    scenarios: pd.DataFrame | None = None
    rep_impact: pd.DataFrame | None = None
    tier_factors: Mapping[str, float] | None = None
    objectives: Mapping[str, Sequence[str]] | None = None
    realignment_uplift: float | None = None
    rerun_plan: pd.Series | None = None
    objective_weights: Mapping[str, float] | None = None
    market_pay: pd.DataFrame | None = None
    survey: pd.DataFrame | None = None
    payouts: pd.DataFrame | None = None
    data_dates: Mapping[str, date] | None = None

    def has_plan(self) -> bool:
        """Tell whether the accounts, the reps and the plan are all there."""
        return self.accounts is not None and self.reps is not None and self.plan is not None

    def plan_ids(self) -> npt.NDArray[np.object_]:
        """Return the rep id of every account as text, in the accounts table's order."""
        plan = given(self.plan)
        return np.asarray(pd.Series(plan).astype(str).to_numpy(dtype=object), dtype=object)

    def active_reps(self) -> BoolArray:
        """Mark reps who can sell: not flagged vacant and not a to-be-hired (``TBH-``) seat."""
        reps = given(self.reps)
        ids = reps["rep_id"].astype(str).str.upper()
        active = ~ids.str.startswith("TBH").to_numpy(dtype=np.bool_)
        if "vacant" in reps.columns:
            active &= ~truthy(reps["vacant"])
        return np.asarray(active, dtype=np.bool_)

    @cached_property
    def _plan_table(self) -> pd.DataFrame:
        factors = self.tier_factors or DEFAULT_TIER_FACTORS
        accounts, reps = given(self.accounts), given(self.reps)
        return territory_table(accounts, reps, self.plan_ids(), factors)

    def territory_table(self) -> pd.DataFrame | None:
        """Per-rep totals against targets, from the plan when given, else the territories table.

        Six checks read it, so it is computed once per evidence object.
        """
        if self.has_plan():
            return self._plan_table
        needed = {"rep_id", "potential", "potential_dev", "workload_dev"}
        if self.territories is not None and needed <= set(self.territories.columns):
            return self.territories
        return None

    def has_history(self) -> bool:
        """Tell whether accounts carry last year's revenue for at least one account."""
        accounts = self.accounts
        return (
            accounts is not None
            and "revenue_last_year" in accounts.columns
            and bool(pd.to_numeric(accounts["revenue_last_year"], errors="coerce").notna().any())
        )

    def has_current(self) -> bool:
        """Tell whether accounts say who serves them today (``current_rep``)."""
        accounts = self.accounts
        return (
            accounts is not None
            and "current_rep" in accounts.columns
            and not bool(blank(accounts["current_rep"]).all())
        )


def as_dict(value: Any) -> Any:
    """Return a dataclass instance as a dict and anything else as it is."""
    return asdict(value) if is_dataclass(value) and not isinstance(value, type) else value


class _QuotaDocuments(TypedDict, total=False):
    quota_summary: Mapping[str, Any] | None
    quota_config: Mapping[str, Any] | None
    backtest: Mapping[str, Any] | None


def _quota_documents(document: Mapping[str, Any] | None) -> _QuotaDocuments:
    """Split ``quota_summary.json`` (or a bare summary) into the evidence fields it fills."""
    if document is None or not ("summary" in document or "config" in document):
        return {"quota_summary": document}
    return {
        "quota_summary": document.get("summary"),
        "quota_config": document.get("config"),
        "backtest": document.get("backtest"),
    }


def _verdicts(stress: Mapping[str, Any] | None) -> Any:
    """Return the ``verdicts`` of ``stress.json``, or the bare verdicts mapping given."""
    return as_dict(stress.get("verdicts", stress)) if isinstance(stress, Mapping) else None


def _tier_factors(solve: Mapping[str, Any] | None) -> Mapping[str, float] | None:
    """Return the tier factors the alignment ran with, from ``solve.json``'s parameters."""
    parameters = solve.get("parameters", {}) if isinstance(solve, Mapping) else {}
    return parameters.get("tier_factors") if isinstance(parameters, Mapping) else None


def evidence_from_folder(
    run: PlanFolder,
    comp: CompPlan | None,
    quota_summary: Mapping[str, Any] | None,
    stress: Mapping[str, Any] | None,
    scenarios: pd.DataFrame | None,
    *,
    quotas: pd.DataFrame | None = None,
    rep_impact: pd.DataFrame | None = None,
    objectives: Mapping[str, Sequence[str]] | None = None,
) -> CheckEvidence:
    """Evidence from an alignment run and whatever later steps the caller has read.

    ``quota_summary`` is the ``quota_summary.json`` document (``config``, ``summary``,
    ``backtest``) and ``stress`` the ``stress.json`` document (its ``verdicts`` are used); a
    bare summary or verdicts mapping is accepted too. The quotas table is taken from
    ``quotas`` or, when the folder has one, from :meth:`PlanFolder.quotas`.
    """
    if quotas is None and quota_summary is not None:
        try:
            quotas = run.quotas()
        except DataValidationError:
            quotas = None
    return CheckEvidence(
        solve=run.solve,
        tier_factors=_tier_factors(run.solve),
        accounts=run.accounts,
        reps=run.reps,
        plan=run.rep_of_account,
        territories=run.territories,
        quotas=quotas,
        comp=comp,
        stress=_verdicts(stress),
        scenarios=scenarios,
        rep_impact=rep_impact,
        objectives=objectives,
        **_quota_documents(quota_summary),
    )


def balance(table: pd.DataFrame) -> tuple[float, float]:
    """Largest absolute deviation from target of potential and of workload over reps."""
    pot = float(np.nanmax(np.abs(table["potential_dev"].to_numpy(dtype=np.float64))))
    wl = float(np.nanmax(np.abs(table["workload_dev"].to_numpy(dtype=np.float64))))
    return pot, wl
