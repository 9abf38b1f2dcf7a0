"""Rendering the report page: view objects in, one self-contained HTML document out.

The markup is in ``templates/`` (Jinja2): ``page.html.j2`` is the frame every page shares,
``report.html.j2`` the report, ``macros.html.j2`` the pieces, ``report.css`` the style sheet,
inlined into the page. The environment autoescapes every value (user text such as account and
rep names, check statements and notes can only ever be text) and fails loudly on a variable
the template names but the code did not pass (``StrictUndefined``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from importlib import resources
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from territory.io.runs import PlanFolder
from territory.rendering.report.context import RunContext
from territory.rendering.report.scorecard import scorecard_view
from territory.rendering.report.sections import (
    balance_view,
    header_view,
    map_view,
    quota_view,
    solve_view,
)
from territory.rendering.report.stress_section import stress_view
from territory.rendering.report.text import currency

SECTION_IDS = ("map", "balance", "solve-summary", "quotas", "stress", "scorecard")
"""Element ids of the six sections, in page order (stable: tests and links rely on them)."""

NAV = tuple(
    zip(SECTION_IDS, ("Map", "Balance", "Solve", "Quotas", "Stress test", "Checks"), strict=True)
)
"""The navigation bar: (section id, link text)."""


def _finalize(value: object) -> object:
    """Escape every value the way :func:`html.escape` does before autoescaping sees it.

    Autoescaping would escape with markupsafe (``&#39;``, ``&#34;``); escaping first with the
    standard library keeps the page's bytes what they were before the templates (``&#x27;``,
    ``&quot;``), so a rerun of an old folder gives an identical page. Values that are already
    markup (macro output, the style sheet) pass through; an undefined value still raises.
    """
    if hasattr(value, "__html__"):
        return value
    return Markup(escape(str(value)))


def _thousands(value: int) -> str:
    """Format an integer with thousands separators (the template filter ``thousands``)."""
    return f"{int(value):,}"


ENVIRONMENT = Environment(
    loader=PackageLoader("territory.rendering.report", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    finalize=_finalize,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    auto_reload=False,
)
"""The report's Jinja2 environment: package templates, autoescaping, strict variables."""
ENVIRONMENT.filters["thousands"] = _thousands

_CSS = "\n" + resources.files("territory.rendering.report").joinpath(
    "templates/report.css"
).read_text(encoding="utf-8")
"""The style sheet (``templates/report.css``), inlined into the report and the comparison page."""


def render_report(
    run: PlanFolder,
    *,
    checks: Sequence[Mapping[str, Any]] | None = None,
    quota_summary: Mapping[str, Any] | None = None,
    stress: Mapping[str, Any] | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    charts: Mapping[str, bytes] | None = None,
) -> str:
    """Render the report page of a run as one self-contained HTML document.

    Parameters
    ----------
    run
        The alignment run (:func:`territory.io.runs.load_plan`): accounts, reps, plan,
        territories and ``solve.json``.
    checks
        Rows of ``checks.json`` (``check_id``, ``framework_list``, ``statement``, ``status``,
        ``value``, ``threshold``, ``comparator``, ``evidence``, ``needs``, ...), or None.
    quota_summary
        ``quota_summary.json`` of ``territory quota``, or None.
    stress
        ``stress.json`` of ``territory stress``, or None.
    tables
        ``quotas_annual`` (one row per rep), ``stress_scenarios``, ``sensitivity`` and
        ``rep_impact``; any may be missing.
    charts
        PNG bytes by name (see :data:`CHART_NAMES`); other names are shown after them.

    Returns
    -------
    str
        The page. Same arguments, same text: nothing depends on the clock or the machine.
    """
    tables = dict(tables or {})
    charts = dict(charts or {})
    plan = run.path.as_posix()
    ctx = RunContext(run=run, plan=plan, currency=currency(quota_summary))
    return ENVIRONMENT.get_template("report.html.j2").render(
        title=f"Territory plan report \u2013 {run.path.name or plan}",
        css=Markup(_CSS),
        nav=NAV,
        header=header_view(run, checks, quota_summary, stress, tables),
        map=map_view(run),
        balance=balance_view(run),
        solve=solve_view(run),
        quotas=quota_view(ctx, quota_summary, tables.get("quotas_annual")),
        stress=stress_view(ctx, stress, tables, charts),
        scorecard=scorecard_view(ctx, checks),
    )
