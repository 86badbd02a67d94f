"""Plan reports: text for terminals (and Actions logs), Markdown for job summaries, JSON (the plan value).

Text is the other face of the view-model the PR comment shows (:mod:`ci_deployer.report.view`):
the same fields, shown the same way, in plain lines.  Every line carries its sign in column 0
(``+`` added, ``-`` removed, ``~`` changed, ``!`` needs attention) and its depth after it, as
Terraform's plan does once its signs are moved to the start of the line: pasted into a ``diff``
fence, a plan colours itself.  Untrusted lines are neutralised (:func:`ci_deployer.logsafe.neutralize`)
and every rendering passes through :func:`ci_deployer.redact.redact` as the last line of defence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ci_deployer import redact
from ci_deployer.engine.diff import FieldChange
from ci_deployer.engine.plan import Plan
from ci_deployer.report import values, view

SYMBOLS = {"create": "+", "update": "~", "delete": "-", "rename": ">", "adopt": "<", "noop": " ", "drift": "!"}
COUNT_ORDER = (("create", "to create"), ("update", "to update"), ("delete", "to delete"))
OPTIONAL_COUNTS = (("adopt", "to adopt"), ("rename", "to rename"))
FIELD = " " * 4  # a field's depth under its resource
BODY = " " * 6  # a block's lines under their field


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


# -- text surface of the view ----------------------------------------------------------------------


def item_line(item: view.Item) -> str:
    """One changed field: ``~     path: old → new``."""
    if item.sign == "!":
        return f"!{FIELD}{item.path}: {item.note}"
    if item.added or item.removed:
        said = []
        if item.added:
            said.append("added " + ", ".join(item.added))
        if item.removed:
            said.append("removed " + ", ".join(item.removed))
        return f"~{FIELD}{item.path}: " + "; ".join(said)
    if item.sign == "+":
        return f"+{FIELD}{item.path}: {item.new}"
    if item.sign == "-":
        return f"-{FIELD}{item.path}: {item.old}"
    if item.old is None and item.new is None:
        return f"~{FIELD}{item.path}: {item.note}"
    return f"~{FIELD}{item.path}: {item.old} → {item.new}" + (f" ({item.note})" if item.note else "")


def block_lines(block: view.Block, sign: str = " ") -> list[str]:
    """A block's lines, signs in column 0: a diff's own, a signed block's, else ``sign`` (the
    resource's: ``+`` for a create)."""
    out: list[str] = []
    mark = block.sign or sign
    if block.title:
        out.append(
            f"{' ' if block.style == 'diff' else mark}{FIELD}{block.title}:"
            + (f" ({block.note})" if block.note else "")
        )
    depth = BODY if block.title else FIELD
    for line in block.lines:
        if block.style == "diff":
            head = line[:1] if line[:1] in "+- " else " "
            rest = line[1:] if line[:1] in "+- " else line
            out.append(f"{head}{depth}{rest}".rstrip())
        else:
            out.append(f"{mark}{depth}{line}".rstrip())
    return out


def part_lines(parts: Sequence[view.Part], sign: str = " ") -> list[str]:
    """Every field of a resource, as text lines."""
    out: list[str] = []
    for part in parts:
        out.extend([item_line(part)] if isinstance(part, view.Item) else block_lines(part, sign))
    return out


def field_lines(fields: Sequence[FieldChange]) -> list[str]:
    """Changed fields (an update's, a drift's) as text lines."""
    return part_lines(view.field_parts([f.to_dict() for f in fields]))


