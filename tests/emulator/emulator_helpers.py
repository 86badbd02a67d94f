"""Fixtures for the emulator tests: an emulator with two orgs, clients in-process and over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from ci_deployer.emulator import Emulator, serve

TOKEN = "tok-acme-0123456789"
OTHER_TOKEN = "tok-other-0123456789"


@pytest.fixture
def emulator() -> Emulator:
    emu = Emulator()
    emu.add_org("acme", TOKEN)
    emu.add_org("other", OTHER_TOKEN)
    return emu


def _client(base_url: str, transport: httpx.BaseTransport | None, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base_url, transport=transport, headers=headers, timeout=10)


@pytest.fixture(params=["in-process", "http"])
def connect(request: pytest.FixtureRequest, emulator: Emulator) -> Iterator[Callable[..., httpx.Client]]:
    """``connect(token=TOKEN)`` → an httpx client reaching ``emulator`` in-process or over loopback HTTP."""
    clients: list[httpx.Client] = []
    handle = serve(emulator) if request.param == "http" else None

    def make(token: str | None = TOKEN) -> httpx.Client:
        if handle is not None:
            client = _client(handle.url, None, token)
        else:
            client = _client("http://vapi.test", emulator.transport(), token)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
    if handle is not None:
        handle.stop()


@pytest.fixture
def api(emulator: Emulator) -> Iterator[httpx.Client]:
    """An in-process client for org acme."""
    with _client("http://vapi.test", emulator.transport(), TOKEN) as client:
        yield client


def assistant_body(name: str = "Order Agent", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "firstMessage": "Hi, this is Order Agent.",
        "model": {
            "provider": "openai",
            "model": "gpt-4.1-mini",
            "messages": [{"role": "system", "content": "You help customers with their orders. Keep it short."}],
        },
    }
    body.update(extra)
    return body


def function_tool(name: str = "lookup_order") -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": "Look up an order",
            "parameters": {"type": "object", "properties": {"orderId": {"type": "string"}}},
        },
    }
