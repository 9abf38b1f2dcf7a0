"""Tests for territory.domain.synthetic and the shipped demo data set (data/make_demo.py).

The generators promise a balanced plan exists; these tests hold them to it, so a solver that
fails on generated data points at the solver, not at the data.
"""

from __future__ import annotations

import importlib.util
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from territory.domain.synthetic import (
    ACCOUNT_COLUMNS,
    REP_COLUMNS,
    US_BOX,
    fit_to_targets,
    make_instance,
    potential_targets,
    workload_targets,
)
from tests.commands import ROOT

DEMO_DIR = ROOT / "data" / "demo"
ACCOUNT_TEXT = {"account_id": "str", "current_rep": "str", "locked_rep": "str", "unit_id": "str"}
SIZES = [(30, 3), (200, 7), (1000, 10), (5000, 50)]
BALANCE = 0.05


def _targets(accounts: pd.DataFrame, reps: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Potential and workload targets per rep id, from the frames as they are."""
    pot = potential_targets(accounts["potential"].sum(), reps["capacity"], reps["tier"])
    work = workload_targets(accounts["workload"].sum(), reps["capacity"])
    index = pd.Index(reps["rep_id"])
    return pd.Series(pot, index=index), pd.Series(work, index=index)


def _largest_account_share(accounts: pd.DataFrame, reps: pd.DataFrame) -> float:
    """The largest account's potential or workload over the smallest rep target of that kind."""
    pot_t, work_t = _targets(accounts, reps)
    return max(accounts["potential"].max() / pot_t.min(), accounts["workload"].max() / work_t.min())


def _ratios(accounts: pd.DataFrame, reps: pd.DataFrame, by: str) -> tuple[pd.Series, pd.Series]:
    """Each rep's potential and workload under the plan in column ``by``, over its targets."""
    pot_t, work_t = _targets(accounts, reps)
    sums = accounts.groupby(by)[["potential", "workload"]].sum().reindex(pot_t.index, fill_value=0)
    return sums["potential"] / pot_t, sums["workload"] / work_t


@pytest.fixture(scope="module", params=SIZES, ids=[f"{n}x{k}" for n, k in SIZES])
def instance(request: pytest.FixtureRequest) -> tuple[pd.DataFrame, pd.DataFrame]:
    n_accounts, n_reps = request.param
    return make_instance(n_accounts, n_reps, seed=11, with_witness=True)


@pytest.fixture(scope="module")
def make_demo() -> ModuleType:
    """data/make_demo.py loaded by path: data/ is a folder of files, not a package."""
    spec = importlib.util.spec_from_file_location("make_demo", ROOT / "data" / "make_demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo_built(make_demo: ModuleType) -> tuple[pd.DataFrame, pd.DataFrame]:
    accounts, reps = make_demo.build(with_witness=True)
    return accounts, reps


@pytest.fixture(scope="module")
def demo_shipped() -> tuple[pd.DataFrame, pd.DataFrame]:
    accounts = pd.read_csv(DEMO_DIR / "accounts.csv", dtype=ACCOUNT_TEXT)
    reps = pd.read_csv(DEMO_DIR / "reps.csv", dtype={"rep_id": "str"})
    return accounts, reps


class TestSyntheticInstance:
    def test_same_seed_gives_equal_frames(self) -> None:
        first = make_instance(500, 5, seed=42)
        second = make_instance(500, 5, seed=42)
        pd.testing.assert_frame_equal(first[0], second[0])
        pd.testing.assert_frame_equal(first[1], second[1])

    def test_generator_seed_is_accepted_and_reproducible(self) -> None:
        first = make_instance(300, 4, seed=np.random.default_rng(5))
        second = make_instance(300, 4, seed=np.random.default_rng(5))
        pd.testing.assert_frame_equal(first[0], second[0])

    def test_different_seeds_give_different_frames(self) -> None:
        a_acc, a_rep = make_instance(500, 5, seed=1)
        b_acc, b_rep = make_instance(500, 5, seed=2)
        assert not a_acc["potential"].equals(b_acc["potential"])
        assert not a_acc["lat"].equals(b_acc["lat"])
        assert not a_rep["capacity"].equals(b_rep["capacity"])

    def test_contract_columns_and_dtypes(self) -> None:
        accounts, reps = make_instance(400, 4, seed=3)
        assert tuple(accounts.columns) == ACCOUNT_COLUMNS
        assert tuple(reps.columns) == REP_COLUMNS
        for frame, numeric in (
            (accounts, ["lat", "lon", "potential", "workload", "revenue_last_year"]),
            (reps, ["lat", "lon", "capacity", "rating"]),
        ):
            for column in frame.columns:
                if column in numeric:
                    assert frame[column].dtype == np.float64, column
                else:
                    assert pd.api.types.is_string_dtype(frame[column].dtype), column
            assert not frame.isna().any().any()

    def test_ids_are_unique_and_formatted(
        self, instance: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        accounts, reps = instance
        assert accounts["account_id"].is_unique
        assert reps["rep_id"].is_unique
        assert accounts["account_id"].str.fullmatch(r"A\d{7}").all()
        assert reps["rep_id"].str.fullmatch(r"R\d{4}").all()

    def test_value_ranges(self, instance: tuple[pd.DataFrame, pd.DataFrame]) -> None:
        accounts, reps = instance
        lat_lo, lat_hi, lon_lo, lon_hi = US_BOX
        for frame in (accounts, reps):
            assert frame["lat"].between(lat_lo, lat_hi).all()
            assert frame["lon"].between(lon_lo, lon_hi).all()
        assert (accounts["potential"] > 0).all()
        assert (accounts["workload"] >= 0.1).all()
        assert (accounts["revenue_last_year"] >= 0).all()
        assert (accounts["revenue_last_year"] <= accounts["potential"]).all()
        assert set(accounts["segment"]) <= {"Enterprise", "Mid-Market", "SMB"}
        assert reps["capacity"].between(1_400, 1_800).all()
        assert reps["rating"].between(0, 1).all()
        assert set(reps["tier"]) <= {"A", "B", "C"}
        assert set(reps["role"]) <= {"hunter", "account_manager"}

    def test_money_in_cents_and_hours_in_tenths(self) -> None:
        accounts, _ = make_instance(1000, 10, seed=4)
        cents = accounts["potential"].to_numpy() * 100
        tenths = accounts["workload"].to_numpy() * 10
        np.testing.assert_allclose(cents, np.round(cents), atol=1e-6)
        np.testing.assert_allclose(tenths, np.round(tenths), atol=1e-6)

    def test_current_rep_references_existing_reps(
        self, instance: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        accounts, reps = instance
        assert accounts["current_rep"].isin(reps["rep_id"]).all()

    def test_total_workload_matches_utilization(self) -> None:
        accounts, reps = make_instance(2000, 20, seed=5, utilization=0.8)
        assert accounts["workload"].sum() / reps["capacity"].sum() == pytest.approx(0.8, rel=5e-3)

    def test_tiers_and_ratings(self) -> None:
        _, reps = make_instance(4000, 200, seed=6)
        share = reps["tier"].value_counts(normalize=True)
        assert share["A"] == pytest.approx(0.25, abs=0.01)
        assert share["B"] == pytest.approx(0.50, abs=0.01)
        mean_rating = reps.groupby("tier")["rating"].mean()
        assert mean_rating["A"] > mean_rating["B"] > mean_rating["C"]

    def test_potential_is_skewed(self) -> None:
        accounts, _ = make_instance(5000, 20, seed=7, sigma=1.0)
        potential = accounts["potential"]
        assert potential.mean() > 1.3 * potential.median()
        assert 30_000 < potential.median() < 80_000

    def test_current_alignment_is_off_balance(self) -> None:
        accounts, reps = make_instance(5000, 50, seed=8)
        pot_ratio, _ = _ratios(accounts, reps, "current_rep")
        assert ((pot_ratio - 1).abs() > 0.2).sum() >= 3

    def test_green_field_has_no_current_rep(self) -> None:
        accounts, _ = make_instance(100, 3, seed=9, with_current=False)
        assert "current_rep" not in accounts.columns
        assert tuple(accounts.columns) == tuple(c for c in ACCOUNT_COLUMNS if c != "current_rep")


class TestSyntheticFeasibility:
    def test_no_account_exceeds_a_quarter_of_the_smallest_target(
        self, instance: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        assert _largest_account_share(*instance) <= 0.25

    def test_witness_plan_is_within_five_percent(
        self, instance: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        accounts, reps = instance
        pot_ratio, work_ratio = _ratios(accounts, reps, "witness_rep")
        assert (pot_ratio - 1).abs().max() <= BALANCE
        assert (work_ratio - 1).abs().max() <= BALANCE

    @pytest.mark.parametrize("sigma", [0.3, 2.5])
    def test_property_holds_for_extreme_skew(self, sigma: float) -> None:
        accounts, reps = make_instance(60, 6, seed=10, sigma=sigma, key_account_share=0.1)
        pot_t, work_t = _targets(accounts, reps)
        assert accounts["potential"].max() <= 0.25 * pot_t.min()
        assert accounts["workload"].max() <= 0.25 * work_t.min()

    def test_fit_to_targets_hits_targets_under_the_cap(self) -> None:
        values = np.array([1.0, 50.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
        groups = np.array([0, 0, 0, 0, 1, 1, 1, 1])
        fitted = fit_to_targets(values, groups, np.array([10.0, 14.0]), cap=4.0)
        np.testing.assert_allclose(np.bincount(groups, weights=fitted), [10.0, 14.0])
        assert fitted.max() <= 4.0 + 1e-12
        assert fitted[0] < fitted[2] < fitted[3]


class TestErrorsSynthetic:
    def test_too_few_accounts_per_rep(self) -> None:
        with pytest.raises(ValueError, match="n_accounts=10 is too small for n_reps=3"):
            make_instance(10, 3)

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"sigma": 0.0}, "sigma must be > 0"),
            ({"utilization": 0.0}, "utilization"),
            ({"key_account_share": 1.5}, "key_account_share"),
            ({"max_account_share": 0.0}, "max_account_share"),
        ],
    )
    def test_bad_arguments(self, kwargs: dict[str, float], match: str) -> None:
        with pytest.raises(ValueError, match=match):
            make_instance(100, 3, **kwargs)  # type: ignore[arg-type]

    def test_fit_to_targets_rejects_unreachable_target(self) -> None:
        with pytest.raises(ValueError, match="cannot reach their target"):
            fit_to_targets(np.ones(3), np.zeros(3, dtype=np.int64), np.array([10.0]), cap=3.0)


class TestRealWorldDemo:
    def test_shipped_files_exist_and_are_small(self) -> None:
        for name in ("accounts.csv", "reps.csv"):
            path = DEMO_DIR / name
            assert path.is_file(), f"{path} is missing; run `python data/make_demo.py`"
            assert path.stat().st_size < 1_000_000

    def test_sizes(self, demo_shipped: tuple[pd.DataFrame, pd.DataFrame]) -> None:
        accounts, reps = demo_shipped
        assert 4_500 <= len(accounts) <= 5_500
        assert 35 <= len(reps) <= 45
        assert tuple(accounts.columns[: len(ACCOUNT_COLUMNS)]) == ACCOUNT_COLUMNS
        assert tuple(reps.columns) == (*REP_COLUMNS, "ote")

    def test_zip_unit_ids_keep_leading_zeros(self) -> None:
        accounts = pd.read_csv(DEMO_DIR / "accounts.csv", dtype=str)
        unit = accounts["unit_id"]
        assert unit.str.len().eq(5).all()
        assert unit.str.fullmatch(r"\d{5}").all()
        assert unit.str.startswith("0").any()  # NJ, CT and MA ZIPs start with 0

    def test_build_reproduces_shipped_files(
        self,
        demo_built: tuple[pd.DataFrame, pd.DataFrame],
        demo_shipped: tuple[pd.DataFrame, pd.DataFrame],
    ) -> None:
        built_accounts, built_reps = demo_built
        shipped_accounts, shipped_reps = demo_shipped
        pd.testing.assert_frame_equal(
            shipped_accounts, built_accounts.drop(columns="witness_rep"), check_exact=True
        )
        pd.testing.assert_frame_equal(shipped_reps, built_reps, check_exact=True)

    def test_references_and_locks(self, demo_shipped: tuple[pd.DataFrame, pd.DataFrame]) -> None:
        accounts, reps = demo_shipped
        assert accounts["current_rep"].isin(reps["rep_id"]).all()
        locked = accounts[accounts["locked_rep"].notna()]
        assert 3 <= len(locked) <= 5
        assert (locked["locked_rep"] == locked["current_rep"]).all()

    def test_key_accounts_leave_room_for_balance(
        self, demo_shipped: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        accounts, reps = demo_shipped
        assert _largest_account_share(accounts, reps) <= 0.30
        pot_t, _ = _targets(accounts, reps)
        assert (accounts["potential"] >= 0.1 * pot_t.min()).sum() >= 8  # the key accounts

    def test_balanced_plan_with_locks_exists(
        self, demo_built: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        accounts, reps = demo_built
        locked = accounts["locked_rep"].notna()
        assert (accounts.loc[locked, "witness_rep"] == accounts.loc[locked, "locked_rep"]).all()
        pot_ratio, work_ratio = _ratios(accounts, reps, "witness_rep")
        assert (pot_ratio - 1).abs().max() <= BALANCE
        assert (work_ratio - 1).abs().max() <= BALANCE

    def test_current_plan_is_off_balance(
        self, demo_shipped: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        accounts, reps = demo_shipped
        pot_ratio, _ = _ratios(accounts, reps, "current_rep")
        assert ((pot_ratio - 1).abs() >= 0.2).sum() >= 4
        assert accounts["workload"].sum() / reps["capacity"].sum() == pytest.approx(0.85, rel=0.01)

    def test_history_has_prospects_and_customers(
        self, demo_shipped: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        accounts, _ = demo_shipped
        prospects = (accounts["revenue_last_year"] == 0).mean()
        assert 0.05 < prospects < 0.4
        assert (accounts["revenue_last_year"] <= accounts["potential"]).all()

    def test_demo_passes_input_validation(
        self, demo_shipped: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        from territory.io import validate_inputs

        accounts, reps = validate_inputs(*demo_shipped)
        assert len(accounts) == len(demo_shipped[0])
        assert len(reps) == len(demo_shipped[1])

    def test_pay_sales_and_plan_year_agree(
        self, demo_shipped: tuple[pd.DataFrame, pd.DataFrame]
    ) -> None:
        """What a rep sold last year is 4-6x their OTE, and every file plans the same year."""
        import re
        import tomllib

        accounts, reps = demo_shipped
        sold = accounts.groupby("current_rep")["revenue_last_year"].sum()
        ratio = sold.reindex(reps["rep_id"]).to_numpy() / reps["ote"].to_numpy()
        assert 4.0 <= float(np.median(ratio)) <= 6.0
        # Wider for single reps: today's alignment is the unbalanced one the demo fixes.
        assert ((ratio > 2.5) & (ratio < 7.0)).all()
        comp = tomllib.loads((DEMO_DIR / "comp.toml").read_text(encoding="utf-8"))
        roles = {r: role["ote"] for role in comp["roles"].values() for r in role["rep_roles"]}
        b_tier = reps[reps["tier"] == "B"]
        assert (b_tier["ote"] == b_tier["role"].map(roles)).all()
        demo = (ROOT / "Makefile").read_text(encoding="utf-8").split("\ndemo:")[1]
        years = {int(y) for y in re.findall(r"--year (\d{4})", demo)}
        assert years == {comp["plan_year"]} and str(comp["plan_year"]) in comp["plan_id"]
