"""The README's "first real org in ten minutes" walkthrough, run as written: its bash blocks, in
order, in an empty folder, against the emulator it starts as a stand-in org (on a free port instead
of 8787, so parallel runs cannot collide)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def walkthrough_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## The first real org in ten minutes", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, flags=re.S)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_walkthrough_runs_as_written(tmp_path: Path) -> None:
    blocks = walkthrough_blocks()
    assert len(blocks) >= 3, "the walkthrough lost its commands"
    port = str(free_port())
    script = "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + "\n".join(blocks)
    script = script.replace("8787", port)
    bindir = str(Path(sys.executable).parent)  # where this environment's `ci-deployer` lives
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_", "CI"))}
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    out = done.stdout
    assert "Plan: 2 to create, 0 to update, 0 to delete." in out  # the plan before the apply
    assert "Applied to dev: 2 write(s) ok" in out
    assert "No changes." in out  # the plan after it
    assert "Drift: 0 drifted, 0 unmanaged in dev" in out
    assert "orders-service-key-0123456789" not in out + done.stderr
    assert (tmp_path / "acme" / "platform" / "tools" / "lookup-order.yaml").is_file()
