"""End-to-end runs of `territory value` and `territory size` on small worlds of known history."""

from __future__ import annotations

import html
import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli import EXIT_BAD_INPUT
from territory.domain.response import fit_response
from territory.domain.sizing import HIRING_COLUMNS, SIZING_COLUMNS
from territory.domain.value import VALUE_COLUMNS
from territory.io.outputs import read_marker
from tests.commands import ROOT, align_args, invoke, run_territory, write_tables
from tests.response_worlds import make_world

FAST = ["--bootstrap", "20", "--sims", "200"]


@pytest.fixture(scope="module")
def world_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 accounts and 16 reps whose revenue comes from a known S-shaped response curve."""
    folder = tmp_path_factory.mktemp("value")
    world = make_world("adbudg", seed=3, n_accounts=400, n_reps=16)
    write_tables(folder, world.accounts, world.reps)
    return folder


@pytest.fixture(scope="module")
def plan(world_files: Path) -> Path:
    out = world_files / "plan"
    done = invoke(align_args(world_files, out, "--solver", "heuristic", "--time-limit", "10"))
    assert done.exit_code == 0, done.output
    return out


def _bytes(folder: Path, *names: str) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in names}


def test_value_adds_its_files_and_reuses_the_model(plan: Path) -> None:
    done = invoke(["value", "--plan", str(plan), *FAST])
    assert done.exit_code == 0, done.output
    assert "uplift over the current alignment" in done.output
    rows = pd.read_csv(plan / "value.csv")
    assert tuple(rows.columns) == VALUE_COLUMNS
    assert len(rows) == 16
    assert (rows["sales_p10"] <= rows["sales_p50"]).all()
    assert (rows["sales_p50"] <= rows["sales_p90"]).all()
    summary = json.loads((plan / "value.json").read_text())
    total, uplift, fit = summary["total"], summary["uplift"], summary["fit"]
    assert total["p10"] <= total["p50"] <= total["p90"]
    assert total["expected"] == pytest.approx(rows["expected_sales"].sum())
    assert uplift["uplift_p10"] <= uplift["uplift_p50"] <= uplift["uplift_p90"]
    assert uplift["amount"] == pytest.approx(uplift["plan_expected"] - uplift["current_expected"])
    assert fit["source"] == "fitted" and 0.0 < fit["r2"] <= 1.0 and fit["cv_mape"] > 0.0
    model = json.loads((plan / "response.json").read_text())
    assert model["fitted_on"]["n_boot"] == 20 and model["fitted_on"]["accounts"].startswith(
        "sha256:"
    )
    marker = read_marker(plan)
    assert marker is not None
    assert {"value.csv", "value.json", "response.json", "assignments.csv"} <= set(marker["files"])

    first = _bytes(plan, "value.csv", "value.json", "response.json")
    again = invoke(["value", "--plan", str(plan), *FAST])
    assert again.exit_code == 0, again.output
    assert "saved model reused" in again.output
    assert _bytes(plan, "value.csv", "value.json", "response.json") == first

    refit = invoke(["value", "--plan", str(plan), "--bootstrap", "10", "--sims", "200"])
    assert refit.exit_code == 0 and "reused" not in refit.output
    assert json.loads((plan / "response.json").read_text())["fitted_on"]["n_boot"] == 10


def test_value_is_the_same_in_another_process(plan: Path, tmp_path: Path) -> None:
    done = run_territory("value", "--plan", plan, "--quiet", *FAST)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert json.loads((plan / "value.json").read_text())["settings"]["n_sims"] == 200


def test_history_without_coverage_variation_is_refused(world_files: Path, tmp_path: Path) -> None:
    accounts = pd.read_csv(world_files / "accounts.csv")
    reps = pd.read_csv(world_files / "reps.csv")
    held = accounts.groupby("current_rep")["workload"].sum()
    reps["capacity"] = reps["rep_id"].map(held).round(1) * 1.2  # every rep loaded alike
    write_tables(tmp_path, accounts, reps)
    out = tmp_path / "flat"
    assert invoke(align_args(tmp_path, out, "--solver", "heuristic", "--soft")).exit_code == 0
    refused = invoke(["value", "--plan", str(out), *FAST])
    assert refused.exit_code == EXIT_BAD_INPUT, refused.output
    assert "--literature-defaults" in refused.output and "Traceback" not in refused.output
    assert not (out / "value.csv").exists() and not (out / "response.json").exists()

    done = invoke(["value", "--plan", str(out), "--literature-defaults", *FAST])
    assert done.exit_code == 0, done.output
    assert "warning" in done.output and "literature" in done.output
    summary = json.loads((out / "value.json").read_text())
    assert summary["fit"]["source"] == "literature"
    assert any("literature defaults" in w for w in summary["warnings"])


def test_value_adds_only_to_run_folders(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    done = invoke(["value", "--plan", str(tmp_path)])
    assert done.exit_code == EXIT_BAD_INPUT
    assert "was not written by territory" in done.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def _size_args(folder: Path, out: Path, *extra: str) -> list[str]:
    return [
        "size", "--accounts", str(folder / "accounts.csv"), "--reps", str(folder / "reps.csv"),
        "--target", "14000000", "--out", str(out), "--bootstrap", "10", "--time-limit", "5",
        "--quiet", *extra,
    ]  # fmt: skip


def test_size_writes_the_curve_and_the_hiring_plan(world_files: Path, tmp_path: Path) -> None:
    out = tmp_path / "size"
    done = invoke(
        _size_args(world_files, out, "--min-reps", "12", "--max-reps", "20", "--step", "4")
    )
    assert done.exit_code == 0, done.output
    table = pd.read_csv(out / "sizing.csv")
    assert tuple(table.columns) == SIZING_COLUMNS
    assert table["headcount"].tolist() == [12, 16, 20]
    assert (table["sales_p10"] <= table["sales_p50"]).all()
    assert (table["sales_p50"] <= table["sales_p90"]).all()
    assert table["cost"].tolist() == [12 * 150_000.0, 16 * 150_000.0, 20 * 150_000.0]
    assert table["expected_sales"].is_monotonic_increasing  # more seats, more coverage
    summary = json.loads((out / "sizing.json").read_text())
    assert summary["current_headcount"] == 16
    lo, hi = summary["flat_range"]
    assert lo <= summary["headcount_max_contribution"] <= hi
    meets = table.loc[table["sales_p50"] >= 14_000_000, "headcount"]
    assert summary["smallest_headcount_meeting_target"] == (meets.min() if len(meets) else None)
    hiring = pd.read_csv(out / "hiring_plan.csv")
    assert tuple(hiring.columns) == HIRING_COLUMNS and len(hiring) == 24
    assert summary["hiring"]["headcount"] >= 0
    assert read_marker(out) is not None and (out / "response.json").exists()

    again = tmp_path / "again"
    assert invoke(_size_args(world_files, again, "--min-reps", "12", "--max-reps", "20",
                             "--step", "4")).exit_code == 0  # fmt: skip
    names = ("sizing.csv", "sizing.json", "hiring_plan.csv", "response.json", "sizing.png")
    assert _bytes(out, *names) == _bytes(again, *names)


def test_size_draws_the_curve_and_report_renders_its_page(
    world_files: Path, tmp_path: Path
) -> None:
    out = tmp_path / "size"
    done = invoke(
        _size_args(world_files, out, "--min-reps", "12", "--max-reps", "20", "--step", "4")
    )
    assert done.exit_code == 0, done.output
    assert (out / "sizing.png").read_bytes().startswith(b"\x89PNG")
    page = html.unescape((out / "report.html").read_text(encoding="utf-8"))
    summary = json.loads((out / "sizing.json").read_text())
    for said in ('id="sizing-chart"', 'id="sizing-recommendation"', 'id="hiring-plan"',
                 "Headcount of the largest contribution", "data:image/png;base64,"):  # fmt: skip
        assert said in page, said
    lo, hi = summary["flat_range"]
    assert f"{lo} to {hi}" in page
    # `territory report` on the sizing folder renders the page again (not a run-folder error).
    (out / "report.html").unlink()
    again = invoke(["report", "--plan", str(out)])
    assert again.exit_code == 0, again.output
    redrawn = html.unescape((out / "report.html").read_text(encoding="utf-8"))
    assert 'id="sizing-chart"' in redrawn and f"{lo} to {hi}" in redrawn


def test_size_refuses_before_any_work(world_files: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "budget.xlsx").write_text("not ours")
    done = invoke(_size_args(world_files, mine))
    assert done.exit_code == EXIT_BAD_INPUT and "budget.xlsx" in done.output
    assert sorted(p.name for p in mine.iterdir()) == ["budget.xlsx"]
    for extra, said in (
        (["--roles", "astronaut"], "no rep has that role"),
        (["--min-reps", "9", "--max-reps", "9"], "at least two headcounts"),
        (["--ramp", "0,2"], "--ramp"),
        (["--margin", "1.5"], "--margin"),
    ):
        done = invoke(_size_args(world_files, tmp_path / "new", *extra))
        assert done.exit_code == EXIT_BAD_INPUT, (extra, done.output)
        assert said in done.output and "Traceback" not in done.output
        assert not (tmp_path / "new").exists()


def test_demo_history_comes_from_its_hidden_curve() -> None:
    """The shipped demo's revenue follows data/make_demo.py's curve, and a fit finds its slope."""
    spec = importlib.util.spec_from_file_location("make_demo", ROOT / "data" / "make_demo.py")
    assert spec is not None and spec.loader is not None
    make_demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_demo)
    accounts = pd.read_csv(ROOT / "data/demo/accounts.csv", dtype={"current_rep": str})
    reps = pd.read_csv(ROOT / "data/demo/reps.csv")
    model = fit_response(accounts, reps, n_boot=0, folds=0, seed=1)
    assert model.quality.r2 > 0.8
    low, high = model.coverage_central
    fitted = model.curve(np.array([low, high]))
    truth = make_demo.hidden_response(np.array([low, high]))
    # The gain from the least to the most covered reps, which realignment and sizing trade on.
    assert fitted[1] / fitted[0] == pytest.approx(truth[1] / truth[0], rel=0.10)
