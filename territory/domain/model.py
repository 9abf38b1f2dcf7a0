"""The alignment problem as the domain sees it: rules, targets and candidate account-rep pairs.

Accounts and reps arrive as validated pandas frames (see :mod:`territory.io`); this module turns
them into flat numpy arrays that any solver backend can read. It knows nothing of solvers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph  # noqa: F401 - loads sparse.csgraph
from scipy.spatial import cKDTree

from territory.domain.arguments import DEFAULT_CANDIDATES, DEFAULT_TIER_FACTORS
from territory.domain.arrays import BoolArray, FloatArray, IntArray
from territory.domain.geo import haversine_km, unit_vectors
from territory.errors import DataValidationError, InputProblem


@dataclass(frozen=True)
class BalanceRule:
    """How far each rep's totals may stray from its targets, as fractions (0.05 = ±5%).

    ``soft`` asks for the smallest achievable largest deviation when the tolerance cannot be met
    (never tighter than the tolerances asked for). ``allow_overtime`` lifts the rule that a rep's
    workload never exceeds its capacity.
    """

    potential: float = 0.05
    workload: float = 0.05
    soft: bool = False
    allow_overtime: bool = False

    def widened(self, potential: float, workload: float) -> BalanceRule:
        """Return the same rule with (at least) the given tolerances; used by soft mode."""
        return BalanceRule(
            potential=max(self.potential, potential),
            workload=max(self.workload, workload),
            soft=self.soft,
            allow_overtime=self.allow_overtime,
        )


@dataclass(frozen=True)
class AlignmentSettings:
    """Everything that shapes the alignment besides the data.

    ``disruption_weight`` converts potential moved away from its current rep (currency/year) into
    the objective's unit (workload hours x km), so a weight of 0.01 makes moving 100,000/year of
    potential cost as much as 1,000 hour-km of travel.
    """

    balance: BalanceRule = field(default_factory=BalanceRule)
    tier_factors: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_TIER_FACTORS))
    disruption_weight: float = 0.0
    candidates: int = DEFAULT_CANDIDATES
    max_distance_km: float | None = None
    """No account goes to a rep whose home base is further away (locked accounts excepted)."""
    distance_power: float = 1.0
    """Compactness around the rep's home: 1 sums workload x km (travel), 2 workload x km²
    (moment of inertia, which punishes far-flung accounts hardest)."""
    cut_edge_weight: float = 0.0
    """Objective cost per pair of neighbouring units held by different reps (needs a unit
    graph): ragged borders cost more."""

    def travel(self, workload: FloatArray, distance_km: FloatArray) -> FloatArray:
        """Return the compactness part of a pair's cost."""
        if self.distance_power == 1.0:
            return np.asarray(workload * distance_km)
        return np.asarray(workload * distance_km**self.distance_power)


@dataclass(frozen=True, eq=False)
class Members:
    """The original accounts behind family units: CSR ``start`` over units into ``index``.

    ``unit_of`` maps each original account to its unit; the other arrays are per original
    account (coordinates, workload, potential, current rep position or -1).
    """

    start: IntArray
    index: IntArray
    unit_of: IntArray
    lat: FloatArray
    lon: FloatArray
    workload: FloatArray
    potential: FloatArray
    current: IntArray


