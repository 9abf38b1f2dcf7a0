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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

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


@contextmanager
def _failures_reported() -> Iterator[None]:
    """Turn an error of ours or an interrupt inside the block into its message and exit code."""
    try:
        yield
    except (TerritoryError, KeyboardInterrupt) as exc:
        raise _fail(exc) from exc


def _option(
    help: str,
    accepts: rules.Range | tuple[str, ...] | Callable[[str], str] | None = None,
    *,
    flag: str | None = None,
    case_sensitive: bool = True,
) -> Any:
    """Declare one option: its help and what it accepts (a range, named choices or a check).

    ``flag`` replaces the name typer derives from the parameter (``--format`` for
    ``output_format``). A value is checked before the command reads anything (exit 2).
    """
    parser: Callable[[object], object] | None = None
    if isinstance(accepts, rules.Range):
        parser = _number(accepts)
    elif isinstance(accepts, tuple):
        parser = _one_of(accepts, case_sensitive)
    elif accepts is not None:
        parser = _checked(accepts)
    names = (flag,) if flag else ()
    return typer.Option(*names, help=help, parser=parser)


# Options several commands share, as types of their parameters.
FORCE_HELP = (
    "Replace --out even if it holds files territory did not write (never the current folder, a "
    "home folder or one holding the inputs)."
)
Out = Annotated[Path, _option("Output folder: created, or replaced if territory wrote it.")]
Force = Annotated[bool, _option(FORCE_HELP)]
Sheets = Annotated[
    list[str],
    _option(
        "Worksheet of an .xlsx input: NAME, or accounts=NAME / reps=NAME (repeatable).",
        flag="--sheet",
    ),
]
Format = Annotated[
    str, _option("Table format: csv, parquet or xlsx.", rules.TABLE_FORMATS, flag="--format")
]
Adjacency = Annotated[
    str, _option("Unit neighbours: rook (shared border) or queen (any touch).", rules.ADJACENCY)
]
Links = Annotated[
    Path | None,
    _option("Extra unit links (JSON pairs or table unit_a, unit_b: ferries, islands)."),
]
Comp = Annotated[Path, _option("Compensation plan TOML.")]
QuietRun = Annotated[bool, _option("No progress or summary (for batch jobs).")]
QuietSummary = Annotated[bool, _option("No summary (for batch jobs).")]
QuietTable = Annotated[bool, _option("No table (for batch jobs).")]

# Each command's own options, one class per command, in the order of its parameters. A new
# command adds its class, takes the shared aliases above, and runs inside `_failures_reported()`.


class _Align:
    """The options of ``territory align`` (the shared ones aside)."""

    accounts = _option("Accounts table (.csv, .parquet or .xlsx).")
    reps = _option("Reps table (.csv, .parquet or .xlsx).")
    balance = _option("Allowed ± deviation from target (0.05 = 5%).", rules.TOLERANCE)
    potential_balance = _option("Override --balance for potential.", rules.TOLERANCE)
    workload_balance = _option("Override --balance for workload.", rules.TOLERANCE)
    solver = _option("auto, heuristic, cpsat or mip.", rules.SOLVERS)
    time_limit = _option("Wall-clock budget in seconds.", rules.SECONDS)
    seed = _option("Random seed (same inputs + seed = same outputs).", rules.SEED)
    disruption_weight = _option(
        "Cost (hour-km) per unit of potential moved from its rep.", rules.WEIGHT
    )
    candidates = _option("Nearest reps each account considers.", rules.COUNT)
    tier = _option("Tier factor override, e.g. --tier A=1.2 (repeatable).")
    soft = _option("If the tolerance is impossible, minimise the worst deviation.")
    allow_overtime = _option("Let workload exceed capacity.")
    max_distance_km = _option("No account further than this from its rep's home.", rules.KILOMETRES)
    forbidden = _option("Table of account_id, rep_id pairs that must not occur.")
    family_column = _option("Accounts sharing a value in this column stay with one rep.")
    units = _option("Unit geometries (GeoJSON/GPKG/SHP): align whole units, write polygons.")
    unit_id_column = _option("Id column of the unit layer (accounts join on unit_id or location).")
    contiguity = _option("Every territory one connected piece of the unit map (needs --units).")
    compactness = _option(
        "travel (workload x km to home) or moi (workload x km²).", rules.COMPACTNESS
    )
    cut_edge_weight = _option(
        "Cost per unit border between territories (needs --contiguity).", rules.WEIGHT
    )
    max_moved_accounts = _option("At most this many accounts change rep.", rules.COUNT_OR_ZERO)
    max_moved_revenue_share = _option(
        "At most this share of last year's revenue changes rep (0.10 = 10%).", rules.SHARE
    )
    gap = _option("Stop at this relative gap (default 1% for auto, 1e-6 for cpsat/mip).", rules.GAP)
    decompose = _option(
        "Micro-cluster decomposition: auto (from 50,000 accounts), on or off.", rules.DECOMPOSE
    )
    checkpoint = _option("Folder for stage checkpoints: a rerun with the same inputs resumes.")
    objective = _option(
        "travel, or value: then give moved accounts back where it raises expected sales.",
        rules.OBJECTIVES,
    )


