"""Design mode: k fresh territories from basic units, then the reps who fit them best.

Unlike :func:`territory.workflow.align.align`, nobody owns a territory yet: the optimiser chooses
both the
centres and the units around them (a balanced, contiguous p-median), and only then are reps
matched to the territories (:mod:`territory.domain.matching`).

Two ways to build the territories:

* ``exact`` (small maps): the Hess model with contiguity cuts in
  :func:`solvers.districting.solve_districting`; centres are variables, the bound is proven.
* ``heuristic`` (any size): a location-allocation loop. Place k seats, align the units to them
  with balance and contiguity (the alignment engine, whose LP gives a bound *for those seats*),
  move every seat to its territory's best centre unit, repeat until the centres settle. It
  proves no bound for the design problem itself, and says so.

Compactness is measured around each territory's centre unit: ``moi`` sums workload x km²
(moment of inertia, penalising far-flung units hard), ``travel`` sums workload x km (p-median).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from territory.domain.budget import Budget
from territory.domain.districting import DualGraph, cut_edges, is_contiguous
from territory.domain.geo import haversine_km
from territory.domain.matching import (
    CapacityLimitError,
    MatchWeights,
    RepMatching,
    match_reps,
    suggest_k,
)
from territory.errors import (
    DataValidationError,
    InfeasibilityReason,
    InfeasibleError,
    InputProblem,
    ScenarioError,
    SolveError,
)

Compactness = Literal["moi", "travel"]
Method = Literal["auto", "exact", "heuristic"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

EXACT_UNIT_LIMIT = 150
"""``auto`` uses the exact Hess model up to this many units (n² assignment variables)."""
MAX_ROUNDS = 8
"""Location-allocation rounds of the heuristic; centres usually settle in three or four."""


@dataclass(frozen=True)
class UnitLoads:
    """Units with what they weigh: ``unit_id, lat, lon, potential, workload`` in graph order."""

    table: pd.DataFrame

    @property
    def ids(self) -> list[str]:
        """Unit ids as text, in graph order (the rows of ``table``)."""
        return [str(u) for u in self.table["unit_id"]]


@dataclass(frozen=True)
class Design:
    """k territories over the units: which territory each unit is in, and each one's centre."""

    plan: IntArray
    centres: IntArray
    objective: float
    bound: float | None
    status: str
    method: str
    seconds: float
    rounds: int = 0
    notes: tuple[str, ...] = ()
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def gap(self) -> float | None:
        """Relative gap of objective to bound (None without a bound); 0 means proven optimal."""
        if self.bound is None:
            return None
        return max(0.0, (self.objective - self.bound) / max(abs(self.objective), 1e-12))


_NO_DESIGN = Design(
    plan=np.empty(0, dtype=np.int64), centres=np.empty(0, dtype=np.int64),
    objective=float("inf"), bound=None, status="NONE", method="none", seconds=0.0,
)  # fmt: skip


@dataclass(frozen=True)
class DesignRules:
    """What a design must achieve and how hard to search (see :func:`design_territories`)."""

    k: int
    balance: float
    compactness: Compactness
    contiguity: bool
    method: Method
    time_limit_s: float
    seed: int


def territory_name(t: int) -> str:
    """``T01``, ``T02``, ...: stable names for designed territories."""
    return f"T{t + 1:02d}"


def distances_km(loads: UnitLoads) -> FloatArray:
    """Great-circle km between every pair of units (n x n)."""
    lat = loads.table["lat"].to_numpy(np.float64)
    lon = loads.table["lon"].to_numpy(np.float64)
    return np.asarray(haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :]))


def centred_cost(loads: UnitLoads, dist: FloatArray, compactness: Compactness) -> FloatArray:
    """cost[i, j]: unit i's contribution when its territory is centred at unit j."""
    weight = loads.table["workload"].to_numpy(np.float64)
    if weight.sum() <= 0:
        weight = loads.table["potential"].to_numpy(np.float64)
    power = 2.0 if compactness == "moi" else 1.0
    return np.asarray(weight[:, None] * dist**power)


