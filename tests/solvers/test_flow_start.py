"""The flow start (issue 13): surpluses handed from rep to neighbouring rep, never lost."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from solvers.flow_start import flow_start, hand_overs, rep_graph
from solvers.heuristic import greedy_start
from territory.domain.model import AlignmentProblem, build_problem
from territory.domain.spec import AlignmentSpec
from territory.domain.synthetic import make_instance


def _metro(seed: int = 3, n: int = 1_200, r: int = 12) -> AlignmentProblem:
    """Most accounts in one city, most reps spread over the countryside: a crowded metro."""
    rng = np.random.default_rng(seed)
    city = rng.random(n) < 0.7
    lat = np.where(city, 33.75 + rng.normal(0, 0.05, n), rng.uniform(31.0, 35.0, n))
    lon = np.where(city, -84.39 + rng.normal(0, 0.05, n), rng.uniform(-86.0, -82.0, n))
    accounts = pd.DataFrame(
        {
            "account_id": [f"A{i:05d}" for i in range(n)],
            "lat": lat,
            "lon": lon,
            "potential": np.round(rng.lognormal(10, 0.8, n), 2),
            "workload": np.round(rng.uniform(1, 5, n), 1),
        }
    )
    reps = pd.DataFrame(
        {
            "rep_id": [f"R{j:03d}" for j in range(r)],
            "lat": np.r_[33.75, rng.uniform(31.0, 35.0, r - 1)],
            "lon": np.r_[-84.39, rng.uniform(-86.0, -82.0, r - 1)],
            "capacity": np.full(r, 10_000.0),
        }
    )
    return build_problem(accounts, reps, AlignmentSpec(balance=0.05).settings())


def _combined_excess(problem: AlignmentProblem, plan: np.ndarray) -> np.ndarray:
    pot, wl = problem.loads(plan)
    return 0.5 * (pot / problem.potential_target + wl / problem.workload_target) - 1.0


def test_rep_graph_is_symmetric_and_reaches_every_rep() -> None:
    problem = _metro()
    edges, km = rep_graph(problem)
    forward = {tuple(e) for e in edges.tolist()}
    assert all((b, a) in forward for a, b in forward)
    assert (km > 0).all()
    # Connected: a walk from rep 0 reaches all.
    seen, frontier = {0}, [0]
    while frontier:
        node = frontier.pop()
        for nxt in edges[edges[:, 0] == node, 1].tolist():
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    assert seen == set(range(problem.n_reps))


def test_hand_overs_carry_every_surplus_to_a_shortfall() -> None:
    problem = _metro()
    edges, km = rep_graph(problem)
    excess = np.zeros(problem.n_reps)
    excess[0], excess[5], excess[7] = 3.0, -1.0, -2.0
    flow = hand_overs(excess, edges, km)
    net = np.bincount(edges[:, 0], flow, problem.n_reps) - np.bincount(
        edges[:, 1], flow, problem.n_reps
    )
    assert np.allclose(net, excess, atol=1e-7)
    assert (flow >= -1e-12).all()


def test_flow_start_balances_a_crowded_metro_far_better_than_greedy() -> None:
    problem = _metro()
    plan = flow_start(problem)
    greedy = greedy_start(problem)
    flow_worst = np.abs(_combined_excess(problem, plan)).max()
    greedy_worst = np.abs(_combined_excess(problem, greedy)).max()
    assert flow_worst < 0.25
    assert flow_worst < 0.5 * greedy_worst
    assert np.array_equal(plan, flow_start(problem))  # deterministic


def test_flow_start_keeps_locks_and_is_deterministic() -> None:
    accounts, reps = make_instance(400, 5, 4)
    accounts["locked_rep"] = None
    accounts.loc[:9, "locked_rep"] = reps.rep_id.iloc[-1]
    problem = build_problem(accounts, reps, AlignmentSpec(balance=0.05).settings())
    plan = flow_start(problem)
    locked = problem.locked >= 0
    assert locked.sum() == 10
    assert np.array_equal(plan[locked], problem.locked[locked])
    assert np.array_equal(plan, flow_start(problem))


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(min_value=0, max_value=100),
    r=st.integers(min_value=1, max_value=7),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_flow_start_assigns_every_unit_to_an_allowed_rep(n: int, r: int, seed: int) -> None:
    accounts, reps = make_instance(10 * r + n, r, seed)
    problem = build_problem(accounts, reps, AlignmentSpec(balance=0.05).settings())
    plan = flow_start(problem)
    assert plan.shape == (problem.n_accounts,)
    assert ((plan >= 0) & (plan < problem.n_reps)).all()
    units = np.arange(problem.n_accounts)
    distance, _ = problem.pair_costs(units, plan)
    assert problem.allowed(units, plan, distance).all()
    # Totals are preserved: the loads sum to the book.
    pot, wl = problem.loads(plan)
    assert np.isclose(pot.sum(), problem.potential.sum())
    assert np.isclose(wl.sum(), problem.workload.sum())
