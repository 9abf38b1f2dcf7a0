"""The shape of the code base: layers import one way, files stay readable, nothing imports the CLI.

import-linter (run by ``make lint``) checks the layer contracts in ``pyproject.toml``; these tests
pin the rules it cannot express.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("territory", "solvers", "scenarios")
MAX_LINES = 900
"""A module longer than this is several modules (split it along its seams)."""


def _sources() -> list[Path]:
    files = [p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))]
    return [*files, ROOT / "cli.py"]


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_source_file_is_several_modules(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines (at most {MAX_LINES})"


def _imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_nothing_imports_the_command_line() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in _sources()[:-1] if "cli" in _imported(p)]
    assert offenders == []


def test_the_layer_contracts_are_declared() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c["type"] == "layers")["layers"]
    assert layers[0] == "scenarios" and layers[-1] == "territory.errors"
    assert {"territory.domain", "territory.workflow", "territory.io", "solvers"} <= set(layers)
    assert any(c["type"] == "acyclic_siblings" for c in contracts)
