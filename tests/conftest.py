"""Shared test configuration.

The ``ci`` hypothesis profile makes property tests reproducible on CI (no random seed, no
per-example deadline on slow shared runners); it is loaded whenever the ``CI`` variable is set.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
