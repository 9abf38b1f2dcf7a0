"""Districting on a dual graph of basic units: balance, contiguity and compactness metrics.

A *plan* assigns every basic unit (graph node ``0..n-1``) to a district; it is an integer array
aligned with the nodes. The metrics below are pure functions of a plan and the graph. They do
no IO, print nothing and never modify their inputs, and each one returns a number that can be
compared exactly with the values published for the US county benchmarks in
``../shared/benchmarks/`` (Validi & Buchanan 2022; Validi, Buchanan & Lykhovyd 2022;
Zhang et al. 2024):

- :func:`balance_bounds` / :func:`population_balance`: ``L = ceil((1 - tau/2) P/k)``,
  ``U = floor((1 + tau/2) P/k)``, the papers' "1% deviation" (±0.5% around ``P/k``);
- :func:`district_components` / :func:`is_contiguous`: every district induces a connected subgraph;
- :func:`cut_edges`: undirected edges whose ends lie in different districts;
- :func:`moment_of_inertia`: ``sum_i p_i d(i, c(i))^2`` with the best centre unit inside each
  district (p-median style), for any distance matrix; :func:`rounded_km_distances` with
  :func:`project_lonlat` gives the papers' projected, whole-km distances (divide by ``1e6``);
- :func:`hess_hop_objective`: ``sum_i p_i h(i, c(i))`` with ``h`` the number of hops in the graph.

Reading the benchmark files is :mod:`territory.io.benchmark_graphs`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.sparse import csgraph

from territory.errors import DataValidationError, InputProblem

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

METRES_PER_STATUTE_MILE = 1609.344
"""International statute mile, the unit of the Oklahoma geodesic moment-of-inertia anchors."""

# --------------------------------------------------------------------------------------------
# Graph
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DualGraph:
    """Undirected graph of basic units with a population per unit.

    ``edges`` holds each undirected edge once as ``(u, v)`` with ``u < v``. Coordinates are
    optional (lon/lat degrees): ``centroid_lonlat`` is DeFord's ``C_X``/``C_Y`` and
    ``point_lonlat`` the Census internal point ``INTPTLON*``/``INTPTLAT*``.
    """

    population: IntArray
    edges: IntArray
    names: tuple[str, ...] = ()
    centroid_lonlat: FloatArray | None = None
    point_lonlat: FloatArray | None = None

    @property
    def n(self) -> int:
        """Number of units."""
        return int(self.population.shape[0])

    @property
    def m(self) -> int:
        """Number of undirected edges."""
        return int(self.edges.shape[0])

    def adjacency(self) -> sparse.csr_matrix:
        """Symmetric 0/1 adjacency matrix (CSR)."""
        u, v = self.edges[:, 0], self.edges[:, 1]
        data = np.ones(2 * self.m, dtype=np.int8)
        rows = np.concatenate([u, v])
        cols = np.concatenate([v, u])
        return sparse.csr_matrix((data, (rows, cols)), shape=(self.n, self.n))


def graph_from_edges(
    population: npt.ArrayLike, edges: Sequence[tuple[int, int]] | npt.ArrayLike
) -> DualGraph:
    """Build a :class:`DualGraph` from populations and an edge list (either direction, repeats ok).

    Self-loops are dropped; they never cut and never connect anything.

    Parameters
    ----------
    population
        Population per unit (node ``i`` is unit ``i``).
    edges
        Pairs of unit indices that touch.

    Returns
    -------
    DualGraph
        The graph, each undirected edge once.
    """
    pop = np.asarray(population, dtype=np.int64)
    arr = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    n = pop.shape[0]
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        bad = sorted({int(x) for x in arr.ravel() if x < 0 or x >= n})[:10]
        raise ValueError(f"Edges refer to unit ids {bad} outside 0..{n - 1}; fix the edge list.")
    arr = np.sort(arr, axis=1)
    arr = arr[arr[:, 0] != arr[:, 1]]
    arr = np.unique(arr, axis=0) if arr.size else np.zeros((0, 2), dtype=np.int64)
    return DualGraph(population=pop, edges=arr.astype(np.int64))


def grid_graph(rows: int, cols: int, population: npt.ArrayLike | None = None) -> DualGraph:
    """Rook-adjacency grid, nodes numbered row-major; population 1 per cell unless given.

    Parameters
    ----------
    rows, cols
        Grid size.
    population
        Population per cell, row-major; 1 each when omitted.

    Returns
    -------
    DualGraph
        The grid graph.
    """
    edges = [(r * cols + c, r * cols + c + 1) for r in range(rows) for c in range(cols - 1)]
    edges += [(r * cols + c, (r + 1) * cols + c) for r in range(rows - 1) for c in range(cols)]
    pop = np.ones(rows * cols, dtype=np.int64) if population is None else population
    return graph_from_edges(pop, edges)


def _as_plan(plan: npt.ArrayLike, n: int) -> IntArray:
    arr = np.asarray(plan)
    if arr.shape != (n,):
        raise ValueError(
            f"The plan has shape {arr.shape} but the graph has {n} units; "
            "give one district label per unit, in node order."
        )
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"District labels must be integers, got dtype {arr.dtype}.")
    return arr.astype(np.int64)


def district_labels(plan: npt.ArrayLike) -> IntArray:
    """Return the distinct district labels used by ``plan``, sorted.

    Parameters
    ----------
    plan
        District label per unit.

    Returns
    -------
    numpy.ndarray
        The labels, ascending.
    """
    return np.unique(np.asarray(plan, dtype=np.int64))


# --------------------------------------------------------------------------------------------
# Population balance
# --------------------------------------------------------------------------------------------


def balance_bounds(total_population: int, k: int, deviation: float = 0.01) -> tuple[int, int]:
    """Integer bounds ``(L, U)`` on a district's population, as the papers compute them.

    ``deviation`` is the papers' total deviation tau (``0.01`` means ±0.5% around ``P/k``):
    ``L = ceil((1 - tau/2) P/k)`` and ``U = floor((1 + tau/2) P/k)``.

    Parameters
    ----------
    total_population
        Population of all units, ``P``.
    k
        Number of districts.
    deviation
        Total deviation tau.

    Returns
    -------
    tuple of int
        ``(L, U)``.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}.")
    ideal = total_population / k
    return math.ceil((1 - deviation / 2) * ideal), math.floor((1 + deviation / 2) * ideal)


