"""Rendering the documents of one environment into :class:`RenderedResource` values.

For each document that applies to the environment (``metadata.environments``), Policy documents
aside:

1. includes are resolved, relative to the file that holds them (a policy's includes are relative
   to the policy), and templates are rendered in each source, so errors point at the right file;
2. the policies (in the listed order) and then the document are merged (DESIGN §2: maps merge
   recursively, lists and scalars are replaced).  Rendering before merging gives the same result
   as merging first, except that a broken template in a value the document overrides still fails;
3. ``{ref: kind/slug}`` maps are replaced by their slug, included values unwrapped, reference fields
   of the kinds table and ``secrets://`` placeholders collected;
4. a KnowledgeBase's ``documents:`` block is expanded and every file checked and hashed, and the
   files a spec names as ``{document: PATH}`` collected (:mod:`ci_deployer.config.documents`).

A document that failed any step is left out; its findings say why.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from ci_deployer.config._util import Verbatim, deep_merge, did_you_mean, finding, unwrap
from ci_deployer.config.documents import DocumentFile, DocumentReader, resolve_block
from ci_deployer.config.includes import IncludeResolver
from ci_deployer.config.model import ConfigRepo, Document, Environment, RenderedResource, SecretRef
from ci_deployer.config.refs import replace_generic_refs, table_refs
from ci_deployer.config.secrets import find_placeholders
from ci_deployer.config.templates import TemplateEngine, TemplateProblem, needs_render
from ci_deployer.errors import ConfigError
from ci_deployer.findings import Finding, Level, has_errors
from ci_deployer.paths import Path
from ci_deployer.platform.kinds import POLICY


@functools.cache
def _engine() -> TemplateEngine:
    # One sandbox per process: compiled templates are cached across environments and calls.
    return TemplateEngine()


def _environment(repo: ConfigRepo, env: str) -> Environment:
    environment = repo.environments.get(env)
    if environment is None:
        known = ", ".join(repo.environments) or "none"
        raise ConfigError(
            f"unknown environment {env!r}{did_you_mean(env, repo.environments)}",
            path="environments.yaml",
            hint=f"environments.yaml defines: {known}",
        )
    return environment


def include_resolver(repo: ConfigRepo) -> IncludeResolver:
    """The repository's include resolver, made once: every environment's rendering and the logical
    specs share its file reads and resolved documents (one read of each file per command)."""
    found = repo.__dict__.get("_include_resolver")
    if not isinstance(found, IncludeResolver) or found.root != repo.root:
        found = IncludeResolver(repo.root, documents=document_reader(repo))
        repo.__dict__["_include_resolver"] = found
    return found


def template_context(environment: Environment) -> dict[str, Any]:
    """What templates see: ``env.name``, ``env.org`` and ``params`` (defaults merged)."""
    return {"env": {"name": environment.name, "org": environment.org}, "params": environment.params}


def render_env(repo: ConfigRepo, env: str) -> tuple[list[RenderedResource], list[Finding]]:
    """Render every document of ``env`` (policies merged, includes resolved, templates rendered).

    Raises :class:`ConfigError` only for an unknown environment name; problems in documents are
    findings, and a document that failed is left out of the list.
    """
    environment = _environment(repo, env)
    context = template_context(environment)
    includes = include_resolver(repo)
    reader = includes.documents
    engine = _engine()
    policies: dict[str, Document] = {}
    for doc in repo.documents_of(POLICY):
        policies.setdefault(doc.slug, doc)
    prepared_policies: dict[str, Any] = {}
    findings: list[Finding] = []
    out: list[RenderedResource] = []
    for doc in repo.documents:
        if doc.kind == POLICY or not doc.applies_to(env):
            continue
        parts: list[Any] = []
        failed = False
        for i, name in enumerate(doc.policies):
            policy = policies.get(name)
            if policy is None:
                continue  # reported by the loader (E-POLICY-UNKNOWN)
            if name not in prepared_policies:
                spec, problems = _prepare(policy, includes, engine, context)
                findings.extend(problems)
                prepared_policies[name] = None if has_errors(problems) else spec
            if prepared_policies[name] is None:
                pos = doc.position(("policies", i))
                findings.append(
                    finding(
                        doc.file,
                        (pos.line, pos.column),
                        "E-POLICY-BROKEN",
                        f"policy {name!r} could not be rendered for {env}, so this document is skipped",
                        f"fix the findings reported for {policies[name].file}",
                        path=("policies", i),
                    )
                )
                failed = True
            else:
                parts.append(prepared_policies[name])
        resource = None if doc.policies or doc.documents is not None else plain_resource(doc)
        if resource is not None:
            out.append(resource)
            continue
        spec, problems = _prepare(doc, includes, engine, context)
        findings.extend(problems)
        if failed or has_errors(problems):
            continue
        resource, problems = _finish(doc, parts, spec)
        findings.extend(problems)
        if resource is not None:
            problems = _documents(resource, reader)
            findings.extend(problems)
            if not has_errors(problems):
                out.append(resource)
    return out, findings


# What JSON text shows wherever a step below has work: a template (``${``, in a value or a key), an
# include, a literal, a ``{document: …}`` or a ``{ref: …}`` map (a map's first key follows its
# ``{``), a secret placeholder, a file's ref token.  Escaped quotes keep string contents out.
_WORK_MARKERS = (
    "${",
    '{"file": ',
    '{"json": ',
    '{"$literal": ',
    '{"document": ',
    '{"ref": ',
    "secrets://",
    "ref:File/",
)
_ENCODER = json.JSONEncoder(ensure_ascii=False)  # made once: json.dumps with options makes one per call


def _json_copy(data: Any, markers: tuple[str, ...]) -> Any:
    """``data`` copied through its JSON text when that text holds none of ``markers``; ``None``
    when it holds one, or ``data`` is not plain JSON data."""
    try:
        text = _ENCODER.encode(data)
    except (TypeError, ValueError):
        return None
    if any(marker in text for marker in markers):
        return None
    return json.loads(text)


def plain_resource(doc: Document) -> RenderedResource | None:
    """The rendered resource of a document that none of the steps would change (no policy, no
    ``documents:`` block and nothing :data:`_WORK_MARKERS` finds): its spec copied through JSON,
    the references at its id fields.  ``None``: the document needs the steps (most documents do
    not: a tool, a squad).  The same result as the steps, for a fraction of their walks."""
    if doc.policies or doc.documents is not None:
        return None
    spec = _json_copy(doc.spec, _WORK_MARKERS)
    if not isinstance(spec, dict):
        return None
    return RenderedResource(
        kind=doc.kind, slug=doc.slug, spec=spec, document=doc, refs=table_refs(doc.kind, spec, set()), plain=True
    )


def document_reader(repo: ConfigRepo) -> DocumentReader:
    """The reader of knowledge-base documents under the repo's root (its config files excluded)."""
    return DocumentReader(repo.root, frozenset(d.file for d in repo.documents))


