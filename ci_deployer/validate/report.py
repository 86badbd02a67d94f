"""Reporters for validation findings: pure functions from findings to text.

``format_text`` is for people (``path:line:col: error CODE message`` then an indented hint),
``format_json`` is the stable machine shape documented in ``docs/formats.md``, and
``format_github`` emits workflow commands so GitHub annotates the YAML line of each finding.
Secret values never reach findings (the scanners print masked previews only); every line still goes
through :func:`ci_deployer.redact.redact` as the last line of defence.  Findings quote user input
(file names, keys, values), so every reporter's output is also made safe for an Actions log with
:mod:`ci_deployer.logsafe`: no line of it can start a workflow command, whatever ``--format``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from ci_deployer import logsafe, redact
from ci_deployer.findings import Finding
from ci_deployer.logsafe import escape_data, escape_property

FORMAT_VERSION = 1


def sort_key(finding: Finding) -> tuple[str, int, int, str, str]:
    """Order by file, then position, then code: the order a reader fixes them in."""
    return (finding.path, finding.line or 0, finding.column or 0, finding.code, finding.message)


def sorted_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=sort_key)


def relocate(findings: Iterable[Finding], root: Path, workspace: Path | None = None) -> list[Finding]:
    """Rewrite config-root-relative paths to be relative to ``workspace`` (default: the working
    directory) when the root lies under it.

    Annotations and editors resolve paths against the workspace (the repository checkout in
    Actions), so ``assistants/a.yaml`` must become ``platform/assistants/a.yaml`` there.  A root
    outside the workspace leaves paths as they are (relative to the root).
    """
    from ci_deployer.report.locations import config_prefix, located

    prefix = config_prefix(root, workspace)
    return [replace(f, path=located(f.path, prefix) or f.path) for f in findings]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def counts(findings: list[Finding]) -> tuple[int, int]:
    """``(errors, warnings)``."""
    errors = sum(1 for f in findings if f.level == "error")
    return errors, len(findings) - errors


def summary_line(findings: list[Finding], *, documents: int, environments: int) -> str:
    """``N errors, M warnings in K files`` — or ``config OK: …`` when there is nothing to say."""
    if not findings:
        return f"config OK: {_plural(documents, 'document')}, {_plural(environments, 'environment')}"
    errors, warnings = counts(findings)
    files = len({f.path for f in findings})
    return f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')} in {_plural(files, 'file')}"


def format_text(findings: list[Finding], *, documents: int = 0, environments: int = 0) -> str:
    """Human-readable report: one ``location: level CODE message`` line per finding, its hint
    indented below, and a summary line."""
    lines = []
    for finding in sorted_findings(findings):
        lines.append(f"{finding.location()}: {finding.level} {finding.code} {finding.message}")
        if finding.hint:
            lines.append(f"    hint: {finding.hint}")
    lines.append(summary_line(findings, documents=documents, environments=environments))
    return logsafe.neutralize(redact.redact("\n".join(lines) + "\n"))


def format_json(findings: list[Finding], *, documents: int = 0, environments: int = 0) -> str:
    """The ``validation`` JSON document of ``docs/formats.md``."""
    ordered = sorted_findings(findings)
    errors, warnings = counts(ordered)
    payload = {
        "formatVersion": FORMAT_VERSION,
        "kind": "validation",
        "ok": errors == 0,
        "errors": errors,
        "warnings": warnings,
        "documents": documents,
        "environments": environments,
        "findings": [f.to_dict() for f in ordered],
    }
    if errors:
        payload["failure_reason"] = "invalid-config"  # as every command's failure (exit 1) says
    return logsafe.neutralize_json(redact.redact(json.dumps(payload, indent=2, sort_keys=True) + "\n"))


def format_github(findings: list[Finding], *, documents: int = 0, environments: int = 0) -> str:
    """``::error file=…,line=…,col=…,title=CODE::message`` per finding (the hint on a second
    annotation line), then the plain summary line for the log.

    Redaction comes before escaping (escaping could split a secret so that it no longer matches);
    the escaped data keeps each command on one line and control characters are shown as escapes."""
    lines = []
    for finding in sorted_findings(findings):
        props = []
        if finding.path:
            props.append(f"file={escape_property(_safe(finding.path))}")
        if finding.line is not None:
            props.append(f"line={finding.line}")
            if finding.column is not None:
                props.append(f"col={finding.column}")
        props.append(f"title={escape_property(_safe(finding.code))}")
        message = finding.message if not finding.hint else f"{finding.message}\nhint: {finding.hint}"
        lines.append(f"::{finding.level} {','.join(props)}::{escape_data(_safe(message))}")
    lines.append(logsafe.neutralize(summary_line(findings, documents=documents, environments=environments)))
    return "\n".join(lines) + "\n"


def _safe(text: str) -> str:
    """Redacted, CRLF as LF, control characters shown (for text inside a workflow command)."""
    return logsafe.printable(redact.redact(text).replace("\r\n", "\n"))


Reporter = Callable[..., str]

REPORTERS: dict[str, Reporter] = {"text": format_text, "json": format_json, "github": format_github}


def reporter(name: str) -> Reporter:
    """The reporter for ``--format NAME``."""
    return REPORTERS[name]