@dataclass(frozen=True)
class PopulationBalance:
    """District populations against the ideal ``P/k`` and the bounds ``[lower, upper]``."""

    district_populations: IntArray
    ideal: float
    lower: int
    upper: int
    max_relative_deviation: float
    within_bounds: bool


def population_balance(
    plan: npt.ArrayLike,
    population: npt.ArrayLike,
    *,
    deviation: float = 0.01,
    bounds: tuple[int, int] | None = None,
) -> PopulationBalance:
    """Measure each district's population, its largest deviation from ``P/k``, the bound check.

    k is the number of distinct labels in ``plan``. ``bounds`` overrides the computed
    ``(L, U)``, for comparing with a published row whose bounds were rounded differently.

    Parameters
    ----------
    plan
        District label per unit.
    population
        Population per unit.
    deviation
        Total deviation tau for the bounds (see :func:`balance_bounds`).
    bounds
        ``(L, U)`` to use instead of the computed ones.

    Returns
    -------
    PopulationBalance
        Populations, deviation and whether every district lies within the bounds.
    """
    pop = np.asarray(population, dtype=np.int64)
    labels = _as_plan(plan, pop.shape[0])
    _, inverse = np.unique(labels, return_inverse=True)
    k = int(inverse.max()) + 1 if inverse.size else 0
    district_pop = np.bincount(inverse, weights=pop, minlength=k).astype(np.int64)
    total = int(pop.sum())
    ideal = total / k if k else 0.0
    lower, upper = bounds if bounds is not None else balance_bounds(total, max(k, 1), deviation)
    max_dev = float(np.max(np.abs(district_pop - ideal)) / ideal) if k and ideal else 0.0
    within = bool(k) and bool(np.all((district_pop >= lower) & (district_pop <= upper)))
    return PopulationBalance(district_pop, ideal, int(lower), int(upper), max_dev, within)


