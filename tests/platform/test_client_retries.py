"""Retries against the served emulator with injected faults; delays are recorded, never slept."""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from platform_helpers import TOKEN, Sleeps, assistant_body, function_tool

from ci_deployer.emulator import Emulator, Faults
from ci_deployer.errors import ApiError, TransportError
from ci_deployer.platform.client import AmbiguousWriteError, RequestRecord, RetryPolicy, VapiClient
from ci_deployer.platform.retry import parse_retry_after


def test_reads_and_writes_succeed_under_30_percent_5xx_and_429(
    emulator: Emulator, make_client: Callable[..., VapiClient], sleeps: Sleeps, records: list[RequestRecord]
) -> None:
    seeded = emulator.seed("acme", "Assistant", [assistant_body(f"Agent {i}") for i in range(40)])
    emulator.faults = Faults(fail_rate=0.3, throttle_rate=0.3, seed=7)
    client = make_client(retry=RetryPolicy(max_attempts=12, sleep=sleeps))

    listed = client.list("Assistant")
    fetched = client.map(lambda a: client.get("Assistant", a["id"]), seeded)
    updated = client.map(lambda a: client.update("Assistant", a["id"], {"firstMessage": "Hello"}), seeded[:20])
    deleted = client.map(lambda a: client.delete("Assistant", a["id"]), seeded[20:])

    assert len(listed) == 40
    assert [f["id"] for f in fetched] == [a["id"] for a in seeded]
    assert all(u["firstMessage"] == "Hello" for u in updated)
    assert {d["id"] for d in deleted} == {a["id"] for a in seeded[20:]}
    emulator.faults = Faults()
    assert len(client.list("Assistant")) == 20
    statuses = Counter(r.status for r in records)
    assert statuses[429] > 0 and statuses[500] + statuses[502] + statuses[503] > 0  # faults really happened
    successes = sum(1 for r in records if r.status == 200)
    assert successes == 1 + 40 + 20 + 20 + 1
    assert len(sleeps.delays) == len(records) - successes  # one wait before each repeat


def test_retry_after_is_honoured_exactly(
    emulator: Emulator, client: VapiClient, sleeps: Sleeps, records: list[RequestRecord]
) -> None:
    emulator.faults = Faults(throttle_rate=1.0, retry_after=2.5)
    sleeps.hook = lambda _: setattr(emulator.faults, "throttle_rate", 0.0)

    assert client.list("Tool") == []
    assert sleeps.delays == [2.5]
    assert [r.status for r in records] == [429, 200]


def test_retry_after_is_capped_and_exhaustion_reports_the_429(
    emulator: Emulator, make_client: Callable[..., VapiClient], sleeps: Sleeps
) -> None:
    emulator.faults = Faults(throttle_rate=1.0, retry_after=120)
    client = make_client(retry=RetryPolicy(max_attempts=3, max_delay=4.0, sleep=sleeps))

    with pytest.raises(ApiError) as caught:
        client.list("Assistant")

    assert sleeps.delays == [4.0, 4.0]
    assert caught.value.status == 429
    assert caught.value.retry_after == 120
    assert "Rate limit exceeded" in str(caught.value) and "gave up after 3 attempts" in str(caught.value)
    assert client.calls == 3


def test_backoff_without_retry_after_grows_exponentially_with_jitter(
    emulator: Emulator, make_client: Callable[..., VapiClient], sleeps: Sleeps
) -> None:
    emulator.faults = Faults(fail_rate=1.0)
    client = make_client(retry=RetryPolicy(max_attempts=6, base_delay=0.2, max_delay=2.0, jitter=0.5, sleep=sleeps))

    with pytest.raises(ApiError) as caught:
        client.get("Assistant", "0000")

    assert caught.value.status in (500, 502, 503)
    assert len(sleeps.delays) == 5
    for attempt, delay in enumerate(sleeps.delays, start=1):
        full = min(2.0, 0.2 * 2 ** (attempt - 1))
        assert full * 0.5 <= delay <= full


def test_the_limiter_halves_on_429_and_recovers(emulator: Emulator, client: VapiClient, sleeps: Sleeps) -> None:
    emulator.faults = Faults(throttle_rate=1.0)
    sleeps.hook = lambda _: setattr(emulator.faults, "throttle_rate", 0.0)

    client.list("Tool")
    assert client.limiter.limit == 8 // 2 + 1  # halved by the 429, one back for the success

    emulator.faults = Faults(throttle_rate=1.0)
    sleeps.hook = None
    with pytest.raises(ApiError):
        client.get("Tool", "x")
    assert client.limiter.limit == 1  # every throttled attempt halved it again, down to the floor


def test_no_retry_on_400_and_vapis_message_is_shown(client: VapiClient, sleeps: Sleeps) -> None:
    with pytest.raises(ApiError) as caught:
        client.create("Assistant", assistant_body("x" * 41, bogus=1))

    error = caught.value
    assert error.status == 400 and error.method == "POST" and error.path == "/assistant"
    assert "name must be shorter than or equal to 40 characters" in error.api_message
    assert "property bogus should not exist" in error.api_message
    assert "; " in error.api_message  # NestJS's message list, joined
    assert str(error).startswith("POST /assistant → 400: ")
    assert error.hint and "validate" in error.hint
    assert client.calls == 1 and sleeps.delays == []


