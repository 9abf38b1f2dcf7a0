"""Seeded synthetic territory-design instances for tests, benchmarks and demos.

Real account lists are confidential, so tests and benchmarks need data that *looks* real (clustered
geography, skewed potential, workload that grows with potential, an unbalanced inherited
alignment) and that is known to admit a balanced plan, so that a solver failing on it is a solver
bug and not a data accident. Everything is vectorised numpy: a million accounts take seconds.

Balance targets used throughout (and by the feasibility guarantee):

* potential target of rep ``r`` = total potential x ``capacity_r x tier_factor_r`` /
  ``sum(capacity x tier_factor)``, with :data:`TIER_FACTORS` (A 1.15, B 1.0, C 0.85);
* workload target of rep ``r`` = total workload x ``capacity_r / sum(capacity)``.
"""

from __future__ import annotations

from typing import Final, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from territory.domain.arrays import FloatArray, IntArray
from territory.domain.model import DEFAULT_TIER_FACTORS
from territory.domain.model import targets as split_total

__all__ = [
    "ACCOUNT_COLUMNS",
    "REP_COLUMNS",
    "TIER_FACTORS",
    "US_BOX",
    "Roster",
    "company_names",
    "contract_tables",
    "fit_to_targets",
    "historical_alignment",
    "home_bases",
    "make_instance",
    "person_names",
    "potential_targets",
    "rep_roster",
    "revenue_history",
    "segment_for",
    "witness_groups",
    "workload_targets",
]

Seed = int | np.random.Generator | None

ACCOUNT_COLUMNS: Final = (
    "account_id",
    "lat",
    "lon",
    "potential",
    "workload",
    "current_rep",
    "revenue_last_year",
    "name",
    "segment",
)
REP_COLUMNS: Final = ("rep_id", "lat", "lon", "capacity", "tier", "rating", "name", "role")

#: Potential-target multiplier by rep tier (the engine's defaults, A 1.15, B 1.0, C 0.85).
TIER_FACTORS: Final = DEFAULT_TIER_FACTORS

#: (lat_min, lat_max, lon_min, lon_max) of the continental-US-like box used by make_instance.
US_BOX: Final = (25.0, 49.0, -124.0, -67.0)

# Segment floors in currency/year; a business rule, so fixed amounts rather than quantiles.
_ENTERPRISE_MIN: Final = 250_000.0
_MID_MARKET_MIN: Final = 75_000.0

# Capacity caps carry a random 0-10% haircut so that clipped accounts do not share one value.
_CAP_JITTER: Final = 0.10
# Head-room kept below ``max_account_share`` so rounding cannot push an account over it.
_CAP_MARGIN: Final = 0.98

_KM_PER_DEG_LAT: Final = 110.57
_KM_PER_DEG_LON_EQUATOR: Final = 111.32

_COMPANY_HEADS: Final = (
    "Allied", "Apex", "Atlas", "Beacon", "Birchwood", "Blue Harbor", "Bridgeview", "Cascade",
    "Cedar", "Clearwater", "Copperline", "Crescent", "Crown Point", "Delta", "Eagle Rock",
    "Evergreen", "Fairview", "Falcon", "Frontier", "Granite", "Greenfield", "Harborview",
    "Heritage", "Highland", "Hudson", "Ironwood", "Keystone", "Lakeside", "Liberty", "Maple",
    "Meridian", "Northgate", "Oakridge", "Pinnacle", "Pioneer", "Prairie", "Redwood",
    "Riverbend", "Rockport", "Silverline", "Stonebridge", "Summit", "Sterling", "Tri-County",
    "Union", "Valley", "Vanguard", "Westfield", "Willow", "Zenith",
)  # fmt: skip
_COMPANY_TRADES: Final = (
    "Analytics", "Builders", "Chemicals", "Clinics", "Construction", "Dental", "Distribution",
    "Electric", "Energy", "Engineering", "Farms", "Foods", "Freight", "Health", "Hospitality",
    "Industries", "Insurance", "Labs", "Logistics", "Machinery", "Manufacturing", "Marine",
    "Media", "Medical", "Metals", "Motors", "Packaging", "Pharma", "Plastics", "Printing",
    "Properties", "Realty", "Restaurants", "Retail", "Software", "Steel", "Supply", "Systems",
    "Technologies", "Textiles", "Tools", "Transport", "Utilities", "Wholesale",
)  # fmt: skip
_COMPANY_FORMS: Final = ("Inc.", "LLC", "Co.", "Corp.", "Group", "Partners", "Holdings", "Ltd.")
_FIRST_NAMES: Final = (
    "Aaron", "Abigail", "Adrian", "Aisha", "Alex", "Amelia", "Andre", "Angela", "Ben", "Brianna",
    "Carlos", "Chloe", "Daniel", "Diana", "Elena", "Ethan", "Fatima", "Gabriel", "Grace", "Hannah",
    "Isaac", "Jasmine", "Jordan", "Julia", "Kevin", "Keisha", "Laura", "Liam", "Maria", "Marcus",
    "Maya", "Michael", "Nadia", "Nathan", "Nina", "Olivia", "Omar", "Priya", "Rachel", "Ramon",
    "Rebecca", "Ryan", "Samuel", "Sara", "Sofia", "Steven", "Tanya", "Thomas", "Valerie",
    "Victor", "Wei", "Yusuf", "Zoe", "Caroline", "Derek", "Erin", "Felix", "Heather", "Ivan",
    "Lucas",
)  # fmt: skip
_LAST_NAMES: Final = (
    "Adams", "Alvarez", "Baker", "Bennett", "Brooks", "Campbell", "Carter", "Chen", "Clark",
    "Collins", "Cruz", "Davis", "Diaz", "Edwards", "Evans", "Fischer", "Flores", "Foster",
    "Garcia", "Gupta", "Hall", "Harris", "Hughes", "Jackson", "Jensen", "Johnson", "Kelly", "Kim",
    "Kowalski", "Lee", "Lopez", "Martin", "Mitchell", "Murphy", "Nguyen", "Novak", "O'Brien",
    "Okafor", "Patel", "Perez", "Price", "Reed", "Reyes", "Rivera", "Roberts", "Russo", "Sanders",
    "Schmidt", "Shah", "Sullivan", "Taylor", "Thompson", "Turner", "Walker", "Ward", "Watson",
    "Williams", "Wong", "Young", "Zimmerman",
)  # fmt: skip


