"""Benchmark ``territory.workflow.api.align`` on seeded synthetic instances, one process per size.

Run from the repository root::

    .venv/bin/python bench/bench_align.py [--sizes 1000x10,10000x100,100000x500]
        [--solver auto] [--time-limit S] [--seed 1] [--out out/bench/align.csv]

Each size runs in its own spawned child process, so the peak memory it reports (``ru_maxrss``)
belongs to that size alone. Inside the child the instance is generated with
:func:`territory.domain.synthetic.make_instance` (timed separately), the peak-RSS counter is reset
when the
kernel allows it (``/proc/self/clear_refs``), and ``align(..., balance=0.05)`` is timed.
The figures are printed next to the targets and written as CSV (one row per size).

Importing this module runs nothing; :func:`main` does the work.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import math
import multiprocessing as mp
import os
import resource
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SIZES = "1000x10,10000x100,100000x500"
DEFAULT_OUT = Path("out/bench/align.csv")
BALANCE = 0.05
"""Tolerance asked of ``align`` (±5% on potential and workload) and checked on every row."""
BALANCE_SLACK = 1e-6
"""Rounding allowance when checking the reported deviations against :data:`BALANCE`."""
LARGE_ACCOUNTS = 100_000
"""Sizes with at least this many accounts get :data:`LARGE_TIME_LIMIT_S` by default."""
LARGE_TIME_LIMIT_S = 300.0
SMALL_TIME_LIMIT_S = 60.0
WATCHDOG_FACTOR = 2.0
WATCHDOG_MARGIN_S = 300.0
"""A child still running after factor x time limit + margin seconds is killed (row status HUNG)."""
GIB = 1024.0**3
MIB = 1024.0**2


@dataclass(frozen=True)
class Size:
    """One benchmark size: accounts x reps."""

    n_accounts: int
    n_reps: int

    @property
    def label(self) -> str:
        """Compact label such as ``10k/100``."""
        return f"{_compact(self.n_accounts)}/{_compact(self.n_reps)}"


@dataclass(frozen=True)
class Target:
    """What a size must reach; ``None`` means no target for that figure."""

    max_seconds: float | None = None
    max_ratio: float | None = None
    max_deviation: float = BALANCE
    max_memory_gib: float | None = None


TARGETS: dict[tuple[int, int], Target] = {
    (10_000, 100): Target(max_seconds=30.0, max_ratio=1.01),
    (100_000, 500): Target(max_seconds=300.0, max_ratio=1.02, max_memory_gib=4.0),
}
"""Targets by (accounts, reps); other sizes are only checked for the ±5% balance."""


@dataclass
class BenchRow:
    """One size's measurements (a CSV row). Deviations and gap are fractions (0.05 = 5%)."""

    size: str
    n_accounts: int
    n_reps: int
    solver: str
    seed: int
    time_limit_s: float
    status: str = "ERROR"
    backend: str = ""
    gen_seconds: float | None = None
    seconds: float | None = None
    report_seconds: float | None = None
    max_potential_deviation: float | None = None
    max_workload_deviation: float | None = None
    objective: float | None = None
    bound: float | None = None
    bound_source: str = ""
    bound_scope: str = ""
    ratio: float | None = None
    gap: float | None = None
    candidates: int | None = None
    n_pairs: int | None = None
    peak_rss_mib: float | None = None
    peak_scope: str = ""
    rss_before_solve_mib: float | None = None
    gen_peak_rss_mib: float | None = None
    validate_seconds: float | None = None
    build_problem_seconds: float | None = None
    other_seconds: float | None = None
    stages: str = "{}"
    phases: str = "{}"
    notes: str = ""
    error: str = ""
    target_seconds: float | None = None
    target_ratio: float | None = None
    target_deviation: float | None = None
    target_memory_gib: float | None = None
    meets_balance: bool | None = None
    meets_ratio: bool | None = None
    meets_time: bool | None = None
    meets_memory: bool | None = None
    meets_all: bool | None = None
    started_at: str = ""
    code_version: str = ""
    load_before: float | None = None
    load_after: float | None = None
    cpu_count: int = field(default_factory=lambda: os.cpu_count() or 0)