def contract_families(
    accounts: pd.DataFrame,
    column: str,
    source: str = "accounts",
    empty_families: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, IntArray]:
    """One row per family (accounts sharing a value in ``column``; blanks stay alone).

    Potential and workload add up; the position is the workload-weighted centre (only used to
    find candidate reps: costs are summed over members); the current rep is the one holding most
    of the family's potential; a lock on any member locks the family (two different locks are an
    input error). Returns the family table and each account's family position.

    ``empty_families`` (``account_id``, ``lat``, ``lon``) adds families with no accounts after
    the others: basic units without customers, which still connect territories on the map.
    """
    if column not in accounts.columns:
        raise DataValidationError(
            [
                InputProblem(
                    source, None, column, "the family column is missing",
                    f"add a '{column}' column naming each account's family, or drop the lever",
                )
            ]
        )  # fmt: skip
    raw = accounts[column]
    blank = raw.isna() | (raw.astype(str).str.strip() == "")
    key = np.where(
        blank.to_numpy(),
        "\x00" + accounts["account_id"].astype(str).to_numpy(),
        raw.astype(str).to_numpy(),
    )
    labels, first, unit_of = np.unique(key, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # families in the order they first appear
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    unit_of = rank[unit_of].astype(np.int64)
    n = order.size
    potential = np.bincount(
        unit_of, weights=accounts["potential"].to_numpy(np.float64), minlength=n
    )
    workload = np.bincount(unit_of, weights=accounts["workload"].to_numpy(np.float64), minlength=n)
    weight = accounts["workload"].to_numpy(np.float64) + 1e-9
    lat = np.bincount(unit_of, weights=weight * accounts["lat"].to_numpy(np.float64), minlength=n)
    lon = np.bincount(unit_of, weights=weight * accounts["lon"].to_numpy(np.float64), minlength=n)
    total = np.bincount(unit_of, weights=weight, minlength=n)
    ids = np.where(
        blank.to_numpy()[first[order]],
        accounts["account_id"].astype(str).to_numpy()[first[order]],
        labels[order],
    )
    units = pd.DataFrame(
        {
            "account_id": ids.astype(object),
            "lat": lat / total,
            "lon": lon / total,
            "potential": potential,
            "workload": workload,
        }
    )
    frame = pd.DataFrame({"unit": unit_of, "potential": accounts["potential"].to_numpy()})
    if "current_rep" in accounts.columns:
        frame["current"] = accounts["current_rep"].to_numpy()
        held = frame.dropna(subset=["current"]).groupby(["unit", "current"])["potential"].sum()
        best = held.reset_index().sort_values(["unit", "potential"], ascending=[True, False])
        main = best.drop_duplicates("unit").set_index("unit")["current"]
        units["current_rep"] = [main.get(u) for u in range(n)]
    if "locked_rep" in accounts.columns:
        locks = pd.DataFrame({"unit": unit_of, "lock": accounts["locked_rep"].to_numpy()}).dropna()
        locks = locks[locks["lock"].astype(str) != ""]
        per_unit = locks.groupby("unit")["lock"].unique()
        clashes = [int(str(u)) for u, reps in per_unit.items() if len(reps) > 1]
        if clashes:
            raise DataValidationError(
                [
                    InputProblem(
                        source, None, "locked_rep",
                        f"family '{ids[u]}' has accounts locked to different reps "
                        f"({', '.join(sorted(map(str, per_unit[u])))})",
                        "lock the whole family to one rep, or split the family",
                    )
                    for u in clashes
                ]
            )  # fmt: skip
        units["locked_rep"] = [per_unit[u][0] if u in per_unit.index else None for u in range(n)]
    if empty_families is not None and len(empty_families):
        extra = empty_families[~empty_families["account_id"].astype(str).isin(set(ids))]
        extra = extra.assign(
            account_id=extra["account_id"].astype(str), potential=0.0, workload=0.0
        )
        units = pd.concat(
            [units, extra[["account_id", "lat", "lon", "potential", "workload"]]],
            ignore_index=True,
        )
    return units, unit_of


@dataclass(frozen=True, eq=False)
class AlignmentProblem:
    """Flat arrays describing one alignment instance.

    Accounts are indexed 0..n-1 in input order and reps 0..R-1. Candidate pairs are sorted by
    account, then rep; ``account_start`` is the CSR offset of each account's pairs, so account ``a``
    may go to ``pair_rep[account_start[a]:account_start[a + 1]]``.
    """

    account_ids: npt.NDArray[np.object_]
    rep_ids: npt.NDArray[np.object_]
    potential: FloatArray
    workload: FloatArray
    capacity: FloatArray
    tier_factor: FloatArray
    potential_target: FloatArray
    workload_target: FloatArray
    potential_lo: FloatArray
    potential_hi: FloatArray
    workload_lo: FloatArray
    workload_hi: FloatArray
    current: IntArray
    locked: IntArray
    pair_account: IntArray
    pair_rep: IntArray
    pair_distance_km: FloatArray
    pair_cost: FloatArray
    account_start: IntArray
    settings: AlignmentSettings
    account_lat: FloatArray
    account_lon: FloatArray
    rep_lat: FloatArray
    rep_lon: FloatArray
    forbidden_keys: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    """Sorted pair keys (account x n_reps + rep) that must never be used."""
    members: Members | None = None
    """Accounts that must stay together, when the problem's "accounts" are families of them."""
    move_cost: FloatArray = field(default_factory=lambda: np.empty(0, dtype=np.float64))
    """Extra objective cost of moving each account away from its current rep (empty: none).

    A Lagrangian price that enforces caps on moved accounts or moved revenue (see
    :func:`territory.workflow.align.align`)."""
    adjacency: sparse.csr_matrix | None = None
    """When set, every rep's accounts (here: basic units) must form one connected piece of
    this symmetric graph over the problem's rows."""

    def allowed(self, accounts: IntArray, reps: IntArray, distance_km: FloatArray) -> BoolArray:
        """Which pairs the rules permit: not forbidden and within the travel limit.

        A locked account may only go to its locked rep, and that pair is always allowed: the lock
        is the user's explicit word.
        """
        ok = np.ones(accounts.shape[0], dtype=bool)
        limit = self.settings.max_distance_km
        if limit is not None:
            ok &= distance_km <= limit
        if self.forbidden_keys.size:
            keys = accounts * self.n_reps + reps
            pos = np.minimum(
                np.searchsorted(self.forbidden_keys, keys), self.forbidden_keys.size - 1
            )
            ok &= self.forbidden_keys[pos] != keys
        lock = self.locked[accounts]
        return (ok & (lock < 0)) | (lock == reps)

    def pair_costs(self, accounts: IntArray, reps: IntArray) -> tuple[FloatArray, FloatArray]:
        """Distance (km) and objective cost of putting each account with the paired rep.

        For a family the cost adds up its members' travel and disruption exactly, and the
        distance is its farthest member's (so a travel limit holds for every member).
        """
        if self.members is not None:
            return self._family_costs(accounts, reps)
        distance = haversine_km(
            self.account_lat[accounts],
            self.account_lon[accounts],
            self.rep_lat[reps],
            self.rep_lon[reps],
        )
        moved = (self.current[accounts] >= 0) & (reps != self.current[accounts])
        cost = self._account_costs(accounts, moved, distance, self.workload, self.potential)
        return distance, np.asarray(cost, dtype=np.float64)

    def _family_costs(self, units: IntArray, reps: IntArray) -> tuple[FloatArray, FloatArray]:
        members = self.members
        assert members is not None
        counts = members.start[units + 1] - members.start[units]
        pair_of = np.repeat(np.arange(units.shape[0]), counts)
        offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        m = members.index[np.repeat(members.start[units], counts) + offsets]
        r = reps[pair_of]
        d = haversine_km(members.lat[m], members.lon[m], self.rep_lat[r], self.rep_lon[r])
        moved = (members.current[m] >= 0) & (r != members.current[m])
        each = self._account_costs(m, moved, d, members.workload, members.potential)
        cost = np.bincount(pair_of, weights=each, minlength=units.shape[0])
        distance = np.zeros(units.shape[0])
        np.maximum.at(distance, pair_of, d)
        return distance, np.asarray(cost, dtype=np.float64)

    def _account_costs(
        self,
        accounts: IntArray,
        moved: BoolArray,
        distance: FloatArray,
        workload: FloatArray,
        potential: FloatArray,
    ) -> FloatArray:
        """Travel, disruption and move cost of each (original) account with its paired rep.

        ``workload`` and ``potential`` are indexed by ``accounts``: the problem's own columns, or
        a family's members' (whose positions are the original accounts').
        """
        cost = self.settings.travel(
            workload[accounts], distance
        ) + self.settings.disruption_weight * np.where(moved, potential[accounts], 0.0)
        if self.move_cost.size:
            cost = cost + np.where(moved, self.move_cost[accounts], 0.0)
        return np.asarray(cost, dtype=np.float64)

    def expand(self, assignment: IntArray) -> IntArray:
        """Rep of every original account from a rep per family (identity without families)."""
        if self.members is None:
            return assignment
        return assignment[self.members.unit_of]

    def with_pairs(self, accounts: IntArray, reps: IntArray) -> AlignmentProblem:
        """Return the same problem with these candidate pairs added (duplicates are merged)."""
        n_reps = self.n_reps
        keys = np.unique(
            np.concatenate([self.pair_account * n_reps + self.pair_rep, accounts * n_reps + reps])
        )
        pair_account = (keys // n_reps).astype(np.int64)
        pair_rep = (keys % n_reps).astype(np.int64)
        distance, cost = self.pair_costs(pair_account, pair_rep)
        keep = self.allowed(pair_account, pair_rep, distance)
        if not keep.all():
            pair_account, pair_rep = pair_account[keep], pair_rep[keep]
            distance, cost = distance[keep], cost[keep]
        account_start = np.searchsorted(pair_account, np.arange(self.n_accounts + 1))
        return replace(
            self,
            pair_account=pair_account,
            pair_rep=pair_rep,
            pair_distance_km=distance,
            pair_cost=cost,
            account_start=account_start.astype(np.int64),
        )

    @property
    def n_accounts(self) -> int:
        """Number of accounts."""
        return len(self.potential)

    @property
    def n_reps(self) -> int:
        """Number of reps."""
        return len(self.capacity)

    @property
    def n_pairs(self) -> int:
        """Number of candidate account-rep pairs (the model's variables)."""
        return len(self.pair_rep)

    def pair_index(self, assignment: IntArray) -> IntArray:
        """Pair position of each account's assigned rep; -1 where that rep is not a candidate."""
        keys = self.pair_account * self.n_reps + self.pair_rep
        wanted = np.arange(self.n_accounts, dtype=np.int64) * self.n_reps + assignment
        pos = np.searchsorted(keys, wanted)
        pos = np.minimum(pos, keys.shape[0] - 1)
        found = keys[pos] == wanted
        return np.where(found, pos, -1).astype(np.int64)

    def objective(self, assignment: IntArray) -> float:
        """Return the solvers' objective for a full assignment.

        That is its travel plus disruption cost, plus the price of cut unit edges.
        """
        pos = self.pair_index(assignment)
        if (pos < 0).any():
            raise ValueError("assignment uses a rep that is not a candidate for some account")
        total = float(self.pair_cost[pos].sum())
        if self.settings.cut_edge_weight and self.adjacency is not None:
            total += self.settings.cut_edge_weight * self.cut_edges(assignment)
        return total

    def cut_edges(self, assignment: IntArray) -> int:
        """Pairs of neighbouring units held by different reps (0 without a unit graph)."""
        if self.adjacency is None:
            return 0
        coo = sparse.triu(self.adjacency, k=1).tocoo()
        return int((assignment[coo.row] != assignment[coo.col]).sum())

    def loads(self, assignment: IntArray) -> tuple[FloatArray, FloatArray]:
        """Potential and workload totals per rep."""
        pot = np.bincount(assignment, weights=self.potential, minlength=self.n_reps)
        wl = np.bincount(assignment, weights=self.workload, minlength=self.n_reps)
        return pot.astype(np.float64), wl.astype(np.float64)

    def violation(self, assignment: IntArray) -> float:
        """Sum of relative window violations over reps; 0 means every balance rule holds."""
        pot, wl = self.loads(assignment)
        return float(window_violation(pot, wl, self).sum())

    def is_feasible(self, assignment: IntArray, rel_tol: float = 1e-9) -> bool:
        """Return True when the assignment meets every rule of the problem.

        Every account is on a candidate rep, every window holds and, under a contiguity rule,
        every territory is connected.
        """
        if (self.pair_index(assignment) < 0).any():
            return False
        if self.violation(assignment) > rel_tol:
            return False
        return self.adjacency is None or not disconnected_reps(self.adjacency, assignment).size


def territory_pieces(adjacency: sparse.csr_matrix, assignment: IntArray) -> IntArray:
    """Label of the connected piece each row belongs to within its rep's territory.

    Two rows share a piece when a path of rows held by the same rep joins them.
    """
    coo = adjacency.tocoo()
    same = assignment[coo.row] == assignment[coo.col]
    n = assignment.shape[0]
    graph = sparse.csr_matrix(
        (np.ones(int(same.sum()), dtype=np.int8), (coo.row[same], coo.col[same])), shape=(n, n)
    )
    _, labels = sparse.csgraph.connected_components(graph, directed=False)
    return np.asarray(labels, dtype=np.int64)


def disconnected_reps(adjacency: sparse.csr_matrix, assignment: IntArray) -> IntArray:
    """Reps whose territory falls apart into more than one piece of the graph."""
    pieces = territory_pieces(adjacency, assignment)
    pairs = np.unique(np.stack([assignment, pieces], axis=1), axis=0)
    reps, counts = np.unique(pairs[:, 0], return_counts=True)
    return np.asarray(reps[counts > 1], dtype=np.int64)


def window_violation(pot: FloatArray, wl: FloatArray, problem: AlignmentProblem) -> FloatArray:
    """Per-rep violation of the potential and workload windows, each relative to its target."""
    p_scale = np.maximum(problem.potential_target, 1e-12)
    w_scale = np.maximum(problem.workload_target, 1e-12)
    over_p = np.maximum(pot - problem.potential_hi, 0.0) + np.maximum(problem.potential_lo - pot, 0)
    over_w = np.maximum(wl - problem.workload_hi, 0.0) + np.maximum(problem.workload_lo - wl, 0.0)
    return np.asarray(over_p / p_scale + over_w / w_scale)


def tier_factors_of(reps: pd.DataFrame, tier_factors: Mapping[str, float]) -> FloatArray:
    """Each rep's potential multiplier; reps without a tier count as tier B."""
    tiers = reps["tier"] if "tier" in reps.columns else pd.Series("B", index=reps.index)
    tiers = tiers.fillna("B").astype(str).str.upper()
    unknown = sorted(set(tiers) - set(tier_factors))
    if unknown:
        raise DataValidationError(
            [
                InputProblem(
                    source="reps",
                    row=None,
                    column="tier",
                    message=(
                        f"tier(s) {unknown} have no tier factor (known: {sorted(tier_factors)})"
                    ),
                    fix="use one of the known tiers or add a factor for the new tier",
                )
            ]
        )
    return np.array([tier_factors[t] for t in tiers], dtype=np.float64)


def require_finite(
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    tier_factor: FloatArray,
    potential_target: FloatArray,
    workload_target: FloatArray,
) -> None:
    """Refuse to solve when an input or a derived target is not a finite number.

    Validated files cannot get here (they are bounded by ``territory.io.MAX_MAGNITUDE``), but
    frames passed with ``validate=False`` and extreme tier factors can: a target of infinity
    would make every window hold and every plan "balanced".
    """
    problems: list[InputProblem] = []
    for table, frame, id_column, columns in (
        ("accounts", accounts, "account_id", ("potential", "workload", "lat", "lon")),
        ("reps", reps, "rep_id", ("capacity", "lat", "lon")),
    ):
        for column in columns:
            values = frame[column].to_numpy(dtype=np.float64)
            bad = np.flatnonzero(~np.isfinite(values))
            if not bad.size:
                continue
            ids = frame[id_column].astype(str).to_numpy()[bad[:5]].tolist()
            problems.append(
                InputProblem(
                    table, None, column,
                    f"{bad.size} row(s) have a {column} that is not a finite number "
                    f"(e.g. {', '.join(repr(i) for i in ids)}: {values[bad[0]]!r})",
                    "validate the tables (territory.io.validate_inputs) and fill in finite values",
                )
            )  # fmt: skip
    if not problems:
        bad_factor = ~np.isfinite(tier_factor) | (tier_factor < 0)
        for name, target in (("potential", potential_target), ("workload", workload_target)):
            if np.isfinite(target).all() and np.isfinite(float(target.sum())):
                continue
            cause = (
                f"tier factor(s) {sorted(set(tier_factor[bad_factor].tolist()))} are not usable"
                if name == "potential" and bad_factor.any()
                else f"the totals overflow: {name} sums or products exceed what float64 holds"
            )
            problems.append(
                InputProblem(
                    "reps", None, f"{name}_target",
                    f"the {name} targets are not finite numbers ({cause})",
                    f"keep each {name} at most 1e12 (territory.io.MAX_MAGNITUDE) and tier "
                    "factors at ordinary sizes (around 1)",
                )
            )  # fmt: skip
    if problems:
        raise DataValidationError(problems)


def targets(total: float, weights: FloatArray) -> FloatArray:
    """Split a total over reps in proportion to weights (capacity, or capacity x tier factor)."""
    weight_sum = float(weights.sum())
    if weight_sum <= 0:
        return np.zeros_like(weights)
    return np.asarray(total * weights / weight_sum, dtype=np.float64)


def _rep_index(values: pd.Series, rep_pos: Mapping[str, int]) -> IntArray:
    """Map rep ids to positions; blanks become -1 (validation has rejected unknown ids)."""
    out = np.full(len(values), -1, dtype=np.int64)
    for i, value in enumerate(values.tolist()):
        if value is not None and value == value and str(value) != "":
            out[i] = rep_pos[str(value)]
    return out


def _nearest_pairs(
    account_xyz: FloatArray, rep_xyz: FloatArray, k: int
) -> tuple[IntArray, IntArray]:
    """Find the k nearest reps of every account, as (account, rep) pair arrays."""
    k = min(k, rep_xyz.shape[0])
    _, idx = cKDTree(rep_xyz).query(account_xyz, k=k)
    idx = np.asarray(idx, dtype=np.int64).reshape(account_xyz.shape[0], k)
    accounts = np.repeat(np.arange(account_xyz.shape[0], dtype=np.int64), k)
    return accounts, idx.ravel()


def _coverage_pairs(
    account_xyz: FloatArray,
    rep_xyz: FloatArray,
    pair_account: IntArray,
    pair_rep: IntArray,
    mass: FloatArray,
    need: FloatArray,
    free: npt.NDArray[np.bool_],
) -> tuple[IntArray, IntArray]:
    """Extra pairs so every rep can reach at least ``need`` of ``mass`` from its candidates.

    Pruning to the nearest reps can leave an out-of-the-way rep with too few candidate accounts
    to fill its window; such a rep then also considers its own nearest accounts.
    """
    n_reps = need.shape[0]
    reachable = np.bincount(pair_rep, weights=mass[pair_account], minlength=n_reps)
    short = np.flatnonzero(reachable < need)
    if short.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    free_idx = np.flatnonzero(free)
    if free_idx.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    tree = cKDTree(account_xyz[free_idx])
    extra_a: list[IntArray] = []
    extra_r: list[IntArray] = []
    for r in short.tolist():
        k = min(64, free_idx.size)
        while True:
            _, nearest = tree.query(rep_xyz[r], k=k)
            nearest = free_idx[np.atleast_1d(nearest)]
            if mass[nearest].sum() >= 1.5 * need[r] or k >= free_idx.size:
                break
            k = min(k * 2, free_idx.size)
        extra_a.append(nearest.astype(np.int64))
        extra_r.append(np.full(nearest.size, r, dtype=np.int64))
    return np.concatenate(extra_a), np.concatenate(extra_r)


def forbidden_pair_keys(
    accounts: pd.DataFrame, reps: pd.DataFrame, forbidden: pd.DataFrame | None
) -> IntArray:
    """Sorted pair keys of account-rep pairs that must never occur (ids not found are errors)."""
    if forbidden is None or len(forbidden) == 0:
        return np.empty(0, dtype=np.int64)
    account_pos = pd.Series(np.arange(len(accounts)), index=accounts["account_id"].astype(str))
    rep_pos = pd.Series(np.arange(len(reps)), index=reps["rep_id"].astype(str))
    a = forbidden["account_id"].astype(str).map(account_pos)
    r = forbidden["rep_id"].astype(str).map(rep_pos)
    problems = [
        InputProblem(
            source="forbidden pairs",
            row=int(i) + 1,
            column=column,
            message=f"{column} '{value}' is not in the {table} table",
            fix=f"correct the id or drop the row; forbidden pairs must name known {table}",
        )
        for column, table, mapped, values in (
            ("account_id", "accounts", a, forbidden["account_id"]),
            ("rep_id", "reps", r, forbidden["rep_id"]),
        )
        for i, value in zip(
            np.flatnonzero(mapped.isna().to_numpy()), values[mapped.isna()], strict=True
        )
    ]
    if problems:
        raise DataValidationError(problems)
    keys = a.to_numpy(dtype=np.int64) * len(reps) + r.to_numpy(dtype=np.int64)
    return np.unique(keys)


def build_problem(
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    settings: AlignmentSettings | None = None,
    *,
    forbidden: pd.DataFrame | None = None,
    move_cost: FloatArray | None = None,
    family_column: str | None = None,
    empty_families: pd.DataFrame | None = None,
) -> AlignmentProblem:
    """Turn validated account and rep frames into an :class:`AlignmentProblem`.

    Potential targets are proportional to capacity x tier factor, workload targets to capacity
    alone. Each account considers its ``settings.candidates`` nearest reps plus its current rep;
    a locked account considers only its locked rep. ``forbidden`` (account_id, rep_id) and
    ``settings.max_distance_km`` remove pairs; an account left without candidates then
    considers every rep the rules allow.
    """
    settings = settings or AlignmentSettings()
    if family_column is not None:
        return _build_families(
            accounts, reps, settings, forbidden=forbidden, move_cost=move_cost,
            family_column=family_column, empty_families=empty_families,
        )  # fmt: skip
    rule = settings.balance
    potential = accounts["potential"].to_numpy(dtype=np.float64)
    workload = accounts["workload"].to_numpy(dtype=np.float64)
    capacity = reps["capacity"].to_numpy(dtype=np.float64)
    tier_factor = tier_factors_of(reps, settings.tier_factors)
    rep_ids = reps["rep_id"].astype(str).to_numpy(dtype=object)
    rep_pos = {rid: i for i, rid in enumerate(rep_ids.tolist())}

    with np.errstate(over="ignore", invalid="ignore"):
        potential_target = targets(float(potential.sum()), capacity * tier_factor)
        workload_target = targets(float(workload.sum()), capacity)
    require_finite(accounts, reps, tier_factor, potential_target, workload_target)
    workload_hi = (1.0 + rule.workload) * workload_target
    if not rule.allow_overtime:
        workload_hi = np.minimum(workload_hi, capacity)

    current = (
        _rep_index(accounts["current_rep"], rep_pos)
        if "current_rep" in accounts.columns
        else np.full(len(accounts), -1, dtype=np.int64)
    )
    locked = (
        _rep_index(accounts["locked_rep"], rep_pos)
        if "locked_rep" in accounts.columns
        else np.full(len(accounts), -1, dtype=np.int64)
    )

    account_xyz = unit_vectors(accounts["lat"].to_numpy(), accounts["lon"].to_numpy())
    rep_xyz = unit_vectors(reps["lat"].to_numpy(), reps["lon"].to_numpy())
    free = locked < 0
    pa, pr = _nearest_pairs(account_xyz, rep_xyz, max(1, settings.candidates))
    keep = free[pa]
    pa, pr = pa[keep], pr[keep]
    has_current = free & (current >= 0)
    cur_a = np.flatnonzero(has_current).astype(np.int64)
    lock_a = np.flatnonzero(~free).astype(np.int64)
    pa = np.concatenate([pa, cur_a, lock_a])
    pr = np.concatenate([pr, current[cur_a], locked[lock_a]])

    for mass, need in (
        (potential, (1.0 + rule.potential) * potential_target),
        (workload, workload_hi),
    ):
        ea, er = _coverage_pairs(account_xyz, rep_xyz, pa, pr, mass, need, free)
        pa, pr = np.concatenate([pa, ea]), np.concatenate([pr, er])

    empty_i = np.empty(0, dtype=np.int64)
    empty_f = np.empty(0, dtype=np.float64)
    base = AlignmentProblem(
        account_ids=accounts["account_id"].astype(str).to_numpy(dtype=object),
        rep_ids=rep_ids,
        potential=potential,
        workload=workload,
        capacity=capacity,
        tier_factor=tier_factor,
        potential_target=potential_target,
        workload_target=workload_target,
        potential_lo=(1.0 - rule.potential) * potential_target,
        potential_hi=(1.0 + rule.potential) * potential_target,
        workload_lo=(1.0 - rule.workload) * workload_target,
        workload_hi=workload_hi,
        current=current,
        locked=locked,
        pair_account=empty_i,
        pair_rep=empty_i,
        pair_distance_km=empty_f,
        pair_cost=empty_f,
        account_start=np.zeros(len(accounts) + 1, dtype=np.int64),
        settings=settings,
        account_lat=accounts["lat"].to_numpy(dtype=np.float64),
        account_lon=accounts["lon"].to_numpy(dtype=np.float64),
        rep_lat=reps["lat"].to_numpy(dtype=np.float64),
        rep_lon=reps["lon"].to_numpy(dtype=np.float64),
        forbidden_keys=forbidden_pair_keys(accounts, reps, forbidden),
        move_cost=(
            np.empty(0, dtype=np.float64)
            if move_cost is None
            else np.asarray(move_cost, dtype=np.float64)
        ),
    )
    problem = base.with_pairs(pa, pr)
    stranded = np.flatnonzero(np.diff(problem.account_start) == 0)
    if stranded.size:
        # Every nearby rep is ruled out: fall back to all reps the rules still allow.
        a = np.repeat(stranded, problem.n_reps)
        r = np.tile(np.arange(problem.n_reps, dtype=np.int64), stranded.size)
        problem = problem.with_pairs(a, r)
    return problem


def _build_families(
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    settings: AlignmentSettings,
    *,
    forbidden: pd.DataFrame | None,
    move_cost: FloatArray | None,
    family_column: str,
    empty_families: pd.DataFrame | None = None,
) -> AlignmentProblem:
    """Build the problem over families: each family is one unit that goes to one rep."""
    units, unit_of = contract_families(accounts, family_column, empty_families=empty_families)
    unit_forbidden = None
    if forbidden is not None and len(forbidden):
        # A pair forbidden for one member is forbidden for the whole family.
        forbidden_pair_keys(accounts, reps, forbidden)  # unknown ids are reported here
        position = pd.Series(unit_of, index=accounts["account_id"].astype(str))
        unit_forbidden = pd.DataFrame(
            {
                "account_id": units["account_id"].to_numpy()[
                    position[forbidden["account_id"].astype(str)].to_numpy()
                ],
                "rep_id": forbidden["rep_id"].astype(str).to_numpy(),
            }
        )
    rep_pos = {rid: i for i, rid in enumerate(reps["rep_id"].astype(str).tolist())}
    current = (
        _rep_index(accounts["current_rep"], rep_pos)
        if "current_rep" in accounts.columns
        else np.full(len(accounts), -1, dtype=np.int64)
    )
    order = np.argsort(unit_of, kind="stable")
    members = Members(
        start=np.searchsorted(unit_of[order], np.arange(len(units) + 1)).astype(np.int64),
        index=order.astype(np.int64),
        unit_of=unit_of,
        lat=accounts["lat"].to_numpy(dtype=np.float64),
        lon=accounts["lon"].to_numpy(dtype=np.float64),
        workload=accounts["workload"].to_numpy(dtype=np.float64),
        potential=accounts["potential"].to_numpy(dtype=np.float64),
        current=current,
    )
    # Every member's current rep is a candidate for its family.
    unit_problem = build_problem(units, reps, settings, forbidden=unit_forbidden)
    extra_a = unit_of[current >= 0]
    extra_r = current[current >= 0]
    family = replace(
        unit_problem,
        members=members,
        move_cost=np.empty(0) if move_cost is None else np.asarray(move_cost, np.float64),
    )
    return family.with_pairs(extra_a.astype(np.int64), extra_r.astype(np.int64))


def connector_units(
    accounts: pd.DataFrame,
    family_column: str,
    names: Sequence[str],
    edges: IntArray,
    lonlat: FloatArray,
) -> pd.DataFrame:
    """Units of the graph without accounts that still join two parts holding accounts.

    They enter the problem as empty families so that a territory may run through them. Units
    in a part of the graph with no account at all connect nothing and are left out.
    """
    n = len(names)
    held = set(accounts[family_column].dropna().astype(str))
    has = np.array([name in held for name in names], dtype=bool)
    graph = sparse.csr_matrix(
        (np.ones(edges.shape[0], dtype=np.int8), (edges[:, 0], edges[:, 1])), shape=(n, n)
    )
    _, part = sparse.csgraph.connected_components(graph, directed=False)
    useful = np.isin(part, np.unique(part[has])) & ~has
    keep = np.flatnonzero(useful)
    return pd.DataFrame(
        {
            "account_id": [names[i] for i in keep.tolist()],
            "lat": lonlat[keep, 1],
            "lon": lonlat[keep, 0],
        }
    )


def with_unit_graph(
    problem: AlignmentProblem, names: Sequence[str], edges: IntArray, source: str = "units"
) -> AlignmentProblem:
    """Return the problem with a contiguity rule over its rows, which must be units of the graph.

    ``names`` are the graph's unit ids and ``edges`` its (u, v) pairs by position.
    """
    position = {str(name): i for i, name in enumerate(names)}
    rows = np.array([position.get(str(r), -1) for r in problem.account_ids.tolist()])
    missing = np.flatnonzero(rows < 0)
    if missing.size:
        shown = ", ".join(str(problem.account_ids[i]) for i in missing[:5].tolist())
        raise DataValidationError(
            [
                InputProblem(
                    source, None, "unit_id",
                    f"{missing.size} account group(s) have no unit in the unit graph "
                    f"(e.g. {shown}), so contiguity cannot be judged for them",
                    "give every account a unit_id of the unit layer (or a location inside one), "
                    "or align without --contiguity",
                )
            ]
        )  # fmt: skip
    row_of = np.full(len(names), -1, dtype=np.int64)
    row_of[rows] = np.arange(rows.size)
    u, v = row_of[edges[:, 0]], row_of[edges[:, 1]]
    keep = (u >= 0) & (v >= 0)
    u, v = u[keep], v[keep]
    n = problem.n_accounts
    adj = sparse.csr_matrix(
        (np.ones(2 * u.size, dtype=np.int8), (np.concatenate([u, v]), np.concatenate([v, u]))),
        shape=(n, n),
    )
    adj.sum_duplicates()
    adj.data[:] = 1
    return replace(problem, adjacency=adj)
