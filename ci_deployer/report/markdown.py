"""Reports as GitHub-flavoured markdown: the plan (PR comment, job summary and ``plan --markdown``:
one renderer, so what a reviewer reads in the PR is what ``plan`` writes locally), validation
findings, failures and other command results.  Pure functions over the JSON the CLI writes (docs/formats.md),
rendered with Jinja2 templates kept as files under ``templates/``.

The plan is the markdown surface of :mod:`ci_deployer.report.view` (the terminal text is the other):
documents and texts in ``yaml``/``text`` fences, diffs and added/removed subtrees in ``diff`` fences
with their signs in column 0 (GitHub colours them), one-line changes as list items with every value
in a code span.  Config values, prompts and API messages reach the comment only inside code spans
and fences, or escaped (``| e`` in HTML, :func:`md_text` in markdown): never as HTML.

Size budgets: a PR comment holds at most 65,536 characters (API answer "Body is too long (maximum is
65536 characters)", also Atlantis' ``maxCommentLength``); a step summary at most 1 MiB.  Over budget,
the header, counts, checklist and footer stay, and per-resource diffs are cut at a resource boundary
with a pointer to where the rest is, so no ``<details>`` or code fence is ever left open.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from ci_deployer import __version__, redact
from ci_deployer.report import values, view

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


# -- markdown surface of the view ----------------------------------------------------------------


def code(text: str) -> str:
    """``text`` as an inline code span: nothing inside is markdown or HTML (GFM escapes it)."""
    text = text.replace("\r", " ").replace("\n", " ")
    longest = max((len(m) for m in re.findall("`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or (text.startswith(" ") and text.endswith(" ")) else ""
    return f"{ticks}{pad}{text}{pad}{ticks}" if text else "` `"


# What can start markdown inside a line: emphasis, code, links and images, HTML and autolinks,
# entities, table cells, strikethrough.  Text placed mid-line never starts a block.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")


def md_text(text: str) -> str:
    """Untrusted text as literal markdown placed mid-line: every character that could start emphasis,
    code, a link, HTML, an entity or a table cell backslash-escaped (CommonMark shows it as itself)."""
    return _MD_SPECIAL.sub(r"\\\1", text.replace("\r", " ").replace("\n", " "))


def item_markdown(item: view.Item) -> str:
    """One changed field as a list item's text."""
    path = code(item.path)
    if item.sign == "!":
        return f"{path}: 🔒 {item.note}"
    if item.added or item.removed:
        said = []
        if item.added:
            said.append("added " + ", ".join(code(v) for v in item.added))
        if item.removed:
            said.append("removed " + ", ".join(code(v) for v in item.removed))
        return f"{path}: " + "; ".join(said)
    if item.sign == "+":
        return f"{path}: {code(item.new or '')} (added)"
    if item.sign == "-":
        return f"{path}: removed (was {code(item.old or '')})"
    if item.old is None and item.new is None:
        return f"{path}: {item.note}"
    return f"{path}: {code(item.old or '')} → {code(item.new or '')}" + (f" ({item.note})" if item.note else "")


def block_lines(block: view.Block) -> tuple[str, list[str]]:
    """A block's fence language and lines: signed lines (and diffs) in a ``diff`` fence, with the
    ``+``/``-`` in column 0 so GitHub colours them; a document or a text as itself."""
    if block.style == "diff":
        return "diff", list(block.lines)
    if block.sign:
        return "diff", [f"{block.sign}{line}" for line in block.lines]
    return block.style, list(block.lines)


def block_title(block: view.Block) -> str:
    if not block.title:
        return ""
    what = {"+": " added", "-": " removed"}.get(block.sign, "") if block.style != "diff" else ""
    return f"**{code(block.title)}**{what}" + (f" · {block.note}" if block.note else "")


def _fit_lines(lines: list[str], budget: int) -> tuple[list[str], int]:
    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        if used + len(line) + 1 > budget:
            return kept, len(lines) - index
        kept.append(line)
        used += len(line) + 1
    return kept, 0


def _sections(parts: Sequence[view.Part], max_chars: int) -> list[dict[str, Any]]:
    """The parts as template sections (runs of items as one list, blocks fenced), cut to ``max_chars``:
    lines past the budget are counted, never half-shown, and every fence is closed."""
    out: list[dict[str, Any]] = []
    items: list[str] = []
    budget = max_chars

    def flush() -> None:
        if items:
            out.append({"bullets": list(items)})
            items.clear()

    for index, part in enumerate(parts):
        if budget <= 0:
            flush()
            left = len(parts) - index
            out.append({"bullets": [f"… {left} more field{'s' if left != 1 else ''} (see the plan artifact)"]})
            break
        if isinstance(part, view.Item):
            text = item_markdown(part)
            items.append(text)
            budget -= len(text) + 3
            continue
        flush()
        title = block_title(part)
        lang, lines = block_lines(part)
        kept, omitted = _fit_lines(lines, budget - len(title) - 40)
        if omitted:
            kept.append(f"… {omitted} more line{'s' if omitted != 1 else ''} (see the plan artifact)")
        body = "\n".join(kept)
        out.append({"title": title, "lang": lang, "body": body, "fence": fence_for(body)})
        budget -= len(body) + len(title) + 40
    flush()
    return out


