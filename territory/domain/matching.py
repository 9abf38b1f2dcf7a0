"""Rep matching for design mode: put reps on freshly designed territories (issue 6).

Once the territories exist, who gets which one is a bipartite assignment problem. Every
(rep, territory) pair gets a score, in dimensionless "points"::

    score[r, t] = w_talent     * talent[r] * potential[t] / mean potential
                + w_continuity * continuity_share[r, t]
                - w_travel     * travel_km[r, t] / travel_scale_km

and we maximise the total score with each territory taking at most one rep and each rep at most
one territory, using exactly ``min(k, R)`` pairs (every territory is filled when reps suffice;
otherwise every rep is placed and the optimiser chooses which territories stay vacant). Pairs
beyond the travel limit are forbidden outright. ``scipy.optimize.linear_sum_assignment`` solves
this exactly, so the reported objective is proven optimal (bound = objective).

Why these terms:

* talent x potential: by the rearrangement inequality, maximising the sum of products puts the
  best reps on the territories with the most potential ("A-players to the biggest books").
  Talent is the rep's ``rating`` (0-1); when it is missing we use the tier (A=1.0, B=0.6,
  C=0.3), the same ladder the alignment engine uses for tier targets.
* continuity: the share of the territory's current book (revenue or potential, from the
  ``continuity`` table) the rep already holds there; customers keep their rep when it is cheap.
* travel: ``travel_km`` is the potential-weighted mean distance from the rep's home to the
  territory's units when a ``units`` table is given (where the rep actually drives), otherwise
  the distance to the territory centre.

Capacity: a territory's workload (hours/year) against the matched rep's ``capacity`` is its
*load*. ``max_load`` (e.g. 1.1) forbids pairs whose load would exceed it, so nobody is handed a
book they cannot work; without it the load is only reported (``load`` column) and
:func:`suggest_k` says how many equal territories the reps could carry.

The travel *limit* reads like a sales-ops rule: ``travel_measure="centre"`` bounds the distance
from home to the territory centre; ``"farthest"`` bounds the distance to the farthest unit of the
territory ("no rep drives more than X km to the farthest part of their territory", needs
``units``). When the limit makes a full matching impossible we say why (Hall's theorem: a set of
territories whose reachable reps are fewer than they are) and compute the smallest limit that
would allow one (the bottleneck assignment value).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

from territory.domain.arrays import BoolArray, FloatArray
from territory.domain.geo import haversine_km
from territory.errors import (
    DataValidationError,
    InfeasibilityReason,
    InfeasibleError,
    InputProblem,
    SolveError,
)

TravelMeasure = Literal["centre", "farthest"]

TIER_TALENT: dict[str, float] = {"A": 1.0, "B": 0.6, "C": 0.3}
"""Talent used when a rep has no rating: A-players count fully, C-players a bit under a third."""

_TOL = 1e-9


@dataclass(frozen=True)
class MatchWeights:
    """Weights of the three score terms (all >= 0).

    ``talent``: points per unit of talent (0-1) times territory potential / mean potential.
    ``continuity``: points for owning the whole current book of a territory (share 1.0).
    ``travel``: points lost per ``travel_scale_km`` of travel from the rep's home.
    The defaults make owning a whole territory's book worth half an average-potential
    territory for an A-player, and 100 km of travel worth a fifth of it.
    """

    talent: float = 1.0
    continuity: float = 0.5
    travel: float = 0.2
    travel_scale_km: float = 100.0

    def __post_init__(self) -> None:
        """Refuse weights the score cannot use: negative, not finite, or a travel scale <= 0."""
        for name in ("talent", "continuity", "travel"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"weight {name} must be a finite number >= 0, got {value}")
        if not np.isfinite(self.travel_scale_km) or self.travel_scale_km <= 0:
            raise ValueError(f"travel_scale_km must be > 0, got {self.travel_scale_km}")


@dataclass(frozen=True)
class RepMatching:
    """Who covers which territory, and why that is the best choice.

    ``table`` has one row per territory, sorted by ``territory_id``: ``rep_id`` (``None`` when
    vacant), ``tier``, ``rating``, ``talent``, ``potential``, ``km_to_centre``,
    ``km_to_farthest`` (NaN without units), ``travel_km`` (the distance the travel term
    charges), ``continuity_share`` and ``score`` (0 for vacant rows).
    ``objective = talent_score + continuity_score - travel_cost`` = the sum of ``score``;
    ``bound`` equals it because the assignment is solved exactly.
    ``travel_reasons`` explains territories left vacant by the travel limit when
    ``allow_vacant=True`` (empty otherwise), and ``min_travel_km`` is then the smallest limit
    that would fill them.
    """

    table: pd.DataFrame
    vacant: tuple[str, ...]
    unassigned_reps: tuple[str, ...]
    objective: float
    talent_score: float
    continuity_score: float
    travel_cost: float
    bound: float
    status: str
    weights: MatchWeights
    max_travel_km: float | None
    travel_measure: TravelMeasure
    travel_reasons: tuple[InfeasibilityReason, ...] = field(default=())
    min_travel_km: float | None = None
    max_load: float | None = None

    @property
    def assignment(self) -> dict[str, str]:
        """territory_id -> rep_id for the filled territories."""
        filled = self.table[self.table["rep_id"].notna()]
        return dict(zip(filled["territory_id"], filled["rep_id"], strict=True))


class CapacityLimitError(InfeasibleError):
    """No full matching keeps every territory's workload within ``max_load`` x rep capacity.

    ``suggested_k`` is the number of equal territories the reps could carry (None when even
    one territory per rep would overload them: more reps are needed).
    """

    def __init__(
        self, reasons: list[InfeasibilityReason], suggested_k: int | None, hint: str = ""
    ) -> None:
        super().__init__(reasons, hint)
        self.suggested_k = suggested_k


class TravelLimitError(InfeasibleError):
    """The travel limit leaves too few reachable (rep, territory) pairs for a full matching.

    ``min_travel_km`` is the smallest limit (same measure) at which a full matching exists;
    ``max_matched`` how many territories can be filled under the current limit.
    """

    def __init__(
        self,
        reasons: list[InfeasibilityReason],
        min_travel_km: float,
        max_matched: int,
        hint: str = "",
    ) -> None:
        super().__init__(reasons, hint)
        self.min_travel_km = min_travel_km
        self.max_matched = max_matched


@dataclass(frozen=True)
class _Inputs:
    territory_ids: list[str]
    rep_ids: list[str]
    potential: FloatArray
    talent: FloatArray
    tier: list[object]
    rating: FloatArray
    km_centre: FloatArray  # reps x territories
    km_farthest: FloatArray  # reps x territories, NaN without units
    travel_km: FloatArray  # reps x territories
    share: FloatArray  # reps x territories
    workload: FloatArray  # per territory, NaN without a workload column
    capacity: FloatArray  # per rep, NaN without a capacity column

    @property
    def load(self) -> FloatArray:
        """Territory workload / rep capacity, reps x territories (NaN where unknown)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            cap = np.where(self.capacity > 0, self.capacity, np.nan)
            return np.asarray(self.workload[None, :] / cap[:, None], dtype=np.float64)


