"""What a plan is worth: expected sales per rep with intervals, and the uplift over today.

Given a fitted :class:`~territory.domain.response.ResponseModel`, :func:`value_plan` values a plan
(the rep of every account): per rep the expected sales (point estimate) and their P10/P50/P90,
coverage, utilisation, effectiveness and ramp (the rows of ``value.csv``); for the plan, the
total with its interval, the contribution when economics are given, and the uplift against the
current alignment (``current_rep``) with an interval (``value.json``).

Two sources of uncertainty, kept apart on purpose:

* **parameters** - every bootstrap draw of the model is evaluated. The uplift interval comes
  from these alone: both plans are valued under the same draw, and only one of them will be
  lived, so what is uncertain is the model, not next year's luck;
* **noise** - a rep's realised sales scatter around the expectation with relative variance
  ``v H_r + tau2`` (the model's error model; ``H_r`` the Herfindahl index of the rep's accounts),
  drawn lognormal. P10/P50/P90 of sales combine both.

Accounts that change hands lose the model's transition loss in the plan year; new-hire seats
(``TBH`` ids, ``vacant`` or ``new_hire`` flags) and reps with a ``tenure_months`` column ramp
by the :class:`~territory.domain.response.RampCurve` given (none given: they count as fully
productive, with a warning). Expected sales are at last year's market level: scaling to a
forecast is the caller's step.

Everything here is pure: no file is read or written and the inputs are never modified.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from territory.domain.arrays import BoolArray, FloatArray, PlanLike
from territory.domain.contract import is_blank
from territory.domain.metrics import moved_mask
from territory.domain.response import (
    RampCurve,
    RepSales,
    ResponseModel,
    plan_array,
    rep_expected_sales,
)
from territory.errors import ScenarioError

__all__ = [
    "DEFAULT_MARGIN",
    "DEFAULT_REP_COST",
    "VALUE_COLUMNS",
    "Economics",
    "PlanValue",
    "new_hire_mask",
    "value_plan",
]


DEFAULT_MARGIN = 0.6
"""Gross margin on sales [D]: an engine default, to be replaced by the company's own."""

DEFAULT_REP_COST = 150_000.0
"""Fully loaded cost of one rep per year [D]: an engine default, to be replaced."""

VALUE_COLUMNS = (
    "rep_id",
    "n_accounts",
    "potential",
    "workload",
    "capacity",
    "utilisation",
    "coverage",
    "effectiveness",
    "productivity",
    "expected_sales",
    "sales_p10",
    "sales_p50",
    "sales_p90",
    "transition_loss",
    "cost",
    "contribution",
)
"""Columns of ``value.csv``, in order (``cost`` and ``contribution`` only with economics)."""

_TRUE = frozenset({"1", "1.0", "true", "yes", "y", "t"})
_COVERAGE_SLACK = 0.02


@dataclass(frozen=True)
class Economics:
    """What a plan costs and earns: contribution = expected sales x margin - rep cost.

    Parameters
    ----------
    margin : float
        Gross margin on sales, 0..1 (:data:`DEFAULT_MARGIN`).
    rep_cost : float
        Yearly cost of a rep without a ``cost`` column value (:data:`DEFAULT_REP_COST`).
    """

    margin: float = DEFAULT_MARGIN
    rep_cost: float = DEFAULT_REP_COST

    def __post_init__(self) -> None:
        """Refuse a margin outside 0..1 or a negative cost."""
        problems = []
        if not 0.0 < self.margin <= 1.0:
            problems.append(f"margin = {self.margin} must be more than 0 and at most 1")
        if not (self.rep_cost >= 0.0 and math.isfinite(self.rep_cost)):
            problems.append(f"rep_cost = {self.rep_cost} must be a finite amount of 0 or more")
        if problems:
            raise ScenarioError("invalid economics: " + "; ".join(problems))

    def costs(self, reps: pd.DataFrame) -> FloatArray:
        """Cost of every rep: its ``cost`` column where given, else :attr:`rep_cost`."""
        if "cost" not in reps.columns:
            return np.full(len(reps), self.rep_cost)
        values = pd.to_numeric(reps["cost"], errors="coerce").to_numpy(np.float64)
        return np.asarray(np.where(np.isfinite(values), values, self.rep_cost), np.float64)


