"""One error hierarchy for the whole engine.

Every message says what was wrong, which ids (or file, row and column) are affected and what to do
about it, so that the CLI can print it as it is and a notebook user can act on it.
"""

from __future__ import annotations

from dataclasses import dataclass


class TerritoryError(Exception):
    """Root of every error the engine raises on purpose."""


@dataclass(frozen=True)
class InputProblem:
    """One problem found in an input table.

    ``row`` is the row number as the user sees it in the file (the header is row 1 in CSV and
    XLSX, so the first record is row 2); ``None`` when the problem concerns the whole file or a
    whole column.
    """

    source: str
    row: int | None
    column: str | None
    message: str
    fix: str

    def __str__(self) -> str:
        """Say where the problem is (file, row, column), what it is and how to fix it."""
        where = self.source
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column '{self.column}'"
        return f"{where}: {self.message}. Fix: {self.fix}"


class DataValidationError(TerritoryError):
    """Input tables are unusable; carries every problem found, not only the first."""

    def __init__(self, problems: list[InputProblem], max_shown: int = 50) -> None:
        self.problems = list(problems)
        shown = "\n".join(f"  - {p}" for p in self.problems[:max_shown])
        more = len(self.problems) - max_shown
        if more > 0:
            shown += f"\n  ... and {more} more problem(s) of the same kinds"
        super().__init__(f"{len(self.problems)} problem(s) in the input data:\n{shown}")


class ScenarioError(TerritoryError):
    """A scenario or configuration file is invalid (names the key and the file)."""


class UsageError(TerritoryError):
    """The request itself cannot be carried out as asked (exit 2): a bad argument, name or path.

    Subclasses say which kind; every message names the offending value and the rule it broke.
    """


class OutputFolderError(UsageError):
    """``--out`` (or another output path) may not be written; raised before any solve.

    It holds files the engine did not write, is a file, or cannot be written.
    """


class UnsafeNameError(UsageError):
    """User text that would become part of a path is unsafe, or a path would leave its folder.

    The text (a scenario stem, a label, an id) breaks the naming rule, or a joined path would
    leave the folder it was meant for.
    """


class ResourceLimitError(UsageError):
    """The run would not fit this machine (memory); the message says what would fit."""


class CheckpointDamagedError(TerritoryError):
    """A checkpoint folder's files are unreadable; the message says which and what to do."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (a batch scheduler stopping the run): handled like Ctrl-C, exit 143.

    A subclass of ``KeyboardInterrupt`` so that every clean-up written for Ctrl-C runs for it.
    """

    def __init__(self, signal_number: int = 15) -> None:
        self.signal_number = signal_number
        super().__init__(f"terminated by signal {signal_number}")


@dataclass(frozen=True)
class InfeasibilityReason:
    """Why a set of constraints cannot all hold, in the business's terms.

    ``constraint`` names the rule (for example ``potential_upper``), ``subject`` the account or
    rep involved, ``excess`` by how much it is violated in the rule's unit, and
    ``min_balance`` the smallest tolerance that would remove this reason (when one exists).
    """

    constraint: str
    subject: str
    message: str
    excess: float | None = None
    min_balance: float | None = None

    def __str__(self) -> str:
        """Return the message alone: it is written for the user, in the business's terms."""
        return self.message


class InfeasibleError(TerritoryError):
    """The constraints cannot all be met; the reasons say which, where and by how much."""

    def __init__(self, reasons: list[InfeasibilityReason], hint: str = "") -> None:
        self.reasons = list(reasons)
        needed = [r.min_balance for r in self.reasons if r.min_balance is not None]
        self.min_balance = max(needed) if needed else None
        lines = "\n".join(f"  - {r}" for r in self.reasons[:30])
        if len(self.reasons) > 30:
            lines += f"\n  ... and {len(self.reasons) - 30} more"
        text = f"The constraints cannot all be met:\n{lines}"
        if hint:
            text += f"\n{hint}"
        super().__init__(text)


class SolverUnavailableError(TerritoryError):
    """A solver backend was asked for but cannot run here."""


class UnknownSolverError(UsageError, SolverUnavailableError):
    """``solver`` names no backend: a bad argument (exit 2), listing the valid names."""


class SolveError(TerritoryError):
    """A backend failed in a way that is not the data's fault."""