def match_reps(
    territories: pd.DataFrame,
    reps: pd.DataFrame,
    *,
    units: pd.DataFrame | None = None,
    continuity: pd.DataFrame | None = None,
    weights: MatchWeights | None = None,
    max_travel_km: float | None = None,
    travel_measure: TravelMeasure = "centre",
    allow_vacant: bool = False,
    max_load: float | None = None,
) -> RepMatching:
    """Assign reps to territories maximising the score; exact (Hungarian algorithm).

    ``territories``: territory_id, potential, centre_lat, centre_lon (workload is carried along
    if present but not scored: balance is the districting's job).
    ``reps``: rep_id, lat, lon (home base) and rating and/or tier.
    ``units``: optional territory_id, lat, lon, potential of the units/accounts in each
    territory; enables ``travel_measure="farthest"`` and the potential-weighted travel term.
    ``continuity``: optional territory_id, rep_id and ``revenue`` (or ``potential``) currently
    held by that rep inside that territory.
    ``max_travel_km``: pairs whose travel measure exceeds it are forbidden.
    ``allow_vacant``: when the limit prevents a full matching, leave territories vacant (and
    reps unassigned) instead of raising :class:`TravelLimitError`; the matching then fills as
    many territories as possible and, among those, maximises the score.
    ``max_load``: largest territory workload / rep ``capacity`` a pair may have (1.0 = exactly
    at capacity); needs ``workload`` on the territories and ``capacity`` on the reps. When it
    prevents a full matching, :class:`CapacityLimitError` names the territories nobody can
    carry and the ``k`` that would fit (or vacancies, with ``allow_vacant``).
    """
    w = weights if weights is not None else MatchWeights()
    if travel_measure not in ("centre", "farthest"):
        raise ValueError(f"travel_measure must be 'centre' or 'farthest', got {travel_measure!r}")
    if travel_measure == "farthest" and units is None:
        raise ValueError("travel_measure='farthest' needs the units table (territory_id, lat, lon)")
    if max_travel_km is not None and not max_travel_km >= 0:
        raise ValueError(f"max_travel_km must be >= 0, got {max_travel_km}")
    if max_load is not None and not max_load > 0:
        raise ValueError(f"max_load must be > 0, got {max_load}")

    data = _prepare(territories, reps, units, continuity, need_load=max_load is not None)
    k, n_reps = len(data.territory_ids), len(data.rep_ids)
    mean_potential = float(data.potential.mean()) if k else 0.0
    if mean_potential <= 0:
        mean_potential = 1.0  # all territories worthless: talent cannot tell them apart anyway
    talent_term = w.talent * np.outer(data.talent, data.potential) / mean_potential
    continuity_term = w.continuity * data.share
    travel_term = w.travel * data.travel_km / w.travel_scale_km
    score = talent_term + continuity_term - travel_term

    limit_km = data.km_farthest if travel_measure == "farthest" else data.km_centre
    allowed: BoolArray = (
        np.ones((n_reps, k), dtype=bool)
        if max_travel_km is None
        else limit_km <= max_travel_km * (1 + _TOL) + _TOL
    )
    need = min(k, n_reps)
    reasons: list[InfeasibilityReason] = []
    min_km: float | None = None
    if max_load is not None:
        fits = data.load <= max_load * (1 + _TOL)
        allowed &= fits
        if _max_matching_size(fits) < need:
            reasons = _explain_load(data, fits, max_load)
            if not allow_vacant:
                suggested = suggest_k(float(data.workload.sum()), data.capacity, max_load)
                raise CapacityLimitError(reasons, suggested, hint=_load_hint(data, suggested))
    matched_max = _max_matching_size(allowed)
    if matched_max < need and not reasons:
        assert max_travel_km is not None  # without a limit every pair is allowed
        min_km = _bottleneck(limit_km, need)
        reasons = _explain(data, allowed, limit_km, max_travel_km, travel_measure, min_km)
        if not allow_vacant:
            raise TravelLimitError(
                reasons,
                min_travel_km=min_km,
                max_matched=matched_max,
                hint=(
                    f"At most {matched_max} of the {need} required matches fit within "
                    f"{max_travel_km:,.1f} km ({_measure_words(travel_measure)}). The smallest "
                    f"limit that allows a full matching is {min_km:,.1f} km; raise the limit "
                    "or pass allow_vacant=True to leave territories vacant."
                ),
            )
    if matched_max < need:
        rows, cols = _solve_padded(score, allowed, matched_max)
    else:
        rows, cols = _solve(score, allowed)
    if not bool(allowed[rows, cols].all()):
        raise SolveError("the assignment used a pair beyond the travel limit; please report this")
    if len(rows) != min(matched_max, need):
        raise SolveError(
            f"the assignment filled {len(rows)} territories, expected {min(matched_max, need)}"
        )
    return _result(
        data,
        rows,
        cols,
        talent_term,
        continuity_term,
        travel_term,
        w,
        max_travel_km,
        travel_measure,
        reasons,
        min_km,
        max_load,
    )


