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

from ci_deployer import __version__
from ci_deployer.error_handler import Failure, guarded
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


def report_failure(failure: Failure, fmt: str) -> None:
    """Print a failure: JSON on stdout with ``--format json``, else the message, the located
    findings and what to do next on stderr."""
    if fmt == "json":
        print(json.dumps(failure.to_dict(), indent=2, sort_keys=True))
        return
    from ci_deployer.logsafe import neutralize

    prefix = "::error::" if fmt == "github" else "error: "
    lines = [f"{prefix}{failure.message}" if fmt != "github" else f"{prefix}{_one_line(failure.message)}"]
    for finding in failure.findings:
        location = getattr(finding, "location", None)
        where = location() if callable(location) else ""
        lines.append(f"  {where}: {getattr(finding, 'message', finding)}")
        hint = getattr(finding, "hint", None)
        if hint:
            lines.append(f"      hint: {hint}")
    if failure.hint:
        lines.append(f"hint: {failure.hint}")
    text = "\n".join(lines)
    # The first line of the github format is our own command; everything after it is neutralised.
    head, _, rest = text.partition("\n")
    sys.stderr.write(head + "\n" + (neutralize(rest) + "\n" if rest else "") if fmt == "github" else text + "\n")


def _one_line(text: str) -> str:
    from ci_deployer.github.commands import escape_data

    return escape_data(text)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run one command; returns the process exit code."""
    args = build_parser().parse_args(argv)
    fmt = getattr(args, "format", "text")
    source = os.environ if environ is None else environ

    def body() -> int:
        settings = Settings.from_environ(source)
        return int(args._module.run(args, settings))

    runner_temp = source.get("RUNNER_TEMP")
    from pathlib import Path

    return guarded(
        body, lambda failure: report_failure(failure, fmt), crash_dir=Path(runner_temp) if runner_temp else None
    )


def entrypoint() -> None:
    raise SystemExit(main())
