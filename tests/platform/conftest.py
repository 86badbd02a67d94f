"""Fixtures for the platform tests: the emulator served over loopback HTTP, and clients for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from platform_helpers import TOKEN, Sleeps

from ci_deployer.emulator import Emulator, ServerHandle, serve
from ci_deployer.platform.client import RequestRecord, RetryPolicy, VapiClient


@pytest.fixture
def emulator() -> Emulator:
    emu = Emulator()
    emu.add_org("acme", TOKEN)
    return emu


@pytest.fixture
def server(emulator: Emulator) -> Iterator[ServerHandle]:
    with serve(emulator) as handle:
        yield handle


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def records() -> list[RequestRecord]:
    return []


@pytest.fixture
def make_client(
    server: ServerHandle, sleeps: Sleeps, records: list[RequestRecord]
) -> Iterator[Callable[..., VapiClient]]:
    """``make_client(**kwargs)`` → a VapiClient for org acme over HTTP; sleeps recorded, not slept."""
    clients: list[VapiClient] = []

    def make(token: str | None = TOKEN, **kwargs: Any) -> VapiClient:
        retry = kwargs.pop("retry", None) or RetryPolicy(sleep=sleeps)
        kwargs.setdefault("on_request", records.append)
        client = VapiClient(server.url, token, retry=retry, timeout=kwargs.pop("timeout", 10.0), **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., VapiClient]) -> VapiClient:
    return make_client()