# --------------------------------------------------------------------------------------------
# Parsing and defaults


def _compact(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def parse_sizes(text: str) -> list[Size]:
    """``"1000x10,10000x100"`` -> sizes; ``k``/``m`` suffixes are accepted (``100kx500``)."""
    sizes: list[Size] = []
    for chunk in text.split(","):
        chunk = chunk.strip().lower()
        if not chunk:
            continue
        try:
            left, right = chunk.split("x")
            sizes.append(Size(_parse_count(left), _parse_count(right)))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"bad size '{chunk}': expected ACCOUNTSxREPS such as 10000x100"
            ) from None
    if not sizes:
        raise argparse.ArgumentTypeError("no sizes given")
    return sizes


def _parse_count(text: str) -> int:
    text = text.strip().replace("_", "")
    factor = 1
    if text.endswith("k"):
        factor, text = 1_000, text[:-1]
    elif text.endswith("m"):
        factor, text = 1_000_000, text[:-1]
    value = int(float(text) * factor)
    if value <= 0:
        raise ValueError(text)
    return value


def default_time_limit(size: Size) -> float:
    """300 s from 100,000 accounts up, 60 s below."""
    return LARGE_TIME_LIMIT_S if size.n_accounts >= LARGE_ACCOUNTS else SMALL_TIME_LIMIT_S


def target_for(size: Size) -> Target:
    """The targets of a size (only the balance check when none are listed)."""
    return TARGETS.get((size.n_accounts, size.n_reps), Target())


# --------------------------------------------------------------------------------------------
# Child process: generate, solve, measure


def _ensure_repo_importable() -> None:
    """``territory`` and ``solvers`` live at the repository root, which may not be installed."""
    root = str(REPO_ROOT)
    if root not in sys.path:
        sys.path.insert(0, root)


def _maxrss_bytes() -> float:
    """Peak resident set size of this process (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return peak if sys.platform == "darwin" else peak * 1024.0


def _current_rss_bytes() -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark to the current RSS (Linux >= 4.0); True when it took."""
    before = _maxrss_bytes()
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
    except OSError:
        return False
    current = _current_rss_bytes()
    after = _maxrss_bytes()
    if current is None:
        return after < before
    return after <= current * 1.05 + 8 * MIB


