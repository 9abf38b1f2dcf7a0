"""The alignment workflow: validate, check feasibility, relax, construct, improve, report.

This module and the workflows built on it (``design``, ``scale``) are the only parts of
``territory`` that call solver backends; the domain modules (model, metrics, feasibility, io,
units, districting, matching) stay free of them.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
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
    LpResult,
    price_pairs,
    rep_prices,
    solve_min_deviation,
    solve_relaxation,
)
from territory import __version__
from territory.arguments import COUNT_OR_ZERO, SHARE, check_align_arguments
from territory.districting import DualGraph
from territory.errors import InfeasibilityReason, InfeasibleError, ScenarioError, SolveError
from territory.feasibility import presolve_reasons
from territory.io import validate_inputs
from territory.metrics import assignment_table, plan_metrics, territory_table
from territory.model import (
    DEFAULT_CANDIDATES,
    DEFAULT_TIER_FACTORS,
    AlignmentProblem,
    AlignmentSettings,
    BalanceRule,
    build_problem,
    connector_units,
    with_unit_graph,
)
from territory.resources import MemoryEstimate, check_pair_memory, estimate_pair_memory
from territory.scale import align_large, should_decompose

Progress = Callable[[str], None]

AUTO_GAP = 0.01
"""``auto`` stops at 1% from the LP bound; the heuristic alone usually reaches it."""
EXACT_GAP = 1e-6
"""An explicitly chosen exact backend searches until the optimum is proven (or time runs out)."""

AUTO_EXACT_PAIR_LIMIT = 400_000
"""``auto`` hands the heuristic's plan to the MIP backend up to this many candidate pairs."""


@dataclass(frozen=True)
class SolveReport:
    """What a solve did and proved, as written to ``solve.json``.

    ``gap`` is (objective - bound) / objective; ``bound`` is a proven lower bound from
    ``bound_source``, valid for every plan over ``bound_scope`` (all account-rep pairs once
    pricing has shown that pruning cut nothing useful, else the candidate pairs). Deviations
    are the largest relative distance from target over reps.
    """

    backend: str
    status: str
    objective: float
    bound: float | None
    bound_source: str
    bound_scope: str
    gap: float | None
    seconds: float
    max_potential_deviation: float
    max_workload_deviation: float
    balance_potential: float
    balance_workload: float
    balance_requested_potential: float
    balance_requested_workload: float
    soft: bool
    candidates: int
    n_accounts: int
    n_reps: int
    n_pairs: int
    seed: int
    time_limit_s: float
    stages: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AlignmentResult:
    """The plan (``assignments``), its territories and the solve report."""

    assignments: pd.DataFrame
    territories: pd.DataFrame
    report: SolveReport
    problem: AlignmentProblem
    parameters: dict[str, Any]
    input_hashes: dict[str, str]
    unit_plan: pd.Series | None = None
    """Rep id of every unit (family) when whole units were aligned, empty units included."""

    @property
    def plan(self) -> pd.Series:
        """Rep id of every account, indexed by account id."""
        return pd.Series(
            self.assignments["rep_id"].to_numpy(),
            index=self.assignments["account_id"],
            name="rep_id",
        )

    def solve_document(self) -> dict[str, Any]:
        """The content of ``solve.json``."""
        doc: dict[str, Any] = {
            "version": __version__,
            "inputs": self.input_hashes,
            "parameters": self.parameters,
        }
        doc.update(asdict(self.report))
        return doc


