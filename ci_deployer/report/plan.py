"""Plan reports: text for terminals, Markdown for job summaries, JSON (the plan value).

Only changed fields are shown, as ``old → new``; long strings (prompts) as unified diffs; secret
fields as *changed* / *unchanged* / *unknown*, never a value.  Every rendering passes through
:func:`ci_deployer.redact.redact` as the last line of defence.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable, Mapping
from typing import Any

from ci_deployer import redact
from ci_deployer.engine.diff import FieldChange
from ci_deployer.engine.plan import Change, Plan
from ci_deployer.paths import format_path
from ci_deployer.report import values

LONG = 80
SYMBOLS = {"create": "+", "update": "~", "delete": "-", "rename": ">", "adopt": "<", "noop": " "}
ICONS = {"create": "➕", "update": "✏️", "delete": "🗑️", "rename": "🔀", "adopt": "📥"}
COUNT_ORDER = (("create", "to create"), ("update", "to update"), ("delete", "to delete"))
OPTIONAL_COUNTS = (("adopt", "to adopt"), ("rename", "to rename"))


@functools.cache
def _env() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("ci_deployer.report", "templates"),
        autoescape=False,  # noqa: S701 - text and Markdown; HTML-sensitive values are escaped with |e
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )


def counts_line(summary: Mapping[str, int]) -> str:
    """``Plan: 2 to create, 1 to update, 0 to delete`` (adopt / rename only when there are some)."""
    parts = [f"{summary.get(key, 0)} {label}" for key, label in COUNT_ORDER]
    parts += [f"{summary[key]} {label}" for key, label in OPTIONAL_COUNTS if summary.get(key)]
    line = "Plan: " + ", ".join(parts)
    extra = []
    if summary.get("drift"):
        extra.append(f"{summary['drift']} drifted")
    if summary.get("unmanaged"):
        extra.append(f"{summary['unmanaged']} unmanaged")
    if summary.get("blockedDeletes"):
        extra.append(f"{summary['blockedDeletes']} delete(s) blocked")
    return line + (f" ({', '.join(extra)})" if extra else "") + "."


def field_lines(fields: Iterable[FieldChange]) -> list[str]:
    """Diff-style lines for changed fields: ``~ path: old → new``, unified diffs for long values."""
    out: list[str] = []
    for change in fields:
        path = format_path(change.path) or "(whole resource)"
        if change.secret is not None:
            out.append(f"! {path}: secret {change.secret}")
            continue
        if values.is_long(change.old, LONG) or values.is_long(change.new, LONG):
            out.append(f"~ {path}:" if change.op == "change" else f"{'+' if change.op == 'add' else '-'} {path}:")
            if change.op == "add":
                out += [f"+ {line}" for line in values.text_lines(change.new)]
            elif change.op == "remove":
                out += [f"- {line}" for line in values.text_lines(change.old)]
            else:
                diff = difflib.unified_diff(
                    values.text_lines(change.old), values.text_lines(change.new), "before", "after", lineterm="", n=2
                )
                out += [f"  {line}" for line in list(diff)[2:]]
            continue
        if change.op == "add":
            out.append(f"+ {path}: {values.compact(change.new)}")
        elif change.op == "remove":
            out.append(f"- {path}: {values.compact(change.old)}")
        else:
            out.append(f"~ {path}: {values.compact(change.old)} → {values.compact(change.new)}")
    return out


def _fence(lines: list[str]) -> str:
    longest = max((len(line) - len(line.lstrip("`")) for line in lines), default=0)
    return "`" * max(3, longest + 1)


def _change_view(change: Change) -> dict[str, Any]:
    lines = field_lines(change.fields)
    return {
        "symbol": SYMBOLS.get(change.action, "*"),
        "icon": ICONS.get(change.action, "•"),
        "action": change.action,
        "kind": change.kind,
        "slug": change.slug,
        "name": change.name,
        "previous_slug": change.previous_slug,
        "location": f"{change.file}:{change.line}" if change.file and change.line else (change.file or ""),
        "blocked": change.blocked,
        "lines": lines,
        "fence": _fence(lines),
    }


def _context(plan: Plan) -> dict[str, Any]:
    changes = [_change_view(c) for c in plan.changes if c.action != "noop"]
    drift = []
    for item in plan.drift:
        lines = field_lines(item.fields)
        view = {"kind": item.kind, "slug": item.slug, "missing": item.missing, "lines": lines, "fence": _fence(lines)}
        drift.append(view)
    note = ""
    if plan.against == "snapshot":
        snap = plan.snapshot or {}
        note = (
            f"Planned against {plan.env} as applied at {snap.get('sha') or 'an unknown commit'}, "
            f"{snap.get('appliedAt') or 'unknown time'} (its last snapshot; the live org was not read)."
        )
    return {
        "heading": f"ci-deployer plan for {plan.env} (org {plan.org})",
        "title": f"Plan for {plan.env}",
        "against_note": note,
        "changes": changes,
        "drift": drift,
        "unmanaged": plan.unmanaged,
        "secrets": plan.secrets,
        "warnings": plan.warnings,
        "counts": counts_line(plan.summary),
        "deletes": sum(1 for c in plan.changes if c.action == "delete"),
        "has_changes": plan.has_changes,
        "hash": plan.hash,
    }


def render_text(plan: Plan) -> str:
    """The plan for a terminal."""
    return redact.redact(_env().get_template("plan.txt.j2").render(**_context(plan)))


def render_markdown(plan: Plan) -> str:
    """The plan as GitHub-flavoured Markdown: the same renderer as the PR comment (``--markdown``)."""
    from ci_deployer.report import markdown

    return markdown.render_plan(plan.to_dict(), run=markdown.RunInfo(sha=plan.sha or ""))


def render_json(plan: Plan) -> str:
    """The plan JSON (docs/formats.md)."""
    return plan.to_json()


def render_github(plan: Plan, *, prefix: str = "") -> str:
    """Text (untrusted lines neutralised) plus workflow-command annotations on the workspace-relative
    file of each change (``prefix``: the config root relative to the workspace): a notice per change,
    a warning per drifted resource."""
    from ci_deployer.github.commands import escape_data, escape_property
    from ci_deployer.logsafe import neutralize
    from ci_deployer.report.locations import located

    out = [neutralize(render_text(plan)).rstrip("\n")]
    for change in plan.changes:
        if change.action == "noop":
            continue
        file = located(change.file, prefix)
        where = f"file={escape_property(file)},line={change.line}," if file and change.line else ""
        title = escape_property(f"{change.action} {change.key}")
        out.append(f"::notice {where}title={title}::{escape_data(f'{change.action} {change.key}')}")
    for item in plan.drift:
        key = f"{item.kind}/{item.slug}"
        out.append(f"::warning title={escape_property('drift ' + key)}::{escape_data(key)} changed outside ci-deployer")
    return redact.redact("\n".join(out) + "\n")
