"""The emulator over HTTP: a threaded HTTP/1.1 server with keep-alive, started in the background.

Request framing is checked here, before the emulator sees a request: a ``Content-Length`` that is not
one plain decimal number (or several that disagree), or a malformed chunk size, is a 400; a body over
:data:`MAX_BODY_BYTES` (11 MiB: larger than any prompt-carrying payload and what a config's 1 MiB
includes can add up to, and room for a 10 MiB knowledge-base document with its multipart framing) is a
413 and is not read.  Both answer in Vapi's NestJS shape and close the
connection, since the rest of the stream can no longer be framed.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import struct
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ci_deployer.emulator.app import Emulator, Outcome

MAX_BODY_BYTES = 11 * 1024 * 1024  # a 10 MiB document (config/documents.py MAX_FILE_BYTES) + multipart framing
_DECIMAL = re.compile(r"^[0-9]{1,19}$")  # ASCII digits only: int() would also take "+1", " 1", "1_0", "١"


class _FramingError(Exception):
    """A request whose body cannot be read as sent: answered with ``status`` and closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the engine benchmark opens 16+ connections at once
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        self.emulator = emulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (killed, reset) is normal for a server: one line, no traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return
        sys.stderr.write(f"emulator: request from {client_address} failed: {type(error).__name__}: {error}\n")

    def close_connections(self) -> None:
        """Wake every handler blocked on a keep-alive connection so that its thread ends."""
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a pooled httpx client reuses connections
    server: _Server
    timeout = 120  # an idle keep-alive connection is closed after two minutes

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in one write, but small answers would still wait on Nagle's
        # algorithm against the client's delayed ACK (~40 ms per request on Linux).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the emulator keeps its own request log."""

    def _read_body(self) -> bytes:
        """The request body; :class:`_FramingError` when it is malformed or over the cap."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                line = self.rfile.readline(1024).split(b";")[0].strip() or b"0"
                try:
                    size = int(line, 16)
                except ValueError:
                    raise _FramingError(400, "Invalid chunked body: a chunk size is not a hex number") from None
                total += size
                if total > MAX_BODY_BYTES:
                    raise _FramingError(413, f"request entity too large: the limit is {MAX_BODY_BYTES} bytes")
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        values = [v.strip() for v in self.headers.get_all("Content-Length") or []]
        if not values:
            return b""
        if len(set(values)) != 1 or not _DECIMAL.fullmatch(values[0]):
            raise _FramingError(400, "Invalid Content-Length header: it must be one non-negative decimal number")
        length = int(values[0])
        if length > MAX_BODY_BYTES:
            raise _FramingError(413, f"request entity too large: the limit is {MAX_BODY_BYTES} bytes")
        return self.rfile.read(length) if length else b""

    def _refuse(self, error: _FramingError) -> None:
        from ci_deployer.emulator.app import Outcome

        reason = "Payload Too Large" if error.status == 413 else "Bad Request"
        data = json.dumps({"message": error.message, "error": reason, "statusCode": error.status}).encode()
        self.close_connection = True  # the rest of the stream cannot be framed any more
        headers = [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(data)))]
        self._write(Outcome(error.status, data, headers))

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except _FramingError as error:
            self._refuse(error)
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            outcome = self.server.emulator.handle(self.command, self.path, headers, body)
        except Exception as exc:  # a bug in the emulator: answer 500 rather than hang the client
            payload = json.dumps({"message": f"emulator error: {type(exc).__name__}: {exc}", "statusCode": 500})
            data = payload.encode()
            from ci_deployer.emulator.app import Outcome

            outcome = Outcome(500, data, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        if outcome.action == "reset":
            # SO_LINGER 0: closing sends RST instead of FIN, i.e. "connection reset by peer".
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if outcome.action == "drop":
            self.close_connection = True  # the write is committed; the client never hears back
            return
        self._write(outcome)

    def _write(self, outcome: Outcome) -> None:
        try:
            phrase = HTTPStatus(outcome.status).phrase
        except ValueError:
            phrase = "Unknown"
        lines = [f"HTTP/1.1 {outcome.status} {phrase}"]
        lines += [f"{name}: {value}" for name, value in outcome.headers]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + outcome.body)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve


class ServerHandle:
    """A running emulator server: ``url``, ``stop()``; a context manager that stops on exit."""

    def __init__(self, server: _Server, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        host, port = server.server_address[:2]
        self.host = str(host)
        self.port = int(port)
        self.url = f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop accepting, close open connections and release the port."""
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve(emulator: Emulator, host: str = "127.0.0.1", port: int = 0) -> ServerHandle:
    """Serve ``emulator`` over HTTP on a background thread; returns once the port is listening.

    ``port=0`` picks a free port (see ``ServerHandle.url``).
    """
    server = _Server((host, port), emulator)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="ci-deployer-emulator", daemon=True
    )
    thread.start()
    return ServerHandle(server, thread)
