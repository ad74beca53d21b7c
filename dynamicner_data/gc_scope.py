"""Scoped garbage-collector tricks that leave the host process as they found it.

Building rows allocates millions of small acyclic objects; with Python's cyclic collector on, each
full collection walks everything alive (the parsed corpus included), so time grows faster than the
corpus (``bench/bench_dataset.py`` measures it). Reference counting frees these objects either way.

The collector's state is process-wide, so library code touches it only through this context
manager, which restores the exact prior state:

- :func:`paused_gc`: the collector is off inside. Nested and concurrent uses (threads) share one
  pause: the first to enter records whether the collector was on, the last to leave restores
  exactly that. A host that switches the collector while a pause is active has its change
  overridden on exit (the collector's state is one global flag).

``gc.freeze()`` is not used: freezing the parsed corpus after the pause gained nothing over the
pause alone in ``bench/bench_dataset.py`` (the figures: ``docs/performance.md``, "The garbage
collector"), and ``gc.unfreeze()`` cannot tell a host's frozen objects from ours.

Example:
    >>> import gc
    >>> before = gc.isenabled()
    >>> with paused_gc():
    ...     with paused_gc():
    ...         gc.isenabled()
    ...     gc.isenabled()
    False
    False
    >>> gc.isenabled() == before
    True
"""

from __future__ import annotations

import contextlib
import gc
import threading
from typing import Iterator

__all__ = ["paused_gc"]

_lock = threading.Lock()
_pause_depth = 0
_pause_restores = False  # the collector was on when the outermost pause began


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic collector off inside; when the last pause ends, on again iff it was on before.

    >>> import gc
    >>> gc.disable()
    >>> with paused_gc():
    ...     pass
    >>> gc.isenabled()
    False
    >>> gc.enable()
    """
    global _pause_depth, _pause_restores
    with _lock:
        if _pause_depth == 0:
            _pause_restores = gc.isenabled()
            gc.disable()
        _pause_depth += 1
    try:
        yield
    finally:
        with _lock:
            _pause_depth -= 1
            if _pause_depth == 0 and _pause_restores:
                gc.enable()