class _Design:
    """The options of ``territory design`` (the shared ones aside)."""

    units = _option("Unit geometries (GeoJSON/GPKG/SHP).")
    k = _option("How many territories to design.", rules.COUNT)
    accounts = _option("Accounts (CSV/Parquet/XLSX) summed into their units.")
    reps = _option("Reps to match to the territories (A-players first).")
    unit_id_column = _option("Id column of the unit layer.")
    potential_column = _option("Unit layer column with potential (when no --accounts).")
    workload_column = _option("Unit layer column with workload hours (when no --accounts).")
    balance = _option("Allowed deviation from equal potential and workload.", rules.TOLERANCE)
    compactness = _option(
        "moi (workload x km² to the centre) or travel (workload x km).", rules.COMPACTNESS
    )
    contiguity = _option("Each territory one connected piece of the map.")
    method = _option("auto, exact (Hess model with cuts) or heuristic.", rules.DESIGN_METHODS)
    max_travel_km = _option("No rep farther than this from their territory.", rules.KILOMETRES)
    travel_measure = _option(
        "What the travel limit measures: farthest unit or centre.", rules.TRAVEL_MEASURES
    )
    allow_vacant = _option("Leave territories no rep can reach vacant instead of failing.")
    soft = _option("When the balance cannot be met, the most balanced design.")
    time_limit = _option("Seconds for the design.", rules.SECONDS)
    seed = _option("Random seed (initial centres).", rules.SEED)
    quiet = _option("No progress or summary.")


class _Quota:
    """The options of ``territory quota``."""

    plan = _option("Folder written by `territory align`.")
    target = _option("Company target, currency/year.", rules.MONEY)
    method = _option(
        "historical, potential, untapped, blended (blend), capacity or even.",
        rules.QUOTA_METHODS,
        case_sensitive=False,
    )
    history_weight = _option("Blend weight on history (default: by role).", rules.SHARE)
    over_assign = _option("Over-assignment rate (0.10 = 10%).", rules.OVER_ASSIGNMENT)
    non_quota_revenue = _option(
        "Revenue not carried by quota reps, currency/year.", rules.MONEY_OR_ZERO
    )
    periods = _option("quarter or month.", rules.PERIODS)
    season_profile = _option("Company share per period, e.g. 0.2,0.25,0.25,0.3 (default: history).")
    period_sales = _option("Sales history per rep_id, year, period (1..n), sales for seasonality.")
    no_caps = _option("Switch off yearly change caps.")
    year = _option("Plan year written with the quotas.")
    last_year_target = _option(
        "Last year's company target, for the backtest's forecast error.", rules.MONEY
    )


