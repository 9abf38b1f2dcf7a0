"""The report of a ``territory design`` folder: designed territories, matched and idle reps.

A design folder holds no alignment (no ``plan.parquet`` or ``solve.json``) but the designed
``territories``, their ``units`` and, when reps were given, the ``matching`` and the
``unmatched_reps``. The page shows the territories as their units dissolved on the map
(labelled with the territory and its rep), the balance of potential and workload, who was
matched and who was not, each territory's workload against its rep's capacity, and what the
design proved.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup

from territory.errors import DataValidationError, InputProblem
from territory.rendering.report.figures import _figure, _mpl_text, _png_bytes
from territory.rendering.report.maps import (
    _MapData,
    charts_of,
    rep_colours,
    territory_shapes,
)
from territory.rendering.report.page import _CSS, ENVIRONMENT
from territory.rendering.report.text import dec2, is_missing, num, pct, pct2, text
from territory.rendering.report.views import (
    Column,
    Image,
    Kpi,
    KvTable,
    Table,
    image,
    kv_table,
    table,
)

DESIGN_SUMMARY = "design.json"
"""Written by ``territory design``; with no ``solve.json`` beside it, it marks a design folder."""

DESIGN_SECTION_IDS = ("map", "balance", "reps", "capacity", "solve-summary")
"""Element ids of the design page's sections, in page order."""

_NAV = tuple(zip(DESIGN_SECTION_IDS, ("Map", "Balance", "Reps", "Capacity", "Design"), strict=True))
_OVER = "#D55E00"
_UNDER = "#0072B2"


def is_design_folder(folder: Path) -> bool:
    """Say whether ``folder`` holds a design run (``design.json``) rather than an alignment."""
    return (folder / DESIGN_SUMMARY).is_file() and not (folder / "solve.json").is_file()


@dataclass(frozen=True)
class DesignFolder:
    """What a design folder holds: the summary and its tables (None when not written)."""

    path: Path
    summary: Mapping[str, Any]
    territories: pd.DataFrame
    units: pd.DataFrame
    matching: pd.DataFrame | None
    unmatched: pd.DataFrame | None
    shown_as: Path | None = None


def _read(folder: Path, name: str) -> pd.DataFrame | None:
    """Read ``<name>.csv|parquet|xlsx`` with ids as text; None when none exists."""
    ids = dict.fromkeys(("territory_id", "rep_id", "unit_id", "centre_unit"), str)
    for suffix in ("csv", "parquet", "xlsx"):
        path = folder / f"{name}.{suffix}"
        if not path.is_file():
            continue
        if suffix == "csv":
            return pd.read_csv(path, dtype=ids)
        frame = pd.read_parquet(path) if suffix == "parquet" else pd.read_excel(path, dtype=ids)
        return frame.astype({c: str for c in ids if c in frame.columns})
    return None