class PhaseClock:
    """``align``'s progress callback: times each announced phase, even when ``align`` raises."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.marks: list[tuple[str, float]] = []

    def __call__(self, message: str) -> None:
        self.marks.append((message, time.perf_counter()))

    def durations(self, end: float) -> dict[str, float]:
        """Seconds from each message to the next (the last one runs to ``end``), summed by name."""
        out: dict[str, float] = {}
        if self.marks and self.marks[0][1] - self.start > 1e-3:
            out["(before first message)"] = self.marks[0][1] - self.start
        for i, (message, at) in enumerate(self.marks):
            until = self.marks[i + 1][1] if i + 1 < len(self.marks) else end
            out[message] = out.get(message, 0.0) + until - at
        return out


def code_version() -> str:
    """Git commit plus a hash of the library sources as imported (the tree may be dirty)."""
    import hashlib
    import subprocess

    digest = hashlib.sha256()
    for folder in ("territory", "solvers"):
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            digest.update(path.relative_to(REPO_ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        head = "nogit"
    return f"{head}+src:{digest.hexdigest()[:12]}"


def new_row(size: Size, solver: str, time_limit_s: float, seed: int, **more: Any) -> BenchRow:
    """A row for one run of ``size``, its targets filled in; ``more`` sets further fields."""
    target = target_for(size)
    return BenchRow(
        size=size.label,
        n_accounts=size.n_accounts,
        n_reps=size.n_reps,
        solver=solver,
        seed=seed,
        time_limit_s=time_limit_s,
        target_seconds=target.max_seconds,
        target_ratio=target.max_ratio,
        target_deviation=target.max_deviation,
        target_memory_gib=target.max_memory_gib,
        **more,
    )


def measure_one(size: Size, solver: str, time_limit_s: float, seed: int) -> BenchRow:
    """Generate one instance and align it in *this* process; fills every field it can."""
    _ensure_repo_importable()
    from territory.domain.model import AlignmentSettings, BalanceRule, build_problem
    from territory.domain.synthetic import make_instance
    from territory.io import validate_inputs
    from territory.workflow.api import align

    target = target_for(size)
    row = new_row(
        size,
        solver,
        time_limit_s,
        seed,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        code_version=code_version(),
    )
    clock: PhaseClock | None = None
    try:
        t = time.perf_counter()
        accounts, reps = make_instance(size.n_accounts, size.n_reps, seed)
        row.gen_seconds = time.perf_counter() - t
        gc.collect()
        row.gen_peak_rss_mib = _maxrss_bytes() / MIB
        row.peak_scope = "solve" if _reset_peak_rss() else "process"
        current = _current_rss_bytes()
        row.rss_before_solve_mib = None if current is None else current / MIB

        row.load_before = _load_1m()
        clock = PhaseClock()
        result = align(
            accounts,
            reps,
            balance=BALANCE,
            solver=solver,
            time_limit_s=time_limit_s,
            seed=seed,
            progress=clock,
        )
        end = time.perf_counter()
        row.seconds = end - clock.start
        row.peak_rss_mib = _maxrss_bytes() / MIB
        row.phases = _json_seconds(clock.durations(end))
        row.load_after = _load_1m()

        report = result.report
        row.status = report.status
        row.backend = report.backend
        row.report_seconds = report.seconds
        row.max_potential_deviation = report.max_potential_deviation
        row.max_workload_deviation = report.max_workload_deviation
        row.objective = report.objective
        row.bound = report.bound
        row.bound_source = report.bound_source
        row.bound_scope = str(getattr(report, "bound_scope", ""))
        row.gap = report.gap
        if report.bound is not None and report.bound > 0:
            row.ratio = report.objective / report.bound
        candidates = report.candidates
        row.candidates = candidates
        row.n_pairs = report.n_pairs
        row.stages = _json_seconds(report.stages)
        row.other_seconds = report.seconds - sum(report.stages.values())
        row.notes = " | ".join(report.notes)
        del result

        # Untimed by align's stages: re-run validation and model building once to attribute them.
        t = time.perf_counter()
        valid_accounts, valid_reps = validate_inputs(accounts, reps)
        row.validate_seconds = time.perf_counter() - t
        settings = AlignmentSettings(
            balance=BalanceRule(potential=BALANCE, workload=BALANCE),
            candidates=candidates,
        )
        t = time.perf_counter()
        build_problem(valid_accounts, valid_reps, settings)
        row.build_problem_seconds = time.perf_counter() - t
    except Exception as exc:  # a benchmark row records the failure instead of stopping the run
        end = time.perf_counter()
        if row.peak_rss_mib is None:
            row.peak_rss_mib = _maxrss_bytes() / MIB
        if clock is not None and row.seconds is None:
            row.seconds = end - clock.start
            row.phases = _json_seconds(clock.durations(end))
            row.load_after = _load_1m()
        row.status = type(exc).__name__
        row.error = f"{exc}\n{traceback.format_exc(limit=6)}"
    judge(row, target)
    return row


def _load_1m() -> float | None:
    """One-minute load average: other work on the machine skews the timings."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def _json_seconds(values: dict[str, float]) -> str:
    return json.dumps({k: round(v, 4) for k, v in values.items()})


def judge(row: BenchRow, target: Target) -> None:
    """Fill the ``meets_*`` flags (None where the target does not apply)."""
    solved = row.max_potential_deviation is not None and row.max_workload_deviation is not None
    if solved:
        worst = max(row.max_potential_deviation or 0.0, row.max_workload_deviation or 0.0)
        row.meets_balance = worst <= target.max_deviation + BALANCE_SLACK
    else:
        row.meets_balance = False
    if target.max_ratio is not None:
        row.meets_ratio = row.ratio is not None and row.ratio <= target.max_ratio + 1e-12
    if target.max_seconds is not None:
        row.meets_time = (
            solved and row.seconds is not None and row.seconds <= target.max_seconds + 1e-9
        )
    if target.max_memory_gib is not None:
        row.meets_memory = row.peak_rss_mib is not None and row.peak_rss_mib * MIB <= (
            target.max_memory_gib * GIB
        )
    checks = [row.meets_balance, row.meets_ratio, row.meets_time, row.meets_memory]
    row.meets_all = all(c for c in checks if c is not None)


