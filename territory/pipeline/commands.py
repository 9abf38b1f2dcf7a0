"""The whole of each command that writes a run folder, for the command line to call.

Each function checks the output folder before any work, reads the inputs, runs its steps of the
pipeline (:mod:`territory.pipeline.steps`) and writes; it prints nothing. ``cli.py`` parses the
arguments into these functions' parameters (an alignment's into one
:class:`~territory.domain.spec.AlignmentSpec`) and renders what they return.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from territory.pipeline.inputs import alignment_inputs, file_hash, territory_polygons, unit_graph

if TYPE_CHECKING:
    import pandas as pd

    from territory.domain.spec import AlignmentSpec
    from territory.rendering.compare import ComparisonResult
    from territory.workflow.design import Design
    from territory.workflow.result import AlignmentResult

__all__ = ["DesignRun", "align_command", "compare_command", "design_command", "report_command"]

Progress = Callable[[str], None]


def align_command(
    spec: AlignmentSpec,
    accounts: Path,
    reps: Path,
    out: Path,
    *,
    output_format: str = "csv",
    sheets: Sequence[str] = (),
    force: bool = False,
    progress: Progress | None = None,
    lock_file: Path | None = None,
    leave_unreachable: bool = False,
) -> AlignmentResult:
    """``territory align``: read, align, and write the plan folder ``out`` (or nothing at all).

    ``lock_file`` locks the accounts it lists (:func:`territory.domain.locks.apply_locks`);
    ``leave_unreachable`` plans without the accounts no rep reaches within the travel limit and
    lists them in ``unreachable.<format>`` (a note of the result says so).
    ``spec.objective == "value"`` then raises the plan's expected sales by the response model
    (:func:`territory.pipeline.value_commands.value_objective_step`).

    Raises
    ------
    OutputFolderError
        ``out`` or the checkpoint folder may not be written (checked before reading).
    TerritoryError
        From the step that failed; nothing is written then.
    """
    # What runs before the inputs are read is imported first: the solver, the checks and the
    # pages load only once the tables are known to be good.
    from territory.io import load_inputs, sheet_choice
    from territory.io.outputs import check_output_folder, prepare_folder

    files = [spec.units, spec.links, spec.forbidden, lock_file]
    inputs = [accounts, reps, *files, spec.checkpoint]
    check_output_folder(out, command="align", inputs=inputs, force=force)
    if spec.checkpoint is not None:
        prepare_folder(
            spec.checkpoint,
            command="checkpoint",
            legacy_files=("checkpoint.json",),
            inputs=[accounts, reps, *files],
            option="--checkpoint",
        )
    accounts_sheet, reps_sheet = sheet_choice(sheets, accounts, reps)
    accounts_df, reps_df = load_inputs(
        accounts, reps, accounts_sheet=accounts_sheet, reps_sheet=reps_sheet
    )
    from territory.pipeline.account_rules import (
        UNREACHABLE_TABLE,
        left_out_note,
        lock_from_file,
        set_aside_unreachable,
    )
    from territory.pipeline.plan_files import PlanTables, write_plan
    from territory.workflow import align as api

    hashes = {"accounts": file_hash(accounts), "reps": file_hash(reps)}
    if lock_file is not None:
        accounts_df = lock_from_file(accounts_df, reps_df, lock_file)
        hashes["lock_file"] = file_hash(lock_file)
    far = None
    if leave_unreachable:
        accounts_df, far = set_aside_unreachable(accounts_df, reps_df, spec.max_distance_km)
    read = alignment_inputs(spec, accounts_df, hashes)
    result = api.align(
        read.accounts, reps_df, spec, forbidden=read.forbidden, unit_graph=read.unit_graph,
        validate=False, input_hashes=read.hashes, progress=progress,
    )  # fmt: skip
    document: dict[str, object] = {}
    if spec.objective == "value":
        from territory.pipeline.value_commands import value_objective_step

        result, document["value_objective"] = value_objective_step(result, read.accounts, reps_df)
    if far is not None and len(far):
        result.report.notes.append(left_out_note(far, f"{UNREACHABLE_TABLE}.{output_format}"))
    document = {**result.solve_document(), **document}
    if far is not None:
        document["unreachable_accounts"] = len(far)
    plan = PlanTables(
        result.assignments, result.territories, read.accounts, reps_df,
        unit_layer=read.unit_layer, unit_plan=result.unit_plan,
        unreachable=None if far is None or far.empty else far,
    )  # fmt: skip
    write_plan(
        out, plan, {"solve.json": document}, output_format, command="align",
        inputs=inputs, force=force,
    )  # fmt: skip
    return result


@dataclass(frozen=True)
class DesignRun:
    """A design as ``territory design`` wrote it: the design and ``design.json``'s content."""

    result: Design
    summary: dict[str, Any]


