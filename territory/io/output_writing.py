"""Writing output folders safely: staging, atomic swaps, locks and leftovers.

A new folder is staged beside its target and renamed into place; steps that add files hold the
folder's lock for their whole read-modify-write. Staging and backup names carry the process id
and a host tag, so a later run can remove those of dead processes and restore a cut-short swap.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from solvers.interrupt import signals_deferred
from territory.errors import OutputFolderError
from territory.io.output_rules import (
    _ADD_PREFIX,
    _HOST,
    LEGACY_RUN_FILES,
    LOCK_FILE,
    MARKER,
    _check_force,
    _checked_target,
    _clean_inside,
    _dead,
    _describe,
    _listing,
    _ours,
    _refuse,
    _remove,
    _tag,
    _writable,
    _write_marker,
    check_output_folder,
    is_engine_folder,
    is_legacy_run_folder,
    marker_document,
    read_marker,
)

# --------------------------------------------------------------------------------------------
# Lock

LOCK_TIMEOUT_S = 600.0
"""How long a step waits for another step holding the same run folder before giving up."""

_POLL_S = 0.05


@dataclass
class _Held:
    handle: Any
    count: int
    thread: int


_held: dict[tuple[int, int], _Held] = {}
_held_guard = threading.Lock()

try:  # the folder itself is locked where flock exists; a lock file elsewhere
    import fcntl

    _HAVE_FCNTL = True
except ImportError:  # pragma: no cover - Windows
    _HAVE_FCNTL = False


def _try_lock(folder: Path) -> Any | None:
    """One attempt at the folder's lock: a handle, or None when another process holds it."""
    if _HAVE_FCNTL:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        return fd
    return _try_lock_file(folder)


def _try_lock_file(folder: Path) -> Any | None:
    """Lock by creating LOCK_FILE exclusively (holding the PID); a dead holder's file is taken."""
    path = folder / LOCK_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        try:
            pid, _, host = path.read_text(encoding="utf-8").strip().partition(" ")
        except OSError:
            return None
        if pid.isdigit() and _dead(pid, host):
            with contextlib.suppress(OSError):
                path.unlink()
        return None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(f"{os.getpid()} {_HOST}\n")
    return path


def _unlock(handle: Any) -> None:
    if isinstance(handle, int):
        with contextlib.suppress(OSError):
            fcntl.flock(handle, fcntl.LOCK_UN)
        os.close(handle)
    else:
        with contextlib.suppress(OSError):
            Path(handle).unlink()


def _identity(folder: Path) -> tuple[int, int]:
    info = os.stat(folder)
    return info.st_dev, info.st_ino


@contextlib.contextmanager
def folder_lock(folder: str | Path, *, timeout_s: float | None = None) -> Iterator[Path]:
    """Hold the folder's lock: one step at a time reads and writes a run folder.

    Re-entrant within a thread. A folder swapped away while waiting (a rerun of align) is
    noticed and the lock taken on the folder now at that path.

    Parameters
    ----------
    folder
        The run folder.
    timeout_s
        How long to wait for another holder; :data:`LOCK_TIMEOUT_S` when None.

    Yields
    ------
    pathlib.Path
        The folder held.

    Raises
    ------
    OutputFolderError
        The folder does not exist, or another process held it for ``timeout_s`` seconds.
    """
    path = Path(folder)
    limit = LOCK_TIMEOUT_S if timeout_s is None else timeout_s
    deadline = time.monotonic() + limit
    me = threading.get_ident()
    while True:
        try:
            key = _identity(path)
        except OSError:
            raise OutputFolderError(
                f"{path} does not exist (or cannot be read); nothing to add files to"
            ) from None
        with _held_guard:
            held = _held.get(key)
            if held is not None and held.thread == me:
                held.count += 1
                break
        try:
            handle = None if held is not None else _try_lock(path)
        except OSError as exc:
            raise OutputFolderError(
                f"{path} cannot be locked ({exc.strerror}); check its permissions"
            ) from None
        if handle is not None:
            try:
                same = _identity(path) == key
            except OSError:
                same = False
            if same:
                with _held_guard:
                    _held[key] = _Held(handle, 1, me)
                break
            _unlock(handle)
            continue
        if time.monotonic() > deadline:
            raise OutputFolderError(
                f"{path} is in use by another territory command (waited {limit:.0f} s); "
                "wait for it to finish, then run this again"
            )
        time.sleep(_POLL_S)
    try:
        yield path
    finally:
        with _held_guard:
            held = _held[key]
            held.count -= 1
            if held.count == 0:
                del _held[key]
                _unlock(held.handle)


