"""Stress-test settings and the analytic helpers that calibrate them.

:class:`StressConfig` holds the simulation's sigmas, ramp, scenario grid and memory bound; the
functions turn deal counts or account-level parameters into rep-level sigmas and size an
accelerator for a target leverage.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated

import numpy as np
import numpy.typing as npt
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from territory.domain.arrays import FloatArray
from territory.errors import ScenarioError

SeedLike = int | np.random.Generator | None


def _x_levels(lo: float, hi: float, step: float) -> tuple[float, ...]:
    n = int(round((hi - lo) / step)) + 1
    return tuple(round(lo + step * i, 10) for i in range(n))


def _default_levers() -> dict[str, tuple[float, ...]]:
    return {
        "over_assignment": (0.0, 0.05, 0.10, 0.15, 0.20),
        "accelerator_slope": (1.0, 1.5, 2.0, 2.5, 3.0),
        "sigma_idio": (0.10, 0.15, 0.20, 0.25, 0.30),
        "sigma_effectiveness": (0.05, 0.10, 0.15, 0.20, 0.25),
        "sigma_company": (0.0, 0.04, 0.08, 0.12, 0.16),
    }


@dataclass(frozen=True)
class StressConfig:
    """Simulation settings; every default is an engine default [D] to override from data.

    Sigmas are log-sds: ``sigma_company`` from past plan-vs-actual, ``sigma_segment`` from
    segment plan history (used only when reps carry a segment), ``sigma_effectiveness`` for
    reps whose effectiveness is unknown, ``sigma_idio`` the rep-level noise left after
    aggregating accounts. A vacant month sells at ``coverage_factor`` of normal and pays
    nothing. ``ramp_schedule`` gives productivity in months 1, 2, ... since start (the last
    value holds after). Reps with fewer than ``ramped_after_months`` of tenure, or less than a
    full year in role, are left out of rate metrics (share at quota, percentiles).
    """

    n_sims: int = 10_000
    sigma_company: float = 0.08
    sigma_segment: float = 0.05
    sigma_effectiveness: float = 0.15
    sigma_idio: float = 0.20
    coverage_factor: float = 0.85
    ramp_schedule: tuple[float, ...] = (0.0, 0.25, 0.50, 0.75, 1.0)
    ramped_after_months: float = 12.0
    company_attainments: tuple[float, ...] = field(
        default_factory=lambda: _x_levels(0.80, 1.20, 0.05)
    )
    plan_attainment: float = 1.0
    ccos_attainments: tuple[float, ...] = (0.90, 1.00, 1.10)
    cost_percentiles: tuple[float, ...] = (5.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0)
    attainment_bands: tuple[float, ...] = (0.5, 0.8, 1.0, 1.2)
    forecast_accuracy_band: float = 0.10
    min_share_at_quota: float = 0.50
    sensitivity_levers: Mapping[str, tuple[float, ...]] = field(default_factory=_default_levers)
    max_cells: int = 1_000_000
    histogram_log_width: float = 0.0005

    def __post_init__(self) -> None:
        """Refuse settings that make no sense, naming each one (see :class:`_StressRules`)."""
        try:
            _StressRules.model_validate(self)
        except ValidationError as exc:
            problems = dict.fromkeys(_problem(self, error["loc"]) for error in exc.errors())
            raise ScenarioError("invalid stress configuration: " + "; ".join(problems)) from None

    @property
    def sigma_rep(self) -> float:
        """Total rep-level log-sd for an unknown rep: sqrt(sigma_e^2 + sigma_idio^2)."""
        return math.hypot(self.sigma_effectiveness, self.sigma_idio)

    def scenario_levels(self) -> tuple[float, ...]:
        """Every company attainment simulated: the grid plus the plan and CCOS levels."""
        levels = {*self.company_attainments, self.plan_attainment, *self.ccos_attainments}
        return tuple(sorted(round(x, 10) for x in levels))


def sigma_from_deals(deals_per_year: npt.ArrayLike, deal_size_cv: npt.ArrayLike) -> FloatArray:
    """Rep-level log-sd implied by deal counts and deal-size dispersion (compound Poisson).

    The CV of annual sales is sqrt((1 + CV_d^2) / deals); the lognormal with that CV has
    sigma = sqrt(ln(1 + CV^2)). 12 deals a year with CV_d = 1 gives about 0.39.

    Parameters
    ----------
    deals_per_year
        Deals each rep closes a year.
    deal_size_cv
        Coefficient of variation of deal size.

    Returns
    -------
    numpy.ndarray
        Rep-level log-sd.
    """
    deals = np.asarray(deals_per_year, dtype=np.float64)
    cv_d = np.asarray(deal_size_cv, dtype=np.float64)
    cv2 = (1.0 + cv_d**2) / deals
    return np.asarray(np.sqrt(np.log1p(cv2)), dtype=np.float64)


def fenton_wilkinson_sigma(
    expected_sales: npt.ArrayLike,
    sigma_account: npt.ArrayLike,
    rep_index: npt.ArrayLike,
    n_reps: int,
) -> FloatArray:
    """Log-sd of each rep's total when its accounts are independent lognormals.

    Matches the mean and variance of the sum (Fenton-Wilkinson): with account means ``m_a`` and
    log-sds ``s_a``, Var = sum m_a^2 (exp(s_a^2) - 1) and sigma_rep^2 = ln(1 + Var / mean^2).
    Reps without accounts get 0.

    Parameters
    ----------
    expected_sales
        Expected sales per account.
    sigma_account
        Log-sd per account.
    rep_index
        The rep (0..n_reps-1) each account belongs to.
    n_reps
        Number of reps.

    Returns
    -------
    numpy.ndarray
        Log-sd per rep.
    """
    m = np.asarray(expected_sales, dtype=np.float64)
    s = np.broadcast_to(np.asarray(sigma_account, dtype=np.float64), m.shape)
    idx = np.asarray(rep_index, dtype=np.int64)
    mean = np.bincount(idx, weights=m, minlength=n_reps)
    var = np.bincount(idx, weights=m**2 * np.expm1(s**2), minlength=n_reps)
    ratio = np.divide(var, mean**2, out=np.zeros(n_reps), where=mean > 0)
    return np.asarray(np.sqrt(np.log1p(ratio)), dtype=np.float64)


def accelerator_slope_for_leverage(attainment_p90: float, leverage: float) -> float:
    """Size the accelerator slope that pays ``leverage`` x TI at the 90th-percentile attainment.

    The slope is in TI multiples per 1.00 attainment above quota: (L - 1) / (A90 - 1).

    Assumes a single accelerator tier from quota up to at least A90.

    Parameters
    ----------
    attainment_p90
        90th-percentile attainment, above 1.
    leverage
        Payout at that attainment, in multiples of TI.

    Returns
    -------
    float
        The slope.

    Raises
    ------
    ScenarioError
        ``attainment_p90`` is not above quota.
    """
    if attainment_p90 <= 1.0:
        raise ScenarioError(
            f"the 90th-percentile attainment is {attainment_p90:.3f}, not above quota, so no "
            "accelerator from quota can reach the target leverage; lower the over-assignment "
            "or the leverage target"
        )
    return (leverage - 1.0) / (attainment_p90 - 1.0)


def _increasing(values: tuple[float, ...]) -> tuple[float, ...]:
    if list(values) != sorted(values):
        raise ValueError("not increasing")
    return values


_Sigma = Annotated[float, Field(ge=0)]


class _StressRules(BaseModel):
    """What a :class:`StressConfig` may hold; fields in the order problems are listed."""

    model_config = ConfigDict(from_attributes=True)

    sigma_company: _Sigma
    sigma_segment: _Sigma
    sigma_effectiveness: _Sigma
    sigma_idio: _Sigma
    n_sims: Annotated[float, Field(ge=1)]
    coverage_factor: Annotated[float, Field(ge=0, le=1)]
    ramp_schedule: Annotated[tuple[Annotated[float, Field(ge=0)], ...], Field(min_length=1)]
    company_attainments: Annotated[tuple[Annotated[float, Field(gt=0)], ...], Field(min_length=1)]
    plan_attainment: Annotated[float, Field(gt=0)]
    attainment_bands: Annotated[tuple[float, ...], AfterValidator(_increasing)]
    max_cells: Annotated[float, Field(ge=1)]
    histogram_log_width: Annotated[float, Field(gt=0)]


# How each broken rule is worded; ``{v}`` is the setting's value.
_WORDING = {
    "n_sims": "n_sims = {v} must be >= 1",
    "coverage_factor": "coverage_factor = {v} must lie in [0, 1]",
    "ramp_schedule": "ramp_schedule needs at least one month and no negative values",
    "company_attainments": "company_attainments must be positive",
    "plan_attainment": "plan_attainment = {v} must be > 0",
    "attainment_bands": "attainment_bands must be increasing",
    "max_cells": "max_cells and histogram_log_width must be positive",
    "histogram_log_width": "max_cells and histogram_log_width must be positive",
}


def _problem(config: StressConfig, loc: tuple[int | str, ...]) -> str:
    name = str(loc[0])
    wording = _WORDING.get(name, f"{name} = {{v}} must be >= 0")
    return wording.format(v=getattr(config, name))
