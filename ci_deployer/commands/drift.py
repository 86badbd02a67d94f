"""`ci-deployer drift`: drift and unmanaged resources only (scheduled runs).

Drift is measured against the env's last snapshot (the baseline).  Without one there is nothing to
compare: a protected env refuses (``state-error``: its baseline is gone), an unprotected one says so
plainly and lists what is live as unmanaged.  Exit 3 when managed resources changed outside
ci-deployer and the env's policy is ``drift: fail``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from ci_deployer.commands import _common
from ci_deployer.engine.plan import Plan
from ci_deployer.engine.session import Session
from ci_deployer.error_handler import EXIT_DRIFT, EXIT_OK
from ci_deployer.errors import StateError
from ci_deployer.settings import Settings


@dataclass
class DriftReport:
    """What the drift check found in one env."""

    plan: Plan
    policy: str
    baseline: bool  # False: no snapshot recorded, so drift cannot be told from anything else

    @property
    def failing(self) -> bool:
        return bool(self.plan.drift) and self.policy == "fail"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _common.add_state_dir(parser)
    _common.add_config(parser)
    _common.add_env(parser)
    _common.add_format(parser)


def drift_env(session: Session) -> DriftReport:
    """The drift check of the session's env (the typed core the CLI and the action share)."""
    environment = session.environment
    baseline = session.latest_state() is not None
    if not baseline and environment.protection is not None:
        raise StateError(
            f"{environment.name} has no recorded state, so drift cannot be checked: its baseline is missing",
            hint="restore the env's last snapshot (the `snapshot-after.json` of its last apply artifact, "
            "with --state-dir, or give the job `actions: read` so the action can read it)",
        )
    plan = session.plan(against="live").plan
    return DriftReport(plan, environment.drift, baseline)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from ci_deployer import compose
    from ci_deployer.report import drift as report

    root = _common.config_dir(args)
    with compose.open_session(settings, root, args.env, state=_common.state_backend(args, root)) as session:
        result = drift_env(session)
        sys.stdout.write(report.render(result, args.format))
        return EXIT_DRIFT if result.failing else EXIT_OK
