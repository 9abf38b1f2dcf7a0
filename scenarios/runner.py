"""Run one scenario through the whole pipeline.

``run_scenario(scenario, out_root)`` applies the scenario's levers to the data
(:mod:`scenarios.levers`), aligns (or evaluates the current alignment), sets quotas, values
the plan under the sales-response model fitted to the history, stress-tests the quotas under the
comp plan, runs the checks and renders the report, all in process
with the pipeline's steps (:mod:`territory.pipeline`, the same ones ``territory align / quota /
stress / check / report`` run), and writes ``out_root/<scenario>/`` in one atomic swap.
Everything in the folder is byte-identical when an unchanged scenario runs again, except
``timings.json`` (wall-clock seconds per step). Sweeps over many scenarios are in
:mod:`scenarios.sweep`; nothing here prints.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from scenarios.levers import LeverResult, apply_levers, with_former_reps
from scenarios.model import CHECK_INPUT_KEYS, Scenario, ScenarioSpec
from territory.domain.spec import FILE_LEVERS, AlignmentSpec
from territory.errors import ScenarioError
from territory.io.check_inputs import CheckInputs
from territory.io.names import join_inside
from territory.pipeline.inputs import AlignmentInputs, alignment_inputs, file_hash
from territory.pipeline.steps import PlanTables, write_plan
from territory.rendering.compare.kpis import finite_number, value_kpis

if TYPE_CHECKING:
    from territory.domain.response import ResponseModel

__all__ = [
    "RunResult",
    "package_versions",
    "plan_scenario",
    "prepare_inputs",
    "run_kpis",
    "run_scenario",
    "scenario_inputs",
]

MANIFEST = "manifest.json"
VALUE_FILE = "value.json"
TIMINGS = "timings.json"
LEVERS = "levers.json"

VERSIONED_PACKAGES = ("ortools", "highspy", "pulp", "numpy", "pandas")
"""Packages whose versions the manifest records (with the engine's own)."""

EVALUATED_LEVERS = (
    "balance_potential", "balance_workload", "soft", "allow_overtime", "seed",
    "disruption_weight", "tier_factors", "candidates",
)  # fmt: skip
"""The levers an evaluated alignment records in ``solve.json``: those its figures depend on."""


def package_versions() -> dict[str, str | None]:
    """Versions of the engine and of the libraries that shape its numbers."""
    from territory import __version__

    out: dict[str, str | None] = {"territory": __version__}
    for name in VERSIONED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


@dataclass(frozen=True)
class RunResult:
    """Where a scenario's run folder is, what ran, its headline numbers and its timings."""

    name: str
    folder: Path
    steps: dict[str, str]
    kpis: dict[str, Any]
    timings: dict[str, float]


class _Clock:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._start = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.seconds[step] = self.seconds.get(step, 0.0) + now - self._start
        self._start = now


def _align(
    spec: AlignmentSpec, prepared: LeverResult, read: AlignmentInputs, scenario: Scenario
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], pd.Series | None]:
    """Solve: assignments, territories, the solve document (timings still inside), unit plan.

    ``[align] objective = "value"`` then gives moved accounts back where the response model,
    fitted on today's history as the value step fits it (the same cached fit), sells more.
    """
    from territory.workflow import align as api

    result = api.align(
        read.accounts, prepared.reps, spec, forbidden=read.forbidden, unit_graph=read.unit_graph,
        validate=False, input_hashes=read.hashes,
    )  # fmt: skip
    extra: dict[str, Any] = {}
    if spec.objective == "value":
        from territory.workflow.value_objective import raise_value

        model = _history_model(scenario)
        result, extra["value_objective"] = raise_value(result, read.accounts, prepared.reps, model)
    document = {**result.solve_document(), **extra}
    return result.assignments, result.territories, document, result.unit_plan


def _history_model(scenario: Scenario) -> ResponseModel:
    """Fit the response model to today's history (the input files as they are), once a process.

    Raises
    ------
    DataValidationError
        The history cannot support a fit.
    """
    from territory.pipeline.value_commands import cached_fit

    history, today, key = _history(scenario)
    return cached_fit(history, today, key)


def _history(scenario: Scenario) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Read today's accounts and reps as the input files hold them, and the key a fit has."""
    from territory.io import load_inputs
    from territory.pipeline.value_commands import fit_key

    spec = scenario.spec
    history, today = load_inputs(spec.inputs.accounts, spec.inputs.reps)
    key = fit_key(
        history, today, literature_defaults=spec.value.literature_defaults,
        n_boot=spec.value.n_boot, seed=spec.seed,
    )  # fmt: skip
    return history, today, key


