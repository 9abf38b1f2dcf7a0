"""``territory size``: how many reps to have, and the hires that get there.

A sweep of the head-count lever (:mod:`scenarios.levers`) valued by the sales-response model.
For every headcount ``n`` the reps table changes as a scenario's ``head_count`` changes it
(seats added where the most loaded territories need relief, as vacancies with ``TBH-`` ids; or
the least loaded reps removed and their accounts freed), and the alignment engine places the
territories: each row of ``sizing.csv`` is a real alignment, valued in steady state
(:func:`territory.domain.sizing.size_sales_force`). ``hiring_plan.csv`` turns the recommendation
into months (:func:`territory.domain.sizing.hiring_plan`): requisitions, hires after the time to
fill, ramp, attrition backfill and expected sales, holding the headcount whose run-rate reaches
the target. ``sizing.png`` draws the curve and ``report.html`` shows it with the recommendation
and both tables (:mod:`territory.rendering.sizing`; ``territory report --plan DIR`` renders the
page again).

The alignments use the heuristic solver with soft balance and overtime allowed, so that every
headcount gets a plan (too few reps cannot be balanced within capacity, and that is the point
of evaluating them); the seed makes them reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from scenarios.levers import hire_reps, least_loaded_reps, remove_reps
from territory.domain.sizing import HiringAssumptions, hiring_plan, size_sales_force
from territory.domain.value import DEFAULT_MARGIN, DEFAULT_REP_COST, Economics, new_hire_mask
from territory.errors import DataValidationError, InputProblem, UsageError
from territory.pipeline.value_commands import (
    DEFAULT_BOOTSTRAP,
    RESPONSE_FILE,
    SIZING_FILE,
    cached_fit,
    fit_key,
    model_summary,
    sizing_files,
)

if TYPE_CHECKING:
    from territory.domain.response import ResponseModel
    from territory.domain.sizing import HiringPlan, Sizing

__all__ = [
    "DEFAULT_ALIGN_SECONDS",
    "MAX_HEADCOUNTS",
    "SizingRun",
    "default_headcounts",
    "size_command",
]

Progress = Callable[[str], None]

DEFAULT_ALIGN_SECONDS = 20.0
"""Time limit of each headcount's alignment (the heuristic usually needs a few seconds)."""

MAX_HEADCOUNTS = 60
"""Most headcounts one call evaluates (each is an alignment): widen ``--step`` beyond that."""

VACANCY_PREFIX = "TBH-"
"""Id prefix of the seats sizing adds: read as to-be-hired by quotas, checks and the value."""


@dataclass(frozen=True, eq=False)
class SizingRun:
    """What ``territory size`` wrote into ``--out``.

    Attributes
    ----------
    sizing : Sizing
        ``sizing.csv`` and the recommendation drawn from it.
    hiring : HiringPlan
        ``hiring_plan.csv`` and its summary (also under ``hiring`` in ``sizing.json``).
    model : ResponseModel
        Fitted to the sized book (the roles' accounts with ``--roles``), saved as ``response.json``.
    summary : dict
        ``sizing.json``: the recommendation, the hiring summary and the fit's quality.
    """

    sizing: Sizing
    hiring: HiringPlan
    model: ResponseModel
    summary: dict[str, Any]


def default_headcounts(current: int, step: int | None = None) -> list[int]:
    """Headcounts from 75% to 150% of today's team (at most :data:`MAX_HEADCOUNTS` of them).

    Wide enough that the flat top of the contribution curve usually lies inside; the
    recommendation itself stays within the coverage history supports.
    """
    low = max(2, math.floor(0.75 * current))
    high = max(low + 1, math.ceil(1.5 * current))
    if step is None:
        step = max(1, math.ceil((high - low) / 20))
    return list(range(low, high + 1, step))


