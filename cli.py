"""Command line: parse arguments, call the library, render the result, map errors to exit codes.

Exit codes: 0 success, 1 a check failed or a sweep had failures, 2 bad input, arguments, names or
paths (and running out of memory), 3 infeasible rules, 4 solver failure or an unexpected error (a
bug), 130 Ctrl-C, 143 SIGTERM. Nothing is written to ``--out`` unless the whole run succeeds, and
only a folder the engine wrote (or an empty one) is replaced; ``--force`` widens that within
limits (see :mod:`territory.outputs`).
"""

from __future__ import annotations

import errno
import hashlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    import geopandas as gpd
    import numpy as np
    import pandas as pd

    from territory.districting import DualGraph

from territory import arguments as rules
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
EXIT_TERMINATED = 143


def file_hash(path: Path) -> str:
    """sha256 of a file's bytes, recorded so a run can be traced to its exact inputs."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


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
    """An option parser checking a number against one of :mod:`territory.arguments`' ranges.

    A refusal stops the command before it reads anything: exit 2 with the allowed range.
    """

    def parse(value: object) -> float:
        try:
            return rule.parse(value, "")
        except UsageError as exc:
            raise typer.BadParameter(str(exc)) from None

    return parse


def _checked(check: Callable[[str], str]) -> Callable[[object], str]:
    """An option parser from a check of :mod:`territory.arguments` (exit 2 with its message)."""

    def parse(value: object) -> str:
        try:
            return check(str(value))
        except UsageError as exc:
            raise typer.BadParameter(str(exc)) from None

    return parse


def _one_of(choices: tuple[str, ...], case_sensitive: bool = True) -> Callable[[object], str]:
    """An option parser for a named choice; a wrong value is exit 2 listing every valid one."""

    def parse(value: object) -> str:
        text = str(value)
        for choice in choices:
            if text == choice or (not case_sensitive and text.lower() == choice.lower()):
                return choice
        raise typer.BadParameter(
            f"{text!r} is not an option. Possible options are: {', '.join(choices)}"
        )

    return parse


@contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[str], None] | None]:
    """A live status line on stderr for long solves; nothing in quiet mode.

    When stderr is not a terminal (a batch job's log), each stage is one plain line instead.
    """
    if quiet:
        yield None
        return
    if not console.is_terminal:

        def log(message: str) -> None:
            console.print(f"... {message}", markup=False, highlight=False, soft_wrap=True)

        yield log
        return
    with console.status("starting") as status:
        yield lambda message: status.update(message)


SHEET_HELP = "Worksheet of an .xlsx input: NAME, or accounts=NAME / reps=NAME (repeatable)."


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
        problem = rules.TIER_FACTOR.problem(float(number))
        if problem:
            raise typer.BadParameter(
                f"'{item}': the factor is {problem}; allowed: {rules.TIER_FACTOR.text}",
                param_hint="--tier",
            )
    return factors


@app.command()
def align(
    accounts: Annotated[Path, typer.Option(help="Accounts table (.csv, .parquet or .xlsx).")],
    reps: Annotated[Path, typer.Option(help="Reps table (.csv, .parquet or .xlsx).")],
    out: Annotated[
        Path, typer.Option(help="Output folder: created, or replaced if territory wrote it.")
    ],
    balance: Annotated[
        float,
        typer.Option(
            help="Allowed ± deviation from target (0.05 = 5%).", parser=_number(rules.TOLERANCE)
        ),
    ] = 0.05,
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
    ] = "auto",
    time_limit: Annotated[
        float, typer.Option(help="Wall-clock budget in seconds.", parser=_number(rules.SECONDS))
    ] = 60.0,
    seed: Annotated[
        int,
        typer.Option(
            help="Random seed (same inputs + seed = same outputs).", parser=_number(rules.SEED)
        ),
    ] = 7,
    disruption_weight: Annotated[
        float,
        typer.Option(
            help="Cost (hour-km) per unit of potential moved from its rep.",
            parser=_number(rules.WEIGHT),
        ),
    ] = 0.0,
    candidates: Annotated[
        int,
        typer.Option(help="Nearest reps each account considers.", parser=_number(rules.COUNT)),
    ] = 8,
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
    ] = "unit_id",
    contiguity: Annotated[
        bool,
        typer.Option(help="Every territory one connected piece of the unit map (needs --units)."),
    ] = False,
    adjacency: Annotated[
        str,
        typer.Option(
            help="Unit neighbours: rook (shared border) or queen (any touch).",
            parser=_one_of(rules.ADJACENCY),
        ),
    ] = "rook",
    links: Annotated[
        Path | None,
        typer.Option(
            help="Extra unit links (JSON pairs or table unit_a, unit_b: ferries, islands)."
        ),
    ] = None,
    compactness: Annotated[
        str,
        typer.Option(
            help="travel (workload x km to home) or moi (workload x km²).",
            parser=_one_of(rules.COMPACTNESS),
        ),
    ] = "travel",
    cut_edge_weight: Annotated[
        float,
        typer.Option(
            help="Cost per unit border between territories (needs --contiguity).",
            parser=_number(rules.WEIGHT),
        ),
    ] = 0.0,
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
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="Table format: csv, parquet or xlsx.",
            parser=_one_of(rules.TABLE_FORMATS),
        ),
    ] = "csv",
    quiet: Annotated[bool, typer.Option(help="No progress or summary (for batch jobs).")] = False,
    decompose: Annotated[
        str,
        typer.Option(
            help="Micro-cluster decomposition: auto (from 50,000 accounts), on or off.",
            parser=_one_of(rules.DECOMPOSE),
        ),
    ] = "auto",
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="Folder for stage checkpoints: a rerun with the same inputs resumes."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            help="Replace --out even if it holds files territory did not write (never the "
            "current folder, a home folder or one holding the inputs)."
        ),
    ] = False,
    sheet: Annotated[list[str], typer.Option(help=SHEET_HELP)] = [],  # noqa: B006
) -> None:
    """Balance territories: assign every account to one rep, then write the plan to --out."""
    from territory.api import align as run_align
    from territory.io import load_inputs, read_table, sheet_choice, write_outputs
    from territory.outputs import check_output_folder, prepare_folder

    factors = _parse_tier_factors(tier)
    inputs = [accounts, reps, units, links, forbidden, checkpoint]
    try:
        check_output_folder(out, command="align", inputs=inputs, force=force)
        if checkpoint is not None:
            prepare_folder(
                checkpoint,
                command="checkpoint",
                legacy_files=("checkpoint.json",),
                inputs=[accounts, reps, units, links, forbidden],
                option="--checkpoint",
            )
        accounts_sheet, reps_sheet = sheet_choice(sheet, accounts, reps)
        accounts_df, reps_df = load_inputs(
            accounts, reps, accounts_sheet=accounts_sheet, reps_sheet=reps_sheet
        )
        hashes = {"accounts": file_hash(accounts), "reps": file_hash(reps)}
        unit_layer = None
        if units is not None:
            # Unit-level alignment: every account of a unit goes with the unit (a family).
            from territory.units import read_units

            if family_column is not None:
                raise ScenarioError("use either --units or --family-column, not both")
            unit_layer = read_units(units, unit_id_column)
            accounts_df = accounts_df.assign(unit_id=_join_units(accounts_df, unit_layer))
            family_column = "unit_id"
            hashes["units"] = file_hash(units)
        unit_graph = None
        if contiguity:
            if unit_layer is None:
                raise ScenarioError("--contiguity needs --units (the map the territories live on)")
            unit_graph = _unit_graph(unit_layer, adjacency, links)
            if links is not None:
                hashes["links"] = file_hash(links)
        forbidden_df = None
        if forbidden is not None:
            forbidden_df = read_table(forbidden)
            hashes["forbidden"] = file_hash(forbidden)
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
                max_distance_km=max_distance_km,
                forbidden=forbidden_df,
                family_column=family_column,
                max_moved_accounts=max_moved_accounts,
                max_moved_revenue_share=max_moved_revenue_share,
                unit_graph=unit_graph,
                contiguity=contiguity,
                compactness=compactness,
                cut_edge_weight=cut_edge_weight,
                validate=False,
                input_hashes=hashes,
                progress=status,
                decompose=decompose,
                checkpoint=checkpoint,
            )
        from territory.runs import INPUT_ACCOUNTS, INPUT_REPS, PLAN, parquet_writer
        from territory.transitions import transition_plan

        tables = {"assignments": result.assignments, "territories": result.territories}
        if "current_rep" in accounts_df.columns:
            # How to get from today's alignment to this one: moves, reasons, waves, revenue at risk.
            tables["transitions"] = transition_plan(
                accounts_df, None, result.assignments[["account_id", "rep_id"]], reps_df
            )
        extra_files = {}
        if unit_layer is not None:
            assert result.unit_plan is not None
            extra_files["territories.geojson"] = _territory_polygons(unit_layer, result.unit_plan)
        write_outputs(
            out,
            tables,
            {"solve.json": result.solve_document()},
            output_format,
            files={
                INPUT_ACCOUNTS: parquet_writer(accounts_df),
                INPUT_REPS: parquet_writer(reps_df),
                PLAN: parquet_writer(result.assignments[["account_id", "rep_id"]]),
                **extra_files,
            },
            command="align",
            inputs=inputs,
            force=force,
        )
    except (TerritoryError, KeyboardInterrupt) as exc:
        raise _fail(exc) from exc
    if not quiet:
        _print_summary(result.report, out)


SNAP_KM = 5.0
"""Accounts up to this far outside every unit (bays, simplified coasts) join the nearest one."""


def _join_units(accounts: pd.DataFrame, unit_layer: gpd.GeoDataFrame) -> np.ndarray:
    """Each account's unit: by its unit_id when every account has one that the layer knows,
    else by location (point in polygon, snapping up to SNAP_KM)."""
    from territory.units import join_accounts

    known = set(unit_layer["unit_id"].astype(str))
    by_id = "unit_id" in accounts.columns and accounts["unit_id"].astype(str).isin(known).all()
    if by_id and not accounts["unit_id"].isna().any():
        return join_accounts(accounts, unit_layer, by="unit_id").to_numpy()
    return join_accounts(accounts, unit_layer, by="location", snap_km=SNAP_KM).to_numpy()


def _unit_graph(unit_layer: object, kind: str, links: Path | None) -> DualGraph:
    """The units' neighbour graph, with the manual links of a two-column table."""
    from territory.io import read_table
    from territory.units import adjacency as build_adjacency

    if kind not in ("rook", "queen"):
        raise typer.BadParameter(f"'{kind}' is not rook or queen", param_hint="--adjacency")
    pairs: list[tuple[str, str]] = []
    if links is not None and links.suffix.lower() == ".json":
        import json

        data = json.loads(links.read_text())
        raw = data.get("manual_links", []) if isinstance(data, dict) else data
        if not all(isinstance(p, list) and len(p) == 2 for p in raw):
            raise ScenarioError(
                f"{links}: expected a list of [unit_a, unit_b] pairs (or {{'manual_links': [...]}})"
            )
        pairs = [(str(a), str(b)) for a, b in raw]
    elif links is not None:
        table = read_table(links).astype(str)
        if table.shape[1] < 2:
            raise ScenarioError(f"{links}: needs two columns of unit ids (unit_a, unit_b)")
        pairs = list(zip(table.iloc[:, 0], table.iloc[:, 1], strict=True))
    return build_adjacency(unit_layer, kind, pairs)  # type: ignore[arg-type]


def _territory_polygons(unit_layer: object, rep_of_unit: object) -> Callable[[Path], None]:
    """Writer of territories.geojson: the units each rep holds, dissolved into one shape."""
    import pandas as pd

    from territory.units import dissolve_territories, write_geojson

    assert isinstance(rep_of_unit, pd.Series)
    held = pd.Series(rep_of_unit.to_numpy(), index=rep_of_unit.index.astype(str))
    held = held[~held.index.duplicated()]
    layer = unit_layer[unit_layer["unit_id"].astype(str).isin(held.index)]  # type: ignore[index]
    shapes = dissolve_territories(layer, held)

    def write(path: Path) -> None:
        write_geojson(shapes, path)

    return write


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


METHOD_ALIASES = {"blend": "blended", "history": "historical", "growth": "historical"}


@app.command()
def design(
    units: Annotated[Path, typer.Option(help="Unit geometries (GeoJSON/GPKG/SHP).")],
    k: Annotated[
        int, typer.Option(help="How many territories to design.", parser=_number(rules.COUNT))
    ],
    out: Annotated[
        Path, typer.Option(help="Output folder: created, or replaced if territory wrote it.")
    ],
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
    adjacency: Annotated[
        str,
        typer.Option(help="rook (shared border) or queen.", parser=_one_of(rules.ADJACENCY)),
    ] = "rook",
    links: Annotated[
        Path | None, typer.Option(help="Extra unit links (JSON pairs or table unit_a, unit_b).")
    ] = None,
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
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="Table format: csv, parquet or xlsx.",
            parser=_one_of(rules.TABLE_FORMATS),
        ),
    ] = "csv",
    quiet: Annotated[bool, typer.Option(help="No progress or summary.")] = False,
    force: Annotated[
        bool,
        typer.Option(
            help="Replace --out even if it holds files territory did not write (never the "
            "current folder, a home folder or one holding the inputs)."
        ),
    ] = False,
    sheet: Annotated[list[str], typer.Option(help=SHEET_HELP)] = [],  # noqa: B006
) -> None:
    """Design k balanced, contiguous, compact territories from units, then match reps to them."""
    import pandas as pd

    from territory.design import (
        design_summary,
        design_territories,
        match_designed,
        territory_name,
        territory_table,
        unit_loads,
    )
    from territory.io import load_inputs, load_table, read_table, sheet_choice, write_outputs
    from territory.outputs import check_output_folder
    from territory.units import read_units

    inputs = [units, accounts, reps, links]
    try:
        check_output_folder(out, command="design", inputs=inputs, force=force)
        accounts_sheet, reps_sheet = sheet_choice(sheet, accounts, reps)
        layer = read_units(units, unit_id_column)
        graph = _unit_graph(layer, adjacency, links)
        assert graph.point_lonlat is not None
        accounts_df = unit_of = reps_df = None
        if accounts is not None:
            if reps is not None:
                accounts_df, reps_df = load_inputs(
                    accounts, reps, accounts_sheet=accounts_sheet, reps_sheet=reps_sheet
                )
            else:
                accounts_df = load_table(accounts, "accounts", sheet=accounts_sheet)
            unit_of = pd.Series(_join_units(accounts_df, layer), index=accounts_df.index)
        elif reps is not None:
            reps_df = read_table(reps, sheet=reps_sheet)
        loads = unit_loads(
            layer, graph.point_lonlat, accounts_df, unit_of, potential_column, workload_column
        )
        with _progress(quiet) as status:
            result = design_territories(
                loads, graph, k, balance=balance, compactness=compactness,  # type: ignore[arg-type]
                contiguity=contiguity, method=method,  # type: ignore[arg-type]
                time_limit_s=time_limit, seed=seed, soft=soft, progress=status,
            )  # fmt: skip
        territories = territory_table(loads, result, graph)
        summary = design_summary(result, graph, territories)
        names = [territory_name(t) for t in result.plan.tolist()]
        unit_table = loads.table.assign(territory_id=names)
        tables = {"territories": territories, "units": unit_table}
        if reps_df is not None:
            matching = match_designed(
                loads, result, territories, reps_df, accounts=accounts_df,
                unit_of_account=unit_of, max_travel_km=max_travel_km,
                travel_measure=travel_measure, allow_vacant=allow_vacant,  # type: ignore[arg-type]
            )  # fmt: skip
            tables["matching"] = matching.table
            rep_of = matching.assignment
            territories["rep_id"] = territories["territory_id"].map(rep_of)
            unit_table["rep_id"] = unit_table["territory_id"].map(rep_of)
            summary["matching"] = {
                "objective": matching.objective,
                "talent": matching.talent_score,
                "continuity": matching.continuity_score,
                "travel_cost": matching.travel_cost,
                "status": matching.status,
                "vacant": list(matching.vacant),
                "unassigned_reps": list(matching.unassigned_reps),
            }
        if accounts_df is not None and unit_of is not None:
            territory_of_unit = dict(
                zip(unit_table["unit_id"], unit_table["territory_id"], strict=True)
            )
            assignments = pd.DataFrame(
                {
                    "account_id": accounts_df["account_id"].astype(str).to_numpy(),
                    "unit_id": unit_of.astype(str).to_numpy(),
                }
            )
            assignments["territory_id"] = assignments["unit_id"].map(territory_of_unit)
            if "rep_id" in unit_table.columns:
                assignments["rep_id"] = assignments["territory_id"].map(
                    dict(zip(territories["territory_id"], territories["rep_id"], strict=True))
                )
            tables["assignments"] = assignments
        held = pd.Series(unit_table["territory_id"].to_numpy(), index=unit_table["unit_id"])
        write_outputs(
            out,
            tables,
            {"design.json": summary, "timings.json": {"seconds": result.seconds}},
            output_format,
            files={"territories.geojson": _territory_polygons(layer, held)},
            command="design",
            inputs=inputs,
            force=force,
        )
    except (TerritoryError, KeyboardInterrupt) as exc:
        raise _fail(exc) from exc
    if not quiet:
        gap = summary["gap"]
        console.print(
            f"[bold]{k} territories[/bold] ({summary['method']}, {summary['status']}): "
            f"objective {summary['objective']:,.1f}"
            + (f", gap {100 * gap:.2f}%" if gap is not None else ", no bound")
            + f"; balance reached ±{100 * summary['max_potential_deviation']:.2f}% potential, "
            f"±{100 * summary['max_workload_deviation']:.2f}% workload; contiguous: "
            f"{summary['contiguous']}; {result.seconds:.1f} s"
        )
        if "matching" in summary:
            m = summary["matching"]
            console.print(
                f"reps matched: objective {m['objective']:.3f} (talent {m['talent']:.3f}, "
                f"continuity {m['continuity']:.3f}, travel -{m['travel_cost']:.3f}); vacant: "
                f"{', '.join(m['vacant']) or 'none'}"
            )
        console.print(f"outputs in {out}")


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
    from territory.finance import set_plan_quotas
    from territory.io import read_table
    from territory.outputs import run_folder
    from territory.quotas import QuotaConfig, QuotaMethod, Seasonality, YearlyCaps
    from territory.runs import load_plan
    from territory.steps import write_quota_step

    name = METHOD_ALIASES.get(method.lower(), method.lower())
    try:
        profile = _parse_profile(season_profile)
        history = read_table(period_sales) if period_sales is not None else None
        with run_folder(plan, command="quota"):
            run = load_plan(plan)
            config = QuotaConfig(
                company_target=target,
                non_quota_revenue=non_quota_revenue,
                over_assignment=over_assign,
                method=QuotaMethod(name=name, history_weight=history_weight),  # type: ignore[arg-type]
                caps=None if no_caps else YearlyCaps(),
                seasonality=Seasonality(periods=periods, profile=profile),  # type: ignore[arg-type]
                plan_year=year,
            )
            step = set_plan_quotas(
                run, config, period_sales=history, last_year_target=last_year_target
            )
            table = step.plan.table
            write_quota_step(plan, step, config)
    except (TerritoryError, KeyboardInterrupt) as exc:
        raise _fail(exc) from exc
    if not quiet:
        summary = step.plan.summary
        console.print(
            f"quotas for {len(table)} territories: street total {summary.street_total:,.0f} "
            f"(target {summary.company_target:,.0f} x over-assignment "
            f"{summary.over_assignment_factor:.3f}), sum of quotas {summary.quota_total:,.2f}; "
            f"expected share of reps at quota if the plan is hit: "
            f"{100 * summary.share_at_quota_if_plan_hit:.0f}%"
        )
        if step.backtest is not None:
            bt = step.backtest
            company = (
                f"company error {100 * bt.company_error:.1f}%"
                if last_year_target is not None
                else "company error not measured (give --last-year-target)"
            )
            console.print(
                f"backtest (last year's quotas set from the year before): {company}, quota "
                f"WMAPE {100 * bt.wmape:.1f}% against actuals (naive last-year baseline "
                f"{100 * bt.naive_wmape:.1f}%)"
            )
        console.print(f"written to {plan}/quotas.csv")


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
    from dataclasses import replace

    from territory.comp import load_comp
    from territory.finance import stress_plan
    from territory.outputs import run_folder
    from territory.runs import load_plan
    from territory.steps import write_stress_step
    from territory.stress import StressConfig

    try:
        comp_plan = load_comp(comp)
        config = replace(StressConfig(), n_sims=sims)
        with run_folder(plan, command="stress"):
            run = load_plan(plan)
            step = stress_plan(
                run, comp_plan, config=config, seed=seed, forecast=forecast, lever=lever
            )
            write_stress_step(plan, step, comp_plan, comp, seed=seed, n_sims=sims)
    except (TerritoryError, KeyboardInterrupt) as exc:
        raise _fail(exc) from exc
    if not quiet:
        _print_stress(step.scenarios)
        for role in step.result.verdicts.roles:
            console.print(
                f"{role.role}: the 90th-percentile rep reaches {100 * role.attainment_p90:.0f}% "
                f"of quota and earns {role.payout_at_p90:.2f}x target incentive; for "
                f"{role.target_leverage:.1f}x there the accelerator slope would need to be "
                f"{role.accelerator_slope_needed:.2f}"
            )
        console.print(f"written to {plan}/ (finance.xlsx, stress_scenarios.csv, charts)")


