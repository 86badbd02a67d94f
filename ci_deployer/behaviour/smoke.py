"""Tool smoke tests: call a tool's server the way Vapi would, and check the answer.

- **Webhook tools** (``function`` and the other types with ``server.url``): ``POST server.url`` with
  Vapi's ``tool-calls`` server message (``ServerMessageToolCalls`` in Vapi's OpenAPI spec)::

      {"message": {"type": "tool-calls",
                   "toolCallList": [{"id": "call_smoke_…", "type": "function",
                                     "function": {"name": "lookup_order", "arguments": {…}}}],
                   "toolWithToolCallList": [{"type": "function", "function": {…}, "toolCall": {…}}],
                   "call": {"id": "ci-deployer-smoke-…", "type": "webCall"}, "timestamp": …}}

  ``arguments`` is sent as an object, as Vapi's webhooks deliver it (the spec types it as a string;
  servers written against Vapi's docs parse the object, and most accept both).  The answer Vapi
  expects is ``ServerMessageResponseToolCalls``: ``{"results": [{"toolCallId", "result" | "error"}]}``;
  the smoke case's checks apply to that entry's ``result`` (or ``error`` with ``expect.error``).
  The tool's ``server.headers`` are sent, secrets resolved through the session's resolver (never
  printed); ``server.credentialId`` authentication is Vapi's own and is not reproduced.
- **apiRequest tools**: ``method`` to ``url`` with the arguments as the JSON body (query string for
  GET and DELETE); the checks apply to the response body.

The timeout is the case's ``timeoutSeconds``, else the tool's (``server.timeoutSeconds`` /
``timeoutSeconds``, Vapi's default 20 s).  No answer — a timeout, a DNS failure, a refused
connection, a TLS failure — is a plain sentence in the result, never a traceback.
"""

from __future__ import annotations

import hashlib
import json
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from ci_deployer import redact
from ci_deployer.behaviour.model import SmokeResult
from ci_deployer.config.behaviour import DEFAULT_TOOL_TIMEOUT, SmokeCase, tool_url
from ci_deployer.config.secrets import SecretResolver, substitute
from ci_deployer.errors import ConfigError

ANSWER_CHARS = 300
USER_AGENT = "ci-deployer (tool smoke test)"


@dataclass
class SmokeJob:
    """One smoke call, ready to send (or the reason it cannot be)."""

    tool: str
    case: SmokeCase
    method: str = "POST"
    url: str = ""  # resolved: may hold a secret; never reported
    display_url: str = ""  # as configured (placeholders)
    headers: dict[str, str] = field(default_factory=dict)  # resolved; never reported
    body: Any = None
    params: dict[str, str] | None = None
    timeout: float = DEFAULT_TOOL_TIMEOUT
    call_id: str = ""
    webhook: bool = True
    file: str | None = None
    line: int | None = None
    problem: str | None = None

    def result(self, status: Any, **fields: Any) -> SmokeResult:
        return SmokeResult(
            tool=self.tool,
            case=self.case.name,
            status=status,
            file=self.file,
            line=self.line,
            method=self.method,
            url=self.display_url,
            expected=self.case.expect.to_dict(),
            **fields,
        )


