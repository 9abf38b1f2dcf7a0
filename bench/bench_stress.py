"""Time the quota stress test: simulations x reps, seconds and peak memory.

Run from the repository root: ``python bench/bench_stress.py [--sims 10000] [--reps 1000]``.
The roster mixes both preset roles, ramping and part-year reps, so every code path is timed.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd

from territory.domain.comp import ACCOUNT_MANAGER, HUNTER, CompPlan
from territory.domain.stress import StressConfig, StressInputs, run_stress, sensitivity_grid


def roster(n_reps: int, seed: int) -> pd.DataFrame:
    """Reps with quotas 10% above expected sales, as over-assigned quotas would be."""
    rng = np.random.default_rng(seed)
    expected = rng.lognormal(np.log(1_000_000.0), 0.3, n_reps)
    return pd.DataFrame(
        {
            "rep_id": [f"R{i:05d}" for i in range(n_reps)],
            "role": np.where(rng.random(n_reps) < 0.5, "hunter", "account_manager"),
            "quota": np.round(expected * 1.10, 2),
            "expected_sales": expected,
            "tenure_months": np.where(rng.random(n_reps) < 0.1, 3.0, 36.0),
            "months_in_role": np.where(rng.random(n_reps) < 0.05, 6.0, 12.0),
        }
    )


def main() -> None:
    """Print seconds and peak memory for one full stress run and one sensitivity grid."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sims", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    plan = CompPlan.of(HUNTER, ACCOUNT_MANAGER, plan_id="bench")
    frame = roster(args.reps, args.seed)
    inputs = StressInputs.from_frame(frame, plan, forecast=float(frame["expected_sales"].sum()))
    config = StressConfig(n_sims=args.sims)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    result = run_stress(inputs, plan, config, seed=args.seed)
    run_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    sensitivity_grid(inputs, plan, "over_assignment", config=config, seed=args.seed)
    grid_seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    at_plan = result.scenario_table().set_index("company_attainment_x").loc[1.0]
    print(f"stress test: {args.sims:,} simulations x {args.reps:,} reps")
    print(f"  run_stress (9 levels + unconditional + rep impact): {run_seconds:6.2f} s")
    print(f"  sensitivity grid (5 over-assignment values x 9 levels): {grid_seconds:6.2f} s")
    print(f"  peak memory: {peak:,.0f} MiB (after imports: {rss_before:,.0f} MiB)")
    print(
        f"  at plan: {at_plan['pct_reps_ge_quota']:.1f}% of reps at quota, incentive P50 "
        f"{at_plan['incentive_p50']:,.0f} ({100 * at_plan['incentive_to_ti_budget_p50']:.1f}% "
        "of the TI budget)"
    )


if __name__ == "__main__":
    main()