# --------------------------------------------------------------------------------------------
# Contiguity and cut edges
# --------------------------------------------------------------------------------------------


def district_components(plan: npt.ArrayLike, graph: DualGraph) -> dict[int, int]:
    """Count the connected pieces of each district's induced subgraph, keyed by district label.

    Parameters
    ----------
    plan
        District label per unit.
    graph
        The units' dual graph.

    Returns
    -------
    dict
        Label to number of connected pieces (1 for a contiguous district).
    """
    labels = _as_plan(plan, graph.n)
    u, v = graph.edges[:, 0], graph.edges[:, 1]
    internal = labels[u] == labels[v]
    # Inside-district edges only: a component of this graph never spans two districts.
    inner = sparse.csr_matrix(
        (np.ones(int(internal.sum()), dtype=np.int8), (u[internal], v[internal])),
        shape=(graph.n, graph.n),
    )
    _, component = csgraph.connected_components(inner, directed=False)
    pieces: dict[int, int] = {}
    for label in district_labels(labels):
        pieces[int(label)] = int(np.unique(component[labels == label]).size)
    return pieces


def noncontiguous_districts(plan: npt.ArrayLike, graph: DualGraph) -> list[int]:
    """Labels of the districts that fall apart into more than one piece.

    Parameters
    ----------
    plan, graph
        A plan and the graph it lives on, as for :func:`district_components`.

    Returns
    -------
    list of int
        The labels, ascending.
    """
    return [d for d, count in district_components(plan, graph).items() if count > 1]


def is_contiguous(plan: npt.ArrayLike, graph: DualGraph) -> bool:
    """Tell whether every district induces a connected subgraph.

    Parameters
    ----------
    plan, graph
        The plan to test, and which units touch.

    Returns
    -------
    bool
        True when no district falls apart.
    """
    return not noncontiguous_districts(plan, graph)


def cut_edges(plan: npt.ArrayLike, graph: DualGraph) -> int:
    """Count the undirected edges whose two units lie in different districts.

    Parameters
    ----------
    plan, graph
        The plan (label per unit) and the graph whose edges are counted.

    Returns
    -------
    int
        The number of cut edges.
    """
    labels = _as_plan(plan, graph.n)
    return int(np.count_nonzero(labels[graph.edges[:, 0]] != labels[graph.edges[:, 1]]))


# --------------------------------------------------------------------------------------------
# Centred compactness: moment of inertia and hop-distance Hess
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CentredObjective:
    """A p-median style objective: its total, the centre unit and the cost of each district.

    ``centres`` and ``district_costs`` are keyed by district label.
    """

    value: float
    centres: dict[int, int]
    district_costs: dict[int, float]


def _centred_objective(
    labels: IntArray,
    weights: FloatArray,
    cost_to: Callable[[IntArray, IntArray], FloatArray],
    centres: Mapping[int, int] | None,
) -> CentredObjective:
    """Best centre per district; ``cost_to(members, candidates)`` gives the cost matrix."""
    chosen: dict[int, int] = {}
    costs: dict[int, float] = {}
    for label in district_labels(labels):
        d = int(label)
        members = np.flatnonzero(labels == label)
        if centres is not None and d in centres:
            candidates = np.asarray([centres[d]], dtype=np.int64)
            if labels[candidates[0]] != d:
                raise ValueError(
                    f"Centre unit {centres[d]} is not in district {d}; a centre must be one of "
                    "its district's units."
                )
        else:
            candidates = members
        matrix = np.asarray(cost_to(members, candidates), dtype=np.float64)
        totals = weights[members] @ matrix
        best = int(np.argmin(totals))
        chosen[d] = int(candidates[best])
        costs[d] = float(totals[best])
    return CentredObjective(float(sum(costs.values())), chosen, costs)


