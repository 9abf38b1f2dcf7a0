"""What the command line shows on the terminal: progress, summaries and tables (rich).

Everything goes to standard error, so a command's standard output stays free for pipes. The
functions take what the pipeline returned and print it; they compute nothing of their own.
"""

from __future__ import annotations

import errno
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    import pandas as pd

    from territory.domain.checks import CheckResult
    from territory.domain.comp import CompPlan, RolePlan
    from territory.pipeline.commands import DesignRun
    from territory.rendering.compare import ComparisonResult
    from territory.workflow.finance import QuotaStep, StressStep
    from territory.workflow.result import SolveReport

console = Console(stderr=True)
"""The one console of the command line (standard error)."""


_GAP = re.compile(r"\bgap (\d[\d.,]*%)")
"""How a stage message reports the plan's gap to its bound (``gap 0.84%``)."""


class RunStatus:
    """What a long run is doing: stage, seconds, share of the time limit, last reported gap.

    Rich redraws the live status line from :meth:`__rich__` several times a second, so the
    seconds keep counting while a solver works; :meth:`line` is the same as one plain line.
    """

    def __init__(self, time_limit_s: float | None = None) -> None:
        self.started = time.perf_counter()
        self.time_limit_s = time_limit_s
        self.stage = "starting"
        self.gap: str | None = None

    def update(self, message: str) -> None:
        """Take a stage message of the pipeline; a ``gap X%`` in it becomes the current gap."""
        self.stage = message
        found = _GAP.search(message)
        if found:
            self.gap = found.group(1)

    def clock(self) -> str:
        """Return the time part of the status: ``12 s elapsed, 20% of the 60 s limit``."""
        elapsed = time.perf_counter() - self.started
        text = f"{elapsed:.0f} s elapsed"
        if self.time_limit_s:
            share = min(100.0, 100.0 * elapsed / self.time_limit_s)
            text += f", {share:.0f}% of the {self.time_limit_s:,.0f} s limit"
        return text

    def line(self) -> str:
        """Return the status as one line: stage, time (unless the stage says it), current gap."""
        parts = [self.stage]
        if "elapsed" not in self.stage:  # the staged large solve reports its own clock
            parts.append(self.clock())
        if self.gap is not None and not _GAP.search(self.stage):
            parts.append(f"current gap {self.gap}")
        return " | ".join(parts)

    def __rich__(self) -> str:
        """Render the live line (called on every refresh)."""
        return escape(self.line())


@contextmanager
def progress(
    quiet: bool, time_limit_s: float | None = None
) -> Iterator[Callable[[str], None] | None]:
    """Show where a long run is on stderr: stage, elapsed seconds, share of the limit, gap.

    On a terminal one live line keeps counting; elsewhere (a batch job's log) each stage is one
    plain line with the same content. Nothing in quiet mode.
    """
    if quiet:
        yield None
        return
    status = RunStatus(time_limit_s)
    if not console.is_terminal:

        def log(message: str) -> None:
            status.update(message)
            console.print(f"... {status.line()}", markup=False, highlight=False, soft_wrap=True)

        yield log
        return
    with console.status(status):
        yield status.update


def say(kind: str, message: str) -> None:
    """One error line: the kind in red, the message as written (no markup)."""
    console.print(f"[red]{kind}[/red]: {escape(message)}", highlight=False, soft_wrap=True)


def alignment_summary(report: SolveReport, out: Path) -> None:
    """Print the solve's headline numbers and its notes."""
    table = Table(title="Alignment", show_header=False)
    gap = "n/a" if report.gap is None else f"{100 * report.gap:.3f}%"
    bound = "n/a" if report.bound is None else f"{report.bound:,.1f} ({report.bound_source})"
    rows = [
        ("backend / status", f"{report.backend} / {report.status}"),
        ("objective (hour-km + disruption)", f"{report.objective:,.1f}"),
        ("lower bound", bound),
        ("gap", gap),
        ("seconds", f"{report.seconds:.2f}"),
        (
            "largest deviation",
            f"potential {100 * report.max_potential_deviation:.2f}% "
            f"(allowed {100 * report.balance_potential:.2f}%), workload "
            f"{100 * report.max_workload_deviation:.2f}% "
            f"(allowed {100 * report.balance_workload:.2f}%)",
        ),
        (
            "accounts / reps / pairs",
            f"{report.n_accounts:,} / {report.n_reps:,} / {report.n_pairs:,}",
        ),
        ("accounts moved", f"{report.metrics.get('accounts_moved', 0):,.0f}"),
        ("written to", str(out)),
    ]
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
    for note in report.notes:
        console.print(f"note: {note}")