def prepare(
    tool: str,
    spec: Mapping[str, Any],
    case: SmokeCase,
    resolver: SecretResolver,
    *,
    file: str | None = None,
    line: int | None = None,
) -> SmokeJob:
    """The request a smoke case makes of the tool whose rendered spec is ``spec``."""
    job = SmokeJob(tool=tool, case=case, file=file, line=line)
    url = tool_url(spec)
    if url is None:
        job.problem = "the tool has no server URL to call"
        return job
    job.display_url = url
    job.call_id = "call_smoke_" + hashlib.sha256(f"{tool}:{case.name}".encode()).hexdigest()[:16]
    if spec.get("type") == "apiRequest":
        job.webhook = False
        job.method = str(spec.get("method") or "POST").upper()
        own_timeout = spec.get("timeoutSeconds")
        headers: dict[str, Any] = {}
        if job.method in ("GET", "DELETE"):
            job.params = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in case.arguments.items()}
        else:
            job.body = dict(case.arguments)
    else:
        server = spec.get("server") if isinstance(spec.get("server"), Mapping) else {}
        assert isinstance(server, Mapping)
        own_timeout = server.get("timeoutSeconds")
        raw_headers = server.get("headers")
        headers = dict(raw_headers) if isinstance(raw_headers, Mapping) else {}
        job.body = webhook_body(spec, case, job.call_id)
    job.timeout = float(case.timeout_seconds or own_timeout or DEFAULT_TOOL_TIMEOUT)
    try:
        job.url = str(substitute(url, resolver))
        resolved = substitute({str(k): str(v) for k, v in headers.items()}, resolver)
    except ConfigError as error:
        job.problem = f"{error.message} (in the tool's URL or headers)"
        return job
    job.headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **resolved}
    return job


def webhook_body(spec: Mapping[str, Any], case: SmokeCase, call_id: str) -> dict[str, Any]:
    """The ``tool-calls`` server message Vapi would send for one call of this tool."""
    function = spec.get("function") if isinstance(spec.get("function"), Mapping) else {}
    assert isinstance(function, Mapping)
    name = function.get("name") or spec.get("name") or "tool"
    tool_call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": dict(case.arguments)}}
    # The tool as Vapi describes it, minus `server` (its headers may hold secrets: never echoed back).
    described = {k: v for k, v in spec.items() if k in ("type", "function", "messages", "async")}
    return {
        "message": {
            "type": "tool-calls",
            "timestamp": int(time.time() * 1000),
            "toolCallList": [tool_call],
            "toolWithToolCallList": [{**described, "toolCall": tool_call}],
            "call": {"id": f"ci-deployer-smoke-{call_id.removeprefix('call_smoke_')}", "type": "webCall"},
        }
    }


def run_job(job: SmokeJob, transport: httpx.BaseTransport | None = None) -> SmokeResult:
    """Send the call and check its answer."""
    if job.problem is not None:
        return job.result("error", message=job.problem)
    started = time.perf_counter()
    try:
        with httpx.Client(transport=transport, timeout=job.timeout, follow_redirects=False) as http:
            response = http.request(job.method, job.url, json=job.body, params=job.params, headers=job.headers)
    except httpx.HTTPError as exc:
        latency = (time.perf_counter() - started) * 1000
        return job.result("error", latency_ms=latency, message=describe_failure(exc, job.url, job.timeout))
    latency = (time.perf_counter() - started) * 1000
    text = response.text
    excerpt = _short(redact.redact(text)) if text else None
    expect = job.case.expect
    if response.status_code != expect.status:
        return job.result(
            "failed",
            http_status=response.status_code,
            latency_ms=latency,
            answer=excerpt,
            message=f"HTTP {response.status_code}, expected {expect.status}",
        )
    if expect.max_latency_ms is not None and latency > expect.max_latency_ms:
        return job.result(
            "failed",
            http_status=response.status_code,
            latency_ms=latency,
            answer=excerpt,
            message=f"answered in {latency:.0f} ms, over maxLatencyMs {expect.max_latency_ms:g}",
        )
    answer, problem = _answer(job, response)
    if problem is None:
        problem = check_answer(answer, expect.json_schema, expect.regex)
    shown = _short(redact.redact(answer)) if answer is not None else excerpt
    if problem is not None:
        return job.result("failed", http_status=response.status_code, latency_ms=latency, answer=shown, message=problem)
    return job.result("passed", http_status=response.status_code, latency_ms=latency, answer=shown)


