"""The report's stress section says what attainment was centred on, and why."""

from __future__ import annotations

import pytest

from territory.rendering.report.stress_section import (
    HISTORY_CENTRE,
    MODEL_CENTRE,
    expected_sales_centre,
)


def test_no_record_means_no_model_in_the_folder() -> None:
    said = expected_sales_centre(None, "out/a")
    assert HISTORY_CENTRE in said and "`territory value --plan out/a`" in said


def test_a_model_centre_gives_its_reason_and_warnings() -> None:
    reason = "response.json was fitted by territory value on these inputs"
    record: dict[str, object] = {
        "source": "model",
        "reason": reason,
        "model_source": "fitted",
        "warnings": ["coverage beyond the history"],
    }
    said = expected_sales_centre(record, "out/a")
    assert MODEL_CENTRE in said and "fitted to the history" in said
    assert reason in said and "coverage beyond the history" in said
    literature = expected_sales_centre({**record, "model_source": "literature"}, "x")
    assert "literature defaults" in literature


@pytest.mark.parametrize(
    ("reason", "auto"),
    [
        ("asked for (--expected-sales history)", False),
        ("response.json was fitted on other inputs (the reps history changed since)", True),
    ],
)
def test_a_history_centre_says_whether_auto_chose_it(reason: str, auto: bool) -> None:
    said = expected_sales_centre({"source": "history", "reason": reason}, "out/a")
    assert HISTORY_CENTRE in said and reason in said
    assert ("--expected-sales auto" in said) is auto
