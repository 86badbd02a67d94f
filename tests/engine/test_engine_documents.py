"""Knowledge-base documents as code, end to end over HTTP against the served emulator: files in the
repo uploaded once per content hash, attached, changed, removed and renamed with exactly the requests
the change needs (counted in the emulator's request log), planned with text diffs, waited for until
Vapi has read them, exported back and planned again to no changes."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import TOKEN, Org, environments_yaml, git

from ci_deployer import compose
from ci_deployer.cli import main
from ci_deployer.emulator import Emulator, Processing, serve
from ci_deployer.engine import operations
from ci_deployer.errors import DeployerError
from ci_deployer.settings import Settings

_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

KB_DOC = """\
apiVersion: ci-deployer/v1
kind: KnowledgeBase
metadata: {{name: {slug}{previous}}}
spec:
  name: Returns FAQ
  description: Return policy and shipping times
documents:
{documents}"""

TOOL_DOC = """\
apiVersion: ci-deployer/v1
kind: Tool
metadata: {name: faq-query}
spec:
  type: query
  knowledgeBases:
    - provider: google
      name: returns
      description: Return policy
      fileIds: [{document: knowledge/returns/policy.md}]
"""

ASSISTANT_DOC = """\
apiVersion: ci-deployer/v1
kind: Assistant
metadata: {{name: returns-agent}}
spec:
  name: Returns Agent
  model: {{provider: openai, model: gpt-4.1, toolIds: [{kb}, faq-query]}}
