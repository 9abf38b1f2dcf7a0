"""Command line: parse arguments, call the pipeline, print the result, map errors to exit codes.

Exit codes: 0 success, 1 a check failed or a sweep had failures, 2 bad input, arguments, names or
paths (and running out of memory), 3 infeasible rules, 4 solver failure or an unexpected error (a
bug), 130 Ctrl-C, 143 SIGTERM. Nothing is written to ``--out`` unless the whole run succeeds, and
only a folder the engine wrote (or an empty one) is replaced; ``--force`` widens that within
limits (see :mod:`territory.io.outputs`). The options are declared in
:mod:`territory.pipeline.cli_options` (one class per command), the work is done by
:mod:`territory.pipeline` and what is shown is drawn by :mod:`territory.pipeline.console`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

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
from territory.pipeline import cli_options as opts
from territory.pipeline import console as show
from territory.pipeline.console import console

app = typer.Typer(
    help="Territory design and quota optimisation engine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(version: opts.Version = False) -> None:
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


@contextmanager
def _failures_reported() -> Iterator[None]:
    """Turn an error of ours or an interrupt inside the block into its message and exit code."""
    try:
        yield
    except (TerritoryError, KeyboardInterrupt) as exc:
        raise _fail(exc) from exc


@app.command()
def align(
    accounts: Annotated[Path, opts.Align.accounts],
    reps: Annotated[Path, opts.Align.reps],
    out: opts.Out,
    balance: Annotated[float, opts.Align.balance] = DEFAULT.balance,
    potential_balance: Annotated[float | None, opts.Align.potential_balance] = None,
    workload_balance: Annotated[float | None, opts.Align.workload_balance] = None,
    solver: Annotated[str, opts.Align.solver] = DEFAULT.solver,
    time_limit: Annotated[float, opts.Align.time_limit] = DEFAULT.time_limit_s,
    seed: Annotated[int, opts.Align.seed] = DEFAULT.seed,
    disruption_weight: Annotated[float, opts.Align.disruption_weight] = DEFAULT.disruption_weight,
    candidates: Annotated[int, opts.Align.candidates] = DEFAULT.candidates,
    tier: Annotated[list[str], opts.Align.tier] = [],  # noqa: B006 - typer reads it, never mutated
    soft: Annotated[bool, opts.Align.soft] = False,
    allow_overtime: Annotated[bool, opts.Align.allow_overtime] = False,
    max_distance_km: Annotated[float | None, opts.Align.max_distance_km] = None,
    forbidden: Annotated[Path | None, opts.Align.forbidden] = None,
    family_column: Annotated[str | None, opts.Align.family_column] = None,
    units: Annotated[Path | None, opts.Align.units] = None,
    unit_id_column: Annotated[str, opts.Align.unit_id_column] = DEFAULT.unit_id_column,
    contiguity: Annotated[bool, opts.Align.contiguity] = False,
    adjacency: opts.Adjacency = DEFAULT.adjacency,
    links: opts.Links = None,
    compactness: Annotated[str, opts.Align.compactness] = DEFAULT.compactness,
    cut_edge_weight: Annotated[float, opts.Align.cut_edge_weight] = DEFAULT.cut_edge_weight,
    max_moved_accounts: Annotated[int | None, opts.Align.max_moved_accounts] = None,
    max_moved_revenue_share: Annotated[float | None, opts.Align.max_moved_revenue_share] = None,
    gap: Annotated[float | None, opts.Align.gap] = None,
    output_format: opts.Format = "csv",
    quiet: opts.QuietRun = False,
    decompose: Annotated[str, opts.Align.decompose] = DEFAULT.decompose,
    checkpoint: Annotated[Path | None, opts.Align.checkpoint] = None,
    lock_file: Annotated[Path | None, opts.Align.lock_file] = None,
    leave_unreachable: Annotated[bool, opts.Align.leave_unreachable] = False,
    force: opts.Force = False,
    sheet: opts.Sheets = [],  # noqa: B006
    objective: Annotated[str, opts.Align.objective] = "travel",
) -> None:
    """Balance territories: assign every account to one rep, then write the plan to --out."""
    from territory.pipeline.commands import align_command

    levers = {k: v for k, v in locals().items() if k in AlignmentSpec.model_fields}
    with _failures_reported():
        spec = AlignmentSpec.build(
            **levers, time_limit_s=time_limit, tier_factors=opts.parse_tier_factors(tier)
        )
        with show.progress(quiet, spec.time_limit_s) as status:
            result = align_command(
                spec, accounts, reps, out, output_format=output_format, sheets=sheet,
                force=force, progress=status, lock_file=lock_file,
                leave_unreachable=leave_unreachable,
            )  # fmt: skip
    if not quiet:
        show.alignment_summary(result.report, out)


@app.command()
def design(
    units: Annotated[Path, opts.Design.units],
    k: Annotated[int, opts.Design.k],
    out: opts.Out,
    accounts: Annotated[Path | None, opts.Design.accounts] = None,
    reps: Annotated[Path | None, opts.Design.reps] = None,
    unit_id_column: Annotated[str, opts.Design.unit_id_column] = "unit_id",
    potential_column: Annotated[str, opts.Design.potential_column] = "potential",
    workload_column: Annotated[str, opts.Design.workload_column] = "workload",
    balance: Annotated[float, opts.Design.balance] = 0.05,
    compactness: Annotated[str, opts.Design.compactness] = "moi",
    contiguity: Annotated[bool, opts.Design.contiguity] = True,
    adjacency: opts.Adjacency = "rook",
    links: opts.Links = None,
    method: Annotated[str, opts.Design.method] = "auto",
    max_travel_km: Annotated[float | None, opts.Design.max_travel_km] = None,
    travel_measure: Annotated[str, opts.Design.travel_measure] = "farthest",
    allow_vacant: Annotated[bool, opts.Design.allow_vacant] = False,
    max_load: Annotated[float | None, opts.Design.max_load] = None,
    soft: Annotated[bool, opts.Design.soft] = False,
    time_limit: Annotated[float, opts.Design.time_limit] = 120.0,
    seed: Annotated[int, opts.Design.seed] = 7,
    output_format: opts.Format = "csv",
    quiet: Annotated[bool, opts.Design.quiet] = False,
    force: opts.Force = False,
    sheet: opts.Sheets = [],  # noqa: B006
) -> None:
    """Design k balanced, contiguous, compact territories from units, then match reps to them."""
    from territory.pipeline.commands import design_command

    rules_of_design = {
        "balance": balance, "compactness": compactness, "contiguity": contiguity,
        "method": method, "time_limit_s": time_limit, "seed": seed, "soft": soft,
    }  # fmt: skip
    matching = {
        "max_travel_km": max_travel_km, "travel_measure": travel_measure,
        "allow_vacant": allow_vacant, "max_load": max_load,
    }  # fmt: skip
    with _failures_reported(), show.progress(quiet, time_limit) as status:
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
    plan: Annotated[Path, opts.Quota.plan],
    target: Annotated[float, opts.Quota.target],
    method: Annotated[str, opts.Quota.method] = "blended",
    history_weight: Annotated[float | None, opts.Quota.history_weight] = None,
    over_assign: Annotated[float, opts.Quota.over_assign] = 0.10,
    non_quota_revenue: Annotated[float, opts.Quota.non_quota_revenue] = 0.0,
    periods: Annotated[str, opts.Quota.periods] = "quarter",
    season_profile: Annotated[str | None, opts.Quota.season_profile] = None,
    period_sales: Annotated[Path | None, opts.Quota.period_sales] = None,
    no_caps: Annotated[bool, opts.Quota.no_caps] = False,
    year: Annotated[int | None, opts.Quota.year] = None,
    last_year_target: Annotated[float | None, opts.Quota.last_year_target] = None,
    comp: Annotated[Path | None, opts.Quota.comp] = None,
    quiet: opts.QuietSummary = False,
) -> None:
    """Set quotas for the territories of a plan (adds quotas.csv to the plan folder)."""
    from territory.pipeline.steps import quota_config, quota_step

    with _failures_reported():
        config = quota_config(
            target=target, method=method, history_weight=history_weight,
            over_assignment=over_assign, non_quota_revenue=non_quota_revenue, periods=periods,
            profile=opts.parse_profile(season_profile), caps=not no_caps, year=year,
        )  # fmt: skip
        step = quota_step(
            plan, config, period_sales=period_sales, last_year_target=last_year_target, comp=comp
        )
    if not quiet:
        show.quota_summary(step, plan, last_year_target=last_year_target)


@app.command()
def stress(
    plan: Annotated[Path, opts.Stress.plan],
    comp: opts.Comp,
    sims: Annotated[int, opts.Stress.sims] = 10_000,
    seed: Annotated[int, opts.Stress.seed] = 7,
    forecast: Annotated[float | None, opts.Stress.forecast] = None,
    lever: Annotated[str, opts.Stress.lever] = "over_assignment",
    expected_sales: Annotated[str, opts.Stress.expected_sales] = "auto",
    quiet: opts.QuietSummary = False,
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
    plan: Annotated[Path, opts.Check.plan],
    thresholds: Annotated[Path | None, opts.Check.thresholds] = None,
    comp: Annotated[Path | None, opts.Check.comp] = None,
    no_fail: Annotated[bool, opts.Check.no_fail] = False,
    quiet: opts.QuietTable = False,
    objectives: Annotated[Path | None, opts.Check.objectives] = None,
    market_pay: Annotated[Path | None, opts.Check.market_pay] = None,
    survey: Annotated[Path | None, opts.Check.survey] = None,
    payouts: Annotated[Path | None, opts.Check.payouts] = None,
    data_dates: Annotated[Path | None, opts.Check.data_dates] = None,
) -> None:
    """Check the plan against the framework's 20 statements; exit 1 when any check FAILs."""
    from territory.domain.checks import exit_code, status_counts
    from territory.io.check_inputs import CheckInputs
    from territory.pipeline.steps import check_step, check_thresholds

    files = CheckInputs(objectives, market_pay, survey, payouts, data_dates)
    with _failures_reported():
        limits = check_thresholds(thresholds, "--thresholds")
        results = check_step(plan, limits, run_id=plan.resolve().name, comp=comp, inputs=files)
    if not quiet:
        show.check_table(results)
    show.check_counts(status_counts(results), plan)
    raise typer.Exit(exit_code(results, limits, no_fail=no_fail))


