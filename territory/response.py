"""The sales-response model: what an account sells given the coverage its rep can give it.

Model
-----
Expected sales of account ``i`` held by rep ``r`` in a year:

    mu_i = potential_i x segment_level[s_i] x effectiveness_r x R(c_r) x (1 - loss x moved_i)

* **Coverage** ``c_r = capacity_r / workload_r``: the hours the rep has per hour its accounts
  need. A rep spreads its capacity over its accounts in proportion to their workload, so every
  account of the rep gets the same coverage; an over-loaded rep (utilisation above 1) covers
  each account less than it needs, an under-loaded one more. The form is deliberately uncapped
  (``1 / utilisation``, not ``min(1, capacity / workload)``): spare time does sell a little more,
  which is what lets today's under-loaded reps identify the flat part of the curve, and the
  saturating response keeps the gain bounded.
* **Response** ``R(c) = base + (saturation - base) x h(c)`` with the Hill function
  ``h(c) = (c / half)^shape / (1 + (c / half)^shape)``: the ADBUDG family of Little (1970) in
  the form Lodish's CALLPLAN used. ``saturation`` is the share of potential sold with unlimited
  coverage, ``base`` the share sold with none (existing relationships keep buying; it must lie
  below ``saturation``), ``half`` the coverage that reaches half the span, ``shape`` the
  steepness: below 1 the curve is concave like a power, near 1.5 close to ``1 - exp(-k c)``,
  above 2 S-shaped. Four parameters fit curves of different *shapes*, not only scales.
* **Effectiveness** ``= tier multiplier x exp(rating_slope x (rating - rating_centre))``: both
  fitted (the reference tier, B when present, is 1), and 1 when the column is absent. A rep
  still ramping (a new hire, a vacant seat) sells ``base + (R(c) - base) x productivity``: the
  relationships keep their base level, the effort-driven part scales with the share of a
  productive year (:class:`RampCurve`).
* **Segments** carry their own level (the largest segment by potential is 1).
* **Transition loss**: an account that changes hands sells ``1 - loss`` of what it would. The
  default is the share of revenue at risk in :mod:`territory.transitions`
  (:data:`~territory.transitions.DEFAULT_RISK_RATE`); it is fitted instead when the accounts
  carry a ``prior_rep`` column and enough accounts changed rep between the two years.

Estimation
----------
Revenue is summed over cells (rep x segment x year), which keeps the fit the same size for a
thousand accounts or a million. An account's revenue is its expectation times an independent
multiplicative error with mean 1 and variance ``v`` (zeros included: prospects that did not
buy), so a cell's relative variance is ``v x H + tau2``, ``H`` the cell's Herfindahl index of
potential and ``tau2`` what reps add beyond their tier and rating. The parameters solve the
quasi-likelihood equations of that error model by iteratively reweighted non-linear least
squares (:func:`scipy.optimize.least_squares`, trust-region reflective, with bounds that keep
every parameter meaningful, and an exact Jacobian), ``v`` and ``tau2`` by moments of the
residuals. Coverage is observed over a limited range, so a weak prior (:data:`PRIOR_SHAPE_SD`,
:data:`PRIOR_HALF_SD`, worth about one cell of data) keeps the shape and midpoint from running
to a step or to a bound where the data do not decide them. Why scipy and not
statsmodels: the model is non-linear in the curve's parameters and needs bounds, which
``least_squares`` handles directly and statsmodels' GLMs do not; quasi-likelihood keeps the
zero-revenue cells a lognormal likelihood could not take; scipy is already a dependency.

Uncertainty: a bootstrap that resamples reps (coverage varies by rep, so reps are the
independent units), refitting each time with the prior's centres drawn from the prior
(randomise-then-optimise), so the draws carry what the prior leaves open as well as the
sampling error; on synthetic worlds of several curve shapes the P10-P90 interval of the
uplift holds the truth about as often as it claims. Quality: R² and mean absolute percentage
error of last year's revenue per rep, in sample and by k-fold cross-validation over reps.

The fit is refused (:class:`~territory.errors.DataValidationError`, saying why and what to do)
when the data cannot identify the curve: no revenue, too few reps, or every rep loaded alike.
Literature defaults replace the fit only when the caller asks (``defaults="literature"``), and
the model then carries a warning.

Everything here is pure: no file is read or written and the inputs are never modified.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import optimize

from territory.errors import DataValidationError, InputProblem
from territory.model import DEFAULT_TIER_FACTORS
from territory.transitions import DEFAULT_RISK_RATE

__all__ = [
    "FORMAT",
    "LITERATURE_ELASTICITY",
    "LITERATURE_RAMP",
    "MIN_COVERAGE_SPREAD",
    "MIN_REPS",
    "PRIOR_HALF_SD",
    "PRIOR_SHAPE_SD",
    "FitQuality",
    "Loading",
    "RampCurve",
    "ResponseCurve",
    "RepSales",
    "ResponseModel",
    "account_expected_sales",
    "fit_response",
    "from_json",
    "plan_array",
    "literature_model",
    "rep_effectiveness",
    "rep_expected_sales",
    "rep_loading",
    "to_json",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ObjectArray = npt.NDArray[np.object_]
PlanLike = pd.DataFrame | pd.Series | npt.ArrayLike

FORMAT = "territory.response/1"
"""Format tag of the fitted-model document (``response.json``)."""

MIN_REPS = 8
"""Fewest reps with revenue a fit accepts: the curve is identified only between reps."""

MIN_COVERAGE_SPREAD = 0.05
"""Smallest standard deviation of log coverage across reps (about ±5%) that identifies a curve."""

MIN_MOVED_ACCOUNTS = 20
"""Fewest accounts that changed rep between the two years for the transition loss to be fitted."""

LITERATURE_ELASTICITY = 0.34
"""Elasticity of sales to selling effort at full coverage in the literature-defaults model.

The mean personal-selling elasticity of the meta-analysis by Albers, Mantrala and Sridhar
(2010, Journal of Marketing Research 47(5)). Used only with ``defaults="literature"``.
"""

LITERATURE_ACCOUNT_VARIANCE = 0.25
"""Relative variance of one account's revenue (log-sd about 0.5) when no revenue calibrates it."""

PRIOR_SHAPE_SD = 0.5
"""Log-sd of the weak prior on the curve's shape, centred on 1 (a plain saturating curve).

With coverage observed over a limited range, the shape and the midpoint are barely identified;
the prior keeps them from running to a step or to a bound, and weighs as much as one cell.
"""

PRIOR_HALF_SD = 1.0
"""Log-sd of the weak prior on the curve's midpoint, centred on the median observed coverage."""

_SHAPE_BOUNDS = (0.25, 8.0)
_HALF_BOUNDS = (0.02, 50.0)
_MAX_BASE_SHARE = 0.95
_FIT_ITERATIONS = 3
_LSMR_CELLS = 1000
_MIN_NOISE = 1e-6

Defaults = Literal["literature"] | None


# --------------------------------------------------------------------------- curve and ramp


@dataclass(frozen=True)
class ResponseCurve:
    """ADBUDG response: share of potential sold at a coverage (hours given per hour needed).

    ``R(c) = base + (saturation - base) x (c / half)^shape / (1 + (c / half)^shape)``.

    Parameters
    ----------
    saturation : float
        Share of potential sold with unlimited coverage (> 0).
    base : float
        Share sold with no coverage, from existing relationships (0 <= base < saturation).
    shape : float
        Steepness: below 1 concave like a power, above 2 S-shaped.
    half : float
        Coverage at which half of ``saturation - base`` is reached.
    """

    saturation: float
    base: float
    shape: float
    half: float

    def __call__(self, coverage: npt.ArrayLike) -> FloatArray:
        """Share of potential sold at each coverage (``inf`` gives ``saturation``)."""
        c = np.asarray(coverage, dtype=np.float64)
        return np.asarray(
            _hill_response(c, self.saturation, self.base, self.shape, self.half), np.float64
        )

    def elasticity(self, coverage: npt.ArrayLike) -> FloatArray:
        """Relative change in sales per relative change in coverage, ``dR/dc x c / R``."""
        c = np.asarray(coverage, dtype=np.float64)
        x = np.power(np.maximum(c, 0.0) / self.half, self.shape)
        slope = (self.saturation - self.base) * self.shape * x / (1.0 + x) ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(np.where(c > 0, slope / self(c), 0.0), dtype=np.float64)


