"""render_env / logical_specs: includes, policies, templates, references, secrets, env filtering."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ci_deployer.config import render as rendering
from ci_deployer.config.loader import load_repo
from ci_deployer.config.model import ConfigRepo, Document, Reference, RenderedResource, SecretRef
from ci_deployer.config.render import logical_specs, render_env
from ci_deployer.findings import Finding

MakeRepo = Callable[..., Path]

HEAD = "apiVersion: ci-deployer/v1\n"


def doc(kind: str, name: str, spec: str, extra: str = "") -> str:
    body = "".join(f"  {line}\n" for line in spec.strip("\n").splitlines())
    return f"{HEAD}kind: {kind}\nmetadata: {{name: {name}}}\n{extra}spec:\n{body}"


def render(root: Path, env: str = "uat") -> tuple[dict[str, RenderedResource], list[Finding]]:
    repo, load_findings = load_repo(root)
    assert load_findings == []
    resources, findings = render_env(repo, env)
    return {r.key: r for r in resources}, findings


def only(findings: list[Finding], code: str) -> Finding:
    matching = [f for f in findings if f.code == code]
    assert len(matching) == 1, findings
    return matching[0]


def test_templates_typed_values_and_liquid_pass_through(make_repo: MakeRepo) -> None:
    spec = """
name: "Order Agent (${{ env.name }})"
firstMessage: "Hi {{ customer.name }}, ${{ env.org }} here {% if x %}!{% endif %}"
model:
  model: "${{ params.model }}"
  temperature: "${{ params.temperature }}"
  nested: "${{ params.nested }}"
  maxTokens: "${{ 100 + 28 }}"
  prompt: "{{ customer.number }} and {% for i in items %}{{ i }}{% endfor %}"
"""
    resources, findings = render(make_repo({"a.yaml": doc("Assistant", "order-agent", spec)}))
    assert findings == []
    out = resources["Assistant/order-agent"].spec
    assert out["name"] == "Order Agent (uat)"
    assert out["firstMessage"] == "Hi {{ customer.name }}, acme-uat here {% if x %}!{% endif %}"
    assert out["model"]["model"] == "gpt-4.1"
    assert out["model"]["temperature"] == 0.2
    assert out["model"]["nested"] == {"a": 1, "b": 3}
    assert out["model"]["maxTokens"] == 128
    assert out["model"]["prompt"] == "{{ customer.number }} and {% for i in items %}{{ i }}{% endfor %}"


def test_template_errors_point_at_the_string(make_repo: MakeRepo) -> None:
    spec = """
name: ok
model:
  model: "${{ params.modle }}"
  a: "${{ ''.__class__.__mro__ }}"
  b: "${% for i in range(10**9) %}x${% endfor %}"
  c: "${% for i in range(90000) %}${% for j in range(90000) %}${% endfor %}${% endfor %}"
  d: "${% if %}"
"""
    resources, findings = render(make_repo({"a.yaml": doc("Assistant", "a", spec)}))
    assert resources == {}  # a document that failed is left out
    undefined = only(findings, "E-TEMPLATE-UNDEFINED")
    assert (undefined.path, undefined.line, undefined.column) == ("a.yaml", 7, 5)
    assert "modle" in undefined.message
    assert "did you mean 'model'" in (undefined.hint or "")
    assert undefined.json_path == "spec.model.model"
    sandbox = only(findings, "E-TEMPLATE-SANDBOX")
    assert sandbox.line == 8 and "__class__" in sandbox.message
    limits = [f for f in findings if f.code == "E-TEMPLATE-LIMIT"]
    assert [f.line for f in limits] == [9, 10]
    assert only(findings, "E-TEMPLATE-SYNTAX").line == 11


def test_sandbox_escapes_are_refused(make_repo: MakeRepo) -> None:
    escapes = [
        "${{ cycler.__init__.__globals__.os }}",
        "${{ self._TemplateReference__context }}",
        "${{ params.__class__ }}",
        "${{ lipsum.__globals__['os'] }}",
        "${{ params.nested.update({'a': 666}) }}",  # would leak into the next document
    ]
    spec = "name: x\nvalues:\n" + "".join(f'  - "{e}"\n' for e in escapes)
    root = make_repo({"a.yaml": doc("Assistant", "a", spec), "b.yaml": doc("Tool", "b", 'n: "${{ params.nested.a }}"')})
    resources, findings = render(root)
    assert [(f.code, f.line) for f in findings] == [("E-TEMPLATE-SANDBOX", 7 + i) for i in range(len(escapes))]
    assert resources["Tool/b"].spec == {"n": 1}


def test_runaway_recursion_and_huge_values_stop(make_repo: MakeRepo) -> None:
    spec = """