def design_summary(run: DesignRun, k: int, out: Path) -> None:
    """Print the design's objective, balance and contiguity, and the reps matched to it."""
    summary = run.summary
    gap = summary["gap"]
    console.print(
        f"[bold]{k} territories[/bold] ({summary['method']}, {summary['status']}): "
        f"objective {summary['objective']:,.1f}"
        + (f", gap {100 * gap:.2f}%" if gap is not None else ", no bound")
        + f"; balance reached ±{100 * summary['max_potential_deviation']:.2f}% potential, "
        f"±{100 * summary['max_workload_deviation']:.2f}% workload; contiguous: "
        f"{summary['contiguous']}; {run.result.seconds:.1f} s"
    )
    if "matching" in summary:
        _matching_summary(summary, k)
    console.print(f"outputs in {out}")


def _matching_summary(summary: dict[str, Any], k: int) -> None:
    """Print who was matched, who was not, and every territory over its rep's capacity."""
    m, cap = summary["matching"], summary.get("capacity") or {}
    idle = m["unassigned_reps"]
    console.print(
        f"reps matched: {m['reps'] - len(idle)} of {m['reps']}; objective {m['objective']:.3f} "
        f"(talent {m['talent']:.3f}, continuity {m['continuity']:.3f}, travel "
        f"-{m['travel_cost']:.3f}); vacant territories: {', '.join(m['vacant']) or 'none'}"
    )
    if idle:
        shown = ", ".join(idle[:12]) + (f" and {len(idle) - 12} more" if len(idle) > 12 else "")
        console.print(
            f"[yellow]reps without a territory: {len(idle)} of {m['reps']}[/yellow] ({shown}); "
            "see the unmatched_reps output"
        )
    over = cap.get("overloaded") or []
    if over:
        console.print(
            f"[yellow]warning: {len(over)} of {k} territories carry more workload than "
            f"{cap['limit']:.2f}x their rep's capacity[/yellow] (largest "
            f"{cap['largest_load']:.2f}x):"
        )
        for row in over[:12]:
            console.print(
                f"  {row['territory_id']} ({row['rep_id']}): {row['workload_h']:,.0f} h of "
                f"workload for {row['capacity_h']:,.0f} h of capacity = {row['load']:.2f}x"
            )
        if len(over) > 12:
            console.print(f"  ... and {len(over) - 12} more (territories: load column)")
    if over and cap.get("suggested_k") is not None:
        console.print(
            f"suggestion: --k {cap['suggested_k']} gives equal territories of "
            f"{cap['total_workload_h'] / cap['suggested_k']:,.0f} h that the reps can carry; "
            "--max-load makes capacity a rule"
        )
    elif over:
        console.print(
            f"the reps' capacity ({cap['total_capacity_h']:,.0f} h) is short of the workload "
            f"({cap['total_workload_h']:,.0f} h) at any k: more reps are needed"
        )


def quota_summary(step: QuotaStep, plan: Path, *, last_year_target: float | None) -> None:
    """Print the street total, the sum of quotas and the backtest."""
    summary = step.plan.summary
    console.print(
        f"quotas for {len(step.plan.table)} territories: street total "
        f"{summary.street_total:,.0f} (target {summary.company_target:,.0f} x over-assignment "
        f"{summary.over_assignment_factor:.3f}), sum of quotas {summary.quota_total:,.2f}; "
        f"expected share of reps at quota if the plan is hit: "
        f"{100 * summary.share_at_quota_if_plan_hit:.0f}%"
    )
    for warning in summary.warnings:
        console.print(f"warning: {warning}")
    if step.backtest is not None:
        bt = step.backtest
        company = (
            f"company error {100 * bt.company_error:.1f}%"
            if last_year_target is not None
            else "company error not measured (give --last-year-target)"
        )
        gap = 100 * (bt.wmape - bt.naive_wmape)
        verdict = f"{gap:.1f} points worse than" if gap > 0 else f"{-gap:.1f} points better than"
        console.print(
            f"backtest (last year's quotas set from the year before): {company}, quota "
            f"WMAPE {100 * bt.wmape:.1f}% against actuals, {verdict} the naive baseline "
            f"(last year's sales x growth: {100 * bt.naive_wmape:.1f}%)"
        )
    console.print(f"written to {plan}/quotas.csv")


