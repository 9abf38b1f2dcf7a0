"""Imports that must work on their own: no lazy attribute trick, no cycle through the solvers.

``territory/__init__.py`` once served ``territory.align`` through a module ``__getattr__`` so that
``import solvers`` (which imports the domain, hence the ``territory`` package) did not loop back
into the workflow. The package now imports only the errors, and the notebook entry point is the
plain module :mod:`territory.workflow.api`. Each import runs in a fresh interpreter, since this
test process has long since imported everything.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _fresh(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "code",
    [
        "import solvers",
        "import territory.domain",
        "import territory.domain.districting, territory.domain.comp, territory.domain.checks",
        "from territory.workflow.api import AlignmentResult, AlignmentSpec, Budget, SolveReport, "
        "align",
    ],
)
def test_each_entry_imports_in_a_fresh_process(code: str) -> None:
    done = _fresh(code)
    assert done.returncode == 0, done.stderr


def test_the_package_loads_neither_the_solvers_nor_the_workflow() -> None:
    done = _fresh(
        "import sys, territory\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'solvers' "
        "or m.startswith('territory.workflow'))\n"
        "print(loaded)"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_package_defines_no_module_getattr() -> None:
    tree = ast.parse((ROOT / "territory" / "__init__.py").read_text(encoding="utf-8"))
    names = {
        node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    assert "__getattr__" not in names and "__dir__" not in names


def test_the_workflow_module_align_is_not_shadowed_by_the_function() -> None:
    """``territory.workflow.align`` stays the module (monkeypatch paths and ``as api`` use it)."""
    done = _fresh(
        "import territory.workflow.api, territory.workflow as w, inspect\n"
        "print(inspect.ismodule(w.align))"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"


DOMAIN_FILE_READS = ("open(", ".read_text(", ".read_bytes(", "tomllib", "import csv", "json.load")


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "territory" / "domain").rglob("*.py")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_the_domain_reads_no_files(path: Path) -> None:
    """Reading files is territory.io's (config_files, benchmark_graphs, runs); the domain parses."""
    text = path.read_text(encoding="utf-8")
    assert [r for r in DOMAIN_FILE_READS if r in text] == []
