"""The building blocks a section hands to the templates: tables, key figures, images, notices.

Each is a small frozen dataclass of display text (never HTML): the templates decide the
markup and escape every value, so user text cannot become markup by accident.
"""

from __future__ import annotations

import struct
from base64 import b64encode
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from territory.rendering.report.text import is_missing, text

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

Column = tuple[str, str, Callable[[Any], str], bool]
"""(header, frame column, cell formatter returning text, right-aligned)."""

REP_COLUMNS: tuple[Column, ...] = (
    ("Rep", "rep_id", text, False),
    ("Name", "name", text, False),
    ("Role", "role", text, False),
)
"""The columns a table with one row per rep starts with."""


@dataclass(frozen=True)
class Kpi:
    """One key figure of the header: a label, its value and a short note under it.

    ``tone`` ("good", "warn", "bad" or "") colours the box; ``link`` makes the value a link
    to a section of the page.
    """

    label: str
    value: str
    note: str = ""
    tone: str = ""
    link: str = ""


@dataclass(frozen=True)
class KvRow:
    """One row of a two-column key/value table.

    ``style`` wraps the value: "" plain text, "code" in ``<code>``, anything else is the class
    of a ``<span>``. When ``bullets`` is given, the value is that bulleted list instead.
    """

    label: str
    value: str = ""
    style: str = ""
    bullets: tuple[str, ...] | None = None


@dataclass(frozen=True)
class KvTable:
    """A key/value table (``ident`` is its element id, "" for none)."""

    rows: tuple[KvRow, ...]
    ident: str = ""


@dataclass(frozen=True)
class Cell:
    """A table cell's text and class (None: no class attribute)."""

    text: str
    css: str | None = None


@dataclass(frozen=True)
class Row:
    """A table row: its cells and its class ("" for none)."""

    cells: tuple[Cell, ...]
    css: str = ""


@dataclass(frozen=True)
class Table:
    """A data table: headers as ``(text, right-aligned)``, rows, an optional class and id."""

    headers: tuple[tuple[str, bool], ...]
    rows: tuple[Row, ...]
    css: str = ""
    ident: str = ""


@dataclass(frozen=True)
class Image:
    """A PNG chart inline as a data URI, with its pixel size so the page does not reflow.

    ``src`` is "" when the bytes are not a PNG: the page then says so in place of the image.
    """

    alt: str
    caption: str = ""
    ident: str = ""
    width: int = 0
    height: int = 0
    src: str = ""


@dataclass(frozen=True)
class Notice:
    """A section's inputs are missing: what is missing and the command that makes them."""

    what: str
    command: str


def image(png: bytes, alt: str, caption: str = "", *, ident: str = "") -> Image:
    """Wrap PNG bytes as an :class:`Image`; anything that is not a PNG gets an empty ``src``."""
    if not png.startswith(PNG_SIGNATURE) or len(png) < 24:
        return Image(alt=alt)
    width, height = struct.unpack(">II", png[16:24])
    data = b64encode(png).decode("ascii")
    return Image(alt, caption, ident, width, height, f"data:image/png;base64,{data}")


def kv_table(rows: Sequence[tuple[str, str] | KvRow], ident: str = "") -> KvTable:
    """Build a :class:`KvTable`; plain ``(label, value)`` pairs become plain-text rows."""
    return KvTable(tuple(r if isinstance(r, KvRow) else KvRow(*r) for r in rows), ident)


def table(
    frame: pd.DataFrame,
    columns: Sequence[Column],
    *,
    total: Mapping[str, str] | None = None,
    row_class: Callable[[pd.Series], str] | None = None,
    table_class: str = "",
    defaults: Mapping[str, object] | None = None,
) -> Table:
    """Build a :class:`Table` of the columns of ``frame`` that say something, in order.

    Columns that are missing from ``frame``, empty in every row, or equal to their value in
    ``defaults`` in every row (no caps hit, no ramp) are left out, so a reader sees only
    columns that tell them something about this run.
    """
    present = [
        c for c in columns if c[1] in frame.columns and _informative(frame[c[1]], defaults, c[1])
    ]
    rows = []
    for _, record in frame.iterrows():
        cells = tuple(
            Cell(fmt(record[name]), _cell_class(name, right)) for _, name, fmt, right in present
        )
        rows.append(Row(cells, row_class(record) if row_class else ""))
    if total is not None:
        cells = tuple(
            Cell(total.get(name, ""), "num" if right else None) for _, name, _, right in present
        )
        rows.append(Row(cells, "total"))
    return Table(tuple((h, right) for h, _, _, right in present), tuple(rows), table_class)


def _cell_class(name: str, right: bool) -> str:
    if right:
        return "num dev" if "dev" in name else "num"
    return "name" if name == "name" else "text"


def _informative(values: pd.Series, defaults: Mapping[str, object] | None, name: str) -> bool:
    present = [v for v in values.tolist() if not is_missing(v)]
    if not present:
        return False
    if defaults is None or name not in defaults:
        return True
    default = defaults[name]
    return any(v != default for v in present)
