"""The alignment workflow: validate, check feasibility, relax, construct, improve, report.

This module and the workflows built on it (``design``, ``scale``) are the only parts of
``territory`` that call solver backends; the domain modules (model, metrics, feasibility, io,
units, districting, matching) stay free of them. Every lever comes in one
:class:`~territory.domain.spec.AlignmentSpec` and the time in one
:class:`~territory.domain.budget.Budget`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from solvers import get_solver
from solvers.base import Solution, SolveStatus
from solvers.contiguity import neighbour_pairs
from solvers.heuristic import HeuristicSolver
from solvers.lp import (
    PRICING_CHUNK_PAIRS,
    PRICING_PAIR_LIMIT,
    PRICING_THREADS,
    solve_min_deviation,
    solve_relaxation,
)
from solvers.neighbourhood import unbalanced_reasons
from territory.domain.budget import Budget
from territory.domain.districting import DualGraph
from territory.domain.feasibility import presolve_reasons
from territory.domain.model import (
    AlignmentProblem,
    AlignmentSettings,
    build_problem,
    connector_units,
    with_unit_graph,
)
from territory.domain.spec import AUTO_GAP, EXACT_GAP, AlignmentSpec
from territory.errors import (
    InfeasibilityReason,
    InfeasibleError,
    ScenarioError,
    SolveError,
    UsageError,
)
from territory.io import validate_inputs
from territory.workflow.relaxation import (
    balance_reason,
    lp_infeasible,
    priced_relaxation,
    relaxation,
    widen,
)
from territory.workflow.rescue import rescue
from territory.workflow.resources import MemoryEstimate, check_pair_memory, estimate_pair_memory
from territory.workflow.result import (
    AlignmentResult,
    SolveLog,
    SolveReport,
    deviations,
    frame_hash,
    require_plan,
    solve_result,
)
from territory.workflow.scale import align_large, should_decompose

__all__ = [
    "AUTO_GAP",
    "EXACT_GAP",
    "AlignmentResult",
    "AlignmentSpec",
    "SolveReport",
    "align",
    "frame_hash",
    "pair_memory",
]

Progress = Callable[[str], None]

AUTO_EXACT_PAIR_LIMIT = 400_000
"""``auto`` hands the heuristic's plan to the MIP backend up to this many candidate pairs."""

SOFT_ATTEMPTS = 8
"""Soft mode widens the windows at most this many times before giving up."""

_require_plan = require_plan
"""The last guard before a plan leaves (kept under this name for its tests)."""


def pair_memory(
    n_accounts: int, n_reps: int, candidates: int, *, decomposed: bool
) -> MemoryEstimate:
    """Memory for the candidate pairs of a solve and its all-pairs pricing chunks.

    The direct pipeline prices every pair only up to :data:`PRICING_PAIR_LIMIT` combinations;
    the decomposed one always does (:mod:`territory.workflow.scale`, stage 3).
    """
    priced = decomposed or n_accounts * n_reps <= PRICING_PAIR_LIMIT
    return estimate_pair_memory(
        n_accounts, n_reps, candidates, decomposed=decomposed,
        pricing_chunk_pairs=PRICING_CHUNK_PAIRS if priced else 0,
        pricing_threads=PRICING_THREADS,
    )  # fmt: skip


