"""What every section of the page needs to know about the run it describes."""

from __future__ import annotations

from territory.io.runs import PlanFolder
from territory.rendering.report.views import Notice


class RunContext:
    """What every section needs: the run, its folder as typed, the currency label, rep names."""

    def __init__(self, run: PlanFolder, plan: str, currency: str) -> None:
        self.run = run
        self.plan = plan
        self.currency = currency
        reps = run.reps
        ids = reps["rep_id"].astype(str).tolist()
        names = (
            reps["name"].astype(object).where(reps["name"].notna(), None).tolist()
            if "name" in reps.columns
            else [None] * len(ids)
        )
        self.rep_names: dict[str, str] = {
            i: ("" if n is None else str(n)) for i, n in zip(ids, names, strict=True)
        }

    def rep_id(self, value: object) -> str:
        """Id as in the reps table: CSV outputs may carry Excel's leading apostrophe."""
        raw = str(value)
        if raw not in self.rep_names and raw.startswith("'") and raw[1:] in self.rep_names:
            return raw[1:]
        return raw

    def missing(self, what: str, command: str) -> Notice:
        """Say that ``what`` is missing and which command (for this folder) makes it."""
        return Notice(what, command.format(plan=self.plan))

    @property
    def unit(self) -> str:
        """The currency as a header suffix (" (USD)"), or "" when none is known."""
        return f" ({self.currency})" if self.currency else ""