a: "${% macro f(n) %}${% if n %}${{ f(n-1) }}${{ f(n-1) }}${% endif %}${% endmacro %}${{ f(60) }}"
b: "${{ 'x' * 10**9 }}"
c: "${{ 'x'|center(10**9) }}"
d: "${{ '{:>999999999}'.format(1) }}"
"""
    _, findings = render(make_repo({"a.yaml": doc("Tool", "t", spec)}))
    assert [f.code for f in findings] == ["E-TEMPLATE-LIMIT"] * 4


def test_includes_file_json_and_literal(make_repo: MakeRepo) -> None:
    spec = """
name: x
model:
  messages:
    - {role: system, content: {file: ../prompts/a.md}}
function:
  parameters: {json: ../schemas/p.json}
literal: {$literal: {file: not-an-include, x: "${{ env.name }}"}}
"""
    root = make_repo(
        {
            "assistants/a.yaml": doc("Assistant", "a", spec),
            "prompts/a.md": "Hello ${{ env.name }} {{ customer.number }}\nsecrets://NOT_A_TEMPLATE\n",
            "schemas/p.json": '{"type": "object", "properties": {"id": {"type": "string"}}}',
        }
    )
    resources, findings = render(root)
    assert findings == []
    out = resources["Assistant/a"].spec
    assert (
        out["model"]["messages"][0]["content"]
        == "Hello ${{ env.name }} {{ customer.number }}\nsecrets://NOT_A_TEMPLATE\n"
    )
    assert out["function"]["parameters"]["properties"] == {"id": {"type": "string"}}
    assert out["literal"] == {"file": "not-an-include", "x": "${{ env.name }}"}


def test_include_traversal_symlink_missing_and_size(tmp_path: Path, make_repo: MakeRepo) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    spec = """
a: {file: ../../../../../../etc/passwd}
b: {file: /etc/passwd}
c: {file: link.txt}
d: {file: missing.md}
e: {json: big.json}
f: {file: 42}
"""
    root = make_repo({"tools/t.yaml": doc("Tool", "t", spec)})
    (root / "tools" / "link.txt").symlink_to(secret)
    (root / "tools" / "big.json").write_text("[" + "1," * 600_000 + "1]")
    resources, findings = render(root)
    assert resources == {}
    by_line = {f.line: f.code for f in findings}
    assert by_line == {
        5: "E-INCLUDE-OUTSIDE",
        6: "E-INCLUDE-OUTSIDE",
        7: "E-INCLUDE-OUTSIDE",
        8: "E-INCLUDE-MISSING",
        9: "E-INCLUDE-TOO-LARGE",
        10: "E-INCLUDE-PATH",
    }
    assert all(f.path == "tools/t.yaml" for f in findings)
    assert "top secret" not in repr(findings)


def test_policy_merge_semantics_and_policy_relative_includes(make_repo: MakeRepo) -> None:
    safety = doc(
        "Policy",
        "safety",
        """
model: {temperature: 0.1, toolIds: [a, b], provider: openai, messages: [{role: system, content: {file: guard.md}}]}
firstMessage: "policy ${{ env.name }}"
""",
    )
    tone = doc("Policy", "tone", "model: {temperature: 0.3}\nvoice: {provider: vapi}\n")
    agent = doc(
        "Assistant",
        "agent",
        "name: agent\nmodel: {toolIds: [c], model: x}\nvoice: {voiceId: Elliot}\n",
        extra="policies: [safety, tone]\n",
    )
    root = make_repo(
        {
            "policies/safety.yaml": safety,
            "policies/guard.md": "be safe",
            "policies/tone.yaml": tone,
            "assistants/agent.yaml": agent,
        }
    )
    resources, findings = render(root)
    assert findings == []
    assert resources["Assistant/agent"].spec == {
        "model": {
            "temperature": 0.3,  # tone after safety
            "toolIds": ["c"],  # lists are replaced, not concatenated
            "provider": "openai",
            "messages": [{"role": "system", "content": "be safe"}],
            "model": "x",
        },
        "firstMessage": "policy uat",
        "voice": {"provider": "vapi", "voiceId": "Elliot"},
        "name": "agent",
    }
    assert "Policy/safety" not in resources


def test_broken_policy_is_reported_once_and_skips_its_users(make_repo: MakeRepo) -> None:
    policy = doc("Policy", "p", 'firstMessage: "${{ params.nope }}"\n')
    users = {f"a{i}.yaml": doc("Assistant", f"a{i}", "name: x\n", extra="policies: [p]\n") for i in range(3)}
    resources, findings = render(make_repo({"p.yaml": policy, **users}))
    assert resources == {}
    assert only(findings, "E-TEMPLATE-UNDEFINED").path == "p.yaml"
    assert sorted(f.path for f in findings if f.code == "E-POLICY-BROKEN") == ["a0.yaml", "a1.yaml", "a2.yaml"]


def test_references_per_kind(make_repo: MakeRepo) -> None:
    assistant = """