def suggest_k(total_workload: float, capacity: FloatArray, max_load: float = 1.0) -> int | None:
    """Fewest equal territories that as many reps can carry within ``max_load`` x capacity.

    Equal shares of ``total_workload`` over ``k`` territories need ``k`` reps whose capacity
    (times ``max_load``) holds a share: the smallest ``k`` with the ``k``-th largest capacity
    x ``max_load`` >= total / k. None when no ``k`` up to the number of reps works (the team
    is too small for the work; more reps are needed).

    Parameters
    ----------
    total_workload
        Hours per year over all territories.
    capacity
        Hours per year each rep can work (NaN and values <= 0 are left out).
    max_load
        Largest workload / capacity accepted (1.0: at capacity).

    Returns
    -------
    int or None
        The smallest workable ``k``, or None.
    """
    cap = np.sort(np.asarray(capacity, dtype=np.float64)[np.asarray(capacity) > 0])[::-1]
    for k in range(1, cap.size + 1):
        if cap[k - 1] * max_load * (1 + _TOL) >= total_workload / k:
            return k
    return None


def _explain_load(data: _Inputs, fits: BoolArray, max_load: float) -> list[InfeasibilityReason]:
    """Territories no rep can carry, with their workload against the largest capacity."""
    reasons = []
    biggest = float(np.nanmax(data.capacity)) if np.isfinite(data.capacity).any() else 0.0
    for t in np.flatnonzero(~fits.any(axis=0)).tolist():
        hours = float(data.workload[t])
        reasons.append(
            InfeasibilityReason(
                constraint="capacity",
                subject=f"territory {data.territory_ids[t]}",
                message=(
                    f"territory {data.territory_ids[t]} carries {hours:,.0f} h of workload a "
                    f"year, {hours / max(biggest, 1e-9):.2f}x the largest rep capacity "
                    f"({biggest:,.0f} h); at most {max_load:.2f}x is allowed"
                ),
                excess=hours - biggest * max_load,
            )
        )
    if not reasons:
        reasons.append(
            InfeasibilityReason(
                constraint="capacity",
                subject="matching",
                message=(
                    f"too few reps can carry the territories' workload within {max_load:.2f}x "
                    "their capacity for every territory to get one"
                ),
            )
        )
    return reasons


