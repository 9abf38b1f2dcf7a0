"""``territory value``: what a plan is worth, added to its run folder.

The sales-response model (:mod:`territory.domain.response`) is fitted to the history the run
folder holds (last year's revenue under ``current_rep``), saved as ``response.json`` and reused
by the next call while the history and the fit's settings are the same (the document records
:func:`~territory.domain.response.history_digest` of the columns the fit read, so a scenario
run that fitted on the CSV files and a later command reading the folder's Parquet copies agree,
and the settings it was fitted with); anything else refits. The plan is then valued
(:func:`territory.domain.value.value_plan`): ``value.csv`` per rep and ``value.json`` for the
plan, its uplift over the current alignment and the fit's quality.

History that cannot identify the curve (no revenue, too few reps, every rep loaded alike) is
refused with :class:`~territory.errors.DataValidationError` (exit 2: the data are the problem,
and the message says what is missing); ``literature_defaults`` values the plan with the
literature model instead, and every output then carries the model's warning.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from territory.domain.response import (
    LITERATURE_RAMP,
    fit_response,
    from_json,
    history_digest,
    to_json,
)
from territory.domain.sizing import DEFAULT_TIME_TO_FILL
from territory.domain.value import DEFAULT_MARGIN, DEFAULT_REP_COST, Economics, value_plan
from territory.errors import DataValidationError, InputProblem
from territory.io import runs, write_outputs
from territory.io.outputs import read_marker, run_folder

if TYPE_CHECKING:
    from territory.domain.response import ResponseModel
    from territory.domain.value import PlanValue
    from territory.workflow.result import AlignmentResult

__all__ = [
    "DEFAULT_BOOTSTRAP",
    "RESPONSE_FILE",
    "SIZING_FILE",
    "VALUE_FILE",
    "SavedModel",
    "ValueRun",
    "ValueSettings",
    "cached_fit",
    "fit_key",
    "fit_model",
    "model_summary",
    "saved_model",
    "sizing_files",
    "sizing_report",
    "value_command",
    "value_objective_step",
    "value_step",
]

RESPONSE_FILE = "response.json"
SIZING_FILE = "sizing.json"
RUN_INPUTS = "run_inputs"
"""Key of ``fitted_on``: the digest of a scenario folder's inputs when its levers changed them."""
VALUE_FILE = "value.json"
DEFAULT_BOOTSTRAP = 200
"""Bootstrap refits behind the intervals: enough for stable P10/P90 in a few seconds."""


@dataclass(frozen=True, eq=False)
class ValueRun:
    """What ``territory value`` wrote, and whether the saved model was reused.

    Attributes
    ----------
    value : PlanValue
        Per-rep rows (``value.csv``), totals and uplift.
    model : ResponseModel
        The model the plan was valued with.
    reused : bool
        True when ``response.json`` was read back instead of fitting again.
    summary : dict
        The content of ``value.json``.
    """

    value: PlanValue
    model: ResponseModel
    reused: bool
    summary: dict[str, Any]


def fit_model(
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    *,
    literature_defaults: bool = False,
    n_boot: int = DEFAULT_BOOTSTRAP,
    seed: int = 7,
) -> ResponseModel:
    """Fit the response model to the accounts' history, or refuse (literature defaults on request).

    Raises
    ------
    DataValidationError
        The history cannot identify the curve and ``literature_defaults`` is False; the
        problems say why and name ``--literature-defaults`` as the way out.
    """
    try:
        return fit_response(
            accounts,
            reps,
            defaults="literature" if literature_defaults else None,
            n_boot=n_boot,
            seed=seed,
        )
    except DataValidationError as exc:
        if literature_defaults:
            raise
        raise DataValidationError(
            [
                replace(p, fix=f"{p.fix} (--literature-defaults)")
                if "literature defaults" in p.fix
                else p
                for p in exc.problems
            ]
        ) from None


