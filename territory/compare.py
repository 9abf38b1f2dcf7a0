"""Side by side: the key figures of several run folders, how their assignments differ, and maps.

``territory compare out/a out/b [out/c ...]`` reads each folder with
:func:`territory.runs.load_plan` and builds a :class:`ComparisonResult`:

* ``kpis`` (``comparison.csv``): one row per key figure, one column per run named after its
  folder. The plan figures come from :data:`territory.metrics.METRICS` with the run's own tier
  factors, so they equal the metrics of each run; then quota spread, stress-test verdicts at
  plan, check statuses and the solve. A figure a folder cannot give (no quotas, no stress test,
  no checks yet, no bound) is blank, and ``note`` says why and which command adds it.
* ``assignment_diff`` (``assignment_diff.csv``): the accounts whose rep is not the same in every
  run, with the rep in each run.

:func:`comparison_html` draws a self-contained page (inline CSS, maps as PNG ``data:`` URIs,
no script, a Content-Security-Policy that forbids any request, every text HTML-escaped, no
clock: the same folders give the same bytes) with the key figures and one map per run drawn on
the same extent with the same colour for a rep id on every map.

Only :func:`load_runs` and :func:`write_comparison` touch files (reading the optional documents
of a run goes through :class:`territory.runs.PlanFolder`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from territory.errors import DataValidationError, InputProblem, ScenarioError
from territory.io import write_outputs
from territory.metrics import METRICS, moved_mask, plan_metrics
from territory.report import (
    _CSS,
    _PAGE,
    MAX_MAP_ACCOUNTS,
    _img,
    _map_panel,
    _MapData,
    _mpl_text,
    _padded_box,
    _rep_labels,
    rep_colours,
    report_writer,
    run_fingerprint,
    territory_shapes,
)
from territory.runs import QUOTAS, PlanFolder, load_plan

__all__ = [
    "COMPARISON_FILE",
    "DIFF_FILE",
    "HTML_FILE",
    "KPIS",
    "ComparisonResult",
    "Kpi",
    "assignment_diff",
    "compare_runs",
    "comparison_html",
    "comparison_maps",
    "format_kpi",
    "kpi_specs",
    "load_runs",
    "plan_array",
    "run_kpis",
    "run_names",
    "shared_rep_colours",
    "write_comparison",
]

COMPARISON_FILE = "comparison.csv"
DIFF_FILE = "assignment_diff.csv"
HTML_FILE = "comparison.html"

MAX_DIFF_ROWS = 500
"""The page lists at most this many differing accounts (the CSV has them all)."""

MAX_LABELLED_REPS = 40
"""Small-multiple maps label home bases up to this many reps."""

MAX_COLOURING_POINTS = 200_000
"""Above this many accounts over all runs, colours are chosen from an even seeded sample."""

ObjectArray = npt.NDArray[np.object_]
FloatArray = npt.NDArray[np.float64]

_FIXED_COLUMNS = frozenset(
    {"kpi", "label", "unit", "note", "account_id", "name", "potential", "current_rep", "changed"}
)


@dataclass(frozen=True)
class Kpi:
    """One row of the comparison: key, label for people, unit, and which way is better.

    ``unit`` is one of ``share`` (a fraction shown as %), ``ratio``, ``hour_km``, ``km``,
    ``count``, ``currency``, ``seconds`` or ``text``; ``better`` is ``"lower"``, ``"higher"``
    or None (no best run is marked).
    """

    key: str
    label: str
    unit: str
    better: str | None = None


_METRIC_KPIS: dict[str, Kpi] = {
    "max_potential_deviation": Kpi(
        "max_potential_deviation", "Largest potential deviation from target", "share", "lower"
    ),
    "max_workload_deviation": Kpi(
        "max_workload_deviation", "Largest workload deviation from target", "share", "lower"
    ),
    "travel_hour_km": Kpi("travel_hour_km", "Travel (hours x km)", "hour_km", "lower"),
    "mean_distance_km": Kpi("mean_distance_km", "Mean distance to rep (km)", "km", "lower"),
    "accounts_moved": Kpi("accounts_moved", "Accounts moved", "count", "lower"),
    "potential_moved": Kpi("potential_moved", "Potential moved", "currency", "lower"),
    "revenue_moved": Kpi("revenue_moved", "Last year's revenue moved", "currency", "lower"),
    "max_utilization": Kpi("max_utilization", "Highest utilisation", "share", "lower"),
}

_OTHER_KPIS: tuple[Kpi, ...] = (
    Kpi("quota_spread", "Quota spread (CV of quota / potential)", "ratio", "lower"),
    Kpi("share_at_quota", "Share of reps at quota when the plan is hit", "share", "higher"),
    Kpi("incentive_to_ti", "P50 incentive / TI budget at plan", "share"),
    Kpi("ccos", "Comp cost of sales (P50) at plan", "share", "lower"),
    Kpi("checks_pass", "Checks PASS", "count", "higher"),
    Kpi("checks_warn", "Checks WARN", "count", "lower"),
    Kpi("checks_fail", "Checks FAIL", "count", "lower"),
    Kpi("checks_not_assessable", "Checks NOT ASSESSABLE", "count"),
    Kpi("solve_gap", "Solve gap", "share", "lower"),
    Kpi("solve_status", "Solve status", "text"),
    Kpi("solve_backend", "Solver", "text"),
    Kpi("solve_seconds", "Solve time (s)", "seconds"),
)


def kpi_specs() -> tuple[Kpi, ...]:
    """The comparison's rows: every metric of :data:`METRICS` in its order, then the others."""
    plan = tuple(
        _METRIC_KPIS.get(name, Kpi(name, name.replace("_", " ").capitalize(), "ratio"))
        for name in METRICS
    )
    return plan + _OTHER_KPIS


