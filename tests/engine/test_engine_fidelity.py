"""Real Vapi configs handled right, over HTTP against a served emulator: knowledge-base search tools
in `toolIds`, identity without false drift, the wrong org's key refused, secrets shown as placeholders
in a create's plan."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ci_deployer.cli import main
from ci_deployer.emulator import Emulator, serve

TOKEN = "tok-fidelity-5f1e2d3c4b5a"
OTHER = "tok-other-org-9a8b7c6d5e4f"


class Served:
    def __init__(self, emulator: Emulator, url: str) -> None:
        self.emulator = emulator
        self.url = url

    def api(self, token: str = TOKEN) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def list(self, path: str, token: str = TOKEN) -> list[dict[str, Any]]:
        with self.api(token) as api:
            data = api.get(path, params={"limit": 1000}).json()
        return list(data["results"] if isinstance(data, dict) else data)


@pytest.fixture
def served() -> Iterator[Served]:
    emulator = Emulator()
    emulator.add_org("acme-prod", TOKEN)
    emulator.add_org("globex", OTHER)
    handle = serve(emulator)
    try:
        yield Served(emulator, handle.url)
    finally:
        handle.stop()


def repo(tmp_path: Path, url: str, documents: dict[str, str], env_extra: str = "") -> Path:
    root = tmp_path / "platform"
    root.mkdir()
    (root / "environments.yaml").write_text(
        "apiVersion: ci-deployer/v1\nenvironments:\n"
        f'  prod:\n    org: acme-prod\n    api: {{url: "{url}", token: secrets://VAPI_TOKEN}}\n{env_extra}',
        encoding="utf-8",
    )
    for name, text in documents.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def plan(capsys: pytest.CaptureFixture[str], root: Path) -> tuple[int, dict[str, Any]]:
    code, out, _ = cli(capsys, "plan", "--config", str(root), "--env", "prod", "--format", "json")
    return code, json.loads(out)


def apply(capsys: pytest.CaptureFixture[str], root: Path) -> tuple[int, str]:
    code, out, err = cli(capsys, "apply", "--config", str(root), "--env", "prod", "--auto-approve")
    return code, out + err


KB = """\
apiVersion: ci-deployer/v1
kind: KnowledgeBase
metadata: {name: returns-faq}
spec: {name: Returns FAQ, description: Return policy and shipping times}
"""
AGENT_WITH_KB = """\
apiVersion: ci-deployer/v1
kind: Assistant
metadata: {name: returns-agent}
spec:
  name: Returns Agent
  firstMessage: Hi
  model: {provider: openai, model: gpt-4.1, toolIds: [returns-faq]}
