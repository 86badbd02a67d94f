"""The checklist as text, markdown, JSON and GitHub workflow commands (pure functions, by name).

Icons: ✅ pass, ❌ fail, ⏳ pending, ➖ skip.  Non-blocking items that are not passing are marked
``(informational)`` so a reader knows they do not refuse the operation.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from ci_deployer import redact
from ci_deployer.gates.model import CheckItem, GateReport

ICONS = {"pass": "✅", "fail": "❌", "pending": "⏳", "skip": "➖"}


def _verdict(report: GateReport) -> str:
    if report.allowed:
        return "allowed" + (f" (break-glass: {report.break_glass})" if report.break_glass else "")
    count = len(report.refusing())
    return f"refused ({count} blocking item{'s' if count != 1 else ''})"


def _note(item: CheckItem) -> str:
    return " (informational)" if not item.blocking and item.status in ("fail", "pending") else ""


def format_text(report: GateReport) -> str:
    """Plain text for terminals and logs: one line per item, evidence indented below."""
    lines = [f"Gates for {report.env}: {_verdict(report)}"]
    for item in report.items:
        lines.append(f"{ICONS[item.status]} {item.title}{_note(item)}")
        lines.extend(f"    {line}" for line in item.evidence.splitlines())
        if item.refuses and item.hint:
            lines.append(f"    → {item.hint}")
    return redact.redact("\n".join(lines) + "\n")


def _cell(text: str) -> str:
    # Table cells are one line: pipes escaped, newlines as <br>; PR titles are user text, so HTML
    # in them must not open tags that swallow the rest of the comment.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def format_markdown(report: GateReport) -> str:
    """A GitHub-flavoured markdown table (PR comments, job summaries)."""
    lines = [
        f"### Promotion checklist: {report.env}",
        "",
        f"**{_verdict(report).capitalize()}**",
        "",
        "| | Check | Evidence |",
        "|---|---|---|",
    ]
    for item in report.items:
        evidence = item.evidence + (f"\n→ {item.hint}" if item.refuses and item.hint else "")
        lines.append(f"| {ICONS[item.status]} | {_cell(item.title + _note(item))} | {_cell(evidence)} |")
    return redact.redact("\n".join(lines) + "\n")


def format_json(report: GateReport) -> str:
    """The stable JSON of :meth:`GateReport.to_dict`, plus ``ok`` like every command's JSON."""
    payload = {"ok": report.allowed, **report.to_dict()}
    return redact.redact(json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def format_github(report: GateReport) -> str:
    """Workflow commands: an ``::error`` per failing blocking item, a ``::warning`` per pending one,
    then the text checklist for the log."""
    from ci_deployer.github.commands import escape_data, escape_property
    from ci_deployer.logsafe import neutralize

    lines = []
    for item in report.refusing():
        level = "error" if item.status == "fail" else "warning"
        message = item.evidence + (f"\nhint: {item.hint}" if item.hint else "")
        lines.append(f"::{level} title={escape_property('gate: ' + item.title)}::{escape_data(message)}")
    return redact.redact("\n".join(lines) + ("\n" if lines else "")) + neutralize(format_text(report))


REPORTERS: dict[str, Callable[[GateReport], str]] = {
    "text": format_text,
    "markdown": format_markdown,
    "json": format_json,
    "github": format_github,
}


def reporter(name: str) -> Callable[[GateReport], str]:
    """The renderer for ``--format NAME``."""
    return REPORTERS[name]