KPIS = kpi_specs()
"""The rows of ``comparison.csv`` at import time (see :func:`kpi_specs`)."""


@dataclass(frozen=True)
class ComparisonResult:
    """Key figures side by side and the accounts whose rep differs between runs.

    ``kpis`` holds ``kpi``, ``label``, ``unit``, one column per run (in ``names``) and ``note``;
    a blank cell's reason is in ``reasons`` (``kpi``, ``run``, ``reason``) and, joined, in
    ``note``. ``assignment_diff`` holds ``account_id``, ``name``, ``potential``,
    ``current_rep``, one column per run with the account's rep, and ``changed``.
    """

    names: tuple[str, ...]
    paths: tuple[str, ...]
    kpis: pd.DataFrame
    reasons: pd.DataFrame
    assignment_diff: pd.DataFrame

    def value(self, kpi: str, run: str) -> Any:
        """The value of one key figure for one run (None when blank)."""
        row = self.kpis.loc[self.kpis["kpi"] == kpi]
        if row.empty:
            raise KeyError(f"no key figure {kpi!r}; known: {', '.join(self.kpis['kpi'])}")
        value = row[run].iloc[0]
        return None if _missing(value) else value

    def reason(self, kpi: str, run: str) -> str | None:
        """Why a cell is blank (None when it is not)."""
        hit = self.reasons[(self.reasons["kpi"] == kpi) & (self.reasons["run"] == run)]
        return None if hit.empty else str(hit["reason"].iloc[0])


# ============================================================================================
# I/O
# ============================================================================================


def load_runs(folders: Iterable[str | Path]) -> list[PlanFolder]:
    """Read run folders; the problems of every folder are raised together in one error."""
    runs: list[PlanFolder] = []
    problems: list[InputProblem] = []
    for folder in folders:
        try:
            runs.append(load_plan(folder))
        except DataValidationError as exc:
            problems.extend(exc.problems)
    if problems:
        raise DataValidationError(problems)
    return runs


def write_comparison(
    out_dir: str | Path, result: ComparisonResult, html: str, *, force: bool = False
) -> Path:
    """Write ``comparison.csv``, ``assignment_diff.csv`` and ``comparison.html`` into ``out_dir``.

    The folder is replaced as a whole (:func:`territory.io.write_outputs`), so it may not be
    one of the compared run folders or hold one, and, unless ``force``, only a folder the
    engine wrote is replaced.

    Raises
    ------
    ScenarioError
        ``out_dir`` is, or contains, a compared run folder.
    OutputFolderError
        ``out_dir`` holds files the engine did not write (see
        :func:`territory.outputs.check_output_folder`).
    """
    target = Path(out_dir).resolve()
    clashes = [p for p in result.paths if Path(p).resolve().is_relative_to(target)]
    if clashes:
        raise ScenarioError(
            f"the output folder {out_dir} would replace the run folder(s) "
            f"{', '.join(clashes)}; choose another --out, e.g. out/compare"
        )
    return write_outputs(
        out_dir,
        {
            Path(COMPARISON_FILE).stem: result.kpis,
            Path(DIFF_FILE).stem: result.assignment_diff,
        },
        {},
        "csv",
        files={HTML_FILE: report_writer(html)},
        command="compare",
        inputs=result.paths,
        force=force,
    )


# ============================================================================================
# Comparison
# ============================================================================================