class _Stress:
    """The options of ``territory stress``."""

    plan = _option("Folder with quotas (after `territory quota`).")
    sims = _option("Monte Carlo simulations.", rules.COUNT)
    seed = _option("Random seed (recorded in the outputs).", rules.SEED)
    forecast = _option("Finance forecast (default: sum of quotas).", rules.MONEY)
    lever = _option("Sensitivity lever: over_assignment, accelerator_slope, sigma_idio, ...")
    expected_sales = _option(
        "Centre of attainment: model (response.json of `territory value`), history (last "
        "year's revenue) or auto (the model when fitted on this run's inputs).",
        rules.EXPECTED_SALES,
    )


class _Check:
    """The options of ``territory check``."""

    plan = _option("Run folder (align, and quota/stress if run).")
    thresholds = _option("Thresholds TOML (layout of data/checks.toml).")
    comp = _option("Comp plan TOML (default: the one stress used).")
    no_fail = _option("Report only: exit 0 even when a check fails.")


class _Report:
    """The options of ``territory report``."""

    plan = _option("Run folder (align; quota, stress, check optional).")
    out = _option("HTML file (default: <plan>/report.html).")
    open_page = _option("Open it in the default browser.", flag="--open")


class _Compare:
    """The arguments of ``territory compare``."""

    runs = typer.Argument(help="Run folders to compare, e.g. out/a out/b out/c.")


class _Run:
    """The argument and options of ``territory run``."""

    scenario = typer.Argument(help="Scenario TOML file (see scenarios/).")
    out = _option("Parent folder: the run is written to <out>/<scenario name>/.")
    force = _option("Replace <out>/<scenario name> even if it holds files territory did not write.")
    margin = _option("Gross margin (default: the scenario's [value], else 0.6).", rules.SHARE)
    rep_cost = _option("Rep cost/year (default: [value], else 150000).", rules.MONEY_OR_ZERO)


class _Sweep:
    """The arguments and options of ``territory sweep``."""

    scenario_files = typer.Argument(help="Scenario TOML files.", metavar="SCENARIOS...")
    grid = _option("One lever over values: add_reps=0..5 or balance=0.03,0.05,0.08.")
    workers = _option("Local worker processes (default: one per CPU).", rules.COUNT)
    scheduler = _option(
        "Dask scheduler address (tcp://host:port) instead.", rules.check_scheduler_address
    )
    out = _option("Folder for the runs, summary.csv and tradeoffs.png.")
    quiet = _option("No progress or table (for batch jobs).")
    force = _option("Write into --out and its run folders even if territory did not.")
    margin, rep_cost = _Run.margin, _Run.rep_cost


class _Payout:
    """The options of ``territory payout``."""

    attainment = _option("Attainment as a fraction (1.15 = 115%).", rules.ATTAINMENT)
    role = _option("Role in the plan (default: every role).")
    out = _option("Also write payout_table.csv here.")


