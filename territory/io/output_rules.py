"""Which output folders the engine may replace or add to: the marker and the folder rule.

A folder may be replaced when it is absent, empty or written by this engine (its marker file
:data:`MARKER` lists what it wrote); :func:`check_output_folder` refuses anything else, naming the
folder and what is in it, and guards ``--force`` against inputs, ancestors and home folders.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from territory.errors import OutputFolderError, UnsafeNameError

MARKER = ".territory-run.json"
"""Written into every folder the engine writes; names the engine, command and version."""

LOCK_FILE = ".territory-run.lock"
"""Lock file of platforms without ``fcntl`` (elsewhere the folder itself is locked)."""

ENGINE = "territory-engine"

LEGACY_RUN_FILES = ("solve.json", "plan.parquet", "input_accounts.parquet")
"""A folder holding all of these is a run folder written before markers existed."""

_SHOWN = 5

_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
"""Short tag of this machine: a PID alone says nothing on a file system shared by a cluster."""

_TAG = r"(?P<pid>\d+)-(?P<host>[0-9a-f]{8})-[0-9a-f]{8}"
_ADD_PREFIX = ".territory-add-"
_ADD_RE = re.compile(rf"^{re.escape(_ADD_PREFIX)}{_TAG}$")
SCRATCH_PREFIX = "territory-run-"
_MARKER_TMP_RE = re.compile(rf"^{re.escape(f'.{MARKER}.tmp-')}{_TAG}$")
_SCRATCH_RE = re.compile(rf"^{SCRATCH_PREFIX}(?P<pid>\d+)-(?P<host>[0-9a-f]{{8}})-")

# Output names of versions that wrote no marker: a legacy run folder holding only these may be
# replaced (it is ours); anything else in it is the user's.
_LEGACY_STEMS = (
    "assignments", "territories", "transitions", "units", "matching", "quotas", "quotas_annual",
    "stress_scenarios", "sensitivity", "rep_impact", "payout_table", "checks", "cost_distribution",
)  # fmt: skip
_LEGACY_NAMES = frozenset(
    [f"{stem}.{fmt}" for stem in _LEGACY_STEMS for fmt in ("csv", "parquet", "xlsx")]
    + [
        "solve.json", "input_accounts.parquet", "input_reps.parquet", "plan.parquet",
        "quotas.parquet", "quota_summary.json", "stress.json", "finance.xlsx",
        "attainment_distribution.png", "payout_curve.png", "cost_vs_attainment.png",
        "comp_plan.toml", "checks.json", "report.html", "manifest.json", "timings.json",
        "levers.json", "territories.geojson", "design.json",
    ]
)  # fmt: skip

_REPORT_SIGNS = (
    b'<meta name="generator" content="territory-engine',
    b"<footer>Made by territory-engine",
)
"""Bytes only the engine's HTML pages carry (report, comparison)."""


# --------------------------------------------------------------------------------------------
# Marker


def engine_version() -> str:
    """Return the installed package's version (``unknown`` when run from a bare checkout)."""
    from importlib import metadata

    try:
        return metadata.version(ENGINE)
    except metadata.PackageNotFoundError:
        return "unknown"


def marker_document(command: str, files: Iterable[str] = ()) -> dict[str, Any]:
    """Return the marker's content: no clock or host in it, so reruns stay byte-identical.

    Parameters
    ----------
    command
        The command that wrote the folder.
    files
        The files it wrote.

    Returns
    -------
    dict
        The marker's JSON document.
    """
    return {
        "engine": ENGINE,
        "command": command,
        "version": engine_version(),
        "files": sorted(set(files)),
    }


