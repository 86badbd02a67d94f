"""A partial plan reads its resources by the ids the state recorded (engine/session.py read_scoped),
and plans exactly what it plans on a listing of the whole org (what apply replans a reviewed scope
on): the same changes, drift and hash, for every document of examples/platform as the scope, after
edits in the config and in the org, a resource deleted or recreated in the org (a 404: its kind is
listed, and the copy adopted by name as a listing finds it), a document with no recorded id (its
kind is listed) and a scope that deletes (its kinds are listed)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import Org

from ci_deployer import compose
from ci_deployer.cli import main
from ci_deployer.engine.scope import Scope
from ci_deployer.engine.session import read_live
from ci_deployer.platform.kinds import KINDS
from ci_deployer.settings import Settings

KEYS = (
    "Tool/lookup-order",
    "Tool/create-return",
    "Tool/handoff-to-returns",
    "StructuredOutput/call-summary",
    "Assistant/order-agent",
    "Assistant/returns-agent",
    "Squad/order-support",
    "Eval/order-status",
)
LISTS = {kind.path for kind in KINDS.values()}


@pytest.fixture
def applied(served_repo: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert main(["apply", "--config", str(served_repo), "--env", "dev", "--auto-approve"]) == 0
    capsys.readouterr()
    return served_repo


def both(org: Org, root: Path, keys: set[str]) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """The plan of ``keys`` read by id and on a listing of the org, and the GETs reading by id sent."""
    with compose.open_session(Settings.from_environ(os.environ), root, "dev") as opened:
        scope = Scope(frozenset(keys))
        client = opened.client()
        seen = len(org.emulator.request_log)
        by_id = opened.plan(client=client, scope=scope).plan.to_dict()
        gets = [f"{r.method} {r.path}" for r in org.emulator.request_log[seen:] if r.method == "GET"]
        listed = opened.plan(client=client, scope=scope, listed=read_live(client)).plan.to_dict()
        return by_id, listed, gets


def lists(gets: list[str]) -> set[str]:
    return {get.removeprefix("GET ") for get in gets if get.removeprefix("GET ") in LISTS}


def test_each_document_reads_by_id_and_plans_as_on_a_listing(applied: Path, org: Org) -> None:
    state = compose.local_state(applied).latest("dev")
    assert state is not None
    recorded = {f"/{r.id}" for r in state.resources}
    for key in KEYS:
        by_id, listed, gets = both(org, applied, {key})
        assert by_id == listed, key
        assert by_id["scope"]["keys"] == [key] and not by_id["hasChanges"]
        assert gets and all(any(g.endswith(rid) for rid in recorded) for g in gets), f"{key}: {gets}"
    _, _, gets = both(org, applied, {"Squad/order-support"})
    # the squad and its two assistants, nothing else
    assert sorted(g.split("/")[1] for g in gets) == ["assistant", "assistant", "squad"]


def test_edits_in_the_config_and_in_the_org_plan_as_on_a_listing(applied: Path, org: Org) -> None:
    tool = applied / "tools" / "create-return.yaml"
    tool.write_text(tool.read_text(encoding="utf-8").replace("timeoutSeconds: 20", "timeoutSeconds: 25"))
    agent = next(a for a in org.list("/assistant") if a["name"].startswith("Order Agent"))
    assert org.http.patch(f"/assistant/{agent['id']}", json={"firstMessage": "Edited on the dashboard"}).is_success
    for keys in ({"Tool/create-return"}, {"Assistant/order-agent"}, {"Squad/order-support"}, set(KEYS)):
        by_id, listed, gets = both(org, applied, keys)
        assert by_id == listed, keys
        assert lists(gets) == set()
    by_id, _, _ = both(org, applied, {"Tool/create-return", "Assistant/order-agent"})
    assert [(c["key"], [f["path"] for f in c["fields"]]) for c in _writes(by_id)] == [
        ("Tool/create-return", ["timeoutSeconds"])
    ]
    assert [(d["kind"], d["slug"], [f["path"] for f in d["fields"]]) for d in by_id["drift"]] == [
        ("Assistant", "order-agent", ["firstMessage"])
    ]


def test_a_resource_recreated_in_the_org_is_found_by_listing_its_kind(applied: Path, org: Org) -> None:
    squad = next(s for s in org.list("/squad") if s["name"].startswith("Order Support"))
    assert org.http.delete(f"/squad/{squad['id']}").is_success
    copy = {k: v for k, v in squad.items() if k not in ("id", "orgId", "createdAt", "updatedAt")}
    made = org.http.post("/squad", json=copy)
    assert made.is_success
    by_id, listed, gets = both(org, applied, {"Squad/order-support"})
    assert by_id == listed
    assert f"GET /squad/{squad['id']}" in gets and lists(gets) == {"/squad"}  # the 404, then the list
    assert sum(g.startswith("GET /assistant/") for g in gets) == 2  # its members still read by id
    assert [(c["action"], c["key"], c["id"]) for c in _writes(by_id)] == [
        ("adopt", "Squad/order-support", made.json()["id"])
    ]


def test_a_resource_deleted_in_the_org_is_planned_again(applied: Path, org: Org) -> None:
    squad = next(s for s in org.list("/squad") if s["name"].startswith("Order Support"))
    assert org.http.delete(f"/squad/{squad['id']}").is_success
    by_id, listed, _ = both(org, applied, {"Squad/order-support"})
    assert by_id == listed
    assert [(c["action"], c["key"]) for c in _writes(by_id)] == [("create", "Squad/order-support")]
    assert [(d["slug"], d.get("missing")) for d in by_id["drift"]] == [("order-support", True)]


def test_a_document_with_no_recorded_id_lists_its_kind_and_is_adopted_by_name(applied: Path, org: Org) -> None:
    made = org.http.post("/tool", json={"type": "endCall", "function": {"name": "hang_up"}})
    assert made.is_success
    (applied / "tools" / "hang-up.yaml").write_text(
        "apiVersion: ci-deployer/v1\nkind: Tool\nmetadata: {name: hang-up}\n"
        "spec: {type: endCall, function: {name: hang_up}}\n",
        encoding="utf-8",
    )
    by_id, listed, gets = both(org, applied, {"Tool/hang-up", "Assistant/order-agent"})
    assert by_id == listed
    assert lists(gets) == {"/tool"}  # tools listed; the assistant still read by its id
    assert any(g.startswith("GET /assistant/") for g in gets)
    assert [(c["action"], c["key"], c["id"]) for c in _writes(by_id)] == [("adopt", "Tool/hang-up", made.json()["id"])]


def test_a_scope_that_deletes_lists_its_kinds(applied: Path, org: Org) -> None:
    (applied / "evals" / "order-status.yaml").unlink()
    by_id, listed, gets = both(org, applied, {"Eval/order-status", "Tool/lookup-order"})
    assert by_id == listed
    assert lists(gets) == {"/eval", "/tool"}
    assert [(c["action"], c["key"]) for c in _writes(by_id)] == [("delete", "Eval/order-status")]
    # a policy is no API resource: one gone from the scope is not a delete of the org's
    by_id, listed, gets = both(org, applied, {"Policy/gone", "Tool/lookup-order"})
    assert by_id == listed and lists(gets) == set()


def _writes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**c, "key": f"{c['kind']}/{c['slug']}"} for c in plan["changes"] if c["action"] != "noop"]
