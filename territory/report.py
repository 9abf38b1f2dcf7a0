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
from the data (account and rep names, check statements, notes) is HTML-escaped. There are no
clocks in it: the same inputs give the same bytes (on the same matplotlib and font setup).

Only the two functions in the I/O section below touch files: :func:`collect_report_inputs`
reads a run folder into the arguments of :func:`render_report`, and :func:`write_report`
writes the page. Everything else is pure: the CLI does ::

    html = render_report(**collect_report_inputs(folder))
    write_report(folder / REPORT_FILE, html)
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import uuid
from base64 import b64encode
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib import patheffects
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch, Rectangle
from matplotlib.path import Path as MplPath
from matplotlib.ticker import FuncFormatter, PercentFormatter

from territory.charts import DPI, PNG_METADATA
from territory.errors import DataValidationError, InputProblem
from territory.metrics import moved_mask
from territory.runs import QUOTAS, PlanFolder, load_plan

# ============================================================================================
# I/O: the only functions of this module that read or write files.
# ============================================================================================

REPORT_FILE = "report.html"
"""Default name of the page inside a run folder."""

CHECKS_FILE = "checks.json"

CHART_NAMES = ("attainment_distribution", "cost_vs_attainment", "payout_curve", "sensitivity")
"""PNG charts of a run folder (``<name>.png``) that the stress section embeds, in page order."""

CSV_TABLES = ("stress_scenarios", "sensitivity", "rep_impact")
"""CSV tables of a run folder that :func:`render_report` reads from ``tables``."""

_ID_COLUMNS = {"rep_id": str, "territory_id": str, "scenario_id": str, "lever": str}


def collect_report_inputs(folder: str | Path) -> dict[str, Any]:
    """Read a run folder into the keyword arguments of :func:`render_report` (does file I/O).

    Parameters
    ----------
    folder
        A folder written by ``territory align``, possibly completed by ``territory quota``,
        ``territory stress`` and the checks (``checks.json``).

    Returns
    -------
    ``{"run", "checks", "quota_summary", "stress", "tables", "charts"}``; what the folder does
    not hold is ``None`` (documents) or left out (tables, charts). Annual quotas are read from
    the exact Parquet copy (``quotas.parquet``), falling back to ``quotas_annual.csv``.

    Raises
    ------
    DataValidationError
        If the folder is not a complete alignment run (see :func:`territory.runs.load_plan`)
        or one of its JSON documents does not parse.
    """
    path = Path(folder)
    run = load_plan(path)
    tables: dict[str, pd.DataFrame] = {}
    if (path / QUOTAS).exists():
        tables["quotas_annual"] = pd.read_parquet(path / QUOTAS)
    elif (path / "quotas_annual.csv").exists():
        tables["quotas_annual"] = pd.read_csv(path / "quotas_annual.csv", dtype=_ID_COLUMNS)
    for name in CSV_TABLES:
        if (path / f"{name}.csv").exists():
            tables[name] = pd.read_csv(path / f"{name}.csv", dtype=_ID_COLUMNS)
    charts = {
        name: (path / f"{name}.png").read_bytes()
        for name in CHART_NAMES
        if (path / f"{name}.png").exists()
    }
    checks = _read_json(path / CHECKS_FILE)
    if isinstance(checks, Mapping):  # tolerate {"checks": [...]} as well as a bare list
        checks = checks.get("checks")
    return {
        "run": run,
        "checks": checks,
        "quota_summary": _read_json(path / "quota_summary.json"),
        "stress": _read_json(path / "stress.json"),
        "tables": tables,
        "charts": charts,
    }


def _read_json(path: Path) -> Any:
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        problem = InputProblem(
            source=str(path),
            row=exc.lineno,
            column=None,
            message=f"not valid JSON ({exc.msg}, column {exc.colno})",
            fix="run again the step that writes it, or delete it to leave its section out",
        )
        raise DataValidationError([problem]) from exc


def write_report(path: str | Path, html: str) -> Path:
    """Write the page atomically (a sibling temporary file renamed over ``path``); UTF-8."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:12]}")
    try:
        staging.write_text(html, encoding="utf-8", newline="\n")
        os.replace(staging, target)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    return target


def report_writer(html: str) -> Callable[[Path], None]:
    """A writer for :func:`territory.io.write_outputs`' ``files`` (``{REPORT_FILE: ...}``)."""

    def write(target: Path) -> None:
        target.write_text(html, encoding="utf-8", newline="\n")

    return write


# ============================================================================================
# Page
# ============================================================================================

SECTION_IDS = ("map", "balance", "solve-summary", "quotas", "stress", "scorecard")
"""Element ids of the six sections, in page order (stable: tests and links rely on them)."""

STATUS_ORDER = ("PASS", "WARN", "FAIL", "NOT_ASSESSABLE", "INFO", "NOT_APPLICABLE")
"""Check statuses in the order the scorecard counts them."""

FRAMEWORKS = (("territory", "Territory design"), ("comp", "Compensation and quotas"))

QUOTA_COMMAND = "territory quota --plan {plan} --target <company target per year>"
STRESS_COMMAND = "territory stress --plan {plan} --comp <comp plan .toml>"
CHECKS_COMMAND = "territory check --plan {plan}"
ALIGN_COMMAND = "territory align --accounts <accounts> --reps <reps> --out {plan}"

TERRITORY_SHAPES = "territories.geojson"
"""Territory polygons written by ``territory align --units``; the map shades them when present."""

NO_REP_COLOUR = "#BBBBBB"
"""Fill of a territory polygon whose rep is not in the reps table."""

MAX_MAP_ACCOUNTS = 50_000
"""Above this many accounts the map draws an even, seeded sample (the caption says so)."""

MAX_LABELLED_REPS = 80
"""Above this many reps the map leaves out name labels and the balance chart per-rep bars."""

MAX_LISTED_IDS = 30
"""Lists of rep ids in the quota summary stop after this many ("and N more")."""

ZOOM_MIN_REPS = 6
"""A zoomed map is drawn where at least this many home bases crowd together."""

MAX_ZOOMS = 4
"""At most this many zoomed maps (two levels deep) follow the whole map."""

# Sasha Trubetskoy's "20 distinct colours" without white, black, grey and the pale ones that
# vanish on a light map; neighbouring territories differ by greedy colouring, so 14 suffice.
MAP_PALETTE = (
    "#E6194B", "#3CB44B", "#4363D8", "#F58231", "#911EB4", "#42D4F4", "#F032E6", "#BFEF45",
    "#469990", "#9A6324", "#800000", "#808000", "#000075", "#E6BE00",
)  # fmt: skip

_IN_BAND = "#0072B2"
_OUT_OF_BAND = "#D55E00"
_BAND = "#009E73"
_TEXT = "#333333"
_MUTED = "#666666"

_STATUS_STYLE = {
    "PASS": ("#1B7F3B", "#FFFFFF"),
    "WARN": ("#E6A100", "#1F1F1F"),
    "FAIL": ("#C62828", "#FFFFFF"),
    "NOT_ASSESSABLE": ("#6A5ACD", "#FFFFFF"),
    "INFO": ("#1565C0", "#FFFFFF"),
    "NOT_APPLICABLE": ("#9E9E9E", "#FFFFFF"),
}
_COMPARATORS = {
    ">=": "\u2265",
    "<=": "\u2264",
    "!=": "\u2260",
    "==": "=",
    ">": ">",
    "<": "<",
    "between": "within",
    "in": "within",
}

FloatArray = npt.NDArray[np.float64]


def render_report(
    run: PlanFolder,
    *,
    checks: Sequence[Mapping[str, Any]] | None = None,
    quota_summary: Mapping[str, Any] | None = None,
    stress: Mapping[str, Any] | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    charts: Mapping[str, bytes] | None = None,
) -> str:
    """The report page of a run, as one self-contained HTML document.

    Parameters
    ----------
    run
        The alignment run (:func:`territory.runs.load_plan`): accounts, reps, plan,
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
    The page. Same arguments, same text: nothing depends on the clock or the machine.
    """
    tables = dict(tables or {})
    charts = dict(charts or {})
    plan = run.path.as_posix()
    ctx = _Context(run=run, plan=plan, currency=_currency(quota_summary))
    body = [
        _header(run, checks, quota_summary, stress, tables),
        _nav(),
        "<main>",
        _map_section(run),
        _balance_section(run),
        _solve_section(run),
        _quota_section(ctx, quota_summary, tables.get("quotas_annual")),
        _stress_section(ctx, stress, tables, charts),
        _scorecard_section(ctx, checks),
        "</main>",
        _footer(),
    ]
    title = f"Territory plan report \u2013 {run.path.name or plan}"
    return _PAGE.format(title=escape(title), css=_CSS, body="\n".join(body))


