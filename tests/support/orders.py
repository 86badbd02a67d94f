"""The orders service behind the example config's ``lookup_order`` tool, on loopback: what its smoke
case calls (the Vapi ``tool-calls`` webhook) and answers ``{"results": [{toolCallId, result}]}``."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Orders:
    """The service's state: the status it answers, the bearer token it wants, and its URL."""

    def __init__(self, token: str) -> None:
        self.status = "shipped"
        self.token = token
        self.url = ""
        self.calls = 0


@contextmanager
def serve_orders(token: str) -> Iterator[Orders]:
    """Serve :class:`Orders` on 127.0.0.1 (``url`` is the tools' ``${{ params.ordersUrl }}``)."""
    state = Orders(token)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            state.calls += 1
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            call = body["message"]["toolCallList"][0]
            ok = self.headers.get("Authorization") == f"Bearer {state.token}"
            payload = {"results": [{"toolCallId": call["id"], "result": json.dumps({"status": state.status})}]}
            data = json.dumps(payload if ok else {"message": "unauthorized"}).encode()
            self.send_response(200 if ok else 401)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/vapi"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
