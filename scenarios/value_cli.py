"""Command line of ``territory value`` and ``territory size``: what a plan is worth, how many reps.

Declared here and registered by ``cli.py`` (:func:`register`), which lends its error mapping and
number parsers so that exit codes and range messages are those of every other command. The work
is done by :mod:`territory.pipeline.value_commands` and :mod:`scenarios.sizing`.

Exit codes as everywhere: 0 written; 2 bad input, arguments or paths, **including history that
cannot identify the sales-response curve** (no revenue, too few reps, every rep loaded alike:
the message says what is missing, and ``--literature-defaults`` values with published defaults
instead, with a warning); 4 an unexpected error.
"""

# No `from __future__ import annotations`: the options below are closures of register(), and
# typer reads annotations at registration, where only real objects (not names) resolve.
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from territory.domain import arguments as rules
from territory.errors import ScenarioError, TerritoryError
from territory.pipeline import console as show
from territory.pipeline.console import console

if TYPE_CHECKING:
    from scenarios.sizing import SizingRun
    from territory.domain.response import RampCurve
    from territory.pipeline.value_commands import ValueRun

__all__ = ["economics_overrides", "register"]

Fail = Callable[[BaseException], typer.Exit]
Number = Callable[[rules.Range], Callable[[object], float]]

LITERATURE_HELP = "When the history cannot identify the response curve, use published defaults."
MARGIN_HELP = "Gross margin on sales (0.6 = 60%)."
REP_COST_HELP = "Fully loaded cost of a rep, currency/year (a reps 'cost' column wins)."
FILL_HELP = "Months from requisition to a new hire's first day."


def economics_overrides(margin: float | None, rep_cost: float | None) -> dict[str, float]:
    """Turn ``territory run`` / ``sweep``'s ``--margin`` and ``--rep-cost`` into overrides.

    A flag left out keeps the scenario's ``[value]`` setting (0.6 and 150,000 when the file
    sets none). The overrides are recorded in each run's ``manifest.json`` and the settings
    used in ``value.json``, which ``summary.csv`` and ``territory compare`` show.

    Raises
    ------
    UsageError
        ``margin`` is 0: no contribution can be earned at a zero margin.
    """
    from territory.errors import UsageError

    if margin is not None and margin <= 0:
        raise UsageError(f"--margin {margin:g}: give a gross margin above 0, e.g. 0.6 for 60%")
    overrides: dict[str, float] = {}
    if margin is not None:
        overrides["value.margin"] = float(margin)
    if rep_cost is not None:
        overrides["value.rep_cost"] = float(rep_cost)
    return overrides