def load_design(folder: str | Path) -> DesignFolder:
    """Read a design folder; names every missing piece in one error.

    Raises
    ------
    DataValidationError
        If ``design.json``, the territories or the units table is missing or does not parse.
    """
    path = Path(folder)
    territories, units = _read(path, "territories"), _read(path, "units")
    problems = [
        InputProblem(
            str(path / name), None, None, "missing from the design folder",
            "run `territory design` again to write the whole folder",
        )
        for name, found in (
            (DESIGN_SUMMARY, (path / DESIGN_SUMMARY).is_file()),
            ("territories.csv", territories is not None),
            ("units.csv", units is not None),
        )
        if not found
    ]  # fmt: skip
    if problems:
        raise DataValidationError(problems)
    assert territories is not None and units is not None
    try:
        summary = json.loads((path / DESIGN_SUMMARY).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataValidationError(
            [
                InputProblem(
                    str(path / DESIGN_SUMMARY), exc.lineno, None, f"not valid JSON ({exc.msg})",
                    "run `territory design` again",
                )
            ]
        ) from exc  # fmt: skip
    return DesignFolder(
        path, summary, territories, units, _read(path, "matching"), _read(path, "unmatched_reps")
    )


# --------------------------------------------------------------------------- charts


def design_maps(design: DesignFolder) -> list[bytes]:
    """Draw the designed territories (units dissolved), units as dots, reps' homes as stars.

    Each territory has one colour (neighbours differ); its rep's home base is labelled
    ``T01 · name``, or the territory id at its centre unit when it has no rep.
    """
    terr = design.territories
    ids = terr["territory_id"].astype(str).tolist()
    position = {t: i for i, t in enumerate(ids)}
    units = design.units
    if "n_accounts" in units.columns and units["n_accounts"].sum() > 0:
        units = units[units["n_accounts"] > 0]
    index = np.array([position.get(t, -1) for t in units["territory_id"]], dtype=np.int64)
    lat = units["lat"].to_numpy(np.float64)
    lon = units["lon"].to_numpy(np.float64)
    mean_lat = float(np.nanmean(lat)) if lat.size else 0.0
    cos_lat = max(float(np.cos(np.radians(mean_lat))), 0.05)
    known = index >= 0
    colours = rep_colours(lon[known] * cos_lat, lat[known], index[known], len(ids))
    colour_of = dict(zip(ids, colours, strict=True))
    home_lat, home_lon, labels = _homes(design, terr)
    data = _MapData(
        lon=lon[known], lat=lat[known],
        colour=np.array(colours, dtype=object)[index[known]],
        moved=np.zeros(int(known.sum()), dtype=bool),
        home_lon=home_lon, home_lat=home_lat, home_colour=colours,
        home_ok=np.isfinite(home_lat) & np.isfinite(home_lon), labels=labels,
        cos_lat=cos_lat, mean_lat=mean_lat, n_accounts=int(known.sum()), n_moved=0,
        n_reps=len(ids), territories=territory_shapes(design.path, colour_of),
        dot_label="Unit with accounts (colour = its territory)",
        territory_label="its units dissolved",
    )  # fmt: skip
    matched = int(terr["rep_id"].notna().sum()) if "rep_id" in terr.columns else 0
    title = (
        f"Designed territories: {len(ids)} over {len(design.units):,} units, {matched} with a rep"
    )
    return charts_of(data, title, dots="units")


def _homes(design: DesignFolder, terr: pd.DataFrame) -> tuple[Any, Any, list[str]]:
    """Where each territory's star goes (its rep's home, else its centre) and its label.

    Folders written before ``matching`` carried the rep's home put the star at the centre.
    """
    match = design.matching
    reps: dict[str, Any] = (
        {str(t): r for t, r in match.set_index("territory_id").to_dict("index").items()}
        if match is not None and "territory_id" in match.columns
        else {}
    )
    lat, lon, labels = [], [], []
    for row in terr.to_dict("records"):
        tid = str(row["territory_id"])
        rep = reps.get(tid) or {}
        home = not is_missing(rep.get("home_lat")) and not is_missing(rep.get("home_lon"))
        lat.append(float(rep["home_lat"] if home else row["centre_lat"]))
        lon.append(float(rep["home_lon"] if home else row["centre_lon"]))
        who = rep.get("rep_id") if is_missing(rep.get("name")) else rep.get("name")
        labels.append(
            f"{tid} (no rep)" if is_missing(who) else f"{tid} \u00b7 {_mpl_text(who, 18)}"
        )
    return np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64), labels