def _marker_text(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def read_marker(folder: str | Path) -> dict[str, Any] | None:
    """Return the folder's marker when it is a real file naming this engine, else None.

    Parameters
    ----------
    folder
        The folder to look in.

    Returns
    -------
    dict or None
        The marker's document.
    """
    path = Path(folder) / MARKER
    try:
        if path.is_symlink() or not path.is_file():
            return None
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("engine") != ENGINE:
        return None
    files = document.get("files", [])
    document["files"] = [f for f in files if isinstance(f, str)] if isinstance(files, list) else []
    return document


def is_engine_folder(folder: str | Path) -> bool:
    """Tell whether the folder carries this engine's marker.

    Parameters
    ----------
    folder
        Any path; a missing folder is not the engine's.

    Returns
    -------
    bool
        True when its marker (:data:`MARKER`) names this engine.
    """
    return read_marker(folder) is not None


def is_legacy_run_folder(folder: str | Path) -> bool:
    """Tell whether it is a run folder an older version wrote (no marker, but its run files).

    Parameters
    ----------
    folder
        Any path.

    Returns
    -------
    bool
        True when it is a folder holding every file of :data:`LEGACY_RUN_FILES`.
    """
    path = Path(folder)
    return path.is_dir() and all((path / name).is_file() for name in LEGACY_RUN_FILES)


def _write_marker(folder: Path, document: Mapping[str, Any], staging: Path | None = None) -> None:
    """Write the marker atomically (a temporary file renamed over it)."""
    where = staging if staging is not None else folder
    tmp = where / f".{MARKER}.tmp-{_tag()}"
    try:
        tmp.write_text(_marker_text(document), encoding="utf-8", newline="\n")
        os.replace(tmp, folder / MARKER)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


# --------------------------------------------------------------------------------------------
# What a folder holds


def _ours(name: str, engine: bool) -> bool:
    """Tell whether ``name`` is the engine's own hidden bookkeeping.

    Staging anywhere; the marker and the lock file only in a folder the engine wrote (elsewhere a
    file of that name is someone else's).
    """
    if engine and name in (MARKER, LOCK_FILE):
        return True
    return bool(_ADD_RE.match(name)) or bool(_MARKER_TMP_RE.match(name))


def foreign_entries(folder: Path) -> list[str]:
    """Names in ``folder`` the engine did not write, sorted (folders end with ``/``).

    A marker folder's own files are those its marker lists; a sub-folder that is itself a
    clean engine folder (a sweep's runs) is the engine's too. In a legacy run folder only the
    names older versions wrote count as the engine's. Anything else belongs to the user.

    Parameters
    ----------
    folder
        The folder to list.

    Returns
    -------
    list of str
        The user's names in it.
    """
    marker = read_marker(folder)
    legacy = marker is None and is_legacy_run_folder(folder)
    if marker is not None:
        listed = set(marker["files"])
    elif legacy:
        listed = set(_LEGACY_NAMES)
    else:
        listed = set()
    engine = marker is not None or legacy
    foreign: list[str] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            name = entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            if _ours(name, engine) or name in listed:
                continue
            if is_dir and is_engine_folder(entry.path) and not foreign_entries(Path(entry.path)):
                continue
            foreign.append(name + "/" if is_dir else name)
    return sorted(foreign)


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    more = len(names) - _SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def _describe(names: Sequence[str]) -> str:
    noun = "entry" if len(names) == 1 else "entries"
    return f"{len(names)} {noun} the engine did not write ({_listing(names)})"


# --------------------------------------------------------------------------------------------
# The rule


def _real(path: Path) -> Path:
    """Absolute path with symbolic links resolved, for comparing locations."""
    return Path(os.path.realpath(path))


def _home_folders() -> set[Path]:
    """Return the root folder and every user's home folder on this machine."""
    homes = {Path("/"), Path(os.path.abspath(Path.home()))}
    for base in ("/home", "/Users", "/root"):
        homes.add(Path(base))
    with contextlib.suppress(ImportError, KeyError, OSError):
        import pwd

        homes.update(Path(entry.pw_dir) for entry in pwd.getpwall() if entry.pw_dir)
    homes.update(Path(os.path.abspath(p)) for p in (os.environ.get("HOME"),) if p)
    resolved = {_real(h) for h in homes} | homes
    anchor = Path(os.path.abspath(os.sep)).anchor
    resolved.add(Path(anchor))
    return resolved


def _is_home(path: Path) -> bool:
    real = _real(path)
    if real in _home_folders():
        return True
    # /home/<user>, /Users/<user>: a user's home even when this machine does not list them.
    return real.parent in (Path("/home"), Path("/Users")) or real == real.parent


def _nearest_existing(path: Path) -> Path:
    probe = path
    while not os.path.lexists(probe) and probe != probe.parent:
        probe = probe.parent
    return probe


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def _refuse(option: str, path: Path, problem: str, fix: str) -> OutputFolderError:
    return OutputFolderError(f"{option} {path}: {problem}. {fix}")


def _existing_folder(path: Path, shown: Path, option: str) -> Path:
    """Return the nearest existing folder at or above ``path``; refuse when it is a file."""
    existing = _nearest_existing(path)
    if not existing.is_dir():
        raise _refuse(
            option,
            shown,
            f"cannot be created because {existing} is a file",
            "Choose a path whose parent folders are folders",
        )
    return existing


def _check_location(final: Path, shown: Path, option: str) -> None:
    """Refuse early a file, a symbolic link or an unwritable folder: none can be written."""
    if os.path.islink(final):
        raise _refuse(
            option,
            shown,
            f"is a symbolic link (to {os.path.realpath(final)})",
            "Give the folder it points to, or another path",
        )
    if os.path.lexists(final) and not final.is_dir():
        raise _refuse(
            option, shown, "is a file, not a folder", "Choose a folder path (absent or empty)"
        )
    existing = _existing_folder(final if os.path.lexists(final) else final.parent, shown, option)
    if not _writable(existing):
        raise _refuse(
            option,
            shown,
            f"cannot be written: no write permission on {existing}",
            "Choose a folder you can write to",
        )


def _check_inputs(final: Path, shown: Path, inputs: Iterable[str | Path], option: str) -> None:
    real = _real(final)
    held = sorted(str(p) for p in inputs if p is not None and _real(Path(p)).is_relative_to(real))
    if held:
        raise _refuse(
            option,
            shown,
            f"holds this command's input(s) {_listing(held)}, which writing it would delete",
            "Choose another output folder (not the one the inputs are in)",
        )


def _checked_target(
    path: str | Path, inputs: Iterable[str | Path | None], option: str, *, clean: bool
) -> tuple[Path, Path]:
    """Give the folder as the user wrote it and as an absolute path, once its place is fine.

    The checks every command makes before it looks inside: leftovers of dead processes gone
    (``clean``), a folder path it can write, none of its inputs inside.
    """
    shown = Path(path)
    final = Path(os.path.abspath(shown))
    if clean:
        clean_leftovers(final)
    _check_location(final, shown, option)
    _check_inputs(final, shown, [p for p in inputs if p is not None], option)
    return shown, final


def _check_not_current(final: Path, shown: Path, option: str) -> None:
    """Never the folder the user stands in, nor one of its parents, whoever wrote it.

    Replacing it would swap the folder away under the user's shell (and, for a parent, take
    everything beside the current folder with it).
    """
    real = _real(final)
    try:
        cwd = _real(Path.cwd())
    except OSError:  # the current folder was deleted: nothing of it to protect
        return
    if cwd == real or cwd.is_relative_to(real):
        raise _refuse(
            option,
            shown,
            "is the current folder or one of its parents, which is never replaced",
            "Choose a sub-folder, e.g. out/run",
        )


def _check_force(final: Path, shown: Path, option: str) -> None:
    _check_not_current(final, shown, option)
    if _is_home(final):
        raise _refuse(
            option,
            shown,
            "is a home or root folder, which --force never replaces",
            "Choose a sub-folder, e.g. out/run",
        )


def check_output_folder(
    path: str | Path,
    *,
    command: str,
    inputs: Iterable[str | Path | None] = (),
    force: bool = False,
    option: str = "--out",
    clean: bool = True,
) -> Path:
    """Check that ``path`` may be replaced by a folder of outputs; call before any long work.

    Parameters
    ----------
    path
        The output folder.
    command
        The command that will write it (recorded in the marker, used in messages).
    inputs
        Files and folders the command reads: the output folder may hold none of them.
    force
        Replace a non-empty folder the engine did not write (never the current folder or an
        ancestor of it, a home or root folder, or one that holds an input).
    option
        How the user named the path (``--out``), for messages.
    clean
        First remove staging leftovers of dead processes next to ``path``.

    Returns
    -------
    The absolute path (``.`` and ``..`` resolved by name, links not followed).

    Raises
    ------
    OutputFolderError
        The folder may not be replaced; the message says why and what is in it.
    """
    shown, final = _checked_target(path, inputs, option, clean=clean)
    if not os.path.lexists(final):
        return final
    try:
        foreign = foreign_entries(final)
    except OSError as exc:
        raise _refuse(
            option, shown, f"cannot be read ({exc.strerror})", "Choose a folder you can read"
        ) from None
    if foreign:
        if not force:
            why = (
                f"its {MARKER} does not list them"
                if is_engine_folder(final)
                else f"it has no {MARKER}, so territory did not write it"
            )
            raise _refuse(
                option,
                shown,
                f"holds {_describe(foreign)}; {why}",
                "Choose an empty or new folder, or pass --force to replace it as a whole",
            )
        _check_force(final, shown, option)
    _check_not_current(final, shown, option)
    if not _writable(final.parent) or (any(final.iterdir()) and not _writable(final)):
        raise _refuse(
            option,
            shown,
            "cannot be replaced: no write permission on it or its parent folder",
            "Choose a folder you can write to",
        )
    return final


def check_report_file(path: str | Path, *, option: str = "--out") -> Path:
    """Check that an HTML page may be written at ``path``: absent, or a page the engine wrote.

    Parameters
    ----------
    path
        Where the page is to be written.
    option
        The command-line option that named it, for messages.

    Returns
    -------
    pathlib.Path
        The absolute path.

    Raises
    ------
    OutputFolderError
        ``path`` is a folder, a file the engine did not write, or cannot be written.
    """
    shown = Path(path)
    final = Path(os.path.abspath(shown))
    if os.path.islink(final):
        raise _refuse(
            option,
            shown,
            f"is a symbolic link (to {os.path.realpath(final)})",
            "Give the file it points to, or another path",
        )
    if final.is_dir():
        raise _refuse(
            option, shown, "is a folder", "Give a file name, e.g. report.html inside that folder"
        )
    if final.exists() and not is_our_report(final):
        raise _refuse(
            option,
            shown,
            "exists and is not a page territory wrote, so it is not overwritten",
            "Choose another file name, or move that file away",
        )
    existing = _existing_folder(final.parent, shown, option)
    if not _writable(existing) or (final.exists() and not os.access(final, os.W_OK)):
        raise _refuse(
            option,
            shown,
            f"cannot be written: no write permission on {existing}",
            "Choose a location you can write to",
        )
    return final


def is_our_report(path: str | Path) -> bool:
    """Tell whether the file is an HTML page this engine wrote (its generator tag or footer).

    Parameters
    ----------
    path
        An HTML file, which need not exist.

    Returns
    -------
    bool
        True for a page with this engine's generator tag or footer.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return False
    return data.lstrip().lower().startswith(b"<!doctype html") and any(
        sign in data for sign in _REPORT_SIGNS
    )


def child_folder(root: str | Path, name: str) -> Path:
    """``root / name``, refused unless it is a direct sub-folder of ``root``.

    Parameters
    ----------
    root
        The parent folder.
    name
        The sub-folder's name (from user text: a scenario name, a run id).

    Returns
    -------
    pathlib.Path
        ``root / name``.

    Raises
    ------
    UnsafeNameError
        ``name`` is empty, ``.``/``..``, absolute, or holds a path separator.
    """
    separators = {"/", "\\", os.sep, *(os.altsep or "")}
    if (
        not name
        or name in (".", "..")
        or any(s in name for s in separators)
        or "\x00" in name
        or Path(name).is_absolute()
    ):
        raise UnsafeNameError(
            f"name {name!r} cannot be a folder inside {root}: it must be a plain name, "
            "not empty, '.', '..' or one holding a path separator"
        )
    base = Path(os.path.abspath(root))
    child = Path(os.path.abspath(base / name))
    if child.parent != base:
        raise UnsafeNameError(f"name {name!r} would leave the folder {root}")
    return Path(root) / name


# --------------------------------------------------------------------------------------------
# Staging names and leftovers


def _tag() -> str:
    return f"{os.getpid()}-{_HOST}-{uuid.uuid4().hex[:8]}"


def staging_path(target: str | Path) -> Path:
    """Where to stage ``target`` before renaming it into place.

    The name carries the PID and host, so what a killed run leaves is recognised and removed by
    :func:`clean_leftovers` on the next run.

    Parameters
    ----------
    target
        The file or folder to be written; a relative path is taken from the current folder
        (made absolute, links not followed).

    Returns
    -------
    pathlib.Path
        A hidden sibling of ``target``: in the same folder, so the rename into place stays on
        one file system and is atomic.
    """
    final = Path(os.path.abspath(target))
    return final.parent / f".{final.name}.tmp-{_tag()}"


def scratch_prefix() -> str:
    """Prefix of a scratch folder in the system temporary folder (PID and host inside)."""
    return f"{SCRATCH_PREFIX}{os.getpid()}-{_HOST}-"


def _dead(pid: str, host: str) -> bool:
    """Tell whether the process that made a staging name is gone (only knowable on this host)."""
    if host != _HOST:
        return False
    number = int(pid)
    if number == os.getpid():
        return False
    try:
        os.kill(number, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, OSError):
        return False
    return False


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def clean_leftovers(target: str | Path) -> list[Path]:
    """Remove the staging folders a killed run left next to ``target``; restore a cut swap.

    ``.NAME.tmp-<pid>-...`` of a dead process is removed. ``.NAME.old-<pid>-...`` is the
    previous folder moved aside by a swap: when ``NAME`` is missing the swap was cut before the
    new folder arrived, so the old one is put back; otherwise it is removed.

    Parameters
    ----------
    target
        The file or folder whose leftovers are looked for.

    Returns
    -------
    The paths removed or restored.
    """
    final = Path(os.path.abspath(target))
    parent = final.parent
    pattern = re.compile(rf"^\.{re.escape(final.name)}\.(?P<kind>tmp|old)-{_TAG}$")
    try:
        names = sorted(os.listdir(parent))
    except OSError:
        return []
    done: list[Path] = []
    olds: list[Path] = []
    for name in names:
        match = pattern.match(name)
        if match is None or not _dead(match["pid"], match["host"]):
            continue
        if match["kind"] == "tmp":
            _remove(parent / name)
            done.append(parent / name)
        else:
            olds.append(parent / name)
    for old in olds:
        if not os.path.lexists(final):
            with contextlib.suppress(OSError):
                os.rename(old, final)
                done.append(old)
                continue
        _remove(old)
        done.append(old)
    return done


_FILE_TMP_RE = re.compile(rf"^\..+\.tmp-{_TAG}$")
"""A file staged by :func:`staging_path` (a page written next to its final name)."""


def _clean_inside(folder: Path) -> None:
    """Remove per-file staging of dead processes inside a run folder."""
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            match = _ADD_RE.match(entry.name) or _FILE_TMP_RE.match(entry.name)
            if match is not None and _dead(match["pid"], match["host"]):
                _remove(Path(entry.path))


def clean_scratch_leftovers(root: str | Path | None = None) -> list[Path]:
    """Remove ``territory-run-<pid>-...`` scratch folders of dead processes (default: $TMPDIR).

    Parameters
    ----------
    root
        Where the scratch folders are.

    Returns
    -------
    list of pathlib.Path
        The folders removed.
    """
    base = Path(root) if root is not None else Path(tempfile.gettempdir())
    removed: list[Path] = []
    with contextlib.suppress(OSError), os.scandir(base) as entries:
        for entry in entries:
            match = _SCRATCH_RE.match(entry.name)
            if (
                match is not None
                and entry.is_dir(follow_symlinks=False)
                and _dead(match["pid"], match["host"])
            ):
                _remove(Path(entry.path))
                removed.append(Path(entry.path))
    return removed
