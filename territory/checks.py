"""The 20 thought-starter checks: territory design (T1-T10) and compensation and quota (C1-C10).

Each check is a small pure function ``(CheckEvidence, CheckThresholds) -> CheckResult`` that
reads only data already loaded (plan, quotas, comp plan, stress verdicts) and answers one
statement of the framework with a status, the number behind it and the evidence. The rules
follow the quota spec, section 3; every threshold is a config key ``checks.<id>.<param>``
(defaults in ``data/checks.toml``, the same values as :data:`DEFAULT_PARAMS`).

A check is built from parts. A part the data can measure is PASS, WARN or FAIL; a part it
cannot measure (CRM activity, surveys, market pay, payout dates) is NOT_ASSESSABLE and names
what data would settle it. The row's status is the worst measured finding (FAIL, then WARN);
when nothing failed but a required part was not measured, the row is NOT_ASSESSABLE. A row is
PASS only when every required part was measured and passed, so nothing unmeasured ever passes.

The only file this module reads is the thresholds TOML (:func:`load_thresholds`).
"""

from __future__ import annotations

import math
import tomllib
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import norm, spearmanr

from territory.comp import CompPlan, RolePlan, payout_for
from territory.errors import DataValidationError, ScenarioError, TerritoryError
from territory.metrics import moved_mask, territory_table
from territory.model import DEFAULT_TIER_FACTORS
from territory.runs import PlanFolder

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

__all__ = [
    "CHECKS",
    "CHECK_COLUMNS",
    "CHECK_IDS",
    "DEFAULT_BLOCKING",
    "DEFAULT_PARAMS",
    "CheckEvidence",
    "CheckResult",
    "CheckThresholds",
    "Status",
    "evidence_from_folder",
    "exit_code",
    "load_thresholds",
    "run_checks",
    "status_counts",
    "thresholds_from_mapping",
    "to_frame",
    "to_records",
]


class Status(StrEnum):
    """Outcome of a check (quota spec §3, status vocabulary)."""

    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    NOT_ASSESSABLE = "NOT_ASSESSABLE"
    INFO = "INFO"
    NOT_APPLICABLE = "NOT_APPLICABLE"


# --------------------------------------------------------------------------------------------
# Thresholds
# --------------------------------------------------------------------------------------------

CHECK_IDS: tuple[str, ...] = tuple(f"T{i}" for i in range(1, 11)) + tuple(
    f"C{i}" for i in range(1, 11)
)

_DEFAULT_BANDS: dict[str, list[float]] = {
    "hunter": [0.40, 0.60],
    "new_logo": [0.40, 0.60],
    "field_rep": [0.30, 0.50],
    "inside_sales": [0.30, 0.40],
    "account_manager": [0.20, 0.40],
    "farmer": [0.20, 0.40],
    "strategic_account_manager": [0.20, 0.30],
    "customer_success": [0.10, 0.30],
    "renewals": [0.10, 0.30],
    "sales_engineer": [0.15, 0.30],
    "presales": [0.15, 0.30],
    "sales_manager": [0.10, 0.30],
}

DEFAULT_PARAMS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "T1": {
            "potential_covered_min": 0.95,
            "a_segment_top_share": 0.20,
            "a_segment_covered_min": 1.0,
            "utilisation_max": 1.15,
        },
        "T2": {
            "uplift_min": 0.02,
            "transition_loss_rate": 0.15,
            "utilisation_flag": 1.15,
            "potential_index_flag": 1.15,
        },
        "T3": {
            "overrides_pass_max": 0.10,
            "overrides_warn_max": 0.20,
            "require_reason_codes": True,
        },
        "T4": {
            "accounts_with_workload_min": 0.98,
            "potential_with_workload_min": 0.99,
            "territories_with_workload_min": 1.0,
        },
        "T5": {"band_low": 0.85, "band_high": 1.15, "warn_low": 0.75, "warn_high": 1.25},
        "T6": {
            "accounts_with_potential_min": 0.95,
            "revenue_with_potential_min": 0.99,
            "plausible_min": 0.95,
            "potential_weight_min": 0.30,
        },
        "T7": {
            "moved_revenue_max": 0.10,
            "top_accounts_share": 0.20,
            "top_accounts_moved_max": 0.05,
        },
        "T8": {"data_quality_min": 0.98, "max_data_age_months": 12, "max_review_age_months": 12},
        "T9": {
            "balance_pass_max": 0.15,
            "balance_warn_max": 0.25,
            "strict": False,
            "strict_max": 0.10,
            "quota_spearman_min": 0.80,
            "quota_spearman_min_potential_only": 0.90,
            "difficulty_max": 0.10,
            "backtest_size_corr_max": 0.30,
        },
        "T10": {
            "spearman_pass_min": 0.30,
            "spearman_warn_min": 0.0,
            "equal_cv_max": 0.05,
            "max_missing_share": 0.50,
            "ramped_after_months": 12,
        },
        "C1": {"traceability_min": 1.0},
        "C2": {"quota_to_ote_low": 4.0, "quota_to_ote_high": 6.0},
        "C3": {"bands": _DEFAULT_BANDS, "ordering": [["hunter", "account_manager"]]},
        "C4": {
            "payout_p90_pass_min": 2.0,
            "payout_p90_warn_min": 1.5,
            "payout_p10_max": 0.6,
            "spearman_min": 0.95,
            "cap_binding_max": 0.05,
        },
        "C5": {"max_measures": 3, "min_weight": 0.20, "strict_greater": False},
        "C6": {
            "payout_spread_max": 0.15,
            "p_attain_spread_max": 0.15,
            "potential_balance_max": 0.15,
        },
        "C7": {
            "share_at_quota_min": 0.50,
            "share_paid_min": 0.90,
            "too_easy_above": 0.80,
            "history_min_tenure_months": 24,
        },
        "C8": {"company_error_max": 0.10, "wmape_pass_max": 0.10, "wmape_warn_max": 0.20},
        "C9": {"survey_agree_min": 0.80},
        "C10": {"max_days_to_pay": 30, "max_correction_rate": 0.02},
    }
)
"""Engine defaults [D] by check and parameter; ``data/checks.toml`` holds the same values."""

DEFAULT_BLOCKING: tuple[str, ...] = ("C5", "T3")
"""Checks whose FAIL stops a batch job under ``blocking_only`` (quota spec §4.5)."""


@dataclass(frozen=True)
class CheckThresholds:
    """Every threshold the checks use, by check id and parameter, plus the blocking list.

    Build it with :meth:`default`, :func:`thresholds_from_mapping` or :func:`load_thresholds`;
    values not given keep their defaults.
    """

    params: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: DEFAULT_PARAMS)
    blocking: tuple[str, ...] = DEFAULT_BLOCKING

    @classmethod
    def default(cls) -> CheckThresholds:
        """The engine defaults."""
        return cls()

    def value(self, check_id: str, param: str) -> Any:
        """The raw value of ``checks.<check_id>.<param>``."""
        return self.params[check_id][param]

    def number(self, check_id: str, param: str) -> float:
        """A numeric threshold as a float."""
        return float(self.params[check_id][param])

    def flag(self, check_id: str, param: str) -> bool:
        """A boolean switch."""
        return bool(self.params[check_id][param])


def _type_name(value: object) -> str:
    return type(value).__name__


def _check_value(source: str, key: str, default: Any, value: Any) -> Any:
    """Validate one override against the type of its default; return the value to store."""

    def bad(expected: str) -> ScenarioError:
        return ScenarioError(
            f"{source}: key '{key}' must be {expected}, got {value!r} ({_type_name(value)})"
        )

    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("a whole number")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad("a number")
        if not math.isfinite(value):
            raise bad("a finite number")
        return float(value)
    if key.endswith(".bands"):
        if not isinstance(value, Mapping):
            raise bad("a table of role = [low, high] variable shares")
        merged = dict(default)
        for role, band in value.items():
            ok = (
                isinstance(band, list)
                and len(band) == 2
                and all(isinstance(b, int | float) and not isinstance(b, bool) for b in band)
                and 0.0 <= band[0] <= band[1] <= 1.0
            )
            if not ok:
                raise ScenarioError(
                    f"{source}: key '{key}.{role}' must be [low, high] with "
                    f"0 <= low <= high <= 1, got {band!r}"
                )
            merged[_norm_role(str(role))] = [float(band[0]), float(band[1])]
        return merged
    if key.endswith(".ordering"):
        ok = isinstance(value, list) and all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(r, str) for r in p)
            for p in value
        )
        if not ok:
            raise bad('a list of ["higher_variable_role", "lower_variable_role"] pairs')
        return [[_norm_role(p[0]), _norm_role(p[1])] for p in value]
    raise bad(_type_name(default))  # pragma: no cover - every default kind is handled above


def thresholds_from_mapping(
    data: Mapping[str, Any], source: str = "<thresholds>"
) -> CheckThresholds:
    """Thresholds from parsed TOML (``{"checks": {...}}``); unknown keys and wrong types raise.

    Raises
    ------
    ScenarioError
        Naming ``source`` and the offending key (``checks.T1.potential_covered_min``).
    """
    extra = sorted(set(data) - {"checks"})
    if extra:
        raise ScenarioError(
            f"{source}: unknown top-level key(s) {extra}; thresholds live under [checks]"
        )
    checks = data.get("checks", {})
    if not isinstance(checks, Mapping):
        raise ScenarioError(f"{source}: key 'checks' must be a table")
    params = {cid: dict(values) for cid, values in DEFAULT_PARAMS.items()}
    blocking = DEFAULT_BLOCKING
    for raw_key, table in checks.items():
        if raw_key == "blocking":
            ids = [str(v).upper() for v in table] if isinstance(table, list) else None
            if ids is None or any(not isinstance(v, str) for v in table):
                raise ScenarioError(
                    f"{source}: key 'checks.blocking' must be a list of check ids, got {table!r}"
                )
            unknown = [v for v in ids if v not in CHECK_IDS]
            if unknown:
                raise ScenarioError(
                    f"{source}: key 'checks.blocking' names unknown check(s) {unknown}; "
                    f"known: {list(CHECK_IDS)}"
                )
            blocking = tuple(ids)
            continue
        cid = str(raw_key).upper()
        if cid not in params:
            raise ScenarioError(
                f"{source}: key 'checks.{raw_key}' is unknown; allowed keys are "
                f"{['blocking', *CHECK_IDS]}"
            )
        if not isinstance(table, Mapping):
            raise ScenarioError(f"{source}: key 'checks.{raw_key}' must be a table")
        for param, value in table.items():
            key = f"checks.{cid}.{param}"
            if param not in params[cid]:
                raise ScenarioError(
                    f"{source}: key '{key}' is unknown; allowed keys in [checks.{cid}] are "
                    f"{sorted(params[cid])}"
                )
            params[cid][param] = _check_value(source, key, params[cid][param], value)
    frozen = MappingProxyType({cid: MappingProxyType(p) for cid, p in params.items()})
    return CheckThresholds(params=frozen, blocking=blocking)


