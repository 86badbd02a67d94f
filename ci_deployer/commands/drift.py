"""`ci-deployer drift`: drift and unmanaged resources only (scheduled runs).

Exit 3 when managed resources changed outside ci-deployer and the env's policy is ``drift: fail``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from ci_deployer import redact
from ci_deployer.commands import _common


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _common.add_state_dir(parser)
    _common.add_config(parser)
    _common.add_env(parser)
    _common.add_format(parser)


def run(args: argparse.Namespace) -> int:
    from ci_deployer.engine.compose import open_session
    from ci_deployer.report.plan import field_lines

    with open_session(_common.config_dir(args), args.env, os.environ, state=_common.state_backend(args)) as session:
        plan = session.plan(against="live").plan
        failing = bool(plan.drift) and session.environment.drift == "fail"
        if args.format == "json":
            data = {
                "formatVersion": 1,
                "kind": "drift",
                "env": plan.env,
                "org": plan.org,
                "policy": session.environment.drift,
                "drift": [d.to_dict() for d in plan.drift],
                "unmanaged": plan.unmanaged,
                "ok": not failing,
            }
            if failing:
                data["failure_reason"] = "drift"
            sys.stdout.write(redact.redact(json.dumps(data, indent=2, ensure_ascii=False)) + "\n")
        else:
            lines = []
            for item in plan.drift:
                what = "was deleted outside ci-deployer" if item.missing else "changed outside ci-deployer"
                if args.format == "github":
                    lines.append(f"::warning title=drift {item.kind}/{item.slug}::{item.kind}/{item.slug} {what}")
                lines.append(f"! {item.kind}/{item.slug} {what}")
                lines += [f"    {line}" for line in field_lines(item.fields)]
            for obj in plan.unmanaged:
                lines.append(f"? unmanaged {obj['kind']} {obj.get('name') or '(no name)'} ({obj['id']})")
            lines.append(
                f"Drift: {len(plan.drift)} drifted, {len(plan.unmanaged)} unmanaged in {plan.env} "
                f"(policy: {session.environment.drift})."
            )
            sys.stdout.write(redact.redact("\n".join(lines)) + "\n")
        return 3 if failing else 0