def _hill_response(c: Any, a: Any, b: Any, g: Any, half: Any) -> Any:
    """Broadcasting core of the curve; ``c = inf`` gives ``a``, ``c = 0`` gives ``b``."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        x = np.power(np.maximum(c, 0.0) / half, g)
        h = np.where(np.isinf(x), 1.0, x / (1.0 + x))
    return b + (a - b) * h


@dataclass(frozen=True)
class RampCurve:
    """Productivity of a new rep in months 1, 2, ... since starting; the last value holds after.

    The convention of the stress test's ramp schedule (:func:`territory.stress.held_share`).
    No default is assumed: pass a curve measured on your own hires, or ask for
    :data:`LITERATURE_RAMP` explicitly.

    Parameters
    ----------
    monthly : tuple of float
        Share of full productivity (0..1) in each month since start.
    """

    monthly: tuple[float, ...]

    def __post_init__(self) -> None:
        """Refuse an empty schedule or shares outside 0..1."""
        values = list(self.monthly)
        if not values or not all(0.0 <= v <= 1.0 for v in values):
            raise ValueError(
                f"ramp curve {values} must list at least one month, each share between 0 and 1"
            )

    def productivity(self, month: npt.ArrayLike) -> FloatArray:
        """Share of full productivity in month ``month`` since start (1-based; 0 or less: 0)."""
        m = np.floor(np.asarray(month, dtype=np.float64)).astype(np.int64)
        schedule = np.asarray(self.monthly, dtype=np.float64)
        value = schedule[np.clip(m, 1, schedule.size) - 1]
        return np.asarray(np.where(m >= 1, value, 0.0), dtype=np.float64)

    def year_share(self, months_in_role: npt.ArrayLike, start_delay: float = 0.0) -> FloatArray:
        """Share of a full productive year sold by a rep ``months_in_role`` months in at year start.

        A seat filled ``start_delay`` months into the year sells nothing before; each later
        month counts its ramp productivity.
        """
        tenure = np.atleast_1d(np.asarray(months_in_role, dtype=np.float64))
        months = np.arange(1, 13, dtype=np.float64)
        since = tenure[:, None] + months[None, :] - start_delay
        share = self.productivity(np.where(since >= 1.0, since, 0.0)).mean(axis=1)
        return np.asarray(share, dtype=np.float64)

    @property
    def months_to_full(self) -> int:
        """First month at full productivity (the length of the schedule when it never reaches 1)."""
        full = [i for i, v in enumerate(self.monthly, start=1) if v >= 1.0]
        return full[0] if full else len(self.monthly)


LITERATURE_RAMP = RampCurve((0.0, 0.25, 0.5, 0.75, 1.0))
"""Linear ramp to full productivity in month 5: the engine's default for quotas and stress."""


# --------------------------------------------------------------------------- plans and loads


def plan_array(accounts: pd.DataFrame, plan: PlanLike, source: str = "plan") -> ObjectArray:
    """Rep id of every account, in the accounts' row order, as text (None where blank).

    Parameters
    ----------
    accounts : pandas.DataFrame
        The accounts table (``account_id``).
    plan : array-like, pandas.Series or pandas.DataFrame
        One rep per account in row order, a Series indexed by account id, or a frame with
        ``account_id`` and ``rep_id`` columns.
    source : str
        Name used in error messages.

    Returns
    -------
    numpy.ndarray of object
        The rep id of every account.
    """
    ids = accounts["account_id"].astype(str).to_numpy(dtype=object)
    if isinstance(plan, pd.DataFrame):
        missing = [c for c in ("account_id", "rep_id") if c not in plan.columns]
        if missing:
            raise _problem(source, missing[0], "the column is missing", "give account_id, rep_id")
        plan = pd.Series(
            plan["rep_id"].to_numpy(dtype=object),
            index=plan["account_id"].astype(str).to_numpy(dtype=object),
        )
    if isinstance(plan, pd.Series) and not isinstance(plan.index, pd.RangeIndex):
        lookup = plan.copy()
        lookup.index = lookup.index.astype(str)
        if lookup.index.has_duplicates:
            raise _problem(source, "account_id", "an account appears twice", "one row per account")
        absent = [i for i in ids.tolist() if i not in lookup.index]
        if absent:
            raise _problem(
                source, "account_id",
                f"{len(absent)} account(s) have no rep, e.g. {', '.join(absent[:5])}",
                "give a rep for every account",
            )  # fmt: skip
        values = lookup.loc[list(ids)].to_numpy(dtype=object)
    else:
        values = np.asarray(plan, dtype=object).ravel()
        if values.size != ids.size:
            raise _problem(
                source, None, f"{values.size} rep(s) for {ids.size} account(s)",
                "give one rep per account, in the accounts' order",
            )  # fmt: skip
    return np.array([None if _blank(v) else str(v) for v in values.tolist()], dtype=object)


@dataclass(frozen=True, eq=False)
class Loading:
    """How loaded each rep is under a plan: the coverage the response is read at.

    Attributes
    ----------
    rep_ids : numpy.ndarray of object
        Reps in the reps table's order.
    position : numpy.ndarray of int
        Each account's rep position (-1 for an account without a rep).
    workload, capacity : numpy.ndarray
        Hours per year.
    coverage : numpy.ndarray
        ``capacity / workload`` (``inf`` for a rep without workload).
    utilisation : numpy.ndarray
        ``workload / capacity``.
    """

    rep_ids: ObjectArray
    position: IntArray
    workload: FloatArray
    capacity: FloatArray
    coverage: FloatArray
    utilisation: FloatArray


def rep_loading(
    accounts: pd.DataFrame, reps: pd.DataFrame, plan: PlanLike, source: str = "plan"
) -> Loading:
    """Workload, capacity, coverage and utilisation of every rep under a plan.

    Parameters
    ----------
    accounts : pandas.DataFrame
        ``account_id`` and ``workload`` (hours/year).
    reps : pandas.DataFrame
        ``rep_id`` and ``capacity`` (hours/year).
    plan : array-like, pandas.Series or pandas.DataFrame
        See :func:`plan_array`.
    source : str
        Name used in error messages.

    Returns
    -------
    Loading
        Per-rep loads and each account's rep position.
    """
    reps_of = plan_array(accounts, plan, source)
    rep_ids = reps["rep_id"].astype(str).to_numpy(dtype=object)
    index = {r: i for i, r in enumerate(rep_ids.tolist())}
    unknown = sorted({r for r in reps_of.tolist() if r is not None and r not in index})
    if unknown:
        raise _problem(
            source, "rep_id",
            f"{len(unknown)} rep(s) are not in the reps table: {', '.join(unknown[:5])}",
            "add them to the reps table or correct the plan",
        )  # fmt: skip
    position = np.array([index[r] if r is not None else -1 for r in reps_of.tolist()], np.int64)
    capacity = _numbers(reps, "capacity", "reps")
    hours = _numbers(accounts, "workload", "accounts")
    held = position >= 0
    workload = np.bincount(position[held], weights=hours[held], minlength=len(rep_ids))
    with np.errstate(divide="ignore", invalid="ignore"):
        coverage = np.where(workload > 0, capacity / np.where(workload > 0, workload, 1.0), np.inf)
        utilisation = np.where(capacity > 0, workload / np.where(capacity > 0, capacity, 1.0), 0.0)
    return Loading(rep_ids, position, workload.astype(np.float64), capacity, coverage, utilisation)


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class FitQuality:
    """How well the model reproduces last year's revenue per rep.

    Attributes
    ----------
    r2 : float
        R² of revenue per rep, in sample.
    mape : float
        Mean absolute percentage error per rep, in sample.
    cv_r2, cv_mape : float
        The same for reps held out, by ``folds``-fold cross-validation over reps (NaN when
        not computed).
    folds : int
        Number of cross-validation folds (0 when not computed).
    n_reps, n_accounts, n_cells : int
        What the fit saw: reps with revenue, accounts with revenue, rep x segment x year cells.
    n_boot : int
        Bootstrap refits that succeeded.
    """

    r2: float
    mape: float
    cv_r2: float
    cv_mape: float
    folds: int
    n_reps: int
    n_accounts: int
    n_cells: int
    n_boot: int


@dataclass(frozen=True, eq=False)
class ResponseModel:
    """A fitted (or literature-default) sales-response model; see the module docstring.

    Attributes
    ----------
    names : tuple of str
        Parameter names: ``saturation``, ``base``, ``shape``, ``half``, ``tier:<T>``,
        ``rating``, ``segment:<S>``, ``prior_year``, ``transition_loss``.
    estimate : numpy.ndarray
        Point estimate of each parameter, on its natural scale.
    draws : numpy.ndarray
        Bootstrap estimates, one row per refit (no rows for literature defaults).
    fixed : tuple of str
        Parameters held at a given value rather than fitted.
    reference_tier, reference_segment : str or None
        The tier and the segment whose multiplier is 1 (None: the column is not used).
    rating_centre : float or None
        Rating at which the rating effect is 1 (None: ratings are not used).
    account_variance, rep_variance : float
        ``v`` and ``tau2`` of the error model: relative variance of one account's revenue,
        and extra relative variance of a rep's total.
    coverage_observed : tuple of float
        Lowest and highest coverage in the data: predictions outside extrapolate the curve.
    coverage_central : tuple of float
        P10 and P90 of the reps' coverage last year: where the data pin the curve down well
        (sizing recommends headcounts inside it).
    quality : FitQuality
        R², MAPE and their cross-validated values.
    fitted : pandas.DataFrame
        Last year per rep: ``rep_id``, ``coverage``, ``revenue``, ``predicted`` (in sample).
    source : str
        ``"fitted"`` or ``"literature"``.
    warnings : tuple of str
        What the user should know before relying on the model.
    """

    names: tuple[str, ...]
    estimate: FloatArray
    draws: FloatArray
    fixed: tuple[str, ...]
    reference_tier: str | None
    reference_segment: str | None
    rating_centre: float | None
    account_variance: float
    rep_variance: float
    coverage_observed: tuple[float, float]
    coverage_central: tuple[float, float]
    quality: FitQuality
    fitted: pd.DataFrame
    source: str = "fitted"
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def parameter(self, name: str) -> float:
        """Point estimate of one parameter (see :attr:`names`)."""
        return float(self.estimate[self.names.index(name)])

    @property
    def curve(self) -> ResponseCurve:
        """The response curve at the point estimate."""
        return ResponseCurve(
            self.parameter("saturation"),
            self.parameter("base"),
            self.parameter("shape"),
            self.parameter("half"),
        )

    @property
    def transition_loss(self) -> float:
        """Share of an account's sales lost in the year it changes hands."""
        return self.parameter("transition_loss")

    @property
    def tiers(self) -> dict[str, float]:
        """Effectiveness multiplier by tier (the reference tier is 1)."""
        out = {self.reference_tier: 1.0} if self.reference_tier is not None else {}
        for name, value in zip(self.names, self.estimate.tolist(), strict=True):
            if name.startswith("tier:"):
                out[name.removeprefix("tier:")] = value
        return out

    @property
    def segments(self) -> dict[str, float]:
        """Level by segment (the reference segment is 1)."""
        out = {self.reference_segment: 1.0} if self.reference_segment is not None else {}
        for name, value in zip(self.names, self.estimate.tolist(), strict=True):
            if name.startswith("segment:"):
                out[name.removeprefix("segment:")] = value
        return out

    def parameter_matrix(self, with_draws: bool) -> FloatArray:
        """Stack the point estimate (row 0) and, when asked for, the bootstrap rows."""
        rows = [self.estimate[None, :]]
        if with_draws and self.draws.shape[0]:
            rows.append(self.draws)
        return np.asarray(np.vstack(rows), dtype=np.float64)