@dataclass(frozen=True, eq=False)
class PlanValue:
    """The value of one plan: per-rep rows, totals, uplift and what to be careful about.

    Attributes
    ----------
    reps : pandas.DataFrame
        One row per rep, columns :data:`VALUE_COLUMNS` (``value.csv``).
    total : dict
        ``expected``, ``p10``, ``p50``, ``p90`` of the plan's sales, ``transition_loss``, and
        ``cost`` and ``contribution`` (with its ``contribution_p10`` / ``_p90``) with economics.
    uplift : dict or None
        Against the current alignment: ``current_expected``, ``plan_expected``, ``amount``,
        ``uplift`` (net of the transition loss) and ``uplift_gross`` (before it, the figure
        check T2 nets itself), each with ``_p10``/``_p50``/``_p90`` over the model's draws;
        None when the accounts carry no usable current alignment.
    samples : numpy.ndarray
        Simulated yearly sales, one row per simulation, one column per rep (parameter draws and
        noise combined), for callers that need more than the quantiles (share at quota).
    draw_totals : numpy.ndarray
        The plan's expected total under the point estimate (first) and each parameter draw.
    warnings : tuple of str
        Extrapolation, unseen tiers or segments, ramps assumed.
    source : str
        The model's source (``fitted`` or ``literature``).
    """

    reps: pd.DataFrame
    total: dict[str, float]
    uplift: dict[str, float] | None
    samples: FloatArray
    draw_totals: FloatArray
    warnings: tuple[str, ...] = field(default_factory=tuple)
    source: str = "fitted"

    def to_dict(self) -> dict[str, Any]:
        """Return the plan-level figures as a JSON-ready dict (``value.json``)."""
        return {
            "source": self.source,
            "total": {k: _json_number(v) for k, v in self.total.items()},
            "uplift": None
            if self.uplift is None
            else {k: _json_number(v) for k, v in self.uplift.items()},
            "warnings": list(self.warnings),
        }


def new_hire_mask(reps: pd.DataFrame) -> BoolArray:
    """Seats to be filled: ``TBH`` ids, or a truthy ``vacant`` or ``new_hire`` flag."""
    ids = reps["rep_id"].astype(str).str.strip().str.upper()
    mask = np.array(ids.str.startswith("TBH"), dtype=np.bool_)  # a copy: pandas may lend views
    for column in ("vacant", "new_hire"):
        if column in reps.columns:
            text = reps[column].astype("string").str.strip().str.lower()
            mask |= np.asarray(text.isin(list(_TRUE)).fillna(False), dtype=np.bool_)
    return np.asarray(mask, dtype=np.bool_)


def _productivity(
    reps: pd.DataFrame, ramp: RampCurve | None, time_to_fill: float
) -> tuple[FloatArray, list[str]]:
    """Share of a productive year per rep, and a warning when a ramp was needed but not given."""
    hires = new_hire_mask(reps)
    tenure = np.full(len(reps), np.inf)
    if "tenure_months" in reps.columns:
        values = pd.to_numeric(reps["tenure_months"], errors="coerce").to_numpy(np.float64)
        tenure = np.where(np.isfinite(values), values, np.inf)
    tenure = np.where(hires, 0.0, tenure)
    if ramp is None:
        ramping = int(hires.sum()) + int((~hires & (tenure < 12.0)).sum())
        notes = (
            [
                f"{ramping} rep(s) are new hires or in their first year but no ramp curve was "
                "given: they are valued at full productivity"
            ]
            if ramping
            else []
        )
        return np.ones(len(reps)), notes
    delay = np.where(hires, time_to_fill, 0.0)
    share = np.ones(len(reps))
    finite = np.isfinite(tenure)
    for i in np.flatnonzero(finite):
        share[i] = float(ramp.year_share(tenure[i], start_delay=float(delay[i]))[0])
    return share, []


