"""The transition plan from the current alignment to a new one (``transitions.csv``).

One row per moved account: an account moves when it has a current rep and its new rep differs
(the rule of :func:`territory.domain.metrics.moved_mask`; accounts without a current rep are new,
not
moves). Each row says why the account moves, in which hand-off wave and how much of last year's
revenue the move puts at risk.

Reason. The first rule that holds, tested in this order (:data:`REASONS`):

1. ``vacancy`` - the old rep leaves: listed in ``vacant_reps`` or ``removed_reps``, flagged
   ``vacant`` in a reps table, a to-be-hired placeholder (id starting ``TBH``), or absent from
   the new reps table;
2. ``lock`` - the account is locked to its new rep (``locked`` or the ``locked_rep`` column);
3. ``capacity`` - the old rep was over capacity before (workload / capacity above
   ``capacity_limit``) and is not any more;
4. ``travel`` - the new rep's home base is closer by at least ``travel_margin_km`` km and by
   at least ``travel_margin_share`` of the old distance;
5. ``balance`` - otherwise: the account moves to even out potential and workload.

Wave. Moves are handed over in three waves, lowest risk first (:class:`WaveRule`): wave 1 the
prospects and small buyers, wave 3 the key accounts (largest revenue, or a key segment), wave 2
the rest, including accounts whose revenue is unknown.

Revenue at risk is ``revenue_last_year x risk_rate``: the share of revenue customers are expected
to take elsewhere when their rep changes (15% by default, the transition loss rate check T2 uses).

Everything here is pure: no file is read or written and the inputs are never modified.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from territory.domain.arrays import BoolArray, FloatArray, ObjectArray, PlanLike
from territory.domain.contract import is_blank
from territory.domain.geo import haversine_km
from territory.domain.metrics import moved_mask
from territory.domain.run import RunData as PlanFolder
from territory.errors import DataValidationError, InputProblem, ScenarioError

__all__ = [
    "DEFAULT_RISK_RATE",
    "REASONS",
    "TRANSITION_COLUMNS",
    "WAVES",
    "WaveRule",
    "transition_plan",
    "transition_summary",
    "transitions_for_run",
]

DEFAULT_RISK_RATE = 0.15
"""Share of a moved account's revenue expected to be lost in the hand-off (check T2's default)."""

REASONS = ("vacancy", "lock", "capacity", "travel", "balance")
"""Reasons for a move, in the order they are tested: the first that holds is the reason."""

WAVES = (1, 2, 3)
"""Hand-off waves, lowest risk first."""

TRANSITION_COLUMNS = (
    "account_id",
    "name",
    "from_rep",
    "to_rep",
    "potential",
    "revenue_last_year",
    "distance_km_before",
    "distance_km_after",
    "reason",
    "wave",
    "revenue_at_risk",
)
"""Columns of ``transitions.csv``, in order."""


_TRUE = frozenset({"1", "1.0", "true", "yes", "y", "t"})


@dataclass(frozen=True)
class WaveRule:
    """How moved accounts are grouped into hand-off waves, lowest risk first.

    A moved account goes to

    * wave 3 when its segment is in ``key_segments`` or its revenue last year is at least
      ``key_revenue`` (a key account: hand it over last, with the most care);
    * wave 1 when its revenue last year is at most ``small_revenue`` (prospects with no revenue
      always are: little to lose, so they go first);
    * wave 2 otherwise, and whenever its revenue is unknown.

    A threshold left as None is the ``small_quantile`` / ``key_quantile`` quantile of last year's
    revenue over every account that bought something (not only the moved ones), so the same
    account lands in the same wave whichever scenario moves it.
    """

    small_revenue: float | None = None
    key_revenue: float | None = None
    small_quantile: float = 0.25
    key_quantile: float = 0.90
    key_segments: tuple[str, ...] = ()

    def thresholds(self, revenue: FloatArray) -> tuple[float, float]:
        """``(small_revenue, key_revenue)`` in currency for the given revenue of all accounts."""
        _check_rule(self)
        buyers = revenue[np.isfinite(revenue) & (revenue > 0)]
        small, key = self.small_revenue, self.key_revenue
        if small is None:
            small = float(np.quantile(buyers, self.small_quantile)) if buyers.size else 0.0
        if key is None:
            key = float(np.quantile(buyers, self.key_quantile)) if buyers.size else math.inf
        return float(small), float(key)


def _check_rule(rule: WaveRule) -> None:
    problems = []
    for name in ("small_quantile", "key_quantile"):
        value = getattr(rule, name)
        if not 0.0 <= value <= 1.0:
            problems.append(f"{name} = {value} must be between 0 and 1")
    if rule.small_quantile > rule.key_quantile:
        problems.append(
            f"small_quantile = {rule.small_quantile} must not exceed key_quantile = "
            f"{rule.key_quantile}"
        )
    for name in ("small_revenue", "key_revenue"):
        value = getattr(rule, name)
        if value is not None and not value >= 0:
            problems.append(f"{name} = {value} must be 0 or more")
    if problems:
        raise ScenarioError("invalid wave rule: " + "; ".join(problems))


def transition_plan(
    accounts: pd.DataFrame,
    plan_before: PlanLike | None,
    plan_after: PlanLike,
    reps: pd.DataFrame,
    *,
    reps_before: pd.DataFrame | None = None,
    territories_before: pd.DataFrame | None = None,
    territories_after: pd.DataFrame | None = None,
    locked: Mapping[str, str] | PlanLike | None = None,
    vacant_reps: Iterable[str] = (),
    removed_reps: Iterable[str] = (),
    capacity_before: Mapping[str, float] | None = None,
    capacity_after: Mapping[str, float] | None = None,
    risk_rate: float = DEFAULT_RISK_RATE,
    capacity_limit: float = 1.0,
    travel_margin_km: float = 10.0,
    travel_margin_share: float = 0.25,
    waves: WaveRule | None = None,
) -> pd.DataFrame:
    """List the moves from ``plan_before`` to ``plan_after``, one row per moved account.

    Parameters
    ----------
    accounts
        The accounts table: ``account_id`` and ``potential``; ``name``, ``revenue_last_year``,
        ``lat``/``lon`` (distances), ``workload`` (capacity rule), ``current_rep``,
        ``locked_rep`` and ``segment`` are used when present.
    plan_before, plan_after
        The rep of every account before and after: an array aligned with the accounts' rows, a
        Series indexed by account id, or a frame with ``account_id`` and ``rep_id`` (such as
        ``plan.parquet``). ``plan_before=None`` takes the ``current_rep`` column. A blank rep
        before means a new account (never a move); every account needs a rep after.
    reps
        The reps of the new plan: ``rep_id``, home base ``lat``/``lon``, ``capacity`` (hours per
        year) and optionally ``vacant``. A current rep missing from it has left (a vacancy).
    reps_before
        The reps of the current plan when they differ (removed reps' home bases and capacity);
        defaults to ``reps``.
    territories_before, territories_after
        Territory tables (``territories.csv``) with ``rep_id`` and ``utilization`` (or
        ``workload`` and ``capacity``); when given, they decide who is over capacity instead of
        the workload summed from the plans.
    locked
        The rep each account is locked to (account id -> rep id, or aligned like a plan);
        defaults to the ``locked_rep`` column.
    vacant_reps, removed_reps
        Current reps whose seat is vacant or who leave: their accounts move for ``vacancy``.
    capacity_before, capacity_after
        Hours per year by rep id, overriding the reps tables' ``capacity`` (a capacity lever).
    risk_rate
        Share of last year's revenue at risk when an account changes rep, 0..1.
    capacity_limit
        Utilisation (workload / capacity) above which a rep is over capacity.
    travel_margin_km, travel_margin_share
        How much closer the new rep's home base must be for a ``travel`` move.
    waves
        The wave rule (:class:`WaveRule` defaults when None).

    Returns
    -------
    ``transitions.csv`` as a frame with :data:`TRANSITION_COLUMNS`, sorted by wave, from rep,
    to rep and account id. Distances are km to the rep's home base (blank when unknown),
    ``revenue_at_risk`` is rounded to the cent and blank when the revenue is unknown.

    Raises
    ------
    DataValidationError
        Columns are missing, a plan does not cover every account, or an account has no rep after.
    ScenarioError
        A rate, margin or wave rule is out of range.
    """
    rule = waves if waves is not None else WaveRule()
    _check_rule(rule)
    _check_parameters(risk_rate, capacity_limit, travel_margin_km, travel_margin_share)
    _require(accounts, ("account_id", "potential"), "accounts")
    _require(reps, ("rep_id",), "reps")
    ids = accounts["account_id"].astype(str).to_numpy(dtype=object)
    if plan_before is None:
        if "current_rep" not in accounts.columns:
            raise _problem(
                "accounts",
                "current_rep",
                "there is no current_rep column, so the plan before is unknown",
                "add current_rep to the accounts or pass plan_before",
            )
        before = _texts(accounts["current_rep"].to_numpy(dtype=object))
    else:
        before = _aligned(plan_before, ids, "plan_before")
    after = _aligned(plan_after, ids, "plan_after")
    blank_after = np.array([r is None for r in after.tolist()], dtype=bool)
    if blank_after.any():
        raise _problem(
            "plan_after",
            "rep_id",
            f"{int(blank_after.sum())} account(s) have no rep after the change, e.g. "
            f"{', '.join(map(str, ids[blank_after][:5]))}",
            "assign every account to a rep in the new plan",
        )
    old_reps = reps_before if reps_before is not None else reps

    moved = moved_mask(pd.DataFrame({"current_rep": before}), after)
    rows = np.flatnonzero(moved)
    from_rep = before[rows].astype(str).astype(object)
    to_rep = after[rows].astype(str).astype(object)

    dist_before = _distance(accounts, rows, from_rep, old_reps, reps)
    dist_after = _distance(accounts, rows, to_rep, reps, old_reps)
    revenue_all = _column(accounts, "revenue_last_year")
    revenue = revenue_all[rows]
    potential = _column(accounts, "potential")[rows]

    gone = _leaving_reps(reps, old_reps, vacant_reps, removed_reps)
    # A rep who holds accounts today but is not in the new reps table has left.
    gone |= {str(r) for r in from_rep.tolist()} - set(reps["rep_id"].astype(str).tolist())
    is_vacancy = np.array([r in gone for r in from_rep.tolist()], dtype=bool)
    lock_to = _locks(accounts, locked, ids)[rows]
    is_lock = np.array(
        [
            lk is not None and lk == t
            for lk, t in zip(lock_to.tolist(), to_rep.tolist(), strict=True)
        ],
        dtype=bool,
    )
    util_before = _utilisation(
        accounts, before, old_reps, reps, territories_before, capacity_before
    )
    util_after = _utilisation(accounts, after, reps, old_reps, territories_after, capacity_after)
    is_capacity = np.array(
        [
            util_before.get(r, math.nan) > capacity_limit
            and util_after.get(r, 0.0) <= capacity_limit
            for r in from_rep.tolist()
        ],
        dtype=bool,
    )
    saving = dist_before - dist_after
    with np.errstate(invalid="ignore"):
        is_travel = (saving >= travel_margin_km) & (saving >= travel_margin_share * dist_before)
    reason = np.select(
        [is_vacancy, is_lock, is_capacity, is_travel],
        list(REASONS[:4]),
        default=REASONS[4],
    ).astype(object)

    small, key = rule.thresholds(revenue_all)
    segment = (
        accounts["segment"].astype(object).to_numpy()[rows]
        if "segment" in accounts.columns
        else np.full(rows.size, None, dtype=object)
    )
    key_segments = {str(s) for s in rule.key_segments}
    is_key_segment = np.array(
        [s is not None and s == s and str(s) in key_segments for s in segment.tolist()],
        dtype=bool,
    )
    known = np.isfinite(revenue)
    with np.errstate(invalid="ignore"):
        wave = np.where(
            is_key_segment | (known & (revenue >= key)),
            3,
            np.where(known & (revenue <= small), 1, 2),
        ).astype(np.int64)

    names = (
        accounts["name"].astype(object).to_numpy()[rows]
        if "name" in accounts.columns
        else np.full(rows.size, None, dtype=object)
    )
    table = pd.DataFrame(
        {
            "account_id": ids[rows],
            "name": _texts(names.tolist()),
            "from_rep": from_rep,
            "to_rep": to_rep,
            "potential": potential,
            "revenue_last_year": revenue,
            "distance_km_before": np.round(dist_before, 3),
            "distance_km_after": np.round(dist_after, 3),
            "reason": reason,
            "wave": wave,
            "revenue_at_risk": np.round(revenue * risk_rate, 2),
        },
        columns=list(TRANSITION_COLUMNS),
    )
    order = table.sort_values(["wave", "from_rep", "to_rep", "account_id"], kind="mergesort").index
    return table.loc[order].reset_index(drop=True)


def transition_summary(transitions: pd.DataFrame) -> dict[str, Any]:
    """Totals of a transition plan: moves, potential, revenue and revenue at risk, by wave too.

    Returns
    -------
    ``{"moves", "potential", "revenue_last_year", "revenue_at_risk", "waves": [...],
    "reasons": {...}}``; ``waves`` has one entry per wave in :data:`WAVES` (zero when empty)
    and ``reasons`` a count per reason in :data:`REASONS`. Unknown revenue counts as 0.
    """
    frame = transitions

    def totals(part: pd.DataFrame) -> dict[str, Any]:
        return {
            "moves": len(part),
            "potential": float(np.nansum(part["potential"].to_numpy(np.float64))),
            "revenue_last_year": float(np.nansum(part["revenue_last_year"].to_numpy(np.float64))),
            "revenue_at_risk": round(
                float(np.nansum(part["revenue_at_risk"].to_numpy(np.float64))), 2
            ),
        }

    waves = [{"wave": w, **totals(frame[frame["wave"] == w])} for w in WAVES]
    counts = frame["reason"].value_counts()
    return {
        **totals(frame),
        "waves": waves,
        "reasons": {r: int(counts.get(r, 0)) for r in REASONS},
    }


def transitions_for_run(run: PlanFolder, **options: Any) -> pd.DataFrame:
    """Plan the transition from the current reps (``current_rep``) to an alignment run's plan.

    Reps that hold accounts today but are not in the run's reps table have left, so their
    accounts move for ``vacancy``; the run's territories decide who is over capacity after.
    ``options`` are passed on to :func:`transition_plan`.
    """
    options.setdefault("territories_after", run.territories)
    return transition_plan(run.accounts, None, run.plan, run.reps, **options)


# --------------------------------------------------------------------------- helpers


def _check_parameters(
    risk_rate: float, capacity_limit: float, margin_km: float, margin_share: float
) -> None:
    problems = []
    if not 0.0 <= risk_rate <= 1.0:
        problems.append(f"risk_rate = {risk_rate} must be between 0 and 1 (0.15 = 15%)")
    if not capacity_limit > 0:
        problems.append(f"capacity_limit = {capacity_limit} must be more than 0 (1.0 = 100%)")
    if not margin_km >= 0:
        problems.append(f"travel_margin_km = {margin_km} must be 0 or more")
    if not 0.0 <= margin_share <= 1.0:
        problems.append(f"travel_margin_share = {margin_share} must be between 0 and 1")
    if problems:
        raise ScenarioError("invalid transition settings: " + "; ".join(problems))


def _problem(source: str, column: str | None, message: str, fix: str) -> DataValidationError:
    return DataValidationError([InputProblem(source, None, column, message, fix)])


def _require(frame: pd.DataFrame, columns: Iterable[str], source: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataValidationError(
            [
                InputProblem(source, None, c, "the column is missing", f"add a '{c}' column")
                for c in missing
            ]
        )


def _texts(values: Iterable[object]) -> ObjectArray:
    """Cells (rep ids, names) as text, None for blank ones (NaN, NA, empty)."""
    return np.array([None if is_blank(v) else str(v) for v in values], dtype=object)


def _aligned(plan: Any, ids: ObjectArray, source: str) -> ObjectArray:
    """Return the rep of every account, in the accounts' row order."""
    if isinstance(plan, pd.DataFrame):
        _require(plan, ("account_id", "rep_id"), source)
        by_id = pd.Series(
            plan["rep_id"].to_numpy(dtype=object),
            index=plan["account_id"].astype(str).to_numpy(dtype=object),
        )
        return _by_id(by_id, ids, source)
    if isinstance(plan, pd.Series) and not isinstance(plan.index, pd.RangeIndex):
        return _by_id(plan, ids, source)
    values = np.asarray(plan, dtype=object).ravel()
    if values.size != ids.size:
        raise _problem(
            source,
            None,
            f"the plan has {values.size} rep(s) for {ids.size} account(s)",
            "give one rep per account, in the accounts' order, or a frame with account_id "
            "and rep_id",
        )
    return _texts(values.tolist())


def _by_id(plan: pd.Series, ids: ObjectArray, source: str) -> ObjectArray:
    index = plan.index.astype(str)
    if index.has_duplicates:
        dupes = sorted(set(index[index.duplicated()].tolist()))
        raise _problem(
            source,
            "account_id",
            f"account ids appear more than once: {', '.join(dupes[:5])}",
            "give each account one rep",
        )
    lookup = dict(zip(index.tolist(), plan.to_numpy(dtype=object).tolist(), strict=True))
    absent = [i for i in ids.tolist() if i not in lookup]
    if absent:
        raise _problem(
            source,
            "account_id",
            f"{len(absent)} account(s) are not in the plan, e.g. {', '.join(absent[:5])}",
            "give a rep for every account of the accounts table",
        )
    return _texts(lookup[i] for i in ids.tolist())


def _column(frame: pd.DataFrame, name: str) -> FloatArray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return np.asarray(pd.to_numeric(frame[name], errors="coerce"), dtype=np.float64)


def _homes(*tables: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """Home base (lat, lon) by rep id; earlier tables win."""
    out: dict[str, tuple[float, float]] = {}
    for table in reversed(tables):
        if not {"lat", "lon"} <= set(table.columns):
            continue
        lat = _column(table, "lat")
        lon = _column(table, "lon")
        for rep, a, b in zip(table["rep_id"].astype(str).tolist(), lat, lon, strict=True):
            out[rep] = (float(a), float(b))
    return out


def _distance(
    accounts: pd.DataFrame,
    rows: npt.NDArray[np.intp],
    rep: ObjectArray,
    first: pd.DataFrame,
    second: pd.DataFrame,
) -> FloatArray:
    if not {"lat", "lon"} <= set(accounts.columns):
        return np.full(rows.size, np.nan)
    homes = _homes(first, second)
    home = np.array([homes.get(r, (math.nan, math.nan)) for r in rep.tolist()], dtype=np.float64)
    home = home.reshape(rows.size, 2)
    return haversine_km(
        _column(accounts, "lat")[rows], _column(accounts, "lon")[rows], home[:, 0], home[:, 1]
    )


def _truthy(values: pd.Series) -> BoolArray:
    text = values.astype("string").str.strip().str.lower()
    return np.asarray(text.isin(list(_TRUE)).fillna(False), dtype=np.bool_)


def _leaving_reps(
    reps: pd.DataFrame,
    old_reps: pd.DataFrame,
    vacant_reps: Iterable[str],
    removed_reps: Iterable[str],
) -> set[str]:
    """Reps whose accounts must move whatever the balance: vacant, leaving or placeholders."""
    gone = {str(r) for r in vacant_reps} | {str(r) for r in removed_reps}
    present = set(reps["rep_id"].astype(str).tolist())
    candidates = present | set(old_reps["rep_id"].astype(str).tolist())
    gone |= {r for r in candidates if r.upper().startswith("TBH")}
    for table in (reps, old_reps):
        if "vacant" in table.columns:
            flagged = table["rep_id"].astype(str).to_numpy(dtype=object)[_truthy(table["vacant"])]
            gone |= set(flagged.tolist())
    # A rep who holds accounts today but is not in the new reps table has left.
    gone |= candidates - present
    return gone


def _locks(accounts: pd.DataFrame, locked: Any, ids: ObjectArray) -> ObjectArray:
    if locked is None:
        if "locked_rep" not in accounts.columns:
            return np.full(ids.size, None, dtype=object)
        return _texts(accounts["locked_rep"].to_numpy(dtype=object).tolist())
    if isinstance(locked, Mapping):
        table = {str(k): v for k, v in locked.items()}
        return _texts(table.get(i) for i in ids.tolist())
    return _aligned(locked, ids, "locked")


def _utilisation(
    accounts: pd.DataFrame,
    plan: ObjectArray,
    reps: pd.DataFrame,
    other_reps: pd.DataFrame,
    territories: pd.DataFrame | None,
    capacity: Mapping[str, float] | None,
) -> dict[str, float]:
    """Workload / capacity by rep id, from the territory table when given, else from the plan."""
    hours: dict[str, float] = {}
    for table in (other_reps, reps):
        if "capacity" in table.columns:
            values = _column(table, "capacity")
            hours.update(zip(table["rep_id"].astype(str).tolist(), values.tolist(), strict=True))
    if capacity is not None:
        hours.update({str(k): float(v) for k, v in capacity.items()})
    if territories is not None and "rep_id" in territories.columns:
        reps_of = territories["rep_id"].astype(str).str.removeprefix("'").tolist()
        if "workload" in territories.columns and (
            capacity is not None or "utilization" not in territories.columns
        ):
            load = _column(territories, "workload")
            return {
                r: w / hours[r] if hours.get(r, 0.0) > 0 else math.nan
                for r, w in zip(reps_of, load.tolist(), strict=True)
            }
        if "utilization" in territories.columns:
            util = _column(territories, "utilization")
            return dict(zip(reps_of, util.tolist(), strict=True))
    if "workload" not in accounts.columns:
        return {}
    workload = np.nan_to_num(_column(accounts, "workload"))
    totals: dict[str, float] = {}
    for rep, w in zip(plan.tolist(), workload.tolist(), strict=True):
        if rep is not None:
            totals[rep] = totals.get(rep, 0.0) + w
    return {r: w / hours[r] if hours.get(r, 0.0) > 0 else math.nan for r, w in totals.items()}
