"""Fit error, uplift error and sizing error of the sales-response model on known-truth worlds.

Run from the repository root: ``python bench/bench_value.py [--seeds 3] [--sizing-seeds 1]``.

Each world (``tests/response_worlds.py``) draws last year's revenue from a known response curve
of one of four shapes (S-shaped ADBUDG, concave exponential, power, logarithm) on a real-shaped
instance with an unbalanced current alignment. The model is fitted to that history and scored
on a different alignment (a rebalanced plan) against the truth's noise-free expected sales:

* ``fit_mape`` - mean absolute percentage error of expected sales per rep on the new plan
  (target: below 10%);
* ``uplift_err`` - estimated minus true uplift of the new plan over today, in points
  (target: within 2);
* ``in_p10_p90`` - whether the bootstrap P10-P90 interval of the uplift holds the truth
  (an 80% interval: about four worlds in five should);
* ``sizing`` - on larger worlds (80 reps), the true contribution at the recommended headcount
  as a share of the true maximum (target: at least 0.99), the rep cost set so the true
  optimum lies inside the coverage last year's reps had;
* ``fit cache`` - on the demo's files, the seconds of the first fit and of a reuse in the same
  process (:func:`territory.pipeline.value_commands.cached_fit`: reading the files again and
  fingerprinting the history), which every further scenario of a sweep worker and every
  further ``territory size`` of the same book saves.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from territory.domain.metrics import moved_mask  # noqa: E402
from territory.domain.response import fit_response  # noqa: E402
from territory.domain.sizing import size_sales_force  # noqa: E402
from territory.domain.value import Economics, value_plan  # noqa: E402
from tests.response_worlds import (  # noqa: E402
    SHAPES,
    World,
    balanced_team,
    make_world,
    true_rep_sales,
)

PlanFor = Callable[[int], tuple[pd.DataFrame, npt.NDArray[np.object_]]]

TARGET_MAPE = 0.10
TARGET_UPLIFT_POINTS = 2.0
TARGET_SIZING = 0.99


def bench_fit(seeds: int, n_accounts: int, n_reps: int, n_boot: int) -> None:
    """Print fit and uplift errors per world, then a summary against the targets."""
    print(f"fit and uplift: {n_accounts:,} accounts x {n_reps} reps, {n_boot} bootstrap refits")
    header = (
        f"{'shape':<12}{'seed':>5}{'seconds':>9}{'cv_mape':>9}{'fit_mape':>10}"
        f"{'true_uplift':>13}{'est_uplift':>12}{'uplift_err':>12}{'in_p10_p90':>12}"
    )
    print(header)
    mapes, errors, inside = [], [], []
    for shape in sorted(SHAPES):
        for seed in range(seeds):
            world = make_world(shape, seed, n_accounts=n_accounts, n_reps=n_reps)
            t0 = time.perf_counter()
            model = fit_response(world.accounts, world.reps, n_boot=n_boot, folds=5, seed=seed)
            value = value_plan(model, world.accounts, world.reps, world.rebalanced, n_sims=200)
            seconds = time.perf_counter() - t0
            moved = moved_mask(world.accounts, world.rebalanced)
            truth = true_rep_sales(world.truth, world.accounts, world.reps, world.rebalanced, moved)
            today = true_rep_sales(
                world.truth, world.accounts, world.reps, world.accounts["current_rep"]
            )
            mape = float(np.mean(np.abs(value.reps["expected_sales"].to_numpy() - truth) / truth))
            assert value.uplift is not None
            true_uplift = truth.sum() / today.sum() - 1
            error = (value.uplift["uplift"] - true_uplift) * 100
            hit = value.uplift["uplift_p10"] <= true_uplift <= value.uplift["uplift_p90"]
            mapes.append(mape)
            errors.append(abs(error))
            inside.append(hit)
            print(
                f"{shape:<12}{seed:>5}{seconds:>9.2f}{model.quality.cv_mape:>9.3f}{mape:>10.3f}"
                f"{true_uplift * 100:>12.2f}%{value.uplift['uplift'] * 100:>11.2f}%"
                f"{error:>+11.2f}p{'yes' if hit else 'no':>12}"
            )
    print(
        f"  per-rep MAPE: mean {np.mean(mapes):.3f}, worst {max(mapes):.3f} "
        f"(target < {TARGET_MAPE:.2f}; {sum(m < TARGET_MAPE for m in mapes)}/{len(mapes)} met)"
    )
    print(
        f"  uplift error: mean {np.mean(errors):.2f} points, worst {max(errors):.2f} "
        f"(target < {TARGET_UPLIFT_POINTS:g}; "
        f"{sum(e < TARGET_UPLIFT_POINTS for e in errors)}/{len(errors)} met)"
    )
    print(f"  P10-P90 uplift interval holds the truth in {sum(inside)}/{len(inside)} worlds")


def _teams(world: World) -> tuple[PlanFor, Callable[[int], float]]:
    """Balanced teams of n average reps (the design engine's stand-in) and their true sales."""
    capacity = float(world.reps["capacity"].mean())

    @cache
    def plan_for(n: int) -> tuple[pd.DataFrame, npt.NDArray[np.object_]]:
        return balanced_team(world.accounts, n, capacity)

    def sales(n: int) -> float:
        return float(true_rep_sales(world.truth, world.accounts, *plan_for(n)).sum())

    return plan_for, sales


def bench_sizing(seeds: int, n_accounts: int, n_reps: int) -> None:
    """Print, per world, how close the recommended headcount's true contribution is to the best."""
    print(f"\nsizing: {n_accounts:,} accounts x {n_reps} reps, optimum at 1.15 x today")
    print(f"{'shape':<12}{'seed':>5}{'seconds':>9}{'true_best':>11}{'recommended':>13}"
          f"{'flat_range':>14}{'share_of_max':>14}")  # fmt: skip
    ratios = []
    for shape in sorted(SHAPES):
        for seed in range(seeds):
            world = make_world(shape, seed, n_accounts=n_accounts, n_reps=n_reps)
            plan_for, sales = _teams(world)
            at = int(round(1.15 * n_reps))
            economics = Economics(0.6, 0.6 * (sales(at + 2) - sales(at - 2)) / 4)
            sizes = list(range(int(0.6 * n_reps), int(1.8 * n_reps) + 1, max(1, n_reps // 16)))
            t0 = time.perf_counter()
            model = fit_response(world.accounts, world.reps, n_boot=20, folds=0, seed=seed)
            sizing = size_sales_force(
                model, world.accounts, plan_for, sizes, economics=economics, n_sims=50,
                target=float(world.accounts["revenue_last_year"].sum()),
            )  # fmt: skip
            seconds = time.perf_counter() - t0
            truth = [0.6 * sales(n) - n * economics.rep_cost for n in sizes]
            ratio = truth[sizes.index(sizing.best)] / max(truth)
            ratios.append(ratio)
            flat = f"{sizing.flat_range[0]}-{sizing.flat_range[1]}"
            print(
                f"{shape:<12}{seed:>5}{seconds:>9.2f}{sizes[int(np.argmax(truth))]:>11}"
                f"{sizing.best:>13}{flat:>14}{ratio:>14.4f}"
            )
    met = sum(r >= TARGET_SIZING for r in ratios)
    print(
        f"  contribution at the recommendation: worst {min(ratios):.4f} of the true maximum "
        f"(target >= {TARGET_SIZING}; {met}/{len(ratios)} met)"
    )


def bench_cache(boot: int) -> None:
    """Time the first fit of the demo's history and its reuse in the same process."""
    from territory.io import load_inputs
    from territory.pipeline.value_commands import cached_fit, fit_key

    root = Path(__file__).resolve().parent.parent / "data" / "demo"
    seconds = []
    for _ in range(2):
        start = time.perf_counter()
        accounts, reps = load_inputs(root / "accounts.csv", root / "reps.csv")
        key = fit_key(accounts, reps, literature_defaults=False, n_boot=boot, seed=7)
        cached_fit(accounts, reps, key)
        seconds.append(time.perf_counter() - start)
    print(
        f"\nfit cache (demo, {boot} bootstrap refits): first fit {seconds[0]:.1f} s, reuse "
        f"{seconds[1]:.2f} s; saved per further scenario or sizing: {seconds[0] - seconds[1]:.1f} s"
    )


def main() -> None:
    """Run the fit and sizing benchmarks with the sizes given on the command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument("--boot", type=int, default=100)
    parser.add_argument("--sizing-seeds", type=int, default=2)
    parser.add_argument("--sizing-accounts", type=int, default=8000)
    parser.add_argument("--sizing-reps", type=int, default=80)
    args = parser.parse_args()
    bench_fit(args.seeds, args.accounts, args.reps, args.boot)
    if args.sizing_seeds > 0:
        bench_sizing(args.sizing_seeds, args.sizing_accounts, args.sizing_reps)
    bench_cache(200)


if __name__ == "__main__":
    main()