def _documents(resource: RenderedResource, reader: DocumentReader) -> list[Finding]:
    """Fill ``resource.documents`` (its ``documents:`` block) and ``resource.files`` (every file it
    needs uploaded, ``{document: …}`` references included); the problems found."""
    doc = resource.document
    findings: list[Finding] = []
    if doc.documents is not None:

        def located(index: int, code: str, message: str, hint: str, level: Level) -> Finding:
            pos = doc.position(("documents", index))
            mark = (pos.line, pos.column)
            return finding(doc.file, mark, code, message, hint, path=("documents", index), level=level)

        files, findings = resolve_block(doc.documents, reader, located)
        resource.documents = files
    needed: dict[str, DocumentFile] = {f.sha256: f for f in resource.documents or []}
    # a token names a file only once the reader has read it: none read, no walk
    for token in _file_tokens(resource.spec) if reader.by_hash else ():
        found = reader.by_hash.get(token)
        if found is not None:
            needed.setdefault(token, found)
    resource.files = list(needed.values())
    return findings


def _file_tokens(node: Any) -> list[str]:
    from ci_deployer.config.documents import FILE_KIND

    prefix = f"ref:{FILE_KIND}/"
    if isinstance(node, str):
        return [node[len(prefix) :]] if node.startswith(prefix) else []
    if isinstance(node, dict):
        return [t for v in node.values() for t in _file_tokens(v)]
    if isinstance(node, list):
        return [t for v in node for t in _file_tokens(v)]
    return []