def _load_hint(data: _Inputs, suggested: int | None) -> str:
    """Say what to change: the k the reps could carry, or that the team is too small."""
    total = float(data.workload.sum())
    capacity = float(np.nansum(np.clip(data.capacity, 0.0, None)))
    if suggested is None:
        return (
            f"The territories hold {total:,.0f} h of workload a year and the "
            f"{len(data.rep_ids)} reps {capacity:,.0f} h: add reps, raise --max-load, or "
            "leave territories vacant (--allow-vacant)."
        )
    return (
        f"The territories hold {total:,.0f} h of workload a year; {suggested} equal "
        f"territories ({total / suggested:,.0f} h each) fit the reps' capacities: design "
        f"with --k {suggested}, raise --max-load, or leave territories vacant (--allow-vacant)."
    )


def _solve(score: FloatArray, allowed: BoolArray) -> tuple[npt.NDArray[np.intp], ...]:
    """Exact rectangular assignment; forbidden pairs are +inf cost, never a finite big-M."""
    cost = np.where(allowed, -score, np.inf)
    rows, cols = linear_sum_assignment(cost)
    return rows, cols


def _solve_padded(
    score: FloatArray, allowed: BoolArray, matched_max: int
) -> tuple[npt.NDArray[np.intp], ...]:
    """Most matches first, then the best score: square LSA with priced "leave empty" options.

    Rows are reps then one dummy per territory, columns territories then one dummy per rep.
    Each empty slot (vacant territory or idle rep) costs ``penalty``, larger than any score a
    smaller matching could gain, so the optimiser only leaves a slot empty when the travel limit
    forces it; the caller checks the match count against the maximum matching.
    """
    n_reps, k = score.shape
    spread = float(np.abs(score[allowed]).max()) if allowed.any() else 0.0
    penalty = 1.0 + 2.0 * (matched_max + 1) * spread
    n = n_reps + k
    cost = np.zeros((n, n))
    cost[:n_reps, :k] = np.where(allowed, -score, np.inf)
    cost[:n_reps, k:] = np.where(np.eye(n_reps, dtype=bool), penalty, np.inf)
    cost[n_reps:, :k] = np.where(np.eye(k, dtype=bool), penalty, np.inf)
    rows, cols = linear_sum_assignment(cost)
    real = (rows < n_reps) & (cols < k)
    return rows[real], cols[real]


def _max_matching_size(allowed: BoolArray) -> int:
    """Size of a maximum matching in the reachability graph (Hopcroft-Karp)."""
    if allowed.size == 0:
        return 0
    match = maximum_bipartite_matching(csr_matrix(allowed.astype(np.int8)), perm_type="column")
    return int((match >= 0).sum())