def align(
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    spec: AlignmentSpec | None = None,
    *,
    forbidden: pd.DataFrame | None = None,
    unit_graph: DualGraph | None = None,
    validate: bool = True,
    input_hashes: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    **levers: Any,
) -> AlignmentResult:
    """Assign every account to one rep with balanced potential and workload at least travel.

    Parameters
    ----------
    accounts, reps
        Tables following the data contract (see README); validated unless ``validate=False``.
    spec
        The levers as one :class:`~territory.domain.spec.AlignmentSpec`; keyword ``levers`` (any of
        its fields, as below) change it, so ``align(a, r, balance=0.03)`` needs no spec.
    balance
        Allowed relative deviation from target, for both potential and workload (0.05 = ±5%);
        ``potential_balance`` / ``workload_balance`` override it per measure.
    solver
        ``auto``, ``heuristic``, ``cpsat`` or ``mip``. ``auto`` runs the heuristic and hands its
        plan to the MIP backend when the gap is above ``gap`` and the model is small enough.
    time_limit_s
        Wall-clock budget; the best plan found by then is returned with its gap.
    disruption_weight
        Objective cost (hour-km) per unit of potential moved away from its current rep.
    soft
        When the tolerances cannot be met, minimise the largest deviation instead of failing.
    max_distance_km
        No account goes to a rep whose home base is further away (locked accounts excepted).
    forbidden
        Account-rep pairs (columns ``account_id``, ``rep_id``) that must never occur, as a table
        (a spec's ``forbidden`` names the file: :func:`territory.pipeline.alignment_inputs` reads
        it, and the unit layer of ``units``).
    family_column
        Accounts sharing a value in this column (parent and child companies) go to one rep.
    unit_graph, contiguity
        With ``contiguity``, every rep's units (the values of ``family_column``, named by
        ``unit_graph.names``) form one connected piece of ``unit_graph``; units without accounts
        join the problem empty so that territories can run through them.
    compactness, cut_edge_weight
        ``travel`` prices workload x km to the rep's home, ``moi`` workload x km² (moment of
        inertia around the home base); ``cut_edge_weight`` adds that cost per pair of
        neighbouring units held by different reps (needs ``contiguity``'s unit graph).
    max_moved_accounts, max_moved_revenue_share
        Caps on how many accounts, and what share of last year's revenue, may change rep
        ("keep 90% of revenue with its current rep" is a share of 0.10). Enforced by pricing
        each move (a Lagrange multiplier found by bisection); the bound reported is the
        Lagrangian bound, valid for every plan that respects the caps.
    gap
        Relative gap (objective - bound) / objective at which the search may stop: default 1%
        for ``auto`` (the heuristic usually gets there alone, deterministically) and 1e-6 for an
        explicitly chosen exact backend.
    decompose, checkpoint
        ``auto`` solves instances from :data:`territory.workflow.scale.DECOMPOSE_ACCOUNTS` accounts
        up by
        micro-clusters and account-level refinement (:func:`territory.workflow.scale.align_large`);
        ``on``/``off`` force it. ``checkpoint`` (decomposed solves) is a directory where stages
        are saved so an interrupted run resumes.
    validate, input_hashes, progress
        Check the tables first; the hashes recorded in ``solve.json`` (default: of the
        tables' contents); a callback told each stage as it starts.

    Raises
    ------
    DataValidationError
        The tables break the data contract (every problem listed).
    InfeasibleError
        The rules cannot all hold; the reasons name accounts or reps and the tolerance needed.
    SolveError
        No plan was found although none was ruled out (for example the time ran out first).
    SolverUnavailableError
        ``solver`` names no backend, or one that cannot run here.
    ScenarioError
        A cap on moves out of range, or rules that need what was not given (contiguity without
        a unit graph).
    TypeError
        A keyword that names no lever.
    UsageError
        An argument is out of range (a tolerance of 1 or more, NaN, ``candidates`` below 1,
        ...), or (``ResourceLimitError``) the candidate pairs would not fit in memory.
    """
    spec = AlignmentSpec.build(spec, **levers)
    _check_files_read(spec, accounts, forbidden)
    caps = _MoveCaps.of(accounts, spec)
    unsupported = (
        "caps on moved accounts or revenue"
        if caps is not None
        else ("contiguity rules" if spec.contiguity else None)
    )
    decomposed = should_decompose(
        spec.decompose,
        len(accounts),
        unsupported,
        time_limit_s=spec.time_limit_s if spec.solver == "auto" else None,
    )
    # Before any candidate pair exists: refuse a model that cannot fit, saying what would.
    n_accounts, n_reps, k = len(accounts), len(reps), spec.candidates
    check_pair_memory(
        pair_memory(n_accounts, n_reps, k, decomposed=decomposed),
        decomposed=(
            None
            if decomposed or unsupported
            else pair_memory(n_accounts, n_reps, k, decomposed=True)
        ),
    )
    budget = spec.budget()
    if decomposed or caps is not None:
        if validate:
            accounts, reps = validate_inputs(accounts, reps)
        validate = False
    if decomposed:
        return align_large(
            accounts, reps, spec, budget, forbidden=forbidden, input_hashes=input_hashes,
            progress=progress,
        )  # fmt: skip
    solve = partial(
        _align_once, forbidden=forbidden, unit_graph=unit_graph, validate=validate,
        input_hashes=input_hashes, progress=progress,
    )  # fmt: skip
    if caps is None:
        return solve(accounts, reps, spec, budget)
    return _align_with_caps(accounts, reps, caps, spec, budget, solve)


