"""The comparison page: run folders, key figures side by side, maps and assignment differences.

The markup is the report's (``territory/rendering/report/templates/comparison.html.j2``, rendered by
:data:`territory.rendering.report.page.ENVIRONMENT`); this module turns a :class:`ComparisonResult`
into
the plain display text the template shows. The page is self-contained (inline CSS, maps as PNG
``data:`` URIs, no script, a Content-Security-Policy that forbids any request), every value is
HTML-escaped by the template, and nothing depends on the clock: the same folders give the same
bytes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
from markupsafe import Markup

from territory.io.runs import PlanFolder
from territory.rendering.compare.kpis import (
    DIFF_FILE,
    ComparisonResult,
    Kpi,
    _missing,
    finite_number,
    format_kpi,
    kpi_specs,
)
from territory.rendering.compare.maps import comparison_maps, difference_maps
from territory.rendering.report import run_fingerprint
from territory.rendering.report.page import _CSS, ENVIRONMENT
from territory.rendering.report.views import Cell, Image, Row, Table, image

MAX_DIFF_ROWS = 500
"""The page lists at most this many differing accounts (the CSV has them all)."""

_EXTRA_CSS = "\n" + resources.files("territory.rendering.report").joinpath(
    "templates/comparison.css"
).read_text(encoding="utf-8")
"""The comparison's own style rules (``templates/comparison.css``), after the report's."""


@dataclass(frozen=True)
class _RunRow:
    """One compared run in the page header."""

    name: str
    path: str
    fingerprint: str
    accounts: int
    reps: int
    parameters: str


@dataclass(frozen=True)
class _KpiCell:
    """One run's value of a key figure; ``note`` > 0 numbers the reason a blank cell gives."""

    text: str
    css: str = "num"
    title: str = ""
    note: int = 0


@dataclass(frozen=True)
class _KpiRow:
    """One key figure over all runs."""

    key: str
    label: str
    cells: tuple[_KpiCell, ...]


@dataclass(frozen=True)
class _MatrixRow:
    """How many accounts run ``name`` assigns differently from each run (None: itself)."""

    name: str
    counts: tuple[int | None, ...]


def comparison_html(
    result: ComparisonResult,
    runs: Sequence[PlanFolder],
    *,
    maps: Sequence[bytes] | None = None,
    diff_maps: Sequence[bytes] | None = None,
) -> str:
    """Render the comparison page: runs, key figures side by side, maps, assignment differences.

    Parameters
    ----------
    result
        The comparison of ``runs`` (:func:`territory.rendering.compare.compare_runs`).
    runs
        The compared run folders, in the order of ``result.names``.
    maps
        PNG bytes, one per run; by default :func:`territory.rendering.compare.comparison_maps`
        draws them.
    diff_maps
        PNGs of the accounts that differ; drawn by
        :func:`territory.rendering.compare.maps.difference_maps` when ``maps`` is drawn too.

    Returns
    -------
    str
        The page. Same arguments, same text.

    Raises
    ------
    ValueError
        ``runs`` is not as long as the list of runs ``result`` compares.
    """
    if len(runs) != len(result.names):
        raise ValueError(f"the result compares {len(result.names)} runs but {len(runs)} were given")
    pngs = list(maps) if maps is not None else comparison_maps(runs, result.names)
    if maps is None and diff_maps is None:
        diff_maps = difference_maps(runs, result.assignment_diff, result.names)
    kpis, notes = _kpi_rows(result)
    diff = result.assignment_diff
    return ENVIRONMENT.get_template("comparison.html.j2").render(
        title="Scenario comparison: " + " \u00b7 ".join(result.names),
        css=Markup(_CSS + _EXTRA_CSS),
        names=result.names,
        runs=[
            _run_row(name, path, run)
            for name, path, run in zip(result.names, result.paths, runs, strict=True)
        ],
        kpis=kpis,
        notes=notes,
        maps=_map_images(result, pngs),
        diff_count=len(diff),
        diff_maps=[
            image(
                png,
                "Map of the accounts assigned differently",
                _DIFF_CAPTION if k == 0 else "The dashed frame of the map above, closer.",
                ident=f"diff-map-{k}",
            )
            for k, png in enumerate(diff_maps or [])
        ],
        diff_file=DIFF_FILE,
        matrix=_diff_matrix(result) if len(result.names) > 1 else [],
        diff_table=_diff_table(result) if len(diff) else None,
        diff_more=(
            f" (the first {MAX_DIFF_ROWS:,} of {len(diff):,})" if len(diff) > MAX_DIFF_ROWS else ""
        ),
    )