def potential_targets(total_potential: float, capacity: ArrayLike, tier: ArrayLike) -> FloatArray:
    """Per-rep potential target: total potential shared by ``capacity x tier factor``.

    Parameters
    ----------
    total_potential : float
        Sum of account potential (currency/year).
    capacity : array-like of float
        Rep capacity in hours/year.
    tier : array-like of str
        Rep tier, a key of :data:`TIER_FACTORS`.

    Returns
    -------
    numpy.ndarray
        Target potential per rep, in the order given; sums to ``total_potential``.
    """
    cap = np.asarray(capacity, dtype=np.float64)
    factor = np.array([TIER_FACTORS[str(t)] for t in np.asarray(tier)], dtype=np.float64)
    return split_total(float(total_potential), cap * factor)


def workload_targets(total_workload: float, capacity: ArrayLike) -> FloatArray:
    """Per-rep workload target: total workload (hours/year) shared by capacity."""
    return split_total(float(total_workload), np.asarray(capacity, dtype=np.float64))


def segment_for(potential: ArrayLike) -> NDArray[np.object_]:
    """Enterprise / Mid-Market / SMB from potential, with fixed currency floors."""
    pot = np.asarray(potential, dtype=np.float64)
    labels = np.array(["SMB", "Mid-Market", "Enterprise"], dtype=object)
    code = (pot >= _MID_MARKET_MIN).astype(np.int64) + (pot >= _ENTERPRISE_MIN)
    return np.asarray(labels[code], dtype=object)


def _draw_combinations(n: int, total: int, rng: np.random.Generator) -> IntArray:
    """Draw indices into ``total`` word combinations, unique whenever there are enough of them.

    Unique names keep small demo tables readable; large benchmark tables repeat names, as real
    CRMs do.
    """
    if n <= total:
        return np.asarray(rng.choice(total, size=n, replace=False), dtype=np.int64)
    return np.asarray(rng.integers(0, total, size=n), dtype=np.int64)


def company_names(n: int, seed: Seed = None) -> NDArray[np.object_]:
    """Plausible fake company names ("Granite Logistics LLC"), unique when ``n`` allows.

    Parameters
    ----------
    n : int
        Number of names.
    seed : int, numpy.random.Generator or None
        Randomness source, passed to :func:`numpy.random.default_rng`.

    Returns
    -------
    numpy.ndarray of str (object dtype)
        Built from word lists only, so names never belong to a real company by design.
    """
    rng = np.random.default_rng(seed)
    heads = np.array(_COMPANY_HEADS, dtype=object)[:, None, None]
    trades = np.array(_COMPANY_TRADES, dtype=object)[None, :, None]
    forms = np.array(_COMPANY_FORMS, dtype=object)[None, None, :]
    # Building the few thousand combinations once and indexing is far cheaper than
    # concatenating a million strings.
    every = (heads + " " + trades + " " + forms).ravel()
    return np.asarray(every[_draw_combinations(n, every.size, rng)], dtype=object)


