"""Arguments are validated at the CLI edge (exit 2 with the allowed range) and in the Python API.

Each command line below would otherwise have run: NaN slips through ``x < 1``, a tolerance of
1 allows a rep nothing, ``--candidates 0`` builds an empty model, an unknown solver used to be
exit 4 after the inputs were read.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli import EXIT_BAD_INPUT, app
from solvers import SOLVERS, get_solver
from territory.domain import arguments as rules
from territory.domain.synthetic import make_instance
from territory.errors import (
    ScenarioError,
    SolverUnavailableError,
    UnknownSolverError,
    UsageError,
)
from territory.io import SUPPORTED_FORMATS
from territory.pipeline.cli_options import number as _number
from territory.pipeline.cli_options import one_of as _one_of
from territory.workflow.api import align

runner = CliRunner()

ALIGN = ["align", "--accounts", "a.csv", "--reps", "r.csv", "--out", "out"]
DESIGN = ["design", "--units", "u.geojson", "--out", "out", "--k", "3"]
QUOTA = ["quota", "--plan", "run", "--target", "1000000"]
STRESS = ["stress", "--plan", "run", "--comp", "comp.toml"]
PAYOUT = ["payout", "--comp", "comp.toml", "--attainment", "1.1"]
SWEEP = ["sweep", "a.toml", "--out", "sweep"]

RANGE_CASES = [
    (ALIGN, "--balance", "nan", "not a finite number", "0 <= value < 1"),
    (ALIGN, "--balance", "-0.01", "out of range", "0 <= value < 1"),
    (ALIGN, "--balance", "1", "out of range", "0 <= value < 1"),
    (ALIGN, "--potential-balance", "1.5", "out of range", "0 <= value < 1"),
    (ALIGN, "--workload-balance", "inf", "not a finite number", "0 <= value < 1"),
    (ALIGN, "--candidates", "0", "out of range", "value >= 1"),
    (ALIGN, "--candidates", "2.5", "not a whole number", "value >= 1"),
    (ALIGN, "--time-limit", "0", "out of range", "value > 0"),
    (ALIGN, "--time-limit", "-inf", "not a finite number", "value > 0"),
    (ALIGN, "--gap", "1", "out of range", "0 <= value < 1"),
    (ALIGN, "--gap", "-0.1", "out of range", "0 <= value < 1"),
    (ALIGN, "--disruption-weight", "-1", "out of range", "value >= 0"),
    (ALIGN, "--disruption-weight", "nan", "not a finite number", "value >= 0"),
    (ALIGN, "--cut-edge-weight", "-0.5", "out of range", "value >= 0"),
    (ALIGN, "--max-distance-km", "0", "out of range", "value > 0"),
    (ALIGN, "--max-moved-accounts", "-1", "out of range", "value >= 0"),
    (ALIGN, "--max-moved-revenue-share", "1.2", "out of range", "0 <= value <= 1"),
    (ALIGN, "--max-moved-revenue-share", "-0.1", "out of range", "0 <= value <= 1"),
    (ALIGN, "--seed", "-1", "out of range", "0 <= value <= 2147483647"),
    (DESIGN, "--balance", "nan", "not a finite number", "0 <= value < 1"),
    (DESIGN, "--time-limit", "0", "out of range", "value > 0"),
    (DESIGN, "--max-travel-km", "-5", "out of range", "value > 0"),
    (["design", "--units", "u.geojson", "--out", "out"], "--k", "0", "out of range", ">= 1"),
    (QUOTA, "--over-assign", "1", "out of range", "-1 < value < 1"),
    (QUOTA, "--over-assign", "nan", "not a finite number", "-1 < value < 1"),
    (QUOTA, "--history-weight", "2", "out of range", "0 <= value <= 1"),
    (QUOTA, "--last-year-target", "0", "out of range", "value > 0"),
    (QUOTA, "--non-quota-revenue", "-1", "out of range", "value >= 0"),
    (["quota", "--plan", "run"], "--target", "0", "out of range", "value > 0"),
    (["quota", "--plan", "run"], "--target", "1e400", "not a finite number", "value > 0"),
    (["quota", "--plan", "run"], "--target", "-5", "out of range", "value > 0"),
    (STRESS, "--sims", "0", "out of range", "value >= 1"),
    (STRESS, "--forecast", "nan", "not a finite number", "value > 0"),
    (["payout", "--comp", "c.toml"], "--attainment", "-0.1", "out of range", "value >= 0"),
    (["payout", "--comp", "c.toml"], "--attainment", "nan", "not a finite number", ">= 0"),
    (SWEEP, "--workers", "0", "out of range", "value >= 1"),
]


@pytest.mark.parametrize(("command", "option", "value", "problem", "allowed"), RANGE_CASES)
def test_out_of_range_numbers_exit_2_with_the_allowed_range(
    command: list[str], option: str, value: str, problem: str, allowed: str, tmp_path: Path
) -> None:
    done = runner.invoke(app, [*command, option, value])
    assert done.exit_code == EXIT_BAD_INPUT, done.output
    text = " ".join(done.output.split())  # rich wraps the box; compare without line breaks
    text = text.replace("│ │", " ").replace(" │", "").replace("│ ", "")
    assert f"Invalid value for '{option}'" in text
    assert problem in text and allowed in text
    assert "Traceback" not in done.output


CHOICE_CASES = [
    (ALIGN, "--solver", "gurobi", "auto, heuristic, cpsat, mip"),
    (ALIGN, "--format", "docx", "csv, parquet, xlsx"),
    (ALIGN, "--decompose", "maybe", "auto, on, off"),
    (ALIGN, "--compactness", "tight", "travel, moi"),
    (ALIGN, "--adjacency", "bishop", "rook, queen"),
    (DESIGN, "--method", "magic", "auto, exact, heuristic"),
    (DESIGN, "--compactness", "round", "travel, moi"),
    (DESIGN, "--travel-measure", "mean", "farthest, centre"),
    (DESIGN, "--format", "ods", "csv, parquet, xlsx"),
    (QUOTA, "--method", "guess", "historical, potential, untapped, blended"),
    (QUOTA, "--periods", "week", "quarter, month"),
]


@pytest.mark.parametrize(("command", "option", "value", "choices"), CHOICE_CASES)
def test_unknown_choices_exit_2_listing_the_options(
    command: list[str], option: str, value: str, choices: str
) -> None:
    done = runner.invoke(app, [*command, option, value])
    assert done.exit_code == EXIT_BAD_INPUT, done.output
    text = " ".join(done.output.replace("│", " ").split())
    assert f"Invalid value for '{option}'" in text
    assert f"'{value}' is not an option. Possible options are: {choices}" in text


def test_unknown_solver_is_exit_2_before_reading_the_inputs(tmp_path: Path) -> None:
    """It used to be exit 4 (SolverUnavailableError) after loading the tables."""
    done = runner.invoke(
        app,
        ["align", "--accounts", str(tmp_path / "absent.csv"), "--reps", str(tmp_path / "r.csv"),
         "--out", str(tmp_path / "out"), "--solver", "gurobi"],
    )  # fmt: skip
    assert done.exit_code == EXIT_BAD_INPUT
    assert "absent.csv" not in done.output  # refused before any file was opened
    assert not (tmp_path / "out").exists()


def test_tier_factor_must_be_a_positive_number() -> None:
    done = runner.invoke(app, [*ALIGN, "--tier", "A=nan"])
    assert done.exit_code == EXIT_BAD_INPUT
    assert "not a finite number" in done.output and "value > 0" in done.output


def test_quota_method_is_case_insensitive_and_keeps_aliases() -> None:
    parse = _one_of(rules.QUOTA_METHODS, case_sensitive=False)
    assert parse("BLEND") == "blend"
    assert parse("Historical") == "historical"


@pytest.mark.parametrize(
    ("rule", "text", "value"),
    [
        (rules.TOLERANCE, "0", 0.0),
        (rules.TOLERANCE, "0.999", 0.999),
        (rules.SHARE, "1", 1.0),
        (rules.COUNT, "1", 1),
        (rules.COUNT_OR_ZERO, "0", 0),
        (rules.OVER_ASSIGNMENT, "-0.5", -0.5),
        (rules.SEED, "2147483647", 2147483647),
    ],
)
def test_edge_values_inside_the_range_pass_unchanged(
    rule: rules.Range, text: str, value: float
) -> None:
    parsed = _number(rule)(text)
    assert parsed == value and type(parsed) is type(value)


@given(x=st.floats(allow_nan=True, allow_infinity=True))
def test_tolerance_accepts_exactly_the_finite_values_in_0_to_1(x: float) -> None:
    inside = math.isfinite(x) and 0.0 <= x < 1.0
    try:
        parsed = rules.TOLERANCE.parse(repr(x), "--balance")
    except UsageError as exc:
        assert not inside
        assert "--balance" in str(exc) and "0 <= value < 1" in str(exc)
    else:
        assert inside and parsed == x


@given(n=st.integers(min_value=-(10**6), max_value=10**6))
def test_count_accepts_exactly_the_positive_integers(n: int) -> None:
    if n >= 1:
        assert rules.COUNT.parse(str(n), "--candidates") == n
    else:
        with pytest.raises(UsageError, match="value >= 1"):
            rules.COUNT.parse(str(n), "--candidates")


def test_choice_lists_match_the_modules_that_use_them() -> None:
    assert set(rules.SOLVERS) == {"auto", *SOLVERS}
    assert set(rules.TABLE_FORMATS) == set(SUPPORTED_FORMATS)


@pytest.fixture(scope="module")
def tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_instance(30, 3, seed=1)


class TestPythonApi:
    @pytest.mark.parametrize(
        ("argument", "value", "allowed", "error"),
        [
            ("balance", math.nan, "0 <= value < 1", UsageError),
            ("balance", 1.0, "0 <= value < 1", UsageError),
            ("potential_balance", -0.1, "0 <= value < 1", UsageError),
            ("workload_balance", math.inf, "0 <= value < 1", UsageError),
            ("candidates", 0, "value >= 1", UsageError),
            ("time_limit_s", 0.0, "value > 0", UsageError),
            ("gap", 1.0, "0 <= value < 1", UsageError),
            ("disruption_weight", -1.0, "value >= 0", UsageError),
            ("max_distance_km", 0.0, "value > 0", UsageError),
            ("cut_edge_weight", math.nan, "value >= 0", UsageError),
            # The caps keep their ScenarioError (exit 2 too), which callers already catch.
            ("max_moved_accounts", -3, "value >= 0", ScenarioError),
            ("max_moved_accounts", 2.5, "a whole number", ScenarioError),
            ("max_moved_revenue_share", 1.5, "0 <= value <= 1", ScenarioError),
            ("max_moved_revenue_share", math.nan, "0 <= value <= 1", ScenarioError),
        ],
    )
    def test_align_refuses_out_of_range_arguments(
        self,
        tables: tuple[pd.DataFrame, pd.DataFrame],
        argument: str,
        value: float,
        allowed: str,
        error: type[Exception],
    ) -> None:
        with pytest.raises(error, match=argument) as caught:
            align(*tables, **{argument: value})  # type: ignore[arg-type]
        assert allowed in str(caught.value)

    @pytest.mark.parametrize(
        ("argument", "value", "options"),
        [("decompose", "maybe", "auto, on, off"), ("compactness", "tight", "travel, moi")],
    )
    def test_align_refuses_unknown_choices(
        self, tables: tuple[pd.DataFrame, pd.DataFrame], argument: str, value: str, options: str
    ) -> None:
        with pytest.raises(UsageError, match=options):
            align(*tables, **{argument: value})  # type: ignore[arg-type]

    def test_an_unknown_solver_is_a_usage_error_that_is_still_solver_unavailable(
        self, tables: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        for call in (
            lambda: align(*tables, solver="gurobi", decompose="on"),
            lambda: get_solver("gurobi"),
        ):
            with pytest.raises(UnknownSolverError, match="Possible options are") as caught:
                call()
            assert isinstance(caught.value, UsageError)
            assert isinstance(caught.value, SolverUnavailableError)
