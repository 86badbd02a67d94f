"""Reports as GitHub-flavoured markdown: the plan (PR comment, job summary and ``plan --markdown``:
one renderer, so what a reviewer reads in the PR is what ``plan`` writes locally), validation
findings, failures and other command results.  Pure functions over the JSON the CLI writes (docs/formats.md),
rendered with Jinja2 templates kept as files under ``templates/``.

Size budgets: a PR comment holds at most 65,536 characters (API answer "Body is too long (maximum is
65536 characters)", also Atlantis' ``maxCommentLength``); a step summary at most 1 MiB.  Over budget,
the header, counts, checklist and footer stay, and per-resource diffs are cut at a resource boundary
with a pointer to where the rest is, so no ``<details>`` or code fence is ever left open.
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from ci_deployer import __version__, redact
from ci_deployer.report import values

COMMENT_LIMIT = 65_536
Measure = Callable[[str], int]

ACTION_ICONS = {
    "create": "➕",
    "update": "📝",
    "delete": "🗑️",
    "adopt": "🤝",
    "rename": "🔀",
    "noop": "▫️",
    "drift": "⚠️",
}
CHECK_ICONS = {"pass": "✅", "fail": "❌", "pending": "⏳", "skip": "⏭️"}
COUNT_ORDER = (("create", "to create"), ("update", "to update"), ("delete", "to delete"))
OPTIONAL_COUNTS = (("adopt", "to adopt"), ("rename", "to rename"))
# A string this long (or spanning lines) is shown as a unified diff of its own (prompts).
LONG_VALUE = 100
UNMANAGED_LISTED = 100


def comment_length(text: str) -> int:
    """Characters as GitHub may count them: UTF-16 code units, never fewer than code points."""
    return len(text.encode("utf-16-le")) // 2


def utf8_length(text: str) -> int:
    """Bytes, as the job summary's 1 MiB limit counts them."""
    return len(text.encode("utf-8"))


@dataclass(frozen=True)
class RunInfo:
    """What the footer and the overflow pointer need to know about the run."""

    run_url: str = ""
    sha: str = ""
    artifact_name: str = ""


@dataclass(frozen=True)
class Section:
    """One fenced ``diff`` block of a resource, optionally titled with the field path."""

    title: str
    body: str
    fence: str


@cache
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("ci_deployer.report", "templates"),
        # Markdown, not HTML: values are escaped with `| e` where HTML applies; code blocks stay literal.
        autoescape=False,  # noqa: S701
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _render(template: str, **context: Any) -> str:
    text: str = _environment().get_template(template).render(version=__version__, **context)
    text = re.sub(r"\n{3,}", "\n\n", text)  # templates leave blank runs where optional parts are absent
    return text.strip("\n") + "\n"


def fence_for(body: str, char: str = "`") -> str:
    """A code fence longer than any run of ``char`` inside ``body`` (CommonMark closes on an equal run)."""
    longest = max((len(m) for m in re.findall(f"{re.escape(char)}+", body)), default=0)
    return char * max(3, longest + 1)


# -- field diffs -----------------------------------------------------------------------------------


def field_sections(fields: Sequence[Mapping[str, Any]], max_chars: int) -> list[Section]:
    """Field changes as ``diff`` blocks: short values together, long strings as unified diffs.

    Secret fields say only changed / unchanged / unknown: values never reach a report.
    """
    short: list[str] = []
    long_sections: list[tuple[str, list[str]]] = []
    for item in fields:
        path = str(item.get("path", ""))
        op = item.get("op", "change")
        if "secret" in item:
            short.append(f"! {path}: secret {item.get('secret')}")
            continue
        old, new = item.get("old"), item.get("new")
        if values.is_long(old, LONG_VALUE) or values.is_long(new, LONG_VALUE):
            if op == "add":
                body = [f"+{line}" for line in values.text_lines(new)]
            elif op == "remove":
                body = [f"-{line}" for line in values.text_lines(old)]
            else:
                body = list(
                    difflib.unified_diff(
                        values.text_lines(old),
                        values.text_lines(new),
                        fromfile="before",
                        tofile="after",
                        lineterm="",
                        n=3,
                    )
                )[2:]  # drop the ---/+++ header lines: the title names the field
            long_sections.append((path, body))
        elif op == "add":
            short.append(f"+ {path}: {values.compact(new)}")
        elif op == "remove":
            short.append(f"- {path}: {values.compact(old)}")
        else:
            short.extend((f"- {path}: {values.compact(old)}", f"+ {path}: {values.compact(new)}"))
    sections: list[Section] = []
    budget = max_chars
    for title, body_lines in ([("", short)] if short else []) + long_sections:
        kept, omitted = _fit_lines(body_lines, budget - len(title) - 40)
        if omitted:
            kept.append(f"… {omitted} more line{'s' if omitted != 1 else ''} (see the plan artifact)")
        text = redact.redact("\n".join(kept))
        section = Section(title=title, body=text, fence=fence_for(text))
        budget -= len(text) + len(title) + 40
        sections.append(section)
        if budget <= 0:
            break
    return sections