def register(app: typer.Typer, fail: Fail, number: Number) -> None:
    """Add ``value`` and ``size`` to ``app``.

    Parameters
    ----------
    app : typer.Typer
        The ``territory`` application.
    fail : callable
        Turns an engine error or an interrupt into the exit the user sees (``cli._fail``).
    number : callable
        Makes an option parser that checks a :mod:`territory.domain.arguments` range.
    """
    margin_option = typer.Option(help=MARGIN_HELP, parser=number(rules.SHARE))
    cost_option = typer.Option(help=REP_COST_HELP, parser=number(rules.MONEY_OR_ZERO))
    fill_option = typer.Option(help=FILL_HELP, parser=number(rules.COUNT_OR_ZERO))
    boot_option = typer.Option(
        "--bootstrap", help="Bootstrap refits behind the intervals.", parser=number(rules.COUNT)
    )

    def count(text: str) -> Any:
        return typer.Option(help=text, parser=number(rules.COUNT))

    seed_option = typer.Option(help="Random seed (same inputs + seed = same outputs).",
                               parser=number(rules.SEED))  # fmt: skip

    @app.command()
    def value(
        plan: Annotated[Path, typer.Option(help="Folder written by `territory align`.")],
        literature_defaults: Annotated[
            bool, typer.Option("--literature-defaults", help=LITERATURE_HELP)
        ] = False,
        margin: Annotated[float, margin_option] = 0.6,
        rep_cost: Annotated[float, cost_option] = 150_000.0,
        time_to_fill: Annotated[int, fill_option] = 3,
        bootstrap: Annotated[int, boot_option] = 200,
        sims: Annotated[int, count("Simulations behind P10/P50/P90.")] = 2000,
        seed: Annotated[int, seed_option] = 7,
        quiet: Annotated[
            bool, typer.Option("--quiet", help="No summary (for batch jobs).")
        ] = False,
    ) -> None:
        """Value a plan: expected sales per rep (P10/P50/P90) and the uplift over today.

        Fits the sales-response model to last year's revenue (saved as response.json and reused
        while the inputs are the same) and adds value.csv and value.json to the plan folder.
        """
        from territory.pipeline.value_commands import value_command

        run = _guarded(fail, lambda: value_command(
            plan, literature_defaults=literature_defaults, margin=margin, rep_cost=rep_cost,
            time_to_fill=time_to_fill, n_boot=bootstrap, sims=sims, seed=seed,
        ))  # fmt: skip
        if not quiet:
            _value_summary(run, plan)

    @app.command()
    def size(
        accounts: Annotated[Path, typer.Option(help="Accounts table with last year's revenue.")],
        reps: Annotated[Path, typer.Option(help="Reps table (today's team).")],
        target: Annotated[
            float,
            typer.Option(
                help="Sales target, currency/year (at last year's market level).",
                parser=number(rules.MONEY),
            ),
        ],  # fmt: skip
        out: Annotated[
            Path, typer.Option(help="Output folder: created, or replaced if territory wrote it.")
        ],
        margin: Annotated[float, margin_option] = 0.6,
        rep_cost: Annotated[float, cost_option] = 150_000.0,
        roles: Annotated[
            list[str],
            typer.Option("--roles", help="Size only these roles' reps and accounts (repeatable)."),
        ] = [],  # noqa: B006 - typer reads the default, it is never mutated
        min_reps: Annotated[int | None, count("Smallest headcount (default 75% of today).")] = None,
        max_reps: Annotated[int | None, count("Largest headcount (default 150% of today).")] = None,
        step: Annotated[int | None, count("Headcount step (default: about 20 sizes).")] = None,
        attrition: Annotated[
            float, typer.Option(help="Share of reps leaving per year.", parser=number(rules.SHARE))
        ] = 0.20,
        time_to_fill: Annotated[int, fill_option] = 3,
        ramp: Annotated[
            str,
            typer.Option(help="New hire's productivity by month since start, comma-separated."),
        ] = "0,0.25,0.5,0.75,1",
        months: Annotated[int, count("Months of the hiring plan.")] = 24,
        literature_defaults: Annotated[
            bool, typer.Option("--literature-defaults", help=LITERATURE_HELP)
        ] = False,
        bootstrap: Annotated[int, boot_option] = 200,
        time_limit: Annotated[
            float,
            typer.Option(help="Seconds per headcount's alignment.", parser=number(rules.SECONDS)),
        ] = 20.0,
        seed: Annotated[int, seed_option] = 7,
        sheet: Annotated[
            list[str], typer.Option("--sheet", help="Worksheet of an .xlsx input (repeatable).")
        ] = [],  # noqa: B006
        force: Annotated[
            bool,
            typer.Option(
                "--force", help="Replace --out even if territory did not write it (limits apply)."
            ),
        ] = False,
        quiet: Annotated[
            bool, typer.Option("--quiet", help="No progress or summary (for batch jobs).")
        ] = False,
    ) -> None:
        """Size the sales force: sales, cost and contribution per headcount, and a hiring plan.

        Every headcount is a real alignment (new seats are vacancies placed by the engine),
        valued by the sales-response model fitted to last year's revenue.
        """
        from scenarios.sizing import size_command
        from territory.domain.sizing import HiringAssumptions

        def work() -> "SizingRun":
            hiring = HiringAssumptions(
                ramp=_ramp(ramp), annual_attrition=attrition, time_to_fill=time_to_fill,
                months=months,
            )  # fmt: skip
            with show.progress(quiet) as status:
                return size_command(
                    accounts, reps, out, target=target, margin=margin, rep_cost=rep_cost,
                    roles=[r.strip() for item in roles for r in item.split(",") if r.strip()],
                    min_reps=min_reps, max_reps=max_reps, step=step, hiring=hiring,
                    literature_defaults=literature_defaults, n_boot=bootstrap, seed=seed,
                    time_limit=time_limit, sheets=sheet, force=force, progress=status,
                )  # fmt: skip

        run = _guarded(fail, work)
        if not quiet:
            _size_summary(run, out)


