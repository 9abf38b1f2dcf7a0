"""The key figures of run folders side by side, and the accounts their plans assign differently.

Pure computation on loaded :class:`territory.io.runs.PlanFolder` objects: nothing here reads or
writes a file (see :mod:`territory.rendering.compare.files`) or draws anything (see
:mod:`territory.rendering.compare.maps` and :mod:`territory.rendering.compare.page`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from territory.domain.metrics import METRICS, plan_metrics
from territory.errors import DataValidationError, InputProblem
from territory.io.runs import QUOTAS, PlanFolder

COMPARISON_FILE = "comparison.csv"
"""The key figures, one row per figure and one column per run."""

DIFF_FILE = "assignment_diff.csv"
"""The accounts whose rep is not the same in every run."""

HTML_FILE = "comparison.html"
"""The comparison page."""

ObjectArray = npt.NDArray[np.object_]

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
    Kpi("expected_sales", "Expected sales (P50, response model)", "currency", "higher"),
    Kpi("expected_sales_p10", "Expected sales P10", "currency"),
    Kpi("expected_sales_p90", "Expected sales P90", "currency"),
    Kpi("uplift", "Uplift over the current alignment (P50, net of moves)", "share", "higher"),
    Kpi("uplift_p10", "Uplift P10", "share"),
    Kpi("uplift_p90", "Uplift P90", "share"),
    Kpi("contribution", "Contribution (P50 sales x margin - rep cost)", "currency", "higher"),
    Kpi("margin", "Gross margin behind the contribution", "share"),
    Kpi("rep_cost", "Rep cost/year behind it (a reps cost column wins)", "currency"),
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
    """List the comparison's rows: every metric of :data:`METRICS` in its order, then the others."""
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
        """Return the value of one key figure for one run (None when blank)."""
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
# Comparison
# ============================================================================================