# --------------------------------------------------------------------------- prediction


@dataclass(frozen=True, eq=False)
class _Design:
    """What the model reads about accounts and reps, coded for vectorised prediction."""

    rep_of: IntArray  # rep position per account (-1: none)
    potential: FloatArray
    segment: IntArray  # index into the segment parameters (-1: the reference level 1)
    moved: npt.NDArray[np.bool_]
    tier: IntArray  # per rep, index into the tier parameters (-1: reference)
    rating: FloatArray  # per rep, rating - centre (0 where unknown)
    productivity: FloatArray  # per rep, share of a productive year (1: fully ramped)
    coverage: FloatArray  # per rep


def _columns(names: Sequence[str], prefix: str) -> tuple[list[str], list[int]]:
    keys = [n.removeprefix(prefix) for n in names if n.startswith(prefix)]
    cols = [i for i, n in enumerate(names) if n.startswith(prefix)]
    return keys, cols


def _code(values: Sequence[str], keys: Sequence[str]) -> IntArray:
    where = {k: i for i, k in enumerate(keys)}
    return np.array([where.get(v, -1) for v in values], dtype=np.int64)


def _multiplier(params: FloatArray, cols: Sequence[int], code: IntArray) -> FloatArray:
    """Per-row multiplier from coded categories; code -1 is the reference (1)."""
    table = np.concatenate([params[:, list(cols)], np.ones((params.shape[0], 1))], axis=1)
    return np.asarray(table[:, code], dtype=np.float64)  # code -1 picks the trailing 1


def _rep_factors(names: Sequence[str], params: FloatArray, design: _Design) -> FloatArray:
    """Effectiveness per (parameter row, rep)."""
    _, tier_cols = _columns(names, "tier:")
    eff = _multiplier(params, tier_cols, design.tier)
    if "rating" in names:
        slope = params[:, [names.index("rating")]]
        eff = eff * np.exp(slope * design.rating[None, :])
    return np.asarray(eff, dtype=np.float64)


def _rep_response(names: Sequence[str], params: FloatArray, design: _Design) -> FloatArray:
    """Share of potential sold per (parameter row, rep), ramp included."""
    a, b, g, half = (params[:, [names.index(k)]] for k in ("saturation", "base", "shape", "half"))
    r = _hill_response(design.coverage[None, :], a, b, g, half)
    return np.asarray(b + (r - b) * design.productivity[None, :], dtype=np.float64)


def _account_sales(names: Sequence[str], params: FloatArray, design: _Design) -> FloatArray:
    """Compute expected sales per (parameter row, account)."""
    per_rep = _rep_factors(names, params, design) * _rep_response(names, params, design)
    held = design.rep_of >= 0
    out = np.zeros((params.shape[0], design.rep_of.size))
    seg_keys, seg_cols = _columns(names, "segment:")
    level = _multiplier(params, seg_cols, design.segment) if seg_keys else 1.0
    loss = params[:, [names.index("transition_loss")]]
    keep = np.where(design.moved[None, :], 1.0 - loss, 1.0)
    value = design.potential[None, :] * level * keep
    out[:, held] = per_rep[:, design.rep_of[held]] * value[:, held]
    return out


def _design(
    model_names: Sequence[str],
    reference_tier: str | None,
    rating_centre: float | None,
    reference_segment: str | None,
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    loading: Loading,
    moved: npt.NDArray[np.bool_],
    productivity: FloatArray,
) -> tuple[_Design, list[str]]:
    notes: list[str] = []
    tier_keys, _ = _columns(model_names, "tier:")
    tiers = _tiers(reps)
    tier_code = _code(tiers, tier_keys)
    if reference_tier is not None:
        odd = sorted(
            {t for t, c in zip(tiers, tier_code.tolist(), strict=True) if c < 0} - {reference_tier}
        )
        if odd:
            notes.append(
                f"tier(s) {', '.join(odd)} were not in the fitted data: their reps are "
                f"valued as tier {reference_tier}"
            )
    rating = np.zeros(len(reps))
    if rating_centre is not None and "rating" in reps.columns:
        values = pd.to_numeric(reps["rating"], errors="coerce").to_numpy(np.float64)
        rating = np.where(np.isfinite(values), values - rating_centre, 0.0)
    seg_keys, _ = _columns(model_names, "segment:")
    segment_code = np.full(len(accounts), -1, dtype=np.int64)
    if reference_segment is not None and "segment" in accounts.columns:
        segs = _segments(accounts)
        segment_code = _code(segs, seg_keys)
        odd = sorted(
            {s for s, c in zip(segs, segment_code.tolist(), strict=True) if c < 0}
            - {reference_segment}
        )
        if odd:
            notes.append(
                f"segment(s) {', '.join(odd)} were not in the fitted data: valued at the level "
                f"of {reference_segment}"
            )
    design = _Design(
        rep_of=loading.position,
        potential=_numbers(accounts, "potential", "accounts"),
        segment=segment_code,
        moved=moved,
        tier=tier_code,
        rating=rating,
        productivity=productivity,
        coverage=loading.coverage,
    )
    return design, notes


def account_expected_sales(
    model: ResponseModel,
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    plan: PlanLike,
    *,
    moved: npt.ArrayLike | None = None,
    productivity: npt.ArrayLike | None = None,
    with_draws: bool = False,
) -> tuple[FloatArray, Loading, list[str]]:
    """Compute every account's expected sales under a plan (currency/year, last year's level).

    Parameters
    ----------
    model : ResponseModel
        The fitted model.
    accounts : pandas.DataFrame
        ``account_id``, ``potential``, ``workload``; ``segment`` when the model uses it.
    reps : pandas.DataFrame
        ``rep_id``, ``capacity``; ``tier`` and ``rating`` when the model uses them.
    plan : array-like, pandas.Series or pandas.DataFrame
        The rep of every account (see :func:`plan_array`).
    moved : array-like of bool, optional
        Accounts changing hands (they lose :attr:`ResponseModel.transition_loss`); none when
        omitted.
    productivity : array-like of float, optional
        Share of a productive year per rep, in the reps table's order (1 when omitted).
    with_draws : bool
        Also evaluate every bootstrap draw (rows after the point estimate).

    Returns
    -------
    sales : numpy.ndarray
        Shape (1 + draws, accounts): row 0 at the point estimate.
    loading : Loading
        The reps' coverage and utilisation under the plan.
    notes : list of str
        Warnings (tiers or segments the fit never saw).
    """
    loading = rep_loading(accounts, reps, plan)
    n = len(accounts)
    moved_mask = (
        np.zeros(n, dtype=bool) if moved is None else np.asarray(moved, dtype=bool).reshape(n)
    )
    ramp = (
        np.ones(len(reps))
        if productivity is None
        else np.asarray(productivity, np.float64).reshape(len(reps))
    )
    design, notes = _design(
        model.names, model.reference_tier, model.rating_centre, model.reference_segment,
        accounts, reps, loading, moved_mask, ramp,
    )  # fmt: skip
    params = model.parameter_matrix(with_draws)
    return _account_sales(model.names, params, design), loading, notes


@dataclass(frozen=True, eq=False)
class RepSales:
    """Expected sales per rep under a plan, at the point estimate and every bootstrap draw.

    Attributes
    ----------
    sales : numpy.ndarray
        Shape (1 + draws, reps): row 0 at the point estimate (currency/year).
    herfindahl : numpy.ndarray
        Per rep, the Herfindahl index of its accounts' expected sales: how much of its total
        rests on a few accounts (the account noise of a rep's total scales with it).
    loading : Loading
        Coverage and utilisation of every rep.
    effectiveness : numpy.ndarray
        Tier x rating multiplier per rep, at the point estimate.
    notes : list of str
        Warnings (tiers or segments the fit never saw).
    """

    sales: FloatArray
    herfindahl: FloatArray
    loading: Loading
    effectiveness: FloatArray
    notes: list[str]


