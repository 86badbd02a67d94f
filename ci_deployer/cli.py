"""Command-line entry point: parse arguments, read the settings once, dispatch to one module per
command, and report failures through the one error handler (:mod:`ci_deployer.error_handler`, which
also documents the exit codes)."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn

from ci_deployer import __version__, logsafe, redact
from ci_deployer.error_handler import Failure, guarded
from ci_deployer.errors import ConfigError
from ci_deployer.findings import Finding
from ci_deployer.settings import Settings

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


class _Parser(argparse.ArgumentParser):
    """Usage errors are failures like any other: exit 1 (``invalid-config``), JSON with ``--format
    json``.  argparse's own exit 2 would read as "the plan has changes" under ``--detailed-exitcode``.
    Subcommand parsers are of this class too (argparse makes them with the parent's class)."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(
            f"{self.prog}: {message}",
            hint=f"see `{self.prog} --help` for the arguments it takes",
        )


def _format_of(argv: Sequence[str]) -> str:
    """The ``--format`` asked for, read before parsing so that a usage error is reported in it."""
    for i, arg in enumerate(argv):
        value = arg.partition("=")[2] if arg.startswith("--format=") else None
        if arg == "--format" and i + 1 < len(argv):
            value = argv[i + 1]
        if value in ("text", "json", "github"):
            return value
    return "text"


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; only the command named in ``argv`` gets its module imported and its arguments
    (``--help`` and each command import what they use, not every command's dependencies).  Without
    ``argv``, every command's arguments."""
    parser = _Parser(
        prog="ci-deployer",
        description="Vapi assistants, squads, tools and more as config-as-code, promoted dev → uat → prod.",
    )
    parser.add_argument("--version", action="version", version=f"ci-deployer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    chosen = None if argv is None else next((a for a in argv if not a.startswith("-")), "")
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if chosen is None or chosen == name:
            module = importlib.import_module(f"ci_deployer.commands.{module_name}")
            module.add_arguments(command_parser)
            command_parser.set_defaults(_module=module)
    return parser


def report_failure(failure: Failure, fmt: str) -> None:
    """Print a failure: JSON on stdout with ``--format json``, else the located findings, the message
    and what to do next on stderr.  Messages carry untrusted text (an API's error body, config
    values): they are redacted (by :class:`Failure`), then made safe for an Actions log
    (:mod:`ci_deployer.logsafe`) in every format."""
    if fmt == "json":
        print(logsafe.neutralize_json(redact.redact(json.dumps(failure.to_dict(), indent=2, sort_keys=True))))
        return
    findings = [f for f in failure.findings if isinstance(f, Finding)]
    if findings:  # plan/apply stopped by validation: say where, not only "run validate"
        from ci_deployer.validate.report import reporter

        sys.stderr.write(reporter(fmt)(findings))
    if fmt == "github":
        print(f"::error::{logsafe.escape_data(logsafe.printable(failure.message))}", file=sys.stderr)
    else:
        print(f"error: {logsafe.neutralize(failure.message)}", file=sys.stderr)
    if failure.hint:
        print(f"hint: {logsafe.neutralize(failure.hint)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run one command; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    fmt = _format_of(argv)
    source = os.environ if environ is None else environ
    parsed: list[argparse.Namespace] = []

    def body() -> int:
        args = build_parser(argv).parse_args(argv)
        parsed.append(args)
        settings = Settings.from_environ(source)
        return int(args._module.run(args, settings))

    def report(failure: Failure) -> None:
        # Findings that stopped a command name files as `validate` does: relative to the workspace
        # (annotations and editors resolve them there), not to the config root.
        if failure.findings and parsed and "config" in vars(parsed[0]):
            from ci_deployer.commands._common import config_dir
            from ci_deployer.validate.report import relocate

            workspace = Path(source.get("GITHUB_WORKSPACE") or ".")
            located = [f for f in failure.findings if isinstance(f, Finding)]
            failure.findings = relocate(located, config_dir(parsed[0]), workspace)
        report_failure(failure, fmt)

    runner_temp = source.get("RUNNER_TEMP")
    return guarded(body, report, crash_dir=Path(runner_temp) if runner_temp else None)