def _bottleneck(distance: FloatArray, need: int) -> float:
    """Smallest limit L such that pairs with distance <= L admit ``need`` matches.

    Binary search over the sorted distinct distances; feasibility is monotone in L.
    """
    values = np.unique(distance)
    lo, hi = 0, len(values) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if _max_matching_size(distance <= values[mid]) >= need:
            hi = mid
        else:
            lo = mid + 1
    return float(values[lo])


def _measure_words(measure: TravelMeasure) -> str:
    return "home to the farthest unit" if measure == "farthest" else "home to the territory centre"


def _explain(
    data: _Inputs,
    allowed: BoolArray,
    distance: FloatArray,
    limit: float,
    measure: TravelMeasure,
    min_km: float,
) -> list[InfeasibilityReason]:
    """Business-readable reasons: unreachable territories, idle reps, and a Hall violator set."""
    reasons: list[InfeasibilityReason] = []
    words = _measure_words(measure)
    n_reps, k = allowed.shape
    # Territories must all be filled only when reps suffice; reps must all be placed otherwise.
    must_fill = np.flatnonzero(~allowed.any(axis=0)) if k <= n_reps else np.array([], int)
    for t in must_fill.tolist():
        r = int(np.argmin(distance[:, t]))
        tid, rid, km = data.territory_ids[t], data.rep_ids[r], float(distance[r, t])
        reasons.append(
            _travel_reason(
                f"territory {tid}",
                f"no rep lives within {limit:,.1f} km of territory {tid} ({words}); the "
                f"nearest is rep {rid} at {km:,.1f} km, {km - limit:,.1f} km over the limit",
                km - limit,
            )
        )
    if n_reps <= k:
        for r in np.flatnonzero(~allowed.any(axis=1)).tolist():
            t = int(np.argmin(distance[r, :]))
            tid, rid, km = data.territory_ids[t], data.rep_ids[r], float(distance[r, t])
            reasons.append(
                _travel_reason(
                    f"rep {rid}",
                    f"rep {rid} reaches no territory within {limit:,.1f} km ({words}); the "
                    f"nearest is territory {tid} at {km:,.1f} km, {km - limit:,.1f} km over",
                    km - limit,
                )
            )
    hall = _hall_violator(allowed, territories_side=k <= n_reps)
    if hall is not None:
        side, others = hall
        if k <= n_reps:
            names = [data.territory_ids[i] for i in side]
            reach = [data.rep_ids[i] for i in others]
            message = (
                f"territories {', '.join(names)} can only be reached within {limit:,.1f} km by "
                f"{len(reach)} rep(s) ({', '.join(reach) or 'none'}), fewer than the "
                f"{len(names)} they need"
            )
        else:
            names = [data.rep_ids[i] for i in side]
            reach = [data.territory_ids[i] for i in others]
            message = (
                f"reps {', '.join(names)} can only reach {len(reach)} territory(ies) within "
                f"{limit:,.1f} km ({', '.join(reach) or 'none'}), fewer than the {len(names)} "
                "reps to place"
            )
        reasons.append(
            _travel_reason(
                "matching",
                f"{message}; a full matching needs a limit of at least {min_km:,.1f} km",
                min_km - limit,
            )
        )
    return reasons


def _travel_reason(subject: str, message: str, excess: float) -> InfeasibilityReason:
    """Build a travel-limit reason: who, in words, and by how many km the limit falls short."""
    return InfeasibilityReason(
        constraint="travel_limit", subject=subject, message=message, excess=excess
    )


def _hall_violator(
    allowed: BoolArray, territories_side: bool
) -> tuple[list[int], list[int]] | None:
    """Find a set S on the side that must be saturated with |N(S)| < |S| (Hall's theorem).

    From a maximum matching, S is everything reachable from the unsaturated vertices by
    alternating paths; N(S) is then exactly the opposite vertices met on the way, all matched
    into S, so |N(S)| = |S| - (number of unsaturated vertices).
    """
    adj = allowed.T if territories_side else allowed  # rows: side to saturate
    n_side, n_other = adj.shape
    if n_side == 0:
        return None
    # match[j] = row matched to column j (or -1)
    match_col = maximum_bipartite_matching(csr_matrix(adj.astype(np.int8)), perm_type="row")
    matched_row = np.full(n_side, -1)
    for j, i in enumerate(match_col.tolist()):
        if i >= 0:
            matched_row[i] = j
    start = [i for i in range(n_side) if matched_row[i] < 0]
    if not start:
        return None
    seen_side, seen_other = set(start), set()
    queue = list(start)
    while queue:
        i = queue.pop()
        for j in np.flatnonzero(adj[i]).tolist():
            if j in seen_other:
                continue
            seen_other.add(j)
            partner = int(match_col[j])
            if partner >= 0 and partner not in seen_side:
                seen_side.add(partner)
                queue.append(partner)
    return sorted(seen_side), sorted(seen_other)