def resource_lines(res: view.ResourceView) -> list[str]:
    """One resource: its header line and its fields."""
    symbol = SYMBOLS.get(res.action, "*")
    if res.action == "drift":
        header = f"! {res.kind}/{res.slug}" + (" was deleted outside ci-deployer" if res.missing else "")
    else:
        header = f"{symbol} {res.action} {res.kind}/{res.slug}" + (f" ({res.name})" if res.name else "")
        header += f"  {res.location}" if res.location else ""
    out = [header]
    if res.blocked:
        out.append(f"!{FIELD}blocked: {res.blocked}")
    for ref in res.referrers or ():
        if ref.slug:
            who = f"{ref.slug} ({values.kind_word(ref.kind)})"
        else:
            who = f"unmanaged {values.kind_word(ref.kind)} {ref.name or '(no name)'} ({ref.id})"
        mark = "!" if view.REFERRER_WARNS[ref.fate] else " "
        out.append(f"{mark}{FIELD}{who} {view.REFERRER_SAYS[ref.fate]}")
    out.extend(part_lines(res.parts, "+" if res.action == "create" else " "))
    return out


def _context(plan: Plan) -> dict[str, Any]:
    shown = view.plan_view(plan.to_dict())
    note = ""
    if plan.against == "snapshot":
        snap = plan.snapshot or {}
        note = (
            f"Planned against {plan.env} as applied at {snap.get('sha') or 'an unknown commit'}, "
            f"{snap.get('appliedAt') or 'unknown time'} (its last snapshot; the live org was not read)."
        )
    return {
        "heading": f"ci-deployer plan for {plan.env} (org {plan.org})",
        "against_note": note,
        "scope_note": _scope_note(plan),
        "changes": [resource_lines(c) for c in shown.changes],
        "drift": [resource_lines(d) for d in shown.drift],
        "unmanaged": shown.unmanaged,
        "secrets": shown.secrets,
        "warnings": shown.warnings,
        "counts": counts_line(plan.summary),
        "has_changes": plan.has_changes,
        "hash": plan.hash,
    }


def _scope_note(plan: Plan) -> str:
    from ci_deployer.report.markdown import scope_line

    return scope_line({"scope": plan.scope.to_dict()}) if plan.scope is not None else ""


def render_text(plan: Plan) -> str:
    """The plan for a terminal (and an Actions log: no line of it can start a workflow command).

    Plain lines built here, not a Jinja2 template: every ``plan`` prints this, and Jinja2's import
    and compile would be a fifth of a no-change plan's time."""
    from ci_deployer.logsafe import neutralize

    return redact.redact(neutralize(_text(**_context(plan))))


def _text(
    *,
    heading: str,
    against_note: str,
    scope_note: str,
    changes: Sequence[Sequence[str]],
    drift: Sequence[Sequence[str]],
    unmanaged: Sequence[Mapping[str, Any]],
    secrets: Sequence[Mapping[str, Any]],
    warnings: Sequence[str],
    counts: str,
    has_changes: bool,
    hash: str,
) -> str:
    out = [heading]
    out += [note for note in (scope_note, against_note) if note]
    out.append("")
    out += [line for lines in changes for line in lines]
    if drift:
        out += ["", "Drift (changed outside ci-deployer; each field as last applied → as it is live now):"]
        out += [line for lines in drift for line in lines]
    if unmanaged:
        out += ["", "Unmanaged (in the org, in no document):"]
        out += [f"? {u['kind']} {u.get('name') or '(no name)'} ({u['id']})" for u in unmanaged]
    if secrets:
        out += ["", "Secrets:"]
        for s in secrets:
            unknown = ""
            if s["status"] == "unknown":
                unknown = (
                    " (resolved here; nothing recorded to compare with)"
                    if s.get("resolvable")
                    else " (not resolvable here)"
                )
            out.append(f"  secrets://{s['ref']}: {s['status']}{unknown}")
    if warnings:
        out += [""] + [f"warning: {w}" for w in warnings]
    out.append("")
    if not has_changes and drift:
        out.append("No changes from the config, but the org has drifted from the last apply (above).")
    elif not has_changes:
        out.append("No changes. The org matches the config.")
    out += [counts, f"Plan hash: {hash}"]
    return "\n".join(out) + "\n"


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
    from ci_deployer.logsafe import escape_data, escape_property, neutralize
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