def _fit_lines(lines: list[str], budget: int) -> tuple[list[str], int]:
    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        if used + len(line) + 1 > budget:
            return kept, len(lines) - index
        kept.append(line)
        used += len(line) + 1
    return kept, 0


def resource_block(change: Mapping[str, Any], *, action: str | None = None, max_chars: int = 16_000) -> str:
    """One resource as a collapsible ``<details>`` block with its field diffs."""
    act = action or str(change.get("action", "update"))
    file, line = change.get("file"), change.get("line")
    location = f"{file}:{line}" if file and line else (str(file) if file else "")
    if change.get("previousSlug"):
        location = f"renamed from {change['previousSlug']}" + (f" · {location}" if location else "")
    return _render(
        "resource.md.j2",
        icon=ACTION_ICONS.get(act, "•"),
        action=act,
        kind=str(change.get("kind", "")),
        slug=str(change.get("slug") or change.get("id") or ""),
        name=str(change.get("name") or ""),
        location=location,
        blocked=change.get("blocked") or "",
        sections=field_sections(change.get("fields") or [], max_chars),
    )


# -- the plan --------------------------------------------------------------------------------------


def counts_line(summary: Mapping[str, Any]) -> str:
    """``2 to create, 1 to update, 0 to delete`` (adopt / rename only when there are some)."""
    parts = [f"{int(summary.get(key) or 0)} {label}" for key, label in COUNT_ORDER]
    parts += [f"{int(summary[key])} {label}" for key, label in OPTIONAL_COUNTS if summary.get(key)]
    return ", ".join(parts)


def against_line(plan: Mapping[str, Any]) -> str:
    """ "planned against prod as applied at <sha>, <time>" for plans read from a snapshot."""
    if plan.get("against") != "snapshot":
        return ""
    env = plan.get("env", "")
    snap = plan.get("snapshot")
    if not isinstance(snap, Mapping):
        return f"Planned against {env}'s last snapshot: none recorded yet (nothing applied so far)."
    sha = str(snap.get("sha") or "unknown commit")[:12]
    when = snap.get("appliedAt") or "unknown time"
    return f"Planned against {env} as applied at `{sha}`, {when} (snapshot, not live)."