_DIFF_CAPTION = (
    "Only the accounts that some run assigns to another rep are in colour: filled with their rep "
    "in the last run, ringed with their rep in the first; grey dots are accounts every run "
    "assigns alike. Stars are the home bases of the reps involved."
)


def _run_row(name: str, path: str, run: PlanFolder) -> _RunRow:
    params = run.solve.get("parameters") or {}
    return _RunRow(
        name=name,
        path=path,
        fingerprint=run_fingerprint(run.solve),
        accounts=len(run.accounts),
        reps=len(run.reps),
        parameters=_params_text(params),
    )


def _params_text(params: Mapping[str, Any]) -> str:
    keys = ("balance_potential", "balance_workload", "disruption_weight", "solver", "seed")
    return ", ".join(f"{k}={params[k]}" for k in keys if k in params)


def _best(values: list[float | None], better: str | None) -> set[int]:
    numbers = [(i, v) for i, v in enumerate(values) if v is not None]
    if better is None or len(numbers) < 2:
        return set()
    pick = min if better == "lower" else max
    target = pick(v for _, v in numbers)
    if all(math.isclose(v, target, rel_tol=1e-12, abs_tol=1e-12) for _, v in numbers):
        return set()
    return {i for i, v in numbers if math.isclose(v, target, rel_tol=1e-12, abs_tol=1e-12)}


def _kpi_rows(result: ComparisonResult) -> tuple[list[_KpiRow], list[str]]:
    """Build the key-figure rows (best values marked) and number the reasons of blank cells."""
    specs = {k.key: k for k in kpi_specs()}
    notes: list[str] = []
    rows = []
    for _, record in result.kpis.iterrows():
        key = str(record["kpi"])
        spec = specs.get(key, Kpi(key, str(record["label"]), str(record["unit"])))
        values = [record[n] for n in result.names]
        numeric = [None if spec.unit == "text" or _missing(v) else finite_number(v) for v in values]
        best = _best(numeric, spec.better)
        cells = []
        for i, (name, value) in enumerate(zip(result.names, values, strict=True)):
            if _missing(value):
                reason = result.reason(key, name) or "not available"
                note = f"{name}: {reason}"
                if note not in notes:
                    notes.append(note)
                cells.append(_KpiCell("\u2013", "num blank", reason, notes.index(note) + 1))
            else:
                css = "num best" if i in best else "num"
                cells.append(_KpiCell(format_kpi(value, spec.unit), css))
        rows.append(_KpiRow(key, spec.label, tuple(cells)))
    return rows, notes


def _map_images(result: ComparisonResult, pngs: Sequence[bytes]) -> list[Image]:
    return [
        image(
            png,
            f"Map of run {name}",
            f"{name}: accounts in the colour of their rep; black rings move.",
        )
        for name, png in zip(result.names, pngs, strict=True)
    ]


def _diff_matrix(result: ComparisonResult) -> list[_MatrixRow]:
    """Run against run: the accounts both runs assign, but to different reps."""
    diff = result.assignment_diff
    rows = []
    for a in result.names:
        counts: list[int | None] = []
        for b in result.names:
            if a == b:
                counts.append(None)
                continue
            ra = diff[a].to_numpy(dtype=object)
            rb = diff[b].to_numpy(dtype=object)
            both = np.array(
                [not _missing(x) and not _missing(y) for x, y in zip(ra, rb, strict=True)],
                dtype=bool,
            )
            counts.append(int((both & (ra.astype(str) != rb.astype(str))).sum()))
        rows.append(_MatrixRow(a, tuple(counts)))
    return rows


def _diff_table(result: ComparisonResult) -> Table:
    """List the first :data:`MAX_DIFF_ROWS` accounts assigned differently, with each rep."""
    names = result.names
    headers = tuple((c, False) for c in ("Account", "Name", "Current rep", *names))
    rows = []
    for _, record in result.assignment_diff.head(MAX_DIFF_ROWS).iterrows():
        columns = ("account_id", "name", "current_rep", *names)
        rows.append(Row(tuple(_cell(record[c]) for c in columns)))
    return Table(headers, tuple(rows), ident="diff-table")


def _cell(value: object) -> Cell:
    return Cell("\u2013" if _missing(value) else str(value))