def _child(conn: Connection, size: Size, solver: str, time_limit_s: float, seed: int) -> None:
    try:
        row = measure_one(size, solver, time_limit_s, seed)
        conn.send(asdict(row))
    finally:
        conn.close()


def run_size(size: Size, solver: str, time_limit_s: float, seed: int) -> BenchRow:
    """Measure one size in a freshly spawned process; a crash or hang becomes an error row."""
    ctx = mp.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(
        target=_child, args=(send, size, solver, time_limit_s, seed), name=f"bench-{size.label}"
    )
    process.start()
    send.close()
    watchdog = WATCHDOG_FACTOR * time_limit_s + WATCHDOG_MARGIN_S
    payload: dict[str, Any] | None = None
    status = "CRASHED"
    try:
        if receive.poll(watchdog):
            payload = receive.recv()
        else:
            status = "HUNG"
    except EOFError:
        payload = None
    finally:
        receive.close()
    process.join(timeout=30.0)
    if process.is_alive():
        process.kill()
        process.join()
    if payload is not None:
        return BenchRow(**payload)
    error = (
        f"child exit code {process.exitcode}"
        + (f" (killed after {watchdog:.0f} s)" if status == "HUNG" else "")
        + (" (SIGKILL: out of memory?)" if process.exitcode == -9 else "")
    )
    row = new_row(size, solver, time_limit_s, seed, status=status, error=error)
    judge(row, target_for(size))
    return row


# --------------------------------------------------------------------------------------------
# Output


def write_csv(rows: Sequence[BenchRow], path: Path) -> None:
    """One row per size, every :class:`BenchRow` field as a column."""
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [f.name for f in fields(BenchRow)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=names)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in asdict(row).items()})


