"""The canonical form resources are compared, hashed and stored in.

DESIGN §5: server-managed fields stripped, ids of managed resources mapped to ref tokens, keys
sorted, the assistant's ``metadata.ciDeployer`` labels removed, secrets never present.

- A *ref token* is the string ``"ref:Kind/slug"`` standing where the API holds an id
  (``"ref:Tool/jira"``; a knowledge base's generated search tool is ``"ref:KnowledgeBase/docs"``;
  an env credential is ``"ref:Credential/twilio-main"``).  Ids of resources nobody manages stay
  as they are.
- Secrets: on the desired side a ``secrets://REF`` placeholder stays as written.  Any other value
  at a secret path (a header value, a secret-ish key) becomes ``"hmac:<16 hex>"``, a keyed hash
  that compares equal for equal values and reveals nothing.  On the live side a value whose HMAC
  matches the one recorded for a placeholder becomes that placeholder again, so an unchanged
  secret compares equal to the config that produced it.
"""

from __future__ import annotations

import hashlib
import hmac as _hmac
import json
import re
from collections.abc import Iterator, Mapping
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


def canonical_json(data: Any) -> str:
    """Compact JSON with sorted keys: the byte form every hash is taken over."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


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


def is_secret_path(path: Path) -> bool:
    """A header value (``…headers.<name>``) or the value of a secret-ish key."""
    if not path:
        return False
    last = path[-1]
    if isinstance(last, str) and last.lower() in SECRET_KEYS:
        return True
    return len(path) >= 2 and path[-2] == "headers" and isinstance(last, str)


class SecretMasker:
    """Keyed HMACs of secret values: compares them without storing or showing them."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def hmac(self, value: str) -> str:
        """Full hex HMAC-SHA256 of ``value`` under the env's key."""
        return _hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def marker(self, value: str) -> str:
        """``"hmac:<16 hex>"``: stands for a secret value in canonical payloads."""
        return SECRET_MARK + self.hmac(value)[:16]

    def mask_desired(self, payload: Any) -> Any:
        """Desired side: placeholders stay; other values at secret paths become markers."""

        def walk(node: Any, path: Path) -> Any:
            if isinstance(node, dict):
                return {key: walk(value, (*path, key)) for key, value in node.items()}
            if isinstance(node, list):
                return [walk(value, (*path, index)) for index, value in enumerate(node)]
            if isinstance(node, str) and is_secret_path(path) and "secrets://" not in node:
                return node if node.startswith(SECRET_MARK) else self.marker(node)
            return node

        return walk(payload, ())

    def mask_live(self, payload: Any, expected: Mapping[Path, tuple[str, str | None]]) -> Any:
        """Live side: at a path with an expected ``(placeholder template, hmac)`` the value becomes
        the template when its HMAC matches; any other value at a secret or expected path becomes a
        marker.  ``hmac`` is ``None`` when the secret is not resolvable here."""

        def walk(node: Any, path: Path) -> Any:
            if isinstance(node, dict):
                return {key: walk(value, (*path, key)) for key, value in node.items()}
            if isinstance(node, list):
                return [walk(value, (*path, index)) for index, value in enumerate(node)]
            if isinstance(node, str):
                want = expected.get(path)
                if want is not None:
                    template, digest = want
                    if node == template:  # already the placeholder (a live view rebuilt from a snapshot)
                        return template
                    if digest is not None and _hmac.compare_digest(self.hmac(node), digest):
                        return template
                    return node if node.startswith(SECRET_MARK) else self.marker(node)
                if is_secret_path(path) and not node.startswith(SECRET_MARK) and "secrets://" not in node:
                    return self.marker(node)
            return node

        return walk(payload, ())


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