def _print_stress(scenarios: object) -> None:
    import pandas as pd

    assert isinstance(scenarios, pd.DataFrame)
    table = Table(title="What if the company lands at x of plan (incentive in millions)")
    for label, _, _ in _STRESS_COLUMNS:
        table.add_column(label, justify="right")
    for _, row in scenarios.iterrows():
        table.add_row(*[render(row[column]) for _, column, render in _STRESS_COLUMNS])
    console.print(table)


def _millions(value: object) -> str:
    return f"{float(value) / 1e6:,.2f}"  # type: ignore[arg-type]


def _percent(value: object) -> str:
    return f"{float(value):.0f}%"  # type: ignore[arg-type]


def _fraction(value: object) -> str:
    return f"{100 * float(value):.1f}%"  # type: ignore[arg-type]


_STRESS_COLUMNS: tuple[tuple[str, str, Callable[[object], str]], ...] = (
    ("x", "scenario_id", str),
    ("at quota", "pct_reps_ge_quota", _percent),
    ("paid", "pct_reps_paid", _percent),
    ("P10", "incentive_p10", _millions),
    ("P50", "incentive_p50", _millions),
    ("P90", "incentive_p90", _millions),
    ("P50/TI", "incentive_to_ti_budget_p50", _fraction),
    ("CCOS", "ccos_p50", _fraction),
)


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
    from territory.checks import (
        CheckThresholds,
        check_run,
        exit_code,
        load_thresholds,
        status_counts,
        to_frame,
        to_records,
    )
    from territory.io import write_outputs
    from territory.outputs import run_folder
    from territory.runs import load_plan

    try:
        limits = load_thresholds(thresholds) if thresholds else CheckThresholds.default()
        with run_folder(plan, command="check"):
            run = load_plan(plan)
            results = check_run(run, limits, comp)
            run_id = plan.resolve().name
            write_outputs(
                plan,
                {"checks": to_frame(results, run_id)},
                {"checks.json": to_records(results, run_id)},
                "csv",
                keep_existing=True,
                command="check",
            )
    except (TerritoryError, KeyboardInterrupt) as exc:
        raise _fail(exc) from exc
    counts = status_counts(results)
    if not quiet:
        table = Table(title="Checks against the framework's thought starters")
        for column in ("id", "status", "value", "threshold", "statement"):
            table.add_column(column, overflow="fold")
        for r in results:
            colour = _STATUS_COLOURS.get(str(r.status), "white")
            value = "" if r.value is None else f"{r.value:.3g}"
            table.add_row(
                r.check_id,
                f"[{colour}]{r.status}[/{colour}]",
                value,
                "" if r.threshold is None else f"{r.comparator} {r.threshold}",
                r.statement,
            )
        console.print(table)
    summary = ", ".join(f"{count} {status}" for status, count in counts.items() if count)
    console.print(
        f"checks: {summary}; {counts.get('NOT_ASSESSABLE', 0)} not assessable "
        f"(see 'needs' in {plan}/checks.csv)"
    )
    raise typer.Exit(exit_code(results, limits, no_fail=no_fail))