def model_summary(model: ResponseModel) -> dict[str, Any]:
    """Return the fit's quality and curve for ``value.json`` and ``sizing.json``."""
    q = model.quality
    curve = model.curve
    return {
        "source": model.source,
        "r2": _finite(q.r2),
        "mape": _finite(q.mape),
        "cv_r2": _finite(q.cv_r2),
        "cv_mape": _finite(q.cv_mape),
        "folds": q.folds,
        "n_reps": q.n_reps,
        "n_accounts": q.n_accounts,
        "n_boot": q.n_boot,
        "curve": {
            "saturation": curve.saturation,
            "base": curve.base,
            "shape": curve.shape,
            "half": curve.half,
        },
        "coverage_observed": [_finite(c) for c in model.coverage_observed],
        "coverage_central": [_finite(c) for c in model.coverage_central],
        "model_file": RESPONSE_FILE,
    }


def value_command(
    plan: Path,
    *,
    literature_defaults: bool = False,
    margin: float = DEFAULT_MARGIN,
    rep_cost: float = DEFAULT_REP_COST,
    time_to_fill: float = DEFAULT_TIME_TO_FILL,
    n_boot: int = DEFAULT_BOOTSTRAP,
    sims: int = 2000,
    seed: int = 7,
) -> ValueRun:
    """``territory value``: value the plan in ``plan`` and add the value files to it.

    New-hire seats (``TBH`` ids, ``vacant`` / ``new_hire`` flags) ramp by the literature ramp
    (:data:`~territory.domain.response.LITERATURE_RAMP`) after ``time_to_fill`` months.

    Raises
    ------
    OutputFolderError
        ``plan`` is not a run folder the engine wrote.
    DataValidationError
        The run is incomplete, or its history cannot support a fit (see the module docstring).
    """
    economics = Economics(margin=margin, rep_cost=rep_cost)
    with run_folder(plan, command="value"):
        run = runs.load_plan(plan)
        key = fit_key(
            run.accounts, run.reps, literature_defaults=literature_defaults, n_boot=n_boot,
            seed=seed,
        )  # fmt: skip
        model = _saved_model(plan, key)
        reused = model is not None
        if model is None:
            model = fit_model(
                run.accounts, run.reps, literature_defaults=literature_defaults,
                n_boot=n_boot, seed=seed,
            )  # fmt: skip
        settings = ValueSettings(economics, time_to_fill=time_to_fill, sims=sims, seed=seed)
        value, summary = value_step(
            plan, model, key, run.accounts, run.reps, run.plan[["account_id", "rep_id"]],
            settings, write_model=not reused,
        )  # fmt: skip
    return ValueRun(value=value, model=model, reused=reused, summary=summary)


@dataclass(frozen=True)
class ValueSettings:
    """How a plan is valued: economics, the new hires' wait, and the simulation's size and seed."""

    economics: Economics
    time_to_fill: float = DEFAULT_TIME_TO_FILL
    sims: int = 2000
    seed: int = 7


def fit_key(
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    *,
    literature_defaults: bool,
    n_boot: int,
    seed: int,
) -> dict[str, Any]:
    """Say what a fit depends on: the history it reads and the fit's settings.

    The history is fingerprinted by value (:func:`~territory.domain.response.history_digest`),
    not by file bytes. Recorded as ``fitted_on`` in ``response.json``; equal keys give the
    same model.
    """
    return {
        **history_digest(accounts, reps),
        "defaults": "literature" if literature_defaults else None,
        "n_boot": n_boot,
        "seed": seed,
    }


_FITTED: dict[str, ResponseModel] = {}
"""Models fitted in this process by :func:`cached_fit`, by their :func:`fit_key`."""


def cached_fit(accounts: pd.DataFrame, reps: pd.DataFrame, key: dict[str, Any]) -> ResponseModel:
    """Fit once per process for one history and settings: a sweep's scenarios share the model.

    The fit is deterministic (seeded), so reusing it changes no number, only the time taken.

    Raises
    ------
    DataValidationError
        The history cannot support a fit (see :func:`fit_model`).
    """
    text = json.dumps(key, sort_keys=True)
    if text not in _FITTED:
        _FITTED[text] = fit_model(
            accounts, reps, literature_defaults=key["defaults"] == "literature",
            n_boot=int(key["n_boot"]), seed=int(key["seed"]),
        )  # fmt: skip
    return _FITTED[text]


