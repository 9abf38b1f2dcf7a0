"""A solver-neutral MILP, so that both backends get the very same model and cuts.

The model builders (:mod:`solvers.districting.models`) write a :class:`Milp`; a backend
(:mod:`~solvers.districting.highs` or :mod:`~solvers.districting.cpsat`) loads it, solves a
round and takes the cuts of the next round as more rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from solvers.base import SolveStatus
from solvers.districting.solution import FloatArray

Row = tuple[list[int], list[float], float, float]
"""A linear row: variable indices, coefficients, lower and upper bound (``±inf``: none)."""


@dataclass
class Milp:
    """Variables (cost, bounds, integrality) and rows of a minimisation, in insertion order."""

    cost: list[float] = field(default_factory=list)
    lb: list[float] = field(default_factory=list)
    ub: list[float] = field(default_factory=list)
    integer: list[bool] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)

    def var(self, cost: float = 0.0, lb: float = 0.0, ub: float = 1.0, integer: bool = True) -> int:
        """Add a variable; returns its index."""
        self.cost.append(cost)
        self.lb.append(lb)
        self.ub.append(ub)
        self.integer.append(integer)
        return len(self.cost) - 1

    def row(self, idx: list[int], val: list[float], lo: float, hi: float) -> None:
        """Add the row ``lo <= sum(val * x[idx]) <= hi``."""
        self.rows.append((idx, val, lo, hi))


@dataclass
class RoundResult:
    """What one solve of a round gives: status, the values found, the proven bound, nodes."""

    status: SolveStatus
    values: FloatArray | None
    bound: float | None
    nodes: int = 0


class RoundBackend:
    """What both backends share: the model kept between rounds and its contiguous incumbents.

    A backend loads ``milp`` once (:meth:`_load`); each round then adds its cuts
    (:meth:`add_rows`) and solves again (:meth:`solve`). The best accepted solution seen
    during any round is ``best``, with its objective ``best_obj``, and starts the next round.

    Parameters
    ----------
    milp
        The model; later rounds add their cuts with :meth:`add_rows`.
    threads, seed
        Solver threads and random seed.
    relative_gap
        Stop a round when the incumbent is within this share of the bound.
    accept
        Whether a solution found during a round is a plan to keep (contiguous).
    """

    name = ""

    def __init__(
        self,
        milp: Milp,
        threads: int,
        seed: int,
        relative_gap: float,
        accept: Callable[[FloatArray], bool],
    ) -> None:
        self.best: FloatArray | None = None
        self.best_obj = math.inf
        self._threads, self._seed, self._gap = threads, seed, relative_gap
        self._accept = accept
        self._cost = np.asarray(milp.cost)
        self._load(milp)

    def record(self, values: FloatArray) -> None:
        """Keep ``values`` as the incumbent if accepted and better than the one kept."""
        obj = float(self._cost @ values)
        if self._accept(values) and obj < self.best_obj - 1e-9:
            self.best, self.best_obj = values.copy(), obj

    def _load(self, milp: Milp) -> None:
        """Build the solver's model of ``milp`` (variables, objective and rows)."""
        raise NotImplementedError

    def add_rows(self, rows: Sequence[Row]) -> None:
        """Add rows (a round's cuts) to the model kept between rounds."""
        raise NotImplementedError

    def solve(self, time_limit: float, start: FloatArray | None) -> RoundResult:
        """Solve the model as it stands, from ``start`` when given, within ``time_limit`` s."""
        raise NotImplementedError
