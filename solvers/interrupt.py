"""Native solves that Ctrl-C and SIGTERM can stop within a fraction of a second.

Python runs signal handlers in the main thread, between bytecodes. A HiGHS or CP-SAT solve is
one long C++ call, so a handler would wait for it, up to the time limit. Both libraries release
the GIL while they solve, so each solve here runs in a helper thread while the main thread
waits in short slices. When a handler raises there (``KeyboardInterrupt``, or its subclass
:class:`territory.errors.Terminated` for SIGTERM), the solver is asked to stop and the
exception goes on up; a solver that does not stop within :data:`STOP_GRACE_S` is left to its
daemon thread (the CLI then ends the process with ``os._exit``).

Off the main thread (a Dask worker thread, a caller's own thread) no signal can arrive, so the
solve runs in place, as before.

:func:`install_signal_handlers` is for processes that end on a signal (the CLI): Ctrl-C raises
``KeyboardInterrupt`` and SIGTERM raises ``Terminated`` in the main thread, so every ``finally``
and ``with`` on the way up removes its scratch files.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import Any, TypeVar

from territory.errors import Terminated

T = TypeVar("T")

POLL_S = 0.05
"""How long the main thread blocks at a time while a solve runs: the signal latency it adds."""

STOP_GRACE_S = 0.5
"""How long an interrupted solve may take to stop before its thread is abandoned."""

HighsEventHandler = Callable[[Any, str, Any, Any, Any], None]
"""A highspy callback: (callback type, message, data out, data in, user data)."""


def on_main_thread() -> bool:
    """Return True where signal handlers run, i.e. where an interrupt can arrive."""
    return threading.current_thread() is threading.main_thread()


def call_interruptible(call: Callable[[], T], stop: Callable[[], None], *, name: str) -> T:
    """Return ``call()``, run in a helper thread so that signals are handled while it runs.

    Parameters
    ----------
    call
        The blocking call (it must release the GIL, as HiGHS and CP-SAT do).
    stop
        Asks the running call to return early; called from the main thread on interrupt.
    name
        Thread name suffix, for debugging.

    Raises
    ------
    KeyboardInterrupt
        (or :class:`~territory.errors.Terminated`) when a signal arrived during the call, after
        ``stop`` was called and the call had up to :data:`STOP_GRACE_S` to return.
    """
    if not on_main_thread():
        return call()
    outcome: dict[str, Any] = {}
    finished = threading.Event()

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            outcome["error"] = exc
        finally:
            finished.set()

    # An Event, not Thread.join: a join interrupted by a signal marks the thread as stopped
    # while it still runs (CPython 3.11), after which join() no longer waits.
    threading.Thread(target=target, name=f"territory-{name}", daemon=True).start()
    try:
        while not finished.wait(POLL_S):
            pass
    except BaseException:
        stop()
        # A second signal here only ends the wait; the first one is re-raised.
        with contextlib.suppress(BaseException):
            finished.wait(STOP_GRACE_S)
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _interrupt_types() -> tuple[Any, ...]:
    import highspy

    kinds = highspy.cb.HighsCallbackType
    return (
        kinds.kCallbackSimplexInterrupt,
        kinds.kCallbackIpmInterrupt,
        kinds.kCallbackMipInterrupt,
    )


def _reset_scheduler() -> None:
    """Shut down the calling thread's HiGHS thread pool (the next solve sizes a new one)."""
    import highspy

    highspy.Highs.resetGlobalScheduler(True)


def run_highs(
    h: Any,
    *,
    on_event: HighsEventHandler | None = None,
    events: Sequence[Any] = (),
    fresh_scheduler: bool = False,
) -> Any:
    """``h.run()`` for a ``highspy.Highs``, stopped through HiGHS's interrupt callbacks.

    Parameters
    ----------
    h
        The model, ready to run.
    on_event
        The caller's own callback, for the callback types in ``events`` (it replaces any
        callback set on ``h`` before: HiGHS keeps one per model).
    events
        Callback types (``highspy.cb.HighsCallbackType``) to start for ``on_event``.
    fresh_scheduler
        Reset HiGHS's thread pool before and after the solve, so that the model runs with its
        own ``threads`` option rather than the pool size of an earlier solve.

    Returns
    -------
    The ``HighsStatus`` of ``h.run()``.
    """
    watching = on_main_thread()
    interrupts = _interrupt_types() if watching else ()
    interrupt_codes = {int(kind) for kind in interrupts}
    stopping = threading.Event()

    def callback(kind: Any, message: str, data_out: Any, data_in: Any, user_data: Any) -> None:
        if int(kind) in interrupt_codes:
            if stopping.is_set() and data_in is not None:
                data_in.user_interrupt = True
        elif on_event is not None:
            on_event(kind, message, data_out, data_in, user_data)

    if interrupts or on_event is not None:
        h.setCallback(callback, None)
        for kind in (*interrupts, *(events if on_event is not None else ())):
            h.startCallback(kind)

    def solve() -> Any:
        if fresh_scheduler:
            _reset_scheduler()
        try:
            return h.run()
        finally:
            # A helper thread's pool would otherwise outlive it until the thread exits.
            if fresh_scheduler or watching:
                _reset_scheduler()

    return call_interruptible(solve, stopping.set, name="highs")


def solve_cpsat(solver: Any, model: Any, callback: Any = None) -> Any:
    """``solver.solve(model, callback)`` for OR-Tools CP-SAT, stopped by ``stop_search``.

    CP-SAT would otherwise install its own SIGINT handler for the solve and return its best
    plan as if the time limit had come: the run would go on and write its outputs.
    """
    solver.parameters.catch_sigint_signal = False
    return call_interruptible(
        lambda: solver.solve(model, callback), solver.stop_search, name="cpsat"
    )


EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
"""Shell convention: 128 + the signal number."""

_received: list[int] = []
_deferring: list[bool] = []
"""Non-empty while :func:`signals_deferred` holds a commit step that must run to its end."""


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    _received.append(signum)
    if _deferring:
        return  # raised by signals_deferred() once the step is done
    if len(_received) == 1:
        if signum == signal.SIGTERM:
            raise Terminated(signum)
        raise KeyboardInterrupt
    if len(_received) >= 3:
        hard_exit(EXIT_CODES.get(signal.Signals(_received[0]), 130))
    # A second signal while the first unwinds is ignored: the clean-up runs to its end.


def install_signal_handlers() -> None:
    """Ctrl-C and SIGTERM raise in the main thread once; a third signal ends the process at once.

    Call from the main thread of a process that exits on either signal (handlers are
    process-wide, so a notebook or a host application should not call this).
    """
    _received.clear()
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM during a few renames that must not be cut in half.

    Swapping a finished run into place is two renames and a removal: a signal between them would
    leave a backup folder behind or report "nothing written" for a run that was written. Inside
    this block the handler only records the signal; the command then ends as soon as it returns,
    with the signal's exit code (see :func:`first_signal`), its outputs complete.
    """
    _deferring.append(True)
    try:
        yield
    finally:
        _deferring.pop()


def first_signal() -> int | None:
    """Return the signal that started the shutdown (``signal.SIGINT``/``SIGTERM``), if any."""
    return _received[0] if _received else None


def hard_exit(code: int) -> None:
    """Flush and end the process now, without waiting for threads still inside a native solve.

    Interpreter shutdown would wait for (or crash on) a solver thread abandoned after an
    interrupt; everything the run had to clean up has been cleaned up when this is called.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe must not stop the exit
            stream.flush()
    os._exit(code)
