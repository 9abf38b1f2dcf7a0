"""C8 holds the quotas' backtest against the naive rule, last year's sales x growth."""

from __future__ import annotations

import pandas as pd
import pytest

from territory.domain.checks import (
    CHECKS,
    CheckResult,
    CheckThresholds,
    Status,
    thresholds_from_mapping,
)
from territory.domain.quotas import QuotaConfig, QuotaMethod, backtest
from tests.territory import four_reps as fr


def c8(wmape: float, naive: float | None, thresholds: CheckThresholds | None = None) -> CheckResult:
    document = {
        "wmape": wmape,
        "company_error": 0.01,
        "plan_target": 1800.0,
        "share_within_narrow_band": 0.5,
        "share_within_wide_band": 0.75,
        **({} if naive is None else {"naive_wmape": naive}),
    }
    return CHECKS["C8"](fr.evidence(backtest=document), thresholds or CheckThresholds())


@pytest.mark.parametrize(
    ("wmape", "naive", "status", "said"),
    [
        (0.05, 0.06, Status.PASS, "no more than the naive rule"),
        (0.06, 0.06, Status.PASS, "no more than the naive rule"),
        # The lead's demo figures: 6.5% against 4.4% warns, 10.0% against 4.8% fails.
        (0.065, 0.044, Status.WARN, "2.1 points more than the naive rule"),
        (0.10, 0.048, Status.FAIL, "5.2 points more than the naive rule"),
    ],
)
def test_method_against_the_naive_rule(
    wmape: float, naive: float, status: Status, said: str
) -> None:
    result = c8(wmape, naive)
    assert result.status == status
    (line,) = [e for e in result.evidence if "naive rule" in e]
    assert said in line
    # Both numbers are in the evidence, so a reader can judge the gap.
    assert f"{100 * wmape:.1f}%" in line and f"{100 * naive:.1f}%" in line


def test_the_gap_allowed_is_configurable() -> None:
    loose = thresholds_from_mapping(
        {"checks": {"C8": {"naive_gap_pass_max": 0.06, "naive_gap_warn_max": 0.10}}}, source="t"
    )
    assert c8(0.10, 0.048, loose).status == Status.PASS
    strict = thresholds_from_mapping({"checks": {"C8": {"naive_gap_warn_max": 0.0}}}, source="t")
    assert c8(0.065, 0.044, strict).status == Status.FAIL


def test_a_backtest_without_the_baseline_is_not_assessable() -> None:
    result = c8(0.05, None)
    assert result.status == Status.NOT_ASSESSABLE
    assert any("naive baseline" in e for e in result.evidence)


def test_backtest_scores_the_naive_rule_on_the_same_year() -> None:
    # Sales moved exactly with last year's: the naive rule is perfect, potential is not.
    frame = pd.DataFrame(
        {
            "rep_id": ["A", "B", "C"],
            "potential": [100.0, 100.0, 100.0],
            "history_prev": [100.0, 200.0, 300.0],
            "history": [110.0, 220.0, 330.0],
        }
    )
    cfg = QuotaConfig(company_target=660.0, method=QuotaMethod(name="potential"), caps=None)
    result = backtest(frame, cfg, plan_target=660.0)
    assert result.naive_wmape == pytest.approx(0.0)
    # Potential spreads 220 each: |110-220| + 0 + |330-220| over 660.
    assert result.wmape == pytest.approx(220.0 / 660.0)
    assert result.table["naive_rescaled"].tolist() == pytest.approx([110.0, 220.0, 330.0])


def test_a_naive_warning_shows_the_gap_that_decided_it() -> None:
    """The row's value is the gap to the naive rule, not the WMAPE that passed on its own."""
    result = c8(0.065, 0.044)
    assert result.status == Status.WARN
    assert result.value == pytest.approx(0.021)
    assert "last year's sales x growth" in (result.metric or "")
    assert result.action
