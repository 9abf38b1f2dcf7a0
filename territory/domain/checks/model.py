"""How a check is declared and how its answer becomes a row of ``checks.csv``.

A check is a :class:`CheckSpec` (the 20 are declared in :mod:`territory.domain.checks.catalogue`):
its
id and statement, the metric and scope of its row, the inputs it requires
(:class:`~territory.domain.checks.inputs.Input`), the threshold it is held to (:class:`Limit`) and a
``measure`` function that returns a :class:`Finding`. The preamble all
checks share is written once, in :meth:`CheckSpec.__call__`: look for the required inputs and
answer NOT_ASSESSABLE with their ``needs`` when one is missing, bind the thresholds, measure,
and assemble the row.

A finding is built from :class:`Part` objects. A part the data can measure is PASS, WARN or
FAIL; a part it cannot measure is NOT_ASSESSABLE and names what data would settle it. The row's
status is the worst measured finding (FAIL, then WARN); when nothing failed but a required part
was not measured, the row is NOT_ASSESSABLE. A row is PASS only when every required part was
measured and passed, so nothing unmeasured ever passes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar, cast

from pydantic import BaseModel

from territory.domain.checks.evidence import CheckEvidence
from territory.domain.checks.inputs import Input
from territory.domain.checks.thresholds import THRESHOLD_MODELS, CheckThresholds


class Status(StrEnum):
    """Outcome of a check (quota spec §3, status vocabulary)."""

    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    NOT_ASSESSABLE = "NOT_ASSESSABLE"
    INFO = "INFO"
    NOT_APPLICABLE = "NOT_APPLICABLE"


@dataclass(frozen=True)
class CheckResult:
    """One row of ``checks.csv`` (quota spec §4.5).

    ``value`` is the number that decided the status, with ``metric`` naming it and
    ``threshold`` and ``comparator`` the rule it was held to: the headline metric on a PASS,
    the failing (or warning) part's own number on a FAIL or WARN, and None on a
    NOT_ASSESSABLE row (nothing was decided). ``n`` counts the units measured and
    ``excluded_n`` those left out (ramping or vacant reps, accounts without history).
    ``needs`` names the data that would make the unmeasured parts assessable; ``evidence``
    holds short findings with numbers and ids; ``action`` says what to do about a FAIL or WARN.
    """

    check_id: str
    framework_list: str
    statement: str
    status: Status
    metric: str
    value: float | None
    threshold: str | float | None
    comparator: str
    scope: str
    n: int | None
    excluded_n: int
    inputs_used: tuple[str, ...]
    needs: tuple[str, ...]
    evidence: tuple[str, ...]
    source: str
    notes: str
    action: str = ""


CHECK_COLUMNS = (
    "check_id",
    "framework_list",
    "statement",
    "status",
    "metric",
    "value",
    "threshold",
    "comparator",
    "scope",
    "n",
    "excluded_n",
    "inputs_used",
    "needs",
    "evidence",
    "source",
    "notes",
    "action",
    "run_id",
)
"""Columns of ``checks.csv`` in order."""


@dataclass(frozen=True)
class Gauge:
    """The number a part was judged on: what it is, its value and the rule it was held to.

    When the part decides its check's status, the row shows these in place of the headline;
    a ``metric`` of None is the check's own metric.
    """

    metric: str | None
    value: float | None
    threshold: float | str | None = None
    comparator: str = ""


@dataclass(frozen=True)
class Part:
    """One condition of a check: its status, a finding and, if unmeasured, what it needs.

    ``optional`` parts apply only when their data exist (T1's activity data): left unmeasured
    they do not stop a PASS. ``gauge`` is the number the part was judged on and ``action``
    what to do when it fails or warns; a part that decides its row lends it both.
    """

    status: Status
    evidence: str
    needs: str | None = None
    optional: bool = False
    gauge: Gauge | None = None
    action: str = ""

    @classmethod
    def measured(
        cls,
        ok: bool,
        evidence: str,
        *,
        warn: bool = False,
        gauge: Gauge | None = None,
        action: str = "",
    ) -> Part:
        """Return PASS when ``ok``, else WARN when ``warn``, else FAIL."""
        status = Status.PASS if ok else (Status.WARN if warn else Status.FAIL)
        return cls(status, evidence, gauge=gauge, action=action)

    @classmethod
    def unmeasured(cls, evidence: str, needs: str, *, optional: bool = False) -> Part:
        """Return a NOT_ASSESSABLE part naming the data that would settle it."""
        return cls(Status.NOT_ASSESSABLE, evidence, needs, optional)


def combine(parts: Sequence[Part]) -> Status:
    """Worst measured finding; NOT_ASSESSABLE when a required part is unmeasured; else PASS."""
    statuses = [p.status for p in parts]
    if Status.FAIL in statuses:
        return Status.FAIL
    if Status.WARN in statuses:
        return Status.WARN
    if any(p.status == Status.NOT_ASSESSABLE and not p.optional for p in parts):
        return Status.NOT_ASSESSABLE
    if Status.PASS in statuses:
        return Status.PASS
    return Status.NOT_ASSESSABLE


@dataclass(frozen=True)
class Finding:
    """What a check's measure found; the spec turns it into a :class:`CheckResult`.

    ``status`` overrides the status combined from ``parts``; ``inputs`` and ``scope`` override
    the spec's declared ones for a path that reads other data (C7 with or without history).
    ``evidence`` and ``needs`` are added after those of the parts. ``missing`` marks a finding
    that stands for absent inputs: its row shows no value, count or inputs.
    """

    parts: Sequence[Part] = ()
    value: float | None = None
    n: int | None = None
    excluded_n: int = 0
    inputs: Sequence[str] | None = None
    evidence: Sequence[str] = ()
    needs: Sequence[str] = ()
    notes: str = ""
    status: Status | None = None
    scope: str | None = None
    missing: bool = False

    @classmethod
    def absent(cls, needs: Sequence[str], evidence: Sequence[str] = (), notes: str = "") -> Finding:
        """Return the finding of a check whose inputs are absent: NOT_ASSESSABLE with ``needs``."""
        return cls(
            inputs=(),
            evidence=list(evidence) or ["required inputs are not available"],
            needs=needs,
            notes=notes,
            status=Status.NOT_ASSESSABLE,
            missing=True,
        )


_RELAXED = {">": ">=", "<": "<="}
_STRICT = {v: k for k, v in _RELAXED.items()}


@dataclass(frozen=True)
class Rule:
    """A :class:`Limit` bound to one set of thresholds: the numbers a value is held to."""

    comparator: str
    threshold: float = math.nan
    warn: float | None = None
    tolerance: float = 0.0
    text: str | None = None

    @property
    def shown(self) -> float | str:
        """Return the threshold as the row shows it."""
        return self.text if self.text is not None else self.threshold

    def _meets(self, value: float, bound: float) -> bool:
        if self.comparator == ">=":
            return value >= bound - self.tolerance
        if self.comparator == ">":
            return value > bound
        if self.comparator == "<=":
            return value <= bound + self.tolerance
        if self.comparator == "<":
            return value < bound
        raise ValueError(f"comparator {self.comparator!r} cannot judge a number")

    def holds(self, value: float | None) -> bool:
        """Tell whether ``value`` meets the threshold; an unknown value never does."""
        return value is not None and self._meets(value, self.threshold)

    def judge(self, value: float | None) -> Status:
        """Return PASS when the value meets the threshold, WARN inside the warn band, else FAIL."""
        if self.holds(value):
            return Status.PASS
        if value is not None and self.warn is not None:
            relaxed = _RELAXED.get(self.comparator, self.comparator)
            if Rule(relaxed, self.warn, tolerance=self.tolerance).holds(value):
                return Status.WARN
        return Status.FAIL

    def gauge(self, metric: str | None, value: float | None) -> Gauge:
        """Return ``value`` under the name ``metric``, held to this rule."""
        return Gauge(metric, value, self.shown, self.comparator)

    def part(
        self, value: float | None, evidence: str, *, metric: str | None = None, action: str = ""
    ) -> Part:
        """Return the part that judges ``value`` and states ``evidence``.

        ``metric`` names the value when it is not the check's headline metric.
        """
        return Part(self.judge(value), evidence, gauge=self.gauge(metric, value), action=action)


@dataclass(frozen=True)
class Limit:
    """The threshold a check's headline value is held to, declared by parameter name.

    Parameters
    ----------
    comparator
        ``>=``, ``<=`` (``>``/``<`` when strict), or ``in`` for a rule stated in words.
    key
        The parameter in ``checks.<id>`` holding the threshold.
    warn_key
        The parameter holding the edge of the WARN band, if the check has one.
    fixed
        A threshold that is not configurable (a share of 1.0), or a rule in words.
    tightened_by
        ``(flag, stricter_key)``: while the boolean parameter ``flag`` is set, the threshold
        is read from ``stricter_key`` instead (T9's strict mode).
    strict_flag
        A boolean parameter that, when set, makes the comparison exclude equality.
    tolerance
        Slack for float noise on a non-strict comparison.
    """

    comparator: str
    key: str | None = None
    warn_key: str | None = None
    fixed: float | str | None = None
    tightened_by: tuple[str, str] | None = None
    strict_flag: str | None = None
    tolerance: float = 0.0

    def __post_init__(self) -> None:
        """Refuse a limit that names no threshold, or two."""
        if (self.key is None) == (self.fixed is None):
            raise ValueError("a Limit takes either a parameter key or a fixed threshold")

    def parameters(self) -> tuple[str, ...]:
        """Return every parameter this limit reads."""
        named = (self.key, self.warn_key, self.strict_flag, *(self.tightened_by or ()))
        return tuple(k for k in named if k is not None)

    def bind(self, params: BaseModel) -> Rule:
        """Read the threshold, warn edge and comparator from one check's thresholds."""
        comparator = self.comparator
        if self.strict_flag is not None and getattr(params, self.strict_flag):
            comparator = _STRICT.get(comparator, comparator)
        warn = None if self.warn_key is None else float(getattr(params, self.warn_key))
        tolerance = 0.0 if comparator in _RELAXED else self.tolerance
        if isinstance(self.fixed, str):
            return Rule(comparator, text=self.fixed)
        if self.fixed is not None:
            return Rule(comparator, float(self.fixed), warn, tolerance)
        key = str(self.key)
        if self.tightened_by is not None and getattr(params, self.tightened_by[0]):
            key = self.tightened_by[1]
        return Rule(comparator, float(getattr(params, key)), warn, tolerance)


P = TypeVar("P", bound=BaseModel)
Measure = Callable[[CheckEvidence, P, Rule], Finding]

FRAMEWORK = "Sales Strategy Framework"
"""The framework whose thought starters the checks test, by its title."""

_LISTS = {
    "T": ("territory", "Territory Design"),
    "C": ("comp", "Compensation Design and Quota Setting"),
}


@dataclass(frozen=True)
class CheckSpec(Generic[P]):
    """One check, declared: what it states, what it needs and the rule it is held to.

    Calling it with evidence and thresholds runs the shared preamble and its ``measure``.
    ``metric`` may name thresholds (``{band_low:g}``); they are filled in from the check's own.
    ``uses`` lists the inputs the row reports as used. ``threshold_when_missing`` keeps the
    threshold off the row when required inputs are missing (T1 states it only once measured).
    ``notes`` (the caveat of a measured row, unless the finding has its own) and ``follow_up``
    (data only later results can bring, added to ``needs``) apply once the check is measured.
    ``action`` is what to do when the check fails or warns, unless the deciding part says.
    """

    check_id: str
    statement: str
    metric: str
    scope: str
    limit: Limit
    measure: Measure[P]
    requires: tuple[Input, ...] = ()
    uses: tuple[str, ...] = ()
    threshold_when_missing: bool = True
    notes: str = ""
    follow_up: tuple[str, ...] = ()
    action: str = ""
    framework_list: str = field(init=False)
    source: str = field(init=False)

    def __post_init__(self) -> None:
        """Derive list and source from the id; refuse an unknown parameter or another's measure.

        A measure is named after the check whose thresholds it reads (``t1_coverage`` reads
        T1's), the name the package serves the check under.
        """
        name, title = _LISTS[self.check_id[0]]
        object.__setattr__(self, "framework_list", name)
        object.__setattr__(
            self, "source", f"{FRAMEWORK}, {title}, thought starter {self.check_id[1:]}"
        )
        model = THRESHOLD_MODELS[self.check_id]
        unknown = [k for k in self.limit.parameters() if k not in model.model_fields]
        if unknown:
            raise ValueError(f"{self.check_id}: limit names unknown threshold(s) {unknown}")
        reads = self.measure.__name__.split("_", 1)[0].upper()
        if reads != self.check_id:
            raise ValueError(f"{self.check_id}: measure reads {reads}, not {self.check_id}")

    def __call__(self, ev: CheckEvidence, th: CheckThresholds) -> CheckResult:
        """Evaluate the check: NOT_ASSESSABLE with ``needs`` while a required input is missing."""
        params = cast(P, th.of(self.check_id))
        rule = self.limit.bind(params)
        metric = self.metric.format(**dict(params))
        needs = [i.needs for i in self.requires if i.missing(ev)]
        finding = Finding.absent(needs) if needs else self.measure(ev, params, rule)
        shown = not finding.missing or self.threshold_when_missing
        return self._row(
            finding,
            metric=metric,
            scope=finding.scope or self.scope,
            threshold=rule.shown if shown else None,
            comparator=rule.comparator if shown else "",
        )

    def unreadable(self, exc: Exception) -> CheckResult:
        """Return the row of a check whose data could not be read (the error in ``notes``)."""
        notes = f"the check could not read its inputs: {type(exc).__name__}: {exc}"
        finding = Finding.absent(["inputs this check can read (see notes)"], notes=notes)
        return self._row(finding, metric="", scope="config", threshold=None, comparator="")

    def _row(
        self,
        finding: Finding,
        *,
        metric: str,
        scope: str,
        threshold: str | float | None,
        comparator: str,
    ) -> CheckResult:
        """Assemble a finding into a row; a PASS without a computable value is not a pass.

        The row shows the number that decided its status: the headline on a PASS, the deciding
        part's own on a FAIL or WARN (:func:`deciding_part`), none on a NOT_ASSESSABLE row.
        """
        status = finding.status if finding.status is not None else combine(finding.parts)
        value = _finite(finding.value)
        if status == Status.PASS and value is None:
            status = Status.NOT_ASSESSABLE
        action = ""
        decider = deciding_part(finding.parts, status)
        if decider is not None:
            action = decider.action
            if decider.gauge is not None:
                gauge = decider.gauge
                metric = gauge.metric or metric
                value, threshold, comparator = (
                    _finite(gauge.value),
                    gauge.threshold,
                    gauge.comparator,
                )
            else:
                metric, value, threshold, comparator = decider.evidence, None, None, ""
        if status in (Status.FAIL, Status.WARN):
            action = action or self.action
        elif status == Status.NOT_ASSESSABLE:
            value = None
        needs = [p.needs for p in finding.parts if p.needs] + list(finding.needs)
        if not finding.missing:
            needs += self.follow_up
        if status == Status.NOT_ASSESSABLE and not needs:
            needs = ["the inputs listed under inputs_used"]
        inputs = self.uses if finding.inputs is None else finding.inputs
        notes = finding.notes or ("" if finding.missing else self.notes)
        evidence = [f"{p.status}: {p.evidence}" for p in finding.parts] + list(finding.evidence)
        # Positional, in the order of CHECK_COLUMNS.
        return CheckResult(
            *(self.check_id, self.framework_list, self.statement, status, metric, value),
            *(threshold, comparator, scope, finding.n, finding.excluded_n, tuple(inputs)),
            *(tuple(dict.fromkeys(needs)), tuple(evidence), self.source, notes, action),
        )


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def deciding_part(parts: Sequence[Part], status: Status) -> Part | None:
    """Return the part a FAIL or WARN row is down to: the first with that status and a number.

    Without a number, the first with that status. None for other statuses, and when the
    status was set by the finding rather than by its parts.
    """
    if status not in (Status.FAIL, Status.WARN):
        return None
    candidates = [p for p in parts if p.status == status]
    with_number = [p for p in candidates if p.gauge is not None and p.gauge.value is not None]
    chosen = with_number or candidates
    return chosen[0] if chosen else None