def _result(
    data: _Inputs,
    rows: Sequence[int] | npt.NDArray[np.intp],
    cols: Sequence[int] | npt.NDArray[np.intp],
    talent_term: FloatArray,
    continuity_term: FloatArray,
    travel_term: FloatArray,
    w: MatchWeights,
    max_travel_km: float | None,
    measure: TravelMeasure,
    reasons: list[InfeasibilityReason],
    min_km: float | None,
    max_load: float | None = None,
) -> RepMatching:
    k, n_reps = len(data.territory_ids), len(data.rep_ids)
    load = data.load
    rep_of = np.full(k, -1)
    rep_of[np.asarray(cols, dtype=np.intp)] = np.asarray(rows, dtype=np.intp)
    records: list[dict[str, object]] = []
    for t, tid in enumerate(data.territory_ids):
        r = int(rep_of[t])
        if r < 0:
            records.append(
                {
                    "territory_id": tid,
                    "rep_id": None,
                    "tier": None,
                    "rating": np.nan,
                    "talent": np.nan,
                    "potential": float(data.potential[t]),
                    "km_to_centre": np.nan,
                    "km_to_farthest": np.nan,
                    "travel_km": np.nan,
                    "continuity_share": np.nan,
                    "score": 0.0,
                    "workload": float(data.workload[t]),
                    "capacity": np.nan,
                    "load": np.nan,
                }
            )
            continue
        records.append(
            {
                "territory_id": tid,
                "rep_id": data.rep_ids[r],
                "tier": data.tier[r],
                "rating": float(data.rating[r]),
                "talent": float(data.talent[r]),
                "potential": float(data.potential[t]),
                "km_to_centre": float(data.km_centre[r, t]),
                "km_to_farthest": float(data.km_farthest[r, t]),
                "travel_km": float(data.travel_km[r, t]),
                "continuity_share": float(data.share[r, t]),
                "score": float(talent_term[r, t] + continuity_term[r, t] - travel_term[r, t]),
                "workload": float(data.workload[t]),
                "capacity": float(data.capacity[r]),
                "load": float(load[r, t]),
            }
        )
    table = pd.DataFrame.from_records(records)
    for column in ("rep_id", "tier"):  # keep None for vacant rows (pandas 3 would make it NaN)
        if records:
            table[column] = pd.Series([rec[column] for rec in records], dtype=object)
    if table.empty:
        table = pd.DataFrame(columns=["territory_id", "rep_id", "score"])
    r_idx, t_idx = np.asarray(rows, dtype=np.intp), np.asarray(cols, dtype=np.intp)
    talent = float(talent_term[r_idx, t_idx].sum())
    cont = float(continuity_term[r_idx, t_idx].sum())
    travel = float(travel_term[r_idx, t_idx].sum())
    objective = talent + cont - travel
    placed = set(r_idx.tolist())
    return RepMatching(
        table=table,
        vacant=tuple(data.territory_ids[t] for t in range(k) if rep_of[t] < 0),
        unassigned_reps=tuple(data.rep_ids[r] for r in range(n_reps) if r not in placed),
        objective=objective,
        talent_score=talent,
        continuity_score=cont,
        travel_cost=travel,
        bound=objective,
        status="optimal",
        weights=w,
        max_travel_km=max_travel_km,
        travel_measure=measure,
        travel_reasons=tuple(reasons),
        min_travel_km=min_km,
        max_load=max_load,
    )


def _require(df: pd.DataFrame, source: str, columns: Sequence[str]) -> list[InputProblem]:
    return [
        InputProblem(source, None, c, "required column is missing", f"add a '{c}' column")
        for c in columns
        if c not in df.columns
    ]


def _numeric(df: pd.DataFrame, source: str, columns: Sequence[str]) -> list[InputProblem]:
    problems = []
    for c in columns:
        values = pd.to_numeric(df[c], errors="coerce")
        bad = ~np.isfinite(values.to_numpy(dtype=np.float64))
        for i in np.flatnonzero(bad)[:5].tolist():
            problems.append(
                InputProblem(
                    source, i + 2, c, f"'{df[c].iloc[i]}' is not a finite number", "fix it"
                )
            )
    return problems