def rep_expected_sales(
    model: ResponseModel,
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    plan: PlanLike,
    *,
    moved: npt.ArrayLike | None = None,
    productivity: npt.ArrayLike | None = None,
    with_draws: bool = False,
) -> RepSales:
    """Compute every rep's expected sales under a plan (currency/year, last year's level).

    The same model as :func:`account_expected_sales`, summed per rep through rep x segment
    totals, so memory grows with reps x draws, not accounts x draws.

    Parameters
    ----------
    model : ResponseModel
        The fitted model.
    accounts, reps, plan
        As for :func:`account_expected_sales`.
    moved : array-like of bool, optional
        Accounts changing hands (they lose the transition loss); none when omitted.
    productivity : array-like of float, optional
        Share of a productive year per rep, in the reps table's order (1 when omitted).
    with_draws : bool
        Also evaluate every bootstrap draw.

    Returns
    -------
    RepSales
        Sales per (parameter row, rep) with the loading and the per-rep noise weights.
    """
    loading = rep_loading(accounts, reps, plan)
    n, n_reps = len(accounts), len(reps)
    moved_mask = (
        np.zeros(n, dtype=bool) if moved is None else np.asarray(moved, dtype=bool).reshape(n)
    )
    ramp = (
        np.ones(n_reps)
        if productivity is None
        else np.asarray(productivity, np.float64).reshape(n_reps)
    )
    design, notes = _design(
        model.names, model.reference_tier, model.rating_centre, model.reference_segment,
        accounts, reps, loading, moved_mask, ramp,
    )  # fmt: skip
    params = model.parameter_matrix(with_draws)
    seg_keys, seg_cols = _columns(model.names, "segment:")
    n_seg = len(seg_keys) + 1  # the last column is the reference level
    held = design.rep_of >= 0
    cell = (
        design.rep_of[held] * n_seg + np.where(design.segment < 0, n_seg - 1, design.segment)[held]
    )
    pot = design.potential[held]
    mov = design.moved[held]
    stay = np.bincount(cell, weights=np.where(mov, 0.0, pot), minlength=n_reps * n_seg)
    gone = np.bincount(cell, weights=np.where(mov, pot, 0.0), minlength=n_reps * n_seg)
    stay, gone = stay.reshape(n_reps, n_seg), gone.reshape(n_reps, n_seg)
    level = np.concatenate([params[:, seg_cols], np.ones((params.shape[0], 1))], axis=1)
    loss = params[:, [model.names.index("transition_loss")]]
    exposure = level @ stay.T + (1.0 - loss) * (level @ gone.T)  # (rows, reps)
    eff = _rep_factors(model.names, params, design)
    sales = eff * _rep_response(model.names, params, design) * exposure
    point = _account_sales(model.names, params[:1], design)[0]
    total = np.bincount(design.rep_of[held], weights=point[held], minlength=n_reps)
    square = np.bincount(design.rep_of[held], weights=point[held] ** 2, minlength=n_reps)
    with np.errstate(divide="ignore", invalid="ignore"):
        herfindahl = np.where(total > 0, square / np.where(total > 0, total, 1.0) ** 2, 0.0)
    return RepSales(
        np.asarray(sales, np.float64), herfindahl, loading, np.asarray(eff[0], np.float64), notes
    )


def rep_effectiveness(model: ResponseModel, reps: pd.DataFrame) -> FloatArray:
    """Effectiveness multiplier of every rep (tier x rating effect) at the point estimate."""
    tier_keys, _ = _columns(model.names, "tier:")
    rating = np.zeros(len(reps))
    if model.rating_centre is not None and "rating" in reps.columns:
        values = pd.to_numeric(reps["rating"], errors="coerce").to_numpy(np.float64)
        rating = np.where(np.isfinite(values), values - model.rating_centre, 0.0)
    design = _Design(
        rep_of=np.empty(0, np.int64),
        potential=np.empty(0),
        segment=np.empty(0, np.int64),
        moved=np.empty(0, bool),
        tier=_code(_tiers(reps), tier_keys),
        rating=rating,
        productivity=np.ones(len(reps)),
        coverage=np.ones(len(reps)),
    )
    return np.asarray(_rep_factors(model.names, model.estimate[None, :], design)[0], np.float64)


# --------------------------------------------------------------------------- the data a fit sees


@dataclass(frozen=True, eq=False)
class _Cells:
    """Revenue summed per rep x segment x year, with what predicts it."""

    rep: IntArray  # position among the fit's reps
    year: IntArray  # 0 last year, 1 prior year
    segment: IntArray  # segment code, -1 reference
    stay: FloatArray  # potential of accounts that kept their rep
    moved: FloatArray  # potential of accounts that changed hands
    revenue: FloatArray
    herfindahl: FloatArray
    coverage: FloatArray  # the rep's coverage that year


@dataclass(frozen=True, eq=False)
class _History:
    """Everything a fit reads, coded; built once per call of :func:`fit_response`."""

    cells: _Cells
    rep_ids: ObjectArray  # the fit's reps
    tier: IntArray  # per fit rep, code into tier parameters (-1 reference)
    rating: FloatArray  # per fit rep, centred
    names: tuple[str, ...]
    fixed: dict[str, float]
    log_prior_half: float  # centre of the prior on log(half): the median observed coverage
    reference_tier: str | None
    reference_segment: str | None
    rating_centre: float | None
    n_accounts: int
    notes: list[str]


