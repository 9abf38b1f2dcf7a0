"""Files a user supplies so that checks no engine data can settle become measurable.

Five small tables (CSV, XLSX or Parquet, read by :func:`territory.io.readers.read_table`):

* objectives (C1): ``objective_id``, ``roles`` (role names separated by ``;``), optional
  ``weight``;
* market pay (C2): ``role``, ``ote_p25``, ``ote_p50``, ``ote_p75``, optional
  ``variable_share_p50`` (a fraction of OTE);
* survey (C9, and T8's ease of process): a row per respondent with optional ``group`` and the
  answers ``can_calculate_pay`` and/or ``process_is_clear``;
* payouts (C10): a row per payout run with ``period_end`` and ``paid_on`` dates, optional
  ``payments`` and ``corrections`` counts;
* data dates (T8): ``item`` and ``date`` rows naming ``assessed_on`` and any of
  ``potential_as_of``, ``history_through``, ``last_closed_period_end``, ``last_review``.

Every problem names the file, the row (as the file numbers it: the header is row 1) and the
column, and says how to fix it; all problems of all files come back together.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from territory.errors import DataValidationError, InputProblem
from territory.io.readers import read_table

DATE_ITEMS = (
    "assessed_on",
    "potential_as_of",
    "history_through",
    "last_closed_period_end",
    "last_review",
)
"""The dates a data dates file may name; ``assessed_on`` is required."""

ANSWER_COLUMNS = ("can_calculate_pay", "process_is_clear")
"""Survey questions the checks read: C9's and T8's."""

_YES = {"yes", "y", "true", "t", "agree", "1"}
_NO = {"no", "n", "false", "f", "disagree", "0"}


@dataclass(frozen=True)
class CheckInputs:
    """Paths of the files ``territory check`` reads besides the run folder (each optional)."""

    objectives: Path | None = None
    market_pay: Path | None = None
    survey: Path | None = None
    payouts: Path | None = None
    data_dates: Path | None = None

    def given(self) -> bool:
        """Tell whether any file is named."""
        return any(getattr(self, f.name) is not None for f in fields(self))


class _Table:
    """One file being read: its rows (blank rows skipped) and the problems found so far."""

    def __init__(self, path: Path, problems: list[InputProblem]) -> None:
        self.source = str(path)
        self.problems = problems
        frame = read_table(path)
        frame.columns = [str(c).strip() for c in frame.columns]
        filled = frame.notna() & (frame.astype("string").apply(lambda c: c.str.strip()) != "")
        self.frame = frame[filled.any(axis=1)]

    def problem(self, row: int | None, column: str | None, message: str, fix: str) -> None:
        self.problems.append(InputProblem(self.source, row, column, message, fix))

    def columns(self, required: Sequence[str], optional: Sequence[str]) -> bool:
        """Report missing required columns and misspelt known ones; True when all are there."""
        have = set(self.frame.columns)
        known = [*required, *optional]
        for column in sorted(have - set(known)):
            close = difflib.get_close_matches(column, known, n=1, cutoff=0.75)
            if close and close[0] not in have:
                self.problem(None, column, "unknown column", f"rename it to '{close[0]}'")
        missing = [c for c in required if c not in have]
        for column in missing:
            self.problem(
                None, column, "required column is missing", f"add a '{column}' column (see README)"
            )
        return not missing

    def rows(self) -> list[tuple[int, Mapping[str, Any]]]:
        """Return each row with its number in the file (the header is row 1)."""
        return [
            (int(i) + 2, row)
            for i, row in zip(self.frame.index, self.frame.to_dict("records"), strict=True)
        ]

    def cell(
        self,
        row: int,
        column: str,
        value: Any,
        parse: Callable[[Any], Any],
        expected: str,
    ) -> Any:
        """Parse one cell; a problem (and None) when it does not parse."""
        if _blank(value):
            return None
        try:
            return parse(value)
        except (TypeError, ValueError):
            self.problem(row, column, f"{value!r} is not {expected}", f"write {expected}")
            return None


def _blank(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _number(value: Any) -> float:
    """Read a finite number; thousands separators and a currency sign are allowed in text."""
    if isinstance(value, bool):
        raise ValueError("a switch is not a number")
    text = str(value).strip().replace(",", "").replace("_", "").lstrip("$€£")
    number = float(text)
    if not math.isfinite(number):
        raise ValueError("not finite")
    return number


def _date(value: Any) -> date:
    """Read a calendar date: a workbook's date cell, or text written YYYY-MM-DD."""
    if isinstance(value, datetime | pd.Timestamp):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip()[:10])


def _roles(value: Any) -> tuple[str, ...]:
    names = tuple(r.strip() for r in str(value).replace("|", ";").split(";") if r.strip())
    if not names:
        raise ValueError("no role")
    return names