_STATUS_COLOURS = {
    "PASS": "green",
    "WARN": "yellow",
    "FAIL": "red",
    "NOT_ASSESSABLE": "magenta",
    "INFO": "cyan",
    "NOT_APPLICABLE": "bright_black",
}


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
    from territory.outputs import add_files, check_report_file, is_engine_folder, run_folder
    from territory.report import (
        REPORT_FILE,
        collect_report_inputs,
        render_report,
        report_writer,
        write_report,
    )

    target = out if out is not None else plan / REPORT_FILE
    try:
        # Inside a folder the engine wrote, the page is one more file of it (under its lock);
        # anywhere else it may only replace a page the engine wrote.
        into = target.parent if is_engine_folder(target.parent) or out is None else None
        if into is None:
            check_report_file(target)
        with run_folder(plan, command="report"):
            html = render_report(**collect_report_inputs(plan))
            if into is not None:
                add_files(into, {target.name: report_writer(html)}, command="report")
            else:
                write_report(target, html)
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
    out: Annotated[
        Path, typer.Option(help="Output folder: created, or replaced if territory wrote it.")
    ] = Path("out/compare"),
    quiet: Annotated[bool, typer.Option(help="No table (for batch jobs).")] = False,
    force: Annotated[
        bool,
        typer.Option(
            help="Replace --out even if it holds files territory did not write (never the "
            "current folder, a home folder or one holding the inputs)."
        ),
    ] = False,
) -> None:
    """Compare runs side by side: key figures, assignment differences and maps side by side."""
    from territory.compare import (
        COMPARISON_FILE,
        DIFF_FILE,
        HTML_FILE,
        compare_runs,
        comparison_html,
        load_runs,
        write_comparison,
    )

    if len(runs) < 2:
        raise typer.BadParameter(
            "give at least two run folders, e.g. out/a out/b", param_hint="RUNS"
        )
    from territory.outputs import check_output_folder

    try:
        check_output_folder(out, command="compare", inputs=runs, force=force)
        folders = load_runs(runs)
        result = compare_runs(folders)
        write_comparison(out, result, comparison_html(result, folders), force=force)
    except (TerritoryError, KeyboardInterrupt) as exc:
        raise _fail(exc) from exc
    if not quiet:
        _print_comparison(result)
        console.print(
            f"written to {out}/ ({COMPARISON_FILE}, {DIFF_FILE}, {HTML_FILE})",
            markup=False,
            highlight=False,
        )


