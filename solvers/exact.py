"""What the exact backends (CP-SAT, MIP through PuLP) share.

Neither searches from scratch: on 10,000 accounts neither CP-SAT nor HiGHS finds a first
feasible plan in minutes, while both improve a feasible one readily. :class:`ExactSolver` takes
the warm start (or runs the heuristic for it) and hands it on with the time budget;
:func:`pairs_by_rep` groups the candidate pairs by rep for the balance rows and
:func:`cut_edge_vars` prices cut unit edges in either modelling library.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from solvers.base import Solution, SolveCall, Solver
from solvers.contiguity import cut_edge_links
from solvers.heuristic import start_for
from territory.domain.budget import Budget
from territory.domain.model import AlignmentProblem


class ExactSolver(Solver):
    """Base of the exact backends: improve a feasible plan within the time limit."""

    def _run(self, call: SolveCall) -> Solution:
        """Improve ``call.warm_start`` (or a heuristic plan found on 30% of the time)."""
        start = start_for(call.problem, call.warm_start, call.budget.limit_s, call.seed)
        return self._improve(call.problem, start, call.budget, call.seed)

    def _improve(
        self, problem: AlignmentProblem, start: Solution, budget: Budget, seed: int
    ) -> Solution:
        """Solve the model from ``start`` within what ``budget`` has left; the backend's work."""
        raise NotImplementedError

    def _result(self, budget: Budget, **found: Any) -> Solution:
        """Return the plan the model ``found``, stamped with this backend and the clock.

        ``found`` holds the :class:`Solution` fields the model decided (assignment, status,
        objective, bound, stages, ...); ``backend`` defaults to this backend's name, so every
        exact backend reports its name and time the same way.
        """
        found.setdefault("backend", self.name)
        return Solution(seconds=budget.elapsed(), **found)


def pairs_by_rep(problem: AlignmentProblem) -> list[list[int]]:
    """Return the candidate pairs of each rep (positions in the pair arrays), in pair order."""
    pr = problem.pair_rep
    by_rep = np.argsort(pr, kind="stable")
    rep_start = np.searchsorted(pr[by_rep], np.arange(problem.n_reps + 1))
    return [by_rep[rep_start[r] : rep_start[r + 1]].tolist() for r in range(problem.n_reps)]


def cut_edge_vars(
    problem: AlignmentProblem,
    x: Sequence[Any],
    new_var: Callable[[str], Any],
    add_row: Callable[[Any, str], object],
) -> list[Any]:
    """One 0/1 variable per unit edge, forced to 1 when its ends go to different reps.

    ``new_var(name)`` makes a binary variable and ``add_row(row, name)`` adds a constraint in the
    backend's own library (CP-SAT and PuLP both build rows from ``>=`` on their expressions).
    """
    cut_vars = []
    for e, rows in enumerate(cut_edge_links(problem)):
        y = new_var(f"cut{e}")
        for p, q in rows:
            add_row(y >= (x[p] - x[q] if q >= 0 else x[p]), f"cut{e}_{p}")
        cut_vars.append(y)
    return cut_vars
