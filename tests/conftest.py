"""Test-wide fixtures: a guard that refuses every network connection except loopback."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from ci_deployer import redact

_real_connect = socket.socket.connect


def _is_loopback(address: Any) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX
        return True
    host = address[0]
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if not _is_loopback(address):
        raise RuntimeError(f"test tried to reach the network: {address!r} (only loopback is allowed)")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(autouse=True, scope="session")
def _cache_in_the_session_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The CLI subprocesses of the suite keep their parse cache (ci_deployer/config/parsecache.py)
    in one folder of this session, not in the user's ~/.cache."""
    saved = os.environ.get("CI_DEPLOYER_CACHE_DIR")
    os.environ["CI_DEPLOYER_CACHE_DIR"] = str(tmp_path_factory.mktemp("ci-deployer-cache"))
    yield
    if saved is None:
        os.environ.pop("CI_DEPLOYER_CACHE_DIR", None)
    else:
        os.environ["CI_DEPLOYER_CACHE_DIR"] = saved


@pytest.fixture(autouse=True)
def _fresh_redaction() -> Iterator[None]:
    redact.clear()
    yield
    redact.clear()
