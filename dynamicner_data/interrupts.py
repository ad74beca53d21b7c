"""Ctrl-C (SIGINT) raised where the program can handle it, never inside a finaliser.

Python runs a signal's handler between two bytecodes of whatever code is running. When that code is
an object's ``__del__`` (pyarrow's ``ParquetWriter`` closes its file there, and any garbage
collection can run one), the ``KeyboardInterrupt`` raised there cannot propagate: Python prints
"Exception ignored in ... Traceback" and goes on as if Ctrl-C had not been pressed. Inside
:func:`interrupts_outside_finalisers`, an interrupt that lands in a finaliser is asked again a moment
later, so it is raised once the finaliser has returned; anywhere else it is raised at once, as usual.
The command-line entry points (``dynamicner``, ``cascadener``) run inside it.

>>> import signal
>>> before = signal.getsignal(signal.SIGINT)
>>> with interrupts_outside_finalisers():
...     signal.getsignal(signal.SIGINT) is before
False
>>> signal.getsignal(signal.SIGINT) is before
True
"""

from __future__ import annotations

import contextlib
import signal
import threading
from types import FrameType
from typing import Iterator, Optional

__all__ = ["interrupts_outside_finalisers"]

_RETRY_SECONDS = 0.01


def _in_finaliser(frame: Optional[FrameType]) -> bool:
    while frame is not None:
        if frame.f_code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False


def _handler(signum: int, frame: Optional[FrameType]) -> None:
    if _in_finaliser(frame):
        # the signal again, to the main thread (it wakes a sleep or a blocking call there), once this
        # finaliser had time to return (from a thread: the handler must not block)
        timer = threading.Timer(_RETRY_SECONDS, signal.pthread_kill, args=(threading.main_thread().ident, signum))
        timer.daemon = True
        timer.start()
        return
    raise KeyboardInterrupt


@contextlib.contextmanager
def interrupts_outside_finalisers() -> Iterator[None]:
    """Within the block, SIGINT raises ``KeyboardInterrupt`` outside any ``__del__`` (module docs).
    It leaves a handler that is not Python's default alone, and does nothing outside the main thread
    (where signal handlers cannot be set)."""
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    previous = signal.signal(signal.SIGINT, _handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