def design_command(
    units: Path,
    k: int,
    out: Path,
    *,
    accounts: Path | None = None,
    reps: Path | None = None,
    unit_id_column: str = "unit_id",
    potential_column: str = "potential",
    workload_column: str = "workload",
    design: dict[str, Any],
    adjacency: str = "rook",
    links: Path | None = None,
    matching: dict[str, Any],
    output_format: str = "csv",
    sheets: Sequence[str] = (),
    force: bool = False,
    progress: Progress | None = None,
) -> DesignRun:
    """``territory design``: design ``k`` territories from units, match reps, write ``out``.

    ``design`` holds :func:`territory.workflow.design.design_territories`' keywords (balance,
    compactness, contiguity, method, time_limit_s, seed, soft) and ``matching``
    :func:`territory.workflow.design.match_designed`'s (max_travel_km, travel_measure,
    allow_vacant, max_load).
    """
    import pandas as pd

    from territory.io import load_inputs, load_table, read_table, sheet_choice, write_outputs
    from territory.io.outputs import check_output_folder
    from territory.io.units import read_units
    from territory.pipeline.inputs import join_units
    from territory.workflow.design import (
        check_capacity,
        design_summary,
        design_territories,
        territory_name,
        territory_table,
        unit_loads,
    )

    inputs = [units, accounts, reps, links]
    check_output_folder(out, command="design", inputs=inputs, force=force)
    accounts_sheet, reps_sheet = sheet_choice(sheets, accounts, reps)
    layer = read_units(units, unit_id_column)
    graph = unit_graph(layer, adjacency, links)
    assert graph.point_lonlat is not None
    accounts_df = unit_of = reps_df = None
    if accounts is not None:
        if reps is not None:
            accounts_df, reps_df = load_inputs(
                accounts, reps, accounts_sheet=accounts_sheet, reps_sheet=reps_sheet
            )
        else:
            accounts_df = load_table(accounts, "accounts", sheet=accounts_sheet)
        unit_of = pd.Series(join_units(accounts_df, layer), index=accounts_df.index)
    elif reps is not None:
        reps_df = read_table(reps, sheet=reps_sheet)
    loads = unit_loads(
        layer, graph.point_lonlat, accounts_df, unit_of, potential_column, workload_column
    )
    if reps_df is not None and matching.get("max_load") is not None:
        check_capacity(float(loads.table["workload"].sum()), reps_df, k, matching["max_load"],
                       design.get("balance", 0.05))  # fmt: skip
    result = design_territories(loads, graph, k, progress=progress, **design)
    territories = territory_table(loads, result, graph)
    summary = design_summary(result, graph, territories)
    names = [territory_name(t) for t in result.plan.tolist()]
    unit_table = loads.table.assign(territory_id=names)
    tables = {"territories": territories, "units": unit_table}
    if reps_df is not None:
        tables["matching"], tables["unmatched_reps"] = _match(
            loads, result, territories, unit_table, summary, reps_df, accounts_df, unit_of,
            matching,
        )  # fmt: skip
    if accounts_df is not None and unit_of is not None:
        tables["assignments"] = _design_assignments(accounts_df, unit_of, unit_table, territories)
    held = pd.Series(unit_table["territory_id"].to_numpy(), index=unit_table["unit_id"])
    write_outputs(
        out,
        tables,
        {"design.json": summary, "timings.json": {"seconds": result.seconds}},
        output_format,
        files={"territories.geojson": territory_polygons(layer, held)},
        command="design",
        inputs=inputs,
        force=force,
    )
    return DesignRun(result, summary)