def _duplicates(df: pd.DataFrame, source: str, column: str) -> list[InputProblem]:
    dup = df[column].astype(str)
    return [
        InputProblem(source, None, column, f"id {v} appears more than once", "make ids unique")
        for v in sorted(set(dup[dup.duplicated()]))
    ]


def _talent(reps: pd.DataFrame) -> tuple[FloatArray, FloatArray, list[InputProblem]]:
    """Rating when known (clipped to 0-1), else the tier ladder; neither is an input error."""
    n = len(reps)
    rating = (
        pd.to_numeric(reps["rating"], errors="coerce").to_numpy(dtype=np.float64)
        if "rating" in reps.columns
        else np.full(n, np.nan)
    )
    tiers = (
        reps["tier"].astype("string").str.strip().str.upper().fillna("")
        if "tier" in reps.columns
        else pd.Series([""] * n, dtype="string")
    )
    from_tier = np.array([TIER_TALENT.get(str(x), np.nan) for x in tiers], dtype=np.float64)
    talent = np.where(np.isfinite(rating), np.clip(rating, 0.0, 1.0), from_tier)
    problems = [
        InputProblem(
            "reps",
            i + 2,
            "rating",
            f"rep {reps['rep_id'].iloc[i]} has neither a rating nor a tier A/B/C",
            "give a rating between 0 and 1 or a tier",
        )
        for i in np.flatnonzero(~np.isfinite(talent)).tolist()
    ]
    return talent, rating, problems


def _prepare(
    territories: pd.DataFrame,
    reps: pd.DataFrame,
    units: pd.DataFrame | None,
    continuity: pd.DataFrame | None,
    need_load: bool = False,
) -> _Inputs:
    """Validate, sort by id (deterministic ties) and build the rep x territory matrices."""
    problems = _require(territories, "territories", ["territory_id", "potential"])
    if need_load:
        problems += _require(territories, "territories", ["workload"])
        problems += _require(reps, "reps", ["capacity"])
    problems += _require(territories, "territories", ["centre_lat", "centre_lon"])
    problems += _require(reps, "reps", ["rep_id", "lat", "lon"])
    if units is not None:
        problems += _require(units, "units", ["territory_id", "lat", "lon"])
    if continuity is not None:
        problems += _require(continuity, "continuity", ["territory_id", "rep_id"])
        if not {"revenue", "potential"} & set(continuity.columns):
            problems.append(
                InputProblem(
                    "continuity", None, "revenue", "no book column", "add 'revenue' or 'potential'"
                )
            )
    if problems:  # the checks below need these columns
        raise DataValidationError(problems)
    problems += _numeric(territories, "territories", ["potential", "centre_lat", "centre_lon"])
    problems += _numeric(reps, "reps", ["lat", "lon"])
    if need_load:
        problems += _numeric(territories, "territories", ["workload"])
        problems += _numeric(reps, "reps", ["capacity"])
    problems += _duplicates(territories, "territories", "territory_id")
    problems += _duplicates(reps, "reps", "rep_id")
    problems += _talent(reps)[2]  # row numbers as in the user's table, before sorting
    if problems:
        raise DataValidationError(problems)
    terr = territories.assign(territory_id=territories["territory_id"].astype(str))
    terr = terr.sort_values("territory_id", kind="stable").reset_index(drop=True)
    rp = reps.assign(rep_id=reps["rep_id"].astype(str))
    rp = rp.sort_values("rep_id", kind="stable").reset_index(drop=True)
    talent, rating, _ = _talent(rp)

    tids = terr["territory_id"].tolist()
    rids = rp["rep_id"].tolist()
    t_index = {t: i for i, t in enumerate(tids)}
    r_index = {r: i for i, r in enumerate(rids)}
    rep_lat = rp["lat"].to_numpy(dtype=np.float64)[:, None]
    rep_lon = rp["lon"].to_numpy(dtype=np.float64)[:, None]
    km_centre = haversine_km(
        rep_lat,
        rep_lon,
        terr["centre_lat"].to_numpy(dtype=np.float64)[None, :],
        terr["centre_lon"].to_numpy(dtype=np.float64)[None, :],
    ).reshape(len(rids), len(tids))
    km_farthest = np.full_like(km_centre, np.nan)
    travel_km = km_centre.copy()
    if units is not None:
        km_farthest, travel_km = _unit_distances(units, t_index, rep_lat, rep_lon, km_centre)

    share = np.zeros_like(km_centre)
    if continuity is not None:
        share = _continuity_share(continuity, t_index, r_index, share.shape)

    return _Inputs(
        territory_ids=tids,
        rep_ids=rids,
        potential=terr["potential"].to_numpy(dtype=np.float64),
        talent=talent,
        tier=rp["tier"].tolist() if "tier" in rp.columns else [None] * len(rids),
        rating=rating,
        km_centre=km_centre,
        km_farthest=km_farthest,
        travel_km=travel_km,
        share=share,
        workload=_column(terr, "workload"),
        capacity=_column(rp, "capacity"),
    )


