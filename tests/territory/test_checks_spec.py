"""Tests for how checks are declared and run: the catalogue, limits, inputs and routes, the rows
of missing or unreadable inputs, the thresholds schema and the public names.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

import territory.domain.checks as checks
from territory.domain.checks import (
    CHECK_IDS,
    CHECKS,
    DEFAULT_PARAMS,
    CheckEvidence,
    CheckThresholds,
    Status,
    run_checks,
    thresholds_from_mapping,
)
from territory.domain.checks import thresholds as schema
from territory.domain.checks.catalogue import SPECS
from territory.domain.checks.inputs import REALIGNMENT_UPLIFT, REP_IMPACT, ROUTES, Input, routed
from territory.domain.checks.model import CheckSpec, Finding, Limit, Rule
from territory.domain.checks.territory_checks import t1_coverage
from territory.errors import ScenarioError
from territory.io.config_files import load_thresholds
from territory.io.run_checks import check_run
from territory.io.runs import PlanFolder
from tests.territory import four_reps as fr

TH = CheckThresholds()


class TestSyntheticCatalogue:
    def test_every_check_is_declared_once_in_report_order(self) -> None:
        assert tuple(SPECS) == CHECK_IDS
        assert {spec.framework_list for spec in list(SPECS.values())[:10]} == {"territory"}
        # The framework by its title; no reference to internal specs reaches the user.
        assert SPECS["C10"].source == (
            "Sales Strategy Framework, Compensation Design and Quota Setting, thought starter 10"
        )
        assert all("spec" not in s.source and "§" not in s.source for s in SPECS.values())

    def test_a_limit_must_name_a_threshold_of_its_check(self) -> None:
        with pytest.raises(
            ValueError, match=r"T1: limit names unknown threshold\(s\) \['uplift'\]"
        ):
            replace(SPECS["T1"], limit=Limit(">=", "uplift"))

    def test_a_measure_must_read_the_thresholds_of_its_check(self) -> None:
        with pytest.raises(ValueError, match="T2: measure reads T1, not T2"):
            CheckSpec("T2", "s", "m", "forward", Limit(">=", "uplift_min"), t1_coverage)

    def test_a_limit_names_one_threshold(self) -> None:
        with pytest.raises(ValueError, match="either a parameter key or a fixed threshold"):
            Limit(">=")
        with pytest.raises(ValueError, match="either a parameter key or a fixed threshold"):
            Limit(">=", "uplift_min", fixed=1.0)

    def test_metric_names_its_thresholds(self) -> None:
        narrow = thresholds_from_mapping({"checks": {"T5": {"band_low": 0.9, "band_high": 1.1}}})
        r = CHECKS["T5"](fr.evidence(), narrow)
        assert r.metric == "share of reps with utilisation in 0.9..1.1"


class TestSyntheticRule:
    @pytest.mark.parametrize(
        ("rule", "value", "expected"),
        [
            (Rule(">=", 0.5), 0.5, Status.PASS),  # the threshold itself passes
            (Rule(">", 0.5), 0.5, Status.FAIL),  # ... unless the rule is strict
            (Rule(">=", 0.5, tolerance=1e-9), 0.5 - 1e-12, Status.PASS),
            (Rule(">=", 0.5, warn=0.3), 0.4, Status.WARN),
            (Rule(">=", 0.5, warn=0.3), 0.3, Status.WARN),
            (Rule(">=", 0.5, warn=0.3), 0.2, Status.FAIL),
            (Rule("<=", 0.1, warn=0.2), 0.1, Status.PASS),
            (Rule("<=", 0.1, warn=0.2), 0.15, Status.WARN),
            (Rule("<=", 0.1, warn=0.2), 0.25, Status.FAIL),
            (Rule(">=", 0.5, warn=0.3), None, Status.FAIL),  # unknown never passes
            (Rule("<=", 0.1, warn=0.2), math.nan, Status.FAIL),
        ],
    )
    def test_judge(self, rule: Rule, value: float | None, expected: Status) -> None:
        assert rule.judge(value) == expected

    def test_a_rule_in_words_cannot_judge_a_number(self) -> None:
        words = Limit("in", fixed="OTE in market P25..P75").bind(schema.C2())
        assert words.shown == "OTE in market P25..P75"
        with pytest.raises(ValueError, match="cannot judge"):
            words.judge(1.0)

    def test_bind_reads_the_switches(self) -> None:
        t9 = SPECS["T9"].limit
        assert t9.bind(schema.T9()) == Rule("<=", 0.15, warn=0.25)
        assert t9.bind(schema.T9(strict=True)) == Rule("<=", 0.10, warn=0.25)
        c5 = SPECS["C5"].limit
        assert c5.bind(schema.C5()) == Rule(">=", 0.20, tolerance=1e-12)
        assert c5.bind(schema.C5(strict_greater=True)) == Rule(">", 0.20)


class TestSyntheticMissingInputs:
    @pytest.mark.parametrize("check_id", [c for c in CHECK_IDS if SPECS[c].requires])
    def test_each_missing_input_is_named(self, check_id: str) -> None:
        spec = SPECS[check_id]
        r = spec(CheckEvidence(), TH)
        assert r.status == Status.NOT_ASSESSABLE
        assert r.needs == tuple(dict.fromkeys(i.needs for i in spec.requires))
        assert (r.value, r.n, r.inputs_used, r.notes) == (None, None, (), "")
        assert r.evidence == ("required inputs are not available",)
        if check_id == "T1":
            assert (r.threshold, r.comparator) == (None, "")
        else:
            assert r.comparator == spec.limit.comparator

    def test_t7_lists_every_missing_input_in_order(self) -> None:
        r = CHECKS["T7"](fr.evidence(accounts=fr.accounts(history=False), plan=None), TH)
        assert r.needs == (
            "current_rep per account (who serves it today)",
            "revenue_last_year per account",
            "the plan (territory align)",
        )

    def test_follow_up_and_notes_only_on_a_measured_row(self) -> None:
        measured = CHECKS["T7"](fr.evidence(), TH)
        assert measured.needs[-1] == SPECS["T7"].follow_up[0]
        assert measured.notes == SPECS["T7"].notes
        missing = CHECKS["T7"](fr.evidence(plan=None), TH)
        assert SPECS["T7"].follow_up[0] not in missing.needs
        assert missing.notes == ""

    def test_unreadable_inputs_give_a_row_that_says_why(self) -> None:
        # The plan names a rep the reps table lacks: the per-rep table cannot be built.
        ev = fr.evidence(plan=pd.Series(["R9"] + fr.BALANCED[1:]))
        by_id = {r.check_id: r for r in run_checks(ev)}
        t1 = by_id["T1"]
        assert t1.status == Status.NOT_ASSESSABLE
        assert t1.notes.startswith("the check could not read its inputs: ValueError: plan names")
        assert t1.needs == ("inputs this check can read (see notes)",)
        assert (t1.metric, t1.scope, t1.threshold, t1.comparator) == ("", "config", None, "")
        # Checks that do not read the plan are untouched.
        assert by_id["C5"].status == Status.PASS


class TestSyntheticInputs:
    def test_an_input_names_an_evidence_field(self) -> None:
        with pytest.raises(ValueError, match="'pay_survey' names no CheckEvidence field"):
            Input("pay_survey", "a market pay survey")
        assert Input("pay_survey", "a survey", lambda ev: False).missing(CheckEvidence())
        assert Input("market_pay", "a market pay file").missing(CheckEvidence())

    def test_a_route_fills_evidence_from_the_run_folder(self, tmp_path: Path) -> None:
        run = _folder(tmp_path)
        assert routed(CheckEvidence(), run).rep_impact is None  # the stress test has not run
        impact = pd.DataFrame({"rep_id": fr.REPS, "expected_attainment": [1.0, 1.0, 1.0, 0.8]})
        impact.to_csv(tmp_path / "rep_impact.csv", index=False)
        filled = routed(CheckEvidence(), run).rep_impact
        assert filled is not None and filled["expected_attainment"].tolist() == [1.0] * 3 + [0.8]
        given = pd.DataFrame({"rep_id": ["R1"], "expected_attainment": [1.0]})
        kept = routed(CheckEvidence(rep_impact=given), run).rep_impact
        assert kept is given  # evidence already given is never replaced
        assert REP_IMPACT.load is not None

    def test_routes_are_the_inputs_with_a_load(self) -> None:
        assert {route.name for route in ROUTES} == {"rep_impact", "scenarios", "realignment_uplift"}
        assert all(route.load is not None for route in ROUTES)

    def test_one_route_makes_a_check_measurable(self, tmp_path: Path) -> None:
        # T2 waits for a sales-response model; a route to its uplift is all it needs.
        run = _folder(tmp_path)
        assert CHECKS["T2"](routed(fr.evidence(), run), TH).status == Status.NOT_ASSESSABLE
        uplift = replace(REALIGNMENT_UPLIFT, load=lambda folder: 0.05)
        measured = CHECKS["T2"](routed(fr.evidence(), run, (*ROUTES, uplift)), TH)
        assert (measured.status, measured.value) == (Status.PASS, pytest.approx(0.05))

    @pytest.mark.parametrize(
        ("gross", "status"),
        # The balanced plan moves nothing: U_net is the model's gross uplift itself.
        [(0.05, Status.PASS), (0.01, Status.WARN), (-0.03, Status.FAIL), (None, None)],
    )
    def test_t2_reads_the_models_uplift_from_value_json(
        self, tmp_path: Path, gross: float | None, status: Status | None
    ) -> None:
        run = _folder(tmp_path)
        uplift = None if gross is None else {"uplift": gross - 0.01, "uplift_gross": gross}
        document = {"source": "fitted", "total": {"expected": 1.0}, "uplift": uplift}
        (tmp_path / "value.json").write_text(json.dumps(document), encoding="utf-8")
        finding = CHECKS["T2"](routed(fr.evidence(), run), TH)
        if gross is None:  # value.json without an uplift (no current alignment): still unmeasured
            assert finding.status == Status.NOT_ASSESSABLE
            return
        assert (finding.status, finding.value) == (status, pytest.approx(gross))

    def test_check_run_reads_what_the_routes_find(self, tmp_path: Path) -> None:
        run = _folder(tmp_path)
        before = {r.check_id: r for r in check_run(run)}["T9"]
        assert any("equal difficulty not simulated" in e for e in before.evidence)
        impact = pd.DataFrame({"rep_id": fr.REPS, "expected_attainment": [1.0, 1.0, 1.0, 0.8]})
        impact.to_csv(tmp_path / "rep_impact.csv", index=False)
        after = {r.check_id: r for r in check_run(run)}["T9"]
        assert after.status == Status.FAIL  # R4 is 20% from the median, above the 10% limit
        assert any(e.startswith("FAIL: expected attainment") and "R4" in e for e in after.evidence)


def _folder(path: Path) -> PlanFolder:
    accounts = fr.accounts()
    plan = pd.DataFrame({"account_id": accounts["account_id"], "rep_id": fr.BALANCED})
    return PlanFolder(path, accounts, fr.reps(), plan, pd.DataFrame(), dict(fr.SOLVE))


class TestSyntheticThresholdsSchema:
    def test_defaults_come_from_the_models(self) -> None:
        assert {c: dict(p) for c, p in TH.params.items()} == {
            c: dict(p) for c, p in DEFAULT_PARAMS.items()
        }
        assert TH.of("T8") == schema.T8()
        assert TH.value("T8", "max_data_age_months") == 12
        assert isinstance(TH.value("T8", "max_data_age_months"), int)

    def test_unknown_ids_and_keys_raise_key_errors(self) -> None:
        with pytest.raises(KeyError):
            TH.of("T11")
        with pytest.raises(KeyError, match=r"checks\.T1\.uplift_min"):
            TH.value("T1", "uplift_min")

    def test_thresholds_are_frozen(self) -> None:
        with pytest.raises(ValidationError):
            TH.t1 = schema.T1(utilisation_max=2.0)

    def test_ids_in_any_case_and_blocking_upper_cased(self) -> None:
        th = thresholds_from_mapping({"checks": {"t9": {"strict": True}, "blocking": ["t7"]}})
        assert th.flag("T9", "strict") is True
        assert th.blocking == ("T7",)

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (
                {"a": 1, "checks": {}},
                "unknown top-level key(s) ['a']; thresholds live under [checks]",
            ),
            ({"checks": 5}, "key 'checks' must be a table"),
            ({"checks": {"t1": 5}}, "key 'checks.t1' must be a table"),
            (
                {"checks": {"T11": {}}},
                f"key 'checks.T11' is unknown; allowed keys are {['blocking', *CHECK_IDS]}",
            ),
            (
                {"checks": {"blocking": "T1"}},
                "key 'checks.blocking' must be a list of check ids, got 'T1'",
            ),
            (
                {"checks": {"blocking": ["x9", "T1"]}},
                f"key 'checks.blocking' names unknown check(s) ['X9']; known: {list(CHECK_IDS)}",
            ),
            (
                {"checks": {"C8": {"wmape": 0.1}}},
                "key 'checks.C8.wmape' is unknown; allowed keys in [checks.C8] are "
                "['company_error_max', 'naive_gap_pass_max', 'naive_gap_warn_max', "
                "'wmape_pass_max', 'wmape_warn_max']",
            ),
        ],
    )
    def test_messages_name_the_key(self, data: dict[str, object], message: str) -> None:
        with pytest.raises(ScenarioError) as caught:
            thresholds_from_mapping(data, source="x.toml")
        assert str(caught.value) == f"x.toml: {message}"

    def test_the_first_problem_in_file_order_is_reported(self) -> None:
        data = {"checks": {"T2": {"uplift_min": "x"}, "T1": {"nope": 1}}}
        with pytest.raises(ScenarioError, match=r"checks\.T2\.uplift_min"):
            thresholds_from_mapping(data)
        data = {"checks": {"T1": {"nope": 1}, "T2": {"uplift_min": "x"}}}
        with pytest.raises(ScenarioError, match=r"checks\.T1\.nope"):
            thresholds_from_mapping(data)

    def test_a_folder_is_not_a_thresholds_file(self, tmp_path: Path) -> None:
        with pytest.raises(ScenarioError, match=rf"cannot read thresholds file {tmp_path}"):
            load_thresholds(tmp_path)


class TestSyntheticPublicNames:
    def test_every_name_of_the_old_module_is_importable(self) -> None:
        for name in checks.__all__:
            assert getattr(checks, name) is not None, name
        assert checks.t1_coverage is CHECKS["T1"]
        assert checks.c10_administration is CHECKS["C10"]
        with pytest.raises(AttributeError, match="no attribute 't11_nothing'"):
            _ = checks.t11_nothing

    def test_finding_absent_is_not_assessable(self) -> None:
        finding = Finding.absent(["x"])
        assert (finding.status, finding.missing, finding.needs) == (
            Status.NOT_ASSESSABLE,
            True,
            ["x"],
        )
