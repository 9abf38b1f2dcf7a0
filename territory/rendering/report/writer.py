"""Writing the page: the only part of the report that creates files.

Kept apart from rendering so the output-path rules (atomic replace, the engine's own
staging file) live in one small place.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from territory.io.outputs import clean_leftovers, staging_path


def write_report(path: str | Path, html: str) -> Path:
    """Write the page atomically (a sibling temporary file renamed over ``path``); UTF-8."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(target)  # what a killed earlier run left next to it
    staging = staging_path(target)
    try:
        staging.write_text(html, encoding="utf-8", newline="\n")
        os.replace(staging, target)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    return target


def report_writer(html: str) -> Callable[[Path], None]:
    """Make a writer for :func:`territory.io.write_outputs`' ``files`` (``{REPORT_FILE: ...}``)."""

    def write(target: Path) -> None:
        target.write_text(html, encoding="utf-8", newline="\n")

    return write