name: a
model:
  toolIds: [jira, kb-orders, {ref: tool/zendesk}, 0b8c2a2e-0000-4000-8000-000000000000]
  toolRefs: [{toolId: handoff}]
artifactPlan: {structuredOutputIds: [summary]}
credentialIds: [twilio-main]
server: {url: x, credentialId: "${{ 'twilio-main' }}"}
analysis: {extra: {ref: structured-output/score}}
"""
    squad = "name: s\nmembers:\n  - assistantId: a\n    assistantDestinations: [{assistantId: b, type: assistant}]\n"
    phone = "number: '+15550100'\nsquadId: {ref: Squad/s}\n"
    root = make_repo(
        {
            "a.yaml": doc("Assistant", "a", assistant),
            "s.yaml": doc("Squad", "s", squad),
            "p.yaml": doc("PhoneNumber", "main-line", phone),
        }
    )
    resources, findings = render(root)
    assert findings == []
    refs = sorted(resources["Assistant/a"].refs, key=lambda r: str(r.path))
    assert refs == sorted(
        [
            Reference(("model", "toolIds", 0), ("Tool", "KnowledgeBase"), "jira"),
            Reference(("model", "toolIds", 1), ("Tool", "KnowledgeBase"), "kb-orders"),
            Reference(("model", "toolIds", 2), ("Tool",), "zendesk"),
            Reference(("model", "toolRefs", 0, "toolId"), ("Tool", "KnowledgeBase"), "handoff"),
            Reference(("artifactPlan", "structuredOutputIds", 0), ("StructuredOutput",), "summary"),
            Reference(("credentialIds", 0), ("Credential",), "twilio-main"),
            Reference(("server", "credentialId"), ("Credential",), "twilio-main"),
            Reference(("analysis", "extra"), ("StructuredOutput",), "score"),
        ],
        key=lambda r: str(r.path),
    )
    assert resources["Assistant/a"].spec["model"]["toolIds"][2] == "zendesk"
    assert resources["Assistant/a"].spec["analysis"]["extra"] == "score"
    assert {(r.path, r.slug) for r in resources["Squad/s"].refs} == {
        (("members", 0, "assistantId"), "a"),
        (("members", 0, "assistantDestinations", 0, "assistantId"), "b"),
    }
    assert resources["PhoneNumber/main-line"].refs == [Reference(("squadId",), ("Squad",), "s")]


def test_nested_references_are_recorded_like_top_level_ones(make_repo: MakeRepo) -> None:
    # Before, only a hand-kept list of top-level fields was recorded: these slugs went to Vapi raw.
    squad = """
name: s
members:
  - assistantId: a
    assistantOverrides:
      model: {provider: openai, model: gpt-4.1, toolIds: [jira, kb-orders]}
      artifactPlan: {structuredOutputIds: [summary]}
      metadata: {assistantId: not-a-ref}
membersOverrides:
  model: {provider: openai, model: gpt-4.1, toolRefs: [{toolId: jira, version: v1}]}
  credentialIds: [twilio-main]
"""
    handoff = """
type: handoff
destinations:
  - type: assistant
    assistantId: a
    assistantOverrides: {model: {provider: openai, model: gpt-4.1, toolIds: [zendesk]}}
  - {type: squad, squadId: s}
"""
    assistant = """
name: a
voice: {provider: 11labs, voiceId: 21m00Tcm4TlvDq8ikWAM}
hooks:
  - on: customer.speech.timeout
    do: [{type: tool, toolId: nudge}]
