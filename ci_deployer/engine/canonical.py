"""The canonical form resources are compared, hashed and stored in.

DESIGN §5: server-managed fields stripped, ids of managed resources mapped to ref tokens, keys
sorted, the assistant's ``metadata.ciDeployer`` labels removed, secrets never present.

- A *ref token* is the string ``"ref:Kind/slug"`` standing where the API holds an id
  (``"ref:Tool/jira"``; a knowledge base's generated search tool is ``"ref:KnowledgeBaseTool/docs"``,
  the base itself ``"ref:KnowledgeBase/docs"``;
  an env credential is ``"ref:Credential/twilio-main"``).  Ids of resources nobody manages stay
  as they are.
- Secrets: on the desired side a ``secrets://REF`` placeholder stays as written; a literal at a
  secret-ish key (validate rejects those) becomes a marker.  A literal header value is config text
  anyone with the repository can read, and stays.  On the live side a value at a placeholder's path
  becomes that placeholder again when it is the value sent (it equals the value resolved here, or
  its keyed HMAC equals the one recorded at the last apply), and when nothing here can tell
  otherwise; any other value at a secret path becomes a marker: ``"hmac:<16 hex>"`` when the env has
  an HMAC key (DESIGN §2: a secret the user provides, never stored beside the HMACs), else
  ``"secret:redacted"``.  Markers never reach a plan hash (:func:`hash_view`).
"""

from __future__ import annotations

import hashlib
import hmac as _hmac
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ci_deployer.paths import Path
from ci_deployer.platform.kinds import KINDS

REF_PREFIX = "ref:"
REF_TOKEN = re.compile(r"^ref:([A-Za-z]+)/([a-z0-9][a-z0-9-]*)$")
LABELS_KEY = "ciDeployer"
SECRET_MARK = "hmac:"  # noqa: S105 - the prefix of a keyed hash, not a password

# Keys whose values are credentials wherever they appear (lower-cased, exact): the live API may
# echo them back (server headers, provider keys), so they are never stored or shown.
SECRET_KEYS = frozenset(
    {
        "authorization",
        "apikey",
        "api_key",
        "x-api-key",
        "token",
        "accesstoken",
        "refreshtoken",
        "bearertoken",
        "secret",
        "clientsecret",
        "password",
        "privatekey",
        "serverurlsecret",
    }
)

# Links Vapi may store on both sides (DESIGN §2): the config sets one side; the other side is not
# compared unless the config sets it too.
MIRRORED_FIELDS: dict[str, tuple[Path, ...]] = {
    "Assistant": (("artifactPlan", "structuredOutputIds"),),
    "StructuredOutput": (("assistantIds",),),
}


def ref_token(kind: str, slug: str) -> str:
    """``("Tool", "jira")`` → ``"ref:Tool/jira"``."""
    return f"{REF_PREFIX}{kind}/{slug}"


def parse_ref_token(value: Any) -> tuple[str, str] | None:
    """``"ref:Tool/jira"`` → ``("Tool", "jira")``; anything else → ``None``."""
    if not isinstance(value, str) or not value.startswith(REF_PREFIX):
        return None
    match = REF_TOKEN.match(value)
    return (match.group(1), match.group(2)) if match else None


def iter_ref_tokens(data: Any, prefix: Path = ()) -> Iterator[tuple[Path, str, str]]:
    """Every ref token in ``data`` as ``(path, kind, slug)``, in document order."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from iter_ref_tokens(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from iter_ref_tokens(value, (*prefix, index))
    else:
        parsed = parse_ref_token(data)
        if parsed is not None:
            yield prefix, parsed[0], parsed[1]


def sort_keys(data: Any) -> Any:
    """A deep copy with every map's keys sorted (stable key order in files and hashes)."""
    if isinstance(data, dict):
        return {key: sort_keys(data[key]) for key in sorted(data)}
    if isinstance(data, list):
        return [sort_keys(item) for item in data]
    return data


def in_order_of(data: Any, like: Any) -> Any:
    """A deep copy of ``data`` whose maps list their keys in ``like``'s order (keys ``like`` lacks
    follow in ``data``'s own order).  Presentation only: ``data`` is unchanged as a value, and every
    hash and diff sorts keys, so a plan shows the document's own order without changing what it means."""
    if isinstance(data, dict):
        within = like if isinstance(like, dict) else {}
        keys = [key for key in within if key in data] + [key for key in data if key not in within]
        return {key: in_order_of(data[key], within.get(key)) for key in keys}
    if isinstance(data, list):
        items = like if isinstance(like, list) else []
        return [in_order_of(item, items[index] if index < len(items) else None) for index, item in enumerate(data)]
    return data