def _num(value: float | None, spec: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return format(value, spec)


def _mark(ok: bool | None) -> str:
    if ok is None:
        return ""
    return " [green]✓[/]" if ok else " [red]✗[/]"


def _cell(text: str, ok: bool | None, target: str | None = None) -> str:
    out = text + _mark(ok)
    if target:
        out += f"\n[dim]{target}[/]"
    return out


def render(rows: Sequence[BenchRow], width: int | None = None) -> None:
    """Print the results table and the per-stage time breakdown with rich."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    if width is None and not sys.stdout.isatty():
        width = 160
    console = Console(width=width)

    table = Table(title=f"territory.align benchmark (balance ±{100 * BALANCE:.0f}%)")
    table.add_column("size")
    table.add_column("solver → backend")
    table.add_column("status")
    for name in ("gen s", "solve s", "max dev pot / wl", "obj / LP bound", "gap", "objective"):
        table.add_column(name, justify="right")
    for name in ("k", "pairs", "peak RSS"):
        table.add_column(name, justify="right")
    table.add_column("all", justify="center")
    for row in rows:
        worst_dev = None
        if row.max_potential_deviation is not None and row.max_workload_deviation is not None:
            worst_dev = max(row.max_potential_deviation, row.max_workload_deviation)
        dev = (
            f"{_num(_pct(row.max_potential_deviation), '.2f')}% / "
            f"{_num(_pct(row.max_workload_deviation), '.2f')}%"
            if worst_dev is not None
            else "—"
        )
        memory = "—" if row.peak_rss_mib is None else f"{row.peak_rss_mib / 1024:.2f} GiB"
        if row.peak_scope == "process":
            memory += "*"
        table.add_row(
            row.size,
            f"{row.solver} → {row.backend or '—'}",
            row.status,
            _num(row.gen_seconds, ".2f"),
            _cell(
                _num(row.seconds, ".1f"),
                row.meets_time,
                None if row.target_seconds is None else f"≤ {row.target_seconds:.0f}",
            ),
            _cell(
                dev,
                row.meets_balance,
                None if row.target_deviation is None else f"≤ ±{100 * row.target_deviation:.0f}%",
            ),
            _cell(
                _num(row.ratio, ".4f"),
                row.meets_ratio,
                None if row.target_ratio is None else f"≤ {row.target_ratio:.2f}",
            ),
            f"{_num(_pct(row.gap), '.2f')}%" if row.gap is not None else "—",
            _num(row.objective, ",.0f"),
            _num(row.candidates, "d"),
            _num(row.n_pairs, ",d"),
            _cell(
                memory,
                row.meets_memory,
                None if row.target_memory_gib is None else f"≤ {row.target_memory_gib:.0f} GiB",
            ),
            "[green]PASS[/]" if row.meets_all else "[red]FAIL[/]",
        )
    console.print(table)

    stages = Table(title="where the solve time goes (seconds)")
    stages.add_column("size", justify="left")
    stages.add_column("solve s", justify="right")
    stages.add_column("stages (report.stages)", justify="left")
    stages.add_column("other*", justify="right")
    stages.add_column("validate / build", justify="right")
    stages.add_column("phases (align progress messages)", justify="left")
    for row in rows:
        parsed: dict[str, float] = json.loads(row.stages or "{}")
        text = "\n".join(f"{k}: {v:.2f}" for k, v in parsed.items()) or "—"
        timed: dict[str, float] = json.loads(row.phases or "{}")
        phases = "\n".join(f"{k}: {v:.2f}" for k, v in timed.items()) or "—"
        stages.add_row(
            row.size,
            _num(row.seconds, ".2f"),
            text,
            _num(row.other_seconds, ".2f"),
            f"{_num(row.validate_seconds, '.2f')} / {_num(row.build_problem_seconds, '.2f')}",
            escape(phases),
        )
    console.print(stages)
    console.print(
        "[dim]other* = report.seconds minus the listed stages (input validation, model "
        "building for each candidate count tried, result tables). validate / build = one "
        "extra run of each (align does not time them), measured after the solve. Phases: time "
        "between align's progress messages (available even when align fails). Peak RSS is "
        "the solve's own peak (the counter is reset after generation); '*' marks a peak that "
        "also covers generation.[/]"
    )
    for row in rows:
        if row.error:
            console.print(f"[red]{escape(row.size)}: {escape(row.status)}[/]")
            console.print(row.error, markup=False, highlight=False)
        if row.notes:
            console.print(f"[dim]{escape(row.size)} notes: {escape(row.notes)}[/]")


def _pct(value: float | None) -> float | None:
    return None if value is None else 100.0 * value


# --------------------------------------------------------------------------------------------
# Entry point


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description="Benchmark territory.align on seeded synthetic instances.",
    )
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=parse_sizes(DEFAULT_SIZES),
        help=f"comma-separated ACCOUNTSxREPS (default {DEFAULT_SIZES})",
    )
    parser.add_argument(
        "--solver", default="auto", help="auto, heuristic, mip or cpsat (default auto)"
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help=(
            f"seconds per size (default {LARGE_TIME_LIMIT_S:.0f} from {LARGE_ACCOUNTS:,} accounts "
            f"up, {SMALL_TIME_LIMIT_S:.0f} below)"
        ),
    )
    parser.add_argument("--seed", type=int, default=1, help="instance and solver seed")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"CSV path (default {DEFAULT_OUT})"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run every size, print the tables, write the CSV; exit code 1 when a target is missed."""
    args = build_parser().parse_args(argv)
    _ensure_repo_importable()
    sizes: list[Size] = args.sizes
    rows: list[BenchRow] = []
    for size in sizes:
        limit = args.time_limit if args.time_limit is not None else default_time_limit(size)
        print(
            f"[bench] {size.label}: solver={args.solver} time_limit={limit:.0f}s seed={args.seed}",
            flush=True,
        )
        row = run_size(size, args.solver, limit, args.seed)
        print(
            f"[bench] {size.label}: {row.status} in {_num(row.seconds, '.1f')} s, "
            f"ratio {_num(row.ratio, '.4f')}, peak {_num(row.peak_rss_mib, '.0f')} MiB",
            flush=True,
        )
        rows.append(row)
        write_csv(rows, args.out)
    render(rows)
    print(f"[bench] wrote {args.out}")
    return 0 if all(row.meets_all for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
