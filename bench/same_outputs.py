"""Are two output trees the same? The guard for refactorings that must not change results.

A redesign step (one settings object, one pipeline, schemas, split modules) promises that the
demo's and the example scenarios' output tables stay byte-identical. This script makes that
promise checkable: run the demo and the scenarios once on the commit before the change and once
after, then compare the two trees::

    python bench/same_outputs.py run OUT_BEFORE          # on the old commit
    python bench/same_outputs.py run OUT_AFTER           # on the new one
    python bench/same_outputs.py compare OUT_BEFORE OUT_AFTER

Tables (CSV, Parquet, JSON, GeoJSON, TOML) must match byte for byte; workbooks cell by cell
(openpyxl stamps the time of writing into the file, so their bytes differ on every run).
Run times are set aside: ``timings.json`` is skipped, and where a table's bytes differ it is
compared again without its clock fields (JSON keys and CSV columns or rows that name seconds, the
time left for a solve, run folders' absolute paths, and the hashes of the files holding them).
Pictures and HTML pages are not tables and are left out. Files the new commit adds are listed but
do not fail the comparison; a missing or changed file does.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BYTE_EXACT = {".csv", ".parquet", ".json", ".geojson", ".toml"}
"""Endings compared byte for byte."""
SKIPPED_NAMES = {"timings.json"}
"""Run times differ on every run by design."""
SCENARIOS = (
    "current",
    "balanced",
    "add_5_reps",
    "lose_3_reps",
    "keep_90pct_revenue",
    "lock_top_50",
)


def tables(root: Path) -> Iterator[Path]:
    """Every file under ``root`` that is a table (relative paths, sorted)."""
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name in SKIPPED_NAMES:
            continue
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue  # markers, locks and staging folders are not outputs
        if path.suffix in BYTE_EXACT or path.suffix == ".xlsx":
            yield path.relative_to(root)


def _is_clock(name: str) -> bool:
    """Fields that measure the run, not the result: seconds, time left, where it was written."""
    lowered = name.lower()
    return "seconds" in lowered or lowered in {"time_limit_s", "stages", "folder", "solve.json"}


def _without_clock(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_clock(v) for k, v in value.items() if not _is_clock(str(k))}
    if isinstance(value, list):
        return [_without_clock(v) for v in value]
    return value


def _timings_aside(path: Path) -> object:
    """The file's content with clock fields removed (JSON keys; CSV columns and rows)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return _without_clock(json.loads(text))
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return rows
    keep = [i for i, name in enumerate(rows[0]) if not _is_clock(name)]
    return [[row[i] for i in keep if i < len(row)] for row in rows if not _is_clock(row[0])]


def _cells(path: Path) -> dict[str, list[tuple[object, ...]]]:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True)
    try:
        return {
            sheet.title: [tuple(row) for row in sheet.iter_rows(values_only=True)]
            for sheet in book.worksheets
        }
    finally:
        book.close()


def compare(before: Path, after: Path) -> list[str]:
    """The differences between two output trees, one line each (empty when they match)."""
    problems: list[str] = []
    for relative in tables(before):
        old, new = before / relative, after / relative
        if not new.exists():
            problems.append(f"missing: {relative}")
        elif relative.suffix == ".xlsx":
            if _cells(old) != _cells(new):
                problems.append(f"changed cells: {relative}")
        elif old.read_bytes() != new.read_bytes():
            same_result = relative.suffix in {".json", ".csv"} and _timings_aside(
                old
            ) == _timings_aside(new)
            if not same_result:
                problems.append(f"changed bytes: {relative}")
    return problems


def added(before: Path, after: Path) -> list[Path]:
    """Tables the newer tree has and the older one does not."""
    known = set(tables(before))
    return [p for p in tables(after) if p not in known]


def run(out: Path) -> None:
    """Run ``make demo``'s and ``make scenarios``' commands with their outputs under ``out``."""
    territory = [sys.executable, "-m", "cli"]
    demo = out / "demo"
    comp = "data/demo/comp.toml"
    steps = [
        ["align", "--accounts", "data/demo/accounts.csv", "--reps", "data/demo/reps.csv",
         "--out", str(demo), "--seed", "7", "--time-limit", "120", "--quiet"],
        ["quota", "--plan", str(demo), "--target", "165000000", "--method", "blend",
         "--over-assign", "0.10", "--year", "2027", "--last-year-target", "148000000",
         "--quiet"],
        ["stress", "--plan", str(demo), "--comp", comp, "--sims", "10000", "--seed", "7",
         "--quiet"],
        ["check", "--plan", str(demo), "--no-fail", "--quiet"],
        ["align", "--accounts", "data/demo/accounts.csv", "--reps", "data/demo/reps.csv",
         "--units", "data/units/demo_zips.geojson", "--contiguity", "--soft", "--solver",
         "heuristic", "--out", str(out / "demo-units"), "--seed", "7", "--time-limit", "120",
         "--quiet"],
        ["design", "--units", "data/units/demo_zips.geojson", "--accounts",
         "data/demo/accounts.csv", "--reps", "data/demo/reps.csv", "--k", "12", "--out",
         str(out / "demo-design"), "--seed", "7", "--time-limit", "300", "--quiet"],
        ["sweep", *[f"scenarios/{name}.toml" for name in SCENARIOS], "--out",
         str(out / "scenarios"), "--quiet"],
        ["compare", *[str(out / "scenarios" / name) for name in SCENARIOS], "--out",
         str(out / "scenarios-compare"), "--quiet"],
    ]  # fmt: skip
    for step in steps:
        print("territory", " ".join(step), flush=True)
        subprocess.run([*territory, *step], cwd=ROOT, check=True)


def main(argv: list[str] | None = None) -> int:
    """``run OUT`` or ``compare BEFORE AFTER``; exit 1 when the trees differ."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run").add_argument("out", type=Path)
    both = sub.add_parser("compare")
    both.add_argument("before", type=Path)
    both.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    if args.command == "run":
        run(args.out.resolve())
        return 0
    problems = compare(args.before, args.after)
    compared = sum(1 for _ in tables(args.before))
    for line in problems:
        print(line)
    for path in added(args.before, args.after):
        print(f"added (not compared): {path}")
    print(f"{compared} table(s) compared, {len(problems)} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