def run_names(runs: Sequence[PlanFolder]) -> tuple[str, ...]:
    """A column name per run: its folder's name, made unique with " (2)", " (3)", ..."""
    names: list[str] = []
    for run in runs:
        base = run.path.name or run.path.as_posix()
        name, k = base, 1
        while name in names or name in _FIXED_COLUMNS:
            k += 1
            name = f"{base} ({k})"
        names.append(name)
    return tuple(names)


def compare_runs(runs: Sequence[PlanFolder]) -> ComparisonResult:
    """Key figures of each run side by side, and the accounts assigned differently.

    Raises
    ------
    ValueError
        No runs were given.
    DataValidationError
        A run's plan does not name a rep for every account of its accounts table.
    """
    if not runs:
        raise ValueError("compare_runs needs at least one run folder")
    names = run_names(runs)
    specs = kpi_specs()
    columns: dict[str, list[Any]] = {
        "kpi": [k.key for k in specs],
        "label": [k.label for k in specs],
        "unit": [k.unit for k in specs],
    }
    reason_rows: list[tuple[str, str, str]] = []
    for name, run in zip(names, runs, strict=True):
        values = run_kpis(run)
        column: list[Any] = []
        for spec in specs:
            value, why = values.get(spec.key, (None, "not measured for this run"))
            column.append(value)
            if value is None:
                reason_rows.append((spec.key, name, why or "not available"))
        columns[name] = column
    notes = []
    for spec in specs:
        said = [f"{run}: {reason}" for key, run, reason in reason_rows if key == spec.key]
        notes.append("; ".join(said) if said else None)
    columns["note"] = notes
    kpis = pd.DataFrame(columns)
    for name in names:
        kpis[name] = kpis[name].astype(object)
    kpis["note"] = kpis["note"].astype(object)
    reasons = pd.DataFrame(reason_rows, columns=["kpi", "run", "reason"], dtype=object)
    return ComparisonResult(
        names=names,
        paths=tuple(run.path.as_posix() for run in runs),
        kpis=kpis,
        reasons=reasons,
        assignment_diff=assignment_diff(runs, names),
    )


def plan_array(run: PlanFolder) -> ObjectArray:
    """The rep of every account of ``run.accounts``, in its row order (joined by account id)."""
    ids = run.accounts["account_id"].astype(str).to_numpy(dtype=object)
    plan_ids = run.plan["account_id"].astype(str).to_numpy(dtype=object)
    reps = run.plan["rep_id"].astype(str).to_numpy(dtype=object)
    if plan_ids.shape == ids.shape and bool((plan_ids == ids).all()):
        return reps
    lookup = dict(zip(plan_ids.tolist(), reps.tolist(), strict=True))
    absent = [i for i in ids.tolist() if i not in lookup]
    if absent:
        raise DataValidationError(
            [
                InputProblem(
                    str(run.path),
                    None,
                    "account_id",
                    f"plan.parquet has no rep for {len(absent)} account(s), e.g. "
                    f"{', '.join(absent[:5])}",
                    f"run `territory align ... --out {run.path}` again",
                )
            ]
        )
    return np.array([lookup[i] for i in ids.tolist()], dtype=object)


def run_kpis(run: PlanFolder) -> dict[str, tuple[Any, str | None]]:
    """``key -> (value, reason)`` for one run; the reason says why a value is None."""
    path = run.path.as_posix()
    parameters = run.solve.get("parameters") or {}
    factors = parameters.get("tier_factors") or None
    out: dict[str, tuple[Any, str | None]] = {
        name: (float(value), None)
        for name, value in plan_metrics(run.accounts, run.reps, plan_array(run), factors).items()
    }
    out["quota_spread"] = _quota_spread(run)
    out.update(_stress_kpis(run))
    out.update(_check_kpis(run))
    solve = run.solve
    gap = _number(solve.get("gap"))
    out["solve_gap"] = (
        (gap, None) if gap is not None else (None, "the solver proved no bound, so no gap")
    )
    for key, field in (("solve_status", "status"), ("solve_backend", "backend")):
        text = solve.get(field)
        out[key] = (str(text), None) if text else (None, f"solve.json in {path} has no {field}")
    seconds = _number(solve.get("seconds"))
    if seconds is None:
        # Scenario runs keep wall-clock times out of solve.json (its bytes must not change).
        timings = run.document("timings.json") or {}
        solve_timing = timings.get("solve")
        if isinstance(solve_timing, dict):
            seconds = _number(solve_timing.get("seconds"))
    out["solve_seconds"] = (
        (seconds, None) if seconds is not None else (None, f"solve.json in {path} has no seconds")
    )
    return out