def moment_of_inertia(
    plan: npt.ArrayLike,
    population: npt.ArrayLike,
    distance: npt.ArrayLike,
    *,
    centres: Mapping[int, int] | None = None,
    scale: float = 1.0,
) -> CentredObjective:
    """``scale * sum_i p_i d(i, c(i))^2`` with the centre ``c`` a unit of each district.

    ``distance`` is an ``n x n`` matrix in any unit. Each district's centre is the unit inside it
    that minimises its cost, unless ``centres`` fixes it. With :func:`rounded_km_distances` and
    ``scale=1e-6`` this is the published Hess moment of inertia of Validi, Buchanan & Lykhovyd.

    Parameters
    ----------
    plan
        District label per unit.
    population
        Population per unit, ``p``.
    distance
        Distance matrix between units, ``d``.
    centres
        District label to its centre unit, where fixed.
    scale
        Factor applied to the sum.

    Returns
    -------
    CentredObjective
        The value and the centres used.
    """
    pop = np.asarray(population, dtype=np.float64)
    labels = _as_plan(plan, pop.shape[0])
    dist = np.asarray(distance, dtype=np.float64)
    if dist.shape != (pop.shape[0], pop.shape[0]):
        raise ValueError(f"distance must be {pop.shape[0]} x {pop.shape[0]}, got {dist.shape}.")

    def cost_to(members: IntArray, candidates: IntArray) -> FloatArray:
        return np.asarray(dist[np.ix_(members, candidates)] ** 2)

    result = _centred_objective(labels, pop, cost_to, centres)
    if scale == 1.0:
        return result
    return CentredObjective(
        result.value * scale,
        result.centres,
        {d: c * scale for d, c in result.district_costs.items()},
    )


def hop_distances(graph: DualGraph, sources: npt.ArrayLike | None = None) -> FloatArray:
    """Unweighted shortest-path lengths (hops) from ``sources`` (all units if None) to every unit.

    Unreachable pairs are ``inf``.

    Parameters
    ----------
    graph
        The units' dual graph.
    sources
        Units to measure from; all units when None.

    Returns
    -------
    numpy.ndarray
        Shape ``(sources, units)``.
    """
    idx = None if sources is None else np.asarray(sources, dtype=np.int64)
    return np.asarray(
        csgraph.shortest_path(graph.adjacency(), directed=False, unweighted=True, indices=idx)
    )


def hess_hop_objective(
    plan: npt.ArrayLike, graph: DualGraph, *, centres: Mapping[int, int] | None = None
) -> CentredObjective:
    """``sum_i p_i h(i, c(i))`` with ``h`` the hop distance in the whole graph (Zhang et al. 2024).

    Each district's centre is the unit inside it that minimises its cost, unless ``centres``
    fixes it. The value is an integer whenever the populations are.

    Parameters
    ----------
    plan
        District label per unit.
    graph
        The units' dual graph (populations included).
    centres
        District label to its centre unit, where fixed.

    Returns
    -------
    CentredObjective
        The value and the centres used.
    """
    labels = _as_plan(plan, graph.n)

    def cost_to(members: IntArray, candidates: IntArray) -> FloatArray:
        return hop_distances(graph, candidates)[:, members].T

    return _centred_objective(labels, graph.population.astype(np.float64), cost_to, centres)


def rounded_km_distances(x_m: npt.ArrayLike, y_m: npt.ArrayLike) -> IntArray:
    """Euclidean distances between projected points (metres), rounded to whole km.

    This is the authors' ``D_ij = round(dist_metres / 1000)``; Python's round, like numpy's,
    rounds halves to even.

    Parameters
    ----------
    x_m, y_m
        Projected coordinates in metres.

    Returns
    -------
    numpy.ndarray
        ``n x n`` integer kilometres.
    """
    x = np.asarray(x_m, dtype=np.float64)
    y = np.asarray(y_m, dtype=np.float64)
    metres = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    return np.rint(metres / 1000.0).astype(np.int64)


