"""An adaptive concurrency limit shared by every thread that talks to one Vapi org.

AIMD, as TCP does it: the number of requests allowed in flight grows by one per success (up to
``max_concurrency``) and halves on a 429.  Vapi publishes no rate limits, so the client cannot know
the right concurrency in advance; it learns it from the throttling it receives.

A burst of 429s answering requests that were all sent under the old limit counts as one signal:
only a throttle from a request that started after the last decrease halves the limit again
(otherwise eight parallel 429s would take the limit from 8 to 1 at once).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Slot:
    """Permission for one request; ``epoch`` identifies the limit it was granted under."""

    epoch: int


class ConcurrencyLimiter:
    """Bounded, adaptive concurrency: ``with limiter.slot() as slot: …`` around each request.

    Report the outcome with :meth:`succeeded` or :meth:`throttled` (passing the slot) so the limit
    adapts.  Thread-safe; one instance per client, shared by all its worker threads.
    """

    def __init__(self, max_concurrency: int) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.max_concurrency = max_concurrency
        self._limit = max_concurrency
        self._in_flight = 0
        self._epoch = 0
        self._peak = 0
        self._cond = threading.Condition()

    @property
    def limit(self) -> int:
        """How many requests may be in flight now (1 … ``max_concurrency``)."""
        with self._cond:
            return self._limit

    @property
    def in_flight(self) -> int:
        with self._cond:
            return self._in_flight

    @property
    def peak(self) -> int:
        """The most requests ever in flight at once (for tests and benchmarks)."""
        with self._cond:
            return self._peak

    @contextmanager
    def slot(self) -> Iterator[Slot]:
        """Block until a request may start; release the slot when the block ends."""
        with self._cond:
            while self._in_flight >= self._limit:
                self._cond.wait()
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)
            granted = Slot(self._epoch)
        try:
            yield granted
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()

    def succeeded(self, slot: Slot | None = None) -> None:
        """Additive increase: one more request may be in flight (up to the maximum)."""
        with self._cond:
            if self._limit < self.max_concurrency:
                self._limit += 1
                self._cond.notify_all()

    def throttled(self, slot: Slot | None = None) -> None:
        """Multiplicative decrease on a 429: halve the limit (at least 1), once per epoch."""
        with self._cond:
            if slot is not None and slot.epoch != self._epoch:
                return  # sent before the last decrease: that decrease already answered this burst
            self._limit = max(1, self._limit // 2)
            self._epoch += 1
