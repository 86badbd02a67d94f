"""The apply log: one JSON line per HTTP request (``apply-log.jsonl``).

Each line: ``time``, ``method``, ``path``, ``status`` (0: no answer), ``durationMs``, ``attempt``,
``requestSha256`` / ``responseSha256`` (of the bodies as sent and received: a body is never
written, so a secret sent in a header value cannot reach the log), ``idempotencyKey`` (the
operation the request belongs to: the same key on every retry of one write), ``operation``
(``create Tool/jira``), ``outcome`` and, for failures, a redacted ``error``.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import threading
from datetime import UTC, datetime
from pathlib import Path as FsPath
from types import TracebackType
from typing import Any

from ci_deployer import redact

# The operation the current thread works on; set by apply around each write.
current_operation: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "ci_deployer_operation", default=None
)


def body_sha256(body: Any) -> str | None:
    """sha256 hex of a body (bytes, text or JSON value); ``None`` when there is no body."""
    if body is None or body in (b"", ""):
        return None
    if isinstance(body, bytes):
        data = body
    elif isinstance(body, str):
        data = body.encode("utf-8")
    else:
        data = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def outcome_of(status: int, error: Any) -> str:
    """``ok`` / ``throttled`` / ``server-error`` / ``rejected`` / ``no-response``."""
    if not status:
        return "no-response"
    if 200 <= status < 300:
        return "ok"
    if status == 429:
        return "throttled"
    if status >= 500:
        return "server-error"
    return "rejected"


class AuditLog:
    """Appends lines to ``path`` (thread-safe; flushed per line so a crash loses nothing)."""

    def __init__(self, path: FsPath) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._handle = path.open("a", encoding="utf-8")
        self.count = 0

    def on_request(self, record: Any) -> None:
        """The client's ``on_request`` hook: one :class:`RequestRecord` → one line."""
        op = current_operation.get()
        status = int(getattr(record, "status", 0) or 0)
        error = getattr(record, "error", None)
        started = getattr(record, "started_at", None)
        if isinstance(started, (int, float)):
            when = datetime.fromtimestamp(started, UTC).isoformat()
        elif isinstance(started, datetime):
            when = started.astimezone(UTC).isoformat()
        elif isinstance(started, str) and started:
            when = started  # the client records ISO 8601 already
        else:
            when = datetime.now(UTC).isoformat()
        line = {
            "time": when,
            "method": getattr(record, "method", None),
            "path": getattr(record, "path", None),
            "status": status,
            "durationMs": round(float(getattr(record, "duration_ms", 0) or 0), 1),
            "attempt": getattr(record, "attempt", None),
            "requestSha256": body_sha256(getattr(record, "request_body", None)),
            "responseSha256": body_sha256(getattr(record, "response_body", None)),
            "idempotencyKey": op[0] if op else None,
            "operation": op[1] if op else None,
            "outcome": outcome_of(status, error),
        }
        if error:
            line["error"] = str(error)
        self.write(line)

    def write(self, line: dict[str, Any]) -> None:
        """Append one line (secrets masked)."""
        text = redact.redact(json.dumps(line, ensure_ascii=False, sort_keys=True))
        with self._lock:
            self._handle.write(text + "\n")
            self._handle.flush()
            self.count += 1

    def close(self) -> None:
        with self._lock:
            self._handle.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