"""


END_CALL = "apiVersion: ci-deployer/v1\nkind: Tool\nmetadata: {name: end-call}\nspec: {type: endCall}\n"


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAPI_TOKEN", TOKEN)


@pytest.mark.parametrize("protected", [False, True])
def test_a_knowledge_base_slug_in_tool_ids_is_its_search_tool_from_the_first_apply(
    tmp_path: Path, served: Served, capsys: pytest.CaptureFixture[str], protected: bool
) -> None:
    extra = "    protection: {requiredApprovals: 0, planAgainst: live}\n" if protected else ""
    root = repo(tmp_path, served.url, {"knowledge/faq.yaml": KB, "assistants/agent.yaml": AGENT_WITH_KB}, extra)
    code, text = apply(capsys, root)
    assert code == 0, text
    (kb,) = served.list("/v2/knowledge-base")
    (search_tool,) = [t for t in served.list("/tool") if t.get("knowledgeBaseId") == kb["id"]]
    (agent,) = served.list("/assistant")
    assert agent["model"]["toolIds"] == [search_tool["id"]]  # the generated tool, not the base's own id
    state = json.loads((root / ".ci-deployer" / "state" / "prod" / "snapshot.json").read_text())
    ids = {(r["kind"], r["slug"]): r["id"] for r in state["resources"]}
    assert ids[("KnowledgeBase", "returns-faq")] == kb["id"]  # the base's id, never its tool's
    code, data = plan(capsys, root)
    assert code == 0
    assert data["hasChanges"] is False and data["drift"] == [] and data["unmanaged"] == []
    assert {c["action"] for c in data["changes"]} == {"noop"}


def test_an_unnamed_tool_adopted_from_the_org_records_what_is_live_not_an_empty_payload(
    tmp_path: Path, served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    with served.api() as api:
        assert api.post("/tool", json={"type": "endCall"}).status_code == 201
    root = repo(
        tmp_path,
        served.url,
        {"tools/end.yaml": END_CALL},
    )
    code, text = apply(capsys, root)
    assert code == 0, text
    assert len(served.list("/tool")) == 1  # the live one was taken, not a second created
    state = json.loads((root / ".ci-deployer" / "state" / "prod" / "snapshot.json").read_text())
    (record,) = state["resources"]
    assert record["payload"].get("type") == "endCall"
    for _ in range(2):  # and stays quiet: no drift, no change, plan after plan
        _, data = plan(capsys, root)
        assert data["drift"] == [] and data["hasChanges"] is False


def test_the_same_edit_in_the_config_and_on_the_dashboard_is_neither_a_change_nor_drift(
    tmp_path: Path, served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    agent = (
        "apiVersion: ci-deployer/v1\nkind: Assistant\nmetadata: {name: a}\nspec: {name: Agent, firstMessage: Hello}\n"
    )
    root = repo(tmp_path, served.url, {"assistants/a.yaml": agent})
    assert apply(capsys, root)[0] == 0
    (live,) = served.list("/assistant")
    with served.api() as api:
        assert api.patch(f"/assistant/{live['id']}", json={"firstMessage": "Welcome back"}).status_code == 200
    (root / "assistants" / "a.yaml").write_text(agent.replace("Hello", "Welcome back"), encoding="utf-8")
    _, data = plan(capsys, root)
    assert data["hasChanges"] is False and data["drift"] == []
    assert apply(capsys, root)[0] == 0
    with served.api() as api:  # the record caught up: a later dashboard edit is drift again
        assert api.patch(f"/assistant/{live['id']}", json={"firstMessage": "Yo"}).status_code == 200
    _, data = plan(capsys, root)
    assert [d["slug"] for d in data["drift"]] == ["a"]
    assert data["drift"][0]["fields"] == [{"path": "firstMessage", "op": "change", "old": "Welcome back", "new": "Yo"}]


def test_drift_survives_an_apply_of_another_field_and_overwrite_drift_repairs_it(
    tmp_path: Path, served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    agent = (
        "apiVersion: ci-deployer/v1\nkind: Assistant\nmetadata: {name: a}\n"
        "spec: {name: Agent, firstMessage: Hello, voicemailMessage: Bye}\n"
    )
    root = repo(tmp_path, served.url, {"assistants/a.yaml": agent})
    assert apply(capsys, root)[0] == 0
    (live,) = served.list("/assistant")
    with served.api() as api:  # a dashboard edit
        assert api.patch(f"/assistant/{live['id']}", json={"firstMessage": "Dashboard"}).status_code == 200
    (root / "assistants" / "a.yaml").write_text(agent.replace("Bye", "See you"), encoding="utf-8")
    assert apply(capsys, root)[0] == 0  # writes voicemailMessage only; the dashboard edit is not the config's
    (after,) = served.list("/assistant")
    assert after["voicemailMessage"] == "See you" and after["firstMessage"] == "Dashboard"
    for _ in range(2):  # the response of that write did not make the dashboard edit the new baseline
        _, data = plan(capsys, root)
        assert data["drift"][0]["fields"] == [
            {"path": "firstMessage", "op": "change", "old": "Hello", "new": "Dashboard"}
        ]
    code, _, _ = cli(capsys, "apply", "--config", str(root), "--env", "prod", "--auto-approve", "--overwrite-drift")
    assert code == 0
    (repaired,) = served.list("/assistant")
    assert repaired["firstMessage"] == "Hello"
    _, data = plan(capsys, root)
    assert data["drift"] == [] and data["hasChanges"] is False


@pytest.mark.parametrize("case", [("warn", 0, "warning"), ("fail", 3, "error")])
def test_drift_annotations_follow_the_policy(
    tmp_path: Path, served: Served, capsys: pytest.CaptureFixture[str], case: tuple[str, int, str]
) -> None:
    policy, code, level = case
    agent = "apiVersion: ci-deployer/v1\nkind: Assistant\nmetadata: {name: a}\nspec: {name: Agent, firstMessage: Hi}\n"
    root = repo(tmp_path, served.url, {"assistants/a.yaml": agent}, f"    drift: {policy}\n")
    assert apply(capsys, root)[0] == 0
    (live,) = served.list("/assistant")
    with served.api() as api:
        assert api.patch(f"/assistant/{live['id']}", json={"firstMessage": "::error::x"}).status_code == 200
    got, out, _ = cli(capsys, "drift", "--config", str(root), "--env", "prod", "--format", "github")
    assert got == code
    assert out.splitlines()[0] == f"::{level} title=drift Assistant/a::Assistant/a changed outside ci-deployer"
    assert not any(line.startswith("::error::x") for line in out.splitlines())  # live text stays data


def test_the_key_of_another_org_is_refused_before_anything_is_written(
    tmp_path: Path, served: Served, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = "apiVersion: ci-deployer/v1\nkind: Assistant\nmetadata: {name: a}\nspec: {name: Agent, firstMessage: Hi}\n"
    root = repo(tmp_path, served.url, {"assistants/a.yaml": agent})
    assert apply(capsys, root)[0] == 0
    with served.api(OTHER) as api:  # globex holds an assistant of the same name
        assert api.post("/assistant", json={"name": "Agent", "firstMessage": "Hi"}).status_code == 201
    monkeypatch.setenv("VAPI_TOKEN", OTHER)  # prod's token variable now holds globex's key
    code, out, _ = cli(capsys, "plan", "--config", str(root), "--env", "prod", "--format", "json")
    error = json.loads(out)
    prod_org = served.emulator.org_id("acme-prod")
    other_org = served.emulator.org_id("globex")
    assert code == 1 and error["failure_reason"] == "state-error"
    assert other_org in error["error"] and prod_org in error["error"]
    code, out, _ = cli(capsys, "apply", "--config", str(root), "--env", "prod", "--auto-approve", "--format", "json")
    assert code == 1 and json.loads(out)["failure_reason"] == "state-error"
    assert len(served.list("/assistant", OTHER)) == 1  # nothing was written into globex


def test_with_an_org_pin_the_first_write_into_an_empty_wrong_org_is_undone_and_stops_the_apply(
    tmp_path: Path, served: Served, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tools = {
        f"tools/t{i}.yaml": f"apiVersion: ci-deployer/v1\nkind: Tool\nmetadata: {{name: t{i}}}\n"
        f"spec: {{type: function, function: {{name: f{i}}}}}\n"
        for i in range(3)
    }
    pin = f'    orgId: "{served.emulator.org_id("acme-prod")}"\n'
    root = repo(tmp_path, served.url, tools, pin)
    monkeypatch.setenv("VAPI_TOKEN", OTHER)  # an empty org: listing cannot tell it is the wrong one
    code, out, _ = cli(capsys, "apply", "--config", str(root), "--env", "prod", "--auto-approve", "--format", "json")
    error = json.loads(out)
    assert code == 1 and error["failure_reason"] == "state-error"
    assert served.emulator.org_id("globex") in error["error"]
    assert served.list("/tool", OTHER) == []  # the one write that landed was deleted again
    assert served.list("/tool") == []


def test_a_create_shows_the_whole_server_map_with_the_secret_as_its_placeholder(
    tmp_path: Path, served: Served, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERS_TOKEN", "orders-secret-value-123456")
    tool = """\