Result = TypeVar("Result")


def _guarded(fail: Fail, work: Callable[[], Result]) -> Result:
    """Run a command's work; an engine error or an interrupt becomes the user's exit."""
    try:
        return work()
    except (TerritoryError, KeyboardInterrupt) as exc:
        raise fail(exc) from exc


def _ramp(text: str) -> "RampCurve":
    """``0,0.25,0.5,0.75,1`` as a ramp curve; anything else is a usage error (exit 2)."""
    from territory.domain.response import RampCurve

    try:
        return RampCurve(tuple(float(part) for part in text.split(",") if part.strip()))
    except ValueError as exc:
        raise ScenarioError(f"--ramp '{text}': {exc}") from None


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _line(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _warnings(items: list[Any]) -> None:
    for item in items:
        console.print(f"[yellow]warning[/yellow]: {item}", highlight=False, soft_wrap=True)


def _fit_line(fit: dict[str, Any]) -> str:
    if fit["source"] != "fitted":
        return "response model: literature defaults (not fitted)"
    return (
        f"response model: R² {fit['r2']:.2f} in sample, {fit['cv_r2']:.2f} cross-validated; "
        f"per-rep error {fit['mape']:.1%} ({fit['cv_mape']:.1%} cross-validated), "
        f"{fit['n_reps']} reps"
    )


def _value_summary(run: "ValueRun", plan: Path) -> None:
    """Print the fit, the plan's sales and the uplift over today."""
    summary = run.summary
    total = summary["total"]
    reused = " (saved model reused)" if run.reused else ""
    _line(_fit_line(summary["fit"]) + reused)
    _line(
        f"expected sales {_money(total['expected'])} a year "
        f"(P10 {_money(total['p10'])}, P50 {_money(total['p50'])}, P90 {_money(total['p90'])}); "
        f"contribution {_money(total.get('contribution'))}"
    )
    uplift = summary["uplift"]
    if uplift is not None:
        _line(
            f"uplift over the current alignment {uplift['uplift']:+.2%} "
            f"(P10 {uplift['uplift_p10']:+.2%}, P90 {uplift['uplift_p90']:+.2%}) = "
            f"{_money(uplift['amount'])} in the plan year: {uplift['uplift_gross']:+.2%} from "
            f"coverage (P10 {uplift['uplift_gross_p10']:+.2%}, P90 "
            f"{uplift['uplift_gross_p90']:+.2%}) less {_money(total['transition_loss'])} lost "
            "on accounts that change hands"
        )
    _warnings(summary["warnings"])
    _line(f"written to {plan}/ (value.csv, value.json, response.json)")


def _size_summary(run: "SizingRun", out: Path) -> None:
    """Print the recommendation and the hiring plan's headline."""
    s = run.summary
    _line(_fit_line(s["fit"]))
    meets = s["smallest_headcount_meeting_target"]
    _line(
        f"target {_money(s['target'])}: "
        + (f"met at P50 from {meets} reps" if meets is not None else "not met in the range")
        + f"; today {s['current_headcount']} reps"
    )
    lo, hi = s["flat_range"]
    _line(
        f"best contribution at {s['headcount_max_contribution']} reps "
        f"({_money(s['max_contribution'])} a year); within 1% of it: {lo} to {hi} reps"
    )
    h = s["hiring"]
    when = h["month_target_met"]
    _line(
        f"hiring plan: hold {h['headcount']} seats, {h['hires']} hire(s) in {h['months']} months; "
        + (f"run-rate reaches the target in month {when}" if when else "target not reached")
    )
    _warnings([*s["warnings"], *h["warnings"]])
    _line(
        f"written to {out}/ (sizing.csv, sizing.json, hiring_plan.csv, response.json, "
        "sizing.png and report.html: open it for the curve)"
    )
