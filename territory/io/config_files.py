"""Reading the TOML files a user names (comp plans, check thresholds, scenarios).

One reader, :func:`read_toml`, gives every failure the same shape (file, what it is, how to
fix it); the domain validates what was read (:func:`territory.domain.comp.parse_comp`,
:func:`territory.domain.checks.thresholds_from_mapping`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from territory.domain.checks.thresholds import CheckThresholds, thresholds_from_mapping
from territory.domain.comp import CompPlan, parse_comp
from territory.errors import ScenarioError

_T = TypeVar("_T")


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

    Returns
    -------
    dict
        The parsed document.

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


def load_comp(path: str | Path) -> CompPlan:
    """Read and validate a comp plan TOML file; every problem names the file, role and key.

    Parameters
    ----------
    path
        The TOML file.

    Returns
    -------
    CompPlan
        The plan, every role checked (see :func:`territory.domain.comp.parse_comp`).

    Raises
    ------
    ScenarioError
        The file cannot be read, is not TOML, or breaks a rule of the plan.
    """
    return _parsed(path, "comp plan", parse_comp)


def load_thresholds(path: str | Path) -> CheckThresholds:
    """Read a thresholds TOML file (layout of ``data/checks.toml``); missing keys keep defaults.

    Raises
    ------
    ScenarioError
        When the file is missing or not TOML, or a key is unknown or has the wrong type; the
        message names the file and the key.
    """
    return _parsed(path, "thresholds", thresholds_from_mapping)


def _parsed(path: str | Path, kind: str, parse: Callable[[dict[str, Any], str], _T]) -> _T:
    """Read the file and hand its document to the domain's ``parse``, naming the file as source."""
    p = Path(path)
    return parse(read_toml(p, kind), str(p))
