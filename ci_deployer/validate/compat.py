"""Backward compatibility of tool parameter schemas against a git ref (``validate --base REF``).

A tool's parameter schema is a contract with the server that implements it and with every
assistant version and live call that already uses it.  Comparing old → new, these are breaking:
a removed property, a property that became required, a changed type, removed enum values (or an
enum where there was none).  Adding an optional property is fine.

The base version is materialized with real git (``git archive REF -- <config folder>``) into a
temporary folder, then loaded and rendered like the working tree.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_deployer.config.model import ConfigRepo, RenderedResource
from ci_deployer.findings import Finding
from ci_deployer.paths import Path as DataPath
from ci_deployer.paths import format_path

CODE_BASE = "E-COMPAT-BASE"
# Paths inside a Tool spec that hold a JSON schema the model fills and a server consumes.
SCHEMA_FIELDS: tuple[DataPath, ...] = (("function", "parameters"), ("body",))

GIT_TIMEOUT = 60


@dataclass(frozen=True)
class Change:
    """One breaking difference at ``path`` (inside the compared schema)."""

    code: str
    path: DataPath
    message: str


def _types(schema: dict[str, Any]) -> set[str] | None:
    value = schema.get("type")
    if isinstance(value, str):
        return {value}
    if isinstance(value, list):
        return {str(v) for v in value}
    return None


def compare_schemas(old: Any, new: Any, path: DataPath = ()) -> Iterator[Change]:
    """Breaking changes from JSON schema ``old`` to ``new`` (both as dicts), depth first."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return
    old_types, new_types = _types(old), _types(new)
    if old_types and new_types and not old_types <= new_types:
        yield Change(
            "E-COMPAT-TYPE",
            path,
            f"type changed from {'|'.join(sorted(old_types))} to {'|'.join(sorted(new_types))}",
        )
        return  # what lies below a changed type is a different schema
    old_enum, new_enum = old.get("enum"), new.get("enum")
    if isinstance(new_enum, list):
        if not isinstance(old_enum, list):
            yield Change("E-COMPAT-ENUM", path, "now restricted to an enum (values that were valid are refused)")
        else:
            removed = [v for v in old_enum if v not in new_enum]
            if removed:
                yield Change("E-COMPAT-ENUM", path, f"enum values removed: {', '.join(map(repr, removed))}")
    old_props = old.get("properties") if isinstance(old.get("properties"), dict) else {}
    new_props = new.get("properties") if isinstance(new.get("properties"), dict) else {}
    assert isinstance(old_props, dict) and isinstance(new_props, dict)
    for name in old_props:
        if name not in new_props:
            yield Change("E-COMPAT-REMOVED", (*path, "properties"), f"property '{name}' was removed")
    old_required = set(old.get("required") or []) if isinstance(old.get("required"), list) else set()
    new_required = new.get("required") if isinstance(new.get("required"), list) else []
    for name in new_required or []:
        if name not in old_required:
            was = "optional" if name in old_props else "new"
            yield Change("E-COMPAT-REQUIRED", (*path, "required"), f"property '{name}' is now required (it was {was})")
    for name, sub in new_props.items():
        if name in old_props:
            yield from compare_schemas(old_props[name], sub, (*path, "properties", name))
    if isinstance(old.get("items"), dict) and isinstance(new.get("items"), dict):
        yield from compare_schemas(old["items"], new["items"], (*path, "items"))


