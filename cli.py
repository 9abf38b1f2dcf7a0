"""Command line: parse arguments, call the pipeline, print the result, map errors to exit codes.

Exit codes: 0 success, 1 a check failed or a sweep had failures, 2 bad input, arguments, names or
paths (and running out of memory), 3 infeasible rules, 4 solver failure or an unexpected error (a
bug), 130 Ctrl-C, 143 SIGTERM. Nothing is written to ``--out`` unless the whole run succeeds, and
only a folder the engine wrote (or an empty one) is replaced; ``--force`` widens that within
limits (see :mod:`territory.io.outputs`). The work is done by :mod:`territory.pipeline`; what is
shown is drawn by :mod:`territory.pipeline.console`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from territory.domain import arguments as rules
from territory.domain.spec import AlignmentSpec
from territory.errors import (
    CheckpointDamagedError,
    DataValidationError,
    InfeasibleError,
    ScenarioError,
    SolveError,
    SolverUnavailableError,
    Terminated,
    TerritoryError,
    UsageError,
)
from territory.pipeline import console as show
from territory.pipeline.console import console

app = typer.Typer(
    help="Territory design and quota optimisation engine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Territory design and quota optimisation engine."""


EXIT_BAD_INPUT = 2
EXIT_INFEASIBLE = 3
EXIT_SOLVER = 4
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

DEFAULT = AlignmentSpec()
"""The alignment's defaults, shown by ``--help``; they are declared in
:mod:`territory.domain.spec`."""

_reported: list[int] = []
"""Exit codes of interrupts already reported to the user (so the entry point does not repeat)."""