def _evaluate(
    scenario: Scenario, spec: AlignmentSpec, prepared: LeverResult, hashes: Mapping[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Take the current alignment as the plan: the same files as a solve, status ``EVALUATED``."""
    from territory import __version__
    from territory.domain.metrics import (
        assignment_table,
        plan_metrics,
        territory_table,
        travel_hour_km,
    )
    from territory.workflow.result import SolveReport

    accounts, reps = prepared.accounts, prepared.reps
    if "current_rep" not in accounts.columns:
        raise ScenarioError(
            f"{scenario.path}: mode = 'evaluate' takes the current alignment as the plan, but "
            "the accounts table has no current_rep column"
        )
    current = accounts["current_rep"].to_numpy(dtype=object)
    blank = np.array([c is None or c != c or str(c).strip() == "" for c in current], dtype=bool)
    if blank.any():
        ids = accounts["account_id"].astype(str).to_numpy()[blank]
        raise ScenarioError(
            f"{scenario.path}: mode = 'evaluate' needs a current_rep for every account; "
            f"{int(blank.sum())} have none (e.g. {ids[:5].tolist()}); use mode = 'align'"
        )
    plan = np.array([str(c) for c in current], dtype=object)
    factors = spec.tiers
    territories = territory_table(accounts, reps, plan, factors)
    active = territories["potential_target"].to_numpy() > 0
    dev_p = float(np.abs(territories["potential_dev"].to_numpy()[active]).max(initial=0.0))
    dev_w = float(np.abs(territories["workload_dev"].to_numpy()[active]).max(initial=0.0))
    travel = travel_hour_km(accounts, reps, plan)
    # Nothing was searched (no backend, bound, gap, pairs or time) and nothing relaxed: the
    # balance windows in force are the ones asked for.
    report = SolveReport(
        backend="none", status="EVALUATED", objective=travel, bound=None, bound_source="none",
        bound_scope="none", gap=None, seconds=0.0, time_limit_s=0.0, n_pairs=0,
        max_potential_deviation=dev_p, max_workload_deviation=dev_w,
        balance_potential=spec.potential_tolerance, balance_workload=spec.workload_tolerance,
        balance_requested_potential=spec.potential_tolerance,
        balance_requested_workload=spec.workload_tolerance,
        soft=spec.soft, candidates=spec.candidates, seed=spec.seed,
        n_accounts=len(accounts), n_reps=len(reps),
        metrics=plan_metrics(accounts, reps, plan, factors),
        notes=["the current alignment (current_rep) evaluated as it is: no solve, no bound"],
    )  # fmt: skip
    levers = spec.key_parameters()
    parameters = {
        "mode": "evaluate", "solver": "none", "time_limit_s": 0.0, "gap": None,
        **{key: levers[key] for key in EVALUATED_LEVERS},
    }  # fmt: skip
    doc: dict[str, Any] = {"version": __version__, "inputs": dict(hashes), "parameters": parameters}
    doc.update(asdict(report))
    return assignment_table(accounts, reps, plan), territories, doc


def _count_removed_reps_moves(
    prepared: LeverResult,
    assignments: pd.DataFrame,
    territories: pd.DataFrame,
    doc: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Accounts of removed reps moved: show their former rep and count them as moved.

    The solver saw them without a current rep (they must move); disruption is reported
    against the alignment as it really is.
    """
    if not len(prepared.orphans):
        return assignments, territories
    from territory.domain.metrics import METRICS, assignment_table

    plan = assignments["rep_id"].astype(str).to_numpy(dtype=object)
    before = prepared.accounts_before
    fixed = assignment_table(before, prepared.reps, plan)
    moved_in = fixed.loc[fixed["moved"].to_numpy(dtype=bool), "rep_id"].astype(str).value_counts()
    territories = territories.copy()
    territories["accounts_moved_in"] = (
        territories["rep_id"].astype(str).map(moved_in).fillna(0).astype(np.int64).to_numpy()
    )
    # Deviations and travel do not depend on where accounts were; only the move counts do.
    metrics = dict(doc.get("metrics", {}))
    for name in ("accounts_moved", "potential_moved", "revenue_moved"):
        metrics[name] = METRICS[name](before, prepared.reps, plan)
    doc["metrics"] = metrics
    removed = sorted(set(prepared.orphans["former_rep"].astype(str)))
    doc["notes"] = [
        *doc.get("notes", []),
        f"{len(prepared.orphans)} account(s) of the removed rep(s) {removed} had to move; they "
        "are counted as moved",
    ]
    return fixed, territories


def _copier(source: Path) -> Callable[[Path], None]:
    def copy(target: Path) -> None:
        shutil.copyfile(source, target)

    return copy


def prepare_inputs(scenario: Scenario) -> tuple[LeverResult, dict[str, str]]:
    """Read and validate the inputs, apply the levers, validate the result again.

    Returns the tables as the solver sees them (with what the levers changed) and the
    sha256 of the input files.
    """
    from territory.io import load_inputs, validate_inputs

    inputs = scenario.spec.inputs
    accounts, reps = load_inputs(inputs.accounts, inputs.reps)
    hashes = {"accounts": file_hash(inputs.accounts), "reps": file_hash(inputs.reps)}
    prepared = apply_levers(accounts, reps, scenario.spec)
    solver_accounts, solver_reps = validate_inputs(
        prepared.accounts,
        prepared.reps,
        accounts_source=f"accounts after the levers of {scenario.path.name}",
        reps_source=f"reps after the levers of {scenario.path.name}",
    )
    prepared = replace(
        prepared,
        accounts=solver_accounts,
        accounts_before=with_former_reps(solver_accounts, prepared.orphans),
        reps=solver_reps,
    )
    return prepared, hashes


def plan_scenario(
    scenario: Scenario, prepared: LeverResult, hashes: Mapping[str, str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Make the scenario's plan: ``assignments``, ``territories`` and the ``solve.json`` document.

    Aligns (``mode = "align"``) or takes ``current_rep`` as the plan (``"evaluate"``);
    accounts of removed reps count as moved. The document still holds ``seconds`` and
    ``stages``, which :func:`run_scenario` moves to ``timings.json``.
    """
    plan, doc = _plan(scenario, prepared, hashes or {})
    return plan.assignments, plan.territories, doc


def _plan(
    scenario: Scenario, prepared: LeverResult, hashes: Mapping[str, str]
) -> tuple[PlanTables, dict[str, Any]]:
    """Make the plan and keep the tables it was made from (see :func:`plan_scenario`)."""
    spec = scenario.spec.alignment()
    if scenario.spec.mode == "evaluate":
        assignments, territories, doc = _evaluate(scenario, spec, prepared, dict(hashes))
        read = AlignmentInputs(prepared.accounts)
        unit_plan = None
    else:
        read = alignment_inputs(spec, prepared.accounts, dict(hashes), forbidden=prepared.forbidden)
        assignments, territories, doc, unit_plan = _align(spec, prepared, read, scenario)
    assignments, territories = _count_removed_reps_moves(prepared, assignments, territories, doc)
    before = prepared.accounts_before
    if "unit_id" in read.accounts.columns and read.unit_layer is not None:
        before = before.assign(unit_id=read.accounts["unit_id"].to_numpy())
    plan = PlanTables(
        assignments, territories, read.accounts, prepared.reps, accounts_before=before,
        unit_layer=read.unit_layer, unit_plan=unit_plan,
    )  # fmt: skip
    return plan, doc


def scenario_inputs(scenario: Scenario) -> list[str]:
    """Every file a scenario reads: its TOML files and the tables and plans they name."""
    spec = scenario.spec
    inputs = spec.inputs
    paths = [str(f) for f in scenario.files]
    for path in (
        inputs.accounts,
        inputs.reps,
        inputs.comp,
        inputs.period_sales,
        *(getattr(inputs, name) for name in CHECK_INPUT_KEYS),
        spec.levers.forbidden,
        spec.checks,
        *(getattr(spec.align, name) for name in FILE_LEVERS),
    ):
        if isinstance(path, str | Path):
            paths.append(str(path))
    return paths


def _input_files(spec: ScenarioSpec) -> tuple[tuple[str, str | Path | None], ...]:
    """List the manifest's named inputs (the [align] files only when set)."""
    forbidden = spec.levers.forbidden if isinstance(spec.levers.forbidden, str) else None
    return (
        ("accounts", spec.inputs.accounts),
        ("reps", spec.inputs.reps),
        ("comp", spec.inputs.comp),
        ("period_sales", spec.inputs.period_sales),
        *((name, getattr(spec.inputs, name)) for name in CHECK_INPUT_KEYS),
        ("forbidden", forbidden or spec.align.forbidden),
        ("checks", spec.checks if isinstance(spec.checks, str) else None),
        ("units", spec.align.units),
        ("links", spec.align.links),
    )


def run_scenario(
    scenario: Scenario,
    out_root: str | Path = "out",
    *,
    progress: Callable[[str], None] | None = None,
    force: bool = False,
) -> RunResult:
    """Run the whole pipeline for one scenario into ``out_root/<scenario name>/``.

    Steps (those of :mod:`territory.pipeline`): levers, align (or evaluate the current
    alignment), quota (when ``quota.target`` is set), value (when ``value.enabled`` and the
    history supports a fit; else the step says why), stress (when quotas exist, a comp plan is
    given and ``stress.enabled``), checks (never failing the run), report. The folder appears
    complete or not at all, and replaces only a folder the engine wrote (or, with ``force``,
    one within :func:`territory.io.outputs.check_output_folder`'s limits); that is checked first.

    Raises
    ------
    UnsafeNameError
        ``scenario.name`` is not a safe folder name, or ``out_root/<name>`` leaves ``out_root``.
    ScenarioError, DataValidationError, InfeasibleError, SolveError, SolverUnavailableError
        From the step that failed; nothing is written then.
    OutputFolderError
        ``out_root/<scenario name>`` may not be replaced (checked before any work).
    """
    from territory.io import write_outputs
    from territory.io.outputs import check_output_folder, clean_scratch_leftovers, scratch_prefix

    say = progress or (lambda _message: None)
    spec = scenario.spec
    # The name is user text (a file stem, a grid label): it must name a folder inside out_root.
    target = join_inside(out_root, scenario.name, "scenario name")
    read = scenario_inputs(scenario)
    check_output_folder(target, command="run", inputs=read, force=force)
    clean_scratch_leftovers()
    clock = _Clock()
    say("reading inputs and applying levers")
    prepared, hashes = prepare_inputs(scenario)
    clock.lap("levers")
    with tempfile.TemporaryDirectory(prefix=scratch_prefix()) as scratch:
        # The workspace carries the scenario's name: checks and the report name the run by it.
        work = join_inside(scratch, scenario.name, "scenario name")
        say("evaluating the current alignment" if spec.mode == "evaluate" else "aligning")
        plan, doc = _plan(scenario, prepared, hashes)
        solve_timing = {"seconds": doc.pop("seconds", None), "stages": doc.pop("stages", {})}
        write_plan(work, plan, {"solve.json": doc, LEVERS: prepared.record}, command="run")
        clock.lap("align")
        steps = _finance_and_checks(scenario, work, target, say, clock)
        # The workspace's marker and lock are its own: the final folder gets a marker of its own.
        outputs = sorted(p.name for p in work.iterdir() if p.is_file() and p.name[0] != ".")
        manifest = {
            "scenario": scenario.name,
            "description": scenario.description,
            "mode": spec.mode,
            "scenario_files": [
                {"path": scenario.relative(f), "sha256": file_hash(f)} for f in scenario.files
            ],
            "overrides": dict(scenario.overrides),
            "inputs": {
                key: {"path": scenario.relative(path), "sha256": file_hash(path)}
                for key, path in _input_files(spec)
                if isinstance(path, str | Path)
            },
            "parameters": scenario.resolved(),
            "seed": {"align": spec.align_seed, "stress": spec.stress_seed},
            "steps": steps,
            "versions": package_versions(),
            "outputs": {name: file_hash(work / name) for name in outputs},
            "timings": TIMINGS,
        }
        say("writing")
        clock.lap("manifest")
        timings = {"steps_s": dict(clock.seconds), "solve": solve_timing}
        write_outputs(
            target,
            {},
            {MANIFEST: manifest, TIMINGS: timings},
            "csv",
            files={name: _copier(work / name) for name in outputs},
            command="run",
            inputs=read,
            force=force,
        )
    clock.lap("write")
    return RunResult(
        name=scenario.name,
        folder=target,
        steps=steps,
        kpis=run_kpis(target),
        timings=dict(clock.seconds),
    )


def _finance_and_checks(
    scenario: Scenario, work: Path, target: Path, say: Callable[[str], None], clock: _Clock
) -> dict[str, str]:
    """Quota, stress, checks and report into the workspace; what each step did."""
    from territory.pipeline.commands import report_command
    from territory.pipeline.steps import (
        check_step,
        check_thresholds,
        quota_config,
        quota_step,
        stress_step,
    )

    spec = scenario.spec
    q, s = spec.quota, spec.stress
    steps = {"align": "evaluated current_rep (no solve)" if spec.mode == "evaluate" else "solved"}
    if q.target is None:
        steps["quota"] = "skipped: no quota.target"
    else:
        say("setting quotas")
        config = quota_config(
            target=q.target, method=q.method, history_weight=q.history_weight,
            over_assignment=q.over_assignment, non_quota_revenue=q.non_quota_revenue,
            periods=q.periods, profile=q.season_profile, caps=q.caps, year=q.year,
        )  # fmt: skip
        quota_step(
            work, config, period_sales=spec.inputs.period_sales,
            last_year_target=q.last_year_target, comp=spec.inputs.comp,
        )  # fmt: skip
        steps["quota"] = "run"
    clock.lap("quota")
    say("valuing the plan")
    steps["value"] = _value_step(scenario, work)
    clock.lap("value")
    if q.target is None:
        steps["stress"] = "skipped: no quotas"
    elif spec.inputs.comp is None:
        steps["stress"] = "skipped: no inputs.comp"
    elif not s.enabled:
        steps["stress"] = "skipped: stress.enabled = false"
    else:
        say("stress test")
        stress_step(
            work, spec.inputs.comp, sims=s.sims, seed=spec.stress_seed, forecast=s.forecast,
            lever=s.lever,
        )  # fmt: skip
        steps["stress"] = "run"
    clock.lap("stress")
    say("checks")
    limits = check_thresholds(spec.checks, f"{scenario.path} [checks]")
    files = CheckInputs(*(getattr(spec.inputs, name) for name in CHECK_INPUT_KEYS))
    check_step(work, limits, run_id=scenario.name, inputs=files)
    steps["check"] = "run"
    clock.lap("check")
    say("report")
    # The page names the run folder in its title and hints: the final one, not the workspace.
    report_command(work, shown_as=target)
    steps["report"] = "run"
    clock.lap("report")
    return steps


def _value_step(scenario: Scenario, work: Path) -> str:
    """Value the plan against today's alignment with the model fitted to the history.

    The model is fitted to the input files as they are (last year's revenue under
    ``current_rep`` with today's reps), once per process for the same files and settings, so a
    sweep's scenarios share one model and one ``response.json``. The plan keeps the levers'
    reps; the accounts of removed reps keep their former rep as today's. History that cannot
    support a fit leaves the value files out and the step says why.
    """
    from territory.domain.response import history_digest
    from territory.domain.value import Economics
    from territory.errors import DataValidationError
    from territory.io import runs as run_files
    from territory.pipeline.value_commands import (
        RUN_INPUTS,
        ValueSettings,
        cached_fit,
        value_step,
    )

    spec = scenario.spec
    v = spec.value
    if not v.enabled:
        return "skipped: value.enabled = false"
    history, today, key = _history(scenario)
    try:
        model = cached_fit(history, today, key)
    except DataValidationError as exc:
        reasons = "; ".join(p.message for p in exc.problems)
        return f"skipped: the history cannot support a sales-response fit ({reasons})"
    plan = run_files.load_plan(work)
    # The levers may have changed the inputs the folder holds (removed reps, capacities): the
    # model, fitted on today's history, is still this folder's model (see ``saved_model``).
    folder_inputs = history_digest(plan.accounts, plan.reps)
    if any(key[name] != digest for name, digest in folder_inputs.items()):
        key = {**key, RUN_INPUTS: folder_inputs}
    accounts = plan.accounts
    if "current_rep" in history.columns:
        # Today's rep of every account as it really is (a removed rep's accounts included).
        former = dict(zip(history["account_id"].astype(str), history["current_rep"], strict=True))
        accounts = accounts.assign(current_rep=accounts["account_id"].astype(str).map(former))
    same_reps = _same_reps(plan.reps, today)
    settings = ValueSettings(
        Economics(margin=v.margin, rep_cost=v.rep_cost), time_to_fill=v.time_to_fill,
        sims=v.sims, seed=spec.seed,
    )  # fmt: skip
    value_step(
        work, model, key, accounts, plan.reps, plan.plan[["account_id", "rep_id"]], settings,
        current_reps=None if same_reps else today,
    )  # fmt: skip
    return "run"


def _same_reps(planned: pd.DataFrame, today: pd.DataFrame) -> bool:
    """Tell whether the levers left the team as it is: ids, capacities and seats to fill."""
    from territory.domain.value import new_hire_mask

    a = planned.sort_values("rep_id", kind="stable")
    b = today.sort_values("rep_id", kind="stable")
    if a["rep_id"].astype(str).tolist() != b["rep_id"].astype(str).tolist():
        return False
    before, after = (pd.to_numeric(t["capacity"]).to_numpy(np.float64) for t in (a, b))
    return bool(np.allclose(before, after)) and bool((new_hire_mask(a) == new_hire_mask(b)).all())


# ==========================================================================================
# Headline numbers of a run folder
# ==========================================================================================


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def run_kpis(folder: str | Path) -> dict[str, Any]:
    """Headline numbers of a run folder, as the sweep summary shows them.

    From ``solve.json``: status, largest deviations, travel, moves, gap; from the stress
    test at 100% of plan: median incentive cost, share of reps at quota, cost of sales; from
    the checks: how many FAIL and WARN; from ``value.json``: expected sales (P50, P10, P90),
    uplift over the current alignment (P50, P10, P90) and contribution, with ``value_note``
    saying why any is blank; from ``timings.json``: seconds.
    """
    path = Path(folder)
    solve = _read_json(path / "solve.json") or {}
    metrics = solve.get("metrics", {})
    out: dict[str, Any] = {
        "solve_status": solve.get("status"),
        "n_reps": solve.get("n_reps"),
        "max_potential_deviation": finite_number(solve.get("max_potential_deviation")),
        "max_workload_deviation": finite_number(solve.get("max_workload_deviation")),
        "max_utilization": finite_number(metrics.get("max_utilization")),
        "travel_hour_km": finite_number(metrics.get("travel_hour_km")),
        "mean_distance_km": finite_number(metrics.get("mean_distance_km")),
        "accounts_moved": finite_number(metrics.get("accounts_moved")),
        "revenue_moved": finite_number(metrics.get("revenue_moved")),
        "revenue_moved_share": None,
        "gap": finite_number(solve.get("gap")),
    }
    accounts_file = path / "input_accounts.parquet"
    if accounts_file.exists() and out["revenue_moved"] is not None:
        accounts = pd.read_parquet(accounts_file)
        if "revenue_last_year" in accounts.columns:
            total = float(pd.to_numeric(accounts["revenue_last_year"], errors="coerce").sum())
            if total > 0:
                out["revenue_moved_share"] = out["revenue_moved"] / total
    scenarios_file = path / "stress_scenarios.csv"
    at_plan: dict[str, Any] = {}
    if scenarios_file.exists():
        table = pd.read_csv(scenarios_file)
        rows = table[np.isclose(table["company_attainment_x"].astype(float), 1.0)]
        if len(rows):
            at_plan = {str(k): v for k, v in rows.iloc[0].to_dict().items()}
    share = finite_number(at_plan.get("pct_reps_ge_quota"))
    out["incentive_p50_at_plan"] = finite_number(at_plan.get("incentive_p50"))
    out["share_at_quota_at_plan"] = None if share is None else share / 100.0
    out["ccos_p50_at_plan"] = finite_number(at_plan.get("ccos_p50"))
    checks = _read_json(path / "checks.json") or []
    statuses = [str(c.get("status")) for c in checks if isinstance(c, dict)]
    out["checks_fail"] = statuses.count("FAIL") if statuses else None
    out["checks_warn"] = statuses.count("WARN") if statuses else None
    manifest = _read_json(path / MANIFEST) or {}
    step = (manifest.get("steps") or {}).get("value")
    missing = f"value step {step}" if isinstance(step, str) else "the plan was not valued"
    valued = value_kpis(_read_json(path / VALUE_FILE), missing)
    out.update({key: number for key, (number, _why) in valued.items()})
    reasons = dict.fromkeys(why for _number, why in valued.values() if why)
    out["value_note"] = "; ".join(reasons) or None
    timings = _read_json(path / TIMINGS) or {}
    out["solve_seconds"] = finite_number((timings.get("solve") or {}).get("seconds"))
    return out