def capacity_chart(design: DesignFolder) -> bytes | None:
    """PNG: each territory's workload as a multiple of its rep's capacity (None without)."""
    terr = design.territories
    if "load" not in terr.columns or terr["load"].notna().sum() == 0:
        return None
    limit = _limit(design.summary)
    load = pd.to_numeric(terr["load"], errors="coerce").to_numpy(np.float64)
    n = len(terr)
    fig = _figure(10.0, max(3.6, 0.28 * n + 1.8))
    ax = fig.add_subplot()
    ax.grid(True, axis="x", color="#DDDDDD", linewidth=0.8)
    ax.set_axisbelow(True)
    pos = np.arange(n)[::-1]
    over = np.nan_to_num(load) > limit * (1 + 1e-9)
    ax.barh(pos, np.nan_to_num(load), color=[_OVER if o else _UNDER for o in over], height=0.7)
    ax.axvline(1.0, color="#333333", linewidth=1.2, linestyle="--")
    if limit != 1.0:
        ax.axvline(limit, color=_OVER, linewidth=1.0, linestyle=":")
    labels = [
        f"{t} ({_mpl_text(r, 10)})" if not is_missing(r) else f"{t} (no rep)"
        for t, r in zip(terr["territory_id"], terr.get("rep_id", [None] * n), strict=True)
    ]
    ax.set_yticks(pos, labels)
    ax.tick_params(labelsize=9)
    ax.set_xlim(0, max(float(np.nanmax(load)) * 1.1, limit * 1.2, 1.2))
    ax.set_xlabel("Workload / the rep's capacity (1 = exactly at capacity)", fontsize=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.suptitle(
        f"Capacity: {int(over.sum())} of {n} territories over {limit:g}x their rep's capacity",
        fontsize=13, fontweight="bold", color=_OVER if over.any() else "#333333",
    )  # fmt: skip
    return _png_bytes(fig)


def _limit(summary: Mapping[str, Any]) -> float:
    cap = summary.get("capacity") or {}
    limit = cap.get("limit")
    return float(limit) if isinstance(limit, int | float) else 1.0


# --------------------------------------------------------------------------- views

_COLUMNS: dict[str, Column] = {
    column[1]: column
    for column in (
        ("Territory", "territory_id", text, False),
        ("Rep", "rep_id", text, False),
        ("Name", "name", text, False),
        ("Tier", "tier", text, False),
        ("Rating", "rating", dec2, True),
        ("Units", "n_units", num, True),
        ("Accounts", "n_accounts", num, True),
        ("Potential", "potential", num, True),
        ("Potential vs equal", "potential_dev", pct2, True),
        ("Workload (h/yr)", "workload_h", num, True),
        ("Workload vs equal", "workload_dev", pct2, True),
        ("Rep capacity (h/yr)", "rep_capacity_h", num, True),
        ("Workload / capacity", "load", dec2, True),
        ("Km home to centre", "km_to_centre", num, True),
        ("Km to farthest unit", "km_to_farthest", num, True),
        ("Book kept", "continuity_share", pct2, True),
        ("Score", "score", dec2, True),
        ("Capacity (h/yr)", "capacity", num, True),
        ("Why no territory", "reason", text, False),
    )
}
"""Every column the design page's tables show, by the table column it reads."""


def _columns(*names: str) -> tuple[Column, ...]:
    return tuple(_COLUMNS[name] for name in names)


_TERRITORY_COLUMNS = _columns(
    "territory_id", "rep_id", "n_units", "n_accounts", "potential", "potential_dev",
    "workload_h", "workload_dev", "rep_capacity_h", "load",
)  # fmt: skip
_MATCH_COLUMNS = _columns(
    "territory_id", "rep_id", "name", "tier", "rating", "potential", "km_to_centre",
    "km_to_farthest", "continuity_share", "score",
)  # fmt: skip
_UNMATCHED_COLUMNS = _columns("rep_id", "name", "tier", "rating", "capacity", "reason")


@dataclass(frozen=True)
class DesignView:
    """Everything the design page shows, as display text and images."""

    name: str
    kpis: tuple[Kpi, ...]
    maps: tuple[Image, ...]
    balance: Table
    matched: Table | None
    unmatched: Table | None
    n_reps: int
    n_unmatched: int
    capacity_image: Image | None
    capacity_text: tuple[str, ...]
    solve: KvTable


def design_view(design: DesignFolder) -> DesignView:
    """Compute the design page's content from the folder's tables and summary."""
    s, terr = design.summary, design.territories
    match = s.get("matching") or {}
    idle = list(match.get("unassigned_reps") or [])
    n_reps = int(match.get("reps", len(idle) + int(terr.get("rep_id", pd.Series()).notna().sum())))
    cap = s.get("capacity") or {}
    over = list(cap.get("overloaded") or [])
    kpis = [
        Kpi("Territories", num(len(terr)), f"{num(len(design.units))} units"),
        Kpi("Accounts", num(terr["n_accounts"].sum() if "n_accounts" in terr else None)),
        Kpi(
            "Largest deviation",
            pct(max(s.get("max_potential_deviation", 0), s.get("max_workload_deviation", 0)), 2),
            "potential or workload from equal",
        ),
    ]
    if match:
        kpis.append(
            Kpi("Reps matched", f"{n_reps - len(idle)} of {n_reps}",
                f"{len(idle)} without a territory" if idle else "every rep has one",
                "warn" if idle else "good", link="#reps")
        )  # fmt: skip
    if cap.get("largest_load") is not None:
        kpis.append(
            Kpi("Largest workload / capacity", f"{cap['largest_load']:.2f}x",
                f"{len(over)} of {len(terr)} over {_limit(s):g}x", "bad" if over else "good",
                link="#capacity")
        )  # fmt: skip
    kpis.append(Kpi("Status", text(s.get("status")), text(s.get("method"))))
    pngs = design_maps(design)
    maps = [
        image(pngs[0], "Map of the designed territories", _MAP_CAPTION, ident="map-image")
    ] + [
        image(png, f"Zoom {k} of the design map", f"Zoom {k}: a dashed frame above.",
              ident=f"map-zoom-{k}")
        for k, png in enumerate(pngs[1:], start=1)
    ]  # fmt: skip
    chart = capacity_chart(design)
    return DesignView(
        name=(design.shown_as or design.path).name or (design.shown_as or design.path).as_posix(),
        kpis=tuple(kpis),
        maps=tuple(maps),
        balance=table(terr, _TERRITORY_COLUMNS, table_class="", row_class=_over_row(s)),
        matched=table(design.matching, _MATCH_COLUMNS) if design.matching is not None else None,
        unmatched=(
            table(design.unmatched, _UNMATCHED_COLUMNS)
            if design.unmatched is not None and len(design.unmatched)
            else None
        ),
        n_reps=n_reps,
        n_unmatched=len(idle),
        capacity_image=(
            image(chart, "Workload against capacity per territory", ident="capacity-chart")
            if chart is not None
            else None
        ),
        capacity_text=_capacity_text(cap, len(terr), bool(match)),
        solve=_solve_table(s),
    )


_MAP_CAPTION = (
    "Each shaded area is a designed territory: the basic units it holds, dissolved. Dots are "
    "units with accounts, in their territory's colour; stars are the matched reps' home bases, "
    "labelled with the territory and the rep (a territory without a rep is labelled at its "
    "centre). Grey lines are county and state borders."
)


def _over_row(summary: Mapping[str, Any]) -> Any:
    limit = _limit(summary)

    def css(record: pd.Series) -> str:
        load: Any = record.get("load")
        return "off" if not is_missing(load) and float(load) > limit * (1 + 1e-9) else ""

    return css


def _capacity_text(cap: Mapping[str, Any], k: int, matched: bool) -> tuple[str, ...]:
    if not matched:
        return ("No reps were given (--reps), so workload cannot be set against capacity.",)
    if cap.get("largest_load") is None:
        return ("The reps table has no capacity column: workload is not set against capacity.",)
    over = cap.get("overloaded") or []
    total, limit = float(cap.get("total_workload_h", 0.0)), float(cap.get("limit", 1.0))
    lines = [
        f"The {k} territories hold {total:,.0f} h of workload a year; the matched reps can "
        f"work {float(cap.get('matched_capacity_h', 0.0)):,.0f} h and all reps "
        f"{float(cap.get('total_capacity_h', 0.0)):,.0f} h."
    ]
    if over:
        lines.append(
            f"{len(over)} of {k} territories carry more than {limit:g}x their rep's capacity "
            f"(largest {float(cap['largest_load']):.2f}x): those reps cannot work their whole "
            "territory."
        )
        suggested = cap.get("suggested_k")
        lines.append(
            f"Designing {suggested} territories ({total / suggested:,.0f} h each) would fit the "
            "reps' capacities; --max-load makes capacity a rule of the design."
            if suggested
            else "The reps' capacity is short of the workload at any number of territories: "
            "more reps are needed."
        )
    else:
        lines.append(f"Every matched rep carries at most {limit:g}x their capacity.")
    return tuple(lines)


def _solve_table(s: Mapping[str, Any]) -> KvTable:
    gap = s.get("gap")
    rows = [
        ("Method", text(s.get("method"))),
        ("Status", text(s.get("status"))),
        ("Objective (compactness)", num(s.get("objective"), 1)),
        ("Lower bound", "none (heuristic)" if s.get("bound") is None else num(s.get("bound"), 1)),
        ("Gap", "\u2013" if gap is None else pct(gap, 2)),
        ("Rounds", text(s.get("rounds"))),
        ("Contiguous", "yes" if s.get("contiguous") else "no"),
        ("Cut edges", num(s.get("cut_edges"))),
        ("Largest potential deviation", pct(s.get("max_potential_deviation"), 2)),
        ("Largest workload deviation", pct(s.get("max_workload_deviation"), 2)),
    ]
    rows += [("Note", str(note)) for note in s.get("notes") or []]
    return kv_table(rows, "design-summary")


def render_design_report(design: DesignFolder) -> str:
    """Render the design page as one self-contained HTML document (same folder, same text)."""
    view = design_view(design)
    return ENVIRONMENT.get_template("design.html.j2").render(
        title=f"Territory design report \u2013 {view.name}",
        css=Markup(_CSS),
        nav=_NAV,
        view=view,
    )


def design_report_html(folder: Path, shown_as: Path | None = None) -> str:
    """Read the design folder and render its page (``shown_as`` names it instead, if given)."""
    return render_design_report(replace(load_design(folder), shown_as=shown_as))
