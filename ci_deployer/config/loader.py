"""Loading a config repository: ``environments.yaml`` and every document under the root.

Which files are read: ``*.yaml``, ``*.yml`` and ``*.json`` anywhere under the root, in sorted
order, except the root's ``environments.yaml``, hidden files and everything in hidden folders
(``.git/``, ``.ci-deployer/``).  Symlinked folders are not followed; a symlinked file must resolve
inside the root.

Which files are documents: those whose top-level map has ``apiVersion`` or ``kind``.  Other
YAML/JSON files (include targets such as JSON parameter schemas) are skipped silently.  But a file
that cannot be read or parsed, or is empty, or is a top-level list holding documents
(``- apiVersion: …``), is a finding: it was meant as documents.

Envelope rules checked here (the spec itself is validated later, against the schemas):
``apiVersion: ci-deployer/v1``; ``kind`` one of :data:`ci_deployer.platform.kinds.DOCUMENT_KINDS`;
``metadata.name`` a slug (``[a-z0-9][a-z0-9-]*``, ≤ 40 ASCII characters); ``previousNames`` slugs;
``labels`` a map of strings; ``environments`` names from environments.yaml; ``policies`` a list of
Policy names that exist; ``spec`` a map; ``documents`` (KnowledgeBase only) a list of paths, globs or
``{file: PATH}`` (:mod:`ci_deployer.config.documents` checks the files); the behavioural tests'
``test`` (Eval) and ``smoke`` (Tool) blocks, kept as written and checked by
:mod:`ci_deployer.config.behaviour`; no other top-level or metadata keys.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path as FsPath
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from ci_deployer.config._util import did_you_mean, finding
from ci_deployer.config.environments import API_VERSION, parse_environments
from ci_deployer.config.model import ConfigRepo, Document, Environment, Metadata
from ci_deployer.config.yamlsource import MAX_DOCUMENT_BYTES, Parsed, ParseProblem, parse_text, read_text
from ci_deployer.errors import ConfigError
from ci_deployer.findings import Finding
from ci_deployer.logsafe import has_controls
from ci_deployer.paths import Path
from ci_deployer.platform.kinds import DOCUMENT_KINDS, POLICY

if TYPE_CHECKING:
    from ci_deployer.config.parsecache import ParseCache

ENVIRONMENTS_FILE = "environments.yaml"
SUFFIXES = (".yaml", ".yml", ".json")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
SLUG_MAX = 40
TOP_KEYS = ("apiVersion", "kind", "metadata", "policies", "spec", "documents", "test", "smoke")
METADATA_KEYS = ("name", "previousNames", "description", "labels", "environments")


def load_repo(root: FsPath, cache: ParseCache | None = None) -> tuple[ConfigRepo, list[Finding]]:
    """Read ``environments.yaml`` and every document under ``root`` (documents parsed through
    ``cache`` when given: :mod:`ci_deployer.config.parsecache`).

    Never raises for bad user input (every problem is a finding with file, line and hint); raises
    :class:`ConfigError` only when ``root`` or its ``environments.yaml`` is missing or unreadable.
    """
    if not root.is_dir():
        raise ConfigError(
            f"config folder {root} does not exist",
            hint="pass --config DIR pointing at the folder that holds environments.yaml",
        )
    env_path = root / ENVIRONMENTS_FILE
    if not env_path.is_file():
        raise ConfigError(
            f"{ENVIRONMENTS_FILE} not found in {root}",
            path=str(env_path),
            hint="create environments.yaml (see the README) or point --config at the folder that has it",
        )
    if not os.access(env_path, os.R_OK):
        raise ConfigError("cannot read environments.yaml", path=str(env_path), hint="check its permissions")
    findings: list[Finding] = []
    environments, defaults = _load_environments(env_path, findings)
    root_real = root.resolve()
    documents: list[Document] = []
    parse = cache.parse if cache is not None else parse_text
    for rel, entry in candidate_entries(str(root)):
        doc = _load_document(
            FsPath(entry.path), rel, root_real, environments, findings, symlink=entry.is_symlink(), parse=parse
        )
        if doc is not None:
            documents.append(doc)
    if cache is not None:
        cache.save()
    _check_policy_names(documents, findings)
    return ConfigRepo(root=root, environments=environments, documents=documents, defaults=defaults), findings


def _load_environments(path: FsPath, findings: list[Finding]) -> tuple[dict[str, Environment], dict[str, Any]]:
    try:
        parsed = parse_text(read_text(path, MAX_DOCUMENT_BYTES))
    except ParseProblem as problem:
        findings.append(_problem_finding(ENVIRONMENTS_FILE, problem))
        return {}, {}
    if parsed.data is None:
        findings.append(
            finding(ENVIRONMENTS_FILE, (1, 1), "E-FILE-EMPTY", "environments.yaml is empty", "define your environments")
        )
        return {}, {}
    envs, defaults, problems = parse_environments(parsed.data, parsed.positions)
    findings.extend(problems)
    return envs, defaults


def candidate_entries(root: str) -> list[tuple[str, os.DirEntry[str]]]:
    """Every candidate file as its path relative to ``root`` and its directory entry, in the
    loader's order: a folder's files by name, then its subfolders by name (what ``os.walk`` with
    sorted names gives, without its ``lstat`` per folder), no folder link followed."""
    out: list[tuple[str, os.DirEntry[str]]] = []

    def walk(folder: str, rel: str) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:  # as os.walk: an unreadable folder is skipped
            return
        for entry in entries:
            name = entry.name
            if name.startswith(".") or _is_dir(entry) or not name.lower().endswith(SUFFIXES):
                continue
            if not rel and name == ENVIRONMENTS_FILE:
                continue
            out.append((rel + name, entry))
        for entry in entries:
            if not entry.name.startswith(".") and _is_dir(entry) and not entry.is_symlink():
                walk(entry.path, f"{rel}{entry.name}/")

    walk(root, "")
    return out


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # a link to a folder is a folder (os.walk lists it so, and does not enter it)
    except OSError:
        return False


def _problem_finding(rel: str, problem: ParseProblem) -> Finding:
    mark = (problem.line, problem.column) if problem.line is not None else (None, None)
    return finding(rel, mark, problem.code, problem.message, problem.hint)


def _load_document(
    file: FsPath,
    rel: str,
    root_real: FsPath,
    environments: dict[str, Environment],
    findings: list[Finding],
    *,
    symlink: bool | None = None,
    parse: Callable[..., Parsed] = parse_text,
) -> Document | None:
    # The walk never enters a symlinked folder, so only a symlinked file can lead out of the root:
    # one lstat per file (none when the walk's directory entry told) instead of resolving every path.
    inside = True
    if file.is_symlink() if symlink is None else symlink:
        try:
            inside = file.resolve().is_relative_to(root_real)
        except (OSError, RuntimeError):  # symlink loop
            inside = False
    if not inside:
        findings.append(
            finding(
                rel,
                None,
                "E-FILE-OUTSIDE",
                "file is a symlink that leads outside the config folder",
                "copy the file into the config folder instead of linking to it",
            )
        )
        return None
    is_json = rel.lower().endswith(".json")
    try:
        text = read_text(file, MAX_DOCUMENT_BYTES)
        # JSON include targets (parameter schemas) can be big: learn positions only for documents.
        parsed = parse(text, json_file=is_json, positions=not is_json)
        if is_json and (_is_document(parsed.data) or _listed_documents(parsed.data)):
            parsed = parse(text, json_file=True)
    except ParseProblem as problem:
        findings.append(_problem_finding(rel, problem))
        return None
    if parsed.data is None:
        findings.append(
            finding(
                rel,
                (1, 1),
                "E-FILE-EMPTY",
                "file is empty",
                "write a document (apiVersion, kind, metadata, spec) or delete the file",
            )
        )
        return None
    listed = _listed_documents(parsed.data)
    if listed:
        first = listed[0]
        findings.append(
            finding(
                rel,
                parsed.positions.get((first,), (1, 1)),
                "E-DOC-LIST",
                f"the file is a list of {len(listed)} document(s); a document file holds exactly one document",
                "one document per file: make the top level a map with apiVersion, kind, metadata and spec "
                "(split the list into one file per item)",
                path=(first,),
            )
        )
        return None
    if not _is_document(parsed.data):
        return None  # not a document: an include target such as a JSON schema
    return _envelope(parsed, rel, environments, findings)


def _is_document(data: Any) -> bool:
    return isinstance(data, dict) and ("apiVersion" in data or "kind" in data)


def _listed_documents(data: Any) -> list[int]:
    """Indexes of the items that look like documents when the top level is a list.

    Such a file was meant as documents but would otherwise be skipped silently, like an include
    target (a list without document-shaped items, e.g. messages for ``{json: …}``, still is).
    """
    if not isinstance(data, list):
        return []
    return [i for i, item in enumerate(data) if _is_document(item)]


class _DocChecker:
    def __init__(self, rel: str, parsed: Parsed, findings: list[Finding]) -> None:
        self.rel = rel
        self.positions = parsed.positions
        self.findings = findings
        self.fatal = False

    def mark(self, path: Path) -> tuple[int, int]:
        probe = path
        while probe not in self.positions and probe:
            probe = probe[:-1]
        return self.positions.get(probe, (1, 1))

    def add(self, path: Path, code: str, message: str, hint: str, *, fatal: bool = False, warn: bool = False) -> None:
        self.fatal = self.fatal or fatal
        self.findings.append(
            finding(self.rel, self.mark(path), code, message, hint, path=path, level="warning" if warn else "error")
        )


def _slug_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    bad = next((c for c in value if not c.isascii() or not c.isprintable()), None)
    if bad is not None:
        what = "non-ASCII" if not bad.isascii() and bad.isprintable() else "control"
        return f"contains the {what} character {bad!r}"
    if len(value) > SLUG_MAX:
        return f"is {len(value)} characters long (at most {SLUG_MAX})"
    if not SLUG.fullmatch(value):  # fullmatch: `$` alone would accept a trailing newline
        return "may only hold lowercase letters, digits and '-', starting with a letter or digit"
    return None


def _envelope(
    parsed: Parsed, rel: str, environments: dict[str, Environment], findings: list[Finding]
) -> Document | None:
    data: dict[Any, Any] = parsed.data
    check = _DocChecker(rel, parsed, findings)
    api_version = data.get("apiVersion")
    if api_version != API_VERSION:
        got = "missing" if api_version is None else f"{api_version!r}, not {API_VERSION!r}"
        check.add(("apiVersion",), "E-DOC-APIVERSION", f"apiVersion is {got}", f"write `apiVersion: {API_VERSION}`")
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in DOCUMENT_KINDS:
        got = "missing" if kind is None else f"{kind!r}"
        suggestion = did_you_mean(kind, DOCUMENT_KINDS) if isinstance(kind, str) else ""
        check.add(
            ("kind",),
            "E-DOC-KIND",
            f"kind is {got}{suggestion}",
            f"kind must be one of {', '.join(DOCUMENT_KINDS)}",
            fatal=True,
        )
    for key in data:
        if key not in TOP_KEYS:
            check.add(
                (key,),
                "E-DOC-UNKNOWN-KEY",
                f"unknown top-level key {key!r}{did_you_mean(str(key), TOP_KEYS)}",
                "a document has apiVersion, kind, metadata, policies and spec (plus documents on a "
                "KnowledgeBase, test on an Eval, smoke on a Tool); Vapi fields go under spec",
            )
    metadata = _metadata(check, data.get("metadata"), environments)
    policies: list[str] = []
    raw_policies = data.get("policies")
    if raw_policies is not None:
        if kind == POLICY:
            check.add(("policies",), "E-POLICY-NESTED", "a Policy cannot list policies", "merge them into one Policy")
        elif not isinstance(raw_policies, list):
            check.add(("policies",), "E-DOC-TYPE", "policies must be a list of Policy names", "e.g. policies: [safety]")
        else:
            for i, name in enumerate(raw_policies):
                if isinstance(name, str):
                    policies.append(name)
                else:
                    check.add(("policies", i), "E-DOC-TYPE", "a policy name must be a string", "e.g. safety")
    spec = data.get("spec")
    if not isinstance(spec, dict):
        what = "missing" if spec is None else f"a {type(spec).__name__}, not a map"
        check.add(("spec",), "E-DOC-SPEC", f"spec is {what}", "add `spec:` holding the Vapi payload", fatal=True)
    if kind == POLICY and metadata is not None and metadata.environments is not None:
        check.add(
            ("metadata", "environments"),
            "W-POLICY-ENVIRONMENTS",
            "metadata.environments has no effect on a Policy",
            "set environments on the documents that use the policy",
            warn=True,
        )
    documents = _documents_block(check, kind, data)
    if check.fatal or metadata is None or not isinstance(kind, str) or not isinstance(spec, dict):
        return None
    return Document(
        kind=kind,
        metadata=metadata,
        policies=policies,
        spec=spec,
        file=rel,
        positions=dict(parsed.positions),
        test=data.get("test"),
        smoke=data.get("smoke"),
        documents=documents,
    )


# --- knowledge-base documents (config/documents.py) ------------------------------------------------


def _documents_block(check: _DocChecker, kind: Any, data: dict[Any, Any]) -> list[Any] | None:
    """The ``documents:`` block's shape: a list of non-empty strings or ``{file: PATH}`` maps, on a
    KnowledgeBase only (the files themselves are checked when the document is rendered)."""
    if "documents" not in data:
        return None
    raw = data["documents"]
    if kind != "KnowledgeBase":
        check.add(
            ("documents",),
            "E-DOC-DOCUMENTS-KIND",
            f"documents: is only for KnowledgeBase documents, not {kind}",
            "a query tool names an uploaded file as {document: PATH} in knowledgeBases[].fileIds",
        )
        return None
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        check.add(
            ("documents",),
            "E-DOC-TYPE",
            "documents must be a list of files",
            "e.g. documents: [knowledge/returns/*.md, {file: knowledge/shipping-times.pdf}]",
        )
        return None
    for i, item in enumerate(raw):
        if isinstance(item, str) and item.strip():
            continue
        if isinstance(item, dict) and set(item) == {"file"} and isinstance(item["file"], str) and item["file"].strip():
            continue
        check.add(
            ("documents", i),
            "E-DOC-TYPE",
            "a document is a path or glob (relative to the --config folder), or {file: PATH}",
            "e.g. - knowledge/returns/*.md  or  - {file: knowledge/shipping-times.pdf}",
        )
    return list(raw)


def _metadata(check: _DocChecker, raw: Any, environments: dict[str, Environment]) -> Metadata | None:
    if not isinstance(raw, dict):
        check.add(
            ("metadata",), "E-DOC-NAME", "metadata.name is missing", "add `metadata: {name: my-slug}`", fatal=True
        )
        return None
    for key in raw:
        if key not in METADATA_KEYS:
            check.add(
                ("metadata", key),
                "E-DOC-UNKNOWN-KEY",
                f"unknown metadata key {key!r}{did_you_mean(str(key), METADATA_KEYS)}",
                f"metadata holds {', '.join(METADATA_KEYS)}",
            )
    name = raw.get("name")
    problem = _slug_problem(name)
    if problem is not None:
        check.add(
            ("metadata", "name"),
            "E-DOC-NAME",
            f"metadata.name {name!r} {problem}" if name is not None else "metadata.name is missing",
            "use a slug like order-agent: lowercase ASCII letters, digits and '-', at most 40 characters",
            fatal=not isinstance(name, str) or not name,
        )
    previous: list[str] = []
    raw_previous = raw.get("previousNames")
    if raw_previous is not None:
        if not isinstance(raw_previous, list):
            check.add(("metadata", "previousNames"), "E-DOC-TYPE", "previousNames must be a list", "e.g. [old-name]")
        else:
            for i, old in enumerate(raw_previous):
                problem = _slug_problem(old)
                if problem is not None:
                    check.add(
                        ("metadata", "previousNames", i),
                        "E-DOC-NAME",
                        f"previous name {old!r} {problem}",
                        "list the former slugs exactly as they were",
                    )
                else:
                    previous.append(old)
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        check.add(("metadata", "description"), "E-DOC-TYPE", "description must be a string", "quote it")
        description = None
    labels: dict[str, str] = {}
    raw_labels = raw.get("labels")
    if raw_labels is not None:
        if not isinstance(raw_labels, dict):
            check.add(("metadata", "labels"), "E-DOC-TYPE", "labels must be a map", "e.g. labels: {app: orders}")
        else:
            for key, value in raw_labels.items():
                if not isinstance(key, str) or not isinstance(value, str):
                    check.add(
                        ("metadata", "labels", str(key)),
                        "E-DOC-TYPE",
                        f"label {key!r} must map a string to a string",
                        "quote the value",
                    )
                elif has_controls(key) or has_controls(value) or "\n" in key + value:
                    # Labels are names: printed in plans and sent as assistant metadata.
                    check.add(
                        ("metadata", "labels", key),
                        "E-DOC-CONTROL",
                        f"label {key!r} holds a control character or line break",
                        "labels are one-line names: remove the control characters (escape sequences, NUL, …)",
                    )
                else:
                    labels[key] = value
    envs: list[str] | None = None
    raw_envs = raw.get("environments")
    if raw_envs is not None:
        if not isinstance(raw_envs, list):
            check.add(("metadata", "environments"), "E-DOC-TYPE", "environments must be a list", "e.g. [dev, uat]")
        else:
            envs = []
            for i, env in enumerate(raw_envs):
                if not isinstance(env, str):
                    check.add(
                        ("metadata", "environments", i), "E-DOC-TYPE", "an environment name is a string", "e.g. dev"
                    )
                elif environments and env not in environments:
                    check.add(
                        ("metadata", "environments", i),
                        "E-DOC-ENV-UNKNOWN",
                        f"unknown environment {env!r}{did_you_mean(env, environments)}",
                        f"environments.yaml defines {', '.join(environments)}",
                    )
                else:
                    envs.append(env)
            if not raw_envs:
                check.add(
                    ("metadata", "environments"),
                    "W-DOC-NO-ENVIRONMENTS",
                    "environments is empty: this resource exists in no environment",
                    "remove the key to deploy everywhere, or delete the document",
                    warn=True,
                )
    if not isinstance(name, str) or not name:
        return None
    return Metadata(name=name, previous_names=previous, description=description, labels=labels, environments=envs)


def _check_policy_names(documents: list[Document], findings: list[Finding]) -> None:
    known = [d.slug for d in documents if d.kind == POLICY]
    for doc in documents:
        for i, name in enumerate(doc.policies):
            if name not in known:
                pos = doc.position(("policies", i))
                findings.append(
                    finding(
                        doc.file,
                        (pos.line, pos.column),
                        "E-POLICY-UNKNOWN",
                        f"unknown policy {name!r}{did_you_mean(name, known)}",
                        "create a document with `kind: Policy` and this metadata.name, or fix the name",
                        path=("policies", i),
                    )
                )


def document_dir(root: FsPath, doc: Document) -> FsPath:
    """The folder of ``doc`` on disk (includes are relative to it)."""
    return root / PurePosixPath(doc.file).parent


# The partial loader (config/partial.py) reads a part of the config with the same steps.
load_environments = _load_environments
load_document = _load_document