def _fail(exc: BaseException) -> typer.Exit:
    """Print an error the way a user can act on it and choose the exit code."""
    if isinstance(exc, Terminated):
        console.print("[red]terminated[/red]: stopped; no partial output was left behind")
        _reported.append(EXIT_TERMINATED)
        return typer.Exit(EXIT_TERMINATED)
    if isinstance(exc, KeyboardInterrupt):
        console.print("[red]interrupted[/red]: stopped; no partial output was left behind")
        _reported.append(EXIT_INTERRUPTED)
        return typer.Exit(EXIT_INTERRUPTED)
    code = EXIT_SOLVER
    if isinstance(exc, DataValidationError | ScenarioError | UsageError | CheckpointDamagedError):
        code = EXIT_BAD_INPUT
    elif isinstance(exc, InfeasibleError):
        code = EXIT_INFEASIBLE
    elif isinstance(exc, SolveError | SolverUnavailableError):
        code = EXIT_SOLVER
    kind = type(exc).__name__
    console.print(f"[red]{kind}[/red]: {exc}", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _number(rule: rules.Range) -> Callable[[object], float]:
    """Make an option parser that checks a number against a :mod:`territory.domain.arguments` range.

    A refusal stops the command before it reads anything: exit 2 with the allowed range.
    """

    def parse(value: object) -> float:
        try:
            return rule.parse(value, "")
        except UsageError as exc:
            raise typer.BadParameter(str(exc)) from None

    return parse


def _checked(check: Callable[[str], str]) -> Callable[[object], str]:
    """Make an option parser from a check of :mod:`territory.domain.arguments`.

    A refusal stops the command: exit 2 with the check's message.
    """

    def parse(value: object) -> str:
        try:
            return check(str(value))
        except UsageError as exc:
            raise typer.BadParameter(str(exc)) from None

    return parse


def _one_of(choices: tuple[str, ...], case_sensitive: bool = True) -> Callable[[object], str]:
    """Make an option parser for a named choice; a wrong value is exit 2 listing the valid ones."""

    def parse(value: object) -> str:
        text = str(value)
        for choice in choices:
            if text == choice or (not case_sensitive and text.lower() == choice.lower()):
                return choice
        raise typer.BadParameter(
            f"{text!r} is not an option. Possible options are: {', '.join(choices)}"
        )

    return parse


def _parse_tier_factors(values: list[str]) -> dict[str, float] | None:
    if not values:
        return None
    from territory.domain.model import DEFAULT_TIER_FACTORS

    factors = dict(DEFAULT_TIER_FACTORS)
    for item in values:
        tier, sep, number = item.partition("=")
        try:
            factors[tier.strip().upper()] = float(number)
        except ValueError:
            sep = ""
        if not sep:
            raise typer.BadParameter(
                f"'{item}' is not TIER=FACTOR, e.g. A=1.2", param_hint="--tier"
            )
        problem = rules.TIER_FACTOR.problem(float(number))
        if problem:
            raise typer.BadParameter(
                f"'{item}': the factor is {problem}; allowed: {rules.TIER_FACTOR.text}",
                param_hint="--tier",
            )
    return factors


# Options several commands share.
SHEET_HELP = "Worksheet of an .xlsx input: NAME, or accounts=NAME / reps=NAME (repeatable)."
FORCE_HELP = (
    "Replace --out even if it holds files territory did not write (never the current folder, a "
    "home folder or one holding the inputs)."
)
Out = Annotated[
    Path, typer.Option(help="Output folder: created, or replaced if territory wrote it.")
]
Force = Annotated[bool, typer.Option(help=FORCE_HELP)]
Sheets = Annotated[list[str], typer.Option("--sheet", help=SHEET_HELP)]
Format = Annotated[
    str,
    typer.Option(
        "--format", help="Table format: csv, parquet or xlsx.", parser=_one_of(rules.TABLE_FORMATS)
    ),
]
Adjacency = Annotated[
    str,
    typer.Option(
        help="Unit neighbours: rook (shared border) or queen (any touch).",
        parser=_one_of(rules.ADJACENCY),
    ),
]
Links = Annotated[
    Path | None,
    typer.Option(help="Extra unit links (JSON pairs or table unit_a, unit_b: ferries, islands)."),
]


@app.command()
def align(
    accounts: Annotated[Path, typer.Option(help="Accounts table (.csv, .parquet or .xlsx).")],
    reps: Annotated[Path, typer.Option(help="Reps table (.csv, .parquet or .xlsx).")],
    out: Out,
    balance: Annotated[
        float,
        typer.Option(
            help="Allowed ± deviation from target (0.05 = 5%).", parser=_number(rules.TOLERANCE)
        ),
    ] = DEFAULT.balance,
    potential_balance: Annotated[
        float | None,
        typer.Option(help="Override --balance for potential.", parser=_number(rules.TOLERANCE)),
    ] = None,
    workload_balance: Annotated[
        float | None,
        typer.Option(help="Override --balance for workload.", parser=_number(rules.TOLERANCE)),
    ] = None,
    solver: Annotated[
        str, typer.Option(help="auto, heuristic, cpsat or mip.", parser=_one_of(rules.SOLVERS))
    ] = DEFAULT.solver,
    time_limit: Annotated[
        float, typer.Option(help="Wall-clock budget in seconds.", parser=_number(rules.SECONDS))
    ] = DEFAULT.time_limit_s,
    seed: Annotated[
        int,
        typer.Option(
            help="Random seed (same inputs + seed = same outputs).", parser=_number(rules.SEED)
        ),
    ] = DEFAULT.seed,
    disruption_weight: Annotated[
        float,
        typer.Option(
            help="Cost (hour-km) per unit of potential moved from its rep.",
            parser=_number(rules.WEIGHT),
        ),
    ] = DEFAULT.disruption_weight,
    candidates: Annotated[
        int,
        typer.Option(help="Nearest reps each account considers.", parser=_number(rules.COUNT)),
    ] = DEFAULT.candidates,
    tier: Annotated[
        list[str], typer.Option(help="Tier factor override, e.g. --tier A=1.2 (repeatable).")
    ] = [],  # noqa: B006 - typer reads the default, it is never mutated
    soft: Annotated[
        bool, typer.Option(help="If the tolerance is impossible, minimise the worst deviation.")
    ] = False,
    allow_overtime: Annotated[bool, typer.Option(help="Let workload exceed capacity.")] = False,
    max_distance_km: Annotated[
        float | None,
        typer.Option(
            help="No account further than this from its rep's home.",
            parser=_number(rules.KILOMETRES),
        ),
    ] = None,
    forbidden: Annotated[
        Path | None, typer.Option(help="Table of account_id, rep_id pairs that must not occur.")
    ] = None,
    family_column: Annotated[
        str | None,
        typer.Option(help="Accounts sharing a value in this column stay with one rep."),
    ] = None,
    units: Annotated[
        Path | None,
        typer.Option(help="Unit geometries (GeoJSON/GPKG/SHP): align whole units, write polygons."),
    ] = None,
    unit_id_column: Annotated[
        str,
        typer.Option(help="Id column of the unit layer (accounts join on unit_id or location)."),
    ] = DEFAULT.unit_id_column,
    contiguity: Annotated[
        bool,
        typer.Option(help="Every territory one connected piece of the unit map (needs --units)."),
    ] = False,
    adjacency: Adjacency = DEFAULT.adjacency,
    links: Links = None,
    compactness: Annotated[
        str,
        typer.Option(
            help="travel (workload x km to home) or moi (workload x km²).",
            parser=_one_of(rules.COMPACTNESS),
        ),
    ] = DEFAULT.compactness,
    cut_edge_weight: Annotated[
        float,
        typer.Option(
            help="Cost per unit border between territories (needs --contiguity).",
            parser=_number(rules.WEIGHT),
        ),
    ] = DEFAULT.cut_edge_weight,
    max_moved_accounts: Annotated[
        int | None,
        typer.Option(
            help="At most this many accounts change rep.", parser=_number(rules.COUNT_OR_ZERO)
        ),
    ] = None,
    max_moved_revenue_share: Annotated[
        float | None,
        typer.Option(
            help="At most this share of last year's revenue changes rep (0.10 = 10%).",
            parser=_number(rules.SHARE),
        ),
    ] = None,
    gap: Annotated[
        float | None,
        typer.Option(
            help="Stop at this relative gap (default 1% for auto, 1e-6 for cpsat/mip).",
            parser=_number(rules.GAP),
        ),
    ] = None,
    output_format: Format = "csv",
    quiet: Annotated[bool, typer.Option(help="No progress or summary (for batch jobs).")] = False,
    decompose: Annotated[
        str,
        typer.Option(
            help="Micro-cluster decomposition: auto (from 50,000 accounts), on or off.",
            parser=_one_of(rules.DECOMPOSE),
        ),
    ] = DEFAULT.decompose,
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="Folder for stage checkpoints: a rerun with the same inputs resumes."),
    ] = None,
    force: Force = False,
    sheet: Sheets = [],  # noqa: B006
) -> None:
    """Balance territories: assign every account to one rep, then write the plan to --out."""
    from territory.pipeline.commands import align_command

    levers = {k: v for k, v in locals().items() if k in AlignmentSpec.model_fields}
    try:
        spec = AlignmentSpec.build(
            **levers, time_limit_s=time_limit, tier_factors=_parse_tier_factors(tier)
        )
        with show.progress(quiet) as status:
            result = align_command(
                spec, accounts, reps, out, output_format=output_format, sheets=sheet,
                force=force, progress=status,
            )  # fmt: skip
    except (TerritoryError, KeyboardInterrupt) as exc:
        raise _fail(exc) from exc
    if not quiet:
        show.alignment_summary(result.report, out)


