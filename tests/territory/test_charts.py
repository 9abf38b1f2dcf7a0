"""Tests for territory.rendering.charts: PNG output, size, determinism and the plan shapes it must
draw.

Stress results come from the real :func:`run_stress` on small instances (20 reps, 500
simulations, seed 1), so the charts see exactly the data the CLI would give them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

from matplotlib import image  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

import territory.rendering.charts as charts_module  # noqa: E402
from territory.domain.comp import (  # noqa: E402
    ACCOUNT_MANAGER,
    HUNTER,
    Cap,
    CompPlan,
    Measure,
    PayoutCurve,
    Threshold,
    Tier,
)
from territory.domain.stress import StressConfig, StressInputs, StressResult, run_stress  # noqa: E402
from territory.errors import ScenarioError  # noqa: E402
from territory.rendering.charts import (  # noqa: E402
    _kinks,
    _quota_position,
    attainment_distribution_chart,
    cost_band_chart,
    payout_curve_chart,
)

ROOT = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SIZE = (600, 1000)  # rows, columns: 10 x 6 inches at 100 dpi

ONE_ROLE = CompPlan.of(HUNTER, plan_id="one")
TWO_ROLES = CompPlan.of(HUNTER, ACCOUNT_MANAGER, plan_id="two")
MULTI_MEASURE = CompPlan.of(
    HUNTER.model_copy(
        update={
            "curve": PayoutCurve(
                tiers=(
                    Tier(start=0.0, end=1.0, slope=1.0),
                    Tier(start=1.0, end=1.5, slope=3.0),
                    Tier(start=1.5, slope=1.0),
                ),
                cap=Cap(payout_multiple=2.5),
            )
        }
    ),
    ACCOUNT_MANAGER.model_copy(
        update={
            "measures": (
                Measure(name="bookings", weight=0.6),
                Measure(
                    name="retention",
                    weight=0.4,
                    curve=PayoutCurve(
                        threshold=Threshold(at=0.9, payout_at_threshold=0.5),
                        tiers=(Tier(start=0.9, end=1.0, slope=5.0), Tier(start=1.0, slope=1.5)),
                        cap=Cap(payout_multiple=1.5),
                    ),
                ),
            )
        }
    ),
    plan_id="multi",
)
TWO_ROLES_REPS = ["hunter"] * 12 + ["account_manager"] * 8


def _reps(roles: list[str], seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = len(roles)
    quota = rng.uniform(0.8e6, 1.4e6, n)
    return pd.DataFrame(
        {
            "rep_id": [f"R{i:02d}" for i in range(n)],
            "role": roles,
            "quota": quota,
            "expected_sales": quota / 1.05,
            "tenure_months": np.where(np.arange(n) % 7 == 6, 4.0, 36.0),
        }
    )


def _run(plan: CompPlan, roles: list[str]) -> StressResult:
    inputs = StressInputs.from_frame(_reps(roles), plan)
    return run_stress(inputs, plan, StressConfig(n_sims=500), seed=1)


@pytest.fixture(scope="module")
def one_role() -> StressResult:
    return _run(ONE_ROLE, ["hunter"] * 20)


@pytest.fixture(scope="module")
def two_roles() -> StressResult:
    return _run(TWO_ROLES, TWO_ROLES_REPS)


@pytest.fixture(params=["one_role", "two_roles"])
def result(request: pytest.FixtureRequest) -> StressResult:
    value: StressResult = request.getfixturevalue(request.param)
    return value


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    """The figures the chart functions save, in call order (still written to their files)."""
    figures: list[Figure] = []
    save = charts_module._save

    def record(fig: Figure, path: Path) -> None:
        figures.append(fig)
        save(fig, path)

    monkeypatch.setattr(charts_module, "_save", record)
    return figures


def _legend(fig: Figure) -> list[str]:
    """Texts of every legend entry drawn on the figure's axes."""
    return [
        text.get_text()
        for ax in fig.axes
        if (legend := ax.get_legend()) is not None
        for text in legend.get_texts()
    ]


