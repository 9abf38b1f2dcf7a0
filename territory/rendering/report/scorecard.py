"""What the checks scorecard shows: counts by status, then each check, territory then comp.

Rows of ``checks.json`` come from any version of ``territory check`` (or a hand-written
file), so every field is optional here and odd values are shown as text, never trusted.

The value a row shows is the one that decided its status (``territory check`` writes the
deciding part's number on a FAIL or WARN); a NOT_ASSESSABLE row decided nothing, so it shows
the rule it would be held to and no number. Every FAIL and WARN carries a plain sentence:
what was measured, against what, and what to do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from territory.rendering.report.context import RunContext
from territory.rendering.report.text import is_missing, plain, text, text_list
from territory.rendering.report.views import Notice

STATUS_ORDER = ("PASS", "WARN", "FAIL", "NOT_ASSESSABLE", "INFO", "NOT_APPLICABLE")
"""Check statuses in the order the scorecard counts them."""

FRAMEWORK = "Sales Strategy Framework"
"""The framework whose thought starters the checks test, named where the checks are introduced."""

FRAMEWORKS = (
    ("territory", "Territory design"),
    ("comp", "Compensation design and quota setting"),
)

CHECKS_COMMAND = "territory check --plan {plan}"

STATUS_STYLE = {
    "PASS": ("#1B7F3B", "#FFFFFF"),
    "WARN": ("#E6A100", "#1F1F1F"),
    "FAIL": ("#C62828", "#FFFFFF"),
    "NOT_ASSESSABLE": ("#6A5ACD", "#FFFFFF"),
    "INFO": ("#1565C0", "#FFFFFF"),
    "NOT_APPLICABLE": ("#9E9E9E", "#FFFFFF"),
}
"""Badge background and text colour per status; other statuses are dark grey."""

COMPARATORS = {
    ">=": "\u2265",
    "<=": "\u2264",
    "!=": "\u2260",
    "==": "=",
    ">": ">",
    "<": "<",
    "between": "within",
    "in": "within",
}
"""How a check's comparator reads between its value and its threshold."""


@dataclass(frozen=True)
class Badge:
    """A status as a coloured label: its key (``status-<key>`` class), text and colours."""

    key: str
    label: str
    background: str
    foreground: str


@dataclass(frozen=True)
class CheckRow:
    """One check as the scorecard shows it.

    ``value`` is None when the row shows no number (none was measured, or the check is not
    assessable); ``threshold`` is None when it has no threshold. ``needs`` is None when the
    needs list is not shown at all. ``explanation`` is the plain sentence of a FAIL or WARN.
    """

    check_id: str
    status: str
    badge: Badge
    statement: str
    meta: str
    source: str | None
    notes: str | None
    metric: str | None
    value: str | None
    symbol: str
    threshold: str | None
    needs: tuple[str, ...] | None
    evidence: tuple[str, ...]
    inputs: str
    explanation: str | None = None


@dataclass(frozen=True)
class CheckGroup:
    """The checks of one framework (``key`` makes the heading's id ``checks-<key>``)."""

    key: str
    title: str
    summary: str
    rows: tuple[CheckRow, ...]


@dataclass(frozen=True)
class ScorecardView:
    """Counts by status and the groups of checks, or what to run when there are no checks."""

    notice: Notice | None
    counts: tuple[tuple[Badge, int], ...] = ()
    groups: tuple[CheckGroup, ...] = ()
    framework: str = FRAMEWORK


def status_of(check: Mapping[str, Any]) -> str:
    """Return a check's status in upper case; "UNKNOWN" when it has none."""
    return str(check.get("status") or "").strip().upper() or "UNKNOWN"


