"""The files users supply for checks no run can settle, and the number a check row shows.

Readers (:mod:`territory.io.check_inputs`): the shipped examples read into evidence, and every
bad cell is reported with its file, row and column. Rows: a FAIL or WARN shows the number of
the part that decided it, a NOT_ASSESSABLE row shows none; the scorecard explains every FAIL
and WARN in words and names the framework, never an internal spec. End to end:
``territory check`` with the five options on a real run.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from territory.domain.checks import CHECKS, CheckThresholds, Status, to_frame, to_records
from territory.domain.checks.catalogue import SPECS
from territory.domain.checks.model import Finding, Gauge, Part
from territory.errors import DataValidationError
from territory.io.check_inputs import CheckInputs, load_check_inputs
from territory.rendering.report.page import ENVIRONMENT
from territory.rendering.report.scorecard import FRAMEWORK, scorecard_view
from tests.commands import DEMO_COMP, ROOT, aligned_plan, invoke, write_instance
from tests.territory import four_reps as fr
from tests.territory.test_checks_statuses import TRACED

EXAMPLES = ROOT / "data" / "examples"
SHIPPED = CheckInputs(
    objectives=EXAMPLES / "objectives.csv",
    market_pay=EXAMPLES / "market_pay.csv",
    survey=EXAMPLES / "survey.csv",
    payouts=EXAMPLES / "payouts.csv",
    data_dates=EXAMPLES / "data_dates.csv",
)


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _problems(inputs: CheckInputs) -> list[str]:
    with pytest.raises(DataValidationError) as caught:
        load_check_inputs(inputs)
    return [str(p) for p in caught.value.problems]


class TestSyntheticReaders:
    def test_shipped_examples_read_into_evidence(self) -> None:
        found = load_check_inputs(SHIPPED)
        assert found["objectives"]["retain-base"] == ("account_manager",)
        assert found["objective_weights"] == {
            "grow-new-logos": 0.5,
            "retain-base": 0.3,
            "grow-existing-accounts": 0.2,
        }
        assert found["market_pay"]["ote_p75"].tolist() == [205_000.0, 170_000.0]
        survey = found["survey"]
        # yes/no words, and a 1-5 scale where 4 and 5 agree.
        assert survey["can_calculate_pay"].sum() == 10 and len(survey) == 12
        assert survey["process_is_clear"].tolist()[3] == 0.0  # answered 3
        assert found["payouts"]["corrections"].sum() == 1
        assert found["data_dates"]["assessed_on"].isoformat() == "2026-11-30"

    def test_no_file_named_reads_nothing(self) -> None:
        assert not CheckInputs().given()
        assert load_check_inputs(CheckInputs()) == {}

    def test_every_bad_cell_names_file_row_and_column(self, tmp_path: Path) -> None:
        objectives = _write(tmp_path, "objectives.csv", "objective_id,weight\nwin,0.5\n")
        market = _write(
            tmp_path,
            "market.csv",
            "role,ote_p25,ote_p50,ote_p75,variable_share_p50\n"
            "hunter,150000,180000,200000,0.5\n"
            "account_manager,170000,150000,160000,40\n",
        )
        survey = _write(tmp_path, "survey.csv", "group,can_calculate_pay\nrep,yes\nrep,maybe\n")
        payouts = _write(
            tmp_path, "payouts.csv", "period_end,paid_on,payments\n2026-03-31,2026-03-01,10\n"
        )
        dates = _write(tmp_path, "dates.csv", "item,date\npotential_asof,2026-01-01\n")
        later = _write(
            tmp_path,
            "later.csv",
            "item,date\nassessed_on,2026-01-01\nlast_review,2026-02-01\nlast_review,2025-01-01\n"
            "history_through,\n",
        )
        problems = _problems(CheckInputs(objectives, market, survey, payouts, dates))
        expected = [
            f"{objectives}, column 'roles': required column is missing",
            f"{market}, row 3, column 'ote_p25': market OTE must be positive with P25 <= P50",
            f"{survey}, row 3, column 'can_calculate_pay': 'maybe' is not an answer",
            f"{payouts}, row 2, column 'paid_on': paid on 2026-03-01 before the period ended",
            f"{dates}, row 2, column 'item': 'potential_asof' is unknown. "
            "Fix: use 'potential_as_of'",
            f"{dates}, column 'item': no assessed_on row",
        ]
        problems += _problems(CheckInputs(data_dates=later))
        expected += [
            f"{later}, row 3, column 'date': last_review 2026-02-01 is after assessed_on",
            f"{later}, row 4, column 'item': 'last_review' is listed twice",
            f"{later}, row 5, column 'date': no date for history_through",
        ]
        for start in expected:
            assert any(p.startswith(start) for p in problems), (start, problems)
        assert all("Fix:" in p for p in problems)

    def test_a_share_written_as_a_percentage_is_refused(self, tmp_path: Path) -> None:
        market = _write(
            tmp_path,
            "market.csv",
            "role,ote_p25,ote_p50,ote_p75,variable_share_p50\nhunter,1,2,3,40\n",
        )
        (problem,) = _problems(CheckInputs(market_pay=market))
        assert "row 2, column 'variable_share_p50'" in problem and "write 0.4 for 40%" in problem

    def test_money_with_separators_and_workbook_dates(self, tmp_path: Path) -> None:
        market = _write(
            tmp_path,
            "market.csv",
            'role,ote_p25,ote_p50,ote_p75\nhunter,"$150,000","180,000",200000\n',
        )
        found = load_check_inputs(CheckInputs(market_pay=market))
        assert found["market_pay"]["ote_p25"].tolist() == [150_000.0]
        assert pd.isna(found["market_pay"]["variable_share_p50"]).all()


def _t9_quota_fails() -> Any:
    # Balance passes (every rep on target); quotas run against potential: Spearman -1.
    return CHECKS["T9"](fr.evidence(quotas=fr.quotas([700.0, 600.0, 500.0, 400.0])), TH)


TH = CheckThresholds()


class TestSyntheticDecidingValue:
    def test_a_failing_part_lends_the_row_its_number(self) -> None:
        r = _t9_quota_fails()
        assert r.status == Status.FAIL
        assert r.metric == "Spearman(quota, territory potential)"
        assert (r.value, r.threshold, r.comparator) == (pytest.approx(-1.0), 0.8, ">=")
        assert any(e.startswith("PASS: largest deviation from target") for e in r.evidence)
        assert "quota method" in r.action

    def test_a_passing_row_shows_its_headline(self) -> None:
        r = CHECKS["T9"](fr.evidence(), TH)
        assert r.status == Status.PASS
        assert (r.metric, r.value, r.threshold) == (
            "largest deviation from target, potential or workload",
            0.0,
            0.15,
        )
        assert r.action == ""

    def test_a_row_not_assessable_shows_no_number(self) -> None:
        # Every measure is traced (a value of 1 >= 1), but without objectives nothing decided.
        r = CHECKS["C1"](fr.evidence(comp=TRACED), TH)
        assert (r.status, r.value, r.threshold) == (Status.NOT_ASSESSABLE, None, 1.0)
        assert any(e.startswith("PASS: 2 of 2 measures name an objective") for e in r.evidence)
        na = CHECKS["C9"](fr.evidence(), TH)
        assert (na.status, na.value) == (Status.NOT_ASSESSABLE, None)

    def test_checks_csv_and_json_carry_the_deciding_number_and_action(self) -> None:
        r = _t9_quota_fails()
        row = to_frame([r]).iloc[0]
        assert (row["metric"], row["value"], row["threshold"]) == (r.metric, -1.0, "0.8")
        (record,) = to_records([r])
        assert record["action"] == r.action and record["value"] == pytest.approx(-1.0)


def _card(records: list[dict[str, Any]]) -> str:
    view = scorecard_view(cast(Any, None), records)
    macros = cast(Any, ENVIRONMENT.get_template("macros.html.j2").module)
    return "".join(str(macros.check_table(g)) for g in view.groups)


class TestSyntheticScorecard:
    def test_fail_shows_the_deciding_number_and_explains_itself(self) -> None:
        card = _card(to_records([_t9_quota_fails()]))
        assert "-1</b> \u2265 0.8" in card
        assert (
            "Measured Spearman(quota, territory potential): -1, against \u2265 0.8 (it fails)"
            in card
        )
        assert "What to do: Give potential more weight in the quota method" in card

    def test_not_assessable_shows_the_rule_but_no_number(self) -> None:
        row = {
            "check_id": "C1",
            "framework_list": "comp",
            "status": "NOT_ASSESSABLE",
            "value": 1.0,  # an older checks.json kept the number of a passing part
            "threshold": 1.0,
            "comparator": ">=",
            "needs": ["an objectives file"],
            "source": "quota spec §3.2 C1; framework, Compensation and Quota statement 1",
        }
        card = _card([row])
        assert "<b>1</b>" not in card and "not measured; rule \u2265 1" in card
        assert "spec" not in card and "§" not in card
        assert "framework, Compensation and Quota statement 1" in card

    def test_every_fail_and_warn_of_a_run_is_explained(self) -> None:
        records = to_records(
            [CHECKS[c](fr.evidence(plan=pd.Series(fr.UNBALANCED)), TH) for c in CHECKS]
        )
        view = scorecard_view(cast(Any, None), records)
        rows = [r for g in view.groups for r in g.rows if r.status in ("FAIL", "WARN")]
        assert rows
        for row in rows:
            assert row.explanation and "What to do:" in row.explanation, row.check_id
        assert view.framework == FRAMEWORK == "Sales Strategy Framework"
        assert all("spec" not in (r.source or "") for g in view.groups for r in g.rows)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 120-account, 4-rep plan aligned by the CLI."""
    return aligned_plan(tmp_path_factory.mktemp("check-inputs"), 120, 4, seed=3)


