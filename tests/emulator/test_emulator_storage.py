"""Disk storage survives restarts, keeps tokens hashed; the embedded transport; org management."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from emulator_helpers import TOKEN, assistant_body, function_tool

from ci_deployer.emulator import Emulator, embedded_transport


def _client(emulator: Emulator, token: str = TOKEN) -> httpx.Client:
    return httpx.Client(
        base_url="http://vapi.test", transport=emulator.transport(), headers={"Authorization": f"Bearer {token}"}
    )


def test_disk_storage_survives_a_restart(tmp_path: Path) -> None:
    first = Emulator(tmp_path)
    org_id = first.add_org("acme", TOKEN)
    with _client(first) as api:
        tool = api.post("/tool", json=function_tool()).json()
        kept = api.post("/assistant", json=assistant_body()).json()
        gone = api.post("/assistant", json=assistant_body("Temp")).json()
        api.patch(f"/assistant/{kept['id']}", json={"firstMessage": None})
        api.delete(f"/assistant/{gone['id']}")
        api.post("/v2/knowledge-base", json={"name": "FAQ"})
        before = api.get("/tool").json()

    second = Emulator(tmp_path)  # a new process would do exactly this
    assert second.add_org("acme", TOKEN) == org_id  # idempotent per name
    with _client(second) as api:
        assert api.get("/tool").json() == before
        assistants = api.get("/assistant").json()
        assert [a["id"] for a in assistants] == [kept["id"]]
        assert "firstMessage" not in assistants[0]
        assert api.get(f"/tool/{tool['id']}").json() == tool
        # the clock continues after the newest stored timestamp
        newer = api.post("/tool", json=function_tool("later")).json()
        assert newer["createdAt"] > max(t["createdAt"] for t in before)
    assert not list(tmp_path.rglob(".tmp-*"))  # atomic writes leave no temporary files


def test_tokens_are_stored_hashed(tmp_path: Path) -> None:
    Emulator(tmp_path).add_org("acme", TOKEN)
    everything = "".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    assert TOKEN not in everything
    meta = json.loads((tmp_path / "acme" / "org.json").read_text())
    assert len(meta["tokenSha256"]) == 1 and len(meta["tokenSha256"][0]) == 64
    with _client(Emulator(tmp_path)) as api:
        assert api.get("/assistant").status_code == 200  # the hash is enough to authenticate after a restart


def test_org_names_and_tokens_are_checked() -> None:
    emulator = Emulator()
    emulator.add_org("acme", TOKEN)
    with pytest.raises(ValueError, match="already belongs to org 'acme'"):
        emulator.add_org("other", TOKEN)
    with pytest.raises(ValueError, match="not usable"):
        emulator.add_org("../escape", "tok-x")


def test_embedded_transport_stores_under_the_config_repo(tmp_path: Path) -> None:
    with httpx.Client(base_url="http://embedded", transport=embedded_transport(tmp_path, "acme-dev")) as api:
        created = api.post("/assistant", json=assistant_body())  # no token needed: it is local
        assert created.status_code == 201
    assert (tmp_path / ".ci-deployer" / "emulator" / "acme-dev" / "assistant" / f"{created.json()['id']}.json").exists()
    headers = {"Authorization": "Bearer anything"}
    with httpx.Client(
        base_url="http://embedded", transport=embedded_transport(tmp_path, "acme-dev"), headers=headers
    ) as again:
        assert [a["id"] for a in again.get("/assistant").json()] == [created.json()["id"]]
    with httpx.Client(base_url="http://embedded", transport=embedded_transport(tmp_path, "acme-uat")) as uat:
        assert uat.get("/assistant").json() == []  # one org per environment
