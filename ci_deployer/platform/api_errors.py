"""Vapi error answers → :class:`ci_deployer.errors.ApiError` with Vapi's own words and a hint.

Vapi is a NestJS app: error bodies are ``{"message": str | [str, …], "error": "Bad Request",
"statusCode": 400}`` (class-validator puts one string per problem in the list).  A pinned delete
answers 409 ``{error: "version_pinned", message, pinnedBy: [{sourceType, sourceId}]}``
(AssistantPinnedConflictResponseDTO / ToolPinnedConflictResponseDTO).  Anything else (an HTML page
from a gateway, an empty body) is reported by its status text.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from ci_deployer import redact
from ci_deployer.errors import ApiError

HINTS: dict[int, str] = {
    400: "Vapi rejected the request body; run `ci-deployer validate` and fix the fields named above",
    401: "check the env's api.token secret: it must be the private API key of the env's org",
    402: "the Vapi org has no credit left for this call; top it up in the Vapi dashboard",
    403: "the API key may not do this; use the org's private API key, not a public key",
    404: "the resource is gone or belongs to another org; run `ci-deployer plan` to re-read the org",
    409: "the resource is still referenced (pinned); remove those references first, then delete it",
    429: "Vapi kept rate limiting; retry later or lower the concurrency",
}


def parse_body(content: bytes) -> Any:
    """The JSON value of a body, or ``None`` when it is empty or not JSON."""
    if not content:
        return None
    try:
        return json.loads(content)
    except ValueError:
        return None


def status_text(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def vapi_message(status: int, body: Any) -> str:
    """Vapi's message: a NestJS ``message`` string, or its list joined with ``"; "``.

    Pinned-conflict bodies add who pins the resource.  Without a readable message the status text.
    """
    if not isinstance(body, dict):
        return status_text(status)
    raw = body.get("message")
    if isinstance(raw, list):
        message = "; ".join(str(m) for m in raw if m is not None and str(m))
    elif isinstance(raw, str):
        message = raw
    else:
        message = str(body.get("error") or "") or status_text(status)
    if not message:
        message = status_text(status)
    pinned = body.get("pinnedBy")
    if isinstance(pinned, list) and pinned:
        who = ", ".join(
            f"{p.get('sourceType', '?')} {p.get('sourceId', '?')}" if isinstance(p, dict) else str(p) for p in pinned
        )
        message = f"{message} (pinned by: {who})"
    return message


def api_error(
    method: str, path: str, status: int, content: bytes, *, retry_after: float | None = None, note: str = ""
) -> ApiError:
    """Build the one exception type for an error answer (message redacted of any known secret)."""
    body = parse_body(content)
    message = redact.redact(vapi_message(status, body) + note)
    hint = HINTS.get(status)
    if hint is None and status >= 500:
        hint = "Vapi failed to answer; retry later (ci-deployer already retried with backoff)"
    return ApiError(method, path, status, message, hint=hint, body=body, retry_after=retry_after)
