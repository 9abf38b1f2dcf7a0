"""Infeasibility proofs that need no solver, each in words with its numbers.

A unit heavier than the upper bound ``U``, ``k L`` above the total or ``k U`` below it, or a
graph component that cannot hold a whole number of connected districts.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse import csgraph

from solvers.districting.solution import FloatArray
from territory.domain.districting import DualGraph


def fmt(value: float) -> str:
    """Format a number for a reason: whole numbers with separators, others to 6 digits."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.6g}"


def _unit_name(graph: DualGraph, i: int) -> str:
    return f"unit {i} ({graph.names[i]})" if graph.names else f"unit {i}"


def presolve_reasons(
    graph: DualGraph,
    k: int,
    weights: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    contiguity: bool,
) -> list[str]:
    """Explain, each with its numbers, why no plan can exist; empty when none is found here.

    Parameters
    ----------
    graph
        The units and their adjacency.
    k
        The number of districts.
    weights
        One column per measure (``n x q``).
    lower, upper
        Bounds on every district's sum of each measure (one value per measure).
    contiguity
        Districts must be connected: each graph component must then hold a whole number of
        districts.

    Returns
    -------
    list of str
        One sentence per proof found, e.g. a unit heavier than ``U`` or ``k L`` above the total.
    """
    reasons: list[str] = []
    q = weights.shape[1]
    label = (lambda m: "") if q == 1 else (lambda m: f" (measure {m})")
    for m in range(q):
        w, lo, hi = weights[:, m], float(lower[m]), float(upper[m])
        if lo > hi:
            reasons.append(f"L = {fmt(lo)} > U = {fmt(hi)}{label(m)}: the bounds are empty")
        heavy = np.flatnonzero(w > hi)
        for i in heavy[np.argsort(-w[heavy], kind="stable")][:5]:
            reasons.append(
                f"{_unit_name(graph, int(i))} has {fmt(w[i])} > U = {fmt(hi)} by "
                f"{fmt(w[i] - hi)}{label(m)}: no district can hold it"
            )
        if heavy.size > 5:
            reasons.append(f"... and {heavy.size - 5} more units heavier than U{label(m)}")
        total = float(w.sum())
        if k * lo > total:
            reasons.append(
                f"k·L = {k} × {fmt(lo)} = {fmt(k * lo)} exceeds the total {fmt(total)} by "
                f"{fmt(k * lo - total)}{label(m)}"
            )
        if k * hi < total:
            reasons.append(
                f"k·U = {k} × {fmt(hi)} = {fmt(k * hi)} is below the total {fmt(total)} by "
                f"{fmt(total - k * hi)}{label(m)}"
            )
    if not contiguity or reasons:
        return reasons
    n_comp, comp = csgraph.connected_components(graph.adjacency(), directed=False)
    if n_comp == 1:
        return reasons
    a_min_total, a_max_total = 0, 0
    for c in range(n_comp):
        members = np.flatnonzero(comp == c)
        sums = weights[members].sum(axis=0)
        lo_a, hi_a = 1, k
        for m in range(q):
            # a districts fit iff a·L <= P_c <= a·U.
            if upper[m] > 0:
                lo_a = max(lo_a, math.ceil(sums[m] / upper[m] - 1e-12))
            if lower[m] > 0:
                hi_a = min(hi_a, math.floor(sums[m] / lower[m] + 1e-12))
        shown = ", ".join(str(int(i)) for i in members[:8]) + (", …" if members.size > 8 else "")
        if lo_a > hi_a:
            reasons.append(
                f"component of {members.size} units {{{shown}}} has {fmt(sums[0])}: between "
                f"{fmt(sums[0] / upper[0])} and {fmt(sums[0] / lower[0])} districts of "
                f"{fmt(lower[0])}…{fmt(upper[0])}, so no whole number of connected districts"
            )
        a_min_total += lo_a
        a_max_total += hi_a
    if not reasons and not a_min_total <= k <= a_max_total:
        reasons.append(
            f"the {n_comp} graph components need between {a_min_total} and {a_max_total} "
            f"connected districts in total, not k = {k}"
        )
    return reasons
