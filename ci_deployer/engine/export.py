"""Export: a live org → config documents that ``validate`` accepts and that plan back to no changes.

- Slugs: the assistant label, else the env's snapshot, else the name made into a slug (unique per
  kind); ids of exported resources become slugs (``{ref: kind/slug}`` outside the kinds table's
  reference fields); server fields and labels are stripped; keys sorted.
- System prompts go to ``prompts/<slug>.md`` as ``{file: …}`` includes.
- Knowledge-base documents go to ``knowledge/<slug>/`` and are listed in the base's ``documents:``
  block; a query tool's file ids become ``{document: PATH}`` (:mod:`ci_deployer.engine.export_documents`).
- Secrets: a value whose HMAC matches the placeholder recorded in the state gets that placeholder
  back; any other secret value becomes a new ``secrets://`` placeholder (named in the warnings).
- Templates come back: for a document the config (``--config``) already has, a value the config
  writes as a template (``${{ env.name }}``, ``${{ params.model }}``) is written as that template when
  the rendered value equals the exported one — never by guessing substrings — so an exported org
  diffs cleanly against the repository it came from.
- The exported folder holds config only (no state, no key).  It plans back to no changes against the
  same org: assistants are found by their labels, other kinds by their names (recorded by the next
  apply, nothing written); an embedded env's ``environments.yaml`` points at the same embedded org.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from ci_deployer import redact
from ci_deployer.engine.canonical import (
    REDACTED,
    SECRET_MARK,
    SecretMasker,
    is_secret_path,
    parse_ref_token,
    ref_token,
    strip_server_fields,
)
from ci_deployer.engine.export_documents import export_documents, with_document_refs
from ci_deployer.engine.identity import label_of
from ci_deployer.engine.model import IgnoreRules, display_name
from ci_deployer.engine.plan import recorded_slots
from ci_deployer.engine.session import Session, read_live
from ci_deployer.paths import Path
from ci_deployer.platform.kinds import CREDENTIAL, GENERATED_TOOL_TYPES, KB_TOOL, KINDS, owner_of
from ci_deployer.platform.reftable import ref_sites

FOLDERS = {
    "Tool": "tools",
    "StructuredOutput": "structured-outputs",
    "KnowledgeBase": "knowledge",
    "Assistant": "assistants",
    "Squad": "squads",
    "Eval": "evals",
    "PhoneNumber": "phone-numbers",
}
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass
class ExportResult:
    """Files written (relative to the output folder) and what the user should know."""

    files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def slugify(name: str, taken: set[str]) -> str:
    """``"Order Agent (dev)"`` → ``order-agent-dev``, unique within ``taken`` (≤ 40 characters)."""
    base = _NOT_SLUG.sub("-", name.lower()).strip("-")[:36].strip("-") or "resource"
    slug, n = base, 2
    while slug in taken:
        slug = f"{base}-{n}"
        n += 1
    taken.add(slug)
    return slug


def export(session: Session, out: FsPath, root: FsPath, *, client: Any = None) -> ExportResult:
    """Write the env's org as documents under ``out`` (``root``: the config it was opened from)."""
    import yaml

    result = ExportResult()
    env = session.environment
    vapi = client or session.client()
    live = read_live(vapi)
    state = session.latest_state()
    masker = SecretMasker(session.hmac_key)
    ignore = IgnoreRules(tuple(env.ignore))
    recorded_slug = {r.id: (r.kind, r.slug) for r in state.resources} if state is not None else {}

    chosen: list[tuple[str, str, dict[str, Any]]] = []  # kind, slug, obj
    tokens: dict[str, str] = {cid: ref_token(CREDENTIAL, slug) for slug, cid in env.credentials.items()}
    for kind in KINDS:
        taken: set[str] = set()
        objs = sorted(live.get(kind, []), key=lambda o: (str(o.get("createdAt") or ""), str(o.get("id"))))
        pending = []
        for obj in objs:
            rid = str(obj.get("id"))
            slug = (label_of(obj, env.name) if KINDS[kind].labels else None) or (
                recorded_slug[rid][1] if rid in recorded_slug and recorded_slug[rid][0] == kind else None
            )
            if ignore.ignores(kind, obj, slug):
                continue
            if slug is not None and slug not in taken:
                taken.add(slug)
                chosen.append((kind, slug, obj))
            else:
                pending.append(obj)
        for obj in pending:
            slug = slugify(display_name(kind, obj) or f"{kind.lower()}-{str(obj.get('id'))[:8]}", taken)
            chosen.append((kind, slug, obj))
    for kind, slug, obj in chosen:
        tokens[str(obj["id"])] = ref_token(kind, slug)
    kb_by_id = {str(obj["id"]): slug for kind, slug, obj in chosen if kind == "KnowledgeBase"}
    for tool in live.get("Tool", []):
        if tool.get("type") in GENERATED_TOOL_TYPES and str(tool.get("knowledgeBaseId")) in kb_by_id:
            tokens[str(tool["id"])] = ref_token(KB_TOOL, kb_by_id[str(tool["knowledgeBaseId"])])

    documents = export_documents(
        vapi,
        [(slug, obj) for kind, slug, obj in chosen if kind == "KnowledgeBase"],
        [obj for kind, _, obj in chosen if kind == "Tool"],
        out,
        state,
    )
    result.files += documents.files
    result.warnings += documents.warnings
    templates = _template_index(session)
    for kind, slug, obj in chosen:
        rec = state.record(kind, slug) if state is not None else None
        expected = recorded_slots(rec) if rec is not None and rec.id == str(obj["id"]) else {}
        observed = masker.canonical_live(strip_server_fields(kind, obj), expected, None, tokens)
        payload = _placeholders(observed, slug, result)
        spec = _slugs(kind, payload)
        if (kind, slug) in templates:
            spec = _with_templates(spec, *templates[(kind, slug)])
        if kind == "Assistant":
            spec = _prompt_files(spec, slug, out, result)
        if kind == "Tool" and documents.paths:
            spec = with_document_refs(spec, documents.paths)
        metadata: dict[str, Any] = {"name": slug}
        labels = ((obj.get("metadata") or {}).get("ciDeployer") or {}) if KINDS[kind].labels else {}
        kept = {k: str(labels[k]) for k in ("app", "owner") if labels.get(k)}
        if kept:
            metadata["labels"] = kept
        doc: dict[str, Any] = {"apiVersion": "ci-deployer/v1", "kind": kind, "metadata": metadata, "spec": spec}
        listed = documents.blocks.get(slug) if kind == "KnowledgeBase" else None
        if listed is not None:
            doc["documents"] = listed
        rel = f"{FOLDERS[kind]}/{slug}.yaml"
        text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=120)
        _write(out / rel, text)
        result.files.append(rel)
    if not (out / "environments.yaml").exists():
        api: dict[str, Any] = {"url": env.api_url}
        if env.api_token:
            api["token"] = env.api_token
        if env.api_url == "embedded":
            # The embedded org lives in the config folder it came from: point at it, so the exported
            # config plans against the same org.
            source = (root / (env.embedded_data or ".ci-deployer/emulator")).resolve()
            api["data"] = os.path.relpath(source, out.resolve())
        entry: dict[str, Any] = {"org": env.org, "api": api}
        if env.params:  # the values the written-back templates render with
            entry["params"] = env.params
        if env.credentials:
            entry["credentials"] = env.credentials
        data = {"apiVersion": "ci-deployer/v1", "environments": {env.name: entry}}
        _write(out / "environments.yaml", yaml.safe_dump(data, sort_keys=False))
        result.files.append("environments.yaml")
    result.files.sort()
    return result