@app.command()
def align(
    accounts: Annotated[Path, _Align.accounts],
    reps: Annotated[Path, _Align.reps],
    out: Out,
    balance: Annotated[float, _Align.balance] = DEFAULT.balance,
    potential_balance: Annotated[float | None, _Align.potential_balance] = None,
    workload_balance: Annotated[float | None, _Align.workload_balance] = None,
    solver: Annotated[str, _Align.solver] = DEFAULT.solver,
    time_limit: Annotated[float, _Align.time_limit] = DEFAULT.time_limit_s,
    seed: Annotated[int, _Align.seed] = DEFAULT.seed,
    disruption_weight: Annotated[float, _Align.disruption_weight] = DEFAULT.disruption_weight,
    candidates: Annotated[int, _Align.candidates] = DEFAULT.candidates,
    tier: Annotated[list[str], _Align.tier] = [],  # noqa: B006 - typer reads it, never mutated
    soft: Annotated[bool, _Align.soft] = False,
    allow_overtime: Annotated[bool, _Align.allow_overtime] = False,
    max_distance_km: Annotated[float | None, _Align.max_distance_km] = None,
    forbidden: Annotated[Path | None, _Align.forbidden] = None,
    family_column: Annotated[str | None, _Align.family_column] = None,
    units: Annotated[Path | None, _Align.units] = None,
    unit_id_column: Annotated[str, _Align.unit_id_column] = DEFAULT.unit_id_column,
    contiguity: Annotated[bool, _Align.contiguity] = False,
    adjacency: Adjacency = DEFAULT.adjacency,
    links: Links = None,
    compactness: Annotated[str, _Align.compactness] = DEFAULT.compactness,
    cut_edge_weight: Annotated[float, _Align.cut_edge_weight] = DEFAULT.cut_edge_weight,
    max_moved_accounts: Annotated[int | None, _Align.max_moved_accounts] = None,
    max_moved_revenue_share: Annotated[float | None, _Align.max_moved_revenue_share] = None,
    gap: Annotated[float | None, _Align.gap] = None,
    output_format: Format = "csv",
    quiet: QuietRun = False,
    decompose: Annotated[str, _Align.decompose] = DEFAULT.decompose,
    checkpoint: Annotated[Path | None, _Align.checkpoint] = None,
    force: Force = False,
    sheet: Sheets = [],  # noqa: B006
    objective: Annotated[str, _Align.objective] = "travel",
) -> None:
    """Balance territories: assign every account to one rep, then write the plan to --out."""
    from territory.pipeline.commands import align_command

    levers = {k: v for k, v in locals().items() if k in AlignmentSpec.model_fields}
    with _failures_reported():
        spec = AlignmentSpec.build(
            **levers, time_limit_s=time_limit, tier_factors=_parse_tier_factors(tier)
        )
        with show.progress(quiet) as status:
            result = align_command(
                spec, accounts, reps, out, output_format=output_format, sheets=sheet,
                force=force, progress=status,
            )  # fmt: skip
    if not quiet:
        show.alignment_summary(result.report, out)


@app.command()
def design(
    units: Annotated[Path, _Design.units],
    k: Annotated[int, _Design.k],
    out: Out,
    accounts: Annotated[Path | None, _Design.accounts] = None,
    reps: Annotated[Path | None, _Design.reps] = None,
    unit_id_column: Annotated[str, _Design.unit_id_column] = "unit_id",
    potential_column: Annotated[str, _Design.potential_column] = "potential",
    workload_column: Annotated[str, _Design.workload_column] = "workload",
    balance: Annotated[float, _Design.balance] = 0.05,
    compactness: Annotated[str, _Design.compactness] = "moi",
    contiguity: Annotated[bool, _Design.contiguity] = True,
    adjacency: Adjacency = "rook",
    links: Links = None,
    method: Annotated[str, _Design.method] = "auto",
    max_travel_km: Annotated[float | None, _Design.max_travel_km] = None,
    travel_measure: Annotated[str, _Design.travel_measure] = "farthest",
    allow_vacant: Annotated[bool, _Design.allow_vacant] = False,
    soft: Annotated[bool, _Design.soft] = False,
    time_limit: Annotated[float, _Design.time_limit] = 120.0,
    seed: Annotated[int, _Design.seed] = 7,
    output_format: Format = "csv",
    quiet: Annotated[bool, _Design.quiet] = False,
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
    with _failures_reported(), show.progress(quiet) as status:
        run = design_command(
            units, k, out, accounts=accounts, reps=reps, unit_id_column=unit_id_column,
            potential_column=potential_column, workload_column=workload_column,
            design=rules_of_design, adjacency=adjacency, links=links, matching=matching,
            output_format=output_format, sheets=sheet, force=force, progress=status,
        )  # fmt: skip
    if not quiet:
        show.design_summary(run, k, out)


@app.command()
def quota(
    plan: Annotated[Path, _Quota.plan],
    target: Annotated[float, _Quota.target],
    method: Annotated[str, _Quota.method] = "blended",
    history_weight: Annotated[float | None, _Quota.history_weight] = None,
    over_assign: Annotated[float, _Quota.over_assign] = 0.10,
    non_quota_revenue: Annotated[float, _Quota.non_quota_revenue] = 0.0,
    periods: Annotated[str, _Quota.periods] = "quarter",
    season_profile: Annotated[str | None, _Quota.season_profile] = None,
    period_sales: Annotated[Path | None, _Quota.period_sales] = None,
    no_caps: Annotated[bool, _Quota.no_caps] = False,
    year: Annotated[int | None, _Quota.year] = None,
    last_year_target: Annotated[float | None, _Quota.last_year_target] = None,
    quiet: QuietSummary = False,
) -> None:
    """Set quotas for the territories of a plan (adds quotas.csv to the plan folder)."""
    from territory.pipeline.steps import quota_config, quota_step

    with _failures_reported():
        config = quota_config(
            target=target, method=method, history_weight=history_weight,
            over_assignment=over_assign, non_quota_revenue=non_quota_revenue, periods=periods,
            profile=_parse_profile(season_profile), caps=not no_caps, year=year,
        )  # fmt: skip
        step = quota_step(
            plan, config, period_sales=period_sales, last_year_target=last_year_target
        )
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
    plan: Annotated[Path, _Stress.plan],
    comp: Comp,
    sims: Annotated[int, _Stress.sims] = 10_000,
    seed: Annotated[int, _Stress.seed] = 7,
    forecast: Annotated[float | None, _Stress.forecast] = None,
    lever: Annotated[str, _Stress.lever] = "over_assignment",
    expected_sales: Annotated[str, _Stress.expected_sales] = "auto",
    quiet: QuietSummary = False,
) -> None:
    """Stress-test quotas under a comp plan: cost and attainment at 80%..120% of plan."""
    from territory.io.config_files import load_comp
    from territory.pipeline.steps import stress_step

    with _failures_reported():
        comp_plan = load_comp(comp)
        step = stress_step(
            plan, comp, sims=sims, seed=seed, forecast=forecast, lever=lever, comp=comp_plan,
            expected_sales=expected_sales,
        )  # fmt: skip
    if not quiet:
        show.stress_summary(step, plan)


