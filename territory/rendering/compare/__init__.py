"""Side by side: the key figures of several run folders, how their assignments differ, and maps.

``territory compare out/a out/b [out/c ...]`` reads each folder with
:func:`territory.io.runs.load_plan` and builds a :class:`ComparisonResult`:

* ``kpis`` (``comparison.csv``): one row per key figure, one column per run named after its
  folder. The plan figures come from :data:`territory.domain.metrics.METRICS` with the run's own
  tier
  factors, so they equal the metrics of each run; then quota spread, stress-test verdicts at
  plan, check statuses and the solve. A figure a folder cannot give (no quotas, no stress test,
  no checks yet, no bound) is blank, and ``note`` says why and which command adds it.
* ``assignment_diff`` (``assignment_diff.csv``): the accounts whose rep is not the same in every
  run, with the rep in each run.

:func:`comparison_html` draws a self-contained page (inline CSS, maps as PNG ``data:`` URIs,
no script, a Content-Security-Policy that forbids any request, every text HTML-escaped, no
clock: the same folders give the same bytes) with the key figures and one map per run drawn on
the same extent with the same colour for a rep id on every map.

The package, by seam: :mod:`~territory.rendering.compare.kpis` computes (no files, no drawing),
:mod:`~territory.rendering.compare.maps` draws the maps, :mod:`~territory.rendering.compare.page`
renders the page
from the report's templates, and :mod:`~territory.rendering.compare.files` is the only part that
reads
or writes files (:func:`load_runs`, :func:`write_comparison`).
"""

from territory.rendering.compare.files import load_runs, write_comparison
from territory.rendering.compare.kpis import (
    COMPARISON_FILE,
    DIFF_FILE,
    HTML_FILE,
    KPIS,
    ComparisonResult,
    Kpi,
    assignment_diff,
    compare_runs,
    format_kpi,
    kpi_specs,
    plan_array,
    run_kpis,
    run_names,
)
from territory.rendering.compare.maps import comparison_maps, shared_rep_colours
from territory.rendering.compare.page import comparison_html

__all__ = [
    "COMPARISON_FILE",
    "DIFF_FILE",
    "HTML_FILE",
    "KPIS",
    "ComparisonResult",
    "Kpi",
    "assignment_diff",
    "compare_runs",
    "comparison_html",
    "comparison_maps",
    "format_kpi",
    "kpi_specs",
    "load_runs",
    "plan_array",
    "run_kpis",
    "run_names",
    "shared_rep_colours",
    "write_comparison",
]
