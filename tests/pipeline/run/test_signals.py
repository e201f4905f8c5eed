"""The first SIGTERM stops a stage CLI; later ones cannot cut its teardown short."""

from __future__ import annotations

import os
import signal

import pytest

from pipeline.run.signals import interrupt_once_on_sigterm


@pytest.fixture
def restore_handlers():
    saved = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGTERM, saved[0])
    signal.signal(signal.SIGINT, saved[1])


def test_the_first_sigterm_interrupts_and_later_signals_are_ignored(restore_handlers):
    interrupt_once_on_sigterm()
    with pytest.raises(KeyboardInterrupt, match="signal 15"):
        os.kill(os.getpid(), signal.SIGTERM)
        signal.sigtimedwait([], 0)  # not reached: the handler raises on delivery
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    os.kill(os.getpid(), signal.SIGTERM)  # the teardown would carry on: nothing raised here