def _options(inputs: CheckInputs) -> list[str]:
    names = ("objectives", "market_pay", "survey", "payouts", "data_dates")
    return [
        arg
        for name in names
        if getattr(inputs, name) is not None
        for arg in (f"--{name.replace('_', '-')}", str(getattr(inputs, name)))
    ]


class TestRealWorldCheckCommand:
    def test_files_make_the_checks_measurable(self, run: Path) -> None:
        args = ["check", "--plan", str(run), "--comp", str(DEMO_COMP), "--quiet", "--no-fail"]
        done = invoke([*args, *_options(SHIPPED)])
        assert done.exit_code == 0, done.output
        rows = {r["check_id"]: r for r in json.loads((run / "checks.json").read_text())}
        assert rows["C1"]["status"] == "PASS" and "objectives file" in rows["C1"]["inputs_used"]
        assert rows["C2"]["status"] == "PASS"
        # Leaders: 3 of 4 can work out their pay (75%), in the warn band.
        assert (rows["C9"]["status"], rows["C9"]["value"]) == ("WARN", 0.75)
        assert rows["C9"]["metric"] == "leader: share who can work out their own incentive"
        assert any("24 days from period close" in e for e in rows["C10"]["evidence"])
        assert any("potential estimate 2026-09-30" in e for e in rows["T8"]["evidence"])
        without = invoke(args)
        assert without.exit_code == 0, without.output
        again = {r["check_id"]: r for r in json.loads((run / "checks.json").read_text())}
        assert again["C2"]["status"] == "NOT_ASSESSABLE"

    def test_a_bad_file_stops_with_exit_2_and_says_where(self, run: Path, tmp_path: Path) -> None:
        bad = _write(tmp_path, "survey.csv", "group,can_calculate_pay\nrep,yes\nrep,perhaps\n")
        done = invoke(["check", "--plan", str(run), "--quiet", "--survey", str(bad)])
        assert done.exit_code == 2
        assert "row 3, column 'can_calculate_pay'" in done.output
        assert "Traceback" not in done.output