def run_names(runs: Sequence[PlanFolder]) -> tuple[str, ...]:
    """Name a column per run: its folder's name, made unique with " (2)", " (3)", ...

    Parameters
    ----------
    runs
        The compared run folders, in column order; only their paths are read.

    Returns
    -------
    tuple of str
        One name per run, none equal to another or to a fixed column of the tables.
    """
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
    """Set the key figures of each run side by side, with the accounts assigned differently.

    Parameters
    ----------
    runs
        The run folders (:func:`territory.rendering.compare.load_runs`), in column order.

    Returns
    -------
    ComparisonResult
        The key figures, why blank cells are blank, and the assignment differences.

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
    """Give the rep of every account of ``run.accounts``, in its row order.

    Parameters
    ----------
    run
        A loaded run folder; its plan is joined to its accounts by account id.

    Returns
    -------
    numpy.ndarray
        Rep ids (object array), one per row of ``run.accounts``.

    Raises
    ------
    DataValidationError
        The plan names no rep for some account.
    """
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
    """Compute every key figure of one run.

    Parameters
    ----------
    run
        A loaded run folder; quotas, stress test and checks are read when present.

    Returns
    -------
    dict
        ``key -> (value, reason)``: the reason says why a value is None (and which command
        adds it), else it is None.
    """
    path = run.path.as_posix()
    parameters = run.solve.get("parameters") or {}
    factors = parameters.get("tier_factors") or None
    out: dict[str, tuple[Any, str | None]] = {
        name: (float(value), None)
        for name, value in plan_metrics(run.accounts, run.reps, plan_array(run), factors).items()
    }
    out["quota_spread"] = _quota_spread(run)
    out.update(_stress_kpis(run))
    manifest = run.document("manifest.json") or {}
    step = (manifest.get("steps") or {}).get("value") if isinstance(manifest, dict) else None
    why = (
        f"value step {step}"
        if isinstance(step, str) and step != "run"
        else f"no plan value yet: run `territory value --plan {path}`"
    )
    out.update(value_kpis(run.document("value.json"), why))
    out.update(_check_kpis(run))
    solve = run.solve
    gap = finite_number(solve.get("gap"))
    out["solve_gap"] = (
        (gap, None) if gap is not None else (None, "the solver proved no bound, so no gap")
    )
    for key, field in (("solve_status", "status"), ("solve_backend", "backend")):
        text = solve.get(field)
        out[key] = (str(text), None) if text else (None, f"solve.json in {path} has no {field}")
    seconds = finite_number(solve.get("seconds"))
    if seconds is None:
        # Scenario runs keep wall-clock times out of solve.json (its bytes must not change).
        timings = run.document("timings.json") or {}
        solve_timing = timings.get("solve")
        if isinstance(solve_timing, dict):
            seconds = finite_number(solve_timing.get("seconds"))
    out["solve_seconds"] = (
        (seconds, None) if seconds is not None else (None, f"solve.json in {path} has no seconds")
    )
    return out


def _quota_spread(run: PlanFolder) -> tuple[float | None, str | None]:
    """Compute the population CV of final annual quota / potential over territories."""
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
    plan_x = finite_number(verdicts.get("plan_attainment"))
    plan_x = 1.0 if plan_x is None else plan_x
    row = _scenario_at(scenarios, plan_x)
    out: dict[str, tuple[Any, str | None]] = {}
    share = finite_number(verdicts.get("expected_share_at_quota"))
    out["share_at_quota"] = (
        (share, None) if share is not None else (None, f"stress.json in {path} has no verdicts")
    )
    ratio = None if row is None else finite_number(row.get("incentive_to_ti_budget_p50"))
    out["incentive_to_ti"] = (
        (ratio, None)
        if ratio is not None
        else (None, f"stress_scenarios.csv in {path} has no row at {plan_x:g} x plan")
    )
    ccos = None if row is None else finite_number(row.get("ccos_p50"))
    if ccos is None:
        by_level = verdicts.get("ccos_p50") or {}
        if isinstance(by_level, Mapping):
            for level, value in by_level.items():
                level_x = finite_number(level)
                if level_x is not None and abs(level_x - plan_x) < 1e-9:
                    ccos = finite_number(value)
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


VALUE_KPIS = (
    "expected_sales", "expected_sales_p10", "expected_sales_p90",
    "uplift", "uplift_p10", "uplift_p90", "contribution", "margin", "rep_cost",
)  # fmt: skip
"""The key figures read from ``value.json`` (:func:`value_kpis`)."""


def value_kpis(
    document: Mapping[str, Any] | None, missing: str
) -> dict[str, tuple[float | None, str | None]]:
    """Read expected sales, uplift, contribution and its margin and rep cost from ``value.json``.

    Expected sales are the plan's simulated P50 (P10, P90 beside it); the uplift is the P50
    over the model's draws of the gain over the current alignment, net of the transition loss;
    the contribution is P50 sales x margin - the reps' cost. A figure the document lacks is
    None with the reason: ``missing`` when there is no document, else what it lacks.

    Parameters
    ----------
    document
        The content of ``value.json``, or None when the run has none.
    missing
        Why there is no document (the value step's note, or the command that adds one).

    Returns
    -------
    dict
        ``key -> (value, reason)`` for every key of :data:`VALUE_KPIS`.
    """
    if not isinstance(document, Mapping):
        return dict.fromkeys(VALUE_KPIS, (None, missing))
    total = document.get("total") or {}
    uplift = document.get("uplift") or {}
    settings = document.get("settings") or {}
    out: dict[str, tuple[float | None, str | None]] = {}
    for key, value in (
        ("expected_sales", total.get("p50")),
        ("expected_sales_p10", total.get("p10")),
        ("expected_sales_p90", total.get("p90")),
    ):
        number = finite_number(value)
        out[key] = (number, None if number is not None else "value.json has no sales interval")
    no_uplift = next(
        (w for w in document.get("warnings") or [] if str(w).startswith("no uplift")),
        "value.json has no uplift (no current alignment)",
    )
    for key, field in (("uplift", "uplift_p50"), ("uplift_p10", "uplift_p10"),
                       ("uplift_p90", "uplift_p90")):  # fmt: skip
        number = finite_number(uplift.get(field))
        out[key] = (number, None if number is not None else str(no_uplift))
    for key in ("margin", "rep_cost"):
        number = finite_number(settings.get(key))
        out[key] = (number, None if number is not None else f"value.json has no {key} setting")
    p50, margin = out["expected_sales"][0], out["margin"][0]
    cost = finite_number(total.get("cost"))
    out["contribution"] = (
        (p50 * margin - cost, None)
        if p50 is not None and margin is not None and cost is not None
        else (None, "value.json has no margin or rep cost")
    )
    return out


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
    """Tabulate the rep of each account in each run, for the accounts whose rep differs.

    ``changed`` is True when the reps differ, or when the account is missing from some runs
    (its cell is blank there). Rows follow the first run's accounts, then accounts only later
    runs hold. ``name``, ``potential`` and ``current_rep`` come from the first run holding the
    account.

    Parameters
    ----------
    runs
        The compared run folders.
    names
        A column name per run; :func:`run_names` by default.
    only_changed
        False lists every account, not only those assigned differently.

    Returns
    -------
    pandas.DataFrame
        ``account_id``, ``name``, ``potential``, ``current_rep``, one column per run, ``changed``.
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


def finite_number(value: object) -> float | None:
    """Return a value read from a run's files as a finite float, else None (a flag is no number)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def format_kpi(value: object, unit: str) -> str:
    """Format a key figure as plain text: shares in %, money and hour-km with separators.

    Parameters
    ----------
    value
        The figure; None or NaN is blank.
    unit
        The :class:`Kpi` unit (``share``, ``ratio``, ``hour_km``, ``km``, ``count``,
        ``currency``, ``seconds`` or ``text``).

    Returns
    -------
    str
        The text shown on the page and in the CLI table; "\u2013" when blank.
    """
    if _missing(value):
        return "\u2013"
    if unit == "text" or isinstance(value, str):
        return str(value)
    number = finite_number(value)
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
