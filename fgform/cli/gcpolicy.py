"""The process's garbage-collection policy, set once by the `fgform` script.

A command builds large structures that live until it ends (the parsed configuration, the
state, the plan) and frees almost nothing cyclic: the cyclic GC would only scan them again
and again (with the default thresholds it was a quarter of a 1,000-resource plan's CPU time,
and a third of a 5,000-resource validate's). So collection starts off. A command still
running after `GRACE` seconds (apply, reconcile -watch, logs -follow, run-task) is one that
waits on the fleet and may run for hours: everything it has built by then is frozen (kept
out of every later scan, still freed by reference counting) and collection is turned on, so
the cyclic garbage of a long run does not accumulate. When the command has ended, all is
frozen again: the interpreter's collections at exit (which run even with collection off)
need not scan what it built.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Callable, Iterator

GRACE = 5.0


def _collect_from_now() -> None:
    gc.freeze()
    gc.enable()


@contextlib.contextmanager
def deferred_collection(grace: float = GRACE) -> Iterator[None]:
    """No cyclic collection for the first `grace` seconds of the block; after that, the
    objects alive are frozen and collection runs as usual. The GC's state is restored when
    the block ends (the timer is cancelled if it has not fired)."""
    was_enabled = gc.isenabled()
    gc.disable()
    timer = threading.Timer(grace, _collect_from_now)
    timer.daemon = True  # never keeps the process alive
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        if was_enabled:
            gc.enable()


def script_run(body: Callable[[], int]) -> int:
    """`body()` (the whole command) under the script's policy; its exit code."""
    with deferred_collection():
        code = body()
        gc.freeze()
    return code
