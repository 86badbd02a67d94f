"""Validation end to end: load → render per environment → schemas → lint rules → secret scan and
secrets boundary → behavioural tests' blocks → (optionally) compatibility against a git ref.  Returns
findings; never raises for bad config.

``validate_repo`` is what ``ci-deployer validate`` prints, and what ``plan``/``apply`` call to refuse
bad config before any API call.
"""

from __future__ import annotations

import contextlib
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ci_deployer.config.model import ConfigRepo, RenderedResource
from ci_deployer.errors import ConfigError
from ci_deployer.findings import Finding
from ci_deployer.paths import format_path
from ci_deployer.platform import kinds
from ci_deployer.validate import rules, secret_boundary, secrets_scan
from ci_deployer.validate.report import sorted_findings

if TYPE_CHECKING:
    from ci_deployer.config.parsecache import ParseCache

ENVIRONMENTS_FILE = "environments.yaml"


@dataclass
class ValidationResult:
    """All findings of one run, plus the counts the summary line shows."""

    findings: list[Finding] = field(default_factory=list)
    documents: int = 0
    environments: int = 0
    repo: ConfigRepo | None = None
    # env → its rendered resources: plan, apply and the gates reuse them (one load per command)
    rendered: dict[str, list[RenderedResource]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(f.level == "error" for f in self.findings)


def validate_repo(root: Path, envs: list[str] | None = None, base: str | None = None) -> list[Finding]:
    """Every finding for the config at ``root`` (paths relative to ``root``), for ``envs`` (None or
    ``["all"]``: every environment), with tool schema compatibility against git ``base`` if given."""
    return run(root, envs, base).findings


def _load(root: Path, cache: ParseCache | None = None) -> tuple[ConfigRepo | None, list[Finding]]:
    from ci_deployer.config import loader

    try:
        return loader.load_repo(root, cache)
    except ConfigError as exc:
        path = Path(exc.path) if exc.path else Path(ENVIRONMENTS_FILE)
        if path.is_absolute() or path.parts[: len(root.parts)] == root.parts:
            with contextlib.suppress(ValueError):  # outside the root: keep it as given
                path = path.resolve().relative_to(root.resolve())
        return None, [Finding(path.as_posix(), exc.line, None, "E-CONFIG", exc.message, "error", exc.hint)]


def _render(repo: ConfigRepo, env: str) -> tuple[list[RenderedResource], list[Finding]]:
    from ci_deployer.config import render

    return render.render_env(repo, env)


def _schema_findings(res: RenderedResource) -> list[Finding]:
    from ci_deployer.validate import schemas

    kind = kinds.KINDS.get(res.kind)
    if kind is None:
        return []
    mode: Literal["create", "update"] = "create" if kind.creatable else "update"
    too_long = rules.name_limit(res)
    skip = tuple(too_long[0].split(".")) if too_long else None
    findings = []
    for issue in schemas.validate_spec(res.kind, res.spec, mode=mode):
        path = tuple(issue.path)
        if skip is not None and path == skip:
            continue  # the name-length rule says it better (with the rendered name and the env)
        pos = res.position(path)
        where = format_path(path, "spec")
        findings.append(Finding(pos.file, pos.line, pos.column, "E-SCHEMA", issue.message, "error", issue.hint, where))
    return findings


def _select_envs(repo: ConfigRepo, envs: list[str] | None) -> tuple[list[str], list[Finding]]:
    if not envs or envs == ["all"]:
        return list(repo.environments), []
    chosen, findings = [], []
    for name in envs:
        if name in repo.environments:
            chosen.append(name)
            continue
        close = difflib.get_close_matches(name, list(repo.environments), n=1)
        suggestion = f" (did you mean '{close[0]}'?)" if close else ""
        findings.append(
            Finding(
                ENVIRONMENTS_FILE,
                None,
                None,
                "E-ENV-UNKNOWN",
                f"environment '{name}' is not defined in {ENVIRONMENTS_FILE}{suggestion}",
                "error",
                f"use one of: {', '.join(repo.environments) or '(none defined)'}, or `--env all`",
            )
        )
    return chosen, findings


def run(
    root: Path, envs: list[str] | None = None, base: str | None = None, *, cache: ParseCache | None = None
) -> ValidationResult:
    """Like :func:`validate_repo`, also returning the counts for the summary line (files parsed
    through ``cache`` when given)."""
    if not root.is_dir():
        missing = Finding(
            root.as_posix(),
            None,
            None,
            "E-CONFIG-MISSING",
            f"config folder {root} does not exist or is not a folder",
            "error",
            "pass --config DIR pointing at the folder holding environments.yaml",
        )
        return ValidationResult([missing])
    repo, findings = _load(root, cache)
    return check(root, repo, findings, envs, base)


def check(
    root: Path,
    repo: ConfigRepo | None,
    findings: list[Finding],
    envs: list[str] | None = None,
    base: str | None = None,
    *,
    other_files: bool = True,
) -> ValidationResult:
    """Validate a loaded ``repo`` (``findings``: the loader's).  A partial plan passes the documents
    it loaded, and ``other_files=False``: only those documents are scanned for secrets, not every
    text file under the root (``ci-deployer validate`` does that)."""
    result = ValidationResult(findings=list(findings), repo=repo)
    if repo is None:
        result.findings = _dedupe(result.findings)
        return result
    result.documents = len(repo.documents)
    selected, env_findings = _select_envs(repo, envs)
    result.environments = len(selected)
    result.findings.extend(env_findings)
    result.findings.extend(rules.run_repo_rules(repo))
    result.findings.extend(secrets_scan.scan_repo(repo, ENVIRONMENTS_FILE, other_files=other_files))
    loaded = {d.file for d in repo.documents}
    broken = frozenset(f.path for f in result.findings if f.level == "error" and f.path not in loaded)
    rendered = result.rendered
    for name in selected:
        resources, render_findings = _render(repo, name)
        rendered[name] = resources
        result.findings.extend(render_findings)
        for res in resources:
            result.findings.extend(_schema_findings(res))
        result.findings.extend(rules.run_env_rules(repo, repo.environments[name], resources, broken))
        result.findings.extend(secret_boundary.check_env(repo.environments[name], resources))
    from ci_deployer.config import behaviour

    result.findings.extend(behaviour.check_repo(repo, rendered, broken))  # test: and smoke: blocks
    if base:
        from ci_deployer.validate import compat

        def load_base(path: Path) -> ConfigRepo | None:
            return _load(path)[0]

        def render_base(base_repo: ConfigRepo, env: str) -> list[RenderedResource]:
            return _render(base_repo, env)[0]

        result.findings.extend(compat.check_base(root, base, rendered, load_base, render_base))
    result.findings = _dedupe(result.findings)
    return result


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per (file, line, column, code, message): environments repeat the same problem."""
    seen: dict[tuple[object, ...], Finding] = {}
    for finding in findings:
        key = (finding.path, finding.line, finding.column, finding.code, finding.message, finding.level)
        seen.setdefault(key, finding)
    return sorted_findings(seen.values())
