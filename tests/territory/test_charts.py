"""Tests for territory.charts: PNG output, size, determinism and the plan shapes it must draw.

Stress results come from the real :func:`run_stress` on small instances (20 reps, 500
simulations, seed 1), so the charts see exactly the data the CLI would give them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

from matplotlib import image  # noqa: E402

from territory.charts import (  # noqa: E402
    _kinks,
    _quota_position,
    attainment_distribution_chart,
    cost_band_chart,
    payout_curve_chart,
)
from territory.comp import (  # noqa: E402
    ACCOUNT_MANAGER,
    HUNTER,
    Cap,
    CompPlan,
    Measure,
    PayoutCurve,
    Threshold,
    Tier,
)
from territory.errors import ScenarioError  # noqa: E402
from territory.stress import StressConfig, StressInputs, StressResult, run_stress  # noqa: E402

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
    return _run(TWO_ROLES, ["hunter"] * 12 + ["account_manager"] * 8)


@pytest.fixture(params=["one_role", "two_roles"])
def result(request: pytest.FixtureRequest) -> StressResult:
    value: StressResult = request.getfixturevalue(request.param)
    return value


def _assert_png(path: Path) -> bytes:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert b"matplotlib" not in data  # no software stamp: bytes depend on the data only
    pixels = image.imread(path)
    assert pixels.shape[:2] == SIZE
    assert float(pixels[..., :3].std()) > 0.05  # something was drawn
    return data


class TestAttainmentDistribution:
    def test_writes_png(self, result: StressResult, tmp_path: Path) -> None:
        path = tmp_path / "attainment.png"
        attainment_distribution_chart(result, path)
        _assert_png(path)

    def test_deterministic(self, two_roles: StressResult, tmp_path: Path) -> None:
        a, b = tmp_path / "a.png", tmp_path / "b.png"
        attainment_distribution_chart(two_roles, a)
        attainment_distribution_chart(two_roles, b)
        assert a.read_bytes() == b.read_bytes()

    def test_creates_missing_folder(self, one_role: StressResult, tmp_path: Path) -> None:
        path = tmp_path / "nested" / "deeper" / "attainment.png"
        attainment_distribution_chart(one_role, path)
        _assert_png(path)

    def test_healthy_reference_argument(self, one_role: StressResult, tmp_path: Path) -> None:
        plain, seq, mapped = tmp_path / "plain.png", tmp_path / "seq.png", tmp_path / "map.png"
        shares = [0.05, 0.15, 0.25, 0.30, 0.25]
        attainment_distribution_chart(one_role, plain)
        attainment_distribution_chart(one_role, seq, healthy=shares)
        bands = one_role.attainment_histogram()["band"].iloc[:5].tolist()
        attainment_distribution_chart(
            one_role, mapped, healthy=dict(zip(bands, shares, strict=True))
        )
        assert _assert_png(seq) == _assert_png(mapped)
        assert plain.read_bytes() != seq.read_bytes()

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

    def test_deterministic(self, tmp_path: Path) -> None:
        a, b = tmp_path / "a.png", tmp_path / "b.png"
        payout_curve_chart(MULTI_MEASURE, a)
        payout_curve_chart(MULTI_MEASURE, b)
        assert a.read_bytes() == b.read_bytes()

    def test_plans_give_different_charts(self, tmp_path: Path) -> None:
        a, b = tmp_path / "a.png", tmp_path / "b.png"
        payout_curve_chart(ONE_ROLE, a)
        payout_curve_chart(TWO_ROLES, b)
        assert a.read_bytes() != b.read_bytes()

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

    def test_deterministic(self, two_roles: StressResult, tmp_path: Path) -> None:
        a, b = tmp_path / "a.png", tmp_path / "b.png"
        cost_band_chart(two_roles, a)
        cost_band_chart(two_roles, b)
        assert a.read_bytes() == b.read_bytes()

    def test_currency_only_changes_the_label(self, one_role: StressResult, tmp_path: Path) -> None:
        a, b = tmp_path / "a.png", tmp_path / "b.png"
        cost_band_chart(one_role, a)
        cost_band_chart(one_role, b, currency="EUR")
        assert _assert_png(a) != _assert_png(b)