# --------------------------------------------------------------------------------------------
# Writing


Writer = Callable[[Path], None]


def replace_folder(
    target: str | Path,
    writers: Mapping[str, Writer],
    *,
    command: str,
    inputs: Iterable[str | Path | None] = (),
    force: bool = False,
    option: str = "--out",
) -> Path:
    """Write a new folder of outputs and put it in place of ``target`` as a whole.

    The files are written into a hidden sibling, which takes the place of ``target`` by rename
    (atomic on one file system) once the rule (:func:`check_output_folder`) holds again at that
    moment. A failure or interruption removes the sibling and leaves ``target`` as it was.

    Parameters
    ----------
    target
        The folder to (re)create.
    writers
        File name to a function that writes that file at the path it is given.
    command
        Recorded in the marker.
    inputs
        Files and folders the outputs are made from: ``target`` may hold none of them.
    force
        Replace a non-empty folder the engine did not write (within the rule's limits).
    option
        The command-line option that named ``target``, for messages.

    Returns
    -------
    pathlib.Path
        The folder written.

    Raises
    ------
    OutputFolderError
        ``target`` may not be replaced.
    """
    inputs = list(inputs)
    final = check_output_folder(target, command=command, inputs=inputs, force=force, option=option)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _refuse(
            option, Path(target), f"cannot be created ({exc.strerror})", "Choose another path"
        ) from None
    tag = _tag()
    staging = final.parent / f".{final.name}.tmp-{tag}"
    try:
        os.mkdir(staging)  # honours the umask, unlike tempfile.mkdtemp's private 0o700
    except OSError as exc:
        raise _refuse(
            option, Path(target), f"cannot be written ({exc.strerror})", "Choose another path"
        ) from None
    try:
        for name, write in writers.items():
            write(staging / name)
        _write_marker(staging, marker_document(command, writers), staging)
        _swap_into_place(staging, final, tag, command, inputs, force, option, Path(target))
    except BaseException:
        _remove(staging)
        raise
    return final


def _swap_into_place(
    staging: Path,
    final: Path,
    tag: str,
    command: str,
    inputs: list[str | Path | None],
    force: bool,
    option: str,
    shown: Path,
) -> None:
    """Rename ``staging`` to ``final``; a previous folder moves aside first, then is removed."""
    for _ in range(3):
        if not os.path.lexists(final):
            try:
                os.rename(staging, final)
                return
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                continue  # another run created it meanwhile: apply the rule to it
        old = final.parent / f".{final.name}.old-{tag}"
        lock = folder_lock(final) if is_engine_folder(final) else contextlib.nullcontext()
        with lock:
            # The folder may have changed during the solve: the rule holds at this moment too.
            check_output_folder(
                shown, command=command, inputs=inputs, force=force, option=option, clean=False
            )
            with signals_deferred():  # two renames and a removal: never cut in half
                os.rename(final, old)
                try:
                    os.rename(staging, final)
                except BaseException:
                    os.rename(old, final)  # put the previous results back before reporting
                    raise
                _remove(old)
        return
    raise _refuse(option, shown, "keeps changing while it is written", "Run the command again")


def _require_addable(folder: Path, command: str, option: str) -> dict[str, Any] | None:
    if not folder.is_dir():
        raise OutputFolderError(
            f"{option} {folder}: is not a folder; run `territory align ... --out {folder}` first"
        )
    marker = read_marker(folder)
    if marker is None and os.path.lexists(folder / MARKER):
        raise OutputFolderError(
            f"{option} {folder}: holds a {MARKER} that territory did not write, so "
            f"`territory {command}` does not add files to it (it would replace that file); "
            "move it away or point the command at a run folder the engine wrote"
        )
    if marker is None and not is_legacy_run_folder(folder):
        raise OutputFolderError(
            f"{option} {folder}: was not written by territory (no {MARKER}, and not the "
            f"{', '.join(LEGACY_RUN_FILES)} of an older version), so `territory {command}` does "
            f"not add files to it; run `territory align ... --out {folder}` first, or point "
            f"{option} at such a folder"
        )
    return marker