def _match(
    loads: Any,
    result: Design,
    territories: pd.DataFrame,
    unit_table: pd.DataFrame,
    summary: dict[str, Any],
    reps: pd.DataFrame,
    accounts: pd.DataFrame | None,
    unit_of: pd.Series | None,
    options: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Match reps to the designed territories: the matching and the reps left without one.

    Fills ``rep_id``, the rep's capacity and the load on ``territories`` and the summary's
    ``matching`` and ``capacity``.
    """
    from territory.workflow.design import capacity_summary, match_designed, unmatched_reps

    matching = match_designed(
        loads, result, territories, reps, accounts=accounts, unit_of_account=unit_of, **options
    )
    rep_of = matching.assignment
    territories["rep_id"] = territories["territory_id"].map(rep_of)
    unit_table["rep_id"] = unit_table["territory_id"].map(rep_of)
    by_territory = matching.table.set_index("territory_id")
    territories["rep_capacity_h"] = territories["territory_id"].map(by_territory["capacity"])
    territories["load"] = territories["territory_id"].map(by_territory["load"])
    unmatched = unmatched_reps(matching, reps)
    summary["capacity"] = capacity_summary(matching, reps, float(territories["workload_h"].sum()))
    summary["matching"] = {
        "objective": matching.objective,
        "talent": matching.talent_score,
        "continuity": matching.continuity_score,
        "travel_cost": matching.travel_cost,
        "status": matching.status,
        "vacant": list(matching.vacant),
        "unassigned_reps": list(matching.unassigned_reps),
        "reps": len(reps),
    }
    home = [c for c in ("rep_id", "name", "lat", "lon") if c in reps.columns]
    homes = reps[home].assign(rep_id=reps["rep_id"].astype(str))
    table = matching.table.merge(
        homes.rename(columns={"lat": "home_lat", "lon": "home_lon"}), on="rep_id", how="left"
    )
    return table, unmatched


def _design_assignments(
    accounts: pd.DataFrame,
    unit_of: pd.Series,
    unit_table: pd.DataFrame,
    territories: pd.DataFrame,
) -> pd.DataFrame:
    """Each account's unit, territory and (when reps were matched) rep."""
    import pandas as pd

    territory_of_unit = dict(zip(unit_table["unit_id"], unit_table["territory_id"], strict=True))
    assignments = pd.DataFrame(
        {
            "account_id": accounts["account_id"].astype(str).to_numpy(),
            "unit_id": unit_of.astype(str).to_numpy(),
        }
    )
    assignments["territory_id"] = assignments["unit_id"].map(territory_of_unit)
    if "rep_id" in unit_table.columns:
        assignments["rep_id"] = assignments["territory_id"].map(
            dict(zip(territories["territory_id"], territories["rep_id"], strict=True))
        )
    return assignments


def report_command(plan: Path, out: Path | None = None, *, shown_as: Path | None = None) -> Path:
    """``territory report``: write the run's page; returns where it went.

    Inside a folder the engine wrote, the page is one more file of it (under its lock);
    anywhere else it may only replace a page the engine wrote. ``shown_as`` is the folder the
    page names when ``plan`` is a workspace that becomes it (a scenario run).
    """
    from territory.io.outputs import add_files, check_report_file, is_engine_folder, run_folder
    from territory.pipeline.steps import report_html
    from territory.rendering.report import REPORT_FILE, report_writer, write_report

    target = out if out is not None else plan / REPORT_FILE
    into = target.parent if is_engine_folder(target.parent) or out is None else None
    if into is None:
        check_report_file(target)
    with run_folder(plan, command="report"):
        html = report_html(plan, shown_as)
        if into is not None:
            add_files(into, {target.name: report_writer(html)}, command="report")
        else:
            write_report(target, html)
    return target


def compare_command(runs: Sequence[Path], out: Path, *, force: bool = False) -> ComparisonResult:
    """``territory compare``: the runs side by side, written to ``out`` (checked first)."""
    from territory.io.outputs import check_output_folder
    from territory.rendering.compare import (
        compare_runs,
        comparison_html,
        load_runs,
        write_comparison,
    )

    check_output_folder(out, command="compare", inputs=runs, force=force)
    folders = load_runs(runs)
    result = compare_runs(folders)
    write_comparison(out, result, comparison_html(result, folders), force=force)
    return result