apiVersion: ci-deployer/v1
kind: Tool
metadata: {name: lookup}
spec:
  type: function
  function: {name: lookup_order}
  server:
    url: https://orders.example/vapi
    timeoutSeconds: 20
    headers: {Authorization: "Bearer secrets://ORDERS_TOKEN", X-Tenant: acme}
"""
    root = repo(tmp_path, served.url, {"tools/lookup.yaml": tool})
    _, data = plan(capsys, root)
    (create,) = data["changes"]
    server = next(f for f in create["fields"] if f["path"] == "server")
    assert server["new"] == {
        "headers": {"Authorization": "Bearer secrets://ORDERS_TOKEN", "X-Tenant": "acme"},
        "timeoutSeconds": 20,
        "url": "https://orders.example/vapi",
    }
    assert "orders-secret-value-123456" not in json.dumps(data)


HEADER_TOOL = """\
apiVersion: ci-deployer/v1
kind: Tool
metadata: {name: lookup}
spec:
  type: function
  function: {name: lookup_order}
  server: {url: https://orders.example/vapi, headers: {Authorization: "Bearer secrets://ORDERS_TOKEN"}}
"""


def edit_header_in_the_org(served: Served, value: str) -> None:
    (tool,) = served.list("/tool")
    server = {"url": "https://orders.example/vapi", "headers": {"Authorization": value}}
    with served.api() as api:
        assert api.patch(f"/tool/{tool['id']}", json={"server": server}).status_code == 200


def test_a_secret_header_edited_in_the_org_is_drift_when_the_last_apply_recorded_its_hmac(
    tmp_path: Path, served: Served, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERS_TOKEN", "orders-secret-value-123456")
    monkeypatch.setenv("HMAC_KEY", "hmac-key-material-0123456789abcdef")
    root = repo(
        tmp_path, served.url, {"tools/lookup.yaml": HEADER_TOOL}, "    secrets: {hmacKey: secrets://HMAC_KEY}\n"
    )
    assert apply(capsys, root)[0] == 0
    edit_header_in_the_org(served, "Bearer typed-in-the-dashboard")
    for _ in range(2):  # the secret did not rotate: the org was edited, and it stays reported
        _, data = plan(capsys, root)
        assert data["hasChanges"] is False
        assert data["drift"][0]["fields"] == [
            {"path": "server.headers.Authorization", "op": "change", "secret": "changed"}
        ]
        assert data["secrets"] == [{"ref": "ORDERS_TOKEN", "status": "unchanged", "resolvable": True}]
    code, out, _ = cli(capsys, "drift", "--config", str(root), "--env", "prod", "--format", "json")
    assert [d["slug"] for d in json.loads(out)["drift"]] == ["lookup"]
    assert "typed-in-the-dashboard" not in out and "orders-secret-value-123456" not in out
    code, _, _ = cli(capsys, "apply", "--config", str(root), "--env", "prod", "--auto-approve", "--overwrite-drift")
    assert code == 0
    (tool,) = served.list("/tool")
    assert tool["server"]["headers"]["Authorization"] == "Bearer orders-secret-value-123456"
    _, data = plan(capsys, root)
    assert data["drift"] == [] and data["hasChanges"] is False


def test_without_an_hmac_key_a_differing_secret_header_is_sent_again_and_says_it_cannot_tell_why(
    tmp_path: Path, served: Served, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERS_TOKEN", "orders-secret-value-123456")
    root = repo(tmp_path, served.url, {"tools/lookup.yaml": HEADER_TOOL})
    assert apply(capsys, root)[0] == 0
    _, before = plan(capsys, root)
    edit_header_in_the_org(served, "Bearer typed-in-the-dashboard")
    _, data = plan(capsys, root)
    assert data["hash"] == before["hash"]  # sent again, like a rotation: never a plan-changed refusal
    (change,) = data["changes"]
    assert change["fields"] == [{"path": "server.headers.Authorization", "op": "change", "secret": "live-differs"}]
    _, out, _ = cli(capsys, "plan", "--config", str(root), "--env", "prod")
    assert "differs in the org from the value here (rotated, or edited outside): sent again" in out
    assert "rotated outside git" not in out


def test_a_secret_sent_again_beside_a_reviewed_edit_leaves_the_plan_hash_to_the_edit(
    tmp_path: Path, served: Served, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERS_TOKEN", "orders-secret-value-123456")
    root = repo(tmp_path, served.url, {"tools/lookup.yaml": HEADER_TOOL})
    assert apply(capsys, root)[0] == 0
    edit_header_in_the_org(served, "Bearer typed-in-the-dashboard")
    edited = HEADER_TOOL.replace("function: {name: lookup_order}", "function: {name: lookup_order, description: Find}")
    (root / "tools" / "lookup.yaml").write_text(edited, encoding="utf-8")
    _, apply_job = plan(capsys, root)  # holds the secret: the header is sent again beside the edit
    fields = {f["path"]: f.get("secret") for f in apply_job["changes"][0]["fields"]}
    assert fields == {"function.description": None, "server.headers.Authorization": "live-differs"}
    monkeypatch.delenv("ORDERS_TOKEN")
    _, pr_job = plan(capsys, root)  # a PR job without the secret reviews the same change
    assert pr_job["hash"] == apply_job["hash"]


def test_a_byo_phone_number_bought_outside_is_routed_to_a_squad_by_slug(
    tmp_path: Path, served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    """Phone numbers are bought outside ci-deployer: the document names the number and routes it; the
    squad's slug becomes its id, and a plan after the apply is empty (in a protected env too)."""
    with served.api() as api:
        bought = api.post(
            "/phone-number",
            json={
                "provider": "byo-phone-number",
                "number": "+14155550123",
                "credentialId": "5f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0",
            },
        )
        assert bought.status_code == 201, bought.text
    documents = {
        "assistants/a.yaml": "apiVersion: ci-deployer/v1\nkind: Assistant\nmetadata: {name: agent}\n"
        "spec: {name: Agent, firstMessage: Hi}\n",
        "squads/front.yaml": "apiVersion: ci-deployer/v1\nkind: Squad\nmetadata: {name: front-door}\n"
        "spec: {name: Front Door, members: [{assistantId: agent}]}\n",
        "phone-numbers/main.yaml": "apiVersion: ci-deployer/v1\nkind: PhoneNumber\nmetadata: {name: main-line}\n"
        "spec: {number: '+14155550123', squadId: front-door}\n",
    }
    root = repo(tmp_path, served.url, documents, "    protection: {requiredApprovals: 0, planAgainst: live}\n")
    code, text = apply(capsys, root)
    assert code == 0, text
    (number,) = served.list("/phone-number")
    (squad,) = served.list("/squad")
    assert number["id"] == bought.json()["id"]  # the bought number, never a new one
    assert number["squadId"] == squad["id"]  # routed by the squad's slug
    code, data = plan(capsys, root)
    assert code == 0 and data["hasChanges"] is False and data["drift"] == []