def _answer(job: SmokeJob, response: httpx.Response) -> tuple[str | None, str | None]:
    """What the checks apply to: the webhook's result (or error) entry, or the whole body."""
    if not job.webhook or not 200 <= response.status_code < 300:
        return response.text, None
    try:
        data = response.json()
    except ValueError:
        return response.text, 'the answer is not JSON: Vapi expects {"results": [{"toolCallId", "result"}]}'
    results = data.get("results") if isinstance(data, Mapping) else None
    if not isinstance(results, list) or not results:
        return response.text, 'the answer has no results[]: Vapi expects {"results": [{"toolCallId", "result"}]}'
    entries = [r for r in results if isinstance(r, Mapping)]
    entry = next((r for r in entries if r.get("toolCallId") == job.call_id), None)
    if entry is None:
        return response.text, f"no entry of results[] has toolCallId {job.call_id!r} (the id Vapi sent)"
    if job.case.expect.error:
        if "error" not in entry:
            return _as_text(entry.get("result")), "expected the tool to answer an error, it answered a result"
        return _as_text(entry.get("error")), None
    if "error" in entry and entry.get("error") is not None:
        return _as_text(entry.get("error")), f"the tool answered an error: {_short(_as_text(entry.get('error')))}"
    if "result" not in entry:
        return response.text, "the results[] entry has no result"
    return _as_text(entry.get("result")), None


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def check_answer(answer: str | None, schema: Mapping[str, Any] | None, regex: str | None) -> str | None:
    """The mismatch between an answer and the expected JSON shape / regex, if any."""
    import re

    text = answer or ""
    if schema is not None:
        from jsonschema import exceptions, validators

        try:
            value = json.loads(text)
        except ValueError:
            return "the answer is not JSON, but expect.json gives it a shape"
        cls = validators.validator_for(schema)
        error = exceptions.best_match(cls(dict(schema)).iter_errors(value))
        if error is not None:
            where = ".".join(str(p) for p in error.absolute_path)
            return f"the answer does not fit expect.json: {where + ': ' if where else ''}{error.message}"
    if regex is not None and re.search(regex, text) is None:
        return f"the answer does not match /{regex}/"
    return None


def _short(text: str) -> str:
    return text if len(text) <= ANSWER_CHARS else text[: ANSWER_CHARS - 1] + "…"


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    node: BaseException | None = exc
    while node is not None and node not in out and len(out) < 10:
        out.append(node)
        node = node.__cause__ or node.__context__
    return out


def describe_failure(exc: httpx.HTTPError, url: str, timeout: float) -> str:
    """No answer, in words: timed out, DNS, refused, TLS, or cut off (never a traceback, never the
    URL's query string or credentials)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {timeout:g} s (timed out)"
    chain = _chain(exc)
    words = " ".join(str(e) for e in chain)
    for error in chain:
        if isinstance(error, socket.gaierror):
            return f"DNS lookup failed for {host} ({error.strerror or error})"
        if isinstance(error, ssl.SSLCertVerificationError):
            # verify_message / reason are set only when the ssl module raised it: read them defensively
            detail = getattr(error, "verify_message", None) or getattr(error, "reason", None) or "verify failed"
            return f"TLS failed with {host}: certificate not trusted ({detail})"
        if isinstance(error, ssl.SSLError):
            return f"TLS failed with {host}: {getattr(error, 'reason', None) or error}"
        if isinstance(error, ConnectionRefusedError):
            return f"connection refused by {host}:{port} (nothing listens there)"
    lowered = words.lower()
    if any(s in lowered for s in ("name or service not known", "nodename nor servname", "name resolution")):
        return f"DNS lookup failed for {host}"
    if "certificate" in lowered or "ssl" in lowered or "tls" in lowered:
        return f"TLS failed with {host}: {redact.redact(str(exc))}"
    if "refused" in lowered:
        return f"connection refused by {host}:{port} (nothing listens there)"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"{host} closed the connection without a complete answer"
    return redact.redact(f"no answer from {host}: {type(exc).__name__}: {exc}")
