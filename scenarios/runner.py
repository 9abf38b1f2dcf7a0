"""Run one scenario through the whole pipeline, or sweep many of them in parallel.

``run_scenario(scenario, out_root)`` applies the scenario's levers to the data, aligns (or
evaluates the current alignment), sets quotas, stress-tests them under the comp plan, runs the
checks and renders the report, all in process with the library functions, and writes
``out_root/<scenario>/`` in one atomic swap. Everything in the folder is byte-identical when an
unchanged scenario runs again, except ``timings.json`` (wall-clock seconds per step).

``run_sweep(tasks, out_root)`` runs many scenarios (or the variants of a grid over one lever)
on a local process pool, or on a Dask distributed cluster when given a scheduler address. Each
scenario is isolated: a failure becomes a row with its error, the others complete. The summary
table and a trade-off chart go next to the run folders.

The levers are pure functions of the tables (``change_capacity``, ``add_reps``,
``hire_reps``, ``least_loaded_reps``, ``remove_reps``, ``mark_vacant``, ``lock_accounts``,
``forbidden_pairs``); nothing here prints.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import math
import multiprocessing
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from scenarios.model import (
    Levers,
    Locks,
    NewRep,
    Scenario,
    ScenarioSpec,
    load_scenario,
    parse_grid,
    resolve_key,
    variant_name,
)
from territory.arguments import check_scheduler_address
from territory.errors import ScenarioError, Terminated
from territory.interrupt import EXIT_CODES, hard_exit
from territory.names import join_inside, validate_name

__all__ = [
    "SUMMARY_COLUMNS",
    "LeverResult",
    "RunResult",
    "SweepResult",
    "SweepTask",
    "add_reps",
    "apply_levers",
    "change_capacity",
    "forbidden_pairs",
    "hire_reps",
    "least_loaded_reps",
    "lock_accounts",
    "mark_vacant",
    "plan_scenario",
    "plan_sweep",
    "prepare_inputs",
    "remove_reps",
    "run_kpis",
    "run_scenario",
    "run_sweep",
    "run_task",
    "scenario_inputs",
    "tradeoff_chart",
    "with_former_reps",
]

FloatArray = npt.NDArray[np.float64]

MANIFEST = "manifest.json"
TIMINGS = "timings.json"
LEVERS = "levers.json"
SUMMARY = "summary.csv"
CHART = "tradeoffs.png"

VERSIONED_PACKAGES = ("ortools", "highspy", "pulp", "numpy", "pandas")
"""Packages whose versions the manifest records (with the engine's own)."""


# ==========================================================================================
# Levers: pure functions of the tables
# ==========================================================================================


def _blank(value: object) -> bool:
    """No rep: None, NaN, pandas' NA or empty text."""
    return value is None or bool(pd.isna(value)) or str(value).strip() == ""  # type: ignore[call-overload]


def _ids(values: Iterable[object]) -> list[str]:
    return [str(v) for v in values]


def _unknown_reps(reps: pd.DataFrame, ids: Iterable[str], key: str) -> None:
    known = set(_ids(reps["rep_id"]))
    unknown = sorted({i for i in ids if i not in known})
    if unknown:
        raise ScenarioError(
            f"key '{key}' names rep(s) not in the reps table: {unknown[:10]}"
            + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
            + f"; known reps are {sorted(known)[:10]}{' ...' if len(known) > 10 else ''}"
        )


def _unknown_accounts(accounts: pd.DataFrame, ids: Iterable[str], key: str) -> None:
    known = set(_ids(accounts["account_id"]))
    unknown = sorted({i for i in ids if i not in known})
    if unknown:
        raise ScenarioError(
            f"key '{key}' names account(s) not in the accounts table: {unknown[:10]}"
            + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
        )


def change_capacity(
    reps: pd.DataFrame,
    hours: Mapping[str, float] | None = None,
    factors: Mapping[str, float] | None = None,
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """New capacities: ``hours`` sets a rep's hours per year, ``factors`` multiplies them.

    A factor under the key ``"*"`` applies to every rep (after ``hours``; a rep's own factor
    replaces it). Returns the new reps table and one record per changed rep (before, after).
    """
    hours = dict(hours or {})
    factors = dict(factors or {})
    _unknown_reps(reps, hours, "levers.capacity")
    _unknown_reps(reps, [k for k in factors if k != "*"], "levers.capacity_factor")
    out = reps.copy()
    ids = _ids(out["rep_id"])
    before = out["capacity"].to_numpy(dtype=np.float64)
    after = before.copy()
    for i, rep_id in enumerate(ids):
        if rep_id in hours:
            after[i] = float(hours[rep_id])
        factor = factors.get(rep_id, factors.get("*"))
        if factor is not None:
            after[i] *= float(factor)
    out["capacity"] = after
    records = [
        {"rep_id": rep_id, "before": float(b), "after": float(a)}
        for rep_id, b, a in zip(ids, before, after, strict=True)
        if a != b
    ]
    return out, records


def _rep_row(reps: pd.DataFrame, values: Mapping[str, Any]) -> dict[str, Any]:
    """A new row for ``reps``: its columns, missing values empty, new columns added."""
    return {column: values.get(column) for column in [*reps.columns, *values]}


def add_reps(reps: pd.DataFrame, rows: Sequence[NewRep]) -> pd.DataFrame:
    """Append reps with their home bases; an id that already exists is an error."""
    if not rows:
        return reps.copy()
    known = set(_ids(reps["rep_id"]))
    new_ids = [r.rep_id for r in rows]
    repeated = {i for i in new_ids if new_ids.count(i) > 1}
    clash = sorted({i for i in new_ids if i in known} | repeated)
    if clash:
        raise ScenarioError(
            f"key 'levers.add_reps' adds rep id(s) {clash} that already exist or repeat; "
            "give every new rep its own id"
        )
    records = [{k: v for k, v in r.model_dump().items() if v is not None} for r in rows]
    added = pd.DataFrame([_rep_row(reps, rec) for rec in records])
    return _append(reps, added)


_NUMERIC_REP_COLUMNS = frozenset(
    {"lat", "lon", "capacity", "rating", "ote", "fte", "tenure_months", "months_in_role"}
)


def _append(reps: pd.DataFrame, added: pd.DataFrame) -> pd.DataFrame:
    columns = list(dict.fromkeys([*reps.columns, *added.columns]))
    base = reps.reindex(columns=columns)
    extra = added.reindex(columns=columns)
    # Keep the table's dtypes: concat with all-empty columns would otherwise warn and upcast.
    frame = pd.concat([base.astype(object), extra.astype(object)], ignore_index=True)
    for column in columns:
        numeric = column in reps.columns and pd.api.types.is_numeric_dtype(reps[column].dtype)
        if numeric or column in _NUMERIC_REP_COLUMNS:
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame


def _territories(accounts: pd.DataFrame, reps: pd.DataFrame) -> npt.NDArray[np.int64]:
    """Rep position of each account today: its current rep, else the nearest home base."""
    from scipy.spatial import cKDTree

    from territory.geo import unit_vectors

    position = {rep_id: i for i, rep_id in enumerate(_ids(reps["rep_id"]))}
    if "current_rep" in accounts.columns:
        current = accounts["current_rep"].to_numpy(dtype=object)
        pos = np.array(
            [-1 if _blank(c) else position.get(str(c), -1) for c in current],
            dtype=np.int64,
        )
    else:
        pos = np.full(len(accounts), -1, dtype=np.int64)
    missing = np.flatnonzero(pos < 0)
    if missing.size:
        tree = cKDTree(unit_vectors(reps["lat"].to_numpy(), reps["lon"].to_numpy()))
        xyz = unit_vectors(accounts["lat"].to_numpy()[missing], accounts["lon"].to_numpy()[missing])
        _, nearest = tree.query(xyz, k=1)
        pos[missing] = np.asarray(nearest, dtype=np.int64)
    return pos


def _loads(accounts: pd.DataFrame, reps: pd.DataFrame) -> FloatArray:
    """Workload today over capacity, per rep (0 for a rep without accounts)."""
    pos = _territories(accounts, reps)
    work = np.bincount(
        pos, weights=accounts["workload"].to_numpy(dtype=np.float64), minlength=len(reps)
    )
    return work / reps["capacity"].to_numpy(dtype=np.float64)


def least_loaded_reps(accounts: pd.DataFrame, reps: pd.DataFrame, count: int) -> list[str]:
    """The ``count`` reps with the least workload today per hour of capacity (ties by id).

    Head-count cuts fall on them: their accounts are the fewest to move.
    """
    if count <= 0:
        return []
    load = _loads(accounts, reps)
    ids = np.array(_ids(reps["rep_id"]), dtype=object)
    order = np.lexsort((ids, load))
    return [str(i) for i in ids[order[:count]]]


def hire_reps(
    accounts: pd.DataFrame, reps: pd.DataFrame, count: int, *, prefix: str = "NEW"
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Add ``count`` reps where they relieve the most loaded territories (deterministic).

    Each hire splits today's most loaded territory (workload per hour of capacity, counting
    earlier hires): the half of its accounts furthest from its home base goes to a new rep
    whose home base is their workload-weighted centre. New reps get the median capacity, tier
    B and the most common role, and ids ``NEW01``, ``NEW02``, ... (skipping ids in use).
    """
    if count <= 0:
        return reps.copy(), []
    from territory.geo import haversine_km, unit_vectors

    lat = accounts["lat"].to_numpy(dtype=np.float64)
    lon = accounts["lon"].to_numpy(dtype=np.float64)
    work = accounts["workload"].to_numpy(dtype=np.float64)
    pos = _territories(accounts, reps)
    members = [np.flatnonzero(pos == r) for r in range(len(reps))]
    base_lat = list(reps["lat"].to_numpy(dtype=np.float64))
    base_lon = list(reps["lon"].to_numpy(dtype=np.float64))
    capacity = list(reps["capacity"].to_numpy(dtype=np.float64))
    new_capacity = float(np.median(reps["capacity"].to_numpy(dtype=np.float64)))
    role = None
    if "role" in reps.columns and reps["role"].notna().any():
        counts = reps["role"].dropna().astype(str).value_counts()
        role = sorted(counts[counts == counts.max()].index)[0]
    used = set(_ids(reps["rep_id"]))
    owners = _ids(reps["rep_id"])
    rows: list[dict[str, Any]] = []
    splits: list[str] = []
    number = 0
    for _ in range(count):
        load = np.array([work[m].sum() / c for m, c in zip(members, capacity, strict=True)])
        r = int(np.argmax(load))
        group = members[r]
        if group.size >= 2:
            dist = haversine_km(lat[group], lon[group], base_lat[r], base_lon[r])
            far_mask = dist >= np.median(dist)
            far, near = group[far_mask], group[~far_mask]
            if near.size == 0:
                far, near = group[1:], group[:1]
        else:
            far, near = group, group[:0]
        if far.size:
            xyz = (unit_vectors(lat[far], lon[far]) * work[far][:, None]).sum(axis=0)
            if not np.any(xyz):
                xyz = unit_vectors(lat[far], lon[far]).sum(axis=0)
            xyz = xyz / np.linalg.norm(xyz)
            new_lat = float(np.degrees(np.arcsin(np.clip(xyz[2], -1.0, 1.0))))
            new_lon = float(np.degrees(np.arctan2(xyz[1], xyz[0])))
        else:
            new_lat, new_lon = base_lat[r], base_lon[r]
        number += 1
        while f"{prefix}{number:02d}" in used:
            number += 1
        rep_id = f"{prefix}{number:02d}"
        used.add(rep_id)
        row = {
            "rep_id": rep_id,
            "lat": round(new_lat, 5),
            "lon": round(new_lon, 5),
            "capacity": new_capacity,
            "tier": "B",
            "name": f"New hire {number}",
        }
        if role is not None:
            row["role"] = role
        rows.append(row)
        splits.append(owners[r])
        owners.append(rep_id)
        members[r] = near
        members.append(far)
        base_lat.append(row["lat"])
        base_lon.append(row["lon"])
        capacity.append(new_capacity)
    added = pd.DataFrame([_rep_row(reps, row) for row in rows])
    records = [{**row, "splits_territory_of": rep} for row, rep in zip(rows, splits, strict=True)]
    return _append(reps, added), records


def remove_reps(
    accounts: pd.DataFrame, reps: pd.DataFrame, rep_ids: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Take reps out; their accounts must move.

    Returns the accounts with ``current_rep`` (and ``locked_rep``) cleared where they named a
    removed rep, so that the solver treats those accounts as free, the reps without the
    removed rows, and the cleared accounts (``account_id``, ``former_rep``) so that the run
    can still count them as moved.
    """
    if not rep_ids:
        empty = pd.DataFrame({"account_id": pd.Series(dtype=object), "former_rep": []})
        return accounts.copy(), reps.copy(), empty
    _unknown_reps(reps, rep_ids, "levers.remove_reps")
    gone = set(rep_ids)
    keep = ~reps["rep_id"].astype(str).isin(gone).to_numpy()
    if not keep.any():
        raise ScenarioError("key 'levers.remove_reps' removes every rep; keep at least one")
    out = accounts.copy()
    orphan = np.zeros(len(out), dtype=bool)
    former = np.full(len(out), None, dtype=object)
    if "current_rep" in out.columns:
        current = out["current_rep"].to_numpy(dtype=object)
        orphan = np.array([not _blank(c) and str(c) in gone for c in current], dtype=bool)
        former = current
        values = current.copy()
        values[orphan] = None
        out["current_rep"] = pd.Series(values, index=out.index, dtype=object)
    if "locked_rep" in out.columns:
        locked = out["locked_rep"].to_numpy(dtype=object).copy()
        lost = np.array([not _blank(v) and str(v) in gone for v in locked], dtype=bool)
        locked[lost] = None
        out["locked_rep"] = pd.Series(locked, index=out.index, dtype=object)
    orphans = pd.DataFrame(
        {
            "account_id": out["account_id"].astype(str).to_numpy(dtype=object)[orphan],
            "former_rep": np.asarray(former, dtype=object)[orphan],
        }
    )
    return out, reps.loc[keep].reset_index(drop=True), orphans


def mark_vacant(reps: pd.DataFrame, rep_ids: Sequence[str]) -> pd.DataFrame:
    """Flag territories as vacant (to be hired): quotas go to ``TBH-<id>``, nobody is paid.

    Sets ``vacant`` (true/false for every rep) and ``months_in_role = 0`` for the vacancies,
    which the quota step and the stress test read.
    """
    if not rep_ids:
        return reps.copy()
    _unknown_reps(reps, rep_ids, "levers.vacancies")
    out = reps.copy()
    flag = out["rep_id"].astype(str).isin(set(rep_ids)).to_numpy()
    if "vacant" in out.columns:
        text = out["vacant"].astype(str).str.strip().str.lower()
        flag = flag | text.isin({"true", "1", "yes", "y"}).to_numpy()
    out["vacant"] = flag
    months = (
        pd.to_numeric(out["months_in_role"], errors="coerce").to_numpy(dtype=np.float64)
        if "months_in_role" in out.columns
        else np.full(len(out), np.nan)
    )
    months[out["rep_id"].astype(str).isin(set(rep_ids)).to_numpy()] = 0.0
    out["months_in_role"] = months
    return out


def lock_accounts(
    accounts: pd.DataFrame, locks: Locks
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Accounts that must stay where they are (or go to a named rep): sets ``locked_rep``.

    ``locks.accounts`` and the top ``locks.top_n`` by potential (or last year's revenue) stay
    with their current rep; among the top N, accounts without a current rep are left free.
    ``locks.assign`` locks accounts to named reps. ``lock_reason`` records why, for check T3.
    """
    if not (locks.accounts or locks.top_n or locks.assign):
        return accounts.copy(), []
    out = accounts.copy()
    ids = out["account_id"].astype(str).to_numpy(dtype=object)
    position = {account_id: i for i, account_id in enumerate(ids.tolist())}
    _unknown_accounts(out, locks.accounts, "locks.accounts")
    _unknown_accounts(out, locks.assign, "locks.assign")
    current = (
        out["current_rep"].to_numpy(dtype=object)
        if "current_rep" in out.columns
        else np.full(len(out), None, dtype=object)
    )
    locked = (
        out["locked_rep"].to_numpy(dtype=object).copy()
        if "locked_rep" in out.columns
        else np.full(len(out), None, dtype=object)
    )
    reason = (
        out["lock_reason"].to_numpy(dtype=object).copy()
        if "lock_reason" in out.columns
        else np.full(len(out), None, dtype=object)
    )
    records: list[dict[str, Any]] = []

    without = [a for a in locks.accounts if _blank(current[position[a]])]
    if without:
        raise ScenarioError(
            f"key 'locks.accounts' keeps accounts with their current rep, but {without[:10]} "
            "have none (or lost it to levers.remove_reps); lock them with locks.assign instead"
        )
    chosen = [(position[a], "scenario: locks.accounts") for a in locks.accounts]
    if locks.top_n:
        column = "potential" if locks.top_by == "potential" else "revenue_last_year"
        if column not in out.columns:
            raise ScenarioError(
                f"key 'locks.top_by' = '{locks.top_by}' needs the accounts column '{column}'"
            )
        values = pd.to_numeric(out[column], errors="coerce").fillna(0.0).to_numpy(np.float64)
        order = np.lexsort((ids, -values))[: locks.top_n]
        why = f"scenario: top {locks.top_n} by {locks.top_by}"
        chosen += [(int(i), why) for i in order if not _blank(current[i])]
    for i, why in chosen:
        locked[i] = str(current[i])
        reason[i] = why
    for account_id, rep_id in locks.assign.items():
        i = position[account_id]
        locked[i] = rep_id
        reason[i] = "scenario: locks.assign"
    out["locked_rep"] = pd.Series(locked, index=out.index, dtype=object)
    out["lock_reason"] = pd.Series(reason, index=out.index, dtype=object)
    seen: set[int] = set()
    for i in [*(i for i, _ in chosen), *(position[a] for a in locks.assign)]:
        if i not in seen:
            seen.add(i)
            records.append({"account_id": ids[i], "rep_id": locked[i], "reason": reason[i]})
    return out, sorted(records, key=lambda r: str(r["account_id"]))


def forbidden_pairs(value: Levers | None, removed: Iterable[str] = ()) -> pd.DataFrame | None:
    """The forbidden account-rep pairs of ``levers.forbidden`` (a list or a CSV/XLSX/Parquet).

    Pairs naming a removed rep are dropped: that rep cannot be chosen anyway.
    """
    if value is None or value.forbidden is None:
        return None
    if isinstance(value.forbidden, str):
        from territory.errors import DataValidationError
        from territory.io import read_table

        try:
            frame = read_table(value.forbidden)
        except DataValidationError as exc:
            raise ScenarioError(f"key 'levers.forbidden': {exc}") from None
        missing = [c for c in ("account_id", "rep_id") if c not in frame.columns]
        if missing:
            raise ScenarioError(
                f"key 'levers.forbidden' names {value.forbidden}, which lacks the column(s) "
                f"{missing}; it needs account_id and rep_id"
            )
        frame = frame.dropna(how="all")[["account_id", "rep_id"]].astype(str)
    else:
        frame = pd.DataFrame(
            [p.model_dump() for p in value.forbidden], columns=["account_id", "rep_id"]
        ).astype(str)
    gone = set(removed)
    frame = frame[~frame["rep_id"].isin(gone)].reset_index(drop=True)
    return frame


def with_former_reps(accounts: pd.DataFrame, orphans: pd.DataFrame) -> pd.DataFrame:
    """The accounts with the ``current_rep`` that :func:`remove_reps` cleared put back."""
    if not len(orphans) or "current_rep" not in accounts.columns:
        return accounts.copy()
    out = accounts.copy()
    lookup = dict(zip(orphans["account_id"], orphans["former_rep"], strict=True))
    restored = out["current_rep"].to_numpy(dtype=object).copy()
    for i, account_id in enumerate(out["account_id"].astype(str).tolist()):
        if account_id in lookup:
            restored[i] = lookup[account_id]
    out["current_rep"] = pd.Series(restored, index=out.index, dtype=object)
    return out


@dataclass(frozen=True)
class LeverResult:
    """The tables the solver sees, the accounts as they really are, and what changed.

    ``accounts`` carries ``current_rep`` cleared for the accounts of removed reps (the solver
    must move them); ``accounts_before`` keeps their former rep, for counting moves.
    """

    accounts: pd.DataFrame
    accounts_before: pd.DataFrame
    reps: pd.DataFrame
    forbidden: pd.DataFrame | None
    orphans: pd.DataFrame
    record: dict[str, Any]


def apply_levers(accounts: pd.DataFrame, reps: pd.DataFrame, spec: ScenarioSpec) -> LeverResult:
    """Apply every lever of a scenario, in a fixed order, to validated tables.

    Order: capacity changes, added reps, hires (or head count), removed reps, vacancies,
    locks, forbidden pairs.
    """
    levers = spec.levers
    reps, capacity = change_capacity(reps, levers.capacity, levers.capacity_factor)
    reps = add_reps(reps, levers.add_reps)
    to_hire = levers.hire
    to_remove = list(levers.remove_reps)
    if levers.head_count is not None:
        change = levers.head_count - len(reps)
        to_hire = max(change, 0)
        to_remove = least_loaded_reps(accounts, reps, -change) if change < 0 else []
    reps, hired = hire_reps(accounts, reps, to_hire)
    solver_accounts, reps, orphans = remove_reps(accounts, reps, to_remove)
    reps = mark_vacant(reps, levers.vacancies)
    solver_accounts, locks = lock_accounts(solver_accounts, spec.locks)
    forbidden = forbidden_pairs(levers, removed=to_remove)
    if levers.families is not None and levers.families not in accounts.columns:
        raise ScenarioError(
            f"key 'levers.families' names the column '{levers.families}', which the accounts "
            f"table does not have; columns: {list(accounts.columns)}"
        )
    record: dict[str, Any] = {
        "capacity_changes": capacity,
        "added_reps": [r.rep_id for r in levers.add_reps],
        "hired_reps": hired,
        "removed_reps": sorted(to_remove),
        "accounts_of_removed_reps": orphans.to_dict(orient="records"),
        "vacancies": sorted(levers.vacancies),
        "locks": locks,
        "forbidden_pairs": 0 if forbidden is None else len(forbidden),
        "families": levers.families,
        "max_moved_accounts": levers.max_moved_accounts,
        "max_moved_revenue_share": levers.max_moved_revenue_share,
        "max_distance_km": levers.max_distance_km,
        "head_count": len(reps),
    }
    return LeverResult(
        accounts=solver_accounts,
        accounts_before=with_former_reps(solver_accounts, orphans),
        reps=reps,
        forbidden=forbidden,
        orphans=orphans,
        record=record,
    )


# ==========================================================================================
# One run
# ==========================================================================================


def file_hash(path: str | Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


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


_ALIGN_EXTRAS = (
    ("max_distance_km", "levers.max_distance_km"),
    ("forbidden", "levers.forbidden"),
    ("family_column", "levers.families"),
    ("max_moved_accounts", "levers.max_moved_accounts"),
    ("max_moved_revenue_share", "levers.max_moved_revenue_share"),
)


def _align(
    scenario: Scenario, prepared: LeverResult, hashes: Mapping[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Solve: assignments, territories and the solve document (timings still inside)."""
    from territory.api import align

    spec = scenario.spec
    a = spec.align
    levers = spec.levers
    kwargs: dict[str, Any] = {
        "balance": a.balance,
        "potential_balance": a.potential_balance,
        "workload_balance": a.workload_balance,
        "solver": a.solver,
        "time_limit_s": a.time_limit_s,
        "seed": spec.align_seed,
        "disruption_weight": a.disruption_weight,
        "tier_factors": a.tier_factors,
        "candidates": a.candidates,
        "soft": a.soft,
        "allow_overtime": a.allow_overtime,
        "gap": a.gap,
        "validate": False,
        "input_hashes": dict(hashes),
    }
    values = {
        "max_distance_km": levers.max_distance_km,
        "forbidden": prepared.forbidden,
        "family_column": levers.families,
        "max_moved_accounts": levers.max_moved_accounts,
        "max_moved_revenue_share": levers.max_moved_revenue_share,
    }
    accepted = inspect.signature(align).parameters
    for name, key in _ALIGN_EXTRAS:
        value = values[name]
        if value is None:
            continue
        if name not in accepted:
            raise ScenarioError(
                f"{scenario.path}: key '{key}' needs territory.align({name}=...), which this "
                "version of the engine does not support yet"
            )
        kwargs[name] = value
    result = align(prepared.accounts, prepared.reps, **kwargs)
    return result.assignments, result.territories, result.solve_document()


def _evaluate(
    scenario: Scenario, prepared: LeverResult, hashes: Mapping[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The current alignment as the plan: the same files as a solve, status ``EVALUATED``."""
    from territory import __version__
    from territory.api import SolveReport
    from territory.metrics import (
        assignment_table,
        plan_metrics,
        territory_table,
        travel_hour_km,
    )
    from territory.model import DEFAULT_TIER_FACTORS

    spec = scenario.spec
    a = spec.align
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
    factors = dict(a.tier_factors or DEFAULT_TIER_FACTORS)
    territories = territory_table(accounts, reps, plan, factors)
    active = territories["potential_target"].to_numpy() > 0
    dev_p = float(np.abs(territories["potential_dev"].to_numpy()[active]).max(initial=0.0))
    dev_w = float(np.abs(territories["workload_dev"].to_numpy()[active]).max(initial=0.0))
    travel = travel_hour_km(accounts, reps, plan)
    report = SolveReport(
        backend="none",
        status="EVALUATED",
        objective=travel,
        bound=None,
        bound_source="none",
        bound_scope="none",
        gap=None,
        seconds=0.0,
        max_potential_deviation=dev_p,
        max_workload_deviation=dev_w,
        balance_potential=a.balance if a.potential_balance is None else a.potential_balance,
        balance_workload=a.balance if a.workload_balance is None else a.workload_balance,
        balance_requested_potential=(
            a.balance if a.potential_balance is None else a.potential_balance
        ),
        balance_requested_workload=a.balance if a.workload_balance is None else a.workload_balance,
        soft=a.soft,
        candidates=a.candidates,
        n_accounts=len(accounts),
        n_reps=len(reps),
        n_pairs=0,
        seed=spec.align_seed,
        time_limit_s=0.0,
        metrics=plan_metrics(accounts, reps, plan, factors),
        notes=["the current alignment (current_rep) evaluated as it is: no solve, no bound"],
    )
    parameters = {
        "mode": "evaluate",
        "balance_potential": report.balance_potential,
        "balance_workload": report.balance_workload,
        "soft": a.soft,
        "allow_overtime": a.allow_overtime,
        "solver": "none",
        "time_limit_s": 0.0,
        "seed": spec.align_seed,
        "disruption_weight": a.disruption_weight,
        "tier_factors": factors,
        "candidates": a.candidates,
        "gap": None,
    }
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
    from territory.metrics import METRICS, assignment_table

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


def _quota_step(scenario: Scenario, folder: Path) -> None:
    from territory.finance import set_plan_quotas
    from territory.io import read_table
    from territory.quotas import QuotaConfig, QuotaMethod, Seasonality, YearlyCaps
    from territory.runs import load_plan
    from territory.steps import write_quota_step

    q = scenario.spec.quota
    assert q.target is not None
    over = q.over_assignment
    config = QuotaConfig(
        company_target=q.target,
        non_quota_revenue=q.non_quota_revenue,
        over_assignment=tuple(over) if isinstance(over, list) else over,
        method=QuotaMethod(name=q.method_name, history_weight=q.history_weight),  # type: ignore[arg-type]
        caps=YearlyCaps() if q.caps else None,
        seasonality=Seasonality(
            periods=q.periods,
            profile=tuple(q.season_profile) if q.season_profile is not None else None,
        ),
        plan_year=q.year,
    )
    sales = scenario.spec.inputs.period_sales
    history = read_table(sales) if sales is not None else None
    step = set_plan_quotas(
        load_plan(folder), config, period_sales=history, last_year_target=q.last_year_target
    )
    write_quota_step(folder, step, config)


def _stress_step(scenario: Scenario, folder: Path) -> None:
    from territory.comp import load_comp
    from territory.finance import stress_plan
    from territory.runs import load_plan
    from territory.steps import write_stress_step
    from territory.stress import StressConfig

    s = scenario.spec.stress
    comp_path = scenario.spec.inputs.comp
    assert comp_path is not None
    run = load_plan(folder)
    comp = load_comp(comp_path)
    config = replace(StressConfig(), n_sims=s.sims)
    seed = scenario.spec.stress_seed
    step = stress_plan(
        run,
        comp,
        config=config,
        seed=seed,
        forecast=s.forecast,
        lever=s.lever,
        quotas=run.quotas(),
    )
    write_stress_step(folder, step, comp, Path(comp_path), seed=seed, n_sims=s.sims)


def _check_step(scenario: Scenario, folder: Path) -> None:
    from territory.checks import (
        CheckThresholds,
        check_run,
        load_thresholds,
        thresholds_from_mapping,
        to_frame,
        to_records,
    )
    from territory.io import write_outputs
    from territory.runs import load_plan

    checks = scenario.spec.checks
    if isinstance(checks, str):
        limits = load_thresholds(checks)
    elif isinstance(checks, dict):
        limits = thresholds_from_mapping({"checks": checks}, source=f"{scenario.path} [checks]")
    else:
        limits = CheckThresholds.default()
    results = check_run(load_plan(folder), limits)
    write_outputs(
        folder,
        {"checks": to_frame(results, scenario.name)},
        {"checks.json": to_records(results, scenario.name)},
        "csv",
        keep_existing=True,
        command="check",
    )


def _report_step(folder: Path, shown_as: Path) -> None:
    from territory.io import write_outputs
    from territory.report import REPORT_FILE, collect_report_inputs, render_report, report_writer

    inputs = collect_report_inputs(folder)
    # The page names the run folder in its title and hints: the final one, not the workspace.
    inputs["run"] = replace(inputs["run"], path=shown_as)
    html = render_report(**inputs)
    files = {REPORT_FILE: report_writer(html)}
    write_outputs(folder, {}, {}, "csv", files=files, keep_existing=True, command="report")


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
    """The scenario's plan: ``assignments``, ``territories`` and the ``solve.json`` document.

    Aligns (``mode = "align"``) or takes ``current_rep`` as the plan (``"evaluate"``);
    accounts of removed reps count as moved. The document still holds ``seconds`` and
    ``stages``, which :func:`run_scenario` moves to ``timings.json``.
    """
    hashes = dict(hashes or {})
    if scenario.spec.mode == "evaluate":
        assignments, territories, doc = _evaluate(scenario, prepared, hashes)
    else:
        assignments, territories, doc = _align(scenario, prepared, hashes)
    assignments, territories = _count_removed_reps_moves(prepared, assignments, territories, doc)
    return assignments, territories, doc


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
        spec.levers.forbidden,
        spec.checks,
    ):
        if isinstance(path, str | Path):
            paths.append(str(path))
    return paths


def run_scenario(
    scenario: Scenario,
    out_root: str | Path = "out",
    *,
    progress: Callable[[str], None] | None = None,
    force: bool = False,
) -> RunResult:
    """Run the whole pipeline for one scenario into ``out_root/<scenario name>/``.

    Steps: levers, align (or evaluate the current alignment), quota (when ``quota.target``
    is set), stress (when quotas exist, a comp plan is given and ``stress.enabled``), checks
    (never failing the run), report. The folder appears complete or not at all, and replaces
    only a folder the engine wrote (or, with ``force``, one within
    :func:`territory.outputs.check_output_folder`'s limits); that is checked first.

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
    from territory.outputs import (
        check_output_folder,
        clean_scratch_leftovers,
        scratch_prefix,
    )
    from territory.runs import INPUT_ACCOUNTS, INPUT_REPS, PLAN, parquet_writer
    from territory.transitions import transition_plan

    say = progress or (lambda _message: None)
    spec = scenario.spec
    # The name is user text (a file stem, a grid label): it must name a folder inside out_root.
    target = join_inside(out_root, scenario.name, "scenario name")
    read = scenario_inputs(scenario)
    check_output_folder(target, command="run", inputs=read, force=force)
    clean_scratch_leftovers()
    clock = _Clock()
    steps: dict[str, str] = {}
    inputs = spec.inputs
    say("reading inputs and applying levers")
    prepared, hashes = prepare_inputs(scenario)
    clock.lap("levers")
    with tempfile.TemporaryDirectory(prefix=scratch_prefix()) as scratch:
        # The workspace carries the scenario's name: checks and the report name the run by it.
        work = join_inside(scratch, scenario.name, "scenario name")
        say("evaluating the current alignment" if spec.mode == "evaluate" else "aligning")
        assignments, territories, doc = plan_scenario(scenario, prepared, hashes)
        steps["align"] = "evaluated current_rep (no solve)" if spec.mode == "evaluate" else "solved"
        solve_timing = {"seconds": doc.pop("seconds", None), "stages": doc.pop("stages", {})}
        tables = {"assignments": assignments, "territories": territories}
        if "current_rep" in prepared.accounts_before.columns:
            # From today's alignment to this one; removed or vacant reps' accounts are vacancies.
            tables["transitions"] = transition_plan(
                prepared.accounts_before, None, assignments[["account_id", "rep_id"]],
                prepared.reps,
            )  # fmt: skip
        write_outputs(
            work,
            tables,
            {"solve.json": doc, LEVERS: prepared.record},
            "csv",
            files={
                # As the solver saw them: later steps need current reps that exist.
                INPUT_ACCOUNTS: parquet_writer(prepared.accounts),
                INPUT_REPS: parquet_writer(prepared.reps),
                PLAN: parquet_writer(assignments[["account_id", "rep_id"]]),
            },
            command="run",
        )
        clock.lap("align")
        if spec.quota.target is None:
            steps["quota"] = "skipped: no quota.target"
        else:
            say("setting quotas")
            _quota_step(scenario, work)
            steps["quota"] = "run"
        clock.lap("quota")
        if spec.quota.target is None:
            steps["stress"] = "skipped: no quotas"
        elif inputs.comp is None:
            steps["stress"] = "skipped: no inputs.comp"
        elif not spec.stress.enabled:
            steps["stress"] = "skipped: stress.enabled = false"
        else:
            say("stress test")
            _stress_step(scenario, work)
            steps["stress"] = "run"
        clock.lap("stress")
        say("checks")
        _check_step(scenario, work)
        steps["check"] = "run"
        clock.lap("check")
        say("report")
        _report_step(work, target)
        steps["report"] = "run"
        clock.lap("report")
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
                for key, path in (
                    ("accounts", inputs.accounts),
                    ("reps", inputs.reps),
                    ("comp", inputs.comp),
                    ("period_sales", inputs.period_sales),
                    ("forbidden", spec.levers.forbidden),
                    ("checks", spec.checks),
                )
                if isinstance(path, str)
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


# ==========================================================================================
# Headline numbers of a run folder
# ==========================================================================================


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _number(value: object) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def run_kpis(folder: str | Path) -> dict[str, Any]:
    """Headline numbers of a run folder, as the sweep summary shows them.

    From ``solve.json``: status, largest deviations, travel, moves, gap; from the stress
    test at 100% of plan: median incentive cost, share of reps at quota, cost of sales; from
    the checks: how many FAIL and WARN; from ``timings.json``: seconds.
    """
    path = Path(folder)
    solve = _read_json(path / "solve.json") or {}
    metrics = solve.get("metrics", {})
    out: dict[str, Any] = {
        "solve_status": solve.get("status"),
        "n_reps": solve.get("n_reps"),
        "max_potential_deviation": _number(solve.get("max_potential_deviation")),
        "max_workload_deviation": _number(solve.get("max_workload_deviation")),
        "max_utilization": _number(metrics.get("max_utilization")),
        "travel_hour_km": _number(metrics.get("travel_hour_km")),
        "mean_distance_km": _number(metrics.get("mean_distance_km")),
        "accounts_moved": _number(metrics.get("accounts_moved")),
        "revenue_moved": _number(metrics.get("revenue_moved")),
        "revenue_moved_share": None,
        "gap": _number(solve.get("gap")),
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
    share = _number(at_plan.get("pct_reps_ge_quota"))
    out["incentive_p50_at_plan"] = _number(at_plan.get("incentive_p50"))
    out["share_at_quota_at_plan"] = None if share is None else share / 100.0
    out["ccos_p50_at_plan"] = _number(at_plan.get("ccos_p50"))
    checks = _read_json(path / "checks.json") or []
    statuses = [str(c.get("status")) for c in checks if isinstance(c, dict)]
    out["checks_fail"] = statuses.count("FAIL") if statuses else None
    out["checks_warn"] = statuses.count("WARN") if statuses else None
    timings = _read_json(path / TIMINGS) or {}
    out["solve_seconds"] = _number((timings.get("solve") or {}).get("seconds"))
    return out


# ==========================================================================================
# Sweeps
# ==========================================================================================

SUMMARY_COLUMNS = (
    "scenario", "source", "lever", "value", "status", "error", "solve_status", "n_reps",
    "max_potential_deviation", "max_workload_deviation", "max_utilization", "travel_hour_km",
    "mean_distance_km", "accounts_moved", "revenue_moved", "revenue_moved_share", "gap",
    "incentive_p50_at_plan", "share_at_quota_at_plan", "ccos_p50_at_plan", "checks_fail",
    "checks_warn", "solve_seconds", "seconds", "folder",
)  # fmt: skip
"""Columns of ``summary.csv``; ``solve_seconds`` and ``seconds`` are wall-clock times."""

TIMING_COLUMNS = ("solve_seconds", "seconds")
"""Summary columns that change between identical runs."""


@dataclass(frozen=True)
class SweepTask:
    """One scenario of a sweep: the file, its name, grid overrides and where to write.

    Paths must be readable by whichever machine runs the task (a shared file system on a
    Dask cluster).
    """

    source: str
    name: str
    out_root: str
    overrides: dict[str, Any] = field(default_factory=dict)
    lever: str | None = None
    value: Any = None
    force: bool = False


def plan_sweep(
    paths: Sequence[str | Path], out_root: str | Path, grid: str | None = None
) -> list[SweepTask]:
    """The tasks of a sweep: every file, or every grid value of every file.

    Raises
    ------
    ScenarioError
        A malformed grid, a grid lever that names no scenario key, or two scenarios with
        the same name (they would write the same folder).
    UnsafeNameError
        A file stem or grid label that is not safe as a folder name (``...toml``, ``.toml``).
    """
    lever: str | None = None
    values: list[Any] = []
    if grid is not None:
        lever, values = parse_grid(grid)
        resolve_key(lever)
    tasks: list[SweepTask] = []
    for path in paths:
        stem = validate_name(
            Path(path).stem,
            f"scenario file stem (of {path})",
            "rename the scenario file: its name without .toml names the run folder",
        )
        if lever is None:
            tasks.append(SweepTask(source=str(path), name=stem, out_root=str(out_root)))
            continue
        for value in values:
            tasks.append(
                SweepTask(
                    source=str(path),
                    name=validate_name(
                        variant_name(stem, lever, value),
                        f"sweep grid label (--grid {lever}={value})",
                        "shorten the scenario file name or the grid value",
                    ),
                    out_root=str(out_root),
                    overrides={lever: value},
                    lever=lever,
                    value=value,
                )
            )
    names = [t.name for t in tasks]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ScenarioError(
            f"several scenarios would write the same folder: {repeated}; give the files "
            "different names"
        )
    return tasks


def _base_row(task: SweepTask) -> dict[str, Any]:
    return {
        "scenario": task.name,
        "source": task.source,
        "lever": task.lever,
        "value": task.value,
        "folder": (Path(task.out_root) / task.name).as_posix(),
    }


def run_task(task: SweepTask) -> dict[str, Any]:
    """Load and run one sweep scenario; any failure comes back as the row's error.

    This is the function the process pool and the Dask workers call.
    """
    start = time.perf_counter()
    row = _base_row(task)
    try:
        scenario = load_scenario(task.source, overrides=task.overrides, name=task.name)
        result = run_scenario(scenario, task.out_root, force=task.force)
        row.update(result.kpis)
        row.update(status="OK", error="")
    except Exception as exc:  # noqa: BLE001 - each scenario is isolated, its error reported
        row.update(status="ERROR", error=f"{type(exc).__name__}: {exc}")
    row["seconds"] = time.perf_counter() - start
    return row


def _failed(task: SweepTask, exc: BaseException) -> dict[str, Any]:
    row = _base_row(task)
    row.update(status="ERROR", error=f"{type(exc).__name__}: {exc}")
    return row


@dataclass(frozen=True)
class SweepResult:
    """The summary (one row per scenario, in task order) and the files written."""

    summary: pd.DataFrame
    folder: Path
    summary_file: Path
    chart_file: Path

    @property
    def failed(self) -> pd.DataFrame:
        """Rows of scenarios that did not complete."""
        return self.summary[self.summary["status"] != "OK"]


WORKER_STOP_GRACE_S = 1.2
"""How long stopped pool workers get to remove their scratch folders before they are killed."""

_worker_busy = False
"""In a pool worker: True while it runs a task (a SIGTERM then unwinds it instead of exiting)."""


def _init_pool_worker() -> None:
    """Signals in a local pool worker: the parent decides, the worker cleans up.

    Ctrl-C in a terminal reaches the whole process group; workers ignore it and wait for the
    parent's SIGTERM, which unwinds the running scenario (scratch folders removed) and exits.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_terminated)


def _worker_terminated(signum: int, _frame: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one clean-up; the parent kills if it hangs
    if not _worker_busy:
        hard_exit(EXIT_CODES[signal.SIGTERM])
    raise Terminated(signum)


def _run_pooled(task: SweepTask) -> dict[str, Any]:
    """:func:`run_task` in a local pool worker; a SIGTERM ends the worker after clean-up."""
    global _worker_busy
    _worker_busy = True
    try:
        return run_task(task)
    except KeyboardInterrupt:
        # Scratch folders were removed on the way here; a solver thread may still be stopping.
        hard_exit(EXIT_CODES[signal.SIGTERM])
        raise  # pragma: no cover - hard_exit does not return
    finally:
        _worker_busy = False


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Stop every worker now: SIGTERM (they clean up), then SIGKILL for any still running.

    The executor has no public way to stop tasks that already run, so its process table is
    read directly; without this, leaving the pool would wait for every scenario to finish.
    """
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + WORKER_STOP_GRACE_S
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join(1.0)
    # With every worker gone this returns at once; it also releases the pool's queues, which
    # the resource tracker would otherwise report as leaked when the CLI exits.
    pool.shutdown(wait=True, cancel_futures=True)


def _run_local(
    tasks: Sequence[SweepTask], workers: int | None, done: Callable[[dict[str, Any]], None]
) -> list[dict[str, Any]]:
    count = workers or min(len(tasks), os.cpu_count() or 1)
    # spawn: a fresh interpreter per worker, safe next to threads (solvers, Dask clients).
    context = multiprocessing.get_context("spawn")
    rows: list[dict[str, Any]] = []
    pool = ProcessPoolExecutor(
        max_workers=max(1, count), mp_context=context, initializer=_init_pool_worker
    )
    try:
        _collect(pool, tasks, done, rows)
    except BaseException:
        # Ctrl-C or SIGTERM (or a failing progress callback): no worker may outlive the sweep.
        _stop_pool(pool)
        raise
    pool.shutdown(wait=True)
    return rows


def _collect(
    pool: ProcessPoolExecutor,
    tasks: Sequence[SweepTask],
    done: Callable[[dict[str, Any]], None],
    rows: list[dict[str, Any]],
) -> None:
    """Submit every task and append its row, in task order, as the rows come in."""
    futures: list[Future[dict[str, Any]]] = [pool.submit(_run_pooled, t) for t in tasks]
    for task, future in zip(tasks, futures, strict=True):
        try:
            row = future.result()
        except Exception as exc:  # noqa: BLE001 - a dead worker fails its scenario only
            row = _failed(task, exc)
        done(row)
        rows.append(row)


SCHEDULER_TIMEOUT_S = 20.0
"""How long ``run_sweep`` tries to reach a Dask scheduler (and hear it answer) before giving up."""


PROBE_MARGIN_S = 2.0
"""The identity probe's deadline is this much past the connection timeout."""


def _probe_scheduler(address: str, timeout_s: float) -> None:
    """Check that ``address`` answers as a Dask scheduler within ``timeout_s`` seconds.

    ``distributed.Client`` waits without limit for the handshake once a TCP connection is
    accepted, so a port held by anything else (a silent server, a web server) would hang the
    sweep. This asks for the server's identity under one deadline instead, on a thread of its
    own (the caller may already run an event loop, as in a notebook).

    Raises
    ------
    ScenarioError
        Nothing listens there, the server does not answer in time, or it is not a scheduler.
    """
    from distributed.comm import connect
    from distributed.security import Security

    async def identity() -> object:
        comm = await connect(address, timeout=timeout_s, **Security().get_connection_args("client"))
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    def ask() -> object:
        # A little past connect's own deadline, so that "nothing listens" keeps its message.
        return asyncio.run(asyncio.wait_for(identity(), timeout_s + PROBE_MARGIN_S))

    dask_hint = (
        "start one with `dask scheduler` and workers with `dask worker <address>`, and pass the "
        "address the scheduler prints (tcp://HOST:8786 by default)"
    )
    with ThreadPoolExecutor(max_workers=1) as pool:
        try:
            reply = pool.submit(ask).result()
        except TimeoutError:
            raise ScenarioError(
                f"the server at {address} did not answer as a Dask scheduler within "
                f"{timeout_s + PROBE_MARGIN_S:g} s (it accepts connections but speaks another "
                f"protocol, or is overloaded); {dask_hint}"
            ) from None
        except OSError as exc:
            raise ScenarioError(
                f"cannot reach the Dask scheduler at {address}: {exc}; {dask_hint}"
            ) from None
        except Exception as exc:  # noqa: BLE001 - any garbage on the wire means "not a scheduler"
            raise ScenarioError(
                f"the server at {address} is not a Dask scheduler (its answer could not be read: "
                f"{type(exc).__name__}); {dask_hint}"
            ) from None
    kind = reply.get("type") if isinstance(reply, dict) else None
    if kind != "Scheduler":
        what = f"a Dask {kind}" if isinstance(kind, str) else "not a Dask server"
        raise ScenarioError(f"the server at {address} is {what}, not a scheduler; {dask_hint}")


def _run_dask(
    tasks: Sequence[SweepTask],
    scheduler: str,
    done: Callable[[dict[str, Any]], None],
    timeout_s: float,
) -> list[dict[str, Any]]:
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - dask is a dependency
        raise ScenarioError(
            "--scheduler needs dask.distributed: pip install 'dask[distributed]'"
        ) from None
    rows: list[dict[str, Any]] = []
    try:
        client = Client(scheduler, timeout=f"{timeout_s}s")
    except Exception as exc:  # noqa: BLE001 - it answered the probe; report, never a traceback
        raise ScenarioError(
            f"cannot connect to the Dask scheduler at {scheduler}: {type(exc).__name__}: {exc}; "
            "start one with `dask scheduler` and workers with `dask worker <address>`"
        ) from None
    with client:
        futures = client.map(run_task, list(tasks), pure=False)
        try:
            for task, future in zip(tasks, futures, strict=True):
                try:
                    row = future.result()
                except Exception as exc:  # noqa: BLE001 - a lost worker fails its scenario only
                    row = _failed(task, exc)
                done(row)
                rows.append(row)
        except BaseException:
            # Interrupted: scenarios not started yet are dropped by the scheduler.
            client.cancel(futures)
            raise
    return rows


def run_sweep(
    tasks: Sequence[SweepTask],
    out_root: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    connect_timeout_s: float | None = None,
    force: bool = False,
) -> SweepResult:
    """Run the tasks in parallel and write ``summary.csv`` and ``tradeoffs.png`` to ``out_root``.

    Parameters
    ----------
    tasks
        From :func:`plan_sweep`.
    workers
        Local processes (default: one per CPU, at most one per task).
    scheduler
        Address of a Dask distributed scheduler (``tcp://host:port``); the same function runs
        on its workers instead of a local pool. Inputs and ``out_root`` must be reachable at
        the same paths there (a shared file system).
    progress
        Called with each finished row, in task order.
    connect_timeout_s
        How long to try reaching the scheduler, and hearing it answer, before giving up
        (default :data:`SCHEDULER_TIMEOUT_S`).
    force
        Write into an ``out_root`` and run folders the engine did not write (within the limits
        of :func:`territory.outputs.check_output_folder`).

    Raises
    ------
    OutputFolderError, UnsafeNameError
        ``out_root`` or a scenario's folder in it may not be written; checked before any run.
    UsageError
        A malformed scheduler address (before anything is written).
    ScenarioError
        No Dask scheduler answers at the address within the time allowed.
    """
    from territory.io import write_table
    from territory.outputs import add_files, check_output_folder, child_folder, prepare_folder

    timeout_s = SCHEDULER_TIMEOUT_S if connect_timeout_s is None else connect_timeout_s
    if scheduler:
        scheduler = check_scheduler_address(scheduler)
        if tasks:
            _probe_scheduler(scheduler, timeout_s)  # before anything is written
    folder = Path(out_root)
    # Every folder is checked before the first scenario runs: a refusal costs no solve.
    children = [child_folder(folder, task.name) for task in tasks]
    prepare_folder(folder, command="sweep", force=force)
    for task, child in zip(tasks, children, strict=True):
        check_output_folder(child, command="run", inputs=[task.source], force=force)
    tasks = [replace(task, force=force) for task in tasks]
    done = progress or (lambda _row: None)
    if not tasks:
        rows: list[dict[str, Any]] = []
    elif scheduler:
        rows = _run_dask(tasks, scheduler, done, timeout_s)
    else:
        rows = _run_local(tasks, workers, done)
    summary = pd.DataFrame(rows).reindex(columns=list(SUMMARY_COLUMNS))
    summary_file = folder / SUMMARY
    chart_file = folder / CHART
    add_files(
        folder,
        {
            SUMMARY: lambda path: write_table(summary, path, "csv"),
            CHART: lambda path: tradeoff_chart(summary, path),
        },
        command="sweep",
        option="--out",
    )
    return SweepResult(
        summary=summary, folder=folder, summary_file=summary_file, chart_file=chart_file
    )


# ==========================================================================================
# Trade-off chart
# ==========================================================================================


def tradeoff_chart(summary: pd.DataFrame, path: str | Path) -> None:
    """Two panels: travel against disruption, cost of sales against share of reps at quota.

    Each completed scenario is a labelled point. Drawn with the Agg canvas and no time or
    software stamp, so the same summary gives the same PNG.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    from territory.charts import DPI, PNG_METADATA

    ok = summary[summary["status"] == "OK"] if "status" in summary.columns else summary
    fig = Figure(figsize=(12.0, 5.5), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    panels = (
        (
            left,
            "revenue_moved_share",
            "travel_hour_km",
            "Share of last year's revenue changing rep",
            "Travel (workload-weighted hour-km)",
            "Travel vs disruption",
            True,
            False,
        ),
        (
            right,
            "share_at_quota_at_plan",
            "ccos_p50_at_plan",
            "Share of reps at quota when the company hits plan (P50)",
            "Compensation cost of sales at plan (P50)",
            "Cost of sales vs share at quota",
            True,
            True,
        ),
    )
    for ax, x_col, y_col, x_label, y_label, title, x_pct, y_pct in panels:
        ax.set_axisbelow(True)
        ax.grid(True, color="#DDDDDD", linewidth=0.8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.set_title(title, fontsize=12, fontweight="bold", color="#333333")
        ax.set_xlabel(x_label, fontsize=10)
        ax.set_ylabel(y_label, fontsize=10)
        if x_pct:
            ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
        if y_pct:
            ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
        else:
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v / 1e6:,.2f}M"))
        if x_col not in ok.columns or y_col not in ok.columns:
            continue
        x = pd.to_numeric(ok[x_col], errors="coerce")
        y = pd.to_numeric(ok[y_col], errors="coerce")
        shown = x.notna() & y.notna()
        if not shown.any():
            ax.text(0.5, 0.5, "no scenario has these numbers", ha="center", va="center",
                    transform=ax.transAxes, color="#666666")  # fmt: skip
            continue
        ax.scatter(x[shown], y[shown], s=40, color="#0072B2", zorder=3)
        for name, xi, yi in zip(ok["scenario"][shown], x[shown], y[shown], strict=True):
            ax.annotate(str(name), (float(xi), float(yi)), textcoords="offset points",
                        xytext=(5, 4), fontsize=8, color="#333333")  # fmt: skip
    failed = int((summary["status"] != "OK").sum()) if "status" in summary.columns else 0
    note = f" ({failed} failed, not shown)" if failed else ""
    fig.suptitle(f"Scenario trade-offs: {len(ok)} scenario(s){note}", fontsize=14)
    fig.savefig(Path(path), format="png", dpi=DPI, metadata=dict(PNG_METADATA))
