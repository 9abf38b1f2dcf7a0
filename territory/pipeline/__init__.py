"""One pipeline for every caller: align -> transitions -> quota -> stress -> check -> report.

``territory align / quota / stress / check / report`` (``cli.py``) and the scenario runner
(:mod:`scenarios.runner`) run the same steps (:mod:`territory.pipeline.steps`) into one run
folder; :mod:`territory.pipeline.inputs` reads the files an alignment's spec names, and
:mod:`territory.pipeline.commands` holds the whole of each command, so that the command line
only parses, builds the spec, calls and prints. Its names are imported on first use
(:func:`territory.lazy.lazy_exports`), so the command line's options and console load alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from territory.lazy import lazy_exports

if TYPE_CHECKING:
    from territory.pipeline.inputs import AlignmentInputs, alignment_inputs, file_hash

__all__ = ["AlignmentInputs", "alignment_inputs", "file_hash"]

__getattr__ = lazy_exports(__name__, dict.fromkeys(__all__, "territory.pipeline.inputs"))