def load_thresholds(path: str | Path) -> CheckThresholds:
    """Read a thresholds TOML file (layout of ``data/checks.toml``); missing keys keep defaults.

    Raises
    ------
    ScenarioError
        When the file is missing or not TOML, or a key is unknown or has the wrong type; the
        message names the file and the key.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"thresholds file {p} not found; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read thresholds file {p}: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"thresholds file {p} is not valid TOML: {exc}") from None
    return thresholds_from_mapping(data, source=str(p))


# --------------------------------------------------------------------------------------------
# Evidence and results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CheckEvidence:
    """Everything a check may read; each field is None when its step has not run.

    ``plan`` is the rep id of every account in the accounts table's order. ``quota_summary``
    is the ``summary`` part of ``quota_summary.json`` and ``quota_config`` its ``config``;
    ``backtest`` the backtest document (it may carry the per-territory ``table`` when built in
    process). ``stress`` is the ``verdicts`` of ``stress.json`` (a :class:`StressVerdicts` as
    a dict), ``scenarios`` the ``stress_scenarios.csv`` table and ``rep_impact`` the
    ``rep_impact.csv`` table. ``objectives`` maps each strategic objective id to the roles it
    applies to (for C1); ``realignment_uplift`` is the relative gain in expected sales of the
    proposed over the current alignment from a sales-response model (for T2);
    ``rerun_plan`` is the plan of a second run from the same inputs and seed (for T3, T8).
    """

    accounts: pd.DataFrame | None = None
    reps: pd.DataFrame | None = None
    plan: pd.Series | None = None
    territories: pd.DataFrame | None = None
    solve: Mapping[str, Any] | None = None
    quotas: pd.DataFrame | None = None
    quota_summary: Mapping[str, Any] | None = None
    quota_config: Mapping[str, Any] | None = None
    backtest: Mapping[str, Any] | None = None
    comp: CompPlan | None = None
    stress: Mapping[str, Any] | None = None
    scenarios: pd.DataFrame | None = None
    rep_impact: pd.DataFrame | None = None
    tier_factors: Mapping[str, float] | None = None
    objectives: Mapping[str, Sequence[str]] | None = None
    realignment_uplift: float | None = None
    rerun_plan: pd.Series | None = None


def _as_dict(value: Any) -> Any:
    return asdict(value) if is_dataclass(value) and not isinstance(value, type) else value


def evidence_from_folder(
    run: PlanFolder,
    comp: CompPlan | None,
    quota_summary: Mapping[str, Any] | None,
    stress: Mapping[str, Any] | None,
    scenarios: pd.DataFrame | None,
    *,
    quotas: pd.DataFrame | None = None,
    rep_impact: pd.DataFrame | None = None,
    objectives: Mapping[str, Sequence[str]] | None = None,
) -> CheckEvidence:
    """Evidence from an alignment run and whatever later steps the caller has read.

    ``quota_summary`` is the ``quota_summary.json`` document (``config``, ``summary``,
    ``backtest``) and ``stress`` the ``stress.json`` document (its ``verdicts`` are used); a
    bare summary or verdicts mapping is accepted too. The quotas table is taken from
    ``quotas`` or, when the folder has one, from :meth:`PlanFolder.quotas`.
    """
    if quotas is None and quota_summary is not None:
        try:
            quotas = run.quotas()
        except DataValidationError:
            quotas = None
    summary = config = backtest = None
    if quota_summary is not None:
        if "summary" in quota_summary or "config" in quota_summary:
            summary = quota_summary.get("summary")
            config = quota_summary.get("config")
            backtest = quota_summary.get("backtest")
        else:
            summary = quota_summary
    verdicts = None
    if stress is not None:
        verdicts = stress.get("verdicts", stress) if isinstance(stress, Mapping) else None
    parameters = run.solve.get("parameters", {}) if isinstance(run.solve, Mapping) else {}
    factors = parameters.get("tier_factors") if isinstance(parameters, Mapping) else None
    return CheckEvidence(
        accounts=run.accounts,
        reps=run.reps,
        plan=run.rep_of_account,
        territories=run.territories,
        solve=run.solve,
        quotas=quotas,
        quota_summary=summary,
        quota_config=config,
        backtest=backtest,
        comp=comp,
        stress=_as_dict(verdicts),
        scenarios=scenarios,
        rep_impact=rep_impact,
        tier_factors=factors,
        objectives=objectives,
    )


@dataclass(frozen=True)
class CheckResult:
    """One row of ``checks.csv`` (quota spec §4.5).

    ``value`` is the headline metric (None when it could not be computed), ``threshold`` and
    ``comparator`` the rule it was held to, ``n`` the units measured and ``excluded_n`` those
    left out (ramping or vacant reps, accounts without history). ``needs`` names the data that
    would make the unmeasured parts assessable; ``evidence`` holds short findings with numbers
    and ids.
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
    "run_id",
)


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


# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Info:
    check_id: str
    framework_list: str
    statement: str
    source: str


_INFO: Mapping[str, _Info] = MappingProxyType(
    {
        i.check_id: i
        for i in (
            _Info(
                "T1",
                "territory",
                "Selling time goes where the value is: the valuable customers and prospects "
                "sit with active reps, and no rep is too loaded to cover them.",
                "quota spec §3.1 T1; framework, Territory Design statement 1",
            ),
            _Info(
                "T2",
                "territory",
                "Redrawing the territories would uncover sales that the present alignment "
                "leaves untouched.",
                "quota spec §3.1 T2; framework, Territory Design statement 2",
            ),
            _Info(
                "T3",
                "territory",
                "Territories come from written, objective rules that give the same map when "
                "rerun, with few and explained manual exceptions.",
                "quota spec §3.1 T3; framework, Territory Design statement 3",
            ),
            _Info(
                "T4",
                "territory",
                "We know how many hours of work every account, and so every territory, calls for.",
                "quota spec §3.1 T4; framework, Territory Design statement 4",
            ),
            _Info(
                "T5",
                "territory",
                "We know how much work one rep can carry, and each territory is sized to it.",
                "quota spec §3.1 T5; framework, Territory Design statement 5",
            ),
            _Info(
                "T6",
                "territory",
                "Every account has an estimate of what it could buy, and that estimate drives "
                "how territories are drawn.",
                "quota spec §3.1 T6; framework, Territory Design statement 6",
            ),
            _Info(
                "T7",
                "territory",
                "Accounts that change hands go through a managed handover that keeps the "
                "customer relationship intact.",
                "quota spec §3.1 T7; framework, Territory Design statement 7",
            ),
            _Info(
                "T8",
                "territory",
                "Territories are refreshed regularly from trustworthy data, through a process "
                "people find easy to follow.",
                "quota spec §3.1 T8; framework, Territory Design statement 8",
            ),
            _Info(
                "T9",
                "territory",
                "Territories are even in opportunity and workload, and quotas follow that "
                "opportunity so every territory is equally hard.",
                "quota spec §3.1 T9; framework, Territory Design statement 9",
            ),
            _Info(
                "T10",
                "territory",
                "The strongest reps hold the territories with the largest opportunity.",
                "quota spec §3.1 T10; framework, Territory Design statement 10",
            ),
            _Info(
                "C1",
                "comp",
                "Every pay measure rewards behaviour that serves a stated company objective "
                "for that role.",
                "quota spec §3.2 C1; framework, Compensation and Quota statement 1",
            ),
            _Info(
                "C2",
                "comp",
                "Pay is in line with the market, enough to hire and keep strong sellers.",
                "quota spec §3.2 C2; framework, Compensation and Quota statement 2",
            ),
            _Info(
                "C3",
                "comp",
                "The split between base salary and target incentive fits each selling role.",
                "quota spec §3.2 C3; framework, Compensation and Quota statement 3",
            ),
            _Info(
                "C4",
                "comp",
                "Pay climbs steeply with results, and top performers can earn well above target.",
                "quota spec §3.2 C4; framework, Compensation and Quota statement 4",
            ),
            _Info(
                "C5",
                "comp",
                "Each plan pays on at most three measures, and each carries at least a fifth of "
                "the target incentive.",
                "quota spec §3.2 C5; framework, Compensation and Quota statement 5",
            ),
            _Info(
                "C6",
                "comp",
                "Every territory offers a similar chance to sell and a similar chance to earn.",
                "quota spec §3.2 C6; framework, Compensation and Quota statement 6",
            ),
            _Info(
                "C7",
                "comp",
                "Half or more of the reps reach quota and nine in ten earn some incentive.",
                "quota spec §3.2 C7; framework, Compensation and Quota statement 7",
            ),
            _Info(
                "C8",
                "comp",
                "Sales forecasts and quotas land within 10% of what is actually sold.",
                "quota spec §3.2 C8; framework, Compensation and Quota statement 8",
            ),
            _Info(
                "C9",
                "comp",
                "Managers and reps can explain how the plan pays and work out their own earnings.",
                "quota spec §3.2 C9; framework, Compensation and Quota statement 9",
            ),
            _Info(
                "C10",
                "comp",
                "Systems measure results correctly and pay incentives accurately and on time.",
                "quota spec §3.2 C10; framework, Compensation and Quota statement 10",
            ),
        )
    }
)


@dataclass(frozen=True)
class _Part:
    """One condition of a check: its status, a finding and, if unmeasured, what it needs.

    ``optional`` parts apply only when their data exist (T1's activity data): left unmeasured
    they do not stop a PASS.
    """

    status: Status
    evidence: str
    needs: str | None = None
    optional: bool = False


def _measured(ok: bool, evidence: str, *, warn: bool = False) -> _Part:
    return _Part(Status.PASS if ok else (Status.WARN if warn else Status.FAIL), evidence)


def _unmeasured(evidence: str, needs: str, *, optional: bool = False) -> _Part:
    return _Part(Status.NOT_ASSESSABLE, evidence, needs, optional)


def _combine(parts: Sequence[_Part]) -> Status:
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


def _result(
    check_id: str,
    parts: Sequence[_Part],
    *,
    metric: str,
    value: float | None,
    threshold: str | float | None,
    comparator: str,
    scope: str,
    n: int | None,
    inputs: Sequence[str],
    excluded_n: int = 0,
    extra_evidence: Sequence[str] = (),
    extra_needs: Sequence[str] = (),
    notes: str = "",
    status: Status | None = None,
) -> CheckResult:
    info = _INFO[check_id]
    final = status if status is not None else _combine(parts)
    if value is not None and not math.isfinite(value):
        value = None
    if final == Status.PASS and value is None:
        # A statement whose headline number could not be computed is never passed.
        final = Status.NOT_ASSESSABLE
    needs = [p.needs for p in parts if p.needs] + list(extra_needs)
    if final == Status.NOT_ASSESSABLE and not needs:
        needs = ["the inputs listed under inputs_used"]
    return CheckResult(
        check_id=check_id,
        framework_list=info.framework_list,
        statement=info.statement,
        status=final,
        metric=metric,
        value=value,
        threshold=threshold,
        comparator=comparator,
        scope=scope,
        n=n,
        excluded_n=excluded_n,
        inputs_used=tuple(inputs),
        needs=tuple(dict.fromkeys(needs)),
        evidence=tuple(f"{p.status}: {p.evidence}" for p in parts) + tuple(extra_evidence),
        source=info.source,
        notes=notes,
    )


def _missing(
    check_id: str,
    needs: Sequence[str],
    *,
    metric: str,
    scope: str,
    evidence: Sequence[str] = (),
    threshold: str | float | None = None,
    comparator: str = "",
    notes: str = "",
) -> CheckResult:
    """A NOT_ASSESSABLE row for a check whose inputs are absent."""
    return _result(
        check_id,
        [],
        metric=metric,
        value=None,
        threshold=threshold,
        comparator=comparator,
        scope=scope,
        n=None,
        inputs=[],
        extra_evidence=list(evidence) or ["required inputs are not available"],
        extra_needs=needs,
        notes=notes,
        status=Status.NOT_ASSESSABLE,
    )


