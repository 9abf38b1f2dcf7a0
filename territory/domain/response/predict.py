"""Prediction: what each account and each rep is expected to sell under a plan.

Codes accounts and reps for vectorised evaluation of a :class:`ResponseModel` at its point
estimate and every bootstrap draw: :func:`account_expected_sales` per account,
:func:`rep_expected_sales` (:class:`RepSales`) per rep through rep x segment totals, and
:func:`rep_effectiveness`, the tier x rating multiplier of every rep.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict, Unpack

import numpy as np
import numpy.typing as npt
import pandas as pd

from territory.domain.arrays import FloatArray, IntArray, PlanLike
from territory.domain.response.model import (
    Loading,
    ResponseModel,
    _hill_response,
    _numbers,
    _segments,
    _tiers,
    rep_loading,
)


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
    potential = _numbers(accounts, "potential", "accounts")
    # In _Design's field order: per account (rep, potential, segment, moved), then per rep.
    accounts_part = (loading.position, potential, segment_code, moved)
    reps_part = (tier_code, rating, productivity, loading.coverage)
    return _Design(*accounts_part, *reps_part), notes


class PlanOptions(TypedDict, total=False):
    """What shapes a plan's expected sales beyond who holds which account."""

    moved: npt.ArrayLike | None
    """Accounts changing hands (they lose the transition loss); none when omitted."""
    productivity: npt.ArrayLike | None
    """Share of a productive year per rep, in the reps table's order (1 when omitted)."""
    with_draws: bool
    """Also evaluate every bootstrap draw (rows after the point estimate)."""


def _prepared(
    model: ResponseModel,
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    plan: PlanLike,
    options: PlanOptions,
) -> tuple[_Design, Loading, list[str], FloatArray]:
    """Return the plan's design matrix, loading, notes and the parameter rows to evaluate."""
    loading = rep_loading(accounts, reps, plan)
    moved, productivity = options.get("moved"), options.get("productivity")
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
    params = model.parameter_matrix(options.get("with_draws", False))
    return design, loading, notes, params


def account_expected_sales(
    model: ResponseModel,
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    plan: PlanLike,
    **options: Unpack[PlanOptions],
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
    **options
        ``moved`` (they lose :attr:`ResponseModel.transition_loss`), ``productivity`` and
        ``with_draws``: see :class:`PlanOptions`.

    Returns
    -------
    sales : numpy.ndarray
        Shape (1 + draws, accounts): row 0 at the point estimate.
    loading : Loading
        The reps' coverage and utilisation under the plan.
    notes : list of str
        Warnings (tiers or segments the fit never saw).
    """
    design, loading, notes, params = _prepared(model, accounts, reps, plan, options)
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
    **options: Unpack[PlanOptions],
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
    **options
        As for :func:`account_expected_sales`.

    Returns
    -------
    RepSales
        Sales per (parameter row, rep) with the loading and the per-rep noise weights.
    """
    design, loading, notes, params = _prepared(model, accounts, reps, plan, options)
    n_reps = len(reps)
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


def pair_expected_sales(
    model: ResponseModel,
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    plan: PlanLike,
    account: IntArray,
    rep: IntArray,
    moved: npt.ArrayLike,
) -> FloatArray:
    """Value account ``account[k]`` held by rep ``rep[k]``, every rep's coverage as in ``plan``.

    The linearisation an objective needs: every rep keeps the coverage ``plan`` gives it
    (moving one account changes its loads by little), so a pair's sales are the account's
    potential x segment level x (1 - transition loss if ``moved[k]``) x the rep's
    effectiveness x response at that coverage. At the point estimate, reps fully ramped.

    Parameters
    ----------
    model : ResponseModel
        The fitted model.
    accounts, reps : pandas.DataFrame
        As for :func:`account_expected_sales`.
    plan : array-like, pandas.Series or pandas.DataFrame
        The plan whose coverage the pairs are valued at.
    account, rep : numpy.ndarray
        Positions into ``accounts`` and ``reps``, one pair per entry.
    moved : array-like of bool
        Per pair, whether the account would change hands from today's rep.

    Returns
    -------
    numpy.ndarray
        Expected sales per pair (currency/year).
    """
    design, _, _, params = _prepared(model, accounts, reps, plan, {})
    row = params[:1]
    per_rep = (_rep_factors(model.names, row, design) * _rep_response(model.names, row, design))[0]
    seg_keys, seg_cols = _columns(model.names, "segment:")
    level = _multiplier(row, seg_cols, design.segment)[0] if seg_keys else np.ones(len(accounts))
    loss = float(row[0, model.names.index("transition_loss")])
    keep = np.where(np.asarray(moved, dtype=bool), 1.0 - loss, 1.0)
    return np.asarray(design.potential[account] * level[account] * keep * per_rep[rep], np.float64)
