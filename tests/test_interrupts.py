"""Ctrl-C is raised where the program can handle it, never inside a finaliser (``__del__``), where
Python would print "Exception ignored in ... Traceback" and lose it (pyarrow's ParquetWriter closes
itself in ``__del__``: a Ctrl-C during ``dynamicner export`` could land there)."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from dynamicner_data.interrupts import interrupts_outside_finalisers


class _InterruptedWhileFinalised:
    """Sends the process SIGINT from its own ``__del__`` and keeps running Python code there."""

    finished = False

    def __del__(self):
        os.kill(os.getpid(), signal.SIGINT)
        deadline = time.monotonic() + 0.2
        while time.monotonic() < deadline:  # bytecode after the signal: where Python runs its handler
            pass
        type(self).finished = True


@pytest.fixture
def unraisable(monkeypatch):
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    return seen


def test_an_interrupt_inside_a_finaliser_is_raised_after_it(unraisable):
    _InterruptedWhileFinalised.finished = False
    start = time.monotonic()
    with interrupts_outside_finalisers():
        with pytest.raises(KeyboardInterrupt):
            _InterruptedWhileFinalised()  # dropped at once: __del__ runs here
            time.sleep(5)  # the deferred interrupt ends this wait
    assert time.monotonic() - start < 2.5  # it woke the sleep: the main thread got it
    assert _InterruptedWhileFinalised.finished  # the finaliser ran to its end
    assert unraisable == []  # nothing printed as "Exception ignored"


def test_without_it_python_loses_the_interrupt_inside_the_finaliser(unraisable):
    """The behaviour the guard exists for (if Python ever changes it, the guard can go)."""
    _InterruptedWhileFinalised()
    assert [type(u.exc_value) for u in unraisable] == [KeyboardInterrupt]


def test_an_interrupt_elsewhere_is_raised_at_once_and_the_handler_is_restored():
    before = signal.getsignal(signal.SIGINT)
    with interrupts_outside_finalisers():
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
    assert signal.getsignal(signal.SIGINT) is before
