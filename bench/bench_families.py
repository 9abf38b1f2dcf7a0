"""Benchmark ``territory align`` through the CLI on instance families that look like real books.

Run from the repository root::

    .venv/bin/python bench/bench_families.py [--sizes 10000x100] [--families all]
        [--regions southeast,south_central] [--seeds 1,2] [--time-limit S]
        [--out out/bench/families.csv]

For every size x family x region x seed the instance (:mod:`territory.domain.families`; ZIP
centroids from :func:`territory.io.zip_regions.zip_centroids`) is written as Parquet, then
``territory align --accounts accounts.parquet --reps reps.parquet --out ... --time-limit S``
runs as a child process (the command is printed with each row). The row records the exit code,
wall seconds, the child's peak memory (``ru_maxrss`` from ``wait4``), the balance reached and
objective / bound from ``solve.json``; a failed run (exit 3 or 4) keeps its message. Every row
is printed, including failures, next to the issue-13 targets.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.bench_scale import (  # noqa: E402
    GIB,
    Row,
    meets,
    parse_sizes,
    ratio_to_bound,
    write_csv,
)
from territory.domain.families import FAMILIES, REGIONS, make_family, solve_levers  # noqa: E402

BALANCE = 0.05
DEFAULT_OUT = Path("out/bench/families.csv")

TARGETS: dict[tuple[int, int], tuple[float, float, float]] = {
    (10_000, 100): (5.0, 2.0, 1.005),
    (100_000, 500): (60.0, 2.0, 1.01),
    (1_000_000, 2_000): (600.0, 6.0, 1.02),
}
"""(seconds, peak GiB, objective / bound) by (accounts, reps), from issue 13 (issue 7's order)."""


@dataclass
class FamilyRow(Row):
    """A :class:`bench.bench_scale.Row` measured through the CLI: which instance, exit, command."""

    family: str = ""
    region: str = ""
    exit_code: int | None = None
    command: str = ""


def default_time_limit(n_accounts: int) -> float:
    """The issue's time target for the size."""
    for (n, _), (seconds, _, _) in sorted(TARGETS.items()):
        if n_accounts <= n:
            return seconds
    return 600.0


def instance(family: str, region: str, n: int, r: int, seed: int, folder: Path) -> None:
    """Write one instance as Parquet into ``folder`` (kept: reruns reuse it)."""
    if (folder / "accounts.parquet").exists() and (folder / "reps.parquet").exists():
        return
    from territory.io.zip_regions import zip_centroids

    lat, lon = zip_centroids(region) if family != "synthetic" else (None, None)
    accounts, reps = make_family(family, n, r, seed, zip_lat=lat, zip_lon=lon)
    folder.mkdir(parents=True, exist_ok=True)
    accounts.to_parquet(folder / "accounts.parquet", index=False)
    reps.to_parquet(folder / "reps.parquet", index=False)


def run_one(
    family: str, region: str, n: int, r: int, seed: int, limit: float, root: Path
) -> FamilyRow:
    """Generate, solve through the CLI, and read back one row."""
    row = FamilyRow(n, r, time_limit_s=limit, seed=seed, family=family)
    row.region = region if family != "synthetic" else "-"
    target = TARGETS.get((n, r))
    if target is not None:
        row.target_seconds, row.target_gib, row.target_ratio = target
    folder = root / f"{family}_{row.region}_{n}x{r}_s{seed}"
    instance(family, region, n, r, seed, folder)
    out = folder / "plan"
    if out.exists():
        subprocess.run(["rm", "-rf", str(out)], check=True)  # our own earlier output
    territory = Path(sys.executable).with_name("territory")
    command = [
        str(territory), "align", "--accounts", str(folder / "accounts.parquet"),
        "--reps", str(folder / "reps.parquet"), "--out", str(out),
        "--balance", str(BALANCE), "--time-limit", f"{limit:g}", "--seed", str(seed),
        "--format", "parquet", "--quiet",
    ]  # fmt: skip
    for lever, value in solve_levers(family).items():
        command += [f"--{lever.replace('_', '-')}", f"{value:g}"]
    row.command = shlex.join(command).replace(str(REPO_ROOT) + "/", "")
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    row.seconds = time.perf_counter() - t0
    row.exit_code = os.waitstatus_to_exitcode(status)
    proc.returncode = row.exit_code
    stdout = proc.stdout.read() if proc.stdout else ""
    stderr = proc.stderr.read() if proc.stderr else ""
    row.peak_rss_gib = usage.ru_maxrss * 1024.0 / GIB
    doc_path = out / "solve.json"
    if row.exit_code == 0 and doc_path.exists():
        doc = json.loads(doc_path.read_text(encoding="utf-8"))
        row.status = str(doc.get("status", ""))
        row.max_potential_deviation = doc.get("max_potential_deviation")
        row.max_workload_deviation = doc.get("max_workload_deviation")
        row.objective, row.bound = doc.get("objective"), doc.get("bound")
        row.bound_source = str(doc.get("bound_source", ""))
        row.ratio = ratio_to_bound(row.objective, row.bound)
    else:
        row.status = f"exit {row.exit_code}"
        # Whole, in the CSV: a failed run's steps come last in its message ("Steps taken: ...").
        row.error = " ".join((stderr or stdout).split())
    row.meets = meets(row)
    return row


ERROR_PRINTED = 600
"""Characters of a failed run's error printed under its row (the CSV keeps all of it)."""


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def print_row(row: FamilyRow) -> None:
    """One line per run, then its targets (and the error of a failed run)."""
    ratio = "-" if row.ratio is None else f"{row.ratio:.4f}"
    print(
        f"{row.family:>11} {row.region:>13} {row.seed:>4} {row.accounts:>9,}/{row.reps:<5,} "
        f"exit {row.exit_code!s:>2} {row.seconds or 0:7.1f} s {row.peak_rss_gib or 0:5.2f} GiB "
        f"pot {_pct(row.max_potential_deviation):>7} wl {_pct(row.max_workload_deviation):>7} "
        f"ratio {ratio:>7}  {row.meets}",
        flush=True,
    )
    if row.error:
        cut = row.error if len(row.error) <= ERROR_PRINTED else row.error[:ERROR_PRINTED] + " ..."
        print(f"{'':>12}{cut}", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run every combination, print each row as it ends, write the CSV; exit 1 on any miss."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000x100")
    parser.add_argument("--families", default="all")
    parser.add_argument("--regions", default="southeast,south_central")
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--time-limit", type=float, default=None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--work", type=Path, default=Path("out/bench/families"))
    args = parser.parse_args(argv)
    families = FAMILIES if args.families == "all" else tuple(args.families.split(","))
    regions = tuple(args.regions.split(","))
    for region in regions:
        if region not in REGIONS:
            parser.error(f"unknown region {region!r}; choose from {', '.join(REGIONS)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    rows: list[FamilyRow] = []
    for n, r in parse_sizes(args.sizes):
        limit = args.time_limit or default_time_limit(n)
        for family in families:
            for region in regions if family != "synthetic" else regions[:1]:
                for seed in seeds:
                    row = run_one(family, region, n, r, seed, limit, args.work)
                    print_row(row)
                    rows.append(row)
    write_csv(rows, args.out)
    print(f"\nwritten {args.out}; commands in its 'command' column")
    return 0 if all(row.meets.startswith("balance ok") for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
