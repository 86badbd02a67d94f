"""`ci-deployer export`: write a live org out as normalized config documents with slugs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ci_deployer import redact
from ci_deployer.commands import _common
from ci_deployer.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _common.add_config(parser)
    _common.add_env(parser)
    _common.add_format(parser)
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write the documents to")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from ci_deployer import compose
    from ci_deployer.engine.export import export

    root = _common.config_dir(args)
    with compose.open_session(settings, root, args.env, validate=False) as session:
        result = export(session, args.out, root)
        if args.format == "json":
            data = {"formatVersion": 1, "kind": "export", "env": args.env, "out": str(args.out), **vars(result)}
            sys.stdout.write(redact.redact(json.dumps(data, indent=2)) + "\n")
        else:
            for warning in result.warnings:
                print(redact.redact(f"warning: {warning}"), file=sys.stderr)
            print(f"Exported {len(result.files)} file(s) from {args.env} to {args.out}.")
        return 0
