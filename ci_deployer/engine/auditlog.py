"""The apply log (``apply-log.jsonl``): a journal, one JSON line per event, flushed as it happens.

- ``event: start`` (env, org, run, plan hash) opens it and ``event: end`` (outcome) closes it: a
  journal without an end is an interrupted apply, read back before the next plan of the env
  (:func:`interrupted_writes`) so no interrupt can duplicate what it created.
- ``event: write`` per finished write: action, kind, slug, the id the org gave it, status.
- ``event: gates``: the gates' verdict before the first write.
- request lines (no ``event``): ``time``, ``method``, ``path``, ``status`` (0: no answer),
  ``durationMs``, ``attempt``, ``requestSha256`` / ``responseSha256``, ``idempotencyKey`` (the same on
  every retry of one write), ``operation`` (``create Tool/jira``), ``outcome`` and, for failures, a
  redacted ``error``.  A body is never written, and its checksum is taken over the body with every
  secret value redacted, so a checksum can never confirm a guessed secret.

Every line is handed to the OS when written (a killed process loses nothing the OS has), with one
``write`` to a file opened for appending: the kernel appends each whole, so the workers of an apply
write without a lock of ours.  A lock around the write made them queue: its holder, back from the
system call, waited for the GIL (up to 5 ms while another thread ran) before it could let the next
one in — a third of the workers' time at 32 concurrent writes.  :meth:`AuditLog.sync` makes the lines
durable (``fsync``) between the levels of an apply.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import os
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
    """sha256 hex of a body (bytes, text or JSON value) with every secret value redacted first;
    ``None`` when there is no body."""
    if body is None or body in (b"", ""):
        return None
    if isinstance(body, bytes):
        text = body.decode("utf-8", "replace")
    elif isinstance(body, str):
        text = body
    else:
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(redact.redact(text).encode("utf-8")).hexdigest()


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
    """Appends lines to ``path`` (thread-safe: one appending ``write`` per line, so a crash loses
    nothing the OS has)."""

    def __init__(self, path: FsPath) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
        self._fd: int | None = os.open(path, flags, 0o644)

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
        """Append one line (secrets masked), handed to the OS at once."""
        data = (redact.redact(json.dumps(line, ensure_ascii=False, sort_keys=True)) + "\n").encode("utf-8")
        fd = self._open_fd()
        while data:  # a regular file takes it whole; the loop only covers a short write (a full disk)
            data = data[os.write(fd, data) :]

    def event(self, name: str, **fields: Any) -> None:
        """A journal event line (``start``, ``write``, ``gates``, ``end``)."""
        self.write({"event": name, "time": datetime.now(UTC).isoformat(), **fields})

    def sync(self) -> None:
        """Make every line written so far durable (``fsync``)."""
        os.fsync(self._open_fd())

    def close(self) -> None:
        """Close the file (the apply's writers are done: a line written after this is an error)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def _open_fd(self) -> int:
        if self._fd is None:
            raise ValueError(f"{self.path} is closed")
        return self._fd

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def interrupted_writes(
    path: FsPath, env: str, org: str, state_run: str | None = None, state_time: str | None = None
) -> dict[str, str] | None:
    """The ids an interrupted apply of ``env`` in ``org`` created, from its journal: ``"Kind/slug"``
    → id (deleted ones left out).  ``None`` when ``path`` is not such a journal: it finished
    (``event: end``), belongs to another env or org, or is older than the state (``state_time``, the
    ISO time it was saved) — unless that state is a checkpoint of the same run (``state_run``)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    created: dict[str, str] = {}
    started = False
    for raw in lines:
        try:
            line = json.loads(raw)
        except ValueError:
            continue  # a line cut by the kill
        if not isinstance(line, dict):
            continue
        event = line.get("event")
        if event == "start":
            if line.get("env") != env or line.get("org") != org:
                return None
            same_run = state_run is not None and line.get("run") == state_run
            if state_time and not same_run and _instant(str(line.get("time") or "")) < _instant(state_time):
                return None
            started = True
        elif event == "end":
            return None
        elif event == "write" and line.get("status") == "ok" and line.get("id"):
            key = f"{line.get('kind')}/{line.get('slug')}"
            if line.get("action") == "delete":
                created.pop(key, None)
            elif line.get("action") == "create":
                created[key] = str(line["id"])
    return created if started else None


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
