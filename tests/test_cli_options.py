"""The command line as a user types it: version, listed choices, flag names, human numbers."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli import EXIT_BAD_INPUT, app
from territory import __version__
from territory.domain import arguments as rules
from territory.domain.arguments import human_number

runner = CliRunner()
COMMANDS = [c.name or c.callback.__name__ for c in app.registered_commands]  # type: ignore[union-attr]


def _flat(text: str) -> str:
    """Help or error text without rich's box and line breaks."""
    return " ".join(text.replace("│", " ").split())


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_prints_the_package_version(flag: str) -> None:
    done = runner.invoke(app, [flag])
    assert done.exit_code == 0
    assert done.output.strip() == f"territory {__version__}"


@pytest.mark.parametrize("command", COMMANDS)
def test_no_flag_reads_no_no(command: str) -> None:
    done = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert done.exit_code == 0
    negatives = set(re.findall(r"--no-[a-z-]+", done.output))
    assert not any(n.startswith("--no-no-") for n in negatives)
    # Only a switch that is on by default has a negative (design's --contiguity).
    assert negatives <= {"--no-caps", "--no-fail", "--no-contiguity"}, negatives


@pytest.mark.parametrize(
    ("command", "choices"),
    [
        ("align", "[auto|heuristic|cpsat|mip]"),
        ("align", "[csv|parquet|xlsx]"),
        ("align", "[travel|moi]"),
        ("align", "[auto|on|off]"),
        ("design", "[auto|exact|heuristic]"),
        ("design", "[farthest|centre]"),
        ("quota", "[quarter|month]"),
        ("quota", "[historical|potential|untapped|blended|capacity|even|blend|history|growth]"),
        ("stress", "[auto|model|history]"),
        (
            "stress",
            "[over_assignment|accelerator_slope|sigma_idio|sigma_effectiveness|sigma_company]",
        ),
    ],
)
def test_help_lists_the_choices(command: str, choices: str) -> None:
    done = runner.invoke(app, [command, "--help"], env={"COLUMNS": "250"})
    assert choices in done.output


def test_a_wrong_choice_is_exit_2_listing_the_choices(tmp_path: Path) -> None:
    done = runner.invoke(app, ["stress", "--plan", str(tmp_path), "--comp", "x.toml",
                               "--expected-sales", "guess"])  # fmt: skip
    assert done.exit_code == EXIT_BAD_INPUT
    assert "Possible options are: auto, model, history" in _flat(done.output)


def test_switches_take_no_value_and_keep_their_meaning(tmp_path: Path) -> None:
    # --no-fail is a switch: a value after it is an unexpected argument, not its setting.
    done = runner.invoke(app, ["check", "--plan", str(tmp_path), "--no-fail", "true"])
    assert done.exit_code == EXIT_BAD_INPUT
    assert "unexpected extra argument" in _flat(done.output)


# Human numbers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "text", "value"),
    [
        (rules.ATTAINMENT, "115%", 1.15),
        (rules.TOLERANCE, "5%", 0.05),
        (rules.OVER_ASSIGNMENT, "-2.5%", -0.025),
        (rules.MONEY, "1,000,000", 1_000_000.0),
        (rules.MONEY, "165M", 165_000_000.0),
        (rules.MONEY, "165m", 165_000_000.0),
        (rules.MONEY, "1.5k", 1_500.0),
        (rules.MONEY, "2B", 2e9),
        (rules.MONEY, "2 bn", 2e9),
        (rules.MONEY, "1,234.5", 1234.5),
        (rules.COUNT, "10k", 10_000),
        (rules.COUNT, "1,000", 1_000),
        (rules.SEED, "1e3", 1_000),
    ],
)
def test_human_numbers_read_as_meant(rule: rules.Range, text: str, value: float) -> None:
    parsed = rule.parse(text, "--x")
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize(
    ("rule", "text", "problem"),
    [
        (rules.MONEY, "10%", "a percentage is not read here"),
        (rules.COUNT, "50%", "a percentage is not read here"),
        (rules.MONEY, "1,00", "not a number"),
        (rules.MONEY, "1,0000", "not a number"),
        (rules.MONEY, "12x", "unknown suffix 'x'"),
        (rules.MONEY, "1.2.3", "not a number"),
        (rules.MONEY, "", "not a number"),
        (rules.MONEY, "M", "not a number"),
        (rules.MONEY, "1e999", "not a finite number"),
        (rules.COUNT, "1.5", "not a whole number"),
        (rules.ATTAINMENT, "-5%", "out of range"),
    ],
)
def test_junk_is_refused_saying_why(rule: rules.Range, text: str, problem: str) -> None:
    with pytest.raises(rules.UsageError, match=re.escape(problem)) as caught:
        rule.parse(text, "--x")
    assert "allowed:" in str(caught.value)


@given(st.integers(min_value=0, max_value=10**15))
def test_thousands_separators_round_trip(n: int) -> None:
    assert rules.COUNT_OR_ZERO.parse(f"{n:,}", "--x") == n
    assert human_number(f"{n:_}") == n


@given(
    st.decimals(min_value=-(10**6), max_value=10**6, places=3, allow_nan=False),
    st.sampled_from(sorted(rules.SUFFIXES.items())),
)
def test_suffixes_round_trip(mantissa: Decimal, suffix: tuple[str, int]) -> None:
    name, power = suffix
    for text in (f"{mantissa}{name}", f"{mantissa}{name.upper()}", f"{mantissa} {name}"):
        assert human_number(text) == mantissa.scaleb(power)


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False))
def test_percent_of_a_formatted_fraction_round_trips(x: float) -> None:
    text = f"{Decimal(repr(x)).scaleb(2)}%"  # x = 1.15 is typed as 115%
    assert float(human_number(text, percent=True)) == x


def test_the_command_line_reads_human_numbers(tmp_path: Path) -> None:
    # An out-of-range human number is refused after reading: the message shows it parsed.
    done = runner.invoke(app, ["payout", "--comp", "x.toml", "--attainment", "-10%"])
    assert done.exit_code == EXIT_BAD_INPUT
    assert "'-10%'" not in done.output and "-0.1 is out of range" in _flat(done.output)
    done = runner.invoke(app, ["quota", "--plan", str(tmp_path), "--target", "165 Mio"])
    assert done.exit_code == EXIT_BAD_INPUT
    assert "unknown suffix 'Mio'" in _flat(done.output)


def test_tier_factors_read_percentages_and_refuse_junk() -> None:
    from territory.pipeline.cli_options import parse_tier_factors

    factors = parse_tier_factors(["A=120%", "c=0.8"])
    assert factors is not None and factors["A"] == 1.2 and factors["C"] == 0.8
    done = runner.invoke(app, ["align", "--accounts", "a.csv", "--reps", "r.csv", "--out", "o",
                               "--tier", "A=lots"])  # fmt: skip
    assert done.exit_code == EXIT_BAD_INPUT
    assert "'A=lots': 'lots': not a number" in _flat(done.output)


def test_stress_levers_are_the_stress_tests_levers() -> None:
    from territory.domain.stress_config import StressConfig

    assert set(rules.STRESS_LEVERS) == set(StressConfig().sensitivity_levers)