def _column(frame: pd.DataFrame, name: str) -> FloatArray:
    """Read a numeric column as floats (NaN where missing or not a number, all NaN if absent)."""
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)


def _unit_distances(
    units: pd.DataFrame,
    t_index: dict[str, int],
    rep_lat: FloatArray,
    rep_lon: FloatArray,
    km_centre: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Farthest-unit and potential-weighted mean distance per (rep, territory).

    A territory without unit rows falls back to its centre for both (the centre is a unit).
    Zero total potential in a territory weighs its units equally.
    """
    u = units.assign(territory_id=units["territory_id"].astype(str))
    unknown = sorted(set(u["territory_id"]) - set(t_index))
    problems = _numeric(u, "units", ["lat", "lon"]) + _unknown_territories("units", unknown)
    if problems:
        raise DataValidationError(problems)
    farthest = km_centre.copy()
    mean = km_centre.copy()
    pot_all = (
        pd.to_numeric(u["potential"], errors="coerce").fillna(0.0).clip(lower=0.0)
        if "potential" in u.columns
        else pd.Series(np.zeros(len(u)), index=u.index)
    )
    for tid, group in u.groupby("territory_id", sort=True):
        t = t_index[str(tid)]
        d = haversine_km(
            rep_lat,
            rep_lon,
            group["lat"].to_numpy(dtype=np.float64)[None, :],
            group["lon"].to_numpy(dtype=np.float64)[None, :],
        ).reshape(rep_lat.shape[0], len(group))
        pot = pot_all.loc[group.index].to_numpy(dtype=np.float64)
        weights = pot / pot.sum() if pot.sum() > 0 else np.full(len(group), 1.0 / len(group))
        farthest[:, t] = np.maximum(d.max(axis=1), km_centre[:, t])
        mean[:, t] = d @ weights
    return farthest, mean


def _unknown_territories(source: str, unknown: list[str]) -> list[InputProblem]:
    if not unknown:
        return []
    return [
        InputProblem(
            source,
            None,
            "territory_id",
            f"unknown territory id(s) {', '.join(unknown[:10])}",
            "use the ids of the territories table",
        )
    ]


def _continuity_share(
    continuity: pd.DataFrame,
    t_index: dict[str, int],
    r_index: dict[str, int],
    shape: tuple[int, ...],
) -> FloatArray:
    """Share of each territory's current book held by each rep (departed reps count in the total).

    Sharing a book is what a customer notices: keeping the rep who already holds most of it is
    the cheapest way to keep relationships.
    """
    column = "revenue" if "revenue" in continuity.columns else "potential"
    c = continuity.assign(
        territory_id=continuity["territory_id"].astype(str),
        rep_id=continuity["rep_id"].astype(str),
        book=pd.to_numeric(continuity[column], errors="coerce"),
    )
    unknown = sorted(set(c["territory_id"]) - set(t_index))
    problems = _numeric(c, "continuity", ["book"]) + _unknown_territories("continuity", unknown)
    if problems:
        raise DataValidationError(problems)
    book = c.groupby(["territory_id", "rep_id"], sort=True)["book"].sum().clip(lower=0.0)
    total = book.groupby(level="territory_id").sum()
    share = np.zeros(shape)
    for (tid, rid), value in zip(book.index.tolist(), book.tolist(), strict=True):
        r = r_index.get(str(rid))
        if r is None or total[tid] <= 0:
            continue  # a departed rep's book still counts in the territory total
        share[r, t_index[str(tid)]] = float(value) / float(total[tid])
    return share