def person_names(n: int, seed: Seed = None) -> NDArray[np.object_]:
    """Plausible fake person names ("Maria Okafor"), unique when ``n`` allows."""
    rng = np.random.default_rng(seed)
    first = np.array(_FIRST_NAMES, dtype=object)[:, None]
    last = np.array(_LAST_NAMES, dtype=object)[None, :]
    every = (first + " " + last).ravel()
    return np.asarray(every[_draw_combinations(n, every.size, rng)], dtype=object)


def fit_to_targets(
    values: ArrayLike,
    groups: ArrayLike,
    targets: ArrayLike,
    cap: float | ArrayLike,
    *,
    max_rounds: int = 10_000,
) -> FloatArray:
    """Rescale values inside each group so group sums hit ``targets`` and no value exceeds ``cap``.

    Water-filling: scale each group to its target, clip values above their cap, hand the clipped
    excess to the group's unclipped values in proportion to their size, repeat. This is how the
    generator turns a raw lognormal draw into one that provably admits a balanced plan (the groups
    are that plan) while keeping the shape of the distribution below the cap.

    Parameters
    ----------
    values : array-like of float
        Positive raw values, one per item.
    groups : array-like of int
        Group index ``0..len(targets)-1`` of each item.
    targets : array-like of float
        Required sum per group.
    cap : float or array-like of float
        Largest allowed value, for all items or per item.
    max_rounds : int
        Safety bound; each round fixes at least one more item at its cap, so it is never reached
        when every group can reach its target.

    Returns
    -------
    numpy.ndarray
        Values with ``bincount(groups, values) == targets`` (to float precision) and
        ``values <= cap``.

    Raises
    ------
    ValueError
        If a group has no positive value, or its caps add up to less than its target.
    """
    v = np.array(values, dtype=np.float64)
    g = np.asarray(groups, dtype=np.int64)
    t = np.asarray(targets, dtype=np.float64)
    c = np.broadcast_to(np.asarray(cap, dtype=np.float64), v.shape)
    k = t.size
    if v.shape != g.shape:
        raise ValueError(f"values and groups differ in shape: {v.shape} vs {g.shape}")
    if np.any(v <= 0) or np.any(c <= 0):
        raise ValueError("values and caps must be positive")
    sums = np.bincount(g, weights=v, minlength=k)
    room = np.bincount(g, weights=c, minlength=k)
    short = np.flatnonzero((sums <= 0) | (room < t))
    if short.size:
        first = int(short[0])
        raise ValueError(
            f"{short.size} group(s) cannot reach their target under the cap, e.g. group {first}: "
            f"target {t[first]:.6g}, sum of caps {room[first]:.6g}; add items or raise the cap"
        )
    v *= (t / sums)[g]
    for _ in range(max_rounds):
        over = v > c
        if not over.any():
            return v
        v[over] = c[over]
        free = v < c
        deficit = t - np.bincount(g, weights=v, minlength=k)
        free_sum = np.bincount(g[free], weights=v[free], minlength=k)
        factor = 1.0 + np.divide(deficit, free_sum, out=np.zeros(k), where=free_sum > 0)
        v[free] *= factor[g[free]]
    raise RuntimeError(f"fit_to_targets did not converge in {max_rounds} rounds")


def witness_groups(
    n_items: int,
    potential_share: ArrayLike,
    workload_share: ArrayLike,
    max_share: float,
    seed: Seed = None,
    *,
    fixed: ArrayLike | None = None,
) -> IntArray:
    """Deal items at random into one hidden group per rep, each large enough to be fitted.

    A group whose items are capped at ``max_share`` of the smallest target needs more than
    ``target / cap`` items, or :func:`fit_to_targets` cannot fill it. The groups are then sized in
    proportion to the targets, so the rescaling that makes them exact stays small.

    Parameters
    ----------
    n_items : int
        Number of accounts.
    potential_share, workload_share : array-like of float
        Per-rep share of total potential and of total workload (each sums to 1).
    max_share : float
        Largest item as a share of the smallest target (the cap given to fit_to_targets).
    seed : int, numpy.random.Generator or None
        Randomness source, passed to :func:`numpy.random.default_rng`.
    fixed : array-like of int, optional
        Per-item group to keep (for accounts locked to a rep), or -1 for items to deal.

    Returns
    -------
    numpy.ndarray of int
        Group (rep position) of each item.

    Raises
    ------
    ValueError
        If there are too few items, or more fixed items in a group than it can hold.
    """
    rng = np.random.default_rng(seed)
    ps = np.asarray(potential_share, np.float64)
    ws = np.asarray(workload_share, np.float64)
    k = ps.size
    need_ratio = np.maximum(ps / ps.min(), ws / ws.min())
    need = np.floor(need_ratio / max_share).astype(np.int64) + 1
    if need.sum() > n_items:
        raise ValueError(
            f"{n_items} accounts cannot fill {k} groups: at least {int(need.sum())} are needed so "
            f"that no account exceeds {max_share:.1%} of the smallest target; add accounts or "
            "raise the cap"
        )
    counts = need + _largest_remainder(n_items - int(need.sum()), ps + ws)
    if fixed is None:
        return np.asarray(rng.permutation(np.repeat(np.arange(k, dtype=np.int64), counts)))
    group = np.array(fixed, dtype=np.int64)
    pinned = group >= 0
    pinned_counts = np.bincount(group[pinned], minlength=k)
    if np.any(pinned_counts > counts):
        worst = int(np.argmax(pinned_counts - counts))
        raise ValueError(
            f"group {worst} holds {int(pinned_counts[worst])} fixed items but only "
            f"{int(counts[worst])} fit; fix fewer items to that group"
        )
    group[~pinned] = rng.permutation(
        np.repeat(np.arange(k, dtype=np.int64), counts - pinned_counts)
    )
    return group