class _CannotFitError(Exception):
    """The data cannot identify the curve (the caller may fall back to literature defaults)."""

    def __init__(self, problems: list[InputProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def _history(accounts: pd.DataFrame, reps: pd.DataFrame) -> _History:
    """Cells of last year (and the prior year when present); raises when a fit is impossible."""
    cannot: list[InputProblem] = []
    for table, frame, column in (
        ("accounts", accounts, "account_id"),
        ("accounts", accounts, "potential"),
        ("accounts", accounts, "workload"),
        ("reps", reps, "rep_id"),
        ("reps", reps, "capacity"),
    ):
        if column not in frame.columns:
            raise _problem(table, column, "the column is missing", f"add a '{column}' column")
    if "revenue_last_year" not in accounts.columns:
        cannot.append(
            InputProblem(
                "accounts", None, "revenue_last_year",
                "the column is missing, so there is no history to fit the response to",
                "add last year's revenue per account, or ask for literature defaults",
            )
        )  # fmt: skip
    if "current_rep" not in accounts.columns:
        cannot.append(
            InputProblem(
                "accounts", None, "current_rep",
                "the column is missing, so last year's revenue cannot be tied to a rep's coverage",
                "add the rep who held each account last year, or ask for literature defaults",
            )
        )  # fmt: skip
    if cannot:
        raise _CannotFitError(cannot)

    revenue = _revenue(accounts, "revenue_last_year")
    potential = _numbers(accounts, "potential", "accounts")
    capacity = _numbers(reps, "capacity", "reps")
    rep_ids = reps["rep_id"].astype(str).to_numpy(dtype=object)
    index = {r: i for i, r in enumerate(rep_ids.tolist())}
    current = _rep_positions(accounts["current_rep"], index, "current_rep")
    prior_rev = (
        _revenue(accounts, "revenue_prior_year")
        if "revenue_prior_year" in accounts.columns
        else None
    )
    if prior_rev is not None and not np.isfinite(prior_rev).any():
        prior_rev = None
    has_prior_rep = "prior_rep" in accounts.columns
    prior = (
        _rep_positions(accounts["prior_rep"], index, "prior_rep", allow_unknown=True)
        if has_prior_rep
        else current
    )
    moved_last = (prior >= 0) & (current >= 0) & (prior != current) if has_prior_rep else None

    hours = _numbers(accounts, "workload", "accounts")
    n_reps = len(rep_ids)

    def coverage_of(position: IntArray) -> FloatArray:
        held = position >= 0
        load = np.bincount(position[held], weights=hours[held], minlength=n_reps)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(load > 0, capacity / np.where(load > 0, load, 1.0), np.inf)

    years: list[tuple[int, IntArray, FloatArray, npt.NDArray[np.bool_]]] = []
    no_moves = np.zeros(len(accounts), dtype=bool)
    years.append((0, current, revenue, moved_last if moved_last is not None else no_moves))
    if prior_rev is not None:
        years.append((1, prior, prior_rev, no_moves))

    segments = _segments(accounts) if "segment" in accounts.columns else None
    rows: list[pd.DataFrame] = []
    for year, position, rev, moved in years:
        cov = coverage_of(position)
        ok = (position >= 0) & np.isfinite(rev) & (potential > 0)
        seg = segments if segments is not None else ["all"] * len(accounts)
        frame = pd.DataFrame(
            {
                "rep": position[ok],
                "segment": np.asarray(seg, dtype=object)[ok],
                "stay": np.where(moved[ok], 0.0, potential[ok]),
                "moved": np.where(moved[ok], potential[ok], 0.0),
                "revenue": rev[ok],
                "p2": potential[ok] ** 2,
                "potential": potential[ok],
            }
        )
        grouped = frame.groupby(["rep", "segment"], sort=True).sum().reset_index()
        reps_at = grouped["rep"].to_numpy(np.int64)
        total = grouped["potential"].to_numpy(np.float64)
        rows.append(
            pd.DataFrame(
                {
                    "rep": reps_at,
                    "year": year,
                    "segment": grouped["segment"].astype(str).to_numpy(dtype=object),
                    "stay": grouped["stay"].to_numpy(np.float64),
                    "moved": grouped["moved"].to_numpy(np.float64),
                    "revenue": grouped["revenue"].to_numpy(np.float64),
                    "herfindahl": grouped["p2"].to_numpy(np.float64) / total**2,
                    "coverage": cov[reps_at],
                }
            )
        )
    cells = pd.concat(rows, ignore_index=True)
    if cells.empty or float(cells.loc[cells["year"] == 0, "revenue"].sum()) <= 0:
        raise _CannotFitError(
            [
                InputProblem(
                    "accounts", None, "revenue_last_year",
                    "no account held by a known rep sold anything last year",
                    "check the revenue and current_rep columns, or ask for literature defaults",
                )
            ]
        )  # fmt: skip

    # Reps that sold something last year are the units the curve is identified between.
    last = cells[cells["year"] == 0]
    selling = last.groupby("rep")["revenue"].sum()
    fit_reps = np.array(sorted(int(r) for r in selling.index[selling.to_numpy() > 0]), np.int64)
    cells = cells[cells["rep"].isin(set(fit_reps.tolist()))].reset_index(drop=True)
    cells = cells[np.isfinite(cells["coverage"].to_numpy(np.float64))].reset_index(drop=True)
    notes: list[str] = []

    tiers_all = _tiers(reps)
    fit_tiers = [tiers_all[r] for r in fit_reps.tolist()]
    has_tier = "tier" in reps.columns
    reference_tier: str | None = None
    tier_names: list[str] = []
    if has_tier:
        counts = pd.Series(fit_tiers).value_counts()
        reference_tier = "B" if "B" in counts.index else str(counts.index[0])
        for tier in sorted(counts.index):
            if tier == reference_tier:
                continue
            if counts[tier] >= 2:
                tier_names.append(str(tier))
            else:
                notes.append(
                    f"tier {tier} has a single rep: it is fitted at the level of tier "
                    f"{reference_tier}"
                )
    rating_centre: float | None = None
    rating = np.zeros(len(fit_reps))
    if "rating" in reps.columns:
        values = pd.to_numeric(reps["rating"], errors="coerce").to_numpy(np.float64)[fit_reps]
        known = values[np.isfinite(values)]
        if known.size >= 3 and float(np.std(known)) > 1e-3:
            rating_centre = float(np.mean(known))
            rating = np.where(np.isfinite(values), values - rating_centre, 0.0)

    reference_segment: str | None = None
    segment_names: list[str] = []
    if segments is not None:
        weight = cells.groupby("segment")["stay"].sum() + cells.groupby("segment")["moved"].sum()
        revenue_by = cells.groupby("segment")["revenue"].sum()
        count_by = cells.groupby("segment").size()
        reference_segment = str(weight.sort_values(ascending=False, kind="stable").index[0])
        for seg_name in sorted(weight.index):
            if seg_name == reference_segment:
                continue
            if revenue_by[seg_name] > 0 and count_by[seg_name] >= 3:
                segment_names.append(str(seg_name))
            else:
                notes.append(
                    f"segment {seg_name} has too little revenue to fit its own level: it is "
                    f"valued at the level of {reference_segment}"
                )

    names = ["saturation", "base", "shape", "half"]
    names += [f"tier:{t}" for t in tier_names]
    names += ["rating"] if rating_centre is not None else []
    names += [f"segment:{s}" for s in segment_names]
    if prior_rev is not None:
        names.append("prior_year")
    names.append("transition_loss")
    fixed: dict[str, float] = {}
    n_moved = int(moved_last.sum()) if moved_last is not None else 0
    if n_moved < MIN_MOVED_ACCOUNTS:
        fixed["transition_loss"] = DEFAULT_RISK_RATE
        if has_prior_rep:
            notes.append(
                f"only {n_moved} account(s) changed rep between the prior year and last year "
                f"(a fit needs {MIN_MOVED_ACCOUNTS}): the transition loss is the engine's "
                f"revenue-at-risk rate, {DEFAULT_RISK_RATE:g}"
            )

    # Refusals: the data must show sales at different coverage, between enough reps.
    rep_level = 4 + len(tier_names) + (1 if rating_centre is not None else 0)
    needed = max(MIN_REPS, rep_level + 4)
    problems: list[InputProblem] = []
    if len(fit_reps) < needed:
        problems.append(
            InputProblem(
                "accounts", None, "current_rep",
                f"only {len(fit_reps)} rep(s) sold something last year; the response curve "
                f"is identified only between reps and this model needs at least {needed}",
                "fit on a larger team (or pool several years), or ask for literature defaults",
            )
        )  # fmt: skip
    cov = cells["coverage"].to_numpy(np.float64)
    spread = float(np.std(np.log(cov))) if cov.size else 0.0
    if cov.size and spread < MIN_COVERAGE_SPREAD:
        util = 1.0 / cov
        problems.append(
            InputProblem(
                "accounts", None, "current_rep",
                f"every rep was loaded alike last year (workload / capacity from "
                f"{util.min():.2f} to {util.max():.2f}, a spread of {spread:.1%}), so last "
                "year's revenue cannot show how sales respond to coverage",
                f"a fit needs reps loaded differently (a spread of at least "
                f"{MIN_COVERAGE_SPREAD:.0%}): add a prior year under a different alignment "
                "(revenue_prior_year and prior_rep), or ask for literature defaults",
            )
        )  # fmt: skip
    if problems:
        raise _CannotFitError(problems)

    rep_pos = {int(r): i for i, r in enumerate(fit_reps.tolist())}
    coded = _Cells(
        rep=np.array([rep_pos[int(r)] for r in cells["rep"]], dtype=np.int64),
        year=cells["year"].to_numpy(np.int64),
        segment=_code(cells["segment"].astype(str).tolist(), segment_names),
        stay=cells["stay"].to_numpy(np.float64),
        moved=cells["moved"].to_numpy(np.float64),
        revenue=cells["revenue"].to_numpy(np.float64),
        herfindahl=cells["herfindahl"].to_numpy(np.float64),
        coverage=cov,
    )
    n_accounts = int((np.isfinite(revenue) & (current >= 0)).sum())
    return _History(
        cells=coded,
        rep_ids=rep_ids[fit_reps],
        tier=_code(fit_tiers, tier_names),
        rating=rating,
        names=tuple(names),
        fixed=fixed,
        log_prior_half=float(np.median(np.log(cov))),
        reference_tier=reference_tier,
        reference_segment=reference_segment if segments is not None else None,
        rating_centre=rating_centre,
        n_accounts=n_accounts,
        notes=notes,
    )


# --------------------------------------------------------------------------- estimation


@dataclass(frozen=True)
class _Space:
    """Maps the natural parameters to the unconstrained-ish scale the optimiser works on."""

    names: tuple[str, ...]
    fixed: Mapping[str, float]

    @property
    def free(self) -> list[str]:
        return [n for n in self.names if n not in self.fixed]

    def bounds(self) -> tuple[FloatArray, FloatArray]:
        """Lower and upper bounds of the optimiser's parameters."""
        fixed_bounds = {
            "saturation": (math.log(1e-5), math.log(20.0)),
            "base": (0.0, _MAX_BASE_SHARE),
            "shape": (math.log(_SHAPE_BOUNDS[0]), math.log(_SHAPE_BOUNDS[1])),
            "half": (math.log(_HALF_BOUNDS[0]), math.log(_HALF_BOUNDS[1])),
            "rating": (-6.0, 6.0),
            "transition_loss": (0.0, 0.9),
        }
        # Tier, segment and prior-year multipliers live on the log scale.
        pairs = [fixed_bounds.get(name, (-4.0, 4.0)) for name in self.free]
        return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])

    def natural(self, theta: FloatArray) -> FloatArray:
        """Rows of natural parameters from rows of optimiser parameters."""
        theta = np.atleast_2d(theta)
        out = np.empty((theta.shape[0], len(self.names)))
        free = self.free
        for j, name in enumerate(self.names):
            if name in self.fixed:
                out[:, j] = self.fixed[name]
                continue
            t = theta[:, free.index(name)]
            if name == "base":
                continue  # needs the saturation, filled below
            if name in ("rating", "transition_loss"):
                out[:, j] = t
            else:
                out[:, j] = np.exp(t)
        if "base" not in self.fixed:
            share = theta[:, free.index("base")]
            out[:, self.names.index("base")] = share * out[:, self.names.index("saturation")]
        return out

    def theta(self, natural: FloatArray) -> FloatArray:
        """Optimiser parameters from one row of natural parameters (the inverse of natural)."""
        out = []
        for name in self.free:
            v = float(natural[self.names.index(name)])
            if name == "base":
                sat = float(natural[self.names.index("saturation")])
                out.append(min(max(v / sat, 0.0), _MAX_BASE_SHARE))
            elif name in ("rating", "transition_loss"):
                out.append(v)
            else:
                out.append(math.log(max(v, 1e-300)))
        lo, hi = self.bounds()
        return np.clip(np.array(out), lo, hi)