@app.command()
def check(
    plan: Annotated[Path, _Check.plan],
    thresholds: Annotated[Path | None, _Check.thresholds] = None,
    comp: Annotated[Path | None, _Check.comp] = None,
    no_fail: Annotated[bool, _Check.no_fail] = False,
    quiet: QuietTable = False,
) -> None:
    """Check the plan against the framework's 20 statements; exit 1 when any check FAILs."""
    from territory.domain.checks import exit_code, status_counts
    from territory.pipeline.steps import check_step, check_thresholds

    with _failures_reported():
        limits = check_thresholds(thresholds, "--thresholds")
        results = check_step(plan, limits, run_id=plan.resolve().name, comp=comp)
    if not quiet:
        show.check_table(results)
    show.check_counts(status_counts(results), plan)
    raise typer.Exit(exit_code(results, limits, no_fail=no_fail))


@app.command()
def report(
    plan: Annotated[Path, _Report.plan],
    out: Annotated[Path | None, _Report.out] = None,
    open_page: Annotated[bool, _Report.open_page] = False,
    quiet: QuietSummary = False,
) -> None:
    """Write one self-contained HTML report of a run: map, balance, quotas, stress test, checks."""
    from territory.pipeline.commands import report_command

    with _failures_reported():
        target = report_command(plan, out)
    if not quiet:
        console.print(f"written to {target}")
    if open_page:
        typer.launch(str(Path(target).resolve()))


@app.command()
def compare(
    runs: Annotated[list[Path], _Compare.runs],
    out: Out = Path("out/compare"),
    quiet: QuietTable = False,
    force: Force = False,
) -> None:
    """Compare runs side by side: key figures, assignment differences and maps side by side."""
    from territory.pipeline.commands import compare_command
    from territory.rendering.compare import COMPARISON_FILE, DIFF_FILE, HTML_FILE

    if len(runs) < 2:
        raise typer.BadParameter(
            "give at least two run folders, e.g. out/a out/b", param_hint="RUNS"
        )
    with _failures_reported():
        result = compare_command(runs, out, force=force)
    if not quiet:
        show.comparison(result)
        console.print(
            f"written to {out}/ ({COMPARISON_FILE}, {DIFF_FILE}, {HTML_FILE})",
            markup=False,
            highlight=False,
        )