def _assert_png(path: Path) -> bytes:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert b"matplotlib" not in data  # no software stamp: bytes depend on the data only
    pixels = image.imread(path)
    assert pixels.shape[:2] == SIZE
    assert float(pixels[..., :3].std()) > 0.05  # something was drawn
    return data


def draw(chart: str, path: Path) -> None:
    """Draw one of the three charts on the two-role instance (also run in a child process)."""
    if chart == "payout_curve":
        payout_curve_chart(MULTI_MEASURE, path)
    elif chart == "attainment_distribution":
        attainment_distribution_chart(_run(TWO_ROLES, TWO_ROLES_REPS), path)
    else:
        cost_band_chart(_run(TWO_ROLES, TWO_ROLES_REPS), path)


CHARTS = ("attainment_distribution", "payout_curve", "cost_band")


def test_another_process_draws_the_same_bytes(tmp_path: Path) -> None:
    """Charts depend on the data only: this process and a fresh one write the same PNGs."""
    here, there = tmp_path / "here", tmp_path / "there"
    for chart in CHARTS:
        draw(chart, here / f"{chart}.png")
    code = (
        "from pathlib import Path; from tests.territory.test_charts import CHARTS, draw; "
        f"[draw(c, Path({str(there)!r}) / f'{{c}}.png') for c in CHARTS]"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for chart in CHARTS:
        assert _assert_png(here / f"{chart}.png") == _assert_png(there / f"{chart}.png"), chart


class TestAttainmentDistribution:
    def test_writes_png(self, result: StressResult, tmp_path: Path) -> None:
        path = tmp_path / "attainment.png"
        attainment_distribution_chart(result, path)
        _assert_png(path)

    def test_creates_missing_folder(self, one_role: StressResult, tmp_path: Path) -> None:
        path = tmp_path / "nested" / "deeper" / "attainment.png"
        attainment_distribution_chart(one_role, path)
        _assert_png(path)

    def test_healthy_reference_argument(
        self, one_role: StressResult, tmp_path: Path, drawn: list[Figure]
    ) -> None:
        plain, seq, mapped = tmp_path / "plain.png", tmp_path / "seq.png", tmp_path / "map.png"
        shares = [0.05, 0.15, 0.25, 0.30, 0.25]
        attainment_distribution_chart(one_role, plain)
        attainment_distribution_chart(one_role, seq, healthy=shares)
        bands = one_role.attainment_histogram()["band"].iloc[:5].tolist()
        attainment_distribution_chart(
            one_role, mapped, healthy=dict(zip(bands, shares, strict=True))
        )
        assert _assert_png(seq) == _assert_png(mapped)
        without, with_shares, _ = drawn
        # The reference is drawn as outlined (unfilled) bars at the given shares, and named.
        (ax,) = with_shares.axes
        outlined = [
            p.get_height() for p in ax.patches if isinstance(p, Rectangle) and not p.get_fill()
        ]
        assert outlined == pytest.approx(shares)
        assert "Healthy reference" in _legend(with_shares)
        assert not [p for p in without.axes[0].patches if not p.get_fill()]
        assert "Healthy reference" not in _legend(without)

    def test_healthy_reference_from_config(self, one_role: StressResult, tmp_path: Path) -> None:
        @dataclass(frozen=True)
        class HealthyConfig(StressConfig):
            healthy_band_shares: tuple[float, ...] = (0.05, 0.15, 0.25, 0.30, 0.25)

        with_config = replace(one_role, config=HealthyConfig(n_sims=500))
        from_config, from_arg = tmp_path / "config.png", tmp_path / "arg.png"
        attainment_distribution_chart(with_config, from_config)
        attainment_distribution_chart(one_role, from_arg, healthy=[0.05, 0.15, 0.25, 0.30, 0.25])
        assert from_config.read_bytes() == from_arg.read_bytes()

    def test_healthy_reference_must_match_bands(
        self, one_role: StressResult, tmp_path: Path
    ) -> None:
        with pytest.raises(ScenarioError, match="5"):
            attainment_distribution_chart(one_role, tmp_path / "x.png", healthy=[0.5, 0.5])
        with pytest.raises(ScenarioError, match="no share for band"):
            attainment_distribution_chart(one_role, tmp_path / "x.png", healthy={"<50": 1.0})

    def test_no_rate_reps(self, tmp_path: Path) -> None:
        frame = _reps(["hunter"] * 5).assign(tenure_months=2.0)
        inputs = StressInputs.from_frame(frame, ONE_ROLE)
        result = run_stress(inputs, ONE_ROLE, StressConfig(n_sims=200), seed=1)
        path = tmp_path / "empty.png"
        attainment_distribution_chart(result, path)
        _assert_png(path)

    def test_quota_position_on_band_axis(self) -> None:
        assert _quota_position([0.5, 0.8, 1.0, 1.2]) == 2.5
        assert _quota_position([0.5, 0.9, 1.1]) == pytest.approx(1.5 + 0.5)
        assert _quota_position([1.2, 1.5]) == 0.0
        assert _quota_position([0.5, 0.8]) == 2.0


class TestPayoutCurve:
    @pytest.mark.parametrize("plan", [ONE_ROLE, TWO_ROLES, MULTI_MEASURE], ids=lambda p: p.plan_id)
    def test_writes_png(self, plan: CompPlan, tmp_path: Path) -> None:
        path = tmp_path / "payout.png"
        payout_curve_chart(plan, path)
        _assert_png(path)

    def test_each_role_gets_its_curve(self, tmp_path: Path, drawn: list[Figure]) -> None:
        payout_curve_chart(ONE_ROLE, tmp_path / "a.png")
        payout_curve_chart(TWO_ROLES, tmp_path / "b.png")
        one, two = (_legend(fig) for fig in drawn)
        on_target = "On target: 100% of quota pays 1.0\u00d7 TI"
        assert one[-1] == two[-1] == on_target
        assert [t.split(":")[0] for t in one[:-1]] == ["hunter"]
        assert [t.split(":")[0] for t in two[:-1]] == ["hunter", "account_manager"]
        # One solid curve per role, in different colours.
        solid = [ln for ln in drawn[1].axes[0].lines if ln.get_linestyle() == "-"]
        assert len({ln.get_color() for ln in solid}) == 2

    def test_kinks_hold_threshold_tiers_and_cap(self) -> None:
        hunter = MULTI_MEASURE.roles["hunter"].curve
        assert _kinks(hunter) == pytest.approx([0.0, 1.0, 1.5])  # cap 2.5 reached at 1.5
        retention = MULTI_MEASURE.roles["account_manager"].measures[1].curve
        assert retention is not None
        assert _kinks(retention) == pytest.approx([0.9, 1.0, 1.0 + 0.5 / 1.5])
        assert _kinks(ACCOUNT_MANAGER.curve) == pytest.approx([0.75, 1.0, 1.5])


class TestCostBand:
    def test_writes_png(self, result: StressResult, tmp_path: Path) -> None:
        path = tmp_path / "cost.png"
        cost_band_chart(result, path, currency="USD")
        _assert_png(path)

    def test_currency_only_changes_the_label(
        self, one_role: StressResult, tmp_path: Path, drawn: list[Figure]
    ) -> None:
        a, b = tmp_path / "a.png", tmp_path / "b.png"
        cost_band_chart(one_role, a)
        cost_band_chart(one_role, b, currency="EUR")
        _assert_png(a)
        _assert_png(b)
        plain, euro = (fig.axes[0] for fig in drawn)
        assert plain.get_ylabel() == "Total incentive cost per year (plan currency)"
        assert euro.get_ylabel() == "Total incentive cost per year (EUR)"
        # The same lines, at the same points.
        assert len(plain.lines) == len(euro.lines) > 0
        for line, same in zip(plain.lines, euro.lines, strict=True):
            np.testing.assert_array_equal(line.get_xydata(), same.get_xydata())
