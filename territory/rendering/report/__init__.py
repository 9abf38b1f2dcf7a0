"""One self-contained HTML page for a run folder, for a sales leader and a finance reviewer.

The page has a header with the run's fingerprint, then six sections with stable ids:

* ``map`` - accounts coloured by rep, rep home bases labelled, moved accounts ringed;
* ``balance`` - potential and workload of every rep against target and the allowed band;
* ``solve-summary`` - what the solver did and proved;
* ``quotas`` - the annual quota of every rep with its method and bases;
* ``stress`` - the comp plan's stress test: verdicts, charts, scenario and sensitivity tables;
* ``scorecard`` - the thought-starter checks (``checks.json``) by status, territory then comp.

A section whose inputs are missing says which command produces them.

The page needs nothing else: CSS is inline, charts are PNGs in ``data:`` URIs, there is no
JavaScript, and a Content-Security-Policy forbids any request a browser could make. Every text
from the data (account and rep names, check statements, notes) is HTML-escaped by the
templates. There are no clocks in it: the same inputs give the same bytes (on the same
matplotlib and font setup).

The package, by seam:

* :mod:`~territory.rendering.report.inputs` reads a run folder (:func:`collect_report_inputs`);
* :mod:`~territory.rendering.report.sections`, :mod:`~territory.rendering.report.stress_section` and
  :mod:`~territory.rendering.report.scorecard` compute what each section shows, as plain data;
* :mod:`~territory.rendering.report.maps`, :mod:`~territory.rendering.report.labels` and
  :mod:`~territory.rendering.report.figures` draw the PNG charts with matplotlib;
* :mod:`~territory.rendering.report.page` renders the Jinja2 templates in ``templates/``;
* :mod:`~territory.rendering.report.writer` writes the page (:func:`write_report`).

Only ``inputs`` and ``writer`` touch files (and the map reads ``territories.geojson``).
The CLI does ::

    html = render_report(**collect_report_inputs(folder))
    write_report(folder / REPORT_FILE, html)
"""

from territory.rendering.report.context import RunContext as RunContext
from territory.rendering.report.figures import MAX_LABELLED_REPS as MAX_LABELLED_REPS
from territory.rendering.report.figures import _mpl_text as _mpl_text
from territory.rendering.report.figures import _rep_labels as _rep_labels
from territory.rendering.report.figures import balance_chart, sensitivity_chart
from territory.rendering.report.inputs import CHART_NAMES, REPORT_FILE, collect_report_inputs
from territory.rendering.report.inputs import CHECKS_FILE as CHECKS_FILE
from territory.rendering.report.inputs import CSV_TABLES as CSV_TABLES
from territory.rendering.report.labels import Box as Box
from territory.rendering.report.maps import MAP_PALETTE as MAP_PALETTE
from territory.rendering.report.maps import MAX_MAP_ACCOUNTS as MAX_MAP_ACCOUNTS
from territory.rendering.report.maps import MAX_ZOOMS as MAX_ZOOMS
from territory.rendering.report.maps import NO_REP_COLOUR as NO_REP_COLOUR
from territory.rendering.report.maps import TERRITORY_SHAPES as TERRITORY_SHAPES
from territory.rendering.report.maps import ZOOM_MIN_REPS as ZOOM_MIN_REPS
from territory.rendering.report.maps import FloatArray as FloatArray
from territory.rendering.report.maps import TerritoryShape as TerritoryShape
from territory.rendering.report.maps import _map_data as _map_data
from territory.rendering.report.maps import _map_figure as _map_figure
from territory.rendering.report.maps import _map_panel as _map_panel
from territory.rendering.report.maps import _MapData as _MapData
from territory.rendering.report.maps import _padded_box as _padded_box
from territory.rendering.report.maps import map_chart, map_charts, rep_colours
from territory.rendering.report.maps import territory_shapes as territory_shapes
from territory.rendering.report.page import _CSS as _CSS
from territory.rendering.report.page import SECTION_IDS, render_report
from territory.rendering.report.scorecard import CHECKS_COMMAND as CHECKS_COMMAND
from territory.rendering.report.scorecard import FRAMEWORKS as FRAMEWORKS
from territory.rendering.report.scorecard import STATUS_ORDER
from territory.rendering.report.sections import ALIGN_COMMAND as ALIGN_COMMAND
from territory.rendering.report.sections import MAX_LISTED_IDS as MAX_LISTED_IDS
from territory.rendering.report.sections import QUOTA_COMMAND as QUOTA_COMMAND
from territory.rendering.report.sections import run_fingerprint
from territory.rendering.report.stress_section import STRESS_COMMAND as STRESS_COMMAND
from territory.rendering.report.views import Column as Column
from territory.rendering.report.writer import report_writer, write_report

__all__ = [
    "CHART_NAMES",
    "REPORT_FILE",
    "SECTION_IDS",
    "STATUS_ORDER",
    "balance_chart",
    "collect_report_inputs",
    "map_chart",
    "map_charts",
    "render_report",
    "rep_colours",
    "report_writer",
    "run_fingerprint",
    "sensitivity_chart",
    "write_report",
]
