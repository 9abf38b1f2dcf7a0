"""The LP relaxation of an alignment: the bound, the heuristic's start, and why rules fail.

Where every account-rep pair can be priced, the pruned model is solved elastically and column
generation adds the pairs its duals ask for; otherwise the candidate set widens while the pruned
model is infeasible. When the windows cannot hold even fractionally, :func:`balance_reason`
names the rep left furthest from target and the smallest tolerance any plan can meet.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from solvers.heuristic import cheapest_basis
from solvers.lp import PRICING_PAIR_LIMIT, LpResult, price_pairs, rep_prices, solve_relaxation
from territory.domain.budget import Budget
from territory.domain.model import AlignmentProblem, AlignmentSettings
from territory.errors import InfeasibilityReason
from territory.workflow.result import SolveLog

Progress = Callable[[str], None]


def candidate_ladder(candidates: int, n_reps: int) -> list[int]:
    """Candidate counts to try when the pruned model is infeasible: k, 1.5k, 2k, 4k."""
    ladder = [candidates, math.ceil(1.5 * candidates), 2 * candidates, 4 * candidates]
    out: list[int] = []
    for k in ladder:
        k = min(k, n_reps)
        if k not in out:
            out.append(k)
    return out


PRICING_ROUNDS = 30
"""Column-generation rounds that add priced-out pairs before the bound is taken as final."""

PRICING_GAP = 0.002
"""Column generation stops once the Lagrangian bound over all pairs is this close to the LP."""

WARM_START_SHARE = 0.05
"""Pricing rounds adding at most this share of new columns restart the simplex from its basis."""


ELASTIC_COLUMNS = 4
"""Slack columns per rep in an elastic relaxation without margin (potential and workload, under
and over: :func:`solvers.lp.elastic_windows`), which a starting basis must list."""

VIOLATION_TOL = 1e-7
"""Elastic-relaxation violation (fractions of target, summed) treated as zero."""


def lp_infeasible(lp: LpResult) -> bool:
    """Tell whether the relaxation proves the windows impossible (directly or by elastic slack)."""
    return lp.infeasible or (lp.optimal and lp.violation > VIOLATION_TOL)


def relaxation(
    build: Callable[[AlignmentSettings], AlignmentProblem],
    settings: AlignmentSettings,
    budget: Budget,
    log: SolveLog,
    say: Progress,
) -> tuple[AlignmentProblem, LpResult, str]:
    """Solve the LP relaxation that gives the bound and the heuristic's start, with its scope.

    Where every account-rep pair can be priced, the pruned model is solved elastically and the
    pairs its duals ask for are added until none is missing; otherwise the candidate set widens
    (k, 1.5k, 2k, 4k) while the pruned model is infeasible.
    """
    problem = build(settings)
    if problem.n_accounts * problem.n_reps <= PRICING_PAIR_LIMIT:
        say(f"LP relaxation ({settings.candidates} candidate reps per account)")
        lp = solve_relaxation(
            problem, time_limit_s=budget.share("relaxation"), elastic=True,
            warm=cheapest_basis(problem, ELASTIC_COLUMNS * problem.n_reps),
        )  # fmt: skip
        log.stages["lp_relaxation"] = lp.seconds
        if not lp.optimal:
            return problem, lp, "candidate pairs"
        say("pricing pairs left out by pruning")
        return priced_relaxation(problem, lp, budget, log)
    lp_k: LpResult | None = None
    for k in candidate_ladder(settings.candidates, problem.n_reps):
        settings = replace(settings, candidates=k)
        say(f"LP relaxation ({k} candidate reps per account)")
        problem = build(settings)
        lp_k = solve_relaxation(
            problem, time_limit_s=budget.share("relaxation"), warm=cheapest_basis(problem, 0)
        )
        log.stages[f"lp_relaxation_k{k}"] = lp_k.seconds
        if not lp_k.infeasible:
            break
        log.notes.append(f"LP relaxation infeasible with {k} candidate reps per account; widening")
    assert lp_k is not None
    log.notes.append(
        "too many account-rep combinations to price: the bound covers the candidate pairs only"
    )
    return problem, lp_k, "candidate pairs"


def priced_relaxation(
    problem: AlignmentProblem, lp: LpResult, budget: Budget, log: SolveLog
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
        if not budget.keeps("plan_search"):
            log.notes.append(
                "pricing stopped to leave time for the plan search: the bound is the best "
                "Lagrangian bound found so far (or covers the candidate pairs only, if none was); "
                "raise --time-limit for a tighter bound"
            )
            break
        t0 = time.perf_counter()
        pi, sigma = rep_prices(problem, lp)
        priced = price_pairs(problem, pi, sigma, account_dual=lp.row_dual[: problem.n_accounts])
        log.add_stages({"lp_pricing": time.perf_counter() - t0})
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
        small = priced.accounts.size <= WARM_START_SHARE * problem.n_pairs
        problem = problem.with_pairs(priced.accounts, priced.reps)
        warm = lp if small else cheapest_basis(problem, ELASTIC_COLUMNS * problem.n_reps * elastic)
        lp = solve_relaxation(
            problem, time_limit_s=budget.share("relaxation"), warm=warm, elastic=elastic
        )
        log.add_stages({"lp_pricing": lp.seconds})
    if added:
        log.notes.append(f"column generation added {added} account-rep pairs beyond the candidates")
    if (
        math.isfinite(lagrangian)
        and lp.optimal
        and lp.objective is not None
        and lp.violation <= VIOLATION_TOL
    ):
        scope = "all account-rep pairs"
        gap = (lp.objective - lagrangian) / max(abs(lp.objective), 1.0)
        log.notes.append(
            f"bound: Lagrangian relaxation of the balance windows at the candidate LP's duals, "
            f"over all account-rep pairs ({100 * gap:.3f}% below that LP)"
        )
        lp = replace(
            lp,
            objective=min(lagrangian, lp.objective),
            bound_source="Lagrangian relaxation (windows priced at LP duals)",
        )
    return problem, lp, scope


def widen(settings: AlignmentSettings, potential: float, workload: float) -> AlignmentSettings:
    """Return the settings with windows at least this wide (soft mode)."""
    return replace(settings, balance=settings.balance.widened(potential, workload))


def balance_reason(problem: AlignmentProblem, soft_lp: LpResult, scope: str) -> InfeasibilityReason:
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
