"""Our exact districting backends against the published optima in ``../shared/benchmarks``.

Per state and objective (A: cut edges; B: moment of inertia with the projected, rounded-km
recipe; C: hop-distance Hess, 2020), with and without contiguity where published: the published
value, ours, our proven bound, gap, seconds and status. Also the four states that are infeasible
with contiguity at ±0.5% (CO, NH, OR, SC), Oklahoma 2020 (a county above U) and the open tract
instances (UT, MS, AR, NV; our bound and plan next to the best known [LB, UB]).

Every plan is re-checked with ``territory.domain.districting`` (balance with the published L/U,
contiguity, objective) before it is written to ``out/bench/districting/``. Rows are merged into
``out/bench/districting.csv`` by (instance, objective, contiguity), so subsets can be run with
different time limits.

    python bench/bench_districting.py [--time-limit 600] [--only ME,OK] [--objective moi] [--quick]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.published import (  # noqa: E402
    BENCH,
    CUT,
    CUT_EDGES_COUNTY,
    CUT_EDGES_OPEN_TRACT,
    FIPS,
    HOP,
    HOP_HESS_2020,
    MOI,
    MOI_COUNTY,
    MOI_INFEASIBLE,
    county_graph_path,
)
from solvers.base import SolveStatus  # noqa: E402
from solvers.districting import DistrictingSolution, solve_districting  # noqa: E402
from territory.domain.districting import (  # noqa: E402
    DualGraph,
    balance_bounds,
    cut_edges,
    evaluate_plan,
    hess_hop_objective,
    hop_distances,
    moment_of_inertia,
    project_lonlat,
    rounded_km_distances,
)
from territory.io.benchmark_graphs import (  # noqa: E402
    load_dual_graph,
    load_epsg_by_state,
    load_lonlat_csv,
)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "out" / "bench"

QUICK = ("ME", "NM", "OK")
COLUMNS = [
    "instance", "objective", "contiguity", "published", "ours", "bound", "seconds", "status",
    "n", "k", "L", "U", "backend", "gap", "match", "check", "detail",
]  # fmt: skip


@dataclass(frozen=True)
class Instance:
    """One benchmark row: graph, k, bounds, objective and the published value to reach."""

    name: str
    state: str
    objective: str  # cut_edges | moi | hop_hess
    contiguity: bool
    k: int
    lower: int
    upper: int
    published: str  # a number, "infeasible" or "[LB,UB]"
    graph_path: Path
    tolerance: float = 0.0


def _instances() -> Iterator[Instance]:
    for st, (k, lo, hi, with_c, without_c) in CUT_EDGES_COUNTY.items():
        path = county_graph_path(st)
        yield Instance(f"{st}-county", st, "cut_edges", True, k, lo, hi, str(with_c), path)
        yield Instance(f"{st}-county", st, "cut_edges", False, k, lo, hi, str(without_c), path)
    for st, (k, lo, hi, moi_free, moi_contig) in MOI_COUNTY.items():
        path = county_graph_path(st)
        yield Instance(f"{st}-county", st, "moi", True, k, lo, hi, f"{moi_contig:.2f}", path, 0.005)
        yield Instance(f"{st}-county", st, "moi", False, k, lo, hi, f"{moi_free:.2f}", path, 0.005)
    for st, (k, lo, hi) in MOI_INFEASIBLE.items():
        path = county_graph_path(st)
        yield Instance(f"{st}-county", st, "moi", True, k, lo, hi, "infeasible", path)
    for st, (value, k, lo, hi) in HOP_HESS_2020.items():
        path = HOP / "dual_graphs" / f"{st}_counties.json"
        yield Instance(f"{st}-county2020", st, "hop_hess", True, k, lo, hi, str(value), path)
    ok2020 = HOP / "dual_graphs" / "OK_counties.json"
    if ok2020.is_file():
        pop = int(load_dual_graph(ok2020).population.sum())
        lo, hi = balance_bounds(pop, 5)
        yield Instance("OK-county2020", "OK", "hop_hess", True, 5, lo, hi, "infeasible", ok2020)
    for st, (k, lo, hi, lb, ub) in CUT_EDGES_OPEN_TRACT.items():
        path = CUT / "tract" / f"tract{FIPS[st]:02d}.json"
        yield Instance(f"{st}-tract", st, "cut_edges", True, k, lo, hi, f"[{lb},{ub}]", path)


def _moi_km(state: str, graph: DualGraph) -> np.ndarray:
    """The papers' distances: projected to the state plane, rounded to whole km."""
    if graph.centroid_lonlat is not None:
        lonlat = graph.centroid_lonlat
    else:  # MS: no C_X/C_Y in the JSON; centroids derived from the shapefile.
        lonlat = load_lonlat_csv(MOI / "derived/MS_county_centroids_from_shapefile.csv", graph.n)
    epsg = load_epsg_by_state(MOI / "derived/epsg_by_state.csv")[state]
    x_m, y_m = project_lonlat(lonlat[:, 0], lonlat[:, 1], epsg)
    return rounded_km_distances(x_m, y_m).astype(np.float64)