def _project_km(lat: FloatArray, lon: FloatArray, lat0: float) -> FloatArray:
    """Equirectangular projection in km; good enough for nearest-rep at territory scale."""
    x = lon * _KM_PER_DEG_LON_EQUATOR * np.cos(np.radians(lat0))
    y = lat * _KM_PER_DEG_LAT
    return np.column_stack([x, y])


def _unproject_km(xy: FloatArray, lat0: float) -> tuple[FloatArray, FloatArray]:
    """Inverse of :func:`_project_km`."""
    lon = xy[:, 0] / (_KM_PER_DEG_LON_EQUATOR * np.cos(np.radians(lat0)))
    return xy[:, 1] / _KM_PER_DEG_LAT, lon


def _bisect(xy: FloatArray, w: FloatArray, n_parts: int) -> IntArray:
    """Recursive coordinate bisection into ``n_parts`` regions of (near) equal weight.

    Each region holding ``m`` parts is cut across its longer side at the weighted quantile
    ``floor(m/2) / m``; all regions of one level are cut at once with a single sort.
    """
    n = len(xy)
    node = np.zeros(n, dtype=np.int64)
    parts = np.array([n_parts], dtype=np.int64)
    while parts.max() > 1:
        k = parts.size
        lo = np.full((k, 2), np.inf)
        hi = np.full((k, 2), -np.inf)
        np.minimum.at(lo, node, xy)
        np.maximum.at(hi, node, xy)
        axis = np.argmax(hi - lo, axis=1)
        coord = np.where(axis[node] == 0, xy[:, 0], xy[:, 1])
        order = np.lexsort((coord, node))
        sorted_node = node[order]
        total = np.bincount(node, weights=w, minlength=k)
        run = np.cumsum(w[order])
        start = np.searchsorted(sorted_node, np.arange(k))
        before = np.where(start > 0, run[np.maximum(start - 1, 0)], 0.0)
        mid = run - before[sorted_node] - 0.5 * w[order]
        left_parts = parts // 2
        goes_right = mid >= total[sorted_node] * left_parts[sorted_node] / parts[sorted_node]
        # Keep both halves non-empty whenever a region has two points or more.
        first = start
        last = np.append(start[1:], n) - 1
        splits = (parts > 1) & (last > first)
        goes_right[first[splits]] = False
        goes_right[last[splits]] = True
        goes_right &= parts[sorted_node] > 1
        child = np.empty(n, dtype=np.int64)
        child[order] = 2 * sorted_node + goes_right
        split = parts > 1
        child_parts = np.stack(
            [np.where(split, left_parts, parts), np.where(split, parts - left_parts, 0)], axis=1
        ).ravel()
        keep = child_parts > 0
        relabel = np.cumsum(keep) - 1
        node = relabel[child]
        parts = child_parts[keep]
    return node


def home_bases(
    lat: ArrayLike,
    lon: ArrayLike,
    weight: ArrayLike,
    n_reps: int,
    seed: Seed = None,
    *,
    max_points: int = 50_000,
) -> tuple[FloatArray, FloatArray]:
    """Rep home bases in proportion to potential, spread over their markets.

    Sales teams are staffed where the business is: every rep gets a compact region of equal weight
    (recursive coordinate bisection) and lives at its weighted centre. Plain k-means would
    under-staff dense metros (centres follow the square root of density), and random draws put
    reps on top of each other.

    Parameters
    ----------
    lat, lon : array-like of float
        Account coordinates in degrees.
    weight : array-like of float
        Positive account weight, usually potential.
    n_reps : int
        Number of home bases.
    seed : int, numpy.random.Generator or None
        Randomness source, passed to :func:`numpy.random.default_rng`.
    max_points : int
        Sample size above which accounts are sub-sampled by weight (keeps a million cheap).

    Returns
    -------
    lat, lon : numpy.ndarray
        Home-base coordinates in degrees, in random order.
    """
    rng = np.random.default_rng(seed)
    a_lat, a_lon = np.asarray(lat, np.float64), np.asarray(lon, np.float64)
    w = np.asarray(weight, np.float64)
    lat0 = float(np.average(a_lat, weights=w))
    xy = _project_km(a_lat, a_lon, lat0)
    if a_lat.size > max_points:
        xy = xy[rng.choice(a_lat.size, size=max_points, p=w / w.sum())]
        w = np.ones(max_points)
    region = _bisect(xy, w, n_reps)
    mass = np.bincount(region, weights=w, minlength=n_reps)
    centre = xy[rng.choice(len(xy), size=n_reps)]  # only for regions left empty
    has = mass > 0
    for axis in (0, 1):
        moment = np.bincount(region, weights=w * xy[:, axis], minlength=n_reps)
        centre[has, axis] = moment[has] / mass[has]
    return _unproject_km(centre[rng.permutation(n_reps)], lat0)


