"""Package attributes imported on first use, so that a command imports only what it runs.

A package's ``__init__`` that re-exports its modules' names makes ``import package.light``
pay for every heavy sibling (``territory --version`` used to import scipy.stats, matplotlib,
jinja2 and the solver libraries). With :func:`lazy_exports` as the package's module-level
``__getattr__`` (PEP 562) ``from package import name`` still works, and imports the one module
that defines ``name`` when it is first asked for.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """Build a package's ``__getattr__`` that imports each exported name from its module.

    Parameters
    ----------
    package
        The package's ``__name__``.
    exports
        Exported name to the module that defines it (``"load_scenario": "scenarios.model"``).

    Returns
    -------
    callable
        The ``__getattr__``; it caches each value in the package, so the import happens once.
    """

    def attribute(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    return attribute