@contextlib.contextmanager
def run_folder(folder: str | Path, *, command: str, option: str = "--plan") -> Iterator[Path]:
    """Hold a run folder for a step that reads it and adds files to it.

    The folder must have been written by the engine (its marker, or an older version's run
    files); its lock is held until the block ends, so concurrent steps run one after another.

    Parameters
    ----------
    folder
        The run folder.
    command
        The step, for messages.
    option
        The command-line option that named the folder, for messages.

    Yields
    ------
    pathlib.Path
        The run folder, locked until the block ends.

    Raises
    ------
    OutputFolderError
        The folder does not exist, was not written by the engine, or stays locked.
    """
    path = Path(folder)
    _require_addable(path, command, option)
    with folder_lock(path):
        _require_addable(path, command, option)
        _clean_inside(path)
        yield path


def add_files(
    folder: str | Path,
    writers: Mapping[str, Writer],
    *,
    command: str,
    option: str = "--plan",
) -> Path:
    """Add files to an engine-written folder, each one atomically, under the folder's lock.

    The files are written into a hidden staging folder inside ``folder`` and renamed into place
    one by one; other files are untouched, so concurrent steps lose nothing. A file of the same
    name that the engine did not write (not listed by the marker) is not overwritten.

    Parameters
    ----------
    folder
        The run folder.
    writers
        File name to a function that writes that file at the path it is given.
    command
        Recorded in the marker.
    option
        The command-line option that named the folder, for messages.

    Returns
    -------
    pathlib.Path
        The folder.

    Raises
    ------
    OutputFolderError
        The folder was not written by the engine, holds a user's file of one of these names,
        or stays locked.
    """
    path = Path(folder)
    with run_folder(path, command=command, option=option):
        marker = read_marker(path)
        if marker is not None:
            theirs = sorted(
                name
                for name in writers
                if os.path.lexists(path / name) and name not in marker["files"]
            )
            if theirs:
                raise _refuse(
                    option,
                    path,
                    f"already holds {_listing(theirs)}, which territory did not write",
                    "Move those files away, then run this again",
                )
        staging = path / f"{_ADD_PREFIX}{_tag()}"
        try:
            os.mkdir(staging)
        except OSError as exc:
            raise _refuse(
                option, path, f"cannot be written ({exc.strerror})", "Check its permissions"
            ) from None
        try:
            for name, write in writers.items():
                write(staging / name)
            for name in writers:
                os.replace(staging / name, path / name)
            if marker is not None:
                marker["files"] = sorted(set(marker["files"]) | set(writers))
                _write_marker(path, marker, staging)
        finally:
            _remove(staging)
    return path


def prepare_folder(
    path: str | Path,
    *,
    command: str,
    legacy_files: Sequence[str] = (),
    inputs: Iterable[str | Path | None] = (),
    force: bool = False,
    option: str = "--out",
) -> Path:
    """Make ready a folder the engine adds to without replacing it (a sweep's root, checkpoints).

    Absent or empty: created with a marker. A marker folder, or one holding all of
    ``legacy_files``: used as it is. Anything else is refused, unless ``force`` (same limits as
    :func:`check_output_folder`), which puts a marker into it.

    Parameters
    ----------
    path
        The folder.
    command
        Recorded in the marker.
    legacy_files
        Files whose presence marks an older version's folder.
    inputs
        Files and folders the outputs are made from: the folder may hold none of them.
    force
        Use a non-empty folder the engine did not write (within the rule's limits).
    option
        The command-line option that named the folder, for messages.

    Returns
    -------
    pathlib.Path
        The absolute folder.

    Raises
    ------
    OutputFolderError
        The folder may not be used; the message says why and what is in it.
    """
    shown, final = _checked_target(path, inputs, option, clean=True)
    if os.path.lexists(final):
        if is_engine_folder(final):
            return final
        if legacy_files and all((final / name).exists() for name in legacy_files):
            return final
        entries = sorted(
            e.name + ("/" if e.is_dir() else "")
            for e in os.scandir(final)
            if not _ours(e.name, engine=False)
        )
        if entries:
            if not force:
                raise _refuse(
                    option,
                    shown,
                    f"holds {_describe(entries)}; it was not written by territory",
                    "Choose an empty or new folder, or pass --force to use it anyway",
                )
            _check_force(final, shown, option)
        if not _writable(final):
            raise _refuse(
                option, shown, "cannot be written: no write permission", "Choose another folder"
            )
    try:
        final.mkdir(parents=True, exist_ok=True)
        if not is_engine_folder(final):
            _write_marker(final, marker_document(command))
    except OSError as exc:
        raise _refuse(
            option, shown, f"cannot be written ({exc.strerror})", "Choose another folder"
        ) from None
    return final
