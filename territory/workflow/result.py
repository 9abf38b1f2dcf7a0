"""What a solve hands back: the plan, its territories, the report and ``solve.json``.

Both the direct pipeline (:mod:`territory.workflow.align`) and the decomposed one
(:mod:`territory.workflow.scale`)
end in :func:`solve_result`, so their results, and the files written from them, have one shape.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from solvers.base import Solution, SolveStatus
from territory import __version__
from territory.domain.metrics import assignment_table, plan_metrics, territory_table
from territory.domain.model import AlignmentProblem
from territory.domain.spec import AlignmentSpec
from territory.errors import SolveError

__all__ = [
    "AlignmentResult",
    "SolveReport",
    "deviations",
    "frame_hash",
    "require_plan",
    "solve_parameters",
    "solve_result",
]


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
        """Return the content of ``solve.json``."""
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


def deviations(problem: AlignmentProblem, assignment: np.ndarray) -> tuple[float, float]:
    """Largest relative distance from target over reps: potential, workload."""
    pot, wl = problem.loads(assignment)
    dev_p = np.abs(pot / np.maximum(problem.potential_target, 1e-12) - 1.0)
    dev_w = np.abs(wl / np.maximum(problem.workload_target, 1e-12) - 1.0)
    dev_p = np.where(problem.potential_target > 0, dev_p, 0.0)
    dev_w = np.where(problem.workload_target > 0, dev_w, 0.0)
    return float(dev_p.max(initial=0.0)), float(dev_w.max(initial=0.0))


def require_plan(problem: AlignmentProblem, solution: Solution) -> None:
    """Never hand back a plan that a backend called infeasible or that has no finite cost.

    The callers re-label plans they checked themselves; what reaches here with such a status is
    a plan nobody vouches for, so it must not be written as a result.

    Raises
    ------
    SolveError
        The plan breaks the rules, or its cost is not a finite number.
    """
    if solution.status in (SolveStatus.INFEASIBLE, SolveStatus.ERROR):
        dev_p, dev_w = deviations(problem, solution.assignment)
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


def solve_parameters(
    spec: AlignmentSpec, problem: AlignmentProblem, gap: float | None
) -> dict[str, Any]:
    """``solve.json``'s ``parameters``: the levers as asked for, and what the model made of them.

    ``gap`` is the gap the search stopped at (``None`` where the decomposed solve has none).
    """
    settings = problem.settings
    return {
        "balance_potential": spec.potential_tolerance,
        "balance_workload": spec.workload_tolerance,
        "soft": spec.soft,
        "allow_overtime": spec.allow_overtime,
        "solver": spec.solver,
        "time_limit_s": spec.time_limit_s,
        "seed": spec.seed,
        "disruption_weight": settings.disruption_weight,
        "tier_factors": dict(settings.tier_factors),
        "candidates": settings.candidates,
        "max_distance_km": settings.max_distance_km,
        "forbidden_pairs": int(problem.forbidden_keys.size),
        "family_units": None if problem.members is None else problem.n_accounts,
        "contiguity": problem.adjacency is not None,
        "compactness": "moi" if settings.distance_power == 2.0 else "travel",
        "cut_edge_weight": settings.cut_edge_weight,
        "gap": gap,
    }


@dataclass
class SolveLog:
    """What a solve records on its way: seconds per stage and notes for the report."""

    stages: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add_stages(self, stages: Mapping[str, float] | tuple[tuple[str, float], ...]) -> None:
        """Add a backend's stage seconds to the ones recorded so far."""
        items = stages.items() if isinstance(stages, Mapping) else stages
        for name, seconds in items:
            self.stages[name] = self.stages.get(name, 0.0) + seconds


def solve_result(
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    problem: AlignmentProblem,
    solution: Solution,
    spec: AlignmentSpec,
    *,
    time_limit_s: float,
    t_start: float,
    log: SolveLog,
    gap: float | None,
    input_hashes: Mapping[str, str] | None,
    bound_scope: str,
) -> AlignmentResult:
    """Build the result of a solve: tables, report and parameters (the plan checked first).

    ``time_limit_s`` is the budget this solve had (the report's; the parameters keep the
    spec's), ``t_start`` when it started.
    """
    require_plan(problem, solution)
    settings = problem.settings
    plan = problem.rep_ids[problem.expand(solution.assignment)]
    factors = dict(settings.tier_factors)
    dev_p, dev_w = deviations(problem, solution.assignment)
    notes = list(log.notes)
    if problem.adjacency is not None:
        notes.append(
            f"contiguous territories on the unit graph; {problem.cut_edges(solution.assignment)} "
            f"of {problem.adjacency.nnz // 2} unit borders run between territories"
        )
    requested = spec.balance_rule
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
        seed=spec.seed,
        time_limit_s=time_limit_s,
        stages=log.stages,
        metrics=plan_metrics(accounts, reps, plan, factors),
        notes=notes,
    )
    hashes = (
        dict(input_hashes)
        if input_hashes
        else {"accounts": frame_hash(accounts), "reps": frame_hash(reps)}
    )
    return AlignmentResult(
        assignments=assignment_table(accounts, reps, plan),
        territories=territory_table(accounts, reps, plan, factors),
        report=report,
        problem=problem,
        parameters=solve_parameters(spec, problem, gap),
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
