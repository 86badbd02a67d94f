"""The emulator mounted in-process as an httpx transport, and the ``api: {url: embedded}`` default."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from ci_deployer.emulator.app import Emulator

_embedded: dict[Path, Emulator] = {}
_embedded_lock = threading.Lock()


class EmulatorTransport(httpx.BaseTransport):
    """Hands httpx requests straight to :meth:`Emulator.handle` (no sockets), faults included.

    An injected reset raises :class:`httpx.ConnectError` (nothing was done); a dropped response
    raises :class:`httpx.ReadError` after the write was committed, as a lost answer would.
    """

    def __init__(self, emulator: Emulator, *, org: str | None = None) -> None:
        self.emulator = emulator
        self.org = org

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        target = request.url.raw_path.decode("ascii")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers.raw}
        outcome = self.emulator.handle(request.method, target, headers, body, org_override=self.org)
        if outcome.action == "reset":
            raise httpx.ConnectError("emulator: connection reset before the request was processed", request=request)
        if outcome.action == "drop":
            raise httpx.ReadError("emulator: response lost after the request was processed", request=request)
        return httpx.Response(outcome.status, headers=outcome.headers, content=outcome.body, request=request)


DEFAULT_DATA = Path(".ci-deployer", "emulator")


def embedded_emulator(config_root: Path, data: Path = DEFAULT_DATA) -> Emulator:
    """The process-wide emulator of a data folder (``data``, relative to the config root): one per
    folder, so every session of the process shares its writes."""
    from ci_deployer.emulator.app import Emulator

    data_dir = (config_root / data).resolve()
    with _embedded_lock:
        emulator = _embedded.get(data_dir)
        if emulator is None:
            emulator = _embedded[data_dir] = Emulator(data_dir)
        return emulator


def embedded_transport(config_root: Path, org: str, data: Path = DEFAULT_DATA) -> httpx.BaseTransport:
    """The ``api: {url: embedded}`` default: org ``org`` stored under ``<config_root>/.ci-deployer/emulator/``
    (or the ``api.data`` folder, relative to the config root).

    The org is created on first use.  Any bearer token (or none) is accepted: the data is local to
    the config repository and nothing is reachable from outside the process.
    """
    return EmulatorTransport(embedded_emulator(config_root, data), org=org)
