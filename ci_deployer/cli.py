"""Command-line entry point: parse arguments, dispatch to one module per command, map errors to exit codes.

Exit codes (stable, documented in the README):
    0  success / no changes
    1  refused or failed (bad input, API failure, gate refused, stale plan)
    2  plan has changes (only with ``--detailed-exitcode``)
    3  drift found where the environment's drift policy is ``fail``
    4  internal error (a bug): the message says where the details were written
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from ci_deployer import __version__, logsafe, redact
from ci_deployer.errors import DeployerError, DriftFound, ValidationFailed

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CHANGES = 2
EXIT_DRIFT = 3
EXIT_INTERNAL = 4

# command name → (module under ci_deployer.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("validate", "check the config: schemas, references, templates, secrets, compatibility"),
    "plan": ("plan", "diff the config against an environment's org (or its last snapshot)"),
    "apply": ("apply", "apply the config to an environment's org, in dependency order"),
    "drift": ("drift", "report drift and unmanaged resources only"),
    "export": ("export", "write a live org out as config documents"),
    "rollback": ("rollback", "plan and apply an org back to a recorded snapshot"),
    "test": ("test_cmd", "run behavioural tests (evals, tool smoke tests) against an environment"),
    "gate": ("gate", "evaluate the protection gates and print the promotion checklist"),
    "emulator": ("emulator", "run the Vapi-compatible emulator"),
}


def exit_code_for(error: DeployerError) -> int:
    """The one place where errors become exit codes."""
    if isinstance(error, DriftFound):
        return EXIT_DRIFT
    return EXIT_FAILED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ci-deployer",
        description="Vapi assistants, squads, tools and more as config-as-code, promoted dev → uat → prod.",
    )
    parser.add_argument("--version", action="version", version=f"ci-deployer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(f"ci_deployer.commands.{module_name}")
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(command_parser)
        command_parser.set_defaults(_module=module)
    return parser


def _write_crash_log(exc: BaseException) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    directory = Path(os.environ.get("RUNNER_TEMP") or tempfile.gettempdir())
    path = directory / f"ci-deployer-crash-{stamp}-{os.getpid()}.log"
    text = "".join(traceback.format_exception(exc))
    path.write_text(redact.redact(f"ci-deployer {__version__}\nargv: {sys.argv!r}\n\n{text}"), encoding="utf-8")
    return path


def report_error(error: DeployerError, fmt: str) -> None:
    """Print a user-facing error: message, then what to do next; JSON when asked.

    Messages carry untrusted text (an API's error body, config values): they are redacted, then made
    safe for an Actions log (:mod:`ci_deployer.logsafe`) in every format."""
    message = redact.redact(str(error))
    hint = redact.redact(error.hint) if error.hint else None
    if fmt == "json":
        payload = {"ok": False, "failure_reason": error.failure_reason, "error": message, "hint": hint}
        findings = getattr(error, "findings", None)
        if findings:
            payload["findings"] = [f.to_dict() for f in findings]
        print(logsafe.neutralize_json(redact.redact(json.dumps(payload, indent=2, sort_keys=True))))
        return
    if isinstance(error, ValidationFailed) and error.findings:  # plan/apply stopped: say where, not only "run validate"
        from ci_deployer.validate.report import reporter

        sys.stderr.write(reporter(fmt)(error.findings))
    if fmt == "github":
        print(f"::error::{logsafe.escape_data(logsafe.printable(message))}", file=sys.stderr)
    else:
        print(f"error: {logsafe.neutralize(message)}", file=sys.stderr)
    if hint:
        print(f"hint: {logsafe.neutralize(hint)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    fmt = getattr(args, "format", "text")
    try:
        return int(args._module.run(args))
    except DeployerError as error:
        report_error(error, fmt)
        return exit_code_for(error)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # a bug: say where the details are, never dump a traceback on the user
        path = _write_crash_log(exc)
        print(
            f"internal error: {type(exc).__name__} (a bug in ci-deployer). Details were written to {path}; "
            "please attach that file to a bug report.",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def entrypoint() -> None:
    raise SystemExit(main())