def _gap_text(gap: float | None) -> str:
    """``gap 0.84%`` as progress reports it, or that no bound is known yet."""
    return "no bound yet" if gap is None else f"gap {100 * gap:.2f}%"


def _check_files_read(
    spec: AlignmentSpec, accounts: pd.DataFrame, forbidden: pd.DataFrame | None
) -> None:
    """Refuse a spec naming files that were not read first: align takes tables, never paths."""
    how = (
        "read the files a spec names with territory.pipeline.alignment_inputs(spec, accounts) "
        "and pass what it returns"
    )
    if spec.forbidden is not None and forbidden is None:
        raise UsageError(
            f"forbidden names the file {spec.forbidden}, but align takes the table "
            f"(forbidden=...); {how}"
        )
    if spec.units is not None and "unit_id" not in accounts.columns:
        raise UsageError(
            f"units names the unit layer {spec.units}, but the accounts have no unit_id column "
            f"joining them to it; {how}"
        )


def _align_once(
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    spec: AlignmentSpec,
    budget: Budget,
    *,
    forbidden: pd.DataFrame | None = None,
    unit_graph: DualGraph | None = None,
    move_cost: np.ndarray | None = None,
    validate: bool = True,
    input_hashes: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> AlignmentResult:
    """One solve of :func:`align` with an optional price on each move (see there)."""
    say = progress or (lambda _msg: None)
    if spec.solver != "auto":
        get_solver(spec.solver)  # fail now, not after the relaxation, on an unknown backend name
    if validate:
        say("validating inputs")
        accounts, reps = validate_inputs(accounts, reps)
    settings = spec.settings()
    if spec.cut_edge_weight and not spec.contiguity:
        raise ScenarioError(
            "cut_edge_weight prices borders between units: it needs the unit graph "
            "(--units FILE --contiguity)"
        )
    log = SolveLog()

    # 1. Reasons visible before solving (single accounts, locks, total capacity).
    say("checking feasibility")

    family_column = spec.families
    graph = _contiguity_graph(unit_graph, family_column) if spec.contiguity else None
    connectors = (
        None
        if graph is None
        else connector_units(accounts, str(family_column), graph.names, graph.edges, _lonlat(graph))
    )

    def build(rules: AlignmentSettings) -> AlignmentProblem:
        problem = build_problem(
            accounts, reps, rules, forbidden=forbidden, move_cost=move_cost,
            family_column=family_column, empty_families=connectors,
        )  # fmt: skip
        if graph is None:
            return problem
        problem = with_unit_graph(problem, graph.names, graph.edges)
        return problem.with_pairs(*neighbour_pairs(problem))

    problem = build(settings)
    reasons = presolve_reasons(problem)
    if reasons:
        fixable = all(r.min_balance is not None for r in reasons)
        if not spec.soft or not fixable:
            hint = (
                "Use soft mode (--soft) to get the most balanced plan instead." if fixable else ""
            )
            raise InfeasibleError(reasons, hint=hint)
        need_p = max([r.min_balance or 0.0 for r in reasons if "potential" in r.constraint] + [0])
        need_w = max([r.min_balance or 0.0 for r in reasons if "workload" in r.constraint] + [0])
        settings = widen(settings, need_p * 1.0001, need_w * 1.0001)
        log.notes.append(
            f"soft mode: tolerances widened to ±{100 * settings.balance.potential:.2f}% potential, "
            f"±{100 * settings.balance.workload:.2f}% workload ({len(reasons)} presolve reason(s))"
        )

    # 2. LP relaxation over the candidate pairs, completed by pricing the pairs pruning left out.
    problem, lp, bound_scope = relaxation(build, settings, budget, log, say)
    if lp_infeasible(lp):
        say("measuring the smallest feasible tolerance")
        soft_lp = solve_min_deviation(problem, time_limit_s=budget.remaining())
        log.stages["lp_min_deviation"] = soft_lp.seconds
        if soft_lp.x is None or soft_lp.max_deviation is None:
            raise SolveError(
                "the balance rules look infeasible and the smallest feasible tolerance could not "
                f"be measured within the time limit ({soft_lp.status}); raise --time-limit"
            )
        if not spec.soft:
            raise InfeasibleError(
                [balance_reason(problem, soft_lp, bound_scope)],
                hint="Use soft mode (--soft) to get the most balanced plan instead.",
            )
        t = soft_lp.max_deviation
        settings = widen(settings, t, t)
        log.notes.append(
            f"soft mode: smallest fractional tolerance ±{100 * t:.3f}%; widening to it"
        )
        problem = build(settings).with_pairs(problem.pair_account, problem.pair_rep)
        lp = solve_relaxation(problem, time_limit_s=budget.share("relaxation"))
        log.stages["lp_relaxation_soft"] = lp.seconds
        if lp.optimal:
            problem, lp, bound_scope = priced_relaxation(problem, lp, budget, log)

    # 3. Heuristic: rounding, repair, local search.
    say("heuristic: rounding, repair, local search")
    heuristic = HeuristicSolver()
    solution = heuristic.solve(
        problem, time_limit_s=budget.remaining(), seed=spec.seed,
        relaxation=lp if lp.optimal else None,
    )  # fmt: skip
    if (
        problem.adjacency is None
        and not problem.is_feasible(solution.assignment, 1e-6)
        and budget.remaining() > 1.0
    ):
        # Never give up while time remains: LP, then exact, repair of the worst neighbourhoods.
        solution = rescue(problem, solution, budget, reserve_s=0.5, seed=spec.seed, notes=log.notes)
    attempt = 0
    while not problem.is_feasible(solution.assignment, 1e-6):
        dev_p, dev_w = deviations(problem, solution.assignment)
        if not spec.soft and problem.adjacency is not None:
            _prove_contiguity_infeasible(problem, solution, budget.remaining(), spec.seed, log)
        if not spec.soft:
            raise SolveError(
                f"no plan within ±{100 * settings.balance.potential:.3g}% potential / "
                f"±{100 * settings.balance.workload:.3g}% workload (and within capacity) was found "
                f"in {budget.elapsed():.0f} s (status {solution.status.value}), "
                "although the LP relaxation did not rule one out; the best plan found deviates up "
                f"to {100 * dev_p:.2f}% on potential and {100 * dev_w:.2f}% on workload. Reps "
                "left off balance: "
                + "; ".join(unbalanced_reasons(problem, solution.assignment))
                + ". Raise --time-limit, widen --balance, or use --soft"
            )
        if attempt >= SOFT_ATTEMPTS or budget.remaining() <= 0.0:
            raise SolveError(
                "soft mode found no plan that keeps every rep within capacity after widening the "
                f"tolerances to ±{100 * settings.balance.potential:.3g}% potential / "
                f"±{100 * settings.balance.workload:.3g}% workload; raise --time-limit or "
                "allow overtime"
            )
        # Capacity stays hard; widen the windows to what the best plan reached, then by steps.
        tol_p, tol_w = settings.balance.potential, settings.balance.workload
        if attempt == 0:
            new_p, new_w = max(tol_p, dev_p * 1.000001), max(tol_w, dev_w * 1.000001)
        else:
            new_p, new_w = max(1.5 * tol_p, tol_p + 0.005), max(1.5 * tol_w, tol_w + 0.005)
        settings = widen(settings, new_p, new_w)
        attempt += 1
        warm = solution
        problem = build(settings).with_pairs(problem.pair_account, problem.pair_rep)
        lp = solve_relaxation(problem, time_limit_s=budget.share("relaxation"))
        problem, lp, bound_scope = priced_relaxation(problem, lp, budget, log)
        solution = heuristic.solve(
            problem,
            time_limit_s=budget.remaining(),
            seed=spec.seed,
            warm_start=warm,
            relaxation=lp if lp.optimal else None,
        )
    if attempt:
        log.notes.append(
            f"soft mode: tolerances widened to ±{100 * settings.balance.potential:.3g}% potential "
            f"and ±{100 * settings.balance.workload:.3g}% workload to reach a plan"
        )

    say(f"heuristic plan: {_gap_text(solution.gap)}")

    # 4. Exact backend, started from the heuristic's plan.
    chosen = spec.solver
    gap = spec.stop_gap
    if spec.solver == "auto":
        small = problem.n_pairs <= AUTO_EXACT_PAIR_LIMIT
        chosen = "mip" if small and (solution.gap is None or solution.gap > gap) else "heuristic"
    if chosen != "heuristic" and budget.remaining() > 1.0:
        say(f"{chosen}: improving from the heuristic plan")
        backend = get_solver(chosen, relative_gap=gap)
        exact = backend.solve(
            problem, time_limit_s=budget.remaining(), seed=spec.seed, warm_start=solution
        )
        if exact.status != SolveStatus.ERROR and problem.is_feasible(exact.assignment, 1e-6):
            solution = _merge(solution, exact)
            say(f"{chosen}: {exact.status.value}, {_gap_text(solution.gap)}")
        elif exact.status != SolveStatus.ERROR:
            # Only a plan checked against the rules replaces the heuristic's (checked) one.
            log.notes.append(
                f"the {chosen} backend ended {exact.status.value} with a plan outside the "
                "balance windows or capacity; the heuristic plan is kept"
            )
    elif chosen != "heuristic":
        log.notes.append(f"no time left for the {chosen} backend; heuristic plan returned")
    log.add_stages(solution.stages)
    if solution.status in (SolveStatus.INFEASIBLE, SolveStatus.ERROR) and problem.is_feasible(
        solution.assignment, 1e-6
    ):
        # A backend's label for its own model (scaled, with cuts) is not the verdict on the
        # plan: this plan was checked against every window and capacity directly.
        log.notes.append(
            f"the {solution.backend} backend reported {solution.status.value}, but the plan "
            "keeps every balance window and capacity when checked directly: status FEASIBLE"
        )
        solution = replace(solution, status=SolveStatus.FEASIBLE)

    return solve_result(
        accounts, reps, problem, solution, spec, time_limit_s=budget.limit_s,
        t_start=budget.started, log=log, gap=gap, input_hashes=input_hashes,
        bound_scope=bound_scope,
    )  # fmt: skip


def _prove_contiguity_infeasible(
    problem: AlignmentProblem,
    solution: Solution,
    time_left_s: float,
    seed: int,
    log: SolveLog,
) -> None:
    """Let the exact backend decide when the heuristic found no connected plan.

    Raises :class:`InfeasibleError` when HiGHS proves that no plan keeps every territory in one
    piece within the windows; returns when it finds no proof (the caller reports the search).
    """
    if problem.n_pairs > AUTO_EXACT_PAIR_LIMIT or time_left_s <= 1.0:
        return
    exact = get_solver("mip", relative_gap=EXACT_GAP).solve(
        problem, time_limit_s=time_left_s, seed=seed, warm_start=solution
    )
    log.stages["contiguity_proof"] = exact.seconds
    if exact.status == SolveStatus.INFEASIBLE:
        rule = problem.settings.balance
        raise InfeasibleError(
            [
                InfeasibilityReason(
                    constraint="contiguity",
                    subject="all territories",
                    message=(
                        f"no plan gives each of the {problem.n_reps} reps one connected piece of "
                        f"the {problem.n_accounts} units within ±{100 * rule.potential:.3g}% "
                        f"potential and ±{100 * rule.workload:.3g}% workload (proved by the "
                        f"HiGHS MIP with {exact.detail.get('contiguity_cuts', 0)} connectivity "
                        f"cuts in {exact.seconds:.1f} s)"
                    ),
                )
            ],
            hint="Widen --balance, use --soft, add manual links between units, or drop "
            "--contiguity.",
        )


def _contiguity_graph(unit_graph: DualGraph | None, family_column: str | None) -> DualGraph:
    if unit_graph is None or family_column is None:
        raise ScenarioError(
            "contiguity needs basic units: pass the unit graph and the accounts' unit column "
            "(on the command line: --units FILE --contiguity)"
        )
    return unit_graph


def _lonlat(graph: DualGraph) -> np.ndarray:
    """Where each unit is, for finding candidate reps of units without accounts."""
    points = graph.point_lonlat if graph.point_lonlat is not None else graph.centroid_lonlat
    if points is None:
        raise ScenarioError("the unit graph has no coordinates; build it from unit geometries")
    return points


@dataclass(frozen=True)
class _MoveCaps:
    """Caps on moves as one weighted rule: the weights of moved accounts add up to <= ``count``.

    Each cap is scaled to 1 (an account's weight is its share of the cap it uses), so pricing the
    weights with one multiplier enforces both caps and gives a Lagrangian bound.
    """

    weights: np.ndarray
    count: int
    max_accounts: int | None
    max_revenue: float | None

    @classmethod
    def of(cls, accounts: pd.DataFrame, spec: AlignmentSpec) -> _MoveCaps | None:
        """Return the caps of ``spec`` over these accounts (None when moves are not capped)."""
        if not spec.capped:
            return None
        weights = np.zeros(len(accounts))
        count = 0
        max_revenue = None
        if spec.max_moved_accounts is not None:
            weights += 1.0 / max(spec.max_moved_accounts, 1)
            count += 1
        if spec.max_moved_revenue_share is not None:
            revenue = _revenue(accounts)
            max_revenue = spec.max_moved_revenue_share * float(revenue.sum())
            weights += revenue / max(max_revenue, 1e-9)
            count += 1
        return cls(weights, count, spec.max_moved_accounts, max_revenue)

    def excess(self, accounts: pd.DataFrame, moved: np.ndarray) -> tuple[float, float]:
        """How far a plan is over each cap (0 when within): accounts, revenue."""
        over_accounts = 0.0
        over_revenue = 0.0
        if self.max_accounts is not None:
            over_accounts = max(0.0, float(moved.sum()) - self.max_accounts)
        if self.max_revenue is not None:
            moved_revenue = float(_revenue(accounts)[moved].sum())
            over_revenue = max(0.0, moved_revenue - self.max_revenue * (1 + 1e-9))
        return over_accounts, over_revenue


def _revenue(accounts: pd.DataFrame) -> np.ndarray:
    if "revenue_last_year" not in accounts.columns:
        return np.zeros(len(accounts))
    return np.nan_to_num(accounts["revenue_last_year"].to_numpy(dtype=np.float64))


CAP_BISECTION_STEPS = 7
"""Bisection steps on the move price once a price that keeps the caps is known."""

SolveOnce = Callable[..., AlignmentResult]
"""``_align_once`` with the tables and options bound: (accounts, reps, spec, budget, move_cost)."""


def _align_with_caps(
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    caps: _MoveCaps,
    spec: AlignmentSpec,
    budget: Budget,
    solve: SolveOnce,
) -> AlignmentResult:
    """Find the smallest price on moves at which the plan keeps the caps, then solve there.

    Every price tried gives a Lagrangian lower bound (its relaxation bound minus price x number
    of caps) on the capped problem; the best is reported. A cap of zero is a lock.
    """
    zero_locks = _zero_cap_locks(accounts, caps)
    if zero_locks is not None:
        accounts = zero_locks
    weight = spec.disruption_weight

    def base_objective(result: AlignmentResult) -> float:
        metrics = result.report.metrics
        return metrics["travel_hour_km"] + weight * metrics["potential_moved"]

    def attempt(price: float, backend: str) -> AlignmentResult:
        seconds = (
            budget.share("capped_attempt", floor=1.0)
            if backend == "heuristic"
            else budget.remaining()
        )
        return solve(
            accounts, reps, spec.model_copy(update={"solver": backend}), Budget(seconds),
            move_cost=price * caps.weights,
        )  # fmt: skip

    def keeps(result: AlignmentResult) -> bool:
        return caps.excess(accounts, result.assignments["moved"].to_numpy(bool)) == (0.0, 0.0)

    bounds: list[float] = []

    def record(result: AlignmentResult, price: float) -> None:
        if result.report.bound is not None:
            bounds.append(result.report.bound - price * caps.count)

    first = attempt(0.0, "heuristic")
    record(first, 0.0)
    low, high, best, best_price = 0.0, None, None, 0.0
    if keeps(first):
        best, high = first, 0.0
    else:
        # Price one unit of cap at the plan's cost per account, then double until caps hold.
        price = max(first.report.objective / max(len(accounts), 1), 1e-6) * 10.0
        for _ in range(30):
            if budget.remaining() <= 0.0:
                break
            trial = attempt(price, "heuristic")
            record(trial, price)
            if keeps(trial):
                best, high, best_price = trial, price, price
                break
            low, price = price, price * 4.0
        if best is None or high is None:
            over = caps.excess(accounts, first.assignments["moved"].to_numpy(bool))
            closest = (
                f"the closest found is over by {over[0]:,.0f} accounts and {over[1]:,.0f} of "
                "revenue"
            )
            if budget.remaining() <= 0.0:
                raise SolveError(
                    f"the time limit ran out before a price on moves that keeps the caps was "
                    f"found: {closest}; raise --time-limit, raise the cap or widen --balance"
                )
            raise SolveError(
                f"no plan within the balance rules keeps the caps on moves: {closest}; the "
                "windows force those moves, so raise the cap or widen --balance"
            )
        for _ in range(CAP_BISECTION_STEPS):
            if budget.past("cap_search"):
                break
            middle = (low + high) / 2.0
            trial = attempt(middle, "heuristic")
            record(trial, middle)
            if keeps(trial):
                high = middle
                if base_objective(trial) < base_objective(best):
                    best, best_price = trial, middle
            else:
                low = middle
    notes = list(best.report.notes)
    if spec.solver != "heuristic" and budget.remaining() > 1.0:
        final = attempt(best_price, spec.solver)
        record(final, best_price)
        if keeps(final) and base_objective(final) <= base_objective(best):
            best = final
            notes = list(best.report.notes)
    elif spec.solver != "heuristic":
        notes.append(f"no time left for the {spec.solver} backend; heuristic plan returned")
    objective = base_objective(best)
    bound = max(bounds) if bounds else None
    if bound is not None:
        bound = min(bound, objective)
    gap = (
        None if bound is None else (0.0 if objective <= 1e-12 else (objective - bound) / objective)
    )
    moved = best.assignments["moved"].to_numpy(bool)
    note = (
        f"moves capped (price {best_price:.4g} per unit of cap): {int(moved.sum())} accounts "
        f"and {float(_revenue(accounts)[moved].sum()):,.0f} of revenue move"
    )
    report = replace(
        best.report,
        objective=objective,
        bound=bound,
        bound_source="Lagrangian relaxation of the move caps",
        gap=gap,
        seconds=budget.elapsed(),
        notes=[*notes, note],
    )
    parameters = {
        **best.parameters,
        "solver": spec.solver,
        "time_limit_s": spec.time_limit_s,
        "max_moved_accounts": caps.max_accounts,
        "max_moved_revenue": caps.max_revenue,
    }
    return replace(best, report=report, parameters=parameters)


def _zero_cap_locks(accounts: pd.DataFrame, caps: _MoveCaps) -> pd.DataFrame | None:
    """Lock the accounts a cap of zero keeps where they are, instead of pricing their moves."""
    if "current_rep" not in accounts.columns:
        return None
    current = accounts["current_rep"]
    has_rep = current.notna() & (current.astype(str) != "")
    pin = np.zeros(len(accounts), dtype=bool)
    if caps.max_accounts == 0:
        pin |= has_rep.to_numpy()
    if caps.max_revenue is not None and caps.max_revenue <= 0:
        pin |= has_rep.to_numpy() & (_revenue(accounts) > 0)
    if not pin.any():
        return None
    locked = accounts.copy()
    if "locked_rep" not in locked.columns:
        locked["locked_rep"] = None
    keep = pin & locked["locked_rep"].isna().to_numpy()
    locked.loc[keep, "locked_rep"] = current[keep]
    return locked


def _merge(heuristic: Solution, exact: Solution) -> Solution:
    """Keep the exact backend's plan and the best bound either of them proved."""
    bounds = [b for b in (heuristic.bound, exact.bound) if b is not None]
    bound = max(bounds) if bounds else None
    source = (
        exact.bound_source
        if exact.bound is not None and exact.bound == bound
        else (heuristic.bound_source)
    )
    status = exact.status
    if bound is not None and exact.objective - bound <= 1e-9 * max(1.0, abs(exact.objective)):
        status = SolveStatus.OPTIMAL
    return replace(exact, bound=bound, bound_source=source, status=status)
