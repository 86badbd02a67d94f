"""Vapi's rules as the emulator enforces them: error bodies, body validation, server defaults.

Server defaults added on create (as Vapi does; they appear in every later GET, so the deployer's
canonical form has to cope with fields it never sent):

- Assistant: ``firstMessageMode: "assistant-speaks-first"``, ``transcriber: {provider: deepgram,
  model: nova-3, language: en}`` (each only when absent), ``isServerUrlSecretSet: false``,
  ``latestVersion: null``.
- Tool: ``latestVersion: null``.
- PhoneNumber: ``status: "active"``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any, Literal

from ci_deployer.paths import format_path
from ci_deployer.platform.kinds import CREDENTIAL, KINDS, Kind
from ci_deployer.platform.reftable import ref_sites

SERVER_DEFAULTS: dict[str, dict[str, Any]] = {
    "Assistant": {
        "firstMessageMode": "assistant-speaks-first",
        "transcriber": {"provider": "deepgram", "model": "nova-3", "language": "en"},
        "isServerUrlSecretSet": False,
        "latestVersion": None,
    },
    "Tool": {"latestVersion": None},
    "PhoneNumber": {"status": "active"},
}

# Fields no request body may carry: the server owns them (NestJS whitelist → "should not exist").
READ_ONLY = ("id", "orgId", "createdAt", "updatedAt", "latestVersion", "isServerUrlSecretSet", "status")

_QUOTED_PROPERTY = re.compile(r"^property '(.+)' should not exist$")

_REASONS = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict"}


class HttpError(Exception):
    """An error answer: status and the JSON body to send."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status}: {body.get('message')}")
        self.status = status
        self.body = body
        self.headers = headers or {}


def nest_error(status: int, message: str | list[str]) -> HttpError:
    """The NestJS/class-validator body Vapi answers with: ``{message, error, statusCode}``."""
    return HttpError(status, {"message": message, "error": _REASONS.get(status, "Error"), "statusCode": status})


def bad_request(messages: Iterable[str]) -> HttpError:
    return nest_error(400, list(dict.fromkeys(messages)))


def not_found(label: str) -> HttpError:
    return nest_error(404, f"{label} not found")


def apply_defaults(kind_name: str, obj: dict[str, Any]) -> None:
    for key, value in SERVER_DEFAULTS.get(kind_name, {}).items():
        obj.setdefault(key, copy.deepcopy(value))


def _schema_messages(kind_name: str, body: dict[str, Any], mode: Literal["create", "update"]) -> list[str]:
    """Messages from the shared schemas (``ci_deployer.validate.schemas``), Vapi-worded."""
    try:
        from ci_deployer.validate.schemas import validate_spec
    except ImportError:  # the schemas are optional for the emulator; its own checks still run
        return []
    messages = []
    for issue in validate_spec(kind_name, body, mode=mode):
        where = format_path(issue.path)
        # class-validator writes "property x should not exist", without quotes
        text = _QUOTED_PROPERTY.sub(r"property \1 should not exist", issue.message)
        messages.append(text if not where or text.startswith(("property ", where)) else f"{where} {text}")
    return messages


def validate(
    kind: Kind, body: dict[str, Any], mode: Literal["create", "update"], *, stored_type: str | None = None
) -> list[str]:
    """All the 400 messages for a create (``mode="create"``) or PATCH (``"update"``) body of ``kind``.

    ``stored_type``: the stored tool's ``type`` on a tool PATCH (the body cannot carry it), so the
    body is checked against that type's fields.
    """
    messages = [f"property {key} should not exist" for key in READ_ONLY if key in body]
    if mode == "update":
        # VapiAI/gitops UPDATE_EXCLUDED_KEYS: tools, structured outputs and evals reject `type` on PATCH.
        messages += [f"property {key} should not exist" for key in kind.patch_drop if key in body]
        # UpdateSquadDTO requires `members`: every squad PATCH carries the full list.
        messages += [f"{key} must be an array" for key in kind.patch_always if not isinstance(body.get(key), list)]
    name = body.get(kind.name_field) if kind.name_field else None
    if kind.name_max is not None and isinstance(name, str) and len(name) > kind.name_max:
        messages.append(f"{kind.name_field} must be shorter than or equal to {kind.name_max} characters")
    checked = {k: v for k, v in body.items() if k not in READ_ONLY and not (mode == "update" and k in kind.patch_drop)}
    if mode == "update":
        checked = {k: v for k, v in checked.items() if v is not None}  # null unsets (our PATCH contract)
    if kind.name == "PhoneNumber" and mode == "create":
        # The shared schema covers the routing fields only (numbers are bought outside); the BYO
        # provider fields are checked by the emulator itself.
        checked.pop("provider", None)
        checked.pop("credentialId", None)
    if stored_type is not None and mode == "update":
        checked["type"] = stored_type
    messages += _schema_messages(kind.name, checked, mode)
    return list(dict.fromkeys(messages))


def reference_messages(kind: Kind, body: dict[str, Any], exists: Any) -> list[str]:
    """400 messages for id fields holding ids that are not resources of this org.

    ``exists(kind_name, id) -> bool``.  Every id field Vapi's spec declares is checked, nested ones
    included (a squad member's ``assistantOverrides.model.toolIds``).  The id must belong to the
    first target kind: a knowledge base is referenced through its generated search tool, whose id
    is a Tool id.
    """
    messages = []
    for site in ref_sites(kind.name, body):
        target = site.kinds[0]
        if target == CREDENTIAL:  # credentials are not emulated; any id is accepted
            continue
        if site.value is None:
            continue
        if not isinstance(site.value, str) or not exists(target, site.value):
            messages.append(f"{format_path(site.path)} {target} {site.value!r} not found")
    return messages


def kind_named(name: str) -> Kind:
    return KINDS[name]