def frame_hash(frame: pd.DataFrame) -> str:
    """Content hash of a table (column names, order and values), stable across runs."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return "sha256:" + digest.hexdigest()


def _candidate_ladder(candidates: int, n_reps: int) -> list[int]:
    """Candidate counts to try when the pruned model is infeasible: k, 1.5k, 2k, 4k."""
    ladder = [candidates, math.ceil(1.5 * candidates), 2 * candidates, 4 * candidates]
    out: list[int] = []
    for k in ladder:
        k = min(k, n_reps)
        if k not in out:
            out.append(k)
    return out


SOFT_ATTEMPTS = 8
"""Soft mode widens the windows at most this many times before giving up."""

PRICING_ROUNDS = 30
"""Column-generation rounds that add priced-out pairs before the bound is taken as final."""

PRICING_GAP = 0.002
"""Column generation stops once the Lagrangian bound over all pairs is this close to the LP."""

WARM_START_SHARE = 0.05
"""Pricing rounds adding at most this share of new columns restart the simplex from its basis."""


VIOLATION_TOL = 1e-7
"""Elastic-relaxation violation (fractions of target, summed) treated as zero."""


def _lp_infeasible(lp: LpResult) -> bool:
    """The relaxation proves the windows impossible (directly, or by leftover elastic slack)."""
    return lp.infeasible or (lp.optimal and lp.violation > VIOLATION_TOL)


def _relaxation(
    build: Callable[[AlignmentSettings], AlignmentProblem],
    settings: AlignmentSettings,
    time_left: Callable[[], float],
    time_limit_s: float,
    stages: dict[str, float],
    notes: list[str],
    say: Progress,
) -> tuple[AlignmentProblem, LpResult, str]:
    """The LP relaxation that gives the bound and the heuristic's start, with its scope.

    Where every account-rep pair can be priced, the pruned model is solved elastically and the
    pairs its duals ask for are added until none is missing; otherwise the candidate set widens
    (k, 1.5k, 2k, 4k) while the pruned model is infeasible.
    """
    problem = build(settings)
    if problem.n_accounts * problem.n_reps <= PRICING_PAIR_LIMIT:
        say(f"LP relaxation ({settings.candidates} candidate reps per account)")
        lp = solve_relaxation(problem, time_limit_s=time_left() * 0.5, elastic=True)
        stages["lp_relaxation"] = lp.seconds
        if not lp.optimal:
            return problem, lp, "candidate pairs"
        say("pricing pairs left out by pruning")
        return _priced_relaxation(problem, lp, time_left, time_limit_s, stages, notes)
    lp_k: LpResult | None = None
    for k in _candidate_ladder(settings.candidates, problem.n_reps):
        settings = replace(settings, candidates=k)
        say(f"LP relaxation ({k} candidate reps per account)")
        problem = build(settings)
        lp_k = solve_relaxation(problem, time_limit_s=time_left() * 0.5)
        stages[f"lp_relaxation_k{k}"] = lp_k.seconds
        if not lp_k.infeasible:
            break
        notes.append(f"LP relaxation infeasible with {k} candidate reps per account; widening")
    assert lp_k is not None
    notes.append(
        "too many account-rep combinations to price: the bound covers the candidate pairs only"
    )
    return problem, lp_k, "candidate pairs"


def _priced_relaxation(
    problem: AlignmentProblem,
    lp: LpResult,
    time_left: Callable[[], float],
    time_limit_s: float,
    stages: dict[str, float],
    notes: list[str],
) -> tuple[AlignmentProblem, LpResult, str]:
    """Add pruned-away pairs that could lower the LP bound until none is left (column generation).

    Every pricing pass also yields a Lagrangian bound over all pairs (the pass's duals relax the
    windows), so column generation stops as soon as that bound is within :data:`PRICING_GAP` of
    the LP over the candidates: the last rounds add many columns and move the bound little.
    Returns the (possibly enlarged) problem, its relaxation (``objective`` is the bound, and
    ``bound_source`` says which relaxation proves it), and the scope the bound covers.
    """
    scope = "candidate pairs"
    added = 0
    elastic = lp.basis is not None and len(lp.basis[2]) > 0
    lagrangian = -math.inf
    for _ in range(PRICING_ROUNDS):
        if not lp.optimal or lp.row_dual is None:
            break
        if problem.n_accounts * problem.n_reps > PRICING_PAIR_LIMIT:
            break
        # Keep at least 40% of the budget for finding and improving a plan.
        if time_left() < 0.4 * time_limit_s:
            notes.append(
                "pricing stopped to leave time for the plan search: the bound is the best "
                "Lagrangian bound found so far (or covers the candidate pairs only, if none was); "
                "raise --time-limit for a tighter bound"
            )
            break
        t0 = time.perf_counter()
        pi, sigma = rep_prices(problem, lp)
        priced = price_pairs(problem, pi, sigma, account_dual=lp.row_dual[: problem.n_accounts])
        stages["lp_pricing"] = stages.get("lp_pricing", 0.0) + time.perf_counter() - t0
        lagrangian = max(lagrangian, priced.bound)
        if priced.accounts.size == 0:
            scope = "all account-rep pairs"
            lagrangian = -math.inf  # the LP itself is now exact over all pairs
            break
        assert lp.objective is not None
        close = lp.objective - lagrangian <= PRICING_GAP * max(abs(lp.objective), 1.0)
        if close and lp.violation <= VIOLATION_TOL:
            break
        added += int(priced.accounts.size)
        # A big batch of new columns re-solves faster from scratch than from the old basis
        # (measured at 100k/500: +25% columns took 62 s warm against 39 s cold).
        warm = lp if priced.accounts.size <= WARM_START_SHARE * problem.n_pairs else None
        problem = problem.with_pairs(priced.accounts, priced.reps)
        lp = solve_relaxation(problem, time_limit_s=time_left() * 0.5, warm=warm, elastic=elastic)
        stages["lp_pricing"] += lp.seconds
    if added:
        notes.append(f"column generation added {added} account-rep pairs beyond the candidates")
    if (
        math.isfinite(lagrangian)
        and lp.optimal
        and lp.objective is not None
        and lp.violation <= VIOLATION_TOL
    ):
        scope = "all account-rep pairs"
        gap = (lp.objective - lagrangian) / max(abs(lp.objective), 1.0)
        notes.append(
            f"bound: Lagrangian relaxation of the balance windows at the candidate LP's duals, "
            f"over all account-rep pairs ({100 * gap:.3f}% below that LP)"
        )
        lp = replace(
            lp,
            objective=min(lagrangian, lp.objective),
            bound_source="Lagrangian relaxation (windows priced at LP duals)",
        )
    return problem, lp, scope


def _widen(settings: AlignmentSettings, potential: float, workload: float) -> AlignmentSettings:
    return replace(settings, balance=settings.balance.widened(potential, workload))


def _balance_reason(
    problem: AlignmentProblem, soft_lp: LpResult, scope: str
) -> InfeasibilityReason:
    """Name the rep that the smallest-deviation relaxation still leaves furthest from target."""
    assert soft_lp.x is not None and soft_lp.max_deviation is not None
    pr, pa = problem.pair_rep, problem.pair_account
    pot = np.bincount(pr, weights=soft_lp.x * problem.potential[pa], minlength=problem.n_reps)
    wl = np.bincount(pr, weights=soft_lp.x * problem.workload[pa], minlength=problem.n_reps)
    dev_p = np.abs(pot / np.maximum(problem.potential_target, 1e-12) - 1.0)
    dev_w = np.abs(wl / np.maximum(problem.workload_target, 1e-12) - 1.0)
    worst_p, worst_w = int(np.argmax(dev_p)), int(np.argmax(dev_w))
    if dev_p[worst_p] >= dev_w[worst_w]:
        r, measure, value, target = worst_p, "potential", pot[worst_p], problem.potential_target
    else:
        r, measure, value, target = worst_w, "workload", wl[worst_w], problem.workload_target
    t = soft_lp.max_deviation
    rule = problem.settings.balance
    return InfeasibilityReason(
        constraint=f"{measure}_balance",
        subject=f"rep {problem.rep_ids[r]}",
        message=(
            f"no plan keeps every rep within ±{100 * rule.potential:.1f}% on potential and "
            f"±{100 * rule.workload:.1f}% on workload, even splitting accounts fractionally "
            f"(over {_scope_words(problem, scope)}): the best "
            f"such split still leaves rep {problem.rep_ids[r]} with {measure} {value:,.0f} against "
            f"a target of {target[r]:,.0f} ({100 * (value / target[r] - 1):+.1f}%). The smallest "
            f"tolerance any plan can meet is at least ±{100 * t:.2f}%"
        ),
        excess=float(
            abs(value - target[r])
            - (rule.potential if measure == "potential" else rule.workload) * target[r]
        ),
        min_balance=float(t),
    )


def _scope_words(problem: AlignmentProblem, scope: str) -> str:
    if scope == "all account-rep pairs":
        return "every account-rep pair"
    return f"each account's {problem.settings.candidates} nearest reps"


def pair_memory(
    n_accounts: int, n_reps: int, candidates: int, *, decomposed: bool
) -> MemoryEstimate:
    """Memory for the candidate pairs of a solve and its all-pairs pricing chunks.

    The direct pipeline prices every pair only up to :data:`PRICING_PAIR_LIMIT` combinations;
    the decomposed one always does (:mod:`territory.scale`, stage 3).
    """
    priced = decomposed or n_accounts * n_reps <= PRICING_PAIR_LIMIT
    return estimate_pair_memory(
        n_accounts, n_reps, candidates, decomposed=decomposed,
        pricing_chunk_pairs=PRICING_CHUNK_PAIRS if priced else 0,
        pricing_threads=PRICING_THREADS,
    )  # fmt: skip


def _deviations(problem: AlignmentProblem, assignment: np.ndarray) -> tuple[float, float]:
    pot, wl = problem.loads(assignment)
    dev_p = np.abs(pot / np.maximum(problem.potential_target, 1e-12) - 1.0)
    dev_w = np.abs(wl / np.maximum(problem.workload_target, 1e-12) - 1.0)
    dev_p = np.where(problem.potential_target > 0, dev_p, 0.0)
    dev_w = np.where(problem.workload_target > 0, dev_w, 0.0)
    return float(dev_p.max(initial=0.0)), float(dev_w.max(initial=0.0))


def align(
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    *,
    balance: float = 0.05,
    potential_balance: float | None = None,
    workload_balance: float | None = None,
    solver: str = "auto",
    time_limit_s: float = 60.0,
    seed: int = 7,
    disruption_weight: float = 0.0,
    tier_factors: Mapping[str, float] | None = None,
    candidates: int = DEFAULT_CANDIDATES,
    soft: bool = False,
    allow_overtime: bool = False,
    gap: float | None = None,
    max_distance_km: float | None = None,
    forbidden: pd.DataFrame | None = None,
    family_column: str | None = None,
    max_moved_accounts: int | None = None,
    max_moved_revenue_share: float | None = None,
    unit_graph: DualGraph | None = None,
    contiguity: bool = False,
    compactness: str = "travel",
    cut_edge_weight: float = 0.0,
    validate: bool = True,
    input_hashes: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    decompose: str = "auto",
    checkpoint: str | Path | None = None,
) -> AlignmentResult:
    """Assign every account to one rep with balanced potential and workload at least travel.

    Parameters
    ----------
    accounts, reps
        Tables following the data contract (see README); validated unless ``validate=False``.
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
        Account-rep pairs (columns ``account_id``, ``rep_id``) that must never occur.
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
        ``auto`` solves instances from :data:`territory.scale.DECOMPOSE_ACCOUNTS` accounts up by
        micro-clusters and account-level refinement (:func:`territory.scale.align_large`);
        ``on``/``off`` force it. ``checkpoint`` (decomposed solves) is a directory where stages
        are saved so an interrupted run resumes.

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
    UsageError
        An argument is out of range (a tolerance of 1 or more, NaN, ``candidates`` below 1,
        ...), or (``ResourceLimitError``) the candidate pairs would not fit in memory.
    """
    check_align_arguments(
        balance=balance, potential_balance=potential_balance, workload_balance=workload_balance,
        solver=solver, time_limit_s=time_limit_s, disruption_weight=disruption_weight,
        candidates=candidates, gap=gap, max_distance_km=max_distance_km,
        compactness=compactness, cut_edge_weight=cut_edge_weight, decompose=decompose,
    )  # fmt: skip
    caps = _MoveCaps.of(accounts, max_moved_accounts, max_moved_revenue_share)
    unsupported = (
        "caps on moved accounts or revenue"
        if caps is not None
        else ("contiguity rules" if contiguity else None)
    )
    decomposed = should_decompose(decompose, len(accounts), unsupported)
    # Before any candidate pair exists: refuse a model that cannot fit, saying what would.
    check_pair_memory(
        pair_memory(len(accounts), len(reps), candidates, decomposed=decomposed),
        decomposed=(
            None
            if decomposed or unsupported
            else pair_memory(len(accounts), len(reps), candidates, decomposed=True)
        ),
    )
    if decomposed:
        if validate:
            accounts, reps = validate_inputs(accounts, reps)
        return align_large(
            accounts, reps, balance=balance, potential_balance=potential_balance,
            workload_balance=workload_balance, solver=solver, time_limit_s=time_limit_s,
            seed=seed, disruption_weight=disruption_weight, tier_factors=tier_factors,
            candidates=candidates, soft=soft, allow_overtime=allow_overtime, gap=gap,
            max_distance_km=max_distance_km, forbidden=forbidden, family_column=family_column,
            input_hashes=input_hashes, progress=progress, checkpoint=checkpoint,
            compactness=_compactness_checked(compactness),
        )  # fmt: skip
    options: dict[str, Any] = {
        "balance": balance, "potential_balance": potential_balance,
        "workload_balance": workload_balance, "seed": seed,
        "disruption_weight": disruption_weight, "tier_factors": tier_factors,
        "candidates": candidates, "soft": soft, "allow_overtime": allow_overtime, "gap": gap,
        "max_distance_km": max_distance_km, "forbidden": forbidden,
        "family_column": family_column, "unit_graph": unit_graph, "contiguity": contiguity,
        "compactness": compactness, "cut_edge_weight": cut_edge_weight,
        "input_hashes": input_hashes, "progress": progress,
    }  # fmt: skip
    if caps is None:
        return _align_once(
            accounts, reps, solver=solver, time_limit_s=time_limit_s, validate=validate, **options
        )
    if validate:
        accounts, reps = validate_inputs(accounts, reps)
    return _align_with_caps(accounts, reps, caps, solver, time_limit_s, options)


def _align_once(
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    *,
    balance: float = 0.05,
    potential_balance: float | None = None,
    workload_balance: float | None = None,
    solver: str = "auto",
    time_limit_s: float = 60.0,
    seed: int = 7,
    disruption_weight: float = 0.0,
    tier_factors: Mapping[str, float] | None = None,
    candidates: int = DEFAULT_CANDIDATES,
    soft: bool = False,
    allow_overtime: bool = False,
    gap: float | None = None,
    max_distance_km: float | None = None,
    forbidden: pd.DataFrame | None = None,
    family_column: str | None = None,
    move_cost: np.ndarray | None = None,
    unit_graph: DualGraph | None = None,
    contiguity: bool = False,
    compactness: str = "travel",
    cut_edge_weight: float = 0.0,
    validate: bool = True,
    input_hashes: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> AlignmentResult:
    """One solve of :func:`align` with an optional price on each move (see there)."""
    t_start = time.perf_counter()
    say = progress or (lambda _msg: None)
    if solver != "auto":
        get_solver(solver)  # fail now, not after the relaxation, on an unknown backend name
    if validate:
        say("validating inputs")
        accounts, reps = validate_inputs(accounts, reps)
    factors = dict(tier_factors or DEFAULT_TIER_FACTORS)
    requested = BalanceRule(
        potential=balance if potential_balance is None else potential_balance,
        workload=balance if workload_balance is None else workload_balance,
        soft=soft,
        allow_overtime=allow_overtime,
    )
    settings = AlignmentSettings(
        balance=requested,
        tier_factors=factors,
        disruption_weight=disruption_weight,
        candidates=candidates,
        max_distance_km=max_distance_km,
        distance_power=_distance_power(compactness),
        cut_edge_weight=cut_edge_weight,
    )
    if cut_edge_weight and not contiguity:
        raise ScenarioError(
            "cut_edge_weight prices borders between units: it needs the unit graph "
            "(--units FILE --contiguity)"
        )
    notes: list[str] = []
    stages: dict[str, float] = {}

    def remaining() -> float:
        return max(time_limit_s - (time.perf_counter() - t_start), 0.5)

    # 1. Reasons visible before solving (single accounts, locks, total capacity).
    say("checking feasibility")

    graph = _contiguity_graph(unit_graph, family_column) if contiguity else None
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
        if not soft or not fixable:
            hint = (
                "Use soft mode (--soft) to get the most balanced plan instead." if fixable else ""
            )
            raise InfeasibleError(reasons, hint=hint)
        need_p = max([r.min_balance or 0.0 for r in reasons if "potential" in r.constraint] + [0])
        need_w = max([r.min_balance or 0.0 for r in reasons if "workload" in r.constraint] + [0])
        settings = _widen(settings, need_p * 1.0001, need_w * 1.0001)
        notes.append(
            f"soft mode: tolerances widened to ±{100 * settings.balance.potential:.2f}% potential, "
            f"±{100 * settings.balance.workload:.2f}% workload ({len(reasons)} presolve reason(s))"
        )

    # 2. LP relaxation over the candidate pairs, completed by pricing the pairs pruning left out.
    problem, lp, bound_scope = _relaxation(
        build, settings, remaining, time_limit_s, stages, notes, say
    )
    if _lp_infeasible(lp):
        say("measuring the smallest feasible tolerance")
        soft_lp = solve_min_deviation(problem, time_limit_s=remaining())
        stages["lp_min_deviation"] = soft_lp.seconds
        if soft_lp.x is None or soft_lp.max_deviation is None:
            raise SolveError(
                "the balance rules look infeasible and the smallest feasible tolerance could not "
                f"be measured within the time limit ({soft_lp.status}); raise --time-limit"
            )
        if not soft:
            raise InfeasibleError(
                [_balance_reason(problem, soft_lp, bound_scope)],
                hint="Use soft mode (--soft) to get the most balanced plan instead.",
            )
        t = soft_lp.max_deviation
        settings = _widen(settings, t, t)
        notes.append(f"soft mode: smallest fractional tolerance ±{100 * t:.3f}%; widening to it")
        problem = build(settings).with_pairs(problem.pair_account, problem.pair_rep)
        lp = solve_relaxation(problem, time_limit_s=remaining() * 0.5)
        stages["lp_relaxation_soft"] = lp.seconds
        if lp.optimal:
            problem, lp, bound_scope = _priced_relaxation(
                problem, lp, remaining, time_limit_s, stages, notes
            )

    # 3. Heuristic: rounding, repair, local search.
    say("heuristic: rounding, repair, local search")
    heuristic = HeuristicSolver()
    solution = heuristic.solve(
        problem, time_limit_s=remaining(), seed=seed, relaxation=lp if lp.optimal else None
    )
    attempt = 0
    while not problem.is_feasible(solution.assignment, 1e-6):
        dev_p, dev_w = _deviations(problem, solution.assignment)
        if not soft and problem.adjacency is not None:
            _prove_contiguity_infeasible(problem, solution, remaining(), seed, stages)
        if not soft:
            raise SolveError(
                f"no plan within ±{100 * settings.balance.potential:.3g}% potential / "
                f"±{100 * settings.balance.workload:.3g}% workload (and within capacity) was found "
                f"in {time.perf_counter() - t_start:.0f} s (status {solution.status.value}), "
                "although the LP relaxation did not rule one out; the best plan found deviates up "
                f"to {100 * dev_p:.2f}% on potential and {100 * dev_w:.2f}% on workload. Raise "
                "--time-limit, widen --balance, or use --soft"
            )
        if attempt >= SOFT_ATTEMPTS or time.perf_counter() - t_start >= time_limit_s:
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
        settings = _widen(settings, new_p, new_w)
        attempt += 1
        warm = solution
        problem = build(settings).with_pairs(problem.pair_account, problem.pair_rep)
        lp = solve_relaxation(problem, time_limit_s=remaining() * 0.5)
        problem, lp, bound_scope = _priced_relaxation(
            problem, lp, remaining, time_limit_s, stages, notes
        )
        solution = heuristic.solve(
            problem,
            time_limit_s=remaining(),
            seed=seed,
            warm_start=warm,
            relaxation=lp if lp.optimal else None,
        )
    if attempt:
        notes.append(
            f"soft mode: tolerances widened to ±{100 * settings.balance.potential:.3g}% potential "
            f"and ±{100 * settings.balance.workload:.3g}% workload to reach a plan"
        )

    # 4. Exact backend, started from the heuristic's plan.
    chosen = solver
    if gap is None:
        gap = AUTO_GAP if solver == "auto" else EXACT_GAP
    if solver == "auto":
        small = problem.n_pairs <= AUTO_EXACT_PAIR_LIMIT
        chosen = "mip" if small and (solution.gap is None or solution.gap > gap) else "heuristic"
    if chosen != "heuristic" and remaining() > 1.0:
        say(f"{chosen}: improving from the heuristic plan")
        backend = get_solver(chosen, relative_gap=gap)
        exact = backend.solve(problem, time_limit_s=remaining(), seed=seed, warm_start=solution)
        if exact.status != SolveStatus.ERROR and problem.is_feasible(exact.assignment, 1e-6):
            solution = _merge(solution, exact)
        elif exact.status != SolveStatus.ERROR:
            # Only a plan checked against the rules replaces the heuristic's (checked) one.
            notes.append(
                f"the {chosen} backend ended {exact.status.value} with a plan outside the "
                "balance windows or capacity; the heuristic plan is kept"
            )
    elif chosen != "heuristic":
        notes.append(f"no time left for the {chosen} backend; heuristic plan returned")
    for name, seconds in solution.stages:
        stages[name] = stages.get(name, 0.0) + seconds
    if solution.status in (SolveStatus.INFEASIBLE, SolveStatus.ERROR) and problem.is_feasible(
        solution.assignment, 1e-6
    ):
        # A backend's label for its own model (scaled, with cuts) is not the verdict on the
        # plan: this plan was checked against every window and capacity directly.
        notes.append(
            f"the {solution.backend} backend reported {solution.status.value}, but the plan "
            "keeps every balance window and capacity when checked directly: status FEASIBLE"
        )
        solution = replace(solution, status=SolveStatus.FEASIBLE)

    return _result(
        accounts,
        reps,
        problem,
        solution,
        requested,
        seed,
        time_limit_s,
        t_start,
        stages,
        notes,
        solver,
        gap,
        input_hashes,
        bound_scope,
    )


def _prove_contiguity_infeasible(
    problem: AlignmentProblem,
    solution: Solution,
    time_left_s: float,
    seed: int,
    stages: dict[str, float],
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
    stages["contiguity_proof"] = exact.seconds
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


def _compactness_checked(compactness: str) -> str:
    _distance_power(compactness)
    return compactness


def _distance_power(compactness: str) -> float:
    powers = {"travel": 1.0, "moi": 2.0}
    if compactness not in powers:
        raise ScenarioError(f"compactness must be travel or moi, not '{compactness}'")
    return powers[compactness]


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
    def of(
        cls, accounts: pd.DataFrame, max_accounts: int | None, max_revenue_share: float | None
    ) -> _MoveCaps | None:
        if max_accounts is None and max_revenue_share is None:
            return None
        weights = np.zeros(len(accounts))
        count = 0
        max_revenue = None
        if max_accounts is not None:
            if COUNT_OR_ZERO.problem(max_accounts):
                raise ScenarioError(
                    f"max_moved_accounts is {max_accounts}; allowed: {COUNT_OR_ZERO.text}"
                )
            weights += 1.0 / max(max_accounts, 1)
            count += 1
        if max_revenue_share is not None:
            if SHARE.problem(max_revenue_share):
                raise ScenarioError(
                    f"max_moved_revenue_share is {max_revenue_share}; allowed: {SHARE.text}"
                )
            revenue = _revenue(accounts)
            max_revenue = max_revenue_share * float(revenue.sum())
            weights += revenue / max(max_revenue, 1e-9)
            count += 1
        return cls(weights, count, max_accounts, max_revenue)

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


def _align_with_caps(
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    caps: _MoveCaps,
    solver: str,
    time_limit_s: float,
    options: dict[str, Any],
) -> AlignmentResult:
    """Find the smallest price on moves at which the plan keeps the caps, then solve there.

    Every price tried gives a Lagrangian lower bound (its relaxation bound minus price x number
    of caps) on the capped problem; the best is reported. A cap of zero is a lock.
    """
    t_start = time.perf_counter()
    zero_locks = _zero_cap_locks(accounts, caps)
    if zero_locks is not None:
        accounts = zero_locks
    weight = float(options["disruption_weight"])

    def base_objective(result: AlignmentResult) -> float:
        metrics = result.report.metrics
        return metrics["travel_hour_km"] + weight * metrics["potential_moved"]

    def attempt(price: float, backend: str) -> AlignmentResult:
        left = max(time_limit_s - (time.perf_counter() - t_start), 1.0)
        limit = left if backend != "heuristic" else max(left / 4.0, 1.0)
        return _align_once(
            accounts, reps, solver=backend, time_limit_s=limit, validate=False,
            move_cost=price * caps.weights, **options,
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
            trial = attempt(price, "heuristic")
            record(trial, price)
            if keeps(trial):
                best, high, best_price = trial, price, price
                break
            low, price = price, price * 4.0
        if best is None or high is None:
            over = caps.excess(accounts, first.assignments["moved"].to_numpy(bool))
            raise SolveError(
                "no plan within the balance rules keeps the caps on moves: the closest found "
                f"is over by {over[0]:,.0f} accounts and {over[1]:,.0f} of revenue; the "
                "windows force those moves, so raise the cap or widen --balance"
            )
        for _ in range(CAP_BISECTION_STEPS):
            if time.perf_counter() - t_start > 0.6 * time_limit_s:
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
    if solver != "heuristic":
        final = attempt(best_price, solver)
        record(final, best_price)
        if keeps(final) and base_objective(final) <= base_objective(best):
            best = final
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
        seconds=time.perf_counter() - t_start,
        notes=[*best.report.notes, note],
    )
    parameters = {
        **best.parameters,
        "solver": solver,
        "time_limit_s": time_limit_s,
        "max_moved_accounts": caps.max_accounts,
        "max_moved_revenue": caps.max_revenue,
    }
    return replace(best, report=report, parameters=parameters)


def _zero_cap_locks(accounts: pd.DataFrame, caps: _MoveCaps) -> pd.DataFrame | None:
    """A cap of zero keeps the affected accounts where they are: lock them instead of pricing."""
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


def _require_plan(problem: AlignmentProblem, solution: Solution) -> None:
    """Never hand back a plan that a backend called infeasible or that has no finite cost.

    The callers re-label plans they checked themselves; what reaches here with such a status is
    a plan nobody vouches for, so it must not be written as a result.
    """
    if solution.status in (SolveStatus.INFEASIBLE, SolveStatus.ERROR):
        dev_p, dev_w = _deviations(problem, solution.assignment)
        rule = problem.settings.balance
        raise SolveError(
            f"the {solution.backend} backend ended with status {solution.status.value} and its "
            f"plan breaks the rules (largest deviation {100 * dev_p:.2f}% on potential, "
            f"{100 * dev_w:.2f}% on workload; allowed ±{100 * rule.potential:.3g}% / "
            f"±{100 * rule.workload:.3g}% and capacity); no plan was written. Raise "
            "--time-limit, widen --balance, or use --soft"
        )
    if not math.isfinite(solution.objective):
        raise SolveError(
            f"the {solution.backend} backend returned a plan whose cost is {solution.objective} "
            "(not a finite number), so no plan was written; check the inputs for extreme values"
        )


def _result(
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    problem: AlignmentProblem,
    solution: Solution,
    requested: BalanceRule,
    seed: int,
    time_limit_s: float,
    t_start: float,
    stages: dict[str, float],
    notes: list[str],
    solver: str,
    gap: float | None,
    input_hashes: Mapping[str, str] | None,
    bound_scope: str,
) -> AlignmentResult:
    _require_plan(problem, solution)
    settings = problem.settings
    plan = problem.rep_ids[problem.expand(solution.assignment)]
    factors = dict(settings.tier_factors)
    dev_p, dev_w = _deviations(problem, solution.assignment)
    if problem.adjacency is not None:
        notes = [
            *notes,
            f"contiguous territories on the unit graph; {problem.cut_edges(solution.assignment)} "
            f"of {problem.adjacency.nnz // 2} unit borders run between territories",
        ]
    report = SolveReport(
        backend=solution.backend,
        status=solution.status.value,
        objective=solution.objective,
        bound=solution.bound,
        bound_source=solution.bound_source,
        bound_scope=bound_scope if solution.bound is not None else "none",
        gap=solution.gap,
        seconds=time.perf_counter() - t_start,
        max_potential_deviation=dev_p,
        max_workload_deviation=dev_w,
        balance_potential=settings.balance.potential,
        balance_workload=settings.balance.workload,
        balance_requested_potential=requested.potential,
        balance_requested_workload=requested.workload,
        soft=requested.soft,
        candidates=settings.candidates,
        n_accounts=len(accounts),
        n_reps=problem.n_reps,
        n_pairs=problem.n_pairs,
        seed=seed,
        time_limit_s=time_limit_s,
        stages=stages,
        metrics=plan_metrics(accounts, reps, plan, factors),
        notes=notes,
    )
    parameters: dict[str, Any] = {
        "balance_potential": requested.potential,
        "balance_workload": requested.workload,
        "soft": requested.soft,
        "allow_overtime": requested.allow_overtime,
        "solver": solver,
        "time_limit_s": time_limit_s,
        "seed": seed,
        "disruption_weight": settings.disruption_weight,
        "tier_factors": factors,
        "candidates": settings.candidates,
        "max_distance_km": settings.max_distance_km,
        "forbidden_pairs": int(problem.forbidden_keys.size),
        "family_units": None if problem.members is None else problem.n_accounts,
        "contiguity": problem.adjacency is not None,
        "compactness": "moi" if settings.distance_power == 2.0 else "travel",
        "cut_edge_weight": settings.cut_edge_weight,
        "gap": gap,
    }
    hashes = (
        dict(input_hashes)
        if input_hashes
        else {
            "accounts": frame_hash(accounts),
            "reps": frame_hash(reps),
        }
    )
    return AlignmentResult(
        assignments=assignment_table(accounts, reps, plan),
        territories=territory_table(accounts, reps, plan, factors),
        report=report,
        problem=problem,
        parameters=parameters,
        input_hashes=hashes,
        unit_plan=(
            None
            if problem.members is None
            else pd.Series(
                problem.rep_ids[solution.assignment],
                index=pd.Index(problem.account_ids, name="unit_id"),
                name="rep_id",
            )
        ),
    )