# made once: json.dumps with options makes an encoder per call (canonical forms are made per resource)
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(data: Any) -> str:
    """Compact JSON with sorted keys: the byte form every hash is taken over."""
    return _CANONICAL.encode(data)


def content_hash(data: Any) -> str:
    """``"sha256:<hex>"`` over :func:`canonical_json`."""
    return "sha256:" + hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def strip_server_fields(kind: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Drop the kind's server-managed fields and the ``metadata.ciDeployer`` labels (a copy)."""
    spec = KINDS[kind]
    out = {key: value for key, value in payload.items() if key not in spec.server_fields}
    metadata = out.get("metadata")
    if spec.labels and isinstance(metadata, dict) and LABELS_KEY in metadata:
        rest = {key: value for key, value in metadata.items() if key != LABELS_KEY}
        if rest:
            out["metadata"] = rest
        else:
            del out["metadata"]
    return out


def ids_to_refs(data: Any, id_index: Mapping[str, str]) -> Any:
    """Replace every string that is a known id with its ref token (ids are UUIDs: no false hits)."""
    if isinstance(data, dict):
        return {key: ids_to_refs(value, id_index) for key, value in data.items()}
    if isinstance(data, list):
        return [ids_to_refs(value, id_index) for value in data]
    if isinstance(data, str):
        return id_index.get(data, data)
    return data


def refs_to_ids(data: Any, resolve: Any) -> Any:
    """Replace every ref token by ``resolve(kind, slug)`` (raises what ``resolve`` raises)."""
    if isinstance(data, dict):
        return {key: refs_to_ids(value, resolve) for key, value in data.items()}
    if isinstance(data, list):
        return [refs_to_ids(value, resolve) for value in data]
    parsed = parse_ref_token(data)
    if parsed is not None:
        return resolve(*parsed)
    return data


def drop_mirrored(kind: str, live: dict[str, Any], desired: Mapping[str, Any] | None) -> dict[str, Any]:
    """Remove the mirrored side of a two-sided link from ``live`` unless ``desired`` sets it."""
    for path in MIRRORED_FIELDS.get(kind, ()):
        if desired is not None and _has_path(desired, path):
            continue
        live = _without_path(live, path)
    return live


def restrict_to(live: Any, desired: Any) -> Any:
    """``live`` limited to the keys ``desired`` sets, recursively (no snapshot to tell server
    defaults from managed fields: DESIGN §5, compare against live "restricted to what config sets")."""
    if isinstance(live, dict) and isinstance(desired, dict):
        return {key: restrict_to(live[key], desired[key]) for key in desired if key in live}
    if isinstance(live, list) and isinstance(desired, list) and len(live) == len(desired):
        return [restrict_to(a, b) for a, b in zip(live, desired, strict=True)]
    return live


def is_secret_key(path: Path) -> bool:
    """The value of a secret-ish key (``authorization``, ``apiKey``, ``password`` …)."""
    return bool(path) and isinstance(path[-1], str) and path[-1].lower() in SECRET_KEYS


def is_secret_path(path: Path) -> bool:
    """A header value (``…headers.<name>``) or the value of a secret-ish key."""
    if not path:
        return False
    if is_secret_key(path):
        return True
    return len(path) >= 2 and path[-2] == "headers" and isinstance(path[-1], str)


REDACTED = "secret:redacted"


def hash_view(data: Any) -> Any:
    """``data`` with every secret marker made one constant: what plan hashes are taken over, so no
    HMAC (nor anything derived from a secret) ever reaches a hash that is published."""
    if isinstance(data, dict):
        return {key: hash_view(value) for key, value in data.items()}
    if isinstance(data, list):
        return [hash_view(value) for value in data]
    if isinstance(data, str) and (data.startswith(SECRET_MARK) or data == REDACTED):
        return REDACTED
    return data


def _may_hold_marker(data: Any) -> bool:
    # A marker is a string value starting with "hmac:" or equal to "secret:redacted": without either
    # text anywhere in the JSON form, hash_view(data) is data itself (no walk needed).
    text = canonical_json(data)
    return SECRET_MARK in text or REDACTED in text


def hash_view_of(data: Any) -> Any:
    """:func:`hash_view`, walking only payloads that may hold a marker (speed: most hold none)."""
    return hash_view(data) if _may_hold_marker(data) else data


def view_hash(data: Any) -> str:
    """``content_hash(hash_view(data))``, serialising ``data`` once when it holds no marker."""
    text = canonical_json(data)
    if SECRET_MARK in text or REDACTED in text:
        return content_hash(hash_view(data))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SecretSlot:
    """A string of the desired spec holding placeholders: its template, the value it resolves to
    here (``None``: some placeholder is not resolvable here) and the HMAC recorded for it at the last
    apply (``None``: no key, or nothing recorded)."""

    template: str
    refs: tuple[str, ...]
    value: str | None = field(default=None, repr=False)
    recorded: str | None = None


class SecretMasker:
    """Compares secret values without storing or showing them; keyed HMACs only when the env has a key."""

    def __init__(self, key: bytes | None) -> None:
        self._key = key

    @property
    def keyed(self) -> bool:
        return self._key is not None

    def hmac(self, value: str) -> str | None:
        """Full hex HMAC-SHA256 of ``value`` under the env's key (``None`` without a key)."""
        if self._key is None:
            return None
        return _hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def marker(self, value: str) -> str:
        """What stands for a secret value in canonical payloads."""
        digest = self.hmac(value)
        return SECRET_MARK + digest[:16] if digest is not None else REDACTED

    def matches_recorded(self, value: str, recorded: str | None) -> bool | None:
        """Whether ``value`` is the one recorded (``None``: cannot tell here)."""
        digest = self.hmac(value)
        if digest is None or recorded is None:
            return None
        return _hmac.compare_digest(digest, recorded)

    def mask_desired(self, payload: Any) -> Any:
        """Desired side, in canonical form (keys sorted): placeholders and literal header values
        stay; literals at secret-ish keys become markers."""

        def walk(node: Any, key: object) -> Any:  # only the last key tells a secret-ish key
            if isinstance(node, dict):
                return {k: walk(node[k], k) for k in sorted(node)}
            if isinstance(node, list):
                return [walk(value, index) for index, value in enumerate(node)]
            if (
                isinstance(node, str)
                and isinstance(key, str)
                and key.lower() in SECRET_KEYS
                and "secrets://" not in node
                and not _is_marker(node)
            ):
                return self.marker(node)
            return node

        return walk(payload, None)

    def canonical_live(
        self,
        payload: Any,
        slots: Mapping[Path, SecretSlot],
        desired: Any = None,
        tokens: Mapping[str, str] | None = None,
        lookups: dict[str, str | None] | None = None,
    ) -> Any:
        """The canonical form of a live object (strip its server fields first), built in one walk for
        every listed resource of every plan and apply: keys sorted, ids found in ``tokens`` become
        their ref tokens, and secrets are masked — at a placeholder's path the value becomes the
        template unless it is known to differ from what was sent (then a marker, which shows as
        drift); a value at any other secret path stays only when it equals the desired literal there,
        else it becomes a marker.  ``lookups`` receives every string looked up in ``tokens`` and what
        it found: the result is the same for any ``tokens`` that agree on them."""
        index = tokens or {}

        def walk(node: Any, want: Any, path: Path) -> Any:
            if isinstance(node, dict):
                within = want if isinstance(want, dict) else {}
                return {key: walk(node[key], within.get(key), (*path, key)) for key in sorted(node)}
            if isinstance(node, list):
                items = want if isinstance(want, list) and len(want) == len(node) else [None] * len(node)
                return [walk(value, items[i], (*path, i)) for i, value in enumerate(node)]
            if not isinstance(node, str):
                return node
            found = index.get(node)
            if lookups is not None:
                lookups[node] = found
            node = node if found is None else found
            slot = slots.get(path) if slots else None
            if slot is not None:
                return slot.template if self.sent(node, slot) is not False else self.marker(node)
            if is_secret_path(path) and not _is_marker(node) and "secrets://" not in node:
                return node if isinstance(want, str) and want == node and not is_secret_key(path) else self.marker(node)
            return node

        return walk(payload, desired, ())

    def sent(self, live: str, slot: SecretSlot) -> bool | None:
        """Whether the live value at ``slot`` is what ci-deployer sent (``None``: cannot tell here)."""
        if live == slot.template:  # a live view rebuilt from a snapshot holds the template itself
            return True
        if slot.value is not None and _hmac.compare_digest(live.encode("utf-8"), slot.value.encode("utf-8")):
            return True
        return self.matches_recorded(live, slot.recorded)


def _is_marker(value: str) -> bool:
    return value.startswith(SECRET_MARK) or value == REDACTED


def _has_path(data: Any, path: Path) -> bool:
    for step in path:
        if isinstance(data, dict) and step in data:
            data = data[step]
        else:
            return False
    return True


def _without_path(data: dict[str, Any], path: Path) -> dict[str, Any]:
    head, rest = path[0], path[1:]
    if head not in data:
        return data
    out = dict(data)
    if not rest:
        del out[head]
        return out
    child = out[head]
    if isinstance(child, dict):
        trimmed = _without_path(child, rest)
        if trimmed:
            out[head] = trimmed
        else:
            del out[head]
    return out
