"""Files and knowledge-base attachments: processing that takes time, indexing, retry, content, limits."""

from __future__ import annotations

from pathlib import Path

import httpx
from emulator_helpers import TOKEN

from ci_deployer.emulator import Emulator, Processing


def _client(emu: Emulator) -> httpx.Client:
    return httpx.Client(
        base_url="http://vapi.test", transport=emu.transport(), headers={"Authorization": f"Bearer {TOKEN}"}
    )


def _upload(api: httpx.Client, name: str, data: bytes, metadata: str | None = None) -> dict[str, object]:
    fields = {"purpose": "knowledge-base-v2"} | ({"metadata": metadata} if metadata is not None else {})
    response = api.post("/file", files={"file": (name, data, "text/markdown")}, data=fields)
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def test_an_upload_is_processing_until_read_enough_times_and_an_attachment_indexing_until_then() -> None:
    emu = Emulator(processing=Processing(polls=2))
    emu.add_org("acme", TOKEN)
    api = _client(emu)
    file = _upload(api, "faq.md", b"# FAQ\n")
    assert file["status"] == "processing"
    assert api.get("/file", params={"purpose": "knowledge-base-v2"}).json()[0]["status"] == "processing"  # no poll
    kb = api.post("/v2/knowledge-base", json={"name": "FAQ"}).json()
    attached = api.post(f"/v2/knowledge-base/{kb['id']}/file", json={"fileId": file["id"]}).json()
    assert attached["status"] == "indexing"
    assert api.get(f"/file/{file['id']}").json()["status"] == "processing"  # poll 1 of 2
    assert api.get(f"/file/{file['id']}").json()["status"] == "done"  # poll 2
    assert api.get(f"/v2/knowledge-base/{kb['id']}/file").json()[0]["status"] == "indexing"
    assert api.get(f"/v2/knowledge-base/{kb['id']}/file").json()[0]["status"] == "ready"
    one = api.get(f"/v2/knowledge-base/{kb['id']}").json()  # KnowledgeBaseV2WithFiles
    assert [f["fileId"] for f in one["files"]] == [file["id"]] and one["toolId"]


def test_a_delay_keeps_an_upload_processing_until_it_passes() -> None:
    emu = Emulator(processing=Processing(delay_ms=150))
    emu.add_org("acme", TOKEN)
    api = _client(emu)
    file = _upload(api, "faq.md", b"# FAQ\n")
    assert api.get(f"/file/{file['id']}").json()["status"] == "processing"
    import time

    time.sleep(0.2)
    assert api.get(f"/file/{file['id']}").json()["status"] == "done"


def test_a_failed_indexing_is_retried() -> None:
    emu = Emulator(processing=Processing(fail_names=frozenset({"bad.md"})))
    emu.add_org("acme", TOKEN)
    api = _client(emu)
    file = _upload(api, "bad.md", b"??")
    kb = api.post("/v2/knowledge-base", json={"name": "FAQ"}).json()
    assert api.post(f"/v2/knowledge-base/{kb['id']}/file", json={"fileId": file["id"]}).json()["status"] == "failed"
    retried = api.post(f"/v2/knowledge-base/{kb['id']}/file/{file['id']}/retry")
    assert retried.status_code == 201 and retried.json()["status"] == "ready"


def test_a_file_serves_its_bytes_lists_by_purpose_and_deletes_them_with_it() -> None:
    emu = Emulator()
    emu.add_org("acme", TOKEN)
    api = _client(emu)
    file = _upload(api, "faq.md", b"# FAQ\nbytes\n", metadata='{"ciDeployer": {"sha256": "abc", "env": "dev"}}')
    assert file["metadata"] == {"ciDeployer": {"sha256": "abc", "env": "dev"}}
    assert file["url"] == f"/file/{file['id']}/content"
    content = api.get(str(file["url"]))
    assert content.status_code == 200 and content.content == b"# FAQ\nbytes\n"
    assert content.headers["content-type"] == "text/markdown"
    other = api.post("/file", files={"file": ("a.png", b"x", "image/png")}, data={"purpose": "assistant"}).json()
    listed = api.get("/file", params={"purpose": "knowledge-base-v2"}).json()
    assert [f["id"] for f in listed] == [file["id"]] and other["id"] not in [f["id"] for f in listed]
    assert api.delete(f"/file/{file['id']}").status_code == 200
    assert api.get(str(file["url"])).status_code == 404


def test_metadata_over_4096_characters_is_refused() -> None:
    emu = Emulator()
    emu.add_org("acme", TOKEN)
    api = _client(emu)
    response = api.post(
        "/file",
        files={"file": ("a.md", b"x", "text/markdown")},
        data={"metadata": '{"k": "' + "x" * 4100 + '"}'},
    )
    assert response.status_code == 400
    assert "4096" in response.json()["message"][0]


def test_file_contents_survive_a_restart(tmp_path: Path) -> None:
    emu = Emulator(tmp_path)
    emu.add_org("acme", TOKEN)
    file = _upload(_client(emu), "faq.md", b"# kept\n")
    again = Emulator(tmp_path)
    assert _client(again).get(str(file["url"])).content == b"# kept\n"