class _Objective:
    """The selected cells (rows may repeat) coded for fast evaluation on the optimiser's scale.

    On that scale the mean and its derivatives have closed forms, so the optimiser gets an
    exact Jacobian: ``mu = a (beta + (1 - beta) h) x effectiveness x level x exposure`` with
    ``h = sigmoid(shape x log(c / half))``.
    """

    def __init__(self, space: _Space, history: _History, rows: IntArray) -> None:
        cells = history.cells
        free = space.free
        self.n_params = len(free)
        self.y = cells.revenue[rows]
        self.herfindahl = cells.herfindahl[rows]
        self.log_c = np.log(cells.coverage[rows])
        rep = cells.rep[rows]
        self.rating = history.rating[rep]
        self.stay = cells.stay[rows]
        self.moved = cells.moved[rows]
        self.prior_year = cells.year[rows] == 1
        self.i_sat, self.i_base = free.index("saturation"), free.index("base")
        self.i_shape, self.i_half = free.index("shape"), free.index("half")
        self.i_rating = free.index("rating") if "rating" in free else -1
        self.i_prior = free.index("prior_year") if "prior_year" in free else -1
        self.i_loss = free.index("transition_loss") if "transition_loss" in free else -1
        self.loss = space.fixed.get("transition_loss", 0.0)
        tier_keys, _ = _columns(space.names, "tier:")
        seg_keys, _ = _columns(space.names, "segment:")
        tier_code = history.tier[rep]
        seg_code = cells.segment[rows]
        self.groups: list[tuple[int, npt.NDArray[np.bool_]]] = [
            (free.index(f"tier:{k}"), tier_code == j) for j, k in enumerate(tier_keys)
        ] + [(free.index(f"segment:{k}"), seg_code == j) for j, k in enumerate(seg_keys)]
        self.prior = (0.0, history.log_prior_half)  # centres of log(shape) and log(half)
        self.rows = rows

    def mean(self, theta: FloatArray, jacobian: bool = False) -> tuple[FloatArray, FloatArray]:
        """Predicted revenue of each cell, and its derivatives (cells x parameters) if asked."""
        a = math.exp(theta[self.i_sat])
        beta = theta[self.i_base]
        g = math.exp(theta[self.i_shape])
        z = self.log_c - theta[self.i_half]
        h = 0.5 * (1.0 + np.tanh(0.5 * g * z))  # sigmoid(g z), overflow-free
        response = a * (beta + (1.0 - beta) * h)
        log_rest = np.zeros_like(self.y)
        for i, mask in self.groups:
            log_rest = log_rest + np.where(mask, theta[i], 0.0)
        if self.i_rating >= 0:
            log_rest = log_rest + theta[self.i_rating] * self.rating
        if self.i_prior >= 0:
            log_rest = log_rest + np.where(self.prior_year, theta[self.i_prior], 0.0)
        rest = np.exp(log_rest)
        loss = theta[self.i_loss] if self.i_loss >= 0 else self.loss
        exposure = self.stay + (1.0 - loss) * self.moved
        mu = response * rest * exposure
        if not jacobian:
            return mu, np.empty((0, 0))
        d = np.zeros((self.y.size, self.n_params))
        d[:, self.i_sat] = mu
        d[:, self.i_base] = a * (1.0 - h) * rest * exposure
        slope = a * (1.0 - beta) * g * h * (1.0 - h) * rest * exposure
        d[:, self.i_shape] = slope * z
        d[:, self.i_half] = -slope
        for i, mask in self.groups:
            d[:, i] = np.where(mask, mu, 0.0)
        if self.i_rating >= 0:
            d[:, self.i_rating] = mu * self.rating
        if self.i_prior >= 0:
            d[:, self.i_prior] = np.where(self.prior_year, mu, 0.0)
        if self.i_loss >= 0:
            d[:, self.i_loss] = -response * rest * self.moved
        return mu, d

    def penalty(self, theta: FloatArray) -> FloatArray:
        """Return the prior's two pseudo-residuals: log shape and log half from their centres."""
        return np.array(
            [
                (theta[self.i_shape] - self.prior[0]) / PRIOR_SHAPE_SD,
                (theta[self.i_half] - self.prior[1]) / PRIOR_HALF_SD,
            ]
        )

    def solve(
        self, theta: FloatArray, lo: FloatArray, hi: FloatArray, sd: FloatArray
    ) -> FloatArray:
        """Weighted least squares with the prior's two pseudo-observations, from ``theta``."""
        prior_rows = np.zeros((2, self.n_params))
        prior_rows[0, self.i_shape] = 1.0 / PRIOR_SHAPE_SD
        prior_rows[1, self.i_half] = 1.0 / PRIOR_HALF_SD

        def residuals(t: FloatArray) -> FloatArray:
            mu, _ = self.mean(t)
            return np.concatenate([(self.y - mu) / sd, self.penalty(t)])

        def jacobian(t: FloatArray) -> FloatArray:
            _, d = self.mean(t, jacobian=True)
            return np.vstack([-d / sd[:, None], prior_rows])

        # An SVD per step is cheapest for a few hundred cells; beyond, the iterative solver
        # avoids an SVD of a tall Jacobian, which multi-threaded BLAS makes slow.
        solver = "lsmr" if self.y.size > _LSMR_CELLS else "exact"
        result = optimize.least_squares(
            residuals, np.clip(theta, lo, hi), jac=jacobian, bounds=(lo, hi), method="trf",
            x_scale="jac", max_nfev=200, tr_solver=solver,
        )  # fmt: skip
        return np.asarray(result.x, dtype=np.float64)


def _noise(
    revenue: FloatArray, mean: FloatArray, herfindahl: FloatArray, n_params: int
) -> tuple[float, float]:
    """Moment estimates of ``v`` (per account) and ``tau2`` (per cell) from relative residuals.

    ``E[((y - mu) / mu)^2] = v H + tau2``: non-negative least squares of the squared relative
    residuals on ``H`` and 1, reweighted by the inverse of the fitted variance (the squared
    residual of a noisy cell is noisier), with a degrees-of-freedom correction.
    """
    ok = mean > 0
    rel2 = ((revenue[ok] - mean[ok]) / mean[ok]) ** 2
    design = np.column_stack([herfindahl[ok], np.ones(int(ok.sum()))])
    weight = np.ones(int(ok.sum()))
    coef = np.zeros(2)
    for _ in range(3):
        coef, _ = optimize.nnls(design * weight[:, None], rel2 * weight)
        fitted = np.maximum(design @ coef, _MIN_NOISE)
        weight = 1.0 / fitted
    dof = max(int(ok.sum()) - n_params, 1)
    scale = ok.sum() / dof
    return max(float(coef[0] * scale), _MIN_NOISE), max(float(coef[1] * scale), 0.0)


@dataclass(frozen=True)
class _Estimate:
    natural: FloatArray
    theta: FloatArray
    account_variance: float
    rep_variance: float


def _estimate(
    space: _Space,
    history: _History,
    rows: IntArray,
    starts: Sequence[FloatArray],
    iterations: int = _FIT_ITERATIONS,
    noise: tuple[float, float] | None = None,
    prior: tuple[float, float] | None = None,
) -> _Estimate:
    """Fit by iteratively reweighted least squares on the selected cells, best of the starts.

    Each pass fixes the weights ``1 / (mu x sqrt(v H + tau2))`` at the previous pass's mean,
    which solves the quasi-likelihood equations of the error model at convergence; ``v`` and
    ``tau2`` are re-estimated between passes unless given. ``prior`` moves the centres of the
    prior on log(shape) and log(half) (the bootstrap draws them).
    """
    objective = _Objective(space, history, rows)
    if prior is not None:
        objective.prior = prior
    y, herf = objective.y, objective.herfindahl
    lo, hi = space.bounds()
    floor = 1e-9 * max(float(y.mean()), 1e-9)
    best: tuple[float, FloatArray, float, float] | None = None
    for start in starts:
        theta = np.clip(start, lo, hi)
        v, tau2 = noise if noise is not None else (1.0, 0.0)
        mu, _ = objective.mean(theta)
        for _ in range(iterations):
            sd = np.maximum(mu, floor) * np.sqrt(v * herf + tau2)
            theta = objective.solve(theta, lo, hi, sd)
            mu, _ = objective.mean(theta)
            if noise is None:
                v, tau2 = _noise(y, mu, herf, objective.n_params)
        var = v * herf + tau2
        cost = float(np.sum((y - mu) ** 2 / (np.maximum(mu, floor) ** 2 * var)))
        cost += float(np.sum(objective.penalty(theta) ** 2))
        if best is None or cost < best[0]:
            best = (cost, theta, v, tau2)
    assert best is not None
    _, theta, v, tau2 = best
    return _Estimate(space.natural(theta)[0], theta, v, tau2)


def _cell_mean(space: _Space, history: _History, theta: FloatArray, rows: IntArray) -> FloatArray:
    """Predicted revenue of the selected cells at optimiser parameters ``theta``."""
    return _Objective(space, history, rows).mean(theta)[0]


def _starts(space: _Space, history: _History, rows: IntArray) -> list[FloatArray]:
    """Return starting points over the curve's shape: the cost can have local minima."""
    cells = history.cells
    ratio = float(cells.revenue[rows].sum()) / float((cells.stay + cells.moved)[rows].sum())
    half = math.exp(history.log_prior_half)
    starts = []
    for shape in (0.7, 1.5, 3.0):
        natural = np.zeros(len(space.names))
        for j, name in enumerate(space.names):
            if name in space.fixed:
                natural[j] = space.fixed[name]
            elif name == "rating":
                natural[j] = 0.0
            elif name == "transition_loss":
                natural[j] = DEFAULT_RISK_RATE
            else:
                natural[j] = 1.0
        natural[space.names.index("shape")] = shape
        natural[space.names.index("half")] = half
        # R(half) = base + (sat - base) / 2 with base = 0.2 sat: 0.6 sat = the observed ratio.
        natural[space.names.index("saturation")] = max(ratio, 1e-4) / 0.6
        natural[space.names.index("base")] = 0.2 * natural[space.names.index("saturation")]
        starts.append(space.theta(natural))
    return starts


def _rows_of_reps(history: _History, reps: IntArray) -> IntArray:
    """Cell rows of the given fit reps (a rep listed twice gives its cells twice)."""
    by_rep = [np.flatnonzero(history.cells.rep == r) for r in range(history.rep_ids.size)]
    parts = [by_rep[int(r)] for r in reps.tolist()]
    return np.concatenate(parts).astype(np.int64) if parts else np.empty(0, np.int64)


def _rep_totals(history: _History, rows: IntArray, values: FloatArray) -> FloatArray:
    """Sum last year's cell values per fit rep."""
    pick = history.cells.year[rows] == 0
    reps = history.cells.rep[rows[pick]]
    totals = np.bincount(reps, weights=values[pick], minlength=history.rep_ids.size)
    return np.asarray(totals, dtype=np.float64)


def _quality_scores(observed: FloatArray, predicted: FloatArray) -> tuple[float, float]:
    ok = observed > 0
    ss_res = float(((observed - predicted) ** 2).sum())
    ss_tot = float(((observed - observed.mean()) ** 2).sum())
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else math.nan
    mape = float(np.mean(np.abs(observed[ok] - predicted[ok]) / observed[ok])) if ok.any() else 0.0
    return r2, mape


