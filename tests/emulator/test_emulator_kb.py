"""Knowledge bases: the generated search tool, files and attach/detach."""

from __future__ import annotations

import httpx
from emulator_helpers import assistant_body


def _kb_tools(api: httpx.Client) -> list[dict[str, object]]:
    return [t for t in api.get("/tool").json() if t["type"] == "knowledgeBase"]


def test_creating_a_kb_generates_its_search_tool_and_deleting_removes_it(api: httpx.Client) -> None:
    kb = api.post("/v2/knowledge-base", json={"name": "Returns FAQ", "description": "returns"}).json()
    [tool] = _kb_tools(api)
    assert tool["knowledgeBaseId"] == kb["id"]
    assert tool["function"] == {"name": "search_Returns_FAQ", "description": "Search the knowledge base Returns FAQ"}
    assert api.patch(f"/tool/{tool['id']}", json={"function": {"name": "x"}}).status_code == 400
    assert api.delete(f"/tool/{tool['id']}").status_code == 400  # managed by its base

    renamed = api.patch(f"/v2/knowledge-base/{kb['id']}", json={"name": "Refunds"})
    assert renamed.status_code == 200
    assert _kb_tools(api)[0]["function"]["name"] == "search_Refunds"  # type: ignore[index]

    deleted = api.delete(f"/v2/knowledge-base/{kb['id']}")
    assert deleted.status_code == 200 and deleted.json()["id"] == kb["id"]
    assert _kb_tools(api) == []
    assert api.get(f"/tool/{tool['id']}").status_code == 404


def test_kb_tool_used_by_an_assistant_blocks_deleting_the_base(api: httpx.Client) -> None:
    kb = api.post("/v2/knowledge-base", json={"name": "FAQ"}).json()
    [tool] = _kb_tools(api)
    model = {**assistant_body()["model"], "toolIds": [tool["id"]]}
    assistant = api.post("/assistant", json=assistant_body(model=model))
    assert assistant.status_code == 201  # a KB is referenced through its generated tool's id
    response = api.delete(f"/v2/knowledge-base/{kb['id']}")
    assert response.status_code == 409 and response.json()["error"] == "version_pinned"
    assert api.post("/assistant", json=assistant_body(model={**model, "toolIds": [kb["id"]]})).status_code == 400


def test_files_upload_and_attach_detach(api: httpx.Client) -> None:
    upload = api.post(
        "/file",
        files={"file": ("faq.md", b"# FAQ\nReturns within 30 days.\n", "text/markdown")},
        data={"purpose": "knowledge-base-v2", "metadata": '{"source": "docs"}'},
    )
    assert upload.status_code == 201, upload.text
    file = upload.json()
    assert file["name"] == "faq.md" and file["bytes"] == 30 and file["mimetype"] == "text/markdown"
    assert file["status"] == "done" and file["purpose"] == "knowledge-base-v2"
    assert file["metadata"] == {"source": "docs"}
    assert [f["id"] for f in api.get("/file").json()] == [file["id"]]
    assert api.patch(f"/file/{file['id']}", json={"name": "faq-v2.md"}).json()["name"] == "faq-v2.md"
    assert api.patch(f"/file/{file['id']}", json={"bytes": 1}).status_code == 400

    kb = api.post("/v2/knowledge-base", json={"name": "FAQ"}).json()
    attached = api.post(f"/v2/knowledge-base/{kb['id']}/file", json={"fileId": file["id"]})
    assert attached.status_code == 201
    assert attached.json()["fileId"] == file["id"] and attached.json()["knowledgeBaseV2Id"] == kb["id"]
    assert attached.json()["status"] == "ready"
    assert [a["fileId"] for a in api.get(f"/v2/knowledge-base/{kb['id']}/file").json()] == [file["id"]]
    missing = api.post(f"/v2/knowledge-base/{kb['id']}/file", json={"fileId": "nope"})
    assert missing.status_code == 400
    detached = api.delete(f"/v2/knowledge-base/{kb['id']}/file/{file['id']}")
    assert detached.status_code == 200 and detached.json()["fileId"] == file["id"]
    assert api.get(f"/v2/knowledge-base/{kb['id']}/file").json() == []
    assert api.delete(f"/v2/knowledge-base/{kb['id']}/file/{file['id']}").status_code == 404


def test_file_upload_needs_multipart(api: httpx.Client) -> None:
    assert api.post("/file", json={"name": "x"}).status_code == 400
    bad = api.post("/file", files={"file": ("a.txt", b"a")}, data={"purpose": "nope"})
    assert bad.status_code == 400 and "purpose must be one of" in bad.json()["message"][0]
