"""The 20 thought-starter checks: territory design (T1-T10) and compensation and quota (C1-C10).

Each check reads only data already loaded (plan, quotas, comp plan, stress verdicts) and
answers one statement of the framework with a status, the number behind it and the evidence.
The rules follow the quota spec, section 3; every threshold is a config key
``checks.<id>.<param>`` (defaults in ``data/checks.toml``, the same values as
:data:`DEFAULT_PARAMS`).

A part of a check the data can measure is PASS, WARN or FAIL; a part it cannot measure (CRM
activity, or a survey, market pay, payout dates the user did not supply) is NOT_ASSESSABLE and
names what data would settle it. Nothing unmeasured ever passes. A row shows the number that
decided its status (:func:`~territory.domain.checks.model.deciding_part`).

The package, from the bottom up:

* :mod:`~territory.domain.checks.thresholds` - the thresholds: a table of defaults and the pydantic
  models built from it (a file's are read by :func:`territory.io.config_files.load_thresholds`);
* :mod:`~territory.domain.checks.evidence` - what a check reads, and views of it checks share;
* :mod:`~territory.domain.checks.inputs` - the inputs a check can declare, and routes from a run
folder;
* :mod:`~territory.domain.checks.model` - statuses, rows, limits, and :class:`CheckSpec`, the
preamble
  every check shares;
* :mod:`~territory.domain.checks.territory_checks`, :mod:`~territory.domain.checks.comp_fit_checks`
  (C1, C2) and :mod:`~territory.domain.checks.comp_checks` - one measure function per check;
* :mod:`~territory.domain.checks.catalogue` - the 20 checks declared: statement, metric, scope,
inputs
  required, threshold and measure;
* :mod:`~territory.domain.checks.runner` - all checks on a run, ``checks.csv``/``checks.json`` and
the
  exit code.

A new check is a measure function (named after its id), a row of the catalogue, an entry in the
table of defaults of :mod:`~territory.domain.checks.thresholds` and the same defaults in
``data/checks.toml``. A new source of
evidence is a :class:`~territory.domain.checks.inputs.Input` (with a ``load`` when it comes from
the run
folder) named in the ``requires`` of the checks that need it.
"""

from __future__ import annotations

from typing import Any

from territory.domain.checks.catalogue import SPECS
from territory.domain.checks.evidence import CheckEvidence, evidence_from_folder
from territory.domain.checks.model import CHECK_COLUMNS, CheckResult, Status
from territory.domain.checks.runner import (
    CHECKS,
    Check,
    exit_code,
    run_checks,
    status_counts,
    to_frame,
    to_records,
)
from territory.domain.checks.thresholds import (
    CHECK_IDS,
    DEFAULT_BLOCKING,
    DEFAULT_PARAMS,
    CheckThresholds,
    thresholds_from_mapping,
)

__all__ = [
    "CHECKS",
    "CHECK_COLUMNS",
    "CHECK_IDS",
    "DEFAULT_BLOCKING",
    "DEFAULT_PARAMS",
    "Check",
    "CheckEvidence",
    "CheckResult",
    "CheckThresholds",
    "Status",
    "evidence_from_folder",
    "exit_code",
    "run_checks",
    "status_counts",
    "thresholds_from_mapping",
    "to_frame",
    "to_records",
]


def __getattr__(name: str) -> Any:
    """Serve each check under its function name (``t1_coverage``), as the module always has."""
    for spec in SPECS.values():
        if spec.measure.__name__ == name:
            return spec
    raise AttributeError(f"module 'territory.domain.checks' has no attribute '{name}'")
