"""End to end: `territory value` then `territory stress` centres attainment on the model.

A world whose history comes from a known response curve, aligned, given quotas from potential,
stress-tested before and after `territory value` saved its model: without a model the files
are those of today's stress test, with one the reps' attainment follows the model's expected
sales, and `territory check` reads the new numbers.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from cli import EXIT_BAD_INPUT
from tests.commands import DEMO_COMP, align_args, invoke, write_tables
from tests.response_worlds import make_world

TABLES = ("stress_scenarios.csv", "rep_impact.csv", "sensitivity.csv", "payout_table.csv")


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 accounts, 16 reps of three tiers, quotas set from potential (10% over-assigned)."""
    folder = tmp_path_factory.mktemp("stress_model")
    world = make_world("adbudg", seed=5, n_accounts=400, n_reps=16)
    reps = world.reps.assign(role=["hunter", "account_manager"] * 8)
    write_tables(folder, world.accounts, reps)
    out = folder / "plan"
    done = invoke(align_args(folder, out, "--solver", "heuristic", "--time-limit", "10"))
    assert done.exit_code == 0, done.output
    quota = ["quota", "--plan", str(out), "--target", "14000000", "--method", "potential",
             "--over-assign", "0.10", "--quiet"]  # fmt: skip
    assert invoke(quota).exit_code == 0
    return out


def _stress(plan: Path, *extra: str) -> tuple[int, str]:
    args = ["--plan", str(plan), "--comp", str(DEMO_COMP), "--sims", "400", "--seed", "3"]
    done = invoke(["stress", *args, *extra])
    return done.exit_code, done.output


def _valued(plan: Path) -> Path:
    """The plan with a saved response model (`territory value`, once per module)."""
    if not (plan / "response.json").exists():
        done = invoke(["value", "--plan", str(plan), "--bootstrap", "20", "--sims", "200",
                       "--quiet"])  # fmt: skip
        assert done.exit_code == 0, done.output
    return plan


def _files(plan: Path) -> dict[str, bytes]:
    return {name: (plan / name).read_bytes() for name in (*TABLES, "stress.json")}


def _document(plan: Path) -> dict[str, object]:
    loaded = json.loads((plan / "stress.json").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_value_then_stress_centres_attainment_on_the_model(plan: Path) -> None:
    code, _ = _stress(plan, "--quiet")
    assert code == 0
    history = _files(plan)
    assert "expected_sales" not in _document(plan)  # no model: today's stress.json

    code, output = _stress(plan, "--expected-sales", "model")
    assert code == EXIT_BAD_INPUT and "territory value" in output and "Traceback" not in output
    assert _files(plan) == history  # nothing half-written

    code, _ = _stress(_valued(plan), "--expected-sales", "history", "--quiet")
    assert code == 0
    asked = _files(plan)
    assert {n: asked[n] for n in TABLES} == {n: history[n] for n in TABLES}
    document = _document(plan)
    record = document.pop("expected_sales")
    assert record == {"source": "history", "reason": "asked for (--expected-sales history)"}
    assert document == json.loads(history["stress.json"])

    code, output = _stress(plan)
    assert code == 0 and "response model's expected sales" in output
    record = _document(plan)["expected_sales"]
    assert isinstance(record, dict)
    assert record["source"] == "model" and record["model_source"] == "fitted"
    assert "fitted by territory value on these inputs" in record["reason"]
    impact = pd.read_csv(plan / "rep_impact.csv")
    assert (plan / "rep_impact.csv").read_bytes() != history["rep_impact.csv"]
    # The centre is the model's expected sales of value.csv, scaled to the forecast.
    value = pd.read_csv(plan / "value.csv")
    both = impact.merge(value, on="rep_id", validate="one_to_one")
    scale = both["expected_attainment"] * both["quota"] / both["expected_sales"]
    assert scale.std() / scale.mean() < 0.03
    assert scale.mean() == pytest.approx(14_000_000 / value["expected_sales"].sum(), rel=0.03)

    again = _files(plan)
    assert _stress(plan, "--quiet")[0] == 0
    assert _files(plan) == again  # same inputs, model and seed: the same bytes


def test_check_reads_the_models_attainment(plan: Path) -> None:
    assert _stress(_valued(plan), "--quiet")[0] == 0
    assert invoke(["check", "--plan", str(plan), "--no-fail", "--quiet"]).exit_code == 0
    checks = pd.read_csv(plan / "checks.csv").set_index("check_id")
    verdicts = _document(plan)["verdicts"]
    assert isinstance(verdicts, dict)
    assert checks.loc["C7", "value"] == pytest.approx(verdicts["expected_share_at_quota"])
    # C6 shows the number that decided it: the payout spread unless another part failed.
    c6 = checks.loc["C6"]
    if c6["metric"] == "largest distance from the median of E[payout / TI], standard rep":
        assert c6["value"] == pytest.approx(verdicts["payout_spread"])
    else:
        assert c6["status"] in ("FAIL", "WARN")
        assert c6["value"] == pytest.approx(verdicts["p_attain_spread"])


def test_a_model_fitted_on_other_inputs_is_not_used(plan: Path, tmp_path: Path) -> None:
    stale = tmp_path / "stale"
    shutil.copytree(_valued(plan), stale)
    model = json.loads((stale / "response.json").read_text())
    model["fitted_on"]["reps"] = "sha256:" + "0" * 64
    (stale / "response.json").write_text(json.dumps(model))

    code, output = _stress(stale, "--quiet")
    assert code == 0, output
    record = _document(stale)["expected_sales"]
    assert isinstance(record, dict)
    assert record["source"] == "history" and "the reps history changed" in record["reason"]
    code, output = _stress(stale, "--expected-sales", "model")
    assert code == EXIT_BAD_INPUT and "the reps history changed" in output


def test_an_unknown_source_is_a_usage_error(plan: Path) -> None:
    code, output = _stress(plan, "--expected-sales", "forecast")
    assert code == EXIT_BAD_INPUT and "auto, model, history" in output
