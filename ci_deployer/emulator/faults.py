"""Fault injection: what the network and Vapi's edge can do to a request, switchable per run.

Order of decisions for one request (each drawn from one seeded RNG, so a seeded run is reproducible
for a given request order): ``reset`` (nothing done, the connection is cut) → added latency →
``fail`` (500/502/503 before any write) → ``throttle`` (429, with ``Retry-After`` when
``retry_after`` is set) → ``echo`` → the request is processed → ``drop`` (the write is committed,
then the response is lost).

``echo_writes`` (tests only, not random): every POST/PATCH/PUT is refused with a 400 whose messages
repeat the request body the ways careless APIs do — as sent, upper-cased, URL-encoded, base64, and
each string value cut short — so that tests can prove no form of a secret sent in a body is printed.
"""

from __future__ import annotations

import base64
import json
import random
import threading
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote_plus

Decision = Literal["reset", "fail", "throttle", "drop"]


@dataclass
class Faults:
    """Switchable faults; fields may be changed while the emulator runs.  Rates are 0..1."""

    latency_ms: float = 0
    fail_rate: float = 0  # → 500/502/503 before any write
    throttle_rate: float = 0  # → 429
    retry_after: float | None = None  # seconds in the 429's Retry-After header; None → no header
    drop_rate: float = 0  # write committed, then the response is lost
    reset_rate: float = 0  # connection reset before anything is done
    seed: int | None = None
    only_methods: frozenset[str] | None = None  # restrict every fault (latency included) to these methods
    echo_writes: bool = False  # tests: refuse writes with a 400 echoing the body (see echo_messages)
    _rng: random.Random | None = field(default=None, init=False, repr=False, compare=False)
    _rng_seed: int | None = field(default=None, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def applies_to(self, method: str) -> bool:
        return self.only_methods is None or method.upper() in {m.upper() for m in self.only_methods}

    def draw(self) -> float:
        """The next number of the seeded RNG (re-seeded when ``seed`` is changed)."""
        with self._lock:
            if self._rng is None or self._rng_seed != self.seed:
                self._rng = random.Random(self.seed)
                self._rng_seed = self.seed
            return self._rng.random()

    def pick(self, options: tuple[int, ...]) -> int:
        return options[min(int(self.draw() * len(options)), len(options) - 1)]

    def hit(self, rate: float) -> bool:
        """Draw only when the rate is set, so enabling one fault does not shift another's sequence."""
        return rate > 0 and self.draw() < rate


def echo_messages(raw: bytes) -> list[str]:
    """What an API that echoes its input says about a refused body (``Faults.echo_writes``)."""
    text = raw.decode("utf-8", errors="replace")
    messages = [
        f"request body is invalid: {text}",
        f"REQUEST BODY IS INVALID: {text.upper()}",
        f"request body (url-encoded): {quote_plus(text)}",
        f"request body (base64): {base64.b64encode(raw).decode('ascii')}",
    ]
    try:
        data = json.loads(raw)
    except ValueError:
        return messages
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str) and len(node) >= 8:
            messages.append(f'value "{node[: max(8, len(node) - 4)]}…" is not allowed')
    return messages