def fit_response(
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    *,
    defaults: Defaults = None,
    n_boot: int = 200,
    folds: int = 5,
    seed: int = 0,
) -> ResponseModel:
    """Fit the sales-response model to last year's revenue under the current alignment.

    Parameters
    ----------
    accounts : pandas.DataFrame
        ``account_id``, ``potential``, ``workload``, ``current_rep``, ``revenue_last_year``;
        ``segment``, ``revenue_prior_year`` and ``prior_rep`` (the rep who held the account in
        the prior year) are used when present. Without ``prior_rep`` the prior year is taken
        to have had the current alignment.
    reps : pandas.DataFrame
        ``rep_id``, ``capacity``; ``tier`` and ``rating`` are used when present.
    defaults : {None, "literature"}
        ``"literature"`` falls back to :func:`literature_model` when the data cannot support a
        fit (the model then says so in :attr:`ResponseModel.warnings`); None refuses.
    n_boot : int
        Bootstrap refits (reps resampled with replacement); 0 skips the bootstrap.
    folds : int
        Cross-validation folds over reps; 0 or 1 skips cross-validation.
    seed : int
        Seed of the bootstrap and of the fold assignment: same data and seed, same model.

    Returns
    -------
    ResponseModel
        The fitted model with its bootstrap draws and fit quality.

    Raises
    ------
    DataValidationError
        When a column is missing or unusable, or (without ``defaults``) when the data cannot
        identify the curve: no revenue, too few reps, or every rep loaded alike.
    """
    if defaults not in (None, "literature"):
        raise ValueError(f"defaults = {defaults!r}: use None or 'literature'")
    try:
        history = _history(accounts, reps)
    except _CannotFitError as exc:
        if defaults == "literature":
            reasons = "; ".join(p.message for p in exc.problems)
            return literature_model(
                accounts, reps, reason=f"the data cannot support a fit: {reasons}"
            )
        raise DataValidationError(exc.problems) from None

    space = _Space(history.names, history.fixed)
    all_rows = np.arange(history.cells.rep.size, dtype=np.int64)
    fit = _estimate(space, history, all_rows, _starts(space, history, all_rows))
    cells = history.cells
    mean = _cell_mean(space, history, fit.theta, all_rows)
    observed = _rep_totals(history, all_rows, cells.revenue)
    predicted = _rep_totals(history, all_rows, mean)
    r2, mape = _quality_scores(observed, predicted)

    rng = np.random.default_rng(seed)
    n_fit_reps = history.rep_ids.size
    cv_r2, cv_mape, n_folds = math.nan, math.nan, 0
    if folds >= 2 and n_fit_reps >= 2 * folds:
        n_folds = folds
        fold_of = rng.permutation(np.arange(n_fit_reps) % folds)
        held_out = np.zeros(n_fit_reps)
        for k in range(folds):
            train = _rows_of_reps(history, np.flatnonzero(fold_of != k))
            test = _rows_of_reps(history, np.flatnonzero(fold_of == k))
            part = _estimate(space, history, train, _starts(space, history, train), iterations=2)
            test_mean = _cell_mean(space, history, part.theta, test)
            held_out += _rep_totals(history, test, test_mean)
        cv_r2, cv_mape = _quality_scores(observed, held_out)

    draws = []
    noise = (fit.account_variance, fit.rep_variance)
    for _ in range(n_boot):
        sample = rng.integers(0, n_fit_reps, n_fit_reps)
        # Randomise-then-optimise: the prior's centres are drawn too, so the draws carry the
        # prior's uncertainty about shape and midpoint as well as the data's.
        centre = (
            float(rng.normal(0.0, PRIOR_SHAPE_SD)),
            history.log_prior_half + float(rng.normal(0.0, PRIOR_HALF_SD)),
        )
        rows = _rows_of_reps(history, sample)
        if np.unique(history.cells.coverage[rows]).size < 3:
            continue
        try:
            boot = _estimate(
                space, history, rows, [fit.theta], iterations=1, noise=noise, prior=centre
            )
        except (ValueError, np.linalg.LinAlgError):
            continue
        draws.append(boot.natural)

    fitted = pd.DataFrame(
        {
            "rep_id": history.rep_ids,
            "coverage": _rep_coverage(history),
            "revenue": observed,
            "predicted": predicted,
        }
    )
    cov = cells.coverage
    return ResponseModel(
        names=history.names,
        estimate=fit.natural,
        draws=np.array(draws, dtype=np.float64).reshape(len(draws), len(history.names)),
        fixed=tuple(history.fixed),
        reference_tier=history.reference_tier,
        reference_segment=history.reference_segment,
        rating_centre=history.rating_centre,
        account_variance=fit.account_variance,
        rep_variance=fit.rep_variance,
        coverage_observed=(float(cov.min()), float(cov.max())),
        coverage_central=_central(fitted["coverage"].to_numpy(np.float64)),
        quality=FitQuality(
            r2=r2,
            mape=mape,
            cv_r2=cv_r2,
            cv_mape=cv_mape,
            folds=n_folds,
            n_reps=n_fit_reps,
            n_accounts=history.n_accounts,
            n_cells=int(cov.size),
            n_boot=len(draws),
        ),  # fmt: skip
        fitted=fitted,
        source="fitted",
        warnings=tuple(history.notes),
    )


def _central(coverage: FloatArray) -> tuple[float, float]:
    """P10 and P90 of the reps' coverage (NaN when there is none)."""
    finite = coverage[np.isfinite(coverage)]
    if not finite.size:
        return (math.nan, math.nan)
    lo, hi = np.quantile(finite, [0.1, 0.9])
    return (float(lo), float(hi))


def _rep_coverage(history: _History) -> FloatArray:
    cov = np.full(history.rep_ids.size, np.nan)
    last = history.cells.year == 0
    cov[history.cells.rep[last]] = history.cells.coverage[last]
    return cov


def literature_model(
    accounts: pd.DataFrame, reps: pd.DataFrame, *, reason: str = "asked for"
) -> ResponseModel:
    """Build a model from published defaults, its level calibrated to last year's revenue.

    The curve is ``saturation x c / (half + c)`` (no base, shape 1) with ``half`` set so the
    elasticity at full coverage is :data:`LITERATURE_ELASTICITY`; tier multipliers are the
    engine's potential-target tier factors relative to tier B; the transition loss is the
    engine's revenue-at-risk rate. ``saturation`` makes the current plan's predicted revenue
    equal last year's; without revenue it is 1 (all potential sold at unlimited coverage).

    Parameters
    ----------
    accounts, reps : pandas.DataFrame
        As for :func:`fit_response`.
    reason : str
        Why the defaults are used, repeated in the model's warning.

    Returns
    -------
    ResponseModel
        Source ``"literature"``, no bootstrap draws, with a warning.
    """
    half = (1.0 - LITERATURE_ELASTICITY) / LITERATURE_ELASTICITY  # 1 / (1 + 1/half) = e at c=1
    base = DEFAULT_TIER_FACTORS["B"]
    tiers = {t: f / base for t, f in DEFAULT_TIER_FACTORS.items() if t != "B"}
    names = ("saturation", "base", "shape", "half", *(f"tier:{t}" for t in sorted(tiers)))
    names = (*names, "transition_loss")
    estimate = np.array(
        [1.0, 0.0, 1.0, half, *(tiers[t] for t in sorted(tiers)), DEFAULT_RISK_RATE], np.float64
    )
    warnings = [
        f"literature defaults, not fitted ({reason}): elasticity {LITERATURE_ELASTICITY:g} at "
        "full coverage, the engine's tier factors as effectiveness; treat values as indicative"
    ]
    reference_tier = "B" if "tier" in reps.columns else None
    model = ResponseModel(
        names=names,
        estimate=estimate,
        draws=np.empty((0, len(names))),
        fixed=names,
        reference_tier=reference_tier,
        reference_segment=None,
        rating_centre=None,
        account_variance=LITERATURE_ACCOUNT_VARIANCE,
        rep_variance=0.0,
        coverage_observed=(math.nan, math.nan),
        coverage_central=(math.nan, math.nan),
        quality=FitQuality(math.nan, math.nan, math.nan, math.nan, 0, 0, 0, 0, 0),
        fitted=pd.DataFrame(columns=["rep_id", "coverage", "revenue", "predicted"]),
        source="literature",
        warnings=(),
    )
    calibrated = _calibrate(model, accounts, reps)
    if calibrated is None:
        warnings.append(
            "no usable revenue_last_year and current_rep: the level is not calibrated "
            "(unlimited coverage would sell all potential)"
        )
        calibrated = (1.0, LITERATURE_ACCOUNT_VARIANCE, 0.0, model.fitted)
    saturation, v, tau2, fitted = calibrated
    estimate[0] = saturation
    return ResponseModel(
        names=names,
        estimate=estimate,
        draws=np.empty((0, len(names))),
        fixed=names,
        reference_tier=reference_tier,
        reference_segment=None,
        rating_centre=None,
        account_variance=v,
        rep_variance=tau2,
        coverage_observed=model.coverage_observed,
        coverage_central=model.coverage_central,
        quality=model.quality,
        fitted=fitted,
        source="literature",
        warnings=tuple(warnings),
    )


