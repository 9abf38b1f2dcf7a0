"""Output folders: which folders the engine may replace or add to, and how it writes them.

The rule, applied before any solve and again at the moment of writing:

* A folder may be **replaced** when it is absent, empty, or was written by this engine (it holds
  the marker file :data:`MARKER`, and nothing else in it that the marker does not list). Anything
  else is refused with :class:`~territory.errors.OutputFolderError` (exit 2), naming the folder and
  what is in it. ``force=True`` replaces such a folder only when it holds none of the command's
  inputs, is not the current folder or one of its ancestors, and is not a home or root folder.
* Steps that **add** files to a run folder (quota, stress, check, report) need a folder the
  engine wrote (the marker, or the files of an older version's run) and hold a lock on it for
  their whole read-modify-write; each file is staged inside the folder and renamed into place, so
  two steps at once lose nothing.
* Staging and backup names carry the process id (and a host tag, for shared file systems); a
  later run removes those of dead processes and puts back a folder whose swap a SIGKILL cut short.

The marker's content is deterministic (engine, command, version, the files written), so reruns
stay byte-identical. :mod:`territory.io.output_rules` holds the marker and the rule,
:mod:`territory.io.output_writing` the staging, locks and swaps; this module re-exports their public
names.
"""

from __future__ import annotations

from territory.io.output_rules import (
    ENGINE,
    LEGACY_RUN_FILES,
    LOCK_FILE,
    MARKER,
    SCRATCH_PREFIX,
    check_output_folder,
    check_report_file,
    child_folder,
    clean_leftovers,
    clean_scratch_leftovers,
    foreign_entries,
    is_engine_folder,
    is_legacy_run_folder,
    is_our_report,
    marker_document,
    read_marker,
    scratch_prefix,
    staging_path,
)
from territory.io.output_writing import (
    add_files,
    folder_lock,
    prepare_folder,
    replace_folder,
    run_folder,
)

__all__ = [
    "ENGINE",
    "LEGACY_RUN_FILES",
    "LOCK_FILE",
    "MARKER",
    "SCRATCH_PREFIX",
    "add_files",
    "check_output_folder",
    "check_report_file",
    "child_folder",
    "clean_leftovers",
    "clean_scratch_leftovers",
    "folder_lock",
    "foreign_entries",
    "is_engine_folder",
    "is_legacy_run_folder",
    "is_our_report",
    "marker_document",
    "prepare_folder",
    "read_marker",
    "replace_folder",
    "run_folder",
    "scratch_prefix",
    "staging_path",
]