def value_plan(
    model: ResponseModel,
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    plan: PlanLike,
    *,
    current_reps: pd.DataFrame | None = None,
    transition: bool = True,
    ramp: RampCurve | None = None,
    time_to_fill: float = 0.0,
    economics: Economics | None = None,
    quantiles: Sequence[float] = (0.1, 0.5, 0.9),
    n_sims: int = 2000,
    seed: int = 0,
) -> PlanValue:
    """Value a plan under a sales-response model: per-rep sales with intervals and the uplift.

    Parameters
    ----------
    model : ResponseModel
        A fitted model (:func:`territory.domain.response.fit_response`).
    accounts : pandas.DataFrame
        ``account_id``, ``potential``, ``workload``; ``segment`` when the model uses it and
        ``current_rep`` for the transition loss and the uplift.
    reps : pandas.DataFrame
        The plan's reps: ``rep_id``, ``capacity``; ``tier``, ``rating``, ``tenure_months``,
        ``vacant``, ``new_hire`` and ``cost`` are used when present.
    plan : array-like, pandas.Series or pandas.DataFrame
        The rep of every account (see :func:`territory.domain.response.plan_array`).
    current_reps : pandas.DataFrame, optional
        The reps of today's alignment when they differ from ``reps`` (a scenario that adds or
        removes reps); defaults to ``reps``.
    transition : bool
        Charge the transition loss on accounts whose rep changes from ``current_rep``; False
        values the plan in steady state (as sizing does).
    ramp : RampCurve, optional
        Productivity of new hires by month; without it they count as fully productive.
    time_to_fill : float
        Months before a new-hire seat is filled (it sells only its base level until then).
    economics : Economics, optional
        Margin and rep cost; adds ``cost`` and ``contribution``.
    quantiles : sequence of float
        The three quantiles reported as P10, P50, P90.
    n_sims : int
        Simulations (parameter draws cycled, noise drawn) behind the quantiles.
    seed : int
        Seed of the simulation: same inputs and seed, same numbers.

    Returns
    -------
    PlanValue
        Per-rep rows, totals, uplift and warnings.
    """
    if len(quantiles) != 3 or not all(0.0 < q < 1.0 for q in quantiles):
        raise ScenarioError(f"quantiles {list(quantiles)} must be three levels between 0 and 1")
    if n_sims < 1:
        raise ScenarioError(f"n_sims = {n_sims} must be at least 1")
    reps_of = plan_array(accounts, plan)
    has_current = "current_rep" in accounts.columns
    moved = moved_mask(accounts, reps_of) if transition and has_current else None
    productivity, notes = _productivity(reps, ramp, time_to_fill)
    result = rep_expected_sales(
        model, accounts, reps, reps_of, moved=moved, productivity=productivity, with_draws=True
    )
    notes += result.notes
    rng = np.random.default_rng(seed)
    samples = _simulate(model, result, n_sims, rng)
    lo, mid, hi = np.quantile(samples, quantiles, axis=0)
    totals = samples.sum(axis=1)
    loading = result.loading
    expected = result.sales[0]
    unmoved = (
        rep_expected_sales(
            model, accounts, reps, reps_of, productivity=productivity, with_draws=True
        )
        if moved is not None and moved.any()
        else result
    )
    gross = unmoved.sales[0]
    held = loading.position >= 0
    n_reps = len(reps)
    potential = np.bincount(
        loading.position[held],
        weights=pd.to_numeric(accounts["potential"]).to_numpy(np.float64)[held],
        minlength=n_reps,
    )
    has_load = loading.workload > 0
    rows = pd.DataFrame(
        {
            "rep_id": loading.rep_ids,
            "n_accounts": np.bincount(loading.position[held], minlength=n_reps).astype(np.int64),
            "potential": potential,
            "workload": loading.workload,
            "capacity": loading.capacity,
            "utilisation": loading.utilisation,
            "coverage": np.where(has_load, loading.coverage, np.nan),
            "effectiveness": result.effectiveness,
            "productivity": productivity,
            "expected_sales": expected,
            "sales_p10": lo,
            "sales_p50": mid,
            "sales_p90": hi,
            "transition_loss": gross - expected,
        }
    )
    t_lo, t_mid, t_hi = (float(v) for v in np.quantile(totals, quantiles))
    total: dict[str, float] = {
        "expected": float(expected.sum()),
        "p10": t_lo,
        "p50": t_mid,
        "p90": t_hi,
        "transition_loss": float((gross - expected).sum()),
    }
    if economics is not None:
        cost = economics.costs(reps)
        rows["cost"] = cost
        rows["contribution"] = expected * economics.margin - cost
        total["cost"] = float(cost.sum())
        total["contribution"] = total["expected"] * economics.margin - total["cost"]
        total["contribution_p10"] = t_lo * economics.margin - total["cost"]
        total["contribution_p90"] = t_hi * economics.margin - total["cost"]
    notes += _extrapolation(model, loading.coverage[has_load])
    uplift = None
    if not has_current:
        notes.append("no uplift: the accounts carry no current_rep column (today's alignment)")
    else:
        uplift, more = _uplift(
            model, accounts, reps, current_reps, result, unmoved,
            productivity=productivity, quantiles=quantiles,
        )  # fmt: skip
        notes += more
    notes += list(model.warnings)
    return PlanValue(
        reps=rows,
        total=total,
        uplift=uplift,
        samples=samples,
        draw_totals=np.asarray(result.sales.sum(axis=1), dtype=np.float64),
        warnings=tuple(dict.fromkeys(notes)),
        source=model.source,
    )


