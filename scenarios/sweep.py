"""Sweeps: many scenarios (or the variants of a grid over one lever) in parallel, and their summary.

``plan_sweep`` turns files and a grid into tasks; ``run_sweep`` runs them on a local process pool,
or on a Dask distributed cluster when given a scheduler address. Each scenario is isolated: a
failure becomes a row with its error, the others complete. The summary table and a trade-off
chart go next to the run folders.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from scenarios.model import load_scenario, parse_grid, resolve_key, variant_name
from scenarios.runner import run_scenario
from solvers.interrupt import EXIT_CODES, hard_exit
from territory.domain.arguments import check_scheduler_address
from territory.errors import ScenarioError, Terminated
from territory.io.names import validate_name

__all__ = [
    "SUMMARY_COLUMNS",
    "TIMING_COLUMNS",
    "SweepResult",
    "SweepTask",
    "plan_sweep",
    "run_sweep",
    "run_task",
    "tradeoff_chart",
]

SUMMARY = "summary.csv"
CHART = "tradeoffs.png"


SUMMARY_COLUMNS = (
    "scenario", "source", "lever", "value", "status", "error", "solve_status", "n_reps",
    "max_potential_deviation", "max_workload_deviation", "max_utilization", "travel_hour_km",
    "mean_distance_km", "accounts_moved", "revenue_moved", "revenue_moved_share", "gap",
    "incentive_p50_at_plan", "share_at_quota_at_plan", "ccos_p50_at_plan", "expected_sales",
    "expected_sales_p10", "expected_sales_p90", "uplift", "uplift_p10", "uplift_p90",
    "contribution", "margin", "rep_cost", "value_note", "checks_fail", "checks_warn",
    "solve_seconds", "seconds", "folder",
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
    paths: Sequence[str | Path],
    out_root: str | Path,
    grid: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> list[SweepTask]:
    """List the tasks of a sweep: every file, or every grid value of every file.

    ``overrides`` (dotted keys, e.g. ``value.margin`` from ``--margin``) apply to every task;
    the grid's lever is set on top of them.

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
    common = dict(overrides or {})
    tasks: list[SweepTask] = []
    for path in paths:
        stem = validate_name(
            Path(path).stem,
            f"scenario file stem (of {path})",
            "rename the scenario file: its name without .toml names the run folder",
        )
        if lever is None:
            tasks.append(
                SweepTask(
                    source=str(path), name=stem, out_root=str(out_root), overrides=dict(common)
                )
            )
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
                    overrides={**common, lever: value},
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
    _gather(tasks, futures, done, rows)


def _gather(
    tasks: Sequence[SweepTask],
    futures: Sequence[Any],
    done: Callable[[dict[str, Any]], None],
    rows: list[dict[str, Any]],
) -> None:
    """Append each task's row, in task order, as its future (local or Dask) comes in."""
    for task, future in zip(tasks, futures, strict=True):
        try:
            row = future.result()
        except Exception as exc:  # noqa: BLE001 - a dead or lost worker fails its scenario only
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
            _gather(tasks, futures, done, rows)
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

    A scenario that fails is an ``ERROR`` row of the summary, with its error; the others complete.

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
        of :func:`territory.io.outputs.check_output_folder`).

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
    from territory.io.outputs import add_files, check_output_folder, child_folder, prepare_folder

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


# ------------------------------------------------------------------------------------------
# Trade-off chart


def tradeoff_chart(summary: pd.DataFrame, path: str | Path) -> None:
    """Two panels: travel against disruption, cost of sales against share of reps at quota.

    Each completed scenario is a labelled point. Drawn with the Agg canvas and no time or
    software stamp, so the same summary gives the same PNG.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    from territory.rendering.charts import DPI, PNG_METADATA

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
