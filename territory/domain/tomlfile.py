"""Reading a TOML file the user named: one place, one set of messages."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from territory.errors import ScenarioError


def read_toml(path: Path, kind: str, *, where: str = "") -> dict[str, Any]:
    """Parse a TOML file; every failure names the file and says what to check.

    Parameters
    ----------
    path
        The file.
    kind
        What the file is, for messages (``comp plan``, ``thresholds``, ``scenario``).
    where
        How the user came to name it, appended to messages (`` (named by base.toml)``).

    Raises
    ------
    ScenarioError
        When the file is missing, unreadable or not valid TOML.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{kind} file {path} not found{where}; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read {kind} file {path}{where}: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{kind} file {path} is not valid TOML: {exc}") from None
