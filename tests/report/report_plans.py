"""Plans for the renderer's tests, made by the real engine: :func:`build_plan` over desired resources
(the example config, rendered as ``plan`` renders it) and live objects, as the engine's unit tests
make them.  An "applied" org is what an apply of the desired resources leaves behind: every resource
live under a stable id, with the snapshot recording what was sent and the secrets' HMACs.

(Helpers live here, importable by a unique name, as tests/engine/engine_helpers.py does.)
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ci_deployer.config import loader, render
from ci_deployer.config.model import Environment
from ci_deployer.config.secrets import substitute
from ci_deployer.engine.canonical import ref_token, refs_to_ids
from ci_deployer.engine.model import DesiredResource, from_rendered
from ci_deployer.engine.plan import PlanContext, build_plan
from ci_deployer.engine.snapshot import Snapshot, SnapshotRecord
from ci_deployer.platform.kinds import KINDS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "platform"
KEY = b"report-tests-hmac-key-0123456789"
SECRETS = {"ORDERS_API_TOKEN": "orders-secret-value-8c1f2e"}
SHA = "5f0c3a9e7d21b4c68a0f9e1d2c3b4a5968778695"
Live = dict[str, list[dict[str, Any]]]


class Secrets:
    """A resolver over a fixed map (the job's secrets)."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def resolve(self, ref: str) -> str | None:
        return self.values.get(ref)


def example(root: Path = EXAMPLES, env: str = "dev") -> tuple[Environment, list[DesiredResource]]:
    """The config at ``root`` rendered for ``env``: the desired resources ``plan`` would diff."""
    repo, findings = loader.load_repo(root)
    assert not [f for f in findings if f.level == "error"], findings
    environment = repo.environments[env]
    rendered, problems = render.render_env(repo, env)
    assert not [f for f in problems if f.level == "error"], problems
    return environment, from_rendered(rendered, environment)


def no_live() -> Live:
    return {kind: [] for kind in KINDS}


def plan_context(
    environment: Environment,
    desired: list[DesiredResource],
    live: Live | None = None,
    state: Snapshot | None = None,
    secrets: dict[str, str] | None = None,
) -> PlanContext:
    return build_plan(
        environment,
        desired,
        live=no_live() if live is None else live,
        state=state,
        hmac_key=KEY,
        resolver=Secrets(SECRETS if secrets is None else secrets),
        allow_adopt=True,
        allow_deletes=True,
        sha=SHA,
        against="live",
    )


def plan_dict(
    environment: Environment, desired: list[DesiredResource], live: Live | None = None, state: Snapshot | None = None
) -> dict[str, Any]:
    """The plan JSON (docs/formats.md), as ``plan --out`` writes it."""
    return plan_context(environment, desired, live, state).plan.to_dict()


def resource_id(kind: str, slug: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ci-deployer-tests:{kind}/{slug}"))


def applied(environment: Environment, desired: list[DesiredResource]) -> tuple[Live, Snapshot]:
    """The org and its state after ``desired`` was applied: live objects hold ids and the secret
    values sent; the snapshot records the canonical payloads, placeholders and HMACs."""
    ctx = plan_context(environment, desired)
    ids = {ref_token(r.kind, r.slug): resource_id(r.kind, r.slug) for r in desired}
    resolver = Secrets(SECRETS)
    live = no_live()
    records = []
    for res in desired:
        want = ctx.desired_canonical[res.key]
        obj = substitute(refs_to_ids(res.spec, lambda k, s: ids[ref_token(k, s)]), resolver)
        obj["id"] = ids[ref_token(res.kind, res.slug)]
        if KINDS[res.kind].labels:
            obj["metadata"] = {"ciDeployer": {"slug": res.slug, "env": environment.name}}
        live[res.kind].append(obj)
        records.append(SnapshotRecord(res.kind, res.slug, obj["id"], want, want, ctx.secret_refs(res.key)))
    state = Snapshot(
        environment.name,
        environment.org,
        None,
        SHA,
        "41",
        "2026-11-28T10:00:00Z",
        True,
        records,
        secret_hmacs=dict(ctx.secret_hmacs),
    )
    return live, state


def live_object(live: Live, kind: str, slug: str) -> dict[str, Any]:
    """The live object of ``kind/slug`` (to edit it "in the dashboard")."""
    wanted = resource_id(kind, slug)
    return next(obj for obj in live[kind] if obj["id"] == wanted)


def edited(root: Path, relative: str, change: Callable[[str], str]) -> None:
    """Edit one file of a config copy."""
    path = root / relative
    text = path.read_text(encoding="utf-8")
    new = change(text)
    assert new != text, f"the edit of {relative} changed nothing"
    path.write_text(new, encoding="utf-8")


def fleet(count: int) -> list[DesiredResource]:
    """``count`` assistants of one team, each with a prompt and a tool: a big org's first plan."""
    tool = DesiredResource(
        "Tool",
        "lookup-order",
        {"type": "function", "function": {"name": "lookup_order", "description": "Look an order up."}},
    )
    out = [tool]
    for i in range(count - 1):
        prompt = "\n".join(
            [
                f"You are agent {i:04d} of the Acme support line.",
                "",
                "- Greet the caller and ask for the order number.",
                "- Use `lookup_order`; never read out payment details.",
                "- The caller is {{ customer.number }}.",
            ]
        )
        spec = {
            "name": f"Agent {i:04d}",
            "firstMessage": "Hi, this is Acme. How can I help?",
            "model": {
                "provider": "openai",
                "model": "gpt-4.1-mini",
                "messages": [{"role": "system", "content": prompt}],
                "toolIds": [ref_token("Tool", "lookup-order")],
            },
        }
        out.append(DesiredResource("Assistant", f"agent-{i:04d}", copy.deepcopy(spec)))
    return out
