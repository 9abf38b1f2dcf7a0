"""Synthetic worlds whose sales history comes from a KNOWN response curve (tests and bench).

A world is a real-shaped instance (:func:`territory.domain.synthetic.make_instance`: accounts
clustered
on lat/lon, lognormal potential, an unbalanced inherited alignment, so coverage differs between
reps) whose ``revenue_last_year`` (and optionally ``revenue_prior_year`` with a ``prior_rep``)
is drawn from a hidden truth:

    sales_i = potential_i x segment_level x tier_level x exp(rating_slope x (rating - 0.6))
              x rep_skill_r x curve(capacity_r / workload_r) x (1 - loss if moved) x noise_i

``curve`` is one of several SHAPES (:data:`SHAPES`: an S-shaped ADBUDG, a concave exponential,
a power, a logarithm), ``rep_skill`` a persistent rep effect the model cannot see (log-sd 5%),
``noise`` a mean-1 lognormal per account with 15% zeros (prospects that did not buy).
:func:`true_rep_sales` gives the noise-free expected sales of any plan under the truth, so a
fitted model can be scored on a plan it never saw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.spatial import cKDTree

from territory.domain.synthetic import make_instance

FloatArray = npt.NDArray[np.float64]
Curve = Callable[[FloatArray], FloatArray]


def _adbudg(c: FloatArray) -> FloatArray:
    x = (c / 0.9) ** 2.5
    return np.asarray(0.08 + (0.55 - 0.08) * x / (1.0 + x))


def _exponential(c: FloatArray) -> FloatArray:
    return np.asarray(0.5 * (1.0 - np.exp(-1.3 * c)))


def _power(c: FloatArray) -> FloatArray:
    return np.asarray(0.3 * np.power(c, 0.45))


def _log(c: FloatArray) -> FloatArray:
    return np.asarray(0.25 * np.log1p(2.0 * c))


SHAPES: dict[str, Curve] = {
    "adbudg": _adbudg,
    "exponential": _exponential,
    "power": _power,
    "log": _log,
}
"""True response curves of different shapes: share of potential sold at a coverage."""


@dataclass(frozen=True)
class Truth:
    """The hidden sales mechanism of a world."""

    curve: Curve
    tier_level: dict[str, float] = field(default_factory=lambda: {"A": 1.2, "B": 1.0, "C": 0.8})
    rating_slope: float = 0.6
    segment_level: dict[str, float] = field(
        default_factory=lambda: {"Enterprise": 0.85, "Mid-Market": 1.0, "SMB": 1.1}
    )
    transition_loss: float = 0.15
    account_sd: float = 0.4
    zero_share: float = 0.15
    rep_skill: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class World:
    """Accounts with a drawn history, reps, the truth, and a rebalanced plan to predict."""

    shape: str
    seed: int
    accounts: pd.DataFrame
    reps: pd.DataFrame
    truth: Truth
    rebalanced: npt.NDArray[np.object_]


def true_rep_sales(
    truth: Truth,
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    plan: npt.ArrayLike,
    moved: npt.ArrayLike | None = None,
) -> FloatArray:
    """Noise-free expected sales per rep (reps table order) under the truth."""
    plan_ids = np.asarray(plan, dtype=object).astype(str)
    rep_ids = reps["rep_id"].astype(str).to_numpy()
    pos = pd.Series(np.arange(len(rep_ids)), index=rep_ids).loc[plan_ids].to_numpy()
    workload = np.bincount(pos, weights=accounts["workload"].to_numpy(float), minlength=len(reps))
    capacity = reps["capacity"].to_numpy(float)
    with np.errstate(divide="ignore"):
        coverage = np.where(workload > 0, capacity / np.maximum(workload, 1e-12), np.inf)
    level = truth.curve(np.minimum(coverage, 1e6))
    tier = reps["tier"].astype(str).map(truth.tier_level).to_numpy(float)
    skill = np.array([truth.rep_skill.get(r, 1.0) for r in rep_ids])
    eff = tier * np.exp(truth.rating_slope * (reps["rating"].to_numpy(float) - 0.6)) * skill
    seg = accounts["segment"].astype(str).map(truth.segment_level).to_numpy(float)
    value = accounts["potential"].to_numpy(float) * seg
    if moved is not None:
        value = value * np.where(np.asarray(moved, bool), 1.0 - truth.transition_loss, 1.0)
    return np.asarray(
        np.bincount(pos, weights=value, minlength=len(reps)) * level * eff, dtype=np.float64
    )


def _draw_revenue(
    truth: Truth,
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    plan: npt.NDArray[np.object_],
    rng: np.random.Generator,
    moved: npt.ArrayLike | None = None,
) -> FloatArray:
    """Per-account revenue drawn around the truth's expectation."""
    rep_ids = reps["rep_id"].astype(str).to_numpy()
    pos = pd.Series(np.arange(len(rep_ids)), index=rep_ids).loc[plan.astype(str)].to_numpy()
    per_rep = true_rep_sales(truth, accounts, reps, plan, moved)
    value = accounts["potential"].to_numpy(float) * accounts["segment"].astype(str).map(
        truth.segment_level
    ).to_numpy(float)
    if moved is not None:
        value = value * np.where(np.asarray(moved, bool), 1.0 - truth.transition_loss, 1.0)
    share = value / np.bincount(pos, weights=value, minlength=len(reps))[pos]
    expected = per_rep[pos] * share
    sd = truth.account_sd
    noise = np.exp(rng.normal(-0.5 * sd**2, sd, len(accounts)))
    buys = rng.random(len(accounts)) >= truth.zero_share
    return np.asarray(np.round(expected * noise * buys / (1.0 - truth.zero_share), 2))


