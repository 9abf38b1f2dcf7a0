"""``territory align --objective value``: raise a balanced plan's expected sales.

Under balance rules every rep's potential and workload are pinned to a window around its
target, so two balanced plans differ in expected sales mostly by what the accounts that change
hands lose (the model's transition loss) and by which rep's effectiveness and coverage an
account meets. The solve keeps its travel objective; this step then gives moved accounts back to
their current rep where that raises expected sales, as far as every rep's windows allow:

* **linearised**: each pair's expected sales
  (:func:`~territory.domain.response.pair_expected_sales`) are taken at the coverage the solved
  plan gives each rep; one account changes a rep's load by little, and the plan's value is
  measured again with the full model afterwards;
* **exact for that linearisation**: the give-backs that raise expected sales the most within the
  windows are a knapsack with two windows per rep; its LP relaxation (``scipy.optimize.linprog``,
  HiGHS) bounds what any choice of give-backs can add, and the plan takes the LP's whole
  give-backs and then the others greedily while the windows hold (``bound`` and ``gap`` say how
  close that came).

What it does not do: search moves to a third rep, or trade travel for sales beyond the give-backs
(travel only rises where an account returns to its current rep). Families, whole units and
contiguity are left as solved (a give-back could split a family or a territory).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import linprog

from territory.domain.arrays import FloatArray, IntArray
from territory.domain.geo import haversine_km
from territory.domain.metrics import assignment_table, plan_metrics, territory_table
from territory.domain.response import ResponseModel, account_expected_sales, pair_expected_sales
from territory.workflow.result import AlignmentResult, deviations

__all__ = ["OBJECTIVES", "raise_value"]

OBJECTIVES = ("travel", "value")
"""What ``territory align --objective`` accepts."""


def raise_value(
    result: AlignmentResult, accounts: pd.DataFrame, reps: pd.DataFrame, model: ResponseModel
) -> tuple[AlignmentResult, dict[str, Any]]:
    """Give moved accounts back to their current rep where that raises expected sales.

    Parameters
    ----------
    result : AlignmentResult
        A solved plan (its problem holds the windows and the rules).
    accounts, reps : pandas.DataFrame
        The tables it was solved from.
    model : ResponseModel
        The fitted sales-response model.

    Returns
    -------
    tuple
        The plan with the give-backs (tables and report updated; the travel bound stays a
        valid bound, the gap is recomputed) and the ``value_objective`` record of
        ``solve.json``.
    """
    problem = result.problem
    record: dict[str, Any] = {"objective": "value", "approximation": _APPROXIMATION}
    if problem.members is not None or problem.adjacency is not None:
        record["note"] = "not applied: families, units or contiguity are kept as solved"
        return result, record
    index = {r: i for i, r in enumerate(problem.rep_ids.tolist())}
    plan_ids = result.plan.reindex(accounts["account_id"]).to_numpy(dtype=object)
    assign = np.array([index[r] for r in plan_ids.tolist()], dtype=np.int64)
    current = problem.current
    before = _expected(model, accounts, reps, problem.rep_ids[assign], assign != current, current)
    movable = np.flatnonzero((current >= 0) & (assign != current) & (problem.locked < 0))
    if movable.size:
        back = current[movable]
        distance = haversine_km(
            problem.account_lat[movable], problem.account_lon[movable],
            problem.rep_lat[back], problem.rep_lon[back],
        )  # fmt: skip
        movable = movable[problem.allowed(movable, back, distance)]
    new, after = assign, before
    bound: float | None = None
    linearised: list[float] = []
    for _ in range(_ROUNDS):
        # Value the give-backs at the coverage of the plan as it now is (a fixed point).
        cand = movable[new[movable] != current[movable]]
        plan_reps = problem.rep_ids[new]
        gain = pair_expected_sales(
            model, accounts, reps, plan_reps, cand, current[cand], np.zeros(cand.size, bool)
        ) - pair_expected_sales(model, accounts, reps, plan_reps, cand, new[cand],
                                np.ones(cand.size, bool))  # fmt: skip
        cand, gain = cand[gain > 0], gain[gain > 0]
        chosen, lp = _give_backs(problem, new, cand, gain)
        bound = lp if bound is None else bound
        taken = float(gain[np.isin(cand, chosen)].sum())
        if not linearised:
            linearised.append(taken)  # the first round's gain, which ``bound`` bounds
        if not chosen.size:
            break
        trial = new.copy()
        trial[chosen] = current[chosen]
        value = _expected(model, accounts, reps, problem.rep_ids[trial], trial != current, current)
        if value <= after:  # the linearisation misled: keep the plan as it was
            break
        new, after = trial, value
    chosen = np.flatnonzero(new != assign)
    record.update(
        expected_sales_solved=before,
        expected_sales=after,
        gain=after - before,
        accounts_given_back=int(chosen.size),
        candidates=int(movable.size),
        gain_linearised_first_round=linearised[0] if linearised else 0.0,
        bound_linearised=bound or 0.0,
    )
    first, top = record["gain_linearised_first_round"], record["bound_linearised"]
    record["gap_linearised"] = (top - first) / top if top > 0 else 0.0
    return _with_plan(result, accounts, reps, new, record), record


_ROUNDS = 4
"""Rounds of valuing the give-backs at the current plan's coverage and choosing more."""

_APPROXIMATION = (
    "pairs valued at the coverage the solved plan gives each rep (fully ramped reps, point "
    "estimate), revalued after each round of give-backs; only give-backs to the current rep "
    "are searched; bound_linearised bounds the first round's gain (LP relaxation); "
    "expected_sales is the full model on the final plan"
)


