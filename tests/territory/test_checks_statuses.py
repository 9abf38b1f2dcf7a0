"""Every check reaches every status it can: PASS, WARN (where it has a warn band), FAIL and
NOT_ASSESSABLE, each from one small change to the four-rep plan of :mod:`four_reps`.

The table below is the contract; :class:`TestStatusCoverage` holds it against the catalogue,
so a new check (or a new warn band) without its cases fails here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest

from territory.domain.checks import CHECK_IDS, CHECKS, CheckEvidence, CheckThresholds, Status
from territory.domain.checks import thresholds_from_mapping as limits
from territory.domain.checks.catalogue import SPECS
from territory.domain.comp import ACCOUNT_MANAGER, HUNTER, CompPlan, Measure, PayMix, RolePlan
from tests.territory import four_reps as fr

PASS, WARN, FAIL, NA = Status.PASS, Status.WARN, Status.FAIL, Status.NOT_ASSESSABLE


@dataclass(frozen=True)
class Case:
    """One check on one variant of the plan, and the status it must reach."""

    check_id: str
    status: Status
    build: Callable[[], CheckEvidence]
    why: str
    thresholds: CheckThresholds = field(default_factory=CheckThresholds)

    @property
    def name(self) -> str:
        return f"{self.check_id}-{self.status}-{self.why}"


def _accounts(**columns: Any) -> pd.DataFrame:
    return fr.accounts().assign(**columns)


def _moved(account: int, to: str, revenue: list[float] | None = None) -> pd.DataFrame:
    frame = fr.accounts()
    frame.loc[account, "current_rep"] = to
    if revenue is not None:
        frame["revenue_last_year"] = revenue
    return frame


def _workload(rows: list[int], hours: float) -> pd.DataFrame:
    frame = fr.accounts()
    frame.loc[rows, "workload"] = hours
    return frame


def _traced(role: RolePlan, objective: str) -> RolePlan:
    measures = tuple(m.model_copy(update={"objective_id": objective}) for m in role.measures)
    return role.model_copy(update={"measures": measures})


TRACED = CompPlan.of(_traced(HUNTER, "new-logos"), _traced(ACCOUNT_MANAGER, "retain"))
HEAVY = CompPlan.of(HUNTER.model_copy(update={"pay_mix": PayMix(base=0.3, variable=0.7)}))
SKEWED = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 800.0]
WITH_BACKTEST = {"company_error": 0.05, "plan_target": 1800.0, "naive_wmape": 0.12}


OBJECTIVES = {"new-logos": ["hunter"], "retain": ["account_manager"]}


def _c1(weights: dict[str, float] | None = None, **objectives: list[str]) -> CheckEvidence:
    return fr.evidence(
        comp=TRACED, objectives={**OBJECTIVES, **objectives}, objective_weights=weights
    )


def _c1_gap() -> CheckEvidence:
    # Account managers serve retain (0.3) and grow (0.7) but pay 80% on retain: 50 pts apart.
    renewal = Measure(name="renewal", weight=0.8, objective_id="retain")
    expansion = Measure(name="expansion", weight=0.2, objective_id="grow")
    am = ACCOUNT_MANAGER.model_copy(update={"measures": (renewal, expansion)})
    comp = CompPlan.of(_traced(HUNTER, "new-logos"), am)
    objectives = {**OBJECTIVES, "grow": ["account_manager"]}
    weights = {"new-logos": 0.5, "retain": 0.15, "grow": 0.35}
    return fr.evidence(comp=comp, objectives=objectives, objective_weights=weights)


def _market(hunter_ote: float, hunter_mix: float = 0.5) -> CheckEvidence:
    # Preset OTEs: hunter 200,000 at 50% variable, account manager 200,000 at 30%.
    table = pd.DataFrame(
        {
            "role": ["hunter", "account_manager"],
            "ote_p25": [hunter_ote * 0.9, 180_000.0],
            "ote_p50": [hunter_ote, 200_000.0],
            "ote_p75": [hunter_ote * 1.1, 220_000.0],
            "variable_share_p50": [hunter_mix, 0.3],
        }
    )
    return fr.evidence(market_pay=table)


def _survey(agree: int, of: int = 10, column: str = "can_calculate_pay") -> CheckEvidence:
    answers = [1.0] * agree + [0.0] * (of - agree)
    return fr.evidence(survey=pd.DataFrame({"group": ["rep"] * of, column: answers}))


def _payouts(days: int, corrections: float = 0.0) -> CheckEvidence:
    table = pd.DataFrame(
        {
            "period_end": pd.to_datetime(["2026-03-31", "2026-06-30", "2026-09-30"]),
            "payments": [40.0, 40.0, 20.0],
            "corrections": [corrections, 0.0, 0.0],
        }
    )
    table["paid_on"] = table["period_end"] + pd.Timedelta(days=days)
    # The presets pay on "bookings": the quotas say which data field that is.
    return fr.evidence(payouts=table, quotas=fr.quotas().assign(measure="bookings"))


def _dates(potential: str = "2026-09-30", review: str = "2026-06-30", **more: str) -> CheckEvidence:
    given = {
        "assessed_on": "2026-11-30",
        "potential_as_of": potential,
        "history_through": "2026-09-30",
        "last_review": review,
        **more,
    }
    dated = {k: date.fromisoformat(v) for k, v in given.items()}
    clear = pd.DataFrame({"process_is_clear": [1.0] * 9 + [0.0]})
    return fr.evidence(data_dates=dated, survey=clear)


def _stress(**changes: object) -> dict[str, object]:
    return {**fr.GOOD_STRESS, **changes}


def _c4(a90: float) -> CheckEvidence:
    role = {**fr.GOOD_STRESS["roles"][0], "attainment_p90": a90}
    role["payout_at_p90"] = 1.0 + 2.0 * (a90 - 1.0)
    return fr.evidence(comp=CompPlan.of(HUNTER), stress=_stress(roles=[role]))


def _territories(deviation: float) -> CheckEvidence:
    table = pd.DataFrame(
        {
            "rep_id": fr.REPS,
            "potential": [800.0, 1000.0, 1200.0, 1400.0],
            "potential_dev": [deviation, 0.0, 0.0, 0.0],
            "workload_dev": [0.0] * 4,
        }
    )
    return fr.evidence(accounts=None, plan=None, territories=table)


CASES = [
    # T1: potential with active reps (no warn band).
    Case("T1", PASS, fr.evidence, "balanced"),
    Case(
        "T1",
        FAIL,
        lambda: fr.evidence(reps=fr.reps().assign(vacant=[False, False, False, True])),
        "vacant",
    ),
    Case("T1", NA, lambda: fr.evidence(plan=None), "no-plan"),
    # T2: net uplift; between 0 and the minimum it warns (too small to pay for the moves).
    Case("T2", PASS, lambda: fr.evidence(accounts=_moved(0, "R2"), realignment_uplift=0.05), "up"),
    Case("T2", WARN, lambda: fr.evidence(realignment_uplift=0.01), "small"),
    Case("T2", FAIL, lambda: fr.evidence(accounts=_moved(0, "R2"), realignment_uplift=0.0), "loss"),
    Case("T2", NA, fr.evidence, "no-response-model"),
    # T3: overrides pass at 10%, warn to 20%, fail above.
    Case("T3", PASS, fr.evidence, "no-overrides"),
    Case(
        "T3",
        WARN,
        lambda: fr.evidence(accounts=_accounts(locked_rep=["R1"] + [""] * 7, lock_reason="key")),
        "one-lock",
    ),
    Case(
        "T3", FAIL, lambda: fr.evidence(accounts=_accounts(locked_rep=["R1"] * 3 + [""] * 5)), "3"
    ),
    Case("T3", NA, lambda: fr.evidence(solve=None), "no-solve"),
    # T4: workload known (no warn band).
    Case("T4", PASS, fr.evidence, "all-known"),
    Case("T4", FAIL, lambda: fr.evidence(accounts=_workload([7], 0.0)), "one-missing"),
    Case("T4", NA, lambda: fr.evidence(accounts=fr.accounts().drop(columns="workload")), "none"),
    # T5: utilisation band 0.85-1.15, warn band 0.75-1.25.
    Case("T5", PASS, fr.evidence, "at-0.9"),
    Case("T5", WARN, lambda: fr.evidence(accounts=_workload([0, 1], 320.0)), "r1-at-0.8"),
    Case("T5", FAIL, lambda: fr.evidence(accounts=_workload([0, 1], 200.0)), "r1-at-0.5"),
    Case("T5", NA, lambda: fr.evidence(reps=None), "no-reps"),
    # T6: potential present, plausible and used (no warn band).
    Case("T6", PASS, fr.evidence, "plausible"),
    Case("T6", FAIL, lambda: fr.evidence(accounts=_accounts(revenue_last_year=[500.0] * 8)), "low"),
    Case("T6", NA, lambda: fr.evidence(accounts=fr.accounts(history=False)), "no-history"),
    # T7: never PASS (handover records are not engine data).
    Case("T7", FAIL, lambda: fr.evidence(accounts=_moved(7, "R1", SKEWED)), "largest-moves"),
    Case("T7", NA, lambda: fr.evidence(accounts=_moved(0, "R2", SKEWED)), "small-moves"),
    # T8: data quality, then data dates: potential <= 12 months old (warn to 18), history up
    # to the last closed quarter, a review <= 12 months ago (warn to 24).
    Case("T8", PASS, _dates, "fresh"),
    Case("T8", WARN, lambda: _dates(potential="2025-08-31"), "potential-15-months"),
    Case("T8", WARN, lambda: _dates(review="2025-02-28"), "review-21-months"),
    Case("T8", FAIL, lambda: _dates(review="2024-06-30"), "review-29-months"),
    Case("T8", FAIL, lambda: _dates(history_through="2026-06-30"), "history-behind"),
    Case("T8", FAIL, lambda: fr.evidence(accounts=_accounts(lat=[np.nan] + [40.0] * 7)), "no-lat"),
    Case("T8", NA, fr.evidence, "no-dates"),
    # T9: balance pass at 15%, warn to 25%.
    Case("T9", PASS, fr.evidence, "on-target"),
    Case("T9", WARN, lambda: _territories(0.20), "20pct-off"),
    Case("T9", FAIL, lambda: fr.evidence(plan=pd.Series(fr.UNBALANCED)), "unbalanced"),
    Case("T9", NA, lambda: fr.evidence(quotas=None, rep_impact=None), "no-quotas"),
    # T10: Spearman(rating, potential) pass at 0.3, warn from 0.
    Case("T10", PASS, fr.evidence, "best-hold-most"),
    Case(
        "T10", WARN, lambda: fr.evidence(reps=fr.reps().assign(rating=[0.6, 0.4, 0.2, 0.8])), "0.2"
    ),
    Case(
        "T10", FAIL, lambda: fr.evidence(reps=fr.reps().assign(rating=[0.8, 0.6, 0.4, 0.2])), "-1"
    ),
    Case("T10", NA, lambda: fr.evidence(reps=fr.reps().assign(rating=[0.5] + [np.nan] * 3)), "na"),
    # C1: every measure traced to an objective that reaches its roles.
    # With weights, a role paying far off the objective's weight warns.
    Case("C1", PASS, _c1, "ok"),
    Case("C1", PASS, lambda: _c1({"new-logos": 0.5, "retain": 0.5}), "weighted"),
    Case("C1", WARN, lambda: _c1_gap(), "weight-gap"),
    Case("C1", FAIL, fr.evidence, "untraced"),
    Case("C1", NA, lambda: fr.evidence(comp=TRACED), "no-register"),
    # C2: OTE inside the market's P25..P75 (10% beyond warns), mix within 10 pts (15 warns).
    Case("C2", PASS, lambda: _market(200_000.0), "at-median"),
    Case("C2", WARN, lambda: _market(230_000.0), "ote-just-below-p25"),
    Case("C2", WARN, lambda: _market(200_000.0, 0.38), "mix-12-pts"),
    Case("C2", FAIL, lambda: _market(300_000.0), "ote-far-below"),
    Case("C2", NA, fr.evidence, "no-market-data"),
    # C3: pay mix in the role's band (no warn band).
    Case("C3", PASS, fr.evidence, "presets"),
    Case("C3", FAIL, lambda: fr.evidence(comp=HEAVY), "70pct-variable"),
    Case("C3", NA, lambda: fr.evidence(comp=None), "no-comp"),
    # C4: payout at the 90th percentile pass at 2x, warn from 1.5x.
    Case("C4", PASS, lambda: _c4(1.5), "2x"),
    Case("C4", WARN, lambda: _c4(1.3), "1.6x"),
    Case("C4", FAIL, lambda: _c4(1.2), "1.4x"),
    Case("C4", NA, lambda: fr.evidence(stress=None), "no-stress"),
    # C5: at most three measures, each >= 20% (no warn band).
    Case("C5", PASS, fr.evidence, "one-measure"),
    Case(
        "C5",
        FAIL,
        fr.evidence,
        "weight-below-limit",
        limits({"checks": {"C5": {"min_weight": 1.1}}}),
    ),
    Case("C5", NA, lambda: fr.evidence(comp=None), "no-comp"),
    # C6: earning chances within 15% (no warn band).
    Case("C6", PASS, fr.evidence, "even"),
    Case("C6", FAIL, lambda: fr.evidence(stress=_stress(payout_spread=0.3)), "uneven"),
    Case("C6", NA, lambda: fr.evidence(stress=None), "no-stress"),
    # C7: half at quota; above 80% the quotas look too easy.
    Case("C7", PASS, fr.evidence, "55pct"),
    Case("C7", WARN, lambda: fr.evidence(stress=_stress(expected_share_at_quota=0.85)), "easy"),
    Case("C7", FAIL, lambda: fr.evidence(stress=_stress(expected_share_at_quota=0.3)), "hard"),
    Case("C7", NA, lambda: fr.evidence(stress=None, accounts=fr.accounts(history=False)), "none"),
    # C8: quota WMAPE pass at 10%, warn to 20%.
    Case("C8", PASS, lambda: fr.evidence(backtest={"wmape": 0.08, **WITH_BACKTEST}), "8pct"),
    Case("C8", WARN, lambda: fr.evidence(backtest={"wmape": 0.15, **WITH_BACKTEST}), "15pct"),
    Case("C8", FAIL, lambda: fr.evidence(backtest={"wmape": 0.25, **WITH_BACKTEST}), "25pct"),
    Case("C8", NA, fr.evidence, "one-year-of-history"),
    # C9: share who can work out their pay, pass at 80%, warn from 60%, at least 5 answers.
    Case("C9", PASS, lambda: _survey(9), "90pct"),
    Case("C9", WARN, lambda: _survey(7), "70pct"),
    Case("C9", FAIL, lambda: _survey(4), "40pct"),
    Case("C9", NA, lambda: _survey(3, of=4), "too-few"),
    Case("C9", NA, fr.evidence, "no-survey"),
    # C10: one plan per rep, then payment within 30 days (warn to 45), corrections <= 2% (5%).
    Case("C10", PASS, lambda: _payouts(20), "20-days"),
    Case("C10", WARN, lambda: _payouts(40), "40-days"),
    Case("C10", WARN, lambda: _payouts(20, corrections=4.0), "4pct-corrected"),
    Case("C10", FAIL, lambda: _payouts(60), "60-days"),
    Case("C10", FAIL, lambda: fr.evidence(reps=fr.reps().assign(role=["overlay"] * 4)), "no-plan"),
    Case("C10", NA, fr.evidence, "no-payout-dates"),
]

NEVER_PASS = {"T7"}
"""Checks with a required part no engine data or input file can measure: they never pass."""

NEVER_MEASURED: set[str] = set()
"""Checks with no measured part at all: they never fail either."""

WARN_BANDS = {"T2", "T3", "T5", "T8", "T9", "T10", "C1", "C2", "C4", "C7", "C8", "C9", "C10"}
"""Checks with a WARN band: the declared ones (``warn_key``) and the bands inside a measure."""


class TestStatusCoverage:
    @pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
    def test_case_reaches_its_status(self, case: Case) -> None:
        r = CHECKS[case.check_id](case.build(), case.thresholds)
        assert r.status == case.status, (r.evidence, r.needs)
        if case.status == NA:
            assert r.needs, "a NOT_ASSESSABLE row names the data that would settle it"
        if case.status in (PASS, WARN):
            assert r.value is not None, "a judged row shows the value that was judged"

    def test_every_check_has_every_status_it_can_reach(self) -> None:
        reached: dict[str, set[Status]] = {check_id: set() for check_id in CHECK_IDS}
        for case in CASES:
            reached[case.check_id].add(case.status)
        for check_id, statuses in reached.items():
            assert NA in statuses, check_id
            assert (PASS in statuses) != (check_id in NEVER_PASS), check_id
            assert (FAIL in statuses) != (check_id in NEVER_MEASURED), check_id
            assert (WARN in statuses) == (check_id in WARN_BANDS), check_id

    def test_declared_warn_bands_are_covered(self) -> None:
        declared = {check_id for check_id, spec in SPECS.items() if spec.limit.warn_key}
        assert declared == {"T2", "T3", "T9", "T10", "C4", "C8", "C9"}
        assert declared <= WARN_BANDS

    @pytest.mark.parametrize("check_id", sorted(NEVER_PASS))
    def test_a_check_that_cannot_pass_says_what_it_misses(self, check_id: str) -> None:
        # The whole run with every step: still not a pass, and the row names what is missing.
        r = CHECKS[check_id](fr.evidence(objectives={"new-logos": ["hunter"]}), CheckThresholds())
        assert r.status in (NA, FAIL)
        assert r.needs