def status_counts(checks: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """How many checks have each status: every known status first (zero too), then others."""
    counts = dict.fromkeys(STATUS_ORDER, 0)
    for check in checks:
        status = status_of(check)
        counts[status] = counts.get(status, 0) + 1
    return counts


def badge(status: str) -> Badge:
    """Return the :class:`Badge` of a status."""
    background, foreground = STATUS_STYLE.get(status, ("#616161", "#FFFFFF"))
    return Badge(status.lower(), status.replace("_", " "), background, foreground)


def scorecard_view(ctx: RunContext, checks: Sequence[Mapping[str, Any]] | None) -> ScorecardView:
    """Group the checks by their first known framework; others go under "Other checks"."""
    if checks is None:
        return ScorecardView(
            ctx.missing(
                "The thought-starter checks have not been run on this folder yet (no checks.json).",
                CHECKS_COMMAND,
            )
        )
    counts = tuple((badge(s), n) for s, n in status_counts(checks).items())
    known = [key for key, _ in FRAMEWORKS]
    members: dict[str, list[Mapping[str, Any]]] = {key: [] for key in known}
    other: list[Mapping[str, Any]] = []
    for check in checks:
        frameworks = _frameworks(check)
        first = next((f for f in known if f in frameworks), None)
        if first is None:
            other.append(check)
        else:
            members[first].append(check)
    titles = dict(FRAMEWORKS)
    groups = [_group(titles[key], key, members[key]) for key in known if members[key]]
    if other:
        groups.append(_group("Other checks", "other", other))
    return ScorecardView(None, counts, tuple(groups))


def _frameworks(check: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    for item in text_list(check.get("framework_list")):
        names += [p.strip().lower() for p in item.replace(",", "|").split("|") if p.strip()]
    return names


def _group(title: str, key: str, checks: Sequence[Mapping[str, Any]]) -> CheckGroup:
    counts = status_counts(checks)
    summary = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in counts.items() if n)
    return CheckGroup(key, title, summary, tuple(_row(check) for check in checks))


_SPEC_REFERENCE = re.compile(r"(quota spec|§|\[[DPS]\])", re.IGNORECASE)


def _public_source(source: object) -> str | None:
    """Return the source without references to internal documents (older files had them)."""
    if is_missing(source) or not source:
        return None
    kept = [p.strip() for p in str(source).split(";") if not _SPEC_REFERENCE.search(p)]
    return "; ".join(p for p in kept if p) or None


def _explanation(
    status: str, metric: str | None, value: str | None, rule: str | None, action: object
) -> str | None:
    """Say in words why a row failed or warns: what was measured, against what, what to do."""
    if status not in ("FAIL", "WARN"):
        return None
    verdict = "it fails" if status == "FAIL" else "short of a pass, inside the warning band"
    measured = metric or "the check's measure"
    if value is None:
        said = f"{'Failed' if status == 'FAIL' else 'Warning'}: {measured}."
    else:
        said = f"Measured {measured}: {value}" + (f", against {rule}" if rule else "")
        said += f" ({verdict})."
    todo = "" if is_missing(action) or not str(action).strip() else str(action).strip()
    return said + (f" What to do: {todo[0].upper()}{todo[1:]}." if todo else " See the evidence.")


def _row(check: Mapping[str, Any]) -> CheckRow:
    status = status_of(check)
    meta = []
    for key, label in (("scope", "scope"), ("n", "n"), ("excluded_n", "excluded")):
        value = check.get(key)
        if not is_missing(value) and value != "":
            meta.append(f"{label} {plain(value)}")
    source, notes, metric = check.get("source"), check.get("notes"), check.get("metric")
    value, threshold = check.get("value"), check.get("threshold")
    comparator = check.get("comparator")
    has_threshold = not is_missing(threshold) and threshold != ""
    symbol = COMPARATORS.get(str(comparator).strip().lower())
    if symbol is None:
        symbol = "vs" if is_missing(comparator) else str(comparator)
    needs = text_list(check.get("needs"))
    shown = not is_missing(value) and status != "NOT_ASSESSABLE"
    rule = f"{symbol} {plain(threshold)}" if has_threshold else None
    metric_text = plain(metric) if not is_missing(metric) and metric else None
    value_text = plain(value) if shown else None
    return CheckRow(
        check_id=text(check.get("check_id")),
        status=status,
        badge=badge(status),
        statement=text(check.get("statement")),
        meta=" \u00b7 ".join(meta),
        source=_public_source(source),
        notes=plain(notes) if not is_missing(notes) and notes else None,
        metric=metric_text,
        value=value_text,
        symbol=symbol,
        threshold=plain(threshold) if has_threshold else None,
        needs=tuple(needs) if needs or status == "NOT_ASSESSABLE" else None,
        evidence=tuple(text_list(check.get("evidence"))),
        inputs=", ".join(text_list(check.get("inputs_used"))),
        explanation=_explanation(status, metric_text, value_text, rule, check.get("action")),
    )