def _print_comparison(result: object) -> None:
    from rich.markup import escape

    from territory.compare import ComparisonResult, format_kpi

    assert isinstance(result, ComparisonResult)
    table = Table(title="Runs side by side")
    table.add_column("key figure")
    for name in result.names:
        table.add_column(escape(name), justify="right")
    for _, row in result.kpis.iterrows():
        unit = str(row["unit"])
        table.add_row(
            escape(str(row["label"])), *(escape(format_kpi(row[n], unit)) for n in result.names)
        )
    console.print(table)
    said: list[str] = []
    for record in result.reasons.itertuples():
        line = f"{record.run}: {record.reason}"
        if line not in said:
            said.append(line)
            console.print(f"blank: {line}", markup=False, highlight=False)
    console.print(
        f"{len(result.assignment_diff):,} account(s) are assigned to a different rep in some run",
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
        with _progress(quiet) as status:
            result = run_scenario(loaded, out, progress=status, force=force)
    except (TerritoryError, KeyboardInterrupt) as exc:
        raise _fail(exc) from exc
    if quiet:
        return
    table = Table(title=f"Scenario {result.name}", show_header=False)
    for step, what in result.steps.items():
        table.add_row(step, what)
    for key, value in result.kpis.items():
        table.add_row(key, _kpi_text(value))
    table.add_row("written to", str(result.folder))
    console.print(table)


def _kpi_text(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _share(value: object) -> str:
    return f"{100 * float(value):.1f}%"  # type: ignore[arg-type]


def _count(value: object) -> str:
    return f"{float(value):,.0f}"  # type: ignore[arg-type]


_SWEEP_COLUMNS: tuple[tuple[str, str, Callable[[object], str]], ...] = (
    ("scenario", "scenario", str),
    ("status", "status", str),
    ("solve", "solve_status", str),
    ("reps", "n_reps", _count),
    ("max dev", "max_potential_deviation", _share),
    ("travel h-km", "travel_hour_km", _count),
    ("rev. moved", "revenue_moved_share", _share),
    ("at quota", "share_at_quota_at_plan", _share),
    ("CCOS", "ccos_p50_at_plan", _share),
    ("FAIL", "checks_fail", _count),
    ("error", "error", lambda v: str(v).splitlines()[0] if str(v) else ""),
)


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
    import pandas as pd

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
        table = Table(title=f"Sweep of {len(result.summary)} scenario(s)")
        columns = [c for c in _SWEEP_COLUMNS if c[1] != "error" or len(result.failed)]
        for label, _, _ in columns:
            table.add_column(label, overflow="fold")
        for _, row in result.summary.iterrows():
            cells = []
            for _, column, render in columns:
                value = row[column]
                missing = value is None or (isinstance(value, float) and pd.isna(value))
                cells.append("" if missing else render(value))
            table.add_row(*cells)
        console.print(table)
        console.print(f"written to {result.summary_file} and {result.chart_file}")
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
    force: Annotated[
        bool,
        typer.Option(
            help="Replace --out even if it holds files territory did not write (never the "
            "current folder, a home folder or one holding the inputs)."
        ),
    ] = False,
) -> None:
    """What a rep earns at an attainment, and the payout table finance and reps read."""
    from territory.comp import load_comp
    from territory.io import write_outputs
    from territory.outputs import check_output_folder, is_engine_folder, is_legacy_run_folder
    from territory.payouts import payout_for, payout_table

    try:
        if out is not None and not (is_engine_folder(out) or is_legacy_run_folder(out)):
            check_output_folder(out, command="payout", inputs=[comp], force=force)
        plan = load_comp(comp)
        roles = [plan.roles[role]] if role else list(plan.roles.values())
        table = Table(title=f"Payout at {100 * attainment:.0f}% of quota ({plan.currency})")
        for column in ("role", "OTE", "base", "incentive", "total", "x target incentive"):
            table.add_column(column, justify="right")
        for r in roles:
            earned = payout_for(r, attainment)
            incentive = float(earned.incentive)
            target_incentive = r.target_incentive
            table.add_row(
                r.name,
                f"{r.ote:,.0f}",
                f"{earned.base:,.0f}",
                f"{incentive:,.0f}",
                f"{float(earned.total):,.0f}",
                f"{incentive / target_incentive:.2f}" if target_incentive else "n/a",
            )
        console.print(table)
        from territory.payouts import sample_calculations

        for line in sample_calculations(plan if role is None else roles[0], (attainment,)):
            console.print(f"- {line}")
        if out is not None:
            write_outputs(
                out,
                {"payout_table": payout_table(plan)},
                {},
                "csv",
                keep_existing=True,
                command="payout",
                inputs=[comp],
                force=force,
            )
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
    from territory.interrupt import hard_exit, install_signal_handlers

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

    from territory.interrupt import first_signal

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
    """The KeyboardInterrupt behind ``exc`` (an import interrupted by Ctrl-C fails as an
    ImportError caused by it), or None."""
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
        _say(
            "ResourceLimitError",
            f"ran out of memory{detail}. The run needs more memory than this machine has: try "
            "fewer --candidates, --decompose on, fewer --sims, or a machine with more memory",
        )
        return EXIT_BAD_INPUT
    if isinstance(exc, OSError):
        _say("OSError", _os_error_text(exc))
        return EXIT_BAD_INPUT
    message = " ".join(str(exc).split())
    if len(message) > 300:
        message = message[:297] + "..."
    hint = "" if debug else f"; rerun with {DEBUG_VARIABLE}=1 for the traceback"
    _say(
        type(exc).__name__,
        f"{message or 'no message'}. This is a bug in the engine, please report it{hint}",
    )
    return EXIT_SOLVER


_OS_ADVICE = {
    errno.ENOSPC: "free some disk space or choose another --out",
    errno.EDQUOT: "free some disk space or choose another --out",
    errno.EACCES: "check the permissions, or choose another --out",
    errno.EPERM: "check the permissions, or choose another --out",
    errno.EROFS: "the file system is read-only: choose another --out",
    errno.ENOENT: "check the path",
    errno.ENOTDIR: "a part of the path is a file, not a folder: check the path",
    errno.EISDIR: "the path is a folder where a file was expected: check the path",
    errno.ENAMETOOLONG: "use a shorter path",
    errno.EMFILE: "too many open files: raise the limit (ulimit -n) or use fewer --workers",
}


def _os_error_text(exc: OSError) -> str:
    """'could not use PATH: No space left on device; free some disk space ...'."""
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    reason = exc.strerror or str(exc) or type(exc).__name__
    where = f"could not use {' -> '.join(paths)}" if paths else "a file-system operation failed"
    advice = _OS_ADVICE.get(exc.errno or -1, "check the path, free space and permissions")
    return f"{where}: {reason}; {advice}"


def _say(kind: str, message: str) -> None:
    from rich.markup import escape

    console.print(f"[red]{kind}[/red]: {escape(message)}", highlight=False, soft_wrap=True)


if __name__ == "__main__":
    main()
