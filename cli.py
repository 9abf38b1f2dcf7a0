"""Command line: parse arguments, call the library, render the result, map errors to exit codes.

Exit codes: 0 success, 2 bad input or arguments, 3 infeasible rules, 4 solver failure, 130 when
interrupted. Nothing is written to ``--out`` unless the whole run succeeds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from territory.errors import (
    DataValidationError,
    InfeasibleError,
    ScenarioError,
    SolveError,
    SolverUnavailableError,
    TerritoryError,
)

app = typer.Typer(
    help="Territory design and quota optimisation engine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)


@app.callback()
def _root() -> None:
    """Territory design and quota optimisation engine."""


EXIT_BAD_INPUT = 2
EXIT_INFEASIBLE = 3
EXIT_SOLVER = 4
EXIT_INTERRUPTED = 130


def file_hash(path: Path) -> str:
    """sha256 of a file's bytes, recorded so a run can be traced to its exact inputs."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def _fail(exc: BaseException) -> typer.Exit:
    """Print an error the way a user can act on it and choose the exit code."""
    if isinstance(exc, KeyboardInterrupt):
        console.print("[red]interrupted[/red]: nothing was written")
        return typer.Exit(EXIT_INTERRUPTED)
    code = EXIT_SOLVER
    if isinstance(exc, DataValidationError | ScenarioError):
        code = EXIT_BAD_INPUT
    elif isinstance(exc, InfeasibleError):
        code = EXIT_INFEASIBLE
    elif isinstance(exc, SolveError | SolverUnavailableError):
        code = EXIT_SOLVER
    kind = type(exc).__name__
    console.print(f"[red]{kind}[/red]: {exc}", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[str], None] | None]:
    """A live status line on stderr for long solves; nothing in quiet mode."""
    if quiet:
        yield None
        return
    with console.status("starting") as status:
        yield lambda message: status.update(message)


def _parse_tier_factors(values: list[str]) -> dict[str, float] | None:
    if not values:
        return None
    from territory.model import DEFAULT_TIER_FACTORS

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
    return factors


@app.command()
def align(
    accounts: Annotated[Path, typer.Option(help="Accounts table (.csv, .parquet or .xlsx).")],
    reps: Annotated[Path, typer.Option(help="Reps table (.csv, .parquet or .xlsx).")],
    out: Annotated[Path, typer.Option(help="Output folder (replaced atomically).")],
    balance: Annotated[
        float, typer.Option(help="Allowed ± deviation from target (0.05 = 5%).")
    ] = 0.05,
    potential_balance: Annotated[
        float | None, typer.Option(help="Override --balance for potential.")
    ] = None,
    workload_balance: Annotated[
        float | None, typer.Option(help="Override --balance for workload.")
    ] = None,
    solver: Annotated[str, typer.Option(help="auto, heuristic, cpsat or mip.")] = "auto",
    time_limit: Annotated[float, typer.Option(help="Wall-clock budget in seconds.")] = 60.0,
    seed: Annotated[int, typer.Option(help="Random seed (same inputs + seed = same outputs).")] = 7,
    disruption_weight: Annotated[
        float, typer.Option(help="Cost (hour-km) per unit of potential moved from its rep.")
    ] = 0.0,
    candidates: Annotated[int, typer.Option(help="Nearest reps each account considers.")] = 8,
    tier: Annotated[
        list[str], typer.Option(help="Tier factor override, e.g. --tier A=1.2 (repeatable).")
    ] = [],  # noqa: B006 - typer reads the default, it is never mutated
    soft: Annotated[
        bool, typer.Option(help="If the tolerance is impossible, minimise the worst deviation.")
    ] = False,
    allow_overtime: Annotated[bool, typer.Option(help="Let workload exceed capacity.")] = False,
    gap: Annotated[
        float | None,
        typer.Option(help="Stop at this relative gap (default 1% for auto, 1e-6 for cpsat/mip)."),
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="Table format: csv, parquet or xlsx.")
    ] = "csv",
    quiet: Annotated[bool, typer.Option(help="No progress or summary (for batch jobs).")] = False,
) -> None:
    """Balance territories: assign every account to one rep, then write the plan to --out."""
    from territory.api import align as run_align
    from territory.io import SUPPORTED_FORMATS, load_inputs, write_outputs

    if output_format not in SUPPORTED_FORMATS:
        raise typer.BadParameter(
            f"'{output_format}' is not one of {', '.join(SUPPORTED_FORMATS)}", param_hint="--format"
        )
    factors = _parse_tier_factors(tier)
    try:
        accounts_df, reps_df = load_inputs(accounts, reps)
        hashes = {"accounts": file_hash(accounts), "reps": file_hash(reps)}
        with _progress(quiet) as status:
            result = run_align(
                accounts_df,
                reps_df,
                balance=balance,
                potential_balance=potential_balance,
                workload_balance=workload_balance,
                solver=solver,
                time_limit_s=time_limit,
                seed=seed,
                disruption_weight=disruption_weight,
                tier_factors=factors,
                candidates=candidates,
                soft=soft,
                allow_overtime=allow_overtime,
                gap=gap,
                validate=False,
                input_hashes=hashes,
                progress=status,
            )
        write_outputs(
            out,
            {"assignments": result.assignments, "territories": result.territories},
            {"solve.json": result.solve_document()},
            output_format,
        )
    except (TerritoryError, KeyboardInterrupt) as exc:
        raise _fail(exc) from exc
    if not quiet:
        _print_summary(result.report, out)


def _print_summary(report: object, out: Path) -> None:
    from territory.api import SolveReport

    assert isinstance(report, SolveReport)
    table = Table(title="Alignment", show_header=False)
    gap = "n/a" if report.gap is None else f"{100 * report.gap:.3f}%"
    bound = "n/a" if report.bound is None else f"{report.bound:,.1f} ({report.bound_source})"
    rows = [
        ("backend / status", f"{report.backend} / {report.status}"),
        ("objective (hour-km + disruption)", f"{report.objective:,.1f}"),
        ("lower bound", bound),
        ("gap", gap),
        ("seconds", f"{report.seconds:.2f}"),
        (
            "largest deviation",
            f"potential {100 * report.max_potential_deviation:.2f}% "
            f"(allowed {100 * report.balance_potential:.2f}%), workload "
            f"{100 * report.max_workload_deviation:.2f}% "
            f"(allowed {100 * report.balance_workload:.2f}%)",
        ),
        (
            "accounts / reps / pairs",
            f"{report.n_accounts:,} / {report.n_reps:,} / {report.n_pairs:,}",
        ),
        ("accounts moved", f"{report.metrics.get('accounts_moved', 0):,.0f}"),
        ("written to", str(out)),
    ]
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
    for note in report.notes:
        console.print(f"note: {note}")


def main() -> None:
    """Entry point for ``python cli.py``."""
    app()


if __name__ == "__main__":
    main()