def _expected(
    model: ResponseModel,
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    plan: Any,
    changed: Any,
    current: IntArray,
) -> float:
    moved = np.asarray(changed, dtype=bool) & (current >= 0)
    sales, _, _ = account_expected_sales(model, accounts, reps, plan, moved=moved)
    return float(sales[0].sum())


def _give_backs(
    problem: Any, assign: IntArray, cand: IntArray, gain: FloatArray
) -> tuple[IntArray, float]:
    """Choose give-backs within the windows: LP bound, then whole LP choices and greedy fill."""
    if not cand.size:
        return cand, 0.0
    pot, wl = problem.loads(assign)
    # Windows never tighter than the solved plan's own loads (soft mode may have widened them).
    limits = [
        (size, np.minimum(lo, load), np.maximum(hi, load), load)
        for size, lo, hi, load in (
            (problem.potential, problem.potential_lo, problem.potential_hi, pot),
            (problem.workload, problem.workload_lo, problem.workload_hi, wl),
        )
    ]
    n, k = problem.n_reps, cand.size
    cols = np.tile(np.arange(k), 2)
    reps_of = np.concatenate([problem.current[cand], assign[cand]])
    rows_ub, rhs_ub = [], []
    for size, lo, hi, load in limits:
        # Change of each rep's load: + size at the current rep, - size at the plan's rep.
        change = np.concatenate([size[cand], -size[cand]])
        delta = sparse.csr_matrix((change, (reps_of, cols)), shape=(n, k))
        rows_ub += [delta, -delta]
        rhs_ub += [hi - load, load - lo]
    solved = linprog(
        -gain, A_ub=sparse.vstack(rows_ub).tocsr(), b_ub=np.concatenate(rhs_ub),
        bounds=(0.0, 1.0), method="highs",
    )  # fmt: skip
    if solved.status != 0:
        return np.empty(0, np.int64), 0.0
    x = np.asarray(solved.x, np.float64)
    bound = float(-solved.fun)
    # The LP's whole give-backs together (a vertex has at most one fractional one per window
    # row), when their final loads fit; then every other one by gain while the windows hold.
    whole = x >= 1.0 - 1e-9
    while True:  # drop the least valuable give-back touching a rep outside its window
        loads = [_moved(load, size, cand[whole], reps_of, whole) for size, _, _, load in limits]
        outside = np.zeros(n, dtype=bool)
        for (_, lo, hi, _), load in zip(limits, loads, strict=True):
            outside |= (load > hi + 1e-9) | (load < lo - 1e-9)
        touching = whole & (outside[reps_of[:k]] | outside[reps_of[k:]])
        if not touching.any():
            break
        whole[np.flatnonzero(touching)[int(np.argmin(gain[touching]))]] = False
    taken = set(cand[whole].tolist())
    for _ in range(2):  # a give-back refused early may fit once others have moved
        for j in np.argsort(-gain, kind="stable").tolist():
            i = int(cand[j])
            if i in taken:
                continue
            to, fro = int(problem.current[i]), int(assign[i])
            trial = [load.copy() for load in loads]
            for (size, _, _, _), load in zip(limits, trial, strict=True):
                load[to] += size[i]
                load[fro] -= size[i]
            if all(_inside(t, lo, hi) for (_, lo, hi, _), t in zip(limits, trial, strict=True)):
                loads = trial
                taken.add(i)
    return np.array(sorted(taken), dtype=np.int64), bound


def _moved(
    load: FloatArray, size: FloatArray, accounts: IntArray, reps_of: IntArray, mask: Any
) -> FloatArray:
    """Return the loads after the masked give-backs (``reps_of``: current, then plan reps)."""
    k = mask.size
    out = load.copy()
    np.add.at(out, reps_of[:k][mask], size[accounts])
    np.subtract.at(out, reps_of[k:][mask], size[accounts])
    return out


def _inside(load: FloatArray, lo: FloatArray, hi: FloatArray) -> bool:
    return bool(np.all(load <= hi + 1e-9) and np.all(load >= lo - 1e-9))


def _with_plan(
    result: AlignmentResult,
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    assign: IntArray,
    record: dict[str, Any],
) -> AlignmentResult:
    """Rebuild the tables and the report for the plan with the give-backs."""
    problem = result.problem
    plan = problem.rep_ids[assign]
    factors = dict(problem.settings.tier_factors)
    _, cost = problem.pair_costs(np.arange(assign.size, dtype=np.int64), assign)
    objective = float(cost.sum())
    report = result.report
    bound = report.bound
    gap = max(0.0, (objective - bound) / objective) if bound is not None and objective > 0 else None
    dev_p, dev_w = deviations(problem, assign)
    note = (
        f"objective value: {record['accounts_given_back']} moved account(s) given back to their "
        f"current rep, expected sales {record['expected_sales_solved']:,.0f} -> "
        f"{record['expected_sales']:,.0f} per year (the travel objective and its gap are of "
        "the final plan; the bound is still the travel bound)"
    )
    report = replace(
        report, objective=objective, gap=gap, max_potential_deviation=dev_p,
        max_workload_deviation=dev_w, metrics=plan_metrics(accounts, reps, plan, factors),
        notes=[*report.notes, note],
    )  # fmt: skip
    return replace(
        result,
        assignments=assignment_table(accounts, reps, plan),
        territories=territory_table(accounts, reps, plan, factors),
        report=report,
    )