@app.command()
def design(
    units: Annotated[Path, typer.Option(help="Unit geometries (GeoJSON/GPKG/SHP).")],
    k: Annotated[
        int, typer.Option(help="How many territories to design.", parser=_number(rules.COUNT))
    ],
    out: Out,
    accounts: Annotated[
        Path | None, typer.Option(help="Accounts (CSV/Parquet/XLSX) summed into their units.")
    ] = None,
    reps: Annotated[
        Path | None, typer.Option(help="Reps to match to the territories (A-players first).")
    ] = None,
    unit_id_column: Annotated[str, typer.Option(help="Id column of the unit layer.")] = "unit_id",
    potential_column: Annotated[
        str, typer.Option(help="Unit layer column with potential (when no --accounts).")
    ] = "potential",
    workload_column: Annotated[
        str, typer.Option(help="Unit layer column with workload hours (when no --accounts).")
    ] = "workload",
    balance: Annotated[
        float,
        typer.Option(
            help="Allowed deviation from equal potential and workload.",
            parser=_number(rules.TOLERANCE),
        ),
    ] = 0.05,
    compactness: Annotated[
        str,
        typer.Option(
            help="moi (workload x km² to the centre) or travel (workload x km).",
            parser=_one_of(rules.COMPACTNESS),
        ),
    ] = "moi",
    contiguity: Annotated[
        bool, typer.Option(help="Each territory one connected piece of the map.")
    ] = True,
    adjacency: Adjacency = "rook",
    links: Links = None,
    method: Annotated[
        str,
        typer.Option(
            help="auto, exact (Hess model with cuts) or heuristic.",
            parser=_one_of(rules.DESIGN_METHODS),
        ),
    ] = "auto",
    max_travel_km: Annotated[
        float | None,
        typer.Option(
            help="No rep farther than this from their territory.",
            parser=_number(rules.KILOMETRES),
        ),
    ] = None,
    travel_measure: Annotated[
        str,
        typer.Option(
            help="What the travel limit measures: farthest unit or centre.",
            parser=_one_of(rules.TRAVEL_MEASURES),
        ),
    ] = "farthest",
    allow_vacant: Annotated[
        bool, typer.Option(help="Leave territories no rep can reach vacant instead of failing.")
    ] = False,
    soft: Annotated[
        bool, typer.Option(help="When the balance cannot be met, the most balanced design.")
    ] = False,
    time_limit: Annotated[
        float, typer.Option(help="Seconds for the design.", parser=_number(rules.SECONDS))
    ] = 120.0,
    seed: Annotated[
        int, typer.Option(help="Random seed (initial centres).", parser=_number(rules.SEED))
    ] = 7,
    output_format: Format = "csv",
    quiet: Annotated[bool, typer.Option(help="No progress or summary.")] = False,
    force: Force = False,
    sheet: Sheets = [],  # noqa: B006
) -> None:
    """Design k balanced, contiguous, compact territories from units, then match reps to them."""
    from territory.pipeline.commands import design_command

    rules_of_design = {
        "balance": balance, "compactness": compactness, "contiguity": contiguity,
        "method": method, "time_limit_s": time_limit, "seed": seed, "soft": soft,
    }  # fmt: skip
    matching = {
        "max_travel_km": max_travel_km, "travel_measure": travel_measure,
        "allow_vacant": allow_vacant,
    }  # fmt: skip
    try:
        with show.progress(quiet) as status:
            run = design_command(
                units, k, out, accounts=accounts, reps=reps, unit_id_column=unit_id_column,
                potential_column=potential_column, workload_column=workload_column,
                design=rules_of_design, adjacency=adjacency, links=links, matching=matching,
                output_format=output_format, sheets=sheet, force=force, progress=status,
            )  # fmt: skip
    except (TerritoryError, KeyboardInterrupt) as exc:
        raise _fail(exc) from exc
    if not quiet:
        show.design_summary(run, k, out)