def _calibrate(
    model: ResponseModel, accounts: pd.DataFrame, reps: pd.DataFrame
) -> tuple[float, float, float, pd.DataFrame] | None:
    """Saturation matching last year's total revenue, and the noise around it; None if no data."""
    if not {"revenue_last_year", "current_rep"} <= set(accounts.columns):
        return None
    revenue = _revenue(accounts, "revenue_last_year")
    try:
        sales, loading, _ = account_expected_sales(model, accounts, reps, accounts["current_rep"])
    except DataValidationError:
        return None
    known = np.isfinite(revenue) & (loading.position >= 0)
    total = float(revenue[known].sum())
    unit = float(sales[0][known].sum())
    if total <= 0 or unit <= 0:
        return None
    scale = total / unit
    n_reps = loading.rep_ids.size
    pos = loading.position[known]
    observed = np.asarray(np.bincount(pos, weights=revenue[known], minlength=n_reps), np.float64)
    predicted = np.asarray(
        np.bincount(pos, weights=sales[0][known] * scale, minlength=n_reps), np.float64
    )
    pot = _numbers(accounts, "potential", "accounts")[known]
    p = np.bincount(pos, weights=pot, minlength=n_reps)
    p2 = np.bincount(pos, weights=pot**2, minlength=n_reps)
    has = predicted > 0
    herf = np.where(p > 0, p2 / np.where(p > 0, p, 1.0) ** 2, 1.0)
    if int(has.sum()) >= 3:
        v, tau2 = _noise(observed[has], predicted[has], herf[has], 1)
    else:
        v, tau2 = LITERATURE_ACCOUNT_VARIANCE, 0.0
    fitted = pd.DataFrame(
        {
            "rep_id": loading.rep_ids[has],
            "coverage": loading.coverage[has],
            "revenue": observed[has],
            "predicted": predicted[has],
        }
    )
    return scale, v, tau2, fitted


# --------------------------------------------------------------------------- the JSON document


def to_json(model: ResponseModel) -> dict[str, Any]:
    """Write the fitted model as a JSON-ready dict (the content of ``response.json``).

    Parameters
    ----------
    model : ResponseModel
        The model to save.

    Returns
    -------
    dict
        Plain numbers, strings and lists; :func:`from_json` reads it back exactly.
    """
    q = model.quality
    return {
        "format": FORMAT,
        "family": "adbudg",
        "source": model.source,
        "parameters": {n: _float(v) for n, v in zip(model.names, model.estimate, strict=True)},
        "fixed": list(model.fixed),
        "reference_tier": model.reference_tier,
        "reference_segment": model.reference_segment,
        "rating_centre": model.rating_centre,
        "noise": {
            "account_variance": model.account_variance,
            "rep_variance": model.rep_variance,
        },
        "coverage_observed": [_float(c) for c in model.coverage_observed],
        "coverage_central": [_float(c) for c in model.coverage_central],
        "quality": {
            "r2": _float(q.r2),
            "mape": _float(q.mape),
            "cv_r2": _float(q.cv_r2),
            "cv_mape": _float(q.cv_mape),
            "folds": q.folds,
            "n_reps": q.n_reps,
            "n_accounts": q.n_accounts,
            "n_cells": q.n_cells,
            "n_boot": q.n_boot,
        },  # fmt: skip
        "intervals": _intervals(model),
        "draws": [[_float(v) for v in row] for row in model.draws.tolist()],
        "fitted": [
            {
                "rep_id": str(r["rep_id"]),
                "coverage": _float(r["coverage"]),
                "revenue": _float(r["revenue"]),
                "predicted": _float(r["predicted"]),
            }
            for r in model.fitted.to_dict("records")
        ],
        "warnings": list(model.warnings),
    }


def _intervals(model: ResponseModel) -> dict[str, list[float | None]]:
    """P10 and P90 of each parameter over the bootstrap (empty without draws)."""
    if not model.draws.shape[0]:
        return {}
    lo, hi = np.quantile(model.draws, [0.1, 0.9], axis=0)
    return {n: [_float(a), _float(b)] for n, a, b in zip(model.names, lo, hi, strict=True)}


def from_json(document: Mapping[str, Any], source: str = "response.json") -> ResponseModel:
    """Read back a model written by :func:`to_json`.

    Parameters
    ----------
    document : mapping
        The parsed ``response.json``.
    source : str
        Name used in error messages.

    Returns
    -------
    ResponseModel
        The same model.

    Raises
    ------
    DataValidationError
        When the document is not a model of this format or a parameter is missing.
    """
    fix = "fit the model again (territory value) to rewrite the file"
    if not isinstance(document, Mapping) or document.get("format") != FORMAT:
        found = document.get("format") if isinstance(document, Mapping) else type(document)
        raise _problem(source, "format", f"expected format {FORMAT!r}, found {found!r}", fix)
    try:
        params = dict(document["parameters"])
        names = tuple(str(n) for n in params)
        for required in ("saturation", "base", "shape", "half", "transition_loss"):
            if required not in names:
                raise _problem(source, "parameters", f"parameter {required!r} is missing", fix)
        estimate = np.array([_number(params[n]) for n in names], dtype=np.float64)
        rows = [[_number(v) for v in row] for row in document.get("draws", [])]
        draws = np.array(rows, dtype=np.float64).reshape(len(rows), len(names))
        q = document["quality"]
        quality = FitQuality(
            r2=_number(q["r2"]), mape=_number(q["mape"]), cv_r2=_number(q["cv_r2"]),
            cv_mape=_number(q["cv_mape"]), folds=int(q["folds"]), n_reps=int(q["n_reps"]),
            n_accounts=int(q["n_accounts"]), n_cells=int(q["n_cells"]), n_boot=int(q["n_boot"]),
        )  # fmt: skip
        fitted = pd.DataFrame(
            document.get("fitted", []), columns=["rep_id", "coverage", "revenue", "predicted"]
        )
        for column in ("coverage", "revenue", "predicted"):
            fitted[column] = fitted[column].map(_number).astype(np.float64)
        lo, hi = (_number(c) for c in document["coverage_observed"])
        c_lo, c_hi = (_number(c) for c in document["coverage_central"])
        centre = document.get("rating_centre")
        noise = document["noise"]
        return ResponseModel(
            names=names,
            estimate=estimate,
            draws=draws,
            fixed=tuple(str(n) for n in document.get("fixed", [])),
            reference_tier=_text(document.get("reference_tier")),
            reference_segment=_text(document.get("reference_segment")),
            rating_centre=None if centre is None else float(centre),
            account_variance=float(noise["account_variance"]),
            rep_variance=float(noise["rep_variance"]),
            coverage_observed=(lo, hi),
            coverage_central=(c_lo, c_hi),
            quality=quality,
            fitted=fitted,
            source=str(document.get("source", "fitted")),
            warnings=tuple(str(w) for w in document.get("warnings", [])),
        )
    except DataValidationError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise _problem(source, None, f"the model document is incomplete ({exc!r})", fix) from None


# --------------------------------------------------------------------------- helpers


def _float(value: Any) -> float | None:
    """Return a JSON number; None for NaN and infinities (JSON has neither)."""
    v = float(value)
    return v if math.isfinite(v) else None


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _problem(source: str, column: str | None, message: str, fix: str) -> DataValidationError:
    return DataValidationError([InputProblem(source, None, column, message, fix)])


def _blank(value: object) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def _numbers(frame: pd.DataFrame, column: str, source: str) -> FloatArray:
    """Read a numeric column as float64; refuse missing, non-numeric or negative values."""
    if column not in frame.columns:
        raise _problem(source, column, "the column is missing", f"add a '{column}' column")
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(np.float64)
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if bad.size:
        raise DataValidationError(
            [
                InputProblem(
                    source, int(i) + 2, column,
                    f"{frame[column].iloc[int(i)]!r} is not a number of 0 or more",
                    "give a finite number of 0 or more",
                )
                for i in bad[:20]
            ]
        )  # fmt: skip
    return values


def _revenue(frame: pd.DataFrame, column: str) -> FloatArray:
    """Revenue per account; blanks are unknown (NaN, left out), negatives are refused."""
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(np.float64)
    typed = raw.notna().to_numpy() & ~raw.astype(str).str.strip().eq("").to_numpy()
    bad = np.flatnonzero((typed & ~np.isfinite(values)) | (values < 0))
    if bad.size:
        raise DataValidationError(
            [
                InputProblem(
                    "accounts", int(i) + 2, column,
                    f"{raw.iloc[int(i)]!r} is not a revenue of 0 or more",
                    "give a finite amount of 0 or more, or leave the cell blank if unknown",
                )
                for i in bad[:20]
            ]
        )  # fmt: skip
    return values


def _rep_positions(
    values: pd.Series, index: Mapping[str, int], column: str, allow_unknown: bool = False
) -> IntArray:
    """Rep positions of an account column; blank is -1, an unknown rep an error (or -1)."""
    out = np.full(len(values), -1, dtype=np.int64)
    unknown: dict[str, int] = {}
    for i, value in enumerate(values.tolist()):
        if _blank(value):
            continue
        rep = str(value).strip()
        if rep in index:
            out[i] = index[rep]
        elif not allow_unknown:
            unknown.setdefault(rep, i)
    if unknown:
        raise DataValidationError(
            [
                InputProblem(
                    "accounts", row + 2, column, f"rep {rep!r} is not in the reps table",
                    "add the rep to the reps table or correct the account",
                )
                for rep, row in list(unknown.items())[:20]
            ]
        )  # fmt: skip
    return out


def _tiers(reps: pd.DataFrame) -> list[str]:
    """Tier per rep, upper case; blank is tier B (as :func:`territory.model.tier_factors_of`)."""
    if "tier" not in reps.columns:
        return ["B"] * len(reps)
    return [("B" if _blank(t) else str(t).strip().upper()) for t in reps["tier"].tolist()]


def _segments(accounts: pd.DataFrame) -> list[str]:
    return [("" if _blank(s) else str(s).strip()) for s in accounts["segment"].tolist()]
