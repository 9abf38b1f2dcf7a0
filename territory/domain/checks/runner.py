"""Running the 20 checks on their evidence; their answers as ``checks.csv`` and ``checks.json``."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd

from territory.domain.checks.catalogue import SPECS
from territory.domain.checks.evidence import CheckEvidence
from territory.domain.checks.model import CHECK_COLUMNS, CheckResult, Status
from territory.domain.checks.thresholds import CheckThresholds
from territory.errors import TerritoryError

Check = Callable[[CheckEvidence, CheckThresholds], CheckResult]

CHECKS: Mapping[str, Check] = SPECS
"""The 20 checks by id, in report order; each is called as ``check(evidence, thresholds)``."""


def run_checks(
    evidence: CheckEvidence, thresholds: CheckThresholds | None = None
) -> list[CheckResult]:
    """Evaluate all 20 checks; a check whose data cannot be read comes back NOT_ASSESSABLE."""
    th = thresholds or CheckThresholds()
    results = []
    for spec in SPECS.values():
        try:
            results.append(spec(evidence, th))
        except (TerritoryError, KeyError, ValueError, TypeError) as exc:
            results.append(spec.unreadable(exc))
    return results


def to_records(results: Iterable[CheckResult], run_id: str | None = None) -> list[dict[str, Any]]:
    """``checks.json``: one JSON-ready dict per check, lists kept as lists."""
    out = []
    for r in results:
        value = None if r.value is None or not math.isfinite(r.value) else float(r.value)
        out.append(
            {
                "check_id": r.check_id,
                "framework_list": r.framework_list,
                "statement": r.statement,
                "status": str(r.status),
                "metric": r.metric,
                "value": value,
                "threshold": r.threshold,
                "comparator": r.comparator,
                "scope": r.scope,
                "n": r.n,
                "excluded_n": r.excluded_n,
                "inputs_used": list(r.inputs_used),
                "needs": list(r.needs),
                "evidence": list(r.evidence),
                "source": r.source,
                "notes": r.notes,
                "action": r.action,
                "run_id": run_id,
            }
        )
    return out


def to_frame(results: Iterable[CheckResult], run_id: str | None = None) -> pd.DataFrame:
    """``checks.csv``: one row per check; list fields joined with `` | ``."""
    rows = to_records(results, run_id)
    for row in rows:
        for key in ("inputs_used", "needs", "evidence"):
            row[key] = " | ".join(row[key])
        if row["threshold"] is not None:
            row["threshold"] = str(row["threshold"])
    frame = pd.DataFrame(rows, columns=list(CHECK_COLUMNS))
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    frame["n"] = frame["n"].astype("Int64")
    return frame


def status_counts(results: Iterable[CheckResult]) -> dict[str, int]:
    """How many checks ended in each status (every status listed, zeros included)."""
    counts = {str(s): 0 for s in Status}
    for r in results:
        counts[str(r.status)] += 1
    return counts


def exit_code(
    results: Iterable[CheckResult],
    thresholds: CheckThresholds | None = None,
    *,
    no_fail: bool = False,
    blocking_only: bool = False,
) -> int:
    """0 when nothing FAILs, 1 otherwise; ``no_fail`` reports only (always 0).

    With ``blocking_only`` only a FAIL of a check in ``thresholds.blocking`` (default C5, T3;
    quota spec §4.5) gives 1. NOT_ASSESSABLE never counts as a pass or a failure.
    """
    if no_fail:
        return 0
    blocking = set((thresholds or CheckThresholds()).blocking)
    for r in results:
        if r.status == Status.FAIL and (not blocking_only or r.check_id in blocking):
            return 1
    return 0