def value_step(
    folder: Path,
    model: ResponseModel,
    key: dict[str, Any],
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    plan: pd.DataFrame,
    settings: ValueSettings,
    *,
    current_reps: pd.DataFrame | None = None,
    write_model: bool = True,
) -> tuple[PlanValue, dict[str, Any]]:
    """Value ``plan`` and add ``value.csv``, ``value.json`` (and ``response.json``) to ``folder``.

    New-hire seats (``TBH`` ids, ``vacant`` / ``new_hire`` flags) ramp by the literature ramp
    (:data:`~territory.domain.response.LITERATURE_RAMP`) after ``settings.time_to_fill``
    months. ``current_reps`` are today's reps when the plan's differ (a scenario's levers).

    Returns
    -------
    tuple
        The plan's value and the content of ``value.json``.
    """
    economics = settings.economics
    value = value_plan(
        model, accounts, reps, plan, current_reps=current_reps, ramp=LITERATURE_RAMP,
        time_to_fill=settings.time_to_fill, economics=economics, n_sims=settings.sims,
        seed=settings.seed,
    )  # fmt: skip
    summary = {
        **value.to_dict(),
        "fit": model_summary(model),
        "settings": {
            "margin": economics.margin,
            "rep_cost": economics.rep_cost,
            "time_to_fill": settings.time_to_fill,
            "ramp": list(LITERATURE_RAMP.monthly),
            "n_sims": settings.sims,
            "seed": settings.seed,
        },
    }
    documents: dict[str, object] = {VALUE_FILE: summary}
    if write_model:
        documents[RESPONSE_FILE] = {**to_json(model), "fitted_on": key}
    write_outputs(
        folder, {"value": value.reps}, documents, "csv", keep_existing=True, command="value"
    )
    return value, summary


@dataclass(frozen=True, eq=False)
class SavedModel:
    """The response model saved in a run folder, if later steps may use it, and why (not).

    Attributes
    ----------
    model : ResponseModel or None
        The model, when ``response.json`` was written by ``territory value`` on the run's
        current inputs (whatever the fit's settings).
    reason : str
        Why it is or is not usable, in words for the user.
    present : bool
        True when the folder holds a ``response.json`` at all.
    """

    model: ResponseModel | None
    reason: str
    present: bool


def saved_model(folder: Path) -> SavedModel:
    """Read the model ``territory value`` saved in ``folder`` if it was fitted on this history.

    The history the fit read is compared by value (:func:`fit_key`), not the settings:
    bootstrap size and seed change the intervals, not the point estimate a later step uses. A
    scenario run fits on today's history and records the digest of the inputs its levers made
    (``run_inputs``): its model is this folder's model although the inputs differ from today's.
    """
    present = (folder / RESPONSE_FILE).exists()
    document = _model_document(folder)
    if document is None:
        reason = (
            f"{RESPONSE_FILE} was not written by territory value or cannot be read"
            if present
            else "no response model in the run folder (`territory value --plan` on it fits one)"
        )
        return SavedModel(None, reason, present)
    fitted_on = document.get("fitted_on")
    fitted_on = fitted_on if isinstance(fitted_on, dict) else {}
    digest = history_digest(
        pd.read_parquet(folder / runs.INPUT_ACCOUNTS), pd.read_parquet(folder / runs.INPUT_REPS)
    )
    changed = [n for n, h in digest.items() if fitted_on.get(n) != h]
    if not changed:
        reason = f"{RESPONSE_FILE} was fitted by territory value on these inputs"
    elif fitted_on.get(RUN_INPUTS) == digest:
        reason = (
            f"{RESPONSE_FILE} was fitted on today's history by the scenario run whose levers "
            "made these inputs"
        )
    else:
        return SavedModel(
            None,
            f"{RESPONSE_FILE} was fitted on other inputs (the {' and '.join(changed)} history "
            "changed since); run `territory value --plan` on this folder again",
            present,
        )
    model = _parsed(document, folder)
    if model is None:
        return SavedModel(None, f"{RESPONSE_FILE} is damaged or of an older format", present)
    return SavedModel(model, reason, True)


