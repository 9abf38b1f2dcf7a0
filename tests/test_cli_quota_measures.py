"""End to end: `territory quota --comp` fills quota_to_ote and splits quotas per measure."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from territory.domain.comp import parse_comp
from territory.io.config_files import load_comp
from tests.commands import DEMO_COMP, aligned_plan, invoke


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300-account, 6-rep plan aligned by the CLI."""
    return aligned_plan(tmp_path_factory.mktemp("measures"), 300, 6, seed=5)


def quota(plan: Path, *extra: str) -> str:
    done = invoke(["quota", "--plan", str(plan), "--target", "3000000", "--year", "2027", *extra])
    assert done.exit_code == 0, done.output
    return done.output


def stress(plan: Path) -> dict[str, object]:
    done = invoke(
        ["stress", "--plan", str(plan), "--comp", str(DEMO_COMP), "--sims", "200", "--quiet"]
    )
    assert done.exit_code == 0, done.output
    return dict(json.loads((plan / "stress.json").read_text()))


def test_quotas_per_measure_add_up_and_reach_the_stress_test(plan: Path) -> None:
    quota(plan, "--comp", str(DEMO_COMP))
    annual = pd.read_csv(plan / "quotas_annual.csv")
    reps = pd.read_parquet(plan / "input_reps.parquet")
    comp = load_comp(DEMO_COMP)
    ote = reps["role"].map({v: r.ote for r in comp.roles.values() for v in r.rep_roles})
    expected = annual["final_annual_quota"].to_numpy() / ote.to_numpy()
    assert annual["quota_to_ote"].to_numpy() == pytest.approx(expected)

    split = pd.read_csv(plan / "quotas_by_measure.csv")
    per_rep = split.groupby("rep_id")["final_annual_quota"].sum()
    total = annual.set_index("rep_id")["final_annual_quota"]
    assert np.rint(per_rep.reindex(total.index) * 100).tolist() == np.rint(total * 100).tolist()
    for rep_id, role in zip(reps["rep_id"], reps["role"], strict=True):
        paid = [m.name for m in comp.role_for(role).measures]
        assert split.loc[split["rep_id"] == rep_id, "measure"].tolist() == paid
    # quotas.csv: a row per rep, measure and quarter, adding up to the street total.
    rows = pd.read_csv(plan / "quotas.csv")
    assert len(rows) == 4 * len(split)
    assert round(rows["period_quota"].sum(), 2) == 3_300_000.00

    done = stress(plan)
    assert done["quota_by_measure"] == {
        str(k): pytest.approx(v)
        for k, v in split.groupby("measure")["final_annual_quota"].sum().items()
    }


def test_a_split_left_by_an_earlier_run_is_not_read(plan: Path) -> None:
    quota(plan, "--comp", str(DEMO_COMP))
    quota(plan, "--over-assign", "0.2")  # no comp plan: the old split no longer adds up
    assert (plan / "quotas_by_measure.csv").exists()
    assert "quota_by_measure" not in stress(plan)
    assert pd.read_csv(plan / "quotas_annual.csv")["quota_to_ote"].isna().all()


def test_a_split_for_another_comp_plan_is_refused(plan: Path, tmp_path: Path) -> None:
    quota(plan, "--comp", str(DEMO_COMP))
    renamed = DEMO_COMP.read_text(encoding="utf-8").replace("expansion_bookings", "upsell")
    parse_comp(tomllib.loads(renamed), "other.toml")  # still a valid plan
    other = tmp_path / "other.toml"
    other.write_text(renamed, encoding="utf-8")
    done = invoke(["stress", "--plan", str(plan), "--comp", str(other), "--sims", "200"])
    assert done.exit_code == 2, done.output
    assert "quotas_by_measure.csv" in done.output and "expansion_bookings" in done.output
    assert "Traceback" not in done.output


def test_fallback_warning_names_the_column(plan: Path) -> None:
    said = " ".join(quota(plan).split())
    assert "have no last year's quota" in said and "quota_last_year" in said