def logical_specs(
    repo: ConfigRepo, env: str, rendered: list[RenderedResource] | None = None
) -> dict[str, dict[str, Any]]:
    """``"Kind/slug"`` → spec with policies merged and includes resolved, templates *not* rendered.

    Credentials and secret placeholders are left as written: this is what the promotion hash
    compares (prod must carry what uat applied, whatever the per-environment params).  Documents
    whose includes fail are left out (``render_env`` reports them).  ``rendered``: the env's
    rendered resources, when the caller has them: a plain one's spec is its logical spec (shared,
    not copied: read it only).
    """
    plain = {r.key: r.spec for r in rendered or () if r.plain}
    _environment(repo, env)
    includes = include_resolver(repo)
    reader = includes.documents
    policies: dict[str, Any] = {}
    for doc in repo.documents_of(POLICY):
        if doc.slug not in policies:
            spec, problems = includes.resolve(doc)
            policies[doc.slug] = None if has_errors(problems) else spec
    out: dict[str, dict[str, Any]] = {}
    for doc in repo.documents:
        if doc.kind == POLICY or not doc.applies_to(env):
            continue
        if doc.key in plain:
            out[doc.key] = plain[doc.key]
            continue
        spec, problems = includes.resolve(doc)
        parts = [policies.get(name) for name in doc.policies if name in policies]
        if has_errors(problems) or any(p is None for p in parts):
            continue
        out[doc.key] = unwrap(_merge([*parts, spec]))
        if doc.documents is not None:  # the documents' contents are promoted with the base
            listed, _ = resolve_block(doc.documents, reader, lambda *_: None)
            out[f"{doc.key}#documents"] = {f.path: f.sha256 for f in listed}
    return out


def _merge(parts: list[Any]) -> Any:
    if len(parts) == 1:
        return parts[0]
    merged: Any = {}
    for part in parts:
        merged = deep_merge(merged, part)
    return merged


def _prepare(
    doc: Document, includes: IncludeResolver, engine: TemplateEngine, context: dict[str, Any]
) -> tuple[Any, list[Finding]]:
    spec, findings = includes.resolve(doc)

    def walk(node: Any, path: Path) -> Any:
        if isinstance(node, str):
            if not needs_render(node):
                return node
            try:
                return engine.render(node, context)
            except TemplateProblem as problem:
                pos = doc.position(("spec", *path))
                findings.append(
                    finding(
                        doc.file,
                        (pos.line, pos.column),
                        problem.code,
                        problem.message,
                        problem.hint,
                        path=("spec", *path),
                    )
                )
                return node
        if isinstance(node, dict):
            for key in node:
                if isinstance(key, str) and needs_render(key):
                    _templated_key(doc, (*path, key), key, findings)
            return {k: walk(v, (*path, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, (*path, i)) for i, v in enumerate(node)]
        return node  # scalars and Verbatim (included text is not templated)

    return walk(spec, ()), findings


def _templated_key(doc: Document, path: Path, key: str, findings: list[Finding]) -> None:
    """DESIGN §2: mapping keys are never templated, so a ``${{`` in a key would be sent as written."""
    pos = doc.position(("spec", *path))
    findings.append(
        finding(
            doc.file,
            (pos.line, pos.column),
            "E-TEMPLATE-KEY",
            f"mapping key {key!r} holds a template, but keys are never templated (it would be sent as written)",
            "write the key literally and template its value; for per-environment keys use one document per "
            "environment (metadata.environments)",
            path=("spec", *path),
        )
    )


def _finish(doc: Document, parts: list[Any], spec: Any) -> tuple[RenderedResource | None, list[Finding]]:
    merged = _merge([*parts, spec])
    replaced, refs, ref_problems = replace_generic_refs(merged)
    findings: list[Finding] = []
    for problem in ref_problems:
        pos = doc.position(("spec", *problem.path))
        findings.append(
            finding(
                doc.file,
                (pos.line, pos.column),
                "E-REF-FORMAT",
                problem.message,
                problem.hint,
                path=("spec", *problem.path),
            )
        )
    if findings:
        return None, findings
    final = unwrap(replaced)
    if not isinstance(final, dict):  # the loader guarantees a map; kept for hand-built repos
        return None, findings
    refs.extend(table_refs(doc.kind, final, {r.path for r in refs}))
    return (
        RenderedResource(
            kind=doc.kind, slug=doc.slug, spec=final, document=doc, refs=refs, secrets=collect_secrets(final)
        ),
        findings,
    )


def collect_secrets(spec: Any) -> list[SecretRef]:
    """Every ``secrets://REF`` in ``spec`` (whole values and tokens inside strings), in order."""
    out: list[SecretRef] = []

    def walk(node: Any, path: Path) -> None:
        if isinstance(node, str):
            for ref, start, end in find_placeholders(node):
                out.append(SecretRef(path, ref, whole=start == 0 and end == len(node)))
        elif isinstance(node, dict):
            for key, value in node.items():
                walk(value, (*path, key))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, (*path, i))
        elif isinstance(node, Verbatim):
            walk(node.value, path)

    walk(spec, ())
    return out