def _quota_spread(run: PlanFolder) -> tuple[float | None, str | None]:
    """Population coefficient of variation of final annual quota / potential over territories."""
    path = run.path.as_posix()
    if not (run.path / QUOTAS).exists():
        return None, f"no quotas yet: run `territory quota --plan {path} --target ...`"
    table = run.quotas()
    if not {"final_annual_quota", "potential"} <= set(table.columns):
        return None, f"{QUOTAS} in {path} lacks final_annual_quota or potential"
    quota = pd.to_numeric(table["final_annual_quota"], errors="coerce").to_numpy(np.float64)
    potential = pd.to_numeric(table["potential"], errors="coerce").to_numpy(np.float64)
    keep = np.isfinite(quota) & np.isfinite(potential) & (potential > 0)
    if keep.sum() < 2:
        return None, "fewer than two territories with potential above 0"
    ratio = quota[keep] / potential[keep]
    mean = float(ratio.mean())
    if mean <= 0:
        return None, "quotas add up to 0"
    return float(ratio.std() / mean), None


def _stress_kpis(run: PlanFolder) -> dict[str, tuple[Any, str | None]]:
    path = run.path.as_posix()
    stress = run.document("stress.json")
    scenarios = run.table("stress_scenarios.csv")
    missing = f"no stress test yet: run `territory stress --plan {path} --comp ...`"
    if stress is None and scenarios is None:
        return dict.fromkeys(("share_at_quota", "incentive_to_ti", "ccos"), (None, missing))
    verdicts = (stress or {}).get("verdicts") or {}
    plan_x = _number(verdicts.get("plan_attainment"))
    plan_x = 1.0 if plan_x is None else plan_x
    row = _scenario_at(scenarios, plan_x)
    out: dict[str, tuple[Any, str | None]] = {}
    share = _number(verdicts.get("expected_share_at_quota"))
    out["share_at_quota"] = (
        (share, None) if share is not None else (None, f"stress.json in {path} has no verdicts")
    )
    ratio = None if row is None else _number(row.get("incentive_to_ti_budget_p50"))
    out["incentive_to_ti"] = (
        (ratio, None)
        if ratio is not None
        else (None, f"stress_scenarios.csv in {path} has no row at {plan_x:g} x plan")
    )
    ccos = None if row is None else _number(row.get("ccos_p50"))
    if ccos is None:
        by_level = verdicts.get("ccos_p50") or {}
        if isinstance(by_level, Mapping):
            for level, value in by_level.items():
                level_x = _number(level)
                if level_x is not None and abs(level_x - plan_x) < 1e-9:
                    ccos = _number(value)
    out["ccos"] = (
        (ccos, None) if ccos is not None else (None, f"no CCOS at {plan_x:g} x plan in {path}")
    )
    return out


def _scenario_at(scenarios: pd.DataFrame | None, plan_x: float) -> Mapping[str, Any] | None:
    if scenarios is None or "company_attainment_x" not in scenarios.columns:
        return None
    x = pd.to_numeric(scenarios["company_attainment_x"], errors="coerce").to_numpy(np.float64)
    hit = np.flatnonzero(np.isfinite(x) & (np.abs(x - plan_x) < 1e-9))
    if hit.size == 0:
        return None
    return {str(k): v for k, v in scenarios.iloc[int(hit[0])].items()}


_CHECK_KPIS = (
    ("checks_pass", "PASS"),
    ("checks_warn", "WARN"),
    ("checks_fail", "FAIL"),
    ("checks_not_assessable", "NOT_ASSESSABLE"),
)


def _check_kpis(run: PlanFolder) -> dict[str, tuple[Any, str | None]]:
    path = run.path.as_posix()
    table = run.table("checks.csv")
    statuses: list[str] | None = None
    if table is not None and "status" in table.columns:
        statuses = table["status"].astype(str).str.strip().str.upper().tolist()
    else:
        doc = run.document("checks.json")
        items = None if doc is None else doc.get("items", doc.get("checks"))
        if isinstance(items, list):
            statuses = [str(c.get("status", "")).strip().upper() for c in items]
    if statuses is None:
        why = f"no checks yet: run `territory check --plan {path}`"
        return {key: (None, why) for key, _ in _CHECK_KPIS}
    return {key: (float(statuses.count(status)), None) for key, status in _CHECK_KPIS}


