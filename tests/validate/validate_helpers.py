"""Builders for hand-made config objects (documents with positions, rendered resources)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ci_deployer.config.model import ConfigRepo, Document, Environment, Metadata, Reference, RenderedResource
from ci_deployer.paths import Path as DataPath
from ci_deployer.platform import kinds
from ci_deployer.platform.reftable import ref_sites


def positions_for(data: dict[str, Any]) -> dict[DataPath, tuple[int, int]]:
    """Give every node a line (depth-first, one per node, like block YAML) and an indented column."""
    out: dict[DataPath, tuple[int, int]] = {}
    line = 0

    def walk(node: Any, path: DataPath) -> None:
        nonlocal line
        line += 1
        out[path] = (line, 2 * max(len(path) - 1, 0) + 1)
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, (*path, key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, (*path, index))

    walk(data, ())
    return out


def make_doc(
    kind: str,
    slug: str,
    spec: dict[str, Any],
    *,
    file: str | None = None,
    environments: list[str] | None = None,
    policies: list[str] | None = None,
    previous: list[str] | None = None,
) -> Document:
    meta: dict[str, Any] = {"name": slug, "previousNames": list(previous or [])}
    raw = {
        "apiVersion": "ci-deployer/v1",
        "kind": kind,
        "metadata": meta,
        "policies": list(policies or []),
        "spec": spec,
    }
    return Document(
        kind=kind,
        metadata=Metadata(name=slug, previous_names=list(previous or []), environments=environments),
        policies=list(policies or []),
        spec=spec,
        file=file or f"{kind.lower()}s/{slug}.yaml",
        positions=positions_for(raw),
    )


def refs_of(kind: str, spec: dict[str, Any]) -> list[Reference]:
    """The references at the kind's id fields (Vapi's spec), as the renderer would find them."""
    if kind not in kinds.KINDS:
        return []
    return [Reference(s.path, s.kinds, s.value) for s in ref_sites(kind, spec) if isinstance(s.value, str)]


def rendered(doc: Document, spec: dict[str, Any] | None = None) -> RenderedResource:
    spec = doc.spec if spec is None else spec
    return RenderedResource(doc.kind, doc.slug, spec, doc, refs_of(doc.kind, spec))


def make_repo(docs: list[Document], root: Path | None = None, envs: list[str] | None = None) -> ConfigRepo:
    environments = {
        name: Environment(name=name, org=f"acme-{name}", api_url="embedded", api_token=None)
        for name in (envs or ["dev"])
    }
    return ConfigRepo(root=root or Path("/nonexistent"), environments=environments, documents=docs)
