"""Tests for territory.rendering.compare: key figures side by side, the assignment diff and the
page.

Runs come from the real CLI on :func:`make_instance` data, so the comparison reads exactly the
files users have: ``base`` went through align, quota, stress and check; ``loose`` and the
oddly named ``sticky <&>`` were only aligned, with other balance and disruption settings.
"""

from __future__ import annotations

import json
import os
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import territory.rendering.compare.maps as compare_maps
from cli import app
from territory.domain.metrics import METRICS
from territory.domain.synthetic import make_instance
from territory.errors import DataValidationError, ScenarioError
from territory.io.runs import PlanFolder
from territory.rendering.compare import (
    ComparisonResult,
    assignment_diff,
    compare_runs,
    comparison_html,
    comparison_maps,
    kpi_specs,
    load_runs,
    plan_array,
    run_names,
    shared_rep_colours,
    write_comparison,
)
from territory.rendering.compare.kpis import VALUE_KPIS, value_kpis
from territory.rendering.report import MAP_PALETTE
from tests.browser import find_chromium, inspect_page
from tests.commands import DEMO_COMP as COMP
from tests.commands import run_territory
from tests.instances import EVIL

runner = CliRunner()
ODD_NAME = "sticky <&>"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _cli(*args: str) -> None:
    done = runner.invoke(app, list(args))
    assert done.exit_code == 0, done.output


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three runs of one 300-account, 6-rep instance; names of accounts and a rep are attacks."""
    root = tmp_path_factory.mktemp("compare")
    accounts, reps = make_instance(300, 6, seed=5)
    accounts["name"] = [f"{EVIL} {i}" for i in range(len(accounts))]
    reps["name"] = [f"Rep {i}" for i in range(len(reps))]
    reps.loc[0, "name"] = EVIL
    accounts.to_csv(root / "accounts.csv", index=False)
    reps.to_csv(root / "reps.csv", index=False)
    settings = {
        "base": ("--balance", "0.05"),
        "loose": ("--balance", "0.10", "--disruption-weight", "0.05"),
        ODD_NAME: ("--balance", "0.08", "--disruption-weight", "1.0"),
    }
    out = []
    for name, extra in settings.items():
        folder = root / name
        _cli(
            "align", "--accounts", str(root / "accounts.csv"), "--reps", str(root / "reps.csv"),
            "--out", str(folder), "--quiet", "--solver", "heuristic", *extra,
        )  # fmt: skip
        out.append(folder)
    base = out[0]
    _cli("quota", "--plan", str(base), "--target", "10000000", "--quiet")
    _cli(
        "stress", "--plan", str(base), "--comp", str(COMP), "--sims", "300", "--seed", "3",
        "--quiet",
    )  # fmt: skip
    _cli("check", "--plan", str(base), "--quiet", "--no-fail")
    return out


@pytest.fixture(scope="module")
def runs(folders: list[Path]) -> list[PlanFolder]:
    return load_runs(folders)


@pytest.fixture(scope="module")
def result(runs: list[PlanFolder]) -> ComparisonResult:
    return compare_runs(runs)


@pytest.fixture(scope="module")
def html(result: ComparisonResult, runs: list[PlanFolder]) -> str:
    return comparison_html(result, runs)


def _solve(folder: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((folder / "solve.json").read_text(encoding="utf-8"))
    return loaded


def _figures_by_hand(folder: Path, tier_factors: dict[str, float]) -> dict[str, float]:
    """The plan figures of a run from its raw inputs, without territory.domain.metrics."""
    accounts = pd.read_csv(folder.parent / "accounts.csv", dtype={"account_id": str})
    reps = pd.read_csv(folder.parent / "reps.csv", dtype={"rep_id": str}).set_index("rep_id")
    rep_of = pd.read_parquet(folder / "plan.parquet").set_index("account_id")["rep_id"]
    rep = accounts["account_id"].map(rep_of)
    assert rep.notna().all()
    home = reps.loc[rep]
    lat1, lat2 = np.radians(accounts["lat"].to_numpy()), np.radians(home["lat"].to_numpy())
    dlon = np.radians(home["lon"].to_numpy() - accounts["lon"].to_numpy())
    half = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin(dlon / 2) ** 2
    km = 2 * 6371.0088 * np.arcsin(np.sqrt(half))
    current = accounts["current_rep"].fillna("").astype(str)
    moved = (current != "") & (current != rep.astype(str))
    weight = reps["capacity"] * reps["tier"].map(tier_factors)
    potential_target = accounts["potential"].sum() * weight / weight.sum()
    workload_target = accounts["workload"].sum() * reps["capacity"] / reps["capacity"].sum()
    totals = accounts.groupby(rep.to_numpy())[["potential", "workload"]].sum()
    totals = totals.reindex(reps.index, fill_value=0.0)
    return {
        "max_potential_deviation": float((totals["potential"] / potential_target - 1).abs().max()),
        "max_workload_deviation": float((totals["workload"] / workload_target - 1).abs().max()),
        "travel_hour_km": float((accounts["workload"].to_numpy() * km).sum()),
        "mean_distance_km": float(km.mean()),
        "accounts_moved": float(moved.sum()),
        "potential_moved": float(accounts.loc[moved, "potential"].sum()),
        "revenue_moved": float(accounts.loc[moved, "revenue_last_year"].sum()),
        "max_utilization": float((totals["workload"] / reps["capacity"]).max()),
    }


class TestSyntheticCompare:
    def test_table_layout(self, result: ComparisonResult) -> None:
        assert result.names == ("base", "loose", ODD_NAME)
        assert list(result.kpis.columns) == ["kpi", "label", "unit", *result.names, "note"]
        assert list(result.kpis["kpi"]) == [k.key for k in kpi_specs()]
        assert list(result.kpis["kpi"])[: len(METRICS)] == list(METRICS)

    def test_plan_figures_equal_the_per_run_metrics(
        self, result: ComparisonResult, folders: list[Path]
    ) -> None:
        """Each plan figure, recomputed here from the input CSVs and plan.parquet by hand."""
        for name, folder in zip(result.names, folders, strict=True):
            solve = _solve(folder)
            expected = _figures_by_hand(folder, solve["parameters"]["tier_factors"])
            assert set(expected) == set(METRICS)
            for metric, value in expected.items():
                # Deviations and utilisation are rounded to 6 decimals in territories.csv.
                assert result.value(metric, name) == pytest.approx(value, rel=1e-9, abs=1e-6), (
                    name,
                    metric,
                )
                assert result.value(metric, name) == pytest.approx(
                    solve["metrics"][metric], rel=1e-9, abs=1e-9
                ), (name, metric)

    def test_runs_really_differ(self, result: ComparisonResult) -> None:
        moved = [result.value("accounts_moved", n) for n in result.names]
        assert len(set(moved)) > 1

    def test_quota_stress_and_checks_come_from_the_folder(
        self, result: ComparisonResult, folders: list[Path]
    ) -> None:
        base = folders[0]
        quotas = pd.read_parquet(base / "quotas.parquet")
        ratio = quotas["final_annual_quota"] / quotas["potential"]
        cv = float(ratio.std(ddof=0) / ratio.mean())
        assert result.value("quota_spread", "base") == pytest.approx(cv, rel=1e-12)
        stress = json.loads((base / "stress.json").read_text(encoding="utf-8"))
        assert result.value("share_at_quota", "base") == pytest.approx(
            stress["verdicts"]["expected_share_at_quota"]
        )
        scenarios = pd.read_csv(base / "stress_scenarios.csv")
        at_plan = scenarios[np.isclose(scenarios["company_attainment_x"], 1.0)].iloc[0]
        assert result.value("incentive_to_ti", "base") == pytest.approx(
            at_plan["incentive_to_ti_budget_p50"]
        )
        assert result.value("ccos", "base") == pytest.approx(at_plan["ccos_p50"])
        counts = pd.read_csv(base / "checks.csv")["status"].value_counts()
        for key, status in (
            ("checks_pass", "PASS"),
            ("checks_warn", "WARN"),
            ("checks_fail", "FAIL"),
            ("checks_not_assessable", "NOT_ASSESSABLE"),
        ):
            assert result.value(key, "base") == counts.get(status, 0)

    def test_missing_pieces_are_blank_with_the_reason(
        self, result: ComparisonResult, folders: list[Path]
    ) -> None:
        loose = folders[1].as_posix()
        for key, command in (
            ("quota_spread", f"territory quota --plan {loose}"),
            ("share_at_quota", f"territory stress --plan {loose}"),
            ("ccos", f"territory stress --plan {loose}"),
            ("checks_fail", f"territory check --plan {loose}"),
        ):
            assert result.value(key, "loose") is None
            reason = result.reason(key, "loose")
            assert reason is not None and command in reason
            note = str(result.kpis.set_index("kpi").loc[key, "note"])
            assert f"loose: {reason}" in note and "base:" not in note
        assert result.reason("accounts_moved", "loose") is None
        for key in VALUE_KPIS:  # no run here was valued
            assert result.value(key, "loose") is None
            assert f"territory value --plan {loose}" in str(result.reason(key, "loose"))

    def test_solve_rows(self, result: ComparisonResult, folders: list[Path]) -> None:
        for name, folder in zip(result.names, folders, strict=True):
            solve = _solve(folder)
            assert result.value("solve_status", name) == solve["status"]
            assert result.value("solve_backend", name) == solve["backend"]
            assert result.value("solve_seconds", name) == solve["seconds"]
            assert result.value("solve_gap", name) == solve["gap"]

    def test_diff_lists_exactly_the_differing_accounts(
        self, result: ComparisonResult, folders: list[Path]
    ) -> None:
        plans = [
            pd.read_parquet(f / "plan.parquet").set_index("account_id")["rep_id"] for f in folders
        ]
        frame = pd.concat(plans, axis=1, keys=result.names)
        expected = frame.index[frame.nunique(axis=1) > 1]
        diff = result.assignment_diff
        assert len(expected) > 0
        assert list(diff["account_id"]) == list(expected)
        assert diff["changed"].all()
        for name in result.names:
            assert (diff[name].to_numpy() == frame.loc[expected, name].to_numpy()).all()
        assert list(diff.columns) == [
            "account_id", "name", "potential", "current_rep", *result.names, "changed",
        ]  # fmt: skip

    def test_diff_of_every_account(self, runs: list[PlanFolder], result: ComparisonResult) -> None:
        full = assignment_diff(runs, only_changed=False)
        assert len(full) == len(runs[0].accounts)
        assert int(full["changed"].sum()) == len(result.assignment_diff)
        same = assignment_diff([runs[0], runs[0]], ["a", "b"])
        assert same.empty

    def test_diff_counts_an_account_missing_from_a_run(self, runs: list[PlanFolder]) -> None:
        first = runs[0]
        smaller = PlanFolder(
            path=first.path,
            accounts=first.accounts.iloc[1:].reset_index(drop=True),
            reps=first.reps,
            plan=first.plan.iloc[1:].reset_index(drop=True),
            territories=first.territories,
            solve=first.solve,
        )
        diff = assignment_diff([first, smaller], ["all", "fewer"])
        assert list(diff["account_id"]) == [str(first.accounts["account_id"].iloc[0])]
        assert diff["fewer"].iloc[0] is None

    def test_run_names_are_unique(self, runs: list[PlanFolder], tmp_path: Path) -> None:
        twins = [runs[0], runs[0], runs[1]]
        assert run_names(twins) == ("base", "base (2)", "loose")
        reserved = PlanFolder(
            path=tmp_path / "kpi",
            accounts=runs[0].accounts,
            reps=runs[0].reps,
            plan=runs[0].plan,
            territories=runs[0].territories,
            solve=runs[0].solve,
        )
        assert run_names([reserved]) == ("kpi (2)",)

    def test_written_files_are_byte_identical(
        self, result: ComparisonResult, html: str, folders: list[Path], tmp_path: Path
    ) -> None:
        """This process and another (``territory compare``) write the same bytes."""
        first = write_comparison(tmp_path / "one", result, html)
        second = tmp_path / "two"
        done = run_territory("compare", *folders, "--out", second, "--quiet")
        assert done.returncode == 0, done.stderr
        names = sorted(p.name for p in Path(first).iterdir())
        assert names == [
            ".territory-run.json",
            "assignment_diff.csv",
            "comparison.csv",
            "comparison.html",
        ]
        for name in names:
            assert (Path(first) / name).read_bytes() == (Path(second) / name).read_bytes()
        table = pd.read_csv(Path(first) / "comparison.csv")
        assert list(table.columns) == list(result.kpis.columns)
        moved = table.set_index("kpi")["base"]["accounts_moved"]
        assert float(str(moved)) == result.value("accounts_moved", "base")

    def test_maps_share_extent_and_colours(
        self, runs: list[PlanFolder], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        drawn: list[tuple[Any, Any]] = []

        def record(data: Any, box: Any, *args: Any, **kwargs: Any) -> bytes:
            drawn.append((data, box))
            return b""

        monkeypatch.setattr(compare_maps, "_map_panel", record)
        comparison_maps(runs)
        colours = shared_rep_colours(runs)
        assert set(colours) == set(runs[0].reps["rep_id"].astype(str))
        assert set(colours.values()) <= set(MAP_PALETTE)
        assert len(drawn) == len(runs)
        assert all(box == drawn[0][1] for _, box in drawn)
        for (data, _), run in zip(drawn, runs, strict=True):
            reps = plan_array(run)
            assert list(data.colour) == [colours[r] for r in reps]
            assert data.home_colour == [colours[r] for r in run.reps["rep_id"].astype(str)]

    def test_page_is_self_contained(self, html: str, runs: list[PlanFolder]) -> None:
        assert html.startswith("<!DOCTYPE html>")
        assert "<script" not in html.lower()
        assert "http://" not in html and "https://" not in html
        assert "url(" not in html
        links = re.findall(r'\s(?:src|href|action|srcset|poster)="([^"]*)"', html)
        assert links
        assert all(link.startswith(("data:image/png;base64,", "#")) for link in links)
        maps = re.search(r'<section id="maps">(.*?)</section>', html, re.S)
        assert maps is not None
        images = re.findall(r'<img [^>]*src="data:image/png;base64,([^"]*)"', maps.group(1))
        assert len(images) == len(runs)
        diff = re.search(r'<section id="diff">(.*?)</section>', html, re.S)
        assert diff is not None and 'id="diff-map-0"' in diff.group(1)
        import base64

        sizes = set()
        for data in images:
            png = base64.b64decode(data)
            assert png.startswith(PNG_SIGNATURE)
            sizes.add(struct.unpack(">II", png[16:24]))
        assert len(sizes) == 1  # same extent: small multiples of one size

    def test_page_escapes_names(self, html: str) -> None:
        assert EVIL not in html
        assert "sticky &lt;&amp;&gt;" in html
        assert ODD_NAME not in html
        assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in html
        assert 'id="kpi-table"' in html and 'id="diff-matrix"' in html

    def test_page_is_deterministic(
        self, result: ComparisonResult, runs: list[PlanFolder], html: str
    ) -> None:
        assert comparison_html(compare_runs(runs), runs) == html
        assert html == comparison_html(result, runs)

    def test_page_marks_blanks_and_best(self, html: str) -> None:
        assert 'class="num blank"' in html
        assert 'class="num best"' in html
        assert "territory quota --plan" in html


CHROMIUM = find_chromium()
needs_browser = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="Chromium is not installed (Debian: apt-get install chromium; `make test` does it)",
)


VALUE_DOCUMENT: dict[str, Any] = {
    "total": {"expected": 1_010.0, "p10": 800.0, "p50": 1_000.0, "p90": 1_250.0, "cost": 300.0},
    "uplift": {"uplift": 0.031, "uplift_p10": 0.01, "uplift_p50": 0.03, "uplift_p90": 0.05},
    "settings": {"margin": 0.6, "rep_cost": 150.0},
    "warnings": [],
}
"""A value.json as `territory value` writes it (the figures the KPIs read)."""


class TestSyntheticValueKpis:
    def test_figures_are_the_p50s_and_the_interval(self) -> None:
        got = value_kpis(VALUE_DOCUMENT, "unused")
        assert {key: value for key, (value, _why) in got.items()} == {
            "expected_sales": 1_000.0,
            "expected_sales_p10": 800.0,
            "expected_sales_p90": 1_250.0,
            "uplift": 0.03,
            "uplift_p10": 0.01,
            "uplift_p90": 0.05,
            "contribution": pytest.approx(1_000.0 * 0.6 - 300.0),
            "margin": 0.6,
            "rep_cost": 150.0,
        }
        assert all(why is None for _value, why in got.values())

    def test_no_document_blanks_every_figure_with_the_reason(self) -> None:
        got = value_kpis(None, "value step skipped: too few reps")
        assert got == dict.fromkeys(VALUE_KPIS, (None, "value step skipped: too few reps"))

    def test_no_uplift_says_why_and_keeps_the_sales(self) -> None:
        why = "no uplift: the accounts carry no current_rep column (today's alignment)"
        document = {**VALUE_DOCUMENT, "uplift": None, "warnings": ["extrapolated", why]}
        got = value_kpis(document, "unused")
        assert got["uplift"] == got["uplift_p90"] == (None, why)
        assert got["expected_sales"] == (1_000.0, None)

    @pytest.mark.parametrize("broken", [{"cost": None}, {"p50": float("nan")}, {"p50": True}])
    def test_a_figure_never_made_up(self, broken: dict[str, Any]) -> None:
        document = {**VALUE_DOCUMENT, "total": {**VALUE_DOCUMENT["total"], **broken}}
        value, why = value_kpis(document, "unused")["contribution"]
        assert value is None and why is not None


class TestRealWorldCompare:
    @needs_browser
    def test_page_loads_clean_in_chromium(
        self, result: ComparisonResult, html: str, tmp_path: Path
    ) -> None:
        folder = write_comparison(tmp_path / "cmp", result, html)
        report = inspect_page(
            Path(folder) / "comparison.html",
            expressions={
                "images": "Array.from(document.images).filter(i => i.naturalWidth > 0).length",
                "maps": "document.querySelectorAll('#maps img').length",
                "diff": "Array.from(document.querySelectorAll('#diff figure img'))"
                ".map(i => i.clientWidth)",
                "scripts": "document.scripts.length",
            },
        )
        assert report.console_errors == []
        assert report.external_requests == []
        assert report.values["maps"] == len(result.names)
        # The map of the accounts that differ fills the page's width, to be read.
        assert 1 <= len(report.values["diff"]) <= 2 and min(report.values["diff"]) >= 1000
        assert report.values["images"] == len(result.names) + len(report.values["diff"])
        assert report.values["scripts"] == 0


class TestErrorsCompare:
    def test_every_bad_folder_is_named_at_once(self, folders: list[Path], tmp_path: Path) -> None:
        half = tmp_path / "half"
        half.mkdir()
        (half / "solve.json").write_text("{}", encoding="utf-8")
        with pytest.raises(DataValidationError) as caught:
            load_runs([folders[0], tmp_path / "nowhere", half])
        text = str(caught.value)
        assert "nowhere" in text and "half" in text and "plan.parquet" in text

    def test_output_may_not_replace_a_run(
        self, result: ComparisonResult, folders: list[Path]
    ) -> None:
        for out in (folders[1], folders[1].parent):
            with pytest.raises(ScenarioError, match="would replace the run folder"):
                write_comparison(out, result, "<html></html>")
        assert (folders[1] / "plan.parquet").exists()

    def test_no_runs(self) -> None:
        with pytest.raises(ValueError, match="at least one run folder"):
            compare_runs([])

    def test_page_needs_the_same_runs(
        self, result: ComparisonResult, runs: list[PlanFolder]
    ) -> None:
        with pytest.raises(ValueError, match="compares 3 runs but 2 were given"):
            comparison_html(result, runs[:2], maps=[b"", b""])
