from __future__ import annotations

import io
import re
from pathlib import Path

from ci_deployer import redact
from ci_deployer.findings import Finding
from ci_deployer.github import commands


def parse_outputs(text: str) -> dict[str, str]:
    """Parse GITHUB_OUTPUT the way the runner does (name<<DELIM … DELIM)."""
    out: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines) - 1:
        name, delimiter = lines[i].split("<<", 1)
        end = lines.index(delimiter, i + 1)
        out[name] = "\n".join(lines[i + 1 : end])
        i = end + 1
    return out


def test_outputs_use_a_random_delimiter_and_survive_multiline_values(tmp_path: Path) -> None:
    output = tmp_path / "output"
    wf = commands.Workflow(io.StringIO(), output_file=output)
    wf.set_output("summary", "line one\nEOF\nline three")
    wf.set_output("exit_code", "0")
    text = output.read_text()
    assert parse_outputs(text) == {"summary": "line one\nEOF\nline three", "exit_code": "0"}
    delimiters = re.findall(r"<<(\S+)", text)
    assert len(set(delimiters)) == 2 and all(d.startswith("ghadelimiter_") for d in delimiters)


def test_registered_secrets_are_masked_first_and_redacted_after() -> None:
    stream = io.StringIO()
    wf = commands.Workflow(stream)
    redact.register("hunter2-secret")
    wf.mask_registered()
    wf.echo("token is hunter2-secret")
    wf.warning("bad hunter2-secret")
    lines = stream.getvalue().splitlines()
    masks = [line for line in lines if line.startswith("::add-mask::")]
    assert masks[0] == "::add-mask::hunter2-secret"
    assert lines[: len(masks)] == masks  # every mask before anything else is printed
    rest = lines[len(masks) :]
    assert "hunter2-secret" not in "\n".join(rest)
    assert rest[0] == "token is ***"


def test_annotations_are_limited_to_ten_per_level_and_escaped() -> None:
    stream = io.StringIO()
    wf = commands.Workflow(stream)
    findings = [
        Finding(path="assistants/a,b.yaml", line=i + 1, column=3, code="E-X", message=f"bad 100%\nvalue {i}")
        for i in range(12)
    ] + [Finding(path="tools/t.yaml", line=1, column=None, code="W-Y", message="meh", level="warning")]
    rest = wf.annotate_all(commands.finding_annotation(f, prefix="platform") for f in findings)
    errors = [line for line in stream.getvalue().splitlines() if line.startswith("::error ")]
    assert len(errors) == 10 and len(rest) == 2 and [a.line for a in rest] == [11, 12]
    assert errors[0] == "::error file=platform/assistants/a%2Cb.yaml,line=1,col=3,title=E-X::bad 100%25%0Avalue 0"
    assert "::warning file=platform/tools/t.yaml,line=1,title=W-Y::meh" in stream.getvalue()


def test_summary_never_exceeds_one_mebibyte(tmp_path: Path) -> None:
    summary = tmp_path / "summary"
    wf = commands.Workflow(io.StringIO(), summary_file=summary)
    assert wf.append_summary("a" * (commands.SUMMARY_LIMIT_BYTES - 100))
    assert not wf.append_summary("<details>\n" + "b" * 1000 + "\n</details>")
    data = summary.read_bytes()
    assert len(data) <= commands.SUMMARY_LIMIT_BYTES
    assert b"<details>" not in data and b"did not fit" in data


def test_echo_never_lets_untrusted_text_run_a_workflow_command() -> None:
    stream = io.StringIO()
    wf = commands.Workflow(stream)
    wf.echo("POST /tool → 400: bad body\n  ::add-mask::x\r::error file=a.yaml::INJECTED ##[warning]w\x1b[2J")
    lines = re.split(r"\r\n|\r|\n", stream.getvalue())
    assert not any(line.lstrip().startswith("::") or "##[" in line for line in lines)
    assert "\\x1b[2J" in stream.getvalue() and "\x1b" not in stream.getvalue()


def test_annotation_messages_stay_one_command_line() -> None:
    stream = io.StringIO()
    wf = commands.Workflow(stream)
    wf.error("API said:\n::add-mask::x\r\n::stop-commands::t\x1b[31m")
    text = stream.getvalue()
    assert text.count("\n") == 1 and "\r" not in text
    assert text.startswith("::error::API said:%0A::add-mask::x%0A::stop-commands::t\\x1b[31m")


def test_add_mask_sends_every_form_of_the_secret() -> None:
    stream = io.StringIO()
    wf = commands.Workflow(stream)
    secret = "p%2B:/\"'\\ab&x="
    wf.add_mask(secret)
    sent = [line.removeprefix("::add-mask::") for line in stream.getvalue().splitlines()]
    unescaped = [s.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%") for s in sent]
    for form in [*redact.forms(secret), secret.upper()]:
        assert form in unescaped
