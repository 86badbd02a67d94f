"""Unit tests of the engine's pure pieces on plain data."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_deployer.config.model import Environment, SecretRef
from ci_deployer.engine import graph
from ci_deployer.engine.canonical import (
    SecretMasker,
    SecretSlot,
    canonical_json,
    content_hash,
    drop_mirrored,
    ids_to_refs,
    strip_server_fields,
)
from ci_deployer.engine.diff import FieldChange, diff
from ci_deployer.engine.identity import match_kind
from ci_deployer.engine.model import DesiredResource, IgnoreRules
from ci_deployer.engine.plan import build_plan
from ci_deployer.engine.snapshot import Snapshot, SnapshotRecord
from ci_deployer.engine.state import LocalStateBackend
from ci_deployer.errors import StateError

KEY = b"k" * 32
ENV = Environment(name="dev", org="acme-dev", api_url="embedded", api_token=None)


class Env:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def resolve(self, ref: str) -> str | None:
        return self.values.get(ref)


def test_strip_server_fields_and_labels() -> None:
    live = {
        "id": "1",
        "orgId": "o",
        "createdAt": "t",
        "updatedAt": "t",
        "latestVersion": None,
        "name": "A",
        "metadata": {"ciDeployer": {"slug": "a"}},
    }
    assert strip_server_fields("Assistant", live) == {"name": "A"}
    kept = strip_server_fields("Assistant", {**live, "metadata": {"ciDeployer": {}, "team": "x"}})
    assert kept == {"name": "A", "metadata": {"team": "x"}}


def test_hash_ignores_key_order() -> None:
    assert content_hash({"b": 1, "a": [1, {"d": 2, "c": 3}]}) == content_hash({"a": [1, {"c": 3, "d": 2}], "b": 1})
    assert canonical_json({"b": 1, "a": 2}) == '{"a":2,"b":1}'


AUTH = ("server", "headers", "Authorization")


def test_masker_matches_placeholder_without_storing_the_value() -> None:
    masker = SecretMasker(KEY)
    template = "Bearer secrets://TOKEN"
    recorded = masker.hmac("Bearer s3cr3t-value")
    slots = {AUTH: SecretSlot(template, ("TOKEN",), None, recorded)}
    live = {"server": {"headers": {"Authorization": "Bearer s3cr3t-value", "X-Other": "plain"}}}
    masked = masker.canonical_live(live, slots)
    assert masked["server"]["headers"]["Authorization"] == template
    assert masked["server"]["headers"]["X-Other"].startswith("hmac:")  # not the config's literal: hidden
    assert (
        masker.canonical_live(live, slots, {"server": {"headers": {"X-Other": "plain"}}})["server"]["headers"][
            "X-Other"
        ]
        == "plain"
    )  # the config's own literal header value is config text
    changed = masker.canonical_live({"server": {"headers": {"Authorization": "Bearer rotated"}}}, slots)
    assert changed["server"]["headers"]["Authorization"].startswith("hmac:")
    assert "rotated" not in str(changed)


def test_without_a_key_the_masker_tells_only_what_it_can_see() -> None:
    masker = SecretMasker(None)
    template = "Bearer secrets://TOKEN"
    live = {"server": {"headers": {"Authorization": "Bearer s3cr3t-value", "X-Other": "plain"}}}
    # the value resolved here is what live holds: the placeholder
    known = {AUTH: SecretSlot(template, ("TOKEN",), "Bearer s3cr3t-value", None)}
    assert masker.canonical_live(live, known)["server"]["headers"]["Authorization"] == template
    # nothing here can tell: the placeholder (no false drift), never the value
    unknown = {AUTH: SecretSlot(template, ("TOKEN",), None, None)}
    masked = masker.canonical_live(live, unknown)
    assert masked["server"]["headers"]["Authorization"] == template
    assert masked["server"]["headers"]["X-Other"] == "secret:redacted"
    assert masker.hmac("x") is None


def test_mirrored_link_ignored_unless_config_sets_it() -> None:
    live = {"name": "a", "artifactPlan": {"structuredOutputIds": ["ref:StructuredOutput/x"]}}
    assert drop_mirrored("Assistant", live, {"name": "a"}) == {"name": "a"}
    assert drop_mirrored("Assistant", live, live) == live


def test_diff_paths_and_ops() -> None:
    old = {"model": {"messages": [{"content": "a"}], "temperature": 0.2}, "gone": 1}
    new = {"model": {"messages": [{"content": "b"}], "temperature": 0.2}, "added": True}
    assert diff(old, new) == [
        FieldChange(("added",), "add", None, True),
        FieldChange(("gone",), "remove", 1, None),
        FieldChange(("model", "messages", 0, "content"), "change", "a", "b"),
    ]
    assert diff({"a": 1}, {"a": 1.0}) == [FieldChange(("a",), "change", 1, 1.0)]
    assert diff({"a": True}, {"a": 1}) != []


def res(kind: str, slug: str, spec: dict[str, object], **kw: object) -> DesiredResource:
    return DesiredResource(kind, slug, spec, **kw)  # type: ignore[arg-type]


def test_identity_label_snapshot_and_duplicates() -> None:
    labelled = {
        "id": "a1",
        "name": "Agent",
        "createdAt": "1",
        "metadata": {"ciDeployer": {"slug": "agent", "env": "dev"}},
    }
    copy = {**labelled, "id": "a2", "createdAt": "2"}  # the dashboard's Duplicate copies metadata
    other_env = {"id": "a3", "name": "X", "metadata": {"ciDeployer": {"slug": "agent", "env": "prod"}}}
    out = match_kind(
        "Assistant",
        [res("Assistant", "agent", {"name": "Agent"})],
        [copy, labelled, other_env],
        {"agent": "a2"},
        "dev",
        allow_adopt=False,
        ignore=IgnoreRules(),
    )
    assert out.matches["agent"].live["id"] == "a2"  # the snapshot's id wins
    assert {o["id"] for o in out.unmanaged} == {"a1", "a3"}


def test_identity_name_adoption_only_when_allowed() -> None:
    live = [{"id": "t1", "type": "function", "function": {"name": "lookup"}}]
    want = [res("Tool", "lookup", {"type": "function", "function": {"name": "lookup"}})]
    refused = match_kind("Tool", want, live, {}, "dev", allow_adopt=False, ignore=IgnoreRules())
    assert refused.matches == {} and "--adopt" in refused.warnings[0]
    adopted = match_kind("Tool", want, live, {}, "dev", allow_adopt=True, ignore=IgnoreRules())
    assert adopted.matches["lookup"].how == "name"


def test_identity_orphans_ignores_and_generated_tools() -> None:
    live = [
        {"id": "t1", "name": "old_tool"},
        {"id": "t2", "name": "Legacy thing"},
        {"id": "t3", "type": "knowledgeBase", "knowledgeBaseId": "kb"},
        {"id": "t4", "name": "stray"},
    ]
    out = match_kind("Tool", [], live, {"old": "t1"}, "dev", allow_adopt=True, ignore=IgnoreRules(("name:Legacy *",)))
    assert list(out.orphans) == ["old"]
    assert [o["id"] for o in out.unmanaged] == ["t4"]
    assert {o["id"] for o in out.ignored} == {"t2", "t3"}


def test_schedule_levels_and_cycle() -> None:
    payloads = {
        "Tool/handoff": {"destinations": [{"assistantId": "ref:Assistant/agent"}]},
        "Assistant/agent": {"model": {"toolIds": ["ref:Tool/handoff", "ref:Tool/plain"]}},
        "Tool/plain": {"type": "function"},
        "Squad/s": {"members": [{"assistantId": "ref:Assistant/agent"}]},
    }
    sched = graph.schedule(payloads, set(payloads))
    assert sched.deferred == {"Assistant/agent": [("model", "toolIds", 0)]}
    assert sched.levels == [["Tool/plain"], ["Assistant/agent"], ["Tool/handoff", "Squad/s"]]
    first = graph.without_paths(payloads["Assistant/agent"], sched.deferred["Assistant/agent"])
    assert first == {"model": {"toolIds": ["ref:Tool/plain"]}}
    cut = graph.without_paths(payloads["Tool/handoff"], [("destinations", 0, "assistantId")])
    assert cut == {"destinations": []}


def plan_of(
    desired: list[DesiredResource],
    live: dict[str, list[dict[str, object]]],
    state: Snapshot | None,
    secrets: dict[str, str] | None = None,
):  # type: ignore[no-untyped-def]
    return build_plan(
        ENV,
        desired,
        live=live,
        state=state,
        hmac_key=KEY,
        resolver=Env(secrets or {}),
        allow_adopt=True,
        allow_deletes=True,
    ).plan


def test_plan_hash_means_the_same_change_whatever_secrets_or_keys_the_job_holds() -> None:
    tool = res(
        "Tool",
        "t",
        {"type": "apiRequest", "name": "t", "headers": {"X": "secrets://TOK"}},
        secrets=[SecretRef(("headers", "X"), "TOK", True)],
    )
    a = plan_of([tool], {}, None, {"TOK": "value-one"})
    b = plan_of([tool], {}, None, {"TOK": "value-one"})
    c = plan_of([tool], {}, None, {"TOK": "value-two"})
    d = plan_of([tool], {}, None, {})  # the PR job without the secret
    other_key = build_plan(
        ENV,
        [tool],
        live={},
        state=None,
        hmac_key=b"another key",
        resolver=Env({"TOK": "value-one"}),
        allow_adopt=True,
        allow_deletes=True,
    ).plan
    no_key = build_plan(
        ENV, [tool], live={}, state=None, hmac_key=None, resolver=Env({}), allow_adopt=True, allow_deletes=True
    ).plan
    assert a.hash == b.hash == c.hash == d.hash == other_key.hash == no_key.hash
    assert d.secrets == [{"ref": "TOK", "status": "unknown", "resolvable": False}]
    assert "value-one" not in a.to_json()
    edited = res("Tool", "t", {"type": "apiRequest", "name": "t", "headers": {"X": "secrets://OTHER"}})
    assert plan_of([edited], {}, None).hash != a.hash  # a different config is a different change


def test_planned_change_against_the_recorded_desired_not_server_defaults() -> None:
    want = {"name": "A", "model": {"provider": "openai", "temperature": 0.2}}
    live = {
        "id": "a1",
        "orgId": "o",
        "name": "A",
        "model": {"provider": "openai", "temperature": 0.2},
        "transcriber": {"provider": "deepgram"},
        "metadata": {"ciDeployer": {"slug": "a", "env": "dev"}},
    }
    rec = SnapshotRecord("Assistant", "a", "a1", strip_server_fields("Assistant", live), want)
    state = Snapshot("dev", "acme-dev", "o", None, None, "", True, [rec])
    plan = plan_of([res("Assistant", "a", want)], {"Assistant": [live]}, state)
    assert [c.action for c in plan.changes] == ["noop"] and plan.drift == []
    edited = {**want, "model": {"provider": "openai", "temperature": 0.5}}
    plan = plan_of([res("Assistant", "a", edited)], {"Assistant": [live]}, state)
    assert plan.changes[0].action == "update"
    assert [f.to_dict() for f in plan.changes[0].fields] == [
        {"path": "model.temperature", "op": "change", "old": 0.2, "new": 0.5}
    ]
    assert plan.changes[0].send == ("model",)
    removed = plan_of([res("Assistant", "a", {"name": "A"})], {"Assistant": [live]}, state)
    assert removed.changes[0].unset == ("model",)  # a top-level field removed from config is sent as null


def test_local_state_lock_keeps_two_applies_apart(tmp_path: Path) -> None:
    backend = LocalStateBackend(tmp_path)
    with backend.lock("dev"), pytest.raises(StateError, match="another apply to dev"), backend.lock("dev"):
        pass
    with backend.lock("dev"):  # released
        pass


def test_canonical_live_is_the_steps_in_one_walk_and_tells_its_lookups() -> None:
    masker = SecretMasker(b"k" * 32)
    template = "Bearer secrets://ORDERS"
    slots = {("server", "headers", "Authorization"): SecretSlot(template, ("ORDERS",), "Bearer tok-1")}
    live = {
        "name": "x",
        "toolIds": ["id-2", "id-1", "free"],
        "server": {"url": "https://h", "headers": {"Authorization": "Bearer tok-1", "X-Other": "plain"}},
        "model": {"b": 1, "a": [{"d": "id-1", "c": None}]},
    }
    want = {"server": {"headers": {"X-Other": "plain"}}}
    tokens = {"id-1": "ref:Tool/a", "id-2": "ref:Tool/b"}
    lookups: dict[str, str | None] = {}
    one_walk = masker.canonical_live(live, slots, want, tokens, lookups)
    steps = masker.canonical_live(ids_to_refs(live, tokens), slots, want)  # ids mapped beforehand
    assert one_walk == steps
    assert list(one_walk) == sorted(one_walk) and list(one_walk["model"]) == ["a", "b"]
    assert one_walk["toolIds"] == ["ref:Tool/b", "ref:Tool/a", "free"]
    assert one_walk["server"]["headers"]["Authorization"] == template
    # every string looked up, with what it found: tokens that agree on them give the same form
    assert lookups["id-1"] == "ref:Tool/a" and lookups["free"] is None and lookups["x"] is None
    agreeing = {**tokens, "id-9": "ref:Tool/z"}
    assert masker.canonical_live(live, slots, want, agreeing) == one_walk
    assert masker.canonical_live(live, slots, want, {**tokens, "free": "ref:Tool/c"}) != one_walk


_CONFIGS = [
    Path(__file__).parents[2] / "examples" / "platform",
    *sorted(p for p in (Path(__file__).parents[1] / "corpus").iterdir() if (p / "environments.yaml").is_file()),
]


@pytest.mark.parametrize("root", _CONFIGS, ids=lambda p: p.name)
def test_desired_resources_of_plain_specs_are_those_of_the_walk(root: Path) -> None:
    """from_rendered copies a plain resource's spec through JSON instead of walking it: for every
    resource of the examples and the corpus, the desired resource is the one the walk gives (values,
    key order, ref tokens)."""
    import dataclasses
    import json

    from ci_deployer.config.loader import load_repo
    from ci_deployer.config.render import render_env
    from ci_deployer.engine.model import from_rendered

    repo, _ = load_repo(root)
    for name, environment in repo.environments.items():
        rendered, _ = render_env(repo, name)
        walked = [dataclasses.replace(r, plain=False) for r in rendered]
        try:
            fast, slow = from_rendered(rendered, environment), from_rendered(walked, environment)
        except Exception as exc:  # a corpus config the engine refuses: refused the same way both times
            with pytest.raises(type(exc)):
                from_rendered(walked, environment)
            continue
        assert [json.dumps(d.spec) for d in fast] == [json.dumps(d.spec) for d in slow]
        assert fast == slow