def historical_alignment(
    account_lat: ArrayLike,
    account_lon: ArrayLike,
    rep_lat: ArrayLike,
    rep_lon: ArrayLike,
    load: ArrayLike,
    target: ArrayLike,
    seed: Seed = None,
    *,
    spread: float = 0.12,
    overloaded_share: float = 0.15,
    overload: float = 1.35,
    noise_share: float = 0.03,
    k_nearest: int = 6,
) -> IntArray:
    """Draw an inherited, plausibly unbalanced alignment: nearest rep with room, drifted budgets.

    Real "current" plans were once drawn by proximity with an eye on balance, then drifted: some
    reps were handed extra ground, others lost some, and a few accounts stayed with a rep they met
    years ago. The model gives every rep a budget of ``load`` (its target times a lognormal
    ``spread``, times ``overload`` for a share of reps) and lets accounts ask their nearest reps
    in turn; a rep takes the closest askers that still fit its budget (deferred acceptance, one
    vectorised round per candidate). Accounts nobody took go to their nearest rep, then
    ``noise_share`` of accounts move to a random rep among their ``k_nearest``.

    Parameters
    ----------
    account_lat, account_lon, rep_lat, rep_lon : array-like of float
        Coordinates in degrees.
    load : array-like of float
        Per-account quantity the historical planners balanced on (usually potential).
    target : array-like of float
        Per-rep target of ``load``.
    seed : int, numpy.random.Generator or None
        Randomness source, passed to :func:`numpy.random.default_rng`.
    spread : float
        Log-sd of the budget drift around the target; 0 gives a nearly balanced history.
    overloaded_share : float
        Share of reps (at least one when positive and there are two reps or more) whose budget
        is multiplied by ``overload``.
    overload : float
        Budget multiplier of those reps.
    noise_share : float
        Share of accounts moved to a random rep among their ``k_nearest``.
    k_nearest : int
        Candidate reps per account.

    Returns
    -------
    numpy.ndarray of int
        Rep index (position in the rep arrays) per account.
    """
    rng = np.random.default_rng(seed)
    a_lat, a_lon = np.asarray(account_lat, np.float64), np.asarray(account_lon, np.float64)
    r_lat, r_lon = np.asarray(rep_lat, np.float64), np.asarray(rep_lon, np.float64)
    w = np.asarray(load, np.float64)
    n, n_reps = a_lat.size, r_lat.size
    k = max(1, min(k_nearest, n_reps))
    lat0 = float(np.mean(r_lat))
    tree = cKDTree(_project_km(r_lat, r_lon, lat0))
    dist, idx = tree.query(_project_km(a_lat, a_lon, lat0), k=k, workers=-1)
    dist = np.asarray(dist, np.float64).reshape(n, k)
    idx = np.asarray(idx, np.int64).reshape(n, k)

    budget = np.asarray(target, np.float64) * np.exp(rng.normal(0.0, spread, n_reps))
    n_over = int(round(overloaded_share * n_reps))
    if overloaded_share > 0 and n_reps > 1:
        n_over = max(1, n_over)
    budget[rng.choice(n_reps, size=min(n_over, n_reps), replace=False)] *= overload
    # A little slack so that nearly every account finds a rep with room.
    budget *= 1.03 * w.sum() / budget.sum()

    choice = np.full(n, -1, dtype=np.int64)
    used = np.zeros(n_reps)
    for j in range(k):
        ask = np.flatnonzero(choice < 0)
        if ask.size == 0:
            break
        rep = idx[ask, j]
        order = np.lexsort((dist[ask, j], rep))
        ask, rep = ask[order], rep[order]
        run = np.cumsum(w[ask])
        start = np.searchsorted(rep, rep, side="left")
        before = np.where(start > 0, run[np.maximum(start - 1, 0)], 0.0)
        fits = used[rep] + run - before <= budget[rep]
        choice[ask[fits]] = rep[fits]
        used += np.bincount(rep[fits], weights=w[ask[fits]], minlength=n_reps)
    unplaced = choice < 0
    choice[unplaced] = idx[unplaced, 0]

    noisy = rng.random(n) < noise_share
    choice[noisy] = idx[noisy, rng.integers(0, k, size=int(noisy.sum()))]
    return choice