def _cost(inst: Instance, graph: DualGraph) -> np.ndarray | None:
    pop = graph.population.astype(np.float64)
    if inst.objective == "moi":
        return pop[:, None] * _moi_km(inst.state, graph) ** 2 * 1e-6
    if inst.objective == "hop_hess":
        return pop[:, None] * hop_distances(graph)
    return None


def _evaluate(inst: Instance, graph: DualGraph, plan: np.ndarray) -> tuple[float, list[str]]:
    """Our evaluator's objective for the plan, and what fails its checks (empty when none)."""
    problems: list[str] = []
    check = evaluate_plan(plan, graph, bounds=(inst.lower, inst.upper))
    if check.k != inst.k:
        problems.append(f"{check.k} districts, not {inst.k}")
    if not check.balance.within_bounds:
        problems.append(f"populations {check.balance.district_populations.tolist()} outside L/U")
    if inst.contiguity and not check.contiguous:
        problems.append("a district is not contiguous")
    if inst.objective == "cut_edges":
        return float(cut_edges(plan, graph)), problems
    if inst.objective == "moi":
        dist = _moi_km(inst.state, graph)
        return moment_of_inertia(plan, graph.population, dist, scale=1e-6).value, problems
    return hess_hop_objective(plan, graph).value, problems


def _match(inst: Instance, ours: float | None, sol: DistrictingSolution) -> str:
    if inst.published == "infeasible":
        return "yes" if sol.status == SolveStatus.INFEASIBLE else "MISS"
    if inst.published.startswith("["):
        lb, ub = (int(v) for v in inst.published.strip("[]").split(","))
        if ours is None:
            return "no plan"
        if ours < ub:
            return "beats best known UB"
        return "ties best known UB" if ours == ub else "above best known UB"
    if ours is None:
        return "MISS"
    published = float(inst.published)
    tol = inst.tolerance + 1e-6
    if abs(ours - published) <= tol:
        return "exact" if sol.status == SolveStatus.OPTIMAL else "reached, not proven"
    if ours < published - tol:
        return "BETTER THAN PUBLISHED (bug?)"
    return "MISS"


def _fmt(value: float | None, objective: str) -> str:
    if value is None:
        return ""
    return f"{value:.2f}" if objective == "moi" else f"{value:.0f}"


def _write_plan(inst: Instance, plan: np.ndarray) -> Path:
    suffix = "" if inst.contiguity else "-nocontig"
    path = OUT / "districting" / f"{inst.name}-{inst.objective}{suffix}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    nodes = [{"index": i, "district": int(d)} for i, d in enumerate(plan.tolist())]
    path.write_text(json.dumps({"nodes": nodes}), encoding="utf-8")
    return path


def run(inst: Instance, time_limit: float, backend: str, threads: int) -> dict[str, str]:
    """Solve one instance, verify the plan independently, write it, return the CSV row."""
    graph = load_dual_graph(inst.graph_path)
    cost = _cost(inst, graph)
    objective = "cut_edges" if inst.objective == "cut_edges" else "centred"
    sol = solve_districting(
        graph,
        inst.k,
        lower=[inst.lower],
        upper=[inst.upper],
        objective=objective,  # type: ignore[arg-type]
        cost=cost,
        contiguity=inst.contiguity,
        backend=backend,  # type: ignore[arg-type]
        time_limit_s=time_limit,
        threads=threads,
    )
    ours: float | None = None
    problems: list[str] = []
    if sol.plan.size:
        ours, problems = _evaluate(inst, graph, sol.plan)
        # The evaluator picks the best centre per district, so it may only improve on ours.
        off = sol.objective is not None and abs(ours - sol.objective) > 1e-6 * max(1.0, ours)
        if off and not (objective == "centred" and ours < (sol.objective or 0.0)):
            problems.append(f"solver says {sol.objective}, evaluator {ours}")
        if not problems:
            _write_plan(inst, sol.plan)
    detail = "; ".join(f"{k}={v}" for k, v in sol.detail.items())
    if sol.reasons:
        detail = " | ".join(sol.reasons) + (f" ({detail})" if detail else "")
    return {
        "instance": inst.name,
        "objective": inst.objective,
        "contiguity": "yes" if inst.contiguity else "no",
        "published": inst.published,
        "ours": _fmt(ours, inst.objective),
        "bound": _fmt(sol.bound, inst.objective),
        "seconds": f"{sol.seconds:.1f}",
        "status": sol.status.value,
        "n": str(graph.n),
        "k": str(inst.k),
        "L": str(inst.lower),
        "U": str(inst.upper),
        "backend": sol.backend,
        "gap": "" if sol.gap is None else f"{sol.gap:.4f}",
        "match": _match(inst, ours, sol),
        "check": "ok" if not problems else "MISMATCH: " + "; ".join(problems),
        "detail": detail,
    }


