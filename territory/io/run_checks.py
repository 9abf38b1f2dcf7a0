"""The checks on a run folder: the comp plan comes from the file the stress step kept there.

Files a user names besides the run (objectives, market pay, survey, payouts, data dates) are
read by :mod:`territory.io.check_inputs` and added to the evidence.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from territory.domain.checks.evidence import evidence_from_folder
from territory.domain.checks.inputs import routed
from territory.domain.checks.model import CheckResult
from territory.domain.checks.runner import run_checks
from territory.domain.checks.thresholds import CheckThresholds
from territory.domain.run import COMP_COPY
from territory.domain.run import RunData as PlanFolder
from territory.io.check_inputs import CheckInputs, load_check_inputs
from territory.io.config_files import load_comp


def check_run(
    run: PlanFolder,
    thresholds: CheckThresholds | None = None,
    comp_path: Path | None = None,
    inputs: CheckInputs | None = None,
) -> list[CheckResult]:
    """All 20 checks on a run folder, reading what its later steps left there.

    Parameters
    ----------
    run
        The run (:func:`territory.io.runs.load_plan`).
    thresholds
        The limits; None keeps the defaults.
    comp_path
        The comp plan file; defaults to the copy the stress test kept in the folder (no comp
        plan when there is none).
    inputs
        Files the user supplies for checks the run cannot settle (none by default).

    Returns
    -------
    list of CheckResult
        One result per check, in report order.
    """
    path = comp_path if comp_path is not None else run.path / COMP_COPY
    comp = load_comp(path) if path.exists() else None
    evidence = evidence_from_folder(
        run, comp, run.document("quota_summary.json"), run.document("stress.json"), None
    )
    if inputs is not None and inputs.given():
        evidence = replace(evidence, **load_check_inputs(inputs))
    return run_checks(routed(evidence, run), thresholds)
