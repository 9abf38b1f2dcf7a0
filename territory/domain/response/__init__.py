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
  default is the share of revenue at risk in :mod:`territory.domain.transitions`
  (:data:`~territory.domain.transitions.DEFAULT_RISK_RATE`); it is fitted instead when the accounts
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

from territory.domain.arrays import PlanLike as PlanLike  # not in __all__, as before
from territory.domain.response.digest import history_digest
from territory.domain.response.document import from_json, to_json
from territory.domain.response.estimate import fit_response, literature_model
from territory.domain.response.model import (
    FORMAT,
    LITERATURE_ELASTICITY,
    LITERATURE_RAMP,
    MIN_COVERAGE_SPREAD,
    MIN_REPS,
    PRIOR_HALF_SD,
    PRIOR_SHAPE_SD,
    FitQuality,
    Loading,
    RampCurve,
    ResponseCurve,
    ResponseModel,
    plan_array,
    rep_loading,
)
from territory.domain.response.predict import (
    RepSales,
    account_expected_sales,
    pair_expected_sales,
    rep_effectiveness,
    rep_expected_sales,
)

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
    "history_digest",
    "from_json",
    "pair_expected_sales",
    "plan_array",
    "literature_model",
    "rep_effectiveness",
    "rep_expected_sales",
    "rep_loading",
    "to_json",
]