class _Context:
    """What every section needs: the run, its folder as typed, the currency label."""

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
        text = str(value)
        if text not in self.rep_names and text.startswith("'") and text[1:] in self.rep_names:
            return text[1:]
        return text

    def missing(self, what: str, command: str) -> str:
        cmd = command.format(plan=self.plan)
        return (
            f'<p class="missing">{escape(what)} Run <code>{escape(cmd)}</code> to add '
            "them to this run folder, then render the report again.</p>"
        )


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" \
content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
{body}
</body>
</html>
"""

_CSS = """
:root { --text: #222; --muted: #5f6368; --line: #dadce0; --soft: #f5f7fa; --accent: #0b5cad; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--text); background: #fff; line-height: 1.45;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  "Noto Sans", "Liberation Sans", sans-serif; }
header, nav, main, footer { max-width: 1240px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 24px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 21px; margin: 0 0 8px; padding-top: 8px; border-top: 3px solid var(--accent); }
h3 { font-size: 16px; margin: 20px 0 8px; }
p { margin: 6px 0 10px; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono",
  monospace; font-size: 13px; }
.sub { color: var(--muted); margin-top: 0; }
.lead { color: var(--muted); max-width: 980px; }
.kpis { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: 10px;
  margin: 16px 0; }
.kpi { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px;
  background: var(--soft); }
.kpi .label { color: var(--muted); font-size: 12px; text-transform: uppercase;
  letter-spacing: .03em; }
.kpi .value { font-size: 20px; font-weight: 650; font-variant-numeric: tabular-nums; }
.kpi .note { color: var(--muted); font-size: 12px; }
.kpi.bad { border-color: #C62828; background: #fdecea; }
.kpi.warn { border-color: #E6A100; background: #fff6e0; }
.kpi.good { border-color: #1B7F3B; background: #eaf6ee; }
nav { position: sticky; top: 0; background: rgba(255,255,255,.96); z-index: 2;
  border-bottom: 1px solid var(--line); padding-top: 8px; padding-bottom: 8px; }
nav a { margin-right: 18px; color: var(--accent); text-decoration: none; font-weight: 600; }
nav a:hover { text-decoration: underline; }
section { margin: 28px 0 36px; scroll-margin-top: 48px; }
figure { margin: 12px 0 20px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px;
  display: block; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; max-width: 1000px; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr));
  gap: 16px; }
.charts figure { max-width: 1002px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left;
  vertical-align: top; }
th { background: var(--soft); font-weight: 650; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
td.name { min-width: 9em; }
tr.total td { font-weight: 650; border-top: 2px solid #999; }
tr.off td.dev { color: #B23C00; font-weight: 650; }
table.kv { max-width: 980px; }
table.kv th { width: 300px; }
table.kv td { font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; }
details { margin: 8px 0 16px; }
summary { cursor: pointer; color: var(--accent); font-weight: 600; }
.missing { border-left: 4px solid #E6A100; background: #fff8e6; padding: 10px 14px;
  max-width: 980px; }
.hash { word-break: break-all; }
.badge { display: inline-block; border-radius: 10px; padding: 1px 9px; font-size: 12px;
  font-weight: 700; letter-spacing: .02em; white-space: nowrap; }
.counts { display: flex; flex-wrap: wrap; gap: 8px; margin: 8px 0 16px; }
.counts .count { border: 1px solid var(--line); border-radius: 8px; padding: 6px 12px;
  background: var(--soft); }
.counts .count b { font-size: 18px; margin-left: 6px; }
table.checks td.statement { max-width: 520px; }
table.checks ul { margin: 0; padding-left: 18px; }
table.checks .needs { color: #4a3aa8; }
table.checks .notes { color: var(--muted); font-size: 12.5px; margin-top: 4px; }
table.checks .meta { color: var(--muted); font-size: 12px; white-space: nowrap; }
ul.samples li { margin-bottom: 6px; }
footer { color: var(--muted); font-size: 12px; border-top: 1px solid var(--line);
  padding-top: 12px; padding-bottom: 32px; }
@media print {
  nav { display: none; }
  section { break-inside: avoid-page; }
  details > *:not(summary) { display: block; }
}
"""


# --------------------------------------------------------------------------- formatting


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return not math.isfinite(float(value))
    return False


def _num(value: object, decimals: int = 0) -> str:
    """A number with thousands separators ('1,234,567'); a dash when missing."""
    if _is_missing(value):
        return "\u2013"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return escape(str(value))
    text = f"{number:,.{decimals}f}"
    return "0" if text.lstrip("-").strip("0.,") == "" and decimals == 0 else text


def _pct(value: object, decimals: int = 1) -> str:
    """A fraction as a percentage: 0.0499 -> '4.99%' with two decimals."""
    if _is_missing(value):
        return "\u2013"
    return f"{100.0 * float(value):,.{decimals}f}%"  # type: ignore[arg-type]


def _plain(value: object) -> str:
    """Any value of a check row as escaped text: numbers readable, lists joined."""
    if _is_missing(value):
        return "\u2013"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        number = float(value)
        if number.is_integer() and abs(number) < 1e15:
            return f"{int(number):,}"
        if abs(number) >= 1000:
            return f"{number:,.0f}"
        return f"{number:.4g}"
    if isinstance(value, Mapping):
        return ", ".join(f"{escape(str(k))}: {_plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return " \u2013 ".join(_plain(v) for v in value) if value else "\u2013"
    return escape(str(value))


def _text_list(value: object) -> list[str]:
    """``needs`` / ``evidence`` / ``inputs_used`` as a list of strings (a bare string too)."""
    if _is_missing(value) or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable):
        return [str(v) for v in value if not _is_missing(v) and str(v) != ""]
    return [str(value)]


def _currency(quota_summary: Mapping[str, Any] | None) -> str:
    if not quota_summary:
        return ""
    return str((quota_summary.get("config") or {}).get("currency") or "")


def _kpi(label: str, value: str, note: str = "", tone: str = "") -> str:
    klass = f"kpi {tone}".strip()
    extra = f'<div class="note">{note}</div>' if note else ""
    return (
        f'<div class="{klass}"><div class="label">{escape(label)}</div>'
        f'<div class="value">{value}</div>{extra}</div>'
    )


def _kv_table(rows: Sequence[tuple[str, str]], table_id: str = "") -> str:
    """Two-column key/value table; values are already escaped HTML."""
    ident = f' id="{table_id}"' if table_id else ""
    lines = [f'<table class="kv"{ident}><tbody>']
    lines += [f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in rows]
    lines.append("</tbody></table>")
    return "\n".join(lines)


Column = tuple[str, str, Callable[[Any], str], bool]
"""(header, frame column, cell formatter returning escaped HTML, right-aligned)."""


def _table(
    frame: pd.DataFrame,
    columns: Sequence[Column],
    *,
    total: Mapping[str, str] | None = None,
    row_class: Callable[[pd.Series], str] | None = None,
    table_class: str = "",
    defaults: Mapping[str, object] | None = None,
) -> str:
    """An HTML table of the columns of ``frame`` that say something, in the given order.

    Columns that are missing from ``frame``, empty in every row, or equal to their value in
    ``defaults`` in every row (no caps hit, no ramp) are left out.
    """
    present = [
        c for c in columns if c[1] in frame.columns and _informative(frame[c[1]], defaults, c[1])
    ]
    klass = f' class="{table_class}"' if table_class else ""
    head = "".join(
        f'<th class="num">{escape(h)}</th>' if right else f"<th>{escape(h)}</th>"
        for h, _, _, right in present
    )
    rows = []
    for _, record in frame.iterrows():
        cls = row_class(record) if row_class else ""
        cells = "".join(
            f'<td class="num{" dev" if "dev" in name else ""}">{fmt(record[name])}</td>'
            if right
            else f'<td class="{"name" if name == "name" else "text"}">{fmt(record[name])}</td>'
            for _, name, fmt, right in present
        )
        rows.append(f'<tr class="{cls}">{cells}</tr>' if cls else f"<tr>{cells}</tr>")
    if total is not None:
        cells = "".join(
            f'<td class="num">{total.get(name, "")}</td>'
            if right
            else f"<td>{total.get(name, '')}</td>"
            for _, name, _, right in present
        )
        rows.append(f'<tr class="total">{cells}</tr>')
    return (
        f'<div class="scroll"><table{klass}><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _informative(values: pd.Series, defaults: Mapping[str, object] | None, name: str) -> bool:
    present = [v for v in values.tolist() if not _is_missing(v)]
    if not present:
        return False
    if defaults is None or name not in defaults:
        return True
    default = defaults[name]
    return any(v != default for v in present)


def _esc(value: object) -> str:
    return "\u2013" if _is_missing(value) else escape(str(value))


def _money(value: object) -> str:
    return _num(value, 0)


def _dec2(value: object) -> str:
    return _num(value, 2)


def _pct1(value: object) -> str:
    return _pct(value, 1)


def _pct2(value: object) -> str:
    return _pct(value, 2)


def _share_of_100(value: object) -> str:
    """A percentage stored as 0..100 (the stress tables' ``pct_*`` columns)."""
    return "\u2013" if _is_missing(value) else f"{float(value):,.1f}%"  # type: ignore[arg-type]


# --------------------------------------------------------------------------- images


def _png_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes without software or time stamps (byte-identical on rerun)."""
    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata=dict(PNG_METADATA))
    return buffer.getvalue()


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _img(png: bytes, alt: str, caption: str = "", *, img_id: str = "") -> str:
    """A figure with the PNG inline as a data URI, its pixel size and an escaped caption."""
    if not png.startswith(_PNG_SIGNATURE) or len(png) < 24:
        return f'<p class="missing">{escape(alt)}: the file is not a PNG image.</p>'
    width, height = struct.unpack(">II", png[16:24])
    ident = f' id="{img_id}"' if img_id else ""
    data = b64encode(png).decode("ascii")
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    return (
        f'<figure{ident}><img alt="{escape(alt)}" width="{width}" height="{height}" '
        f'src="data:image/png;base64,{data}">{cap}</figure>'
    )


def _mpl_text(value: object, width: int = 22) -> str:
    """User text safe for matplotlib: no mathtext (``$``), shortened to ``width`` characters."""
    text = " ".join(str(value).split())
    if len(text) > width:
        text = text[: width - 1] + "\u2026"
    return text.replace("$", r"\$")


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _style(ax: Axes) -> None:
    ax.set_axisbelow(True)
    ax.grid(True, which="major", color="#DDDDDD", linewidth=0.8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=10, colors=_TEXT)


# --------------------------------------------------------------------------- map


def rep_colours(
    x: FloatArray, y: FloatArray, rep_index: npt.NDArray[np.int64], n_reps: int
) -> list[str]:
    """A palette colour per rep such that territories that touch get different colours.

    Two territories touch when one's account is among the 8 nearest accounts of the other's
    (on the map's projected coordinates). Reps are coloured greedily, most-touching first,
    each with the colour its already coloured neighbours use least (weighted by contacts).
    """
    from scipy.sparse import coo_matrix
    from scipy.spatial import cKDTree

    palette = len(MAP_PALETTE)
    if n_reps == 0:
        return []
    indptr: npt.NDArray[np.int64] = np.zeros(n_reps + 1, dtype=np.int64)
    indices: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
    weights: FloatArray = np.zeros(0)
    if x.size > 1:
        k = min(9, x.size)
        _, nearest = cKDTree(np.column_stack([x, y])).query(np.column_stack([x, y]), k=k)
        a = np.repeat(rep_index, k - 1)
        b = rep_index[nearest[:, 1:].ravel()]
        keep = a != b
        ones = np.ones(int(keep.sum()))
        matrix = coo_matrix((ones, (a[keep], b[keep])), shape=(n_reps, n_reps)).tocsr()
        matrix = (matrix + matrix.T).tocsr()
        matrix.sum_duplicates()
        matrix.sort_indices()
        indptr = matrix.indptr.astype(np.int64)
        indices = matrix.indices.astype(np.int64)
        weights = matrix.data.astype(np.float64)
    degree = np.add.reduceat(weights, indptr[:-1]) if weights.size else np.zeros(n_reps)
    degree = np.where(np.diff(indptr) > 0, degree, 0.0)
    colour = np.full(n_reps, -1, dtype=np.int64)
    for rep in np.argsort(-degree, kind="stable").tolist():
        penalty = np.zeros(palette)
        for j in range(int(indptr[rep]), int(indptr[rep + 1])):
            other = int(colour[indices[j]])
            if other >= 0:
                penalty[other] += weights[j]
        # Among equally free colours prefer the least used so far, for an even spread.
        used = np.bincount(colour[colour >= 0], minlength=palette)
        colour[rep] = int(np.lexsort((np.arange(palette), used, penalty))[0])
    return [MAP_PALETTE[c] for c in colour.tolist()]


@dataclass(frozen=True)
class TerritoryShape:
    """One rep's dissolved units as a matplotlib path (degrees): rings closed, holes kept."""

    rep_id: str
    colour: str
    vertices: FloatArray
    codes: npt.NDArray[np.uint8]


def _ring_path(
    ring: Sequence[Sequence[float]], *, hole: bool
) -> tuple[FloatArray, npt.NDArray[np.uint8]]:
    """One closed ring; exteriors counter-clockwise, holes clockwise.

    Agg fills with the non-zero winding rule, so a hole only stays open when it runs against
    its exterior; GeoJSON from other tools need not follow that convention.
    """
    points = np.asarray([xy[:2] for xy in ring], dtype=np.float64).reshape(-1, 2)
    x, y = points[:, 0], points[:, 1]
    twice_area = float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))
    if (twice_area < 0) != hole:
        points = points[::-1].copy()
    codes = np.full(len(points), MplPath.LINETO, dtype=np.uint8)
    codes[0] = MplPath.MOVETO
    if len(points) > 1:
        codes[-1] = MplPath.CLOSEPOLY
    return points, codes


def territory_shapes(folder: Path, colour_of: Mapping[str, str]) -> tuple[TerritoryShape, ...]:
    """The run folder's ``territories.geojson`` as paths coloured by rep (empty when absent).

    Read as plain JSON (Polygon / MultiPolygon in WGS84, as ``write_geojson`` writes them) so the
    report needs no GIS stack; features without geometry are skipped. Holes are separate rings of
    one compound path, so they stay open when the patch is filled.
    """
    doc = _read_json(folder / TERRITORY_SHAPES)
    if not isinstance(doc, dict):
        return ()
    shapes = []
    for feature in doc.get("features") or []:
        geometry = (feature or {}).get("geometry") or {}
        kind, coords = geometry.get("type"), geometry.get("coordinates") or []
        polygons = [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else []
        rings = [
            _ring_path(ring, hole=k > 0)
            for polygon in polygons
            for k, ring in enumerate(polygon)
            if len(ring) > 0
        ]
        if not rings:
            continue
        rep_id = str((feature.get("properties") or {}).get("rep_id", ""))
        shapes.append(
            TerritoryShape(
                rep_id=rep_id,
                colour=colour_of.get(rep_id, NO_REP_COLOUR),
                vertices=np.concatenate([v for v, _ in rings]),
                codes=np.concatenate([c for _, c in rings]),
            )
        )
    return tuple(shapes)


@dataclass(frozen=True)
class _MapData:
    """Everything the map panels draw, in plot coordinates (degrees)."""

    lon: FloatArray
    lat: FloatArray
    colour: npt.NDArray[np.object_]
    moved: npt.NDArray[np.bool_]
    home_lon: FloatArray
    home_lat: FloatArray
    home_colour: list[str]
    home_ok: npt.NDArray[np.bool_]
    labels: list[str]
    cos_lat: float
    mean_lat: float
    n_accounts: int
    n_moved: int
    n_reps: int
    territories: tuple[TerritoryShape, ...] = ()


Box = tuple[float, float, float, float]
"""(lon_min, lat_min, lon_max, lat_max) in degrees."""


def _map_data(run: PlanFolder) -> _MapData:
    accounts, reps = run.accounts, run.reps
    plan = run.rep_of_account.astype(str).to_numpy(dtype=object)
    rep_ids = reps["rep_id"].astype(str).tolist()
    position = {r: i for i, r in enumerate(rep_ids)}
    rep_index = np.array([position.get(r, -1) for r in plan.tolist()], dtype=np.int64)
    lat = accounts["lat"].to_numpy(dtype=np.float64)
    lon = accounts["lon"].to_numpy(dtype=np.float64)
    home_lat = reps["lat"].to_numpy(dtype=np.float64)
    home_lon = reps["lon"].to_numpy(dtype=np.float64)
    moved = moved_mask(accounts, plan)
    known = (rep_index >= 0) & np.isfinite(lat) & np.isfinite(lon)
    all_lat = np.concatenate([lat[known], home_lat[np.isfinite(home_lat)]])
    mean_lat = float(np.mean(all_lat)) if all_lat.size else 0.0
    cos_lat = max(math.cos(math.radians(mean_lat)), 0.05)
    # Colours come from all accounts, so drawing a sample does not change them.
    colours = rep_colours(lon[known] * cos_lat, lat[known], rep_index[known], len(rep_ids))
    shown = np.flatnonzero(known)
    if shown.size > MAX_MAP_ACCOUNTS:
        rng = np.random.default_rng(0)
        shown = np.sort(rng.choice(shown, size=MAX_MAP_ACCOUNTS, replace=False))
    return _MapData(
        lon=lon[shown],
        lat=lat[shown],
        colour=np.array(colours, dtype=object)[rep_index[shown]],
        moved=moved[shown],
        home_lon=home_lon,
        home_lat=home_lat,
        home_colour=colours,
        home_ok=np.isfinite(home_lat) & np.isfinite(home_lon),
        labels=_rep_labels(reps),
        cos_lat=cos_lat,
        mean_lat=mean_lat,
        n_accounts=int(known.sum()),
        n_moved=int(moved[known].sum()),
        n_reps=len(rep_ids),
        territories=territory_shapes(run.path, dict(zip(rep_ids, colours, strict=True))),
    )


def _padded_box(lon: FloatArray, lat: FloatArray, cos_lat: float, pad: float = 0.04) -> Box:
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        return (-1.0, -1.0, 1.0, 1.0)
    lo_x, hi_x = float(lon[ok].min()), float(lon[ok].max())
    lo_y, hi_y = float(lat[ok].min()), float(lat[ok].max())
    # Pad to at least ~5 km so a single town still gets a readable frame.
    pad_x = max((hi_x - lo_x) * pad, 0.05 / cos_lat)
    pad_y = max((hi_y - lo_y) * pad, 0.05)
    return (lo_x - pad_x, lo_y - pad_y, hi_x + pad_x, hi_y + pad_y)


def _zoom_tree(data: _MapData, whole: Box) -> list[tuple[int, Box, int]]:
    """Zoom frames as ``(number, frame, parent number)``, parent 0 being the whole map.

    Crowds on the whole map get a zoom each; a crowd still too dense inside a zoom gets one
    more level. At most :data:`MAX_ZOOMS` in all, numbered in page order.
    """
    out: list[tuple[int, Box, int]] = []

    def visit(box: Box, parent: int, depth: int) -> None:
        for frame in _dense_boxes(data, box):
            if len(out) >= MAX_ZOOMS:
                return
            area = (frame[2] - frame[0]) * (frame[3] - frame[1])
            if parent and area > 0.4 * (box[2] - box[0]) * (box[3] - box[1]):
                continue  # hardly closer than its parent: no help
            out.append((len(out) + 1, frame, parent))
            if depth < 2:
                visit(frame, len(out), depth + 1)

    visit(whole, 0, 1)
    return out


def _dense_boxes(data: _MapData, box: Box, limit: int = 2) -> list[Box]:
    """Up to ``limit`` areas inside ``box`` where home bases crowd too much to label them.

    A crowd is a home base with at least :data:`ZOOM_MIN_REPS` - 1 others within 5% of the
    box's diagonal; its zoom frame covers them with a margin. Frames do not overlap.
    """
    ok = np.flatnonzero(data.home_ok & _inside(data.home_lon, data.home_lat, box))
    if ok.size < ZOOM_MIN_REPS:
        return []
    x = data.home_lon[ok] * data.cos_lat
    y = data.home_lat[ok]
    diagonal = math.hypot((box[2] - box[0]) * data.cos_lat, box[3] - box[1])
    radius = 0.05 * diagonal
    distance = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    free = np.ones(ok.size, dtype=bool)
    boxes: list[Box] = []
    while len(boxes) < limit:
        counts = ((distance <= radius) & free[None, :] & free[:, None]).sum(axis=1)
        centre = int(np.argmax(counts))
        if counts[centre] < ZOOM_MIN_REPS:
            break
        members = free & (distance[centre] <= 1.5 * radius)
        lon_m, lat_m = data.home_lon[ok][members], data.home_lat[ok][members]
        span = max(
            float(lon_m.max() - lon_m.min()) * data.cos_lat, float(lat_m.max() - lat_m.min())
        )
        margin = max(0.35 * span, 0.4 * radius)
        frame = (
            float(lon_m.min()) - margin / data.cos_lat,
            float(lat_m.min()) - margin,
            float(lon_m.max()) + margin / data.cos_lat,
            float(lat_m.max()) + margin,
        )
        if any(_overlap(frame, other) > 0 for other in boxes):
            free &= ~members
            continue
        boxes.append(frame)
        inside = (
            (data.home_lon[ok] >= frame[0]) & (data.home_lon[ok] <= frame[2])
            & (data.home_lat[ok] >= frame[1]) & (data.home_lat[ok] <= frame[3])
        )  # fmt: skip
        free &= ~(members | inside)
    return boxes


def map_charts(run: PlanFolder) -> list[bytes]:
    """PNG maps: the whole area first, then a zoom on each crowd of home bases (at most 2).

    Accounts are coloured by rep (neighbouring territories differ, see :func:`rep_colours`),
    accounts that move to a new rep have a black ring, home bases are stars labelled with the
    rep's name. Longitude is scaled by cos(mean latitude) (an equirectangular projection), so
    distances look right at the map's latitude. Above :data:`MAX_MAP_ACCOUNTS` accounts an even
    seeded sample is drawn. Home bases inside a zoom frame are labelled on the zoom only.
    """
    data = _map_data(run)
    outlines = [t.vertices for t in data.territories]
    whole = _padded_box(
        np.concatenate([data.lon, data.home_lon, *(v[:, 0] for v in outlines)]),
        np.concatenate([data.lat, data.home_lat, *(v[:, 1] for v in outlines)]),
        data.cos_lat,
    )
    labelled = data.n_reps <= MAX_LABELLED_REPS
    zooms = _zoom_tree(data, whole) if labelled else []
    sample = (
        f"; an even sample of {data.lon.size:,} of {data.n_accounts:,} accounts is drawn"
        if data.lon.size < data.n_accounts
        else ""
    )
    title = (
        f"Territories: {data.n_accounts:,} accounts, {data.n_reps:,} reps, "
        f"{data.n_moved:,} accounts moved"
    )
    subtitle = (
        f"Longitude scaled by cos(mean latitude) so distances are true to scale at "
        f"{data.mean_lat:.1f}\u00b0{sample}"
    )
    if zooms:
        subtitle += "; crowded areas are labelled on the zoomed maps below"
    top = [(number, frame) for number, frame, parent in zooms if parent == 0]
    pngs = [_map_panel(data, whole, title, subtitle, labelled=labelled, frames=top)]
    for number, frame, parent in zooms:
        inside = _inside(data.home_lon, data.home_lat, frame) & data.home_ok
        km = (frame[2] - frame[0]) * data.cos_lat * 111.2
        where = "the whole map" if parent == 0 else f"zoom {parent}"
        pngs.append(
            _map_panel(
                data,
                frame,
                f"Zoom {number}: {int(inside.sum()):,} home bases in about {km:,.0f} km across",
                f"The dashed frame 'Zoom {number}' on {where}; same colours, accounts outside "
                "the frame are not shown",
                labelled=True,
                frames=[(n, f) for n, f, p in zooms if p == number],
            )
        )
    return pngs


def map_chart(run: PlanFolder) -> bytes:
    """The whole-area map of :func:`map_charts` (PNG bytes)."""
    return map_charts(run)[0]


def _inside(lon: FloatArray, lat: FloatArray, box: Box) -> npt.NDArray[np.bool_]:
    return (lon >= box[0]) & (lon <= box[2]) & (lat >= box[1]) & (lat <= box[3])


def _map_panel(
    data: _MapData,
    box: Box,
    title: str,
    subtitle: str,
    *,
    labelled: bool,
    frames: Sequence[tuple[int, Box]],
) -> bytes:
    """One map as PNG bytes (see :func:`_map_figure`)."""
    return _png_bytes(_map_figure(data, box, title, subtitle, labelled=labelled, frames=frames))


def _map_figure(
    data: _MapData,
    box: Box,
    title: str,
    subtitle: str,
    *,
    labelled: bool,
    frames: Sequence[tuple[int, Box]],
) -> Figure:
    """Territory polygons (if any) under the account dots, home-base stars and zoom frames.

    Kept apart from the PNG encoding so tests can count what is drawn instead of reading pixels.
    """
    span_x = (box[2] - box[0]) * data.cos_lat
    span_y = box[3] - box[1]
    aspect = span_y / max(span_x, 1e-9)
    width = float(np.clip((10.5 - 1.2) / aspect, 7.0, 12.0))  # tall areas: narrower, not taller
    height = float(np.clip(width * aspect + 1.2, 4.5, 10.5))
    fig = Figure(figsize=(width, height), dpi=DPI, layout="compressed")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_facecolor("#FBFBFB")
    ax.grid(True, color="#E4E4E4", linewidth=0.6)
    ax.set_axisbelow(True)
    visible = _inside(data.lon, data.lat, box)
    n_visible = int(visible.sum())
    size = float(np.clip(40_000.0 / max(n_visible, 1), 4.0, 36.0))
    still = visible & ~data.moved
    ringed = visible & data.moved
    for shape in data.territories:
        # A light tint of the rep's colour, so the same-coloured dots stay visible on top.
        ax.add_patch(
            PathPatch(
                MplPath(shape.vertices, shape.codes), facecolor=to_rgba(shape.colour, 0.3),
                edgecolor="#444444", linewidth=0.7, zorder=1, gid=f"territory:{shape.rep_id}",
            )
        )  # fmt: skip
    ax.scatter(
        data.lon[still], data.lat[still], s=size, c=list(data.colour[still]), linewidths=0,
        zorder=2,
    )  # fmt: skip
    ax.scatter(
        data.lon[ringed], data.lat[ringed], s=size * 1.8, c=list(data.colour[ringed]),
        edgecolors="#111111", linewidths=0.55, zorder=3,
    )  # fmt: skip
    ok = data.home_ok
    ax.scatter(
        data.home_lon[ok], data.home_lat[ok], s=_star_size(data.n_reps), marker="*",
        c=[data.home_colour[i] for i in np.flatnonzero(ok)], edgecolors="black",
        linewidths=1.0, zorder=5,
    )  # fmt: skip
    for k, frame in frames:
        ax.add_patch(
            Rectangle(
                (frame[0], frame[1]), frame[2] - frame[0], frame[3] - frame[1], fill=False,
                edgecolor="#333333", linewidth=1.2, linestyle="--", zorder=6,
            )
        )  # fmt: skip
        ax.annotate(
            f"Zoom {k}", (frame[0], frame[3]), xytext=(2, 3), textcoords="offset points",
            fontsize=9, fontweight="bold", color="#333333", zorder=7,
            path_effects=[patheffects.withStroke(linewidth=2.6, foreground="white")],
        )  # fmt: skip
    ax.set_xlim(box[0], box[2])
    ax.set_ylim(box[1], box[3])
    ax.set_aspect(1.0 / data.cos_lat)
    ax.xaxis.set_major_formatter(FuncFormatter(_lon_label))
    ax.yaxis.set_major_formatter(FuncFormatter(_lat_label))
    ax.tick_params(labelsize=9, colors=_MUTED)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    handles: list[Artist] = [
        Line2D([], [], marker="o", linestyle="none", color="#888888", markersize=6,
               label="Account (colour = its rep)"),
        Line2D([], [], marker="o", linestyle="none", color="#888888", markeredgecolor="#111111",
               markeredgewidth=1.0, markersize=8, label="Account moving to a new rep (black ring)"),
        Line2D([], [], marker="*", linestyle="none", color="#888888", markeredgecolor="black",
               markersize=14, label="Rep home base"),
    ]  # fmt: skip
    if data.territories:
        handles.append(
            Patch(facecolor=to_rgba("#888888", 0.3), edgecolor="#444444", linewidth=0.7,
                  label="Territory: the rep's units dissolved")
        )  # fmt: skip
    fig.legend(
        handles=handles, loc="outside lower center", ncols=2 if data.territories else 3,
        fontsize=9.5, frameon=False,
    )  # fmt: skip
    fig.suptitle(title, fontsize=14, fontweight="bold", color=_TEXT)
    ax.set_title(subtitle, fontsize=9.5, color=_MUTED)
    if labelled:
        fig.canvas.draw()  # settle the layout before measuring label boxes
        fig.set_layout_engine("none")
        show = ok & _inside(data.home_lon, data.home_lat, box)
        for _, frame in frames:
            show &= ~_inside(data.home_lon, data.home_lat, frame)
        _place_labels(fig, ax, data.home_lon, data.home_lat, data.labels, show)
    return fig


def _star_size(n_reps: int) -> float:
    """Star area (points squared): large for a few reps, smaller when there are hundreds."""
    return float(np.clip(230.0 * math.sqrt(40.0 / max(n_reps, 1)), 70.0, 230.0))


def _lon_label(value: float, _pos: float | None = None) -> str:
    return f"{abs(value):g}\u00b0{'W' if value < 0 else 'E' if value > 0 else ''}"


def _lat_label(value: float, _pos: float | None = None) -> str:
    return f"{abs(value):g}\u00b0{'S' if value < 0 else 'N' if value > 0 else ''}"


def _rep_labels(reps: pd.DataFrame) -> list[str]:
    ids = reps["rep_id"].astype(str).tolist()
    if "name" not in reps.columns:
        return [_mpl_text(i, 14) for i in ids]
    names = reps["name"].tolist()
    return [
        _mpl_text(i if _is_missing(n) or str(n).strip() == "" else n, 20)
        for i, n in zip(ids, names, strict=True)
    ]


_LABEL_SPOTS = tuple(
    (radius * dx, radius * dy, ha, va)
    for radius in (1.0, 2.2, 3.6)
    for dx, dy, ha, va in (
        (9, 4, "left", "bottom"),
        (9, -4, "left", "top"),
        (-9, 4, "right", "bottom"),
        (-9, -4, "right", "top"),
        (0, 10, "center", "bottom"),
        (0, -10, "center", "top"),
        (13, 0, "left", "center"),
        (-13, 0, "right", "center"),
    )
)
"""Label offsets (points) around a home base: close ones first, then farther with a leader."""


def _place_labels(
    fig: Figure,
    ax: Axes,
    x: FloatArray,
    y: FloatArray,
    labels: Sequence[str],
    show: npt.NDArray[np.bool_],
) -> None:
    """Label each home base at the first spot that overlaps nothing already drawn.

    Spots ring the star, nearest first; a far spot gets a thin leader line. Stars count as
    obstacles, so labels do not hide other home bases. A label that fits nowhere takes the
    spot that overlaps least.
    """
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    points = ax.transData.transform(np.column_stack([x, y]))
    axes_box = ax.get_window_extent(renderer)
    half = 9.0  # half a star's width, pixels
    stars = [
        (float(px) - half, float(py) - half, float(px) + half, float(py) + half)
        for (px, py), good in zip(points.tolist(), show.tolist(), strict=True)
        if good
    ]
    placed: list[Box] = []
    halo = [patheffects.withStroke(linewidth=2.6, foreground="white")]
    order = np.lexsort((np.arange(len(labels)), -y))  # top to bottom, then table order
    for i in order.tolist():
        if not show[i]:
            continue
        own = (points[i][0] - half, points[i][1] - half, points[i][0] + half, points[i][1] + half)
        best: tuple[float, Any] | None = None
        for k, (dx, dy, ha, va) in enumerate(_LABEL_SPOTS):
            far = k >= 8
            text = ax.annotate(
                labels[i], (x[i], y[i]), xytext=(dx, dy), textcoords="offset points", ha=ha,
                va=va, fontsize=8, fontweight="bold", color="#111111", path_effects=halo,
                zorder=8, annotation_clip=False,
                arrowprops={"arrowstyle": "-", "color": "#555555", "linewidth": 0.6,
                            "shrinkA": 0, "shrinkB": 6} if far else None,
            )  # fmt: skip
            box = text.get_window_extent(renderer)
            rect = (box.x0 - 1, box.y0 - 1, box.x1 + 1, box.y1 + 1)
            cost = sum(_overlap(rect, other) for other in placed)
            cost += sum(_overlap(rect, star) for star in stars if star != own)
            cost += 50.0 * (
                max(0.0, axes_box.x0 - rect[0]) + max(0.0, rect[2] - axes_box.x1)
                + max(0.0, axes_box.y0 - rect[1]) + max(0.0, rect[3] - axes_box.y1)
            )  # fmt: skip
            cost += 0.5 * k  # prefer near spots among equals
            if best is None or cost < best[0]:
                if best is not None:
                    best[1].remove()
                best = (cost, text)
            else:
                text.remove()
            if cost < 0.5 * (k + 1):
                break
        if best is not None:
            box = best[1].get_window_extent(renderer)
            placed.append((box.x0, box.y0, box.x1, box.y1))


def _overlap(a: Box, b: Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


# --------------------------------------------------------------------------- balance


def balance_chart(run: PlanFolder) -> bytes | None:
    """PNG: every rep's potential and workload deviation from target, with the allowed band.

    One bar per rep (blue inside the band, orange outside); above
    :data:`MAX_LABELLED_REPS` reps, the deviations sorted from lowest to highest instead.
    None when the territories table has no deviations.
    """
    terr = run.territories
    if not {"potential_dev", "workload_dev"} <= set(terr.columns):
        return None
    solve = run.solve
    bands = [
        (name, terr[f"{key}_dev"].to_numpy(np.float64), _float(solve, f"balance_{key}"))
        for name, key in (("Potential", "potential"), ("Workload", "workload"))
    ]
    n = len(terr)
    labelled = n <= MAX_LABELLED_REPS
    height = max(4.5, 0.2 * n + 2.0) if labelled else 5.5
    fig = _figure(12.0, height)
    axes = fig.subplots(1, 2, sharey=labelled)
    labels = _balance_labels(run)
    for ax, (name, dev, tol) in zip(axes, bands, strict=True):
        _style(ax)
        finite = dev[np.isfinite(dev)]
        reach = max([abs(float(v)) for v in finite] + [tol or 0.0]) or 0.05
        limit = max(reach * 1.25, (tol or 0.0) * 1.6)
        inside = np.abs(dev) <= (tol if tol is not None else np.inf) + 1e-9
        colour = np.where(inside, _IN_BAND, _OUT_OF_BAND)
        if labelled:
            pos = np.arange(n)[::-1]
            ax.grid(False, axis="y")
            if tol is not None:
                ax.axvspan(-tol, tol, color=_BAND, alpha=0.13, linewidth=0, zorder=0)
                for edge in (-tol, tol):
                    ax.axvline(edge, color=_BAND, linewidth=1.0, linestyle="--")
            ax.barh(pos, np.nan_to_num(dev), color=list(colour), height=0.72, zorder=2)
            ax.axvline(0.0, color=_TEXT, linewidth=1.0)
            ax.set_xlim(-limit, limit)
            ax.set_yticks(pos, labels)
            ax.set_ylim(-0.7, n - 0.3)
            ax.tick_params(axis="y", labelsize=8 if n > 40 else 9)
            ax.xaxis.set_major_formatter(
                PercentFormatter(xmax=1.0, decimals=0 if limit > 0.08 else 1)
            )
            ax.set_xlabel(f"{name} deviation from target", fontsize=10, color=_TEXT)
        else:
            order = np.argsort(np.nan_to_num(dev), kind="stable")
            rank = np.arange(1, n + 1)
            if tol is not None:
                ax.axhspan(-tol, tol, color=_BAND, alpha=0.13, linewidth=0, zorder=0)
            ax.scatter(rank, dev[order], s=8, c=list(colour[order]), zorder=2)
            ax.axhline(0.0, color=_TEXT, linewidth=1.0)
            ax.set_ylim(-limit, limit)
            ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
            ax.set_xlabel("Reps, lowest to highest", fontsize=10, color=_TEXT)
            ax.set_ylabel(f"{name} deviation from target", fontsize=10, color=_TEXT)
        n_out = int((~inside).sum())
        largest = float(np.max(np.abs(finite))) if finite.size else 0.0
        band_text = "no band" if tol is None else f"allowed \u00b1{_pct(tol, 1)}"
        ax.set_title(
            f"{name}: {band_text}; largest {_pct(largest, 2)}"
            f"; {n_out:,} rep{'s' if n_out != 1 else ''} outside",
            fontsize=10.5,
            color=_OUT_OF_BAND if n_out else _TEXT,
        )
    if labelled:
        axes[1].tick_params(axis="y", labelleft=False)
    fig.suptitle(
        "Balance: each rep's potential and workload against target",
        fontsize=14,
        fontweight="bold",
        color=_TEXT,
    )
    return _png_bytes(fig)


def _balance_labels(run: PlanFolder) -> list[str]:
    ids = run.territories["rep_id"].astype(str).tolist()
    names = dict(zip(run.reps["rep_id"].astype(str), _rep_labels(run.reps), strict=True))
    return [
        f"{_mpl_text(i, 12)}  {names[i]}"
        if names.get(i, i) != _mpl_text(i, 20)
        else _mpl_text(i, 14)
        for i in ids
    ]


def _float(doc: Mapping[str, Any], key: str) -> float | None:
    return _number(doc.get(key))


def _number(value: object) -> float | None:
    """A finite float, or None for anything missing or not a number."""
    if value is None or _is_missing(value):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- sensitivity


def sensitivity_chart(table: pd.DataFrame, current: float | None = None) -> bytes | None:
    """PNG: P50 incentive / TI budget against company attainment, one line per lever value.

    ``current`` (the plan's own lever value) is drawn thicker. None if the table lacks the
    ``lever``, ``lever_value``, ``company_attainment_x`` or ``incentive_to_ti_budget_p50``
    columns or has no rows.
    """
    needed = {"lever", "lever_value", "company_attainment_x", "incentive_to_ti_budget_p50"}
    if not needed <= set(table.columns) or table.empty:
        return None
    frame = table.dropna(subset=["lever_value", "company_attainment_x"])
    if frame.empty:
        return None
    lever = str(frame["lever"].iloc[0])
    values = sorted(float(v) for v in frame["lever_value"].unique())
    fig = _figure(10.0, 6.0)
    ax = fig.add_subplot()
    _style(ax)
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    for k, value in enumerate(values):
        rows = frame[np.isclose(frame["lever_value"].astype(float), value)].sort_values(
            "company_attainment_x"
        )
        is_current = current is not None and math.isclose(value, current, abs_tol=1e-9)
        ax.plot(
            rows["company_attainment_x"].to_numpy(np.float64),
            rows["incentive_to_ti_budget_p50"].to_numpy(np.float64),
            color="black" if is_current else cmap(0.1 + 0.8 * k / max(len(values) - 1, 1)),
            linewidth=3.0 if is_current else 1.6,
            marker="o",
            markersize=4,
            label=f"{value:g}" + (" (this plan)" if is_current else ""),
            zorder=3 if is_current else 2,
        )
    ax.axhline(1.0, color=_MUTED, linestyle="--", linewidth=1.1)
    ax.annotate(
        "TI budget (every rep exactly on quota)",
        (0.0, 1.0),
        xycoords=("axes fraction", "data"),
        xytext=(4, 4),
        textcoords="offset points",
        fontsize=9,
        color=_MUTED,
    )
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    ax.set_xlabel("Company attainment (% of plan revenue)", fontsize=11, color=_TEXT)
    ax.set_ylabel("P50 incentive cost (% of TI budget)", fontsize=11, color=_TEXT)
    ax.legend(title=_mpl_text(lever, 40), fontsize=9, title_fontsize=9, loc="upper left")
    fig.suptitle(
        f"Sensitivity: incentive cost by company attainment and {_mpl_text(lever, 40)}",
        fontsize=14,
        fontweight="bold",
        color=_TEXT,
    )
    return _png_bytes(fig)


# --------------------------------------------------------------------------- header


def run_fingerprint(solve: Mapping[str, Any]) -> str:
    """Short id of an alignment: sha256 of its input hashes, engine version and parameters."""
    core = {
        "inputs": solve.get("inputs"),
        "parameters": solve.get("parameters"),
        "seed": solve.get("seed"),
        "version": solve.get("version"),
    }
    text = json.dumps(core, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _header(
    run: PlanFolder,
    checks: Sequence[Mapping[str, Any]] | None,
    quota_summary: Mapping[str, Any] | None,
    stress: Mapping[str, Any] | None,
    tables: Mapping[str, pd.DataFrame],
) -> str:
    solve = run.solve
    name = run.path.name or run.path.as_posix()
    metrics = solve.get("metrics") or {}
    n_accounts = len(run.accounts)
    moved = metrics.get("accounts_moved")
    kpis = [
        _kpi("Accounts", _num(n_accounts)),
        _kpi("Reps", _num(len(run.reps))),
        _kpi(
            "Accounts moved",
            _num(moved),
            f"{_pct(float(moved) / n_accounts, 1)} of accounts"
            if moved is not None and n_accounts
            else "",
        ),
        _deviation_kpi("Largest potential deviation", solve, "potential"),
        _deviation_kpi("Largest workload deviation", solve, "workload"),
        _kpi(
            "Solve status",
            _esc(solve.get("status")),
            f"{_esc(solve.get('backend'))}, gap {_pct(solve.get('gap'), 2)}",
            "good" if solve.get("status") == "OPTIMAL" else "",
        ),
    ]
    summary = (quota_summary or {}).get("summary") or {}
    if summary:
        kpis.append(
            _kpi(
                "Sum of quotas",
                _num(summary.get("quota_total")),
                f"target {_num(summary.get('company_target'))} \u00d7 "
                f"{_num(summary.get('over_assignment_factor'), 3)}",
            )
        )
        kpis.append(
            _kpi(
                "Reps at quota if plan is hit",
                _pct(summary.get("share_at_quota_if_plan_hit"), 0),
                "expected share (quota model)",
            )
        )
    scenarios = tables.get("stress_scenarios")
    at_plan = _at_plan_row(scenarios, stress)
    if at_plan is not None:
        kpis.append(
            _kpi(
                "P50 incentive at plan",
                _num(at_plan.get("incentive_p50")),
                f"{_pct(at_plan.get('incentive_to_ti_budget_p50'), 0)} of TI budget",
            )
        )
    if checks:
        counts = _status_counts(checks)
        fails, warns = counts.get("FAIL", 0), counts.get("WARN", 0)
        tone = "bad" if fails else "warn" if warns else "good"
        kpis.append(
            _kpi(
                "Checks failing",
                f'<a href="#scorecard">{_num(fails)}</a>',
                f"{_num(warns)} warn, {_num(counts.get('NOT_ASSESSABLE', 0))} not assessable",
                tone,
            )
        )

    inputs = solve.get("inputs") or {}
    params = solve.get("parameters") or {}
    rows = [
        (
            "Fingerprint (inputs, version, parameters)",
            f'<span class="mono">{run_fingerprint(solve)}</span>',
        ),
        ("Generated from folder", f"<code>{escape(name)}</code>"),
        ("Engine version", _esc(solve.get("version"))),
        ("Seed", _esc(solve.get("seed"))),
    ]
    rows += [
        (f"Input hash: {key}", f'<span class="mono hash">{_esc(inputs[key])}</span>')
        for key in sorted(inputs)
    ]
    param_rows = [(str(k), _param(params[k])) for k in sorted(params)]
    return "\n".join(
        [
            '<header id="top">',
            f"<h1>Territory plan report: {escape(name)}</h1>",
            '<p class="sub">Territories, balance, quotas, the comp plan\'s stress test and the '
            "thought-starter checks of one run. The page is self-contained and has no "
            "timestamp: the same run folder always gives the same page.</p>",
            f'<div class="kpis">{"".join(kpis)}</div>',
            '<div class="grid2"><div><h3>Run fingerprint</h3>',
            _kv_table(rows, "fingerprint"),
            "</div><div><h3>Alignment parameters</h3>",
            _kv_table(param_rows, "parameters") if param_rows else "<p>\u2013</p>",
            "</div></div>",
            "</header>",
        ]
    )


def _param(value: object) -> str:
    if isinstance(value, Mapping):
        return escape(", ".join(f"{k}={_param_text(v)}" for k, v in sorted(value.items())))
    return escape(_param_text(value))


def _param_text(value: object) -> str:
    if _is_missing(value):
        return "\u2013"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,g}"
    return str(value)


def _deviation_kpi(label: str, solve: Mapping[str, Any], measure: str) -> str:
    dev = _float(solve, f"max_{measure}_deviation")
    tol = _float(solve, f"balance_{measure}")
    tone = ""
    if dev is not None and tol is not None:
        tone = "good" if dev <= tol + 1e-9 else "bad"
    note = f"allowed \u00b1{_pct(tol, 1)}" if tol is not None else ""
    return _kpi(label, _pct(dev, 2), note, tone)


def _nav() -> str:
    names = {
        "map": "Map",
        "balance": "Balance",
        "solve-summary": "Solve",
        "quotas": "Quotas",
        "stress": "Stress test",
        "scorecard": "Checks",
    }
    links = "".join(f'<a href="#{key}">{label}</a>' for key, label in names.items())
    return f"<nav>{links}</nav>"


def _footer() -> str:
    return (
        "<footer>Made by territory-engine from the files of one run folder. Charts are "
        "embedded images and the page loads nothing from the network; it prints on A4 and "
        "Letter.</footer>"
    )


# --------------------------------------------------------------------------- sections


def _map_section(run: PlanFolder) -> str:
    pngs = map_charts(run)
    n_reps = len(run.reps)
    labels = (
        "Stars mark rep home bases, labelled with the rep's name."
        if n_reps <= MAX_LABELLED_REPS
        else f"Stars mark rep home bases (names left out above {MAX_LABELLED_REPS} reps)."
    )
    shapes = ""
    alt = "Map of accounts coloured by rep"
    if (run.path / TERRITORY_SHAPES).exists():
        shapes = (
            " Shaded areas with outlines are the territories: the basic units (ZIP codes, "
            f"counties, ...) each rep holds, dissolved into one shape ({TERRITORY_SHAPES})."
        )
        alt = "Map of territory polygons and accounts, coloured by rep"
    caption = escape(
        "Each dot is an account in the colour of its rep; neighbouring territories get "
        f"different colours. Accounts with a black ring move to a new rep in this plan. {labels}"
        + shapes
    )
    parts = ['<section id="map"><h2>Territory map</h2>']
    parts.append(_img(pngs[0], alt, caption, img_id="map-image"))
    for k, png in enumerate(pngs[1:], start=1):
        parts.append(
            _img(
                png,
                f"Zoom {k} of the territory map",
                escape(f"Zoom {k}: a dashed frame above, where home bases crowd."),
                img_id=f"map-zoom-{k}",
            )
        )
    parts.append("</section>")
    return "\n".join(parts)


def _balance_section(run: PlanFolder) -> str:
    png = balance_chart(run)
    if png is None:
        return (
            '<section id="balance"><h2>Balance</h2><p class="missing">The territories table '
            "has no deviations from target. Run <code>"
            + escape(ALIGN_COMMAND.format(plan=run.path.as_posix()))
            + "</code> again with this engine version.</p></section>"
        )
    solve = run.solve
    tol_p, tol_w = _float(solve, "balance_potential"), _float(solve, "balance_workload")
    req_p = _float(solve, "balance_requested_potential")
    req_w = _float(solve, "balance_requested_workload")
    relaxed = ""
    if (req_p is not None and tol_p is not None and tol_p > req_p + 1e-12) or (
        req_w is not None and tol_w is not None and tol_w > req_w + 1e-12
    ):
        relaxed = (
            f" The requested band (potential \u00b1{_pct(req_p, 1)}, workload "
            f"\u00b1{_pct(req_w, 1)}) could not be met and was widened (soft mode)."
        )
    marks = "Bars" if len(run.territories) <= MAX_LABELLED_REPS else "Dots (reps sorted)"
    caption = escape(
        f"{marks} show how far each rep's potential (left) and workload (right) sit from "
        "their target; the green band is the allowed deviation, orange ones fall outside it. "
        "Targets share total potential by capacity and tier, and total workload by capacity."
        + relaxed
    )
    ctx_names = dict(zip(run.reps["rep_id"].astype(str), _names(run.reps), strict=True))
    terr = run.territories.copy()
    terr["rep_id"] = terr["rep_id"].astype(str)
    terr["name"] = terr["rep_id"].map(ctx_names)
    if "role" in run.reps.columns:
        terr["role"] = terr["rep_id"].map(
            dict(zip(run.reps["rep_id"].astype(str), run.reps["role"], strict=True))
        )
    tol = {"potential": tol_p, "workload": tol_w}

    def off(row: pd.Series) -> str:
        for m in ("potential", "workload"):
            limit = tol[m]
            value = _number(row.get(f"{m}_dev"))
            if limit is not None and value is not None and abs(value) > limit + 1e-9:
                return "off"
        return ""

    columns: list[Column] = [
        ("Rep", "rep_id", _esc, False),
        ("Name", "name", _esc, False),
        ("Role", "role", _esc, False),
        ("Tier", "tier", _esc, False),
        ("Accounts", "n_accounts", _money, True),
        ("Potential", "potential", _money, True),
        ("Potential target", "potential_target", _money, True),
        ("Potential dev.", "potential_dev", _pct2, True),
        ("Workload (h)", "workload", _money, True),
        ("Workload target (h)", "workload_target", _money, True),
        ("Workload dev.", "workload_dev", _pct2, True),
        ("Capacity (h)", "capacity", _money, True),
        ("Utilisation", "utilization", _pct1, True),
        ("Mean km", "mean_distance_km", _dec2, True),
        ("Moved in", "accounts_moved_in", _money, True),
        ("Moved out", "accounts_moved_out", _money, True),
    ]
    total = {
        "rep_id": "Total",
        "n_accounts": _money(terr["n_accounts"].sum()) if "n_accounts" in terr else "",
        "potential": _money(terr["potential"].sum()) if "potential" in terr else "",
        "workload": _money(terr["workload"].sum()) if "workload" in terr else "",
        "capacity": _money(terr["capacity"].sum()) if "capacity" in terr else "",
    }
    n_off = sum(1 for _, r in terr.iterrows() if off(r))
    return "\n".join(
        [
            '<section id="balance"><h2>Balance</h2>',
            _img(png, "Potential and workload deviation from target per rep", caption),
            f"<details><summary>Territory table ({len(terr):,} reps, {n_off:,} outside the "
            "band)</summary>",
            _table(terr, columns, total=total, row_class=off),
            "</details></section>",
        ]
    )


def _names(reps: pd.DataFrame) -> list[str]:
    if "name" not in reps.columns:
        return [""] * len(reps)
    return ["" if _is_missing(n) else str(n) for n in reps["name"].tolist()]


def _solve_section(run: PlanFolder) -> str:
    s = run.solve
    metrics = s.get("metrics") or {}
    notes = _text_list(s.get("notes"))
    bound = "\u2013"
    if not _is_missing(s.get("bound")):
        bound = f"{_num(s.get('bound'), 1)} ({_esc(s.get('bound_source'))})"
    rows = [
        ("Backend", _esc(s.get("backend"))),
        ("Status", _esc(s.get("status"))),
        ("Objective (hour-km + disruption)", _num(s.get("objective"), 1)),
        ("Lower bound", bound),
        ("Bound valid over", _esc(s.get("bound_scope"))),
        ("Gap", _pct(s.get("gap"), 3)),
        ("Seconds", _num(s.get("seconds"), 2)),
        (
            "Largest potential deviation",
            f"{_pct(s.get('max_potential_deviation'), 2)} (allowed "
            f"\u00b1{_pct(s.get('balance_potential'), 2)})",
        ),
        (
            "Largest workload deviation",
            f"{_pct(s.get('max_workload_deviation'), 2)} (allowed "
            f"\u00b1{_pct(s.get('balance_workload'), 2)})",
        ),
        (
            "Accounts / reps / pairs",
            f"{_num(s.get('n_accounts'))} / {_num(s.get('n_reps'))} / {_num(s.get('n_pairs'))}",
        ),
        ("Accounts moved", _num(metrics.get("accounts_moved"))),
        ("Potential moved", _num(metrics.get("potential_moved"))),
        ("Revenue moved", _num(metrics.get("revenue_moved"))),
        ("Mean distance to home base (km)", _num(metrics.get("mean_distance_km"), 1)),
        ("Largest utilisation", _pct(metrics.get("max_utilization"), 1)),
        ("Soft balance", _param(s.get("soft"))),
        (
            "Notes",
            "<ul>" + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>"
            if notes
            else "\u2013",
        ),
    ]
    stages = s.get("stages") or {}
    if stages:
        rows.append(
            (
                "Seconds by stage",
                escape(", ".join(f"{k} {float(v):.2f}" for k, v in sorted(stages.items()))),
            )
        )
    return (
        '<section id="solve-summary"><h2>Solve summary</h2><p class="lead">The objective is '
        "total travel (hours of workload times km from the rep's home base) plus any "
        "disruption cost; the gap is how far it can at most be from the best possible plan "
        "over the pairs the bound covers.</p>" + _kv_table(rows) + "</section>"
    )


def _quota_section(
    ctx: _Context, quota_summary: Mapping[str, Any] | None, annual: pd.DataFrame | None
) -> str:
    head = '<section id="quotas"><h2>Quotas</h2>'
    if annual is None or annual.empty:
        return (
            head
            + ctx.missing("No quotas have been set for this plan yet.", QUOTA_COMMAND)
            + "</section>"
        )
    frame = annual.copy()
    frame["rep_id"] = frame["rep_id"].map(ctx.rep_id)
    frame["name"] = frame["rep_id"].map(ctx.rep_names)
    cur = f" ({ctx.currency})" if ctx.currency else ""
    columns: list[Column] = [
        ("Rep", "rep_id", _esc, False),
        ("Name", "name", _esc, False),
        ("Role", "role", _esc, False),
        ("Method", "method", _esc, False),
        ("History weight", "w_history", _dec2, True),
        (f"Potential{cur}", "potential", _money, True),
        (f"History basis{cur}", "history_basis", _money, True),
        (f"Annual quota{cur}", "final_annual_quota", _money, True),
        ("Quota / potential", "quota_to_potential", _pct1, True),
        ("Change vs last year", "yoy_change_pct", _share_of_100, True),
        ("Change cap", "yoy_clip", _esc, False),
        ("Ramp", "ramp_factor", _dec2, True),
    ]
    total: dict[str, str] = {"rep_id": "Total"}
    for column in ("potential", "history_basis", "final_annual_quota"):
        if column in frame.columns:
            total[column] = _money(frame[column].sum(min_count=1))
    if {"final_annual_quota", "potential"} <= set(frame.columns):
        pot = float(frame["potential"].sum())
        total["quota_to_potential"] = (
            _pct1(float(frame["final_annual_quota"].sum()) / pot) if pot else ""
        )
    parts = [head]
    summary = (quota_summary or {}).get("summary") or {}
    config = (quota_summary or {}).get("config") or {}
    if summary:
        method = (config.get("method") or {}).get("name")
        rows = [
            ("Method", _esc(method)),
            (f"Company target{cur}", _num(summary.get("company_target"))),
            (f"Non-quota revenue{cur}", _num(summary.get("non_quota_revenue"))),
            ("Over-assignment factor", _num(summary.get("over_assignment_factor"), 3)),
            (f"Street total (target \u00d7 factor){cur}", _num(summary.get("street_total"))),
            (f"Sum of quotas{cur}", _num(summary.get("quota_total"))),
            (f"Bottom-up total{cur}", _num(summary.get("bottom_up_total"))),
            (f"Capacity total{cur}", _num(summary.get("capacity_total"))),
            (f"Top-down gap{cur}", _num(summary.get("top_down_gap"))),
            ("Reps at quota if the plan is hit", _pct1(summary.get("share_at_quota_if_plan_hit"))),
            (
                "Over-assignment for half the reps at quota",
                _pct1(summary.get("half_at_quota_over_assignment")),
            ),
            ("Over-assignment check", _esc(summary.get("over_assignment_status"))),
        ]
        for key, label in (
            ("capped_at_floor", "Capped at the yearly floor"),
            ("capped_at_ceiling", "Capped at the yearly ceiling"),
            ("over_capacity", "Quota above capacity"),
            ("new_territories", "New territories"),
            ("vacant_territories", "Vacant territories"),
            ("ramping_territories", "Ramping territories"),
        ):
            ids = _text_list(summary.get(key))
            if ids:
                shown = ", ".join(ids[:MAX_LISTED_IDS])
                if len(ids) > MAX_LISTED_IDS:
                    shown += f" and {len(ids) - MAX_LISTED_IDS:,} more"
                rows.append((f"{label} ({len(ids):,})", escape(shown)))
        backtest = (quota_summary or {}).get("backtest")
        if isinstance(backtest, Mapping):
            rows.append(
                (
                    "Backtest on last year",
                    f"company error {_pct(backtest.get('company_error'), 1)}, quota WMAPE "
                    f"{_pct(backtest.get('wmape'), 1)} ({_esc(backtest.get('status'))})",
                )
            )
        parts.append(_kv_table(rows, "quota-summary"))
    parts.append(f"<h3>Annual quota per rep ({len(frame):,} reps)</h3>")
    parts.append(
        _table(frame, columns, total=total, defaults={"ramp_factor": 1.0, "yoy_clip": "none"})
    )
    parts.append("</section>")
    return "\n".join(parts)


def _at_plan_row(
    scenarios: pd.DataFrame | None, stress: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    if scenarios is None or scenarios.empty or "company_attainment_x" not in scenarios.columns:
        return None
    plan_x = 1.0
    verdicts = (stress or {}).get("verdicts") or {}
    if not _is_missing(verdicts.get("plan_attainment")):
        plan_x = float(verdicts["plan_attainment"])
    x = pd.to_numeric(scenarios["company_attainment_x"], errors="coerce").to_numpy(np.float64)
    hit = np.flatnonzero(np.isfinite(x) & (np.abs(x - plan_x) < 1e-9))
    if hit.size == 0:
        return None
    return {str(k): v for k, v in scenarios.iloc[int(hit[0])].items()}


def _stress_section(
    ctx: _Context,
    stress: Mapping[str, Any] | None,
    tables: Mapping[str, pd.DataFrame],
    charts: Mapping[str, bytes],
) -> str:
    head = '<section id="stress"><h2>Comp plan stress test</h2>'
    scenarios = tables.get("stress_scenarios")
    if stress is None and scenarios is None and not charts:
        return (
            head
            + ctx.missing(
                "The comp plan has not been stress-tested on this plan's quotas yet.",
                STRESS_COMMAND,
            )
            + "</section>"
        )
    parts = [head]
    doc = stress or {}
    verdicts = doc.get("verdicts") or {}
    cur = f" ({ctx.currency})" if ctx.currency else ""
    if doc:
        parts.append(
            '<p class="lead">'
            + escape(
                f"Comp plan '{doc.get('comp_plan', '?')}', {_plain(doc.get('n_sims'))} "
                f"simulations per scenario, seed {_plain(doc.get('seed'))}, forecast "
                f"{_num(doc.get('forecast'))}{cur}. Each scenario fixes the company's result "
                "at a share of plan and draws every rep's attainment around it."
            )
            + "</p>"
        )
    if verdicts:
        ccos = verdicts.get("ccos_p50") or {}
        v = verdicts
        rows = [
            ("Company result the verdicts use", _pct(v.get("plan_attainment"), 0) + " of plan"),
            (
                "Reps counted (ramped, full year)",
                f"{_num(v.get('n_rate_reps'))} ({_num(v.get('n_excluded'))} left out)",
            ),
            ("Expected share of reps at or above quota", _pct1(v.get("expected_share_at_quota"))),
            (
                "Chance that at least the healthy share reaches quota",
                _pct1(v.get("p_share_at_quota_ge_min")),
            ),
            ("Expected share of reps paid any incentive", _pct1(v.get("expected_share_paid"))),
            ("Over-assignment used", _pct1(v.get("over_assignment"))),
            (
                "Largest over-assignment with half the reps at quota",
                _pct1(v.get("over_assignment_bound")),
            ),
            (
                "Largest threshold that still pays 90% of reps",
                _pct1(v.get("largest_threshold_for_90pct_paid")) + " attainment",
            ),
            (
                "Attainment P10 / P90",
                f"{_pct1(v.get('attainment_p10'))} / {_pct1(v.get('attainment_p90'))}",
            ),
            (
                "Payout at P10 / P90 attainment (\u00d7 TI)",
                f"{_dec2(v.get('payout_at_p10'))} / {_dec2(v.get('payout_at_p90'))}",
            ),
            (f"Cost reserve P90 \u2212 P50{cur}", _num(v.get("reserve"))),
            (
                "Chance the company lands within \u00b110% of plan",
                _pct1(v.get("p_company_within_band")),
            ),
        ]
        if isinstance(ccos, Mapping) and ccos:
            rows.append(
                (
                    "Comp cost of sales (P50) at 90/100/110% of plan",
                    " / ".join(
                        f"{_pct(float(k), 0)}: {_pct(v, 1)}"
                        for k, v in sorted(ccos.items(), key=lambda kv: float(kv[0]))
                    ),
                )
            )
        parts.append("<h3>Verdicts at plan</h3>" + _kv_table(rows, "stress-verdicts"))
        roles = verdicts.get("roles") or []
        if roles:
            parts.append("<h3>By role</h3>")
            parts.append(
                _table(
                    pd.DataFrame(list(roles)),
                    [
                        ("Role", "role", _esc, False),
                        ("Reps", "n_reps", _money, True),
                        ("At quota", "share_at_quota", _pct1, True),
                        ("Paid", "share_paid", _pct1, True),
                        ("Attainment P10", "attainment_p10", _pct1, True),
                        ("Attainment P90", "attainment_p90", _pct1, True),
                        ("Payout at P10 (\u00d7 TI)", "payout_at_p10", _dec2, True),
                        ("Payout at P90 (\u00d7 TI)", "payout_at_p90", _dec2, True),
                        ("Accelerator needed", "accelerator_slope_needed", _dec2, True),
                        ("Cap binding", "cap_binding_rate", _pct2, True),
                    ],
                )
            )
    chart_parts = []
    sens = tables.get("sensitivity")
    own = dict(charts)
    if "sensitivity" not in own and sens is not None:
        current = None
        if sens is not None and "lever" in sens.columns and not sens.empty:
            lever = str(sens["lever"].iloc[0])
            if not _is_missing(verdicts.get(lever)):
                current = float(verdicts[lever])
        drawn = sensitivity_chart(sens, current)
        if drawn is not None:
            own["sensitivity"] = drawn
    captions = {
        "attainment_distribution": "Share of reps per attainment band when the company lands "
        "on plan.",
        "cost_vs_attainment": "Total incentive cost (P50 line, P10\u2013P90 band) and comp cost "
        "of sales by company result.",
        "payout_curve": "What the plan pays (multiple of target incentive) at each attainment, "
        "per role.",
        "sensitivity": "Incentive cost as a share of the TI budget by company result, for each "
        "value of the design lever.",
    }
    names = [n for n in CHART_NAMES if n in own] + sorted(n for n in own if n not in CHART_NAMES)
    for name in names:
        label = name.replace("_", " ")
        chart_parts.append(_img(own[name], f"Chart: {label}", escape(captions.get(name, label))))
    if chart_parts:
        parts.append('<h3>Charts</h3><div class="charts">' + "".join(chart_parts) + "</div>")
    if scenarios is not None and not scenarios.empty:
        parts.append(f"<h3>Scenarios{escape(cur)}</h3>")
        parts.append(
            _table(
                scenarios,
                [
                    ("Scenario", "scenario_id", _esc, False),
                    ("Company result", "company_attainment_x", _pct0, True),
                    ("Revenue P50", "revenue_p50", _money, True),
                    ("Reps at quota", "pct_reps_ge_quota", _share_of_100, True),
                    ("Reps paid", "pct_reps_paid", _share_of_100, True),
                    ("Incentive P10", "incentive_p10", _money, True),
                    ("Incentive P50", "incentive_p50", _money, True),
                    ("Incentive P90", "incentive_p90", _money, True),
                    ("P50 / TI budget", "incentive_to_ti_budget_p50", _pct1, True),
                    ("Total comp P50", "total_comp_p50", _money, True),
                    ("CCOS P50", "ccos_p50", _pct1, True),
                    (
                        "Marginal cost of revenue",
                        "marginal_cost_of_incremental_revenue",
                        _pct1,
                        True,
                    ),
                ],
            )
        )
        parts.append(
            '<p class="lead">"unconditional" draws the company result too, instead of fixing '
            "it. CCOS is (base + incentive) \u00f7 revenue.</p>"
        )
    if sens is not None and not sens.empty:
        parts.append(_sensitivity_grid(sens))
    impact = tables.get("rep_impact")
    if impact is not None and not impact.empty:
        frame = impact.copy()
        if "rep_id" in frame.columns:
            frame["rep_id"] = frame["rep_id"].map(ctx.rep_id)
            frame["name"] = frame["rep_id"].map(ctx.rep_names)
        parts.append(
            f"<details><summary>Rep impact ({len(frame):,} reps)</summary>"
            + _table(
                frame,
                [
                    ("Rep", "rep_id", _esc, False),
                    ("Name", "name", _esc, False),
                    ("Role", "role", _esc, False),
                    (f"Quota{cur}", "quota", _money, True),
                    (f"OTE{cur}", "ote", _money, True),
                    ("Expected attainment", "expected_attainment", _pct1, True),
                    ("P(at quota)", "p_attain_ge_1", _pct1, True),
                    ("P(below threshold)", "p_below_threshold", _pct1, True),
                    ("Payout P10", "payout_p10", _money, True),
                    ("Payout P50", "payout_p50", _money, True),
                    ("Payout P90", "payout_p90", _money, True),
                    ("Expected total comp", "expected_total_comp", _money, True),
                    ("Change vs last year", "delta_expected_payout", _money, True),
                ],
            )
            + "</details>"
        )
    samples = _text_list(doc.get("sample_calculations"))
    if samples:
        parts.append(
            '<details><summary>Worked sample calculations</summary><ul class="samples">'
            + "".join(f"<li>{escape(s)}</li>" for s in samples)
            + "</ul></details>"
        )
    if stress is None:
        parts.append(
            ctx.missing("stress.json is missing, so verdicts are not shown.", STRESS_COMMAND)
        )
    parts.append("</section>")
    return "\n".join(parts)


def _pct0(value: object) -> str:
    return _pct(value, 0)


def _sensitivity_grid(sens: pd.DataFrame) -> str:
    """The forecast-vs-payout grid: P50 incentive / TI budget by company result and lever."""
    needed = {"lever", "lever_value", "company_attainment_x", "incentive_to_ti_budget_p50"}
    if not needed <= set(sens.columns):
        return ""
    lever = escape(str(sens["lever"].iloc[0]))
    grid = sens.pivot_table(
        index="company_attainment_x",
        columns="lever_value",
        values="incentive_to_ti_budget_p50",
        aggfunc="first",
    ).sort_index()
    head = "".join(f'<th class="num">{escape(f"{float(c):g}")}</th>' for c in grid.columns)
    rows = []
    for x, values in grid.iterrows():
        cells = "".join(f'<td class="num">{_pct(v, 0)}</td>' for v in values.tolist())
        rows.append(f'<tr><td class="num">{_pct(x, 0)}</td>{cells}</tr>')
    return (
        f"<h3>Sensitivity: P50 incentive as a share of the TI budget, by company result (rows) "
        f"and {lever} (columns)</h3>"
        f'<div class="scroll"><table id="sensitivity-grid"><thead><tr><th>Company result</th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


# --------------------------------------------------------------------------- scorecard


def _status_of(check: Mapping[str, Any]) -> str:
    return str(check.get("status") or "").strip().upper() or "UNKNOWN"


def _status_counts(checks: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(STATUS_ORDER, 0)
    for check in checks:
        status = _status_of(check)
        counts[status] = counts.get(status, 0) + 1
    return counts


def _badge(status: str) -> str:
    background, foreground = _STATUS_STYLE.get(status, ("#616161", "#FFFFFF"))
    return (
        f'<span class="badge status-{escape(status.lower())}" '
        f'style="background:{background};color:{foreground}">'
        f"{escape(status.replace('_', ' '))}</span>"
    )


def _frameworks(check: Mapping[str, Any]) -> list[str]:
    raw = check.get("framework_list")
    items = _text_list(raw)
    names: list[str] = []
    for item in items:
        names += [p.strip().lower() for p in item.replace(",", "|").split("|") if p.strip()]
    return names


def _scorecard_section(ctx: _Context, checks: Sequence[Mapping[str, Any]] | None) -> str:
    head = '<section id="scorecard"><h2>Checks scorecard</h2>'
    if checks is None:
        return (
            head
            + ctx.missing(
                "The thought-starter checks have not been run on this folder yet (no checks.json).",
                CHECKS_COMMAND,
            )
            + "</section>"
        )
    counts = _status_counts(checks)
    count_html = "".join(
        f'<div class="count">{_badge(s)}<b>{_num(n)}</b></div>' for s, n in counts.items()
    )
    parts = [
        head,
        '<p class="lead">Each check tests one thought starter of the sales strategy framework '
        "against a threshold. NOT ASSESSABLE means the data needed are missing (listed under "
        '"Needs") and is never counted as a pass.</p>',
        f'<div class="counts" id="status-counts">{count_html}</div>',
    ]
    if not checks:
        parts.append("<p>checks.json holds no checks.</p></section>")
        return "\n".join(parts)
    known = [key for key, _ in FRAMEWORKS]
    groups: dict[str, list[Mapping[str, Any]]] = {key: [] for key in known}
    other: list[Mapping[str, Any]] = []
    for check in checks:
        frameworks = _frameworks(check)
        first = next((f for f in known if f in frameworks), None)
        if first is None:
            other.append(check)
        else:
            groups[first].append(check)
    titles = dict(FRAMEWORKS)
    for key in known:
        if groups[key]:
            parts.append(_check_table(titles[key], key, groups[key]))
    if other:
        parts.append(_check_table("Other checks", "other", other))
    parts.append("</section>")
    return "\n".join(parts)


def _check_table(title: str, key: str, checks: Sequence[Mapping[str, Any]]) -> str:
    counts = _status_counts(checks)
    summary = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in counts.items() if n)
    rows = []
    for check in checks:
        status = _status_of(check)
        rows.append(
            f'<tr class="check" data-status="{escape(status)}">'
            f'<td class="mono">{_esc(check.get("check_id"))}</td>'
            f"<td>{_badge(status)}</td>"
            f'<td class="statement">{_statement(check)}</td>'
            f"<td>{_measurement(check)}</td>"
            f"<td>{_evidence(check, status)}</td>"
            "</tr>"
        )
    return (
        f'<h3 id="checks-{escape(key)}">{escape(title)} <span class="sub">({escape(summary)})'
        "</span></h3>"
        '<div class="scroll"><table class="checks"><thead><tr><th>Check</th><th>Status</th>'
        "<th>Statement</th><th>Value vs threshold</th><th>Evidence / needs</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _statement(check: Mapping[str, Any]) -> str:
    text = _esc(check.get("statement"))
    meta = []
    for key, label in (("scope", "scope"), ("n", "n"), ("excluded_n", "excluded")):
        value = check.get(key)
        if not _is_missing(value) and value != "":
            meta.append(f"{label} {_plain(value)}")
    source = check.get("source")
    dot = " \u00b7 "
    extra = f'<div class="meta">{dot.join(meta)}</div>' if meta else ""
    if not _is_missing(source) and source:
        extra += f'<div class="meta">source: {_plain(source)}</div>'
    notes = check.get("notes")
    if not _is_missing(notes) and notes:
        extra += f'<div class="notes">{_plain(notes)}</div>'
    return text + extra


def _measurement(check: Mapping[str, Any]) -> str:
    metric = check.get("metric")
    value = check.get("value")
    threshold = check.get("threshold")
    comparator = check.get("comparator")
    lines = []
    if not _is_missing(metric) and metric:
        lines.append(f'<div class="mono">{_plain(metric)}</div>')
    if _is_missing(value) and _is_missing(threshold):
        return "".join(lines) or "\u2013"
    shown = f"<b>{_plain(value)}</b>"
    if not _is_missing(threshold) and threshold != "":
        symbol = _COMPARATORS.get(str(comparator).strip().lower())
        if symbol is None:
            symbol = "vs" if _is_missing(comparator) else escape(str(comparator))
        shown += f" {escape(symbol)} {_plain(threshold)}"
    lines.append(f"<div>{shown}</div>")
    return "".join(lines)


def _evidence(check: Mapping[str, Any], status: str) -> str:
    parts = []
    needs = _text_list(check.get("needs"))
    if needs or status == "NOT_ASSESSABLE":
        items = "".join(f"<li>{escape(n)}</li>" for n in needs) or "<li>not stated</li>"
        parts.append(f'<div class="needs"><b>Needs:</b><ul>{items}</ul></div>')
    evidence = _text_list(check.get("evidence"))
    if evidence:
        label = "<b>Evidence:</b>" if parts else ""
        items = "".join(f"<li>{escape(e)}</li>" for e in evidence)
        parts.append(f'<div class="evidence">{label}<ul>{items}</ul></div>')
    used = _text_list(check.get("inputs_used"))
    if used:
        parts.append(f'<div class="meta">inputs: {escape(", ".join(used))}</div>')
    return "".join(parts) or "\u2013"


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
