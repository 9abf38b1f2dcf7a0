"""The notebook entry point: ``from territory.workflow.api import align, AlignmentSpec, Budget``.

:func:`align` solves an alignment in memory (``align(accounts, reps, balance=0.05, ...)`` or
``align(accounts, reps, AlignmentSpec(...))``) and returns an :class:`AlignmentResult` whose
``report`` is a :class:`SolveReport`. The names live in :mod:`territory.workflow.align`,
:mod:`territory.workflow.result`, :mod:`territory.domain.spec` and
:mod:`territory.domain.budget`; this module gathers them (``territory.workflow.align`` stays the
module, so ``territory.workflow`` itself exports nothing).
"""

from __future__ import annotations

from territory.domain.budget import Budget
from territory.domain.spec import AlignmentSpec
from territory.workflow.align import align
from territory.workflow.result import AlignmentResult, SolveReport

__all__ = ["AlignmentResult", "AlignmentSpec", "Budget", "SolveReport", "align"]