def _simulate(
    model: ResponseModel, result: RepSales, n_sims: int, rng: np.random.Generator
) -> FloatArray:
    """Yearly sales per (simulation, rep): a parameter draw, then lognormal noise around it."""
    n_draws = result.sales.shape[0] - 1
    rows = 1 + np.arange(n_sims) % n_draws if n_draws else np.zeros(n_sims, dtype=np.int64)
    mean = result.sales[rows]
    variance = model.account_variance * result.herfindahl + model.rep_variance
    sigma = np.sqrt(np.log1p(variance))[None, :]
    z = rng.standard_normal(mean.shape)
    return np.asarray(mean * np.exp(sigma * z - 0.5 * sigma**2), dtype=np.float64)


def _extrapolation(model: ResponseModel, coverage: FloatArray) -> list[str]:
    lo, hi = model.coverage_observed
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    outside = (coverage < lo * (1 - _COVERAGE_SLACK)) | (coverage > hi * (1 + _COVERAGE_SLACK))
    if not outside.any():
        return []
    return [
        f"{int(outside.sum())} rep(s) have a coverage (capacity / workload) outside the range "
        f"the model was fitted on ({lo:.2f} to {hi:.2f}): their sales are extrapolated"
    ]


def _uplift(
    model: ResponseModel,
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    current_reps: pd.DataFrame | None,
    planned: RepSales,
    unmoved: RepSales,
    *,
    productivity: FloatArray,
    quantiles: Sequence[float],
) -> tuple[dict[str, float] | None, list[str]]:
    """Compare the plan with today's alignment, both valued under each parameter draw."""
    today = current_reps if current_reps is not None else reps
    current = accounts["current_rep"]
    known = set(today["rep_id"].astype(str).tolist())
    ids = [str(v).strip() for v in current.tolist() if not is_blank(v)]
    missing = sorted(set(ids) - known)
    if missing:
        return None, [
            f"no uplift: current rep(s) {', '.join(missing[:5])} are not in the reps table of "
            "the current alignment (pass current_reps)"
        ]
    if not ids:
        return None, ["no uplift: no account has a current rep"]
    held = np.array([not is_blank(v) for v in current.tolist()], dtype=bool)
    same_reps = current_reps is None
    now = rep_expected_sales(
        model, accounts, today, current, with_draws=True,
        productivity=productivity if same_reps else None,
    )  # fmt: skip
    notes = []
    if not held.all():
        notes.append(
            f"{int((~held).sum())} account(s) have no current rep: today's value counts them "
            "as selling nothing"
        )
    before = now.sales.sum(axis=1)
    after = planned.sales.sum(axis=1)
    gross_after = unmoved.sales.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        net = after / before - 1.0
        gross = gross_after / before - 1.0
    out: dict[str, float] = {
        "current_expected": float(before[0]),
        "plan_expected": float(after[0]),
        "amount": float(after[0] - before[0]),
        "uplift": float(net[0]),
        "uplift_gross": float(gross[0]),
    }
    draws = slice(1, None) if before.size > 1 else slice(0, 1)
    for name, values in (("uplift", net), ("uplift_gross", gross), ("amount", after - before)):
        for label, q in zip(("p10", "p50", "p90"), quantiles, strict=True):
            out[f"{name}_{label}"] = float(np.quantile(values[draws], q))
    return out, notes


def _json_number(value: float) -> float | None:
    v = float(value)
    return v if math.isfinite(v) else None
