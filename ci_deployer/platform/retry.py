"""When to retry a Vapi request, and how long to wait first.

Vapi documents no rate limits ("specific RPS quotas are not publicly documented"); support threads
show ``429 Rate limit exceeded``.  Vapi's own SDK retries 408/429/5xx and honours ``Retry-After`` /
``retry-after-ms``; VapiAI/gitops retries 429/5xx with exponential backoff.  We do the same, with
jitter so that parallel workers do not retry in lock-step, and never retry any other 4xx (a 400 or
409 will not change by asking again — the SDK's retrying of 409 pinned deletes is a known waste).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# Statuses a repeat may cure.  408: the server gave up waiting for the request; 429: throttled;
# 5xx: the server (or a gateway in front of it) failed.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def is_retryable_status(status: int) -> bool:
    """True for 408, 429 and every 5xx; false for every other status."""
    return status in RETRYABLE_STATUSES or status >= 500


@dataclass
class RetryPolicy:
    """How many attempts a request gets and how long to wait between them.

    The wait before attempt ``n + 1`` is ``Retry-After`` when the server sent one (capped at
    ``max_delay``), else ``min(max_delay, base_delay * 2**(n-1))`` reduced by a random fraction of
    up to ``jitter`` (0.5 → between half and all of it).  ``sleep`` is injectable so tests record
    the delays instead of waiting; ``rng`` makes the jitter reproducible.
    """

    max_attempts: int = 6
    base_delay: float = 0.2
    max_delay: float = 10.0
    jitter: float = 0.5
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("RetryPolicy.max_attempts must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("RetryPolicy.jitter must be between 0 and 1")

    def backoff(self, attempt: int) -> float:
        """The exponential wait after failed attempt ``attempt`` (1-based), jitter applied."""
        delay = min(self.max_delay, self.base_delay * 2 ** max(0, attempt - 1))
        return float(delay * (1 - self.jitter * self.rng.random()))

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """The wait before the next attempt: the server's ``Retry-After`` when given, else backoff."""
        if retry_after is not None:
            return min(self.max_delay, max(0.0, retry_after))
        return self.backoff(attempt)


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, or ``Retry-After`` (delta-seconds or an HTTP-date).

    ``None`` when absent or unreadable (the caller then falls back to exponential backoff).
    ``headers`` must look names up case-insensitively (``httpx.Headers`` does).
    """
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
