"""The adaptive limiter and ``map``: bounded, ordered, every item finished, errors per item."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable

import pytest

from ci_deployer.emulator import Emulator, Faults
from ci_deployer.platform.client import VapiClient
from ci_deployer.platform.limiter import ConcurrencyLimiter


def test_aimd_halves_once_per_burst_and_grows_by_one() -> None:
    limiter = ConcurrencyLimiter(8)
    with limiter.slot() as first, limiter.slot() as second:
        limiter.throttled(first)
        limiter.throttled(second)  # sent under the old limit: the same burst, no second halving
    assert limiter.limit == 4
    with limiter.slot() as third:
        limiter.throttled(third)
    assert limiter.limit == 2
    for _ in range(20):
        limiter.succeeded()
    assert limiter.limit == 8  # bounded by the maximum
    for _ in range(10):
        with limiter.slot() as slot:
            limiter.throttled(slot)
    assert limiter.limit == 1  # never below one


def test_slots_block_beyond_the_limit() -> None:
    limiter = ConcurrencyLimiter(2)
    entered = threading.Event()

    def third() -> None:
        with limiter.slot():
            entered.set()

    with limiter.slot(), limiter.slot():
        waiter = threading.Thread(target=third)
        waiter.start()
        assert not entered.wait(0.05)  # a third request waits while two are in flight
    waiter.join(timeout=5)
    assert entered.is_set()


def test_map_keeps_order_and_stays_within_the_bound(emulator: Emulator, make_client: Callable[..., VapiClient]) -> None:
    seeded = emulator.seed("acme", "Tool", [{"type": "endCall"} for _ in range(24)])
    emulator.faults = Faults(latency_ms=20)
    client = make_client(max_concurrency=4)

    fetched = client.map(lambda t: client.get("Tool", t["id"]), seeded)

    assert [t["id"] for t in fetched] == [t["id"] for t in seeded]
    assert client.limiter.peak == 4  # parallel, and never more than the bound


def test_map_finishes_every_item_then_raises_the_first_error(client: VapiClient) -> None:
    done: list[int] = []
    lock = threading.Lock()

    def work(i: int) -> int:
        if i in (3, 5):
            raise ValueError(f"item {i}")
        with lock:
            done.append(i)
        return i * 10

    with pytest.raises(ValueError, match="item 3"):
        client.map(work, range(8))
    assert sorted(done) == [0, 1, 2, 4, 6, 7]

    results = client.map_results(work, range(8))
    assert [r.value for r in results if r.ok] == [0, 10, 20, 40, 60, 70]
    assert [str(r.error) for r in results if not r.ok] == ["item 3", "item 5"]


def test_map_workers_see_the_callers_context_variables(client: VapiClient) -> None:
    operation: contextvars.ContextVar[str] = contextvars.ContextVar("operation", default="none")
    operation.set("apply-42")

    assert client.map(lambda i: f"{operation.get()}:{i}", range(3)) == ["apply-42:0", "apply-42:1", "apply-42:2"]