def test_a_post_answered_429_is_retried_and_creates_once(
    emulator: Emulator, client: VapiClient, sleeps: Sleeps
) -> None:
    emulator.faults = Faults(throttle_rate=1.0, only_methods=frozenset({"POST"}))
    sleeps.hook = lambda _: setattr(emulator.faults, "throttle_rate", 0.0)

    created = client.create("Tool", function_tool())

    emulator.faults = Faults()
    assert [t["id"] for t in client.list("Tool")] == [created["id"]]
    assert len(sleeps.delays) == 1


def test_a_post_answered_5xx_is_ambiguous_and_not_retried(emulator: Emulator, client: VapiClient) -> None:
    emulator.faults = Faults(fail_rate=1.0, only_methods=frozenset({"POST"}))

    with pytest.raises(AmbiguousWriteError) as caught:
        client.create("Tool", function_tool())

    assert isinstance(caught.value, TransportError)
    assert caught.value.status in (500, 502, 503)
    assert "re-list" in (caught.value.hint or "")
    assert client.calls == 1


def test_a_post_whose_answer_is_lost_is_ambiguous_and_not_retried(emulator: Emulator, client: VapiClient) -> None:
    emulator.faults = Faults(drop_rate=1.0, only_methods=frozenset({"POST"}))

    with pytest.raises(AmbiguousWriteError):
        client.create("Tool", function_tool())

    emulator.faults = Faults()
    assert client.calls == 1
    assert len(client.list("Tool")) == 1  # it was created: a blind retry would have made two


def test_retry_unsafe_retries_a_lost_post(emulator: Emulator, client: VapiClient, sleeps: Sleeps) -> None:
    emulator.faults = Faults(drop_rate=1.0, only_methods=frozenset({"POST"}))
    sleeps.hook = lambda _: setattr(emulator.faults, "drop_rate", 0.0)

    client.create("Tool", function_tool(), retry_unsafe=True)

    assert len(client.list("Tool")) == 2  # the duplicate a caller accepts with retry_unsafe


def test_a_delete_whose_answer_was_lost_counts_as_done(
    emulator: Emulator, client: VapiClient, sleeps: Sleeps, records: list[RequestRecord]
) -> None:
    [tool] = emulator.seed("acme", "Tool", [function_tool()])
    emulator.faults = Faults(drop_rate=1.0, only_methods=frozenset({"DELETE"}))
    sleeps.hook = lambda _: setattr(emulator.faults, "drop_rate", 0.0)

    assert client.delete("Tool", tool["id"]) == {"id": tool["id"]}
    assert [r.status for r in records] == [None, 404]
    assert client.list("Tool") == []


def test_a_plain_404_on_delete_is_an_error(client: VapiClient) -> None:
    with pytest.raises(ApiError) as caught:
        client.delete("Tool", "3f8e5a2c-0000-4000-8000-000000000000")
    assert caught.value.status == 404
    assert "Tool not found" in str(caught.value)
    assert caught.value.hint and "plan" in caught.value.hint


def test_reset_connections_are_retried_for_reads(emulator: Emulator, client: VapiClient, sleeps: Sleeps) -> None:
    emulator.faults = Faults(reset_rate=0.5, seed=3)
    emulator.seed("acme", "Squad", [{"name": f"s{i}", "members": []} for i in range(5)])

    for _ in range(10):
        assert len(client.list("Squad")) == 5
    assert sleeps.delays  # some attempts were reset and retried


def test_an_unreachable_server_is_a_transport_error_not_an_ambiguous_write(sleeps: Sleeps) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = VapiClient(f"http://127.0.0.1:{port}", TOKEN, retry=RetryPolicy(max_attempts=3, sleep=sleeps))

    with client, pytest.raises(TransportError) as caught:
        client.create("Tool", function_tool())

    assert not isinstance(caught.value, AmbiguousWriteError)  # never connected: certainly not created
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert "gave up after 3 attempts" in str(caught.value)
    assert len(sleeps.delays) == 2


def test_a_read_timeout_is_retried_then_reported(
    emulator: Emulator, make_client: Callable[..., VapiClient], sleeps: Sleeps
) -> None:
    emulator.faults = Faults(latency_ms=300)
    client = make_client(timeout=0.05, retry=RetryPolicy(max_attempts=2, sleep=sleeps))

    with pytest.raises(TransportError, match="ReadTimeout"):
        client.list("Assistant")
    assert client.calls == 2


def test_parse_retry_after_reads_seconds_dates_and_milliseconds() -> None:
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    date = format_datetime(now + timedelta(seconds=7), usegmt=True)

    assert parse_retry_after(httpx.Headers({"Retry-After": "3"})) == 3.0
    assert parse_retry_after(httpx.Headers({"retry-after": date}), now=now) == 7.0
    assert parse_retry_after(httpx.Headers({"Retry-After-Ms": "1500"})) == 1.5
    assert parse_retry_after(httpx.Headers({"Retry-After": "soon"})) is None
    assert parse_retry_after(httpx.Headers({})) is None
    past = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(httpx.Headers({"Retry-After": past}), now=now) == 0.0
