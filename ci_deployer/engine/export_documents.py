"""Export of knowledge-base documents: each base's files written back to ``knowledge/<slug>/``.

A file's bytes come from its ``url`` (:meth:`ci_deployer.platform.client.VapiClient.download_file`;
the API key goes only to the API's own origin).  A file ci-deployer uploaded carries its sha256 in
its metadata and is checked against it.  When a base's files cannot all be read, the base is
exported without a ``documents:`` block (so the exported config leaves its documents alone instead
of detaching them) and ``knowledge/<slug>/documents.placeholder`` lists each file's name, id, size
and hash where known, with a warning.  A query tool's ``fileIds`` that name exported files become
``{document: PATH}``; the others stay ids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from pathlib import PurePosixPath
from typing import Any

from ci_deployer import redact
from ci_deployer.config.documents import DOCUMENT_KEY, MAX_FILE_BYTES, TYPES, file_type
from ci_deployer.engine.documents import PURPOSE, FileClient, owner_meta
from ci_deployer.engine.snapshot import Snapshot
from ci_deployer.errors import ApiError

PLACEHOLDER = "documents.placeholder"
_BY_MIMETYPE = {mimetype: ext for ext, (mimetype, _) in sorted(TYPES.items(), reverse=True)}


@dataclass
class ExportedDocuments:
    """Per base slug its ``documents:`` block (``None``: leave it out); file id → exported path."""

    blocks: dict[str, list[str] | None] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def export_documents(
    client: Any,
    bases: Sequence[tuple[str, dict[str, Any]]],
    tools: Sequence[dict[str, Any]],
    out: FsPath,
    state: Snapshot | None,
) -> ExportedDocuments:
    """Write the files attached to ``bases`` (slug, live base) and named by ``tools`` under ``out``
    (``client``: a :class:`~ci_deployer.engine.documents.FileClient`)."""
    result = ExportedDocuments()
    if not bases and not any(_file_ids(t) for t in tools):
        return result
    listed = {str(f["id"]): f for f in client.files(PURPOSE) if f.get("id")}
    ids = [str(obj["id"]) for _, obj in bases]
    attachments = dict(zip(ids, client.map(client.kb_files, ids), strict=True)) if ids else {}
    recorded = (state.documents.get("knowledgeBases") or {}) if state is not None else {}
    for slug, obj in bases:
        atts = attachments.get(str(obj["id"]), [])
        if not atts:
            result.blocks[slug] = [] if slug in recorded else None
            continue
        folder = f"knowledge/{slug}"
        written: list[str] = []
        missing: list[dict[str, Any]] = []
        taken: set[str] = set()
        for att in sorted(atts, key=lambda a: str(a.get("fileName") or a.get("fileId"))):
            fid = str(att.get("fileId"))
            file = listed.get(fid) or _get(client, fid) or {"id": fid, "name": att.get("fileName")}
            path = _write(client, file, folder, out=out, taken=taken, result=result)
            if path is None:
                missing.append(file)
            else:
                written.append(path)
                result.paths[fid] = path
        if missing:
            _placeholder(out, folder, [*missing], result)
            result.blocks[slug] = None
            result.warnings.append(
                f"KnowledgeBase/{slug}: {len(missing)} of {len(atts)} document(s) could not be downloaded; listed in "
                f"{folder}/{PLACEHOLDER} and the documents: block left out (the exported config leaves the base's "
                "documents alone): add the files and list them to manage them"
            )
        else:
            result.blocks[slug] = sorted(written)
    extra = sorted({fid for t in tools for fid in _file_ids(t)} - set(result.paths))
    taken = set()
    for fid in extra:
        found = listed.get(fid) or _get(client, fid)
        if found is None:
            continue
        path = _write(client, found, "knowledge/files", out=out, taken=taken, result=result)
        if path is not None:
            result.paths[fid] = path
        else:
            result.warnings.append(f"file {fid} named by a query tool could not be downloaded: its id is kept")
    return result


def with_document_refs(spec: Any, paths: Mapping[str, str]) -> Any:
    """``spec`` with the ids in ``fileIds`` lists that were exported written as ``{document: PATH}``."""
    if isinstance(spec, dict):
        out = {}
        for key, value in spec.items():
            if key == "fileIds" and isinstance(value, list):
                out[key] = [{DOCUMENT_KEY: paths[v]} if isinstance(v, str) and v in paths else v for v in value]
            else:
                out[key] = with_document_refs(value, paths)
        return out
    if isinstance(spec, list):
        return [with_document_refs(v, paths) for v in spec]
    return spec


def _file_ids(tool: Mapping[str, Any]) -> list[str]:
    out = []
    for kb in tool.get("knowledgeBases") or []:
        if isinstance(kb, dict):
            out += [str(i) for i in kb.get("fileIds") or [] if isinstance(i, str)]
    return out


def _get(client: FileClient, fid: str) -> dict[str, Any] | None:
    try:
        return client.get_file(fid)
    except ApiError:
        return None


def _name(file: Mapping[str, Any]) -> str | None:
    """The file name to write: the path ci-deployer uploaded it from, else its name (with an
    extension Vapi indexes added from its mimetype when it has none)."""
    raw = owner_meta(file).get("path") or file.get("originalName") or file.get("name")
    if not isinstance(raw, str) or not raw:
        return None
    name = PurePosixPath(raw.replace("\\", "/")).name
    if name in ("", ".", "..") or name.startswith("."):
        return None
    if file_type(name) is None:
        ext = _BY_MIMETYPE.get(str(file.get("mimetype") or ""))
        if ext is None:
            return None
        name += ext
    return name


def _write(
    client: FileClient, file: dict[str, Any], folder: str, *, out: FsPath, taken: set[str], result: ExportedDocuments
) -> str | None:
    name = _name(file)
    if name is None or not file.get("url"):
        return None
    data = client.download_file(file, limit=MAX_FILE_BYTES)
    if data is None:
        return None
    expected = owner_meta(file).get("sha256")
    if isinstance(expected, str) and hashlib.sha256(data).hexdigest() != expected:
        result.warnings.append(f"{folder}/{name}: the downloaded bytes do not match the hash it was uploaded with")
        return None
    stem, suffix = PurePosixPath(name).stem, PurePosixPath(name).suffix
    candidate, n = name, 2
    while candidate in taken:
        candidate = f"{stem}-{n}{suffix}"
        n += 1
    taken.add(candidate)
    path = f"{folder}/{candidate}"
    target = out / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    result.files.append(path)
    return path


def _placeholder(out: FsPath, folder: str, missing: list[dict[str, Any]], result: ExportedDocuments) -> None:
    lines = [
        "# Documents attached to this knowledge base that ci-deployer could not download.",
        "# Add each file under this folder and list it in the base's documents: block to manage it.",
    ]
    for file in missing:
        sha = owner_meta(file).get("sha256")
        lines.append(
            f"- name: {file.get('name') or file.get('originalName') or '(no name)'}\n"
            f"  id: {file.get('id')}\n  bytes: {file.get('bytes')}\n"
            f"  sha256: {sha if isinstance(sha, str) else 'unknown (uploaded outside ci-deployer)'}"
        )
    path = f"{folder}/{PLACEHOLDER}"
    target = out / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(redact.redact("\n".join(lines) + "\n"), encoding="utf-8")
    result.files.append(path)