def _pct(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.1f}%"


def _num(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}g}"


def _ids(values: Iterable[object], limit: int = 5) -> str:
    items = [str(v) for v in values]
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _norm_role(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def _blank(values: pd.Series) -> BoolArray:
    text = values.astype("string").str.strip()
    return np.asarray(text.isna() | (text == ""), dtype=np.bool_)


def _truthy(values: pd.Series) -> BoolArray:
    if values.dtype == bool:
        return values.fillna(False).to_numpy(dtype=np.bool_)
    text = values.astype("string").str.strip().str.lower()
    return np.asarray(
        text.isin(["1", "1.0", "true", "yes", "y", "t"]).fillna(False), dtype=np.bool_
    )


def _numbers(frame: pd.DataFrame, column: str) -> FloatArray:
    return np.asarray(pd.to_numeric(frame[column], errors="coerce"), dtype=np.float64)


def _spearman(x: npt.ArrayLike, y: npt.ArrayLike) -> float | None:
    """Rank correlation, or None with fewer than 3 pairs or a constant side."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    rho = float(spearmanr(a, b).statistic)
    return rho if math.isfinite(rho) else None


def _pearson(x: npt.ArrayLike, y: npt.ArrayLike) -> float | None:
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def _has_plan(ev: CheckEvidence) -> bool:
    return ev.accounts is not None and ev.reps is not None and ev.plan is not None


def _plan_array(ev: CheckEvidence) -> npt.NDArray[np.object_]:
    assert ev.plan is not None
    return np.asarray(pd.Series(ev.plan).astype(str).to_numpy(dtype=object), dtype=object)


def _active_reps(reps: pd.DataFrame) -> BoolArray:
    """Reps who can sell: not flagged vacant and not a to-be-hired (``TBH-``) placeholder."""
    ids = reps["rep_id"].astype(str).str.upper()
    active = ~ids.str.startswith("TBH").to_numpy(dtype=np.bool_)
    if "vacant" in reps.columns:
        active &= ~_truthy(reps["vacant"])
    return np.asarray(active, dtype=np.bool_)


_TABLES: weakref.WeakKeyDictionary[CheckEvidence, pd.DataFrame] = weakref.WeakKeyDictionary()
"""Per-rep table of each evidence object, computed once: six checks read it."""


def _territory_frame(ev: CheckEvidence) -> pd.DataFrame | None:
    """Per-rep totals against targets, from the plan when given, else the territories table."""
    if _has_plan(ev):
        if ev not in _TABLES:
            assert ev.accounts is not None and ev.reps is not None
            factors = ev.tier_factors or DEFAULT_TIER_FACTORS
            _TABLES[ev] = territory_table(ev.accounts, ev.reps, _plan_array(ev), factors)
        return _TABLES[ev]
    needed = {"rep_id", "potential", "potential_dev", "workload_dev"}
    if ev.territories is not None and needed <= set(ev.territories.columns):
        return ev.territories
    return None


def _has_history(accounts: pd.DataFrame | None) -> bool:
    return (
        accounts is not None
        and "revenue_last_year" in accounts.columns
        and bool(pd.to_numeric(accounts["revenue_last_year"], errors="coerce").notna().any())
    )


def _has_current(accounts: pd.DataFrame | None) -> bool:
    return (
        accounts is not None
        and "current_rep" in accounts.columns
        and not bool(_blank(accounts["current_rep"]).all())
    )


def _reproducibility(ev: CheckEvidence) -> _Part:
    """Same inputs and seed give the same plan: by a rerun when given, else by the record."""
    if ev.rerun_plan is not None and ev.plan is not None:
        a = pd.Series(ev.plan).astype(str).to_numpy()
        b = pd.Series(ev.rerun_plan).astype(str).to_numpy()
        same = a.shape == b.shape and bool((a == b).all())
        differ = int((a != b).sum()) if a.shape == b.shape else -1
        return _measured(
            same,
            "rerun from the same inputs and seed gives the identical plan"
            if same
            else f"rerun from the same inputs and seed differs on {differ} account(s)",
        )
    solve = ev.solve or {}
    params = solve.get("parameters") or {}
    hashes = solve.get("inputs") or {}
    seed = solve.get("seed", params.get("seed") if isinstance(params, Mapping) else None)
    recorded = isinstance(seed, int) and bool(hashes) and bool(params)
    if not recorded:
        return _measured(
            False,
            "solve.json lacks the seed, input hashes or parameters needed to rerun the plan",
        )
    limit = float(solve.get("time_limit_s") or params.get("time_limit_s") or math.inf)
    seconds = float(solve.get("seconds") or 0.0)
    if seconds >= 0.98 * limit:
        return _measured(
            False,
            f"the solve stopped at its {limit:g} s time limit, so a rerun on another machine "
            "may reach a different plan",
            warn=True,
        )
    return _measured(
        True,
        f"rerun recipe recorded: seed {seed}, input hashes for {sorted(hashes)}, "
        f"{len(params)} parameters",
    )


# --------------------------------------------------------------------------------------------
# Territory design
# --------------------------------------------------------------------------------------------


def t1_coverage(ev: CheckEvidence, th: CheckThresholds) -> CheckResult:
    """T1: potential held by active reps, top accounts covered, nobody over capacity."""
    metric = "share of potential held by active reps"
    if not _has_plan(ev):
        return _missing(
            "T1", ["accounts, reps and plan (territory align)"], metric=metric, scope="forward"
        )
    assert ev.accounts is not None and ev.reps is not None
    acc, reps = ev.accounts, ev.reps
    plan = _plan_array(ev)
    potential = np.nan_to_num(_numbers(acc, "potential"))
    workload = np.nan_to_num(_numbers(acc, "workload"))
    active_ids = set(reps["rep_id"].astype(str)[_active_reps(reps)])
    held = np.array([r in active_ids for r in plan.tolist()], dtype=np.bool_)
    total = float(potential.sum())
    covered = float(potential[held].sum()) / total if total > 0 else None
    cmin = th.number("T1", "potential_covered_min")
    parts = [
        _measured(
            covered is not None and covered >= cmin,
            f"(a) {_pct(covered)} of potential sits with active reps (needs >= {_pct(cmin)}); "
            f"{int((~held).sum())} account(s) with vacant or to-be-hired reps",
        )
    ]
    top_share = th.number("T1", "a_segment_top_share")
    k = max(1, math.ceil(top_share * len(acc)))
    top = np.argsort(-potential, kind="stable")[:k]
    ok = held[top] & (workload[top] > 0)
    a_share = float(ok.mean())
    a_min = th.number("T1", "a_segment_covered_min")
    ids = acc["account_id"].astype(str).to_numpy()[top][~ok]
    parts.append(
        _measured(
            a_share >= a_min,
            f"(b) {_pct(a_share)} of the top {_pct(top_share)} accounts by potential ({k}) "
            f"have an active rep and planned hours (needs >= {_pct(a_min)})"
            + (f"; uncovered: {_ids(ids)}" if ids.size else ""),
        )
    )
    table = _territory_frame(ev)
    assert table is not None
    active_rows = _active_reps(reps)
    util = table["utilization"].to_numpy(dtype=np.float64)[active_rows]
    u_max = th.number("T1", "utilisation_max")
    over = table["rep_id"].to_numpy()[active_rows][util > u_max]
    parts.append(
        _measured(
            bool(util.size == 0 or util.max() <= u_max),
            f"(c) highest utilisation {_num(float(util.max()) if util.size else None)} "
            f"(limit {u_max:g})" + (f"; over: {_ids(over)}" if over.size else ""),
        )
    )
    parts.append(
        _unmeasured(
            "(d) actual time per account vs potential not measured",
            "CRM activity logs or a time study (hours spent per account)",
            optional=True,
        )
    )
    return _result(
        "T1",
        parts,
        metric=metric,
        value=covered,
        threshold=cmin,
        comparator=">=",
        scope="forward",
        n=len(acc),
        excluded_n=int((~active_rows).sum()),
        inputs=["accounts.potential", "accounts.workload", "reps", "plan"],
        notes="(b) uses planned hours > 0 for the top accounts in place of a call-frequency "
        "norm per segment; a PASS covers the plan, not how reps actually spend their time.",
    )


def t2_realignment_opportunity(ev: CheckEvidence, th: CheckThresholds) -> CheckResult:
    """T2: net uplift of the proposed over the current alignment, net of transition loss."""
    metric = "net uplift U_net = U - loss rate x moved revenue share"
    u_min = th.number("T2", "uplift_min")
    if not _has_plan(ev):
        return _missing(
            "T2",
            ["accounts, reps and plan (territory align)"],
            metric=metric,
            scope="forward",
            threshold=u_min,
            comparator=">=",
        )
    assert ev.accounts is not None and ev.reps is not None
    acc, reps = ev.accounts, ev.reps
    plan = _plan_array(ev)
    evidence: list[str] = []
    u_flag = th.number("T2", "utilisation_flag")
    p_flag = th.number("T2", "potential_index_flag")
    factors = ev.tier_factors or DEFAULT_TIER_FACTORS

    def flagged(table: pd.DataFrame) -> list[str]:
        index = 1.0 + table["potential_dev"].to_numpy(dtype=np.float64)
        util = table["utilization"].to_numpy(dtype=np.float64)
        return table["rep_id"].astype(str).to_numpy()[(util > u_flag) | (index > p_flag)].tolist()

    table = _territory_frame(ev)
    assert table is not None
    proposed = flagged(table)
    evidence.append(
        f"proposed plan: {len(proposed)} rep(s) over {u_flag:g} utilisation or "
        f"{p_flag:g}x their potential target" + (f" ({_ids(proposed)})" if proposed else "")
    )
    loss_rate = th.number("T2", "transition_loss_rate")
    moved_share = None
    if _has_current(acc):
        current = acc["current_rep"].astype("string").str.strip()
        known = set(reps["rep_id"].astype(str))
        if bool(current.isin(known).fillna(False).all()):
            now = flagged(
                territory_table(acc, reps, current.astype(str).to_numpy(dtype=object), factors)
            )
            evidence.append(
                f"current alignment: {len(now)} rep(s) over the same limits"
                + (f" ({_ids(now)})" if now else "")
            )
        if _has_history(acc):
            revenue = np.nan_to_num(_numbers(acc, "revenue_last_year"))
            moved = moved_mask(acc, plan)
            total = float(revenue.sum())
            moved_share = float(revenue[moved].sum()) / total if total > 0 else None
            if moved_share is not None:
                evidence.append(
                    f"expected transition loss {_pct(loss_rate * moved_share)} of revenue "
                    f"({loss_rate:g} x {_pct(moved_share)} of revenue moved)"
                )
    if ev.realignment_uplift is None:
        return _result(
            "T2",
            [],
            metric=metric,
            value=None,
            threshold=u_min,
            comparator=">=",
            scope="forward",
            n=len(reps),
            inputs=["accounts", "reps", "plan"],
            extra_evidence=evidence,
            extra_needs=[
                "a sales-response-to-effort model giving expected sales under the "
                "current and the proposed alignment"
            ],
            status=Status.NOT_ASSESSABLE,
        )
    u_net = float(ev.realignment_uplift) - loss_rate * (moved_share or 0.0)
    status = Status.PASS if u_net >= u_min else (Status.INFO if u_net >= 0 else Status.FAIL)
    evidence.insert(
        0,
        f"uplift {_pct(ev.realignment_uplift)} less transition loss gives U_net {_pct(u_net)}",
    )
    return _result(
        "T2",
        [],
        metric=metric,
        value=u_net,
        threshold=u_min,
        comparator=">=",
        scope="forward",
        n=len(reps),
        inputs=["accounts", "reps", "plan", "realignment_uplift"],
        extra_evidence=evidence,
        status=status,
        notes="" if moved_share is not None else "no revenue history: transition loss taken as 0",
    )


def t3_objective_criteria(ev: CheckEvidence, th: CheckThresholds) -> CheckResult:
    """T3: balancing rules with tolerances, a reproducible run, few and explained overrides."""
    metric = "manual overrides (locked accounts), larger of account and potential share"
    p_max = th.number("T3", "overrides_pass_max")
    if ev.solve is None:
        return _missing(
            "T3",
            ["solve.json of the alignment run"],
            metric=metric,
            scope="config",
            threshold=p_max,
            comparator="<=",
        )
    params = ev.solve.get("parameters") or {}
    tolerances = {
        name: params.get(f"balance_{name}", ev.solve.get(f"balance_{name}"))
        for name in ("potential", "workload")
    }
    defined = {
        k: float(v)
        for k, v in tolerances.items()
        if isinstance(v, int | float) and math.isfinite(v) and v > 0
    }
    parts = [
        _measured(
            bool(defined),
            "balancing rules: "
            + (
                ", ".join(f"{k} within ±{_pct(v)} of target" for k, v in defined.items())
                + " (hard constraints, so there are no weights to add up)"
                if defined
                else "none recorded"
            ),
        ),
        _reproducibility(ev),
    ]
    value = None
    n = None
    if ev.accounts is not None:
        acc = ev.accounts
        n = len(acc)
        locked = (
            ~_blank(acc["locked_rep"])
            if "locked_rep" in acc.columns
            else np.zeros(n, dtype=np.bool_)
        )
        potential = np.nan_to_num(_numbers(acc, "potential"))
        share_n = float(locked.mean()) if n else 0.0
        total = float(potential.sum())
        share_p = float(potential[locked].sum()) / total if total > 0 else 0.0
        value = max(share_n, share_p)
        w_max = th.number("T3", "overrides_warn_max")
        text = (
            f"{int(locked.sum())} locked account(s): {_pct(share_n)} of accounts, "
            f"{_pct(share_p)} of potential (pass <= {_pct(p_max)}, warn <= {_pct(w_max)})"
        )
        parts.append(_measured(value <= p_max, text, warn=value <= w_max))
        if locked.any() and th.flag("T3", "require_reason_codes"):
            reason_col = next(
                (c for c in ("lock_reason", "override_reason") if c in acc.columns), None
            )
            missing = (
                int(locked.sum())
                if reason_col is None
                else int((locked & _blank(acc[reason_col])).sum())
            )
            if missing:
                parts.append(
                    _Part(
                        Status.WARN,
                        f"{missing} locked account(s) carry no reason code",
                        "a reason code for every locked account (column lock_reason)",
                    )
                )
            else:
                parts.append(_measured(True, "every locked account carries a reason code"))
    else:
        parts.append(_unmeasured("overrides not counted", "accounts table with locked_rep"))
    return _result(
        "T3",
        parts,
        metric=metric,
        value=value,
        threshold=p_max,
        comparator="<=",
        scope="config",
        n=n,
        inputs=["solve.json", "accounts.locked_rep"],
    )


def t4_workload_known(ev: CheckEvidence, th: CheckThresholds) -> CheckResult:
    """T4: every account (and territory) has a workload estimate."""
    metric = "share of accounts with workload > 0"
    a_min = th.number("T4", "accounts_with_workload_min")
    if ev.accounts is None or "workload" not in ev.accounts.columns:
        return _missing(
            "T4",
            ["accounts with workload hours per year"],
            metric=metric,
            scope="forward",
            threshold=a_min,
            comparator=">=",
        )
    acc = ev.accounts
    workload = _numbers(acc, "workload")
    has = np.nan_to_num(workload) > 0
    potential = np.nan_to_num(_numbers(acc, "potential")) if "potential" in acc else None
    share = float(has.mean()) if len(acc) else None
    p_min = th.number("T4", "potential_with_workload_min")
    parts = [
        _measured(
            share is not None and share >= a_min,
            f"{_pct(share)} of {len(acc)} accounts have workload > 0 (needs >= {_pct(a_min)})",
        )
    ]
    if potential is not None and potential.sum() > 0:
        p_share = float(potential[has].sum() / potential.sum())
        parts.append(
            _measured(
                p_share >= p_min,
                f"{_pct(p_share)} of potential is on accounts with workload "
                f"(needs >= {_pct(p_min)})",
            )
        )
    if ev.plan is not None:
        plan = _plan_array(ev)
        per_rep = pd.Series(np.nan_to_num(workload)).groupby(plan).sum()
        t_share = float((per_rep > 0).mean()) if len(per_rep) else 0.0
        t_min = th.number("T4", "territories_with_workload_min")
        parts.append(
            _measured(
                t_share >= t_min,
                f"{_pct(t_share)} of {len(per_rep)} territories have a workload total "
                f"(needs >= {_pct(t_min)})",
            )
        )
    else:
        parts.append(_unmeasured("territory workload not summed", "the plan (territory align)"))
    return _result(
        "T4",
        parts,
        metric=metric,
        value=share,
        threshold=a_min,
        comparator=">=",
        scope="forward",
        n=len(acc),
        inputs=["accounts.workload", "accounts.potential", "plan"],
        notes="segment-default workloads cannot be told apart from account-level estimates",
    )


def t5_rep_workload(ev: CheckEvidence, th: CheckThresholds) -> CheckResult:
    """T5: every rep's utilisation (workload / capacity) inside the band."""
    lo, hi = th.number("T5", "band_low"), th.number("T5", "band_high")
    wlo, whi = th.number("T5", "warn_low"), th.number("T5", "warn_high")
    metric = f"share of reps with utilisation in {lo:g}..{hi:g}"
    table = _territory_frame(ev) if _has_plan(ev) else None
    if table is None or ev.reps is None:
        return _missing(
            "T5",
            ["accounts, reps and plan (territory align)"],
            metric=metric,
            scope="forward",
            threshold=1.0,
            comparator=">=",
        )
    active = _active_reps(ev.reps)
    util = table["utilization"].to_numpy(dtype=np.float64)[active]
    ids = table["rep_id"].astype(str).to_numpy()[active]
    inside = (util >= lo) & (util <= hi)
    near = (util >= wlo) & (util <= whi)
    share = float(inside.mean()) if util.size else None
    text = (
        f"utilisation {_num(float(util.min()) if util.size else None)} to "
        f"{_num(float(util.max()) if util.size else None)} over {util.size} reps"
    )
    if not inside.all():
        text += f"; outside {lo:g}..{hi:g}: {_ids(ids[~inside])}"
    part = _measured(bool(inside.all()), text, warn=bool(near.all()))
    return _result(
        "T5",
        [part],
        metric=metric,
        value=share,
        threshold=1.0,
        comparator=">=",
        scope="forward",
        n=int(util.size),
        excluded_n=int((~active).sum()),
        inputs=["accounts.workload", "reps.capacity", "plan"],
        notes=f"PASS needs every rep in {lo:g}..{hi:g}; WARN when all are in {wlo:g}..{whi:g}",
    )


def _potential_usage(ev: CheckEvidence, w_min: float) -> _Part:
    """Potential is a balancing rule of the alignment, or weighs >= w_min in the quota blend."""
    found: list[str] = []
    ok = False
    if ev.solve is not None:
        params = ev.solve.get("parameters") or {}
        tol = params.get("balance_potential", ev.solve.get("balance_potential"))
        if isinstance(tol, int | float) and math.isfinite(tol):
            ok = True
            found.append(
                f"the alignment holds every rep's potential within ±{_pct(float(tol))} of "
                "target (one of two balancing rules, weight 0.5)"
            )
    if ev.quotas is not None and "w_history" in ev.quotas.columns:
        w = _numbers(ev.quotas, "w_history")
        methods = ev.quotas["method"].astype(str) if "method" in ev.quotas else None
        if methods is not None and bool((methods == "potential").all()):
            weight = 1.0
        else:
            weight = float(np.nanmean(1.0 - w)) if np.isfinite(w).any() else math.nan
        if math.isfinite(weight):
            ok = ok or weight >= w_min
            found.append(f"quota basis puts {_num(weight)} weight on potential on average")
    if not found:
        return _unmeasured(
            "(c) use of potential not shown", "solve.json or quotas showing how potential is used"
        )
    return _measured(ok, "(c) " + "; ".join(found) + f" (needs weight >= {w_min:g})")


def t6_account_potential(ev: CheckEvidence, th: CheckThresholds) -> CheckResult:
    """T6: potential present for (nearly) all accounts, plausible against revenue, and used."""
    metric = "share of accounts with a potential estimate"
    a_min = th.number("T6", "accounts_with_potential_min")
    if ev.accounts is None or "potential" not in ev.accounts.columns:
        return _missing(
            "T6",
            ["accounts with potential"],
            metric=metric,
            scope="forward",
            threshold=a_min,
            comparator=">=",
        )
    acc = ev.accounts
    potential = _numbers(acc, "potential")
    has = np.isfinite(potential)
    share = float(has.mean()) if len(acc) else None
    parts = [
        _measured(
            share is not None and share >= a_min,
            f"(a) {_pct(share)} of accounts have potential (needs >= {_pct(a_min)}); "
            f"{int((np.nan_to_num(potential) == 0).sum())} at zero",
        )
    ]
    excluded = 0
    if _has_history(acc):
        revenue = _numbers(acc, "revenue_last_year")
        known = np.isfinite(revenue)
        excluded = int((~known).sum())
        rev = np.where(known, revenue, 0.0)
        r_min = th.number("T6", "revenue_with_potential_min")
        r_share = float(rev[has].sum() / rev.sum()) if rev.sum() > 0 else 1.0
        parts.append(
            _measured(
                r_share >= r_min,
                f"(a) {_pct(r_share)} of last year's revenue is on accounts with potential "
                f"(needs >= {_pct(r_min)})",
            )
        )
        plausible = (np.nan_to_num(potential) >= rev)[known]
        pl_share = float(plausible.mean()) if plausible.size else 1.0
        pl_min = th.number("T6", "plausible_min")
        low = acc["account_id"].astype(str).to_numpy()[known][~plausible]
        parts.append(
            _measured(
                pl_share >= pl_min,
                f"(b) potential >= last year's revenue for {_pct(pl_share)} of accounts with "
                f"history (needs >= {_pct(pl_min)})"
                + (f"; below: {_ids(low)}" if low.size else ""),
            )
        )
    else:
        parts.append(
            _unmeasured(
                "(b) potential cannot be compared with sales: no revenue history",
                "revenue_last_year per account",
            )
        )
    parts.append(_potential_usage(ev, th.number("T6", "potential_weight_min")))
    return _result(
        "T6",
        parts,
        metric=metric,
        value=share,
        threshold=a_min,
        comparator=">=",
        scope="forward",
        n=len(acc),
        excluded_n=excluded,
        inputs=["accounts.potential", "accounts.revenue_last_year", "solve.json", "quotas"],
    )


def t7_assignment_changes(ev: CheckEvidence, th: CheckThresholds) -> CheckResult:
    """T7: revenue and top accounts moved by the realignment; handover records."""
    metric = "share of last year's revenue on accounts that change rep"
    m_max = th.number("T7", "moved_revenue_max")
    needs = []
    if not _has_current(ev.accounts):
        needs.append("current_rep per account (who serves it today)")
    if not _has_history(ev.accounts):
        needs.append("revenue_last_year per account")
    if ev.plan is None:
        needs.append("the plan (territory align)")
    if needs:
        return _missing(
            "T7", needs, metric=metric, scope="history", threshold=m_max, comparator="<="
        )
    assert ev.accounts is not None
    acc = ev.accounts
    plan = _plan_array(ev)
    moved = moved_mask(acc, plan)
    revenue = np.nan_to_num(_numbers(acc, "revenue_last_year"))
    total = float(revenue.sum())
    share = float(revenue[moved].sum()) / total if total > 0 else 0.0
    ids = acc["account_id"].astype(str).to_numpy()
    parts = [
        _measured(
            share <= m_max,
            f"{int(moved.sum())} account(s) change rep, carrying {_pct(share)} of last year's "
            f"revenue (limit {_pct(m_max)})",
        )
    ]
    top_share = th.number("T7", "top_accounts_share")
    buyers = np.flatnonzero(revenue > 0)
    if buyers.size:
        k = max(1, math.ceil(top_share * buyers.size))
        top = buyers[np.argsort(-revenue[buyers], kind="stable")[:k]]
        top_moved = float(moved[top].mean())
        t_max = th.number("T7", "top_accounts_moved_max")
        biggest = top[moved[top]]
        parts.append(
            _measured(
                top_moved <= t_max,
                f"{_pct(top_moved)} of the top {_pct(top_share)} accounts by revenue ({k}) "
                f"change rep (limit {_pct(t_max)})"
                + (f"; largest moved: {_ids(ids[biggest])}" if biggest.size else ""),
            )
        )
    parts += [
        _unmeasured(
            "moves of accounts with open late-stage deals not checked",
            "open late-stage pipeline per account",
        ),
        _unmeasured(
            "no transition records to check",
            "a transition plan: effective date, from-rep, to-rep, reason and hand-off owner "
            "for every moved account",
        ),
    ]
    return _result(
        "T7",
        parts,
        metric=metric,
        value=share,
        threshold=m_max,
        comparator="<=",
        scope="history",
        n=len(acc),
        inputs=["accounts.current_rep", "accounts.revenue_last_year", "plan"],
        extra_needs=["customer retention or NPS after the change (moved vs unmoved accounts)"],
        notes="whether customers were upset can only be seen after the change",
    )


def t8_realignment_data(ev: CheckEvidence, th: CheckThresholds) -> CheckResult:
    """T8: account data quality and a reproducible run; dates and usability need more data."""
    metric = "share of accounts with a valid rep, potential, segment and location"
    q_min = th.number("T8", "data_quality_min")
    if ev.accounts is None:
        return _missing(
            "T8",
            ["accounts table"],
            metric=metric,
            scope="config",
            threshold=q_min,
            comparator=">=",
        )
    acc = ev.accounts
    n = len(acc)
    valid = np.ones(n, dtype=np.bool_)
    fields = []
    if ev.plan is not None and ev.reps is not None:
        known = set(ev.reps["rep_id"].astype(str))
        valid &= np.array([r in known for r in _plan_array(ev).tolist()], dtype=np.bool_)
        fields.append("rep")
    potential = _numbers(acc, "potential") if "potential" in acc.columns else np.full(n, np.nan)
    valid &= np.isfinite(potential) & (potential >= 0)
    fields.append("potential")
    lat = _numbers(acc, "lat") if "lat" in acc.columns else np.full(n, np.nan)
    lon = _numbers(acc, "lon") if "lon" in acc.columns else np.full(n, np.nan)
    valid &= np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    fields.append("location")
    parts: list[_Part] = []
    if "segment" in acc.columns:
        valid &= ~_blank(acc["segment"])
        fields.append("segment")
    else:
        parts.append(_unmeasured("no segment column to check", "segment per account"))
    share = float(valid.mean()) if n else None
    parts.insert(
        0,
        _measured(
            share is not None and share >= q_min,
            f"{_pct(share)} of accounts have a valid {', '.join(fields)} (needs >= {_pct(q_min)})",
        ),
    )
    if ev.solve is not None:
        parts.append(_reproducibility(ev))
    else:
        parts.append(_unmeasured("reproducibility not checked", "solve.json of the run"))
    age = th.value("T8", "max_data_age_months")
    review = th.value("T8", "max_review_age_months")
    parts += [
        _unmeasured(
            "age of the potential estimates unknown",
            f"as-of date of the potential estimates (at most {age} months old)",
        ),
        _unmeasured(
            "whether history covers the last closed period unknown",
            "the period revenue_last_year covers",
        ),
        _unmeasured(
            "date of the last alignment review unknown",
            f"date of the last alignment review (at most {review} months ago)",
        ),
        _unmeasured(
            "ease of the process not measured",
            "a user survey or usability review of the realignment process",
        ),
    ]
    return _result(
        "T8",
        parts,
        metric=metric,
        value=share,
        threshold=q_min,
        comparator=">=",
        scope="config",
        n=n,
        inputs=["accounts", "reps", "plan", "solve.json"],
    )


def _balance(table: pd.DataFrame) -> tuple[float, float]:
    pot = float(np.nanmax(np.abs(table["potential_dev"].to_numpy(dtype=np.float64))))
    wl = float(np.nanmax(np.abs(table["workload_dev"].to_numpy(dtype=np.float64))))
    return pot, wl


def t9_balance_and_quotas(ev: CheckEvidence, th: CheckThresholds) -> CheckResult:
    """T9: potential and workload within tolerance of target; quotas follow potential."""
    strict = th.flag("T9", "strict")
    b_pass = th.number("T9", "strict_max" if strict else "balance_pass_max")
    b_warn = th.number("T9", "balance_warn_max")
    metric = "largest deviation from target, potential or workload"
    table = _territory_frame(ev)
    if table is None:
        return _missing(
            "T9",
            ["accounts, reps and plan (territory align)"],
            metric=metric,
            scope="forward",
            threshold=b_pass,
            comparator="<=",
        )
    pot, wl = _balance(table)
    worst = max(pot, wl)
    text = (
        f"largest deviation from target: potential {_pct(pot)}, workload {_pct(wl)} "
        f"(pass <= {_pct(b_pass)}, warn <= {_pct(b_warn)})"
    )
    if worst > b_pass:
        dev = np.maximum(
            np.abs(table["potential_dev"].to_numpy(dtype=np.float64)),
            np.abs(table["workload_dev"].to_numpy(dtype=np.float64)),
        )
        text += f"; outside: {_ids(table['rep_id'].astype(str).to_numpy()[dev > b_pass])}"
    parts = [_measured(worst <= b_pass, text, warn=worst <= b_warn)]
    n = len(table)
    if ev.quotas is not None and {"final_annual_quota", "potential"} <= set(ev.quotas.columns):
        q = _numbers(ev.quotas, "final_annual_quota")
        p = _numbers(ev.quotas, "potential")
        methods = ev.quotas["method"].astype(str) if "method" in ev.quotas else pd.Series([])
        potential_only = len(methods) > 0 and bool((methods == "potential").all())
        r_min = th.number(
            "T9", "quota_spearman_min_potential_only" if potential_only else "quota_spearman_min"
        )
        rho = _spearman(q, p)
        if rho is None and np.ptp(np.nan_to_num(p)) == 0:
            equal_q = bool(np.ptp(np.nan_to_num(q)) <= 1e-6 * max(1.0, float(np.nanmax(q))))
            parts.append(
                _measured(
                    equal_q,
                    "all territories have equal potential; quotas "
                    + ("are equal too" if equal_q else "differ"),
                )
            )
        else:
            parts.append(
                _measured(
                    rho is not None and rho >= r_min,
                    f"Spearman(quota, potential) = {_num(rho)} over {len(q)} territories "
                    f"(needs >= {r_min:g})",
                )
            )
    else:
        parts.append(_unmeasured("quotas not set yet", "quotas (territory quota)"))
    if ev.rep_impact is not None and "expected_attainment" in ev.rep_impact.columns:
        ea = _numbers(ev.rep_impact, "expected_attainment")
        keep = np.isfinite(ea)
        d_max = th.number("T9", "difficulty_max")
        if keep.sum() >= 2:
            med = float(np.median(ea[keep]))
            spread = np.abs(ea / med - 1.0)
            worst_d = float(np.nanmax(spread))
            ids = ev.rep_impact["rep_id"].astype(str).to_numpy()
            parts.append(
                _measured(
                    worst_d <= d_max,
                    f"expected attainment at plan: median {_pct(med)}, largest distance from "
                    f"it {_pct(worst_d)} (limit {_pct(d_max)})"
                    + (
                        f"; outside: {_ids(ids[keep & (spread > d_max)])}"
                        if worst_d > d_max
                        else ""
                    ),
                )
            )
        else:
            parts.append(_unmeasured("too few reps simulated", "stress rep_impact for 2+ reps"))
    else:
        parts.append(
            _unmeasured(
                "equal difficulty not simulated", "stress test rep_impact (territory stress)"
            )
        )
    bt_table = (ev.backtest or {}).get("table")
    if isinstance(bt_table, pd.DataFrame) and {"attainment", "quota_rescaled"} <= set(
        bt_table.columns
    ):
        r = _pearson(_numbers(bt_table, "attainment"), _numbers(bt_table, "quota_rescaled"))
        c_max = th.number("T9", "backtest_size_corr_max")
        parts.append(
            _Part(
                Status.PASS if r is not None and abs(r) <= c_max else Status.WARN,
                f"backtest: Pearson(attainment, territory size) = {_num(r)} (limit ±{c_max:g})",
                optional=True,
            )
        )
    return _result(
        "T9",
        parts,
        metric=metric,
        value=worst,
        threshold=b_pass,
        comparator="<=",
        scope="forward",
        n=n,
        inputs=["territories", "quotas", "rep_impact", "backtest"],
        notes="targets follow capacity and tier factors, so deviations are from each rep's "
        "own target" + ("; strict mode" if strict else ""),
    )


def _performance(reps: pd.DataFrame) -> tuple[FloatArray, str] | None:
    """Rep performance measure: effectiveness from history, else rating, else tier rank."""
    for column in ("effectiveness", "rating"):
        if column in reps.columns and bool(
            pd.to_numeric(reps[column], errors="coerce").notna().any()
        ):
            return _numbers(reps, column), column
    if "tier" in reps.columns:
        rank = {"A": 3.0, "B": 2.0, "C": 1.0}
        tiers = reps["tier"].astype("string").str.strip().str.upper()
        return np.array([rank.get(str(t), np.nan) for t in tiers], dtype=np.float64), "tier rank"
    return None


def t10_best_reps_best_territories(ev: CheckEvidence, th: CheckThresholds) -> CheckResult:
    """T10: rank correlation of rep performance with territory potential (ramped reps)."""
    p_min = th.number("T10", "spearman_pass_min")
    metric = "Spearman(rep performance, territory potential)"
    table = _territory_frame(ev)
    if table is None or ev.reps is None:
        return _missing(
            "T10",
            ["reps and plan (territory align)"],
            metric=metric,
            scope="forward",
            threshold=p_min,
            comparator=">=",
        )
    reps = ev.reps
    potential = table["potential"].to_numpy(dtype=np.float64)
    fte = _numbers(reps, "fte") if "fte" in reps.columns else np.ones(len(reps))
    fte = np.where(np.isfinite(fte) & (fte > 0), fte, 1.0)
    per_fte = potential / fte
    cv = float(np.std(per_fte) / np.mean(per_fte)) if np.mean(per_fte) > 0 else 0.0
    cv_max = th.number("T10", "equal_cv_max")
    if cv < cv_max:
        return _result(
            "T10",
            [],
            metric=metric,
            value=None,
            threshold=p_min,
            comparator=">=",
            scope="forward",
            n=len(reps),
            inputs=["territories", "reps"],
            extra_evidence=[
                f"CV of potential per FTE is {_num(cv)} (< {cv_max:g}): "
                "territories are equal, so none has the most potential"
            ],
            status=Status.NOT_APPLICABLE,
        )
    perf = _performance(reps)
    if perf is None:
        return _missing(
            "T10",
            ["rep performance: effectiveness from history, or a rating"],
            metric=metric,
            scope="forward",
            threshold=p_min,
            comparator=">=",
        )
    score, source = perf
    keep = _active_reps(reps)
    ramp = float(th.number("T10", "ramped_after_months"))
    if "tenure_months" in reps.columns:
        tenure = _numbers(reps, "tenure_months")
        keep &= ~(np.isfinite(tenure) & (tenure < ramp))
    excluded = int((~keep).sum())
    known = keep & np.isfinite(score)
    missing_share = 1.0 - float(known.sum()) / max(1, int(keep.sum()))
    if missing_share > th.number("T10", "max_missing_share"):
        return _result(
            "T10",
            [],
            metric=metric,
            value=None,
            threshold=p_min,
            comparator=">=",
            scope="forward",
            n=int(keep.sum()),
            excluded_n=excluded,
            inputs=["reps", source],
            extra_evidence=[f"{_pct(missing_share)} of ramped reps have no {source}"],
            extra_needs=["a year of results per rep to measure effectiveness"],
            status=Status.NOT_ASSESSABLE,
        )
    rho = _spearman(score[known], potential[known])
    w_min = th.number("T10", "spearman_warn_min")
    if rho is None:
        status = Status.NOT_ASSESSABLE
    else:
        status = Status.PASS if rho >= p_min else (Status.WARN if rho >= w_min else Status.FAIL)
    top_q = potential[known] >= np.quantile(potential[known], 0.75) if known.any() else None
    evidence = [
        f"Spearman({source}, territory potential) = {_num(rho)} over {int(known.sum())} "
        f"ramped reps (pass >= {p_min:g}, warn >= {w_min:g})"
    ]
    if top_q is not None and top_q.any():
        above = score[known] > np.median(score[known])
        evidence.append(
            f"{_pct(float(above[top_q].mean()))} of top-quartile-potential territories are "
            "held by above-median reps (random ~ 50%)"
        )
    return _result(
        "T10",
        [],
        metric=metric,
        value=rho,
        threshold=p_min,
        comparator=">=",
        scope="forward",
        n=int(known.sum()),
        excluded_n=excluded,
        inputs=["territories.potential", f"reps.{source.split()[0]}"],
        extra_evidence=evidence,
        status=status,
        extra_needs=[]
        if source == "effectiveness"
        else ["rep effectiveness from 1-2 years of sales vs expected sales"],
        notes=f"performance taken from {source}"
        + ("" if source == "effectiveness" else ", a proxy for the history-based effectiveness")
        + "; pulls against strict balance (T9), read both",
    )


# --------------------------------------------------------------------------------------------
# Compensation and quota
# --------------------------------------------------------------------------------------------


def _roles_of_rep(role: RolePlan) -> list[str]:
    return [_norm_role(role.name), *(_norm_role(r) for r in role.rep_roles)]


def c1_objective_alignment(ev: CheckEvidence, th: CheckThresholds) -> CheckResult:
    """C1: every measure names an objective; every objective reaches its roles."""
    metric = "share of plan measures carrying an objective_id"
    t_min = th.number("C1", "traceability_min")
    if ev.comp is None:
        return _missing(
            "C1", ["comp plan"], metric=metric, scope="config", threshold=t_min, comparator=">="
        )
    measures = [(role, m) for role in ev.comp.roles.values() for m in role.measures]
    traced = [(r, m) for r, m in measures if m.objective_id]
    share = len(traced) / len(measures)
    untraced = [f"{r.name}/{m.name}" for r, m in measures if not m.objective_id]
    parts = [
        _measured(
            share >= t_min,
            f"{len(traced)} of {len(measures)} measures name an objective"
            + (f"; without: {_ids(untraced)}" if untraced else ""),
        )
    ]
    if ev.objectives is not None:
        gaps = []
        pairs = 0
        for objective, roles in ev.objectives.items():
            for wanted in roles:
                pairs += 1
                plan_role = next(
                    (r for r in ev.comp.roles.values() if _norm_role(wanted) in _roles_of_rep(r)),
                    None,
                )
                if plan_role is None or not any(
                    m.objective_id == objective for m in plan_role.measures
                ):
                    gaps.append(f"{objective}->{wanted}")
        parts.append(
            _measured(
                not gaps,
                f"{pairs - len(gaps)} of {pairs} objective-role pairs have a measure"
                + (f"; missing: {_ids(gaps)}" if gaps else ""),
            )
        )
    else:
        parts.append(
            _unmeasured(
                "objectives used: "
                + _ids(sorted({str(m.objective_id) for _, m in traced}), limit=10),
                "the strategic objectives with their weights and the roles each applies to",
            )
        )
    return _result(
        "C1",
        parts,
        metric=metric,
        value=share,
        threshold=t_min,
        comparator=">=",
        scope="config",
        n=len(measures),
        inputs=["comp plan", "objectives"],
        extra_needs=["a period of results to compare the achieved mix with the objectives"],
        notes="behaviour itself shows only after the period",
    )


def _quota_by_rep(ev: CheckEvidence) -> pd.Series | None:
    if ev.quotas is None or "final_annual_quota" not in ev.quotas.columns:
        return None
    return ev.quotas.groupby(ev.quotas["rep_id"].astype(str))["final_annual_quota"].sum()


def c2_market_competitiveness(ev: CheckEvidence, th: CheckThresholds) -> CheckResult:
    """C2: needs market pay data; reports OTE, mix and quota-to-OTE as evidence."""
    lo, hi = th.number("C2", "quota_to_ote_low"), th.number("C2", "quota_to_ote_high")
    evidence: list[str] = []
    if ev.comp is not None:
        quotas = _quota_by_rep(ev)
        for role in ev.comp.roles.values():
            line = (
                f"{role.name}: OTE {role.ote:,.0f} {ev.comp.currency}, "
                f"{_pct(role.pay_mix.variable)} variable"
            )
            if quotas is not None and ev.reps is not None and "role" in ev.reps.columns:
                wanted = set(role.rep_roles)
                ids = ev.reps["rep_id"].astype(str)[ev.reps["role"].astype(str).isin(wanted)]
                q = quotas.reindex(ids).to_numpy(dtype=np.float64)
                ote = np.full(q.shape, role.ote)
                if "ote" in ev.reps.columns:
                    rep_ote = _numbers(ev.reps, "ote")[ev.reps["rep_id"].astype(str).isin(ids)]
                    ote = np.where(np.isfinite(rep_ote), rep_ote, role.ote)
                ratio = q / ote
                if np.isfinite(ratio).any():
                    med = float(np.nanmedian(ratio))
                    line += f"; median quota/OTE {med:.1f}x (band {lo:g}-{hi:g}x)"
            evidence.append(line)
    return _result(
        "C2",
        [],
        metric="OTE and pay mix against market P25-P75",
        value=None,
        threshold="OTE in market P25..P75, mix within 10 pts",
        comparator="in",
        scope="config",
        n=len(ev.comp.roles) if ev.comp else None,
        inputs=["comp plan", "quotas"],
        extra_evidence=evidence or ["no comp plan given"],
        extra_needs=["a market pay survey per role (P25/P50/P75 OTE and pay mix)"],
        status=Status.NOT_ASSESSABLE,
    )


def c3_pay_mix(ev: CheckEvidence, th: CheckThresholds) -> CheckResult:
    """C3: each role's variable share of OTE inside its band; hunters above farmers."""
    metric = "share of roles whose variable pay share is inside the role's band"
    if ev.comp is None:
        return _missing(
            "C3", ["comp plan"], metric=metric, scope="config", threshold=1.0, comparator=">="
        )
    bands: Mapping[str, Sequence[float]] = th.value("C3", "bands")
    parts = []
    in_band = 0
    banded = 0
    variable: dict[str, float] = {}
    for role in ev.comp.roles.values():
        v = role.pay_mix.variable
        for name in _roles_of_rep(role):
            variable.setdefault(name, v)
        band_key = next((k for k in _roles_of_rep(role) if k in bands), None)
        if band_key is None:
            parts.append(
                _unmeasured(
                    f"{role.name}: {_pct(v)} variable, no guideline band for this role",
                    f"a pay-mix band for role '{role.name}' (checks.C3.bands)",
                )
            )
            continue
        lo, hi = bands[band_key]
        ok = lo - 1e-9 <= v <= hi + 1e-9
        banded += 1
        in_band += ok
        parts.append(_measured(ok, f"{role.name}: {_pct(v)} variable (band {_pct(lo)}-{_pct(hi)})"))
    for high, low in th.value("C3", "ordering"):
        if high in variable and low in variable:
            parts.append(
                _measured(
                    variable[high] >= variable[low] - 1e-9,
                    f"{high} variable {_pct(variable[high])} vs {low} {_pct(variable[low])} "
                    "(the first should not be lower)",
                )
            )
    value = in_band / banded if banded else None
    return _result(
        "C3",
        parts,
        metric=metric,
        value=value,
        threshold=1.0,
        comparator=">=",
        scope="config",
        n=len(ev.comp.roles),
        inputs=["comp plan pay_mix"],
    )


def _rank_correlation_of_curve(role: RolePlan, a10: float, a90: float) -> float | None:
    """Spearman(A, f(A)) over a lognormal attainment fitted to the role's A10 and A90."""
    if not (a10 > 0 and a90 > a10):
        return None
    z = float(norm.ppf(0.9))
    mu = (math.log(a10) + math.log(a90)) / 2.0
    sigma = (math.log(a90) - math.log(a10)) / (2.0 * z)
    q = (np.arange(2000, dtype=np.float64) + 0.5) / 2000.0
    attainment = np.exp(mu + sigma * norm.ppf(q))
    return _spearman(attainment, role.incentive_multiple(attainment))


def c4_pay_for_performance(ev: CheckEvidence, th: CheckThresholds) -> CheckResult:
    """C4: payout at the 90th and 10th percentile attainment, rank correlation, cap binding."""
    p_pass = th.number("C4", "payout_p90_pass_min")
    metric = "payout (x TI) at the 90th-percentile attainment, lowest over roles"
    if ev.stress is None:
        return _missing(
            "C4",
            ["stress test verdicts (territory stress)"],
            metric=metric,
            scope="forward",
            threshold=p_pass,
            comparator=">=",
        )
    v = ev.stress
    roles = [_as_dict(r) for r in (v.get("roles") or [])]
    if not roles:
        roles = [
            {
                "role": "all",
                **{
                    k: v.get(k)
                    for k in ("payout_at_p90", "payout_at_p10", "attainment_p10", "attainment_p90")
                },
            }
        ]
    p_warn = th.number("C4", "payout_p90_warn_min")
    p10_max = th.number("C4", "payout_p10_max")
    cap_max = th.number("C4", "cap_binding_max")
    rho_min = th.number("C4", "spearman_min")
    parts: list[_Part] = []
    evidence: list[str] = []
    lowest = math.inf
    for r in roles:
        name = str(r.get("role"))
        f90 = float(r.get("payout_at_p90") or math.nan)
        f10 = float(r.get("payout_at_p10") or 0.0)
        lowest = min(lowest, f90)
        parts.append(
            _measured(
                f90 >= p_pass,
                f"{name}: the 90th-percentile rep ({_pct(r.get('attainment_p90'))} of quota) "
                f"earns {_num(f90)}x TI (pass >= {p_pass:g}, warn >= {p_warn:g})",
                warn=f90 >= p_warn,
            )
        )
        parts.append(
            _measured(
                f10 <= p10_max,
                f"{name}: the 10th-percentile rep ({_pct(r.get('attainment_p10'))}) earns "
                f"{_num(f10)}x TI (limit {p10_max:g})",
            )
        )
        if r.get("cap_binding_rate") is not None:
            cap = float(r["cap_binding_rate"])
            parts.append(
                _measured(
                    cap <= cap_max,
                    f"{name}: cap binds in {_pct(cap)} of rep-draws (limit {_pct(cap_max)})",
                )
            )
        slope = r.get("accelerator_slope_needed")
        if slope is not None and math.isfinite(float(slope)):
            evidence.append(
                f"{name}: an accelerator slope of {float(slope):.2f} from quota would pay "
                f"{_num(r.get('target_leverage'))}x TI at the 90th percentile"
            )
        plan_role = ev.comp.roles.get(name) if ev.comp is not None else None
        if plan_role is not None:
            rho = _rank_correlation_of_curve(
                plan_role,
                float(r.get("attainment_p10") or math.nan),
                float(r.get("attainment_p90") or math.nan),
            )
            parts.append(
                _measured(
                    rho is not None and rho >= rho_min,
                    f"{name}: Spearman(attainment, payout) = {_num(rho)} (needs >= {rho_min:g})",
                )
            )
            falling = [
                f"{m.name}"
                for m in plan_role.measures
                if any(t.slope < 0 for t in plan_role.curve_of(m).tiers)
            ]
            parts.append(
                _measured(
                    not falling,
                    f"{name}: payout never falls as attainment rises"
                    if not falling
                    else f"{name}: payout falls on {falling}",
                )
            )
        else:
            parts.append(
                _unmeasured(f"{name}: rank correlation not computed", "the comp plan's curves")
            )
    return _result(
        "C4",
        parts,
        metric=metric,
        value=lowest if math.isfinite(lowest) else None,
        threshold=p_pass,
        comparator=">=",
        scope="forward",
        n=int(v.get("n_rate_reps") or 0),
        excluded_n=int(v.get("n_excluded") or 0),
        inputs=["stress verdicts", "comp plan"],
        extra_evidence=evidence,
        notes="percentiles pooled over ramped full-year reps and simulations at x = 1.00; the "
        "rank correlation is computed on a lognormal fitted to each role's A10 and A90",
    )


def c5_measures(ev: CheckEvidence, th: CheckThresholds) -> CheckResult:
    """C5: at most three measures per plan, each weighing at least 20% of TI."""
    w_min = th.number("C5", "min_weight")
    strict = th.flag("C5", "strict_greater")
    metric = "smallest measure weight over roles"
    if ev.comp is None:
        return _missing(
            "C5",
            ["comp plan"],
            metric=metric,
            scope="config",
            threshold=w_min,
            comparator=">" if strict else ">=",
        )
    n_max = int(th.number("C5", "max_measures"))
    parts = []
    lightest = math.inf
    for role in ev.comp.roles.values():
        weights = [m.weight for m in role.measures]
        low = min(weights)
        lightest = min(lightest, low)
        ok_w = low > w_min if strict else low >= w_min - 1e-12
        parts.append(
            _measured(
                len(weights) <= n_max and ok_w,
                f"{role.name}: {len(weights)} measure(s), lightest "
                f"{_pct(low)} of TI (limits: <= {n_max} measures, each "
                f"{'>' if strict else '>='} {_pct(w_min)})",
            )
        )
    return _result(
        "C5",
        parts,
        metric=metric,
        value=lightest,
        threshold=w_min,
        comparator=">" if strict else ">=",
        scope="config",
        n=len(ev.comp.roles),
        inputs=["comp plan measures"],
        notes="every measure that pays money counts; the plan format has no separate kickers",
    )


def c6_earnings_balance(ev: CheckEvidence, th: CheckThresholds) -> CheckResult:
    """C6: opportunity balanced (potential) and earning chances equal for a standard rep."""
    s_max = th.number("C6", "payout_spread_max")
    metric = "largest distance from the median of E[payout / TI], standard rep"
    parts: list[_Part] = []
    table = _territory_frame(ev)
    if table is not None:
        pot, _ = _balance(table)
        b_max = th.number("C6", "potential_balance_max")
        parts.append(
            _measured(
                pot <= b_max,
                f"potential within {_pct(pot)} of target for every rep (limit {_pct(b_max)})",
            )
        )
    else:
        parts.append(_unmeasured("opportunity balance not measured", "the plan (territory align)"))
    value = None
    if ev.stress is not None and ev.stress.get("payout_spread") is not None:
        value = float(ev.stress["payout_spread"])
        p_spread = float(ev.stress.get("p_attain_spread") or math.nan)
        p_max = th.number("C6", "p_attain_spread_max")
        parts.append(
            _measured(
                value <= s_max,
                f"expected payout differs from the median by up to "
                f"{_num(value)}x TI (limit {s_max:g})",
            )
        )
        parts.append(
            _measured(
                math.isfinite(p_spread) and p_spread <= p_max,
                f"chance of reaching quota differs from the median by up to "
                f"{_pct(p_spread)} (limit {_pct(p_max)})",
            )
        )
    else:
        parts.append(
            _unmeasured("earning chances not simulated", "stress test verdicts (territory stress)")
        )
    extra = []
    if ev.quotas is not None and {"final_annual_quota", "potential"} <= set(ev.quotas.columns):
        ratio = _numbers(ev.quotas, "final_annual_quota") / _numbers(ev.quotas, "potential")
        ratio = ratio[np.isfinite(ratio)]
        if ratio.size and ratio.mean() > 0:
            extra.append(
                f"quota-to-potential differs from its mean by up to "
                f"{_pct(float(np.max(np.abs(ratio / ratio.mean() - 1.0))))} (information)"
            )
    return _result(
        "C6",
        parts,
        metric=metric,
        value=value,
        threshold=s_max,
        comparator="<=",
        scope="forward",
        n=int((ev.stress or {}).get("n_rate_reps") or 0) or None,
        excluded_n=int((ev.stress or {}).get("n_excluded") or 0),
        inputs=["territories", "stress verdicts", "quotas"],
        extra_evidence=extra,
        notes="standard rep = effectiveness 1 in every territory, at x = 1.00",
    )


def _history_attainment(
    ev: CheckEvidence, min_tenure: float
) -> tuple[FloatArray, FloatArray | None, int] | None:
    """Last year's attainment per rep (and payout when known) from accounts and reps."""
    acc, reps = ev.accounts, ev.reps
    if acc is None or reps is None or not (_has_history(acc) and _has_current(acc)):
        return None
    revenue = pd.Series(np.nan_to_num(_numbers(acc, "revenue_last_year")))
    owner = acc["current_rep"].astype("string").str.strip().to_numpy(dtype=object)
    sales = revenue.groupby(owner).sum()
    ids = reps["rep_id"].astype(str)
    if "prior_year_quota" in reps.columns:
        quota = pd.Series(_numbers(reps, "prior_year_quota"), index=ids.to_numpy())
    elif "quota_last_year" in acc.columns:
        quota = pd.Series(np.nan_to_num(_numbers(acc, "quota_last_year"))).groupby(owner).sum()
    else:
        return None
    keep = np.ones(len(reps), dtype=np.bool_)
    if "tenure_months" in reps.columns:
        tenure = _numbers(reps, "tenure_months")
        keep &= ~(np.isfinite(tenure) & (tenure < min_tenure))
    q = quota.reindex(ids).to_numpy(dtype=np.float64)
    s = sales.reindex(ids).fillna(0.0).to_numpy(dtype=np.float64)
    keep &= np.isfinite(q) & (q > 0)
    payout = None
    if "prior_year_payout" in reps.columns:
        pay = _numbers(reps, "prior_year_payout")
        if np.isfinite(pay[keep]).all():
            payout = pay[keep]
    return s[keep] / q[keep], payout, int((~keep).sum())


def c7_attainment_distribution(ev: CheckEvidence, th: CheckThresholds) -> CheckResult:
    """C7: share of reps at quota and share paid; last year when known, else simulated."""
    q_min = th.number("C7", "share_at_quota_min")
    paid_min = th.number("C7", "share_paid_min")
    easy = th.number("C7", "too_easy_above")
    metric = "share of reps at or above quota"

    def quota_part(share: float, label: str) -> _Part:
        text = f"{label}: {_pct(share)} of reps at or above quota (needs >= {_pct(q_min)})"
        if share > easy:
            return _Part(Status.WARN, text + f"; above {_pct(easy)} the quotas look too easy")
        return _measured(share >= q_min, text)

    history = _history_attainment(ev, th.number("C7", "history_min_tenure_months"))
    forward: list[_Part] = []
    evidence: list[str] = []
    v = ev.stress
    if v is not None and v.get("expected_share_at_quota") is not None:
        forward.append(quota_part(float(v["expected_share_at_quota"]), "simulated at plan"))
        paid = float(v.get("expected_share_paid") or math.nan)
        forward.append(
            _measured(
                paid >= paid_min,
                f"simulated at plan: {_pct(paid)} of reps earn some "
                f"incentive (needs >= {_pct(paid_min)})",
            )
        )
        evidence += [
            f"P(share at quota >= {_pct(q_min)}) = {_pct(v.get('p_share_at_quota_ge_min'))}",
            f"over-assignment {_pct(v.get('over_assignment'))}; the largest that still leaves "
            f"half at quota is {_pct(v.get('over_assignment_bound'))}",
            f"largest payout threshold compatible with 90% paid: "
            f"{_pct(v.get('largest_threshold_for_90pct_paid'))} of quota",
        ]
    if history is not None:
        attainment, payout, excluded = history
        h_parts = [quota_part(float((attainment >= 1.0).mean()), "last year")]
        if payout is not None:
            share_paid = float((payout > 0).mean())
            h_parts.append(
                _measured(
                    share_paid >= paid_min,
                    f"last year: {_pct(share_paid)} of reps "
                    f"earned some incentive (needs >= {_pct(paid_min)})",
                )
            )
        else:
            h_parts.append(_unmeasured("last year's payouts unknown", "prior_year_payout per rep"))
        complete = payout is not None
        if complete or not forward:
            return _result(
                "C7",
                h_parts,
                metric=metric,
                value=float((attainment >= 1.0).mean()),
                threshold=q_min,
                comparator=">=",
                scope="history",
                n=int(attainment.size),
                excluded_n=excluded,
                inputs=["accounts.revenue_last_year", "quota_last_year", "reps.prior_year_payout"],
                extra_evidence=[f"{p.status}: {p.evidence}" for p in forward] + evidence,
            )
        evidence = [f"{p.status}: {p.evidence}" for p in h_parts] + evidence
    if forward:
        return _result(
            "C7",
            forward,
            metric=metric,
            value=float(v["expected_share_at_quota"]) if v else None,
            threshold=q_min,
            comparator=">=",
            scope="forward",
            n=int((v or {}).get("n_rate_reps") or 0),
            excluded_n=int((v or {}).get("n_excluded") or 0),
            inputs=["stress verdicts"],
            extra_evidence=evidence,
            extra_needs=[]
            if history is not None
            else ["last year's quota, sales and payout per rep for the history test"],
            notes="forward mode: expected shares over simulations at x = 1.00, ramped "
            "full-year reps",
        )
    return _missing(
        "C7",
        ["last year's quota, sales and payout per rep", "or a stress test (territory stress)"],
        metric=metric,
        scope="history",
        threshold=q_min,
        comparator=">=",
    )


def c8_forecast_accuracy(ev: CheckEvidence, th: CheckThresholds) -> CheckResult:
    """C8: company forecast error and quota WMAPE from the backtest on last year's data."""
    w_pass = th.number("C8", "wmape_pass_max")
    metric = "quota WMAPE (quotas rescaled to plan vs actual sales)"
    forward = []
    if ev.stress is not None and ev.stress.get("p_company_within_band") is not None:
        forward.append(
            f"simulated chance that company sales land within 10% of plan: "
            f"{_pct(ev.stress['p_company_within_band'])} (echoes the assumed company sigma)"
        )
    bt = ev.backtest
    if not bt or bt.get("wmape") is None:
        return _missing(
            "C8",
            [
                "revenue_prior_year per account (two years of history) so last year's "
                "quotas can be re-set and scored"
            ],
            metric=metric,
            scope="history",
            threshold=w_pass,
            comparator="<=",
            evidence=forward or ["no backtest: fewer than two years of history"],
        )
    w_warn = th.number("C8", "wmape_warn_max")
    c_max = th.number("C8", "company_error_max")
    wmape = float(bt["wmape"])
    parts = [
        _measured(
            wmape <= w_pass,
            f"quota WMAPE {_pct(wmape)} (pass <= {_pct(w_pass)}, warn <= {_pct(w_warn)})",
            warn=wmape <= w_warn,
        )
    ]
    target = bt.get("plan_target")
    this_year = (ev.quota_config or {}).get("company_target")
    company_error = bt.get("company_error")
    if company_error is None:
        parts.append(_unmeasured("company forecast error not given", "last year's plan number"))
    elif target is not None and this_year is not None and float(target) == float(this_year):
        parts.append(
            _unmeasured(
                f"company error {_pct(float(company_error))} compares last year's sales with "
                "this year's target, not a forecast",
                "last year's plan number (the backtest's plan_target)",
            )
        )
    else:
        parts.append(
            _measured(
                float(company_error) <= c_max,
                f"company forecast error {_pct(float(company_error))} (limit {_pct(c_max)})",
            )
        )
    evidence = [
        f"{_pct(bt.get('share_within_narrow_band'))} of territories within ±10% of quota, "
        f"{_pct(bt.get('share_within_wide_band'))} within ±20%",
        f"naive prior-year x growth WMAPE {_pct(bt.get('naive_wmape'))} (information)",
        *forward,
    ]
    return _result(
        "C8",
        parts,
        metric=metric,
        value=wmape,
        threshold=w_pass,
        comparator="<=",
        scope="history",
        n=None,
        inputs=["quota backtest", "quota config"],
        extra_evidence=evidence,
        notes="a rep-level WMAPE of 10% is demanding (it implies a rep sigma near 0.125)",
    )


def c9_plan_understanding(ev: CheckEvidence, th: CheckThresholds) -> CheckResult:
    """C9: needs a survey; reports plan complexity and the calculator as evidence."""
    agree = th.number("C9", "survey_agree_min")
    evidence = []
    if ev.comp is not None:
        for role in ev.comp.roles.values():
            curves = [role.curve_of(m) for m in role.measures]
            tiers = sum(len(c.tiers) for c in curves)
            thresholds = sum(c.threshold is not None for c in curves)
            caps = sum(c.cap is not None for c in curves)
            evidence.append(
                f"{role.name}: {len(role.measures)} measure(s), {tiers} tier(s), "
                f"{thresholds} threshold(s), {caps} cap(s)"
            )
        evidence.append("payout calculator: payout_table.csv and `territory payout`")
    return _result(
        "C9",
        [],
        metric="share of reps and leaders who can work out their own payout",
        value=None,
        threshold=agree,
        comparator=">=",
        scope="config",
        n=len(ev.comp.roles) if ev.comp else None,
        inputs=["comp plan"],
        extra_evidence=evidence or ["no comp plan given"],
        extra_needs=[
            f"a survey or quiz of reps and leaders (pass at >= {_pct(agree)} able to "
            "calculate their own incentive)"
        ],
        status=Status.NOT_ASSESSABLE,
    )


def c10_administration(ev: CheckEvidence, th: CheckThresholds) -> CheckResult:
    """C10: every rep maps to one plan and a dry-run payout works; timeliness needs dates."""
    metric = "share of reps that resolve to exactly one role plan"
    if ev.comp is None or ev.reps is None:
        return _missing(
            "C10",
            ["comp plan and reps"],
            metric=metric,
            scope="config",
            threshold=1.0,
            comparator=">=",
        )
    comp, reps = ev.comp, ev.reps
    default_role = next(iter(comp.roles.values())).rep_roles[0]
    roles = (
        reps["role"].astype("string").fillna(default_role)
        if "role" in reps.columns
        else pd.Series(default_role, index=reps.index)
    )
    resolved: list[RolePlan | None] = []
    for value in roles.astype(str):
        try:
            resolved.append(comp.role_for(value))
        except TerritoryError:
            resolved.append(None)
    unresolved = reps["rep_id"].astype(str).to_numpy()[[r is None for r in resolved]]
    share = 1.0 - unresolved.size / max(1, len(reps))
    parts = [
        _measured(
            unresolved.size == 0,
            f"{len(reps) - unresolved.size} of {len(reps)} reps resolve to one role plan"
            + (f"; unresolved: {_ids(unresolved)}" if unresolved.size else ""),
        )
    ]
    errors = 0
    for role in {id(r): r for r in resolved if r is not None}.values():
        try:
            pay = payout_for(role, np.array([0.5, 1.0, 1.5]))
            if not np.isfinite(pay.total).all():
                errors += 1
        except (TerritoryError, ValueError, ArithmeticError):
            errors += 1
    parts.append(
        _measured(errors == 0, f"dry-run payout at 50/100/150% of quota: {errors} error(s)")
    )
    fields = set()
    if ev.accounts is not None:
        fields |= set(ev.accounts.columns)
    if ev.quotas is not None and "measure" in ev.quotas.columns:
        fields |= set(ev.quotas["measure"].astype(str))
    if ev.quota_config and ev.quota_config.get("measure"):
        fields.add(str(ev.quota_config["measure"]))
    names = sorted({m.name for r in comp.roles.values() for m in r.measures})
    unmapped = [m for m in names if m not in fields]
    if unmapped:
        parts.append(
            _unmeasured(
                f"measure(s) {_ids(unmapped)} do not match a data field",
                "a crediting rule mapping each plan measure to a data field",
            )
        )
    else:
        parts.append(_measured(True, f"every measure ({_ids(names)}) matches a data field"))
    days = th.value("C10", "max_days_to_pay")
    corr = th.number("C10", "max_correction_rate")
    parts.append(
        _unmeasured(
            "payment timeliness and corrections not measured",
            f"payout run dates and an adjustment log (pay within {days} days of close, "
            f"corrections <= {_pct(corr)})",
        )
    )
    return _result(
        "C10",
        parts,
        metric=metric,
        value=share,
        threshold=1.0,
        comparator=">=",
        scope="config",
        n=len(reps),
        inputs=["comp plan", "reps.role", "quotas.measure"],
    )


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------

Check = Callable[[CheckEvidence, CheckThresholds], CheckResult]

CHECKS: Mapping[str, Check] = MappingProxyType(
    {
        "T1": t1_coverage,
        "T2": t2_realignment_opportunity,
        "T3": t3_objective_criteria,
        "T4": t4_workload_known,
        "T5": t5_rep_workload,
        "T6": t6_account_potential,
        "T7": t7_assignment_changes,
        "T8": t8_realignment_data,
        "T9": t9_balance_and_quotas,
        "T10": t10_best_reps_best_territories,
        "C1": c1_objective_alignment,
        "C2": c2_market_competitiveness,
        "C3": c3_pay_mix,
        "C4": c4_pay_for_performance,
        "C5": c5_measures,
        "C6": c6_earnings_balance,
        "C7": c7_attainment_distribution,
        "C8": c8_forecast_accuracy,
        "C9": c9_plan_understanding,
        "C10": c10_administration,
    }
)
"""The 20 checks by id, in report order."""


def check_run(
    run: PlanFolder, thresholds: CheckThresholds | None = None, comp_path: Path | None = None
) -> list[CheckResult]:
    """All 20 checks on a run folder, reading what its later steps left there.

    ``comp_path`` defaults to the copy of the comp plan the stress test kept in the folder.
    """
    from territory.comp import load_comp
    from territory.runs import COMP_COPY

    path = comp_path if comp_path is not None else run.path / COMP_COPY
    comp = load_comp(path) if path.exists() else None
    evidence = evidence_from_folder(
        run,
        comp,
        run.document("quota_summary.json"),
        run.document("stress.json"),
        run.table("stress_scenarios.csv"),
        rep_impact=run.table("rep_impact.csv"),
    )
    return run_checks(evidence, thresholds)


def run_checks(
    evidence: CheckEvidence, thresholds: CheckThresholds | None = None
) -> list[CheckResult]:
    """Evaluate all 20 checks; a check whose data cannot be read comes back NOT_ASSESSABLE."""
    th = thresholds or CheckThresholds()
    results = []
    for check_id, check in CHECKS.items():
        try:
            results.append(check(evidence, th))
        except (TerritoryError, KeyError, ValueError, TypeError) as exc:
            results.append(
                _missing(
                    check_id,
                    ["inputs this check can read (see notes)"],
                    metric="",
                    scope="config",
                    notes=f"the check could not read its inputs: {type(exc).__name__}: {exc}",
                )
            )
    return results
