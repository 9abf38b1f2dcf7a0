"""The options of the ``territory`` command line: what each accepts, its help, its name.

``cli.py`` declares the commands; their options are declared here, one class per command, so
that the command file stays a list of commands. Every number goes through one parser
(:meth:`territory.domain.arguments.Range.parse`, which reads ``1,000,000``, ``165M`` and, where
the value is a fraction, ``115%``); every named choice is listed by ``--help``
(``[csv|parquet|xlsx]``) and a wrong one is exit 2 naming them. Switches are declared by name: an
off-by-default switch has no ``--no-...`` twin (no ``--no-no-fail``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from territory.domain import arguments as rules
from territory.errors import ScenarioError, UsageError


def number(rule: rules.Range) -> Callable[[object], float]:
    """Make an option parser that checks a number against a :mod:`territory.domain.arguments` range.

    A refusal stops the command before it reads anything: exit 2 with the allowed range.
    """

    def parse(value: object) -> float:
        try:
            return rule.parse(value, "")
        except UsageError as exc:
            raise typer.BadParameter(str(exc)) from None

    return parse


def checked(check: Callable[[str], str]) -> Callable[[object], str]:
    """Make an option parser from a check of :mod:`territory.domain.arguments`.

    A refusal stops the command: exit 2 with the check's message.
    """

    def parse(value: object) -> str:
        try:
            return check(str(value))
        except UsageError as exc:
            raise typer.BadParameter(str(exc)) from None

    return parse


def option(
    help: str,
    accepts: rules.Range | tuple[str, ...] | Callable[[str], str] | None = None,
    *,
    flag: str | None = None,
    case_sensitive: bool = True,
) -> Any:
    """Declare one option: its help and what it accepts (a range, named choices or a check).

    ``flag`` replaces the name typer derives from the parameter (``--format`` for
    ``output_format``). A value is checked before the command reads anything (exit 2); named
    choices are listed by ``--help``.
    """
    parser: Callable[[object], object] | None = None
    metavar = None
    if isinstance(accepts, rules.Range):
        parser = number(accepts)
    elif isinstance(accepts, tuple):
        parser, metavar = one_of(accepts, case_sensitive), f"[{'|'.join(accepts)}]"
    elif accepts is not None:
        parser = checked(accepts)
    names = (flag,) if flag else ()
    return typer.Option(*names, help=help, parser=parser, metavar=metavar)


def one_of(choices: tuple[str, ...], case_sensitive: bool = True) -> Callable[[object], str]:
    """Make an option parser for a named choice; a wrong value is exit 2 listing the valid ones.

    (typer 0.29 takes no click type for an option, so the choices are a parser and a metavar.)
    """

    def parse(value: object) -> str:
        text = str(value)
        for choice in choices:
            if text == choice or (not case_sensitive and text.lower() == choice.lower()):
                return choice
        raise typer.BadParameter(
            f"{text!r} is not an option. Possible options are: {', '.join(choices)}"
        )

    return parse


def switch(help: str, names: str) -> Any:
    """Declare an on/off flag under explicit names (``--soft``; ``--x/--no-x`` where on by default).

    Typer would otherwise add a negative to every flag, and ``--no-fail`` would get
    ``--no-no-fail``.
    """
    return typer.Option(names, help=help)


def parse_tier_factors(values: list[str]) -> dict[str, float] | None:
    """``--tier A=1.2`` (repeatable) over the default tier factors; None when none is given."""
    if not values:
        return None
    from territory.domain.arguments import DEFAULT_TIER_FACTORS

    factors = dict(DEFAULT_TIER_FACTORS)
    for item in values:
        tier, sep, text = item.partition("=")
        if not sep:
            raise typer.BadParameter(
                f"'{item}' is not TIER=FACTOR, e.g. A=1.2", param_hint="--tier"
            )
        try:
            factors[tier.strip().upper()] = rules.TIER_FACTOR.parse(text.strip(), "")
        except UsageError as exc:
            raise typer.BadParameter(f"'{item}': {exc}", param_hint="--tier") from None
    return factors


def parse_profile(text: str | None) -> tuple[float, ...] | None:
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


def show_version(value: bool) -> None:
    """Print the package version and stop (the eager ``--version`` / ``-V`` option)."""
    if not value:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        text = version("territory-engine")
    except PackageNotFoundError:  # run from a checkout without installing it
        from territory import __version__ as text
    typer.echo(f"territory {text}")
    raise typer.Exit(0)


Version = Annotated[
    bool,
    typer.Option(
        "--version", "-V", help="Print the version and exit.", callback=show_version,
        is_eager=True,
    ),
]  # fmt: skip

# Options several commands share, as types of their parameters.
FORCE_HELP = (
    "Replace --out even if it holds files territory did not write (never the current folder, a "
    "home folder or one holding the inputs)."
)
Out = Annotated[Path, option("Output folder: created, or replaced if territory wrote it.")]
Force = Annotated[bool, switch(FORCE_HELP, "--force")]
Sheets = Annotated[
    list[str],
    option(
        "Worksheet of an .xlsx input: NAME, or accounts=NAME / reps=NAME (repeatable).",
        flag="--sheet",
    ),
]
Format = Annotated[str, option("Table format.", rules.TABLE_FORMATS, flag="--format")]
Adjacency = Annotated[
    str, option("Unit neighbours: rook (a shared border) or queen (any touch).", rules.ADJACENCY)
]
Links = Annotated[
    Path | None,
    option("Extra unit links (JSON pairs or table unit_a, unit_b: ferries, islands)."),
]
Comp = Annotated[Path, option("Compensation plan TOML.")]
QuietRun = Annotated[bool, switch("No progress or summary (for batch jobs).", "--quiet")]
QuietSummary = Annotated[bool, switch("No summary (for batch jobs).", "--quiet")]
QuietTable = Annotated[bool, switch("No table (for batch jobs).", "--quiet")]

# Each command's own options, one class per command, in the order of its parameters. A new
# command adds its class, takes the shared aliases above, and runs inside `_failures_reported()`.


class Align:
    """The options of ``territory align`` (the shared ones aside)."""

    accounts = option("Accounts table (.csv, .parquet or .xlsx).")
    reps = option("Reps table (.csv, .parquet or .xlsx).")
    balance = option("Allowed ± deviation from target (0.05 or 5%).", rules.TOLERANCE)
    potential_balance = option("Override --balance for potential.", rules.TOLERANCE)
    workload_balance = option("Override --balance for workload.", rules.TOLERANCE)
    solver = option(
        "Solver: auto (heuristic, then an exact backend when it pays), or one backend.",
        rules.SOLVERS,
    )
    time_limit = option("Wall-clock budget in seconds.", rules.SECONDS)
    seed = option("Random seed (same inputs + seed = same outputs).", rules.SEED)
    disruption_weight = option(
        "Cost (hour-km) per unit of potential moved from its rep.", rules.WEIGHT
    )
    candidates = option("Nearest reps each account considers.", rules.COUNT)
    tier = option("Tier factor override, e.g. --tier A=1.2 or A=120% (repeatable).")
    soft = switch("If the tolerance is impossible, minimise the worst deviation.", "--soft")
    allow_overtime = switch("Let workload exceed capacity.", "--allow-overtime")
    max_distance_km = option("No account further than this from its rep's home.", rules.KILOMETRES)
    forbidden = option("Table of account_id, rep_id pairs that must not occur.")
    family_column = option("Accounts sharing a value in this column stay with one rep.")
    units = option("Unit geometries (GeoJSON/GPKG/SHP): align whole units, write polygons.")
    unit_id_column = option("Id column of the unit layer (accounts join on unit_id or location).")
    contiguity = switch(
        "Every territory one connected piece of the unit map (needs --units).", "--contiguity"
    )
    compactness = option(
        "What compactness prices: travel (workload x km to home) or moi (workload x km²).",
        rules.COMPACTNESS,
    )
    cut_edge_weight = option(
        "Cost per unit border between territories (needs --contiguity).", rules.WEIGHT
    )
    max_moved_accounts = option("At most this many accounts change rep.", rules.COUNT_OR_ZERO)
    max_moved_revenue_share = option(
        "At most this share of last year's revenue changes rep (0.10 or 10%).", rules.SHARE
    )
    gap = option("Stop at this relative gap (default 1% for auto, 1e-6 for cpsat/mip).", rules.GAP)
    decompose = option("Micro-cluster decomposition (auto: from 50,000 accounts).", rules.DECOMPOSE)
    checkpoint = option("Folder for stage checkpoints: a rerun with the same inputs resumes.")
    objective = option(
        "travel, or value: then give moved accounts back where it raises expected sales.",
        rules.OBJECTIVES,
    )
    lock_file = option(
        "CSV of accounts to lock: account_id, optional rep_id (blank: keep the current rep) and "
        "lock_reason; beside the accounts' locked_rep column."
    )
    leave_unreachable = switch(
        "Leave accounts no rep reaches within --max-distance-km unassigned (listed in "
        "unreachable.csv) instead of failing.",
        "--leave-unreachable",
    )


class Design:
    """The options of ``territory design`` (the shared ones aside)."""

    units = option("Unit geometries (GeoJSON/GPKG/SHP).")
    k = option("How many territories to design.", rules.COUNT)
    accounts = option("Accounts (CSV/Parquet/XLSX) summed into their units.")
    reps = option("Reps to match to the territories (A-players first).")
    unit_id_column = option("Id column of the unit layer.")
    potential_column = option("Unit layer column with potential (when no --accounts).")
    workload_column = option("Unit layer column with workload hours (when no --accounts).")
    balance = option("Allowed deviation from equal potential and workload.", rules.TOLERANCE)
    compactness = option(
        "What compactness prices: moi (workload x km² to the centre) or travel (workload x km).",
        rules.COMPACTNESS,
    )
    contiguity = switch(
        "Each territory one connected piece of the map.", "--contiguity/--no-contiguity"
    )
    method = option(
        "Method: exact (Hess model with cuts), heuristic, or auto.", rules.DESIGN_METHODS
    )
    max_travel_km = option("No rep farther than this from their territory.", rules.KILOMETRES)
    travel_measure = option(
        "What the travel limit measures: the farthest unit or the centre.", rules.TRAVEL_MEASURES
    )
    allow_vacant = switch(
        "Leave territories no rep can reach vacant instead of failing.", "--allow-vacant"
    )
    max_load = option("Most workload / rep capacity per match (1.1 = 10% over).", rules.POSITIVE)
    soft = switch("When the balance cannot be met, the most balanced design.", "--soft")
    time_limit = option("Seconds for the design.", rules.SECONDS)
    seed = option("Random seed (initial centres).", rules.SEED)
    quiet = switch("No progress or summary.", "--quiet")


class Quota:
    """The options of ``territory quota``."""

    plan = option("Folder written by `territory align`.")
    target = option("Company target, currency/year (165000000, 165,000,000 or 165M).", rules.MONEY)
    method = option(
        "How quotas are set (blend = blended; history and growth = historical).",
        rules.QUOTA_METHODS,
        case_sensitive=False,
    )
    history_weight = option("Blend weight on history (default: by role).", rules.SHARE)
    over_assign = option("Over-assignment rate (0.10 or 10%).", rules.OVER_ASSIGNMENT)
    non_quota_revenue = option(
        "Revenue not carried by quota reps, currency/year.", rules.MONEY_OR_ZERO
    )
    periods = option("Quota periods in a year.", rules.PERIODS)
    season_profile = option("Company share per period, e.g. 0.2,0.25,0.25,0.3 (default: history).")
    period_sales = option("Sales history per rep_id, year, period (1..n), sales for seasonality.")
    no_caps = switch("Switch off yearly change caps.", "--no-caps")
    year = option("Plan year written with the quotas.")
    last_year_target = option(
        "Last year's company target, for the backtest's forecast error.", rules.MONEY
    )
    comp = option("Comp plan TOML: fills quota_to_ote and splits quotas per measure.")


class Stress:
    """The options of ``territory stress``."""

    plan = option("Folder with quotas (after `territory quota`).")
    sims = option("Monte Carlo simulations.", rules.COUNT)
    seed = option("Random seed (recorded in the outputs).", rules.SEED)
    forecast = option("Finance forecast (default: sum of quotas).", rules.MONEY)
    lever = option(
        "Sensitivity lever: the design choice varied over its grid.", rules.STRESS_LEVERS
    )
    expected_sales = option(
        "Centre of attainment: model (response.json of `territory value`), history (last "
        "year's revenue) or auto (the model when fitted on this run's inputs).",
        rules.EXPECTED_SALES,
    )


class Check:
    """The options of ``territory check``."""

    plan = option("Run folder (align, and quota/stress if run).")
    thresholds = option("Thresholds TOML (layout of data/checks.toml).")
    comp = option("Comp plan TOML (default: the one stress used).")
    no_fail = switch("Report only: exit 0 even when a check fails.", "--no-fail")
    objectives = option("Objectives CSV for C1: objective_id, weight, roles.")
    market_pay = option("Market pay CSV for C2: role, ote_p25/p50/p75, variable_share_p50.")
    survey = option("Rep survey CSV for C9 (and T8): can_calculate_pay, process_is_clear.")
    payouts = option("Payout runs CSV for C10: period_end, paid_on, payments, corrections.")
    data_dates = option("Data dates CSV for T8: item, date (assessed_on, potential_as_of...).")


class Report:
    """The options of ``territory report``."""

    plan = option("Run folder (align; quota, stress, check optional).")
    out = option("HTML file (default: <plan>/report.html).")
    open_page = switch("Open it in the default browser.", "--open")


class Compare:
    """The arguments of ``territory compare``."""

    runs = typer.Argument(help="Run folders to compare, e.g. out/a out/b out/c.")


class Run:
    """The argument and options of ``territory run``."""

    scenario = typer.Argument(help="Scenario TOML file (see scenarios/).")
    out = option("Parent folder: the run is written to <out>/<scenario name>/.")
    force = switch(
        "Replace <out>/<scenario name> even if it holds files territory did not write.", "--force"
    )
    margin = option("Gross margin (default: the scenario's [value], else 0.6).", rules.SHARE)
    rep_cost = option("Rep cost/year (default: [value], else 150000).", rules.MONEY_OR_ZERO)


class Sweep:
    """The arguments and options of ``territory sweep``."""

    scenario_files = typer.Argument(help="Scenario TOML files.", metavar="SCENARIOS...")
    grid = option("One lever over values: add_reps=0..5 or balance=0.03,0.05,0.08.")
    workers = option("Local worker processes (default: one per CPU).", rules.COUNT)
    scheduler = option(
        "Dask scheduler address (tcp://host:port) instead.", rules.check_scheduler_address
    )
    out = option("Folder for the runs, summary.csv and tradeoffs.png.")
    quiet = switch("No progress or table (for batch jobs).", "--quiet")
    force = switch("Write into --out and its run folders even if territory did not.", "--force")
    margin, rep_cost = Run.margin, Run.rep_cost


class Payout:
    """The options of ``territory payout``."""

    attainment = option("Attainment as a fraction (1.15 or 115%).", rules.ATTAINMENT)
    role = option("Role in the plan (default: every role).")
    out = option("Also write payout_table.csv here.")
