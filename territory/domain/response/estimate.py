"""Estimation: fitting the response model to history, or building it from the literature.

The optimiser's parameter space and objective (quasi-likelihood by iteratively reweighted
non-linear least squares with a weak prior on the curve's shape and midpoint), the noise
moments, cross-validation and the rep bootstrap in :func:`fit_response`, and the
literature-defaults model (:func:`literature_model`) calibrated to last year's revenue.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import optimize

from territory.domain.arrays import FloatArray, IntArray
from territory.domain.model import DEFAULT_TIER_FACTORS
from territory.domain.response.history import _CannotFitError, _History, _history
from territory.domain.response.model import (
    LITERATURE_ACCOUNT_VARIANCE,
    LITERATURE_ELASTICITY,
    PRIOR_HALF_SD,
    PRIOR_SHAPE_SD,
    FitQuality,
    ResponseModel,
    _numbers,
    _revenue,
)
from territory.domain.response.predict import _columns, account_expected_sales
from territory.domain.transitions import DEFAULT_RISK_RATE
from territory.errors import DataValidationError

_SHAPE_BOUNDS = (0.25, 8.0)
_HALF_BOUNDS = (0.02, 50.0)
_MAX_BASE_SHARE = 0.95
_FIT_ITERATIONS = 3
_LSMR_CELLS = 1000
_MIN_NOISE = 1e-6

Defaults = Literal["literature"] | None


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
    return replace(
        model,
        estimate=estimate,
        account_variance=v,
        rep_variance=tau2,
        fitted=fitted,
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
