"""Tests for territory.domain.comp: payout curves, plan files, presets and the payout calculator.

The two presets draw the curves most tests use (payout as a multiple of TI)::

    HUNTER                              ACCOUNT_MANAGER
    2.5 |                 /             2.5 |                 /
    2.0 |              .-'              2.0 |              .-'
    1.0 |         _.-'                  1.0 |          _.-'
    0.5 |     _.-'                      0.5 |        |'
    0.0 |_.-'________________           0.0 |________|__________
        0    1.0  1.5  2.0                  0  0.75 1.0  1.5  2.0

Bad files are made by editing the shipped ``data/comp/hunter.toml`` one line at a time, so each
error test shows exactly which rule it breaks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from territory.domain import comp
from territory.domain.comp import ACCOUNT_MANAGER, HUNTER, parse_comp, preset
from territory.domain.payouts import attainment_steps, payout_for, payout_table, sample_calculations
from territory.errors import ScenarioError
from territory.io.config_files import load_comp
from tests.commands import DEMO_COMP, ROOT

COMP_DIR = ROOT / "data" / "comp"
HUNTER_TOML = (COMP_DIR / "hunter.toml").read_text(encoding="utf-8")
TABLE_COLUMNS = [
    "plan_id",
    "measure",
    "attainment",
    "payout_multiple_of_ti",
    "payout_at_sample_ote",
    "marginal_rate",
    "tier_label",
]


def _hunter_with_cap(multiple: float) -> comp.PayoutCurve:
    return comp.PayoutCurve(tiers=HUNTER.curve.tiers, cap=comp.Cap(payout_multiple=multiple))


def _at(table: pd.DataFrame, attainment: float) -> pd.Series:
    """The payout-table row at one attainment step."""
    rows = table[np.isclose(table["attainment"], attainment)]
    assert len(rows) == 1
    return rows.iloc[0]


def _edited(tmp_path: Path, old: str, new: str, name: str = "bad_plan.toml") -> Path:
    """The shipped hunter plan with one piece of text replaced, written to a temp file."""
    assert old in HUNTER_TOML, f"test setup: {old!r} not in hunter.toml"
    path = tmp_path / name
    path.write_text(HUNTER_TOML.replace(old, new, 1), encoding="utf-8")
    return path


class TestSyntheticPayoutCurve:
    def test_zero_attainment_pays_nothing(self) -> None:
        assert HUNTER.curve.payout(np.array([0.0]))[0] == 0.0
        assert ACCOUNT_MANAGER.curve.payout(np.array([0.0]))[0] == 0.0

    def test_below_threshold_pays_nothing(self) -> None:
        out = ACCOUNT_MANAGER.curve.payout(np.array([0.3, 0.7, 0.749999]))
        np.testing.assert_array_equal(out, [0.0, 0.0, 0.0])

    def test_exactly_at_threshold_pays_the_bump(self) -> None:
        assert ACCOUNT_MANAGER.curve.payout(np.array([0.75]))[0] == pytest.approx(0.5, abs=1e-12)

    def test_quota_pays_exactly_target_incentive(self) -> None:
        for curve in (HUNTER.curve, ACCOUNT_MANAGER.curve, _hunter_with_cap(1.5)):
            assert abs(curve.payout(np.array([1.0]))[0] - 1.0) <= 1e-9

    def test_presets_follow_their_tiers(self) -> None:
        a = np.array([0.5, 0.8, 1.2, 1.5, 2.0])
        np.testing.assert_allclose(HUNTER.curve.payout(a), [0.5, 0.8, 1.4, 2.0, 2.5])
        np.testing.assert_allclose(ACCOUNT_MANAGER.curve.payout(a), [0.0, 0.6, 1.4, 2.0, 2.5])

    def test_very_high_attainment_keeps_the_last_slope(self) -> None:
        assert HUNTER.curve.payout(np.array([10.0]))[0] == pytest.approx(2.0 + 8.5)

    def test_cap_limits_payout(self) -> None:
        curve = _hunter_with_cap(1.8)
        out = curve.payout(np.array([1.3, 1.4, 1.5, 10.0]))
        np.testing.assert_allclose(out, [1.6, 1.8, 1.8, 1.8])
        np.testing.assert_array_equal(curve.capped(np.array([1.3, 1.4, 1.5])), [False, False, True])
        assert curve.payout(np.array([10.0]), capped=False)[0] == pytest.approx(10.5)
        assert curve.marginal_rate(np.array([1.5]))[0] == 0.0

    def test_nan_and_negative_attainment(self) -> None:
        out = ACCOUNT_MANAGER.curve.payout(np.array([np.nan, -1.0]))
        assert np.isnan(out[0])
        assert out[1] == 0.0

    def test_scalar_and_buffers_match_plain_call(self) -> None:
        a = np.linspace(0.0, 3.0, 61)
        out, work = np.empty_like(a), np.empty_like(a)
        result = ACCOUNT_MANAGER.curve.payout(a, out=out, work=work)
        assert result is out
        np.testing.assert_array_equal(result, ACCOUNT_MANAGER.curve.payout(a))
        assert float(HUNTER.curve.payout(1.3)) == pytest.approx(1.6)

    def test_tier_index_and_marginal_rate(self) -> None:
        a = np.array([0.5, 0.75, 1.0, 1.49, 1.5, 3.0])
        np.testing.assert_array_equal(ACCOUNT_MANAGER.curve.tier_index(a), [-1, 0, 1, 1, 2, 2])
        np.testing.assert_array_equal(
            ACCOUNT_MANAGER.curve.marginal_rate(a), [0.0, 2.0, 2.0, 2.0, 1.0, 1.0]
        )

    def test_accelerator_slope_can_be_changed(self) -> None:
        faster = HUNTER.with_accelerator(3.0)
        assert faster.curve.payout(np.array([1.2]))[0] == pytest.approx(1.6)
        assert faster.curve.payout(np.array([1.0]))[0] == pytest.approx(1.0)
        assert HUNTER.curve.payout(np.array([1.2]))[0] == pytest.approx(1.4)

    @settings(max_examples=50, deadline=None, derandomize=True)
    @given(
        breaks=st.lists(st.floats(0.05, 3.0), min_size=0, max_size=4, unique=True),
        slopes=st.lists(st.floats(0.0, 5.0), min_size=5, max_size=5),
        start=st.floats(0.0, 0.9),
        bump=st.floats(0.0, 0.9),
        use_threshold=st.booleans(),
        cap=st.one_of(st.none(), st.floats(1.0, 6.0)),
        points=st.lists(st.floats(-1.0, 20.0), min_size=2, max_size=40),
    )
    def test_payout_monotone_for_random_valid_curves(
        self,
        breaks: list[float],
        slopes: list[float],
        start: float,
        bump: float,
        use_threshold: bool,
        cap: float | None,
        points: list[float],
    ) -> None:
        edges = [start, *sorted(b for b in breaks if b > start + 1e-3)]
        slopes = slopes[: len(edges)]
        # The tier holding quota must rise, or nothing can be rescaled to pay 1.0 there.
        holding = max(i for i, e in enumerate(edges) if e <= 1.0)
        slopes[holding] = max(slopes[holding], 0.1)
        raw_tiers = [
            comp.Tier(start=e, end=(edges[i + 1] if i + 1 < len(edges) else None), slope=s)
            for i, (e, s) in enumerate(zip(edges, slopes, strict=True))
        ]
        bump_value = bump if use_threshold else 0.0
        raw = bump_value + sum(
            t.slope * (min(1.0, t.end if t.end is not None else 1.0) - t.start)
            for t in raw_tiers
            if t.start < 1.0
        )
        tiers = tuple(t.model_copy(update={"slope": t.slope / raw}) for t in raw_tiers)
        threshold = (
            comp.Threshold(at=start, payout_at_threshold=bump_value / raw)
            if use_threshold
            else None
        )
        curve = comp.PayoutCurve(
            threshold=threshold,
            tiers=tiers,
            cap=comp.Cap(payout_multiple=cap) if cap is not None else None,
        )
        a = np.sort(np.array(points))
        out = curve.payout(a)
        assert np.all(np.diff(out) >= -1e-12)
        assert abs(curve.payout(np.array([1.0]))[0] - 1.0) <= 1e-9


class TestSyntheticPresets:
    def test_shipped_files_equal_presets(self) -> None:
        assert load_comp(COMP_DIR / "hunter.toml").roles["hunter"] == HUNTER
        shipped = load_comp(COMP_DIR / "account_manager.toml").roles["account_manager"]
        assert shipped == ACCOUNT_MANAGER

    def test_preset_lookup(self) -> None:
        assert preset("hunter") is HUNTER
        assert preset("Account-Manager") is ACCOUNT_MANAGER

    def test_pay_mix_and_target_incentive(self) -> None:
        assert (HUNTER.pay_mix.base, HUNTER.pay_mix.variable) == (0.5, 0.5)
        assert (ACCOUNT_MANAGER.pay_mix.base, ACCOUNT_MANAGER.pay_mix.variable) == (0.7, 0.3)
        assert HUNTER.target_incentive == pytest.approx(100_000)
        assert ACCOUNT_MANAGER.base_salary == pytest.approx(140_000)
        assert HUNTER.curve.threshold is None and HUNTER.curve.cap is None
        assert ACCOUNT_MANAGER.curve.threshold == comp.Threshold(at=0.75, payout_at_threshold=0.5)

    def test_demo_plan_maps_every_demo_rep_role(self) -> None:
        plan = load_comp(DEMO_COMP)
        roles = pd.read_csv(ROOT / "data" / "demo" / "reps.csv")["role"].unique().tolist()
        assert sorted(roles) == ["account_manager", "hunter"]
        assert {plan.role_for(r).name for r in roles} == {"hunter", "account_manager"}
        am = plan.roles["account_manager"]
        assert [m.weight for m in am.measures] == [0.6, 0.4]
        assert am.measures[1].curve is not None and am.measures[1].curve.cap is not None

    def test_light_measure_is_flagged_not_rejected(self) -> None:
        role = HUNTER.model_copy(
            update={
                "measures": (
                    comp.Measure(name="bookings", weight=0.85),
                    comp.Measure(name="meetings", weight=0.15),
                )
            }
        )
        plan = parse_comp(
            {"plan_id": "p", "roles": {"hunter": role.model_dump(exclude={"name"})}}, "dict"
        )
        assert plan.roles["hunter"].light_measures() == ("meetings",)
        assert "meetings" in plan.design_flags()[0]

    def test_comp_plan_of_roles(self) -> None:
        plan = comp.CompPlan.of(HUNTER, ACCOUNT_MANAGER, plan_id="both")
        assert list(plan.roles) == ["hunter", "account_manager"]
        assert plan.role_for("account_manager") is ACCOUNT_MANAGER


class TestSyntheticPayoutCalculator:
    def test_payout_for_one_attainment(self) -> None:
        earned = payout_for(HUNTER, 1.15)
        assert earned.base == pytest.approx(100_000)
        assert float(earned.incentive) == pytest.approx(130_000)
        assert float(earned.total) == pytest.approx(230_000)
        assert float(earned.by_measure["bookings"]) == pytest.approx(130_000)

    def test_payout_for_per_measure_attainment_and_proration(self) -> None:
        am = load_comp(DEMO_COMP).roles["account_manager"]
        earned = payout_for(
            am,
            {"renewal_bookings": np.array([0.7, 1.0]), "expansion_bookings": np.array([2.0, 1.0])},
            months_in_role=6,
        )
        ti_half = 145_000 * 0.3 / 2
        np.testing.assert_allclose(earned.by_measure["renewal_bookings"], [0.0, 0.6 * ti_half])
        np.testing.assert_allclose(
            earned.by_measure["expansion_bookings"], [0.4 * 2.5 * ti_half, 0.4 * ti_half]
        )
        assert earned.base == pytest.approx(145_000 * 0.7 / 2)

    def test_payout_for_ote_override(self) -> None:
        earned = payout_for(ACCOUNT_MANAGER, np.array([1.0]), ote=100_000)
        assert earned.incentive[0] == pytest.approx(30_000)

    def test_payout_table_layout(self) -> None:
        plan = load_comp(DEMO_COMP)
        table = payout_table(plan)
        assert list(table.columns) == TABLE_COLUMNS
        steps = attainment_steps()
        assert steps.size == 41 and steps[0] == 0.0 and steps[-1] == 2.0 and 1.0 in steps
        assert len(table) == 41 * 3
        assert set(table["plan_id"]) == {"demo-fy2027/hunter", "demo-fy2027/account_manager"}

    def test_payout_table_values(self) -> None:
        table = payout_table(ACCOUNT_MANAGER)
        assert _at(table, 0.7)["tier_label"] == "below threshold"
        assert _at(table, 0.7)["payout_at_sample_ote"] == 0.0
        assert _at(table, 1.0)["payout_multiple_of_ti"] == pytest.approx(1.0)
        assert _at(table, 1.3)["payout_at_sample_ote"] == pytest.approx(1.6 * 60_000)
        assert _at(table, 1.2)["marginal_rate"] == 2.0
        assert _at(table, 1.2)["tier_label"] == "100%-150% at 2x"
        capped = payout_table(HUNTER.model_copy(update={"curve": _hunter_with_cap(2.0)}))
        assert _at(capped, 1.8)["tier_label"] == "capped"

    def test_sample_calculations_read_as_sentences(self) -> None:
        lines = sample_calculations(comp.CompPlan.of(HUNTER, ACCOUNT_MANAGER))
        assert len(lines) == 6
        assert lines[2].startswith("At 130% of quota, a hunter with OTE 200,000 USD")
        assert "earns an incentive of 160,000 USD" in lines[2]
        assert "260,000 USD in total" in lines[2]
        assert "below" not in lines[3] and "reaching the 75% threshold pays 0.50" in lines[3]
        custom = sample_calculations(ACCOUNT_MANAGER, [0.7])
        assert "below the 75% threshold" in custom[0]


_MORE_MEASURES = "weight = 0.25\n" + "".join(
    f'\n[[roles.hunter.measures]]\nname = "m{i}"\nweight = 0.25\n' for i in range(3)
)
BAD_EDITS = [
    pytest.param(
        "{ from = 1.0, to = 1.5, slope = 2.0 }",
        "{ from = 1.0, to = 1.5, slope = -0.5 }",
        r"bad_plan\.toml: role 'hunter', key 'curve\.tiers\[1\]\.slope'.*never fall",
        id="negative_slope",
    ),
    pytest.param(
        "{ from = 0.0, to = 1.0, slope = 1.0 }",
        "{ from = 0.0, to = 1.0, slope = 0.9 }",
        r"role 'hunter', key 'curve\.tiers': the curve pays 0\.9 x TI at quota",
        id="quota_must_pay_target_incentive",
    ),
    pytest.param(
        "weight = 1.0",
        "weight = 0.9",
        r"role 'hunter', key 'measures': measure weights add up to 0\.9",
        id="weights_must_sum_to_one",
    ),
    pytest.param(
        "weight = 1.0",
        'weight = 1.0\n\n[[roles.hunter.measures]]\nname = "logos"\nweight = 0.0',
        r"key 'measures\[1\]\.weight': weight 0 must be > 0",
        id="weight_must_be_positive",
    ),
    pytest.param(
        "weight = 1.0\n",
        _MORE_MEASURES,
        r"role 'hunter', key 'measures': 4 measures; a role may carry at most 3",
        id="at_most_three_measures",
    ),
    pytest.param(
        "variable = 0.5",
        "variable = 0.6",
        r"role 'hunter', key 'pay_mix': base 0\.5 \+ variable 0\.6",
        id="pay_mix_must_sum_to_one",
    ),
    pytest.param(
        "ote = 200000.0",
        "ote = 0",
        r"role 'hunter', key 'ote': OTE is 0",
        id="ote_must_be_positive",
    ),
    pytest.param(
        "{ from = 1.0, to = 1.5, slope = 2.0 }",
        "{ from = 1.1, to = 1.5, slope = 2.0 }",
        r"key 'curve\.tiers\[1\]\.from'.*contiguous",
        id="tiers_must_be_contiguous",
    ),
    pytest.param(
        "{ from = 1.0, to = 1.5, slope = 2.0 }",
        "{ from = 1.0, to = 0.9, slope = 2.0 }",
        r"key 'curve\.tiers\[1\]\.to'.*increasing order",
        id="tiers_must_be_ordered",
    ),
    pytest.param(
        "{ from = 1.5, slope = 1.0 }",
        "{ from = 1.5, to = 3.0, slope = 1.0 }",
        r"key 'curve\.tiers\[2\]\.to'.*omit 'to'",
        id="last_tier_is_open_ended",
    ),
    pytest.param(
        "{ from = 1.0, to = 1.5, slope = 2.0 }",
        "{ from = 1.0, slope = 2.0 }",
        r"key 'curve\.tiers\[1\]\.to': only the last tier",
        id="only_last_tier_may_be_open",
    ),
    pytest.param(
        "[roles.hunter.curve]",
        "[roles.hunter.curve]\nthreshold = { at = 0.5, payout_at_threshold = 0.5 }",
        r"key 'curve\.tiers\[0\]\.from'.*threshold is at 0\.5",
        id="first_tier_starts_at_threshold",
    ),
    pytest.param(
        "{ from = 1.5, slope = 1.0 }",
        "{ from = 1.5, slpoe = 1.0 }",
        r"key 'curve\.tiers\[2\]\.slpoe': unknown key; "
        r"allowed keys here are \['from', 'to', 'slope', 'label'\]",
        id="unknown_key_rejected_with_allowed_keys",
    ),
    pytest.param(
        'currency = "USD"',
        'currency = "USD"\ncurency = "EUR"',
        r"key 'curency': unknown key",
        id="unknown_top_level_key",
    ),
    pytest.param(
        "ote = 200000.0\n",
        "",
        r"role 'hunter', key 'ote': required key is missing",
        id="missing_key_named",
    ),
    pytest.param(
        "ote = 200000.0",
        "ote = nan",
        r"key 'ote': Input should be a finite number",
        id="nan_rejected",
    ),
]
"""One edit of the shipped hunter plan each: (text, replacement, the error it must raise)."""


class TestErrorsCompFile:
    @pytest.mark.parametrize(("old", "new", "match"), BAD_EDITS)
    def test_bad_edit_named(self, tmp_path: Path, old: str, new: str, match: str) -> None:
        with pytest.raises(ScenarioError, match=match):
            load_comp(_edited(tmp_path, old, new))

    def test_cap_below_one_breaks_quota_rule(self) -> None:
        with pytest.raises(ValueError, match="exactly"):
            _hunter_with_cap(0.8)

    def test_rep_role_mapped_twice(self) -> None:
        second = ACCOUNT_MANAGER.model_dump(exclude={"name"})
        second["rep_roles"] = ["hunter"]
        data = {
            "plan_id": "p",
            "roles": {"hunter": HUNTER.model_dump(exclude={"name"}), "am": second},
        }
        with pytest.raises(
            ScenarioError, match=r"plan\.toml: role 'am', key 'rep_roles'.*already mapped"
        ):
            parse_comp(data, "plan.toml")

    def test_role_name_must_match_table(self) -> None:
        data = {"plan_id": "p", "roles": {"hunter": {**HUNTER.model_dump(), "name": "farmer"}}}
        with pytest.raises(ScenarioError, match=r"role 'hunter', key 'name'.*match the table key"):
            parse_comp(data, "plan.toml")

    def test_plan_needs_roles(self) -> None:
        with pytest.raises(ScenarioError, match=r"key 'roles': the plan has no roles"):
            parse_comp({"plan_id": "p", "roles": {}}, "plan.toml")

    def test_not_toml(self, tmp_path: Path) -> None:
        path = tmp_path / "broken.toml"
        path.write_text("plan_id = \n", encoding="utf-8")
        with pytest.raises(ScenarioError, match=r"broken\.toml is not valid TOML"):
            load_comp(path)

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(ScenarioError, match=r"nowhere\.toml not found"):
            load_comp(tmp_path / "nowhere.toml")

    def test_unknown_preset_lists_options(self) -> None:
        with pytest.raises(
            ScenarioError, match=r"possible options are: \['account_manager', 'hunter'\]"
        ):
            preset("farmer")

    def test_unknown_rep_role_lists_known(self) -> None:
        with pytest.raises(
            ScenarioError, match=r"no role for rep role 'sdr'.*\['account_manager', 'hunter'\]"
        ):
            load_comp(DEMO_COMP).role_for("sdr")

    def test_missing_measure_attainment(self) -> None:
        am = load_comp(DEMO_COMP).roles["account_manager"]
        with pytest.raises(ScenarioError, match=r"expansion_bookings"):
            payout_for(am, {"renewal_bookings": 1.0})

    def test_code_built_role_validated_too(self) -> None:
        with pytest.raises(ValueError, match="must add up to 1"):
            comp.RolePlan(
                name="x",
                ote=1.0,
                pay_mix=comp.PayMix(base=0.5, variable=0.4),
                measures=(comp.Measure(name="m", weight=1.0),),
                curve=HUNTER.curve,
            )
