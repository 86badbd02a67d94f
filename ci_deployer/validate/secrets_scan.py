"""Plaintext secret scan over the raw (pre-render) config.

Two detectors, in the spirit of gitleaks/detect-secrets but small and offline:

* **token shapes**: strings that look like a known credential (OpenAI ``sk-…``, GitHub ``ghp_…`` /
  ``github_pat_…``, Slack ``xox?-…``, AWS ``AKIA…``, Google ``AIza…``, Stripe ``sk_live_…``,
  JWTs, PEM private keys), anywhere;
* **secret-ish keys**: a literal value under a key such as ``token``, ``apiKey``, ``password``,
  ``authorization``, ``clientSecret`` that is not a ``secrets://`` placeholder.

Documents are scanned through their parsed data (positions come from the loader); environments.yaml
is composed here to get positions; every other text file under the root (prompts, included JSON,
documents the loader could not parse) is scanned line by line for token shapes.  A finding never
contains the value: only a masked preview such as ``sk-…(51 chars)``.
"""

from __future__ import annotations

import functools
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ci_deployer.config.model import ConfigRepo, Document
from ci_deployer.findings import Finding
from ci_deployer.paths import Path as DataPath
from ci_deployer.paths import format_path

CODE_TOKEN = "E-SECRET-TOKEN"  # noqa: S105 (a finding code, not a password)
CODE_VALUE = "E-SECRET-VALUE"
CODE_TEMPLATE = "W-SECRET-TEMPLATE"

HINT = (
    "replace it with secrets://NAME and set NAME in the environment/CI secrets; "
    "a key that was committed must be rotated (git history keeps it)"
)

# DESIGN §2: a placeholder ends at the first character outside [A-Za-z0-9_./#-].
PLACEHOLDER = re.compile(r"secrets://[A-Za-z0-9_./#-]+")
TEMPLATE = re.compile(r"\$\{[{%].*?[}%]\}", re.DOTALL)
LIQUID = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)

_BOUNDARY = r"(?<![A-Za-z0-9_-])"


@dataclass(frozen=True)
class TokenShape:
    label: str
    prefix: str  # shown in the masked preview (a shape's fixed prefix is not secret)
    pattern: re.Pattern[str]


