"""Exact districting backends: connected, balanced partitions of a dual graph into k districts.

Two objectives, the two of the US benchmarks in ``../shared/benchmarks``:

- ``"centred"``: the Hess / p-median model. ``x[i, j]`` puts unit ``i`` in the district centred at
  unit ``j``; the caller's ``cost[i, j]`` (``p_i D_ij^2`` for the moment of inertia, ``p_i h_ij``
  for hop-Hess) is minimised. Its LP bound is strong, so HiGHS solves it with little branching.
- ``"cut_edges"``: the labeling model. ``x[i, d]`` puts unit ``i`` in district ``d``, ``y[e]``
  marks a cut edge. Districts are interchangeable, so a cumulative (orbitope-like) ordering
  removes relabelled copies of each plan; its LP bound is weak, whatever the solver.

Contiguity is enforced the same way on both backends (HiGHS through highspy, CP-SAT): neither
offers lazy constraints through its Python interface, so we solve, find the districts that fall
apart, add minimal (a, b)-vertex-separator cuts for all of them and solve again. This is the
lazy-cut (LCUT) scheme of Validi, Buchanan & Lykhovyd with a restart per round instead of a
callback. A contiguous incumbent seen during a round satisfies every cut, so it is passed on as the
next round's start. In the centred model, ``x[i, j]`` is fixed to 0 when the lightest path from
``i`` to ``j`` already weighs more than ``U`` (no connected district can hold both), which removes
most variables on county graphs.

Infeasibility is explained in words with numbers: presolve proofs (a unit heavier than ``U``,
``k L > P``, a graph component that cannot hold a whole number of districts) and, failing those,
the solver's proof that no connected partition exists.

The package, by seam: :mod:`~solvers.districting.solution` (the result and its types),
:mod:`~solvers.districting.presolve` (proofs without a solver), :mod:`~solvers.districting.milp`
(the solver-neutral model), :mod:`~solvers.districting.highs` and
:mod:`~solvers.districting.cpsat` (the backends), :mod:`~solvers.districting.graph` (pieces and
separators), :mod:`~solvers.districting.models` (the two models) and
:mod:`~solvers.districting.driver` (:func:`solve_districting`, the rounds).
"""

from solvers.districting.cpsat import threads_or_one
from solvers.districting.driver import MAX_CUTS_PER_ROUND, WARM_START_SHARE, solve_districting
from solvers.districting.presolve import presolve_reasons
from solvers.districting.solution import Backend as Backend
from solvers.districting.solution import DistrictingSolution as DistrictingSolution
from solvers.districting.solution import FloatArray as FloatArray
from solvers.districting.solution import IntArray as IntArray
from solvers.districting.solution import Method as Method
from solvers.districting.solution import Objective as Objective

__all__ = [
    "MAX_CUTS_PER_ROUND",
    "WARM_START_SHARE",
    "Backend",
    "DistrictingSolution",
    "FloatArray",
    "IntArray",
    "Method",
    "Objective",
    "presolve_reasons",
    "solve_districting",
    "threads_or_one",
]
