"""The apply log's writes: whole lines from concurrent workers, durable on sync, none after close."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from ci_deployer import redact
from ci_deployer.engine.auditlog import AuditLog


def test_lines_from_concurrent_workers_arrive_whole(tmp_path: Path) -> None:
    """Workers append without a lock of ours: each line is one appending write, so none interleave,
    long ones (over a pipe's 4 KiB atomic size) included, and none is lost."""
    path = tmp_path / "apply-log.jsonl"

    def worker(audit: AuditLog, n: int) -> None:
        for i in range(150):
            audit.event("write", worker=n, index=i, pad="x" * (i * 97 % 9000))

    with AuditLog(path) as audit:
        threads = [threading.Thread(target=worker, args=(audit, n)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        audit.sync()
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 16 * 150
    assert {(line["worker"], line["index"]) for line in lines} == {(n, i) for n in range(16) for i in range(150)}
    assert all(line["pad"] == "x" * (line["index"] * 97 % 9000) for line in lines)


def test_a_line_goes_to_the_file_at_once_with_secrets_masked(tmp_path: Path) -> None:
    redact.register("s3cr3t-value-0123456789")
    path = tmp_path / "apply-log.jsonl"
    with AuditLog(path) as audit:
        audit.event("start", note="token s3cr3t-value-0123456789")
        written = path.read_text(encoding="utf-8")  # before sync or close: the OS has it
    assert json.loads(written)["event"] == "start"
    assert "s3cr3t" not in written


def test_appending_keeps_what_an_earlier_run_wrote_and_a_closed_log_refuses(tmp_path: Path) -> None:
    path = tmp_path / "apply-log.jsonl"
    with AuditLog(path) as audit:
        audit.event("start")
    with AuditLog(path) as audit:
        audit.event("end")
    assert [json.loads(line)["event"] for line in path.read_text(encoding="utf-8").splitlines()] == ["start", "end"]
    with pytest.raises(ValueError, match="closed"):
        audit.event("late")