def assignment_diff(
    runs: Sequence[PlanFolder],
    names: Sequence[str] | None = None,
    *,
    only_changed: bool = True,
) -> pd.DataFrame:
    """The rep of each account in each run, for the accounts whose rep is not the same in all.

    ``changed`` is True when the reps differ, or when the account is missing from some runs
    (its cell is blank there). Rows follow the first run's accounts, then accounts only later
    runs hold. ``name``, ``potential`` and ``current_rep`` come from the first run holding the
    account. ``only_changed=False`` lists every account.
    """
    labels = list(names) if names is not None else list(run_names(runs))
    index = pd.Index([], dtype=object)
    frames: list[pd.DataFrame] = []
    for run in runs:
        accounts = run.accounts
        ids = accounts["account_id"].astype(str).to_numpy(dtype=object)
        frame = pd.DataFrame(
            {
                "rep": plan_array(run),
                "name": _text_column(accounts, "name"),
                "potential": pd.to_numeric(accounts["potential"], errors="coerce").to_numpy(
                    np.float64
                ),
                "current_rep": _text_column(accounts, "current_rep"),
            },
            index=pd.Index(ids, dtype=object),
        )
        frames.append(frame)
        new = frame.index[~frame.index.isin(index)]
        index = index.append(pd.Index(new, dtype=object))
    aligned = [frame.reindex(index) for frame in frames]
    reps = np.column_stack(
        [np.asarray(f["rep"].to_numpy(dtype=object), dtype=object) for f in aligned]
    ) if aligned else np.empty((0, 0), dtype=object)  # fmt: skip
    present = np.vectorize(lambda v: not _missing(v), otypes=[bool])(reps)
    keys = np.where(present, reps, "").astype(str)
    changed = (keys != keys[:, :1]).any(axis=1) if keys.size else np.zeros(len(index), bool)

    def first(column: str) -> pd.Series:
        out = aligned[0][column].astype(object)
        for frame in aligned[1:]:
            out = out.where(out.notna(), frame[column].astype(object))
        return out

    table = pd.DataFrame({"account_id": index.to_numpy(dtype=object)})
    table["name"] = first("name").to_numpy(dtype=object)
    table["potential"] = pd.to_numeric(first("potential")).to_numpy(np.float64)
    table["current_rep"] = first("current_rep").to_numpy(dtype=object)
    for k, label in enumerate(labels):
        table[label] = pd.Series(
            [r if ok else None for r, ok in zip(reps[:, k], present[:, k], strict=True)],
            dtype=object,
        )
    table["changed"] = changed
    for column in ("name", "current_rep"):
        table[column] = [None if _missing(v) else str(v) for v in table[column].tolist()]
        table[column] = table[column].astype(object)
    if only_changed:
        table = table.loc[changed].reset_index(drop=True)
    return table


def _text_column(frame: pd.DataFrame, column: str) -> ObjectArray:
    if column not in frame.columns:
        return np.full(len(frame), None, dtype=object)
    return np.array(
        [None if _missing(v) or str(v).strip() == "" else str(v) for v in frame[column].tolist()],
        dtype=object,
    )


def _missing(value: object) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(float(value))
    return False


