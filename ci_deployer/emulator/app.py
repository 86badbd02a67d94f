"""The emulator itself: routing, resource handlers, auth, faults and the request log.

One :class:`Emulator` serves any number of orgs.  :meth:`Emulator.handle` is the single entry point
the three front ends share: the WSGI app, the in-process httpx transport and the HTTP server.
"""

from __future__ import annotations

import base64
import copy
import email.parser
import email.policy
import json
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote

import httpx

from ci_deployer.emulator import responder
from ci_deployer.emulator.faults import Faults, echo_messages
from ci_deployer.emulator.rules import (
    HttpError,
    apply_defaults,
    bad_request,
    nest_error,
    not_found,
    reference_messages,
    validate,
)
from ci_deployer.emulator.store import Org, Record, Storage, format_ms, parse_iso_ms
from ci_deployer.platform.kinds import GENERATED_TOOL_TYPES, KINDS, Kind

MAX_LIMIT = 1000  # Vapi: `limit` max 1000, "Defaults to 100"
DEFAULT_LIMIT = 100
SEARCH_MAX = 100  # GET /v2/phone-number `search`: maxLength 100
_TIME_PARAMS = tuple(f"{f}{op}" for f in ("createdAt", "updatedAt") for op in ("Gt", "Lt", "Ge", "Le"))


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the emulator saw it.  ``status`` is 0 when no response was sent (reset)."""

    method: str
    path: str
    status: int
    org: str | None
    dropped: bool = False
    fault: str | None = None  # "reset" | "fail" | "throttle" | "echo" | "drop" | None
    query: str = ""


@dataclass(frozen=True)
class Processing:
    """How long Vapi takes to read an upload (File ``status`` processing → done) and to index an
    attachment (KnowledgeBaseV2File ``status`` indexing → ready): ``polls`` reads of it (GET
    /file/{id}, GET /v2/knowledge-base/{id}/file), and at least ``delay_ms`` after the write.  The
    default (0, 0) answers done/ready at once.  ``fail_names``: file names whose first indexing
    fails (``status: failed``) until ``POST …/file/{fileId}/retry``."""

    polls: int = 0
    delay_ms: float = 0
    fail_names: frozenset[str] = frozenset()


@dataclass
class _Pending:
    polls: int
    ready_at: float
    fail: bool = False


@dataclass(frozen=True)
class RawBody:
    """A non-JSON answer (a file's bytes)."""

    data: bytes
    content_type: str


@dataclass
class Outcome:
    """What to answer: status, JSON bytes and headers; ``action`` says to drop or reset instead."""

    status: int
    body: bytes
    headers: list[tuple[str, str]]
    action: Literal["drop", "reset"] | None = None


@dataclass(frozen=True)
class Collection:
    """A URL collection: where it lives, what it stores, how it lists."""

    name: str  # storage folder
    path: str  # URL path
    label: str  # used in "… not found"
    kind: Kind | None
    list_shape: str  # "array" | "paginated"
    filters: tuple[str, ...] = ()  # equality filters accepted by the list
    sort_by: tuple[str, ...] = ("createdAt", "updatedAt")  # accepted `sortBy` values (paginated lists)
    search: tuple[str, ...] = ()  # fields the `search` parameter matches (partial, case-insensitive)
    list_only: bool = False  # a second listing of another collection's records (GET only)


def _build_collections() -> dict[str, Collection]:
    out: dict[str, Collection] = {}
    extra_filters = {"Squad": ("idAny",), "StructuredOutput": ("id", "name"), "Eval": ("id", "name")}
    for kind in KINDS.values():
        name = kind.path.rsplit("/", 1)[-1]
        out[kind.path] = Collection(name, kind.path, kind.name, kind, kind.list_shape, extra_filters.get(kind.name, ()))
    out["/file"] = Collection("file", "/file", "File", None, "array", ("purpose",))
    out["/eval/run"] = Collection("eval-run", "/eval/run", "EvalRun", None, "paginated", ("id", "evalId"))
    out["/chat"] = Collection(
        "chat", "/chat", "Chat", None, "paginated", ("id", "assistantId", "squadId", "previousChatId")
    )
    # GET /v2/phone-number (PhoneNumberController_findAllPaginated): the same numbers as
    # /phone-number, paginated as PhoneNumberPaginatedResponse {results, metadata}, with `search`
    # ("by name, number, or SIP URI (partial match, case-insensitive)", at most 100 characters) and
    # sortBy createdAt|duration|cost.  The spec declares only GET on this path.
    phone = KINDS["PhoneNumber"]
    out["/v2/phone-number"] = Collection(
        "phone-number",
        "/v2/phone-number",
        phone.name,
        phone,
        "paginated",
        sort_by=("createdAt", "duration", "cost"),
        search=("name", "number", "sipUri"),
        list_only=True,
    )
    return out


class Emulator:
    """A Vapi-compatible API over in-memory or on-disk storage (``data_dir``), with fault injection.

    ``faults`` may be changed at any time; ``request_log`` lists every request seen, in order.
    """

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        faults: Faults | None = None,
        eval_run_polls: int = 0,
        processing: Processing | None = None,
    ) -> None:
        self.faults = faults if faults is not None else Faults()
        # How many GETs of a new eval run answer `running` before it ends (Vapi runs evals
        # asynchronously: POST /eval/run answers `queued`, GET /eval/run/{id} until `ended`).  0 ends
        # it at once (the POST answers the ended run); a huge number makes runs that never end.
        self.eval_run_polls = eval_run_polls
        self._pending_runs: dict[tuple[str, str], list[Any]] = {}  # (org, run id) → [GETs left, final run]
        self.processing = processing if processing is not None else Processing()
        self.request_log: list[LoggedRequest] = []
        self._lock = threading.RLock()
        self._storage = Storage(data_dir)
        self._collections = _build_collections()
        self._pending: dict[str, _Pending] = {}  # file or attachment id → what is left of its processing

    # --- public API --------------------------------------------------------------------------------

    def add_org(self, name: str, token: str) -> str:
        """Create org ``name`` reachable with bearer ``token`` (idempotent per name); returns its orgId."""
        with self._lock:
            return self._storage.add_org(name, token).id

    def org_id(self, name: str) -> str:
        """The orgId of org ``name`` (KeyError if there is none)."""
        with self._lock:
            return self._storage.orgs[name].id

    def seed(self, org: str, kind: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Insert ``items`` of ``kind`` into ``org`` directly (no HTTP, no validation): for big tests.

        Server fields and defaults are added as on POST (an item's own ``id`` is kept); a knowledge
        base gets its search tool.  The org is created (without a token) when missing.
        """
        collection = self._collections[KINDS[kind].path]
        with self._lock:
            target = self._storage.add_org(org, None)
            created = []
            for item in items:
                body = copy.deepcopy(item)
                resource_id = body.pop("id", None)
                created.append(self._insert(target, collection, body, resource_id=resource_id))
            return copy.deepcopy(created)

    def transport(self, org: str | None = None) -> httpx.BaseTransport:
        """An in-process httpx transport (honours faults).  With ``org``, every request is that org's."""
        from ci_deployer.emulator.transport import EmulatorTransport

        return EmulatorTransport(self, org=org)

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """The emulator as a WSGI application.

        WSGI cannot cut a connection: a reset raises :class:`ConnectionResetError` and a dropped
        response :class:`ConnectionAbortedError` (after the write), which WSGI servers turn into a
        closed connection.
        """
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = str(environ["CONTENT_TYPE"])
        target = environ.get("PATH_INFO", "/")
        if environ.get("QUERY_STRING"):
            target += "?" + environ["QUERY_STRING"]
        outcome = self.handle(environ["REQUEST_METHOD"], target, headers, body)
        if outcome.action == "reset":
            raise ConnectionResetError("emulator: connection reset (injected fault)")
        if outcome.action == "drop":
            raise ConnectionAbortedError("emulator: response dropped after the write (injected fault)")
        start_response(f"{outcome.status} {_reason(outcome.status)}", outcome.headers)
        return [outcome.body]

    # --- the one entry point -----------------------------------------------------------------------

    def handle(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        org_override: str | None = None,
    ) -> Outcome:
        """Answer one request.  ``target`` is the path with its query string; header names lower-case.

        ``org_override`` serves the request as that org whatever the token (the embedded default).
        """
        method = method.upper()
        path, _, query = target.partition("?")
        path = "/" + "/".join(unquote(p) for p in path.split("/") if p)
        faults = self.faults
        active = faults.applies_to(method)

        if active and faults.hit(faults.reset_rate):
            self._log(LoggedRequest(method, path, 0, None, fault="reset", query=query))
            return Outcome(0, b"", [], action="reset")
        if active and faults.latency_ms > 0:
            time.sleep(faults.latency_ms / 1000)
        if active and faults.hit(faults.fail_rate):
            status = faults.pick((500, 502, 503))
            message = {500: "Internal server error", 502: "Bad gateway", 503: "Service unavailable"}[status]
            self._log(LoggedRequest(method, path, status, None, fault="fail", query=query))
            return _json_outcome(status, {"message": message, "statusCode": status})
        if active and faults.hit(faults.throttle_rate):
            extra = []
            if faults.retry_after is not None:
                extra.append(("Retry-After", f"{faults.retry_after:g}"))
            self._log(LoggedRequest(method, path, 429, None, fault="throttle", query=query))
            body429 = {"message": "Rate limit exceeded", "error": "Too Many Requests", "statusCode": 429}
            return _json_outcome(429, body429, extra)
        if active and faults.echo_writes and method in ("POST", "PATCH", "PUT"):
            self._log(LoggedRequest(method, path, 400, None, fault="echo", query=query))
            return _json_outcome(400, {"message": echo_messages(body), "error": "Bad Request", "statusCode": 400})

        org_name: str | None = None
        try:
            with self._lock:
                org = self._authenticate(headers, org_override)
                org_name = org.name
                status, payload = self._dispatch(org, method, path, query=query, headers=headers, raw=body)
                # Encoded under the lock: an answer may be the stored object itself (no copy), which
                # a later write replaces but must not be seen half-way through.
                if isinstance(payload, RawBody):
                    headers_out = [("Content-Type", payload.content_type), ("Content-Length", str(len(payload.data)))]
                    outcome = Outcome(status, payload.data, headers_out)
                else:
                    outcome = _json_outcome(status, payload)
        except HttpError as error:
            outcome = _json_outcome(error.status, error.body, list(error.headers.items()))
        dropped = active and faults.hit(faults.drop_rate)
        self._log(LoggedRequest(method, path, outcome.status, org_name, dropped, "drop" if dropped else None, query))
        if dropped:
            outcome.action = "drop"
        return outcome

    def _log(self, entry: LoggedRequest) -> None:
        self.request_log.append(entry)  # list.append is atomic under the GIL

    def _authenticate(self, headers: Mapping[str, str], org_override: str | None) -> Org:
        if org_override is not None:
            return self._storage.add_org(org_override, None)
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise nest_error(401, "Missing bearer token: send 'Authorization: Bearer <your org's private API key>'")
        org = self._storage.org_for_token(token.strip())
        if org is None:
            raise nest_error(401, "Invalid API key: use the private API key of the org you want to reach")
        return org

    # --- routing -----------------------------------------------------------------------------------

    def _dispatch(
        self, org: Org, method: str, path: str, *, query: str, headers: Mapping[str, str], raw: bytes
    ) -> tuple[int, Any]:
        parts = path.strip("/").split("/") if path != "/" else []
        cannot = nest_error(404, f"Cannot {method} {path}")
        if parts[:2] == ["v2", "knowledge-base"] and len(parts) >= 4 and parts[3] == "file":
            return self._kb_files(org, method, parts[2], parts[4:], raw=raw, cannot=cannot)
        if parts[:1] == ["file"] and len(parts) == 3 and parts[2] == "content" and method == "GET":
            return 200, self._file_content(org, parts[1])
        if parts[:1] == ["file"] and len(parts) == 2 and method == "GET":
            return 200, self._file(org, parts[1], poll=True)
        if parts[:2] == ["v2", "knowledge-base"] and len(parts) == 3 and method == "GET":
            return 200, self._kb_with_files(org, parts[2])
        if parts[:2] == ["eval", "run"]:
            base, rest = "/eval/run", parts[2:]
        elif parts[:1] == ["v2"]:
            base, rest = "/" + "/".join(parts[:2]), parts[2:]
        else:
            base, rest = "/" + "/".join(parts[:1]), parts[1:]
        collection = self._collections.get(base)
        if collection is None or len(rest) > 1 or (collection.list_only and (rest or method != "GET")):
            raise cannot
        if not rest:
            if method == "GET":
                if collection.name == "file":
                    for record in list(org.collection("file").values()):
                        self._file(org, record.obj["id"], poll=False)
                return 200, self._list(org, collection, query)
            if method == "POST":
                if collection.name == "file":
                    return 201, self._create_file(org, headers, raw)
                return 201, self._create(org, collection, _json_body(raw))
            raise cannot
        resource_id = rest[0]
        if method == "GET" and collection.name == "eval-run":
            self._advance_run(org, resource_id)
        if method == "GET":
            return 200, self._get(org, collection, resource_id).obj
        if method == "PATCH" and collection.name not in ("eval-run", "chat"):
            return 200, self._patch(org, collection, resource_id, _json_body(raw), query=query)
        if method == "DELETE":
            return 200, self._delete(org, collection, resource_id)
        raise cannot

    # --- generic handlers --------------------------------------------------------------------------

    def _get(self, org: Org, collection: Collection, resource_id: str) -> Record:
        record = org.collection(collection.name).get(resource_id)
        if record is None:
            raise not_found(collection.label)  # foreign ids look exactly like missing ones (as on Vapi)
        return record

    def _exists(self, org: Org, kind_name: str, resource_id: str) -> bool:
        return resource_id in org.collection(self._collections[KINDS[kind_name].path].name)

    def _list(self, org: Org, collection: Collection, query: str) -> Any:
        params = dict(parse_qsl(query, keep_blank_values=True))
        allowed = {"limit", *_TIME_PARAMS, *collection.filters}
        if collection.list_shape == "paginated":
            allowed |= {"page", "sortOrder", "sortBy"}
        if collection.search:
            allowed.add("search")
        errors = [f"property {key} should not exist" for key in params if key not in allowed]
        limit = _int_param(params, "limit", DEFAULT_LIMIT, low=0, high=MAX_LIMIT, errors=errors)
        page = _int_param(params, "page", 1, low=1, high=None, errors=errors)
        bounds: list[tuple[str, str, int]] = []
        for key in _TIME_PARAMS:
            if key in params:
                try:
                    bounds.append((key[:9], key[9:], parse_iso_ms(params[key])))
                except ValueError:
                    errors.append(f"{key} must be a valid ISO 8601 date string")
        order = params.get("sortOrder", "DESC")
        if order not in ("ASC", "DESC"):
            errors.append("sortOrder must be one of the following values: ASC, DESC")
        sort_by = params.get("sortBy", "createdAt")
        if sort_by not in collection.sort_by:
            errors.append(f"sortBy must be one of the following values: {', '.join(collection.sort_by)}")
        search = params.get("search")
        if search is not None and len(search) > SEARCH_MAX:
            errors.append(f"search must be shorter than or equal to {SEARCH_MAX} characters")
        if errors:
            raise bad_request(errors)
        needle = search.lower() if search else None
        filters = {k: v for k, v in params.items() if k in collection.filters}
        any_ids = set(filters.pop("idAny").split(",")) if "idAny" in filters else None

        def matches(record: Record) -> bool:
            for field, op, bound in bounds:
                value = record.created_ms if field == "createdAt" else record.updated_ms
                if not _compare(value, op, bound):
                    return False
            if any_ids is not None and record.obj["id"] not in any_ids:
                return False
            if needle is not None and not any(_contains(record.obj.get(f), needle) for f in collection.search):
                return False
            return all(str(record.obj.get(k)) == v for k, v in filters.items())

        records: Iterable[Record] = org.collection(collection.name).values()
        # `duration` and `cost` (v2 phone numbers) are call columns a phone number does not carry:
        # those sorts keep createdAt order (INFERRED; the spec does not say).
        if sort_by == "updatedAt":
            records = sorted(records, key=lambda r: r.updated_ms, reverse=order == "DESC")
        elif order == "DESC":
            records = reversed(list(records))  # insertion order is createdAt order
        found = (r for r in records if matches(r))
        if collection.list_shape == "array":
            out: list[dict[str, Any]] = []
            for record in found:  # stop at `limit`: listing never costs more than it returns
                if len(out) >= limit:
                    break
                out.append(copy.deepcopy(record.obj))
            return out
        every = list(found)
        start = (page - 1) * limit
        window = [copy.deepcopy(r.obj) for r in every[start : start + limit]]
        total_pages = math.ceil(len(every) / limit) if limit else 0
        return {
            "results": window,
            "metadata": {
                "itemsPerPage": limit,
                "totalItems": len(every),
                "currentPage": page,
                "totalPages": total_pages,
                "hasNextPage": page < total_pages,
                "sortOrder": order,
            },
        }

    def _create(self, org: Org, collection: Collection, body: dict[str, Any]) -> Any:
        if collection.name == "eval-run":
            return self._run_eval(org, body)
        if collection.name == "chat":
            return self._chat(org, body)
        kind = collection.kind
        assert kind is not None  # every other collection is a table kind (files are routed before)
        if kind.name == "Tool" and body.get("type") in GENERATED_TOOL_TYPES:
            raise bad_request(
                [
                    "type knowledgeBase tools cannot be created: create a knowledge base "
                    "(POST /v2/knowledge-base) and use the search tool generated for it"
                ]
            )
        if kind.name == "PhoneNumber":
            _check_phone_create(body)
        errors = validate(kind, body, "create")
        if not errors:
            errors = reference_messages(kind, body, lambda k, i: self._exists(org, k, i))
        if errors:
            raise bad_request(errors)
        return self._insert(org, collection, body)  # answered as stored; encoded under the lock (handle)

    def _insert(
        self, org: Org, collection: Collection, body: dict[str, Any], *, resource_id: str | None = None
    ) -> dict[str, Any]:
        now = org.tick()
        stamp = format_ms(now)
        obj = {"id": resource_id or str(uuid.uuid4()), "orgId": org.id, **body, "createdAt": stamp, "updatedAt": stamp}
        if collection.kind is not None:
            apply_defaults(collection.kind.name, obj)
        self._storage.put(org, collection.name, Record(obj, now, now))
        if collection.kind is not None and collection.kind.name == "KnowledgeBase":
            self._insert(org, self._collections["/tool"], _kb_tool(obj))
        return obj

    def _patch(
        self, org: Org, collection: Collection, resource_id: str, body: dict[str, Any], *, query: str = ""
    ) -> Any:
        record = self._get(org, collection, resource_id)
        kind = collection.kind
        if kind is not None and kind.name == "StructuredOutput":
            _check_schema_override(record.obj, body, query)
        if kind is None:  # files: only the name can change (UpdateFileDTO)
            errors = [f"property {key} should not exist" for key in body if key != "name"]
        else:
            if record.obj.get("type") in GENERATED_TOOL_TYPES:
                raise bad_request(["knowledgeBase tools are managed by their knowledge base: patch the base instead"])
            stored_type = record.obj.get("type") if kind.name == "Tool" else None
            errors = validate(kind, body, "update", stored_type=stored_type)
            if not errors:
                present = {k: v for k, v in body.items() if v is not None}
                errors = reference_messages(kind, present, lambda k, i: self._exists(org, k, i))
        if errors:
            raise bad_request(errors)
        obj = copy.deepcopy(record.obj)
        for key, value in body.items():  # top level only: a sent object or array replaces the subtree
            if value is None:
                obj.pop(key, None)  # null unsets
            else:
                obj[key] = value
        now = org.tick()
        obj["updatedAt"] = format_ms(now)
        self._storage.put(org, collection.name, Record(obj, record.created_ms, now))
        if kind is not None and kind.name == "KnowledgeBase" and "name" in body:
            self._rename_kb_tool(org, obj)
        return obj

    def _delete(self, org: Org, collection: Collection, resource_id: str) -> Any:
        record = self._get(org, collection, resource_id)
        kind_name = collection.kind.name if collection.kind else collection.label
        tools = org.collection("tool")
        if kind_name == "Tool" and record.obj.get("type") in GENERATED_TOOL_TYPES:
            raise bad_request(["knowledgeBase tools are deleted with their knowledge base: delete the base instead"])
        kb_tool_ids = [t.obj["id"] for t in tools.values() if t.obj.get("knowledgeBaseId") == resource_id]
        if kind_name == "Tool":
            self._refuse_pinned("Tool", self._assistants_using(org, {resource_id}))
        elif kind_name == "KnowledgeBase":
            self._refuse_pinned("KnowledgeBase", self._assistants_using(org, set(kb_tool_ids)))
        elif kind_name == "Assistant":
            squads = [
                s.obj["id"]
                for s in org.collection("squad").values()
                if any(isinstance(m, dict) and m.get("assistantId") == resource_id for m in s.obj.get("members") or [])
            ]
            self._refuse_pinned("Assistant", [("squad", sid) for sid in squads])
        self._storage.delete(org, collection.name, resource_id)
        if kind_name == "KnowledgeBase":  # Vapi: "Deleting the base also deletes its generated tool"
            for tool_id in kb_tool_ids:
                self._storage.delete(org, "tool", tool_id)
            self._detach_all(org, lambda a: a.obj["knowledgeBaseV2Id"] == resource_id)
        if collection.name == "file":
            self._detach_all(org, lambda a: a.obj["fileId"] == resource_id)
            self._storage.delete(org, "file-content", resource_id)
            self._pending.pop(resource_id, None)
        return record.obj

    def _assistants_using(self, org: Org, tool_ids: set[str]) -> list[tuple[str, str]]:
        users = []
        for assistant in org.collection("assistant").values():
            model = assistant.obj.get("model") or {}
            used = set(model.get("toolIds") or []) | {
                r.get("toolId") for r in model.get("toolRefs") or [] if isinstance(r, dict)
            }
            if used & tool_ids:
                users.append(("assistant_version", assistant.obj["id"]))
        return users

    @staticmethod
    def _refuse_pinned(label: str, pinned_by: list[tuple[str, str]]) -> None:
        # Vapi answers 409 VersionPinConflictResponseDTO when a squad or assistant version pins the
        # resource.  Versions are not public API, so every live reference counts as a pin here (our
        # documented approximation): the deployer must remove references before deleting.
        if pinned_by:
            raise HttpError(
                409,
                {
                    "error": "version_pinned",
                    "message": f"{label} is still referenced by {len(pinned_by)} resource(s); "
                    "remove those references (or delete them) first",
                    "pinnedBy": [{"sourceType": t, "sourceId": i} for t, i in pinned_by],
                },
            )

    # --- knowledge bases and files -----------------------------------------------------------------

    def _rename_kb_tool(self, org: Org, kb: dict[str, Any]) -> None:
        for record in list(org.collection("tool").values()):
            if record.obj.get("knowledgeBaseId") == kb["id"]:
                obj = {**record.obj, **_kb_tool(kb)}
                now = org.tick()
                obj["updatedAt"] = format_ms(now)
                self._storage.put(org, "tool", Record(obj, record.created_ms, now))

    def _detach_all(self, org: Org, which: Callable[[Record], bool]) -> None:
        for attachment in [a for a in org.collection("kb-file").values() if which(a)]:
            self._storage.delete(org, "kb-file", attachment.obj["id"])

    def _kb_files(
        self, org: Org, method: str, kb_id: str, rest: list[str], *, raw: bytes, cannot: HttpError
    ) -> tuple[int, Any]:
        self._get(org, self._collections["/v2/knowledge-base"], kb_id)
        if not rest and method == "GET":
            return 200, self._attachments(org, kb_id, poll=True)
        attachments = org.collection("kb-file").values()
        attached = {a.obj["fileId"]: a for a in attachments if a.obj["knowledgeBaseV2Id"] == kb_id}
        if not rest and method == "POST":
            body = _json_body(raw)
            errors = [f"property {k} should not exist" for k in body if k != "fileId"]
            file_id = body.get("fileId")
            if not isinstance(file_id, str):
                errors.append("fileId must be a string")
            if errors:
                raise bad_request(errors)
            assert isinstance(file_id, str)
            file = org.collection("file").get(file_id)
            if file is None:
                raise bad_request([f"fileId File {file_id!r} not found"])
            if file_id in attached:
                return 201, copy.deepcopy(attached[file_id].obj)
            now = org.tick()
            stamp = format_ms(now)
            attachment_id = str(uuid.uuid4())
            obj = {
                "id": attachment_id,
                "knowledgeBaseV2Id": kb_id,
                "fileId": file_id,
                "fileName": file.obj.get("name"),
                "mimetype": file.obj.get("mimetype"),
                "bytes": file.obj.get("bytes"),
                "status": "indexing",
                "createdAt": stamp,
                "updatedAt": stamp,
            }
            fail = file.obj.get("name") in self.processing.fail_names
            self._pending[attachment_id] = self._new_pending(fail)
            self._storage.put(org, "kb-file", Record(obj, now, now))
            return 201, self._attachment(org, attachment_id, poll=False)
        if len(rest) in (1, 2) and (method, rest[1:]) in (("DELETE", []), ("POST", ["retry"])):
            attachment = attached.get(rest[0])
            if attachment is None:
                raise not_found("Knowledge base file")
            if method == "DELETE":
                self._storage.delete(org, "kb-file", attachment.obj["id"])
                self._pending.pop(attachment.obj["id"], None)
                return 200, attachment.obj
            if attachment.obj.get("status") == "failed":  # index it again
                self._pending[attachment.obj["id"]] = self._new_pending(False)
                self._set_status(org, "kb-file", attachment, "indexing")
            return 201, self._attachment(org, attachment.obj["id"], poll=False)
        raise cannot

    def _kb_with_files(self, org: Org, kb_id: str) -> dict[str, Any]:
        """GET /v2/knowledge-base/{id}: KnowledgeBaseV2WithFiles (the base, its files, its tool's id)."""
        kb = copy.deepcopy(self._get(org, self._collections["/v2/knowledge-base"], kb_id).obj)
        tools = org.collection("tool").values()
        tool = next((t.obj["id"] for t in tools if t.obj.get("knowledgeBaseId") == kb_id), None)
        return {**kb, "files": self._attachments(org, kb_id, poll=False), "toolId": tool}

    # --- processing: uploads (processing → done) and attachments (indexing → ready) -------------------

    def _new_pending(self, fail: bool) -> _Pending:
        return _Pending(self.processing.polls, time.monotonic() + self.processing.delay_ms / 1000, fail)

    def _advance(self, item_id: str, poll: bool) -> str | None:
        """``None`` while still pending, else ``"done"``/``"failed"`` (and forgets it); a poll counts one."""
        pending = self._pending.get(item_id)
        if pending is None:
            return "done"
        if poll and pending.polls > 0:
            pending.polls -= 1
        if pending.polls > 0 or time.monotonic() < pending.ready_at:
            return None
        del self._pending[item_id]
        return "failed" if pending.fail else "done"

    def _set_status(self, org: Org, collection: str, record: Record, status: str) -> Record:
        now = org.tick()
        obj = {**record.obj, "status": status, "updatedAt": format_ms(now)}
        updated = Record(obj, record.created_ms, now)
        self._storage.put(org, collection, updated)
        return updated

    def _file(self, org: Org, file_id: str, *, poll: bool) -> dict[str, Any]:
        record = self._get(org, self._collections["/file"], file_id)
        if record.obj.get("status") == "processing" and self._advance(file_id, poll) is not None:
            record = self._set_status(org, "file", record, "done")
        return copy.deepcopy(record.obj)

    def _attachment(self, org: Org, attachment_id: str, *, poll: bool) -> dict[str, Any]:
        record = org.collection("kb-file")[attachment_id]
        if record.obj.get("status") == "indexing":
            file = org.collection("file").get(record.obj["fileId"])
            file_done = file is None or self._file(org, file.obj["id"], poll=False).get("status") == "done"
            if file_done:
                outcome = self._advance(attachment_id, poll)
                if outcome is not None:
                    record = self._set_status(org, "kb-file", record, "ready" if outcome == "done" else "failed")
        return copy.deepcopy(record.obj)

    def _attachments(self, org: Org, kb_id: str, *, poll: bool) -> list[dict[str, Any]]:
        ids = [a.obj["id"] for a in org.collection("kb-file").values() if a.obj["knowledgeBaseV2Id"] == kb_id]
        return [self._attachment(org, i, poll=poll) for i in ids]

    def _file_content(self, org: Org, file_id: str) -> RawBody:
        """GET /file/{id}/content (the emulator's stand-in for a File's storage ``url``)."""
        file = self._get(org, self._collections["/file"], file_id)
        stored = org.collection("file-content").get(file_id)
        if stored is None:
            raise not_found("File content")
        data = base64.b64decode(stored.obj["data"])
        return RawBody(data, str(file.obj.get("mimetype") or "application/octet-stream"))

    def _create_file(self, org: Org, headers: Mapping[str, str], raw: bytes) -> Any:
        fields = _multipart(headers.get("content-type", ""), raw)
        upload = fields.get("file")
        errors = [f"property {k} should not exist" for k in fields if k not in ("file", "purpose", "metadata")]
        if upload is None or upload[1] is None:
            errors.append("file must be uploaded as multipart/form-data field 'file'")
        purpose = fields["purpose"][2].decode() if "purpose" in fields else None
        if purpose is not None and purpose not in ("assistant", "composer-attachment", "knowledge-base-v2"):
            errors.append(
                "purpose must be one of the following values: assistant, composer-attachment, knowledge-base-v2"
            )
        if "metadata" in fields and len(fields["metadata"][2].decode("utf-8", "replace")) > 4096:
            errors.append("metadata must be shorter than or equal to 4096 characters")  # CreateFileDTO
        if errors:
            raise bad_request(errors)
        assert upload is not None
        content_type, filename, data = upload
        processing = self.processing.polls > 0 or self.processing.delay_ms > 0
        body: dict[str, Any] = {
            "object": "file",
            "status": "processing" if processing else "done",
            "name": filename,
            "originalName": filename,
            "bytes": len(data),
            "mimetype": content_type or "application/octet-stream",
        }
        if purpose is not None:
            body["purpose"] = purpose
        if "metadata" in fields:
            try:
                body["metadata"] = json.loads(fields["metadata"][2])
            except ValueError:
                raise bad_request(["metadata must be a JSON string"]) from None
        file_id = str(uuid.uuid4())
        # Vapi's `url` is its storage's; the emulator serves the bytes itself (GET /file/{id}/content).
        body["url"] = f"/file/{file_id}/content"
        created = self._insert(org, self._collections["/file"], body, resource_id=file_id)
        now = org.tick()
        stamp = format_ms(now)  # stored like a resource (the disk loader reads its timestamps)
        encoded = base64.b64encode(data).decode("ascii")
        content = {"id": file_id, "data": encoded, "createdAt": stamp, "updatedAt": stamp}
        self._storage.put(org, "file-content", Record(content, now, now))
        if processing:
            self._pending[file_id] = self._new_pending(False)
        return copy.deepcopy(created)

    # --- runners -----------------------------------------------------------------------------------

    def _target_assistant(self, org: Org, assistant_id: Any, squad_id: Any, inline: Any, field: str) -> dict[str, Any]:
        """The assistant that answers: an inline one, a saved one, or a squad's first member."""
        if isinstance(inline, dict):
            return inline
        if squad_id is not None:
            squad = org.collection("squad").get(str(squad_id))
            if squad is None:
                raise bad_request([f"{field}squadId Squad {squad_id!r} not found"])
            return self._first_member(org, squad.obj, field)
        record = org.collection("assistant").get(str(assistant_id))
        if record is None:
            raise bad_request([f"{field}assistantId Assistant {assistant_id!r} not found"])
        return record.obj

    def _first_member(self, org: Org, squad: dict[str, Any], field: str) -> dict[str, Any]:
        """A squad (saved or inline) answers with its first member, inline or by id."""
        member = (squad.get("members") or [{}])[0]
        if isinstance(member.get("assistant"), dict):
            return dict(member["assistant"])
        return self._target_assistant(org, member.get("assistantId"), None, None, f"{field}members.0.")

    def _inline_messages(self, org: Org, kind_name: str, body: Any, field: str) -> list[str]:
        """400 messages for an inline (transient) resource: the same schemas and references as a create."""
        if not isinstance(body, dict):
            return [f"{field} must be an object"]
        kind = KINDS[kind_name]
        messages = validate(kind, body, "create")
        if not messages:
            messages = reference_messages(kind, body, lambda k, i: self._exists(org, k, i))
        return [f"{field}.{m}" for m in messages]

    def _tool_lookup(self, org: Org) -> Callable[[str], dict[str, Any] | None]:
        tools = org.collection("tool")
        return lambda tool_id: tools[tool_id].obj if tool_id in tools else None

    def _chat(self, org: Org, body: dict[str, Any]) -> Any:
        allowed = {"assistantId", "assistant", "squadId", "squad", "input", "previousChatId", "sessionId", "name"}
        allowed |= {"assistantOverrides", "stream"}
        errors = [f"property {k} should not exist" for k in body if k not in allowed]
        if body.get("stream"):
            errors.append("stream is not supported by the emulator: send stream false or leave it out")
        text_input = body.get("input")
        if not isinstance(text_input, (str, list)):
            errors.append("input must be a string or an array of messages")
        previous = None
        if body.get("previousChatId") is not None:
            previous = org.collection("chat").get(str(body["previousChatId"]))
            if previous is None:
                errors.append(f"previousChatId Chat {body['previousChatId']!r} not found")
        targets = [k for k in ("assistant", "assistantId", "squad", "squadId") if body.get(k) is not None]
        if len(targets) > 1 or (not targets and previous is None):
            errors.append("chat needs exactly one of assistant, assistantId, squad, or squadId.")
        if errors:
            raise bad_request(errors)
        source = body if targets else (previous.obj if previous else {})
        squad = source.get("squad")
        if isinstance(squad, dict):
            assistant = self._first_member(org, squad, "squad.")
        else:
            assistant = self._target_assistant(
                org, source.get("assistantId"), source.get("squadId"), source.get("assistant"), ""
            )
        history: list[dict[str, Any]] = []
        if previous is not None:
            history = copy.deepcopy((previous.obj.get("messages") or []) + (previous.obj.get("output") or []))
        new = [{"role": "user", "content": text_input}] if isinstance(text_input, str) else list(text_input or [])
        history += new
        user_text = _last_user_text(new)
        turns = sum(1 for m in history if isinstance(m, dict) and m.get("role") == "assistant")
        names = responder.tool_names(assistant, self._tool_lookup(org))
        output = [responder.reply(assistant, names, user_text, turns)]
        chat = {k: source[k] for k in ("assistantId", "squadId") if source.get(k) is not None}
        if previous is not None:
            chat["previousChatId"] = previous.obj["id"]
        if body.get("name") is not None:
            chat["name"] = body["name"]
        chat.update({"input": text_input, "messages": history, "output": output, "cost": 0, "costs": []})
        return copy.deepcopy(self._insert(org, self._collections["/chat"], chat))

    def _run_eval(self, org: Org, body: dict[str, Any]) -> Any:
        errors = [f"property {k} should not exist" for k in body if k not in ("type", "evalId", "eval", "target")]
        if body.get("type") != "eval":
            errors.append("type must be one of the following values: eval")
        target = body.get("target")
        if not isinstance(target, dict) or target.get("type") not in ("assistant", "squad"):
            errors.append("target must be {type: assistant, assistantId} or {type: squad, squadId}")
        the_eval = body.get("eval")
        if body.get("evalId") is not None:
            record = org.collection("eval").get(str(body["evalId"]))
            if record is None:
                errors.append(f"evalId Eval {body['evalId']!r} not found")
            else:
                the_eval = record.obj
        if not isinstance(the_eval, dict) or not isinstance(the_eval.get("messages"), list):
            errors.append("eval or evalId must be given (an eval with messages)")
        elif body.get("evalId") is None:
            errors += self._inline_messages(org, "Eval", the_eval, "eval")  # a transient eval: CreateEvalDTO
        if isinstance(target, dict):
            for key, kind_name in (("assistant", "Assistant"), ("squad", "Squad")):
                if target.get(key) is not None:  # a transient target: CreateAssistantDTO / CreateSquadDTO
                    errors += self._inline_messages(org, kind_name, target[key], f"target.{key}")
        if errors:
            raise bad_request(errors)
        assert isinstance(target, dict) and isinstance(the_eval, dict)
        if target["type"] == "squad" and isinstance(target.get("squad"), dict):
            assistant = self._first_member(org, target["squad"], "target.squad.")
        elif target["type"] == "squad":
            assistant = self._target_assistant(org, None, target.get("squadId"), None, "target.")
        else:
            assistant = self._target_assistant(org, target.get("assistantId"), None, target.get("assistant"), "target.")
        names = responder.tool_names(assistant, self._tool_lookup(org))
        started = format_ms(org.last_ms + 1)
        transcript: list[dict[str, Any]] = []
        user_text = ""
        tool_result: str | None = None  # a mocked tool answer the next reply relays
        turns = 0
        failed = False
        for message in the_eval["messages"]:
            if not isinstance(message, dict):
                continue
            role = message.get("role")
            if role == "assistant" and isinstance(message.get("judgePlan"), dict):
                if tool_result is not None:
                    answer = responder.relay(tool_result)
                else:
                    answer = responder.reply(assistant, names, user_text, turns)
                reason = responder.judge(message["judgePlan"], answer)
                failed = failed or reason is not None
                answer["judge"] = {"status": "fail" if reason else "pass"}
                if reason:
                    answer["judge"]["failureReason"] = reason
                transcript.append(answer)
                turns += 1
                tool_result = None
                override = (message.get("continuePlan") or {}) if isinstance(message.get("continuePlan"), dict) else {}
                if reason and override.get("exitOnFailureEnabled"):
                    break  # AssistantMessageEvaluationContinuePlan: stop at the first failure
                continue
            if role == "user":
                user_text = str(message.get("content") or "")
                tool_result = None
            elif role == "tool":
                tool_result = str(message.get("content") or "")
            elif role == "assistant":
                turns += 1  # a mocked assistant turn: the assistant has spoken
                tool_result = None
            transcript.append(copy.deepcopy(message))
        run: dict[str, Any] = {
            "type": "eval",
            "status": "ended",
            "endedReason": "mockConversation.done",
            "target": target,
            "results": [{"status": "fail" if failed else "pass", "messages": transcript}],
            "cost": 0,
            "costs": [],
        }
        if body.get("evalId") is not None:
            run["evalId"] = body["evalId"]
        else:
            run["eval"] = the_eval
        obj = self._insert(org, self._collections["/eval/run"], run)
        obj["startedAt"] = obj["results"][0]["startedAt"] = started
        obj["endedAt"] = obj["results"][0]["endedAt"] = obj["createdAt"]
        record = org.collection("eval-run")[obj["id"]]
        if self.eval_run_polls > 0:
            # Queued now; GET /eval/run/{id} reveals the (already judged) run after that many polls.
            self._pending_runs[(org.name, obj["id"])] = [self.eval_run_polls, copy.deepcopy(obj)]
            obj = {k: v for k, v in obj.items() if k not in ("endedReason", "endedAt", "results")}
            obj.update(status="queued", results=[])
        self._storage.put(org, "eval-run", Record(obj, record.created_ms, record.updated_ms))
        return copy.deepcopy(obj)

    def _advance_run(self, org: Org, run_id: str) -> None:
        """One GET of a pending eval run: ``running`` until its polls are used up, then the ended run."""
        pending = self._pending_runs.get((org.name, run_id))
        record = org.collection("eval-run").get(run_id)
        if pending is None or record is None:
            return
        pending[0] -= 1
        obj = pending[1] if pending[0] < 0 else {**record.obj, "status": "running"}
        if pending[0] < 0:
            del self._pending_runs[(org.name, run_id)]
        self._storage.put(org, "eval-run", Record(obj, record.created_ms, record.updated_ms))


# --- helpers ---------------------------------------------------------------------------------------


def _kb_tool(kb: dict[str, Any]) -> dict[str, Any]:
    # KnowledgeBaseTool requires `function`; its name is derived from the base's name.
    slug = re.sub(r"[^a-zA-Z0-9_-]+", "_", str(kb.get("name") or "knowledge_base")).strip("_")[:50] or "kb"
    return {
        "type": "knowledgeBase",
        "knowledgeBaseId": kb["id"],
        "function": {"name": f"search_{slug}", "description": f"Search the knowledge base {kb.get('name')!s}"},
    }


def _contains(value: Any, needle: str) -> bool:
    return isinstance(value, str) and needle in value.lower()


def _check_phone_create(body: dict[str, Any]) -> None:
    errors = []
    if body.get("provider") != "byo-phone-number":
        errors.append(
            "provider must be byo-phone-number: numbers cannot be bought from the emulator, "
            "bring your own (POST /phone-number {provider: byo-phone-number, number, credentialId})"
        )
    if not isinstance(body.get("number"), str) or not body["number"]:
        errors.append("number must be a string")
    if not isinstance(body.get("credentialId"), str):
        errors.append("credentialId must be a string")
    if errors:
        raise bad_request(errors)


def _check_schema_override(stored: dict[str, Any], body: dict[str, Any], query: str) -> None:
    # PATCH /structured-output/{id}?schemaOverride=true: "Set to the string `true` to allow changing
    # the schema's top-level type" (vapi-server-sdk 3.0.0 structured_output_controller_update).
    old, new = (stored.get("schema") or {}).get("type"), (body.get("schema") or {}).get("type")
    override = dict(parse_qsl(query)).get("schemaOverride") == "true"
    if isinstance(body.get("schema"), dict) and old != new and not override:
        raise bad_request(
            [f"schema type cannot change from {old!r} to {new!r} unless the query has schemaOverride=true"]
        )


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses as inf
        raise ValueError(f"the number {text} is out of range")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (use null or a number)")


def _json_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        # Strict JSON, as Vapi's body parser: NaN, Infinity and overflowing numbers are refused.
        data = json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
    except ValueError as exc:
        raise nest_error(400, f"Invalid JSON body: {exc}") from None
    if not isinstance(data, dict):
        raise bad_request(["the request body must be a JSON object"])
    return data


def _int_param(
    params: Mapping[str, str], key: str, default: int, *, low: int, high: int | None, errors: list[str]
) -> int:
    if key not in params:
        return default
    try:
        value = float(params[key])
        if not value.is_integer():
            raise ValueError(key)
    except ValueError:
        errors.append(f"{key} must be a number conforming to the specified constraints")
        return default
    if value < low:
        errors.append(f"{key} must not be less than {low}")
    if high is not None and value > high:
        errors.append(f"{key} must not be greater than {high}")
    return int(value)


def _compare(value: int, op: str, bound: int) -> bool:
    if op == "Gt":
        return value > bound
    if op == "Lt":
        return value < bound
    if op == "Ge":
        return value >= bound
    return value <= bound


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return str(message.get("content") or "")
    return ""


def _multipart(content_type: str, raw: bytes) -> dict[str, tuple[str | None, str | None, bytes]]:
    """Parse multipart/form-data: field → (content type, filename, bytes)."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise bad_request(["POST /file takes multipart/form-data with a 'file' field"])
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
    )
    fields: dict[str, tuple[str | None, str | None, bytes]] = {}
    for part in _iter_parts(message):
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        ctype = part.get_content_type() if part.get("content-type") else None
        fields[name] = (ctype, part.get_filename(), data)
    return fields


def _iter_parts(message: Any) -> Iterator[Any]:
    if message.is_multipart():
        yield from message.get_payload()


def _json_outcome(status: int, payload: Any, extra: list[tuple[str, str]] | None = None) -> Outcome:
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    headers = [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(data)))]
    return Outcome(status, data, headers + (extra or []))


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
