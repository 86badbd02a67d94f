"""`ci-deployer test`: the behavioural tests of an environment — eval runs (golden transcripts) and
tool smoke tests.

Exit 0 when every test passed (or none runs in the env), 1 when any failed or could not be evaluated
(``failure_reason=tests-failed``).  ``--format json`` prints the results record (docs/formats.md
"Test results"), with ``failure_reason`` when it failed; ``text`` and ``github`` print a line per
test and, under each failure, the checkpoint, the judge it expected and the transcript excerpt.

The results of a managed run (not ``--transient``) become the env's test state
(``<state>/<env>/tests.json``): what prod's ``promotesFrom`` gate reads for uat.  ``--out`` also
writes them to a file (the action uploads it as ``test-results.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ci_deployer import redact
from ci_deployer.behaviour.evals import Polling
from ci_deployer.behaviour.model import TestReport
from ci_deployer.behaviour.runner import TestOptions
from ci_deployer.commands import _common
from ci_deployer.engine.session import Session
from ci_deployer.error_handler import EXIT_FAILED, EXIT_OK
from ci_deployer.errors import TestsFailed
from ci_deployer.settings import Settings

__all__ = ["TestOptions", "record", "run_tests"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _common.add_config(parser)
    _common.add_env(parser, required=True)
    _common.add_format(parser)
    _common.add_state_dir(parser)
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="KIND/SLUG",
        help="run only these tests: eval/SLUG, tool/SLUG, or the evals of a target assistant/SLUG, squad/SLUG "
        "(repeatable)",
    )
    parser.add_argument(
        "--transient",
        action="store_true",
        help="test this config before it is deployed: targets and evals sent inline (tools by their live ids), "
        "nothing written to the org or to the env's test state",
    )
    parser.add_argument(
        "--canary", action="store_true", help="run the evals marked `canary: true` (as after a protected env's apply)"
    )
    parser.add_argument("--out", type=Path, default=None, metavar="FILE", help="also write the results JSON here")
    parser.add_argument("--markdown", type=Path, default=None, metavar="FILE", help="write the results as Markdown")
    parser.add_argument(
        "--eval-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="give up on an eval run that has not ended after this long (default 300)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=4, metavar="N", help="eval runs and smoke calls at a time (default 4)"
    )


def run_tests(session: Session, options: TestOptions) -> TestReport:
    """The behavioural tests of the session's env (the typed core the CLI and the action share)."""
    from ci_deployer.behaviour.runner import run_tests as run

    return run(session, options)


def record(session: Session, report: TestReport) -> bool:
    """Make a managed or canary run the env's test state (a transient run tested a config that is not
    applied: it is never state).  Returns whether it was recorded."""
    if report.mode == "transient":
        return False
    session.state.save_tests(session.env, report.to_dict())
    return True


def write_files(report: TestReport, out: Path | None, markdown: Path | None) -> None:
    from ci_deployer.report import tests as render

    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(redact.redact(report.to_json()), encoding="utf-8")
    if markdown is not None:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(render.render_markdown(report), encoding="utf-8")


def failure(report: TestReport) -> TestsFailed:
    """The error of a run whose tests did not all pass (names the first few)."""
    failing = [r.name for r in report.failing()]
    shown = ", ".join(failing[:3]) + (f" and {len(failing) - 3} more" if len(failing) > 3 else "")
    return TestsFailed(
        f"behavioural tests failed in {report.env}: {shown}",
        hint="see the checkpoint, the expected judge and the transcript above each failure; "
        "fix the config (or the test), then run `ci-deployer test` again",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from ci_deployer import compose
    from ci_deployer.errors import ConfigError
    from ci_deployer.report import tests as render
    from ci_deployer.report.locations import config_prefix

    if args.eval_timeout <= 0 or args.concurrency < 1:
        raise ConfigError("--eval-timeout must be above 0 and --concurrency at least 1", hint="e.g. --eval-timeout 300")
    root = _common.config_dir(args)
    options = TestOptions(
        only=tuple(args.only),
        transient=args.transient,
        canary=args.canary,
        polling=Polling(timeout=args.eval_timeout),
        concurrency=args.concurrency,
        run=settings.run_id or None,
        run_url=settings.run_url or None,
    )
    with compose.open_session(settings, root, args.env, state=_common.state_backend(args, root)) as session:
        report = run_tests(session, options)
        record(session, report)
    write_files(report, args.out, args.markdown)
    if args.format == "json":
        data = report.to_dict()
        if not report.ok:
            data["failure_reason"] = "tests-failed"
        sys.stdout.write(redact.redact(json.dumps(data, indent=2, ensure_ascii=False)) + "\n")
        return EXIT_OK if report.ok else EXIT_FAILED
    if args.format == "github":
        sys.stdout.write(render.render_github(report, prefix=config_prefix(root, settings.workspace)))
    else:
        sys.stdout.write(render.render_text(report))
    if not report.ok:
        raise failure(report)
    return EXIT_OK