TOKEN_SHAPES: tuple[TokenShape, ...] = (
    TokenShape("PEM private key", "-----BEGIN", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----")),
    TokenShape("Stripe secret key", "sk_live_", re.compile(_BOUNDARY + r"[sr]k_live_[A-Za-z0-9]{16,}")),
    TokenShape("OpenAI API key", "sk-", re.compile(_BOUNDARY + r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}")),
    TokenShape("GitHub token", "github_pat_", re.compile(_BOUNDARY + r"github_pat_[A-Za-z0-9_]{22,}")),
    TokenShape("GitHub token", "gh?_", re.compile(_BOUNDARY + r"gh[pousr]_[A-Za-z0-9]{30,}")),
    TokenShape("Slack token", "xox?-", re.compile(_BOUNDARY + r"xox[abposr]-[A-Za-z0-9-]{10,}")),
    TokenShape("AWS access key id", "AKIA", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])")),
    TokenShape("Google API key", "AIza", re.compile(_BOUNDARY + r"AIza[0-9A-Za-z_-]{35}")),
    TokenShape("JWT", "eyJ", re.compile(_BOUNDARY + r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
)

# Normalized (lower case, no '-', '_' or spaces) key suffixes that hold secrets.  "key" alone is too
# broad (Vapi has promptCacheKey, systemKey, publicKey); "tokens" (maxTokens) does not match "token".
SECRET_KEY_SUFFIXES = (
    "secret",
    "token",
    "password",
    "passwd",
    "passphrase",
    "apikey",
    "privatekey",
    "secretkey",
    "accesskey",
    "authorization",
    "subscriptionkey",
    "openaikey",
    "credentials",
    "cookie",
)

MAX_SCAN_BYTES = 2 * 1024 * 1024  # bigger files are refused by the loader; don't read 50 MB twice
TEXT_SUFFIXES = frozenset({".yaml", ".yml", ".json", ".md", ".txt", ".j2", ".jinja", ".liquid", ".prompt", ".env"})


# A literal every shape's pattern holds: a string holding none of them matches no shape (most strings).
_SHAPE_LITERALS: tuple[str, ...] = ("-----BEGIN", "k_live_", "sk-", "github_pat_", "ghp_", "gho_", "ghu_", "ghs_")
_SHAPE_LITERALS += ("ghr_", "xox", "AKIA", "ASIA", "AIza", "eyJ")


def is_secret_key(key: object) -> bool:
    """True for keys whose values are credentials (``apiKey``, ``x-api-key``, ``Authorization``…)."""
    return isinstance(key, str) and _secret_key(key)


@functools.lru_cache(maxsize=4096)  # a config repeats a few hundred keys thousands of times
def _secret_key(key: str) -> bool:
    norm = re.sub(r"[-_ .]", "", key.lower())
    return norm.endswith(SECRET_KEY_SUFFIXES)


def masked(value: str, prefix: str = "") -> str:
    """``sk-…(51 chars)``: the shape's public prefix and the length, never the value."""
    return f"{prefix}…({len(value)} chars)"


def find_token(text: str) -> tuple[TokenShape, re.Match[str]] | None:
    """The first known token shape in ``text`` (placeholders excluded), or None."""
    if len(text) < 16 or not any(literal in text for literal in _SHAPE_LITERALS):
        return None
    for shape in TOKEN_SHAPES:
        match = shape.pattern.search(text)
        if match is not None:
            return shape, match
    return None


def _token_finding(
    file: str, line: int | None, col: int | None, where: str, hit: tuple[TokenShape, re.Match[str]]
) -> Finding:
    shape, match = hit
    preview = "PEM private key block" if shape.prefix == "-----BEGIN" else masked(match.group(0), shape.prefix)
    location = f" in {where}" if where else ""
    return Finding(
        path=file,
        line=line,
        column=col,
        code=CODE_TOKEN,
        message=f"plaintext secret{location}: looks like a {shape.label} ({preview})",
        hint=HINT,
        json_path=where,
    )


def check_value(file: str, line: int | None, col: int | None, *, key: object, where: str, value: str) -> Finding | None:
    """The finding for one string value at ``where`` under ``key``, if it holds a secret."""
    hit = find_token(value)
    if hit is not None:
        return _token_finding(file, line, col, where, hit)
    if not is_secret_key(key) or not value.strip():
        return None
    rest = PLACEHOLDER.sub("", value)
    if rest != value:
        return None  # "Bearer secrets://X": the secret part is a placeholder
    if TEMPLATE.search(value):
        return Finding(
            path=file,
            line=line,
            column=col,
            code=CODE_TEMPLATE,
            level="warning",
            message=f"'{key}' at {where} is set by a template; it must render to a secrets:// placeholder, not a value",
            hint="put the secret in CI secrets and write secrets://NAME here (templates are rendered into plans)",
            json_path=where,
        )
    if LIQUID.search(value):
        return None  # Vapi fills {{ … }} at call time: nothing is stored in the config
    return Finding(
        path=file,
        line=line,
        column=col,
        code=CODE_VALUE,
        message=f"plaintext secret: '{key}' at {where} holds a literal value ({masked(value)})",
        hint=HINT,
        json_path=where,
    )


def _walk(node: Any, path: DataPath) -> Iterator[tuple[DataPath, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, (*path, index))
    else:
        yield path, node


def scan_document(doc: Document) -> list[Finding]:
    """Secrets in one document's raw data (spec and free-text metadata)."""
    findings: list[Finding] = []
    roots: list[tuple[DataPath, Any]] = [
        (("spec",), doc.spec),
        (("metadata", "description"), doc.metadata.description),
        (("metadata", "labels"), doc.metadata.labels),
    ]
    if not any(_suspect(data, str(prefix[-1])) for prefix, data in roots):
        return findings  # the common case, told without building a path per value
    for prefix, data in roots:
        for path, value in _walk(data, prefix):
            if not isinstance(value, str):
                continue
            key = next((step for step in reversed(path) if isinstance(step, str)), "")
            # Whether a value is a secret depends on it and its key alone: its position and path are
            # looked up only for the (rare) values that are.
            if check_value(doc.file, None, None, key=key, where="", value=value) is None:
                continue
            pos = doc.position(path)
            found = check_value(doc.file, pos.line, pos.column, key=key, where=format_path(path), value=value)
            if found is not None:
                findings.append(found)
    return findings


def _suspect(node: Any, key: str) -> bool:
    """Whether a string in ``node`` (under ``key``, its nearest map key) is a finding of check_value."""
    if isinstance(node, dict):
        return any(_suspect(value, str(k)) for k, value in node.items())
    if isinstance(node, list):
        return any(_suspect(value, key) for value in node)
    return isinstance(node, str) and check_value("", None, None, key=key, where="", value=node) is not None


def _walk_nodes(node: yaml.Node, path: DataPath, key: object) -> Iterator[tuple[DataPath, object, yaml.ScalarNode]]:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            name = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
            yield from _walk_nodes(value_node, (*path, name), name)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk_nodes(item, (*path, index), key)
    elif isinstance(node, yaml.ScalarNode):
        yield path, key, node


def scan_yaml_text(file: str, text: str) -> list[Finding]:
    """Secrets in a YAML file that is not a document (environments.yaml), with positions."""
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        root = yaml.compose(text, Loader=loader)
    except yaml.YAMLError:
        return scan_text(file, text)
    if root is None:
        return []
    findings = []
    for path, key, node in _walk_nodes(root, (), ""):
        if node.tag != "tag:yaml.org,2002:str" or _is_api_token(path):
            continue
        mark = node.start_mark
        found = check_value(
            file, mark.line + 1, mark.column + 1, key=key, where=format_path(path), value=str(node.value)
        )
        if found is not None:
            findings.append(found)
    return findings


def _is_api_token(path: DataPath) -> bool:
    # The environments loader already refuses a literal api.token (E-ENV-TOKEN-LITERAL); one finding is enough.
    return len(path) == 4 and path[0] == "environments" and path[2:] == ("api", "token")


def scan_text(file: str, text: str) -> list[Finding]:
    """Token shapes in free text (prompts, included files, unparseable documents), line by line."""
    findings = []
    for number, line in enumerate(text.splitlines(), start=1):
        hit = find_token(line)
        if hit is not None:
            findings.append(_token_finding(file, number, hit[1].start() + 1, "", hit))
    return findings


def _text_files(root: Path) -> list[tuple[str, str]]:
    """``(relative path, path)`` of every text file under ``root``, folder by folder (its files by
    name, then its subfolders by name), with ``os.scandir``: no ``lstat`` or path object per file."""
    # Hidden folders (.git, .ci-deployer state) are not config; symlinks are not followed (the loader
    # refuses links out of the root, and reading /etc/shadow to scan it would be its own leak).
    out: list[tuple[str, str]] = []

    def walk(folder: str, rel: str) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        dirs = []
        for entry in entries:
            if _is_dir(entry):
                if not entry.name.startswith(".") and not entry.is_symlink():
                    dirs.append(entry)
            elif not entry.is_symlink() and _suffix(entry.name) in TEXT_SUFFIXES:
                out.append((rel + entry.name, entry.path))
        for entry in dirs:
            walk(entry.path, f"{rel}{entry.name}/")

    walk(str(root), "")
    return out


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _suffix(name: str) -> str:
    """``PurePath(name).suffix.lower()``: a name's last dotted part, not for a leading dot (``.env``)."""
    i = name.rfind(".")
    return name[i:].lower() if 0 < i < len(name) - 1 else ""


def _read_text(path: Path) -> str | None:
    try:
        info = path.stat()
        # Regular files only: opening a FIFO named *.yaml would block validate forever.
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_SCAN_BYTES:
            return None
        with path.open("rb") as handle:
            data = handle.read(info.st_size + 1)  # not MAX_SCAN_BYTES + 1: that much is allocated per file
            if len(data) == info.st_size + 1:  # it grew since stat
                data += handle.read(MAX_SCAN_BYTES + 1 - len(data))
    except OSError:
        return None
    if len(data) > MAX_SCAN_BYTES:
        return None
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")


def scan_repo(
    repo: ConfigRepo, environments_file: str = "environments.yaml", *, other_files: bool = True
) -> list[Finding]:
    """Every plaintext secret in the config repository: documents, environments.yaml, other files
    (``other_files=False``: the documents and environments.yaml only)."""
    findings: list[Finding] = []
    scanned: set[str] = set()
    for doc in repo.documents:
        findings.extend(scan_document(doc))
        scanned.add(doc.file)
    root = repo.root
    if not other_files:
        text = _read_text(root / environments_file)
        return findings + (scan_yaml_text(environments_file, text) if text is not None else [])
    for rel, path in _text_files(root):
        if rel in scanned:
            continue
        text = _read_text(Path(path))
        if text is None:
            continue
        if rel == environments_file:
            findings.extend(scan_yaml_text(rel, text))
        else:
            findings.extend(scan_text(rel, text))
    return findings
