"""The inputs a check can declare it needs, and the routes that read evidence from a run folder.

An :class:`Input` names one piece of :class:`~territory.domain.checks.evidence.CheckEvidence`, how
to tell it is there and what a user should supply when it is not. A check lists the inputs it
requires, and the shared preamble (:mod:`territory.domain.checks.model`) answers NOT_ASSESSABLE with
their ``needs`` when one is missing. An input with a ``load`` is also a route: :func:`routed`
fills its field from a run folder, so a new source of evidence is one entry here (and its field
in ``CheckEvidence``, if it is a new kind of evidence).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from territory.domain.checks.evidence import CheckEvidence
from territory.domain.run import RunData as PlanFolder

_FIELDS = frozenset(f.name for f in fields(CheckEvidence))


@dataclass(frozen=True)
class Input:
    """One piece of evidence a check needs: how to tell it is there, and what to supply if not.

    Parameters
    ----------
    name
        The :class:`CheckEvidence` field it lives in, or a short label for a combination.
    needs
        What a user should supply to make the check assessable; shown in ``needs``.
    present
        Whether the evidence holds it; by default, whether field ``name`` is set.
    load
        A route from a run folder: reads the value of field ``name`` (None when absent).
    """

    name: str
    needs: str
    present: Callable[[CheckEvidence], bool] | None = None
    load: Callable[[PlanFolder], Any] | None = None

    def __post_init__(self) -> None:
        """Refuse a field test or a route for a field the evidence does not have."""
        if (self.present is None or self.load is not None) and self.name not in _FIELDS:
            raise ValueError(f"Input {self.name!r} names no CheckEvidence field")

    def missing(self, ev: CheckEvidence) -> bool:
        """Tell whether this input is absent from ``ev``."""
        if self.present is not None:
            return not self.present(ev)
        return getattr(ev, self.name) is None


def _has(column: str) -> Callable[[CheckEvidence], bool]:
    return lambda ev: ev.accounts is not None and column in ev.accounts.columns


PLAN = Input("plan", "accounts, reps and plan (territory align)", CheckEvidence.has_plan)
ASSIGNMENT = Input("plan", "the plan (territory align)")
TERRITORIES = Input(
    "territories",
    "accounts, reps and plan (territory align)",
    lambda ev: ev.territory_table() is not None,
)
RATED_TERRITORIES = Input(
    "territories",
    "reps and plan (territory align)",
    lambda ev: ev.territory_table() is not None and ev.reps is not None,
)
SOLVE = Input("solve", "solve.json of the alignment run")
ACCOUNTS = Input("accounts", "accounts table")
WORKLOAD = Input("accounts.workload", "accounts with workload hours per year", _has("workload"))
POTENTIAL = Input("accounts.potential", "accounts with potential", _has("potential"))
CURRENT_REP = Input(
    "accounts.current_rep",
    "current_rep per account (who serves it today)",
    CheckEvidence.has_current,
)
REVENUE_HISTORY = Input(
    "accounts.revenue_last_year", "revenue_last_year per account", CheckEvidence.has_history
)
COMP = Input("comp", "comp plan")
COMP_AND_REPS = Input(
    "comp", "comp plan and reps", lambda ev: ev.comp is not None and ev.reps is not None
)
STRESS = Input("stress", "stress test verdicts (territory stress)")
REP_IMPACT = Input(
    "rep_impact",
    "stress test rep_impact (territory stress)",
    lambda ev: ev.rep_impact is not None and "expected_attainment" in ev.rep_impact.columns,
    load=lambda run: run.table("rep_impact.csv"),
)
SCENARIOS = Input(
    "scenarios",
    "the stress scenarios (territory stress)",
    load=lambda run: run.table("stress_scenarios.csv"),
)
BACKTEST = Input(
    "backtest",
    "revenue_prior_year per account (two years of history) so last year's quotas can be "
    "re-set and scored",
    lambda ev: (ev.backtest or {}).get("wmape") is not None,
)


def _model_uplift(run: PlanFolder) -> float | None:
    """Read the gross uplift ``territory value`` (or a scenario run) wrote to ``value.json``.

    The gross figure (before the model's transition loss), because T2 charges its own
    ``transition_loss_rate`` on the revenue moved.
    """
    document = run.document("value.json") or {}
    uplift = document.get("uplift") if isinstance(document, dict) else None
    value = uplift.get("uplift_gross") if isinstance(uplift, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


REALIGNMENT_UPLIFT = Input(
    "realignment_uplift",
    "a sales-response-to-effort model giving expected sales under the current and the "
    "proposed alignment (territory value --plan, or a scenario run with history)",
    load=_model_uplift,
)
OBJECTIVES = Input(
    "objectives",
    "an objectives file: the strategic objectives, their weights and the roles each applies "
    "to (territory check --objectives FILE)",
)
MARKET_PAY = Input(
    "market_pay",
    "a market pay file per role: P25/P50/P75 OTE and pay mix (territory check --market-pay FILE)",
)

ROUTES: tuple[Input, ...] = tuple(
    value for value in tuple(globals().values()) if isinstance(value, Input) and value.load
)
"""Every input above with a ``load``: evidence read straight from a run folder's files.

:data:`REALIGNMENT_UPLIFT` reads ``value.json``, so T2 is measured on every run that has one;
the files a user supplies (objectives, market pay, survey, payouts, data dates) come in
through :mod:`territory.io.check_inputs`.
"""


def routed(ev: CheckEvidence, run: PlanFolder, routes: Sequence[Input] = ROUTES) -> CheckEvidence:
    """Fill each still-empty field that a route can read from the run folder."""
    found = {
        route.name: route.load(run)
        for route in routes
        if route.load is not None and getattr(ev, route.name) is None
    }
    return replace(ev, **{name: value for name, value in found.items() if value is not None})