"""
    root = make_repo(
        {
            "s.yaml": doc("Squad", "s", squad),
            "t.yaml": doc("Tool", "h", handoff),
            "a.yaml": doc("Assistant", "a", assistant),
        }
    )
    resources, findings = render(root)
    assert findings == []
    tools = ("Tool", "KnowledgeBase")
    assert sorted(resources["Squad/s"].refs, key=lambda r: str(r.path)) == sorted(
        [
            Reference(("members", 0, "assistantId"), ("Assistant",), "a"),
            Reference(("members", 0, "assistantOverrides", "model", "toolIds", 0), tools, "jira"),
            Reference(("members", 0, "assistantOverrides", "model", "toolIds", 1), tools, "kb-orders"),
            Reference(
                ("members", 0, "assistantOverrides", "artifactPlan", "structuredOutputIds", 0),
                ("StructuredOutput",),
                "summary",
            ),
            Reference(("membersOverrides", "model", "toolRefs", 0, "toolId"), tools, "jira"),
            Reference(("membersOverrides", "credentialIds", 0), ("Credential",), "twilio-main"),
        ],
        key=lambda r: str(r.path),
    )
    assert resources["Tool/h"].refs == [
        Reference(("destinations", 0, "assistantId"), ("Assistant",), "a"),
        Reference(("destinations", 0, "assistantOverrides", "model", "toolIds", 0), tools, "zendesk"),
        Reference(("destinations", 1, "squadId"), ("Squad",), "s"),
    ]
    assert resources["Assistant/a"].refs == [Reference(("hooks", 0, "do", 0, "toolId"), tools, "nudge")]
    assert resources["Assistant/a"].spec["hooks"][0]["on"] == "customer.speech.timeout"
    assert resources["Squad/s"].position(("members", 0, "assistantOverrides", "model", "toolIds", 1)).line == 9


def test_bad_generic_ref_is_a_finding(make_repo: MakeRepo) -> None:
    resources, findings = render(make_repo({"a.yaml": doc("Assistant", "a", "name: a\nx: {ref: toool/jira}\n")}))
    bad = only(findings, "E-REF-FORMAT")
    assert (bad.line, "did you mean 'Tool'" in bad.message) == (6, True)
    assert resources == {}


def test_secret_placeholders_whole_and_inside(make_repo: MakeRepo) -> None:
    spec = """