def rebalanced_plan(
    accounts: pd.DataFrame, reps: pd.DataFrame, plan: npt.ArrayLike, tol: float = 0.05
) -> npt.NDArray[np.object_]:
    """Move border accounts until every rep's utilisation is within ``tol`` of the mean.

    A stand-in for a realignment: in turn, the rep furthest from the mean utilisation (above
    or below) gives away (or takes) the account with the smallest detour, to (or from) a rep
    among that account's five nearest on the other side of the mean.
    """
    rep_ids = reps["rep_id"].astype(str).to_numpy()
    index = {r: i for i, r in enumerate(rep_ids)}
    pos = np.array([index[str(p)] for p in np.asarray(plan, dtype=object)])
    hours = accounts["workload"].to_numpy(float)
    capacity = reps["capacity"].to_numpy(float)
    a_xy = np.column_stack([accounts["lat"].to_numpy(float), accounts["lon"].to_numpy(float)])
    r_xy = np.column_stack([reps["lat"].to_numpy(float), reps["lon"].to_numpy(float)])
    k = min(5, len(reps))
    dist, near = cKDTree(r_xy).query(a_xy, k=k)
    own = np.linalg.norm(a_xy - r_xy[pos], axis=1)
    load = np.bincount(pos, weights=hours, minlength=len(reps))
    mean_util = load.sum() / capacity.sum()
    stuck: set[int] = set()
    for _ in range(len(accounts)):
        gap = load / capacity / mean_util - 1.0
        gap[list(stuck)] = 0.0
        worst = int(np.argmax(np.abs(gap)))
        if abs(gap[worst]) <= tol:
            break
        if gap[worst] > 0:  # give the cheapest border account to a lighter neighbour
            mine = np.flatnonzero(pos == worst)
            ok = (load[near[mine]] / capacity[near[mine]] < mean_util) & (near[mine] != worst)
            detour = np.where(ok, dist[mine] - own[mine, None], np.inf)
        else:  # take the cheapest border account from a heavier neighbour
            mine = np.flatnonzero((near == worst).any(axis=1) & (pos != worst))
            giver = pos[mine]
            ok = load[giver] / capacity[giver] > mean_util
            j_of = np.argmax(near[mine] == worst, axis=1)
            detour = np.where(ok, dist[mine, j_of] - own[mine], np.inf)[:, None]
        if detour.size == 0 or not np.isfinite(detour.min()):
            stuck.add(worst)
            continue
        flat = int(np.argmin(detour))
        i, j = divmod(flat, detour.shape[1])
        account = mine[i]
        if gap[worst] > 0:
            target, new_dist = int(near[account, j]), dist[account, j]
        else:
            jj = int(np.argmax(near[account] == worst))
            target, new_dist = worst, dist[account, jj]
        load[pos[account]] -= hours[account]
        load[target] += hours[account]
        pos[account] = target
        own[account] = new_dist
    return np.asarray(rep_ids[pos], dtype=object)


