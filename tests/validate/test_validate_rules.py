from __future__ import annotations

from validate_helpers import make_doc, make_repo, rendered

from ci_deployer.findings import Finding
from ci_deployer.validate import rules


def env_findings(docs: list, env: str = "dev", credentials: dict[str, str] | None = None) -> list[Finding]:
    repo = make_repo(docs, envs=["dev", "prod"])
    repo.environments[env].credentials = credentials or {}
    resources = [rendered(d) for d in docs if d.kind != "Policy" and d.applies_to(env)]
    return rules.run_env_rules(repo, repo.environments[env], resources)


def assistant(slug: str, spec_extra: dict | None = None, **kw: object) -> object:
    spec = {"name": slug.title(), "model": {"provider": "openai", "model": "gpt-4.1", "toolIds": []}}
    spec.update(spec_extra or {})
    return make_doc("Assistant", slug, spec, **kw)  # type: ignore[arg-type]


def tool(slug: str, **kw: object) -> object:
    return make_doc("Tool", slug, {"type": "function", "function": {"name": slug.replace("-", "_")}}, **kw)  # type: ignore[arg-type]


def test_dangling_reference_with_did_you_mean_and_location() -> None:
    a = assistant("order-agent", {"model": {"provider": "openai", "model": "m", "toolIds": ["jira", "zendsk"]}})
    findings = env_findings([a, tool("jira"), tool("zendesk")])
    assert len(findings) == 1
    f = findings[0]
    assert f.code == "E-REF-DANGLING"
    assert (
        f.message
        == "model.toolIds[1] names Tool or KnowledgeBase 'zendsk', which is not defined (did you mean 'zendesk'?)"
    )
    assert (f.path, f.line) == ("assistants/order-agent.yaml", a.position(("spec", "model", "toolIds", 1)).line)  # type: ignore[attr-defined]
    assert f.json_path == "spec.model.toolIds[1]"


def test_reference_to_the_wrong_kind() -> None:
    squad = make_doc("Squad", "s", {"members": [{"assistantId": "a"}]})
    a = assistant("order-agent", {"model": {"provider": "openai", "model": "m", "toolIds": ["order-agent"]}})
    findings = env_findings([a, squad, assistant("a")])
    assert [f.message for f in findings] == [
        "model.toolIds[0] names 'order-agent', which is an Assistant, not a Tool or KnowledgeBase"
    ]
    assert findings[0].code == "E-REF-WRONG-KIND"


def test_reference_to_a_resource_limited_to_other_environments() -> None:
    a = assistant("a", {"model": {"provider": "openai", "model": "m", "toolIds": ["beta-tool"]}})
    findings = env_findings([a, tool("beta-tool", environments=["prod"])], env="dev")
    assert [f.code for f in findings] == ["E-REF-ENV"]
    assert "does not exist in environment 'dev'" in findings[0].message


def test_credential_must_be_in_the_env_map() -> None:
    a = assistant("a", {"credentialIds": ["twilio-main"]})
    findings = env_findings([a], credentials={"twilio-mian": "x"})
    assert [f.code for f in findings] == ["E-REF-CREDENTIAL"]
    assert "(did you mean 'twilio-mian'?)" in findings[0].message
    assert "environments.dev.credentials" in (findings[0].hint or "")
    assert env_findings([a], credentials={"twilio-main": "x"}) == []


def test_squad_destination_name_must_match_a_rendered_assistant_name() -> None:
    squad = make_doc(
        "Squad",
        "s",
        {
            "members": [
                {"assistantId": "a", "assistantDestinations": [{"type": "assistant", "assistantName": "Returns Agnt"}]},
                {"assistantId": "b", "assistantDestinations": [{"type": "assistant", "assistantName": "A"}]},
            ]
        },
    )
    findings = env_findings([squad, assistant("a"), assistant("b", {"name": "Returns Agent"})])
    assert [(f.code, f.level) for f in findings] == [("W-SQUAD-DEST-NAME", "warning")]
    assert "members[0].assistantDestinations[0].assistantName is 'Returns Agnt'" in findings[0].message
    assert "(did you mean 'Returns Agent'?)" in findings[0].message


def test_name_length_limit() -> None:
    ok = assistant("a", {"name": "x" * 40})
    long = assistant("b", {"name": "y" * 41})
    so = make_doc("StructuredOutput", "so", {"name": "z" * 41, "schema": {"type": "string"}})
    findings = env_findings([ok, long, so])
    assert [(f.code, f.path) for f in findings] == [
        ("E-NAME-TOO-LONG", "assistants/b.yaml"),
        ("E-NAME-TOO-LONG", "structuredoutputs/so.yaml"),
    ]
    assert "Assistant name is 41 characters after rendering" in findings[0].message
    assert "at most 40" in findings[0].message


def test_duplicate_rendered_names_warn() -> None:
    findings = env_findings([assistant("a", {"name": "Same"}), assistant("b", {"name": "Same"})])
    assert [(f.code, f.level, f.path) for f in findings] == [("W-NAME-DUPLICATE", "warning", "assistants/b.yaml")]
    # function tools are identified by function.name
    t1 = make_doc("Tool", "t1", {"type": "function", "function": {"name": "lookup"}})
    t2 = make_doc("Tool", "t2", {"type": "function", "function": {"name": "lookup"}})
    assert "same function.name" in env_findings([t1, t2])[0].message


def test_duplicate_slugs_and_previous_names() -> None:
    first = tool("jira", file="tools/jira.yaml")
    second = tool("jira", file="tools/jira-copy.yaml")
    renamed = tool("tickets", previous=["jira"])
    findings = rules.run_repo_rules(make_repo([first, second, renamed]))
    by_code = {f.code: f for f in findings}
    assert by_code["E-DUP-SLUG"].path == "tools/jira-copy.yaml"
    assert by_code["E-DUP-SLUG"].message == "duplicate Tool slug 'jira': also defined at tools/jira.yaml:5"
    assert by_code["E-DUP-PREVIOUS-NAME"].json_path == "metadata.previousNames[0]"
    # same slug in disjoint environments is fine; same slug in two kinds too
    a = tool("x", environments=["dev"])
    b = tool("x", environments=["prod"])
    assert rules.run_repo_rules(make_repo([a, b, assistant("x")], envs=["dev", "prod"])) == []


def test_unused_policy_warns() -> None:
    policy = make_doc("Policy", "safety", {"maxDurationSeconds": 600})
    unused = make_doc("Policy", "legacy", {})
    a = assistant("a", policies=["safety"])
    findings = rules.run_repo_rules(make_repo([policy, unused, a]))
    assert [(f.code, f.level, f.path) for f in findings] == [("W-POLICY-UNUSED", "warning", "policys/legacy.yaml")]
    assert findings[0].message == "policy 'legacy' is defined but no document lists it in `policies`"