def _template_index(session: Session) -> dict[tuple[str, str], tuple[Any, Any]]:
    """(kind, slug) → (the document's own spec as written, its spec rendered for the env)."""
    rendered = {(res.kind, res.slug): res.spec for res in session.desired}
    out: dict[tuple[str, str], tuple[Any, Any]] = {}
    for doc in session.repo.documents:
        key = (doc.kind, doc.slug)
        if key in rendered and doc.applies_to(session.env):
            out[key] = (doc.spec, rendered[key])
    return out


def _with_templates(exported: Any, written: Any, rendered: Any) -> Any:
    """``exported`` with the config's template strings put back where the config has one and its
    rendered value is exactly the exported value."""
    if isinstance(exported, dict) and isinstance(written, dict) and isinstance(rendered, dict):
        return {k: _with_templates(v, written.get(k), rendered.get(k)) for k, v in exported.items()}
    if isinstance(exported, list) and isinstance(written, list) and isinstance(rendered, list):
        if len(exported) == len(written) == len(rendered):
            return [_with_templates(*items) for items in zip(exported, written, rendered, strict=True)]
        return exported
    if isinstance(written, str) and "${{" in written and rendered == exported:
        return written
    return exported


def _write(path: FsPath, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(redact.redact(text), encoding="utf-8")


def _placeholders(payload: Any, slug: str, result: ExportResult, path: Path = ()) -> Any:
    """Secret markers (values the state has no placeholder for) → new ``secrets://`` placeholders."""
    if isinstance(payload, dict):
        return {k: _placeholders(v, slug, result, (*path, k)) for k, v in payload.items()}
    if isinstance(payload, list):
        return [_placeholders(v, slug, result, (*path, i)) for i, v in enumerate(payload)]
    if isinstance(payload, str) and (payload.startswith(SECRET_MARK) or payload == REDACTED) and is_secret_path(path):
        name = re.sub(r"[^A-Z0-9]+", "_", f"{slug}_{path[-1]}".upper()).strip("_")
        result.warnings.append(
            f"{slug}: the secret at {'.'.join(str(p) for p in path)} was exported as secrets://{name}; "
            f"set {name} to its value before applying"
        )
        return f"secrets://{name}"
    return payload


def _slugs(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Ref tokens → slugs at the kind's id fields (any depth: platform.reftable), ``{ref: kind/slug}`` elsewhere."""
    table = {site.path for site in ref_sites(kind, payload)}

    def walk(node: Any, path: Path) -> Any:
        if isinstance(node, dict):
            return {k: walk(v, (*path, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, (*path, i)) for i, v in enumerate(node)]
        parsed = parse_ref_token(node)
        if parsed is None:
            return node
        target, slug = parsed
        # A KB's search tool is written as the KB's slug (what a tool-id field takes in config).
        return slug if path in table else {"ref": f"{owner_of(target)}/{slug}"}

    result: dict[str, Any] = walk(payload, ())
    return result


def _prompt_files(spec: dict[str, Any], slug: str, out: FsPath, result: ExportResult) -> dict[str, Any]:
    model = spec.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("messages"), list):
        return spec
    messages = []
    count = 0
    for message in model["messages"]:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(message, dict) and message.get("role") == "system" and isinstance(content, str):
            name = f"{slug}.md" if count == 0 else f"{slug}-{count + 1}.md"
            count += 1
            _write(out / "prompts" / name, content)
            result.files.append(f"prompts/{name}")
            messages.append({**message, "content": {"file": f"../prompts/{name}"}})
        else:
            messages.append(message)
    return {**spec, "model": {**model, "messages": messages}}