name: t
server:
  url: https://x.example
  headers: {Authorization: "Bearer secrets://ORDERS_API_TOKEN", X-Key: secrets://vault/kv/app#key}
  secret: secrets://file/creds/x.txt
"""
    resources, findings = render(make_repo({"t.yaml": doc("Tool", "t", spec)}))
    assert findings == []
    assert resources["Tool/t"].secrets == [
        SecretRef(("server", "headers", "Authorization"), "ORDERS_API_TOKEN", whole=False),
        SecretRef(("server", "headers", "X-Key"), "vault/kv/app#key", whole=True),
        SecretRef(("server", "secret"), "file/creds/x.txt", whole=True),
    ]
    # placeholders stay symbolic in the rendered spec
    assert resources["Tool/t"].spec["server"]["headers"]["Authorization"] == "Bearer secrets://ORDERS_API_TOKEN"


def test_metadata_environments_filter(make_repo: MakeRepo) -> None:
    root = make_repo(
        {
            "a.yaml": doc("Tool", "everywhere", "name: a\n"),
            "b.yaml": f"{HEAD}kind: Tool\nmetadata: {{name: dev-only, environments: [dev]}}\nspec: {{name: b}}\n",
        }
    )
    repo, _ = load_repo(root)
    assert sorted(r.key for r in render_env(repo, "dev")[0]) == ["Tool/dev-only", "Tool/everywhere"]
    assert [r.key for r in render_env(repo, "prod")[0]] == ["Tool/everywhere"]
    assert list(logical_specs(repo, "prod")) == ["Tool/everywhere"]


def test_logical_specs_are_env_independent(make_repo: MakeRepo) -> None:
    spec = 'name: "a ${{ env.name }}"\nmodel: {model: "${{ params.model }}", p: {file: p.md}}\nsecret: secrets://T\n'
    policy = doc("Policy", "pol", "voice: {provider: vapi}\n")
    root = make_repo({"a.yaml": doc("Assistant", "a", spec, extra="policies: [pol]\n"), "p.yaml": policy, "p.md": "P"})
    repo, _ = load_repo(root)
    uat, prod = logical_specs(repo, "uat"), logical_specs(repo, "prod")
    assert uat == prod
    assert uat["Assistant/a"] == {
        "voice": {"provider": "vapi"},
        "name": "a ${{ env.name }}",
        "model": {"model": "${{ params.model }}", "p": "P"},
        "secret": "secrets://T",
    }


def test_rendering_does_not_mutate_documents_or_params(make_repo: MakeRepo) -> None:
    spec = 'name: a\nlist: "${{ params.nested }}"\n'
    repo, _ = load_repo(make_repo({"a.yaml": doc("Tool", "a", spec)}))
    first, _ = render_env(repo, "uat")
    first[0].spec["list"]["a"] = 99
    second, _ = render_env(repo, "uat")
    assert second[0].spec["list"] == {"a": 1, "b": 3}
    assert repo.documents[0].spec["list"] == "${{ params.nested }}"


def test_name_shortcut_matches_jinja_exactly() -> None:
    from ci_deployer.config.templates import TemplateEngine

    engine = TemplateEngine()
    context = {"env": {"name": "uat", "org": "o"}, "params": {"n": 3, "f": 0.5, "b": True, "z": None, "m": {"k": [1]}}}
    texts = [
        "${{ env.name }}",
        " ${{params.n}} ",
        "${{ params.m }}",
        "n=${{ params.n }} f=${{ params.f }} b=${{ params.b }} z=${{ params.z }}\n",
        "a ${{ env.name }}-${{ env.org }} {{ liquid }}",
    ]
    for text in texts:
        assert engine.render(text, context) == engine._compile(text)(context), text


def test_nested_json_includes_resolve_relative_to_their_file(make_repo: MakeRepo) -> None:
    spec = """
name: x
function:
  parameters: {json: ../schemas/order.json}
"""
    root = make_repo(
        {
            "assistants/a.yaml": doc("Assistant", "a", spec),
            "schemas/order.json": '{"type": "object", "properties": {"id": {"json": "common/id.json"},'
            ' "item": {"json": "common/id.json"}, "file": {"type": "string"}, "note": {"file": "note.txt"}}}',
            "schemas/common/id.json": '{"type": "string", "pattern": "^[0-9]+$"}',
            "schemas/note.txt": "a note",
        }
    )
    resources, findings = render(root)
    assert findings == []
    properties = resources["Assistant/a"].spec["function"]["parameters"]["properties"]
    assert properties["id"] == properties["item"] == {"type": "string", "pattern": "^[0-9]+$"}  # shared, no cycle
    assert properties["file"] == {"type": "string"}  # a one-key map whose value is a map is data
    assert properties["note"] == "a note"


def test_include_cycles_name_the_chain(make_repo: MakeRepo) -> None:
    spec = """
name: x
function:
  parameters: {json: ../schemas/a.yaml.json}
"""
    root = make_repo(
        {
            "assistants/a.yaml": doc("Assistant", "a", spec),
            "schemas/a.yaml.json": '{"properties": {"b": {"json": "b.json"}}}',
            "schemas/b.json": '{"properties": {"c": {"json": "c.json"}}}',
            "schemas/c.json": '{"json": "a.yaml.json"}',
        }
    )
    _resources, findings = render(root)
    found = only(findings, "E-INCLUDE-CYCLE")
    assert (found.path, found.line) == ("assistants/a.yaml", 7)
    assert "schemas/a.yaml.json → schemas/b.json → schemas/c.json → schemas/a.yaml.json" in found.message


def test_templated_mapping_keys_are_errors_not_sent(make_repo: MakeRepo) -> None:
    spec = """
name: x
metadata:
  "${{ env.name }}": 1
  plain: "${{ env.name }}"
"""
    _resources, findings = render(make_repo({"assistants/a.yaml": doc("Assistant", "a", spec)}))
    found = only(findings, "E-TEMPLATE-KEY")
    assert (found.path, found.line, found.json_path) == ("assistants/a.yaml", 7, "spec.metadata.${{ env.name }}")


def _through_the_steps(repo: ConfigRepo, doc: Document, env: str) -> RenderedResource | None:
    environment = repo.environments[env]
    spec, problems = rendering._prepare(
        doc, rendering.include_resolver(repo), rendering._engine(), rendering.template_context(environment)
    )
    assert problems == []
    resource, problems = rendering._finish(doc, [], spec)
    assert problems == []
    return resource


CORPUS = Path(__file__).parents[1] / "corpus"
PLAIN_CONFIGS = [
    Path(__file__).parents[2] / "examples" / "platform",
    *sorted(p for p in CORPUS.iterdir() if (p / "environments.yaml").is_file()),
]


@pytest.mark.parametrize("root", PLAIN_CONFIGS, ids=lambda p: p.name)
def test_a_plain_document_renders_as_the_steps_would(root: Path) -> None:
    """plain_resource skips the rendering steps for documents they would not change: for every
    document of the examples and the corpus it takes, the result is the steps' result."""
    repo, _ = load_repo(root)
    for env in repo.environments:
        for doc in repo.documents:
            plain = rendering.plain_resource(doc)
            if plain is None or not doc.applies_to(env):
                continue
            stepped = _through_the_steps(repo, doc, env)
            assert stepped is not None
            assert json.dumps(plain.spec) == json.dumps(stepped.spec)  # same values, same key order
            assert (plain.refs, plain.secrets, plain.documents, plain.files) == (
                stepped.refs,
                stepped.secrets,
                stepped.documents,
                stepped.files,
            )


def test_what_plain_resource_leaves_to_the_steps(make_repo: MakeRepo) -> None:
    files = {
        "tool.yaml": doc("Tool", "plain", "type: function\nfunction: {name: f, parameters: {type: object}}"),
        "templated.yaml": doc("Tool", "templated", "type: function\nfunction: {name: '${{ env.name }}'}"),
        "included.yaml": doc("Tool", "included", "type: function\nfunction: {name: f, description: {file: d.md}}"),
        "literal.yaml": doc("Tool", "literal", "type: function\nfunction: {name: f, x: {$literal: {file: a}}}"),
        "ref.yaml": doc("Assistant", "ref", "name: a\nmodel: {toolIds: [{ref: tool/plain}]}"),
        "secret.yaml": doc("Tool", "secret", "type: function\nserver: {headers: {A: 'secrets://TOKEN'}}"),
        "key.yaml": doc("Tool", "key", "type: function\nfunction: {name: f, '${{ env.name }}': 1}"),
        "d.md": "text\n",
    }
    repo, _ = load_repo(make_repo(files))
    taken = {d.slug for d in repo.documents if rendering.plain_resource(d) is not None}
    assert taken == {"plain"}
    plain = rendering.plain_resource(next(d for d in repo.documents if d.slug == "plain"))
    assert plain is not None
    assert plain.spec == {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    assert plain.spec is not next(d for d in repo.documents if d.slug == "plain").spec  # a copy


@pytest.mark.parametrize("root", PLAIN_CONFIGS, ids=lambda p: p.name)
def test_logical_specs_of_plain_documents_are_the_resolved_specs(root: Path) -> None:
    """logical_specs copies a spec with nothing to include or merge through JSON: the same value,
    in the same key order, as resolving its includes and unwrapping would give."""
    from ci_deployer.config._util import unwrap

    repo, _ = load_repo(root)
    for env in repo.environments:
        specs = logical_specs(repo, env)
        for doc in repo.documents:
            if doc.key not in specs or doc.policies:
                continue
            resolved, problems = rendering.include_resolver(repo).resolve(doc)
            assert problems == []
            assert json.dumps(specs[doc.key]) == json.dumps(unwrap(resolved))


@pytest.mark.parametrize("root", PLAIN_CONFIGS, ids=lambda p: p.name)
def test_logical_specs_given_the_rendered_resources_are_the_same(root: Path) -> None:
    """Given the env's rendered resources, logical_specs takes a plain resource's spec as its logical
    spec instead of resolving the document again: the same specs, in the same key order."""
    repo, _ = load_repo(root)
    for env in repo.environments:
        rendered, _ = rendering.render_env(repo, env)
        assert json.dumps(logical_specs(repo, env, rendered)) == json.dumps(logical_specs(repo, env))


def test_the_examples_hold_plain_resources() -> None:
    """The equality tests above take the plain path: the examples' tools without secrets are plain."""
    repo, _ = load_repo(PLAIN_CONFIGS[0])
    rendered, _ = rendering.render_env(repo, "dev")
    assert {r.key for r in rendered if r.plain} >= {"Tool/handoff-to-returns", "StructuredOutput/call-summary"}
