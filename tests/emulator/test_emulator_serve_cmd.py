"""`ci-deployer emulator serve` as a real subprocess on a free port, stopped with SIGTERM."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
from emulator_helpers import function_tool

from ci_deployer.cli import main


def _start(*args: str) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    """Start the command; its output lines arrive on the queue (stdout is closed at its end)."""
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "ci_deployer", "emulator", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        with process.stdout:
            for line in process.stdout:
                lines.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    _readers[process.pid] = reader
    return process, lines


_readers: dict[int, threading.Thread] = {}


def _stop(process: subprocess.Popen[str], sig: signal.Signals) -> int:
    process.send_signal(sig)
    code = process.wait(timeout=20)
    _readers.pop(process.pid).join(timeout=20)  # the reader closes stdout at EOF
    return code


def _wait_for_url(lines: queue.Queue[str], seen: list[str]) -> str:
    while True:
        line = lines.get(timeout=20)
        seen.append(line)
        match = re.search(r"listening on (http://\S+)", line)
        if match:
            return match.group(1)


def test_serve_command_runs_until_sigterm(tmp_path: Path) -> None:
    process, lines = _start("--data", str(tmp_path), "--org", "acme=secret-token-1", "--org", "beta=secret-token-2")
    seen: list[str] = []
    try:
        url = _wait_for_url(lines, seen)
        with httpx.Client(base_url=url, headers={"Authorization": "Bearer secret-token-1"}) as api:
            assert api.post("/tool", json=function_tool()).status_code == 201
            assert len(api.get("/tool").json()) == 1
        with httpx.Client(base_url=url, headers={"Authorization": "Bearer secret-token-2"}) as beta:
            assert beta.get("/tool").json() == []
    finally:
        code = _stop(process, signal.SIGTERM)
    while not lines.empty():
        seen.append(lines.get())
    output = "".join(seen)
    assert code == 0, output
    assert "org acme" in output and "org beta" in output
    assert "secret-token" not in output  # tokens are never printed
    assert list((tmp_path / "acme" / "tool").glob("*.json"))  # --data stored it on disk


def test_serve_without_orgs_creates_the_default_org() -> None:
    process, lines = _start()
    seen: list[str] = []
    try:
        url = _wait_for_url(lines, seen)
        with httpx.Client(base_url=url, headers={"Authorization": "Bearer dev-token"}) as api:
            assert api.get("/assistant").json() == []
    finally:
        assert _stop(process, signal.SIGINT) == 0
    assert "org 'default' with token 'dev-token'" in "".join(seen)


def test_bad_flags_say_what_to_do(capsys: object) -> None:
    assert main(["emulator", "serve", "--org", "no-equals-sign"]) == 1
    assert main(["emulator", "serve", "--fail-rate", "2"]) == 1
    assert main(["emulator"]) == 1
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert "NAME=TOKEN" in err and "between 0 and 1" in err and "emulator serve" in err


def test_serve_command_makes_uploads_take_the_given_number_of_reads() -> None:
    process, lines = _start("--org", "acme=tok-acme-0123456789", "--file-processing-polls", "2")
    try:
        url = _wait_for_url(lines, [])
        with httpx.Client(base_url=url, headers={"Authorization": "Bearer tok-acme-0123456789"}) as api:
            file = api.post("/file", files={"file": ("faq.md", b"# FAQ\n")}, data={"purpose": "knowledge-base-v2"})
            assert file.json()["status"] == "processing"
            statuses = [api.get(f"/file/{file.json()['id']}").json()["status"] for _ in range(2)]
            assert statuses == ["processing", "done"]
    finally:
        assert _stop(process, signal.SIGTERM) == 0