def size_command(
    accounts: Path,
    reps: Path,
    out: Path,
    *,
    target: float,
    margin: float = DEFAULT_MARGIN,
    rep_cost: float = DEFAULT_REP_COST,
    roles: Sequence[str] = (),
    min_reps: int | None = None,
    max_reps: int | None = None,
    step: int | None = None,
    hiring: HiringAssumptions | None = None,
    literature_defaults: bool = False,
    n_boot: int = DEFAULT_BOOTSTRAP,
    sims: int = 1000,
    seed: int = 7,
    time_limit: float = DEFAULT_ALIGN_SECONDS,
    sheets: Sequence[str] = (),
    force: bool = False,
    progress: Progress | None = None,
) -> SizingRun:
    """``territory size``: write ``sizing.csv``, ``sizing.json``, ``hiring_plan.csv`` to ``out``.

    ``roles`` restricts the sizing to the reps of those roles and the accounts they hold today
    (one role's book at a time); without it every rep and account counts.

    Raises
    ------
    OutputFolderError
        ``out`` may not be written (checked before any work).
    DataValidationError
        Unusable inputs, or history that cannot support a fit (exit 2).
    UsageError
        An unknown role or an empty or oversized headcount range.
    """
    from territory.domain.spec import AlignmentSpec
    from territory.io import load_inputs, sheet_choice, write_outputs
    from territory.io.outputs import check_output_folder
    from territory.workflow.align import align

    check_output_folder(out, command="size", inputs=[accounts, reps], force=force)
    accounts_sheet, reps_sheet = sheet_choice(sheets, accounts, reps)
    accounts_df, reps_df = load_inputs(
        accounts, reps, accounts_sheet=accounts_sheet, reps_sheet=reps_sheet
    )
    book, team, notes = _role_book(accounts_df, reps_df, roles, str(accounts), str(reps))
    current = int((~new_hire_mask(team)).sum())
    sizes = _headcounts(len(team), min_reps, max_reps, step)
    say = progress or (lambda _message: None)
    say("fitting the sales-response model")
    key = fit_key(book, team, literature_defaults=literature_defaults, n_boot=n_boot, seed=seed)
    model = cached_fit(book, team, key)  # a second sizing of the same book reuses the fit
    spec = AlignmentSpec.build(
        solver="heuristic", soft=True, allow_overtime=True, time_limit_s=time_limit, seed=seed
    )

    def plan_for(n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        say(f"aligning {n} reps ({sizes.index(n) + 1}/{len(sizes)})")
        solver_accounts, seats = _seats(book, team, n)
        result = align(solver_accounts, seats, spec)
        return seats, result.assignments[["account_id", "rep_id"]]

    economics = Economics(margin=margin, rep_cost=rep_cost)
    steady = book.drop(columns=["current_rep"], errors="ignore")  # no uplift, no hand-over loss
    sizing = size_sales_force(
        model, steady, plan_for, sizes, target=target, economics=economics, n_sims=sims, seed=seed
    )
    capacity = float(np.median(pd.to_numeric(team["capacity"]).to_numpy(np.float64)))
    assumptions = hiring or HiringAssumptions()
    hires = hiring_plan(
        sizing.sales_at, current_headcount=current, target_sales=target,
        capacity_per_rep=capacity, assumptions=assumptions,
    )  # fmt: skip
    summary = {
        **sizing.to_dict(),
        "current_headcount": current,
        "roles": list(roles),
        "accounts": len(book),
        "hiring": hires.to_dict(),
        "fit": model_summary(model),
        "alignment": {"solver": "heuristic", "soft": True, "allow_overtime": True, "seed": seed},
        "vacancy_prefix": VACANCY_PREFIX,
        "notes": notes,
    }
    from territory.domain.response import to_json

    say("drawing the sizing curve")
    pages = sizing_files(out.as_posix(), sizing.table, summary, hires.table)
    write_outputs(
        out,
        {"sizing": sizing.table, "hiring_plan": hires.table},
        {SIZING_FILE: summary, RESPONSE_FILE: {**to_json(model), "fitted_on": key}},
        "csv",
        files={name: _bytes_writer(content) for name, content in pages.items()},
        command="size",
        inputs=[accounts, reps],
        force=force,
    )
    return SizingRun(sizing=sizing, hiring=hires, model=model, summary=summary)


def _bytes_writer(content: bytes) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_bytes(content)

    return write


def _role_book(
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    roles: Sequence[str],
    accounts_name: str,
    reps_name: str,
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Keep the reps of ``roles`` and the accounts they hold today (everything without roles)."""
    if not roles:
        return accounts, reps, []
    if "role" not in reps.columns:
        raise DataValidationError(
            [
                InputProblem(
                    reps_name,
                    None,
                    "role",
                    "--roles was given but the reps have no role column",
                    "add a 'role' column, or size the whole team without --roles",
                )  # fmt: skip
            ]
        )
    known = sorted(set(reps["role"].dropna().astype(str)))
    unknown = [r for r in roles if r not in known]
    if unknown:
        raise UsageError(
            f"--roles {', '.join(unknown)}: no rep has that role; roles in {reps_name}: "
            f"{', '.join(known)}"
        )
    team = reps.loc[reps["role"].astype(str).isin(set(roles))].reset_index(drop=True)
    if "current_rep" not in accounts.columns:
        raise DataValidationError(
            [
                InputProblem(
                    accounts_name,
                    None,
                    "current_rep",
                    "--roles sizes the accounts a role holds today, but no account has a "
                    "current rep",
                    "add the current_rep column, or size without --roles",
                )  # fmt: skip
            ]
        )
    held = accounts["current_rep"].astype(str).isin(set(team["rep_id"].astype(str)))
    book = accounts.loc[held.to_numpy()].reset_index(drop=True)
    notes = [
        f"sized: {len(team)} rep(s) of role(s) {', '.join(roles)} and the {len(book)} "
        f"account(s) they hold today (of {len(accounts)})"
    ]
    return book, team, notes


def _headcounts(current: int, low: int | None, high: int | None, step: int | None) -> list[int]:
    """Choose the headcounts to evaluate: the default range, narrowed or widened by options."""
    default = default_headcounts(current, step)
    low = default[0] if low is None else low
    high = max(default[-1], math.ceil(1.5 * low)) if high is None else high
    if high <= low:
        raise UsageError(
            f"--min-reps {low} and --max-reps {high}: give a range of at least two headcounts"
        )
    if step is None:
        step = max(1, math.ceil((high - low) / 20))
    sizes = list(range(low, high + 1, step))
    if sizes[-1] != high:
        sizes.append(high)
    if len(sizes) < 2:
        raise UsageError(f"--step {step} leaves one headcount in {low}..{high}; use a smaller step")
    if len(sizes) > MAX_HEADCOUNTS:
        raise UsageError(
            f"{low}..{high} in steps of {step} is {len(sizes)} headcounts (one alignment each); "
            f"at most {MAX_HEADCOUNTS}: use a larger --step"
        )
    return sizes


def _seats(accounts: pd.DataFrame, reps: pd.DataFrame, n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Accounts and reps for ``n`` seats: vacancies added, or the least loaded reps removed."""
    change = n - len(reps)
    if change > 0:
        seats, _ = hire_reps(accounts, reps, change, prefix=VACANCY_PREFIX)
        seats["vacant"] = new_hire_mask(seats)
        return accounts, seats
    freed, seats, _ = remove_reps(accounts, reps, least_loaded_reps(accounts, reps, -change))
    return freed, seats
