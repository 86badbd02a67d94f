"""A lost create answer never makes a duplicate when create_or_adopt is used."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from platform_helpers import Sleeps, assistant_body, function_tool

from ci_deployer.emulator import Emulator, Faults
from ci_deployer.platform.client import AmbiguousWriteError, RetryPolicy, VapiClient
from ci_deployer.platform.upsert import create_or_adopt, matches_payload, payload_fingerprint

N = 30


def test_n_creates_under_dropped_answers_leave_exactly_n(emulator: Emulator, client: VapiClient) -> None:
    emulator.faults = Faults(drop_rate=0.4, only_methods=frozenset({"POST"}), seed=5)

    outcomes = [create_or_adopt(client, "Tool", function_tool(f"tool_{i}")) for i in range(N)]

    emulator.faults = Faults()
    names = sorted(t["function"]["name"] for t in client.list("Tool"))
    assert names == sorted(f"tool_{i}" for i in range(N))  # exactly N, no duplicate
    assert any(adopted for _, adopted in outcomes)  # answers really were lost and recovered
    assert [o["function"]["name"] for o, _ in outcomes] == [f"tool_{i}" for i in range(N)]


def test_blind_retries_would_have_made_duplicates(
    emulator: Emulator, make_client: Callable[..., VapiClient], sleeps: Sleeps
) -> None:
    # The same faults with a blind retry: shows the previous test can fail.
    emulator.faults = Faults(drop_rate=0.4, only_methods=frozenset({"POST"}), seed=5)
    client = make_client(retry=RetryPolicy(max_attempts=20, sleep=sleeps))

    for i in range(N):
        client.create("Tool", function_tool(f"tool_{i}"), retry_unsafe=True)

    emulator.faults = Faults()
    assert len(client.list("Tool")) > N


def test_nameless_tools_are_recovered_by_payload_and_owned_ids_are_skipped(
    emulator: Emulator, client: VapiClient, sleeps: Sleeps
) -> None:
    [older] = emulator.seed(
        "acme", "Tool", [{"type": "endCall", "messages": [{"type": "request-start", "content": "Bye"}]}]
    )
    emulator.faults = Faults(drop_rate=1.0, only_methods=frozenset({"POST"}))
    payload = {"type": "endCall", "messages": [{"type": "request-start", "content": "Bye"}]}

    found, adopted = create_or_adopt(client, "Tool", payload, exclude={older["id"]})

    emulator.faults = Faults()
    assert adopted and found["id"] != older["id"]
    assert len(client.list("Tool")) == 2


def test_owned_ids_given_as_a_function_are_asked_for_only_after_a_lost_answer(
    emulator: Emulator, client: VapiClient, sleeps: Sleeps
) -> None:
    """An apply owns thousands of ids: they are collected only when a lost answer makes it re-list
    (collecting them for every create made an apply's creates quadratic), and then honoured."""
    asked: list[int] = []

    def owned() -> set[str]:
        asked.append(1)
        return {older["id"]}

    payload = {"type": "endCall", "messages": [{"type": "request-start", "content": "Bye"}]}
    create_or_adopt(client, "Tool", function_tool("tool_ok"), exclude=owned)
    assert asked == []
    [older] = emulator.seed("acme", "Tool", [payload])
    emulator.faults = Faults(drop_rate=1.0, only_methods=frozenset({"POST"}))
    found, adopted = create_or_adopt(client, "Tool", payload, exclude=owned)
    emulator.faults = Faults()
    assert asked == [1]
    assert adopted and found["id"] != older["id"]


def test_when_nothing_matches_the_create_is_sent_again_boundedly(emulator: Emulator, client: VapiClient) -> None:
    emulator.faults = Faults(fail_rate=1.0, only_methods=frozenset({"POST"}))  # 5xx before any write

    with pytest.raises(AmbiguousWriteError):
        create_or_adopt(client, "Assistant", assistant_body(), attempts=3)
    posts = [r for r in emulator.request_log if r.method == "POST"]
    assert len(posts) == 3
    emulator.faults = Faults()
    assert client.list("Assistant") == []


def test_fingerprint_ignores_key_order_and_server_fields() -> None:
    a = {"type": "endCall", "messages": [{"content": "Bye", "type": "request-start"}]}
    b = {"messages": [{"type": "request-start", "content": "Bye"}], "type": "endCall", "id": "x", "createdAt": "t"}

    assert payload_fingerprint("Tool", a) == payload_fingerprint("Tool", b)
    assert payload_fingerprint("Tool", a) != payload_fingerprint("Tool", {**a, "type": "transferCall"})


def test_matches_payload_tolerates_server_additions_only() -> None:
    match = matches_payload("Assistant", {"name": "A", "model": {"provider": "openai"}, "voicemailMessage": None})

    assert match({"id": "1", "name": "A", "model": {"provider": "openai", "temperature": 0}, "latestVersion": None})
    assert not match({"name": "A", "model": {"provider": "anthropic"}})
    assert not match({"name": "A", "model": {"provider": "openai"}, "voicemailMessage": "hi"})
    assert not match({"name": "B", "model": {"provider": "openai"}})
