"""A plan shows the document's own key order; hashes, diffs and what apply compares do not depend on it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ci_deployer.config import loader, render
from ci_deployer.engine.canonical import in_order_of, sort_keys
from ci_deployer.engine.model import DesiredResource, from_rendered
from ci_deployer.engine.plan import Plan, PlanContext, build_plan
from ci_deployer.engine.snapshot import Snapshot, SnapshotRecord
from ci_deployer.platform.kinds import KINDS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "platform"


class Secrets:
    def resolve(self, ref: str) -> str | None:
        return {"ORDERS_API_TOKEN": "orders-secret-value-8c1f2e"}.get(ref)


def example() -> tuple[Any, list[DesiredResource]]:
    repo, _ = loader.load_repo(EXAMPLES)
    environment = repo.environments["dev"]
    rendered, _ = render.render_env(repo, "dev")
    return environment, from_rendered(rendered, environment)


def sorted_copy(desired: list[DesiredResource]) -> list[DesiredResource]:
    """The same resources with every map's keys sorted (what the engine held before)."""
    out = copy.deepcopy(desired)
    for res in out:
        res.spec = sort_keys(res.spec)
    return out


def plan(environment: Any, desired: list[DesiredResource], **kw: Any) -> PlanContext:
    kw.setdefault("live", {kind: [] for kind in KINDS})
    return build_plan(
        environment,
        desired,
        state=kw.pop("state", None),
        hmac_key=b"k" * 32,
        resolver=Secrets(),
        allow_adopt=True,
        allow_deletes=True,
        **kw,
    )


def test_in_order_of_follows_the_template_and_keeps_the_value() -> None:
    data = {"a": 1, "b": {"x": 1, "y": [{"q": 1, "p": 2}]}, "c": 3}
    like = {"c": None, "b": {"y": [{"p": None, "q": None}]}}
    ordered = in_order_of(data, like)
    assert ordered == data
    assert list(ordered) == ["c", "b", "a"] and list(ordered["b"]) == ["y", "x"]
    assert list(ordered["b"]["y"][0]) == ["p", "q"]


def test_desired_specs_keep_the_document_order_own_keys_first() -> None:
    _, desired = example()
    agent = next(r for r in desired if r.key == "Assistant/order-agent")
    # the document's keys in its order, then those its policy (safety) adds, in the policy's order
    assert list(agent.spec) == [
        "name",
        "firstMessage",
        "model",
        "voice",
        "artifactPlan",
        "maxDurationSeconds",
        "endCallMessage",
        "endCallPhrases",
    ]
    assert list(agent.spec["model"]) == ["provider", "model", "temperature", "messages", "toolIds"]


def test_hashes_and_canonical_forms_do_not_depend_on_key_order() -> None:
    environment, desired = example()
    shown, hashed = plan(environment, desired), plan(environment, sorted_copy(desired))
    assert shown.plan.hash == hashed.plan.hash
    assert shown.desired_canonical == hashed.desired_canonical
    assert all(list(c) == sorted(c) for c in shown.desired_canonical.values())  # still canonical: sorted
    agent = next(c for c in shown.plan.changes if c.key == "Assistant/order-agent")
    assert [f.path[0] for f in agent.fields][:3] == ["name", "firstMessage", "model"]  # the document's order
    model = next(f.new for f in agent.fields if f.path == ("model",))
    assert list(model) == ["provider", "model", "temperature", "messages", "toolIds"]
    same = next(c for c in hashed.plan.changes if c.key == "Assistant/order-agent")
    assert sorted(f.path for f in agent.fields) == sorted(f.path for f in same.fields)


def test_an_update_lists_its_fields_in_document_order_with_the_same_hash() -> None:
    environment, desired = example()
    first = plan(environment, desired)
    records = [
        SnapshotRecord(r.kind, r.slug, f"id-{r.slug}", first.desired_canonical[r.key], first.desired_canonical[r.key])
        for r in desired
    ]
    state = Snapshot("dev", "acme-dev", None, None, None, "", True, records)
    edited = copy.deepcopy(desired)
    agent = next(r for r in edited if r.key == "Assistant/order-agent")
    agent.spec["name"] = "Order Agent (dev) v2"
    agent.spec["model"]["temperature"] = 0.4
    agent.spec["model"]["messages"][0]["content"] += "- Be kind.\n"
    agent.spec["endCallMessage"] = "Bye!"
    ours = plan(environment, edited, state=state, live=None).plan
    theirs = plan(environment, sorted_copy(edited), state=state, live=None).plan
    assert ours.hash == theirs.hash
    [update] = [c for c in ours.changes if c.action == "update"]
    assert [str(f.path[-1]) for f in update.fields] == ["name", "temperature", "content", "endCallMessage"]
    [again] = [c for c in theirs.changes if c.action == "update"]
    assert [str(f.path[-1]) for f in again.fields] == ["endCallMessage", "content", "temperature", "name"]


def test_a_delete_names_its_live_referrers_outside_the_hash() -> None:
    environment, desired = example()
    first = plan(environment, desired)
    ids = {r.key: f"id-{r.slug}" for r in desired}
    records = [SnapshotRecord(r.kind, r.slug, ids[r.key], {}, first.desired_canonical[r.key]) for r in desired]
    state = Snapshot("dev", "acme-dev", None, None, None, "", True, records)
    live: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    live["Tool"].append({"id": ids["Tool/lookup-order"], "type": "function", "function": {"name": "lookup_order"}})
    scratch = {"id": "scratch", "name": "Scratch", "model": {"toolIds": [ids["Tool/lookup-order"]]}}
    live["Assistant"].append(scratch)
    kept = [r for r in desired if r.key == "Tool/handoff-to-returns"]  # lookup-order left the config
    context = plan(environment, kept, state=state, live=live)
    [delete] = [c for c in context.plan.changes if c.key == "Tool/lookup-order"]
    assert delete.referenced_by == [{"kind": "Assistant", "slug": None, "id": "scratch", "name": "Scratch"}]
    data = delete.to_dict()
    assert data["referencedBy"] == delete.referenced_by
    back = Plan.from_dict(context.plan.to_dict())
    assert next(c.referenced_by for c in back.changes if c.action == "delete") == delete.referenced_by
    assert all("referencedBy" not in c.to_dict() for c in context.plan.changes if c.action != "delete")
    # who refers to a delete is shown, never hashed: the same change without the referrer hashes alike
    without = plan(environment, kept, state=state, live={**live, "Assistant": []}).plan
    assert [c.referenced_by for c in without.changes if c.key == "Tool/lookup-order"] == [[]]
    assert without.hash == context.plan.hash
