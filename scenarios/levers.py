"""The levers of a scenario: pure functions of the accounts and reps tables.

``change_capacity``, ``add_reps``, ``hire_reps``, ``least_loaded_reps``, ``remove_reps``,
``mark_vacant``, ``lock_accounts`` and ``forbidden_pairs`` each return new tables (and a record
of what changed); :func:`apply_levers` applies a scenario's levers in a fixed order. Nothing here
reads a run folder, solves or prints.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from scenarios.model import Levers, Locks, NewRep, ScenarioSpec
from territory.errors import ScenarioError

__all__ = [
    "LeverResult",
    "add_reps",
    "apply_levers",
    "change_capacity",
    "forbidden_pairs",
    "hire_reps",
    "least_loaded_reps",
    "lock_accounts",
    "mark_vacant",
    "remove_reps",
    "with_former_reps",
]

FloatArray = npt.NDArray[np.float64]


def _blank(value: object) -> bool:
    """No rep: None, NaN, pandas' NA or empty text."""
    return value is None or bool(pd.isna(value)) or str(value).strip() == ""  # type: ignore[call-overload]


def _ids(values: Iterable[object]) -> list[str]:
    return [str(v) for v in values]


def _refuse_unknown(table: pd.DataFrame, kind: str, ids: Iterable[str], key: str) -> None:
    """Raise when ``ids`` name a ``kind`` (``rep``, ``account``) the table lacks; list 10.

    For reps the message also lists known ids: there are few, and a typo is the usual cause.
    """
    known = set(_ids(table[f"{kind}_id"]))
    unknown = sorted({i for i in ids if i not in known})
    if not unknown:
        return
    more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
    hint = f"; known reps are {sorted(known)[:10]}{' ...' if len(known) > 10 else ''}"
    raise ScenarioError(
        f"key '{key}' names {kind}(s) not in the {kind}s table: {unknown[:10]}{more}"
        + (hint if kind == "rep" else "")
    )


def change_capacity(
    reps: pd.DataFrame,
    hours: Mapping[str, float] | None = None,
    factors: Mapping[str, float] | None = None,
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Return new capacities: ``hours`` sets a rep's hours per year, ``factors`` multiplies them.

    A factor under the key ``"*"`` applies to every rep (after ``hours``; a rep's own factor
    replaces it). Returns the new reps table and one record per changed rep (before, after).
    """
    hours = dict(hours or {})
    factors = dict(factors or {})
    _refuse_unknown(reps, "rep", hours, "levers.capacity")
    _refuse_unknown(reps, "rep", [k for k in factors if k != "*"], "levers.capacity_factor")
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
    """Make a new row for ``reps``: its columns, missing values empty, new columns added."""
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

    from territory.domain.geo import unit_vectors

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
    """Return the ``count`` reps with the least workload today per hour of capacity (ties by id).

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
    from territory.domain.geo import haversine_km, unit_vectors

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
    _refuse_unknown(reps, "rep", rep_ids, "levers.remove_reps")
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
    _refuse_unknown(reps, "rep", rep_ids, "levers.vacancies")
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
    _refuse_unknown(out, "account", locks.accounts, "locks.accounts")
    _refuse_unknown(out, "account", locks.assign, "locks.assign")
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


def forbidden_pairs(
    value: Levers | None, removed: Iterable[str] = (), *, key: str = "levers.forbidden"
) -> pd.DataFrame | None:
    """Read the forbidden account-rep pairs of ``levers.forbidden`` (a list or CSV/XLSX/Parquet).

    Pairs naming a removed rep are dropped: that rep cannot be chosen anyway. ``key`` is the
    scenario key the pairs came from, for messages (``align.forbidden`` names a file too).
    """
    if value is None or value.forbidden is None:
        return None
    if isinstance(value.forbidden, str):
        from territory.errors import DataValidationError
        from territory.io import read_table

        try:
            frame = read_table(value.forbidden)
        except DataValidationError as exc:
            raise ScenarioError(f"key '{key}': {exc}") from None
        missing = [c for c in ("account_id", "rep_id") if c not in frame.columns]
        if missing:
            raise ScenarioError(
                f"key '{key}' names {value.forbidden}, which lacks the column(s) "
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
    """Put back the ``current_rep`` that :func:`remove_reps` cleared, in a copy of the accounts."""
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
    if levers.forbidden is None and spec.align.forbidden is not None:
        # The file of the [align] table, read like the levers' (pairs of removed reps dropped).
        pairs = Levers(forbidden=spec.align.forbidden.as_posix())
        forbidden = forbidden_pairs(pairs, removed=to_remove, key="align.forbidden")
    else:
        forbidden = forbidden_pairs(levers, removed=to_remove)
    family, family_key = levers.families, "levers.families"
    if family is None:
        family, family_key = spec.align.family_column, "align.family_column"
    if family is not None and family not in accounts.columns:
        raise ScenarioError(
            f"key '{family_key}' names the column '{family}', which the accounts "
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
