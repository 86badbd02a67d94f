"""Errors → exit codes and failure reasons, in one place for every entry point (CLI and action).

Exit codes (stable, documented in the README):
    0  success / no changes
    1  refused or failed (bad input, API failure, gate refused, stale plan, behavioural tests failed
       (``tests-failed``), a canary that failed after a protected env's apply (``canary-failed``))
    2  plan has changes (only with ``--detailed-exitcode``)
    3  drift found where the environment's drift policy is ``fail``
    4  internal error (a bug): the message says where the details were written

:func:`guarded` runs a command body and turns whatever it raises into a :class:`Failure` (exit code,
``failure_reason``, message, hint) handed to the face's reporter; an unexpected exception is a bug:
its traceback goes to a crash log (secrets redacted), never to the user's screen.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ci_deployer import __version__, redact
from ci_deployer.errors import DeployerError, DriftFound

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CHANGES = 2
EXIT_DRIFT = 3
EXIT_INTERNAL = 4


def exit_code_for(error: DeployerError) -> int:
    """The exit code of an error: 3 for drift under ``drift: fail``, else 1."""
    if isinstance(error, DriftFound):
        return EXIT_DRIFT
    return EXIT_FAILED


@dataclass
class Failure:
    """A command that did not succeed, as every face reports it."""

    exit_code: int
    failure_reason: str
    message: str
    hint: str | None = None
    findings: list[Any] = field(default_factory=list)
    crash_log: Path | None = None

    @classmethod
    def of(cls, error: DeployerError) -> Failure:
        """The failure an error of the tree stands for (messages redacted)."""
        return cls(
            exit_code=exit_code_for(error),
            failure_reason=error.failure_reason,
            message=redact.redact(str(error)),
            hint=redact.redact(error.hint) if error.hint else None,
            findings=list(getattr(error, "findings", None) or []),
        )

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON of a failure (``--format json``)."""
        payload: dict[str, Any] = {
            "ok": False,
            "failure_reason": self.failure_reason,
            "error": self.message,
            "hint": self.hint,
        }
        if self.findings:
            payload["findings"] = [f.to_dict() for f in self.findings]
        if self.crash_log is not None:
            payload["crashLog"] = str(self.crash_log)
        return payload


def write_crash_log(exc: BaseException, directory: Path | None = None) -> Path:
    """The traceback of a bug, secrets redacted, in ``directory`` (default: the temp folder)."""
    import tempfile  # only after a bug: not on every command's import path
    import traceback

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = directory or Path(tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"ci-deployer-crash-{stamp}-{os.getpid()}.log"
    text = "".join(traceback.format_exception(exc))
    path.write_text(redact.redact(f"ci-deployer {__version__}\nargv: {sys.argv!r}\n\n{text}"), encoding="utf-8")
    return path


def guarded(body: Callable[[], int], report: Callable[[Failure], None], *, crash_dir: Path | None = None) -> int:
    """Run ``body``; on an error of the tree (or a bug) hand a :class:`Failure` to ``report`` and
    return its exit code."""
    try:
        return body()
    except DeployerError as error:
        failure = Failure.of(error)
    except KeyboardInterrupt:
        failure = Failure(EXIT_FAILED, "error", "interrupted", "run the command again; a rerun converges")
    except Exception as exc:  # a bug: say where the details are, never dump a traceback on the user
        path = write_crash_log(exc, crash_dir)
        failure = Failure(
            EXIT_INTERNAL,
            "error",
            f"internal error: {type(exc).__name__} (a bug in ci-deployer). Details were written to {path}",
            "please attach that file to a bug report",
            crash_log=path,
        )
    report(failure)
    return failure.exit_code