def _merge_csv(path: Path, rows: list[dict[str, str]]) -> None:
    """Replace rows with the same (instance, objective, contiguity), keep the others."""
    key = ("instance", "objective", "contiguity")
    existing: dict[tuple[str, ...], dict[str, str]] = {}
    if path.is_file():
        with path.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                existing[tuple(row[c] for c in key)] = row
    for row in rows:
        existing[tuple(row[c] for c in key)] = row
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in existing.values():
            writer.writerow({c: row.get(c, "") for c in COLUMNS})


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _header(args: argparse.Namespace) -> str:
    from importlib.metadata import version as dist_version

    import highspy

    highs = highspy.Highs()
    version = f"{highs.versionMajor()}.{highs.versionMinor()}.{highs.versionPatch()}"
    return (
        f"# {_cpu()}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}\n"
        f"# HiGHS {version} (highspy), OR-Tools {dist_version('ortools')}; backend={args.backend}, "
        f"threads={args.threads}, time limit {args.time_limit:g} s per instance"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--time-limit", type=float, default=600.0, help="seconds per instance")
    parser.add_argument("--only", default="", help="comma-separated states, e.g. ME,OK")
    parser.add_argument("--objective", choices=["cut_edges", "moi", "hop_hess"], default=None)
    parser.add_argument("--contiguity", choices=["yes", "no", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help=f"smoke subset: {', '.join(QUICK)}")
    parser.add_argument("--tracts", choices=["yes", "no"], default="yes", help="open tract rows")
    parser.add_argument("--backend", choices=["auto", "mip", "cpsat"], default="auto")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if not BENCH.is_dir():
        print(f"benchmark folder {BENCH} is absent; nothing to run.")
        return 0
    only = {s.strip().upper() for s in args.only.split(",") if s.strip()}
    if args.quick:
        only = set(QUICK)
    chosen = [
        inst
        for inst in _instances()
        if (not only or inst.state in only)
        and (args.objective is None or inst.objective == args.objective)
        and (args.contiguity == "both" or (inst.contiguity == (args.contiguity == "yes")))
        and inst.graph_path.is_file()
        and (args.tracts == "yes" or not inst.name.endswith("-tract"))
        and not (args.quick and inst.name.endswith("-tract"))
    ]
    print(_header(args))
    head = (
        f"{'instance':<15} {'objective':<9} {'contig':<6} {'published':>12} {'ours':>12} "
        f"{'bound':>12} {'gap':>7} {'seconds':>8} {'status':<10} match / check"
    )
    print(head)
    print("-" * len(head))
    rows: list[dict[str, str]] = []
    started = time.perf_counter()
    for inst in chosen:
        row = run(inst, args.time_limit, args.backend, args.threads)
        rows.append(row)
        print(
            f"{row['instance']:<15} {row['objective']:<9} {row['contiguity']:<6} "
            f"{row['published']:>12} {row['ours']:>12} {row['bound']:>12} {row['gap']:>7} "
            f"{row['seconds']:>8} {row['status']:<10} {row['match']} / {row['check']}",
            flush=True,
        )
        if row["status"] == SolveStatus.INFEASIBLE.value:
            print(f"    {row['detail']}")
        _merge_csv(OUT / "districting.csv", rows)
    print(f"# {len(rows)} instances in {time.perf_counter() - started:.0f} s; "
          f"results merged into {OUT / 'districting.csv'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