@app.command()
def report(
    plan: Annotated[Path, opts.Report.plan],
    out: Annotated[Path | None, opts.Report.out] = None,
    open_page: Annotated[bool, opts.Report.open_page] = False,
    quiet: opts.QuietSummary = False,
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
    runs: Annotated[list[Path], opts.Compare.runs],
    out: opts.Out = Path("out/compare"),
    quiet: opts.QuietTable = False,
    force: opts.Force = False,
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
    scenario: Annotated[Path, opts.Run.scenario],
    out: Annotated[Path, opts.Run.out] = Path("out"),
    quiet: opts.QuietRun = False,
    force: Annotated[bool, opts.Run.force] = False,
    margin: Annotated[float | None, opts.Run.margin] = None,
    rep_cost: Annotated[float | None, opts.Run.rep_cost] = None,
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
    scenario_files: Annotated[list[Path], opts.Sweep.scenario_files],
    grid: Annotated[str | None, opts.Sweep.grid] = None,
    workers: Annotated[int | None, opts.Sweep.workers] = None,
    scheduler: Annotated[str | None, opts.Sweep.scheduler] = None,
    out: Annotated[Path, opts.Sweep.out] = Path("out/sweep"),
    quiet: Annotated[bool, opts.Sweep.quiet] = False,
    force: Annotated[bool, opts.Sweep.force] = False,
    margin: Annotated[float | None, opts.Sweep.margin] = None,
    rep_cost: Annotated[float | None, opts.Sweep.rep_cost] = None,
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
    comp: opts.Comp,
    attainment: Annotated[float, opts.Payout.attainment],
    role: Annotated[str | None, opts.Payout.role] = None,
    out: Annotated[Path | None, opts.Payout.out] = None,
    force: opts.Force = False,
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

_register_value_commands(app, _fail, opts.number)

if __name__ == "__main__":
    main()