def make_world(
    shape: str,
    seed: int,
    *,
    n_accounts: int = 2000,
    n_reps: int = 40,
    prior_year: bool = False,
    prior_moves: float = 0.0,
    rep_skill_sd: float = 0.05,
) -> World:
    """A world whose history comes from the ``shape`` curve of :data:`SHAPES`.

    ``prior_year`` adds ``revenue_prior_year``; with ``prior_moves`` > 0 that share of accounts
    had another rep (``prior_rep``) the year before, so last year's revenue of those accounts
    carries the transition loss.
    """
    rng = np.random.default_rng(seed + 1000)
    accounts, reps = make_instance(n_accounts, n_reps, seed=seed)
    skill = np.exp(rng.normal(0.0, rep_skill_sd, n_reps))
    truth = Truth(SHAPES[shape], rep_skill=dict(zip(reps["rep_id"], skill, strict=True)))
    current = accounts["current_rep"].to_numpy(dtype=object)
    accounts = accounts.copy()
    moved = None
    if prior_year:
        prior = current.copy()
        if prior_moves > 0:
            rep_ids = reps["rep_id"].to_numpy(dtype=object)
            switch = rng.random(n_accounts) < prior_moves
            prior[switch] = rep_ids[rng.integers(0, n_reps, int(switch.sum()))]
            moved = prior != current
            accounts["prior_rep"] = prior
        accounts["revenue_prior_year"] = _draw_revenue(truth, accounts, reps, prior, rng)
    accounts["revenue_last_year"] = _draw_revenue(truth, accounts, reps, current, rng, moved)
    rebalanced = rebalanced_plan(accounts, reps, current)
    return World(shape, seed, accounts, reps, truth, rebalanced)


def _bisect(xy: FloatArray, weight: FloatArray, parts: int) -> npt.NDArray[np.int64]:
    """Recursive coordinate bisection into ``parts`` groups of (nearly) equal weight."""
    out = np.zeros(len(xy), dtype=np.int64)

    def split(rows: npt.NDArray[np.int64], n: int, first: int) -> None:
        if n == 1 or rows.size <= 1:
            out[rows] = first
            return
        left = n // 2
        spans = xy[rows].max(axis=0) - xy[rows].min(axis=0)
        axis = int(np.argmax(spans))
        order = rows[np.argsort(xy[rows, axis], kind="stable")]
        cum = np.cumsum(weight[order])
        cut = int(np.searchsorted(cum, cum[-1] * left / n)) + 1
        cut = min(max(cut, 1), order.size - 1)
        split(order[:cut], left, first)
        split(order[cut:], n - left, first + left)

    split(np.arange(len(xy)), parts, 0)
    return out


def balanced_team(
    accounts: pd.DataFrame, n: int, capacity: float, rating: float = 0.6
) -> tuple[pd.DataFrame, npt.NDArray[np.object_]]:
    """A team of ``n`` tier-B reps with equal workload each (a stand-in for the design engine)."""
    xy = np.column_stack([accounts["lat"].to_numpy(float), accounts["lon"].to_numpy(float)])
    group = _bisect(xy, accounts["workload"].to_numpy(float), n)
    ids = np.array([f"S{i:04d}" for i in range(n)], dtype=object)
    lat = np.bincount(group, weights=xy[:, 0], minlength=n) / np.bincount(group, minlength=n)
    lon = np.bincount(group, weights=xy[:, 1], minlength=n) / np.bincount(group, minlength=n)
    reps = pd.DataFrame(
        {
            "rep_id": ids,
            "lat": lat,
            "lon": lon,
            "capacity": capacity,
            "tier": "B",
            "rating": rating,
        }
    )
    return reps, ids[group]
