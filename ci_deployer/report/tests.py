"""Behavioural test results as text, workflow annotations and markdown (PR comment, job summary).

Pure functions over :class:`~ci_deployer.behaviour.model.TestReport` (whose JSON is the ``json``
format, docs/formats.md "Test results").  A failing eval shows the checkpoint that failed, the
judge it expected and the transcript excerpt that led to the reply; a failing smoke test shows the
request, the status and latency, and the mismatch.  Everything is redacted: a secret that reached
an answer or a reply is masked before it is printed.

The markdown is a Jinja2 template (``templates/tests.md.j2``).  Over its budget (a PR comment holds
65,536 characters, a step summary 1 MiB) the table of passing tests and then the failure details are
dropped, whole, with a pointer to the ``test-results.json`` artifact: markdown is never left broken.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from ci_deployer import __version__, redact
from ci_deployer.behaviour.model import EvalResult, SmokeResult, TestReport
from ci_deployer.github.commands import Annotation

ICONS = {"passed": "✅", "failed": "❌", "error": "⚠️"}
TEXT_MARKS = {"passed": "✓", "failed": "✗", "error": "!"}
MODE_LINES = {
    "managed": "against what {env} has applied",
    "transient": "this config sent inline to {env}'s org (transient: nothing was written there)",
    "canary": "canary after the apply to {env}",
}
DETAILS_SHOWN = 25


def _mode(report: TestReport) -> str:
    return MODE_LINES.get(report.mode, report.mode).format(env=report.env)


def _judge(judge: dict[str, Any]) -> str:
    kind = judge.get("type") or "?"
    parts = [str(kind)]
    if judge.get("content") not in (None, ""):
        parts.append(repr(judge["content"]))
    if judge.get("toolCalls"):
        parts.append("calling " + ", ".join(str(t) for t in judge["toolCalls"]))
    if judge.get("model"):
        parts.append(f"judged by {judge['model']}")
    return " ".join(parts)


def _reply(reply: dict[str, Any] | None) -> str:
    if not reply:
        return "(no reply)"
    text = repr(reply.get("content") or "")
    if reply.get("toolCalls"):
        text += " calling " + ", ".join(reply["toolCalls"])
    return text


def _sources(result: EvalResult) -> str:
    return f"eval {result.eval_source}, target {result.target_source}"


# -- text ------------------------------------------------------------------------------------------------


def eval_lines(result: EvalResult) -> list[str]:
    head = f"{TEXT_MARKS[result.status]} {result.name} ({_sources(result)}, {result.duration_ms:.0f} ms)"
    lines = [head if result.status == "passed" else f"{head}: {result.status}"]
    if result.status != "passed" and result.message and not result.failing():
        lines.append(f"    {result.message}")
    for cp in result.failing():
        lines.append(
            f"    checkpoint {cp.index} of {len(result.checkpoints)} (spec.messages[{cp.message_index}]) "
            f"expected {_judge(cp.judge)}"
        )
        lines.append(f"      reply:  {_reply(cp.reply)}")
        if cp.reason:
            lines.append(f"      reason: {cp.reason}")
        if cp.excerpt:
            lines.append("      transcript:")
            lines += [f"        {turn['role']}: {turn['content']}" for turn in cp.excerpt]
    for cp in result.checkpoints:
        if cp.status == "not-reached":
            lines.append(f"    checkpoint {cp.index}: not reached (the conversation stopped at a failure)")
    return lines


def smoke_lines(result: SmokeResult) -> list[str]:
    latency = f"{result.latency_ms:.0f} ms" if result.latency_ms is not None else "no answer"
    status = f"HTTP {result.http_status}" if result.http_status is not None else "no answer"
    head = f"{TEXT_MARKS[result.status]} {result.name}: {status}, {latency}"
    if result.status == "passed":
        return [head]
    lines = [f"{head}: {result.status}", f"    {result.method} {result.url}"]
    if result.message:
        lines.append(f"    {result.message}")
    if result.answer:
        lines.append(f"    answer: {result.answer}")
    return lines


def render_text(report: TestReport) -> str:
    """The report for a terminal: one line per test, details under each failure, a summary line."""
    lines = [f"ci-deployer test {report.env}: {_mode(report)}; logical hash {report.logical_hash or '?'}"]
    for result in report.evals:
        lines += eval_lines(result)
    for smoke in report.smoke:
        lines += smoke_lines(smoke)
    lines += [f"note: {w}" for w in report.warnings]
    lines.append(report.summary_line())
    return redact.redact("\n".join(lines) + "\n")


def failure_annotations(report: TestReport, *, prefix: str = "") -> list[Annotation]:
    """An error annotation on the file and line of every test that did not pass (``prefix``: the
    config root relative to the workspace)."""
    from ci_deployer.report.locations import located

    out = []
    for result in report.failing():
        lines = eval_lines(result) if isinstance(result, EvalResult) else smoke_lines(result)
        out.append(
            Annotation(
                "error",
                "\n".join(lines),
                file=located(result.file, prefix),
                line=result.line,
                title=f"test {result.status}: {result.name}",
            )
        )
    return out


def render_github(report: TestReport, *, prefix: str = "") -> str:
    """The text (untrusted lines neutralised) plus the :func:`failure_annotations` as workflow commands."""
    from ci_deployer.logsafe import escape_data, escape_property, neutralize

    out = [neutralize(render_text(report)).rstrip("\n")]
    for note in failure_annotations(report, prefix=prefix):
        where = f"file={escape_property(note.file)},line={note.line}," if note.file and note.line else ""
        out.append(f"::error {where}title={escape_property(note.title or '')}::{escape_data(note.message)}")
    return redact.redact("\n".join(out) + "\n")


# -- markdown -------------------------------------------------------------------------------------------


@cache
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("ci_deployer.report", "templates"),
        autoescape=False,  # noqa: S701  (markdown: cells are escaped by `cell`, code stays literal)
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def cell(text: Any) -> str:
    """A table cell: one line, pipes escaped, HTML neutralised."""
    value = " ".join(str(text if text is not None else "").split())
    return html.escape(value, quote=False).replace("|", "\\|")


def code(text: Any) -> str:
    """Inline code that survives backticks in the value."""
    value = " ".join(str(text if text is not None else "").split())
    longest = max((len(m) for m in re.findall("`+", value)), default=0)
    tick = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{tick}{pad}{value}{pad}{tick}"


def _fence(body: str) -> str:
    longest = max((len(m) for m in re.findall("`+", body)), default=0)
    return "`" * max(3, longest + 1)


def _detail(result: EvalResult | SmokeResult) -> dict[str, Any]:
    lines = eval_lines(result) if isinstance(result, EvalResult) else smoke_lines(result)
    body = "\n".join(line.removeprefix("    ") for line in lines[1:])
    return {"summary": cell(lines[0].lstrip("✓✗! ")), "icon": ICONS[result.status], "body": body, "fence": _fence(body)}


def _eval_row(result: EvalResult) -> dict[str, str]:
    failing = result.failing()
    if result.status == "passed":
        outcome = f"{len(result.checkpoints)} checkpoint(s) passed"
    elif failing:
        outcome = f"checkpoint {failing[0].index}: expected {_judge(failing[0].judge)}, got {_reply(failing[0].reply)}"
    else:
        outcome = result.message or result.status
    return {
        "icon": ICONS[result.status],
        "test": code(f"eval/{result.eval}"),
        "target": code(result.target),
        "how": cell(_sources(result)),
        "outcome": cell(outcome[:300]),
        "time": f"{result.duration_ms / 1000:.1f} s",
    }


def _smoke_row(result: SmokeResult) -> dict[str, str]:
    status = str(result.http_status) if result.http_status is not None else "—"
    return {
        "icon": ICONS[result.status],
        "test": code(f"tool/{result.tool}"),
        "case": cell(result.case),
        "request": code(f"{result.method} {result.url}"),
        "status": status,
        "latency": f"{result.latency_ms:.0f} ms" if result.latency_ms is not None else "—",
        "outcome": cell((result.message or "as expected")[:300]),
    }


def render_markdown(
    report: TestReport,
    *,
    marker: str = "",
    run_url: str = "",
    artifact_name: str = "",
    budget: int = 65_536,
    measure: Callable[[str], int] = len,
) -> str:
    """The results for a PR comment or a job summary, within ``budget`` (as ``measure`` counts)."""
    failing = report.failing()
    counts = report.counts()
    icon = "➖" if not report.total else ICONS["passed"] if report.ok else ICONS["failed"]
    base = {
        "marker": marker,
        "icon": icon,
        "env": report.env,
        "mode": _mode(report),
        "summary": report.summary_line().split(": ", 1)[1],
        "counts": counts,
        "logical_hash": report.logical_hash or "",
        "sha": (report.sha or "")[:12],
        "run_url": run_url or report.run_url or "",
        "warnings": [cell(w) for w in report.warnings],
        "artifact_name": artifact_name,
        "version": __version__,
    }

    def render(rows: bool, details: int) -> str:
        text = (
            _environment()
            .get_template("tests.md.j2")
            .render(
                eval_rows=[_eval_row(r) for r in report.evals] if rows else [],
                smoke_rows=[_smoke_row(r) for r in report.smoke] if rows else [],
                details=[_detail(r) for r in failing[:details]],
                omitted=len(failing) - details if details < len(failing) else 0,
                cut=not rows,
                **base,
            )
        )
        text = re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"
        return redact.redact(text)

    shown = min(len(failing), DETAILS_SHOWN)
    text = render(True, shown)
    while measure(text) > budget and shown:
        shown = shown // 2
        text = render(True, shown)
    if measure(text) > budget:
        text = render(False, 0)
    return text