def _referrer_markdown(ref: view.Referrer) -> str:
    if ref.slug:
        who = code(f"{ref.slug} ({values.kind_word(ref.kind)})")
    else:
        who = f"unmanaged {values.kind_word(ref.kind)} {code(ref.name or '(no name)')} ({code(ref.id)})"
    return ("⚠️ " if view.REFERRER_WARNS[ref.fate] else "") + f"{who} {view.REFERRER_SAYS[ref.fate]}"


def resource_block(
    change: Mapping[str, Any] | view.ResourceView, *, action: str | None = None, max_chars: int = 16_000
) -> str:
    """One resource as a collapsible ``<details>`` block (summary line, location, fields)."""
    res = change if isinstance(change, view.ResourceView) else view.resource_view(change, action=action)
    notes: list[str] = []
    if res.action == "delete" and not res.blocked:
        who = f"{res.kind} {code(res.slug)}" + (f" ({code(res.name)})" if res.name else "")
        notes.append(f"Deletes {who} from the org when applied.")
        if res.referrers is not None and not res.referrers:
            notes.append("Nothing in the org refers to it.")
    if res.missing:
        notes.append("Deleted outside ci-deployer: this plan creates it again.")
    return _render(
        "resource.md.j2",
        icon=ACTION_ICONS.get(res.action, "•"),
        action=res.action,
        kind=res.kind,
        slug=res.slug,
        name=res.name,
        location=res.location,
        blocked=md_text(res.blocked) if res.blocked else "",
        notes=notes,
        referrers=[_referrer_markdown(r) for r in res.referrers or ()],
        sections=_sections(res.parts, max_chars),
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


def scope_line(plan: Mapping[str, Any]) -> str:
    """ "Partial plan: …" for a plan of a part of the config (``--only``, ``--changed-since``); "" else."""
    scope = plan.get("scope")
    if not isinstance(scope, Mapping) or not scope.get("partial"):
        return ""
    keys = list(scope.get("keys") or [])
    since = scope.get("changedSince")
    if since:
        why = f"the documents changed since {str(since)[:12]} and their neighbours"
    else:
        why = "--only " + " ".join(str(o) for o in scope.get("only") or [])
    return (
        f"Partial plan: {len(keys)} document{'s' if len(keys) != 1 else ''} ({why}); the rest of the config "
        "was not planned, and apply plans in full."
    )


def _checklist(items: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    return [
        {
            "icon": CHECK_ICONS.get(str(item.get("status")), "❔"),
            "title": md_text(str(item.get("title") or item.get("id") or "")),
            "evidence": md_text(str(item.get("evidence") or "")),
        }
        for item in items
    ]


def _delete_line(deletes: Sequence[tuple[str, str]]) -> str:
    if not deletes:
        return ""
    named = ", ".join(f"{kind} {code(slug)}" for kind, slug in deletes[:10])
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
    shown = view.plan_view(plan)
    per_block = max(2_000, budget // 4)
    change_blocks = [resource_block(c, max_chars=per_block) for c in shown.changes]
    drift_blocks = [resource_block(d, max_chars=per_block) for d in shown.drift]
    hint = overflow_hint or (f"see the job summary and the `{run.artifact_name or 'plan'}` artifact")
    base = {
        "marker": marker,
        "headline_icon": "📝" if shown.has_changes else "✅",
        "env": code(shown.env),
        "org": shown.org,
        "has_changes": shown.has_changes,
        "counts": counts_line(shown.summary),
        "unchanged": int(shown.summary.get("noop") or 0),
        "delete_line": _delete_line(shown.deletes),
        "blocked_line": (
            f"{shown.blocked} delete{'s' if shown.blocked != 1 else ''} blocked by policy "
            "(not applied unless `allow_deletes` is set)"
            if shown.blocked
            else ""
        ),
        "against_line": against_line(plan),
        "scope_line": scope_line(plan),
        "warnings": [md_text(w) for w in shown.warnings],
        "secrets": [
            {
                "ref": code(f"secrets://{s.get('ref')}"),
                "status": str(s.get("status")),
                "resolvable": s.get("resolvable"),
            }
            for s in shown.secrets
        ],
        "checklist": _checklist(checklist),
        "change_count": len(change_blocks),
        "drift_count": len(drift_blocks),
        "unmanaged_count": len(shown.unmanaged),
        "unmanaged": [
            {
                "kind": values.kind_word(str(u.get("kind", ""))),
                "name": code(str(u.get("name") or u.get("slug") or "(no name)")),
                "id": code(str(u.get("id"))) if u.get("id") else "",
            }
            for u in shown.unmanaged[:UNMANAGED_LISTED]
        ],
        "unmanaged_more": max(0, len(shown.unmanaged) - UNMANAGED_LISTED),
        "overflow_hint": hint,
        "plan_hash": shown.hash,
        "sha": run.sha or shown.sha,
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