@app.command()
def run(
    scenario: Annotated[Path, _Run.scenario],
    out: Annotated[Path, _Run.out] = Path("out"),
    quiet: QuietRun = False,
    force: Annotated[bool, _Run.force] = False,
    margin: Annotated[float | None, _Run.margin] = None,
    rep_cost: Annotated[float | None, _Run.rep_cost] = None,
) -> None:
    """Run a scenario's whole pipeline: align (or evaluate), quota, stress, checks, report."""
    from scenarios import load_scenario, run_scenario
    from scenarios.value_cli import economics_overrides

    with _failures_reported():
        loaded = load_scenario(scenario, overrides=economics_overrides(margin, rep_cost))
        with show.progress(quiet) as status:
            result = run_scenario(loaded, out, progress=status, force=force)
    if not quiet:
        show.scenario_run(result.name, result.steps, result.kpis, result.folder)


@app.command()
def sweep(
    scenario_files: Annotated[list[Path], _Sweep.scenario_files],
    grid: Annotated[str | None, _Sweep.grid] = None,
    workers: Annotated[int | None, _Sweep.workers] = None,
    scheduler: Annotated[str | None, _Sweep.scheduler] = None,
    out: Annotated[Path, _Sweep.out] = Path("out/sweep"),
    quiet: Annotated[bool, _Sweep.quiet] = False,
    force: Annotated[bool, _Sweep.force] = False,
    margin: Annotated[float | None, _Sweep.margin] = None,
    rep_cost: Annotated[float | None, _Sweep.rep_cost] = None,
) -> None:
    """Run many scenarios in parallel; exit 1 when any of them failed (the others complete)."""
    from scenarios import plan_sweep, run_sweep
    from scenarios.value_cli import economics_overrides

    def done(row: dict[str, object]) -> None:
        if not quiet:
            console.print(f"{row['scenario']}: {row['status']} {row.get('error') or ''}".rstrip())

    with _failures_reported():
        tasks = plan_sweep(scenario_files, out, grid, economics_overrides(margin, rep_cost))
        result = run_sweep(
            tasks, out, workers=workers, scheduler=scheduler, progress=done, force=force
        )
    if not quiet:
        show.sweep_table(
            result.summary, len(result.failed), (result.summary_file, result.chart_file)
        )
    if len(result.failed):
        raise typer.Exit(1)


@app.command()
def payout(
    comp: Comp,
    attainment: Annotated[float, _Payout.attainment],
    role: Annotated[str | None, _Payout.role] = None,
    out: Annotated[Path | None, _Payout.out] = None,
    force: Force = False,
) -> None:
    """Show what a rep earns at an attainment, and the payout table finance and reps read."""
    from territory.domain.payouts import payout_table
    from territory.io import write_outputs
    from territory.io.config_files import load_comp
    from territory.io.outputs import check_output_folder, is_engine_folder, is_legacy_run_folder

    with _failures_reported():
        if out is not None and not (is_engine_folder(out) or is_legacy_run_folder(out)):
            check_output_folder(out, command="payout", inputs=[comp], force=force)
        plan = load_comp(comp)
        try:
            roles = [plan.roles[role]] if role else list(plan.roles.values())
        except KeyError:
            console.print(
                f"[red]ScenarioError[/red]: no role '{role}'; roles: {sorted(plan.roles)}"
            )
            raise typer.Exit(EXIT_BAD_INPUT) from None
        show.payout_table(plan, roles, attainment, one_role=bool(role))
        if out is not None:
            write_outputs(
                out, {"payout_table": payout_table(plan)}, {}, "csv", keep_existing=True,
                command="payout", inputs=[comp], force=force,
            )  # fmt: skip


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


# What a plan is worth (issue 14): `value` and `size`, declared in scenarios/value_cli.py.
from scenarios.value_cli import register as _register_value_commands  # noqa: E402

_register_value_commands(app, _fail, _number)

if __name__ == "__main__":
    main()