def _millions(value: object) -> str:
    return f"{float(value) / 1e6:,.2f}"  # type: ignore[arg-type]


def _percent(value: object) -> str:
    """Show a number already in percent: ``62.5`` -> ``62%``."""
    return f"{float(value):.0f}%"  # type: ignore[arg-type]


def _share(value: object) -> str:
    """Show a fraction as a percentage: ``0.625`` -> ``62.5%``."""
    return f"{100 * float(value):.1f}%"  # type: ignore[arg-type]


Column = tuple[str, str, Callable[[object], str]]

STRESS_COLUMNS: tuple[Column, ...] = (
    ("x", "scenario_id", str),
    ("at quota", "pct_reps_ge_quota", _percent),
    ("paid", "pct_reps_paid", _percent),
    ("P10", "incentive_p10", _millions),
    ("P50", "incentive_p50", _millions),
    ("P90", "incentive_p90", _millions),
    ("P50/TI", "incentive_to_ti_budget_p50", _share),
    ("CCOS", "ccos_p50", _share),
)


def stress_summary(step: StressStep, plan: Path) -> None:
    """Cost and attainment at 80%..120% of plan, and each role's leverage verdict."""
    table = Table(title="What if the company lands at x of plan (incentive in millions)")
    for label, _, _ in STRESS_COLUMNS:
        table.add_column(label, justify="right")
    for _, row in step.scenarios.iterrows():
        table.add_row(*[render(row[column]) for _, column, render in STRESS_COLUMNS])
    console.print(table)
    for role in step.result.verdicts.roles:
        console.print(
            f"{role.role}: the 90th-percentile rep reaches {100 * role.attainment_p90:.0f}% "
            f"of quota and earns {role.payout_at_p90:.2f}x target incentive; for "
            f"{role.target_leverage:.1f}x there the accelerator slope would need to be "
            f"{role.accelerator_slope_needed:.2f}"
        )
    source = step.expected_sales
    if source is not None:
        centre = (
            "the response model's expected sales under the plan"
            if source["source"] == "model"
            else "last year's revenue"
        )
        console.print(
            f"attainment centred on {centre} ({source['reason']})",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip
        for warning in source.get("warnings", []):
            console.print(f"[yellow]warning[/yellow]: {warning}", highlight=False, soft_wrap=True)
    console.print(f"written to {plan}/ (finance.xlsx, stress_scenarios.csv, charts)")


STATUS_COLOURS = {
    "PASS": "green",
    "WARN": "yellow",
    "FAIL": "red",
    "NOT_ASSESSABLE": "magenta",
    "INFO": "cyan",
    "NOT_APPLICABLE": "bright_black",
}


def check_table(results: Sequence[CheckResult]) -> None:
    """Every check with its status, value, threshold and statement."""
    table = Table(title="Checks against the framework's thought starters")
    for column in ("id", "status", "value", "threshold", "statement"):
        table.add_column(column, overflow="fold")
    for r in results:
        colour = STATUS_COLOURS.get(str(r.status), "white")
        value = "" if r.value is None else f"{r.value:.3g}"
        table.add_row(
            r.check_id,
            f"[{colour}]{r.status}[/{colour}]",
            value,
            "" if r.threshold is None else f"{r.comparator} {r.threshold}",
            r.statement,
        )
    console.print(table)


def check_counts(counts: dict[str, int], plan: Path) -> None:
    """How many checks ended in each status (printed even in quiet mode)."""
    summary = ", ".join(f"{count} {status}" for status, count in counts.items() if count)
    console.print(
        f"checks: {summary}; {counts.get('NOT_ASSESSABLE', 0)} not assessable "
        f"(see 'needs' in {plan}/checks.csv)"
    )


def comparison(result: ComparisonResult) -> None:
    """Print the runs' key figures side by side, why cells are blank, and what differs."""
    from territory.rendering.compare import format_kpi

    table = Table(title="Runs side by side")
    table.add_column("key figure")
    for name in result.names:
        table.add_column(escape(name), justify="right")
    for _, row in result.kpis.iterrows():
        unit = str(row["unit"])
        table.add_row(
            escape(str(row["label"])), *(escape(format_kpi(row[n], unit)) for n in result.names)
        )
    console.print(table)
    said: list[str] = []
    for record in result.reasons.itertuples():
        line = f"{record.run}: {record.reason}"
        if line not in said:
            said.append(line)
            console.print(f"blank: {line}", markup=False, highlight=False)
    console.print(
        f"{len(result.assignment_diff):,} account(s) are assigned to a different rep in some run",
        markup=False,
        highlight=False,
    )


def kpi_text(value: object) -> str:
    """Format a headline number as the scenario table shows it."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def scenario_run(name: str, steps: dict[str, str], kpis: dict[str, Any], folder: Path) -> None:
    """Print what a scenario ran and its headline numbers."""
    table = Table(title=f"Scenario {name}", show_header=False)
    for step, what in steps.items():
        table.add_row(step, what)
    for key, value in kpis.items():
        table.add_row(key, kpi_text(value))
    table.add_row("written to", str(folder))
    console.print(table)


def _count(value: object) -> str:
    return f"{float(value):,.0f}"  # type: ignore[arg-type]


SWEEP_COLUMNS: tuple[Column, ...] = (
    ("scenario", "scenario", str),
    ("status", "status", str),
    ("solve", "solve_status", str),
    ("reps", "n_reps", _count),
    ("max dev", "max_potential_deviation", _share),
    ("travel h-km", "travel_hour_km", _count),
    ("rev. moved", "revenue_moved_share", _share),
    ("at quota", "share_at_quota_at_plan", _share),
    ("CCOS", "ccos_p50_at_plan", _share),
    ("FAIL", "checks_fail", _count),
    ("error", "error", lambda v: str(v).splitlines()[0] if str(v) else ""),
)


def sweep_table(summary: pd.DataFrame, failed: int, files: Sequence[Path]) -> None:
    """One row per scenario of a sweep (the error column only when some failed)."""
    import pandas as pd

    table = Table(title=f"Sweep of {len(summary)} scenario(s)")
    columns = [c for c in SWEEP_COLUMNS if c[1] != "error" or failed]
    for label, _, _ in columns:
        table.add_column(label, overflow="fold")
    for _, row in summary.iterrows():
        cells = []
        for _, column, render in columns:
            value = row[column]
            missing = value is None or (isinstance(value, float) and pd.isna(value))
            cells.append("" if missing else render(value))
        table.add_row(*cells)
    console.print(table)
    console.print(f"written to {' and '.join(str(f) for f in files)}")


def payout_table(
    plan: CompPlan, roles: Sequence[RolePlan], attainment: float, *, one_role: bool
) -> None:
    """Print what each role earns at an attainment, and the sample calculations behind it.

    ``one_role``: the user named the role (its calculations only), else every role's.
    """
    from territory.domain.payouts import payout_for, sample_calculations

    table = Table(title=f"Payout at {100 * attainment:.0f}% of quota ({plan.currency})")
    for column in ("role", "OTE", "base", "incentive", "total", "x target incentive"):
        table.add_column(column, justify="right")
    for r in roles:
        earned = payout_for(r, attainment)
        incentive = float(earned.incentive)
        target_incentive = r.target_incentive
        table.add_row(
            r.name,
            f"{r.ote:,.0f}",
            f"{earned.base:,.0f}",
            f"{incentive:,.0f}",
            f"{float(earned.total):,.0f}",
            f"{incentive / target_incentive:.2f}" if target_incentive else "n/a",
        )
    console.print(table)
    for line in sample_calculations(roles[0] if one_role else plan, (attainment,)):
        console.print(f"- {line}")


_OS_ADVICE = {
    errno.ENOSPC: "free some disk space or choose another --out",
    errno.EDQUOT: "free some disk space or choose another --out",
    errno.EACCES: "check the permissions, or choose another --out",
    errno.EPERM: "check the permissions, or choose another --out",
    errno.EROFS: "the file system is read-only: choose another --out",
    errno.ENOENT: "check the path",
    errno.ENOTDIR: "a part of the path is a file, not a folder: check the path",
    errno.EISDIR: "the path is a folder where a file was expected: check the path",
    errno.ENAMETOOLONG: "use a shorter path",
    errno.EMFILE: "too many open files: raise the limit (ulimit -n) or use fewer --workers",
}


def os_error_text(exc: OSError) -> str:
    """Say what a failed file-system call means for the user: where, why and what to do."""
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    reason = exc.strerror or str(exc) or type(exc).__name__
    where = f"could not use {' -> '.join(paths)}" if paths else "a file-system operation failed"
    advice = _OS_ADVICE.get(exc.errno or -1, "check the path, free space and permissions")
    return f"{where}: {reason}; {advice}"
