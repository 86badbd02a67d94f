"""Workflow commands: outputs, masks, annotations, log groups and the job summary.

One small module, as in dflook's ``github_actions/commands.py``.  Everything printed goes through
:func:`ci_deployer.redact.redact` and then :mod:`ci_deployer.logsafe` (no printed text can start a
workflow command of its own), and :meth:`Workflow.mask_registered` tells the runner to mask every
resolved secret, in each form it may be printed in (``::add-mask::``), before anything else is printed.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ci_deployer import logsafe, redact
from ci_deployer.findings import Finding
from ci_deployer.logsafe import escape_data, escape_property

# $GITHUB_STEP_SUMMARY: 1 MiB per step; over it the upload is aborted (runner
# CreateStepSummaryCommand.AttachmentSizeLimit = 1024*1024).
SUMMARY_LIMIT_BYTES = 1024 * 1024
# Only 10 error, 10 warning and 10 notice annotations per step are recorded
# (runner ExecutionContext._maxCountPerIssueType = 10); the rest only reach the log.
ANNOTATIONS_PER_LEVEL = 10
# Annotation messages are cut at 4096 characters by the runner (_maxIssueMessageLength).
ANNOTATION_MESSAGE_LIMIT = 4096


@dataclass(frozen=True)
class Annotation:
    """One annotation: level (error|warning|notice), message and an optional location."""

    level: str
    message: str
    file: str | None = None
    line: int | None = None
    col: int | None = None
    title: str | None = None


def finding_annotation(finding: Finding, prefix: str = "") -> Annotation:
    """A validation finding as an annotation on its file and line (paths relative to the workspace)."""
    path = finding.path
    if prefix and path and not Path(path).is_absolute():
        path = f"{prefix.rstrip('/')}/{path}"
    message = finding.message if not finding.hint else f"{finding.message}\nhint: {finding.hint}"
    return Annotation(
        level=finding.level,
        message=message,
        file=path or None,
        line=finding.line,
        col=finding.column,
        title=finding.code,
    )


class Workflow:
    """Writes workflow commands to a stream and appends to the ``GITHUB_OUTPUT`` / summary files."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        output_file: Path | None = None,
        summary_file: Path | None = None,
    ) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.output_file = output_file
        self.summary_file = summary_file
        self._masked: set[str] = set()
        self._annotation_counts: dict[str, int] = {}
        self._summary_bytes = summary_file.stat().st_size if summary_file and summary_file.exists() else 0

    # -- printing ----------------------------------------------------------------------------------

    def echo(self, text: str = "") -> None:
        """Print log lines: secrets redacted, then neutralized (:func:`ci_deployer.logsafe.neutralize`),
        so untrusted text (API errors, prompts, names) can never run a workflow command."""
        safe = logsafe.neutralize(redact.redact(text))  # redact first: neutralizing could split a secret
        self.stream.write(safe + ("" if safe.endswith("\n") else "\n"))
        self.stream.flush()

    def command(self, name: str, message: str = "", **properties: str | int | None) -> None:
        """Print ``::name key=value,…::message``.

        The message and properties are escaped as command data (``%``, CR and LF become ``%25``,
        ``%0D``, ``%0A``: the whole command stays on one log line, however many lines the message
        has) and control characters are shown, not obeyed (:func:`ci_deployer.logsafe.printable`)."""
        props = ",".join(
            f"{key}={escape_property(logsafe.printable(redact.redact(str(value))))}"
            for key, value in properties.items()
            if value is not None
        )
        head = f"::{name} {props}" if props else f"::{name}"
        data = logsafe.printable(redact.redact(message).replace("\r\n", "\n"))
        self.stream.write(f"{head}::{escape_data(data)}\n")
        self.stream.flush()

    # -- masks -------------------------------------------------------------------------------------

    def add_mask(self, value: str) -> None:
        """Ask the runner to mask ``value`` in the log from now on; also registers it for redaction.

        Each line of a multi-line value is masked on its own: the runner masks line by line.  Each is
        masked in every form :func:`ci_deployer.redact.forms` lists (JSON-escaped, URL-encoded,
        base64 at each alignment, …) and upper- and lower-cased: the runner's masker matches exact
        text only, and its own encoders do not cover ``quote_plus``, base64 inside a longer encoded
        string, or case changes.
        """
        for line in value.splitlines() or [value]:
            part = line.strip()
            if len(part) < redact.MIN_LENGTH or part in self._masked:
                continue
            self._masked.add(part)
            redact.register(part)
            masks = [*redact.forms(part), part.upper(), part.lower()]
            for form in dict.fromkeys(masks):
                # Not through command(): the value itself must be printed, escaped, never redacted.
                self.stream.write(f"::add-mask::{escape_data(form)}\n")
        self.stream.flush()

    def mask_registered(self) -> None:
        """Mask every secret value resolved so far (:func:`ci_deployer.redact.registered`)."""
        for value in sorted(redact.registered()):
            self.add_mask(value)

    # -- annotations -------------------------------------------------------------------------------

    def annotate(self, annotation: Annotation) -> bool:
        """Emit an annotation; returns False (and emits nothing) past the per-step display limit."""
        level = annotation.level if annotation.level in ("error", "warning", "notice") else "notice"
        count = self._annotation_counts.get(level, 0)
        if count >= ANNOTATIONS_PER_LEVEL:
            return False
        self._annotation_counts[level] = count + 1
        self.command(
            level,
            annotation.message[:ANNOTATION_MESSAGE_LIMIT],
            file=annotation.file,
            line=annotation.line,
            col=annotation.col,
            title=annotation.title,
        )
        return True

    def annotate_all(self, annotations: Iterable[Annotation]) -> list[Annotation]:
        """Emit what fits the per-level limit; return the rest (to be listed in the summary)."""
        return [a for a in annotations if not self.annotate(a)]

    def notice(self, message: str) -> None:
        """A notice annotation (unlocated), or a plain log line past the limit."""
        if not self.annotate(Annotation("notice", message)):
            self.echo(f"notice: {message}")

    def warning(self, message: str) -> None:
        """A warning annotation (unlocated), or a plain log line past the limit."""
        if not self.annotate(Annotation("warning", message)):
            self.echo(f"warning: {message}")

    def error(self, message: str) -> None:
        """An error annotation (unlocated), or a plain log line past the limit."""
        if not self.annotate(Annotation("error", message)):
            self.echo(f"error: {message}")

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        """A collapsible log group."""
        self.command("group", title)
        try:
            yield
        finally:
            self.command("endgroup")

    # -- outputs and summary -----------------------------------------------------------------------

    def set_output(self, name: str, value: str) -> None:
        """Append ``name<<DELIM / value / DELIM`` to ``GITHUB_OUTPUT`` with a random delimiter
        (the runner rejects a delimiter that appears alone on a line of the value)."""
        if self.output_file is None:
            return
        value = redact.redact(value)
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        while delimiter in value:  # pragma: no cover - 128 random bits
            delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        with self.output_file.open("a", encoding="utf-8") as handle:
            handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")

    @property
    def summary_room(self) -> int:
        """Bytes still available in this step's summary."""
        return max(0, SUMMARY_LIMIT_BYTES - self._summary_bytes)

    def append_summary(self, markdown: str) -> bool:
        """Append markdown to the job summary if it fits in what is left of the 1 MiB.

        Callers render to :attr:`summary_room`; a block that still does not fit is replaced by a short
        note rather than cut (a cut could leave a ``<details>`` or code fence open).
        """
        if self.summary_file is None:
            return False
        text = redact.redact(markdown)
        if not text.endswith("\n"):
            text += "\n"
        data = text.encode("utf-8")
        if len(data) > self.summary_room:
            note = "\n> The report did not fit in the job summary's 1 MiB; see the run's artifacts.\n"
            data = note.encode("utf-8")
            if len(data) > self.summary_room:
                return False
            self._write_summary(data)
            return False
        self._write_summary(data)
        return True

    def _write_summary(self, data: bytes) -> None:
        assert self.summary_file is not None
        with self.summary_file.open("ab") as handle:
            handle.write(data)
        self._summary_bytes += len(data)
