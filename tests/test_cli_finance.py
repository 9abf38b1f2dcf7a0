"""End-to-end runs of the finance commands: quota, stress and payout on an aligned plan."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from cli import EXIT_BAD_INPUT, app
from tests.commands import DEMO_COMP as COMP
from tests.commands import run_territory, small_plan

runner = CliRunner()


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300-account, 6-rep plan aligned by the CLI, as `make demo` does it."""
    return small_plan(tmp_path_factory.mktemp("finance"))


class TestSyntheticFinanceCli:
    def test_quota_conserves_the_street_total(self, plan: Path) -> None:
        done = runner.invoke(
            app,
            ["quota", "--plan", str(plan), "--target", "10000000", "--method", "blend",
             "--over-assign", "0.10", "--year", "2027"],
        )  # fmt: skip
        assert done.exit_code == 0, done.output
        quotas = pd.read_csv(plan / "quotas.csv")
        assert set(quotas["period"]) == {"q1", "q2", "q3", "q4"}
        assert len(quotas) == 6 * 4
        # Conservation to the cent: 10,000,000 x 1.10.
        assert round(quotas["period_quota"].sum(), 2) == 11_000_000.00
        annual = quotas.groupby("rep_id")["annual_quota"].first()
        assert round(annual.sum(), 2) == 11_000_000.00
        for column in ("method", "potential", "history_basis", "yoy_change_pct"):
            assert column in quotas.columns
        summary = json.loads((plan / "quota_summary.json").read_text())
        assert summary["summary"]["street_total"] == pytest.approx(11_000_000.0)
        # The alignment's files are still there: quota adds to the run folder.
        assert (plan / "assignments.csv").exists() and (plan / "solve.json").exists()

    def test_stress_writes_finance_outputs(self, plan: Path) -> None:
        runner.invoke(app, ["quota", "--plan", str(plan), "--target", "10000000", "--quiet"])
        done = runner.invoke(
            app,
            ["stress", "--plan", str(plan), "--comp", str(COMP), "--sims", "400", "--seed", "3",
             "--quiet"],
        )  # fmt: skip
        assert done.exit_code == 0, done.output
        scenarios = pd.read_csv(plan / "stress_scenarios.csv")
        levels = scenarios["company_attainment_x"].dropna().round(2).tolist()
        assert levels[:9] == [0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15, 1.2]
        for stat in ("incentive", "ccos"):
            low, mid, high = (scenarios[f"{stat}_p{p}"] for p in (10, 50, 90))
            assert (low <= mid + 1e-9).all() and (mid <= high + 1e-9).all()
        # More company revenue never lowers the median incentive cost.
        p50 = scenarios["incentive_p50"].iloc[:9].to_numpy()
        assert (p50[1:] >= p50[:-1] - 1e-6).all()
        for name in ("sensitivity.csv", "rep_impact.csv", "payout_table.csv", "stress.json"):
            assert (plan / name).exists(), name
        for chart in ("attainment_distribution.png", "payout_curve.png", "cost_vs_attainment.png"):
            assert (plan / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        workbook = load_workbook(plan / "finance.xlsx")
        assert {"stress_scenarios", "sensitivity", "rep_impact", "payout_table"} <= set(
            workbook.sheetnames
        )
        sheet = workbook["stress_scenarios"]
        assert sheet.freeze_panes == "A2"
        assert sheet["A1"].font.bold
        assert json.loads((plan / "stress.json").read_text())["seed"] == 3

    def test_stress_is_reproducible_with_a_seed(self, plan: Path) -> None:
        """Two separate processes, the default seed: the same tables and workbook, byte for byte."""
        runner.invoke(app, ["quota", "--plan", str(plan), "--target", "10000000", "--quiet"])
        args = ["stress", "--plan", str(plan), "--comp", str(COMP), "--sims", "300", "--quiet"]
        names = ("stress_scenarios.csv", "sensitivity.csv", "rep_impact.csv", "finance.xlsx")
        runs = []
        for _ in range(2):
            done = run_territory(*args)
            assert done.returncode == 0, done.stderr
            runs.append({name: (plan / name).read_bytes() for name in names})
        assert runs[0] == runs[1]

    def test_payout_prints_earnings(self, tmp_path: Path) -> None:
        done = runner.invoke(
            app, ["payout", "--comp", str(COMP), "--attainment", "1.15", "--out", str(tmp_path)]
        )
        assert done.exit_code == 0, done.output
        assert "hunter" in done.output
        table = pd.read_csv(tmp_path / "payout_table.csv")
        assert table["attainment"].max() == pytest.approx(2.0)


class TestErrorsFinanceCli:
    def test_stress_without_quotas_says_what_to_run(self, tmp_path: Path, plan: Path) -> None:
        bare = tmp_path / "bare"
        bare.mkdir()
        for name in ("input_accounts.parquet", "input_reps.parquet", "plan.parquet"):
            (bare / name).write_bytes((plan / name).read_bytes())
        (bare / "solve.json").write_text((plan / "solve.json").read_text())
        (bare / "territories.csv").write_text((plan / "territories.csv").read_text())
        done = runner.invoke(app, ["stress", "--plan", str(bare), "--comp", str(COMP)])
        assert done.exit_code == EXIT_BAD_INPUT
        assert "territory quota" in done.output

    def test_quota_on_a_folder_that_is_not_a_plan(self, tmp_path: Path) -> None:
        done = runner.invoke(app, ["quota", "--plan", str(tmp_path), "--target", "100"])
        assert done.exit_code == EXIT_BAD_INPUT
        assert "territory align" in done.output

    def test_bad_comp_file_is_rejected(self, plan: Path, tmp_path: Path) -> None:
        bad = tmp_path / "comp.toml"
        bad.write_text(COMP.read_text().replace("weight = 0.6", "weight = 0.7"))
        runner.invoke(app, ["quota", "--plan", str(plan), "--target", "10000000", "--quiet"])
        done = runner.invoke(app, ["stress", "--plan", str(plan), "--comp", str(bad)])
        assert done.exit_code == EXIT_BAD_INPUT
        assert "weight" in done.output


class TestChecksCli:
    def test_check_writes_every_statement_and_gates_on_fail(
        self, plan: Path, tmp_path: Path
    ) -> None:
        runner.invoke(app, ["quota", "--plan", str(plan), "--target", "10000000", "--quiet"])
        stressed = runner.invoke(
            app, ["stress", "--plan", str(plan), "--comp", str(COMP), "--sims", "300", "--quiet"]
        )
        assert stressed.exit_code == 0, stressed.output
        assert (plan / "comp_plan.toml").read_text() == COMP.read_text()
        done = runner.invoke(app, ["check", "--plan", str(plan), "--quiet"])
        checks = pd.read_csv(plan / "checks.csv")
        assert sorted(checks["check_id"]) == sorted(
            [f"T{i}" for i in range(1, 11)] + [f"C{i}" for i in range(1, 11)]
        )
        failed = (checks["status"] == "FAIL").any()
        assert done.exit_code == (1 if failed else 0)
        assert "not assessable" in done.output
        # PASS only where a value was measured.
        passed = checks[checks["status"] == "PASS"]
        assert passed["value"].notna().all()
        # A utilisation cap no rep can meet fails T1 on any plan: exit 1, or 0 with --no-fail.
        strict = tmp_path / "strict.toml"
        strict.write_text("[checks.T1]\nutilisation_max = 0.01\n")
        gate = ["check", "--plan", str(plan), "--quiet", "--thresholds", str(strict)]
        gated = runner.invoke(app, gate)
        assert gated.exit_code == 1, gated.output
        statuses = pd.read_csv(plan / "checks.csv").set_index("check_id")["status"]
        assert statuses["T1"] == "FAIL"
        assert runner.invoke(app, [*gate, "--no-fail"]).exit_code == 0
        report_only = runner.invoke(app, ["check", "--plan", str(plan), "--quiet", "--no-fail"])
        assert report_only.exit_code == 0
        records = json.loads((plan / "checks.json").read_text())
        assert {r["check_id"] for r in records} == set(checks["check_id"])

    def test_thresholds_file_changes_a_verdict(self, plan: Path, tmp_path: Path) -> None:
        relaxed = tmp_path / "checks.toml"
        relaxed.write_text("[checks.T7]\nmoved_revenue_max = 1.0\ntop_accounts_moved_max = 1.0\n")
        runner.invoke(app, ["check", "--plan", str(plan), "--quiet", "--no-fail"])
        strict = pd.read_csv(plan / "checks.csv").set_index("check_id")
        done = runner.invoke(
            app,
            ["check", "--plan", str(plan), "--quiet", "--no-fail", "--thresholds", str(relaxed)],
        )
        assert done.exit_code == 0, done.output
        loose = pd.read_csv(plan / "checks.csv").set_index("check_id")
        assert str(loose.loc["T7", "threshold"]) != str(strict.loc["T7", "threshold"])

    def test_unknown_threshold_key_is_rejected(self, plan: Path, tmp_path: Path) -> None:
        bad = tmp_path / "checks.toml"
        bad.write_text("[checks.T7]\nmoved_revenu_max = 0.2\n")
        done = runner.invoke(app, ["check", "--plan", str(plan), "--thresholds", str(bad)])
        assert done.exit_code == EXIT_BAD_INPUT
        assert "moved_revenu_max" in done.output


class TestReportCli:
    def test_report_after_the_whole_pipeline(self, plan: Path) -> None:
        runner.invoke(app, ["quota", "--plan", str(plan), "--target", "10000000", "--quiet"])
        runner.invoke(
            app, ["stress", "--plan", str(plan), "--comp", str(COMP), "--sims", "300", "--quiet"]
        )
        runner.invoke(app, ["check", "--plan", str(plan), "--quiet", "--no-fail"])
        done = runner.invoke(app, ["report", "--plan", str(plan)])
        assert done.exit_code == 0, done.output
        page = (plan / "report.html").read_text(encoding="utf-8")
        # Every statement of both chapters is on the scorecard, with its real status.
        assert page.count('class="check"') == 20
        statuses = pd.read_csv(plan / "checks.csv")["status"]
        for status in set(statuses):
            assert status in page
        again = runner.invoke(app, ["report", "--plan", str(plan), "--quiet"])
        assert again.exit_code == 0
        assert (plan / "report.html").read_text(encoding="utf-8") == page

    def test_report_on_a_folder_that_is_not_a_run(self, tmp_path: Path) -> None:
        done = runner.invoke(app, ["report", "--plan", str(tmp_path)])
        assert done.exit_code == EXIT_BAD_INPUT
