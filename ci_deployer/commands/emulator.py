"""`ci-deployer emulator serve`: the Vapi-compatible emulator over HTTP until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from ci_deployer import redact
from ci_deployer.errors import DeployerError
from ci_deployer.settings import Settings

DEFAULT_ORG = ("default", "dev-token")


def _bounded(kind: Callable[[str], float], low: float, high: float | None = None) -> Callable[[str], float]:
    """An argument type: a number of ``kind`` within ``[low, high]`` (a usage error otherwise)."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < low or (high is not None and value > high):
            span = f"between {low:g} and {high:g}" if high is not None else f"{low:g} or more"
            raise argparse.ArgumentTypeError(f"must be {span} (got {text})")
        return value

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="emulator_command", metavar="SUBCOMMAND")
    serve = sub.add_parser("serve", help="serve the emulator over HTTP", description="serve the emulator over HTTP")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, loopback only)")
    serve.add_argument(
        "--port",
        type=_bounded(int, 0, 65535),
        default=8787,
        help="port to listen on (default: 8787; 0 picks a free one)",
    )
    serve.add_argument(
        "--data", type=Path, default=None, metavar="DIR", help="keep orgs and resources in DIR (default: memory only)"
    )
    serve.add_argument(
        "--org",
        action="append",
        default=[],
        metavar="NAME=TOKEN",
        help="an org reachable with bearer TOKEN; repeatable (default: org 'default' with token 'dev-token')",
    )
    serve.add_argument(
        "--latency-ms", type=_bounded(float, 0), default=0, metavar="N", help="added latency per request"
    )
    serve.add_argument(
        "--fail-rate", type=_bounded(float, 0, 1), default=0, metavar="F", help="share of requests answered 5xx (0..1)"
    )
    serve.add_argument(
        "--throttle-rate", type=_bounded(float, 0, 1), default=0, metavar="F", help="share answered 429 (0..1)"
    )
    serve.add_argument(
        "--retry-after",
        type=_bounded(float, 0),
        default=None,
        metavar="SECONDS",
        help="Retry-After header on injected 429s",
    )
    serve.add_argument(
        "--drop-rate",
        type=_bounded(float, 0, 1),
        default=0,
        metavar="F",
        help="share whose response is lost after the write (0..1)",
    )
    serve.add_argument(
        "--reset-rate", type=_bounded(float, 0, 1), default=0, metavar="F", help="share of connections reset (0..1)"
    )
    serve.add_argument("--seed", type=int, default=None, help="seed for the fault RNG (reproducible runs)")
    serve.add_argument(
        "--eval-run-polls",
        type=_bounded(int, 0),
        default=0,
        metavar="N",
        help="eval runs answer `queued`, then `running` to N polls before they end (default 0: at once)",
    )
    serve.add_argument(
        "--file-processing-polls",
        type=_bounded(int, 0),
        default=0,
        metavar="N",
        help="reads of an uploaded file (or a knowledge-base attachment) before Vapi has processed it (default 0)",
    )
    serve.add_argument(
        "--file-processing-ms",
        type=_bounded(float, 0),
        default=0,
        metavar="MS",
        help="time an upload stays `processing` (and an attachment `indexing`) at least (default 0)",
    )


def _orgs(specs: list[str]) -> list[tuple[str, str]]:
    out = []
    for spec in specs:
        name, sep, token = spec.partition("=")
        if not sep or not name or not token:
            raise DeployerError(
                "--org takes NAME=TOKEN (got a value without '=' or with an empty part)",
                hint="e.g. --org acme-dev=my-local-token",
            )
        redact.register(token)
        out.append((name, token))
    return out


def _rate(name: str, value: float) -> float:
    if not 0 <= value <= 1:
        raise DeployerError(f"--{name} must be between 0 and 1 (got {value})", hint="0.1 means one request in ten")
    return value


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the emulator until interrupted; returns 0 on a clean stop."""
    if getattr(args, "emulator_command", None) != "serve":
        raise DeployerError("`ci-deployer emulator` needs a subcommand", hint="run `ci-deployer emulator serve`")
    from ci_deployer.emulator import Emulator, Faults, Processing, serve

    faults = Faults(
        latency_ms=max(args.latency_ms, 0),
        fail_rate=_rate("fail-rate", args.fail_rate),
        throttle_rate=_rate("throttle-rate", args.throttle_rate),
        retry_after=args.retry_after,
        drop_rate=_rate("drop-rate", args.drop_rate),
        reset_rate=_rate("reset-rate", args.reset_rate),
        seed=args.seed,
    )
    orgs = _orgs(args.org)
    if args.eval_run_polls < 0:
        raise DeployerError("--eval-run-polls must be 0 or more", hint="0 ends every eval run at once")
    processing = Processing(polls=max(args.file_processing_polls, 0), delay_ms=max(args.file_processing_ms, 0))
    emulator = Emulator(args.data, faults=faults, eval_run_polls=args.eval_run_polls, processing=processing)
    if not orgs:
        orgs = [DEFAULT_ORG]
        print(f"no --org given: created org '{DEFAULT_ORG[0]}' with token '{DEFAULT_ORG[1]}' (local use only)")
    for name, token in orgs:
        try:
            emulator.add_org(name, token)
        except ValueError as exc:
            raise DeployerError(f"--org {name}=…: {exc}", hint="give each org a distinct NAME and TOKEN") from None
    try:
        handle = serve(emulator, args.host, args.port)
    except OSError as exc:
        raise DeployerError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
            hint="pick another port with --port (0 picks a free one)",
        ) from None
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, _on_signal)
    try:
        print(f"Vapi emulator listening on {handle.url}")
        for name, _token in orgs:
            print(f"  org {name} (orgId {emulator.org_id(name)})")
        print(f"  storage: {args.data if args.data is not None else 'memory (lost on exit)'}")
        print("Press Ctrl-C to stop.")
        sys.stdout.flush()
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        handle.stop()
    print("emulator stopped")
    return 0