def _number(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def format_kpi(value: object, unit: str) -> str:
    """A key figure as plain text: shares in %, money and hour-km with separators; "–" if blank."""
    if _missing(value):
        return "\u2013"
    if unit == "text" or isinstance(value, str):
        return str(value)
    number = _number(value)
    if number is None:
        return str(value)
    if unit == "share":
        return f"{100.0 * number:,.2f}%"
    if unit == "ratio":
        return f"{number:,.3f}"
    if unit == "km":
        return f"{number:,.1f}"
    if unit == "seconds":
        return f"{number:,.2f}"
    return f"{number:,.0f}"


# ============================================================================================
# Page
# ============================================================================================


@dataclass(frozen=True)
class _RunPoints:
    """One run's accounts in map terms: where they are, whose they are, whether they move."""

    lat: FloatArray
    lon: FloatArray
    rep_index: npt.NDArray[np.int64]
    known: npt.NDArray[np.bool_]
    moved: npt.NDArray[np.bool_]
    home_lat: FloatArray
    home_lon: FloatArray


def _union_reps(runs: Sequence[PlanFolder]) -> dict[str, int]:
    """Position of every rep id of any run, in order of first appearance."""
    union: dict[str, int] = {}
    for run in runs:
        for rep in run.reps["rep_id"].astype(str).tolist():
            union.setdefault(rep, len(union))
    return union


def _points(run: PlanFolder, union: Mapping[str, int]) -> _RunPoints:
    lat = pd.to_numeric(run.accounts["lat"], errors="coerce").to_numpy(np.float64)
    lon = pd.to_numeric(run.accounts["lon"], errors="coerce").to_numpy(np.float64)
    plan = plan_array(run)
    rep_index = np.array([union.get(r, -1) for r in plan.tolist()], dtype=np.int64)
    return _RunPoints(
        lat=lat,
        lon=lon,
        rep_index=rep_index,
        known=(rep_index >= 0) & np.isfinite(lat) & np.isfinite(lon),
        moved=moved_mask(run.accounts, plan),
        home_lat=pd.to_numeric(run.reps["lat"], errors="coerce").to_numpy(np.float64),
        home_lon=pd.to_numeric(run.reps["lon"], errors="coerce").to_numpy(np.float64),
    )


def _frame(points: Sequence[_RunPoints]) -> tuple[FloatArray, FloatArray, float, float]:
    """All plotted longitudes and latitudes, their mean latitude and its cosine."""
    lat = np.concatenate([p.lat[p.known] for p in points] + [p.home_lat for p in points])
    lon = np.concatenate([p.lon[p.known] for p in points] + [p.home_lon for p in points])
    finite = np.isfinite(lat) & np.isfinite(lon)
    mean_lat = float(lat[finite].mean()) if finite.any() else 0.0
    return lon, lat, mean_lat, max(math.cos(math.radians(mean_lat)), 0.05)


def shared_rep_colours(runs: Sequence[PlanFolder]) -> dict[str, str]:
    """One map colour per rep id over all runs (:func:`territory.report.rep_colours`).

    Colours are chosen once from the accounts of every run together, so a rep id has the same
    colour on every map and territories that touch in any run get different colours. Above
    :data:`MAX_COLOURING_POINTS` accounts an even seeded sample decides.
    """
    union = _union_reps(runs)
    points = [_points(run, union) for run in runs]
    _, _, _, cos_lat = _frame(points)
    return _colours(points, union, cos_lat)


def _colours(
    points: Sequence[_RunPoints], union: Mapping[str, int], cos_lat: float
) -> dict[str, str]:
    x = np.concatenate([p.lon[p.known] for p in points]) * cos_lat
    y = np.concatenate([p.lat[p.known] for p in points])
    index = np.concatenate([p.rep_index[p.known] for p in points])
    if x.size > MAX_COLOURING_POINTS:
        pick = np.sort(
            np.random.default_rng(0).choice(x.size, size=MAX_COLOURING_POINTS, replace=False)
        )
        x, y, index = x[pick], y[pick], index[pick]
    colours = rep_colours(x, y, index, len(union))
    return dict(zip(union, colours, strict=True))


def comparison_maps(runs: Sequence[PlanFolder], names: Sequence[str] | None = None) -> list[bytes]:
    """One PNG map per run on the same extent, each rep id in the same colour on every map.

    Colours come from :func:`shared_rep_colours`. Accounts that move from their current rep
    have a black ring; stars are home bases, labelled up to :data:`MAX_LABELLED_REPS` reps.
    Above :data:`MAX_MAP_ACCOUNTS` accounts a run's map draws an even seeded sample. A run
    with a ``territories.geojson`` (``align --units``) also shows its territory polygons.
    """
    labels = list(names) if names is not None else list(run_names(runs))
    union = _union_reps(runs)
    points = [_points(run, union) for run in runs]
    all_lon, all_lat, mean_lat, cos_lat = _frame(points)
    by_rep = _colours(points, union, cos_lat)
    palette = np.array([by_rep[r] for r in union], dtype=object)
    box = _padded_box(all_lon, all_lat, cos_lat)
    pngs = []
    for label, run, p in zip(labels, runs, points, strict=True):
        shown = np.flatnonzero(p.known)
        if shown.size > MAX_MAP_ACCOUNTS:
            rng = np.random.default_rng(0)
            shown = np.sort(rng.choice(shown, size=MAX_MAP_ACCOUNTS, replace=False))
        rep_ids = run.reps["rep_id"].astype(str).tolist()
        data = _MapData(
            lon=p.lon[shown],
            lat=p.lat[shown],
            colour=palette[p.rep_index[shown]],
            moved=p.moved[shown],
            home_lon=p.home_lon,
            home_lat=p.home_lat,
            home_colour=[by_rep[r] for r in rep_ids],
            home_ok=np.isfinite(p.home_lat) & np.isfinite(p.home_lon),
            labels=_rep_labels(run.reps),
            cos_lat=cos_lat,
            mean_lat=mean_lat,
            n_accounts=int(p.known.sum()),
            n_moved=int(p.moved[p.known].sum()),
            n_reps=len(rep_ids),
            territories=territory_shapes(run.path, by_rep),
        )
        sample = (
            f"; an even sample of {shown.size:,} of {data.n_accounts:,} accounts"
            if shown.size < data.n_accounts
            else ""
        )
        pngs.append(
            _map_panel(
                data,
                box,
                f"{_mpl_text(label, 40)}: {data.n_reps:,} reps, "
                f"{data.n_moved:,} of {data.n_accounts:,} accounts moved",
                "Same extent and the same colour for a rep on every map" + sample,
                labelled=data.n_reps <= MAX_LABELLED_REPS,
                frames=[],
            )
        )
    return pngs


_EXTRA_CSS = """
.multiples { display: grid; grid-template-columns: repeat(auto-fit, minmax(380px, 1fr));
  gap: 12px; }
.multiples figure { margin: 0; }
table.compare td.best { font-weight: 700; color: #1B7F3B; }
table.compare td.blank { color: var(--muted); }
table.compare sup { color: #B23C00; }
ol.reasons { color: var(--muted); font-size: 13px; max-width: 1000px; }
"""


def comparison_html(
    result: ComparisonResult,
    runs: Sequence[PlanFolder],
    *,
    maps: Sequence[bytes] | None = None,
) -> str:
    """The comparison page: runs, key figures side by side, maps, assignment differences.

    ``maps`` (PNG bytes, one per run) defaults to :func:`comparison_maps`. Same arguments,
    same text.
    """
    if len(runs) != len(result.names):
        raise ValueError(f"the result compares {len(result.names)} runs but {len(runs)} were given")
    pngs = list(maps) if maps is not None else comparison_maps(runs, result.names)
    title = "Scenario comparison: " + " \u00b7 ".join(result.names)
    body = [
        _header(result, runs, title),
        '<nav><a href="#kpis">Key figures</a><a href="#maps">Maps</a>'
        '<a href="#diff">Assignment differences</a></nav>',
        "<main>",
        _kpi_section(result),
        _maps_section(result, pngs),
        _diff_section(result),
        "</main>",
        "<footer>Made by territory-engine from the run folders listed above. Maps are embedded "
        "images and the page loads nothing from the network.</footer>",
    ]
    return _PAGE.format(title=escape(title), css=_CSS + _EXTRA_CSS, body="\n".join(body))


def _header(result: ComparisonResult, runs: Sequence[PlanFolder], title: str) -> str:
    rows = []
    for name, path, run in zip(result.names, result.paths, runs, strict=True):
        params = run.solve.get("parameters") or {}
        rows.append(
            "<tr>"
            f"<td><b>{escape(name)}</b></td>"
            f"<td><code>{escape(path)}</code></td>"
            f'<td class="mono">{escape(run_fingerprint(run.solve))}</td>'
            f'<td class="num">{len(run.accounts):,}</td>'
            f'<td class="num">{len(run.reps):,}</td>'
            f"<td>{escape(_params_text(params))}</td>"
            "</tr>"
        )
    return (
        '<header id="top">'
        f"<h1>{escape(title)}</h1>"
        '<p class="sub">Key figures of each run side by side, the territory maps on one scale '
        "and the accounts each run assigns differently. The page has no timestamp: the same "
        "run folders always give the same page.</p>"
        '<div class="scroll"><table id="runs"><thead><tr><th>Run</th><th>Folder</th>'
        '<th>Fingerprint</th><th class="num">Accounts</th><th class="num">Reps</th>'
        f"<th>Parameters</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        "</header>"
    )


def _params_text(params: Mapping[str, Any]) -> str:
    keys = ("balance_potential", "balance_workload", "disruption_weight", "solver", "seed")
    return ", ".join(f"{k}={params[k]}" for k in keys if k in params)


def _best(values: list[float | None], better: str | None) -> set[int]:
    numbers = [(i, v) for i, v in enumerate(values) if v is not None]
    if better is None or len(numbers) < 2:
        return set()
    pick = min if better == "lower" else max
    target = pick(v for _, v in numbers)
    if all(math.isclose(v, target, rel_tol=1e-12, abs_tol=1e-12) for _, v in numbers):
        return set()
    return {i for i, v in numbers if math.isclose(v, target, rel_tol=1e-12, abs_tol=1e-12)}


def _kpi_section(result: ComparisonResult) -> str:
    specs = {k.key: k for k in kpi_specs()}
    head = "".join(f'<th class="num">{escape(n)}</th>' for n in result.names)
    notes: list[str] = []
    rows = []
    for _, record in result.kpis.iterrows():
        key = str(record["kpi"])
        spec = specs.get(key, Kpi(key, str(record["label"]), str(record["unit"])))
        values = [record[n] for n in result.names]
        numeric = [None if spec.unit == "text" or _missing(v) else _number(v) for v in values]
        best = _best(numeric, spec.better)
        cells = []
        for i, (name, value) in enumerate(zip(result.names, values, strict=True)):
            if _missing(value):
                reason = result.reason(key, name) or "not available"
                note = f"{name}: {reason}"
                if note not in notes:
                    notes.append(note)
                cells.append(
                    f'<td class="num blank" title="{escape(reason)}">\u2013'
                    f"<sup>{notes.index(note) + 1}</sup></td>"
                )
            else:
                klass = "num best" if i in best else "num"
                cells.append(f'<td class="{klass}">{escape(format_kpi(value, spec.unit))}</td>')
        rows.append(
            f'<tr data-kpi="{escape(key)}"><th>{escape(spec.label)}</th>{"".join(cells)}</tr>'
        )
    reasons = (
        '<ol class="reasons">' + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ol>"
        if notes
        else ""
    )
    return (
        '<section id="kpis"><h2>Key figures</h2>'
        '<p class="lead">Deviations are the largest relative distance of a rep from target; '
        "moves count accounts whose rep changes from the current one. The best value of a row "
        "is bold green where lower or higher is clearly better. A dash is a figure the run "
        "folder cannot give yet; the numbered note says why.</p>"
        '<div class="scroll"><table class="compare" id="kpi-table"><thead><tr><th>Key figure'
        f"</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        f"{reasons}</section>"
    )


def _maps_section(result: ComparisonResult, pngs: Sequence[bytes]) -> str:
    figures = []
    for name, png in zip(result.names, pngs, strict=True):
        figures.append(
            _img(
                png,
                f"Map of run {name}",
                escape(f"{name}: accounts in the colour of their rep; black rings move."),
            )
        )
    return (
        '<section id="maps"><h2>Territory maps</h2>'
        '<p class="lead">One map per run, on the same extent, with the same colour for a rep on '
        "every map. Stars mark home bases; an account with a black ring changes from its "
        "current rep.</p>"
        f'<div class="multiples">{"".join(figures)}</div></section>'
    )


def _diff_section(result: ComparisonResult) -> str:
    diff = result.assignment_diff
    names = result.names
    parts = ['<section id="diff"><h2>Assignment differences</h2>']
    parts.append(
        f'<p class="lead"><b>{len(diff):,}</b> account(s) are not assigned to the same rep in '
        f"every run; {escape(DIFF_FILE)} lists them all.</p>"
    )
    if len(names) > 1:
        head = "".join(f'<th class="num">{escape(n)}</th>' for n in names)
        rows = []
        for a in names:
            cells = []
            for b in names:
                if a == b:
                    cells.append('<td class="num">\u2013</td>')
                    continue
                ra = diff[a].to_numpy(dtype=object)
                rb = diff[b].to_numpy(dtype=object)
                both = np.array(
                    [not _missing(x) and not _missing(y) for x, y in zip(ra, rb, strict=True)],
                    dtype=bool,
                )
                count = int((both & (ra.astype(str) != rb.astype(str))).sum())
                cells.append(f'<td class="num">{count:,}</td>')
            rows.append(f"<tr><th>{escape(a)}</th>{''.join(cells)}</tr>")
        parts.append(
            "<h3>Accounts with a different rep, run against run</h3>"
            f'<div class="scroll"><table id="diff-matrix"><thead><tr><th></th>{head}</tr>'
            f"</thead><tbody>{''.join(rows)}</tbody></table></div>"
        )
    if len(diff):
        shown = diff.head(MAX_DIFF_ROWS)
        head = "".join(f"<th>{escape(c)}</th>" for c in ("Account", "Name", "Current rep", *names))
        rows = []
        for _, record in shown.iterrows():
            cells = [
                _cell(record["account_id"]),
                _cell(record["name"]),
                _cell(record["current_rep"]),
                *(_cell(record[n]) for n in names),
            ]
            rows.append(f"<tr>{''.join(cells)}</tr>")
        more = (
            f" (the first {MAX_DIFF_ROWS:,} of {len(diff):,})" if len(diff) > MAX_DIFF_ROWS else ""
        )
        parts.append(
            f"<details><summary>Accounts assigned differently{escape(more)}</summary>"
            f'<div class="scroll"><table id="diff-table"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div></details>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def _cell(value: object) -> str:
    text = "\u2013" if _missing(value) else escape(str(value))
    return f"<td>{text}</td>"
