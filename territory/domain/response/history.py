"""The data a fit sees: last year's (and the prior year's) revenue coded as cells.

Sums revenue per rep x segment x year with the potential, Herfindahl index and coverage
that predict it, chooses the reference tier and segment and the parameters the data can
support, and refuses (:class:`_CannotFitError`) when the data cannot identify the curve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from territory.domain.arrays import FloatArray, IntArray, ObjectArray
from territory.domain.response.model import (
    MIN_COVERAGE_SPREAD,
    MIN_MOVED_ACCOUNTS,
    MIN_REPS,
    _numbers,
    _problem,
    _rep_positions,
    _revenue,
    _segments,
    _tiers,
)
from territory.domain.response.predict import _code
from territory.domain.transitions import DEFAULT_RISK_RATE
from territory.errors import InputProblem


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
