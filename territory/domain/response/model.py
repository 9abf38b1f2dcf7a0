"""The sales-response model's vocabulary: constants, curves, plans, loads and the fitted model.

Holds the format tag and the fit's thresholds and priors, the response curve
(:class:`ResponseCurve`) and the new-hire ramp (:class:`RampCurve`), how a plan is read
(:func:`plan_array`) and how loaded it leaves each rep (:func:`rep_loading`), the fitted
model itself (:class:`ResponseModel`, :class:`FitQuality`), and the small input-reading
helpers the other parts of :mod:`territory.domain.response` share.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from territory.domain.arrays import FloatArray, IntArray, ObjectArray, PlanLike
from territory.domain.contract import is_blank
from territory.errors import DataValidationError, InputProblem

FORMAT = "territory.domain.response/1"
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
        a, b, g = self.saturation, self.base, self.shape
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            x = np.power(np.maximum(c, 0.0) / self.half, g)
            # slope x c / R with x = (c/half)^g, written so that x cancels where it can: a
            # coverage so small that x underflows still has elasticity g when there is no base.
            num = (a - b) * g * x
            den = (1.0 + x) * (b * (1.0 + x) + (a - b) * x)
            small = g if b == 0 else 0.0
            value = np.where(den > 0, num / np.where(den > 0, den, 1.0), small)
            value = np.where(np.isinf(x), 0.0, value)  # saturated: no more response
        return np.asarray(np.where(c > 0, value, 0.0), dtype=np.float64)


def _hill_response(c: Any, a: Any, b: Any, g: Any, half: Any) -> Any:
    """Broadcasting core of the curve; ``c = inf`` gives ``a``, ``c = 0`` gives ``b``."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        x = np.power(np.maximum(c, 0.0) / half, g)
        h = np.where(np.isinf(x), 1.0, x / (1.0 + x))
    return b + (a - b) * h


@dataclass(frozen=True)
class RampCurve:
    """Productivity of a new rep in months 1, 2, ... since starting; the last value holds after.

    The convention of the stress test's ramp schedule (:func:`territory.domain.stress.held_share`).
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
    return np.array([None if is_blank(v) else str(v) for v in values.tolist()], dtype=object)


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
        return self._levels("tier:", self.reference_tier)

    @property
    def segments(self) -> dict[str, float]:
        """Level by segment (the reference segment is 1)."""
        return self._levels("segment:", self.reference_segment)

    def _levels(self, prefix: str, reference: str | None) -> dict[str, float]:
        """Estimates named ``prefix`` + level, after the reference level's 1 (the fitted order)."""
        out = {reference: 1.0} if reference is not None else {}
        for name, value in zip(self.names, self.estimate.tolist(), strict=True):
            if name.startswith(prefix):
                out[name.removeprefix(prefix)] = value
        return out

    def parameter_matrix(self, with_draws: bool) -> FloatArray:
        """Stack the point estimate (row 0) and, when asked for, the bootstrap rows."""
        rows = [self.estimate[None, :]]
        if with_draws and self.draws.shape[0]:
            rows.append(self.draws)
        return np.asarray(np.vstack(rows), dtype=np.float64)


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
        if is_blank(value):
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
    """Return each rep's tier, upper case; blank is tier B (as the model's ``tier_factors_of``)."""
    if "tier" not in reps.columns:
        return ["B"] * len(reps)
    return [("B" if is_blank(t) else str(t).strip().upper()) for t in reps["tier"].tolist()]


def _segments(accounts: pd.DataFrame) -> list[str]:
    return [("" if is_blank(s) else str(s).strip()) for s in accounts["segment"].tolist()]
