"""The engine's input values: a desired resource (from config or from a snapshot) and ignore rules."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ci_deployer.config.documents import DocumentFile
from ci_deployer.config.model import Environment, RenderedResource, SecretRef
from ci_deployer.engine.canonical import ref_token
from ci_deployer.errors import ConfigError
from ci_deployer.paths import Path, format_path, get_path, set_path
from ci_deployer.platform.kinds import CREDENTIAL, GENERATED_TOOL_TYPES, KB_TOOL, KINDS


@dataclass
class DesiredResource:
    """One resource as it should be: ``spec`` holds ref tokens where ids go and ``secrets://``
    placeholders where secrets go, keys in the document's order (its own keys, then those its
    policies add), which is what a plan shows; comparisons and hashes sort keys (canonical form).
    ``file``/``line`` point at the document."""

    kind: str
    slug: str
    spec: dict[str, Any]
    previous_names: list[str] = field(default_factory=list)
    file: str | None = None
    line: int | None = None
    labels: dict[str, str] = field(default_factory=dict)
    secrets: list[SecretRef] = field(default_factory=list)
    # KnowledgeBase: the files its `documents:` block lists (None: documents not managed);
    # ``files``: every file the resource needs uploaded (engine/documents.py)
    documents: list[DocumentFile] | None = None
    files: list[DocumentFile] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.slug}"

    @property
    def name(self) -> str | None:
        return display_name(self.kind, self.spec)


def display_name(kind: str, payload: Mapping[str, Any]) -> str | None:
    """The kind's name field (function tools: ``function.name``), or ``None`` when nameless."""
    spec = KINDS[kind]
    for dotted in (spec.name_field, *spec.alt_name_fields):
        if not dotted:
            continue
        node: Any = payload
        for step in dotted.split("."):
            node = node.get(step) if isinstance(node, dict) else None
        if isinstance(node, str) and node:
            return node
    return None


def from_rendered(resources: list[RenderedResource], environment: Environment) -> list[DesiredResource]:
    """Rendered config → desired resources: each reference's slug becomes a ref token of the kind
    that has that slug (a KnowledgeBase slug in ``toolIds`` names its generated search tool)."""
    slugs: dict[str, set[str]] = {}
    for res in resources:
        slugs.setdefault(res.kind, set()).add(res.slug)
    slugs[CREDENTIAL] = set(environment.credentials)
    out: list[DesiredResource] = []
    for res in resources:
        # the document's key order (the document's spec is plain data: the loader's); a plain
        # resource's spec is already both, and copies through JSON (C) instead of the walk
        spec = _json_copy(res.spec) if res.plain else _plain(res.spec, res.document.spec)
        for ref in res.refs:
            target = next((k for k in ref.kinds if ref.slug in slugs.get(k, set())), None)
            if target is None:
                pos = res.position(ref.path)
                raise ConfigError(
                    f"{format_path(ref.path, 'spec')} names {ref.slug!r}, which is no "
                    f"{' or '.join(ref.kinds)} in environment {environment.name}",
                    path=pos.file,
                    line=pos.line,
                    hint="run `ci-deployer validate --env " + environment.name + "` and fix the reference",
                )
            try:
                get_path(spec, ref.path)
            except (KeyError, IndexError, TypeError):
                continue
            # A KB slug where a tool id goes means the KB's generated search tool, not the KB.
            token_kind = KB_TOOL if target == "KnowledgeBase" and "Tool" in ref.kinds else target
            set_path(spec, ref.path, ref_token(token_kind, ref.slug))
        pos = res.position()
        meta = res.document.metadata
        out.append(
            DesiredResource(
                kind=res.kind,
                slug=res.slug,
                spec=spec,
                previous_names=list(meta.previous_names),
                file=pos.file,
                line=pos.line,
                labels={k: v for k, v in meta.labels.items() if k in ("app", "owner")},
                secrets=list(res.secrets),
                documents=list(res.documents) if res.documents is not None else None,
                files=list(res.files),
            )
        )
    return out


def _json_copy(spec: dict[str, Any]) -> Any:
    return json.loads(_ENCODER.encode(spec))


_ENCODER = json.JSONEncoder(ensure_ascii=False)  # made once: json.dumps with options makes one per call


def _plain(value: Any, like: Any = None) -> Any:
    """A deep copy holding only dicts, lists and scalars (render may leave wrapper objects), its maps
    listing their keys in ``like``'s order as :func:`in_order_of` does (one walk for both)."""
    if isinstance(value, dict):
        if not isinstance(like, dict) or not like:
            return {str(k): _plain(v) for k, v in value.items()}
        plain = {str(k): v for k, v in value.items()}
        keys = [k for k in like if k in plain] + [k for k in plain if k not in like]
        return {k: _plain(plain[k], like.get(k)) for k in keys}
    if isinstance(value, list):
        if not isinstance(like, list) or not like:
            return [_plain(v) for v in value]
        return [_plain(v, like[i] if i < len(like) else None) for i, v in enumerate(value)]
    inner = getattr(value, "value", None)
    if inner is not None and not isinstance(value, (str, int, float, bool)):
        return _plain(inner, like)
    return value


@dataclass(frozen=True)
class IgnoreRules:
    """``environments.yaml`` ``ignore``: ``name:GLOB`` (fnmatch on the name), ``id:ID``, ``Kind/slug``."""

    patterns: tuple[str, ...] = ()

    def ignores(self, kind: str, obj: Mapping[str, Any], slug: str | None = None) -> bool:
        """Whether the live ``obj`` of ``kind`` (claimed by ``slug``, if any) is left alone."""
        if obj.get("type") in GENERATED_TOOL_TYPES and kind == "Tool":
            return True  # KB search tools belong to their base (Vapi generates and deletes them)
        if "orgId" in obj and obj.get("orgId") is None:
            return True  # Vapi's read-only platform defaults (VapiAI/gitops: orgId null)
        if not self.patterns:
            return False
        name = display_name(kind, obj) or ""
        for pattern in self.patterns:
            if pattern.startswith("name:") and fnmatch.fnmatchcase(name, pattern[5:]):
                return True
            if pattern.startswith("id:") and obj.get("id") == pattern[3:]:
                return True
            if slug is not None and pattern.lower() == f"{kind}/{slug}".lower():
                return True
        return False


def secret_paths(resource: DesiredResource) -> dict[Path, list[str]]:
    """Path → the refs of the placeholders in the string at that path."""
    out: dict[Path, list[str]] = {}
    for ref in resource.secrets:
        out.setdefault(tuple(ref.path), []).append(ref.ref)
    return out
