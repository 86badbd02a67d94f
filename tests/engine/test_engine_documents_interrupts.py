"""Uploads never leave orphans: a real `ci-deployer apply` killed (SIGKILL) after its first upload
landed, with latency on the emulator, and applied again uploads only what is missing; an upload whose
answer is lost is found again by its metadata hash instead of uploaded twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ci_deployer.emulator import Emulator, Faults, serve

TOKEN = "tok-docs-interrupt-5f1e2d3c"
DOCS = 80  # several batches of concurrent uploads (32 at a time): the kill lands mid-upload


def write_config(root: Path, url: str) -> None:
    (root / "knowledge" / "faq").mkdir(parents=True)
    (root / "environments.yaml").write_text(
        "apiVersion: ci-deployer/v1\nenvironments:\n"
        f'  dev:\n    org: acme\n    api: {{url: "{url}", token: secrets://VAPI_TOKEN_DEV}}\n',
        encoding="utf-8",
    )
    for i in range(DOCS):
        (root / "knowledge" / "faq" / f"q{i:02d}.md").write_text(f"# Question {i}\nAnswer {i}.\n", encoding="utf-8")
    (root / "knowledge" / "faq.yaml").write_text(
        "apiVersion: ci-deployer/v1\nkind: KnowledgeBase\nmetadata: {name: faq}\n"
        "spec: {name: FAQ}\ndocuments: [knowledge/faq/*.md]\n",
        encoding="utf-8",
    )


def cli(root: Path, *args: str) -> subprocess.Popen[str]:
    exe = Path(sys.executable).with_name("ci-deployer")
    return subprocess.Popen(
        [str(exe), *args, "--config", str(root), "--env", "dev"],
        env={**os.environ, "VAPI_TOKEN_DEV": TOKEN},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def journal(root: Path) -> list[dict[str, Any]]:
    lines = []
    for log in root.glob(".ci-deployer/runs/dev/*/apply-log.jsonl"):
        for raw in log.read_text(encoding="utf-8").splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                continue  # a line cut by the kill
    return lines


def uploaded(root: Path) -> list[dict[str, Any]]:
    return [line for line in journal(root) if line.get("event") == "write" and line.get("kind") == "File"]


def files(url: str) -> list[dict[str, Any]]:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        listed: list[dict[str, Any]] = api.get("/file", params={"purpose": "knowledge-base-v2", "limit": 1000}).json()
    return listed


@pytest.fixture
def served() -> Iterator[tuple[Emulator, str]]:
    emu = Emulator(faults=Faults(latency_ms=400, only_methods=frozenset({"POST"})))
    emu.add_org("acme", TOKEN)
    handle = serve(emu)
    try:
        yield emu, handle.url
    finally:
        handle.stop()


def test_an_apply_killed_after_its_first_upload_leaves_no_orphan_on_rerun(
    tmp_path: Path, served: tuple[Emulator, str]
) -> None:
    emu, url = served
    root = tmp_path / "platform"
    write_config(root, url)
    proc = cli(root, "apply", "--auto-approve")
    deadline = time.monotonic() + 60
    while not uploaded(root) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, f"the apply ended before it could be killed: {proc.communicate()}"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)

    # the journal recorded each upload as it landed: the file's id and its content hash
    first = uploaded(root)[0]
    assert first["action"] == "create" and first["status"] == "ok" and len(first["slug"]) == 64
    assert first["id"] in {f["id"] for f in files(url)}
    time.sleep(0.6)  # uploads still in flight when the client died land now (the server finishes them)
    landed = files(url)
    assert 0 < len(landed) < DOCS, "the kill should land mid-upload"
    assert not [e for e in emu.request_log if e.method == "POST" and e.path == "/v2/knowledge-base"]

    rerun = cli(root, "apply", "--auto-approve")
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert "Traceback" not in err
    after = files(url)
    hashes = Counter(f["metadata"]["ciDeployer"]["sha256"] for f in after)
    assert len(after) == DOCS and len(hashes) == DOCS  # every document once: no orphan, no duplicate
    posts = [e for e in emu.request_log if e.method == "POST" and e.path == "/file" and e.status == 201]
    assert len(posts) == DOCS  # what landed before the kill was adopted, not uploaded again
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        [kb] = api.get("/v2/knowledge-base").json()
        assert len(api.get(f"/v2/knowledge-base/{kb['id']}/file").json()) == DOCS

    plan = cli(root, "plan", "--detailed-exitcode", "--format", "json")
    out, err = plan.communicate(timeout=60)
    assert plan.returncode == 0, err + out
    assert json.loads(out)["hasChanges"] is False


def test_an_upload_whose_answer_is_lost_is_found_by_its_metadata_not_uploaded_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ci_deployer.cli import main

    emu = Emulator(faults=Faults(drop_rate=1.0, only_methods=frozenset({"POST"}), seed=1))
    emu.add_org("acme", TOKEN)
    with serve(emu) as handle:
        root = tmp_path / "platform"
        write_config(root, handle.url)
        for extra in (root / "knowledge" / "faq").glob("q[1-9]*.md"):
            extra.unlink()  # ten documents are enough here
        monkeypatch.setenv("VAPI_TOKEN_DEV", TOKEN)
        code = main(["apply", "--config", str(root), "--env", "dev", "--auto-approve"])
        _, err = capsys.readouterr()
        assert code == 0, err
        assert "(found after a lost answer)" in err
        posts = [e for e in emu.request_log if e.method == "POST" and e.path == "/file"]
        assert len(posts) == 10 and all(e.dropped for e in posts)
        assert len(files(handle.url)) == 10
        emu.faults.drop_rate = 0
        assert main(["plan", "--config", str(root), "--env", "dev", "--detailed-exitcode"]) == 0