def _checklist(items: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    return [
        {
            "icon": CHECK_ICONS.get(str(item.get("status")), "❔"),
            "title": str(item.get("title") or item.get("id") or ""),
            "evidence": str(item.get("evidence") or ""),
        }
        for item in items
    ]


def _delete_line(changes: Sequence[Mapping[str, Any]]) -> str:
    deletes = [c for c in changes if c.get("action") == "delete" and not c.get("blocked")]
    if not deletes:
        return ""
    named = ", ".join(f"{c.get('kind')} `{c.get('slug') or c.get('name') or c.get('id')}`" for c in deletes[:10])
    more = f" and {len(deletes) - 10} more" if len(deletes) > 10 else ""
    return f"This plan deletes {len(deletes)} resource{'s' if len(deletes) != 1 else ''}: {named}{more}"


def render_plan(
    plan: Mapping[str, Any],
    *,
    run: RunInfo,
    marker: str = "",
    checklist: Sequence[Mapping[str, Any]] = (),
    budget: int = COMMENT_LIMIT,
    measure: Measure = comment_length,
    overflow_hint: str = "",
) -> str:
    """The plan as markdown that fits ``budget`` (as counted by ``measure``).

    Everything but the per-resource blocks always stays; blocks are dropped from the end (drift
    first, then changes) until the text fits, and the number dropped is stated with ``overflow_hint``.
    """
    summary = plan.get("summary") or {}
    changes = [c for c in plan.get("changes") or [] if c.get("action") != "noop"]
    drift = list(plan.get("drift") or [])
    unmanaged = list(plan.get("unmanaged") or [])
    blocked = [c for c in changes if c.get("blocked")]
    per_block = max(2_000, budget // 4)
    change_blocks = [resource_block(c, max_chars=per_block) for c in changes]
    drift_blocks = [resource_block(d, action="drift", max_chars=per_block) for d in drift]
    hint = overflow_hint or (f"see the job summary and the `{run.artifact_name or 'plan'}` artifact")
    base = {
        "marker": marker,
        "headline_icon": "📝" if plan.get("hasChanges") else "✅",
        "env": plan.get("env", ""),
        "org": plan.get("org") or "",
        "has_changes": bool(plan.get("hasChanges")),
        "counts": counts_line(summary),
        "unchanged": int(summary.get("noop") or 0),
        "delete_line": _delete_line(changes),
        "blocked_line": (
            f"{len(blocked)} delete{'s' if len(blocked) != 1 else ''} blocked by policy "
            "(not applied unless `allow_deletes` is set)"
            if blocked
            else ""
        ),
        "against_line": against_line(plan),
        "warnings": [str(w) for w in plan.get("warnings") or []],
        "secrets": [
            {"ref": str(item.get("ref")), "status": str(item.get("status"))}
            for item in plan.get("secrets") or []
            if isinstance(item, Mapping)
        ],
        "checklist": _checklist(checklist),
        "change_count": len(changes),
        "drift_count": len(drift),
        "unmanaged_count": len(unmanaged),
        "unmanaged": [
            {"kind": u.get("kind", ""), "name": u.get("name") or u.get("slug") or "(no name)", "id": u.get("id") or ""}
            for u in unmanaged[:UNMANAGED_LISTED]
        ],
        "unmanaged_more": max(0, len(unmanaged) - UNMANAGED_LISTED),
        "overflow_hint": hint,
        "plan_hash": plan.get("hash", ""),
        "sha": run.sha or plan.get("sha") or "",
        "run_url": run.run_url,
    }

    def render(n_changes: int, n_drift: int) -> str:
        omitted = len(change_blocks) - n_changes + len(drift_blocks) - n_drift
        text = _render(
            "plan.md.j2",
            change_blocks=change_blocks[:n_changes],
            drift_blocks=drift_blocks[:n_drift],
            omitted=omitted,
            **base,
        )
        return redact.redact(text)

    full = render(len(change_blocks), len(drift_blocks))
    if measure(full) <= budget:
        return full
    # Greedy fill from the block sizes, then confirm by rendering (separators are not counted exactly).
    room = budget - measure(render(0, 0))
    n_changes = n_drift = 0
    for block in change_blocks:
        cost = measure(block) + 2
        if cost > room:
            break
        room -= cost
        n_changes += 1
    if n_changes == len(change_blocks):
        for block in drift_blocks:
            cost = measure(block) + 2
            if cost > room:
                break
            room -= cost
            n_drift += 1
    text = render(n_changes, n_drift)
    while measure(text) > budget and (n_changes or n_drift):
        if n_drift:
            n_drift -= 1
        else:
            n_changes -= 1
        text = render(n_changes, n_drift)
    return text


def render_failure(
    *,
    command: str,
    env: str,
    failure_reason: str,
    message: str,
    hint: str | None,
    run: RunInfo,
    marker: str = "",
) -> str:
    """A failed command (the sticky comment says so rather than keep showing an older plan)."""
    message = redact.redact(message)[:20_000]
    return redact.redact(
        _render(
            "failure.md.j2",
            marker=marker,
            command=command,
            env=env,
            failure_reason=failure_reason,
            message=message,
            fence=fence_for(message),
            hint=redact.redact(hint) if hint else "",
            sha=run.sha,
            run_url=run.run_url,
        )
    )


def _cell(text: str) -> str:
    return html.escape(text).replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def render_validation(
    report: Mapping[str, Any],
    *,
    annotated: Sequence[bool] = (),
    limit: int = 10,
    budget: int = 1024 * 1024,
    measure: Measure = utf8_length,
) -> str:
    """Validation findings (``validate --format json``) as a table, every finding listed.

    ``annotated[i]`` says whether finding ``i`` became an annotation (10 per level per step); the
    others are marked so a reader knows to look here.
    """
    findings = list(report.get("findings") or [])
    items = []
    for index, finding in enumerate(findings):
        where = str(finding.get("path") or "")
        if finding.get("line"):
            where += f":{finding['line']}"
            if finding.get("column"):
                where += f":{finding['column']}"
        message = str(finding.get("message") or "")
        if finding.get("hint"):
            message += f"\nhint: {finding['hint']}"
        items.append(
            {
                "icon": "❌" if finding.get("level") == "error" else "⚠️",
                "annotated": annotated[index] if index < len(annotated) else True,
                "location": where.replace("`", "'"),
                "code": str(finding.get("code") or "").replace("`", "'"),
                "message": _cell(message),
            }
        )
    base = {
        "ok": bool(report.get("ok")),
        "errors": int(report.get("errors") or 0),
        "warnings": int(report.get("warnings") or 0),
        "documents": report.get("documents"),
        "limit": limit,
        "unannotated": sum(1 for i in items if not i["annotated"]),
    }
    shown = len(items)
    text = redact.redact(_render("validation.md.j2", items=items, omitted=0, **base))
    while measure(text) > budget and shown:
        shown = max(0, shown - max(1, shown // 10))
        text = redact.redact(_render("validation.md.j2", items=items[:shown], omitted=len(items) - shown, **base))
    return text


def render_result(
    *,
    command: str,
    env: str,
    ok: bool,
    status: str,
    body: str = "",
    artifacts: Sequence[str] = (),
    run_url: str = "",
    budget: int = 1024 * 1024,
) -> str:
    """Any other command's result: a status line and its output, collapsed."""
    body = redact.redact(body)
    if utf8_length(body) > budget // 2:
        body = body.encode("utf-8")[: budget // 2].decode("utf-8", "ignore") + "\n… (output cut; see the log)"
    return redact.redact(
        _render(
            "result.md.j2",
            icon="✅" if ok else "❌",
            command=command,
            env=env,
            status=status,
            body=body.rstrip("\n"),
            fence=fence_for(body),
            artifacts=list(artifacts),
            run_url=run_url,
        )
    )
