"""SIGTERM and SIGINT during an apply: stop starting writes, let the ones in flight finish.

A cancelled GitHub job (or a job timeout) sends SIGTERM to the container, Ctrl-C sends SIGINT.  While
:func:`cancellable` is active, the first signal sets the returned event — the engine then starts no
new write, finishes the ones in flight, saves the partial snapshot and says exactly what was and was
not applied; a second signal interrupts at once (the journal still holds every finished write).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def cancellable() -> Iterator[threading.Event]:
    """Handle SIGTERM/SIGINT by setting the yielded event (only from the main thread)."""
    event = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if event.is_set():
            raise KeyboardInterrupt
        event.set()
        name = signal.Signals(signum).name
        sys.stderr.write(f"{name} received: finishing the writes in flight and starting no new ones\n")
        sys.stderr.flush()

    previous = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    try:
        yield event
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