class Roster(NamedTuple):
    """A generated sales team, one entry per rep (see :func:`rep_roster`)."""

    capacity: FloatArray
    tier: NDArray[np.str_]
    rating: FloatArray
    role: NDArray[np.str_]


def rep_roster(n_reps: int, rng: np.random.Generator) -> Roster:
    """Capacity, tier, rating and role of ``n_reps`` reps, as a sales team's HR file has them.

    Capacity 1,400-1,800 hours/year; tiers A, B and C a quarter, a half and a quarter of the
    team; rating in [0, 1], higher for better tiers; 40% hunters, the rest account managers.
    """
    capacity = np.round(rng.uniform(1_400.0, 1_800.0, n_reps), 0)
    n_a = int(round(0.25 * n_reps))
    n_c = int(round(0.25 * n_reps))
    tier = rng.permutation(np.array(["A"] * n_a + ["B"] * (n_reps - n_a - n_c) + ["C"] * n_c))
    tier_rank = np.select([tier == "A", tier == "B"], [2.0, 1.0], 0.0)
    rating = np.round(np.clip(0.4 + 0.2 * tier_rank + rng.normal(0.0, 0.1, n_reps), 0, 1), 2)
    role = np.where(rng.random(n_reps) < 0.4, "hunter", "account_manager")
    return Roster(capacity, tier, np.asarray(rating, dtype=np.float64), role)