class TestSyntheticScenarioInputs:
    def test_a_scenario_names_the_files_relative_to_itself(self, tmp_path: Path) -> None:
        from scenarios.model import load_scenario
        from scenarios.runner import scenario_inputs

        (tmp_path / "data").mkdir()
        for name in ("accounts.csv", "reps.csv", "objectives.csv"):
            _write(tmp_path / "data", name, "x")
        path = _write(
            tmp_path,
            "s.toml",
            '[inputs]\naccounts = "data/accounts.csv"\nreps = "data/reps.csv"\n'
            'objectives = "data/objectives.csv"\n',
        )
        scenario = load_scenario(path)
        assert Path(str(scenario.spec.inputs.objectives)) == tmp_path / "data" / "objectives.csv"
        assert str(tmp_path / "data" / "objectives.csv") in scenario_inputs(scenario)
        # Files not named stay out of the manifest, so other scenarios' manifests keep their bytes.
        resolved = scenario.resolved()["inputs"]
        assert resolved["objectives"] == "data/objectives.csv"
        assert "market_pay" not in resolved and "comp" in resolved


_STATUSES = st.sampled_from([Status.PASS, Status.WARN, Status.FAIL, Status.NOT_ASSESSABLE])


@st.composite
def _parts(draw: st.DrawFn) -> list[Part]:
    parts = []
    for i in range(draw(st.integers(1, 5))):
        status = draw(_STATUSES)
        number = draw(st.none() | st.floats(-10, 10, allow_nan=False))
        gauge = None if number is None else Gauge(f"part {i}", number, 1.0, ">=")
        needs = "data" if status == Status.NOT_ASSESSABLE else None
        parts.append(Part(status, f"part {i}", needs, gauge=gauge, action=f"fix {i}"))
    return parts


