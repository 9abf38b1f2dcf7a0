"""The only part of the comparison that touches files: reading run folders, writing the result.

Reading the optional documents of a run (quotas, stress test, checks) goes through
:class:`territory.io.runs.PlanFolder`; writing goes through :func:`territory.io.write_outputs`,
which replaces the output folder as a whole and only if the engine wrote it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from territory.errors import DataValidationError, InputProblem, ScenarioError
from territory.io import write_outputs
from territory.io.runs import PlanFolder, load_plan
from territory.rendering.compare.kpis import COMPARISON_FILE, DIFF_FILE, HTML_FILE, ComparisonResult
from territory.rendering.report import report_writer


def load_runs(folders: Iterable[str | Path]) -> list[PlanFolder]:
    """Read run folders; the problems of every folder are raised together in one error.

    Parameters
    ----------
    folders
        Run folders written by ``territory align`` (or a scenario run).

    Returns
    -------
    list of PlanFolder
        The loaded runs, in the order given.

    Raises
    ------
    DataValidationError
        Some folder is missing or damaged; every problem of every folder is listed.
    """
    runs: list[PlanFolder] = []
    problems: list[InputProblem] = []
    for folder in folders:
        try:
            runs.append(load_plan(folder))
        except DataValidationError as exc:
            problems.extend(exc.problems)
    if problems:
        raise DataValidationError(problems)
    return runs


def write_comparison(
    out_dir: str | Path, result: ComparisonResult, html: str, *, force: bool = False
) -> Path:
    """Write ``comparison.csv``, ``assignment_diff.csv`` and ``comparison.html`` into ``out_dir``.

    The folder is replaced as a whole (:func:`territory.io.write_outputs`), so it may not be
    one of the compared run folders or hold one, and, unless ``force``, only a folder the
    engine wrote is replaced.

    Parameters
    ----------
    out_dir
        The output folder.
    result
        The comparison (:func:`territory.rendering.compare.compare_runs`).
    html
        The page (:func:`territory.rendering.compare.comparison_html`).
    force
        Replace ``out_dir`` even if it holds files the engine did not write.

    Returns
    -------
    Path
        The folder written.

    Raises
    ------
    ScenarioError
        ``out_dir`` is, or contains, a compared run folder.
    OutputFolderError
        ``out_dir`` holds files the engine did not write (see
        :func:`territory.io.outputs.check_output_folder`).
    """
    target = Path(out_dir).resolve()
    clashes = [p for p in result.paths if Path(p).resolve().is_relative_to(target)]
    if clashes:
        raise ScenarioError(
            f"the output folder {out_dir} would replace the run folder(s) "
            f"{', '.join(clashes)}; choose another --out, e.g. out/compare"
        )
    return write_outputs(
        out_dir,
        {
            Path(COMPARISON_FILE).stem: result.kpis,
            Path(DIFF_FILE).stem: result.assignment_diff,
        },
        {},
        "csv",
        files={HTML_FILE: report_writer(html)},
        command="compare",
        inputs=result.paths,
        force=force,
    )
