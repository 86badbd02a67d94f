"""The client's connections: one httpcore pool per connection, lent to one request at a time.

Why not httpx's own pool: ``httpcore.ConnectionPool`` re-examines every connection it holds on each
request and on each response closed, and for every idle one it counts all the connections again and
polls its socket.  At the client's 32 connections that bookkeeping (O(connections²) per request,
under the pool's lock) cost about a quarter of the CPU of a request — and the CPU of a request is
what limits an apply, not the network.  Here each connection sits in an :class:`httpx.HTTPTransport`
of its own (a pool of one: the same HTTP, timeouts, keep-alive expiry and error mapping), and a
request borrows an idle one from a stack, or opens another: the pool's work is then constant.  The
client's :class:`~ci_deployer.platform.limiter.ConcurrencyLimiter` bounds the requests in flight,
hence the connections opened.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from ssl import SSLContext

import httpx

# One connection per lent transport; keep-alive expiry as httpx's default pool has it.
_ONE = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=5.0)


class LentConnections(httpx.BaseTransport):
    """A transport lending one single-connection :class:`httpx.HTTPTransport` per request.

    ``verify``: check server certificates (``False`` for a plain-HTTP API root, which then loads no
    CA bundle).  The one TLS context is made when the first connection needs it and shared by all.
    """

    def __init__(self, *, verify: bool = True) -> None:
        self._verify = verify
        self._ssl: SSLContext | None = None
        self._idle: list[httpx.HTTPTransport] = []  # a stack: the most recently used connection first
        self._every: list[httpx.HTTPTransport] = []
        self._lock = threading.Lock()
        self._closed = False

    @property
    def opened(self) -> int:
        """How many connections (transports) were made so far."""
        with self._lock:
            return len(self._every)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        transport = self._borrow()
        try:
            response = transport.handle_request(request)
        except BaseException:
            self._give_back(transport)
            raise
        assert isinstance(response.stream, httpx.SyncByteStream)  # a sync transport's answer
        response.stream = _ReturnOnClose(response.stream, lambda: self._give_back(transport))
        return response

    def close(self) -> None:
        with self._lock:
            self._closed = True
            every, self._every, self._idle = self._every, [], []
        for transport in every:
            transport.close()

    def _borrow(self) -> httpx.HTTPTransport:
        with self._lock:
            if self._closed:
                raise RuntimeError("Cannot send a request, as the client has been closed.")
            if self._idle:
                return self._idle.pop()
            if self._ssl is None:
                self._ssl = httpx.create_ssl_context(verify=self._verify)
            transport = httpx.HTTPTransport(verify=self._ssl, limits=_ONE)
            self._every.append(transport)
            return transport

    def _give_back(self, transport: httpx.HTTPTransport) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(transport)
                return
        transport.close()  # the client was closed while this request was in flight


class _ReturnOnClose(httpx.SyncByteStream):
    """A response body that hands its connection back when closed (once read, or given up)."""

    def __init__(self, stream: httpx.SyncByteStream, done: Callable[[], None]) -> None:
        self._stream = stream
        self._done: Callable[[], None] | None = done

    def __iter__(self) -> Iterator[bytes]:
        yield from self._stream

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            done, self._done = self._done, None
            if done is not None:
                done()