def _model_document(folder: Path) -> dict[str, Any] | None:
    """Read ``response.json`` when the engine wrote it and it parses (else None)."""
    marker = read_marker(folder)
    path = folder / RESPONSE_FILE
    if marker is None or RESPONSE_FILE not in marker["files"] or not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _parsed(document: dict[str, Any], folder: Path) -> ResponseModel | None:
    try:
        return from_json(document, source=str(folder / RESPONSE_FILE))
    except DataValidationError:
        return None  # an older or damaged document: fit again and replace it


def _saved_model(folder: Path, key: dict[str, Any]) -> ResponseModel | None:
    """Read ``response.json`` back when the engine wrote it for these inputs and settings."""
    document = _model_document(folder)
    if document is None or document.get("fitted_on") != key:
        return None
    return _parsed(document, folder)


def _finite(value: float) -> float | None:
    v = float(value)
    return v if math.isfinite(v) else None


def sizing_report(folder: Path, shown_as: Path | None = None) -> dict[str, bytes]:
    """Draw the sizing curve and the page of a ``territory size`` folder from its files.

    Returns ``{"sizing.png": ..., "report.html": ...}``; ``territory size`` writes both and
    ``territory report --plan DIR`` renders the page again. ``shown_as`` names the folder on
    the page when ``folder`` is a workspace.

    Raises
    ------
    DataValidationError
        ``sizing.csv`` or ``sizing.json`` is missing or does not parse.
    """
    files = {name: folder / name for name in ("sizing.csv", SIZING_FILE)}
    missing = [name for name, path in files.items() if not path.is_file()]
    try:
        summary = json.loads(files[SIZING_FILE].read_text(encoding="utf-8"))
        sizing = pd.read_csv(files["sizing.csv"])
    except (OSError, ValueError) as exc:
        raise DataValidationError(
            [
                InputProblem(
                    str(folder), None, None,
                    f"{', '.join(missing) or 'the sizing files'} cannot be read ({exc})",
                    "run `territory size` again to write the sizing folder",
                )
            ]
        ) from None  # fmt: skip
    hiring_file = folder / "hiring_plan.csv"
    hiring = pd.read_csv(hiring_file) if hiring_file.is_file() else None
    return sizing_files((shown_as or folder).as_posix(), sizing, summary, hiring)


def sizing_files(
    name: str, sizing: pd.DataFrame, summary: dict[str, Any], hiring: pd.DataFrame | None
) -> dict[str, bytes]:
    """Draw ``sizing.png`` and render ``report.html`` of a sizing folder named ``name``."""
    from territory.rendering.report import REPORT_FILE
    from territory.rendering.sizing import SIZING_CHART, sizing_chart, sizing_page

    chart = sizing_chart(sizing, summary)
    html = sizing_page(name, sizing, summary, hiring, chart)
    return {SIZING_CHART: chart, REPORT_FILE: html.encode("utf-8")}


def value_objective_step(
    result: AlignmentResult, accounts: pd.DataFrame, reps: pd.DataFrame, *, seed: int = 7
) -> tuple[AlignmentResult, dict[str, Any]]:
    """``territory align --objective value``: fit the model and raise the plan's expected sales.

    The point estimate is enough (no bootstrap); the fit is cached like every other
    (:func:`cached_fit`). See :mod:`territory.workflow.value_objective` for the approximation.

    Raises
    ------
    DataValidationError
        The history cannot support a fit (exit 2, before anything is written).
    """
    from territory.workflow.value_objective import raise_value

    key = fit_key(accounts, reps, literature_defaults=False, n_boot=0, seed=seed)
    return raise_value(result, accounts, reps, cached_fit(accounts, reps, key))