"""


ALL_THREE = ["knowledge/returns/policy.md", "knowledge/returns/refunds.md", "knowledge/shipping.pdf"]


def write_kb(root: Path, documents: list[str], *, slug: str = "returns-faq", previous: str = "") -> None:
    listed = "".join(f"  - {d}\n" for d in documents)
    prev = f", previousNames: [{previous}]" if previous else ""
    (root / "knowledge" / "returns-faq.yaml").write_text(
        KB_DOC.format(slug=slug, previous=prev, documents=listed), encoding="utf-8"
    )
    (root / "assistants" / "returns-agent.yaml").write_text(ASSISTANT_DOC.format(kb=slug), encoding="utf-8")


@pytest.fixture
def repo(tmp_path: Path, org: Org, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "platform"
    for folder in ("knowledge/returns", "tools", "assistants"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "environments.yaml").write_text(environments_yaml(org.url), encoding="utf-8")
    (root / ".gitignore").write_text(".ci-deployer/\n", encoding="utf-8")
    (root / "knowledge" / "returns" / "policy.md").write_text("# Returns\nWithin 30 days.\n", encoding="utf-8")
    (root / "knowledge" / "returns" / "refunds.md").write_text("# Refunds\nTo the card.\n", encoding="utf-8")
    (root / "knowledge" / "shipping.pdf").write_bytes(b"%PDF-1.4 shipping times\n%%EOF\n")
    (root / "tools" / "faq-query.yaml").write_text(TOOL_DOC, encoding="utf-8")
    write_kb(root, ["knowledge/returns/*.md", "{file: knowledge/shipping.pdf}"])
    git(root, "init", "-q", "-b", "main")
    commit(root, "initial")
    monkeypatch.setenv("VAPI_TOKEN_DEV", TOKEN)
    monkeypatch.delenv("GITHUB_SHA", raising=False)
    return root


def commit(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def apply(capsys: pytest.CaptureFixture[str], root: Path, *extra: str) -> tuple[int, str]:
    code, out, err = cli(capsys, "apply", "--config", str(root), "--env", "dev", "--auto-approve", *extra)
    return code, out + err


def plan(capsys: pytest.CaptureFixture[str], root: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    code, out, err = cli(
        capsys, "plan", "--config", str(root), "--env", "dev", "--format", "json", "--detailed-exitcode", *extra
    )
    assert code in (0, 2), err
    return code, json.loads(out)


def writes_since(org: Org, start: int) -> Counter[str]:
    """The writes the emulator saw since ``start`` (ids replaced by ``{id}``)."""
    out: Counter[str] = Counter()
    for entry in org.emulator.request_log[start:]:
        if entry.method != "GET" and 200 <= entry.status < 300:
            out[f"{entry.method} {_ID.sub('{id}', entry.path)}"] += 1
    return out


def live_files(org: Org) -> list[dict[str, Any]]:
    return org.list("/file?purpose=knowledge-base-v2")


def attached_names(org: Org) -> list[str]:
    [kb] = org.list("/v2/knowledge-base")
    files = {f["id"]: f for f in live_files(org)}
    attachments = org.http.get(f"/v2/knowledge-base/{kb['id']}/file").json()
    return sorted(files[a["fileId"]]["metadata"]["ciDeployer"]["path"] for a in attachments)


def change(data: dict[str, Any], kind: str, slug: str) -> dict[str, Any]:
    found = [c for c in data["changes"] if c["kind"] == kind and c["slug"] == slug]
    assert len(found) == 1, data["changes"]
    return found[0]


def test_documents_added_changed_removed_and_renamed_touch_exactly_the_changed_files(
    repo: Path, org: Org, capsys: pytest.CaptureFixture[str]
) -> None:
    # 1. three documents: three uploads, three attachments; the query tool names one by its id
    code, data = plan(capsys, repo)
    assert code == 2
    kb = change(data, "KnowledgeBase", "returns-faq")
    assert [(d["path"], d["op"], d.get("upload")) for d in kb["documents"]] == [
        ("knowledge/returns/policy.md", "add", True),
        ("knowledge/returns/refunds.md", "add", True),
        ("knowledge/shipping.pdf", "add", True),
    ]
    assert sorted(c["slug"] for c in data["changes"] if c["kind"] == "File") == [
        "knowledge/returns/policy.md",
        "knowledge/returns/refunds.md",
        "knowledge/shipping.pdf",
    ]
    start = len(org.emulator.request_log)
    code, text = apply(capsys, repo)
    assert code == 0, text
    assert writes_since(org, start) == Counter(
        {
            "POST /file": 3,
            "POST /v2/knowledge-base": 1,
            "POST /v2/knowledge-base/{id}/file": 3,
            "POST /tool": 1,
            "POST /assistant": 1,
        }
    )
    assert attached_names(org) == ALL_THREE
    files = {f["metadata"]["ciDeployer"]["path"]: f for f in live_files(org)}
    [tool] = [t for t in org.list("/tool") if t["type"] == "query"]
    assert tool["knowledgeBases"][0]["fileIds"] == [files["knowledge/returns/policy.md"]["id"]]
    assert files["knowledge/shipping.pdf"]["mimetype"] == "application/pdf"

    # 2. a rerun uploads nothing and writes nothing
    code, data = plan(capsys, repo)
    assert code == 0 and not data["hasChanges"]
    start = len(org.emulator.request_log)
    assert apply(capsys, repo)[0] == 0
    assert writes_since(org, start) == Counter()

    # 3. one document changed: one upload, one attach, one detach, one delete, the tool repointed
    (repo / "knowledge" / "returns" / "policy.md").write_text(
        "# Returns\nWithin 45 days.\nKeep the receipt.\n", encoding="utf-8"
    )
    commit(repo, "longer returns")
    code, data = plan(capsys, repo)
    assert code == 2
    [entry] = change(data, "KnowledgeBase", "returns-faq")["documents"]
    assert entry["op"] == "change" and entry["path"] == "knowledge/returns/policy.md"
    assert entry["oldSha256"] == files["knowledge/returns/policy.md"]["metadata"]["ciDeployer"]["sha256"]
    assert entry["diff"] == [
        "@@ -1,2 +1,3 @@",
        " # Returns",
        "-Within 30 days.",
        "+Within 45 days.",
        "+Keep the receipt.",
    ]
    old_policy = files["knowledge/returns/policy.md"]["id"]
    deleted = [c for c in data["changes"] if c["kind"] == "File" and c["action"] == "delete"]
    assert [(c["id"], c["blocked"]) for c in deleted] == [(old_policy, None)]
    assert change(data, "Tool", "faq-query")["action"] == "update"
    start = len(org.emulator.request_log)
    code, text = apply(capsys, repo)
    assert code == 0, text
    assert writes_since(org, start) == Counter(
        {
            "POST /file": 1,
            "POST /v2/knowledge-base/{id}/file": 1,
            "DELETE /v2/knowledge-base/{id}/file/{id}": 1,
            "DELETE /file/{id}": 1,
            "PATCH /tool/{id}": 1,
        }
    )
    assert old_policy not in {f["id"] for f in live_files(org)}
    assert plan(capsys, repo)[0] == 0

    # 4. one document removed: one detach, one delete, no upload
    write_kb(repo, ["knowledge/returns/*.md"])
    commit(repo, "no shipping times")
    code, data = plan(capsys, repo)
    assert [(d["path"], d["op"]) for d in change(data, "KnowledgeBase", "returns-faq")["documents"]] == [
        ("knowledge/shipping.pdf", "remove")
    ]
    start = len(org.emulator.request_log)
    assert apply(capsys, repo)[0] == 0
    assert writes_since(org, start) == Counter({"DELETE /v2/knowledge-base/{id}/file/{id}": 1, "DELETE /file/{id}": 1})
    assert attached_names(org) == ["knowledge/returns/policy.md", "knowledge/returns/refunds.md"]

    # 5. the base renamed through previousNames: its id, its files and its attachments are kept
    write_kb(repo, ["knowledge/returns/*.md"], slug="returns-kb", previous="returns-faq")
    commit(repo, "rename the base")
    code, data = plan(capsys, repo)
    renamed = change(data, "KnowledgeBase", "returns-kb")
    assert renamed["action"] == "rename" and "documents" not in renamed
    assert not [c for c in data["changes"] if c["kind"] == "File"]
    start = len(org.emulator.request_log)
    assert apply(capsys, repo)[0] == 0
    assert writes_since(org, start) == Counter({"PATCH /v2/knowledge-base/{id}": 1})  # the assistant follows the rename
    assert plan(capsys, repo)[0] == 0

    # every file in the org is one listed document, once
    shas = [f["metadata"]["ciDeployer"]["sha256"] for f in live_files(org)]
    assert len(shas) == len(set(shas)) == 2
    state = json.loads(next((repo / ".ci-deployer" / "state" / "dev").glob("*.json")).read_text(encoding="utf-8"))
    assert sorted(state["documents"]["knowledgeBases"]["returns-kb"]) == [
        "knowledge/returns/policy.md",
        "knowledge/returns/refunds.md",
    ]
    assert sorted(state["documents"]["files"]) == sorted(shas)


def test_the_plan_hash_covers_document_contents_not_timestamps(
    repo: Path, org: Org, capsys: pytest.CaptureFixture[str]
) -> None:
    assert apply(capsys, repo)[0] == 0
    same = [plan(capsys, repo)[1]["hash"] for _ in range(2)]
    assert same[0] == same[1]
    assert plan(capsys, repo, "--against", "snapshot")[1]["hash"] == same[0]  # what a PR job sees
    (repo / "knowledge" / "returns" / "refunds.md").write_text("# Refunds\nTo the card, in 5 days.\n", encoding="utf-8")
    first = plan(capsys, repo)[1]
    (repo / "knowledge" / "returns" / "refunds.md").write_text("# Refunds\nTo the card, in 7 days.\n", encoding="utf-8")
    second = plan(capsys, repo)[1]
    assert len({same[0], first["hash"], second["hash"]}) == 3
    assert [c["slug"] for c in first["changes"] if c["action"] != "noop"] == [
        "knowledge/returns/refunds.md",
        "returns-faq",
        "knowledge/returns/refunds.md",
    ]


def test_removing_a_document_is_a_delete_under_allow_deletes_but_replacing_one_is_not(
    repo: Path, org: Org, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "environments.yaml").write_text(environments_yaml(org.url, "    allowDeletes: false\n"), encoding="utf-8")
    assert apply(capsys, repo)[0] == 0
    (repo / "knowledge" / "returns" / "refunds.md").write_text("# Refunds\nNew text.\n", encoding="utf-8")
    code, text = apply(capsys, repo)
    assert code == 0, text  # the old upload of a path still listed is replaced, not removed
    write_kb(repo, ["knowledge/returns/*.md"])
    code, data = plan(capsys, repo)
    [blocked] = [c for c in data["changes"] if c["kind"] == "File" and c["action"] == "delete"]
    assert blocked["slug"] == "knowledge/shipping.pdf" and "deletes are not allowed" in blocked["blocked"]
    start = len(org.emulator.request_log)
    code, text = apply(capsys, repo)
    assert code == 1 and "does not allow deletes" in text
    assert writes_since(org, start) == Counter()
    code, text = apply(capsys, repo, "--allow-deletes")
    assert code == 0, text
    assert len(live_files(org)) == 2


def test_apply_waits_until_documents_are_indexed_before_the_assistant_that_uses_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    emu = Emulator(processing=Processing(polls=3))
    emu.add_org("acme-dev", TOKEN)
    with serve(emu) as handle:
        root = tmp_path / "platform"
        for folder in ("knowledge/returns", "tools", "assistants"):
            (root / folder).mkdir(parents=True)
        (root / "environments.yaml").write_text(environments_yaml(handle.url), encoding="utf-8")
        (root / "knowledge" / "returns" / "policy.md").write_text("# Returns\n", encoding="utf-8")
        (root / "tools" / "faq-query.yaml").write_text(TOOL_DOC, encoding="utf-8")
        write_kb(root, ["knowledge/returns/policy.md"])
        monkeypatch.setenv("VAPI_TOKEN_DEV", TOKEN)
        code, text = apply(capsys, root)
        assert code == 0, text
        log = [(e.method, _ID.sub("{id}", e.path), e.status) for e in emu.request_log]
        polls = [i for i, (m, p, _) in enumerate(log) if m == "GET" and p == "/file/{id}"]
        indexed = [i for i, (m, p, _) in enumerate(log) if m == "GET" and p == "/v2/knowledge-base/{id}/file"]
        assistant = next(i for i, (m, p, _) in enumerate(log) if m == "POST" and p == "/assistant")
        assert len(polls) >= 3 and max(polls) < assistant
        assert indexed and max(indexed) < assistant


def test_a_document_vapi_never_finishes_reading_times_out_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = Emulator(processing=Processing(polls=10**6))
    emu.add_org("acme-dev", TOKEN)
    with serve(emu) as handle:
        root = tmp_path / "platform"
        (root / "knowledge").mkdir(parents=True)
        (root / "environments.yaml").write_text(environments_yaml(handle.url), encoding="utf-8")
        (root / "knowledge" / "faq.md").write_text("# FAQ\n", encoding="utf-8")
        (root / "knowledge" / "faq.yaml").write_text(
            KB_DOC.format(slug="faq", previous="", documents="  - knowledge/faq.md\n"), encoding="utf-8"
        )
        monkeypatch.setenv("VAPI_TOKEN_DEV", TOKEN)
        settings = Settings(environ={"VAPI_TOKEN_DEV": TOKEN})
        with compose.open_session(settings, root, "dev") as session, pytest.raises(DeployerError) as info:
            operations.apply(session, operations.ApplyOptions(tmp_path / "run", documents_timeout=0.3))
        message = str(info.value)
        assert "knowledge/faq.md" in message
        assert "still processing after 0.3 s: Vapi has not finished reading it" in message
        assert "nothing is uploaded twice" in message
        # the upload is in the state: a rerun (once Vapi is done) uploads nothing
        emu.processing = Processing()
        start = len(emu.request_log)
        with compose.open_session(settings, root, "dev") as session:
            operations.apply(session, operations.ApplyOptions(tmp_path / "run2"))
        posts = [e for e in emu.request_log[start:] if e.method == "POST" and e.path == "/file"]
        assert posts == []


def test_export_writes_documents_back_and_plans_to_no_changes(
    repo: Path, org: Org, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert apply(capsys, repo)[0] == 0
    out = tmp_path / "exported"
    code, _, err = cli(capsys, "export", "--config", str(repo), "--env", "dev", "--out", str(out))
    assert code == 0, err
    exported = out / "knowledge" / "returns-faq"
    assert (exported / "policy.md").read_text(encoding="utf-8") == "# Returns\nWithin 30 days.\n"
    assert (out / "knowledge" / "returns-faq" / "shipping.pdf").read_bytes() == b"%PDF-1.4 shipping times\n%%EOF\n"
    kb = (out / "knowledge" / "returns-faq.yaml").read_text(encoding="utf-8")
    assert "documents:\n- knowledge/returns-faq/policy.md\n- knowledge/returns-faq/refunds.md\n" in kb
    tool = (out / "tools" / "faq-query.yaml").read_text(encoding="utf-8")
    assert "- document: knowledge/returns-faq/policy.md" in tool
    assert cli(capsys, "validate", "--config", str(out))[0] == 0
    code, data = plan(capsys, out)
    assert code == 0, data["changes"]
    assert not [c for c in data["changes"] if c["kind"] == "File"]


def test_export_without_downloads_leaves_a_placeholder_and_no_documents_block(
    repo: Path, org: Org, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert apply(capsys, repo)[0] == 0
    for record in list(org.emulator._storage.orgs["acme-dev"].collection("file-content")):
        org.emulator._storage.delete(org.emulator._storage.orgs["acme-dev"], "file-content", record)
    out = tmp_path / "exported"
    code, text, err = cli(capsys, "export", "--config", str(repo), "--env", "dev", "--out", str(out))
    assert code == 0, err
    placeholder = (out / "knowledge" / "returns-faq" / "documents.placeholder").read_text(encoding="utf-8")
    assert "name: policy.md" in placeholder and "sha256: " in placeholder
    assert "documents:" not in (out / "knowledge" / "returns-faq.yaml").read_text(encoding="utf-8")
    assert "could not be downloaded" in text + err
    assert cli(capsys, "validate", "--config", str(out))[0] == 0
    code, data = plan(capsys, out)
    assert not [c for c in data["changes"] if c["kind"] == "File" or c.get("documents")]


def test_a_base_without_a_documents_block_is_left_alone(
    repo: Path, org: Org, capsys: pytest.CaptureFixture[str]
) -> None:
    assert apply(capsys, repo)[0] == 0
    text = (repo / "knowledge" / "returns-faq.yaml").read_text(encoding="utf-8")
    (repo / "knowledge" / "returns-faq.yaml").write_text(text.split("documents:")[0], encoding="utf-8")
    (repo / "tools" / "faq-query.yaml").unlink()
    (repo / "assistants" / "returns-agent.yaml").write_text(
        ASSISTANT_DOC.format(kb="returns-faq").replace(", faq-query]", "]"), encoding="utf-8"
    )
    start = len(org.emulator.request_log)
    code, out = apply(capsys, repo)
    assert code == 0, out
    writes = writes_since(org, start)
    assert not [w for w in writes if "file" in w.lower()]  # nothing detached, nothing deleted
    assert len(attached_names(org)) == 3


def test_rollback_restores_the_documents_a_snapshot_recorded_from_git(
    repo: Path, org: Org, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, text = apply(capsys, repo, "--out-dir", str(tmp_path / "v1"))
    assert code == 0, text
    before = sorted(f["metadata"]["ciDeployer"]["sha256"] for f in live_files(org))
    (repo / "knowledge" / "returns" / "policy.md").write_text("# Returns\nNo returns.\n", encoding="utf-8")
    commit(repo, "no returns")
    assert apply(capsys, repo)[0] == 0
    assert sorted(f["metadata"]["ciDeployer"]["sha256"] for f in live_files(org)) != before  # the old upload is gone
    code, out, err = cli(
        capsys,
        "rollback",
        "--config",
        str(repo),
        "--env",
        "dev",
        "--snapshot",
        str(tmp_path / "v1" / "snapshot-after.json"),
        "--auto-approve",
    )
    assert code == 0, out + err
    assert sorted(f["metadata"]["ciDeployer"]["sha256"] for f in live_files(org)) == before
    assert attached_names(org) == ALL_THREE
    content = org.http.get(
        next(f["url"] for f in live_files(org) if f["metadata"]["ciDeployer"]["path"] == "knowledge/returns/policy.md")
    )
    assert content.content == b"# Returns\nWithin 30 days.\n"  # the bytes of the commit the snapshot recorded


def test_one_content_is_one_upload_attached_wherever_it_is_listed(
    repo: Path, org: Org, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "knowledge" / "copy-of-policy.md").write_text("# Returns\nWithin 30 days.\n", encoding="utf-8")
    (repo / "knowledge" / "policies.yaml").write_text(
        KB_DOC.format(slug="policies", previous="", documents="  - knowledge/copy-of-policy.md\n"), encoding="utf-8"
    )
    start = len(org.emulator.request_log)
    assert apply(capsys, repo)[0] == 0
    writes = writes_since(org, start)
    assert writes["POST /file"] == 3  # policy.md and copy-of-policy.md hold the same bytes: one upload
    assert writes["POST /v2/knowledge-base/{id}/file"] == 4  # attached to both bases
    # dropped from one base: detached there, kept (still listed by the other)
    (repo / "knowledge" / "policies.yaml").write_text(
        KB_DOC.format(slug="policies", previous="", documents=""), encoding="utf-8"
    )
    _, data = plan(capsys, repo)
    assert [(d["path"], d["op"]) for d in change(data, "KnowledgeBase", "policies")["documents"]] == [
        ("knowledge/copy-of-policy.md", "remove")
    ]
    start = len(org.emulator.request_log)
    assert apply(capsys, repo)[0] == 0
    assert writes_since(org, start) == Counter({"DELETE /v2/knowledge-base/{id}/file/{id}": 1})
    assert len(live_files(org)) == 3


def test_a_file_attached_by_hand_is_adopted_when_its_bytes_match_and_detached_otherwise(
    repo: Path, org: Org, capsys: pytest.CaptureFixture[str]
) -> None:
    kb = org.http.post("/v2/knowledge-base", json={"name": "Returns FAQ"}).json()

    def upload(name: str, data: bytes) -> str:
        sent = org.http.post(
            "/file", files={"file": (name, data, "text/markdown")}, data={"purpose": "knowledge-base-v2"}
        )
        file_id: str = sent.json()["id"]
        assert org.http.post(f"/v2/knowledge-base/{kb['id']}/file", json={"fileId": file_id}).status_code == 201
        return file_id

    same = upload("policy.md", b"# Returns\nWithin 30 days.\n")  # what the config lists, uploaded by hand
    other = upload("old-faq.md", b"# Old FAQ\n")  # not in the config
    _, data = plan(capsys, repo)
    entries = change(data, "KnowledgeBase", "returns-faq")["documents"]
    assert ("knowledge/returns/policy.md", "add") not in [(d["path"], d["op"]) for d in entries]
    assert ("old-faq.md", "remove") in [(d["path"], d["op"]) for d in entries]
    assert any("adopted, not uploaded again" in w for w in data["warnings"])
    start = len(org.emulator.request_log)
    assert apply(capsys, repo)[0] == 0
    writes = writes_since(org, start)
    assert writes["POST /file"] == 2  # refunds.md and shipping.pdf; policy.md is the adopted file
    assert writes["DELETE /v2/knowledge-base/{id}/file/{id}"] == 1
    assert "DELETE /file/{id}" not in writes  # a file ci-deployer did not upload is detached, never deleted
    ids = {f["id"] for f in live_files(org)}
    assert same in ids and other in ids
    assert plan(capsys, repo)[0] == 0


def test_an_empty_documents_block_detaches_and_deletes_every_document(
    repo: Path, org: Org, capsys: pytest.CaptureFixture[str]
) -> None:
    assert apply(capsys, repo)[0] == 0
    write_kb(repo, [])  # `documents:` with no entries: every document goes
    (repo / "tools" / "faq-query.yaml").unlink()
    (repo / "assistants" / "returns-agent.yaml").write_text(
        ASSISTANT_DOC.format(kb="returns-faq").replace(", faq-query]", "]"), encoding="utf-8"
    )
    start = len(org.emulator.request_log)
    code, text = apply(capsys, repo)
    assert code == 0, text
    writes = writes_since(org, start)
    assert writes["DELETE /v2/knowledge-base/{id}/file/{id}"] == 3 and writes["DELETE /file/{id}"] == 3
    assert live_files(org) == []
    assert plan(capsys, repo)[0] == 0