def project_lonlat(
    lon: npt.ArrayLike, lat: npt.ArrayLike, epsg: int
) -> tuple[FloatArray, FloatArray]:
    """Project lon/lat degrees (EPSG:4326) to the projected CRS ``epsg``; returns metres.

    Needs ``pyproj`` (installed with geopandas).

    Parameters
    ----------
    lon, lat
        Degrees in WGS 84.
    epsg
        The target CRS.

    Returns
    -------
    x, y : numpy.ndarray
        Projected coordinates in metres.
    """
    try:
        from pyproj import Transformer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "project_lonlat needs pyproj; install it with `pip install pyproj` (geopandas "
            "brings it)."
        ) from exc
    transformer = Transformer.from_crs(4326, int(epsg), always_xy=True)
    x, y = transformer.transform(
        np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    )
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def geodesic_miles(lon: npt.ArrayLike, lat: npt.ArrayLike) -> FloatArray:
    """Matrix of WGS-84 geodesic distances in statute miles between lon/lat points (pyproj).

    Parameters
    ----------
    lon, lat
        Degrees in WGS 84.

    Returns
    -------
    numpy.ndarray
        ``n x n`` distances in statute miles.
    """
    try:
        from pyproj import Geod
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "geodesic_miles needs pyproj; install it with `pip install pyproj`."
        ) from exc
    lo = np.asarray(lon, dtype=np.float64)
    la = np.asarray(lat, dtype=np.float64)
    n = lo.shape[0]
    lon1, lon2 = np.repeat(lo, n), np.tile(lo, n)
    lat1, lat2 = np.repeat(la, n), np.tile(la, n)
    _, _, metres = Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)
    return np.asarray(metres, dtype=np.float64).reshape(n, n) / METRES_PER_STATUTE_MILE


# --------------------------------------------------------------------------------------------
# One-call evaluation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanEvaluation:
    """Balance, contiguity and cut edges of one plan."""

    k: int
    balance: PopulationBalance
    components: dict[int, int]
    contiguous: bool
    cut_edges: int


def evaluate_plan(
    plan: npt.ArrayLike,
    graph: DualGraph,
    *,
    deviation: float = 0.01,
    bounds: tuple[int, int] | None = None,
) -> PlanEvaluation:
    """Evaluate the objective-free properties of ``plan`` on ``graph``.

    Parameters
    ----------
    plan, graph
        The plan and the dual graph it is drawn on.
    deviation, bounds
        As for :func:`population_balance`.

    Returns
    -------
    PlanEvaluation
        Balance, contiguity and cut edges.
    """
    labels = _as_plan(plan, graph.n)
    components = district_components(labels, graph)
    return PlanEvaluation(
        k=len(components),
        balance=population_balance(labels, graph.population, deviation=deviation, bounds=bounds),
        components=components,
        contiguous=all(c == 1 for c in components.values()),
        cut_edges=cut_edges(labels, graph),
    )


# --------------------------------------------------------------------------------------------
# Plans given unit by unit
# --------------------------------------------------------------------------------------------


def plan_from_mapping(assignment: Mapping[int, int], n: int, source: str = "plan") -> IntArray:
    """Turn ``{unit: district}`` into a plan array, checking every unit is assigned exactly once.

    Parameters
    ----------
    assignment
        Unit index to district label.
    n
        Number of units.
    source
        How messages name the plan.

    Returns
    -------
    numpy.ndarray
        District label per unit.

    Raises
    ------
    DataValidationError
        A unit is missing, repeated or out of range.
    """
    plan = np.full(n, -1, dtype=np.int64)
    for unit, district in assignment.items():
        if not 0 <= int(unit) < n:
            raise DataValidationError(
                [
                    InputProblem(
                        source,
                        None,
                        None,
                        f"unit {unit} is outside 0..{n - 1}",
                        "use node ids of the graph",
                    )
                ]
            )
        plan[int(unit)] = int(district)
    missing = np.flatnonzero(plan < 0)
    if missing.size:
        raise DataValidationError(
            [
                InputProblem(
                    source,
                    None,
                    None,
                    f"{missing.size} unit(s) have no district, e.g. {missing[:10].tolist()}",
                    "assign every unit of the graph",
                )
            ]
        )
    return plan
