"""What people see while apply works: `[n/N]` lines in logs, a bar and a short summary before the
prompt on a terminal, "No changes." when there is nothing to do, and failures as a table."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "platform"
EXE = str(Path(sys.executable).with_name("ci-deployer"))


def config(tmp_path: Path) -> Path:
    root = tmp_path / "platform"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".ci-deployer"))
    return root


def env() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "GITHUB_ACTIONS")}
    return {**clean, "ORDERS_API_TOKEN": "orders-token-value-0123456789", "COLUMNS": "100"}


def test_without_a_terminal_each_write_is_one_flushed_n_of_total_line_on_stderr(tmp_path: Path) -> None:
    root = config(tmp_path)
    proc = subprocess.run(
        [EXE, "apply", "--config", str(root), "--env", "dev", "--auto-approve", "--format", "json"],
        capture_output=True,
        text=True,
        env=env(),
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    steps = [line for line in lines if line.startswith("[")]
    assert lines[0] == "Applying 8 writes"
    assert [line.split("]")[0] for line in steps] == [f"[{n}/8" for n in range(1, 9)]
    assert all(" … ok (" in line for line in steps)
    assert lines[-1].startswith("Applied 8/8 writes in ") and lines[-1].endswith("8 ok, 0 failed, 0 not attempted")
    assert proc.stdout.lstrip().startswith("{")  # stdout stays the JSON document


class Terminal:
    """A command on a pseudo-terminal: what it prints, and answers typed at its prompts."""

    def __init__(self, argv: list[str]) -> None:
        self.master, slave = pty.openpty()
        # a terminal of 30 rows × 100 columns, as a person's would be (a bare pty has 0 × 0)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env(), close_fds=True)
        os.close(slave)
        self.seen = ""

    def read_until(self, text: str, timeout: float = 60, after: int = 0) -> str:
        """Everything printed so far, once ``text`` appeared after offset ``after``."""
        deadline = time.monotonic() + timeout
        while text not in self.seen[after:] and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.seen += os.read(self.master, 65536).decode("utf-8", "replace")
                except OSError:
                    break
        assert text in self.seen[after:], self.seen
        return self.seen

    def type(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def finish(self) -> int:
        code = self.proc.wait(timeout=60)
        while select.select([self.master], [], [], 0.2)[0]:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                break
            if not chunk:
                break
            self.seen += chunk.decode("utf-8", "replace")
        return code


def test_on_a_terminal_the_prompt_shows_the_summary_first_and_the_diff_on_request(tmp_path: Path) -> None:
    root = config(tmp_path)
    term = Terminal([EXE, "apply", "--config", str(root), "--env", "dev"])
    before = term.read_until("Apply these changes?")
    assert "dev: Plan: 8 to create, 0 to update, 0 to delete." in before
    assert "lookup_order" not in before  # the full diff only on request
    term.type("diff")
    shown = term.read_until("Apply these changes?", timeout=60, after=len(before))
    assert "create Tool/lookup-order" in shown[len(before) :]
    term.type("yes")
    assert term.finish() == 0
    # the live bar (tqdm): done/total and rate, then the summary
    assert "Applying" in term.seen and "8/8" in term.seen and "write/s" in term.seen
    assert "Applied 8/8 writes in " in term.seen

    again = Terminal([EXE, "apply", "--config", str(root), "--env", "dev"])
    assert again.finish() == 0
    assert "No changes. The org matches the config; nothing to apply." in again.seen
    assert "Apply these changes?" not in again.seen


def test_an_empty_plan_says_no_changes(tmp_path: Path) -> None:
    root = config(tmp_path)
    run = [EXE, "apply", "--config", str(root), "--env", "dev", "--auto-approve"]
    assert subprocess.run(run, capture_output=True, env=env(), timeout=120, check=False).returncode == 0
    plan = subprocess.run(
        [EXE, "plan", "--config", str(root), "--env", "dev"],
        capture_output=True,
        text=True,
        env=env(),
        timeout=120,
        check=False,
    )
    assert "No changes." in plan.stdout


def test_lines_from_concurrent_workers_count_up_in_order() -> None:
    """apply's workers report from their threads: the lines read 1, 2, 3 … whatever the threads'
    interleaving (a count taken apart from its write printed ``[2/8]`` before ``[1/8]`` under load),
    and all of them are out when the summary is."""
    import re
    import threading

    from ci_deployer.engine.apply import OpResult
    from ci_deployer.progress import LineProgress

    lines: list[str] = []

    def emit(line: str) -> None:
        time.sleep(0)  # let another worker run between the count and the line, as a busy machine does
        lines.append(line)

    progress = LineProgress(emit)
    progress.start(400)
    result = OpResult("create", "Tool", "t")

    def worker() -> None:
        for _ in range(50):
            progress.step(result, "+ create Tool/t … ok")

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    progress.finish([result] * 400)
    assert lines[-1].startswith("Applied ")
    counts = [int(m.group(1)) for line in lines if (m := re.match(r"\[\s*(\d+)/400\]", line))]
    assert counts == list(range(1, 401))


def test_a_failed_write_leaves_the_next_worker_writing() -> None:
    from ci_deployer.engine.apply import OpResult
    from ci_deployer.progress import LineProgress

    lines: list[str] = []
    failures = iter([True])

    def emit(line: str) -> None:
        if line.startswith("[") and next(failures, False):
            raise BrokenPipeError("the log's reader went away")
        lines.append(line)

    progress = LineProgress(emit)
    progress.start(3)
    result = OpResult("create", "Tool", "t")
    with pytest.raises(BrokenPipeError):
        progress.step(result, "first")
    progress.step(result, "second")
    progress.step(result, "third")
    assert lines[1:] == ["[2/3] second", "[3/3] third"]