@app.command()
def quota(
    plan: Annotated[Path, typer.Option(help="Folder written by `territory align`.")],
    target: Annotated[
        float, typer.Option(help="Company target, currency/year.", parser=_number(rules.MONEY))
    ],
    method: Annotated[
        str,
        typer.Option(
            help="historical, potential, untapped, blended (blend), capacity or even.",
            parser=_one_of(rules.QUOTA_METHODS, case_sensitive=False),
        ),
    ] = "blended",
    history_weight: Annotated[
        float | None,
        typer.Option(
            help="Blend weight on history (default: by role).", parser=_number(rules.SHARE)
        ),
    ] = None,
    over_assign: Annotated[
        float,
        typer.Option(
            help="Over-assignment rate (0.10 = 10%).", parser=_number(rules.OVER_ASSIGNMENT)
        ),
    ] = 0.10,
    non_quota_revenue: Annotated[
        float,
        typer.Option(
            help="Revenue not carried by quota reps, currency/year.",
            parser=_number(rules.MONEY_OR_ZERO),
        ),
    ] = 0.0,
    periods: Annotated[
        str, typer.Option(help="quarter or month.", parser=_one_of(rules.PERIODS))
    ] = "quarter",
    season_profile: Annotated[
        str | None,
        typer.Option(help="Company share per period, e.g. 0.2,0.25,0.25,0.3 (default: history)."),
    ] = None,
    period_sales: Annotated[
        Path | None,
        typer.Option(help="Sales history per rep_id, year, period (1..n), sales for seasonality."),
    ] = None,
    no_caps: Annotated[bool, typer.Option(help="Switch off yearly change caps.")] = False,
    year: Annotated[int | None, typer.Option(help="Plan year written with the quotas.")] = None,
    last_year_target: Annotated[
        float | None,
        typer.Option(
            help="Last year's company target, for the backtest's forecast error.",
            parser=_number(rules.MONEY),
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No summary (for batch jobs).")] = False,
) -> None:
    """Set quotas for the territories of a plan (adds quotas.csv to the plan folder)."""
    from territory.io import read_table
    from territory.pipeline.steps import quota_config, quota_step

    try:
        config = quota_config(
            target=target, method=method, history_weight=history_weight,
            over_assignment=over_assign, non_quota_revenue=non_quota_revenue, periods=periods,
            profile=_parse_profile(season_profile), caps=not no_caps, year=year,
        )  # fmt: skip
        history = read_table(period_sales) if period_sales is not None else None
        step = quota_step(plan, config, period_sales=history, last_year_target=last_year_target)
    except (TerritoryError, KeyboardInterrupt) as exc:
        raise _fail(exc) from exc
    if not quiet:
        show.quota_summary(step, plan, last_year_target=last_year_target)


def _parse_profile(text: str | None) -> tuple[float, ...] | None:
    """'0.2,0.25,0.25,0.3' as shares; they are normalised by the quota step."""
    if text is None:
        return None
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ScenarioError(
            f"--season-profile '{text}' is not a comma-separated list of numbers, "
            "e.g. 0.2,0.25,0.25,0.3"
        ) from None


@app.command()
def stress(
    plan: Annotated[Path, typer.Option(help="Folder with quotas (after `territory quota`).")],
    comp: Annotated[Path, typer.Option(help="Compensation plan TOML.")],
    sims: Annotated[
        int, typer.Option(help="Monte Carlo simulations.", parser=_number(rules.COUNT))
    ] = 10_000,
    seed: Annotated[
        int,
        typer.Option(help="Random seed (recorded in the outputs).", parser=_number(rules.SEED)),
    ] = 7,
    forecast: Annotated[
        float | None,
        typer.Option(
            help="Finance forecast (default: sum of quotas).", parser=_number(rules.MONEY)
        ),
    ] = None,
    lever: Annotated[
        str,
        typer.Option(help="Sensitivity lever: over_assignment, accelerator_slope, sigma_idio, ..."),
    ] = "over_assignment",
    quiet: Annotated[bool, typer.Option(help="No summary (for batch jobs).")] = False,
) -> None:
    """Stress-test quotas under a comp plan: cost and attainment at 80%..120% of plan."""
    from territory.domain.comp import load_comp
    from territory.pipeline.steps import stress_step

    try:
        comp_plan = load_comp(comp)
        step = stress_step(
            plan, comp, sims=sims, seed=seed, forecast=forecast, lever=lever, comp=comp_plan
        )
    except (TerritoryError, KeyboardInterrupt) as exc:
        raise _fail(exc) from exc
    if not quiet:
        show.stress_summary(step, plan)


@app.command()
def check(
    plan: Annotated[Path, typer.Option(help="Run folder (align, and quota/stress if run).")],
    thresholds: Annotated[
        Path | None, typer.Option(help="Thresholds TOML (layout of data/checks.toml).")
    ] = None,
    comp: Annotated[
        Path | None, typer.Option(help="Comp plan TOML (default: the one stress used).")
    ] = None,
    no_fail: Annotated[
        bool, typer.Option(help="Report only: exit 0 even when a check fails.")
    ] = False,
    quiet: Annotated[bool, typer.Option(help="No table (for batch jobs).")] = False,
) -> None:
    """Check the plan against the framework's 20 statements; exit 1 when any check FAILs."""
    from territory.domain.checks import exit_code, status_counts
    from territory.pipeline.steps import check_step, check_thresholds

    try:
        limits = check_thresholds(thresholds, "--thresholds")
        results = check_step(plan, limits, run_id=plan.resolve().name, comp=comp)
    except (TerritoryError, KeyboardInterrupt) as exc:
        raise _fail(exc) from exc
    if not quiet:
        show.check_table(results)
    show.check_counts(status_counts(results), plan)
    raise typer.Exit(exit_code(results, limits, no_fail=no_fail))


@app.command()
def report(
    plan: Annotated[Path, typer.Option(help="Run folder (align; quota, stress, check optional).")],
    out: Annotated[
        Path | None, typer.Option(help="HTML file (default: <plan>/report.html).")
    ] = None,
    open_page: Annotated[
        bool, typer.Option("--open", help="Open it in the default browser.")
    ] = False,
    quiet: Annotated[bool, typer.Option(help="No summary (for batch jobs).")] = False,
) -> None:
    """Write one self-contained HTML report of a run: map, balance, quotas, stress test, checks."""
    from territory.pipeline.commands import report_command

    try:
        target = report_command(plan, out)
    except (TerritoryError, KeyboardInterrupt) as exc:
        raise _fail(exc) from exc
    if not quiet:
        console.print(f"written to {target}")
    if open_page:
        typer.launch(str(Path(target).resolve()))


@app.command()
def compare(
    runs: Annotated[
        list[Path], typer.Argument(help="Run folders to compare, e.g. out/a out/b out/c.")
    ],
    out: Out = Path("out/compare"),
    quiet: Annotated[bool, typer.Option(help="No table (for batch jobs).")] = False,
    force: Force = False,
) -> None:
    """Compare runs side by side: key figures, assignment differences and maps side by side."""
    from territory.pipeline.commands import compare_command
    from territory.rendering.compare import COMPARISON_FILE, DIFF_FILE, HTML_FILE

    if len(runs) < 2:
        raise typer.BadParameter(
            "give at least two run folders, e.g. out/a out/b", param_hint="RUNS"
        )
    try:
        result = compare_command(runs, out, force=force)
    except (TerritoryError, KeyboardInterrupt) as exc:
        raise _fail(exc) from exc
    if not quiet:
        show.comparison(result)
        console.print(
            f"written to {out}/ ({COMPARISON_FILE}, {DIFF_FILE}, {HTML_FILE})",
            markup=False,
            highlight=False,
        )


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file (see scenarios/).")],
    out: Annotated[
        Path, typer.Option(help="Parent folder: the run is written to <out>/<scenario name>/.")
    ] = Path("out"),
    quiet: Annotated[bool, typer.Option(help="No progress or summary (for batch jobs).")] = False,
    force: Annotated[
        bool,
        typer.Option(
            help="Replace <out>/<scenario name> even if it holds files territory did not write."
        ),
    ] = False,
) -> None:
    """Run a scenario's whole pipeline: align (or evaluate), quota, stress, checks, report."""
    from scenarios import load_scenario, run_scenario

    try:
        loaded = load_scenario(scenario)
        with show.progress(quiet) as status:
            result = run_scenario(loaded, out, progress=status, force=force)
    except (TerritoryError, KeyboardInterrupt) as exc:
        raise _fail(exc) from exc
    if not quiet:
        show.scenario_run(result.name, result.steps, result.kpis, result.folder)


@app.command()
def sweep(
    scenario_files: Annotated[
        list[Path], typer.Argument(help="Scenario TOML files.", metavar="SCENARIOS...")
    ],
    grid: Annotated[
        str | None,
        typer.Option(help="One lever over values: add_reps=0..5 or balance=0.03,0.05,0.08."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Local worker processes (default: one per CPU).", parser=_number(rules.COUNT)
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Dask scheduler address (tcp://host:port) instead.",
            parser=_checked(rules.check_scheduler_address),
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Folder for the runs, summary.csv and tradeoffs.png.")
    ] = Path("out/sweep"),
    quiet: Annotated[bool, typer.Option(help="No progress or table (for batch jobs).")] = False,
    force: Annotated[
        bool,
        typer.Option(help="Write into --out and its run folders even if territory did not."),
    ] = False,
) -> None:
    """Run many scenarios in parallel; exit 1 when any of them failed (the others complete)."""
    from scenarios import plan_sweep, run_sweep

    def done(row: dict[str, object]) -> None:
        if not quiet:
            console.print(f"{row['scenario']}: {row['status']} {row.get('error') or ''}".rstrip())

    try:
        tasks = plan_sweep(scenario_files, out, grid)
        result = run_sweep(
            tasks, out, workers=workers, scheduler=scheduler, progress=done, force=force
        )
    except (TerritoryError, KeyboardInterrupt) as exc:
        raise _fail(exc) from exc
    if not quiet:
        show.sweep_table(
            result.summary, len(result.failed), (result.summary_file, result.chart_file)
        )
    if len(result.failed):
        raise typer.Exit(1)


@app.command()
def payout(
    comp: Annotated[Path, typer.Option(help="Compensation plan TOML.")],
    attainment: Annotated[
        float,
        typer.Option(
            help="Attainment as a fraction (1.15 = 115%).", parser=_number(rules.ATTAINMENT)
        ),
    ],
    role: Annotated[
        str | None, typer.Option(help="Role in the plan (default: every role).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Also write payout_table.csv here.")] = None,
    force: Force = False,
) -> None:
    """Show what a rep earns at an attainment, and the payout table finance and reps read."""
    from territory.domain.comp import load_comp
    from territory.domain.payouts import payout_table
    from territory.io import write_outputs
    from territory.io.outputs import check_output_folder, is_engine_folder, is_legacy_run_folder

    try:
        if out is not None and not (is_engine_folder(out) or is_legacy_run_folder(out)):
            check_output_folder(out, command="payout", inputs=[comp], force=force)
        plan = load_comp(comp)
        roles = [plan.roles[role]] if role else list(plan.roles.values())
        show.payout_table(plan, roles, attainment, one_role=bool(role))
        if out is not None:
            write_outputs(
                out, {"payout_table": payout_table(plan)}, {}, "csv", keep_existing=True,
                command="payout", inputs=[comp], force=force,
            )  # fmt: skip
    except KeyError:
        console.print(f"[red]ScenarioError[/red]: no role '{role}'; roles: {sorted(plan.roles)}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except (TerritoryError, KeyboardInterrupt) as exc:
        raise _fail(exc) from exc


DEBUG_VARIABLE = "TERRITORY_DEBUG"
"""Set to 1 to see the traceback of an unexpected error."""


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``territory`` command (and ``python cli.py``).

    Installs the Ctrl-C / SIGTERM handlers, runs the command and turns every failure into a
    message and an exit code. After an interrupt the process ends with ``os._exit``: a solver
    thread still stopping must neither delay the exit nor crash interpreter shutdown.
    """
    from solvers.interrupt import hard_exit, install_signal_handlers

    install_signal_handlers()
    code = run_command(argv)
    if code in (EXIT_INTERRUPTED, EXIT_TERMINATED):
        hard_exit(code)
    sys.exit(code)


def run_command(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``) and return its exit code.

    Typer reports usage errors itself (exit 2); anything else that escapes a command is mapped
    here: an interrupt to 130 / 143, ``MemoryError`` and ``OSError`` to 2 with what to do, an
    error of ours to its code, and any other exception to 4 as a bug, in one line (the
    traceback only with ``TERRITORY_DEBUG=1``).
    """
    _reported.clear()
    try:
        app(args=argv, prog_name="territory")
    except SystemExit as exc:
        code = _exit_status(exc.code)
    except BaseException as exc:  # noqa: BLE001 - the last line of defence
        code = _crash(exc)
    return _with_signal(code)


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    console.print(str(code), markup=False, highlight=False)
    return 1


def _with_signal(code: int) -> int:
    """143 for SIGTERM even where a library turned the interrupt into a plain 130."""
    import signal

    from solvers.interrupt import first_signal

    received = first_signal()
    if received is not None and code == 0:
        # The signal came while the outputs were being committed: they are complete.
        word = "terminated" if received == signal.SIGTERM else "interrupted"
        console.print(f"[yellow]{word}[/yellow] as the run finished: its outputs are complete")
        code = EXIT_TERMINATED if received == signal.SIGTERM else EXIT_INTERRUPTED
        _reported.append(code)
    elif received is not None:
        code = EXIT_TERMINATED if received == signal.SIGTERM else EXIT_INTERRUPTED
    if code in (EXIT_INTERRUPTED, EXIT_TERMINATED) and code not in _reported:
        word = "terminated" if code == EXIT_TERMINATED else "interrupted"
        console.print(f"[red]{word}[/red]: stopped before the run completed")
        _reported.append(code)
    return code


def _interrupt_in(exc: BaseException) -> KeyboardInterrupt | None:
    """Find the KeyboardInterrupt behind ``exc``, or None.

    An import interrupted by Ctrl-C fails as an ImportError caused by the interrupt.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _crash(exc: BaseException) -> int:
    """Say what went wrong in one actionable message and choose the exit code."""
    interrupt = _interrupt_in(exc)
    if interrupt is not None:
        return _fail(interrupt).exit_code
    if isinstance(exc, TerritoryError):
        return _fail(exc).exit_code
    debug = os.environ.get(DEBUG_VARIABLE, "").strip() not in ("", "0")
    if debug:
        import traceback

        traceback.print_exception(exc)
    if isinstance(exc, MemoryError):
        detail = f" ({exc})" if str(exc) else ""
        show.say(
            "ResourceLimitError",
            f"ran out of memory{detail}. The run needs more memory than this machine has: try "
            "fewer --candidates, --decompose on, fewer --sims, or a machine with more memory",
        )
        return EXIT_BAD_INPUT
    if isinstance(exc, OSError):
        show.say("OSError", show.os_error_text(exc))
        return EXIT_BAD_INPUT
    message = " ".join(str(exc).split())
    if len(message) > 300:
        message = message[:297] + "..."
    hint = "" if debug else f"; rerun with {DEBUG_VARIABLE}=1 for the traceback"
    show.say(
        type(exc).__name__,
        f"{message or 'no message'}. This is a bug in the engine, please report it{hint}",
    )
    return EXIT_SOLVER


# What a plan is worth (issue 14): `value` and `size`, declared in cli_value.py.
from cli_value import register as _register_value_commands  # noqa: E402

_register_value_commands(app, _fail, _number)

if __name__ == "__main__":
    main()