def contract_tables(
    accounts: dict[str, FloatArray],
    current: IntArray,
    rep_lat: ArrayLike,
    rep_lon: ArrayLike,
    roster: Roster,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Give generated columns their ids, names and segments, as the data contract lays them out.

    Parameters
    ----------
    accounts : dict of numpy.ndarray
        ``lat``, ``lon``, ``potential``, ``workload`` and ``revenue_last_year`` per account.
    current : numpy.ndarray of int
        Inherited rep (position) per account.
    rep_lat, rep_lon : numpy.ndarray
        Rep home bases in degrees.
    roster : Roster
        The team (:func:`rep_roster`).
    rng : numpy.random.Generator
        Draws the company names, then the reps' names.

    Returns
    -------
    accounts, reps : pandas.DataFrame
        Columns :data:`ACCOUNT_COLUMNS` and :data:`REP_COLUMNS`.
    """
    n_reps = roster.capacity.size
    rep_ids = _format_ids("R", n_reps, 4)
    n = current.size
    table = pd.DataFrame(
        {
            "account_id": _format_ids("A", n, 7),
            "lat": accounts["lat"],
            "lon": accounts["lon"],
            "potential": accounts["potential"],
            "workload": accounts["workload"],
            "current_rep": rep_ids.to_numpy()[current],
            "revenue_last_year": accounts["revenue_last_year"],
            "name": company_names(n, rng),
            "segment": segment_for(accounts["potential"]),
        }
    )
    table = table.astype({"current_rep": "str", "name": "str", "segment": "str"})
    reps = pd.DataFrame(
        {
            "rep_id": rep_ids,
            "lat": rep_lat,
            "lon": rep_lon,
            "capacity": roster.capacity,
            "tier": pd.Series(roster.tier, dtype="str"),
            "rating": roster.rating,
            "name": pd.Series(person_names(n_reps, rng), dtype="str"),
            "role": pd.Series(roster.role, dtype="str"),
        }
    )
    return table, reps


def revenue_history(
    potential: FloatArray, rating: FloatArray, current: IntArray, rng: np.random.Generator
) -> FloatArray:
    """Last year's revenue: better-rated reps have penetrated their accounts further.

    A share of accounts are prospects (no revenue yet); no account bought more than its
    potential.
    """
    n = potential.size
    penetration = np.clip(0.1 + 0.4 * rating + rng.normal(0.0, 0.05, rating.size), 0.05, 0.9)
    revenue = potential * penetration[current] * np.exp(rng.normal(0.0, 0.35, n))
    revenue = np.minimum(revenue, potential)
    revenue[rng.random(n) < 0.15] = 0.0
    return np.round(revenue, 2)


def _largest_remainder(total: int, weights: FloatArray) -> IntArray:
    """Split an integer total in proportion to weights, exactly (Hamilton's method)."""
    quota = total * weights / weights.sum()
    base = np.floor(quota).astype(np.int64)
    rest = total - int(base.sum())
    if rest:
        base[np.argsort(-(quota - base), kind="stable")[:rest]] += 1
    return np.asarray(base, dtype=np.int64)


def _format_ids(prefix: str, n: int, width: int) -> pd.Series:
    """Zero-padded string ids ("A0000001"), vectorised through pandas' string methods."""
    digits = pd.Series(np.arange(1, n + 1)).astype("str").str.zfill(max(width, len(str(n))))
    return prefix + digits


def _check_arguments(
    n_accounts: int,
    n_reps: int,
    sigma: float,
    utilization: float,
    key_account_share: float,
    max_account_share: float,
    n_cities: int,
) -> None:
    """Reject unusable arguments with what was given and what is allowed."""
    problems = []
    if n_reps < 1:
        problems.append(f"n_reps must be >= 1, got {n_reps}")
    if n_accounts < 1:
        problems.append(f"n_accounts must be >= 1, got {n_accounts}")
    if not sigma > 0:
        problems.append(f"sigma must be > 0, got {sigma}")
    if not 0 < utilization <= 2:
        problems.append(f"utilization must be in (0, 2], got {utilization}")
    if not 0 <= key_account_share <= 1:
        problems.append(f"key_account_share must be in [0, 1], got {key_account_share}")
    if not 0 < max_account_share <= 1:
        problems.append(f"max_account_share must be in (0, 1], got {max_account_share}")
    if n_cities < 1:
        problems.append(f"n_cities must be >= 1, got {n_cities}")
    if problems:
        raise ValueError("; ".join(problems))


def make_instance(
    n_accounts: int,
    n_reps: int,
    seed: Seed = 0,
    *,
    sigma: float = 1.0,
    utilization: float = 0.85,
    key_account_share: float = 0.002,
    with_current: bool = True,
    n_cities: int = 36,
    max_account_share: float = 0.25,
    median_potential: float = 50_000.0,
    with_witness: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate a seeded, realistic-shaped accounts/reps instance that admits a balanced plan.

    Shape of the data:

    * accounts cluster around ``n_cities`` Zipf-weighted "cities" in a continental-US-like box
      (lat 25..49, lon -124..-67), with about 8% scattered rural accounts;
    * potential is lognormal (median ``median_potential`` currency/year, log-sd ``sigma``); a
      ``key_account_share`` of accounts (at least one when positive) is 10-40x larger;
    * workload (hours/year) = overhead + potential**0.6 x lognormal noise, scaled so that total
      workload = ``utilization`` x total capacity (workload is scaled, not capacity, so that
      capacities stay in a realistic 1,400-1,800 h);
    * reps: capacity 1,400-1,800 h, home bases at the centres of equal-potential regions
      (:func:`home_bases`), tiers A/B/C 25/50/25%, rating 0..1 higher for better tiers, roles
      ~40% hunter / 60% account_manager;
    * ``current_rep`` comes from :func:`historical_alignment` (nearest rep with room under drifted
      budgets, 15% of reps overloaded, 3% noise), so the current plan is deliberately off
      balance: typically a tenth of the reps sit 20% or more away from their potential target;
    * ``revenue_last_year`` = potential x a penetration rate of the current rep (higher for
      better-rated reps) x noise, and 0 for ~15% prospects.

    Feasibility guarantee. The accounts are first dealt into one hidden group per rep, and
    :func:`fit_to_targets` rescales potential and workload inside each group so that the group sums
    equal that rep's potential and workload targets exactly (see the module docstring) while
    clipping the lognormal tail: no account holds more than ``max_account_share`` of the smallest
    rep's potential target, nor of the smallest workload target; the clipped excess is handed to the
    group's other accounts. Hence assigning every account to its group's rep is within ±5% of both
    targets for every rep (up to cent / 0.1 h rounding, far below 1%), whatever the size. The
    hidden group of an account is random, so the rescaling is invisible in the data.

    Parameters
    ----------
    n_accounts, n_reps : int
        Table sizes. Roughly 8 accounts per rep are needed at ``max_account_share=0.25``.
    seed : int, numpy.random.Generator or None
        Randomness source, passed to :func:`numpy.random.default_rng`.
    sigma : float
        Log-sd of potential (skew of the account base).
    utilization : float
        Total workload / total capacity.
    key_account_share : float
        Share of accounts drawn as key accounts (10-40x potential before clipping).
    with_current : bool
        Include ``current_rep``; ``False`` gives a green-field instance, otherwise identical
        (same seed, same values; the revenue history stays).
    n_cities : int
        Number of account clusters.
    max_account_share : float
        Largest account as a share of the smallest rep's potential and workload targets.
    median_potential : float
        Median of the raw lognormal potential, currency/year.
    with_witness : bool
        Add a ``witness_rep`` column to the accounts: the hidden balanced assignment. Meant for
        tests and benchmarks (a known feasible plan); not part of the data contract.

    Returns
    -------
    accounts : pandas.DataFrame
        Columns :data:`ACCOUNT_COLUMNS` (without ``current_rep`` when ``with_current`` is false).
    reps : pandas.DataFrame
        Columns :data:`REP_COLUMNS`.

    Raises
    ------
    ValueError
        For out-of-range arguments, or too few accounts per rep to respect
        ``max_account_share`` (the message gives the minimum).
    """
    _check_arguments(
        n_accounts, n_reps, sigma, utilization, key_account_share, max_account_share, n_cities
    )
    rng = np.random.default_rng(seed)

    # Reps first: their capacities and tiers fix the targets every account must fit into.
    roster = rep_roster(n_reps, rng)
    capacity, tier, rating = roster.capacity, roster.tier, roster.rating
    pot_share = potential_targets(1.0, capacity, tier)
    work_share = workload_targets(1.0, capacity)

    # Hidden balanced plan: enough accounts per group for the caps to leave room for the target.
    cap_share = max_account_share * _CAP_MARGIN
    try:
        group = witness_groups(
            n_accounts, pot_share, work_share, cap_share * (1.0 - _CAP_JITTER), rng
        )
    except ValueError as exc:
        raise ValueError(
            f"n_accounts={n_accounts} is too small for n_reps={n_reps} with "
            f"max_account_share={max_account_share}: {exc}"
        ) from exc

    # Potential: lognormal body, a few key accounts, tail clipped to the cap (water-filling).
    raw = median_potential * np.exp(rng.normal(0.0, sigma, n_accounts))
    n_key = int(round(key_account_share * n_accounts))
    if key_account_share > 0:
        n_key = max(1, n_key)
    key = rng.choice(n_accounts, size=n_key, replace=False)
    raw[key] *= rng.uniform(10.0, 40.0, n_key)
    pot_target = float(raw.sum()) * pot_share
    jitter = 1.0 - _CAP_JITTER * rng.random(n_accounts)
    potential = fit_to_targets(raw, group, pot_target, cap_share * pot_target.min() * jitter)
    potential = np.round(potential, 2)

    # Workload: fixed overhead per account plus a concave effort curve in potential.
    effort = potential**0.6 * np.exp(rng.normal(0.0, 0.3, n_accounts))
    hours = 0.2 * effort.mean() + effort
    total_hours = utilization * float(capacity.sum())
    work_target = total_hours * work_share
    jitter = 1.0 - _CAP_JITTER * rng.random(n_accounts)
    workload = fit_to_targets(hours, group, work_target, cap_share * work_target.min() * jitter)
    workload = np.maximum(np.round(workload, 1), 0.1)

    # Geography: Zipf-weighted cities, wider spread for bigger ones, a rural scatter.
    lat_lo, lat_hi, lon_lo, lon_hi = US_BOX
    c_lat = rng.uniform(lat_lo + 2.0, lat_hi - 2.0, n_cities)
    c_lon = rng.uniform(lon_lo + 3.0, lon_hi - 3.0, n_cities)
    c_weight = rng.permutation(1.0 / np.arange(1, n_cities + 1))
    c_weight /= c_weight.sum()
    c_sd = 0.2 + 0.8 * np.sqrt(c_weight / c_weight.max())
    city = rng.choice(n_cities, size=n_accounts, p=c_weight)
    lat = c_lat[city] + c_sd[city] * rng.normal(0.0, 1.0, n_accounts)
    lon = c_lon[city] + c_sd[city] * rng.normal(0.0, 1.0, n_accounts) / np.cos(np.radians(lat))
    rural = rng.random(n_accounts) < 0.08
    lat[rural] = rng.uniform(lat_lo, lat_hi, int(rural.sum()))
    lon[rural] = rng.uniform(lon_lo, lon_hi, int(rural.sum()))
    lat = np.round(np.clip(lat, lat_lo, lat_hi), 5)
    lon = np.round(np.clip(lon, lon_lo, lon_hi), 5)

    # Reps live where the business is, spread over their markets.
    home_lat, home_lon = home_bases(lat, lon, potential, n_reps, rng)
    rep_lat = np.round(np.clip(home_lat, lat_lo, lat_hi), 5)
    rep_lon = np.round(np.clip(home_lon, lon_lo, lon_hi), 5)

    current = historical_alignment(
        lat, lon, rep_lat, rep_lon, potential, potential_targets(potential.sum(), capacity, tier),
        rng,
    )  # fmt: skip

    revenue = revenue_history(potential, rating, current, rng)

    columns = {"lat": lat, "lon": lon, "potential": potential, "workload": workload}
    accounts, reps = contract_tables(
        {**columns, "revenue_last_year": revenue}, current, rep_lat, rep_lon, roster, rng
    )
    if not with_current:
        accounts = accounts.drop(columns="current_rep")
    if with_witness:
        accounts["witness_rep"] = pd.Series(reps["rep_id"].to_numpy()[group], dtype="str")
    return accounts, reps