class TestPropertyDecidingValue:
    @given(parts=_parts(), headline=st.floats(0, 1))
    @settings(max_examples=200, deadline=None)
    def test_the_row_shows_the_number_that_decided_it(
        self, parts: list[Part], headline: float
    ) -> None:
        def t9_drawn(ev: Any, p: Any, rule: Any) -> Finding:
            return Finding(parts, value=headline)

        spec = replace(SPECS["T9"], measure=t9_drawn)
        row = spec(fr.evidence(), TH)
        if row.status in (Status.FAIL, Status.WARN):
            deciding = [p for p in parts if p.status == row.status]
            numbered = [p for p in deciding if p.gauge is not None]
            first = (numbered or deciding)[0]
            assert row.metric == (first.gauge.metric if first.gauge else first.evidence)
            assert row.value == (first.gauge.value if first.gauge else None)
            assert row.action == first.action
        elif row.status == Status.NOT_ASSESSABLE:
            assert row.value is None and row.needs and row.action == ""
        else:
            assert row.status == Status.PASS
            assert (row.value, row.metric) == (headline, SPECS["T9"].metric)


class TestRealWorldScenarioRun:
    def test_a_scenario_run_checks_with_its_files(self, tmp_path: Path) -> None:
        write_instance(tmp_path, 120, 4, seed=3)
        scenario = _write(
            tmp_path,
            "s.toml",
            '[inputs]\naccounts = "accounts.csv"\nreps = "reps.csv"\n'
            f'data_dates = "{(EXAMPLES / "data_dates.csv").as_posix()}"\n'
            f'survey = "{(EXAMPLES / "survey.csv").as_posix()}"\n'
            '[align]\nsolver = "heuristic"\n',
        )
        done = invoke(["run", str(scenario), "--out", str(tmp_path / "out"), "--quiet"])
        assert done.exit_code == 0, done.output
        folder = tmp_path / "out" / "s"
        rows = {r["check_id"]: r for r in json.loads((folder / "checks.json").read_text())}
        t8 = rows["T8"]["evidence"]
        assert any("potential estimate 2026-09-30: 2.0 months" in e for e in t8)
        assert any("83.3% of 12 surveyed find the realignment process clear" in e for e in t8)
        manifest = json.loads((folder / "manifest.json").read_text())
        assert {"data_dates", "survey"} <= set(manifest["inputs"])
        assert "market_pay" not in manifest["inputs"]