def read_objectives(path: Path, problems: list[InputProblem]) -> dict[str, Any]:
    """Read the objectives file: the roles each objective applies to and, if given, its weight."""
    table = _Table(path, problems)
    if not table.columns(("objective_id", "roles"), ("weight", "description", "objective")):
        return {}
    roles: dict[str, tuple[str, ...]] = {}
    weights: dict[str, float] = {}
    for row, record in table.rows():
        objective = str(record["objective_id"] or "").strip()
        if not objective:
            table.problem(row, "objective_id", "empty objective id", "name the objective")
            continue
        if objective in roles:
            table.problem(row, "objective_id", f"'{objective}' is listed twice", "keep one row")
            continue
        parsed = table.cell(row, "roles", record["roles"], _roles, "role names separated by ';'")
        if parsed is None:
            table.problem(
                row, "roles", "no role given", "name the roles it applies to, e.g. hunter"
            )
            continue
        roles[objective] = parsed
        weight = table.cell(row, "weight", record.get("weight"), _number, "a number")
        if weight is not None and weight < 0:
            table.problem(row, "weight", f"weight {weight:g} is negative", "use 0 or more")
        elif weight is not None:
            weights[objective] = weight
    if weights and len(weights) < len(roles):
        table.problem(
            None, "weight", "some objectives have a weight and others not", "weigh every one"
        )
    return {"objectives": roles, "objective_weights": weights or None}


_MONEY = ("ote_p25", "ote_p50", "ote_p75")


def read_market_pay(path: Path, problems: list[InputProblem]) -> dict[str, Any]:
    """Read the market pay file: per role, OTE at P25, P50 and P75 and the median variable share."""
    table = _Table(path, problems)
    if not table.columns(("role", *_MONEY), ("variable_share_p50", "source")):
        return {}
    records = []
    seen: set[str] = set()
    for row, record in table.rows():
        role = str(record["role"] or "").strip()
        key = role.lower().replace("-", "_").replace(" ", "_")
        if not role or key in seen:
            fix = "name the role as the comp plan or reps table does"
            table.problem(row, "role", "empty or repeated role", fix)
            continue
        seen.add(key)
        money = [table.cell(row, c, record[c], _number, "an amount per year") for c in _MONEY]
        if any(m is None for m in money):
            for column, m in zip(_MONEY, money, strict=True):
                if m is None and _blank(record[column]):
                    table.problem(row, column, "no amount", "give the market OTE at this point")
            continue
        if not 0 < money[0] <= money[1] <= money[2]:
            table.problem(
                row, "ote_p25", "market OTE must be positive with P25 <= P50 <= P75",
                "check the order of the three columns",
            )  # fmt: skip
            continue
        mix = table.cell(
            row, "variable_share_p50", record.get("variable_share_p50"), _number, "a fraction"
        )
        if mix is not None and not 0 <= mix <= 1:
            table.problem(
                row, "variable_share_p50", f"{mix:g} is not a share of OTE", "write 0.4 for 40%"
            )
            continue
        records.append(dict(zip(("role", *_MONEY), (role, *money), strict=True)))
        records[-1]["variable_share_p50"] = math.nan if mix is None else mix
    frame = pd.DataFrame(records, columns=["role", *_MONEY, "variable_share_p50"])
    return {"market_pay": frame}


def _answers(table: _Table, column: str) -> np.ndarray:
    """Read one question: yes/no words or 1/0, or a 1-5 agreement scale (4 and 5 agree)."""
    raw = [(row, record.get(column)) for row, record in table.rows()]
    texts = [(row, str(v).strip().lower()) for row, v in raw if not _blank(v)]
    scale = any(t in {"2", "3", "4", "5", "2.0", "3.0", "4.0", "5.0"} for _, t in texts)
    out = np.full(len(raw), np.nan)
    for i, (row, value) in enumerate(raw):
        if _blank(value):
            continue
        text = str(value).strip().lower().removesuffix(".0")
        if scale and text in {"1", "2", "3", "4", "5"}:
            out[i] = 1.0 if int(text) >= 4 else 0.0
        elif not scale and text in _YES | _NO:
            out[i] = 1.0 if text in _YES else 0.0
        else:
            expected = "1 to 5 (the column uses a scale)" if scale else "yes or no (or 1/0)"
            table.problem(row, column, f"{value!r} is not an answer", f"write {expected}")
    return out


def read_survey(path: Path, problems: list[InputProblem]) -> dict[str, Any]:
    """Read the survey file: each respondent's group and answers, as 1 (agree), 0 or NaN."""
    table = _Table(path, problems)
    table.columns((), ("respondent_id", "group", *ANSWER_COLUMNS))
    asked = [c for c in ANSWER_COLUMNS if c in table.frame.columns]
    if not asked:
        table.problem(
            None, None, "no answer column",
            f"add {' and/or '.join(ANSWER_COLUMNS)} (yes/no or a 1-5 scale)",
        )  # fmt: skip
        return {}
    group = [str(r.get("group") or "").strip() for _, r in table.rows()]
    frame = pd.DataFrame({"group": group, **{c: _answers(table, c) for c in asked}})
    return {"survey": frame}