def compare_tools(old: dict[str, RenderedResource], new: list[RenderedResource], env: str) -> list[Finding]:
    """Breaking changes of each Tool in ``new`` against the same tool (by slug or a previous name)
    in ``old``, located at the new document's field."""
    findings = []
    for res in new:
        if res.kind != "Tool":
            continue
        before = old.get(res.slug)
        for previous in res.document.metadata.previous_names:
            before = before or old.get(previous)
        if before is None:
            continue
        for field in SCHEMA_FIELDS:
            old_schema, new_schema = _get(before.spec, field), _get(res.spec, field)
            if old_schema is None or new_schema is None:
                continue
            for change in compare_schemas(old_schema, new_schema):
                path = (*field, *change.path)
                pos = res.position(path)
                findings.append(
                    Finding(
                        pos.file,
                        pos.line,
                        pos.column,
                        change.code,
                        f"breaking change to Tool '{res.slug}' {format_path(path)}: {change.message}",
                        "error",
                        "callers built against the old schema will break: add a new optional property instead, "
                        f"or create a new tool (new slug) and move assistants to it (env '{env}')",
                        format_path(path, "spec"),
                    )
                )
    return findings


def _get(data: Any, path: DataPath) -> Any:
    for step in path:
        if not isinstance(data, dict) or step not in data:
            return None
        data = data[step]
    return data


class BaseUnavailable(Exception):
    """The base ref could not be materialized; ``finding`` says why and what to do."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=GIT_TIMEOUT, check=False)


def _base_finding(message: str, hint: str) -> Finding:
    return Finding(".", None, None, CODE_BASE, message, "error", hint)


def materialize(root: Path, ref: str, dest: Path) -> Path | None:
    """Write the config folder ``root`` as of git ``ref`` under ``dest``; return its path there, or
    None when the folder did not exist at ``ref`` (nothing to compare).  Raises BaseUnavailable."""
    try:
        top = _git(["rev-parse", "--show-toplevel"], root)
    except (OSError, subprocess.SubprocessError) as exc:
        raise BaseUnavailable(_base_finding(f"cannot run git: {exc}", "install git, or drop --base")) from exc
    if top.returncode != 0:
        raise BaseUnavailable(
            _base_finding(
                f"--base {ref}: the config folder {root} is not inside a git repository",
                "run validate from a git checkout, or drop --base",
            )
        )
    toplevel = Path(top.stdout.decode().strip()).resolve()
    commit = _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], toplevel)
    if commit.returncode != 0:
        raise BaseUnavailable(
            _base_finding(
                f"--base {ref}: no such commit, branch or tag in this repository",
                f"fetch it first (`git fetch origin {ref}`; in Actions use actions/checkout with fetch-depth: 0)",
            )
        )
    sha = commit.stdout.decode().strip()
    sub = root.resolve().relative_to(toplevel).as_posix()
    exists = _git(["cat-file", "-e", f"{sha}:{sub}" if sub != "." else sha], toplevel)
    if exists.returncode != 0:
        return None
    args = ["archive", "--format=tar", sha]
    if sub != ".":
        args += ["--", sub]
    archive = _git(args, toplevel)
    if archive.returncode != 0:
        raise BaseUnavailable(
            _base_finding(
                f"--base {ref}: git archive failed: {archive.stderr.decode(errors='replace').strip()}",
                "check that the ref holds the config folder",
            )
        )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return dest / sub if sub != "." else dest


Render = Callable[[ConfigRepo, str], list[RenderedResource]]


def check_base(
    root: Path,
    ref: str,
    current: dict[str, list[RenderedResource]],
    load: Callable[[Path], ConfigRepo | None],
    render: Render,
) -> list[Finding]:
    """Compatibility findings of the working config (``current``: env → rendered resources)
    against ``ref``.  ``load``/``render`` are the loader and renderer (the base may be broken:
    its own findings are not reported, only what can be compared is)."""
    with tempfile.TemporaryDirectory(prefix="ci-deployer-base-") as tmp:
        try:
            base_root = materialize(root, ref, Path(tmp))
        except BaseUnavailable as exc:
            return [exc.finding]
        if base_root is None:
            return []
        base = load(base_root)
        if base is None:
            return []
        findings: list[Finding] = []
        for env, resources in current.items():
            if env not in base.environments:
                continue
            old = {r.slug: r for r in render(base, env) if r.kind == "Tool"}
            findings.extend(compare_tools(old, resources, env))
        return findings