def best_centres(plan: IntArray, cost: FloatArray, k: int) -> tuple[IntArray, float]:
    """Each territory's centre unit (the one minimising its cost) and the total cost."""
    centres = np.full(k, -1, dtype=np.int64)
    total = 0.0
    for t in range(k):
        members = np.flatnonzero(plan == t)
        if not members.size:
            continue
        sums = cost[np.ix_(members, members)].sum(axis=0)
        best = int(np.argmin(sums))
        centres[t] = int(members[best])
        total += float(sums[best])
    return centres, total


def windows(loads: UnitLoads, k: int, balance: float) -> tuple[FloatArray, FloatArray]:
    """Lower and upper limits per measure (potential, workload) for k equal territories."""
    totals = loads.table[["potential", "workload"]].to_numpy(np.float64).sum(axis=0)
    return (1.0 - balance) * totals / k, (1.0 + balance) * totals / k


def design_territories(
    loads: UnitLoads,
    graph: DualGraph,
    k: int,
    *,
    balance: float = 0.05,
    compactness: Compactness = "moi",
    contiguity: bool = True,
    method: Method = "auto",
    time_limit_s: float = 120.0,
    seed: int = 7,
    soft: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Design:
    """Build k balanced (and by default contiguous) compact territories over the units.

    ``soft`` returns the most balanced design found when the windows cannot be met, with notes
    saying how far they were widened; otherwise such a design is an error.

    Raises :class:`~territory.errors.InfeasibleError` when the rules provably cannot hold, and
    :class:`~territory.errors.SolveError` when no plan was found in time.
    """
    n = len(loads.table)
    if not 1 <= k <= n:
        raise ScenarioError(f"--k must be between 1 and the number of units ({n}); got {k}")
    reasons = oversized_units(loads, k, balance)
    if reasons and not soft:
        raise InfeasibleError(
            reasons,
            hint="Use smaller units, fewer territories (--k), a wider --balance, or --soft for "
            "the most balanced design.",
        )
    rules = DesignRules(k, balance, compactness, contiguity, method, time_limit_s, seed)
    design = _design_all_parts(loads, graph, rules, progress)
    dev_p, dev_w = deviations(loads, design.plan, k)
    if not soft and max(dev_p, dev_w) > balance + 1e-9:
        raise SolveError(
            f"no design within ±{100 * balance:.3g}% was found in {design.seconds:.0f} s; the "
            f"best deviates {100 * dev_p:.2f}% on potential and {100 * dev_w:.2f}% on workload. "
            "Raise --time-limit, widen --balance, or use --soft to keep the best design"
        )
    return design


def deviations(loads: UnitLoads, plan: IntArray, k: int) -> tuple[float, float]:
    """Largest relative deviation from an equal share, on potential and on workload."""
    out = []
    for measure in ("potential", "workload"):
        values = loads.table[measure].to_numpy(np.float64)
        per = np.bincount(plan, weights=values, minlength=k)
        out.append(float(np.abs(per / max(values.sum() / k, 1e-12) - 1.0).max()))
    return out[0], out[1]


def _design_all_parts(
    loads: UnitLoads, graph: DualGraph, rules: DesignRules, progress: Callable[[str], None] | None
) -> Design:
    n = len(loads.table)
    active, sub_graph = _loaded_parts(loads, graph)
    if active.size == n:
        return _design(loads, graph, rules, progress)
    # Parts of the map without any load hold no territory: design the rest, then give each idle
    # unit to the territory whose centre is nearest (contiguity cannot hold for them anyway).
    sub = UnitLoads(loads.table.iloc[active].reset_index(drop=True))
    design = _design(sub, sub_graph, rules, progress)
    centres = active[design.centres]
    lat, lon = loads.table["lat"].to_numpy(np.float64), loads.table["lon"].to_numpy(np.float64)
    to_centres = haversine_km(lat[:, None], lon[:, None], lat[None, centres], lon[None, centres])
    plan = np.argmin(to_centres, axis=1).astype(np.int64)
    plan[active] = design.plan
    idle = n - active.size
    return Design(
        plan=plan, centres=centres, objective=design.objective, bound=design.bound,
        status=design.status, method=design.method, seconds=design.seconds,
        rounds=design.rounds, detail=design.detail,
        notes=design.notes + (
            f"{idle} unit(s) in parts of the map without accounts were given to the nearest "
            "territory centre",
        ),
    )  # fmt: skip


def oversized_units(loads: UnitLoads, k: int, balance: float) -> list[InfeasibilityReason]:
    """Units heavier than a whole territory may be: no design can hold them."""
    _, upper = windows(loads, k, balance)
    reasons = []
    for m, measure in enumerate(("potential", "workload")):
        values = loads.table[measure].to_numpy(np.float64)
        mean = upper[m] / (1.0 + balance)
        for i in np.flatnonzero(values > upper[m] * (1 + 1e-12)).tolist():
            need = values[i] / max(mean, 1e-12) - 1.0
            reasons.append(
                InfeasibilityReason(
                    constraint=f"{measure}_upper",
                    subject=loads.ids[i],
                    message=(
                        f"unit {loads.ids[i]} alone holds {measure} {values[i]:,.0f}, "
                        f"{values[i] / max(mean, 1e-12):.2f}x an equal share of {k} territories "
                        f"(upper limit {upper[m]:,.0f} at ±{100 * balance:.3g}%); it needs "
                        f"±{100 * need:.3g}% or at most {_most(values, i, balance)} "
                        "territories"
                    ),
                    excess=float(values[i] - upper[m]),
                    min_balance=float(need),
                )
            )
    return reasons


def _most(values: FloatArray, i: int, balance: float) -> int:
    """Return the most territories for which unit ``i`` still fits under the upper limit."""
    return max(int((1.0 + balance) * values.sum() / values[i] + 1e-9), 1)


def _loaded_parts(loads: UnitLoads, graph: DualGraph) -> tuple[IntArray, DualGraph]:
    """Units in connected parts of the map that carry some load, and their graph."""
    from scipy.sparse.csgraph import connected_components

    _, part = connected_components(graph.adjacency(), directed=False)
    load = loads.table["potential"].to_numpy(np.float64) + loads.table["workload"].to_numpy(
        np.float64
    )
    loaded = np.unique(part[load > 0])
    active = np.flatnonzero(np.isin(part, loaded)).astype(np.int64)
    position = np.full(graph.n, -1, dtype=np.int64)
    position[active] = np.arange(active.size)
    edges = position[graph.edges]
    edges = edges[(edges >= 0).all(axis=1)]
    sub = DualGraph(
        population=graph.population[active],
        edges=edges,
        names=tuple(graph.names[i] for i in active.tolist()) if graph.names else (),
        centroid_lonlat=None if graph.centroid_lonlat is None else graph.centroid_lonlat[active],
        point_lonlat=None if graph.point_lonlat is None else graph.point_lonlat[active],
    )
    return active, sub


def _design(
    loads: UnitLoads, graph: DualGraph, rules: DesignRules, progress: Callable[[str], None] | None
) -> Design:
    k, balance, compactness, contiguity = (
        rules.k,
        rules.balance,
        rules.compactness,
        rules.contiguity,
    )
    method, time_limit_s, seed = rules.method, rules.time_limit_s, rules.seed
    t0 = time.perf_counter()
    say = progress or (lambda _m: None)
    n = len(loads.table)
    graph = replace(graph, names=tuple(loads.ids))
    dist = distances_km(loads)
    cost = centred_cost(loads, dist, compactness)
    chosen = method if method != "auto" else ("exact" if n <= EXACT_UNIT_LIMIT else "heuristic")
    say(f"designing {k} territories over {n} units ({chosen})")
    budget = Budget(time_limit_s, started=t0)
    seconds = budget.share("design_heuristic") if chosen == "exact" else budget.remaining()
    try:
        heuristic = _location_allocation(loads, graph, rules, dist, cost, seconds, say)
    except SolveError:
        if chosen == "heuristic":
            raise
        heuristic = _NO_DESIGN
    if chosen == "heuristic":
        return heuristic
    from solvers.districting import solve_districting

    lower, upper = windows(loads, k, balance)
    say("exact Hess model with contiguity cuts, started from the heuristic plan")
    exact = solve_districting(
        graph, k,
        weights=loads.table[["potential", "workload"]].to_numpy(np.float64),
        lower=lower, upper=upper, objective="centred", cost=cost, contiguity=contiguity,
        backend="auto", time_limit_s=budget.remaining(),
        warm_start=heuristic.plan if heuristic.plan.size else None, seed=seed,
    )  # fmt: skip
    # A plan under an INFEASIBLE or ERROR status is not one to write: fall back or fail.
    if exact.plan.size == 0 or exact.status.value in ("INFEASIBLE", "ERROR"):
        if exact.plan.size == 0 and exact.status.value == "INFEASIBLE":
            raise InfeasibleError(
                [InfeasibilityReason("design", "all territories", r) for r in exact.reasons],
                hint="Widen --balance, change --k, or drop --contiguity.",
            )
        if heuristic.plan.size:
            return heuristic
        raise SolveError(f"no design found in {time_limit_s:.0f} s ({exact.status.value})")
    centres, objective = best_centres(np.asarray(exact.plan, dtype=np.int64), cost, k)
    if heuristic.plan.size and heuristic.objective < objective - 1e-9:
        return heuristic
    return Design(
        plan=np.asarray(exact.plan, dtype=np.int64),
        centres=centres,
        objective=objective,
        bound=exact.bound,
        status=exact.status.value,
        method=f"exact ({exact.backend})",
        seconds=time.perf_counter() - t0,
        detail=dict(exact.detail),
    )


def _initial_seats(loads: UnitLoads, dist: FloatArray, k: int, seed: int) -> IntArray:
    """k-means++ on the units, weighted by workload: spread seats where the work is."""
    rng = np.random.default_rng(seed)
    weight = loads.table["workload"].to_numpy(np.float64) + 1e-9
    first = (
        int(np.argmax(weight)) if k == 1 else int(rng.choice(len(weight), p=weight / weight.sum()))
    )
    seats = [first]
    nearest = dist[first].copy()
    for _ in range(1, k):
        score = weight * nearest**2
        if score.sum() <= 0:
            candidates = np.setdiff1d(np.arange(len(weight)), seats)
            nxt = int(candidates[0])
        else:
            nxt = int(rng.choice(len(weight), p=score / score.sum()))
        seats.append(nxt)
        nearest = np.minimum(nearest, dist[nxt])
    return np.asarray(seats, dtype=np.int64)


def _location_allocation(
    loads: UnitLoads,
    graph: DualGraph,
    rules: DesignRules,
    dist: FloatArray,
    cost: FloatArray,
    time_limit_s: float,
    say: Callable[[str], None],
) -> Design:
    """Seats, balanced contiguous allocation, best centres; repeat while it gets better.

    ``dist`` holds the km between units and ``cost`` the centred cost built from it.
    """
    from territory.workflow.align import align

    k, balance, contiguity, seed = rules.k, rules.balance, rules.contiguity, rules.seed
    budget = Budget(time_limit_s)
    table = loads.table
    accounts = pd.DataFrame(
        {
            "account_id": loads.ids,
            "lat": table["lat"].to_numpy(np.float64),
            "lon": table["lon"].to_numpy(np.float64),
            "potential": table["potential"].to_numpy(np.float64),
            "workload": table["workload"].to_numpy(np.float64),
            "unit_id": loads.ids,
        }
    )
    seats = _initial_seats(loads, dist, k, seed)
    capacity = max(float(table["workload"].sum()) / k * 10.0, 1.0)
    best: Design | None = None
    seen: set[tuple[int, ...]] = set()
    rounds = 0
    best_key = (np.inf, np.inf)
    for rounds in range(1, MAX_ROUNDS + 1):
        left = budget.remaining()
        if left <= 1.0 or tuple(sorted(seats.tolist())) in seen:
            break
        seen.add(tuple(sorted(seats.tolist())))
        reps = pd.DataFrame(
            {
                "rep_id": [territory_name(t) for t in range(k)],
                "lat": table["lat"].to_numpy()[seats],
                "lon": table["lon"].to_numpy()[seats],
                "capacity": capacity,
            }
        )
        say(f"round {rounds}: allocating units to {k} centres")
        result = align(
            accounts, reps, solver="heuristic", balance=balance, seed=seed,
            family_column="unit_id", unit_graph=graph if contiguity else None,
            contiguity=contiguity, time_limit_s=left, validate=False, soft=True,
            candidates=min(k, 12),
        )  # fmt: skip
        assert result.unit_plan is not None
        plan_by_id = result.unit_plan.reindex(loads.ids)
        labels = plan_by_id.map({territory_name(t): t for t in range(k)})
        plan: IntArray = np.asarray(labels.to_numpy(), dtype=np.int64)
        centres, objective = best_centres(plan, cost, k)
        reached = max(result.report.max_potential_deviation, result.report.max_workload_deviation)
        key = (max(reached - balance, 0.0), objective)
        if best is None or key < best_key:
            best_key = key
            best = Design(
                plan=plan,
                centres=centres,
                objective=objective,
                bound=None,
                status="FEASIBLE",
                method="heuristic (location-allocation)",
                seconds=0.0,
                rounds=rounds,
                detail={
                    "balance_potential_reached": result.report.max_potential_deviation,
                    "balance_workload_reached": result.report.max_workload_deviation,
                },
            )
        else:
            break  # no better than the best round: the centres have settled
        seats = centres
    if best is None:
        raise SolveError("the design heuristic had no time to place a single plan")
    return Design(
        plan=best.plan,
        centres=best.centres,
        objective=best.objective,
        bound=None,
        status=best.status,
        method=best.method,
        seconds=budget.elapsed(),
        rounds=rounds,
        notes=("no lower bound: centres are re-chosen between allocations (use --method exact)",),
        detail=best.detail,
    )


def territory_table(loads: UnitLoads, design: Design, graph: DualGraph) -> pd.DataFrame:
    """One row per designed territory: centre, size, loads and their deviation from equal."""
    table = loads.table
    k = design.centres.shape[0]
    pot = np.bincount(design.plan, weights=table["potential"].to_numpy(np.float64), minlength=k)
    wl = np.bincount(design.plan, weights=table["workload"].to_numpy(np.float64), minlength=k)
    units = np.bincount(design.plan, minlength=k)
    accounts = (
        np.bincount(design.plan, weights=table["n_accounts"].to_numpy(np.float64), minlength=k)
        if "n_accounts" in table.columns
        else np.zeros(k)
    )
    centre = design.centres
    return pd.DataFrame(
        {
            "territory_id": [territory_name(t) for t in range(k)],
            "centre_unit": [loads.ids[c] if c >= 0 else None for c in centre.tolist()],
            "centre_lat": table["lat"].to_numpy()[centre],
            "centre_lon": table["lon"].to_numpy()[centre],
            "n_units": units.astype(np.int64),
            "n_accounts": accounts.astype(np.int64),
            "potential": pot,
            "workload_h": wl,
            "potential_dev": pot / max(pot.mean(), 1e-12) - 1.0,
            "workload_dev": wl / max(wl.mean(), 1e-12) - 1.0,
        }
    )


def design_summary(design: Design, graph: DualGraph, territories: pd.DataFrame) -> dict[str, Any]:
    """Sum up what a reviewer checks first: objective, bound, balance, contiguity, cut edges."""
    return {
        "method": design.method,
        "status": design.status,
        "objective": design.objective,
        "bound": design.bound,
        "gap": design.gap,
        "rounds": design.rounds,
        "contiguous": is_contiguous(design.plan, graph),
        "cut_edges": cut_edges(design.plan, graph),
        "max_potential_deviation": float(territories["potential_dev"].abs().max()),
        "max_workload_deviation": float(territories["workload_dev"].abs().max()),
        "notes": list(design.notes),
    }


def match_designed(
    loads: UnitLoads,
    design: Design,
    territories: pd.DataFrame,
    reps: pd.DataFrame,
    *,
    accounts: pd.DataFrame | None = None,
    unit_of_account: pd.Series | None = None,
    weights: MatchWeights | None = None,
    max_travel_km: float | None = None,
    travel_measure: Literal["centre", "farthest"] = "farthest",
    allow_vacant: bool = False,
    max_load: float | None = None,
) -> RepMatching:
    """Put reps on the designed territories.

    A-players go on the most potential, near home, keeping customers with today's rep where it
    is cheap. ``max_load`` forbids pairs whose workload exceeds that multiple of the rep's
    capacity (see :func:`territory.domain.matching.match_reps`).
    """
    names = np.array([territory_name(t) for t in range(design.centres.shape[0])], dtype=object)
    units = pd.DataFrame(
        {
            "territory_id": names[design.plan],
            "lat": loads.table["lat"].to_numpy(np.float64),
            "lon": loads.table["lon"].to_numpy(np.float64),
            "potential": loads.table["potential"].to_numpy(np.float64),
        }
    )
    continuity = None
    if accounts is not None and unit_of_account is not None and "current_rep" in accounts.columns:
        territory_of_unit = dict(zip(loads.ids, names[design.plan], strict=True))
        book = "revenue_last_year" if "revenue_last_year" in accounts.columns else "potential"
        frame = pd.DataFrame(
            {
                "territory_id": unit_of_account.astype(str).map(territory_of_unit).to_numpy(),
                "rep_id": accounts["current_rep"].to_numpy(),
                "revenue": accounts[book].fillna(0.0).to_numpy(np.float64),
            }
        ).dropna(subset=["territory_id", "rep_id"])
        frame = frame[frame["rep_id"].astype(str) != ""]
        continuity = frame.groupby(["territory_id", "rep_id"])["revenue"].sum().reset_index()
    return match_reps(
        territories[["territory_id", "potential", "workload_h", "centre_lat", "centre_lon"]].rename(
            columns={"workload_h": "workload"}
        ),
        reps,
        units=units,
        continuity=continuity,
        weights=weights,
        max_travel_km=max_travel_km,
        travel_measure=travel_measure,
        allow_vacant=allow_vacant,
        max_load=max_load,
    )


def check_capacity(
    total_workload: float, reps: pd.DataFrame, k: int, max_load: float, balance: float
) -> None:
    """Refuse, before designing, a ``k`` whose territories no ``k`` reps could carry.

    Every territory holds at least ``(1 - balance)`` of an equal share of the workload, so the
    ``k``-th largest capacity x ``max_load`` must reach that much.

    Raises
    ------
    CapacityLimitError
        With the ``k`` that would fit (or saying more reps are needed).
    DataValidationError
        If the reps have no ``capacity`` column to hold the rule against.
    """
    if "capacity" not in reps.columns:
        raise DataValidationError(
            [
                InputProblem(
                    "reps", None, "capacity", "--max-load needs each rep's capacity",
                    "add a 'capacity' column (workload hours a year), or drop --max-load",
                )
            ]
        )  # fmt: skip
    if k < 1:
        return
    capacity = pd.to_numeric(reps["capacity"], errors="coerce").to_numpy(np.float64)
    capacity = np.sort(capacity[np.isfinite(capacity) & (capacity > 0)])[::-1]
    smallest_share = (1.0 - balance) * total_workload / k
    if capacity.size >= k and capacity[k - 1] * max_load >= smallest_share * (1 - 1e-9):
        return
    suggested = suggest_k(total_workload, capacity, max_load)
    held = float(capacity[k - 1]) if capacity.size >= k else 0.0
    reason = InfeasibilityReason(
        constraint="capacity",
        subject=f"{k} territories",
        message=(
            f"{k} territories of {total_workload / k:,.0f} h of workload a year each (at least "
            f"{smallest_share:,.0f} h at ±{100 * balance:.3g}%) need {k} reps with "
            f"{smallest_share / max_load:,.0f} h of capacity at --max-load {max_load:g}; "
            + (
                f"the {k}th largest capacity is {held:,.0f} h"
                if capacity.size >= k
                else f"only {capacity.size} reps have a capacity"
            )
        ),
        excess=smallest_share - held * max_load,
    )
    hint = (
        f"Design with --k {suggested} ({total_workload / suggested:,.0f} h each), or raise "
        "--max-load."
        if suggested is not None
        else f"The reps' capacity ({capacity.sum():,.0f} h) is short of the workload "
        f"({total_workload:,.0f} h) at any k: add reps or raise --max-load."
    )
    raise CapacityLimitError([reason], suggested, hint=hint)


OVER_CAPACITY = 1.0
"""Without ``--max-load``, territories whose workload exceeds the rep's capacity are flagged."""


def capacity_summary(
    matching: RepMatching, reps: pd.DataFrame, total_workload: float
) -> dict[str, Any]:
    """How the designed workload sits on the matched reps: loads, overloads and a workable k.

    ``overloaded`` lists territories whose workload exceeds ``max_load`` (or the capacity
    itself without one) times the matched rep's capacity; ``suggested_k`` is
    :func:`~territory.domain.matching.suggest_k` over every rep's capacity (None without
    capacities, or when the reps cannot carry the work at any k).
    """
    limit = matching.max_load if matching.max_load is not None else OVER_CAPACITY
    table = matching.table
    filled = table[table["rep_id"].notna()] if "load" in table.columns else table.iloc[:0]
    over = filled[filled["load"] > limit * (1 + 1e-9)]
    capacity = (
        pd.to_numeric(reps["capacity"], errors="coerce").to_numpy(np.float64)
        if "capacity" in reps.columns
        else np.zeros(0)
    )
    finite = capacity[np.isfinite(capacity) & (capacity > 0)]
    return {
        "limit": limit,
        "max_load": matching.max_load,
        "total_workload_h": total_workload,
        "total_capacity_h": float(finite.sum()),
        "matched_capacity_h": float(filled["capacity"].sum()) if len(filled) else 0.0,
        "largest_load": float(filled["load"].max()) if len(filled) else None,
        "suggested_k": suggest_k(total_workload, finite, limit) if finite.size else None,
        "overloaded": [
            {
                "territory_id": str(row["territory_id"]),
                "rep_id": str(row["rep_id"]),
                "workload_h": float(row["workload"]),
                "capacity_h": float(row["capacity"]),
                "load": float(row["load"]),
            }
            for row in over.to_dict("records")
        ],
    }


def unmatched_reps(matching: RepMatching, reps: pd.DataFrame) -> pd.DataFrame:
    """Reps the matching left without a territory, with what they could carry and why.

    Parameters
    ----------
    matching
        The result of :func:`match_reps`.
    reps
        The reps table given to it (``rep_id`` and optionally ``name``, ``tier``, ``rating``,
        ``capacity``, ``lat``, ``lon``).

    Returns
    -------
    pandas.DataFrame
        One row per unmatched rep, sorted by ``rep_id``: the rep's columns above that exist and
        ``reason`` in words.
    """
    k = len(matching.table)
    n_reps = len(reps)
    if n_reps > k:
        reason = f"{n_reps} reps for {k} territories; the {k} placed scored higher"
    else:
        reason = "no territory within the travel or capacity limits was left for this rep"
    if matching.max_load is not None and n_reps > k:
        reason += f"; pairs over {matching.max_load:.2f}x capacity were not allowed"
    columns = [
        c for c in ("rep_id", "name", "tier", "rating", "capacity", "lat", "lon") if c in reps
    ]
    frame = reps[columns].assign(rep_id=reps["rep_id"].astype(str))
    frame = frame[frame["rep_id"].isin(set(matching.unassigned_reps))]
    frame = frame.sort_values("rep_id", kind="stable").reset_index(drop=True)
    return frame.assign(reason=[reason] * len(frame))


def _unit_numbers(units: pd.DataFrame, column: str, ids: list[str]) -> pd.Series:
    """Read a unit layer's numeric column (blank is 0), refusing text and overflowing values."""
    from territory.io import MAX_TOTAL_MAGNITUDE

    raw = units[column]
    numbers = pd.to_numeric(raw, errors="coerce")
    blank = raw.isna() | raw.astype(str).str.strip().isin(["", "nan", "None"])
    values = numbers.to_numpy(np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        bad = (np.isnan(values) & ~blank.to_numpy()) | (np.abs(values) > MAX_TOTAL_MAGNITUDE)
    if bad.any():
        limit = f"{MAX_TOTAL_MAGNITUDE:.0e}".replace("e+", "e")
        cells = [raw.iloc[i] for i in np.flatnonzero(bad)[:10].tolist()]
        shown = ", ".join(
            f"{ids[i]!r} ({v.item() if isinstance(v, np.generic) else v!r})"
            for i, v in zip(np.flatnonzero(bad)[:10].tolist(), cells, strict=True)
        )
        raise DataValidationError(
            [
                InputProblem(
                    "units", None, column,
                    f"{int(bad.sum())} unit(s) have a {column} that is not a number or is beyond "
                    f"the largest magnitude supported ({limit}): {shown}",
                    f"enter {column} as a plain finite number per unit, or leave it blank for 0",
                )
            ]
        )  # fmt: skip
    return numbers.fillna(0.0)


def unit_loads(
    units: pd.DataFrame,
    lonlat: FloatArray,
    accounts: pd.DataFrame | None = None,
    unit_of_account: pd.Series | None = None,
    potential_column: str = "potential",
    workload_column: str = "workload",
) -> UnitLoads:
    """Weigh each unit: its accounts summed, or the unit layer's own columns."""
    ids = [str(u) for u in units["unit_id"]]
    if accounts is not None:
        from territory.io.units import aggregate_accounts

        assert unit_of_account is not None
        table = aggregate_accounts(accounts, unit_of_account, ids)
    else:
        missing = [c for c in (potential_column,) if c not in units.columns]
        if missing:
            raise DataValidationError(
                [
                    InputProblem(
                        "units", None, potential_column,
                        f"the unit layer has no '{potential_column}' column and no accounts "
                        "were given",
                        "pass --accounts, or name the unit layer's potential column with "
                        "--potential-column",
                    )
                ]
            )  # fmt: skip
        potential = _unit_numbers(units, potential_column, ids)
        workload = (
            _unit_numbers(units, workload_column, ids)
            if workload_column in units.columns
            else potential
        )
        table = pd.DataFrame(
            {
                "unit_id": ids,
                "potential": potential.to_numpy(np.float64),
                "workload": workload.to_numpy(np.float64),
                "n_accounts": np.zeros(len(ids), dtype=np.int64),
            }
        )
    table = table.assign(lat=lonlat[:, 1], lon=lonlat[:, 0])
    return UnitLoads(table=table.reset_index(drop=True))