def read_payouts(path: Path, problems: list[InputProblem]) -> dict[str, Any]:
    """Read the payouts file: period close and payment dates, payments and corrections."""
    table = _Table(path, problems)
    if not table.columns(("period_end", "paid_on"), ("period", "payments", "corrections")):
        return {}
    records = []
    for row, record in table.rows():
        end = table.cell(row, "period_end", record["period_end"], _date, "a date YYYY-MM-DD")
        paid = table.cell(row, "paid_on", record["paid_on"], _date, "a date YYYY-MM-DD")
        count = table.cell(row, "payments", record.get("payments"), _number, "a whole number")
        fixed = table.cell(row, "corrections", record.get("corrections"), _number, "a number")
        if end is None or paid is None:
            if _blank(record["period_end"]) or _blank(record["paid_on"]):
                table.problem(row, "period_end", "a date is missing", "give both dates")
            continue
        if paid < end:
            table.problem(
                row, "paid_on", f"paid on {paid} before the period ended on {end}",
                "check the two dates are not swapped",
            )  # fmt: skip
            continue
        count = 1.0 if count is None else count
        fixed = 0.0 if fixed is None else fixed
        if count < 1 or not count.is_integer():
            table.problem(row, "payments", f"{count:g} payments", "give a whole number, 1 or more")
            continue
        if not 0 <= fixed <= count:
            table.problem(row, "corrections", f"{fixed:g} corrections", "give 0 to payments")
            continue
        records.append((pd.Timestamp(end), pd.Timestamp(paid), count, fixed))
    columns = ["period_end", "paid_on", "payments", "corrections"]
    return {"payouts": pd.DataFrame(records, columns=columns)}


def read_data_dates(path: Path, problems: list[InputProblem]) -> dict[str, Any]:
    """Read the data dates file: ``item,date`` rows, ages measured to ``assessed_on``."""
    table = _Table(path, problems)
    if not table.columns(("item", "date"), ()):
        return {}
    dates: dict[str, date] = {}
    rows: dict[str, int] = {}
    for row, record in table.rows():
        item = str(record["item"] or "").strip().lower()
        if item in rows:
            table.problem(row, "item", f"'{item}' is listed twice", "keep one row")
            continue
        if item not in DATE_ITEMS:
            close = difflib.get_close_matches(item, DATE_ITEMS, n=1)
            fix = f"use '{close[0]}'" if close else f"use one of {', '.join(DATE_ITEMS)}"
            table.problem(row, "item", f"'{item}' is unknown", fix)
            continue
        rows[item] = row
        when = table.cell(row, "date", record["date"], _date, "a date YYYY-MM-DD")
        if when is not None:
            dates[item] = when
        elif _blank(record["date"]):
            table.problem(row, "date", f"no date for {item}", "write the date YYYY-MM-DD")
    if "assessed_on" not in rows:
        table.problem(
            None, "item", "no assessed_on row",
            "add the date the data are judged at (e.g. the day the plan was built)",
        )  # fmt: skip
        return {}
    if "assessed_on" not in dates:
        return {}
    assessed = dates["assessed_on"]
    for item, when in dates.items():
        if item != "last_closed_period_end" and when > assessed:
            fix = f"check both dates (assessed_on is {assessed})"
            table.problem(rows[item], "date", f"{item} {when} is after assessed_on", fix)
    return {"data_dates": dates}


_READERS: Mapping[str, Callable[[Path, list[InputProblem]], dict[str, Any]]] = {
    "objectives": read_objectives,
    "market_pay": read_market_pay,
    "survey": read_survey,
    "payouts": read_payouts,
    "data_dates": read_data_dates,
}


def load_check_inputs(inputs: CheckInputs) -> dict[str, Any]:
    """Read every named file into the evidence fields it fills.

    Parameters
    ----------
    inputs
        The files; those not named are skipped.

    Returns
    -------
    dict
        :class:`~territory.domain.checks.evidence.CheckEvidence` field names and values.

    Raises
    ------
    DataValidationError
        Every problem of every file, each naming file, row and column.
    """
    problems: list[InputProblem] = []
    found: dict[str, Any] = {}
    for name, reader in _READERS.items():
        path = getattr(inputs, name)
        if path is None:
            continue
        try:
            found.update(reader(Path(path), problems))
        except DataValidationError as exc:
            problems += exc.problems
    if problems:
        raise DataValidationError(problems)
    return found
